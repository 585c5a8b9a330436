/* gen.c - the translation unit: find async functions, check the plain C
 * around them, and write the output.
 *
 * Output shape: the preprocessed unit is copied as it is, except that each
 * async definition or declaration becomes the prototype of its constructor
 * (`acx_coro *f(params);`).  After the unit come, for every async function
 * defined here, in an order where embedded child frames come first:
 * hoisted types, the frame struct, its info and await-point table, the
 * init function, the body and the constructor.
 */
#include <stdlib.h>
#include <string.h>

#include "gen.h"
#include "parser.h"

afunc *gen_find(gen *g, const char *name, size_t len)
{
    for (afunc *f = g->table[name_hash(name, len) % 1024]; f; f = f->hnext)
        if (f->namelen == len && memcmp(f->name, name, len) == 0)
            return f;
    return NULL;
}

static afunc *add_func(gen *g, node *specs, node *declr, node *def)
{
    node *name = decl_name(declr);
    size_t len;
    const char *s = tok_str(g->src, name->tok, &len);
    afunc *f = gen_find(g, s, len);
    if (!f) {
        f = arena_alloc(g->parse->arena, sizeof *f);
        f->name = arena_strndup(g->parse->arena, s, len);
        f->namelen = len;
        afunc **p = &g->funcs;
        while (*p)
            p = &(*p)->next;
        *p = f;
        size_t h = name_hash(s, len) % 1024;
        f->hnext = g->table[h];
        g->table[h] = f;
    }
    if (def) {
        if (f->def) {
            diag_error(g->src, name->tok, "redefinition of async function "
                       "'%s'", f->name);
            return f;
        }
        f->def = def;
    }
    if (def || !f->specs) {
        f->specs = specs;
        f->declr = declr;
        node *fn = decl_func(declr);
        f->params = fn ? fn->b : NULL;
        if (f->params && f->params->kind == D_PARAM && !f->params->next &&
            !f->params->b && f->params->a &&
            (f->params->a->spec & SP_VOID) &&
            !(f->params->a->spec & ~(SP_VOID | SP_HASTYPE)))
            f->params = NULL; /* (void) */
    }
    f->is_static |= (specs->spec & SP_STATIC) != 0;
    f->is_void = type_is_void(g, f->specs, f->declr);
    f->ret_integer = returns_integer(f->specs, f->declr);
    if (def)
        f->embeddable = 1;
    return f;
}

/* ---- checks over all code ----------------------------------------------- */

typedef struct checker {
    gen *g;
    int in_async;
} checker;

static void check_node(checker *c, node *n);

/* N and its siblings (children lists are chains through next). */
static void check_list(checker *c, node *n)
{
    for (; n; n = n->next)
        check_node(c, n);
}

/* A call of an async function used as a statement creates a coroutine
 * object nobody will run or free. */
static void check_discard(checker *c, node *e)
{
    while (e && (e->kind == E_PAREN || e->kind == E_CAST))
        e = e->a;
    if (!e || e->kind != E_CALL)
        return;
    node *fn = e->a;
    while (fn && fn->kind == E_PAREN)
        fn = fn->a;
    if (!fn || fn->kind != E_IDENT || fn->sym)
        return;
    size_t n;
    const char *s = tok_str(c->g->src, fn->tok, &n);
    afunc *f = gen_find(c->g, s, n);
    if (f)
        diag_warning(c->g->src, fn->tok, "coroutine object from '%s(...)' "
                     "is discarded: it never runs and leaks; await it, pass "
                     "it to acx_spawn or acx_run, or free it with "
                     "acx_coro_free", f->name);
}

static void check_node(checker *c, node *n)
{
    if (n->kind == E_AWAIT && !c->in_async)
        diag_error(c->g->src, n->tok, "'await' outside an async function");
    if (n->kind == S_EXPR)
        check_discard(c, n->a);
    if (n->kind == D_STRUCT || n->kind == D_ENUM)
        return;
    check_list(c, n->a);
    check_list(c, n->b);
    check_list(c, n->c);
    check_list(c, n->d);
}

/* ---- recursion: which awaits must box their child ---------------------- */

static void collect_callees(gen *g, afunc *f, node *n)
{
    for (; n; n = n->next) {
        if (n->kind == E_AWAIT) {
            node *call = n->a;
            while (call && call->kind == E_PAREN)
                call = call->a;
            if (call && call->kind == E_CALL) {
                node *fn = call->a;
                while (fn && fn->kind == E_PAREN)
                    fn = fn->a;
                if (fn && fn->kind == E_IDENT && !fn->sym) {
                    size_t len;
                    const char *s = tok_str(g->src, fn->tok, &len);
                    afunc *t = gen_find(g, s, len);
                    if (t) {
                        struct callee *c = arena_alloc(g->parse->arena,
                                                       sizeof *c);
                        c->f = t;
                        c->boxed = !t->embeddable;
                        c->next = f->callees;
                        f->callees = c;
                    }
                }
            }
        }
        if (n->kind == D_STRUCT || n->kind == D_ENUM)
            continue;
        collect_callees(g, f, n->a);
        collect_callees(g, f, n->b);
        collect_callees(g, f, n->c);
        collect_callees(g, f, n->d);
    }
}

/* Can FROM reach TO through embedded awaits?  Each query marks what it
 * visited with a fresh stamp, so it is linear in the call graph. */
static int reaches(gen *g, afunc *from, afunc *to, int depth)
{
    if (depth > 10000)
        return 1; /* absurdly deep: box rather than recurse further */
    from->stamp = g->stamp;
    for (struct callee *c = from->callees; c; c = c->next) {
        if (c->boxed)
            continue;
        if (c->f == to)
            return 1;
        if (c->f->stamp != g->stamp && reaches(g, c->f, to, depth + 1))
            return 1;
    }
    return 0;
}

/* Box every edge that closes a cycle, so frames have finite size. */
static void break_cycles(gen *g)
{
    for (afunc *f = g->funcs; f; f = f->next)
        for (struct callee *c = f->callees; c; c = c->next)
            if (!c->boxed && (c->f == f || (++g->stamp, reaches(g, c->f, f, 0)))) {
                c->boxed = 1;
                f->recursive = 1;
            }
}

/* ---- emission ----------------------------------------------------------- */

/* A static constructor may never be called: awaits embed the frame. */
static const char *storage(afunc *f)
{
    return f->is_static ? "static __attribute__((unused)) " : "";
}

/* `acx_coro *f(params)` with the parameters as written. */
static void put_ctor_proto(gen *g, obuf *o, afunc *f)
{
    node *fn = decl_func(f->declr);
    obuf t;
    ob_init(&t, g->src, 0);
    if (fn)
        ob_span(&t, fn->a->last + 1, fn->last);
    ob_printf(o, "%sacx_coro *%s%s", storage(f), f->name,
              t.p ? t.p : "(void)");
    ob_free(&t);
}

static void put_layout(obuf *o, layout *l)
{
    for (struct field *f = l->fields; f; f = f->next) {
        if (f->tok) /* a local: its type's errors belong to its line */
            ob_sync(o, f->tok);
        ob_printf(o, "    %s;\n", f->text);
    }
    int any = 0;
    for (layout *k = l->kids; k; k = k->sibling)
        any |= k->fields || k->kids;
    if (!any)
        return;
    /* kids share storage (a union) unless they are all live at once */
    if (!l->seq)
        ob_puts(o, "    union {\n");
    for (layout *k = l->kids; k; k = k->sibling) {
        if (!k->fields && !k->kids)
            continue;
        ob_puts(o, "    struct {\n");
        put_layout(o, k);
        ob_puts(o, "    };\n");
    }
    if (!l->seq)
        ob_puts(o, "    };\n");
}

static void free_layout(layout *l)
{
    if (!l)
        return;
    for (layout *k = l->kids, *n; k; k = n) {
        n = k->sibling;
        free_layout(k);
    }
    for (struct field *f = l->fields, *n; f; f = n) {
        n = f->next;
        free(f);
    }
    free(l);
}

static void put_string(obuf *o, const char *s)
{
    ob_putn(o, "\"", 1);
    for (; *s; s++) {
        if (*s == '"' || *s == '\\')
            ob_putn(o, "\\", 1);
        ob_putn(o, s, 1);
    }
    ob_putn(o, "\"", 1);
}

static void emit_function(gen *g, afunc *f)
{
    obuf *o = &g->out;
    if (f->emitted || !f->def)
        return;
    f->emitted = 1;
    for (struct callee *c = f->callees; c; c = c->next)
        if (!c->boxed)
            emit_function(g, c->f); /* embedded frames come first */

    /* lower first: it discovers temporaries and child frames */
    obuf body;
    ob_init(&body, g->src, o->lines);
    g->cur = f;
    lower_function(g, f, &body);

    acx_src *src = g->src;
    node *name = decl_name(f->declr);
    const char *file = src->files ? src->files[src->toks[name->tok].file]
                                  : src->path;
    unsigned line = src->toks[name->tok].line;

    ob_nl(o);
    ob_sync(o, name->tok);
    if (f->hoisted)
        ob_puts(o, f->hoisted);
    ob_printf(o, "struct acx__frame_%s {\n    acx_coro acx__hdr;\n"
              "    uint32_t acx__state;\n", f->name);
    if (!f->is_void) {
        ob_printf(o, "    %s%s;\n", render_ret_specs(g, f),
                  render_declarator(g, f->declr, "acx__ret", 1, 0));
    }
    put_layout(o, f->root);
    if (f->children->fields) {
        ob_puts(o, "    union {\n");
        put_layout(o, f->children);
        ob_puts(o, "    };\n");
    }
    ob_puts(o, "};\n");

    /* The tables, init and (below) the constructor are the generator's
     * own code: they map to the .c file, so no .acx line of the body is
     * also claimed by them (a breakpoint on a body line would otherwise
     * resolve to the constructor too).  The frame's fields above keep
     * their .acx lines: a bad type there is the user's to see. */
    ob_here(o, g->outpath);

    /* the await-point table: state k waits at site k */
    ob_printf(o, "static const acx__site acx__sites_%s[] = {\n    {", f->name);
    put_string(o, file);
    ob_printf(o, ", %u},\n", line);
    for (int k = 1; k <= f->nsites; k++) {
        acx_tok *t = &src->toks[f->site_tok[k]];
        ob_puts(o, "    {");
        put_string(o, src->files ? src->files[t->file] : src->path);
        ob_printf(o, ", %u},\n", t->line);
    }
    ob_puts(o, "};\n");
    ob_printf(o, "static int acx__body_%s(acx_coro *);\n", f->name);
    if (f->ret_integer)
        ob_printf(o, "static int acx__resint_%s(const acx_coro *acx__c)\n{\n"
                  "    return (int)((const struct acx__frame_%s *)acx__c)"
                  "->acx__ret;\n}\n", f->name, f->name);
    ob_printf(o, "static const acx__info acx__info_%s = {\n"
              "    acx__body_%s, \"%s\", ", f->name, f->name, f->name);
    put_string(o, file);
    ob_printf(o, ", %u,\n    sizeof(struct acx__frame_%s), %d, "
              "acx__sites_%s,\n", line, f->name, f->nsites + 1, f->name);
    if (f->is_void)
        ob_puts(o, "    0, 0,\n");
    else
        ob_printf(o, "    __builtin_offsetof(struct acx__frame_%s, acx__ret),\n"
                  "    sizeof(((struct acx__frame_%s *)0)->acx__ret),\n",
                  f->name, f->name);
    ob_printf(o, "    %s%s,\n    _Alignof(struct acx__frame_%s),\n"
              "    0, 0,\n};\n",
              f->ret_integer ? "acx__resint_" : "0",
              f->ret_integer ? f->name : "", f->name);

    /* init: what a parent does before running the body in place */
    ob_printf(o, "static inline void acx__init_%s(struct acx__frame_%s "
              "*acx__f", f->name, f->name);
    for (node *p = f->params; p; p = p->next) {
        if (p->kind != D_PARAM || !p->a) {
            continue;
        }
        node *pn = decl_name(p->b);
        local *l = NULL;
        for (local *x = f->locals; pn && x; x = x->next)
            if (x->kind == L_PARAM && x->declr == p->b)
                l = x;
        if (!l)
            continue;
        ob_printf(o, ", %s%s", render_specs(g, p->a, decl_plain(p->b)),
                  render_declarator(g, p->b, l->field, 0, 1));
    }
    ob_printf(o, ")\n{\n    acx__f->acx__hdr.info = &acx__info_%s;\n"
              "    acx__f->acx__hdr.parent = 0;\n"
              "    acx__f->acx__state = 0;\n", f->name);
    for (local *x = f->locals; x; x = x->next) {
        if (x->kind != L_PARAM)
            continue;
        if ((x->specs->spec & SP_CONST) || decl_qualified_ptr(x->declr))
            ob_printf(o, "    __builtin_memcpy((void *)&acx__f->%s, &%s, "
                      "sizeof %s);\n", x->field, x->field, x->field);
        else
            ob_printf(o, "    acx__f->%s = %s;\n", x->field, x->field);
    }
    ob_puts(o, "}\n");

    ob_putn(o, "\n", 1);
    ob_putn(o, body.p ? body.p : "", body.n);
    ob_free(&body);
    ob_unmap(o);

    /* the constructor: a boxed, unstarted frame */
    ob_here(o, g->outpath);
    put_ctor_proto(g, o, f);
    ob_printf(o, "\n{\n    struct acx__frame_%s *acx__f = (struct acx__frame_"
              "%s *)acx__coro_alloc(sizeof *acx__f, &acx__info_%s);\n"
              "    if (!acx__f)\n        return 0;\n    acx__init_%s(acx__f",
              f->name, f->name, f->name, f->name);
    for (node *p = f->params; p; p = p->next) {
        node *pn = p->kind == D_PARAM ? decl_name(p->b) : NULL;
        if (pn) {
            size_t len;
            const char *s = tok_str(src, pn->tok, &len);
            ob_printf(o, ", %.*s", (int)len, s);
        }
    }
    ob_puts(o, ");\n    return &acx__f->acx__hdr;\n}\n");
}

/* Where an external declaration's text starts in the buffer. */
static uint32_t ext_start(acx_src *s, node *n)
{
    uint32_t t = n->first;
    if (s->toks[t].flags & TF_ATTR)
        t = s->toks[t].attr;
    while (t > 0 && s->toks[t - 1].kind == TK_EXTENSION)
        t--;
    return s->toks[t].off;
}

static uint32_t ext_end(acx_src *s, node *n)
{
    uint32_t t = n->last;
    while (t + 1 < s->ntoks && (s->toks[t + 1].flags & TF_HIDDEN) &&
           s->toks[t + 1].kind != TK_EXTENSION)
        t++;
    return s->toks[t].off + s->toks[t].len;
}

static int has_async(node *specs)
{
    return specs && (specs->spec & SP_ASYNC);
}

/* Find async functions, and struct acx__frame_NAME definitions that make
 * a declared-only async function embeddable. */
static void collect(gen *g)
{
    acx_src *s = g->src;
    for (node *n = g->parse->unit; n; n = n->next) {
        if (n->kind == D_FUNCDEF && has_async(n->a)) {
            if (!decl_func(n->b)) {
                diag_error(s, n->first, "'async' needs a function");
                continue;
            }
            add_func(g, n->a, n->b, n);
        } else if (n->kind == S_DECL && has_async(n->a)) {
            for (node *id = n->b; id; id = id->next) {
                node *nm = decl_name(id->a);
                if (!decl_is_function(id->a) || !nm) {
                    diag_error(s, nm ? nm->tok : id->first, "'async' "
                               "applies only to functions");
                    continue;
                }
                add_func(g, n->a, id->a, NULL);
            }
        }
    }
    for (node *n = g->parse->unit; n; n = n->next) {
        if ((n->kind != S_DECL && n->kind != D_FUNCDEF) || !n->a)
            continue;
        /* acx__fast_NAME, declared or defined (static inline) */
        for (node *id = n->kind == D_FUNCDEF ? n : n->b; id;
             id = n->kind == D_FUNCDEF ? NULL : id->next) {
            node *nm = decl_name(n->kind == D_FUNCDEF ? n->b : id->a);
            size_t len;
            const char *t = nm ? tok_str(s, nm->tok, &len) : NULL;
            if (t && len > 10 && memcmp(t, "acx__fast_", 10) == 0) {
                afunc *f = gen_find(g, t + 10, len - 10);
                if (f && !f->def)
                    f->fast = 1;
            }
        }
        for (node *k = n->kind == S_DECL ? n->a->a : NULL; k; k = k->next) {
            if (k->kind != D_STRUCT || !(k->spec & 1) || !(k->spec & 2))
                continue;
            size_t len;
            const char *t = tok_str(s, k->tok, &len);
            if (len > 11 && memcmp(t, "acx__frame_", 11) == 0) {
                afunc *f = gen_find(g, t + 11, len - 11);
                if (f)
                    f->embeddable = 1;
            }
        }
    }
}

/* What analysis allocated outside the arena. */
static void gen_release(gen *g)
{
    for (afunc *f = g->funcs; f; f = f->next) {
        free_layout(f->root);
        free_layout(f->children);
        free(f->hoisted);
        free(f->site_tok);
        f->root = f->children = NULL;
        f->hoisted = NULL;
        f->site_tok = NULL;
    }
}

int gen_unit(gen *g)
{
    acx_src *s = g->src;
    int errors = s->errors;
    collect(g);
    for (afunc *f = g->funcs; f; f = f->next)
        if (f->def && frame_analyse(g, f) == 0)
            collect_callees(g, f, f->def->c);
    break_cycles(g);
    checker c = {.g = g};
    for (node *n = g->parse->unit; n; n = n->next) {
        c.in_async = n->kind == D_FUNCDEF && has_async(n->a);
        check_node(&c, n->kind == D_FUNCDEF ? n->c : n);
        if (n->kind == D_FUNCDEF) /* parameters' array sizes, say */
            check_list(&c, n->b);
    }
    if (s->errors > errors) {
        gen_release(g);
        return -1;
    }

    obuf *o = &g->out;
    uint32_t pos = 0;
    for (node *n = g->parse->unit; n; n = n->next) {
        int fdef = n->kind == D_FUNCDEF && has_async(n->a);
        int decl = n->kind == S_DECL && has_async(n->a);
        if (!fdef && !decl)
            continue;
        uint32_t start = ext_start(s, n);
        ob_raw(o, pos, start);
        pos = ext_end(s, n);
        ob_nl(o);
        ob_unmap(o);
        for (node *id = fdef ? n : n->b; id; id = fdef ? NULL : id->next) {
            node *nm = decl_name(fdef ? n->b : id->a);
            size_t len;
            const char *t = nm ? tok_str(s, nm->tok, &len) : NULL;
            afunc *f = t ? gen_find(g, t, len) : NULL;
            if (!f)
                continue;
            ob_sync(o, nm->tok);
            ob_puts(o, "__attribute__((warn_unused_result)) ");
            put_ctor_proto(g, o, f);
            ob_puts(o, ";\n");
        }
        ob_unmap(o);
        ob_sync(o, n->last); /* the copy goes on from the end of N's line */
    }
    ob_raw(o, pos, (uint32_t)s->len);
    ob_nl(o);
    ob_puts(o, "\n/* acxc: generated code follows */\n");
    for (afunc *f = g->funcs; f; f = f->next)
        emit_function(g, f);
    gen_release(g);
    return s->errors > errors ? -1 : 0;
}

int gen_header(gen *g, obuf *h, const char *path)
{
    const char *base = strrchr(path, '/');
    base = base ? base + 1 : path;
    char guard[128];
    size_t n = 0;
    n += (size_t)snprintf(guard, sizeof guard, "ACX_GEN_");
    for (const char *p = base; *p && n + 2 < sizeof guard; p++)
        guard[n++] = (*p >= 'a' && *p <= 'z') ? (char)(*p - 32)
                     : ((*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9'))
                         ? *p : '_';
    guard[n] = 0;
    ob_printf(h, "/* clang-format off */\n"
              "/* Generated by acxc from %s: the async functions it "
              "defines.\n * Readable by acxc and by any C compiler. */\n",
              g->src->path);
    ob_printf(h, "#ifndef %s\n#define %s\n\n#include <acx.h>\n\n", guard,
              guard);
    for (afunc *f = g->funcs; f; f = f->next) {
        if (!f->def || f->is_static)
            continue;
        ob_puts(h, "#ifdef __ACXC__\n__acx_async ");
        ob_puts(h, render_specs(g, f->specs, 0));
        ob_span(h, f->declr->first, f->declr->last);
        ob_puts(h, ";\n#else\n__attribute__((warn_unused_result)) ");
        put_ctor_proto(g, h, f);
        ob_puts(h, ";\n#endif\n\n");
    }
    ob_printf(h, "#endif /* %s */\n", guard);
    return 0;
}
