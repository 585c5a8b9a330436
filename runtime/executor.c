/* executor.c - the thread pool executor (concurrent.futures'
 * ThreadPoolExecutor).
 *
 * The queue is an intrusive lock-free list (Vyukov's multi-producer
 * queue; the node is inside the future, so a submit allocates once):
 * a submit is one atomic exchange on the tail's cache line, which the
 * workers only read, and never waits for a worker.  Workers take items
 * under a consumer lock of their own, a few per round when the queue is
 * long (a small share of it, so that long tasks still spread over the
 * workers).
 *
 * Idle workers: at most one keeps looking at the queue (for IDLE_SPIN_NS,
 * yielding between looks; waking a sleeping thread costs tens of
 * microseconds on an idle vCPU, more than typical work), the others sleep
 * on a futex word.  A submit wakes a sleeper only
 * when nobody spins and no wake-up is already on its way (the WAKING
 * flag), so a burst costs no system call per task; a worker that takes
 * work while more is queued wakes the next one (Go's scheduler does the
 * same), so the workers join in as the backlog grows and stay asleep
 * while one of them keeps up: idle workers cost a busy one nothing.
 *
 * Waking stops at the CPUs: once as many workers are awake as the
 * process may use CPUs, a backlog wakes nobody more (a ninth worker on
 * two CPUs only takes turns with the others: measured, a burst of no-op
 * tasks ran 10-20 % slower on 8 workers than on 1); and below that cap
 * a worker wakes another only while the CPU meter finds a CPU idle (the
 * thread that submits may fill one).  Workers blocked in their tasks
 * (sleeps, I/O: what to_thread is for) must not hold the backlog up, so
 * while the cap or the meter holds work back one sleeping worker keeps a
 * stall watch (Go's sysmon does the same for its Ps): it looks again and
 * again, counts the workers that have sat asleep or blocked in one task
 * since its last look, raises the cap by that many, and wakes workers to
 * match; and it takes work itself when a CPU comes free.
 *
 * Shutdown sets a flag that a submit reads after its exchange (both
 * sequentially consistent): a submit that saw it clear linked its node
 * before the close, so a worker sees it before it may find the queue
 * empty and exit; one that saw it set cancels its own future, and is
 * refused, unless a worker already took the node (the work then runs as
 * accepted).  The submit path thus has one atomic operation, the
 * exchange.
 * Workers start lazily, when work is queued and none is idle.  A worker
 * that reaches max_tasks_per_worker hands over to a fresh thread; exited
 * threads are joined by whoever next takes the worker list in hand.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/futex.h>
#include <linux/membarrier.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "acx_internal.h"

#define IDLE_SPIN_NS 50000 /* how long an idle worker looks before sleeping */
#define BATCH_MAX 16       /* most queued items a worker takes at once */
#define WATCH_NS 500000    /* the stall watch's longest period */
#define METER_NS 100000    /* the CPU meter's longest trust in a sample */
#define WATCH_MIN_NS 20000 /* the stall watch's first period */
#define SKIP_TAKES 15      /* takes a worker turned down skips wake_one */
#define LONG_LOOKS 20      /* looks in one running task that count as stuck */
#define NAME_MAX_LEN 15    /* pthread_setname_np's limit, without the NUL */

struct worker {
    struct worker *next;
    acx_executor *ex;
    pthread_t tid;
    int exited; /* past its last use of the executor: join will not block */
    pid_t os_tid; /* the kernel's id, for its state in /proc (atomic) */
    /* for the stall watch: tasks begun (written by the worker alone),
     * whether it is in one, the count at the watch's last look and the
     * looks since it began its task (the watcher's, under MU) */
    _Alignas(64) unsigned long begun;
    int in_task;
    unsigned long seen;
    unsigned looks;
    int counted; /* in STUCK: its task takes it out again (atomic) */
    /* the batch it runs, open to theft (run_batch, steal) */
    uint32_t block;  /* a word lock: the batch is replaced or robbed */
    uint32_t at;     /* AT(item, state): the worker's progress */
    uint32_t limit;  /* items below it are the worker's (a thief lowers it) */
    uint64_t pubs_seen; /* PUBS at its last look for work to steal */
    acx__work *batch[BATCH_MAX];
};

/* A worker's progress through its batch: item I's refusal (the worker
 * found it stolen and stopped; zero, as a new worker has no batch), its
 * run, or its claim (in flight). */
enum { AT_STOP, AT_RUN, AT_CLAIM };
#define AT(i, st) ((uint32_t)(i) << 2 | (st))

/* Fields with __atomic builtins are plain types (clang rejects them on
 * _Atomic); each group sits on its own cache line, written by one side. */
struct acx_executor {
    /* producers: the queue's tail (the spinning worker watches it), and
     * on a line of its own, as workers read it once per large take, a
     * count of submits: exact with one submitting thread, approximate
     * with several (a plain increment; it sizes takes and nothing else) */
    _Alignas(64) acx__work *qtail;
    _Alignas(64) uint64_t pushed;
    /* consumers, under QMU: the queue's head, and the value of PUSHED
     * that stands for an empty queue (PUSHED - BASE estimates its length;
     * reset whenever a take finds it empty) */
    _Alignas(64) uint32_t qmu; /* a word lock (q_lock) */
    acx__work *qhead;
    uint64_t base;          /* written under QMU, read atomically */
    acx__work stub;         /* the queue's placeholder node */
    void (*race)(acx_executor *, int); /* tests: races to stage */
    /* idle workers; submits read these */
    _Alignas(64) int spinning; /* 0 or 1: a worker looks at the queue */
    int sleepers;           /* workers on (or about to sleep on) WAKE */
    int waking;             /* a wake-up is on its way: do not send more */
    uint32_t wake;          /* futex word of sleeping workers */
    int cpus;               /* awake workers that backlog may wake */
    int stuck;              /* workers the watch found stuck in a task */
    int watcher;            /* sleepers keeping the stall watch: one, but
                             * a request that raced a watch's start may
                             * add a second (a count, so that the first
                             * to end does not hide the other) */
    int watch_wanted;       /* a sleeper is asked to keep it */
    /* the CPU meter (cpu_spare), sampled by one thread at a time */
    _Alignas(64) int64_t meter_t; /* when it last sampled (monotonic ns) */
    int meter_running;      /* runnable threads it found then, or -1 */
    int metering;           /* a thread samples */
    int meter_cpus;         /* CPUs online, or 0: no meter */
    int (*meter_fn)(void);  /* nr_running, or a test's */
    /* workers running a batch of several items (an idle worker looks for
     * work to steal only while some do); its own line, as every batch
     * writes it and submits read the line above */
    _Alignas(64) int batched;
    uint64_t pubs;          /* batches published so far */
    /* the rest, under MU (NWORKERS also read without it) */
    _Alignas(64) pthread_mutex_t mu;
    int nworkers;           /* started and not exited */
    int seq;                /* numbers thread names */
    int shut;               /* closed to submits (atomic) */
    int cancelling;         /* shutdown(cancel_futures): batches too */
    int broken;             /* the initializer's error, or 0 (atomic) */
    int detached;           /* abandoned: workers detached, never joined */
    struct worker *workers;
    acx_executor_opts o;
    char prefix[NAME_MAX_LEN + 1];
};

static int nr_running(void);

static __thread acx_future *cur_work;
static __thread acx_executor *cur_exec; /* the executor this worker serves */

acx_future *acx_executor_current(void)
{
    return cur_work;
}

static int64_t mono_ns(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (int64_t)t.tv_sec * 1000000000 + t.tv_nsec;
}

static int online_cpus(void)
{
    long cpus = sysconf(_SC_NPROCESSORS_ONLN);
    return cpus < 1 ? 1 : (int)cpus;
}

static int default_workers(void)
{
    int cpus = online_cpus();
    return cpus + 4 < 32 ? cpus + 4 : 32;
}

/* The CPUs this process may run on (its affinity mask, as taskset or a
 * container's cpuset leave it). */
static int usable_cpus(void)
{
    cpu_set_t set;
    if (sched_getaffinity(0, sizeof set, &set) == 0 && CPU_COUNT(&set) > 0)
        return CPU_COUNT(&set);
    return online_cpus();
}

acx_executor *acx_executor_new(const acx_executor_opts *opts)
{
    if (opts != NULL && opts->max_workers < 0) {
        errno = EINVAL;
        return NULL;
    }
    acx_executor *ex = aligned_alloc(64, sizeof *ex);
    if (ex == NULL)
        return NULL;
    memset(ex, 0, sizeof *ex);
    if (opts != NULL)
        ex->o = *opts;
    if (ex->o.max_workers == 0)
        ex->o.max_workers = default_workers();
    snprintf(ex->prefix, sizeof ex->prefix, "%s",
             ex->o.thread_name_prefix ? ex->o.thread_name_prefix
                                      : "acxpool");
    ex->o.thread_name_prefix = ex->prefix;
    ex->cpus = usable_cpus();
    if (ex->cpus == online_cpus())
        ex->meter_cpus = ex->cpus;
    ex->meter_fn = nr_running;
    ex->meter_t = INT64_MIN / 2; /* no sample yet */
    ex->qtail = ex->qhead = &ex->stub;
    pthread_mutex_init(&ex->mu, NULL);
    return ex;
}

void acx__executor_set_cpus(acx_executor *ex, int n)
{
    ex->cpus = n < 1 ? 1 : n;
}

void acx__executor_set_meter(acx_executor *ex, int cpus, int (*running)(void))
{
    ex->meter_cpus = cpus;
    ex->meter_fn = running != NULL ? running : nr_running;
}

void acx__executor_race_hook(acx_executor *ex,
                             void (*fn)(acx_executor *, int where))
{
    __atomic_store_n(&ex->race, fn, __ATOMIC_RELAXED);
}

/* ---- the queue ------------------------------------------------------------ */

/* Append W.  Any thread, no lock: the exchange orders the submits; the
 * link after it makes W reachable from its predecessor. */
static void q_link(acx_executor *ex, acx__work *w)
{
    __atomic_store_n(&w->next, NULL, __ATOMIC_RELAXED);
    acx__work *prev = __atomic_exchange_n(&ex->qtail, w, __ATOMIC_SEQ_CST);
    __atomic_store_n(&prev->next, w, __ATOMIC_RELEASE);
}

/* Work queued or being linked.  The tail is not enough: when a take of
 * the last node puts the placeholder behind it just as a submit links
 * its own, the placeholder lands behind the new node and becomes the
 * tail with that node still queued (found: a task submitted as a worker
 * took the one before it sat unseen while that worker ran a long task,
 * and idle workers slept on).  The head, though, is the placeholder only
 * when nothing is queued: it moves to a node before the placeholder goes
 * behind one, so a look that finds the placeholder at the tail then sees
 * a real head.  Sequentially consistent: a worker going idle and a submit
 * each look at what the other wrote first. */
static int q_nonempty(acx_executor *ex)
{
    return __atomic_load_n(&ex->qtail, __ATOMIC_SEQ_CST) != &ex->stub ||
           __atomic_load_n(&ex->qhead, __ATOMIC_SEQ_CST) != &ex->stub;
}

/* Take the oldest node (QMU held).  NULL when there is none, with *BUSY
 * set when a submit is between its exchange and its link: its node is
 * about to be reachable. */
static acx__work *q_pop(acx_executor *ex, int *busy)
{
    acx__work *h = __atomic_load_n(&ex->qhead, __ATOMIC_RELAXED);
    acx__work *n = __atomic_load_n(&h->next, __ATOMIC_ACQUIRE);
    if (h == &ex->stub) {
        if (n == NULL) {
            *busy = q_nonempty(ex);
            return NULL;
        }
        h = n; /* skip the placeholder */
        __atomic_store_n(&ex->qhead, h, __ATOMIC_RELAXED);
        n = __atomic_load_n(&h->next, __ATOMIC_ACQUIRE);
    }
    if (n == NULL) { /* H is the last node */
        if (__atomic_load_n(&ex->qtail, __ATOMIC_ACQUIRE) != h) {
            *busy = 1;
            return NULL;
        }
        void (*race)(acx_executor *, int) =
            __atomic_load_n(&ex->race, __ATOMIC_RELAXED);
        if (__builtin_expect(race != NULL, 0))
            race(ex, ACX__RACE_LAST_POP);
        q_link(ex, &ex->stub); /* the placeholder goes behind it */
        n = __atomic_load_n(&h->next, __ATOMIC_ACQUIRE);
        if (n == NULL) {
            *busy = 1;
            return NULL;
        }
    }
    __atomic_store_n(&ex->qhead, n, __ATOMIC_RELAXED);
    return h;
}

/* The consumers' lock: held for a few pointer moves, by workers only; a
 * word, so that the release is a plain store (a pthread mutex's is an
 * atomic exchange, at every take). */
static void q_lock(acx_executor *ex)
{
    for (int i = 0;; i++) {
        if (__atomic_load_n(&ex->qmu, __ATOMIC_RELAXED) == 0 &&
            !__atomic_exchange_n(&ex->qmu, 1, __ATOMIC_ACQUIRE))
            return;
        if (i < 64)
            ACX__CPU_RELAX();
        else
            sched_yield(); /* the holder lost its CPU */
    }
}

static void q_unlock(acx_executor *ex)
{
    __atomic_store_n(&ex->qmu, 0, __ATOMIC_RELEASE);
}

/* About how many items are queued (for sizing takes and starting
 * workers; never for correctness). */
static uint64_t q_count(acx_executor *ex)
{
    uint64_t in = __atomic_load_n(&ex->pushed, __ATOMIC_RELAXED);
    uint64_t out = __atomic_load_n(&ex->base, __ATOMIC_RELAXED);
    return in > out ? in - out : 0;
}

static size_t queue_share(acx_executor *ex);

/* Take up to MAX items into OUT; with SHARE, only a share of the queue
 * (the counters are read only when more than one item is there: a burst
 * that a worker keeps up with leaves their lines to the submitters).
 * *BUSY: a node is being linked; *END: the executor is closed and its
 * queue empty (a submit that links later is refused: it sees the close). */
static size_t q_take(acx_executor *ex, acx__work **out, size_t max,
                     int share, int *busy, int *end)
{
    size_t k = 0;
    q_lock(ex);
    while (k < max && (out[k] = q_pop(ex, busy)) != NULL) {
        k++;
        if (k == 1 && share && max > 1 &&
            __atomic_load_n(&ex->qhead, __ATOMIC_RELAXED) != &ex->stub) {
            size_t q = queue_share(ex);
            max = q < max ? q : max;
        }
    }
    if (k > 0)
        __atomic_store_n(&ex->base, ex->base + k, __ATOMIC_RELAXED);
    else if (!*busy) {
        __atomic_store_n(&ex->base,
                         __atomic_load_n(&ex->pushed, __ATOMIC_RELAXED),
                         __ATOMIC_RELAXED); /* empty: the count is 0 */
        /* the close, then the queue: a submit that missed the close
         * linked its node before it, so the look sees the node */
        if (__atomic_load_n(&ex->shut, __ATOMIC_SEQ_CST) && !q_nonempty(ex))
            *end = 1;
    }
    q_unlock(ex);
    return k;
}

/* ---- waking workers ------------------------------------------------------- */

static void futex_wake(uint32_t *w, int n)
{
    syscall(SYS_futex, w, FUTEX_WAKE_PRIVATE, n, NULL, NULL, 0);
}

/* Wake up to N sleeping workers: WAKE moves first, so one about to
 * sleep on its old value does not. */
static void wake_sleepers(acx_executor *ex, int n)
{
    __atomic_add_fetch(&ex->wake, 1, __ATOMIC_SEQ_CST);
    futex_wake(&ex->wake, n);
}

/* Workers not asleep (an estimate: both counts move meanwhile). */
static int awake(acx_executor *ex)
{
    return __atomic_load_n(&ex->nworkers, __ATOMIC_RELAXED) -
           __atomic_load_n(&ex->sleepers, __ATOMIC_RELAXED);
}

/* How many awake workers a backlog justifies: one per CPU, plus those
 * the watch found stuck in a task (they use no CPU, or a long task's
 * share of it matters little). */
static int wake_limit(acx_executor *ex)
{
    return ex->cpus + __atomic_load_n(&ex->stuck, __ATOMIC_RELAXED);
}

/* Awake workers that are not stuck: at least one must be, while work is
 * queued, whatever the CPUs do. */
static int productive(acx_executor *ex)
{
    return awake(ex) - __atomic_load_n(&ex->stuck, __ATOMIC_RELAXED);
}

/* The start of a small /proc file PATH into BUF (SIZE bytes, NUL
 * included): 0, or -1 when it cannot be read. */
static int read_proc(const char *path, char *buf, size_t size)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    ssize_t n = read(fd, buf, size - 1);
    close(fd);
    if (n <= 0)
        return -1;
    buf[n] = '\0';
    return 0;
}

/* Threads running or waiting for a CPU, system-wide, now (the fourth
 * field of /proc/loadavg, "running/total"; the reader counts itself);
 * -1 when it cannot tell.  About 1.2 us. */
static int nr_running(void)
{
    char buf[128];
    if (read_proc("/proc/loadavg", buf, sizeof buf) < 0)
        return -1;
    char *p = buf;
    for (int field = 0; field < 3; field++) {
        p = strchr(p, ' ');
        if (p == NULL)
            return -1;
        p++;
    }
    char *end;
    long r = strtol(p, &end, 10);
    return end != p && *end == '/' && r >= 0 && r < INT_MAX ? (int)r : -1;
}

/* The CPU meter: how many CPUs sit idle, from the count of runnable
 * threads on the machine, sampled at most once every METER_NS (a clock
 * read otherwise), or afresh at each of the WATCHER's looks (which does
 * not count itself: the CPU it runs on is the one it would take).
 * Waking a worker when no CPU is idle only makes it take turns with a
 * busy thread: measured, a submitter filling one of two CPUs and a worker
 * the other ran a burst of no-op tasks 5-10 % faster than with a second
 * worker awake, which took a third of the submitter's CPU.  (The
 * process's CPU clock cannot tell: it sees another thread's running time
 * only at scheduler ticks, 4 ms apart here.)  The count is
 * the machine's, so it is trusted only when this process may use every
 * CPU online; with a narrower affinity mask (taskset, a container's
 * cpuset) there is no meter, and where /proc cannot be read a sample
 * finds nothing: every CPU counts as idle then, and the cap alone holds
 * waking back. */
static int cpu_spare(acx_executor *ex, int watcher)
{
    int cpus = ex->meter_cpus;
    if (cpus == 0)
        return ex->cpus;
    int64_t now = mono_ns();
    int running = __atomic_load_n(&ex->meter_running, __ATOMIC_RELAXED);
    if ((watcher ||
         now - __atomic_load_n(&ex->meter_t, __ATOMIC_ACQUIRE) >= METER_NS) &&
        !__atomic_exchange_n(&ex->metering, 1, __ATOMIC_ACQUIRE)) {
        running = ex->meter_fn();
        __atomic_store_n(&ex->meter_running, running, __ATOMIC_RELAXED);
        __atomic_store_n(&ex->meter_t, now, __ATOMIC_RELEASE);
        __atomic_store_n(&ex->metering, 0, __ATOMIC_RELEASE);
    }
    if (running < 0)
        return ex->cpus;
    running -= watcher; /* the CPU it runs on is the one it would use */
    int spare = running >= cpus ? 0 : cpus - running;
    return spare < ex->cpus ? spare : ex->cpus;
}

/* Ask a sleeper to keep the stall watch, unless one keeps it or has
 * been asked already.  The wake-up is any sleeper's: whoever leaves its
 * sleep first takes the request. */
static void arm_watch(acx_executor *ex)
{
    if (__atomic_load_n(&ex->watcher, __ATOMIC_RELAXED) ||
        __atomic_load_n(&ex->watch_wanted, __ATOMIC_RELAXED) ||
        __atomic_exchange_n(&ex->watch_wanted, 1, __ATOMIC_SEQ_CST))
        return;
    wake_sleepers(ex, 1);
}

/* Queued work may need a worker: wake a sleeper unless one spins (it
 * will see the work), a wake-up is already on its way (whoever it wakes
 * takes work and, if more is queued, wakes the next), or a worker is
 * at work and either the awake ones fill the cap or, with METER, the
 * CPU meter finds no CPU idle.  The watch then looks again: for stuck
 * workers, and for a CPU that comes free.  Submits do not meter (a clock
 * read per submit): while a worker is at work they leave the decision
 * to it and to the watch.  Whether it left a sleeper asleep for want
 * of a CPU or room under the cap (the watch is on it). */
static int wake_one(acx_executor *ex, int meter)
{
    if (__atomic_load_n(&ex->spinning, __ATOMIC_SEQ_CST) != 0 ||
        __atomic_load_n(&ex->sleepers, __ATOMIC_SEQ_CST) == 0 ||
        __atomic_load_n(&ex->waking, __ATOMIC_RELAXED) != 0)
        return 0;
    if (productive(ex) > 0 && (!meter || awake(ex) >= wake_limit(ex) ||
                               cpu_spare(ex, 0) == 0)) {
        arm_watch(ex);
        return 1;
    }
    if (__atomic_exchange_n(&ex->waking, 1, __ATOMIC_SEQ_CST) == 0)
        wake_sleepers(ex, 1);
    return 0;
}

static void wake_all(acx_executor *ex)
{
    wake_sleepers(ex, INT_MAX);
}

static int closed(acx_executor *ex)
{
    return __atomic_load_n(&ex->shut, __ATOMIC_ACQUIRE) ||
           __atomic_load_n(&ex->broken, __ATOMIC_ACQUIRE);
}

/* Become the one spinning worker, if none is. */
static int spin_claim(acx_executor *ex)
{
    int zero = 0;
    return __atomic_load_n(&ex->spinning, __ATOMIC_RELAXED) == 0 &&
           __atomic_compare_exchange_n(&ex->spinning, &zero, 1, 0,
                                       __ATOMIC_SEQ_CST, __ATOMIC_RELAXED);
}

/* The spinner looks at the queue's tail (a line submits write once each)
 * until work or a shutdown comes (1) or IDLE_SPIN_NS pass (0).  It yields
 * between looks rather than pausing: on a busy machine the submitter may
 * share its CPU, and a pause loop would hold off the very thread it waits
 * for (measured: 5.4 us round trips instead of 1.6); alone on its CPU a
 * yield returns within a few hundred nanoseconds. */
static int spin_poll(acx_executor *ex)
{
    int64_t t0 = mono_ns();
    for (int i = 0;; i++) {
        if (q_nonempty(ex) || closed(ex))
            return 1;
        sched_yield();
        if ((i & 15) == 15 && mono_ns() - t0 > IDLE_SPIN_NS)
            return 0;
    }
}

/* Sleep until a submit (or shutdown) bumps WAKE.  SLEEPERS goes up before
 * the last look at the queue and a submit reads it after its exchange,
 * so one of them sees the other.  Whoever leaves this clears WAKING: the
 * wake-up it stood for has arrived (or was not needed), and no worker may
 * go to sleep with it set (it would hold every later wake-up off). */
static void worker_sleep(acx_executor *ex, struct worker *me)
{
    uint32_t seen = __atomic_load_n(&ex->wake, __ATOMIC_SEQ_CST);
    __atomic_add_fetch(&ex->sleepers, 1, __ATOMIC_SEQ_CST);
    /* a batch published since this worker last looked may hold work it
     * should steal: the publisher reads SLEEPERS after PUBS, so either it
     * sees us here (and arms the watch) or we see its batch.  A watch
     * asked for keeps us up too: arm_watch sets WATCH_WANTED before it
     * bumps WAKE, so a worker that read WAKE after the bump (its wake-up
     * missed it) sees the request here, instead of sleeping on while
     * every later arm_watch takes the request as in hand (found: work
     * queued behind a sleeping task waited for it, 2 % of rounds) */
    if (__atomic_exchange_n(&ex->waking, 0, __ATOMIC_SEQ_CST) == 0 &&
        !q_nonempty(ex) && !closed(ex) &&
        !__atomic_load_n(&ex->watch_wanted, __ATOMIC_SEQ_CST) &&
        __atomic_load_n(&ex->pubs, __ATOMIC_SEQ_CST) == me->pubs_seen)
        syscall(SYS_futex, &ex->wake, FUTEX_WAIT_PRIVATE, seen, NULL, NULL,
                0);
    __atomic_sub_fetch(&ex->sleepers, 1, __ATOMIC_SEQ_CST);
    __atomic_store_n(&ex->waking, 0, __ATOMIC_SEQ_CST);
}

/* Whether thread TID of this process is running or waiting for a CPU
 * (state R in /proc), rather than asleep or in a blocking call.  When
 * /proc cannot tell (not mounted, out of fds), no: presumed blocked, so
 * that blocking work still gets its threads. */
static int runnable(pid_t tid)
{
    char path[64], buf[128];
    snprintf(path, sizeof path, "/proc/self/task/%d/stat", (int)tid);
    if (read_proc(path, buf, sizeof buf) < 0)
        return 0;
    char *p = strrchr(buf, ')'); /* the name may hold spaces and ')' */
    return p != NULL && p[1] == ' ' && p[2] == 'R';
}

/* The workers stuck in a task: those that have sat in one task since the
 * watch's last look (they began no task in between) and are not running
 * (asleep, in a blocking call), or have run it for LONG_LOOKS looks.  A
 * worker that has run one task across two looks is SLOW (the meter then
 * lets work queued behind it have a worker).  A worker that is only
 * waiting for a CPU is not stuck: on a busy machine a worker preempted for
 * a whole period would otherwise raise the cap and wake another worker to
 * crowd the CPUs further (counted: 245 such false finds in 400 bursts of
 * no-op tasks on 2 CPUs). */
static int count_stuck(acx_executor *ex, int *slow)
{
    int n = 0;
    *slow = 0;
    pthread_mutex_lock(&ex->mu);
    for (struct worker *w = ex->workers; w != NULL; w = w->next) {
        unsigned long b = __atomic_load_n(&w->begun, __ATOMIC_RELAXED);
        int st = 0;
        if (!__atomic_load_n(&w->in_task, __ATOMIC_RELAXED) || b != w->seen)
            w->looks = 0;
        else if (++w->looks >= LONG_LOOKS ||
                 !runnable(__atomic_load_n(&w->os_tid, __ATOMIC_RELAXED)))
            st = 1;
        else if (w->looks >= 2)
            ++*slow;
        __atomic_store_n(&w->counted, st, __ATOMIC_RELAXED);
        n += st;
        w->seen = b;
    }
    pthread_mutex_unlock(&ex->mu);
    return n;
}

/* How many sleepers the watcher should wake besides taking work itself
 * (SLOW: workers found in one running task across two looks), or -1:
 * the cap or the meter holds the queued work back. */
static int watch_room(acx_executor *ex, int slow)
{
    int room = wake_limit(ex) - awake(ex); /* awake counts us */
    if (productive(ex) <= 1)
        return room > 0 ? room : 0; /* only we can run the queue */
    int spare = room >= 0 ? cpu_spare(ex, 1) : 0;
    /* Work queued behind long tasks would wait for them: it gets a
     * worker, CPUs or not.  (Measured: a Pool.map of 8 chunks of ~0.3 ms
     * ran 10-25 % slower when its second worker waited for the caller,
     * busy building chunks, to block: a vCPU that has gone idle takes
     * long to wake on this VM.) */
    if (spare == 0 && room >= 0 && slow > 0)
        return room < 1 ? room : 1;
    if (spare == 0)
        return -1;
    return room < spare - 1 ? room : spare - 1;
}

/* Nothing waits for the watch (no work queued, no batch open to theft):
 * it may end.  It stops first, then looks again, so that a submit that
 * armed no new watch (it saw this one) has its work seen here.  PUBS is
 * read before BATCHED, for the watcher's next sleep (worker_sleep). */
static int watch_done(acx_executor *ex, struct worker *me)
{
    uint64_t pubs = __atomic_load_n(&ex->pubs, __ATOMIC_SEQ_CST);
    if (q_nonempty(ex) || __atomic_load_n(&ex->batched, __ATOMIC_SEQ_CST))
        return 0;
    __atomic_store_n(&ex->stuck, 0, __ATOMIC_RELAXED);
    __atomic_sub_fetch(&ex->watcher, 1, __ATOMIC_SEQ_CST);
    if (q_nonempty(ex) || __atomic_load_n(&ex->batched, __ATOMIC_SEQ_CST)) {
        __atomic_add_fetch(&ex->watcher, 1, __ATOMIC_SEQ_CST);
        return 0;
    }
    me->pubs_seen = pubs;
    return 1;
}

/* The stall watch, kept by a worker that arm_watch asked: while work
 * waits behind the cap or the CPU meter, or in a batch a blocked worker
 * holds, look again and again (after WATCH_MIN_NS, then twice as long
 * each time up to WATCH_NS).  Stuck workers raise the cap; when no awake
 * worker is left that is not stuck, or the cap and an idle CPU allow,
 * the watcher takes work itself and wakes sleepers for the other idle
 * CPUs.  With the queue empty, a stuck worker sends the watcher to steal
 * the rest of its batch.  1 when the watcher should take work (woken,
 * room for it, a theft), 0 when nothing waits any more (it then sleeps
 * again: waking it to watch must not also add it to the workers that
 * the meter and the cap hold to the CPUs). */
static int watch(acx_executor *ex, struct worker *me)
{
    __atomic_add_fetch(&ex->watcher, 1, __ATOMIC_SEQ_CST);
    long period = WATCH_MIN_NS;
    int slow = 0; /* workers that ran one task across the last look */
    for (;;) {
        uint32_t seen = __atomic_load_n(&ex->wake, __ATOMIC_SEQ_CST);
        if (closed(ex))
            break;
        if (watch_done(ex, me))
            return 0;
        int room = q_nonempty(ex) ? watch_room(ex, slow) : -1;
        if (room >= 0) {
            if (room > 0)
                wake_sleepers(ex, room);
            break;
        }
        struct timespec ts = {.tv_sec = 0, .tv_nsec = period};
        period = period * 2 < WATCH_NS ? period * 2 : WATCH_NS;
        __atomic_add_fetch(&ex->sleepers, 1, __ATOMIC_SEQ_CST);
        syscall(SYS_futex, &ex->wake, FUTEX_WAIT_PRIVATE, seen, &ts, NULL,
                0);
        __atomic_sub_fetch(&ex->sleepers, 1, __ATOMIC_SEQ_CST);
        if (__atomic_load_n(&ex->wake, __ATOMIC_SEQ_CST) != seen) {
            /* Woken: work for us.  The wake-up may have been meant for
             * a sleeper (WAKING set, one FUTEX_WAKE): we take its place
             * and clear WAKING as it would have, or every later wake-up
             * would wait for a worker that nobody woke.  It may also have
             * been an arm_watch's, sent as we became the watcher (it
             * read WATCHER before we set it): the request would stand
             * with nobody on it, so it goes on to another sleeper. */
            __atomic_store_n(&ex->waking, 0, __ATOMIC_SEQ_CST);
            if (__atomic_load_n(&ex->watch_wanted, __ATOMIC_SEQ_CST))
                wake_sleepers(ex, 1);
            break;
        }
        int stuck = count_stuck(ex, &slow);
        __atomic_store_n(&ex->stuck, stuck, __ATOMIC_RELAXED);
        if (stuck > 0 && !q_nonempty(ex))
            break; /* a stuck worker's batch may hold work: steal it */
    }
    __atomic_sub_fetch(&ex->watcher, 1, __ATOMIC_SEQ_CST);
    return 1;
}

/* Sleep; keep the stall watch when asked to, and sleep again after it
 * unless it found work for this worker. */
static void worker_idle(acx_executor *ex, struct worker *me)
{
    for (;;) {
        worker_sleep(ex, me);
        if (!__atomic_load_n(&ex->watch_wanted, __ATOMIC_RELAXED) ||
            !__atomic_exchange_n(&ex->watch_wanted, 0, __ATOMIC_SEQ_CST) ||
            watch(ex, me))
            return;
    }
}

/* ---- workers --------------------------------------------------------------- */

static void run_work(acx_executor *ex, acx__work *w)
{
    acx_future *f = acx__work_future(w);
    /* Work a worker took in a batch is still queued work to a caller. */
    if (__atomic_load_n(&ex->cancelling, __ATOMIC_RELAXED))
        acx_future_cancel(f);
    if (acx__future_start(f) == 0) {
        int err = 0;
        cur_work = f;
        void *v = w->fn(w->arg, &err);
        cur_work = NULL;
        acx__future_finish(f, err < 0 ? err : 0, v);
    }
    acx_future_unref(f); /* the queue's reference */
}

/* How many items a worker takes at once (at most MAX): one lock round
 * trip for several small tasks in a burst, yet never more than a small
 * share of the queue, so that the other workers are not starved of long
 * tasks.  Also what it has left before max_tasks_per_worker. */
static size_t batch_max(const acx_executor *ex, unsigned done)
{
    unsigned k = BATCH_MAX;
    if (ex->o.max_tasks_per_worker != 0 &&
        k > ex->o.max_tasks_per_worker - done)
        k = ex->o.max_tasks_per_worker - done;
    return k;
}

static size_t queue_share(acx_executor *ex)
{
    uint64_t k = q_count(ex) / (4 * (uint64_t)ex->o.max_workers);
    return k < 1 ? 1 : k > BATCH_MAX ? BATCH_MAX : (size_t)k;
}

static void drain(acx_executor *ex, int err);
static int spawn_locked(acx_executor *ex);
static void reap_locked(acx_executor *ex);
static void close_locked(acx_executor *ex);

static void name_thread(acx_executor *ex, int n)
{
    char name[NAME_MAX_LEN + 16];
    snprintf(name, sizeof name, "%s_%d", ex->prefix, n);
    name[NAME_MAX_LEN] = '\0'; /* the kernel keeps 15 bytes */
    pthread_setname_np(pthread_self(), name);
}

/* The initializer failed: refuse submits with ERR from now on and fail
 * the work queued. */
static void break_executor(acx_executor *ex, int err)
{
    pthread_mutex_lock(&ex->mu);
    if (ex->broken == 0)
        __atomic_store_n(&ex->broken, err, __ATOMIC_RELEASE);
    close_locked(ex); /* after BROKEN: a refused submit reads it */
    pthread_mutex_unlock(&ex->mu);
    drain(ex, __atomic_load_n(&ex->broken, __ATOMIC_ACQUIRE));
    wake_all(ex);
}

/* ---- batches open to theft ------------------------------------------------
 *
 * A worker that takes several items must not hold them while its current
 * task blocks, so an idle worker may take the rest of its batch.  The
 * worker's claim of each item costs no atomic read-modify-write (one was
 * measured at +20 % CPU per no-op task): it writes AT(i, AT_CLAIM), then
 * reads LIMIT, and runs item i only if i < LIMIT (AT_RUN), else stops
 * (AT_STOP).  A thief lowers LIMIT, then makes every thread of the process
 * pass a memory barrier (membarrier(2), expedited: an IPI to the CPUs
 * running them), then reads AT.  That is Dekker's handshake with the
 * worker's half of the fence paid by the thief: either the worker saw the
 * new LIMIT, or the thief sees the claim.  The thief waits out a claim
 * in flight and takes only what the worker cannot have run.  Without
 * membarrier (kernels before 4.14, valgrind) both sides use full fences.
 * BLOCK keeps a thief from reading a batch while the worker replaces it. */

static int asym_fence = -1; /* membarrier registered (1) or not (0) */

static void asym_init(void)
{
    int ok = syscall(SYS_membarrier, MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED,
                     0, 0) == 0;
    __atomic_store_n(&asym_fence, ok, __ATOMIC_RELEASE);
}

static int asym(void)
{
    static pthread_once_t once = PTHREAD_ONCE_INIT;
    int a = __atomic_load_n(&asym_fence, __ATOMIC_ACQUIRE);
    if (a < 0) {
        pthread_once(&once, asym_init);
        a = __atomic_load_n(&asym_fence, __ATOMIC_ACQUIRE);
    }
    return a;
}

int acx__executor_membarrier(int on)
{
    int was = asym();
    if (on >= 0)
        __atomic_store_n(&asym_fence, on && was, __ATOMIC_RELEASE);
    return was;
}

static void block_lock(struct worker *w)
{
    while (__atomic_exchange_n(&w->block, 1, __ATOMIC_ACQUIRE))
        sched_yield(); /* a thief holds it for a membarrier at most */
}

static void block_unlock(struct worker *w)
{
    __atomic_store_n(&w->block, 0, __ATOMIC_RELEASE);
}

/* The worker's claim of item I: whether it may run it. */
static int claim(struct worker *me, unsigned i, int fence)
{
    if (fence) { /* no membarrier: a full fence between store and load */
        __atomic_store_n(&me->at, AT(i, AT_CLAIM), __ATOMIC_SEQ_CST);
        if (i >= __atomic_load_n(&me->limit, __ATOMIC_SEQ_CST))
            goto stop;
    } else {
        __atomic_store_n(&me->at, AT(i, AT_CLAIM), __ATOMIC_RELAXED);
        __atomic_signal_fence(__ATOMIC_SEQ_CST); /* the thief's barrier */
        if (i >= __atomic_load_n(&me->limit, __ATOMIC_RELAXED))
            goto stop;
    }
    __atomic_store_n(&me->at, AT(i, AT_RUN), __ATOMIC_RELEASE);
    return 1;
stop:
    __atomic_store_n(&me->at, AT(i, AT_STOP), __ATOMIC_RELEASE);
    return 0;
}

/* Run the K (> 1) items of BATCH, claiming each first.  How many this
 * worker ran. */
static size_t run_batch(acx_executor *ex, struct worker *me,
                        acx__work **batch, size_t k)
{
    int fence = !asym();
    block_lock(me);
    for (size_t i = 0; i < k; i++)
        __atomic_store_n(&me->batch[i], batch[i], __ATOMIC_RELAXED);
    __atomic_store_n(&me->limit, (uint32_t)k, __ATOMIC_RELAXED);
    __atomic_store_n(&me->at, AT(0, AT_STOP), __ATOMIC_RELAXED);
    block_unlock(me);
    __atomic_add_fetch(&ex->batched, 1, __ATOMIC_SEQ_CST);
    __atomic_add_fetch(&ex->pubs, 1, __ATOMIC_SEQ_CST);
    if (__atomic_load_n(&ex->sleepers, __ATOMIC_SEQ_CST) > 0)
        arm_watch(ex); /* they looked before: someone must watch it */
    size_t ran = 0;
    for (unsigned i = 0; i < k && claim(me, i, fence); i++) {
        __atomic_store_n(&me->begun, me->begun + 1, __ATOMIC_RELAXED);
        run_work(ex, batch[i]);
        ran++;
    }
    /* AT now says where it ended: a thief in the middle of a theft reads
     * it to learn which items it has taken */
    __atomic_sub_fetch(&ex->batched, 1, __ATOMIC_SEQ_CST);
    return ran;
}

/* Run what a take or a theft gave this worker: how many it ran. */
static size_t run_taken(acx_executor *ex, struct worker *me,
                        acx__work **batch, size_t k)
{
    size_t ran = 1;
    __atomic_store_n(&me->in_task, 1, __ATOMIC_RELAXED);
    if (k == 1) {
        __atomic_store_n(&me->begun, me->begun + 1, __ATOMIC_RELAXED);
        run_work(ex, batch[0]);
    } else {
        ran = run_batch(ex, me, batch, k);
    }
    __atomic_store_n(&me->in_task, 0, __ATOMIC_RELAXED);
    /* no longer stuck: out of the count until the watch's next look */
    if (__atomic_load_n(&me->counted, __ATOMIC_RELAXED) &&
        __atomic_exchange_n(&me->counted, 0, __ATOMIC_RELAXED)) {
        int st = __atomic_load_n(&ex->stuck, __ATOMIC_RELAXED);
        while (st > 0 && !__atomic_compare_exchange_n(&ex->stuck, &st, st - 1,
                                                      1, __ATOMIC_RELAXED,
                                                      __ATOMIC_RELAXED))
            ;
    }
    return ran;
}

/* The worker's progress once no claim is in flight: the first item it
 * has not run and will not run (it refused it, or LIMIT stops it). */
static unsigned settled(struct worker *w)
{
    for (;;) {
        uint32_t a = __atomic_load_n(&w->at, __ATOMIC_ACQUIRE);
        switch (a & 3) {
        case AT_RUN:
            return (a >> 2) + 1;
        case AT_STOP:
            return a >> 2;
        default:
            sched_yield(); /* a claim in flight: its verdict is near */
        }
    }
}

/* Take at most MAX unclaimed items of W's batch into OUT (W->block
 * held): how many. */
static size_t rob(struct worker *w, acx__work **out, size_t max)
{
    unsigned end = __atomic_load_n(&w->limit, __ATOMIC_RELAXED);
    if (end == 0)
        return 0; /* it never ran a batch */
    unsigned from = settled(w);
    if (from >= end)
        return 0;
    if (end - from > max)
        from = end - (unsigned)max; /* the tail: the worker keeps order */
    if (asym()) {
        __atomic_store_n(&w->limit, from, __ATOMIC_RELAXED);
        syscall(SYS_membarrier, MEMBARRIER_CMD_PRIVATE_EXPEDITED, 0, 0);
    } else {
        __atomic_store_n(&w->limit, from, __ATOMIC_SEQ_CST);
    }
    /* claims that missed the new limit ran (or run) on the worker */
    unsigned ran = settled(w);
    if (ran > from)
        from = ran;
    for (unsigned i = from; i < end; i++)
        out[i - from] = __atomic_load_n(&w->batch[i], __ATOMIC_RELAXED);
    return end > from ? end - from : 0;
}

/* Take at most MAX items another worker has claimed in a batch but not
 * begun into OUT: how many.  Called by a worker with nothing else to do,
 * and only while some worker runs a batch (BATCHED). */
static size_t steal(acx_executor *ex, struct worker *me, acx__work **out,
                    size_t max)
{
    size_t n = 0;
    pthread_mutex_lock(&ex->mu); /* the list holds still; one thief */
    for (struct worker *w = ex->workers; w != NULL && n == 0; w = w->next) {
        if (w == me || w->exited)
            continue;
        block_lock(w);
        n = rob(w, out, max);
        block_unlock(w);
    }
    pthread_mutex_unlock(&ex->mu);
    return n;
}

/* Run work until the executor ends or this worker has run its share. */
static void worker_loop(acx_executor *ex, struct worker *me)
{
    unsigned done = 0;
    int spinner = 0;
    unsigned skip = 0; /* takes in a row left before it asks wake_one */
    for (;;) {
        acx__work *batch[BATCH_MAX];
        int busy = 0, end = 0;
        size_t k = q_take(ex, batch, batch_max(ex, done), 1, &busy, &end);
        if (k > 0) {
            if (spinner) {
                spinner = 0;
                __atomic_store_n(&ex->spinning, 0, __ATOMIC_SEQ_CST);
            }
            /* More work: the next worker may join in.  Once turned down
             * (the watch is then on it), it asks again only every
             * SKIP_TAKES takes in a row: the meter's clock read on each
             * take of a burst cost 5 % of a worker's time.  A worker
             * fresh from idling always asks (a submit that saw it woken
             * counts on it to wake the next). */
            if (skip > 0)
                skip--;
            else if (q_nonempty(ex) && wake_one(ex, 1))
                skip = SKIP_TAKES;
            done += (unsigned)run_taken(ex, me, batch, k);
            if (done == ex->o.max_tasks_per_worker)
                break; /* recycle: a fresh thread takes over */
            continue;
        }
        skip = 0;
        if (end || __atomic_load_n(&ex->broken, __ATOMIC_ACQUIRE))
            break;
        if (busy || closed(ex)) { /* a submit is linking its node */
            sched_yield();
            continue;
        }
        /* PUBS first: a batch published after this look wakes us */
        me->pubs_seen = __atomic_load_n(&ex->pubs, __ATOMIC_SEQ_CST);
        if (__atomic_load_n(&ex->batched, __ATOMIC_SEQ_CST) &&
            (k = steal(ex, me, batch, batch_max(ex, done))) > 0) {
            if (spinner) {
                spinner = 0;
                __atomic_store_n(&ex->spinning, 0, __ATOMIC_SEQ_CST);
            }
            done += (unsigned)run_taken(ex, me, batch, k);
            if (done == ex->o.max_tasks_per_worker)
                break;
            continue;
        }
        if (spinner || spin_claim(ex)) {
            spinner = 1;
            if (spin_poll(ex))
                continue;
            spinner = 0;
            __atomic_store_n(&ex->spinning, 0, __ATOMIC_SEQ_CST);
            if (q_nonempty(ex))
                continue; /* a submit saw us spinning: do not sleep */
        }
        worker_idle(ex, me);
    }
    if (spinner)
        __atomic_store_n(&ex->spinning, 0, __ATOMIC_SEQ_CST);
}

static void *worker_main(void *arg)
{
    struct worker *me = arg;
    acx_executor *ex = me->ex;
    cur_exec = ex;
    pthread_mutex_lock(&ex->mu);
    int n = ex->seq++;
    pthread_mutex_unlock(&ex->mu);
    name_thread(ex, n);
    __atomic_store_n(&me->os_tid, (pid_t)syscall(SYS_gettid),
                     __ATOMIC_RELAXED);
    int err = ex->o.initializer ? ex->o.initializer(ex->o.initarg) : 0;
    if (err < 0)
        break_executor(ex, err);
    else
        worker_loop(ex, me);
    pthread_mutex_lock(&ex->mu);
    /* A submit that saw the pool full (before this store) linked its node
     * before it looked: the look at the queue below sees that node. */
    __atomic_store_n(&ex->nworkers, ex->nworkers - 1, __ATOMIC_SEQ_CST);
    reap_locked(ex); /* others that exited; never this one (not marked) */
    int closing = closed(ex);
    if (q_nonempty(ex) && !ex->broken && ex->nworkers < ex->o.max_workers)
        spawn_locked(ex); /* the queue must not be left without workers */
    me->exited = 1;
    pthread_mutex_unlock(&ex->mu);
    if (closing)
        wake_all(ex); /* the others may be done too */
    return NULL;
}

/* Start one worker (MU held). */
static int spawn_locked(acx_executor *ex)
{
    struct worker *w = calloc(1, sizeof *w);
    if (w == NULL)
        return -ENOMEM;
    w->ex = ex;
    int err = pthread_create(&w->tid, NULL, worker_main, w);
    if (err != 0) {
        free(w);
        return -err;
    }
    if (ex->detached)
        pthread_detach(w->tid);
    w->next = ex->workers;
    ex->workers = w;
    __atomic_store_n(&ex->nworkers, ex->nworkers + 1, __ATOMIC_RELAXED);
    return 0;
}

/* Join and free the workers that have exited (MU held: they no longer
 * touch it, so the joins return at once). */
static void reap_locked(acx_executor *ex)
{
    if (ex->detached)
        return;
    for (struct worker **pp = &ex->workers; *pp != NULL;) {
        struct worker *w = *pp;
        if (!w->exited) {
            pp = &w->next;
            continue;
        }
        *pp = w->next;
        pthread_join(w->tid, NULL);
        free(w);
    }
}

/* Refuse submits from now on (MU held). */
static void close_locked(acx_executor *ex)
{
    if (!ex->shut)
        __atomic_store_n(&ex->shut, 1, __ATOMIC_SEQ_CST);
}

/* Complete every queued future with ERR, after the close, until the
 * queue is empty (submits still linking theirs included). */
static void drain(acx_executor *ex, int err)
{
    for (;;) {
        acx__work *w[64];
        int busy = 0, end = 0;
        size_t k = q_take(ex, w, 64, 0, &busy, &end);
        for (size_t i = 0; i < k; i++) {
            acx_future *f = acx__work_future(w[i]);
            if (err == -ECANCELED)
                acx_future_cancel(f);
            else
                acx_future_set_error(f, err);
            acx_future_unref(f);
        }
        if (end)
            return;
        if (k == 0)
            sched_yield();
    }
}

/* Work was queued: start a worker if none is idle for it (MU taken only
 * while the pool is not full).  When no worker exists and none can
 * start: why (-ENOMEM for its record, pthread_create's -EAGAIN). */
static int grow(acx_executor *ex)
{
    pthread_mutex_lock(&ex->mu);
    int err = 0;
    uint64_t idle = (uint64_t)__atomic_load_n(&ex->spinning,
                                              __ATOMIC_SEQ_CST) +
                    (uint64_t)__atomic_load_n(&ex->sleepers,
                                              __ATOMIC_SEQ_CST);
    if (ex->nworkers < ex->o.max_workers && !ex->broken &&
        (idle == 0 || idle < q_count(ex))) {
        reap_locked(ex);
        int e = spawn_locked(ex);
        if (e < 0 && ex->nworkers == 0)
            err = e;
    }
    pthread_mutex_unlock(&ex->mu);
    return err;
}

/* ---- submit ------------------------------------------------------------------ */

/* A submit is refused: drop the caller's reference on F and set errno to
 * the initializer's error or ESHUTDOWN. */
static void refuse(acx_executor *ex, acx_future *f)
{
    int broken = __atomic_load_n(&ex->broken, __ATOMIC_ACQUIRE);
    acx_future_unref(f);
    errno = broken ? -broken : ESHUTDOWN;
}

acx_future *acx_executor_submit(acx_executor *ex, acx_work_fn fn, void *arg)
{
    if (ex == NULL || fn == NULL) {
        errno = EINVAL;
        return NULL;
    }
    /* one reference for the caller, one for the queue (the worker's) */
    acx_future *f = acx__future_new_work(2, fn, arg);
    if (f == NULL)
        return NULL;
    if (__atomic_load_n(&ex->shut, __ATOMIC_ACQUIRE)) {
        refuse(ex, f);
        acx_future_unref(f);
        return NULL;
    }
    __atomic_store_n(&ex->pushed,
                     __atomic_load_n(&ex->pushed, __ATOMIC_RELAXED) + 1,
                     __ATOMIC_RELAXED);
    q_link(ex, acx__future_work(f));
    if (__atomic_load_n(&ex->shut, __ATOMIC_SEQ_CST)) {
        /* Closed while linking: refused, unless a worker has taken the
         * node already (then it runs, and the submit stands). */
        if (acx_future_cancel(f) == 0) {
            refuse(ex, f); /* the queue's reference stays with its node */
            return NULL;
        }
        return f;
    }
    int err = __atomic_load_n(&ex->nworkers, __ATOMIC_SEQ_CST) <
                      ex->o.max_workers
                  ? grow(ex)
                  : 0;
    if (err < 0) {
        /* No worker can run it: it fails (the queue keeps its node and
         * reference until a worker or the executor's end takes it). */
        acx_future_set_error(f, err);
        acx_future_unref(f);
        errno = -err;
        return NULL;
    }
    wake_one(ex, 0);
    return f;
}

/* ---- shutdown ---------------------------------------------------------------- */

/* Join every worker, those that start meanwhile (recycling) included. */
static void join_all(acx_executor *ex)
{
    pthread_mutex_lock(&ex->mu);
    while (ex->workers != NULL) {
        struct worker *w = ex->workers;
        ex->workers = w->next;
        pthread_mutex_unlock(&ex->mu);
        pthread_join(w->tid, NULL);
        free(w);
        pthread_mutex_lock(&ex->mu);
    }
    pthread_mutex_unlock(&ex->mu);
}

int acx_executor_shutdown(acx_executor *ex, int wait, int cancel_futures)
{
    if (ex == NULL)
        return -EINVAL;
    if (wait && cur_exec == ex)
        return -EDEADLK; /* it would wait for itself */
    pthread_mutex_lock(&ex->mu);
    close_locked(ex);
    if (cancel_futures)
        __atomic_store_n(&ex->cancelling, 1, __ATOMIC_RELAXED);
    else if (ex->nworkers == 0 && q_nonempty(ex) && !ex->broken)
        spawn_locked(ex); /* accepted work must not be left unrun */
    pthread_mutex_unlock(&ex->mu);
    if (cancel_futures)
        drain(ex, -ECANCELED);
    wake_all(ex);
    if (wait)
        join_all(ex);
    return 0;
}

int acx__executor_join(acx_executor *ex, int64_t ms)
{
    int64_t until = ms < 0 ? INT64_MAX : mono_ns() + ms * 1000000;
    for (;;) {
        pthread_mutex_lock(&ex->mu);
        int live = ex->nworkers;
        pthread_mutex_unlock(&ex->mu);
        if (live == 0 || ms < 0)
            break;
        if (mono_ns() >= until)
            return -ETIMEDOUT;
        struct timespec nap = {0, 200000}; /* exits are rare: poll */
        nanosleep(&nap, NULL);
    }
    join_all(ex);
    return 0;
}

void acx__executor_abandon(acx_executor *ex)
{
    pthread_mutex_lock(&ex->mu);
    if (!ex->detached) {
        ex->detached = 1;
        /* Records stay: their threads still write to them. */
        for (struct worker *w = ex->workers; w != NULL; w = w->next)
            pthread_detach(w->tid);
    }
    pthread_mutex_unlock(&ex->mu);
}

void acx_executor_free(acx_executor *ex)
{
    if (ex == NULL || cur_exec == ex)
        return; /* from its own work it would free itself under it */
    acx_executor_shutdown(ex, 1, 0);
    /* Nodes left behind by failed submits (their futures are done). */
    int busy = 0;
    for (acx__work *w; (w = q_pop(ex, &busy)) != NULL;) {
        acx_future_cancel(acx__work_future(w));
        acx_future_unref(acx__work_future(w));
    }
    pthread_mutex_destroy(&ex->mu);
    free(ex);
}

int acx_executor_workers(const acx_executor *ex)
{
    if (ex == NULL)
        return -EINVAL;
    acx_executor *e = (acx_executor *)ex;
    pthread_mutex_lock(&e->mu);
    int n = e->nworkers;
    pthread_mutex_unlock(&e->mu);
    return n;
}

int acx_executor_max_workers(const acx_executor *ex)
{
    return ex == NULL ? -EINVAL : ex->o.max_workers;
}
