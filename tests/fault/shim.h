/* shim.h - a test-only shim that makes the runtime's calls fail on demand.
 *
 * The fault test binary is linked with -Wl,--wrap=NAME for every call
 * listed in enum fault_call (see FAULT_WRAP in the Makefile), so each call
 * that libacx.a's objects (and the test's own) make goes through
 * shim.c's __wrap_NAME first; glibc's internal calls do not.  A rule per
 * call decides whether this call fails (with a chosen errno) or, for
 * read/write, transfers fewer bytes.  Rules are set between runs, from
 * the test's thread; the counters are atomic (executor workers allocate
 * too).
 *
 * The rules of fork, read and write are shared with the copies of this
 * program forked from it (a process pool's zygote, forkservers and
 * workers: shim.c): FAULT_FORK counts and fails the forks those make,
 * the forkserver's fork of a worker included, and FAULT_READ/FAULT_WRITE
 * a worker's reads and writes on its socket.  The other rules stay this
 * process's own.
 */
#ifndef ACX_FAULT_SHIM_H
#define ACX_FAULT_SHIM_H

#include <stddef.h>

enum fault_call {
    FAULT_ALLOC,       /* malloc, calloc, realloc, aligned_alloc, strdup */
    FAULT_EPOLL_WAIT,  /* epoll_wait and epoll_pwait2 */
    FAULT_READ,        /* read(2) on any fd but an eventfd */
    FAULT_WRITE,       /* write(2) on any fd but an eventfd */
    FAULT_ACCEPT,      /* accept4 */
    FAULT_EVENTFD,     /* eventfd(2) itself */
    FAULT_WAKE_WRITE,  /* write(2) on an eventfd: a cross-thread wake-up */
    FAULT_FORK,        /* fork */
    FAULT_NCALLS
};

/* Forget every rule and zero every counter (the live-allocation count is
 * kept: it is a running balance). */
void fault_reset(void);

/* Stop injecting (every rule off) but keep the counters: a scenario
 * calls it once the faulty part is over, to check that the same pool then
 * still serves. */
void fault_disarm(void);

/* The N-th call of C from now (1-based) fails with ERR (a positive errno);
 * EVERY: that call and all later ones. */
void fault_fail_nth(enum fault_call c, long n, int err);
void fault_fail_from(enum fault_call c, long n, int err);
/* Calls N .. N + LEN - 1 of C fail with ERR (LEN in a row). */
void fault_fail_span(enum fault_call c, long n, long len, int err);

/* Each call of C fails with ERR with probability P, drawn from a
 * generator seeded with SEED (the same seed: the same calls fail). */
void fault_fail_random(enum fault_call c, double p, unsigned seed, int err);

/* read/write (FAULT_READ, FAULT_WRITE): move at most MAX bytes a call
 * (0: no limit). */
void fault_short(enum fault_call c, size_t max);

/* How many calls of C were seen, and how many of them were made to fail,
 * since the last fault_reset. */
long fault_calls(enum fault_call c);
long fault_injected(enum fault_call c);

/* Blocks handed out by the wrapped allocators and not yet given to the
 * wrapped free: compare before and after a run to find a leak. */
long fault_live_allocs(void);

/* The name of C for messages ("malloc", "epoll_wait", ...). */
const char *fault_name(enum fault_call c);

#endif
