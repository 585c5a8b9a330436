/* procpool.c - the process pool executor beside a hand-written C pool of
 * forked children fed over pipes, and Python's multiprocessing.Pool.
 *
 *   map:        2 workers, 100,000 small items (an int in, its square
 *               out; the median of 4 x BENCH_REPS + 1 runs, each side's
 *               runs interleaved with the other's), chunks of 12,500 (Pool.map's default chunksize for
 *               this size: ceil(n / (4 * workers))): items per second;
 *               beside the same work on 2 forked children that read
 *               packed chunks from a pipe and write packed results back,
 *               and beside Pool.map (its figure in $ACX_PY_PROCMAP);
 *   round trip: one small task submitted and its result waited for,
 *               again and again: p50 and p99 in microseconds, beside a
 *               4-byte ping-pong with a forked child over two pipes;
 *   speedup:    24 CPU-bound tasks of a fixed cost on 1 worker, then on
 *               2: the time ratio, beside the same work on 1 and 2 plain
 *               threads (what the machine's other jobs leave of its
 *               second CPU shows there too).
 *
 * Workers exist before the clock starts in every case.  Not pinned: the
 * workers need CPUs of their own.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "acx.h"
#include "bench.h"

#define WORKERS 2

static int n_items(void)
{
    return (int)(100000 * bench_scale());
}

static int n_trip(void)
{
    return (int)(5000 * bench_scale());
}

static int cmp_d(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double pct(double *v, int n, double p)
{
    qsort(v, (size_t)n, sizeof *v, cmp_d);
    return v[(int)(p / 100 * (n - 1))];
}

/* ---- the work ------------------------------------------------------------- */

static long long square(int v)
{
    return (long long)v * v;
}

static int w_square(const void *in, size_t n, acx_buf *out)
{
    int v;
    if (n != sizeof v)
        return -EINVAL;
    memcpy(&v, in, sizeof v);
    long long r = square(v);
    return acx_buf_append(out, &r, sizeof r);
}

/* A fixed amount of arithmetic (~tens of ms): the CPU-bound task. */
static uint64_t spin(uint64_t seed, long iters)
{
    uint64_t x = seed;
    for (long i = 0; i < iters; i++)
        x = x * 6364136223846793005ull + 1442695040888963407ull;
    return x;
}

static int w_spin(const void *in, size_t n, acx_buf *out)
{
    long iters;
    if (n != sizeof iters)
        return -EINVAL;
    memcpy(&iters, in, sizeof iters);
    uint64_t r = spin((uint64_t)iters, iters);
    return acx_buf_append(out, &r, sizeof r);
}

/* ---- acx ------------------------------------------------------------------- */

static acx_procpool *warm_pool(int workers)
{
    acx_procpool_opts o = {.max_workers = workers};
    acx_procpool *p = acx_procpool_new(&o);
    if (p == NULL) {
        perror("acx_procpool_new");
        exit(1);
    }
    /* start every worker before the clock does */
    acx_future *f[WORKERS * 4];
    int v = 3;
    for (int i = 0; i < workers * 4; i++)
        f[i] = acx_procpool_submit(p, w_square, &v, sizeof v);
    for (int i = 0; i < workers * 4; i++) {
        acx_future_wait(f[i], -1);
        acx_future_unref(f[i]);
    }
    return p;
}

static double acx_map(acx_procpool *p, const acx_bytes *items, int n,
                      size_t chunk)
{
    acx_procpool_map_opts o = {.chunksize = chunk, .timeout_ms = -1};
    double t0 = bench_now_ns();
    acx_procpool_map *m = acx_procpool_map_array(p, w_square, items,
                                                 (size_t)n, &o);
    const void *d;
    size_t len;
    int e, i = 0, bad = 0;
    while ((e = acx_procpool_map_next(m, &d, &len)) != -ENODATA) {
        long long r;
        memcpy(&r, d, sizeof r);
        bad += e != 0 || r != square(i);
        i++;
    }
    acx_procpool_map_free(m);
    double dt = bench_now_ns() - t0;
    if (bad || i != n) {
        fprintf(stderr, "acx map: %d wrong results of %d\n", bad, i);
        exit(1);
    }
    return n / (dt / 1e9);
}

static void acx_trip(acx_procpool *p, double *p50, double *p99)
{
    int n = n_trip();
    double *v = malloc((size_t)n * sizeof *v);
    for (int i = -100; i < n; i++) {
        double t0 = bench_now_ns();
        acx_future *f = acx_procpool_submit(p, w_square, &i, sizeof i);
        acx_future_wait(f, -1);
        acx_future_unref(f);
        if (i >= 0)
            v[i] = (bench_now_ns() - t0) / 1e3;
    }
    *p50 = pct(v, n, 50);
    *p99 = pct(v, n, 99);
    free(v);
}

static double acx_spin(int workers, int tasks, long iters)
{
    acx_procpool *p = warm_pool(workers);
    acx_future **f = malloc((size_t)tasks * sizeof *f);
    double t0 = bench_now_ns();
    for (int i = 0; i < tasks; i++)
        f[i] = acx_procpool_submit(p, w_spin, &iters, sizeof iters);
    for (int i = 0; i < tasks; i++) {
        acx_future_wait(f[i], -1);
        acx_future_unref(f[i]);
    }
    double dt = bench_now_ns() - t0;
    free(f);
    acx_procpool_free(p);
    return dt / 1e9;
}

/* The same CPU-bound tasks on plain threads (1, then 2), each taking
 * tasks from a shared counter: how much parallelism the machine gives
 * right now, the reference for the pool's speedup. */
struct spin_job {
    int next, tasks;
    long iters;
    uint64_t sink;
};

static void *spin_thread(void *arg)
{
    struct spin_job *j = arg;
    uint64_t acc = 0;
    while (__atomic_fetch_add(&j->next, 1, __ATOMIC_RELAXED) < j->tasks)
        acc += spin((uint64_t)j->iters, j->iters);
    __atomic_fetch_add(&j->sink, acc, __ATOMIC_RELAXED);
    return NULL;
}

static double threads_spin(int threads, int tasks, long iters)
{
    struct spin_job j = {0, tasks, iters, 0};
    pthread_t t[WORKERS];
    double t0 = bench_now_ns();
    for (int i = 0; i < threads; i++)
        pthread_create(&t[i], NULL, spin_thread, &j);
    for (int i = 0; i < threads; i++)
        pthread_join(t[i], NULL);
    return (bench_now_ns() - t0) / 1e9;
}

/* ---- the C baseline: forked children, chunks over pipes --------------------- */

struct child {
    pid_t pid;
    int to, from; /* our ends */
};

static int read_all(int fd, void *p, size_t n)
{
    while (n > 0) {
        ssize_t r = read(fd, p, n);
        if (r <= 0) {
            if (r < 0 && errno == EINTR)
                continue;
            return -1;
        }
        p = (char *)p + r;
        n -= (size_t)r;
    }
    return 0;
}

static int write_all(int fd, const void *p, size_t n)
{
    while (n > 0) {
        ssize_t w = write(fd, p, n);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            return -1;
        }
        p = (const char *)p + w;
        n -= (size_t)w;
    }
    return 0;
}

/* A child.  A request is a u32 byte count and that many bytes: N items,
 * each a u32 length and its bytes; the child calls the same w_square on
 * each and answers a u32 byte count and the results framed the same way.
 * (Raw mode: a u32 item count, then ints; the answer: long longs.) */
static int raw_mode;

static void child_loop(int in, int out)
{
    acx_buf req = {0}, rep = {0}, one = {0};
    uint32_t n;
    while (read_all(in, &n, sizeof n) == 0) {
        req.len = 0;
        size_t bytes = raw_mode ? n * sizeof(int) : n;
        if (acx_buf_reserve(&req, bytes) == NULL ||
            read_all(in, req.data, bytes) < 0)
            break;
        rep.len = 0;
        const char *p = req.data, *end = p + bytes;
        if (raw_mode) {
            long long *r = acx_buf_reserve(&rep, n * sizeof *r);
            for (uint32_t i = 0; i < n; i++)
                r[i] = square(((const int *)req.data)[i]);
            rep.len = n * sizeof *r;
        }
        while (!raw_mode && p < end) {
            uint32_t len;
            memcpy(&len, p, sizeof len);
            one.len = 0;
            w_square(p + sizeof len, len, &one);
            p += sizeof len + len;
            uint32_t olen = (uint32_t)one.len;
            acx_buf_append(&rep, &olen, sizeof olen);
            acx_buf_append(&rep, one.data, one.len);
        }
        uint32_t rn = (uint32_t)rep.len;
        if ((!raw_mode && write_all(out, &rn, sizeof rn) < 0) ||
            write_all(out, rep.data, rep.len) < 0)
            break;
    }
    _exit(0);
}

static void c_start(struct child *c)
{
    for (int k = 0; k < WORKERS; k++) {
        int a[2], b[2];
        if (pipe(a) < 0 || pipe(b) < 0) {
            perror("pipe");
            exit(1);
        }
        fflush(stdout);
        pid_t pid = fork();
        if (pid == 0) {
            for (int j = 0; j < k; j++) { /* not the siblings' ends */
                close(c[j].to);
                close(c[j].from);
            }
            close(a[1]);
            close(b[0]);
            child_loop(a[0], b[1]);
        }
        close(a[0]);
        close(b[1]);
        c[k] = (struct child){pid, a[1], b[0]};
    }
}

static void c_stop(struct child *c)
{
    for (int k = 0; k < WORKERS; k++) {
        close(c[k].to);
        close(c[k].from);
        waitpid(c[k].pid, NULL, 0);
    }
}

/* Send items LO..LO+LEN of ITEMS as one request. */
static void c_send(struct child *c, const acx_bytes *items, int lo, int len,
                   acx_buf *b)
{
    b->len = 0;
    uint32_t n = 0;
    acx_buf_append(b, &n, sizeof n);
    for (int i = lo; i < lo + len; i++) {
        if (raw_mode) {
            acx_buf_append(b, items[i].data, items[i].len);
            continue;
        }
        uint32_t l = (uint32_t)items[i].len;
        acx_buf_append(b, &l, sizeof l);
        acx_buf_append(b, items[i].data, items[i].len);
    }
    n = raw_mode ? (uint32_t)len : (uint32_t)(b->len - sizeof n);
    memcpy(b->data, &n, sizeof n);
    if (write_all(c->to, b->data, b->len) < 0) {
        perror("baseline write");
        exit(1);
    }
}

/* Read one answer to a request of LEN items into RES (in order). */
static void c_recv(struct child *c, int len, acx_buf *b, long long *res)
{
    uint32_t n = (uint32_t)len * sizeof *res;
    if ((!raw_mode && read_all(c->from, &n, sizeof n) < 0)) {
        perror("baseline read");
        exit(1);
    }
    b->len = 0;
    if (acx_buf_reserve(b, n) == NULL || read_all(c->from, b->data, n) < 0) {
        perror("baseline read");
        exit(1);
    }
    const char *p = b->data;
    for (int i = 0; i < len; i++) {
        uint32_t l = sizeof *res;
        if (!raw_mode) {
            memcpy(&l, p, sizeof l);
            p += sizeof l;
        }
        memcpy(&res[i], p, sizeof *res);
        p += l;
    }
}

/* Chunks go round-robin to the children and come back in order: the
 * next chunk for a child is sent once its previous result is read. */
static double c_map(struct child *c, const acx_bytes *items, int n,
                    int chunk)
{
    long long *res = malloc((size_t)n * sizeof *res);
    acx_buf out = {0}, in = {0};
    int nchunks = (n + chunk - 1) / chunk;
    double t0 = bench_now_ns();
    int sent = 0;
    for (; sent < nchunks && sent < WORKERS; sent++) {
        int lo = sent * chunk, len = n - lo < chunk ? n - lo : chunk;
        c_send(&c[sent % WORKERS], items, lo, len, &out);
    }
    for (int k = 0; k < nchunks; k++) {
        int lo = k * chunk, len = n - lo < chunk ? n - lo : chunk;
        c_recv(&c[k % WORKERS], len, &in, res + lo);
        if (sent < nchunks) {
            int lo2 = sent * chunk, len2 = n - lo2 < chunk ? n - lo2 : chunk;
            c_send(&c[sent % WORKERS], items, lo2, len2, &out);
            sent++;
        }
    }
    double dt = bench_now_ns() - t0;
    for (int i = 0; i < n; i++)
        if (res[i] != square(i)) {
            fprintf(stderr, "baseline: wrong result at %d\n", i);
            exit(1);
        }
    free(res);
    acx_buf_free(&out);
    acx_buf_free(&in);
    return n / (dt / 1e9);
}

static void c_trip(struct child *c, double *p50, double *p99)
{
    int n = n_trip();
    double *v = malloc((size_t)n * sizeof *v);
    acx_buf b = {0};
    for (int i = -100; i < n; i++) {
        double t0 = bench_now_ns();
        long long r;
        acx_bytes one = {&i, sizeof i};
        c_send(&c[0], &one, 0, 1, &b);
        c_recv(&c[0], 1, &b, &r);
        if (i >= 0)
            v[i] = (bench_now_ns() - t0) / 1e3;
    }
    *p50 = pct(v, n, 50);
    *p99 = pct(v, n, 99);
    free(v);
    acx_buf_free(&b);
}

/* ---- main ------------------------------------------------------------------- */

int main(void)
{
    /* the zygote first, from a single-threaded process */
    if (acx_procpool_zygote_start() < 0) {
        perror("zygote");
        return 1;
    }
    int n = n_items();
    int chunk = (n + 4 * WORKERS - 1) / (4 * WORKERS);
    int *vals = malloc((size_t)n * sizeof *vals);
    acx_bytes *items = malloc((size_t)n * sizeof *items);
    for (int i = 0; i < n; i++) {
        vals[i] = i;
        items[i] = (acx_bytes){&vals[i], sizeof vals[i]};
    }
    /* a map takes milliseconds: many interleaved runs give a median the
     * other jobs on a shared machine move less */
    int reps = 4 * bench_reps() + 1;
    double *a = malloc((size_t)reps * sizeof *a);
    double *b = malloc((size_t)reps * sizeof *b);

    double *rw = malloc((size_t)reps * sizeof *rw);
    struct child c[WORKERS], craw[WORKERS];
    c_start(c);
    raw_mode = 1;
    c_start(craw);
    acx_procpool *p = warm_pool(WORKERS);
    for (int r = 0; r < reps; r++) { /* interleaved: the same noise */
        a[r] = acx_map(p, items, n, (size_t)chunk);
        raw_mode = 0;
        b[r] = c_map(c, items, n, chunk);
        raw_mode = 1;
        rw[r] = c_map(craw, items, n, chunk);
    }
    raw_mode = 0;
    double acx_rate = bench_median(a, reps), c_rate = bench_median(b, reps);
    char name[128];
    snprintf(name, sizeof name,
             "procpool map, 2 workers, %d items, chunks of %d", n, chunk);
    bench_report(name, acx_rate, "items/s", "C fork+pipe, framed items",
                 c_rate, "items/s", ">= 0.9x");
    bench_report("procpool map vs raw int arrays", acx_rate, "items/s",
                 "C fork+pipe, raw ints", bench_median(rw, reps), "items/s",
                 "(information)");
    c_stop(craw);
    free(rw);
    const char *py = getenv("ACX_PY_PROCMAP");
    if (py != NULL && atof(py) > 0)
        bench_report("procpool map vs Python Pool.map", acx_rate, "items/s",
                     "multiprocessing.Pool.map", atof(py), "items/s",
                     ">= 5x");

    double p50, p99, c50, c99;
    acx_trip(p, &p50, &p99);
    c_trip(c, &c50, &c99);
    bench_report("procpool round trip p50", p50, "us", "C pipe ping-pong",
                 c50, "us", "<= 50 us");
    bench_report("procpool round trip p99", p99, "us", "C pipe ping-pong",
                 c99, "us", "");
    acx_procpool_free(p);
    c_stop(c);

    /* CPU-bound: the same 24 tasks on 1 worker, then on 2 */
    long iters = (long)(4000000 * bench_scale());
    int tasks = 24;
    double t1 = 1e9, t2 = 1e9, h1 = 1e9, h2 = 1e9; /* the best of 5 */
    for (int r = 0; r < 5; r++) {
        double x = acx_spin(1, tasks, iters), y = acx_spin(2, tasks, iters);
        double u = threads_spin(1, tasks, iters);
        double v = threads_spin(2, tasks, iters);
        t1 = x < t1 ? x : t1;
        t2 = y < t2 ? y : t2;
        h1 = u < h1 ? u : h1;
        h2 = v < h2 ? v : h2;
    }
    printf("CPU-bound: %d tasks, 1 worker %.1f ms, 2 workers %.1f ms; "
           "threads %.1f / %.1f ms\n",
           tasks, t1 * 1e3, t2 * 1e3, h1 * 1e3, h2 * 1e3);
    bench_report("procpool CPU-bound speedup, 2 workers vs 1", t1 / t2, "x",
                 "2 threads vs 1, same work", h1 / h2, "x", ">= 1.95x");
    free(vals);
    free(items);
    free(a);
    free(b);
    return 0;
}
