/* poolthr.c - the thread variant of the pool (multiprocessing.dummy):
 * chunks run as tasks of a thread pool executor, which brings the
 * workers, the initializer and the recycling after maxtasksperchild.
 *
 * A chunk's task runs its items and finishes it in the worker; a done
 * callback on the task's future finishes the chunks that never ran
 * (terminate cancels them, a broken executor fails them).  A task that
 * never returns keeps its worker: free then leaves the executor to it
 * (detached, never freed) rather than wait forever or free it under it.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdlib.h>

#include "pool_internal.h"

struct thr {
    acx_executor *ex;
    acx_pool *pool;
    _Atomic int running; /* chunks inside their items now */
};

/* Executors left to a task that did not return: kept reachable. */
struct left {
    struct left *next;
    struct thr *t;
};
static struct left *left_list;
static pthread_mutex_t left_mu = PTHREAD_MUTEX_INITIALIZER;

static __thread acx_pool *cur_pool; /* the pool whose chunk runs here */

static int thr_init(void *arg)
{
    acx_pool *p = arg;
    int err = p->o.initializer(p->o.initarg, p->o.initarg_len);
    if (err < 0)
        acx__pool_broken(p, err); /* new calls fail at once */
    return err;
}

static int thr_start(acx_pool *p)
{
    struct thr *t = calloc(1, sizeof *t);
    if (t == NULL)
        return -ENOMEM;
    acx_executor_opts o = {
        .max_workers = p->nworkers,
        .thread_name_prefix = "acxmp",
        .initializer = p->o.initializer ? thr_init : NULL,
        .initarg = p,
        .max_tasks_per_worker = p->o.maxtasksperchild,
    };
    t->ex = acx_executor_new(&o);
    if (t->ex == NULL) {
        free(t);
        return -ENOMEM;
    }
    t->pool = p;
    p->impl = t;
    return 0;
}

static void *thr_work(void *arg, int *err)
{
    struct pool_chunk *c = arg;
    struct thr *t = c->pool->impl;
    (void)err;
    atomic_store(&c->ran, 1);
    atomic_fetch_add(&t->running, 1);
    cur_pool = c->pool;
    acx__pool_chunk_run(c);
    /* Before the finish, which may drop the pool's last reference; T
     * outlives it (freed only when no chunk runs, or never). */
    atomic_fetch_sub(&t->running, 1);
    acx__pool_chunk_finish(c, 0); /* callbacks run here, as documented */
    cur_pool = NULL;
    return NULL;
}

/* The task's future is done: a chunk that never ran is finished here,
 * with the cancel or the executor's error. */
static void thr_done(acx_future *f, void *arg)
{
    struct pool_chunk *c = arg;
    if (!atomic_load(&c->ran)) {
        int st = acx_future_status(f);
        acx__pool_chunk_finish(c, st < 0 ? st : -ECANCELED);
        acx__pool_chunk_put(c); /* the task's reference, never used */
        return;
    }
    acx__pool_chunk_put(c);
}

/* C holds one reference for the backend; the task and the done callback
 * take one each from here on. */
static int thr_submit(acx_pool *p, struct pool_chunk *c)
{
    struct thr *t = p->impl;
    atomic_fetch_add(&c->refs, 1);
    acx_future *f = acx_executor_submit(t->ex, thr_work, c);
    if (f == NULL) {
        int err = errno > 0 ? -errno : -ENOMEM;
        atomic_fetch_sub(&c->refs, 1);
        return err;
    }
    if (acx_future_add_done_callback(f, thr_done, c) < 0) {
        /* No callback: a task not started must not start, as nobody
         * would finish its chunk if it were cancelled later. */
        if (acx_future_cancel(f) == 0) {
            acx__pool_chunk_finish(c, -ENOMEM);
            acx__pool_chunk_put(c);
        } else {
            acx__pool_chunk_put(c); /* the callback's */
        }
    }
    acx_future_unref(f);
    return 0;
}

static void thr_terminate(acx_pool *p)
{
    struct thr *t = p->impl;
    acx_executor_shutdown(t->ex, 0, 1); /* cancels what is queued */
}

static int thr_join(acx_pool *p, int64_t timeout_ms)
{
    struct thr *t = p->impl;
    acx_executor_shutdown(t->ex, 0, 0);
    return acx__executor_join(t->ex, timeout_ms);
}

static int thr_in_worker(const acx_pool *p)
{
    return cur_pool == p;
}

/* After terminate: free the executor once its workers have exited, or
 * leave it to a task that is still running. */
static void thr_release(acx_pool *p)
{
    struct thr *t = p->impl;
    acx_executor_shutdown(t->ex, 0, 1);
    for (;;) {
        if (acx__executor_join(t->ex, 1) == 0) {
            acx_executor_free(t->ex);
            free(t);
            return;
        }
        if (atomic_load(&t->running) > 0)
            break;
    }
    acx__executor_abandon(t->ex);
    struct left *l = malloc(sizeof *l);
    if (l == NULL)
        return; /* unreachable then, but still not freed under the task */
    l->t = t;
    pthread_mutex_lock(&left_mu);
    l->next = left_list;
    left_list = l;
    pthread_mutex_unlock(&left_mu);
}

const struct pool_backend acx__pool_threads = {
    .name = "threads",
    .start = thr_start,
    .submit = thr_submit,
    .terminate = thr_terminate,
    .join = thr_join,
    .in_worker = thr_in_worker,
    .release = thr_release,
};
