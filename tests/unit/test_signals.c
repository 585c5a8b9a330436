/* test_signals.c - Blinker-style signals: registry, filtering, order,
 * results, muting, scoped connections, meta-signals, changes during a send
 * and concurrent sends on threads.
 */
#include <CUnit/CUnit.h>
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "acx.h"
#include "suites.h"

/* A receiver that counts its calls and answers its context's tag. */
struct rec {
    atomic_long calls;
    intptr_t tag;
    int *order;    /* when set, appends tag at order[*pos] */
    int *pos;
    const void *last_sender;
    void *last_payload;
};

static intptr_t rec_fn(void *ctx, const void *sender, void *payload)
{
    struct rec *r = ctx;
    atomic_fetch_add(&r->calls, 1);
    r->last_sender = sender;
    r->last_payload = payload;
    if (r->order != NULL)
        r->order[(*r->pos)++] = (int)r->tag;
    return r->tag;
}

static void rec_init(struct rec *r, intptr_t tag)
{
    memset(r, 0, sizeof *r);
    atomic_init(&r->calls, 0);
    r->tag = tag;
}

/* ---- registry ---------------------------------------------------------- */

static void test_named_identity(void)
{
    acx_signal *a = acx_signal_named("test.identity");
    CU_ASSERT_PTR_NOT_NULL_FATAL(a);
    CU_ASSERT_PTR_EQUAL(acx_signal_named("test.identity"), a);
    CU_ASSERT_PTR_NOT_EQUAL(acx_signal_named("test.identity2"), a);
    CU_ASSERT_STRING_EQUAL(acx_signal_name(a), "test.identity");
    acx_signal_free(a); /* ignored */
    CU_ASSERT_PTR_EQUAL(acx_signal_named("test.identity"), a);
    CU_ASSERT_PTR_EQUAL(acx_signal_named("acx.receiver_connected"),
                        acx_signal_receiver_connected());
    CU_ASSERT_PTR_EQUAL(acx_signal_named("acx.receiver_disconnected"),
                        acx_signal_receiver_disconnected());
    /* many names: the registry grows and keeps identities */
    acx_signal *sigs[200];
    char name[32];
    for (int i = 0; i < 200; i++) {
        snprintf(name, sizeof name, "test.many.%d", i);
        sigs[i] = acx_signal_named(name);
        CU_ASSERT_PTR_NOT_NULL(sigs[i]);
    }
    for (int i = 0; i < 200; i++) {
        snprintf(name, sizeof name, "test.many.%d", i);
        CU_ASSERT_PTR_EQUAL(acx_signal_named(name), sigs[i]);
    }
}

#define REG_THREADS 4
#define REG_NAMES 64

static void *reg_main(void *arg)
{
    acx_signal **out = arg;
    char name[32];
    for (int i = 0; i < REG_NAMES; i++) {
        snprintf(name, sizeof name, "test.race.%d", i);
        out[i] = acx_signal_named(name);
    }
    return NULL;
}

static void test_named_threads(void)
{
    static acx_signal *got[REG_THREADS][REG_NAMES];
    pthread_t th[REG_THREADS];
    for (int t = 0; t < REG_THREADS; t++)
        CU_ASSERT_EQUAL_FATAL(pthread_create(&th[t], NULL, reg_main, got[t]), 0);
    for (int t = 0; t < REG_THREADS; t++)
        pthread_join(th[t], NULL);
    for (int i = 0; i < REG_NAMES; i++) {
        CU_ASSERT_PTR_NOT_NULL(got[0][i]);
        for (int t = 1; t < REG_THREADS; t++)
            CU_ASSERT_PTR_EQUAL(got[t][i], got[0][i]);
    }
}

static void test_namespaces(void)
{
    acx_namespace *ns1 = acx_namespace_new(), *ns2 = acx_namespace_new();
    CU_ASSERT_PTR_NOT_NULL_FATAL(ns1);
    CU_ASSERT_PTR_NOT_NULL_FATAL(ns2);
    acx_signal *a = acx_namespace_signal(ns1, "test.ns");
    CU_ASSERT_PTR_NOT_NULL_FATAL(a);
    CU_ASSERT_PTR_EQUAL(acx_namespace_signal(ns1, "test.ns"), a);
    CU_ASSERT_PTR_NOT_EQUAL(acx_namespace_signal(ns2, "test.ns"), a);
    CU_ASSERT_PTR_NOT_EQUAL(acx_signal_named("test.ns"), a);
    /* a receiver in the namespace is not reached through the global one */
    struct rec r;
    rec_init(&r, 1);
    CU_ASSERT_EQUAL(acx_signal_connect(a, rec_fn, &r, NULL, NULL), 0);
    size_t n = 99;
    CU_ASSERT_EQUAL(acx_signal_send(acx_signal_named("test.ns"), NULL, NULL,
                                    NULL, 0, &n), 0);
    CU_ASSERT_EQUAL(n, 0);
    CU_ASSERT_EQUAL(acx_signal_send(a, NULL, NULL, NULL, 0, &n), 0);
    CU_ASSERT_EQUAL(n, 1);
    acx_signal_free(a); /* ignored: the namespace owns it */
    acx_namespace_free(ns1); /* frees the signal and its connection */
    acx_namespace_free(ns2);
    acx_namespace_free(NULL);
}

static void test_anonymous(void)
{
    acx_signal *a = acx_signal_new("a doc"), *b = acx_signal_new(NULL);
    CU_ASSERT_PTR_NOT_NULL_FATAL(a);
    CU_ASSERT_PTR_NOT_NULL_FATAL(b);
    CU_ASSERT_PTR_NOT_EQUAL(a, b);
    CU_ASSERT_PTR_NULL(acx_signal_name(a));
    CU_ASSERT_STRING_EQUAL(acx_signal_doc(a), "a doc");
    CU_ASSERT_PTR_NULL(acx_signal_doc(b));
    struct rec r;
    rec_init(&r, 1);
    CU_ASSERT_EQUAL(acx_signal_connect(a, rec_fn, &r, NULL, NULL), 0);
    acx_signal_free(a); /* with a connection still on it */
    acx_signal_free(b);
    acx_signal_free(NULL);
}

/* ---- connect, send ------------------------------------------------------ */

static void test_sender_filter(void)
{
    acx_signal *s = acx_signal_new(NULL);
    int sa, sb;
    struct rec any, onlya, onlyb;
    rec_init(&any, 1);
    rec_init(&onlya, 2);
    rec_init(&onlyb, 3);
    CU_ASSERT_EQUAL(acx_signal_connect(s, rec_fn, &onlya, &sa, NULL), 0);
    CU_ASSERT_EQUAL(acx_signal_connect(s, rec_fn, &onlyb, &sb, NULL), 0);
    CU_ASSERT_EQUAL(acx_signal_has_receivers_for(s, &sa), 1);
    CU_ASSERT_EQUAL(acx_signal_has_receivers_for(s, NULL), 0);
    CU_ASSERT_EQUAL(acx_signal_has_receivers_for(s, &any), 0);
    size_t n;
    CU_ASSERT_EQUAL(acx_signal_send(s, &sa, (void *)&sb, NULL, 0, &n), 0);
    CU_ASSERT_EQUAL(n, 1);
    CU_ASSERT_EQUAL(onlya.calls, 1);
    CU_ASSERT_EQUAL(onlyb.calls, 0);
    CU_ASSERT_PTR_EQUAL(onlya.last_sender, &sa);
    CU_ASSERT_PTR_EQUAL(onlya.last_payload, &sb);
    CU_ASSERT_EQUAL(acx_signal_send(s, NULL, NULL, NULL, 0, &n), 0);
    CU_ASSERT_EQUAL(n, 0); /* a NULL sender reaches only any-receivers */
    CU_ASSERT_EQUAL(acx_signal_connect(s, rec_fn, &any, NULL, NULL), 0);
    CU_ASSERT_EQUAL(acx_signal_has_receivers_for(s, NULL), 1);
    CU_ASSERT_EQUAL(acx_signal_send(s, &sb, NULL, NULL, 0, &n), 0);
    CU_ASSERT_EQUAL(n, 2);
    CU_ASSERT_EQUAL(acx_signal_send(s, &n, NULL, NULL, 0, &n), 0);
    CU_ASSERT_EQUAL(n, 1);
    CU_ASSERT_EQUAL(any.calls, 2);
    CU_ASSERT_EQUAL(onlya.calls, 1);
    CU_ASSERT_EQUAL(onlyb.calls, 1);
    acx_connection *out[4];
    CU_ASSERT_EQUAL(acx_signal_receivers_for(s, &sa, out, 4), 2);
    CU_ASSERT_PTR_EQUAL(acx_connection_ctx(out[0]), &onlya);
    CU_ASSERT_PTR_EQUAL(acx_connection_ctx(out[1]), &any);
    CU_ASSERT_PTR_EQUAL(acx_connection_sender(out[0]), &sa);
    CU_ASSERT_PTR_EQUAL(acx_connection_signal(out[0]), s);
    CU_ASSERT_EQUAL(acx_signal_receivers_for(s, &sa, out, 1), 2);
    CU_ASSERT_EQUAL(acx_signal_receivers_for(s, NULL, NULL, 0), 1);
    acx_signal_free(s);
}

static void test_order_and_results(void)
{
    acx_signal *s = acx_signal_new(NULL);
    int order[16], pos = 0;
    struct rec r[5];
    acx_connection *c[5];
    for (int i = 0; i < 5; i++) {
        rec_init(&r[i], 10 + i);
        r[i].order = order;
        r[i].pos = &pos;
        CU_ASSERT_EQUAL(acx_signal_connect(s, rec_fn, &r[i], NULL, &c[i]), 0);
    }
    acx_signal_result res[3];
    size_t n = 0;
    CU_ASSERT_EQUAL(acx_signal_send(s, NULL, NULL, res, 3, &n), 0);
    CU_ASSERT_EQUAL(n, 5); /* more than max */
    CU_ASSERT_EQUAL(pos, 5);
    for (int i = 0; i < 5; i++)
        CU_ASSERT_EQUAL(order[i], 10 + i);
    for (int i = 0; i < 3; i++) {
        CU_ASSERT_PTR_EQUAL(res[i].connection, c[i]);
        CU_ASSERT_EQUAL(res[i].result, 10 + i);
    }
    /* disconnect the middle one: order of the rest kept */
    CU_ASSERT_EQUAL(acx_signal_disconnect(s, c[2]), 0);
    CU_ASSERT_EQUAL(acx_signal_disconnect(s, c[2]), -ENOENT);
    acx_signal_result all[8];
    CU_ASSERT_EQUAL(acx_signal_send(s, NULL, NULL, all, 8, &n), 0);
    CU_ASSERT_EQUAL(n, 4);
    CU_ASSERT_EQUAL(all[0].result, 10);
    CU_ASSERT_EQUAL(all[1].result, 11);
    CU_ASSERT_EQUAL(all[2].result, 13);
    CU_ASSERT_EQUAL(all[3].result, 14);
    CU_ASSERT_EQUAL(acx_signal_send(s, NULL, NULL, NULL, 0, NULL), 0);
    acx_signal_free(s);
}

static void test_disconnect_fn(void)
{
    acx_signal *s = acx_signal_new(NULL);
    struct rec a, b;
    rec_init(&a, 1);
    rec_init(&b, 2);
    int snd;
    for (int i = 0; i < 40; i++) /* more than one removal batch */
        CU_ASSERT_EQUAL(acx_signal_connect(s, rec_fn, &a, i % 2 ? &snd : NULL,
                                           NULL), 0);
    CU_ASSERT_EQUAL(acx_signal_connect(s, rec_fn, &b, NULL, NULL), 0);
    CU_ASSERT_EQUAL(acx_signal_disconnect_fn(s, rec_fn, &a), 40);
    CU_ASSERT_EQUAL(acx_signal_disconnect_fn(s, rec_fn, &a), 0);
    size_t n;
    acx_signal_send(s, &snd, NULL, NULL, 0, &n);
    CU_ASSERT_EQUAL(n, 1);
    CU_ASSERT_EQUAL(a.calls, 0);
    CU_ASSERT_EQUAL(b.calls, 1);
    acx_signal_free(s);
}

static void test_mute(void)
{
    acx_signal *s = acx_signal_new(NULL);
    struct rec r;
    rec_init(&r, 1);
    CU_ASSERT_EQUAL(acx_signal_connect(s, rec_fn, &r, NULL, NULL), 0);
    CU_ASSERT_EQUAL(acx_signal_mute(s, 1), 0);
    CU_ASSERT_EQUAL(acx_signal_mute(s, 1), 1);
    size_t n = 99;
    CU_ASSERT_EQUAL(acx_signal_send(s, NULL, NULL, NULL, 0, &n), 0);
    CU_ASSERT_EQUAL(n, 0);
    CU_ASSERT_EQUAL(r.calls, 0);
    CU_ASSERT_EQUAL(acx_signal_has_receivers_for(s, NULL), 1);
    CU_ASSERT_EQUAL(acx_signal_mute(s, 0), 1);
    CU_ASSERT_EQUAL(acx_signal_send(s, NULL, NULL, NULL, 0, &n), 0);
    CU_ASSERT_EQUAL(n, 1);
    CU_ASSERT_EQUAL(r.calls, 1);
    acx_signal_free(s);
}

static void scoped_body(acx_signal *s, struct rec *r, int early)
{
    ACX_SIGNAL_CONNECTED_TO(s, rec_fn, r, NULL);
    CU_ASSERT_EQUAL(acx_signal_has_receivers_for(s, NULL), 1);
    acx_signal_send(s, NULL, NULL, NULL, 0, NULL);
    if (early)
        return;
    acx_signal_send(s, NULL, NULL, NULL, 0, NULL);
}

static void test_scoped(void)
{
    acx_signal *s = acx_signal_new(NULL);
    struct rec r;
    rec_init(&r, 1);
    {
        ACX_SIGNAL_SCOPE(sc, s, rec_fn, &r, NULL);
        CU_ASSERT_EQUAL(sc.rc, 0);
        CU_ASSERT_PTR_NOT_NULL(sc.connection);
        acx_signal_send(s, NULL, NULL, NULL, 0, NULL);
        CU_ASSERT_EQUAL(r.calls, 1);
    }
    CU_ASSERT_EQUAL(acx_signal_has_receivers_for(s, NULL), 0);
    scoped_body(s, &r, 1); /* left by an early return */
    CU_ASSERT_EQUAL(acx_signal_has_receivers_for(s, NULL), 0);
    scoped_body(s, &r, 0);
    CU_ASSERT_EQUAL(acx_signal_has_receivers_for(s, NULL), 0);
    CU_ASSERT_EQUAL(r.calls, 4);
    {
        ACX_SIGNAL_SCOPE(bad, NULL, rec_fn, &r, NULL); /* failed: no-op */
        CU_ASSERT_EQUAL(bad.rc, -EINVAL);
        CU_ASSERT_PTR_NULL(bad.connection);
    }
    acx_signal_free(s);
}

/* ---- meta-signals -------------------------------------------------------- */

struct meta_log {
    int n;
    const void *sender[8];
    acx_connection *conn[8];
    void *ctx[8];
};

static intptr_t meta_fn(void *ctx, const void *sender, void *payload)
{
    struct meta_log *m = ctx;
    if (m->n < 8) {
        m->sender[m->n] = sender;
        m->conn[m->n] = payload;
        m->ctx[m->n] = acx_connection_ctx(payload); /* still readable */
    }
    m->n++;
    return 0;
}

static void test_meta(void)
{
    acx_signal *s = acx_signal_new(NULL);
    struct meta_log con = {0}, dis = {0};
    acx_connection *mc, *md, *c;
    struct rec r;
    rec_init(&r, 1);
    /* only this signal's events are logged: filter on sender s */
    CU_ASSERT_EQUAL(acx_signal_connect(acx_signal_receiver_connected(),
                                       meta_fn, &con, s, &mc), 0);
    CU_ASSERT_EQUAL(acx_signal_connect(acx_signal_receiver_disconnected(),
                                       meta_fn, &dis, s, &md), 0);
    CU_ASSERT_EQUAL(con.n, 0); /* connecting to a meta-signal is not news */
    CU_ASSERT_EQUAL(acx_signal_connect(s, rec_fn, &r, NULL, &c), 0);
    CU_ASSERT_EQUAL(con.n, 1);
    CU_ASSERT_PTR_EQUAL(con.sender[0], s);
    CU_ASSERT_PTR_EQUAL(con.conn[0], c);
    CU_ASSERT_PTR_EQUAL(con.ctx[0], &r);
    CU_ASSERT_EQUAL(dis.n, 0);
    CU_ASSERT_EQUAL(acx_signal_disconnect(s, c), 0);
    CU_ASSERT_EQUAL(dis.n, 1);
    CU_ASSERT_PTR_EQUAL(dis.sender[0], s);
    CU_ASSERT_PTR_EQUAL(dis.conn[0], c);
    CU_ASSERT_PTR_EQUAL(dis.ctx[0], &r);
    {
        ACX_SIGNAL_CONNECTED_TO(s, rec_fn, &r, NULL);
        CU_ASSERT_EQUAL(con.n, 2);
    }
    CU_ASSERT_EQUAL(dis.n, 2);
    CU_ASSERT_EQUAL(acx_signal_disconnect(acx_signal_receiver_connected(), mc), 0);
    CU_ASSERT_EQUAL(acx_signal_disconnect(acx_signal_receiver_disconnected(), md), 0);
    CU_ASSERT_EQUAL(dis.n, 2);
    acx_signal_free(s);
}

/* ---- changes during a send ---------------------------------------------- */

struct mutator {
    acx_signal *s;
    acx_connection *self;   /* disconnect this (its own connection) */
    acx_connection *victim; /* disconnect this one */
    struct rec *newrec;     /* connect this one */
    acx_connection *newc;
    atomic_long calls;
};

static intptr_t mutator_fn(void *ctx, const void *sender, void *payload)
{
    struct mutator *m = ctx;
    atomic_fetch_add(&m->calls, 1);
    if (m->self != NULL) {
        CU_ASSERT_EQUAL(acx_signal_disconnect(m->s, m->self), 0);
        m->self = NULL;
    }
    if (m->victim != NULL) {
        CU_ASSERT_EQUAL(acx_signal_disconnect(m->s, m->victim), 0);
        m->victim = NULL;
    }
    if (m->newrec != NULL) {
        CU_ASSERT_EQUAL(acx_signal_connect(m->s, rec_fn, m->newrec, NULL,
                                           &m->newc), 0);
        m->newrec = NULL;
    }
    return 7;
}

static void test_self_disconnect(void)
{
    acx_signal *s = acx_signal_new(NULL);
    struct mutator m = {.s = s};
    struct rec after;
    rec_init(&after, 2);
    CU_ASSERT_EQUAL(acx_signal_connect(s, mutator_fn, &m, NULL, &m.self), 0);
    CU_ASSERT_EQUAL(acx_signal_connect(s, rec_fn, &after, NULL, NULL), 0);
    acx_signal_result res[4];
    size_t n;
    CU_ASSERT_EQUAL(acx_signal_send(s, NULL, NULL, res, 4, &n), 0);
    CU_ASSERT_EQUAL(n, 2); /* it ran, disconnected itself, the next ran */
    CU_ASSERT_EQUAL(res[0].result, 7);
    CU_ASSERT_EQUAL(res[1].result, 2);
    CU_ASSERT_EQUAL(acx_signal_send(s, NULL, NULL, res, 4, &n), 0);
    CU_ASSERT_EQUAL(n, 1);
    CU_ASSERT_EQUAL(m.calls, 1);
    CU_ASSERT_EQUAL(after.calls, 2);
    acx_signal_free(s);
}

static void test_disconnect_other(void)
{
    acx_signal *s = acx_signal_new(NULL);
    struct mutator m = {.s = s};
    struct rec victim, other;
    rec_init(&victim, 2);
    rec_init(&other, 3);
    CU_ASSERT_EQUAL(acx_signal_connect(s, mutator_fn, &m, NULL, NULL), 0);
    CU_ASSERT_EQUAL(acx_signal_connect(s, rec_fn, &victim, NULL, &m.victim), 0);
    CU_ASSERT_EQUAL(acx_signal_connect(s, rec_fn, &other, NULL, NULL), 0);
    size_t n;
    CU_ASSERT_EQUAL(acx_signal_send(s, NULL, NULL, NULL, 0, &n), 0);
    CU_ASSERT_EQUAL(n, 2); /* the victim, later in the list, was skipped */
    CU_ASSERT_EQUAL(victim.calls, 0);
    CU_ASSERT_EQUAL(other.calls, 1);
    CU_ASSERT_EQUAL(acx_signal_receivers_for(s, NULL, NULL, 0), 2);
    acx_signal_free(s);
}

static void test_connect_during_send(void)
{
    acx_signal *s = acx_signal_new(NULL);
    struct rec fresh;
    rec_init(&fresh, 5);
    struct mutator m = {.s = s, .newrec = &fresh};
    CU_ASSERT_EQUAL(acx_signal_connect(s, mutator_fn, &m, NULL, NULL), 0);
    size_t n;
    CU_ASSERT_EQUAL(acx_signal_send(s, NULL, NULL, NULL, 0, &n), 0);
    CU_ASSERT_EQUAL(n, 1);
    CU_ASSERT_EQUAL(fresh.calls, 0); /* not in this send's snapshot */
    CU_ASSERT_PTR_NOT_NULL(m.newc);
    CU_ASSERT_EQUAL(acx_signal_send(s, NULL, NULL, NULL, 0, &n), 0);
    CU_ASSERT_EQUAL(n, 2);
    CU_ASSERT_EQUAL(fresh.calls, 1);
    acx_signal_free(s);
}

/* A receiver that sends the same signal again (nested send). */
static intptr_t reentrant_fn(void *ctx, const void *sender, void *payload)
{
    acx_signal *s = ctx;
    intptr_t depth = (intptr_t)payload;
    size_t n = 0;
    if (depth < 3)
        acx_signal_send(s, sender, (void *)(depth + 1), NULL, 0, &n);
    return depth;
}

static void test_reentrant_send(void)
{
    acx_signal *s = acx_signal_new(NULL);
    CU_ASSERT_EQUAL(acx_signal_connect(s, reentrant_fn, s, NULL, NULL), 0);
    acx_signal_result res;
    size_t n;
    CU_ASSERT_EQUAL(acx_signal_send(s, NULL, (void *)0, &res, 1, &n), 0);
    CU_ASSERT_EQUAL(n, 1);
    CU_ASSERT_EQUAL(res.result, 0);
    acx_signal_free(s);
}

/* ---- threads -------------------------------------------------------------- */

#define TH_SENDERS 4
#define TH_SENDS 20000

struct th_shared {
    acx_signal *s;
    atomic_int stop;
    atomic_long reported; /* sum of the counts sends reported */
};

static void *sender_main(void *arg)
{
    struct th_shared *sh = arg;
    long rep = 0;
    for (int i = 0; i < TH_SENDS; i++) {
        size_t n = 0;
        acx_signal_result res[4];
        acx_signal_send(sh->s, NULL, NULL, res, 4, &n);
        rep += (long)n;
    }
    atomic_fetch_add(&sh->reported, rep);
    return NULL;
}

/* Thread-safe receiver: counts only. */
static intptr_t count_fn(void *ctx, const void *sender, void *payload)
{
    atomic_fetch_add((atomic_long *)ctx, 1);
    return 1;
}

static atomic_long churn_calls;

static void *churn_main(void *arg)
{
    struct th_shared *sh = arg;
    long cycles = 0;
    /* at least one cycle: on a loaded machine the senders may all finish
     * before this thread is first scheduled */
    do {
        acx_connection *c;
        if (acx_signal_connect(sh->s, count_fn, &churn_calls, NULL, &c) == 0)
            CU_ASSERT_EQUAL(acx_signal_disconnect(sh->s, c), 0);
        cycles++;
    } while (!atomic_load(&sh->stop));
    return (void *)(intptr_t)cycles;
}

static void test_threads(void)
{
    struct th_shared sh = {.s = acx_signal_new(NULL)};
    atomic_init(&sh.stop, 0);
    atomic_init(&sh.reported, 0);
    atomic_long fixed;
    atomic_init(&fixed, 0);
    atomic_store(&churn_calls, 0);
    CU_ASSERT_EQUAL(acx_signal_connect(sh.s, count_fn, &fixed, NULL, NULL), 0);
    pthread_t snd[TH_SENDERS], churn;
    CU_ASSERT_EQUAL_FATAL(pthread_create(&churn, NULL, churn_main, &sh), 0);
    for (int i = 0; i < TH_SENDERS; i++)
        CU_ASSERT_EQUAL_FATAL(pthread_create(&snd[i], NULL, sender_main, &sh), 0);
    for (int i = 0; i < TH_SENDERS; i++)
        pthread_join(snd[i], NULL);
    atomic_store(&sh.stop, 1);
    void *ret;
    pthread_join(churn, &ret);
    CU_ASSERT((intptr_t)ret > 0);
    /* every send called the fixed receiver exactly once, and the counts
     * reported are exactly the calls made */
    CU_ASSERT_EQUAL(atomic_load(&fixed), (long)TH_SENDERS * TH_SENDS);
    CU_ASSERT_EQUAL(atomic_load(&sh.reported),
                    atomic_load(&fixed) + atomic_load(&churn_calls));
    CU_ASSERT_EQUAL(acx_signal_receivers_for(sh.s, NULL, NULL, 0), 1);
    acx_signal_free(sh.s);
}

/* ---- invalid arguments ------------------------------------------------- */

static void test_invalid(void)
{
    acx_signal *s = acx_signal_new(NULL);
    acx_connection *c;
    errno = 0;
    CU_ASSERT_PTR_NULL(acx_signal_named(NULL));
    CU_ASSERT_EQUAL(errno, EINVAL);
    errno = 0;
    CU_ASSERT_PTR_NULL(acx_signal_named(""));
    CU_ASSERT_EQUAL(errno, EINVAL);
    errno = 0;
    CU_ASSERT_PTR_NULL(acx_namespace_signal(NULL, "x"));
    CU_ASSERT_EQUAL(errno, EINVAL);
    CU_ASSERT_EQUAL(acx_signal_connect(NULL, rec_fn, NULL, NULL, &c), -EINVAL);
    CU_ASSERT_EQUAL(acx_signal_connect(s, NULL, NULL, NULL, &c), -EINVAL);
    CU_ASSERT_EQUAL(acx_signal_disconnect(NULL, NULL), -EINVAL);
    CU_ASSERT_EQUAL(acx_signal_disconnect(s, NULL), -EINVAL);
    CU_ASSERT_EQUAL(acx_signal_disconnect(s, (acx_connection *)&c), -ENOENT);
    CU_ASSERT_EQUAL(acx_signal_disconnect_fn(NULL, rec_fn, NULL), -EINVAL);
    CU_ASSERT_EQUAL(acx_signal_disconnect_fn(s, NULL, NULL), -EINVAL);
    CU_ASSERT_EQUAL(acx_signal_send(NULL, NULL, NULL, NULL, 0, NULL), -EINVAL);
    CU_ASSERT_EQUAL(acx_signal_send(s, NULL, NULL, NULL, 1, NULL), -EINVAL);
    CU_ASSERT_EQUAL(acx_signal_has_receivers_for(NULL, NULL), -EINVAL);
    CU_ASSERT_EQUAL(acx_signal_receivers_for(NULL, NULL, NULL, 0), 0);
    CU_ASSERT_EQUAL(acx_signal_mute(NULL, 1), -EINVAL);
    CU_ASSERT_PTR_NULL(acx_signal_name(NULL));
    CU_ASSERT_PTR_NULL(acx_connection_fn(NULL));
    /* a connection is only valid on its own signal */
    acx_signal *t = acx_signal_new(NULL);
    CU_ASSERT_EQUAL(acx_signal_connect(s, rec_fn, NULL, NULL, &c), 0);
    CU_ASSERT_EQUAL(acx_signal_disconnect(t, c), -ENOENT);
    CU_ASSERT_EQUAL(acx_signal_disconnect(s, c), 0);
    acx_signal_free(t);
    acx_signal_free(s);
}

int acx_test_add_signals(void)
{
    CU_pSuite s = CU_add_suite("signals", NULL, NULL);
    if (s == NULL)
        return -1;
    if (!CU_add_test(s, "named: same name, same signal", test_named_identity) ||
        !CU_add_test(s, "named: identity across 4 threads", test_named_threads) ||
        !CU_add_test(s, "namespaces isolated", test_namespaces) ||
        !CU_add_test(s, "anonymous signals", test_anonymous) ||
        !CU_add_test(s, "sender filter and any-sender", test_sender_filter) ||
        !CU_add_test(s, "order, results and count", test_order_and_results) ||
        !CU_add_test(s, "disconnect by fn and ctx", test_disconnect_fn) ||
        !CU_add_test(s, "muting", test_mute) ||
        !CU_add_test(s, "scoped connection (cleanup)", test_scoped) ||
        !CU_add_test(s, "meta-signals", test_meta) ||
        !CU_add_test(s, "self-disconnect during send", test_self_disconnect) ||
        !CU_add_test(s, "disconnect another during send", test_disconnect_other) ||
        !CU_add_test(s, "connect during send", test_connect_during_send) ||
        !CU_add_test(s, "re-entrant send", test_reentrant_send) ||
        !CU_add_test(s, "4 senders, 1 thread connecting", test_threads) ||
        !CU_add_test(s, "invalid arguments", test_invalid))
        return -1;
    return 0;
}
