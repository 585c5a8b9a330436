/* executor.c - the thread pool executor beside libuv's uv_queue_work and a
 * mutex + condition variable pool written here.
 *
 *   burst:      2 workers, 200,000 no-op tasks submitted at once, then
 *               every result waited for: tasks per second (the best of
 *               BENCH_REPS bursts on one executor, as libuv's pool lives
 *               on between its bursts; the three pools take turns burst
 *               by burst); then the same burst on 1, 2, 4 and 8 workers
 *               (executors taking turns too, best of 2 * BENCH_REPS):
 *               adding workers must not slow it down;
 *   round trip: one no-op task submitted, its result waited for, again
 *               and again: p50 and p99 in microseconds.
 *
 * Build with -DBENCH_UV and -luv for the libuv figures (bench/run.sh).
 * Not pinned: the workers need CPUs of their own.
 */
#define _GNU_SOURCE
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "acx.h"
#include "bench.h"

#ifdef BENCH_UV
#include <uv.h>
#endif

#define WORKERS 2

/* The callers' arrays of a burst (futures, tasks, uv_work_t), allocated
 * once and reused by every burst: a fresh array per burst measures the
 * kernel's page faults and malloc's heap heuristics (a 1.6 MB malloc
 * consolidates the 200,000 freed futures), not the pools. */
static void *burst_mem;

static void *burst_array(size_t elem)
{
    size_t n = (size_t)(200000 * bench_scale()) + 1;
    if (burst_mem == NULL)
        burst_mem = calloc(n, elem < 256 ? 256 : elem);
    if (burst_mem == NULL) {
        perror("executor bench");
        exit(1);
    }
    return burst_mem;
}

static int n_burst(void)
{
    return (int)(200000 * bench_scale());
}

static int n_trip(void)
{
    return (int)(20000 * bench_scale());
}

static int cmp_d(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* Sort V and give its P-th percentile. */
static double pct(double *v, int n, double p)
{
    qsort(v, (size_t)n, sizeof *v, cmp_d);
    int i = (int)(p / 100 * (n - 1));
    return v[i];
}

/* ---- acx ------------------------------------------------------------------ */

static void *noop(void *arg, int *err)
{
    (void)err;
    return arg;
}

static double acx_burst_on(acx_executor *ex)
{
    int n = n_burst();
    acx_future **f = burst_array(sizeof *f);
    double t0 = bench_now_ns();
    for (int i = 0; i < n; i++)
        f[i] = acx_executor_submit(ex, noop, NULL);
    for (int i = 0; i < n; i++) {
        acx_future_wait(f[i], -1);
        acx_future_unref(f[i]);
    }
    double dt = bench_now_ns() - t0;
    return n / (dt / 1e9);
}

/* The best of 2 * REPS bursts on an executor of each of the N worker
 * counts WS into BEST; the executors take turns burst by burst, so that
 * on a shared machine each best comes from the same stretch of time (one
 * after the other, the four figures drifted by 10-20 % from run to run). */
static void acx_burst_workers(const int *ws, int n, double *best)
{
    acx_executor *ex[8];
    for (int i = 0; i < n; i++) {
        acx_executor_opts o = {.max_workers = ws[i]};
        ex[i] = acx_executor_new(&o);
        best[i] = 0;
    }
    for (int r = 0; r < 2 * bench_reps(); r++)
        for (int i = 0; i < n; i++) {
            double x = acx_burst_on(ex[i]);
            best[i] = x > best[i] ? x : best[i];
        }
    for (int i = 0; i < n; i++)
        acx_executor_free(ex[i]);
}

static void acx_trip(double *p50, double *p99)
{
    int n = n_trip();
    acx_executor_opts o = {.max_workers = WORKERS};
    acx_executor *ex = acx_executor_new(&o);
    double *v = malloc((size_t)n * sizeof *v);
    for (int i = -100; i < n; i++) { /* the first 100 warm up */
        double t0 = bench_now_ns();
        acx_future *f = acx_executor_submit(ex, noop, NULL);
        acx_future_wait(f, -1);
        acx_future_unref(f);
        if (i >= 0)
            v[i] = (bench_now_ns() - t0) / 1e3;
    }
    *p50 = pct(v, n, 50);
    *p99 = pct(v, n, 99);
    free(v);
    acx_executor_free(ex);
}

/* ---- a mutex + condition variable pool -------------------------------------- */

struct cv_task {
    void (*fn)(struct cv_task *);
    int done; /* under the pool's mutex */
};

static struct {
    pthread_mutex_t mu;
    pthread_cond_t work, done;
    struct cv_task **q;
    size_t head, tail, cap;
    int stop;
    pthread_t tid[WORKERS];
} cv;

static void *cv_worker(void *arg)
{
    (void)arg;
    pthread_mutex_lock(&cv.mu);
    for (;;) {
        while (cv.head == cv.tail && !cv.stop)
            pthread_cond_wait(&cv.work, &cv.mu);
        if (cv.head == cv.tail)
            break;
        struct cv_task *t = cv.q[cv.head++ % cv.cap];
        pthread_mutex_unlock(&cv.mu);
        t->fn(t);
        pthread_mutex_lock(&cv.mu);
        t->done = 1;
        pthread_cond_broadcast(&cv.done);
    }
    pthread_mutex_unlock(&cv.mu);
    return NULL;
}

static void cv_noop(struct cv_task *t)
{
    (void)t;
}

static void cv_start(size_t cap)
{
    pthread_mutex_init(&cv.mu, NULL);
    pthread_cond_init(&cv.work, NULL);
    pthread_cond_init(&cv.done, NULL);
    cv.q = malloc(cap * sizeof *cv.q);
    cv.cap = cap;
    cv.head = cv.tail = 0;
    cv.stop = 0;
    for (int i = 0; i < WORKERS; i++)
        pthread_create(&cv.tid[i], NULL, cv_worker, NULL);
}

static void cv_stop(void)
{
    pthread_mutex_lock(&cv.mu);
    cv.stop = 1;
    pthread_cond_broadcast(&cv.work);
    pthread_mutex_unlock(&cv.mu);
    for (int i = 0; i < WORKERS; i++)
        pthread_join(cv.tid[i], NULL);
    free(cv.q);
}

static void cv_submit(struct cv_task *t)
{
    pthread_mutex_lock(&cv.mu);
    t->done = 0;
    cv.q[cv.tail++ % cv.cap] = t;
    pthread_cond_signal(&cv.work);
    pthread_mutex_unlock(&cv.mu);
}

static void cv_wait(struct cv_task *t)
{
    pthread_mutex_lock(&cv.mu);
    while (!t->done)
        pthread_cond_wait(&cv.done, &cv.mu);
    pthread_mutex_unlock(&cv.mu);
}

static double cv_burst(void)
{
    int n = n_burst();
    struct cv_task *t = burst_array(sizeof *t);
    cv_start((size_t)n);
    double t0 = bench_now_ns();
    for (int i = 0; i < n; i++) {
        t[i].fn = cv_noop;
        cv_submit(&t[i]);
    }
    for (int i = 0; i < n; i++)
        cv_wait(&t[i]);
    double dt = bench_now_ns() - t0;
    cv_stop();
    return n / (dt / 1e9);
}

static void cv_trip(double *p50, double *p99)
{
    int n = n_trip();
    double *v = malloc((size_t)n * sizeof *v);
    struct cv_task t = {.fn = cv_noop};
    cv_start((size_t)n + 100);
    for (int i = -100; i < n; i++) {
        double t0 = bench_now_ns();
        cv_submit(&t);
        cv_wait(&t);
        if (i >= 0)
            v[i] = (bench_now_ns() - t0) / 1e3;
    }
    cv_stop();
    *p50 = pct(v, n, 50);
    *p99 = pct(v, n, 99);
    free(v);
}

/* ---- libuv -------------------------------------------------------------------- */

#ifdef BENCH_UV
static void uv_noop(uv_work_t *w)
{
    (void)w;
}

static int uv_left;

static void uv_after(uv_work_t *w, int status)
{
    (void)w;
    (void)status;
    uv_left--;
}

static double uv_burst(void)
{
    int n = n_burst();
    uv_loop_t *loop = uv_default_loop();
    uv_work_t *w = burst_array(sizeof *w);
    double t0 = bench_now_ns();
    uv_left = n;
    for (int i = 0; i < n; i++)
        uv_queue_work(loop, &w[i], uv_noop, uv_after);
    while (uv_left > 0)
        uv_run(loop, UV_RUN_ONCE);
    double dt = bench_now_ns() - t0;
    return n / (dt / 1e9);
}

static void uv_trip(double *p50, double *p99)
{
    int n = n_trip();
    uv_loop_t *loop = uv_default_loop();
    double *v = malloc((size_t)n * sizeof *v);
    uv_work_t w;
    for (int i = -100; i < n; i++) {
        double t0 = bench_now_ns();
        uv_left = 1;
        uv_queue_work(loop, &w, uv_noop, uv_after);
        while (uv_left > 0)
            uv_run(loop, UV_RUN_ONCE);
        if (i >= 0)
            v[i] = (bench_now_ns() - t0) / 1e3;
    }
    *p50 = pct(v, n, 50);
    *p99 = pct(v, n, 99);
    free(v);
}
#endif

int main(void)
{
    setenv("UV_THREADPOOL_SIZE", "2", 1); /* WORKERS, before libuv starts */
    /* The pools take turns, burst by burst: on a machine shared with
     * other jobs each best then comes from the same stretch of time. */
    acx_executor_opts o = {.max_workers = WORKERS};
    acx_executor *ex = acx_executor_new(&o);
    double a = 0, c = 0, u = 0;
    for (int r = 0; r < bench_reps(); r++) {
        double x = acx_burst_on(ex);
        a = x > a ? x : a;
        x = cv_burst();
        c = x > c ? x : c;
#ifdef BENCH_UV
        x = uv_burst();
        u = x > u ? x : u;
#endif
    }
    acx_executor_free(ex);
    (void)u;
    double a50, a99, c50, c99;
    acx_trip(&a50, &a99);
    cv_trip(&c50, &c99);
    bench_report("executor: burst of 200,000 no-op tasks, 2 workers", a,
                 "tasks/s", "mutex+condvar pool", c, "tasks/s", "");
#ifdef BENCH_UV
    double u50, u99;
    uv_trip(&u50, &u99);
    bench_report("executor: burst, beside libuv uv_queue_work", a, "tasks/s",
                 "libuv", u, "tasks/s", ">= 2x libuv");
#endif
    bench_report("executor: submit-to-result round trip p50", a50, "us",
                 "mutex+condvar pool p50", c50, "us", "<= 5 us");
    bench_report("executor: submit-to-result round trip p99", a99, "us",
                 "mutex+condvar pool p99", c99, "us", "");
#ifdef BENCH_UV
    bench_report("executor: round trip p50, beside libuv", a50, "us",
                 "libuv p50", u50, "us", "");
#endif
    static const int ws[] = {1, 2, 4, 8};
    double by[4];
    acx_burst_workers(ws, 4, by);
    for (int i = 1; i < 4; i++) {
        char name[96];
        snprintf(name, sizeof name, "executor: burst on %d workers, beside 1",
                 ws[i]);
        bench_report(name, by[i], "tasks/s", "1 worker", by[0], "tasks/s",
                     ">= 1x (more workers never slower)");
    }
    if (getenv("ACX_PY_EXECUTOR") != NULL) {
        double py = atof(getenv("ACX_PY_EXECUTOR"));
        if (py > 0)
            bench_report("executor: burst, beside Python ThreadPoolExecutor",
                         a, "tasks/s", "Python", py, "tasks/s",
                         ">= 20x Python");
    }
    free(burst_mem);
    return 0;
}
