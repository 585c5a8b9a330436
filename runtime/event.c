/* event.c - asyncio.Event and asyncio.Barrier for the tasks of one loop.
 *
 * Both wake their waiters in batches: an event all of them when it is
 * set, a barrier all of them when its last party arrives.  The result of
 * each waiter (0, its arrival index, -ECONNABORTED) is written into its
 * frame before it is readied, so what happens to the object afterwards
 * (cleared, next barrier cycle) cannot change what a woken task sees.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

#include "acx_waitq.h"

/* ---- Event -------------------------------------------------------------- */

typedef struct acx__frame_acx_event_wait event_frame;

void acx_event_init(acx_event *e)
{
    e->waiters.head = e->waiters.tail = NULL;
    e->waiters.n = 0;
    e->set = 0;
}

acx_event *acx_event_new(void)
{
    return calloc(1, sizeof(acx_event)); /* zero-filled: clear */
}

int acx_event_free(acx_event *e)
{
    if (e == NULL)
        return 0;
    if (e->waiters.n != 0)
        return -EBUSY;
    free(e);
    return 0;
}

int acx_event_set(acx_event *e)
{
    if (e == NULL)
        return -EINVAL;
    e->set = 1;
    int woken = 0;
    acx__wnode *n;
    while ((n = acx__waitq_pop(&e->waiters)) != NULL) {
        acx__waitq_wake(n->task); /* frames say 0 already */
        woken++;
    }
    return woken;
}

void acx_event_clear(acx_event *e)
{
    if (e != NULL)
        e->set = 0;
}

int acx_event_is_set(const acx_event *e)
{
    return e != NULL && e->set;
}

int acx__body_acx_event_wait(acx_coro *c)
{
    event_frame *f = (event_frame *)c;
    if (f->acx__state != 0)
        return ACX__DONE;
    if (f->event == NULL) {
        f->acx__ret = -EINVAL;
        return ACX__DONE;
    }
    f->acx__ret = 0;
    if (f->event->set || (f->acx__ret = acx__intr_check()) != 0)
        return ACX__DONE;
    return acx__waitq_park(&f->event->waiters, &f->node, c);
}

static int event_cancel(acx_coro *c, int err)
{
    event_frame *f = (event_frame *)c;
    if (!acx__waitq_linked(&f->event->waiters, &f->node))
        return 0;
    acx__waitq_unlink(&f->event->waiters, &f->node);
    f->acx__ret = err;
    return 1;
}

static int event_describe(const acx_coro *c, char *buf, size_t size)
{
    const acx_event *e = ((const event_frame *)c)->event;
    return snprintf(buf, size, "event %p (%s, %u waiting)", (const void *)e,
                    e->set ? "set" : "clear", e->waiters.n);
}

ACX__SYNC_LEAF_INFO(acx_event_wait, event_frame, acx__body_acx_event_wait,
                    event_cancel, event_describe);

acx_coro *acx_event_wait(acx_event *e)
{
    event_frame *f = (event_frame *)(void *)acx__coro_alloc(
        sizeof *f, &acx__info_acx_event_wait);
    if (f == NULL)
        return NULL;
    acx__init_acx_event_wait(f, e);
    return &f->acx__hdr;
}

/* ---- Barrier ------------------------------------------------------------ */

typedef struct acx__frame_acx_barrier_wait barrier_frame;

int acx_barrier_init(acx_barrier *b, unsigned parties)
{
    if (b == NULL || parties == 0)
        return -EINVAL;
    b->waiters.head = b->waiters.tail = NULL;
    b->waiters.n = 0;
    b->parties = parties;
    b->broken = 0;
    return 0;
}

acx_barrier *acx_barrier_new(unsigned parties)
{
    if (parties == 0) {
        errno = EINVAL;
        return NULL;
    }
    acx_barrier *b = malloc(sizeof *b);
    if (b != NULL)
        acx_barrier_init(b, parties);
    return b;
}

int acx_barrier_free(acx_barrier *b)
{
    if (b == NULL)
        return 0;
    if (b->waiters.n != 0)
        return -EBUSY;
    free(b);
    return 0;
}

/* Ready every waiter with a result: its arrival index (RESULT < 0: none)
 * or RESULT itself. */
static void barrier_release(acx_barrier *b, int result)
{
    int i = 0;
    acx__wnode *n;
    while ((n = acx__waitq_pop(&b->waiters)) != NULL) {
        ACX__WNODE_FRAME(n, barrier_frame, node)->acx__ret =
            result < 0 ? result : i++;
        acx__waitq_wake(n->task);
    }
}

int acx__body_acx_barrier_wait(acx_coro *c)
{
    barrier_frame *f = (barrier_frame *)c;
    if (f->acx__state != 0)
        return ACX__DONE;
    acx_barrier *b = f->barrier;
    if (b == NULL) {
        f->acx__ret = -EINVAL;
        return ACX__DONE;
    }
    if (b->broken) {
        f->acx__ret = -ECONNABORTED;
        return ACX__DONE;
    }
    if (b->waiters.n + 1 >= b->parties) { /* the last party: all go on */
        f->acx__ret = (int)b->waiters.n;
        barrier_release(b, 0);
        return ACX__DONE;
    }
    if ((f->acx__ret = acx__intr_check()) != 0)
        return ACX__DONE;
    return acx__waitq_park(&b->waiters, &f->node, c);
}

/* A waiter that leaves does not count towards the parties. */
static int barrier_cancel(acx_coro *c, int err)
{
    barrier_frame *f = (barrier_frame *)c;
    if (!acx__waitq_linked(&f->barrier->waiters, &f->node))
        return 0;
    acx__waitq_unlink(&f->barrier->waiters, &f->node);
    f->acx__ret = err;
    return 1;
}

static int barrier_describe(const acx_coro *c, char *buf, size_t size)
{
    const acx_barrier *b = ((const barrier_frame *)c)->barrier;
    return snprintf(buf, size, "barrier %p (%u/%u waiting)",
                    (const void *)b, b->waiters.n, b->parties);
}

ACX__SYNC_LEAF_INFO(acx_barrier_wait, barrier_frame,
                    acx__body_acx_barrier_wait, barrier_cancel,
                    barrier_describe);

acx_coro *acx_barrier_wait(acx_barrier *b)
{
    barrier_frame *f = (barrier_frame *)(void *)acx__coro_alloc(
        sizeof *f, &acx__info_acx_barrier_wait);
    if (f == NULL)
        return NULL;
    acx__init_acx_barrier_wait(f, b);
    return &f->acx__hdr;
}

int acx_barrier_abort(acx_barrier *b)
{
    if (b == NULL)
        return -EINVAL;
    b->broken = 1;
    barrier_release(b, -ECONNABORTED);
    return 0;
}

int acx_barrier_reset(acx_barrier *b)
{
    if (b == NULL)
        return -EINVAL;
    barrier_release(b, -ECONNABORTED);
    b->broken = 0;
    return 0;
}

unsigned acx_barrier_parties(const acx_barrier *b)
{
    return b != NULL ? b->parties : 0;
}

unsigned acx_barrier_n_waiting(const acx_barrier *b)
{
    return b != NULL ? b->waiters.n : 0;
}

int acx_barrier_broken(const acx_barrier *b)
{
    return b != NULL && b->broken;
}
