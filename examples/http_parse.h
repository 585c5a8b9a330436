/* http_parse.h - the HTTP/1.1 request head parser of examples/http.acx
 * (and of bench/http_epoll.c, its baseline in bench section 15): plain C,
 * no I/O, no allocation, fuzzed by tests/fuzz/fuzz_http.c.
 *
 * It reads what the example needs and rejects what would let a client and
 * the server disagree about where a request ends (RFC 9112): a bare CR or
 * LF, a header name that is not a token (so "Content-Length :" or an
 * obs-fold continuation line is an error, not an unknown header), control
 * bytes in a value or the target, a Content-Length that is not a plain
 * number or that differs between two header lines.
 */
#ifndef HTTP_PARSE_H
#define HTTP_PARSE_H

#include <stddef.h>
#include <stdint.h>

enum { HTTP_GET, HTTP_HEAD, HTTP_OTHER };

/* One header line; the value without the whitespace around it. */
struct http_header {
    const char *name, *value; /* into the parsed buffer */
    size_t name_len, value_len;
};

struct http_request {
    /* In: how many header lines a head may have (0: no limit; more is
     * -431), and where to store them (NULL: nowhere; else room for
     * MAX_HEADERS, which must not be 0). */
    struct http_header *headers;
    size_t max_headers;
    /* Out (set when the head is complete and well-formed). */
    int method; /* HTTP_GET, HTTP_HEAD or HTTP_OTHER */
    const char *method_name, *target; /* into the parsed buffer */
    size_t method_len, target_len;
    int minor;              /* HTTP/1.MINOR: 0 or 1 */
    size_t nheaders;        /* header lines */
    int64_t content_length; /* -1: no Content-Length header */
    int chunked;            /* a Transfer-Encoding header is present */
    int has_body;           /* Transfer-Encoding, or Content-Length > 0 */
    int keep; /* keep-alive: HTTP/1.1 without "Connection: close", or
               * HTTP/1.0 with "Connection: keep-alive"; never with a body
               * (the example does not read bodies: it answers, closes) */
};

/* Parse the request head at the front of BUF[0..N).  Returns its length
 * through the blank line that ends it (> 0); 0 when no blank line has
 * arrived yet (the caller reads more, and answers 431 when its buffer is
 * full); or the status to answer, negated: -400 a malformed head, -431
 * more header lines than RQ->max_headers, -505 a
 * well-formed version other than HTTP/1.x.  Reads BUF[0..N) and nothing
 * beyond; the pointers it sets point into BUF. */
long http_parse_request(const char *buf, size_t n, struct http_request *rq);

/* Whether the header value V (N bytes) lists TOKEN, case-insensitively,
 * as one element of a comma-separated list ("keep-alive, Upgrade"). */
int http_has_token(const char *v, size_t n, const char *token);

#endif
