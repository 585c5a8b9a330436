/* task.c - tasks: spawning, the driver that resumes a task's await chain,
 * finishing (waking awaiters in arrival order), results and release.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

#include "acx_internal.h"

/* ---- the registry: every live task of the loop, for teardown ---------- */

int acx__registry_add(struct acx__loop *l, acx_task *t)
{
    if (l->ntasks == l->cap) {
        if (l->cap >= UINT32_MAX / 2)
            return -ENOMEM;
        uint32_t cap = l->cap ? l->cap * 2 : 64;
        acx_task **v = realloc(l->tasks, (size_t)cap * sizeof *v);
        if (v == NULL)
            return -ENOMEM;
        l->tasks = v;
        l->cap = cap;
    }
    t->idx = l->ntasks;
    l->tasks[l->ntasks++] = t;
    return 0;
}

/* O(1): the last task takes T's slot. */
void acx__registry_del(struct acx__loop *l, acx_task *t)
{
    acx_task *last = l->tasks[--l->ntasks];
    l->tasks[t->idx] = last;
    last->idx = t->idx;
}

/* ---- spawning and the driver ------------------------------------------ */

acx_task *acx_spawn(acx_coro *coro)
{
    struct acx__loop *l = acx__loop_cur;
    if (coro == NULL || l == NULL) {
        acx_coro_free(coro); /* consumed, even on failure */
        errno = EINVAL;
        return NULL;
    }
    acx_task *t = acx__coro_task(coro);
    if (t->top != NULL) {
        /* Already a task (spawned twice): it is not ours to free. */
        errno = EINVAL;
        return NULL;
    }
    t->top = coro;
    t->waiters = NULL;
    t->flags &= ACX__T_SLAB; /* how its block was allocated */
    int err = acx__registry_add(l, t);
    if (err) {
        acx_coro_free(coro);
        errno = -err;
        return NULL;
    }
    acx__ready(t);
    return t;
}

static void task_free(acx_task *t)
{
    acx__registry_del(acx__loop_cur, t);
    acx__task_block_free(t);
}

/* The root frame returned: wake the awaiters in the order they arrived,
 * handing each the result now, because a released task is freed before
 * its awaiters run. */
void acx__task_finish(acx_task *t)
{
    t->flags |= ACX__T_DONE;
    t->top = acx__task_root(t);
    acx__waiter *tail = t->waiters;
    t->waiters = NULL;
    if (tail != NULL) {
        int result = acx_task_result_int(t);
        acx__waiter *w = tail->next;
        tail->next = NULL; /* open the circle at the tail */
        while (w != NULL) {
            acx__waiter *next = w->next;
            acx__waiter_deliver(w, result);
            acx__ready(w->task);
            w = next;
        }
    }
    /* acx_run reads main's result after the loop, then frees it. */
    if ((t->flags & (ACX__T_RELEASED | ACX__T_MAIN)) == ACX__T_RELEASED)
        task_free(t);
}

void acx__bad_code(const acx_coro *c, int r)
{
    fprintf(stderr, "acx: %s returned %d, not an ACX__ code\n",
            c->info->name, r);
    abort(); /* a generator bug: the frame state is unknowable */
}

/* Is C embedded in P's frame (rather than boxed)?  Embedded children live
 * inside their parent's struct; boxed ones are separate allocations. */
static int coro_embedded_in(const acx_coro *c, const acx_coro *p)
{
    uintptr_t a = (uintptr_t)c, lo = (uintptr_t)p;
    return a > lo && a < lo + p->info->size;
}

/* Without cancellation (a later issue) a suspended task is simply freed:
 * walk its chain from the innermost frame and free the boxed frames the
 * chain owns (children of `await coro`, boxed recursive calls), then the
 * task with its root frame. */
void acx__task_destroy(acx_task *t)
{
    if (!(t->flags & ACX__T_DONE)) {
        acx_coro *c = t->top;
        while (c != NULL && c->parent != NULL) {
            acx_coro *p = c->parent;
            if (!coro_embedded_in(c, p))
                acx_coro_free(c);
            c = p;
        }
    }
    acx__task_block_free(t);
}

/* ---- the public task interface ---------------------------------------- */

void acx_task_release(acx_task *t)
{
    if (t == NULL || (t->flags & ACX__T_RELEASED))
        return;
    t->flags |= ACX__T_RELEASED;
    if ((t->flags & (ACX__T_DONE | ACX__T_MAIN)) == ACX__T_DONE)
        task_free(t);
}

int acx_task_done(const acx_task *t)
{
    return t != NULL && (t->flags & ACX__T_DONE) != 0;
}

int acx_task_result_int(const acx_task *t)
{
    if (!acx_task_done(t))
        return 0;
    const acx_coro *root = acx__task_root(t);
    return root->info->result_int ? root->info->result_int(root) : 0;
}

const void *acx_task_result(const acx_task *t)
{
    if (!acx_task_done(t))
        return NULL;
    const acx_coro *root = acx__task_root(t);
    if (root->info->ret_size == 0)
        return NULL;
    return (const char *)root + root->info->ret_offset;
}

acx_task *acx_current_task(void)
{
    return acx__cur_task;
}
