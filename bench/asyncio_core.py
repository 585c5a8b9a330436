#!/usr/bin/env python3
"""asyncio_core.py - Python asyncio reference figures for benchmarks 7 and 8.

  timers:  200,000 loop.call_at() callbacks armed then fired in deadline
           order: ns per timer to arm and to fire.
  latency: a future completed from another thread through
           loop.call_soon_threadsafe(fut.set_result), 50 us after the
           awaiter parked: wake-up latency p50 and p99 over 2,000 samples.
Prints the same line format as the C benchmarks and appends rows to
$ACX_BENCH_TSV when set.  Usage: asyncio_core.py timers|latency
"""
import asyncio
import sys
import threading
import time

from asyncio_bench import report, scale


async def timers():
    n = max(1000, int(200000 * scale()))
    loop = asyncio.get_running_loop()
    fired = 0
    t_first = t_last = 0

    def cb(i):
        nonlocal fired, t_first, t_last
        if fired == 0:
            t_first = time.perf_counter_ns()
        assert i == fired
        fired += 1
        if fired == n:
            t_last = time.perf_counter_ns()

    base = loop.time() + 2.0
    t0 = time.perf_counter_ns()
    for i in range(n):
        loop.call_at(base + i * 1e-9, cb, i)
    t1 = time.perf_counter_ns()
    while fired < n:
        await asyncio.sleep(0.05)
    report(f"timer arm, Python asyncio call_at ({n})", (t1 - t0) / n,
           "ns/timer")
    report(f"timer fire, Python asyncio ({n})", (t_last - t_first) / n,
           "ns/timer")


async def latency():
    n = max(100, int(2000 * scale()))
    loop = asyncio.get_running_loop()
    lat = []
    for _ in range(n):
        fut = loop.create_future()

        def complete(f=fut):
            time.sleep(50e-6)
            stamp = time.perf_counter_ns()
            loop.call_soon_threadsafe(f.set_result, stamp)

        th = threading.Thread(target=complete)
        th.start()
        stamp = await fut
        lat.append(time.perf_counter_ns() - stamp)
        th.join()
    lat.sort()
    report("future wake-up latency p50, Python asyncio",
           lat[len(lat) // 2] / 1000, "us")
    report("future wake-up latency p99, Python asyncio",
           lat[int(0.99 * (len(lat) - 1))] / 1000, "us")


if __name__ == "__main__":
    mode = sys.argv[1] if len(sys.argv) > 1 else ""
    if mode not in ("timers", "latency"):
        sys.exit("usage: asyncio_core.py timers|latency")
    asyncio.run(timers() if mode == "timers" else latency())
