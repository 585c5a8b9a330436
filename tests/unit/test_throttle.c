/* test_throttle.c - the token bucket: precision on a simulated clock,
 * boundaries, deadlines, rate and burst changes, FIFO and stress on threads.
 */
#include <CUnit/CUnit.h>
#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <time.h>

#include "acx.h"
#include "suites.h"

#define NS 1000000000LL

/* ---- a simulated clock: sleeping jumps to the deadline ---------------- */

struct sim {
    int64_t now;
    long sleeps;
};

static int64_t sim_now(void *arg)
{
    return ((struct sim *)arg)->now;
}

static void sim_sleep(void *arg, int64_t until)
{
    struct sim *s = arg;
    s->sleeps++;
    if (until > s->now)
        s->now = until;
}

static acx_throttle *sim_new(struct sim *s, int64_t start, double rate,
                             double burst)
{
    s->now = start;
    s->sleeps = 0;
    acx_throttle *t = acx_throttle_new(rate, burst);
    if (t != NULL) {
        acx_throttle_set_clock(t, sim_now, s);
        acx_throttle_set_sleep(t, sim_sleep, s);
    }
    return t;
}

static int64_t mono_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * NS + ts.tv_nsec;
}

/* Acquire N at a time until DEADLINE; the tokens admitted. */
static double drain_until(acx_throttle *t, double n, int64_t deadline)
{
    double got = 0;
    int rc;
    while ((rc = acx_throttle_acquire_until(t, n, deadline)) == 0)
        got += n;
    CU_ASSERT_EQUAL(rc, -ETIMEDOUT);
    return got;
}

/* ---- precision --------------------------------------------------------- */

static void check_ideal(double got, double ideal)
{
    CU_ASSERT(got <= ideal + 1);
    CU_ASSERT(got >= 0.999 * ideal);
    if (!(got <= ideal + 1 && got >= 0.999 * ideal))
        fprintf(stderr, "\n  admitted %.3f, ideal %.3f\n", got, ideal);
}

static void test_precision_acquire(void)
{
    static const struct {
        double rate, burst, n, secs;
        int64_t start;
    } cases[] = {
        {0.5, 1, 1, 200000, NS},
        {3.3, 1, 1, 30000, NS},
        {3.3, 7.5, 0.5, 30000, NS},
        {2000, 1, 1, 50, NS},
        {2000, 100, 3, 50, (int64_t)1 << 60}, /* the tick counter wraps */
        {1e6, 1, 1, 0.2, NS},
        {1e6, 1000, 1, 0.2, 12345},
        {1e6, 1, 0.3, 0.1, NS},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct sim s;
        acx_throttle *t = sim_new(&s, cases[i].start, cases[i].rate,
                                  cases[i].burst);
        CU_ASSERT_PTR_NOT_NULL_FATAL(t);
        int64_t e = (int64_t)(cases[i].secs * NS);
        double got = drain_until(t, cases[i].n, cases[i].start + e);
        CU_ASSERT(s.now <= cases[i].start + e);
        check_ideal(got, cases[i].burst + cases[i].rate * cases[i].secs);
        acx_throttle_free(t);
    }
}

/* Polling with try_acquire at random steps shorter than a token's
 * interval: with burst 2 no token is ever lost to the cap. */
static void test_precision_try(void)
{
    static const double rates[] = {0.5, 3.3, 2000, 1e6};
    uint64_t rnd = 88172645463325252ULL;
    for (size_t i = 0; i < sizeof rates / sizeof rates[0]; i++) {
        struct sim s;
        acx_throttle *t = sim_new(&s, NS, rates[i], 2);
        CU_ASSERT_PTR_NOT_NULL_FATAL(t);
        int64_t interval = (int64_t)(NS / rates[i]);
        int64_t end = NS + 100000 * interval;
        double got = 0;
        for (;;) {
            while (acx_throttle_try_acquire(t, 1) == 0)
                got++;
            rnd ^= rnd << 13, rnd ^= rnd >> 7, rnd ^= rnd << 17;
            int64_t step = 1 + (int64_t)(rnd % (uint64_t)interval);
            if (s.now + step > end)
                break;
            s.now += step;
        }
        check_ideal(got, 2 + rates[i] * (double)(s.now - NS) / NS);
        CU_ASSERT_EQUAL(s.sleeps, 0);
        acx_throttle_free(t);
    }
}

/* ---- boundaries ---------------------------------------------------------- */

static void test_try_boundaries(void)
{
    struct sim s;
    acx_throttle *t = sim_new(&s, NS, 10, 5);
    CU_ASSERT_PTR_NOT_NULL_FATAL(t);
    CU_ASSERT_DOUBLE_EQUAL(acx_throttle_tokens(t), 5, 1e-9);
    for (int i = 0; i < 5; i++)
        CU_ASSERT_EQUAL(acx_throttle_try_acquire(t, 1), 0);
    CU_ASSERT_EQUAL(acx_throttle_try_acquire(t, 1), -EAGAIN);
    CU_ASSERT_DOUBLE_EQUAL(acx_throttle_tokens(t), 0, 1e-9);
    s.now += NS / 10 - 1; /* one token is 100 ms: 1 ns short */
    CU_ASSERT_EQUAL(acx_throttle_try_acquire(t, 1), -EAGAIN);
    s.now += 1;
    CU_ASSERT_EQUAL(acx_throttle_try_acquire(t, 1), 0);
    CU_ASSERT_EQUAL(acx_throttle_try_acquire(t, 1), -EAGAIN);

    /* long idle: full, never more than the burst */
    s.now += 3600 * NS;
    CU_ASSERT_DOUBLE_EQUAL(acx_throttle_tokens(t), 5, 1e-9);
    CU_ASSERT_EQUAL(acx_throttle_try_acquire(t, 5.0000001), -EINVAL);
    CU_ASSERT_EQUAL(acx_throttle_acquire(t, 6), -EINVAL);
    CU_ASSERT_EQUAL(acx_throttle_acquire_until(t, 6, s.now + NS), -EINVAL);
    CU_ASSERT_EQUAL(acx_throttle_try_acquire(t, 5), 0);
    CU_ASSERT_EQUAL(acx_throttle_try_acquire(t, 0.01), -EAGAIN);

    /* fractional requests */
    s.now += 3600 * NS;
    CU_ASSERT_EQUAL(acx_throttle_try_acquire(t, 4.5), 0);
    CU_ASSERT_EQUAL(acx_throttle_try_acquire(t, 0.25), 0);
    CU_ASSERT_EQUAL(acx_throttle_try_acquire(t, 0.25), 0);
    CU_ASSERT_EQUAL(acx_throttle_try_acquire(t, 0.25), -EAGAIN);
    CU_ASSERT_DOUBLE_EQUAL(acx_throttle_tokens(t), 0, 1e-9);
    s.now += NS / 40; /* a quarter token */
    CU_ASSERT_DOUBLE_EQUAL(acx_throttle_tokens(t), 0.25, 1e-9);
    CU_ASSERT_EQUAL(acx_throttle_try_acquire(t, 0.25), 0);
    CU_ASSERT_EQUAL(s.sleeps, 0);
    acx_throttle_free(t);
}

static void test_invalid(void)
{
    static const double bad[][2] = {
        {0, 1}, {-1, 1}, {NAN, 1}, {INFINITY, 1}, {2e9, 1},
        {1, 0.5}, {1, 0}, {1, NAN}, {1, INFINITY}, {1e-9, 1e9},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        errno = 0;
        CU_ASSERT_PTR_NULL(acx_throttle_new(bad[i][0], bad[i][1]));
        CU_ASSERT_EQUAL(errno, EINVAL);
    }
    CU_ASSERT_EQUAL(acx_throttle_try_acquire(NULL, 1), -EINVAL);
    CU_ASSERT_EQUAL(acx_throttle_acquire(NULL, 1), -EINVAL);
    CU_ASSERT_EQUAL(acx_throttle_acquire_until(NULL, 1, 0), -EINVAL);
    CU_ASSERT_EQUAL(acx_throttle_set_rate(NULL, 1), -EINVAL);
    CU_ASSERT_EQUAL(acx_throttle_set_burst(NULL, 1), -EINVAL);
    CU_ASSERT_EQUAL(acx_throttle_tokens(NULL), 0);
    acx_throttle_free(NULL);

    acx_throttle *t = acx_throttle_new(1e9, 1); /* the limits themselves */
    CU_ASSERT_PTR_NOT_NULL_FATAL(t);
    static const double badn[] = {0, -1, NAN, INFINITY, -INFINITY};
    for (size_t i = 0; i < sizeof badn / sizeof badn[0]; i++) {
        CU_ASSERT_EQUAL(acx_throttle_try_acquire(t, badn[i]), -EINVAL);
        CU_ASSERT_EQUAL(acx_throttle_acquire(t, badn[i]), -EINVAL);
        CU_ASSERT_EQUAL(acx_throttle_acquire_until(t, badn[i], 0), -EINVAL);
    }
    CU_ASSERT_EQUAL(acx_throttle_set_rate(t, 0), -EINVAL);
    CU_ASSERT_EQUAL(acx_throttle_set_rate(t, NAN), -EINVAL);
    CU_ASSERT_EQUAL(acx_throttle_set_burst(t, 0.9), -EINVAL);
    CU_ASSERT_EQUAL(acx_throttle_set_burst(t, INFINITY), -EINVAL);
    CU_ASSERT_EQUAL(acx_throttle_rate(t), 1e9);
    CU_ASSERT_EQUAL(acx_throttle_burst(t), 1);
    acx_throttle_free(t);
}

/* ---- deadlines ------------------------------------------------------------- */

static void test_until(void)
{
    struct sim s;
    acx_throttle *t = sim_new(&s, NS, 1, 2);
    CU_ASSERT_PTR_NOT_NULL_FATAL(t);
    CU_ASSERT_EQUAL(acx_throttle_acquire_until(t, 2, 0), 0); /* past, full */
    int64_t t0 = s.now;
    /* the slot is t0 + 1 s: refused at once, nothing taken, no sleep */
    CU_ASSERT_EQUAL(acx_throttle_acquire_until(t, 1, t0 + NS / 2), -ETIMEDOUT);
    CU_ASSERT_EQUAL(acx_throttle_acquire_until(t, 1, t0 + NS - 1), -ETIMEDOUT);
    CU_ASSERT_EQUAL(acx_throttle_acquire_until(t, 2, t0 + NS), -ETIMEDOUT);
    CU_ASSERT_EQUAL(s.sleeps, 0);
    CU_ASSERT_EQUAL(s.now, t0);
    CU_ASSERT_DOUBLE_EQUAL(acx_throttle_tokens(t), 0, 1e-9);
    CU_ASSERT_EQUAL(acx_throttle_acquire_until(t, 1, t0 + NS), 0);
    CU_ASSERT_EQUAL(s.now, t0 + NS); /* admitted exactly at its slot */
    CU_ASSERT_EQUAL(acx_throttle_acquire_until(t, 0.5, t0), -ETIMEDOUT);
    CU_ASSERT_EQUAL(acx_throttle_acquire(t, 2), 0);
    CU_ASSERT_EQUAL(s.now, t0 + 3 * NS);
    acx_throttle_free(t);
}

/* ---- rate and burst changed mid-run ------------------------------------ */

static void test_change(void)
{
    struct sim s;
    acx_throttle *t = sim_new(&s, NS, 100, 1);
    CU_ASSERT_PTR_NOT_NULL_FATAL(t);
    double got = drain_until(t, 1, NS + 10 * NS);
    CU_ASSERT_EQUAL(acx_throttle_set_rate(t, 1000), 0);
    CU_ASSERT_EQUAL(acx_throttle_rate(t), 1000);
    got += drain_until(t, 1, NS + 20 * NS);
    CU_ASSERT_EQUAL(acx_throttle_set_rate(t, 0.5), 0);
    got += drain_until(t, 1, NS + 2020 * NS);
    check_ideal(got, 1 + 100 * 10 + 1000 * 10 + 0.5 * 2000);

    /* a larger burst is not a gift: it fills as tokens come in */
    double before = acx_throttle_tokens(t);
    CU_ASSERT(before < 1);
    CU_ASSERT_EQUAL(acx_throttle_set_rate(t, 10), 0);
    CU_ASSERT_EQUAL(acx_throttle_set_burst(t, 50), 0);
    CU_ASSERT_DOUBLE_EQUAL(acx_throttle_tokens(t), before, 1e-6);
    s.now += 2 * NS;
    CU_ASSERT_DOUBLE_EQUAL(acx_throttle_tokens(t), before + 20, 1e-6);
    s.now += 10 * NS;
    CU_ASSERT_DOUBLE_EQUAL(acx_throttle_tokens(t), 50, 1e-9);
    /* a smaller one caps what is held */
    CU_ASSERT_EQUAL(acx_throttle_set_burst(t, 10), 0);
    CU_ASSERT_DOUBLE_EQUAL(acx_throttle_tokens(t), 10, 1e-9);
    CU_ASSERT_EQUAL(acx_throttle_try_acquire(t, 10.5), -EINVAL);
    for (int i = 0; i < 10; i++)
        CU_ASSERT_EQUAL(acx_throttle_try_acquire(t, 1), 0);
    CU_ASSERT_EQUAL(acx_throttle_try_acquire(t, 1), -EAGAIN);
    /* a debt carries over to the new rate: 1 token at 1000/s is 1 ms */
    CU_ASSERT_EQUAL(acx_throttle_set_rate(t, 1000), 0);
    CU_ASSERT_DOUBLE_EQUAL(acx_throttle_tokens(t), 0, 1e-6);
    int64_t t0 = s.now;
    CU_ASSERT_EQUAL(acx_throttle_acquire(t, 1), 0);
    CU_ASSERT(llabs(s.now - (t0 + NS / 1000)) <= 1);
    acx_throttle_free(t);
}

/* ---- waiters re-evaluated by a change (real threads, real clock) ---- */

struct one_waiter {
    acx_throttle *t;
    int64_t deadline;
    int rc;
};

static void *waiter_main(void *arg)
{
    struct one_waiter *w = arg;
    w->rc = w->deadline ? acx_throttle_acquire_until(w->t, 1, w->deadline)
                        : acx_throttle_acquire(w->t, 1);
    return NULL;
}

static void wait_queued(acx_throttle *t)
{
    for (int i = 0; i < 20000 && acx_throttle_tokens(t) > -0.5; i++) {
        struct timespec d = {0, 50000};
        nanosleep(&d, NULL);
    }
}

static void test_change_wakes_waiters(void)
{
    /* a faster rate wakes a waiter whose slot was 2 s away */
    acx_throttle *t = acx_throttle_new(0.5, 1);
    CU_ASSERT_PTR_NOT_NULL_FATAL(t);
    CU_ASSERT_EQUAL(acx_throttle_try_acquire(t, 1), 0);
    struct one_waiter w = {.t = t};
    int64_t t0 = mono_ns();
    pthread_t th;
    CU_ASSERT_EQUAL_FATAL(pthread_create(&th, NULL, waiter_main, &w), 0);
    wait_queued(t);
    CU_ASSERT_EQUAL(acx_throttle_try_acquire(t, 0.01), -EAGAIN); /* queued */
    CU_ASSERT_EQUAL(acx_throttle_set_rate(t, 1000), 0);
    pthread_join(th, NULL);
    CU_ASSERT_EQUAL(w.rc, 0);
    CU_ASSERT(mono_ns() - t0 < NS);
    acx_throttle_free(t);

    /* a slower rate pushes a deadline waiter past its deadline: it fails
     * at once and gives its reservation back */
    /* (its slot is 2 s away, so a loaded machine cannot reach it before
     * the change; the deadline is 10 s away, the slot after it 100 s) */
    t = acx_throttle_new(0.5, 1);
    CU_ASSERT_PTR_NOT_NULL_FATAL(t);
    CU_ASSERT_EQUAL(acx_throttle_try_acquire(t, 1), 0);
    t0 = mono_ns();
    w = (struct one_waiter){.t = t, .deadline = t0 + 10 * NS};
    CU_ASSERT_EQUAL_FATAL(pthread_create(&th, NULL, waiter_main, &w), 0);
    wait_queued(t);
    CU_ASSERT_EQUAL(acx_throttle_set_rate(t, 0.01), 0);
    pthread_join(th, NULL);
    CU_ASSERT_EQUAL(w.rc, -ETIMEDOUT);
    CU_ASSERT(mono_ns() - t0 < 3 * NS / 2); /* at once, not at its slot */
    double left = acx_throttle_tokens(t);
    CU_ASSERT(left > -0.01 && left < 0.1); /* its token is not owed */
    acx_throttle_free(t);
}

/* ---- FIFO across threads ---------------------------------------------- */

enum { FIFO_THREADS = 4, FIFO_ROUNDS = 3, FIFO_RATE = 20 };

struct fifo {
    acx_throttle *t;
    atomic_int admitted;
    int order[FIFO_THREADS];
};

struct fifo_arg {
    struct fifo *f;
    int me;
};

static void *fifo_main(void *arg)
{
    struct fifo_arg *a = arg;
    int rc = acx_throttle_acquire(a->f->t, 1);
    a->f->order[atomic_fetch_add(&a->f->admitted, 1)] = rc == 0 ? a->me : -1;
    return NULL;
}

/* Threads arrive one after another while the bucket runs at 1/s (so each
 * is surely queued before the next comes), then the rate goes to 20/s:
 * they must be admitted in arrival order, 50 ms apart (wide enough that a
 * late wake-up on a loaded machine cannot swap two of them). */
static void test_fifo_threads(void)
{
    acx_throttle *t = acx_throttle_new(1000, 1);
    CU_ASSERT_PTR_NOT_NULL_FATAL(t);
    int in_order = 0;
    for (int round = 0; round < FIFO_ROUNDS; round++) {
        struct fifo f = {.t = t};
        struct fifo_arg args[FIFO_THREADS];
        pthread_t th[FIFO_THREADS];
        CU_ASSERT_EQUAL(acx_throttle_set_rate(t, 1), 0);
        while (acx_throttle_try_acquire(t, 1) == 0)
            ; /* empty, to the last fraction: everyone below waits */
        double rest = acx_throttle_tokens(t);
        CU_ASSERT(rest < 0.01 || acx_throttle_try_acquire(t, rest) == 0);
        for (int i = 0; i < FIFO_THREADS; i++) {
            args[i] = (struct fifo_arg){&f, i};
            CU_ASSERT_EQUAL_FATAL(pthread_create(&th[i], NULL, fifo_main, &args[i]), 0);
            /* thread i holds its reservation: i + 1 tokens owed (bounded
             * by time, not by tries: a loaded machine may take a while) */
            int64_t give_up = mono_ns() + 10 * NS;
            while (acx_throttle_tokens(t) > -i - 0.5 && mono_ns() < give_up)
                sched_yield();
        }
        CU_ASSERT(acx_throttle_tokens(t) < -FIFO_THREADS + 0.5);
        int64_t t0 = mono_ns();
        CU_ASSERT_EQUAL(acx_throttle_set_rate(t, FIFO_RATE), 0);
        for (int i = 0; i < FIFO_THREADS; i++)
            pthread_join(th[i], NULL);
        int64_t took = mono_ns() - t0;
        /* the rate held; slots 50 ms apart leave room for wake-up jitter */
        CU_ASSERT(took >= (FIFO_THREADS - 0.1) * NS / FIFO_RATE);
        CU_ASSERT(took < 5 * NS);
        int ok = 1;
        for (int i = 0; i < FIFO_THREADS; i++)
            ok &= f.order[i] == i;
        in_order += ok;
    }
    CU_ASSERT_EQUAL(in_order, FIFO_ROUNDS);
    acx_throttle_free(t);
}

/* ---- stress: 8 threads, mixed calls, concurrent changes ---------------- */

enum { STRESS_THREADS = 8 };
#define STRESS_RATE 20000.0
#define STRESS_BURST 20.0

struct stress {
    acx_throttle *t;
    int64_t end;
    int id;
    double got;
    int errors;
};

static void *stress_main(void *arg)
{
    struct stress *s = arg;
    for (unsigned i = (unsigned)s->id; mono_ns() < s->end; i++) {
        double n = (i % 4 == 3) ? 0.5 : 1;
        int rc;
        switch (i % 3) {
        case 0: rc = acx_throttle_try_acquire(s->t, n); break;
        case 1: rc = acx_throttle_acquire_until(s->t, n, s->end); break;
        default: rc = acx_throttle_acquire(s->t, n); break;
        }
        if (rc == 0)
            s->got += n;
        else if (rc != -EAGAIN && rc != -ETIMEDOUT)
            s->errors++;
    }
    return NULL;
}

static void test_stress(void)
{
    int64_t t0 = mono_ns();
    acx_throttle *t = acx_throttle_new(STRESS_RATE, STRESS_BURST);
    CU_ASSERT_PTR_NOT_NULL_FATAL(t);
    struct stress s[STRESS_THREADS];
    pthread_t th[STRESS_THREADS];
    for (int i = 0; i < STRESS_THREADS; i++) {
        s[i] = (struct stress){.t = t, .end = t0 + NS / 4, .id = i};
        CU_ASSERT_EQUAL_FATAL(pthread_create(&th[i], NULL, stress_main, &s[i]), 0);
    }
    /* changes that keep the figures: they exercise the locked word */
    while (mono_ns() < t0 + NS / 4) {
        CU_ASSERT_EQUAL(acx_throttle_set_rate(t, STRESS_RATE), 0);
        CU_ASSERT_EQUAL(acx_throttle_set_burst(t, STRESS_BURST), 0);
        struct timespec d = {0, 1000000};
        nanosleep(&d, NULL);
    }
    double got = 0;
    int errors = 0;
    for (int i = 0; i < STRESS_THREADS; i++) {
        pthread_join(th[i], NULL);
        got += s[i].got;
        errors += s[i].errors;
    }
    double elapsed = (double)(mono_ns() - t0) / NS;
    double ideal = STRESS_BURST + STRESS_RATE * elapsed;
    CU_ASSERT_EQUAL(errors, 0);
    CU_ASSERT(got <= ideal + 1);
    CU_ASSERT(got >= 0.5 * STRESS_RATE * 0.25); /* and it does admit */
    acx_throttle_free(t);
}

int acx_test_add_throttle(void)
{
    CU_pSuite s = CU_add_suite("throttle", NULL, NULL);
    if (s == NULL)
        return -1;
    if (!CU_add_test(s, "invalid arguments", test_invalid) ||
        !CU_add_test(s, "try_acquire boundaries", test_try_boundaries) ||
        !CU_add_test(s, "precision: acquire, simulated clock", test_precision_acquire) ||
        !CU_add_test(s, "precision: try_acquire polling", test_precision_try) ||
        !CU_add_test(s, "acquire_until deadlines", test_until) ||
        !CU_add_test(s, "rate and burst changed mid-run", test_change) ||
        !CU_add_test(s, "a change re-evaluates waiters", test_change_wakes_waiters) ||
        !CU_add_test(s, "FIFO across 4 threads", test_fifo_threads) ||
        !CU_add_test(s, "stress: 8 threads, mixed calls", test_stress))
        return -1;
    return 0;
}
