/* http_parse.c - the HTTP/1.1 request head parser (see http_parse.h). */
#include <string.h>
#include <strings.h>

#include "http_parse.h"

int http_has_token(const char *v, size_t n, const char *token)
{
    size_t tl = strlen(token);
    for (size_t i = 0; i < n;) {
        while (i < n && (v[i] == ' ' || v[i] == '\t' || v[i] == ','))
            i++;
        size_t j = i;
        while (j < n && v[j] != ',' && v[j] != ' ' && v[j] != '\t')
            j++;
        if (j - i == tl && strncasecmp(v + i, token, tl) == 0)
            return 1;
        i = j;
    }
    return 0;
}

/* A token character (RFC 9110 5.6.2): what methods and header names are
 * made of. */
static int is_tchar(unsigned char ch)
{
    return (ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z') ||
           (ch >= '0' && ch <= '9') ||
           (ch != 0 && strchr("!#$%&'*+-.^_`|~", ch) != NULL);
}

/* A control byte: never in a target, only HTAB in a value. */
static int is_ctl(unsigned char ch)
{
    return ch < 0x20 || ch == 0x7f;
}

/* The blank line ending a request head in BUF[0..N), or NULL. */
static const char *find_blank_line(const char *buf, size_t n)
{
    const char *p = buf, *end = buf + n;
    while (end - p >= 4 &&
           (p = memchr(p, '\r', (size_t)(end - p) - 3)) != NULL) {
        if (memcmp(p, "\r\n\r\n", 4) == 0)
            return p;
        p++;
    }
    return NULL;
}

/* The request line P[0..N) (without its CRLF): METHOD SP TARGET SP
 * HTTP/1.x.  0, -400 or -505. */
static int parse_request_line(const char *p, size_t n,
                              struct http_request *rq)
{
    const char *end = p + n;
    const char *sp1 = memchr(p, ' ', n);
    if (sp1 == NULL || sp1 == p)
        return -400;
    for (const char *m = p; m < sp1; m++)
        if (!is_tchar((unsigned char)*m))
            return -400;
    const char *tgt = sp1 + 1;
    const char *sp2 = memchr(tgt, ' ', (size_t)(end - tgt));
    if (sp2 == NULL || sp2 == tgt)
        return -400;
    for (const char *t = tgt; t < sp2; t++)
        if (is_ctl((unsigned char)*t))
            return -400;
    /* HTTP-version = "HTTP/" DIGIT "." DIGIT, exactly */
    const char *v = sp2 + 1;
    if (end - v != 8 || memcmp(v, "HTTP/", 5) != 0 || v[6] != '.' ||
        v[5] < '0' || v[5] > '9' || v[7] < '0' || v[7] > '9')
        return -400;
    if (v[5] != '1')
        return -505;
    if (v[7] > '1')
        return -400; /* 1.2 and up: no such version */
    size_t ml = (size_t)(sp1 - p);
    rq->method = ml == 3 && memcmp(p, "GET", 3) == 0    ? HTTP_GET
                 : ml == 4 && memcmp(p, "HEAD", 4) == 0 ? HTTP_HEAD
                                                        : HTTP_OTHER;
    rq->method_name = p;
    rq->method_len = ml;
    rq->target = tgt;
    rq->target_len = (size_t)(sp2 - tgt);
    rq->minor = v[7] - '0';
    return 0;
}

/* Content-Length's value V (N bytes, trimmed): one or more digits, no
 * sign, no list, no overflow.  The number, or -1. */
static int64_t parse_length(const char *v, size_t n)
{
    if (n == 0)
        return -1;
    int64_t x = 0;
    for (size_t i = 0; i < n; i++) {
        if (v[i] < '0' || v[i] > '9')
            return -1;
        if (x > (INT64_MAX - (v[i] - '0')) / 10)
            return -1;
        x = x * 10 + (v[i] - '0');
    }
    return x;
}

/* One header line P[0..N) (without its CRLF), in order; 0 or -status.
 * *CLOSE and *KEEP_ALIVE collect the Connection tokens. */
static int parse_header(const char *p, size_t n, struct http_request *rq,
                        int *close, int *keep_alive)
{
    const char *colon = memchr(p, ':', n);
    if (colon == NULL || colon == p)
        return -400;
    for (const char *c = p; c < colon; c++)
        if (!is_tchar((unsigned char)*c))
            return -400; /* also "Name :" and a folded line's leading SP */
    const char *v = colon + 1, *ve = p + n;
    for (const char *c = v; c < ve; c++)
        if (is_ctl((unsigned char)*c) && *c != '\t')
            return -400; /* a bare LF or CR, a NUL */
    while (v < ve && (*v == ' ' || *v == '\t'))
        v++;
    while (ve > v && (ve[-1] == ' ' || ve[-1] == '\t'))
        ve--;
    if (rq->max_headers > 0 && rq->nheaders == rq->max_headers)
        return -431;
    if (rq->headers != NULL && rq->max_headers > 0)
        rq->headers[rq->nheaders] = (struct http_header){
            p, v, (size_t)(colon - p), (size_t)(ve - v)};
    rq->nheaders++;
    size_t nl = (size_t)(colon - p), vl = (size_t)(ve - v);
    if (nl == 10 && strncasecmp(p, "connection", 10) == 0) {
        *close |= http_has_token(v, vl, "close");
        *keep_alive |= http_has_token(v, vl, "keep-alive");
    } else if (nl == 14 && strncasecmp(p, "content-length", 14) == 0) {
        int64_t len = parse_length(v, vl);
        if (len < 0 ||
            (rq->content_length >= 0 && rq->content_length != len))
            return -400; /* two lengths: which one is the body's? */
        rq->content_length = len;
    } else if (nl == 17 && strncasecmp(p, "transfer-encoding", 17) == 0) {
        rq->chunked = 1;
    }
    return 0;
}

long http_parse_request(const char *buf, size_t n, struct http_request *rq)
{
    const char *end = find_blank_line(buf, n);
    if (end == NULL)
        return 0;
    rq->nheaders = 0;
    rq->content_length = -1;
    rq->chunked = 0;
    /* Each line ends at its first CR, which must be followed by LF; the
     * last one's CR is the blank line's. */
    const char *p = buf, *stop = end + 2;
    const char *eol = memchr(p, '\r', (size_t)(stop - p));
    if (eol[1] != '\n')
        return -400;
    int r = parse_request_line(p, (size_t)(eol - p), rq);
    if (r < 0)
        return r;
    int close = 0, keep_alive = 0;
    for (p = eol + 2; p < stop; p = eol + 2) {
        eol = memchr(p, '\r', (size_t)(stop - p));
        if (eol[1] != '\n')
            return -400;
        r = parse_header(p, (size_t)(eol - p), rq, &close, &keep_alive);
        if (r < 0)
            return r;
    }
    rq->has_body = rq->chunked || rq->content_length > 0;
    rq->keep = !close && (rq->minor == 1 || keep_alive) && !rq->has_body;
    return (long)(end - buf) + 4;
}
