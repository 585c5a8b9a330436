/* procwire.h - what the process pool's parent, its zygote, forkservers
 * and workers say to each other (internal to procpool.c, procmap.c,
 * zygote.c and procworker.c).
 *
 * Parent <-> worker: one AF_UNIX stream socket per worker.  A request is
 * a struct acx__pw_req and LEN payload bytes; a reply a struct
 * acx__pw_rep and LEN bytes.  The worker answers every request, in order.
 * A map chunk's payload is a u64 count then, per item, a u32 length and
 * the bytes; its reply a u64 count then, per item, a struct acx__pw_item
 * and the bytes (32-bit lengths: small items are what chunks are for,
 * and every byte of framing is copied twice).  Both ends are this same program, so integers travel in
 * the machine's own layout.
 *
 * Parent <-> forkserver: an AF_UNIX seqpacket socket, one struct
 * acx__fs_msg a message, fds alongside (SCM_RIGHTS).
 */
#ifndef ACX_PROCWIRE_H
#define ACX_PROCWIRE_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "acx.h"

enum { ACX__PW_INIT = 1, ACX__PW_TASK, ACX__PW_CHUNK };

struct acx__pw_req {
    uint32_t kind; /* ACX__PW_* */
    uint32_t mod;  /* the function: module index and offset (fnref) */
    uint64_t off;
    uint64_t len;
};

struct acx__pw_rep {
    int32_t status;
    uint32_t pad;
    uint64_t len;
};

struct acx__pw_item {
    int32_t err;
    uint32_t len;
};

/* ---- decoding (procwire.c: no I/O, fuzzed by tests/fuzz/fuzz_procwire.c)
 *
 * Both ends are one program, so a message that fails these checks means
 * a corrupt or hostile stream: the reader drops its peer (the parent
 * kills the worker, whose task fails with -EOWNERDEAD; the worker
 * exits).  Every function reads only the bytes it is given. */

/* The largest payload either end accepts: 1 TiB, more than any machine
 * this runs on gives one buffer (and AddressSanitizer's allocation limit,
 * so a sanitized build refuses a forged length instead of aborting in
 * malloc). */
#define ACX__PW_LEN_MAX ((size_t)1 << 40)

/* A request header a worker read: 0; -EPROTO an unknown kind; -EMSGSIZE
 * a payload over MAX_LEN bytes. */
int acx__pw_req_check(const struct acx__pw_req *rq, size_t max_len);

/* A reply header the parent read: 0; -EPROTO a status > 0, an error
 * with bytes, nonzero padding; -EMSGSIZE a payload over MAX_LEN. */
int acx__pw_rep_check(const struct acx__pw_rep *h, size_t max_len);

/* The parent's reader of one worker's replies: each header, then its
 * payload received straight into the buffer the result keeps (no copy).
 * Loop: acx__pw_rd_space says where the next bytes go and how many at
 * most (never past the current reply); acx__pw_rd_commit(N) after N >= 1
 * of them arrived there returns 0 (more wanted), 1 (a reply is complete:
 * H is its header, acx__pw_rd_take hands over its LEN bytes plus a
 * terminating zero, and the reader starts the next one), or an error
 * after which the reader is dropped: -EPROTO/-EMSGSIZE (the header fails
 * acx__pw_rep_check with MAX_LEN).  With no memory for a payload its
 * bytes are read and dropped, and take returns NULL: the stream stays in
 * step and the worker can go on.  acx__pw_rd_free frees a partial
 * reply. */
struct acx__pw_rd {
    struct acx__pw_rep h;
    size_t h_got;   /* header bytes in */
    char *data;     /* the payload: LEN + 1 bytes, once H is in */
    size_t got;     /* payload bytes in */
    size_t max_len;
    int drop;       /* no memory for this payload: read, not kept */
};
void acx__pw_rd_init(struct acx__pw_rd *r, size_t max_len);
void acx__pw_rd_space(const struct acx__pw_rd *r, void **p, size_t *n);
int acx__pw_rd_commit(struct acx__pw_rd *r, size_t n);
char *acx__pw_rd_take(struct acx__pw_rd *r);
void acx__pw_rd_free(struct acx__pw_rd *r);

/* A map chunk's request payload IN[0..N), for the worker: begin reads
 * the item count and sets *AT past it; item reads the item at *AT
 * (*ITEM, *LEN: inside IN) and moves *AT past it.  0 or -EPROTO (the
 * bytes end before the count or the item does); *AT moves only on 0. */
int acx__pw_chunk_begin(const char *in, size_t n, uint64_t *count,
                        size_t *at);
int acx__pw_chunk_item(const char *in, size_t n, size_t *at,
                       const char **item, uint32_t *len);

/* A map chunk's reply R[0..N), for the parent: begin checks the count is
 * SENT (the items the request had) and sets *AT past it; item reads the
 * result at *AT: its error (*ERR, <= 0) or bytes (*DATA, *LEN: inside R)
 * and moves *AT past it.  0 or -EPROTO (a count other than SENT, bytes
 * that end early, an error > 0 or with bytes); *AT moves only on 0. */
int acx__pw_result_begin(const char *r, size_t n, uint64_t sent,
                         size_t *at);
int acx__pw_result_item(const char *r, size_t n, size_t *at, int *err,
                        const char **data, uint32_t *len);

/* Forkserver messages.  SPAWN (parent -> fs, the worker's socket end
 * attached; NAME its process name); SPAWNED (fs -> parent: PID, a pidfd
 * attached when the kernel has them); SPAWN_FAILED (VAL: errno); EXITED
 * (VAL: the wait status); KILL (parent -> fs: SIGKILL worker ID, PID if
 * not 0, if it is still an unreaped child: how the parent kills without
 * a pidfd, since only the forkserver knows the pid is not reused yet).
 * READY is a session's first message: from the forkserver once it runs
 * (VAL 0), or from the zygote when it could not fork one (VAL: errno),
 * so that making a pool fails with the reason. */
enum { ACX__FS_SPAWN = 1, ACX__FS_SPAWNED, ACX__FS_SPAWN_FAILED,
       ACX__FS_EXITED, ACX__FS_READY, ACX__FS_KILL };

struct acx__fs_msg {
    uint32_t type;
    uint32_t id;  /* the parent's slot for the worker */
    int32_t pid;
    int32_t val;
    char name[16];
};

/* A function of this program as (module index, offset from the module's
 * base): valid in a re-executed copy of the program too, where ASLR put
 * the modules elsewhere.  encode: 0 or -ENOENT; decode: NULL if not
 * found, or if OFF is outside the module's executable segments (a corrupt
 * request is refused, not called). */
int acx__fnref_encode(const void *fn, uint32_t *mod, uint64_t *off);
void *acx__fnref_decode(uint32_t mod, uint64_t off);

/* The worker's loop on its socket FD: answer requests until EOF.
 * Returns the process's exit status. */
int acx__procworker_run(int fd);

/* Send LEN bytes at MSG as one message with FD attached (-1: none);
 * 0 or -errno.  Receive one message of up to LEN bytes and the fd sent
 * with it (*FD, -1 if none): bytes received, 0 at EOF, or -errno. */
int acx__send_fd(int s, const void *msg, size_t len, int fd);
ssize_t acx__recv_fd(int s, void *msg, size_t len, int *fd);

/* Start the zygote if needed and open a session: a new forkserver for
 * one pool.  Returns the parent's end of its socket, or a negative
 * errno. */
int acx__zygote_session(void);

/* The pool's future value: the result bytes (first: acx_future_await
 * hands this out as an acx_buf *) and, for a crash, who died how. */
#define ACX__PROC_MAGIC 0x70726f63u
struct acx__proc_result {
    acx_buf buf;
    uint32_t magic;
    int pid;     /* the worker that died, for -EOWNERDEAD */
    int wstatus; /* its wait status; -1: unknown (its forkserver died) */
};

void acx__proc_result_free(void *r);

/* Queue a request built by the caller: MSG starts with a struct
 * acx__pw_req (filled in here but for LEN's payload) and is taken over
 * (freed), also on error.  The future, or NULL with errno. */
acx_future *acx__procpool_submit_msg(acx_procpool *p, uint32_t kind,
                                     acx_proc_fn fn, void *msg,
                                     size_t payload_len);

#endif
