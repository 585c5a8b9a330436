/* loop.c - the per-thread event loop: the ready FIFO, steps, the inbox of
 * posts from other threads, acx_run and its shutdown.
 *
 * One step runs exactly the tasks that were ready when it began, in FIFO
 * order; tasks made ready meanwhile run in the next step (asyncio's
 * call_soon).  Between steps the loop takes in what other threads posted,
 * sleeps in the poller when nothing is ready (until the earliest timer, or
 * until woken), then moves expired timers' tasks to the ready FIFO in
 * (deadline, seq) order.
 */
#define _GNU_SOURCE /* pthread_getattr_np */
#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "acx_internal.h"

__thread acx_loop *acx__loop_cur;
__thread struct acx__readyq acx__readyq;

static int readyq_empty(void)
{
    return acx__readyq.head == NULL;
}

/* Run the tasks ready now; detaching the list first is what defers tasks
 * readied during the step to the next one.  TIMED is a constant at both
 * call sites, so each gets its own copy of the loop and the plain one
 * carries no trace of the slow-step detector. */
static inline __attribute__((always_inline)) void loop_run_ready(int timed)
{
    acx_task *t = acx__readyq.head;
    acx__readyq.head = acx__readyq.tail = NULL;
    while (t != NULL) {
        acx_task *next = t->next; /* T may be freed when it finishes */
        if (next != NULL) /* the chain of loads the next resume waits on */
            __builtin_prefetch(next->top);
        t->flags &= ~(uint32_t)ACX__T_READY; /* acx__ready resets next */
        acx__cur_task = t;
        if (timed)
            acx__task_run_timed(t);
        else
            acx__task_run(t);
        t = next;
    }
}

static void loop_step(void)
{
    /* Debug mode (acx_set_slow_step_ms) costs this one branch when off. */
    if (__builtin_expect(atomic_load_explicit(&acx__slow_step_ns,
                                              memory_order_relaxed) != 0,
                         0))
        loop_run_ready(1);
    else
        loop_run_ready(0);
    acx__cur_task = NULL;
}

static void loop_expire(acx_loop *l)
{
    if (l->timers.n == 0)
        return;
    int64_t now = acx__now_ns();
    acx__timer *tm;
    while ((tm = acx__heap_peek(&l->timers)) != NULL && tm->deadline <= now) {
        acx__heap_pop(&l->timers);
        if (tm->task != NULL)
            acx__ready(tm->task);
        else
            ((acx__cbtimer *)tm)->fire((acx__cbtimer *)tm);
    }
}

/* Nanoseconds until the earliest timer (-1: none). */
static int64_t loop_timeout_ns(const acx_loop *l)
{
    if (l->timers.n == 0)
        return -1;
    int64_t d = acx__heap_peek(&l->timers)->deadline - acx__now_ns();
    return d <= 0 ? 0 : d;
}

/* ---- the inbox: posts from any thread ---------------------------------- */

/* Wake L for a post that is in its inbox already.  acx__poll_wake
 * handles EINTR and a full counter; any other failure of the eventfd
 * write (none is known to happen) is retried a few times.  If it still
 * fails, the post stays queued all the same: it cannot be taken back
 * (the loop may be running it), and the loop runs it on its next
 * iteration, which its next timer, fd event or post brings. */
static void loop_wake_posted(acx_loop *l)
{
    for (int i = 0; i < 3; i++) {
        if (acx__poll_wake(&l->poll) == 0)
            return;
        sched_yield();
    }
}

int acx__loop_post(acx_loop *l, acx__post *p)
{
    /* Once P is visible the loop may run it, finish and close before we
     * write the wake-up: our reference keeps the loop (and its eventfd)
     * until then.  L is alive here: P belongs to something that stops the
     * loop from finishing until P has run, or the caller holds a ref. */
    acx_loop_ref(l);
    acx__post *head = atomic_load_explicit(&l->inbox, memory_order_relaxed);
    do {
        if (head == ACX__CLOSED) {
            acx_loop_unref(l);
            return -ESHUTDOWN;
        }
        p->next = head;
    } while (!atomic_compare_exchange_weak_explicit(
        &l->inbox, &head, p, memory_order_release, memory_order_relaxed));
    /* The first post since the loop last looked wakes it; later ones find
     * the wake-up pending. */
    if (head == NULL)
        loop_wake_posted(l);
    acx_loop_unref(l);
    return 0; /* queued: it runs (or is discarded when the loop closes) */
}

/* Run what other threads posted, oldest first. */
static void loop_take_posts(acx_loop *l)
{
    if (atomic_load_explicit(&l->inbox, memory_order_relaxed) == NULL)
        return;
    acx__post *p = atomic_exchange_explicit(&l->inbox, NULL,
                                            memory_order_acquire);
    acx__post *fifo = NULL;
    while (p != NULL) { /* the stack is newest first: reverse it */
        acx__post *next = p->next;
        p->next = fifo;
        fifo = p;
        p = next;
    }
    while (fifo != NULL) {
        acx__post *next = fifo->next;
        fifo->run(fifo, 0);
        fifo = next;
    }
}

/* Close the inbox: later posts fail with -ESHUTDOWN; what is left is
 * discarded. */
static void loop_close_inbox(acx_loop *l)
{
    acx__post *p = atomic_exchange_explicit(&l->inbox, ACX__CLOSED,
                                            memory_order_acquire);
    while (p != NULL) {
        acx__post *next = p->next;
        p->run(p, 1);
        p = next;
    }
}

struct call_post {
    acx__post post;
    void (*fn)(void *);
    void *arg;
};

static void call_post_run(acx__post *p, int discard)
{
    struct call_post *c = (struct call_post *)p;
    if (!discard)
        c->fn(c->arg);
    free(c);
}

int acx_loop_call_soon_threadsafe(acx_loop *l, void (*fn)(void *), void *arg)
{
    if (l == NULL || fn == NULL)
        return -EINVAL;
    struct call_post *c = malloc(sizeof *c);
    if (c == NULL)
        return -ENOMEM;
    c->post.run = call_post_run;
    c->fn = fn;
    c->arg = arg;
    int err = acx__loop_post(l, &c->post);
    if (err)
        free(c);
    return err;
}

int acx_loop_stop(acx_loop *l)
{
    if (l == NULL)
        return -EINVAL;
    atomic_store(&l->stop, 1);
    (void)acx__poll_wake(&l->poll); /* write(2): async-signal-safe */
    return 0;
}

acx_loop *acx_loop_current(void)
{
    return acx__loop_cur;
}

void acx_loop_ref(acx_loop *l)
{
    if (l != NULL)
        atomic_fetch_add_explicit(&l->refs, 1, memory_order_relaxed);
}

void acx_loop_unref(acx_loop *l)
{
    if (l == NULL ||
        atomic_fetch_sub_explicit(&l->refs, 1, memory_order_acq_rel) != 1)
        return;
    acx__poll_close(&l->poll);
    free(l);
}

/* ---- running ------------------------------------------------------------ */

/* Generated code trampolines once the stack reaches the floor: 1 MiB below
 * here, but never within 256 KiB of the real end of this thread's stack
 * (sanitizers make C frames bigger, and small thread stacks exist). */
static void loop_set_stack_floor(void)
{
    uintptr_t sp = (uintptr_t)__builtin_frame_address(0);
    uintptr_t floor = sp > (1u << 20) ? sp - (1u << 20) : 0;
    pthread_attr_t a;
    if (pthread_getattr_np(pthread_self(), &a) == 0) {
        void *lo;
        size_t size;
        if (pthread_attr_getstack(&a, &lo, &size) == 0 &&
            (uintptr_t)lo + (256u << 10) > floor)
            floor = (uintptr_t)lo + (256u << 10);
        pthread_attr_destroy(&a);
    }
    acx__stack_floor = (char *)floor;
}

/* Nothing is ready, no timer is pending, nothing outside the loop can
 * wake a task: no event can ever arrive, so say so. */
static int loop_stall(acx_loop *l)
{
    if (!l->stalled++) /* said once */
        acx__stall_report(l); /* every suspended task and what it waits on */
    return -EDEADLK;
}

/* Cancel main once acx_loop_stop was called (from any thread). */
static void loop_check_stop(acx_loop *l)
{
    if (atomic_load_explicit(&l->stop, memory_order_relaxed) &&
        !(l->main->flags & ACX__T_CANCEL)) {
        acx_task_cancel(l->main);
    }
}

/* Can nothing ever make a task ready again?  Not while a timer is
 * pending, a wait is registered with something outside the loop (a
 * future, an fd, a signal), a post is queued, or another thread holds a
 * reference to the loop (acx_loop_ref): it may still post to it. */
static int loop_stalled(acx_loop *l, int64_t timeout)
{
    return timeout < 0 && l->external == 0 &&
           atomic_load(&l->inbox) == NULL && !atomic_load(&l->stop) &&
           atomic_load(&l->refs) <= 1;
}

/* Run until DONE(l) holds.  Returns 0, -EDEADLK on a stall, or a poller
 * error. */
void acx__defer_free(acx_loop *l, acx__deferred *d, void *p)
{
    /* a task readied before now runs in the current round or the next */
    d->due = l->rounds + 2;
    d->p = p;
    d->next = l->deferred;
    l->deferred = d;
}

/* Free what is due (ALL: everything, the loop is ending). */
static void loop_free_deferred(acx_loop *l, int all)
{
    for (acx__deferred **pp = &l->deferred, *d; (d = *pp) != NULL;) {
        if (all || l->rounds >= d->due) {
            *pp = d->next;
            free(d->p); /* D is inside it */
        } else {
            pp = &d->next;
        }
    }
}

/* Tasks that keep yielding must not starve I/O: while the ready queue
 * never empties, the poller is still asked (without waiting) at least
 * every ACX__POLL_EVERY_NS.  The clock is read only every 64 rounds, so
 * a round costs a decrement; asyncio polls every iteration instead. */
#define ACX__POLL_EVERY_NS 1000000
static int loop_poll_due(acx_loop *l)
{
    if (l->poll_skip-- > 0)
        return 0;
    l->poll_skip = 63;
    int64_t now = acx__now_ns();
    if (l->last_poll == 0)
        l->last_poll = now; /* the first look since the last poll */
    if (now - l->last_poll < ACX__POLL_EVERY_NS)
        return 0;
    l->last_poll = now;
    return 1;
}

static int loop_until(acx_loop *l, int (*done)(const acx_loop *))
{
    for (;;) {
        loop_step();
        l->rounds++;
        if (__builtin_expect(l->deferred != NULL, 0))
            loop_free_deferred(l, 0);
        loop_take_posts(l);
        loop_check_stop(l);
        if (done(l))
            return 0;
        if (readyq_empty()) {
            int64_t timeout = loop_timeout_ns(l);
            if (loop_stalled(l, timeout))
                return loop_stall(l);
            int n = acx__poll_wait(&l->poll, timeout);
            if (n < 0)
                return n;
            loop_take_posts(l);
            loop_check_stop(l);
            l->poll_skip = 63;
            l->last_poll = 0; /* just polled: the clock is read later */
        } else if (__builtin_expect(loop_poll_due(l), 0)) {
            int n = acx__poll_wait(&l->poll, 0);
            if (n < 0)
                return n;
        }
        loop_expire(l);
    }
}

static int main_done(const acx_loop *l)
{
    return (l->main->flags & ACX__T_DONE) != 0;
}

static int all_done(const acx_loop *l)
{
    return l->live == 0;
}

/* asyncio.run's ending: cancel every task still pending and let them
 * unwind (their error paths run and free what they hold). */
static int loop_shutdown(acx_loop *l)
{
    l->shutting_down = 1;
    acx__sigs_shutdown(l); /* handlers no longer hide a stall */
    for (uint32_t i = 0; i < l->ntasks; i++)
        if (!(l->tasks[i]->flags & ACX__T_DONE))
            acx_task_cancel(l->tasks[i]);
    return all_done(l) ? 0 : loop_until(l, all_done);
}

/* Free every task left (stalled ones included) and the loop itself. */
static void loop_teardown(acx_loop *l)
{
    acx__cur_task = NULL;
    loop_close_inbox(l);
    acx__sigs_close(l); /* the thread's signal mask as it was */
    while (l->ntasks > 0)
        acx__task_destroy(l->tasks[--l->ntasks]);
    free(l->tasks);
    loop_free_deferred(l, 1);
    acx__calls_drop(l); /* calls that never ran: their handles */
    acx__heap_free(&l->timers);
    for (uint32_t i = 0; i < l->xcap; i++)
        if (l->xv[i] != NULL) {
            free(l->xv[i]->name);
            free(l->xv[i]);
        }
    free(l->xv);
    acx__readyq.head = acx__readyq.tail = NULL;
    acx__loop_cur = NULL;
    acx_loop_unref(l);
}

static acx_loop *loop_new(int *err)
{
    acx_loop *l = calloc(1, sizeof *l);
    if (l == NULL) {
        *err = -ENOMEM;
        return NULL;
    }
    acx__heap_init(&l->timers);
    atomic_init(&l->inbox, NULL);
    atomic_init(&l->refs, 1);
    atomic_init(&l->stop, 0);
    *err = acx__poll_open(&l->poll);
    if (*err < 0) {
        free(l);
        return NULL;
    }
    return l;
}

int acx_run(acx_coro *main)
{
    if (main == NULL)
        return -ENOMEM; /* acx_run(f()): f's frame could not be allocated */
    if (acx__loop_cur != NULL) {
        acx_coro_free(main); /* consumed */
        return -EBUSY;
    }
    int rc;
    acx_loop *l = loop_new(&rc);
    if (l == NULL) {
        acx_coro_free(main);
        return rc;
    }
    acx__loop_cur = l;
    loop_set_stack_floor();
    acx__debug_start(l); /* ACX_SLOW_STEP_MS, the dump signal */
    l->main = acx__spawn_at(main, NULL);
    if (l->main == NULL) {
        rc = -errno;
    } else {
        l->main->flags |= ACX__T_MAIN;
        rc = loop_until(l, main_done);
        int down = loop_shutdown(l);
        if (rc == 0)
            rc = main_done(l) ? acx_task_result_int(l->main) : down;
    }
    acx__default_executor_close(); /* asyncio.run's shutdown_default_executor */
    loop_teardown(l);
    return rc;
}
