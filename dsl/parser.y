/* parser.y - lemon grammar for C11 with the GNU extensions glibc's headers
 * use, plus `async` (a function specifier) and `await` (a unary operator).
 *
 * Actions are one-line calls into the builders of ast.c.  Terminals carry
 * their token index.  Typedef names arrive as TYPE_NAME: the feed loop in
 * ast.c classifies identifiers with the scoped table that the declaration
 * actions below fill (the classic lexer hack; lemon's shift-reduce actions
 * run a declaration's action as soon as its ';' is shifted).
 */

%name acx_lemon
%token_prefix TK_
%token_type {uint32_t}
%default_type {node *}
%extra_context {acx_parse *ctx}
%stack_size 0

%include {
#include <assert.h>
#include <stdlib.h>
#include "front.h"
#include "build.h"
}

/* Name the missing closer when exactly one of them could come next. */
%syntax_error {
#define ACX_CAN_SHIFT(tk)                                                  \
    (yy_find_shift_action((YYCODETYPE)(tk), yypParser->yytos->stateno) <   \
     YY_ERROR_ACTION)
    static const int closers[] = {TK_SEMI, TK_RPAREN, TK_RBRACKET,
                                  TK_RBRACE, TK_COLON};
    int expected = 0, n = 0;
    for (unsigned i = 0; i < sizeof closers / sizeof closers[0]; i++)
        if (ACX_CAN_SHIFT(closers[i])) {
            expected = closers[i];
            n++;
        }
    if (n == 1 && ACX_CAN_SHIFT(TK_INT))
        n = 0; /* a declaration could start here: nothing is missing */
    if (yymajor == 0 && ACX_CAN_SHIFT(TK_RBRACE)) {
        expected = TK_RBRACE; /* an unclosed block */
        n = 1;
    }
    if (n != 1) /* or an expression? */
        expected = ACX_CAN_SHIFT(TK_NUMBER) ? TK_NUMBER : 0;
    build_syntax_error(ctx, yymajor, TOKEN, expected);
#undef ACX_CAN_SHIFT
}
%parse_failure { ctx->fatal = 1; }
%stack_overflow { ctx->fatal = 1; build_overflow(ctx); }

/* Tokens the lexer produces but the feed loop never passes on. */
%token EXTENSION ATTRIBUTE.
/* Typedef names, and a token class for the builtin scalar types. */
%token TYPE_NAME BUILTIN_TYPE.

%right OPASSIGN ASSIGN.
%right QUESTION COLON.
%left OROR.
%left ANDAND.
%left OR.
%left XOR.
%left AMP.
%left EQ NE.
%left LT GT LE GE.
%left SHL SHR.
%left PLUS MINUS.
%left STAR SLASH PERCENT.
%nonassoc LOWER_THAN_ELSE.
%nonassoc ELSE.
/* `_Atomic (` is always the type specifier, never the qualifier. */
%nonassoc ATOMIC.
%nonassoc LPAREN.

/* ================================================================ unit */

unit ::= ext_list.
ext_list ::= .
ext_list ::= ext_list ext(E).                  { build_ext(ctx, E); }

ext(A) ::= function_definition(F).             { A = F; }
ext(A) ::= declaration(D).                     { A = D; }
ext(A) ::= SEMI(T).                            { A = build_leaf(ctx, S_NULL, T); }
ext(A) ::= ASM(T) SEMI(E).                     { A = build_span(ctx, S_ASM, T, E); }
ext(A) ::= error SEMI.                         { A = 0; }
ext(A) ::= error RBRACE.                       { A = 0; }

function_definition(A) ::= fdef_head(H) compound_statement(B).
                                               { A = build_funcdef(ctx, H, B); }
fdef_head(A) ::= decl_specs(S) declarator(D).  { A = build_fdef_head(ctx, S, D); }

/* ========================================================= declarations */

declaration(A) ::= decl_specs(S) SEMI(E).      { A = build_decl(ctx, S, 0, E); }
declaration(A) ::= decl_specs(S) init_declarator_list(L) SEMI(E).
                                               { A = build_decl(ctx, S, L, E); }
declaration(A) ::= STATIC_ASSERT(T) LPAREN aexpr RPAREN SEMI(E).
                                               { A = build_span(ctx, S_STATICASSERT, T, E); }
declaration(A) ::= STATIC_ASSERT(T) LPAREN aexpr COMMA strings RPAREN SEMI(E).
                                               { A = build_span(ctx, S_STATICASSERT, T, E); }
declaration(A) ::= LOCAL_LABEL(T) ident_list SEMI(E).
                                               { A = build_span(ctx, S_LOCALLABEL, T, E); }

ident_list ::= IDENT.
ident_list ::= ident_list COMMA IDENT.

decl_specs(A) ::= decl_spec(B).                { A = build_specs(ctx, 0, B); }
decl_specs(A) ::= decl_specs(S) decl_spec(B).  { A = build_specs(ctx, S, B); }

decl_spec(A) ::= TYPEDEF(T).       { A = build_spec(ctx, T, SP_TYPEDEF, 0); }
decl_spec(A) ::= EXTERN(T).        { A = build_spec(ctx, T, SP_EXTERN, 0); }
decl_spec(A) ::= STATIC(T).        { A = build_spec(ctx, T, SP_STATIC, 0); }
decl_spec(A) ::= AUTO(T).          { A = build_spec(ctx, T, SP_AUTO, 0); }
decl_spec(A) ::= REGISTER(T).      { A = build_spec(ctx, T, SP_REGISTER, 0); }
decl_spec(A) ::= THREAD_LOCAL(T).  { A = build_spec(ctx, T, SP_THREAD, 0); }
decl_spec(A) ::= INLINE(T).        { A = build_spec(ctx, T, SP_INLINE, 0); }
decl_spec(A) ::= NORETURN(T).      { A = build_spec(ctx, T, SP_NORETURN, 0); }
decl_spec(A) ::= ASYNC(T).         { A = build_spec(ctx, T, SP_ASYNC, 0); }
decl_spec(A) ::= type_qualifier(Q). { A = Q; }
decl_spec(A) ::= type_specifier(S). { A = S; }
decl_spec(A) ::= ALIGNAS(T) LPAREN type_name RPAREN(E).
                                   { A = build_spec(ctx, T, 0, 0); A->last = E; }
decl_spec(A) ::= ALIGNAS(T) LPAREN aexpr RPAREN(E).
                                   { A = build_spec(ctx, T, 0, 0); A->last = E; }

type_qualifier(A) ::= CONST(T).    { A = build_spec(ctx, T, SP_CONST, 0); }
type_qualifier(A) ::= RESTRICT(T). { A = build_spec(ctx, T, 0, 0); }
type_qualifier(A) ::= VOLATILE(T). { A = build_spec(ctx, T, 0, 0); }
type_qualifier(A) ::= ATOMIC(T).   { A = build_spec(ctx, T, 0, 0); }

type_specifier(A) ::= VOID(T).     { A = build_spec(ctx, T, SP_VOID | SP_HASTYPE, 0); }
type_specifier(A) ::= CHAR(T).     { A = build_spec(ctx, T, SP_INTEGER | SP_HASTYPE, 0); }
type_specifier(A) ::= SHORT(T).    { A = build_spec(ctx, T, SP_INTEGER | SP_HASTYPE, 0); }
type_specifier(A) ::= INT(T).      { A = build_spec(ctx, T, SP_INTEGER | SP_HASTYPE, 0); }
type_specifier(A) ::= LONG(T).     { A = build_spec(ctx, T, SP_INTEGER | SP_HASTYPE, 0); }
type_specifier(A) ::= SIGNED(T).   { A = build_spec(ctx, T, SP_INTEGER | SP_HASTYPE, 0); }
type_specifier(A) ::= UNSIGNED(T). { A = build_spec(ctx, T, SP_INTEGER | SP_HASTYPE, 0); }
type_specifier(A) ::= BOOL(T).     { A = build_spec(ctx, T, SP_INTEGER | SP_HASTYPE, 0); }
type_specifier(A) ::= INT128(T).   { A = build_spec(ctx, T, SP_INTEGER | SP_HASTYPE, 0); }
type_specifier(A) ::= FLOAT(T).    { A = build_spec(ctx, T, SP_OTHERTYPE | SP_HASTYPE, 0); }
type_specifier(A) ::= DOUBLE(T).   { A = build_spec(ctx, T, SP_OTHERTYPE | SP_HASTYPE, 0); }
type_specifier(A) ::= COMPLEX(T).  { A = build_spec(ctx, T, SP_OTHERTYPE | SP_HASTYPE, 0); }
type_specifier(A) ::= IMAGINARY(T). { A = build_spec(ctx, T, SP_OTHERTYPE | SP_HASTYPE, 0); }
type_specifier(A) ::= BUILTIN_TYPE(T). { A = build_spec(ctx, T, SP_OTHERTYPE | SP_HASTYPE, 0); }
type_specifier(A) ::= AUTO_TYPE(T). { A = build_spec(ctx, T, SP_OTHERTYPE | SP_HASTYPE, 0); }
type_specifier(A) ::= TYPE_NAME(T). { A = build_typename_spec(ctx, T); }
type_specifier(A) ::= struct_specifier(S). { A = build_spec(ctx, S->first, SP_OTHERTYPE | SP_HASTYPE, S); }
type_specifier(A) ::= enum_specifier(S).   { A = build_spec(ctx, S->first, SP_INTEGER | SP_HASTYPE, S); }
type_specifier(A) ::= TYPEOF(T) LPAREN expr(E) RPAREN(R).
                                   { A = build_typeof(ctx, T, E, R); }
type_specifier(A) ::= TYPEOF(T) LPAREN type_name(N) RPAREN(R).
                                   { A = build_typeof(ctx, T, N, R); }
type_specifier(A) ::= ATOMIC(T) LPAREN type_name(N) RPAREN(R).
                                   { A = build_typeof(ctx, T, N, R); }

/* ------------------------------------------------------- struct, enum */

struct_specifier(A) ::= struct_or_union(K) IDENT(I) LBRACE member_list(M) RBRACE(E).
                                   { A = build_struct(ctx, K, I, 1, M, E); }
struct_specifier(A) ::= struct_or_union(K) LBRACE(B) member_list(M) RBRACE(E).
                                   { A = build_struct(ctx, K, B, 0, M, E); }
struct_specifier(A) ::= struct_or_union(K) IDENT(I).
                                   { A = build_struct(ctx, K, I, 1, 0, I); }
%type struct_or_union {uint32_t}
struct_or_union(A) ::= STRUCT(T).  { A = T; }
struct_or_union(A) ::= UNION(T).   { A = T; }

member_list(A) ::= .                             { A = 0; }
member_list(A) ::= member_list(L) member(M).     { A = build_list(L, M); }
member(A) ::= decl_specs(S) SEMI(E).             { A = build_member(ctx, S, 0, E); }
member(A) ::= decl_specs(S) member_declarators(L) SEMI(E).
                                                 { A = build_member(ctx, S, L, E); }
member(A) ::= STATIC_ASSERT(T) LPAREN aexpr COMMA strings RPAREN SEMI(E).
                                                 { A = build_span(ctx, S_STATICASSERT, T, E); }
member(A) ::= SEMI(T).                           { A = build_leaf(ctx, S_NULL, T); }
member_declarators(A) ::= member_declarator(D).  { A = build_list(0, D); }
member_declarators(A) ::= member_declarators(L) COMMA member_declarator(D).
                                                 { A = build_list(L, D); }
member_declarator(A) ::= declarator(D).          { A = D; }
member_declarator(A) ::= declarator(D) COLON aexpr(W). { A = build_bitfield(ctx, D, W); }
member_declarator(A) ::= COLON(T) aexpr(W).      { A = build_bitfield(ctx, build_leaf(ctx, D_PAREN, T), W); }

enum_specifier(A) ::= ENUM(T) IDENT(I) LBRACE enumerator_list(L) comma_opt RBRACE(E).
                                   { A = build_enum(ctx, T, I, 1, L, E); }
enum_specifier(A) ::= ENUM(T) LBRACE enumerator_list(L) comma_opt RBRACE(E).
                                   { A = build_enum(ctx, T, T, 0, L, E); }
enum_specifier(A) ::= ENUM(T) IDENT(I).
                                   { A = build_enum(ctx, T, I, 1, 0, I); }
enumerator_list(A) ::= enumerator(E).                          { A = build_list(0, E); }
enumerator_list(A) ::= enumerator_list(L) COMMA enumerator(E). { A = build_list(L, E); }
enumerator(A) ::= IDENT(I).                    { A = build_enumerator(ctx, I, 0); }
enumerator(A) ::= IDENT(I) ASSIGN aexpr(V).    { A = build_enumerator(ctx, I, V); }
comma_opt ::= .
comma_opt ::= COMMA.

/* ---------------------------------------------------------- declarators */

init_declarator_list(A) ::= init_declarator(D).                    { A = build_list(0, D); }
init_declarator_list(A) ::= init_declarator_list(L) COMMA init_declarator(D).
                                                                   { A = build_list(L, D); }
init_declarator(A) ::= declarator(D).                   { A = build_initdecl(ctx, D, 0); }
init_declarator(A) ::= declarator(D) ASSIGN initializer(I). { A = build_initdecl(ctx, D, I); }

declarator(A) ::= pointer(P) direct_declarator(D).      { A = build_pointer_apply(P, D); }
declarator(A) ::= direct_declarator(D).                 { A = D; }

direct_declarator(A) ::= IDENT(I).                      { A = build_leaf(ctx, D_NAME, I); }
direct_declarator(A) ::= LPAREN(L) declarator(D) RPAREN(R).
                                   { A = build_wrap(ctx, D_PAREN, D, L, R); }
direct_declarator(A) ::= direct_declarator(D) LBRACKET array_size(S) RBRACKET(R).
                                   { A = build_suffix(ctx, D_ARRAY, D, S, R); }
direct_declarator(A) ::= direct_declarator(D) LPAREN param_list(P) RPAREN(R).
                                   { A = build_suffix(ctx, D_FUNC, D, P, R); }
direct_declarator(A) ::= direct_declarator(D) LPAREN RPAREN(R).
                                   { A = build_suffix(ctx, D_FUNC, D, 0, R); }
direct_declarator(A) ::= direct_declarator(D) LPAREN ident_list RPAREN(R).
                                   { A = build_suffix(ctx, D_FUNC, D, 0, R); }

/* A pointer chain: a list of D_PTR, outermost first. */
pointer(A) ::= STAR(T) qual_list_opt(Q).        { A = build_ptr(ctx, T, Q, 0); }
pointer(A) ::= STAR(T) qual_list_opt(Q) pointer(P). { A = build_ptr(ctx, T, Q, P); }
%type qual_list_opt {uint32_t}
qual_list_opt(A) ::= .                          { A = 0; }
qual_list_opt(A) ::= qual_list(Q).              { A = Q; }
%type qual_list {uint32_t}
qual_list(A) ::= type_qualifier(Q).             { A = Q->first; }
qual_list(A) ::= qual_list(L) type_qualifier.   { A = L; }

array_size(A) ::= .                             { A = 0; }
array_size(A) ::= aexpr(E).                     { A = E; }
array_size(A) ::= STAR(T).                      { A = build_leaf(ctx, E_CONST, T); }
array_size(A) ::= qual_list array_size2(E).     { A = E; }
array_size(A) ::= STATIC qual_list_opt aexpr(E). { A = E; }
array_size2(A) ::= .                            { A = 0; }
array_size2(A) ::= aexpr(E).                    { A = E; }
array_size2(A) ::= STATIC aexpr(E).             { A = E; }

param_list(A) ::= params(P).                    { A = P; }
/* f(...) with no named parameter: clang's overloadable functions, C23 */
param_list(A) ::= ELLIPSIS(E).                  { A = build_leaf(ctx, D_PARAM, E); A->op = TK_ELLIPSIS; }
param_list(A) ::= params(P) COMMA ELLIPSIS(E).  { A = build_list(P, build_leaf(ctx, D_PARAM, E)); A->op = TK_ELLIPSIS; }
params(A) ::= param(P).                         { A = build_list(0, P); }
params(A) ::= params(L) COMMA param(P).         { A = build_list(L, P); }
param(A) ::= decl_specs(S) declarator(D).       { A = build_param(ctx, S, D); }
param(A) ::= decl_specs(S) abstract_declarator(D). { A = build_param(ctx, S, D); }
param(A) ::= decl_specs(S).                     { A = build_param(ctx, S, 0); }

type_name(A) ::= decl_specs(S).                 { A = build_typename(ctx, S, 0); }
type_name(A) ::= decl_specs(S) abstract_declarator(D). { A = build_typename(ctx, S, D); }

abstract_declarator(A) ::= pointer(P).          { A = build_pointer_apply(P, 0); }
abstract_declarator(A) ::= pointer(P) direct_abstract_declarator(D).
                                                { A = build_pointer_apply(P, D); }
abstract_declarator(A) ::= direct_abstract_declarator(D). { A = D; }

direct_abstract_declarator(A) ::= LPAREN(L) abstract_declarator(D) RPAREN(R).
                                   { A = build_wrap(ctx, D_PAREN, D, L, R); }
direct_abstract_declarator(A) ::= LBRACKET(L) array_size(S) RBRACKET(R).
                                   { A = build_suffix(ctx, D_ARRAY, build_anon(ctx, L), S, R); }
direct_abstract_declarator(A) ::= direct_abstract_declarator(D) LBRACKET array_size(S) RBRACKET(R).
                                   { A = build_suffix(ctx, D_ARRAY, D, S, R); }
direct_abstract_declarator(A) ::= LPAREN(L) param_list(P) RPAREN(R).
                                   { A = build_suffix(ctx, D_FUNC, build_anon(ctx, L), P, R); }
direct_abstract_declarator(A) ::= LPAREN(L) RPAREN(R).
                                   { A = build_suffix(ctx, D_FUNC, build_anon(ctx, L), 0, R); }
direct_abstract_declarator(A) ::= direct_abstract_declarator(D) LPAREN param_list(P) RPAREN(R).
                                   { A = build_suffix(ctx, D_FUNC, D, P, R); }
direct_abstract_declarator(A) ::= direct_abstract_declarator(D) LPAREN RPAREN(R).
                                   { A = build_suffix(ctx, D_FUNC, D, 0, R); }

/* --------------------------------------------------------- initializers */

initializer(A) ::= aexpr(E).                              { A = E; }
initializer(A) ::= LBRACE(L) init_list(I) comma_opt RBRACE(R).
                                          { A = build_wrap(ctx, E_INITLIST, I, L, R); }
initializer(A) ::= LBRACE(L) RBRACE(R).   { A = build_wrap(ctx, E_INITLIST, 0, L, R); }
init_list(A) ::= init_item(I).                            { A = build_list(0, I); }
init_list(A) ::= init_list(L) COMMA init_item(I).         { A = build_list(L, I); }
init_item(A) ::= initializer(I).                          { A = I; }
init_item(A) ::= designation(D) initializer(I).           { A = build_desig(ctx, D, I); }
%type designation {uint32_t}
designation(A) ::= designator_list(D) ASSIGN.             { A = D; }
designation(A) ::= IDENT(I) COLON.                        { A = I; }
%type designator_list {uint32_t}
designator_list(A) ::= designator(D).                     { A = D; }
designator_list(A) ::= designator_list(L) designator.     { A = L; }
%type designator {uint32_t}
designator(A) ::= LBRACKET(T) aexpr RBRACKET.             { A = T; }
designator(A) ::= LBRACKET(T) aexpr ELLIPSIS aexpr RBRACKET. { A = T; }
designator(A) ::= DOT(T) IDENT.                           { A = T; }

/* =========================================================== statements */

compound_statement(A) ::= LBRACE(L) block_items(I) RBRACE(R).
                                          { A = build_wrap(ctx, S_BLOCK, I, L, R); }
block_items(A) ::= .                                      { A = 0; }
block_items(A) ::= block_items(L) block_item(I).          { A = build_list(L, I); }
block_item(A) ::= declaration(D).                         { A = D; }
block_item(A) ::= statement(S).                           { A = S; }

statement(A) ::= compound_statement(S).                   { A = S; }
statement(A) ::= expr(E) SEMI(T).         { A = build_stmt(ctx, S_EXPR, E->first, T, E, 0, 0); }
statement(A) ::= SEMI(T).                 { A = build_leaf(ctx, S_NULL, T); }
statement(A) ::= IDENT(I) COLON statement(S).
                                          { A = build_stmt(ctx, S_LABEL, I, S->last, S, 0, 0); }
statement(A) ::= CASE(T) aexpr(E) COLON statement(S).
                                          { A = build_stmt(ctx, S_CASE, T, S->last, E, S, 0); }
statement(A) ::= CASE(T) aexpr(E) ELLIPSIS aexpr(H) COLON statement(S).
                                          { A = build_stmt(ctx, S_CASE, T, S->last, E, S, H); }
statement(A) ::= DEFAULT(T) COLON statement(S).
                                          { A = build_stmt(ctx, S_DEFAULT, T, S->last, S, 0, 0); }
statement(A) ::= IF(T) LPAREN expr(C) RPAREN statement(S). [LOWER_THAN_ELSE]
                                          { A = build_stmt(ctx, S_IF, T, S->last, C, S, 0); }
statement(A) ::= IF(T) LPAREN expr(C) RPAREN statement(S) ELSE statement(E).
                                          { A = build_stmt(ctx, S_IF, T, E->last, C, S, E); }
statement(A) ::= SWITCH(T) LPAREN expr(C) RPAREN statement(S).
                                          { A = build_stmt(ctx, S_SWITCH, T, S->last, C, S, 0); }
statement(A) ::= WHILE(T) LPAREN expr(C) RPAREN statement(S).
                                          { A = build_stmt(ctx, S_WHILE, T, S->last, C, S, 0); }
statement(A) ::= DO(T) statement(S) WHILE LPAREN expr(C) RPAREN SEMI(E).
                                          { A = build_stmt(ctx, S_DO, T, E, S, C, 0); }
statement(A) ::= FOR(T) LPAREN for_init(I) expr_opt(C) SEMI expr_opt(N) RPAREN statement(S).
                                          { A = build_for(ctx, T, I, C, N, S); }
statement(A) ::= GOTO(T) IDENT(I) SEMI(E).  { A = build_stmt(ctx, S_GOTO, T, E, 0, 0, 0); A->tok = I; }
statement(A) ::= GOTO(T) STAR expr(X) SEMI(E). { A = build_stmt(ctx, S_GOTO, T, E, X, 0, 0); }
statement(A) ::= CONTINUE(T) SEMI(E).     { A = build_stmt(ctx, S_CONTINUE, T, E, 0, 0, 0); }
statement(A) ::= BREAK(T) SEMI(E).        { A = build_stmt(ctx, S_BREAK, T, E, 0, 0, 0); }
statement(A) ::= RETURN(T) SEMI(E).       { A = build_stmt(ctx, S_RETURN, T, E, 0, 0, 0); }
statement(A) ::= RETURN(T) expr(X) SEMI(E). { A = build_stmt(ctx, S_RETURN, T, E, X, 0, 0); }
statement(A) ::= ASM(T) SEMI(E).          { A = build_span(ctx, S_ASM, T, E); }
statement(A) ::= error(T) SEMI(E).        { A = build_span(ctx, S_ERROR, T, E); }

for_init(A) ::= expr_opt(E) SEMI(T).      { A = E ? build_stmt(ctx, S_EXPR, E->first, T, E, 0, 0) : 0; }
for_init(A) ::= declaration(D).           { A = D; }
expr_opt(A) ::= .                         { A = 0; }
expr_opt(A) ::= expr(E).                  { A = E; }

/* ========================================================== expressions */

expr(A) ::= aexpr(E).                     { A = E; }
expr(A) ::= expr(L) COMMA(T) aexpr(R).    { A = build_binary(ctx, E_COMMA, L, T, R); }

aexpr(A) ::= cast_expr(E).                { A = E; }
aexpr(A) ::= aexpr(L) ASSIGN(T) aexpr(R). { A = build_binary(ctx, E_ASSIGN, L, T, R); }
aexpr(A) ::= aexpr(L) OPASSIGN(T) aexpr(R). { A = build_binary(ctx, E_ASSIGN, L, T, R); }
aexpr(A) ::= aexpr(C) QUESTION(T) expr(X) COLON aexpr(Y).
                                          { A = build_cond(ctx, C, T, X, Y); }
aexpr(A) ::= aexpr(C) QUESTION(T) COLON aexpr(Y).
                                          { A = build_cond(ctx, C, T, 0, Y); }
aexpr(A) ::= aexpr(L) OROR(T) aexpr(R).   { A = build_binary(ctx, E_LOR, L, T, R); }
aexpr(A) ::= aexpr(L) ANDAND(T) aexpr(R). { A = build_binary(ctx, E_LAND, L, T, R); }
aexpr(A) ::= aexpr(L) OR(T) aexpr(R).     { A = build_binary(ctx, E_BINARY, L, T, R); }
aexpr(A) ::= aexpr(L) XOR(T) aexpr(R).    { A = build_binary(ctx, E_BINARY, L, T, R); }
aexpr(A) ::= aexpr(L) AMP(T) aexpr(R).    { A = build_binary(ctx, E_BINARY, L, T, R); }
aexpr(A) ::= aexpr(L) EQ(T) aexpr(R).     { A = build_binary(ctx, E_BINARY, L, T, R); }
aexpr(A) ::= aexpr(L) NE(T) aexpr(R).     { A = build_binary(ctx, E_BINARY, L, T, R); }
aexpr(A) ::= aexpr(L) LT(T) aexpr(R).     { A = build_binary(ctx, E_BINARY, L, T, R); }
aexpr(A) ::= aexpr(L) GT(T) aexpr(R).     { A = build_binary(ctx, E_BINARY, L, T, R); }
aexpr(A) ::= aexpr(L) LE(T) aexpr(R).     { A = build_binary(ctx, E_BINARY, L, T, R); }
aexpr(A) ::= aexpr(L) GE(T) aexpr(R).     { A = build_binary(ctx, E_BINARY, L, T, R); }
aexpr(A) ::= aexpr(L) SHL(T) aexpr(R).    { A = build_binary(ctx, E_BINARY, L, T, R); }
aexpr(A) ::= aexpr(L) SHR(T) aexpr(R).    { A = build_binary(ctx, E_BINARY, L, T, R); }
aexpr(A) ::= aexpr(L) PLUS(T) aexpr(R).   { A = build_binary(ctx, E_BINARY, L, T, R); }
aexpr(A) ::= aexpr(L) MINUS(T) aexpr(R).  { A = build_binary(ctx, E_BINARY, L, T, R); }
aexpr(A) ::= aexpr(L) STAR(T) aexpr(R).   { A = build_binary(ctx, E_BINARY, L, T, R); }
aexpr(A) ::= aexpr(L) SLASH(T) aexpr(R).  { A = build_binary(ctx, E_BINARY, L, T, R); }
aexpr(A) ::= aexpr(L) PERCENT(T) aexpr(R). { A = build_binary(ctx, E_BINARY, L, T, R); }

cast_expr(A) ::= unary_expr(E).           { A = E; }
cast_expr(A) ::= LPAREN(L) type_name(N) RPAREN cast_expr(E).
                                          { A = build_prefix(ctx, E_CAST, L, E); A->b = N; }

unary_expr(A) ::= postfix_expr(E).        { A = E; }
unary_expr(A) ::= INC(T) unary_expr(E).   { A = build_prefix(ctx, E_UNARY, T, E); }
unary_expr(A) ::= DEC(T) unary_expr(E).   { A = build_prefix(ctx, E_UNARY, T, E); }
unary_expr(A) ::= AMP(T) cast_expr(E).    { A = build_prefix(ctx, E_UNARY, T, E); }
unary_expr(A) ::= STAR(T) cast_expr(E).   { A = build_prefix(ctx, E_UNARY, T, E); }
unary_expr(A) ::= PLUS(T) cast_expr(E).   { A = build_prefix(ctx, E_UNARY, T, E); }
unary_expr(A) ::= MINUS(T) cast_expr(E).  { A = build_prefix(ctx, E_UNARY, T, E); }
unary_expr(A) ::= TILDE(T) cast_expr(E).  { A = build_prefix(ctx, E_UNARY, T, E); }
unary_expr(A) ::= NOT(T) cast_expr(E).    { A = build_prefix(ctx, E_UNARY, T, E); }
unary_expr(A) ::= REAL(T) cast_expr(E).   { A = build_prefix(ctx, E_UNARY, T, E); }
unary_expr(A) ::= IMAG(T) cast_expr(E).   { A = build_prefix(ctx, E_UNARY, T, E); }
unary_expr(A) ::= AWAIT(T) cast_expr(E).  { A = build_prefix(ctx, E_AWAIT, T, E); }
unary_expr(A) ::= SIZEOF(T) unary_expr(E). { A = build_prefix(ctx, E_SIZEOF, T, E); }
unary_expr(A) ::= SIZEOF(T) LPAREN type_name(N) RPAREN(R).
                                          { A = build_span(ctx, E_SIZEOF, T, R); A->b = N; }
unary_expr(A) ::= ALIGNOF(T) unary_expr(E). { A = build_prefix(ctx, E_ALIGNOF, T, E); }
unary_expr(A) ::= ALIGNOF(T) LPAREN type_name(N) RPAREN(R).
                                          { A = build_span(ctx, E_ALIGNOF, T, R); A->b = N; }
unary_expr(A) ::= ANDAND(T) IDENT(I).     { A = build_span(ctx, E_LABELADDR, T, I); }

postfix_expr(A) ::= primary_expr(E).      { A = E; }
postfix_expr(A) ::= postfix_expr(E) LBRACKET expr(I) RBRACKET(R).
                                          { A = build_postfix(ctx, E_INDEX, E, I, R); }
postfix_expr(A) ::= postfix_expr(E) LPAREN RPAREN(R).
                                          { A = build_postfix(ctx, E_CALL, E, 0, R); }
postfix_expr(A) ::= postfix_expr(E) LPAREN args(L) RPAREN(R).
                                          { A = build_postfix(ctx, E_CALL, E, L, R); }
postfix_expr(A) ::= postfix_expr(E) DOT IDENT(I).
                                          { A = build_postfix(ctx, E_MEMBER, E, 0, I); }
postfix_expr(A) ::= postfix_expr(E) ARROW IDENT(I).
                                          { A = build_postfix(ctx, E_MEMBER, E, 0, I); }
postfix_expr(A) ::= postfix_expr(E) INC(T). { A = build_postfix(ctx, E_POSTFIX, E, 0, T); }
postfix_expr(A) ::= postfix_expr(E) DEC(T). { A = build_postfix(ctx, E_POSTFIX, E, 0, T); }
postfix_expr(A) ::= LPAREN(L) type_name(N) RPAREN LBRACE init_list(I) comma_opt RBRACE(R).
                                          { A = build_complit(ctx, L, N, I, R); }
postfix_expr(A) ::= LPAREN(L) type_name(N) RPAREN LBRACE RBRACE(R).
                                          { A = build_complit(ctx, L, N, 0, R); }

args(A) ::= aexpr(E).                     { A = build_list(0, E); }
args(A) ::= args(L) COMMA aexpr(E).       { A = build_list(L, E); }

primary_expr(A) ::= IDENT(I).             { A = build_leaf(ctx, E_IDENT, I); }
primary_expr(A) ::= NUMBER(T).            { A = build_leaf(ctx, E_CONST, T); }
primary_expr(A) ::= CHARCONST(T).         { A = build_leaf(ctx, E_CONST, T); }
primary_expr(A) ::= strings(S).           { A = S; }
primary_expr(A) ::= LPAREN(L) expr(E) RPAREN(R).
                                          { A = build_wrap(ctx, E_PAREN, E, L, R); }
primary_expr(A) ::= LPAREN(L) compound_statement(S) RPAREN(R).
                                          { A = build_wrap(ctx, E_STMTEXPR, S, L, R); }
primary_expr(A) ::= GENERIC(T) LPAREN aexpr(C) COMMA generic_list(L) RPAREN(R).
                                          { A = build_span(ctx, E_GENERIC, T, R); A->a = C; A->b = L; }
primary_expr(A) ::= BUILTIN_VA_ARG(T) LPAREN aexpr(E) COMMA type_name(N) RPAREN(R).
                                          { A = build_span(ctx, E_BUILTIN, T, R); A->a = E; A->b = N; }
primary_expr(A) ::= BUILTIN_OFFSETOF(T) LPAREN type_name(N) COMMA offsetof_member RPAREN(R).
                                          { A = build_span(ctx, E_BUILTIN, T, R); A->b = N; }
primary_expr(A) ::= BUILTIN_TYPES_COMPAT(T) LPAREN type_name(N) COMMA type_name(M) RPAREN(R).
                                          { A = build_span(ctx, E_BUILTIN, T, R); A->b = N; A->c = M; }

strings(A) ::= STRING(T).                 { A = build_leaf(ctx, E_STRING, T); }
strings(A) ::= strings(S) STRING(T).      { A = S; A->last = T; }

/* The associations' expressions, in order (their types need no walking). */
generic_list(A) ::= generic_assoc(E).                        { A = build_list(0, E); }
generic_list(A) ::= generic_list(L) COMMA generic_assoc(E).  { A = build_list(L, E); }
generic_assoc(A) ::= type_name COLON aexpr(E).               { A = E; }
generic_assoc(A) ::= DEFAULT COLON aexpr(E).                 { A = E; }

offsetof_member ::= IDENT.
offsetof_member ::= offsetof_member DOT IDENT.
offsetof_member ::= offsetof_member LBRACKET expr RBRACKET.
