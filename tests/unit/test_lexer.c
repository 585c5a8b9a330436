/* test_lexer.c - the "lexer" suite: lex_run on strings, token by token.
 *
 * Each test fills an acx_src with a malloc'd copy of its text (as acxc's
 * driver does with cpp's output) and checks kinds, lengths, lines and
 * files of the tokens, or that bad input is reported without a crash.
 * Diagnostics go to a tmpfile() that the error tests read back.
 */
#include <CUnit/Basic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "front.h"
#include "parser.h"
#include "suites.h"

/* The keyword S lexes as (KIND is what the caller expects; unused). */
static int keyword_of(const char *s, int kind)
{
    (void)kind;
    return lex_keyword(s, strlen(s));
}

static void test_lex_keyword_defined(void)
{
    CU_ASSERT_EQUAL(lex_keyword("while", 5), TK_WHILE);
    CU_ASSERT_EQUAL(lex_keyword("whilex", 5), TK_WHILE); /* length counts */
    CU_ASSERT_EQUAL(lex_keyword("whilex", 6), 0);
    CU_ASSERT_EQUAL(lex_keyword("__asm__", 7), TK_ASM);
    CU_ASSERT_EQUAL(lex_keyword("await", 5), TK_AWAIT);
    CU_ASSERT_EQUAL(lex_keyword("wait", 4), 0);
    CU_ASSERT_EQUAL(lex_keyword("", 0), 0);
}

/* ---- helpers -------------------------------------------------------------- */

typedef struct lexed {
    acx_src s;
    int rc;
    char diag[2048]; /* what the lexer reported */
} lexed;

static void lex_n(lexed *L, const char *text, size_t n)
{
    memset(L, 0, sizeof *L);
    L->s.path = "test.acx";
    L->s.buf = malloc(n + 1);
    CU_ASSERT_PTR_NOT_NULL_FATAL(L->s.buf);
    memcpy(L->s.buf, text, n);
    L->s.buf[n] = 0;
    L->s.len = n;
    L->s.err = tmpfile();
    CU_ASSERT_PTR_NOT_NULL_FATAL(L->s.err);
    L->rc = lex_run(&L->s);
    rewind(L->s.err);
    size_t got = fread(L->diag, 1, sizeof L->diag - 1, L->s.err);
    L->diag[got] = 0;
}

static void lex(lexed *L, const char *text)
{
    lex_n(L, text, strlen(text));
}

static void done(lexed *L)
{
    fclose(L->s.err);
    src_free(&L->s);
}

/* The text of token I (static buffer). */
static const char *text_of(lexed *L, uint32_t i)
{
    static char buf[256];
    size_t n = L->s.toks[i].len < sizeof buf - 1 ? L->s.toks[i].len
                                                 : sizeof buf - 1;
    memcpy(buf, L->s.buf + L->s.toks[i].off, n);
    buf[n] = 0;
    return buf;
}

/* TEXT lexes cleanly into exactly the kinds in WANT (0-terminated). */
static void expect_kinds(const char *text, const int *want)
{
    lexed L;
    lex(&L, text);
    CU_ASSERT_EQUAL(L.rc, 0);
    CU_ASSERT_EQUAL(L.s.errors, 0);
    uint32_t n = 0;
    while (want[n])
        n++;
    CU_ASSERT_EQUAL(L.s.ntoks, n);
    for (uint32_t i = 0; i < n && i < L.s.ntoks; i++) {
        if (L.s.toks[i].kind != want[i]) {
            fprintf(stderr, "\n  %s: token %u '%s' has kind %d, want %d\n",
                    text, i, text_of(&L, i), L.s.toks[i].kind, want[i]);
            CU_FAIL("token kind differs");
        }
    }
    done(&L);
}

/* TEXT is exactly one token of KIND spanning all of it. */
static void expect_one(const char *text, int kind)
{
    lexed L;
    lex(&L, text);
    CU_ASSERT_EQUAL(L.rc, 0);
    CU_ASSERT_EQUAL(L.s.ntoks, 1);
    if (L.s.ntoks == 1) {
        if (L.s.toks[0].kind != kind) {
            fprintf(stderr, "\n  '%s' has kind %d, want %d\n", text,
                    L.s.toks[0].kind, kind);
            CU_FAIL("token kind differs");
        }
        CU_ASSERT_EQUAL(L.s.toks[0].off, 0);
        CU_ASSERT_EQUAL(L.s.toks[0].len, strlen(text));
    } else {
        fprintf(stderr, "\n  '%s' gave %u tokens\n", text, L.s.ntoks);
    }
    done(&L);
}

/* TEXT is reported as an error whose message contains MSG. */
static void expect_error(const char *text, size_t n, const char *msg)
{
    lexed L;
    lex_n(&L, text, n);
    CU_ASSERT_EQUAL(L.rc, -1);
    CU_ASSERT(L.s.errors > 0);
    if (msg && !strstr(L.diag, msg)) {
        fprintf(stderr, "\n  diagnostics '%s' lack '%s'\n", L.diag, msg);
        CU_FAIL("diagnostic message");
    }
    done(&L);
}

/* ---- keywords --------------------------------------------------------------- */

static void test_c_keywords(void)
{
    static const struct { const char *s; int k; } kw[] = {
        {"auto", TK_AUTO}, {"break", TK_BREAK}, {"case", TK_CASE},
        {"char", TK_CHAR}, {"const", TK_CONST}, {"continue", TK_CONTINUE},
        {"default", TK_DEFAULT}, {"do", TK_DO}, {"double", TK_DOUBLE},
        {"else", TK_ELSE}, {"enum", TK_ENUM}, {"extern", TK_EXTERN},
        {"float", TK_FLOAT}, {"for", TK_FOR}, {"goto", TK_GOTO},
        {"if", TK_IF}, {"inline", TK_INLINE}, {"int", TK_INT},
        {"long", TK_LONG}, {"register", TK_REGISTER},
        {"restrict", TK_RESTRICT}, {"return", TK_RETURN},
        {"short", TK_SHORT}, {"signed", TK_SIGNED}, {"sizeof", TK_SIZEOF},
        {"static", TK_STATIC}, {"struct", TK_STRUCT}, {"switch", TK_SWITCH},
        {"typedef", TK_TYPEDEF}, {"union", TK_UNION},
        {"unsigned", TK_UNSIGNED}, {"void", TK_VOID},
        {"volatile", TK_VOLATILE}, {"while", TK_WHILE},
        {"_Alignas", TK_ALIGNAS}, {"_Alignof", TK_ALIGNOF},
        {"_Atomic", TK_ATOMIC}, {"_Bool", TK_BOOL}, {"_Complex", TK_COMPLEX},
        {"_Imaginary", TK_IMAGINARY}, {"_Generic", TK_GENERIC},
        {"_Noreturn", TK_NORETURN}, {"_Static_assert", TK_STATIC_ASSERT},
        {"static_assert", TK_STATIC_ASSERT},
        {"_Thread_local", TK_THREAD_LOCAL},
    };
    for (size_t i = 0; i < sizeof kw / sizeof kw[0]; i++) {
        expect_one(kw[i].s, kw[i].k);
        CU_ASSERT_EQUAL(keyword_of(kw[i].s, kw[i].k), kw[i].k);
    }
}

static void test_gnu_spellings(void)
{
    static const struct { const char *s; int k; } kw[] = {
        {"__inline", TK_INLINE}, {"__inline__", TK_INLINE},
        {"__restrict", TK_RESTRICT}, {"__restrict__", TK_RESTRICT},
        {"__const", TK_CONST}, {"__const__", TK_CONST},
        {"__signed", TK_SIGNED}, {"__signed__", TK_SIGNED},
        {"__volatile", TK_VOLATILE}, {"__volatile__", TK_VOLATILE},
        {"__alignof", TK_ALIGNOF}, {"__alignof__", TK_ALIGNOF},
        {"__complex", TK_COMPLEX}, {"__complex__", TK_COMPLEX},
        {"__thread", TK_THREAD_LOCAL},
        {"__attribute__", TK_ATTRIBUTE}, {"__attribute", TK_ATTRIBUTE},
        {"__extension__", TK_EXTENSION},
        {"typeof", TK_TYPEOF}, {"__typeof", TK_TYPEOF},
        {"__typeof__", TK_TYPEOF},
        {"asm", TK_ASM}, {"__asm", TK_ASM}, {"__asm__", TK_ASM},
        {"__builtin_va_arg", TK_BUILTIN_VA_ARG},
        {"__builtin_offsetof", TK_BUILTIN_OFFSETOF},
        {"__builtin_types_compatible_p", TK_BUILTIN_TYPES_COMPAT},
        {"__real__", TK_REAL}, {"__real", TK_REAL},
        {"__imag__", TK_IMAG}, {"__imag", TK_IMAG},
        {"__label__", TK_LOCAL_LABEL}, {"__auto_type", TK_AUTO_TYPE},
        {"__int128", TK_INT128}, {"__int128_t", TK_INT128},
        {"__uint128_t", TK_INT128},
    };
    for (size_t i = 0; i < sizeof kw / sizeof kw[0]; i++) {
        expect_one(kw[i].s, kw[i].k);
        CU_ASSERT_EQUAL(keyword_of(kw[i].s, kw[i].k), kw[i].k);
    }
}

static void test_builtin_types(void)
{
    static const char *const bt[] = {
        "_Float32", "_Float64", "_Float128", "_Float32x", "_Float64x",
        "__float128", "__float80", "__fp16", "__ibm128", "_Decimal32",
        "_Decimal64", "_Decimal128", "__builtin_va_list",
    };
    for (size_t i = 0; i < sizeof bt / sizeof bt[0]; i++)
        expect_one(bt[i], TK_BUILTIN_TYPE);
}

static void test_async_await(void)
{
    expect_one("async", TK_ASYNC);
    expect_one("await", TK_AWAIT);
    static const int want[] = {TK_ASYNC, TK_INT, TK_IDENT, TK_LPAREN,
                               TK_VOID, TK_RPAREN, TK_LBRACE, TK_RETURN,
                               TK_AWAIT, TK_IDENT, TK_LPAREN, TK_RPAREN,
                               TK_SEMI, TK_RBRACE, 0};
    expect_kinds("async int f(void) { return await g(); }", want);
}

static void test_keyword_prefixes_are_identifiers(void)
{
    /* the longest match wins: a keyword inside a longer name is a name */
    static const char *const ids[] = {
        "asyncx", "awaiting", "_await", "integer", "int_", "if0", "do_it",
        "iff", "__inline___", "__attribute___", "typeof_", "structure",
        "sizeof_t", "__builtin_va_list2", "_Float", "$dollar", "a$b",
        "_", "__", "Await", "ASYNC", "x1y2", "__extension",
    };
    for (size_t i = 0; i < sizeof ids / sizeof ids[0]; i++) {
        expect_one(ids[i], TK_IDENT);
        CU_ASSERT_EQUAL(keyword_of(ids[i], 0), 0);
    }
}

static void test_identifier_lengths(void)
{
    lexed L;
    lex(&L, "a bb  ccc\tdddd");
    CU_ASSERT_EQUAL_FATAL(L.s.ntoks, 4);
    for (uint32_t i = 0; i < 4; i++) {
        CU_ASSERT_EQUAL(L.s.toks[i].kind, TK_IDENT);
        CU_ASSERT_EQUAL(L.s.toks[i].len, i + 1);
        CU_ASSERT_EQUAL(L.s.toks[i].line, 1);
    }
    CU_ASSERT_EQUAL(L.s.toks[2].off, 6);
    CU_ASSERT_EQUAL(L.s.toks[3].off, 10);
    done(&L);

    /* a 5000-character name is one token */
    char *big = malloc(5001);
    CU_ASSERT_PTR_NOT_NULL_FATAL(big);
    memset(big, 'x', 5000);
    big[5000] = 0;
    expect_one(big, TK_IDENT);
    free(big);
}

/* ---- numbers -------------------------------------------------------------- */

static void test_numbers(void)
{
    static const char *const nums[] = {
        "0", "42", "0x1F", "0XdeadBEEF", "0777", "0b1010", "42u", "42U",
        "42l", "42L", "42ul", "42ULL", "42llu", "0x10ull", "1.", ".5",
        "1.5", "1e10", "1E+10", "1e-10", "1.5e-3f", "2.0L", "0x1p3",
        "0x1.8p-2", "0x1P+4f", "1.0f", "3.14159265358979323846",
        "10i", "1.0if", "123_abc", "1..2", "0x1e+1",
    };
    for (size_t i = 0; i < sizeof nums / sizeof nums[0]; i++)
        expect_one(nums[i], TK_NUMBER);
}

static void test_number_boundaries(void)
{
    /* 1+2 is three tokens, but 1e+2 is one (a pp-number takes e+) */
    static const int three[] = {TK_NUMBER, TK_PLUS, TK_NUMBER, 0};
    expect_kinds("1+2", three);
    expect_one("1e+2", TK_NUMBER);
    expect_one("0x1p-2", TK_NUMBER);
    /* a member access on a number-like ident: a.b is three tokens */
    static const int mem[] = {TK_IDENT, TK_DOT, TK_IDENT, 0};
    expect_kinds("a.b", mem);
    /* x-1 and x - -1 */
    static const int sub[] = {TK_IDENT, TK_MINUS, TK_NUMBER, 0};
    expect_kinds("x-1", sub);
    static const int negneg[] = {TK_IDENT, TK_MINUS, TK_MINUS, TK_NUMBER, 0};
    expect_kinds("x - -1", negneg);
    static const int dec[] = {TK_IDENT, TK_DEC, TK_NUMBER, 0};
    expect_kinds("x--1", dec);
    /* a leading-dot number after a name: s .5 */
    static const int dotnum[] = {TK_IDENT, TK_NUMBER, 0};
    expect_kinds("s .5", dotnum);
}

/* ---- character and string literals ---------------------------------------- */

static void test_char_literals(void)
{
    static const char *const chars[] = {
        "'a'", "'\\n'", "'\\''", "'\\\\'", "'\\0'", "'\\x7f'", "'\\177'",
        "'\"'", "L'a'", "u'a'", "U'a'", "u8'a'", "'ab'", "'\\u00e9'",
        "'\\e'",
    };
    for (size_t i = 0; i < sizeof chars / sizeof chars[0]; i++)
        expect_one(chars[i], TK_CHARCONST);
}

static void test_string_literals(void)
{
    static const char *const strs[] = {
        "\"\"", "\"abc\"", "\"a\\\"b\"", "\"\\\\\"", "\"\\n\\t\\x41\\101\"",
        "L\"wide\"", "u\"16\"", "U\"32\"", "u8\"utf8\"", "\"'\"",
        "\"/* not a comment */\"", "\"// nor this\"",
        "\"# not a directive\"",
    };
    for (size_t i = 0; i < sizeof strs / sizeof strs[0]; i++)
        expect_one(strs[i], TK_STRING);
}

static void test_string_concatenation_tokens(void)
{
    static const int want[] = {TK_STRING, TK_STRING, TK_STRING, TK_SEMI, 0};
    expect_kinds("\"a\" L\"b\"\n\"c\";", want);
    /* a prefix letter that is not followed by a quote is a name */
    static const int idstr[] = {TK_IDENT, TK_STRING, 0};
    expect_kinds("x \"y\"", idstr);
    static const int lx[] = {TK_IDENT, TK_CHARCONST, 0};
    expect_kinds("Lx 'y'", lx);
}

/* ---- punctuators ------------------------------------------------------------ */

static void test_punctuators(void)
{
    static const struct { const char *s; int k; } p[] = {
        {"(", TK_LPAREN}, {")", TK_RPAREN}, {"[", TK_LBRACKET},
        {"]", TK_RBRACKET}, {"{", TK_LBRACE}, {"}", TK_RBRACE},
        {".", TK_DOT}, {"->", TK_ARROW}, {"++", TK_INC}, {"--", TK_DEC},
        {"&", TK_AMP}, {"*", TK_STAR}, {"+", TK_PLUS}, {"-", TK_MINUS},
        {"~", TK_TILDE}, {"!", TK_NOT}, {"/", TK_SLASH}, {"%", TK_PERCENT},
        {"<<", TK_SHL}, {">>", TK_SHR}, {"<", TK_LT}, {">", TK_GT},
        {"<=", TK_LE}, {">=", TK_GE}, {"==", TK_EQ}, {"!=", TK_NE},
        {"^", TK_XOR}, {"|", TK_OR}, {"&&", TK_ANDAND}, {"||", TK_OROR},
        {"?", TK_QUESTION}, {":", TK_COLON}, {";", TK_SEMI},
        {"...", TK_ELLIPSIS}, {"=", TK_ASSIGN}, {",", TK_COMMA},
    };
    for (size_t i = 0; i < sizeof p / sizeof p[0]; i++)
        expect_one(p[i].s, p[i].k);
}

static void test_digraphs(void)
{
    expect_one("<:", TK_LBRACKET);
    expect_one(":>", TK_RBRACKET);
    expect_one("<%", TK_LBRACE);
    expect_one("%>", TK_RBRACE);
    static const int want[] = {TK_INT, TK_IDENT, TK_LBRACKET, TK_NUMBER,
                               TK_RBRACKET, TK_ASSIGN, TK_LBRACE, TK_NUMBER,
                               TK_RBRACE, TK_SEMI, 0};
    expect_kinds("int a<:1:> = <%0%>;", want);
}

static void test_compound_assignment(void)
{
    static const char *const ops[] = {"*=", "/=", "%=", "+=", "-=", "<<=",
                                      ">>=", "&=", "^=", "|="};
    for (size_t i = 0; i < sizeof ops / sizeof ops[0]; i++)
        expect_one(ops[i], TK_OPASSIGN);
    static const int want[] = {TK_IDENT, TK_OPASSIGN, TK_IDENT, TK_SEMI, 0};
    expect_kinds("a<<=b;", want);
}

static void test_maximal_munch(void)
{
    /* a+++b is a ++ + b; a-->b is a -- > b; a&&&b is a && & b */
    static const int inc[] = {TK_IDENT, TK_INC, TK_PLUS, TK_IDENT, 0};
    expect_kinds("a+++b", inc);
    static const int arrow[] = {TK_IDENT, TK_DEC, TK_GT, TK_IDENT, 0};
    expect_kinds("a-->b", arrow);
    static const int and3[] = {TK_IDENT, TK_ANDAND, TK_AMP, TK_IDENT, 0};
    expect_kinds("a&&&b", and3);
    static const int shl[] = {TK_IDENT, TK_SHL, TK_LT, TK_IDENT, 0};
    expect_kinds("a<<<b", shl);
    static const int eq[] = {TK_IDENT, TK_EQ, TK_ASSIGN, TK_IDENT, 0};
    expect_kinds("a===b", eq);
    static const int dots[] = {TK_ELLIPSIS, TK_DOT, 0};
    expect_kinds("....", dots);
    static const int twodots[] = {TK_DOT, TK_DOT, 0};
    expect_kinds("..", twodots);
    static const int label[] = {TK_ANDAND, TK_IDENT, 0};
    expect_kinds("&&lab", label);
}

/* ---- layout: whitespace, comments, lines --------------------------------- */

static void test_lines_and_whitespace(void)
{
    lexed L;
    lex(&L, "a\nb\r\n\n c\t\v\fd\\\ne");
    CU_ASSERT_EQUAL(L.rc, 0);
    CU_ASSERT_EQUAL_FATAL(L.s.ntoks, 5);
    CU_ASSERT_EQUAL(L.s.toks[0].line, 1);
    CU_ASSERT_EQUAL(L.s.toks[1].line, 2);
    CU_ASSERT_EQUAL(L.s.toks[2].line, 4);
    CU_ASSERT_EQUAL(L.s.toks[3].line, 4);
    CU_ASSERT_EQUAL(L.s.toks[4].line, 5); /* after a line splice */
    done(&L);
}

static void test_comments(void)
{
    /* cpp -C keeps comments: they are skipped, and count their lines */
    lexed L;
    lex(&L, "a /* one\n two\n */ b // three\nc /**/ d /***/ e /* ** / */ f");
    CU_ASSERT_EQUAL(L.rc, 0);
    CU_ASSERT_EQUAL_FATAL(L.s.ntoks, 6);
    const char *names = "abcdef";
    for (uint32_t i = 0; i < 6; i++) {
        CU_ASSERT_EQUAL(L.s.toks[i].kind, TK_IDENT);
        CU_ASSERT_EQUAL(L.s.buf[L.s.toks[i].off], names[i]);
    }
    CU_ASSERT_EQUAL(L.s.toks[0].line, 1);
    CU_ASSERT_EQUAL(L.s.toks[1].line, 3);
    CU_ASSERT_EQUAL(L.s.toks[2].line, 4);
    CU_ASSERT_EQUAL(L.s.toks[5].line, 4);
    done(&L);
}

static void test_fallthrough_comment(void)
{
    lexed L;
    lex(&L, "a; /* fall through */ b; // FALLTHRU\n c; /* other */ d;");
    CU_ASSERT_EQUAL(L.rc, 0);
    CU_ASSERT_EQUAL_FATAL(L.s.ntoks, 8);
    CU_ASSERT_FALSE(L.s.toks[0].flags & TF_FALLTHRU);
    CU_ASSERT_TRUE(L.s.toks[2].flags & TF_FALLTHRU);
    CU_ASSERT_TRUE(L.s.toks[4].flags & TF_FALLTHRU);
    CU_ASSERT_FALSE(L.s.toks[6].flags & TF_FALLTHRU);
    done(&L);
}

/* ---- linemarkers and directives -------------------------------------------- */

static void test_linemarker_sets_file_and_line(void)
{
    lexed L;
    lex(&L, "# 1 \"main.acx\"\n"
            "a\n"
            "# 42 \"foo.h\" 1\n"
            "b\n"
            "c\n"
            "# 3 \"main.acx\" 2\n"
            "d\n");
    CU_ASSERT_EQUAL(L.rc, 0);
    CU_ASSERT_EQUAL_FATAL(L.s.ntoks, 4);
    CU_ASSERT_EQUAL_FATAL(L.s.nfiles, 2);
    CU_ASSERT_STRING_EQUAL(L.s.files[0], "main.acx");
    CU_ASSERT_STRING_EQUAL(L.s.files[1], "foo.h");
    CU_ASSERT_EQUAL(L.s.toks[0].file, 0);
    CU_ASSERT_EQUAL(L.s.toks[0].line, 1);
    CU_ASSERT_EQUAL(L.s.toks[1].file, 1);
    CU_ASSERT_EQUAL(L.s.toks[1].line, 42);
    CU_ASSERT_EQUAL(L.s.toks[2].file, 1);
    CU_ASSERT_EQUAL(L.s.toks[2].line, 43);
    CU_ASSERT_EQUAL(L.s.toks[3].file, 0);
    CU_ASSERT_EQUAL(L.s.toks[3].line, 3);
    CU_ASSERT_EQUAL(L.s.sysfile[0], 0);
    CU_ASSERT_EQUAL(L.s.sysfile[1], 0);
    done(&L);
}

static void test_linemarker_system_header_flag(void)
{
    lexed L;
    lex(&L, "# 1 \"main.acx\"\n"
            "# 1 \"/usr/include/stdio.h\" 1 3 4\n"
            "int x;\n"
            "# 7 \"user.h\" 1\n"
            "int y;\n"
            "# 2 \"main.acx\" 2\n"
            "int z;\n");
    CU_ASSERT_EQUAL(L.rc, 0);
    CU_ASSERT_EQUAL_FATAL(L.s.nfiles, 3);
    CU_ASSERT_STRING_EQUAL(L.s.files[1], "/usr/include/stdio.h");
    CU_ASSERT_EQUAL(L.s.sysfile[0], 0);
    CU_ASSERT_EQUAL(L.s.sysfile[1], 1);
    CU_ASSERT_EQUAL(L.s.sysfile[2], 0);
    CU_ASSERT_EQUAL_FATAL(L.s.ntoks, 9);
    CU_ASSERT_EQUAL(L.s.toks[0].file, 1);
    CU_ASSERT_EQUAL(L.s.toks[0].line, 1);
    CU_ASSERT_EQUAL(L.s.toks[3].file, 2);
    CU_ASSERT_EQUAL(L.s.toks[3].line, 7);
    CU_ASSERT_EQUAL(L.s.toks[6].file, 0);
    CU_ASSERT_EQUAL(L.s.toks[6].line, 2);
    done(&L);
}

static void test_line_directive_and_reuse(void)
{
    /* #line N "file" works too; a file seen twice keeps one index */
    lexed L;
    lex(&L, "#line 10 \"a.acx\"\nx\n#line 20 \"b.h\"\ny\n# 30 \"a.acx\"\nz\n"
            "#line 99\nw\n");
    CU_ASSERT_EQUAL(L.rc, 0);
    CU_ASSERT_EQUAL(L.s.nfiles, 2);
    CU_ASSERT_EQUAL_FATAL(L.s.ntoks, 4);
    CU_ASSERT_EQUAL(L.s.toks[0].line, 10);
    CU_ASSERT_EQUAL(L.s.toks[1].line, 20);
    CU_ASSERT_EQUAL(L.s.toks[1].file, 1);
    CU_ASSERT_EQUAL(L.s.toks[2].line, 30);
    CU_ASSERT_EQUAL(L.s.toks[2].file, 0);
    CU_ASSERT_EQUAL(L.s.toks[3].line, 99); /* no file: keeps a.acx */
    CU_ASSERT_EQUAL(L.s.toks[3].file, 0);
    done(&L);
}

static void test_linemarker_escaped_name(void)
{
    lexed L;
    lex(&L, "# 5 \"dir\\\\my \\\"file\\\".acx\"\nq\n");
    CU_ASSERT_EQUAL(L.rc, 0);
    CU_ASSERT_EQUAL_FATAL(L.s.ntoks, 1);
    CU_ASSERT_EQUAL_FATAL(L.s.nfiles, 1);
    CU_ASSERT_EQUAL(L.s.toks[0].line, 5);
    /* the name is kept as cpp spelled it (escapes and all) */
    CU_ASSERT_STRING_EQUAL(L.s.files[0], "dir\\\\my \\\"file\\\".acx");
    done(&L);
}

static void test_pragma_skipped(void)
{
    lexed L;
    lex(&L, "int a;\n#pragma GCC diagnostic push\n"
            "  #  pragma omp parallel for (x)\n#ident \"v1\"\nint b;\n");
    CU_ASSERT_EQUAL(L.rc, 0);
    CU_ASSERT_EQUAL(L.s.errors, 0);
    CU_ASSERT_EQUAL_FATAL(L.s.ntoks, 6);
    CU_ASSERT_EQUAL(L.s.toks[3].kind, TK_INT);
    CU_ASSERT_EQUAL(L.s.toks[3].line, 5);
    done(&L);
}

static void test_hash_inside_line_is_stray(void)
{
    expect_error("int a # 3;\n", 11, "stray '#' in program");
}

/* ---- errors ------------------------------------------------------------------ */

static void test_unterminated_comment(void)
{
    expect_error("int a; /* never closed\nint b;\n", 30,
                 "unterminated comment");
    lexed L;
    lex(&L, "x\n  /*");
    CU_ASSERT_EQUAL(L.rc, -1);
    CU_ASSERT_EQUAL(L.s.errors, 1);
    CU_ASSERT_PTR_NOT_NULL(strstr(L.diag, "test.acx:2:3: error: "
                                          "unterminated comment"));
    done(&L);
}

static void test_missing_quote(void)
{
    expect_error("char *s = \"abc;\nint x;\n", 23,
                 "missing terminating \" character");
    expect_error("char c = 'a;\n", 13, "missing terminating ' character");
    expect_error("char c = '';\n", 13, "missing terminating ' character");
    expect_error("\"", 1, "missing terminating \" character");
    expect_error("L\"abc", 5, "missing terminating \" character");
    /* after the bad literal the rest of the line is skipped, the next line
     * is still lexed */
    lexed L;
    lex(&L, "a \"b\nc d\n");
    CU_ASSERT_EQUAL(L.rc, -1);
    CU_ASSERT_EQUAL(L.s.errors, 1);
    CU_ASSERT_EQUAL_FATAL(L.s.ntoks, 3);
    CU_ASSERT_EQUAL(L.s.toks[1].line, 2);
    done(&L);
}

static void test_stray_characters(void)
{
    expect_error("int a = 1 @ 2;", 14, "stray '@' in program");
    expect_error("int `x;", 7, "stray '`' in program");
    expect_error("a \\ b", 5, "stray '\\' in program");
    expect_error("int \x80x;", 7, "stray '\\200' in program");
    expect_error("\x01", 1, "stray '\\001' in program");
    /* UTF-8 in a name is not accepted (gcc would; report it, do not die) */
    expect_error("int caf\xc3\xa9 = 1;", 14, "stray '\\303' in program");
}

static void test_nul_bytes(void)
{
    static const char text[] = "int a;\0int b;\0";
    lexed L;
    lex_n(&L, text, sizeof text - 1);
    CU_ASSERT_EQUAL(L.rc, -1);
    CU_ASSERT_EQUAL(L.s.errors, 2);
    CU_ASSERT_PTR_NOT_NULL(strstr(L.diag, "stray NUL byte in program"));
    /* lexing goes on after a NUL: all six tokens are there */
    CU_ASSERT_EQUAL(L.s.ntoks, 6);
    done(&L);
    /* a NUL inside a string or a comment */
    expect_error("\"a\0b\"", 5, NULL);
    expect_error("/* a\0b */", 9, NULL);
    expect_error("// a\0b\n", 7, NULL);
}

static void test_error_positions(void)
{
    lexed L;
    lex(&L, "# 7 \"src.acx\"\nint a;\n   int b = $x @;\n");
    CU_ASSERT_EQUAL(L.rc, -1);
    CU_ASSERT_EQUAL(L.s.errors, 1);
    CU_ASSERT_STRING_EQUAL(L.diag,
                           "src.acx:8:15: error: stray '@' in program\n");
    done(&L);
}

static void test_binary_garbage(void)
{
    /* every byte value, several times over, in a pseudo-random order */
    size_t n = 64 * 1024;
    unsigned char *junk = malloc(n);
    CU_ASSERT_PTR_NOT_NULL_FATAL(junk);
    uint32_t x = 12345;
    for (size_t i = 0; i < n; i++) {
        x = x * 1103515245u + 12345u;
        junk[i] = (unsigned char)(x >> 16);
    }
    lexed L;
    lex_n(&L, (const char *)junk, n);
    CU_ASSERT_EQUAL(L.rc, -1);
    CU_ASSERT(L.s.errors > 0);
    done(&L);
    free(junk);
}

static void test_max_errors_limits_output(void)
{
    /* 200 stray characters: all counted, only max_errors printed */
    char text[401];
    for (int i = 0; i < 200; i++) {
        text[2 * i] = '@';
        text[2 * i + 1] = '\n';
    }
    text[400] = 0;
    lexed L;
    memset(&L, 0, sizeof L);
    L.s.path = "m.acx";
    L.s.buf = strdup(text);
    L.s.len = 400;
    L.s.max_errors = 5;
    L.s.err = tmpfile();
    CU_ASSERT_PTR_NOT_NULL_FATAL(L.s.err);
    CU_ASSERT_EQUAL(lex_run(&L.s), -1);
    CU_ASSERT_EQUAL(L.s.errors, 200);
    rewind(L.s.err);
    int lines = 0, ch;
    while ((ch = getc(L.s.err)) != EOF)
        lines += ch == '\n';
    CU_ASSERT_EQUAL(lines, 5);
    done(&L);
}

static void test_empty_and_blank_input(void)
{
    lexed L;
    lex(&L, "");
    CU_ASSERT_EQUAL(L.rc, 0);
    CU_ASSERT_EQUAL(L.s.ntoks, 0);
    done(&L);
    lex(&L, " \n\t\n/* c */\n// d\n# 3 \"e.h\"\n#pragma x\n");
    CU_ASSERT_EQUAL(L.rc, 0);
    CU_ASSERT_EQUAL(L.s.ntoks, 0);
    done(&L);
}

static void test_many_tokens(void)
{
    /* 100,000 tokens: the token array grows */
    size_t n = 100000;
    char *text = malloc(2 * n + 1);
    CU_ASSERT_PTR_NOT_NULL_FATAL(text);
    for (size_t i = 0; i < n; i++) {
        text[2 * i] = i % 2 ? ';' : 'x';
        text[2 * i + 1] = i % 1000 == 999 ? '\n' : ' ';
    }
    text[2 * n] = 0;
    lexed L;
    lex_n(&L, text, 2 * n);
    CU_ASSERT_EQUAL(L.rc, 0);
    CU_ASSERT_EQUAL_FATAL(L.s.ntoks, n);
    CU_ASSERT_EQUAL(L.s.toks[n - 1].kind, TK_SEMI);
    CU_ASSERT_EQUAL(L.s.toks[n - 1].line, 100);
    CU_ASSERT_EQUAL(L.s.toks[n - 1].off, 2 * (n - 1));
    done(&L);
    free(text);
}

static void test_ten_megabyte_line(void)
{
    /* one 10 MB line: "x+x+...+x;" */
    size_t n = 10u << 20;
    char *text = malloc(n + 1);
    CU_ASSERT_PTR_NOT_NULL_FATAL(text);
    for (size_t i = 0; i < n; i++)
        text[i] = i % 2 ? '+' : 'x';
    text[n - 1] = ';';
    text[n] = 0;
    lexed L;
    lex_n(&L, text, n);
    CU_ASSERT_EQUAL(L.rc, 0);
    CU_ASSERT_EQUAL(L.s.ntoks, n);
    CU_ASSERT_EQUAL(L.s.toks[L.s.ntoks - 1].line, 1);
    done(&L);
    free(text);
}

int acx_test_add_lexer(void)
{
    CU_pSuite s = CU_add_suite("lexer", NULL, NULL);
    if (!s)
        return -1;
    static const struct { const char *name; void (*fn)(void); } tests[] = {
        {"lex_keyword is defined", test_lex_keyword_defined},
        {"C keywords", test_c_keywords},
        {"GNU spellings", test_gnu_spellings},
        {"builtin type names", test_builtin_types},
        {"async and await", test_async_await},
        {"keyword prefixes are identifiers",
         test_keyword_prefixes_are_identifiers},
        {"identifier lengths and offsets", test_identifier_lengths},
        {"numbers", test_numbers},
        {"number boundaries", test_number_boundaries},
        {"character literals", test_char_literals},
        {"string literals", test_string_literals},
        {"adjacent strings and prefixes", test_string_concatenation_tokens},
        {"punctuators", test_punctuators},
        {"digraphs", test_digraphs},
        {"compound assignment", test_compound_assignment},
        {"maximal munch", test_maximal_munch},
        {"lines and whitespace", test_lines_and_whitespace},
        {"comments", test_comments},
        {"fall-through comments", test_fallthrough_comment},
        {"linemarker sets file and line", test_linemarker_sets_file_and_line},
        {"linemarker flag 3: system header",
         test_linemarker_system_header_flag},
        {"#line and file reuse", test_line_directive_and_reuse},
        {"linemarker with escapes", test_linemarker_escaped_name},
        {"#pragma and #ident skipped", test_pragma_skipped},
        {"# inside a line is stray", test_hash_inside_line_is_stray},
        {"unterminated comment", test_unterminated_comment},
        {"missing terminating quote", test_missing_quote},
        {"stray characters", test_stray_characters},
        {"NUL bytes", test_nul_bytes},
        {"error positions", test_error_positions},
        {"binary garbage", test_binary_garbage},
        {"max_errors limits output", test_max_errors_limits_output},
        {"empty and blank input", test_empty_and_blank_input},
        {"many tokens", test_many_tokens},
        {"a 10 MB line", test_ten_megabyte_line},
    };
    for (size_t i = 0; i < sizeof tests / sizeof tests[0]; i++)
        if (!CU_add_test(s, tests[i].name, tests[i].fn))
            return -1;
    return 0;
}
