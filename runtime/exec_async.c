/* exec_async.c - executors seen from coroutines: run_in_executor,
 * to_thread and the loop's default executor.
 *
 * run_in_executor is a boxed frame around acx_future_await: it submits
 * the work when it starts, awaits the future (which already handles a
 * completion from another thread and an interrupted awaiter), and holds
 * its own reference to the future until it has read the result.  The
 * default executor belongs to the thread's loop; acx_run's end shuts it
 * down with a bounded wait.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdatomic.h>
#include <stddef.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>

#include "acx_internal.h"

static __thread acx_executor *dflt;          /* this loop's default */
static _Atomic int64_t dflt_timeout_ms = 5000; /* its bounded wait */

/* Default executors left to their running work: kept reachable, as they
 * are in use (a leak checker would call them lost), never freed. */
struct abandoned {
    struct abandoned *next;
    acx_executor *ex;
};
static struct abandoned *abandoned;
static pthread_mutex_t abandoned_mu = PTHREAD_MUTEX_INITIALIZER;

static void abandon(acx_executor *ex)
{
    struct abandoned *a = malloc(sizeof *a);
    if (a == NULL)
        return;
    a->ex = ex;
    pthread_mutex_lock(&abandoned_mu);
    a->next = abandoned;
    abandoned = a;
    pthread_mutex_unlock(&abandoned_mu);
}

acx_executor *acx_default_executor(void)
{
    if (acx__loop_cur == NULL) {
        errno = EINVAL;
        return NULL;
    }
    if (dflt == NULL) {
        acx_executor_opts o = {.thread_name_prefix = "acxdefault"};
        dflt = acx_executor_new(&o);
    }
    return dflt;
}

void acx_set_default_executor_timeout(int64_t ms)
{
    atomic_store(&dflt_timeout_ms, ms);
}

void acx__default_executor_close(void)
{
    acx_executor *ex = dflt;
    if (ex == NULL)
        return;
    dflt = NULL;
    acx_executor_shutdown(ex, 0, 0);
    int64_t ms = atomic_load(&dflt_timeout_ms);
    if (acx__executor_join(ex, ms) < 0) {
        /* Leave the threads running: freeing EX under them would crash. */
        fprintf(stderr, "acx: the default executor's work did not finish "
                        "within %lld ms of acx_run's end; left running\n",
                (long long)ms);
        acx__executor_abandon(ex);
        abandon(ex);
        return;
    }
    acx_executor_free(ex);
}

/* ---- await acx_run_in_executor(ex, fn, arg, &result) -------------------- */

struct rie_frame {
    ACX__FRAME_PREFIX;
    int acx__ret;
    acx_executor *ex;
    acx_work_fn fn;
    void *arg;
    void **out;
    acx_future *f;
    acx_coro *child; /* the acx_future_await */
};

static int rie_finish(struct rie_frame *fr)
{
    acx_coro *child = fr->child;
    fr->acx__ret = child->info->result_int(child);
    acx_coro_free(child);
    fr->child = NULL;
    /* Interrupted: work not started never will be; running work is
     * asked to stop (it may ignore it; nobody waits for it). */
    if (!acx_future_done(fr->f))
        acx_future_cancel(fr->f);
    acx_future_unref(fr->f);
    fr->f = NULL;
    return ACX__DONE;
}

static int rie_start(acx_coro *c)
{
    struct rie_frame *fr = (struct rie_frame *)c;
    errno = 0;
    acx_executor *ex = fr->ex ? fr->ex : acx_default_executor();
    if (ex != NULL)
        fr->f = acx_executor_submit(ex, fr->fn, fr->arg);
    if (fr->f != NULL)
        fr->child = acx_future_await(fr->f, fr->out);
    if (fr->child == NULL) {
        fr->acx__ret = -(errno ? errno : ENOMEM);
        if (fr->f != NULL) {
            acx_future_cancel(fr->f);
            acx_future_unref(fr->f);
            fr->f = NULL;
        }
        return ACX__DONE;
    }
    fr->child->parent = c;
    fr->acx__state = 1;
    if (!ACX__STACK_OK())
        return acx__push(fr->child);
    int r = fr->child->info->body(fr->child);
    return r == ACX__DONE ? rie_finish(fr) : r;
}

static int rie_body(acx_coro *c)
{
    struct rie_frame *fr = (struct rie_frame *)c;
    return fr->acx__state == 0 ? rie_start(c) : rie_finish(fr);
}

static int rie_result(const acx_coro *c)
{
    return ((const struct rie_frame *)c)->acx__ret;
}

static const acx__info rie_info = {
    .body = rie_body,
    .name = "acx_run_in_executor",
    .file = "<runtime>",
    .size = sizeof(struct rie_frame),
    .ret_offset = offsetof(struct rie_frame, acx__ret),
    .ret_size = sizeof(int),
    .result_int = rie_result,
    .align = _Alignof(struct rie_frame),
};

acx_coro *acx_run_in_executor(acx_executor *ex, acx_work_fn fn, void *arg,
                              void **result)
{
    struct rie_frame *fr = (struct rie_frame *)(void *)acx__coro_alloc(
        sizeof *fr, &rie_info);
    if (fr == NULL)
        return NULL;
    fr->acx__ret = 0;
    fr->ex = ex;
    fr->fn = fn;
    fr->arg = arg;
    fr->out = result;
    fr->f = NULL;
    fr->child = NULL;
    return &fr->acx__hdr;
}

acx_coro *acx_to_thread(acx_work_fn fn, void *arg, void **result)
{
    return acx_run_in_executor(NULL, fn, arg, result);
}
