/* procmap.c - Executor.map on the process pool: ordered results, chunks,
 * a deadline and a bound on how far the sent work runs ahead.
 *
 * The consumer's thread does everything: it reads the input, packs up to
 * CHUNKSIZE items into one request (a u64 count, then each item's u32
 * length and bytes), keeps at most MAX_CHUNKS of them submitted and not
 * fully consumed, and waits for the oldest.  The worker answers with all
 * the chunk's results in one reply, which next walks item by item.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "acx_internal.h"
#include "procwire.h"

struct acx_procpool_map {
    acx_procpool *p;
    acx_proc_fn fn;
    acx_procpool_source next;
    void *src;
    const acx_bytes *arr;
    size_t arr_n, arr_i;
    size_t chunksize, max_chunks;
    int64_t deadline_ns; /* -1: none */
    struct mchunk {
        acx_future *f;
        size_t n;        /* items in it */
    } *ring;             /* submitted chunks, oldest first */
    size_t cap, head, count;
    size_t pos;          /* items of the oldest chunk returned */
    size_t at;           /* where its next item's result starts */
    int consumed;        /* the oldest chunk is used up: dropped at the
                          * next call (its last result is still read) */
    int status;          /* the oldest chunk's, once it is done */
    const char *res;     /* and its reply */
    size_t res_len;
    int src_end, pending_err;
    size_t req_hint;     /* the last request's size */
};

static int64_t mono_ns(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (int64_t)t.tv_sec * 1000000000 + t.tv_nsec;
}

static acx_procpool_map *map_alloc(acx_procpool *p, acx_proc_fn fn,
                                   const acx_procpool_map_opts *o)
{
    if (p == NULL || fn == NULL) {
        errno = EINVAL;
        return NULL;
    }
    acx_procpool_map *m = calloc(1, sizeof *m);
    if (m == NULL)
        return NULL;
    m->p = p;
    m->fn = fn;
    m->chunksize = o && o->chunksize ? o->chunksize : 1;
    size_t buf = o ? o->buffersize : 0;
    if (buf == SIZE_MAX)
        m->max_chunks = SIZE_MAX;
    else if (buf == 0)
        m->max_chunks = 4 * (size_t)acx_procpool_max_workers(p);
    else
        m->max_chunks = (buf + m->chunksize - 1) / m->chunksize;
    m->deadline_ns = o && o->timeout_ms >= 0
                         ? mono_ns() + o->timeout_ms * 1000000
                         : -1;
    return m;
}

acx_procpool_map *acx_procpool_map_new(acx_procpool *p, acx_proc_fn fn,
                                       acx_procpool_source next, void *src,
                                       const acx_procpool_map_opts *opts)
{
    if (next == NULL) {
        errno = EINVAL;
        return NULL;
    }
    acx_procpool_map *m = map_alloc(p, fn, opts);
    if (m != NULL) {
        m->next = next;
        m->src = src;
    }
    return m;
}

acx_procpool_map *acx_procpool_map_array(acx_procpool *p, acx_proc_fn fn,
                                         const acx_bytes *items, size_t n,
                                         const acx_procpool_map_opts *opts)
{
    if (items == NULL && n > 0) {
        errno = EINVAL;
        return NULL;
    }
    acx_procpool_map *m = map_alloc(p, fn, opts);
    if (m != NULL) {
        m->arr = items;
        m->arr_n = n;
    }
    return m;
}

static int source_take(acx_procpool_map *m, acx_bytes *item)
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

/* Pack up to a chunk of input into a request and submit it: its future,
 * or NULL at the end of the input or on an error (recorded). */
static acx_future *chunk_send(acx_procpool_map *m, size_t *nitems)
{
    acx_buf b = {0};
    uint64_t count = 0;
    /* sized like the last request: no realloc chain per chunk */
    size_t want = sizeof(struct acx__pw_req) + sizeof count;
    if (acx_buf_reserve(&b, m->req_hint > want ? m->req_hint : want) ==
        NULL) {
        m->pending_err = -ENOMEM;
        return NULL;
    }
    b.len = sizeof(struct acx__pw_req) + sizeof count;
    while (count < m->chunksize) {
        acx_bytes it;
        int r = source_take(m, &it);
        if (r <= 0) {
            m->src_end = 1;
            if (r < 0)
                m->pending_err = r;
            break;
        }
        if (it.len > UINT32_MAX) { /* a map item's limit */
            m->src_end = 1;
            m->pending_err = -EFBIG;
            break;
        }
        uint32_t len = (uint32_t)it.len;
        char *at = b.len + sizeof len + it.len < b.cap
                       ? (char *)b.data + b.len
                       : acx_buf_reserve(&b, sizeof len + it.len);
        if (at == NULL) {
            m->pending_err = -ENOMEM;
            break;
        }
        memcpy(at, &len, sizeof len);
        if (it.len > 0)
            memcpy(at + sizeof len, it.data, it.len);
        b.len += sizeof len + it.len;
        count++;
    }
    if (count == 0) { /* what was packed before an error still goes */
        acx_buf_free(&b);
        return NULL;
    }
    memcpy((char *)b.data + sizeof(struct acx__pw_req), &count,
           sizeof count);
    m->req_hint = b.len;
    *nitems = count;
    acx_future *f = acx__procpool_submit_msg(
        m->p, ACX__PW_CHUNK, m->fn, b.data,
        b.len - sizeof(struct acx__pw_req));
    if (f == NULL)
        m->pending_err = errno == ESHUTDOWN ? -ESHUTDOWN : -errno;
    return f;
}

static int ring_push(acx_procpool_map *m, acx_future *f, size_t n)
{
    if (m->count == m->cap) {
        size_t cap = m->cap ? m->cap * 2 : 8;
        struct mchunk *r = malloc(cap * sizeof *r);
        if (r == NULL)
            return -ENOMEM;
        for (size_t i = 0; i < m->count; i++)
            r[i] = m->ring[(m->head + i) % m->cap];
        free(m->ring);
        m->ring = r;
        m->cap = cap;
        m->head = 0;
    }
    m->ring[(m->head + m->count++) % m->cap] = (struct mchunk){f, n};
    return 0;
}

static void refill(acx_procpool_map *m)
{
    while (m->count < m->max_chunks && !m->src_end && !m->pending_err) {
        size_t n = 0;
        acx_future *f = chunk_send(m, &n);
        if (f == NULL)
            return;
        if (ring_push(m, f, n) < 0) {
            acx_future_cancel(f);
            acx_future_unref(f);
            m->pending_err = -ENOMEM;
            return;
        }
    }
}

static void chunk_drop(acx_procpool_map *m)
{
    acx_future *f = m->ring[m->head].f;
    m->head = (m->head + 1) % m->cap;
    m->count--;
    m->pos = 0;
    m->at = 0;
    acx_future_cancel(f); /* not sent yet: it never will be */
    acx_future_unref(f);
}

static int64_t remaining_ms(const acx_procpool_map *m)
{
    if (m->deadline_ns < 0)
        return -1;
    int64_t left = m->deadline_ns - mono_ns();
    return left <= 0 ? 0 : (left + 999999) / 1000000;
}

/* The oldest chunk's next item from its reply R (N bytes): its error,
 * *DATA and *LEN.  A reply that does not hold a result for each item
 * sent is -EPROTO for every item from there on. */
static int chunk_item(acx_procpool_map *m, const char *r, size_t n,
                      const void **data, size_t *len)
{
    if (m->at == 0 &&
        acx__pw_result_begin(r, n, m->ring[m->head].n, &m->at) < 0)
        return -EPROTO;
    const char *d;
    uint32_t l;
    int err;
    if (acx__pw_result_item(r, n, &m->at, &err, &d, &l) < 0)
        return -EPROTO;
    *data = d;
    *len = l;
    return err;
}

int acx_procpool_map_next(acx_procpool_map *m, const void **data,
                          size_t *len)
{
    if (m == NULL)
        return -EINVAL;
    if (m->consumed) {
        m->consumed = 0;
        chunk_drop(m);
    }
    refill(m);
    if (m->count == 0) {
        int err = m->pending_err;
        m->pending_err = 0;
        if (err) {
            m->src_end = 1;
            return err;
        }
        return -ENODATA;
    }
    struct mchunk *c = &m->ring[m->head];
    if (m->pos == 0) { /* a new chunk: wait for it once */
        int st = acx_future_wait(c->f, remaining_ms(m));
        if (st == -ETIMEDOUT && !acx_future_done(c->f))
            return -ETIMEDOUT;
        const void *r = NULL;
        m->res_len = 0;
        if (st == 0)
            st = acx_procpool_result(c->f, &r, &m->res_len);
        m->status = st;
        m->res = r;
    }
    const void *d = NULL;
    size_t l = 0;
    int err = m->status; /* the whole chunk failed (a crash, a cancel):
                          * each item reports it */
    if (err == 0)
        err = chunk_item(m, m->res, m->res_len, &d, &l);
    if (data != NULL)
        *data = err == 0 ? d : NULL;
    if (len != NULL)
        *len = err == 0 ? l : 0;
    if (++m->pos == c->n)
        m->consumed = 1;
    return err;
}

void acx_procpool_map_free(acx_procpool_map *m)
{
    if (m == NULL)
        return;
    while (m->count > 0)
        chunk_drop(m);
    free(m->ring);
    free(m);
}
