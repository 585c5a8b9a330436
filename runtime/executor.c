/* executor.c - the thread pool executor (concurrent.futures'
 * ThreadPoolExecutor).
 *
 * The queue is an intrusive lock-free list (Vyukov's multi-producer
 * queue; the node is inside the future, so a submit allocates once):
 * a submit is one atomic exchange on the tail's cache line, which the
 * workers only read, and never waits for a worker.  Workers take items
 * under a consumer lock of their own, a few per round when the queue is
 * long (a small share of it, so that long tasks still spread over the
 * workers).
 *
 * Idle workers: at most one keeps looking at the queue (for IDLE_SPIN_NS,
 * yielding between looks; waking a sleeping thread costs tens of
 * microseconds on an idle vCPU, more than typical work), the others sleep
 * on a futex word.  A submit wakes a sleeper only
 * when nobody spins and no wake-up is already on its way (the WAKING
 * flag), so a burst costs no system call per task; a worker that takes
 * work while more is queued wakes the next one (Go's scheduler does the
 * same), so the workers join in as the backlog grows and stay asleep
 * while one of them keeps up: idle workers cost a busy one nothing.
 *
 * Shutdown sets a flag that a submit reads after its exchange (both
 * sequentially consistent): a submit that saw it clear linked its node
 * before the close, so a worker sees it before it may find the queue
 * empty and exit; one that saw it set cancels its own future, and is
 * refused, unless a worker already took the node (the work then runs as
 * accepted).  The submit path thus has one atomic operation, the
 * exchange.
 * Workers start lazily, when work is queued and none is idle.  A worker
 * that reaches max_tasks_per_worker hands over to a fresh thread; exited
 * threads are joined by whoever next takes the worker list in hand.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <limits.h>
#include <linux/futex.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "acx_internal.h"

#define IDLE_SPIN_NS 50000 /* how long an idle worker looks before sleeping */
#define BATCH_MAX 16       /* most queued items a worker takes at once */
#define NAME_MAX_LEN 15    /* pthread_setname_np's limit, without the NUL */

struct worker {
    struct worker *next;
    acx_executor *ex;
    pthread_t tid;
    int exited; /* past its last use of the executor: join will not block */
};

/* Fields with __atomic builtins are plain types (clang rejects them on
 * _Atomic); each group sits on its own cache line, written by one side. */
struct acx_executor {
    /* producers: the queue's tail (the spinning worker watches it), and
     * on a line of its own, as workers read it once per large take, a
     * count of submits: exact with one submitting thread, approximate
     * with several (a plain increment; it sizes takes and nothing else) */
    _Alignas(64) acx__work *qtail;
    _Alignas(64) uint64_t pushed;
    /* consumers, under QMU: the queue's head, and the value of PUSHED
     * that stands for an empty queue (PUSHED - BASE estimates its length;
     * reset whenever a take finds it empty) */
    _Alignas(64) uint32_t qmu; /* a word lock (q_lock) */
    acx__work *qhead;
    uint64_t base;          /* written under QMU, read atomically */
    acx__work stub;         /* the queue's placeholder node */
    /* idle workers; submits read these */
    _Alignas(64) int spinning; /* 0 or 1: a worker looks at the queue */
    int sleepers;           /* workers on (or about to sleep on) WAKE */
    int waking;             /* a wake-up is on its way: do not send more */
    uint32_t wake;          /* futex word of sleeping workers */
    /* the rest, under MU (NWORKERS also read without it) */
    _Alignas(64) pthread_mutex_t mu;
    int nworkers;           /* started and not exited */
    int seq;                /* numbers thread names */
    int shut;               /* closed to submits (atomic) */
    int cancelling;         /* shutdown(cancel_futures): batches too */
    int broken;             /* the initializer's error, or 0 (atomic) */
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
    acx_executor *ex = aligned_alloc(64, sizeof *ex);
    if (ex == NULL)
        return NULL;
    memset(ex, 0, sizeof *ex);
    if (opts != NULL)
        ex->o = *opts;
    if (ex->o.max_workers == 0)
        ex->o.max_workers = default_workers();
    snprintf(ex->prefix, sizeof ex->prefix, "%s",
             ex->o.thread_name_prefix ? ex->o.thread_name_prefix
                                      : "acxpool");
    ex->o.thread_name_prefix = ex->prefix;
    ex->qtail = ex->qhead = &ex->stub;
    pthread_mutex_init(&ex->mu, NULL);
    return ex;
}

/* ---- the queue ------------------------------------------------------------ */

/* Append W.  Any thread, no lock: the exchange orders the submits; the
 * link after it makes W reachable from its predecessor. */
static void q_link(acx_executor *ex, acx__work *w)
{
    __atomic_store_n(&w->next, NULL, __ATOMIC_RELAXED);
    acx__work *prev = __atomic_exchange_n(&ex->qtail, w, __ATOMIC_SEQ_CST);
    __atomic_store_n(&prev->next, w, __ATOMIC_RELEASE);
}

/* Work queued or being linked (the tail is the placeholder only when the
 * queue is empty).  Sequentially consistent: a worker going idle and a
 * submit each look at what the other wrote first. */
static int q_nonempty(acx_executor *ex)
{
    return __atomic_load_n(&ex->qtail, __ATOMIC_SEQ_CST) != &ex->stub;
}

/* Take the oldest node (QMU held).  NULL when there is none, with *BUSY
 * set when a submit is between its exchange and its link: its node is
 * about to be reachable. */
static acx__work *q_pop(acx_executor *ex, int *busy)
{
    acx__work *h = ex->qhead;
    acx__work *n = __atomic_load_n(&h->next, __ATOMIC_ACQUIRE);
    if (h == &ex->stub) {
        if (n == NULL) {
            *busy = q_nonempty(ex);
            return NULL;
        }
        ex->qhead = h = n; /* skip the placeholder */
        n = __atomic_load_n(&h->next, __ATOMIC_ACQUIRE);
    }
    if (n == NULL) { /* H is the last node */
        if (__atomic_load_n(&ex->qtail, __ATOMIC_ACQUIRE) != h) {
            *busy = 1;
            return NULL;
        }
        q_link(ex, &ex->stub); /* the placeholder goes behind it */
        n = __atomic_load_n(&h->next, __ATOMIC_ACQUIRE);
        if (n == NULL) {
            *busy = 1;
            return NULL;
        }
    }
    ex->qhead = n;
    return h;
}

/* The consumers' lock: held for a few pointer moves, by workers only; a
 * word, so that the release is a plain store (a pthread mutex's is an
 * atomic exchange, at every take). */
static void q_lock(acx_executor *ex)
{
    for (int i = 0;; i++) {
        if (__atomic_load_n(&ex->qmu, __ATOMIC_RELAXED) == 0 &&
            !__atomic_exchange_n(&ex->qmu, 1, __ATOMIC_ACQUIRE))
            return;
        if (i < 64)
            ACX__CPU_RELAX();
        else
            sched_yield(); /* the holder lost its CPU */
    }
}

static void q_unlock(acx_executor *ex)
{
    __atomic_store_n(&ex->qmu, 0, __ATOMIC_RELEASE);
}

/* About how many items are queued (for sizing takes and starting
 * workers; never for correctness). */
static uint64_t q_count(acx_executor *ex)
{
    uint64_t in = __atomic_load_n(&ex->pushed, __ATOMIC_RELAXED);
    uint64_t out = __atomic_load_n(&ex->base, __ATOMIC_RELAXED);
    return in > out ? in - out : 0;
}

static size_t queue_share(acx_executor *ex);

/* Take up to MAX items into OUT; with SHARE, only a share of the queue
 * (the counters are read only when more than one item is there: a burst
 * that a worker keeps up with leaves their lines to the submitters).
 * *BUSY: a node is being linked; *END: the executor is closed and its
 * queue empty (a submit that links later is refused: it sees the close). */
static size_t q_take(acx_executor *ex, acx__work **out, size_t max,
                     int share, int *busy, int *end)
{
    size_t k = 0;
    q_lock(ex);
    while (k < max && (out[k] = q_pop(ex, busy)) != NULL) {
        k++;
        if (k == 1 && share && max > 1 && ex->qhead != &ex->stub) {
            size_t q = queue_share(ex);
            max = q < max ? q : max;
        }
    }
    if (k > 0)
        __atomic_store_n(&ex->base, ex->base + k, __ATOMIC_RELAXED);
    else if (!*busy) {
        __atomic_store_n(&ex->base,
                         __atomic_load_n(&ex->pushed, __ATOMIC_RELAXED),
                         __ATOMIC_RELAXED); /* empty: the count is 0 */
        /* the close, then the queue: a submit that missed the close
         * linked its node before it, so the look sees the node */
        if (__atomic_load_n(&ex->shut, __ATOMIC_SEQ_CST) && !q_nonempty(ex))
            *end = 1;
    }
    q_unlock(ex);
    return k;
}

/* ---- waking workers ------------------------------------------------------- */

static void futex_wake(uint32_t *w, int n)
{
    syscall(SYS_futex, w, FUTEX_WAKE_PRIVATE, n, NULL, NULL, 0);
}

/* Queued work may need a worker: wake a sleeper unless one spins (it
 * will see the work) or a wake-up is already on its way (whoever it
 * wakes takes work and, if more is queued, wakes the next). */
static void wake_one(acx_executor *ex)
{
    if (__atomic_load_n(&ex->spinning, __ATOMIC_SEQ_CST) != 0 ||
        __atomic_load_n(&ex->sleepers, __ATOMIC_SEQ_CST) == 0 ||
        __atomic_load_n(&ex->waking, __ATOMIC_RELAXED) != 0 ||
        __atomic_exchange_n(&ex->waking, 1, __ATOMIC_SEQ_CST) != 0)
        return;
    __atomic_add_fetch(&ex->wake, 1, __ATOMIC_SEQ_CST);
    futex_wake(&ex->wake, 1);
}

static void wake_all(acx_executor *ex)
{
    __atomic_add_fetch(&ex->wake, 1, __ATOMIC_SEQ_CST);
    futex_wake(&ex->wake, INT_MAX);
}

static int closed(acx_executor *ex)
{
    return __atomic_load_n(&ex->shut, __ATOMIC_ACQUIRE) ||
           __atomic_load_n(&ex->broken, __ATOMIC_ACQUIRE);
}

/* Become the one spinning worker, if none is. */
static int spin_claim(acx_executor *ex)
{
    int zero = 0;
    return __atomic_load_n(&ex->spinning, __ATOMIC_RELAXED) == 0 &&
           __atomic_compare_exchange_n(&ex->spinning, &zero, 1, 0,
                                       __ATOMIC_SEQ_CST, __ATOMIC_RELAXED);
}

/* The spinner looks at the queue's tail (a line submits write once each)
 * until work or a shutdown comes (1) or IDLE_SPIN_NS pass (0).  It yields
 * between looks rather than pausing: on a busy machine the submitter may
 * share its CPU, and a pause loop would hold off the very thread it waits
 * for (measured: 5.4 us round trips instead of 1.6); alone on its CPU a
 * yield returns within a few hundred nanoseconds. */
static int spin_poll(acx_executor *ex)
{
    int64_t t0 = mono_ns();
    for (int i = 0;; i++) {
        if (q_nonempty(ex) || closed(ex))
            return 1;
        sched_yield();
        if ((i & 15) == 15 && mono_ns() - t0 > IDLE_SPIN_NS)
            return 0;
    }
}

/* Sleep until a submit (or shutdown) bumps WAKE.  SLEEPERS goes up before
 * the last look at the queue and a submit reads it after its exchange,
 * so one of them sees the other.  Whoever leaves this clears WAKING: the
 * wake-up it stood for has arrived (or was not needed), and no worker may
 * go to sleep with it set (it would hold every later wake-up off). */
static void worker_sleep(acx_executor *ex)
{
    uint32_t seen = __atomic_load_n(&ex->wake, __ATOMIC_SEQ_CST);
    __atomic_add_fetch(&ex->sleepers, 1, __ATOMIC_SEQ_CST);
    if (__atomic_exchange_n(&ex->waking, 0, __ATOMIC_SEQ_CST) == 0 &&
        !q_nonempty(ex) && !closed(ex))
        syscall(SYS_futex, &ex->wake, FUTEX_WAIT_PRIVATE, seen, NULL, NULL,
                0);
    __atomic_sub_fetch(&ex->sleepers, 1, __ATOMIC_SEQ_CST);
    __atomic_store_n(&ex->waking, 0, __ATOMIC_SEQ_CST);
}

/* ---- workers --------------------------------------------------------------- */

static void run_work(acx_executor *ex, acx__work *w)
{
    acx_future *f = acx__work_future(w);
    /* Work a worker took in a batch is still queued work to a caller. */
    if (__atomic_load_n(&ex->cancelling, __ATOMIC_RELAXED))
        acx_future_cancel(f);
    if (acx__future_start(f) == 0) {
        int err = 0;
        cur_work = f;
        void *v = w->fn(w->arg, &err);
        cur_work = NULL;
        acx__future_finish(f, err < 0 ? err : 0, v);
    }
    acx_future_unref(f); /* the queue's reference */
}

/* How many items a worker takes at once (at most MAX): one lock round
 * trip for several small tasks in a burst, yet never more than a small
 * share of the queue, so that the other workers are not starved of long
 * tasks.  Also what it has left before max_tasks_per_worker. */
static size_t batch_max(const acx_executor *ex, unsigned done)
{
    unsigned k = BATCH_MAX;
    if (ex->o.max_tasks_per_worker != 0 &&
        k > ex->o.max_tasks_per_worker - done)
        k = ex->o.max_tasks_per_worker - done;
    return k;
}

static size_t queue_share(acx_executor *ex)
{
    uint64_t k = q_count(ex) / (4 * (uint64_t)ex->o.max_workers);
    return k < 1 ? 1 : k > BATCH_MAX ? BATCH_MAX : (size_t)k;
}

static void drain(acx_executor *ex, int err);
static int spawn_locked(acx_executor *ex);
static void reap_locked(acx_executor *ex);
static void close_locked(acx_executor *ex);

static void name_thread(acx_executor *ex, int n)
{
    char name[NAME_MAX_LEN + 16];
    snprintf(name, sizeof name, "%s_%d", ex->prefix, n);
    name[NAME_MAX_LEN] = '\0'; /* the kernel keeps 15 bytes */
    pthread_setname_np(pthread_self(), name);
}

/* The initializer failed: refuse submits with ERR from now on and fail
 * the work queued. */
static void break_executor(acx_executor *ex, int err)
{
    pthread_mutex_lock(&ex->mu);
    if (ex->broken == 0)
        __atomic_store_n(&ex->broken, err, __ATOMIC_RELEASE);
    close_locked(ex); /* after BROKEN: a refused submit reads it */
    pthread_mutex_unlock(&ex->mu);
    drain(ex, __atomic_load_n(&ex->broken, __ATOMIC_ACQUIRE));
    wake_all(ex);
}

/* Run work until the executor ends or this worker has run its share. */
static void worker_loop(acx_executor *ex)
{
    unsigned done = 0;
    int spinner = 0;
    for (;;) {
        acx__work *batch[BATCH_MAX];
        int busy = 0, end = 0;
        size_t k = q_take(ex, batch, batch_max(ex, done), 1, &busy, &end);
        if (k > 0) {
            if (spinner) {
                spinner = 0;
                __atomic_store_n(&ex->spinning, 0, __ATOMIC_SEQ_CST);
            }
            if (q_nonempty(ex))
                wake_one(ex); /* more work: the next worker joins in */
            for (size_t i = 0; i < k; i++)
                run_work(ex, batch[i]);
            done += (unsigned)k;
            if (done == ex->o.max_tasks_per_worker)
                break; /* recycle: a fresh thread takes over */
            continue;
        }
        if (end || __atomic_load_n(&ex->broken, __ATOMIC_ACQUIRE))
            break;
        if (busy || closed(ex)) { /* a submit is linking its node */
            sched_yield();
            continue;
        }
        if (spinner || spin_claim(ex)) {
            spinner = 1;
            if (spin_poll(ex))
                continue;
            spinner = 0;
            __atomic_store_n(&ex->spinning, 0, __ATOMIC_SEQ_CST);
            if (q_nonempty(ex))
                continue; /* a submit saw us spinning: do not sleep */
        }
        worker_sleep(ex);
    }
    if (spinner)
        __atomic_store_n(&ex->spinning, 0, __ATOMIC_SEQ_CST);
}

static void *worker_main(void *arg)
{
    struct worker *me = arg;
    acx_executor *ex = me->ex;
    cur_exec = ex;
    pthread_mutex_lock(&ex->mu);
    int n = ex->seq++;
    pthread_mutex_unlock(&ex->mu);
    name_thread(ex, n);
    int err = ex->o.initializer ? ex->o.initializer(ex->o.initarg) : 0;
    if (err < 0)
        break_executor(ex, err);
    else
        worker_loop(ex);
    pthread_mutex_lock(&ex->mu);
    /* A submit that saw the pool full (before this store) linked its node
     * before it looked: the look at the queue below sees that node. */
    __atomic_store_n(&ex->nworkers, ex->nworkers - 1, __ATOMIC_SEQ_CST);
    reap_locked(ex); /* others that exited; never this one (not marked) */
    int closing = closed(ex);
    if (q_nonempty(ex) && !ex->broken && ex->nworkers < ex->o.max_workers)
        spawn_locked(ex); /* the queue must not be left without workers */
    me->exited = 1;
    pthread_mutex_unlock(&ex->mu);
    if (closing)
        wake_all(ex); /* the others may be done too */
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
    __atomic_store_n(&ex->nworkers, ex->nworkers + 1, __ATOMIC_RELAXED);
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

/* Refuse submits from now on (MU held). */
static void close_locked(acx_executor *ex)
{
    if (!ex->shut)
        __atomic_store_n(&ex->shut, 1, __ATOMIC_SEQ_CST);
}

/* Complete every queued future with ERR, after the close, until the
 * queue is empty (submits still linking theirs included). */
static void drain(acx_executor *ex, int err)
{
    for (;;) {
        acx__work *w[64];
        int busy = 0, end = 0;
        size_t k = q_take(ex, w, 64, 0, &busy, &end);
        for (size_t i = 0; i < k; i++) {
            acx_future *f = acx__work_future(w[i]);
            if (err == -ECANCELED)
                acx_future_cancel(f);
            else
                acx_future_set_error(f, err);
            acx_future_unref(f);
        }
        if (end)
            return;
        if (k == 0)
            sched_yield();
    }
}

/* Work was queued: start a worker if none is idle for it (MU taken only
 * while the pool is not full).  When no worker exists and none can
 * start: why (-ENOMEM for its record, pthread_create's -EAGAIN). */
static int grow(acx_executor *ex)
{
    pthread_mutex_lock(&ex->mu);
    int err = 0;
    uint64_t idle = (uint64_t)__atomic_load_n(&ex->spinning,
                                              __ATOMIC_SEQ_CST) +
                    (uint64_t)__atomic_load_n(&ex->sleepers,
                                              __ATOMIC_SEQ_CST);
    if (ex->nworkers < ex->o.max_workers && !ex->broken &&
        (idle == 0 || idle < q_count(ex))) {
        reap_locked(ex);
        int e = spawn_locked(ex);
        if (e < 0 && ex->nworkers == 0)
            err = e;
    }
    pthread_mutex_unlock(&ex->mu);
    return err;
}

/* ---- submit ------------------------------------------------------------------ */

/* A submit is refused: drop the caller's reference on F and set errno to
 * the initializer's error or ESHUTDOWN. */
static void refuse(acx_executor *ex, acx_future *f)
{
    int broken = __atomic_load_n(&ex->broken, __ATOMIC_ACQUIRE);
    acx_future_unref(f);
    errno = broken ? -broken : ESHUTDOWN;
}

acx_future *acx_executor_submit(acx_executor *ex, acx_work_fn fn, void *arg)
{
    if (ex == NULL || fn == NULL) {
        errno = EINVAL;
        return NULL;
    }
    /* one reference for the caller, one for the queue (the worker's) */
    acx_future *f = acx__future_new_work(2, fn, arg);
    if (f == NULL)
        return NULL;
    if (__atomic_load_n(&ex->shut, __ATOMIC_ACQUIRE)) {
        refuse(ex, f);
        acx_future_unref(f);
        return NULL;
    }
    __atomic_store_n(&ex->pushed,
                     __atomic_load_n(&ex->pushed, __ATOMIC_RELAXED) + 1,
                     __ATOMIC_RELAXED);
    q_link(ex, acx__future_work(f));
    if (__atomic_load_n(&ex->shut, __ATOMIC_SEQ_CST)) {
        /* Closed while linking: refused, unless a worker has taken the
         * node already (then it runs, and the submit stands). */
        if (acx_future_cancel(f) == 0) {
            refuse(ex, f); /* the queue's reference stays with its node */
            return NULL;
        }
        return f;
    }
    int err = __atomic_load_n(&ex->nworkers, __ATOMIC_SEQ_CST) <
                      ex->o.max_workers
                  ? grow(ex)
                  : 0;
    if (err < 0) {
        /* No worker can run it: it fails (the queue keeps its node and
         * reference until a worker or the executor's end takes it). */
        acx_future_set_error(f, err);
        acx_future_unref(f);
        errno = -err;
        return NULL;
    }
    wake_one(ex);
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
    close_locked(ex);
    if (cancel_futures)
        __atomic_store_n(&ex->cancelling, 1, __ATOMIC_RELAXED);
    else if (ex->nworkers == 0 && q_nonempty(ex) && !ex->broken)
        spawn_locked(ex); /* accepted work must not be left unrun */
    pthread_mutex_unlock(&ex->mu);
    if (cancel_futures)
        drain(ex, -ECANCELED);
    wake_all(ex);
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
    /* Nodes left behind by failed submits (their futures are done). */
    int busy = 0;
    for (acx__work *w; (w = q_pop(ex, &busy)) != NULL;) {
        acx_future_cancel(acx__work_future(w));
        acx_future_unref(acx__work_future(w));
    }
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
