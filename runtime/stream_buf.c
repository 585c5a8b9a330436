/* stream_buf.c - the buffer and separator search under buffered streams
 * (see stream_buf.h).
 */
#define _GNU_SOURCE /* memmem */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "stream_buf.h"

void acx__sbuf_init(acx__sbuf *b, size_t limit)
{
    b->data = NULL;
    b->cap = 0;
    b->start = b->end = 0;
    b->limit = limit ? limit : 1;
}

void acx__sbuf_free(acx__sbuf *b)
{
    free(b->data);
    b->data = NULL;
    b->cap = 0;
    b->start = b->end = 0;
}

int acx__sbuf_trim(acx__sbuf *b)
{
    if (acx__sbuf_len(b) != 0 || b->cap <= ACX__SBUF_KEEP)
        return 0;
    acx__sbuf_free(b);
    return 1;
}

void acx__sbuf_consume(acx__sbuf *b, size_t n)
{
    if (n > acx__sbuf_len(b))
        n = acx__sbuf_len(b);
    b->start += n;
}

/* The capacity to grow to from CAP: double, at least the minimum, at most
 * the limit (but never below what is buffered: a lowered limit does not
 * lose bytes). */
static size_t grown(const acx__sbuf *b)
{
    size_t want = b->cap ? b->cap * 2 : ACX__SBUF_MIN;
    if (want < b->cap) /* overflow */
        want = b->limit;
    if (want > b->limit)
        want = b->limit;
    return want;
}

int acx__sbuf_grow(acx__sbuf *b)
{
    if (b->cap >= b->limit)
        return 0;
    size_t cap = grown(b);
    char *d = realloc(b->data, cap);
    if (d == NULL)
        return -ENOMEM;
    b->data = d;
    b->cap = cap;
    return 0;
}

int acx__sbuf_space(acx__sbuf *b, char **p, size_t *n)
{
    size_t len = acx__sbuf_len(b);
    if (len == 0) {
        b->start = b->end = 0;
    } else if (b->start != 0 &&
               (b->start >= len ||
                (b->end == b->cap && (len <= b->cap / 2 ||
                                      b->cap >= b->limit)))) {
        /* Compact when it moves no more than was consumed, or when the
         * tail is full and growing would not do (the buffer is mostly
         * free, or at its limit): the cost is paid for by the consumed
         * bytes, never a rescan of a big backlog per small append. */
        memmove(b->data, b->data + b->start, len);
        b->start = 0;
        b->end = len;
    }
    if (b->end == b->cap && b->cap < b->limit) {
        size_t cap = grown(b);
        char *d = realloc(b->data, cap);
        if (d == NULL)
            return -ENOMEM;
        b->data = d;
        b->cap = cap;
    }
    size_t room = b->cap - b->end;
    if (len >= b->limit)
        room = 0; /* full: the record (if any) cannot be completed */
    else if (room > b->limit - len)
        room = b->limit - len;
    *p = b->data + b->end;
    *n = room;
    return 0;
}

ssize_t acx__sbuf_append(acx__sbuf *b, const void *src, size_t n)
{
    size_t done = 0;
    while (done < n) {
        char *p;
        size_t room;
        int err = acx__sbuf_space(b, &p, &room);
        if (err)
            return err;
        if (room == 0)
            break;
        if (room > n - done)
            room = n - done;
        memcpy(p, (const char *)src + done, room);
        acx__sbuf_commit(b, room);
        done += room;
    }
    return (ssize_t)done;
}

ssize_t acx__sbuf_find(const acx__sbuf *b, const void *sep, size_t m,
                       size_t *scan, size_t limit)
{
    size_t len = acx__sbuf_len(b);
    /* Only a record that can still end within LIMIT matters: search no
     * further than LIMIT bytes in. */
    size_t upto = len < limit ? len : limit;
    if (*scan < upto && upto - *scan >= m) {
        const char *base = acx__sbuf_peek(b);
        const char *hit =
            m == 1 ? memchr(base + *scan, *(const char *)sep, upto - *scan)
                   : memmem(base + *scan, upto - *scan, sep, m);
        if (hit != NULL)
            return (ssize_t)((size_t)(hit - base) + m);
        *scan = upto - m + 1; /* every earlier start was ruled out */
    }
    if (upto == limit)
        return -EMSGSIZE; /* LIMIT bytes and no separator in them */
    return 0;
}

int acx__sbuf_record(const acx__sbuf *b, acx__rec *r, int eof, ssize_t *res)
{
    size_t len = acx__sbuf_len(b);
    switch (r->kind) {
    case ACX__REC_UNTIL:
    case ACX__REC_LINE: {
        size_t lim = r->n < b->limit ? r->n : b->limit;
        ssize_t got = acx__sbuf_find(b, r->sep, r->m, &r->scan, lim);
        if (got != 0)
            *res = got;
        else if (!eof)
            return 0;
        else /* the last line, unterminated, fits: find saw it below LIM */
            *res = len == 0                      ? 0
                   : r->kind == ACX__REC_LINE ? (ssize_t)len
                                              : -ENODATA;
        return 1;
    }
    case ACX__REC_EXACT:
        if (r->n > b->limit)
            *res = -EMSGSIZE;
        else if (len >= r->n)
            *res = (ssize_t)r->n;
        else if (eof)
            *res = len == 0 ? 0 : -ENODATA;
        else
            return 0;
        return 1;
    case ACX__REC_SOME:
        if (len > 0 || r->n == 0)
            *res = (ssize_t)(len < r->n ? len : r->n);
        else if (eof)
            *res = 0;
        else
            return 0;
        return 1;
    default: /* ACX__REC_ALL */
        if (eof)
            *res = (ssize_t)len;
        else if (len >= b->limit)
            *res = -EMSGSIZE;
        else
            return 0;
        return 1;
    }
}
