/* gen.h - acxc's back end: analysis of async functions and C emission.
 *
 * Passes: gen.c finds the async functions of the unit and orders them;
 * frame.c resolves each body's names and lays out its frame; lower.c emits
 * the body as a resumable state machine; emit.c is the output buffer that
 * keeps #line in step with the .acx source.
 */
#ifndef ACX_GEN_H
#define ACX_GEN_H

#include "front.h"

/* ---- output ----------------------------------------------------------- */

typedef struct obuf {
    char *p;
    size_t n, cap;
    acx_src *src;
    int lines;          /* emit #line directives */
    uint16_t file;      /* where the output position maps in the source */
    uint32_t line;
    int mapped;         /* file/line are meaningful */
    uint32_t outline;   /* newlines written so far: the output's own line */
} obuf;

void ob_init(obuf *o, acx_src *src, int lines);
void ob_free(obuf *o);
void ob_putn(obuf *o, const char *s, size_t n);
void ob_puts(obuf *o, const char *s);
void ob_printf(obuf *o, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* Make the next output line map to token T's source line. */
void ob_sync(obuf *o, uint32_t t);
/* Tokens FIRST..LAST as text (replacements applied, line-synced). */
void ob_span(obuf *o, uint32_t first, uint32_t last);
/* Raw buffer bytes [from, to) (pass-through text with cpp's linemarkers). */
void ob_raw(obuf *o, uint32_t from, uint32_t to);
/* Forget the mapping (after text that is not from the source). */
void ob_unmap(obuf *o);
/* Map what follows to the output file PATH itself (#line to its own
 * line), for generated code that has no .acx line of its own. */
void ob_here(obuf *o, const char *path);
void ob_nl(obuf *o);
/* Generated code (printf-like): on one line when #line is on. */
void ob_glue(obuf *o, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* ---- async functions ---------------------------------------------------- */

typedef struct afunc afunc;
typedef struct local local;
typedef struct layout layout;

struct afunc {
    const char *name;
    size_t namelen;
    node *def;          /* D_FUNCDEF, or NULL when only declared */
    node *specs, *declr;
    node *params;       /* D_PARAM list of the function declarator */
    int is_static;
    int is_void;        /* returns void */
    int ret_integer;    /* returns an integer type (result_int) */
    int embeddable;     /* its frame struct is visible: await embeds it */
    int fast;           /* acx__fast_NAME is declared: no child frame */
    int emitted;        /* frame struct already written */
    unsigned stamp;     /* for the recursion search: last query seen */
    afunc *hnext;       /* hash chain in gen.table */
    int recursive;      /* reaches itself through awaits */
    afunc *next;
    /* analysis of a definition */
    local *locals;      /* every local and parameter */
    layout *root;       /* the frame's layout tree */
    layout *children;   /* child frames of await points: one union */
    int nsites;         /* await points */
    uint32_t *site_tok; /* token of each await point, 1..nsites */
    int ntemps, nlabels;
    char *hoisted;      /* file-scope type definitions taken out of the body */
    size_t hoisted_len;
    struct callee {
        afunc *f;
        int boxed;
        struct callee *next;
    } *callees;
};

enum local_kind { L_VAR, L_PARAM, L_KEEP, L_TYPEDEF, L_TAG, L_ENUMC };

struct local {
    int kind;
    const char *name;
    size_t len;
    char *field;        /* frame field / hoisted name */
    node *specs, *declr, *init;
    layout *where;      /* the layout node it lives in (frame locals) */
    int in_frame;
    local *next;        /* in afunc.locals */
    local *shadow;      /* the declaration it hides */
};

struct layout {
    layout *parent;
    int seq;            /* kids are all live at once: no sharing */
    layout *kids, *kids_tail, *sibling;
    struct field {
        char *text;     /* "int x" etc. */
        uint32_t tok;   /* source position for #line, or 0 */
        struct field *next;
    } *fields, *fields_tail;
};

typedef struct gen {
    acx_parse *parse;
    acx_src *src;
    obuf out;
    afunc *funcs;       /* every async function, in order of appearance */
    afunc *table[1024]; /* the same, by name */
    unsigned stamp;
    afunc *cur;         /* the function being analysed or lowered */
    const char *outpath; /* for messages */
    int no_line;
} gen;

afunc *gen_find(gen *g, const char *name, size_t len);
/* Emit the whole translation unit into g->out.  0, or -1 on errors. */
int gen_unit(gen *g);
/* Write the header declaring the unit's extern async functions. */
int gen_header(gen *g, obuf *h, const char *guard);

/* frame.c */
int frame_analyse(gen *g, afunc *f);
layout *layout_new(layout *parent);
void layout_field(layout *l, char *text, uint32_t tok);
char *gen_strdup(gen *g, const char *s);
char *gen_printf(gen *g, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
char *render_declarator(gen *g, node *d, const char *name, int drop_func,
                        int adjust_param);
char *render_specs(gen *g, node *specs, int drop_const);
int type_is_void(gen *g, node *specs, node *declr);
int returns_integer(node *specs, node *declr);
/* The function declarator returns its specifiers' type (no pointer). */
int returns_own_specs(node *declr);
/* The specifiers of F's return type, for a field or temporary. */
char *render_ret_specs(gen *g, afunc *f);

/* lower.c */
int lower_function(gen *g, afunc *f, obuf *o);

/* The text of token T. */
static inline const char *tok_str(acx_src *s, uint32_t t, size_t *len)
{
    *len = s->toks[t].len;
    return s->buf + s->toks[t].off;
}

#endif
