/* acx_throttle.h - the token bucket: a rate and a burst shared by many
 * threads and coroutines.  Included by acx.h.
 *
 * The model is the "reservation" token bucket (GCRA, as Go's x/time/rate):
 * the bucket keeps the virtual time at which it would be empty again; a
 * caller admitted now advances it, a caller that must wait reserves its
 * slot by advancing it and then sleeps until exactly that slot, so a late
 * wake-up never loses a token and waiters are served in arrival order.
 * Refill is lazy, from CLOCK_MONOTONIC; there is no background thread and
 * no allocation per call.  Over any run the admitted count stays within
 * burst + rate x elapsed (+ one token of rounding), and a caller that keeps
 * asking is admitted at that rate to within 0.1%.
 *
 * Token counts are doubles: fractional rates (0.5/s) and fractional
 * requests (n = 0.25) are fine.  Limits: 0 < rate <= 1e9 per second,
 * burst >= 1, and burst / rate (the time a full bucket takes to refill)
 * at most about 200 days.
 *
 * Every call below may be made from any thread, concurrently, unless it
 * says otherwise.
 */
#include "acx.h" /* alone, this part brings all of acx.h, in its order */

#ifndef ACX_THROTTLE_H
#define ACX_THROTTLE_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct acx_throttle acx_throttle;

/* A bucket that refills RATE tokens per second up to BURST tokens; it
 * starts full.  Returns NULL with errno EINVAL when RATE is not a finite
 * number in (0, 1e9] or BURST is not finite and >= 1, or the refill time
 * burst / rate is over about 200 days; ENOMEM when out of memory. */
acx_throttle *acx_throttle_new(double rate, double burst);

/* Free T.  No thread may be using T, or use it after.  NULL is ignored. */
void acx_throttle_free(acx_throttle *t);

/* Take N tokens if the bucket holds them now, without waiting.  Returns 0
 * (taken), -EAGAIN (not enough tokens, or others are waiting: they come
 * first), -EINVAL (T NULL, N not a finite number > 0, or N > burst, which
 * could never be admitted).  Lock-free: one atomic compare-and-swap. */
int acx_throttle_try_acquire(acx_throttle *t, double n);

/* Take N tokens, blocking the calling thread until they are admitted;
 * callers that must wait are admitted in the order they arrived.  Returns
 * 0, -EINVAL (as acx_throttle_try_acquire: N > burst is an error, never a
 * hang), -EAGAIN (the callers already waiting hold more than about a year
 * of tokens).  Not for a loop thread: a coroutine awaits instead. */
int acx_throttle_acquire(acx_throttle *t, double n);

/* As acx_throttle_acquire, but give up at DEADLINE_NS, an absolute
 * CLOCK_MONOTONIC time in nanoseconds (the throttle's clock when one is
 * set with acx_throttle_set_clock).  Returns 0 (admitted, at the latest at
 * the deadline), -ETIMEDOUT (it could not be admitted by then: decided at
 * once when the slot it would get is later than the deadline, or when a
 * rate change pushes its slot past the deadline; no tokens are taken
 * either way), or the errors of acx_throttle_acquire.  A past deadline
 * behaves as acx_throttle_try_acquire, with -ETIMEDOUT for -EAGAIN. */
int acx_throttle_acquire_until(acx_throttle *t, double n,
                               int64_t deadline_ns);

/* await acx_throttle_wait(t, n): the awaitable acquire for coroutines.
 * Takes N tokens, suspending the task (never the thread) until they are
 * admitted; coroutine and thread waiters share one arrival order.  The
 * wait is a loop timer at the reserved slot, re-armed when a rate change
 * (from any thread) moves the slot.  Returns 0, the errors of
 * acx_throttle_acquire, or -ECANCELED / -ETIMEDOUT when the task is
 * interrupted while waiting: its tokens are then given back (later
 * waiters move up), unless its slot had already come (then it returns 0:
 * admitted).  Loop thread. */
ACX_ASYNC_DECL(int, acx_throttle_wait, (acx_throttle * t, double n));

/* Change the refill rate while the bucket is in use.  The tokens the bucket
 * holds now (or owes to waiters) are kept; callers waiting have their slots
 * recomputed at the new rate (so a faster rate wakes them sooner, and an
 * acx_throttle_acquire_until whose slot moves past its deadline fails with
 * -ETIMEDOUT and gives its tokens back).  Returns 0 or -EINVAL (T NULL,
 * RATE out of range as for acx_throttle_new). */
int acx_throttle_set_rate(acx_throttle *t, double rate);

/* Change the burst while the bucket is in use.  The tokens the bucket holds
 * are kept, capped at the new burst; a larger burst fills as tokens come
 * in.  Waiting callers keep their slots (their debt is unchanged), even a
 * waiter asking for more than the new burst: it was valid when it
 * arrived.  Returns 0 or -EINVAL (T NULL, BURST out of range as for
 * acx_throttle_new). */
int acx_throttle_set_burst(acx_throttle *t, double burst);

/* The tokens in the bucket now, for introspection: at most the burst, and
 * negative while waiters hold reservations (minus the tokens they are
 * owed).  Returns 0 for NULL. */
double acx_throttle_tokens(acx_throttle *t);

/* The current rate (tokens per second) and burst; 0 for NULL. */
double acx_throttle_rate(const acx_throttle *t);
double acx_throttle_burst(const acx_throttle *t);

/* Test and simulation hook: read time from NOW_NS(ARG), nanoseconds on a
 * clock that never goes back, instead of CLOCK_MONOTONIC; NULL restores the
 * real clock.  The bucket is full again at the new clock's current time.
 * Deadlines passed to acx_throttle_acquire_until are then on this clock.  Pair it with acx_throttle_set_sleep: without a sleep hook a
 * waiter on a simulated clock polls it with sched_yield().  Not
 * thread-safe: call before T is shared, with no caller inside T. */
void acx_throttle_set_clock(acx_throttle *t, int64_t (*now_ns)(void *),
                            void *arg);

/* Test and simulation hook: a waiter sleeps by calling SLEEP_UNTIL(ARG,
 * DEADLINE_NS), which should return at DEADLINE_NS on the throttle's clock
 * (a simulation advances its clock there); the waiter then reads the clock
 * again, and calls it again if its slot is still ahead.  With a sleep hook
 * a waiter is not woken early by a rate change: it notices at its old slot.
 * NULL restores the real sleep (an absolute CLOCK_MONOTONIC futex wait that
 * a rate change interrupts).  Not thread-safe: as acx_throttle_set_clock. */
void acx_throttle_set_sleep(acx_throttle *t,
                            void (*sleep_until)(void *, int64_t),
                            void *arg);

#ifdef __cplusplus
}
#endif
#endif
