/* acx_pool.h - pools with multiprocessing.Pool's API: a thread variant
 * (multiprocessing.dummy.Pool, ThreadPool) and a process variant (Pool)
 * behind the same calls (issue 5).
 *
 * Included by acx.h.  Every call here may be made from any thread unless
 * it says otherwise (they block the calling thread where they say so); an
 * async result is awaited from a coroutine through its future.
 *
 * Work is a C function over byte buffers, the same for both variants:
 *
 *     int fn(const void *in, size_t len, acx_buf *out)
 *
 * (acx_procpool.h's acx_proc_fn).  It reads its input IN (LEN bytes),
 * appends its result to OUT (empty on entry; acx_buf_append, or set
 * data/len/cap to a malloc'd block) and returns 0, or returns a negative
 * errno (OUT is then freed and the item has no result; a positive return
 * counts as 0).  A result buffer belongs to whoever receives it, who
 * frees it with free(data) or acx_buf_free.
 *
 *   - Thread variant: inputs are passed by reference (no copy: IN points
 *     into the caller's buffer, which must stay valid and unchanged until
 *     the call's result is ready) and results are handed over as they are.
 *   - Process variant: inputs are copied to the worker process when their
 *     chunk is sent and results copied back, so pointers inside them mean
 *     nothing on the other side; FN must be a function of the program
 *     or of a library it was linked with: it travels as (module,
 *     offset), as acx_procpool's work does, so it resolves in workers
 *     of a re-executed zygote too.
 *
 * starmap's items are argument tuples: an acx_args is an array of NARGS
 * buffers, and the work is int starfn(const acx_buf *args, size_t nargs,
 * acx_buf *out).  (In the process variant the tuple travels packed in
 * one buffer and is unpacked into an acx_buf array in the worker.)
 */
#include "acx.h" /* alone, this part brings all of acx.h, in its order */

#ifndef ACX_POOL_H
#define ACX_POOL_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#include "acx_procpool.h" /* acx_buf, acx_proc_fn */

/* The work: the process pool executor's acx_proc_fn. */
typedef acx_proc_fn acx_pool_fn;

/* One starmap item: the argument tuple ARGS[0..NARGS). */
typedef struct acx_args {
    const acx_buf *args;
    size_t nargs;
} acx_args;
typedef int (*acx_pool_starfn)(const acx_buf *args, size_t nargs,
                               acx_buf *out);

typedef struct acx_pool acx_pool;
typedef struct acx_async_result acx_async_result;
typedef struct acx_pool_iter acx_pool_iter;

enum { ACX_POOL_THREADS = 1, ACX_POOL_PROCESSES = 2 };

typedef struct acx_pool_opts {
    int processes; /* workers; 0: the number of CPUs, as Python */
    /* initializer(initarg, initarg_len) runs first in every worker
     * (thread or process; as acx_procpool_opts: the process variant
     * copies INITARG's bytes when the pool is made, the thread variant
     * passes the pointer).  A negative return breaks the pool: pending
     * work fails with that error and later calls fail with it too
     * (Python would respawn the failing worker forever). */
    int (*initializer)(const void *initarg, size_t len);
    const void *initarg;
    size_t initarg_len;
    /* A worker is replaced by a fresh one after this many tasks (0:
     * never), as maxtasksperchild.  A task is a chunk, as in Python. */
    unsigned maxtasksperchild;
} acx_pool_opts;

/* Pool(processes, initializer, initargs, maxtasksperchild) with KIND
 * ACX_POOL_PROCESSES, multiprocessing.dummy.Pool with ACX_POOL_THREADS
 * (OPTS NULL: all defaults).  Workers start as work comes.  NULL with
 * errno: EINVAL (a bad KIND, a negative processes), ENOMEM; for
 * processes also EMFILE, EAGAIN (acx_procpool_new's errors). */
acx_pool *acx_pool_new(int kind, const acx_pool_opts *opts);

/* The number of workers, and the pool's kind. */
int acx_pool_processes(const acx_pool *p);
int acx_pool_kind(const acx_pool *p);

/* ---- async results (multiprocessing.pool.AsyncResult) ------------------
 *
 * Callbacks, both optional: CALLBACK(RESULTS, N, ARG) gets the whole
 * result list (one buffer for apply_async, N for map_async; they still
 * belong to the async result: the callback may take one by copying it
 * and setting its data to NULL); ERROR_CALLBACK(ERR, ARG) gets the error.
 * Exactly one of them runs, exactly once, before the result becomes ready
 * (so a get that returns has seen it run), in the thread that completes
 * the result: a worker thread of a thread pool; the process pool
 * executor's manager thread (or, if a chunk's reply beat the attaching
 * of its done callback, the thread that sent the chunk); after
 * terminate, the thread calling terminate.  They must not block long
 * (they hold up that worker) nor wait for results; join and the
 * blocking calls return -EDEADLK there.
 */
typedef struct acx_async_opts {
    void (*callback)(acx_buf *results, size_t n, void *arg);
    void (*error_callback)(int err, void *arg);
    void *arg;
} acx_async_opts;

/* AsyncResult.get(timeout): block until R is ready or TIMEOUT_MS pass
 * (< 0: no limit).  Returns 0 with *RESULTS (if not NULL) pointing at R's
 * result list and *N (if not NULL) its length, valid until
 * acx_async_result_free; the work's error (the first one, for a map); or
 * -ETIMEDOUT (TimeoutError; R is not affected).  -ECANCELED when the pool
 * was terminated first.  -EINVAL for NULL. */
int acx_async_result_get(acx_async_result *r, int64_t timeout_ms,
                         acx_buf **results, size_t *n);

/* AsyncResult.wait(timeout): 0 once ready, -ETIMEDOUT. */
int acx_async_result_wait(acx_async_result *r, int64_t timeout_ms);

/* ready(): 1 or 0.  successful(): 1 or 0 once ready, -EAGAIN before
 * (Python's ValueError), -EINVAL for NULL. */
int acx_async_result_ready(const acx_async_result *r);
int acx_async_result_successful(const acx_async_result *r);

/* The future R completes (after its callback): 0 with a value of R
 * itself, or the error.  Borrowed: valid while R is; take a reference to
 * keep it longer.  A coroutine awaits R without blocking its loop:
 *     int err = await acx_async_result_await(r);
 */
acx_future *acx_async_result_future(acx_async_result *r);
#define acx_async_result_await(r)                                          \
    acx_future_await(acx_async_result_future(r), NULL)

/* Release R (NULL is fine).  Work not finished runs on and its results
 * are dropped; its callback still runs.  The result buffers go with R. */
void acx_async_result_free(acx_async_result *r);

/* ---- apply, map, starmap -------------------------------------------------
 *
 * CHUNKSIZE 0 picks Python's default for map: the items divided by four
 * times the workers, rounded up.  A map keeps at most four chunks per
 * worker submitted at a time and sends the next as one finishes, so a
 * million items with chunksize 1 never make a million queued tasks.  A
 * map's result fails as a whole with the first item error to arrive
 * (Python raises it from get); chunks still running then finish
 * unobserved.  Errors of the calls themselves: NULL with errno (async) or
 * the negative errno: EINVAL (NULL P or FN, ITEMS NULL with N > 0),
 * ESHUTDOWN (after close or terminate: Python's ValueError "Pool not
 * running"), ENOMEM, the initializer's error when the pool is broken;
 * the blocking calls also -EDEADLK from a callback or task of P's own
 * (waiting there could wait for itself).
 */

/* The chunksize map uses for N items when given 0: Python's
 *     chunksize, extra = divmod(n, 4 * processes); if extra: chunksize += 1
 * (at least 1).  0 for NULL. */
size_t acx_pool_default_chunksize(const acx_pool *p, size_t n);

/* apply(fn, args): run FN on IN and wait; 0 with *OUT set, or the error.
 * apply_async: the same without waiting (OPTS NULL: no callbacks). */
int acx_pool_apply(acx_pool *p, acx_pool_fn fn, const void *in, size_t len,
                   acx_buf *out);
acx_async_result *acx_pool_apply_async(acx_pool *p, acx_pool_fn fn,
                                       const void *in, size_t len,
                                       const acx_async_opts *opts);

/* map(fn, items, chunksize): FN over the N ITEMS, results in input order
 * in OUT[0..N) (the caller frees each data).  Returns 0, or the first
 * error, every OUT entry then left empty.  map_async: the result list
 * belongs to the async result. */
int acx_pool_map(acx_pool *p, acx_pool_fn fn, const acx_buf *items,
                 size_t n, size_t chunksize, acx_buf *out);
acx_async_result *acx_pool_map_async(acx_pool *p, acx_pool_fn fn,
                                     const acx_buf *items, size_t n,
                                     size_t chunksize,
                                     const acx_async_opts *opts);

/* starmap / starmap_async: the same over argument tuples. */
int acx_pool_starmap(acx_pool *p, acx_pool_starfn fn, const acx_args *items,
                     size_t n, size_t chunksize, acx_buf *out);
acx_async_result *acx_pool_starmap_async(acx_pool *p, acx_pool_starfn fn,
                                         const acx_args *items, size_t n,
                                         size_t chunksize,
                                         const acx_async_opts *opts);

/* ---- imap, imap_unordered ----------------------------------------------
 *
 *     acx_pool_iter *it = acx_pool_imap(p, fn, items, n, 1);
 *     acx_buf r;
 *     size_t i;
 *     int e;
 *     while ((e = acx_pool_iter_next(it, -1, &r, &i)) != -ENODATA)
 *         use(i, e, r);         (e < 0: item I failed; else free(r.data))
 *     acx_pool_iter_free(it);
 *
 * Lazy and bounded: at most BUFFERSIZE items (rounded up to whole chunks)
 * are taken from the input and not yet returned by next; more are taken,
 * in the thread calling next, as results are consumed.  A million-item or
 * endless input runs in constant memory (Python's imap reads its whole
 * input ahead).  The pool's join waits for every iterator to be consumed
 * to its end or freed.
 */

/* The input of acx_pool_imap_source, read in the threads calling
 * acx_pool_imap_source and next: store the next item in *ITEM and return
 * 1, or return 0 at its end (or a negative errno: next returns it once
 * where the item would have come, then the input counts as ended).  An
 * item's data must stay valid until its result is returned. */
typedef int (*acx_pool_source)(void *src, acx_buf *item);

typedef struct acx_imap_opts {
    size_t chunksize;  /* 0: 1, as Python's imap */
    size_t buffersize; /* items ahead of the consumer; 0: four chunks per
                        * worker; SIZE_MAX: unbounded */
    int unordered;     /* results in completion order (imap_unordered) */
} acx_imap_opts;

/* imap(fn, items, chunksize) and imap_unordered over an array, or over a
 * source (OPTS NULL: defaults).  NULL with errno as map_async. */
acx_pool_iter *acx_pool_imap(acx_pool *p, acx_pool_fn fn,
                             const acx_buf *items, size_t n,
                             size_t chunksize);
acx_pool_iter *acx_pool_imap_unordered(acx_pool *p, acx_pool_fn fn,
                                       const acx_buf *items, size_t n,
                                       size_t chunksize);
acx_pool_iter *acx_pool_imap_source(acx_pool *p, acx_pool_fn fn,
                                    acx_pool_source source, void *src,
                                    const acx_imap_opts *opts);

/* next(timeout): block until the next result is ready (in input order,
 * or in completion order for unordered) or TIMEOUT_MS pass (< 0: no
 * limit).  Returns 0 with *OUT (its data now the caller's) and *INDEX,
 * the item's position in the input (either may be NULL: the data is then
 * freed); the item's error (< 0, *INDEX set); -ETIMEDOUT (nothing
 * consumed: TimeoutError); the source's error; -ECANCELED once when the
 * pool was terminated; -ENODATA at the end.  One thread at a time. */
int acx_pool_iter_next(acx_pool_iter *it, int64_t timeout_ms, acx_buf *out,
                       size_t *index);

/* Stop iterating (NULL is fine): results not consumed are freed, work
 * not started is not sent, running work finishes unobserved. */
void acx_pool_iter_free(acx_pool_iter *it);

/* ---- close, terminate, join --------------------------------------------
 *
 * close(): no new calls (they fail with -ESHUTDOWN); work already given,
 * the rest of running maps and iterators included, still runs.
 *
 * terminate(): stop at once.  Every result not ready fails with
 * -ECANCELED (its error callback runs, in this thread) and every iterator
 * returns -ECANCELED; work not started never runs.  Process variant: the
 * workers are killed.  Thread variant: a running task cannot be killed
 * (Python's ThreadPool cannot either); it runs on, abandoned, its result
 * dropped; the pool's memory outlives it (nothing is freed under it).
 *
 * join(timeout): after close or terminate (else -EINVAL, Python's
 * ValueError), block until every result is ready, every iterator is
 * consumed or freed and the workers have exited, or TIMEOUT_MS pass
 * (-ETIMEDOUT; < 0: no limit).  After terminate, a thread stuck in a task
 * keeps join returning -ETIMEDOUT.  -EDEADLK from the pool's own worker.
 *
 * free(): terminate if still running (as Pool.__exit__), then release P.
 * A thread pool with a task still running is left to it: the task's
 * thread frees what it uses when it ends.  Never from a worker of P.
 */
int acx_pool_close(acx_pool *p);
int acx_pool_terminate(acx_pool *p);
int acx_pool_join(acx_pool *p, int64_t timeout_ms);
void acx_pool_free(acx_pool *p);

#ifdef __cplusplus
}
#endif
#endif
