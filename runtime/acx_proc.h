/* acx_proc.h - subprocesses for coroutines (issue 4; Python's
 * asyncio.create_subprocess_exec / _shell, subprocess.run).
 *
 * Included by acx.h; see it for the conventions.
 *
 * A child is started with posix_spawn (glibc's clone(CLONE_VM |
 * CLONE_VFORK): safe in a program with other threads, no fork of a big
 * address space, and an exec failure comes back as the spawn's error, so a
 * missing program is -ENOENT from acx_proc_spawn, not a child exiting
 * with 127).  Its exit is watched through a pidfd (pidfd_open) in the
 * loop's poller: no SIGCHLD handler, no waitpid blocking the loop, and
 * signals go through pidfd_send_signal, so a pid reused after the child
 * was reaped can never be hit.  Where pidfds do not work (Linux before
 * 5.3, valgrind, a seccomp filter; found out once per process) every
 * call below works the same with one thread per running child instead
 * (asyncio's ThreadedChildWatcher): it waits in waitid(WNOWAIT), which
 * leaves the child unreaped, and wakes the loop through an eventfd;
 * signals are then kill(pid), made under the same lock as the reap, so
 * a reused pid is never hit either.  Every descriptor the parent keeps is
 * close-on-exec (a child spawned by another thread at the same moment
 * inherits none of them); each standard stream of the child can be
 * inherited, a pipe (an acx_sock of acx_net.h, read and written with
 * acx_sock_read/write, ready for buffered streams), /dev/null, a
 * descriptor of ours, or (stderr) the same as stdout.  The child starts
 * with an empty signal mask and SIGPIPE and SIGXFSZ at their default
 * action (as Python's restore_signals), whatever the loop blocked for
 * its signalfd.
 *
 * Threads: a process object belongs to the loop that first waits on it,
 * like a socket; spawning and freeing are fine from any thread when no
 * loop waits on it.
 */
#include "acx.h" /* alone, this part brings all of acx.h, in its order */

#ifndef ACX_PROC_H
#define ACX_PROC_H

#include <limits.h>
#include <stddef.h>
#include <sys/types.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct acx_proc acx_proc;

/* What a standard stream of the child is (acx_proc_opts). */
enum {
    ACX_PROC_INHERIT = 0, /* ours (the default) */
    ACX_PROC_PIPE,        /* a pipe: acx_proc_stdin/stdout/stderr */
    ACX_PROC_DEVNULL,     /* /dev/null, opened read-write in the child */
    ACX_PROC_FD,          /* the descriptor in *_fd (still ours after) */
    ACX_PROC_STDOUT,      /* stderr only: wherever stdout goes */
};

/* Flags (acx_proc_opts.flags). */
enum {
    ACX_PROC_NEW_SESSION = 1u << 0, /* setsid(): no controlling tty */
    ACX_PROC_NEW_PGROUP = 1u << 1,  /* its own process group */
    ACX_PROC_KILL_ON_FREE = 1u << 2, /* acx_proc_free kills it (SIGKILL)
                                      * if it still runs */
    ACX_PROC_KEEP_FDS = 1u << 3, /* close_fds=False: the child inherits
                                  * our descriptors that lack
                                  * close-on-exec (by default every
                                  * descriptor above 2 is closed in it) */
};

typedef struct acx_proc_opts {
    int stdin_mode, stdout_mode, stderr_mode; /* ACX_PROC_* */
    int stdin_fd, stdout_fd, stderr_fd;       /* for ACX_PROC_FD */
    char *const *env; /* NULL: ours (environ); else "NAME=value"..., NULL */
    const char *cwd;  /* NULL: ours */
    unsigned flags;   /* ACX_PROC_NEW_SESSION | ... */
    size_t output_limit; /* communicate/run: most bytes kept per stream
                          * (0: no limit) */
} acx_proc_opts;

/* acx_proc_returncode while the exit status is not known. */
#define ACX_PROC_RUNNING INT_MIN

/* Start ARGV[0] (searched in PATH when it has no '/', as execvp; PATH is
 * ours even with OPTS->env) with arguments ARGV (NULL-terminated) and
 * OPTS (NULL: inherit everything).  Stores the process in *OUT (NULL on
 * failure).  Returns 0, -EINVAL (OUT or ARGV NULL, an empty ARGV, a bad
 * mode, ACX_PROC_STDOUT for stdin or stdout), -ENOENT (no such program,
 * or OPTS->cwd missing), -EACCES, -ENOEXEC, -E2BIG, -EMFILE, -ENOMEM, or
 * when the exit watch cannot be made (pidfd_open's error, or without
 * pidfds the eventfd's or the watcher thread's: -EMFILE, -EAGAIN) that
 * error, the child then killed and reaped.  Any thread. */
int acx_proc_spawn(acx_proc **out, char *const argv[],
                   const acx_proc_opts *opts);

/* create_subprocess_shell: /bin/sh -c CMD, as acx_proc_spawn.  CMD is
 * given to the shell as is: quote what comes from outside. */
int acx_proc_spawn_shell(acx_proc **out, const char *cmd,
                         const acx_proc_opts *opts);

/* The child's pid and the pidfd that watches it (still owned by P), or
 * -1 for NULL.  acx_proc_pidfd is -ENOSYS for a child watched by a
 * thread (no pidfds here), -1 for one gone before it could be watched.
 * Any thread. */
pid_t acx_proc_pid(const acx_proc *p);
int acx_proc_pidfd(const acx_proc *p);

/* The parent's end of a piped stream, owned by P (NULL when the stream
 * was not ACX_PROC_PIPE or has been closed or taken).  Use it from the
 * loop thread, as any acx_sock. */
acx_sock *acx_proc_stdin(const acx_proc *p);
acx_sock *acx_proc_stdout(const acx_proc *p);
acx_sock *acx_proc_stderr(const acx_proc *p);

/* Close our end of the child's stdin, so that it reads EOF (what
 * communicate does after the input).  Returns 0, or acx_sock_close's
 * error; 0 when there is none.  Loop thread. */
int acx_proc_close_stdin(acx_proc *p);

/* Take the end of stream FD (0, 1 or 2) from P: the caller owns it from
 * now on (acx_sock_close it; a buffered stream may wrap it); P forgets
 * it.  NULL when there is none.  Loop thread. */
acx_sock *acx_proc_take(acx_proc *p, int fd);

/* Popen.returncode: the exit code (0..255), or minus the signal number
 * that killed it (-9 for SIGKILL), or ACX_PROC_RUNNING while it has not
 * been seen to exit.  Any thread. */
int acx_proc_returncode(const acx_proc *p);

/* Popen.poll: look (without blocking) whether the child has exited;
 * returns acx_proc_returncode afterwards.  Reaps it if it has.  Loop
 * thread, or any thread while no loop waits on P. */
int acx_proc_poll(acx_proc *p);

/* await acx_proc_wait(p, &rc) (Process.wait): suspend until the child
 * exits; reaps it.  Returns 0 with *RC (RC may be NULL) set to its
 * returncode, or -ECANCELED / -ETIMEDOUT when the task is interrupted
 * (the child and P are untouched: wait again, signal it, free it),
 * -EINVAL (P NULL), -EBADF (P freed under the wait), -ECHILD (someone
 * else reaped the child: a waitpid(-1) elsewhere, or SIGCHLD set to
 * SIG_IGN, with which the kernel reaps children itself; a child that
 * was gone before its pidfd could be opened has acx_proc_pidfd -1 and
 * waits say -ECHILD at once).  Without pidfds, SIGCHLD ignored, a kill
 * made between the kernel's reap and the watcher seeing it could reach
 * a reused pid: do not ignore SIGCHLD there.  Several tasks may wait on one process.
 * Loop thread. */
ACX_ASYNC_DECL(int, acx_proc_wait, (acx_proc * p, int *rc));

/* Send SIG (send_signal), SIGTERM (terminate) or SIGKILL (kill) through
 * the pidfd (without pidfds: kill(pid) under the lock that orders it
 * against the reap): the pid cannot have been reused.  Returns 0,
 * -EINVAL (P NULL, a bad signal), -ESRCH when the child has been reaped
 * already, -EPERM.  A child that exited but is not reaped yet takes the signal
 * without effect (returns 0).  Any thread. */
int acx_proc_send_signal(acx_proc *p, int sig);
int acx_proc_terminate(acx_proc *p);
int acx_proc_kill(acx_proc *p);

/* What communicate and run produce.  OUT and ERR are malloc'd and
 * NUL-terminated (a NUL byte in the output itself is kept; use the
 * lengths), NULL when that stream was not piped.  Free them with
 * acx_proc_output_free. */
typedef struct acx_proc_output {
    char *out, *err;
    size_t out_len, err_len;
    int returncode; /* as acx_proc_returncode */
} acx_proc_output;

/* Free O's buffers and zero them (O itself is the caller's; NULL is a
 * no-op).  Any thread. */
void acx_proc_output_free(acx_proc_output *o);

/* await acx_proc_communicate(p, input, n, &o) (Process.communicate):
 * write the N bytes of INPUT to the child's stdin (if it is piped; INPUT
 * may be NULL for none) and close it, read its stdout and stderr (those
 * piped) to EOF, all at once on the loop (a child that fills one pipe
 * while we still write the other cannot deadlock), then wait for it to
 * exit.  Returns 0 with *O filled, or -errno: -ENOBUFS when a stream
 * passed the process's output_limit (*O then holds what was read, at
 * most the limit per stream, and the child is left running: kill it or
 * wait), -ECANCELED / -ETIMEDOUT when interrupted, an I/O error.  A child
 * that does not read all of its input (it exits, or closes stdin) is not
 * an error: the rest is dropped, as in Python.
 * Interrupted, nothing is lost: what was read so far stays in P and
 * how much input was written too, and a later communicate (with the same
 * INPUT) goes on where this one stopped; acx_proc_wait, signals and free
 * also work.  INPUT must stay valid until the await finishes.  After it
 * the pipes are closed (acx_proc_stdout(p) is NULL).  Loop thread. */
ACX_ASYNC_DECL(int, acx_proc_communicate,
               (acx_proc * p, const void *input, size_t n,
                acx_proc_output *o));

/* await acx_proc_run(argv, opts, input, n, &o) (subprocess.run with
 * capture per OPTS): spawn ARGV with OPTS (INPUT not NULL and stdin
 * ACX_PROC_INHERIT: stdin becomes a pipe), communicate, wait, free the
 * process.  Returns 0 with *O filled (o.returncode: the child's), or
 * acx_proc_spawn's or communicate's error.  On any error, interrupts
 * included, a child still running is killed (SIGKILL, as subprocess.run
 * does) and reaped in the background, and *O holds nothing to free.
 * ARGV, OPTS and INPUT must stay valid until the await finishes.  Loop
 * thread. */
ACX_ASYNC_DECL(int, acx_proc_run,
               (char *const *argv, const acx_proc_opts *opts,
                const void *input, size_t n, acx_proc_output *o));

/* Free P: its pipe ends are closed (tasks parked on them, or in
 * acx_proc_wait on P, are woken with -EBADF; do not free P under a
 * running acx_proc_communicate).  A child that has exited is reaped.  One
 * still running is not waited for: with ACX_PROC_KILL_ON_FREE it is
 * killed first; either way it is reaped in the background when it exits
 * (by a helper thread that watches such pidfds, started on first need;
 * without pidfds by its own watcher thread, which then ends), so it never
 * stays a zombie and its pid stays ours until then.  NULL is
 * a no-op.  Loop thread (of the loop P was used in), or any thread when
 * no loop used it. */
void acx_proc_free(acx_proc *p);

/* Children freed while running and not yet reaped (for tests).  Any
 * thread. */
int acx_proc_orphans(void);

#ifdef __cplusplus
}
#endif
#endif
