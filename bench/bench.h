/* bench.h - timing, memory and reporting helpers shared by the benchmarks.
 *
 * Header-only (static functions) so that it can be included from .acx
 * files (acxc passes plain C through) and from plain C baselines alike.
 *
 * bench_report() prints one readable line
 *     name: VALUE UNIT (baseline NAME: VALUE UNIT, ratio R x)  [target ...]
 * and, when $ACX_BENCH_TSV names a file, appends the same figures as a
 * tab-separated row to it; bench/run.sh builds its summary table from
 * those rows.  Benchmarks print figures: they never fail on a threshold.
 */
#ifndef ACX_BENCH_H
#define ACX_BENCH_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* CLOCK_MONOTONIC in nanoseconds, as a double. */
static inline double bench_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

static int bench_cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* The median of V[0..N) (sorts V). */
static inline double bench_median(double *v, int n)
{
    qsort(v, (size_t)n, sizeof *v, bench_cmp_double);
    return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

/* Resident set size in bytes, from /proc/self/statm; -1 if unreadable. */
static inline long bench_rss_bytes(void)
{
    FILE *f = fopen("/proc/self/statm", "r");
    long size, resident;
    if (f == NULL)
        return -1;
    int n = fscanf(f, "%ld %ld", &size, &resident);
    fclose(f);
    return n == 2 ? resident * sysconf(_SC_PAGESIZE) : -1;
}

/* How many repetitions a micro benchmark takes the median of ($BENCH_REPS,
 * default 5). */
static inline int bench_reps(void)
{
    const char *s = getenv("BENCH_REPS");
    int n = s ? atoi(s) : 0;
    return n > 0 && n <= 101 ? n : 5;
}

/* A scale factor for iteration counts ($BENCH_SCALE, default 1), so the
 * suite can be run quickly (0.1) or longer (10) by hand. */
static inline double bench_scale(void)
{
    const char *s = getenv("BENCH_SCALE");
    double x = s ? atof(s) : 0;
    return x > 0 ? x : 1;
}

/* Print NAME: VALUE UNIT beside the baseline (BASE_NAME may be NULL: no
 * baseline) and append a row to $ACX_BENCH_TSV. */
static inline void bench_report(const char *name, double value,
                                const char *unit, const char *base_name,
                                double base, const char *base_unit,
                                const char *target)
{
    if (base_name != NULL && base > 0)
        printf("%s: %.2f %s (baseline %s: %.2f %s, ratio %.2fx)%s%s\n", name,
               value, unit, base_name, base, base_unit, value / base,
               target && *target ? "  target: " : "", target ? target : "");
    else
        printf("%s: %.2f %s%s%s\n", name, value, unit,
               target && *target ? "  target: " : "", target ? target : "");
    fflush(stdout);
    const char *path = getenv("ACX_BENCH_TSV");
    if (path == NULL || *path == '\0')
        return;
    FILE *f = fopen(path, "a");
    if (f == NULL)
        return;
    if (base_name != NULL && base > 0)
        fprintf(f, "%s\t%.2f\t%s\t%s\t%.2f\t%s\t%.2f\t%s\n", name, value, unit,
                base_name, base, base_unit, value / base,
                target ? target : "");
    else
        fprintf(f, "%s\t%.2f\t%s\t-\t-\t-\t-\t%s\n", name, value, unit,
                target ? target : "");
    fclose(f);
}

#endif
