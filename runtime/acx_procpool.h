/* acx_procpool.h - the process pool executor (issue 5; Python's
 * concurrent.futures.ProcessPoolExecutor).
 *
 * Included by acx.h; see it and acx_executor.h for the conventions.  Every
 * plain call here may be made from any thread.  A pool's futures are
 * ordinary acx_future objects: acx_future_wait, acx_futures_wait,
 * acx_futures_as_completed, acx_future_add_done_callback and
 * `await acx_future_await(f, &v)` from a coroutine all work on them.
 *
 * ---- how work travels ---------------------------------------------------
 *
 * Work is a function of this program (it travels by address: the workers
 * run the same binary) that reads the input bytes and writes output
 * bytes:
 *
 *     int work(const void *in, size_t n, acx_buf *out)
 *
 * It returns 0 (the future's value is then the bytes appended to OUT) or
 * a negative errno, which becomes the future's error.  Inputs and
 * results are copied over an AF_UNIX stream socket per worker (a
 * two-way pipe; never shared pointers); any size works, the sockets are
 * read and written in pieces.  The function and the initializer must be
 * in the executable or in a shared library it was linked with: one
 * loaded later with dlopen is missing from a re-executed zygote's workers
 * (see below), where such a task fails with -ENOENT.
 *
 * ---- where workers come from: a zygote ----------------------------------
 *
 * fork() in a process that runs threads copies only the calling thread: a
 * lock another thread held at that moment (malloc's, stdio's, any mutex
 * of the program) stays locked forever in the child.  So workers are
 * never forked from the caller.  A zygote does it: a helper process
 * started once, single-threaded, that forks a small per-pool forkserver,
 * which forks the pool's workers on request and reaps them.
 *
 *   - acx_procpool_zygote_start() called from main before any thread
 *     exists forks the zygote there: workers inherit the process exactly
 *     as it was at that call (memory, globals, loaded libraries; not its
 *     file descriptors: the zygote keeps only 0, 1 and 2; not its signal
 *     handlers: caught signals go back to their default action, ignored
 *     ones stay ignored; no event loop runs in them).  Recommended.
 *   - Otherwise the first pool starts it.  If this process then has one
 *     thread, it is forked the same way (workers see the process as it was
 *     at that moment).  If other threads run, forking is unsafe, so the
 *     zygote is this program re-executed (posix_spawn of /proc/self/exe,
 *     which copies no lock): it stops in a constructor of libacx before
 *     main, and workers see the program as freshly started (its static
 *     initialisers ran; main did not).  acx_procpool_zygote_method() says
 *     which happened.
 *
 * Workers die with their forkserver, which dies when its pool is freed or
 * this process exits (no orphan outlives the program).  A forkserver
 * that is killed fails its pool: running tasks with -EOWNERDEAD, queued
 * ones and later submits with EPIPE.  A zygote that is killed is reaped
 * and replaced when the next pool is made (or by zygote_stop).
 *
 * ---- crashes --------------------------------------------------------------
 *
 * A worker that dies while running a task (abort(), a segfault, SIGKILL,
 * _exit) fails only that task, with -EOWNERDEAD; acx_procpool_strerror
 * then gives "worker 1234 killed by signal 6 (Aborted)".  The worker is
 * replaced and the pool goes on: it never hangs on a dead worker.
 */
#include "acx.h" /* alone, this part brings all of acx.h, in its order */

#ifndef ACX_PROCPOOL_H
#define ACX_PROCPOOL_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ---- byte buffers ---------------------------------------------------------
 *
 * A growable byte buffer (data is malloc'd; len bytes used of cap).  The
 * work function appends its output to one.  A zeroed acx_buf is empty
 * and valid.
 */
typedef struct acx_buf {
    void *data;
    size_t len;
    size_t cap;
} acx_buf;

/* Make room for N more bytes after LEN; returns a pointer to them (write
 * there, then add what was written to LEN), NULL when out of memory.
 * Any thread (one buffer per thread). */
void *acx_buf_reserve(acx_buf *b, size_t n);

/* Append N bytes from P.  0 or -ENOMEM (-EINVAL for NULL B, or NULL P
 * with N > 0). */
int acx_buf_append(acx_buf *b, const void *p, size_t n);

/* Free the data and zero B (NULL is fine). */
void acx_buf_free(acx_buf *b);

/* The work a worker runs: read N bytes at IN, append the result to OUT
 * (empty on entry), return 0 or a negative errno (the future's error;
 * OUT is then discarded).  A positive return counts as 0.  Runs in a
 * worker process: what it changes in memory stays there.  It may run an
 * event loop of its own (acx_run) or threads, but not use a pool of the
 * parent's (the worker has a copy of its memory, not its processes). */
typedef int (*acx_proc_fn)(const void *in, size_t n, acx_buf *out);

/* ---- the pool -------------------------------------------------------------*/
typedef struct acx_procpool acx_procpool;

typedef struct acx_procpool_opts {
    int max_workers;     /* 0: the number of CPUs, as Python */
    const char *name_prefix; /* NULL: "acxproc"; a worker's process name
                              * (comm, /proc/PID/comm) is PREFIX_N, cut to
                              * 15 bytes */
    /* initializer(initarg, initarg_len) runs first in every new worker;
     * INITARG's bytes are copied when the pool is made.  A negative return
     * breaks the pool, as Python's BrokenProcessPool: the queued futures
     * fail with that error and later submits fail with it. */
    int (*initializer)(const void *initarg, size_t n);
    const void *initarg;
    size_t initarg_len;
    /* A worker exits after this many tasks (a map chunk counts as one)
     * and a fresh process takes its place (0: never): Python's
     * max_tasks_per_child / Pool's maxtasksperchild. */
    unsigned max_tasks_per_worker;
} acx_procpool_opts;

/* Fork the zygote now (see the top of this file).  Call it from main
 * before starting threads, so that workers are copies of the program as
 * it is at this point.  Returns 0 (also when it runs already), or a
 * negative errno (-EAGAIN, -ENOMEM, -EMFILE...).  Any thread, but only
 * useful before the first thread starts. */
int acx_procpool_zygote_start(void);

/* Close the zygote (pools that exist keep their forkservers); the next
 * pool starts a new one, from the process as it is then.  Any thread. */
void acx_procpool_zygote_stop(void);

/* How the zygote was started: 0 none yet, 1 forked (workers inherit the
 * process as it was at that point), 2 re-executed because other threads
 * ran (workers start from a fresh copy of the program). */
int acx_procpool_zygote_method(void);

/* Create a pool (OPTS NULL: defaults).  No worker starts until work is
 * submitted; a new worker starts when work is queued and none is idle,
 * up to max_workers.  Starts the zygote if needed, and the pool's
 * forkserver, which it waits for (one fork).  NULL with errno (EINVAL: a
 * negative max_workers or a NULL initarg with a length; ENOMEM; EMFILE;
 * EAGAIN: the zygote or the forkserver could not be forked), leaving
 * nothing behind.  Any thread. */
acx_procpool *acx_procpool_new(const acx_procpool_opts *opts);

/* Queue FN on a copy of the N bytes at IN and return its future (one
 * reference for the caller; the future completes even if nobody holds
 * it).  When it is done with 0, acx_procpool_result gives the bytes FN
 * wrote.  NULL with errno: EINVAL (P or FN NULL, IN NULL with N > 0,
 * FN not found in a module of the program), ESHUTDOWN (after shutdown or
 * terminate), ENOMEM, or the initializer's error (positive) when the pool
 * is broken (EOWNERDEAD: a worker died in its initializer; EPIPE: the
 * pool's forkserver died).  The future fails with: FN's error; -ENOENT
 * when FN is missing in the worker (a later dlopen); -EOWNERDEAD when
 * its worker died running it; -ENOMEM when this process had no memory
 * for its result (the worker goes on); -ECANCELED; or, when no worker
 * can be started (fork fails) and none is left, the reason (-EMFILE,
 * -EAGAIN...) rather than waiting for one: the pool is not broken, the
 * next submit tries again.  A worker that cannot be forked while others
 * run leaves the work to them; no other is tried until one of them
 * finishes a task or exits, and then one at a time until a fork works.  Once sent to a worker a future is running:
 * acx_future_cancel then returns -EBUSY and the task goes on (the
 * worker cannot see the stop flag).  Any thread, and from done
 * callbacks of P's futures (they run on P's own thread). */
acx_future *acx_procpool_submit(acx_procpool *p, acx_proc_fn fn,
                                const void *in, size_t n);

/* The result bytes of a procpool future F that is done with status 0:
 * stores their address in *DATA and length in *LEN (either may be NULL)
 * and returns 0.  The bytes belong to F and are freed with it (when its
 * last reference goes); they are followed by a zero byte not counted in
 * LEN, so a string result can be used as is.  -EINPROGRESS when F is not
 * done, F's error when it failed, -EINVAL for NULL or a future not from
 * a process pool.  `await acx_future_await(f, &v)` sets v to F's result
 * as an acx_buf * owned by F (an empty one when F failed).  Any
 * thread. */
int acx_procpool_result(const acx_future *f, const void **data, size_t *len);

/* Take F's result bytes over: *OUT gets them (free them with
 * acx_buf_free or free(out->data)), F keeps an empty result.  Same
 * returns as acx_procpool_result.  Call it from one thread only, when no
 * other thread still reads F's result. */
int acx_procpool_result_take(acx_future *f, acx_buf *out);

/* A description of why F failed, in BUF (SIZE bytes, NUL-terminated,
 * cut to fit); returns BUF.  For -EOWNERDEAD: "worker PID killed by
 * signal N (Name)" or "worker PID exited with status N"; for other errors
 * strerror's text; "" when F has not failed. */
char *acx_procpool_strerror(const acx_future *f, char *buf, size_t size);

/* Shutdown: refuse new work; with CANCEL_FUTURES cancel every queued
 * future (-ECANCELED; running tasks finish); with WAIT block until every
 * task has finished and every worker has exited and been reaped.  May be
 * called again.  Returns 0, -EINVAL, or -EDEADLK for WAIT from a done
 * callback of one of P's futures (those run on P's own thread, which the
 * wait would wait for; the rest is done).  Any thread. */
int acx_procpool_shutdown(acx_procpool *p, int wait, int cancel_futures);

/* Pool.terminate: refuse new work, cancel the queued futures, SIGKILL
 * every worker at once (a task that never returns included: its future
 * fails with -EOWNERDEAD) and wait until they are reaped.  Returns 0,
 * -EINVAL, or -EDEADLK from a done callback of P's (the workers are
 * killed, not waited for).  Any thread. */
int acx_procpool_terminate(acx_procpool *p);

/* Shut down with WAIT (queued work runs first), then free P (NULL is
 * fine).  Futures the caller holds stay valid.  From a done callback of
 * P's it returns at once and P is freed when its work is done.  Any
 * thread. */
void acx_procpool_free(acx_procpool *p);

/* Workers alive now (started and not reaped), and the most P starts. */
int acx_procpool_workers(const acx_procpool *p);
int acx_procpool_max_workers(const acx_procpool *p);

/* The pids of the workers alive now: up to MAX in PIDS; returns how many
 * there are (may exceed MAX), or -EINVAL.  For tests and monitoring. */
int acx_procpool_worker_pids(const acx_procpool *p, int *pids, int max);

/* ---- map (Executor.map / Pool.imap) ---------------------------------------
 *
 *     acx_procpool_map *m = acx_procpool_map_array(p, work, items, n, &o);
 *     const void *r;
 *     size_t len;
 *     int e;
 *     while ((e = acx_procpool_map_next(m, &r, &len)) != -ENODATA)
 *         use(e, r, len);        (input order; e < 0: that item failed)
 *     acx_procpool_map_free(m);
 *
 * Items are read lazily and sent in chunks of CHUNKSIZE (one message and
 * one result per chunk: far less overhead for small items); at most
 * BUFFERSIZE items (rounded up to whole chunks) are read and not yet
 * returned by next, so an endless input never fills memory.  A worker
 * that dies while running a chunk fails the chunk's items (-EOWNERDEAD).
 * A map's items and their results are at most 4 GiB - 1 bytes each (an
 * input item beyond that ends the input with -EFBIG; a result beyond it
 * is that item's error -EFBIG); submit has no such limit.
 */
typedef struct acx_procpool_map acx_procpool_map;

/* One input item: N bytes at DATA (copied when its chunk is sent). */
typedef struct acx_bytes {
    const void *data;
    size_t len;
} acx_bytes;

typedef struct acx_procpool_map_opts {
    size_t chunksize;   /* 0: 1 (ProcessPoolExecutor.map's default) */
    size_t buffersize;  /* items ahead of the consumer; 0: 4 chunks per
                         * worker; SIZE_MAX: unbounded */
    int64_t timeout_ms; /* overall, from the map call (< 0: none) */
} acx_procpool_map_opts;

/* The input, read in the consumer's thread: store the next item in *ITEM
 * (its bytes must stay valid until the next call) and return 1, or return
 * 0 at the end (a negative errno: the input failed; next returns it once,
 * then -ENODATA). */
typedef int (*acx_procpool_source)(void *src, acx_bytes *item);

/* Map FN over the inputs (OPTS NULL: defaults).  NULL with errno (EINVAL,
 * ENOMEM).  Nothing is sent before the first next.  The array's items
 * are read when their chunk is sent: keep them valid until then. */
acx_procpool_map *acx_procpool_map_new(acx_procpool *p, acx_proc_fn fn,
                                       acx_procpool_source next, void *src,
                                       const acx_procpool_map_opts *opts);
acx_procpool_map *acx_procpool_map_array(acx_procpool *p, acx_proc_fn fn,
                                         const acx_bytes *items, size_t n,
                                         const acx_procpool_map_opts *opts);

/* Block until the next result in input order is ready.  Returns 0 with
 * *DATA / *LEN (either may be NULL) set to its bytes, valid until the next
 * call of next or free; the item's error (< 0: FN's error, -EOWNERDEAD,
 * -ECANCELED); -ETIMEDOUT when the deadline passed first (the item is not
 * consumed); -ESHUTDOWN when the pool refused the work; -ENODATA at the
 * end.  One thread at a time per map. */
int acx_procpool_map_next(acx_procpool_map *m, const void **data,
                          size_t *len);

/* Stop: cancel the chunks not started (running ones finish in their
 * worker, unobserved); NULL is fine. */
void acx_procpool_map_free(acx_procpool_map *m);

/* ---- test hook (internal) -------------------------------------------------
 *
 * When set, the pool calls it before each transfer on a worker's socket
 * with the call's name ("send", "recv" in this process, and "kill" for a
 * kill request to the forkserver when there is no pidfd; "read", "write"
 * in a worker, which sees the hook if its zygote was forked after it was
 * set) and the length about to be passed (in *LEN: lower it to force a
 * short transfer).  A nonzero return is taken as the call failing with
 * that errno (EINTR, or EAGAIN for "send" and "kill"), so tests reach
 * the paths the kernel rarely takes.  Any thread; not for production use. */
extern int (*acx__procpool_fault)(const char *call, size_t *len);

#ifdef __cplusplus
}
#endif
#endif
