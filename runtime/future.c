/* future.c - one-shot results any thread may complete and any coroutine
 * or thread may wait for.
 *
 * A small lock guards the waiter lists; the state word is also the futex that
 * blocked threads sleep on.  Completion takes the mutex only when someone
 * listens (a waiter or a callback registered, the LISTEN bit): a future
 * nobody waits on yet, as most of an executor's burst, completes with two
 * atomic operations on its own cache line.  A coroutine waiter is a node in its await
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
#include <sched.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "acx_internal.h"

/* The state word: a phase in the low bits, and LISTEN once a waiter or a
 * callback was registered (set under the mutex, while PENDING or RUNNING
 * only: a completer that saw it clear in its first step may skip the
 * mutex).  COMPLETING: one completer won and writes the result. */
enum { F_PENDING, F_RUNNING, F_DONE, F_COMPLETING };
#define F_PHASE 3u
#define F_LISTEN 4u
/* Done by its executor's work (acx__future_finish): the outcome is in
 * WSTATUS and WVALUE, written before the one atomic operation that
 * publishes it; another completer racing with the work writes STATUS
 * and VALUE after its claim, so neither writes what the other wrote. */
#define F_BYWORK 8u

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

/* The first 64 bytes are all an executor's task touches when nobody
 * listens (futmem.c's slots start on a cache line): the queue node, the
 * state, the references and the work's outcome, so that the worker takes
 * one line from the submitter and gives one back. */
struct acx_future {
    acx__work work;         /* an executor's queue node */
    _Atomic uint32_t state; /* F_*; the futex word of blocked threads */
    _Atomic int refs;
    int wstatus;            /* the outcome when F_BYWORK */
    _Atomic int stop;       /* cancel asked while running (cooperative) */
    void *wvalue;
    uint32_t mu;            /* the lock of the lists (fl_lock) */
    int status;             /* once F_DONE: 0 or a negative errno */
    void *value;
    int nthreads;           /* threads blocked in acx_future_wait */
    struct fut_node *head, *tail; /* coroutine waiters, in arrival order */
    struct fut_cb *cbs, **cbs_tail;
    void (*vfree)(void *); /* frees VALUE with F (acx__future_complete_owned) */
};
_Static_assert(offsetof(struct acx_future, wvalue) + sizeof(void *) <= 64,
               "a task's fields must share the future's first cache line");

/* The lists' lock: a word, not a pthread mutex, so that a future stays
 * within futmem.c's 128-byte slots (and malloc's fast bins when futures
 * come from malloc).  It is held for a few pointer moves. */
static void fl_lock(acx_future *f)
{
    for (int i = 0;; i++) {
        if (__atomic_load_n(&f->mu, __ATOMIC_RELAXED) == 0 &&
            !__atomic_exchange_n(&f->mu, 1, __ATOMIC_ACQUIRE))
            return;
        if (i < 100)
            ACX__CPU_RELAX();
        else
            sched_yield(); /* the holder lost its CPU */
    }
}

static void fl_unlock(acx_future *f)
{
    __atomic_store_n(&f->mu, 0, __ATOMIC_RELEASE);
}

static uint32_t phase(uint32_t s)
{
    return s & F_PHASE;
}

acx_future *acx__future_new_work(int refs, acx_work_fn fn, void *arg)
{
    acx_future *f = acx__futmem_get(sizeof *f);
    if (f == NULL)
        return NULL;
    f->mu = 0;
    atomic_init(&f->state, F_PENDING);
    f->status = f->wstatus = 0;
    f->value = f->wvalue = NULL;
    f->vfree = NULL;
    atomic_init(&f->refs, refs);
    atomic_init(&f->stop, 0);
    f->nthreads = 0;
    f->head = f->tail = NULL;
    f->cbs = NULL;
    f->cbs_tail = &f->cbs;
    f->work.next = NULL;
    f->work.fn = fn;
    f->work.arg = arg;
    return f;
}

acx__work *acx__future_work(acx_future *f)
{
    return &f->work;
}

acx_future *acx__work_future(acx__work *w)
{
    return (acx_future *)(void *)((char *)w - offsetof(acx_future, work));
}

acx_future *acx_future_new(void)
{
    return acx__future_new_work(1, NULL, NULL);
}

void acx_future_ref(acx_future *f)
{
    if (f != NULL)
        atomic_fetch_add_explicit(&f->refs, 1, memory_order_relaxed);
}

void acx_future_unref(acx_future *f)
{
    /* The last reference (a count of 1 cannot grow: growing it takes a
     * reference) needs no atomic write: its acquire load sees every
     * other holder's writes, as the decrement would. */
    if (f == NULL ||
        (atomic_load_explicit(&f->refs, memory_order_acquire) != 1 &&
         atomic_fetch_sub_explicit(&f->refs, 1, memory_order_acq_rel) != 1))
        return;
    for (struct fut_cb *c = f->cbs, *n; c != NULL; c = n) {
        n = c->next;
        free(c);
    }
    if (f->vfree != NULL && f->value != NULL)
        f->vfree(f->value);
    acx__futmem_put(f, sizeof *f);
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

/* Register a listener (MU held): set LISTEN unless F is done.  Returns 1
 * when F is done (nothing set).  A completer writing its result holds
 * everyone off for a few instructions; wait it out. */
static int listen_locked(acx_future *f)
{
    uint32_t s = atomic_load_explicit(&f->state, memory_order_acquire);
    for (;;) {
        if (phase(s) == F_DONE)
            return 1;
        if (phase(s) == F_COMPLETING) {
            fl_unlock(f);
            sched_yield();
            fl_lock(f);
            s = atomic_load_explicit(&f->state, memory_order_acquire);
            continue;
        }
        if (atomic_compare_exchange_weak_explicit(
                &f->state, &s, s | F_LISTEN, memory_order_acq_rel,
                memory_order_acquire))
            return 0;
    }
}

/* Complete F with STATUS and VALUE: -EALREADY when it is done, or being
 * completed, already; a cancel (CANCEL) completes only pending work and
 * returns -EBUSY when F runs. */
/* F is done and someone listens: wake the threads, hand the completion
 * to coroutine waiters, run the callbacks; then drop the reference the
 * completer took for this. */
static void notify(acx_future *f)
{
    fl_lock(f);
    struct fut_node *waiters = f->head;
    f->head = f->tail = NULL;
    struct fut_cb *cbs = f->cbs;
    f->cbs = NULL;
    f->cbs_tail = &f->cbs;
    int sleepers = f->nthreads;
    fl_unlock(f);

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
}

/* The outcome of done F. */
static int f_status(const acx_future *f)
{
    return atomic_load_explicit(&((acx_future *)f)->state,
                                memory_order_acquire) & F_BYWORK
               ? f->wstatus
               : f->status;
}

static void *f_value(const acx_future *f)
{
    return atomic_load_explicit(&((acx_future *)f)->state,
                                memory_order_acquire) & F_BYWORK
               ? f->wvalue
               : f->value;
}

static int complete(acx_future *f, int status, void *value, int cancel,
                    void (*vfree)(void *))
{
    if (f == NULL)
        return -EINVAL;
    uint32_t s = atomic_load_explicit(&f->state, memory_order_relaxed);
    do {
        if (phase(s) == F_DONE || phase(s) == F_COMPLETING)
            return -EALREADY;
        if (cancel && phase(s) == F_RUNNING)
            return -EBUSY;
    } while (!atomic_compare_exchange_weak_explicit(
        &f->state, &s, (s & F_LISTEN) | F_COMPLETING, memory_order_acquire,
        memory_order_relaxed));
    /* LISTEN cannot appear from now on: S tells whether anyone listens. */
    if (s & F_LISTEN) /* they may drop the last other reference */
        acx_future_ref(f);
    f->status = status;
    f->value = status == 0 || vfree != NULL ? value : NULL;
    f->vfree = vfree;
    /* COMPLETING - 1 is DONE */
    atomic_fetch_sub_explicit(&f->state, 1, memory_order_release);
    if (s & F_LISTEN)
        notify(f);
    return 0;
}

/* For executors: complete F, claimed by acx__future_start, with its
 * work's outcome: a single atomic operation when nobody listens.
 * -EALREADY when another completer got there first. */
int acx__future_finish(acx_future *f, int status, void *value)
{
    f->wstatus = status;
    f->wvalue = status == 0 ? value : NULL;
    uint32_t s = atomic_load_explicit(&f->state, memory_order_relaxed);
    int held = 0;
    for (;;) {
        if (phase(s) != F_RUNNING) {
            if (held)
                acx_future_unref(f);
            return -EALREADY;
        }
        if ((s & F_LISTEN) && !held) {
            acx_future_ref(f); /* for notify: listeners may drop theirs */
            held = 1;
        }
        if (atomic_compare_exchange_weak_explicit(
                &f->state, &s, (s & F_LISTEN) | F_DONE | F_BYWORK,
                memory_order_release, memory_order_relaxed))
            break;
    }
    if (s & F_LISTEN)
        notify(f);
    else if (held)
        acx_future_unref(f);
    return 0;
}

int acx__future_complete_owned(acx_future *f, int status, void *value,
                               void (*vfree)(void *))
{
    return complete(f, status, value, 0, vfree);
}

int acx_future_set_result(acx_future *f, void *value)
{
    return complete(f, 0, value, 0, NULL);
}

int acx_future_set_error(acx_future *f, int err)
{
    if (err >= 0)
        return -EINVAL;
    return complete(f, err, NULL, 0, NULL);
}

int acx_future_cancel(acx_future *f)
{
    if (f == NULL)
        return -EINVAL;
    int rc = complete(f, -ECANCELED, NULL, 1, NULL);
    if (rc == -EBUSY) /* running work cannot be interrupted: it may poll */
        atomic_store_explicit(&f->stop, 1, memory_order_release);
    return rc;
}

/* For executors: claim F for running.  -ECANCELED if it was cancelled
 * first (then the work must not run); afterwards acx_future_cancel fails. */
int acx__future_start(acx_future *f)
{
    uint32_t s = atomic_load_explicit(&f->state, memory_order_relaxed);
    while (phase(s) == F_PENDING)
        if (atomic_compare_exchange_weak_explicit(
                &f->state, &s, (s & F_LISTEN) | F_RUNNING,
                memory_order_acquire, memory_order_relaxed))
            return 0;
    return phase(s) == F_RUNNING ? -EALREADY : -ECANCELED;
}

int acx_future_running(const acx_future *f)
{
    return f != NULL && phase(atomic_load_explicit(
                            &((acx_future *)f)->state,
                            memory_order_acquire)) == F_RUNNING;
}

int acx_future_stop_requested(const acx_future *f)
{
    return f != NULL && atomic_load_explicit(&((acx_future *)f)->stop,
                                             memory_order_acquire);
}

int acx_future_done(const acx_future *f)
{
    return f != NULL && phase(atomic_load_explicit(
                            &((acx_future *)f)->state,
                            memory_order_acquire)) == F_DONE;
}

int acx_future_cancelled(const acx_future *f)
{
    return acx_future_done(f) && f_status(f) == -ECANCELED;
}

int acx_future_status(const acx_future *f)
{
    if (f == NULL)
        return -EINVAL;
    return acx_future_done(f) ? f_status(f) : -EINPROGRESS;
}

void *acx_future_value(const acx_future *f)
{
    return acx_future_done(f) ? f_value(f) : NULL;
}

int acx_future_add_done_callback(acx_future *f,
                                 void (*fn)(acx_future *, void *), void *arg)
{
    if (f == NULL || fn == NULL)
        return -EINVAL;
    struct fut_cb *c = NULL;
    if (!acx_future_done(f)) { /* allocated outside the lock */
        c = malloc(sizeof *c);
        if (c == NULL)
            return -ENOMEM;
        c->next = NULL;
        c->fn = fn;
        c->arg = arg;
        fl_lock(f);
        if (!listen_locked(f)) {
            *f->cbs_tail = c;
            f->cbs_tail = &c->next;
            fl_unlock(f);
            return 0;
        }
        fl_unlock(f);
        free(c);
    }
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
    fl_lock(f);
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
    fl_unlock(f);
    return n;
}

/* Waking a sleeping thread costs tens of microseconds on an idle vCPU,
 * more than most executor work takes: look for the result a little while
 * before sleeping on the futex.  Past WAIT_PAUSE_NS, yield between looks:
 * the thread that completes F may be waiting for this CPU. */
#define WAIT_SPIN_NS 5000
#define WAIT_PAUSE_NS 500

static int wait_spin(acx_future *f)
{
    struct timespec t0, t;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    long spent = 0;
    for (int i = 0;; i++) {
        if (acx_future_done(f))
            return 1;
        if (spent < WAIT_PAUSE_NS)
            ACX__CPU_RELAX();
        else
            sched_yield();
        if ((i & 15) == 15) {
            clock_gettime(CLOCK_MONOTONIC, &t);
            spent = (t.tv_sec - t0.tv_sec) * 1000000000L +
                    (t.tv_nsec - t0.tv_nsec);
            if (spent > WAIT_SPIN_NS)
                return 0;
        }
    }
}

int acx_future_wait(acx_future *f, int64_t timeout_ms)
{
    if (f == NULL)
        return -EINVAL;
    if (acx_future_done(f) || (timeout_ms != 0 && wait_spin(f)))
        return f_status(f);
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
    fl_lock(f);
    if (listen_locked(f)) {
        fl_unlock(f);
        return f_status(f);
    }
    f->nthreads++;
    fl_unlock(f);
    int rc = 0;
    uint32_t s;
    while (phase(s = atomic_load_explicit(&f->state,
                                          memory_order_acquire)) != F_DONE) {
        long r = syscall(SYS_futex, &f->state,
                         FUTEX_WAIT_BITSET_PRIVATE, s,
                         timeout_ms >= 0 ? &until : NULL, NULL,
                         FUTEX_BITSET_MATCH_ANY);
        if (r < 0 && errno == ETIMEDOUT) {
            rc = -ETIMEDOUT;
            break;
        }
    }
    fl_lock(f);
    f->nthreads--;
    fl_unlock(f);
    return rc ? rc : f_status(f);
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
    fr->acx__ret = f_status(fr->f);
    if (fr->out != NULL)
        *fr->out = f_value(fr->f);
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
    fl_lock(f);
    if (listen_locked(f)) {
        fl_unlock(f);
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
    fl_unlock(f);
    acx__loop_cur->external++;
    fr->acx__state = 1;
    acx__cur_task->top = c;
    return ACX__SUSPEND;
}

static int fut_cancel(acx_coro *c, int err)
{
    struct fut_frame *fr = (struct fut_frame *)c;
    acx_future *f = fr->f;
    fl_lock(f);
    int linked = phase(atomic_load_explicit(&f->state,
                                            memory_order_relaxed)) != F_DONE;
    if (linked)
        node_unlink(f, &fr->node);
    fl_unlock(f);
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
