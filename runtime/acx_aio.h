/* acx_aio.h - blocking calls made awaitable on the loop's default
 * executor (issue 4): name resolution (loop.getaddrinfo/getnameinfo,
 * create_connection's host lookup) and file I/O (aiofiles).
 *
 * Included by acx.h; see it for the conventions.
 *
 * Each await hands one job to the loop's default executor
 * (acx_default_executor) and suspends until a worker thread has run it;
 * the loop goes on meanwhile.  The job owns everything the worker touches:
 * the strings and addresses are copied when the await is created, the
 * data of a write when it starts, and a read lands in the job's own buffer
 * and is copied into the caller's when the await returns.  So when the
 * awaiting task is interrupted (cancel, timeout) the await returns the
 * interrupt at once, the running job finishes on its thread without ever
 * touching the caller's memory again, and what it produced is disposed of
 * when it ends: an opened descriptor is closed, an address list freed, a
 * buffer freed.  A job not yet started is not started.  A job that was
 * running may still have done its work (a write may have been written,
 * a file may have been created by an open whose descriptor was then
 * closed).  Reads and writes retry EINTR; every call is for the loop
 * thread, inside a task.
 *
 * Each returns, besides what it lists, -ECANCELED / -ETIMEDOUT when
 * interrupted, -ENOMEM, and -ESHUTDOWN when the executor refuses work.
 */
#include "acx.h" /* alone, this part brings all of acx.h, in its order */

#ifndef ACX_AIO_H
#define ACX_AIO_H

#include <netdb.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/types.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ---- name resolution ----------------------------------------------------
 *
 * Resolver errors are EAI_* codes, which are not errnos (EAI_NONAME is -2
 * in glibc, like -ENOENT): they are returned as ACX_EAI(code), all below
 * -ACX_EAI_BASE + 256 and far from any -errno, so one int carries both.
 * EAI_SYSTEM comes back as the -errno it stands for. */
#define ACX_EAI_BASE 20000
#define ACX_EAI(code) ((code) - ACX_EAI_BASE)

/* The EAI_* code carried by the result ERR, or 0 when ERR is not one.
 * Any thread. */
int acx_gai_code(int err);

/* Text for any result of these calls: gai_strerror for a resolver error,
 * strerror for a -errno.  Any thread. */
const char *acx_gai_strerror(int err);

/* await acx_getaddrinfo(host, service, hints, &res) (loop.getaddrinfo):
 * getaddrinfo(3) on a worker.  HOST, SERVICE (either may be NULL, not
 * both) and *HINTS (NULL: AF_UNSPEC, any type) are copied when the await
 * is created.  Returns 0 with *RES a list to free with freeaddrinfo(3),
 * or ACX_EAI(EAI_NONAME) (no such name), ACX_EAI(EAI_AGAIN) (try later),
 * ACX_EAI(EAI_SERVICE), ...  *RES is NULL unless 0. */
ACX_ASYNC_DECL(int, acx_getaddrinfo,
               (const char *host, const char *service,
                const struct addrinfo *hints, struct addrinfo **res));

/* await acx_getnameinfo(addr, len, host, hostlen, serv, servlen, flags)
 * (loop.getnameinfo): getnameinfo(3) on a worker, into HOST / SERV (either
 * may be NULL with its length 0).  ADDR is copied.  Returns 0, or
 * ACX_EAI(EAI_NONAME), ACX_EAI(EAI_OVERFLOW) (a buffer too small), ... */
ACX_ASYNC_DECL(int, acx_getnameinfo,
               (const struct sockaddr *addr, socklen_t len, char *host,
                size_t hostlen, char *serv, size_t servlen, int flags));

/* await acx_sock_connect_host(&s, host, port) (open_connection's lookup
 * and connect): resolve HOST (a name or a numeric address) for a stream
 * socket, then try each address in the resolver's order, one at a time
 * (no happy eyeballs: an unreachable first address costs its full
 * connect time), until one connects.  Returns 0 with *OUT connected (NULL
 * otherwise), a resolver error (ACX_EAI(...)), or the last address's
 * connect error (-ECONNREFUSED, ...); an interrupt stops at once.  HOST
 * is read when the await starts. */
ACX_ASYNC_DECL(int, acx_sock_connect_host,
               (acx_sock * *out, const char *host, int port));

/* ---- files ------------------------------------------------------------------
 *
 * Regular files are always "ready" for epoll, so their I/O blocks: these
 * run it on a worker.  Descriptors are plain ints, opened close-on-exec. */

/* await acx_file_open(path, flags, mode): open(2) (O_CLOEXEC added).
 * Returns the descriptor, or -errno (-ENOENT, -EACCES, ...).  Cancelled,
 * a descriptor the worker then opens is closed. */
ACX_ASYNC_DECL(int, acx_file_open, (const char *path, int flags,
                                    mode_t mode));

/* await acx_file_read(fd, buf, n) / acx_file_pread(fd, buf, n, off): one
 * read(2) / pread(2) of up to N bytes into BUF.  Returns the bytes read
 * (fewer at the end of the file, 0 at EOF) or -errno.  BUF is written
 * only when the await returns its count: an interrupted read never
 * touches it. */
ACX_ASYNC_DECL(ssize_t, acx_file_read, (int fd, void *buf, size_t n));
ACX_ASYNC_DECL(ssize_t, acx_file_pread, (int fd, void *buf, size_t n,
                                         off_t off));

/* await acx_file_write(fd, buf, n) / acx_file_pwrite(fd, buf, n, off):
 * write all N bytes of BUF (short writes continued).  Returns N or -errno
 * (some bytes may have gone before the error).  BUF is copied when the
 * await starts; it is free to reuse once the await returns. */
ACX_ASYNC_DECL(ssize_t, acx_file_write, (int fd, const void *buf,
                                         size_t n));
ACX_ASYNC_DECL(ssize_t, acx_file_pwrite, (int fd, const void *buf,
                                          size_t n, off_t off));

/* await acx_file_fsync(fd): fsync(2).  0 or -errno (-EIO, -EINVAL). */
ACX_ASYNC_DECL(int, acx_file_fsync, (int fd));

/* await acx_file_close(fd): close(2) on a worker (it can block: NFS,
 * the last reference to a big deleted file).  0 or -errno; FD is closed
 * in every case, interrupted too (it must not be used again). */
ACX_ASYNC_DECL(int, acx_file_close, (int fd));

/* await acx_file_stat(path, &st) / acx_file_fstat(fd, &st): stat(2) /
 * fstat(2).  0 with *ST set (only then), or -errno. */
ACX_ASYNC_DECL(int, acx_file_stat, (const char *path, struct stat *st));
ACX_ASYNC_DECL(int, acx_file_fstat, (int fd, struct stat *st));

/* await acx_file_read_all(path, &data, &len, limit) (Path.read_bytes):
 * the whole file, in one job.  Returns 0 with *DATA (malloc'd, with a NUL
 * after the LEN bytes; free it) and *LEN, or -errno: -EFBIG when it holds
 * more than LIMIT bytes (0: no limit).  *DATA is NULL unless 0. */
ACX_ASYNC_DECL(int, acx_file_read_all, (const char *path, char **data,
                                        size_t *len, size_t limit));

/* await acx_file_write_all(path, data, n, mode) (Path.write_bytes):
 * create or truncate PATH (MODE for a new file), write the N bytes, close.
 * Returns 0 or -errno.  DATA is copied when the await starts. */
ACX_ASYNC_DECL(int, acx_file_write_all, (const char *path, const void *data,
                                         size_t n, mode_t mode));

/* Jobs handed to workers and not finished (for tests: 0 once every
 * interrupted job has ended and disposed of its result).  Any thread. */
int acx_aio_jobs(void);

/* Test hook (internal): called on the worker before each read, write,
 * pread, pwrite and open with the call's name and length (lower *LEN for
 * a short transfer); a nonzero return fails the call with that errno.
 * Set it while no job runs. */
extern int (*acx__aio_fault)(const char *call, size_t *len);

#ifdef __cplusplus
}
#endif
#endif
