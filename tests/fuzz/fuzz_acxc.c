/* fuzz_acxc.c - libFuzzer target for acxc's front end and generator.
 *
 * The input stands for cpp's output (no preprocessor runs here): it is
 * lexed, parsed and, when that found no error, generated into an output
 * buffer.  Diagnostics go to /dev/null.
 *
 * Grammar-aware mode: half of the mutations are made on tokens rather
 * than bytes (LLVMFuzzerCustomMutator below): a span of tokens is
 * deleted, duplicated, moved, or a C/acx keyword or punctuator is
 * inserted, so mutants of the valid programs in the seed corpus stay
 * lexically valid and reach deep into the parser, the frame layout and
 * the lowering instead of dying in the lexer.  Built by `make check-fuzz`:
 *   clang -g -O1 -fsanitize=fuzzer,address,undefined -Idsl -Ibuild/dsl -Igen
 *       tests/fuzz/fuzz_acxc.c dsl/ *.c gen/{emit,frame,gen,lower}.c
 *       build/dsl/lexer.c build/dsl/parser.c
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "front.h"
#include "gen.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
size_t LLVMFuzzerMutate(uint8_t *data, size_t size, size_t max_size);
size_t LLVMFuzzerCustomMutator(uint8_t *data, size_t size, size_t max_size,
                               unsigned int seed);

/* ---- the token-level mutator --------------------------------------------- */

enum { MAX_TOKS = 4096 };

/* Start offsets of the tokens of D[0..N) (a token: an identifier or
 * number, a string or char literal, whitespace run, or one other byte),
 * with a sentinel at N.  Returns the count. */
static size_t tokenize(const uint8_t *d, size_t n, size_t *start)
{
    size_t k = 0, i = 0;
    while (i < n && k < MAX_TOKS) {
        start[k++] = i;
        uint8_t c = d[i];
        if (c == '_' || (c | 32) - 'a' < 26u || c - '0' < 10u) {
            while (i < n && (d[i] == '_' || (d[i] | 32) - 'a' < 26u ||
                             d[i] - '0' < 10u))
                i++;
        } else if (c == '"' || c == '\'') {
            for (i++; i < n && d[i] != c && d[i] != '\n'; i++)
                if (d[i] == '\\')
                    i++;
            i = i < n ? i + 1 : n;
        } else if (c == ' ' || c == '\t' || c == '\n') {
            while (i < n && (d[i] == ' ' || d[i] == '\t' || d[i] == '\n'))
                i++;
        } else {
            i++;
        }
    }
    start[k] = i < n ? i : n;
    return k;
}

static const char *const words[] = {
    " async ", " await ", "{", "}", "(", ")", ";", ",", " if ", " else ",
    " while ", " for ", " do ", " switch ", " case 1: ", " default: ",
    " return ", " break; ", " continue; ", " goto L; ", " L: ", " int ",
    " void ", " static ", " struct ", " typedef ", " sizeof ", "*", "&&",
    "||", "?", ":", "=", "[", "]", " __extension__ ", "({", "})", "...",
};

static unsigned next_rand(unsigned *s)
{
    *s = *s * 1103515245u + 12345u;
    return *s >> 8;
}

size_t LLVMFuzzerCustomMutator(uint8_t *data, size_t size, size_t max_size,
                               unsigned int seed)
{
    static size_t start[MAX_TOKS + 1];
    static uint8_t out[1u << 16];
    unsigned r = seed;
    if (next_rand(&r) % 2 == 0 || size == 0 || max_size > sizeof out)
        return LLVMFuzzerMutate(data, size, max_size);
    size_t nt = tokenize(data, size, start);
    if (nt < 2)
        return LLVMFuzzerMutate(data, size, max_size);
    size_t a = next_rand(&r) % nt, len = 1 + next_rand(&r) % 8;
    size_t b = a + len < nt ? a + len : nt; /* span [a, b) */
    size_t sa = start[a], sb = start[b], o = 0;
    size_t at = start[next_rand(&r) % nt]; /* an insertion point */
    const char *w = words[next_rand(&r) % (sizeof words / sizeof words[0])];
    size_t wl = strlen(w);
#define PUT(p, n)                                                          \
    do {                                                                   \
        size_t n_ = (n);                                                   \
        if (o + n_ > max_size)                                             \
            return LLVMFuzzerMutate(data, size, max_size);                 \
        memcpy(out + o, (p), n_);                                          \
        o += n_;                                                           \
    } while (0)
    switch (next_rand(&r) % 4) {
    case 0: /* delete the span */
        PUT(data, sa);
        PUT(data + sb, size - sb);
        break;
    case 1: /* duplicate it */
        PUT(data, sb);
        PUT(data + sa, sb - sa);
        PUT(data + sb, size - sb);
        break;
    case 2: /* copy it to another place */
        PUT(data, at);
        PUT(data + sa, sb - sa);
        PUT(data + at, size - at);
        break;
    default: /* insert a keyword or punctuator */
        PUT(data, at);
        PUT(w, wl);
        PUT(data + at, size - at);
        break;
    }
#undef PUT
    memcpy(data, out, o);
    return o;
}

static FILE *devnull;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > (1u << 20))
        return 0; /* keep single runs fast; big inputs are unit tests */
    if (!devnull)
        devnull = fopen("/dev/null", "w");
    acx_src src = {0};
    src.path = "fuzz.acx";
    src.err = devnull;
    src.max_errors = 50;
    src.buf = malloc(size + 1);
    if (!src.buf)
        return 0;
    memcpy(src.buf, data, size);
    src.buf[size] = 0;
    src.len = size;

    acx_parse parse = {0};
    if (lex_run(&src) == 0) {
        parse_run(&parse, &src);
        if (src.errors == 0) {
            gen g = {0};
            g.parse = &parse;
            g.src = &src;
            g.outpath = "fuzz.c";
            ob_init(&g.out, &src, 1);
            gen_unit(&g);
            ob_free(&g.out);
        }
    }
    parse_free(&parse);
    src_free(&src);
    return 0;
}
