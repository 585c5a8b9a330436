/* scenarios.h - the programs the fault tests run (scenarios.acx).  Each
 * is a whole acx_run: its result (the *_WANT value when all went right)
 * or a negative errno. */
#ifndef ACX_FAULT_SCENARIOS_H
#define ACX_FAULT_SCENARIOS_H

enum {
    SCEN_PIPE_ITEMS = 20,
    SCEN_FUT_N = 5,
    SCEN_TASKS_WANT = 1 + 60 + 300 + 1000,
    SCEN_PIPE_WANT = SCEN_PIPE_ITEMS * (SCEN_PIPE_ITEMS + 1) / 2,
    SCEN_FUT_WANT = 7 * SCEN_FUT_N,
    SCEN_EXEC_WANT = 1 + 4 + 9 + 16 + 100,
    SCEN_ECHO_WANT = 5 + 15 + 3,
    SCEN_TIMERS_WANT = 123,
    SCEN_ACCEPT_WANT = 1,
    SCEN_PIPE_KIB = 16,
    SCEN_PIPEIO_WANT = SCEN_PIPE_KIB,
    /* procscen.c */
    SCEN_PROC_WANT = 1 + 4 + 9 + 25 + 36 + 49 + 64,
    SCEN_PROCKILL_WANT = 1 + 4 + 16 + 25 + 36, /* 3 * 3: its worker died */
    SCEN_POOL_WANT = 1 + 4 + 9 + 16 + 25 + 36,
    SCEN_EXECAPI_WANT = 1 + 4 + 9 + 16 + 25 + 36 + 49 + 64,
    SCEN_PROCAWAIT_WANT = 1 + 4 + 9,
};

int scen_tasks(void);
int scen_pipeline(void);
int scen_futures(void);
int scen_executor(void);
int scen_echo(void);
int scen_timers(void);
int scen_pipe(void);
int scen_accept(void);  /* 1 + 10 * connections dropped */
int scen_lost_wake(void); /* run with every eventfd write failing */
int scen_procawait(void); /* coroutines await a process pool's futures */

/* procscen.c: pools used from plain threads.  After the faulty part the
 * same pool must serve again (-ENOTRECOVERABLE if not). */
int scen_procpool(void);  /* process pool: submit, result, map */
int scen_procinit(void);  /* the same, with an initializer */
int scen_prockill(void);  /* one task's worker dies: only it fails */
int scen_procterm(void);  /* terminate mid-work: 1 when all is in order */
int scen_pool_proc(void); /* Pool: apply, map, imap; processes */
int scen_pool_thr(void);  /* ... threads */
int scen_exec_api(void);  /* executor: submit, wait, as_completed, map */

#endif
