/* soak_load.c - the load side of `make soak` (issue 8): N connections to
 * soak_server living random lives for a fixed time, every request
 * accounted for, the server's memory and descriptors sampled.
 *
 *   soak_load --port P --pid PID [--conns N] [--seconds S] [--warmup S]
 *             [--sample-ms MS] [--think-ms MS] [--seed X] [--no-rss-check]
 *
 * Each connection, again and again: connect; send a random number of
 * requests (keep-alive), one at a time or pipelined (2-8 in one write),
 * pausing 0-THINK_MS (default 200) between batches; then end the life
 * one of five ways:
 *   close       all answers read, close (FIN)
 *   half-close  the last batch sent, shutdown(SHUT_WR), answers read
 *               until the server's EOF
 *   reset       the last batch sent marked d=1 ("doomed"), then an
 *               abortive close (SO_LINGER 0: RST) without reading
 *   drop        as reset, but a plain close with the answers unread
 *   cut         half a request sent, then RST: mid-request
 * and reconnect.  Every request carries a unique id.  Answers come in
 * order (HTTP/1.1), so each must carry the id of the oldest request in
 * flight on its connection: a duplicate, a lost or a mixed-up answer is
 * seen at once.  At the end the server's own counts (GET /stats) must
 * agree: the number of normal requests it answered equals what this side
 * received, with equal sums of ids and of their squares (so the same
 * set); doomed requests it answered are at most those sent; cut ones are
 * never answered.
 *
 * Every SAMPLE_MS the server's VmRSS (/proc/PID/status) and open
 * descriptors (/proc/PID/fd) are sampled.  RSS after the warm-up is
 * compared with RSS at the end; the descriptor count with no connection
 * open is taken before the load and again after it, and must be equal.
 *
 * Prints a report; exits 1 on any violation, 0 otherwise.  One thread,
 * epoll, level-triggered, a binary heap of sleeping connections.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

enum {
    QMAX = 8,          /* requests in flight per connection (a batch) */
    IN_SIZE = 8192,
    OUT_SIZE = QMAX * 64,
    HIST_US = 100000,  /* 1 us buckets up to 100 ms */
    HIST_MS = 100000,  /* then 1 ms buckets up to 100 s */
    MAX_SAMPLES = 100000
};

enum { ST_FREE, ST_SLEEP, ST_CONNECTING, ST_BUSY, ST_DONE };
enum { END_CLOSE, END_HALF, END_RESET, END_DROP, END_CUT, END_MODES };
static const char *const end_names[END_MODES] = {"close", "half-close",
                                                 "reset", "drop", "cut"};

struct req {
    uint64_t id;
    int64_t t0;
    char kind, alone; /* alone: a batch of one */
};

struct conn {
    int fd, state, end, left, half;
    int heap_pos;        /* index in the sleep heap, -1 when not there */
    int64_t wake_ns;
    struct req q[QMAX];  /* in flight, oldest at qh */
    int qh, qn;
    size_t inlen, outoff, outlen;
    char in[IN_SIZE];
    char out[OUT_SIZE];
};

/* What this side counted. */
static struct {
    uint64_t sent, completed, sum, sq;  /* normal requests */
    uint64_t doomed, doomed_sum, cut;   /* abandoned on purpose */
    uint64_t lost, unexpected, mismatch, bad_status, server_closed;
    uint64_t lives[END_MODES], pipelined, connect_errors;
    uint64_t by_kind[4], t_ok, t_429, p_503;
} st;

/* Latency histograms: one per request kind (r, t, w, p), then every
 * request (H_ALL), then the r requests sent alone, not pipelined behind
 * others that wait (H_ALONE): the server's own response time. */
enum { H_ALL = 4, H_ALONE, NHIST };
static uint64_t hist_us[NHIST][HIST_US], hist_ms[NHIST][HIST_MS];
static int64_t lat_max_ns;

static int epfd, port, server_pid, nconn, procpool, think_ms = 200;
static int rss_check = 1; /* off for a sanitizer build (its quarantine grows) */
static struct conn *conns;
static int *heap, heap_n;
static uint64_t next_id = 1, rng = 88172645463325252ULL;
static int stopping;

/* ---- small tools ------------------------------------------------------- */

static int64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static void die(const char *what)
{
    fprintf(stderr, "soak_load: %s: %s\n", what, strerror(errno));
    exit(2);
}

static uint64_t rnd(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return rng;
}

static int chance(int percent) { return (int)(rnd() % 100) < percent; }

static void hist_add(int h, int64_t us)
{
    if (us < HIST_US)
        hist_us[h][us]++;
    else
        hist_ms[h][us / 1000 < HIST_MS ? us / 1000 : HIST_MS - 1]++;
}

static void record_latency(int kind, int alone, int64_t ns)
{
    if (ns > lat_max_ns)
        lat_max_ns = ns;
    hist_add(kind, ns / 1000);
    hist_add(H_ALL, ns / 1000);
    if (alone && kind == 0)
        hist_add(H_ALONE, ns / 1000);
}

/* Histogram H's latency at quantile Q (0..1) in microseconds. */
static double quantile_us(int h, double q)
{
    uint64_t total = 0, seen = 0;
    for (int i = 0; i < HIST_US; i++)
        total += hist_us[h][i];
    for (int i = 0; i < HIST_MS; i++)
        total += hist_ms[h][i];
    uint64_t want = (uint64_t)(q * (double)total);
    for (int i = 0; i < HIST_US; i++)
        if ((seen += hist_us[h][i]) > want)
            return i;
    for (int i = 0; i < HIST_MS; i++)
        if ((seen += hist_ms[h][i]) > want)
            return (double)i * 1000;
    return 0;
}

/* ---- the server's RSS and descriptors ------------------------------------ */

static long rss_kib(int pid)
{
    char path[64], line[256];
    long kib = -1;
    snprintf(path, sizeof path, "/proc/%d/status", pid);
    FILE *f = fopen(path, "r");
    if (f == NULL)
        return -1;
    while (fgets(line, sizeof line, f) != NULL)
        if (sscanf(line, "VmRSS: %ld", &kib) == 1)
            break;
    fclose(f);
    return kib;
}

static int fd_count(int pid)
{
    char path[64];
    snprintf(path, sizeof path, "/proc/%d/fd", pid);
    DIR *d = opendir(path);
    if (d == NULL)
        return -1;
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL)
        n += e->d_name[0] != '.';
    closedir(d);
    return n;
}

static struct sample {
    double t;
    long rss;
    int fds;
} samples[MAX_SAMPLES];
static int nsamples;

/* ---- the sleep heap (by wake_ns) ---------------------------------------- */

static int heap_less(int a, int b)
{
    return conns[heap[a]].wake_ns < conns[heap[b]].wake_ns;
}

static void heap_swap(int a, int b)
{
    int t = heap[a];
    heap[a] = heap[b];
    heap[b] = t;
    conns[heap[a]].heap_pos = a;
    conns[heap[b]].heap_pos = b;
}

static void heap_push(int i, int64_t wake)
{
    conns[i].wake_ns = wake;
    conns[i].state = ST_SLEEP;
    int k = heap_n++;
    heap[k] = i;
    conns[i].heap_pos = k;
    while (k > 0 && heap_less(k, (k - 1) / 2)) {
        heap_swap(k, (k - 1) / 2);
        k = (k - 1) / 2;
    }
}

static int heap_pop(void)
{
    int top = heap[0];
    heap_swap(0, --heap_n);
    conns[top].heap_pos = -1;
    for (int k = 0;;) {
        int l = 2 * k + 1, r = l + 1, m = k;
        if (l < heap_n && heap_less(l, m))
            m = l;
        if (r < heap_n && heap_less(r, m))
            m = r;
        if (m == k)
            break;
        heap_swap(k, m);
        k = m;
    }
    return top;
}

/* ---- one connection's life ----------------------------------------------- */

static void start_life(int i);
static void send_batch(int i);

static void set_events(struct conn *c, int i, uint32_t ev, int op)
{
    struct epoll_event e = {.events = ev, .data.u32 = (uint32_t)i};
    if (epoll_ctl(epfd, op, c->fd, &e) < 0)
        die("epoll_ctl");
}

/* Close C's socket (abortively when RESET) and sleep before the next
 * life; after the stop, the connection is done. */
static void end_life(int i, int reset)
{
    struct conn *c = &conns[i];
    if (reset) {
        struct linger lg = {.l_onoff = 1, .l_linger = 0};
        setsockopt(c->fd, SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
    }
    close(c->fd); /* also leaves the epoll set */
    c->fd = -1;
    c->qn = 0;
    if (stopping)
        c->state = ST_DONE;
    else
        heap_push(i, now_ns() + (int64_t)(rnd() % 10) * 1000000);
}

/* Write what is pending; 0, or -1 when the socket failed. */
static int flush_out(struct conn *c, int i)
{
    while (c->outoff < c->outlen) {
        ssize_t r = send(c->fd, c->out + c->outoff, c->outlen - c->outoff,
                         MSG_NOSIGNAL);
        if (r < 0 && errno == EAGAIN) {
            set_events(c, i, EPOLLIN | EPOLLOUT, EPOLL_CTL_MOD);
            return 0;
        }
        if (r < 0)
            return -1;
        c->outoff += (size_t)r;
    }
    return 0;
}

static char pick_kind(void)
{
    int x = (int)(rnd() % 100);
    if (x < 50)
        return 'r';
    if (x < 65)
        return 't';
    if (x < 85 || !procpool)
        return x < 85 ? 'w' : 'r';
    return 'p';
}

static int kind_index(char k)
{
    return k == 'r' ? 0 : k == 't' ? 1 : k == 'w' ? 2 : 3;
}

/* The connection failed or the server closed it with requests of ours in
 * flight: every normal one is lost. */
static void conn_failed(int i)
{
    struct conn *c = &conns[i];
    st.server_closed++;
    st.lost += (uint64_t)c->qn;
    end_life(i, 0);
}

/* Send the next batch of C's life, or end the life. */
static void send_batch(int i)
{
    struct conn *c = &conns[i];
    if (stopping && c->end != END_CLOSE && c->end != END_HALF)
        c->end = END_CLOSE; /* the run is over: no more abandoning */
    if (c->left == 0 || stopping) {
        st.lives[c->end]++;
        end_life(i, 0);
        return;
    }
    int n = chance(20) ? 2 + (int)(rnd() % (QMAX - 1)) : 1;
    if (n > c->left)
        n = c->left;
    c->left -= n;
    int last = c->left == 0;
    int doomed = last && (c->end == END_RESET || c->end == END_DROP);
    if (n > 1)
        st.pipelined++;
    c->outoff = c->outlen = 0;
    c->qh = 0;
    c->qn = 0;
    int64_t t0 = now_ns();
    for (int k = 0; k < n; k++) {
        struct req *r = &c->q[c->qn++];
        r->id = next_id++;
        r->kind = pick_kind();
        r->t0 = t0;
        r->alone = n == 1;
        c->outlen += (size_t)snprintf(
            c->out + c->outlen, OUT_SIZE - c->outlen,
            "GET /%c?id=%llu%s HTTP/1.1\r\nHost: soak\r\n\r\n", r->kind,
            (unsigned long long)r->id, doomed ? "&d=1" : "");
        if (doomed) {
            st.doomed++;
            st.doomed_sum += r->id;
        } else {
            st.sent++;
            st.by_kind[kind_index(r->kind)]++;
        }
    }
    if (last && c->end == END_CUT) {
        /* half of one more request, then a reset: never answered */
        c->outlen += (size_t)snprintf(c->out + c->outlen,
                                      OUT_SIZE - c->outlen, "GET /r?id=%llu",
                                      (unsigned long long)next_id++);
        st.cut++;
    }
    if (flush_out(c, i) < 0) {
        conn_failed(i);
        return;
    }
    if (doomed || (last && c->end == END_CUT)) {
        /* abandon what is in flight (and, when the send is short, the
         * rest of the batch: those ids were counted as doomed) */
        if (c->end == END_CUT) /* its normal requests are answered first */
            return;
        st.lives[c->end]++;
        c->qn = 0;
        end_life(i, c->end == END_RESET);
        return;
    }
    if (last && c->end == END_HALF && c->outoff == c->outlen) {
        shutdown(c->fd, SHUT_WR);
        c->half = 1;
    }
}

/* Check one response at C->in[0..] if complete: its length, 0 if not
 * complete, -1 if malformed (counted). */
static long take_response(struct conn *c)
{
    char *end = memmem(c->in, c->inlen, "\r\n\r\n", 4);
    if (end == NULL)
        return 0;
    int status;
    const char *cl = memmem(c->in, (size_t)(end - c->in), "Content-Length:",
                            15);
    if (sscanf(c->in, "HTTP/1.1 %d ", &status) != 1 || cl == NULL)
        return -1;
    long blen = strtol(cl + 15, NULL, 10);
    long total = (long)(end - c->in) + 4 + blen;
    if (blen < 0 || total > IN_SIZE)
        return -1;
    if ((long)c->inlen < total)
        return 0;
    const char *body = end + 4;
    unsigned long long id;
    if (c->qn == 0) {
        st.unexpected++;
        return total;
    }
    struct req *r = &c->q[c->qh];
    if (sscanf(body, "id=%llu", &id) != 1 || id != r->id) {
        st.mismatch++;
        return total;
    }
    /* a task whose worker was killed must say so clearly */
    int ok = status == 200 || (r->kind == 't' && status == 429) ||
             (r->kind == 'p' && status == 503 &&
              memmem(body, (size_t)blen, "worker died: worker ", 20) &&
              memmem(body, (size_t)blen, "killed by signal 9", 18));
    if (!ok)
        st.bad_status++;
    st.t_ok += r->kind == 't' && status == 200;
    st.t_429 += status == 429;
    st.p_503 += status == 503;
    st.completed++;
    st.sum += r->id;
    st.sq += r->id * r->id;
    record_latency(kind_index(r->kind), r->alone, now_ns() - r->t0);
    c->qh++;
    c->qn--;
    return total;
}

static void on_readable(int i)
{
    struct conn *c = &conns[i];
    ssize_t n = recv(c->fd, c->in + c->inlen, IN_SIZE - c->inlen, 0);
    if (n < 0 && errno == EAGAIN)
        return;
    if (n <= 0) { /* EOF or error */
        if (c->half && c->qn == 0) {
            st.lives[END_HALF]++;
            end_life(i, 0);
        } else {
            conn_failed(i);
        }
        return;
    }
    c->inlen += (size_t)n;
    long used;
    while ((used = take_response(c)) > 0) {
        memmove(c->in, c->in + used, c->inlen - (size_t)used);
        c->inlen -= (size_t)used;
    }
    if (used < 0) {
        st.mismatch++;
        conn_failed(i);
        return;
    }
    if (c->qn > 0 || c->half)
        return;
    if (c->left == 0 && c->end == END_CUT) {
        st.lives[END_CUT]++;
        end_life(i, 1);
        return;
    }
    /* a client's pause between batches: it keeps the load below what
     * saturates the machine (--think-ms 0: no pause, full speed) */
    if (think_ms > 0 && !stopping)
        heap_push(i, now_ns() + (int64_t)(rnd() % (unsigned)think_ms) *
                                    1000000);
    else
        send_batch(i);
}

static void on_writable(int i)
{
    struct conn *c = &conns[i];
    if (c->state == ST_CONNECTING) {
        int err = 0;
        socklen_t len = sizeof err;
        getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &len);
        if (err != 0) {
            st.connect_errors++;
            close(c->fd);
            c->fd = -1;
            if (stopping)
                c->state = ST_DONE;
            else
                heap_push(i, now_ns() + 50000000);
            return;
        }
        c->state = ST_BUSY;
        set_events(c, i, EPOLLIN, EPOLL_CTL_MOD);
        send_batch(i);
        return;
    }
    if (flush_out(c, i) < 0) {
        conn_failed(i);
        return;
    }
    if (c->outoff == c->outlen) {
        set_events(c, i, EPOLLIN, EPOLL_CTL_MOD);
        if (c->left == 0 && c->end == END_HALF && !c->half) {
            shutdown(c->fd, SHUT_WR);
            c->half = 1;
        }
    }
}

static void start_life(int i)
{
    struct conn *c = &conns[i];
    if (stopping) {
        c->state = ST_DONE;
        return;
    }
    struct sockaddr_in a = {.sin_family = AF_INET,
                            .sin_port = htons((uint16_t)port),
                            .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    c->fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (c->fd < 0)
        die("socket");
    int one = 1;
    setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    c->inlen = c->outoff = c->outlen = 0;
    c->qn = c->qh = c->half = 0;
    c->left = 1 + (int)(rnd() % 20);
    int x = (int)(rnd() % 100);
    c->end = x < 50 ? END_CLOSE : x < 70 ? END_HALF : x < 85 ? END_RESET
                                           : x < 90 ? END_DROP : END_CUT;
    if (connect(c->fd, (struct sockaddr *)&a, sizeof a) < 0 &&
        errno != EINPROGRESS) {
        st.connect_errors++;
        close(c->fd);
        c->fd = -1;
        heap_push(i, now_ns() + 50000000);
        return;
    }
    c->state = ST_CONNECTING;
    set_events(c, i, EPOLLOUT, EPOLL_CTL_ADD);
}

/* ---- the run -------------------------------------------------------------- */

static void take_sample(double t)
{
    if (nsamples < MAX_SAMPLES) {
        samples[nsamples].t = t;
        samples[nsamples].rss = rss_kib(server_pid);
        samples[nsamples].fds = fd_count(server_pid);
        nsamples++;
    }
}

/* Run the load for SECONDS, then stop and drain (at most 15 s); the
 * number of connections that did not finish. */
static int run(double seconds, int sample_ms)
{
    struct epoll_event evs[256];
    int64_t t0 = now_ns(), stop_at = t0 + (int64_t)(seconds * 1e9);
    int64_t next_sample = t0, give_up = stop_at + 15000000000LL;
    for (int i = 0; i < nconn; i++)
        heap_push(i, t0 + (int64_t)(rnd() % 1000) * 1000000);
    for (;;) {
        int64_t now = now_ns();
        if (now >= next_sample) {
            take_sample((double)(now - t0) / 1e9);
            next_sample += (int64_t)sample_ms * 1000000;
        }
        if (!stopping && now >= stop_at)
            stopping = 1;
        while (heap_n > 0 && conns[heap[0]].wake_ns <= now) {
            int i = heap_pop();
            if (conns[i].fd < 0)
                start_life(i);
            else {
                conns[i].state = ST_BUSY;
                send_batch(i);
            }
        }
        if (stopping) {
            int live = 0;
            for (int i = 0; i < nconn; i++)
                live += conns[i].state != ST_DONE;
            if (live == 0)
                return 0;
            if (now >= give_up)
                return live;
        }
        int64_t wait = next_sample - now;
        if (heap_n > 0 && conns[heap[0]].wake_ns - now < wait)
            wait = conns[heap[0]].wake_ns - now;
        if (stopping && wait > 10000000)
            wait = 10000000;
        int n = epoll_wait(epfd, evs, 256, wait > 0 ? (int)(wait / 1000000) : 0);
        if (n < 0 && errno != EINTR)
            die("epoll_wait");
        for (int k = 0; k < n; k++) {
            int i = (int)evs[k].data.u32;
            if (conns[i].fd < 0)
                continue; /* closed earlier in this round */
            if (evs[k].events & (EPOLLOUT | EPOLLERR))
                on_writable(i);
            if (conns[i].fd >= 0 && conns[i].state == ST_BUSY &&
                (evs[k].events & (EPOLLIN | EPOLLHUP | EPOLLERR)))
                on_readable(i);
        }
    }
}

/* ---- the server's counters: GET /stats on a fresh connection ------------- */

struct server_stats {
    unsigned long long answered, sum, sq, doomed, doomed_sum, bad, conns;
    unsigned long long open_max;
    unsigned long long t_http, t_refused, t_admitted, w_ok, w_failed;
    unsigned long long p_ok, p_died, p_failed, kills;
    double t_elapsed, t_rate, t_burst;
    int procpool;
};

static unsigned long long field(const char *text, const char *key)
{
    char pat[64];
    snprintf(pat, sizeof pat, "\n%s=", key);
    const char *p = strstr(text, pat);
    return p == NULL ? 0 : strtoull(p + strlen(pat), NULL, 10);
}

static double dfield(const char *text, const char *key)
{
    char pat[64];
    snprintf(pat, sizeof pat, "\n%s=", key);
    const char *p = strstr(text, pat);
    return p == NULL ? 0 : strtod(p + strlen(pat), NULL);
}

static int get_stats(struct server_stats *s)
{
    struct sockaddr_in a = {.sin_family = AF_INET,
                            .sin_port = htons((uint16_t)port),
                            .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0 || connect(fd, (struct sockaddr *)&a, sizeof a) < 0)
        return -1;
    const char rq[] = "GET /stats HTTP/1.1\r\nHost: soak\r\n\r\n";
    char buf[4096] = "\n";
    size_t len = 1;
    if (send(fd, rq, sizeof rq - 1, MSG_NOSIGNAL) != (ssize_t)sizeof rq - 1) {
        close(fd);
        return -1;
    }
    shutdown(fd, SHUT_WR);
    ssize_t r;
    while (len < sizeof buf - 1 &&
           (r = recv(fd, buf + len, sizeof buf - 1 - len, 0)) > 0)
        len += (size_t)r;
    buf[len] = 0;
    close(fd);
    if (strstr(buf, "\nanswered=") == NULL)
        return -1;
#define F(k) s->k = field(buf, #k)
    F(answered), F(sum), F(sq), F(doomed), F(doomed_sum), F(bad), F(conns);
    F(open_max);
    F(t_http), F(t_refused), F(t_admitted), F(w_ok), F(w_failed);
    F(p_ok), F(p_died), F(p_failed), F(kills);
#undef F
    s->procpool = (int)field(buf, "procpool");
    s->t_elapsed = dfield(buf, "t_elapsed");
    s->t_rate = dfield(buf, "t_rate");
    s->t_burst = dfield(buf, "t_burst");
    return 0;
}

/* Wait (up to 10 s) for the server's descriptor count to come back to
 * WANT once the connections are closed; the last count seen. */
static int settle_fds(int want)
{
    int n = fd_count(server_pid);
    for (int k = 0; k < 100 && n != want; k++) {
        usleep(100000);
        n = fd_count(server_pid);
    }
    return n;
}

/* ---- the report -------------------------------------------------------- */

static int violations;

__attribute__((format(printf, 2, 3)))
static void check(int ok, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    printf("  %s ", ok ? "ok  " : "FAIL");
    vprintf(fmt, ap);
    printf("\n");
    va_end(ap);
    violations += !ok;
}

/* The largest RSS and descriptor count among samples in [FROM, TO). */
static void window_max(double from, double to, long *rss, int *fds)
{
    *rss = -1;
    *fds = -1;
    for (int k = 0; k < nsamples; k++)
        if (samples[k].t >= from && samples[k].t < to) {
            if (samples[k].rss > *rss)
                *rss = samples[k].rss;
            if (samples[k].fds > *fds)
                *fds = samples[k].fds;
        }
}

static int usage(const char *argv0)
{
    fprintf(stderr,
            "usage: %s --port P --pid PID [--conns N] [--seconds S] "
            "[--warmup S] [--sample-ms MS] [--think-ms MS] [--seed X] [--no-rss-check]\n",
            argv0);
    return 2;
}

int main(int argc, char **argv)
{
    double seconds = 600, warmup = -1;
    int sample_ms = 5000;
    nconn = 1000;
    for (int i = 1; i < argc; i++) {
        const char *k = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        i++;
        if (v == NULL && strcmp(k, "--no-rss-check") != 0)
            return usage(argv[0]);
        if (strcmp(k, "--port") == 0)
            port = atoi(v);
        else if (strcmp(k, "--pid") == 0)
            server_pid = atoi(v);
        else if (strcmp(k, "--conns") == 0)
            nconn = atoi(v);
        else if (strcmp(k, "--seconds") == 0)
            seconds = atof(v);
        else if (strcmp(k, "--warmup") == 0)
            warmup = atof(v);
        else if (strcmp(k, "--sample-ms") == 0)
            sample_ms = atoi(v);
        else if (strcmp(k, "--no-rss-check") == 0) {
            rss_check = 0;
            i--; /* takes no value */
        } else if (strcmp(k, "--think-ms") == 0)
            think_ms = atoi(v);
        else if (strcmp(k, "--seed") == 0)
            rng = strtoull(v, NULL, 0) | 1;
        else
            return usage(argv[0]);
    }
    if (port <= 0 || server_pid <= 0 || nconn <= 0 || seconds <= 0 ||
        sample_ms <= 0 || think_ms < 0)
        return usage(argv[0]);
    if (warmup < 0) /* default: a fifth of the run, at most 2 minutes */
        warmup = seconds / 5 < 120 ? seconds / 5 : 120;

    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
    conns = calloc((size_t)nconn, sizeof *conns);
    heap = calloc((size_t)nconn, sizeof *heap);
    epfd = epoll_create1(EPOLL_CLOEXEC);
    if (conns == NULL || heap == NULL || epfd < 0)
        die("setup");
    for (int i = 0; i < nconn; i++)
        conns[i].fd = conns[i].heap_pos = -1;

    struct server_stats s0, s;
    if (get_stats(&s0) < 0)
        die("GET /stats before the run");
    procpool = s0.procpool;
    int fds_before = settle_fds(fd_count(server_pid));
    long rss_before = rss_kib(server_pid);

    int64_t t0 = now_ns();
    int unfinished = run(seconds, sample_ms);
    double took = (double)(now_ns() - t0) / 1e9;
    /* the connections still open (a failed drain) count as lost */
    for (int i = 0; i < nconn; i++)
        if (conns[i].state != ST_DONE && conns[i].fd >= 0) {
            st.lost += (uint64_t)conns[i].qn;
            close(conns[i].fd);
        }
    int fds_after = settle_fds(fds_before);
    long rss_after = rss_kib(server_pid);
    if (get_stats(&s) < 0)
        die("GET /stats after the run");

    /* ---- report */
    uint64_t lives = 0;
    for (int k = 0; k < END_MODES; k++)
        lives += st.lives[k];
    printf("soak: %d connections, %.0f s (%.1f s with the drain), "
           "procpool %s\n",
           nconn, seconds, took, procpool ? "on" : "not in this runtime");
    printf("requests: %llu answered (%.0f/s): r %llu, t %llu, w %llu, "
           "p %llu; %llu pipelined batches\n",
           (unsigned long long)st.completed, (double)st.completed / seconds,
           (unsigned long long)st.by_kind[0], (unsigned long long)st.by_kind[1],
           (unsigned long long)st.by_kind[2], (unsigned long long)st.by_kind[3],
           (unsigned long long)st.pipelined);
    printf("lives: %llu (", (unsigned long long)lives);
    for (int k = 0; k < END_MODES; k++)
        printf("%s%s %llu", k ? ", " : "", end_names[k],
               (unsigned long long)st.lives[k]);
    printf("); connect errors %llu\n", (unsigned long long)st.connect_errors);
    printf("abandoned on purpose: %llu doomed (server answered %llu before "
           "the reset), %llu cut mid-request\n",
           (unsigned long long)st.doomed, s.doomed - s0.doomed,
           (unsigned long long)st.cut);
    printf("latency: p50 %.0f us, p99 %.0f us, p99.9 %.0f us, max %.1f ms\n",
           quantile_us(H_ALL, 0.5), quantile_us(H_ALL, 0.99),
           quantile_us(H_ALL, 0.999),
           (double)lat_max_ns / 1e6);
    static const char *const kinds[4] = {"r (at once)", "t (throttle)",
                                         "w (thread pool)", "p (process pool)"};
    for (int k = 0; k < 4; k++)
        if (st.by_kind[k] > 0)
            printf("  %-17s p50 %.0f us, p99 %.0f us\n", kinds[k],
                   quantile_us(k, 0.5), quantile_us(k, 0.99));
    printf("  %-17s p50 %.0f us, p99 %.0f us, p99.9 %.0f us\n", "r sent alone",
           quantile_us(H_ALONE, 0.5), quantile_us(H_ALONE, 0.99),
           quantile_us(H_ALONE, 0.999));
    double wend = warmup + (seconds - warmup) / 4, tail = seconds * 0.85;
    long rss_warm, rss_end;
    int fds_warm, fds_end;
    window_max(warmup, wend, &rss_warm, &fds_warm);
    window_max(tail, seconds + 1, &rss_end, &fds_end);
    printf("server RSS: %ld KiB idle before, %ld KiB after warm-up "
           "(max over %.0f-%.0f s), %ld KiB at the end (max over the last "
           "15%%), %ld KiB idle after\n",
           rss_before, rss_warm, warmup, wend, rss_end, rss_after);
    printf("server connections: %llu accepted, at most %llu open at once\n",
           s.conns - s0.conns, s.open_max);
    printf("server fds: %d idle before, %d after warm-up, %d at the end, "
           "%d idle after\n",
           fds_before, fds_warm, fds_end, fds_after);
    printf("samples (t s, RSS KiB, fds):");
    for (int k = 0; k < nsamples; k++)
        printf("%s%.0f:%ld:%d", k % 8 ? " " : "\n  ", samples[k].t,
               samples[k].rss, samples[k].fds);
    printf("\n");
    double ideal = s.t_burst + s.t_rate * s.t_elapsed;
    printf("throttle: %llu admitted (%llu to HTTP, %llu refused after %d "
           "ms; the rest to 2 threads) in %.1f s at %.0f/s + burst %.0f: "
           "ideal %.0f, %.4f of it\n",
           s.t_admitted, s.t_http, s.t_refused, 20, s.t_elapsed, s.t_rate,
           s.t_burst, ideal, (double)s.t_admitted / ideal);
    printf("pools: thread %llu ok, %llu failed; process %llu ok, %llu "
           "failed with a killed worker (%llu kills), %llu other failures\n",
           s.w_ok, s.w_failed, s.p_ok, s.p_died, s.kills, s.p_failed);

    printf("checks:\n");
    check(unfinished == 0, "every connection finished (%d did not)",
          unfinished);
    check(st.lost == 0, "lost requests: %llu", (unsigned long long)st.lost);
    check(st.unexpected == 0 && st.mismatch == 0,
          "duplicated or mixed-up answers: %llu unexpected, %llu wrong id",
          (unsigned long long)st.unexpected, (unsigned long long)st.mismatch);
    check(st.server_closed == 0, "connections the server dropped: %llu",
          (unsigned long long)st.server_closed);
    check(st.bad_status == 0, "answers with a wrong status: %llu",
          (unsigned long long)st.bad_status);
    check(st.sent == st.completed, "sent %llu = received %llu",
          (unsigned long long)st.sent, (unsigned long long)st.completed);
    check(s.answered - s0.answered == st.completed &&
              s.sum - s0.sum == st.sum && s.sq - s0.sq == st.sq,
          "server answered %llu = client received %llu, same id sums",
          s.answered - s0.answered, (unsigned long long)st.completed);
    check(s.doomed - s0.doomed <= st.doomed,
          "doomed: server answered %llu <= sent %llu",
          s.doomed - s0.doomed, (unsigned long long)st.doomed);
    check(s.bad == 0, "server saw no malformed or cut request as complete "
                      "(bad %llu)", s.bad);
    check(s.t_http - s0.t_http >= st.t_ok,
          "throttle: server admitted %llu >= client saw %llu",
          s.t_http - s0.t_http, (unsigned long long)st.t_ok);
    check((double)s.t_admitted <= ideal + 1 &&
              (double)s.t_admitted >= 0.97 * ideal,
          "throttle within [0.97, 1] x (burst + rate x elapsed) + 1");
    check(s.w_failed == 0, "thread pool failures: %llu", s.w_failed);
    if (procpool) {
        check(s.p_failed == 0 && s.p_died <= s.kills,
              "process pool: failures only from killed workers (%llu <= "
              "%llu kills), no other (%llu)",
              s.p_died, s.kills, s.p_failed);
        check(st.p_503 <= s.p_died, "client saw %llu 503s <= %llu",
              (unsigned long long)st.p_503, s.p_died);
        check(seconds < 5 || s.kills > 0, "workers were killed: %llu",
              s.kills);
    }
    /* the pool workers' sockets come and go with the killer: allow them */
    int slack = procpool ? 4 : 0;
    check(fds_after >= fds_before - slack && fds_after <= fds_before + slack,
          "fds idle after %d = before %d (slack %d)", fds_after, fds_before,
          slack);
    long rss_tol = 2048 + rss_warm / 20; /* 2 MiB + 5% */
    if (rss_check)
        check(rss_warm > 0 && rss_end - rss_warm <= rss_tol,
              "RSS growth after warm-up %ld KiB <= %ld KiB",
              rss_end - rss_warm, rss_tol);
    else
        printf("  skip RSS growth (--no-rss-check: a sanitizer build)\n");
    check(fds_end <= fds_warm + nconn / 20 + 8,
          "fds at the end %d <= after warm-up %d + 5%% of the connections",
          fds_end, fds_warm);
    printf("soak: %s\n", violations ? "FAILED" : "passed");
    return violations ? 1 : 0;
}
