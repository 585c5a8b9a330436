/* acx_stream.h - buffered streams over a socket (issue 4): asyncio's
 * StreamReader and StreamWriter for coroutines.
 *
 * Included by acx.h; see it for the conventions.
 *
 * An acx_stream owns one acx_sock (a connected stream socket; a pipe once
 * acx_sock_wrap takes them) and puts two buffers over it:
 *
 *   reading: records come out whole: a line (readline), bytes up to any
 *   separator (readuntil), exactly N bytes (readexactly), what is there
 *   (read).  Each has a copy-out form, into the caller's buffer, and a
 *   zero-copy _view form that hands back a pointer into the stream's own
 *   buffer, valid until the next read call on the stream (any
 *   acx_stream_read*, acx_stream_consume, close or abort).  The buffer
 *   holds at most LIMIT bytes (acx_stream_set_limit, 64 KiB by default as
 *   in asyncio), so a peer can never make it grow without bound: a record
 *   longer than that is -EMSGSIZE (asyncio's LimitOverrunError), and its
 *   bytes STAY BUFFERED (acx_stream_buffered shows them,
 *   acx_stream_consume drops them).  Nothing read is ever lost: an await
 *   interrupted by a cancel or a timeout scope (-ECANCELED, -ETIMEDOUT)
 *   leaves every byte it had received in the buffer for the next call.
 *
 *   writing: acx_stream_write never suspends.  When nothing is buffered it
 *   sends straight from the caller's bytes (no copy); what the socket does
 *   not take is buffered and sent in the background (a flusher task the
 *   stream starts, like an asyncio transport; it lives only while bytes
 *   wait, and shows in acx_all_tasks and dumps as acx_stream_flusher).  Flow control is asyncio's:
 *   acx_stream_drain returns at once while the buffer is at most the high
 *   water mark, else waits until it is down to the low water mark (64 KiB
 *   and 16 KiB by default; acx_stream_set_write_limits).  A write error
 *   (-EPIPE, -ECONNRESET) is sticky: the buffered bytes are dropped and
 *   drain, flush, close and every later write return it.
 *
 * Awaits follow acx.h's interrupt model (cancellation, timeout scopes) and
 * return -EBADF when the stream is closed or aborted under them.  One read
 * await at a time per stream (a second is -EBUSY, as asyncio refuses two
 * readers); any number of tasks may drain at once.
 *
 * Threads: everything is for the thread of the loop that uses the stream
 * (acx_stream_new and the setters also before a loop uses it).
 *
 * Python names: open_connection = acx_stream_connect (or
 * acx_sock_connect_str + acx_stream_new);
 * start_server = acx_sock_listen_str, then acx_sock_accept and
 * acx_stream_new per connection; StreamReader.readline / readuntil /
 * readexactly / read / at_eof = acx_stream_readline / readuntil /
 * readexactly / read / read_view(-1) / at_eof; StreamWriter.write / drain
 * / write_eof / close + wait_closed / transport.abort /
 * get_write_buffer_size / set_write_buffer_limits = acx_stream_write /
 * drain / write_eof / close / abort / write_buffered /
 * set_write_limits.
 */
#include "acx.h" /* alone, this part brings all of acx.h, in its order */

#ifndef ACX_STREAM_H
#define ACX_STREAM_H

#include <sys/types.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct acx_stream acx_stream;

#define ACX_STREAM_LIMIT (64 * 1024)     /* asyncio's _DEFAULT_LIMIT */
#define ACX_STREAM_HIGH (64 * 1024)      /* asyncio's high water mark */
#define ACX_STREAM_LOW (16 * 1024)       /* and its low water mark */

/* ---- making and ending -------------------------------------------------- */

/* A stream over S, which it owns from now on (acx_stream_close and
 * acx_stream_abort close S; do not close S yourself).  Buffers are
 * allocated on first use.  Returns 0, -EINVAL (OUT or S NULL), -ENOMEM
 * (S is then still the caller's).  Loop thread, or any before a loop
 * uses S. */
int acx_stream_new(acx_stream **out, acx_sock *s);

/* await acx_stream_connect(&st, addr) (asyncio.open_connection): connect
 * a stream socket to ADDR (acx_sock_addr_parse's text form: "host:port",
 * "[::1]:port", "unix:/path") and put a stream over it, in *OUT (NULL
 * until then, and on failure).  Returns 0, or acx_sock_connect's errors
 * (-EINVAL for a malformed address or OUT NULL, -ECONNREFUSED, -ECANCELED,
 * -ETIMEDOUT, ...), -ENOMEM.  ADDR is copied when the await is made. */
ACX_ASYNC_DECL(int, acx_stream_connect, (acx_stream * *out,
                                         const char *addr));

/* The bytes ST holds: the object and its two buffers' allocations (for
 * watching memory across many connections).  A read buffer grows as
 * records need it or as a peer far ahead fills it, up to the limit, and is given back when it is empty
 * and its read waits for the peer; the write buffer is given back once
 * its backlog has gone.  0 for NULL. */
size_t acx_stream_memory(const acx_stream *st);

/* The socket under ST (still owned by ST), NULL for NULL. */
acx_sock *acx_stream_sock(const acx_stream *st);

/* await acx_stream_close(st) (StreamWriter.close + wait_closed): send what
 * is buffered (and the EOF of acx_stream_write_eof, if it was asked),
 * then close the socket and free ST, whatever happened: ST is gone when
 * the await returns.  Awaits still parked on ST get -EBADF.  Returns 0, or
 * the write error that kept bytes from going (-EPIPE, -ECONNRESET), or
 * -ECANCELED / -ETIMEDOUT when interrupted while sending (the rest is
 * dropped and ST closed all the same), -EBADF for NULL. */
ACX_ASYNC_DECL(int, acx_stream_close, (acx_stream * st));

/* Close at once (transport.abort): buffered bytes in both directions are
 * dropped, the socket closed, ST freed; parked awaits get -EBADF.  Returns
 * acx_sock_close's result; NULL is a no-op.  Loop thread. */
int acx_stream_abort(acx_stream *st);

/* ---- reading ---------------------------------------------------------------
 *
 * Every read await returns, besides what is listed: -ECANCELED /
 * -ETIMEDOUT (interrupted; the bytes received so far stay buffered),
 * -EBUSY (another read await is in progress on ST), -EBADF (ST NULL, or
 * closed under it), -ENOMEM (the buffer could not grow), and the socket's
 * errors (-ECONNRESET, ...), which come only after every complete record
 * buffered before them.  End of stream is 0 when it falls between records
 * (nothing buffered), and -ENODATA (asyncio's IncompleteReadError) when it
 * cuts a record short: the partial record stays buffered, and
 * acx_stream_buffered says how many bytes came (its .partial). */

/* The record limit: no record longer than LIMIT bytes is returned, and the
 * read buffer never holds more (asyncio's limit=).  LIMIT > 0; lowering it
 * below what is buffered keeps those bytes.  Returns 0 or -EINVAL. */
int acx_stream_set_limit(acx_stream *st, size_t limit);
size_t acx_stream_limit(const acx_stream *st);

/* await acx_stream_readline(st, buf, size): the next line, up to and
 * including '\n', copied into BUF (not NUL-terminated).  Returns its
 * length; at end of stream, what is left of an unterminated last line (as
 * asyncio's readline: the result does not end in '\n'), and 0 once
 * nothing is left.  -EMSGSIZE when the line is longer than the limit or
 * than SIZE: nothing is consumed (the line's first bytes stay buffered).
 * BUF must stay valid until the await returns. */
ACX_ASYNC_DECL(ssize_t, acx_stream_readline,
               (acx_stream * st, void *buf, size_t size));

/* The zero-copy readline: *LINE points at the line inside ST's buffer,
 * valid until the next read call on ST.  Same results (SIZE is the
 * limit). */
ACX_ASYNC_DECL(ssize_t, acx_stream_readline_view,
               (acx_stream * st, const char **line));

/* await acx_stream_readuntil(st, sep, seplen, buf, size): the bytes up to
 * and including the separator SEP (SEPLEN > 0 bytes, any bytes), copied
 * into BUF.  Returns the record's length; 0 at end of stream with nothing
 * buffered; -ENODATA when the stream ends inside a record (it stays
 * buffered); -EMSGSIZE when the separator is not within the first
 * min(limit, SIZE) bytes (nothing consumed); -EINVAL for an empty SEP.
 * SEP and BUF must stay valid until the await returns.  Bytes already
 * searched are not searched again as more arrive. */
ACX_ASYNC_DECL(ssize_t, acx_stream_readuntil,
               (acx_stream * st, const void *sep, size_t seplen, void *buf,
                size_t size));

/* The zero-copy readuntil (*REC valid until the next read call). */
ACX_ASYNC_DECL(ssize_t, acx_stream_readuntil_view,
               (acx_stream * st, const void *sep, size_t seplen,
                const char **rec));

/* await acx_stream_readexactly(st, buf, n): exactly N bytes into BUF.
 * Returns N; 0 at end of stream with nothing buffered; -ENODATA when it
 * ends after 1..N-1 bytes (they stay buffered: acx_stream_buffered says
 * how many); -EMSGSIZE when N exceeds the limit (raise it first). */
ACX_ASYNC_DECL(ssize_t, acx_stream_readexactly,
               (acx_stream * st, void *buf, size_t n));

/* The zero-copy readexactly (*REC valid until the next read call). */
ACX_ASYNC_DECL(ssize_t, acx_stream_readexactly_view,
               (acx_stream * st, size_t n, const char **rec));

/* await acx_stream_read(st, buf, n) (StreamReader.read(n)): up to N bytes,
 * as soon as any are there: the buffered ones, else one read of the
 * socket, straight into BUF when nothing is buffered.  Returns how many
 * (> 0), 0 at end of stream (or N == 0). */
ACX_ASYNC_DECL(ssize_t, acx_stream_read,
               (acx_stream * st, void *buf, size_t n));

/* The zero-copy read: N > 0 as acx_stream_read (at most N bytes, at
 * *DATA); N < 0 (read(-1)): everything up to end of stream, which must
 * come within the limit: -EMSGSIZE once LIMIT bytes are buffered and the
 * stream has not ended (they stay buffered).  Returns the length (0: the
 * stream ended with nothing buffered). */
ACX_ASYNC_DECL(ssize_t, acx_stream_read_view,
               (acx_stream * st, ssize_t n, const char **data));

/* StreamReader.at_eof: the stream has ended and nothing is buffered. */
int acx_stream_at_eof(const acx_stream *st);

/* The bytes buffered and not yet read: their count, and in *DATA (if not
 * NULL) where they are (valid until the next read call).  0 for NULL. */
size_t acx_stream_buffered(const acx_stream *st, const char **data);

/* Drop the first N buffered bytes (at most what is buffered): after
 * -EMSGSIZE, to skip an over-long record.  Returns how many were dropped,
 * or -EBUSY while a read await is in progress, -EBADF for NULL. */
ssize_t acx_stream_consume(acx_stream *st, size_t n);

/* ---- writing ------------------------------------------------------------ */

/* StreamWriter.write: queue N bytes without suspending; sent at once when
 * nothing is buffered and the socket takes them.  Returns 0, or the
 * stream's sticky write error (-EPIPE, -ECONNRESET; nothing is queued),
 * -EPIPE after acx_stream_write_eof or during close, -ENOMEM (the stream
 * is then broken: every later write fails too), -EBADF for NULL. */
int acx_stream_write(acx_stream *st, const void *buf, size_t n);

/* Bytes written and not yet taken by the socket
 * (transport.get_write_buffer_size). */
size_t acx_stream_write_buffered(const acx_stream *st);

/* The flow control marks (transport.set_write_buffer_limits): drain
 * waits when more than HIGH bytes are buffered, until LOW or fewer are.
 * Returns 0, or -EINVAL when LOW > HIGH. */
int acx_stream_set_write_limits(acx_stream *st, size_t high, size_t low);

/* await acx_stream_drain(st) (StreamWriter.drain): 0 at once when at most
 * the high water mark is buffered, else once the buffer is down to the low
 * water mark.  Returns 0, the sticky write error, -ECANCELED / -ETIMEDOUT
 * (the bytes stay queued), -EBADF (NULL, or closed under it). */
ACX_ASYNC_DECL(int, acx_stream_drain, (acx_stream * st));

/* await acx_stream_flush(st): like drain, but until every byte has gone
 * (and the EOF of acx_stream_write_eof has been sent). */
ACX_ASYNC_DECL(int, acx_stream_flush, (acx_stream * st));

/* StreamWriter.write_eof: no more writes; once the buffer has gone out the
 * writing side is shut down (SHUT_WR: the peer reads end of stream and may
 * still write to us; a pipe has no half-close: its reader sees the end
 * when the stream is closed).  Does not suspend; acx_stream_flush waits
 * for it.
 * Returns 0, the sticky write error, -EBADF for NULL. */
int acx_stream_write_eof(acx_stream *st);

/* ---- ABI: the await frames (internal) --------------------------------------
 * acxc embeds an await's frame in the awaiting frame when it can see the
 * frame's definition, so `await acx_stream_readline_view(st, &p)` in an
 * .acx file allocates nothing and calls the body directly: a line costs
 * no malloc.  The op state is stream.c's own, opaque here (stream.c checks
 * that it fits).  Plain C callers use the constructors above, which box
 * the same frames. */
typedef struct acx__stream_rd {
    void *acx__opaque[18];
} acx__stream_rd;
typedef struct acx__stream_wr {
    void *acx__opaque[12];
} acx__stream_wr;

#define ACX__STREAM_FRAME(name, rtype, optype)                             \
    struct acx__frame_##name {                                             \
        ACX__FRAME_PREFIX;                                                 \
        rtype acx__ret;                                                    \
        optype o;                                                          \
    };                                                                     \
    extern const acx__info acx__info_##name;                               \
    int acx__body_##name(acx_coro *c)

ACX__STREAM_FRAME(acx_stream_readline, ssize_t, acx__stream_rd);
ACX__STREAM_FRAME(acx_stream_readline_view, ssize_t, acx__stream_rd);
ACX__STREAM_FRAME(acx_stream_readuntil, ssize_t, acx__stream_rd);
ACX__STREAM_FRAME(acx_stream_readuntil_view, ssize_t, acx__stream_rd);
ACX__STREAM_FRAME(acx_stream_readexactly, ssize_t, acx__stream_rd);
ACX__STREAM_FRAME(acx_stream_readexactly_view, ssize_t, acx__stream_rd);
ACX__STREAM_FRAME(acx_stream_read, ssize_t, acx__stream_rd);
ACX__STREAM_FRAME(acx_stream_read_view, ssize_t, acx__stream_rd);
ACX__STREAM_FRAME(acx_stream_drain, int, acx__stream_wr);
ACX__STREAM_FRAME(acx_stream_flush, int, acx__stream_wr);
ACX__STREAM_FRAME(acx_stream_close, int, acx__stream_wr);

void acx__init_acx_stream_readline(struct acx__frame_acx_stream_readline *f,
                                   acx_stream *st, void *buf, size_t size);
void acx__init_acx_stream_readline_view(
    struct acx__frame_acx_stream_readline_view *f, acx_stream *st,
    const char **line);
void acx__init_acx_stream_readuntil(
    struct acx__frame_acx_stream_readuntil *f, acx_stream *st,
    const void *sep, size_t seplen, void *buf, size_t size);
void acx__init_acx_stream_readuntil_view(
    struct acx__frame_acx_stream_readuntil_view *f, acx_stream *st,
    const void *sep, size_t seplen, const char **rec);
void acx__init_acx_stream_readexactly(
    struct acx__frame_acx_stream_readexactly *f, acx_stream *st, void *buf,
    size_t n);
void acx__init_acx_stream_readexactly_view(
    struct acx__frame_acx_stream_readexactly_view *f, acx_stream *st,
    size_t n, const char **rec);
void acx__init_acx_stream_read(struct acx__frame_acx_stream_read *f,
                               acx_stream *st, void *buf, size_t n);
void acx__init_acx_stream_read_view(struct acx__frame_acx_stream_read_view *f,
                                    acx_stream *st, ssize_t n,
                                    const char **data);
void acx__init_acx_stream_drain(struct acx__frame_acx_stream_drain *f,
                                acx_stream *st);
void acx__init_acx_stream_flush(struct acx__frame_acx_stream_flush *f,
                                acx_stream *st);
void acx__init_acx_stream_close(struct acx__frame_acx_stream_close *f,
                                acx_stream *st);

/* ---- test hook (internal) -------------------------------------------------
 * The stream's system calls consult acx__net_fault (acx_net.h) with the
 * names "recv" and "send", as the socket awaits do. */

#ifdef __cplusplus
}
#endif
#endif
