/* procwire.c - the process pool's wire decoding (procwire.h): every check
 * that bytes from the other end of a worker's socket must pass, apart
 * from the sockets that carry them, so that a fuzzer can feed them any
 * bytes (tests/fuzz/fuzz_procwire.c).
 *
 * Both ends are the same program, so a message that fails a check is not
 * another version's dialect: the stream is corrupt (or hostile), its
 * framing can no longer be trusted, and the caller drops the peer.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "procwire.h"

int acx__pw_req_check(const struct acx__pw_req *rq, size_t max_len)
{
    if (rq->kind < ACX__PW_INIT || rq->kind > ACX__PW_CHUNK)
        return -EPROTO;
    return rq->len > max_len ? -EMSGSIZE : 0;
}

int acx__pw_rep_check(const struct acx__pw_rep *h, size_t max_len)
{
    /* a worker sends a status <= 0, no bytes with an error, zero padding */
    if (h->status > 0 || h->pad != 0 || (h->status < 0 && h->len != 0))
        return -EPROTO;
    return h->len > max_len ? -EMSGSIZE : 0;
}

/* ---- the parent's reply reader ------------------------------------------ */

void acx__pw_rd_init(struct acx__pw_rd *r, size_t max_len)
{
    memset(r, 0, sizeof *r);
    /* the payload takes LEN + 1 bytes: keep that from wrapping */
    r->max_len = max_len < SIZE_MAX ? max_len : SIZE_MAX - 1;
}

/* Where a dropped payload's bytes go (the reader's thread's). */
static __thread char pw_scrap[4096];

void acx__pw_rd_space(const struct acx__pw_rd *r, void **p, size_t *n)
{
    if (r->h_got < sizeof r->h) {
        *p = (char *)&r->h + r->h_got;
        *n = sizeof r->h - r->h_got;
    } else if (r->drop) {
        size_t left = (size_t)r->h.len - r->got;
        *p = pw_scrap;
        *n = left < sizeof pw_scrap ? left : sizeof pw_scrap;
    } else {
        *p = r->data + r->got;
        *n = (size_t)r->h.len - r->got;
    }
}

int acx__pw_rd_commit(struct acx__pw_rd *r, size_t n)
{
    if (r->h_got < sizeof r->h) {
        r->h_got += n;
        if (r->h_got < sizeof r->h)
            return 0;
        int e = acx__pw_rep_check(&r->h, r->max_len);
        if (e < 0)
            return e;
        r->data = malloc((size_t)r->h.len + 1);
        r->drop = r->data == NULL; /* read on, keep nothing */
        r->got = 0;
    } else {
        r->got += n;
    }
    if (r->got < r->h.len)
        return 0;
    if (!r->drop)
        r->data[r->h.len] = '\0'; /* results are often text */
    return 1;
}

char *acx__pw_rd_take(struct acx__pw_rd *r)
{
    char *d = r->data;
    r->data = NULL;
    r->h_got = r->got = 0;
    r->drop = 0;
    return d;
}

void acx__pw_rd_free(struct acx__pw_rd *r)
{
    free(r->data);
    r->data = NULL;
    r->h_got = r->got = 0;
    r->drop = 0;
}

/* ---- map chunks ------------------------------------------------------------ */

int acx__pw_chunk_begin(const char *in, size_t n, uint64_t *count,
                        size_t *at)
{
    if (n < sizeof *count)
        return -EPROTO;
    memcpy(count, in, sizeof *count);
    *at = sizeof *count;
    return 0;
}

int acx__pw_chunk_item(const char *in, size_t n, size_t *at,
                       const char **item, uint32_t *len)
{
    uint32_t l;
    if (*at > n || n - *at < sizeof l)
        return -EPROTO;
    memcpy(&l, in + *at, sizeof l);
    if (l > n - *at - sizeof l)
        return -EPROTO;
    *item = in + *at + sizeof l;
    *len = l;
    *at += sizeof l + l;
    return 0;
}

int acx__pw_result_begin(const char *r, size_t n, uint64_t sent,
                         size_t *at)
{
    uint64_t count;
    size_t past;
    if (acx__pw_chunk_begin(r, n, &count, &past) < 0 || count != sent)
        return -EPROTO; /* a result per item sent, no more, no less */
    *at = past;
    return 0;
}

int acx__pw_result_item(const char *r, size_t n, size_t *at, int *err,
                        const char **data, uint32_t *len)
{
    struct acx__pw_item it;
    if (*at > n || n - *at < sizeof it)
        return -EPROTO;
    memcpy(&it, r + *at, sizeof it);
    if (it.len > n - *at - sizeof it || it.err > 0 ||
        (it.err < 0 && it.len != 0))
        return -EPROTO;
    *err = it.err;
    *data = r + *at + sizeof it;
    *len = it.len;
    *at += sizeof it + it.len;
    return 0;
}
