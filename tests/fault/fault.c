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
 *
 * The pools (procscen.c) are checked the same way, and also for the
 * threads and processes a run leaves (none: the process pool's zygote is
 * the one descendant kept between runs), and for still serving after
 * the fault: each scenario disarms the rule and runs one more task on the
 * same pool.  fork fails in the zygote and the forkservers too (the
 * shim's fork rule is shared with them).
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
#include <acx_procpool.h>

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

/* The pools (procscen.c, and coroutines awaiting a process pool): their
 * own tests, below. */
static const struct scenario pscens[] = {
    {"procpool", scen_procpool, SCEN_PROC_WANT},
    {"procinit", scen_procinit, SCEN_PROC_WANT},
    {"pool-proc", scen_pool_proc, SCEN_POOL_WANT},
    {"pool-thr", scen_pool_thr, SCEN_POOL_WANT},
    {"exec-api", scen_exec_api, SCEN_EXECAPI_WANT},
    {"procawait", scen_procawait, SCEN_PROCAWAIT_WANT},
    {"procterm", scen_procterm, 1},
};
enum { NPSCEN = sizeof pscens / sizeof pscens[0] };
static const struct scenario *const procpool_scen = &pscens[0];
static const struct scenario *const pool_proc_scen = &pscens[2];
static const struct scenario *const procawait_scen = &pscens[5];
static const struct scenario prockill_scen = {"prockill", scen_prockill,
                                              SCEN_PROCKILL_WANT};

/* The scenarios that fork (a process pool's workers). */
static int forks(const struct scenario *s)
{
    return s->run != scen_pool_thr && s->run != scen_exec_api;
}

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

static int count_threads(void)
{
    DIR *d = opendir("/proc/self/task");
    if (d == NULL)
        return -1;
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL)
        n += e->d_name[0] != '.';
    closedir(d);
    return n;
}

/* Processes that descend from this one (the process pool's zygote, its
 * forkservers and their workers, zombies included): a run must leave as
 * many as it found.  Static tables: the shim counts malloc. */
enum { MAX_PROCS = 16384 };
static int proc_pid[MAX_PROCS], proc_ppid[MAX_PROCS];

static int count_descendants(void)
{
    DIR *d = opendir("/proc");
    if (d == NULL)
        return -1;
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL && n < MAX_PROCS) {
        if (e->d_name[0] < '0' || e->d_name[0] > '9')
            continue;
        char path[300], buf[512];
        snprintf(path, sizeof path, "/proc/%s/stat", e->d_name);
        FILE *f = fopen(path, "r");
        if (f == NULL)
            continue; /* gone meanwhile */
        size_t got = fread(buf, 1, sizeof buf - 1, f);
        fclose(f);
        buf[got] = '\0';
        const char *rp = strrchr(buf, ')'); /* the name may hold anything */
        int ppid;
        if (rp == NULL || sscanf(rp + 1, " %*c %d", &ppid) != 1)
            continue;
        proc_pid[n] = atoi(e->d_name);
        proc_ppid[n++] = ppid;
    }
    closedir(d);
    /* mark descendants generation by generation (pids are few) */
    static unsigned char in[MAX_PROCS];
    memset(in, 0, sizeof in);
    int count = 0, grew = 1;
    while (grew) {
        grew = 0;
        for (int i = 0; i < n; i++) {
            if (in[i])
                continue;
            int up = proc_ppid[i] == getpid();
            for (int j = 0; j < n && !up; j++)
                up = in[j] && proc_pid[j] == proc_ppid[i];
            if (up) {
                in[i] = 1;
                count++;
                grew = 1;
            }
        }
    }
    return count;
}

struct mark {
    long allocs;
    int fds, threads, procs;
};

static struct mark mark_now(void)
{
    return (struct mark){fault_live_allocs(), count_fds(), count_threads(),
                         count_descendants()};
}

static int same(struct mark a, struct mark b)
{
    return a.allocs == b.allocs && a.fds == b.fds && a.threads == b.threads &&
           a.procs == b.procs;
}

/* What differs, for a report: blocks, fds, threads, processes. */
static long diff(struct mark base, struct mark now)
{
    return (now.allocs - base.allocs) * 1000000 +
           (now.fds - base.fds) * 10000 + (now.threads - base.threads) * 100 +
           (now.procs - base.procs);
}

/* Between runs only the process pools' zygote is left; a forkserver
 * whose pool was freed exits on its own, in a moment: wait for it before
 * taking the balance (a run that left one was reported already). */
static struct mark base_mark(void)
{
    for (int i = 0; i < 1000 && count_descendants() > 1; i++)
        nanosleep(&(struct timespec){0, 1000000}, NULL);
    return mark_now();
}

/* Worker threads of a pool may still be giving back their last blocks as
 * acx_run returns: wait up to a second for the balance to come back. */
static int settled(struct mark base, struct mark *now)
{
    for (int i = 0; i < 1000; i++) {
        *now = mark_now();
        if (same(base, *now))
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
    struct mark base = base_mark(), now;
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
        report(s, fault_name(c), n, "leaked blocks, fds, threads, procs",
               diff(base, now));
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
        struct mark base = base_mark(), now;
        fault_reset();
        int rc = run_watched(&scens[i], "none", 0);
        if (rc != scens[i].want)
            report(&scens[i], "none", 0, "wrong result", rc);
        CU_ASSERT_EQUAL(rc, scens[i].want);
        CU_ASSERT(fault_calls(FAULT_ALLOC) > 0);
        int clean = settled(base, &now);
        if (!clean)
            report(&scens[i], "none", 0, "leaked blocks, fds, threads, procs",
                   diff(base, now));
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
        struct mark base = base_mark(), now;
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
    struct mark base = base_mark(), now;
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
        struct mark base = base_mark(), now;
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

/* ---- the pools ------------------------------------------------------------ */

static void test_pools_baseline(void)
{
    for (int i = 0; i < NPSCEN; i++) {
        warm_up(&pscens[i]);
        fault_reset();
        run_checked(&pscens[i], FAULT_ALLOC, ENOMEM, 0, 1);
    }
    warm_up(&prockill_scen);
    run_checked(&prockill_scen, FAULT_ALLOC, ENOMEM, 0, 1);
}

/* Every allocation on the pools' paths (this process's: workers run
 * clean) fails in turn: the caller gets NULL + ENOMEM or a future
 * failing with -ENOMEM, never another error; results that completed are
 * all there; nothing leaks; the same pool serves the next task. */
static void test_pools_alloc_every_point(void)
{
    for (int i = 0; i < NPSCEN; i++) {
        long points = exhaust(&pscens[i], FAULT_ALLOC, ENOMEM, 0);
        printf("\n    %-9s %4ld allocation points failed in turn",
               pscens[i].name, points);
        CU_ASSERT(points > 0);
    }
}

static void test_pools_alloc_random(void)
{
    for (int i = 0; i < NPSCEN; i++)
        for (unsigned seed = 1; seed <= 10; seed++) {
            fault_reset();
            fault_fail_random(FAULT_ALLOC, 0.1, seed, ENOMEM);
            run_checked(&pscens[i], FAULT_ALLOC, ENOMEM, seed, 0);
        }
}

/* fork fails at every point of a process pool's life (EAGAIN, as under
 * RLIMIT_NPROC): the forkserver's (acx_procpool_new then fails with
 * EAGAIN), a worker's with or without an initializer (the work runs on
 * the workers that did start, or fails with -EAGAIN when none did; the
 * pool is not broken and serves the next task). */
static void test_pools_fork_every_point(void)
{
    for (int i = 0; i < NPSCEN; i++) {
        if (!forks(&pscens[i]))
            continue;
        long points = exhaust(&pscens[i], FAULT_FORK, EAGAIN, 0);
        printf("\n    %-9s %4ld forks failed in turn", pscens[i].name,
               points);
        CU_ASSERT(points >= 2); /* the forkserver and a worker at least */
    }
}

/* The first fork, the forkserver's, fails: acx_procpool_new says so
 * (NULL, EAGAIN) and leaves no fd, thread or process behind; the next
 * pool works.  Then the zygote's own fork fails (it is stopped, and
 * this process has one thread: it forks it, not posix_spawn). */
static void test_procpool_new_fork_fails(void)
{
    fault_reset();
    warm_up(procpool_scen);
    struct mark base = base_mark(), now;
    fault_fail_nth(FAULT_FORK, 1, EAGAIN);
    errno = 0;
    acx_procpool *p = acx_procpool_new(NULL);
    int err = errno;
    long injected = fault_injected(FAULT_FORK);
    fault_reset();
    CU_ASSERT_PTR_NULL(p);
    CU_ASSERT_EQUAL(err, EAGAIN);
    CU_ASSERT_EQUAL(injected, 1);
    CU_ASSERT(settled(base, &now));
    acx_procpool_free(p);
    CU_ASSERT_EQUAL(procpool_scen->run(), procpool_scen->want);

    if (count_threads() != 1) {
        /* (TSan runs a thread of its own: the zygote would then be
         * re-executed, not forked, and share no fork rule) */
        printf("\n    the zygote's fork: not tried, %d threads run",
               count_threads());
        return;
    }
    acx_procpool_zygote_stop();
    base = base_mark();
    fault_fail_nth(FAULT_FORK, 1, EAGAIN);
    errno = 0;
    p = acx_procpool_new(NULL);
    err = errno;
    injected = fault_injected(FAULT_FORK);
    fault_reset();
    CU_ASSERT_PTR_NULL(p);
    CU_ASSERT_EQUAL(err, EAGAIN);
    CU_ASSERT_EQUAL(injected, 1);
    CU_ASSERT_EQUAL(acx_procpool_zygote_method(), 0);
    CU_ASSERT(settled(base, &now));
    /* forked again, from this one thread: it shares the shim's fork rule */
    CU_ASSERT_EQUAL(acx_procpool_zygote_start(), 0);
    CU_ASSERT_EQUAL(acx_procpool_zygote_method(), 1);
    CU_ASSERT_EQUAL(procpool_scen->run(), procpool_scen->want);
}

/* Every fork of a worker fails: the work fails with -EAGAIN instead of
 * waiting for a worker, nothing hangs, and once fork works again the
 * same pool serves (the scenarios check that). */
static void test_pools_worker_fork_always_fails(void)
{
    for (int i = 0; i < NPSCEN; i++) {
        if (!forks(&pscens[i]))
            continue;
        fault_reset();
        fault_fail_from(FAULT_FORK, 2, EAGAIN); /* 1: the forkserver */
        long injected = run_checked(&pscens[i], FAULT_FORK, EAGAIN, 2, 0);
        CU_ASSERT(injected >= 1);
    }
}

static int w_nap(const void *in, size_t n, acx_buf *out)
{
    nanosleep(&(struct timespec){0, 3000000}, NULL);
    return acx_buf_append(out, in, n);
}

/* Worker forks fail for good after the first worker (EAGAIN, as at
 * RLIMIT_NPROC): the work runs on that one, and the pool does not fork
 * in a loop meanwhile: it tries again only when a task finishes or a
 * worker exits, one fork at a time until one works. */
static void test_procpool_no_fork_loop(void)
{
    struct mark base = base_mark(), now;
    fault_reset();
    fault_fail_from(FAULT_FORK, 3, EAGAIN); /* 1 forkserver, 2 worker */
    acx_procpool_opts o = {.max_workers = 4};
    acx_procpool *p = acx_procpool_new(&o);
    CU_ASSERT_PTR_NOT_NULL_FATAL(p);
    enum { N = 8 };
    acx_future *f[N];
    for (int i = 0; i < N; i++) {
        f[i] = acx_procpool_submit(p, w_nap, "z", 1);
        CU_ASSERT_PTR_NOT_NULL_FATAL(f[i]);
    }
    for (int i = 0; i < N; i++) {
        CU_ASSERT_EQUAL(acx_future_wait(f[i], 10000), 0);
        acx_future_unref(f[i]);
    }
    long calls = fault_calls(FAULT_FORK);
    CU_ASSERT(fault_injected(FAULT_FORK) >= 1);
    /* the first round (max_workers forks), then one probe a task */
    CU_ASSERT(calls <= 1 + o.max_workers + N);
    printf("\n    %ld forks tried for %d tasks of 3 ms", calls, N);
    acx_procpool_free(p);
    fault_reset();
    CU_ASSERT(settled(base, &now));
}

/* Coroutines await a process pool's futures, or run_in_executor and
 * to_thread; the loop's wake-up write for a completion fails at every
 * point, once and twice in a row (the runtime tries three times): the
 * awaiting task still gets its result. */
static void test_procawait_wake_write_every_point(void)
{
    const struct scenario *sc[2] = {procawait_scen, executor_scen};
    for (int i = 0; i < 2; i++)
        for (long span = 1; span <= 2; span++) {
            warm_up(sc[i]);
            long n;
            for (n = 1; n < MAX_POINTS; n++) {
                fault_reset();
                fault_fail_span(FAULT_WAKE_WRITE, n, span, EIO);
                if (run_checked(sc[i], FAULT_WAKE_WRITE, EIO, n, 1) == 0)
                    break;
            }
            printf("\n    %-9s %ld wake-ups failed in turn, %ld in a row",
                   sc[i]->name, n - 1, span);
            CU_ASSERT(n > 1);
        }
}

static int w_square(const void *in, size_t n, acx_buf *out)
{
    return acx_buf_append(out, in, n);
}

/* A process pool's shutdown wakes its manager through an eventfd: the
 * first K of those writes fail (K = 1 .. 8: the three tries of the
 * shutdown, then those of the waiter, which pokes the manager again
 * every 100 ms).  Shutdown still ends; the tasks' results are there. */
static void test_procpool_shutdown_wake_fails(void)
{
    struct mark base = base_mark(), now;
    for (long k = 1; k <= 8; k++) {
        acx_procpool_opts o = {.max_workers = 2};
        acx_procpool *p = acx_procpool_new(&o);
        CU_ASSERT_PTR_NOT_NULL_FATAL(p);
        acx_future *f = acx_procpool_submit(p, w_square, "abc", 3);
        CU_ASSERT_PTR_NOT_NULL_FATAL(f);
        CU_ASSERT_EQUAL(acx_future_wait(f, -1), 0);
        fault_reset();
        fault_fail_span(FAULT_WAKE_WRITE, 1, k, EIO);
        snprintf(watch_what, sizeof watch_what,
                 "procpool shutdown, %ld wake-ups failing", k);
        alarm(WATCHDOG_S);
        CU_ASSERT_EQUAL(acx_procpool_shutdown(p, 1, 0), 0);
        alarm(0);
        CU_ASSERT_EQUAL(fault_injected(FAULT_WAKE_WRITE), k);
        fault_reset();
        const void *d;
        size_t len;
        CU_ASSERT_EQUAL(acx_procpool_result(f, &d, &len), 0);
        CU_ASSERT(len == 3 && memcmp(d, "abc", 3) == 0);
        acx_future_unref(f);
        acx_procpool_free(p);
    }
    CU_ASSERT(settled(base, &now));
}

/* A process pool's workers read their requests in 5-byte pieces, and
 * the n-th read (of any worker, counted across processes) is
 * interrupted, for every n: retried; every result arrives. */
static void test_procpool_worker_read_eintr(void)
{
    const struct scenario *sc[2] = {procpool_scen, pool_proc_scen};
    for (int i = 0; i < 2; i++) {
        warm_up(sc[i]);
        long n;
        for (n = 1; n < MAX_POINTS; n++) {
            fault_reset();
            fault_fail_nth(FAULT_READ, n, EINTR);
            fault_short(FAULT_READ, 5);
            if (run_checked(sc[i], FAULT_READ, EINTR, n, 1) == 0)
                break;
        }
        printf("\n    %-9s %4ld worker reads interrupted in turn",
               sc[i]->name, n - 1);
        CU_ASSERT(n > 20); /* its requests, 5 bytes a read */
    }
}

/* The procpool test hook: a seeded third of the parent's socket calls
 * fail with EINTR (EAGAIN for send), each transfer cut short. */
static unsigned pp_seed;

static int pp_fault(const char *call, size_t *len)
{
    pp_seed = pp_seed * 1103515245u + 12345u;
    unsigned r = pp_seed >> 8;
    if (*len > 1)
        *len = 1 + r % *len;
    switch (r % 6) {
    case 0: return EINTR;
    case 1: return strcmp(call, "send") == 0 ? EAGAIN : 0;
    default: return 0;
    }
}

/* A worker killed in the middle of its task while faults hit elsewhere:
 * the first five wake-up writes fail, epoll waits, the parent's socket
 * calls and the workers' reads are interrupted, transfers cut short.  Only that task fails (-EOWNERDEAD,
 * "killed by signal 9"); the others' results all arrive. */
static void test_prockill_under_faults(void)
{
    const struct scenario *k = &prockill_scen;
    warm_up(k);
    for (unsigned seed = 1; seed <= 6; seed++) {
        fault_reset();
        if (seed % 3 != 2) /* shutdown's three tries, two pokes */
            fault_fail_span(FAULT_WAKE_WRITE, 1, 5, EIO);
        if (seed % 3 != 0)
            fault_fail_random(FAULT_EPOLL_WAIT, 0.3, seed, EINTR);
        fault_fail_random(FAULT_READ, 0.3, seed, EINTR); /* the workers' */
        fault_short(FAULT_READ, 7);
        pp_seed = seed;
        acx__procpool_fault = seed % 2 ? pp_fault : NULL;
        long reads = run_checked(k, FAULT_READ, EINTR, seed, 1);
        acx__procpool_fault = NULL;
        CU_ASSERT(reads > 0); /* the workers' reads were interrupted */
    }
    /* and with the first worker fork failing too: the task goes to a
     * worker that did start, or a later one */
    fault_reset();
    fault_fail_nth(FAULT_FORK, 2, EAGAIN);
    run_checked(k, FAULT_FORK, EAGAIN, 2, 1);
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
                     test_pipe_rw_random) ||
        !CU_add_test(s, "every pool scenario runs clean",
                     test_pools_baseline) ||
        !CU_add_test(s, "pools: allocation n fails, every n",
                     test_pools_alloc_every_point) ||
        !CU_add_test(s, "pools: allocations fail at random",
                     test_pools_alloc_random) ||
        !CU_add_test(s, "process pools: fork n fails, every n",
                     test_pools_fork_every_point) ||
        !CU_add_test(s, "acx_procpool_new: the forkserver's fork fails",
                     test_procpool_new_fork_fails) ||
        !CU_add_test(s, "process pools: every worker fork fails",
                     test_pools_worker_fork_always_fails) ||
        !CU_add_test(s, "process pool: worker forks fail, no fork loop",
                     test_procpool_no_fork_loop) ||
        !CU_add_test(s, "awaited pool futures: wake-up write n fails",
                     test_procawait_wake_write_every_point) ||
        !CU_add_test(s, "procpool shutdown: its wake-up writes fail",
                     test_procpool_shutdown_wake_fails) ||
        !CU_add_test(s, "process pool workers: read n EINTR, every n, short",
                     test_procpool_worker_read_eintr) ||
        !CU_add_test(s, "a worker killed mid-task, under faults",
                     test_prockill_under_faults))
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
    /* The process pools' zygote, forked now while this is the only
     * thread: it and every forkserver it forks share the shim's fork
     * rule (shim.c), so a worker's fork can be made to fail. */
    if (acx_procpool_zygote_start() != 0 ||
        acx_procpool_zygote_method() != 1) {
        fprintf(stderr, "fault: cannot fork the zygote\n");
        return 2;
    }
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
