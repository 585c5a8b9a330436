/* future.c - one-shot results any thread may complete and any coroutine
 * or thread may wait for.
 *
 * A mutex guards the waiter lists; the state word is also the futex that
 * blocked threads sleep on.  A coroutine waiter is a node in its await
 * frame: completion unlinks it and, from another thread, posts it to the
 * waiter's loop (an intrusive post, so completing allocates nothing); on
 * the waiter's own loop thread it readies the task directly.  A cancelled
 * awaiter takes its node back if it is still linked; if the completer got
 * to it first the post is on its way and the completion wins.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <limits.h>
#include <linux/futex.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "acx_internal.h"

enum { F_PENDING, F_RUNNING, F_DONE };

struct fut_cb {
    struct fut_cb *next;
    void (*fn)(acx_future *, void *);
    void *arg;
};

struct fut_node {
    struct fut_node *prev, *next;
    acx__post post; /* how a completion reaches the waiter's loop */
    acx_loop *loop;
};

struct acx_future {
    pthread_mutex_t mu;
    _Atomic uint32_t state; /* F_*; the futex word of blocked threads */
    int status;             /* once F_DONE: 0 or a negative errno */
    void *value;
    _Atomic int refs;
    _Atomic int stop;       /* cancel asked while running (cooperative) */
    int nthreads;           /* threads blocked in acx_future_wait */
    struct fut_node *head, *tail; /* coroutine waiters, in arrival order */
    struct fut_cb *cbs, **cbs_tail;
    void (*vfree)(void *); /* frees VALUE with F (acx__future_complete_owned) */
};

acx_future *acx_future_new(void)
{
    acx_future *f = calloc(1, sizeof *f);
    if (f == NULL)
        return NULL;
    pthread_mutex_init(&f->mu, NULL);
    atomic_init(&f->state, F_PENDING);
    atomic_init(&f->refs, 1);
    f->cbs_tail = &f->cbs;
    return f;
}

void acx_future_ref(acx_future *f)
{
    if (f != NULL)
        atomic_fetch_add_explicit(&f->refs, 1, memory_order_relaxed);
}

void acx_future_unref(acx_future *f)
{
    if (f == NULL ||
        atomic_fetch_sub_explicit(&f->refs, 1, memory_order_acq_rel) != 1)
        return;
    for (struct fut_cb *c = f->cbs, *n; c != NULL; c = n) {
        n = c->next;
        free(c);
    }
    if (f->vfree != NULL && f->value != NULL)
        f->vfree(f->value);
    pthread_mutex_destroy(&f->mu);
    free(f);
}

static void node_unlink(acx_future *f, struct fut_node *n)
{
    if (n->prev)
        n->prev->next = n->next;
    else
        f->head = n->next;
    if (n->next)
        n->next->prev = n->prev;
    else
        f->tail = n->prev;
    n->prev = n->next = NULL;
}

/* Hand a completion to a coroutine waiter: directly on its loop's thread,
 * else through the loop's inbox. */
static void node_wake(struct fut_node *n)
{
    if (n->loop == acx__loop_cur) {
        n->post.run(&n->post, 0);
        return;
    }
    if (acx__loop_post(n->loop, &n->post) < 0)
        n->post.run(&n->post, 1); /* closed: cannot happen while it waits */
}

static int complete_as(acx_future *f, int status, void *value,
                       void (*vfree)(void *))
{
    if (f == NULL)
        return -EINVAL;
    pthread_mutex_lock(&f->mu);
    if (atomic_load_explicit(&f->state, memory_order_relaxed) == F_DONE) {
        pthread_mutex_unlock(&f->mu);
        return -EALREADY;
    }
    f->status = status;
    f->value = status == 0 || vfree != NULL ? value : NULL;
    f->vfree = vfree;
    atomic_store_explicit(&f->state, F_DONE, memory_order_release);
    struct fut_node *waiters = f->head;
    f->head = f->tail = NULL;
    struct fut_cb *cbs = f->cbs;
    f->cbs = NULL;
    f->cbs_tail = &f->cbs;
    int sleepers = f->nthreads;
    /* The callbacks and wake-ups below may drop the last other reference;
     * ours keeps F alive until we are done with it. */
    acx_future_ref(f);
    pthread_mutex_unlock(&f->mu);

    if (sleepers)
        syscall(SYS_futex, &f->state, FUTEX_WAKE_PRIVATE, INT_MAX, NULL,
                NULL, 0);
    while (waiters != NULL) {
        struct fut_node *next = waiters->next;
        waiters->prev = waiters->next = NULL;
        node_wake(waiters);
        waiters = next;
    }
    while (cbs != NULL) {
        struct fut_cb *next = cbs->next;
        cbs->fn(f, cbs->arg);
        free(cbs);
        cbs = next;
    }
    acx_future_unref(f);
    return 0;
}

static int complete(acx_future *f, int status, void *value)
{
    return complete_as(f, status, value, NULL);
}

int acx__future_complete_owned(acx_future *f, int status, void *value,
                               void (*vfree)(void *))
{
    return complete_as(f, status, value, vfree);
}

int acx_future_set_result(acx_future *f, void *value)
{
    return complete(f, 0, value);
}

int acx_future_set_error(acx_future *f, int err)
{
    if (err >= 0)
        return -EINVAL;
    return complete(f, err, NULL);
}

int acx_future_cancel(acx_future *f)
{
    if (f == NULL)
        return -EINVAL;
    if (atomic_load(&f->state) == F_RUNNING) {
        /* Running work cannot be interrupted: it may poll the flag. */
        atomic_store_explicit(&f->stop, 1, memory_order_release);
        return -EBUSY;
    }
    return complete(f, -ECANCELED, NULL);
}

/* For executors: claim F for running.  -ECANCELED if it was cancelled
 * first (then the work must not run); afterwards acx_future_cancel fails. */
int acx__future_start(acx_future *f)
{
    uint32_t want = F_PENDING;
    if (atomic_compare_exchange_strong(&f->state, &want, F_RUNNING))
        return 0;
    return want == F_DONE ? -ECANCELED : -EALREADY;
}

int acx_future_running(const acx_future *f)
{
    return f != NULL && atomic_load_explicit(&((acx_future *)f)->state,
                                             memory_order_acquire) ==
                            F_RUNNING;
}

int acx_future_stop_requested(const acx_future *f)
{
    return f != NULL && atomic_load_explicit(&((acx_future *)f)->stop,
                                             memory_order_acquire);
}

int acx_future_done(const acx_future *f)
{
    return f != NULL && atomic_load_explicit(&((acx_future *)f)->state,
                                             memory_order_acquire) == F_DONE;
}

int acx_future_cancelled(const acx_future *f)
{
    return acx_future_done(f) && f->status == -ECANCELED;
}

int acx_future_status(const acx_future *f)
{
    if (f == NULL)
        return -EINVAL;
    return acx_future_done(f) ? f->status : -EINPROGRESS;
}

void *acx_future_value(const acx_future *f)
{
    return acx_future_done(f) ? f->value : NULL;
}

int acx_future_add_done_callback(acx_future *f,
                                 void (*fn)(acx_future *, void *), void *arg)
{
    if (f == NULL || fn == NULL)
        return -EINVAL;
    pthread_mutex_lock(&f->mu);
    if (atomic_load_explicit(&f->state, memory_order_relaxed) != F_DONE) {
        struct fut_cb *c = malloc(sizeof *c);
        if (c == NULL) {
            pthread_mutex_unlock(&f->mu);
            return -ENOMEM;
        }
        c->next = NULL;
        c->fn = fn;
        c->arg = arg;
        *f->cbs_tail = c;
        f->cbs_tail = &c->next;
        pthread_mutex_unlock(&f->mu);
        return 0;
    }
    pthread_mutex_unlock(&f->mu);
    fn(f, arg);
    return 0;
}

int acx_future_remove_done_callback(acx_future *f,
                                    void (*fn)(acx_future *, void *),
                                    void *arg)
{
    if (f == NULL || fn == NULL)
        return -EINVAL;
    int n = 0;
    pthread_mutex_lock(&f->mu);
    struct fut_cb **pp = &f->cbs;
    f->cbs_tail = &f->cbs;
    while (*pp != NULL) {
        struct fut_cb *c = *pp;
        if (c->fn == fn && c->arg == arg) {
            *pp = c->next;
            free(c);
            n++;
        } else {
            pp = &c->next;
            f->cbs_tail = pp;
        }
    }
    pthread_mutex_unlock(&f->mu);
    return n;
}

/* Waking a sleeping thread costs tens of microseconds on an idle vCPU,
 * more than most executor work takes: look for the result a little while
 * before sleeping on the futex. */
#define WAIT_SPIN_NS 5000

static int wait_spin(acx_future *f)
{
    struct timespec t0, t;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    for (int i = 0;; i++) {
        if (atomic_load_explicit(&f->state, memory_order_acquire) == F_DONE)
            return 1;
        ACX__CPU_RELAX();
        if ((i & 63) == 63) {
            clock_gettime(CLOCK_MONOTONIC, &t);
            if ((t.tv_sec - t0.tv_sec) * 1000000000L +
                    (t.tv_nsec - t0.tv_nsec) > WAIT_SPIN_NS)
                return 0;
        }
    }
}

int acx_future_wait(acx_future *f, int64_t timeout_ms)
{
    if (f == NULL)
        return -EINVAL;
    if (timeout_ms != 0 && wait_spin(f))
        return f->status;
    struct timespec until;
    clock_gettime(CLOCK_MONOTONIC, &until);
    if (timeout_ms >= 0) {
        until.tv_sec += timeout_ms / 1000;
        until.tv_nsec += (timeout_ms % 1000) * 1000000;
        if (until.tv_nsec >= 1000000000) {
            until.tv_sec++;
            until.tv_nsec -= 1000000000;
        }
    }
    pthread_mutex_lock(&f->mu);
    f->nthreads++;
    pthread_mutex_unlock(&f->mu);
    int rc = 0;
    uint32_t s;
    while ((s = atomic_load_explicit(&f->state, memory_order_acquire)) !=
           F_DONE) {
        long r = syscall(SYS_futex, &f->state,
                         FUTEX_WAIT_BITSET_PRIVATE, s,
                         timeout_ms >= 0 ? &until : NULL, NULL,
                         FUTEX_BITSET_MATCH_ANY);
        if (r < 0 && errno == ETIMEDOUT) {
            rc = -ETIMEDOUT;
            break;
        }
    }
    pthread_mutex_lock(&f->mu);
    f->nthreads--;
    pthread_mutex_unlock(&f->mu);
    return rc ? rc : f->status;
}

/* ---- await acx_future_await(f, &value) ----------------------------------- */

struct fut_frame {
    ACX__FRAME_PREFIX;
    int acx__ret;
    acx_future *f;
    void **out;
    acx_task *self;
    struct fut_node node;
};

static void fut_frame_finish(struct fut_frame *fr)
{
    fr->acx__ret = fr->f->status;
    if (fr->out != NULL)
        *fr->out = fr->f->value;
}

/* The completion arrived on the waiter's loop thread. */
static void fut_post_run(acx__post *p, int discard)
{
    struct fut_node *n = (struct fut_node *)(void *)
        ((char *)p - offsetof(struct fut_node, post));
    struct fut_frame *fr = (struct fut_frame *)(void *)
        ((char *)n - offsetof(struct fut_frame, node));
    (void)discard;
    n->loop->external--;
    acx__ready(fr->self);
}

static int fut_body(acx_coro *c)
{
    struct fut_frame *fr = (struct fut_frame *)c;
    if (fr->acx__state != 0) {
        if (acx_future_done(fr->f) && fr->acx__ret == 0)
            fut_frame_finish(fr);
        acx_future_unref(fr->f);
        return ACX__DONE;
    }
    if (fr->f == NULL) {
        fr->acx__ret = -EINVAL;
        return ACX__DONE;
    }
    if (acx_future_done(fr->f)) {
        fut_frame_finish(fr);
        return ACX__DONE;
    }
    if ((fr->acx__ret = acx__intr_check()) != 0)
        return ACX__DONE;
    acx_future *f = fr->f;
    /* The frame reads F when it resumes, perhaps after the completer and
     * the owner dropped theirs: hold a reference from before it can be
     * completed under us. */
    acx_future_ref(f);
    pthread_mutex_lock(&f->mu);
    if (atomic_load_explicit(&f->state, memory_order_relaxed) == F_DONE) {
        pthread_mutex_unlock(&f->mu);
        fut_frame_finish(fr);
        acx_future_unref(f);
        return ACX__DONE;
    }
    fr->self = acx__cur_task;
    fr->node.loop = acx__loop_cur;
    fr->node.post.run = fut_post_run;
    fr->node.next = NULL;
    fr->node.prev = f->tail;
    if (f->tail)
        f->tail->next = &fr->node;
    else
        f->head = &fr->node;
    f->tail = &fr->node;
    pthread_mutex_unlock(&f->mu);
    acx__loop_cur->external++;
    fr->acx__state = 1;
    acx__cur_task->top = c;
    return ACX__SUSPEND;
}

static int fut_cancel(acx_coro *c, int err)
{
    struct fut_frame *fr = (struct fut_frame *)c;
    acx_future *f = fr->f;
    pthread_mutex_lock(&f->mu);
    int linked = atomic_load_explicit(&f->state, memory_order_relaxed) !=
                 F_DONE;
    if (linked)
        node_unlink(f, &fr->node);
    pthread_mutex_unlock(&f->mu);
    if (!linked)
        return 0; /* the completion is on its way and wins */
    fr->node.loop->external--;
    fr->acx__ret = err;
    return 1;
}

static int fut_describe(const acx_coro *c, char *buf, size_t size)
{
    const struct fut_frame *fr = (const struct fut_frame *)c;
    return snprintf(buf, size, "future %p", (void *)fr->f);
}

ACX__LEAF_INFO_AS(static, fut_info, struct fut_frame, "acx_future_await",
                  fut_body, fut_cancel, fut_describe);

acx_coro *acx_future_await(acx_future *f, void **value)
{
    struct fut_frame *fr =
        (struct fut_frame *)(void *)acx__coro_alloc(sizeof *fr, &fut_info);
    if (fr == NULL)
        return NULL;
    fr->acx__ret = 0;
    fr->f = f;
    fr->out = value;
    return &fr->acx__hdr;
}
