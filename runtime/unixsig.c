/* unixsig.c - Unix signals on the loop: handlers (asyncio's
 * add_signal_handler), await acx_wait_signal, and the dump signal.
 *
 * Everything goes through one signalfd per loop, watched like any fd, so
 * handlers are plain callbacks on the loop thread and never run inside an
 * asynchronous signal handler.  (Named acx_*_signal_handler / unixsig so
 * as not to clash with the Blinker-style acx_signal_* of acx_signal.h.)
 *
 * A signal is "caught" while it is in the signalfd's mask and blocked in
 * the loop thread.  It is caught from its first handler, wait or dump use
 * on; waits alone never release it (a task that waits for SIGHUP in a
 * loop would otherwise leave a window between two waits in which SIGHUP
 * takes its default action and kills the process), so it is released
 * only by acx_remove_signal_handler, by turning the dump signal off, or
 * when acx_run returns, and then only when nothing else uses it.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include "acx_internal.h"

/* A task waiting in acx_wait_signal: a node in its frame. */
struct sigwait {
    struct sigwait *prev, *next;
    acx_task *task;
    int *ret;
};

struct sigslot {
    void (*fn)(int signo, void *arg); /* the handler, or NULL */
    void *arg;
    struct sigwait *head, *tail; /* waiting tasks, in arrival order */
};

struct acx__sigs {
    int fd;       /* the signalfd */
    acx__io io;   /* its watch */
    sigset_t mask;    /* caught: read through fd */
    sigset_t ours;    /* caught signals we blocked (unblock when released) */
    int dump;         /* the dump signal of this loop, 0: none */
    uint32_t handlers; /* installed handlers */
    int uncounted;     /* shutting down: handlers are not in external */
    struct sigslot slot[_NSIG];
};

/* The process-wide dump signal; -1 until the environment was read. */
static _Atomic int dump_signo = -1;
static pthread_once_t dump_env_once = PTHREAD_ONCE_INIT;

/* Signals a loop can catch (see acx_debug.h for why faults are refused). */
static int sig_valid(int signo)
{
    if (signo <= 0 || signo >= _NSIG)
        return 0;
    switch (signo) {
    case SIGKILL: case SIGSTOP:
    case SIGSEGV: case SIGBUS: case SIGILL: case SIGFPE:
        return 0;
    }
    return 1;
}

/* ---- the per-loop state ------------------------------------------------ */

static void sigs_readable(acx__io *io, uint32_t revents);

/* This loop's signal state; CREATE sets it up (NULL with *ERR). */
static struct acx__sigs *sigs_get(acx_loop *l, int create, int *err)
{
    if (l->sigs != NULL || !create)
        return l->sigs;
    struct acx__sigs *s = calloc(1, sizeof *s);
    if (s == NULL) {
        *err = -ENOMEM;
        return NULL;
    }
    sigemptyset(&s->mask);
    sigemptyset(&s->ours);
    s->fd = signalfd(-1, &s->mask, SFD_NONBLOCK | SFD_CLOEXEC);
    if (s->fd < 0) {
        *err = -errno;
        free(s);
        return NULL;
    }
    s->io.fd = s->fd;
    s->io.events = ACX__IO_IN;
    s->io.cb = sigs_readable;
    *err = acx__io_add(&l->poll, &s->io);
    if (*err) {
        close(s->fd);
        free(s);
        return NULL;
    }
    l->sigs = s;
    return s;
}

static int sig_used(const struct acx__sigs *s, int signo)
{
    return s->slot[signo].fn != NULL || s->slot[signo].head != NULL ||
           s->dump == signo;
}

/* Start catching SIGNO: block it in this thread first, so an instance
 * arriving before the signalfd knows it waits pending instead of taking
 * its default action. */
static int sig_catch(struct acx__sigs *s, int signo)
{
    if (sigismember(&s->mask, signo))
        return 0;
    sigset_t one, old;
    sigemptyset(&one);
    sigaddset(&one, signo);
    int err = pthread_sigmask(SIG_BLOCK, &one, &old);
    if (err)
        return -err;
    sigaddset(&s->mask, signo);
    if (signalfd(s->fd, &s->mask, 0) < 0) {
        err = -errno;
        sigdelset(&s->mask, signo);
        if (!sigismember(&old, signo))
            pthread_sigmask(SIG_UNBLOCK, &one, NULL);
        return err;
    }
    if (!sigismember(&old, signo))
        sigaddset(&s->ours, signo);
    return 0;
}

/* Stop catching SIGNO.  Instances already pending are discarded first:
 * unblocked, they would take the default action the caller just asked
 * to get back for the future, not for the past. */
static void sig_release(struct acx__sigs *s, int signo)
{
    if (!sigismember(&s->mask, signo))
        return;
    sigdelset(&s->mask, signo);
    (void)signalfd(s->fd, &s->mask, 0);
    if (!sigismember(&s->ours, signo))
        return; /* blocked before we came: leave it so */
    sigdelset(&s->ours, signo);
    sigset_t one;
    sigemptyset(&one);
    sigaddset(&one, signo);
    struct timespec zero = {0, 0};
    while (sigtimedwait(&one, NULL, &zero) == signo)
        ;
    pthread_sigmask(SIG_UNBLOCK, &one, NULL);
}

/* ---- delivery ------------------------------------------------------------ */

/* SIGNO arrived: the dump first (it shows the waiters still waiting),
 * then every waiting task, then the handler. */
static void sig_deliver(acx_loop *l, struct acx__sigs *s, int signo)
{
    if (s->dump == signo)
        acx__dump_report(l);
    struct sigslot *slot = &s->slot[signo];
    struct sigwait *w = slot->head;
    slot->head = slot->tail = NULL;
    while (w != NULL) {
        struct sigwait *next = w->next;
        w->prev = w->next = NULL;
        *w->ret = 0;
        l->external--;
        acx__ready(w->task);
        w = next;
    }
    if (slot->fn != NULL)
        slot->fn(signo, slot->arg);
}

static void sigs_readable(acx__io *io, uint32_t revents)
{
    acx_loop *l = acx__loop_cur;
    struct signalfd_siginfo si[8];
    (void)revents;
    for (;;) {
        ssize_t n = read(io->fd, si, sizeof si);
        if (n <= 0)
            return; /* EAGAIN: all read (EINTR: the next poll retries) */
        for (size_t i = 0; i < (size_t)n / sizeof si[0]; i++) {
            int signo = (int)si[i].ssi_signo;
            /* a handler may have removed everything (l->sigs stays) */
            if (signo > 0 && signo < _NSIG)
                sig_deliver(l, l->sigs, signo);
        }
    }
}

/* ---- handlers ---------------------------------------------------------- */

int acx_add_signal_handler(int signo, void (*fn)(int signo, void *arg),
                           void *arg)
{
    acx_loop *l = acx__loop_cur;
    if (l == NULL || fn == NULL || !sig_valid(signo))
        return -EINVAL;
    int err = 0;
    struct acx__sigs *s = sigs_get(l, 1, &err);
    if (s == NULL)
        return err;
    if ((err = sig_catch(s, signo)) != 0)
        return err;
    if (s->slot[signo].fn == NULL) {
        s->handlers++;
        if (!s->uncounted)
            l->external++; /* a handler may wake anything: no stall */
    }
    s->slot[signo].fn = fn;
    s->slot[signo].arg = arg;
    return 0;
}

int acx_remove_signal_handler(int signo)
{
    acx_loop *l = acx__loop_cur;
    if (l == NULL || !sig_valid(signo))
        return -EINVAL;
    struct acx__sigs *s = l->sigs;
    if (s == NULL || s->slot[signo].fn == NULL)
        return -ENOENT;
    s->slot[signo].fn = NULL;
    s->slot[signo].arg = NULL;
    s->handlers--;
    if (!s->uncounted)
        l->external--;
    if (!sig_used(s, signo))
        sig_release(s, signo);
    return 0;
}

/* ---- the dump signal ------------------------------------------------------ */

/* ACX_DUMP_SIGNAL: unset or 0 off, 1 or QUIT SIGQUIT, N signal N. */
static void dump_env_read(void)
{
    int expect = -1;
    const char *e = getenv("ACX_DUMP_SIGNAL");
    int v = 0;
    if (e != NULL && *e != '\0') {
        if (strcmp(e, "QUIT") == 0 || strcmp(e, "SIGQUIT") == 0)
            v = SIGQUIT;
        else
            v = atoi(e) == 1 ? SIGQUIT : atoi(e);
        if (!sig_valid(v))
            v = 0;
    }
    atomic_compare_exchange_strong(&dump_signo, &expect, v);
}

/* Make L's dump signal SIGNO (0: none). */
static int sigs_set_dump(acx_loop *l, int signo)
{
    int err = 0;
    struct acx__sigs *s = sigs_get(l, signo != 0, &err);
    if (s == NULL)
        return err;
    int old = s->dump;
    if (old == signo)
        return 0;
    if (signo != 0 && (err = sig_catch(s, signo)) != 0)
        return err;
    s->dump = signo;
    if (old != 0 && !sig_used(s, old))
        sig_release(s, old);
    return 0;
}

int acx_set_dump_signal(int signo)
{
    if (signo != 0 && !sig_valid(signo))
        return -EINVAL;
    pthread_once(&dump_env_once, dump_env_read);
    atomic_store(&dump_signo, signo);
    return acx__loop_cur != NULL ? sigs_set_dump(acx__loop_cur, signo) : 0;
}

int acx_dump_signal(void)
{
    pthread_once(&dump_env_once, dump_env_read);
    return atomic_load(&dump_signo);
}

/* ---- the loop's start and end ------------------------------------------ */

void acx__sigs_start(acx_loop *l)
{
    int signo = acx_dump_signal();
    if (signo != 0)
        (void)sigs_set_dump(l, signo); /* a debugging aid: best effort */
}

void acx__sigs_shutdown(acx_loop *l)
{
    struct acx__sigs *s = l->sigs;
    if (s == NULL || s->uncounted)
        return;
    s->uncounted = 1;
    l->external -= s->handlers;
}

void acx__sigs_close(acx_loop *l)
{
    struct acx__sigs *s = l->sigs;
    if (s == NULL)
        return;
    for (int signo = 1; signo < _NSIG; signo++)
        sig_release(s, signo);
    acx__io_remove(&l->poll, &s->io);
    close(s->fd);
    free(s);
    l->sigs = NULL;
}

/* ---- await acx_wait_signal(signo) -------------------------------------- */

struct sigwait_frame {
    ACX__FRAME_PREFIX;
    int acx__ret;
    int signo;
    struct sigwait node;
};

static void sigwait_unlink(struct sigslot *slot, struct sigwait *w)
{
    if (w->prev)
        w->prev->next = w->next;
    else
        slot->head = w->next;
    if (w->next)
        w->next->prev = w->prev;
    else
        slot->tail = w->prev;
    w->prev = w->next = NULL;
}

static int sigwait_start(struct sigwait_frame *f)
{
    acx_loop *l = acx__loop_cur;
    if (!sig_valid(f->signo))
        return -EINVAL;
    int err = acx__intr_check();
    if (err)
        return err;
    struct acx__sigs *s = sigs_get(l, 1, &err);
    if (s == NULL)
        return err;
    if ((err = sig_catch(s, f->signo)) != 0)
        return err;
    struct sigslot *slot = &s->slot[f->signo];
    f->node.task = acx__cur_task;
    f->node.ret = &f->acx__ret;
    f->node.next = NULL;
    f->node.prev = slot->tail;
    if (slot->tail)
        slot->tail->next = &f->node;
    else
        slot->head = &f->node;
    slot->tail = &f->node;
    l->external++;
    return 0;
}

static int sigwait_body(acx_coro *c)
{
    struct sigwait_frame *f = (struct sigwait_frame *)c;
    if (f->acx__state != 0)
        return ACX__DONE; /* delivery or the cancel set ret */
    if ((f->acx__ret = sigwait_start(f)) != 0)
        return ACX__DONE;
    f->acx__state = 1;
    acx__cur_task->top = c;
    return ACX__SUSPEND;
}

static int sigwait_cancel(acx_coro *c, int err)
{
    struct sigwait_frame *f = (struct sigwait_frame *)c;
    acx_loop *l = acx__loop_cur;
    sigwait_unlink(&l->sigs->slot[f->signo], &f->node);
    l->external--;
    f->acx__ret = err;
    return 1;
}

static int sigwait_describe(const acx_coro *c, char *buf, size_t size)
{
    const struct sigwait_frame *f = (const struct sigwait_frame *)c;
    const char *abbrev = sigabbrev_np(f->signo);
    return snprintf(buf, size, "signal %d (SIG%s)", f->signo,
                    abbrev ? abbrev : "?");
}

static int sigwait_result(const acx_coro *c)
{
    return ((const struct sigwait_frame *)c)->acx__ret;
}

static const acx__info sigwait_info = {
    .body = sigwait_body,
    .name = "acx_wait_signal",
    .file = "<runtime>",
    .size = sizeof(struct sigwait_frame),
    .ret_offset = offsetof(struct sigwait_frame, acx__ret),
    .ret_size = sizeof(int),
    .result_int = sigwait_result,
    .align = _Alignof(struct sigwait_frame),
    .cancel = sigwait_cancel,
    .describe = sigwait_describe,
};

acx_coro *acx_wait_signal(int signo)
{
    struct sigwait_frame *f = (struct sigwait_frame *)(void *)
        acx__coro_alloc(sizeof *f, &sigwait_info);
    if (f == NULL)
        return NULL;
    f->acx__ret = 0;
    f->signo = signo;
    f->node.prev = f->node.next = NULL;
    return &f->acx__hdr;
}
