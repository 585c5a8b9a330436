/* bqueue.c - benchmark 12: the blocking queue between two threads.
 *
 *   hand-off latency  ping-pong over two queues (A puts on one, B gets it
 *                     and puts it on the other, A gets it back): p50 and
 *                     p99 of the round trip, whose half is one hand-off
 *                     from a put to the woken getter's return;
 *   throughput        a producer streams items through a queue of 1,024
 *                     slots to a consumer: ns per item (items/s printed).
 *
 * Baseline, same run: the textbook queue most C code writes, a ring under
 * one mutex with two condition variables (not empty, not full) signalled
 * on every put and get, as Python's queue.Queue is built.  Not pinned:
 * the two threads need a CPU each.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "acx.h"
#include "bench.h"

/* ---- the baseline: mutex + condvar ring --------------------------------- */

typedef struct cvq {
    pthread_mutex_t mu;
    pthread_cond_t not_empty, not_full;
    void **ring;
    size_t cap, head, n; /* cap 0: unbounded is not needed here */
} cvq;

static cvq *cvq_new(size_t cap)
{
    cvq *q = calloc(1, sizeof *q);
    q->ring = calloc(cap, sizeof *q->ring);
    q->cap = cap;
    pthread_mutex_init(&q->mu, NULL);
    pthread_cond_init(&q->not_empty, NULL);
    pthread_cond_init(&q->not_full, NULL);
    return q;
}

static void cvq_free(cvq *q)
{
    pthread_mutex_destroy(&q->mu);
    pthread_cond_destroy(&q->not_empty);
    pthread_cond_destroy(&q->not_full);
    free(q->ring);
    free(q);
}

static void cvq_put(cvq *q, void *item)
{
    pthread_mutex_lock(&q->mu);
    while (q->n == q->cap)
        pthread_cond_wait(&q->not_full, &q->mu);
    q->ring[(q->head + q->n) % q->cap] = item;
    q->n++;
    pthread_cond_signal(&q->not_empty);
    pthread_mutex_unlock(&q->mu);
}

static void *cvq_get(cvq *q)
{
    pthread_mutex_lock(&q->mu);
    while (q->n == 0)
        pthread_cond_wait(&q->not_empty, &q->mu);
    void *item = q->ring[q->head];
    q->head = (q->head + 1) % q->cap;
    q->n--;
    pthread_cond_signal(&q->not_full);
    pthread_mutex_unlock(&q->mu);
    return item;
}

/* ---- one interface over both, so both run the same loops ---------------- */

typedef struct impl {
    const char *name;
    void *(*make)(size_t cap);
    void (*destroy)(void *q);
    void (*put)(void *q, void *item);
    void *(*get)(void *q);
} impl;

static void *acx_make(size_t cap)
{
    return acx_bqueue_new(ACX_BQUEUE_FIFO, cap);
}
static void acx_destroy(void *q)
{
    acx_bqueue_free(q);
}
static void acx_put(void *q, void *item)
{
    if (acx_bqueue_put(q, item, -1) != 0)
        abort();
}
static void *acx_get(void *q)
{
    void *item;
    if (acx_bqueue_get(q, &item, -1) != 0)
        abort();
    return item;
}
static void *cv_make(size_t cap)
{
    return cvq_new(cap);
}
static void cv_destroy(void *q)
{
    cvq_free(q);
}
static void cv_put(void *q, void *item)
{
    cvq_put(q, item);
}
static void *cv_get(void *q)
{
    return cvq_get(q);
}

static const impl ACX = {"acx_bqueue", acx_make, acx_destroy, acx_put,
                         acx_get};
static const impl CV = {"mutex+condvar", cv_make, cv_destroy, cv_put, cv_get};

/* ---- ping-pong ------------------------------------------------------------ */

struct pong {
    const impl *im;
    void *ping, *pong;
    long n;
};

static void *ponger(void *arg)
{
    struct pong *p = arg;
    for (long i = 0; i < p->n; i++)
        p->im->put(p->pong, p->im->get(p->ping));
    return NULL;
}

/* Round trips: fill RTT[0..N) in ns. */
static void ping_pong(const impl *im, double *rtt, long n)
{
    struct pong p = {im, im->make(1), im->make(1), n};
    pthread_t th;
    pthread_create(&th, NULL, ponger, &p);
    for (long i = 0; i < n; i++) {
        double t0 = bench_now_ns();
        im->put(p.ping, (void *)(intptr_t)(i + 1));
        if (im->get(p.pong) != (void *)(intptr_t)(i + 1))
            abort();
        rtt[i] = bench_now_ns() - t0;
    }
    pthread_join(th, NULL);
    im->destroy(p.ping);
    im->destroy(p.pong);
}

/* ---- streaming ------------------------------------------------------------- */

struct stream {
    const impl *im;
    void *q;
    long n;
};

static void *streamer(void *arg)
{
    struct stream *s = arg;
    for (long i = 0; i < s->n; i++)
        s->im->put(s->q, (void *)(intptr_t)(i + 1));
    return NULL;
}

/* ns per item through a 1,024-slot queue. */
static double stream(const impl *im, long n)
{
    struct stream s = {im, im->make(1024), n};
    pthread_t th;
    double t0 = bench_now_ns();
    pthread_create(&th, NULL, streamer, &s);
    for (long i = 0; i < n; i++)
        if (im->get(s.q) != (void *)(intptr_t)(i + 1))
            abort();
    pthread_join(th, NULL);
    double ns = (bench_now_ns() - t0) / (double)n;
    im->destroy(s.q);
    return ns;
}

static double median_stream(const impl *im, long n)
{
    double v[101];
    int reps = bench_reps();
    for (int r = 0; r < reps; r++)
        v[r] = stream(im, n);
    return bench_median(v, reps);
}

int main(void)
{
    double scale = bench_scale();
    long n_rt = (long)(50000 * scale), n_st = (long)(2000000 * scale);
    if (n_rt < 100)
        n_rt = 100;
    if (n_st < 1000)
        n_st = 1000;
    double *rtt = malloc((size_t)n_rt * sizeof *rtt);
    double p50[2], p99[2];
    const impl *ims[2] = {&ACX, &CV};
    for (int k = 0; k < 2; k++) {
        ping_pong(ims[k], rtt, n_rt / 10); /* warm up */
        ping_pong(ims[k], rtt, n_rt);
        p50[k] = bench_median(rtt, (int)n_rt); /* sorts RTT */
        p99[k] = rtt[n_rt * 99 / 100];
    }
    free(rtt);
    printf("round trips: %ld; acx_bqueue p50 %.0f ns p99 %.0f ns; "
           "mutex+condvar p50 %.0f ns p99 %.0f ns\n",
           n_rt, p50[0], p99[0], p50[1], p99[1]);
    bench_report("bqueue hand-off p50 (half a round trip)", p50[0] / 2, "ns",
                 "mutex+condvar", p50[1] / 2, "ns", "");
    bench_report("bqueue hand-off p99 (half a round trip)", p99[0] / 2, "ns",
                 "mutex+condvar", p99[1] / 2, "ns", "");

    double st[2];
    for (int k = 0; k < 2; k++)
        st[k] = median_stream(ims[k], n_st);
    printf("streaming %ld items through 1,024 slots: acx_bqueue %.2f M "
           "items/s, mutex+condvar %.2f M items/s\n",
           n_st, 1e3 / st[0], 1e3 / st[1]);
    bench_report("bqueue streaming, 1,024 slots", st[0], "ns/item",
                 "mutex+condvar", st[1], "ns/item", "");
    return 0;
}
