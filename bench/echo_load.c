/* echo_load.c - the load generator of bench section 14: N connections to
 * an echo server, one S-byte message in flight on each, for a fixed time.
 *
 *   echo_load PORT CONNS SIZE WARMUP_MS DURATION_MS [SERVER_PID]
 *       prints one line:  msgs/s p50_us p99_us cpu_us_per_msg messages
 *       (cpu: the server's utime+stime from /proc/PID/stat over the
 *       measured window, divided by the messages in it; -1 without a PID)
 *   echo_load --hold PORT CONNS
 *       opens CONNS connections, makes one 1-byte round trip on each (so
 *       the server has accepted every one and is parked in a read again),
 *       prints "ready", and holds them until stdin reaches EOF
 *
 * One thread, epoll, level-triggered.  Every message is checked (its
 * first byte carries a per-connection sequence number) so a server that
 * drops or mixes bytes fails the run instead of looking fast.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

struct conn {
    int fd;
    size_t sent, got;   /* bytes of the current message */
    unsigned char seq;  /* first byte of the current message */
    int64_t t0;         /* when the current message started */
};

static int64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static void die(const char *what)
{
    fprintf(stderr, "echo_load: %s: %s\n", what, strerror(errno));
    exit(1);
}

static void raise_nofile(void)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
}

static int dial(int port)
{
    struct sockaddr_in a = {.sin_family = AF_INET,
                            .sin_port = htons((uint16_t)port),
                            .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        die("socket");
    if (connect(fd, (struct sockaddr *)&a, sizeof a) < 0)
        die("connect");
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    return fd;
}

/* The server's utime + stime in clock ticks, or -1. */
static long long cpu_ticks(int pid)
{
    char path[64], buf[1024];
    snprintf(path, sizeof path, "/proc/%d/stat", pid);
    FILE *f = fopen(path, "r");
    if (f == NULL)
        return -1;
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = 0;
    /* fields after the ")" of comm: state is field 3, utime 14, stime 15 */
    char *p = strrchr(buf, ')');
    unsigned long long ut, st;
    if (p == NULL || sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u "
                                   "%*u %llu %llu", &ut, &st) != 2)
        return -1;
    return (long long)(ut + st);
}

static int epfd = -1;

/* Watch C for IN, plus OUT while part of its message is unsent. */
static void watch(struct conn *c, int i, uint32_t ev)
{
    struct epoll_event e = {.events = ev, .data.u32 = (uint32_t)i};
    if (epoll_ctl(epfd, EPOLL_CTL_MOD, c->fd, &e) < 0)
        die("epoll_ctl");
}

/* Send what is left of C (index I)'s message; 0, or -1 on error. */
static int push(struct conn *c, int i, const unsigned char *msg, size_t size)
{
    int was_short = c->sent > 0;
    while (c->sent < size) {
        ssize_t r = send(c->fd, msg + c->sent, size - c->sent, MSG_NOSIGNAL);
        if (r < 0) {
            if (errno != EAGAIN)
                return -1;
            if (!was_short)
                watch(c, i, EPOLLIN | EPOLLOUT);
            return 0;
        }
        c->sent += (size_t)r;
    }
    if (was_short)
        watch(c, i, EPOLLIN);
    return 0;
}

static int cmp_u32(const void *a, const void *b)
{
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return x < y ? -1 : x > y;
}

/* Finish the messages in flight and read their echoes (for up to a
 * second), so closing leaves no unread data behind: the server sees a
 * clean EOF, not a reset. */
static void drain(struct conn *cs, int nconn, const unsigned char *msg,
                  unsigned char *in, size_t size)
{
    int64_t until = now_ns() + 1000000000;
    for (int i = 0; i < nconn; i++) {
        struct conn *c = &cs[i];
        struct timeval tv = {.tv_sec = 1};
        fcntl(c->fd, F_SETFL, fcntl(c->fd, F_GETFL) & ~O_NONBLOCK);
        setsockopt(c->fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
        setsockopt(c->fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
        while (c->sent > 0 && c->sent < size) { /* finish the message */
            ssize_t r = send(c->fd, msg + c->sent, size - c->sent, MSG_NOSIGNAL);
            if (r <= 0)
                break;
            c->sent += (size_t)r;
        }
        while (c->sent > 0 && c->got < size && now_ns() < until) {
            ssize_t r = recv(c->fd, in, size - c->got, 0);
            if (r > 0)
                c->got += (size_t)r;
            else if (r == 0 || (errno != EAGAIN && errno != EINTR))
                break;
        }
    }
}

static int hold(int port, int nconn)
{
    int *fds = malloc((size_t)nconn * sizeof *fds);
    if (fds == NULL)
        die("malloc");
    for (int i = 0; i < nconn; i++) {
        fds[i] = dial(port);
        char b = 'x';
        if (send(fds[i], &b, 1, MSG_NOSIGNAL) != 1 || recv(fds[i], &b, 1, 0) != 1)
            die("hold round trip");
    }
    printf("ready\n");
    fflush(stdout);
    char c;
    while (read(0, &c, 1) > 0)
        ;
    for (int i = 0; i < nconn; i++)
        close(fds[i]);
    free(fds);
    return 0;
}

int main(int argc, char **argv)
{
    raise_nofile();
    if (argc == 4 && strcmp(argv[1], "--hold") == 0)
        return hold(atoi(argv[2]), atoi(argv[3]));
    if (argc < 6) {
        fprintf(stderr, "usage: %s PORT CONNS SIZE WARMUP_MS DURATION_MS "
                        "[SERVER_PID]\n       %s --hold PORT CONNS\n",
                argv[0], argv[0]);
        return 2;
    }
    int port = atoi(argv[1]), nconn = atoi(argv[2]);
    size_t size = (size_t)atol(argv[3]);
    int64_t warm = atol(argv[4]) * 1000000LL, dur = atol(argv[5]) * 1000000LL;
    int pid = argc > 6 ? atoi(argv[6]) : 0;
    if (nconn <= 0 || size == 0 || size > (1 << 20) || dur <= 0)
        return 2;

    unsigned char *msg = malloc(size), *in = malloc(size);
    struct conn *cs = calloc((size_t)nconn, sizeof *cs);
    size_t cap = 1 << 20, nlat = 0;
    uint32_t *lat = malloc(cap * sizeof *lat);
    int ep = epfd = epoll_create1(EPOLL_CLOEXEC);
    if (!msg || !in || !cs || !lat || ep < 0)
        die("setup");
    for (size_t k = 0; k < size; k++)
        msg[k] = (unsigned char)(k * 7 + 1);

    for (int i = 0; i < nconn; i++) {
        cs[i].fd = dial(port);
        /* non-blocking: a message larger than the socket buffers must not
         * block its send while the echo fills our receive side */
        fcntl(cs[i].fd, F_SETFL, fcntl(cs[i].fd, F_GETFL) | O_NONBLOCK);
        struct epoll_event ev = {.events = EPOLLIN, .data.u32 = (uint32_t)i};
        if (epoll_ctl(ep, EPOLL_CTL_ADD, cs[i].fd, &ev) < 0)
            die("epoll_ctl");
    }
    int64_t start = now_ns(), mstart = start + warm, mend = mstart + dur;
    long long cpu0 = -1, cpu1 = -1;
    long msgs = 0;
    int measuring = 0;
    for (int i = 0; i < nconn; i++) {
        cs[i].t0 = now_ns();
        msg[0] = cs[i].seq;
        if (push(&cs[i], i, msg, size) < 0)
            die("send");
    }
    struct epoll_event evs[256];
    for (;;) {
        int64_t t = now_ns();
        if (!measuring && t >= mstart) {
            measuring = 1;
            cpu0 = pid ? cpu_ticks(pid) : -1;
        }
        if (t >= mend)
            break;
        int n = epoll_wait(ep, evs, 256, 100);
        if (n < 0 && errno != EINTR)
            die("epoll_wait");
        for (int e = 0; e < n; e++) {
            int i = (int)evs[e].data.u32;
            struct conn *c = &cs[i];
            msg[0] = c->seq;
            if (c->sent < size && push(c, i, msg, size) < 0)
                die("send");
            ssize_t r = recv(c->fd, in + c->got, size - c->got, 0);
            if (r == 0) {
                fprintf(stderr, "echo_load: server closed a connection\n");
                return 1;
            }
            if (r < 0) {
                if (errno == EAGAIN || errno == EINTR)
                    continue;
                die("recv");
            }
            if (c->got == 0 && in[0] != c->seq) {
                fprintf(stderr, "echo_load: wrong echo\n");
                return 1;
            }
            c->got += (size_t)r;
            if (c->got < size)
                continue;
            int64_t t1 = now_ns();
            if (measuring && t1 < mend) {
                msgs++;
                if (nlat < cap)
                    lat[nlat++] = (uint32_t)((t1 - c->t0) / 100); /* 0.1 us */
            }
            c->got = c->sent = 0;
            c->seq++;
            c->t0 = t1;
            msg[0] = c->seq;
            if (push(c, i, msg, size) < 0)
                die("send");
        }
    }
    cpu1 = pid ? cpu_ticks(pid) : -1;
    drain(cs, nconn, msg, in, size);
    double secs = (double)dur / 1e9;
    qsort(lat, nlat, sizeof *lat, cmp_u32);
    double p50 = nlat ? lat[nlat / 2] / 10.0 : 0;
    double p99 = nlat ? lat[nlat * 99 / 100] / 10.0 : 0;
    double cpu = -1;
    if (cpu0 >= 0 && cpu1 >= 0 && msgs > 0)
        cpu = (double)(cpu1 - cpu0) / (double)sysconf(_SC_CLK_TCK) * 1e6 /
              (double)msgs;
    printf("%.0f %.1f %.1f %.2f %ld\n", (double)msgs / secs, p50, p99, cpu,
           msgs);
    for (int i = 0; i < nconn; i++)
        close(cs[i].fd);
    close(ep);
    free(msg), free(in), free(cs), free(lat);
    return 0;
}
