/* pool.c - the pool object of multiprocessing.Pool's API: its state
 * (running, closed, terminated), the owners it must wait for or abort,
 * and chunks, the unit of work its backends run (pool_internal.h).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "pool_internal.h"

static int default_workers(void)
{
    long cpus = sysconf(_SC_NPROCESSORS_ONLN);
    return cpus < 1 ? 1 : (int)cpus;
}

acx_pool *acx_pool_new(int kind, const acx_pool_opts *opts)
{
    const struct pool_backend *be =
        kind == ACX_POOL_THREADS     ? &acx__pool_threads
        : kind == ACX_POOL_PROCESSES ? &acx__pool_processes
                                     : NULL;
    if (be == NULL || (opts != NULL && opts->processes < 0)) {
        errno = EINVAL;
        return NULL;
    }
    acx_pool *p = calloc(1, sizeof *p);
    if (p == NULL)
        return NULL;
    if (opts != NULL)
        p->o = *opts;
    p->be = be;
    p->kind = kind;
    p->nworkers = p->o.processes ? p->o.processes : default_workers();
    p->o.processes = p->nworkers;
    pthread_mutex_init(&p->mu, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&p->cv, &ca);
    pthread_condattr_destroy(&ca);
    p->owners.next = p->owners.prev = &p->owners;
    atomic_init(&p->refs, 1);
    int err = be->start(p);
    if (err < 0) {
        pthread_cond_destroy(&p->cv);
        pthread_mutex_destroy(&p->mu);
        free(p);
        errno = -err;
        return NULL;
    }
    return p;
}

int acx_pool_processes(const acx_pool *p)
{
    return p == NULL ? -EINVAL : p->nworkers;
}

int acx_pool_kind(const acx_pool *p)
{
    return p == NULL ? -EINVAL : p->kind;
}

void acx__pool_ref(acx_pool *p)
{
    atomic_fetch_add_explicit(&p->refs, 1, memory_order_relaxed);
}

/* The last reference: the user's free and every chunk are gone, so is
 * the backend (released by acx_pool_free). */
void acx__pool_unref(acx_pool *p)
{
    if (atomic_fetch_sub_explicit(&p->refs, 1, memory_order_acq_rel) != 1)
        return;
    pthread_cond_destroy(&p->cv);
    pthread_mutex_destroy(&p->mu);
    free(p);
}

static int check_locked(const acx_pool *p)
{
    if (p->state != POOL_RUN)
        return -ESHUTDOWN;
    return p->broken;
}

int acx__pool_check(acx_pool *p)
{
    pthread_mutex_lock(&p->mu);
    int err = check_locked(p);
    pthread_mutex_unlock(&p->mu);
    return err;
}

void acx__pool_broken(acx_pool *p, int err)
{
    pthread_mutex_lock(&p->mu);
    if (p->broken == 0)
        p->broken = err;
    pthread_mutex_unlock(&p->mu);
}

size_t acx_pool_default_chunksize(const acx_pool *p, size_t n)
{
    if (p == NULL)
        return 0;
    /* Python's map: chunksize, extra = divmod(n, 4 * processes) */
    size_t per = 4 * (size_t)p->nworkers;
    size_t cs = n / per + (n % per != 0);
    return cs ? cs : 1;
}

/* ---- owners ---------------------------------------------------------------- */

void acx__owner_init(struct pool_owner *o, const struct owner_ops *ops)
{
    o->ops = ops;
    o->prev = o->next = NULL;
    o->registered = 0;
    atomic_init(&o->refs, 1);
}

void acx__owner_ref(struct pool_owner *o)
{
    atomic_fetch_add_explicit(&o->refs, 1, memory_order_relaxed);
}

void acx__owner_unref(struct pool_owner *o)
{
    if (atomic_fetch_sub_explicit(&o->refs, 1, memory_order_acq_rel) == 1)
        o->ops->destroy(o);
}

/* A new owner makes the pool wait for it (join) and hears of terminate;
 * refused once the pool is closed or broken. */
int acx__pool_register(acx_pool *p, struct pool_owner *o)
{
    pthread_mutex_lock(&p->mu);
    int err = check_locked(p);
    if (err == 0) {
        o->next = &p->owners;
        o->prev = p->owners.prev;
        o->prev->next = o;
        p->owners.prev = o;
        o->registered = 1;
        p->nowners++;
        acx__owner_ref(o); /* the list's */
    }
    pthread_mutex_unlock(&p->mu);
    return err;
}

void acx__pool_unregister(acx_pool *p, struct pool_owner *o)
{
    pthread_mutex_lock(&p->mu);
    int was = o->registered;
    if (was) {
        o->prev->next = o->next;
        o->next->prev = o->prev;
        o->registered = 0;
        if (--p->nowners == 0)
            pthread_cond_broadcast(&p->cv);
    }
    pthread_mutex_unlock(&p->mu);
    if (was)
        acx__owner_unref(o);
}

/* ---- chunks ---------------------------------------------------------------- */

/* Chunks alive in the process: what a map's bound is tested against. */
static _Atomic size_t live_chunks;

size_t acx__pool_live_chunks(void)
{
    return atomic_load_explicit(&live_chunks, memory_order_relaxed);
}

struct pool_chunk *acx__pool_chunk_new(acx_pool *p, struct pool_owner *o,
                                       int kind, void *fn, size_t n,
                                       int store_in)
{
    size_t bufs = store_in ? 2 * n : n;
    struct pool_chunk *c = calloc(1, sizeof *c + bufs * sizeof(acx_buf) +
                                         n * sizeof(int));
    if (c == NULL)
        return NULL;
    c->kind = kind;
    c->fn = fn;
    c->n = n;
    c->out = c->store_in + (store_in ? n : 0);
    c->err = (int *)(void *)(c->store_in + bufs);
    if (store_in)
        c->in = c->store_in;
    atomic_init(&c->refs, 1);
    atomic_fetch_add_explicit(&live_chunks, 1, memory_order_relaxed);
    acx__owner_ref(o);
    c->owner = o;
    acx__pool_ref(p);
    c->pool = p;
    return c;
}

void acx__pool_chunk_drop_results(struct pool_chunk *c)
{
    for (size_t i = 0; i < c->n; i++)
        acx_buf_free(&c->out[i]);
}

void acx__pool_chunk_put(struct pool_chunk *c)
{
    if (atomic_fetch_sub_explicit(&c->refs, 1, memory_order_acq_rel) != 1)
        return;
    acx__pool_chunk_drop_results(c); /* those no owner took */
    acx__owner_unref(c->owner);
    acx__pool_unref(c->pool);
    free(c);
    atomic_fetch_sub_explicit(&live_chunks, 1, memory_order_relaxed);
}

void acx__pool_chunk_finish(struct pool_chunk *c, int status)
{
    c->owner->ops->chunk_done(c->owner, c, status);
    acx__pool_chunk_put(c);
}

/* Running maps and iterators still send chunks after close; terminate
 * and a broken pool stop them. */
void acx__pool_chunk_send(struct pool_chunk *c)
{
    acx_pool *p = c->pool;
    pthread_mutex_lock(&p->mu);
    int err = p->state == POOL_TERMINATED ? -ECANCELED : p->broken;
    pthread_mutex_unlock(&p->mu);
    if (err == 0)
        err = p->be->submit(p, c);
    if (err < 0)
        acx__pool_chunk_finish(c, err);
}

void acx__pool_chunk_run(struct pool_chunk *c)
{
    for (size_t i = 0; i < c->n; i++) {
        acx_buf *out = &c->out[i];
        *out = (acx_buf){0};
        int err;
        if (c->kind == POOL_STAR)
            err = ((acx_pool_starfn)c->fn)(c->args[i].args,
                                           c->args[i].nargs, out);
        else
            err = ((acx_pool_fn)c->fn)(c->in[i].data, c->in[i].len, out);
        if (err < 0)
            acx_buf_free(out); /* a failed item has no result */
        c->err[i] = err < 0 ? err : 0;
    }
}

/* ---- close, terminate, join, free ------------------------------------------ */

int acx_pool_close(acx_pool *p)
{
    if (p == NULL)
        return -EINVAL;
    pthread_mutex_lock(&p->mu);
    if (p->state == POOL_RUN)
        p->state = POOL_CLOSED;
    pthread_mutex_unlock(&p->mu);
    return 0;
}

int acx_pool_terminate(acx_pool *p)
{
    if (p == NULL)
        return -EINVAL;
    pthread_mutex_lock(&p->mu);
    if (p->state == POOL_TERMINATED) {
        pthread_mutex_unlock(&p->mu);
        return 0;
    }
    p->state = POOL_TERMINATED;
    /* Take the whole list (and its references): abort runs callbacks,
     * which must not run under MU. */
    struct pool_owner *first = NULL;
    if (p->nowners > 0) {
        first = p->owners.next;
        p->owners.prev->next = NULL;
    }
    p->owners.next = p->owners.prev = &p->owners;
    p->nowners = 0;
    for (struct pool_owner *o = first; o != NULL; o = o->next)
        o->registered = 0;
    pthread_cond_broadcast(&p->cv);
    pthread_mutex_unlock(&p->mu);
    while (first != NULL) {
        struct pool_owner *o = first;
        first = o->next;
        o->ops->abort(o, -ECANCELED);
        acx__owner_unref(o);
    }
    p->be->terminate(p);
    return 0;
}

static int64_t mono_ns(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (int64_t)t.tv_sec * 1000000000 + t.tv_nsec;
}

/* Wait for every owner to finish (MU held): 0 or -ETIMEDOUT. */
static int wait_owners(acx_pool *p, int64_t deadline_ns)
{
    while (p->nowners > 0) {
        if (deadline_ns < 0) {
            pthread_cond_wait(&p->cv, &p->mu);
            continue;
        }
        struct timespec ts = {deadline_ns / 1000000000,
                              deadline_ns % 1000000000};
        if (pthread_cond_timedwait(&p->cv, &p->mu, &ts) == ETIMEDOUT &&
            p->nowners > 0)
            return -ETIMEDOUT;
    }
    return 0;
}

int acx_pool_join(acx_pool *p, int64_t timeout_ms)
{
    if (p == NULL)
        return -EINVAL;
    if (p->be->in_worker(p))
        return -EDEADLK;
    int64_t deadline = timeout_ms < 0 ? -1 : mono_ns() + timeout_ms * 1000000;
    pthread_mutex_lock(&p->mu);
    int err = p->state == POOL_RUN ? -EINVAL : wait_owners(p, deadline);
    pthread_mutex_unlock(&p->mu);
    if (err < 0)
        return err;
    int64_t left = -1;
    if (deadline >= 0) {
        left = (deadline - mono_ns()) / 1000000;
        if (left < 0)
            left = 0;
    }
    return p->be->join(p, left);
}

void acx_pool_free(acx_pool *p)
{
    if (p == NULL || p->be->in_worker(p))
        return;
    acx_pool_terminate(p); /* Pool.__exit__; nothing left after a join */
    p->be->release(p);
    acx__pool_unref(p);
}
