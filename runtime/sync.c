/* sync.c - asyncio.Lock and asyncio.Condition for the tasks of one loop.
 *
 * A lock is an owner and a FIFO of parked acquirers.  Release hands the
 * lock to the oldest waiter on the spot (it is the owner before it even
 * runs), so no newcomer can barge in and a waiter's place in line is a
 * promise.  A condition's waiter is requeued by notify from the
 * condition's FIFO straight onto the lock's (as a futex requeue does):
 * the notified task wakes only once it holds the lock again, and never
 * runs just to find the lock taken.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

#include "acx_waitq.h"

/* ---- the lock --------------------------------------------------------- */

void acx_lock_init(acx_lock *l)
{
    l->waiters.head = l->waiters.tail = NULL;
    l->waiters.n = 0;
    l->owner = NULL;
}

acx_lock *acx_lock_new(void)
{
    return calloc(1, sizeof(acx_lock)); /* zero-filled: unlocked */
}

int acx_lock_free(acx_lock *l)
{
    if (l == NULL)
        return 0;
    if (l->waiters.n != 0)
        return -EBUSY;
    free(l);
    return 0;
}

/* Give L to the oldest waiter (who is readied owning it), or free it. */
static void lock_pass(acx_lock *l)
{
    acx__wnode *n = acx__waitq_pop(&l->waiters);
    l->owner = n != NULL ? n->task : NULL;
    if (n != NULL)
        acx__waitq_wake(n->task);
}

/* Queue node N of task T for L; a free lock is T's at once. */
static void lock_enqueue(acx_lock *l, acx__wnode *n, acx_task *t)
{
    if (l->owner == NULL) {
        l->owner = t;
        acx__waitq_wake(t);
        return;
    }
    acx__waitq_push(&l->waiters, n, t);
}

typedef struct acx__frame_acx_lock_acquire lock_frame;

/* acquire's cases the inline body (acx_sync.h) leaves to us. */
int acx__lock_acquire_slow(acx_coro *c)
{
    lock_frame *f = (lock_frame *)c;
    if (f->acx__state != 0)
        return ACX__DONE; /* granted (0) or cancelled (the error) */
    acx_lock *l = f->lock;
    acx_task *t = acx__cur_task;
    if (l == NULL) {
        f->acx__ret = -EINVAL;
        return ACX__DONE;
    }
    if (l->owner == NULL) { /* free means nobody waits: hand-off is strict */
        l->owner = t;
        f->acx__ret = 0;
        return ACX__DONE;
    }
    if (l->owner == t) {
        f->acx__ret = -EDEADLK; /* it would wait for itself */
        return ACX__DONE;
    }
    if ((f->acx__ret = acx__intr_check()) != 0)
        return ACX__DONE;
    return acx__waitq_park(&l->waiters, &f->node, c);
}

static int lock_cancel(acx_coro *c, int err)
{
    lock_frame *f = (lock_frame *)c;
    if (!acx__waitq_linked(&f->lock->waiters, &f->node))
        return 0; /* handed the lock already: the grant wins */
    acx__waitq_unlink(&f->lock->waiters, &f->node);
    f->acx__ret = err;
    return 1;
}

static int lock_describe_of(const acx_lock *l, char *buf, size_t size)
{
    if (l->owner == NULL)
        return snprintf(buf, size, "lock %p (free, %u waiting)",
                        (const void *)l, l->waiters.n);
    return snprintf(buf, size, "lock %p (held by '%s', %u waiting)",
                    (const void *)l, acx_task_name(l->owner), l->waiters.n);
}

static int lock_describe(const acx_coro *c, char *buf, size_t size)
{
    return lock_describe_of(((const lock_frame *)c)->lock, buf, size);
}

ACX__SYNC_LEAF_INFO(acx_lock_acquire, lock_frame, acx__body_acx_lock_acquire,
                    lock_cancel, lock_describe);

acx_coro *acx_lock_acquire(acx_lock *l)
{
    lock_frame *f = (lock_frame *)(void *)acx__coro_alloc(
        sizeof *f, &acx__info_acx_lock_acquire);
    if (f == NULL)
        return NULL;
    acx__init_acx_lock_acquire(f, l);
    return &f->acx__hdr;
}

int acx_lock_try_acquire(acx_lock *l)
{
    if (l == NULL || acx__cur_task == NULL)
        return -EINVAL;
    if (l->owner != NULL)
        return -EAGAIN;
    l->owner = acx__cur_task;
    return 0;
}

/* release's cases the inline one (acx_sync.h) leaves to us. */
int acx__lock_release_slow(acx_lock *l)
{
    if (l == NULL)
        return -EINVAL;
    if (l->owner == NULL || l->owner != acx__cur_task)
        return -EPERM;
    lock_pass(l);
    return 0;
}

int acx_lock_locked(const acx_lock *l)
{
    return l != NULL && l->owner != NULL;
}

acx_task *acx_lock_owner(const acx_lock *l)
{
    return l != NULL ? l->owner : NULL;
}

/* ---- the condition ------------------------------------------------------ */

enum { ON_COND = 1, ON_LOCK = 2 }; /* cond frame phases */

typedef struct acx__frame_acx_cond_wait cond_frame;

int acx_cond_init(acx_cond *c, acx_lock *lock)
{
    if (c == NULL)
        return -EINVAL;
    c->waiters.head = c->waiters.tail = NULL;
    c->waiters.n = 0;
    acx_lock_init(&c->own);
    c->lock = lock != NULL ? lock : &c->own;
    return 0;
}

acx_cond *acx_cond_new(acx_lock *lock)
{
    acx_cond *c = malloc(sizeof *c);
    if (c != NULL)
        acx_cond_init(c, lock);
    return c;
}

int acx_cond_free(acx_cond *c)
{
    if (c == NULL)
        return 0;
    if (c->waiters.n != 0 || c->own.waiters.n != 0)
        return -EBUSY;
    free(c);
    return 0;
}

acx_lock *acx_cond_lock(acx_cond *c)
{
    return c != NULL ? c->lock : NULL;
}

int acx__body_acx_cond_wait(acx_coro *co)
{
    cond_frame *f = (cond_frame *)co;
    if (f->acx__state != 0)
        return ACX__DONE; /* owning the lock again: 0 or the interrupt */
    acx_cond *c = f->cond;
    if (c == NULL) {
        f->acx__ret = -EINVAL;
        return ACX__DONE;
    }
    if (c->lock->owner == NULL || c->lock->owner != acx__cur_task) {
        f->acx__ret = -EPERM;
        return ACX__DONE;
    }
    /* Interrupted already: return without ever letting go of the lock. */
    if ((f->acx__ret = acx__intr_check()) != 0)
        return ACX__DONE;
    f->phase = ON_COND;
    lock_pass(c->lock);
    return acx__waitq_park(&c->waiters, &f->node, co);
}

/* An interrupt while waiting for the notify: leave the condition and
 * queue for the lock, to return the error owning it (asyncio re-acquires
 * before the CancelledError propagates).  While queued for the lock the
 * notify has been granted and wins. */
static int cond_cancel(acx_coro *co, int err)
{
    cond_frame *f = (cond_frame *)co;
    acx_cond *c = f->cond;
    if (f->phase != ON_COND || !acx__waitq_linked(&c->waiters, &f->node))
        return 0;
    acx__waitq_unlink(&c->waiters, &f->node);
    f->acx__ret = err;
    f->phase = ON_LOCK;
    acx_task *t = f->node.task;
    if (c->lock->owner == NULL) {
        c->lock->owner = t;
        return 1; /* the runtime readies it */
    }
    acx__waitq_push(&c->lock->waiters, &f->node, t);
    return 0; /* the lock's release readies it */
}

static int cond_describe(const acx_coro *co, char *buf, size_t size)
{
    const cond_frame *f = (const cond_frame *)co;
    if (f->phase == ON_LOCK) {
        int k = snprintf(buf, size, "condition %p, re-acquiring ",
                         (const void *)f->cond);
        if (k < 0 || (size_t)k >= size)
            return k + lock_describe_of(f->cond->lock, NULL, 0);
        return k + lock_describe_of(f->cond->lock, buf + k, size - (size_t)k);
    }
    return snprintf(buf, size, "condition %p (%u waiting)",
                    (const void *)f->cond, f->cond->waiters.n);
}

ACX__SYNC_LEAF_INFO(acx_cond_wait, cond_frame, acx__body_acx_cond_wait,
                    cond_cancel, cond_describe);

acx_coro *acx_cond_wait(acx_cond *c)
{
    cond_frame *f = (cond_frame *)(void *)acx__coro_alloc(
        sizeof *f, &acx__info_acx_cond_wait);
    if (f == NULL)
        return NULL;
    acx__init_acx_cond_wait(f, c);
    return &f->acx__hdr;
}

int acx_cond_notify(acx_cond *c, int n)
{
    if (c == NULL || n < 0)
        return -EINVAL;
    if (c->lock->owner == NULL || c->lock->owner != acx__cur_task)
        return -EPERM;
    int woken = 0;
    acx__wnode *w;
    while (woken < n && (w = acx__waitq_pop(&c->waiters)) != NULL) {
        ACX__WNODE_FRAME(w, cond_frame, node)->phase = ON_LOCK;
        lock_enqueue(c->lock, w, w->task);
        woken++;
    }
    return woken;
}

int acx_cond_notify_all(acx_cond *c)
{
    return acx_cond_notify(c, INT32_MAX);
}

/* ---- wait_for: a condition wait in a loop ------------------------------ */

struct cond_wait_for_frame {
    ACX__FRAME_PREFIX;
    int acx__ret;
    acx_cond *cond;
    int (*pred)(void *);
    void *arg;
    cond_frame wait; /* embedded: waiting allocates nothing more */
};

static int cond_wait_for_body(acx_coro *co)
{
    struct cond_wait_for_frame *f = (struct cond_wait_for_frame *)co;
    if (f->acx__state != 0 && (f->acx__ret = f->wait.acx__ret) != 0)
        return ACX__DONE;
    if (f->cond == NULL || f->pred == NULL) {
        f->acx__ret = -EINVAL;
        return ACX__DONE;
    }
    /* The predicate reads shared state: only with the lock held. */
    while (f->cond->lock->owner == acx__cur_task && !f->pred(f->arg)) {
        acx__init_acx_cond_wait(&f->wait, f->cond);
        f->wait.acx__hdr.parent = co;
        f->acx__state = 1;
        int r = acx__body_acx_cond_wait(&f->wait.acx__hdr);
        if (r != ACX__DONE)
            return r;
        if ((f->acx__ret = f->wait.acx__ret) != 0)
            return ACX__DONE;
    }
    f->acx__ret = f->cond->lock->owner == acx__cur_task ? 0 : -EPERM;
    return ACX__DONE;
}

static int cond_wait_for_result(const acx_coro *c)
{
    return ((const struct cond_wait_for_frame *)c)->acx__ret;
}

static const acx__info cond_wait_for_info = {
    .body = cond_wait_for_body,
    .name = "acx_cond_wait_for",
    .file = "<runtime>",
    .size = sizeof(struct cond_wait_for_frame),
    .ret_offset = offsetof(struct cond_wait_for_frame, acx__ret),
    .ret_size = sizeof(int),
    .result_int = cond_wait_for_result,
    .align = _Alignof(struct cond_wait_for_frame),
};

acx_coro *acx_cond_wait_for(acx_cond *c, int (*pred)(void *), void *arg)
{
    struct cond_wait_for_frame *f = (struct cond_wait_for_frame *)(void *)
        acx__coro_alloc(sizeof *f, &cond_wait_for_info);
    if (f == NULL)
        return NULL;
    f->cond = c;
    f->pred = pred;
    f->arg = arg;
    return &f->acx__hdr;
}
