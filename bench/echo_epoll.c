/* echo_epoll.c - the baseline of bench section 14: the echo server a
 * careful C programmer writes by hand, the practical limit for one thread.
 *
 *   echo_epoll PORT      (0: the kernel picks; the port is printed first)
 *
 * One thread, epoll level-triggered, one reused buffer for every read;
 * per connection nothing but the descriptor (and, only while a write is
 * short, the bytes still owed).  Runs until SIGTERM or SIGINT.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include "bench_net.h"

/* Bytes a short write still owes a connection (rare: the peer stopped
 * reading); while any are owed the connection waits for OUT, not IN. */
struct owed {
    char *buf;
    size_t off, len;
};

static struct owed *owed;
static int nowed;
static int ep;

static void drop(int fd)
{
    if (fd < nowed) {
        free(owed[fd].buf);
        owed[fd] = (struct owed){0};
    }
    close(fd); /* also leaves the epoll set */
}

static void set_events(int fd, uint32_t ev)
{
    struct epoll_event e = {.events = ev, .data.fd = fd};
    epoll_ctl(ep, EPOLL_CTL_MOD, fd, &e);
}

/* Write N bytes of BUF to FD; keep what does not fit.  0 or -1. */
static int send_all(int fd, const char *buf, size_t n)
{
    size_t off = 0;
    while (off < n) {
        ssize_t r = send(fd, buf + off, n - off, MSG_NOSIGNAL);
        if (r >= 0) {
            off += (size_t)r;
            continue;
        }
        if (errno == EINTR)
            continue;
        if (errno != EAGAIN)
            return -1;
        if (fd >= nowed) {
            int m = fd * 2 + 16;
            struct owed *o = realloc(owed, (size_t)m * sizeof *o);
            if (o == NULL)
                return -1;
            memset(o + nowed, 0, (size_t)(m - nowed) * sizeof *o);
            owed = o, nowed = m;
        }
        owed[fd].buf = malloc(n - off);
        if (owed[fd].buf == NULL)
            return -1;
        memcpy(owed[fd].buf, buf + off, n - off);
        owed[fd].off = 0, owed[fd].len = n - off;
        set_events(fd, EPOLLOUT);
        return 0;
    }
    return 0;
}

static void flush_owed(int fd)
{
    struct owed *o = &owed[fd];
    while (o->off < o->len) {
        ssize_t r = send(fd, o->buf + o->off, o->len - o->off, MSG_NOSIGNAL);
        if (r < 0) {
            if (errno == EAGAIN || errno == EINTR)
                return;
            drop(fd);
            return;
        }
        o->off += (size_t)r;
    }
    free(o->buf);
    *o = (struct owed){0};
    set_events(fd, EPOLLIN);
}

int main(int argc, char **argv)
{
    static char buf[65536];
    int ls = bench_listen(argc > 1 ? atoi(argv[1]) : 0);
    ep = epoll_create1(EPOLL_CLOEXEC);
    int sfd = bench_signalfd();
    if (ls < 0 || ep < 0 || sfd < 0)
        return 1;
    struct epoll_event e = {.events = EPOLLIN, .data.fd = ls};
    epoll_ctl(ep, EPOLL_CTL_ADD, ls, &e);
    e.data.fd = sfd;
    epoll_ctl(ep, EPOLL_CTL_ADD, sfd, &e);
    struct epoll_event evs[256];
    for (;;) {
        int n = epoll_wait(ep, evs, 256, -1);
        if (n < 0 && errno != EINTR)
            return 1;
        for (int i = 0; i < n; i++) {
            int fd = evs[i].data.fd;
            if (fd == sfd) {
                close(ls), close(ep), close(sfd);
                return 0;
            }
            if (fd == ls) {
                int c = accept4(ls, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
                if (c < 0)
                    continue;
                struct epoll_event ce = {.events = EPOLLIN, .data.fd = c};
                epoll_ctl(ep, EPOLL_CTL_ADD, c, &ce);
                continue;
            }
            if (evs[i].events & EPOLLOUT) {
                flush_owed(fd);
                continue;
            }
            ssize_t r = recv(fd, buf, sizeof buf, 0);
            if (r > 0) {
                if (send_all(fd, buf, (size_t)r) < 0)
                    drop(fd);
            } else if (r == 0 || (errno != EAGAIN && errno != EINTR)) {
                drop(fd);
            }
        }
    }
}
