#!/usr/bin/env python3
"""mp_threadpool.py - multiprocessing.dummy's ThreadPool.map, the Python
reference for benchmark 15's thread variant (bench/pool.c): 2 threads, a
square over 100,000 ints in the default chunks, the pool warm; items per
second, the median of 5.  Writes the figure to the file named by its
argument (bench/pool reads it to print its ratio).
Usage: mp_threadpool.py [OUT_FILE]
"""
import sys
import time
from multiprocessing.pool import ThreadPool

from asyncio_bench import report, scale


def square(v):
    return v * v


def main():
    n = max(1000, int(100000 * scale()))
    items = list(range(n))
    with ThreadPool(2) as pool:
        pool.map(square, range(100))
        rates = []
        for _ in range(5):
            t0 = time.perf_counter()
            res = pool.map(square, items)
            rates.append(n / (time.perf_counter() - t0))
            assert res[-1] == (n - 1) * (n - 1)
        best = sorted(rates)[2]
    report("Python ThreadPool.map, 2 threads", best, "items/s")
    if len(sys.argv) > 1:
        with open(sys.argv[1], "w") as f:
            f.write(f"{best:.0f}\n")


if __name__ == "__main__":
    main()
