/* throttle.c - acx_throttle: a token bucket kept as one atomic word (GCRA),
 * plus a FIFO of sleeping waiters that a rate or burst change re-evaluates.
 *
 * The word is the "theoretical arrival time" TAT: the virtual time at which
 * the bucket would be full again, in ticks of 1/64 ns (so fractional rates
 * keep their precision: a token's interval is rounded up by at most 1/32
 * ns).  At time NOW the bucket owes max(TAT - NOW, 0) ticks; it holds
 * burst - owed / interval tokens.  Taking N tokens moves TAT to
 * max(TAT, NOW) + N * interval, admitted now when the new TAT is at most
 * NOW + tau (tau = burst * interval), otherwise at the slot TAT - tau.
 * Admission therefore never depends on when a waiter wakes up.
 *
 * Ticks are compared as signed differences, so the word may wrap (every
 * 9 years): only a bucket left idle for 4.5 years would misread its debt.
 *
 * Locking.  The fast path (admitted at once) is one compare-and-swap on the
 * word, no mutex.  A caller that must wait takes t->mu, reserves its slot
 * with the same CAS and queues a waiter node on its stack, then sleeps
 * without the mutex.  A rate or burst change takes t->mu and sets bit 0 of
 * the word (unlocked values are even): fast paths that see it wait on the
 * mutex, so the word and the parameters always change together.  The
 * stored word is word = TAT + bias and a change picks a new bias that
 * makes the word strictly larger, so a fast path's CAS can never succeed
 * against a word it read before a change (no ABA).
 *
 * A waiter is a node with a wake method, called under t->mu after its slot
 * or status changed.  Threads use a futex word; a coroutine waiter (the
 * awaitable acquire) has a loop timer at its slot, and its wake method
 * posts to its loop, which re-arms the timer at the new slot.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <linux/futex.h>
#include <math.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "acx_internal.h"

#define TH_SHIFT 6                            /* 1 tick = 2^-6 ns */
#define TH_TICKS_PER_SEC (1e9 * (1 << TH_SHIFT))
#define TH_MAX_RATE 1e9
#define TH_MAX_TAU ((double)((uint64_t)1 << 60)) /* ~208 days of burst */
#define TH_MAX_AHEAD ((int64_t)1 << 61)          /* ~417 days of debt */

typedef struct th_waiter th_waiter;
struct th_waiter {
    th_waiter *prev, *next;     /* t->mu */
    double n;                   /* tokens asked for */
    int64_t deadline_ns;        /* INT64_MAX: none */
    _Atomic uint64_t slot;      /* admitted from this tick on; under t->mu */
    _Atomic int status;         /* 0, or -ETIMEDOUT once refunded */
    void (*wake)(th_waiter *w); /* under t->mu, after slot or status moved */
    _Atomic uint32_t seq;       /* thread waiters: the futex word */
};

struct acx_throttle {
    _Atomic uint64_t word;   /* TAT + bias, even; odd while params change */
    _Atomic uint64_t bias;   /* the parameters, changed only with the */
    _Atomic uint64_t tau;    /* word locked: tau = burst * interval */
    _Atomic double interval; /* ticks per token */
    _Atomic uint64_t one;    /* th_ceil_even(interval): one token's ticks */
    _Atomic double rate, burst;
    int64_t (*now_fn)(void *);
    void *now_arg;
    void (*sleep_fn)(void *, int64_t);
    void *sleep_arg;
    pthread_mutex_t mu; /* waiters, parameter changes */
    th_waiter *head, *tail;
};

static inline int64_t th_now_ns(const acx_throttle *t)
{
    if (t->now_fn != NULL)
        return t->now_fn(t->now_arg);
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static inline uint64_t th_ticks_of_ns(int64_t ns)
{
    return (uint64_t)ns << TH_SHIFT;
}

/* X ticks (0 <= X < 2^62), rounded up to an even count: the word's bit 0
 * is the lock bit. */
static inline uint64_t th_ceil_even(double x)
{
    int64_t u = (int64_t)x; /* x < 2^62: a signed conversion is one insn */
    if ((double)u < x)
        u++;
    return (uint64_t)(u + (u & 1));
}

/* The nanosecond at or after which tick SLOT has come, seen from NOW. */
static inline int64_t th_slot_ns(uint64_t slot, uint64_t now, int64_t now_ns)
{
    int64_t d = (int64_t)(slot - now);
    return d <= 0 ? now_ns : now_ns + (d + (1 << TH_SHIFT) - 1) / (1 << TH_SHIFT);
}

static int th_valid_n(double n)
{
    return n > 0 && isfinite(n);
}

/* Ticks per token for RATE and tau for BURST, or -EINVAL. */
static int th_params(double rate, double burst, double *interval,
                     uint64_t *tau)
{
    if (!(rate > 0 && rate <= TH_MAX_RATE) || !(burst >= 1 && isfinite(burst)))
        return -EINVAL;
    double iv = TH_TICKS_PER_SEC / rate;
    double x = burst * iv;
    if (!(x <= TH_MAX_TAU))
        return -EINVAL;
    *interval = iv;
    *tau = th_ceil_even(x);
    return 0;
}

/* Wait for a parameter change that holds the word locked to finish. */
static void th_wait_change(acx_throttle *t)
{
    pthread_mutex_lock(&t->mu);
    pthread_mutex_unlock(&t->mu);
}

/* What taking N tokens at NOW does to the arrival-time word W: the word
 * to store, the new arrival time, the burst window TAU, and how far the
 * new arrival time runs ahead of NOW (beyond TAU the taker must wait). */
typedef struct th_step {
    uint64_t word, nt, tau;
    int64_t ahead;
} th_step;

static inline th_step th_after(const acx_throttle *t, uint64_t w,
                               uint64_t now, double n)
{
    th_step st;
    uint64_t bias = atomic_load_explicit(&t->bias, memory_order_relaxed);
    double iv = atomic_load_explicit(&t->interval, memory_order_relaxed);
    st.tau = atomic_load_explicit(&t->tau, memory_order_relaxed);
    uint64_t tat = w - bias;
    uint64_t base = (int64_t)(tat - now) > 0 ? tat : now;
    /* one token, the common take: its ticks precomputed */
    st.nt = base + (n == 1 ? atomic_load_explicit(&t->one, memory_order_relaxed)
                           : th_ceil_even(n * iv));
    st.word = st.nt + bias;
    st.ahead = (int64_t)(st.nt - now);
    return st;
}

/* One attempt to take N tokens at once.  0 taken, -EAGAIN not now,
 * -EINVAL N > burst.  Lock-free unless a parameter change is under way. */
static inline __attribute__((always_inline)) int th_take(acx_throttle *t, double n)
{
    uint64_t now = th_ticks_of_ns(th_now_ns(t));
    for (;;) {
        uint64_t w = atomic_load_explicit(&t->word, memory_order_acquire);
        if (w & 1) {
            th_wait_change(t);
            now = th_ticks_of_ns(th_now_ns(t));
            continue;
        }
        if (n > atomic_load_explicit(&t->burst, memory_order_relaxed))
            return -EINVAL;
        th_step st = th_after(t, w, now, n);
        if (st.ahead > (int64_t)st.tau)
            return -EAGAIN;
        if (atomic_compare_exchange_strong_explicit(&t->word, &w, st.word,
                                                    memory_order_acq_rel,
                                                    memory_order_relaxed))
            return 0;
        now = th_ticks_of_ns(th_now_ns(t)); /* lost a race: time moved */
    }
}

/* ---- waiters ---------------------------------------------------------- */

static void th_link(acx_throttle *t, th_waiter *w)
{
    w->next = NULL;
    w->prev = t->tail;
    if (t->tail)
        t->tail->next = w;
    else
        t->head = w;
    t->tail = w;
}

static void th_unlink(acx_throttle *t, th_waiter *w)
{
    if (w->prev)
        w->prev->next = w->next;
    else
        t->head = w->next;
    if (w->next)
        w->next->prev = w->prev;
    else
        t->tail = w->prev;
    w->prev = w->next = NULL;
}

static void th_wake_thread(th_waiter *w)
{
    atomic_fetch_add_explicit(&w->seq, 1, memory_order_release);
    syscall(SYS_futex, &w->seq, FUTEX_WAKE_PRIVATE, 1, NULL, NULL, 0);
}

/* Sleep until DEADLINE_NS (CLOCK_MONOTONIC) or until SEQ moves past SEEN.
 * Early returns (EINTR, a wake) are fine: the caller re-checks. */
static void th_futex_wait(_Atomic uint32_t *seq, uint32_t seen,
                          int64_t deadline_ns)
{
    struct timespec ts = {.tv_sec = deadline_ns / 1000000000,
                          .tv_nsec = deadline_ns % 1000000000};
    syscall(SYS_futex, seq, FUTEX_WAIT_BITSET_PRIVATE, seen, &ts, NULL,
            FUTEX_BITSET_MATCH_ANY);
}

/* Reserve N tokens under t->mu.  0: admitted at once; 1: W is queued with
 * its slot and must wait; else -EINVAL, -EAGAIN or -ETIMEDOUT (nothing
 * taken). */
static int th_reserve(acx_throttle *t, th_waiter *w, double n,
                      int64_t deadline_ns)
{
    int rc;
    pthread_mutex_lock(&t->mu);
    for (;;) {
        int64_t now_ns = th_now_ns(t);
        uint64_t now = th_ticks_of_ns(now_ns);
        uint64_t wd = atomic_load_explicit(&t->word, memory_order_acquire);
        if (n > atomic_load_explicit(&t->burst, memory_order_relaxed)) {
            rc = -EINVAL;
            break;
        }
        th_step st = th_after(t, wd, now, n);
        uint64_t slot = st.nt - st.tau;
        int wait = st.ahead > (int64_t)st.tau;
        if (wait && st.ahead > TH_MAX_AHEAD) {
            rc = -EAGAIN;
            break;
        }
        if (wait && th_slot_ns(slot, now, now_ns) > deadline_ns) {
            rc = -ETIMEDOUT;
            break;
        }
        if (!atomic_compare_exchange_strong_explicit(&t->word, &wd, st.word,
                                                     memory_order_acq_rel,
                                                     memory_order_relaxed))
            continue; /* a fast path got in first */
        rc = wait;
        if (wait) {
            w->n = n;
            w->deadline_ns = deadline_ns;
            atomic_store_explicit(&w->slot, slot, memory_order_relaxed);
            atomic_store_explicit(&w->status, 0, memory_order_relaxed);
            th_link(t, w);
        }
        break;
    }
    pthread_mutex_unlock(&t->mu);
    return rc;
}

/* Sleep until W's slot; the verdict (admitted, or refunded by a rate
 * change) is taken under t->mu, where re-evaluation happens. */
static int th_wait(acx_throttle *t, th_waiter *w)
{
    for (;;) {
        uint32_t seen = atomic_load_explicit(&w->seq, memory_order_acquire);
        if (atomic_load_explicit(&w->status, memory_order_acquire) == 0) {
            uint64_t slot = atomic_load_explicit(&w->slot, memory_order_acquire);
            int64_t now_ns = th_now_ns(t);
            uint64_t now = th_ticks_of_ns(now_ns);
            if ((int64_t)(slot - now) > 0) {
                int64_t until = th_slot_ns(slot, now, now_ns);
                if (t->sleep_fn != NULL)
                    t->sleep_fn(t->sleep_arg, until);
                else if (t->now_fn != NULL)
                    sched_yield();
                else
                    th_futex_wait(&w->seq, seen, until);
                continue;
            }
        }
        pthread_mutex_lock(&t->mu);
        int st = atomic_load_explicit(&w->status, memory_order_relaxed);
        if (st == 0) {
            uint64_t slot = atomic_load_explicit(&w->slot, memory_order_relaxed);
            if ((int64_t)(slot - th_ticks_of_ns(th_now_ns(t))) > 0) {
                pthread_mutex_unlock(&t->mu); /* moved later meanwhile */
                continue;
            }
            th_unlink(t, w);
        }
        pthread_mutex_unlock(&t->mu);
        return st;
    }
}

static int th_acquire(acx_throttle *t, double n, int64_t deadline_ns)
{
    if (t == NULL || !th_valid_n(n))
        return -EINVAL;
    int rc = th_take(t, n);
    if (rc != -EAGAIN)
        return rc;
    th_waiter w = {.wake = th_wake_thread};
    rc = th_reserve(t, &w, n, deadline_ns);
    return rc == 1 ? th_wait(t, &w) : rc;
}

/* ---- public calls ----------------------------------------------------- */

acx_throttle *acx_throttle_new(double rate, double burst)
{
    double iv;
    uint64_t tau;
    if (th_params(rate, burst, &iv, &tau) != 0) {
        errno = EINVAL;
        return NULL;
    }
    acx_throttle *t = calloc(1, sizeof *t);
    if (t == NULL) {
        errno = ENOMEM;
        return NULL;
    }
    if (pthread_mutex_init(&t->mu, NULL) != 0) {
        free(t);
        errno = ENOMEM;
        return NULL;
    }
    atomic_init(&t->interval, iv);
    atomic_init(&t->one, th_ceil_even(iv));
    atomic_init(&t->tau, tau);
    atomic_init(&t->rate, rate);
    atomic_init(&t->burst, burst);
    atomic_init(&t->bias, 0);
    atomic_init(&t->word, th_ticks_of_ns(th_now_ns(t))); /* full */
    return t;
}

void acx_throttle_free(acx_throttle *t)
{
    if (t == NULL)
        return;
    pthread_mutex_destroy(&t->mu);
    free(t);
}

int acx_throttle_try_acquire(acx_throttle *t, double n)
{
    if (t == NULL || !th_valid_n(n))
        return -EINVAL;
    return th_take(t, n);
}

int acx_throttle_acquire(acx_throttle *t, double n)
{
    return th_acquire(t, n, INT64_MAX);
}

int acx_throttle_acquire_until(acx_throttle *t, double n, int64_t deadline_ns)
{
    return th_acquire(t, n, deadline_ns);
}

/* Change the parameters, keeping the tokens held (capped at the new burst)
 * and every waiter's debt: a waiter owed D tokens gets its slot D / rate
 * from now. */
static int th_change(acx_throttle *t, double rate, double burst)
{
    double iv2;
    uint64_t tau2;
    if (th_params(rate, burst, &iv2, &tau2) != 0)
        return -EINVAL;
    pthread_mutex_lock(&t->mu);
    uint64_t w = atomic_fetch_or_explicit(&t->word, 1, memory_order_acq_rel);
    int64_t now_ns = th_now_ns(t);
    uint64_t now = th_ticks_of_ns(now_ns);
    uint64_t bias = atomic_load_explicit(&t->bias, memory_order_relaxed);
    double tau = (double)atomic_load_explicit(&t->tau, memory_order_relaxed);
    double iv = atomic_load_explicit(&t->interval, memory_order_relaxed);

    /* tokens held after each reservation, old units -> new units */
    double refund = 0; /* tokens given back by waiters that time out */
    for (th_waiter *x = t->head, *next; x != NULL; x = next) {
        next = x->next;
        uint64_t slot = atomic_load_explicit(&x->slot, memory_order_relaxed);
        int64_t d = (int64_t)(slot - now);
        if (d <= 0)
            continue; /* due: admitted, only its wake-up is pending */
        double level = -(double)d / iv + refund; /* negative: owed */
        uint64_t slot2 = now;
        if (level < 0)
            slot2 += th_ceil_even(-level * iv2);
        if (th_slot_ns(slot2, now, now_ns) > x->deadline_ns) {
            refund += x->n;
            atomic_store_explicit(&x->status, -ETIMEDOUT, memory_order_release);
            th_unlink(t, x);
            x->wake(x);
        } else if (slot2 != slot) {
            atomic_store_explicit(&x->slot, slot2, memory_order_release);
            x->wake(x);
        }
    }
    int64_t owed = (int64_t)(w - bias - now);
    double level = tau / iv - (owed > 0 ? (double)owed / iv : 0) + refund;
    if (level > burst)
        level = burst;
    double ahead = (double)tau2 - level * iv2;
    uint64_t tat2 = now + (ahead > 0 ? th_ceil_even(ahead) : 0);
    uint64_t w2 = tat2 + bias;
    if ((int64_t)(w2 - w) <= 0)
        w2 = w + 2; /* the word only grows: no ABA for fast paths */
    atomic_store_explicit(&t->bias, w2 - tat2, memory_order_relaxed);
    atomic_store_explicit(&t->interval, iv2, memory_order_relaxed);
    atomic_store_explicit(&t->one, th_ceil_even(iv2), memory_order_relaxed);
    atomic_store_explicit(&t->tau, tau2, memory_order_relaxed);
    atomic_store_explicit(&t->rate, rate, memory_order_relaxed);
    atomic_store_explicit(&t->burst, burst, memory_order_relaxed);
    atomic_store_explicit(&t->word, w2, memory_order_release);
    pthread_mutex_unlock(&t->mu);
    return 0;
}

int acx_throttle_set_rate(acx_throttle *t, double rate)
{
    if (t == NULL)
        return -EINVAL;
    return th_change(t, rate, atomic_load(&t->burst));
}

int acx_throttle_set_burst(acx_throttle *t, double burst)
{
    if (t == NULL)
        return -EINVAL;
    return th_change(t, atomic_load(&t->rate), burst);
}

double acx_throttle_tokens(acx_throttle *t)
{
    if (t == NULL)
        return 0;
    for (;;) {
        uint64_t now = th_ticks_of_ns(th_now_ns(t));
        uint64_t w = atomic_load_explicit(&t->word, memory_order_acquire);
        if (w & 1) {
            th_wait_change(t);
            continue;
        }
        uint64_t tat = w - atomic_load_explicit(&t->bias, memory_order_relaxed);
        double iv = atomic_load_explicit(&t->interval, memory_order_relaxed);
        double tau = (double)atomic_load_explicit(&t->tau, memory_order_relaxed);
        int64_t owed = (int64_t)(tat - now);
        double level = (tau - (owed > 0 ? (double)owed : 0)) / iv;
        double burst = atomic_load_explicit(&t->burst, memory_order_relaxed);
        if (atomic_load_explicit(&t->word, memory_order_acquire) != w)
            continue; /* changed under us: read again */
        return level > burst ? burst : level;
    }
}

double acx_throttle_rate(const acx_throttle *t)
{
    return t ? atomic_load_explicit(&((acx_throttle *)t)->rate,
                                    memory_order_relaxed)
             : 0;
}

double acx_throttle_burst(const acx_throttle *t)
{
    return t ? atomic_load_explicit(&((acx_throttle *)t)->burst,
                                    memory_order_relaxed)
             : 0;
}

void acx_throttle_set_clock(acx_throttle *t, int64_t (*now_ns)(void *),
                            void *arg)
{
    if (t == NULL)
        return;
    t->now_fn = now_ns;
    t->now_arg = arg;
    /* full again, on the new clock; the bias keeps the word growing */
    uint64_t w = atomic_load_explicit(&t->word, memory_order_relaxed);
    uint64_t tat = th_ticks_of_ns(th_now_ns(t));
    uint64_t w2 = tat + atomic_load_explicit(&t->bias, memory_order_relaxed);
    if ((int64_t)(w2 - w) <= 0)
        w2 = w + 2;
    atomic_store_explicit(&t->bias, w2 - tat, memory_order_relaxed);
    atomic_store_explicit(&t->word, w2, memory_order_release);
}

void acx_throttle_set_sleep(acx_throttle *t,
                            void (*sleep_until)(void *, int64_t), void *arg)
{
    if (t == NULL)
        return;
    t->sleep_fn = sleep_until;
    t->sleep_arg = arg;
}

/* ---- the awaitable acquire ----------------------------------------------
 *
 * The same reservation as a thread's, but the wait is a loop timer at the
 * slot.  A rate change may move the slot from any thread: the wake method
 * (under t->mu) posts the frame to its loop, whose thread re-reads the
 * slot and re-arms the timer.  A cancelled waiter gives its tokens back:
 * later waiters' slots move earlier by its cost, as a timed-out thread
 * waiter's do in a rate change.
 */

struct th_frame {
    ACX__FRAME_PREFIX;
    int acx__ret;
    acx_throttle *t;
    double n;
    acx_task *self;
    acx_loop *loop;
    acx__cbtimer timer; /* at the slot */
    acx__post post;     /* a rate change moved the slot */
    _Atomic int posted; /* POST is in the loop's inbox */
    th_waiter w;
};

#define TH_FRAME_OF(p, field)                                              \
    ((struct th_frame *)(void *)((char *)(p) -                             \
                                 offsetof(struct th_frame, field)))

static void th_frame_post_late(acx__post *p, int discard);

/* On the loop thread: admitted if the slot has come, else (re)arm the
 * timer at it.  Returns 1 when admitted (the task was readied, or will be
 * when a post in flight arrives). */
static int th_frame_check(struct th_frame *f)
{
    acx_throttle *t = f->t;
    pthread_mutex_lock(&t->mu);
    int st = atomic_load_explicit(&f->w.status, memory_order_relaxed);
    int64_t now_ns = th_now_ns(t);
    uint64_t slot = atomic_load_explicit(&f->w.slot, memory_order_relaxed);
    int64_t d = (int64_t)(slot - th_ticks_of_ns(now_ns));
    int done = st != 0 || d <= 0;
    if (done && st == 0)
        th_unlink(t, &f->w);
    pthread_mutex_unlock(&t->mu);
    if (done) {
        acx__cbtimer_disarm(&f->timer);
        f->acx__ret = st;
        f->loop->external--;
        /* A rate change may have posted this frame before we unlinked it:
         * the frame must outlive that post, so the task resumes when the
         * post arrives.  (Wakes come only to linked waiters, under t->mu,
         * so no post can follow the unlink.) */
        if (atomic_load(&f->posted))
            f->post.run = th_frame_post_late;
        else
            acx__ready(f->self);
        return 1;
    }
    int64_t delay = th_slot_ns(slot, th_ticks_of_ns(now_ns), now_ns) - now_ns;
    if (acx__cbtimer_arm(&f->timer, acx__now_ns() + delay) < 0) {
        /* no memory for the heap to grow: poll again on the next pass */
        acx__cbtimer_disarm(&f->timer);
        if (!atomic_exchange(&f->posted, 1))
            acx__loop_post(f->loop, &f->post);
    }
    return 0;
}

static void th_frame_fire(acx__cbtimer *c)
{
    th_frame_check(TH_FRAME_OF(c, timer));
}

static void th_frame_post_run(acx__post *p, int discard)
{
    struct th_frame *f = TH_FRAME_OF(p, post);
    atomic_store(&f->posted, 0);
    if (!discard)
        th_frame_check(f);
}

/* The waiter was cancelled while a post was in flight: now the frame may
 * go. */
static void th_frame_post_late(acx__post *p, int discard)
{
    struct th_frame *f = TH_FRAME_OF(p, post);
    (void)discard;
    atomic_store(&f->posted, 0);
    acx__ready(f->self);
}

/* Under t->mu, any thread: the slot moved. */
static void th_wake_coro(th_waiter *w)
{
    struct th_frame *f = TH_FRAME_OF(w, w);
    if (!atomic_exchange(&f->posted, 1))
        acx__loop_post(f->loop, &f->post);
}

/* Give W's tokens back: the arrival time and every later waiter's slot
 * move earlier by its cost.  Under t->mu. */
static void th_refund(acx_throttle *t, th_waiter *w)
{
    uint64_t word = atomic_fetch_or_explicit(&t->word, 1, memory_order_acq_rel);
    uint64_t bias = atomic_load_explicit(&t->bias, memory_order_relaxed);
    double iv = atomic_load_explicit(&t->interval, memory_order_relaxed);
    uint64_t cost = th_ceil_even(w->n * iv);
    for (th_waiter *x = w->next; x != NULL; x = x->next) {
        uint64_t slot = atomic_load_explicit(&x->slot, memory_order_relaxed);
        atomic_store_explicit(&x->slot, slot - cost, memory_order_release);
        x->wake(x);
    }
    th_unlink(t, w);
    uint64_t tat2 = word - bias - cost;
    uint64_t w2 = word + 2; /* the word only grows: no ABA for fast paths */
    atomic_store_explicit(&t->bias, w2 - tat2, memory_order_relaxed);
    atomic_store_explicit(&t->word, w2, memory_order_release);
}

static int th_frame_cancel(acx_coro *c, int err)
{
    struct th_frame *f = (struct th_frame *)c;
    acx_throttle *t = f->t;
    pthread_mutex_lock(&t->mu);
    uint64_t slot = atomic_load_explicit(&f->w.slot, memory_order_relaxed);
    int due = (int64_t)(slot - th_ticks_of_ns(th_now_ns(t))) <= 0;
    if (due)
        th_unlink(t, &f->w); /* admitted already: the tokens are its own */
    else
        th_refund(t, &f->w);
    pthread_mutex_unlock(&t->mu);
    acx__cbtimer_disarm(&f->timer);
    f->loop->external--;
    f->acx__ret = due ? 0 : err;
    /* A post may be in flight from a rate change: the frame must outlive
     * it, so the task resumes only once it has run (it readies then). */
    if (atomic_load(&f->posted)) {
        f->post.run = th_frame_post_late;
        return 0;
    }
    return 1;
}

static int th_frame_describe(const acx_coro *c, char *buf, size_t size)
{
    const struct th_frame *f = (const struct th_frame *)c;
    return snprintf(buf, size, "throttle %p: %g token(s) at %g/s",
                    (void *)f->t, f->n, acx_throttle_rate(f->t));
}

static int th_frame_body(acx_coro *c)
{
    struct th_frame *f = (struct th_frame *)c;
    if (f->acx__state != 0)
        return ACX__DONE; /* the check or the cancel set the result */
    acx_throttle *t = f->t;
    if (t == NULL || !th_valid_n(f->n)) {
        f->acx__ret = -EINVAL;
        return ACX__DONE;
    }
    int rc = th_take(t, f->n);
    if (rc != -EAGAIN) {
        f->acx__ret = rc;
        return ACX__DONE;
    }
    if ((f->acx__ret = acx__intr_check()) != 0)
        return ACX__DONE;
    f->self = acx__cur_task;
    f->loop = acx__loop_cur;
    f->timer.tm.heap_idx = ACX__NO_SLOT;
    f->timer.fire = th_frame_fire;
    f->post.run = th_frame_post_run;
    atomic_init(&f->posted, 0);
    f->w.wake = th_wake_coro;
    atomic_init(&f->w.seq, 0);
    rc = th_reserve(t, &f->w, f->n, INT64_MAX);
    if (rc != 1) {
        f->acx__ret = rc;
        return ACX__DONE;
    }
    f->loop->external++; /* a rate change from another thread may wake it */
    f->acx__state = 1;
    acx__cur_task->top = c;
    th_frame_check(f); /* arms the timer (or admits at once) */
    return ACX__SUSPEND;
}

ACX__LEAF_INFO_AS(static, th_frame_info, struct th_frame,
                  "acx_throttle_wait", th_frame_body, th_frame_cancel,
                  th_frame_describe);

acx_coro *acx_throttle_wait(acx_throttle *t, double n)
{
    struct th_frame *f = (struct th_frame *)(void *)acx__coro_alloc(
        sizeof(struct th_frame), &th_frame_info);
    if (f == NULL)
        return NULL;
    f->acx__ret = 0;
    f->t = t;
    f->n = n;
    return &f->acx__hdr;
}
