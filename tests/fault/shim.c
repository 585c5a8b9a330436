/* shim.c - the --wrap functions behind shim.h.
 *
 * Each wrapper asks fault_hit() whether this call fails; if not it calls
 * the real function (__real_NAME, which the linker binds to glibc's).
 * Everything is lock-free: the counters are atomics, the rules are
 * written only while no run is under way.
 */
#define _GNU_SOURCE
#include "shim.h"

#include <errno.h>
#include <execinfo.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/mman.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

/* ---- the real functions (bound by --wrap) -------------------------------- */

void *__real_malloc(size_t n);
void *__real_calloc(size_t n, size_t size);
void *__real_realloc(void *p, size_t n);
void *__real_aligned_alloc(size_t align, size_t n);
char *__real_strdup(const char *s);
void __real_free(void *p);
int __real_epoll_wait(int epfd, struct epoll_event *ev, int max, int ms);
int __real_epoll_pwait2(int epfd, struct epoll_event *ev, int max,
                        const struct timespec *ts, const sigset_t *mask);
ssize_t __real_read(int fd, void *buf, size_t n);
ssize_t __real_write(int fd, const void *buf, size_t n);
int __real_accept4(int fd, struct sockaddr *addr, socklen_t *len, int flags);
int __real_eventfd(unsigned int initval, int flags);
int __real_close(int fd);
pid_t __real_fork(void);

/* The wrappers, declared for -Wmissing-prototypes. */
void *__wrap_malloc(size_t n);
void *__wrap_calloc(size_t n, size_t size);
void *__wrap_realloc(void *p, size_t n);
void *__wrap_aligned_alloc(size_t align, size_t n);
char *__wrap_strdup(const char *s);
void __wrap_free(void *p);
int __wrap_epoll_wait(int epfd, struct epoll_event *ev, int max, int ms);
int __wrap_epoll_pwait2(int epfd, struct epoll_event *ev, int max,
                        const struct timespec *ts, const sigset_t *mask);
ssize_t __wrap_read(int fd, void *buf, size_t n);
ssize_t __wrap_write(int fd, const void *buf, size_t n);
int __wrap_accept4(int fd, struct sockaddr *addr, socklen_t *len, int flags);
int __wrap_eventfd(unsigned int initval, int flags);
int __wrap_close(int fd);
pid_t __wrap_fork(void);

/* ---- rules and counters ----------------------------------------------------- */

enum { MODE_OFF, MODE_NTH, MODE_FROM, MODE_SPAN, MODE_RANDOM };

struct rule {
    _Atomic int mode;
    _Atomic long n;          /* MODE_NTH / MODE_FROM: the call number */
    _Atomic long span;       /* MODE_SPAN: calls n .. n + span - 1 */
    _Atomic int err;
    _Atomic uint32_t thresh; /* MODE_RANDOM: fail when hash < thresh */
    _Atomic uint32_t seed;
    _Atomic size_t short_max;
    _Atomic long calls, injected;
};

/* The rules of fork, read and write live in a MAP_SHARED page that the
 * copies of this program forked from it share: a process pool's zygote,
 * forkservers and workers (they must be forked after the constructor
 * below: fault.c starts the zygote first thing in main).  So the forks
 * that the zygote and forkservers make, and the reads and writes of
 * workers on their sockets, can be failed too; those calls are counted
 * across the process tree, in the order they happen.  The other rules
 * (allocation above all: a worker's would make the parent's count
 * useless) stay each process's own. */
static struct rule local_rules[FAULT_NCALLS];
static struct rule *shared; /* [0] fork, [1] read, [2] write */
static int trace_injections; /* set before main, read-only after */

static struct rule *rule_of(enum fault_call c)
{
    if (shared != NULL) {
        switch (c) {
        case FAULT_FORK: return &shared[0];
        case FAULT_READ: return &shared[1];
        case FAULT_WRITE: return &shared[2];
        default: break;
        }
    }
    return &local_rules[c];
}

/* Priority 101: before libacx's constructors (a re-executed zygote's
 * never returns), so that the page exists in every copy. */
__attribute__((constructor(101))) static void shim_config(void)
{
    const char *e = getenv("FAULT_BACKTRACE");
    trace_injections = e != NULL && *e != '\0' && *e != '0';
    void *m = mmap(NULL, 3 * sizeof *shared, PROT_READ | PROT_WRITE,
                   MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (m != MAP_FAILED)
        shared = m; /* zeroed: MODE_OFF */
}
static _Atomic long live_allocs;

/* File descriptors that eventfd() returned and that are still open: a
 * write to one of them is a wake-up (FAULT_WAKE_WRITE), not data. */
enum { EVFD_MAX = 4096 };
static _Atomic unsigned char is_evfd[EVFD_MAX];

static const char *const names[FAULT_NCALLS] = {
    "alloc", "epoll_wait", "read", "write", "accept4", "eventfd",
    "eventfd write", "fork",
};

const char *fault_name(enum fault_call c)
{
    return (unsigned)c < FAULT_NCALLS ? names[c] : "?";
}

void fault_reset(void)
{
    for (int i = 0; i < FAULT_NCALLS; i++) {
        struct rule *r = rule_of(i);
        atomic_store(&r->mode, MODE_OFF);
        atomic_store(&r->short_max, 0);
        atomic_store(&r->calls, 0);
        atomic_store(&r->injected, 0);
    }
}

void fault_disarm(void)
{
    for (int i = 0; i < FAULT_NCALLS; i++) {
        atomic_store(&rule_of(i)->mode, MODE_OFF);
        atomic_store(&rule_of(i)->short_max, 0);
    }
}

static void set_rule(enum fault_call c, int mode, long n, int err)
{
    struct rule *r = rule_of(c);
    atomic_store(&r->n, n);
    atomic_store(&r->err, err);
    atomic_store(&r->calls, 0);
    atomic_store(&r->injected, 0);
    atomic_store(&r->mode, mode);
}

void fault_fail_nth(enum fault_call c, long n, int err)
{
    set_rule(c, MODE_NTH, n, err);
}

void fault_fail_from(enum fault_call c, long n, int err)
{
    set_rule(c, MODE_FROM, n, err);
}

void fault_fail_span(enum fault_call c, long n, long len, int err)
{
    atomic_store(&rule_of(c)->span, len);
    set_rule(c, MODE_SPAN, n, err);
}

void fault_fail_random(enum fault_call c, double p, unsigned seed, int err)
{
    double t = p <= 0 ? 0 : p >= 1 ? 4294967295.0 : p * 4294967296.0;
    atomic_store(&rule_of(c)->thresh, (uint32_t)t);
    atomic_store(&rule_of(c)->seed, seed);
    set_rule(c, MODE_RANDOM, 0, err);
}

void fault_short(enum fault_call c, size_t max)
{
    atomic_store(&rule_of(c)->short_max, max);
}

long fault_calls(enum fault_call c)
{
    return atomic_load(&rule_of(c)->calls);
}

long fault_injected(enum fault_call c)
{
    return atomic_load(&rule_of(c)->injected);
}

long fault_live_allocs(void)
{
    return atomic_load(&live_allocs);
}

/* A 32-bit mix of the seed and the call number (splitmix-style): random
 * mode is reproducible call by call, whichever thread makes the call. */
static uint32_t mix(uint32_t seed, long k)
{
    uint64_t z = (uint64_t)k * 0x9e3779b97f4a7c15u + seed;
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9u;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebu;
    return (uint32_t)(z ^ (z >> 31));
}

/* Count a call of C; 0 if it goes ahead, else the errno it fails with. */
static int fault_hit(enum fault_call c)
{
    struct rule *r = rule_of(c);
    long k = atomic_fetch_add(&r->calls, 1) + 1;
    int fail;
    switch (atomic_load_explicit(&r->mode, memory_order_relaxed)) {
    case MODE_NTH: fail = k == atomic_load(&r->n); break;
    case MODE_FROM: fail = k >= atomic_load(&r->n); break;
    case MODE_SPAN:
        fail = k >= atomic_load(&r->n) &&
               k < atomic_load(&r->n) + atomic_load(&r->span);
        break;
    case MODE_RANDOM:
        fail = mix(atomic_load(&r->seed), k) < atomic_load(&r->thresh);
        break;
    default: fail = 0;
    }
    if (!fail)
        return 0;
    atomic_fetch_add(&r->injected, 1);
    if (trace_injections) { /* FAULT_BACKTRACE=1: where each one hits */
        void *pc[16];
        backtrace_symbols_fd(pc, backtrace(pc, 16), 2);
        (void)!__real_write(2, "--\n", 3);
    }
    return atomic_load(&r->err);
}

static size_t clip(enum fault_call c, size_t n)
{
    size_t m = atomic_load_explicit(&rule_of(c)->short_max,
                                    memory_order_relaxed);
    return m != 0 && n > m ? m : n;
}

static int evfd(int fd)
{
    return fd >= 0 && fd < EVFD_MAX && atomic_load(&is_evfd[fd]);
}

/* ---- allocation ----------------------------------------------------------- */

static void *counted(void *p)
{
    if (p != NULL)
        atomic_fetch_add(&live_allocs, 1);
    return p;
}

void *__wrap_malloc(size_t n)
{
    int e = fault_hit(FAULT_ALLOC);
    if (e) {
        errno = e;
        return NULL;
    }
    return counted(__real_malloc(n));
}

void *__wrap_calloc(size_t n, size_t size)
{
    int e = fault_hit(FAULT_ALLOC);
    if (e) {
        errno = e;
        return NULL;
    }
    return counted(__real_calloc(n, size));
}

void *__wrap_aligned_alloc(size_t align, size_t n)
{
    int e = fault_hit(FAULT_ALLOC);
    if (e) {
        errno = e;
        return NULL;
    }
    return counted(__real_aligned_alloc(align, n));
}

char *__wrap_strdup(const char *s)
{
    int e = fault_hit(FAULT_ALLOC);
    if (e) {
        errno = e;
        return NULL;
    }
    return counted(__real_strdup(s)); /* freed through __wrap_free */
}

void *__wrap_realloc(void *p, size_t n)
{
    int e = fault_hit(FAULT_ALLOC);
    if (e) {
        errno = e;
        return NULL; /* P is left as it was, as a real failure leaves it */
    }
    void *q = __real_realloc(p, n);
    if (p == NULL)
        return counted(q);
    return q; /* moved or grown: still one block */
}

void __wrap_free(void *p)
{
    if (p != NULL)
        atomic_fetch_sub(&live_allocs, 1);
    __real_free(p);
}

/* ---- system calls ------------------------------------------------------------ */

int __wrap_epoll_wait(int epfd, struct epoll_event *ev, int max, int ms)
{
    int e = fault_hit(FAULT_EPOLL_WAIT);
    if (e) {
        errno = e;
        return -1;
    }
    return __real_epoll_wait(epfd, ev, max, ms);
}

int __wrap_epoll_pwait2(int epfd, struct epoll_event *ev, int max,
                        const struct timespec *ts, const sigset_t *mask)
{
    int e = fault_hit(FAULT_EPOLL_WAIT);
    if (e) {
        errno = e;
        return -1;
    }
    return __real_epoll_pwait2(epfd, ev, max, ts, mask);
}

ssize_t __wrap_read(int fd, void *buf, size_t n)
{
    if (!evfd(fd)) {
        int e = fault_hit(FAULT_READ);
        if (e) {
            errno = e;
            return -1;
        }
        n = clip(FAULT_READ, n);
    }
    return __real_read(fd, buf, n);
}

ssize_t __wrap_write(int fd, const void *buf, size_t n)
{
    enum fault_call c = evfd(fd) ? FAULT_WAKE_WRITE : FAULT_WRITE;
    int e = fault_hit(c);
    if (e) {
        errno = e;
        return -1;
    }
    if (c == FAULT_WRITE)
        n = clip(FAULT_WRITE, n);
    return __real_write(fd, buf, n);
}

int __wrap_accept4(int fd, struct sockaddr *addr, socklen_t *len, int flags)
{
    int e = fault_hit(FAULT_ACCEPT);
    if (e) {
        errno = e;
        return -1;
    }
    return __real_accept4(fd, addr, len, flags);
}

int __wrap_eventfd(unsigned int initval, int flags)
{
    int e = fault_hit(FAULT_EVENTFD);
    if (e) {
        errno = e;
        return -1;
    }
    int fd = __real_eventfd(initval, flags);
    if (fd >= 0 && fd < EVFD_MAX)
        atomic_store(&is_evfd[fd], 1);
    return fd;
}

int __wrap_close(int fd)
{
    if (fd >= 0 && fd < EVFD_MAX)
        atomic_store(&is_evfd[fd], 0); /* before: the number may be reused */
    return __real_close(fd);
}

pid_t __wrap_fork(void)
{
    int e = fault_hit(FAULT_FORK);
    if (e) {
        errno = e;
        return -1;
    }
    return __real_fork();
}
