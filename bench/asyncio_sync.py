#!/usr/bin/env python3
"""asyncio_sync.py - Python asyncio reference figures for benchmark 10.

The asyncio twins of bench/sync.acx, scaled down (Python is far slower),
each the median of BENCH_REPS runs (default 5):
  lock:  two tasks each acquire and release one asyncio.Lock N times; the
         other one is always waiting, so every release hands it over
         (ns per hand-off);
  queue: a producer puts N items into asyncio.Queue(maxsize=1) and a
         consumer gets them (ns per item);
beside two tasks each `await asyncio.sleep(0)` N times (ns per switch).
Prints the same line format as the C benchmarks, appends rows to
$ACX_BENCH_TSV when set, and writes "LOCK_NS QUEUE_NS" to OUTFILE so that
bench/sync.acx can print its ratios against them in the same run.
Usage: asyncio_sync.py OUTFILE
"""
import asyncio
import os
import statistics
import sys
import time

sys.dont_write_bytecode = True  # no __pycache__ in bench/
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from asyncio_bench import reps, scale, report  # noqa: E402


async def timed_pair(a, b, per):
    t0 = time.perf_counter_ns()
    await a
    await b
    return (time.perf_counter_ns() - t0) / per


async def yielder(n):
    for _ in range(n):
        await asyncio.sleep(0)


async def yield_round(n):
    a = asyncio.create_task(yielder(n))
    b = asyncio.create_task(yielder(n))
    return await timed_pair(a, b, 2 * n)


async def locker(lock, n):
    for _ in range(n):
        await lock.acquire()
        lock.release()


async def lock_round(n):
    lock = asyncio.Lock()
    await lock.acquire()  # both park; then they alternate
    a = asyncio.create_task(locker(lock, n))
    b = asyncio.create_task(locker(lock, n))
    await asyncio.sleep(0)
    lock.release()
    return await timed_pair(a, b, 2 * n)


async def producer(q, n):
    for i in range(n):
        await q.put(i)


async def consumer(q, n):
    for _ in range(n):
        await q.get()


async def queue_round(n):
    q = asyncio.Queue(maxsize=1)
    a = asyncio.create_task(producer(q, n))
    b = asyncio.create_task(consumer(q, n))
    return await timed_pair(a, b, n)


async def main(out):
    r = reps()
    n = max(1000, int(100000 * scale()))
    await yield_round(n // 10)  # warm up
    await lock_round(n // 10)
    await queue_round(n // 10)
    ys, ls, qs = [], [], []
    for _ in range(r):
        ys.append(await yield_round(n))
        ls.append(await lock_round(n))
        qs.append(await queue_round(n))
    y, l, q = statistics.median(ys), statistics.median(ls), statistics.median(qs)
    report(f"yield switch, 2 tasks, Python asyncio ({n} each)", y, "ns/switch")
    report("lock hand-off, 2 tasks, Python asyncio.Lock", l, "ns/hand-off")
    report("queue put+get, 2 tasks, Python asyncio.Queue(maxsize=1)", q,
           "ns/item")
    with open(out, "w") as f:
        f.write(f"{l:.2f} {q:.2f}\n")


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit("usage: asyncio_sync.py OUTFILE")
    asyncio.run(main(sys.argv[1]))
