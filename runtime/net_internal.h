/* net_internal.h - what net.c (the socket object and its watch) and
 * netio.c (the awaits) share.  Internal: acx__ names only.
 */
#ifndef ACX_NET_INTERNAL_H
#define ACX_NET_INTERNAL_H

#include "acx_internal.h"

/* A task parked on a socket, in one direction; lives in the await's frame
 * (parking allocates nothing). */
typedef struct acx__sockwait {
    struct acx__sockwait *next, *prev;
    acx_task *task;
    uint32_t dir; /* ACX__IO_IN or ACX__IO_OUT */
    int parked;   /* linked on the socket (and counted in `external`) */
    int err;      /* why it was taken off without readiness: the
                   * interrupt, or -EBADF from acx_sock_close; else 0 */
} acx__sockwait;

typedef struct acx__waitlist {
    acx__sockwait *head, *tail;
    int n;
} acx__waitlist;

struct acx_sock {
    acx__io io;          /* the one watch; io.events is the union of what
                          * parked waiters need (cleared lazily) */
    acx_loop *loop;      /* whose poller holds io, once it was added */
    acx__waitlist rd;    /* parked on IN: accept, read, recvfrom */
    union {
        acx__waitlist wr; /* parked on OUT: write, sendto, connect */
        acx__deferred defer; /* once closed (wr then empty and unused):
                              * the node that frees the socket */
    };
    int reserve;         /* a listener's spare descriptor, or -1 */
    unsigned char stream;   /* a byte stream (SOCK_STREAM): a short read
                             * means the kernel's buffer was emptied */
    unsigned char rd_empty; /* the last read of this stream came back
                             * short or EAGAIN: the next one waits for
                             * readiness instead of trying first */
    unsigned char tcp;      /* TCP (IPv4/IPv6): connections get
                             * TCP_NODELAY (a listener: its accepted ones) */
    unsigned long dropped; /* connections dropped for lack of fds */
    int nonsock;         /* a pipe, FIFO, tty...: read(2)/write(2), not
                          * recv/send (pipe.c) */
    int closed;          /* acx_sock_close ran: fd is -1, the memory goes
                          * soon (a woken task may still look at it, but
                          * only at io.fd and the flags) */
};

/* Turn Nagle's algorithm off on the TCP connection FD, as asyncio and Go
 * do: a second small write must not wait for the peer's delayed ACK
 * (40 ms or more).  Failure is harmless and ignored. */
void acx__sock_nodelay(int fd);

/* A new socket object for the open non-blocking FD (NULL: no memory). */
acx_sock *acx__sock_new(int fd);

/* Park the running task's waiter W on S for DIR: the watch gains DIR if
 * it lacked it.  0, or the poller's error (-ENOMEM, ...). */
int acx__sock_park(acx_sock *s, acx__sockwait *w, uint32_t dir);

/* Take W off S (a cancel): no-op when not parked.  ERR goes to W->err. */
void acx__sock_unpark(acx_sock *s, acx__sockwait *w, int err);

/* The listener's EMFILE trick: give the spare descriptor back, accept and
 * close the oldest pending connection, take the spare again.  0 when a
 * connection was dropped (try again), -EAGAIN when none was pending, or
 * the error when the spare could not be used. */
int acx__sock_drop_one(acx_sock *ls);

/* pipe.c: read(2) / write(2) on a non-socket descriptor, EINTR retried and
 * the test hook consulted ("read", "write"); a write to a pipe with no
 * reader returns -EPIPE without raising SIGPIPE.  >= 0 or -errno. */
ssize_t acx__fd_read(int fd, void *buf, size_t n);
ssize_t acx__fd_write(int fd, const void *buf, size_t n);

/* A socket object for FD, a non-blocking non-socket descriptor (a pipe
 * end); NULL when out of memory (FD is then left open). */
acx_sock *acx__fd_sock_new(int fd);

#endif
