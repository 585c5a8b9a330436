#!/usr/bin/env python3
"""asyncio_executor.py - Python's concurrent.futures.ThreadPoolExecutor, the
reference for benchmark 12 (bench/executor.c).

  burst:      2 workers, 200,000 no-op tasks submitted, then every result
              waited for: tasks per second;
  round trip: submit one no-op task and wait for its result, 2,000 times:
              p50 and p99 in microseconds.
Prints the same line format as the C benchmarks, appends rows to
$ACX_BENCH_TSV when set, and writes the burst figure to the file named by
its argument (bench/executor reads it to print its ratio).
Usage: asyncio_executor.py [OUT_FILE]
"""
import sys
import time
from concurrent.futures import ThreadPoolExecutor

from asyncio_bench import report, scale


def noop():
    return None


def burst():
    n = max(1000, int(200000 * scale()))
    with ThreadPoolExecutor(max_workers=2) as ex:
        t0 = time.perf_counter()
        futs = [ex.submit(noop) for _ in range(n)]
        for f in futs:
            f.result()
        return n / (time.perf_counter() - t0)


def round_trip():
    n = max(200, int(2000 * scale()))
    samples = []
    with ThreadPoolExecutor(max_workers=2) as ex:
        for i in range(n + 50):  # the first 50 warm up
            t0 = time.perf_counter_ns()
            ex.submit(noop).result()
            if i >= 50:
                samples.append((time.perf_counter_ns() - t0) / 1e3)
    samples.sort()
    return samples[len(samples) // 2], samples[int(0.99 * (len(samples) - 1))]


def main():
    rate = max(burst() for _ in range(3))
    p50, p99 = round_trip()
    report("Python ThreadPoolExecutor: burst, 2 workers", rate, "tasks/s")
    report("Python ThreadPoolExecutor: round trip p50", p50, "us")
    report("Python ThreadPoolExecutor: round trip p99", p99, "us")
    if len(sys.argv) > 1:
        with open(sys.argv[1], "w") as f:
            f.write(f"{rate:.0f}\n")


if __name__ == "__main__":
    main()
