/* poll_epoll.c - the poller backend: the only file that speaks epoll.
 *
 * The loop sees four calls (open, close, wait, wake).  Today it only sleeps
 * until the next timer; the eventfd is the door for thread-safe wake-ups
 * (call_soon_threadsafe, executor completions).
 */
#include <errno.h>
#include <stdint.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "acx_internal.h"

#define ACX__POLL_BATCH 64

int acx__poll_open(acx__poll *p)
{
    p->epfd = epoll_create1(EPOLL_CLOEXEC);
    if (p->epfd < 0)
        return -errno;
    p->evfd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (p->evfd < 0) {
        int err = -errno;
        close(p->epfd);
        return err;
    }
    struct epoll_event ev = {.events = EPOLLIN, .data.fd = p->evfd};
    if (epoll_ctl(p->epfd, EPOLL_CTL_ADD, p->evfd, &ev) < 0) {
        int err = -errno;
        acx__poll_close(p);
        return err;
    }
    return 0;
}

void acx__poll_close(acx__poll *p)
{
    if (p->evfd >= 0)
        close(p->evfd);
    if (p->epfd >= 0)
        close(p->epfd);
    p->evfd = p->epfd = -1;
}

/* Empty the eventfd so the next wake-up is seen again. */
static void poll_drain(acx__poll *p)
{
    uint64_t n;
    while (read(p->evfd, &n, sizeof n) == (ssize_t)sizeof n)
        ;
}

/* Wait up to TIMEOUT_MS (-1: forever) for events.  Returns how many events
 * arrived, 0 on timeout or signal (the caller recomputes its timeout and
 * calls again, which is how EINTR is retried), or a negative errno. */
int acx__poll_wait(acx__poll *p, int timeout_ms)
{
    struct epoll_event ev[ACX__POLL_BATCH];
    int n = epoll_wait(p->epfd, ev, ACX__POLL_BATCH, timeout_ms);
    if (n < 0)
        return errno == EINTR ? 0 : -errno;
    for (int i = 0; i < n; i++)
        if (ev[i].data.fd == p->evfd)
            poll_drain(p);
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
