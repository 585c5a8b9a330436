#!/usr/bin/env python3
"""asyncio_bench.py - Python asyncio reference figures for benchmarks 2, 3
and 11.

Scaled down from the C benchmarks (Python is far slower), each the median of
BENCH_REPS runs (default 5):
  switch: 100 tasks each `await asyncio.sleep(0)` 1,000 times, ns/switch;
  spawn:  100,000 asyncio.create_task() of a trivial coroutine, then one
          `await asyncio.sleep(0)` that lets them all run, ns/task;
  gather: asyncio.gather of 100,000 tasks of a trivial coroutine (created
          with create_task first), and of as many coroutine objects,
          ns/task from the first create_task to gather's return.
Prints the same line format as the C benchmarks and appends a row to
$ACX_BENCH_TSV when set.  Usage: asyncio_bench.py switch|spawn|gather
"""
import asyncio
import os
import statistics
import sys
import time


def reps():
    try:
        n = int(os.environ.get("BENCH_REPS", "5"))
    except ValueError:
        n = 5
    return n if 0 < n <= 101 else 5


def scale():
    try:
        x = float(os.environ.get("BENCH_SCALE", "1"))
    except ValueError:
        x = 1.0
    return x if x > 0 else 1.0


def report(name, value, unit, target=""):
    tail = f"  target: {target}" if target else ""
    print(f"{name}: {value:.2f} {unit}{tail}", flush=True)
    path = os.environ.get("ACX_BENCH_TSV")
    if path:
        with open(path, "a") as f:
            f.write(f"{name}\t{value:.2f}\t{unit}\t-\t-\t-\t-\t{target}\n")


async def yielder(n):
    for _ in range(n):
        await asyncio.sleep(0)


async def switch_round(ntasks, nyields):
    tasks = [asyncio.create_task(yielder(nyields)) for _ in range(ntasks)]
    t0 = time.perf_counter_ns()
    for t in tasks:
        await t
    return (time.perf_counter_ns() - t0) / (ntasks * nyields)


done = 0


async def trivial(x):
    global done
    done += x


async def spawn_round(n):
    global done
    done = 0
    t0 = time.perf_counter_ns()
    for _ in range(n):
        asyncio.create_task(trivial(1))
    await asyncio.sleep(0)
    t1 = time.perf_counter_ns()
    assert done == n, (done, n)
    return (t1 - t0) / n


async def ident(x):
    return x


async def gather_round(n, as_tasks):
    t0 = time.perf_counter_ns()
    if as_tasks:
        res = await asyncio.gather(*[asyncio.create_task(ident(i))
                                     for i in range(n)])
    else:
        res = await asyncio.gather(*[ident(i) for i in range(n)])
    t1 = time.perf_counter_ns()
    assert res[-1] == n - 1
    return (t1 - t0) / n


async def main(mode):
    r = reps()
    if mode == "switch":
        ntasks, nyields = 100, max(1, int(1000 * scale()))
        await switch_round(ntasks, nyields // 10)  # warm up
        xs = [await switch_round(ntasks, nyields) for _ in range(r)]
        report(f"yield switch, Python asyncio ({ntasks} x {nyields})",
               statistics.median(xs), "ns/switch")
    elif mode == "spawn":
        n = max(1000, int(100000 * scale()))
        await spawn_round(n // 10)
        xs = [await spawn_round(n) for _ in range(r)]
        report(f"spawn+finish, Python asyncio ({n} create_task)",
               statistics.median(xs), "ns/task")
    elif mode == "gather":
        n = max(1000, int(100000 * scale()))
        await gather_round(n // 10, True)
        xs = [await gather_round(n, True) for _ in range(r)]
        report(f"gather, Python asyncio ({n} tasks)",
               statistics.median(xs), "ns/task")
        xs = [await gather_round(n, False) for _ in range(r)]
        report(f"gather, Python asyncio ({n} coroutines)",
               statistics.median(xs), "ns/task")
    else:
        sys.exit("usage: asyncio_bench.py switch|spawn|gather")


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1] if len(sys.argv) > 1 else ""))
