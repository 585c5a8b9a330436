/* aio.c - name resolution and file I/O on the loop's default executor.
 *
 * Every await is a boxed frame that submits one job and awaits its future
 * (as run_in_executor does).  The job is shared by two owners, the
 * awaiting frame and the work, and reference counted: whichever lets go
 * last disposes of what nobody took (closes an opened descriptor, frees
 * an address list or a buffer).  The work lets go when it returns; the
 * frame when the await ends, after it copied the result out (it "takes"
 * it) or, interrupted, without.  A job cancelled before it started never
 * runs: the frame then lets go for it.  The worker only ever touches the
 * job, so an interrupted await can leave at once.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "acx_internal.h"

int (*acx__aio_fault)(const char *call, size_t *len);

enum {
    OP_OPEN, OP_READ, OP_PREAD, OP_WRITE, OP_PWRITE, OP_FSYNC, OP_CLOSE,
    OP_STAT, OP_FSTAT, OP_READ_ALL, OP_WRITE_ALL, OP_GAI, OP_GNI,
};

static const char *const op_names[] = {
    "open", "read", "pread", "write", "pwrite", "fsync", "close",
    "stat", "fstat", "read_all", "write_all", "getaddrinfo", "getnameinfo",
};

static atomic_int jobs_alive;

/* What the worker works on: everything it reads or writes. */
struct job {
    atomic_int refs;      /* the frame's and the work's */
    int op;
    ssize_t ret;          /* the result: >= 0, -errno, ACX_EAI(...) */
    int fd;               /* input; OP_OPEN: the descriptor opened */
    int flags;
    mode_t mode;
    off_t off;
    size_t n, limit;
    char *buf;            /* read into, written from, read_all's data */
    size_t len;
    struct stat st;
    struct addrinfo hints, *res;
    int has_hints;
    struct sockaddr_storage sa;
    socklen_t salen;
    char host[NI_MAXHOST], serv[NI_MAXSERV];
    const char *s1, *s2;  /* path / host, service: in strs */
    char strs[];
};

/* The await's own part of the frame. */
struct aio {
    int op;
    int err0;            /* an argument error found by the constructor */
    struct job *job;
    acx_future *f;
    acx_coro *child;     /* the acx_future_await */
    int fd, flags;
    mode_t mode;
    off_t off;
    size_t n, limit;
    const void *src;     /* write: the caller's data */
    void *dst;           /* read: the caller's buffer */
    const char *s1, *s2; /* copies in the frame's tail */
    struct addrinfo hints;
    int has_hints;
    struct sockaddr_storage sa;
    socklen_t salen;
    struct stat *ust;
    struct addrinfo **ures;
    char **udata;
    size_t *ulen;
    char *uhost, *userv;
    size_t uhostlen, uservlen;
};

struct aio_frame_i {
    ACX__FRAME_PREFIX;
    int acx__ret;
    struct aio a;
};

struct aio_frame_z {
    ACX__FRAME_PREFIX;
    ssize_t acx__ret;
    struct aio a;
};

/* ---- the worker side ------------------------------------------------------ */

static int fault(const char *call, size_t *len)
{
    return acx__aio_fault ? acx__aio_fault(call, len) : 0;
}

/* One transfer, EINTR retried: >= 0 or -errno. */
static ssize_t xfer(int op, int fd, char *buf, size_t n, off_t off)
{
    for (;;) {
        size_t len = n;
        int e = fault(op_names[op], &len);
        ssize_t r;
        if (e) {
            errno = e;
            r = -1;
        } else if (op == OP_READ) {
            r = read(fd, buf, len);
        } else if (op == OP_PREAD) {
            r = pread(fd, buf, len, off);
        } else if (op == OP_WRITE) {
            r = write(fd, buf, len);
        } else {
            r = pwrite(fd, buf, len, off);
        }
        if (r >= 0)
            return r;
        if (errno != EINTR)
            return -errno;
    }
}

/* All N bytes (OP_WRITE or OP_PWRITE): N or -errno. */
static ssize_t write_full(int op, int fd, const char *buf, size_t n,
                          off_t off)
{
    size_t done = 0;
    while (done < n) {
        ssize_t r = xfer(op, fd, (char *)(uintptr_t)(buf + done), n - done,
                         off + (off_t)done);
        if (r < 0)
            return r;
        if (r == 0)
            return -EIO; /* a regular file never accepts nothing */
        done += (size_t)r;
    }
    return (ssize_t)n;
}

static int xopen(const char *path, int flags, mode_t mode)
{
    for (;;) {
        size_t len = 0;
        int e = fault("open", &len);
        int fd = e ? (errno = e, -1) : open(path, flags | O_CLOEXEC, mode);
        if (fd >= 0)
            return fd;
        if (errno != EINTR)
            return -errno;
    }
}

static ssize_t read_all(struct job *j)
{
    int fd = xopen(j->s1, O_RDONLY, 0);
    if (fd < 0)
        return fd;
    struct stat st; /* the size, when known, saves the regrowing */
    size_t cap = fstat(fd, &st) == 0 && st.st_size > 0
                     ? (size_t)st.st_size + 2 : 4096;
    size_t limit = j->limit ? j->limit : SIZE_MAX - 2;
    ssize_t err = 0;
    j->len = 0;
    j->buf = malloc(cap);
    if (j->buf == NULL)
        err = -ENOMEM;
    while (err == 0) {
        if (cap - j->len < 2) { /* room for a byte and the NUL */
            size_t ncap = cap > SIZE_MAX / 2 ? SIZE_MAX : cap * 2;
            char *b = realloc(j->buf, ncap);
            if (b == NULL) {
                err = -ENOMEM;
                break;
            }
            j->buf = b;
            cap = ncap;
        }
        ssize_t r = xfer(OP_READ, fd, j->buf + j->len, cap - 1 - j->len, 0);
        if (r <= 0) {
            err = r;
            break;
        }
        j->len += (size_t)r;
        if (j->len > limit)
            err = -EFBIG;
    }
    close(fd);
    if (err == 0)
        j->buf[j->len] = '\0';
    return err;
}

static ssize_t write_all(struct job *j)
{
    int fd = xopen(j->s1, O_WRONLY | O_CREAT | O_TRUNC, j->mode);
    if (fd < 0)
        return fd;
    ssize_t r = write_full(OP_WRITE, fd, j->buf, j->n, 0);
    if (close(fd) < 0 && r >= 0 && errno != EINTR)
        r = -errno; /* a delayed write error (NFS, quota) */
    return r < 0 ? r : 0;
}

static int gai_result(int r)
{
    if (r == 0)
        return 0;
    if (r == EAI_SYSTEM)
        return errno ? -errno : -EIO;
    return ACX_EAI(r);
}

static ssize_t run_op(struct job *j)
{
    switch (j->op) {
    case OP_OPEN:
        return j->fd = xopen(j->s1, j->flags, j->mode);
    case OP_READ:
    case OP_PREAD:
        return xfer(j->op, j->fd, j->buf, j->n, j->off);
    case OP_WRITE:
    case OP_PWRITE:
        return write_full(j->op, j->fd, j->buf, j->n, j->off);
    case OP_FSYNC:
        return fsync(j->fd) < 0 ? -errno : 0;
    case OP_CLOSE: /* no retry on EINTR: the descriptor is gone anyway */
        return close(j->fd) < 0 && errno != EINTR ? -errno : 0;
    case OP_STAT:
        return stat(j->s1, &j->st) < 0 ? -errno : 0;
    case OP_FSTAT:
        return fstat(j->fd, &j->st) < 0 ? -errno : 0;
    case OP_READ_ALL:
        return read_all(j);
    case OP_WRITE_ALL:
        return write_all(j);
    case OP_GAI:
        errno = 0;
        return gai_result(getaddrinfo(j->s1, j->s2,
                                      j->has_hints ? &j->hints : NULL,
                                      &j->res));
    case OP_GNI:
        errno = 0;
        return gai_result(getnameinfo((struct sockaddr *)&j->sa, j->salen,
                                      j->host, sizeof j->host, j->serv,
                                      sizeof j->serv, j->flags));
    }
    return -EINVAL;
}

/* The last owner: dispose of what nobody took. */
static void job_unref(struct job *j)
{
    if (atomic_fetch_sub_explicit(&j->refs, 1, memory_order_acq_rel) != 1)
        return;
    if (j->op == OP_OPEN && j->fd >= 0)
        close(j->fd);
    if (j->res != NULL)
        freeaddrinfo(j->res);
    free(j->buf);
    free(j);
    atomic_fetch_sub(&jobs_alive, 1);
}

static void *aio_work(void *arg, int *err)
{
    (void)err;
    struct job *j = arg;
    j->ret = run_op(j);
    job_unref(j);
    return NULL;
}

int acx_aio_jobs(void)
{
    return atomic_load(&jobs_alive);
}

/* ---- the loop side ------------------------------------------------------------ */

static size_t slen(const char *s)
{
    return s ? strlen(s) + 1 : 0;
}

/* The job for A, holding its own copies of everything. */
static struct job *job_new(struct aio *a)
{
    size_t l1 = slen(a->s1), l2 = slen(a->s2);
    struct job *j = calloc(1, sizeof *j + l1 + l2);
    if (j == NULL)
        return NULL;
    atomic_init(&j->refs, 2);
    j->op = a->op;
    j->fd = a->op == OP_OPEN ? -1 : a->fd;
    j->flags = a->flags;
    j->mode = a->mode;
    j->off = a->off;
    j->n = a->n;
    j->limit = a->limit;
    if (l1)
        j->s1 = memcpy(j->strs, a->s1, l1);
    if (l2)
        j->s2 = memcpy(j->strs + l1, a->s2, l2);
    j->hints = a->hints;
    j->has_hints = a->has_hints;
    j->sa = a->sa;
    j->salen = a->salen;
    int reads = a->op == OP_READ || a->op == OP_PREAD;
    int writes = a->op == OP_WRITE || a->op == OP_PWRITE ||
                 a->op == OP_WRITE_ALL;
    if ((reads || writes) && a->n > 0) {
        j->buf = malloc(a->n);
        if (j->buf == NULL) {
            free(j);
            return NULL;
        }
        if (writes)
            memcpy(j->buf, a->src, a->n);
    }
    atomic_fetch_add(&jobs_alive, 1);
    return j;
}

static size_t copy_str(char *dst, size_t size, const char *src)
{
    size_t n = strlen(src);
    if (dst == NULL || size == 0)
        return n;
    memcpy(dst, src, n < size ? n + 1 : size - 1);
    dst[size - 1] = '\0';
    return n;
}

/* The job finished: copy its result out to the caller, taking what it
 * hands over.  Returns the await's value. */
static ssize_t take(struct aio *a, struct job *j)
{
    ssize_t r = j->ret;
    switch (a->op) {
    case OP_OPEN:
        j->fd = -1; /* the caller's now */
        break;
    case OP_READ:
    case OP_PREAD:
        if (r > 0)
            memcpy(a->dst, j->buf, (size_t)r);
        break;
    case OP_STAT:
    case OP_FSTAT:
        if (r == 0)
            *a->ust = j->st;
        break;
    case OP_READ_ALL:
        if (r == 0) {
            *a->udata = j->buf;
            *a->ulen = j->len;
            j->buf = NULL;
        }
        break;
    case OP_GAI:
        *a->ures = j->res;
        j->res = NULL;
        break;
    case OP_GNI:
        if (r == 0) {
            size_t hn = copy_str(a->uhost, a->uhostlen, j->host);
            size_t sn = copy_str(a->userv, a->uservlen, j->serv);
            if ((a->uhost != NULL && hn >= a->uhostlen) ||
                (a->userv != NULL && sn >= a->uservlen))
                r = ACX_EAI(EAI_OVERFLOW);
        }
        break;
    }
    return r;
}

/* The future await is over with status R. */
static ssize_t aio_finish(struct aio *a, int r)
{
    acx_coro_free(a->child);
    a->child = NULL;
    struct job *j = a->job;
    ssize_t ret = r;
    if (r == 0) {
        ret = take(a, j);
    } else {
        /* Interrupted: a job not started never will be (and then the
         * work's reference is ours to drop); a running one ends alone. */
        acx_future_cancel(a->f);
        if (acx_future_cancelled(a->f))
            job_unref(j);
    }
    acx_future_unref(a->f);
    a->f = NULL;
    a->job = NULL;
    job_unref(j);
    return ret;
}

/* Submit the job and start awaiting it: the child's body result, or
 * ACX__DONE with *RET set when it could not start. */
static int aio_start(acx_coro *c, struct aio *a, ssize_t *ret)
{
    if (a->err0) {
        *ret = a->err0;
        return ACX__DONE;
    }
    a->job = job_new(a);
    acx_executor *ex = a->job ? acx_default_executor() : NULL;
    errno = ENOMEM;
    a->f = ex ? acx_executor_submit(ex, aio_work, a->job) : NULL;
    if (a->f == NULL) {
        *ret = -errno;
        if (a->job != NULL) { /* both references are ours */
            job_unref(a->job);
            job_unref(a->job);
            a->job = NULL;
        }
        return ACX__DONE;
    }
    a->child = acx_future_await(a->f, NULL);
    if (a->child == NULL) {
        *ret = aio_finish(a, -ENOMEM);
        return ACX__DONE;
    }
    a->child->parent = c;
    ACX__STATE(c) = 1;
    if (!ACX__STACK_OK())
        return acx__push(a->child);
    int r = a->child->info->body(a->child);
    if (r == ACX__DONE)
        *ret = aio_finish(a, a->child->info->result_int(a->child));
    return r;
}

static int aio_step(acx_coro *c, struct aio *a, ssize_t *ret)
{
    if (ACX__STATE(c) == 0)
        return aio_start(c, a, ret);
    *ret = aio_finish(a, a->child->info->result_int(a->child));
    return ACX__DONE;
}

static int aio_describe(const struct aio *a, char *buf, size_t size)
{
    return snprintf(buf, size, "%s on a worker", op_names[a->op]);
}

#define AIO_FRAME(sfx, rtype)                                              \
    static int body_##sfx(acx_coro *c)                                     \
    {                                                                      \
        struct aio_frame_##sfx *f = (struct aio_frame_##sfx *)c;           \
        ssize_t r = 0;                                                     \
        int st = aio_step(c, &f->a, &r);                                   \
        if (st == ACX__DONE)                                               \
            f->acx__ret = (rtype)r;                                        \
        return st;                                                         \
    }                                                                      \
    static int describe_##sfx(const acx_coro *c, char *buf, size_t size)   \
    {                                                                      \
        return aio_describe(&((const struct aio_frame_##sfx *)c)->a, buf,  \
                            size);                                         \
    }                                                                      \
    static int result_##sfx(const acx_coro *c)                             \
    {                                                                      \
        return (int)((const struct aio_frame_##sfx *)c)->acx__ret;         \
    }

AIO_FRAME(i, int)
AIO_FRAME(z, ssize_t)

#define AIO_INFO(sfx, fname)                                               \
    {                                                                      \
        .body = body_##sfx, .name = fname, .file = "<runtime>",            \
        .size = sizeof(struct aio_frame_##sfx),                            \
        .ret_offset = offsetof(struct aio_frame_##sfx, acx__ret),          \
        .ret_size = sizeof(((struct aio_frame_##sfx *)0)->acx__ret),       \
        .result_int = result_##sfx,                                        \
        .align = _Alignof(struct aio_frame_##sfx),                         \
        .describe = describe_##sfx,                                        \
    }

static const acx__info open_info = AIO_INFO(i, "acx_file_open");
static const acx__info read_info = AIO_INFO(z, "acx_file_read");
static const acx__info pread_info = AIO_INFO(z, "acx_file_pread");
static const acx__info write_info = AIO_INFO(z, "acx_file_write");
static const acx__info pwrite_info = AIO_INFO(z, "acx_file_pwrite");
static const acx__info fsync_info = AIO_INFO(i, "acx_file_fsync");
static const acx__info close_info = AIO_INFO(i, "acx_file_close");
static const acx__info stat_info = AIO_INFO(i, "acx_file_stat");
static const acx__info fstat_info = AIO_INFO(i, "acx_file_fstat");
static const acx__info read_all_info = AIO_INFO(i, "acx_file_read_all");
static const acx__info write_all_info = AIO_INFO(i, "acx_file_write_all");
static const acx__info gai_info = AIO_INFO(i, "acx_getaddrinfo");
static const acx__info gni_info = AIO_INFO(i, "acx_getnameinfo");

/* A frame for OP with room for the strings S1 and S2 after it (copied
 * there: the caller's need not outlive this call). */
static struct aio *aio_new(const acx__info *info, acx_coro **c, int op,
                           const char *s1, const char *s2)
{
    size_t off = info->body == body_i ? offsetof(struct aio_frame_i, a)
                                      : offsetof(struct aio_frame_z, a);
    size_t l1 = slen(s1), l2 = slen(s2);
    /* With a tail the size differs from info->size: alloc.c then uses
     * malloc rather than the slab classes, which is what a tail needs. */
    *c = acx__coro_alloc(info->size + l1 + l2, info);
    if (*c == NULL)
        return NULL;
    struct aio *a = (struct aio *)(void *)((char *)*c + off);
    memset(a, 0, sizeof *a);
    a->op = op;
    char *tail = (char *)*c + info->size;
    if (l1)
        a->s1 = memcpy(tail, s1, l1);
    if (l2)
        a->s2 = memcpy(tail + l1, s2, l2);
    return a;
}

acx_coro *acx_file_open(const char *path, int flags, mode_t mode)
{
    acx_coro *c;
    struct aio *a = aio_new(&open_info, &c, OP_OPEN, path, NULL);
    if (a == NULL)
        return NULL;
    a->flags = flags;
    a->mode = mode;
    if (path == NULL)
        a->err0 = -EFAULT;
    return c;
}

static acx_coro *rw_new(const acx__info *info, int op, int fd, size_t n,
                        off_t off, struct aio **ap)
{
    acx_coro *c;
    struct aio *a = aio_new(info, &c, op, NULL, NULL);
    if (a == NULL)
        return NULL;
    a->fd = fd;
    a->n = n;
    a->off = off;
    if (n > SSIZE_MAX)
        a->err0 = -EINVAL;
    if ((op == OP_PREAD || op == OP_PWRITE) && off < 0)
        a->err0 = -EINVAL;
    *ap = a;
    return c;
}

acx_coro *acx_file_read(int fd, void *buf, size_t n)
{
    struct aio *a;
    acx_coro *c = rw_new(&read_info, OP_READ, fd, n, 0, &a);
    if (c != NULL)
        a->dst = buf;
    return c;
}

acx_coro *acx_file_pread(int fd, void *buf, size_t n, off_t off)
{
    struct aio *a;
    acx_coro *c = rw_new(&pread_info, OP_PREAD, fd, n, off, &a);
    if (c != NULL)
        a->dst = buf;
    return c;
}

acx_coro *acx_file_write(int fd, const void *buf, size_t n)
{
    struct aio *a;
    acx_coro *c = rw_new(&write_info, OP_WRITE, fd, n, 0, &a);
    if (c != NULL)
        a->src = buf;
    return c;
}

acx_coro *acx_file_pwrite(int fd, const void *buf, size_t n, off_t off)
{
    struct aio *a;
    acx_coro *c = rw_new(&pwrite_info, OP_PWRITE, fd, n, off, &a);
    if (c != NULL)
        a->src = buf;
    return c;
}

static acx_coro *fd_op(const acx__info *info, int op, int fd)
{
    acx_coro *c;
    struct aio *a = aio_new(info, &c, op, NULL, NULL);
    if (a != NULL)
        a->fd = fd;
    return a ? c : NULL;
}

acx_coro *acx_file_fsync(int fd)
{
    return fd_op(&fsync_info, OP_FSYNC, fd);
}

acx_coro *acx_file_close(int fd)
{
    return fd_op(&close_info, OP_CLOSE, fd);
}

acx_coro *acx_file_stat(const char *path, struct stat *st)
{
    acx_coro *c;
    struct aio *a = aio_new(&stat_info, &c, OP_STAT, path, NULL);
    if (a == NULL)
        return NULL;
    a->ust = st;
    if (path == NULL || st == NULL)
        a->err0 = -EFAULT;
    return c;
}

acx_coro *acx_file_fstat(int fd, struct stat *st)
{
    acx_coro *c = fd_op(&fstat_info, OP_FSTAT, fd);
    if (c != NULL) {
        struct aio *a = &((struct aio_frame_i *)(void *)c)->a;
        a->ust = st;
        if (st == NULL)
            a->err0 = -EFAULT;
    }
    return c;
}

acx_coro *acx_file_read_all(const char *path, char **data, size_t *len,
                            size_t limit)
{
    acx_coro *c;
    struct aio *a = aio_new(&read_all_info, &c, OP_READ_ALL, path, NULL);
    if (a == NULL)
        return NULL;
    a->udata = data;
    a->ulen = len;
    a->limit = limit;
    if (data != NULL)
        *data = NULL;
    if (len != NULL)
        *len = 0;
    if (path == NULL || data == NULL || len == NULL)
        a->err0 = -EFAULT;
    return c;
}

acx_coro *acx_file_write_all(const char *path, const void *data, size_t n,
                             mode_t mode)
{
    acx_coro *c;
    struct aio *a = aio_new(&write_all_info, &c, OP_WRITE_ALL, path, NULL);
    if (a == NULL)
        return NULL;
    a->src = data;
    a->n = n;
    a->mode = mode;
    if (path == NULL || (data == NULL && n > 0))
        a->err0 = -EFAULT;
    return c;
}

acx_coro *acx_getaddrinfo(const char *host, const char *service,
                          const struct addrinfo *hints,
                          struct addrinfo **res)
{
    acx_coro *c;
    struct aio *a = aio_new(&gai_info, &c, OP_GAI, host, service);
    if (a == NULL)
        return NULL;
    /* s1/s2 stay NULL for a NULL host or service */
    if (hints != NULL) {
        a->hints.ai_flags = hints->ai_flags;
        a->hints.ai_family = hints->ai_family;
        a->hints.ai_socktype = hints->ai_socktype;
        a->hints.ai_protocol = hints->ai_protocol;
        a->has_hints = 1;
    }
    a->ures = res;
    if (res != NULL)
        *res = NULL;
    if (res == NULL || (host == NULL && service == NULL))
        a->err0 = res == NULL ? -EFAULT : ACX_EAI(EAI_NONAME);
    return c;
}

acx_coro *acx_getnameinfo(const struct sockaddr *addr, socklen_t len,
                          char *host, size_t hostlen, char *serv,
                          size_t servlen, int flags)
{
    acx_coro *c;
    struct aio *a = aio_new(&gni_info, &c, OP_GNI, NULL, NULL);
    if (a == NULL)
        return NULL;
    a->uhost = host;
    a->uhostlen = host ? hostlen : 0;
    a->userv = serv;
    a->uservlen = serv ? servlen : 0;
    a->flags = flags;
    if (addr == NULL || len == 0 || len > sizeof a->sa)
        a->err0 = ACX_EAI(EAI_FAMILY);
    else
        memcpy(&a->sa, addr, len), a->salen = len;
    return c;
}

/* ---- resolver errors ----------------------------------------------------------- */

int acx_gai_code(int err)
{
    return err < -4095 ? err + ACX_EAI_BASE : 0;
}

const char *acx_gai_strerror(int err)
{
    int code = acx_gai_code(err);
    return code ? gai_strerror(code) : strerror(-err);
}

/* ---- connect_host: resolve, then each address in turn -------------------------- */

struct ch_frame {
    ACX__FRAME_PREFIX;
    int acx__ret;
    acx_sock **out;
    const char *host;
    char port[8];
    struct addrinfo *res, *ai;
    acx_coro *child;
    int last; /* the last connect error */
};

static int ch_done(struct ch_frame *f, int r)
{
    if (f->res != NULL)
        freeaddrinfo(f->res);
    f->res = NULL;
    f->acx__ret = r;
    return ACX__DONE;
}

/* Await CHILD from C; ACX__DONE when it finished at once. */
static int ch_await(acx_coro *c, acx_coro *child, uint32_t state)
{
    child->parent = c;
    ACX__STATE(c) = state;
    if (!ACX__STACK_OK())
        return acx__push(child);
    return child->info->body(child);
}

static int ch_child_result(struct ch_frame *f)
{
    int r = f->child->info->result_int(f->child);
    acx_coro_free(f->child);
    f->child = NULL;
    return r;
}

static int ch_body(acx_coro *c)
{
    struct ch_frame *f = (struct ch_frame *)c;
    int r;
    for (;;) {
        switch (f->acx__state) {
        case 0: {
            if (f->out == NULL || f->host == NULL)
                return ch_done(f, -EINVAL);
            struct addrinfo hints = {.ai_socktype = SOCK_STREAM};
            f->child = acx_getaddrinfo(f->host, f->port, &hints, &f->res);
            if (f->child == NULL)
                return ch_done(f, -ENOMEM);
            if ((r = ch_await(c, f->child, 1)) != ACX__DONE)
                return r;
        }
            /* fall through */
        case 1:
            if ((r = ch_child_result(f)) != 0)
                return ch_done(f, r);
            f->ai = f->res;
            f->last = -EHOSTUNREACH; /* an empty list: nothing to reach */
            break;
        case 2:
            r = ch_child_result(f);
            if (r == 0)
                return ch_done(f, 0);
            f->last = r;
            if (acx__intr_check() != 0) /* interrupted: no next address */
                return ch_done(f, r);
            f->ai = f->ai->ai_next;
            break;
        }
        if (f->ai == NULL)
            return ch_done(f, f->last);
        f->child = acx_sock_connect(f->out, f->ai->ai_addr,
                                    f->ai->ai_addrlen);
        if (f->child == NULL)
            return ch_done(f, -ENOMEM);
        if ((r = ch_await(c, f->child, 2)) != ACX__DONE)
            return r;
    }
}

static int ch_describe(const acx_coro *c, char *buf, size_t size)
{
    const struct ch_frame *f = (const struct ch_frame *)c;
    return snprintf(buf, size, "connect to %s port %s", f->host, f->port);
}

ACX__LEAF_INFO_AS(static, ch_info, struct ch_frame, "acx_sock_connect_host",
                  ch_body, NULL, ch_describe);

acx_coro *acx_sock_connect_host(acx_sock **out, const char *host, int port)
{
    struct ch_frame *f =
        (struct ch_frame *)(void *)acx__coro_alloc(sizeof *f, &ch_info);
    if (f == NULL)
        return NULL;
    memset((char *)f + offsetof(struct ch_frame, acx__ret), 0,
           sizeof *f - offsetof(struct ch_frame, acx__ret));
    f->out = out;
    f->host = host;
    if (out != NULL)
        *out = NULL;
    if (port < 0 || port > 65535)
        f->host = NULL; /* -EINVAL when it starts */
    snprintf(f->port, sizeof f->port, "%d", port < 0 ? 0 : port & 0xffff);
    return &f->acx__hdr;
}
