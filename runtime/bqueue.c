/* bqueue.c - queue.Queue for threads, awaitable from coroutines.
 *
 * One mutex per queue guards the store and three FIFOs of waiters
 * (getters, putters, joiners).  Getters wait only while the store is
 * empty and putters only while it is full, so at most one of those two
 * FIFOs is non-empty, and the side that makes a transfer possible
 * completes it for the oldest waiter: a put writes its item into the
 * oldest getter's node, a get that frees a slot moves the oldest putter's
 * item into the store.  The waiter is then "granted": unlinked, with its
 * result set, and woken alone.  Nobody retries, nobody barges past a
 * queued waiter, and a put wakes exactly the one getter it served.
 *
 * A waiter is a node on the waiting side's stack (threads) or in its await
 * frame (coroutines).  A thread sleeps on the node's state word (a futex);
 * the granter stores the state under the mutex and issues FUTEX_WAKE after
 * unlocking, so the woken thread never runs into a held lock.  Once the
 * state is stored the node may vanish (the thread can see it and return),
 * so after that the granter touches only the address, in the syscall.
 *
 * A coroutine waiter's node cannot vanish: its task stays parked until the
 * grant reaches it, on the loop thread directly or through the loop's
 * inbox (an intrusive post: granting allocates nothing).  A cancel takes
 * the node back under the mutex if it is still linked; if it was granted
 * the wake-up is on its way and the grant wins, so an item is never lost.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <linux/futex.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "acx_internal.h"

enum { BQ_WAITING = 0, BQ_GRANTED = 1 };

typedef struct bq_waiter bq_waiter;
struct bq_waiter {
    bq_waiter *prev, *next;      /* q->mu */
    void *item;                  /* put: to add; get: what it was handed */
    int prio;                    /* put on a priority queue */
    int result;                  /* once granted: 0 or -ESHUTDOWN */
    _Atomic uint32_t state;      /* BQ_*; a thread sleeps on it */
    acx_loop *loop;              /* a coroutine's loop; NULL: a thread */
    acx_task *task;              /* the coroutine's task */
    acx__post post;              /* a grant from another thread */
};

typedef struct bq_list {
    bq_waiter *head, *tail;
    size_t n;
} bq_list;

struct acx_bqueue {
    pthread_mutex_t mu;
    acx__store st;    /* the items (store.c); st.kind is ACX_BQUEUE_* */
    int shutdown;
    size_t maxsize;   /* 0: unbounded */
    size_t unfinished; /* put and not yet task_done */
    bq_list getters, putters, joiners;
    void (*drop)(void *item, void *arg);
    void *drop_arg;
};

/* ---- waiter lists ------------------------------------------------------- */

static void list_push(bq_list *l, bq_waiter *w)
{
    w->next = NULL;
    w->prev = l->tail;
    if (l->tail)
        l->tail->next = w;
    else
        l->head = w;
    l->tail = w;
    l->n++;
}

static void list_unlink(bq_list *l, bq_waiter *w)
{
    if (w->prev)
        w->prev->next = w->next;
    else
        l->head = w->next;
    if (w->next)
        w->next->prev = w->prev;
    else
        l->tail = w->prev;
    w->prev = w->next = NULL;
    l->n--;
}

/* A granted waiter still to be woken, once the mutex is released.  For a
 * thread only the futex address is kept: its node may be gone by then. */
typedef struct bq_wake {
    _Atomic uint32_t *futex;
    bq_waiter *coro;
} bq_wake;

/* Under q->mu: take W off L, mark it granted with RESULT and say in *WK
 * how to wake it.  The caller moves the item first: once the state is
 * stored, a thread waiter may see it and return, taking its node along. */
static void grant(bq_list *l, bq_waiter *w, int result, bq_wake *wk)
{
    list_unlink(l, w);
    w->result = result;
    if (w->loop != NULL) {
        wk->coro = w;
        wk->futex = NULL;
    } else {
        wk->coro = NULL;
        wk->futex = &w->state;
    }
    atomic_store_explicit(&w->state, BQ_GRANTED, memory_order_release);
}

static void coro_post_run(acx__post *p, int discard)
{
    bq_waiter *w = (bq_waiter *)(void *)((char *)p -
                                         offsetof(bq_waiter, post));
    (void)discard; /* a parked waiter keeps its loop open: never set */
    w->loop->external--;
    acx__ready(w->task);
}

/* Wake a granted waiter: a thread by its futex, a coroutine on its own
 * loop thread directly, from anywhere else through the loop's inbox. */
static void wake(const bq_wake *wk)
{
    if (wk->futex != NULL) {
        syscall(SYS_futex, wk->futex, FUTEX_WAKE_PRIVATE, 1, NULL, NULL, 0);
    } else if (wk->coro != NULL) {
        bq_waiter *w = wk->coro;
        if (w->loop == acx__loop_cur)
            coro_post_run(&w->post, 0);
        else if (acx__loop_post(w->loop, &w->post) < 0)
            coro_post_run(&w->post, 1);
    }
}

/* Grant every waiter of L with RESULT, waking each at once (under q->mu:
 * shutdown and join are rare, and a list may be long). */
static void grant_all(bq_list *l, int result)
{
    while (l->head != NULL) {
        bq_wake wk;
        grant(l, l->head, result, &wk);
        wake(&wk);
    }
}

/* ---- the store ------------------------------------------------------------ */


/* Discard every stored item, each counting as done. */
static void drop_all(acx_bqueue *q)
{
    while (q->st.n > 0) {
        void *item = acx__store_pop(&q->st);
        if (q->drop != NULL)
            q->drop(item, q->drop_arg);
        if (q->unfinished > 0)
            q->unfinished--;
    }
}

/* ---- transfers without waiting (under q->mu) ------------------------------ */

/* Put: to the oldest getter, else into the store.  -EAGAIN when full. */
static int put_now(acx_bqueue *q, void *item, int prio, bq_wake *wk)
{
    if (q->shutdown)
        return -ESHUTDOWN;
    if (q->getters.head != NULL) {
        q->getters.head->item = item;
        q->unfinished++;
        grant(&q->getters, q->getters.head, 0, wk);
        return 0;
    }
    if (q->maxsize != 0 && q->st.n >= q->maxsize)
        return -EAGAIN;
    int err = acx__store_push(&q->st, item, prio);
    if (err)
        return err;
    q->unfinished++;
    return 0;
}

/* Get: the next item; the slot it frees goes to the oldest putter.
 * -EAGAIN when empty, -ESHUTDOWN when also shut down. */
static int get_now(acx_bqueue *q, void **out, bq_wake *wk)
{
    if (q->st.n == 0)
        return q->shutdown ? -ESHUTDOWN : -EAGAIN;
    void *item = acx__store_pop(&q->st);
    if (out != NULL)
        *out = item;
    bq_waiter *p = q->putters.head;
    if (p != NULL) {
        /* cannot fail: the store held this many items a moment ago */
        (void)acx__store_push(&q->st, p->item, p->prio);
        q->unfinished++;
        grant(&q->putters, p, 0, wk);
    }
    return 0;
}

/* ---- thread waits -------------------------------------------------------- */

/* The CLOCK_MONOTONIC time TIMEOUT_MS (> 0) from now. */
static struct timespec deadline_after(int64_t timeout_ms)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    if (timeout_ms > INT64_MAX / 2000000)
        timeout_ms = INT64_MAX / 2000000; /* ~146 years: forever enough */
    ts.tv_sec += timeout_ms / 1000;
    ts.tv_nsec += (timeout_ms % 1000) * 1000000;
    if (ts.tv_nsec >= 1000000000) {
        ts.tv_sec++;
        ts.tv_nsec -= 1000000000;
    }
    return ts;
}

/* Park the calling thread as W on L (q->mu held on entry, released here)
 * until it is granted or TIMEOUT_MS (< 0: never) runs out.  The grant's
 * result, or -ETIMEDOUT (W taken back, nothing transferred). */
static int thread_wait(acx_bqueue *q, bq_list *l, bq_waiter *w,
                       int64_t timeout_ms)
{
    struct timespec until;
    if (timeout_ms > 0)
        until = deadline_after(timeout_ms);
    w->loop = NULL;
    atomic_init(&w->state, BQ_WAITING);
    list_push(l, w);
    pthread_mutex_unlock(&q->mu);
    for (;;) {
        if (atomic_load_explicit(&w->state, memory_order_acquire) != BQ_WAITING)
            return w->result;
        long r = syscall(SYS_futex, &w->state, FUTEX_WAIT_BITSET_PRIVATE,
                         BQ_WAITING, timeout_ms > 0 ? &until : NULL, NULL,
                         FUTEX_BITSET_MATCH_ANY);
        if (r < 0 && errno == ETIMEDOUT)
            break;
    }
    pthread_mutex_lock(&q->mu);
    int granted = atomic_load_explicit(&w->state, memory_order_relaxed) !=
                  BQ_WAITING;
    if (!granted)
        list_unlink(l, w);
    pthread_mutex_unlock(&q->mu);
    return granted ? w->result : -ETIMEDOUT; /* a grant at the wire wins */
}

/* ---- creation ------------------------------------------------------------ */

acx_bqueue *acx_bqueue_new(int kind, size_t maxsize)
{
    if (kind != ACX_BQUEUE_FIFO && kind != ACX_BQUEUE_LIFO &&
        kind != ACX_BQUEUE_PRIORITY) {
        errno = EINVAL;
        return NULL;
    }
    acx_bqueue *q = calloc(1, sizeof *q);
    if (q == NULL) {
        errno = ENOMEM;
        return NULL;
    }
    if (pthread_mutex_init(&q->mu, NULL) != 0) {
        free(q);
        errno = ENOMEM;
        return NULL;
    }
    q->st.kind = kind;
    q->maxsize = maxsize;
    return q;
}

int acx_bqueue_free(acx_bqueue *q)
{
    if (q == NULL)
        return 0;
    pthread_mutex_lock(&q->mu);
    if (q->getters.n || q->putters.n || q->joiners.n) {
        pthread_mutex_unlock(&q->mu);
        return -EBUSY;
    }
    drop_all(q);
    pthread_mutex_unlock(&q->mu);
    pthread_mutex_destroy(&q->mu);
    acx__store_free(&q->st);
    free(q);
    return 0;
}

void acx_bqueue_set_drop(acx_bqueue *q, void (*drop)(void *, void *),
                         void *arg)
{
    if (q == NULL)
        return;
    pthread_mutex_lock(&q->mu);
    q->drop = drop;
    q->drop_arg = arg;
    pthread_mutex_unlock(&q->mu);
}

/* ---- put and get ------------------------------------------------------------ */

int acx_bqueue_put_prio(acx_bqueue *q, void *item, int prio,
                        int64_t timeout_ms)
{
    if (q == NULL)
        return -EINVAL;
    bq_wake wk = {NULL, NULL};
    pthread_mutex_lock(&q->mu);
    int rc = put_now(q, item, prio, &wk);
    if (rc != -EAGAIN || timeout_ms == 0) {
        pthread_mutex_unlock(&q->mu);
        wake(&wk);
        return rc;
    }
    bq_waiter w = {.item = item, .prio = prio};
    return thread_wait(q, &q->putters, &w, timeout_ms);
}

int acx_bqueue_put(acx_bqueue *q, void *item, int64_t timeout_ms)
{
    return acx_bqueue_put_prio(q, item, 0, timeout_ms);
}

int acx_bqueue_put_nowait(acx_bqueue *q, void *item)
{
    return acx_bqueue_put_prio(q, item, 0, 0);
}

int acx_bqueue_put_prio_nowait(acx_bqueue *q, void *item, int prio)
{
    return acx_bqueue_put_prio(q, item, prio, 0);
}

int acx_bqueue_get(acx_bqueue *q, void **item, int64_t timeout_ms)
{
    if (q == NULL)
        return -EINVAL;
    bq_wake wk = {NULL, NULL};
    pthread_mutex_lock(&q->mu);
    int rc = get_now(q, item, &wk);
    if (rc != -EAGAIN || timeout_ms == 0) {
        pthread_mutex_unlock(&q->mu);
        wake(&wk);
        return rc;
    }
    bq_waiter w = {.item = NULL};
    rc = thread_wait(q, &q->getters, &w, timeout_ms);
    if (rc == 0 && item != NULL)
        *item = w.item;
    return rc;
}

int acx_bqueue_get_nowait(acx_bqueue *q, void **item)
{
    return acx_bqueue_get(q, item, 0);
}

/* ---- accounting and shutdown ------------------------------------------------ */

int acx_bqueue_task_done(acx_bqueue *q)
{
    if (q == NULL)
        return -EINVAL;
    pthread_mutex_lock(&q->mu);
    int rc = 0;
    if (q->unfinished == 0)
        rc = -EINVAL;
    else if (--q->unfinished == 0)
        grant_all(&q->joiners, 0);
    pthread_mutex_unlock(&q->mu);
    return rc;
}

int acx_bqueue_join(acx_bqueue *q, int64_t timeout_ms)
{
    if (q == NULL)
        return -EINVAL;
    pthread_mutex_lock(&q->mu);
    if (q->unfinished == 0 || timeout_ms == 0) {
        int rc = q->unfinished == 0 ? 0 : -ETIMEDOUT;
        pthread_mutex_unlock(&q->mu);
        return rc;
    }
    bq_waiter w = {.item = NULL};
    return thread_wait(q, &q->joiners, &w, timeout_ms);
}

int acx_bqueue_shutdown(acx_bqueue *q, int immediate)
{
    if (q == NULL)
        return -EINVAL;
    pthread_mutex_lock(&q->mu);
    q->shutdown = 1;
    if (immediate) {
        drop_all(q);
        if (q->unfinished == 0)
            grant_all(&q->joiners, 0);
    }
    /* Getters wait only on an empty queue, so all of them end now. */
    grant_all(&q->getters, -ESHUTDOWN);
    grant_all(&q->putters, -ESHUTDOWN);
    pthread_mutex_unlock(&q->mu);
    return 0;
}

int acx_bqueue_waiters(acx_bqueue *q, size_t *getters, size_t *putters,
                       size_t *joiners)
{
    if (q == NULL)
        return -EINVAL;
    pthread_mutex_lock(&q->mu);
    if (getters)
        *getters = (size_t)q->getters.n;
    if (putters)
        *putters = (size_t)q->putters.n;
    if (joiners)
        *joiners = (size_t)q->joiners.n;
    pthread_mutex_unlock(&q->mu);
    return 0;
}

size_t acx_bqueue_qsize(acx_bqueue *q)
{
    if (q == NULL)
        return 0;
    pthread_mutex_lock(&q->mu);
    size_t n = q->st.n;
    pthread_mutex_unlock(&q->mu);
    return n;
}

int acx_bqueue_empty(acx_bqueue *q)
{
    return acx_bqueue_qsize(q) == 0;
}

int acx_bqueue_full(acx_bqueue *q)
{
    return q != NULL && q->maxsize != 0 && acx_bqueue_qsize(q) >= q->maxsize;
}

size_t acx_bqueue_maxsize(const acx_bqueue *q)
{
    return q != NULL ? q->maxsize : 0; /* fixed at creation */
}

int acx_bqueue_is_shutdown(acx_bqueue *q)
{
    if (q == NULL)
        return 0;
    pthread_mutex_lock(&q->mu);
    int s = q->shutdown;
    pthread_mutex_unlock(&q->mu);
    return s;
}

/* ---- the bridge: awaits ------------------------------------------------------
 *
 * One frame serves get, put and join.  The first step does what it can at
 * once; otherwise it queues the frame's node in the same FIFO as thread
 * waiters and parks.  The resumed step only reads the grant's result.
 */

enum { OP_GET, OP_PUT, OP_JOIN };

struct bq_frame {
    ACX__FRAME_PREFIX;
    int acx__ret;
    int op;         /* OP_* */
    acx_bqueue *q;
    void **out;     /* get: where the item goes */
    bq_waiter w;    /* item, prio: what a put adds */
};

static bq_list *frame_list(struct bq_frame *f)
{
    acx_bqueue *q = f->q;
    return f->op == OP_GET ? &q->getters
           : f->op == OP_PUT ? &q->putters
                             : &q->joiners;
}

/* Under q->mu: the operation without waiting; -EAGAIN means wait. */
static int frame_try(struct bq_frame *f, bq_wake *wk)
{
    acx_bqueue *q = f->q;
    if (f->op == OP_GET)
        return get_now(q, f->out, wk);
    if (f->op == OP_PUT)
        return put_now(q, f->w.item, f->w.prio, wk);
    return q->unfinished == 0 ? 0 : -EAGAIN;
}

/* Queue F's node behind the waiters of its side and park the task
 * (q->mu held on entry, released here). */
static int frame_park(struct bq_frame *f)
{
    acx_bqueue *q = f->q;
    f->w.loop = acx__loop_cur;
    f->w.task = acx__cur_task;
    f->w.post.run = coro_post_run;
    atomic_init(&f->w.state, BQ_WAITING);
    list_push(frame_list(f), &f->w);
    pthread_mutex_unlock(&q->mu);
    /* A grant from another thread reaches us through the inbox, which
     * this thread reads only after we return: the decrement in
     * coro_post_run always comes after this increment. */
    f->w.loop->external++;
    f->acx__state = 1;
    acx__cur_task->top = &f->acx__hdr;
    return ACX__SUSPEND;
}

static int frame_body(acx_coro *c)
{
    struct bq_frame *f = (struct bq_frame *)c;
    if (f->acx__state != 0) {
        /* granted, or taken back by the cancel (which set the result) */
        if (atomic_load_explicit(&f->w.state, memory_order_acquire) ==
            BQ_GRANTED)
            f->acx__ret = f->w.result;
        if (f->acx__ret == 0 && f->op == OP_GET && f->out != NULL)
            *f->out = f->w.item;
        return ACX__DONE;
    }
    acx_bqueue *q = f->q;
    if (q == NULL) {
        f->acx__ret = -EINVAL;
        return ACX__DONE;
    }
    bq_wake wk = {NULL, NULL};
    pthread_mutex_lock(&q->mu);
    int rc = frame_try(f, &wk);
    if (rc == -EAGAIN && (rc = acx__intr_check()) == 0)
        return frame_park(f);
    pthread_mutex_unlock(&q->mu);
    wake(&wk);
    f->acx__ret = rc;
    return ACX__DONE;
}

/* The task is interrupted while parked: take the node back if it is still
 * queued (nothing moved); if it was granted, the wake-up is on its way and
 * the grant wins (the interrupt comes at the next suspension). */
static int frame_cancel(acx_coro *c, int err)
{
    struct bq_frame *f = (struct bq_frame *)c;
    /* Granted already: the queue may even be freed by now (it has no
     * waiter left), so do not touch it.  A grant is never undone. */
    if (atomic_load_explicit(&f->w.state, memory_order_acquire) ==
        BQ_GRANTED)
        return 0;
    acx_bqueue *q = f->q;
    pthread_mutex_lock(&q->mu);
    int linked = atomic_load_explicit(&f->w.state, memory_order_relaxed) ==
                 BQ_WAITING;
    if (linked)
        list_unlink(frame_list(f), &f->w);
    pthread_mutex_unlock(&q->mu);
    if (!linked)
        return 0;
    f->w.loop->external--;
    f->acx__ret = err;
    return 1;
}

static int frame_describe(const acx_coro *c, char *buf, size_t size)
{
    const struct bq_frame *f = (const struct bq_frame *)c;
    static const char *const ops[] = {"get", "put", "join"};
    /* only the address: a granted waiter's queue may be gone already */
    return snprintf(buf, size, "blocking queue %p %s", (void *)f->q,
                    ops[f->op]);
}

static int frame_result(const acx_coro *c)
{
    return ((const struct bq_frame *)c)->acx__ret;
}

static const acx__info bq_frame_info = {
    .body = frame_body,
    .name = "acx_bqueue_await",
    .file = "<runtime>",
    .size = sizeof(struct bq_frame),
    .ret_offset = offsetof(struct bq_frame, acx__ret),
    .ret_size = sizeof(int),
    .result_int = frame_result,
    .align = _Alignof(struct bq_frame),
    .cancel = frame_cancel,
    .describe = frame_describe,
};

static acx_coro *frame_new(int op, acx_bqueue *q, void **out, void *item,
                           int prio)
{
    struct bq_frame *f = (struct bq_frame *)(void *)acx__coro_alloc(
        sizeof *f, &bq_frame_info);
    if (f == NULL)
        return NULL;
    f->acx__ret = 0;
    f->op = op;
    f->q = q;
    f->out = out;
    f->w.item = item;
    f->w.prio = prio;
    return &f->acx__hdr;
}

acx_coro *acx_bqueue_get_async(acx_bqueue *q, void **item)
{
    return frame_new(OP_GET, q, item, NULL, 0);
}

acx_coro *acx_bqueue_put_async(acx_bqueue *q, void *item)
{
    return frame_new(OP_PUT, q, NULL, item, 0);
}

acx_coro *acx_bqueue_put_prio_async(acx_bqueue *q, void *item, int prio)
{
    return frame_new(OP_PUT, q, NULL, item, prio);
}

acx_coro *acx_bqueue_join_async(acx_bqueue *q)
{
    return frame_new(OP_JOIN, q, NULL, NULL, 0);
}
