/* futmem.c - memory for futures.
 *
 * A burst of executor work allocates a future per task on the submitting
 * thread and frees them all soon after: through malloc that was a third
 * of the submitter's time (glibc's fast bins, consolidation, trimming).
 * Here a thread carves its futures out of a block of its own, one slot
 * after the other (a pointer bump, no lock); every slot handed out holds
 * a reference on its block, dropped when the future is freed, by
 * whichever thread; the block goes back to malloc with its last future.
 * Slots are whole cache-line pairs, so neighbouring futures, one being
 * completed by a worker while the next is written by the submitter, never
 * share a line.  A future that lives long keeps its block (16 KiB) alive.
 *
 * Sanitizer builds, and ACX_MALLOC=1 in the environment (for valgrind),
 * use malloc for every future so that the tools see each one.
 */
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>

#include "acx_internal.h"

#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define FUTMEM_OFF 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer) || \
    __has_feature(memory_sanitizer)
#define FUTMEM_OFF 1
#endif
#endif

enum {
    BLOCK = 16384,         /* bytes, and the blocks' alignment */
    HEAD = 64,             /* the block's header: its count, alone */
    SLOT = 128,
    SLOTS = (BLOCK - HEAD) / SLOT,
};

struct block {
    int live; /* slots not yet freed, unhanded ones included (atomic) */
};

static __thread struct block *cur;  /* the block this thread carves */
static __thread unsigned next_slot; /* its next free slot */
/* Frees of this thread not yet counted on their block: a run of frees
 * from one block (a burst's futures, freed in order) costs one atomic
 * operation, not one each.  Counted when a free from another block comes,
 * or when the thread ends. */
static __thread struct block *drop_block;
static __thread int drop_n;
static pthread_key_t exit_key;      /* gives the rest of CUR back at exit */
static pthread_once_t key_once = PTHREAD_ONCE_INIT;
static int key_ok;                  /* written once, under KEY_ONCE */
static int use_malloc; /* set before main, read-only after */

__attribute__((constructor)) static void futmem_config(void)
{
    const char *e = getenv("ACX_MALLOC");
#ifdef FUTMEM_OFF
    (void)e;
    use_malloc = 1;
#else
    use_malloc = e != NULL && *e != '\0' && *e != '0';
#endif
}

/* Drop N slots' references on B; the last one frees it. */
static void block_drop(struct block *b, int n)
{
    if (__atomic_sub_fetch(&b->live, n, __ATOMIC_ACQ_REL) == 0)
        free(b);
}

/* A thread ends: the frees it has not counted yet, and the slots of its
 * block it never handed out. */
static void thread_exit(void *arg)
{
    (void)arg;
    if (drop_block != NULL)
        block_drop(drop_block, drop_n);
    drop_block = NULL;
    if (cur != NULL && next_slot < SLOTS)
        block_drop(cur, SLOTS - (int)next_slot);
    cur = NULL;
}

/* (Without the key a thread's last block is kept when it exits.) */
static void make_key(void)
{
    key_ok = pthread_key_create(&exit_key, thread_exit) == 0;
}

void *acx__futmem_get(size_t size)
{
    if (use_malloc || size > SLOT)
        return malloc(size);
    if (cur == NULL || next_slot == SLOTS) {
        pthread_once(&key_once, make_key);
        struct block *b = aligned_alloc(BLOCK, BLOCK);
        if (b == NULL)
            return NULL;
        b->live = SLOTS;
        if (cur == NULL && drop_block == NULL && key_ok)
            pthread_setspecific(exit_key, b); /* non-NULL: run at exit */
        cur = b; /* the old one is all handed out: its futures own it */
        next_slot = 0;
    }
    char *p = (char *)cur + HEAD + SLOT * next_slot++;
    if (next_slot < SLOTS) { /* the next future's lines, on their way */
        __builtin_prefetch(p + SLOT, 1);
        __builtin_prefetch(p + SLOT + 64, 1);
    }
    return p;
}

void acx__futmem_put(void *p, size_t size)
{
    if (use_malloc || size > SLOT) {
        free(p);
        return;
    }
    struct block *b = (struct block *)((uintptr_t)p & ~(uintptr_t)(BLOCK - 1));
    if (b == drop_block) {
        drop_n++;
        return;
    }
    if (drop_block != NULL)
        block_drop(drop_block, drop_n);
    else if (cur == NULL && key_ok) /* a thread that only frees */
        pthread_setspecific(exit_key, b);
    drop_block = b;
    drop_n = 1;
}
