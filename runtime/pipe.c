/* pipe.c - acx_sock over descriptors that are not sockets: pipes, FIFOs,
 * ttys, eventfds, character devices that poll.
 *
 * Such an acx_sock is the same object with the same shared watch; only
 * its two data calls differ (read(2)/write(2) instead of recv/send, chosen
 * by the `nonsock` flag in netio.c).  A write(2) to a pipe nobody reads
 * raises SIGPIPE, which send's MSG_NOSIGNAL avoids for sockets; here the
 * write runs with SIGPIPE blocked in the calling thread, and a SIGPIPE the
 * write raised is taken back before the mask is restored, so a dead
 * reader is -EPIPE, never a signal (two extra system calls per pipe
 * write; sockets do not pay them).
 */
#define _GNU_SOURCE /* pipe2 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/epoll.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "net_internal.h"

static int fault(const char *call, size_t *len)
{
    return acx__net_fault ? acx__net_fault(call, len) : 0;
}

ssize_t acx__fd_read(int fd, void *buf, size_t n)
{
    for (;;) {
        size_t len = n;
        int e = fault("read", &len);
        ssize_t r = e ? (errno = e, -1) : read(fd, buf, len);
        if (r >= 0)
            return r;
        if (errno != EINTR)
            return -errno;
    }
}

/* write(2) with SIGPIPE held off: -EPIPE instead of the signal.  A
 * thread that blocks SIGPIPE itself keeps whatever the write raised
 * pending, as it asked. */
static ssize_t write_nosigpipe(int fd, const void *buf, size_t n)
{
    sigset_t pipe_set, old;
    sigemptyset(&pipe_set);
    sigaddset(&pipe_set, SIGPIPE);
    pthread_sigmask(SIG_BLOCK, &pipe_set, &old);
    ssize_t r = write(fd, buf, n);
    int e = errno;
    if (r < 0 && e == EPIPE && !sigismember(&old, SIGPIPE)) {
        /* The kernel sent SIGPIPE to this thread: it is pending now. */
        static const struct timespec zero = {0, 0};
        while (sigtimedwait(&pipe_set, NULL, &zero) < 0 && errno == EINTR)
            ;
    }
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    errno = e;
    return r;
}

ssize_t acx__fd_write(int fd, const void *buf, size_t n)
{
    for (;;) {
        size_t len = n;
        int e = fault("write", &len);
        ssize_t r = e ? (errno = e, -1) : write_nosigpipe(fd, buf, len);
        if (r >= 0)
            return r;
        if (errno != EINTR)
            return -errno;
    }
}

acx_sock *acx__fd_sock_new(int fd)
{
    acx_sock *s = acx__sock_new(fd);
    if (s != NULL)
        s->nonsock = 1;
    return s;
}

int acx_pipe(acx_sock *out[2])
{
    if (out == NULL)
        return -EINVAL;
    out[0] = out[1] = NULL;
    int fds[2];
    if (pipe2(fds, O_CLOEXEC | O_NONBLOCK) < 0)
        return -errno;
    out[0] = acx__fd_sock_new(fds[0]);
    out[1] = acx__fd_sock_new(fds[1]);
    if (out[0] == NULL || out[1] == NULL) {
        if (out[0] != NULL)
            acx_sock_close(out[0]);
        else
            close(fds[0]);
        if (out[1] != NULL)
            acx_sock_close(out[1]);
        else
            close(fds[1]);
        out[0] = out[1] = NULL;
        return -ENOMEM;
    }
    return 0;
}

/* Can epoll watch FD?  0, or epoll_ctl's error: -EPERM for regular files
 * and directories (always "ready", so the kernel refuses them), and for
 * devices without a poll method (/dev/null). */
static int pollable(int fd)
{
    int ep = epoll_create1(EPOLL_CLOEXEC);
    if (ep < 0)
        return -errno;
    struct epoll_event ev = {.events = 0};
    int err = epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev) < 0 ? -errno : 0;
    close(ep);
    return err;
}

int acx_fd_wrap(acx_sock **out, int fd)
{
    if (out == NULL)
        return -EINVAL;
    struct stat st;
    if (fstat(fd, &st) < 0)
        return -errno;
    int nonsock = !S_ISSOCK(st.st_mode);
    if (nonsock && !S_ISFIFO(st.st_mode)) {
        int err = pollable(fd);
        if (err)
            return err;
    }
    int fl = fcntl(fd, F_GETFL);
    if (fl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0 ||
        fcntl(fd, F_SETFD, FD_CLOEXEC) < 0)
        return -errno;
    acx_sock *s = acx__sock_new(fd);
    if (s == NULL)
        return -ENOMEM;
    s->nonsock = nonsock;
    *out = s;
    return 0;
}

int acx_sock_is_socket(const acx_sock *s)
{
    return s != NULL && !s->nonsock;
}
