/* poolimap.c - imap and imap_unordered: lazy, bounded iteration.
 *
 * The consumer's thread reads the input and sends chunks, keeping at most
 * MAX_CHUNKS of them taken and not fully consumed: a slow consumer stops
 * the input from being read, so memory stays bounded whatever its size.
 * Ordered: every chunk out sits in a list in input order and the
 * consumer waits for the oldest.  Unordered: a finished chunk joins a
 * FIFO of ready chunks, in completion order.  Finishing threads touch
 * only the chunk's DONE flag or the FIFO, under the iterator's lock.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "pool_internal.h"

struct acx_pool_iter {
    struct pool_owner own; /* first */
    pthread_mutex_t mu;
    pthread_cond_t cv;     /* a chunk finished, or terminate */
    acx_pool *pool;        /* a reference */
    acx_pool_fn fn;
    const acx_buf *items;  /* an array input ... */
    size_t n;
    acx_pool_source source; /* ... or a source */
    void *src;
    size_t chunksize, max_chunks;
    int unordered;
    size_t taken;          /* items read so far: the next one's index */
    struct pool_chunk *head, *tail; /* out (ordered) or ready (unordered) */
    size_t window;         /* chunks taken and not fully consumed */
    size_t pos;            /* next item of HEAD */
    int src_end, src_err;  /* the input ended; its error, to report */
    int aborted, abort_told; /* terminate's error; told to the consumer */
    int closed;            /* freed: finishing chunks are not kept */
    int ended;             /* -ENODATA returned: no longer registered */
};

/* Append C to IT's list (under IT's lock), which holds a reference. */
static void list_append(acx_pool_iter *it, struct pool_chunk *c)
{
    atomic_fetch_add(&c->refs, 1);
    c->next = NULL;
    if (it->tail)
        it->tail->next = c;
    else
        it->head = c;
    it->tail = c;
}

static void it_chunk_done(struct pool_owner *o, struct pool_chunk *c,
                          int status)
{
    acx_pool_iter *it = (acx_pool_iter *)o;
    pthread_mutex_lock(&it->mu);
    c->status = status;
    if (!it->unordered)
        c->done = 1;
    else if (!it->closed)
        list_append(it, c); /* unordered: the completion FIFO */
    pthread_cond_broadcast(&it->cv);
    pthread_mutex_unlock(&it->mu);
}

static void it_abort(struct pool_owner *o, int err)
{
    acx_pool_iter *it = (acx_pool_iter *)o;
    pthread_mutex_lock(&it->mu);
    __atomic_store_n(&it->aborted, err, __ATOMIC_RELEASE); /* refill's */
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

/* ---- reading the input and sending chunks (the consumer's thread) --------- */

static int take_item(acx_pool_iter *it, acx_buf *item)
{
    if (it->source == NULL) {
        if (it->taken == it->n)
            return 0;
        *item = it->items[it->taken];
        return 1;
    }
    int r = it->source(it->src, item);
    return r > 0 ? 1 : r;
}

/* Up to a chunk of input, or NULL (the end, or an error, recorded). */
static struct pool_chunk *fill(acx_pool_iter *it)
{
    size_t k = it->chunksize;
    if (it->source == NULL && it->n - it->taken < k)
        k = it->n - it->taken;
    if (k == 0) {
        it->src_end = 1;
        return NULL;
    }
    struct pool_chunk *c = acx__pool_chunk_new(
        it->pool, &it->own, POOL_PLAIN, (void *)it->fn, k, 1);
    if (c == NULL) {
        it->src_err = -ENOMEM;
        it->src_end = 1;
        return NULL;
    }
    c->first = it->taken;
    size_t got = 0;
    while (got < k) {
        int r = take_item(it, &c->store_in[got]);
        if (r <= 0) {
            it->src_end = 1;
            it->src_err = r;
            break;
        }
        got++;
        it->taken++;
    }
    if (it->source == NULL && it->taken == it->n)
        it->src_end = 1;
    if (got == 0) {
        acx__pool_chunk_put(c);
        return NULL;
    }
    c->n = got;
    return c;
}

static void refill(acx_pool_iter *it)
{
    while (it->window < it->max_chunks && !it->src_end &&
           !__atomic_load_n(&it->aborted, __ATOMIC_ACQUIRE)) {
        struct pool_chunk *c = fill(it);
        if (c == NULL)
            return;
        pthread_mutex_lock(&it->mu);
        it->window++;
        if (!it->unordered)
            list_append(it, c); /* ordered: the list in input order */
        pthread_mutex_unlock(&it->mu);
        acx__pool_chunk_send(c);
    }
}

/* ---- creating ---------------------------------------------------------------- */

static acx_pool_iter *it_new(acx_pool *p, acx_pool_fn fn,
                             const acx_imap_opts *o)
{
    if (p == NULL || fn == NULL) {
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
    it->chunksize = o && o->chunksize ? o->chunksize : 1;
    size_t buf = o && o->buffersize ? o->buffersize : 0;
    it->max_chunks = buf ? (buf + it->chunksize - 1) / it->chunksize
                         : 4 * (size_t)p->nworkers;
    it->unordered = o && o->unordered;
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
    refill(it); /* the work starts now, as Python's */
    return it;
}

static acx_pool_iter *imap_array(acx_pool *p, acx_pool_fn fn,
                                 const acx_buf *items, size_t n,
                                 size_t chunksize, int unordered)
{
    if (items == NULL && n > 0) {
        errno = EINVAL;
        return NULL;
    }
    acx_imap_opts o = {.chunksize = chunksize, .unordered = unordered};
    acx_pool_iter *it = it_new(p, fn, &o);
    if (it == NULL)
        return NULL;
    it->items = items;
    it->n = n;
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
    if (source == NULL) {
        errno = EINVAL;
        return NULL;
    }
    acx_pool_iter *it = it_new(p, fn, opts);
    if (it == NULL)
        return NULL;
    it->source = source;
    it->src = src;
    return it_start(it);
}

/* ---- next ---------------------------------------------------------------------- */

/* A result can be taken now (MU held). */
static int head_ready(const acx_pool_iter *it)
{
    return it->head != NULL && (it->unordered || it->head->done);
}

/* Wait for HEAD_READY, the end, or terminate (MU held): 0 or -ETIMEDOUT. */
static int wait_head(acx_pool_iter *it, int64_t timeout_ms)
{
    struct timespec until;
    if (timeout_ms >= 0) {
        clock_gettime(CLOCK_MONOTONIC, &until);
        until.tv_sec += timeout_ms / 1000;
        until.tv_nsec += (timeout_ms % 1000) * 1000000;
        if (until.tv_nsec >= 1000000000) {
            until.tv_sec++;
            until.tv_nsec -= 1000000000;
        }
    }
    while (!head_ready(it) && !it->aborted && it->window > 0) {
        if (timeout_ms < 0)
            pthread_cond_wait(&it->cv, &it->mu);
        else if (pthread_cond_timedwait(&it->cv, &it->mu, &until) ==
                     ETIMEDOUT &&
                 !head_ready(it) && !it->aborted)
            return -ETIMEDOUT;
    }
    return 0;
}

/* Hand out HEAD's next item (MU held); a chunk consumed is dropped. */
static int take_result(acx_pool_iter *it, acx_buf *out, size_t *index)
{
    struct pool_chunk *c = it->head;
    size_t i = it->pos;
    int err = c->status < 0 ? c->status : c->err[i];
    if (index != NULL)
        *index = c->first + i;
    if (out != NULL) {
        *out = c->out[i];
        c->out[i] = (acx_buf){0};
    }
    if (++it->pos == c->n) {
        it->head = c->next;
        if (it->head == NULL)
            it->tail = NULL;
        it->pos = 0;
        it->window--;
        pthread_mutex_unlock(&it->mu);
        acx__pool_chunk_put(c); /* frees results not handed out */
        pthread_mutex_lock(&it->mu);
    }
    return err;
}

/* Nothing more to hand out (MU held). */
static int at_end(acx_pool_iter *it)
{
    if (it->aborted) {
        if (it->abort_told)
            return -ENODATA;
        it->abort_told = 1;
        return it->aborted;
    }
    if (it->src_err < 0) {
        int err = it->src_err;
        it->src_err = 0;
        return err;
    }
    return -ENODATA;
}

int acx_pool_iter_next(acx_pool_iter *it, int64_t timeout_ms, acx_buf *out,
                       size_t *index)
{
    if (out != NULL)
        *out = (acx_buf){0};
    if (it == NULL)
        return -EINVAL;
    if (it->ended)
        return -ENODATA;
    refill(it);
    pthread_mutex_lock(&it->mu);
    int err = wait_head(it, timeout_ms);
    if (err == 0) {
        if (!it->aborted && head_ready(it))
            err = take_result(it, out, index);
        else
            err = at_end(it);
    }
    pthread_mutex_unlock(&it->mu);
    if (err == -ENODATA && !it->ended) {
        it->ended = 1;
        acx__pool_unregister(it->pool, &it->own);
    } else if (err != -ETIMEDOUT) {
        refill(it); /* keep the workers busy while the caller works */
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
    acx__pool_unregister(it->pool, &it->own);
    acx__owner_unref(&it->own);
}
