/* symtab.c - the scoped name table behind the typedef-name lexer hack.
 *
 * Only names that matter for classification are stored: typedef names,
 * and ordinary identifiers that shadow one.  Popping a scope undoes its
 * entries, so lookups always see the innermost declaration.
 */
#include <stdlib.h>
#include <string.h>

#include "front.h"

struct entry {
    const char *name;
    size_t len;
    int kind;
    void *data;
    struct entry *chain; /* same bucket */
    struct entry *undo;  /* previous entry of the same scope */
};

struct symtab {
    struct entry **buckets;
    size_t nbuckets;
    struct entry *undo;     /* entries of all open scopes, newest first */
    struct entry **marks;   /* undo position at each scope's start */
    int depth, capmarks;
};

/* FNV-1a: short names, no need for more. */
size_t name_hash(const char *s, size_t n)
{
    size_t h = 2166136261u;
    for (size_t i = 0; i < n; i++)
        h = (h ^ (unsigned char)s[i]) * 16777619u;
    return h;
}

struct symtab *symtab_new(void)
{
    struct symtab *t = calloc(1, sizeof *t);
    if (!t)
        return NULL;
    t->nbuckets = 4096;
    t->buckets = calloc(t->nbuckets, sizeof *t->buckets);
    if (!t->buckets) {
        free(t);
        return NULL;
    }
    return t;
}

void symtab_free(struct symtab *t)
{
    if (!t)
        return;
    for (struct entry *e = t->undo, *n; e; e = n) {
        n = e->undo;
        free(e);
    }
    free(t->buckets);
    free(t->marks);
    free(t);
}

void symtab_push(struct symtab *t)
{
    if (t->depth == t->capmarks) {
        int cap = t->capmarks ? t->capmarks * 2 : 64;
        struct entry **m = realloc(t->marks, (size_t)cap * sizeof *m);
        if (!m)
            abort();
        t->marks = m;
        t->capmarks = cap;
    }
    t->marks[t->depth++] = t->undo;
}

void symtab_pop(struct symtab *t)
{
    if (t->depth == 0)
        return; /* unbalanced '}' in bad input: nothing to undo */
    struct entry *mark = t->marks[--t->depth];
    while (t->undo != mark) {
        struct entry *e = t->undo;
        struct entry **p = &t->buckets[name_hash(e->name, e->len) % t->nbuckets];
        while (*p != e)
            p = &(*p)->chain;
        *p = e->chain;
        t->undo = e->undo;
        free(e);
    }
}

void symtab_set(struct symtab *t, const char *name, size_t len, int kind,
                void *data)
{
    struct entry *e = malloc(sizeof *e);
    if (!e)
        abort();
    struct entry **b = &t->buckets[name_hash(name, len) % t->nbuckets];
    e->name = name;
    e->len = len;
    e->kind = kind;
    e->data = data;
    e->chain = *b; /* newest first: shadows older entries */
    *b = e;
    e->undo = t->undo;
    t->undo = e;
}

int symtab_get(struct symtab *t, const char *name, size_t len, void **data)
{
    for (struct entry *e = t->buckets[name_hash(name, len) % t->nbuckets]; e;
         e = e->chain)
        if (e->len == len && memcmp(e->name, name, len) == 0) {
            if (data)
                *data = e->data;
            return e->kind;
        }
    return 0;
}
