#!/usr/bin/env python3
"""asyncio_stream.py - Python asyncio reference figure for benchmark 14.

The asyncio twin of bench/stream.acx's first figure: a writer sends N
lines of 40 bytes over a Unix socketpair in 64 KiB writes (+ drain) and a
StreamReader takes them with readline(); ns per line, the median of
BENCH_REPS runs (scaled down: Python is slower).
"""
import asyncio
import os
import socket
import statistics
import sys
import time

sys.dont_write_bytecode = True  # no __pycache__ in bench/
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from asyncio_bench import reps, scale, report  # noqa: E402

LINE = 40
CHUNK = 65536


async def one_run(n):
    a, b = socket.socketpair()
    # keep both pairs: a dropped StreamWriter closes its transport
    reader, rwriter = await asyncio.open_unix_connection(sock=a)
    wreader, writer = await asyncio.open_unix_connection(sock=b)
    block = b"".join(bytes([97 + i % 26]) * (LINE - 1) + b"\n"
                     for i in range(CHUNK // LINE))

    async def send():
        sent, per = 0, CHUNK // LINE
        while sent < n:
            k = min(per, n - sent)
            writer.write(block[:k * LINE])
            await writer.drain()
            sent += k
        writer.write_eof()

    t0 = time.perf_counter_ns()
    w = asyncio.create_task(send())
    got = 0
    while await reader.readline():
        got += 1
    dt = time.perf_counter_ns() - t0
    await w
    writer.close()
    rwriter.close()
    assert got == n
    return dt / got


async def main():
    n = int(200000 * scale())
    runs = [await one_run(n) for _ in range(reps())]
    report("asyncio StreamReader.readline (40-byte lines)",
           statistics.median(runs), "ns/line")


asyncio.run(main())
