/* stream_buf.h - the parsing core of buffered streams (stream.c): a byte
 * buffer that grows up to a limit, compacts instead of reallocating, and
 * finds separators without rescanning what it has searched already.
 *
 * Plain functions with no loop, no socket and no allocation besides the
 * buffer's own, so the fuzz target (tests/fuzz/fuzz_stream.c) drives them
 * directly.  Internal: acx__ names, not installed (the file name has no
 * acx prefix), any thread (a buffer belongs to its caller).
 *
 * The buffered bytes are data[start, end).  Consuming moves START only:
 * the bytes stay where they are until the next acx__sbuf_space, which is
 * what lets a zero-copy view stay valid until the next read call.
 */
#ifndef ACX_STREAM_BUF_H
#define ACX_STREAM_BUF_H

#include <stddef.h>
#include <sys/types.h>

typedef struct acx__sbuf {
    char *data;
    size_t cap;        /* allocated bytes (0 until the first space) */
    size_t start, end; /* the buffered bytes */
    size_t limit;      /* the most it holds, and the longest record */
} acx__sbuf;

/* The first allocation; doubled up to the limit as records need it. */
#define ACX__SBUF_MIN 2048

/* An empty buffer holding at most LIMIT (> 0) bytes; allocates nothing. */
void acx__sbuf_init(acx__sbuf *b, size_t limit);
void acx__sbuf_free(acx__sbuf *b);

static inline size_t acx__sbuf_len(const acx__sbuf *b)
{
    return b->end - b->start;
}

static inline const char *acx__sbuf_peek(const acx__sbuf *b)
{
    return b->data + b->start;
}

/* Drop the first N (<= len) buffered bytes.  Their memory is untouched
 * until the next acx__sbuf_space. */
void acx__sbuf_consume(acx__sbuf *b, size_t n);

/* Room to append at least one byte: compacts (moves the buffered bytes to
 * the front), grows by doubling up to the limit.  *P and *N get the free
 * tail; *N is 0 when the buffer holds LIMIT bytes already.  Returns 0 or
 * -ENOMEM (the buffer is unchanged). */
int acx__sbuf_space(acx__sbuf *b, char **p, size_t *n);

/* Give a grown buffer back when nothing is buffered: an idle stream
 * should not keep the memory its biggest record needed.  Keeps buffers
 * of up to ACX__SBUF_KEEP bytes (the common case reuses them); returns
 * whether it freed.  Call it only when views need not stay valid. */
#define ACX__SBUF_KEEP (4 * ACX__SBUF_MIN)
int acx__sbuf_trim(acx__sbuf *b);

/* Double the allocation (up to the limit), keeping the buffered bytes:
 * for a reader whose last read filled all the room it had (the peer sends
 * faster than one read takes), so the next reads take more per system
 * call.  0 or -ENOMEM (unchanged). */
int acx__sbuf_grow(acx__sbuf *b);

/* N bytes were written at the free tail that acx__sbuf_space gave. */
static inline void acx__sbuf_commit(acx__sbuf *b, size_t n)
{
    b->end += n;
}

/* Append N bytes (the fuzz target's and the tests' feed): how many fit,
 * at most N; -ENOMEM. */
ssize_t acx__sbuf_append(acx__sbuf *b, const void *src, size_t n);

/* Look for separator SEP (M > 0 bytes) in the buffered bytes, resuming at
 * *SCAN (an offset from the first buffered byte; start a search with 0):
 * positions before it are known not to start SEP, so a record arriving a
 * byte at a time is scanned once, not once per byte.  Returns the record's
 * length including SEP (> 0) when it is complete and at most LIMIT bytes
 * long; 0 when more bytes are needed (*SCAN moves past what was
 * searched); -EMSGSIZE when the record cannot be at most LIMIT bytes: SEP
 * ends past LIMIT, or LIMIT bytes are buffered without it.  Consuming
 * bytes invalidates *SCAN (start again from 0). */
ssize_t acx__sbuf_find(const acx__sbuf *b, const void *sep, size_t m,
                       size_t *scan, size_t limit);

/* What a read call asks for, and how far its search has come. */
enum {
    ACX__REC_UNTIL, /* up to and including SEP */
    ACX__REC_LINE,  /* the same, and the stream's last bytes at its end */
    ACX__REC_EXACT, /* exactly N bytes */
    ACX__REC_SOME,  /* 1..N bytes, whatever is there */
    ACX__REC_ALL,   /* everything up to the end of the stream */
};

typedef struct acx__rec {
    int kind;        /* ACX__REC_* */
    const char *sep; /* UNTIL, LINE: the separator, M > 0 bytes */
    size_t m;
    size_t scan;     /* UNTIL, LINE: where the search resumes (start 0) */
    size_t n;        /* EXACT, SOME: the count; UNTIL, LINE: the most the
                      * caller can take (the limit applies as well) */
} acx__rec;

/* What the buffered bytes give R now, the stream having ended if EOF:
 * returns 1 with *RES set (a record length >= 0, to be consumed by the
 * caller, or -EMSGSIZE, or -ENODATA: the stream ended inside a record),
 * or 0 when more bytes must be read first.  A record length of 0 means the
 * stream ended with nothing buffered (or N == 0).  The semantics of each
 * kind are acx_stream_h's readuntil, readline, readexactly, read and
 * read_view(-1). */
int acx__sbuf_record(const acx__sbuf *b, acx__rec *r, int eof,
                     ssize_t *res);

#endif
