/* sem.c - asyncio.Semaphore and BoundedSemaphore for the tasks of one
 * loop.
 *
 * VALUE counts free permits.  A release while tasks wait gives its permit
 * straight to the oldest waiter (VALUE stays 0), so VALUE > 0 implies
 * nobody waits and a newcomer can take a permit without looking at the
 * queue.  A bounded semaphore is one whose BOUND is its initial value.
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>

#include "acx_waitq.h"

typedef struct acx__frame_acx_sem_acquire sem_frame;

static int sem_setup(acx_sem *s, long value, long bound)
{
    if (s == NULL || value < 0)
        return -EINVAL;
    s->waiters.head = s->waiters.tail = NULL;
    s->waiters.n = 0;
    s->value = value;
    s->bound = bound;
    return 0;
}

int acx_sem_init(acx_sem *s, long value)
{
    return sem_setup(s, value, LONG_MAX);
}

int acx_sem_init_bounded(acx_sem *s, long value)
{
    return sem_setup(s, value, value);
}

static acx_sem *sem_new(long value, long bound)
{
    if (value < 0) {
        errno = EINVAL;
        return NULL;
    }
    acx_sem *s = malloc(sizeof *s);
    if (s != NULL)
        sem_setup(s, value, bound);
    return s;
}

acx_sem *acx_sem_new(long value)
{
    return sem_new(value, LONG_MAX);
}

acx_sem *acx_sem_new_bounded(long value)
{
    return sem_new(value, value);
}

int acx_sem_free(acx_sem *s)
{
    if (s == NULL)
        return 0;
    if (s->waiters.n != 0)
        return -EBUSY;
    free(s);
    return 0;
}

int acx__body_acx_sem_acquire(acx_coro *c)
{
    sem_frame *f = (sem_frame *)c;
    if (f->acx__state != 0)
        return ACX__DONE; /* handed a permit (0) or cancelled (the error) */
    acx_sem *s = f->sem;
    if (s == NULL) {
        f->acx__ret = -EINVAL;
        return ACX__DONE;
    }
    if (s->value > 0) {
        s->value--;
        f->acx__ret = 0;
        return ACX__DONE;
    }
    if ((f->acx__ret = acx__intr_check()) != 0)
        return ACX__DONE;
    return acx__waitq_park(&s->waiters, &f->node, c);
}

/* Unlinked: no permit was handed to it.  Not linked: it holds one, and
 * the await returns 0 so the caller's own path releases it. */
static int sem_cancel(acx_coro *c, int err)
{
    sem_frame *f = (sem_frame *)c;
    if (!acx__waitq_linked(&f->sem->waiters, &f->node))
        return 0;
    acx__waitq_unlink(&f->sem->waiters, &f->node);
    f->acx__ret = err;
    return 1;
}

static int sem_describe(const acx_coro *c, char *buf, size_t size)
{
    const acx_sem *s = ((const sem_frame *)c)->sem;
    return snprintf(buf, size, "%ssemaphore %p (value %ld, %u waiting)",
                    s->bound != LONG_MAX ? "bounded " : "", (const void *)s,
                    s->value, s->waiters.n);
}

ACX__SYNC_LEAF_INFO(acx_sem_acquire, sem_frame, acx__body_acx_sem_acquire,
                    sem_cancel, sem_describe);

acx_coro *acx_sem_acquire(acx_sem *s)
{
    sem_frame *f = (sem_frame *)(void *)acx__coro_alloc(
        sizeof *f, &acx__info_acx_sem_acquire);
    if (f == NULL)
        return NULL;
    acx__init_acx_sem_acquire(f, s);
    return &f->acx__hdr;
}

int acx_sem_try_acquire(acx_sem *s)
{
    if (s == NULL)
        return -EINVAL;
    if (s->value == 0)
        return -EAGAIN;
    s->value--;
    return 0;
}

int acx_sem_release(acx_sem *s)
{
    if (s == NULL)
        return -EINVAL;
    if (s->value >= s->bound)
        return -EOVERFLOW;
    acx__wnode *n = acx__waitq_pop(&s->waiters);
    if (n != NULL)
        acx__waitq_wake(n->task); /* its frame says 0: the permit is its */
    else
        s->value++;
    return 0;
}

long acx_sem_value(const acx_sem *s)
{
    return s != NULL ? s->value : 0;
}

int acx_sem_locked(const acx_sem *s)
{
    return s != NULL && s->value == 0;
}
