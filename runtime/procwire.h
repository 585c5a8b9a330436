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
 * found. */
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
