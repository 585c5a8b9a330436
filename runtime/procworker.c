/* procworker.c - a process pool worker's side: byte buffers, functions
 * by (module, offset), and the loop that answers its parent's requests.
 *
 * The worker is single-threaded and blocks: it reads one request, runs
 * it, writes the reply, then reads the next.  Its socket is its only
 * link to the parent; EOF on it means "exit now" (the pool shut down, or
 * the parent died).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <sched.h>
#include <link.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include "acx_internal.h"
#include "procwire.h"

/* ---- acx_buf ------------------------------------------------------------- */

void *acx_buf_reserve(acx_buf *b, size_t n)
{
    if (b == NULL || n > SIZE_MAX - b->len - 1)
        return NULL;
    if (b->len + n + 1 > b->cap) { /* +1: room for a terminating zero */
        size_t cap = b->cap ? b->cap : 64;
        while (cap < b->len + n + 1)
            cap = cap > SIZE_MAX / 2 ? b->len + n + 1 : cap * 2;
        void *d = realloc(b->data, cap);
        if (d == NULL)
            return NULL;
        b->data = d;
        b->cap = cap;
    }
    return (char *)b->data + b->len;
}

int acx_buf_append(acx_buf *b, const void *p, size_t n)
{
    if (b == NULL || (p == NULL && n > 0))
        return -EINVAL;
    void *at = acx_buf_reserve(b, n);
    if (at == NULL)
        return -ENOMEM;
    if (n > 0)
        memcpy(at, p, n);
    b->len += n;
    return 0;
}

void acx_buf_free(acx_buf *b)
{
    if (b == NULL)
        return;
    free(b->data);
    b->data = NULL;
    b->len = b->cap = 0;
}

/* ---- functions by module and offset -------------------------------------
 *
 * MOD packs the module's index in the loader's list (low 12 bits) and a
 * hash of its name (high 20): a re-executed copy of the program that
 * lacks a library the parent loaded later (dlopen) answers -ENOENT
 * instead of calling into the wrong module.
 */

#define MOD_INDEX_BITS 12

enum { MAX_TEXT = 4 }; /* executable segments a module has: 1 or 2 */

struct fn_find {
    uintptr_t addr;
    uint32_t want, i; /* decode: the index wanted; both: the current one */
    uintptr_t base;
    uint32_t hash;
    int found;
    int ntext;        /* decode: the module's executable segments */
    uint64_t text[MAX_TEXT][2]; /* [start, end) from the module's base */
};

static uint32_t name_hash(const char *s)
{
    uint32_t h = 2166136261u; /* FNV-1a */
    for (; s != NULL && *s; s++)
        h = (h ^ (unsigned char)*s) * 16777619u;
    return h >> MOD_INDEX_BITS;
}

static int find_addr(struct dl_phdr_info *info, size_t size, void *data)
{
    struct fn_find *q = data;
    (void)size;
    for (int k = 0; k < info->dlpi_phnum; k++) {
        const ElfW(Phdr) *ph = &info->dlpi_phdr[k];
        uintptr_t lo = info->dlpi_addr + ph->p_vaddr;
        if (ph->p_type == PT_LOAD && q->addr >= lo &&
            q->addr < lo + ph->p_memsz) {
            q->base = info->dlpi_addr;
            q->hash = name_hash(info->dlpi_name);
            q->found = 1;
            return 1;
        }
    }
    q->i++;
    return 0;
}

static int find_index(struct dl_phdr_info *info, size_t size, void *data)
{
    struct fn_find *q = data;
    (void)size;
    if (q->i++ != q->want)
        return 0;
    q->base = info->dlpi_addr;
    q->hash = name_hash(info->dlpi_name);
    q->found = 1;
    for (int k = 0; k < info->dlpi_phnum && q->ntext < MAX_TEXT; k++) {
        const ElfW(Phdr) *ph = &info->dlpi_phdr[k];
        if (ph->p_type == PT_LOAD && (ph->p_flags & PF_X)) {
            q->text[q->ntext][0] = ph->p_vaddr;
            q->text[q->ntext][1] = ph->p_vaddr + ph->p_memsz;
            q->ntext++;
        }
    }
    return 1;
}

int acx__fnref_encode(const void *fn, uint32_t *mod, uint64_t *off)
{
    /* Submitters call this per task: remember the last answer. */
    static __thread const void *last_fn;
    static __thread uint32_t last_mod;
    static __thread uint64_t last_off;
    if (fn != NULL && fn == last_fn) {
        *mod = last_mod;
        *off = last_off;
        return 0;
    }
    struct fn_find q = {.addr = (uintptr_t)fn};
    if (fn == NULL || !dl_iterate_phdr(find_addr, &q) || !q.found ||
        q.i >= (1u << MOD_INDEX_BITS))
        return -ENOENT;
    *mod = last_mod = q.i | q.hash << MOD_INDEX_BITS;
    *off = last_off = q.addr - q.base;
    last_fn = fn;
    return 0;
}

void *acx__fnref_decode(uint32_t mod, uint64_t off)
{
    static uint32_t last_mod = UINT32_MAX;
    static struct fn_find last;
    if (mod != last_mod) {
        struct fn_find q = {.want = mod & ((1u << MOD_INDEX_BITS) - 1)};
        if (!dl_iterate_phdr(find_index, &q) || !q.found ||
            q.hash != mod >> MOD_INDEX_BITS)
            return NULL;
        last_mod = mod;
        last = q;
    }
    /* Only into the module's code: a corrupt offset gets NULL (-ENOENT)
     * rather than a call to wherever it points. */
    for (int k = 0; k < last.ntext; k++)
        if (off >= last.text[k][0] && off < last.text[k][1])
            return (void *)(last.base + (uintptr_t)off);
    return NULL;
}

/* ---- the worker loop ------------------------------------------------------ */

int (*acx__procpool_fault)(const char *call, size_t *len);

/* The test hook: 0, or an errno to fail the call with (*LEN may shrink). */
static int fault(const char *call, size_t *len)
{
    return acx__procpool_fault ? acx__procpool_fault(call, len) : 0;
}

/* Read exactly N bytes; 1, 0 at EOF before the first byte, -errno. */
static int read_full(int fd, void *p, size_t n)
{
    size_t got = 0;
    while (got < n) {
        size_t want = n - got;
        int e = fault("read", &want);
        if (e != 0) {
            errno = e;
            if (e == EINTR)
                continue;
            return -e;
        }
        ssize_t r = read(fd, (char *)p + got, want);
        if (r > 0) {
            got += (size_t)r;
        } else if (r == 0) {
            return got == 0 ? 0 : -EPIPE;
        } else if (errno != EINTR) {
            return -errno;
        }
    }
    return 1;
}

static int write_full(int fd, struct iovec *iov, int cnt)
{
    while (cnt > 0) {
        size_t want = iov->iov_len;
        for (int i = 1; i < cnt; i++)
            want += iov[i].iov_len;
        size_t cap = want;
        int e = fault("write", &cap);
        if (e == EINTR)
            continue;
        if (e != 0)
            return -e;
        ssize_t w = cap < want ? write(fd, iov->iov_base,
                                       cap < iov->iov_len ? cap
                                                          : iov->iov_len)
                               : writev(fd, iov, cnt);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            return -errno;
        }
        while (cnt > 0 && (size_t)w >= iov->iov_len) {
            w -= (ssize_t)iov->iov_len;
            iov++;
            cnt--;
        }
        if (cnt > 0) {
            iov->iov_base = (char *)iov->iov_base + w;
            iov->iov_len -= (size_t)w;
        }
    }
    return 0;
}

/* Run FN over a chunk's items, packing each one's error and bytes. */
static int run_chunk(acx_proc_fn fn, const char *in, size_t n, acx_buf *out)
{
    uint64_t count;
    size_t at;
    acx_buf one = {0};
    if (acx__pw_chunk_begin(in, n, &count, &at) < 0)
        return -EPROTO;
    if (acx_buf_append(out, &count, sizeof count) < 0)
        return -ENOMEM;
    int err = 0;
    for (uint64_t i = 0; i < count && err == 0; i++) {
        const char *item;
        uint32_t len;
        err = acx__pw_chunk_item(in, n, &at, &item, &len);
        if (err < 0)
            break;
        one.len = 0;
        struct acx__pw_item it = {.err = fn(item, len, &one)};
        if (it.err > 0)
            it.err = 0;
        if (it.err == 0 && one.len > UINT32_MAX)
            it.err = -EFBIG; /* a map item's limit */
        it.len = it.err == 0 ? (uint32_t)one.len : 0;
        /* per item: the common case appends without a call */
        char *o = out->len + sizeof it + it.len < out->cap
                      ? (char *)out->data + out->len
                      : acx_buf_reserve(out, sizeof it + it.len);
        if (o == NULL) {
            err = -ENOMEM;
            break;
        }
        memcpy(o, &it, sizeof it);
        if (it.len > 0)
            memcpy(o + sizeof it, one.data, it.len);
        out->len += sizeof it + it.len;
    }
    acx_buf_free(&one);
    return err;
}

static int run_one(const struct acx__pw_req *rq, const void *in,
                   acx_buf *out)
{
    void *f = acx__fnref_decode(rq->mod, rq->off);
    if (f == NULL)
        return -ENOENT;
    switch (rq->kind) {
    case ACX__PW_INIT: {
        int (*init)(const void *, size_t) =
            (int (*)(const void *, size_t))f;
        return init(in, rq->len);
    }
    case ACX__PW_TASK:
        return ((acx_proc_fn)f)(in, rq->len, out);
    case ACX__PW_CHUNK:
        return run_chunk((acx_proc_fn)f, in, rq->len, out);
    default: /* acx__pw_req_check let nothing else through */
        return -EPROTO;
    }
}

/* Waking a process blocked in read costs tens of microseconds on a busy
 * machine, more than a small task takes: after a reply, look for the
 * next request a while before blocking (as the thread pool's idle
 * workers do). */
#define IDLE_SPIN_NS 50000

static void spin_for_input(int fd)
{
    struct timespec t0, t;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    for (int i = 1;; i++) {
        char c;
        ssize_t r = recv(fd, &c, 1, MSG_PEEK | MSG_DONTWAIT);
        if (r >= 0 || errno != EAGAIN)
            return; /* data, EOF or an error: read will tell */
        /* the parent's thread that sends the next request may need this
         * CPU (all the others busy): let it run */
        sched_yield();
        if ((i & 7) == 0) {
            clock_gettime(CLOCK_MONOTONIC, &t);
            if ((t.tv_sec - t0.tv_sec) * 1000000000L +
                    (t.tv_nsec - t0.tv_nsec) > IDLE_SPIN_NS)
                return;
        }
    }
}

int acx__procworker_run(int fd)
{
    acx_buf in = {0}, out = {0};
    int rc = 0;
    for (int first = 1; rc == 0; first = 0) {
        struct acx__pw_req rq;
        if (!first)
            spin_for_input(fd);
        int r = read_full(fd, &rq, sizeof rq);
        if (r <= 0)
            break;
        in.len = 0;
        /* a corrupt stream, or one cut mid-request: the parent sees us
         * die */
        if (acx__pw_req_check(&rq, ACX__PW_LEN_MAX) < 0 ||
            acx_buf_reserve(&in, rq.len) == NULL ||
            read_full(fd, in.data, rq.len) != 1) {
            rc = 1;
            break;
        }
        out.len = 0;
        struct acx__pw_rep rp = {.status = run_one(&rq, in.data, &out)};
        if (rp.status > 0)
            rp.status = 0;
        rp.len = rp.status == 0 ? out.len : 0;
        struct iovec iov[2] = {{&rp, sizeof rp}, {out.data, rp.len}};
        if (write_full(fd, iov, rp.len ? 2 : 1) < 0)
            rc = 1;
    }
    /* freed on every way out: valgrind sees no leak in a worker */
    acx_buf_free(&in);
    acx_buf_free(&out);
    return rc;
}
