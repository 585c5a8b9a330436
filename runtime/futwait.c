/* futwait.c - a thread waits on many futures: concurrent.futures' wait and
 * as_completed.
 *
 * Both put one done callback on every future, pointing at its entry in a
 * shared watcher; the callback queues the entry's index and wakes the
 * thread through a futex word.  Callbacks cannot be relied on to have
 * run or to be removable when the waiter leaves (one may be running in
 * the completing thread at that moment), so the watcher is reference
 * counted: one for the waiter, one per callback still registered.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <linux/futex.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "acx_internal.h"

struct watcher;

struct entry {
    struct watcher *w;
    size_t idx;
    _Atomic int queued; /* its index is in the FIFO (or was taken) */
};

struct watcher {
    _Atomic int refs;
    _Atomic uint32_t seq; /* bumped by every completion: the futex word */
    pthread_mutex_t mu;   /* guards the FIFO */
    size_t n, head, tail; /* FIFO of done indices, each pushed once */
    size_t *fifo;
    struct entry ent[];
};

static void watcher_unref(struct watcher *w)
{
    if (atomic_fetch_sub_explicit(&w->refs, 1, memory_order_acq_rel) != 1)
        return;
    pthread_mutex_destroy(&w->mu);
    free(w->fifo);
    free(w);
}

static void on_done(acx_future *f, void *arg)
{
    struct entry *e = arg;
    struct watcher *w = e->w;
    (void)f;
    pthread_mutex_lock(&w->mu);
    w->fifo[w->tail++] = e->idx;
    pthread_mutex_unlock(&w->mu);
    atomic_store_explicit(&e->queued, 1, memory_order_release);
    atomic_fetch_add_explicit(&w->seq, 1, memory_order_release);
    syscall(SYS_futex, &w->seq, FUTEX_WAKE_PRIVATE, 1, NULL, NULL, 0);
    watcher_unref(w);
}

static struct watcher *watcher_new(size_t n)
{
    struct watcher *w = calloc(1, sizeof *w + n * sizeof w->ent[0]);
    if (w == NULL)
        return NULL;
    w->fifo = malloc((n ? n : 1) * sizeof *w->fifo);
    if (w->fifo == NULL) {
        free(w);
        return NULL;
    }
    w->n = n;
    atomic_init(&w->refs, 1);
    pthread_mutex_init(&w->mu, NULL);
    for (size_t i = 0; i < n; i++) {
        w->ent[i].w = w;
        w->ent[i].idx = i;
        atomic_init(&w->ent[i].queued, 0);
    }
    return w;
}

/* Put the callbacks on; done futures queue their entries at once, in
 * array order.  -ENOMEM leaves the ones added (watch_off takes them). */
static int watch_on(struct watcher *w, acx_future *const *futs)
{
    for (size_t i = 0; i < w->n; i++) {
        atomic_fetch_add(&w->refs, 1);
        if (acx_future_add_done_callback(futs[i], on_done, &w->ent[i]) < 0) {
            atomic_fetch_sub(&w->refs, 1);
            return -ENOMEM;
        }
    }
    return 0;
}

static void watch_off(struct watcher *w, acx_future *const *futs)
{
    for (size_t i = 0; i < w->n; i++)
        if (acx_future_remove_done_callback(futs[i], on_done,
                                            &w->ent[i]) > 0)
            watcher_unref(w);
}

static void deadline_of(struct timespec *ts, int64_t ms)
{
    clock_gettime(CLOCK_MONOTONIC, ts);
    ts->tv_sec += ms / 1000;
    ts->tv_nsec += (ms % 1000) * 1000000;
    if (ts->tv_nsec >= 1000000000) {
        ts->tv_sec++;
        ts->tv_nsec -= 1000000000;
    }
}

/* Sleep until SEQ moves from SEEN or the deadline (NULL: none) passes:
 * -ETIMEDOUT then, else 0. */
static int watcher_sleep(struct watcher *w, uint32_t seen,
                         const struct timespec *until)
{
    long r = syscall(SYS_futex, &w->seq, FUTEX_WAIT_BITSET_PRIVATE, seen,
                     until, NULL, FUTEX_BITSET_MATCH_ANY);
    return r < 0 && errno == ETIMEDOUT ? -ETIMEDOUT : 0;
}

/* ---- wait ---------------------------------------------------------------- */

static int condition_holds(size_t n, acx_future *const *futs, int when)
{
    size_t done = 0;
    for (size_t i = 0; i < n; i++) {
        if (!acx_future_done(futs[i]))
            continue;
        done++;
        int st = acx_future_status(futs[i]);
        if (when == ACX_FIRST_COMPLETED ||
            (when == ACX_FIRST_EXCEPTION && st < 0 && st != -ECANCELED))
            return 1;
    }
    return done == n;
}

static int count_done(size_t n, acx_future *const *futs)
{
    int done = 0;
    for (size_t i = 0; i < n; i++)
        done += acx_future_done(futs[i]);
    return done;
}

int acx_futures_wait(size_t n, acx_future *const *futs, int return_when,
                     int64_t timeout_ms)
{
    if ((futs == NULL && n > 0) || return_when < ACX_FIRST_COMPLETED ||
        return_when > ACX_ALL_COMPLETED)
        return -EINVAL;
    for (size_t i = 0; i < n; i++)
        if (futs[i] == NULL)
            return -EINVAL;
    if (n == 0 || timeout_ms == 0 || condition_holds(n, futs, return_when))
        return count_done(n, futs);
    struct watcher *w = watcher_new(n);
    if (w == NULL)
        return -ENOMEM;
    struct timespec until;
    if (timeout_ms > 0)
        deadline_of(&until, timeout_ms);
    int rc = watch_on(w, futs);
    while (rc == 0) {
        uint32_t seen = atomic_load_explicit(&w->seq, memory_order_acquire);
        if (condition_holds(n, futs, return_when))
            break;
        if (watcher_sleep(w, seen, timeout_ms > 0 ? &until : NULL) < 0)
            break;
    }
    watch_off(w, futs);
    watcher_unref(w);
    return rc < 0 ? rc : count_done(n, futs);
}

/* ---- as_completed ---------------------------------------------------------- */

struct acx_futures_iter {
    struct watcher *w;
    acx_future **futs; /* our references */
    size_t given;
    int has_deadline;
    struct timespec until;
};

acx_futures_iter *acx_futures_as_completed(size_t n,
                                           acx_future *const *futs,
                                           int64_t timeout_ms)
{
    int bad = futs == NULL && n > 0;
    for (size_t i = 0; !bad && i < n; i++)
        bad = futs[i] == NULL;
    if (bad) {
        errno = EINVAL;
        return NULL;
    }
    acx_futures_iter *it = calloc(1, sizeof *it);
    if (it == NULL)
        return NULL;
    it->futs = malloc((n ? n : 1) * sizeof *it->futs);
    it->w = watcher_new(n);
    if (it->futs == NULL || it->w == NULL) {
        free(it->futs);
        if (it->w != NULL)
            watcher_unref(it->w);
        free(it);
        errno = ENOMEM;
        return NULL;
    }
    for (size_t i = 0; i < n; i++) {
        it->futs[i] = futs[i];
        acx_future_ref(futs[i]);
    }
    it->has_deadline = timeout_ms >= 0;
    if (it->has_deadline)
        deadline_of(&it->until, timeout_ms);
    if (watch_on(it->w, it->futs) < 0) {
        acx_futures_iter_free(it);
        errno = ENOMEM;
        return NULL;
    }
    return it;
}

/* The next queued index, or -1. */
static long fifo_take(struct watcher *w)
{
    long idx = -1;
    pthread_mutex_lock(&w->mu);
    if (w->head < w->tail)
        idx = (long)w->fifo[w->head++];
    pthread_mutex_unlock(&w->mu);
    return idx;
}

/* A future is done but its callback, running in the completing thread
 * right now, has not queued it yet: it is "done by then" all the same. */
static int callback_in_flight(const acx_futures_iter *it)
{
    for (size_t i = 0; i < it->w->n; i++)
        if (!atomic_load_explicit(&it->w->ent[i].queued,
                                  memory_order_acquire) &&
            acx_future_done(it->futs[i]))
            return 1;
    return 0;
}

int acx_futures_iter_next(acx_futures_iter *it, acx_future **f)
{
    if (f != NULL)
        *f = NULL;
    if (it == NULL)
        return -EINVAL;
    if (it->given == it->w->n)
        return -ENODATA;
    for (;;) {
        uint32_t seen = atomic_load_explicit(&it->w->seq,
                                             memory_order_acquire);
        long idx = fifo_take(it->w);
        if (idx >= 0) {
            it->given++;
            if (f != NULL)
                *f = it->futs[idx];
            return (int)idx;
        }
        if (watcher_sleep(it->w, seen, it->has_deadline ? &it->until
                                                        : NULL) < 0) {
            if (!callback_in_flight(it))
                return -ETIMEDOUT;
            sched_yield();
        }
    }
}

void acx_futures_iter_free(acx_futures_iter *it)
{
    if (it == NULL)
        return;
    watch_off(it->w, it->futs);
    for (size_t i = 0; i < it->w->n; i++)
        acx_future_unref(it->futs[i]);
    watcher_unref(it->w);
    free(it->futs);
    free(it);
}
