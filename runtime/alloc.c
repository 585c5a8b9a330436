/* alloc.c - memory for boxed frames (a task header plus its root frame).
 *
 * Tasks are small and numerous: a million sleeping tasks is a normal load.
 * malloc rounds every block up to 16 bytes and adds an 8-byte header, a
 * tenth of a small task.  Frames whose alignment is at most 8 bytes come
 * instead from per-thread size classes of 8-byte steps, carved from big
 * chunks, with no header: the size class is recomputed from the frame's
 * info when it is freed.  Freed blocks go to the freeing thread's list and
 * are reused for frames of the same class; chunks are never returned.
 *
 * Sanitizer builds, and ACX_MALLOC=1 in the environment (for valgrind),
 * use malloc for every frame so tools see each block.
 */
#include <stdint.h>
#include <stdlib.h>

#include "acx_internal.h"

#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define ACX__NO_SLAB 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer) || \
    __has_feature(memory_sanitizer)
#define ACX__NO_SLAB 1
#endif
#endif

enum {
    SLAB_STEP = 8,
    SLAB_MAX = 2048,                /* larger blocks: malloc */
    SLAB_CLASSES = SLAB_MAX / SLAB_STEP,
    SLAB_CHUNK = 64 * 1024,
};

struct slab_cache {
    void *free[SLAB_CLASSES + 1]; /* per class: freed blocks, linked */
    char *bump, *end;             /* the unused rest of the last chunk */
};

static __thread struct slab_cache slab;
static int slab_off; /* ACX_MALLOC=1: set before main, read-only after */

__attribute__((constructor)) static void slab_config(void)
{
    const char *e = getenv("ACX_MALLOC");
#ifdef ACX__NO_SLAB
    (void)e;
    slab_off = 1;
#else
    slab_off = e != NULL && *e != '\0' && *e != '0';
#endif
}

/* The class of a frame block of SIZE bytes (task header included), or 0
 * when it must come from malloc. */
static size_t slab_class(size_t size, const acx__info *info)
{
    if (slab_off || info == NULL || info->align == 0 || info->align > 8 ||
        size > SLAB_MAX)
        return 0;
    return (size + SLAB_STEP - 1) / SLAB_STEP;
}

static void *slab_get(size_t cls)
{
    void *p = slab.free[cls];
    if (p != NULL) {
        slab.free[cls] = *(void **)p;
        return p;
    }
    size_t n = cls * SLAB_STEP;
    if ((size_t)(slab.end - slab.bump) < n) {
        char *chunk = malloc(SLAB_CHUNK);
        if (chunk == NULL)
            return NULL;
        /* the rest of the old chunk is lost: at most SLAB_MAX bytes */
        slab.bump = chunk;
        slab.end = chunk + SLAB_CHUNK;
    }
    p = slab.bump;
    slab.bump += n;
    return p;
}

/* A block for a task header and a frame of FRAME_SIZE bytes described by
 * INFO.  Sets *SLABBED when it came from the size classes. */
/* Frames aligned beyond malloc's 16 bytes (`_Alignas(64)` locals): the
 * block starts PAD bytes before the task so that the frame after the
 * task lands on its alignment. */
static int over_aligned(const acx__info *info)
{
    return info != NULL && info->align > 16;
}

static size_t over_pad(const acx__info *info)
{
    return (info->align - sizeof(acx_task) % info->align) % info->align;
}

void *acx__frame_block(size_t frame_size, const acx__info *info,
                       int *slabbed)
{
    size_t size = sizeof(acx_task) + frame_size;
    if (over_aligned(info)) {
        size_t a = info->align, pad = over_pad(info);
        size_t total = (pad + size + a - 1) / a * a;
        char *base = aligned_alloc(a, total);
        *slabbed = 0;
        return base ? base + pad : NULL;
    }
    size_t cls = info && info->size == frame_size ? slab_class(size, info)
                                                  : 0;
    *slabbed = cls != 0;
    return cls ? slab_get(cls) : malloc(size);
}

void acx__frame_block_free(void *block, const acx__info *info, int slabbed)
{
    if (!slabbed) {
        free(over_aligned(info) ? (char *)block - over_pad(info)
                                : (char *)block);
        return;
    }
    size_t cls = slab_class(sizeof(acx_task) + info->size, info);
    *(void **)block = slab.free[cls];
    slab.free[cls] = block;
}
