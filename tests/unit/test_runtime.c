/* test_runtime.c - the runtime suite: tasks, the loop, timers, leaves.
 *
 * The coroutines here are written by hand in the shape acxc emits: a frame
 * starting with ACX__FRAME_PREFIX and the result, an info, a body that
 * switches on the resume state, a boxed constructor, and embedded children
 * called inline that record where to resume when they suspend.
 */
#include <CUnit/Basic.h>
#include <errno.h>
#include <pthread.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "acx.h"
#include "acx_internal.h"
#include "suites.h"

/* ---- the event log every test compares ---------------------------------- */

#define LOG_MAX 4096
/* thread-local: the loops-per-thread test runs coroutines in threads */
static __thread int g_log[LOG_MAX];
static __thread int g_nlog;
static __thread int g_await_suspended; /* awaits that did not finish inline */

/* Constructors run in worker threads too, where CUnit must not be called. */
static void *must(void *p)
{
    if (p == NULL) {
        fprintf(stderr, "out of memory in a test constructor\n");
        abort();
    }
    return p;
}

static void log_ev(int v)
{
    if (g_nlog < LOG_MAX)
        g_log[g_nlog++] = v;
}

static void log_reset(void)
{
    g_nlog = 0;
    g_await_suspended = 0;
}

static void log_expect(const int *want, int n)
{
    CU_ASSERT_EQUAL(g_nlog, n);
    for (int i = 0; i < n && i < g_nlog; i++) {
        if (g_log[i] != want[i]) {
            fprintf(stderr, "\n  log[%d] = %d, want %d\n", i, g_log[i],
                    want[i]);
            CU_FAIL("event log differs");
            return;
        }
    }
}

#define LOG_EXPECT(...)                                                    \
    do {                                                                   \
        static const int want_[] = {__VA_ARGS__};                          \
        log_expect(want_, (int)(sizeof want_ / sizeof want_[0]));          \
    } while (0)

static int64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* An info for a frame type whose result is `int ret`. */
#define T_INFO(name, type)                                                 \
    static int name##_body(acx_coro *);                                    \
    static int name##_rint(const acx_coro *c)                              \
    {                                                                      \
        return ((const type *)c)->acx__ret;                                \
    }                                                                      \
    static const acx__info name##_info = {                                 \
        name##_body, #name,        __FILE__,                               \
        __LINE__,    sizeof(type), 0,                                      \
        NULL,        offsetof(type, acx__ret), sizeof(int),                \
        name##_rint, _Alignof(type), NULL, NULL,                           \
    }

/* ---- async int c_ret(int v) { log(v); return v; } ----------------------- */

struct fr_ret {
    ACX__FRAME_PREFIX;
    int acx__ret;
    int v;
};
T_INFO(c_ret, struct fr_ret);

static int c_ret_body(acx_coro *c)
{
    struct fr_ret *fr = (struct fr_ret *)c;
    log_ev(fr->v);
    fr->acx__ret = fr->v;
    return ACX__DONE;
}

static acx_coro *c_ret(int v)
{
    struct fr_ret *fr = (struct fr_ret *)acx__coro_alloc(sizeof *fr,
                                                        &c_ret_info);
    must(fr);
    fr->v = v;
    return &fr->acx__hdr;
}

/* ---- async void c_void(void) {} : no int view of its result ------------- */

static int c_void_body(acx_coro *c)
{
    return ACX__DONE;
}

static const acx__info c_void_info = {
    c_void_body, "c_void", __FILE__, __LINE__, sizeof(struct fr_ret),
    0,           NULL,     0,        0,        NULL,     0, NULL, NULL,
};

/* ---- async int c_yielder(int id, int n) ---------------------------------
 *   for (i = 0; i < n; i++) { log(id * 100 + i); await acx_yield(); }
 *   return id;
 */
struct fr_yielder {
    ACX__FRAME_PREFIX;
    int acx__ret;
    int id, n, i;
    struct acx__frame_acx_yield y;
};
T_INFO(c_yielder, struct fr_yielder);

static int c_yielder_body(acx_coro *c)
{
    struct fr_yielder *fr = (struct fr_yielder *)c;
    int r;
    switch (fr->acx__state) {
    case 1:
        goto resume1;
    }
    for (fr->i = 0; fr->i < fr->n; fr->i++) {
        log_ev(fr->id * 100 + fr->i);
        acx__init_acx_yield(&fr->y);
        r = acx__body_acx_yield(&fr->y.acx__hdr);
        if (r != ACX__DONE) {
            fr->y.acx__hdr.parent = &fr->acx__hdr;
            fr->acx__state = 1;
            return r;
        }
    resume1:;
    }
    fr->acx__ret = fr->id;
    return ACX__DONE;
}

static acx_coro *c_yielder(int id, int n)
{
    struct fr_yielder *fr = (struct fr_yielder *)acx__coro_alloc(
        sizeof *fr, &c_yielder_info);
    must(fr);
    fr->id = id;
    fr->n = n;
    return &fr->acx__hdr;
}

/* ---- async int c_sleeper(int id, int ms) --------------------------------
 *   t0 = now(); await acx_sleep_ms(ms); check now() - t0 >= ms;
 *   log(id); return id;
 */
static int g_short_sleeps;     /* sleeps that woke too early */
static int64_t g_max_late_ns;  /* the latest wake-up seen */

struct fr_sleeper {
    ACX__FRAME_PREFIX;
    int acx__ret;
    int id, ms;
    int64_t t0;
    struct acx__frame_acx_sleep_ms s;
};
T_INFO(c_sleeper, struct fr_sleeper);

static int c_sleeper_body(acx_coro *c)
{
    struct fr_sleeper *fr = (struct fr_sleeper *)c;
    int r;
    switch (fr->acx__state) {
    case 1:
        goto resume1;
    }
    fr->t0 = now_ns();
    acx__init_acx_sleep_ms(&fr->s, fr->ms);
    r = acx__body_acx_sleep_ms(&fr->s.acx__hdr);
    if (r != ACX__DONE) {
        fr->s.acx__hdr.parent = &fr->acx__hdr;
        fr->acx__state = 1;
        return r;
    }
resume1:;
    int64_t took = now_ns() - fr->t0;
    if (took < (int64_t)fr->ms * 1000000 && fr->s.acx__ret == 0)
        g_short_sleeps++;
    if (took - (int64_t)fr->ms * 1000000 > g_max_late_ns)
        g_max_late_ns = took - (int64_t)fr->ms * 1000000;
    log_ev(fr->id);
    fr->acx__ret = fr->s.acx__ret == 0 ? fr->id : fr->s.acx__ret;
    return ACX__DONE;
}

static acx_coro *c_sleeper(int id, int ms)
{
    struct fr_sleeper *fr = (struct fr_sleeper *)acx__coro_alloc(
        sizeof *fr, &c_sleeper_info);
    must(fr);
    fr->id = id;
    fr->ms = ms;
    return &fr->acx__hdr;
}

/* ---- async int c_awaiter(int id, acx_task *t) ---------------------------
 *   int v = await t; log(id); return v;
 */
struct fr_awaiter {
    ACX__FRAME_PREFIX;
    int acx__ret;
    int id;
    acx_task *t;
    struct acx__frame_acx__await a;
};
T_INFO(c_awaiter, struct fr_awaiter);

static int c_awaiter_body(acx_coro *c)
{
    struct fr_awaiter *fr = (struct fr_awaiter *)c;
    int r;
    switch (fr->acx__state) {
    case 1:
        goto resume1;
    }
    acx__init_acx__await(&fr->a, ACX__AWAITABLE(fr->t));
    r = acx__body_acx__await(&fr->a.acx__hdr);
    if (r != ACX__DONE) {
        fr->a.acx__hdr.parent = &fr->acx__hdr;
        fr->acx__state = 1;
        return r;
    }
resume1:
    log_ev(fr->id);
    fr->acx__ret = fr->a.acx__ret;
    return ACX__DONE;
}

static acx_coro *c_awaiter(int id, acx_task *t)
{
    struct fr_awaiter *fr = (struct fr_awaiter *)acx__coro_alloc(
        sizeof *fr, &c_awaiter_info);
    must(fr);
    fr->id = id;
    fr->t = t;
    return &fr->acx__hdr;
}

/* ---- c_script(ops): a main that interprets a list of operations ---------
 * Each await in it is an embedded child in a union (their lifetimes do not
 * overlap), the way acxc shares frame storage.
 */
enum {
    OP_END,
    OP_SPAWN,         /* t[n++] = acx_spawn(coro) */
    OP_SPAWN_AWAITER, /* t[n++] = acx_spawn(c_awaiter(arg, t[0])) */
    OP_SPAWN_AWAIT_ME,/* t[n++] = acx_spawn(c_awaiter(arg, current)) */
    OP_YIELD,         /* await acx_yield() */
    OP_SLEEP,         /* await acx_sleep_ms(arg) */
    OP_AWAIT,         /* log(await t[arg]) */
    OP_AWAIT_SELF,    /* log(await acx_current_task()) */
    OP_AWAIT_NULL,    /* log(await (acx_task *)NULL) */
    OP_AWAIT_CORO,    /* log(await coro) */
    OP_RELEASE,       /* acx_task_release(t[arg]) */
    OP_DONE,          /* log(acx_task_done(t[arg])) */
    OP_RESULT,        /* log(*(int *)acx_task_result(t[arg]) or -1) */
    OP_LOG,           /* log(arg) */
    OP_NESTED_RUN,    /* log(acx_run(c_ret(1))) */
    OP_SPAWN_NULL,    /* log(acx_spawn(NULL) == NULL ? errno : 0) */
    OP_CURRENT,       /* log(acx_current_task() != NULL) */
    OP_SPAWN_SELF,    /* log(acx_spawn(own root) == NULL ? errno : 0) */
    OP_RETURN,        /* return arg */
};

struct op {
    int kind;
    int arg;
    acx_coro *coro;
};

struct fr_script {
    ACX__FRAME_PREFIX;
    int acx__ret;
    const struct op *ops;
    int pc, n;
    acx_task *t[16];
    union {
        struct acx__frame_acx_yield y;
        struct acx__frame_acx_sleep_ms s;
        struct acx__frame_acx__await a;
    } ch;
};
T_INFO(c_script, struct fr_script);

/* The shape acxc emits for one await of an embedded child. */
#define T_AWAIT(fr, child, body, st, label)                                \
    do {                                                                   \
        int r_ = body(&(fr)->child.acx__hdr);                                   \
        if (r_ != ACX__DONE) {                                             \
            g_await_suspended++;                                           \
            (fr)->child.acx__hdr.parent = &(fr)->acx__hdr;                           \
            (fr)->acx__state = (st);                                            \
            return r_;                                                     \
        }                                                                  \
    } while (0);                                                           \
    label:

static int c_script_body(acx_coro *c)
{
    struct fr_script *fr = (struct fr_script *)c;
    switch (fr->acx__state) {
    case 1:
        goto resume1;
    case 2:
        goto resume2;
    case 3:
        goto resume3;
    }
    for (; fr->ops[fr->pc].kind != OP_END; fr->pc++) {
        const struct op *op = &fr->ops[fr->pc];
        switch (op->kind) {
        case OP_SPAWN:
            fr->t[fr->n++] = acx_spawn(op->coro);
            break;
        case OP_SPAWN_AWAITER:
            fr->t[fr->n++] = acx_spawn(c_awaiter(op->arg, fr->t[0]));
            break;
        case OP_SPAWN_AWAIT_ME:
            fr->t[fr->n++] = acx_spawn(c_awaiter(op->arg,
                                                 acx_current_task()));
            break;
        case OP_YIELD:
            acx__init_acx_yield(&fr->ch.y);
            T_AWAIT(fr, ch.y, acx__body_acx_yield, 1, resume1);
            break;
        case OP_SLEEP:
            acx__init_acx_sleep_ms(&fr->ch.s, op->arg);
            T_AWAIT(fr, ch.s, acx__body_acx_sleep_ms, 2, resume2);
            break;
        case OP_AWAIT:
        case OP_AWAIT_SELF:
        case OP_AWAIT_NULL:
        case OP_AWAIT_CORO:
            if (op->kind == OP_AWAIT_CORO)
                acx__init_acx__await(&fr->ch.a, ACX__AWAITABLE(op->coro));
            else
                acx__init_acx__await(
                    &fr->ch.a,
                    ACX__AWAITABLE(op->kind == OP_AWAIT ? fr->t[op->arg]
                                   : op->kind == OP_AWAIT_SELF
                                       ? acx_current_task()
                                       : (acx_task *)NULL));
            T_AWAIT(fr, ch.a, acx__body_acx__await, 3, resume3);
            log_ev(fr->ch.a.acx__ret);
            break;
        case OP_RELEASE:
            acx_task_release(fr->t[op->arg]);
            break;
        case OP_DONE:
            log_ev(acx_task_done(fr->t[op->arg]));
            break;
        case OP_RESULT: {
            const int *p = acx_task_result(fr->t[op->arg]);
            log_ev(p ? *p : -1);
            break;
        }
        case OP_LOG:
            log_ev(op->arg);
            break;
        case OP_NESTED_RUN:
            log_ev(acx_run(c_ret(1)));
            break;
        case OP_SPAWN_NULL:
            errno = 0;
            log_ev(acx_spawn(NULL) == NULL ? errno : 0);
            break;
        case OP_CURRENT:
            log_ev(acx_current_task() != NULL);
            break;
        case OP_SPAWN_SELF:
            errno = 0;
            log_ev(acx_spawn(&fr->acx__hdr) == NULL ? errno : 0);
            break;
        case OP_RETURN:
            fr->acx__ret = op->arg;
            return ACX__DONE;
        }
    }
    fr->acx__ret = 0;
    return ACX__DONE;
}

static acx_coro *c_script(const struct op *ops)
{
    struct fr_script *fr = (struct fr_script *)acx__coro_alloc(
        sizeof *fr, &c_script_info);
    must(fr);
    fr->ops = ops;
    fr->pc = fr->n = 0;
    return &fr->acx__hdr;
}

/* ---- running ------------------------------------------------------------ */

static void test_run_returns_main_result(void)
{
    log_reset();
    CU_ASSERT_EQUAL(acx_run(c_ret(42)), 42);
    CU_ASSERT_EQUAL(acx_run(c_ret(-7)), -7);
    LOG_EXPECT(42, -7);
}

static void test_run_void_main(void)
{
    acx_coro *c = acx__coro_alloc(sizeof(struct fr_ret), &c_void_info);
    CU_ASSERT_PTR_NOT_NULL_FATAL(c);
    CU_ASSERT_EQUAL(acx_run(c), 0);
}

static void test_run_null(void)
{
    /* acx_run(main()) when main's frame could not be allocated */
    CU_ASSERT_EQUAL(acx_run(NULL), -ENOMEM);
}

static void test_run_nested_busy(void)
{
    static const struct op ops[] = {{OP_NESTED_RUN, 0, 0}, {OP_RETURN, 5, 0}};
    log_reset();
    CU_ASSERT_EQUAL(acx_run(c_script(ops)), 5);
    LOG_EXPECT(-EBUSY);
}

static void test_spawn_outside_loop(void)
{
    errno = 0;
    CU_ASSERT_PTR_NULL(acx_spawn(c_ret(1))); /* consumed: ASan sees leaks */
    CU_ASSERT_EQUAL(errno, EINVAL);
    errno = 0;
    CU_ASSERT_PTR_NULL(acx_spawn(NULL));
    CU_ASSERT_EQUAL(errno, EINVAL);
    CU_ASSERT_PTR_NULL(acx_current_task());
}

static void test_spawn_null_inside_and_current(void)
{
    static const struct op ops[] = {{OP_SPAWN_NULL, 0, 0},
                                    {OP_CURRENT, 0, 0},
                                    {OP_SPAWN_SELF, 0, 0},
                                    {OP_END, 0, 0}};
    log_reset();
    CU_ASSERT_EQUAL(acx_run(c_script(ops)), 0);
    /* spawn(NULL): a coroutine call out of memory; then a task cannot be
     * spawned twice */
    LOG_EXPECT(ENOMEM, 1, EINVAL);
    CU_ASSERT_PTR_NULL(acx_current_task());
}

static void test_constructors(void)
{
    acx_coro *y = acx_yield(), *s = acx_sleep_ms(5);
    CU_ASSERT_PTR_NOT_NULL_FATAL(y);
    CU_ASSERT_PTR_NOT_NULL_FATAL(s);
    CU_ASSERT_PTR_EQUAL(y->info, &acx__info_acx_yield);
    CU_ASSERT_PTR_NULL(y->parent);
    CU_ASSERT_EQUAL(ACX__STATE(y), 0);
    CU_ASSERT_EQUAL(((struct acx__frame_acx_sleep_ms *)s)->timer.deadline, 5);
    CU_ASSERT_EQUAL(acx__info_acx_sleep_ms.size,
                    sizeof(struct acx__frame_acx_sleep_ms));
    CU_ASSERT_EQUAL(acx__info_acx__await.ret_offset,
                    offsetof(struct acx__frame_acx__await, acx__ret));
    acx_coro_free(y);
    acx_coro_free(s);
    acx_coro_free(NULL);
    /* the library's constructors run as mains too */
    CU_ASSERT_EQUAL(acx_run(acx_yield()), 0);
    CU_ASSERT_EQUAL(acx_run(acx_sleep_ms(1)), 0);
    CU_ASSERT_EQUAL(acx_run(acx_sleep_ms(0)), 0);
    CU_ASSERT_EQUAL(sizeof(acx_task) % 16, 0);
    CU_ASSERT(sizeof(acx_task) <= 32);
}

/* ---- scheduling order ----------------------------------------------------- */

static void test_spawn_fifo(void)
{
    struct op ops[] = {
        {OP_SPAWN, 0, c_ret(1)}, {OP_SPAWN, 0, c_ret(2)},
        {OP_SPAWN, 0, c_ret(3)}, {OP_LOG, 10, 0},
        {OP_AWAIT, 2, 0},        {OP_AWAIT, 0, 0},
        {OP_AWAIT, 1, 0},        {OP_END, 0, 0},
    };
    log_reset();
    CU_ASSERT_EQUAL(acx_run(c_script(ops)), 0);
    /* spawned tasks start on a later step, in spawn order */
    LOG_EXPECT(10, 1, 2, 3, 3, 1, 2);
}

static void test_yield_interleaving(void)
{
    struct op ops[] = {
        {OP_SPAWN, 0, c_yielder(1, 3)}, {OP_SPAWN, 0, c_yielder(2, 3)},
        {OP_SPAWN, 0, c_yielder(3, 2)}, {OP_AWAIT, 0, 0},
        {OP_AWAIT, 1, 0},               {OP_AWAIT, 2, 0},
        {OP_END, 0, 0},
    };
    log_reset();
    CU_ASSERT_EQUAL(acx_run(c_script(ops)), 0);
    LOG_EXPECT(100, 200, 300, 101, 201, 301, 102, 202, 1, 2, 3);
}

static void test_ready_during_step_runs_next_step(void)
{
    struct op ops[] = {
        {OP_SPAWN, 0, c_ret(7)}, {OP_LOG, 1, 0}, {OP_YIELD, 0, 0},
        {OP_LOG, 2, 0},          {OP_SLEEP, 0, 0}, /* sleep(0) = yield */
        {OP_SLEEP, -5, 0},       {OP_LOG, 3, 0}, {OP_END, 0, 0},
    };
    log_reset();
    CU_ASSERT_EQUAL(acx_run(c_script(ops)), 0);
    LOG_EXPECT(1, 7, 2, 3);
}

/* ---- timers --------------------------------------------------------------- */

static void test_sleep_deadline_order(void)
{
    struct op ops[] = {
        {OP_SPAWN, 0, c_sleeper(1, 30)}, {OP_SPAWN, 0, c_sleeper(2, 10)},
        {OP_SPAWN, 0, c_sleeper(3, 20)}, {OP_SPAWN, 0, c_sleeper(4, 10)},
        {OP_SPAWN, 0, c_sleeper(5, 10)}, {OP_AWAIT, 0, 0},
        {OP_END, 0, 0},
    };
    log_reset();
    g_short_sleeps = 0;
    CU_ASSERT_EQUAL(acx_run(c_script(ops)), 0);
    /* 2, 4, 5 have equal delays: they wake in the order they slept */
    LOG_EXPECT(2, 4, 5, 3, 1, 1);
    CU_ASSERT_EQUAL(g_short_sleeps, 0);
}

static void test_sleep_duration(void)
{
    g_short_sleeps = 0;
    g_max_late_ns = 0;
    log_reset();
    int64_t t0 = now_ns();
    CU_ASSERT_EQUAL(acx_run(c_sleeper(9, 50)), 9);
    int64_t took = now_ns() - t0;
    CU_ASSERT(took >= 50 * 1000000LL);
    CU_ASSERT(took < 2000 * 1000000LL); /* generous: sanitizers, loaded CI */
    CU_ASSERT_EQUAL(g_short_sleeps, 0);
    CU_ASSERT(g_max_late_ns < 1000 * 1000000LL);
}

/* The heap alone: a million timers, many with equal deadlines, pop in
 * (deadline, arrival) order; removal keeps the order. */
static void test_timer_heap_million(void)
{
    enum { N = 1000000 };
    acx__timer *tm = calloc(N, sizeof *tm);
    CU_ASSERT_PTR_NOT_NULL_FATAL(tm);
    acx__heap h;
    acx__heap_init(&h);
    uint32_t x = 12345;
    int failed = 0;
    for (int i = 0; i < N; i++) {
        x = x * 1103515245u + 12345u;
        tm[i].deadline = (x >> 8) % 5000; /* ~200 timers per deadline */
        tm[i].heap_idx = UINT32_MAX;
        failed += acx__heap_add(&h, &tm[i]) != 0;
    }
    CU_ASSERT_EQUAL(failed, 0);
    CU_ASSERT_EQUAL(h.n, (uint32_t)N);
    /* remove every 7th: their slots must be filled correctly */
    for (int i = 0; i < N; i += 7)
        acx__heap_remove(&h, &tm[i]);
    acx__heap_remove(&h, &tm[0]); /* not in the heap any more: a no-op */
    int popped = 0, bad = 0;
    const acx__timer *prev = NULL;
    acx__timer *t;
    while ((t = acx__heap_pop(&h)) != NULL) {
        if ((t - tm) % 7 == 0)
            bad++;
        if (prev && (prev->deadline > t->deadline ||
                     (prev->deadline == t->deadline && prev > t)))
            bad++; /* index order is arrival order here */
        if (t->heap_idx != UINT32_MAX)
            bad++;
        prev = t;
        popped++;
    }
    CU_ASSERT_EQUAL(bad, 0);
    CU_ASSERT_EQUAL(popped, N - (N + 6) / 7);
    acx__heap_free(&h);
    free(tm);
}

/* ---- many sleeping tasks through the loop -------------------------------- */

static int g_woken, g_order_bad;
static int64_t g_last_deadline;
static uint32_t g_last_seq;

/* async int c_tick(int64_t ms) { await acx_sleep_ms(ms); check order; } */
struct fr_tick {
    ACX__FRAME_PREFIX;
    int acx__ret;
    struct acx__frame_acx_sleep_ms s;
};
T_INFO(c_tick, struct fr_tick);

static int c_tick_body(acx_coro *c)
{
    struct fr_tick *fr = (struct fr_tick *)c;
    int r;
    switch (fr->acx__state) {
    case 1:
        goto resume1;
    }
    r = acx__body_acx_sleep_ms(&fr->s.acx__hdr);
    if (r != ACX__DONE) {
        fr->s.acx__hdr.parent = &fr->acx__hdr;
        fr->acx__state = 1;
        return r;
    }
resume1:;
    const acx__timer *tm = &fr->s.timer;
    if (tm->deadline < g_last_deadline ||
        (tm->deadline == g_last_deadline && g_woken &&
         (int32_t)(tm->seq - g_last_seq) <= 0) ||
        now_ns() < tm->deadline)
        g_order_bad++;
    g_last_deadline = tm->deadline;
    g_last_seq = tm->seq;
    g_woken++;
    fr->acx__ret = 0;
    return ACX__DONE;
}

static acx_coro *c_tick(int64_t ms)
{
    struct fr_tick *fr = (struct fr_tick *)acx__coro_alloc(sizeof *fr,
                                                          &c_tick_info);
    if (fr != NULL)
        acx__init_acx_sleep_ms(&fr->s, ms);
    return fr ? &fr->acx__hdr : NULL;
}

/* async int c_many(int n): spawn n ticks, release them, sleep until all
 * woke. */
struct fr_many {
    ACX__FRAME_PREFIX;
    int acx__ret;
    int n, i;
    struct acx__frame_acx_sleep_ms s;
};
T_INFO(c_many, struct fr_many);

static int c_many_body(acx_coro *c)
{
    struct fr_many *fr = (struct fr_many *)c;
    int r;
    switch (fr->acx__state) {
    case 1:
        goto resume1;
    }
    uint32_t x = 777;
    for (fr->i = 0; fr->i < fr->n; fr->i++) {
        x = x * 1103515245u + 12345u;
        acx_task *t = acx_spawn(c_tick(1 + (x >> 8) % 40));
        if (t == NULL) {
            fr->acx__ret = -1;
            return ACX__DONE;
        }
        acx_task_release(t);
    }
    while (g_woken < fr->n) {
        acx__init_acx_sleep_ms(&fr->s, 5);
        r = acx__body_acx_sleep_ms(&fr->s.acx__hdr);
        if (r != ACX__DONE) {
            fr->s.acx__hdr.parent = &fr->acx__hdr;
            fr->acx__state = 1;
            return r;
        }
    resume1:;
    }
    fr->acx__ret = g_woken;
    return ACX__DONE;
}

static void test_many_sleeping_tasks(void)
{
    enum { N = 200000 };
    struct fr_many *fr = (struct fr_many *)acx__coro_alloc(sizeof *fr,
                                                          &c_many_info);
    must(fr);
    fr->n = N;
    g_woken = g_order_bad = 0;
    g_last_deadline = 0;
    CU_ASSERT_EQUAL(acx_run(&fr->acx__hdr), N);
    CU_ASSERT_EQUAL(g_order_bad, 0);
}

/* ---- awaiting tasks and coroutine objects -------------------------------- */

static void test_await_finished_task(void)
{
    struct op ops[] = {
        {OP_SPAWN, 0, c_ret(5)}, {OP_DONE, 0, 0},   {OP_RESULT, 0, 0},
        {OP_YIELD, 0, 0},        {OP_DONE, 0, 0},   {OP_RESULT, 0, 0},
        {OP_AWAIT, 0, 0},        {OP_END, 0, 0},
    };
    log_reset();
    CU_ASSERT_EQUAL(acx_run(c_script(ops)), 0);
    LOG_EXPECT(0, -1, 5, 1, 5, 5);
    CU_ASSERT_EQUAL(g_await_suspended, 1); /* the yield; the await did not */
}

static void test_await_pending_task(void)
{
    struct op ops[] = {
        {OP_SPAWN, 0, c_sleeper(3, 20)}, {OP_AWAIT, 0, 0},
        {OP_DONE, 0, 0},                 {OP_RETURN, 11, 0},
    };
    log_reset();
    g_short_sleeps = 0;
    CU_ASSERT_EQUAL(acx_run(c_script(ops)), 11);
    LOG_EXPECT(3, 3, 1);
    CU_ASSERT_EQUAL(g_await_suspended, 1);
    CU_ASSERT_EQUAL(g_short_sleeps, 0);
}

static void test_several_awaiters_in_order(void)
{
    struct op ops[] = {
        {OP_SPAWN, 0, c_sleeper(9, 10)}, {OP_SPAWN_AWAITER, 1, 0},
        {OP_SPAWN_AWAITER, 2, 0},        {OP_SPAWN_AWAITER, 3, 0},
        {OP_SPAWN_AWAITER, 4, 0},        {OP_AWAIT, 4, 0},
        {OP_AWAIT, 1, 0},                {OP_END, 0, 0},
    };
    log_reset();
    CU_ASSERT_EQUAL(acx_run(c_script(ops)), 0);
    /* main awaits the last awaiter, so it is itself an awaiter of a task */
    LOG_EXPECT(9, 1, 2, 3, 4, 9, 9);
}

static void test_await_released_task(void)
{
    /* the awaited task is released, so it is freed the moment it finishes,
     * before its awaiter runs: the result must already be delivered */
    struct op ops[] = {
        {OP_SPAWN, 0, c_sleeper(6, 5)}, {OP_RELEASE, 0, 0},
        {OP_AWAIT, 0, 0},               {OP_END, 0, 0},
    };
    log_reset();
    CU_ASSERT_EQUAL(acx_run(c_script(ops)), 0);
    LOG_EXPECT(6, 6);
}

static void test_await_bad_handles(void)
{
    static const struct op ops[] = {
        {OP_AWAIT_SELF, 0, 0}, {OP_AWAIT_NULL, 0, 0}, {OP_END, 0, 0}};
    struct op more[] = {{OP_AWAIT_CORO, 0, NULL}, {OP_END, 0, 0}};
    log_reset();
    CU_ASSERT_EQUAL(acx_run(c_script(ops)), 0);
    CU_ASSERT_EQUAL(acx_run(c_script(more)), 0);
    /* a NULL task: -EINVAL; a NULL coroutine (its call out of memory):
     * -ENOMEM */
    LOG_EXPECT(-EDEADLK, -EINVAL, -ENOMEM);
}

static void test_await_coro(void)
{
    static const struct op inner[] = {
        {OP_YIELD, 0, 0}, {OP_SLEEP, 2, 0}, {OP_RETURN, 77, 0}};
    struct op ops[] = {
        {OP_AWAIT_CORO, 0, c_ret(42)},
        {OP_AWAIT_CORO, 0, c_yielder(5, 2)},
        {OP_AWAIT_CORO, 0, c_script(inner)},
        {OP_AWAIT_CORO, 0, acx_yield()},
        {OP_AWAIT_CORO, 0, acx_sleep_ms(1)},
        {OP_END, 0, 0},
    };
    log_reset();
    CU_ASSERT_EQUAL(acx_run(c_script(ops)), 0);
    LOG_EXPECT(42, 42, 500, 501, 5, 77, 0, 0);
}

/* ---- stalls and teardown ---------------------------------------------------- */

static void test_stall_deadlock(void)
{
    /* main awaits a task that awaits main: nothing can ever run */
    struct op ops[] = {
        {OP_SPAWN_AWAIT_ME, 1, 0}, {OP_AWAIT, 0, 0}, {OP_END, 0, 0}};
    log_reset();
    CU_ASSERT_EQUAL(acx_run(c_script(ops)), -EDEADLK);
    CU_ASSERT_EQUAL(g_nlog, 0);
}

static void test_stall_frees_boxed_children(void)
{
    /* the cycle sits below boxed children pushed by `await coro`, in main
     * and in another task; teardown must free them (ASan checks) */
    static struct op inner[] = {
        {OP_SPAWN_AWAIT_ME, 1, 0}, {OP_AWAIT, 0, 0}, {OP_END, 0, 0}};
    struct op ops[] = {{OP_AWAIT_CORO, 0, NULL}, {OP_END, 0, 0}};
    ops[0].coro = c_script(inner);
    log_reset();
    CU_ASSERT_EQUAL(acx_run(c_script(ops)), -EDEADLK);
}

static void test_release_and_teardown(void)
{
    static const struct op forever[] = {{OP_SLEEP, 100000, 0}, {OP_END, 0, 0}};
    struct op ops[] = {
        {OP_SPAWN, 0, c_ret(1)},       /* released before it finishes */
        {OP_RELEASE, 0, 0},
        {OP_RELEASE, 0, 0},            /* twice before done: harmless */
        {OP_SPAWN, 0, c_ret(2)},       /* released after */
        {OP_YIELD, 0, 0},
        {OP_RELEASE, 1, 0},            /* freed at once: it is done */
        {OP_SPAWN, 0, c_ret(3)},       /* done, never released */
        {OP_SPAWN, 0, c_sleeper(4, 100000)}, /* pending at the end */
        {OP_SPAWN, 0, c_script(forever)},
        {OP_YIELD, 0, 0},
        {OP_RETURN, 8, 0},
    };
    struct op ops2[] = {{OP_SPAWN, 0, NULL}, {OP_YIELD, 0, 0},
                        {OP_RETURN, 9, 0}};
    /* a task pending in `await coro` at the end: its boxed child too */
    static const struct op inner[] = {{OP_SLEEP, 100000, 0}, {OP_END, 0, 0}};
    struct op wrap[] = {{OP_AWAIT_CORO, 0, NULL}, {OP_END, 0, 0}};
    wrap[0].coro = c_script(inner);
    ops2[0].coro = c_script(wrap);
    log_reset();
    CU_ASSERT_EQUAL(acx_run(c_script(ops)), 8);
    CU_ASSERT_EQUAL(acx_run(c_script(ops2)), 9);
    /* at the end the pending tasks are cancelled and finish: the sleeper
     * logs 4, ops2's await coro logs its script's result, 0 */
    LOG_EXPECT(1, 2, 3, 4, 0);
}

/* ---- deep chains ------------------------------------------------------------ */

/* async int c_deep(int n) { return n ? await c_deep(n - 1) + 1 : 0; }
 * with the recursive call boxed; PUSH_ALWAYS chooses acx__push for every
 * level, otherwise it is called inline while ACX__STACK_OK(). */
struct fr_deep {
    ACX__FRAME_PREFIX;
    int acx__ret;
    int n, push_always;
    acx_coro *child;
};
T_INFO(c_deep, struct fr_deep);

static acx_coro *c_deep(int n, int push_always);

static int c_deep_body(acx_coro *c)
{
    struct fr_deep *fr = (struct fr_deep *)c;
    int r;
    switch (fr->acx__state) {
    case 1:
        goto resume1;
    }
    if (fr->n == 0) {
        fr->acx__ret = 0;
        return ACX__DONE;
    }
    fr->child = c_deep(fr->n - 1, fr->push_always);
    fr->child->parent = &fr->acx__hdr;
    fr->acx__state = 1;
    if (fr->push_always || !ACX__STACK_OK())
        return acx__push(fr->child);
    r = fr->child->info->body(fr->child);
    if (r != ACX__DONE)
        return r;
resume1:
    fr->acx__ret = fr->child->info->result_int(fr->child) + 1;
    acx_coro_free(fr->child);
    return ACX__DONE;
}

static acx_coro *c_deep(int n, int push_always)
{
    struct fr_deep *fr = (struct fr_deep *)acx__coro_alloc(sizeof *fr,
                                                          &c_deep_info);
    must(fr);
    fr->n = n;
    fr->push_always = push_always;
    return &fr->acx__hdr;
}

static void test_deep_chain_trampoline(void)
{
    CU_ASSERT_EQUAL(acx_run(c_deep(100000, 1)), 100000);
}

static void test_deep_chain_inline_until_floor(void)
{
    /* inline calls until the stack floor, then a trampoline, repeatedly */
    CU_ASSERT_EQUAL(acx_run(c_deep(100000, 0)), 100000);
}

/* ---- loops in several threads -------------------------------------------- */

static void *thread_main(void *arg)
{
    static const struct op ops[] = {
        {OP_YIELD, 0, 0}, {OP_SLEEP, 3, 0}, {OP_YIELD, 0, 0},
        {OP_SLEEP, 1, 0}, {OP_RETURN, 0, 0}};
    struct op *o = arg;
    o[0] = (struct op){OP_SPAWN, 0, c_script(ops)};
    o[1] = (struct op){OP_SPAWN, 0, c_deep(20000, 0)};
    o[2] = (struct op){OP_SPAWN, 0, c_script(ops)};
    o[3] = (struct op){OP_AWAIT_CORO, 0, c_script(ops)};
    o[4] = (struct op){OP_RELEASE, 0, 0};
    o[5] = (struct op){OP_RELEASE, 2, 0};
    o[6] = (struct op){OP_RETURN, 0, 0};
    o[7] = (struct op){OP_END, 0, 0};
    intptr_t rc = acx_run(c_script(o));
    return (void *)rc;
}

static void test_loops_per_thread(void)
{
    enum { T = 4 };
    pthread_t th[T];
    struct op ops[T][8];
    for (int i = 0; i < T; i++)
        CU_ASSERT_EQUAL_FATAL(pthread_create(&th[i], NULL, thread_main,
                                             ops[i]), 0);
    for (int i = 0; i < T; i++) {
        void *rc;
        pthread_join(th[i], &rc);
        CU_ASSERT_EQUAL((intptr_t)rc, 0);
    }
}

int acx_test_add_runtime(void)
{
    CU_pSuite s = CU_add_suite("runtime", NULL, NULL);
    if (s == NULL)
        return -1;
    static const struct {
        const char *name;
        void (*fn)(void);
    } tests[] = {
        {"run returns main's int", test_run_returns_main_result},
        {"run void main returns 0", test_run_void_main},
        {"run NULL is EINVAL", test_run_null},
        {"nested run is EBUSY", test_run_nested_busy},
        {"spawn outside a loop is EINVAL", test_spawn_outside_loop},
        {"spawn NULL, current task", test_spawn_null_inside_and_current},
        {"leaf constructors and infos", test_constructors},
        {"spawn order is FIFO", test_spawn_fifo},
        {"yield interleaving", test_yield_interleaving},
        {"ready during a step runs next step",
         test_ready_during_step_runs_next_step},
        {"sleeps wake in deadline order, ties FIFO",
         test_sleep_deadline_order},
        {"sleep lasts at least its time", test_sleep_duration},
        {"timer heap: 1,000,000 timers", test_timer_heap_million},
        {"200,000 sleeping tasks", test_many_sleeping_tasks},
        {"await a finished task", test_await_finished_task},
        {"await a pending task", test_await_pending_task},
        {"several awaiters woken in order", test_several_awaiters_in_order},
        {"await a released task", test_await_released_task},
        {"await bad handles", test_await_bad_handles},
        {"await a coroutine object", test_await_coro},
        {"stall is EDEADLK", test_stall_deadlock},
        {"stall frees boxed children", test_stall_frees_boxed_children},
        {"release and teardown free tasks", test_release_and_teardown},
        {"100,000-deep chain via acx__push", test_deep_chain_trampoline},
        {"100,000-deep chain inline to the floor",
         test_deep_chain_inline_until_floor},
        {"a loop per thread", test_loops_per_thread},
    };
    for (size_t i = 0; i < sizeof tests / sizeof tests[0]; i++)
        if (CU_add_test(s, tests[i].name, tests[i].fn) == NULL)
            return -1;
    return 0;
}
