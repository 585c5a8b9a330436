/* build.h - AST builders called from the grammar's actions (ast.c). */
#ifndef ACX_BUILD_H
#define ACX_BUILD_H

#include "front.h"

node *build_leaf(acx_parse *c, int kind, uint32_t tok);
node *build_span(acx_parse *c, int kind, uint32_t first, uint32_t last);
node *build_wrap(acx_parse *c, int kind, node *inner, uint32_t l, uint32_t r);
node *build_anon(acx_parse *c, uint32_t at);
node *build_list(node *list, node *item);
void build_ext(acx_parse *c, node *ext);
node *build_fdef_head(acx_parse *c, node *specs, node *declr);
node *build_funcdef(acx_parse *c, node *head, node *body);
node *build_decl(acx_parse *c, node *specs, node *list, uint32_t semi);
node *build_specs(acx_parse *c, node *specs, node *piece);
node *build_spec(acx_parse *c, uint32_t tok, unsigned flags, node *child);
node *build_typename_spec(acx_parse *c, uint32_t tok);
node *build_typeof(acx_parse *c, uint32_t tok, node *what, uint32_t r);
node *build_struct(acx_parse *c, uint32_t kw, uint32_t tag, int has_tag,
                   node *members, uint32_t last);
node *build_member(acx_parse *c, node *specs, node *list, uint32_t semi);
node *build_bitfield(acx_parse *c, node *declr, node *width);
node *build_enum(acx_parse *c, uint32_t kw, uint32_t tag, int has_tag,
                 node *list, uint32_t last);
node *build_enumerator(acx_parse *c, uint32_t name, node *value);
node *build_initdecl(acx_parse *c, node *declr, node *init);
node *build_ptr(acx_parse *c, uint32_t star, uint32_t quals, node *inner);
node *build_pointer_apply(node *ptr, node *declr);
node *build_suffix(acx_parse *c, int kind, node *declr, node *x, uint32_t r);
node *build_param(acx_parse *c, node *specs, node *declr);
node *build_typename(acx_parse *c, node *specs, node *declr);
node *build_desig(acx_parse *c, uint32_t first, node *init);
node *build_stmt(acx_parse *c, int kind, uint32_t first, uint32_t last,
                 node *a, node *b, node *x);
node *build_for(acx_parse *c, uint32_t tok, node *init, node *cond,
                node *next, node *body);
node *build_binary(acx_parse *c, int kind, node *l, uint32_t op, node *r);
node *build_cond(acx_parse *c, node *cond, uint32_t q, node *x, node *y);
node *build_prefix(acx_parse *c, int kind, uint32_t op, node *e);
node *build_postfix(acx_parse *c, int kind, node *e, node *x, uint32_t r);
node *build_complit(acx_parse *c, uint32_t l, node *type, node *init,
                    uint32_t r);
void build_syntax_error(acx_parse *c, int major, uint32_t tok, int expected);
void build_overflow(acx_parse *c);

#endif
