/* mapcore.h - the machinery every map shares (internal).
 *
 * acx_executor_map (execmap.c), acx_procpool_map (procmap.c) and the Pool
 * API's imap and imap_unordered (poolimap.c) all read their input lazily
 * in the consumer's thread, pack it into chunks, keep at most MAX_CHUNKS
 * chunks submitted and not fully consumed, hand the results out one item
 * at a time (in input order, or in completion order when UNORDERED), stop
 * waiting at a deadline, report the input's error where it happened and
 * let go of the rest when freed.  That is this module.  A map's backend
 * only says how to submit a chunk, wait for one, read one item's result
 * and drop a chunk (struct acx__map_ops); it embeds a struct acx__map.
 *
 * Everything runs in the consumer's thread (one at a time per map), but
 * acx__map_fail, which any thread may call.
 */
#ifndef ACX_MAPCORE_H
#define ACX_MAPCORE_H

#include <stddef.h>
#include <stdint.h>

struct acx__map;

/* A submitted chunk: the backend's handle and how many items it has.
 * STATUS, set by ops.wait, is 0 (the items ran: each has its own error)
 * or the error each of its items reports (it never ran, its worker
 * crashed, ...). */
struct acx__map_chunk {
    void *h;
    size_t n;
    int status;
};

struct acx__map_ops {
    size_t item_size; /* one input item (an array element, a source's) */
    /* The next item of a source input into *ITEM: 1, 0 at its end, or a
     * negative errno (the input failed). */
    int (*source)(struct acx__map *m, void *item);
    /* NULL, or take item K (0, 1, ...) of the chunk being filled, as it
     * is read: what a source's item points to may be gone by submit.
     * 0, or a negative errno that ends the input there (its error: the
     * items before still go). */
    int (*add)(struct acx__map *m, const void *item, size_t k);
    /* Submit the N items at ITEMS (FIRST: the first one's place in the
     * input; ITEMS is only valid during the call): the chunk's handle, or
     * NULL with a negative errno in *ERR. */
    void *(*submit)(struct acx__map *m, const void *items, size_t n,
                    size_t first, int *err);
    /* Wait up to TIMEOUT_MS (< 0: no limit) for a chunk to be done: in an
     * ordered map *C, the oldest; in an unordered one any, stored in *C.
     * 0 when it is (C->status set), else -ETIMEDOUT.  May return early
     * once acx__map_fail was called (the backend wakes itself). */
    int (*wait)(struct acx__map *m, struct acx__map_chunk *c,
                int64_t timeout_ms);
    /* Hand out item I of the done chunk C through OUT (acx__map_next's
     * OUT); the items of a chunk are asked for in order, once each.
     * Returns the item's error.  Once its last item is handed out, C is
     * dropped: a result that must outlive that is the backend's to keep. */
    int (*result)(struct acx__map *m, const struct acx__map_chunk *c,
                  size_t i, void *out);
    /* Let chunk H go: consumed, or given up (what has not run never
     * will; what runs is left to finish unobserved). */
    void (*drop)(struct acx__map *m, void *h);
};

struct acx__map {
    const struct acx__map_ops *ops;
    const char *arr;        /* an array input, ... */
    size_t arr_n;
    int from_array;         /* ... or ops.source */
    int unordered;
    size_t taken;           /* items read: the next one's place */
    size_t chunksize, max_chunks;
    int64_t deadline_ns;    /* -1: none */
    size_t window;          /* chunks submitted, not fully consumed */
    struct acx__map_chunk *ring; /* ordered: those not yet waited for */
    size_t cap, head, count;
    struct acx__map_chunk cur; /* the chunk being handed out, */
    int have_cur;
    size_t pos;             /* and its next item */
    char *scratch;          /* a source's items for one chunk */
    size_t scratch_cap;
    int src_end;            /* the input is done with */
    int pending_err;        /* the input's (or a submit's) error, to tell */
    int failed;             /* acx__map_fail's error (atomic) */
    int fail_told;
};

/* Set M up: CHUNKSIZE (0: 1), BUFFERSIZE items ahead of the consumer (0:
 * four chunks per worker of WORKERS; SIZE_MAX: no bound), TIMEOUT_MS the
 * overall deadline from now (< 0: none).  Its input is OPS.source until
 * acx__map_array. */
void acx__map_init(struct acx__map *m, const struct acx__map_ops *ops,
                   size_t chunksize, size_t buffersize, size_t workers,
                   int64_t timeout_ms, int unordered);
/* Read the input from N items at ITEMS (ops.item_size each) instead. */
void acx__map_array(struct acx__map *m, const void *items, size_t n);

/* Submit chunks until MAX_CHUNKS are out, or the input ends or failed. */
void acx__map_refill(struct acx__map *m);

/* The next result through OUT (ops.result's), waiting up to TIMEOUT_MS
 * (< 0: no limit) and never past the deadline: the item's error (0: OUT
 * set), -ETIMEDOUT (nothing consumed), the input's or a submit's error
 * once, acx__map_fail's error once, then -ENODATA at the end. */
int acx__map_next(struct acx__map *m, int64_t timeout_ms, void *out);

/* The map cannot go on (a pool terminated): no more chunks are submitted
 * and next reports ERR once, then -ENODATA.  Any thread; the backend
 * wakes a wait of its own. */
void acx__map_fail(struct acx__map *m, int err);
int acx__map_failed(const struct acx__map *m);

/* Drop every chunk still held (M itself is the caller's). */
void acx__map_release(struct acx__map *m);

#endif
