/* taskx.c - per-task extras: a name, the open scopes.
 *
 * Few tasks have them, and memory per suspended task is a design goal, so
 * they live in a per-loop hash table keyed by the task's address rather
 * than behind a pointer in every task.  ACX__T_EXTRA says whether a task
 * has an entry, so tasks without one never probe.  Open addressing with
 * linear probing and backward-shift deletion (no tombstones).
 */
#include <stdint.h>
#include <stdlib.h>

#include "acx_internal.h"

static uint32_t slot_of(const acx_loop *l, const acx_task *t)
{
    uint64_t h = (uint64_t)(uintptr_t)t * 0x9E3779B97F4A7C15ull;
    return (uint32_t)(h >> 32) & (l->xcap - 1);
}

static int extras_grow(acx_loop *l)
{
    uint32_t cap = l->xcap ? l->xcap * 2 : 16;
    acx__extra **v = calloc(cap, sizeof *v);
    if (v == NULL)
        return -1;
    acx__extra **old = l->xv;
    uint32_t oldcap = l->xcap;
    l->xv = v;
    l->xcap = cap;
    for (uint32_t i = 0; i < oldcap; i++) {
        if (old[i] == NULL)
            continue;
        uint32_t j = slot_of(l, old[i]->task);
        while (v[j] != NULL)
            j = (j + 1) & (cap - 1);
        v[j] = old[i];
    }
    free(old);
    return 0;
}

static uint32_t extras_find(const acx_loop *l, const acx_task *t)
{
    uint32_t i = slot_of(l, t);
    while (l->xv[i] != NULL && l->xv[i]->task != t)
        i = (i + 1) & (l->xcap - 1);
    return i;
}

acx__extra *acx__extra_get(acx_task *t, int create)
{
    acx_loop *l = acx__loop_cur;
    if (l == NULL)
        return NULL;
    if (t->flags & ACX__T_EXTRA)
        return l->xv[extras_find(l, t)];
    if (!create)
        return NULL;
    /* keep the table at most half full so probes stay short */
    if ((l->xn + 1) * 2 > l->xcap && extras_grow(l) < 0)
        return NULL;
    acx__extra *x = calloc(1, sizeof *x);
    if (x == NULL)
        return NULL;
    x->task = t;
    l->xv[extras_find(l, t)] = x;
    l->xn++;
    t->flags |= ACX__T_EXTRA;
    return x;
}

void acx__extra_drop(acx_task *t)
{
    acx_loop *l = acx__loop_cur;
    t->flags &= ~(uint32_t)ACX__T_EXTRA;
    uint32_t mask = l->xcap - 1;
    uint32_t i = extras_find(l, t);
    acx__extra *x = l->xv[i];
    if (x == NULL)
        return;
    free(x->name);
    free(x);
    l->xn--;
    /* backward shift: move later entries of the run into the hole when
     * their home slot does not lie strictly between the hole and them */
    uint32_t j = i;
    for (;;) {
        l->xv[i] = NULL;
        for (;;) {
            j = (j + 1) & mask;
            if (l->xv[j] == NULL)
                return;
            uint32_t home = slot_of(l, l->xv[j]->task);
            int between = i <= j ? (i < home && home <= j)
                                 : (i < home || home <= j);
            if (!between)
                break;
        }
        l->xv[i] = l->xv[j];
        i = j;
    }
}
