/* suites.h - the CUnit suites of tests/unit; each file adds one suite. */
#ifndef ACX_TEST_SUITES_H
#define ACX_TEST_SUITES_H

struct acx_test_suite {
    const char *name;
    int (*add)(void); /* registers the suite; 0 on success */
};

int acx_test_add_lexer(void);
int acx_test_add_parser(void);
int acx_test_add_runtime(void);
int acx_test_add_core(void);
int acx_test_add_alloc(void);
int acx_test_add_throttle(void);
int acx_test_add_throttle_async(void);
int acx_test_add_signals(void);
int acx_test_add_signals_async(void);
int acx_test_add_group(void);
int acx_test_add_sync(void);
int acx_test_add_debug(void);
int acx_test_add_executor(void);
int acx_test_add_net(void);
int acx_test_add_bqueue(void);
int acx_test_add_pipe(void);
int acx_test_add_proc(void);
int acx_test_add_aio(void);
int acx_test_add_stream(void);
int acx_test_add_procpool(void);
int acx_test_add_pool(void);

static const struct acx_test_suite acx_test_suites[] = {
    {"lexer", acx_test_add_lexer},
    {"parser", acx_test_add_parser},
    {"runtime", acx_test_add_runtime},
    {"core", acx_test_add_core},
    {"alloc", acx_test_add_alloc},
    {"throttle", acx_test_add_throttle},
    {"throttle_async", acx_test_add_throttle_async},
    {"signals", acx_test_add_signals},
    {"signals_async", acx_test_add_signals_async},
    {"group", acx_test_add_group},
    {"sync", acx_test_add_sync},
    {"debug", acx_test_add_debug},
    {"executor", acx_test_add_executor},
    {"net", acx_test_add_net},
    {"bqueue", acx_test_add_bqueue},
    {"pipe", acx_test_add_pipe},
    {"proc", acx_test_add_proc},
    {"aio", acx_test_add_aio},
    {"stream", acx_test_add_stream},
    {"procpool", acx_test_add_procpool},
    {"pool", acx_test_add_pool},
    {0, 0},
};

#endif
