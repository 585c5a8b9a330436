/* fault.c - the fault-injection suite: small acx programs (scenarios.acx)
 * run with the runtime's calls failing on demand (shim.h).
 *
 * The exhaustive loops make the n-th allocation fail, for n = 1, 2, ...
 * until a run makes fewer than n: every allocation the runtime makes on
 * a scenario's path fails once.  Each run must then end (a watchdog
 * catches a hang), return either the right result or the injected error
 * (never another one, never a wrong result), give back every block and
 * file descriptor it took, and leave the runtime able to run the next
 * program.  epoll_wait failing with EINTR must be invisible.  check-asan
 * runs the same binary, where LeakSanitizer checks the whole process too.
 */
#define _GNU_SOURCE
#include <CUnit/Basic.h>
#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <acx.h>
#include <acx_net.h>

#include "scenarios.h"
#include "shim.h"

struct scenario {
    const char *name;
    int (*run)(void);
    int want;
};

static const struct scenario scens[] = {
    {"tasks", scen_tasks, SCEN_TASKS_WANT},
    {"pipeline", scen_pipeline, SCEN_PIPE_WANT},
    {"futures", scen_futures, SCEN_FUT_WANT},
    {"executor", scen_executor, SCEN_EXEC_WANT},
    {"echo", scen_echo, SCEN_ECHO_WANT},
    {"timers", scen_timers, SCEN_TIMERS_WANT},
    {"accept", scen_accept, SCEN_ACCEPT_WANT},
    {"pipe", scen_pipe, SCEN_PIPEIO_WANT},
};
static const struct scenario *const futures_scen = &scens[2];
static const struct scenario *const executor_scen = &scens[3];
static const struct scenario *const echo_scen = &scens[4];
static const struct scenario *const accept_scen = &scens[6];
static const struct scenario *const pipe_scen = &scens[7];
enum { NSCEN = sizeof scens / sizeof scens[0] };

enum {
    MAX_POINTS = 20000, /* a scenario with more is a runaway loop */
    WATCHDOG_S = 20,    /* one run that takes longer has hung */
    MAX_REPORTS = 20,   /* failures printed in detail per test */
};

/* ---- the watchdog: a hung run names itself and ends the process ---------- */

static char watch_what[160];

static void watchdog_fire(int sig)
{
    (void)sig;
    static const char msg[] = "fault: HUNG: ";
    (void)!write(2, msg, sizeof msg - 1);
    (void)!write(2, watch_what, strlen(watch_what));
    (void)!write(2, "\n", 1);
    _exit(3);
}

static int run_watched(const struct scenario *s, const char *fault, long n)
{
    snprintf(watch_what, sizeof watch_what, "scenario %s, %s at call %ld",
             s->name, fault, n);
    alarm(WATCHDOG_S);
    int rc = s->run();
    alarm(0);
    return rc;
}

/* ---- what a run leaves behind ---------------------------------------------- */

static int count_fds(void)
{
    DIR *d = opendir("/proc/self/fd");
    if (d == NULL)
        return -1;
    int n = 0;
    while (readdir(d) != NULL)
        n++;
    closedir(d);
    return n;
}

struct mark {
    long allocs;
    int fds;
};

static struct mark mark_now(void)
{
    return (struct mark){fault_live_allocs(), count_fds()};
}

/* Worker threads of a pool may still be giving back their last blocks as
 * acx_run returns: wait up to a second for the balance to come back. */
static int settled(struct mark base, struct mark *now)
{
    for (int i = 0; i < 1000; i++) {
        *now = mark_now();
        if (now->allocs == base.allocs && now->fds == base.fds)
            return 1;
        nanosleep(&(struct timespec){0, 1000000}, NULL);
    }
    return 0;
}

/* ---- the checks each run must pass ------------------------------------------ */

static int reports;

static void report(const struct scenario *s, const char *fault, long n,
                   const char *why, long got)
{
    if (reports++ < MAX_REPORTS)
        fprintf(stderr, "\n  fault: scenario %s, %s at call %ld: %s (%ld)",
                s->name, fault, n, why, got);
}

/* Run S with the rule already set; check result and balance.  Returns
 * how many calls were made to fail. */
static long run_checked(const struct scenario *s, enum fault_call c,
                        int err, long n, int must_succeed)
{
    struct mark base = mark_now(), now;
    int rc = run_watched(s, fault_name(c), n);
    long injected = fault_injected(c);
    fault_reset();
    int ok = rc == s->want ||
             (!must_succeed && injected > 0 && rc == -err);
    if (!ok)
        report(s, fault_name(c), n,
               rc < 0 ? "wrong error" : "wrong result", rc);
    CU_ASSERT(ok);
    int clean = settled(base, &now);
    if (!clean)
        report(s, fault_name(c), n, "leaked blocks, fds",
               (now.allocs - base.allocs) * 1000 + (now.fds - base.fds));
    CU_ASSERT(clean);
    return injected;
}

/* A first run of each program fills process-wide tables that live as
 * long as the process (the spawn sites task dumps name): run it once
 * before the balance is taken. */
static void warm_up(const struct scenario *s)
{
    fault_reset();
    CU_ASSERT_EQUAL(run_watched(s, "none", 0), s->want);
}

/* Fail the n-th call of C with ERR, n = 1, 2, ... until a run reaches
 * no n-th call.  Returns the number of points exercised. */
static long exhaust(const struct scenario *s, enum fault_call c, int err,
                    int must_succeed)
{
    long n;
    const char *only = getenv("FAULT_SCENARIO"); /* to reproduce one */
    if (only != NULL && strcmp(only, s->name) != 0)
        return 1;
    warm_up(s);
    const char *from = getenv("FAULT_FROM");
    for (n = from ? atol(from) : 1; n < MAX_POINTS; n++) {
        fault_reset();
        fault_fail_nth(c, n, err);
        if (run_checked(s, c, err, n, must_succeed) == 0)
            break; /* that run was clean and complete: all points seen */
    }
    CU_ASSERT(n < MAX_POINTS);
    /* and it still serves: a run with no fault gives the right result */
    fault_reset();
    CU_ASSERT_EQUAL(run_watched(s, "none", 0), s->want);
    return n - 1;
}

/* ---- the tests ----------------------------------------------------------------- */

static void test_baseline(void)
{
    for (int i = 0; i < NSCEN; i++) {
        warm_up(&scens[i]);
        struct mark base = mark_now(), now;
        fault_reset();
        int rc = run_watched(&scens[i], "none", 0);
        if (rc != scens[i].want)
            report(&scens[i], "none", 0, "wrong result", rc);
        CU_ASSERT_EQUAL(rc, scens[i].want);
        CU_ASSERT(fault_calls(FAULT_ALLOC) > 0);
        int clean = settled(base, &now);
        if (!clean)
            report(&scens[i], "none", 0, "leaked blocks, fds",
                   (now.allocs - base.allocs) * 1000 + (now.fds - base.fds));
        CU_ASSERT(clean);
    }
}

static void test_alloc_every_point(void)
{
    for (int i = 0; i < NSCEN; i++) {
        long points = exhaust(&scens[i], FAULT_ALLOC, ENOMEM, 0);
        printf("\n    %-8s %4ld allocation points failed in turn", scens[i].name,
               points);
        CU_ASSERT(points > 0);
    }
}

/* (The pipeline never sleeps in epoll: its tasks hand over by yields.) */
static void test_epoll_eintr_every_point(void)
{
    long total = 0;
    for (int i = 0; i < NSCEN; i++) {
        long points = exhaust(&scens[i], FAULT_EPOLL_WAIT, EINTR, 1);
        printf("\n    %-8s %4ld epoll waits interrupted in turn",
               scens[i].name, points);
        total += points;
    }
    CU_ASSERT(total > 0);
}

/* Half of all waits interrupted, in a seeded pattern: still invisible. */
static void test_epoll_eintr_random(void)
{
    for (int i = 0; i < NSCEN; i++)
        for (unsigned seed = 1; seed <= 3; seed++) {
            fault_reset();
            fault_fail_random(FAULT_EPOLL_WAIT, 0.5, seed, EINTR);
            run_checked(&scens[i], FAULT_EPOLL_WAIT, EINTR, seed, 1);
        }
}

/* One allocation in ten fails, in a seeded pattern: several failures in
 * one run, on every thread, in whatever order they come. */
static void test_alloc_random(void)
{
    for (int i = 0; i < NSCEN; i++)
        for (unsigned seed = 1; seed <= 20; seed++) {
            fault_reset();
            fault_fail_random(FAULT_ALLOC, 0.1, seed, ENOMEM);
            run_checked(&scens[i], FAULT_ALLOC, ENOMEM, seed, 0);
        }
}

/* The loop's eventfd cannot be made (EMFILE): acx_run says so, cleanly. */
static void test_eventfd_create(void)
{
    for (int i = 0; i < NSCEN; i++) {
        struct mark base = mark_now(), now;
        fault_reset();
        fault_fail_nth(FAULT_EVENTFD, 1, EMFILE);
        int rc = run_watched(&scens[i], "eventfd", 1);
        long injected = fault_injected(FAULT_EVENTFD);
        fault_reset();
        CU_ASSERT_EQUAL(injected, 1);
        CU_ASSERT_EQUAL(rc, -EMFILE);
        CU_ASSERT(settled(base, &now));
        CU_ASSERT_EQUAL(run_watched(&scens[i], "none", 0), scens[i].want);
    }
}

/* A thread's wake-up write to the loop's eventfd fails once, at every
 * point: the runtime retries it, and nothing is lost or late. */
static void test_wake_write_every_point(void)
{
    long a = exhaust(futures_scen, FAULT_WAKE_WRITE, EIO, 1);
    long b = exhaust(executor_scen, FAULT_WAKE_WRITE, EIO, 1);
    printf("\n    futures %ld, executor %ld wake-ups failed in turn", a, b);
    CU_ASSERT(a > 0 && b > 0);
}

/* Every wake-up write fails: the post is still accepted (0), stays in
 * the inbox and runs on the loop's next iteration.  Not tested, because
 * it cannot work: a loop with no timer, no fd event and no other post to
 * come sleeps on until one comes, since its only wake-up is that write
 * (loop.c, loop_wake_posted).  The kernel gives no such failure for an
 * eventfd we hold open. */
static void test_wake_write_always(void)
{
    const struct scenario lost = {"lost wake", scen_lost_wake, 1};
    fault_reset();
    fault_fail_from(FAULT_WAKE_WRITE, 1, EIO);
    long injected = run_checked(&lost, FAULT_WAKE_WRITE, EIO, 1, 1);
    CU_ASSERT(injected >= 3); /* the post's wake-up, and its retries */
}

/* accept4 interrupted, or finding nothing after all, or the peer gone:
 * retried, at every accept the scenario makes. */
static void test_accept_transient(void)
{
    static const int errs[] = {EINTR, EAGAIN, ECONNABORTED};
    for (size_t i = 0; i < sizeof errs / sizeof errs[0]; i++) {
        long points = exhaust(accept_scen, FAULT_ACCEPT, errs[i], 1);
        printf("\n    %ld accepts failed with %s in turn", points,
               strerror(errs[i]));
        CU_ASSERT(points > 0);
    }
}

/* accept4 out of descriptors: the pending connection is dropped (so
 * the listener does not spin), the client sees it end, connects again
 * and is served. */
static void test_accept_emfile(void)
{
    struct mark base = mark_now(), now;
    fault_reset();
    fault_fail_nth(FAULT_ACCEPT, 1, EMFILE);
    int rc = run_watched(accept_scen, "accept4 EMFILE", 1);
    CU_ASSERT_EQUAL(fault_injected(FAULT_ACCEPT), 1);
    fault_reset();
    CU_ASSERT_EQUAL(rc, 1 + 10 * 1);
    CU_ASSERT(settled(base, &now));
}

/* Socket calls (the runtime's own hook, acx_net.h): a seeded third of
 * them fail with EINTR, or with EAGAIN (not connect: for it EAGAIN is a
 * real error, no free local port), and every transfer is cut to a
 * random length. */
static unsigned net_seed;

static int net_fault(const char *call, size_t *len)
{
    net_seed = net_seed * 1103515245u + 12345u;
    unsigned r = net_seed >> 8;
    if (*len > 1)
        *len = 1 + r % *len;
    switch (r % 6) {
    case 0: return EINTR;
    case 1: return strcmp(call, "connect") != 0 ? EAGAIN : 0;
    default: return 0;
    }
}

static void test_net_eintr_eagain_short(void)
{
    for (unsigned seed = 1; seed <= 20; seed++) {
        net_seed = seed;
        acx__net_fault = net_fault;
        struct mark base = mark_now(), now;
        int a = run_watched(echo_scen, "net hook", seed);
        int b = run_watched(accept_scen, "net hook", seed);
        acx__net_fault = NULL;
        CU_ASSERT_EQUAL(a, echo_scen->want);
        if (b != accept_scen->want)
            report(accept_scen, "net hook", seed, "wrong result", b);
        CU_ASSERT_EQUAL(b, accept_scen->want);
        CU_ASSERT(settled(base, &now));
    }
}

/* read(2) and write(2) (a pipe) interrupted, or not ready after all, at
 * every call, each transfer cut to 512 bytes: retried, or parked until
 * ready; every byte arrives in order. */
static void test_pipe_rw_every_point(void)
{
    static const int errs[] = {EINTR, EAGAIN};
    static const enum fault_call calls[] = {FAULT_READ, FAULT_WRITE};
    for (size_t c = 0; c < 2; c++)
        for (size_t i = 0; i < 2; i++) {
            fault_reset();
            long n, points = 0;
            for (n = 1; n < MAX_POINTS; n++) {
                fault_reset();
                fault_fail_nth(calls[c], n, errs[i]);
                fault_short(FAULT_READ, 512);
                fault_short(FAULT_WRITE, 512);
                if (run_checked(pipe_scen, calls[c], errs[i], n, 1) == 0)
                    break;
                points++;
            }
            printf("\n    %ld %ss failed with %s in turn", points,
                   fault_name(calls[c]), strerror(errs[i]));
            CU_ASSERT(points > 10); /* 16 KiB in 512-byte pieces */
        }
}

/* A seeded third of reads and writes fail with EINTR or EAGAIN, and every
 * transfer moves at most 7 bytes. */
static void test_pipe_rw_random(void)
{
    for (unsigned seed = 1; seed <= 10; seed++) {
        fault_reset();
        fault_fail_random(FAULT_READ, 0.3, seed, seed % 2 ? EINTR : EAGAIN);
        fault_fail_random(FAULT_WRITE, 0.3, seed + 100,
                          seed % 2 ? EAGAIN : EINTR);
        fault_short(FAULT_READ, 7);
        fault_short(FAULT_WRITE, 7);
        run_checked(pipe_scen, FAULT_READ, EINTR, seed, 1);
    }
}

static int add_tests(void)
{
    CU_pSuite s = CU_add_suite("fault", NULL, NULL);
    if (s == NULL ||
        !CU_add_test(s, "every scenario runs clean", test_baseline) ||
        !CU_add_test(s, "allocation n fails, every n", test_alloc_every_point) ||
        !CU_add_test(s, "allocations fail at random", test_alloc_random) ||
        !CU_add_test(s, "epoll wait n gets EINTR, every n",
                     test_epoll_eintr_every_point) ||
        !CU_add_test(s, "epoll waits get EINTR at random",
                     test_epoll_eintr_random) ||
        !CU_add_test(s, "the loop's eventfd cannot be made",
                     test_eventfd_create) ||
        !CU_add_test(s, "a wake-up write fails, every n",
                     test_wake_write_every_point) ||
        !CU_add_test(s, "every wake-up write fails", test_wake_write_always) ||
        !CU_add_test(s, "accept4 EINTR/EAGAIN/ECONNABORTED, every n",
                     test_accept_transient) ||
        !CU_add_test(s, "accept4 EMFILE", test_accept_emfile) ||
        !CU_add_test(s, "socket calls EINTR/EAGAIN/short at random",
                     test_net_eintr_eagain_short) ||
        !CU_add_test(s, "pipe read/write EINTR/EAGAIN, every n, short",
                     test_pipe_rw_every_point) ||
        !CU_add_test(s, "pipe read/write EINTR/EAGAIN/short at random",
                     test_pipe_rw_random))
        return -1;
    return 0;
}

int main(int argc, char **argv)
{
    /* Frames and futures from malloc, one block each, so that every one
     * is a point where allocation can fail (alloc.c, futmem.c read this
     * before main: set it and start again). */
    if (getenv("ACX_MALLOC") == NULL) {
        setenv("ACX_MALLOC", "1", 1);
        execv("/proc/self/exe", argv);
        perror("fault: re-exec");
        return 2;
    }
    (void)argc;
    signal(SIGALRM, watchdog_fire);
    signal(SIGPIPE, SIG_IGN);
    if (CU_initialize_registry() != CUE_SUCCESS)
        return 2;
    if (add_tests() != 0) {
        CU_cleanup_registry();
        return 2;
    }
    CU_basic_set_mode(CU_BRM_VERBOSE);
    CU_basic_run_tests();
    unsigned failed = CU_get_number_of_failures() +
                      CU_get_number_of_tests_failed();
    unsigned run = CU_get_number_of_tests_run();
    CU_cleanup_registry();
    return run == 0 ? 1 : failed ? 1 : 0;
}
