/* execmap.c - Executor.map on the thread pool: a chunk is one task of
 * the executor, which carries its items and their results.  The map's
 * machinery (ordered results, chunks, the deadline, the bound on work
 * ahead of the consumer) is mapcore.c's.
 *
 * A map freed while a chunk runs only has to let the chunk free itself
 * when its work ends (a done callback).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>

#include "acx_internal.h"
#include "mapcore.h"

struct item {
    void *arg;
    void *res;
    int err;
};

struct chunk {
    acx_future *f;
    acx_work_fn fn;
    size_t n;
    struct item it[];
};

struct acx_executor_map {
    struct acx__map core; /* first */
    acx_executor *ex;
    acx_work_fn fn;
    acx_map_source next;
    void *src;
};

/* The work of one chunk, on a worker.  The stop flag (a cancel that came
 * too late) ends it between items. */
static void *chunk_run(void *arg, int *err)
{
    struct chunk *c = arg;
    acx_future *self = acx_executor_current();
    (void)err;
    for (size_t i = 0; i < c->n; i++) {
        if (acx_future_stop_requested(self)) {
            c->it[i].err = -ECANCELED;
            continue;
        }
        c->it[i].err = 0;
        c->it[i].res = c->fn(c->it[i].arg, &c->it[i].err);
        if (c->it[i].err > 0)
            c->it[i].err = 0; /* only a negative errno is an error */
    }
    return c;
}

static void chunk_free_cb(acx_future *f, void *arg)
{
    (void)f;
    free(arg);
}

/* ---- the map core's operations ------------------------------------------- */

static int em_source(struct acx__map *core, void *item)
{
    acx_executor_map *m = (acx_executor_map *)core;
    return m->next(m->src, (void **)item);
}

static void *em_submit(struct acx__map *core, const void *items, size_t n,
                       size_t first, int *err)
{
    acx_executor_map *m = (acx_executor_map *)core;
    void *const *args = items;
    (void)first;
    struct chunk *c = malloc(sizeof *c + n * sizeof c->it[0]);
    if (c == NULL) {
        *err = -ENOMEM;
        return NULL;
    }
    c->fn = m->fn;
    c->n = n;
    for (size_t i = 0; i < n; i++)
        c->it[i].arg = args[i];
    c->f = acx_executor_submit(m->ex, chunk_run, c);
    if (c->f == NULL) {
        *err = -errno;
        free(c);
        return NULL;
    }
    return c;
}

static int em_wait(struct acx__map *core, struct acx__map_chunk *mc,
                   int64_t timeout_ms)
{
    struct chunk *c = mc->h;
    (void)core;
    int st = acx_future_wait(c->f, timeout_ms);
    if (st == -ETIMEDOUT && !acx_future_done(c->f))
        return -ETIMEDOUT;
    mc->status = st < 0 ? st : 0; /* a chunk cancelled before it ran */
    return 0;
}

static int em_result(struct acx__map *core, const struct acx__map_chunk *mc,
                     size_t i, void *out)
{
    const struct chunk *c = mc->h;
    void **result = out;
    int err = mc->status < 0 ? mc->status : c->it[i].err;
    (void)core;
    if (result != NULL)
        *result = err == 0 ? c->it[i].res : NULL;
    return err;
}

/* Cancel a chunk not started (it never will be); a running one gets its
 * stop flag and is freed when its work ends. */
static void em_drop(struct acx__map *core, void *h)
{
    struct chunk *c = h;
    acx_future *f = c->f;
    (void)core;
    acx_future_cancel(f);
    if (acx_future_add_done_callback(f, chunk_free_cb, c) < 0) {
        acx_future_wait(f, -1);
        free(c);
    }
    acx_future_unref(f);
}

static const struct acx__map_ops em_ops = {
    sizeof(void *), em_source, NULL, em_submit, em_wait, em_result, em_drop};

/* ---- the public calls ------------------------------------------------------ */

/* A map of FN on EX, its input still to set; INPUT_OK: the caller's
 * input is valid. */
static acx_executor_map *map_open(acx_executor *ex, acx_work_fn fn,
                                  const acx_map_opts *o, int input_ok)
{
    if (ex == NULL || fn == NULL || !input_ok) {
        errno = EINVAL;
        return NULL;
    }
    acx_executor_map *m = calloc(1, sizeof *m);
    if (m == NULL)
        return NULL;
    m->ex = ex;
    m->fn = fn;
    acx__map_init(&m->core, &em_ops, o ? o->chunksize : 0,
                  o ? o->buffersize : 0,
                  (size_t)acx_executor_max_workers(ex),
                  o ? o->timeout_ms : -1, 0);
    return m;
}

acx_executor_map *acx_executor_map_new(acx_executor *ex, acx_work_fn fn,
                                       acx_map_source next, void *src,
                                       const acx_map_opts *opts)
{
    acx_executor_map *m = map_open(ex, fn, opts, next != NULL);
    if (m != NULL) {
        m->next = next;
        m->src = src;
    }
    return m;
}

acx_executor_map *acx_executor_map_array(acx_executor *ex, acx_work_fn fn,
                                         void *const *items, size_t n,
                                         const acx_map_opts *opts)
{
    acx_executor_map *m = map_open(ex, fn, opts, items != NULL || n == 0);
    if (m != NULL)
        acx__map_array(&m->core, items, n);
    return m;
}

int acx_executor_map_next(acx_executor_map *m, void **result)
{
    if (m == NULL)
        return -EINVAL;
    return acx__map_next(&m->core, -1, result);
}

void acx_executor_map_free(acx_executor_map *m)
{
    if (m == NULL)
        return;
    acx__map_release(&m->core);
    free(m);
}
