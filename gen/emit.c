/* emit.c - the output buffer, keeping #line in step with the source.
 *
 * Every source token written through ob_span is preceded, when needed, by
 * newlines or a #line directive so that the C compiler, sanitizers and gdb
 * report the .acx line it came from.  Generated glue between tokens simply
 * inherits the line of the source token around it.
 */
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "gen.h"
#include "parser.h"

void ob_init(obuf *o, acx_src *src, int lines)
{
    memset(o, 0, sizeof *o);
    o->src = src;
    o->lines = lines;
}

void ob_free(obuf *o)
{
    free(o->p);
    o->p = NULL;
    o->n = o->cap = 0;
}

static void grow(obuf *o, size_t need)
{
    if (o->n + need + 1 <= o->cap)
        return;
    size_t cap = o->cap ? o->cap : 1 << 16;
    while (cap < o->n + need + 1)
        cap *= 2;
    char *p = realloc(o->p, cap);
    if (!p) {
        fputs("acxc: out of memory\n", stderr);
        exit(1);
    }
    o->p = p;
    o->cap = cap;
}

void ob_putn(obuf *o, const char *s, size_t n)
{
    grow(o, n);
    memcpy(o->p + o->n, s, n);
    o->n += n;
    o->p[o->n] = 0;
    uint32_t nl = 0;
    for (size_t i = 0; i < n; i++)
        nl += s[i] == '\n';
    o->outline += nl;
    if (o->mapped)
        o->line += nl;
}

void ob_puts(obuf *o, const char *s)
{
    ob_putn(o, s, strlen(s));
}

/* Format into O.  GLUE: generated code that, with #line on, stays on the
 * current line, so every instruction of an await maps to the await's .acx
 * line (gdb steps and sanitizer frames land there, not on the lines that
 * follow). */
static void ob_vprintf(obuf *o, int glue, const char *fmt, va_list ap)
{
    va_list ap2;
    va_copy(ap2, ap);
    int n = vsnprintf(NULL, 0, fmt, ap);
    if (n >= 0) {
        grow(o, (size_t)n);
        vsnprintf(o->p + o->n, (size_t)n + 1, fmt, ap2);
        char *s = o->p + o->n;
        o->n += (size_t)n;
        for (int i = 0; i < n; i++) {
            if (s[i] != '\n')
                continue;
            if (glue && o->lines) {
                s[i] = ' ';
                continue;
            }
            o->outline++;
            if (o->mapped)
                o->line++;
        }
    }
    va_end(ap2);
}

void ob_printf(obuf *o, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    ob_vprintf(o, 0, fmt, ap);
    va_end(ap);
}

void ob_glue(obuf *o, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    ob_vprintf(o, 1, fmt, ap);
    va_end(ap);
}

static int at_bol(obuf *o)
{
    return o->n == 0 || o->p[o->n - 1] == '\n';
}

void ob_nl(obuf *o)
{
    if (!at_bol(o) && !o->lines) /* with #line, lines follow the source */
        ob_putn(o, "\n", 1);
}

static void ob_bol(obuf *o)
{
    if (!at_bol(o))
        ob_putn(o, "\n", 1);
}

void ob_unmap(obuf *o)
{
    o->mapped = 0;
}

static void put_line_directive(obuf *o, uint16_t file, uint32_t line,
                               int sys)
{
    ob_bol(o);
    o->mapped = 0;
    /* a system header keeps its flag, so its code stays warning-free */
    ob_printf(o, sys ? "# %u \"" : "#line %u \"", line);
    for (const char *p = o->src->files[file]; *p; p++) {
        if (*p == '"' || *p == '\\')
            ob_putn(o, "\\", 1);
        ob_putn(o, p, 1);
    }
    ob_puts(o, sys ? "\" 3\n" : "\"\n");
    o->mapped = 1;
    o->file = file;
    o->line = line;
}

void ob_here(obuf *o, const char *path)
{
    if (!o->lines || path == NULL)
        return;
    ob_bol(o);
    o->mapped = 0;
    /* the directive is on line outline + 1; the line after it is next */
    ob_printf(o, "#line %u \"", o->outline + 2);
    for (const char *p = path; *p; p++) {
        if (*p == '"' || *p == '\\')
            ob_putn(o, "\\", 1);
        ob_putn(o, p, 1);
    }
    ob_puts(o, "\"\n");
}

void ob_sync(obuf *o, uint32_t t)
{
    if (!o->lines || t >= o->src->ntoks)
        return;
    acx_tok *k = &o->src->toks[t];
    if (!o->src->files || k->file >= o->src->nfiles)
        return;
    if (o->mapped && o->file == k->file && k->line >= o->line &&
        k->line - o->line <= 8) {
        while (o->line < k->line)
            ob_putn(o, "\n", 1);
        return;
    }
    put_line_directive(o, k->file, k->line, (k->flags & TF_SYS) != 0);
}

static int identch(char c)
{
    return c == '_' || c == '$' || (c >= '0' && c <= '9') ||
           (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

/* Write token T, with a blank before it when the source had one or when
 * the two texts would otherwise fuse into one token. */
static void put_tok(obuf *o, uint32_t t, int first)
{
    acx_src *s = o->src;
    acx_tok *k = &s->toks[t];
    const char *text = k->repl ? k->repl : s->buf + k->off;
    size_t len = k->repl ? strlen(k->repl) : k->len;
    if (len == 0)
        return;
    if ((k->flags & TF_FALLTHRU) && (k->kind == TK_CASE ||
                                     k->kind == TK_DEFAULT))
        ob_puts(o, " __attribute__((fallthrough)); ");
    if (!at_bol(o)) {
        char prev = o->p[o->n - 1];
        int gap = !first && t > 0 &&
                  s->toks[t - 1].off + s->toks[t - 1].len < k->off;
        int fuse = (identch(prev) && identch(text[0])) ||
                   (!identch(prev) && prev != ' ' && !identch(text[0]) &&
                    strchr("+-<>&|=/*%.#:", prev) &&
                    strchr("+-<>&|=/*%.#:", text[0]));
        if ((gap || fuse) && prev != ' ' && prev != '(')
            ob_putn(o, " ", 1);
    }
    ob_putn(o, text, len);
}

void ob_span(obuf *o, uint32_t first, uint32_t last)
{
    if (first > last || last >= o->src->ntoks)
        return;
    /* attributes written before the first token belong to it */
    if (o->src->toks[first].flags & TF_ATTR)
        first = o->src->toks[first].attr;
    for (uint32_t i = first; i <= last; i++) {
        ob_sync(o, i);
        put_tok(o, i, i == first);
    }
}

/* Without #line (for reading and golden files) cpp's linemarkers go too. */
static int is_linemarker(const char *p, const char *end)
{
    return p + 2 < end && p[0] == '#' && p[1] == ' ' && p[2] >= '0' &&
           p[2] <= '9';
}

void ob_raw(obuf *o, uint32_t from, uint32_t to)
{
    if (to <= from)
        return;
    const char *p = o->src->buf + from, *end = o->src->buf + to;
    if (o->lines) {
        ob_putn(o, p, (size_t)(end - p));
    } else {
        while (p < end) {
            const char *nl = memchr(p, '\n', (size_t)(end - p));
            const char *stop = nl ? nl + 1 : end;
            if (!(at_bol(o) && is_linemarker(p, end)))
                ob_putn(o, p, (size_t)(stop - p));
            p = stop;
        }
    }
    o->mapped = 0;
}
