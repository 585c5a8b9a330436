/* lexer.re - re2c lexer for preprocessed C11 + GNU C + async/await.
 *
 * Input is cpp's output: NUL-terminated, comments gone, directives reduced
 * to linemarkers (`# 12 "file" 1`) and #pragma lines.  Linemarkers set the
 * original file and line of what follows; pragmas are skipped here (the
 * generator copies top-level text verbatim, pragmas included).
 */
#include <stdlib.h>
#include <string.h>

#include "front.h"
#include "parser.h"

/*!re2c
    re2c:define:YYCTYPE = "unsigned char";
    re2c:define:YYCURSOR = cur;
    re2c:define:YYLIMIT = lim;
    re2c:define:YYMARKER = mar;
    re2c:yyfill:enable = 0;
    re2c:eof = 0;

    nl    = "\r"? "\n";
    ws    = [ \t\v\f]+;
    id    = [a-zA-Z_$][a-zA-Z_0-9$]*;
    ppnum = ("." ? [0-9]) ([0-9a-zA-Z_.] | [eEpP] [+-])*;
    esc   = "\\" [^\r\n];
    chr   = ("L" | "u" | "U" | "u8")? "'" ([^'\\\r\n\x00] | esc)+ "'";
    str   = ("L" | "u" | "U" | "u8")? "\"" ([^"\\\r\n\x00] | esc)* "\"";
*/

typedef struct lexer {
    acx_src *s;
    const unsigned char *base, *cur, *lim, *mar, *tok;
    uint32_t line;
    uint16_t file;
    int bol; /* at the beginning of a line (only blanks so far) */
    int fallthru; /* a fall-through comment awaits the next token */
    int sys;      /* in a system header, by the last linemarker */
} lexer;

/* A comment that tells gcc a case falls through on purpose ("fallthrough",
 * "falls through", "FALLTHRU"...).  acxc re-emits code from tokens, so the
 * intent is kept as __attribute__((fallthrough)) (see emit.c). */
static int fallthrough_comment(const unsigned char *p, const unsigned char *e)
{
    for (; p + 4 <= e; p++) {
        if ((p[0] | 32) != 'f' || (p[1] | 32) != 'a' || (p[2] | 32) != 'l' ||
            (p[3] | 32) != 'l')
            continue;
        for (const unsigned char *q = p + 4; q + 3 <= e && q < p + 8; q++)
            if ((q[0] | 32) == 't' && (q[1] | 32) == 'h' && (q[2] | 32) == 'r')
                return 1;
    }
    return 0;
}

static int push_tok(lexer *L, int kind)
{
    acx_src *s = L->s;
    if (s->ntoks == s->captoks) {
        uint32_t cap = s->captoks ? s->captoks * 2 : 4096;
        acx_tok *t = realloc(s->toks, (size_t)cap * sizeof *t);
        if (!t)
            return -1;
        s->toks = t;
        s->captoks = cap;
    }
    acx_tok *t = &s->toks[s->ntoks++];
    memset(t, 0, sizeof *t);
    t->off = (uint32_t)(L->tok - L->base);
    t->len = (uint32_t)(L->cur - L->tok);
    t->line = L->line;
    t->file = L->file;
    t->kind = (uint8_t)kind;
    if (L->fallthru)
        t->flags |= TF_FALLTHRU;
    if (L->sys)
        t->flags |= TF_SYS;
    L->fallthru = 0;
    return 0;
}

/* A linemarker or directive line starting at L->cur (just after '#').
 * `# N "file" flags` and `#line N "file"` move the position; anything else
 * (#pragma, #ident) is skipped.  Leaves L->cur at the end of the line. */
static void directive(lexer *L)
{
    const unsigned char *p = L->cur, *lim = L->lim;
    while (p < lim && (*p == ' ' || *p == '\t'))
        p++;
    if (lim - p >= 4 && memcmp(p, "line", 4) == 0) {
        p += 4;
        while (p < lim && (*p == ' ' || *p == '\t'))
            p++;
    }
    if (p < lim && *p >= '0' && *p <= '9') {
        unsigned long n = 0;
        while (p < lim && *p >= '0' && *p <= '9' && n < 100000000UL)
            n = n * 10 + (unsigned long)(*p++ - '0');
        while (p < lim && (*p == ' ' || *p == '\t'))
            p++;
        if (p < lim && *p == '"') {
            const unsigned char *q = ++p;
            while (q < lim && *q != '"' && *q != '\n')
                q += (*q == '\\' && q + 1 < lim) ? 2 : 1;
            int fi = src_file_index(L->s, (const char *)p, (size_t)(q - p));
            if (fi >= 0)
                L->file = (uint16_t)fi;
            p = q;
            /* flag 3: a system header (a macro from one expands in a user
             * file with the same marker, so this is a state, not a file) */
            L->sys = 0;
            for (const unsigned char *f = p + 1; f < lim && *f != '\n'; f++)
                if (*f == '3' && f[-1] == ' ')
                    L->sys = 1;
            if (L->sys && fi >= 0)
                L->s->sysfile[fi] = 1;
        }
        L->line = (uint32_t)n - 1; /* the newline below adds one */
    }
    while (p < lim && *p != '\n')
        p++;
    L->cur = p;
}

static int sys_header(lexer *L)
{
    return L->sys;
}

/* Scan the next token; push it and return its kind, or 0 at the end. */
#define TOK(k)                                                             \
    do {                                                                   \
        L->cur = cur;                                                      \
        L->bol = 0;                                                        \
        return push_tok(L, (k)) ? -1 : (k);                                \
    } while (0)

static int lex_token(lexer *L)
{
    const unsigned char *cur = L->cur, *lim = L->lim, *mar = cur;
    for (;;) {
        L->tok = cur;
        /*!re2c
        $ { L->cur = cur; return 0; }
        nl { L->line++; L->bol = 1; continue; }
        ws { continue; }
        "/*" ([^*\x00] | "*"+ [^*/\x00])* "*"+ "/" {
            for (const unsigned char *p = L->tok; p < cur; p++)
                L->line += (*p == '\n');
            L->fallthru |= fallthrough_comment(L->tok, cur);
            continue;
        }
        "/*" {
            L->cur = cur;
            diag_error_at(L->s, (uint32_t)(L->tok - L->base), L->file,
                          L->line, "unterminated comment");
            cur = lim;
            continue;
        }
        "//" [^\r\n\x00]* {
            L->fallthru |= fallthrough_comment(L->tok, cur);
            continue;
        }
        "#" {
            if (!L->bol) {
                L->cur = cur;
                diag_error_at(L->s, (uint32_t)(L->tok - L->base), L->file,
                              L->line, "stray '#' in program");
                continue;
            }
            L->cur = cur;
            directive(L);
            cur = L->cur;
            continue;
        }
        "\\" nl { L->line++; continue; }

        "auto" { TOK(TK_AUTO); }
        "break" { TOK(TK_BREAK); }
        "case" { TOK(TK_CASE); }
        "char" { TOK(TK_CHAR); }
        "const" | "__const" | "__const__" { TOK(TK_CONST); }
        "continue" { TOK(TK_CONTINUE); }
        "default" { TOK(TK_DEFAULT); }
        "do" { TOK(TK_DO); }
        "double" { TOK(TK_DOUBLE); }
        "else" { TOK(TK_ELSE); }
        "enum" { TOK(TK_ENUM); }
        "extern" { TOK(TK_EXTERN); }
        "float" { TOK(TK_FLOAT); }
        "for" { TOK(TK_FOR); }
        "goto" { TOK(TK_GOTO); }
        "if" { TOK(TK_IF); }
        "inline" | "__inline" | "__inline__" { TOK(TK_INLINE); }
        "int" { TOK(TK_INT); }
        "long" { TOK(TK_LONG); }
        "register" { TOK(TK_REGISTER); }
        "restrict" | "__restrict" | "__restrict__" { TOK(TK_RESTRICT); }
        "return" { TOK(TK_RETURN); }
        "short" { TOK(TK_SHORT); }
        "signed" | "__signed" | "__signed__" { TOK(TK_SIGNED); }
        "sizeof" { TOK(TK_SIZEOF); }
        "static" { TOK(TK_STATIC); }
        "struct" { TOK(TK_STRUCT); }
        "switch" { TOK(TK_SWITCH); }
        "typedef" { TOK(TK_TYPEDEF); }
        "union" { TOK(TK_UNION); }
        "unsigned" { TOK(TK_UNSIGNED); }
        "void" { TOK(TK_VOID); }
        "volatile" | "__volatile" | "__volatile__" { TOK(TK_VOLATILE); }
        "while" { TOK(TK_WHILE); }
        "_Alignas" { TOK(TK_ALIGNAS); }
        "_Alignof" | "__alignof" | "__alignof__" { TOK(TK_ALIGNOF); }
        "_Atomic" { TOK(TK_ATOMIC); }
        "_Bool" { TOK(TK_BOOL); }
        "_Complex" | "__complex__" | "__complex" { TOK(TK_COMPLEX); }
        "_Imaginary" { TOK(TK_IMAGINARY); }
        "_Generic" { TOK(TK_GENERIC); }
        "_Noreturn" { TOK(TK_NORETURN); }
        "_Static_assert" | "static_assert" { TOK(TK_STATIC_ASSERT); }
        "_Thread_local" | "__thread" { TOK(TK_THREAD_LOCAL); }
        /* In system headers async and await are ordinary names (<uv.h>
         * has a parameter called async); headers meant for acxc that may
         * live there spell the specifier __acx_async. */
        "async" { TOK(sys_header(L) ? TK_IDENT : TK_ASYNC); }
        "await" { TOK(sys_header(L) ? TK_IDENT : TK_AWAIT); }
        "__acx_async" { TOK(TK_ASYNC); }
        "asm" | "__asm" | "__asm__" { TOK(TK_ASM); }
        "typeof" | "__typeof" | "__typeof__" { TOK(TK_TYPEOF); }
        "__extension__" { TOK(TK_EXTENSION); }
        "__attribute__" | "__attribute" { TOK(TK_ATTRIBUTE); }
        "__builtin_va_arg" { TOK(TK_BUILTIN_VA_ARG); }
        "__builtin_offsetof" { TOK(TK_BUILTIN_OFFSETOF); }
        "__builtin_types_compatible_p" { TOK(TK_BUILTIN_TYPES_COMPAT); }
        "__real__" | "__real" { TOK(TK_REAL); }
        "__imag__" | "__imag" { TOK(TK_IMAG); }
        "__label__" { TOK(TK_LOCAL_LABEL); }
        "__auto_type" { TOK(TK_AUTO_TYPE); }
        "__int128" | "__int128_t" | "__uint128_t" { TOK(TK_INT128); }
        "_Float" [0-9]+ "x"? | "__float128" | "__float80" | "__fp16"
            | "__ibm128" | "_Decimal" [0-9]+ | "__builtin_va_list"
            { TOK(TK_BUILTIN_TYPE); }
        id { TOK(TK_IDENT); }
        ppnum { TOK(TK_NUMBER); }
        chr { TOK(TK_CHARCONST); }
        str { TOK(TK_STRING); }
        ("L" | "u" | "U" | "u8")? ["'] {
            L->cur = cur;
            diag_error_at(L->s, (uint32_t)(L->tok - L->base), L->file,
                          L->line, "missing terminating %c character",
                          L->tok[cur - L->tok - 1]);
            while (cur < lim && *cur != '\n')
                cur++;
            continue;
        }
        "(" { TOK(TK_LPAREN); }
        ")" { TOK(TK_RPAREN); }
        "[" | "<:" { TOK(TK_LBRACKET); }
        "]" | ":>" { TOK(TK_RBRACKET); }
        "{" | "<%" { TOK(TK_LBRACE); }
        "}" | "%>" { TOK(TK_RBRACE); }
        "." { TOK(TK_DOT); }
        "->" { TOK(TK_ARROW); }
        "++" { TOK(TK_INC); }
        "--" { TOK(TK_DEC); }
        "&" { TOK(TK_AMP); }
        "*" { TOK(TK_STAR); }
        "+" { TOK(TK_PLUS); }
        "-" { TOK(TK_MINUS); }
        "~" { TOK(TK_TILDE); }
        "!" { TOK(TK_NOT); }
        "/" { TOK(TK_SLASH); }
        "%" { TOK(TK_PERCENT); }
        "<<" { TOK(TK_SHL); }
        ">>" { TOK(TK_SHR); }
        "<" { TOK(TK_LT); }
        ">" { TOK(TK_GT); }
        "<=" { TOK(TK_LE); }
        ">=" { TOK(TK_GE); }
        "==" { TOK(TK_EQ); }
        "!=" { TOK(TK_NE); }
        "^" { TOK(TK_XOR); }
        "|" { TOK(TK_OR); }
        "&&" { TOK(TK_ANDAND); }
        "||" { TOK(TK_OROR); }
        "?" { TOK(TK_QUESTION); }
        ":" { TOK(TK_COLON); }
        ";" { TOK(TK_SEMI); }
        "..." { TOK(TK_ELLIPSIS); }
        "=" { TOK(TK_ASSIGN); }
        "*=" | "/=" | "%=" | "+=" | "-=" | "<<=" | ">>=" | "&=" | "^="
            | "|=" { TOK(TK_OPASSIGN); }
        "," { TOK(TK_COMMA); }
        * {
            L->cur = cur;
            if (*L->tok == 0)
                diag_error_at(L->s, (uint32_t)(L->tok - L->base), L->file,
                              L->line, "stray NUL byte in program");
            else if (*L->tok >= 0x20 && *L->tok < 0x7f)
                diag_error_at(L->s, (uint32_t)(L->tok - L->base), L->file,
                              L->line, "stray '%c' in program", *L->tok);
            else
                diag_error_at(L->s, (uint32_t)(L->tok - L->base), L->file,
                              L->line, "stray '\\%03o' in program",
                              (unsigned)*L->tok);
            continue;
        }
        */
    }
}
#undef TOK

int lex_run(acx_src *s)
{
    lexer L;
    memset(&L, 0, sizeof L);
    L.s = s;
    L.base = L.cur = (const unsigned char *)s->buf;
    L.lim = L.base + s->len;
    L.line = 1;
    L.bol = 1;
    int errors = s->errors;
    for (;;) {
        int kind = lex_token(&L);
        if (kind == 0)
            break;
        if (kind < 0) {
            diag_error_at(s, (uint32_t)(L.tok - L.base), L.file, L.line,
                          "out of memory");
            return -1;
        }
    }
    return s->errors > errors ? -1 : 0;
}

int lex_keyword(const char *p, size_t n)
{
    acx_src s;
    memset(&s, 0, sizeof s);
    s.buf = malloc(n + 1);
    if (!s.buf)
        return 0;
    memcpy(s.buf, p, n);
    s.buf[n] = 0;
    s.len = n;
    s.err = stderr;
    int kind = 0;
    if (lex_run(&s) == 0 && s.ntoks == 1 && s.toks[0].len == n &&
        s.toks[0].kind != TK_IDENT)
        kind = s.toks[0].kind;
    src_free(&s);
    return kind;
}
