/* ast.c - AST builders for the grammar's actions, and the feed loop that
 * hands tokens to the lemon parser.
 *
 * The feed loop hides what the grammar does not need to see (__extension__,
 * __attribute__((...)), asm labels) while keeping those tokens in the array,
 * so code copied by token span keeps them; and it classifies identifiers
 * as TYPE_NAME or IDENT (the lexer hack).
 */
#include <stdlib.h>
#include <string.h>

#include "build.h"
#include "front.h"
#include "parser.h"

void *acx_lemonAlloc(void *(*)(size_t), acx_parse *);
void acx_lemonFree(void *, void (*)(void *));
void acx_lemon(void *, int, uint32_t);

#define TOKS(c) ((c)->src->toks)

/* typedef data stored in the table: is the type an integer type? */
#define TD_INTEGER 1
#define TD_OTHER 2
#define TD_CONST 4 /* the typedef's own type is const-qualified */

node *ast_new(acx_parse *p, int kind, uint32_t first, uint32_t last)
{
    node *n = arena_alloc(p->arena, sizeof *n);
    n->kind = (uint16_t)kind;
    n->first = first;
    n->last = last;
    n->tok = first;
    return n;
}

node *build_leaf(acx_parse *c, int kind, uint32_t tok)
{
    return ast_new(c, kind, tok, tok);
}

node *build_span(acx_parse *c, int kind, uint32_t first, uint32_t last)
{
    return ast_new(c, kind, first, last);
}

node *build_wrap(acx_parse *c, int kind, node *inner, uint32_t l, uint32_t r)
{
    node *n = ast_new(c, kind, l, r);
    n->a = inner;
    return n;
}

/* The empty name of an abstract declarator, placed before token AT. */
node *build_anon(acx_parse *c, uint32_t at)
{
    node *n = ast_new(c, D_NAME, at, at - 1);
    n->op = 1;
    return n;
}

node *build_list(node *list, node *item)
{
    if (!item)
        return list;
    if (!list) {
        item->tail = item;
        return item;
    }
    list->tail->next = item;
    list->tail = item;
    return list;
}

void build_ext(acx_parse *c, node *ext)
{
    if (!ext)
        return;
    if (c->unit_tail)
        c->unit_tail->next = ext;
    else
        c->unit = ext;
    c->unit_tail = ext;
}

static const char *tok_text(acx_parse *c, uint32_t t, size_t *len)
{
    *len = TOKS(c)[t].len;
    return c->src->buf + TOKS(c)[t].off;
}

/* Record that NAME now denotes an object, function or enumerator in the
 * current scope; only matters when it hides a typedef name. */
static void declare_ordinary(acx_parse *c, uint32_t name)
{
    size_t len;
    const char *s = tok_text(c, name, &len);
    if (symtab_get(c->types, s, len, NULL) == 1)
        symtab_set(c->types, s, len, 2, NULL);
}

static node *build_initdecl_node(acx_parse *c, node *declr, node *init);

node *decl_name(node *d)
{
    while (d) {
        if (d->kind == D_NAME)
            return d->op ? NULL : d;
        d = d->a;
    }
    return NULL;
}

/* The derivation applied directly to the name: what the name *is*. */
static node *decl_top(node *d)
{
    node *top = NULL;
    while (d && d->kind != D_NAME) {
        if (d->kind != D_PAREN)
            top = d;
        d = d->a;
    }
    return top;
}

node *decl_func(node *d)
{
    node *top = decl_top(d);
    return top && top->kind == D_FUNC ? top : NULL;
}

int decl_is_function(node *d)
{
    return decl_func(d) != NULL;
}

node *build_fdef_head(acx_parse *c, node *specs, node *declr)
{
    node *f = ast_new(c, D_FUNCDEF, specs->first, declr->last);
    f->a = specs;
    f->b = declr;
    /* The feed loop has opened the body's scope: parameters live there. */
    node *fn = decl_func(declr);
    for (node *p = fn ? fn->b : NULL; p; p = p->next) {
        node *n = decl_name(p->b);
        if (n)
            declare_ordinary(c, n->tok);
    }
    return f;
}

node *build_funcdef(acx_parse *c, node *head, node *body)
{
    (void)c;
    head->c = body;
    head->last = body->last;
    return head;
}

node *decl_root(node *d)
{
    while (d && d->kind == D_PAREN)
        d = d->a;
    return d;
}

int decl_qualified_ptr(node *d)
{
    for (; d && d->kind != D_NAME; d = d->a)
        if (d->kind == D_PTR && d->op)
            return 1;
    return 0;
}

int decl_plain(node *d)
{
    d = decl_root(d);
    return d && d->kind == D_NAME;
}

/* The `async` keyword among SPECS, for messages. */
static uint32_t async_tok(acx_parse *c, node *specs)
{
    for (uint32_t i = specs->first; i <= specs->last; i++)
        if (TOKS(c)[i].kind == TK_ASYNC)
            return i;
    return specs->first;
}

node *build_decl(acx_parse *c, node *specs, node *list, uint32_t semi)
{
    if ((specs->spec & SP_ASYNC) && (specs->spec & SP_TYPEDEF))
        diag_error(c->src, async_tok(c, specs), "'async' in a typedef: it "
                   "applies only to function definitions and declarations");
    node *d = ast_new(c, S_DECL, specs->first, semi);
    d->a = specs;
    d->b = list;
    return d;
}

node *build_spec(acx_parse *c, uint32_t tok, unsigned flags, node *child)
{
    node *n = ast_new(c, D_SPECS, tok, child ? child->last : tok);
    n->spec = flags;
    n->a = child;
    return n;
}

node *build_specs(acx_parse *c, node *specs, node *piece)
{
    if (!specs)
        specs = ast_new(c, D_SPECS, piece->first, piece->last);
    c->last_specs = specs;
    specs->spec |= piece->spec;
    specs->last = piece->last;
    if (piece->a) /* struct, enum or typeof: keep for walking */
        specs->a = build_list(specs->a, piece->a);
    return specs;
}

node *build_typename_spec(acx_parse *c, uint32_t tok)
{
    size_t len;
    const char *s = tok_text(c, tok, &len);
    void *data = NULL;
    symtab_get(c->types, s, len, &data);
    uintptr_t td = (uintptr_t)data;
    unsigned f = SP_TYPENAME | SP_HASTYPE |
                 ((td & TD_INTEGER) ? SP_INTEGER : SP_OTHERTYPE) |
                 ((td & TD_CONST) ? SP_CONST : 0);
    return build_spec(c, tok, f, 0);
}

node *build_typeof(acx_parse *c, uint32_t tok, node *what, uint32_t r)
{
    node *t = build_wrap(c, D_TYPEOF, what, tok, r);
    return build_spec(c, tok, SP_OTHERTYPE | SP_HASTYPE, t);
}

node *build_struct(acx_parse *c, uint32_t kw, uint32_t tag, int has_tag,
                   node *members, uint32_t last)
{
    node *s = ast_new(c, D_STRUCT, kw, last);
    s->op = TOKS(c)[kw].kind;
    s->tok = has_tag ? tag : 0;
    s->spec = (unsigned)has_tag | (last != tag || !has_tag ? 2u : 0u);
    s->a = members;
    return s;
}

node *build_member(acx_parse *c, node *specs, node *list, uint32_t semi)
{
    node *m = ast_new(c, D_MEMBER, specs->first, semi);
    m->a = specs;
    m->b = list;
    return m;
}

node *build_bitfield(acx_parse *c, node *declr, node *width)
{
    (void)c;
    declr->c = width;
    declr->last = width->last;
    return declr;
}

node *build_enum(acx_parse *c, uint32_t kw, uint32_t tag, int has_tag,
                 node *list, uint32_t last)
{
    node *e = ast_new(c, D_ENUM, kw, last);
    e->tok = has_tag ? tag : 0;
    e->spec = (unsigned)has_tag | (list ? 2u : 0u);
    e->a = list;
    return e;
}

node *build_enumerator(acx_parse *c, uint32_t name, node *value)
{
    node *e = ast_new(c, D_ENUMERATOR, name, value ? value->last : name);
    e->a = value;
    declare_ordinary(c, name);
    return e;
}

/* Names are entered here, not when the whole declaration reduces: lemon
 * performs a reduction that ends with ';' only when the next token comes,
 * and that token has been classified by then.  An init-declarator reduces
 * while ',', '=' or ';' is the lookahead, in time for what follows. */
node *build_initdecl(acx_parse *c, node *declr, node *init)
{
    node *n = decl_name(declr);
    if (n) {
        size_t len;
        const char *s = tok_text(c, n->tok, &len);
        node *specs = c->last_specs;
        if (c->in_typedef) {
            int integer = specs && (specs->spec & SP_INTEGER) &&
                          !(specs->spec & SP_OTHERTYPE) && decl_plain(declr);
            int cnst = specs && (specs->spec & SP_CONST) && decl_plain(declr);
            symtab_set(c->types, s, len, 1,
                       (void *)(uintptr_t)((integer ? TD_INTEGER : TD_OTHER) |
                                           (cnst ? TD_CONST : 0)));
        } else {
            declare_ordinary(c, n->tok);
        }
    }
    return build_initdecl_node(c, declr, init);
}

static node *build_initdecl_node(acx_parse *c, node *declr, node *init)
{
    node *d = ast_new(c, D_INITDECL, declr->first,
                      init ? init->last : declr->last);
    d->a = declr;
    d->b = init;
    return d;
}

node *build_ptr(acx_parse *c, uint32_t star, uint32_t quals, node *inner)
{
    node *p = ast_new(c, D_PTR, star, inner ? inner->first - 1 : star);
    p->op = quals;
    if (quals) {
        uint32_t q = quals;
        while (q + 1 < c->src->ntoks && TOKS(c)[q + 1].kind != TK_STAR &&
               (TOKS(c)[q + 1].kind == TK_CONST ||
                TOKS(c)[q + 1].kind == TK_VOLATILE ||
                TOKS(c)[q + 1].kind == TK_RESTRICT ||
                TOKS(c)[q + 1].kind == TK_ATOMIC))
            q++;
        p->last = q;
    }
    p->a = inner;
    p->tail = inner ? inner->tail : p;
    return p;
}

node *build_pointer_apply(node *ptr, node *declr)
{
    ptr->tail->a = declr;
    if (declr)
        for (node *p = ptr; p && p->kind == D_PTR; p = p->a)
            p->last = declr->last;
    return ptr;
}

node *build_suffix(acx_parse *c, int kind, node *declr, node *x, uint32_t r)
{
    node *n = ast_new(c, kind, declr->first, r);
    n->a = declr;
    n->b = x;
    return n;
}

node *build_param(acx_parse *c, node *specs, node *declr)
{
    if (specs->spec & SP_ASYNC)
        diag_error(c->src, async_tok(c, specs),
                   "'async' applies only to functions");
    node *p = ast_new(c, D_PARAM, specs->first, declr ? declr->last
                                                       : specs->last);
    p->a = specs;
    p->b = declr;
    return p;
}

node *build_typename(acx_parse *c, node *specs, node *declr)
{
    node *t = ast_new(c, D_TYPENAME, specs->first,
                      declr ? declr->last : specs->last);
    t->a = specs;
    t->b = declr;
    return t;
}

node *build_desig(acx_parse *c, uint32_t first, node *init)
{
    node *d = ast_new(c, E_DESIG, first, init->last);
    d->a = init;
    return d;
}

node *build_stmt(acx_parse *c, int kind, uint32_t first, uint32_t last,
                 node *a, node *b, node *x)
{
    node *s = ast_new(c, kind, first, last);
    s->a = a;
    s->b = b;
    s->c = x;
    return s;
}

node *build_for(acx_parse *c, uint32_t tok, node *init, node *cond,
                node *next, node *body)
{
    node *f = ast_new(c, S_FOR, tok, body->last);
    f->a = init;
    f->b = cond;
    f->c = next;
    f->d = body;
    return f;
}

node *build_binary(acx_parse *c, int kind, node *l, uint32_t op, node *r)
{
    node *b = ast_new(c, kind, l->first, r->last);
    b->tok = op;
    b->op = TOKS(c)[op].kind;
    b->a = l;
    b->b = r;
    return b;
}

node *build_cond(acx_parse *c, node *cond, uint32_t q, node *x, node *y)
{
    node *n = ast_new(c, E_COND, cond->first, y->last);
    n->tok = q;
    n->a = cond;
    n->b = x;
    n->c = y;
    return n;
}

node *build_prefix(acx_parse *c, int kind, uint32_t op, node *e)
{
    node *n = ast_new(c, kind, op, e->last);
    n->op = TOKS(c)[op].kind;
    n->a = e;
    return n;
}

node *build_postfix(acx_parse *c, int kind, node *e, node *x, uint32_t r)
{
    node *n = ast_new(c, kind, e->first, r);
    n->tok = r;
    n->a = e;
    n->b = x;
    return n;
}

node *build_complit(acx_parse *c, uint32_t l, node *type, node *init,
                    uint32_t r)
{
    node *n = ast_new(c, E_COMPLIT, l, r);
    n->a = init;
    n->b = type;
    return n;
}

/* ---- errors --------------------------------------------------------- */

static const char *closer_text(int kind)
{
    switch (kind) {
    case TK_SEMI: return ";";
    case TK_RPAREN: return ")";
    case TK_RBRACKET: return "]";
    case TK_RBRACE: return "}";
    case TK_COLON: return ":";
    case TK_NUMBER: return "expression";
    }
    return NULL;
}

void build_syntax_error(acx_parse *c, int major, uint32_t tok, int expected)
{
    c->syntax_errors++;
    const char *want = closer_text(expected);
    if (major == 0 || tok >= c->src->ntoks) {
        uint32_t at = c->src->ntoks ? c->src->ntoks - 1 : 0;
        if (want)
            diag_error(c->src, at, expected == TK_NUMBER
                       ? "expected %s at end of input"
                       : "expected '%s' at end of input", want);
        else
            diag_error(c->src, at, "unexpected end of input");
        return;
    }
    acx_tok *t = &TOKS(c)[tok];
    int len = (int)(t->len > 40 ? 40 : t->len);
    if (want)
        diag_error(c->src, tok, expected == TK_NUMBER
                   ? "expected %s before '%.*s'" : "expected '%s' before '%.*s'",
                   want, len, c->src->buf + t->off);
    else
        diag_error(c->src, tok, "syntax error before '%.*s'", len,
                   c->src->buf + t->off);
}

void build_overflow(acx_parse *c)
{
    diag_error(c->src, c->last_err_tok, "nesting too deep");
}

/* ---- the feed loop -------------------------------------------------- */

/* Skip a balanced (...) group starting at token I (which must be '(');
 * returns the index of the closing ')' or the last token. */
static uint32_t skip_parens(acx_src *s, uint32_t i)
{
    int depth = 0;
    for (; i < s->ntoks; i++) {
        if (s->toks[i].kind == TK_LPAREN)
            depth++;
        else if (s->toks[i].kind == TK_RPAREN && --depth == 0)
            return i;
    }
    return s->ntoks - 1;
}

static int is_type_keyword(int k)
{
    switch (k) {
    case TK_VOID: case TK_CHAR: case TK_SHORT: case TK_INT: case TK_LONG:
    case TK_FLOAT: case TK_DOUBLE: case TK_SIGNED: case TK_UNSIGNED:
    case TK_BOOL: case TK_COMPLEX: case TK_IMAGINARY: case TK_INT128:
    case TK_BUILTIN_TYPE: case TK_AUTO_TYPE: case TK_TYPE_NAME:
        return 1;
    }
    return 0;
}

typedef struct feeder {
    acx_parse *c;
    void *lemon;
    int prev, prev2;   /* kinds of the last two tokens given to the parser */
    int spec_seen;     /* a type specifier since the last ; { } ( , */
    uint8_t *brace_is_type; /* per open brace: a struct/union/enum body */
    int nbraces, capbraces;
    int typedef_depth; /* brace depth of an open typedef declaration, or -1 */
} feeder;

static void feed(feeder *f, int kind, uint32_t i)
{
    f->prev2 = f->prev;
    f->prev = kind;
    acx_lemon(f->lemon, kind, i);
}

/* brace kinds */
enum { BR_BLOCK, BR_STRUCT, BR_ENUM };

static void open_brace(feeder *f)
{
    int is_type = f->prev == TK_STRUCT || f->prev == TK_UNION ||
                  (f->prev == TK_IDENT &&
                   (f->prev2 == TK_STRUCT || f->prev2 == TK_UNION))
                      ? BR_STRUCT
                  : f->prev == TK_ENUM ||
                          (f->prev == TK_IDENT && f->prev2 == TK_ENUM)
                      ? BR_ENUM
                      : BR_BLOCK;
    if (f->nbraces == f->capbraces) {
        int cap = f->capbraces ? f->capbraces * 2 : 64;
        uint8_t *b = realloc(f->brace_is_type, (size_t)cap);
        if (!b)
            abort();
        f->brace_is_type = b;
        f->capbraces = cap;
    }
    f->brace_is_type[f->nbraces++] = (uint8_t)is_type;
    /* a struct or enum body is no scope for ordinary names: enumerators
     * declared in it belong to the enclosing block */
    if (!is_type)
        symtab_push(f->c->types);
}

static int close_brace(feeder *f)
{
    if (f->nbraces == 0)
        return 0;
    int is_type = f->brace_is_type[--f->nbraces];
    if (!is_type)
        symtab_pop(f->c->types);
    if (f->typedef_depth > f->nbraces)
        f->typedef_depth = -1;
    return is_type;
}

/* IDENT or TYPE_NAME? A typedef name right after a complete type specifier
 * is being redeclared; after '.', '->', goto, or a struct keyword it is a
 * member, label or tag. */
static int classify(feeder *f, uint32_t i)
{
    acx_src *s = f->c->src;
    switch (f->prev) {
    case TK_DOT: case TK_ARROW: case TK_GOTO:
    case TK_STRUCT: case TK_UNION: case TK_ENUM:
        return TK_IDENT;
    case TK_SEMI: case TK_LBRACE: case TK_RBRACE: case TK_COLON:
        /* a label: `name:` at the start of a statement (not a bit-field
         * in a struct body) */
        if (i + 1 < s->ntoks && s->toks[i + 1].kind == TK_COLON &&
            !(f->nbraces && f->brace_is_type[f->nbraces - 1]))
            return TK_IDENT;
        __attribute__((fallthrough)); /* an enumerator may follow '{' */
    case TK_COMMA:
        if (f->nbraces && f->brace_is_type[f->nbraces - 1] == BR_ENUM)
            return TK_IDENT;
        break;
    }
    if (f->spec_seen)
        return TK_IDENT;
    void *data;
    if (symtab_get(f->c->types, s->buf + s->toks[i].off, s->toks[i].len,
                   &data) == 1)
        return TK_TYPE_NAME;
    return TK_IDENT;
}

/* Hide __attribute__((...)) starting at I; the next token remembers it. */
static uint32_t hide_attribute(acx_src *s, uint32_t i, uint32_t *attr_start)
{
    uint32_t end = i;
    if (i + 1 < s->ntoks && s->toks[i + 1].kind == TK_LPAREN)
        end = skip_parens(s, i + 1);
    for (uint32_t k = i; k <= end; k++)
        s->toks[k].flags |= TF_HIDDEN;
    if (*attr_start == UINT32_MAX)
        *attr_start = i;
    return end;
}

int parse_run(acx_parse *p, acx_src *s)
{
    p->src = s;
    if (!p->arena)
        p->arena = arena_new();
    p->types = symtab_new();
    if (!p->arena || !p->types)
        return -1;
    feeder f = {.c = p, .typedef_depth = -1};
    f.lemon = acx_lemonAlloc(malloc, p);
    if (!f.lemon)
        return -1;
    int errors = s->errors;
    uint32_t attr_start = UINT32_MAX;
    for (uint32_t i = 0; i < s->ntoks && !p->fatal; i++) {
        acx_tok *t = &s->toks[i];
        int kind = t->kind;
        if (kind == TK_EXTENSION) {
            t->flags |= TF_HIDDEN;
            continue;
        }
        if (kind == TK_ATTRIBUTE) {
            i = hide_attribute(s, i, &attr_start);
            continue;
        }
        if (kind == TK_ASM) {
            /* After a declarator, asm("name") is a label: hide it.  At the
             * start of a statement it is an asm statement: one token. */
            uint32_t j = i + 1;
            while (j < s->ntoks && (s->toks[j].kind == TK_VOLATILE ||
                                    s->toks[j].kind == TK_INLINE ||
                                    s->toks[j].kind == TK_GOTO))
                j++;
            uint32_t end = (j < s->ntoks && s->toks[j].kind == TK_LPAREN)
                               ? skip_parens(s, j) : i;
            int label = f.prev == TK_RPAREN || f.prev == TK_IDENT ||
                        f.prev == TK_RBRACKET;
            for (uint32_t k = label ? i : i + 1; k <= end; k++)
                s->toks[k].flags |= TF_HIDDEN;
            if (label) {
                i = end;
                continue;
            }
            t->attr = end; /* the statement's text runs to here */
            feed(&f, TK_ASM, i);
            i = end;
            continue;
        }
        if (attr_start != UINT32_MAX) {
            t->flags |= TF_ATTR;
            t->attr = attr_start;
            attr_start = UINT32_MAX;
        }
        if (kind == TK_IDENT)
            kind = classify(&f, i);
        t->kind = (uint8_t)kind;
        switch (kind) {
        case TK_SEMI: case TK_LPAREN: case TK_COMMA: case TK_COLON:
            f.spec_seen = 0;
            break;
        case TK_LBRACE:
            f.spec_seen = 0;
            open_brace(&f);
            break;
        case TK_RBRACE:
            f.spec_seen = close_brace(&f);
            break;
        case TK_IDENT:
            if (f.prev == TK_STRUCT || f.prev == TK_UNION ||
                f.prev == TK_ENUM)
                f.spec_seen = 1; /* a tag */
            break;
        default:
            if (is_type_keyword(kind))
                f.spec_seen = 1;
        }
        if (kind == TK_TYPEDEF)
            f.typedef_depth = f.nbraces;
        p->in_typedef = f.typedef_depth == f.nbraces;
        p->last_err_tok = i;
        feed(&f, kind, i);
        if (kind == TK_SEMI && f.typedef_depth == f.nbraces)
            f.typedef_depth = -1; /* the typedef's names are in */
    }
    if (!p->fatal)
        acx_lemon(f.lemon, 0, s->ntoks);
    acx_lemonFree(f.lemon, free);
    free(f.brace_is_type);
    return s->errors > errors ? -1 : 0;
}

void parse_free(acx_parse *p)
{
    arena_free(p->arena);
    symtab_free(p->types);
    p->arena = NULL;
    p->types = NULL;
}
