/* poll_epoll.c - the poller backend: the only file that speaks epoll.
 *
 * The loop sees open, close, wait and wake; everything that waits for a
 * file descriptor (the eventfd that carries thread-safe wake-ups, the
 * signalfd, sockets) is an acx__io watch dispatched from acx__poll_wait.
 * acx_internal.h documents the watch contract (level-triggered, one watch
 * per fd, stale events dropped by generation).
 */
#include <errno.h>
#include <limits.h>
#include <stdatomic.h>
#include <time.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "acx_internal.h"

#define ACX__POLL_BATCH 64

/* ---- our event bits <-> epoll's ------------------------------------------ */

static uint32_t to_epoll(uint32_t ev)
{
    return ((ev & ACX__IO_IN) ? EPOLLIN : 0) |
           ((ev & ACX__IO_OUT) ? EPOLLOUT : 0) |
           ((ev & ACX__IO_RDHUP) ? EPOLLRDHUP : 0) |
           ((ev & ACX__IO_PRI) ? EPOLLPRI : 0);
}

static uint32_t from_epoll(uint32_t ev)
{
    return ((ev & EPOLLIN) ? ACX__IO_IN : 0) |
           ((ev & EPOLLOUT) ? ACX__IO_OUT : 0) |
           ((ev & EPOLLRDHUP) ? ACX__IO_RDHUP : 0) |
           ((ev & EPOLLPRI) ? ACX__IO_PRI : 0) |
           ((ev & EPOLLERR) ? ACX__IO_ERR : 0) |
           ((ev & EPOLLHUP) ? ACX__IO_HUP : 0);
}

/* The event carries (generation, fd) rather than a pointer, so dispatch
 * can tell whether the watch that asked for it still exists. */
static uint64_t io_key(const acx__io *io)
{
    return (uint64_t)io->gen << 32 | (uint32_t)io->fd;
}

/* ---- watches -------------------------------------------------------------- */

/* Make room for FD in the fd-indexed table (doubling: amortised O(1)). */
static int poll_reserve(acx__poll *p, int fd)
{
    if ((uint32_t)fd < p->nfd)
        return 0;
    uint32_t n = p->nfd ? p->nfd : 64;
    while (n <= (uint32_t)fd)
        n *= 2;
    acx__io **v = realloc(p->byfd, (size_t)n * sizeof *v);
    if (v == NULL)
        return -ENOMEM;
    memset(v + p->nfd, 0, (size_t)(n - p->nfd) * sizeof *v);
    p->byfd = v;
    p->nfd = n;
    return 0;
}

static uint32_t next_gen(acx__poll *p)
{
    if (++p->gen == 0) /* 0 means "not watched" */
        ++p->gen;
    return p->gen;
}

int acx__io_add(acx__poll *p, acx__io *io)
{
    if (io->fd < 0 || io->fd >= INT32_MAX)
        return -EBADF;
    if (acx__io_active(io) ||
        ((uint32_t)io->fd < p->nfd && p->byfd[io->fd] != NULL))
        return -EEXIST;
    io->gen = next_gen(p);
    struct epoll_event ev = {.events = to_epoll(io->events),
                             .data.u64 = io_key(io)};
    /* epoll first: a bad fd must not grow the table to its number */
    if (epoll_ctl(p->epfd, EPOLL_CTL_ADD, io->fd, &ev) < 0) {
        io->gen = 0;
        return -errno;
    }
    int err = poll_reserve(p, io->fd);
    if (err) {
        (void)epoll_ctl(p->epfd, EPOLL_CTL_DEL, io->fd, NULL);
        io->gen = 0;
        return err;
    }
    p->byfd[io->fd] = io;
    return 0;
}

int acx__io_modify(acx__poll *p, acx__io *io, uint32_t events)
{
    if (!acx__io_active(io))
        return -ENOENT;
    struct epoll_event ev = {.events = to_epoll(events),
                             .data.u64 = io_key(io)};
    if (epoll_ctl(p->epfd, EPOLL_CTL_MOD, io->fd, &ev) < 0)
        return -errno;
    io->events = events;
    return 0;
}

void acx__io_remove(acx__poll *p, acx__io *io)
{
    if (!acx__io_active(io))
        return;
    /* Fails with EBADF/ENOENT once the fd was closed: epoll dropped it
     * already, and the table entry is what matters here. */
    (void)epoll_ctl(p->epfd, EPOLL_CTL_DEL, io->fd, NULL);
    if ((uint32_t)io->fd < p->nfd && p->byfd[io->fd] == io)
        p->byfd[io->fd] = NULL;
    io->gen = 0;
}

/* ---- the instance ----------------------------------------------------------- */

/* Empty the eventfd so the next wake-up is seen again. */
static void wake_drain(acx__io *io, uint32_t revents)
{
    uint64_t n;
    (void)revents;
    while (read(io->fd, &n, sizeof n) == (ssize_t)sizeof n)
        ;
}

int acx__poll_open(acx__poll *p)
{
    memset(p, 0, sizeof *p);
    p->evfd = -1;
    p->epfd = epoll_create1(EPOLL_CLOEXEC);
    if (p->epfd < 0)
        return -errno;
    p->evfd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (p->evfd < 0) {
        int err = -errno;
        acx__poll_close(p);
        return err;
    }
    p->wake.fd = p->evfd;
    p->wake.events = ACX__IO_IN;
    p->wake.cb = wake_drain;
    int err = acx__io_add(p, &p->wake);
    if (err)
        acx__poll_close(p);
    return err;
}

void acx__poll_close(acx__poll *p)
{
    if (p->evfd >= 0)
        close(p->evfd);
    if (p->epfd >= 0)
        close(p->epfd);
    p->evfd = p->epfd = -1;
    free(p->byfd);
    p->byfd = NULL;
    p->nfd = 0;
}

/* epoll_pwait2 (Linux 5.11) takes a nanosecond timeout, so a timer fires
 * when it is due rather than at the next millisecond; a kernel or seccomp
 * policy without it gets epoll_wait, the timeout rounded up to whole
 * milliseconds (a sleep is never cut short). */
static _Atomic int no_pwait2;

static int poll_syscall(acx__poll *p, struct epoll_event *ev,
                        int64_t timeout_ns)
{
    if (!atomic_load_explicit(&no_pwait2, memory_order_relaxed)) {
        struct timespec ts = {timeout_ns / 1000000000,
                              timeout_ns % 1000000000};
        int n = epoll_pwait2(p->epfd, ev, ACX__POLL_BATCH,
                             timeout_ns < 0 ? NULL : &ts, NULL);
        if (n >= 0 || errno != ENOSYS)
            return n;
        atomic_store_explicit(&no_pwait2, 1, memory_order_relaxed);
    }
    int ms = -1;
    if (timeout_ns >= 0) {
        int64_t m = timeout_ns / 1000000 + (timeout_ns % 1000000 != 0);
        ms = m > INT_MAX ? INT_MAX : (int)m;
    }
    return epoll_wait(p->epfd, ev, ACX__POLL_BATCH, ms);
}

int acx__poll_ns_timeouts(void)
{
    return !atomic_load_explicit(&no_pwait2, memory_order_relaxed);
}

/* Wait up to TIMEOUT_NS (-1: forever) for events and run the callbacks of
 * the watches they are for.  Returns how many events arrived, 0 on timeout
 * or signal (the caller recomputes its timeout and calls again, which is
 * how EINTR is retried), or a negative errno. */
int acx__poll_wait(acx__poll *p, int64_t timeout_ns)
{
    struct epoll_event ev[ACX__POLL_BATCH];
    int n = poll_syscall(p, ev, timeout_ns);
    if (n < 0)
        return errno == EINTR ? 0 : -errno;
    for (int i = 0; i < n; i++) {
        uint32_t fd = (uint32_t)ev[i].data.u64;
        uint32_t gen = (uint32_t)(ev[i].data.u64 >> 32);
        /* An earlier callback may have removed or replaced this watch. */
        acx__io *io = fd < p->nfd ? p->byfd[fd] : NULL;
        if (io != NULL && io->gen == gen)
            io->cb(io, from_epoll(ev[i].events));
    }
    return n;
}

/* Wake a waiting acx__poll_wait; safe from any thread. */
int acx__poll_wake(acx__poll *p)
{
    uint64_t one = 1;
    for (;;) {
        if (write(p->evfd, &one, sizeof one) == (ssize_t)sizeof one)
            return 0;
        if (errno == EAGAIN)
            return 0; /* the counter is full: a wake-up is pending anyway */
        if (errno != EINTR)
            return -errno;
    }
}
