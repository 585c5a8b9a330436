/* debug.c - introspection: task dumps (async backtraces with .acx lines),
 * the stall report, and the slow-step detector.
 *
 * An async backtrace needs no bookkeeping at run time: a suspended task's
 * frames already form a chain from its innermost frame (t->top) through
 * ->parent to its root, each generated frame's resume state indexes its
 * await-point table (the .acx file:line of the await), and a runtime leaf
 * can describe what it waits on.  Dumps only read that chain.
 */
#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "acx_internal.h"

/* ---- the report stream ----------------------------------------------- */

static __thread FILE *report_stream;

FILE *acx_set_report_stream(FILE *out)
{
    FILE *old = report_stream ? report_stream : stderr;
    report_stream = out;
    return old;
}

static FILE *report_out(void)
{
    return report_stream ? report_stream : stderr;
}

/* ---- task dumps -------------------------------------------------------- */

static const char *task_state(const acx_task *t)
{
    if (t->flags & ACX__T_DONE)
        return "done";
    if (t == acx__cur_task)
        return "running";
    if (t->flags & ACX__T_READY)
        return "ready";
    return "parked";
}

/* The head line: name, spawn site, state. */
static void dump_head(const acx_task *t, FILE *out)
{
    const char *file;
    int line;
    fprintf(out, "task '%s'", acx_task_name(t));
    if (acx_task_spawn_site(t, &file, &line) == 0)
        fprintf(out, " (spawned at %s:%d)", file, line);
    fprintf(out, ": %s", task_state(t));
    if (t->flags & ACX__T_DONE)
        fprintf(out, ", result %d", acx_task_result_int(t));
    if (t->flags & ACX__T_CANCEL)
        fputs(", cancel requested", out);
    fputc('\n', out);
}

/* What leaf C waits on; only the innermost frame is asked, since it is
 * the one parked (an outer runtime frame merely runs its child). */
static int leaf_describe(const acx_coro *c, char *buf, size_t size)
{
    if (c->info->describe == NULL)
        return -1;
    return c->info->describe(c, buf, size);
}

/* One frame of the backtrace. */
static void dump_frame(const acx_task *t, const acx_coro *c, int k, FILE *out)
{
    const char *file, *func;
    int line;
    char what[160];
    if (acx_coro_where(c, &file, &line, &func) == 0)
        fprintf(out, "  #%d %s at %s:%d%s\n", k, func, file, line,
                ACX__STATE(c) == 0 ? " (not started)" : "");
    else if (c == t->top && leaf_describe(c, what, sizeof what) >= 0)
        fprintf(out, "  #%d %s: %s\n", k, c->info->name, what);
    else
        fprintf(out, "  #%d %s\n", k, c->info->name);
}

int acx_task_dump(const acx_task *t, FILE *out)
{
    if (t == NULL || out == NULL)
        return -EINVAL;
    dump_head(t, out);
    if (t->flags & ACX__T_DONE)
        return 0;
    int k = 0;
    for (const acx_coro *c = t->top; c != NULL; c = c->parent)
        dump_frame(t, c, k++, out);
    return 0;
}

int acx_dump_all(FILE *out)
{
    acx_loop *l = acx__loop_cur;
    if (l == NULL || out == NULL)
        return -EINVAL;
    size_t n = acx_all_tasks(NULL, 0);
    fprintf(out, "acx: %zu task(s) not finished\n", n);
    int dumped = 0;
    for (uint32_t i = 0; i < l->ntasks; i++) {
        if (l->tasks[i]->flags & ACX__T_DONE)
            continue;
        acx_task_dump(l->tasks[i], out);
        dumped++;
    }
    fflush(out);
    return dumped;
}

/* snprintf at BUF + *LEN, keeping the length the whole text needs. */
__attribute__((format(printf, 4, 5))) static void
append(char *buf, size_t size, size_t *len, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    size_t at = *len < size ? *len : size;
    int n = vsnprintf(buf ? buf + at : NULL, size - at, fmt, ap);
    va_end(ap);
    if (n > 0)
        *len += (size_t)n;
}

int acx_task_describe(const acx_task *t, char *buf, size_t size)
{
    if (t == NULL || (buf == NULL && size != 0))
        return -EINVAL;
    size_t len = 0;
    append(buf, size, &len, "'%s' %s", acx_task_name(t), task_state(t));
    if (t->flags & ACX__T_DONE) {
        append(buf, size, &len, ", result %d", acx_task_result_int(t));
        return (int)len;
    }
    const char *file, *func;
    int line;
    if (acx_task_where(t, &file, &line, &func) == 0)
        append(buf, size, &len, " in %s at %s:%d", func, file, line);
    char what[160];
    if (leaf_describe(t->top, what, sizeof what) >= 0)
        append(buf, size, &len, " (waits on: %s)", what);
    if (t->flags & ACX__T_CANCEL)
        append(buf, size, &len, ", cancel requested");
    return (int)len;
}

/* ---- reports the loop makes ----------------------------------------------- */

void acx__dump_report(acx_loop *l)
{
    (void)l;
    FILE *out = report_out();
    fputs("acx: task dump (dump signal)\n", out);
    acx_dump_all(out);
}

void acx__stall_report(acx_loop *l)
{
    FILE *out = report_out();
    fprintf(out,
            "acx: stall: %u task(s) suspended, none ready, no timer "
            "pending and nothing outside the loop to wake them:\n",
            l->live);
    for (uint32_t i = 0; i < l->ntasks; i++)
        if (!(l->tasks[i]->flags & ACX__T_DONE))
            acx_task_dump(l->tasks[i], out);
    fflush(out);
}

/* ---- slow steps ------------------------------------------------------------ */

_Atomic int64_t acx__slow_step_ns;
static pthread_once_t slow_env_once = PTHREAD_ONCE_INIT;

static __thread void (*slow_handler)(const acx_slow_step *, void *);
static __thread void *slow_handler_arg;

static void slow_env_read(void)
{
    const char *e = getenv("ACX_SLOW_STEP_MS");
    long long ms = e != NULL ? atoll(e) : 0;
    if (ms > 0 && ms < INT64_MAX / 1000000)
        atomic_store(&acx__slow_step_ns, (int64_t)ms * 1000000);
}

void acx_set_slow_step_ms(int64_t ms)
{
    pthread_once(&slow_env_once, slow_env_read); /* an explicit call wins */
    if (ms < 0)
        ms = 0;
    if (ms > INT64_MAX / 1000000)
        ms = INT64_MAX / 1000000;
    atomic_store(&acx__slow_step_ns, ms * 1000000);
}

int64_t acx_slow_step_ms(void)
{
    pthread_once(&slow_env_once, slow_env_read);
    return atomic_load(&acx__slow_step_ns) / 1000000;
}

void acx_set_slow_step_handler(void (*fn)(const acx_slow_step *s, void *arg),
                               void *arg)
{
    slow_handler = fn;
    slow_handler_arg = arg;
}

void acx__debug_start(acx_loop *l)
{
    pthread_once(&slow_env_once, slow_env_read);
    acx__sigs_start(l);
}

static void slow_report_default(const acx_slow_step *s)
{
    FILE *out = report_out();
    fprintf(out, "acx: slow step: task '%s' ran %.3f ms (threshold %lld ms)",
            s->name, (double)s->ns / 1e6,
            (long long)(s->threshold_ns / 1000000));
    if (s->begin_file != NULL)
        fprintf(out, ", resumed at %s at %s:%d", s->begin_func,
                s->begin_file, s->begin_line);
    if (s->end_file != NULL)
        fprintf(out, ", suspended at %s at %s:%d", s->end_func, s->end_file,
                s->end_line);
    else
        fputs(", finished", out);
    fputc('\n', out);
    fflush(out);
}

/* Is T still registered?  Only asked after a slow step: a released task
 * that finished was freed, and T must then not be touched (a scan of
 * pointers, never a dereference). */
static int task_alive(const acx_loop *l, const acx_task *t)
{
    for (uint32_t i = 0; i < l->ntasks; i++)
        if (l->tasks[i] == t)
            return 1;
    return 0;
}

/* What a report needs is taken before the step, because the step may end
 * by freeing the task (a released task that finishes), and cheaply,
 * because it is taken for every step: the frame and state the step
 * resumes at (the lines are looked up only for a report) and, for a
 * released task with a name of its own, a copy of that name. */
void acx__task_run_timed(acx_task *t)
{
    acx_loop *l = acx__loop_cur;
    const acx_coro *at = t->top;
    while (at != NULL && at->info->sites == NULL)
        at = at->parent; /* a leaf finishes at once: its caller goes on */
    const acx__info *info = at ? at->info : NULL;
    uint32_t state = at ? ACX__STATE(at) : 0;
    const char *fname = acx__task_root(t)->info->name;
    char name[64] = "";
    if ((t->flags & (ACX__T_EXTRA | ACX__T_RELEASED)) ==
        (ACX__T_EXTRA | ACX__T_RELEASED))
        snprintf(name, sizeof name, "%s", acx_task_name(t));

    int64_t t0 = acx__now_ns();
    acx__task_run(t);
    acx_slow_step s = {.task = t, .ns = acx__now_ns() - t0};
    s.threshold_ns = atomic_load_explicit(&acx__slow_step_ns,
                                          memory_order_relaxed);
    if (s.threshold_ns == 0 || s.ns <= s.threshold_ns)
        return;

    if (info != NULL) {
        const acx__site *site = &info->sites[state < info->nsites ? state : 0];
        s.begin_func = info->name;
        s.begin_file = site->file;
        s.begin_line = site->line;
    }
    if (!task_alive(l, t)) {
        s.task = NULL;
        s.name = name[0] ? name : fname;
    } else {
        s.name = acx_task_name(t);
        if (acx_task_where(t, &s.end_file, &s.end_line, &s.end_func) != 0)
            s.end_file = NULL; /* finished */
    }
    acx__cur_task = NULL; /* the report runs outside any task */
    if (slow_handler != NULL)
        slow_handler(&s, slow_handler_arg);
    else
        slow_report_default(&s);
}
