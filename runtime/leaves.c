/* leaves.c - the runtime's hand-written awaitables: acx_yield,
 * acx_sleep_ms and acx__await (await of a task or coroutine handle).
 *
 * Each follows the generated-code protocol (acx_abi.h): a frame, a body
 * switching on the resume state, an info, and a boxed constructor for
 * plain C callers.
 */
#include <errno.h>
#include <stddef.h>
#include <stdint.h>

#include "acx_internal.h"

#define ACX__LEAF_INFO(fn, type)                                           \
    static int fn##_result(const acx_coro *c)                              \
    {                                                                      \
        return ((const type *)c)->acx__ret;                                     \
    }                                                                      \
    const acx__info acx__info_##fn = {                                     \
        .body = acx__body_##fn,                                            \
        .name = #fn,                                                       \
        .file = "<runtime>",                                               \
        .line = 0,                                                         \
        .size = sizeof(type),                                              \
        .nsites = 0,                                                       \
        .sites = NULL,                                                     \
        .ret_offset = offsetof(type, acx__ret),                                 \
        .ret_size = sizeof(((type *)0)->acx__ret),                              \
        .result_int = fn##_result,                                         \
        .align = _Alignof(type),                                           \
    }

/* ---- acx_yield -------------------------------------------------------- */

int acx__body_acx_yield(acx_coro *c)
{
    struct acx__frame_acx_yield *f = (struct acx__frame_acx_yield *)c;
    f->acx__ret = 0;
    if (f->acx__state != 0)
        return ACX__DONE;
    /* To the back of the queue: everyone ready now runs first. */
    acx__ready(acx__cur_task);
    f->acx__state = 1;
    return acx__park_leaf(c);
}

ACX__LEAF_INFO(acx_yield, struct acx__frame_acx_yield);

acx_coro *acx_yield(void)
{
    struct acx__frame_acx_yield *f = (struct acx__frame_acx_yield *)
        acx__coro_alloc(sizeof *f, &acx__info_acx_yield);
    if (f == NULL)
        return NULL;
    acx__init_acx_yield(f);
    return &f->acx__hdr;
}

/* ---- acx_sleep_ms ----------------------------------------------------- */

/* now + MS milliseconds, saturating instead of overflowing. */
static int64_t deadline_after_ms(int64_t ms)
{
    int64_t now = acx__now_ns();
    if (ms > (INT64_MAX - now) / 1000000)
        return INT64_MAX;
    return now + ms * 1000000;
}

int acx__body_acx_sleep_ms(acx_coro *c)
{
    struct acx__frame_acx_sleep_ms *f = (struct acx__frame_acx_sleep_ms *)c;
    f->acx__ret = 0;
    if (f->acx__state != 0)
        return ACX__DONE;
    int64_t ms = f->timer.deadline; /* the init parked the delay here */
    f->acx__state = 1;
    if (ms <= 0) {
        acx__ready(acx__cur_task); /* sleep(0) is a yield */
        return acx__park_leaf(c);
    }
    f->timer.deadline = deadline_after_ms(ms);
    f->timer.task = acx__cur_task;
    int err = acx__heap_add(&acx__loop_cur->timers, &f->timer);
    if (err) {
        f->acx__ret = err; /* -ENOMEM: the heap could not grow */
        return ACX__DONE;
    }
    return acx__park_leaf(c);
}

ACX__LEAF_INFO(acx_sleep_ms, struct acx__frame_acx_sleep_ms);

acx_coro *acx_sleep_ms(int64_t ms)
{
    struct acx__frame_acx_sleep_ms *f = (struct acx__frame_acx_sleep_ms *)
        acx__coro_alloc(sizeof *f, &acx__info_acx_sleep_ms);
    if (f == NULL)
        return NULL;
    acx__init_acx_sleep_ms(f, ms);
    return &f->acx__hdr;
}

/* ---- acx__await: await of a handle ------------------------------------ */

enum { AW_START, AW_TASK_WAIT, AW_CORO_RUN };

/* Link W at the tail of T's waiters (a circular list kept by its tail). */
static void waiter_append(acx_task *t, acx__waiter *w)
{
    acx__waiter *tail = t->waiters;
    if (tail == NULL) {
        w->next = w;
    } else {
        w->next = tail->next;
        tail->next = w;
    }
    t->waiters = w;
}

void acx__waiter_deliver(acx__waiter *w, int result)
{
    struct acx__frame_acx__await *f = (struct acx__frame_acx__await *)(void *)
        ((char *)w - offsetof(struct acx__frame_acx__await, waiter));
    f->acx__ret = result;
}

static int await_start(struct acx__frame_acx__await *f)
{
    if (f->what.ptr == NULL) {
        f->acx__ret = -EINVAL;
        return ACX__DONE;
    }
    if (f->what.kind == ACX__AW_TASK) {
        acx_task *t = f->what.ptr;
        if (acx_task_done(t)) {
            f->acx__ret = acx_task_result_int(t);
            return ACX__DONE;
        }
        if (t == acx__cur_task) {
            f->acx__ret = -EDEADLK; /* it would wait for itself forever */
            return ACX__DONE;
        }
        f->waiter.task = acx__cur_task;
        waiter_append(t, &f->waiter);
        f->acx__state = AW_TASK_WAIT;
        return acx__park_leaf(&f->acx__hdr); /* the result is delivered */
    }
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
    struct acx__frame_acx__await *f = (struct acx__frame_acx__await *)c;
    switch (f->acx__state) {
    case AW_START:
        return await_start(f);
    case AW_TASK_WAIT:
        return ACX__DONE; /* acx__waiter_deliver has set ret */
    case AW_CORO_RUN: {
        acx_coro *child = f->what.ptr;
        f->acx__ret = child->info->result_int ? child->info->result_int(child) : 0;
        acx_coro_free(child);
        f->what.ptr = NULL;
        return ACX__DONE;
    }
    }
    return ACX__DONE;
}

ACX__LEAF_INFO(acx__await, struct acx__frame_acx__await);
