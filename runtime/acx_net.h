/* acx_net.h - sockets: TCP, UDP and Unix domain sockets for coroutines (issue 4).
 *
 * Included by acx.h; see it for the conventions.
 *
 * An acx_sock owns one non-blocking, close-on-exec socket and ONE poller
 * watch for it, shared by every task waiting on it: a reader and a writer
 * (or several acceptors) may be parked on the same socket at once, and the
 * watch asks the kernel for the union of what they need.  Every await
 * first tries its system call and parks only on EAGAIN (so an await whose
 * data is already there never suspends), with one exception: a read of a
 * stream socket whose previous read came back short (it emptied the
 * kernel's buffer) waits for readiness first, saving the recv that would
 * say EAGAIN in every request-response exchange (data that came meanwhile
 * is reported by the level-triggered watch at the next poll).  EINTR is
 * retried inside.  The
 * awaits follow the interrupt model of acx.h: a task cancelled, or whose
 * timeout scope expires, while parked in one gets -ECANCELED / -ETIMEDOUT
 * and its wait is taken off the watch; the socket stays usable.  A
 * timeout on any of them is a scope around the await (acx_timeout_begin,
 * acx_wait_for).
 *
 * TCP connections (accepted from a TCP listener, or made by
 * acx_sock_connect) have TCP_NODELAY set, as asyncio and Go do: a small
 * write goes out at once instead of waiting behind Nagle's algorithm for
 * the peer's delayed ACK (40 ms or more).  A program that batches its
 * own writes can clear it with setsockopt on acx_sock_fd.
 *
 * Threads: a socket belongs to the loop that first waits on it; every
 * call is for that loop's thread (creating one is fine from any thread
 * before a loop uses it).  Send never raises SIGPIPE (MSG_NOSIGNAL): a
 * write to a closed peer returns -EPIPE.
 */
#include "acx.h" /* alone, this part brings all of acx.h, in its order */

#ifndef ACX_NET_H
#define ACX_NET_H

#include <sys/socket.h>
#include <sys/types.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct acx_sock acx_sock;

/* ---- addresses ------------------------------------------------------- */

/* Parse TEXT into *SS / *LEN: "1.2.3.4:port", "[::1]:port" (IPv6 in
 * brackets, an optional %scope), "unix:/path" (a Unix domain path) or
 * "unix:@name" (Linux's abstract namespace).  Hosts are numeric: name
 * resolution is getaddrinfo's job, off the loop.  Returns 0 or -EINVAL
 * (malformed, port out of range, path too long).  Any thread. */
int acx_sock_addr_parse(const char *text, struct sockaddr_storage *ss,
                        socklen_t *len);

/* Format ADDR as acx_sock_addr_parse reads it ("127.0.0.1:80",
 * "[::1]:80", "unix:/tmp/s", "unix:" when unnamed) into BUF; snprintf
 * semantics; -EAFNOSUPPORT for another family.  Any thread. */
int acx_sock_addr_format(const struct sockaddr *addr, socklen_t len,
                         char *buf, size_t size);

/* ---- making sockets --------------------------------------------------- */

/* Options for acx_sock_listen and acx_sock_bind. */
enum {
    ACX_SOCK_REUSEADDR = 1u << 0, /* SO_REUSEADDR: rebind while TIME_WAIT */
    ACX_SOCK_REUSEPORT = 1u << 1, /* SO_REUSEPORT: several listeners share
                                   * the port (the kernel spreads them) */
    ACX_SOCK_V6ONLY = 1u << 2,    /* IPV6_V6ONLY: no IPv4-mapped peers */
    ACX_SOCK_UNLINK = 1u << 3,    /* Unix path: unlink a stale file first */
};

/* A stream listener (TCP or Unix) bound to ADDR with BACKLOG (<= 0: the
 * system maximum, SOMAXCONN).  Port 0 picks a free port: read it back
 * with acx_sock_local_addr.  Stores the socket in *OUT; returns 0, -EINVAL,
 * -ENOMEM, or the errno of socket/bind/listen (-EADDRINUSE, -EACCES,
 * -EMFILE, ...).  The listener keeps one spare descriptor (/dev/null) for
 * the EMFILE trick of acx_sock_accept.  Any thread. */
int acx_sock_listen(acx_sock **out, const struct sockaddr *addr,
                    socklen_t len, int backlog, unsigned opts);

/* acx_sock_listen on an address in acx_sock_addr_parse's text form. */
int acx_sock_listen_str(acx_sock **out, const char *addr, int backlog,
                        unsigned opts);

/* A datagram socket (UDP, or Unix SOCK_DGRAM) bound to ADDR (a port 0 or
 * an unnamed Unix address picks one), for acx_sock_sendto/recvfrom.  As
 * acx_sock_listen for the rest.  Any thread. */
int acx_sock_bind(acx_sock **out, const struct sockaddr *addr,
                  socklen_t len, unsigned opts);
int acx_sock_bind_str(acx_sock **out, const char *addr, unsigned opts);

/* A connected pair of Unix domain sockets (socketpair), TYPE SOCK_STREAM
 * or SOCK_DGRAM, in OUT[0] and OUT[1].  Returns 0, -ENOMEM, the errno of
 * socketpair.  Any thread. */
int acx_sock_pair(acx_sock *out[2], int type);

/* Adopt FD, an open socket of any kind (connected, listening, datagram):
 * it is made non-blocking and close-on-exec, and acx_sock_close will close
 * it.  Returns 0, -EBADF, -ENOTSOCK (a pipe or another descriptor: see
 * acx_fd_wrap), -ENOMEM (FD is then left alone).  Any thread. */
int acx_sock_wrap(acx_sock **out, int fd);

/* ---- pipes and other descriptors -------------------------------------------
 *
 * An acx_sock may also own a descriptor that is not a socket but that
 * epoll can watch: a pipe end, a FIFO, a tty, an eventfd, a character
 * device that polls.  acx_sock_read and acx_sock_write (and acx_sock_close,
 * acx_sock_fd, acx_sock_waiters) work on it as on a stream socket; they
 * use read(2)/write(2) instead of recv/send (sockets keep their own path;
 * the choice is one flag test).  The socket-only calls (accept, connect,
 * sendto, recvfrom, shutdown, the addresses) fail with the kernel's
 * -ENOTSOCK.  A write to a pipe whose reading end is closed returns
 * -EPIPE and raises no SIGPIPE (the write runs with SIGPIPE blocked in
 * the calling thread; two more system calls per pipe write).  Reading
 * the end of a pipe whose writers have all closed returns 0 (EOF). */

/* A pipe (pipe2, O_CLOEXEC | O_NONBLOCK): OUT[0] reads what OUT[1]
 * writes (os.pipe + connect_read_pipe/connect_write_pipe).  Returns 0,
 * -EINVAL (OUT NULL), -EMFILE, -ENFILE, -ENOMEM (OUT[0] and OUT[1] are
 * then NULL).  Any thread. */
int acx_pipe(acx_sock *out[2]);

/* Adopt FD, any descriptor epoll can watch (a socket too: then it is
 * acx_sock_wrap): it is made non-blocking (note that the flag belongs to
 * the open file description, so a tty or pipe shared with other
 * processes becomes non-blocking for them as well) and close-on-exec, and
 * acx_sock_close will close it.  Returns 0, -EINVAL (OUT NULL), -EBADF,
 * -EPERM for what cannot be polled (regular files and directories, which
 * are always "ready": use acx_aio.h's file calls; devices without a poll
 * method such as /dev/null), -ENOMEM (FD is then left alone).  Any
 * thread. */
int acx_fd_wrap(acx_sock **out, int fd);

/* 1 when S owns a socket, 0 for a pipe or another descriptor (or NULL).
 * Any thread. */
int acx_sock_is_socket(const acx_sock *s);

/* ---- awaits: accept, connect, read, write, datagrams ---------------------
 *
 * Every one returns -ECANCELED or -ETIMEDOUT when the task is interrupted
 * while it waits, -EBADF when the socket is closed under it (or S is
 * NULL), and -ENOMEM when the poller cannot grow; the others are the
 * kernel's, negated. */

/* await acx_sock_accept(ls, &conn) (asyncio's sock_accept): the next
 * connection of listener LS, as a new socket in *CONN (NULL when the
 * accept fails; it is set when the await is created).  Returns 0.  A
 * connection that the peer aborted before it was taken (ECONNABORTED) is
 * skipped.  Out of descriptors (EMFILE, ENFILE), the listener drops the
 * oldest pending connection instead of spinning on it: it closes its spare
 * descriptor, accepts into it and closes that at once (the peer sees the
 * connection closed), reopens the spare and goes on waiting; only when the
 * spare cannot be had back is -EMFILE / -ENFILE returned (back off before
 * the next accept).  acx_sock_accept_dropped counts these drops. */
ACX_ASYNC_DECL(int, acx_sock_accept, (acx_sock * ls, acx_sock **conn));

/* Connections acx_sock_accept dropped for lack of descriptors. */
unsigned long acx_sock_accept_dropped(const acx_sock *ls);

/* await acx_sock_connect(&s, addr, len) (sock_connect): a new stream
 * socket of ADDR's family connected to ADDR, in *OUT on success (*OUT is
 * NULL otherwise).  A non-blocking connect: the task waits until the
 * socket is writable and reads SO_ERROR.  Returns 0, -ECONNREFUSED,
 * -ENETUNREACH, -ETIMEDOUT (the kernel's own retries, or a timeout scope
 * around the await), -ECANCELED, -EAGAIN (a Unix listener whose backlog
 * is full: Linux does not queue the attempt), ...  The address is copied:
 * ADDR need not outlive the call. */
ACX_ASYNC_DECL(int, acx_sock_connect,
               (acx_sock **out, const struct sockaddr *addr, socklen_t len));

/* acx_sock_connect to an address in text form (-EINVAL if malformed). */
ACX_ASYNC_DECL(int, acx_sock_connect_str, (acx_sock **out, const char *addr));

/* await acx_sock_read(s, buf, n) (sock_recv): read up to N bytes.  Returns
 * how many (> 0), 0 at the end of the stream (the peer closed or shut down
 * its writing side; a datagram socket: an empty datagram; N == 0), or
 * -errno: -ECONNRESET (the peer reset the connection), ...  Several tasks
 * may read one socket: readiness wakes the one that has waited longest. */
ACX_ASYNC_DECL(ssize_t, acx_sock_read, (acx_sock * s, void *buf, size_t n));

/* await acx_sock_write(s, buf, n) (sock_sendall): write all N bytes,
 * however many short writes it takes.  Returns N, or -errno: -EPIPE (the
 * peer is gone; no SIGPIPE), -ECONNRESET, -ECANCELED, -ETIMEDOUT.  After
 * an error some of the bytes may have gone: acx_sock_write_ex says how
 * many. */
ACX_ASYNC_DECL(ssize_t, acx_sock_write,
               (acx_sock * s, const void *buf, size_t n));

/* acx_sock_write that also stores in *DONE (if not NULL) how many bytes
 * were written, whatever the result: N on success, the count before the
 * error or interrupt otherwise (so a writer cancelled mid-way knows where
 * the stream stands).  *DONE is written when the await finishes. */
ACX_ASYNC_DECL(ssize_t, acx_sock_write_ex,
               (acx_sock * s, const void *buf, size_t n, size_t *done));

/* await acx_sock_sendto(s, buf, n, addr, len) (sock_sendto): send one
 * datagram to ADDR (NULL: the connected peer).  Returns N or -errno
 * (-EMSGSIZE: too big for one datagram).  ADDR is copied. */
ACX_ASYNC_DECL(ssize_t, acx_sock_sendto,
               (acx_sock * s, const void *buf, size_t n,
                const struct sockaddr *addr, socklen_t len));

/* await acx_sock_recvfrom(s, buf, n, from, fromlen) (sock_recvfrom):
 * receive one datagram (truncated to N bytes, as recvfrom does); its
 * sender goes to FROM / *FROMLEN when FROM is not NULL (*FROMLEN holds
 * FROM's size on entry).  Returns the bytes stored or -errno. */
ACX_ASYNC_DECL(ssize_t, acx_sock_recvfrom,
               (acx_sock * s, void *buf, size_t n, struct sockaddr *from,
                socklen_t *fromlen));

/* ---- the rest ------------------------------------------------------------ */

/* Shut down one direction (HOW: SHUT_WR sends EOF to the peer, which can
 * still write to us; SHUT_RD; SHUT_RDWR).  Returns 0, -EBADF, -ENOTCONN.
 * Loop thread. */
int acx_sock_shutdown(acx_sock *s, int how);

/* Close S and free it.  Tasks parked on S are woken first with -EBADF;
 * their awaits return that without touching S again, and so does an
 * await whose task readiness had already woken but that had not run yet
 * (S's memory outlives the close by two rounds of the ready queue).  Returns 0, or the
 * error of close(2) (the descriptor is released all the same); NULL is a
 * no-op.  Loop thread (of the loop S was used in; after that loop has
 * ended, any thread). */
int acx_sock_close(acx_sock *s);

/* The bound and the peer address of S, as getsockname/getpeername: *LEN
 * holds the size of ADDR on entry and the address's size on return.
 * Returns 0 or -errno (-ENOTCONN: no peer).  Any thread. */
int acx_sock_local_addr(const acx_sock *s, struct sockaddr *addr,
                        socklen_t *len);
int acx_sock_peer_addr(const acx_sock *s, struct sockaddr *addr,
                       socklen_t *len);

/* The port S is bound to (host order; 0 when S is not an IP socket). */
int acx_sock_port(const acx_sock *s);

/* S's descriptor (for setsockopt and the like; still owned by S), or -1
 * for NULL.  Do not close it or make it blocking, and do not await
 * acx_wait_readable/writable on it: the poller keeps one watch per
 * descriptor, and S's is S's (that wait would fail with -EEXIST). */
int acx_sock_fd(const acx_sock *s);

/* How many tasks are parked on S now: in all (returned), waiting to read
 * (*READERS: accept, read, recvfrom) and to write (*WRITERS: write,
 * sendto, connect); either pointer may be NULL.  For tests and dumps. */
int acx_sock_waiters(const acx_sock *s, int *readers, int *writers);

/* ---- test hook (internal) -------------------------------------------------
 *
 * When set, net.c calls it before each socket system call it makes with
 * the call's name ("recv", "send", "accept", "connect", "recvfrom",
 * "sendto"; "read" and "write" on a pipe; "thread" for the watcher
 * thread of a child spawned without pidfds, proc.c) and the length about
 * to be passed (in *LEN: lower it to force a short transfer).  A nonzero return is taken as the call failing with
 * that errno, so tests inject EINTR and EAGAIN where the kernel rarely
 * gives them.  Loop thread; not for production use. */
extern int (*acx__net_fault)(const char *call, size_t *len);

#ifdef __cplusplus
}
#endif
#endif
