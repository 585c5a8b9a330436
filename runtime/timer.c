/* timer.c - the loop's pending timers: a 4-ary min-heap of acx__timer *.
 *
 * Keyed by (deadline, seq) so equal deadlines fire in arrival order.  Four
 * children per node halve the depth of a binary heap and keep a node's
 * children in one cache line, which matters with a million timers.  Each
 * timer knows its slot (heap_idx), so removal (cancellation) is O(log n).
 */
#include <errno.h>
#include <stdlib.h>
#include <time.h>

#include "acx_internal.h"

#define ACX__HEAP_D 4

int64_t acx__now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

int64_t acx__deadline_after_ms(int64_t ms)
{
    int64_t now = acx__now_ns();
    if (ms > (INT64_MAX - now) / 1000000)
        return INT64_MAX;
    return now + ms * 1000000;
}

int64_t acx_now_ns(void)
{
    return acx__now_ns();
}

int acx__cbtimer_arm(acx__cbtimer *c, int64_t when)
{
    acx__cbtimer_disarm(c);
    c->tm.task = NULL;
    c->tm.deadline = when;
    return acx__heap_add(&acx__loop_cur->timers, &c->tm);
}

void acx__cbtimer_disarm(acx__cbtimer *c)
{
    if (c->tm.heap_idx != ACX__NO_SLOT)
        acx__heap_remove(&acx__loop_cur->timers, &c->tm);
    c->tm.heap_idx = ACX__NO_SLOT;
}

/* Is A due before B?  seq wraps; comparing the difference keeps FIFO
 * order as long as pending timers span fewer than 2^31 arrivals. */
static int timer_before(const acx__timer *a, const acx__timer *b)
{
    if (a->deadline != b->deadline)
        return a->deadline < b->deadline;
    return (int32_t)(a->seq - b->seq) < 0;
}

static void heap_set(acx__heap *h, uint32_t i, acx__timer *t)
{
    h->v[i] = t;
    t->heap_idx = i;
}

static void sift_up(acx__heap *h, uint32_t i)
{
    acx__timer *t = h->v[i];
    while (i > 0) {
        uint32_t p = (i - 1) / ACX__HEAP_D;
        if (!timer_before(t, h->v[p]))
            break;
        heap_set(h, i, h->v[p]);
        i = p;
    }
    heap_set(h, i, t);
}

static void sift_down(acx__heap *h, uint32_t i)
{
    acx__timer *t = h->v[i];
    for (;;) {
        uint64_t first = (uint64_t)i * ACX__HEAP_D + 1;
        if (first >= h->n)
            break;
        uint32_t best = (uint32_t)first;
        uint32_t end = first + ACX__HEAP_D < h->n
                           ? (uint32_t)first + ACX__HEAP_D : h->n;
        for (uint32_t k = best + 1; k < end; k++)
            if (timer_before(h->v[k], h->v[best]))
                best = k;
        if (!timer_before(h->v[best], t))
            break;
        heap_set(h, i, h->v[best]);
        i = best;
    }
    heap_set(h, i, t);
}

void acx__heap_init(acx__heap *h)
{
    h->v = NULL;
    h->n = h->cap = 0;
    h->seq = 0;
}

void acx__heap_free(acx__heap *h)
{
    free(h->v);
    acx__heap_init(h);
}

static int heap_grow(acx__heap *h)
{
    if (h->cap >= UINT32_MAX / 2)
        return -ENOMEM; /* slot UINT32_MAX means "not in the heap" */
    uint32_t cap = h->cap ? h->cap * 2 : 64;
    acx__timer **v = realloc(h->v, (size_t)cap * sizeof *v);
    if (v == NULL)
        return -ENOMEM;
    h->v = v;
    h->cap = cap;
    return 0;
}

int acx__heap_add(acx__heap *h, acx__timer *t)
{
    ACX__CHECK(t->heap_idx == ACX__NO_SLOT || t->heap_idx >= h->n ||
                   h->v[t->heap_idx] != t,
               "a timer armed while armed (it would fire twice)");
    if (h->n == h->cap) {
        int err = heap_grow(h);
        if (err)
            return err;
    }
    t->seq = h->seq++;
    h->v[h->n] = t;
    sift_up(h, h->n++);
    return 0;
}

void acx__heap_remove(acx__heap *h, acx__timer *t)
{
    uint32_t i = t->heap_idx;
    if (i == ACX__NO_SLOT || i >= h->n || h->v[i] != t)
        return;
    t->heap_idx = ACX__NO_SLOT;
    acx__timer *last = h->v[--h->n];
    if (i == h->n)
        return;
    /* The last timer fills the hole; it may belong above or below it. */
    heap_set(h, i, last);
    if (i > 0 && timer_before(last, h->v[(i - 1) / ACX__HEAP_D]))
        sift_up(h, i);
    else
        sift_down(h, i);
}

acx__timer *acx__heap_pop(acx__heap *h)
{
    acx__timer *t = acx__heap_peek(h);
    if (t != NULL)
        acx__heap_remove(h, t);
    return t;
}
