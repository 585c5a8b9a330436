/* aqueue.c - asyncio.Queue, LifoQueue and PriorityQueue for the tasks of
 * one loop.
 *
 * One store serves the three kinds: a ring for FIFO, a stack for LIFO, a
 * binary min-heap keyed by (priority, arrival number) for PRIORITY, so
 * equal priorities come out in arrival order.  Getters park only while
 * the store is empty and putters only while it is full, so at most one
 * of the two FIFOs is ever non-empty.  Every transfer is completed by the
 * side that makes it possible: a put hands its item to the oldest getter
 * (writing it through the getter's pointer) and a get that frees a slot
 * moves the oldest putter's item in.  A woken task therefore finds its
 * operation done; nothing is left for it to retry, and a cancel that
 * comes after the transfer cannot lose the item.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "acx_waitq.h"

/* struct acx_queue is in acx_sync.h, for the inline FIFO paths. */

typedef struct acx__frame_acx_queue_put put_frame;
typedef struct acx__frame_acx_queue_get get_frame;
typedef struct acx__frame_acx_queue_join join_frame;

_Static_assert(sizeof(struct acx__frame_acx_queue_put) ==
                       sizeof(struct acx__frame_acx_queue_put_prio) &&
                   offsetof(struct acx__frame_acx_queue_put, node) ==
                       offsetof(struct acx__frame_acx_queue_put_prio, node) &&
                   offsetof(struct acx__frame_acx_queue_put, prio) ==
                       offsetof(struct acx__frame_acx_queue_put_prio, prio),
               "put and put_prio share their body");

/* ---- the store ------------------------------------------------------------ */

/* ---- creation ------------------------------------------------------------ */

acx_queue *acx_queue_new(int kind, size_t maxsize, const char *name)
{
    if (kind != ACX_QUEUE_FIFO && kind != ACX_QUEUE_LIFO &&
        kind != ACX_QUEUE_PRIORITY) {
        errno = EINVAL;
        return NULL;
    }
    acx_queue *q = calloc(1, sizeof *q);
    if (q == NULL)
        return NULL;
    q->st.kind = kind;
    q->maxsize = maxsize;
    if (name != NULL && (q->name = strdup(name)) == NULL) {
        free(q);
        return NULL;
    }
    return q;
}

static void drop_all(acx_queue *q)
{
    while (q->st.n > 0) {
        void *item = acx__store_pop(&q->st);
        if (q->drop != NULL)
            q->drop(item, q->drop_arg);
        if (q->unfinished > 0)
            q->unfinished--;
    }
}

int acx_queue_free(acx_queue *q)
{
    if (q == NULL)
        return 0;
    if (q->getters.n || q->putters.n || q->joiners.n)
        return -EBUSY;
    drop_all(q);
    acx__store_free(&q->st);
    free(q->name);
    free(q);
    return 0;
}

void acx_queue_set_drop(acx_queue *q, void (*drop)(void *, void *),
                        void *arg)
{
    if (q == NULL)
        return;
    q->drop = drop;
    q->drop_arg = arg;
}

/* ---- transfers ------------------------------------------------------------ */

/* Ready every task of W with RESULT as its await's result; NODE_OFF is
 * where the node sits in the frames on W (acx__ret is at the same place
 * in all of them, right after the prefix). */
static void wake_all(acx__waitq *w, int result, size_t node_off)
{
    acx__wnode *n;
    while ((n = acx__waitq_pop(w)) != NULL) {
        join_frame *f = (join_frame *)(void *)((char *)n - node_off);
        f->acx__ret = result;
        acx__waitq_wake(n->task);
    }
}

_Static_assert(offsetof(put_frame, acx__ret) ==
                       offsetof(join_frame, acx__ret) &&
                   offsetof(get_frame, acx__ret) ==
                       offsetof(join_frame, acx__ret),
               "wake_all writes every frame's result alike");

/* Put without waiting: to the oldest getter, else into the store. */
static inline __attribute__((always_inline)) int put_now(acx_queue *q, void *item, int prio)
{
    if (q->shutdown)
        return -ESHUTDOWN;
    acx__wnode *g = acx__waitq_pop(&q->getters);
    if (g != NULL) {
        get_frame *gf = ACX__WNODE_FRAME(g, get_frame, node);
        if (gf->out != NULL)
            *gf->out = item;
        q->unfinished++;
        acx__waitq_wake(g->task); /* its frame says 0 */
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

/* A slot was freed: the oldest putter's item takes it. */
static inline __attribute__((always_inline)) void refill(acx_queue *q)
{
    acx__wnode *p = acx__waitq_pop(&q->putters);
    if (p == NULL)
        return;
    put_frame *pf = ACX__WNODE_FRAME(p, put_frame, node);
    /* cannot fail: the store held this many items a moment ago */
    (void)acx__store_push(&q->st, pf->item, pf->prio);
    q->unfinished++;
    acx__waitq_wake(p->task);
}

static inline __attribute__((always_inline)) int get_now(acx_queue *q, void **out)
{
    if (q->st.n == 0)
        return q->shutdown ? -ESHUTDOWN : -EAGAIN;
    void *item = acx__store_pop(&q->st);
    if (out != NULL)
        *out = item;
    refill(q);
    return 0;
}

int acx_queue_put_nowait(acx_queue *q, void *item)
{
    return q != NULL ? put_now(q, item, 0) : -EINVAL;
}

int acx_queue_put_prio_nowait(acx_queue *q, void *item, int prio)
{
    return q != NULL ? put_now(q, item, prio) : -EINVAL;
}

int acx_queue_get_nowait(acx_queue *q, void **item)
{
    return q != NULL ? get_now(q, item) : -EINVAL;
}

/* ---- the awaits ----------------------------------------------------------- */

/* Each frame's node sits on one list of its queue; a cancel that finds it
 * linked takes it out (nothing was transferred), else the transfer
 * happened and wins. */
static int wait_cancel(acx__waitq *w, acx__wnode *n, int *ret, int err)
{
    if (!acx__waitq_linked(w, n))
        return 0;
    acx__waitq_unlink(w, n);
    *ret = err;
    return 1;
}

static int queue_describe(const acx_queue *q, const char *op, char *buf,
                          size_t size)
{
    char max[32] = "unbounded";
    if (q->maxsize != 0)
        snprintf(max, sizeof max, "%zu", q->maxsize);
    if (q->name != NULL)
        return snprintf(buf, size, "queue '%s' %zu/%s %s%s", q->name, q->st.n,
                        max, op, q->shutdown ? " (shut down)" : "");
    return snprintf(buf, size, "queue %p %zu/%s %s%s", (const void *)q, q->st.n,
                    max, op, q->shutdown ? " (shut down)" : "");
}

/* put and put_prio: what the inline body (acx_sync.h) leaves to us */
int acx__queue_put_slow(acx_coro *c)
{
    put_frame *f = (put_frame *)c;
    if (f->acx__state != 0)
        return ACX__DONE; /* moved in (0), shut down, or cancelled */
    if (f->queue == NULL) {
        f->acx__ret = -EINVAL;
        return ACX__DONE;
    }
    f->acx__ret = put_now(f->queue, f->item, f->prio);
    if (f->acx__ret != -EAGAIN || (f->acx__ret = acx__intr_check()) != 0)
        return ACX__DONE;
    return acx__waitq_park(&f->queue->putters, &f->node, c);
}

static int put_cancel(acx_coro *c, int err)
{
    put_frame *f = (put_frame *)c;
    return wait_cancel(&f->queue->putters, &f->node, &f->acx__ret, err);
}

static int put_describe(const acx_coro *c, char *buf, size_t size)
{
    return queue_describe(((const put_frame *)c)->queue, "put", buf, size);
}

ACX__SYNC_LEAF_INFO(acx_queue_put, put_frame, acx__body_acx_queue_put,
                    put_cancel, put_describe);
ACX__SYNC_LEAF_INFO(acx_queue_put_prio, struct acx__frame_acx_queue_put_prio,
                    acx__body_acx_queue_put_prio, put_cancel, put_describe);

acx_coro *acx_queue_put(acx_queue *q, void *item)
{
    put_frame *f = (put_frame *)(void *)acx__coro_alloc(
        sizeof *f, &acx__info_acx_queue_put);
    if (f == NULL)
        return NULL;
    acx__init_acx_queue_put(f, q, item);
    return &f->acx__hdr;
}

acx_coro *acx_queue_put_prio(acx_queue *q, void *item, int prio)
{
    struct acx__frame_acx_queue_put_prio *f =
        (struct acx__frame_acx_queue_put_prio *)(void *)acx__coro_alloc(
            sizeof *f, &acx__info_acx_queue_put_prio);
    if (f == NULL)
        return NULL;
    acx__init_acx_queue_put_prio(f, q, item, prio);
    return &f->acx__hdr;
}

/* get: what the inline body (acx_sync.h) leaves to us */
int acx__queue_get_slow(acx_coro *c)
{
    get_frame *f = (get_frame *)c;
    if (f->acx__state != 0)
        return ACX__DONE; /* handed an item (0), shut down, or cancelled */
    if (f->queue == NULL) {
        f->acx__ret = -EINVAL;
        return ACX__DONE;
    }
    f->acx__ret = get_now(f->queue, f->out);
    if (f->acx__ret != -EAGAIN || (f->acx__ret = acx__intr_check()) != 0)
        return ACX__DONE;
    return acx__waitq_park(&f->queue->getters, &f->node, c);
}

static int get_cancel(acx_coro *c, int err)
{
    get_frame *f = (get_frame *)c;
    return wait_cancel(&f->queue->getters, &f->node, &f->acx__ret, err);
}

static int get_describe(const acx_coro *c, char *buf, size_t size)
{
    return queue_describe(((const get_frame *)c)->queue, "get", buf, size);
}

ACX__SYNC_LEAF_INFO(acx_queue_get, get_frame, acx__body_acx_queue_get,
                    get_cancel, get_describe);

acx_coro *acx_queue_get(acx_queue *q, void **item)
{
    get_frame *f = (get_frame *)(void *)acx__coro_alloc(
        sizeof *f, &acx__info_acx_queue_get);
    if (f == NULL)
        return NULL;
    acx__init_acx_queue_get(f, q, item);
    return &f->acx__hdr;
}

int acx__body_acx_queue_join(acx_coro *c)
{
    join_frame *f = (join_frame *)c;
    if (f->acx__state != 0)
        return ACX__DONE;
    if (f->queue == NULL) {
        f->acx__ret = -EINVAL;
        return ACX__DONE;
    }
    f->acx__ret = 0;
    if (f->queue->unfinished == 0 || (f->acx__ret = acx__intr_check()) != 0)
        return ACX__DONE;
    return acx__waitq_park(&f->queue->joiners, &f->node, c);
}

static int join_cancel(acx_coro *c, int err)
{
    join_frame *f = (join_frame *)c;
    return wait_cancel(&f->queue->joiners, &f->node, &f->acx__ret, err);
}

static int join_describe(const acx_coro *c, char *buf, size_t size)
{
    const acx_queue *q = ((const join_frame *)c)->queue;
    char op[48];
    snprintf(op, sizeof op, "join (%lu unfinished)", q->unfinished);
    return queue_describe(q, op, buf, size);
}

ACX__SYNC_LEAF_INFO(acx_queue_join, join_frame, acx__body_acx_queue_join,
                    join_cancel, join_describe);

acx_coro *acx_queue_join(acx_queue *q)
{
    join_frame *f = (join_frame *)(void *)acx__coro_alloc(
        sizeof *f, &acx__info_acx_queue_join);
    if (f == NULL)
        return NULL;
    acx__init_acx_queue_join(f, q);
    return &f->acx__hdr;
}

/* ---- accounting and shutdown ------------------------------------------------ */

int acx_queue_task_done(acx_queue *q)
{
    if (q == NULL || q->unfinished == 0)
        return -EINVAL;
    if (--q->unfinished == 0)
        wake_all(&q->joiners, 0, offsetof(join_frame, node));
    return 0;
}

int acx_queue_shutdown(acx_queue *q, int immediate)
{
    if (q == NULL)
        return -EINVAL;
    q->shutdown = 1;
    if (immediate) {
        drop_all(q);
        if (q->unfinished == 0)
            wake_all(&q->joiners, 0, offsetof(join_frame, node));
    }
    wake_all(&q->getters, -ESHUTDOWN, offsetof(get_frame, node));
    wake_all(&q->putters, -ESHUTDOWN, offsetof(put_frame, node));
    return 0;
}

size_t acx_queue_qsize(const acx_queue *q)
{
    return q != NULL ? q->st.n : 0;
}

int acx_queue_empty(const acx_queue *q)
{
    return q == NULL || q->st.n == 0;
}

int acx_queue_full(const acx_queue *q)
{
    return q != NULL && q->maxsize != 0 && q->st.n >= q->maxsize;
}

size_t acx_queue_maxsize(const acx_queue *q)
{
    return q != NULL ? q->maxsize : 0;
}

int acx_queue_is_shutdown(const acx_queue *q)
{
    return q != NULL && q->shutdown;
}

const char *acx_queue_name(const acx_queue *q)
{
    return q != NULL ? q->name : NULL;
}
