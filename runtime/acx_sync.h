/* acx_sync.h - locks, semaphores, events, conditions, barriers and async
 * queues (issue 3): asyncio's synchronization primitives and queues for
 * coroutines of one loop.  Included by acx.h; see it for the conventions.
 *
 * Every object here belongs to one loop and is used from that loop's
 * thread only (no call below is thread-safe; threads share acx_future,
 * the throttle or the blocking queue instead).  The awaits follow the
 * runtime's interrupt model: a cancelled or timed-out task never parks
 * again (the await returns -ECANCELED or -ETIMEDOUT at once), and an
 * interrupt that arrives after the object granted what the task waited
 * for (a lock hand-off, a permit, an item) loses: the await returns
 * success and the task's next suspension reports the interrupt, so a
 * permit or an item is never lost between the two.
 *
 * Fairness: waiters are served strictly in arrival order.  What is freed
 * while someone waits is handed straight to the oldest waiter (the lock
 * becomes its lock, the permit its permit, the item its item) before it
 * even runs, so a newcomer never barges past a queued waiter.  (asyncio
 * gets the same order another way: a free lock goes to a newcomer only
 * while nobody is queued, and a woken waiter takes it when it runs.  The
 * hand-off also spares the woken task from finding the lock gone.)
 * An object must outlive the tasks waiting on it.
 *
 * Objects with an _init work embedded in the user's own structs (a lock
 * or an event is also valid when zero-filled); _new / _free allocate them.
 * _free on an object that tasks still wait on fails with -EBUSY and
 * frees nothing.  The awaitables' frames are declared below so generated
 * code embeds them in the awaiting frame: awaiting costs no allocation.
 */
#include "acx.h" /* alone, this part brings all of acx.h, in its order */

#ifndef ACX_SYNC_H
#define ACX_SYNC_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ---- waiter lists (internal, shared by every primitive) ---------------- */

/* A parked task's place in a primitive's FIFO; it lives in the await's
 * frame, so waiting allocates nothing. */
typedef struct acx__wnode {
    struct acx__wnode *next, *prev;
    acx_task *task;
} acx__wnode;

typedef struct acx__waitq {
    acx__wnode *head, *tail; /* oldest first; NULL-terminated both ways */
    uint32_t n;
} acx__waitq;

/* Queue node N of task T at the back of Q. */
static inline void acx__waitq_push(acx__waitq *q, acx__wnode *n,
                                   acx_task *t)
{
    n->task = t;
    n->next = 0;
    n->prev = q->tail;
    if (q->tail)
        q->tail->next = n;
    else
        q->head = n;
    q->tail = n;
    q->n++;
}

/* Take node N out of Q, wherever it is. */
static inline void acx__waitq_unlink(acx__waitq *q, acx__wnode *n)
{
    if (n->prev)
        n->prev->next = n->next;
    else
        q->head = n->next;
    if (n->next)
        n->next->prev = n->prev;
    else
        q->tail = n->prev;
    n->prev = n->next = 0;
    q->n--;
}

/* Take the oldest node out (NULL when nobody waits). */
static inline acx__wnode *acx__waitq_pop(acx__waitq *q)
{
    acx__wnode *n = q->head;
    if (n == 0)
        return 0;
    q->head = n->next; /* the head has no predecessor to unlink from */
    if (n->next != 0)
        n->next->prev = 0;
    else
        q->tail = 0;
    n->next = 0;
    q->n--;
    return n;
}

/* Ready T, parked in one of these leaves with its result in place: it
 * resumes straight in the leaf's parent, which reads that result (the
 * leaf's body would only return it).  A leaf that is a task's root is
 * resumed itself and finishes from its state. */
static inline void acx__waitq_wake(acx_task *t)
{
    acx_coro *leaf = t->top;
    if (leaf->parent != 0)
        t->top = leaf->parent;
    acx__ready_task(t);
}

/* ---- Lock (asyncio.Lock) ---------------------------------------------- */

/* A mutual-exclusion lock for tasks, owned by the task that acquired it.
 * Not reentrant.  A zero-filled acx_lock (ACX_LOCK_INIT) is unlocked. */
typedef struct acx_lock {
    acx__waitq waiters;
    acx_task *owner; /* NULL: unlocked */
} acx_lock;

#define ACX_LOCK_INIT {{0, 0, 0}, 0}

/* Make L an unlocked lock.  Loop thread. */
void acx_lock_init(acx_lock *l);

/* A new unlocked lock, or NULL with errno ENOMEM.  Any thread. */
acx_lock *acx_lock_new(void);

/* Free L (NULL is ignored; 0).  -EBUSY when tasks wait on it (nothing is
 * freed).  Loop thread. */
int acx_lock_free(acx_lock *l);

/* await acx_lock_acquire(l) (Lock.acquire): take L, waiting in FIFO order
 * while another task holds it.  Returns 0 (the caller owns L), -ECANCELED
 * or -ETIMEDOUT when interrupted while waiting (L not taken), -EDEADLK
 * when the caller already owns L, -EINVAL for NULL.  Loop thread, in a
 * task. */
ACX_ASYNC_DECL(int, acx_lock_acquire, (acx_lock * l));

/* Take L if it is free, without waiting.  0, -EAGAIN when it is held (by
 * anyone, the caller included), -EINVAL for NULL or outside a task.
 * Loop thread. */
int acx_lock_try_acquire(acx_lock *l);

/* Release L (Lock.release): the oldest waiter, if any, becomes its owner
 * and is readied.  0, or -EPERM when the calling task does not own L (or
 * L is unlocked), -EINVAL for NULL.  Loop thread, in the owning task.
 * (Inline, below: a contended lock's hand-off is a hot path.) */
static inline int acx_lock_release(acx_lock *l);

/* Lock.locked(): 1 when some task owns L.  Loop thread. */
int acx_lock_locked(const acx_lock *l);

/* The task that owns L, or NULL.  Loop thread. */
acx_task *acx_lock_owner(const acx_lock *l);

struct acx__frame_acx_lock_acquire {
    ACX__FRAME_PREFIX;
    int acx__ret;
    acx_lock *lock;
    acx__wnode node;
};
extern const acx__info acx__info_acx_lock_acquire;
static inline void
acx__init_acx_lock_acquire(struct acx__frame_acx_lock_acquire *f,
                           acx_lock *l)
{
    f->acx__hdr.info = &acx__info_acx_lock_acquire;
    f->acx__hdr.parent = 0;
    f->acx__state = 0;
    f->lock = l;
}

/* The common cases of acquire (take a free lock, queue behind its owner)
 * and of release (free it, hand it over) run inline in the caller's body;
 * the rest (errors, a pending interrupt, a resumed leaf) in sync.c. */
int acx__lock_acquire_slow(acx_coro *c);
int acx__lock_release_slow(acx_lock *l);

static inline int acx__body_acx_lock_acquire(acx_coro *c)
{
    struct acx__frame_acx_lock_acquire *f =
        (struct acx__frame_acx_lock_acquire *)(void *)c;
    acx_lock *l = f->lock;
    acx_task *t = acx__cur_task;
    if (__builtin_expect(f->acx__state != 0 || l == 0 || l->owner == t ||
                             (t->flags & ACX__T_INTR) != 0,
                         0))
        return acx__lock_acquire_slow(c);
    f->acx__ret = 0;
    if (l->owner == 0) { /* free means nobody waits: hand-off is strict */
        l->owner = t;
        return ACX__DONE;
    }
    acx__waitq_push(&l->waiters, &f->node, t);
    f->acx__state = 1;
    t->top = c;
    return ACX__SUSPEND;
}

static inline int acx_lock_release(acx_lock *l)
{
    if (__builtin_expect(l == 0 || l->owner == 0 ||
                             l->owner != acx__cur_task,
                         0))
        return acx__lock_release_slow(l);
    acx__wnode *n = acx__waitq_pop(&l->waiters);
    l->owner = n != 0 ? n->task : 0;
    if (n != 0)
        acx__waitq_wake(n->task);
    return 0;
}

/* ---- Semaphore and BoundedSemaphore ------------------------------------ */

/* A counter of permits (asyncio.Semaphore).  A bounded one
 * (BoundedSemaphore) refuses a release that would raise the count above
 * its initial value. */
typedef struct acx_sem {
    acx__waitq waiters;
    long value; /* free permits; 0 while anyone waits */
    long bound; /* the most value may reach: LONG_MAX unless bounded */
} acx_sem;

/* Make S a semaphore with VALUE permits (bounded: never more than VALUE).
 * 0, or -EINVAL for NULL or VALUE < 0.  Loop thread. */
int acx_sem_init(acx_sem *s, long value);
int acx_sem_init_bounded(acx_sem *s, long value);

/* A new semaphore, or NULL with errno EINVAL (VALUE < 0) or ENOMEM.
 * Any thread. */
acx_sem *acx_sem_new(long value);
acx_sem *acx_sem_new_bounded(long value);

/* Free S (NULL is ignored; 0).  -EBUSY when tasks wait on it.  Loop
 * thread. */
int acx_sem_free(acx_sem *s);

/* await acx_sem_acquire(s): take a permit, waiting in FIFO order while
 * none is free.  0 (the caller holds a permit and must release it),
 * -ECANCELED / -ETIMEDOUT when interrupted while waiting (no permit
 * taken), -EINVAL for NULL.  Loop thread, in a task. */
ACX_ASYNC_DECL(int, acx_sem_acquire, (acx_sem * s));

/* Take a permit if one is free.  0, -EAGAIN, -EINVAL.  Loop thread. */
int acx_sem_try_acquire(acx_sem *s);

/* Give a permit back: to the oldest waiter if any (it is readied holding
 * it), else to the count.  0, -EOVERFLOW when the count would exceed the
 * bound (a bounded semaphore released more often than acquired; or
 * LONG_MAX), -EINVAL for NULL.  Any task of the loop may release.  Loop
 * thread. */
int acx_sem_release(acx_sem *s);

/* The free permits (0 while tasks wait), and Semaphore.locked(): 1 when
 * an acquire would wait.  Loop thread. */
long acx_sem_value(const acx_sem *s);
int acx_sem_locked(const acx_sem *s);

struct acx__frame_acx_sem_acquire {
    ACX__FRAME_PREFIX;
    int acx__ret;
    acx_sem *sem;
    acx__wnode node;
};
extern const acx__info acx__info_acx_sem_acquire;
int acx__body_acx_sem_acquire(acx_coro *);
static inline void
acx__init_acx_sem_acquire(struct acx__frame_acx_sem_acquire *f, acx_sem *s)
{
    f->acx__hdr.info = &acx__info_acx_sem_acquire;
    f->acx__hdr.parent = 0;
    f->acx__state = 0;
    f->sem = s;
}

/* ---- Event (asyncio.Event) --------------------------------------------- */

/* A flag tasks can wait for.  A zero-filled acx_event (ACX_EVENT_INIT) is
 * clear. */
typedef struct acx_event {
    acx__waitq waiters;
    int set;
} acx_event;

#define ACX_EVENT_INIT {{0, 0, 0}, 0}

/* Make E clear, nobody waiting.  Loop thread. */
void acx_event_init(acx_event *e);

/* A new clear event, or NULL with errno ENOMEM.  Any thread. */
acx_event *acx_event_new(void);

/* Free E (NULL is ignored; 0).  -EBUSY when tasks wait on it.  Loop
 * thread. */
int acx_event_free(acx_event *e);

/* Set E and ready every task waiting for it (they all return 0, even if E
 * is cleared before they run).  Returns how many were woken; -EINVAL for
 * NULL.  Loop thread. */
int acx_event_set(acx_event *e);

/* Clear E; later waits park until the next set.  Loop thread. */
void acx_event_clear(acx_event *e);

/* 1 when E is set.  Loop thread. */
int acx_event_is_set(const acx_event *e);

/* await acx_event_wait(e): return at once when E is set, else park until
 * acx_event_set.  0, -ECANCELED / -ETIMEDOUT, -EINVAL.  Loop thread, in a
 * task. */
ACX_ASYNC_DECL(int, acx_event_wait, (acx_event * e));

struct acx__frame_acx_event_wait {
    ACX__FRAME_PREFIX;
    int acx__ret;
    acx_event *event;
    acx__wnode node;
};
extern const acx__info acx__info_acx_event_wait;
int acx__body_acx_event_wait(acx_coro *);
static inline void
acx__init_acx_event_wait(struct acx__frame_acx_event_wait *f, acx_event *e)
{
    f->acx__hdr.info = &acx__info_acx_event_wait;
    f->acx__hdr.parent = 0;
    f->acx__state = 0;
    f->event = e;
}

/* ---- Condition (asyncio.Condition) --------------------------------------- */

/* A condition variable bound to a lock: its own (LOCK NULL at init) or one
 * the caller shares between conditions. */
typedef struct acx_cond {
    acx__waitq waiters;
    acx_lock *lock;
    acx_lock own; /* the lock used when none was given */
} acx_cond;

/* Bind C to LOCK (NULL: a lock of its own, see acx_cond_lock; C must
 * then stay where it is, as it points into itself).  0 or -EINVAL.  Loop
 * thread. */
int acx_cond_init(acx_cond *c, acx_lock *lock);

/* A new condition bound as by acx_cond_init, or NULL with errno ENOMEM.
 * Any thread. */
acx_cond *acx_cond_new(acx_lock *lock);

/* Free C (NULL is ignored; 0).  -EBUSY when tasks wait on it or on its
 * own lock.  Loop thread. */
int acx_cond_free(acx_cond *c);

/* The lock C is bound to: acquire and release it with acx_lock_*.  Loop
 * thread. */
acx_lock *acx_cond_lock(acx_cond *c);

/* await acx_cond_wait(c) (Condition.wait): the caller must own C's lock.
 * Releases it, parks until notified, then takes the lock again (in FIFO
 * order with its other waiters) before returning.  Returns 0 with the lock
 * held; -ECANCELED / -ETIMEDOUT when interrupted before it was notified,
 * ALSO with the lock held again (as asyncio: the waiter re-acquires the
 * lock before the cancel propagates); -EPERM when the caller does not own
 * the lock (nothing happens), -EINVAL for NULL.  An interrupt after the
 * notify loses (0 is returned, the notification is not lost).  Loop
 * thread, in a task. */
ACX_ASYNC_DECL(int, acx_cond_wait, (acx_cond * c));

/* await acx_cond_wait_for(c, pred, arg) (Condition.wait_for): wait until
 * PRED(ARG) is true, checking it with the lock held first and after every
 * wake-up.  0, or the error of the acx_cond_wait that failed (the lock is
 * held in every case but -EPERM / -EINVAL).  Loop thread, in a task. */
ACX_ASYNC_DECL(int, acx_cond_wait_for,
               (acx_cond * c, int (*pred)(void *), void *arg));

/* Wake up to N of C's waiters, oldest first (each then queues for the
 * lock).  The caller must own C's lock.  Returns how many were woken, or
 * -EPERM, -EINVAL (NULL, N < 0).  Loop thread. */
int acx_cond_notify(acx_cond *c, int n);
int acx_cond_notify_all(acx_cond *c);

struct acx__frame_acx_cond_wait {
    ACX__FRAME_PREFIX;
    int acx__ret;
    acx_cond *cond;
    acx__wnode node;
    int phase; /* internal: what NODE is queued on */
};
extern const acx__info acx__info_acx_cond_wait;
int acx__body_acx_cond_wait(acx_coro *);
static inline void
acx__init_acx_cond_wait(struct acx__frame_acx_cond_wait *f, acx_cond *c)
{
    f->acx__hdr.info = &acx__info_acx_cond_wait;
    f->acx__hdr.parent = 0;
    f->acx__state = 0;
    f->cond = c;
}

/* ---- Barrier (asyncio.Barrier) -------------------------------------------- */

/* PARTIES tasks meet: each wait parks until PARTIES tasks wait, then all
 * go on together and the barrier starts its next cycle. */
typedef struct acx_barrier {
    acx__waitq waiters;
    unsigned parties;
    int broken; /* aborted: waits fail until acx_barrier_reset */
} acx_barrier;

/* Make B a barrier for PARTIES (>= 1) tasks.  0 or -EINVAL.  Loop
 * thread. */
int acx_barrier_init(acx_barrier *b, unsigned parties);

/* A new barrier, or NULL with errno EINVAL (PARTIES 0) or ENOMEM.  Any
 * thread. */
acx_barrier *acx_barrier_new(unsigned parties);

/* Free B (NULL is ignored; 0).  -EBUSY when tasks wait on it.  Loop
 * thread. */
int acx_barrier_free(acx_barrier *b);

/* await acx_barrier_wait(b) (Barrier.wait): park until PARTIES tasks
 * wait, then return this task's place among them: 0 for the first to
 * arrive .. PARTIES - 1 for the one whose arrival released them.  A
 * waiter that is interrupted leaves (-ECANCELED / -ETIMEDOUT) and does
 * not count.  -ECONNABORTED (asyncio's BrokenBarrierError) when the
 * barrier is broken, or is aborted or reset while the task waits;
 * -EINVAL for NULL.  Loop thread, in a task. */
ACX_ASYNC_DECL(int, acx_barrier_wait, (acx_barrier * b));

/* Barrier.abort(): break B; its waiters and every later wait return
 * -ECONNABORTED until acx_barrier_reset.  0 or -EINVAL.  Loop thread. */
int acx_barrier_abort(acx_barrier *b);

/* Barrier.reset(): the waiters return -ECONNABORTED and B is empty and
 * usable again (no longer broken).  0 or -EINVAL.  Loop thread. */
int acx_barrier_reset(acx_barrier *b);

/* Barrier.parties, n_waiting, broken.  Loop thread. */
unsigned acx_barrier_parties(const acx_barrier *b);
unsigned acx_barrier_n_waiting(const acx_barrier *b);
int acx_barrier_broken(const acx_barrier *b);

struct acx__frame_acx_barrier_wait {
    ACX__FRAME_PREFIX;
    int acx__ret;
    acx_barrier *barrier;
    acx__wnode node;
};
extern const acx__info acx__info_acx_barrier_wait;
int acx__body_acx_barrier_wait(acx_coro *);
static inline void
acx__init_acx_barrier_wait(struct acx__frame_acx_barrier_wait *f,
                           acx_barrier *b)
{
    f->acx__hdr.info = &acx__info_acx_barrier_wait;
    f->acx__hdr.parent = 0;
    f->acx__state = 0;
    f->barrier = b;
}

/* ---- Async queues (asyncio.Queue, LifoQueue, PriorityQueue) ------------- */

/* Items are void pointers the queue does not own.  A priority queue also
 * takes an int priority per item: the lowest comes out first, FIFO among
 * equal priorities (the other kinds ignore priorities).  MAXSIZE 0 means
 * unbounded; a bounded queue makes put wait while it is full.  Getters
 * and putters each wait in FIFO order; a put while getters wait hands the
 * item straight to the oldest getter, and a get from a full queue moves
 * the oldest waiting putter's item in. */
typedef struct acx_queue acx_queue;

/* The layout is here only so the common cases of put and get can run
 * inline in the awaiting body (see the end of this file); the fields are
 * private: use the calls below. */
struct acx__qent {
    void *item;
    int prio;
    uint64_t seq; /* arrival order: FIFO among equal priorities */
};

/* The item store both queues use (this async one and the blocking
 * acx_bqueue): a ring (FIFO), a stack (LIFO) or a binary min-heap by
 * (priority, arrival) (PRIORITY); capacity a power of two, grown by
 * doubling.  Private (store.c). */
typedef struct acx__store {
    void **ring;            /* FIFO: a ring; LIFO: a stack */
    struct acx__qent *heap; /* PRIORITY: a binary min-heap */
    size_t cap, head, n;    /* cap: a power of two; head: FIFO's oldest */
    uint64_t seq;
    int kind;               /* 0 FIFO, 1 LIFO, 2 PRIORITY */
} acx__store;

/* Add ITEM (0, or -ENOMEM when it had to grow and could not); take the
 * next item (N > 0); free the storage (not the items). */
int acx__store_push(acx__store *s, void *item, int prio);
void *acx__store_pop(acx__store *s);
void acx__store_free(acx__store *s);

struct acx_queue {
    acx__store st;          /* the items; st.kind is ACX_QUEUE_* */
    size_t maxsize;         /* 0: unbounded */
    int shutdown;
    unsigned long unfinished; /* put and not yet task_done */
    acx__waitq getters, putters, joiners;
    void (*drop)(void *item, void *arg);
    void *drop_arg;
    char *name;
};

enum { ACX_QUEUE_FIFO, ACX_QUEUE_LIFO, ACX_QUEUE_PRIORITY };

/* A new empty queue of KIND (ACX_QUEUE_*) holding at most MAXSIZE items
 * (0: no limit), named NAME (copied; NULL: none) for task dumps.  NULL
 * with errno EINVAL (bad KIND) or ENOMEM.  Any thread. */
acx_queue *acx_queue_new(int kind, size_t maxsize, const char *name);

/* Free Q.  Items still in it are passed to the drop function, if one was
 * set.  0 (NULL is ignored), -EBUSY when tasks wait on Q (nothing is
 * freed).  Loop thread. */
int acx_queue_free(acx_queue *q);

/* Call DROP(ITEM, ARG) for every item Q discards: those still queued when
 * it is freed or shut down with IMMEDIATE.  Loop thread. */
void acx_queue_set_drop(acx_queue *q, void (*drop)(void *item, void *arg),
                        void *arg);

/* await acx_queue_put(q, item) (Queue.put): add ITEM, waiting in FIFO
 * order while Q is full.  0; -ESHUTDOWN when Q is shut down (also for a
 * putter waiting when that happens: its item was not added);
 * -ECANCELED / -ETIMEDOUT when interrupted while waiting (not added);
 * -ENOMEM (an unbounded queue could not grow), -EINVAL.  Loop thread, in
 * a task. */
ACX_ASYNC_DECL(int, acx_queue_put, (acx_queue * q, void *item));

/* The same with a priority (only a priority queue uses it). */
ACX_ASYNC_DECL(int, acx_queue_put_prio,
               (acx_queue * q, void *item, int prio));

/* Queue.put_nowait: 0, -EAGAIN when Q is full, -ESHUTDOWN, -ENOMEM,
 * -EINVAL.  Loop thread. */
int acx_queue_put_nowait(acx_queue *q, void *item);
int acx_queue_put_prio_nowait(acx_queue *q, void *item, int prio);

/* await acx_queue_get(q, &item) (Queue.get): take the next item into
 * *ITEM (which may be NULL), waiting in FIFO order while Q is empty.  0;
 * -ESHUTDOWN when Q is shut down and empty (also for a getter waiting
 * when that happens); -ECANCELED / -ETIMEDOUT when interrupted while
 * waiting (nothing taken); -EINVAL.  Loop thread, in a task. */
ACX_ASYNC_DECL(int, acx_queue_get, (acx_queue * q, void **item));

/* Queue.get_nowait: 0, -EAGAIN when Q is empty, -ESHUTDOWN when it is
 * also shut down, -EINVAL.  Loop thread. */
int acx_queue_get_nowait(acx_queue *q, void **item);

/* Queue.task_done: one item taken from Q has been processed; when all
 * have, every acx_queue_join returns.  0, or -EINVAL when called more
 * often than items were put (or Q is NULL).  Loop thread. */
int acx_queue_task_done(acx_queue *q);

/* await acx_queue_join(q) (Queue.join): park until every item ever put
 * has been marked done (at once if none is pending).  0, -ECANCELED /
 * -ETIMEDOUT, -EINVAL.  Loop thread, in a task. */
ACX_ASYNC_DECL(int, acx_queue_join, (acx_queue * q));

/* Queue.shutdown (Python 3.13): from now on puts return -ESHUTDOWN, and
 * gets do once Q is empty.  Every waiting putter and getter is woken
 * with -ESHUTDOWN.  IMMEDIATE also discards the queued items (to the drop
 * function), counting each as done, which may end acx_queue_join.  0 or
 * -EINVAL.  Loop thread. */
int acx_queue_shutdown(acx_queue *q, int immediate);

/* qsize, empty, full (never for MAXSIZE 0), maxsize, whether shut down,
 * the name (NULL if none).  Loop thread. */
size_t acx_queue_qsize(const acx_queue *q);
int acx_queue_empty(const acx_queue *q);
int acx_queue_full(const acx_queue *q);
size_t acx_queue_maxsize(const acx_queue *q);
int acx_queue_is_shutdown(const acx_queue *q);
const char *acx_queue_name(const acx_queue *q);

/* put and put_prio share one frame; get keeps where its item goes. */
struct acx__frame_acx_queue_put {
    ACX__FRAME_PREFIX;
    int acx__ret;
    acx_queue *queue;
    void *item;
    int prio;
    acx__wnode node;
};
extern const acx__info acx__info_acx_queue_put;
static inline void
acx__init_acx_queue_put(struct acx__frame_acx_queue_put *f, acx_queue *q,
                        void *item)
{
    f->acx__hdr.info = &acx__info_acx_queue_put;
    f->acx__hdr.parent = 0;
    f->acx__state = 0;
    f->queue = q;
    f->item = item;
    f->prio = 0;
}

struct acx__frame_acx_queue_put_prio {
    ACX__FRAME_PREFIX;
    int acx__ret;
    acx_queue *queue;
    void *item;
    int prio;
    acx__wnode node;
};
extern const acx__info acx__info_acx_queue_put_prio;
static inline void
acx__init_acx_queue_put_prio(struct acx__frame_acx_queue_put_prio *f,
                             acx_queue *q, void *item, int prio)
{
    f->acx__hdr.info = &acx__info_acx_queue_put_prio;
    f->acx__hdr.parent = 0;
    f->acx__state = 0;
    f->queue = q;
    f->item = item;
    f->prio = prio;
}

struct acx__frame_acx_queue_get {
    ACX__FRAME_PREFIX;
    int acx__ret;
    acx_queue *queue;
    void **out;
    acx__wnode node;
};
extern const acx__info acx__info_acx_queue_get;
static inline void
acx__init_acx_queue_get(struct acx__frame_acx_queue_get *f, acx_queue *q,
                        void **item)
{
    f->acx__hdr.info = &acx__info_acx_queue_get;
    f->acx__hdr.parent = 0;
    f->acx__state = 0;
    f->queue = q;
    f->out = item;
}

struct acx__frame_acx_queue_join {
    ACX__FRAME_PREFIX;
    int acx__ret;
    acx_queue *queue;
    acx__wnode node;
};
extern const acx__info acx__info_acx_queue_join;
int acx__body_acx_queue_join(acx_coro *);
static inline void
acx__init_acx_queue_join(struct acx__frame_acx_queue_join *f, acx_queue *q)
{
    f->acx__hdr.info = &acx__info_acx_queue_join;
    f->acx__hdr.parent = 0;
    f->acx__state = 0;
    f->queue = q;
}

/* ---- the inline halves of put and get -------------------------------------
 *
 * A FIFO queue's common cases run in the awaiting body without a call: a
 * get from a non-empty queue (moving a waiting putter's item in), a put
 * handed to a waiting getter or into free room, and parking either side.
 * Everything else (the other kinds, growth, shutdown, errors, a pending
 * interrupt, a resumed leaf) is done in aqueue.c.
 */
int acx__queue_put_slow(acx_coro *c);
int acx__queue_get_slow(acx_coro *c);

static inline void acx__queue_ring_push(acx_queue *q, void *item)
{
    q->st.ring[(q->st.head + q->st.n) & (q->st.cap - 1)] = item;
    q->st.n++;
}

static inline void *acx__queue_ring_pop(acx_queue *q)
{
    void *item = q->st.ring[q->st.head];
    q->st.head = (q->st.head + 1) & (q->st.cap - 1);
    q->st.n--;
    return item;
}

static inline int acx__body_acx_queue_get(acx_coro *c)
{
    struct acx__frame_acx_queue_get *f =
        (struct acx__frame_acx_queue_get *)(void *)c;
    acx_queue *q = f->queue;
    acx_task *t = acx__cur_task;
    if (__builtin_expect(f->acx__state != 0 || q == 0 ||
                             q->st.kind != ACX_QUEUE_FIFO,
                         0))
        return acx__queue_get_slow(c);
    if (q->st.n != 0) {
        void *item = acx__queue_ring_pop(q);
        if (f->out != 0)
            *f->out = item;
        f->acx__ret = 0;
        acx__wnode *p = acx__waitq_pop(&q->putters);
        if (p != 0) { /* a slot was freed: the oldest putter's item */
            struct acx__frame_acx_queue_put *pf =
                (struct acx__frame_acx_queue_put *)(void *)((char *)p -
                    offsetof(struct acx__frame_acx_queue_put, node));
            acx__queue_ring_push(q, pf->item);
            q->unfinished++;
            acx__waitq_wake(p->task);
        }
        return ACX__DONE;
    }
    if (q->shutdown || (t->flags & ACX__T_INTR) != 0)
        return acx__queue_get_slow(c);
    f->acx__ret = 0;
    acx__waitq_push(&q->getters, &f->node, t);
    f->acx__state = 1;
    t->top = c;
    return ACX__SUSPEND;
}

static inline int acx__body_acx_queue_put(acx_coro *c)
{
    struct acx__frame_acx_queue_put *f =
        (struct acx__frame_acx_queue_put *)(void *)c;
    acx_queue *q = f->queue;
    acx_task *t = acx__cur_task;
    if (__builtin_expect(f->acx__state != 0 || q == 0 || q->shutdown ||
                             q->st.kind != ACX_QUEUE_FIFO,
                         0))
        return acx__queue_put_slow(c);
    acx__wnode *g = acx__waitq_pop(&q->getters);
    f->acx__ret = 0;
    if (g != 0) { /* straight to the oldest getter */
        struct acx__frame_acx_queue_get *gf =
            (struct acx__frame_acx_queue_get *)(void *)((char *)g -
                offsetof(struct acx__frame_acx_queue_get, node));
        if (gf->out != 0)
            *gf->out = f->item;
        q->unfinished++;
        acx__waitq_wake(g->task);
        return ACX__DONE;
    }
    if (q->maxsize == 0 || q->st.n < q->maxsize) {
        if (__builtin_expect(q->st.n == q->st.cap, 0))
            return acx__queue_put_slow(c); /* the ring must grow */
        acx__queue_ring_push(q, f->item);
        q->unfinished++;
        return ACX__DONE;
    }
    if ((t->flags & ACX__T_INTR) != 0)
        return acx__queue_put_slow(c);
    acx__waitq_push(&q->putters, &f->node, t);
    f->acx__state = 1;
    t->top = c;
    return ACX__SUSPEND;
}

/* put_prio's frame is put's (aqueue.c checks the layouts match). */
static inline int acx__body_acx_queue_put_prio(acx_coro *c)
{
    return acx__body_acx_queue_put(c);
}

#ifdef __cplusplus
}
#endif
#endif
