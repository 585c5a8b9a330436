/* zygote.c - where process pool workers come from.
 *
 * fork() in a threaded process copies one thread and every lock the
 * others held, locked.  So the pool never forks from the caller: the
 * zygote, a single-threaded helper started once, forks a forkserver per
 * pool, and the forkserver forks that pool's workers and reaps them.
 *
 * The zygote is forked from this process when that is safe (one thread:
 * acx_procpool_zygote_start from main, or the first pool of a still
 * single-threaded program); otherwise this program is re-executed
 * (posix_spawn copies no lock) with ACX_ZYGOTE_ENV set, and a constructor
 * below turns the new process into the zygote before main.  The zygote
 * keeps only fds 0-2 and its socket, and exits at EOF on it (this process
 * closed it or died).  A forkserver kills its workers and exits at EOF
 * on its session (its pool was freed); workers die with their forkserver
 * (PR_SET_PDEATHSIG), so nothing outlives the program.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdio_ext.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "acx_internal.h"
#include "procwire.h"

#define ACX_ZYGOTE_ENV "ACX_PROCPOOL_ZYGOTE_FD"
#define ZYGOTE_FD 3 /* where a re-executed zygote finds its socket */

extern char **environ;

static pthread_mutex_t zmu = PTHREAD_MUTEX_INITIALIZER;
static int zfd = -1;    /* our end of the zygote's socket */
static pid_t zpid;
static int zmethod;     /* 0, 1 forked, 2 re-executed */

/* ---- fd passing ------------------------------------------------------------ */

int acx__send_fd(int s, const void *msg, size_t len, int fd)
{
    struct iovec iov = {(void *)msg, len};
    union {
        char buf[CMSG_SPACE(sizeof(int))];
        struct cmsghdr align;
    } u;
    memset(&u, 0, sizeof u); /* the padding goes out too */
    struct msghdr mh = {.msg_iov = &iov, .msg_iovlen = 1};
    if (fd >= 0) {
        mh.msg_control = u.buf;
        mh.msg_controllen = sizeof u.buf;
        struct cmsghdr *c = CMSG_FIRSTHDR(&mh);
        c->cmsg_level = SOL_SOCKET;
        c->cmsg_type = SCM_RIGHTS;
        c->cmsg_len = CMSG_LEN(sizeof(int));
        memcpy(CMSG_DATA(c), &fd, sizeof fd);
    }
    ssize_t r;
    do
        r = sendmsg(s, &mh, MSG_NOSIGNAL);
    while (r < 0 && errno == EINTR);
    return r < 0 ? -errno : 0;
}

ssize_t acx__recv_fd(int s, void *msg, size_t len, int *fd)
{
    struct iovec iov = {msg, len};
    union {
        char buf[CMSG_SPACE(sizeof(int))];
        struct cmsghdr align;
    } u;
    struct msghdr mh = {.msg_iov = &iov, .msg_iovlen = 1,
                        .msg_control = u.buf,
                        .msg_controllen = sizeof u.buf};
    *fd = -1;
    ssize_t r;
    do
        r = recvmsg(s, &mh, MSG_CMSG_CLOEXEC);
    while (r < 0 && errno == EINTR);
    if (r < 0)
        return -errno;
    for (struct cmsghdr *c = CMSG_FIRSTHDR(&mh); c != NULL;
         c = CMSG_NXTHDR(&mh, c))
        if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS)
            memcpy(fd, CMSG_DATA(c), sizeof *fd);
    return r;
}

/* ---- the forkserver: one per pool ------------------------------------------ */

struct fs_child {
    pid_t pid;
    uint32_t id;
};

static void fs_spawn(int s, int sfd, const struct acx__fs_msg *m, int wfd,
                     struct fs_child **kids, size_t *nkids, size_t *cap)
{
    struct acx__fs_msg rep = {.id = m->id};
    pid_t me = getpid();
    if (*nkids == *cap) {
        size_t c = *cap ? *cap * 2 : 16;
        struct fs_child *k = realloc(*kids, c * sizeof *k);
        if (k == NULL) {
            rep.type = ACX__FS_SPAWN_FAILED;
            rep.val = ENOMEM;
            close(wfd);
            acx__send_fd(s, &rep, sizeof rep, -1);
            return;
        }
        *kids = k;
        *cap = c;
    }
    pid_t pid = fork();
    if (pid == 0) {
        sigset_t all;
        sigemptyset(&all);
        sigprocmask(SIG_SETMASK, &all, NULL);
        close(s);
        close(sfd);
        free(*kids); /* the forkserver's, not ours */
        *kids = NULL;
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        if (getppid() != me)
            _exit(1); /* the forkserver died before PDEATHSIG was set */
        char name[sizeof m->name + 1];
        memcpy(name, m->name, sizeof m->name);
        name[sizeof m->name] = '\0';
        prctl(PR_SET_NAME, name);
        int rc = acx__procworker_run(wfd);
        fflush(stdout);
        fflush(stderr);
        _exit(rc);
    }
    close(wfd);
    if (pid < 0) {
        rep.type = ACX__FS_SPAWN_FAILED;
        rep.val = errno;
        acx__send_fd(s, &rep, sizeof rep, -1);
        return;
    }
    (*kids)[(*nkids)++] = (struct fs_child){pid, m->id};
    rep.type = ACX__FS_SPAWNED;
    rep.pid = pid;
    /* A pidfd lets the parent kill this worker with no pid-reuse race:
     * we reap it, so until then it cannot be reused.  Without pidfds
     * (before Linux 5.3, valgrind) the parent asks us (ACX__FS_KILL). */
    int pfd = acx__pidfd_open(pid);
    acx__send_fd(s, &rep, sizeof rep, pfd);
    if (pfd >= 0)
        close(pfd);
}

/* The parent's ACX__FS_KILL: the worker is still in KIDS only while not
 * reaped (we are the one thread that reaps), so its pid is its own. */
static void fs_kill(const struct acx__fs_msg *m, const struct fs_child *kids,
                    size_t nkids)
{
    for (size_t i = 0; i < nkids; i++)
        if (kids[i].id == m->id && (m->pid == 0 || kids[i].pid == m->pid))
            kill(kids[i].pid, SIGKILL);
}

static void fs_reap(int s, struct fs_child *kids, size_t *nkids)
{
    int st;
    pid_t pid;
    while ((pid = waitpid(-1, &st, WNOHANG)) > 0) {
        for (size_t i = 0; i < *nkids; i++) {
            if (kids[i].pid != pid)
                continue;
            struct acx__fs_msg rep = {.type = ACX__FS_EXITED,
                                      .id = kids[i].id, .pid = pid,
                                      .val = st};
            acx__send_fd(s, &rep, sizeof rep, -1);
            kids[i] = kids[--*nkids];
            break;
        }
    }
}

static void forkserver_main(int s)
{
    sigset_t chld;
    sigemptyset(&chld);
    sigaddset(&chld, SIGCHLD);
    sigprocmask(SIG_BLOCK, &chld, NULL);
    signal(SIGCHLD, SIG_DFL);
    int sfd = signalfd(-1, &chld, SFD_CLOEXEC | SFD_NONBLOCK);
    struct acx__fs_msg ready = {.type = ACX__FS_READY,
                                .val = sfd < 0 ? errno : 0};
    acx__send_fd(s, &ready, sizeof ready, -1);
    if (sfd < 0)
        _exit(1);
    struct fs_child *kids = NULL;
    size_t nkids = 0, cap = 0;
    for (;;) {
        struct pollfd pf[2] = {{s, POLLIN, 0}, {sfd, POLLIN, 0}};
        if (poll(pf, 2, -1) < 0) {
            if (errno == EINTR)
                continue;
            break;
        }
        if (pf[1].revents) {
            struct signalfd_siginfo si;
            while (read(sfd, &si, sizeof si) > 0) {
            }
            fs_reap(s, kids, &nkids);
        }
        if (pf[0].revents == 0)
            continue;
        struct acx__fs_msg m;
        int wfd;
        ssize_t r = acx__recv_fd(s, &m, sizeof m, &wfd);
        if (r <= 0)
            break; /* the pool is gone */
        if (r == sizeof m && m.type == ACX__FS_SPAWN && wfd >= 0)
            fs_spawn(s, sfd, &m, wfd, &kids, &nkids, &cap);
        else if (wfd >= 0)
            close(wfd);
        else if (r == sizeof m && m.type == ACX__FS_KILL)
            fs_kill(&m, kids, nkids);
    }
    for (size_t i = 0; i < nkids; i++)
        kill(kids[i].pid, SIGKILL);
    for (size_t i = 0; i < nkids; i++)
        while (waitpid(kids[i].pid, NULL, 0) < 0 && errno == EINTR) {
        }
    free(kids);
    _exit(0);
}

/* ---- the zygote ------------------------------------------------------------- */

static void close_others(int keep)
{
    if (keep > 3)
        syscall(SYS_close_range, 3u, (unsigned)keep - 1, 0u);
    syscall(SYS_close_range, (unsigned)keep + 1, ~0u, 0u);
}

static void zygote_main(int s)
{
    /* Output the program had buffered is its to write, not ours. */
    __fpurge(stdout);
    __fpurge(stderr);
    close_others(s);
    /* made from inside acx_run perhaps: workers start with no loop */
    acx__loop_cur = NULL;
    acx__cur_task = NULL;
    /* forked under ZMU: a worker that makes a pool of its own starts its
     * own zygote, with the lock free */
    pthread_mutex_t fresh = PTHREAD_MUTEX_INITIALIZER;
    memcpy(&zmu, &fresh, sizeof zmu);
    zfd = -1;
    zmethod = 0;
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, NULL);
    /* The program's handlers expect its threads and fds (the loop's
     * self-pipe...): workers start with default actions; ignored
     * signals stay ignored. */
    for (int sig = 1; sig < NSIG; sig++) {
        struct sigaction sa;
        if (sigaction(sig, NULL, &sa) == 0 && sa.sa_handler != SIG_IGN &&
            sa.sa_handler != SIG_DFL)
            signal(sig, SIG_DFL);
    }
    signal(SIGCHLD, SIG_IGN); /* forkservers are reaped by the kernel */
    signal(SIGPIPE, SIG_IGN);
    for (;;) {
        char c;
        int sess;
        ssize_t r = acx__recv_fd(s, &c, 1, &sess);
        if (r <= 0 && r != -EINTR)
            _exit(0);
        if (sess < 0)
            continue;
        pid_t pid = fork();
        if (pid == 0) {
            close(s);
            signal(SIGPIPE, SIG_DFL);
            forkserver_main(sess);
        }
        if (pid < 0) { /* the pool waits for a word: tell it why */
            struct acx__fs_msg m = {.type = ACX__FS_READY, .val = errno};
            acx__send_fd(sess, &m, sizeof m, -1);
        }
        close(sess);
    }
}

/* A re-executed zygote becomes one here, before main. */
__attribute__((constructor)) static void zygote_ctor(void)
{
    const char *e = getenv(ACX_ZYGOTE_ENV);
    if (e == NULL || atoi(e) != ZYGOTE_FD)
        return;
    unsetenv(ACX_ZYGOTE_ENV);
    /* only with the socket we pass: a stray variable must not turn a
     * program into a zygote */
    int type = 0;
    socklen_t len = sizeof type;
    if (getsockopt(ZYGOTE_FD, SOL_SOCKET, SO_TYPE, &type, &len) < 0 ||
        type != SOCK_SEQPACKET)
        return;
    zygote_main(ZYGOTE_FD);
}

static int threads_running(void)
{
    DIR *d = opendir("/proc/self/task");
    if (d == NULL)
        return 1; /* cannot tell: assume the worst */
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL)
        if (e->d_name[0] != '.')
            n++;
    closedir(d);
    return n > 1;
}

static int zygote_fork(int sv[2])
{
    pid_t pid = fork();
    if (pid < 0)
        return -errno;
    if (pid == 0) {
        close(sv[0]);
        zygote_main(sv[1]);
    }
    zpid = pid;
    zmethod = 1;
    return 0;
}

static int zygote_exec(int sv[2])
{
    char exe[4096];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (n <= 0)
        return -ENOENT;
    exe[n] = '\0';
    size_t ne = 0;
    while (environ[ne] != NULL)
        ne++;
    char **env = malloc((ne + 2) * sizeof *env);
    if (env == NULL)
        return -ENOMEM;
    size_t k = 0;
    for (size_t i = 0; i < ne; i++)
        if (strncmp(environ[i], ACX_ZYGOTE_ENV "=",
                    sizeof ACX_ZYGOTE_ENV) != 0)
            env[k++] = environ[i];
    char var[64];
    snprintf(var, sizeof var, "%s=%d", ACX_ZYGOTE_ENV, ZYGOTE_FD);
    env[k++] = var;
    env[k] = NULL;
    posix_spawn_file_actions_t fa;
    posix_spawnattr_t at;
    posix_spawn_file_actions_init(&fa);
    posix_spawnattr_init(&at);
    posix_spawn_file_actions_adddup2(&fa, sv[1], ZYGOTE_FD);
    sigset_t none;
    sigemptyset(&none);
    posix_spawnattr_setsigmask(&at, &none);
    posix_spawnattr_setflags(&at, POSIX_SPAWN_SETSIGMASK);
    char *argv[] = {"acx-zygote", NULL};
    pid_t pid;
    int err = posix_spawn(&pid, exe, &fa, &at, argv, env);
    posix_spawn_file_actions_destroy(&fa);
    posix_spawnattr_destroy(&at);
    free(env);
    if (err != 0)
        return -err;
    zpid = pid;
    zmethod = 2;
    return 0;
}

/* Under ZMU.  Start the zygote: forked if we are single-threaded, else
 * re-executed. */
static int zygote_start_locked(void)
{
    if (zfd >= 0)
        return 0;
    int sv[2];
    if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0)
        return -errno;
    if (sv[1] == ZYGOTE_FD) {
        int d = fcntl(sv[1], F_DUPFD_CLOEXEC, ZYGOTE_FD + 1);
        close(sv[1]);
        if (d < 0) {
            close(sv[0]);
            return -errno;
        }
        sv[1] = d;
    }
    int err = threads_running() ? zygote_exec(sv) : zygote_fork(sv);
    close(sv[1]);
    if (err < 0) {
        close(sv[0]);
        return err;
    }
    zfd = sv[0];
    return 0;
}

static void zygote_stop_locked(void)
{
    if (zfd < 0)
        return;
    close(zfd);
    zfd = -1;
    while (waitpid(zpid, NULL, 0) < 0 && errno == EINTR) {
    }
    zmethod = 0;
}

int acx_procpool_zygote_start(void)
{
    pthread_mutex_lock(&zmu);
    int err = zygote_start_locked();
    pthread_mutex_unlock(&zmu);
    return err;
}

void acx_procpool_zygote_stop(void)
{
    pthread_mutex_lock(&zmu);
    zygote_stop_locked();
    pthread_mutex_unlock(&zmu);
}

int acx_procpool_zygote_method(void)
{
    pthread_mutex_lock(&zmu);
    int m = zmethod;
    pthread_mutex_unlock(&zmu);
    return m;
}

/* Under ZMU.  Hand the zygote the session SV[1] (closed here: from now
 * on only the forkserver holds it, so its death is our EOF) and wait for
 * the first word on SV[0]: 0 (a forkserver runs on it), the errno the
 * zygote's fork failed with (negated), or -EPIPE when the zygote is gone
 * (dead before or while it read the request). */
static int session_open_locked(int sv[2])
{
    int err = acx__send_fd(zfd, "s", 1, sv[1]);
    close(sv[1]);
    sv[1] = -1;
    if (err < 0)
        return err == -ECONNRESET ? -EPIPE : err;
    struct acx__fs_msg m;
    int fd;
    ssize_t r = acx__recv_fd(sv[0], &m, sizeof m, &fd);
    if (fd >= 0)
        close(fd);
    if (r == (ssize_t)sizeof m && m.type == ACX__FS_READY)
        return m.val > 0 ? -m.val : 0;
    return r < 0 && r != -ECONNRESET ? (int)r : -EPIPE;
}

int acx__zygote_session(void)
{
    pthread_mutex_lock(&zmu);
    int err = 0, sv[2] = {-1, -1};
    for (int attempt = 0; attempt < 2; attempt++) {
        err = zygote_start_locked();
        if (err < 0)
            break;
        if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0) {
            err = -errno;
            break;
        }
        err = session_open_locked(sv);
        if (err != -EPIPE)
            break;
        close(sv[0]);
        sv[0] = -1;
        zygote_stop_locked(); /* it died: reap it, start another */
    }
    pthread_mutex_unlock(&zmu);
    if (err < 0) {
        if (sv[0] >= 0)
            close(sv[0]);
        return err;
    }
    return sv[0];
}
