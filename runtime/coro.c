/* coro.c - boxed frames and the running task's innermost frame.
 *
 * A boxed frame shares one malloc with the task header that precedes it,
 * so acx_spawn of a coroutine object allocates nothing more.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "acx_internal.h"

__thread acx_task *acx__cur_task;
__thread char *acx__stack_floor;

acx_coro *acx__coro_alloc(size_t size, const acx__info *info)
{
    /* Every frame holds at least the header and the state. */
    if (size < sizeof(acx_coro) + sizeof(uint32_t) ||
        size > SIZE_MAX - sizeof(acx_task))
        return NULL;
    int slabbed;
    acx_task *t = acx__frame_block(size, info, &slabbed);
    if (t == NULL)
        return NULL;
    memset(t, 0, sizeof *t);
    t->flags = slabbed ? ACX__T_SLAB : 0;
    /* Only the prefix is set: the constructor initialises the rest, and
     * not touching it keeps untouched pages of big frames out of RSS. */
    acx_coro *c = acx__task_root(t);
    c->info = info;
    c->parent = NULL;
    ACX__STATE(c) = 0;
    return c;
}

void acx_coro_free(acx_coro *coro)
{
    if (coro == NULL)
        return;
    acx_task *t = acx__cur_task;
    if (t != NULL && (t->flags & ACX__T_EXTRA) && coro->info != NULL)
        acx__scopes_release_range(t, coro);
    acx__task_block_free(acx__coro_task(coro));
}

int acx__push(acx_coro *child)
{
    acx__cur_task->top = child;
    return ACX__TRAMPOLINE;
}

void acx__set_top(acx_coro *frame)
{
    acx__cur_task->top = frame;
}

void acx__invariant_failed(const char *what, const char *file, int line)
{
    fprintf(stderr, "%s:%d: acx: invariant broken: %s\n", file, line, what);
    abort();
}

void acx__oom(const char *file, int line)
{
    fprintf(stderr, "%s:%d: acx: out of memory for a boxed await\n", file,
            line);
    abort();
}

size_t acx_coro_size(const acx_coro *c)
{
    return c && c->info ? c->info->size : 0;
}

const char *acx_coro_name(const acx_coro *c)
{
    return c && c->info ? c->info->name : NULL;
}

int acx_coro_where(const acx_coro *c, const char **file, int *line,
                   const char **func)
{
    if (c == NULL || c->info == NULL || c->info->sites == NULL)
        return -EINVAL;
    uint32_t st = ACX__STATE(c);
    if (st >= c->info->nsites)
        st = 0; /* finished or unknown: the definition */
    *file = c->info->sites[st].file;
    *line = c->info->sites[st].line;
    if (func != NULL)
        *func = c->info->name;
    return 0;
}

int acx_task_where(const acx_task *t, const char **file, int *line,
                   const char **func)
{
    if (t == NULL)
        return -EINVAL;
    if (t->flags & ACX__T_DONE)
        return -EALREADY;
    for (const acx_coro *c = t->top; c != NULL; c = c->parent)
        if (acx_coro_where(c, file, line, func) == 0)
            return 0;
    return -EINVAL;
}
