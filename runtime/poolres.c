/* poolres.c - async results (multiprocessing.pool.AsyncResult): apply,
 * map and starmap, blocking and not.
 *
 * A result owns its result list and a future that completes last, after
 * the callback.  A map sends at most MAX_INFLIGHT chunks at a time; each
 * finished chunk, in the thread that finished it, moves its results into
 * the list and sends the next chunk.  The first error (or terminate)
 * completes the result at once; chunks still out are dropped when they
 * come back.  The COMPLETED flag makes completion happen exactly once.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "pool_internal.h"

struct acx_async_result {
    struct pool_owner own; /* first: the owner is the result */
    pthread_mutex_t mu;
    acx_pool *pool;        /* a reference */
    acx_future *f;
    int kind;
    void *fn;
    const acx_buf *in;     /* POOL_PLAIN items */
    const acx_args *args;  /* POOL_STAR items */
    acx_buf one;           /* apply's input */
    size_t n, chunksize;
    size_t sent;           /* items handed to chunks */
    size_t inflight;       /* chunks out */
    size_t max_inflight;
    acx_buf *out;          /* N results */
    int own_out;           /* OUT is ours (async) or the caller's */
    int err;               /* the first error */
    int completed;
    acx_async_opts cb;
};

static void res_chunk_done(struct pool_owner *o, struct pool_chunk *c,
                           int status);
static void res_abort(struct pool_owner *o, int err);
static void res_destroy(struct pool_owner *o);

static const struct owner_ops res_ops = {res_chunk_done, res_abort,
                                         res_destroy};

static void res_destroy(struct pool_owner *o)
{
    acx_async_result *r = (acx_async_result *)o;
    if (r->own_out) {
        for (size_t i = 0; i < r->n; i++)
            free(r->out[i].data);
        free(r->out);
    }
    acx_future_unref(r->f);
    acx__pool_unref(r->pool);
    pthread_mutex_destroy(&r->mu);
    free(r);
}

/* Deliver (once, COMPLETED just set by the caller): the callback, then
 * the future, then the pool may stop waiting for R. */
static void res_deliver(acx_async_result *r)
{
    if (r->err == 0) {
        if (r->cb.callback != NULL)
            r->cb.callback(r->out, r->n, r->cb.arg);
        acx_future_set_result(r->f, r);
    } else {
        if (r->cb.error_callback != NULL)
            r->cb.error_callback(r->err, r->cb.arg);
        acx_future_set_error(r->f, r->err);
    }
    acx__pool_unregister(r->pool, &r->own);
}

/* The next chunk's items (R's MU held): NULL when none is due. */
static struct pool_chunk *next_chunk(acx_async_result *r)
{
    if (r->completed || r->err || r->sent == r->n ||
        r->inflight >= r->max_inflight)
        return NULL;
    size_t k = r->n - r->sent < r->chunksize ? r->n - r->sent : r->chunksize;
    struct pool_chunk *c =
        acx__pool_chunk_new(r->pool, &r->own, r->kind, r->fn, k, 0);
    if (c == NULL) {
        /* Nothing out to finish the map: fail it now. */
        if (r->inflight == 0 && r->err == 0)
            r->err = -ENOMEM;
        return NULL;
    }
    c->first = r->sent;
    if (r->kind == POOL_STAR)
        c->args = r->args + r->sent;
    else
        c->in = r->in + r->sent;
    r->sent += k;
    r->inflight++;
    return c;
}

/* Send chunks while R may have more out; deliver R if it is over. */
static void res_pump(acx_async_result *r)
{
    for (;;) {
        pthread_mutex_lock(&r->mu);
        struct pool_chunk *c = next_chunk(r);
        int deliver = 0;
        if (c == NULL && !r->completed &&
            (r->err != 0 || (r->inflight == 0 && r->sent == r->n))) {
            r->completed = 1;
            deliver = 1;
        }
        pthread_mutex_unlock(&r->mu);
        if (deliver)
            res_deliver(r);
        if (c == NULL)
            return;
        acx__pool_chunk_send(c); /* may finish C here, re-entering */
    }
}

static void res_chunk_done(struct pool_owner *o, struct pool_chunk *c,
                           int status)
{
    acx_async_result *r = (acx_async_result *)o;
    pthread_mutex_lock(&r->mu);
    r->inflight--;
    if (!r->completed && r->err == 0) {
        for (size_t i = 0; i < c->n && status == 0; i++)
            if (c->err[i] < 0)
                status = c->err[i];
        if (status < 0)
            r->err = status;
        else {
            memcpy(r->out + c->first, c->out, c->n * sizeof *c->out);
            memset(c->out, 0, c->n * sizeof *c->out); /* moved */
        }
    }
    pthread_mutex_unlock(&r->mu);
    res_pump(r);
}

static void res_abort(struct pool_owner *o, int err)
{
    acx_async_result *r = (acx_async_result *)o;
    pthread_mutex_lock(&r->mu);
    int deliver = !r->completed;
    r->completed = 1;
    if (deliver)
        r->err = err;
    pthread_mutex_unlock(&r->mu);
    if (deliver)
        res_deliver(r);
}

/* ---- starting ---------------------------------------------------------------- */

static acx_async_result *res_new(acx_pool *p, int kind, void *fn,
                                 size_t n, acx_buf *out,
                                 const acx_async_opts *opts)
{
    acx_async_result *r = calloc(1, sizeof *r);
    if (r == NULL)
        return NULL;
    r->f = acx_future_new();
    r->out = out != NULL ? out : calloc(n ? n : 1, sizeof *r->out);
    if (r->f == NULL || r->out == NULL) {
        acx_future_unref(r->f);
        if (out == NULL)
            free(r->out);
        free(r);
        errno = ENOMEM;
        return NULL;
    }
    acx__owner_init(&r->own, &res_ops);
    pthread_mutex_init(&r->mu, NULL);
    acx__pool_ref(p);
    r->pool = p;
    r->own_out = out == NULL;
    r->kind = kind;
    r->fn = fn;
    r->n = n;
    r->max_inflight = 4 * (size_t)p->nworkers;
    if (opts != NULL)
        r->cb = *opts;
    return r;
}

/* Register R with its pool and send its first chunks. */
static acx_async_result *res_start(acx_async_result *r)
{
    int err = acx__pool_register(r->pool, &r->own);
    if (err < 0) {
        acx__owner_unref(&r->own);
        errno = -err;
        return NULL;
    }
    res_pump(r);
    return r;
}

static int bad_call(const acx_pool *p, const void *fn, const void *items,
                    size_t n)
{
    return p == NULL || fn == NULL || (items == NULL && n > 0);
}

static acx_async_result *map_start(acx_pool *p, int kind, void *fn,
                                   const void *items, size_t n,
                                   size_t chunksize, acx_buf *out,
                                   const acx_async_opts *opts)
{
    if (bad_call(p, fn, items, n)) {
        errno = EINVAL;
        return NULL;
    }
    acx_async_result *r = res_new(p, kind, fn, n, out, opts);
    if (r == NULL)
        return NULL;
    if (kind == POOL_STAR)
        r->args = items;
    else
        r->in = items;
    r->chunksize = chunksize ? chunksize : acx_pool_default_chunksize(p, n);
    return res_start(r);
}

acx_async_result *acx_pool_apply_async(acx_pool *p, acx_pool_fn fn,
                                       const void *in, size_t len,
                                       const acx_async_opts *opts)
{
    if (p == NULL || fn == NULL || (in == NULL && len > 0)) {
        errno = EINVAL;
        return NULL;
    }
    acx_async_result *r = res_new(p, POOL_PLAIN, (void *)fn, 1, NULL, opts);
    if (r == NULL)
        return NULL;
    r->one.data = (void *)in;
    r->one.len = len;
    r->in = &r->one;
    r->chunksize = 1;
    return res_start(r);
}

acx_async_result *acx_pool_map_async(acx_pool *p, acx_pool_fn fn,
                                     const acx_buf *items, size_t n,
                                     size_t chunksize,
                                     const acx_async_opts *opts)
{
    return map_start(p, POOL_PLAIN, (void *)fn, items, n, chunksize, NULL,
                     opts);
}

acx_async_result *acx_pool_starmap_async(acx_pool *p, acx_pool_starfn fn,
                                         const acx_args *items, size_t n,
                                         size_t chunksize,
                                         const acx_async_opts *opts)
{
    return map_start(p, POOL_STAR, (void *)fn, items, n, chunksize, NULL,
                     opts);
}

/* ---- the blocking calls ---------------------------------------------------- */

/* Wait for R (a map into the caller's OUT) and release it; on an error
 * OUT is emptied. */
static int map_finish(acx_async_result *r, acx_buf *out, size_t n)
{
    if (r == NULL)
        return -errno;
    int err = acx_future_wait(r->f, -1);
    acx_async_result_free(r);
    if (err < 0)
        for (size_t i = 0; i < n; i++) {
            free(out[i].data);
            out[i].data = NULL;
            out[i].len = 0;
        }
    return err;
}

static int map_blocking(acx_pool *p, int kind, void *fn, const void *items,
                        size_t n, size_t chunksize, acx_buf *out)
{
    if (out == NULL && n > 0)
        return -EINVAL;
    if (p != NULL && p->be->in_worker(p))
        return -EDEADLK; /* it could wait for its own worker */
    for (size_t i = 0; i < n; i++)
        out[i] = (acx_buf){0};
    return map_finish(map_start(p, kind, fn, items, n, chunksize,
                                n ? out : NULL, NULL),
                      out, n);
}

int acx_pool_map(acx_pool *p, acx_pool_fn fn, const acx_buf *items,
                 size_t n, size_t chunksize, acx_buf *out)
{
    return map_blocking(p, POOL_PLAIN, (void *)fn, items, n, chunksize, out);
}

int acx_pool_starmap(acx_pool *p, acx_pool_starfn fn, const acx_args *items,
                     size_t n, size_t chunksize, acx_buf *out)
{
    return map_blocking(p, POOL_STAR, (void *)fn, items, n, chunksize, out);
}

int acx_pool_apply(acx_pool *p, acx_pool_fn fn, const void *in, size_t len,
                   acx_buf *out)
{
    if (out == NULL)
        return -EINVAL;
    *out = (acx_buf){0};
    if (p != NULL && p->be->in_worker(p))
        return -EDEADLK;
    acx_async_result *r = acx_pool_apply_async(p, fn, in, len, NULL);
    if (r == NULL)
        return -errno;
    int err = acx_future_wait(r->f, -1);
    if (err == 0) {
        *out = r->out[0];
        r->out[0] = (acx_buf){0};
    }
    acx_async_result_free(r);
    return err;
}

/* ---- AsyncResult ------------------------------------------------------------- */

int acx_async_result_get(acx_async_result *r, int64_t timeout_ms,
                         acx_buf **results, size_t *n)
{
    if (r == NULL)
        return -EINVAL;
    int err = acx_future_wait(r->f, timeout_ms);
    if (err == -ETIMEDOUT && !acx_future_done(r->f))
        return -ETIMEDOUT;
    err = acx_future_status(r->f);
    if (results != NULL)
        *results = err == 0 ? r->out : NULL;
    if (n != NULL)
        *n = err == 0 ? r->n : 0;
    return err;
}

int acx_async_result_wait(acx_async_result *r, int64_t timeout_ms)
{
    if (r == NULL)
        return -EINVAL;
    acx_future_wait(r->f, timeout_ms);
    return acx_future_done(r->f) ? 0 : -ETIMEDOUT;
}

int acx_async_result_ready(const acx_async_result *r)
{
    return r != NULL && acx_future_done(r->f);
}

int acx_async_result_successful(const acx_async_result *r)
{
    if (r == NULL)
        return -EINVAL;
    if (!acx_future_done(r->f))
        return -EAGAIN;
    return acx_future_status(r->f) == 0;
}

acx_future *acx_async_result_future(acx_async_result *r)
{
    return r == NULL ? NULL : r->f;
}

void acx_async_result_free(acx_async_result *r)
{
    if (r != NULL)
        acx__owner_unref(&r->own);
}
