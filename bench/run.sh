#!/usr/bin/env bash
# bench/run.sh BUILD_DIR - build and run acx's benchmarks, each figure beside
# a baseline measured in the same run, and print a summary table.
#
#   bench/run.sh build          (what `make bench` runs, after `make all`)
#
# Benchmarks print figures; they never fail on a threshold.  The script
# exits non-zero only when a benchmark cannot be built or crashes.
#
#   1. await_sync  await of an async function that does not suspend,
#                  beside a noinline C call
#   2. switch      1,000 tasks x 1,000 `await acx_yield()`, beside a
#                  hand-written C state machine (+ Python asyncio)
#   3. spawn       spawn and finish 1,000,000 tasks, beside malloc per
#                  task in C (+ Python asyncio create_task)
#   4. memory      RSS per task suspended in acx_sleep_ms, beside C structs
#                  in a 4-ary heap (+ libuv timers when libuv is installed)
#   5. acxc        generator throughput on a ~106,000-line file, beside
#                  `gcc -E` on the same file
#   6. throttle    uncontended acquire beside a mutex-protected C bucket;
#                  4 threads sharing a 2,000/s bucket for 3 s, the rate
#                  achieved beside a mutex-and-sleep bucket; 10,000
#                  coroutines sharing a 20,000/s bucket (awaitable acquire)
#   7. timers      1,000,000 timers armed then fired in order: ns per timer
#                  to arm and to fire, bytes per pending timer, beside
#                  libuv (+ Python asyncio call_at)
#   8. future      wake-up latency of a future completed from another
#                  thread, p50 and p99, beside a pthread condition variable
#                  (+ Python asyncio call_soon_threadsafe)
#   9. signals     acx_signal_send to 1, 10 and 1,000 receivers, beside a C
#                  loop over function pointers
#  10. sync        lock hand-off and async-queue put+get between two tasks,
#                  beside an acx_yield switch (+ asyncio.Lock and
#                  asyncio.Queue, whose ratios print in the same run)
#  11. gather      spawn + gather + free over 100,000 tasks (and over as
#                  many coroutines), beside malloc per task in C (+ Python
#                  asyncio.gather of as many tasks)
#  12. bqueue      blocking-queue hand-off between two threads (p50 and
#                  p99 of a ping-pong) and streaming through 1,024 slots,
#                  beside a mutex+condvar queue
#  13. executor    thread pool, 2 workers: a burst of 200,000 no-op tasks
#                  (tasks/s) and the submit-to-result round trip (p50,
#                  p99), beside a mutex+condvar pool, libuv uv_queue_work
#                  and Python's ThreadPoolExecutor
#  14. procpool    process pool, 2 workers: map of 100,000 small items in
#                  Pool.map's default chunks (items/s) beside a fork+pipe
#                  C pool and multiprocessing.Pool.map; round trip of one
#                  small task (p50, p99); CPU-bound speedup, 2 workers vs 1
#  15. pool        multiprocessing.Pool's API, 2 workers: map of 100,000
#                  small items in the default chunks on threads and on
#                  processes (items/s), beside the executor below each
#                  (acx_executor_map, acx_procpool_map) and beside
#                  ThreadPool.map and Pool.map
#
# Environment: BENCH_CC (default gcc) builds the benchmarks, at -O2;
# BENCH_REPS (default 5) is how many runs each micro benchmark takes the
# median of; BENCH_SCALE (default 1) scales the iteration counts.
set -u

BUILD=${1:-build}
SRC=$(cd "$(dirname "$0")/.." && pwd)
cd "$SRC" || exit 2
ACXC=$BUILD/acxc
LIB=$BUILD/libacx.a
OUT=$BUILD/bench
CC=${BENCH_CC:-gcc} # gcc-specific flags below (the inlining switches)
CFLAGS=(-std=gnu11 -O2 -Wall -Wextra -Iruntime -Ibench "-I$OUT")

if [[ ! -x $ACXC || ! -f $LIB ]]; then
    echo "bench/run.sh: $ACXC or $LIB missing: run 'make all' first" >&2
    exit 2
fi
mkdir -p "$OUT"
export ACX_BENCH_TSV=$OUT/results.tsv
: >"$ACX_BENCH_TSV"

# Pin to one CPU for steadier numbers when the machine has a CPU 1.
PIN=()
if command -v taskset >/dev/null 2>&1 && taskset -c 1 true 2>/dev/null; then
    PIN=(taskset -c 1)
fi

failed=0
fail() { # NAME MESSAGE
    local msg=${2//$'\n'/ }
    echo "!! $1: $2"
    printf '%s\tFAILED\t-\t-\t-\t-\t-\t%s\n' "$1" "${msg//$'\t'/ }" >>"$ACX_BENCH_TSV"
    failed=1
}

# acx_gen NAME [ACXC OPTIONS...]: bench/NAME.acx -> $OUT/NAME.c (+ .h)
acx_gen() {
    local name=$1
    shift
    "$ACXC" --cc "$CC" -Iruntime -Ibench -I"$OUT" "$@" \
        --header "$OUT/$name.h" -o "$OUT/$name.c" "bench/$name.acx" \
        2>"$OUT/$name.acxc.err" || {
        fail "$name" "acxc failed: $(head -3 "$OUT/$name.acxc.err")"
        return 1
    }
}

# cc_link NAME SOURCES... [LIBS...]: link $OUT/NAME against libacx
cc_link() {
    local name=$1
    shift
    "$CC" "${CFLAGS[@]}" -o "$OUT/$name" "$@" "$LIB" -lpthread 2>"$OUT/$name.cc.err" || {
        fail "$name" "$CC failed: $(head -3 "$OUT/$name.cc.err")"
        return 1
    }
}

# run NAME COMMAND...: run a benchmark, pinned, its lines shown as they come
run() {
    local name=$1
    shift
    "${PIN[@]}" "$@" || fail "$name" "exited with status $?"
}

echo "== acx benchmarks ($(date -u '+%Y-%m-%d %H:%M UTC'))"
echo "   cpu: $(awk -F': ' '/model name/ {print $2; exit}' /proc/cpuinfo)," \
    "$(nproc) cpu(s); compiler: $("$CC" --version | head -1)"
echo "   git: $(git rev-parse --short HEAD 2>/dev/null || echo '?')," \
    "pinned: ${PIN[*]:-no}; median of ${BENCH_REPS:-5} runs; scale ${BENCH_SCALE:-1}"

# ---- 1. await without suspending --------------------------------------------
echo
echo "-- 1. await of an async function that returns without suspending"
if acx_gen await_lib && acx_gen await_noinline && acx_gen await_sync; then
    # await_noinline.c: gcc may not inline the callee's body (see the file).
    if "$CC" "${CFLAGS[@]}" -fno-inline-small-functions -fno-inline-functions-called-once \
        -fno-inline-functions -fno-early-inlining -c -o "$OUT/await_noinline.o" \
        "$OUT/await_noinline.c" 2>"$OUT/await_noinline.cc.err"; then
        cc_link await_sync "$OUT/await_sync.c" "$OUT/await_lib.c" \
            "$OUT/await_noinline.o" && run await_sync "$OUT/await_sync"
    else
        fail await_noinline "$CC failed: $(head -3 "$OUT/await_noinline.cc.err")"
    fi
fi

# ---- 2. suspend and resume through the scheduler ----------------------------
echo
echo "-- 2. suspend and resume through the scheduler"
acx_gen switch && cc_link switch "$OUT/switch.c" && run switch "$OUT/switch"
HAVE_PY=0
command -v python3 >/dev/null 2>&1 && HAVE_PY=1
if ((HAVE_PY)); then
    run asyncio_switch python3 bench/asyncio_bench.py switch
else
    echo "(python3 not found: no asyncio figure)"
fi

# ---- 3. spawn and finish ------------------------------------------------------
echo
echo "-- 3. spawn and finish 1,000,000 tasks"
acx_gen spawn && cc_link spawn "$OUT/spawn.c" && run spawn "$OUT/spawn"
if ((HAVE_PY)); then
    run asyncio_spawn python3 bench/asyncio_bench.py spawn
fi

# ---- 4. memory per suspended task ---------------------------------------------
echo
echo "-- 4. memory per suspended task (RSS growth)"
UV=()
if [[ -f /usr/include/uv.h ]] &&
    echo 'int main(void){return 0;}' | "$CC" -x c - -luv -o "$OUT/uv-probe" 2>/dev/null; then
    UV=(-DBENCH_UV)
else
    echo "(libuv not installed: no libuv figure; apt-get install libuv1-dev)"
fi
if acx_gen memory "${UV[@]}"; then
    if ((${#UV[@]})); then
        cc_link memory "$OUT/memory.c" bench/memory_uv.c -luv
    else
        cc_link memory "$OUT/memory.c"
    fi && run memory "$OUT/memory"
fi

# ---- 5. acxc throughput -------------------------------------------------------
echo
echo "-- 5. acxc throughput"
now_ns() { date +%s%N; }
# median of the arguments
median() { printf '%s\n' "$@" | sort -n | awk '{v[NR]=$1} END {print (NR%2) ? v[(NR+1)/2] : (v[NR/2]+v[NR/2+1])/2}'; }
units=$(awk -v s="${BENCH_SCALE:-1}" 'BEGIN {u = int(2000 * s); print u < 10 ? 10 : u}')
awk -v units="$units" -f bench/gen_big.awk >"$OUT/big.acx"
lines=$(wc -l <"$OUT/big.acx")
acxc_t=() cpp_t=()
acxc_ok=1
for _ in 1 2 3; do
    t0=$(now_ns)
    if ! "${PIN[@]}" "$ACXC" --cc "$CC" -Iruntime -o "$OUT/big.c" "$OUT/big.acx" \
        2>"$OUT/big.acxc.err"; then
        acxc_ok=0
        break
    fi
    t1=$(now_ns)
    "${PIN[@]}" "$CC" -E -x c -std=gnu11 -D__ACXC__=1 -C -Iruntime -include acx.h \
        "$OUT/big.acx" -o /dev/null
    t2=$(now_ns)
    acxc_t+=($((t1 - t0)))
    cpp_t+=($((t2 - t1)))
done
if ((acxc_ok)); then
    a=$(median "${acxc_t[@]}")
    p=$(median "${cpp_t[@]}")
    awk -v n="$lines" -v a="$a" -v p="$p" -v tsv="$ACX_BENCH_TSV" 'BEGIN {
        al = n / (a / 1e9); pl = n / (p / 1e9)
        printf "acxc: %d lines in %.1f ms, %.0f lines/s (baseline gcc -E alone: %.1f ms, %.0f lines/s; the preprocessor is %.0f%% of acxc'"'"'s time)  target: >= 200000 lines/s\n",
            n, a / 1e6, al, p / 1e6, pl, 100 * p / a
        printf "acxc throughput (%d lines)\t%.0f\tlines/s\tgcc -E alone\t%.0f\tlines/s\t%.2f\t>= 200000 lines/s\n",
            n, al, pl, al / pl >> tsv
    }'
    # Not a figure, a sanity check: the generated C is valid.
    if "$CC" -std=gnu11 -fsyntax-only -Iruntime "$OUT/big.c" 2>"$OUT/big.cc.err"; then
        echo "(big.c: $(wc -l <"$OUT/big.c") lines of C, accepted by $CC -fsyntax-only)"
    else
        fail "acxc throughput" "big.c does not compile: $(head -3 "$OUT/big.cc.err")"
    fi
else
    fail "acxc throughput" "acxc failed on big.acx: $(head -3 "$OUT/big.acxc.err")"
fi

# ---- 6. throttle ---------------------------------------------------------------
echo
echo "-- 6. throttle: uncontended acquire; 4 threads sharing 2,000/s"
cc_link throttle bench/throttle.c && run throttle "$OUT/throttle"
acx_gen throttle_async && cc_link throttle_async "$OUT/throttle_async.c" &&
    run throttle_async "$OUT/throttle_async"

# ---- 7. timers -----------------------------------------------------------------
echo
echo "-- 7. 1,000,000 timers armed, then fired in order"
if acx_gen timers "${UV[@]}"; then
    if ((${#UV[@]})); then
        cc_link timers "$OUT/timers.c" bench/timers_uv.c -luv
    else
        cc_link timers "$OUT/timers.c"
    fi && run timers "$OUT/timers"
fi
if ((HAVE_PY)); then
    run asyncio_timers python3 bench/asyncio_core.py timers
fi

# ---- 8. future wake-up latency ---------------------------------------------------
echo
echo "-- 8. a future completed from another thread: wake-up latency"
# not pinned: the completer thread needs a CPU of its own
acx_gen future_latency && cc_link future_latency "$OUT/future_latency.c" &&
    { "$OUT/future_latency" || fail future_latency "exited with status $?"; }
if ((HAVE_PY)); then
    python3 bench/asyncio_core.py latency || fail asyncio_latency "exited with status $?"
fi

# ---- 9. signals ---------------------------------------------------------------
echo
echo "-- 9. signal send to 1, 10 and 1,000 receivers"
cc_link signals bench/signals.c && run signals "$OUT/signals"

# ---- 10. locks and queues ------------------------------------------------------
echo
echo "-- 10. lock hand-off and async-queue transfer between two tasks"
SYNC_ENV=()
rm -f "$OUT/asyncio_sync.txt" # never a figure from an earlier run
if ((HAVE_PY)); then
    # asyncio first: bench/sync prints its ratios against these figures
    run asyncio_sync python3 bench/asyncio_sync.py "$OUT/asyncio_sync.txt"
    if read -r py_lock py_queue <"$OUT/asyncio_sync.txt" 2>/dev/null; then
        SYNC_ENV=(env "ACX_ASYNCIO_LOCK_NS=$py_lock" "ACX_ASYNCIO_QUEUE_NS=$py_queue")
    fi
fi
acx_gen sync && cc_link sync "$OUT/sync.c" && run sync "${SYNC_ENV[@]}" "$OUT/sync"

# ---- 11. gather ---------------------------------------------------------------
echo
echo "-- 11. gather over 100,000 tasks"
acx_gen gather && cc_link gather "$OUT/gather.c" && run gather "$OUT/gather"
if ((HAVE_PY)); then
    run asyncio_gather python3 bench/asyncio_bench.py gather
fi

# ---- 12. blocking queue -------------------------------------------------------
echo
echo "-- 12. blocking queue between two threads: hand-off latency, streaming"
# not pinned: the two threads need a CPU each
cc_link bqueue bench/bqueue.c &&
    { "$OUT/bqueue" || fail bqueue "exited with status $?"; }

# ---- 13. thread pool executor ---------------------------------------------------
echo
echo "-- 13. thread pool executor, 2 workers: 200,000 no-op tasks; round trip"
EXEC_ENV=()
rm -f "$OUT/asyncio_executor.txt" # never a figure from an earlier run
if ((HAVE_PY)); then
    # Python first: bench/executor prints its ratio against this figure
    python3 bench/asyncio_executor.py "$OUT/asyncio_executor.txt" ||
        fail asyncio_executor "exited with status $?"
    if read -r py_rate <"$OUT/asyncio_executor.txt" 2>/dev/null; then
        EXEC_ENV=(env "ACX_PY_EXECUTOR=$py_rate")
    fi
fi
# not pinned: the workers need CPUs of their own
if ((${#UV[@]})); then
    cc_link executor bench/executor.c "${UV[@]}" -luv
else
    cc_link executor bench/executor.c
fi && { "${EXEC_ENV[@]}" "$OUT/executor" || fail executor "exited with status $?"; }

# ---- 14. process pool executor -------------------------------------------------
echo
echo "-- 14. process pool, 2 workers: 100,000-item map; round trip; CPU speedup"
PROC_ENV=()
rm -f "$OUT/mp_pool.txt" # never a figure from an earlier run
if ((HAVE_PY)); then
    python3 bench/mp_pool.py "$OUT/mp_pool.txt" || fail mp_pool "exited with status $?"
    if read -r py_rate <"$OUT/mp_pool.txt" 2>/dev/null; then
        PROC_ENV=(env "ACX_PY_PROCMAP=$py_rate")
    fi
else
    echo "(python3 not found: no multiprocessing.Pool figure)"
fi
# not pinned: the workers need CPUs of their own
cc_link procpool bench/procpool.c &&
    { "${PROC_ENV[@]}" "$OUT/procpool" || fail procpool "exited with status $?"; }

# ---- 15. pools (multiprocessing.Pool's API) ---------------------------------------
echo
echo "-- 15. pool, 2 workers: 100,000-item map on threads and on processes"
POOL_ENV=(env)
rm -f "$OUT/mp_threadpool.txt"
if ((HAVE_PY)); then
    python3 bench/mp_threadpool.py "$OUT/mp_threadpool.txt" ||
        fail mp_threadpool "exited with status $?"
    if read -r py_rate <"$OUT/mp_threadpool.txt" 2>/dev/null; then
        POOL_ENV+=("ACX_PY_THREADMAP=$py_rate")
    fi
    if read -r py_rate <"$OUT/mp_pool.txt" 2>/dev/null; then
        POOL_ENV+=("ACX_PY_PROCMAP=$py_rate") # bench 14's Pool.map
    fi
fi
# not pinned: the workers need CPUs of their own
cc_link pool bench/pool.c &&
    { "${POOL_ENV[@]}" "$OUT/pool" || fail pool "exited with status $?"; }

# ---- summary ------------------------------------------------------------------
echo
echo "== summary (ratio = figure / baseline; lower is better except lines/s)"
awk -F'\t' '
    function cell(v, u) { return v == "-" ? "" : v " " u }
    BEGIN {
        fmt = "%-50s %18s   %-22s %18s %8s   %s\n"
        printf fmt, "benchmark", "figure", "baseline", "baseline figure", "ratio", "target"
        printf fmt, "---------", "------", "--------", "---------------", "-----", "------"
    }
    $2 == "FAILED" { printf "%-50s %18s   %s\n", $1, "FAILED", $8; next }
    {
        printf fmt, $1, cell($2, $3), $4 == "-" ? "(reference)" : $4,
            cell($5, $6), $7 == "-" ? "" : $7 "x", $8
    }' "$ACX_BENCH_TSV"
echo "(rows: $ACX_BENCH_TSV)"
exit $failed
