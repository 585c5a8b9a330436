/* store.c - the item store of the async and the blocking queues: a ring
 * (FIFO), a stack (LIFO) or a binary min-heap keyed by (priority, arrival)
 * (PRIORITY).  Capacity is a power of two, doubled when full, so ring
 * slots are index & (cap - 1).  Written once for both queues; the async
 * queue's hot FIFO paths index the ring inline (acx_sync.h).
 */
#include <errno.h>
#include <stdlib.h>

#include "acx.h"

enum { FIFO, LIFO, PRIORITY }; /* ACX_QUEUE_* and ACX_BQUEUE_* alike */
_Static_assert((int)ACX_QUEUE_FIFO == FIFO && (int)ACX_QUEUE_LIFO == LIFO &&
                   (int)ACX_QUEUE_PRIORITY == PRIORITY &&
                   (int)ACX_BQUEUE_FIFO == FIFO &&
                   (int)ACX_BQUEUE_LIFO == LIFO &&
                   (int)ACX_BQUEUE_PRIORITY == PRIORITY,
               "both queues number their kinds as the store does");

static int ent_less(const struct acx__qent *a, const struct acx__qent *b)
{
    return a->prio < b->prio || (a->prio == b->prio && a->seq < b->seq);
}

static void heap_up(struct acx__qent *v, size_t i)
{
    struct acx__qent e = v[i];
    while (i > 0 && ent_less(&e, &v[(i - 1) / 2])) {
        v[i] = v[(i - 1) / 2];
        i = (i - 1) / 2;
    }
    v[i] = e;
}

static void heap_down(struct acx__qent *v, size_t n)
{
    struct acx__qent e = v[0];
    size_t i = 0;
    for (;;) {
        size_t c = 2 * i + 1;
        if (c >= n)
            break;
        if (c + 1 < n && ent_less(&v[c + 1], &v[c]))
            c++;
        if (!ent_less(&v[c], &e))
            break;
        v[i] = v[c];
        i = c;
    }
    v[i] = e;
}

/* Double the storage; the ring is straightened out on the way. */
static int store_grow(acx__store *s)
{
    size_t cap = s->cap ? s->cap * 2 : 8;
    if (s->kind == PRIORITY) {
        struct acx__qent *h = realloc(s->heap, cap * sizeof *h);
        if (h == NULL)
            return -ENOMEM;
        s->heap = h;
    } else {
        void **v = malloc(cap * sizeof *v);
        if (v == NULL)
            return -ENOMEM;
        for (size_t i = 0; i < s->n; i++)
            v[i] = s->ring[(s->head + i) & (s->cap - 1)];
        free(s->ring);
        s->ring = v;
        s->head = 0;
    }
    s->cap = cap;
    return 0;
}

int acx__store_push(acx__store *s, void *item, int prio)
{
    if (s->n == s->cap) {
        int err = store_grow(s);
        if (err)
            return err;
    }
    if (s->kind == FIFO) {
        s->ring[(s->head + s->n) & (s->cap - 1)] = item;
    } else if (s->kind == LIFO) {
        s->ring[s->n] = item;
    } else {
        struct acx__qent e = {item, prio, s->seq++};
        s->heap[s->n] = e;
        heap_up(s->heap, s->n);
    }
    s->n++;
    return 0;
}

void *acx__store_pop(acx__store *s)
{
    void *item;
    s->n--;
    if (s->kind == FIFO) {
        item = s->ring[s->head];
        s->head = (s->head + 1) & (s->cap - 1);
    } else if (s->kind == LIFO) {
        item = s->ring[s->n];
    } else {
        item = s->heap[0].item;
        s->heap[0] = s->heap[s->n];
        if (s->n > 0)
            heap_down(s->heap, s->n);
    }
    return item;
}

void acx__store_free(acx__store *s)
{
    free(s->ring);
    free(s->heap);
    s->ring = NULL;
    s->heap = NULL;
    s->cap = s->n = s->head = 0;
}
