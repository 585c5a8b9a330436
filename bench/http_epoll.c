/* http_epoll.c - the baseline of bench section 15: examples/http's
 * responses from a hand-written single-threaded epoll server.
 *
 *   http_epoll PORT      (0: the kernel picks; the port is printed first)
 *
 * Level-triggered; per connection a struct with its request buffer (8 KiB,
 * as the acx example) and the responses not yet written.  It parses with
 * the example's own parser (examples/http_parse.c: the same work per
 * request on both sides), answers GET / (200), other paths
 * (404), other methods (405), keep-alive as HTTP/1.1 and 1.0 define it,
 * pipelined requests in one write.  Runs until SIGTERM or SIGINT.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <time.h>

#include "bench_net.h"
#include "http_parse.h"

enum { HEAD_MAX = 8192, OUT_MAX = 4096 };

struct conn {
    int fd;
    size_t len, olen, ooff;
    int closing; /* close once the responses are out */
    char in[HEAD_MAX];
    char out[OUT_MAX];
};

static const char BODY[] = "Hello from acx!\n";
static int ep;

static const char *http_date(void)
{
    static time_t last;
    static char date[64];
    time_t now = time(NULL);
    if (now != last) {
        struct tm tm;
        gmtime_r(&now, &tm);
        strftime(date, sizeof date, "%a, %d %b %Y %H:%M:%S GMT", &tm);
        last = now;
    }
    return date;
}

/* The example's status for a parsed request. */
static int status_of(const struct http_request *rq)
{
    if (rq->method == HTTP_OTHER)
        return 405;
    return rq->target_len == 1 && rq->target[0] == '/' ? 200 : 404;
}

static void conn_free(struct conn *c)
{
    close(c->fd);
    free(c);
}

/* Write what is owed; 1 when all of it went, 0 when OUT is needed, -1. */
static int flush(struct conn *c)
{
    while (c->ooff < c->olen) {
        ssize_t r = send(c->fd, c->out + c->ooff, c->olen - c->ooff, MSG_NOSIGNAL);
        if (r < 0)
            return errno == EAGAIN ? 0 : errno == EINTR ? flush(c) : -1;
        c->ooff += (size_t)r;
    }
    c->olen = c->ooff = 0;
    return 1;
}

static void set_events(struct conn *c, uint32_t ev)
{
    struct epoll_event e = {.events = ev, .data.ptr = c};
    epoll_ctl(ep, EPOLL_CTL_MOD, c->fd, &e);
}

/* Answer every complete request in C's buffer; 0 keep, -1 close now. */
static int serve(struct conn *c)
{
    size_t start = 0;
    while (!c->closing) {
        struct http_request rq = {.max_headers = 100};
        long used = http_parse_request(c->in + start, c->len - start, &rq);
        if (used == 0 && c->len - start < HEAD_MAX)
            break;
        int status = used > 0 ? status_of(&rq) : used < 0 ? (int)-used : 431;
        int keep = used > 0 && rq.keep;
        int head = used > 0 && rq.method == HTTP_HEAD;
        if (OUT_MAX - c->olen < 512 && flush(c) != 1)
            return -1; /* a client that pipelines faster than it reads */
        const char *reason = status == 200 ? "OK" : status == 404 ? "Not Found"
                           : status == 405 ? "Method Not Allowed"
                           : status == 431 ? "Request Header Fields Too Large"
                           : status == 505 ? "HTTP Version Not Supported"
                                           : "Bad Request";
        const char *body = status == 200 ? BODY : status == 404 ? "Not Found\n" : "";
        c->olen += (size_t)snprintf(
            c->out + c->olen, OUT_MAX - c->olen,
            "HTTP/1.1 %d %s\r\nServer: acx\r\nDate: %s\r\n"
            "Content-Type: text/plain\r\nContent-Length: %zu\r\n%s%s\r\n%s",
            status, reason, http_date(), strlen(body),
            status == 405 ? "Allow: GET, HEAD\r\n" : "",
            keep ? "" : "Connection: close\r\n", head ? "" : body);
        start += used > 0 ? (size_t)used : 0;
        c->closing = !keep;
    }
    memmove(c->in, c->in + start, c->len - start);
    c->len -= start;
    int f = flush(c);
    if (f < 0)
        return -1;
    if (f == 0) {
        set_events(c, EPOLLOUT);
        return 0;
    }
    if (c->closing)
        shutdown(c->fd, SHUT_WR); /* then read to EOF and close */
    return 0;
}

int main(int argc, char **argv)
{
    int ls = bench_listen(argc > 1 ? atoi(argv[1]) : 0);
    ep = epoll_create1(EPOLL_CLOEXEC);
    int sfd = bench_signalfd();
    if (ls < 0 || ep < 0 || sfd < 0)
        return 1;
    int lmark, smark; /* their addresses tag the two special events */
    struct epoll_event e = {.events = EPOLLIN, .data.ptr = &lmark};
    epoll_ctl(ep, EPOLL_CTL_ADD, ls, &e);
    e.data.ptr = &smark;
    epoll_ctl(ep, EPOLL_CTL_ADD, sfd, &e);
    struct epoll_event evs[256];
    for (;;) {
        int n = epoll_wait(ep, evs, 256, -1);
        if (n < 0 && errno != EINTR)
            return 1;
        for (int i = 0; i < n; i++) {
            void *p = evs[i].data.ptr;
            if (p == &smark) {
                close(ls), close(ep), close(sfd);
                return 0; /* (the connections go with the process) */
            }
            if (p == &lmark) {
                int fd = accept4(ls, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
                if (fd < 0)
                    continue;
                struct conn *c = malloc(sizeof *c);
                if (c == NULL) {
                    close(fd);
                    continue;
                }
                c->fd = fd, c->len = c->olen = c->ooff = 0, c->closing = 0;
                struct epoll_event ce = {.events = EPOLLIN, .data.ptr = c};
                epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ce);
                continue;
            }
            struct conn *c = p;
            if (evs[i].events & EPOLLOUT) {
                int f = flush(c);
                if (f < 0)
                    conn_free(c);
                else if (f == 1) {
                    set_events(c, EPOLLIN);
                    if (c->closing)
                        shutdown(c->fd, SHUT_WR);
                }
                continue;
            }
            if (c->closing) { /* drain until the client's EOF */
                ssize_t r = recv(c->fd, c->in, sizeof c->in, 0);
                if (r == 0 || (r < 0 && errno != EAGAIN && errno != EINTR))
                    conn_free(c);
                continue;
            }
            ssize_t r = recv(c->fd, c->in + c->len, sizeof c->in - c->len, 0);
            if (r > 0) {
                c->len += (size_t)r;
                if (serve(c) < 0)
                    conn_free(c);
            } else if (r == 0 || (errno != EAGAIN && errno != EINTR)) {
                conn_free(c);
            }
        }
    }
}
