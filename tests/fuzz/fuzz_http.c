/* fuzz_http.c - libFuzzer target for examples/http's request parser
 * (examples/http_parse.c), issue 8.
 *
 * The input: 4 bytes of settings, then the bytes a client sends on one
 * connection.  The settings choose the connection's buffer size (small
 * ones reach the 431 edge often; 8192 is the example's), the header line
 * limit (none, or 1-127) and whether the lines are stored, and a seed for
 * how the bytes are cut into arrivals (1 byte, a few, a few KiB).
 *
 * The connection is driven as examples/http.acx's serve_conn drives it:
 * parse the unparsed bytes after every arrival; a verdict (a status) ends
 * a request; an error or a request without keep-alive ends the
 * connection; a full buffer with no complete head is 431.  Each call sees
 * its bytes in an allocation of exactly their size, so ASan reports any
 * read past them.  The verdicts must equal those of a naive model that
 * sees every byte at once and parses each head its own way (split into
 * lines, then into fields): status, head length, keep-alive, method,
 * target, version, Content-Length, Transfer-Encoding, the header count
 * and every stored header.  That also proves the verdict does not depend
 * on how the bytes arrive.
 *
 * Build: clang -fsanitize=fuzzer,address,undefined (make check-fuzz-http).
 */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "http_parse.h"

#define CHECK(cond)                                                        \
    do {                                                                   \
        if (!(cond)) {                                                     \
            fprintf(stderr, "fuzz_http: %s:%d: %s\n", __FILE__, __LINE__,  \
                    #cond);                                                \
            abort();                                                       \
        }                                                                  \
    } while (0)

enum { MAX_EVENTS = 1024, MAX_STORE = 127 };

/* One verdict, as offsets into the connection's byte string. */
struct event {
    int status;
    size_t at, used; /* where the head starts, its length (0: none) */
    int keep, method, minor, chunked, has_body;
    int64_t content_length;
    size_t target, target_len, nheaders;
    size_t hdr[MAX_STORE][4]; /* name, name_len, value, value_len */
};

static struct event real_ev[MAX_EVENTS], model_ev[MAX_EVENTS];

/* The example's routing (examples/http.acx's status_of). */
static int route(int method, const char *target, size_t target_len)
{
    if (method == HTTP_OTHER)
        return 405;
    return target_len == 1 && target[0] == '/' ? 200 : 404;
}

/* ---- the real parser, driven as serve_conn drives it -------------------- */

struct settings {
    size_t cap;         /* the connection's buffer */
    size_t max_headers; /* 0: no limit */
    int store;          /* pass an array for the header lines */
    uint32_t rng;       /* the arrivals */
};

static size_t arrival(uint32_t *s)
{
    uint32_t x = *s;
    x ^= x << 13;
    x ^= x >> 17;
    x ^= x << 5;
    *s = x;
    switch (x & 3) {
    case 0:
        return 1;
    case 1:
    case 2:
        return 1 + (x >> 8) % 64;
    default:
        return 1 + (x >> 8) % 4096;
    }
}

/* One parse of BUF[0..N) at offset AT of the byte string, into EV. */
static long parse_once(const char *buf, size_t n, size_t at,
                       const struct settings *st, struct event *ev)
{
    /* exactly N bytes: ASan catches a read past them */
    char *win = malloc(n ? n : 1);
    CHECK(win != NULL);
    memcpy(win, buf, n);
    /* The parser stores header lines in order, so the slot just past the
     * limit (or the first one, when nothing may be stored) is the one an
     * overrun would hit first: a canary there. */
    static struct http_header hdrs[MAX_STORE + 1];
    size_t canary = st->store ? st->max_headers : 0;
    memset(&hdrs[canary], 0xa5, sizeof hdrs[canary]);
    struct http_request rq = {.max_headers = st->max_headers};
    if (st->store)
        rq.headers = hdrs;
    long r = http_parse_request(win, n, &rq);
    CHECK(r <= (long)n);
    memset(ev, 0, offsetof(struct event, hdr)); /* hdr: up to nheaders */
    ev->at = at;
    if (r > 0) {
        CHECK(r >= 4 && memcmp(win + r - 4, "\r\n\r\n", 4) == 0);
        ev->status = route(rq.method, rq.target, rq.target_len);
        ev->used = (size_t)r;
        ev->keep = rq.keep;
        ev->method = rq.method;
        ev->minor = rq.minor;
        ev->chunked = rq.chunked;
        ev->has_body = rq.has_body;
        ev->content_length = rq.content_length;
        CHECK(rq.method_name == win && rq.method_len > 0);
        CHECK(rq.target > win && rq.target + rq.target_len <= win + r);
        ev->target = (size_t)(rq.target - win);
        ev->target_len = rq.target_len;
        ev->nheaders = rq.nheaders;
        CHECK(st->max_headers == 0 || rq.nheaders <= st->max_headers);
        if (st->store && st->max_headers > 0) {
            for (size_t i = 0; i < rq.nheaders; i++) {
                const struct http_header *h = &hdrs[i];
                CHECK(h->name >= win && h->name + h->name_len <= win + r);
                CHECK(h->value >= win && h->value + h->value_len <= win + r);
                ev->hdr[i][0] = (size_t)(h->name - win);
                ev->hdr[i][1] = h->name_len;
                ev->hdr[i][2] = (size_t)(h->value - win);
                ev->hdr[i][3] = h->value_len;
            }
        }
    } else if (r < 0) {
        CHECK(r == -400 || r == -431 || r == -505);
        CHECK(r != -431 || st->max_headers > 0);
        ev->status = (int)-r;
    }
    /* nothing written past the limit (or at all, when not asked to) */
    const unsigned char *cb = (const unsigned char *)&hdrs[canary];
    for (size_t k = 0; k < sizeof hdrs[canary]; k++)
        CHECK(cb[k] == 0xa5);
    free(win);
    return r;
}

/* serve_conn's loop: the verdicts for DATA[0..LEN) arriving in pieces. */
static size_t run_real(const char *data, size_t len, struct settings st)
{
    char *in = malloc(st.cap);
    CHECK(in != NULL);
    size_t start = 0, n = 0, fed = 0, nev = 0;
    size_t base = 0; /* the byte string's offset of in[0] */
    for (;;) {
        struct event *ev = &real_ev[nev];
        long used = parse_once(in + start, n - start, base + start, &st, ev);
        int status = used > 0 ? ev->status
                     : used < 0 ? ev->status
                     : n - start == st.cap ? 431 : 0;
        if (status) {
            ev->status = status;
            nev++;
            if (used <= 0 || !ev->keep || nev == MAX_EVENTS)
                break;
            start += (size_t)used;
            continue;
        }
        if (start > 0) { /* keep the partial request at the front */
            memmove(in, in + start, n - start);
            n -= start;
            base += start;
            start = 0;
        }
        size_t k = arrival(&st.rng);
        if (k > st.cap - n)
            k = st.cap - n;
        if (k > len - fed)
            k = len - fed;
        if (k == 0)
            break; /* EOF: the partial request gets no answer */
        memcpy(in + n, data + fed, k);
        n += k;
        fed += k;
    }
    free(in);
    return nev;
}

/* ---- the model: every byte at once, parsed naively ---------------------- */

static int m_lower(int c)
{
    return c >= 'A' && c <= 'Z' ? c + 32 : c;
}

static int m_ieq(const char *a, size_t n, const char *b)
{
    if (strlen(b) != n)
        return 0;
    for (size_t i = 0; i < n; i++)
        if (m_lower((unsigned char)a[i]) != m_lower((unsigned char)b[i]))
            return 0;
    return 1;
}

static int m_token_char(unsigned char c)
{
    static const char extra[] = "!#$%&'*+-.^_`|~";
    if ((c | 32) >= 'a' && (c | 32) <= 'z')
        return 1;
    if (c >= '0' && c <= '9')
        return 1;
    for (size_t i = 0; i < sizeof extra - 1; i++)
        if (c == (unsigned char)extra[i])
            return 1;
    return 0;
}

/* A Connection value lists WORD among its space/tab/comma-separated words. */
static int m_lists(const char *v, size_t n, const char *word)
{
    size_t i = 0;
    while (i < n) {
        size_t j = i;
        while (j < n && v[j] != ' ' && v[j] != '\t' && v[j] != ',')
            j++;
        if (j > i && m_ieq(v + i, j - i, word))
            return 1;
        i = j + 1;
    }
    return 0;
}

/* Content-Length: digits only, at most INT64_MAX (compared as text). */
static int64_t m_length(const char *v, size_t n)
{
    if (n == 0)
        return -1;
    for (size_t i = 0; i < n; i++)
        if (v[i] < '0' || v[i] > '9')
            return -1;
    while (n > 1 && *v == '0')
        v++, n--;
    static const char max[] = "9223372036854775807";
    if (n > sizeof max - 1 ||
        (n == sizeof max - 1 && memcmp(v, max, n) > 0))
        return -1;
    int64_t x = 0;
    for (size_t i = 0; i < n; i++)
        x = x * 10 + (v[i] - '0');
    return x;
}

/* The request line L[0..N); OFF: its offset in the string. */
static int m_request_line(const char *l, size_t n, size_t off,
                          struct event *ev)
{
    size_t sp[3], nsp = 0;
    for (size_t i = 0; i < n; i++)
        if (l[i] == ' ') {
            if (nsp == 2)
                return 400;
            sp[nsp++] = i;
        }
    if (nsp != 2 || sp[0] == 0 || sp[1] == sp[0] + 1)
        return 400;
    for (size_t i = 0; i < sp[0]; i++)
        if (!m_token_char((unsigned char)l[i]))
            return 400;
    for (size_t i = sp[0] + 1; i < sp[1]; i++)
        if ((unsigned char)l[i] < 32 || (unsigned char)l[i] == 127)
            return 400;
    const char *v = l + sp[1] + 1;
    size_t vl = n - sp[1] - 1;
    if (vl != 8 || strncmp(v, "HTTP/", 5) != 0 || v[6] != '.')
        return 400;
    if (v[5] < '0' || v[5] > '9' || v[7] < '0' || v[7] > '9')
        return 400;
    if (v[5] != '1')
        return 505;
    if (v[7] != '0' && v[7] != '1')
        return 400;
    ev->minor = v[7] - '0';
    ev->method = sp[0] == 3 && memcmp(l, "GET", 3) == 0    ? HTTP_GET
                 : sp[0] == 4 && memcmp(l, "HEAD", 4) == 0 ? HTTP_HEAD
                                                           : HTTP_OTHER;
    ev->target = off + sp[0] + 1;
    ev->target_len = sp[1] - sp[0] - 1;
    return 0;
}

/* The head H[0..HL) (through its blank line) at offset OFF. */
static int m_head(const char *h, size_t hl, size_t off,
                  const struct settings *st, struct event *ev)
{
    size_t content = hl - 4; /* the lines, joined by CRLF */
    size_t ls = 0;
    int close = 0, ka = 0;
    ev->content_length = -1;
    for (int line = 0;; line++) {
        /* this line: up to the next CRLF (or the end of the content) */
        size_t le = ls;
        while (le < content && !(h[le] == '\r' && h[le + 1] == '\n'))
            le++;
        for (size_t i = ls; i < le; i++)
            if (h[i] == '\r')
                return 400; /* a CR not followed by LF */
        if (line == 0) {
            int r = m_request_line(h + ls, le - ls, off + ls, ev);
            if (r)
                return r;
        } else {
            size_t colon = ls;
            while (colon < le && h[colon] != ':')
                colon++;
            if (colon == le || colon == ls)
                return 400;
            for (size_t i = ls; i < colon; i++)
                if (!m_token_char((unsigned char)h[i]))
                    return 400;
            for (size_t i = colon + 1; i < le; i++)
                if (((unsigned char)h[i] < 32 && h[i] != '\t') ||
                    (unsigned char)h[i] == 127)
                    return 400;
            size_t vs = colon + 1, ve = le;
            while (vs < ve && (h[vs] == ' ' || h[vs] == '\t'))
                vs++;
            while (ve > vs && (h[ve - 1] == ' ' || h[ve - 1] == '\t'))
                ve--;
            if (st->max_headers && ev->nheaders == st->max_headers)
                return 431;
            if (st->store && st->max_headers) {
                ev->hdr[ev->nheaders][0] = ls;
                ev->hdr[ev->nheaders][1] = colon - ls;
                ev->hdr[ev->nheaders][2] = vs;
                ev->hdr[ev->nheaders][3] = ve - vs;
            }
            ev->nheaders++;
            const char *name = h + ls, *val = h + vs;
            size_t nl = colon - ls, vl = ve - vs;
            if (m_ieq(name, nl, "Connection")) {
                close = close || m_lists(val, vl, "close");
                ka = ka || m_lists(val, vl, "keep-alive");
            } else if (m_ieq(name, nl, "Content-Length")) {
                int64_t x = m_length(val, vl);
                if (x < 0)
                    return 400;
                if (ev->content_length != -1 && ev->content_length != x)
                    return 400;
                ev->content_length = x;
            } else if (m_ieq(name, nl, "Transfer-Encoding")) {
                ev->chunked = 1;
            }
        }
        if (le >= content)
            break;
        ls = le + 2;
    }
    ev->has_body = ev->chunked || ev->content_length > 0;
    ev->keep = !close && (ev->minor == 1 || ka) && !ev->has_body;
    return 0;
}

static size_t run_model(const char *data, size_t len,
                        const struct settings *st)
{
    size_t pos = 0, nev = 0;
    while (nev < MAX_EVENTS) {
        size_t rem = len - pos, hl = 0;
        for (size_t i = 0; i + 4 <= rem; i++)
            if (memcmp(data + pos + i, "\r\n\r\n", 4) == 0) {
                hl = i + 4;
                break;
            }
        struct event *ev = &model_ev[nev];
        memset(ev, 0, offsetof(struct event, hdr));
        ev->at = pos;
        if ((hl == 0 && rem >= st->cap) || hl > st->cap) {
            ev->status = 431; /* the buffer filled up first */
            return nev + 1;
        }
        if (hl == 0)
            return nev; /* the client stopped mid-request */
        int err = m_head(data + pos, hl, 0, st, ev);
        nev++;
        if (err) {
            ev->status = err;
            /* the real parser reports only the status for an error */
            struct event e = {.status = err, .at = pos};
            *ev = e;
            return nev;
        }
        ev->status = route(ev->method, data + pos + ev->target,
                           ev->target_len);
        ev->used = hl;
        if (!ev->keep)
            return nev;
        pos += hl;
    }
    return nev;
}

/* ---- the comparison ------------------------------------------------------ */

static void compare(size_t n, const struct settings *st)
{
    for (size_t i = 0; i < n; i++) {
        const struct event *a = &real_ev[i], *b = &model_ev[i];
        if (a->status != b->status || a->at != b->at || a->used != b->used)
            fprintf(stderr, "event %zu: real %d at %zu+%zu, model %d at %zu+%zu\n",
                    i, a->status, a->at, a->used, b->status, b->at, b->used);
        CHECK(a->status == b->status && a->at == b->at && a->used == b->used);
        if (a->used == 0)
            continue;
        CHECK(a->keep == b->keep && a->method == b->method);
        CHECK(a->minor == b->minor && a->chunked == b->chunked);
        CHECK(a->has_body == b->has_body);
        CHECK(a->content_length == b->content_length);
        CHECK(a->target == b->target && a->target_len == b->target_len);
        CHECK(a->nheaders == b->nheaders);
        if (st->store && st->max_headers)
            CHECK(memcmp(a->hdr, b->hdr, a->nheaders * sizeof a->hdr[0]) ==
                  0);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 4)
        return 0;
    struct settings st;
    /* mostly small buffers (the 431 edge), sometimes the example's */
    st.cap = data[0] >= 0xf0 ? 8192 : 16 + (size_t)data[0] * 4;
    st.max_headers = data[1] & 0x7f;
    st.store = data[1] >> 7;
    st.rng = (uint32_t)data[2] << 8 | data[3] | 1u << 24;
    const char *bytes = (const char *)data + 4;
    size_t len = size - 4;
    size_t nr = run_real(bytes, len, st);
    size_t nm = run_model(bytes, len, &st);
    if (nr != nm)
        fprintf(stderr, "real %zu verdicts, model %zu\n", nr, nm);
    CHECK(nr == nm);
    compare(nr, &st);
    return 0;
}
