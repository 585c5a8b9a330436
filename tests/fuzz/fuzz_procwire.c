/* fuzz_procwire.c - libFuzzer target for the process pool's wire decoding
 * (runtime/procwire.c), issue 8.
 *
 * The input: 4 bytes of settings, then a byte stream that is read two
 * ways, as the two ends of a worker's socket read it:
 *
 *  - the parent's: replies (struct acx__pw_rep, then LEN bytes) read by
 *    acx__pw_rd in receives of random sizes (never more than it asks
 *    for), as procpool.c's read_some does; each complete reply is also
 *    decoded as a map chunk's reply (acx__pw_result_begin/_item, as
 *    procmap.c does) for a chosen number of items sent;
 *  - the worker's: requests (struct acx__pw_req, then LEN bytes) checked
 *    by acx__pw_req_check, a chunk's items walked by
 *    acx__pw_chunk_begin/_item, as procworker.c does.
 *
 * Each result is compared with a naive model that sees the whole stream:
 * the same replies with the same bytes, the error (and at which byte) or
 * the end of the data.  Payloads are decoded from allocations of exactly
 * their size, so ASan reports any read past them; the reader's buffer is
 * checked to be LEN + 1 bytes at most MAX_LEN + 1 (malloc'd only once the
 * header has passed).
 *
 * Build: clang -fsanitize=fuzzer,address,undefined (make check-fuzz).
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "procwire.h"

#define CHECK(cond)                                                        \
    do {                                                                   \
        if (!(cond)) {                                                     \
            fprintf(stderr, "fuzz_procwire: %s:%d: %s\n", __FILE__,        \
                    __LINE__, #cond);                                      \
            abort();                                                       \
        }                                                                  \
    } while (0)

static uint32_t rng_next(uint32_t *s)
{
    uint32_t x = *s;
    x ^= x << 13;
    x ^= x >> 17;
    x ^= x << 5;
    return *s = x;
}

/* How many bytes one receive returns (at most what was asked). */
static size_t recv_size(uint32_t *s)
{
    uint32_t x = rng_next(s);
    switch (x & 3) {
    case 0:
        return 1;
    case 1:
        return 1 + (x >> 8) % 16;
    default:
        return 1 + (x >> 8) % 2048;
    }
}

/* ---- a map chunk's reply: decoder against model ------------------------- */

static void check_results(const char *payload, size_t n, uint64_t sent)
{
    char *r = malloc(n ? n : 1); /* exactly N bytes */
    CHECK(r != NULL);
    memcpy(r, payload, n);
    size_t at = 12345, mat;
    int got = acx__pw_result_begin(r, n, sent, &at);
    /* model: a u64 count equal to SENT */
    uint64_t count = 0;
    int ok = n >= 8;
    if (ok)
        memcpy(&count, payload, 8);
    ok = ok && count == sent;
    CHECK(got == (ok ? 0 : -EPROTO));
    CHECK(ok ? at == 8 : at == 12345); /* moved only on success */
    if (!ok) {
        free(r);
        return;
    }
    mat = 8;
    /* every item takes 8 bytes or more: N / 8 + 1 calls reach the end */
    for (uint64_t i = 0; i < sent && i <= n / 8 + 1; i++) {
        int err = 1;
        const char *d = NULL;
        uint32_t len = 0;
        size_t before = at;
        int e = acx__pw_result_item(r, n, &at, &err, &d, &len);
        /* model */
        int m_ok = n - mat >= 8;
        int32_t m_err = 0;
        uint32_t m_len = 0;
        if (m_ok) {
            memcpy(&m_err, payload + mat, 4);
            memcpy(&m_len, payload + mat + 4, 4);
            m_ok = (uint64_t)mat + 8 + m_len <= n && m_err <= 0 &&
                   (m_err == 0 || m_len == 0);
        }
        if (!m_ok) {
            CHECK(e == -EPROTO && at == before);
            break;
        }
        CHECK(e == 0 && err == m_err && len == m_len);
        CHECK(d == r + mat + 8);
        CHECK(len == 0 || memcmp(d, payload + mat + 8, len) == 0);
        mat += 8 + m_len;
        CHECK(at == mat);
    }
    free(r);
}

/* ---- the parent's side ---------------------------------------------------- */

/* One reply or the stream's end, as either side sees it. */
struct reply {
    int32_t status;
    uint64_t len;
    size_t at; /* where its payload starts in the stream */
};

enum { MAX_REPLIES = 4096 };
static struct reply real[MAX_REPLIES], model[MAX_REPLIES];

/* The model: the replies in DATA[0..N) and the verdict at its end: 0 (the
 * data ended), or the error of the header ending at *ERR_AT. */
static size_t model_replies(const uint8_t *data, size_t n, size_t max_len,
                            int *verdict, size_t *err_at)
{
    size_t pos = 0, k = 0;
    *verdict = 0;
    while (k < MAX_REPLIES && n - pos >= 16) {
        int32_t status;
        uint32_t pad;
        uint64_t len;
        memcpy(&status, data + pos, 4);
        memcpy(&pad, data + pos + 4, 4);
        memcpy(&len, data + pos + 8, 8);
        pos += 16;
        int bad = status > 0 || pad != 0 || (status != 0 && len != 0);
        if (bad || len > max_len) {
            *verdict = bad ? -EPROTO : -EMSGSIZE;
            *err_at = pos;
            return k;
        }
        if (n - pos < len)
            return k; /* the worker stopped mid-reply */
        model[k++] = (struct reply){status, len, pos};
        pos += len;
    }
    return k;
}

static void parent_side(const uint8_t *data, size_t n, size_t max_len,
                        uint32_t rng, unsigned chunk_sel)
{
    struct acx__pw_rd rd;
    acx__pw_rd_init(&rd, max_len);
    size_t fed = 0, k = 0;
    int verdict = 0;
    while (k < MAX_REPLIES) {
        void *p;
        size_t want;
        acx__pw_rd_space(&rd, &p, &want);
        CHECK(want > 0);
        if (rd.h_got < sizeof rd.h) { /* into the header */
            CHECK(p == (char *)&rd.h + rd.h_got);
            CHECK(want == sizeof rd.h - rd.h_got);
            CHECK(rd.data == NULL);
        } else { /* into the payload: never past it */
            CHECK(p == rd.data + rd.got && rd.got + want == rd.h.len);
        }
        size_t got = recv_size(&rng);
        if (got > want)
            got = want;
        if (got > n - fed)
            got = n - fed;
        if (got == 0)
            break; /* EOF */
        memcpy(p, data + fed, got);
        fed += got;
        int r = acx__pw_rd_commit(&rd, got);
        if (r < 0) {
            verdict = r;
            CHECK(rd.data == NULL); /* no buffer for a refused header */
            break;
        }
        if (r == 1) {
            struct acx__pw_rep h = rd.h;
            CHECK(h.len <= max_len);
            char *d = acx__pw_rd_take(&rd);
            CHECK(d != NULL && d[h.len] == '\0');
            CHECK(rd.data == NULL && rd.h_got == 0 && rd.got == 0);
            CHECK(fed >= h.len);
            CHECK(memcmp(d, data + fed - h.len, h.len) == 0);
            real[k++] = (struct reply){h.status, h.len, fed - h.len};
            /* as procmap reads a chunk's reply: for the items it sent */
            uint64_t sent = chunk_sel & 7;
            if ((chunk_sel & 0x80) && h.len >= 8)
                memcpy(&sent, d, 8); /* past the count check, often */
            check_results(d, h.len, sent);
            free(d);
        }
    }
    int m_verdict;
    size_t err_at = 0;
    size_t mk = model_replies(data, n, max_len, &m_verdict, &err_at);
    if (k != mk || verdict != m_verdict)
        fprintf(stderr, "real %zu replies, %d; model %zu, %d\n", k, verdict,
                mk, m_verdict);
    CHECK(k == mk && verdict == m_verdict);
    CHECK(verdict == 0 || fed == err_at); /* it read no further */
    for (size_t i = 0; i < k; i++)
        CHECK(real[i].status == model[i].status &&
              real[i].len == model[i].len && real[i].at == model[i].at);
    acx__pw_rd_free(&rd);
}

/* ---- the worker's side ---------------------------------------------------- */

static void check_chunk(const char *payload, size_t n)
{
    char *in = malloc(n ? n : 1); /* exactly N bytes */
    CHECK(in != NULL);
    memcpy(in, payload, n);
    uint64_t count = 0;
    size_t at = 777;
    int e = acx__pw_chunk_begin(in, n, &count, &at);
    if (n < 8) {
        CHECK(e == -EPROTO && at == 777);
        free(in);
        return;
    }
    uint64_t m_count;
    memcpy(&m_count, payload, 8);
    CHECK(e == 0 && count == m_count && at == 8);
    size_t mat = 8;
    /* every item takes 4 bytes or more */
    for (uint64_t i = 0; i < count && i <= n / 4 + 1; i++) {
        const char *item = NULL;
        uint32_t len = 0;
        size_t before = at;
        e = acx__pw_chunk_item(in, n, &at, &item, &len);
        uint32_t m_len = 0;
        int m_ok = n - mat >= 4;
        if (m_ok) {
            memcpy(&m_len, payload + mat, 4);
            m_ok = (uint64_t)mat + 4 + m_len <= n;
        }
        if (!m_ok) {
            CHECK(e == -EPROTO && at == before);
            break;
        }
        CHECK(e == 0 && len == m_len && item == in + mat + 4);
        mat += 4 + m_len;
        CHECK(at == mat);
    }
    free(in);
}

static void worker_side(const uint8_t *data, size_t n, size_t max_len)
{
    size_t pos = 0;
    for (int k = 0; k < MAX_REPLIES && n - pos >= sizeof(struct acx__pw_req);
         k++) {
        struct acx__pw_req rq;
        memcpy(&rq, data + pos, sizeof rq);
        pos += sizeof rq;
        int e = acx__pw_req_check(&rq, max_len);
        /* model: kinds 1-3, a payload within the limit */
        uint32_t kind;
        uint64_t len;
        memcpy(&kind, data + pos - 24, 4);
        memcpy(&len, data + pos - 8, 8);
        int m_e = kind == ACX__PW_INIT || kind == ACX__PW_TASK ||
                          kind == ACX__PW_CHUNK
                      ? (len <= max_len ? 0 : -EMSGSIZE)
                      : -EPROTO;
        CHECK(e == m_e);
        if (e < 0 || n - pos < len)
            return; /* the worker exits: a corrupt or cut stream */
        if (kind == ACX__PW_CHUNK)
            check_chunk((const char *)data + pos, len);
        pos += len;
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    /* The length limit leaves room for its terminating zero. */
    struct acx__pw_rd big;
    acx__pw_rd_init(&big, SIZE_MAX);
    struct acx__pw_rep huge = {0, 0, UINT64_MAX};
    memcpy(&big.h, &huge, sizeof huge);
    big.h_got = 0;
    CHECK(acx__pw_rd_commit(&big, sizeof huge) == -EMSGSIZE);
    acx__pw_rd_free(&big);

    if (size < 4)
        return 0;
    /* small limits (the EMSGSIZE edge) or 1 MiB */
    size_t max_len = data[0] < 0xc0 ? (size_t)data[0] * 5 : (size_t)1 << 20;
    uint32_t rng = (uint32_t)data[1] << 8 | data[2] | 1u << 20;
    unsigned chunk_sel = data[3];
    parent_side(data + 4, size - 4, max_len, rng, chunk_sel);
    worker_side(data + 4, size - 4, max_len);
    return 0;
}
