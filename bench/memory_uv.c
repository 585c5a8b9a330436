/* memory_uv.c - benchmark 4's libuv figure: RSS growth per started
 * libuv timer, each a malloc'd uv_timer_t (libuv's timer heap is
 * intrusive, so that is all a timer costs).  Linked into memory.acx's
 * program when libuv is installed; plain C because acxc reserves `async`,
 * which uv.h uses as a parameter name. */
#include <stdlib.h>
#include <uv.h>
#include "bench.h"

double uv_child(long n);

static void uv_cb(uv_timer_t *t)
{
    (void)t;
}

double uv_child(long n)
{
    static uv_loop_t loop;
    if (uv_loop_init(&loop) != 0)
        return -1;
    long rss0 = bench_rss_bytes();
    for (long i = 0; i < n; i++) {
        uv_timer_t *t = malloc(sizeof *t);
        if (t == NULL || uv_timer_init(&loop, t) != 0 ||
            uv_timer_start(t, uv_cb, 60000, 0) != 0)
            return -1;
    }
    long rss1 = bench_rss_bytes();
    printf("(libuv: a uv_timer_t is %zu bytes)\n", sizeof(uv_timer_t));
    fflush(stdout);
    return (double)(rss1 - rss0) / n;
}
