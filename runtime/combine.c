/* combine.c - awaiting many tasks at once: gather, wait, as_completed.
 *
 * Each is a hand-written leaf (acx_abi.h's protocol) holding one watcher
 * per task (acx__watch, an array allocated when it starts): a task's end
 * notifies its watcher, which records the result and readies the
 * awaiting task when the combinator's condition holds.  A watcher's
 * notify is cleared once it has fired or been taken back, so nothing here
 * touches a finished task, which may have been freed (released) since.
 */
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "acx_internal.h"

#define LEAF_INFO(sym, nm, type, body_fn, cancel_fn, describe_fn)          \
    static int sym##_result(const acx_coro *c)                             \
    {                                                                      \
        return ((const type *)c)->acx__ret;                                \
    }                                                                      \
    const acx__info sym = {                                                \
        .body = body_fn,                                                   \
        .name = nm,                                                        \
        .file = "<runtime>",                                               \
        .size = sizeof(type),                                              \
        .ret_offset = offsetof(type, acx__ret),                            \
        .ret_size = sizeof(int),                                           \
        .result_int = sym##_result,                                        \
        .align = _Alignof(type),                                           \
        .cancel = cancel_fn,                                               \
        .describe = describe_fn,                                           \
    }

/* A boxed, unstarted frame of TYPE for INFO, or NULL. */
#define LEAF_NEW(type, info)                                               \
    ((type *)(void *)acx__coro_alloc(sizeof(type), info))

/* Park the running task in leaf frame C (state 1: the result is set by
 * whoever readies it). */
static int park(acx_coro *c)
{
    ACX__STATE(c) = 1;
    acx__cur_task->top = c;
    return ACX__SUSPEND;
}

/* ---- watchers ---------------------------------------------------------- */

static void watch_on(acx__watch *e, void *owner, acx_task *t,
                     void (*notify)(acx__waiter *, acx_task *))
{
    e->owner = owner;
    e->task = t;
    e->w.notify = notify;
    acx__task_watch(t, &e->w);
}

/* Take E back if it still watches.  When its task is finishing right now
 * (we run inside one of its watchers) E is off the task's list already
 * but its notify is still to be called: it stays set, and the owner must
 * ignore that call. */
static void watch_off(acx__watch *e)
{
    if (e->w.notify != NULL && acx__task_unwatch(e->task, &e->w))
        e->w.notify = NULL;
}

/* The unfinished tasks of N watchers: cancel them (each at most once
 * matters: acx_task_cancel of a cancelled task does nothing). */
static void watch_cancel_all(acx__watch *v, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (v[i].w.notify != NULL)
            acx_task_cancel(v[i].task);
}

/* Failed, as FIRST_EXCEPTION and task groups mean it: a negative result
 * that is not the -ECANCELED of a task that was cancelled. */
static int task_failed(const acx_task *t)
{
    return acx_task_result_int(t) < 0 && !acx_task_cancelled(t);
}

/* ---- gather ------------------------------------------------------------ */

typedef struct acx__frame_acx_gather gather_frame;

_Static_assert(sizeof(struct acx__frame_acx_gather) ==
                       sizeof(struct acx__frame_acx_gather_coros) &&
                   offsetof(struct acx__frame_acx_gather, g) ==
                       offsetof(struct acx__frame_acx_gather_coros, g),
               "both gathers share one body");

/* Entry I completed with R, in completion order. */
static void gather_record(struct acx__gather *g, size_t i, int r)
{
    if (g->results != NULL)
        g->results[i] = r;
    if (r < 0 && g->first_err == 0)
        g->first_err = r;
    g->pending--;
}

static void gather_notify(acx__waiter *w, acx_task *t)
{
    acx__watch *e = (acx__watch *)w;
    gather_frame *f = e->owner;
    e->w.notify = NULL;
    gather_record(&f->g, (size_t)(e - f->g.watch), acx_task_result_int(t));
    if (f->g.pending == 0)
        acx__ready(f->g.self);
}

static int gather_finish(gather_frame *f)
{
    struct acx__gather *g = &f->g;
    free(g->watch);
    g->watch = NULL;
    f->acx__ret = g->first_err;
    if (g->intr != 0) { /* report the interrupt as it stands now */
        int now = acx__intr_err(acx__cur_task);
        f->acx__ret = now != 0 ? now : g->intr;
    }
    return ACX__DONE;
}

/* Entry I's task: the caller's, or coroutine I spawned (and released: the
 * task is ours, freed once it has finished and told us).  NULL with *ERR
 * when there is none. */
static acx_task *gather_task(struct acx__gather *g, size_t i, int *err)
{
    if (g->coros == NULL) {
        *err = -EINVAL;
        return g->tasks[i];
    }
    acx_task *t = acx__spawn_at(g->coros[i], NULL);
    g->coros[i] = NULL; /* consumed */
    if (t == NULL)
        *err = -errno;
    acx_task_release(t);
    return t;
}

/* Watch every entry; those that cannot be waited for complete now. */
static void gather_watch(gather_frame *f)
{
    struct acx__gather *g = &f->g;
    for (size_t i = 0; i < g->n; i++) {
        acx__watch *e = &g->watch[i];
        int err = 0;
        acx_task *t = gather_task(g, i, &err);
        e->w.notify = NULL;
        e->task = t;
        if (t == NULL) {
            gather_record(g, i, err);
        } else if (t == g->self) {
            gather_record(g, i, -EDEADLK); /* it would wait for itself */
        } else if (acx_task_done(t)) {
            t->flags |= ACX__T_OBSERVED;
            gather_record(g, i, acx_task_result_int(t));
        } else {
            watch_on(e, f, t, gather_notify);
        }
    }
}

/* Give up before anything was watched or spawned: free what would have
 * been spawned (the coroutines are consumed) and return ERR. */
static int gather_refuse(gather_frame *f, int err)
{
    struct acx__gather *g = &f->g;
    for (size_t i = 0; g->coros != NULL && i < g->n; i++) {
        acx_coro_free(g->coros[i]);
        g->coros[i] = NULL;
    }
    f->acx__ret = err;
    return ACX__DONE;
}

static int gather_start(gather_frame *f)
{
    struct acx__gather *g = &f->g;
    g->watch = NULL;
    g->self = acx__cur_task;
    g->first_err = 0;
    g->intr = 0;
    g->pending = g->n;
    if (g->n == 0)
        return gather_refuse(f, 0);
    if (g->tasks == NULL && g->coros == NULL)
        return gather_refuse(f, -EINVAL);
    int err = g->coros != NULL ? acx__intr_check() : 0;
    if (err)
        return gather_refuse(f, err); /* spawn nothing that must be waited */
    if (g->n > SIZE_MAX / sizeof *g->watch ||
        (g->watch = malloc(g->n * sizeof *g->watch)) == NULL)
        return gather_refuse(f, -ENOMEM);
    gather_watch(f);
    if (g->pending == 0)
        return gather_finish(f);
    if ((err = acx__intr_check()) != 0) { /* only tasks of the caller's */
        for (size_t i = 0; i < g->n; i++)
            watch_off(&g->watch[i]);
        gather_finish(f);
        f->acx__ret = err;
        return ACX__DONE;
    }
    return park(&f->acx__hdr);
}

int acx__body_acx_gather(acx_coro *c)
{
    gather_frame *f = (gather_frame *)c;
    if (f->acx__state == 0)
        return gather_start(f);
    return gather_finish(f); /* the last notify readied us */
}

int acx__body_acx_gather_coros(acx_coro *c)
{
    return acx__body_acx_gather(c);
}

/* The awaiting task is interrupted: asyncio cancels the children and the
 * gather ends once they all have; keep waiting (the last notify readies
 * the task). */
static int gather_cancel(acx_coro *c, int err)
{
    struct acx__gather *g = &((gather_frame *)c)->g;
    if (g->intr == 0) {
        g->intr = err;
        watch_cancel_all(g->watch, g->n);
    }
    return 0;
}

static int gather_describe(const acx_coro *c, char *buf, size_t size)
{
    const struct acx__gather *g = &((const gather_frame *)c)->g;
    return snprintf(buf, size, "gather of %zu task(s), %zu pending%s", g->n,
                    g->pending, g->intr ? ", cancelling them" : "");
}

LEAF_INFO(acx__info_acx_gather, "acx_gather", gather_frame,
          acx__body_acx_gather, gather_cancel, gather_describe);
LEAF_INFO(acx__info_acx_gather_coros, "acx_gather_coros", gather_frame,
          acx__body_acx_gather_coros, gather_cancel, gather_describe);

acx_coro *acx_gather(size_t n, acx_task **tasks, int *results)
{
    gather_frame *f = LEAF_NEW(gather_frame, &acx__info_acx_gather);
    if (f == NULL)
        return NULL;
    acx__init_acx_gather(f, n, tasks, results);
    return &f->acx__hdr;
}

acx_coro *acx_gather_coros(size_t n, acx_coro **coros, int *results)
{
    struct acx__frame_acx_gather_coros *f = LEAF_NEW(
        struct acx__frame_acx_gather_coros, &acx__info_acx_gather_coros);
    if (f == NULL) {
        for (size_t i = 0; coros != NULL && i < n; i++)
            acx_coro_free(coros[i]); /* consumed, even on failure */
        return NULL;
    }
    acx__init_acx_gather_coros(f, n, coros, results);
    return &f->acx__hdr;
}

/* ---- wait -------------------------------------------------------------- */

typedef struct acx__frame_acx_wait wait_frame;

static int wait_met(const wait_frame *f)
{
    switch (f->when) {
    case ACX_FIRST_COMPLETED:
        return f->ndone > 0;
    case ACX_FIRST_EXCEPTION:
        return f->nfailed > 0 || f->ndone == f->n;
    default:
        return f->ndone == f->n;
    }
}

/* The result is decided: stop watching and timing.  The value is how many
 * entries are done now, counting those whose task is finishing this very
 * moment (a task listed twice whose other entry fired first). */
static void wait_settle(wait_frame *f, int err)
{
    f->finished = 1;
    for (size_t i = 0; i < f->n; i++) {
        acx__watch *e = &f->watch[i];
        if (e->w.notify != NULL && acx_task_done(e->task))
            f->ndone++;
        watch_off(e);
    }
    acx__cbtimer_disarm(&f->timer);
    f->acx__ret = err != 0 ? err : (int)f->ndone;
}

static void wait_notify(acx__waiter *w, acx_task *t)
{
    acx__watch *e = (acx__watch *)w;
    wait_frame *f = e->owner;
    if (f->finished)
        return; /* settled while T's watchers were being told */
    e->w.notify = NULL;
    f->ndone++;
    f->nfailed += task_failed(t);
    if (wait_met(f)) {
        wait_settle(f, 0);
        acx__ready(f->self);
    }
}

static void wait_timeout(acx__cbtimer *c)
{
    wait_frame *f = (wait_frame *)(void *)((char *)c -
                                            offsetof(wait_frame, timer));
    if (f->finished)
        return;
    wait_settle(f, 0);
    acx__ready(f->self);
}

static int wait_check_args(const wait_frame *f)
{
    if (f->when != ACX_FIRST_COMPLETED && f->when != ACX_FIRST_EXCEPTION &&
        f->when != ACX_ALL_COMPLETED)
        return -EINVAL;
    if (f->n > 0 && f->tasks == NULL)
        return -EINVAL;
    for (size_t i = 0; i < f->n; i++)
        if (f->tasks[i] == NULL || f->tasks[i] == acx__cur_task)
            return -EINVAL;
    if (f->n > SIZE_MAX / sizeof *f->watch || f->n > INT32_MAX)
        return -ENOMEM;
    return 0;
}

static int wait_done(wait_frame *f)
{
    free(f->watch);
    f->watch = NULL;
    return ACX__DONE;
}

static int wait_start(wait_frame *f)
{
    f->watch = NULL;
    f->finished = 0;
    f->ndone = f->nfailed = 0;
    f->self = acx__cur_task;
    f->timer.tm.heap_idx = ACX__NO_SLOT;
    f->timer.fire = wait_timeout;
    int err = wait_check_args(f);
    if (err != 0 || f->n == 0) {
        f->acx__ret = err;
        return ACX__DONE;
    }
    if ((f->watch = malloc(f->n * sizeof *f->watch)) == NULL) {
        f->acx__ret = -ENOMEM;
        return ACX__DONE;
    }
    for (size_t i = 0; i < f->n; i++) {
        acx_task *t = f->tasks[i];
        f->watch[i].w.notify = NULL;
        f->watch[i].task = t;
        if (!acx_task_done(t))
            watch_on(&f->watch[i], f, t, wait_notify);
        else {
            f->ndone++;
            f->nfailed += task_failed(t);
        }
    }
    if (wait_met(f) || f->timeout_ms == 0) {
        wait_settle(f, 0);
        return wait_done(f);
    }
    if ((err = acx__intr_check()) == 0 && f->timeout_ms > 0)
        err = acx__cbtimer_arm(&f->timer,
                               acx__deadline_after_ms(f->timeout_ms));
    if (err) {
        wait_settle(f, err);
        return wait_done(f);
    }
    return park(&f->acx__hdr);
}

int acx__body_acx_wait(acx_coro *c)
{
    wait_frame *f = (wait_frame *)c;
    if (f->acx__state == 0)
        return wait_start(f);
    return wait_done(f);
}

/* asyncio.wait leaves the tasks alone when its caller is cancelled. */
static int wait_cancel(acx_coro *c, int err)
{
    wait_settle((wait_frame *)c, err);
    return 1;
}

static int wait_describe(const acx_coro *c, char *buf, size_t size)
{
    const wait_frame *f = (const wait_frame *)c;
    static const char *const what[] = {"?", "first completed",
                                       "first exception", "all completed"};
    return snprintf(buf, size, "wait (%s) for %zu task(s), %zu done",
                    what[f->when & 3], f->n, f->ndone);
}

LEAF_INFO(acx__info_acx_wait, "acx_wait", wait_frame, acx__body_acx_wait,
          wait_cancel, wait_describe);

acx_coro *acx_wait(size_t n, acx_task **tasks, int return_when,
                   int64_t timeout_ms)
{
    wait_frame *f = LEAF_NEW(wait_frame, &acx__info_acx_wait);
    if (f == NULL)
        return NULL;
    acx__init_acx_wait(f, n, tasks, return_when, timeout_ms);
    return &f->acx__hdr;
}

/* ---- as_completed ------------------------------------------------------ */

typedef struct acx__frame_acx_as_completed_next next_frame;

static int ac_take(acx_as_completed *ac, acx_task **out)
{
    struct acx__ac_done d = ac->done[ac->head++];
    ac->given++;
    if (out != NULL)
        *out = d.task;
    return d.result;
}

/* Hand R to the parked next, if any, and ready its task. */
static void ac_wake(acx_as_completed *ac, int r, acx_task *t)
{
    next_frame *f = ac->waiting;
    ac->waiting = NULL;
    f->acx__ret = r;
    if (f->out != NULL)
        *f->out = t;
    acx__ready(f->self);
}

static void ac_notify(acx__waiter *w, acx_task *t)
{
    acx__watch *e = (acx__watch *)w;
    acx_as_completed *ac = e->owner;
    e->w.notify = NULL;
    ac->done[ac->tail].task = t;
    ac->done[ac->tail++].result = acx_task_result_int(t);
    if (ac->waiting != NULL) {
        acx_task *got = NULL;
        int r = ac_take(ac, &got);
        ac_wake(ac, r, got);
    }
}

/* The deadline passed: what finished before it is still handed out; the
 * rest is not watched any more and each of it becomes a -ETIMEDOUT. */
static void ac_timeout(acx__cbtimer *c)
{
    acx_as_completed *ac = (acx_as_completed *)(void *)(
        (char *)c - offsetof(acx_as_completed, timer));
    ac->timed_out = 1;
    for (size_t i = 0; i < ac->n; i++)
        watch_off(&ac->watch[i]);
    if (ac->waiting != NULL) { /* so nothing was queued */
        ac->given++;
        ac_wake(ac, -ETIMEDOUT, NULL);
    }
}

int acx_as_completed_init(acx_as_completed *ac, size_t n, acx_task **tasks,
                          int64_t timeout_ms)
{
    if (ac == NULL)
        return -EINVAL;
    memset(ac, 0, sizeof *ac);
    if (acx__loop_cur == NULL || (n > 0 && tasks == NULL))
        return -EINVAL;
    for (size_t i = 0; i < n; i++)
        if (tasks[i] == NULL)
            return -EINVAL;
    size_t one = sizeof(acx__watch) + sizeof(struct acx__ac_done);
    if (n > SIZE_MAX / one)
        return -ENOMEM;
    if (n > 0) {
        if ((ac->watch = malloc(n * one)) == NULL)
            return -ENOMEM;
        ac->done = (struct acx__ac_done *)(void *)(ac->watch + n);
    }
    ac->n = n;
    ac->timer.tm.heap_idx = ACX__NO_SLOT;
    ac->timer.fire = ac_timeout;
    for (size_t i = 0; i < n; i++) {
        acx_task *t = tasks[i];
        ac->watch[i].w.notify = NULL;
        ac->watch[i].task = t;
        if (!acx_task_done(t)) {
            watch_on(&ac->watch[i], ac, t, ac_notify);
            continue;
        }
        t->flags |= ACX__T_OBSERVED;
        ac->done[ac->tail].task = t;
        ac->done[ac->tail++].result = acx_task_result_int(t);
    }
    int err = 0;
    if (timeout_ms >= 0 && timeout_ms != ACX_NEVER)
        err = acx__cbtimer_arm(&ac->timer, acx__deadline_after_ms(timeout_ms));
    if (err)
        acx_as_completed_fini(ac);
    return err;
}

void acx_as_completed_fini(acx_as_completed *ac)
{
    if (ac == NULL || ac->timer.fire == NULL)
        return; /* zeroed, failed init, or done already */
    if (ac->waiting != NULL)
        ac_wake(ac, -ESHUTDOWN, NULL);
    for (size_t i = 0; i < ac->n; i++)
        watch_off(&ac->watch[i]);
    acx__cbtimer_disarm(&ac->timer);
    free(ac->watch);
    memset(ac, 0, sizeof *ac);
}

acx_as_completed *acx_as_completed_new(size_t n, acx_task **tasks,
                                       int64_t timeout_ms)
{
    acx_as_completed *ac = malloc(sizeof *ac);
    if (ac == NULL) {
        errno = ENOMEM;
        return NULL;
    }
    int err = acx_as_completed_init(ac, n, tasks, timeout_ms);
    if (err) {
        free(ac);
        errno = -err;
        return NULL;
    }
    return ac;
}

void acx_as_completed_free(acx_as_completed *ac)
{
    acx_as_completed_fini(ac);
    free(ac);
}

/* Returns without suspending when there is an answer already. */
static int next_start(next_frame *f)
{
    acx_as_completed *ac = f->ac;
    int r;
    if (ac == NULL || ac->timer.fire == NULL) {
        r = -EINVAL; /* never initialised, or finalised */
    } else if (ac->waiting != NULL) {
        r = -EBUSY;
    } else if (ac->head < ac->tail) {
        f->acx__ret = ac_take(ac, f->out);
        return ACX__DONE;
    } else if (ac->given == ac->n) {
        r = -ENODATA;
    } else if (ac->timed_out) {
        ac->given++;
        r = -ETIMEDOUT;
    } else if ((r = acx__intr_check()) == 0) {
        f->self = acx__cur_task;
        ac->waiting = f;
        return park(&f->acx__hdr);
    }
    if (f->out != NULL)
        *f->out = NULL;
    f->acx__ret = r;
    return ACX__DONE;
}

int acx__body_acx_as_completed_next(acx_coro *c)
{
    next_frame *f = (next_frame *)c;
    if (f->acx__state == 0)
        return next_start(f);
    return ACX__DONE; /* the notify, the timer or the cancel set ret */
}

/* The tasks run on; the one that finishes meanwhile stays queued. */
static int next_cancel(acx_coro *c, int err)
{
    next_frame *f = (next_frame *)c;
    f->ac->waiting = NULL;
    f->acx__ret = err;
    if (f->out != NULL)
        *f->out = NULL;
    return 1;
}

static int next_describe(const acx_coro *c, char *buf, size_t size)
{
    const acx_as_completed *ac = ((const next_frame *)c)->ac;
    return snprintf(buf, size, "as_completed: %zu of %zu task(s) to come",
                    ac->n - ac->given, ac->n);
}

LEAF_INFO(acx__info_acx_as_completed_next, "acx_as_completed_next",
          next_frame, acx__body_acx_as_completed_next, next_cancel,
          next_describe);

acx_coro *acx_as_completed_next(acx_as_completed *ac, acx_task **task)
{
    next_frame *f = LEAF_NEW(next_frame, &acx__info_acx_as_completed_next);
    if (f == NULL)
        return NULL;
    acx__init_acx_as_completed_next(f, ac, task);
    return &f->acx__hdr;
}
