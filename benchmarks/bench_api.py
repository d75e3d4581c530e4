"""HTTP benchmark of the API: the server in one process, wrk driving it from another.

    python benchmarks/bench_api.py            # full run (about a minute)
    python benchmarks/bench_api.py --quick    # 2 s per measurement

The server is started exactly as a teacher would (``python -m app``: one uvicorn process
with uvloop and httptools, access log on) on a free port of 127.0.0.1. Load comes from
``wrk`` (Debian: ``apt-get install -y wrk``), a separate C process, so the client is not
the bottleneck: the table shows the CPU both sides used to prove it. Every wrk run sends
``Accept-Encoding: gzip``, as a browser does, and POSTs ``{}`` to ``/step``, as the page does.

    (1) latency, one connection: GET /healthz and POST /step on 2-8-8-1 with B = 1
    (2) throughput, 50 connections, each stepping its own session; step / healthz: six
        rounds of 2 s each, the two in turn first; the median of the rounds' ratios
    (3) size of one step response: raw and gzipped body, and bytes per response on the
        wire as wrk counted them (headers included)
    (4) a classroom: 100 sessions stepping at once, one connection each; and once more
        with the connections opened under load (wrk's default), for comparison

Each wrk thread holds one connection and is given its own session id in ``setup()``, so
no two requests ever queue on one session's lock. Before its first request every thread
waits 1 s (``delay()``, not counted), so that all connections are open before the load
starts and then fire at once. Only loopback addresses are used, and every run is bounded.

The machine may be shared: the run table shows the server's CPU per request (steadier than
req/s when other processes compete) and how busy the rest of the machine was.
"""

from __future__ import annotations

import argparse
import gzip
import http.client
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from serving import (
    HOST,
    WRK_RESULT_LUA,
    busy_cpu_seconds,
    cpu_seconds,
    free_port,
    start_server,
    stop_server,
    wrk_result,
)

LAYERS = [2, 8, 8, 1]
CLASSROOM = 100
BUSY = 50

TARGET_RATIO = 0.40  # step req/s >= 40 % of healthz req/s at 50 connections
TARGET_STEP_P50_MS = 1.0  # one connection: a step answered within 1 ms (median)
TARGET_GZIP_BYTES = 6000  # gzipped step body <= 6 KB
TARGET_P99_MS = 250.0  # classroom p99
TARGET_NON2XX = 0
NOISY_OTHER_CPU = 0.25  # other processes' CPU (cores) above which the numbers are noisy
START_DELAY_MS = 1000  # whole seconds, as wrk -d takes; see delay() below

# One script for every run. Arguments after wrk's "--": the start delay in ms, method, path
# (with "{id}" where the session id goes), then session ids, one per thread (= connection).
WRK_LUA = r"""
function init(args)
  start_delay = tonumber(args[1])
  local method, path = args[2], args[3]
  local n = #args - 3
  if n > 0 then
    path = path:gsub("{id}", args[3 + ((tid - 1) % n) + 1])
  end
  if method == "POST" then  -- what the page's fetch() sends for a step
    wrk.body = "{}"
    wrk.headers["Content-Type"] = "application/json"
  end
  req = wrk.format(method, path)
  non2xx = 0
end

-- Wait once before the first request, so that every connection is open (and accepted by
-- an idle server) before the load starts; then all of them fire at once.
function delay()
  local d = start_delay
  start_delay = 0
  return d
end

function request()
  return req
end
"""


@dataclass
class Run:
    name: str
    connections: int
    requests: int
    seconds: float
    bytes: int
    p50_ms: float
    p99_ms: float
    max_ms: float
    non2xx: int
    socket_errors: int
    server_cpu: float  # fraction of one core
    wrk_cpu: float  # fraction of one core
    other_cpu: float  # fraction of one core: everything else on the machine
    wall: float  # seconds the load ran, as timed here

    @property
    def rps(self) -> float:
        return self.requests / self.seconds

    @property
    def cpu_us_per_request(self) -> float:
        """Server CPU per request: unlike req/s, barely moved by other load on the machine."""
        return self.server_cpu * self.wall / max(self.requests, 1) * 1e6

    @property
    def bytes_per_response(self) -> float:
        return self.bytes / max(self.requests, 1)


# ------------------------------------------------------------------ server
def request(port: int, method: str, path: str, body: dict | None = None, gz: bool = False):
    """One request with the standard library: (status, headers, raw body bytes)."""
    conn = http.client.HTTPConnection(HOST, port, timeout=10)
    headers = {"Accept-Encoding": "gzip" if gz else "identity"}
    data = None
    if body is not None:
        data = json.dumps(body).encode()
        headers["Content-Type"] = "application/json"
    try:
        conn.request(method, path, body=data, headers=headers)
        resp = conn.getresponse()
        return resp.status, dict(resp.getheaders()), resp.read()
    finally:
        conn.close()


def create_sessions(port: int, n: int) -> list[str]:
    ids = []
    for _ in range(n):
        status, _, body = request(port, "POST", "/api/sessions", {"layers": LAYERS})
        if status != 201:
            sys.exit(f"POST /api/sessions answered {status}: {body[:200]!r}")
        ids.append(json.loads(body)["id"])
    return ids


# ------------------------------------------------------------------ wrk
def wrk(
    port: int,
    server: subprocess.Popen,
    script: Path,
    name: str,
    path: str,
    connections: int,
    seconds: int,
    ids: Sequence[str] = (),
    warm_connections: bool = True,
) -> Run:
    """One bounded wrk run; one thread per connection (so each has its own session).

    With ``warm_connections`` every connection is opened before the first request (the
    start delay is not counted in req/s); without, connections open under load, as wrk
    does by default, and their first requests wait for the busy server to accept them.
    """
    start_delay = START_DELAY_MS if warm_connections else 0
    method = "POST" if "{id}" in path else "GET"
    cmd = [
        "wrk",
        f"-t{connections}",
        f"-c{connections}",
        f"-d{seconds + start_delay // 1000}s",
        "--timeout",
        "5s",
        "-H",
        "Accept-Encoding: gzip",
        "-s",
        str(script),
        f"http://{HOST}:{port}",
        "--",
        str(start_delay),
        method,
        path,
        *ids,
    ]
    server_before = cpu_seconds(server.pid)
    machine_before = busy_cpu_seconds()
    children_before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.monotonic()
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=seconds + 70)
    wall = time.monotonic() - started - start_delay / 1e3  # the load's own wall time
    children_after = resource.getrusage(resource.RUSAGE_CHILDREN)
    server_cpu = cpu_seconds(server.pid) - server_before
    machine_cpu = busy_cpu_seconds() - machine_before
    wrk_cpu = (children_after.ru_utime - children_before.ru_utime) + (
        children_after.ru_stime - children_before.ru_stime
    )
    if out.returncode != 0:
        sys.exit(f"wrk failed ({out.returncode}):\n{out.stdout}\n{out.stderr}")
    r = wrk_result(out.stdout)
    duration = r["duration_us"] / 1e6 - start_delay / 1e3
    return Run(
        name=name,
        connections=connections,
        requests=r["requests"],
        seconds=duration,
        bytes=r["bytes"],
        p50_ms=r["p50_us"] / 1e3,
        p99_ms=r["p99_us"] / 1e3,
        max_ms=r["max_us"] / 1e3,
        non2xx=r["non2xx"],
        socket_errors=r["socket_errors"],
        server_cpu=server_cpu / wall,
        wrk_cpu=wrk_cpu / wall,
        other_cpu=max(0.0, machine_cpu - server_cpu - wrk_cpu) / (wall + start_delay / 1e3),
        wall=wall,
    )


# ------------------------------------------------------------------ report
def verdict(ok: bool) -> str:
    return "PASS" if ok else "MISS"


RUN_COLUMNS = (  # header, width, format, value
    ("conns", 5, "d", lambda r: r.connections),
    ("req/s", 6, ".0f", lambda r: r.rps),
    ("p50 ms", 7, ".2f", lambda r: r.p50_ms),
    ("p99 ms", 7, ".2f", lambda r: r.p99_ms),
    ("max ms", 7, ".1f", lambda r: r.max_ms),
    ("CPU us/req", 10, ".0f", lambda r: r.cpu_us_per_request),
    ("B/resp", 6, ".0f", lambda r: r.bytes_per_response),
    ("non2xx", 6, "d", lambda r: r.non2xx),
    ("sockerr", 7, "d", lambda r: r.socket_errors),
    ("srv CPU", 7, ".0%", lambda r: r.server_cpu),
    ("wrk CPU", 7, ".0%", lambda r: r.wrk_cpu),
    ("other", 6, ".0%", lambda r: r.other_cpu),
)


def print_runs(runs: list[Run]) -> None:
    width = max(len(r.name) for r in runs)
    head = f"{'run':<{width}} " + " ".join(f"{h:>{w}}" for h, w, _, _ in RUN_COLUMNS)
    print(head)
    print("-" * len(head))
    for r in runs:
        cells = " ".join(f"{value(r):>{w}{fmt}}" for _, w, fmt, value in RUN_COLUMNS)
        print(f"{r.name:<{width}} {cells}")


def print_summary(rows: list[tuple[str, str, str, str]]) -> None:
    widths = [max(len(row[i]) for row in rows) for i in range(4)]
    for i, row in enumerate(rows):
        print("  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip())
        if i == 0:
            print("  ".join("-" * w for w in widths))


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="2 s per measurement")
    args = ap.parse_args()

    if shutil.which("wrk") is None:
        print(
            "bench_api: wrk is not installed. Install it with:\n"
            "    apt-get install -y wrk        (Debian/Ubuntu, as root)",
            file=sys.stderr,
        )
        return 2
    try:
        import httptools  # noqa: F401
        import uvloop  # noqa: F401
    except ImportError as e:
        print(f"bench_api: {e.name} is missing: pip install 'uvicorn[standard]'", file=sys.stderr)
        return 2

    # Seconds per run. (2) alternates healthz and step in rounds (in turn first), so that
    # a slow moment of this shared machine does not land on one side of the ratio only;
    # the ratio is the median of the rounds' (paired) ratios.
    latency_s, busy_s, rounds, class_s = (2, 2, 1, 2) if args.quick else (5, 2, 6, 10)
    wrk_version = subprocess.run(["wrk", "-v"], capture_output=True, text=True).stdout
    print(
        f"server: python -m app (uvicorn, uvloop + httptools, 1 process, access log on); "
        f"client: {wrk_version.split(' [')[0]}; {os.cpu_count()} CPUs; "
        f"net {'-'.join(map(str, LAYERS))}, B = 1"
    )

    with tempfile.TemporaryDirectory(prefix="bench_api_") as tmp:
        script = Path(tmp) / "bench.lua"
        script.write_text(WRK_LUA + WRK_RESULT_LUA)
        port = free_port()
        log = (Path(tmp) / "server.log").open("wb")
        server = start_server(port, log)

        def run(name: str, path: str, conns: int, seconds: int, ids=(), warm=True) -> Run:
            return wrk(port, server, script, name, path, conns, seconds, ids, warm)

        try:
            # (3) sizes, with the standard library: identity and gzip.
            (one,) = create_sessions(port, 1)
            step_path = f"/api/sessions/{one}/step"
            _, _, raw = request(port, "POST", step_path)
            _, headers, gz = request(port, "POST", step_path, gz=True)
            gzipped = headers.get("content-encoding") == "gzip"
            if gzipped:
                json.loads(gzip.decompress(gz))  # a whole trace, not a truncated one

            ids = create_sessions(port, CLASSROOM)
            step = "/api/sessions/{id}/step"
            # Warm up (first-call caches, the allocator, every session's first step).
            run("warm-up", "/healthz", BUSY, 1)
            run("warm-up", step, CLASSROOM, 1, ids)

            lat_h = run("(1) healthz", "/healthz", 1, latency_s)
            lat_s = run("(1) step", step, 1, latency_s, [one])
            busy_h: list[Run] = []
            busy_st: list[Run] = []
            for i in range(1, rounds + 1):
                for side in ("healthz", "step") if i % 2 else ("step", "healthz"):
                    if side == "healthz":
                        busy_h.append(run(f"(2) healthz, round {i}", "/healthz", BUSY, busy_s))
                    else:
                        busy_st.append(run(f"(2) step, round {i}", step, BUSY, busy_s, ids[:BUSY]))
            room = run("(4) classroom step", step, CLASSROOM, class_s, ids)
            cold = run("(4) same, connecting under load", step, CLASSROOM, class_s, ids, False)
            status, _, _ = request(port, "GET", "/healthz")
            if status != 200:
                print(f"warning: /healthz answered {status} after the load", file=sys.stderr)
        finally:
            stop_server(server)
            log.close()

    runs = [lat_h, lat_s, *busy_h, *busy_st, room, cold]
    h_rps = sum(r.requests for r in busy_h) / sum(r.seconds for r in busy_h)
    s_rps = sum(r.requests for r in busy_st) / sum(r.seconds for r in busy_st)
    ratios = [s.rps / h.rps for h, s in zip(busy_h, busy_st, strict=True)]
    ratio = statistics.median(ratios)
    h_cpu = sum(r.server_cpu * r.wall for r in busy_h) / sum(r.requests for r in busy_h)
    s_cpu = sum(r.server_cpu * r.wall for r in busy_st) / sum(r.requests for r in busy_st)
    failures = room.non2xx + room.socket_errors
    rows = [
        ("measurement", "result", "target", "status"),
        ("(1) healthz latency, 1 conn", f"p50 {lat_h.p50_ms:.2f} / p99 {lat_h.p99_ms:.2f} ms"),
        (
            "(1) step latency, 1 conn",
            f"p50 {lat_s.p50_ms:.2f} / p99 {lat_s.p99_ms:.2f} ms",
            f"p50 <= {TARGET_STEP_P50_MS:.0f} ms",
            verdict(lat_s.p50_ms <= TARGET_STEP_P50_MS),
        ),
        ("(2) healthz, 50 conns", f"{h_rps:,.0f} req/s"),
        ("(2) step, 50 conns (50 sessions)", f"{s_rps:,.0f} req/s"),
        (
            f"(2) step / healthz, median of {len(ratios)} rounds",
            f"{ratio:.0%} ({min(ratios):.0%} … {max(ratios):.0%})",
            f">= {TARGET_RATIO:.0%}",
            verdict(ratio >= TARGET_RATIO),
        ),
        (
            "(2) the same from server CPU per request",
            f"{h_cpu * 1e6:,.0f} / {s_cpu * 1e6:,.0f} us = {h_cpu / s_cpu:.0%}",
        ),
        ("(3) step body, identity", f"{len(raw):,} B"),
        (
            "(3) step body, gzip",
            f"{len(gz):,} B" + ("" if gzipped else " (NOT gzipped)"),
            f"<= {TARGET_GZIP_BYTES:,} B",
            verdict(gzipped and len(gz) <= TARGET_GZIP_BYTES),
        ),
        ("(3) step on the wire (wrk, gzip)", f"{room.bytes_per_response:,.0f} B/response"),
        ("(4) classroom, 100 sessions", f"{room.rps:,.0f} req/s"),
        ("(4) classroom latency p50", f"{room.p50_ms:.1f} ms"),
        (
            "(4) classroom latency p99",
            f"{room.p99_ms:.1f} ms",
            f"< {TARGET_P99_MS:.0f} ms",
            verdict(room.p99_ms < TARGET_P99_MS),
        ),
        (
            "(4) classroom non-2xx + socket errors",
            f"{room.non2xx} + {room.socket_errors}",
            f"{TARGET_NON2XX}",
            verdict(failures <= TARGET_NON2XX),
        ),
        (
            "(4) connecting under load: p99, errors",
            f"{cold.p99_ms:.1f} ms, {cold.non2xx + cold.socket_errors}",
        ),
    ]
    rows = [row if len(row) == 4 else (*row, "-", "info") for row in rows]
    print()
    print_runs(runs)
    print()
    print_summary(rows)
    busiest = max(r.other_cpu for r in runs)
    if busiest > NOISY_OTHER_CPU:
        print(
            f"\nWARNING: other processes used up to {busiest:.0%} of a core during the runs: "
            "req/s and\nlatencies are unreliable; CPU us/req is the steadier measure."
        )
    print(
        "\nCPU: a fraction of one core over the run's wall time. The server is one process, so"
        "\nnear 100 % means it, not wrk, is the bottleneck; 'other' is the rest of the machine"
        "\n(anything well above 0 % means the numbers are noisy: run again when it is quiet)."
        "\nEvery run but the last opens its connections first (1 s, not counted), then all of"
        "\nthem send at once."
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
