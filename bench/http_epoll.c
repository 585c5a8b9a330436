/* http_epoll.c - the baseline of bench section 15: examples/http's
 * responses from a hand-written single-threaded epoll server.
 *
 *   http_epoll PORT      (0: the kernel picks; the port is printed first)
 *
 * Level-triggered; per connection a struct with its request buffer (8 KiB,
 * as the acx example) and the responses not yet written.  It parses the
 * request line and the headers the acx example reads (Connection,
 * Content-Length, Transfer-Encoding), answers GET / (200), other paths
 * (404), other methods (405), keep-alive as HTTP/1.1 and 1.0 define it,
 * pipelined requests in one write.  Runs until SIGTERM or SIGINT.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <time.h>

#include "bench_net.h"

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

static int has_token(const char *v, size_t n, const char *t)
{
    size_t tl = strlen(t);
    for (size_t i = 0; i + tl <= n; i++)
        if (strncasecmp(v + i, t, tl) == 0)
            return 1;
    return 0;
}

/* One request at BUF[0..N): its length, 0 incomplete, -1 malformed; the
 * status and whether to keep the connection. */
static long parse(const char *buf, size_t n, int *status, int *head,
                  int *keep)
{
    const char *end = memmem(buf, n, "\r\n\r\n", 4);
    if (end == NULL)
        return n >= HEAD_MAX ? -1 : 0;
    const char *eol = memchr(buf, '\r', (size_t)(end - buf) + 1);
    const char *sp1 = memchr(buf, ' ', (size_t)(eol - buf));
    const char *sp2 = sp1 ? memchr(sp1 + 1, ' ', (size_t)(eol - sp1 - 1)) : NULL;
    if (!sp1 || !sp2 || eol - sp2 != 9 || memcmp(sp2 + 1, "HTTP/1.", 7))
        return -1;
    int get = sp1 - buf == 3 && !memcmp(buf, "GET", 3);
    *head = sp1 - buf == 4 && !memcmp(buf, "HEAD", 4);
    int root = sp2 - sp1 == 2 && sp1[1] == '/';
    *status = !get && !*head ? 405 : root ? 200 : 404;
    int http11 = sp2[8] == '1', close = 0, ka = 0, body = 0;
    for (const char *p = eol + 2; p < end + 2; p = eol + 2) {
        eol = memchr(p, '\r', (size_t)(end + 2 - p));
        const char *colon = memchr(p, ':', (size_t)(eol - p));
        if (colon == NULL)
            return -1;
        size_t nl = (size_t)(colon - p), vl = (size_t)(eol - colon - 1);
        if (nl == 10 && !strncasecmp(p, "connection", 10)) {
            close |= has_token(colon + 1, vl, "close");
            ka |= has_token(colon + 1, vl, "keep-alive");
        } else if ((nl == 14 && !strncasecmp(p, "content-length", 14) &&
                    strtol(colon + 1, NULL, 10) != 0) ||
                   (nl == 17 && !strncasecmp(p, "transfer-encoding", 17))) {
            body = 1;
        }
    }
    *keep = !close && (http11 || ka) && !body;
    return (long)(end - buf) + 4;
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
        int status, head = 0, keep = 0;
        long used = parse(c->in + start, c->len - start, &status, &head, &keep);
        if (used == 0)
            break;
        if (used < 0)
            status = c->len - start >= HEAD_MAX ? 431 : 400, keep = 0;
        if (OUT_MAX - c->olen < 512 && flush(c) != 1)
            return -1; /* a client that pipelines faster than it reads */
        const char *reason = status == 200 ? "OK" : status == 404 ? "Not Found"
                           : status == 405 ? "Method Not Allowed"
                           : status == 431 ? "Request Header Fields Too Large"
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
