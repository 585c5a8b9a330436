/* procmap.c - Executor.map on the process pool: a chunk is one request
 * (a u64 count, then each item's u32 length and bytes) and the worker
 * answers with all its results in one reply, which next walks item by
 * item.  The map's machinery (ordered results, chunks, the deadline, the
 * bound on work ahead of the consumer) is mapcore.c's.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "acx_internal.h"
#include "mapcore.h"
#include "procwire.h"

struct acx_procpool_map {
    struct acx__map core; /* first */
    acx_procpool *p;
    acx_proc_fn fn;
    acx_procpool_source next;
    void *src;
    const char *res;      /* the chunk handed out: its reply, */
    size_t res_len;
    size_t at;            /* where its next item's result starts */
    acx_future *held;     /* the last chunk dropped: its reply holds
                           * the last result, valid until next or free */
    acx_buf req;          /* the request being packed */
    size_t req_hint;      /* the last request's size */
};

/* ---- the map core's operations ------------------------------------------- */

static int pm_source(struct acx__map *core, void *item)
{
    acx_procpool_map *m = (acx_procpool_map *)core;
    return m->next(m->src, item);
}

/* Pack item K into the request being built, at once: a source's bytes
 * are only valid until its next call. */
static int pm_add(struct acx__map *core, const void *item, size_t k)
{
    acx_procpool_map *m = (acx_procpool_map *)core;
    const acx_bytes *it = item;
    acx_buf *b = &m->req;
    if (it->len > UINT32_MAX) /* a map item's limit */
        return -EFBIG;
    if (k == 0) { /* sized like the last request: no realloc chain */
        size_t head = sizeof(struct acx__pw_req) + sizeof(uint64_t);
        b->len = 0;
        if (acx_buf_reserve(b, m->req_hint > head ? m->req_hint : head) ==
            NULL)
            return -ENOMEM;
        b->len = head;
    }
    uint32_t len = (uint32_t)it->len;
    char *at = b->len + sizeof len + len <= b->cap
                   ? (char *)b->data + b->len
                   : acx_buf_reserve(b, sizeof len + len);
    if (at == NULL)
        return -ENOMEM;
    memcpy(at, &len, sizeof len);
    if (len > 0)
        memcpy(at + sizeof len, it->data, len);
    b->len += sizeof len + len;
    return 0;
}

/* Send the request pm_add built (the pool takes its buffer over). */
static void *pm_submit(struct acx__map *core, const void *items, size_t n,
                       size_t first, int *err)
{
    acx_procpool_map *m = (acx_procpool_map *)core;
    uint64_t count = n;
    (void)items;
    (void)first;
    memcpy((char *)m->req.data + sizeof(struct acx__pw_req), &count,
           sizeof count);
    m->req_hint = m->req.len;
    size_t payload = m->req.len - sizeof(struct acx__pw_req);
    void *msg = m->req.data;
    m->req = (acx_buf){0};
    acx_future *f =
        acx__procpool_submit_msg(m->p, ACX__PW_CHUNK, m->fn, msg, payload);
    if (f == NULL)
        *err = -errno;
    return f;
}

/* Wait for the chunk's reply and keep it for pm_result. */
static int pm_wait(struct acx__map *core, struct acx__map_chunk *c,
                   int64_t timeout_ms)
{
    acx_procpool_map *m = (acx_procpool_map *)core;
    acx_future *f = c->h;
    int st = acx_future_wait(f, timeout_ms);
    if (st == -ETIMEDOUT && !acx_future_done(f))
        return -ETIMEDOUT;
    const void *r = NULL;
    m->res_len = 0;
    if (st == 0)
        st = acx_procpool_result(f, &r, &m->res_len);
    m->res = r;
    /* a reply that does not answer as many items as were sent is
     * -EPROTO for each of them (AT past the end fails every item) */
    if (st == 0 && acx__pw_result_begin(r, m->res_len, c->n, &m->at) < 0)
        m->at = SIZE_MAX;
    c->status = st; /* a crash, a cancel: each item reports it */
    return 0;
}

/* The next item of the reply: its error, *DATA and *LEN. */
static int reply_item(acx_procpool_map *m, const void **data, size_t *len)
{
    const char *d;
    uint32_t l;
    int err;
    if (acx__pw_result_item(m->res, m->res_len, &m->at, &err, &d, &l) < 0)
        return -EPROTO;
    *data = d;
    *len = l;
    return err;
}

struct pm_out {
    const void **data;
    size_t *len;
};

static int pm_result(struct acx__map *core, const struct acx__map_chunk *c,
                     size_t i, void *out)
{
    acx_procpool_map *m = (acx_procpool_map *)core;
    struct pm_out *o = out;
    const void *d = NULL;
    size_t l = 0;
    int err = c->status;
    (void)i; /* the items come in order: the reply is walked */
    if (err == 0)
        err = reply_item(m, &d, &l);
    if (o->data != NULL)
        *o->data = err == 0 ? d : NULL;
    if (o->len != NULL)
        *o->len = err == 0 ? l : 0;
    return err;
}

/* Cancel a chunk not sent yet (it never will be); its future is let go
 * at the next drop, next or free, since the last result handed out may
 * point into its reply. */
static void pm_drop(struct acx__map *core, void *h)
{
    acx_procpool_map *m = (acx_procpool_map *)core;
    acx_future_cancel(h);
    acx_future_unref(m->held);
    m->held = h;
}

static void let_go(acx_procpool_map *m)
{
    acx_future_unref(m->held);
    m->held = NULL;
}

static const struct acx__map_ops pm_ops = {
    sizeof(acx_bytes), pm_source, pm_add, pm_submit, pm_wait, pm_result,
    pm_drop};

/* ---- the public calls ------------------------------------------------------ */

/* A map of FN on P, its input still to set; INPUT_OK: the caller's
 * input is valid. */
static acx_procpool_map *map_open(acx_procpool *p, acx_proc_fn fn,
                                  const acx_procpool_map_opts *o,
                                  int input_ok)
{
    if (p == NULL || fn == NULL || !input_ok) {
        errno = EINVAL;
        return NULL;
    }
    acx_procpool_map *m = calloc(1, sizeof *m);
    if (m == NULL)
        return NULL;
    m->p = p;
    m->fn = fn;
    acx__map_init(&m->core, &pm_ops, o ? o->chunksize : 0,
                  o ? o->buffersize : 0,
                  (size_t)acx_procpool_max_workers(p),
                  o ? o->timeout_ms : -1, 0);
    return m;
}

acx_procpool_map *acx_procpool_map_new(acx_procpool *p, acx_proc_fn fn,
                                       acx_procpool_source next, void *src,
                                       const acx_procpool_map_opts *opts)
{
    acx_procpool_map *m = map_open(p, fn, opts, next != NULL);
    if (m != NULL) {
        m->next = next;
        m->src = src;
    }
    return m;
}

acx_procpool_map *acx_procpool_map_array(acx_procpool *p, acx_proc_fn fn,
                                         const acx_bytes *items, size_t n,
                                         const acx_procpool_map_opts *opts)
{
    acx_procpool_map *m = map_open(p, fn, opts, items != NULL || n == 0);
    if (m != NULL)
        acx__map_array(&m->core, items, n);
    return m;
}

int acx_procpool_map_next(acx_procpool_map *m, const void **data,
                          size_t *len)
{
    if (m == NULL)
        return -EINVAL;
    struct pm_out o = {data, len};
    let_go(m); /* the last call's result */
    return acx__map_next(&m->core, -1, &o);
}

void acx_procpool_map_free(acx_procpool_map *m)
{
    if (m == NULL)
        return;
    acx__map_release(&m->core);
    let_go(m);
    acx_buf_free(&m->req);
    free(m);
}
