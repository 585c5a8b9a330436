/* execmap.c - Executor.map: ordered results, chunks, a deadline and a
 * bound on how far the submitted work runs ahead of the consumer.
 *
 * The consumer's thread does everything here: it reads the input, packs
 * items into chunks (one task each), keeps at most MAX_CHUNKS of them
 * submitted and not fully consumed, and waits for the oldest one.  A
 * chunk carries its own results, so a map freed while a chunk runs only
 * has to let the chunk free itself when its work ends (a done callback).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <time.h>

#include "acx_internal.h"

struct item {
    void *arg;
    void *res;
    int err;
};

struct chunk {
    acx_future *f;
    acx_work_fn fn;
    size_t n;
    struct item it[];
};

struct acx_executor_map {
    acx_executor *ex;
    acx_work_fn fn;
    acx_map_source next;
    void *src;
    void *const *arr; /* acx_executor_map_array's input */
    size_t arr_n, arr_i;
    size_t chunksize, max_chunks;
    int64_t deadline_ns; /* -1: none */
    struct chunk **ring; /* submitted chunks, oldest first */
    size_t cap, head, count; /* COUNT includes the one being consumed */
    size_t pos;          /* next item of the oldest chunk */
    int src_end;         /* the input is exhausted */
    int pending_err;     /* the input or a submit failed: next reports it */
};

static int64_t mono_ns(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (int64_t)t.tv_sec * 1000000000 + t.tv_nsec;
}

/* The work of one chunk, on a worker.  The stop flag (a cancel that came
 * too late) ends it between items. */
static void *chunk_run(void *arg, int *err)
{
    struct chunk *c = arg;
    acx_future *self = acx_executor_current();
    (void)err;
    for (size_t i = 0; i < c->n; i++) {
        if (acx_future_stop_requested(self)) {
            c->it[i].err = -ECANCELED;
            continue;
        }
        c->it[i].err = 0;
        c->it[i].res = c->fn(c->it[i].arg, &c->it[i].err);
        if (c->it[i].err > 0)
            c->it[i].err = 0; /* only a negative errno is an error */
    }
    return c;
}

static void chunk_free_cb(acx_future *f, void *arg)
{
    (void)f;
    free(arg);
}

static acx_executor_map *map_alloc(acx_executor *ex, acx_work_fn fn,
                                   const acx_map_opts *o)
{
    if (ex == NULL || fn == NULL) {
        errno = EINVAL;
        return NULL;
    }
    acx_executor_map *m = calloc(1, sizeof *m);
    if (m == NULL)
        return NULL;
    m->ex = ex;
    m->fn = fn;
    m->chunksize = o && o->chunksize ? o->chunksize : 1;
    size_t workers = (size_t)acx_executor_max_workers(ex);
    size_t buf = o && o->buffersize ? o->buffersize : 0;
    if (buf == SIZE_MAX)
        m->max_chunks = SIZE_MAX;
    else if (buf == 0)
        m->max_chunks = 4 * workers;
    else
        m->max_chunks = (buf + m->chunksize - 1) / m->chunksize;
    m->deadline_ns = o && o->timeout_ms >= 0
                         ? mono_ns() + o->timeout_ms * 1000000
                         : -1;
    return m;
}

acx_executor_map *acx_executor_map_new(acx_executor *ex, acx_work_fn fn,
                                       acx_map_source next, void *src,
                                       const acx_map_opts *opts)
{
    if (next == NULL) {
        errno = EINVAL;
        return NULL;
    }
    acx_executor_map *m = map_alloc(ex, fn, opts);
    if (m != NULL) {
        m->next = next;
        m->src = src;
    }
    return m;
}

acx_executor_map *acx_executor_map_array(acx_executor *ex, acx_work_fn fn,
                                         void *const *items, size_t n,
                                         const acx_map_opts *opts)
{
    if (items == NULL && n > 0) {
        errno = EINVAL;
        return NULL;
    }
    acx_executor_map *m = map_alloc(ex, fn, opts);
    if (m != NULL) {
        m->arr = items;
        m->arr_n = n;
    }
    return m;
}

/* One input item: 1, 0 at the end, or the input's error. */
static int source_take(acx_executor_map *m, void **item)
{
    if (m->next == NULL) {
        if (m->arr_i == m->arr_n)
            return 0;
        *item = m->arr[m->arr_i++];
        return 1;
    }
    int r = m->next(m->src, item);
    return r > 0 ? 1 : r;
}

/* Read up to a chunk of input: NULL at its end or on an error (recorded). */
static struct chunk *chunk_fill(acx_executor_map *m)
{
    struct chunk *c = malloc(sizeof *c + m->chunksize * sizeof c->it[0]);
    if (c == NULL) {
        m->pending_err = -ENOMEM;
        return NULL;
    }
    c->fn = m->fn;
    c->n = 0;
    while (c->n < m->chunksize) {
        int r = source_take(m, &c->it[c->n].arg);
        if (r <= 0) {
            m->src_end = 1;
            if (r < 0)
                m->pending_err = r;
            break;
        }
        c->n++;
    }
    if (c->n == 0) {
        free(c);
        return NULL;
    }
    return c;
}

static int ring_push(acx_executor_map *m, struct chunk *c)
{
    if (m->count == m->cap) {
        size_t cap = m->cap ? m->cap * 2 : 8;
        struct chunk **r = malloc(cap * sizeof *r);
        if (r == NULL)
            return -ENOMEM;
        for (size_t i = 0; i < m->count; i++)
            r[i] = m->ring[(m->head + i) % m->cap];
        free(m->ring);
        m->ring = r;
        m->cap = cap;
        m->head = 0;
    }
    m->ring[(m->head + m->count++) % m->cap] = c;
    return 0;
}

/* Submit chunks until MAX_CHUNKS are out or the input ends. */
static void refill(acx_executor_map *m)
{
    while (m->count < m->max_chunks && !m->src_end && !m->pending_err) {
        struct chunk *c = chunk_fill(m);
        if (c == NULL)
            return;
        int err = ring_push(m, c);
        if (err == 0) {
            c->f = acx_executor_submit(m->ex, chunk_run, c);
            if (c->f == NULL) {
                err = -errno;
                m->count--;
            }
        }
        if (err < 0) {
            free(c);
            m->pending_err = err;
            return;
        }
    }
}

/* Drop the oldest chunk: consumed, or given up by map_free. */
static void chunk_drop(acx_executor_map *m)
{
    struct chunk *c = m->ring[m->head];
    m->head = (m->head + 1) % m->cap;
    m->count--;
    m->pos = 0;
    acx_future *f = c->f;
    acx_future_cancel(f); /* not started: it never will; running: stop */
    /* A chunk whose work still runs is freed when the work ends. */
    if (acx_future_add_done_callback(f, chunk_free_cb, c) < 0) {
        acx_future_wait(f, -1);
        free(c);
    }
    acx_future_unref(f);
}

static int64_t remaining_ms(const acx_executor_map *m)
{
    if (m->deadline_ns < 0)
        return -1;
    int64_t left = m->deadline_ns - mono_ns();
    return left <= 0 ? 0 : (left + 999999) / 1000000;
}

int acx_executor_map_next(acx_executor_map *m, void **result)
{
    if (m == NULL)
        return -EINVAL;
    refill(m);
    if (m->count == 0) {
        int err = m->pending_err;
        m->pending_err = err ? 0 : 0;
        if (err) {
            m->src_end = 1; /* an error ends the input */
            return err;
        }
        return -ENODATA;
    }
    struct chunk *c = m->ring[m->head];
    int st = acx_future_wait(c->f, remaining_ms(m));
    if (st == -ETIMEDOUT && !acx_future_done(c->f))
        return -ETIMEDOUT;
    struct item *it = &c->it[m->pos];
    int err = st < 0 ? st : it->err; /* a chunk cancelled before it ran */
    if (result != NULL)
        *result = err == 0 ? it->res : NULL;
    if (++m->pos == c->n) {
        chunk_drop(m);
        refill(m);
    }
    return err;
}

void acx_executor_map_free(acx_executor_map *m)
{
    if (m == NULL)
        return;
    while (m->count > 0)
        chunk_drop(m);
    free(m->ring);
    free(m);
}
