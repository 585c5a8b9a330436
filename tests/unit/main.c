/* main.c - runs every CUnit suite; exits non-zero when any test fails. */
#include <CUnit/Basic.h>
#include <stdio.h>
#include <string.h>

#include "suites.h"

int main(int argc, char **argv)
{
    if (CU_initialize_registry() != CUE_SUCCESS)
        return 2;
    /* argv[1]: run only the suites whose name contains it, or with
     * "=NAME" only suite NAME ("proc" alone would run procpool too) */
    const char *only = argc > 1 ? argv[1] : NULL;
    int exact = only != NULL && only[0] == '=';
    for (const struct acx_test_suite *s = acx_test_suites; s->name; s++) {
        if (only != NULL && (exact ? strcmp(s->name, only + 1) != 0
                                   : strstr(s->name, only) == NULL))
            continue;
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
