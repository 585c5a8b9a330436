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

int diag_column(acx_src *s, uint32_t tok)
{
    if (tok >= s->ntoks)
        return 1;
    acx_tok *t = &s->toks[tok];
    const char *path = s->files && t->file < s->nfiles ? s->files[t->file]
                                                        : s->path;
    char *line = read_line(path, t->line);
    if (!line)
        return 1;
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
        col = 0;
        while (line[col] == ' ' || line[col] == '\t')
            col++;
    }
    free(text);
    free(line);
    return (int)col + 1;
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

static void emit_to(FILE *out, const char *path, uint32_t line, int col,
                    const char *sev, const char *fmt, va_list ap, int json);

static void emit(acx_src *s, uint32_t key, const char *path, uint32_t line,
                 int col, const char *sev, const char *fmt, va_list ap)
{
    if (s->sorted) {
        char *text = NULL;
        size_t n = 0;
        FILE *m = open_memstream(&text, &n);
        if (m) {
            emit_to(m, path, line, col, sev, fmt, ap, s->json);
            fclose(m);
            hold(s, key, text);
            return;
        }
    }
    emit_to(s->err ? s->err : stderr, path, line, col, sev, fmt, ap,
            s->json);
}

static void emit_to(FILE *out, const char *path, uint32_t line, int col,
                    const char *sev, const char *fmt, va_list ap, int json)
{
    char msg[1024];
    vsnprintf(msg, sizeof msg, fmt, ap);
    if (json) {
        fprintf(out, "{\"file\":\"");
        for (const char *p = path; *p; p++)
            fprintf(out, *p == '"' || *p == '\\' ? "\\%c" : "%c", *p);
        fprintf(out, "\",\"line\":%u,\"column\":%d,\"severity\":\"%s\","
                     "\"message\":\"", line, col, sev);
        for (const char *p = msg; *p; p++) {
            if (*p == '"' || *p == '\\')
                fprintf(out, "\\%c", *p);
            else if ((unsigned char)*p < 0x20)
                fprintf(out, "\\u%04x", (unsigned char)*p);
            else
                fputc(*p, out);
        }
        fprintf(out, "\"}\n");
        return;
    }
    fprintf(out, "%s:%u:%d: %s: %s\n", path, line, col, sev, msg);
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
    uint32_t line = tok < s->ntoks ? s->toks[tok].line : 1;
    emit(s, tok_key(s, tok), tok_path(s, tok), line, diag_column(s, tok), sev,
         fmt, ap);
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
    va_list ap;
    va_start(ap, fmt);
    const char *path = s->files && file < s->nfiles ? s->files[file]
                                                    : s->path;
    emit(s, off, path, line, (int)(off - b) + 1, "error", fmt, ap);
    va_end(ap);
}
