/* arena.c - bump allocation for the AST and strings; freed all at once. */
#include <stdlib.h>
#include <string.h>

#include "front.h"

struct chunk {
    struct chunk *prev;
    size_t used, size;
    _Alignas(16) char data[];
};

struct arena {
    struct chunk *top;
};

struct arena *arena_new(void)
{
    return calloc(1, sizeof(struct arena));
}

/* Never returns NULL: the compiler has no way to go on without memory. */
void *arena_alloc(struct arena *a, size_t n)
{
    n = (n + 15) & ~(size_t)15;
    struct chunk *c = a->top;
    if (!c || c->size - c->used < n) {
        size_t size = n > 1 << 20 ? n : 1 << 20;
        c = malloc(sizeof *c + size);
        if (!c) {
            fputs("acxc: out of memory\n", stderr);
            exit(1);
        }
        c->prev = a->top;
        c->used = 0;
        c->size = size;
        a->top = c;
    }
    void *p = c->data + c->used;
    c->used += n;
    memset(p, 0, n);
    return p;
}

char *arena_strndup(struct arena *a, const char *s, size_t n)
{
    char *p = arena_alloc(a, n + 1);
    memcpy(p, s, n);
    p[n] = 0;
    return p;
}

void arena_free(struct arena *a)
{
    if (!a)
        return;
    for (struct chunk *c = a->top, *prev; c; c = prev) {
        prev = c->prev;
        free(c);
    }
    free(a);
}
