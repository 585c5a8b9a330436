/* throttle.c - acx_throttle beside plain C token buckets written here.
 *
 *   1. uncontended acquire (a bucket that never makes the caller wait),
 *      beside a mutex-protected C bucket: ns per call;
 *   2. 4 threads sharing a 2,000/s bucket with burst 1 for 3 s on the real
 *      clock: the rate achieved, beside a mutex-and-sleep bucket (a caller
 *      refused sleeps 1/rate and tries again: every late wake-up loses
 *      time the bucket could have spent refilling for it).
 */
#include <errno.h>
#include <pthread.h>
#include <stdint.h>

#include "acx.h"
#include "bench.h"

/* ---- the baselines: a mutex-protected bucket ---------------------------- */

struct mbucket {
    pthread_mutex_t mu;
    double rate, burst, tokens;
    int64_t last_ns;
};

static int64_t mono_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static void mb_init(struct mbucket *b, double rate, double burst)
{
    pthread_mutex_init(&b->mu, NULL);
    b->rate = rate;
    b->burst = burst;
    b->tokens = burst;
    b->last_ns = mono_ns();
}

/* Take one token if there is one: 0, or -EAGAIN. */
static int mb_take(struct mbucket *b)
{
    int rc = -EAGAIN;
    pthread_mutex_lock(&b->mu);
    int64_t now = mono_ns();
    b->tokens += (double)(now - b->last_ns) * 1e-9 * b->rate;
    if (b->tokens > b->burst)
        b->tokens = b->burst;
    b->last_ns = now;
    if (b->tokens >= 1) {
        b->tokens -= 1;
        rc = 0;
    }
    pthread_mutex_unlock(&b->mu);
    return rc;
}

/* ---- 1. uncontended --------------------------------------------------- */

static volatile int sink;

static double run_acx_uncontended(long n)
{
    acx_throttle *t = acx_throttle_new(1e9, 1e6);
    if (t == NULL)
        exit(1);
    double t0 = bench_now_ns();
    for (long i = 0; i < n; i++)
        sink += acx_throttle_acquire(t, 1);
    double ns = (bench_now_ns() - t0) / (double)n;
    acx_throttle_free(t);
    return ns;
}

static double run_mutex_uncontended(long n)
{
    struct mbucket b;
    mb_init(&b, 1e9, 1e6);
    double t0 = bench_now_ns();
    for (long i = 0; i < n; i++)
        sink += mb_take(&b);
    double ns = (bench_now_ns() - t0) / (double)n;
    pthread_mutex_destroy(&b.mu);
    return ns;
}

/* ---- 2. four threads at 2,000/s ---------------------------------------- */

enum { THREADS = 4 };
#define RATE 2000.0

struct worker {
    acx_throttle *t;
    struct mbucket *b;
    int64_t end;
    long admitted;
};

static void *acx_worker(void *arg)
{
    struct worker *w = arg;
    while (acx_throttle_acquire_until(w->t, 1, w->end) == 0)
        w->admitted++;
    return NULL;
}

static void *mutex_worker(void *arg)
{
    struct worker *w = arg;
    struct timespec nap = {0, (long)(1e9 / RATE)};
    while (mono_ns() < w->end) {
        if (mb_take(w->b) == 0)
            w->admitted++;
        else
            nanosleep(&nap, NULL);
    }
    return NULL;
}

/* Tokens per second admitted to THREADS workers over SECS, not counting
 * the initial burst of 1. */
static double run_shared(int use_acx, double secs)
{
    struct mbucket b;
    acx_throttle *t = NULL;
    if (use_acx) {
        if ((t = acx_throttle_new(RATE, 1)) == NULL)
            exit(1);
    } else {
        mb_init(&b, RATE, 1);
    }
    int64_t start = mono_ns();
    int64_t end = start + (int64_t)(secs * 1e9);
    struct worker w[THREADS];
    pthread_t th[THREADS];
    for (int i = 0; i < THREADS; i++) {
        w[i] = (struct worker){.t = t, .b = &b, .end = end};
        if (pthread_create(&th[i], NULL, use_acx ? acx_worker : mutex_worker,
                           &w[i]) != 0)
            exit(1);
    }
    long admitted = 0;
    for (int i = 0; i < THREADS; i++) {
        pthread_join(th[i], NULL);
        admitted += w[i].admitted;
    }
    if (use_acx)
        acx_throttle_free(t);
    else
        pthread_mutex_destroy(&b.mu);
    return (double)(admitted - 1) / secs;
}

int main(void)
{
    int reps = bench_reps();
    double scale = bench_scale();
    long n = (long)(20000000 * scale);
    double a[101], m[101];
    for (int r = 0; r < reps; r++) {
        a[r] = run_acx_uncontended(n);
        m[r] = run_mutex_uncontended(n);
    }
    bench_report("throttle: uncontended acquire", bench_median(a, reps),
                 "ns/op", "mutex C bucket", bench_median(m, reps), "ns/op",
                 "<= 10 ns/op");

    double secs = 3 * (scale < 1 ? scale : 1);
    double ra = run_shared(1, secs);
    double rm = run_shared(0, secs);
    printf("throttle: 4 threads, 2,000/s, burst 1, %.1f s: acx %.1f/s (%+.2f%%), "
           "mutex-and-sleep %.1f/s (%+.2f%%)\n",
           secs, ra, 100 * (ra - RATE) / RATE, rm, 100 * (rm - RATE) / RATE);
    bench_report("throttle: 4 threads sharing 2,000/s (rate)", ra, "/s",
                 "mutex-and-sleep bucket", rm, "/s", "within 0.5% of 2000/s");
    return 0;
}
