/* pool_internal.h - what the pool's files share: chunks, owners (async
 * results and iterators) and the backends that run chunks (threads,
 * processes).
 *
 * A chunk is the unit of work, a few items run by one task.  Its owner
 * (the async result or iterator that made it) hears of it once through
 * owner_ops.chunk_done, in the thread that finished it; terminate tells
 * every registered owner through owner_ops.abort.  Owners, chunks and the
 * pool are reference counted, since a terminated thread pool's running
 * task may outlive every user handle.
 */
#ifndef ACX_POOL_INTERNAL_H
#define ACX_POOL_INTERNAL_H

#include <pthread.h>
#include <stdatomic.h>

#include "acx_internal.h"

enum { POOL_PLAIN, POOL_STAR };
enum { POOL_RUN, POOL_CLOSED, POOL_TERMINATED };

struct pool_owner;
struct pool_chunk;

struct owner_ops {
    /* CHUNK finished (STATUS 0: its items ran, see its ERR array) or
     * never ran (STATUS < 0).  The owner keeps a reference if it wants
     * the chunk longer. */
    void (*chunk_done)(struct pool_owner *o, struct pool_chunk *c,
                       int status);
    void (*abort)(struct pool_owner *o, int err); /* terminate */
    void (*destroy)(struct pool_owner *o);        /* last reference */
};

struct pool_owner {
    const struct owner_ops *ops;
    struct pool_owner *prev, *next; /* the pool's live owners */
    int registered;                 /* on that list (pool's MU) */
    _Atomic int refs;
};

struct pool_chunk {
    struct pool_owner *owner; /* a reference */
    acx_pool *pool;           /* a reference */
    int kind;                 /* POOL_PLAIN, POOL_STAR */
    void *fn;                 /* acx_pool_fn or acx_pool_starfn */
    size_t first, n;          /* its items' place in the input */
    const acx_buf *in;        /* POOL_PLAIN: N items */
    const acx_args *args;     /* POOL_STAR: N tuples */
    acx_buf *out;             /* N results (in the chunk) */
    int *err;                 /* N statuses (in the chunk) */
    int status;               /* as given to chunk_done */
    int done;                 /* owner's flag, under its lock */
    struct pool_chunk *next;  /* owner's list */
    _Atomic int refs;
    _Atomic int ran;          /* a backend started it */
    acx_buf store_in[];       /* an iterator's copies of N descriptors */
};

struct pool_backend {
    const char *name;
    int (*start)(acx_pool *p);
    /* Run C's items and call acx__pool_chunk_finish(C, status) once, from
     * any thread; may do so before returning.  A negative return means
     * the chunk was not taken (the caller finishes it). */
    int (*submit)(acx_pool *p, struct pool_chunk *c);
    void (*terminate)(acx_pool *p); /* stop workers; fail queued chunks */
    /* Wait for the workers to exit after close or terminate. */
    int (*join)(acx_pool *p, int64_t timeout_ms);
    int (*in_worker)(const acx_pool *p); /* called from one of P's */
    void (*release)(acx_pool *p); /* free the backend (workers gone, or
                                     being left: running chunks) */
};

struct acx_pool {
    const struct pool_backend *be;
    void *impl;
    int kind;
    int nworkers;
    acx_pool_opts o;
    pthread_mutex_t mu;
    pthread_cond_t cv;  /* an owner unregistered */
    int state;          /* POOL_RUN, POOL_CLOSED, POOL_TERMINATED */
    int broken;         /* the initializer's error, or 0 */
    struct pool_owner owners; /* sentinel of the live owners */
    size_t nowners;
    _Atomic int refs;   /* the user's, one per chunk not finished */
};

extern const struct pool_backend acx__pool_threads;
extern const struct pool_backend acx__pool_processes;

/* pool.c */
void acx__pool_ref(acx_pool *p);
void acx__pool_unref(acx_pool *p);
int acx__pool_check(acx_pool *p);     /* 0, or why calls are refused */
int acx__pool_register(acx_pool *p, struct pool_owner *o);
void acx__pool_unregister(acx_pool *p, struct pool_owner *o);
void acx__pool_broken(acx_pool *p, int err);
size_t acx__pool_live_chunks(void); /* for tests */
void acx__owner_init(struct pool_owner *o, const struct owner_ops *ops);
void acx__owner_ref(struct pool_owner *o);
void acx__owner_unref(struct pool_owner *o);

/* A chunk of N items for owner O (refs taken), its arrays inside; with
 * STORE_IN, room for N input descriptors too. */
struct pool_chunk *acx__pool_chunk_new(acx_pool *p, struct pool_owner *o,
                                       int kind, void *fn, size_t n,
                                       int store_in);
void acx__pool_chunk_put(struct pool_chunk *c);
/* Send C (which the caller hands over); on failure C is finished with
 * the error, in this thread. */
void acx__pool_chunk_send(struct pool_chunk *c);
/* Run C's items here (a thread worker or a process worker). */
void acx__pool_chunk_run(struct pool_chunk *c);
/* The backend is done with C: tell the owner, drop the backend's ref. */
void acx__pool_chunk_finish(struct pool_chunk *c, int status);
void acx__pool_chunk_drop_results(struct pool_chunk *c);

#endif
