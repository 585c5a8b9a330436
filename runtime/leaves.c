/* leaves.c - the runtime's hand-written awaitables: acx_yield, the
 * sleeps, acx__await (await of a task or coroutine handle), acx_shield and
 * the wait_for pair.
 *
 * Each follows the generated-code protocol (acx_abi.h): a frame, a body
 * switching on the resume state, an info, and a boxed constructor for
 * plain C callers.  A leaf that parks first asks acx__intr_check (a task
 * being cancelled or timed out does not suspend again), parks with itself
 * as the task's top frame, and has a cancel method so an interrupt can
 * take it back out of whatever would have woken it.
 */
#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "acx_internal.h"

/* The info acx__info_FN of the leaf FN (body acx__body_FN). */
#define ACX__LEAF_INFO(fn, type, cancel_fn, describe_fn)                   \
    ACX__LEAF_INFO_AS(, acx__info_##fn, type, #fn, acx__body_##fn,         \
                      cancel_fn, describe_fn)

/* A boxed, unstarted frame of TYPE for INFO, or NULL. */
#define LEAF_NEW(type, info) ((type *)(void *)acx__coro_alloc(sizeof(type), info))

/* ---- acx_yield -------------------------------------------------------- */

int acx__body_acx_yield(acx_coro *c)
{
    struct acx__frame_acx_yield *f = (struct acx__frame_acx_yield *)c;
    if (f->acx__state != 0 || (f->acx__ret = acx__intr_check()) != 0) {
        f->acx__ret = acx__intr_check();
        return ACX__DONE;
    }
    /* To the back of the queue: everyone ready now runs first. */
    acx__ready(acx__cur_task);
    f->acx__state = 1;
    acx__cur_task->top = c;
    return ACX__SUSPEND;
}

ACX__LEAF_INFO(acx_yield, struct acx__frame_acx_yield, NULL, NULL);

acx_coro *acx_yield(void)
{
    struct acx__frame_acx_yield *f =
        LEAF_NEW(struct acx__frame_acx_yield, &acx__info_acx_yield);
    if (f == NULL)
        return NULL;
    acx__init_acx_yield(f);
    return &f->acx__hdr;
}

/* ---- the sleeps ------------------------------------------------------- */

/* Both sleeps share a frame layout: state 0 computes WHEN and parks.
 * WHEN 0 is a yield; FUTURE: WHEN is known to lie ahead (now + ms), so
 * no second clock read looks for it past (one that found it past only
 * because the thread was descheduled between the two would turn the
 * sleep into a yield, out of deadline order with the timers). */
static int sleep_start(acx_coro *c, acx__timer *tm, int *ret, int64_t when,
                       int future)
{
    *ret = acx__intr_check();
    if (*ret != 0)
        return ACX__DONE;
    ACX__STATE(c) = 1;
    if (when == 0 || (!future && when <= acx__now_ns())) {
        acx__ready(acx__cur_task); /* sleep(0) is a yield */
        acx__cur_task->top = c;
        return ACX__SUSPEND;
    }
    tm->deadline = when;
    tm->task = acx__cur_task;
    int err = acx__heap_add(&acx__loop_cur->timers, tm);
    if (err) {
        *ret = err; /* -ENOMEM: the heap could not grow */
        return ACX__DONE;
    }
    acx__cur_task->top = c;
    return ACX__SUSPEND;
}

/* Resumed: the timer fired (ret 0), a cancel took it out (ret is the
 * interrupt), or it was a yield (which reports an interrupt like one). */
static int sleep_resume(acx__timer *tm, int *ret)
{
    if (*ret == 0 && tm->deadline == 0)
        *ret = acx__intr_check();
    return ACX__DONE;
}

static int sleep_cancel(acx_coro *c, int err)
{
    struct acx__frame_acx_sleep_ms *f = (struct acx__frame_acx_sleep_ms *)c;
    acx__heap_remove(&acx__loop_cur->timers, &f->timer);
    f->acx__ret = err;
    return 1;
}

static int sleep_describe(const acx_coro *c, char *buf, size_t size)
{
    const struct acx__frame_acx_sleep_ms *f =
        (const struct acx__frame_acx_sleep_ms *)c;
    int64_t left = f->timer.deadline - acx__now_ns();
    return snprintf(buf, size, "timer, due in %.3f ms",
                    (double)(left > 0 ? left : 0) / 1e6);
}

int acx__body_acx_sleep_ms(acx_coro *c)
{
    struct acx__frame_acx_sleep_ms *f = (struct acx__frame_acx_sleep_ms *)c;
    if (f->acx__state != 0)
        return sleep_resume(&f->timer, &f->acx__ret);
    int64_t ms = f->timer.deadline; /* the init parked the delay here */
    f->timer.deadline = 0;           /* 0: no timer (a yield) */
    f->timer.heap_idx = ACX__NO_SLOT;
    return sleep_start(c, &f->timer, &f->acx__ret,
                       ms <= 0 ? 0 : acx__deadline_after_ms(ms), 1);
}

ACX__LEAF_INFO(acx_sleep_ms, struct acx__frame_acx_sleep_ms, sleep_cancel,
               sleep_describe);

acx_coro *acx_sleep_ms(int64_t ms)
{
    struct acx__frame_acx_sleep_ms *f =
        LEAF_NEW(struct acx__frame_acx_sleep_ms, &acx__info_acx_sleep_ms);
    if (f == NULL)
        return NULL;
    acx__init_acx_sleep_ms(f, ms);
    return &f->acx__hdr;
}

int acx__body_acx_sleep_until(acx_coro *c)
{
    struct acx__frame_acx_sleep_until *f =
        (struct acx__frame_acx_sleep_until *)c;
    if (f->acx__state != 0)
        return sleep_resume(&f->timer, &f->acx__ret);
    int64_t when = f->timer.deadline;
    f->timer.deadline = 0;
    f->timer.heap_idx = ACX__NO_SLOT;
    return sleep_start(c, &f->timer, &f->acx__ret, when, 0);
}

_Static_assert(sizeof(struct acx__frame_acx_sleep_until) ==
                       sizeof(struct acx__frame_acx_sleep_ms) &&
                   offsetof(struct acx__frame_acx_sleep_until, timer) ==
                       offsetof(struct acx__frame_acx_sleep_ms, timer),
               "the sleeps share their cancel and describe methods");

ACX__LEAF_INFO(acx_sleep_until, struct acx__frame_acx_sleep_until,
               sleep_cancel, sleep_describe);

acx_coro *acx_sleep_until(int64_t when_ns)
{
    struct acx__frame_acx_sleep_until *f = LEAF_NEW(
        struct acx__frame_acx_sleep_until, &acx__info_acx_sleep_until);
    if (f == NULL)
        return NULL;
    acx__init_acx_sleep_until(f, when_ns);
    return &f->acx__hdr;
}

/* ---- acx__await: await of a handle ------------------------------------ */

enum { AW_START, AW_TASK_WAIT, AW_CORO_RUN };

typedef struct acx__frame_acx__await await_frame;

static await_frame *await_of(acx__waiter *w)
{
    return (await_frame *)(void *)((char *)w - offsetof(await_frame, waiter));
}

/* The awaited task finished.  After an interrupt we cancelled it: if it
 * ended cancelled the awaiter reports the interrupt, else its result. */
static void await_notify(acx__waiter *w, acx_task *t)
{
    await_frame *f = await_of(w);
    int r = acx_task_result_int(t);
    if (f->intr != 0 && acx_task_cancelled(t)) {
        int now = acx__intr_err(f->self);
        r = now != 0 ? now : f->intr;
    }
    f->acx__ret = r;
    acx__ready(f->self);
}

static int await_cancel(acx_coro *c, int err)
{
    await_frame *f = (await_frame *)c;
    acx_task *t = f->what.ptr;
    if (f->what.kind == ACX__AW_SHIELD) {
        acx__task_unwatch(t, &f->waiter);
        f->acx__ret = err;
        return 1;
    }
    /* asyncio's rule: cancelling the awaiter cancels the awaited task, and
     * the awaiter waits for it to end (no task outlives its consumer
     * unnoticed); the notify decides what the await returns. */
    int first = f->intr == 0;
    f->intr = err;
    if (first) /* (a cycle of awaits must not cancel in circles) */
        acx_task_cancel(t);
    return 0;
}

static int await_describe(const acx_coro *c, char *buf, size_t size)
{
    const await_frame *f = (const await_frame *)c;
    if (f->what.kind == ACX__AW_CORO) /* parked in the child, not here */
        return snprintf(buf, size, "await of coroutine %s",
                        f->what.ptr ? acx_coro_name(f->what.ptr) : "?");
    const acx_task *t = f->what.ptr;
    return snprintf(buf, size, "%s task '%s'",
                    f->what.kind == ACX__AW_SHIELD ? "shielded await of"
                                                   : "await of",
                    acx_task_name(t));
}

static int await_task_start(await_frame *f, acx_task *t)
{
    t->flags |= ACX__T_OBSERVED;
    if (acx_task_done(t)) {
        f->acx__ret = acx_task_result_int(t);
        return ACX__DONE;
    }
    if (t == acx__cur_task) {
        f->acx__ret = -EDEADLK; /* it would wait for itself forever */
        return ACX__DONE;
    }
    if ((f->acx__ret = acx__intr_check()) != 0)
        return ACX__DONE;
    f->self = acx__cur_task;
    f->intr = 0;
    f->waiter.notify = await_notify;
    acx__task_watch(t, &f->waiter);
    f->acx__state = AW_TASK_WAIT;
    acx__cur_task->top = &f->acx__hdr;
    return ACX__SUSPEND;
}

static int await_start(await_frame *f)
{
    if (f->what.ptr == NULL) { /* a failed spawn, or f(...) out of memory */
        f->acx__ret = f->what.kind == ACX__AW_CORO ? -ENOMEM : -EINVAL;
        return ACX__DONE;
    }
    if (f->what.kind == ACX__AW_TASK || f->what.kind == ACX__AW_SHIELD)
        return await_task_start(f, f->what.ptr);
    if (f->what.kind == ACX__AW_CORO) {
        acx_coro *child = f->what.ptr;
        child->parent = &f->acx__hdr;
        f->acx__state = AW_CORO_RUN;
        return acx__push(child);
    }
    f->acx__ret = -EINVAL;
    return ACX__DONE;
}

int acx__body_acx__await(acx_coro *c)
{
    await_frame *f = (await_frame *)c;
    switch (f->acx__state) {
    case AW_START:
        return await_start(f);
    case AW_TASK_WAIT:
        return ACX__DONE; /* the notify or the cancel has set ret */
    case AW_CORO_RUN: {
        acx_coro *child = f->what.ptr;
        f->acx__ret =
            child->info->result_int ? child->info->result_int(child) : 0;
        acx_coro_free(child);
        f->what.ptr = NULL;
        return ACX__DONE;
    }
    }
    return ACX__DONE;
}

ACX__LEAF_INFO(acx__await, await_frame, await_cancel, await_describe);

acx_coro *acx_shield(acx_task *t)
{
    await_frame *f = LEAF_NEW(await_frame, &acx__info_acx__await);
    if (f == NULL)
        return NULL;
    acx__awaitable what = {ACX__AW_SHIELD, t};
    acx__init_acx__await(f, what);
    return &f->acx__hdr;
}

/* ---- wait_for: a timeout scope around one await ----------------------- */

struct wait_for_frame {
    ACX__FRAME_PREFIX;
    int acx__ret;
    int64_t ms;
    acx_scope scope;
    acx_coro *child;     /* wait_for: the boxed coroutine */
    await_frame aw;      /* wait_for_task: the await, embedded */
};

enum { WF_START, WF_CORO, WF_TASK };

static int wait_for_body(acx_coro *c)
{
    struct wait_for_frame *f = (struct wait_for_frame *)c;
    switch (f->acx__state) {
    case WF_START: {
        int err = acx_timeout_begin(&f->scope, f->ms);
        if (err == 0 && f->child == NULL && f->aw.what.ptr == NULL)
            /* wait_for(f(...)): f's frame could not be allocated */
            err = f->aw.what.kind == ACX__AW_CORO ? -ENOMEM : -EINVAL;
        if (err) {
            if (f->scope.task != NULL)
                acx_timeout_end(&f->scope);
            acx_coro_free(f->child);
            f->child = NULL;
            f->acx__ret = err;
            return ACX__DONE;
        }
        if (f->child != NULL) {
            f->child->parent = c;
            f->acx__state = WF_CORO;
            return acx__push(f->child);
        }
        f->aw.acx__hdr.parent = c;
        f->acx__state = WF_TASK;
        int r = acx__body_acx__await(&f->aw.acx__hdr);
        if (r != ACX__DONE)
            return r;
        break;
    }
    case WF_CORO: {
        acx_coro *child = f->child;
        f->acx__ret =
            child->info->result_int ? child->info->result_int(child) : 0;
        acx_coro_free(child);
        f->child = NULL;
        acx_timeout_end(&f->scope);
        return ACX__DONE;
    }
    case WF_TASK:
        break;
    }
    f->acx__ret = f->aw.acx__ret;
    acx_timeout_end(&f->scope);
    return ACX__DONE;
}

ACX__LEAF_INFO_AS(static, wait_for_info, struct wait_for_frame,
                  "acx_wait_for", wait_for_body, NULL, NULL);

static struct wait_for_frame *wait_for_new(int64_t ms)
{
    struct wait_for_frame *f = LEAF_NEW(struct wait_for_frame,
                                        &wait_for_info);
    if (f == NULL)
        return NULL;
    f->acx__ret = 0;
    f->ms = ms;
    f->child = NULL;
    f->scope.task = NULL;
    f->aw.what.ptr = NULL;
    f->aw.what.kind = ACX__AW_CORO; /* wait_for_task sets its own */
    return f;
}

acx_coro *acx_wait_for(acx_coro *c, int64_t ms)
{
    struct wait_for_frame *f = wait_for_new(ms);
    if (f == NULL) {
        acx_coro_free(c);
        return NULL;
    }
    f->child = c;
    return &f->acx__hdr;
}

acx_coro *acx_wait_for_task(acx_task *t, int64_t ms)
{
    struct wait_for_frame *f = wait_for_new(ms);
    if (f == NULL)
        return NULL;
    acx__init_acx__await(&f->aw, acx__aw_task(t));
    return &f->acx__hdr;
}
