/* acx_internal.h - what the runtime's modules share and users never see.
 *
 * Tasks, the per-thread loop, the timer heap and the poller backend.  Every
 * name here is acx__ (internal); nothing here is part of the ABI that
 * generated code relies on (that is acx_abi.h).
 */
#ifndef ACX_INTERNAL_H
#define ACX_INTERNAL_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "acx.h"

/* ---- invariants checked in debug builds --------------------------------
 *
 * Built with -DACX_DEBUG (make check-asan does), the runtime checks what
 * must never happen: a frame freed twice, a finished task resumed or made
 * ready, a timer armed while it is armed (it would fire twice).  A broken
 * invariant prints what and where, then aborts.  Without ACX_DEBUG the
 * checks compile to nothing.
 */
#ifdef ACX_DEBUG
#define ACX__CHECK(cond, what)                                             \
    (__builtin_expect(!!(cond), 1) ? (void)0                               \
                                   : acx__invariant_failed(what, __FILE__, \
                                                           __LINE__))
#else
#define ACX__CHECK(cond, what) ((void)0)
#endif
__attribute__((noreturn, cold)) void
acx__invariant_failed(const char *what, const char *file, int line);

/* Debug builds mark a freed block's task header (slab blocks keep it
 * readable: only the first word becomes the free-list link). */
#define ACX__T_FREED (1u << 15)

/* ---- tasks ------------------------------------------------------------ */

_Static_assert(sizeof(struct acx_task) % 16 == 0,
               "the frame after a task must keep malloc's alignment");

static inline acx_coro *acx__task_root(const acx_task *t)
{
    return (acx_coro *)(uintptr_t)(t + 1);
}

static inline acx_task *acx__coro_task(acx_coro *c)
{
    return (acx_task *)(void *)c - 1;
}

/* alloc.c: blocks holding a task header and its root frame. */
void *acx__frame_block(size_t frame_size, const acx__info *info,
                       int *slabbed);
void acx__frame_block_free(void *block, const acx__info *info, int slabbed);

/* Free T's block (the task and its root frame). */
static inline void acx__task_block_free(acx_task *t)
{
#ifdef ACX_DEBUG
    if (t->flags & ACX__T_SLAB) { /* malloc'd blocks: the allocator checks */
        ACX__CHECK(!(t->flags & ACX__T_FREED), "a frame freed twice");
        t->flags |= ACX__T_FREED;
    }
#endif
    acx__frame_block_free(t, ((acx_coro *)(void *)(t + 1))->info,
                          (t->flags & ACX__T_SLAB) != 0);
}

/* Park helper of acx__park (acx_abi.h declares it only inside that inline
 * function; this file-scope prototype is for coro.c). */
void acx__set_top(acx_coro *frame);

/* T's root frame returned: mark it done, wake its awaiters, free it if
 * released. */
void acx__task_finish(acx_task *t);

/* Watch T's end: W->notify runs when T finishes (at once is the caller's
 * business if T is done already).  Unwatch returns 1 if W was still
 * linked (it will not be notified), 0 otherwise. */
void acx__task_watch(acx_task *t, acx__waiter *w);
int acx__task_unwatch(acx_task *t, acx__waiter *w);

/* Set or clear ACX__T_INTR from acx__intr_err(T), which it returns. */
int acx__intr_refresh(acx_task *t);

/* Something made T's suspensions stop (acx_task_cancel, an expired
 * scope): if T is parked in a leaf that can be interrupted, interrupt it
 * and ready T.  A running or ready task sees the flag itself. */
void acx__task_interrupt(acx_task *t);

/* Is T parked (suspended, not queued, not running, not finished)? */
static inline int acx__task_parked(const acx_task *t)
{
    return !(t->flags & (ACX__T_READY | ACX__T_DONE)) && t != acx__cur_task;
}

/* A body returned something that is no ACX__ code: a generator bug. */
__attribute__((noreturn, cold)) void acx__bad_code(const acx_coro *c, int r);

/* Resume T until it suspends or finishes: the driver, inline in the loop
 * because it is the scheduler's hot path.  A finished frame hands control
 * to its parent here rather than by returning into it, so the C stack
 * stays shallow however deep the await chain (ACX__TRAMPOLINE).  The
 * caller sets acx__cur_task = T. */
static inline void acx__task_run(acx_task *t)
{
    ACX__CHECK(!(t->flags & ACX__T_DONE), "a finished task resumed");
    acx_coro *c = t->top;
    for (;;) {
        int r = c->info->body(c);
        if (__builtin_expect(r == ACX__SUSPEND, 1))
            return;
        if (r == ACX__TRAMPOLINE) {
            c = t->top;
            continue;
        }
        if (r != ACX__DONE)
            acx__bad_code(c, r);
        if (c->parent == NULL) {
            acx__task_finish(t);
            return;
        }
        c = t->top = c->parent;
    }
}

/* Free T and every boxed frame of its await chain without running it. */
void acx__task_destroy(acx_task *t);


/* ---- timers: a 4-ary min-heap keyed by (deadline, seq) ----------------- */

typedef struct acx__heap {
    acx__timer **v;
    uint32_t n, cap;
    uint32_t seq; /* next arrival number */
} acx__heap;

#define ACX__NO_SLOT UINT32_MAX /* heap_idx of a timer not in the heap */

void acx__heap_init(acx__heap *h);
void acx__heap_free(acx__heap *h);
int acx__heap_add(acx__heap *h, acx__timer *t);
void acx__heap_remove(acx__heap *h, acx__timer *t);
acx__timer *acx__heap_pop(acx__heap *h);

static inline acx__timer *acx__heap_peek(const acx__heap *h)
{
    return h->n ? h->v[0] : NULL;
}

/* CLOCK_MONOTONIC in nanoseconds. */
int64_t acx__now_ns(void);

/* now + MS milliseconds, saturating at ACX_NEVER instead of overflowing. */
int64_t acx__deadline_after_ms(int64_t ms);

/* Arm a callback timer on this loop's heap at WHEN (0, -ENOMEM), disarm it
 * (safe when not armed). */
int acx__cbtimer_arm(acx__cbtimer *c, int64_t when);
void acx__cbtimer_disarm(acx__cbtimer *c);
/* acx_run's end: free the handles of call_soon/call_later/call_at calls
 * that never ran (asyncio drops them with its loop).  callback.c. */
void acx__calls_drop(acx_loop *l);

/* ---- the poller backend (poll_epoll.c): the loop's only door to epoll -- */

/* An fd watch: FD's readiness for EVENTS calls CB(io, revents) on the loop
 * thread, from acx__poll_wait.  One watch per fd per loop (epoll keeps one
 * registration per fd): a second add on the same fd is -EEXIST, so an
 * object that reads and writes one fd owns one watch for both directions.
 *
 * Level-triggered, like libuv and Redis ae: CB is called on every poll
 * while the condition holds, so a callback that does not consume
 * everything is called again rather than losing the rest; a watch that
 * wants one notification modifies or removes itself in CB.  ERR and HUP
 * are reported whatever EVENTS holds (the kernel always reports them): a
 * callback seeing them must remove the watch or it is called again.
 *
 * Add, modify and remove are O(1) on our side: watches sit in an array
 * indexed by fd, and every registration gets a generation number that
 * rides in the epoll event, so an event for a watch removed (or replaced)
 * by an earlier callback of the same batch is dropped, never delivered to
 * freed memory.  Remove a watch before closing its fd. */
enum {
    ACX__IO_IN = 1u << 0,    /* readable (or a peer closed: read sees EOF) */
    ACX__IO_OUT = 1u << 1,   /* writable */
    ACX__IO_RDHUP = 1u << 2, /* the peer shut down its writing side */
    ACX__IO_PRI = 1u << 3,   /* exceptional condition (out-of-band data) */
    ACX__IO_ERR = 1u << 4,   /* error (revents only) */
    ACX__IO_HUP = 1u << 5,   /* hang-up (revents only) */
};

typedef struct acx__io acx__io;
struct acx__io {
    int fd;
    uint32_t events;                         /* ACX__IO_IN | OUT | ... */
    void (*cb)(acx__io *io, uint32_t revents);
    uint32_t gen; /* set by add: 0 while not watched */
};

typedef struct acx__poll {
    int epfd;          /* the epoll instance */
    int evfd;          /* eventfd: wakes a waiting loop from any thread */
    acx__io wake;      /* the eventfd's own watch */
    acx__io **byfd;    /* watches indexed by fd */
    uint32_t nfd;      /* slots in byfd */
    uint32_t gen;      /* the last generation handed out */
} acx__poll;

int acx__poll_open(acx__poll *p);
void acx__poll_close(acx__poll *p);
int acx__poll_wait(acx__poll *p, int64_t timeout_ns);
/* Whether waits take nanosecond timeouts (epoll_pwait2), or fell back to
 * milliseconds (an old kernel, valgrind, a seccomp filter). */
int acx__poll_ns_timeouts(void);
int acx__poll_wake(acx__poll *p);

/* Watch IO->fd for IO->events (IO->cb set by the caller).  Returns 0,
 * -EBADF (not an open fd), -EEXIST (the fd is watched already), -EPERM
 * (epoll cannot watch it: a regular file), -ENOMEM.  Loop thread. */
int acx__io_add(acx__poll *p, acx__io *io);
/* Change what a watch waits for (0 leaves only ERR and HUP). */
int acx__io_modify(acx__poll *p, acx__io *io, uint32_t events);
/* Stop watching (safe when not watched, and after the fd was closed). */
void acx__io_remove(acx__poll *p, acx__io *io);
static inline int acx__io_active(const acx__io *io)
{
    return io->gen != 0;
}

/* ---- per-task extras: what few tasks need, kept out of the header ----- */

typedef struct acx__extra {
    acx_task *task;
    char *name;       /* acx_task_set_name, or NULL: the coroutine's name */
    acx_scope *scope; /* innermost open scope (timeout, shield, group) */
} acx__extra;

/* T's extras; CREATE makes them (NULL when out of memory). */
acx__extra *acx__extra_get(acx_task *t, int create);
/* Forget T's extras (it is being freed). */
void acx__extra_drop(acx_task *t);

/* ---- scopes (scope.c) -------------------------------------------------- */

/* Close every scope T still has open (it finished without closing them). */
void acx__scopes_abandon(acx_task *t);

/* Close T's scopes that live inside boxed FRAME, about to be freed. */
void acx__scopes_release_range(acx_task *t, const acx_coro *frame);

/* Open S (kind ACX__SCOPE_*) on the running task, close it, and fire it
 * with ERR: from then on the task's suspensions inside S stop with ERR. */
int acx__scope_begin(acx_scope *s, int kind);
void acx__scope_end(acx_scope *s);
void acx__scope_fire(acx_scope *s, int err);

/* ---- thread-safe posts to a loop --------------------------------------- */

/* A node another thread hands to a loop; RUN is called on the loop thread
 * with DISCARD set when the loop closes before running it. */
typedef struct acx__post {
    struct acx__post *next;
    void (*run)(struct acx__post *p, int discard);
} acx__post;

/* Push P to L's inbox and wake L if it sleeps.  Any thread.  -ESHUTDOWN
 * when L has closed (P is not taken). */
int acx__loop_post(acx_loop *l, acx__post *p);

/* ---- futures ------------------------------------------------------------ */

/* For executors: claim F for running (0); -ECANCELED when it was cancelled
 * first (the work must not run), -EALREADY when it runs or ran already. */
int acx__future_start(acx_future *f);
/* Complete F with STATUS and VALUE, which F then owns: VALUE is kept even
 * for an error (a process pool's crash report) and VFREE(VALUE) runs when
 * F's last reference goes.  -EALREADY (VALUE not taken) if F is done. */
int acx__future_complete_owned(acx_future *f, int status, void *value,
                               void (*vfree)(void *));

/* Complete F, claimed by acx__future_start, with its work's outcome
 * (STATUS 0 and VALUE, or a negative errno): the cheap path of
 * acx_future_set_result/set_error for the thread that runs the work.
 * -EALREADY when another completer got there first. */
int acx__future_finish(acx_future *f, int status, void *value);

/* An executor's queue node, inside its future (submit allocates nothing
 * else).  NEXT is read and written with __atomic builtins: producers link
 * it while a consumer reads it. */
typedef struct acx__work {
    struct acx__work *next;
    acx_work_fn fn;
    void *arg;
} acx__work;

/* futmem.c: memory for a future of SIZE bytes (NULL when out of memory),
 * and its release, from any thread. */
void *acx__futmem_get(size_t size);
void acx__futmem_put(void *p, size_t size);

/* A new pending future with REFS references and its work node filled in
 * (NULL when out of memory); the node of F, and F of a node. */
acx_future *acx__future_new_work(int refs, acx_work_fn fn, void *arg);
acx__work *acx__future_work(acx_future *f);
acx_future *acx__work_future(acx__work *w);

/* The pause hint for a spin-wait (it frees the core's other hyperthread). */
#if defined(__x86_64__) || defined(__i386__)
#define ACX__CPU_RELAX() __builtin_ia32_pause()
#else
#define ACX__CPU_RELAX() __asm__ __volatile__("" ::: "memory")
#endif

/* acx_run ends (its tasks have finished): shut this thread's default
 * executor down with a bounded wait (asyncio's shutdown_default_executor). */
void acx__default_executor_close(void);

/* Join EX's workers (after a shutdown) if they all exit within MS (< 0:
 * no limit); -ETIMEDOUT, and nothing joined, if not. */
int acx__executor_join(acx_executor *ex, int64_t ms);

/* Give EX up to its running work: its threads are detached and end on
 * their own; EX must then never be freed. */
void acx__executor_abandon(acx_executor *ex);

/* Tests: let EX's backlog wake at most N awake workers (normally the
 * CPUs the process may use), so that the stall watch can be tested on
 * any machine. */
void acx__executor_set_cpus(acx_executor *ex, int n);

/* Tests: give EX's CPU meter CPUS CPUs and RUNNING as its count of
 * runnable threads (NULL: the machine's); CPUS 0 turns the meter off. */
void acx__executor_set_meter(acx_executor *ex, int cpus, int (*running)(void));

/* Tests: stage a race in EX.  FN(EX, WHERE) runs, in the thread that
 * gets there, at the moment WHERE names (NULL: off):
 *   ACX__RACE_LAST_POP: a take of the last queued node is about to put
 *     the queue's placeholder behind it (under the consumers' lock; a
 *     submit here lands its node before the placeholder). */
enum { ACX__RACE_LAST_POP };
void acx__executor_race_hook(acx_executor *ex,
                             void (*fn)(acx_executor *, int where));

/* Tests: whether batches are guarded by membarrier(2) (1) or by full
 * fences on both sides (0, as without membarrier); ON 0 switches to the
 * fences, 1 back (if membarrier works), -1 only asks.  Only while no
 * executor runs a batch. */
int acx__executor_membarrier(int on);

/* ---- the loop --------------------------------------------------------- */

/* A node of the loop's list of memory to free later (acx__defer_free). */
typedef struct acx__deferred {
    struct acx__deferred *next;
    uint64_t due; /* the round after which it is freed */
    void *p;
} acx__deferred;

struct acx_loop {
    acx__heap timers;  /* (the ready FIFO is acx__readyq, in acx_abi.h) */
    acx_task **tasks; /* registry of live tasks, for teardown */
    uint32_t ntasks, cap;
    uint32_t live;     /* registered tasks not finished */
    uint32_t external; /* parked waits that another thread or the kernel
                        * ends (futures, fds, signals): no stall while > 0 */
    acx__poll poll;
    acx_task *main;
    acx__extra **xv;   /* extras: open addressing by task pointer */
    uint32_t xn, xcap;
    acx__post *_Atomic inbox; /* LIFO of posts; ACX__CLOSED when closed */
    _Atomic int refs;
    _Atomic int stop;         /* acx_loop_stop was called */
    int shutting_down;        /* main finished: the rest are cancelled */
    int stalled;              /* a stall was reported */
    struct acx__sigs *sigs;   /* Unix signals (unixsig.c), or NULL */
    uint64_t rounds;          /* rounds of the ready queue run so far */
    acx__deferred *deferred;  /* memory freed two rounds later */
    uint32_t poll_skip;       /* rounds until the next look at the clock
                               * for an I/O check while tasks are ready */
    int64_t last_poll;        /* when the poller was last asked */
};

/* Free P (with free) once every task ready now has run: two rounds of the
 * ready queue later, or when the loop ends.  For objects that a task
 * already woken but not yet run may still look at (a closed socket).  D
 * is the list node, inside P itself, so deferring cannot fail.  Loop
 * thread. */
void acx__defer_free(acx_loop *l, acx__deferred *d, void *p);

#define ACX__CLOSED ((acx__post *)(uintptr_t)1)

/* The loop running in this thread, or NULL. */
extern __thread acx_loop *acx__loop_cur;

/* Append T to the ready FIFO of this thread's loop (no-op if queued). */
static inline void acx__ready(acx_task *t)
{
    ACX__CHECK(!(t->flags & ACX__T_DONE), "a finished task made ready");
    acx__ready_task(t);
}

/* The info of a hand-written leaf whose frame TYPE holds `int acx__ret`:
 * defines STORAGE const acx__info VAR (STORAGE empty or static) and its
 * int view of the result.  Every runtime leaf uses it. */
#define ACX__LEAF_INFO_AS(storage, var, type, fname, body_fn, cancel_fn,   \
                          describe_fn)                                     \
    static int var##_result(const acx_coro *c)                             \
    {                                                                      \
        return ((const type *)c)->acx__ret;                                \
    }                                                                      \
    storage const acx__info var = {                                        \
        .body = body_fn,                                                   \
        .name = fname,                                                     \
        .file = "<runtime>",                                               \
        .size = sizeof(type),                                              \
        .ret_offset = offsetof(type, acx__ret),                            \
        .ret_size = sizeof(int),                                           \
        .result_int = var##_result,                                        \
        .align = _Alignof(type),                                           \
        .cancel = cancel_fn,                                               \
        .describe = describe_fn,                                           \
    }

int acx__registry_add(acx_loop *l, acx_task *t);
void acx__registry_del(acx_loop *l, acx_task *t);

/* ---- introspection and Unix signals (debug.c, unixsig.c) -------------- */

/* The slow-step threshold in ns, 0: off.  loop_step reads it once per
 * step (the only cost of debug mode when off). */
extern _Atomic int64_t acx__slow_step_ns;

/* Run T's step timed, and report it if it was slow (debug mode). */
void acx__task_run_timed(acx_task *t);

/* acx_run's loop L starts (environment settings, the dump signal) and
 * ends (signals released, their mask restored). */
void acx__debug_start(acx_loop *l);
void acx__sigs_start(acx_loop *l);
void acx__sigs_close(acx_loop *l);
/* Main finished: handlers stop counting as outside wake sources, so a
 * task that does not end when cancelled is reported, not waited for. */
void acx__sigs_shutdown(acx_loop *l);

/* Dump every task on this thread's report stream (the dump signal). */
void acx__dump_report(acx_loop *l);

/* Report a stall of L on the report stream: every suspended task. */
void acx__stall_report(acx_loop *l);

/* ---- pidfds, or not (proc.c; used by zygote.c and procpool.c) --------- */

/* pidfd_open(PID): a pidfd, or -errno; -ENOSYS once pidfds are known not
 * to work here (the first ENOSYS, or EPERM from a seccomp filter, is
 * remembered for the life of the process: one probe, not one failing
 * syscall per child) or while the fallback is forced. */
int acx__pidfd_open(pid_t pid);

/* 1 when new children must be watched without pidfds: they are known
 * not to work, or the fallback is forced.  Any thread. */
int acx__pidfd_off(void);

/* Test hook: ON nonzero makes every later spawn (and every process pool
 * worker reported from now on) use the no-pidfd paths, as on a kernel
 * before 5.3 or under valgrind; 0 restores the probe.  A function rather
 * than an environment variable so that one test binary runs the same
 * tests both ways, and a child already spawned keeps the watch it got.
 * Any thread. */
void acx__proc_force_nopidfd(int on);

#endif
