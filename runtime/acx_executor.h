/* acx_executor.h - executors: the thread pool executor, waiting on many
 * futures, run_in_executor (issue 5; Python's concurrent.futures).
 *
 * Included by acx.h; see it for the conventions.  Unlike the rest of
 * acx.h, every plain call here may be made from any thread (they block
 * the calling thread where they say so); the awaitables at the end are
 * for coroutines on a loop.  In C the workers of a thread pool run
 * CPU-bound work in parallel (there is no GIL).
 */
#include "acx.h" /* alone, this part brings all of acx.h, in its order */

#ifndef ACX_EXECUTOR_H
#define ACX_EXECUTOR_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ---- futures, the thread side (concurrent.futures.Future) --------------
 *
 * An executor's future is PENDING while queued, RUNNING once a worker has
 * taken it, then done.  acx_future_cancel succeeds only while it is
 * pending; on running work it returns -EBUSY, because running work cannot
 * be interrupted, and sets the future's stop flag instead: work that may
 * run long polls acx_future_stop_requested(acx_executor_current()) and
 * returns early (with -ECANCELED, say) when it is set.  Any thread.
 */

/* Future.running(): a worker runs F's work now. */
int acx_future_running(const acx_future *f);

/* A cancel arrived while F's work was running (the flag only; the work
 * decides what to do).  Stays set. */
int acx_future_stop_requested(const acx_future *f);

/* asyncio's Future.remove_done_callback: forget every FN(., ARG) added to
 * F that has not run.  Returns how many were removed (0 once F is done:
 * its callbacks are running or ran), -EINVAL for NULL. */
int acx_future_remove_done_callback(acx_future *f,
                                    void (*fn)(acx_future *, void *),
                                    void *arg);

/* ---- waiting on many futures (concurrent.futures.wait) -----------------
 *
 * Block this thread until RETURN_WHEN holds over the N futures FUTS, or
 * TIMEOUT_MS milliseconds pass (< 0: no limit; 0: just look).  RETURN_WHEN
 * is acx_group.h's ACX_FIRST_COMPLETED (any is done), ACX_FIRST_EXCEPTION
 * (any failed, i.e. is done with an error other than -ECANCELED, or all
 * are done) or ACX_ALL_COMPLETED.  Returns how many of the N entries are
 * done (check each with acx_future_done): fewer than asked, even 0, when
 * the time ran out (a timeout is not an error, as in Python).  Nothing is
 * cancelled.  N == 0 returns 0 at once.  Errors: -EINVAL (FUTS NULL with
 * N > 0, a NULL future, a bad RETURN_WHEN), -ENOMEM.  Any thread, but not
 * a loop thread whose tasks must complete the futures (a deadlock).
 */
int acx_futures_wait(size_t n, acx_future *const *futs, int return_when,
                     int64_t timeout_ms);

/* ---- as_completed (concurrent.futures.as_completed) --------------------
 *
 *     acx_futures_iter *it = acx_futures_as_completed(n, futs, 1000);
 *     acx_future *f;
 *     int i;
 *     while ((i = acx_futures_iter_next(it, &f)) >= 0)
 *         use(i, f);            (i: F's index in FUTS)
 *     (i is -ENODATA at the end, -ETIMEDOUT when time ran out)
 *     acx_futures_iter_free(it);
 */
typedef struct acx_futures_iter acx_futures_iter;

/* Watch the N FUTS (none NULL; one reference each is taken until free)
 * with an overall deadline TIMEOUT_MS from now (< 0: none).  Futures done
 * already come first, in array order; a future listed twice comes twice.
 * NULL with errno (EINVAL, ENOMEM).  Any thread. */
acx_futures_iter *acx_futures_as_completed(size_t n,
                                           acx_future *const *futs,
                                           int64_t timeout_ms);

/* Block until the next entry is done; return its index in FUTS and set
 * *F (if F is not NULL) to it.  -ENODATA once all N were handed out;
 * -ETIMEDOUT when the deadline passed first (nothing is handed out; a
 * later call still hands out entries done by then, and -ETIMEDOUT again
 * when none is).  -EINVAL for NULL.  One thread at a time per iterator. */
int acx_futures_iter_next(acx_futures_iter *it, acx_future **f);

/* Stop watching and drop the references (NULL is fine).  Any thread. */
void acx_futures_iter_free(acx_futures_iter *it);

/* ---- the thread pool executor (ThreadPoolExecutor) ---------------------
 *
 * Work is a function run on a worker thread:
 *
 *     void *work(void *arg, int *err)
 *
 * It returns the future's value, or stores a negative errno in *ERR
 * (which starts at 0) to complete the future with that error instead (the
 * return value is then ignored).  Work must not exit the thread.
 */
typedef void *(*acx_work_fn)(void *arg, int *err);

typedef struct acx_executor acx_executor;

typedef struct acx_executor_opts {
    int max_workers;      /* 0: min(32, CPUs + 4), as Python */
    const char *thread_name_prefix; /* NULL: "acxpool"; threads are named
                                     * PREFIX_N (cut to 15 bytes) */
    /* initializer(initarg) runs first in every worker thread.  A negative
     * return breaks the executor, as Python's BrokenThreadPool: queued
     * futures fail with that error, later submits fail. */
    int (*initializer)(void *initarg);
    void *initarg;
    /* A worker exits after this many tasks and a fresh thread takes over
     * (0: never), as ProcessPoolExecutor's max_tasks_per_child. */
    unsigned max_tasks_per_worker;
} acx_executor_opts;

/* Create an executor (OPTS NULL: all defaults).  No thread starts until
 * work is submitted; a new worker starts when work is queued and no
 * worker is idle, up to max_workers.  An idle worker keeps looking at
 * the queue for up to 50 us before it sleeps (only one at a time, and it
 * yields its CPU between looks), so that the next small task starts
 * within a microsecond or two; sleeping workers are woken one at a time,
 * and only while the queued work outgrows the awake ones, so idle workers
 * cost a burst nothing.  A backlog wakes workers only up to the number
 * of CPUs the process may use (more only take turns on them), and only
 * while a CPU is idle (the thread that submits may fill one; the count
 * of runnable threads in /proc/loadavg tells, when the process may use
 * every CPU online), unless the queued work waits behind tasks that
 * have run for 60 us or more.  Workers found asleep or blocked in a task
 * (sleeps, I/O) for 20 us-1 ms, or running one task for about 8 ms, do
 * not count, so blocking work still gets up to max_workers threads.  A
 * worker may take a few items of a long queue at once, but an idle
 * worker takes over those that wait behind a task that blocks.  NULL
 * with errno (EINVAL: a negative max_workers; ENOMEM).  Any thread. */
acx_executor *acx_executor_new(const acx_executor_opts *opts);

/* Queue FN(ARG) and return its future (one reference, for the caller:
 * unref it when done with it; the future completes with FN's result even
 * if nobody waits or holds it).  Never blocks (the queue is lock-free;
 * only while the pool is still starting workers does it take a lock).
 * NULL with errno: EINVAL (FN or EX NULL), ESHUTDOWN (after
 * acx_executor_shutdown; a submit racing with it is refused unless a
 * worker has already taken its work, which then runs), ENOMEM, EAGAIN
 * (no worker exists and no thread could be started; ENOMEM when the
 * worker's own record could not be allocated), or the initializer's
 * error as a positive errno when the executor is broken.  Any thread,
 * work included. */
acx_future *acx_executor_submit(acx_executor *ex, acx_work_fn fn, void *arg);

/* The future whose work runs in this thread, NULL outside work: what work
 * polls acx_future_stop_requested on. */
acx_future *acx_executor_current(void);

/* Executor.shutdown: refuse new work; with CANCEL_FUTURES cancel every
 * queued future (-ECANCELED; running work finishes); with WAIT block
 * until all work has finished and every worker has exited.  Without
 * CANCEL_FUTURES queued work still runs.  May be called again (a second
 * call with WAIT waits).  Returns 0, -EINVAL for NULL, -EDEADLK for WAIT
 * from one of EX's workers (it would wait for itself).  Any thread. */
int acx_executor_shutdown(acx_executor *ex, int wait, int cancel_futures);

/* Shut down with WAIT (queued work runs first), then free EX (NULL is
 * fine).  Futures the caller holds stay valid.  Called from EX's own work
 * it does nothing (it would free the executor under itself).  Any
 * thread. */
void acx_executor_free(acx_executor *ex);

/* Workers alive now, and the most EX starts. */
int acx_executor_workers(const acx_executor *ex);
int acx_executor_max_workers(const acx_executor *ex);

/* ---- map (Executor.map) ------------------------------------------------
 *
 *     acx_executor_map *m = acx_executor_map_array(ex, work, args, n, NULL);
 *     void *r;
 *     int e;
 *     while ((e = acx_executor_map_next(m, &r)) != -ENODATA)
 *         use(e, r);            (in input order; e < 0: that item failed)
 *     acx_executor_map_free(m);
 *
 * Inputs are read lazily and submitted in chunks of CHUNKSIZE items (one
 * task runs a whole chunk: less overhead for small work); at most
 * BUFFERSIZE items (rounded up to whole chunks) are taken from the input
 * and not yet returned by next, so a huge or endless input never fills
 * memory (Python 3.14's buffersize; here it is bounded by default).
 */
typedef struct acx_executor_map acx_executor_map;

typedef struct acx_map_opts {
    size_t chunksize;   /* 0: 1 */
    size_t buffersize;  /* items ahead of the consumer; 0: 4 chunks per
                         * worker; SIZE_MAX: unbounded */
    int64_t timeout_ms; /* overall, from the map call (< 0: none) */
} acx_map_opts;

/* The input, read from the consumer's thread: store the next item in
 * *ITEM and return 1, or return 0 at its end (or a negative errno: the
 * input failed; next returns it once and then -ENODATA). */
typedef int (*acx_map_source)(void *src, void **item);

/* Map FN over the inputs (OPTS NULL: defaults).  NULL with errno
 * (EINVAL, ENOMEM).  Nothing is submitted before the first next. */
acx_executor_map *acx_executor_map_new(acx_executor *ex, acx_work_fn fn,
                                       acx_map_source next, void *src,
                                       const acx_map_opts *opts);
acx_executor_map *acx_executor_map_array(acx_executor *ex, acx_work_fn fn,
                                         void *const *items, size_t n,
                                         const acx_map_opts *opts);

/* Block until the next result in input order is ready.  Returns 0 with
 * *RESULT (if not NULL) set; the item's error (< 0) when its work failed
 * (or was cancelled: -ECANCELED); -ETIMEDOUT when the deadline passed
 * first (the item is not consumed; later calls return it once done);
 * -ESHUTDOWN when the executor refused the work; -ENODATA at the end.
 * One thread at a time per map. */
int acx_executor_map_next(acx_executor_map *m, void **result);

/* Stop: cancel the chunks not started (those running finish on their
 * own, and are freed by whoever finishes last); NULL is fine. */
void acx_executor_map_free(acx_executor_map *m);

/* ---- from coroutines (asyncio's run_in_executor, to_thread) -----------
 *
 * await acx_run_in_executor(ex, fn, arg, &result): submit FN(ARG) to EX
 * (NULL: this loop's default executor, created on first use and shut down
 * when acx_run ends, after its tasks, waiting at most the bound below for
 * running work) and suspend, without blocking the loop, until it is done.
 * The value is 0 with *RESULT (if not NULL) set, the work's error, or the
 * submit's error (-ESHUTDOWN, -ENOMEM, ...).  When the awaiting task is
 * interrupted (cancel, timeout) the await returns the interrupt at once
 * and the work runs on to its end unobserved (as in asyncio: a running
 * thread cannot be stopped; its future is cancelled if it has not started
 * and gets its stop flag if it has).  Loop thread, inside a task.
 *
 * await acx_to_thread(fn, arg, &result): asyncio.to_thread, the same on
 * the default executor.
 */
ACX_ASYNC_DECL(int, acx_run_in_executor,
               (acx_executor * ex, acx_work_fn fn, void *arg,
                void **result));
ACX_ASYNC_DECL(int, acx_to_thread, (acx_work_fn fn, void *arg,
                                    void **result));

/* The default executor of the loop running in this thread (created on
 * first use; max_workers as Python's default), or NULL with errno
 * (EINVAL: no loop; ENOMEM).  Loop thread. */
acx_executor *acx_default_executor(void);

/* How long the end of acx_run waits for the default executor's work
 * (ms, default 5000; < 0: no limit).  Past it a warning goes to stderr
 * and the workers are left to finish on their own (their executor is
 * then never freed).  Any thread; read when acx_run ends. */
void acx_set_default_executor_timeout(int64_t ms);

#ifdef __cplusplus
}
#endif
#endif
