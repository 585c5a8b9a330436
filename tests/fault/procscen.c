/* procscen.c - the fault tests' pool programs, in plain C: the process
 * pool executor (acx_procpool.h), multiprocessing.Pool's API (acx_pool.h,
 * both variants) and the thread pool executor's blocking calls
 * (acx_executor.h: submit, wait, as_completed, map).
 *
 * Each runs in two parts.  The first makes the pool and uses it while
 * the test's fault rule is armed; every error it meets is noted (the
 * first one is the result, and two different ones are -EILSEQ: a fault
 * must surface as itself, not as another error).  Then fault_disarm()
 * and the same pool must serve one more task, or the run returns
 * -ENOTRECOVERABLE whatever happened before.  The pool is shut down and
 * freed either way.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <signal.h>
#include <stdint.h>
#include <string.h>
#include <time.h>

#include <acx.h>
#include <acx_executor.h>
#include <acx_pool.h>
#include <acx_procpool.h>

#include "scenarios.h"
#include "shim.h"

/* Keep the first error; a different second one makes it -EILSEQ.
 * FAULT_NOTES=1 prints each one (to see what a mix was made of). */
static void note(int *err, int e)
{
    if (e == 0 || *err == -EILSEQ)
        return;
    if (getenv("FAULT_NOTES") != NULL)
        fprintf(stderr, "[error %d, after %d]", e, *err);
    *err = *err == 0 || *err == e ? e : -EILSEQ;
}

/* ---- work, run in a worker process or thread --------------------------- */

static int w_square(const void *in, size_t n, acx_buf *out)
{
    int32_t v;
    if (n != sizeof v)
        return -EINVAL;
    memcpy(&v, in, sizeof v);
    v *= v;
    return acx_buf_append(out, &v, sizeof v);
}

static int w_init(const void *arg, size_t n)
{
    (void)arg;
    return n == 3 ? 0 : -EINVAL; /* its bytes arrived */
}

/* A worker killed (SIGKILL) in the middle of its task. */
static int w_die(const void *in, size_t n, acx_buf *out)
{
    (void)in, (void)n, (void)out;
    nanosleep(&(struct timespec){0, 5000000}, NULL);
    raise(SIGKILL);
    return 0;
}

/* Add the int32 in D (N bytes) to *SUM; -EPROTO when it is not one. */
static int add_int(const void *d, size_t n, int *sum)
{
    int32_t v;
    if (d == NULL || n != sizeof v)
        return -EPROTO;
    memcpy(&v, d, sizeof v);
    *sum += v;
    return 0;
}

/* ---- the process pool executor ------------------------------------------ */

static acx_future *pp_submit(acx_procpool *p, acx_proc_fn fn, int32_t x)
{
    return acx_procpool_submit(p, fn, &x, sizeof x);
}

/* Wait for F, add its value to *SUM; its error otherwise. */
static int pp_collect(acx_future *f, int *sum)
{
    int e = acx_future_wait(f, -1);
    const void *d;
    size_t n;
    if (e == 0)
        e = acx_procpool_result(f, &d, &n);
    if (e == 0)
        e = add_int(d, n, sum);
    return e;
}

static void pp_map(acx_procpool *p, int *err, int *sum)
{
    static const int32_t in[4] = {5, 6, 7, 8};
    acx_bytes items[4];
    for (int i = 0; i < 4; i++)
        items[i] = (acx_bytes){&in[i], sizeof in[i]};
    acx_procpool_map_opts mo = {.chunksize = 2, .timeout_ms = -1};
    acx_procpool_map *m = acx_procpool_map_array(p, w_square, items, 4, &mo);
    if (m == NULL) {
        note(err, -errno);
        return;
    }
    const void *d;
    size_t n;
    int e;
    while ((e = acx_procpool_map_next(m, &d, &n)) != -ENODATA)
        note(err, e ? e : add_int(d, n, sum));
    acx_procpool_map_free(m);
}

/* The same pool still serves (once the faults are off, with DISARM). */
static int pp_serves(acx_procpool *p, int disarm)
{
    if (disarm)
        fault_disarm();
    int v = 0;
    acx_future *f = pp_submit(p, w_square, 10);
    int e = f ? pp_collect(f, &v) : -errno;
    acx_future_unref(f);
    return e == 0 && v == 100;
}

static int procpool_run(const acx_procpool_opts *o)
{
    acx_procpool *p = acx_procpool_new(o);
    if (p == NULL)
        return -errno;
    int err = 0, sum = 0;
    acx_future *f[3];
    for (int i = 0; i < 3; i++)
        if ((f[i] = pp_submit(p, w_square, i + 1)) == NULL)
            note(&err, -errno);
    for (int i = 0; i < 3; i++)
        if (f[i] != NULL) {
            note(&err, pp_collect(f[i], &sum));
            acx_future_unref(f[i]);
        }
    pp_map(p, &err, &sum);
    if (!pp_serves(p, 1))
        err = -ENOTRECOVERABLE;
    if (acx_procpool_shutdown(p, 1, 0) != 0)
        err = -ENOTRECOVERABLE;
    acx_procpool_free(p);
    return err ? err : sum;
}

int scen_procpool(void)
{
    acx_procpool_opts o = {.max_workers = 2};
    return procpool_run(&o);
}

/* With an initializer: a worker that could not be started must not
 * count as one that died in its initializer (which breaks the pool). */
int scen_procinit(void)
{
    acx_procpool_opts o = {.max_workers = 2, .initializer = w_init,
                           .initarg = "abc", .initarg_len = 3};
    return procpool_run(&o);
}

/* A worker dies in the middle of its task while the others run theirs:
 * only its task fails (-EOWNERDEAD); the others' results all arrive, and
 * the pool serves on.  The faults stay on to the end, shutdown included
 * (the test arms only those the runtime must hide).  Result:
 * SCEN_PROCKILL_WANT, the others' sum, when that holds. */
int scen_prockill(void)
{
    acx_procpool_opts o = {.max_workers = 3};
    acx_procpool *p = acx_procpool_new(&o);
    if (p == NULL)
        return -errno;
    int err = 0, sum = 0;
    acx_future *f[6];
    for (int i = 0; i < 6; i++)
        if ((f[i] = pp_submit(p, i == 2 ? w_die : w_square, i + 1)) ==
            NULL)
            note(&err, -errno);
    for (int i = 0; i < 6; i++) {
        if (f[i] == NULL)
            continue;
        int e = pp_collect(f[i], &sum);
        if (i == 2 && e == -EOWNERDEAD) {
            char why[128];
            acx_procpool_strerror(f[i], why, sizeof why);
            e = strstr(why, "killed by signal 9") ? 0 : -EPROTO;
        } else if (i == 2) {
            e = e ? e : -EPROTO; /* it cannot have succeeded */
        }
        note(&err, e);
        acx_future_unref(f[i]);
    }
    if (!pp_serves(p, 0))
        err = -ENOTRECOVERABLE;
    acx_procpool_free(p);
    return err ? err : sum;
}

/* terminate in the middle of the work: it returns, every future is done
 * (its result, -ECANCELED while queued, -EOWNERDEAD while running), the
 * workers are gone and a later submit is refused.  Result: 1. */
static int w_slow(const void *in, size_t n, acx_buf *out)
{
    nanosleep(&(struct timespec){0, 2000000}, NULL);
    return w_square(in, n, out);
}

int scen_procterm(void)
{
    acx_procpool_opts o = {.max_workers = 2};
    acx_procpool *p = acx_procpool_new(&o);
    if (p == NULL)
        return -errno;
    int err = 0, sum = 0;
    acx_future *f[6];
    for (int i = 0; i < 6; i++)
        if ((f[i] = pp_submit(p, i ? w_slow : w_square, 3)) == NULL)
            note(&err, -errno);
    if (f[0] != NULL) /* a worker is up: terminate kills something */
        note(&err, pp_collect(f[0], &sum));
    if (acx_procpool_terminate(p) != 0 || acx_procpool_workers(p) != 0)
        err = -ENOTRECOVERABLE;
    for (int i = 1; i < 6; i++) {
        if (f[i] == NULL)
            continue;
        int e = acx_future_done(f[i]) ? pp_collect(f[i], &sum) : -EPROTO;
        if (e != -ECANCELED && e != -EOWNERDEAD)
            note(&err, e);
        acx_future_unref(f[i]);
    }
    acx_future_unref(f[0]);
    fault_disarm(); /* (submit allocates before it looks at the pool) */
    if (pp_submit(p, w_square, 1) != NULL || errno != ESHUTDOWN)
        err = -ENOTRECOVERABLE;
    acx_procpool_free(p);
    return err ? err : sum % 9 == 0 ? 1 : -EPROTO;
}

/* ---- multiprocessing.Pool: apply, map, imap ------------------------------ */

static int pool_run(int kind)
{
    static const int32_t in[6] = {1, 2, 3, 4, 5, 6};
    acx_pool_opts o = {.processes = 2};
    acx_pool *p = acx_pool_new(kind, &o);
    if (p == NULL)
        return -errno;
    int err = 0, sum = 0;
    acx_buf out = {0};
    int e = acx_pool_apply(p, w_square, &in[0], sizeof in[0], &out);
    note(&err, e ? e : add_int(out.data, out.len, &sum));
    acx_buf_free(&out);

    acx_buf items[6], res[4];
    for (int i = 0; i < 6; i++)
        items[i] = (acx_buf){(void *)&in[i], sizeof in[i], sizeof in[i]};
    e = acx_pool_map(p, w_square, &items[1], 3, 2, res);
    for (int i = 0; i < 3 && e == 0; i++) {
        note(&err, add_int(res[i].data, res[i].len, &sum));
        acx_buf_free(&res[i]);
    }
    note(&err, e);

    acx_pool_iter *it = acx_pool_imap(p, w_square, &items[4], 2, 1);
    if (it == NULL) {
        note(&err, -errno);
    } else {
        while ((e = acx_pool_iter_next(it, -1, &out, NULL)) != -ENODATA) {
            note(&err, e ? e : add_int(out.data, out.len, &sum));
            acx_buf_free(&out);
        }
        acx_pool_iter_free(it);
    }

    fault_disarm();
    int32_t ten = 10;
    e = acx_pool_apply(p, w_square, &ten, sizeof ten, &out);
    int v = 0;
    if (e != 0 || add_int(out.data, out.len, &v) != 0 || v != 100)
        err = -ENOTRECOVERABLE;
    acx_buf_free(&out);
    if (acx_pool_close(p) != 0 || acx_pool_join(p, -1) != 0)
        err = -ENOTRECOVERABLE;
    acx_pool_free(p);
    return err ? err : sum;
}

int scen_pool_proc(void)
{
    return pool_run(ACX_POOL_PROCESSES);
}

int scen_pool_thr(void)
{
    return pool_run(ACX_POOL_THREADS);
}

/* ---- the thread pool executor, from plain threads ----------------------- */

static void *x_square(void *arg, int *err)
{
    (void)err;
    intptr_t x = (intptr_t)arg;
    return (void *)(x * x);
}

static int future_int(acx_future *f, int *sum)
{
    int e = acx_future_status(f);
    if (e == 0)
        *sum += (int)(intptr_t)acx_future_value(f);
    return e;
}

/* as_completed over the N futures F (all done): each comes once. */
static int as_completed_all(size_t n, acx_future *const *f)
{
    acx_futures_iter *it = acx_futures_as_completed(n, f, -1);
    if (it == NULL)
        return -errno;
    unsigned seen = 0;
    int i;
    while ((i = acx_futures_iter_next(it, NULL)) >= 0)
        seen |= 1u << i;
    acx_futures_iter_free(it);
    if (i != -ENODATA)
        return i;
    return seen == (1u << n) - 1 ? 0 : -EPROTO;
}

static void ex_map(acx_executor *ex, int *err, int *sum)
{
    void *items[4] = {(void *)5, (void *)6, (void *)7, (void *)8};
    acx_map_opts mo = {.chunksize = 2, .timeout_ms = -1};
    acx_executor_map *m = acx_executor_map_array(ex, x_square, items, 4, &mo);
    if (m == NULL) {
        note(err, -errno);
        return;
    }
    void *r;
    int e;
    while ((e = acx_executor_map_next(m, &r)) != -ENODATA) {
        note(err, e);
        if (e == 0)
            *sum += (int)(intptr_t)r;
    }
    acx_executor_map_free(m);
}

int scen_exec_api(void)
{
    acx_executor_opts o = {.max_workers = 2};
    acx_executor *ex = acx_executor_new(&o);
    if (ex == NULL)
        return -errno;
    int err = 0, sum = 0;
    acx_future *f[4];
    size_t n = 0;
    for (intptr_t i = 1; i <= 4; i++)
        if ((f[n] = acx_executor_submit(ex, x_square, (void *)i)) != NULL)
            n++;
        else
            note(&err, -errno);
    int done = acx_futures_wait(n, f, ACX_ALL_COMPLETED, -1);
    if (done < 0)
        note(&err, done);
    else if ((size_t)done != n)
        note(&err, -EPROTO);
    for (size_t i = 0; i < n; i++) {
        if (done < 0) /* wait could not watch them: wait for each */
            acx_future_wait(f[i], -1);
        note(&err, future_int(f[i], &sum));
    }
    note(&err, as_completed_all(n, f));
    for (size_t i = 0; i < n; i++)
        acx_future_unref(f[i]);
    ex_map(ex, &err, &sum);

    fault_disarm();
    acx_future *g = acx_executor_submit(ex, x_square, (void *)10);
    int v = 0;
    if (g == NULL || acx_future_wait(g, -1) != 0 || future_int(g, &v) != 0 ||
        v != 100)
        err = -ENOTRECOVERABLE;
    acx_future_unref(g);
    if (acx_executor_shutdown(ex, 1, 0) != 0)
        err = -ENOTRECOVERABLE;
    acx_executor_free(ex);
    return err ? err : sum;
}
