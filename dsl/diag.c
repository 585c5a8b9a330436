/* diag.c - gcc-format diagnostics: file:line:col: error: message.
 *
 * Lines come from cpp's linemarkers.  cpp squeezes blanks, so the column is
 * found lazily, only when a message is printed: the token's text is looked
 * up in the original source line (the k-th occurrence on the preprocessed
 * line maps to the k-th in the original); a token that came from a macro
 * expansion falls back to the line's first non-blank column.
 */
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "front.h"

int src_file_index(acx_src *s, const char *name, size_t len)
{
    for (int i = s->nfiles - 1; i >= 0; i--)
        if (strlen(s->files[i]) == len && memcmp(s->files[i], name, len) == 0)
            return i;
    if (s->nfiles >= 65535)
        return -1;
    if (s->nfiles == s->capfiles) {
        int cap = s->capfiles ? s->capfiles * 2 : 16;
        char **f = realloc(s->files, (size_t)cap * sizeof *f);
        uint8_t *y = realloc(s->sysfile, (size_t)cap);
        if (f)
            s->files = f;
        if (y)
            s->sysfile = y;
        if (!f || !y)
            return -1;
        s->capfiles = cap;
    }
    char *copy = malloc(len + 1);
    if (!copy)
        return -1;
    memcpy(copy, name, len);
    copy[len] = 0;
    s->files[s->nfiles] = copy;
    s->sysfile[s->nfiles] = 0;
    return s->nfiles++;
}

void src_free(acx_src *s)
{
    for (int i = 0; i < s->nfiles; i++)
        free(s->files[i]);
    free(s->files);
    free(s->sysfile);
    free(s->toks);
    free(s->buf);
    s->files = NULL;
    s->sysfile = NULL;
    s->toks = NULL;
    s->buf = NULL;
}

/* Read line LINE of file PATH into a malloc'd string (NULL if absent). */
static char *read_line(const char *path, uint32_t line)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    uint32_t n = 1;
    int ch;
    while (n < line && (ch = getc(f)) != EOF)
        n += ch == '\n';
    size_t cap = 256, len = 0;
    char *buf = malloc(cap);
    while (buf && (ch = getc(f)) != EOF && ch != '\n') {
        if (len + 1 == cap) {
            char *b = len < (1u << 24) ? realloc(buf, cap *= 2) : NULL;
            if (!b) {
                free(buf);
                buf = NULL;
                break;
            }
            buf = b;
        }
        buf[len++] = (char)ch;
    }
    if (buf)
        buf[len] = 0;
    fclose(f);
    return buf;
}

static int is_idch(char c)
{
    return c == '_' || c == '$' || (c >= '0' && c <= '9') ||
           (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

/* Offset of the K-th occurrence (0-based) of TEXT in LINE at token
 * boundaries, or -1. */
static long find_nth(const char *line, const char *text, size_t n, int k)
{
    for (const char *p = line; (p = strstr(p, text)) != NULL; p++) {
        int left_ok = p == line || !is_idch(p[-1]) || !is_idch(text[0]);
        int right_ok = !is_idch(p[n]) || !is_idch(text[n - 1]);
        if (left_ok && right_ok && k-- == 0)
            return p - line;
    }
    return -1;
}

/* The source line of token TOK (malloc'd, NULL when unreadable) and its
 * 1-based column in *COL (1 when the line is unreadable); *LEN is set to
 * 1 when the token is not on the line as written (a macro's expansion). */
static char *locate(acx_src *s, uint32_t tok, int *col_out,
                    uint32_t *len_out)
{
    *col_out = 1;
    if (tok >= s->ntoks)
        return NULL;
    acx_tok *t = &s->toks[tok];
    const char *path = s->files && t->file < s->nfiles ? s->files[t->file]
                                                        : s->path;
    char *line = read_line(path, t->line);
    if (!line)
        return NULL;
    /* how many earlier tokens on the same line have the same text */
    int k = 0;
    for (uint32_t i = tok; i-- > 0;) {
        acx_tok *u = &s->toks[i];
        if (u->line != t->line || u->file != t->file)
            break;
        k += u->len == t->len &&
             memcmp(s->buf + u->off, s->buf + t->off, t->len) == 0;
    }
    char *text = malloc(t->len + 1);
    long col = -1;
    if (text && t->len > 0) {
        memcpy(text, s->buf + t->off, t->len);
        text[t->len] = 0;
        col = find_nth(line, text, t->len, k);
    }
    if (col < 0) { /* from a macro: point at the line's start */
        *len_out = 1;
        col = 0;
        while (line[col] == ' ' || line[col] == '\t')
            col++;
    }
    free(text);
    *col_out = (int)col + 1;
    return line;
}

int diag_column(acx_src *s, uint32_t tok)
{
    int col;
    uint32_t len;
    free(locate(s, tok, &col, &len));
    return col;
}

struct diag_held {
    uint32_t key;  /* offset in the preprocessed text: source order */
    uint32_t seq;  /* order of reporting, among equal keys */
    char *text;
};

static int held_cmp(const void *a, const void *b)
{
    const struct diag_held *x = a, *y = b;
    if (x->key != y->key)
        return x->key < y->key ? -1 : 1;
    return x->seq < y->seq ? -1 : x->seq > y->seq;
}

void diag_flush(acx_src *s)
{
    FILE *out = s->err ? s->err : stderr;
    if (s->nheld > 1)
        qsort(s->held, (size_t)s->nheld, sizeof *s->held, held_cmp);
    for (int i = 0; i < s->nheld; i++) {
        fputs(s->held[i].text, out);
        free(s->held[i].text);
    }
    free(s->held);
    s->held = NULL;
    s->nheld = s->capheld = 0;
}

/* Keep TEXT for diag_flush; print it at once if that fails. */
static void hold(acx_src *s, uint32_t key, char *text)
{
    if (s->nheld == s->capheld) {
        int cap = s->capheld ? s->capheld * 2 : 16;
        struct diag_held *h = realloc(s->held, (size_t)cap * sizeof *h);
        if (!h) {
            fputs(text, s->err ? s->err : stderr);
            free(text);
            return;
        }
        s->held = h;
        s->capheld = cap;
    }
    s->held[s->nheld].key = key;
    s->held[s->nheld].seq = (uint32_t)s->nheld;
    s->held[s->nheld++].text = text;
}

/* Where a diagnostic points: file, line, column, the source line's text
 * (NULL when it cannot be read) and how many columns to underline. */
typedef struct {
    const char *path;
    uint32_t line;
    int col;
    const char *text;
    uint32_t len;
} diag_loc;

static void emit_to(FILE *out, const acx_src *s, const diag_loc *at,
                    const char *sev, const char *fmt, va_list ap);

static void emit(acx_src *s, uint32_t key, const diag_loc *at,
                 const char *sev, const char *fmt, va_list ap)
{
    if (s->sorted) {
        char *text = NULL;
        size_t n = 0;
        FILE *m = open_memstream(&text, &n);
        if (m) {
            emit_to(m, s, at, sev, fmt, ap);
            fclose(m);
            hold(s, key, text);
            return;
        }
    }
    emit_to(s->err ? s->err : stderr, s, at, sev, fmt, ap);
}

static void json_string(FILE *out, const char *p)
{
    fputc('"', out);
    for (; *p; p++) {
        if (*p == '"' || *p == '\\')
            fprintf(out, "\\%c", *p);
        else if ((unsigned char)*p < 0x20)
            fprintf(out, "\\u%04x", (unsigned char)*p);
        else
            fputc(*p, out);
    }
    fputc('"', out);
}

static void emit_json(FILE *out, const diag_loc *at, const char *sev,
                      const char *msg)
{
    fputs("{\"file\":", out);
    json_string(out, at->path);
    fprintf(out, ",\"line\":%u,\"column\":%d,\"severity\":\"%s\","
                 "\"message\":", at->line, at->col, sev);
    json_string(out, msg);
    fputs("}\n", out);
}

/* gcc's colours (GCC_COLORS' defaults): locus bold, error bold red,
 * warning bold magenta, caret bold green. */
#define C_BOLD "\33[01m"
#define C_ERROR "\33[01;31m"
#define C_WARN "\33[01;35m"
#define C_CARET "\33[01;32m"
#define C_END "\33[m"

/* The source line under the message, as gcc prints it:
 *     12 |     await f(x);
 *        |     ^~~~~
 * Tabs are expanded to 8-column stops so the caret lines up on any
 * terminal; the underline covers the token, clipped to the line. */
/* Length of the valid UTF-8 sequence at P (of at most N bytes), 0 when
 * the bytes there are not one. */
static size_t utf8_len(const unsigned char *p, size_t n)
{
    size_t len = p[0] >= 0xf0 && p[0] <= 0xf4 ? 4
               : p[0] >= 0xe0 ? 3
               : p[0] >= 0xc2 && p[0] <= 0xdf ? 2 : 0;
    if (len == 0 || len > n)
        return 0;
    for (size_t i = 1; i < len; i++)
        if ((p[i] & 0xc0) != 0x80)
            return 0;
    return len;
}

/* The source line under the message, as gcc prints it:
 *     12 |     await f(x);
 *        |     ^~~~~
 * Tabs are expanded to 8-column stops so the caret lines up on any
 * terminal; a control byte or a byte that is not UTF-8 is shown as '?'
 * (never sent raw to the terminal); the underline covers the token,
 * clipped to the line. */
static void emit_caret(FILE *out, const diag_loc *at, int color)
{
    char gutter[16];
    int w = snprintf(gutter, sizeof gutter, "%5u", at->line);
    const unsigned char *t = (const unsigned char *)at->text;
    int vcol = 0, caret_at = -1;
    size_t n = strlen(at->text), start = (size_t)(at->col - 1);
    fprintf(out, "%s |%s", gutter, n ? " " : "");
    for (size_t i = 0, step; i < n; i += step) {
        if (caret_at < 0 && i >= start)
            caret_at = vcol;
        step = t[i] >= 0x80 ? utf8_len(t + i, n - i) : 1;
        if (t[i] == '\t') {
            do
                fputc(' ', out);
            while (++vcol % 8);
        } else if (step == 0 || t[i] < 0x20 || t[i] == 0x7f) {
            fputc('?', out);
            vcol++;
            step = 1;
        } else {
            fwrite(t + i, 1, step, out);
            vcol++;
        }
    }
    if (caret_at < 0)
        caret_at = vcol; /* past the end: the caret goes after the text */
    fprintf(out, "\n%*s | %*s%s^", w, "", caret_at, "", color ? C_CARET : "");
    for (uint32_t i = 1; i < at->len && start + i < n; i++)
        fputc('~', out);
    fprintf(out, "%s\n", color ? C_END : "");
}

static void emit_to(FILE *out, const acx_src *s, const diag_loc *at,
                    const char *sev, const char *fmt, va_list ap)
{
    char msg[1024];
    vsnprintf(msg, sizeof msg, fmt, ap);
    if (s->json) {
        emit_json(out, at, sev, msg);
        return;
    }
    if (s->color)
        fprintf(out, C_BOLD "%s:%u:%d:" C_END " %s%s:" C_END " %s\n",
                at->path, at->line, at->col,
                sev[0] == 'e' ? C_ERROR : C_WARN, sev, msg);
    else
        fprintf(out, "%s:%u:%d: %s: %s\n", at->path, at->line, at->col, sev,
                msg);
    if (s->caret && at->text)
        emit_caret(out, at, s->color);
}

static uint32_t tok_key(acx_src *s, uint32_t tok)
{
    return tok < s->ntoks ? s->toks[tok].off : (uint32_t)s->len;
}

static const char *tok_path(acx_src *s, uint32_t tok)
{
    if (tok < s->ntoks && s->files && s->toks[tok].file < s->nfiles)
        return s->files[s->toks[tok].file];
    return s->path;
}

static void diag_tok(acx_src *s, uint32_t tok, const char *sev,
                     const char *fmt, va_list ap)
{
    diag_loc at = {tok_path(s, tok), tok < s->ntoks ? s->toks[tok].line : 1,
                   1, NULL, tok < s->ntoks ? s->toks[tok].len : 1};
    char *text = locate(s, tok, &at.col, &at.len);
    at.text = text;
    emit(s, tok_key(s, tok), &at, sev, fmt, ap);
    free(text);
}

void diag_error(acx_src *s, uint32_t tok, const char *fmt, ...)
{
    s->errors++;
    if (s->max_errors && s->errors > s->max_errors)
        return;
    va_list ap;
    va_start(ap, fmt);
    diag_tok(s, tok, "error", fmt, ap);
    va_end(ap);
}

void diag_warning(acx_src *s, uint32_t tok, const char *fmt, ...)
{
    s->warnings++;
    va_list ap;
    va_start(ap, fmt);
    diag_tok(s, tok, "warning", fmt, ap);
    va_end(ap);
}

void diag_error_at(acx_src *s, uint32_t off, uint16_t file, uint32_t line,
                   const char *fmt, ...)
{
    s->errors++;
    if (s->max_errors && s->errors > s->max_errors)
        return;
    /* column: distance from the start of the preprocessed line */
    uint32_t b = off;
    while (b > 0 && s->buf[b - 1] != '\n')
        b--;
    diag_loc at = {s->files && file < s->nfiles ? s->files[file] : s->path,
                   line, (int)(off - b) + 1, NULL, 1};
    char *text = read_line(at.path, line);
    at.text = text;
    va_list ap;
    va_start(ap, fmt);
    emit(s, off, &at, "error", fmt, ap);
    va_end(ap);
    free(text);
}
