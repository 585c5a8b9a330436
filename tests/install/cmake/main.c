/* main.c - plain C calling into the generated count.c. */
#include "count.h"

int main(void)
{
    return count_run();
}
