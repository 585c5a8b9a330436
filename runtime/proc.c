/* proc.c - subprocesses: spawn, pidfd exit watch, signals, communicate,
 * run, and the background reaper for children freed while running.
 *
 * The exit watch is an acx_sock over the pidfd (it polls readable once
 * the child exits), so a wait parks exactly as a socket read does and
 * shares its cancel and close semantics.  communicate is one leaf frame
 * parked on up to three pipes at once (stdin writable, stdout and stderr
 * readable: one task on three socket wait lists), then on the pidfd; its
 * progress (input written, output read) lives in the process object, so an
 * interrupted communicate loses nothing.
 *
 * Without pidfds (Linux before 5.3, valgrind, a seccomp filter that
 * refuses pidfd_open) each running child gets a watcher thread instead,
 * as asyncio's ThreadedChildWatcher: it blocks in waitid(P_PID, pid,
 * WEXITED | WNOWAIT), which leaves the child a zombie, then makes an
 * eventfd readable, and the loop watches that eventfd where it would
 * watch the pidfd.  The zombie keeps the pid ours until we reap it, and
 * the reap and every kill(pid) happen under one mutex, so a signal can
 * never reach a reused pid.  A child freed while running is reaped by
 * its own watcher (no shared reaper thread needed).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <spawn.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "net_internal.h"

#ifndef P_PIDFD
#define P_PIDFD 3
#endif

/* A stream's output so far (communicate). */
struct obuf {
    char *data;
    size_t len, cap;
};

struct pwatch;

struct acx_proc {
    pid_t pid;
    int rc;            /* ACX_PROC_RUNNING until reaped */
    acx_sock *exitw;   /* owns the pidfd, or the watcher's eventfd */
    struct pwatch *watch; /* the watcher thread (no pidfd), or NULL */
    acx_sock *io[3];   /* parent ends: stdin, stdout, stderr */
    unsigned flags;
    size_t limit;      /* output_limit, SIZE_MAX for none */
    size_t in_off;     /* communicate: input written so far */
    struct obuf ob[3]; /* communicate: [1] stdout, [2] stderr */
};

/* ---- do pidfds work here? ------------------------------------------------ */

static int pidfd_state;  /* 0 not known yet, 1 they work, -1 they do not */
static int pidfd_forced; /* acx__proc_force_nopidfd */

int acx__pidfd_off(void)
{
    return __atomic_load_n(&pidfd_forced, __ATOMIC_RELAXED) ||
           __atomic_load_n(&pidfd_state, __ATOMIC_RELAXED) < 0;
}

void acx__proc_force_nopidfd(int on)
{
    __atomic_store_n(&pidfd_forced, on != 0, __ATOMIC_RELAXED);
}

int acx__pidfd_open(pid_t pid)
{
    if (acx__pidfd_off())
        return -ENOSYS;
    int fd = (int)syscall(SYS_pidfd_open, pid, 0);
    if (fd >= 0) {
        __atomic_store_n(&pidfd_state, 1, __ATOMIC_RELAXED);
        return fd;
    }
    int err = errno;
    /* pidfd_open has no EPERM of its own: that is a seccomp filter
     * (older container runtimes) refusing a syscall it does not know */
    if (err == ENOSYS || err == EPERM) {
        __atomic_store_n(&pidfd_state, -1, __ATOMIC_RELAXED);
        return -ENOSYS;
    }
    return -err;
}

static int sys_pidfd_send_signal(int pidfd, int sig)
{
    return (int)syscall(SYS_pidfd_send_signal, pidfd, sig, NULL, 0);
}

/* ---- the reaper: children freed while running ------------------------- */

static pthread_once_t reaper_once = PTHREAD_ONCE_INIT;
static int reaper_ep = -1;
static int reaper_err;
static atomic_int orphans;

/* Popen.returncode from a waitid result. */
static int si_returncode(const siginfo_t *si)
{
    return si->si_code == CLD_EXITED ? si->si_status : -si->si_status;
}

/* Reap the child of PIDFD if it has exited: 1 reaped (or gone: someone
 * else reaped it), 0 running, with its returncode in *RC. */
static int reap_pidfd(int pidfd, int *rc)
{
    siginfo_t si;
    for (;;) {
        si.si_pid = 0;
        if (waitid((idtype_t)P_PIDFD, (id_t)pidfd, &si, WEXITED | WNOHANG) ==
            0)
            break;
        if (errno != EINTR)
            return -errno;
    }
    if (si.si_pid == 0)
        return 0;
    *rc = si_returncode(&si);
    return 1;
}

static void *reaper_main(void *arg)
{
    (void)arg;
    for (;;) {
        struct epoll_event ev[16];
        int n = epoll_wait(reaper_ep, ev, 16, -1);
        for (int i = 0; i < n; i++) {
            int fd = ev[i].data.fd, rc;
            if (reap_pidfd(fd, &rc) != 0) { /* reaped, or not ours any more */
                epoll_ctl(reaper_ep, EPOLL_CTL_DEL, fd, NULL);
                close(fd);
                atomic_fetch_sub(&orphans, 1);
            }
        }
    }
    return NULL;
}

static void reaper_start(void)
{
    reaper_ep = epoll_create1(EPOLL_CLOEXEC);
    if (reaper_ep < 0) {
        reaper_err = -errno;
        return;
    }
    pthread_attr_t at;
    pthread_attr_init(&at);
    pthread_attr_setdetachstate(&at, PTHREAD_CREATE_DETACHED);
    /* The thread takes no signals: they belong to the program's threads. */
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    pthread_t th;
    int err = pthread_create(&th, &at, reaper_main, NULL);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    pthread_attr_destroy(&at);
    if (err) {
        close(reaper_ep);
        reaper_ep = -1;
        reaper_err = -err;
        return;
    }
    pthread_setname_np(th, "acxreaper");
}

/* Hand PIDFD (ours now) to the reaper.  Without one, wait for the child
 * here after killing it: a zombie is worse than a late kill. */
static void reaper_adopt(int pidfd)
{
    pthread_once(&reaper_once, reaper_start);
    atomic_fetch_add(&orphans, 1);
    struct epoll_event ev = {.events = EPOLLIN, .data.fd = pidfd};
    if (reaper_ep >= 0 && epoll_ctl(reaper_ep, EPOLL_CTL_ADD, pidfd, &ev) == 0)
        return;
    sys_pidfd_send_signal(pidfd, SIGKILL);
    siginfo_t si;
    while (waitid((idtype_t)P_PIDFD, (id_t)pidfd, &si, WEXITED) < 0 &&
           errno == EINTR)
        ;
    close(pidfd);
    atomic_fetch_sub(&orphans, 1);
}

int acx_proc_orphans(void)
{
    return atomic_load(&orphans);
}

/* ---- the watcher thread: a child's exit without a pidfd ------------------ */

enum { PW_RUNNING, PW_EXITED, PW_ORPHAN };

struct pwatch {
    pthread_mutex_t mu; /* held across every kill and the reap */
    pid_t pid;
    int efd;     /* the eventfd, owned by the process's exitw */
    int state;   /* PW_*, under MU: whom the watcher tells of the exit */
    int reaped;  /* under MU: reaped, or reaped by someone else */
    int joined;  /* the owner joined the thread (owner only) */
    pthread_t th;
};

/* Under W->mu: reap W's child if it has exited: 1 with *RC, 0 running,
 * -ECHILD when someone else reaped it. */
static int watch_reap_locked(struct pwatch *w, int *rc)
{
    siginfo_t si;
    int r;
    do {
        si.si_pid = 0;
        r = waitid(P_PID, (id_t)w->pid, &si, WEXITED | WNOHANG);
    } while (r < 0 && errno == EINTR);
    if (r < 0) {
        w->reaped = 1; /* not ours any more: no kill may follow */
        return -errno;
    }
    if (si.si_pid == 0)
        return 0;
    w->reaped = 1;
    *rc = si_returncode(&si);
    return 1;
}

static void watch_destroy(struct pwatch *w)
{
    pthread_mutex_destroy(&w->mu);
    free(w);
}

static void *watch_main(void *arg)
{
    struct pwatch *w = arg;
    siginfo_t si;
    /* WNOWAIT: the child stays a zombie, so its pid stays ours until the
     * reap under MU; a kill(pid) under MU cannot reach another process */
    int r;
    while ((r = waitid(P_PID, (id_t)w->pid, &si, WEXITED | WNOWAIT)) < 0 &&
           errno == EINTR)
        ;
    pthread_mutex_lock(&w->mu);
    if (r < 0)
        w->reaped = 1; /* ECHILD: reaped by someone else, maybe reused */
    if (w->state == PW_ORPHAN) { /* freed while running: we reap it */
        int rc;
        if (!w->reaped)
            (void)watch_reap_locked(w, &rc);
        pthread_mutex_unlock(&w->mu);
        watch_destroy(w);
        atomic_fetch_sub(&orphans, 1);
        return NULL;
    }
    w->state = PW_EXITED;
    uint64_t one = 1; /* the eventfd stays readable: the loop's wake-up */
    if (write(w->efd, &one, sizeof one) < 0) {
        /* cannot fail: the counter only ever goes to 1 */
    }
    pthread_mutex_unlock(&w->mu);
    return NULL;
}

/* Watch PID with a new thread: the watch (its eventfd in ->efd), or NULL
 * with *ERR. */
static struct pwatch *watch_start(pid_t pid, int *err)
{
    struct pwatch *w = calloc(1, sizeof *w);
    if (w == NULL) {
        *err = -ENOMEM;
        return NULL;
    }
    w->pid = pid;
    w->efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    if (w->efd < 0) {
        *err = -errno;
        free(w);
        return NULL;
    }
    pthread_mutex_init(&w->mu, NULL);
    pthread_attr_t at;
    pthread_attr_init(&at);
    /* it only waits: a small stack (one per running child) */
    size_t stack = 64 * 1024;
    if (stack < (size_t)PTHREAD_STACK_MIN)
        stack = (size_t)PTHREAD_STACK_MIN;
    pthread_attr_setstacksize(&at, stack);
    /* it takes no signals: they belong to the program's threads */
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    size_t none = 0; /* the test hook may fail it (EAGAIN: no threads) */
    int e = acx__net_fault != NULL ? acx__net_fault("thread", &none) : 0;
    if (e == 0)
        e = pthread_create(&w->th, &at, watch_main, w);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    pthread_attr_destroy(&at);
    if (e != 0) {
        *err = -e;
        close(w->efd);
        watch_destroy(w);
        return NULL;
    }
    pthread_setname_np(w->th, "acxwatch");
    return w;
}

/* The owner's reap: 1 (*RC set), 0 running, -ECHILD.  The watcher is
 * joined before the reap: once the pid is free, no thread of ours waits
 * on it (a new child could get the same pid). */
static int watch_reap(struct pwatch *w, int *rc)
{
    if (!w->joined) {
        pthread_mutex_lock(&w->mu);
        int exited = w->state == PW_EXITED;
        pthread_mutex_unlock(&w->mu);
        if (!exited) {
            /* exited, and the watcher has not said so yet?  Look without
             * reaping: poll must see an exit as soon as the pidfd would */
            siginfo_t si;
            int r;
            do {
                si.si_pid = 0;
                r = waitid(P_PID, (id_t)w->pid, &si,
                           WEXITED | WNOHANG | WNOWAIT);
            } while (r < 0 && errno == EINTR);
            if (r == 0 && si.si_pid == 0)
                return 0; /* running */
        }
        /* it has exited (or is gone): the watcher's waitid returns too */
        pthread_join(w->th, NULL);
        w->joined = 1;
    }
    pthread_mutex_lock(&w->mu);
    int r = w->reaped ? -ECHILD : watch_reap_locked(w, rc);
    pthread_mutex_unlock(&w->mu);
    return r;
}

static int watch_signal(struct pwatch *w, int sig)
{
    pthread_mutex_lock(&w->mu);
    int r = w->reaped ? -ESRCH : kill(w->pid, sig) < 0 ? -errno : 0;
    pthread_mutex_unlock(&w->mu);
    return r;
}

/* The owner lets go of W's child, which may still run (SIGKILLed first
 * if KILL_IT): its watcher reaps it when it exits.  W's eventfd is the
 * caller's to close (the watcher will not touch it again). */
static void watch_orphan(struct pwatch *w, int kill_it)
{
    pthread_mutex_lock(&w->mu);
    if (kill_it && !w->reaped)
        kill(w->pid, SIGKILL);
    if (w->state == PW_RUNNING) {
        w->state = PW_ORPHAN;
        atomic_fetch_add(&orphans, 1);
        pthread_t th = w->th; /* W may be gone once unlocked */
        pthread_mutex_unlock(&w->mu);
        pthread_detach(th);
        return;
    }
    pthread_mutex_unlock(&w->mu);
    int rc; /* it exited meanwhile: reap it here */
    (void)watch_reap(w, &rc);
    watch_destroy(w);
}

/* ---- spawning ----------------------------------------------------------- */

/* The file actions for child stream TARGET per MODE/FD.  Descriptors to
 * close in the parent once spawned go to TMP[*NTMP]; a pipe's parent end
 * to *PARENT. */
static int stdio_action(posix_spawn_file_actions_t *fa, int target, int mode,
                        int fd, int *parent, int *tmp, int *ntmp)
{
    int src = -1;
    switch (mode) {
    case ACX_PROC_INHERIT:
        return 0;
    case ACX_PROC_DEVNULL:
        return -posix_spawn_file_actions_addopen(fa, target, "/dev/null",
                                                 O_RDWR, 0);
    case ACX_PROC_STDOUT:
        if (target != 2)
            return -EINVAL;
        return -posix_spawn_file_actions_adddup2(fa, 1, 2);
    case ACX_PROC_PIPE: {
        int p[2];
        if (pipe2(p, O_CLOEXEC) < 0)
            return -errno;
        int child = target == 0 ? p[0] : p[1];
        *parent = target == 0 ? p[1] : p[0];
        tmp[(*ntmp)++] = child;
        /* Only our end is non-blocking: the flag is per open file. */
        if (fcntl(*parent, F_SETFL, O_NONBLOCK) < 0)
            return -errno;
        src = child;
        break;
    }
    case ACX_PROC_FD:
        if (fd < 0)
            return -EBADF;
        src = fd;
        break;
    default:
        return -EINVAL;
    }
    /* A copy above 2, so that no dup2 onto 0..2 clobbers another source
     * (and dup2 onto itself, which keeps close-on-exec, cannot happen). */
    int hi = fcntl(src, F_DUPFD_CLOEXEC, 3);
    if (hi < 0)
        return -errno;
    tmp[(*ntmp)++] = hi;
    return -posix_spawn_file_actions_adddup2(fa, hi, target);
}

static int spawn_attrs(posix_spawnattr_t *at, unsigned flags)
{
    sigset_t none, dfl;
    sigemptyset(&none);
    sigemptyset(&dfl);
    sigaddset(&dfl, SIGPIPE);
    sigaddset(&dfl, SIGXFSZ);
    short f = POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF;
    if (flags & ACX_PROC_NEW_SESSION)
        f |= POSIX_SPAWN_SETSID;
    else if (flags & ACX_PROC_NEW_PGROUP)
        f |= POSIX_SPAWN_SETPGROUP; /* pgroup 0: its own */
    int err = posix_spawnattr_setsigmask(at, &none);
    if (!err)
        err = posix_spawnattr_setsigdefault(at, &dfl);
    if (!err)
        err = posix_spawnattr_setflags(at, f);
    return -err;
}

/* PIDFD: the pidfd, or W's eventfd, or -1 for none. */
static acx_proc *proc_new(pid_t pid, int pidfd, struct pwatch *w,
                          const int parent[3], const acx_proc_opts *o)
{
    acx_proc *p = calloc(1, sizeof *p);
    if (p == NULL)
        return NULL;
    if (pidfd >= 0)
        p->exitw = acx__fd_sock_new(pidfd);
    for (int i = 0; i < 3; i++)
        if (parent[i] >= 0)
            p->io[i] = acx__fd_sock_new(parent[i]);
    int ok = pidfd < 0 || p->exitw != NULL;
    for (int i = 0; i < 3; i++)
        ok &= parent[i] < 0 || p->io[i] != NULL;
    if (!ok) { /* the descriptors are the caller's to close */
        for (int i = 0; i < 3; i++)
            free(p->io[i]);
        free(p->exitw);
        free(p);
        return NULL;
    }
    p->pid = pid;
    p->watch = w;
    p->rc = ACX_PROC_RUNNING;
    p->flags = o->flags;
    p->limit = o->output_limit ? o->output_limit : SIZE_MAX;
    return p;
}

/* The child is ours but we cannot watch it: kill and reap it by pid (safe:
 * an unreaped child's pid cannot be reused). */
static void discard_child(pid_t pid)
{
    kill(pid, SIGKILL);
    while (waitpid(pid, NULL, 0) < 0 && errno == EINTR)
        ;
}

int acx_proc_spawn(acx_proc **out, char *const argv[],
                   const acx_proc_opts *opts)
{
    static const acx_proc_opts dflt;
    const acx_proc_opts *o = opts ? opts : &dflt;
    if (out == NULL)
        return -EINVAL;
    *out = NULL;
    if (argv == NULL || argv[0] == NULL || o->stdin_mode == ACX_PROC_STDOUT ||
        o->stdout_mode == ACX_PROC_STDOUT)
        return -EINVAL;
    posix_spawn_file_actions_t fa;
    posix_spawnattr_t at;
    if (posix_spawn_file_actions_init(&fa) != 0)
        return -ENOMEM;
    if (posix_spawnattr_init(&at) != 0) {
        posix_spawn_file_actions_destroy(&fa);
        return -ENOMEM;
    }
    int parent[3] = {-1, -1, -1}, tmp[6], ntmp = 0;
    const int modes[3] = {o->stdin_mode, o->stdout_mode, o->stderr_mode};
    const int fds[3] = {o->stdin_fd, o->stdout_fd, o->stderr_fd};
    int err = 0;
    for (int i = 0; i < 3 && !err; i++)
        err = stdio_action(&fa, i, modes[i], fds[i], &parent[i], tmp, &ntmp);
    /* close_fds=True: descriptors we inherited without close-on-exec (a
     * harness's, a library's) do not reach the child. */
    if (!err && !(o->flags & ACX_PROC_KEEP_FDS))
        err = -posix_spawn_file_actions_addclosefrom_np(&fa, 3);
    if (!err && o->cwd != NULL)
        err = -posix_spawn_file_actions_addchdir_np(&fa, o->cwd);
    if (!err)
        err = spawn_attrs(&at, o->flags);
    pid_t pid = -1;
    if (!err)
        err = -posix_spawnp(&pid, argv[0], &fa, &at, argv,
                            o->env ? o->env : environ);
    posix_spawn_file_actions_destroy(&fa);
    posix_spawnattr_destroy(&at);
    for (int i = 0; i < ntmp; i++) /* the child has its copies */
        close(tmp[i]);
    int pidfd = -1;
    struct pwatch *w = NULL;
    if (!err && (pidfd = acx__pidfd_open(pid)) == -ENOSYS) {
        /* no pidfds here: a watcher thread, its eventfd in their place */
        if ((w = watch_start(pid, &err)) == NULL)
            discard_child(pid);
        pidfd = w ? w->efd : -1;
    } else if (!err && pidfd < 0) {
        if (pidfd != -ESRCH) {
            err = pidfd;
            discard_child(pid);
        }
        pidfd = -1;
    }
    /* ESRCH: the child has exited already and the kernel reaped it
     * (SIGCHLD ignored, or SA_NOCLDWAIT): a process with no pidfd, whose
     * wait says -ECHILD.  (Its pid may be reused by now: only a pidfd
     * may be trusted, and there is none.) */
    acx_proc *p = NULL;
    if (!err && (p = proc_new(pid, pidfd, w, parent, o)) == NULL) {
        err = -ENOMEM;
        if (w != NULL) {
            watch_orphan(w, 1); /* killed; its watcher reaps it */
            close(pidfd);
        } else if (pidfd >= 0) {
            close(pidfd);
            discard_child(pid);
        }
    }
    if (err) {
        for (int i = 0; i < 3; i++)
            if (parent[i] >= 0)
                close(parent[i]);
        return err;
    }
    *out = p;
    return 0;
}

int acx_proc_spawn_shell(acx_proc **out, const char *cmd,
                         const acx_proc_opts *opts)
{
    if (cmd == NULL) {
        if (out)
            *out = NULL;
        return -EINVAL;
    }
    char *argv[] = {"/bin/sh", "-c", (char *)(uintptr_t)cmd, NULL};
    return acx_proc_spawn(out, argv, opts);
}

/* ---- accessors, signals, poll ------------------------------------------ */

pid_t acx_proc_pid(const acx_proc *p)
{
    return p ? p->pid : -1;
}

int acx_proc_pidfd(const acx_proc *p)
{
    if (p == NULL)
        return -1;
    if (p->watch != NULL)
        return -ENOSYS; /* its exitw is the watcher's eventfd */
    return acx_sock_fd(p->exitw);
}

acx_sock *acx_proc_stdin(const acx_proc *p)
{
    return p ? p->io[0] : NULL;
}

acx_sock *acx_proc_stdout(const acx_proc *p)
{
    return p ? p->io[1] : NULL;
}

acx_sock *acx_proc_stderr(const acx_proc *p)
{
    return p ? p->io[2] : NULL;
}

acx_sock *acx_proc_take(acx_proc *p, int fd)
{
    if (p == NULL || fd < 0 || fd > 2)
        return NULL;
    acx_sock *s = p->io[fd];
    p->io[fd] = NULL;
    return s;
}

static int close_stream(acx_proc *p, int i)
{
    acx_sock *s = p->io[i];
    p->io[i] = NULL;
    return acx_sock_close(s);
}

int acx_proc_close_stdin(acx_proc *p)
{
    return p ? close_stream(p, 0) : -EINVAL;
}

int acx_proc_returncode(const acx_proc *p)
{
    return p ? p->rc : ACX_PROC_RUNNING;
}

/* Reap P if its child has exited: 1 (rc set), 0 running, or -errno. */
static int proc_reap(acx_proc *p)
{
    if (p->rc != ACX_PROC_RUNNING)
        return 1;
    if (p->watch != NULL)
        return watch_reap(p->watch, &p->rc);
    if (p->exitw == NULL)
        return -ECHILD; /* reaped by the kernel before we could watch it */
    return reap_pidfd(acx_sock_fd(p->exitw), &p->rc);
}

int acx_proc_poll(acx_proc *p)
{
    if (p == NULL)
        return ACX_PROC_RUNNING;
    (void)proc_reap(p);
    return p->rc;
}

int acx_proc_send_signal(acx_proc *p, int sig)
{
    if (p == NULL || sig < 0 || sig >= NSIG)
        return -EINVAL;
    if (p->watch != NULL) /* kill(pid), ordered against the reap */
        return watch_signal(p->watch, sig);
    if (p->rc != ACX_PROC_RUNNING || p->exitw == NULL)
        return -ESRCH; /* reaped: nothing is there to signal */
    return sys_pidfd_send_signal(acx_sock_fd(p->exitw), sig) < 0 ? -errno
                                                                 : 0;
}

int acx_proc_terminate(acx_proc *p)
{
    return acx_proc_send_signal(p, SIGTERM);
}

int acx_proc_kill(acx_proc *p)
{
    return acx_proc_send_signal(p, SIGKILL);
}

void acx_proc_output_free(acx_proc_output *o)
{
    if (o == NULL)
        return;
    free(o->out);
    free(o->err);
    o->out = o->err = NULL;
    o->out_len = o->err_len = 0;
}

void acx_proc_free(acx_proc *p)
{
    if (p == NULL)
        return;
    for (int i = 0; i < 3; i++)
        close_stream(p, i);
    if (p->watch != NULL) {
        if (proc_reap(p) == 0) /* still running: its watcher reaps it */
            watch_orphan(p->watch, p->flags & ACX_PROC_KILL_ON_FREE);
        else
            watch_destroy(p->watch); /* joined by the reap */
    } else if (proc_reap(p) == 0) { /* still running */
        int fd = fcntl(acx_sock_fd(p->exitw), F_DUPFD_CLOEXEC, 3);
        if (p->flags & ACX_PROC_KILL_ON_FREE)
            sys_pidfd_send_signal(acx_sock_fd(p->exitw), SIGKILL);
        if (fd >= 0)
            reaper_adopt(fd);
        else
            discard_child(p->pid); /* no descriptor left: reap it here */
    }
    acx_sock_close(p->exitw);
    for (int i = 1; i < 3; i++)
        free(p->ob[i].data);
    free(p);
}

/* ---- await acx_proc_wait(p, &rc) --------------------------------------- */

struct pwait_frame {
    ACX__FRAME_PREFIX;
    int acx__ret;
    acx_proc *p;
    int *rc;
    acx__sockwait w;
};

/* One step of a wait on P through W: 1 done (*RET), 0 parked. */
static int wait_step(acx_proc *p, acx__sockwait *w, int first, int *ret)
{
    if (!first && w->err) { /* interrupted, or P freed: do not touch P */
        *ret = w->err;
        return 1;
    }
    int r = proc_reap(p);
    if (r == 0 && (r = acx__intr_check()) == 0 &&
        (r = acx__sock_park(p->exitw, w, ACX__IO_IN)) == 0)
        return 0;
    *ret = r == 1 ? 0 : r;
    return 1;
}

static int pwait_body(acx_coro *c)
{
    struct pwait_frame *f = (struct pwait_frame *)c;
    if (f->p == NULL) {
        f->acx__ret = -EINVAL;
        return ACX__DONE;
    }
    if (!wait_step(f->p, &f->w, f->acx__state == 0, &f->acx__ret)) {
        f->acx__state = 1;
        acx__cur_task->top = c;
        return ACX__SUSPEND;
    }
    if (f->acx__ret == 0 && f->rc != NULL)
        *f->rc = f->p->rc;
    return ACX__DONE;
}

static int pwait_cancel(acx_coro *c, int err)
{
    struct pwait_frame *f = (struct pwait_frame *)c;
    acx__sock_unpark(f->p->exitw, &f->w, err);
    f->acx__ret = err;
    return 1;
}

static int pwait_describe(const acx_coro *c, char *buf, size_t size)
{
    const struct pwait_frame *f = (const struct pwait_frame *)c;
    return snprintf(buf, size, "process %d exit", (int)f->p->pid);
}

ACX__LEAF_INFO_AS(static, pwait_info, struct pwait_frame, "acx_proc_wait",
                  pwait_body, pwait_cancel, pwait_describe);

acx_coro *acx_proc_wait(acx_proc *p, int *rc)
{
    struct pwait_frame *f =
        (struct pwait_frame *)(void *)acx__coro_alloc(sizeof *f, &pwait_info);
    if (f == NULL)
        return NULL;
    f->acx__ret = 0;
    f->p = p;
    f->rc = rc;
    memset(&f->w, 0, sizeof f->w);
    return &f->acx__hdr;
}

/* ---- communicate: three pipes at once, then the exit --------------------- */

struct comm {
    acx_proc *p;
    const char *input;
    size_t n;
    acx_proc_output *o;
    acx__sockwait w[3]; /* stdin (OUT), stdout, stderr (IN) */
    acx__sockwait xw;   /* the exit */
    int phase;          /* 0: pipes, 1: exit */
    int intr;           /* the interrupt that stopped it, or 0 */
};

#define READ_CHUNK 65536
/* Transfers per stream per step: a child that writes (or reads) as fast
 * as we read (or write) would otherwise keep the loop in this step; past
 * the budget the stream parks, and its level-triggered watch wakes it on
 * the next loop iteration, after the other tasks had their turn. */
#define STEP_BUDGET 16

static void comm_unpark_all(struct comm *m, int err)
{
    for (int i = 0; i < 3; i++)
        if (m->w[i].parked)
            acx__sock_unpark(m->p->io[i], &m->w[i], err);
    if (m->xw.parked)
        acx__sock_unpark(m->p->exitw, &m->xw, err);
}

/* Write what is left of the input: 0 done or parked, -errno. */
static int comm_write(struct comm *m)
{
    acx_proc *p = m->p;
    for (int budget = STEP_BUDGET; p->in_off < m->n; budget--) {
        ssize_t r = budget == 0 ? -EAGAIN
                                : acx__fd_write(acx_sock_fd(p->io[0]),
                                                m->input + p->in_off,
                                                m->n - p->in_off);
        if (r == -EAGAIN)
            return acx__sock_park(p->io[0], &m->w[0], ACX__IO_OUT);
        if (r == -EPIPE)
            break; /* it will not read the rest: not an error */
        if (r < 0)
            return (int)r;
        p->in_off += (size_t)r;
    }
    (void)close_stream(p, 0); /* EOF for the child */
    return 0;
}

/* Read stream I to EAGAIN (park) or EOF (close): 0, -ENOBUFS, -errno. */
static int comm_read(struct comm *m, int i)
{
    acx_proc *p = m->p;
    struct obuf *b = &p->ob[i];
    for (int budget = STEP_BUDGET;; budget--) {
        if (budget == 0)
            return acx__sock_park(p->io[i], &m->w[i], ACX__IO_IN);
        if (b->cap - b->len < READ_CHUNK + 1) {
            size_t cap = b->cap ? b->cap * 2 : READ_CHUNK * 2;
            char *d = realloc(b->data, cap);
            if (d == NULL)
                return -ENOMEM;
            b->data = d;
            b->cap = cap;
        }
        size_t want = READ_CHUNK;
        char over; /* past the limit: one byte tells there is more */
        char *dst = b->data + b->len;
        if (b->len >= p->limit) {
            dst = &over;
            want = 1;
        } else if (p->limit - b->len < want) {
            want = p->limit - b->len;
        }
        ssize_t r = acx__fd_read(acx_sock_fd(p->io[i]), dst, want);
        if (r == -EAGAIN)
            return acx__sock_park(p->io[i], &m->w[i], ACX__IO_IN);
        if (r < 0)
            return (int)r;
        if (r == 0) {
            close_stream(p, i);
            return 0;
        }
        if (dst == &over)
            return -ENOBUFS;
        b->len += (size_t)r;
    }
}

/* Hand the output over to *O (the buffers leave P). */
static void comm_output(struct comm *m)
{
    acx_proc *p = m->p;
    acx_proc_output *o = m->o;
    char **dst[3] = {NULL, &o->out, &o->err};
    size_t *len[3] = {NULL, &o->out_len, &o->err_len};
    for (int i = 1; i < 3; i++) {
        struct obuf *b = &p->ob[i];
        if (b->data != NULL)
            b->data[b->len] = '\0';
        *dst[i] = b->data;
        *len[i] = b->len;
        b->data = NULL;
        b->len = b->cap = 0;
    }
    o->returncode = p->rc;
}

/* The pipes phase: 1 all at EOF, 0 parked, -errno. */
static int comm_pipes(struct comm *m)
{
    acx_proc *p = m->p;
    int err = 0;
    if (p->io[0] != NULL && !m->w[0].parked)
        err = comm_write(m);
    for (int i = 1; i < 3 && !err; i++) {
        if (p->io[i] != NULL && !m->w[i].parked) {
            if (p->ob[i].data == NULL && (p->ob[i].data = malloc(1)) == NULL)
                err = -ENOMEM;
            else
                err = comm_read(m, i);
        }
    }
    if (err)
        return err;
    for (int i = 0; i < 3; i++)
        if (m->w[i].parked)
            return 0;
    return 1;
}

/* Run communicate on: ACX__SUSPEND parked, else ACX__DONE with *RET. */
static int comm_step(acx_coro *c, struct comm *m, int *ret)
{
    int first = ACX__STATE(c) == 0;
    if (first && (m->p == NULL || m->o == NULL)) {
        *ret = -EINVAL;
        return ACX__DONE;
    }
    if (first)
        memset(m->o, 0, sizeof *m->o);
    if (!first) {
        for (int i = 0; i < 3; i++)
            if (m->w[i].err && !m->intr) /* a pipe closed under us */
                m->intr = m->w[i].err;
        if (m->xw.err && !m->intr)
            m->intr = m->xw.err;
        if (m->intr) {
            comm_unpark_all(m, m->intr);
            *ret = m->intr;
            return ACX__DONE;
        }
    }
    int r = 0;
    if (m->phase == 0) {
        r = comm_pipes(m);
        if (r == 1)
            m->phase = 1;
    }
    if (m->phase == 1) {
        if (!wait_step(m->p, &m->xw, 1, &r))
            r = 0; /* parked on the exit */
        else if (r == 0)
            r = 2; /* exited */
    }
    if (r == 0 && (r = acx__intr_check()) == 0) {
        ACX__STATE(c) = 1;
        acx__cur_task->top = c;
        return ACX__SUSPEND;
    }
    comm_unpark_all(m, r < 0 ? r : 0);
    if (r == 2 || r == -ENOBUFS)
        comm_output(m);
    *ret = r == 2 ? 0 : r;
    return ACX__DONE;
}

static void comm_cancel(struct comm *m, int err)
{
    m->intr = err;
    comm_unpark_all(m, err);
}

static int comm_describe(const struct comm *m, char *buf, size_t size)
{
    return snprintf(buf, size, "process %d %s", m->p ? (int)m->p->pid : -1,
                    m->phase == 0 ? "pipes" : "exit");
}

struct comm_frame {
    ACX__FRAME_PREFIX;
    int acx__ret;
    struct comm m;
};

static int comm_body(acx_coro *c)
{
    struct comm_frame *f = (struct comm_frame *)c;
    return comm_step(c, &f->m, &f->acx__ret);
}

static int comm_cancel_m(acx_coro *c, int err)
{
    struct comm_frame *f = (struct comm_frame *)c;
    comm_cancel(&f->m, err);
    f->acx__ret = err;
    return 1;
}

static int comm_describe_m(const acx_coro *c, char *buf, size_t size)
{
    return comm_describe(&((const struct comm_frame *)c)->m, buf, size);
}

ACX__LEAF_INFO_AS(static, comm_info, struct comm_frame,
                  "acx_proc_communicate", comm_body, comm_cancel_m,
                  comm_describe_m);

static void comm_init(struct comm *m, acx_proc *p, const void *input,
                      size_t n, acx_proc_output *o)
{
    memset(m, 0, sizeof *m);
    m->p = p;
    m->input = input;
    m->n = input ? n : 0;
    m->o = o;
}

acx_coro *acx_proc_communicate(acx_proc *p, const void *input, size_t n,
                               acx_proc_output *o)
{
    struct comm_frame *f =
        (struct comm_frame *)(void *)acx__coro_alloc(sizeof *f, &comm_info);
    if (f == NULL)
        return NULL;
    f->acx__ret = 0;
    comm_init(&f->m, p, input, n, o);
    return &f->acx__hdr;
}

/* ---- run: spawn, communicate, free --------------------------------------- */

struct run_frame {
    ACX__FRAME_PREFIX;
    int acx__ret;
    char *const *argv;
    const acx_proc_opts *opts;
    struct comm m;
};

/* Done with R: the process goes; killed first unless it exited. */
static int run_finish(struct run_frame *f, int r)
{
    acx_proc *p = f->m.p;
    if (r != 0) {
        if (p != NULL && proc_reap(p) == 0)
            acx_proc_kill(p);
        acx_proc_output_free(f->m.o);
    }
    acx_proc_free(p);
    f->m.p = NULL;
    f->acx__ret = r;
    return ACX__DONE;
}

static int run_body(acx_coro *c)
{
    struct run_frame *f = (struct run_frame *)c;
    if (f->acx__state == 0) {
        if (f->m.o == NULL)
            return run_finish(f, -EINVAL);
        memset(f->m.o, 0, sizeof *f->m.o);
        acx_proc_opts o = {0};
        if (f->opts != NULL)
            o = *f->opts;
        if (f->m.input != NULL && o.stdin_mode == ACX_PROC_INHERIT)
            o.stdin_mode = ACX_PROC_PIPE;
        int err = acx_proc_spawn(&f->m.p, f->argv, &o);
        if (err)
            return run_finish(f, err);
    }
    int r;
    if (comm_step(c, &f->m, &r) == ACX__SUSPEND)
        return ACX__SUSPEND;
    return run_finish(f, r);
}

static int run_cancel(acx_coro *c, int err)
{
    struct run_frame *f = (struct run_frame *)c;
    comm_cancel(&f->m, err);
    f->acx__ret = err;
    return 1;
}

static int run_describe(const acx_coro *c, char *buf, size_t size)
{
    return comm_describe(&((const struct run_frame *)c)->m, buf, size);
}

ACX__LEAF_INFO_AS(static, run_info, struct run_frame, "acx_proc_run",
                  run_body, run_cancel, run_describe);

acx_coro *acx_proc_run(char *const *argv, const acx_proc_opts *opts,
                       const void *input, size_t n, acx_proc_output *o)
{
    struct run_frame *f =
        (struct run_frame *)(void *)acx__coro_alloc(sizeof *f, &run_info);
    if (f == NULL)
        return NULL;
    f->acx__ret = 0;
    f->argv = argv;
    f->opts = opts;
    comm_init(&f->m, NULL, input, n, o);
    return &f->acx__hdr;
}
