/* test_alloc.c - frame blocks: size classes, reuse, alignment, threads. */
#include <CUnit/CUnit.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>

#include "acx_internal.h"
#include "suites.h"

struct fr_small {
    ACX__FRAME_PREFIX;
    int acx__ret;
    char pad[40];
};

static int small_body(acx_coro *c)
{
    (void)c;
    return ACX__DONE;
}

static const acx__info small_info = {
    .body = small_body, .name = "small", .file = __FILE__,
    .size = sizeof(struct fr_small), .align = _Alignof(struct fr_small),
};

struct fr_wide {
    ACX__FRAME_PREFIX;
    _Alignas(16) long double acx__ret;
};

static const acx__info wide_info = {
    .body = small_body, .name = "wide", .file = __FILE__,
    .size = sizeof(struct fr_wide), .align = _Alignof(struct fr_wide),
};

static void test_alignment(void)
{
    for (int i = 0; i < 100; i++) {
        acx_coro *a = acx__coro_alloc(sizeof(struct fr_small), &small_info);
        acx_coro *b = acx__coro_alloc(sizeof(struct fr_wide), &wide_info);
        CU_ASSERT_PTR_NOT_NULL_FATAL(a);
        CU_ASSERT_PTR_NOT_NULL_FATAL(b);
        CU_ASSERT_EQUAL((uintptr_t)a % 8, 0);
        CU_ASSERT_EQUAL((uintptr_t)b % 16, 0); /* 16-aligned frames too */
        CU_ASSERT_EQUAL(ACX__STATE(a), 0);
        CU_ASSERT_PTR_EQUAL(a->info, &small_info);
        acx_coro_free(a);
        acx_coro_free(b);
    }
}

static void test_reuse(void)
{
    enum { N = 1000 };
    acx_coro *c[N];
    for (int i = 0; i < N; i++) {
        c[i] = acx__coro_alloc(sizeof(struct fr_small), &small_info);
        CU_ASSERT_PTR_NOT_NULL_FATAL(c[i]);
        ((struct fr_small *)c[i])->pad[39] = (char)i; /* writable */
    }
    for (int i = 0; i < N; i++)
        for (int j = i + 1; j < N && j < i + 4; j++)
            CU_ASSERT_PTR_NOT_EQUAL(c[i], c[j]);
    for (int i = 0; i < N; i++)
        acx_coro_free(c[i]);
    /* freed blocks serve the next frames (size classes or malloc alike) */
    for (int i = 0; i < N; i++) {
        c[i] = acx__coro_alloc(sizeof(struct fr_small), &small_info);
        CU_ASSERT_PTR_NOT_NULL_FATAL(c[i]);
    }
    for (int i = 0; i < N; i++)
        acx_coro_free(c[i]);
}

/* A frame allocated in one thread may be freed in another. */
static void *free_them(void *arg)
{
    acx_coro **c = arg;
    for (int i = 0; i < 256; i++)
        acx_coro_free(c[i]);
    for (int i = 0; i < 256; i++) { /* and this thread allocates again */
        c[i] = acx__coro_alloc(sizeof(struct fr_small), &small_info);
        if (c[i] == NULL)
            return (void *)1;
    }
    for (int i = 0; i < 256; i++)
        acx_coro_free(c[i]);
    return NULL;
}

static void test_cross_thread(void)
{
    acx_coro *c[256];
    for (int i = 0; i < 256; i++)
        c[i] = acx__coro_alloc(sizeof(struct fr_small), &small_info);
    pthread_t th;
    CU_ASSERT_EQUAL_FATAL(pthread_create(&th, NULL, free_them, c), 0);
    void *r;
    pthread_join(th, &r);
    CU_ASSERT_PTR_NULL(r);
}

static void test_bad_sizes(void)
{
    CU_ASSERT_PTR_NULL(acx__coro_alloc(1, &small_info)); /* below a header */
    CU_ASSERT_PTR_NULL(acx__coro_alloc(SIZE_MAX, &small_info));
    acx_coro_free(NULL);
}

int acx_test_add_alloc(void)
{
    CU_pSuite s = CU_add_suite("alloc", NULL, NULL);
    if (!s)
        return -1;
    if (!CU_add_test(s, "frames are aligned", test_alignment) ||
        !CU_add_test(s, "blocks are reused", test_reuse) ||
        !CU_add_test(s, "freed in another thread", test_cross_thread) ||
        !CU_add_test(s, "bad sizes", test_bad_sizes))
        return -1;
    return 0;
}
