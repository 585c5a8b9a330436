/* signals.c - Blinker-style signals (acx_signal.h).
 *
 * Each signal keeps its connections in an immutable array that is replaced,
 * never edited (copy-on-write), under the signal's mutex.  The array is
 * reference counted: the signal holds one reference to its current array,
 * and each send holds one to the array it took at its start; the array
 * holds one reference to each of its connections.  So a send runs with no
 * lock over a snapshot whose connections cannot be freed under it, and the
 * last holder of an array frees it.  A disconnect also clears the
 * connection's `connected` flag, which a send checks before each call.
 */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "acx_internal.h"

struct acx_connection {
    atomic_int refs;      /* arrays holding it, plus temporary holds */
    atomic_int connected; /* cleared by disconnect */
    acx_signal *sig;
    acx_receiver_fn fn;             /* a plain receiver, or NULL */
    acx_async_receiver_fn afn;      /* an async receiver, or NULL */
    void *ctx;
    const void *sender;
};

struct rcv_array {
    atomic_int refs;
    size_t n;
    acx_connection *c[];
};

enum { SIG_ANON, SIG_REGISTERED, SIG_META };

struct acx_signal {
    pthread_mutex_t lock;
    struct rcv_array *arr; /* current connections; NULL when none */
    atomic_int muted;
    int kind;
    char *name;
    char *doc;
    acx_signal *next; /* hash chain in a namespace */
};

struct acx_namespace {
    pthread_mutex_t lock;
    acx_signal **buckets;
    size_t nbuckets, count;
};

static acx_namespace acx__global_ns = {PTHREAD_MUTEX_INITIALIZER, NULL, 0, 0};

static acx_signal acx__meta_connected = {
    .lock = PTHREAD_MUTEX_INITIALIZER,
    .kind = SIG_META,
    .name = (char *)"acx.receiver_connected",
    .doc = (char *)"sent after a receiver connects to any signal",
};
static acx_signal acx__meta_disconnected = {
    .lock = PTHREAD_MUTEX_INITIALIZER,
    .kind = SIG_META,
    .name = (char *)"acx.receiver_disconnected",
    .doc = (char *)"sent after a receiver disconnects from any signal",
};

/* ---- reference counting ------------------------------------------------ */

static void conn_hold(acx_connection *c)
{
    atomic_fetch_add_explicit(&c->refs, 1, memory_order_relaxed);
}

static void conn_release(acx_connection *c)
{
    if (atomic_fetch_sub_explicit(&c->refs, 1, memory_order_acq_rel) == 1)
        free(c);
}

static void arr_release(struct rcv_array *a)
{
    if (a == NULL)
        return;
    if (atomic_fetch_sub_explicit(&a->refs, 1, memory_order_acq_rel) != 1)
        return;
    for (size_t i = 0; i < a->n; i++)
        conn_release(a->c[i]);
    free(a);
}

/* A new array of N slots, refcount 1; the caller fills it and holds each
 * connection it stores. */
static struct rcv_array *arr_alloc(size_t n)
{
    struct rcv_array *a = malloc(sizeof *a + n * sizeof a->c[0]);
    if (a == NULL)
        return NULL;
    atomic_init(&a->refs, 1);
    a->n = n;
    return a;
}

/* The current array with a reference taken, or NULL. */
static struct rcv_array *snapshot(acx_signal *s)
{
    pthread_mutex_lock(&s->lock);
    struct rcv_array *a = s->arr;
    if (a != NULL)
        atomic_fetch_add_explicit(&a->refs, 1, memory_order_relaxed);
    pthread_mutex_unlock(&s->lock);
    return a;
}

static int matches(const acx_connection *c, const void *sender)
{
    return c->sender == NULL || c->sender == sender;
}

/* ---- signals ------------------------------------------------------------ */

static char *dup_str(const char *str)
{
    size_t n = strlen(str) + 1;
    char *d = malloc(n);
    if (d != NULL)
        memcpy(d, str, n);
    return d;
}

static acx_signal *sig_alloc(int kind, const char *name, const char *doc)
{
    acx_signal *s = calloc(1, sizeof *s);
    if (s == NULL)
        return NULL;
    if ((name != NULL && (s->name = dup_str(name)) == NULL) ||
        (doc != NULL && (s->doc = dup_str(doc)) == NULL)) {
        free(s->name);
        free(s);
        return NULL;
    }
    pthread_mutex_init(&s->lock, NULL);
    atomic_init(&s->muted, 0);
    s->kind = kind;
    return s;
}

static void sig_destroy(acx_signal *s)
{
    arr_release(s->arr);
    pthread_mutex_destroy(&s->lock);
    free(s->name);
    free(s->doc);
    free(s);
}

acx_signal *acx_signal_new(const char *doc)
{
    acx_signal *s = sig_alloc(SIG_ANON, NULL, doc);
    if (s == NULL)
        errno = ENOMEM;
    return s;
}

void acx_signal_free(acx_signal *s)
{
    if (s != NULL && s->kind == SIG_ANON)
        sig_destroy(s);
}

const char *acx_signal_name(const acx_signal *s)
{
    return s != NULL ? s->name : NULL;
}

const char *acx_signal_doc(const acx_signal *s)
{
    return s != NULL ? s->doc : NULL;
}

/* ---- registries ---------------------------------------------------------- */

static size_t hash_str(const char *str)
{
    size_t h = 1469598103934665603u; /* FNV-1a */
    for (; *str; str++)
        h = (h ^ (unsigned char)*str) * 1099511628211u;
    return h;
}

/* Double the bucket array (at least 16); on ENOMEM keep the old one. */
static void ns_grow(acx_namespace *ns)
{
    size_t nb = ns->nbuckets ? ns->nbuckets * 2 : 16;
    acx_signal **b = calloc(nb, sizeof *b);
    if (b == NULL)
        return;
    for (size_t i = 0; i < ns->nbuckets; i++) {
        for (acx_signal *s = ns->buckets[i], *next; s != NULL; s = next) {
            next = s->next;
            size_t j = hash_str(s->name) & (nb - 1);
            s->next = b[j];
            b[j] = s;
        }
    }
    free(ns->buckets);
    ns->buckets = b;
    ns->nbuckets = nb;
}

static acx_signal *ns_lookup(acx_namespace *ns, const char *name)
{
    if (ns == NULL || name == NULL || name[0] == '\0') {
        errno = EINVAL;
        return NULL;
    }
    pthread_mutex_lock(&ns->lock);
    size_t h = hash_str(name);
    acx_signal *s = NULL;
    if (ns->nbuckets > 0)
        for (s = ns->buckets[h & (ns->nbuckets - 1)]; s != NULL; s = s->next)
            if (strcmp(s->name, name) == 0)
                break;
    if (s == NULL) {
        if (ns->count >= ns->nbuckets)
            ns_grow(ns);
        if (ns->nbuckets > 0 &&
            (s = sig_alloc(SIG_REGISTERED, name, NULL)) != NULL) {
            size_t j = h & (ns->nbuckets - 1);
            s->next = ns->buckets[j];
            ns->buckets[j] = s;
            ns->count++;
        }
    }
    pthread_mutex_unlock(&ns->lock);
    if (s == NULL)
        errno = ENOMEM;
    return s;
}

acx_signal *acx_signal_named(const char *name)
{
    if (name != NULL && strcmp(name, acx__meta_connected.name) == 0)
        return &acx__meta_connected;
    if (name != NULL && strcmp(name, acx__meta_disconnected.name) == 0)
        return &acx__meta_disconnected;
    return ns_lookup(&acx__global_ns, name);
}

acx_namespace *acx_namespace_new(void)
{
    acx_namespace *ns = calloc(1, sizeof *ns);
    if (ns == NULL) {
        errno = ENOMEM;
        return NULL;
    }
    pthread_mutex_init(&ns->lock, NULL);
    return ns;
}

acx_signal *acx_namespace_signal(acx_namespace *ns, const char *name)
{
    return ns_lookup(ns, name);
}

void acx_namespace_free(acx_namespace *ns)
{
    if (ns == NULL || ns == &acx__global_ns)
        return;
    for (size_t i = 0; i < ns->nbuckets; i++)
        for (acx_signal *s = ns->buckets[i], *next; s != NULL; s = next) {
            next = s->next;
            sig_destroy(s);
        }
    free(ns->buckets);
    pthread_mutex_destroy(&ns->lock);
    free(ns);
}

acx_signal *acx_signal_receiver_connected(void)
{
    return &acx__meta_connected;
}

acx_signal *acx_signal_receiver_disconnected(void)
{
    return &acx__meta_disconnected;
}

/* ---- connect and disconnect ---------------------------------------------- */

/* Send meta-signal M about connection C of S, then drop the hold on C the
 * caller took under S's lock. */
static void meta_send(acx_signal *m, acx_signal *s, acx_connection *c)
{
    if (s->kind != SIG_META)
        acx_signal_send(m, s, c, NULL, 0, NULL);
    conn_release(c);
}

static int connect_any(acx_signal *s, acx_receiver_fn fn,
                       acx_async_receiver_fn afn, void *ctx,
                       const void *sender, acx_connection **out)
{
    if (s == NULL || (fn == NULL && afn == NULL))
        return -EINVAL;
    acx_connection *c = malloc(sizeof *c);
    if (c == NULL)
        return -ENOMEM;
    atomic_init(&c->refs, 2); /* the new array's, and ours for the meta send */
    atomic_init(&c->connected, 1);
    c->sig = s;
    c->fn = fn;
    c->afn = afn;
    c->ctx = ctx;
    c->sender = sender;

    pthread_mutex_lock(&s->lock);
    struct rcv_array *old = s->arr;
    size_t n = old != NULL ? old->n : 0;
    struct rcv_array *a = arr_alloc(n + 1);
    if (a == NULL) {
        pthread_mutex_unlock(&s->lock);
        free(c);
        return -ENOMEM;
    }
    for (size_t i = 0; i < n; i++)
        conn_hold(a->c[i] = old->c[i]);
    a->c[n] = c;
    s->arr = a;
    if (out != NULL)
        *out = c;
    pthread_mutex_unlock(&s->lock);

    arr_release(old);
    meta_send(&acx__meta_connected, s, c);
    return 0;
}

int acx_signal_connect(acx_signal *s, acx_receiver_fn fn, void *ctx,
                       const void *sender, acx_connection **out)
{
    return connect_any(s, fn, NULL, ctx, sender, out);
}

int acx_signal_connect_async(acx_signal *s, acx_async_receiver_fn fn,
                             void *ctx, const void *sender,
                             acx_connection **out)
{
    return connect_any(s, NULL, fn, ctx, sender, out);
}

/* Replace S's array by one without the connections KILL selects (matched
 * by pointer C, or by FN and CTX when C is NULL); each one removed is
 * marked disconnected and stored, held, in GONE (up to MAX).  Returns how
 * many were removed, or -ENOMEM.  Called with S locked. */
static int remove_locked(acx_signal *s, acx_connection *c, acx_receiver_fn fn,
                         void *ctx, acx_connection **gone, size_t max)
{
    struct rcv_array *old = s->arr;
    if (old == NULL)
        return 0;
    size_t kill = 0;
    for (size_t i = 0; i < old->n; i++) {
        acx_connection *x = old->c[i];
        if (c != NULL ? x == c : (x->fn == fn && x->ctx == ctx))
            kill++;
    }
    if (kill == 0)
        return 0;
    if (kill > max)
        kill = max; /* the rest on the next round */
    struct rcv_array *a = NULL;
    if (old->n > kill && (a = arr_alloc(old->n - kill)) == NULL)
        return -ENOMEM;
    size_t k = 0, j = 0;
    for (size_t i = 0; i < old->n; i++) {
        acx_connection *x = old->c[i];
        if (k < kill && (c != NULL ? x == c : (x->fn == fn && x->ctx == ctx))) {
            atomic_store_explicit(&x->connected, 0, memory_order_release);
            conn_hold(x);
            gone[k++] = x;
        } else {
            conn_hold(a->c[j++] = x);
        }
    }
    s->arr = a;
    arr_release(old); /* no last reference freed here: gone[] holds those */
    return (int)kill;
}

int acx_signal_disconnect(acx_signal *s, acx_connection *c)
{
    if (s == NULL || c == NULL)
        return -EINVAL;
    acx_connection *gone;
    pthread_mutex_lock(&s->lock);
    int r = remove_locked(s, c, NULL, NULL, &gone, 1);
    pthread_mutex_unlock(&s->lock);
    if (r < 0)
        return r;
    if (r == 0)
        return -ENOENT;
    meta_send(&acx__meta_disconnected, s, gone);
    return 0;
}

int acx_signal_disconnect_fn(acx_signal *s, acx_receiver_fn fn, void *ctx)
{
    if (s == NULL || fn == NULL)
        return -EINVAL;
    int total = 0;
    for (;;) {
        acx_connection *gone[32];
        pthread_mutex_lock(&s->lock);
        int r = remove_locked(s, NULL, fn, ctx, gone, 32);
        pthread_mutex_unlock(&s->lock);
        if (r < 0)
            return total > 0 ? total : r;
        if (r == 0)
            return total;
        for (int i = 0; i < r; i++)
            meta_send(&acx__meta_disconnected, s, gone[i]);
        total += r;
    }
}

acx_signal *acx_connection_signal(const acx_connection *c)
{
    return c != NULL ? c->sig : NULL;
}

acx_receiver_fn acx_connection_fn(const acx_connection *c)
{
    return c != NULL ? c->fn : NULL;
}

void *acx_connection_ctx(const acx_connection *c)
{
    return c != NULL ? c->ctx : NULL;
}

const void *acx_connection_sender(const acx_connection *c)
{
    return c != NULL ? c->sender : NULL;
}

acx_signal_scope acx__signal_scope_begin(acx_signal *s, acx_receiver_fn fn,
                                         void *ctx, const void *sender)
{
    acx_signal_scope sc = {s, NULL, 0};
    sc.rc = acx_signal_connect(s, fn, ctx, sender, &sc.connection);
    if (sc.rc != 0)
        sc.connection = NULL;
    return sc;
}

void acx__signal_scope_end(acx_signal_scope *sc)
{
    if (sc->connection != NULL)
        acx_signal_disconnect(sc->signal, sc->connection);
    sc->connection = NULL;
}

int acx_signal_mute(acx_signal *s, int on)
{
    if (s == NULL)
        return -EINVAL;
    return atomic_exchange_explicit(&s->muted, on != 0, memory_order_acq_rel);
}

/* ---- sending ------------------------------------------------------------- */

int acx_signal_send(acx_signal *s, const void *sender, void *payload,
                    acx_signal_result *results, size_t max, size_t *count)
{
    if (s == NULL || (results == NULL && max > 0))
        return -EINVAL;
    size_t called = 0;
    if (!atomic_load_explicit(&s->muted, memory_order_acquire)) {
        struct rcv_array *a = snapshot(s);
        for (size_t i = 0; a != NULL && i < a->n; i++) {
            acx_connection *c = a->c[i];
            if (!matches(c, sender) ||
                !atomic_load_explicit(&c->connected, memory_order_acquire))
                continue;
            /* an async receiver needs an awaiting sender */
            intptr_t r = c->fn != NULL ? c->fn(c->ctx, sender, payload)
                                       : -EWOULDBLOCK;
            if (called < max) {
                results[called].connection = c;
                results[called].result = r;
            }
            called++;
        }
        arr_release(a);
    }
    if (count != NULL)
        *count = called;
    return 0;
}

size_t acx_signal_receivers_for(acx_signal *s, const void *sender,
                                acx_connection **out, size_t max)
{
    if (s == NULL || (out == NULL && max > 0))
        return 0;
    size_t n = 0;
    pthread_mutex_lock(&s->lock);
    for (size_t i = 0; s->arr != NULL && i < s->arr->n; i++) {
        acx_connection *c = s->arr->c[i];
        if (!matches(c, sender))
            continue;
        if (n < max)
            out[n] = c;
        n++;
    }
    pthread_mutex_unlock(&s->lock);
    return n;
}

int acx_signal_has_receivers_for(acx_signal *s, const void *sender)
{
    if (s == NULL)
        return -EINVAL;
    return acx_signal_receivers_for(s, sender, NULL, 0) > 0;
}

/* ---- the async send ------------------------------------------------------
 *
 * await acx_signal_send_async(...): the same snapshot walk as a send, but
 * an async receiver's coroutine runs as a child of this frame (on the
 * awaiting task) to its end before the next receiver is called: receivers
 * run one after the other, in connection order, as Blinker's send_async
 * awaits them.  An interrupt (cancel, timeout) stops the walk after the
 * receiver it reached.
 */
struct send_frame {
    ACX__FRAME_PREFIX;
    int acx__ret;
    acx_signal *s;
    const void *sender;
    void *payload;
    acx_signal_result *results;
    size_t max, *count;
    struct rcv_array *a;
    size_t i, called;
    acx_coro *child;
};

static void send_record(struct send_frame *f, acx_connection *c, intptr_t r)
{
    if (f->called < f->max) {
        f->results[f->called].connection = c;
        f->results[f->called].result = r;
    }
    f->called++;
}

static int send_finish(struct send_frame *f, int rc)
{
    arr_release(f->a);
    f->a = NULL;
    if (f->count != NULL)
        *f->count = f->called;
    f->acx__ret = rc;
    return ACX__DONE;
}

static int send_body(acx_coro *co)
{
    struct send_frame *f = (struct send_frame *)co;
    if (f->acx__state == 1) { /* an async receiver finished */
        acx_coro *ch = f->child;
        int r = ch->info->result_int ? ch->info->result_int(ch) : 0;
        acx_coro_free(ch);
        f->child = NULL;
        send_record(f, f->a->c[f->i++], r);
        int err = acx__intr_check();
        if (err)
            return send_finish(f, err);
    } else {
        if (f->s == NULL || (f->results == NULL && f->max > 0)) {
            f->acx__ret = -EINVAL;
            return ACX__DONE;
        }
        if (atomic_load_explicit(&f->s->muted, memory_order_acquire))
            return send_finish(f, 0);
        f->a = snapshot(f->s);
        f->i = 0;
    }
    for (; f->a != NULL && f->i < f->a->n; f->i++) {
        acx_connection *c = f->a->c[f->i];
        if (!matches(c, f->sender) ||
            !atomic_load_explicit(&c->connected, memory_order_acquire))
            continue;
        if (c->fn != NULL) {
            send_record(f, c, c->fn(c->ctx, f->sender, f->payload));
            continue;
        }
        acx_coro *ch = c->afn(c->ctx, f->sender, f->payload);
        if (ch == NULL) {
            send_record(f, c, -ENOMEM);
            continue;
        }
        f->child = ch;
        ch->parent = co;
        f->acx__state = 1;
        return acx__push(ch);
    }
    return send_finish(f, 0);
}

ACX__LEAF_INFO_AS(static, send_info, struct send_frame,
                  "acx_signal_send_async", send_body, NULL, NULL);

acx_coro *acx_signal_send_async(acx_signal *s, const void *sender,
                                void *payload, acx_signal_result *results,
                                size_t max, size_t *count)
{
    struct send_frame *f = (struct send_frame *)(void *)acx__coro_alloc(
        sizeof(struct send_frame), &send_info);
    if (f == NULL)
        return NULL;
    f->acx__ret = 0;
    f->s = s;
    f->sender = sender;
    f->payload = payload;
    f->results = results;
    f->max = max;
    f->count = count;
    f->a = NULL;
    f->called = 0;
    f->child = NULL;
    return &f->acx__hdr;
}
