/* timers_uv.c - benchmark 7's libuv baseline: N malloc'd uv_timer_t
 * started with timeouts spread as acx's deadlines are, then fired.  Plain
 * C because acxc reserves `async`, which uv.h uses as a parameter name. */
#include <stdlib.h>
#include <uv.h>
#include "bench.h"

struct timer_figures {
    double arm_ns, fire_ns, bytes;
};
int uv_timers(long n, struct timer_figures *out);

static long nfired, ntotal;
static double t_first, t_last;

static void on_uv_timer(uv_timer_t *t)
{
    (void)t;
    if (nfired == 0)
        t_first = bench_now_ns();
    if (++nfired == ntotal)
        t_last = bench_now_ns();
}

int uv_timers(long n, struct timer_figures *out)
{
    static uv_loop_t loop;
    if (uv_loop_init(&loop) != 0)
        return -1;
    ntotal = n;
    long rss0 = bench_rss_bytes();
    double t0 = bench_now_ns();
    for (long i = 0; i < n; i++) {
        uv_timer_t *t = malloc(sizeof *t);
        /* libuv timeouts are in ms: all due after the arming, in start
         * order among equal timeouts */
        if (t == NULL || uv_timer_init(&loop, t) != 0 ||
            uv_timer_start(t, on_uv_timer, 400, 0) != 0)
            return -1;
    }
    double t1 = bench_now_ns();
    long rss1 = bench_rss_bytes();
    uv_run(&loop, UV_RUN_DEFAULT);
    if (nfired != n)
        return -1;
    out->arm_ns = (t1 - t0) / n;
    out->fire_ns = (t_last - t_first) / n;
    out->bytes = (double)(rss1 - rss0) / n;
    return 0;
}
