/* lower.c - an async function's body as a resumable state machine.
 *
 * The body function has the shape
 *
 *     static int acx__body_F(acx_coro *acx__co)
 *     {
 *         struct acx__frame_F *const acx__f = ...;
 *         switch (acx__f->acx__state) {
 *         case 0: break;
 *         case 1: goto acx__L1;          one case per await point
 *         }
 *         ...the body, locals as acx__f->x, each await as
 *             acx__init_G(&acx__f->acx__c1, args);
 *             ...parent link; run acx__body_G in place if the C stack
 *             allows (else hand it to the driver); unless it finished:
 *             acx__f->acx__state = 1; return its ACX__ code;
 *             acx__L1:;
 *         return ACX__DONE;
 *     }
 *
 * Expressions holding an await are split into a prelude (statements that
 * run the awaits, left to right, honouring the sequence points of &&, ||,
 * ?: and the comma) and a residual expression that uses the results.
 * Operands C leaves unsequenced may run in either order, so awaits run
 * first and the rest of the expression after them.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "gen.h"
#include "parser.h"

typedef struct loopctx {
    int cont;            /* label number for continue, 0: plain continue */
    int used;
    struct loopctx *up;
} loopctx;

typedef struct lowerer {
    gen *g;
    afunc *f;
    obuf *o;
    loopctx *loops;
    layout *tg;          /* group that receives new temporaries */
} lowerer;

static char *lower_expr(lowerer *lw, node *e);
static void lower_stmt(lowerer *lw, node *s);

static int needs(node *n)
{
    return n && (n->flags & (NF_AWAIT | NF_RETURN));
}

/* Tokens of an expression that needs no lowering, as text. */
static char *render_expr(lowerer *lw, node *e)
{
    obuf t;
    ob_init(&t, lw->g->src, 0);
    ob_span(&t, e->first, e->last);
    char *r = arena_strndup(lw->g->parse->arena, t.p ? t.p : "", t.n);
    ob_free(&t);
    return r;
}

static char *new_temp(lowerer *lw, const char *specs, node *declr)
{
    char *name = gen_printf(lw->g, "acx__t%d", ++lw->f->ntemps);
    char *text = declr ? gen_printf(lw->g, "%s%s", specs,
                                    render_declarator(lw->g, declr, name, 1,
                                                      0))
                       : gen_printf(lw->g, "%s %s", specs, name);
    layout_field(lw->tg ? lw->tg : lw->f->root, text, 0);
    return gen_printf(lw->g, "acx__f->%s", name);
}

static node *strip_parens(node *e)
{
    while (e && e->kind == E_PAREN)
        e = e->a;
    return e;
}

/* The async function a call expression names, if any (and not a local of
 * the same name). */
static afunc *called_async(lowerer *lw, node *call)
{
    call = strip_parens(call);
    if (!call || call->kind != E_CALL)
        return NULL;
    node *fn = strip_parens(call->a);
    if (!fn || fn->kind != E_IDENT || fn->sym)
        return NULL;
    size_t n;
    const char *s = tok_str(lw->g->src, fn->tok, &n);
    return gen_find(lw->g, s, n);
}

/* The suspension point K: the generated code holds no macros (its input
 * was preprocessed already), so this is ACX__AWAIT of acx_abi.h spelled
 * out.  CHILD is an acx_coro * expression, BODY its body function. */
static void emit_suspend(obuf *o, const char *child, const char *body, int k)
{
    ob_glue(o, "(%s)->parent = &acx__f->acx__hdr;\n"
              "if ((char *)__builtin_frame_address(0) > acx__stack_floor) {\n"
              "    if ((acx__r = %s(%s)) == ACX__DONE)\n"
              "        goto acx__L%d;\n"
              "} else {\n    acx__r = acx__push(%s);\n}\n"
              "acx__f->acx__state = %d;\nreturn acx__r;\nacx__L%d:;\n",
              child, body, child, k, child, k, k);
}

static int edge_boxed(afunc *from, afunc *to)
{
    for (struct callee *c = from->callees; c; c = c->next)
        if (c->f == to)
            return c->boxed;
    return !to->embeddable;
}

static int new_site(lowerer *lw, uint32_t tok)
{
    afunc *f = lw->f;
    int k = ++f->nsites;
    uint32_t *s = realloc(f->site_tok, (size_t)(k + 1) * sizeof *s);
    if (!s)
        abort();
    s[k] = tok;
    f->site_tok = s;
    return k;
}

/* Arguments lowered left to right, joined with commas. */
static char *lower_args(lowerer *lw, node *args)
{
    char *r = gen_strdup(lw->g, "");
    for (node *a = args; a; a = a->next)
        r = gen_printf(lw->g, "%s%s%s", r, *r ? ", " : "", lower_expr(lw, a));
    return r;
}

/* Is C one of the runtime's awaitables (acx_*), whose int or ssize_t
 * value is documented as a negative errno on failure?  A boxed await of
 * one whose frame cannot be allocated then evaluates to -ENOMEM, which
 * its caller handles like any other error from it.  Other functions'
 * values may be plain numbers (a recursive fib): for them no value can
 * stand for the error, and the await still aborts (guide.md, limits). */
static int returns_errno(gen *g, afunc *c)
{
    if (strncmp(c->name, "acx_", 4) != 0)
        return 0;
    static const char *const signed_typedefs[] = {
        "ssize_t", "intptr_t", "ptrdiff_t", "int64_t", "int32_t", "off_t",
    };
    if (c->is_void)
        return 0;
    const char *t = render_ret_specs(g, c);
    if (strstr(t, "unsigned") || strstr(t, "_Bool") || strstr(t, "char"))
        return 0;
    if (c->ret_integer)
        return 1;
    while (*t == ' ')
        t++;
    if (strncmp(t, "const ", 6) == 0)
        t += 6;
    size_t n = strcspn(t, " ");
    if (!returns_own_specs(c->declr))
        return 0;
    for (size_t i = 0; i < sizeof signed_typedefs / sizeof *signed_typedefs;
         i++)
        if (strlen(signed_typedefs[i]) == n &&
            strncmp(t, signed_typedefs[i], n) == 0 &&
            t[n + strspn(t + n, " ")] == '\0')
            return 1;
    return 0;
}

/* await E: emit the suspension point; return the value's expression. */
static char *lower_await(lowerer *lw, node *e, int discard)
{
    obuf *o = lw->o;
    afunc *f = lw->f;
    afunc *c = called_async(lw, e->a);
    char *file_line = NULL;
    if (c) {
        node *call = strip_parens(e->a);
        char *args = lower_args(lw, call->b);
        int k = new_site(lw, e->tok);
        ob_sync(o, e->tok);
        if (c->fast) { /* acx_abi.h: the fast protocol */
            ob_glue(o, "if ((acx__r = acx__fast_%s(&acx__f->acx__hdr%s%s))"
                      " != ACX__DONE) {\n    acx__f->acx__state = %d;\n"
                      "    return acx__r;\n}\nacx__L%d:;\n", c->name,
                      *args ? ", " : "", args, k, k);
            if (c->is_void || discard)
                return gen_strdup(lw->g, "((void)0)");
            char *t = new_temp(lw, render_ret_specs(lw->g, c), c->declr);
            ob_glue(o, "%s = acx__fast_result_%s(&acx__f->acx__hdr);\n", t,
                      c->name);
            return t;
        }
        if (!edge_boxed(f, c)) {
            layout_field(f->children, gen_printf(lw->g,
                         "struct acx__frame_%s acx__c%d", c->name, k), 0);
            ob_glue(o, "acx__init_%s(&acx__f->acx__c%d%s%s);\n", c->name,
                      k, *args ? ", " : "", args);
            emit_suspend(o, gen_printf(lw->g, "&acx__f->acx__c%d.acx__hdr",
                                       k),
                         gen_printf(lw->g, "acx__body_%s", c->name), k);
            if (c->is_void || discard)
                return gen_strdup(lw->g, "((void)0)");
            char *t = new_temp(lw, render_ret_specs(lw->g, c), c->declr);
            ob_glue(o, "%s = acx__f->acx__c%d.acx__ret;\n", t, k);
            return t;
        }
        acx_tok *tk = &lw->g->src->toks[e->tok];
        acx_src *src = lw->g->src;
        file_line = gen_printf(lw->g, "\"%s\", %u",
                               src->files && tk->file < src->nfiles
                                   ? src->files[tk->file] : src->path,
                               tk->line);
        layout_field(f->children, gen_printf(lw->g, "acx_coro *acx__c%d",
                                             k), 0);
        ob_glue(o, "acx__f->acx__c%d = %s(%s);\n", k, c->name, args);
        char *t = NULL;
        if (!c->is_void && !discard)
            t = new_temp(lw, render_ret_specs(lw->g, c), c->declr);
        int errno_valued = returns_errno(lw->g, c);
        if (errno_valued) /* the await's value says it: -ENOMEM */
            ob_glue(o, "if (!acx__f->acx__c%d) {\n%s%s%s    goto acx__N%d;\n"
                      "}\n", k, t ? "    " : "", t ? t : "",
                      t ? gen_printf(lw->g, " = -%d; /* -ENOMEM */\n",
                                     ENOMEM) : "", k);
        else
            ob_glue(o, "if (!acx__f->acx__c%d)\n    acx__oom(%s);\n", k,
                      file_line);
        emit_suspend(o, gen_printf(lw->g, "acx__f->acx__c%d", k),
                     gen_printf(lw->g, "acx__f->acx__c%d->info->body", k), k);
        if (t) {
            char *rt = gen_printf(lw->g, "%s%s", render_ret_specs(lw->g, c),
                                  render_declarator(lw->g, c->declr,
                                                    "acx__ret", 1, 0));
            ob_glue(o, "%s = ((struct { acx_coro acx__hdr; uint32_t "
                      "acx__state; %s; } *)acx__f->acx__c%d)->acx__ret;\n",
                      t, rt, k);
        }
        ob_glue(o, "acx_coro_free(acx__f->acx__c%d);\n", k);
        if (errno_valued)
            ob_glue(o, "acx__N%d:;\n", k);
        return t ? t : gen_strdup(lw->g, "((void)0)");
    }
    /* a handle: a task or a coroutine object */
    char *h = lower_expr(lw, e->a);
    int k = new_site(lw, e->tok);
    ob_sync(o, e->tok);
    layout_field(f->children, gen_printf(lw->g,
                 "struct acx__frame_acx__await acx__c%d", k), 0);
    ob_glue(o, "acx__init_acx__await(&acx__f->acx__c%d, _Generic((%s), "
              "acx_task *: acx__aw_task, acx_coro *: acx__aw_coro)(%s));\n",
              k, h, h);
    emit_suspend(o, gen_printf(lw->g, "&acx__f->acx__c%d.acx__hdr", k),
                 "acx__body_acx__await", k);
    if (discard)
        return gen_strdup(lw->g, "((void)0)");
    char *t = new_temp(lw, "int", NULL);
    ob_glue(o, "%s = acx__f->acx__c%d.acx__ret;\n", t, k);
    return t;
}

/* Children of E in source order (expressions only); OUT may be NULL to
 * count them.  Lists are in order already, so the sort is linear. */
static int kids(node *e, node **out, int max)
{
    int n = 0;
    node *cand[3] = {e->a, e->b, e->c};
    int list = e->kind == E_CALL || e->kind == E_INITLIST ||
               e->kind == E_COMPLIT;
    for (int i = 0; i < 3; i++) {
        node *k = cand[i];
        if (!k || k->kind >= S_BLOCK)
            continue; /* type names and declarators hold no await */
        if (list && ((e->kind == E_CALL && i == 1) ||
                     (e->kind != E_CALL && i == 0))) {
            for (; k && n < max; k = k->next)
                if (out)
                    out[n++] = k;
                else
                    n++;
        } else if (n < max) {
            if (out)
                out[n] = k;
            n++;
        }
    }
    for (int i = 1; out && i < n; i++)
        for (int j = i; j > 0 && out[j]->first < out[j - 1]->first; j--) {
            node *t = out[j];
            out[j] = out[j - 1];
            out[j - 1] = t;
        }
    return n;
}

/* E rebuilt from its tokens with each lowered child replaced. */
static char *rebuild(lowerer *lw, node *e)
{
    int n = kids(e, NULL, INT32_MAX);
    node **k = arena_alloc(lw->g->parse->arena, (size_t)n * sizeof *k + 1);
    char **res = arena_alloc(lw->g->parse->arena,
                             (size_t)n * sizeof *res + 1);
    kids(e, k, n);
    for (int i = 0; i < n; i++)
        res[i] = needs(k[i]) ? lower_expr(lw, k[i]) : NULL;
    obuf t;
    ob_init(&t, lw->g->src, 0);
    uint32_t pos = e->first;
    for (int i = 0; i < n; i++) {
        if (!res[i])
            continue;
        if (k[i]->first > pos)
            ob_span(&t, pos, k[i]->first - 1);
        ob_printf(&t, " %s ", res[i]);
        pos = k[i]->last + 1;
    }
    if (pos <= e->last)
        ob_span(&t, pos, e->last);
    char *r = arena_strndup(lw->g->parse->arena, t.p ? t.p : "", t.n);
    ob_free(&t);
    return r;
}

/* The items of a block, lowered in place (no braces). */
static void lower_items(lowerer *lw, node *block, node *stop);

static char *lower_stmtexpr(lowerer *lw, node *e)
{
    node *block = e->a, *last = NULL;
    for (node *i = block->a; i; i = i->next)
        last = i;
    if (!last || last->kind != S_EXPR) {
        lower_items(lw, block, NULL);
        return gen_strdup(lw->g, "((void)0)");
    }
    lower_items(lw, block, last);
    return gen_printf(lw->g, "(%s)", lower_expr(lw, last->a));
}

static char *lower_logic(lowerer *lw, node *e)
{
    char *ra = lower_expr(lw, e->a);
    if (!needs(e->b))
        return gen_printf(lw->g, "(%s) %s (%s)", ra,
                          e->kind == E_LAND ? "&&" : "||",
                          render_expr(lw, e->b));
    char *t = new_temp(lw, "int", NULL);
    ob_glue(lw->o, "%s = !!(%s);\nif (%s%s) {\n", t, ra,
              e->kind == E_LAND ? "" : "!", t);
    char *rb = lower_expr(lw, e->b);
    ob_glue(lw->o, "%s = !!(%s);\n}\n", t, rb);
    return t;
}

static char *lower_cond(lowerer *lw, node *e)
{
    char *rc = lower_expr(lw, e->a);
    if (!e->b) { /* GNU a ?: b */
        if (!needs(e->c))
            return gen_printf(lw->g, "(%s) ?: (%s)", rc,
                              render_expr(lw, e->c));
        /* A is used twice below: only when that is harmless (an await's
         * result is a temporary; a constant has no effects). */
        node *a = strip_parens(e->a);
        if (a->kind != E_AWAIT && a->kind != E_CONST && a->kind != E_STRING) {
            diag_error(lw->g->src, e->tok, "await in the last operand of "
                       "'?:' without a middle operand needs the first "
                       "operand in a variable (or an await)");
            return rc;
        }
        ob_glue(lw->o, "if (!(%s)) {\n", rc);
        char *ry = lower_expr(lw, e->c);
        ob_glue(lw->o, "%s", "}\n");
        return gen_printf(lw->g, "((%s) ? (%s) : (%s))", rc, rc, ry);
    }
    if (!needs(e->b) && !needs(e->c))
        return gen_printf(lw->g, "(%s) ? (%s) : (%s)", rc,
                          render_expr(lw, e->b), render_expr(lw, e->c));
    char *t = new_temp(lw, "int", NULL);
    ob_glue(lw->o, "%s = !!(%s);\nif (%s) {\n", t, rc, t);
    char *rb = lower_expr(lw, e->b);
    ob_glue(lw->o, "%s", "} else {\n");
    char *ry = lower_expr(lw, e->c);
    ob_glue(lw->o, "%s", "}\n");
    return gen_printf(lw->g, "(%s ? (%s) : (%s))", t, rb, ry);
}

static char *lower_expr_d(lowerer *lw, node *e, int discard)
{
    if (!e)
        return gen_strdup(lw->g, "");
    if (!needs(e))
        return render_expr(lw, e);
    switch (e->kind) {
    case E_AWAIT:
        return lower_await(lw, e, discard);
    case E_PAREN:
        return gen_printf(lw->g, "(%s)", lower_expr_d(lw, e->a, discard));
    case E_LAND: case E_LOR:
        return lower_logic(lw, e);
    case E_COND:
        return lower_cond(lw, e);
    case E_COMMA: {
        char *ra = lower_expr_d(lw, e->a, 1);
        ob_glue(lw->o, "(void)(%s);\n", ra);
        return lower_expr_d(lw, e->b, discard);
    }
    case E_STMTEXPR:
        return lower_stmtexpr(lw, e);
    default:
        return rebuild(lw, e);
    }
}

static char *lower_expr(lowerer *lw, node *e)
{
    return lower_expr_d(lw, e, 0);
}

/* A full expression: its temporaries go to the group analysis made. */
static char *lower_full(lowerer *lw, node *e, int discard)
{
    layout *saved = lw->tg;
    if (e && e->sym && needs(e))
        lw->tg = e->sym;
    char *r = lower_expr_d(lw, e, discard);
    lw->tg = saved;
    return r;
}

/* ---- statements ----------------------------------------------------------- */

/* Does S hold a continue for the innermost enclosing loop? */
static int has_free_continue(node *s)
{
    for (; s; s = s->next) {
        switch (s->kind) {
        case S_CONTINUE:
            return 1;
        case S_WHILE: case S_DO: case S_FOR:
            continue; /* binds its own continues */
        case S_BLOCK:
            if (has_free_continue(s->a))
                return 1;
            continue;
        case S_IF:
            if (has_free_continue(s->b) || has_free_continue(s->c))
                return 1;
            continue;
        case S_SWITCH: case S_CASE:
            if (has_free_continue(s->b))
                return 1;
            continue;
        case S_DEFAULT: case S_LABEL:
            if (has_free_continue(s->a))
                return 1;
            continue;
        }
    }
    return 0;
}

static int needs_struct(lowerer *lw, node *s)
{
    if (needs(s))
        return 1;
    if (s->kind == S_BLOCK && (s->flags & NF_FRAME))
        return 1;
    if (lw->loops && lw->loops->cont) {
        node *saved = s->next;
        s->next = NULL;
        int r = has_free_continue(s);
        s->next = saved;
        return r;
    }
    return 0;
}

static void lower_decl(lowerer *lw, node *decl, int frame)
{
    obuf *o = lw->o;
    node *specs = decl->a;
    if (!frame || decl->kind != S_DECL ||
        (specs->spec & (SP_EXTERN | SP_STATIC | SP_THREAD))) {
        ob_span(o, decl->first, decl->last);
        ob_nl(o);
        return;
    }
    layout *saved = lw->tg;
    if (decl->sym)
        lw->tg = decl->sym;
    for (node *id = decl->b; id; id = id->next) {
        local *l = id->sym;
        if (!l)
            continue;
        if (l->kind == L_KEEP) { /* a function declaration */
            ob_sync(o, id->first);
            ob_glue(o, "%s%s;\n", render_specs(lw->g, specs, 0),
                      render_declarator(lw->g, id->a, l->field ? l->field
                      : arena_strndup(lw->g->parse->arena, l->name, l->len),
                      0, 0));
            continue;
        }
        if (l->kind != L_VAR || !id->b)
            continue;
        ob_sync(o, id->first);
        node *init = id->b;
        /* Plain assignment unless the field cannot be assigned: an array,
         * a const (or const typedef) object, a `T *const` pointer. */
        int aggregate = init->kind == E_INITLIST ||
                        (specs->spec & SP_CONST) ||
                        !(l->declr && l->declr->kind == D_NAME) ||
                        init->kind == E_STRING;
        if (aggregate && l->declr && l->declr->kind == D_PTR &&
            init->kind != E_INITLIST && !(specs->spec & SP_CONST) &&
            !decl_qualified_ptr(l->declr))
            aggregate = 0; /* a plain pointer: assign */
        char *r = lower_expr(lw, init);
        if (aggregate)
            ob_glue(o, "{ __typeof__(acx__f->%s) acx__i = %s;\n"
                      "__builtin_memcpy((void *)&acx__f->%s, &acx__i, "
                      "sizeof acx__i); }\n", l->field, r, l->field);
        else
            ob_glue(o, "acx__f->%s = %s;\n", l->field, r);
    }
    lw->tg = saved;
}

static void lower_items(lowerer *lw, node *block, node *stop)
{
    int frame = (block->flags & NF_FRAME) != 0;
    for (node *i = block->a; i && i != stop; i = i->next) {
        if (i->kind == S_DECL)
            lower_decl(lw, i, frame);
        else
            lower_stmt(lw, i);
    }
}

static void push_loop(lowerer *lw, loopctx *l, int rewritten)
{
    l->cont = rewritten ? ++lw->f->nlabels : 0;
    l->used = 0;
    l->up = lw->loops;
    lw->loops = l;
}

static void cont_label(lowerer *lw, loopctx *l)
{
    ob_glue(lw->o, "acx__cont%d: __attribute__((unused));\n", l->cont);
}

static void lower_for(lowerer *lw, node *s)
{
    obuf *o = lw->o;
    int loop_lowered = needs(s->b) || needs(s->c);
    int init_lowered = s->a && (s->a->kind == S_DECL ? (s->flags & NF_AWAIT)
                                                     : needs(s->a));
    if (!loop_lowered && !init_lowered) {
        ob_span(o, s->first, s->d->first - 1);
        loopctx l;
        push_loop(lw, &l, 0);
        lower_stmt(lw, s->d);
        lw->loops = l.up;
        return;
    }
    ob_glue(o, "%s", "{\n");
    if (s->a && s->a->kind == S_DECL)
        lower_decl(lw, s->a, (s->flags & NF_AWAIT) != 0);
    else if (s->a)
        ob_glue(o, "(void)(%s);\n", lower_full(lw, s->a->a, 1));
    loopctx l;
    if (!loop_lowered) {
        ob_glue(o, "for (; %s; %s)\n", s->b ? render_expr(lw, s->b) : "",
                  s->c ? render_expr(lw, s->c) : "");
        push_loop(lw, &l, 0);
        lower_stmt(lw, s->d);
        lw->loops = l.up;
        ob_glue(o, "%s", "}\n");
        return;
    }
    ob_glue(o, "%s", "for (;;) {\n");
    if (s->b) {
        char *c = lower_full(lw, s->b, 0);
        ob_glue(o, "if (!(%s))\n    break;\n", c);
    }
    push_loop(lw, &l, s->c != NULL);
    lower_stmt(lw, s->d);
    lw->loops = l.up;
    if (s->c) {
        cont_label(lw, &l);
        ob_glue(o, "(void)(%s);\n", lower_full(lw, s->c, 1));
    }
    ob_glue(o, "%s", "}\n}\n");
}

static void lower_stmt(lowerer *lw, node *s)
{
    obuf *o = lw->o;
    if (!s)
        return;
    if (!needs_struct(lw, s)) {
        ob_span(o, s->first, s->last);
        ob_nl(o);
        return;
    }
    ob_sync(o, s->first);
    loopctx l;
    switch (s->kind) {
    case S_BLOCK:
        ob_glue(o, "%s", "{\n");
        lower_items(lw, s, NULL);
        ob_glue(o, "%s", "}\n");
        return;
    case S_EXPR: {
        ob_glue(o, "%s", "{\n");
        char *r = lower_full(lw, s->a, 1);
        if (strcmp(r, "((void)0)") != 0)
            ob_glue(o, "(void)(%s);\n", r);
        ob_glue(o, "%s", "}\n");
        return;
    }
    case S_RETURN:
        ob_glue(o, "%s", "{\n");
        if (s->a) {
            char *r = lower_full(lw, s->a, lw->f->is_void);
            if (lw->f->is_void)
                ob_glue(o, "(void)(%s);\n", r);
            else
                ob_glue(o, "acx__f->acx__ret = %s;\n", r);
        }
        ob_glue(o, "%s", "return ACX__DONE;\n}\n");
        return;
    case S_IF: {
        ob_glue(o, "%s", "{\n");
        char *c = lower_full(lw, s->a, 0);
        ob_glue(o, "if (%s)\n", c);
        lower_stmt(lw, s->b);
        if (s->c) {
            ob_glue(o, "%s", "else\n");
            lower_stmt(lw, s->c);
        }
        ob_glue(o, "%s", "}\n");
        return;
    }
    case S_WHILE:
        if (!needs(s->a)) {
            ob_glue(o, "while (%s)\n", render_expr(lw, s->a));
            push_loop(lw, &l, 0);
            lower_stmt(lw, s->b);
            lw->loops = l.up;
            return;
        }
        ob_glue(o, "%s", "for (;;) {\n");
        ob_glue(o, "if (!(%s))\n    break;\n", lower_full(lw, s->a, 0));
        push_loop(lw, &l, 0);
        lower_stmt(lw, s->b);
        lw->loops = l.up;
        ob_glue(o, "%s", "}\n");
        return;
    case S_DO:
        if (!needs(s->b)) {
            ob_glue(o, "%s", "do\n");
            push_loop(lw, &l, 0);
            lower_stmt(lw, s->a);
            lw->loops = l.up;
            ob_glue(o, "while (%s);\n", render_expr(lw, s->b));
            return;
        }
        ob_glue(o, "%s", "for (;;) {\n");
        push_loop(lw, &l, 1);
        lower_stmt(lw, s->a);
        lw->loops = l.up;
        cont_label(lw, &l);
        ob_glue(o, "if (!(%s))\n    break;\n}\n", lower_full(lw, s->b, 0));
        return;
    case S_FOR:
        lower_for(lw, s);
        return;
    case S_SWITCH: {
        ob_glue(o, "%s", "{\n");
        char *c = lower_full(lw, s->a, 0);
        ob_glue(o, "switch (%s)\n", c);
        lower_stmt(lw, s->b);
        ob_glue(o, "%s", "}\n");
        return;
    }
    case S_CASE:
        ob_span(o, s->first, s->b->first - 1);
        ob_nl(o);
        lower_stmt(lw, s->b);
        return;
    case S_DEFAULT: case S_LABEL:
        ob_span(o, s->first, s->a->first - 1);
        ob_nl(o);
        lower_stmt(lw, s->a);
        return;
    case S_CONTINUE:
        if (lw->loops && lw->loops->cont) {
            ob_glue(o, "goto acx__cont%d;\n", lw->loops->cont);
            return;
        }
        ob_glue(o, "%s", "continue;\n");
        return;
    case S_GOTO: {
        ob_glue(o, "%s", "{\n");
        char *r = lower_full(lw, s->a, 0);
        ob_glue(o, "goto *(%s);\n}\n", r);
        return;
    }
    case S_DECL:
        lower_decl(lw, s, 1);
        return;
    default:
        ob_span(o, s->first, s->last);
        ob_nl(o);
        return;
    }
}

int lower_function(gen *g, afunc *f, obuf *o)
{
    lowerer lw = {.g = g, .f = f};
    obuf body;
    ob_init(&body, g->src, o->lines);
    lw.o = &body;
    f->children = layout_new(NULL);
    int errors = g->src->errors;
    node *block = f->def->c;
    lower_items(&lw, block, NULL);
    ob_nl(&body);

    ob_sync(o, f->def->first);
    ob_glue(o, "static int acx__body_%s(acx_coro *acx__co)\n{\n",
              f->name);
    ob_glue(o, "struct acx__frame_%s *const acx__f = "
              "(struct acx__frame_%s *)acx__co;\n", f->name, f->name);
    ob_glue(o, "%s", "int acx__r;\n(void)acx__f;\n(void)acx__r;\n"
               "switch (acx__f->acx__state) {\n"
               "case 0:\n    break;\n");
    for (int k = 1; k <= f->nsites; k++)
        ob_glue(o, "case %d:\n    goto acx__L%d;\n", k, k);
    ob_glue(o, "%s", "default:\n    return ACX__DONE;\n}\n");
    ob_putn(o, "\n", 1); /* the body starts with a #line directive */
    ob_putn(o, body.p ? body.p : "", body.n);
    o->mapped = 0; /* the body's own #lines moved the mapping */
    ob_glue(o, "%s", "\nreturn ACX__DONE;\n}\n");
    ob_free(&body);
    return g->src->errors > errors ? -1 : 0;
}
