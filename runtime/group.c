/* group.c - task groups (asyncio.TaskGroup): structured concurrency.
 *
 * A group keeps its unfinished children on a list, one node each (the
 * node is also the watcher of the child's end).  The body of the group is
 * a GROUP scope on the owner: aborting the group (the first failure,
 * acx_group_cancel) cancels every child and fires that scope, so the
 * owner's awaits inside the body stop with -ECANCELED and it walks to
 * acx_group_end, which closes the scope and waits for the last child.
 */
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>

#include "acx_internal.h"

struct acx__group_child {
    acx__watch watch; /* first: the waiter is the node */
    struct acx__group_child *prev, *next;
};

typedef struct acx__group_child child_node;
typedef struct acx__frame_acx_group_end end_frame;

static void child_unlink(acx_task_group *g, child_node *c)
{
    if (c->prev != NULL)
        c->prev->next = c->next;
    else
        g->children = c->next;
    if (c->next != NULL)
        c->next->prev = c->prev;
    g->live--;
}

/* Cancel every child and, while the owner is still in the body, its
 * awaits there.  Spawning is refused from now on. */
static void group_abort(acx_task_group *g)
{
    g->aborting = 1;
    /* acx_task_cancel only flags and readies: no child finishes (and
     * unlinks itself) while we walk the list. */
    for (child_node *c = g->children; c != NULL; c = c->next)
        acx_task_cancel(c->watch.task);
    if (g->state == ACX__G_OPEN)
        acx__scope_fire(&g->scope, -ECANCELED);
}

/* A child finished: its first failure aborts the group; the last child
 * lets a waiting acx_group_end go. */
static void child_done(acx__waiter *w, acx_task *t)
{
    child_node *c = (child_node *)w;
    acx_task_group *g = c->watch.owner;
    child_unlink(g, c);
    free(c);
    int r = acx_task_result_int(t);
    if (r < 0 && !acx_task_cancelled(t) && g->err == 0) {
        g->err = r;
        group_abort(g);
    }
    if (g->live == 0 && g->ending != NULL)
        acx__ready(g->owner);
}

int acx_group_begin(acx_task_group *g)
{
    if (g == NULL)
        return -EINVAL;
    g->owner = acx__cur_task;
    g->children = NULL;
    g->live = 0;
    g->state = ACX__G_NONE;
    g->aborting = g->err = g->intr = g->cancelled = 0;
    g->ending = NULL;
    int err = acx__scope_begin(&g->scope, ACX__SCOPE_GROUP);
    if (err == 0)
        g->state = ACX__G_OPEN;
    return err;
}

/* May G take another child?  0, or the errno that says why not. */
static int group_refuses(const acx_task_group *g)
{
    if (g == NULL || g->state == ACX__G_NONE)
        return EINVAL;
    if (g->aborting || g->state == ACX__G_DONE)
        return ESHUTDOWN;
    /* end saw the last child go and is returning (Python: "finished") */
    if (g->state == ACX__G_ENDING && g->live == 0)
        return ESHUTDOWN;
    return 0;
}

acx_task *acx__group_spawn_at(acx_task_group *g, acx_coro *coro,
                              acx__spawn_site *site)
{
    int err = group_refuses(g);
    child_node *c = NULL;
    if (err == 0 && coro == NULL)
        err = ENOMEM; /* f(...) could not allocate its frame */
    if (err == 0 && (c = malloc(sizeof *c)) == NULL)
        err = ENOMEM;
    if (err) {
        acx_coro_free(coro); /* consumed, even on failure */
        errno = err;
        return NULL;
    }
    acx_task *t = acx__spawn_at(coro, site);
    if (t == NULL) {
        free(c);
        return NULL;
    }
    c->watch.owner = g;
    c->watch.task = t;
    c->watch.w.notify = child_done;
    acx__task_watch(t, &c->watch.w);
    c->prev = NULL;
    c->next = g->children;
    if (c->next != NULL)
        c->next->prev = c;
    g->children = c;
    g->live++;
    return t;
}

int acx_group_cancel(acx_task_group *g)
{
    if (g == NULL || g->state == ACX__G_NONE)
        return -EINVAL;
    if (g->state == ACX__G_DONE)
        return -EALREADY;
    g->cancelled = 1;
    if (!g->aborting)
        group_abort(g);
    return 0;
}

size_t acx_group_size(const acx_task_group *g)
{
    return g != NULL ? g->live : 0;
}

/* ---- await acx_group_end(g) -------------------------------------------- */

/* Every child has finished: what the group ends with. */
static int end_finish(end_frame *f)
{
    acx_task_group *g = f->g;
    g->state = ACX__G_DONE;
    g->ending = NULL;
    if (g->err != 0)
        f->acx__ret = g->err;
    else if (g->intr != 0) { /* the interrupt as it stands now */
        int now = acx__intr_err(g->owner);
        f->acx__ret = now != 0 ? now : g->intr;
    } else
        f->acx__ret = g->cancelled ? -ECANCELED : 0;
    return ACX__DONE;
}

/* The owner is interrupted (cancelled, or a timeout scope around the
 * group expired) before its children have all finished: cancel them, and
 * end reports the interrupt once they have. */
static void end_interrupted(acx_task_group *g, int err)
{
    if (g->intr != 0)
        return;
    g->intr = err;
    g->aborting = 1;
    for (child_node *c = g->children; c != NULL; c = c->next)
        acx_task_cancel(c->watch.task);
}

static int end_start(end_frame *f)
{
    acx_task_group *g = f->g;
    acx_task *self = acx__cur_task;
    if (g == NULL || g->state != ACX__G_OPEN || g->owner != self) {
        f->acx__ret = -EINVAL;
        return ACX__DONE;
    }
    /* Leaving the body: the group's own abort is no interrupt here. */
    acx__scope_end(&g->scope);
    g->state = ACX__G_ENDING;
    int err = (self->flags & ACX__T_INTR) ? acx__intr_err(self) : 0;
    if (err != 0 && g->live > 0)
        end_interrupted(g, err);
    if (g->live == 0)
        return end_finish(f);
    /* Park even when interrupted: no child may outlive the group.  A
     * later interrupt reaches end_cancel; the last child readies us. */
    g->ending = f;
    f->acx__state = 1;
    self->top = &f->acx__hdr;
    return ACX__SUSPEND;
}

int acx__body_acx_group_end(acx_coro *c)
{
    end_frame *f = (end_frame *)c;
    if (f->acx__state == 0)
        return end_start(f);
    return end_finish(f);
}

static int end_cancel(acx_coro *c, int err)
{
    end_interrupted(((end_frame *)c)->g, err);
    return 0; /* keep waiting: the last child readies the owner */
}

static int end_describe(const acx_coro *c, char *buf, size_t size)
{
    const acx_task_group *g = ((const end_frame *)c)->g;
    return snprintf(buf, size, "task group end: %zu child(ren) left%s",
                    g->live, g->aborting ? ", cancelled" : "");
}

static int end_result(const acx_coro *c)
{
    return ((const end_frame *)c)->acx__ret;
}

const acx__info acx__info_acx_group_end = {
    .body = acx__body_acx_group_end,
    .name = "acx_group_end",
    .file = "<runtime>",
    .size = sizeof(end_frame),
    .ret_offset = offsetof(end_frame, acx__ret),
    .ret_size = sizeof(int),
    .result_int = end_result,
    .align = _Alignof(end_frame),
    .cancel = end_cancel,
    .describe = end_describe,
};

acx_coro *acx_group_end(acx_task_group *g)
{
    end_frame *f = (end_frame *)(void *)acx__coro_alloc(
        sizeof *f, &acx__info_acx_group_end);
    if (f == NULL)
        return NULL;
    acx__init_acx_group_end(f, g);
    return &f->acx__hdr;
}
