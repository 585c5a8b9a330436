/* frame.c - name resolution and frame layout of one async function.
 *
 * A local must survive suspension when the block that declares it contains
 * an await: such blocks are "frame blocks" and their locals become fields
 * of the frame, reached as acx__f->NAME.  Locals of blocks with no await
 * stay ordinary C locals (registers, no frame traffic).  Sibling frame
 * blocks share storage: the layout is a tree of structs whose children sit
 * in a union, so a frame is as large as its widest live set.
 *
 * Types declared in frame blocks (struct, union, enum, typedef) are moved
 * to file scope under reserved names, because the frame struct needs them.
 */
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "gen.h"
#include "parser.h"

/* ---- small helpers ---------------------------------------------------- */

char *gen_strdup(gen *g, const char *s)
{
    return arena_strndup(g->parse->arena, s, strlen(s));
}

char *gen_printf(gen *g, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    char *p = arena_alloc(g->parse->arena, (size_t)n + 1);
    va_start(ap, fmt);
    vsnprintf(p, (size_t)n + 1, fmt, ap);
    va_end(ap);
    return p;
}

/* Tokens FIRST..LAST as one line of text (replacements applied). */
static char *span_text(gen *g, uint32_t first, uint32_t last)
{
    if (first > last)
        return gen_strdup(g, "");
    obuf o;
    ob_init(&o, g->src, 0);
    for (uint32_t i = first; i <= last; i++) {
        acx_tok *t = &g->src->toks[i];
        if (i > first)
            ob_putn(&o, " ", 1);
        if (t->repl)
            ob_puts(&o, t->repl);
        else
            ob_putn(&o, g->src->buf + t->off, t->len);
    }
    char *r = arena_strndup(g->parse->arena, o.p ? o.p : "", o.n);
    ob_free(&o);
    return r;
}

layout *layout_new(layout *parent)
{
    layout *l = calloc(1, sizeof *l);
    if (!l)
        abort();
    l->parent = parent;
    if (parent) {
        if (parent->kids_tail)
            parent->kids_tail->sibling = l;
        else
            parent->kids = l;
        parent->kids_tail = l;
    }
    return l;
}

void layout_field(layout *l, char *text, uint32_t tok)
{
    struct field *f = calloc(1, sizeof *f);
    if (!f)
        abort();
    f->text = text;
    f->tok = tok;
    if (l->fields_tail)
        l->fields_tail->next = f;
    else
        l->fields = f;
    l->fields_tail = f;
}

/* ---- rendering types ---------------------------------------------------- */

/* The derivation next to the name (what the name is), skipping parens. */
static node *adjacent(node *d, node **parent)
{
    node *top = NULL;
    while (d && d->kind != D_NAME) {
        if (d->kind != D_PAREN)
            top = d;
        d = d->a;
    }
    (void)parent;
    return top;
}

static char *render(gen *g, node *d, const char *name, node *drop,
                    node *adj, int adjust)
{
    if (!d)
        return gen_strdup(g, name ? name : "");
    switch (d->kind) {
    case D_NAME:
        return gen_strdup(g, name ? name : "");
    case D_PAREN:
        return gen_printf(g, "(%s)", render(g, d->a, name, drop, adj, adjust));
    case D_PTR: {
        char *q = d->op ? span_text(g, d->op, d->a ? d->a->first - 1 : d->last)
                        : gen_strdup(g, "");
        return gen_printf(g, "*%s %s", q,
                          render(g, d->a, name, drop, adj, adjust));
    }
    case D_ARRAY:
    case D_FUNC: {
        char *inner;
        if (d == adj && adjust) { /* a parameter: array/function -> pointer */
            inner = gen_printf(g, "(*%s)", name ? name : "");
            if (d->kind == D_ARRAY)
                return inner;
            inner = render(g, d->a, inner, drop, NULL, 0);
        } else {
            inner = render(g, d->a, name, drop, adj, adjust);
        }
        if (d == drop)
            return inner;
        if (d->kind == D_ARRAY && !d->b && d->sym) /* size from the init */
            return gen_printf(g, "%s[%s]", inner, (char *)d->sym);
        return gen_printf(g, "%s%s", inner, span_text(g, d->a->last + 1,
                                                      d->last));
    }
    }
    return gen_strdup(g, name ? name : "");
}

/* DECLR with its name replaced by NAME.  DROP_FUNC: leave out the
 * function suffix next to the name (giving the return type).  ADJUST:
 * parameter adjustment of arrays and functions to pointers. */
char *render_declarator(gen *g, node *d, const char *name, int drop_func,
                        int adjust_param)
{
    node *adj = adjacent(d, NULL);
    node *drop = drop_func && adj && adj->kind == D_FUNC ? adj : NULL;
    return render(g, d, name, drop, adj, adjust_param);
}

/* Declaration specifiers as text for a field or parameter: storage class
 * and function specifiers dropped, hoisted struct/enum definitions
 * replaced by their tags, and (DROP_CONST) const left out. */
char *render_specs(gen *g, node *specs, int drop_const)
{
    obuf o;
    ob_init(&o, g->src, 0);
    node *kids = specs->a;
    for (uint32_t i = specs->first; i <= specs->last; i++) {
        acx_tok *t = &g->src->toks[i];
        if (t->flags & TF_HIDDEN)
            continue;
        node *k = kids;
        while (k && k->first != i)
            k = k->next;
        if (k && (k->kind == D_STRUCT || k->kind == D_ENUM) && k->sym) {
            ob_printf(&o, "%s%s ", k->kind == D_ENUM ? "enum "
                      : k->op == TK_UNION ? "union " : "struct ",
                      (char *)k->sym);
            i = k->last;
            continue;
        }
        switch (t->kind) {
        case TK_TYPEDEF: case TK_EXTERN: case TK_STATIC: case TK_AUTO:
        case TK_REGISTER: case TK_THREAD_LOCAL: case TK_INLINE:
        case TK_NORETURN: case TK_ASYNC:
            continue;
        case TK_CONST:
            if (drop_const)
                continue;
        }
        if (k) { /* struct/enum/typeof: copy it whole */
            char *s = span_text(g, k->first, k->last);
            ob_printf(&o, "%s ", s);
            i = k->last;
            continue;
        }
        if (t->repl)
            ob_puts(&o, t->repl);
        else
            ob_putn(&o, g->src->buf + t->off, t->len);
        ob_putn(&o, " ", 1);
    }
    char *r = arena_strndup(g->parse->arena, o.p ? o.p : "", o.n);
    ob_free(&o);
    return r;
}

/* Does a function declarator return its specifiers' type as is (no
 * pointer or array around the function part)? */
static int returns_specs(node *declr)
{
    node *d = decl_root(declr);
    return d && d->kind == D_FUNC && decl_plain(d->a); /* f(...), not
                                                       * (*f(...))(int) */
}

int type_is_void(gen *g, node *specs, node *declr)
{
    (void)g;
    return (specs->spec & SP_VOID) && returns_specs(declr);
}

int returns_own_specs(node *declr)
{
    return returns_specs(declr);
}

int returns_integer(node *specs, node *declr)
{
    return (specs->spec & SP_INTEGER) && !(specs->spec & SP_OTHERTYPE) &&
           returns_specs(declr);
}

char *render_ret_specs(gen *g, afunc *f)
{
    /* a const on the returned value itself means nothing to a field */
    return render_specs(g, f->specs, returns_specs(f->declr));
}

/* ---- scopes --------------------------------------------------------------- */

typedef struct walker {
    gen *g;
    afunc *f;
    local *top;       /* innermost declaration first (via shadow) */
    int uneval;       /* inside sizeof/typeof/_Alignof */
    int anon;         /* counter for generated names */
    layout *lay;      /* where frame locals and temporaries go now */
} walker;

static int name_eq(local *l, const char *s, size_t n)
{
    return l->len == n && memcmp(l->name, s, n) == 0;
}

static local *lookup(walker *w, const char *s, size_t n, int tags)
{
    for (local *l = w->top; l; l = l->shadow)
        if ((l->kind == L_TAG) == tags && name_eq(l, s, n))
            return l;
    return NULL;
}

static int field_used(afunc *f, const char *name)
{
    for (local *l = f->locals; l; l = l->next)
        if (l->field && strcmp(l->field, name) == 0)
            return 1;
    return 0;
}

static local *declare(walker *w, int kind, uint32_t tok)
{
    local *l = arena_alloc(w->g->parse->arena, sizeof *l);
    l->kind = kind;
    l->name = tok_str(w->g->src, tok, &l->len);
    l->shadow = w->top;
    w->top = l;
    l->next = w->f->locals;
    w->f->locals = l;
    return l;
}

/* A unique frame field name for L (its own name when free). */
static char *field_name(walker *w, local *l)
{
    char *base = arena_strndup(w->g->parse->arena, l->name, l->len);
    if (!field_used(w->f, base))
        return base;
    for (int i = 2;; i++) {
        char *n = gen_printf(w->g, "%s_%d", base, i);
        if (!field_used(w->f, n))
            return n;
    }
}

/* A file-scope name for a type or constant moved out of the body. */
static char *hoisted_name(walker *w, const char *name, size_t len)
{
    return gen_printf(w->g, "acx__%.*s_%.*s_%d", (int)w->f->namelen,
                      w->f->name, (int)len, name, ++w->anon);
}

static void hoist(walker *w, const char *text)
{
    afunc *f = w->f;
    size_t n = strlen(text);
    char *p = realloc(f->hoisted, f->hoisted_len + n + 2);
    if (!p)
        abort();
    memcpy(p + f->hoisted_len, text, n);
    p[f->hoisted_len + n] = '\n';
    f->hoisted_len += n + 1;
    p[f->hoisted_len] = 0;
    f->hoisted = p;
}

/* ---- the walk ------------------------------------------------------------- */

static void walk_expr(walker *w, node *e);
static void walk_stmt(walker *w, node *s);
static void walk_specs(walker *w, node *specs, int hoisting);
static void walk_declr(walker *w, node *d);

static void walk_list(walker *w, node *e)
{
    for (; e; e = e->next)
        walk_expr(w, e);
}

static void resolve_ident(walker *w, node *e)
{
    size_t n;
    const char *s = tok_str(w->g->src, e->tok, &n);
    local *l = lookup(w, s, n, 0);
    e->sym = l;
    if (!l)
        return;
    if (l->in_frame && w->uneval && l->specs && l->declr) {
        /* Only the type matters here, and this text may land in the frame
         * struct, where acx__f does not exist: name an object of the
         * local's declared type without touching one. */
        w->g->src->toks[e->tok].repl = gen_printf(
            w->g, "(*(%s%s)0)", render_specs(w->g, l->specs, 0),
            render_declarator(w->g, l->declr, "(*)", 0,
                              l->kind == L_PARAM));
    } else if (l->in_frame) {
        w->g->src->toks[e->tok].repl = gen_printf(w->g, "acx__f->%s",
                                                  l->field);
    } else if (l->kind == L_ENUMC && l->field)
        w->g->src->toks[e->tok].repl = l->field;
}

static void walk_typename(walker *w, node *t)
{
    if (!t)
        return;
    walk_specs(w, t->a, 0);
    walk_declr(w, t->b);
}

static void walk_expr(walker *w, node *e)
{
    if (!e)
        return;
    switch (e->kind) {
    case E_IDENT:
        resolve_ident(w, e);
        return;
    case E_CONST: case E_STRING: case E_LABELADDR:
        return;
    case E_MEMBER:
        walk_expr(w, e->a);
        return;
    case E_SIZEOF: case E_ALIGNOF:
        w->uneval++;
        walk_expr(w, e->a);
        walk_typename(w, e->b);
        w->uneval--;
        return;
    case E_CAST:
        walk_typename(w, e->b);
        walk_expr(w, e->a);
        return;
    case E_COMPLIT:
        walk_typename(w, e->b);
        walk_list(w, e->a);
        return;
    case E_BUILTIN:
        walk_expr(w, e->a);
        walk_typename(w, e->b);
        walk_typename(w, e->c);
        return;
    case E_GENERIC:
        w->uneval++;
        walk_expr(w, e->a);
        w->uneval--;
        walk_list(w, e->b);
        return;
    case E_INITLIST:
        walk_list(w, e->a);
        return;
    case E_CALL:
        walk_expr(w, e->a);
        walk_list(w, e->b);
        if (e->a->kind == E_IDENT && !e->a->sym) {
            size_t n;
            const char *s = tok_str(w->g->src, e->a->tok, &n);
            if ((n == 6 && memcmp(s, "alloca", 6) == 0) ||
                (n == 16 && memcmp(s, "__builtin_alloca", 16) == 0))
                diag_error(w->g->src, e->a->tok,
                           "alloca in an async function: its memory would "
                           "not survive a suspension; use malloc");
        }
        return;
    case E_AWAIT:
        if (w->uneval)
            diag_error(w->g->src, e->tok, "await in an operand that is "
                       "not evaluated (sizeof, _Alignof, typeof, _Generic)");
        walk_expr(w, e->a);
        return;
    case E_STMTEXPR:
        /* Lowered statement expressions keep their locals in the frame:
         * their value is used after their statements ran. */
        if (e->flags & (NF_AWAIT | NF_RETURN))
            e->a->flags |= NF_FRAME;
        walk_stmt(w, e->a);
        return;
    default:
        walk_expr(w, e->a);
        walk_expr(w, e->b);
        walk_expr(w, e->c);
        return;
    }
}

/* Resolve typedef names and tags in SPECS; with HOISTING, move struct,
 * union and enum definitions to file scope under reserved names. */
static void walk_specs(walker *w, node *specs, int hoisting)
{
    if (!specs)
        return;
    acx_src *src = w->g->src;
    for (uint32_t i = specs->first; i <= specs->last; i++) {
        if (src->toks[i].kind != TK_TYPE_NAME)
            continue;
        size_t n;
        const char *s = tok_str(src, i, &n);
        local *l = lookup(w, s, n, 0);
        if (l && l->kind == L_TYPEDEF && l->field)
            src->toks[i].repl = l->field;
    }
    for (node *k = specs->a; k; k = k->next) {
        if (k->kind == D_TYPEOF) {
            w->uneval++;
            if (k->a && k->a->kind == D_TYPENAME)
                walk_typename(w, k->a);
            else
                walk_expr(w, k->a);
            w->uneval--;
            continue;
        }
        int has_tag = k->spec & 1, has_body = (k->spec & 2) != 0;
        if (has_tag && !has_body) { /* a use: struct S */
            size_t n;
            const char *s = tok_str(src, k->tok, &n);
            local *l = lookup(w, s, n, 1);
            if (l && l->field) {
                src->toks[k->tok].repl = l->field;
                k->sym = l->field;
            }
            continue;
        }
        if (!has_body)
            continue;
        local *tag = NULL;
        if (has_tag) {
            tag = declare(w, L_TAG, k->tok);
            if (hoisting) {
                tag->field = hoisted_name(w, tag->name, tag->len);
                src->toks[k->tok].repl = tag->field;
            }
        }
        if (k->kind == D_STRUCT) {
            for (node *m = k->a; m; m = m->next)
                if (m->kind == D_MEMBER) {
                    walk_specs(w, m->a, 0);
                    for (node *d = m->b; d; d = d->next)
                        walk_declr(w, d);
                }
        } else {
            for (node *en = k->a; en; en = en->next) {
                walk_expr(w, en->a);
                local *c = declare(w, L_ENUMC, en->tok);
                if (hoisting) {
                    c->field = hoisted_name(w, c->name, c->len);
                    src->toks[en->tok].repl = c->field;
                }
            }
        }
        if (hoisting) {
            char *tagname = tag ? tag->field
                                : hoisted_name(w, "anon", 4);
            if (!tag) { /* name the anonymous type so fields can use it */
                k->sym = tagname;
                char *body = span_text(w->g, k->first + 1, k->last);
                hoist(w, gen_printf(w->g, "%s %s %s;",
                                    k->kind == D_ENUM ? "enum"
                                    : k->op == TK_UNION ? "union" : "struct",
                                    tagname, body));
            } else {
                k->sym = tagname;
                hoist(w, gen_printf(w->g, "%s;",
                                    span_text(w->g, k->first, k->last)));
            }
        }
    }
}

static void check_vla(walker *w, node *size)
{
    if (!size || w->uneval)
        return;
    if (size->kind == E_IDENT) {
        local *l = size->sym;
        if (l && (l->kind == L_VAR || l->kind == L_PARAM))
            diag_error(w->g->src, size->tok,
                       "variable-length array in an async function: its "
                       "size must be a constant (use malloc)");
        return;
    }
    if (size->kind == E_SIZEOF || size->kind == E_ALIGNOF)
        return;
    check_vla(w, size->a);
    check_vla(w, size->b);
    check_vla(w, size->c);
    for (node *k = size->kind == E_CALL ? size->b : NULL; k; k = k->next)
        check_vla(w, k);
}

static void walk_declr(walker *w, node *d)
{
    for (; d; d = d->a) {
        if (d->kind == D_ARRAY && d->b) {
            walk_expr(w, d->b);
            check_vla(w, d->b);
        } else if (d->kind == D_FUNC) {
            for (node *p = d->b; p; p = p->next) {
                if (p->kind != D_PARAM || !p->a)
                    continue;
                walk_specs(w, p->a, 0);
                walk_declr(w, p->b);
            }
        }
        if (d->c) /* bit-field width */
            walk_expr(w, d->c);
        if (d->kind == D_NAME)
            break;
    }
}

/* A full expression (or a declaration's initializers) that must be
 * lowered gets its own group for temporaries; statement expressions inside
 * it nest their blocks there, so nothing live shares storage. */
static layout *full_group(walker *w, node *owner)
{
    if (!(owner->flags & (NF_AWAIT | NF_RETURN)))
        return NULL;
    layout *g = layout_new(w->lay ? w->lay : w->f->root);
    /* statement expressions of one full expression hold values until the
     * whole expression is done: TRY(a) + TRY(b) */
    g->seq = 1;
    owner->sym = g;
    return g;
}

static void walk_full(walker *w, node *e)
{
    if (!e)
        return;
    layout *saved = w->lay;
    layout *g = full_group(w, e);
    if (g)
        w->lay = g;
    walk_expr(w, e);
    w->lay = saved;
}

static node *first_await(node *n)
{
    for (; n; n = n->next) {
        if (n->kind == E_AWAIT)
            return n;
        node *k[4] = {n->a, n->b, n->c, n->d};
        for (int i = 0; i < 4; i++) {
            node *r = (k[i] && (k[i]->flags & NF_AWAIT)) ? first_await(k[i])
                                                         : NULL;
            if (r)
                return r;
        }
    }
    return NULL;
}

/* The size of `T a[] = INIT` as text, or NULL when acxc cannot tell. */
static char *array_size_from(walker *w, node *specs, node *d, node *arr,
                             node *init)
{
    if (!init)
        return NULL;
    int root = d == arr; /* `char s[]`, not `char *s[]` */
    if (init->kind == E_INITLIST && init->a && !init->a->next &&
        init->a->kind == E_STRING && root && (specs->spec & SP_INTEGER))
        init = init->a; /* char s[] = {"text"} */
    if (init->kind == E_STRING) {
        char *str = span_text(w->g, init->first, init->last);
        return gen_printf(w->g, "sizeof(%s) / sizeof((%s)[0])", str, str);
    }
    if (init->kind != E_INITLIST)
        return NULL;
    int n = 0;
    for (node *i = init->a; i; i = i->next) {
        if (i->kind == E_DESIG)
            return NULL;
        n++;
    }
    return gen_printf(w->g, "%d", n);
}

static void walk_init(walker *w, node *decl, node *id)
{
    if (!id->b)
        return;
    layout *saved = w->lay;
    if (!decl->sym)
        full_group(w, decl);
    if (decl->sym)
        w->lay = decl->sym;
    walk_expr(w, id->b);
    w->lay = saved;
}

static void walk_decl(walker *w, node *decl, int in_frame)
{
    node *specs = decl->a;
    if (decl->kind != S_DECL)
        return; /* _Static_assert, __label__ */
    layout *lay = w->lay;
    int flags = 0;
    for (node *id = decl->b; id; id = id->next)
        flags |= id->b ? id->b->flags : 0;
    decl->flags |= (uint16_t)(flags & (NF_AWAIT | NF_RETURN));
    walk_specs(w, specs, in_frame);
    for (node *id = decl->b; id; id = id->next) {
        node *d = id->a;
        walk_declr(w, d);
        node *name = decl_name(d);
        if (!name)
            continue;
        if (specs->spec & SP_ASYNC) {
            diag_error(w->g->src, name->tok, "'async' applies only to "
                       "function definitions and declarations at file "
                       "scope");
            continue;
        }
        if (specs->spec & SP_TYPEDEF) {
            local *l = declare(w, L_TYPEDEF, name->tok);
            id->sym = l;
            if (in_frame) {
                l->field = hoisted_name(w, l->name, l->len);
                hoist(w, gen_printf(w->g, "typedef %s%s;",
                                    render_specs(w->g, specs, 0),
                                    render_declarator(w->g, d, l->field,
                                                      0, 0)));
            }
            continue;
        }
        if ((specs->spec & (SP_EXTERN | SP_STATIC | SP_THREAD)) && id->b &&
            (id->b->flags & NF_AWAIT))
            diag_error(w->g->src, first_await(id->b)->tok, "await in the "
                       "initializer of a static variable: the initializer "
                       "must be a constant");
        if ((specs->spec & (SP_EXTERN | SP_STATIC | SP_THREAD)) ||
            decl_is_function(d)) {
            id->sym = declare(w, L_KEEP, name->tok);
            walk_init(w, decl, id);
            continue;
        }
        local *l = declare(w, L_VAR, name->tok);
        id->sym = l;
        l->specs = specs;
        l->declr = d;
        l->init = id->b;
        if (in_frame) {
            l->in_frame = 1;
            l->field = field_name(w, l);
            l->where = lay;
        }
        /* a declarator's scope begins before its initializer
         * (`long *p = malloc(sizeof *p)`) */
        walk_init(w, decl, id);
        if (!in_frame)
            continue;
        node *adj = adjacent(d, NULL);
        if (adj && adj->kind == D_ARRAY && !adj->b && !adj->sym) {
            adj->sym = array_size_from(w, specs, d, adj, id->b);
            if (!adj->sym) {
                diag_error(w->g->src, name->tok,
                           "array of unknown size in an async function: "
                           "give its size (the frame needs it; acxc counts "
                           "it only for strings and lists without "
                           "designators)");
                continue;
            }
        }
        int plain = decl_plain(d);
        layout_field(lay, gen_printf(w->g, "%s%s",
                                     render_specs(w->g, specs, plain),
                                     render_declarator(w->g, d, l->field,
                                                       0, 0)),
                     name->tok);
    }
}

static void walk_stmt(walker *w, node *s)
{
    if (!s)
        return;
    layout *saved = w->lay;
    local *mark = w->top;
    switch (s->kind) {
    case S_BLOCK:
        if (s->flags & NF_FRAME)
            w->lay = layout_new(w->lay ? w->lay : w->f->root);
        s->sym = (s->flags & NF_FRAME) ? w->lay : NULL;
        for (node *i = s->a; i; i = i->next) {
            if (i->kind == S_DECL)
                walk_decl(w, i, (s->flags & NF_FRAME) != 0);
            else
                walk_stmt(w, i);
        }
        break;
    case S_FOR: {
        int frame = (s->flags & NF_AWAIT) != 0;
        if (s->a && s->a->kind == S_DECL && frame) {
            w->lay = layout_new(w->lay ? w->lay : w->f->root);
            s->sym = w->lay;
        }
        if (s->a && s->a->kind == S_DECL)
            walk_decl(w, s->a, frame);
        else if (s->a)
            walk_full(w, s->a->a);
        walk_full(w, s->b);
        walk_full(w, s->c);
        walk_stmt(w, s->d);
        break;
    }
    case S_EXPR: case S_RETURN: case S_GOTO:
        walk_full(w, s->a);
        break;
    case S_IF: case S_WHILE: case S_SWITCH:
        walk_full(w, s->a);
        walk_stmt(w, s->b);
        walk_stmt(w, s->c);
        break;
    case S_DO:
        walk_stmt(w, s->a);
        walk_full(w, s->b);
        break;
    case S_CASE:
        walk_expr(w, s->a);
        walk_stmt(w, s->b);
        break;
    case S_DEFAULT: case S_LABEL:
        walk_stmt(w, s->a);
        break;
    case S_DECL:
        walk_decl(w, s, w->lay != NULL);
        break;
    default:
        break;
    }
    if (s->kind == S_BLOCK || s->kind == S_FOR)
        w->top = mark; /* the block's names go out of scope */
    w->lay = saved;
}

/* Set NF_AWAIT / NF_RETURN on every node that contains one, and NF_FRAME
 * on blocks whose locals must live in the frame.  Returns N's flags. */
static unsigned mark(node *n)
{
    unsigned f = 0;
    for (; n; n = n->next) {
        unsigned k = mark(n->a) | mark(n->b) | mark(n->c) | mark(n->d);
        if (n->kind == E_AWAIT)
            k |= NF_AWAIT;
        if (n->kind == S_RETURN)
            k |= NF_RETURN;
        if (n->kind == D_STRUCT || n->kind == D_ENUM || n->kind == D_TYPEOF)
            k = 0; /* types cannot suspend */
        k &= NF_AWAIT | NF_RETURN;
        n->flags = (uint16_t)((n->flags & ~(NF_AWAIT | NF_RETURN)) | k);
        if (n->kind == S_BLOCK && (k & NF_AWAIT))
            n->flags |= NF_FRAME;
        f |= k;
    }
    return f;
}

int frame_analyse(gen *g, afunc *f)
{
    walker w = {.g = g, .f = f};
    int errors = g->src->errors;
    node *body = f->def->c;
    mark(body);
    f->root = layout_new(NULL);
    /* parameters: always in the frame, set by the constructor */
    for (node *p = f->params; p; p = p->next) {
        node *name = p->kind == D_PARAM ? decl_name(p->b) : NULL;
        if (!name)
            continue;
        walk_specs(&w, p->a, 0);
        walk_declr(&w, p->b);
        local *l = declare(&w, L_PARAM, name->tok);
        l->in_frame = 1;
        l->specs = p->a;
        l->declr = p->b;
        l->field = field_name(&w, l);
        l->where = f->root;
        layout_field(f->root, gen_printf(g, "%s%s",
                                         render_specs(g, p->a,
                                                      decl_plain(p->b)),
                                         render_declarator(g, p->b, l->field,
                                                           0, 1)),
                     name->tok);
    }
    w.lay = f->root;
    walk_stmt(&w, body);
    return g->src->errors > errors ? -1 : 0;
}
