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

/* Run MAIN (asyncio.run) on a new loop in this thread until it finishes,
 * then cancel and finish every task still pending, free everything and
 * return MAIN's int result (0 when it returns void or a non-integer).
 * MAIN is consumed.  Returns -EINVAL for NULL, -ENOMEM or another negative
 * errno if the loop cannot be set up, -EBUSY if a loop already runs in this
 * thread. */
int acx_run(acx_coro *main);

/* Schedule CORO as a new task (asyncio.create_task); it starts on a later
 * loop step, in FIFO order.  CORO is consumed, even on failure.  Returns the
 * task, owned by the runtime: the pointer stays valid until
 * acx_task_release() is called and the task has finished, or until
 * acx_run() returns.  Returns NULL with errno set (EINVAL: no loop running
 * or CORO NULL; ENOMEM). */
acx_task *acx_spawn(acx_coro *coro);

/* Tell the runtime the caller no longer needs T; it is freed once finished. */
void acx_task_release(acx_task *t);

/* True once T's coroutine has finished. */
int acx_task_done(const acx_task *t);

/* T's coroutine result, read as int (0 for void and non-integer results).
 * Meaningful only once acx_task_done(t). */
int acx_task_result_int(const acx_task *t);

/* A pointer to T's result as the coroutine's own type: *(T *)... ; NULL for
 * a void coroutine or a task not yet done.  Valid while T is. */
const void *acx_task_result(const acx_task *t);

/* The task running now, or NULL outside a task. */
acx_task *acx_current_task(void);

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
 * continues.  Returns 0. */
ACX_ASYNC_DECL(int, acx_yield, (void));

/* await acx_sleep_ms(ms): suspend for at least MS milliseconds (MS <= 0
 * behaves as acx_yield).  Returns 0. */
ACX_ASYNC_DECL(int, acx_sleep_ms, (int64_t ms));

/* await t (an acx_task *): suspend until T finishes; the value is T's
 * int result (acx_task_result_int).
 * await c (an acx_coro *): run the coroutine object C as a child to its
 * end and free it; the value is its int result. */

#include "acx_throttle.h"
#include "acx_signal.h"

#ifdef __cplusplus
}
#endif
#endif
