"""Load shedding under overload: wrk at 256 and 1,024 connections against a real
`conveyor serve`, next to the same server unloaded.

    python benchmarks/overload.py            # 10 s per point
    python benchmarks/overload.py --quick    # 3 s per point

Clients are wrk's closed loop: each connection sends its next request as soon as it has an
answer and ignores Retry-After (the worst case: real clients back off). A Lua script sends
an X-Request-ID per request, which the server echoes, and times every answer by status, so
the p99 of the 200s is measured apart from the 503s, on connections already open (the
first request of each connection, which waits for the server to accept it, is reported
apart: "first"). "Unloaded" is wrk with one connection per worker. Printed per point:
client timeouts (no answer within wrk's 5 s), the slowest answer (of all; on open
connections; first of a connection), the share of 503s and the p99 of the 200s against the
unloaded p99.

Targets (this benchmark asserts them and exits 1 when one is missed): 0 client timeouts,
every request answered within 1 s (200 or 503), p99 of the 200s within 2x the unloaded p99.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path

from serving import RECORD, Server, free_port, prepare_project, require_wrk

WORKERS = 2
LOADS = (256, 1024)
TIMEOUT_S = 5
TARGET_MAX_MS = 1000.0
TARGET_P99_RATIO = 2.0

# Per-status latency from the client's side: wrk reports one distribution for every answer.
LUA = r"""
local ffi = require("ffi")
ffi.cdef[[
typedef struct { long tv_sec; long tv_nsec; } conveyor_timespec;
int clock_gettime(int clk_id, conveyor_timespec *tp);
]]
local ts = ffi.new("conveyor_timespec")
local function now_us()
  ffi.C.clock_gettime(1, ts)  -- CLOCK_MONOTONIC
  return tonumber(ts.tv_sec) * 1000000 + tonumber(ts.tv_nsec) / 1000
end

wrk.method = "POST"
wrk.body = BODY
local threads = {}

function setup(thread)
  table.insert(threads, thread)
  thread:set("tid", #threads)
end

function init(args)
  per_thread = tonumber(args[1])  -- this thread's connections: its first requests open them
  counter = 0
  started = {}
  codes = {}
  hist = {}      -- 200s on open connections: 10 us bucket -> count
  slowest = 0    -- every status, us
  slowest_first = 0  -- the first request of each connection (its opening included)
end

function request()
  counter = counter + 1
  local id = "w" .. tid .. "-" .. counter
  started[id] = now_us()
  return wrk.format(nil, nil, {["Content-Type"] = "application/json", ["X-Request-ID"] = id}, wrk.body)
end

function response(status, headers, body)
  local key = tostring(status)
  codes[key] = (codes[key] or 0) + 1
  local id = headers["x-request-id"]
  local t0 = id and started[id]
  if t0 then
    started[id] = nil
    local us = now_us() - t0
    if tonumber(id:match("-(%d+)$")) <= per_thread then
      if us > slowest_first then slowest_first = us end
    else
      if us > slowest then slowest = us end
      if status == 200 then  -- answers on open connections: the time a request takes to be answered
        local b = math.floor(us / 10)
        hist[b] = (hist[b] or 0) + 1
      end
    end
  end
end

function done(summary, latency, requests)
  local codes_all, hist_all, slowest_all, first_all = {}, {}, 0, 0
  for _, t in ipairs(threads) do
    for k, v in pairs(t:get("codes")) do codes_all[k] = (codes_all[k] or 0) + v end
    for k, v in pairs(t:get("hist")) do hist_all[k] = (hist_all[k] or 0) + v end
    local s = t:get("slowest")
    if s > slowest_all then slowest_all = s end
    local f = t:get("slowest_first")
    if f > first_all then first_all = f end
  end
  io.write("STAT timeouts ", summary.errors.timeout, "\n")
  io.write("STAT connect_errors ", summary.errors.connect, "\n")
  io.write("STAT read_errors ", summary.errors.read, "\n")
  io.write("STAT write_errors ", summary.errors.write, "\n")
  io.write("STAT requests ", summary.requests, "\n")
  io.write("STAT wrk_max_us ", latency.max, "\n")
  io.write("STAT slowest_us ", slowest_all, "\n")
  io.write("STAT slowest_first_us ", first_all, "\n")
  for k, v in pairs(codes_all) do io.write("CODE ", k, " ", v, "\n") end
  for k, v in pairs(hist_all) do io.write("H200 ", k, " ", v, "\n") end
end
"""


def wrk(url: str, connections: int, seconds: int, script: Path) -> dict[str, float]:
    threads = min(connections, 2)
    out = subprocess.run(
        ["wrk", "-t", str(threads), "-c", str(connections), "-d", f"{seconds}s",
         "--timeout", f"{TIMEOUT_S}s", "-s", str(script), url, "--", str(-(-connections // threads))],
        capture_output=True, text=True, check=True,
    ).stdout
    stats = {m.group(1): float(m.group(2)) for m in re.finditer(r"^STAT (\w+) ([\d.]+)$", out, re.MULTILINE)}
    codes = {m.group(1): int(m.group(2)) for m in re.finditer(r"^CODE (\d+) (\d+)$", out, re.MULTILINE)}
    hist = sorted((int(m.group(1)), int(m.group(2))) for m in re.finditer(r"^H200 (\d+) (\d+)$", out, re.MULTILINE))
    answered = sum(codes.values())
    ok = codes.get("200", 0)
    return {
        "connections": connections,
        "requests": answered,
        "ok": ok,
        "share_503": round(codes.get("503", 0) / answered, 4) if answered else 0.0,
        "other": answered - ok - codes.get("503", 0),
        "timeouts": stats.get("timeouts", 0.0),
        "socket_errors": sum(stats.get(k, 0.0) for k in ("connect_errors", "read_errors", "write_errors")),
        "max_ms": round(max(stats.get("wrk_max_us", 0.0), stats.get("slowest_us", 0.0),
                            stats.get("slowest_first_us", 0.0)) / 1000, 2),
        # the slowest answer on a connection already open, and the slowest first answer (its opening included)
        "max_open_ms": round(stats.get("slowest_us", 0.0) / 1000, 2),
        "max_first_ms": round(stats.get("slowest_first_us", 0.0) / 1000, 2),
        "p99_200_ms": round(_quantile(hist, 0.99) / 100, 3),  # buckets of 10 us
        "rps": round(answered / seconds, 1),
    }


def _quantile(hist: list[tuple[int, int]], q: float) -> float:
    total = sum(count for _, count in hist)
    if not total:
        return float("nan")
    seen = 0
    for bucket, count in hist:
        seen += count
        if seen >= q * total:
            return float(bucket + 1)  # the bucket's upper edge
    return float(hist[-1][0] + 1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="3 s per point")
    parser.add_argument("--seconds", type=int, default=None)
    parser.add_argument("--workers", type=int, default=WORKERS)
    args = parser.parse_args()
    seconds = args.seconds or (3 if args.quick else 10)
    require_wrk("overload")

    project, _ = prepare_project()
    work = Path(tempfile.mkdtemp(prefix="bench-overload-"))
    script = work / "overload.lua"
    script.write_text(LUA.replace("BODY", json.dumps(json.dumps({"dataframe_records": [RECORD]}))))
    port = free_port()
    venv_bin = Path(sys.executable).parent
    server = Server("conveyor", [str(venv_bin / "conveyor"), "serve", "--project", str(project),
                                 "--workers", str(args.workers), "--port", str(port)],
                    port, "/models/churn/invocations", "/models/churn/invocations")
    try:
        server.wait_ready()
        wrk(server.url, args.workers, 1, script)  # warm the workers
        unloaded = wrk(server.url, args.workers, seconds, script)
        loaded = []
        for connections in LOADS:
            wrk(server.url, connections, 1, script)  # open the connections once
            loaded.append(wrk(server.url, connections, seconds, script))
    finally:
        server.stop()

    base = unloaded["p99_200_ms"]
    print(f"\noverload benchmark: churn example model, 1-row requests, conveyor serve with {args.workers} "
          f"workers (default serve.limits), wrk {seconds}s per point; CPU cores: {os.cpu_count()} (shared machine)\n")
    print(f"{'conns':>6}{'req/s':>10}{'503 share':>11}{'timeouts':>10}{'max ms':>10}{'(open':>8}{'first)':>8}"
          f"{'p99 200 ms':>12}{'x unloaded':>12}")
    for point in (unloaded, *loaded):
        ratio = point["p99_200_ms"] / base if base else float("nan")
        print(f"{point['connections']:>6}{point['rps']:>10.0f}{point['share_503']:>11.1%}{point['timeouts']:>10.0f}"
              f"{point['max_ms']:>10.1f}{point['max_open_ms']:>8.0f}{point['max_first_ms']:>8.0f}"
              f"{point['p99_200_ms']:>12.2f}{ratio:>12.2f}")
    checks = {}
    for point in loaded:
        c = point["connections"]
        checks[f"no_timeouts_c{c}"] = point["timeouts"] == 0 and point["socket_errors"] == 0
        checks[f"max_within_1s_c{c}"] = point["max_ms"] <= TARGET_MAX_MS
        checks[f"p99_200_within_2x_c{c}"] = point["p99_200_ms"] <= TARGET_P99_RATIO * base
    print("\ntargets: 0 client timeouts, every answer within 1 s, p99 of the 200s within 2x the unloaded p99")
    for name, passed in checks.items():
        print(f"  {name:<26}{'pass' if passed else 'FAIL'}")
    result = {
        "benchmark": "overload",
        "size": {"seconds": seconds, "workers": args.workers, "connections": [args.workers, *LOADS], "rows_per_request": 1},
        "unloaded": unloaded,
        "loaded": {f"c{p['connections']}": p for p in loaded},
        "ratios": {f"p99_200_c{p['connections']}": round(p["p99_200_ms"] / base, 2) if base else None for p in loaded},
        "targets": checks,
    }
    print("RESULT " + json.dumps(result))
    sys.exit(0 if all(checks.values()) else 1)


if __name__ == "__main__":
    main()
