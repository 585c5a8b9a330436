/* Plain C: calls the async function's constructor and runs it. */
#include <stdio.h>
#include <acx.h>
#include "a_work.h"

int main(void)
{
    acx_coro *c = work_sum(10);
    if (!c)
        return 1;
    printf("name=%s\n", acx_coro_name(c));
    int r = acx_run(c);
    printf("sum=%d\n", r);
    printf("again=%d\n", acx_run(work_sum(4)));
    return 0;
}
