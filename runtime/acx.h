/* acx.h - the public interface of libacx.
 *
 * Readable by acxc (which defines __ACXC__ and sees the async functions
 * below as async) and by any C11 compiler (which sees their constructors,
 * functions returning an unstarted acx_coro *).
 *
 * Errors are negative errno values.  Unless a call says otherwise it must
 * be made from the thread running the loop (inside acx_run).
 */
#ifndef ACX_H
#define ACX_H

#include "acx_abi.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ACX_ASYNC_DECL(int, f, (int x)) declares an async function for both
 * readers of a header: acxc sees `async int f(int x);`, a C compiler sees
 * the constructor `acx_coro *f(int x);`.  (__acx_async is async's spelling
 * that also works in a system header, where acxc leaves `async` alone.) */
#ifdef __ACXC__
#define ACX_ASYNC_DECL(ret, name, params) __acx_async ret name params
#else
#define ACX_ASYNC_DECL(ret, name, params)                                  \
    __attribute__((warn_unused_result)) acx_coro *name params
#endif

#define ACX_VERSION "0.1.0"

/* ---- running --------------------------------------------------------- */

typedef struct acx_loop acx_loop;

/* Run MAIN (asyncio.run) on a new loop in this thread until it finishes;
 * then cancel every task still pending, run the loop until they have all
 * finished, free everything and return MAIN's int result (0 when it
 * returns void or a non-integer).  MAIN is consumed.  Returns -ENOMEM for
 * NULL (what `main_task()` returns when its frame cannot be allocated:
 * every call below that takes a coroutine reads NULL so), -ENOMEM or
 * another negative errno if the loop cannot be set up,
 * -EBUSY if a loop already runs in this thread, -EDEADLK when every task
 * waits and nothing can wake them (a stall: reported on stderr). */
int acx_run(acx_coro *main);

/* The loop running in this thread, or NULL.  Loop thread. */
acx_loop *acx_loop_current(void);

/* Keep L's memory alive for another thread (acx_loop_call_soon_threadsafe
 * after acx_run may have returned); each ref needs an unref.  A thread
 * that may post to L holds one: while any is held, L never reports a
 * stall (the thread may still wake a task).  Any thread. */
void acx_loop_ref(acx_loop *l);
void acx_loop_unref(acx_loop *l);

/* Run FN(ARG) on L's thread soon (asyncio's call_soon_threadsafe), waking
 * L if it sleeps.  Any thread.  Returns 0, -ENOMEM, or -ESHUTDOWN once L
 * has closed (FN is then never called). */
int acx_loop_call_soon_threadsafe(acx_loop *l, void (*fn)(void *), void *arg);

/* Graceful shutdown: cancel L's main task; acx_run then cancels the rest
 * as when main returns.  Any thread (async-signal-safe).  Returns 0 or
 * -EINVAL for NULL. */
int acx_loop_stop(acx_loop *l);

/* The loop's clock: CLOCK_MONOTONIC in nanoseconds (loop.time()).  Any
 * thread. */
int64_t acx_now_ns(void);

/* ---- callbacks on the loop -------------------------------------------- */

typedef struct acx_handle acx_handle;

/* Call FN(ARG) on this loop's thread after MS milliseconds (call_later;
 * MS <= 0: on the next loop iteration, call_soon) or at the absolute
 * acx_now_ns() time WHEN (call_at).  Returns a handle for
 * acx_handle_cancel, valid until the call has run or been cancelled, or
 * NULL with errno (EINVAL: no loop; ENOMEM).  A call still pending when
 * acx_run returns never runs; its handle is freed.  Loop thread. */
acx_handle *acx_call_later(int64_t ms, void (*fn)(void *), void *arg);
acx_handle *acx_call_at(int64_t when_ns, void (*fn)(void *), void *arg);
acx_handle *acx_call_soon(void (*fn)(void *), void *arg);

/* Cancel a pending call (the handle is freed).  Returns 0, or -EINVAL for
 * NULL.  Loop thread; not from inside the call itself. */
int acx_handle_cancel(acx_handle *h);

/* ---- tasks ------------------------------------------------------------- */

/* Schedule CORO as a new task (asyncio.create_task); it starts on a later
 * loop step, in FIFO order.  CORO is consumed, even on failure.  Returns the
 * task, owned by the runtime: the pointer stays valid until
 * acx_task_release() is called and the task has finished, or until
 * acx_run() returns.  Returns NULL with errno set (EINVAL: no loop running;
 * ENOMEM: out of memory, or CORO NULL, a coroutine call that was).  The macro records the call site for task dumps;
 * (acx_spawn)(c) calls the function.  Loop thread. */
acx_task *acx_spawn(acx_coro *coro);
acx_task *acx__spawn_at(acx_coro *coro, acx__spawn_site *site);
#define acx_spawn(coro)                                                    \
    __extension__({                                                        \
        static acx__spawn_site acx__spawn_site_ = {__FILE__, __LINE__,    \
                                                   __func__, 0};          \
        acx__spawn_at((coro), &acx__spawn_site_);                          \
    })

/* acx_spawn, then acx_task_set_name (NULL with errno on failure; the task
 * is then not created).  The macro records the call site, as acx_spawn's
 * does; (acx_spawn_named)(c, name) calls the function. */
acx_task *acx_spawn_named(acx_coro *coro, const char *name);
acx_task *acx__spawn_named_at(acx_coro *coro, const char *name,
                              acx__spawn_site *site);
#define acx_spawn_named(coro, name)                                        \
    __extension__({                                                        \
        static acx__spawn_site acx__spawn_site_ = {__FILE__, __LINE__,    \
                                                   __func__, 0};          \
        acx__spawn_named_at((coro), (name), &acx__spawn_site_);            \
    })

/* Tell the runtime the caller no longer needs T; it is freed once finished. */
void acx_task_release(acx_task *t);

/* Request cancellation (Task.cancel): the await T is suspended in returns
 * -ECANCELED, and so does every later suspension of T until it finishes,
 * so T's own error paths unwind it.  An await whose operation completed
 * before the cancel keeps its result (nothing is lost); T's next
 * suspension reports the cancel.  A task awaiting another task propagates
 * the cancel to it (as asyncio does; see acx_shield).  Returns 0, -EALREADY
 * when T has finished, -EINVAL for NULL.  Loop thread. */
int acx_task_cancel(acx_task *t);

/* True once T's coroutine has finished. */
int acx_task_done(const acx_task *t);

/* True once T has finished after a cancel request with -ECANCELED as its
 * result (a void or non-integer task: after any cancel request). */
int acx_task_cancelled(const acx_task *t);

/* True after acx_task_cancel(T) (Task.cancelling), finished or not. */
int acx_task_cancel_requested(const acx_task *t);

/* T's coroutine result, read as int (0 for void and non-integer results).
 * Meaningful only once acx_task_done(t). */
int acx_task_result_int(const acx_task *t);

/* A pointer to T's result as the coroutine's own type: *(T *)... ; NULL for
 * a void coroutine or a task not yet done.  Valid while T is. */
const void *acx_task_result(const acx_task *t);

/* Call FN(T, ARG) on the loop thread when T finishes (at once if it has).
 * A task with a done callback counts as observed (see
 * acx_set_task_error_handler).  Returns 0, -ENOMEM, -EINVAL.  Loop thread. */
int acx_task_add_done_callback(acx_task *t, void (*fn)(acx_task *, void *),
                               void *arg);

/* Remove every callback registered with FN and ARG; returns how many. */
int acx_task_remove_done_callback(acx_task *t,
                                  void (*fn)(acx_task *, void *), void *arg);

/* Name T (copied) for dumps and reports; NULL restores the default, the
 * coroutine's function name.  Returns 0, -ENOMEM, -EINVAL.  Loop thread. */
int acx_task_set_name(acx_task *t, const char *name);
const char *acx_task_name(const acx_task *t);

/* Where T was spawned (acx_spawn's call site): 0, or -ENOENT when unknown
 * (spawned through the function, not the macro). */
int acx_task_spawn_site(const acx_task *t, const char **file, int *line);

/* The task running now, or NULL outside a task. */
acx_task *acx_current_task(void);

/* Fill OUT with up to N of this loop's tasks that have not finished
 * (asyncio.all_tasks) and return how many there are in all.  Loop thread. */
size_t acx_all_tasks(acx_task **out, size_t n);

/* A task "fails" when its coroutine returns a negative int (a negative
 * errno), other than -ECANCELED after a cancel.  A failed task that nobody
 * awaits and that has no done callback when it finishes is reported then,
 * through FN(T, ERR, ARG); the default handler (FN NULL) prints one line on
 * stderr with its name, spawn site and error.  Per thread (per loop). */
void acx_set_task_error_handler(void (*fn)(acx_task *, int, void *),
                                void *arg);

/* The size in bytes of coroutine object C's frame: its parameters, the
 * locals that live across awaits (sibling blocks share storage) and the
 * frames of the async functions it awaits in place.  Any thread. */
size_t acx_coro_size(const acx_coro *c);

/* The name of the async function C runs (for logs and debugging). */
const char *acx_coro_name(const acx_coro *c);

/* Where coroutine C stands in its .acx source: the await point it is
 * suspended at, or its definition when it has not started.  Sets *FILE,
 * *LINE and, if FUNC is not NULL, *FUNC (the async function's name).
 * Returns 0, or -EINVAL for NULL or a frame with no await-point table.
 * Any thread, while C is not running. */
int acx_coro_where(const acx_coro *c, const char **file, int *line,
                   const char **func);

/* Where task T waits: acx_coro_where of its innermost frame that has an
 * await-point table (the runtime's own leaves have none).  -EINVAL for
 * NULL, -EALREADY when T has finished.  Loop thread. */
int acx_task_where(const acx_task *t, const char **file, int *line,
                   const char **func);

/* ---- awaitables ------------------------------------------------------ */

/* await acx_yield(): every other ready task runs once before this one
 * continues.  Returns 0, or the pending interrupt (-ECANCELED, ...). */
ACX_ASYNC_DECL(int, acx_yield, (void));

/* await acx_sleep_ms(ms): suspend for at least MS milliseconds (MS <= 0
 * behaves as acx_yield).  Returns 0, -ECANCELED or -ETIMEDOUT when
 * interrupted, -ENOMEM. */
ACX_ASYNC_DECL(int, acx_sleep_ms, (int64_t ms));

/* await acx_sleep_until(when_ns): suspend until acx_now_ns() >= WHEN_NS. */
ACX_ASYNC_DECL(int, acx_sleep_until, (int64_t when_ns));

/* await t (an acx_task *): suspend until T finishes; the value is T's
 * int result (acx_task_result_int).  If the awaiting task is interrupted
 * meanwhile, T is cancelled too and awaited to its end; the value is then
 * the interrupt (-ECANCELED, -ETIMEDOUT) if T ended cancelled, else T's
 * result.
 * await c (an acx_coro *): run the coroutine object C as a child to its
 * end and free it; the value is its int result (-ENOMEM for NULL: a
 * coroutine call out of memory; -EINVAL for a NULL task). */

/* await acx_shield(t) (asyncio.shield): await task T, but an interrupt of
 * the awaiting task returns at once (-ECANCELED, -ETIMEDOUT) and leaves T
 * running. */
ACX_ASYNC_DECL(int, acx_shield, (acx_task * t));

/* ---- scopes: timeouts and shields --------------------------------------
 *
 * A scope lives in the coroutine's frame (a local variable), is begun and
 * ended in the same async function, and scopes nest strictly.  (Ending it
 * is the caller's duty on every path: a scope left open when its function
 * returns is closed with a warning only when its frame was boxed; a
 * scope with no await between begin and return is not even in the frame.)  While a
 * timeout scope is open and its deadline has passed, every suspension in
 * it returns -ETIMEDOUT (the await suspended when it expires too), exactly
 * as cancellation does with -ECANCELED; ending the scope says whether it
 * expired.  An outer interrupt beats an inner one (a cancelled task sees
 * -ECANCELED inside a timeout).  A shield scope keeps interrupts from
 * outside it away from the awaits inside it (for cleanup that must
 * finish); they take effect at the first suspension after it ends.
 */
typedef struct acx_scope {
    struct acx_scope *outer;
    acx_task *task;
    acx__cbtimer timer; /* the deadline of a timeout scope */
    int kind;           /* ACX__SCOPE_* */
    int err;            /* the interrupt it delivers once fired, else 0 */
} acx_scope;

enum { ACX__SCOPE_TIMEOUT = 1, ACX__SCOPE_SHIELD, ACX__SCOPE_GROUP };

#define ACX_NEVER INT64_MAX

/* asyncio.timeout(delay): begin S with a deadline MS milliseconds from now
 * (MS < 0 or ACX_NEVER: none yet).  Returns 0, -EINVAL (no task), -ENOMEM.
 * Loop thread, inside a task. */
int acx_timeout_begin(acx_scope *s, int64_t ms);

/* asyncio.timeout_at(when): the deadline is the acx_now_ns() time WHEN. */
int acx_timeout_begin_at(acx_scope *s, int64_t when_ns);

/* Move S's deadline (ACX_NEVER: none).  -EALREADY once S has expired. */
int acx_timeout_reschedule(acx_scope *s, int64_t when_ns);

/* S's deadline (ACX_NEVER: none) and whether it has expired. */
int64_t acx_timeout_when(const acx_scope *s);
int acx_timeout_expired(const acx_scope *s);

/* End S: 0, or -ETIMEDOUT when its deadline expired while it was open. */
int acx_timeout_end(acx_scope *s);

/* Begin and end a shield scope (cancellation deferred inside it). */
int acx_shield_begin(acx_scope *s);
void acx_shield_end(acx_scope *s);

/* await acx_wait_for(c, ms) (asyncio.wait_for): run coroutine object C
 * (consumed) inside a timeout scope of MS milliseconds; the value is C's
 * int result, which is -ETIMEDOUT when C's suspensions were cut short
 * and it passed the error on (-ENOMEM for C NULL: out of memory). */
ACX_ASYNC_DECL(int, acx_wait_for, (acx_coro * c, int64_t ms));

/* await acx_wait_for_task(t, ms): await task T with a timeout; on expiry T
 * is cancelled and awaited, and the value is -ETIMEDOUT (unless T finished
 * with a result despite the cancel). */
ACX_ASYNC_DECL(int, acx_wait_for_task, (acx_task * t, int64_t ms));

/* ---- futures -----------------------------------------------------------
 *
 * A one-shot result (asyncio.Future, concurrent.futures.Future) that any
 * thread may complete and any coroutine or thread may wait for.  The value
 * is a void * and the status an int (0, or a negative errno the completer
 * chose); -ECANCELED after acx_future_cancel.  Reference counted: new
 * returns one reference; every acx_future_ref needs an acx_future_unref.
 */
typedef struct acx_future acx_future;

/* A new pending future holding one reference (NULL when out of memory);
 * take another with acx_future_ref, drop each with acx_future_unref (the
 * last one frees F and its callbacks that have not run).  Any thread. */
acx_future *acx_future_new(void);
void acx_future_ref(acx_future *f);
void acx_future_unref(acx_future *f);

/* Complete F with VALUE (status 0) or with the error ERR (< 0).  Any
 * thread.  Return 0, or -EALREADY when F is already done (the first
 * completion wins), -EINVAL for a bad argument. */
int acx_future_set_result(acx_future *f, void *value);
int acx_future_set_error(acx_future *f, int err);

/* Cancel F if it is still pending (status -ECANCELED).  Any thread.
 * Returns 0, -EALREADY when F is done, -EBUSY when an executor runs its
 * work (running work cannot be interrupted). */
int acx_future_cancel(acx_future *f);

/* Done (completed or cancelled), cancelled; status: -EINPROGRESS while
 * pending, else 0 or the error.  value: the result (NULL unless status 0).
 * Any thread. */
int acx_future_done(const acx_future *f);
int acx_future_cancelled(const acx_future *f);
int acx_future_status(const acx_future *f);
void *acx_future_value(const acx_future *f);

/* Call FN(F, ARG) once F is done: at once in this thread if it is, else in
 * the thread that completes it.  Returns 0 or -ENOMEM.  Any thread. */
int acx_future_add_done_callback(acx_future *f,
                                 void (*fn)(acx_future *, void *), void *arg);

/* Block this thread until F is done or TIMEOUT_MS pass (< 0: no limit).
 * Returns F's status, or -ETIMEDOUT.  Any thread but a loop thread with
 * tasks that must complete F (that would deadlock). */
int acx_future_wait(acx_future *f, int64_t timeout_ms);

/* await acx_future_await(f): suspend until F is done; the value is F's
 * status (0, its error, -ECANCELED) and *VALUE (if not NULL) its value.
 * An interrupt of the awaiting task returns the interrupt and leaves F
 * pending, unless F completed first (then its status is returned). */
ACX_ASYNC_DECL(int, acx_future_await, (acx_future * f, void **value));

#include "acx_sync.h"
#include "acx_group.h"
#include "acx_debug.h"
#include "acx_bqueue.h"
#include "acx_executor.h"
#include "acx_procpool.h"
#include "acx_net.h"
#include "acx_proc.h"
#include "acx_aio.h"
#include "acx_stream.h"
#include "acx_throttle.h"
#include "acx_signal.h"
#include "acx_pool.h"

#ifdef __cplusplus
}
#endif
#endif
