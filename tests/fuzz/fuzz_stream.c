/* fuzz_stream.c - libFuzzer target for the stream reader's parsing core
 * (runtime/stream_buf.c), issue 8.
 *
 * The input chooses a record limit, a separator of 1-4 bytes, the bytes
 * the peer sends, how they are cut into arrivals (1 byte at a time, odd
 * chunks, large ones) and a sequence of read calls: readuntil (with a
 * caller's buffer size), readline, readexactly, read(n), read(-1),
 * consume, and limit changes (lowered below what is buffered, raised).  Each call is driven as stream.c drives it (ask
 * acx__sbuf_record; if it needs more, make room with acx__sbuf_space and
 * commit the next arrival; at the end of the data, EOF) and its result is
 * compared with a trivially correct model that sees the whole byte string
 * at once and searches it naively.  Also checked: the record's bytes are
 * the peer's, an error consumes nothing, the buffer never holds or
 * allocates more than the limit, and a search never moves backwards.
 *
 * Build: clang -fsanitize=fuzzer,address,undefined (make check-fuzz).
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "stream_buf.h"

#define CHECK(cond)                                                        \
    do {                                                                   \
        if (!(cond)) {                                                     \
            fprintf(stderr, "fuzz_stream: %s:%d: %s\n", __FILE__,          \
                    __LINE__, #cond);                                      \
            abort();                                                       \
        }                                                                  \
    } while (0)

/* The input, read front to back; zeros once it runs out. */
typedef struct {
    const uint8_t *p;
    size_t n;
} cursor;

static unsigned next(cursor *c)
{
    if (c->n == 0)
        return 0;
    c->n--;
    return *c->p++;
}

/* The peer's bytes and how far they have arrived / been consumed. */
typedef struct {
    const uint8_t *data;
    size_t len;   /* all the peer will ever send */
    size_t fed;   /* arrived in the buffer so far */
    size_t pos;   /* consumed by the reader */
    int eof;      /* the reader has seen the end */
    cursor *ctl;  /* chooses the arrival sizes */
} peer;

/* One arrival: as stream.c's rd_fill, into the room the buffer gives. */
static size_t g_maxlimit; /* the largest limit so far: the memory bound */

static void feed(acx__sbuf *b, peer *pr, size_t limit)
{
    char *p;
    size_t room;
    CHECK(acx__sbuf_space(b, &p, &room) == 0);
    /* acx__sbuf_record asked for more, so there must be room for it */
    CHECK(room > 0);
    CHECK(acx__sbuf_len(b) + room <= limit);
    CHECK(b->cap <= g_maxlimit);
    unsigned sel = next(pr->ctl);
    size_t chunk = sel < 128 ? 1 : sel < 250 ? (size_t)(sel % 23) + 1
                                             : (size_t)sel * 64;
    if (chunk > room)
        chunk = room;
    if (chunk > pr->len - pr->fed)
        chunk = pr->len - pr->fed;
    if (chunk == 0) {
        pr->eof = 1;
        return;
    }
    memcpy(p, pr->data + pr->fed, chunk);
    acx__sbuf_commit(b, chunk);
    pr->fed += chunk;
}

/* The model: where SEP first ends in the unconsumed bytes, if it ends
 * within LIM of them, else 0.  Naive on purpose. */
static size_t naive_find(const peer *pr, const uint8_t *sep, size_t m,
                         size_t lim)
{
    size_t rem = pr->len - pr->pos;
    size_t upto = rem < lim ? rem : lim;
    for (size_t i = 0; i + m <= upto; i++)
        if (memcmp(pr->data + pr->pos + i, sep, m) == 0)
            return i + m;
    return 0;
}

/* What the call R must return, knowing every byte the peer sends.  SOME
 * is checked by range instead (its size depends on the arrivals). */
static ssize_t model(const peer *pr, const acx__rec *r, size_t limit)
{
    size_t rem = pr->len - pr->pos;
    switch (r->kind) {
    case ACX__REC_UNTIL:
    case ACX__REC_LINE: {
        size_t lim = r->n < limit ? r->n : limit;
        size_t at = naive_find(pr, (const uint8_t *)r->sep, r->m, lim);
        if (at)
            return (ssize_t)at;
        if (rem >= lim)
            return -EMSGSIZE;
        if (rem == 0)
            return 0;
        return r->kind == ACX__REC_LINE ? (ssize_t)rem : -ENODATA;
    }
    case ACX__REC_EXACT:
        if (r->n > limit)
            return -EMSGSIZE;
        if (rem >= r->n)
            return (ssize_t)r->n;
        return rem == 0 ? 0 : -ENODATA;
    case ACX__REC_ALL:
        if (!pr->eof && rem >= limit)
            return -EMSGSIZE;
        return (ssize_t)rem;
    }
    return -1;
}

/* The buffered bytes are exactly the peer's, arrived and not consumed. */
static void check_buffer(const acx__sbuf *b, const peer *pr, size_t limit)
{
    CHECK(acx__sbuf_len(b) == pr->fed - pr->pos);
    CHECK(acx__sbuf_len(b) <= g_maxlimit);
    (void)limit;
    if (acx__sbuf_len(b))
        CHECK(memcmp(acx__sbuf_peek(b), pr->data + pr->pos,
                     acx__sbuf_len(b)) == 0);
}

/* Drive one call as stream.c does, then compare. */
static void run_call(acx__sbuf *b, peer *pr, acx__rec *r, size_t limit)
{
    ssize_t want = r->kind == ACX__REC_SOME ? 0 : model(pr, r, limit);
    ssize_t got;
    size_t last_scan = r->scan;
    while (!acx__sbuf_record(b, r, pr->eof, &got)) {
        CHECK(r->scan >= last_scan); /* never searched again */
        if (r->kind == ACX__REC_UNTIL || r->kind == ACX__REC_LINE) {
            size_t len = acx__sbuf_len(b);
            CHECK(len < r->m || r->scan == len - r->m + 1);
        }
        last_scan = r->scan;
        CHECK(!pr->eof);
        feed(b, pr, limit);
        check_buffer(b, pr, limit);
    }
    if (r->kind == ACX__REC_SOME) {
        size_t rem = pr->len - pr->pos;
        if (r->n == 0 || rem == 0)
            CHECK(got == 0);
        else
            CHECK(got >= 1 && (size_t)got <= r->n && (size_t)got <= rem);
    } else {
        if (got != want)
            fprintf(stderr, "kind %d: got %zd, model %zd\n", r->kind, got,
                    want);
        CHECK(got == want);
    }
    check_buffer(b, pr, limit); /* an error consumes nothing */
    if (got > 0) {
        CHECK((size_t)got <= acx__sbuf_len(b));
        CHECK(memcmp(acx__sbuf_peek(b), pr->data + pr->pos, (size_t)got) ==
              0);
        if (r->kind == ACX__REC_UNTIL ||
            (r->kind == ACX__REC_LINE && pr->data[pr->pos + got - 1] == '\n'))
            CHECK(memcmp(acx__sbuf_peek(b) + got - r->m, r->sep, r->m) == 0);
        acx__sbuf_consume(b, (size_t)got);
        pr->pos += (size_t)got;
    }
    check_buffer(b, pr, limit);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 5)
        return 0;
    cursor in = {data, size};
    unsigned l0 = next(&in), l1 = next(&in);
    /* small limits mostly (edges), up to 20000 (the buffer's growth) */
    size_t limit = (l0 & 0x80) ? 1 + ((l0 & 0x7f) << 8 | l1) % 20000
                               : 1 + l1 % 64;
    size_t m = 1 + next(&in) % 4;
    uint8_t sep[4];
    for (size_t i = 0; i < m; i++)
        sep[i] = (uint8_t)next(&in);
    /* The rest: the control bytes, then the peer's bytes. */
    unsigned frac = next(&in);
    size_t rest = in.n;
    size_t dlen = rest * frac / 256;
    cursor ctl = {in.p, rest - dlen};
    peer pr = {in.p + (rest - dlen), dlen, 0, 0, 0, &ctl};

    g_maxlimit = limit;
    acx__sbuf b;
    acx__sbuf_init(&b, limit);
    CHECK(acx__sbuf_len(&b) == 0);
    for (int calls = 0; calls < 10000; calls++) {
        if (pr.eof && pr.pos == pr.len)
            break; /* everything read: at_eof */
        acx__rec r;
        memset(&r, 0, sizeof r);
        unsigned op = next(&ctl), arg = next(&ctl);
        switch (op % 8) {
        case 0:
        case 1:
            r.kind = ACX__REC_UNTIL;
            r.sep = (const char *)sep;
            r.m = m;
            r.n = arg == 0 ? SIZE_MAX : (size_t)arg * 3;
            break;
        case 2:
            r.kind = ACX__REC_LINE;
            r.sep = "\n";
            r.m = 1;
            r.n = arg == 0 ? SIZE_MAX : (size_t)arg;
            break;
        case 3:
            r.kind = ACX__REC_EXACT;
            r.n = arg;
            break;
        case 4:
            r.kind = ACX__REC_SOME;
            r.n = arg;
            break;
        case 5:
            r.kind = ACX__REC_ALL;
            break;
        case 7: /* acx_stream_set_limit: lowering keeps what is buffered */
            limit = (arg & 0x80) ? 1 + (size_t)arg * 97 : 1 + arg % 64;
            if (limit > g_maxlimit)
                g_maxlimit = limit;
            b.limit = limit;
            continue;
        default: { /* consume: how a caller skips an over-long record */
            size_t k = arg < acx__sbuf_len(&b) ? arg : acx__sbuf_len(&b);
            acx__sbuf_consume(&b, k);
            pr.pos += k;
            /* a reader behind its peer grows the buffer: no byte
             * moves, the allocation stays within the largest limit */
            if (op & 0x80)
                CHECK(acx__sbuf_grow(&b) == 0);
            /* an idle stream gives a grown buffer back, never bytes */
            size_t cap = b.cap;
            int freed = acx__sbuf_trim(&b);
            CHECK(!freed || (acx__sbuf_len(&b) == 0 && cap > ACX__SBUF_KEEP));
            check_buffer(&b, &pr, limit);
            continue;
        }
        }
        run_call(&b, &pr, &r, limit);
        /* Once the control bytes are gone, a call that makes no progress
         * would repeat forever: stop there. */
        if (ctl.n == 0 && calls > 64)
            break;
    }
    /* The buffer appends what fits and no more. */
    size_t had = acx__sbuf_len(&b);
    ssize_t app = acx__sbuf_append(&b, data, size);
    CHECK(app >= 0);
    CHECK(acx__sbuf_len(&b) == had + (size_t)app);
    CHECK(app == 0 || acx__sbuf_len(&b) <= limit);
    acx__sbuf_free(&b);
    return 0;
}
