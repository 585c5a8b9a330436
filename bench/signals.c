/* signals.c - benchmark 9: acx_signal_send to 1, 10 and 1,000 receivers.
 *
 * Each receiver adds its context to a counter and returns it; the send
 * collects every result.  Baseline, same run: a plain C loop calling the
 * same receivers through an array of function pointers and contexts (what
 * a hand-rolled observer list costs), results collected likewise.  The
 * difference is the price of the snapshot (a mutex and a reference count
 * per send), the sender filter and the disconnected check per receiver.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "acx.h"
#include "bench.h"

static volatile intptr_t sink;

static intptr_t rcv(void *ctx, const void *sender, void *payload)
{
    (void)sender;
    (void)payload;
    sink += (intptr_t)ctx;
    return (intptr_t)ctx;
}

struct plain {
    acx_receiver_fn fn;
    void *ctx;
};

static double run_acx(acx_signal *s, acx_signal_result *res, size_t n,
                      long iters)
{
    size_t count;
    double t0 = bench_now_ns();
    for (long i = 0; i < iters; i++)
        acx_signal_send(s, NULL, NULL, res, n, &count);
    return (bench_now_ns() - t0) / iters;
}

static __attribute__((noinline)) double run_plain(struct plain *p,
                                                  intptr_t *res, size_t n,
                                                  long iters)
{
    double t0 = bench_now_ns();
    for (long i = 0; i < iters; i++)
        for (size_t k = 0; k < n; k++)
            res[k] = p[k].fn(p[k].ctx, NULL, NULL);
    return (bench_now_ns() - t0) / iters;
}

static int one(size_t n)
{
    acx_signal *s = acx_signal_new("bench");
    struct plain *p = malloc(n * sizeof *p);
    acx_signal_result *res = malloc(n * sizeof *res);
    intptr_t *pres = malloc(n * sizeof *pres);
    if (s == NULL || p == NULL || res == NULL || pres == NULL)
        return 1;
    for (size_t k = 0; k < n; k++) {
        p[k].fn = rcv;
        p[k].ctx = (void *)(intptr_t)(k + 1);
        if (acx_signal_connect(s, rcv, p[k].ctx, NULL, NULL) != 0)
            return 1;
    }
    long iters = (long)(2000000.0 / (double)n * bench_scale());
    if (iters < 100)
        iters = 100;
    int reps = bench_reps();
    double a[101], b[101];
    run_acx(s, res, n, iters / 10); /* warm up */
    run_plain(p, pres, n, iters / 10);
    for (int r = 0; r < reps; r++) {
        a[r] = run_acx(s, res, n, iters);
        b[r] = run_plain(p, pres, n, iters);
    }
    char name[64];
    snprintf(name, sizeof name, "signal send, %zu receiver%s", n,
             n == 1 ? "" : "s");
    bench_report(name, bench_median(a, reps), "ns/send",
                 "C loop over function pointers", bench_median(b, reps),
                 "ns/send", "");
    acx_signal_free(s);
    free(p);
    free(res);
    free(pres);
    return 0;
}

int main(void)
{
    return one(1) || one(10) || one(1000);
}
