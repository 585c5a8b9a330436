/* main.c - runs every CUnit suite; exits non-zero when any test fails. */
#include <CUnit/Basic.h>
#include <stdio.h>
#include <string.h>

#include "suites.h"

int main(int argc, char **argv)
{
    if (CU_initialize_registry() != CUE_SUCCESS)
        return 2;
    for (const struct acx_test_suite *s = acx_test_suites; s->name; s++) {
        if (argc > 1 && strstr(s->name, argv[1]) == NULL)
            continue; /* run only suites whose name matches argv[1] */
        if (s->add() != 0) {
            fprintf(stderr, "cannot register suite %s\n", s->name);
            CU_cleanup_registry();
            return 2;
        }
    }
    CU_basic_set_mode(CU_BRM_VERBOSE);
    CU_basic_run_tests();
    unsigned failed = CU_get_number_of_failures() +
                      CU_get_number_of_tests_failed();
    unsigned run = CU_get_number_of_tests_run();
    CU_cleanup_registry();
    if (run == 0) {
        fprintf(stderr, "no test ran\n");
        return 1;
    }
    return failed ? 1 : 0;
}
