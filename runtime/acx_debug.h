/* acx_debug.h - introspection and Unix signals: task dumps, stall reports,
 * slow-step reports, signal handlers, fd readiness (issue 3).
 *
 * Included by acx.h; see it for the conventions.  Everything here is per
 * loop and called on the loop thread unless a call says otherwise.
 */
#include "acx.h" /* alone, this part brings all of acx.h, in its order */

#ifndef ACX_DEBUG_H
#define ACX_DEBUG_H

#include <stdio.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ---- fd readiness (asyncio's add_reader / add_writer, awaitable) -------
 *
 * await acx_wait_readable(fd) suspends until FD is readable (or has an
 * error or hang-up pending, which the caller's next read reveals);
 * acx_wait_writable likewise for writing.  The value is 0, or: -EBADF (FD
 * is not open), -EEXIST (another wait or watch of this loop has FD: one
 * per fd; use dup(2) or one task per fd), -EPERM (epoll cannot watch FD: a
 * regular file), -ENOMEM, or the interrupt (-ECANCELED, -ETIMEDOUT),
 * which also stops watching FD.  Readiness is level-triggered: the wait
 * returns at once if FD is ready already.  A parked wait counts as an
 * outside wake source, so waiting for an fd is never reported as a stall.
 * Loop thread, inside a task. */
ACX_ASYNC_DECL(int, acx_wait_readable, (int fd));
ACX_ASYNC_DECL(int, acx_wait_writable, (int fd));

/* ---- Unix signals (asyncio's loop.add_signal_handler) ------------------
 *
 * The loop reads signals through a signalfd, so handlers run as ordinary
 * callbacks on the loop thread (any acx_ call is allowed in them), never
 * as asynchronous signal handlers.  For that the signal must be blocked:
 * the loop blocks each signal it handles in its own thread
 * (pthread_sigmask) and unblocks it again when its last handler or wait
 * goes and when acx_run returns (unless it was blocked before).  A signal
 * sent to the process (kill, Ctrl-C) goes to any thread that does not
 * block it, so other threads must block it too: create them after adding
 * the handler (they inherit the mask) or block it in them yourself;
 * otherwise the signal's default action (often: terminate) may happen in
 * such a thread.  One loop per process should handle a given signal.
 * SIGKILL and SIGSTOP cannot be handled, and SIGSEGV, SIGBUS, SIGILL and
 * SIGFPE are refused because blocking them does not stop the kernel's
 * action on a real fault.  An installed handler counts as an outside wake
 * source (the stall check does not fire while one is installed) until
 * main has finished: acx_run's shutdown does not wait for signals.
 */

/* Call FN(SIGNO, ARG) on the loop thread each time SIGNO arrives,
 * replacing an earlier handler of SIGNO.  Signals that arrive while the
 * loop is busy coalesce (as with any Unix signal).  Returns 0, -EINVAL
 * (no loop running, FN NULL, SIGNO invalid or refused, see above), or the
 * errno of signalfd(2) / pthread_sigmask(3).  Loop thread. */
int acx_add_signal_handler(int signo, void (*fn)(int signo, void *arg),
                           void *arg);

/* Remove SIGNO's handler.  Returns 0, -ENOENT when there is none, -EINVAL.
 * Unblocking may take place when nothing else waits for SIGNO; an
 * instance that arrived and was not read yet is discarded.  Loop thread. */
int acx_remove_signal_handler(int signo);

/* await acx_wait_signal(signo): suspend until SIGNO arrives (every task
 * waiting for it wakes).  `await acx_wait_signal(SIGTERM);` in main is a
 * graceful shutdown: main returns and acx_run cancels the rest.  The
 * value is 0, -EINVAL (see acx_add_signal_handler), -ENOMEM, or the
 * interrupt (-ECANCELED, -ETIMEDOUT).  A signal that arrived before the
 * wait began is not seen by it.  Loop thread, inside a task. */
ACX_ASYNC_DECL(int, acx_wait_signal, (int signo));

/* ---- task dumps ----------------------------------------------------------
 *
 * A dump shows a task's name, where it was spawned, its state (ready,
 * running, parked, done; cancel requested) and its async backtrace, the
 * innermost frame first: for each async function `func at file.acx:line`
 * (the await it is suspended at, or its definition before it started),
 * and for the runtime's leaf awaitables what they wait on (a timer's due
 * time, an fd and its direction, a task, a future, a signal):
 *
 *   task 'worker' (spawned at demo.acx:69): parked
 *     #0 acx_sleep_ms: timer, due in 3.112 ms
 *     #1 fetch at demo.acx:31
 *     #2 worker at demo.acx:51
 *
 * The running task's frames show where its current step resumed.
 */

/* Write T's dump to OUT.  Returns 0, -EINVAL for NULL.  Loop thread (or
 * any thread while the loop is known not to run). */
int acx_task_dump(const acx_task *t, FILE *out);

/* Dump every task of this thread's loop that has not finished, after a
 * header line with their count.  Returns how many tasks were dumped, or
 * -EINVAL when no loop runs (or OUT is NULL).  Loop thread. */
int acx_dump_all(FILE *out);

/* One line for logs: `'name' parked at file.acx:line (waits on: ...)`,
 * into BUF with snprintf semantics (returns the length the full line
 * needs; negative errno for NULL T).  Loop thread. */
int acx_task_describe(const acx_task *t, char *buf, size_t size);

/* Where this thread's reports go (stall reports, slow steps, the dump
 * signal): OUT, or stderr again when NULL.  Per thread.  Returns the
 * stream in use before. */
FILE *acx_set_report_stream(FILE *out);

/* ---- stall report ---------------------------------------------------------
 *
 * When every task waits and nothing can wake them (no task ready, no
 * timer, no fd or signal wait, no future, no handler), acx_run reports
 * the stall on the report stream, dumping every suspended task, and
 * returns -EDEADLK.
 */

/* ---- slow steps (debug mode) --------------------------------------------
 *
 * A step is one resumption of a task, from where it resumed to where it
 * suspended (or finished).  A step that takes long stalls every other
 * task of the loop (a blocking call, a long computation without awaits).
 * With a threshold set, every step is timed and one longer than the
 * threshold is reported: by default one line on the report stream,
 *
 *   acx: slow step: task 'parse' ran 152.310 ms (threshold 100 ms),
 *        resumed at parse at job.acx:40, suspended at parse at job.acx:57
 *
 * Off (the default) it costs one predictable branch per loop iteration.
 */

/* Set the threshold: MS milliseconds, 0 turns timing off (MS < 0 is
 * treated as 0).  Process-wide (all loops, any thread).  The environment
 * variable ACX_SLOW_STEP_MS sets the initial value; it is read when the
 * first loop starts or this is first called, whichever comes first. */
void acx_set_slow_step_ms(int64_t ms);
int64_t acx_slow_step_ms(void);

/* What a slow-step handler is told; the strings are static or live until
 * the handler returns. */
typedef struct acx_slow_step {
    acx_task *task;       /* NULL when the step finished a released task
                           * (it is freed already) */
    const char *name;     /* the task's name */
    int64_t ns;           /* how long the step ran */
    int64_t threshold_ns;
    const char *begin_func, *begin_file; /* where the step resumed; file */
    int begin_line;                      /* NULL: no .acx frame */
    const char *end_func, *end_file;     /* where it suspended; file NULL: */
    int end_line;                        /* it finished */
} acx_slow_step;

/* Report slow steps through FN(S, ARG) instead of the default line; NULL
 * restores the default.  FN runs on the loop thread right after the step
 * (outside any task).  Per thread (per loop). */
void acx_set_slow_step_handler(void (*fn)(const acx_slow_step *s, void *arg),
                               void *arg);

/* ---- dump on a signal ----------------------------------------------------
 *
 * When SIGNO arrives the loop dumps every task on the report stream (from
 * the loop thread, through the signalfd: safe at any moment) and goes on
 * running; unlike Go's SIGQUIT it does not exit.  Off by default: a
 * library should not take over a process-wide signal unasked (blocking
 * SIGQUIT changes what Ctrl-\ does), and the signal-blocking rules above
 * apply.  Turn it on with acx_set_dump_signal(SIGQUIT), or with the
 * environment variable ACX_DUMP_SIGNAL=1 (SIGQUIT) or =N (signal N).  The
 * dump signal is not an outside wake source: it does not hide stalls.
 */

/* Dump on SIGNO from now on (0: off).  Process-wide: loops started later
 * use it, and the loop of the calling thread, if one runs, switches at
 * once.  Returns 0, -EINVAL for a signal that cannot be handled, or the
 * error of setting up the calling thread's loop.  Any thread. */
int acx_set_dump_signal(int signo);
int acx_dump_signal(void);

#ifdef __cplusplus
}
#endif
#endif
