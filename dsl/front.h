/* front.h - the acxc front end: source buffer, tokens, diagnostics, AST.
 *
 * The lexer turns the preprocessed translation unit into one token array;
 * a token is an offset and a length into the buffer, never a copy.  The
 * parser (lemon, push-style) builds the AST from token indexes.  Positions
 * in .acx terms come from cpp's linemarkers; columns are worked out only
 * when a diagnostic is printed.
 */
#ifndef ACX_FRONT_H
#define ACX_FRONT_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

/* ---- source and tokens ------------------------------------------------ */

enum {
    TF_ATTR = 1,     /* preceded by __attribute__((...)) the parser skipped */
    TF_HIDDEN = 2,   /* not given to the parser (attributes, asm labels) */
    TF_FALLTHRU = 4, /* a fall-through comment came just before */
    TF_SYS = 8,      /* from a system header (linemarker flag 3) */
};

typedef struct acx_tok {
    uint32_t off;     /* byte offset in the buffer */
    uint32_t len;
    uint32_t line;    /* line in the original file (from linemarkers) */
    uint16_t file;    /* index into acx_src.files */
    uint8_t kind;     /* TK_* from parser.h, 0 for hidden tokens */
    uint8_t flags;    /* TF_* */
    uint32_t attr;    /* with TF_ATTR: index of the first hidden token */
    const char *repl; /* set by analysis: text to emit instead */
} acx_tok;

typedef struct acx_src {
    const char *path;   /* the .acx file as named on the command line */
    char *buf;          /* preprocessed text, NUL-terminated */
    size_t len;
    char **files;       /* file names seen in linemarkers */
    uint8_t *sysfile;   /* files[i] has appeared as a system header */
    int nfiles, capfiles;
    acx_tok *toks;
    uint32_t ntoks, captoks;
    /* diagnostics */
    int errors, warnings;
    int max_errors;
    int json;           /* diagnostics as JSON lines */
    int caret;          /* print the source line and a caret under it */
    int color;          /* ANSI colours (gcc's) in the text form */
    FILE *err;          /* where diagnostics go (stderr) */
    int sorted;         /* hold diagnostics; diag_flush prints them in
                         * source order */
    struct diag_held *held;
    int nheld, capheld;
} acx_src;

int src_file_index(acx_src *s, const char *name, size_t len);
void src_free(acx_src *s);

/* Tokenize s->buf into s->toks.  Returns 0, or -1 after reporting errors. */
int lex_run(acx_src *s);
/* Token kind for a keyword spelling, or 0 (used by tests). */
int lex_keyword(const char *p, size_t n);

/* ---- diagnostics ------------------------------------------------------ */

void diag_error(acx_src *s, uint32_t tok, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
void diag_warning(acx_src *s, uint32_t tok, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* An error at a raw buffer offset (the lexer, before tokens exist). */
void diag_error_at(acx_src *s, uint32_t off, uint16_t file, uint32_t line,
                   const char *fmt, ...) __attribute__((format(printf, 5, 6)));
/* Print held diagnostics in source order (with src->sorted). */
void diag_flush(acx_src *s);
/* Column (1-based) of token T in its original source line. */
int diag_column(acx_src *s, uint32_t tok);

/* ---- AST -------------------------------------------------------------- */

typedef struct node node;

enum node_kind {
    /* expressions */
    E_IDENT = 1, E_CONST, E_STRING, E_PAREN, E_CALL, E_INDEX, E_MEMBER,
    E_POSTFIX, E_COMPLIT, E_UNARY, E_SIZEOF, E_ALIGNOF, E_CAST, E_BINARY,
    E_LAND, E_LOR, E_COND, E_ASSIGN, E_COMMA, E_AWAIT, E_STMTEXPR,
    E_BUILTIN, E_LABELADDR, E_GENERIC, E_INITLIST, E_DESIG, E_ARGS,
    /* statements */
    S_BLOCK, S_EXPR, S_DECL, S_IF, S_WHILE, S_DO, S_FOR, S_SWITCH, S_CASE,
    S_DEFAULT, S_LABEL, S_GOTO, S_BREAK, S_CONTINUE, S_RETURN, S_NULL,
    S_ASM, S_LOCALLABEL, S_STATICASSERT, S_ERROR,
    /* declarations */
    D_SPECS, D_INITDECL, D_NAME, D_PTR, D_ARRAY, D_FUNC, D_PAREN, D_PARAM,
    D_STRUCT, D_ENUM, D_ENUMERATOR, D_TYPENAME, D_TYPEOF, D_FUNCDEF,
    D_MEMBER,
};

/* D_SPECS flags */
enum {
    SP_TYPEDEF = 1 << 0, SP_EXTERN = 1 << 1, SP_STATIC = 1 << 2,
    SP_AUTO = 1 << 3, SP_REGISTER = 1 << 4, SP_THREAD = 1 << 5,
    SP_INLINE = 1 << 6, SP_NORETURN = 1 << 7, SP_ASYNC = 1 << 8,
    SP_CONST = 1 << 9, SP_VOID = 1 << 10, SP_INTEGER = 1 << 11,
    SP_OTHERTYPE = 1 << 12, /* float, struct, typeof, ...: not integer */
    SP_TYPENAME = 1 << 13,  /* a typedef name among the specifiers */
    SP_HASTYPE = 1 << 14,   /* some type specifier seen */
};

/* node flags */
enum {
    NF_AWAIT = 1 << 0,   /* an await somewhere inside */
    NF_RETURN = 1 << 1,  /* a return statement somewhere inside */
    NF_FRAME = 1 << 2,   /* block: its locals live in the frame */
};

struct node {
    uint16_t kind;
    uint16_t flags;
    uint32_t op;          /* operator token kind, or a small subkind */
    uint32_t first, last; /* token span, inclusive */
    uint32_t tok;         /* the significant token (name, operator) */
    node *a, *b, *c, *d;  /* children, by kind */
    node *next;           /* sibling in a list */
    node *tail;           /* list head only: the last item */
    uint32_t spec;        /* D_SPECS flags; statement/decl extra data */
    void *sym;            /* resolution, filled by analysis */
};

/* ---- parse context ---------------------------------------------------- */

typedef struct sym_entry sym_entry;

typedef struct acx_parse {
    acx_src *src;
    node *unit;          /* list of external declarations (in order) */
    node *unit_tail;
    struct arena *arena;
    /* the typedef-name table: scoped, for the lexer hack */
    struct symtab *types;
    int depth;           /* brace depth while feeding */
    int syntax_errors;
    uint32_t last_err_tok;
    int fatal;           /* stop parsing (too many errors) */
    int in_typedef;      /* the declaration being parsed says typedef */
    node *last_specs;    /* the declaration specifiers built last */
} acx_parse;

node *ast_new(acx_parse *p, int kind, uint32_t first, uint32_t last);
node *ast_list_append(node *list, node *item); /* returns the list head */
uint32_t ast_first(node *n);
/* Parse s (already lexed) into p->unit.  Returns 0, or -1 on errors. */
int parse_run(acx_parse *p, acx_src *s);
void parse_free(acx_parse *p);

/* Declarator helpers */
node *decl_name(node *declr);        /* the D_NAME inside, or NULL */
node *decl_func(node *declr);        /* the D_FUNC applied to the name */
int decl_is_function(node *declr);   /* declares a function */
node *decl_root(node *declr);        /* the outermost part, past parens */
int decl_plain(node *declr);         /* just a name: no *, [] or () */
int decl_qualified_ptr(node *declr); /* a pointer level has qualifiers */

/* the typedef-name table (symtab.c) */
struct symtab *symtab_new(void);
void symtab_free(struct symtab *t);
void symtab_push(struct symtab *t);
void symtab_pop(struct symtab *t);
/* kind: 1 typedef name, 2 ordinary identifier (shadows a typedef) */
void symtab_set(struct symtab *t, const char *name, size_t len, int kind,
                void *data);
int symtab_get(struct symtab *t, const char *name, size_t len, void **data);
size_t name_hash(const char *s, size_t n);

/* arena.c */
struct arena;
struct arena *arena_new(void);
void *arena_alloc(struct arena *a, size_t n);
char *arena_strndup(struct arena *a, const char *s, size_t n);
void arena_free(struct arena *a);

#endif
