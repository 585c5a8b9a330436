/* acx_group.h - combinators and task groups: gather, wait, as_completed,
 * TaskGroup (issue 3).
 *
 * Included by acx.h; see it for the conventions.  Every call here is made
 * from the loop thread (inside acx_run); the awaitables from a task.
 *
 * A task "fails" when its int result is negative, except that a task that
 * ended cancelled (acx_task_cancelled: it was cancelled and returned
 * -ECANCELED) is cancelled rather than failed where a call says so.  The
 * frames below are public only so that acxc can embed them in the frame
 * of the function that awaits them (no allocation); their fields are
 * private.
 */
#include "acx.h" /* alone, this part brings all of acx.h, in its order */

#ifndef ACX_GROUP_H
#define ACX_GROUP_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* One watcher per awaited task: a waiter on its end, the combinator state
 * that owns it and the task itself.  NOTIFY is NULL once it has fired or
 * been taken back (combine.c's watch_off says when it cannot be yet), so
 * a finished, maybe freed, task is never touched. */
typedef struct acx__watch {
    acx__waiter w;
    void *owner;
    acx_task *task;
} acx__watch;

/* ---- gather (asyncio.gather) -------------------------------------------
 *
 * await acx_gather(n, tasks, results): wait until all N tasks have
 * finished.  RESULTS (NULL: not wanted) receives every task's int result,
 * failures included, as asyncio.gather(..., return_exceptions=True) would;
 * the value of the await is 0 when every result is >= 0, else the first
 * negative result in completion order (tasks already done when gather
 * starts complete first, in array order).  A task that ended cancelled
 * counts like any other: -ECANCELED is negative (asyncio.gather raises
 * CancelledError for it).  A task that is NULL, or that is the awaiting
 * task itself, "completes" at once with -EINVAL or -EDEADLK.  The same
 * task may appear more than once.  N == 0 returns 0 at once.  TASKS is
 * read when gather starts; RESULTS must stay valid until the await
 * returns.
 *
 * If the awaiting task is interrupted (acx_task_cancel, an expired
 * timeout scope around the await) every unfinished task is cancelled and
 * awaited to its end, then the value is the interrupt (-ECANCELED,
 * -ETIMEDOUT); RESULTS still holds every result.  An interrupt pending
 * before gather must suspend returns at once and cancels nothing (as any
 * await does).  Errors: -EINVAL (TASKS NULL with N > 0), -ENOMEM.
 */
struct acx__gather {
    size_t n;
    acx_task **tasks;  /* acx_gather: the caller's tasks */
    acx_coro **coros;  /* acx_gather_coros: spawned, then released */
    int *results;
    acx__watch *watch; /* n entries, while waiting */
    acx_task *self;    /* the awaiting task */
    size_t pending;    /* entries not finished yet */
    int first_err;     /* the first failure, in completion order */
    int intr;          /* the interrupt that cancelled the rest, or 0 */
};

struct acx__frame_acx_gather {
    ACX__FRAME_PREFIX;
    int acx__ret;
    struct acx__gather g;
};
extern const acx__info acx__info_acx_gather;
int acx__body_acx_gather(acx_coro *c);
static inline void acx__init_acx_gather(struct acx__frame_acx_gather *f,
                                        size_t n, acx_task **tasks,
                                        int *results)
{
    f->acx__hdr.info = &acx__info_acx_gather;
    f->acx__hdr.parent = 0;
    f->acx__state = 0;
    f->g.n = n;
    f->g.tasks = tasks;
    f->g.coros = 0;
    f->g.results = results;
}
ACX_ASYNC_DECL(int, acx_gather,
               (size_t n, acx_task **tasks, int *results));

/* await acx_gather_coros(n, coros, results): asyncio.gather of coroutine
 * objects: spawn each of COROS (all consumed, even on error) as a task,
 * then as acx_gather.  The tasks belong to gather: they are released, so
 * nothing is left to free.  A NULL coroutine (its call was out of memory)
 * or one that cannot be spawned completes at once with -ENOMEM.  An interrupt
 * pending at the start frees the coroutines unstarted and returns it. */
struct acx__frame_acx_gather_coros {
    ACX__FRAME_PREFIX;
    int acx__ret;
    struct acx__gather g;
};
extern const acx__info acx__info_acx_gather_coros;
int acx__body_acx_gather_coros(acx_coro *c);
static inline void
acx__init_acx_gather_coros(struct acx__frame_acx_gather_coros *f, size_t n,
                           acx_coro **coros, int *results)
{
    f->acx__hdr.info = &acx__info_acx_gather_coros;
    f->acx__hdr.parent = 0;
    f->acx__state = 0;
    f->g.n = n;
    f->g.tasks = 0;
    f->g.coros = coros;
    f->g.results = results;
}
ACX_ASYNC_DECL(int, acx_gather_coros,
               (size_t n, acx_coro **coros, int *results));

/* ---- wait (asyncio.wait) ------------------------------------------------ */

enum {
    ACX_FIRST_COMPLETED = 1, /* any task finished */
    ACX_FIRST_EXCEPTION = 2, /* any task failed, or all finished */
    ACX_ALL_COMPLETED = 3,   /* all finished */
};

/* await acx_wait(n, tasks, return_when, timeout_ms): suspend until the
 * RETURN_WHEN condition holds over the N TASKS or TIMEOUT_MS milliseconds
 * pass (< 0: no limit; 0: just look).  The value is how many of the N
 * entries are done (a task listed twice counts twice): 0 when the time
 * ran out first (a timeout is not an error, as in asyncio).  Nothing is
 * cancelled, neither on the timeout nor when the awaiting task is
 * interrupted (the value is then the interrupt, -ECANCELED or -ETIMEDOUT,
 * and the tasks run on), as in asyncio.  For ACX_FIRST_EXCEPTION a task
 * that ended cancelled (acx_task_cancelled) is not an exception, as in
 * asyncio; any other negative result is.  N == 0 returns 0 at once.
 * Errors: -EINVAL (TASKS NULL with N > 0, a NULL task, a bad RETURN_WHEN,
 * the awaiting task itself among TASKS), -ENOMEM.  TASKS is read while
 * the await lasts. */
struct acx__frame_acx_wait {
    ACX__FRAME_PREFIX;
    int acx__ret;
    size_t n;
    acx_task **tasks;
    int64_t timeout_ms;
    int when;         /* ACX_FIRST_* / ACX_ALL_COMPLETED */
    int finished;     /* the result is decided: later notifies are ignored */
    size_t ndone, nfailed;
    acx__watch *watch;
    acx_task *self;
    acx__cbtimer timer;
};
extern const acx__info acx__info_acx_wait;
int acx__body_acx_wait(acx_coro *c);
static inline void acx__init_acx_wait(struct acx__frame_acx_wait *f,
                                      size_t n, acx_task **tasks,
                                      int return_when, int64_t timeout_ms)
{
    f->acx__hdr.info = &acx__info_acx_wait;
    f->acx__hdr.parent = 0;
    f->acx__state = 0;
    f->n = n;
    f->tasks = tasks;
    f->when = return_when;
    f->timeout_ms = timeout_ms;
}
ACX_ASYNC_DECL(int, acx_wait, (size_t n, acx_task **tasks, int return_when,
                               int64_t timeout_ms));

/* ---- as_completed (asyncio.as_completed) --------------------------------
 *
 * An iterator over N tasks in the order they finish:
 *
 *     acx_as_completed ac;
 *     if (acx_as_completed_init(&ac, n, tasks, 500) == 0) {
 *         acx_task *t;
 *         int r;
 *         while ((r = await acx_as_completed_next(&ac, &t)) != -ENODATA)
 *             if (t != NULL) use(t, r); else break;   (-ETIMEDOUT)
 *         acx_as_completed_fini(&ac);
 *     }
 */
struct acx__ac_done {
    acx_task *task;
    int result;
};

typedef struct acx_as_completed {
    size_t n;                  /* entries watched */
    size_t given;              /* entries handed out by next */
    size_t head, tail;         /* the FIFO of finished entries */
    struct acx__ac_done *done; /* n slots */
    acx__watch *watch;         /* n entries */
    acx__cbtimer timer;        /* the overall deadline */
    int timed_out;
    struct acx__frame_acx_as_completed_next *waiting; /* a parked next */
} acx_as_completed;

/* Start watching the N TASKS (none NULL; duplicates are yielded once per
 * entry) with an overall deadline TIMEOUT_MS milliseconds from now (< 0:
 * none).  Tasks done already are queued first, in array order.  Returns
 * 0, -EINVAL (AC or a task NULL, no loop in this thread), -ENOMEM.  Every
 * successful init needs an acx_as_completed_fini.  Loop thread. */
int acx_as_completed_init(acx_as_completed *ac, size_t n, acx_task **tasks,
                          int64_t timeout_ms);

/* Stop watching and free what init allocated; a next parked on AC returns
 * -ESHUTDOWN.  The tasks are not touched (not cancelled, not released).
 * Safe on a zeroed struct and twice.  Loop thread. */
void acx_as_completed_fini(acx_as_completed *ac);

/* The same, allocated: NULL with errno (EINVAL, ENOMEM); _free does the
 * fini and frees AC (NULL is fine).  Loop thread. */
acx_as_completed *acx_as_completed_new(size_t n, acx_task **tasks,
                                       int64_t timeout_ms);
void acx_as_completed_free(acx_as_completed *ac);

/* await acx_as_completed_next(ac, &task): the next task to finish, in
 * completion order.  Sets *TASK (if TASK is not NULL) to it and returns
 * its int result (a failed task's negative result included).  Once the
 * deadline has passed, entries that finished before it are still handed
 * out first; after them each remaining call returns -ETIMEDOUT with *TASK
 * = NULL (one per entry left, as asyncio raises TimeoutError for each).
 * When all N have been handed out: -ENODATA, *TASK = NULL.  An interrupt
 * of the awaiting task returns it (-ECANCELED, -ETIMEDOUT) and cancels
 * nothing; the task that finishes meanwhile is handed out by a later
 * call.  -EBUSY when another task is already parked in next on AC,
 * -EINVAL for NULL. */
struct acx__frame_acx_as_completed_next {
    ACX__FRAME_PREFIX;
    int acx__ret;
    acx_as_completed *ac;
    acx_task **out;
    acx_task *self;
};
extern const acx__info acx__info_acx_as_completed_next;
int acx__body_acx_as_completed_next(acx_coro *c);
static inline void acx__init_acx_as_completed_next(
    struct acx__frame_acx_as_completed_next *f, acx_as_completed *ac,
    acx_task **task)
{
    f->acx__hdr.info = &acx__info_acx_as_completed_next;
    f->acx__hdr.parent = 0;
    f->acx__state = 0;
    f->ac = ac;
    f->out = task;
}
ACX_ASYNC_DECL(int, acx_as_completed_next,
               (acx_as_completed * ac, acx_task **task));

/* ---- task groups (asyncio.TaskGroup): structured concurrency ------------
 *
 *     acx_task_group g;
 *     acx_group_begin(&g);                    async with TaskGroup() as g:
 *     acx_task_release(acx_group_spawn(&g, work(1)));     g.create_task(..)
 *     acx_task *t = acx_group_spawn(&g, work(2));
 *     ... awaits (the body) ...
 *     int err = await acx_group_end(&g);      (leaving the block)
 *     if (err == 0) use(acx_task_result_int(t));
 *     acx_task_release(t);
 *
 * The rules:
 *   - No child outlives the group: acx_group_end waits for every child,
 *     also when the owner is cancelled (then it cancels them first).
 *   - The first child that fails (a negative result, unless it ended
 *     cancelled: acx_task_cancelled) aborts the group: every other child
 *     is cancelled and the owner's awaits in the body return -ECANCELED
 *     until it reaches acx_group_end, which returns that first failure.
 *   - acx_group_cancel aborts the group the same way; acx_group_end then
 *     returns -ECANCELED (a child failure still wins).
 *   - An interrupt of the owner (acx_task_cancel, an expired timeout scope
 *     around the group) that reaches acx_group_end before every child has
 *     finished cancels the children; end returns the interrupt once they
 *     have all finished.  When the last child finished first, the
 *     completion wins (end returns 0) and the interrupt is seen at the
 *     owner's next suspension.
 *   - Groups nest, in one function or through child tasks.
 *
 * The group lives in the owner's frame (a local); begin and end are
 * called by the owner, in the same async function, nesting strictly with
 * the function's timeout and shield scopes.  The owner must reach
 * acx_group_end (every path, as `async with` guarantees in Python).
 */
typedef struct acx_task_group {
    acx_scope scope;  /* ACX__SCOPE_GROUP on the owner: aborts the body */
    acx_task *owner;
    struct acx__group_child *children; /* live children (doubly linked) */
    size_t live;      /* children not finished */
    int state;        /* ACX__G_* */
    int aborting;     /* a failure or a cancel: no more spawns */
    int err;          /* the first child failure, or 0 */
    int intr;         /* the owner's interrupt that reached end, or 0 */
    int cancelled;    /* acx_group_cancel was called */
    struct acx__frame_acx_group_end *ending; /* the owner parked in end */
} acx_task_group;

enum { ACX__G_NONE, ACX__G_OPEN, ACX__G_ENDING, ACX__G_DONE };

/* Begin G in the running task, which becomes its owner (`async with
 * TaskGroup()`).  Returns 0, -EINVAL (G NULL, not in a task), -ENOMEM.
 * Loop thread, inside a task. */
int acx_group_begin(acx_task_group *g);

/* Spawn CORO (consumed, even on failure) as a child of G: a task like
 * acx_spawn's (start order, site for dumps, and ownership: release it with
 * acx_task_release when you no longer need it; `acx_task_release(
 * acx_group_spawn(&g, c))` when you never do).  Any task of the loop may
 * spawn into G: the owner in the body, a child (a sibling), while G's end
 * waits for children.  Returns the task, or NULL with errno: EINVAL (G
 * not begun), ESHUTDOWN (G was aborted by a failure or a cancel, or has
 * finished: end returned or is returning), ENOMEM (also for CORO NULL, a
 * coroutine call out of memory).  Loop
 * thread. */
acx_task *acx__group_spawn_at(acx_task_group *g, acx_coro *coro,
                              acx__spawn_site *site);
#define acx_group_spawn(g, coro)                                           \
    __extension__({                                                        \
        static acx__spawn_site acx__gspawn_site_ = {__FILE__, __LINE__,   \
                                                    __func__, 0};         \
        acx__group_spawn_at((g), (coro), &acx__gspawn_site_);              \
    })

/* Cancel G (children and body): every child is cancelled, the owner's
 * awaits in the body return -ECANCELED, and acx_group_end returns
 * -ECANCELED unless a child failed.  Returns 0, -EALREADY once end has
 * returned, -EINVAL (not begun).  Loop thread, any task. */
int acx_group_cancel(acx_task_group *g);

/* Children of G that have not finished.  Loop thread. */
size_t acx_group_size(const acx_task_group *g);

/* await acx_group_end(g) (TaskGroup.__aexit__): close G's scope and wait
 * until every child has finished.  The value: the first child failure;
 * else the owner's interrupt if one reached end (see above); else
 * -ECANCELED after acx_group_cancel; else 0.  -EINVAL when G is not open
 * or the caller is not its owner (nothing waits then). */
struct acx__frame_acx_group_end {
    ACX__FRAME_PREFIX;
    int acx__ret;
    acx_task_group *g;
};
extern const acx__info acx__info_acx_group_end;
int acx__body_acx_group_end(acx_coro *c);
static inline void
acx__init_acx_group_end(struct acx__frame_acx_group_end *f,
                        acx_task_group *g)
{
    f->acx__hdr.info = &acx__info_acx_group_end;
    f->acx__hdr.parent = 0;
    f->acx__state = 0;
    f->g = g;
}
ACX_ASYNC_DECL(int, acx_group_end, (acx_task_group * g));

#ifdef __cplusplus
}
#endif
#endif
