/* pool.c - the pools of multiprocessing.Pool's API (acx_pool.h) beside
 * the executors they are built on, and beside Python's Pool.map and
 * multiprocessing.dummy's ThreadPool.map.
 *
 *   map, threads:   2 workers, 100,000 small items (an int in, its square
 *                   out) in Pool.map's default chunks (ceil(n / (4 *
 *                   workers)) = 12,500): items per second; beside
 *                   acx_executor_map_array over the same items and
 *                   chunks (the layer below: the pool's cost is the
 *                   result buffers and the async result), and beside
 *                   ThreadPool.map ($ACX_PY_THREADMAP);
 *   map, processes: the same on 2 worker processes, beside
 *                   acx_procpool_map_array with the same chunks, and
 *                   beside Pool.map ($ACX_PY_PROCMAP, bench 18's figure).
 *
 * Every figure is the median of BENCH_REPS runs on a warm pool.  Not
 * pinned: the workers need CPUs of their own.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "acx.h"
#include "bench.h"

#define WORKERS 2

static int pool_square(const void *in, size_t n, acx_buf *out)
{
    int v;
    if (n != sizeof v)
        return -EINVAL;
    memcpy(&v, in, sizeof v);
    long long sq = (long long)v * v;
    return acx_buf_append(out, &sq, sizeof sq);
}

static void *exec_square(void *arg, int *err)
{
    (void)err;
    intptr_t v = (intptr_t)arg;
    return (void *)(intptr_t)(v * v);
}

/* ---- one run of each ------------------------------------------------------ */

static double run_pool(acx_pool *p, const acx_buf *in, acx_buf *out, int n)
{
    double t0 = bench_now_ns();
    int err = acx_pool_map(p, pool_square, in, (size_t)n, 0, out);
    double dt = bench_now_ns() - t0;
    long long last = 0;
    if (err == 0)
        memcpy(&last, out[n - 1].data, sizeof last);
    for (int i = 0; i < n; i++)
        acx_buf_free(&out[i]);
    if (err != 0 || last != (long long)(n - 1) * (n - 1)) {
        fprintf(stderr, "pool map failed: %d\n", err);
        exit(1);
    }
    return n / (dt / 1e9);
}

static double run_exec(acx_executor *ex, void *const *items, int n,
                       size_t chunk)
{
    acx_map_opts o = {.chunksize = chunk, .timeout_ms = -1};
    double t0 = bench_now_ns();
    acx_executor_map *m = acx_executor_map_array(ex, exec_square, items,
                                                 (size_t)n, &o);
    void *r = NULL;
    int got = 0;
    while (acx_executor_map_next(m, &r) == 0)
        got++;
    acx_executor_map_free(m);
    double dt = bench_now_ns() - t0;
    if (got != n || (intptr_t)r != (intptr_t)(n - 1) * (n - 1)) {
        fprintf(stderr, "executor map failed\n");
        exit(1);
    }
    return n / (dt / 1e9);
}

static double run_proc(acx_procpool *pp, const acx_bytes *items, int n,
                       size_t chunk)
{
    acx_procpool_map_opts o = {.chunksize = chunk, .timeout_ms = -1};
    double t0 = bench_now_ns();
    acx_procpool_map *m = acx_procpool_map_array(pp, pool_square, items,
                                                 (size_t)n, &o);
    const void *r;
    size_t len;
    int got = 0;
    long long last = 0;
    while (acx_procpool_map_next(m, &r, &len) == 0) {
        if (len == sizeof last)
            memcpy(&last, r, sizeof last);
        got++;
    }
    acx_procpool_map_free(m);
    double dt = bench_now_ns() - t0;
    if (got != n || last != (long long)(n - 1) * (n - 1)) {
        fprintf(stderr, "procpool map failed\n");
        exit(1);
    }
    return n / (dt / 1e9);
}

/* ---- the two sections ------------------------------------------------------ */

static double median_of(double *v, int reps)
{
    return bench_median(v, reps);
}

static void py_line(const char *what, const char *env, double ours)
{
    const char *py = getenv(env);
    double base = py ? atof(py) : 0;
    if (base > 0)
        bench_report(what, ours, "items/s", "Python", base, "items/s", "");
}

static void bench_threads(const acx_buf *in, acx_buf *out, int n, int reps)
{
    acx_pool *p = acx_pool_new(ACX_POOL_THREADS,
                               &(acx_pool_opts){.processes = WORKERS});
    acx_executor *ex = acx_executor_new(
        &(acx_executor_opts){.max_workers = WORKERS});
    void **items = malloc((size_t)n * sizeof *items);
    if (p == NULL || ex == NULL || items == NULL)
        exit(1);
    for (int i = 0; i < n; i++)
        items[i] = (void *)(intptr_t)i;
    size_t chunk = acx_pool_default_chunksize(p, (size_t)n);
    double a[101], b[101];
    run_pool(p, in, out, n); /* warm: workers up */
    run_exec(ex, items, n, chunk);
    for (int r = 0; r < reps; r++) {
        a[r] = run_pool(p, in, out, n);
        b[r] = run_exec(ex, items, n, chunk);
    }
    double ours = median_of(a, reps);
    char name[128];
    snprintf(name, sizeof name, "pool map, threads (%d items, chunks of %zu)",
             n, chunk);
    bench_report(name, ours, "items/s", "acx_executor_map",
                 median_of(b, reps), "items/s", "");
    py_line("pool map, threads, vs ThreadPool.map", "ACX_PY_THREADMAP",
            ours);
    acx_pool_close(p);
    acx_pool_join(p, -1);
    acx_pool_free(p);
    acx_executor_free(ex);
    free(items);
}

static void bench_processes(const acx_buf *in, acx_buf *out, int n, int reps)
{
    acx_pool *p = acx_pool_new(ACX_POOL_PROCESSES,
                               &(acx_pool_opts){.processes = WORKERS});
    acx_procpool *pp = acx_procpool_new(
        &(acx_procpool_opts){.max_workers = WORKERS});
    acx_bytes *items = malloc((size_t)n * sizeof *items);
    if (p == NULL || pp == NULL || items == NULL)
        exit(1);
    for (int i = 0; i < n; i++)
        items[i] = (acx_bytes){in[i].data, in[i].len};
    size_t chunk = acx_pool_default_chunksize(p, (size_t)n);
    double a[101], b[101];
    run_pool(p, in, out, n);
    run_proc(pp, items, n, chunk);
    for (int r = 0; r < reps; r++) {
        a[r] = run_pool(p, in, out, n);
        b[r] = run_proc(pp, items, n, chunk);
    }
    double ours = median_of(a, reps);
    char name[128];
    snprintf(name, sizeof name,
             "pool map, processes (%d items, chunks of %zu)", n, chunk);
    bench_report(name, ours, "items/s", "acx_procpool_map",
                 median_of(b, reps), "items/s", "");
    py_line("pool map, processes, vs Pool.map", "ACX_PY_PROCMAP", ours);
    acx_pool_close(p);
    acx_pool_join(p, -1);
    acx_pool_free(p);
    acx_procpool_free(pp);
    free(items);
}

int main(void)
{
    if (acx_procpool_zygote_start() < 0) /* before any thread */
        return 1;
    int n = (int)(100000 * bench_scale());
    int reps = bench_reps();
    int *vals = malloc((size_t)n * sizeof *vals);
    acx_buf *in = malloc((size_t)n * sizeof *in);
    acx_buf *out = malloc((size_t)n * sizeof *out);
    if (vals == NULL || in == NULL || out == NULL)
        return 1;
    for (int i = 0; i < n; i++) {
        vals[i] = i;
        in[i] = (acx_buf){&vals[i], sizeof vals[i], 0};
    }
    bench_threads(in, out, n, reps);
    bench_processes(in, out, n, reps);
    free(vals);
    free(in);
    free(out);
    return 0;
}
