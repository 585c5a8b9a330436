/* test_parser.c - the "parser" suite: lex_run + parse_run on strings, and
 * the shape of the AST they build.
 *
 * Expressions are checked through a small S-expression printer, so that
 * "a + b * c" must come out as "(+ a (* b c))".  Diagnostics go to a
 * tmpfile() that the error tests read back.
 */
#include <CUnit/Basic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "front.h"
#include "parser.h"
#include "suites.h"

/* ---- helpers -------------------------------------------------------------- */

typedef struct parsed {
    acx_src s;
    acx_parse p;
    int lex_rc, parse_rc;
    char diag[4096];
} parsed;

static void parse_n(parsed *P, const char *text, size_t n)
{
    memset(P, 0, sizeof *P);
    P->s.path = "test.acx";
    P->s.buf = malloc(n + 1);
    CU_ASSERT_PTR_NOT_NULL_FATAL(P->s.buf);
    memcpy(P->s.buf, text, n);
    P->s.buf[n] = 0;
    P->s.len = n;
    P->s.err = tmpfile();
    CU_ASSERT_PTR_NOT_NULL_FATAL(P->s.err);
    P->lex_rc = lex_run(&P->s);
    P->parse_rc = P->lex_rc == 0 ? parse_run(&P->p, &P->s) : -1;
    rewind(P->s.err);
    size_t got = fread(P->diag, 1, sizeof P->diag - 1, P->s.err);
    P->diag[got] = 0;
}

static void parse(parsed *P, const char *text)
{
    parse_n(P, text, strlen(text));
}

/* TEXT parses with no error; complain with the diagnostics if not. */
static void parse_ok(parsed *P, const char *text)
{
    parse(P, text);
    if (P->s.errors || P->parse_rc) {
        fprintf(stderr, "\n  unexpected errors for:\n%s\n%s", text,
                P->diag);
        CU_FAIL("parse errors");
    }
}

static void done(parsed *P)
{
    parse_free(&P->p);
    fclose(P->s.err);
    src_free(&P->s);
}

static int count(node *list)
{
    int n = 0;
    for (; list; list = list->next)
        n++;
    return n;
}

static node *nth(node *list, int i)
{
    while (list && i-- > 0)
        list = list->next;
    return list;
}

/* Does the text of token T equal S? */
static int tok_is(parsed *P, uint32_t t, const char *s)
{
    return t < P->s.ntoks && P->s.toks[t].len == strlen(s) &&
           memcmp(P->s.buf + P->s.toks[t].off, s, strlen(s)) == 0;
}

/* The text of tokens FIRST..LAST joined by single blanks. */
static void span_text(parsed *P, uint32_t first, uint32_t last, char *out,
                      size_t cap)
{
    size_t n = 0;
    out[0] = 0;
    for (uint32_t t = first; t <= last && t < P->s.ntoks; t++) {
        if (P->s.toks[t].flags & TF_HIDDEN)
            continue;
        int w = snprintf(out + n, cap - n, "%s%.*s", n ? " " : "",
                         (int)P->s.toks[t].len, P->s.buf + P->s.toks[t].off);
        if (w < 0 || (size_t)w >= cap - n)
            return;
        n += (size_t)w;
    }
}

/* An S-expression for expression E, appended to OUT. */
static void sx(parsed *P, node *e, char *out, size_t cap)
{
#define PUT(...) snprintf(out + strlen(out), cap - strlen(out), __VA_ARGS__)
    char t[256];
    if (!e) {
        PUT("_");
        return;
    }
    switch (e->kind) {
    case E_IDENT: case E_CONST: case E_STRING:
        span_text(P, e->first, e->last, t, sizeof t);
        PUT("%s", t);
        return;
    case E_PAREN:
        PUT("[");
        sx(P, e->a, out, cap);
        PUT("]");
        return;
    case E_BINARY: case E_LAND: case E_LOR: case E_ASSIGN: case E_COMMA:
        span_text(P, e->tok, e->tok, t, sizeof t);
        PUT("(%s ", t);
        sx(P, e->a, out, cap);
        PUT(" ");
        sx(P, e->b, out, cap);
        PUT(")");
        return;
    case E_COND:
        PUT("(? ");
        sx(P, e->a, out, cap);
        PUT(" ");
        sx(P, e->b, out, cap);
        PUT(" ");
        sx(P, e->c, out, cap);
        PUT(")");
        return;
    case E_UNARY: case E_AWAIT: case E_SIZEOF: case E_ALIGNOF:
        span_text(P, e->first, e->first, t, sizeof t);
        if (e->b) { /* sizeof (type) */
            char ty[256];
            span_text(P, e->b->first, e->b->last, ty, sizeof ty);
            PUT("(%s-type %s)", t, ty);
            return;
        }
        PUT("(%s ", t);
        sx(P, e->a, out, cap);
        PUT(")");
        return;
    case E_CAST:
        span_text(P, e->b->first, e->b->last, t, sizeof t);
        PUT("(cast %s ", t);
        sx(P, e->a, out, cap);
        PUT(")");
        return;
    case E_CALL:
        PUT("(call ");
        sx(P, e->a, out, cap);
        for (node *a = e->b; a; a = a->next) {
            PUT(" ");
            sx(P, a, out, cap);
        }
        PUT(")");
        return;
    case E_INDEX:
        PUT("(index ");
        sx(P, e->a, out, cap);
        PUT(" ");
        sx(P, e->b, out, cap);
        PUT(")");
        return;
    case E_MEMBER:
        PUT("(member ");
        sx(P, e->a, out, cap);
        PUT(" %.*s%.*s)", (int)P->s.toks[e->tok - 1].len,
            P->s.buf + P->s.toks[e->tok - 1].off, (int)P->s.toks[e->tok].len,
            P->s.buf + P->s.toks[e->tok].off);
        return;
    case E_POSTFIX:
        span_text(P, e->tok, e->tok, t, sizeof t);
        PUT("(post%s ", t);
        sx(P, e->a, out, cap);
        PUT(")");
        return;
    case E_COMPLIT:
        span_text(P, e->b->first, e->b->last, t, sizeof t);
        PUT("(complit %s %d)", t, count(e->a));
        return;
    case E_STMTEXPR:
        PUT("(stmtexpr %d)", count(e->a ? e->a->a : NULL));
        return;
    case E_GENERIC:
        PUT("(generic ");
        sx(P, e->a, out, cap);
        PUT(" %d)", count(e->b));
        return;
    case E_BUILTIN: case E_LABELADDR:
        span_text(P, e->first, e->first, t, sizeof t);
        PUT("(%s)", t);
        return;
    }
    PUT("<kind %d>", e->kind);
#undef PUT
}

/* The body items of the last function defined in P. */
static node *last_body(parsed *P)
{
    node *f = NULL;
    for (node *n = P->p.unit; n; n = n->next)
        if (n->kind == D_FUNCDEF)
            f = n;
    CU_ASSERT_PTR_NOT_NULL(f);
    if (!f || !f->c)
        return NULL;
    CU_ASSERT_EQUAL(f->c->kind, S_BLOCK);
    return f->c->a;
}

/* EXPR, parsed as the expression statement of a function with the given
 * PRELUDE (declarations), prints as WANT. */
static void expect_expr(const char *prelude, const char *expr,
                        const char *want)
{
    char text[2048];
    snprintf(text, sizeof text, "%s\nvoid t__(void) { %s; }", prelude, expr);
    parsed P;
    parse_ok(&P, text);
    node *items = last_body(&P);
    CU_ASSERT_PTR_NOT_NULL(items);
    if (items) {
        CU_ASSERT_EQUAL(items->kind, S_EXPR);
        char got[2048] = "";
        sx(&P, items->a, got, sizeof got);
        if (strcmp(got, want) != 0) {
            fprintf(stderr, "\n  '%s' parsed as %s, want %s\n", expr, got,
                    want);
            CU_FAIL("expression shape");
        }
    }
    done(&P);
}

#define PRE                                                                 \
    "typedef int T; int a, b, c, d, e, *p, f(int), g(void); "               \
    "struct s { int m; } sv, *sp;"

/* ---- external declarations, specifiers ----------------------------------- */

static void test_empty_unit(void)
{
    parsed P;
    parse_ok(&P, "");
    CU_ASSERT_PTR_NULL(P.p.unit);
    done(&P);
    parse_ok(&P, ";;");
    CU_ASSERT_EQUAL(count(P.p.unit), 2);
    CU_ASSERT_EQUAL(P.p.unit->kind, S_NULL);
    done(&P);
}

static void test_external_declarations(void)
{
    parsed P;
    parse_ok(&P, "int x;\n"
                 "int f(int a) { return a; }\n"
                 "extern char *g(void), h;\n"
                 "async int k(void) { return 1; }\n"
                 "struct s { int a; };\n");
    CU_ASSERT_EQUAL_FATAL(count(P.p.unit), 5);
    static const int kinds[] = {S_DECL, D_FUNCDEF, S_DECL, D_FUNCDEF, S_DECL};
    for (int i = 0; i < 5; i++)
        CU_ASSERT_EQUAL(nth(P.p.unit, i)->kind, kinds[i]);
    node *f = nth(P.p.unit, 1);
    CU_ASSERT_EQUAL(f->a->kind, D_SPECS);
    CU_ASSERT_TRUE(decl_is_function(f->b));
    CU_ASSERT_TRUE(tok_is(&P, decl_name(f->b)->tok, "f"));
    CU_ASSERT_EQUAL(f->c->kind, S_BLOCK);
    CU_ASSERT_EQUAL(count(f->c->a), 1);
    CU_ASSERT_EQUAL(f->c->a->kind, S_RETURN);
    node *g = nth(P.p.unit, 2);
    CU_ASSERT_EQUAL(count(g->b), 2);
    CU_ASSERT_EQUAL(g->b->kind, D_INITDECL);
    CU_ASSERT_TRUE(decl_is_function(g->b->a));
    CU_ASSERT_FALSE(decl_is_function(g->b->next->a));
    CU_ASSERT_TRUE(tok_is(&P, decl_name(g->b->next->a)->tok, "h"));
    CU_ASSERT_PTR_NULL(nth(P.p.unit, 4)->b); /* no declarators */
    /* token spans: the function runs from 'int' to its '}' */
    CU_ASSERT_TRUE(tok_is(&P, f->first, "int"));
    CU_ASSERT_TRUE(tok_is(&P, f->last, "}"));
    done(&P);
}

static void test_specifier_flags(void)
{
    parsed P;
    parse_ok(&P, "static int a;\n"
                 "typedef unsigned long U;\n"
                 "extern const double d;\n"
                 "async void f(void);\n"
                 "static async int g(void) { return 0; }\n"
                 "static inline _Noreturn void h(void) { for (;;); }\n"
                 "_Thread_local struct q { int x; } tq;\n"
                 "U u;\n"
                 "typedef float F; int pad; F fl;\n");
    CU_ASSERT_EQUAL_FATAL(count(P.p.unit), 11);
    unsigned s0 = nth(P.p.unit, 0)->a->spec;
    CU_ASSERT_TRUE(s0 & SP_STATIC);
    CU_ASSERT_TRUE(s0 & SP_INTEGER);
    CU_ASSERT_TRUE(s0 & SP_HASTYPE);
    CU_ASSERT_FALSE(s0 & (SP_TYPEDEF | SP_ASYNC | SP_OTHERTYPE));
    unsigned s1 = nth(P.p.unit, 1)->a->spec;
    CU_ASSERT_TRUE(s1 & SP_TYPEDEF);
    CU_ASSERT_TRUE(s1 & SP_INTEGER);
    unsigned s2 = nth(P.p.unit, 2)->a->spec;
    CU_ASSERT_TRUE(s2 & SP_EXTERN);
    CU_ASSERT_TRUE(s2 & SP_CONST);
    CU_ASSERT_TRUE(s2 & SP_OTHERTYPE);
    CU_ASSERT_FALSE(s2 & SP_INTEGER);
    unsigned s3 = nth(P.p.unit, 3)->a->spec;
    CU_ASSERT_TRUE(s3 & SP_ASYNC);
    CU_ASSERT_TRUE(s3 & SP_VOID);
    CU_ASSERT_EQUAL(nth(P.p.unit, 3)->kind, S_DECL);
    node *g = nth(P.p.unit, 4);
    CU_ASSERT_EQUAL(g->kind, D_FUNCDEF);
    CU_ASSERT_TRUE(g->a->spec & SP_ASYNC);
    CU_ASSERT_TRUE(g->a->spec & SP_STATIC);
    unsigned s5 = nth(P.p.unit, 5)->a->spec;
    CU_ASSERT_TRUE(s5 & SP_INLINE);
    CU_ASSERT_TRUE(s5 & SP_NORETURN);
    unsigned s6 = nth(P.p.unit, 6)->a->spec;
    CU_ASSERT_TRUE(s6 & SP_THREAD);
    CU_ASSERT_TRUE(s6 & SP_OTHERTYPE);
    CU_ASSERT_EQUAL_FATAL(nth(P.p.unit, 6)->a->a->kind, D_STRUCT);
    /* a typedef name: SP_TYPENAME, and integer-ness from its definition */
    unsigned s7 = nth(P.p.unit, 7)->a->spec;
    CU_ASSERT_TRUE(s7 & SP_TYPENAME);
    CU_ASSERT_TRUE(s7 & SP_INTEGER);
    CU_ASSERT_FALSE(s7 & SP_OTHERTYPE);
    unsigned s9 = nth(P.p.unit, 10)->a->spec;
    CU_ASSERT_TRUE(s9 & SP_TYPENAME);
    CU_ASSERT_TRUE(s9 & SP_OTHERTYPE);
    CU_ASSERT_FALSE(s9 & SP_INTEGER);
    done(&P);
}

static void test_other_specifiers(void)
{
    parsed P;
    parse_ok(&P, "_Atomic(int) a1; _Atomic int a2; _Alignas(16) int a3;\n"
                 "_Alignas(long) char a4[8]; __int128 i128;\n"
                 "unsigned __int128 u128; _Bool bo; _Complex double cd;\n"
                 "__typeof__(a1) t1; typeof(int *) t2; __auto_type *q = 0;\n"
                 "__builtin_va_list vl; _Float128 f128; long double ld;\n"
                 "register int r; auto int au;\n");
    CU_ASSERT_EQUAL(count(P.p.unit), 16);
    node *t1 = nth(P.p.unit, 9);
    CU_ASSERT_TRUE(t1->a->spec & SP_OTHERTYPE);
    CU_ASSERT_EQUAL_FATAL(t1->a->a->kind, D_TYPEOF);
    done(&P);
}

/* ---- typedef names: the lexer hack ---------------------------------------- */

static void test_typedef_names(void)
{
    parsed P;
    /* (each typedef is followed by an unrelated token before its first use:
     * see test_typedef_used_at_once for the adjacent case) */
    parse_ok(&P, "typedef int T; int pad1; T x; T *y, z[3]; const T w = 1;\n"
                 "typedef T *PT; int pad2; PT q;\n"
                 "typedef struct { T a; } S; int pad3; S s;\n"
                 "int f(T a, PT); T g(S *s);\n");
    CU_ASSERT_EQUAL(P.s.toks[2].kind, TK_IDENT);     /* being declared */
    CU_ASSERT_EQUAL(P.s.toks[7].kind, TK_TYPE_NAME); /* T x */
    CU_ASSERT_EQUAL(P.s.toks[8].kind, TK_IDENT);
    CU_ASSERT_EQUAL(count(P.p.unit), 13);
    done(&P);
}

static void test_typedef_used_at_once(void)
{
    /* A typedef name is a type from its declaration's ';' on, so the very
     * next token may use it.  (lemon delays the reduction of the declaration
     * until it sees the next token, which the feed loop has classified
     * already.) */
    parsed P;
    parse_ok(&P, "typedef int T; T x;\n");
    CU_ASSERT_EQUAL(count(P.p.unit), 2);
    done(&P);
    parse_ok(&P, "struct foo; typedef struct foo foo_t; foo_t *make(void);\n");
    done(&P);
    parse_ok(&P, "void f(void) { typedef char U; U c; (void)c; }\n");
    done(&P);
    /* ... and a local hides a typedef from its own ';' on */
    parse_ok(&P, "typedef int T; int x;\n"
                 "void f(void) { int T = 2; T * x; }\n");
    node *items = last_body(&P);
    if (items && items->next)
        CU_ASSERT_EQUAL(items->next->kind, S_EXPR);
    done(&P);
}

static void test_typedef_star_is_declaration(void)
{
    parsed P;
    parse_ok(&P, "typedef int T; int a;\n"
                 "void f(void) { T * p; a * p; T * q = 0, r; }");
    node *items = last_body(&P);
    CU_ASSERT_EQUAL_FATAL(count(items), 3);
    CU_ASSERT_EQUAL(items->kind, S_DECL);
    CU_ASSERT_EQUAL(items->b->a->kind, D_PTR);
    CU_ASSERT_TRUE(tok_is(&P, decl_name(items->b->a)->tok, "p"));
    CU_ASSERT_EQUAL(items->next->kind, S_EXPR);
    CU_ASSERT_EQUAL(items->next->a->kind, E_BINARY);
    CU_ASSERT_EQUAL(items->next->a->op, TK_STAR);
    CU_ASSERT_EQUAL(nth(items, 2)->kind, S_DECL);
    CU_ASSERT_EQUAL(count(nth(items, 2)->b), 2);
    done(&P);
}

static void test_typedef_shadowed_by_local(void)
{
    parsed P;
    /* a local named like the typedef hides it until the block ends (a ';'
     * after each shadowing declaration: see test_typedef_used_at_once) */
    parse_ok(&P, "typedef int T; int x;\n"
                 "void f(void) {\n"
                 "  { int T = 2; ; T * x; }\n"
                 "  T * y;\n"
                 "}\n"
                 "void g(int T) { T * x; }\n"
                 "void h(void) { T T; ; T * x; }\n"
                 "T after;\n");
    node *f = nth(P.p.unit, 2);
    CU_ASSERT_EQUAL_FATAL(f->kind, D_FUNCDEF);
    node *inner = f->c->a->a; /* the first block's items */
    CU_ASSERT_EQUAL_FATAL(count(inner), 3);
    CU_ASSERT_EQUAL(nth(inner, 2)->kind, S_EXPR);
    CU_ASSERT_EQUAL(f->c->a->next->kind, S_DECL);
    node *g = nth(P.p.unit, 3);
    CU_ASSERT_EQUAL(g->c->a->kind, S_EXPR); /* the parameter hides T */
    node *h = nth(P.p.unit, 4);
    CU_ASSERT_EQUAL(h->c->a->kind, S_DECL);
    CU_ASSERT_EQUAL(nth(h->c->a, 2)->kind, S_EXPR);
    CU_ASSERT_EQUAL(nth(P.p.unit, 5)->kind, S_DECL);
    done(&P);
}

static void test_typedef_scopes_and_members(void)
{
    parsed P;
    /* a typedef in a block ends with it; member and tag names never hide a
     * typedef; T after '.', '->', 'goto' and 'struct' is a plain name */
    parse_ok(&P, "typedef int T;\n"
                 "struct T { int T; T v; };\n"
                 "void f(void) {\n"
                 "  { typedef char U; ; U c; (void)c; }\n"
                 "  int U = 3; ; U * 2;\n"
                 "  struct T st; st.T = 1; (&st)->T = 2; T w; (void)w;\n"
                 "  goto T;\n"
                 "}\n");
    node *items = last_body(&P);
    CU_ASSERT_EQUAL(nth(items, 3)->kind, S_EXPR); /* U * 2 */
    done(&P);
}

static void test_label_named_like_typedef(void)
{
    parsed P;
    /* labels have their own name space: gcc accepts this */
    parse_ok(&P, "typedef int T;\n"
                 "void f(void) { goto T; T: ; }\n");
    done(&P);
}

static void test_enumerator_shadows_typedef(void)
{
    parsed P;
    /* an enumerator belongs to the enclosing scope (not the enum's braces):
     * inside f, T is the constant */
    parse_ok(&P, "typedef int T; int x;\n"
                 "void f(void) { enum { T = 4 }; ; x = T * 2; }\n");
    node *items = last_body(&P);
    if (items && count(items) == 3)
        CU_ASSERT_EQUAL(nth(items, 2)->kind, S_EXPR);
    done(&P);
}

/* ---- declarators --------------------------------------------------------- */

static node *declr_of(parsed *P, int i)
{
    node *d = nth(P->p.unit, i);
    CU_ASSERT_PTR_NOT_NULL_FATAL(d);
    return d->kind == D_FUNCDEF ? d->b : d->b->a;
}

static void test_declarators(void)
{
    parsed P;
    parse_ok(&P, "int *a;\n"               /* 0: pointer to int */
                 "int b[3][4];\n"          /* 1: array of arrays */
                 "int *c[5];\n"            /* 2: array of pointers */
                 "int (*d)[5];\n"          /* 3: pointer to array */
                 "int e(int, char *);\n"   /* 4: function */
                 "int (*fp)(int);\n"       /* 5: pointer to function */
                 "int *(*g(int x))(char);\n" /* 6: fn returning fn ptr */
                 "void (*signal2(int, void (*)(int)))(int);\n" /* 7 */
                 "char **const *volatile q;\n" /* 8 */
                 "int (h)(void);\n"        /* 9: parenthesised name */
                 "int k();\n"              /* 10: no prototype */
                 "int v(const char *, ...);\n"); /* 11: variadic */
    node *d;
    d = declr_of(&P, 0);
    CU_ASSERT_EQUAL(d->kind, D_PTR);
    CU_ASSERT_EQUAL(d->a->kind, D_NAME);
    CU_ASSERT_FALSE(decl_is_function(d));
    d = declr_of(&P, 1);
    CU_ASSERT_EQUAL(d->kind, D_ARRAY);
    CU_ASSERT_EQUAL(d->a->kind, D_ARRAY);
    CU_ASSERT_TRUE(tok_is(&P, d->b->first, "4"));
    CU_ASSERT_TRUE(tok_is(&P, d->a->b->first, "3"));
    CU_ASSERT_TRUE(tok_is(&P, decl_name(d)->tok, "b"));
    d = declr_of(&P, 2);
    CU_ASSERT_EQUAL(d->kind, D_PTR);
    CU_ASSERT_EQUAL(d->a->kind, D_ARRAY);
    d = declr_of(&P, 3);
    CU_ASSERT_EQUAL(d->kind, D_ARRAY);
    CU_ASSERT_EQUAL(d->a->kind, D_PAREN);
    CU_ASSERT_EQUAL(d->a->a->kind, D_PTR);
    d = declr_of(&P, 4);
    CU_ASSERT_TRUE(decl_is_function(d));
    CU_ASSERT_EQUAL(count(decl_func(d)->b), 2);
    d = declr_of(&P, 5);
    CU_ASSERT_FALSE(decl_is_function(d));
    CU_ASSERT_PTR_NULL(decl_func(d));
    CU_ASSERT_TRUE(tok_is(&P, decl_name(d)->tok, "fp"));
    d = declr_of(&P, 6);
    CU_ASSERT_TRUE(decl_is_function(d));
    CU_ASSERT_TRUE(tok_is(&P, decl_name(d)->tok, "g"));
    node *fn = decl_func(d);
    CU_ASSERT_EQUAL(count(fn->b), 1);
    CU_ASSERT_TRUE(tok_is(&P, decl_name(fn->b->b)->tok, "x"));
    d = declr_of(&P, 7);
    CU_ASSERT_TRUE(decl_is_function(d));
    CU_ASSERT_TRUE(tok_is(&P, decl_name(d)->tok, "signal2"));
    CU_ASSERT_EQUAL(count(decl_func(d)->b), 2);
    /* the abstract declarator of the second parameter has no name */
    CU_ASSERT_PTR_NULL(decl_name(decl_func(d)->b->next->b));
    d = declr_of(&P, 8);
    CU_ASSERT_EQUAL(d->kind, D_PTR);
    CU_ASSERT_EQUAL(d->a->kind, D_PTR);
    CU_ASSERT_EQUAL(d->a->a->kind, D_PTR);
    CU_ASSERT_TRUE(tok_is(&P, decl_name(d)->tok, "q"));
    d = declr_of(&P, 9);
    CU_ASSERT_TRUE(decl_is_function(d));
    CU_ASSERT_TRUE(tok_is(&P, decl_name(d)->tok, "h"));
    d = declr_of(&P, 10);
    CU_ASSERT_TRUE(decl_is_function(d));
    CU_ASSERT_PTR_NULL(decl_func(d)->b);
    d = declr_of(&P, 11);
    CU_ASSERT_EQUAL(count(decl_func(d)->b), 2);
    CU_ASSERT_EQUAL(decl_func(d)->b->next->kind, D_PARAM);
    done(&P);
}

static void test_array_sizes_and_params(void)
{
    parsed P;
    parse_ok(&P, "void f(int n, int a[static 3], int b[const], "
                 "int c[restrict static n], int m[*], int (*k)[n]);\n"
                 "int g(int a[n + 1][2 * 3]);\n"
                 "void old(a, b);\n"
                 "int arr[] = {1, 2, 3};\n");
    node *fn = decl_func(declr_of(&P, 0));
    CU_ASSERT_EQUAL(count(fn->b), 6);
    done(&P);
}

static void test_initializers(void)
{
    parsed P;
    parse_ok(&P, "struct pt { int x, y; int a[10]; struct { int z; } in; };\n"
                 "struct pt p = { .x = 1, .y = 2, .a = { [0] = 1, "
                 "[2 ... 5] = 3, 9 }, .in.z = 4 };\n"
                 "struct pt q = { x: 1, y: 2 };\n"
                 "int e[2][2] = { {1, 2}, {3, 4}, };\n"
                 "char s[] = \"abc\" \"def\";\n"
                 "struct pt z = {};\n");
    node *p = nth(P.p.unit, 1);
    node *init = p->b->b;
    CU_ASSERT_EQUAL_FATAL(init->kind, E_INITLIST);
    CU_ASSERT_EQUAL(count(init->a), 4);
    CU_ASSERT_EQUAL(init->a->kind, E_DESIG);
    node *z = nth(P.p.unit, 5);
    CU_ASSERT_EQUAL(z->b->b->kind, E_INITLIST);
    CU_ASSERT_PTR_NULL(z->b->b->a);
    done(&P);
}

/* ---- expressions ------------------------------------------------------------ */

static void test_binary_precedence(void)
{
    expect_expr(PRE, "a + b * c", "(+ a (* b c))");
    expect_expr(PRE, "a * b + c", "(+ (* a b) c)");
    expect_expr(PRE, "a - b - c", "(- (- a b) c)");
    expect_expr(PRE, "a / b % c", "(% (/ a b) c)");
    expect_expr(PRE, "a << b + c", "(<< a (+ b c))");
    expect_expr(PRE, "a < b == c > d", "(== (< a b) (> c d))");
    expect_expr(PRE, "a | b ^ c & d", "(| a (^ b (& c d)))");
    expect_expr(PRE, "a == b & c", "(& (== a b) c)");
    expect_expr(PRE, "a || b && c", "(|| a (&& b c))");
    expect_expr(PRE, "a && b || c && d", "(|| (&& a b) (&& c d))");
    expect_expr(PRE, "a, b, c", "(, (, a b) c)");
    expect_expr(PRE, "(a + b) * c", "(* [(+ a b)] c)");
}

static void test_assignment_and_conditional(void)
{
    expect_expr(PRE, "a = b = c", "(= a (= b c))");
    expect_expr(PRE, "a += b -= c", "(+= a (-= b c))");
    expect_expr(PRE, "a = b + c", "(= a (+ b c))");
    expect_expr(PRE, "a ? b : c ? d : e", "(? a b (? c d e))");
    expect_expr(PRE, "a ? b ? c : d : e", "(? a (? b c d) e)");
    expect_expr(PRE, "a = b ? c : d", "(= a (? b c d))");
    expect_expr(PRE, "a || b ? c : d", "(? (|| a b) c d)");
    expect_expr(PRE, "a ? b, c : d", "(? a (, b c) d)");
    expect_expr(PRE, "a ?: b", "(? a _ b)");
    /* C, unlike C++: the right operand is a conditional-expression */
    expect_expr(PRE, "a ? b : c = d", "(= (? a b c) d)");
}

static void test_unary_and_postfix(void)
{
    expect_expr(PRE, "-a * b", "(* (- a) b)");
    expect_expr(PRE, "!a && ~b", "(&& (! a) (~ b))");
    expect_expr(PRE, "*p++", "(* (post++ p))");
    expect_expr(PRE, "++*p", "(++ (* p))");
    expect_expr(PRE, "&sv.m", "(& (member sv .m))");
    expect_expr(PRE, "sp->m[2]", "(index (member sp ->m) 2)");
    expect_expr(PRE, "f(a, b + c)(d)", "(call (call f a (+ b c)) d)");
    expect_expr(PRE, "g()", "(call g)");
    expect_expr(PRE, "- - a", "(- (- a))");
    expect_expr(PRE, "a---b", "(- (post-- a) b)");
    expect_expr(PRE, "__real__ a + __imag__ b",
                "(+ (__real__ a) (__imag__ b))");
}

static void test_casts_vs_parens(void)
{
    expect_expr(PRE, "(T)a", "(cast T a)");
    expect_expr(PRE, "(T)-a", "(cast T (- a))");
    expect_expr(PRE, "(a)-b", "(- [a] b)");
    expect_expr(PRE, "(a)(b)", "(call [a] b)");
    expect_expr(PRE, "(T)(b)", "(cast T [b])");
    expect_expr(PRE, "(T *)p + 1", "(+ (cast T * p) 1)");
    expect_expr(PRE, "(unsigned long)(T)a", "(cast unsigned long (cast T a))");
    expect_expr(PRE, "(struct s *)p", "(cast struct s * p)");
    expect_expr(PRE, "(int (*)(int))f", "(cast int ( * ) ( int ) f)");
    expect_expr(PRE, "(a) * b", "(* [a] b)");
    expect_expr(PRE, "(T) * p", "(cast T (* p))");
    expect_expr(PRE, "(T)a.m", "(cast T (member a .m))");
}

static void test_sizeof_forms(void)
{
    expect_expr(PRE, "sizeof(int)", "(sizeof-type int)");
    expect_expr(PRE, "sizeof a", "(sizeof a)");
    expect_expr(PRE, "sizeof(a)", "(sizeof [a])");
    expect_expr(PRE, "sizeof(T)", "(sizeof-type T)");
    expect_expr(PRE, "sizeof(T) * 2", "(* (sizeof-type T) 2)");
    expect_expr(PRE, "sizeof a + 1", "(+ (sizeof a) 1)");
    expect_expr(PRE, "sizeof(int[3])", "(sizeof-type int [ 3 ])");
    expect_expr(PRE, "sizeof(int (*)[3])", "(sizeof-type int ( * ) [ 3 ])");
    expect_expr(PRE, "sizeof sizeof a", "(sizeof (sizeof a))");
    expect_expr(PRE, "sizeof(struct s){1}.m",
                "(sizeof (member (complit struct s 1) .m))");
    expect_expr(PRE, "_Alignof(long)", "(_Alignof-type long)");
    expect_expr(PRE, "__alignof__ a", "(__alignof__ a)");
}

static void test_compound_literals(void)
{
    expect_expr(PRE, "(struct s){1}", "(complit struct s 1)");
    expect_expr(PRE, "(int[]){1, 2, 3}[1]", "(index (complit int [ ] 3) 1)");
    expect_expr(PRE, "(T){0}", "(complit T 1)");
    expect_expr(PRE, "(struct s){.m = 2}.m", "(member (complit struct s 1) .m)");
    expect_expr(PRE, "(int[2]){}", "(complit int [ 2 ] 0)");
    expect_expr(PRE, "(int[]){1, 2,}", "(complit int [ ] 2)");
}

static void test_statement_expressions(void)
{
    expect_expr(PRE, "a = ({ int y = b; y * 2; })", "(= a (stmtexpr 2))");
    expect_expr(PRE, "({ ; }) , ({ int q; ({ q; }); })",
                "(, (stmtexpr 1) (stmtexpr 2))");
}

static void test_generic_and_builtins(void)
{
    expect_expr(PRE, "_Generic(a, int: 1, T *: 2, default: 3)",
                "(generic a 3)");
    expect_expr(PRE, "_Generic((a), struct s: b)", "(generic [a] 1)");
    expect_expr(PRE "struct o { int x; struct { int y[4]; } in; };",
                "__builtin_offsetof(struct o, in.y[2]) + 1",
                "(+ (__builtin_offsetof) 1)");
    expect_expr(PRE "__builtin_va_list ap;", "a = __builtin_va_arg(ap, int *)",
                "(= a (__builtin_va_arg))");
    expect_expr(PRE, "__builtin_types_compatible_p(T, int)",
                "(__builtin_types_compatible_p)");
    expect_expr(PRE, "__extension__ (a + b)", "[(+ a b)]");
}

static void test_await_is_unary(void)
{
    expect_expr(PRE, "await g() + 1", "(+ (await (call g)) 1)");
    expect_expr(PRE, "1 + await g()", "(+ 1 (await (call g)))");
    expect_expr(PRE, "await f(a) * await g()",
                "(* (await (call f a)) (await (call g)))");
    expect_expr(PRE, "a = await g()", "(= a (await (call g)))");
    expect_expr(PRE, "-await g()", "(- (await (call g)))");
    expect_expr(PRE, "!await g() && b", "(&& (! (await (call g))) b)");
    expect_expr(PRE, "await sp->m", "(await (member sp ->m))");
    expect_expr(PRE, "await p[1]", "(await (index p 1))");
    expect_expr(PRE, "await await g()", "(await (await (call g)))");
    expect_expr(PRE, "await (T)a", "(await (cast T a))");
    expect_expr(PRE, "a ? await f(1) : await g()",
                "(? a (await (call f 1)) (await (call g)))");
    expect_expr(PRE, "f(await g(), await g())",
                "(call f (await (call g)) (await (call g)))");
    expect_expr(PRE, "sizeof await g()", "(sizeof (await (call g)))");
}

static void test_await_flags_in_ast(void)
{
    parsed P;
    parse_ok(&P, "async int g(void);\n"
                 "async int f(void) { int x = await g(); return x; }\n");
    node *items = last_body(&P);
    CU_ASSERT_EQUAL_FATAL(items->kind, S_DECL);
    node *init = items->b->b;
    CU_ASSERT_EQUAL(init->kind, E_AWAIT);
    CU_ASSERT_EQUAL(init->op, TK_AWAIT);
    CU_ASSERT_EQUAL(init->a->kind, E_CALL);
    done(&P);
}

/* ---- statements ------------------------------------------------------------- */

static void test_dangling_else(void)
{
    parsed P;
    parse_ok(&P, "int a, b, x, y;\n"
                 "void f(void) { if (a) if (b) x = 1; else y = 2; }");
    node *s = last_body(&P);
    CU_ASSERT_EQUAL_FATAL(s->kind, S_IF);
    CU_ASSERT_PTR_NULL(s->c); /* the outer if has no else */
    CU_ASSERT_EQUAL_FATAL(s->b->kind, S_IF);
    CU_ASSERT_PTR_NOT_NULL(s->b->c); /* the inner one has it */
    CU_ASSERT_EQUAL(s->b->c->kind, S_EXPR);
    done(&P);
    parse_ok(&P, "int a, b;\n"
                 "void f(void) { if (a) { } else if (b) ; else { a = 1; } }");
    s = last_body(&P);
    CU_ASSERT_EQUAL_FATAL(s->kind, S_IF);
    CU_ASSERT_EQUAL_FATAL(s->c->kind, S_IF);
    CU_ASSERT_EQUAL(s->c->c->kind, S_BLOCK);
    done(&P);
}

static void test_loops(void)
{
    parsed P;
    parse_ok(&P, "int a, i;\n"
                 "void f(void) {\n"
                 "  while (a) a--;\n"
                 "  do { a++; } while (a < 10);\n"
                 "  for (i = 0; i < 3; i++) continue;\n"
                 "  for (int j = 0, k = 1; j < k; j++, k--) { break; }\n"
                 "  for (;;) break;\n"
                 "  for (struct { int n; } s = {0}; s.n < 2; s.n++) ;\n"
                 "}");
    node *s = last_body(&P);
    CU_ASSERT_EQUAL_FATAL(count(s), 6);
    CU_ASSERT_EQUAL(s->kind, S_WHILE);
    CU_ASSERT_EQUAL(s->a->kind, E_IDENT);
    CU_ASSERT_EQUAL(s->b->kind, S_EXPR);
    node *d = s->next;
    CU_ASSERT_EQUAL(d->kind, S_DO);
    CU_ASSERT_EQUAL(d->a->kind, S_BLOCK);
    CU_ASSERT_EQUAL(d->b->kind, E_BINARY);
    node *f1 = nth(s, 2);
    CU_ASSERT_EQUAL(f1->kind, S_FOR);
    CU_ASSERT_EQUAL(f1->a->kind, S_EXPR);
    CU_ASSERT_EQUAL(f1->b->kind, E_BINARY);
    CU_ASSERT_EQUAL(f1->c->kind, E_POSTFIX);
    CU_ASSERT_EQUAL(f1->d->kind, S_CONTINUE);
    node *f2 = nth(s, 3);
    CU_ASSERT_EQUAL(f2->a->kind, S_DECL);
    CU_ASSERT_EQUAL(count(f2->a->b), 2);
    CU_ASSERT_EQUAL(f2->c->kind, E_COMMA);
    node *f3 = nth(s, 4);
    CU_ASSERT_PTR_NULL(f3->a);
    CU_ASSERT_PTR_NULL(f3->b);
    CU_ASSERT_PTR_NULL(f3->c);
    CU_ASSERT_EQUAL(f3->d->kind, S_BREAK);
    done(&P);
}

static void test_switch_labels_goto(void)
{
    parsed P;
    parse_ok(&P, "int a;\n"
                 "void f(void) {\n"
                 "  switch (a) {\n"
                 "  case 1: a = 2; break;\n"
                 "  case 2 ... 5: case 'x': a = 3; /* fall through */\n"
                 "  default: ;\n"
                 "  }\n"
                 "  again: if (a) goto again;\n"
                 "  void *tgt = &&again;\n"
                 "  goto *tgt;\n"
                 "  { __label__ l1, l2; l1: l2: ; }\n"
                 "  return;\n"
                 "}");
    node *s = last_body(&P);
    CU_ASSERT_EQUAL_FATAL(count(s), 6);
    CU_ASSERT_EQUAL(s->kind, S_SWITCH);
    node *cases = s->b->a;
    CU_ASSERT_EQUAL_FATAL(cases->kind, S_CASE);
    CU_ASSERT_PTR_NULL(cases->c);
    node *range = nth(cases, 2);
    CU_ASSERT_EQUAL_FATAL(range->kind, S_CASE);
    CU_ASSERT_PTR_NOT_NULL(range->c); /* 2 ... 5 */
    CU_ASSERT_TRUE(tok_is(&P, range->c->first, "5"));
    CU_ASSERT_EQUAL(range->b->kind, S_CASE); /* case 'x' nested */
    CU_ASSERT_EQUAL(nth(cases, 3)->kind, S_DEFAULT);
    node *lab = s->next;
    CU_ASSERT_EQUAL(lab->kind, S_LABEL);
    CU_ASSERT_TRUE(tok_is(&P, lab->first, "again"));
    CU_ASSERT_EQUAL(lab->a->kind, S_IF);
    CU_ASSERT_EQUAL(lab->a->b->kind, S_GOTO);
    CU_ASSERT_TRUE(tok_is(&P, lab->a->b->tok, "again"));
    node *decl = nth(s, 2);
    CU_ASSERT_EQUAL(decl->b->b->kind, E_LABELADDR);
    node *cg = nth(s, 3);
    CU_ASSERT_EQUAL(cg->kind, S_GOTO);
    CU_ASSERT_PTR_NOT_NULL(cg->a); /* computed */
    CU_ASSERT_EQUAL(nth(s, 4)->a->kind, S_LOCALLABEL);
    CU_ASSERT_EQUAL(nth(s, 5)->kind, S_RETURN);
    CU_ASSERT_PTR_NULL(nth(s, 5)->a);
    done(&P);
}

static void test_asm_and_static_assert(void)
{
    parsed P;
    parse_ok(&P, "__asm__(\".globl x\");\n"
                 "extern int ren(int) __asm__(\"renamed\");\n"
                 "_Static_assert(sizeof(int) == 4, \"int\");\n"
                 "static_assert(1, \"ok\");\n"
                 "struct sa { int a; _Static_assert(1, \"in struct\"); };\n"
                 "void f(void) {\n"
                 "  __asm__ volatile(\"nop\" ::: \"memory\");\n"
                 "  asm goto(\"jmp %l0\" :::: out);\n"
                 "  _Static_assert(1, \"in block\");\n"
                 "out: ;\n"
                 "}\n");
    CU_ASSERT_EQUAL(P.p.unit->kind, S_ASM);
    CU_ASSERT_EQUAL(nth(P.p.unit, 1)->kind, S_DECL);
    CU_ASSERT_EQUAL(nth(P.p.unit, 2)->kind, S_STATICASSERT);
    node *s = last_body(&P);
    CU_ASSERT_EQUAL(s->kind, S_ASM);
    CU_ASSERT_EQUAL(s->next->kind, S_ASM);
    CU_ASSERT_EQUAL(nth(s, 2)->kind, S_STATICASSERT);
    done(&P);
}

static void test_gnu_attributes(void)
{
    parsed P;
    parse_ok(&P,
        "__attribute__((unused)) static int a1 __attribute__((aligned(8))) "
        "= 1;\n"
        "int __attribute__((weak)) a2;\n"
        "void die(const char *, ...) __attribute__((noreturn, "
        "format(printf, 1, 2)));\n"
        "struct __attribute__((packed)) ps { char c; int i "
        "__attribute__((aligned(4))); } __attribute__((packed));\n"
        "typedef int v4 __attribute__((vector_size(16)));\n"
        "enum __attribute__((packed)) en { E1 __attribute__((deprecated)), "
        "E2 };\n"
        "int *__attribute__((aligned)) ap;\n"
        "static inline __attribute__((always_inline)) int inl(int x "
        "__attribute__((unused)), int __attribute__((unused)) y) "
        "{ return 0; }\n"
        "__attribute__((constructor)) static void ctor(void) {}\n"
        "void fn(void) {\n"
        "  int v __attribute__((cleanup(fn2))) = 0;\n"
        "  __attribute__((unused)) int w;\n"
        "  switch (v) { case 0: v++; __attribute__((fallthrough)); "
        "default: ; }\n"
        "  lab: __attribute__((unused));\n"
        "  __extension__ ({ 1; });\n"
        "  __extension__ long long ll = 0;\n"
        "}\n"
        "__extension__ typedef struct { long long q; } ext_t;\n");
    CU_ASSERT_EQUAL(count(P.p.unit), 11);
    node *a1 = P.p.unit;
    CU_ASSERT_TRUE(a1->a->spec & SP_STATIC);
    CU_ASSERT_TRUE(tok_is(&P, decl_name(a1->b->a)->tok, "a1"));
    /* the hidden tokens stay in the array, marked */
    CU_ASSERT_TRUE(P.s.toks[0].flags & TF_HIDDEN);
    done(&P);
}

static void test_struct_union_enum(void)
{
    parsed P;
    parse_ok(&P, "struct bits { unsigned a : 3, b : 5; int : 0; "
                 "signed c : 1; };\n"
                 "struct outer { int x; union { int i; float f; }; "
                 "struct { int y, z; }; struct inner { int w; } in; "
                 "char flex[]; };\n"
                 "union u { int a; struct bits b; };\n"
                 "enum color { RED, GREEN = 5, BLUE, };\n"
                 "enum { A = 1 << 2, B = A | 1 } anon_e;\n"
                 "struct fwd; struct fwd *fp;\n"
                 "struct empty { };\n");
    node *bits = P.p.unit->a->a;
    CU_ASSERT_EQUAL_FATAL(bits->kind, D_STRUCT);
    CU_ASSERT_EQUAL(bits->op, TK_STRUCT);
    CU_ASSERT_TRUE(tok_is(&P, bits->tok, "bits"));
    CU_ASSERT_EQUAL_FATAL(count(bits->a), 3);
    node *m0 = bits->a;
    CU_ASSERT_EQUAL(m0->kind, D_MEMBER);
    CU_ASSERT_EQUAL(count(m0->b), 2);
    CU_ASSERT_PTR_NOT_NULL(m0->b->c); /* the width */
    CU_ASSERT_TRUE(tok_is(&P, m0->b->c->first, "3"));
    CU_ASSERT_PTR_NULL(decl_name(m0->b->next->next)); /* no third */
    node *m1 = m0->next; /* int : 0; unnamed */
    CU_ASSERT_PTR_NOT_NULL(m1->b);
    CU_ASSERT_PTR_NULL(decl_name(m1->b));
    node *outer = nth(P.p.unit, 1)->a->a;
    CU_ASSERT_EQUAL(count(outer->a), 5);
    node *anon_u = nth(outer->a, 1);
    CU_ASSERT_PTR_NULL(anon_u->b); /* an anonymous member */
    CU_ASSERT_EQUAL(anon_u->a->a->kind, D_STRUCT);
    CU_ASSERT_EQUAL(anon_u->a->a->op, TK_UNION);
    node *en = nth(P.p.unit, 3)->a->a;
    CU_ASSERT_EQUAL_FATAL(en->kind, D_ENUM);
    CU_ASSERT_EQUAL(count(en->a), 3);
    CU_ASSERT_EQUAL(en->a->kind, D_ENUMERATOR);
    CU_ASSERT_PTR_NOT_NULL(en->a->next->a); /* = 5 */
    CU_ASSERT_TRUE(nth(P.p.unit, 3)->a->spec & SP_INTEGER);
    done(&P);
}

static void test_function_definitions(void)
{
    parsed P;
    parse_ok(&P, "int (*getfn(void))(int) { return 0; }\n"
                 "static int *arr(int n, int a[n]) { return a; }\n"
                 "void vf(int n, ...) { }\n"
                 "async void av(void) { }\n"
                 "struct r { int a; } mk(void) { struct r x = {1}; "
                 "return x; }\n");
    CU_ASSERT_EQUAL_FATAL(count(P.p.unit), 5);
    for (int i = 0; i < 5; i++)
        CU_ASSERT_EQUAL(nth(P.p.unit, i)->kind, D_FUNCDEF);
    CU_ASSERT_TRUE(tok_is(&P, decl_name(nth(P.p.unit, 0)->b)->tok,
                          "getfn"));
    CU_ASSERT_TRUE(nth(P.p.unit, 3)->a->spec & SP_ASYNC);
    done(&P);
}

/* ---- errors and recovery ------------------------------------------------------ */

static void test_syntax_error_reported(void)
{
    parsed P;
    parse(&P, "int f(void) {\n  int a = 1\n  return a;\n}\n");
    CU_ASSERT_EQUAL(P.parse_rc, -1);
    CU_ASSERT_EQUAL(P.s.errors, 1);
    CU_ASSERT_STRING_EQUAL(P.diag, "test.acx:3:1: error: expected ';' "
                                   "before 'return'\n");
    done(&P);
    parse(&P, "int x = (1 + 2;\n");
    CU_ASSERT(P.s.errors > 0);
    CU_ASSERT_PTR_NOT_NULL(strstr(P.diag, "expected ')' before ';'"));
    done(&P);
    parse(&P, "int y = 3 +;\n");
    CU_ASSERT(P.s.errors > 0);
    CU_ASSERT_PTR_NOT_NULL(strstr(P.diag, "expected expression before ';'"));
    done(&P);
}

static void test_end_of_input_errors(void)
{
    parsed P;
    parse(&P, "void f(void) {\n  if (1) {\n");
    CU_ASSERT_EQUAL(P.parse_rc, -1);
    CU_ASSERT(P.s.errors > 0);
    CU_ASSERT_PTR_NOT_NULL(strstr(P.diag, "at end of input"));
    done(&P);
    parse(&P, "int x");
    CU_ASSERT(P.s.errors > 0);
    CU_ASSERT_PTR_NOT_NULL(strstr(P.diag, "at end of input"));
    done(&P);
}

static void test_stray_braces(void)
{
    parsed P;
    parse(&P, "}\nint a;\n}}\nint b;\n");
    CU_ASSERT_EQUAL(P.parse_rc, -1);
    CU_ASSERT(P.s.errors > 0);
    done(&P);
    parse(&P, "void f(void) { } }\nint g(void) { return 0; }\n");
    CU_ASSERT(P.s.errors > 0);
    done(&P);
    parse(&P, "{{{{{{ ;;; ))) ]]] int");
    CU_ASSERT(P.s.errors > 0);
    done(&P);
}

static void test_recovery_reports_several_errors(void)
{
    parsed P;
    parse(&P, "void f(void) {\n"
              "  int a = ;\n"
              "  a = 1 2;\n"
              "  a = (3;\n"
              "}\n"
              "int g(void) { return * ; }\n"
              "int ok(void) { return 1; }\n");
    CU_ASSERT_EQUAL(P.parse_rc, -1);
    if (P.s.errors < 3)
        fprintf(stderr, "\n  only %d errors:\n%s", P.s.errors, P.diag);
    CU_ASSERT(P.s.errors >= 3);
    /* each line's error is reported on its own line */
    CU_ASSERT_PTR_NOT_NULL(strstr(P.diag, "test.acx:2:"));
    CU_ASSERT_PTR_NOT_NULL(strstr(P.diag, "test.acx:3:"));
    CU_ASSERT_PTR_NOT_NULL(strstr(P.diag, "test.acx:6:"));
    done(&P);
}

static void test_error_in_expression_recovers_at_semicolon(void)
{
    parsed P;
    parse(&P, "int a;\nint b = ) ;\nint c;\nint d = ];\nint e;\n");
    CU_ASSERT_EQUAL(P.s.errors, 2);
    /* the good declarations around the errors are still in the unit */
    int decls = 0;
    for (node *n = P.p.unit; n; n = n->next)
        decls += n->kind == S_DECL;
    CU_ASSERT_EQUAL(decls, 3);
    done(&P);
}

static void test_max_errors_and_garbage(void)
{
    /* a thousand bad statements: no crash, each one counted (lemon, like
     * bison, stays quiet until three tokens shifted after an error, so
     * each line has three good tokens before its error) */
    size_t n = 1000;
    char *text = malloc(n * 16 + 64);
    CU_ASSERT_PTR_NOT_NULL_FATAL(text);
    size_t len = (size_t)sprintf(text, "int a; void f(void) {\n");
    for (size_t i = 0; i < n; i++)
        len += (size_t)sprintf(text + len, "  a = 1 2 ) ;\n");
    len += (size_t)sprintf(text + len, "}\n");
    parsed P;
    memset(&P, 0, sizeof P);
    parse_n(&P, text, len);
    CU_ASSERT_EQUAL(P.s.errors, (int)n);
    done(&P);
    /* tokens in a bad order, many times */
    static const char *const bits[] = {"(", ")", "{", "}", "[", "]", ";",
                                       "int", "x", "*", ",", "=", "if",
                                       "else", "await", "async", "struct",
                                       ":", "?", "1", "typedef", "...",
                                       "case", "sizeof", "\"s\"", "."};
    uint32_t r = 42;
    len = 0;
    for (int i = 0; i < 20000; i++) {
        r = r * 1103515245u + 12345u;
        len += (size_t)sprintf(text + len, "%s ",
                               bits[(r >> 16) % (sizeof bits /
                                                 sizeof bits[0])]);
        if (len > n * 16)
            break;
    }
    parse_n(&P, text, len);
    CU_ASSERT(P.s.errors > 0);
    done(&P);
    free(text);
}

/* ---- big inputs -------------------------------------------------------------- */

static char *repeat3(const char *pre, const char *open, int n,
                     const char *mid, const char *close, const char *post,
                     size_t *len)
{
    size_t cap = strlen(pre) + n * (strlen(open) + strlen(close)) +
                 strlen(mid) + strlen(post) + 1;
    char *t = malloc(cap);
    if (!t)
        return NULL;
    size_t k = 0;
    k += (size_t)sprintf(t + k, "%s", pre);
    for (int i = 0; i < n; i++)
        k += (size_t)sprintf(t + k, "%s", open);
    k += (size_t)sprintf(t + k, "%s", mid);
    for (int i = 0; i < n; i++)
        k += (size_t)sprintf(t + k, "%s", close);
    k += (size_t)sprintf(t + k, "%s", post);
    *len = k;
    return t;
}

/* Deep nesting parses, or is refused with "nesting too deep"; never a
 * crash. */
static void deep(const char *pre, const char *open, const char *mid,
                 const char *close, const char *post)
{
    size_t len = 0;
    char *t = repeat3(pre, open, 10000, mid, close, post, &len);
    CU_ASSERT_PTR_NOT_NULL_FATAL(t);
    parsed P;
    parse_n(&P, t, len);
    if (P.s.errors) {
        CU_ASSERT_PTR_NOT_NULL(strstr(P.diag, "nesting too deep"));
    }
    CU_ASSERT_PTR_NOT_NULL(P.p.unit);
    done(&P);
    free(t);
}

static void test_deep_parentheses(void)
{
    deep("int x = ", "(", "1", ")", ";\n");
    deep("void f(void) { int y = ", "(", "0", ")", "; }\n");
    deep("int *p; void f(void) { ", "(", "*p", ")", " = 1; }\n");
}

static void test_deep_nesting_other(void)
{
    deep("void f(void) ", "{", ";", "}", "\n");
    deep("int a; void f(void) { a = ", "-", "a", "", "; }\n");
    deep("int a; void f(void) { ", "if (a) ", ";", "", " }\n");
    deep("int a; int x = ", "a ? ", "1", " : 2", ";\n");
    deep("int ", "*", "p", "", ";\n");
    deep("int ", "(", "q", ")", ";\n");
    deep("int x[] = ", "{", "1", "}", ";\n");
}

static void test_ten_megabyte_line(void)
{
    /* one 10 MB line: a function whose body is 1+1+...+1 */
    const char *head = "int f(void) { return ";
    const char *tail = "1; }";
    size_t n = 10u << 20;
    char *t = malloc(n + 1);
    CU_ASSERT_PTR_NOT_NULL_FATAL(t);
    size_t k = (size_t)sprintf(t, "%s", head);
    while (k + 2 + strlen(tail) < n) {
        t[k++] = '1';
        t[k++] = '+';
    }
    k += (size_t)sprintf(t + k, "%s", tail);
    parsed P;
    parse_n(&P, t, k);
    CU_ASSERT_EQUAL(P.s.errors, 0);
    CU_ASSERT_EQUAL(count(P.p.unit), 1);
    done(&P);
    /* and a 10 MB line of declarations */
    k = 0;
    for (int i = 0; k + 32 < n; i++)
        k += (size_t)sprintf(t + k, "int v%d = %d; ", i, i);
    parse_n(&P, t, k);
    CU_ASSERT_EQUAL(P.s.errors, 0);
    CU_ASSERT(count(P.p.unit) > 400000);
    done(&P);
    free(t);
}

/* ---- real headers ------------------------------------------------------------ */

static void test_glibc_headers(void)
{
    const char *cmd =
        "printf '%s\\n' '#include <stdio.h>' '#include <stdlib.h>' "
        "'#include <string.h>' '#include <pthread.h>' "
        "'#include <sys/socket.h>' '#include <netinet/in.h>' "
        "'#include <math.h>' '#include <signal.h>' "
        "'#include <stdatomic.h>' '#include <errno.h>' '#include <time.h>' "
        "'#include <unistd.h>' '#include <fcntl.h>' '#include <stdint.h>' "
        "'#include <stddef.h>' '#include <stdarg.h>' '#include <ctype.h>' "
        "'#include <sys/epoll.h>' '#include <arpa/inet.h>' "
        "'#include <netdb.h>' '#include <sys/stat.h>' "
        "'#include <sys/wait.h>' '#include <setjmp.h>' "
        "'#include <complex.h>' '#include <wchar.h>' "
        "'#include <inttypes.h>' "
        "| ${CC:-cc} -E -x c -std=gnu11 -D_GNU_SOURCE - 2>/dev/null";
    FILE *f = popen(cmd, "r");
    CU_ASSERT_PTR_NOT_NULL_FATAL(f);
    size_t cap = 1 << 20, len = 0;
    char *buf = malloc(cap);
    CU_ASSERT_PTR_NOT_NULL_FATAL(buf);
    size_t r;
    while ((r = fread(buf + len, 1, cap - len - 1, f)) > 0) {
        len += r;
        if (len + 1 == cap) {
            char *b = realloc(buf, cap *= 2);
            CU_ASSERT_PTR_NOT_NULL_FATAL(b);
            buf = b;
        }
    }
    int st = pclose(f);
    CU_ASSERT_EQUAL(st, 0);
    CU_ASSERT(len > 10000);
    parsed P;
    parse_n(&P, buf, len);
    if (P.s.errors)
        fprintf(stderr, "\n  system headers gave %d errors:\n%.2000s\n",
                P.s.errors, P.diag);
    CU_ASSERT_EQUAL(P.s.errors, 0);
    CU_ASSERT(count(P.p.unit) > 1000);
    /* their files are marked as system headers */
    int sys = 0;
    for (int i = 0; i < P.s.nfiles; i++)
        sys += P.s.sysfile[i];
    CU_ASSERT(sys > 5);
    done(&P);
    free(buf);
}

int acx_test_add_parser(void)
{
    CU_pSuite s = CU_add_suite("parser", NULL, NULL);
    if (!s)
        return -1;
    static const struct { const char *name; void (*fn)(void); } tests[] = {
        {"empty unit", test_empty_unit},
        {"external declarations", test_external_declarations},
        {"specifier flags", test_specifier_flags},
        {"other specifiers", test_other_specifiers},
        {"typedef names", test_typedef_names},
        {"a typedef is usable at once", test_typedef_used_at_once},
        {"T * p; is a declaration", test_typedef_star_is_declaration},
        {"a local hides a typedef", test_typedef_shadowed_by_local},
        {"typedef scopes, members, tags, labels",
         test_typedef_scopes_and_members},
        {"a label named like a typedef", test_label_named_like_typedef},
        {"an enumerator hides a typedef", test_enumerator_shadows_typedef},
        {"declarators", test_declarators},
        {"array sizes and parameters", test_array_sizes_and_params},
        {"initializers", test_initializers},
        {"binary precedence", test_binary_precedence},
        {"assignment and conditional", test_assignment_and_conditional},
        {"unary and postfix", test_unary_and_postfix},
        {"casts vs parentheses", test_casts_vs_parens},
        {"sizeof forms", test_sizeof_forms},
        {"compound literals", test_compound_literals},
        {"statement expressions", test_statement_expressions},
        {"_Generic and builtins", test_generic_and_builtins},
        {"await is unary", test_await_is_unary},
        {"await in the AST", test_await_flags_in_ast},
        {"dangling else", test_dangling_else},
        {"loops", test_loops},
        {"switch, labels, goto", test_switch_labels_goto},
        {"asm and static assertions", test_asm_and_static_assert},
        {"GNU attributes", test_gnu_attributes},
        {"struct, union, enum", test_struct_union_enum},
        {"function definitions", test_function_definitions},
        {"syntax error reported", test_syntax_error_reported},
        {"end of input errors", test_end_of_input_errors},
        {"stray braces", test_stray_braces},
        {"recovery: several errors", test_recovery_reports_several_errors},
        {"recovery at ';'", test_error_in_expression_recovers_at_semicolon},
        {"many errors and garbage", test_max_errors_and_garbage},
        {"10,000 nested parentheses", test_deep_parentheses},
        {"10,000-deep nesting of other kinds", test_deep_nesting_other},
        {"a 10 MB line", test_ten_megabyte_line},
        {"glibc headers", test_glibc_headers},
    };
    for (size_t i = 0; i < sizeof tests / sizeof tests[0]; i++)
        if (!CU_add_test(s, tests[i].name, tests[i].fn))
            return -1;
    return 0;
}
