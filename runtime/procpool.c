/* procpool.c - the process pool executor, the parent's side
 * (concurrent.futures.ProcessPoolExecutor).
 *
 * One mutex guards the queue and the worker slots.  Each worker has one
 * non-blocking stream socket to us and runs one request at a time, so a
 * worker's death fails exactly the task it was running.  A submit that
 * finds an idle worker writes the request itself (no thread hop); a
 * manager thread per pool waits in epoll for replies, for the rest of
 * long writes, and for the forkserver's reports (worker started, worker
 * exited with a wait status), and hands queued work to workers as they
 * free up.  Futures are completed outside the mutex: their callbacks may
 * submit again.
 *
 * A worker's slot is freed only when its forkserver reports it reaped:
 * a reply still in its socket is read first, then a task it was running
 * fails with -EOWNERDEAD and the wait status as the reason.
 *
 * Workers are killed through the pidfd the forkserver sends with each.
 * Without one (Linux before 5.3, valgrind) we never kill(pid): the
 * forkserver may have reaped the worker, and the pid be someone else's,
 * before its report reaches us.  The forkserver, which alone reaps, kills
 * it for us (ACX__FS_KILL).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "acx_internal.h"
#include "procwire.h"

#define TAG_EV UINT64_MAX
#define TAG_FS (UINT64_MAX - 1)

struct ptask {
    struct ptask *next;
    acx_future *f; /* NULL: a worker's initializer */
    char *msg;     /* a struct acx__pw_req, then the payload */
    size_t len;    /* of MSG */
    int status;    /* once finished */
    struct acx__proc_result *res;
};

enum { W_FREE, W_LIVE };

struct pworker {
    int st;
    int fd, pidfd;
    pid_t pid;      /* 0 until the forkserver reports it started */
    int inited;     /* its initializer replied (or there is none) */
    int closing;    /* no more work: its socket is shut for writing */
    int eof, out_armed;
    int kill_pending; /* no pidfd: a KILL for the forkserver not sent yet */
    unsigned ntasks;
    int64_t t_sent; /* when CUR was handed to it (CLOCK_MONOTONIC ns) */
    struct ptask *cur;
    size_t sent;    /* bytes of CUR's request written */
    struct acx__pw_rd rd; /* the reply being read */
};

struct acx_procpool {
    pthread_mutex_t mu;
    pthread_cond_t done_cv;
    int ep, evfd, fs;
    int fs_out; /* EPOLLOUT armed on FS: KILL messages wait to be sent */
    struct ptask *qhead, **qtail;
    size_t queued;
    struct pworker *w;
    int nslots, max, seq;
    int shutdown, terminating, broken, mgr_done, joined;
    /* A worker could not be forked while others live: start no more
     * until one of those finishes a task or exits (then try again), so
     * that a fork failing for good (EAGAIN: RLIMIT_NPROC) is not retried
     * in a loop; the queued work runs on the workers there are. */
    int spawn_held;
    int spawn_failing; /* the last answer was SPAWN_FAILED: probe with one
                        * spawn at a time until one works */
    int self_free; /* freed from a done callback: the manager frees it */
    pthread_t mgr;
    acx_procpool_opts o;
    char prefix[16];
    void *initarg;
    uint32_t init_mod;
    uint64_t init_off;
    int64_t task_ns; /* a task's recent time, dispatch to reply (average) */
};

static int64_t mono_ns(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (int64_t)t.tv_sec * 1000000000 + t.tv_nsec;
}

static void task_free(struct ptask *t)
{
    if (t == NULL)
        return;
    if (t->res != NULL)
        acx__proc_result_free(t->res);
    acx_future_unref(t->f);
    free(t->msg);
    free(t);
}

void acx__proc_result_free(void *r)
{
    struct acx__proc_result *pr = r;
    if (pr == NULL)
        return;
    free(pr->buf.data);
    free(pr);
}

static struct acx__proc_result *result_new(void)
{
    struct acx__proc_result *r = calloc(1, sizeof *r);
    if (r != NULL)
        r->magic = ACX__PROC_MAGIC;
    return r;
}

/* Complete every finished task and free it (no lock held). */
static void finish_all(struct ptask *fin)
{
    while (fin != NULL) {
        struct ptask *n = fin->next;
        if (fin->f != NULL &&
            acx__future_complete_owned(fin->f, fin->status, fin->res,
                                       acx__proc_result_free) == 0)
            fin->res = NULL; /* the future owns it now */
        task_free(fin);
        fin = n;
    }
}

static void fin_push(struct ptask **fin, struct ptask *t, int status)
{
    t->status = status;
    t->next = *fin;
    *fin = t;
}

/* ---- the queue (under MU) ------------------------------------------------ */

static void queue_push(acx_procpool *p, struct ptask *t)
{
    t->next = NULL;
    *p->qtail = t;
    p->qtail = &t->next;
    p->queued++;
}

static struct ptask *queue_pop(acx_procpool *p)
{
    struct ptask *t = p->qhead;
    if (t != NULL) {
        p->qhead = t->next;
        if (p->qhead == NULL)
            p->qtail = &p->qhead;
        p->queued--;
    }
    return t;
}

/* Take every queued task out (to cancel or fail them unlocked). */
static struct ptask *queue_take_all(acx_procpool *p)
{
    struct ptask *all = p->qhead;
    p->qhead = NULL;
    p->qtail = &p->qhead;
    p->queued = 0;
    return all;
}

/* ---- workers (under MU) -------------------------------------------------- */

static void arm_out(acx_procpool *p, struct pworker *w, int on)
{
    if (w->out_armed == on || w->eof)
        return;
    struct epoll_event ev = {.events = EPOLLIN | (on ? EPOLLOUT : 0),
                             .data.u64 = (uint64_t)(w - p->w)};
    epoll_ctl(p->ep, EPOLL_CTL_MOD, w->fd, &ev);
    w->out_armed = on;
}

/* The test hook (acx__procpool_fault) on CALL: 0, or the errno to fail
 * with.  Loaded atomically: a test may set it while a manager runs. */
static int pp_fault(const char *call, size_t *n)
{
    int (*fault)(const char *, size_t *) =
        __atomic_load_n(&acx__procpool_fault, __ATOMIC_ACQUIRE);
    return fault != NULL ? fault(call, n) : 0;
}

/* The socket calls, through the test hook. */
static ssize_t pp_send(int fd, const void *b, size_t n)
{
    int e = pp_fault("send", &n);
    if (e != 0) {
        errno = e;
        return -1;
    }
    return send(fd, b, n, MSG_NOSIGNAL | MSG_DONTWAIT);
}

static ssize_t pp_recv(int fd, void *b, size_t n)
{
    int e = pp_fault("recv", &n);
    if (e != 0) {
        errno = e;
        return -1;
    }
    return recv(fd, b, n, MSG_DONTWAIT);
}

/* Write what can be written of the current request now. */
static void write_some(acx_procpool *p, struct pworker *w)
{
    struct ptask *t = w->cur;
    while (t != NULL && w->sent < t->len) {
        ssize_t n = pp_send(w->fd, t->msg + w->sent, t->len - w->sent);
        if (n > 0) {
            w->sent += (size_t)n;
        } else if (errno == EAGAIN) {
            arm_out(p, w, 1);
            return;
        } else if (errno != EINTR) {
            w->sent = t->len; /* dead: its exit report fails the task */
        }
    }
    arm_out(p, w, 0);
}

static void close_worker(struct pworker *w)
{
    if (!w->closing) {
        w->closing = 1;
        shutdown(w->fd, SHUT_WR); /* EOF: the worker exits when idle */
    }
}

static int worker_ready(const struct pworker *w)
{
    return w->st == W_LIVE && w->pid > 0 && w->inited && !w->closing &&
           w->cur == NULL;
}

/* Hand queued work to ready workers. */
static void dispatch(acx_procpool *p)
{
    for (int i = 0; i < p->nslots && p->queued > 0; i++) {
        struct pworker *w = &p->w[i];
        while (worker_ready(w) && p->queued > 0) {
            struct ptask *t = queue_pop(p);
            if (acx__future_start(t->f) != 0) {
                task_free(t); /* cancelled while queued */
                continue;
            }
            w->cur = t;
            w->sent = 0;
            w->ntasks++;
            w->t_sent = mono_ns();
            write_some(p, w);
        }
    }
}

static struct ptask *init_task(acx_procpool *p)
{
    struct ptask *t = calloc(1, sizeof *t);
    size_t n = p->o.initarg_len;
    if (t == NULL || (t->msg = malloc(sizeof(struct acx__pw_req) + n)) ==
                         NULL) {
        free(t);
        return NULL;
    }
    struct acx__pw_req rq = {.kind = ACX__PW_INIT, .mod = p->init_mod,
                             .off = p->init_off, .len = n};
    memcpy(t->msg, &rq, sizeof rq);
    if (n > 0)
        memcpy(t->msg + sizeof rq, p->initarg, n);
    t->len = sizeof rq + n;
    return t;
}

/* Ask the forkserver for a worker in slot W. */
static int spawn_one(acx_procpool *p, struct pworker *w)
{
    struct ptask *init = NULL;
    if (p->o.initializer != NULL && (init = init_task(p)) == NULL)
        return -ENOMEM; /* never a worker without its initializer */
    int sv[2];
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0) {
        task_free(init);
        return -errno;
    }
    /* ours never blocks (the manager multiplexes); the worker's does */
    fcntl(sv[0], F_SETFL, fcntl(sv[0], F_GETFL) | O_NONBLOCK);
    struct acx__fs_msg m = {.type = ACX__FS_SPAWN,
                            .id = (uint32_t)(w - p->w)};
    char name[48];
    snprintf(name, sizeof name, "%s_%d", p->prefix, ++p->seq);
    /* the kernel keeps 15 bytes of a process name */
    memcpy(m.name, name, strnlen(name, sizeof m.name - 1));
    int err = acx__send_fd(p->fs, &m, sizeof m, sv[1]);
    close(sv[1]);
    struct epoll_event ev = {.events = EPOLLIN,
                             .data.u64 = (uint64_t)(w - p->w)};
    if (err == 0 && epoll_ctl(p->ep, EPOLL_CTL_ADD, sv[0], &ev) < 0)
        err = -errno;
    if (err < 0) {
        close(sv[0]);
        task_free(init);
        return err;
    }
    memset(w, 0, sizeof *w);
    w->st = W_LIVE;
    acx__pw_rd_init(&w->rd, ACX__PW_LEN_MAX);
    w->fd = sv[0];
    w->pidfd = -1;
    w->inited = init == NULL;
    w->cur = init; /* its first request, written before it even runs */
    write_some(p, w);
    return 0;
}

static int live_count(const acx_procpool *p);
static void fail_queue(acx_procpool *p, int err, struct ptask **fin);

/* Start workers while work waits for one, up to max_workers.  When none
 * can be started and none is left, the queued tasks fail with the reason
 * (EMFILE, EAGAIN...) rather than wait forever; later submits try
 * again. */
static void spawn_needed(acx_procpool *p, struct ptask **fin)
{
    /* after a shutdown too: queued work still runs, and a worker that
     * crashed or was recycled meanwhile needs a successor */
    if (p->terminating || p->broken || p->spawn_held)
        return;
    size_t avail = 0;
    int active = 0, free_slot = -1, pending = 0;
    for (int i = 0; i < p->nslots; i++) {
        struct pworker *w = &p->w[i];
        if (w->st == W_FREE) {
            if (free_slot < 0)
                free_slot = i;
            continue;
        }
        pending += w->pid == 0;
        if (w->closing)
            continue;
        active++;
        if (w->cur == NULL || w->cur->f == NULL)
            avail++;
    }
    if (p->spawn_failing && pending > 0)
        return; /* one probe at a time: wait for its answer */
    while (p->queued > avail && active < p->max && free_slot >= 0) {
        int err = spawn_one(p, &p->w[free_slot]);
        if (err < 0) {
            if (live_count(p) == 0)
                fail_queue(p, err, fin);
            return;
        }
        if (p->spawn_failing)
            return;
        active++;
        avail++;
        int next = -1;
        for (int i = free_slot + 1; i < p->nslots && next < 0; i++)
            if (p->w[i].st == W_FREE)
                next = i;
        free_slot = next;
    }
}

static int live_count(const acx_procpool *p)
{
    int n = 0;
    for (int i = 0; i < p->nslots; i++)
        n += p->w[i].st != W_FREE;
    return n;
}

/* Fail every queued task with ERR. */
static void fail_queue(acx_procpool *p, int err, struct ptask **fin)
{
    struct ptask *t = queue_take_all(p);
    while (t != NULL) {
        struct ptask *n = t->next;
        fin_push(fin, t, err);
        t = n;
    }
}

/* The same, and refuse more. */
static void break_pool(acx_procpool *p, int err, struct ptask **fin)
{
    if (!p->broken)
        p->broken = err;
    fail_queue(p, err, fin);
}

/* ---- killing a worker (under MU) ------------------------------------------- */

static void fs_arm_out(acx_procpool *p, int on)
{
    if (p->fs_out == on)
        return;
    struct epoll_event ev = {.events = EPOLLIN | (on ? EPOLLOUT : 0),
                             .data.u64 = TAG_FS};
    epoll_ctl(p->ep, EPOLL_CTL_MOD, p->fs, &ev);
    p->fs_out = on;
}

/* One KILL to the forkserver, through the test hook ("kill"). */
static int fs_send_kill(acx_procpool *p, const struct acx__fs_msg *m)
{
    size_t n = sizeof *m;
    int e = pp_fault("kill", &n);
    if (e != 0)
        return -e;
    return acx__send_fd(p->fs, m, sizeof *m, -1);
}

/* Send the forkserver the KILLs not sent yet.  A full socket (EAGAIN)
 * leaves the rest for the manager when it is writable: no thread may
 * block under MU (the forkserver may be blocked writing to us). */
static void send_kills(acx_procpool *p)
{
    int pending = 0;
    for (int i = 0; i < p->nslots && !pending; i++) {
        struct pworker *w = &p->w[i];
        if (w->st == W_FREE || !w->kill_pending)
            continue;
        struct acx__fs_msg m = {.type = ACX__FS_KILL, .id = (uint32_t)i,
                                .pid = w->pid};
        int r = fs_send_kill(p, &m);
        if (r == -EAGAIN || r == -EINTR)
            pending = 1;
        else
            w->kill_pending = 0; /* sent, or the forkserver is gone and
                                  * its workers with it (PDEATHSIG) */
    }
    fs_arm_out(p, pending);
}

static void kill_worker(acx_procpool *p, struct pworker *w)
{
    if (w->pidfd >= 0) {
        syscall(SYS_pidfd_send_signal, w->pidfd, SIGKILL, NULL, 0);
        return;
    }
    w->kill_pending = 1;
    send_kills(p);
}

/* ---- replies (manager thread, under MU) ---------------------------------- */

/* W's reply R (header H) to its current task is in. */
static void reply_done(acx_procpool *p, struct pworker *w,
                       const struct acx__pw_rep *h,
                       struct acx__proc_result *r, struct ptask **fin)
{
    struct ptask *t = w->cur;
    w->cur = NULL;
    if (t == NULL) { /* a reply to nothing: a confused worker */
        acx__proc_result_free(r);
        close_worker(w);
        return;
    }
    if (t->f == NULL) { /* the initializer's */
        acx__proc_result_free(r);
        task_free(t);
        w->inited = 1;
        if (h->status < 0)
            break_pool(p, h->status, fin);
        return;
    }
    if (r == NULL) {
        /* no memory for the reply: its bytes were read and dropped; the
         * work's own error if it failed, else ours (the worker is fine
         * and goes on) */
        fin_push(fin, t, h->status < 0 ? h->status : -ENOMEM);
    } else {
        t->res = r;
        fin_push(fin, t, h->status);
    }
    p->spawn_held = 0; /* things changed: a spawn may work now */
    int64_t dt = mono_ns() - w->t_sent;
    p->task_ns = p->task_ns ? (p->task_ns * 7 + dt) / 8 : dt;
    if (p->o.max_tasks_per_worker &&
        w->ntasks >= p->o.max_tasks_per_worker)
        close_worker(w); /* recycled: a fresh one takes over */
}

/* Stop reading W: at its EOF, or to drop it. */
static void stop_reading(acx_procpool *p, struct pworker *w)
{
    w->eof = 1;
    epoll_ctl(p->ep, EPOLL_CTL_DEL, w->fd, NULL);
}

/* Read what W sent: whole replies are finished, a partial one kept.  A
 * reply the wire's checks reject drops the worker: it is killed, and its
 * task fails with -EOWNERDEAD once it is reaped.  With no memory for a
 * reply the reader drops its bytes and the task fails with -ENOMEM. */
static void read_some(acx_procpool *p, struct pworker *w, struct ptask **fin)
{
    while (!w->eof) {
        void *at;
        size_t want;
        acx__pw_rd_space(&w->rd, &at, &want);
        ssize_t n = pp_recv(w->fd, at, want);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && errno == EAGAIN)
            return;
        if (n <= 0) { /* EOF or reset: it is dying; its report follows */
            stop_reading(p, w);
            return;
        }
        int done = acx__pw_rd_commit(&w->rd, (size_t)n);
        if (done < 0) { /* the wire's checks refused it */
            kill_worker(p, w);
            stop_reading(p, w);
            return;
        }
        if (done == 1) {
            struct acx__pw_rep h = w->rd.h;
            char *data = acx__pw_rd_take(&w->rd); /* NULL: dropped */
            struct acx__proc_result *r = data ? result_new() : NULL;
            if (r != NULL) {
                r->buf.data = data;
                r->buf.len = (size_t)h.len;
                r->buf.cap = (size_t)h.len + 1;
            } else {
                free(data);
            }
            reply_done(p, w, &h, r, fin); /* R NULL: no memory for it */
        }
    }
}

/* W was reaped with wait status WSTATUS (-1: unknown): its task fails. */
static void worker_gone(acx_procpool *p, struct pworker *w, int wstatus,
                        struct ptask **fin)
{
    read_some(p, w, fin); /* a reply it sent before exiting counts */
    struct ptask *t = w->cur;
    if (t != NULL && t->f == NULL) {
        task_free(t);
        if (!w->inited)
            break_pool(p, -EOWNERDEAD, fin); /* died in its initializer */
    } else if (t != NULL) {
        struct acx__proc_result *r = result_new();
        if (r != NULL) {
            r->pid = w->pid;
            r->wstatus = wstatus;
        }
        t->res = r;
        fin_push(fin, t, -EOWNERDEAD);
    }
    acx__pw_rd_free(&w->rd);
    if (!w->eof)
        epoll_ctl(p->ep, EPOLL_CTL_DEL, w->fd, NULL);
    close(w->fd);
    if (w->pidfd >= 0)
        close(w->pidfd);
    memset(w, 0, sizeof *w);
    w->st = W_FREE;
}

/* The forkserver could not fork W (ERR: -EAGAIN, -ENOMEM...).  Not a
 * broken pool: no initializer failed (W's pending init request goes with
 * it).  With workers left, the queued work waits for them; with none,
 * it fails with ERR rather than wait for a worker that may never come,
 * and the next submit tries again. */
static void spawn_failed(acx_procpool *p, struct pworker *w, int err,
                         struct ptask **fin)
{
    task_free(w->cur); /* its initializer's request, or nothing */
    w->cur = NULL;
    worker_gone(p, w, -1, fin);
    p->spawn_failing = 1;
    if (live_count(p) > 0) {
        p->spawn_held = 1;
    } else {
        p->spawn_held = 0;
        fail_queue(p, err, fin);
    }
}

/* The forkserver's reports. */
static void fs_read(acx_procpool *p, struct ptask **fin)
{
    for (;;) {
        struct acx__fs_msg m;
        int fd;
        ssize_t n = acx__recv_fd(p->fs, &m, sizeof m, &fd);
        if (n == -EAGAIN)
            return;
        if (n <= 0) { /* the forkserver died: so did its workers */
            epoll_ctl(p->ep, EPOLL_CTL_DEL, p->fs, NULL);
            for (int i = 0; i < p->nslots; i++)
                if (p->w[i].st != W_FREE)
                    worker_gone(p, &p->w[i], -1, fin);
            break_pool(p, -EPIPE, fin);
            return;
        }
        if (n != sizeof m || m.id >= (uint32_t)p->nslots ||
            p->w[m.id].st == W_FREE) {
            if (fd >= 0)
                close(fd);
            continue;
        }
        struct pworker *w = &p->w[m.id];
        if (m.type == ACX__FS_SPAWNED) {
            p->spawn_failing = 0;
            if (fd >= 0 && acx__pidfd_off()) { /* the fallback is forced */
                close(fd);
                fd = -1;
            }
            w->pid = m.pid;
            w->pidfd = fd;
            if (p->terminating)
                kill_worker(p, w);
            continue;
        }
        if (fd >= 0)
            close(fd);
        if (m.type == ACX__FS_EXITED) {
            worker_gone(p, w, m.val, fin);
            p->spawn_held = 0;
        } else if (m.type == ACX__FS_SPAWN_FAILED) {
            spawn_failed(p, w, m.val > 0 ? -m.val : -EAGAIN, fin);
        }
    }
}

/* ---- the manager thread ---------------------------------------------------- */

/* Shut down (or broken): close idle workers; done once none is left. */
static int wind_down(acx_procpool *p)
{
    if (!p->shutdown && !p->broken)
        return 0;
    if (p->queued > 0)
        return 0;
    for (int i = 0; i < p->nslots; i++) {
        struct pworker *w = &p->w[i];
        if (w->st != W_FREE && (w->cur == NULL || w->cur->f == NULL))
            close_worker(w);
    }
    return live_count(p) == 0;
}

static void pool_destroy(acx_procpool *p);

/* While workers run tasks, a reply may come within microseconds: look
 * for events a little while before sleeping in epoll (a wake-up costs
 * more than a small task). */
#define MGR_SPIN_NS 20000
#define MGR_SPIN_TASK_NS 200000 /* ... when tasks take less than this */

static int wait_events(acx_procpool *p, struct epoll_event *evs, int max,
                       int spin)
{
    if (spin) {
        struct timespec t0, t;
        clock_gettime(CLOCK_MONOTONIC, &t0);
        for (;;) {
            int n = epoll_wait(p->ep, evs, max, 0);
            if (n != 0)
                return n;
            clock_gettime(CLOCK_MONOTONIC, &t);
            if ((t.tv_sec - t0.tv_sec) * 1000000000L +
                    (t.tv_nsec - t0.tv_nsec) > MGR_SPIN_NS)
                break;
            ACX__CPU_RELAX();
        }
    }
    return epoll_wait(p->ep, evs, max, -1);
}

static void *manager(void *arg)
{
    acx_procpool *p = arg;
    struct epoll_event evs[32];
    struct ptask *fin = NULL;
    pthread_mutex_lock(&p->mu);
    for (;;) {
        dispatch(p);
        spawn_needed(p, &fin);
        if (wind_down(p))
            break;
        /* spin only for replies that come soon: with long tasks the
         * wake-up is cheap beside them and the spin would take CPU from
         * the workers */
        int busy = 0;
        for (int i = 0; i < p->nslots && !busy; i++)
            busy = p->w[i].cur != NULL;
        busy = busy && p->task_ns < MGR_SPIN_TASK_NS;
        pthread_mutex_unlock(&p->mu);
        finish_all(fin);
        fin = NULL;
        int n = wait_events(p, evs, 32, busy);
        pthread_mutex_lock(&p->mu);
        for (int i = 0; i < n; i++) {
            uint64_t tag = evs[i].data.u64;
            if (tag == TAG_EV) {
                uint64_t v;
                if (read(p->evfd, &v, sizeof v) < 0) {
                    /* nothing to read: a spurious wake-up */
                }
            } else if (tag == TAG_FS) {
                if (evs[i].events & EPOLLOUT)
                    send_kills(p);
                if (evs[i].events & (EPOLLIN | EPOLLHUP | EPOLLERR))
                    fs_read(p, &fin);
            } else if (tag < (uint64_t)p->nslots &&
                       p->w[tag].st != W_FREE) {
                struct pworker *w = &p->w[tag];
                if (evs[i].events & EPOLLOUT)
                    write_some(p, w);
                if (evs[i].events & (EPOLLIN | EPOLLHUP | EPOLLERR))
                    read_some(p, w, &fin);
            }
        }
    }
    p->mgr_done = 1;
    pthread_cond_broadcast(&p->done_cv);
    pthread_mutex_unlock(&p->mu);
    finish_all(fin);
    pthread_mutex_lock(&p->mu);
    int self_free = p->self_free;
    pthread_mutex_unlock(&p->mu);
    if (self_free) {
        pthread_detach(pthread_self());
        pool_destroy(p);
    }
    return NULL;
}

/* EAGAIN: the counter is full, the manager is awake anyway.  Any other
 * failure (none is known for an eventfd we hold) is retried a few times;
 * who waits for the manager pokes it again while waiting (wait_done). */
static void wake_manager(acx_procpool *p)
{
    uint64_t one = 1;
    for (int i = 0; i < 3; i++) {
        if (write(p->evfd, &one, sizeof one) == (ssize_t)sizeof one ||
            errno == EAGAIN)
            return;
        sched_yield();
    }
}

/* ---- the public calls ------------------------------------------------------ */

static int default_workers(void)
{
    long cpus = sysconf(_SC_NPROCESSORS_ONLN);
    return cpus < 1 ? 1 : (int)cpus;
}

static void pool_close_fds(acx_procpool *p)
{
    if (p->ep >= 0)
        close(p->ep);
    if (p->evfd >= 0)
        close(p->evfd);
    if (p->fs >= 0)
        close(p->fs);
}

static int pool_setup(acx_procpool *p)
{
    p->ep = epoll_create1(EPOLL_CLOEXEC);
    p->evfd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    if (p->ep < 0 || p->evfd < 0)
        return -errno;
    int fs = acx__zygote_session();
    if (fs < 0)
        return fs;
    p->fs = fs;
    /* the forkserver's reports are read without blocking */
    fcntl(fs, F_SETFL, fcntl(fs, F_GETFL) | O_NONBLOCK);
    struct epoll_event ev = {.events = EPOLLIN, .data.u64 = TAG_EV};
    if (epoll_ctl(p->ep, EPOLL_CTL_ADD, p->evfd, &ev) < 0)
        return -errno;
    ev.data.u64 = TAG_FS;
    if (epoll_ctl(p->ep, EPOLL_CTL_ADD, p->fs, &ev) < 0)
        return -errno;
    int err = pthread_create(&p->mgr, NULL, manager, p);
    return -err;
}

acx_procpool *acx_procpool_new(const acx_procpool_opts *opts)
{
    if (opts != NULL &&
        (opts->max_workers < 0 ||
         (opts->initarg == NULL && opts->initarg_len > 0))) {
        errno = EINVAL;
        return NULL;
    }
    acx_procpool *p = calloc(1, sizeof *p);
    if (p == NULL)
        return NULL;
    p->ep = p->evfd = p->fs = -1;
    if (opts != NULL)
        p->o = *opts;
    p->max = p->o.max_workers ? p->o.max_workers : default_workers();
    snprintf(p->prefix, sizeof p->prefix, "%s",
             p->o.name_prefix ? p->o.name_prefix : "acxproc");
    p->o.name_prefix = p->prefix;
    p->qtail = &p->qhead;
    /* a recycled worker's slot stays taken until it is reaped */
    p->nslots = 2 * p->max;
    p->w = calloc((size_t)p->nslots, sizeof *p->w);
    int err = p->w == NULL ? -ENOMEM : 0;
    if (err == 0 && p->o.initializer != NULL) {
        if (acx__fnref_encode((const void *)p->o.initializer, &p->init_mod,
                              &p->init_off) < 0)
            err = -EINVAL;
        else if (p->o.initarg_len > 0 &&
                 (p->initarg = malloc(p->o.initarg_len)) == NULL)
            err = -ENOMEM;
        else if (p->o.initarg_len > 0)
            memcpy(p->initarg, p->o.initarg, p->o.initarg_len);
        p->o.initarg = p->initarg;
    }
    pthread_mutex_init(&p->mu, NULL);
    pthread_condattr_t ca; /* wait_done's deadlines: monotonic */
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&p->done_cv, &ca);
    pthread_condattr_destroy(&ca);
    if (err == 0)
        err = pool_setup(p);
    if (err < 0) {
        pool_close_fds(p);
        pthread_mutex_destroy(&p->mu);
        pthread_cond_destroy(&p->done_cv);
        free(p->initarg);
        free(p->w);
        free(p);
        errno = -err;
        return NULL;
    }
    return p;
}

acx_future *acx__procpool_submit_msg(acx_procpool *p, uint32_t kind,
                                     acx_proc_fn fn, void *msg,
                                     size_t payload_len)
{
    struct acx__pw_req rq = {.kind = kind, .len = payload_len};
    struct ptask *t = NULL;
    int err = acx__fnref_encode((const void *)fn, &rq.mod, &rq.off) < 0
                  ? EINVAL
                  : 0;
    if (err == 0 && ((t = calloc(1, sizeof *t)) == NULL ||
                     (t->f = acx_future_new()) == NULL))
        err = ENOMEM;
    if (err != 0) {
        if (t != NULL)
            free(t);
        free(msg);
        errno = err;
        return NULL;
    }
    memcpy(msg, &rq, sizeof rq);
    t->msg = msg;
    t->len = sizeof rq + payload_len;
    acx_future *f = t->f;
    acx_future_ref(f); /* the caller's; the task holds the first */
    pthread_mutex_lock(&p->mu);
    if (p->shutdown || p->broken) {
        err = p->broken && !p->shutdown ? -p->broken : ESHUTDOWN;
        pthread_mutex_unlock(&p->mu);
        acx_future_unref(f);
        task_free(t);
        errno = err;
        return NULL;
    }
    struct ptask *fin = NULL;
    queue_push(p, t);
    dispatch(p);
    spawn_needed(p, &fin);
    pthread_mutex_unlock(&p->mu);
    finish_all(fin);
    return f;
}

acx_future *acx_procpool_submit(acx_procpool *p, acx_proc_fn fn,
                                const void *in, size_t n)
{
    if (p == NULL || fn == NULL || (in == NULL && n > 0)) {
        errno = EINVAL;
        return NULL;
    }
    char *msg = malloc(sizeof(struct acx__pw_req) + n);
    if (msg == NULL)
        return NULL;
    if (n > 0)
        memcpy(msg + sizeof(struct acx__pw_req), in, n);
    return acx__procpool_submit_msg(p, ACX__PW_TASK, fn, msg, n);
}

/* Done callbacks run on the manager thread. */
static int on_manager(const acx_procpool *p)
{
    return pthread_equal(pthread_self(), p->mgr);
}

/* Wait for the manager to finish and join it (once).  Every 100 ms
 * without news it is woken again: a wake-up write that failed must not
 * leave it asleep, and us with it. */
static void wait_done(acx_procpool *p)
{
    pthread_mutex_lock(&p->mu);
    while (!p->mgr_done) {
        struct timespec t;
        clock_gettime(CLOCK_MONOTONIC, &t);
        t.tv_nsec += 100000000;
        if (t.tv_nsec >= 1000000000) {
            t.tv_sec++;
            t.tv_nsec -= 1000000000;
        }
        if (pthread_cond_timedwait(&p->done_cv, &p->mu, &t) == ETIMEDOUT &&
            !p->mgr_done) {
            pthread_mutex_unlock(&p->mu);
            wake_manager(p);
            pthread_mutex_lock(&p->mu);
        }
    }
    int join = !p->joined;
    p->joined = 1;
    pthread_mutex_unlock(&p->mu);
    if (join)
        pthread_join(p->mgr, NULL);
}

static void cancel_list(struct ptask *t)
{
    while (t != NULL) {
        struct ptask *n = t->next;
        acx_future_cancel(t->f);
        task_free(t);
        t = n;
    }
}

int acx_procpool_shutdown(acx_procpool *p, int wait, int cancel_futures)
{
    if (p == NULL)
        return -EINVAL;
    pthread_mutex_lock(&p->mu);
    p->shutdown = 1;
    struct ptask *cancel = cancel_futures ? queue_take_all(p) : NULL;
    pthread_mutex_unlock(&p->mu);
    cancel_list(cancel);
    wake_manager(p);
    if (wait && on_manager(p))
        return -EDEADLK;
    if (wait)
        wait_done(p);
    return 0;
}

int acx_procpool_terminate(acx_procpool *p)
{
    if (p == NULL)
        return -EINVAL;
    pthread_mutex_lock(&p->mu);
    p->shutdown = p->terminating = 1;
    struct ptask *cancel = queue_take_all(p);
    for (int i = 0; i < p->nslots; i++)
        if (p->w[i].st != W_FREE)
            kill_worker(p, &p->w[i]);
    pthread_mutex_unlock(&p->mu);
    cancel_list(cancel);
    wake_manager(p);
    if (on_manager(p))
        return -EDEADLK;
    wait_done(p);
    return 0;
}

static void pool_destroy(acx_procpool *p)
{
    pool_close_fds(p);
    pthread_mutex_destroy(&p->mu);
    pthread_cond_destroy(&p->done_cv);
    free(p->initarg);
    free(p->w);
    free(p);
}

void acx_procpool_free(acx_procpool *p)
{
    if (p == NULL)
        return;
    if (on_manager(p)) {
        /* from a done callback: waiting here would wait for ourselves;
         * the manager frees the pool once its work is done */
        pthread_mutex_lock(&p->mu);
        p->self_free = 1;
        pthread_mutex_unlock(&p->mu);
        acx_procpool_shutdown(p, 0, 0);
        return;
    }
    acx_procpool_shutdown(p, 1, 0);
    pool_destroy(p);
}

int acx_procpool_workers(const acx_procpool *p)
{
    if (p == NULL)
        return -EINVAL;
    pthread_mutex_lock((pthread_mutex_t *)&p->mu);
    int n = live_count(p);
    pthread_mutex_unlock((pthread_mutex_t *)&p->mu);
    return n;
}

int acx_procpool_max_workers(const acx_procpool *p)
{
    return p == NULL ? -EINVAL : p->max;
}

int acx_procpool_worker_pids(const acx_procpool *p, int *pids, int max)
{
    if (p == NULL || (pids == NULL && max > 0))
        return -EINVAL;
    int n = 0;
    pthread_mutex_lock((pthread_mutex_t *)&p->mu);
    for (int i = 0; i < p->nslots; i++) {
        if (p->w[i].st == W_FREE || p->w[i].pid <= 0)
            continue;
        if (n < max)
            pids[n] = p->w[i].pid;
        n++;
    }
    pthread_mutex_unlock((pthread_mutex_t *)&p->mu);
    return n;
}

/* ---- results ---------------------------------------------------------------- */

static struct acx__proc_result *result_of(const acx_future *f, int *st)
{
    *st = acx_future_status(f);
    struct acx__proc_result *r = acx_future_value(f);
    if (r != NULL && r->magic != ACX__PROC_MAGIC) {
        *st = -EINVAL;
        return NULL;
    }
    return r;
}

/* F's status, with *R its result: a finished future that holds no
 * process pool result is -EINVAL. */
static int done_result(const acx_future *f, struct acx__proc_result **r)
{
    int st;
    *r = result_of(f, &st);
    return st == 0 && *r == NULL ? -EINVAL : st;
}

int acx_procpool_result(const acx_future *f, const void **data, size_t *len)
{
    if (f == NULL)
        return -EINVAL;
    struct acx__proc_result *r;
    int st = done_result(f, &r);
    if (st < 0)
        return st;
    if (data != NULL)
        *data = r->buf.data;
    if (len != NULL)
        *len = r->buf.len;
    return 0;
}

int acx_procpool_result_take(acx_future *f, acx_buf *out)
{
    if (f == NULL || out == NULL)
        return -EINVAL;
    struct acx__proc_result *r;
    int st = done_result(f, &r);
    if (st < 0)
        return st;
    *out = r->buf;
    r->buf = (acx_buf){0};
    return 0;
}

char *acx_procpool_strerror(const acx_future *f, char *buf, size_t size)
{
    if (buf == NULL || size == 0)
        return buf;
    buf[0] = '\0';
    int st;
    struct acx__proc_result *r = f ? result_of(f, &st) : NULL;
    if (f == NULL || st >= 0 || st == -EINPROGRESS)
        return buf;
    if (st != -EOWNERDEAD || r == NULL) {
        snprintf(buf, size, "%s", strerror(-st));
    } else if (r->wstatus == -1) {
        snprintf(buf, size, "worker %d lost: its forkserver died", r->pid);
    } else if (WIFSIGNALED(r->wstatus)) {
        int sig = WTERMSIG(r->wstatus);
        snprintf(buf, size, "worker %d killed by signal %d (%s)", r->pid,
                 sig, strsignal(sig));
    } else {
        snprintf(buf, size, "worker %d exited with status %d", r->pid,
                 WEXITSTATUS(r->wstatus));
    }
    return buf;
}
