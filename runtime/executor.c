/* executor.c - the thread pool executor (concurrent.futures'
 * ThreadPoolExecutor).
 *
 * One mutex guards a ring of queued work and the worker list.  A worker
 * takes a few items per lock round trip when the queue is long (a small
 * share of it, so long tasks still spread over the workers).  An idle
 * worker spins a while on an atomic flag, queue not empty (waking a
 * sleeping thread costs tens of microseconds on an idle vCPU, more than
 * typical work), then sleeps on a futex word that submit bumps only for
 * an item that no spinning or already woken worker is coming for.  Workers start lazily,
 * when work is queued and none is idle.  A worker that reaches
 * max_tasks_per_worker hands over to a fresh thread; exited threads are
 * joined by whoever next takes the worker list in hand.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <limits.h>
#include <linux/futex.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "acx_internal.h"

#define IDLE_SPIN_NS 50000 /* how long an idle worker looks before sleeping */
#define BATCH_MAX 16      /* most queued items a worker takes at once */
#define NAME_MAX_LEN 15    /* pthread_setname_np's limit, without the NUL */

struct work {
    acx_future *f;
    acx_work_fn fn;
    void *arg;
};

struct worker {
    struct worker *next;
    acx_executor *ex;
    pthread_t tid;
    int exited; /* past its last use of the executor: join will not block */
};

struct acx_executor {
    pthread_mutex_t mu;
    struct work *ring;      /* queued work, a circular array */
    size_t cap, head, count;
    /* Whether COUNT > 0, for spinning workers, on a line of its own and
     * written only when that changes: a spinner reading it must not slow
     * down every push and pop of a burst. */
    _Alignas(64) _Atomic int nonempty;
    _Alignas(64) char after_nonempty;
    _Atomic uint32_t wake;  /* futex word of sleeping workers */
    _Atomic int spinning;   /* idle workers looking at QUEUED */
    int sleeping;           /* idle workers on the futex */
    int waking;             /* of which woken by submit, not yet up */
    int nworkers;           /* started and not exited */
    int seq;                /* numbers thread names */
    int shutdown;
    _Atomic int cancelling; /* shutdown(cancel_futures): batches too */
    int broken;             /* the initializer's error, or 0 */
    int detached;           /* abandoned: workers detached, never joined */
    struct worker *workers;
    acx_executor_opts o;
    char prefix[NAME_MAX_LEN + 1];
};

static __thread acx_future *cur_work;
static __thread acx_executor *cur_exec; /* the executor this worker serves */

acx_future *acx_executor_current(void)
{
    return cur_work;
}

static int64_t mono_ns(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (int64_t)t.tv_sec * 1000000000 + t.tv_nsec;
}

static int default_workers(void)
{
    long cpus = sysconf(_SC_NPROCESSORS_ONLN);
    if (cpus < 1)
        cpus = 1;
    return cpus + 4 < 32 ? (int)cpus + 4 : 32;
}

acx_executor *acx_executor_new(const acx_executor_opts *opts)
{
    if (opts != NULL && opts->max_workers < 0) {
        errno = EINVAL;
        return NULL;
    }
    acx_executor *ex = calloc(1, sizeof *ex);
    if (ex == NULL)
        return NULL;
    if (opts != NULL)
        ex->o = *opts;
    if (ex->o.max_workers == 0)
        ex->o.max_workers = default_workers();
    snprintf(ex->prefix, sizeof ex->prefix, "%s",
             ex->o.thread_name_prefix ? ex->o.thread_name_prefix
                                      : "acxpool");
    ex->o.thread_name_prefix = ex->prefix;
    /* Held for a few instructions by the submitter and every worker: an
     * adaptive mutex spins a little where a plain one would sleep in the
     * kernel at each collision (most of a burst's cost). */
    pthread_mutexattr_t a;
    pthread_mutexattr_init(&a);
    pthread_mutexattr_settype(&a, PTHREAD_MUTEX_ADAPTIVE_NP);
    pthread_mutex_init(&ex->mu, &a);
    pthread_mutexattr_destroy(&a);
    return ex;
}

/* ---- the queue (under MU) ------------------------------------------------ */

static int ring_push(acx_executor *ex, struct work w)
{
    if (ex->count == ex->cap) {
        size_t cap = ex->cap ? ex->cap * 2 : 64;
        struct work *r = malloc(cap * sizeof *r);
        if (r == NULL)
            return -ENOMEM;
        for (size_t i = 0; i < ex->count; i++)
            r[i] = ex->ring[(ex->head + i) % ex->cap];
        free(ex->ring);
        ex->ring = r;
        ex->cap = cap;
        ex->head = 0;
    }
    ex->ring[(ex->head + ex->count) % ex->cap] = w;
    ex->count++;
    if (ex->count == 1)
        atomic_store_explicit(&ex->nonempty, 1, memory_order_release);
    return 0;
}

static struct work ring_pop(acx_executor *ex)
{
    struct work w = ex->ring[ex->head];
    ex->head = (ex->head + 1) % ex->cap;
    ex->count--;
    if (ex->count == 0)
        atomic_store_explicit(&ex->nonempty, 0, memory_order_relaxed);
    return w;
}

/* ---- workers --------------------------------------------------------------- */

static void futex_wake(_Atomic uint32_t *w, int n)
{
    syscall(SYS_futex, w, FUTEX_WAKE_PRIVATE, n, NULL, NULL, 0);
}

/* Wake sleepers for queued work no spinning worker will take. */
static int wake_needed(acx_executor *ex)
{
    if (ex->sleeping - ex->waking <= 0 ||
        ex->count <= (size_t)atomic_load(&ex->spinning) + ex->waking)
        return 0;
    ex->waking++; /* one wake-up per item nobody is coming for */
    return 1;
}

static void run_work(acx_executor *ex, struct work w)
{
    /* Work a worker took in a batch is still queued work to a caller. */
    if (atomic_load_explicit(&ex->cancelling, memory_order_relaxed))
        acx_future_cancel(w.f);
    if (acx__future_start(w.f) == 0) {
        int err = 0;
        cur_work = w.f;
        void *v = w.fn(w.arg, &err);
        cur_work = NULL;
        if (err < 0)
            acx_future_set_error(w.f, err);
        else
            acx_future_set_result(w.f, v);
    }
    acx_future_unref(w.f); /* the queue's reference */
}

/* Idle, with MU held: spin, then sleep, until work or shutdown may have
 * come.  Returns with MU held.  One idle worker at a time spins: waking a
 * sleeping thread costs the submitter a system call and the work tens of
 * microseconds when its vCPU has gone idle, far more than small work
 * takes; a second spinner would only take a CPU from the submitter. */
static void worker_idle(acx_executor *ex)
{
    if (atomic_load(&ex->spinning) == 0) {
        atomic_fetch_add(&ex->spinning, 1);
        pthread_mutex_unlock(&ex->mu);
        int64_t until = mono_ns() + IDLE_SPIN_NS;
        for (int i = 0;; i++) {
            if (atomic_load_explicit(&ex->nonempty, memory_order_acquire))
                break;
            ACX__CPU_RELAX();
            if ((i & 63) == 63 && mono_ns() > until)
                break;
        }
        pthread_mutex_lock(&ex->mu);
        atomic_fetch_sub(&ex->spinning, 1);
        if (ex->count > 0 || ex->shutdown)
            return;
    }
    uint32_t seen = atomic_load(&ex->wake);
    ex->sleeping++;
    pthread_mutex_unlock(&ex->mu);
    syscall(SYS_futex, &ex->wake, FUTEX_WAIT_PRIVATE, seen, NULL, NULL, 0);
    pthread_mutex_lock(&ex->mu);
    ex->sleeping--;
    if (ex->waking > 0)
        ex->waking--;
}

/* How many queued items a worker takes at once (MU held): one lock round
 * trip for several small tasks in a burst, yet never more than a small
 * share of the queue, so that the other workers are not starved of long
 * tasks; and never past max_tasks_per_worker. */
static size_t batch_size(const acx_executor *ex, unsigned done)
{
    size_t k = ex->count / (4 * (size_t)ex->o.max_workers);
    if (k > BATCH_MAX)
        k = BATCH_MAX;
    if (k < 1)
        k = 1;
    if (ex->o.max_tasks_per_worker != 0 &&
        k > ex->o.max_tasks_per_worker - done)
        k = ex->o.max_tasks_per_worker - done;
    return k;
}

static void fail_queued(acx_executor *ex, int err);
static int spawn_locked(acx_executor *ex);
static void reap_locked(acx_executor *ex);

static void name_thread(acx_executor *ex, int n)
{
    char name[NAME_MAX_LEN + 16];
    snprintf(name, sizeof name, "%s_%d", ex->prefix, n);
    name[NAME_MAX_LEN] = '\0'; /* the kernel keeps 15 bytes */
    pthread_setname_np(pthread_self(), name);
}

static void *worker_main(void *arg)
{
    struct worker *me = arg;
    acx_executor *ex = me->ex;
    pthread_mutex_t *mu = &ex->mu;
    cur_exec = ex;
    pthread_mutex_lock(mu);
    int n = ex->seq++;
    pthread_mutex_unlock(mu);
    name_thread(ex, n);
    if (ex->o.initializer != NULL) {
        int err = ex->o.initializer(ex->o.initarg);
        if (err < 0) {
            pthread_mutex_lock(mu);
            if (ex->broken == 0)
                ex->broken = err;
            fail_queued(ex, err);
        }
    }
    unsigned done = 0;
    pthread_mutex_lock(mu);
    while (!ex->broken) {
        if (ex->count > 0) {
            struct work batch[BATCH_MAX];
            size_t k = batch_size(ex, done);
            for (size_t i = 0; i < k; i++)
                batch[i] = ring_pop(ex);
            pthread_mutex_unlock(mu);
            for (size_t i = 0; i < k; i++)
                run_work(ex, batch[i]);
            done += (unsigned)k;
            pthread_mutex_lock(mu);
            if (done == ex->o.max_tasks_per_worker)
                break; /* recycle: a fresh thread takes over */
            continue;
        }
        if (ex->shutdown)
            break;
        worker_idle(ex);
    }
    ex->nworkers--;
    reap_locked(ex); /* others that exited; never this one (not marked) */
    if (ex->count > 0 && !ex->broken &&
        ex->nworkers < ex->o.max_workers)
        spawn_locked(ex); /* the queue must not be left without workers */
    me->exited = 1;
    pthread_mutex_unlock(mu);
    return NULL;
}

/* Start one worker (MU held). */
static int spawn_locked(acx_executor *ex)
{
    struct worker *w = calloc(1, sizeof *w);
    if (w == NULL)
        return -ENOMEM;
    w->ex = ex;
    int err = pthread_create(&w->tid, NULL, worker_main, w);
    if (err != 0) {
        free(w);
        return -err;
    }
    if (ex->detached)
        pthread_detach(w->tid);
    w->next = ex->workers;
    ex->workers = w;
    ex->nworkers++;
    return 0;
}

/* Join and free the workers that have exited (MU held: they no longer
 * touch it, so the joins return at once). */
static void reap_locked(acx_executor *ex)
{
    if (ex->detached)
        return;
    for (struct worker **pp = &ex->workers; *pp != NULL;) {
        struct worker *w = *pp;
        if (!w->exited) {
            pp = &w->next;
            continue;
        }
        *pp = w->next;
        pthread_join(w->tid, NULL);
        free(w);
    }
}

/* Complete every queued future with ERR (MU held; it is released). */
static void fail_queued(acx_executor *ex, int err)
{
    size_t n = ex->count;
    struct work *w = n ? malloc(n * sizeof *w) : NULL;
    size_t taken = 0;
    if (w != NULL)
        while (ex->count > 0)
            w[taken++] = ring_pop(ex);
    pthread_mutex_unlock(&ex->mu);
    for (size_t i = 0; i < taken; i++) {
        if (err == -ECANCELED)
            acx_future_cancel(w[i].f);
        else
            acx_future_set_error(w[i].f, err);
        acx_future_unref(w[i].f);
    }
    free(w);
    if (n > 0 && w == NULL) { /* out of memory: one at a time instead */
        pthread_mutex_lock(&ex->mu);
        while (ex->count > 0) {
            struct work one = ring_pop(ex);
            pthread_mutex_unlock(&ex->mu);
            acx_future_set_error(one.f, err);
            acx_future_unref(one.f);
            pthread_mutex_lock(&ex->mu);
        }
        pthread_mutex_unlock(&ex->mu);
    }
}

/* ---- submit ------------------------------------------------------------------ */

acx_future *acx_executor_submit(acx_executor *ex, acx_work_fn fn, void *arg)
{
    if (ex == NULL || fn == NULL) {
        errno = EINVAL;
        return NULL;
    }
    acx_future *f = acx_future_new();
    if (f == NULL)
        return NULL;
    acx_future_ref(f); /* the queue's, dropped when the work is done */
    pthread_mutex_lock(&ex->mu);
    int err = ex->broken ? ex->broken : ex->shutdown ? -ESHUTDOWN : 0;
    if (err == 0)
        err = ring_push(ex, (struct work){f, fn, arg});
    if (err < 0) {
        pthread_mutex_unlock(&ex->mu);
        acx_future_unref(f);
        acx_future_unref(f);
        errno = -err;
        return NULL;
    }
    int idle = atomic_load(&ex->spinning) + ex->sleeping;
    if ((size_t)idle < ex->count && ex->nworkers < ex->o.max_workers) {
        reap_locked(ex);
        if (spawn_locked(ex) < 0 && ex->nworkers == 0) {
            /* No worker can run it: take it back (it is the last). */
            ex->count--;
            if (ex->count == 0)
                atomic_store(&ex->nonempty, 0);
            pthread_mutex_unlock(&ex->mu);
            acx_future_unref(f);
            acx_future_unref(f);
            errno = EAGAIN;
            return NULL;
        }
    }
    int wake = wake_needed(ex);
    if (wake)
        atomic_fetch_add(&ex->wake, 1);
    pthread_mutex_unlock(&ex->mu);
    if (wake)
        futex_wake(&ex->wake, 1);
    return f;
}

/* ---- shutdown ---------------------------------------------------------------- */

/* Join every worker, those that start meanwhile (recycling) included. */
static void join_all(acx_executor *ex)
{
    pthread_mutex_lock(&ex->mu);
    while (ex->workers != NULL) {
        struct worker *w = ex->workers;
        ex->workers = w->next;
        pthread_mutex_unlock(&ex->mu);
        pthread_join(w->tid, NULL);
        free(w);
        pthread_mutex_lock(&ex->mu);
    }
    pthread_mutex_unlock(&ex->mu);
}

int acx_executor_shutdown(acx_executor *ex, int wait, int cancel_futures)
{
    if (ex == NULL)
        return -EINVAL;
    if (wait && cur_exec == ex)
        return -EDEADLK; /* it would wait for itself */
    pthread_mutex_lock(&ex->mu);
    ex->shutdown = 1;
    atomic_fetch_add(&ex->wake, 1);
    if (cancel_futures) {
        atomic_store(&ex->cancelling, 1);
        fail_queued(ex, -ECANCELED); /* unlocks */
    }
    else
        pthread_mutex_unlock(&ex->mu);
    futex_wake(&ex->wake, INT_MAX);
    if (wait)
        join_all(ex);
    return 0;
}

int acx__executor_join(acx_executor *ex, int64_t ms)
{
    int64_t until = ms < 0 ? INT64_MAX : mono_ns() + ms * 1000000;
    for (;;) {
        pthread_mutex_lock(&ex->mu);
        int live = ex->nworkers;
        pthread_mutex_unlock(&ex->mu);
        if (live == 0 || ms < 0)
            break;
        if (mono_ns() >= until)
            return -ETIMEDOUT;
        struct timespec nap = {0, 200000}; /* exits are rare: poll */
        nanosleep(&nap, NULL);
    }
    join_all(ex);
    return 0;
}

void acx__executor_abandon(acx_executor *ex)
{
    pthread_mutex_lock(&ex->mu);
    if (!ex->detached) {
        ex->detached = 1;
        /* Records stay: their threads still write to them. */
        for (struct worker *w = ex->workers; w != NULL; w = w->next)
            pthread_detach(w->tid);
    }
    pthread_mutex_unlock(&ex->mu);
}

void acx_executor_free(acx_executor *ex)
{
    if (ex == NULL || cur_exec == ex)
        return; /* from its own work it would free itself under it */
    acx_executor_shutdown(ex, 1, 0);
    free(ex->ring);
    pthread_mutex_destroy(&ex->mu);
    free(ex);
}

int acx_executor_workers(const acx_executor *ex)
{
    if (ex == NULL)
        return -EINVAL;
    acx_executor *e = (acx_executor *)ex;
    pthread_mutex_lock(&e->mu);
    int n = e->nworkers;
    pthread_mutex_unlock(&e->mu);
    return n;
}

int acx_executor_max_workers(const acx_executor *ex)
{
    return ex == NULL ? -EINVAL : ex->o.max_workers;
}
