/* poolimap.c - imap and imap_unordered: lazy, bounded iteration over the
 * pool's chunks.  The map's machinery (reading the input in the thread
 * calling next, the bound on chunks taken and not fully consumed, order)
 * is mapcore.c's; this file is how a pool chunk is sent and waited for.
 *
 * Ordered: the core waits for its oldest chunk's DONE flag.  Unordered:
 * a finished chunk joins a FIFO of ready chunks, in completion order, and
 * the core takes the first.  Finishing threads touch only the chunk's
 * DONE flag or the FIFO, under the iterator's lock.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "mapcore.h"
#include "pool_internal.h"

struct acx_pool_iter {
    struct pool_owner own; /* first */
    struct acx__map core;
    pthread_mutex_t mu;
    pthread_cond_t cv;     /* a chunk finished, or terminate */
    acx_pool *pool;        /* a reference */
    acx_pool_fn fn;
    acx_pool_source source;
    void *src;
    struct pool_chunk *head, *tail; /* unordered: the ready FIFO */
    int closed;            /* freed: finishing chunks are not kept */
    int ended;             /* -ENODATA returned: no longer registered */
};

/* The iterator around its map core. */
#define ITER(m)                                                            \
    ((acx_pool_iter *)(void *)((char *)(m) - offsetof(acx_pool_iter, core)))

/* ---- what the pool's threads call ---------------------------------------- */

static void it_chunk_done(struct pool_owner *o, struct pool_chunk *c,
                          int status)
{
    acx_pool_iter *it = (acx_pool_iter *)o;
    pthread_mutex_lock(&it->mu);
    c->status = status;
    if (!it->core.unordered) {
        c->done = 1;
    } else if (!it->closed) { /* the completion FIFO holds a reference */
        atomic_fetch_add(&c->refs, 1);
        c->next = NULL;
        if (it->tail)
            it->tail->next = c;
        else
            it->head = c;
        it->tail = c;
    }
    pthread_cond_broadcast(&it->cv);
    pthread_mutex_unlock(&it->mu);
}

static void it_abort(struct pool_owner *o, int err)
{
    acx_pool_iter *it = (acx_pool_iter *)o;
    pthread_mutex_lock(&it->mu);
    acx__map_fail(&it->core, err);
    pthread_cond_broadcast(&it->cv);
    pthread_mutex_unlock(&it->mu);
}

static void it_destroy(struct pool_owner *o)
{
    acx_pool_iter *it = (acx_pool_iter *)o;
    acx__pool_unref(it->pool);
    pthread_cond_destroy(&it->cv);
    pthread_mutex_destroy(&it->mu);
    free(it);
}

static const struct owner_ops it_ops = {it_chunk_done, it_abort,
                                        it_destroy};

/* ---- the map core's operations ------------------------------------------- */

static int it_source(struct acx__map *core, void *item)
{
    acx_pool_iter *it = ITER(core);
    return it->source(it->src, item);
}

static void *it_submit(struct acx__map *core, const void *items, size_t n,
                       size_t first, int *err)
{
    acx_pool_iter *it = ITER(core);
    struct pool_chunk *c = acx__pool_chunk_new(
        it->pool, &it->own, POOL_PLAIN, (void *)it->fn, n, 1);
    if (c == NULL) {
        *err = -ENOMEM;
        return NULL;
    }
    c->first = first;
    memcpy(c->store_in, items, n * sizeof c->store_in[0]);
    if (!core->unordered)
        atomic_fetch_add(&c->refs, 1); /* the core's, until drop */
    acx__pool_chunk_send(c); /* on failure it is finished with the error */
    return c;
}

/* A chunk can be taken now (MU held): the oldest's DONE, or the FIFO. */
static int ready(const acx_pool_iter *it, const struct pool_chunk *oldest)
{
    return it->core.unordered ? it->head != NULL : oldest->done;
}

static int it_wait(struct acx__map *core, struct acx__map_chunk *mc,
                   int64_t timeout_ms)
{
    acx_pool_iter *it = ITER(core);
    struct pool_chunk *c = mc->h;
    /* the condition variable's clock is acx__now_ns's, CLOCK_MONOTONIC */
    int64_t at = timeout_ms >= 0 ? acx__deadline_after_ms(timeout_ms) : 0;
    struct timespec until = {at / 1000000000, at % 1000000000};
    int err = 0;
    pthread_mutex_lock(&it->mu);
    while (!ready(it, c) && !acx__map_failed(core)) {
        if (timeout_ms < 0)
            pthread_cond_wait(&it->cv, &it->mu);
        else if (pthread_cond_timedwait(&it->cv, &it->mu, &until) ==
                     ETIMEDOUT &&
                 !ready(it, c) && !acx__map_failed(core)) {
            err = -ETIMEDOUT;
            break;
        }
    }
    if (err == 0 && ready(it, c)) {
        if (core->unordered) { /* the first of the FIFO, its reference */
            c = it->head;
            it->head = c->next;
            if (it->head == NULL)
                it->tail = NULL;
            *mc = (struct acx__map_chunk){c, c->n, 0};
        }
        mc->status = c->status;
    } else if (err == 0) {
        err = -ECANCELED; /* woken by terminate: the core tells it */
    }
    pthread_mutex_unlock(&it->mu);
    return err;
}

struct it_out {
    acx_buf *out;
    size_t *index;
};

static int it_result(struct acx__map *core, const struct acx__map_chunk *mc,
                     size_t i, void *out)
{
    struct pool_chunk *c = mc->h;
    struct it_out *o = out;
    (void)core;
    if (o->index != NULL)
        *o->index = c->first + i;
    if (o->out != NULL) {
        *o->out = c->out[i];
        c->out[i] = (acx_buf){0};
    }
    return mc->status < 0 ? mc->status : c->err[i];
}

static void it_drop(struct acx__map *core, void *h)
{
    (void)core;
    acx__pool_chunk_put(h); /* frees results not handed out */
}

static const struct acx__map_ops it_map_ops = {
    sizeof(acx_buf), it_source, NULL, it_submit, it_wait, it_result,
    it_drop};

/* ---- creating ---------------------------------------------------------------- */

/* An iterator of FN on P, its input still to set; INPUT_OK: the caller's
 * input is valid. */
static acx_pool_iter *it_new(acx_pool *p, acx_pool_fn fn,
                             const acx_imap_opts *o, int input_ok)
{
    if (p == NULL || fn == NULL || !input_ok) {
        errno = EINVAL;
        return NULL;
    }
    acx_pool_iter *it = calloc(1, sizeof *it);
    if (it == NULL)
        return NULL;
    acx__owner_init(&it->own, &it_ops);
    pthread_mutex_init(&it->mu, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&it->cv, &ca);
    pthread_condattr_destroy(&ca);
    acx__pool_ref(p);
    it->pool = p;
    it->fn = fn;
    acx__map_init(&it->core, &it_map_ops, o ? o->chunksize : 0,
                  o ? o->buffersize : 0, (size_t)p->nworkers, -1,
                  o && o->unordered);
    return it;
}

static acx_pool_iter *it_start(acx_pool_iter *it)
{
    int err = acx__pool_register(it->pool, &it->own);
    if (err < 0) {
        acx__owner_unref(&it->own);
        errno = -err;
        return NULL;
    }
    acx__map_refill(&it->core); /* the work starts now, as Python's */
    return it;
}

static acx_pool_iter *imap_array(acx_pool *p, acx_pool_fn fn,
                                 const acx_buf *items, size_t n,
                                 size_t chunksize, int unordered)
{
    acx_imap_opts o = {.chunksize = chunksize, .unordered = unordered};
    acx_pool_iter *it = it_new(p, fn, &o, items != NULL || n == 0);
    if (it == NULL)
        return NULL;
    acx__map_array(&it->core, items, n);
    return it_start(it);
}

acx_pool_iter *acx_pool_imap(acx_pool *p, acx_pool_fn fn,
                             const acx_buf *items, size_t n,
                             size_t chunksize)
{
    return imap_array(p, fn, items, n, chunksize, 0);
}

acx_pool_iter *acx_pool_imap_unordered(acx_pool *p, acx_pool_fn fn,
                                       const acx_buf *items, size_t n,
                                       size_t chunksize)
{
    return imap_array(p, fn, items, n, chunksize, 1);
}

acx_pool_iter *acx_pool_imap_source(acx_pool *p, acx_pool_fn fn,
                                    acx_pool_source source, void *src,
                                    const acx_imap_opts *opts)
{
    acx_pool_iter *it = it_new(p, fn, opts, source != NULL);
    if (it == NULL)
        return NULL;
    it->source = source;
    it->src = src;
    return it_start(it);
}

/* ---- next, free ----------------------------------------------------------------- */

int acx_pool_iter_next(acx_pool_iter *it, int64_t timeout_ms, acx_buf *out,
                       size_t *index)
{
    if (out != NULL)
        *out = (acx_buf){0};
    if (it == NULL)
        return -EINVAL;
    if (it->ended)
        return -ENODATA;
    struct it_out o = {out, index};
    int err = acx__map_next(&it->core, timeout_ms, &o);
    if (err == -ENODATA) { /* the pool's join no longer waits for it */
        it->ended = 1;
        acx__pool_unregister(it->pool, &it->own);
    }
    return err;
}

void acx_pool_iter_free(acx_pool_iter *it)
{
    if (it == NULL)
        return;
    pthread_mutex_lock(&it->mu);
    it->closed = 1;
    struct pool_chunk *c = it->head;
    it->head = it->tail = NULL;
    pthread_mutex_unlock(&it->mu);
    while (c != NULL) {
        struct pool_chunk *next = c->next;
        acx__pool_chunk_put(c);
        c = next;
    }
    acx__map_release(&it->core);
    acx__pool_unregister(it->pool, &it->own);
    acx__owner_unref(&it->own);
}
