#!/usr/bin/env python3
"""mp_pool.py - Python's multiprocessing.Pool, the reference for benchmark
17 (bench/procpool.c).

  map: Pool(2).map of a square over 100,000 ints with its default
       chunksize (ceil(n / (4 * workers)) = 12,500), the pool started and
       warmed before the clock: items per second, the median of 5 (as
       the C side takes the median of its runs).
Prints the same line format as the C benchmarks, appends a row to
$ACX_BENCH_TSV when set, and writes the figure to the file named by its
argument (bench/procpool reads it to print its ratio).
Usage: mp_pool.py [OUT_FILE]
"""
import sys
import time
from multiprocessing import Pool

from asyncio_bench import report, scale


def square(v):
    return v * v


def main():
    n = max(1000, int(100000 * scale()))
    items = list(range(n))
    with Pool(2) as pool:
        pool.map(square, range(100))  # both workers up
        rates = []
        for _ in range(5):
            t0 = time.perf_counter()
            res = pool.map(square, items)
            rates.append(n / (time.perf_counter() - t0))
            assert res[-1] == (n - 1) * (n - 1)
        best = sorted(rates)[2]
    report("Python multiprocessing.Pool.map, 2 workers", best, "items/s")
    if len(sys.argv) > 1:
        with open(sys.argv[1], "w") as f:
            f.write(f"{best:.0f}\n")


if __name__ == "__main__":
    main()
