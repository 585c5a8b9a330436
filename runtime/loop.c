/* loop.c - the per-thread event loop: the ready FIFO, steps, acx_run.
 *
 * One step runs exactly the tasks that were ready when it began, in FIFO
 * order; tasks made ready meanwhile run in the next step (asyncio's
 * call_soon).  Between steps the loop sleeps in the poller until the
 * earliest timer when nothing is ready, then moves expired timers' tasks to
 * the ready FIFO in (deadline, seq) order.
 */
#define _GNU_SOURCE /* pthread_getattr_np */
#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "acx_internal.h"

__thread struct acx__loop *acx__loop_cur;
__thread struct acx__readyq acx__readyq;

/* Run the tasks ready now; detaching the list first is what defers tasks
 * readied during the step to the next one. */
static void loop_step(struct acx__loop *l)
{
    (void)l;
    acx_task *t = acx__readyq.head;
    acx__readyq.head = acx__readyq.tail = NULL;
    while (t != NULL) {
        acx_task *next = t->next; /* T may be freed when it finishes */
        if (next != NULL) /* the chain of loads the next resume waits on */
            __builtin_prefetch(next->top);
        t->flags &= ~(uint32_t)ACX__T_READY; /* acx__ready resets next */
        acx__cur_task = t;
        acx__task_run(t);
        t = next;
    }
    acx__cur_task = NULL;
}

static void loop_expire(struct acx__loop *l)
{
    if (l->timers.n == 0)
        return;
    int64_t now = acx__now_ns();
    acx__timer *tm;
    while ((tm = acx__heap_peek(&l->timers)) != NULL && tm->deadline <= now) {
        acx__heap_pop(&l->timers);
        acx__ready(tm->task);
    }
}

/* Milliseconds until the earliest timer, rounded up so a sleep is never
 * cut short. */
static int loop_timeout_ms(const struct acx__loop *l)
{
    int64_t d = acx__heap_peek(&l->timers)->deadline - acx__now_ns();
    if (d <= 0)
        return 0;
    int64_t ms = d / 1000000 + (d % 1000000 != 0);
    return ms > INT_MAX ? INT_MAX : (int)ms;
}

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

/* Nothing is ready, no timer is pending and main has not finished: no
 * event can ever arrive (there are no I/O sources yet), so say so. */
static int loop_stall(struct acx__loop *l)
{
    uint32_t pending = 0;
    for (uint32_t i = 0; i < l->ntasks; i++)
        pending += !(l->tasks[i]->flags & ACX__T_DONE);
    fprintf(stderr,
            "acx: stall: %u task(s) suspended, none ready and no timer "
            "pending; main waits in %s\n",
            pending, l->main->top->info->name);
    return -EDEADLK;
}

static int loop_until_main_done(struct acx__loop *l)
{
    for (;;) {
        loop_step(l);
        if (l->main->flags & ACX__T_DONE)
            return 0;
        if (acx__readyq.head == NULL) {
            if (l->timers.n == 0)
                return loop_stall(l);
            int n = acx__poll_wait(&l->poll, loop_timeout_ms(l));
            if (n < 0)
                return n;
        }
        loop_expire(l);
    }
}

/* Free every task left (suspended ones included) and the loop itself. */
static void loop_teardown(struct acx__loop *l)
{
    acx__cur_task = NULL;
    for (uint32_t i = 0; i < l->ntasks; i++)
        acx__task_destroy(l->tasks[i]);
    free(l->tasks);
    acx__heap_free(&l->timers);
    acx__poll_close(&l->poll);
    acx__loop_cur = NULL;
}

int acx_run(acx_coro *main)
{
    if (main == NULL)
        return -EINVAL;
    if (acx__loop_cur != NULL) {
        acx_coro_free(main); /* consumed */
        return -EBUSY;
    }
    struct acx__loop l;
    memset(&l, 0, sizeof l);
    acx__heap_init(&l.timers);
    int rc = acx__poll_open(&l.poll);
    if (rc < 0) {
        acx_coro_free(main);
        return rc;
    }
    acx__loop_cur = &l;
    loop_set_stack_floor();
    l.main = acx_spawn(main);
    if (l.main == NULL) {
        rc = -errno;
    } else {
        l.main->flags |= ACX__T_MAIN;
        rc = loop_until_main_done(&l);
        if (rc == 0)
            rc = acx_task_result_int(l.main);
    }
    loop_teardown(&l);
    return rc;
}
