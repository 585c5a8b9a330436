/* poolproc.c - the process variant of the pool (multiprocessing.Pool):
 * chunks run as tasks of a process pool executor (procpool.c), which
 * brings the workers (forked by its zygote), the initializer, the
 * recycling after maxtasksperchild, crash detection and terminate's
 * SIGKILL.
 *
 * A chunk travels as one task: a trampoline in the worker unpacks its
 * items, runs the user's function on each (found by module and offset,
 * as the executor finds its own functions: valid in a re-executed
 * zygote's workers too), and packs every item's status and bytes into
 * the one reply, which the done callback (on the executor's manager
 * thread) unpacks into the chunk.
 *
 * Request: struct hdr, then per item a u64 length and the bytes, or for a
 * star item a u64 argument count and, per argument, a u64 length and
 * the bytes.  Reply: a u64 count, then per item a struct acx__pw_item and
 * the bytes.  Both ends are this program: integers in machine layout.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "pool_internal.h"
#include "procwire.h"

struct hdr {
    uint32_t kind; /* POOL_PLAIN, POOL_STAR */
    uint32_t mod;  /* the user's function (fnref) */
    uint64_t off;
    uint64_t count;
};

static __thread acx_pool *cur_pool; /* whose chunk is finished here */

/* ---- reading packed bytes, bounds checked ------------------------------- */

struct rd {
    const char *p, *end;
};

static int rd_u64(struct rd *r, uint64_t *v)
{
    if ((size_t)(r->end - r->p) < sizeof *v)
        return -EPROTO;
    memcpy(v, r->p, sizeof *v);
    r->p += sizeof *v;
    return 0;
}

static int rd_bytes(struct rd *r, uint64_t len, const void **data)
{
    if ((uint64_t)(r->end - r->p) < len)
        return -EPROTO;
    *data = r->p;
    r->p += len;
    return 0;
}

static int rd_buf(struct rd *r, acx_buf *b)
{
    uint64_t len;
    const void *d;
    int err = rd_u64(r, &len);
    if (err == 0)
        err = rd_bytes(r, len, &d);
    if (err == 0)
        *b = (acx_buf){(void *)d, (size_t)len, 0};
    return err;
}

/* ---- the worker's side ----------------------------------------------------- */

static int run_star(acx_pool_starfn fn, struct rd *r, acx_buf *out)
{
    uint64_t nargs;
    int err = rd_u64(r, &nargs);
    if (err < 0)
        return err;
    if (nargs > (uint64_t)(r->end - r->p) / sizeof(uint64_t))
        return -EPROTO; /* each argument takes a length at least */
    acx_buf *args = malloc((nargs ? nargs : 1) * sizeof *args);
    if (args == NULL)
        return -ENOMEM;
    for (uint64_t i = 0; i < nargs && err == 0; i++)
        err = rd_buf(r, &args[i]);
    if (err == 0)
        err = fn(args, (size_t)nargs, out);
    free(args);
    return err;
}

/* Append one item's status and bytes to the reply. */
static int put_item(acx_buf *rep, int err, const acx_buf *b)
{
    struct acx__pw_item it = {.err = err < 0 ? err : 0,
                              .len = err < 0 ? 0 : b->len};
    int e = acx_buf_append(rep, &it, sizeof it);
    if (e == 0 && it.len > 0)
        e = acx_buf_append(rep, b->data, b->len);
    return e;
}

/* The task every chunk is: run its items, pack their results.  A
 * malformed request (it cannot happen between two copies of this
 * program) fails the chunk with -EPROTO. */
static int chunk_tramp(const void *in, size_t n, acx_buf *out)
{
    struct hdr h;
    if (n < sizeof h)
        return -EPROTO;
    memcpy(&h, in, sizeof h);
    struct rd r = {(const char *)in + sizeof h, (const char *)in + n};
    void *fn = acx__fnref_decode(h.mod, h.off);
    if (fn == NULL)
        return -EINVAL;
    int err = acx_buf_append(out, &h.count, sizeof h.count);
    for (uint64_t i = 0; i < h.count && err == 0; i++) {
        acx_buf res = {0};
        int e;
        if (h.kind == POOL_STAR) {
            e = run_star((acx_pool_starfn)fn, &r, &res);
        } else {
            acx_buf item;
            e = rd_buf(&r, &item);
            if (e == 0)
                e = ((acx_pool_fn)fn)(item.data, item.len, &res);
        }
        if (e == -EPROTO || e == -ENOMEM)
            err = e; /* the chunk, not the item, failed */
        else
            err = put_item(out, e, &res);
        acx_buf_free(&res);
    }
    return err;
}

/* ---- the parent's side ------------------------------------------------------ */

static size_t packed_size(const struct pool_chunk *c)
{
    size_t sz = sizeof(struct hdr);
    for (size_t i = 0; i < c->n; i++) {
        if (c->kind == POOL_STAR) {
            sz += 8;
            for (size_t j = 0; j < c->args[i].nargs; j++)
                sz += 8 + c->args[i].args[j].len;
        } else {
            sz += 8 + c->in[i].len;
        }
    }
    return sz;
}

static char *put_buf(char *w, const acx_buf *b)
{
    uint64_t len = b->len;
    memcpy(w, &len, 8);
    if (len > 0)
        memcpy(w + 8, b->data, b->len);
    return w + 8 + len;
}

/* The request for C: a struct acx__pw_req (the executor fills it in),
 * then the payload, whose size goes to *PAYLOAD.  NULL with errno. */
static char *pack(const struct pool_chunk *c, size_t *payload)
{
    struct hdr h = {.kind = (uint32_t)c->kind, .count = c->n};
    if (acx__fnref_encode(c->fn, &h.mod, &h.off) < 0) {
        errno = EINVAL; /* not a function of this program */
        return NULL;
    }
    *payload = packed_size(c);
    char *msg = malloc(sizeof(struct acx__pw_req) + *payload);
    if (msg == NULL)
        return NULL;
    char *w = msg + sizeof(struct acx__pw_req);
    memcpy(w, &h, sizeof h);
    w += sizeof h;
    for (size_t i = 0; i < c->n; i++) {
        if (c->kind != POOL_STAR) {
            w = put_buf(w, &c->in[i]);
            continue;
        }
        uint64_t nargs = c->args[i].nargs;
        memcpy(w, &nargs, 8);
        w += 8;
        for (size_t j = 0; j < nargs; j++)
            w = put_buf(w, &c->args[i].args[j]);
    }
    return msg;
}

/* The reply into C's results: 0 or -EPROTO / -ENOMEM.  Decoded by the
 * pool wire's checks (procwire.c, fuzzed): a result for each item, each
 * inside the reply, an error never > 0 nor with bytes. */
static int unpack(struct pool_chunk *c, const acx_buf *rep)
{
    const char *r = rep->data;
    size_t at;
    if (acx__pw_result_begin(r, rep->len, c->n, &at) < 0)
        return -EPROTO;
    for (size_t i = 0; i < c->n; i++) {
        const char *d;
        uint32_t len;
        int err;
        if (acx__pw_result_item(r, rep->len, &at, &err, &d, &len) < 0)
            return -EPROTO;
        c->err[i] = err;
        if (len == 0)
            continue;
        /* Exactly its size (and the zero byte acx_buf keeps after the
         * data): one small block per result, no growth policy. */
        char *b = malloc((size_t)len + 1);
        if (b == NULL)
            return -ENOMEM;
        memcpy(b, d, len);
        b[len] = '\0';
        c->out[i] = (acx_buf){b, len, (size_t)len + 1};
    }
    return 0;
}

static void proc_done(acx_future *f, void *arg)
{
    struct pool_chunk *c = arg;
    acx_pool *outer = cur_pool;
    cur_pool = c->pool; /* a callback here must not join its own pool */
    int st = acx_future_status(f);
    if (st == 0) {
        acx_buf rep = {0};
        st = acx_procpool_result_take(f, &rep);
        if (st == 0)
            st = unpack(c, &rep);
        acx_buf_free(&rep);
        if (st < 0)
            acx__pool_chunk_drop_results(c);
    }
    acx__pool_chunk_finish(c, st);
    cur_pool = outer;
}

static int proc_submit(acx_pool *p, struct pool_chunk *c)
{
    size_t payload;
    char *msg = pack(c, &payload);
    if (msg == NULL)
        return -errno;
    acx_future *f = acx__procpool_submit_msg(p->impl, ACX__PW_TASK,
                                             chunk_tramp, msg, payload);
    if (f == NULL) /* a broken executor says so at every submit */
        return -errno;
    if (acx_future_add_done_callback(f, proc_done, c) < 0) {
        /* No callback: finish the chunk from here instead. */
        if (acx_future_cancel(f) == 0) {
            acx__pool_chunk_finish(c, -ENOMEM);
        } else {
            acx_future_wait(f, -1);
            proc_done(f, c);
        }
    }
    acx_future_unref(f);
    return 0;
}

static int proc_start(acx_pool *p)
{
    acx_procpool_opts o = {
        .max_workers = p->nworkers,
        .name_prefix = "acxmp",
        .initializer = p->o.initializer,
        .initarg = p->o.initarg,
        .initarg_len = p->o.initarg_len,
        .max_tasks_per_worker = p->o.maxtasksperchild,
    };
    p->impl = acx_procpool_new(&o);
    return p->impl != NULL ? 0 : -errno;
}

static void proc_terminate(acx_pool *p)
{
    acx_procpool_terminate(p->impl); /* SIGKILL, reaped */
}

static int proc_join(acx_pool *p, int64_t timeout_ms)
{
    acx_procpool_shutdown(p->impl, 0, 0);
    if (timeout_ms >= 0) {
        struct timespec nap = {0, 1000000};
        for (int64_t i = 0; acx_procpool_workers(p->impl) > 0; i++) {
            if (i >= timeout_ms)
                return -ETIMEDOUT;
            nanosleep(&nap, NULL);
        }
    }
    return acx_procpool_shutdown(p->impl, 1, 0);
}

static int proc_in_worker(const acx_pool *p)
{
    return cur_pool == p;
}

static void proc_release(acx_pool *p)
{
    acx_procpool_free(p->impl);
    p->impl = NULL;
}

const struct pool_backend acx__pool_processes = {
    .name = "processes",
    .start = proc_start,
    .submit = proc_submit,
    .terminate = proc_terminate,
    .join = proc_join,
    .in_worker = proc_in_worker,
    .release = proc_release,
};
