/* task.c - tasks: spawning, finishing (waking watchers in arrival order),
 * cancellation, results, done callbacks, names and release.
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "acx_internal.h"

/* ---- the registry: every live task of the loop, for teardown ---------- */

int acx__registry_add(acx_loop *l, acx_task *t)
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
void acx__registry_del(acx_loop *l, acx_task *t)
{
    acx_task *last = l->tasks[--l->ntasks];
    l->tasks[t->idx] = last;
    last->idx = t->idx;
}

/* ---- spawn sites: numbered so a task keeps 16 bits, not a pointer ---- */

static pthread_mutex_t sites_mu = PTHREAD_MUTEX_INITIALIZER;
static acx__spawn_site **sites; /* by id; [0] unused */
static uint32_t nsites, sites_cap;

static uint16_t site_id(acx__spawn_site *s)
{
    if (s == NULL)
        return 0;
    uint32_t id = __atomic_load_n(&s->id, __ATOMIC_ACQUIRE);
    if (id == 0) {
        pthread_mutex_lock(&sites_mu);
        if (s->id == 0 && nsites < UINT16_MAX) {
            if (nsites + 1 >= sites_cap) {
                uint32_t cap = sites_cap ? sites_cap * 2 : 64;
                acx__spawn_site **v = realloc(sites, cap * sizeof *v);
                if (v != NULL) {
                    sites = v;
                    sites_cap = cap;
                }
            }
            if (nsites + 1 < sites_cap) {
                sites[++nsites] = s;
                __atomic_store_n(&s->id, nsites, __ATOMIC_RELEASE);
            }
        }
        id = s->id;
        pthread_mutex_unlock(&sites_mu);
    }
    return (uint16_t)id; /* 0 (unknown) when the table is full */
}

static const acx__spawn_site *site_by_id(uint16_t id)
{
    pthread_mutex_lock(&sites_mu);
    const acx__spawn_site *s = id != 0 && id <= nsites ? sites[id] : NULL;
    pthread_mutex_unlock(&sites_mu);
    return s;
}

/* ---- spawning ---------------------------------------------------------- */

static acx_task *spawn(acx_coro *coro, acx__spawn_site *site,
                       const char *name)
{
    acx_loop *l = acx__loop_cur;
    if (coro == NULL || l == NULL) {
        acx_coro_free(coro); /* consumed, even on failure */
        /* A NULL coroutine is what `f(...)` returns when its frame cannot
         * be allocated: acx_spawn(f(...)) reports that. */
        errno = l == NULL ? EINVAL : ENOMEM;
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
    t->site = site_id(site);
    t->flags &= ACX__T_SLAB; /* how its block was allocated */
    int err = acx__registry_add(l, t);
    if (err == 0 && name != NULL && (err = acx_task_set_name(t, name)) < 0)
        acx__registry_del(l, t);
    if (err) {
        t->top = NULL;
        if (t->flags & ACX__T_EXTRA)
            acx__extra_drop(t);
        acx_coro_free(coro);
        errno = -err;
        return NULL;
    }
    l->live++;
    /* A task spawned while the loop shuts down is cancelled at birth. */
    if (l->shutting_down)
        t->flags |= ACX__T_CANCEL | ACX__T_INTR;
    acx__ready(t);
    return t;
}

acx_task *acx__spawn_at(acx_coro *coro, acx__spawn_site *site)
{
    return spawn(coro, site, NULL);
}

acx_task *(acx_spawn)(acx_coro *coro)
{
    return spawn(coro, NULL, NULL);
}

acx_task *(acx_spawn_named)(acx_coro *coro, const char *name)
{
    return spawn(coro, NULL, name);
}

acx_task *acx__spawn_named_at(acx_coro *coro, const char *name,
                              acx__spawn_site *site)
{
    return spawn(coro, site, name);
}

static void task_free(acx_task *t)
{
    if (t->flags & ACX__T_EXTRA)
        acx__extra_drop(t);
    acx__registry_del(acx__loop_cur, t);
    acx__task_block_free(t);
}

/* ---- watchers: awaiters, combinators, done callbacks ------------------- */

void acx__task_watch(acx_task *t, acx__waiter *w)
{
    acx__waiter *tail = t->waiters;
    if (tail == NULL) {
        w->next = w;
    } else {
        w->next = tail->next;
        tail->next = w;
    }
    t->waiters = w;
}

int acx__task_unwatch(acx_task *t, acx__waiter *w)
{
    acx__waiter *tail = t->waiters;
    if (tail == NULL)
        return 0;
    acx__waiter *prev = tail;
    do {
        acx__waiter *cur = prev->next;
        if (cur == w) {
            if (cur == prev) /* the only one */
                t->waiters = NULL;
            else {
                prev->next = cur->next;
                if (tail == cur)
                    t->waiters = prev;
            }
            return 1;
        }
        prev = cur;
    } while (prev != tail);
    return 0;
}

/* ---- failures nobody observes ------------------------------------------ */

static __thread void (*err_handler)(acx_task *, int, void *);
static __thread void *err_handler_arg;

void acx_set_task_error_handler(void (*fn)(acx_task *, int, void *),
                                void *arg)
{
    err_handler = fn;
    err_handler_arg = arg;
}

static void report_failure(acx_task *t, int err)
{
    if (err_handler != NULL) {
        err_handler(t, err, err_handler_arg);
        return;
    }
    const char *file = NULL;
    int line = 0;
    char where[256] = "";
    if (acx_task_spawn_site(t, &file, &line) == 0)
        snprintf(where, sizeof where, " (spawned at %s:%d)", file, line);
    fprintf(stderr,
            "acx: task '%s'%s failed with %d (%s) and nobody awaited it\n",
            acx_task_name(t), where, err, strerror(-err));
}

/* Did T fail (see acx_set_task_error_handler)?  Returns its error or 0. */
static int task_failure(const acx_task *t)
{
    const acx_coro *root = acx__task_root(t);
    if (root->info->result_int == NULL)
        return 0;
    int r = root->info->result_int(root);
    if (r >= 0 || (r == -ECANCELED && (t->flags & ACX__T_CANCEL)))
        return 0;
    return r;
}

/* ---- finishing --------------------------------------------------------- */

/* The root frame returned: notify the watchers in the order they arrived
 * (each reads the result now, because a released task is freed before its
 * awaiters run). */
void acx__task_finish(acx_task *t)
{
    acx_loop *l = acx__loop_cur;
    t->flags |= ACX__T_DONE;
    t->flags &= ~(uint32_t)ACX__T_INTR;
    t->top = acx__task_root(t);
    l->live--;
    if (t->flags & ACX__T_EXTRA)
        acx__scopes_abandon(t);
    acx__waiter *tail = t->waiters;
    t->waiters = NULL;
    if (tail != NULL) {
        t->flags |= ACX__T_OBSERVED;
        acx__waiter *w = tail->next;
        tail->next = NULL; /* open the circle at the tail */
        while (w != NULL) {
            acx__waiter *next = w->next;
            w->notify(w, t);
            w = next;
        }
    } else if (!(t->flags & (ACX__T_OBSERVED | ACX__T_MAIN))) {
        int err = task_failure(t);
        if (err)
            report_failure(t, err);
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

/* The last resort for a task that cannot finish (a stall at shutdown):
 * walk its chain from the innermost frame and free the boxed frames the
 * chain owns (children of `await coro`, boxed recursive calls), then the
 * task with its root frame.  Its watchers are not notified. */
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
    if (t->flags & ACX__T_EXTRA)
        acx__extra_drop(t);
    acx__task_block_free(t);
}

/* ---- cancellation ------------------------------------------------------ */

void acx__task_interrupt(acx_task *t)
{
    if (!acx__task_parked(t))
        return; /* it checks the flag at its next suspension */
    int err = acx__intr_err(t);
    if (err == 0)
        return; /* shielded */
    acx_coro *top = t->top;
    if (top->info->cancel != NULL && top->info->cancel(top, err))
        acx__ready(t);
}

int acx_task_cancel(acx_task *t)
{
    if (t == NULL)
        return -EINVAL;
    if (t->flags & ACX__T_DONE)
        return -EALREADY;
    if (t->flags & ACX__T_CANCEL)
        return 0; /* delivered already, or seen at its next suspension */
    t->flags |= ACX__T_CANCEL;
    if (acx__intr_refresh(t))
        acx__task_interrupt(t);
    return 0;
}

int acx_task_cancel_requested(const acx_task *t)
{
    return t != NULL && (t->flags & ACX__T_CANCEL) != 0;
}

int acx_task_cancelled(const acx_task *t)
{
    if (t == NULL || (t->flags & (ACX__T_DONE | ACX__T_CANCEL)) !=
                         (ACX__T_DONE | ACX__T_CANCEL))
        return 0;
    const acx_coro *root = acx__task_root(t);
    if (root->info->result_int == NULL)
        return 1;
    return root->info->result_int(root) == -ECANCELED;
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

size_t acx_all_tasks(acx_task **out, size_t n)
{
    acx_loop *l = acx__loop_cur;
    size_t k = 0;
    for (uint32_t i = 0; l != NULL && i < l->ntasks; i++) {
        acx_task *t = l->tasks[i];
        if (t->flags & ACX__T_DONE)
            continue;
        if (k < n)
            out[k] = t;
        k++;
    }
    return k;
}

/* ---- done callbacks: watchers that own their node ---------------------- */

struct done_cb {
    acx__waiter w; /* first: the node is the waiter */
    void (*fn)(acx_task *, void *);
    void *arg;
};

static void done_cb_notify(acx__waiter *w, acx_task *finished)
{
    struct done_cb *cb = (struct done_cb *)w;
    cb->fn(finished, cb->arg);
    free(cb);
}

int acx_task_add_done_callback(acx_task *t, void (*fn)(acx_task *, void *),
                               void *arg)
{
    if (t == NULL || fn == NULL)
        return -EINVAL;
    if (t->flags & ACX__T_DONE) {
        t->flags |= ACX__T_OBSERVED;
        fn(t, arg);
        return 0;
    }
    struct done_cb *cb = malloc(sizeof *cb);
    if (cb == NULL)
        return -ENOMEM;
    cb->w.notify = done_cb_notify;
    cb->fn = fn;
    cb->arg = arg;
    acx__task_watch(t, &cb->w);
    return 0;
}

int acx_task_remove_done_callback(acx_task *t,
                                  void (*fn)(acx_task *, void *), void *arg)
{
    if (t == NULL || t->waiters == NULL)
        return 0;
    int n = 0;
    for (;;) {
        struct done_cb *found = NULL;
        acx__waiter *w = t->waiters;
        do {
            w = w->next;
            struct done_cb *cb = (struct done_cb *)w;
            if (w->notify == done_cb_notify && cb->fn == fn &&
                cb->arg == arg)
                found = cb;
        } while (found == NULL && w != t->waiters);
        if (found == NULL)
            return n;
        acx__task_unwatch(t, &found->w);
        free(found);
        n++;
        if (t->waiters == NULL)
            return n;
    }
}

/* ---- names and sites ---------------------------------------------------- */

int acx_task_set_name(acx_task *t, const char *name)
{
    if (t == NULL)
        return -EINVAL;
    char *copy = NULL;
    if (name != NULL && (copy = strdup(name)) == NULL)
        return -ENOMEM;
    acx__extra *x = acx__extra_get(t, name != NULL);
    if (x == NULL) {
        free(copy);
        return name != NULL ? -ENOMEM : 0;
    }
    free(x->name);
    x->name = copy;
    return 0;
}

const char *acx_task_name(const acx_task *t)
{
    if (t == NULL)
        return NULL;
    if (t->flags & ACX__T_EXTRA) {
        acx__extra *x = acx__extra_get((acx_task *)t, 0);
        if (x != NULL && x->name != NULL)
            return x->name;
    }
    return acx__task_root(t)->info->name;
}

int acx_task_spawn_site(const acx_task *t, const char **file, int *line)
{
    const acx__spawn_site *s = t != NULL ? site_by_id(t->site) : NULL;
    if (s == NULL)
        return -ENOENT;
    *file = s->file;
    *line = s->line;
    return 0;
}
