/* net.c - the socket object: its descriptor, its one poller watch shared
 * by every task parked on it, making and closing sockets, addresses.
 *
 * The watch is level-triggered and shared: a reader and a writer parked
 * at once make it ask for IN|OUT.  Readiness wakes the oldest waiter of
 * that direction (it retries its call; a level-triggered watch calls
 * again if more is left).  A direction nobody waits on any more is
 * dropped from the watch lazily, when the kernel next reports it, so the
 * common read-park-wake cycle costs no epoll_ctl at all.  ERR and HUP,
 * which the kernel reports whatever we ask for, wake everyone (their next
 * call returns the error); a hung-up socket nobody waits on leaves the
 * poller, or a level-triggered HUP would wake the loop forever.
 *
 * The awaits themselves are in netio.c.
 */
#define _GNU_SOURCE /* accept4 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <net/if.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/un.h>
#include <unistd.h>

#include "net_internal.h"

int (*acx__net_fault)(const char *call, size_t *len);

/* ---- waiters and the watch ------------------------------------------------ */

static acx_sock *sock_of(acx__io *io)
{
    return (acx_sock *)(void *)((char *)io - offsetof(acx_sock, io));
}

static acx__waitlist *list_for(acx_sock *s, uint32_t dir)
{
    return dir == ACX__IO_IN ? &s->rd : &s->wr;
}

static void list_unlink(acx__waitlist *l, acx__sockwait *w)
{
    if (w->prev)
        w->prev->next = w->next;
    else
        l->head = w->next;
    if (w->next)
        w->next->prev = w->prev;
    else
        l->tail = w->prev;
    w->next = w->prev = NULL;
    l->n--;
}

/* Unlink W and ready its task; ERR is what its await will return instead
 * of retrying (0: it was readiness, retry). */
static void wake(acx_sock *s, acx__sockwait *w, int err)
{
    list_unlink(list_for(s, w->dir), w);
    w->parked = 0;
    w->err = err;
    if (s->loop != NULL)
        s->loop->external--;
    acx__ready(w->task);
}

static void wake_all(acx_sock *s, int err)
{
    while (s->rd.head)
        wake(s, s->rd.head, err);
    while (s->wr.head)
        wake(s, s->wr.head, err);
}

/* Take DIR out of the watch: the kernel reported it and nobody waits. */
static void disarm(acx_sock *s, uint32_t dir)
{
    (void)acx__io_modify(&s->loop->poll, &s->io, s->io.events & ~dir);
}

static void sock_ready(acx__io *io, uint32_t revents)
{
    acx_sock *s = sock_of(io);
    if (revents & (ACX__IO_ERR | ACX__IO_HUP)) {
        wake_all(s, 0);
        acx__io_remove(&s->loop->poll, &s->io); /* re-added by a park */
        return;
    }
    if (revents & (ACX__IO_IN | ACX__IO_RDHUP)) {
        if (s->rd.head)
            wake(s, s->rd.head, 0);
        else if (s->io.events & ACX__IO_IN)
            disarm(s, ACX__IO_IN);
    }
    if (revents & ACX__IO_OUT) {
        if (s->wr.head)
            wake(s, s->wr.head, 0);
        else if (s->io.events & ACX__IO_OUT)
            disarm(s, ACX__IO_OUT);
    }
}

/* The watch must be in this loop's poller and ask for DIR. */
static int watch_for(acx_sock *s, uint32_t dir)
{
    acx_loop *l = acx__loop_cur;
    if (s->loop != l) {
        /* First use, or the loop that held the watch has ended (a socket
         * used by two loops at once is not supported). */
        s->io.gen = 0;
        s->loop = l;
    }
    if (!acx__io_active(&s->io)) {
        s->io.events = dir;
        return acx__io_add(&l->poll, &s->io);
    }
    if (s->io.events & dir)
        return 0;
    return acx__io_modify(&l->poll, &s->io, s->io.events | dir);
}

int acx__sock_park(acx_sock *s, acx__sockwait *w, uint32_t dir)
{
    if (s->closed)
        return -EBADF;
    int err = watch_for(s, dir);
    if (err)
        return err;
    acx__waitlist *l = list_for(s, dir);
    w->dir = dir;
    w->task = acx__cur_task;
    w->err = 0;
    w->parked = 1;
    w->next = NULL;
    w->prev = l->tail;
    if (l->tail)
        l->tail->next = w;
    else
        l->head = w;
    l->tail = w;
    l->n++;
    s->loop->external++;
    return 0;
}

void acx__sock_unpark(acx_sock *s, acx__sockwait *w, int err)
{
    w->err = err;
    if (!w->parked)
        return;
    list_unlink(list_for(s, w->dir), w);
    w->parked = 0;
    s->loop->external--;
}

/* ---- making sockets ----------------------------------------------------- */

void acx__sock_nodelay(int fd)
{
    int on = 1;
    (void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &on, sizeof on);
}

acx_sock *acx__sock_new(int fd)
{
    acx_sock *s = calloc(1, sizeof *s);
    if (s == NULL)
        return NULL;
    s->io.fd = fd;
    s->io.cb = sock_ready;
    s->reserve = -1;
    return s;
}

/* Wrap a fresh FD, closing it when there is no memory for the object. */
static int adopt(acx_sock **out, int fd)
{
    acx_sock *s = acx__sock_new(fd);
    if (s == NULL) {
        close(fd);
        return -ENOMEM;
    }
    *out = s;
    return 0;
}

static int set_opt(int fd, int level, int name, int on)
{
    return setsockopt(fd, level, name, &on, sizeof on) < 0 ? -errno : 0;
}

static int apply_opts(int fd, const struct sockaddr *addr, unsigned opts)
{
    int err = 0;
    if (opts & ACX_SOCK_REUSEADDR)
        err = set_opt(fd, SOL_SOCKET, SO_REUSEADDR, 1);
    if (!err && (opts & ACX_SOCK_REUSEPORT))
        err = set_opt(fd, SOL_SOCKET, SO_REUSEPORT, 1);
    if (!err && addr->sa_family == AF_INET6 && (opts & ACX_SOCK_V6ONLY))
        err = set_opt(fd, IPPROTO_IPV6, IPV6_V6ONLY, 1);
    if (!err && addr->sa_family == AF_UNIX && (opts & ACX_SOCK_UNLINK)) {
        const struct sockaddr_un *un = (const struct sockaddr_un *)addr;
        if (un->sun_path[0] != '\0') /* not the abstract namespace */
            (void)unlink(un->sun_path);
    }
    return err;
}

/* A socket of TYPE bound to ADDR with OPTS applied: the fd, or -errno. */
static int bound_socket(const struct sockaddr *addr, socklen_t len,
                        int type, unsigned opts)
{
    if (addr == NULL || len < (socklen_t)sizeof(sa_family_t))
        return -EINVAL;
    int fd = socket(addr->sa_family, type | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -errno;
    int err = apply_opts(fd, addr, opts);
    if (!err && bind(fd, addr, len) < 0)
        err = -errno;
    if (err) {
        close(fd);
        return err;
    }
    return fd;
}

int acx_sock_listen(acx_sock **out, const struct sockaddr *addr,
                    socklen_t len, int backlog, unsigned opts)
{
    if (out == NULL)
        return -EINVAL;
    *out = NULL;
    int fd = bound_socket(addr, len, SOCK_STREAM, opts);
    if (fd < 0)
        return fd;
    if (listen(fd, backlog > 0 ? backlog : SOMAXCONN) < 0) {
        int err = -errno;
        close(fd);
        return err;
    }
    int err = adopt(out, fd);
    if (err)
        return err;
    (*out)->tcp = addr->sa_family == AF_INET || addr->sa_family == AF_INET6;
    /* Without a spare the listener still works; EMFILE is then reported. */
    (*out)->reserve = open("/dev/null", O_RDONLY | O_CLOEXEC);
    return 0;
}

int acx_sock_listen_str(acx_sock **out, const char *addr, int backlog,
                        unsigned opts)
{
    struct sockaddr_storage ss;
    socklen_t len;
    int err = acx_sock_addr_parse(addr, &ss, &len);
    if (err) {
        if (out)
            *out = NULL;
        return err;
    }
    return acx_sock_listen(out, (struct sockaddr *)&ss, len, backlog, opts);
}

int acx_sock_bind(acx_sock **out, const struct sockaddr *addr,
                  socklen_t len, unsigned opts)
{
    if (out == NULL)
        return -EINVAL;
    *out = NULL;
    int fd = bound_socket(addr, len, SOCK_DGRAM, opts);
    return fd < 0 ? fd : adopt(out, fd);
}

int acx_sock_bind_str(acx_sock **out, const char *addr, unsigned opts)
{
    struct sockaddr_storage ss;
    socklen_t len;
    int err = acx_sock_addr_parse(addr, &ss, &len);
    if (err) {
        if (out)
            *out = NULL;
        return err;
    }
    return acx_sock_bind(out, (struct sockaddr *)&ss, len, opts);
}

int acx_sock_pair(acx_sock *out[2], int type)
{
    if (out == NULL)
        return -EINVAL;
    int fds[2];
    if (socketpair(AF_UNIX, type | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, fds) < 0)
        return -errno;
    out[0] = out[1] = NULL;
    int err = adopt(&out[0], fds[0]);
    if (err) {
        close(fds[1]);
        return err;
    }
    err = adopt(&out[1], fds[1]);
    if (err) {
        acx_sock_close(out[0]);
        out[0] = NULL;
        return err;
    }
    out[0]->stream = out[1]->stream = (type & 0xf) == SOCK_STREAM;
    return 0;
}

int acx_sock_wrap(acx_sock **out, int fd)
{
    if (out == NULL)
        return -EINVAL;
    int type;
    socklen_t tl = sizeof type;
    if (getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &tl) < 0)
        return -errno; /* EBADF, ENOTSOCK */
    int fl = fcntl(fd, F_GETFL);
    if (fl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0 ||
        fcntl(fd, F_SETFD, FD_CLOEXEC) < 0)
        return -errno;
    acx_sock *s = acx__sock_new(fd);
    if (s == NULL)
        return -ENOMEM;
    s->stream = type == SOCK_STREAM;
    *out = s;
    return 0;
}

/* ---- the EMFILE trick ----------------------------------------------------- */

int acx__sock_drop_one(acx_sock *ls)
{
    if (ls->reserve < 0)
        ls->reserve = open("/dev/null", O_RDONLY | O_CLOEXEC);
    if (ls->reserve < 0)
        return -errno; /* still out: the caller reports it */
    close(ls->reserve);
    ls->reserve = -1;
    int fd;
    do
        fd = accept4(ls->io.fd, NULL, NULL, SOCK_CLOEXEC);
    while (fd < 0 && errno == EINTR);
    int err = fd < 0 ? -errno : 0;
    if (fd >= 0) {
        close(fd);
        ls->dropped++;
    }
    ls->reserve = open("/dev/null", O_RDONLY | O_CLOEXEC);
    return err;
}

unsigned long acx_sock_accept_dropped(const acx_sock *ls)
{
    return ls ? ls->dropped : 0;
}

/* ---- closing and introspection ---------------------------------------------- */

int acx_sock_close(acx_sock *s)
{
    if (s == NULL)
        return 0;
    wake_all(s, -EBADF);
    /* The poller is touched only from its own loop; a loop that has ended
     * took its epoll instance (and our registration) with it. */
    int own = s->loop != NULL && s->loop == acx__loop_cur;
    if (acx__io_active(&s->io) && own)
        acx__io_remove(&s->loop->poll, &s->io);
    if (s->reserve >= 0)
        close(s->reserve);
    int err = close(s->io.fd) < 0 && errno != EINTR ? -errno : 0;
    /* A task woken by readiness that has not run yet will still look at
     * S: it finds it closed (-EBADF) rather than freed, and S goes two
     * rounds of the ready queue later, when every such task has run. */
    s->io.fd = -1;
    s->closed = 1;
    if (own)
        acx__defer_free(s->loop, &s->defer, s);
    else
        free(s);
    return err;
}

int acx_sock_shutdown(acx_sock *s, int how)
{
    if (s == NULL)
        return -EBADF;
    return shutdown(s->io.fd, how) < 0 ? -errno : 0;
}

int acx_sock_fd(const acx_sock *s)
{
    return s ? s->io.fd : -1;
}

int acx_sock_local_addr(const acx_sock *s, struct sockaddr *addr,
                        socklen_t *len)
{
    if (s == NULL)
        return -EBADF;
    return getsockname(s->io.fd, addr, len) < 0 ? -errno : 0;
}

int acx_sock_peer_addr(const acx_sock *s, struct sockaddr *addr,
                       socklen_t *len)
{
    if (s == NULL)
        return -EBADF;
    return getpeername(s->io.fd, addr, len) < 0 ? -errno : 0;
}

int acx_sock_port(const acx_sock *s)
{
    struct sockaddr_storage ss;
    socklen_t len = sizeof ss;
    if (acx_sock_local_addr(s, (struct sockaddr *)&ss, &len) < 0)
        return 0;
    if (ss.ss_family == AF_INET)
        return ntohs(((struct sockaddr_in *)&ss)->sin_port);
    if (ss.ss_family == AF_INET6)
        return ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
    return 0;
}

int acx_sock_waiters(const acx_sock *s, int *readers, int *writers)
{
    if (s == NULL)
        return 0;
    if (readers)
        *readers = s->rd.n;
    if (writers)
        *writers = s->wr.n;
    return s->rd.n + s->wr.n;
}

/* ---- addresses ------------------------------------------------------------ */

static int parse_port(const char *p, in_port_t *port)
{
    char *end;
    errno = 0;
    unsigned long v = strtoul(p, &end, 10);
    if (*p < '0' || *p > '9' || *end != '\0' || errno || v > 65535)
        return -EINVAL;
    *port = htons((uint16_t)v);
    return 0;
}

static int parse_unix(const char *path, struct sockaddr_storage *ss,
                      socklen_t *len)
{
    struct sockaddr_un *un = (struct sockaddr_un *)ss;
    size_t n = strlen(path);
    if (n == 0 || n >= sizeof un->sun_path)
        return -EINVAL;
    un->sun_family = AF_UNIX;
    memcpy(un->sun_path, path, n + 1);
    if (path[0] == '@') { /* abstract: a NUL first, no terminator */
        un->sun_path[0] = '\0';
        *len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + n);
    } else {
        *len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + n + 1);
    }
    return 0;
}

static int parse_ipv6(const char *text, struct sockaddr_storage *ss,
                      socklen_t *len)
{
    const char *close_br = strchr(text, ']');
    char host[INET6_ADDRSTRLEN + IF_NAMESIZE + 2];
    size_t n = close_br ? (size_t)(close_br - text - 1) : 0;
    if (close_br == NULL || close_br[1] != ':' || n == 0 || n >= sizeof host)
        return -EINVAL;
    memcpy(host, text + 1, n);
    host[n] = '\0';
    struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)ss;
    in6->sin6_family = AF_INET6;
    char *scope = strchr(host, '%');
    if (scope != NULL) {
        *scope++ = '\0';
        in6->sin6_scope_id = if_nametoindex(scope);
        if (in6->sin6_scope_id == 0)
            in6->sin6_scope_id = (uint32_t)strtoul(scope, NULL, 10);
    }
    if (inet_pton(AF_INET6, host, &in6->sin6_addr) != 1)
        return -EINVAL;
    *len = sizeof *in6;
    return parse_port(close_br + 2, &in6->sin6_port);
}

static int parse_ipv4(const char *text, struct sockaddr_storage *ss,
                      socklen_t *len)
{
    const char *colon = strrchr(text, ':');
    char host[INET_ADDRSTRLEN];
    size_t n = colon ? (size_t)(colon - text) : 0;
    if (colon == NULL || n >= sizeof host)
        return -EINVAL;
    memcpy(host, text, n);
    host[n] = '\0';
    struct sockaddr_in *in = (struct sockaddr_in *)ss;
    in->sin_family = AF_INET;
    /* "" and "*" mean every interface, as in "*:8080" */
    if (n != 0 && strcmp(host, "*") != 0 &&
        inet_pton(AF_INET, host, &in->sin_addr) != 1)
        return -EINVAL;
    *len = sizeof *in;
    return parse_port(colon + 1, &in->sin_port);
}

int acx_sock_addr_parse(const char *text, struct sockaddr_storage *ss,
                        socklen_t *len)
{
    if (text == NULL || ss == NULL || len == NULL)
        return -EINVAL;
    memset(ss, 0, sizeof *ss);
    if (strncmp(text, "unix:", 5) == 0)
        return parse_unix(text + 5, ss, len);
    if (text[0] == '[')
        return parse_ipv6(text, ss, len);
    return parse_ipv4(text, ss, len);
}

int acx_sock_addr_format(const struct sockaddr *addr, socklen_t len,
                         char *buf, size_t size)
{
    char host[INET6_ADDRSTRLEN];
    if (addr == NULL)
        return -EINVAL;
    switch (addr->sa_family) {
    case AF_INET: {
        const struct sockaddr_in *in = (const struct sockaddr_in *)addr;
        inet_ntop(AF_INET, &in->sin_addr, host, sizeof host);
        return snprintf(buf, size, "%s:%u", host, ntohs(in->sin_port));
    }
    case AF_INET6: {
        const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)addr;
        inet_ntop(AF_INET6, &in6->sin6_addr, host, sizeof host);
        return snprintf(buf, size, "[%s]:%u", host, ntohs(in6->sin6_port));
    }
    case AF_UNIX: {
        const struct sockaddr_un *un = (const struct sockaddr_un *)addr;
        size_t off = offsetof(struct sockaddr_un, sun_path);
        size_t n = len > off ? (size_t)len - off : 0;
        if (n == 0)
            return snprintf(buf, size, "unix:");
        if (un->sun_path[0] == '\0') /* abstract */
            return snprintf(buf, size, "unix:@%.*s", (int)(n - 1),
                            un->sun_path + 1);
        return snprintf(buf, size, "unix:%.*s", (int)strnlen(un->sun_path, n),
                        un->sun_path);
    }
    }
    return -EAFNOSUPPORT;
}
