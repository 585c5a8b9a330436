/* scope.c - the interrupt model: timeout and shield scopes, acx_wait_for.
 *
 * Cancellation and time share one path.  A task's open scopes form a
 * chain (innermost first) kept in its extras; a scope "fires" by storing
 * the error it delivers.  At each suspension a leaf asks acx__intr_err
 * (only when ACX__T_INTR is set): the error of the outermost fired scope
 * not hidden behind a shield, with a task cancel counting as the outermost
 * of all.  Outermost wins because that is the scope the unwinding has to
 * reach; a shield hides everything outside it.
 */
#include <errno.h>
#include <stddef.h>
#include <stdio.h>

#include "acx_internal.h"

static acx_scope *scope_chain(acx_task *t)
{
    if (!(t->flags & ACX__T_EXTRA))
        return NULL;
    acx__extra *x = acx__extra_get(t, 0);
    return x != NULL ? x->scope : NULL;
}

int acx__intr_err(acx_task *t)
{
    int err = 0, shielded = 0;
    for (acx_scope *s = scope_chain(t); s != NULL; s = s->outer) {
        if (s->err != 0 && !shielded)
            err = s->err;
        if (s->kind == ACX__SCOPE_SHIELD)
            shielded = 1;
    }
    if ((t->flags & ACX__T_CANCEL) && !shielded)
        err = -ECANCELED;
    return err;
}

/* Keep the invariant the fast paths rely on: ACX__T_INTR is set exactly
 * when acx__intr_err(t) is nonzero.  Called wherever that can change: a
 * cancel, a scope firing, a shield opening, any scope closing. */
int acx__intr_refresh(acx_task *t)
{
    int err = acx__intr_err(t);
    if (err)
        t->flags |= ACX__T_INTR;
    else
        t->flags &= ~(uint32_t)ACX__T_INTR;
    return err;
}

/* S's deadline passed: from now on its suspensions stop with -ETIMEDOUT. */
static void scope_fire(acx__cbtimer *c)
{
    acx_scope *s = (acx_scope *)((char *)c - offsetof(acx_scope, timer));
    if (s->err != 0)
        return;
    s->err = -ETIMEDOUT;
    if (acx__intr_refresh(s->task))
        acx__task_interrupt(s->task);
}

/* Open S on the running task as its innermost scope. */
static int scope_push(acx_scope *s, int kind)
{
    acx_task *t = acx__cur_task;
    if (s == NULL || t == NULL)
        return -EINVAL;
    acx__extra *x = acx__extra_get(t, 1);
    if (x == NULL)
        return -ENOMEM;
    s->kind = kind;
    s->err = 0;
    s->task = t;
    s->timer.tm.heap_idx = ACX__NO_SLOT;
    s->timer.tm.deadline = ACX_NEVER;
    s->timer.fire = scope_fire;
    s->outer = x->scope;
    x->scope = s;
    if (kind == ACX__SCOPE_SHIELD)
        acx__intr_refresh(t); /* it may hide a pending interrupt */
    return 0;
}

/* Close S and any scope opened inside it and left open. */
static void scope_pop(acx_scope *s)
{
    acx_task *t = s->task;
    acx__extra *x = t != NULL ? acx__extra_get(t, 0) : NULL;
    if (x == NULL)
        return;
    acx_scope *c = x->scope;
    while (c != NULL && c != s)
        c = c->outer;
    if (c == NULL)
        return; /* not open: ended twice */
    for (c = x->scope; c != s; c = c->outer) {
        acx__cbtimer_disarm(&c->timer);
        c->task = NULL; /* closed with S: ending it later does nothing */
    }
    acx__cbtimer_disarm(&s->timer);
    x->scope = s->outer;
    s->task = NULL;
    acx__intr_refresh(t); /* what it hid or delivered changes */
}

void acx__scopes_abandon(acx_task *t)
{
    acx__extra *x = acx__extra_get(t, 0);
    for (acx_scope *c = x != NULL ? x->scope : NULL; c != NULL;
         c = c->outer) {
        acx__cbtimer_disarm(&c->timer);
        c->task = NULL;
    }
    if (x != NULL)
        x->scope = NULL;
}

/* A boxed frame of T is being freed: a scope still open inside it would
 * be a dangling link (and an armed timer) once the memory is reused.  The
 * rule is that a scope ends in the function that began it; this catches
 * the breach for boxed frames, says so, and closes the scope. */
void acx__scopes_release_range(acx_task *t, const acx_coro *frame)
{
    acx__extra *x = acx__extra_get(t, 0);
    const char *lo = (const char *)frame, *hi = lo + frame->info->size;
    int closed = 0;
    while (x != NULL && x->scope != NULL && (const char *)x->scope >= lo &&
           (const char *)x->scope < hi) {
        acx_scope *sc = x->scope;
        acx__cbtimer_disarm(&sc->timer);
        x->scope = sc->outer;
        sc->task = NULL;
        closed++;
    }
    if (closed) {
        fprintf(stderr, "acx: %s returned with %d scope(s) it began still "
                "open; closed them\n", frame->info->name, closed);
        acx__intr_refresh(t);
    }
}

/* ---- timeouts ----------------------------------------------------------- */

static int timeout_arm(acx_scope *s, int64_t when)
{
    if (when == ACX_NEVER) {
        acx__cbtimer_disarm(&s->timer);
        s->timer.tm.deadline = ACX_NEVER;
        return 0;
    }
    return acx__cbtimer_arm(&s->timer, when);
}

int acx_timeout_begin_at(acx_scope *s, int64_t when_ns)
{
    int err = scope_push(s, ACX__SCOPE_TIMEOUT);
    if (err)
        return err;
    err = timeout_arm(s, when_ns);
    if (err)
        scope_pop(s);
    return err;
}

int acx_timeout_begin(acx_scope *s, int64_t ms)
{
    int64_t when = ms < 0 || ms == ACX_NEVER ? ACX_NEVER
                                             : acx__deadline_after_ms(ms);
    return acx_timeout_begin_at(s, when);
}

int acx_timeout_reschedule(acx_scope *s, int64_t when_ns)
{
    if (s == NULL || s->task == NULL || s->kind != ACX__SCOPE_TIMEOUT)
        return -EINVAL;
    if (s->err != 0)
        return -EALREADY;
    return timeout_arm(s, when_ns);
}

int64_t acx_timeout_when(const acx_scope *s)
{
    return s != NULL ? s->timer.tm.deadline : ACX_NEVER;
}

int acx_timeout_expired(const acx_scope *s)
{
    return s != NULL && s->err == -ETIMEDOUT;
}

int acx_timeout_end(acx_scope *s)
{
    if (s == NULL)
        return -EINVAL;
    scope_pop(s);
    return s->err == -ETIMEDOUT ? -ETIMEDOUT : 0;
}

/* ---- shields ------------------------------------------------------------ */

int acx_shield_begin(acx_scope *s)
{
    return scope_push(s, ACX__SCOPE_SHIELD);
}

void acx_shield_end(acx_scope *s)
{
    if (s != NULL)
        scope_pop(s);
}

/* ---- generic scopes for the runtime's other modules -------------------- */

int acx__scope_begin(acx_scope *s, int kind)
{
    return scope_push(s, kind);
}

void acx__scope_end(acx_scope *s)
{
    scope_pop(s);
}

void acx__scope_fire(acx_scope *s, int err)
{
    if (s->task == NULL || s->err != 0)
        return;
    s->err = err;
    if (acx__intr_refresh(s->task))
        acx__task_interrupt(s->task);
}
