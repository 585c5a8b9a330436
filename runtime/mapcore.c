/* mapcore.c - the map machinery every map shares: lazy input, chunks, the
 * bound on work ahead of the consumer, ordered or unordered results, the
 * deadline, errors told where they happened (see mapcore.h).
 *
 * An ordered map keeps its submitted chunks in a ring, oldest first, and
 * waits for the oldest; an unordered one only counts them and takes
 * whichever the backend says finished.  The chunk being handed out sits
 * apart (CUR); once used up it is dropped and the next one submitted
 * before the caller gets its last result, so the workers keep busy while
 * the caller works.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "acx_internal.h"
#include "mapcore.h"

void acx__map_init(struct acx__map *m, const struct acx__map_ops *ops,
                   size_t chunksize, size_t buffersize, size_t workers,
                   int64_t timeout_ms, int unordered)
{
    memset(m, 0, sizeof *m);
    m->ops = ops;
    m->unordered = unordered;
    m->chunksize = chunksize ? chunksize : 1;
    if (buffersize == SIZE_MAX)
        m->max_chunks = SIZE_MAX;
    else if (buffersize == 0)
        m->max_chunks = workers ? 4 * workers : 4;
    else /* whole chunks, rounded up (no overflow near SIZE_MAX) */
        m->max_chunks = buffersize / m->chunksize +
                        (buffersize % m->chunksize != 0);
    m->deadline_ns = timeout_ms >= 0 ? acx__deadline_after_ms(timeout_ms)
                                     : -1; /* saturates: no overflow */
}

void acx__map_array(struct acx__map *m, const void *items, size_t n)
{
    m->arr = items;
    m->arr_n = n;
    m->from_array = 1;
    m->src_end = n == 0;
}

void acx__map_fail(struct acx__map *m, int err)
{
    __atomic_store_n(&m->failed, err, __ATOMIC_RELEASE);
}

int acx__map_failed(const struct acx__map *m)
{
    return __atomic_load_n(&m->failed, __ATOMIC_ACQUIRE);
}

/* ---- reading the input ------------------------------------------------------ */

/* The input ends here; ERR (< 0) is told once the chunks before it are. */
static void src_stop(struct acx__map *m, int err)
{
    m->src_end = 1;
    if (err < 0)
        m->pending_err = err;
}

/* Item K of the chunk being filled was read: the backend's add. */
static int add_item(struct acx__map *m, const void *item, size_t k)
{
    int err = m->ops->add != NULL ? m->ops->add(m, item, k) : 0;
    if (err < 0)
        src_stop(m, err);
    return err;
}

/* Up to a chunk of an array input: its first item in place, no copy. */
static size_t fill_array(struct acx__map *m, const void **items)
{
    size_t isz = m->ops->item_size;
    size_t n = m->arr_n - m->taken;
    if (n > m->chunksize)
        n = m->chunksize;
    *items = m->arr + m->taken * isz;
    for (size_t k = 0; m->ops->add != NULL && k < n; k++)
        if (add_item(m, m->arr + (m->taken + k) * isz, k) < 0)
            n = k;
    m->taken += n;
    if (m->taken == m->arr_n)
        m->src_end = 1;
    return n;
}

/* Room for one more source item in SCRATCH: grown as items come, so a
 * huge chunksize over a short input costs nothing. */
static int scratch_room(struct acx__map *m, size_t n)
{
    if (n < m->scratch_cap)
        return 0;
    size_t isz = m->ops->item_size;
    size_t cap = m->scratch_cap ? 2 * m->scratch_cap : 16;
    if (cap > m->chunksize)
        cap = m->chunksize;
    if (cap > SIZE_MAX / isz)
        return -ENOMEM;
    char *s = realloc(m->scratch, cap * isz);
    if (s == NULL)
        return -ENOMEM;
    m->scratch = s;
    m->scratch_cap = cap;
    return 0;
}

/* Up to a chunk of a source input, read into SCRATCH. */
static size_t fill_source(struct acx__map *m, const void **items)
{
    const struct acx__map_ops *o = m->ops;
    size_t n = 0;
    while (n < m->chunksize) {
        if (scratch_room(m, n) < 0) {
            m->pending_err = -ENOMEM; /* what was read still goes */
            break;
        }
        void *slot = m->scratch + n * o->item_size;
        int r = o->source(m, slot);
        if (r <= 0) {
            src_stop(m, r);
            break;
        }
        if (add_item(m, slot, n) < 0)
            break;
        n++;
    }
    m->taken += n;
    *items = m->scratch;
    return n;
}

/* ---- submitting -------------------------------------------------------------- */

/* Room in the ring for one more chunk.  Its size is a power of two: an
 * index wraps with a mask. */
static int ring_room(struct acx__map *m)
{
    if (m->count < m->cap)
        return 0;
    size_t cap = m->cap ? 2 * m->cap : 8;
    struct acx__map_chunk *r = malloc(cap * sizeof *r);
    if (r == NULL)
        return -ENOMEM;
    for (size_t i = 0; i < m->count; i++)
        r[i] = m->ring[(m->head + i) & (m->cap - 1)];
    free(m->ring);
    m->ring = r;
    m->cap = cap;
    m->head = 0;
    return 0;
}

void acx__map_refill(struct acx__map *m)
{
    while (m->window < m->max_chunks && !m->src_end && !m->pending_err &&
           !acx__map_failed(m)) {
        if (!m->unordered && ring_room(m) < 0) {
            m->pending_err = -ENOMEM;
            return;
        }
        size_t first = m->taken;
        const void *items;
        size_t n = m->from_array ? fill_array(m, &items)
                                 : fill_source(m, &items);
        if (n == 0)
            return;
        int err = 0;
        void *h = m->ops->submit(m, items, n, first, &err);
        if (h == NULL) {
            m->pending_err = err < 0 ? err : -ENOMEM;
            return;
        }
        m->window++;
        if (!m->unordered)
            m->ring[(m->head + m->count++) & (m->cap - 1)] =
                (struct acx__map_chunk){h, n, 0};
    }
}

/* ---- handing results out -------------------------------------------------------- */

/* TIMEOUT_MS cut to what is left before the deadline. */
static int64_t wait_ms(const struct acx__map *m, int64_t timeout_ms)
{
    if (m->deadline_ns < 0)
        return timeout_ms;
    int64_t left = m->deadline_ns - acx__now_ns();
    left = left <= 0 ? 0 : left / 1000000 + (left % 1000000 != 0);
    return timeout_ms >= 0 && timeout_ms < left ? timeout_ms : left;
}

/* Wait for the next chunk to hand out and make it CUR: 0, or why not. */
static int take_chunk(struct acx__map *m, int64_t timeout_ms)
{
    struct acx__map_chunk c = {0};
    if (!m->unordered)
        c = m->ring[m->head];
    int err = m->ops->wait(m, &c, wait_ms(m, timeout_ms));
    if (err < 0)
        return err;
    if (!m->unordered) {
        m->head = (m->head + 1) & (m->cap - 1);
        m->count--;
    }
    m->cur = c;
    m->have_cur = 1;
    m->pos = 0;
    return 0;
}

/* Nothing more to hand out: the failure or the input's error once each,
 * then -ENODATA. */
static int at_end(struct acx__map *m)
{
    int err = acx__map_failed(m);
    if (err) {
        if (m->fail_told)
            return -ENODATA;
        m->fail_told = 1;
        return err;
    }
    err = m->pending_err;
    if (err) {
        m->pending_err = 0;
        m->src_end = 1; /* an error ends the input */
        return err;
    }
    return -ENODATA;
}

int acx__map_next(struct acx__map *m, int64_t timeout_ms, void *out)
{
    acx__map_refill(m);
    if (!m->have_cur && m->window > 0 && !acx__map_failed(m)) {
        int err = take_chunk(m, timeout_ms);
        if (err < 0 && !acx__map_failed(m))
            return err;
    }
    if (!m->have_cur || acx__map_failed(m))
        return at_end(m); /* a failure hands out nothing more */
    int err = m->ops->result(m, &m->cur, m->pos, out);
    if (++m->pos == m->cur.n) {
        m->ops->drop(m, m->cur.h);
        m->have_cur = 0;
        m->window--;
        acx__map_refill(m); /* the workers go on while the caller works */
    }
    return err;
}

void acx__map_release(struct acx__map *m)
{
    if (m->have_cur) {
        m->have_cur = 0;
        m->ops->drop(m, m->cur.h);
    }
    for (; m->count > 0; m->count--) {
        m->ops->drop(m, m->ring[m->head].h);
        m->head = (m->head + 1) & (m->cap - 1);
    }
    free(m->ring);
    free(m->scratch);
    m->ring = NULL;
    m->scratch = NULL;
}
