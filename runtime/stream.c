/* stream.c - buffered streams over a socket: the read awaits (readline,
 * readuntil, readexactly, read, each copy-out or zero-copy), the write
 * side (write, drain, flush, write_eof, the background flusher) and
 * closing.  The buffer and the separator search are stream_buf.c's.
 *
 * Every await is a hand-written leaf on the socket's shared watch (net.c),
 * the protocol of the socket awaits (netio.c): parse what is buffered; if
 * that is not enough, read the socket; on EAGAIN ask acx__intr_check (an
 * interrupted task does not suspend again) and park for readiness.  An
 * interrupt takes the waiter off the socket (the cancel method); the bytes
 * read so far stay in the stream's buffer, so nothing is lost.
 *
 * Every await in progress is registered on its stream (the one reader,
 * the list of writers), so closing the stream can tell each one it is
 * gone: a parked one is woken with -EBADF by acx_sock_close, and one
 * already woken but not yet run finds its stream pointer NULL.  Neither
 * touches the freed stream.
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "net_internal.h"
#include "stream_buf.h"

enum { ST_START, ST_PARKED };

struct rd_op;
struct wr_op;

struct acx_stream {
    acx_sock *sock;
    acx__sbuf rb;           /* read buffer: at most the limit */
    acx__sbuf wb;           /* write buffer: no limit (flow control is
                             * drain's business, as in asyncio) */
    struct rd_op *reader;   /* the read await in progress */
    struct wr_op *writers;  /* drains, flushes, close, the flusher */
    size_t high, low;       /* write flow control marks */
    int werr;               /* sticky write error */
    unsigned rd_eof : 1;    /* the socket said end of stream */
    unsigned rd_full : 1;   /* the last read filled all the room it had */
    unsigned eof_asked : 1; /* acx_stream_write_eof was called */
    unsigned eof_sent : 1;  /* and the shutdown was made */
    unsigned closing : 1;   /* acx_stream_close is flushing */
    unsigned is_pipe : 1;   /* recv/send said ENOTSOCK: read/write */
    unsigned flusher : 1;   /* a flusher task is on the writers list */
};

/* ---- system calls: EINTR retried, the test hook consulted ------------- */

static int fault(const char *call, size_t *len)
{
    return acx__net_fault ? acx__net_fault(call, len) : 0;
}

/* Read up to N bytes: > 0, 0 at end of stream, -EAGAIN, -errno. */
static ssize_t sys_in(acx_stream *st, void *buf, size_t n)
{
    for (;;) {
        size_t len = n;
        int e = fault("recv", &len);
        ssize_t r;
        if (e) {
            errno = e;
            r = -1;
        } else if (st->is_pipe) {
            r = read(st->sock->io.fd, buf, len);
        } else {
            r = recv(st->sock->io.fd, buf, len, 0);
            if (r < 0 && errno == ENOTSOCK) {
                st->is_pipe = 1;
                continue;
            }
        }
        if (r >= 0)
            return r;
        if (errno != EINTR)
            return errno == EWOULDBLOCK ? -EAGAIN : -errno;
    }
}

/* Write up to N bytes: how many (> 0), -EAGAIN, -errno.  Never SIGPIPE on
 * a socket (MSG_NOSIGNAL): a gone peer is -EPIPE. */
static ssize_t sys_out(acx_stream *st, const void *buf, size_t n)
{
    for (;;) {
        size_t len = n;
        int e = fault("send", &len);
        ssize_t r;
        if (e) {
            errno = e;
            r = -1;
        } else if (st->is_pipe) {
            r = write(st->sock->io.fd, buf, len);
        } else {
            r = send(st->sock->io.fd, buf, len, MSG_NOSIGNAL);
            if (r < 0 && errno == ENOTSOCK) {
                st->is_pipe = 1;
                continue;
            }
        }
        if (r >= 0)
            return r;
        if (errno != EINTR)
            return errno == EWOULDBLOCK ? -EAGAIN : -errno;
    }
}

/* ---- the read awaits ---------------------------------------------------- */

static const char *const rd_names[] = {"readuntil", "readline",
                                       "readexactly", "read", "read(-1)"};

struct rd_op {
    acx_stream *st;   /* NULL once the stream was closed under it */
    acx__sockwait w;
    acx__rec rec;     /* what it reads (stream_buf.h) */
    int err0;         /* the constructor's error, or 0 */
    char *buf;        /* the copy-out destination, NULL for a view */
    const char **view;
    ssize_t direct;   /* SOME: bytes read straight into BUF */
};

/* Every read await's frame (acx_stream.h's acx__frame_acx_stream_read*)
 * has this layout, the op in the opaque words the header reserves. */
struct rd_frame {
    ACX__FRAME_PREFIX;
    ssize_t acx__ret;
    union {
        acx__stream_rd abi;
        struct rd_op o;
    };
};
_Static_assert(sizeof(struct rd_op) <= sizeof(acx__stream_rd) &&
                   _Alignof(struct rd_op) <= _Alignof(acx__stream_rd),
               "acx__stream_rd (acx_stream.h) must hold a struct rd_op");
_Static_assert(sizeof(struct rd_frame) ==
                   sizeof(struct acx__frame_acx_stream_readline),
               "the read frames' layout is acx_stream.h's");

/* Hand a record of R bytes out (copy or view) and consume it. */
static ssize_t rd_deliver(struct rd_op *o, ssize_t r)
{
    if (r < 0)
        return r;
    acx__sbuf *b = &o->st->rb;
    if (o->buf != NULL) {
        if (r > 0)
            memcpy(o->buf, acx__sbuf_peek(b), (size_t)r);
    } else {
        *o->view = b->data != NULL ? acx__sbuf_peek(b) : "";
    }
    acx__sbuf_consume(b, (size_t)r);
    return r;
}

/* One read of the socket into the buffer (or, for a copy-out read with
 * nothing buffered, straight into the caller's memory: no copy).
 * Returns > 0, 0 at end of stream (recorded), -EAGAIN, -errno. */
static ssize_t rd_fill(struct rd_op *o)
{
    acx_stream *st = o->st;
    ssize_t r;
    if (o->rec.kind == ACX__REC_SOME && o->buf != NULL &&
        acx__sbuf_len(&st->rb) == 0) {
        r = sys_in(st, o->buf, o->rec.n);
        if (r > 0)
            o->direct = r;
    } else {
        char *p;
        size_t room;
        /* The last read filled all its room: the peer is ahead of us, so
         * read more per call (the buffer doubles, up to the limit). */
        if (st->rd_full && acx__sbuf_grow(&st->rb) < 0)
            return -ENOMEM;
        int err = acx__sbuf_space(&st->rb, &p, &room);
        if (err)
            return err;
        if (room == 0) /* acx__sbuf_record reports a full buffer first */
            return -EMSGSIZE;
        r = sys_in(st, p, room);
        st->rd_full = r > 0 && (size_t)r == room;
        if (r > 0)
            acx__sbuf_commit(&st->rb, (size_t)r);
    }
    if (r == 0)
        st->rd_eof = 1;
    return r;
}

static ssize_t rd_finish(struct rd_op *o, ssize_t r)
{
    if (o->st != NULL)
        o->st->reader = NULL;
    return r;
}

static int rd_step(acx_coro *c, struct rd_op *o, ssize_t *ret)
{
    if (ACX__STATE(c) == ST_START) {
        if (o->err0 == 0 && o->st == NULL)
            o->err0 = -EBADF;
        if (o->err0 == 0 && o->st->reader != NULL)
            o->err0 = -EBUSY;
        if (o->err0) {
            *ret = o->err0; /* never registered: leave the stream alone */
            return ACX__DONE;
        }
        o->st->reader = o;
    } else if (o->st == NULL) {
        *ret = -EBADF; /* closed under us */
        return ACX__DONE;
    } else if (o->w.err) {
        *ret = rd_finish(o, o->w.err); /* interrupted: bytes stay */
        return ACX__DONE;
    }
    for (;;) {
        ssize_t r;
        if (acx__sbuf_record(&o->st->rb, &o->rec, o->st->rd_eof, &r)) {
            *ret = rd_finish(o, rd_deliver(o, r));
            return ACX__DONE;
        }
        r = rd_fill(o);
        if (r >= 0) {
            if (o->direct > 0) {
                *ret = rd_finish(o, o->direct);
                return ACX__DONE;
            }
            continue;
        }
        /* Waiting on an idle peer: a grown, empty buffer goes back (no
         * view can be pointing into it: this is a read call). */
        if (r == -EAGAIN)
            acx__sbuf_trim(&o->st->rb);
        if (r == -EAGAIN && (r = acx__intr_check()) == 0 &&
            (r = acx__sock_park(o->st->sock, &o->w, ACX__IO_IN)) == 0) {
            ACX__STATE(c) = ST_PARKED;
            acx__cur_task->top = c;
            return ACX__SUSPEND;
        }
        *ret = rd_finish(o, r);
        return ACX__DONE;
    }
}

static int rd_body(acx_coro *c)
{
    struct rd_frame *f = (struct rd_frame *)c;
    ssize_t r;
    if (rd_step(c, &f->o, &r) == ACX__SUSPEND)
        return ACX__SUSPEND;
    f->acx__ret = r;
    return ACX__DONE;
}

static int rd_cancel(acx_coro *c, int err)
{
    struct rd_frame *f = (struct rd_frame *)c;
    if (f->o.st != NULL)
        acx__sock_unpark(f->o.st->sock, &f->o.w, err);
    else
        f->o.w.err = err;
    f->acx__ret = err;
    return 1;
}

static int rd_describe(const acx_coro *c, char *buf, size_t size)
{
    const struct rd_op *o = &((const struct rd_frame *)c)->o;
    if (o->st == NULL)
        return snprintf(buf, size, "stream %s (closed)",
                        rd_names[o->rec.kind]);
    return snprintf(buf, size, "stream fd %d %s, %zu bytes buffered",
                    o->st->sock->io.fd, rd_names[o->rec.kind],
                    acx__sbuf_len(&o->st->rb));
}

static int rd_result(const acx_coro *c)
{
    return (int)((const struct rd_frame *)c)->acx__ret;
}

#define RD_INFO(fname, body_fn)                                            \
    {                                                                      \
        .body = body_fn, .name = #fname, .file = "<runtime>",              \
        .size = sizeof(struct acx__frame_##fname),                         \
        .ret_offset = offsetof(struct rd_frame, acx__ret),                 \
        .ret_size = sizeof(ssize_t), .result_int = rd_result,              \
        .align = _Alignof(struct rd_frame), .cancel = rd_cancel,           \
        .describe = rd_describe,                                           \
    }

/* The exported body and info of read await NAME (one body serves all). */
#define RD_ENTRY(name)                                                     \
    int acx__body_##name(acx_coro *c)                                      \
    {                                                                      \
        return rd_body(c);                                                 \
    }                                                                      \
    const acx__info acx__info_##name = RD_INFO(name, acx__body_##name)

RD_ENTRY(acx_stream_readline);
RD_ENTRY(acx_stream_readline_view);
RD_ENTRY(acx_stream_readuntil);
RD_ENTRY(acx_stream_readuntil_view);
RD_ENTRY(acx_stream_readexactly);
RD_ENTRY(acx_stream_readexactly_view);
RD_ENTRY(acx_stream_read);
RD_ENTRY(acx_stream_read_view);

/* Set up frame C (embedded or boxed) for a read of KIND: the header, the
 * op, and the argument errors the first step reports. */
static struct rd_op *rd_init(acx_coro *c, const acx__info *info,
                             acx_stream *st, int kind)
{
    c->info = info;
    c->parent = NULL;
    ACX__STATE(c) = 0;
    /* Field by field, not memset: this runs once per line read. */
    struct rd_op *o = &((struct rd_frame *)c)->o;
    o->st = st;
    o->w.parked = 0;
    o->w.err = 0;
    o->rec.kind = kind;
    o->rec.sep = NULL;
    o->rec.m = 0;
    o->rec.scan = 0;
    o->rec.n = 0;
    o->err0 = 0;
    o->buf = NULL;
    o->view = NULL;
    o->direct = 0;
    return o;
}

/* A view result starts out NULL; a missing out pointer is -EINVAL. */
static void rd_set_view(struct rd_op *o, const char **view)
{
    o->view = view;
    if (view != NULL)
        *view = NULL;
    else
        o->err0 = -EINVAL;
}

static void until_init(struct rd_op *o, const void *sep, size_t m,
                       void *buf, size_t size, const char **view)
{
    o->rec.sep = sep;
    o->rec.m = m;
    o->buf = buf;
    o->rec.n = size;
    if (buf == NULL)
        rd_set_view(o, view);
    if (sep == NULL || m == 0)
        o->err0 = -EINVAL;
}

/* The copy-out calls with a NULL BUF would pass for views: refuse them. */
static void copy_init(struct rd_op *o, void *buf, size_t n)
{
    o->buf = buf;
    o->rec.n = n;
    if (n == 0)
        o->rec.kind = ACX__REC_EXACT; /* nothing to read: 0 at once */
    else if (buf == NULL)
        o->err0 = -EINVAL;
}

void acx__init_acx_stream_readline(struct acx__frame_acx_stream_readline *f,
                                   acx_stream *st, void *buf, size_t size)
{
    struct rd_op *o = rd_init(&f->acx__hdr, &acx__info_acx_stream_readline,
                              st, ACX__REC_LINE);
    until_init(o, "\n", 1, buf, size, NULL);
}

void acx__init_acx_stream_readline_view(
    struct acx__frame_acx_stream_readline_view *f, acx_stream *st,
    const char **line)
{
    struct rd_op *o = rd_init(&f->acx__hdr,
                              &acx__info_acx_stream_readline_view, st,
                              ACX__REC_LINE);
    until_init(o, "\n", 1, NULL, SIZE_MAX, line);
}

void acx__init_acx_stream_readuntil(
    struct acx__frame_acx_stream_readuntil *f, acx_stream *st,
    const void *sep, size_t seplen, void *buf, size_t size)
{
    struct rd_op *o = rd_init(&f->acx__hdr, &acx__info_acx_stream_readuntil,
                              st, ACX__REC_UNTIL);
    until_init(o, sep, seplen, buf, size, NULL);
}

void acx__init_acx_stream_readuntil_view(
    struct acx__frame_acx_stream_readuntil_view *f, acx_stream *st,
    const void *sep, size_t seplen, const char **rec)
{
    struct rd_op *o = rd_init(&f->acx__hdr,
                              &acx__info_acx_stream_readuntil_view, st,
                              ACX__REC_UNTIL);
    until_init(o, sep, seplen, NULL, SIZE_MAX, rec);
}

void acx__init_acx_stream_readexactly(
    struct acx__frame_acx_stream_readexactly *f, acx_stream *st, void *buf,
    size_t n)
{
    struct rd_op *o = rd_init(&f->acx__hdr,
                              &acx__info_acx_stream_readexactly, st,
                              ACX__REC_EXACT);
    copy_init(o, buf, n);
}

void acx__init_acx_stream_readexactly_view(
    struct acx__frame_acx_stream_readexactly_view *f, acx_stream *st,
    size_t n, const char **rec)
{
    struct rd_op *o = rd_init(&f->acx__hdr,
                              &acx__info_acx_stream_readexactly_view, st,
                              ACX__REC_EXACT);
    o->rec.n = n;
    rd_set_view(o, rec);
}

void acx__init_acx_stream_read(struct acx__frame_acx_stream_read *f,
                               acx_stream *st, void *buf, size_t n)
{
    struct rd_op *o = rd_init(&f->acx__hdr, &acx__info_acx_stream_read, st,
                              ACX__REC_SOME);
    copy_init(o, buf, n);
}

void acx__init_acx_stream_read_view(struct acx__frame_acx_stream_read_view *f,
                                    acx_stream *st, ssize_t n,
                                    const char **data)
{
    struct rd_op *o = rd_init(&f->acx__hdr, &acx__info_acx_stream_read_view,
                              st, n < 0 ? ACX__REC_ALL : ACX__REC_SOME);
    o->rec.n = n < 0 ? 0 : (size_t)n;
    if (n == 0)
        o->rec.kind = ACX__REC_EXACT;
    rd_set_view(o, data);
}

/* The constructors for plain C callers: the same frames, boxed. */
#define BOXED(name, ...)                                                   \
    do {                                                                   \
        acx_coro *c_ = acx__coro_alloc(sizeof(struct acx__frame_##name),   \
                                       &acx__info_##name);                 \
        if (c_ != NULL)                                                    \
            acx__init_##name((struct acx__frame_##name *)c_, __VA_ARGS__); \
        return c_;                                                         \
    } while (0)

acx_coro *acx_stream_readline(acx_stream *st, void *buf, size_t size)
{
    BOXED(acx_stream_readline, st, buf, size);
}

acx_coro *acx_stream_readline_view(acx_stream *st, const char **line)
{
    BOXED(acx_stream_readline_view, st, line);
}

acx_coro *acx_stream_readuntil(acx_stream *st, const void *sep,
                               size_t seplen, void *buf, size_t size)
{
    BOXED(acx_stream_readuntil, st, sep, seplen, buf, size);
}

acx_coro *acx_stream_readuntil_view(acx_stream *st, const void *sep,
                                    size_t seplen, const char **rec)
{
    BOXED(acx_stream_readuntil_view, st, sep, seplen, rec);
}

acx_coro *acx_stream_readexactly(acx_stream *st, void *buf, size_t n)
{
    BOXED(acx_stream_readexactly, st, buf, n);
}

acx_coro *acx_stream_readexactly_view(acx_stream *st, size_t n,
                                      const char **rec)
{
    BOXED(acx_stream_readexactly_view, st, n, rec);
}

acx_coro *acx_stream_read(acx_stream *st, void *buf, size_t n)
{
    BOXED(acx_stream_read, st, buf, n);
}

acx_coro *acx_stream_read_view(acx_stream *st, ssize_t n, const char **data)
{
    BOXED(acx_stream_read_view, st, n, data);
}

/* ---- the write side ----------------------------------------------------- */

enum { WR_DRAIN, WR_FLUSH, WR_CLOSE, WR_FLUSHER };

static const char *const wr_names[] = {"drain", "flush", "close",
                                       "flusher"};

struct wr_op {
    acx_stream *st;   /* NULL once the stream was closed under it */
    acx__sockwait w;
    struct wr_op *next, *prev; /* on st->writers while linked */
    int kind;         /* WR_* */
    int linked;
    size_t target;    /* done once at most this much is buffered */
};

/* The drain, flush and close frames (acx_stream.h) and the flusher's. */
struct wr_frame {
    ACX__FRAME_PREFIX;
    int acx__ret;
    union {
        acx__stream_wr abi;
        struct wr_op o;
    };
};
_Static_assert(sizeof(struct wr_op) <= sizeof(acx__stream_wr) &&
                   _Alignof(struct wr_op) <= _Alignof(acx__stream_wr),
               "acx__stream_wr (acx_stream.h) must hold a struct wr_op");
_Static_assert(sizeof(struct wr_frame) ==
                   sizeof(struct acx__frame_acx_stream_drain),
               "the write frames' layout is acx_stream.h's");

static void wr_link(acx_stream *st, struct wr_op *o)
{
    o->prev = NULL;
    o->next = st->writers;
    if (st->writers != NULL)
        st->writers->prev = o;
    st->writers = o;
    o->linked = 1;
}

static void wr_unlink(acx_stream *st, struct wr_op *o)
{
    if (!o->linked)
        return;
    if (o->prev)
        o->prev->next = o->next;
    else
        st->writers = o->next;
    if (o->next)
        o->next->prev = o->prev;
    o->next = o->prev = NULL;
    o->linked = 0;
}

/* A write error: sticky, and what was buffered can never go. */
static int wr_fail(acx_stream *st, int err)
{
    if (st->werr == 0)
        st->werr = err;
    acx__sbuf_consume(&st->wb, acx__sbuf_len(&st->wb));
    return st->werr;
}

/* Send what is buffered, then the EOF if it was asked: 0 when all of it
 * has gone, -EAGAIN when the socket is full, or the sticky error. */
static int wr_flush(acx_stream *st)
{
    acx__sbuf *b = &st->wb;
    while (st->werr == 0 && acx__sbuf_len(b) > 0) {
        ssize_t r = sys_out(st, acx__sbuf_peek(b), acx__sbuf_len(b));
        if (r == -EAGAIN)
            return -EAGAIN;
        if (r < 0)
            return wr_fail(st, (int)r);
        acx__sbuf_consume(b, (size_t)r);
    }
    if (st->werr == 0 && st->eof_asked && !st->eof_sent) {
        st->eof_sent = 1;
        int err = acx_sock_shutdown(st->sock, SHUT_WR);
        /* ENOTCONN: the peer is gone already.  ENOTSOCK: a pipe, which
         * has no half-close; its reader sees the end at close. */
        if (err && err != -ENOTCONN && err != -ENOTSOCK)
            wr_fail(st, err);
    }
    return st->werr;
}

static int stream_free(acx_stream *st);

/* The op is over with R.  The flusher's failures are the stream's (drain
 * and later writes report them), not its task's: it always returns 0. */
static int wr_finish(struct wr_op *o, int r)
{
    acx_stream *st = o->st;
    if (st == NULL)
        return o->kind == WR_FLUSHER ? 0 : r;
    wr_unlink(st, o);
    switch (o->kind) {
    case WR_FLUSHER:
        st->flusher = 0;
        acx__sbuf_trim(&st->wb); /* all sent: a big backlog's memory back */
        return 0;
    case WR_CLOSE: {
        o->st = NULL;
        int err = stream_free(st);
        return r ? r : err;
    }
    default:
        return r;
    }
}

static int wr_step(acx_coro *c, struct wr_op *o, int *ret)
{
    acx_stream *st = o->st;
    if (ACX__STATE(c) == ST_START) {
        if (st == NULL) {
            *ret = o->kind == WR_FLUSHER ? 0 : -EBADF;
            return ACX__DONE;
        }
        if (o->kind == WR_DRAIN) {
            /* asyncio: drain waits only while above the high mark */
            if (st->werr || acx__sbuf_len(&st->wb) <= st->high) {
                *ret = st->werr;
                return ACX__DONE;
            }
            o->target = st->low;
        }
        if (o->kind == WR_CLOSE)
            st->closing = 1; /* no writes from now on: they could not go */
        if (!o->linked)
            wr_link(st, o);
    } else if (st == NULL) {
        *ret = wr_finish(o, -EBADF);
        return ACX__DONE;
    } else if (o->w.err) {
        *ret = wr_finish(o, o->w.err);
        return ACX__DONE;
    }
    int r = wr_flush(st);
    if (r == -EAGAIN && acx__sbuf_len(&st->wb) <= o->target)
        r = 0;
    if (r == -EAGAIN && (r = acx__intr_check()) == 0 &&
        (r = acx__sock_park(st->sock, &o->w, ACX__IO_OUT)) == 0) {
        ACX__STATE(c) = ST_PARKED;
        acx__cur_task->top = c;
        return ACX__SUSPEND;
    }
    *ret = wr_finish(o, r);
    return ACX__DONE;
}

static int wr_body(acx_coro *c)
{
    struct wr_frame *f = (struct wr_frame *)c;
    int r;
    if (wr_step(c, &f->o, &r) == ACX__SUSPEND)
        return ACX__SUSPEND;
    f->acx__ret = r;
    return ACX__DONE;
}

static int wr_cancel(acx_coro *c, int err)
{
    struct wr_frame *f = (struct wr_frame *)c;
    if (f->o.st != NULL)
        acx__sock_unpark(f->o.st->sock, &f->o.w, err);
    else
        f->o.w.err = err;
    f->acx__ret = err;
    return 1;
}

static int wr_describe(const acx_coro *c, char *buf, size_t size)
{
    const struct wr_op *o = &((const struct wr_frame *)c)->o;
    if (o->st == NULL)
        return snprintf(buf, size, "stream %s (closed)",
                        wr_names[o->kind]);
    return snprintf(buf, size, "stream fd %d %s, %zu bytes to send",
                    o->st->sock->io.fd, wr_names[o->kind],
                    acx__sbuf_len(&o->st->wb));
}

/* The exported body and info of write await NAME. */
#define WR_ENTRY(name)                                                     \
    int acx__body_##name(acx_coro *c)                                      \
    {                                                                      \
        return wr_body(c);                                                 \
    }                                                                      \
    ACX__LEAF_INFO_AS(, acx__info_##name, struct wr_frame, #name,          \
                      acx__body_##name, wr_cancel, wr_describe)

WR_ENTRY(acx_stream_drain);
WR_ENTRY(acx_stream_flush);
WR_ENTRY(acx_stream_close);
ACX__LEAF_INFO_AS(static, flusher_info, struct wr_frame,
                  "acx_stream_flusher", wr_body, wr_cancel, wr_describe);

static void wr_init(acx_coro *c, const acx__info *info, acx_stream *st,
                    int kind)
{
    c->info = info;
    c->parent = NULL;
    ACX__STATE(c) = 0;
    struct wr_op *o = &((struct wr_frame *)c)->o;
    memset(o, 0, sizeof *o);
    o->st = st;
    o->kind = kind;
}

void acx__init_acx_stream_drain(struct acx__frame_acx_stream_drain *f,
                                acx_stream *st)
{
    wr_init(&f->acx__hdr, &acx__info_acx_stream_drain, st, WR_DRAIN);
}

void acx__init_acx_stream_flush(struct acx__frame_acx_stream_flush *f,
                                acx_stream *st)
{
    wr_init(&f->acx__hdr, &acx__info_acx_stream_flush, st, WR_FLUSH);
}

void acx__init_acx_stream_close(struct acx__frame_acx_stream_close *f,
                                acx_stream *st)
{
    wr_init(&f->acx__hdr, &acx__info_acx_stream_close, st, WR_CLOSE);
}

acx_coro *acx_stream_drain(acx_stream *st)
{
    BOXED(acx_stream_drain, st);
}

acx_coro *acx_stream_flush(acx_stream *st)
{
    BOXED(acx_stream_flush, st);
}

acx_coro *acx_stream_close(acx_stream *st)
{
    BOXED(acx_stream_close, st);
}

/* Bytes are buffered: make sure a task sends them in the background.  It
 * is linked at once, so a stream freed before it first runs unhooks it. */
static int start_flusher(acx_stream *st)
{
    if (st->flusher)
        return 0;
    acx_coro *c = acx__coro_alloc(sizeof(struct wr_frame), &flusher_info);
    if (c == NULL)
        return -ENOMEM;
    wr_init(c, &flusher_info, st, WR_FLUSHER);
    struct wr_op *o = &((struct wr_frame *)c)->o;
    acx_task *t = (acx_spawn)(c);
    if (t == NULL)
        return errno ? -errno : -ENOMEM;
    (void)acx_task_set_name(t, "acx_stream_flusher");
    acx_task_release(t);
    wr_link(st, o);
    st->flusher = 1;
    return 0;
}

int acx_stream_write(acx_stream *st, const void *buf, size_t n)
{
    if (st == NULL)
        return -EBADF;
    if (st->werr)
        return st->werr;
    if (st->eof_asked || st->closing)
        return -EPIPE;
    if (n == 0)
        return 0;
    if (buf == NULL)
        return -EINVAL;
    const char *p = buf;
    if (acx__sbuf_len(&st->wb) == 0) { /* straight to the socket */
        while (n > 0) {
            ssize_t r = sys_out(st, p, n);
            if (r == -EAGAIN)
                break;
            if (r < 0)
                return wr_fail(st, (int)r);
            p += r;
            n -= (size_t)r;
        }
        if (n == 0)
            return 0;
    }
    ssize_t r = acx__sbuf_append(&st->wb, p, n);
    if (r < 0)
        return wr_fail(st, (int)r);
    int err = start_flusher(st);
    return err ? wr_fail(st, err) : 0;
}

int acx_stream_write_eof(acx_stream *st)
{
    if (st == NULL)
        return -EBADF;
    if (st->werr)
        return st->werr;
    st->eof_asked = 1;
    if (acx__sbuf_len(&st->wb) == 0)
        return wr_flush(st); /* nothing waits: shut down now */
    return 0; /* the flusher shuts down when the buffer has gone */
}

size_t acx_stream_memory(const acx_stream *st)
{
    return st ? sizeof *st + st->rb.cap + st->wb.cap : 0;
}

size_t acx_stream_write_buffered(const acx_stream *st)
{
    return st ? acx__sbuf_len(&st->wb) : 0;
}

int acx_stream_set_write_limits(acx_stream *st, size_t high, size_t low)
{
    if (st == NULL || low > high)
        return -EINVAL;
    st->high = high;
    st->low = low;
    return 0;
}

/* ---- making and ending ------------------------------------------------- */

int acx_stream_new(acx_stream **out, acx_sock *s)
{
    if (out == NULL || s == NULL)
        return -EINVAL;
    acx_stream *st = calloc(1, sizeof *st);
    if (st == NULL)
        return -ENOMEM;
    st->sock = s;
    acx__sbuf_init(&st->rb, ACX_STREAM_LIMIT);
    acx__sbuf_init(&st->wb, SIZE_MAX);
    st->high = ACX_STREAM_HIGH;
    st->low = ACX_STREAM_LOW;
    *out = st;
    return 0;
}

acx_sock *acx_stream_sock(const acx_stream *st)
{
    return st ? st->sock : NULL;
}

/* Unhook every await in progress (each returns -EBADF without touching
 * ST), close the socket (which wakes the parked ones), free ST. */
static int stream_free(acx_stream *st)
{
    if (st->reader != NULL) {
        st->reader->st = NULL;
        st->reader = NULL;
    }
    while (st->writers != NULL) {
        struct wr_op *o = st->writers;
        wr_unlink(st, o);
        o->st = NULL;
    }
    int err = acx_sock_close(st->sock);
    acx__sbuf_free(&st->rb);
    acx__sbuf_free(&st->wb);
    free(st);
    return err;
}

int acx_stream_abort(acx_stream *st)
{
    return st ? stream_free(st) : 0;
}

/* ---- open_connection: connect, then a stream over the socket ----------- */

struct conn_frame {
    ACX__FRAME_PREFIX;
    int acx__ret;
    acx_stream **out;
    acx_sock *s;      /* the connect's result */
    acx_coro *child;  /* acx_sock_connect's frame while it runs */
    socklen_t len;
    struct sockaddr_storage addr; /* parsed by the constructor */
};

/* The connect finished (its result in the child): make the stream. */
static int conn_finish(struct conn_frame *f)
{
    int r = f->child->info->result_int(f->child);
    acx_coro_free(f->child);
    f->child = NULL;
    if (r == 0) {
        r = acx_stream_new(f->out, f->s);
        if (r < 0)
            acx_sock_close(f->s);
    }
    f->acx__ret = r;
    return ACX__DONE;
}

/* State 0 starts the connect as a child frame (made here, not in the
 * constructor, so an await never run leaks nothing; the child holds the
 * parked socket wait and takes the interrupts); state 1 is its end. */
static int conn_body(acx_coro *c)
{
    struct conn_frame *f = (struct conn_frame *)c;
    if (f->acx__state != 0)
        return conn_finish(f);
    if (f->acx__ret != 0) /* the constructor's error */
        return ACX__DONE;
    f->child = acx_sock_connect(&f->s, (struct sockaddr *)&f->addr, f->len);
    if (f->child == NULL) {
        f->acx__ret = -ENOMEM;
        return ACX__DONE;
    }
    f->child->parent = c;
    f->acx__state = 1;
    if (!ACX__STACK_OK())
        return acx__push(f->child);
    int r = f->child->info->body(f->child);
    return r == ACX__DONE ? conn_finish(f) : r;
}

ACX__LEAF_INFO_AS(static, conn_info, struct conn_frame,
                  "acx_stream_connect", conn_body, NULL, NULL);

acx_coro *acx_stream_connect(acx_stream **out, const char *addr)
{
    struct conn_frame *f = (struct conn_frame *)(void *)acx__coro_alloc(
        sizeof *f, &conn_info);
    if (f == NULL)
        return NULL;
    f->out = out;
    f->s = NULL;
    f->child = NULL;
    f->len = 0;
    /* the address is parsed and copied now: ADDR need not outlive this */
    f->acx__ret = out == NULL ? -EINVAL
                              : acx_sock_addr_parse(addr, &f->addr, &f->len);
    if (out != NULL)
        *out = NULL;
    return &f->acx__hdr;
}

/* ---- reading: the plain calls ------------------------------------------ */

int acx_stream_set_limit(acx_stream *st, size_t limit)
{
    if (st == NULL || limit == 0)
        return -EINVAL;
    st->rb.limit = limit;
    return 0;
}

size_t acx_stream_limit(const acx_stream *st)
{
    return st ? st->rb.limit : 0;
}

int acx_stream_at_eof(const acx_stream *st)
{
    return st != NULL && st->rd_eof && acx__sbuf_len(&st->rb) == 0;
}

size_t acx_stream_buffered(const acx_stream *st, const char **data)
{
    if (st == NULL)
        return 0;
    if (data != NULL)
        *data = st->rb.data != NULL ? acx__sbuf_peek(&st->rb) : "";
    return acx__sbuf_len(&st->rb);
}

ssize_t acx_stream_consume(acx_stream *st, size_t n)
{
    if (st == NULL)
        return -EBADF;
    if (st->reader != NULL)
        return -EBUSY;
    size_t len = acx__sbuf_len(&st->rb);
    if (n > len)
        n = len;
    acx__sbuf_consume(&st->rb, n);
    return (ssize_t)n;
}
