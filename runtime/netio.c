/* netio.c - the socket awaits: accept, connect, read, write (all of it),
 * sendto, recvfrom.
 *
 * One leaf frame serves them all (the op says which call to make).  The
 * protocol, as for every leaf (leaves.c): try the call first; on EAGAIN
 * ask acx__intr_check (an interrupted task does not suspend again) and
 * park on the socket's shared watch (net.c) with the leaf as the task's
 * top frame; a readiness wake-up resumes the leaf, which tries again.  An
 * interrupt takes the waiter off the socket through the cancel method;
 * acx_sock_close does the same with -EBADF.  Either way the leaf then
 * returns that error without touching the socket again.
 */
#define _GNU_SOURCE /* accept4 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "net_internal.h"

enum { OP_ACCEPT, OP_CONNECT, OP_READ, OP_WRITE, OP_SENDTO, OP_RECVFROM };
enum { ST_START, ST_PARKED };

static const char *const op_names[] = {"accept", "connect", "read",
                                       "write", "sendto", "recvfrom"};

struct netop {
    acx_sock *s;       /* the socket waited on (connect: the new one) */
    acx__sockwait w;
    int op;            /* OP_* */
    int err0;          /* the constructor's error (bad address), or 0 */
    int no_park;       /* -EAGAIN that waiting would not cure */
    char *buf;
    size_t n, done;    /* write: bytes so far */
    size_t *donep;     /* write_ex: where the count goes */
    acx_sock **out;    /* accept, connect */
    struct sockaddr *from;
    socklen_t *fromlen;
    socklen_t alen;    /* connect, sendto: 0 for no address */
    struct sockaddr_storage *addr; /* connect, sendto: the copy, in the
                                    * larger frame only they have */
};

/* ---- system calls: EINTR retried, the test hook consulted --------------- */

/* The injected errno for CALL (0: none); may lower *LEN. */
static int fault(const char *call, size_t *len)
{
    return acx__net_fault ? acx__net_fault(call, len) : 0;
}

#define SYSCALL(call, len, expr)                                           \
    do {                                                                   \
        for (;;) {                                                         \
            size_t len_ = (len);                                           \
            int e_ = fault(call, &len_);                                   \
            ssize_t r_ = e_ ? (errno = e_, -1) : (expr);                   \
            if (r_ >= 0)                                                   \
                return r_;                                                 \
            if (errno != EINTR)                                            \
                return -errno;                                             \
        }                                                                  \
    } while (0)

static ssize_t sys_recv(int fd, void *buf, size_t n)
{
    SYSCALL("recv", n, recv(fd, buf, len_, 0));
}

static ssize_t sys_send(int fd, const void *buf, size_t n)
{
    SYSCALL("send", n, send(fd, buf, len_, MSG_NOSIGNAL));
}

static ssize_t sys_sendto(int fd, const void *buf, size_t n,
                          const struct sockaddr *a, socklen_t alen)
{
    SYSCALL("sendto", n,
            sendto(fd, buf, len_, MSG_NOSIGNAL, alen ? a : NULL, alen));
}

static ssize_t sys_recvfrom(int fd, void *buf, size_t n, struct sockaddr *a,
                            socklen_t *alen)
{
    SYSCALL("recvfrom", n, recvfrom(fd, buf, len_, 0, a, a ? alen : NULL));
}

static ssize_t sys_accept(int fd)
{
    SYSCALL("accept", 0,
            accept4(fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC));
}

/* ---- one attempt per op: >= 0 done, -EAGAIN park, else the error ------ */

static ssize_t try_accept(struct netop *o)
{
    for (;;) {
        ssize_t fd = sys_accept(o->s->io.fd);
        if (fd >= 0) {
            acx_sock *c = acx__sock_new((int)fd);
            if (c == NULL) {
                close((int)fd);
                return -ENOMEM;
            }
            c->stream = 1;
            if (o->s->tcp) {
                acx__sock_nodelay((int)fd);
                c->tcp = 1;
            }
            *o->out = c;
            return 0;
        }
        if (fd == -ECONNABORTED || fd == -EPROTO)
            continue; /* the peer gave up while queued: take the next */
        if (fd != -EMFILE && fd != -ENFILE)
            return fd;
        /* Out of descriptors: the pending connection would make every
         * poll report the listener readable, a busy loop.  Drop it. */
        int err = acx__sock_drop_one(o->s);
        if (err)
            return err == -EAGAIN ? -EAGAIN : fd;
    }
}

static ssize_t try_write(struct netop *o)
{
    while (o->done < o->n) {
        int fd = o->s->io.fd;
        char *p = o->buf + o->done;
        size_t left = o->n - o->done;
        ssize_t r = __builtin_expect(o->s->nonsock, 0)
                        ? acx__fd_write(fd, p, left)
                        : sys_send(fd, p, left);
        if (r < 0)
            return r;
        o->done += (size_t)r;
    }
    return (ssize_t)o->n;
}

/* A read of a stream whose last read emptied the kernel's buffer (it came
 * back short) waits for readiness before its first recv: in a
 * request-response exchange the data is almost never there yet, and the
 * recv that would say EAGAIN costs as much as the one that reads.  The
 * level-triggered watch reports data that came meanwhile at the next
 * poll, so nothing is missed; libuv makes the same bet (it never reads
 * before readiness, and stops at a short read).  Datagrams are exempt:
 * a short datagram says nothing about the next one. */
static ssize_t try_read(struct netop *o, int first)
{
    acx_sock *s = o->s;
    if (first && s->rd_empty && o->n > 0)
        return -EAGAIN;
    ssize_t r = __builtin_expect(s->nonsock, 0) /* a pipe: pipe.c */
                    ? acx__fd_read(s->io.fd, o->buf, o->n)
                    : sys_recv(s->io.fd, o->buf, o->n);
    s->rd_empty = s->stream && (r == -EAGAIN || (r > 0 && (size_t)r < o->n));
    return r;
}

/* A connect parked on writability: has it finished, and how? */
static ssize_t connect_result(struct netop *o)
{
    int soerr = 0;
    socklen_t sl = sizeof soerr;
    if (getsockopt(o->s->io.fd, SOL_SOCKET, SO_ERROR, &soerr, &sl) < 0)
        return -errno;
    if (soerr != 0)
        return -soerr;
    struct sockaddr_storage peer;
    sl = sizeof peer;
    if (getpeername(o->s->io.fd, (struct sockaddr *)&peer, &sl) < 0)
        return errno == ENOTCONN ? -EAGAIN : -errno; /* still going */
    return 0;
}

/* The first step of a connect: a fresh socket and a non-blocking connect.
 * EINTR does not restart it (a second connect says EALREADY): the
 * connection goes on in the background, as with EINPROGRESS. */
static ssize_t connect_start(struct netop *o)
{
    const struct sockaddr *a = (const struct sockaddr *)o->addr;
    int fd = socket(a->sa_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC,
                    0);
    if (fd < 0)
        return -errno;
    o->s = acx__sock_new(fd);
    if (o->s == NULL) {
        close(fd);
        return -ENOMEM;
    }
    o->s->stream = 1;
    if (a->sa_family == AF_INET || a->sa_family == AF_INET6) {
        acx__sock_nodelay(fd);
        o->s->tcp = 1;
    }
    size_t len = 0;
    int r = connect(fd, a, o->alen);
    /* An injected EINTR stands for a real one: after the kernel started */
    int e = fault("connect", &len);
    if (e && (r == 0 || errno == EINPROGRESS)) {
        errno = e;
        r = -1;
    }
    if (r == 0)
        return 0;
    if (errno == EINPROGRESS || errno == EINTR)
        return -EAGAIN;
    if (errno == EAGAIN)
        o->no_park = 1; /* a full Unix backlog: Linux queues nothing */
    return -errno;
}

static ssize_t try_op(struct netop *o, int first)
{
    switch (o->op) {
    case OP_ACCEPT:
        return try_accept(o);
    case OP_CONNECT:
        return first ? connect_start(o) : connect_result(o);
    case OP_READ:
        return try_read(o, first);
    case OP_WRITE:
        return try_write(o);
    case OP_SENDTO:
        return sys_sendto(o->s->io.fd, o->buf, o->n,
                          (const struct sockaddr *)o->addr, o->alen);
    case OP_RECVFROM:
        return sys_recvfrom(o->s->io.fd, o->buf, o->n, o->from, o->fromlen);
    }
    return -EINVAL;
}

static uint32_t op_dir(const struct netop *o)
{
    return o->op == OP_WRITE || o->op == OP_SENDTO || o->op == OP_CONNECT
               ? ACX__IO_OUT
               : ACX__IO_IN;
}

/* ---- the step: try, park, finish ---------------------------------------- */

/* The op is over with R: hand over what it produced, drop what it made. */
static ssize_t finish(struct netop *o, ssize_t r)
{
    if (o->op == OP_CONNECT) {
        if (r == 0)
            *o->out = o->s;
        else
            acx_sock_close(o->s);
        o->s = NULL;
    }
    if (o->donep != NULL)
        *o->donep = o->done;
    return r;
}

/* Run OP from STATE: ACX__SUSPEND when parked (top = C), else ACX__DONE
 * with the result in *RET. */
static int netop_step(acx_coro *c, struct netop *o, ssize_t *ret)
{
    int first = ACX__STATE(c) == ST_START;
    if (first && o->err0 == 0 && o->s == NULL && o->op != OP_CONNECT)
        o->err0 = -EBADF;
    if (first && o->err0) {
        *ret = finish(o, o->err0);
        return ACX__DONE;
    }
    if (!first && o->w.err) { /* an interrupt, or the socket was closed */
        *ret = finish(o, o->w.err);
        return ACX__DONE;
    }
    ssize_t r = try_op(o, first);
    if (r == -EAGAIN && !o->no_park && (r = acx__intr_check()) == 0 &&
             (r = acx__sock_park(o->s, &o->w, op_dir(o))) == 0) {
        ACX__STATE(c) = ST_PARKED;
        acx__cur_task->top = c;
        return ACX__SUSPEND;
    }
    *ret = finish(o, r);
    return ACX__DONE;
}

/* ---- frames and infos: int results (accept, connect), ssize_t (data) ---- */

struct netop_frame_i {
    ACX__FRAME_PREFIX;
    int acx__ret;
    struct netop o;
};

struct netop_frame_z {
    ACX__FRAME_PREFIX;
    ssize_t acx__ret;
    struct netop o;
};

/* Connect and sendto copy their address: the same frames with room for
 * it after the op, so that the reads and writes every connection keeps
 * parked do not carry 128 unused bytes each. */
struct netop_frame_ia {
    struct netop_frame_i f;
    struct sockaddr_storage addr;
};

struct netop_frame_za {
    struct netop_frame_z f;
    struct sockaddr_storage addr;
};

static int netop_describe(const struct netop *o, char *buf, size_t size)
{
    int fd = o->s ? o->s->io.fd : -1;
    if (o->op == OP_WRITE)
        return snprintf(buf, size, "socket fd %d write, %zu/%zu bytes", fd,
                        o->done, o->n);
    return snprintf(buf, size, "socket fd %d %s", fd, op_names[o->op]);
}

/* The cancel method: off the socket; the resumed leaf returns ERR.  A
 * connect's half-made socket is closed by the finish that follows. */
static void netop_cancel(struct netop *o, int err)
{
    acx__sock_unpark(o->s, &o->w, err);
}

#define NETOP_FRAME(sfx, rtype)                                            \
    static int body_##sfx(acx_coro *c)                                     \
    {                                                                      \
        struct netop_frame_##sfx *f = (struct netop_frame_##sfx *)c;       \
        ssize_t r;                                                         \
        if (netop_step(c, &f->o, &r) == ACX__SUSPEND)                      \
            return ACX__SUSPEND;                                           \
        f->acx__ret = (rtype)r;                                            \
        return ACX__DONE;                                                  \
    }                                                                      \
    static int cancel_##sfx(acx_coro *c, int err)                          \
    {                                                                      \
        struct netop_frame_##sfx *f = (struct netop_frame_##sfx *)c;       \
        netop_cancel(&f->o, err);                                          \
        f->acx__ret = err;                                                 \
        return 1;                                                          \
    }                                                                      \
    static int describe_##sfx(const acx_coro *c, char *buf, size_t size)   \
    {                                                                      \
        return netop_describe(&((const struct netop_frame_##sfx *)c)->o,   \
                              buf, size);                                  \
    }                                                                      \
    static int result_##sfx(const acx_coro *c)                             \
    {                                                                      \
        return (int)((const struct netop_frame_##sfx *)c)->acx__ret;       \
    }

NETOP_FRAME(i, int)
NETOP_FRAME(z, ssize_t)

#define NETOP_INFO(sfx, fname) NETOP_INFO_SIZED(sfx, fname, sfx)
#define NETOP_INFO_SIZED(sfx, fname, frame)                                \
    {                                                                      \
        .body = body_##sfx, .name = fname, .file = "<runtime>",            \
        .size = sizeof(struct netop_frame_##frame),                        \
        .ret_offset = offsetof(struct netop_frame_##sfx, acx__ret),        \
        .ret_size = sizeof(((struct netop_frame_##sfx *)0)->acx__ret),     \
        .result_int = result_##sfx,                                        \
        .align = _Alignof(struct netop_frame_##sfx),                       \
        .cancel = cancel_##sfx, .describe = describe_##sfx,                \
    }

static const acx__info accept_info = NETOP_INFO(i, "acx_sock_accept");
static const acx__info connect_info =
    NETOP_INFO_SIZED(i, "acx_sock_connect", ia);
static const acx__info read_info = NETOP_INFO(z, "acx_sock_read");
static const acx__info write_info = NETOP_INFO(z, "acx_sock_write");
static const acx__info sendto_info =
    NETOP_INFO_SIZED(z, "acx_sock_sendto", za);
static const acx__info recvfrom_info = NETOP_INFO(z, "acx_sock_recvfrom");

/* ---- constructors -------------------------------------------------------- */

static struct netop *op_new(const acx__info *info, acx_coro **c, int op,
                            acx_sock *s)
{
    /* frame_i and frame_z differ only in the result's size */
    size_t off = info->body == body_i
                     ? offsetof(struct netop_frame_i, o)
                     : offsetof(struct netop_frame_z, o);
    *c = acx__coro_alloc(info->size, info);
    if (*c == NULL)
        return NULL;
    struct netop *o = (struct netop *)(void *)((char *)*c + off);
    memset(o, 0, sizeof *o);
    o->op = op;
    o->s = s;
    if (info == &connect_info)
        o->addr = &((struct netop_frame_ia *)(void *)*c)->addr;
    else if (info == &sendto_info)
        o->addr = &((struct netop_frame_za *)(void *)*c)->addr;
    return o;
}

/* Copy ADDR into the frame (it need not outlive the call). */
static void op_set_addr(struct netop *o, const struct sockaddr *addr,
                        socklen_t len)
{
    if (addr == NULL || len == 0)
        return;
    if (len > sizeof *o->addr) {
        o->err0 = -EINVAL;
        return;
    }
    memcpy(o->addr, addr, len);
    o->alen = len;
}

acx_coro *acx_sock_accept(acx_sock *ls, acx_sock **conn)
{
    acx_coro *c;
    struct netop *o = op_new(&accept_info, &c, OP_ACCEPT, ls);
    if (o == NULL)
        return NULL;
    o->out = conn;
    if (conn != NULL)
        *conn = NULL; /* what a failed accept leaves there */
    else
        o->err0 = -EINVAL;
    return c;
}

acx_coro *acx_sock_connect(acx_sock **out, const struct sockaddr *addr,
                           socklen_t len)
{
    acx_coro *c;
    struct netop *o = op_new(&connect_info, &c, OP_CONNECT, NULL);
    if (o == NULL)
        return NULL;
    o->out = out;
    if (out != NULL)
        *out = NULL;
    op_set_addr(o, addr, len);
    if (out == NULL || o->alen == 0)
        o->err0 = -EINVAL;
    return c;
}

acx_coro *acx_sock_connect_str(acx_sock **out, const char *addr)
{
    struct sockaddr_storage ss;
    socklen_t len = 0;
    int err = acx_sock_addr_parse(addr, &ss, &len);
    acx_coro *c = acx_sock_connect(out, (struct sockaddr *)&ss, len);
    if (c != NULL && err) {
        struct netop *o =
            (struct netop *)(void *)((char *)c +
                                     offsetof(struct netop_frame_i, o));
        o->err0 = err;
    }
    return c;
}

acx_coro *acx_sock_read(acx_sock *s, void *buf, size_t n)
{
    acx_coro *c;
    struct netop *o = op_new(&read_info, &c, OP_READ, s);
    if (o == NULL)
        return NULL;
    o->buf = buf;
    o->n = n;
    return c;
}

acx_coro *acx_sock_write_ex(acx_sock *s, const void *buf, size_t n,
                            size_t *done)
{
    acx_coro *c;
    struct netop *o = op_new(&write_info, &c, OP_WRITE, s);
    if (o == NULL)
        return NULL;
    o->buf = (char *)(uintptr_t)buf; /* only ever read */
    o->n = n;
    o->donep = done;
    if (n > SSIZE_MAX)
        o->err0 = -EINVAL;
    return c;
}

acx_coro *acx_sock_write(acx_sock *s, const void *buf, size_t n)
{
    return acx_sock_write_ex(s, buf, n, NULL);
}

acx_coro *acx_sock_sendto(acx_sock *s, const void *buf, size_t n,
                          const struct sockaddr *addr, socklen_t len)
{
    acx_coro *c;
    struct netop *o = op_new(&sendto_info, &c, OP_SENDTO, s);
    if (o == NULL)
        return NULL;
    o->buf = (char *)(uintptr_t)buf;
    o->n = n;
    op_set_addr(o, addr, len);
    return c;
}

acx_coro *acx_sock_recvfrom(acx_sock *s, void *buf, size_t n,
                            struct sockaddr *from, socklen_t *fromlen)
{
    acx_coro *c;
    struct netop *o = op_new(&recvfrom_info, &c, OP_RECVFROM, s);
    if (o == NULL)
        return NULL;
    o->buf = buf;
    o->n = n;
    o->from = from;
    o->fromlen = fromlen;
    if (from != NULL && fromlen == NULL)
        o->err0 = -EINVAL;
    return c;
}
