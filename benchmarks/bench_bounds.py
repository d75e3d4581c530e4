"""Bounds under load: short requests while long ones run, and memory at every limit.

    python benchmarks/bench_bounds.py            # about a minute
    python benchmarks/bench_bounds.py --quick    # about 20 s

The server runs as a teacher runs it (``python -m app``), on a free port of 127.0.0.1,
with small memory limits so that they are reached quickly:
BACKPROP_MAX_SESSIONS=20 and BACKPROP_MAX_SESSION_BYTES=8 MB.

    (1) starvation: three clients each fast-forward a big network without pause (each
        call runs up to BACKPROP_TRAIN_TIME_LIMIT_SECONDS); meanwhile one client times
        GET /healthz and another a small step. Target: p99 of both under 250 ms.
    (2) memory: clients try every limit at once (the largest sessions allowed, and more
        of them than the server keeps, steps at the largest batch, big grids, shares);
        the server's RSS is sampled throughout. Target: it stays under the documented
        bound, BACKPROP_MAX_SESSIONS × BACKPROP_MAX_SESSION_BYTES above the RSS of the
        idle server.
"""

from __future__ import annotations

import argparse
import http.client
import json
import statistics
import sys
import tempfile
import threading
import time

from serving import HOST, free_port, rss_mb, start_server, stop_server

SESSIONS = 20
SESSION_BYTES = 8_000_000
TARGET_P99_MS = 250.0


def call(port: int, method: str, path: str, body=None) -> tuple[int, dict]:
    conn = http.client.HTTPConnection(HOST, port, timeout=60)
    try:
        data = None if body is None else json.dumps(body)
        conn.request(method, path, data, {"content-type": "application/json"})
        r = conn.getresponse()
        raw = r.read()
        return r.status, json.loads(raw) if raw else {}
    finally:
        conn.close()


def timed(port: int, method: str, path: str, body=None) -> float:
    t0 = time.perf_counter()
    status, _ = call(port, method, path, body)
    if status >= 400:
        raise RuntimeError(f"{method} {path} answered {status}")
    return (time.perf_counter() - t0) * 1000


def p99(values: list[float]) -> float:
    return statistics.quantiles(values, n=100)[98] if len(values) > 2 else max(values)


def starvation(port: int, seconds: float) -> dict[str, list[float]]:
    stop = threading.Event()
    busy = [
        call(port, "POST", "/api/sessions", {"layers": [2, 64, 64, 64, 1], "batch_size": 64})[1][
            "id"
        ]
        for _ in range(3)
    ]
    small = call(port, "POST", "/api/sessions", {})[1]["id"]

    def long_calls(sid: str) -> None:
        while not stop.is_set():
            call(
                port, "POST", f"/api/sessions/{sid}/train", {"steps": 10**6, "record_every": 10**4}
            )

    threads = [threading.Thread(target=long_calls, args=(sid,)) for sid in busy]
    for t in threads:
        t.start()
    time.sleep(0.5)  # the long calls are under way
    out: dict[str, list[float]] = {"healthz": [], "small step": []}
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        out["healthz"].append(timed(port, "GET", "/healthz"))
        out["small step"].append(timed(port, "POST", f"/api/sessions/{small}/step", {}))
        time.sleep(0.02)
    stop.set()
    for t in threads:
        t.join()
    return out


def memory(port: int, pid: int, rounds: int) -> tuple[float, float]:
    """(idle RSS, peak RSS) in MB while clients try every limit."""
    idle = rss_mb(pid)
    peak = idle
    largest = {"layers": [2] + [64] * 6 + [1], "batch_size": 64}
    for r in range(rounds):
        status, body = call(port, "POST", "/api/sessions", {**largest, "seed": r})
        if status != 201:
            status, body = call(
                port, "POST", "/api/sessions", {"layers": [2, 64, 64, 1], "seed": r}
            )
        sid = body["id"]
        for _ in range(10):
            call(port, "POST", f"/api/sessions/{sid}/step", {})
        call(port, "POST", f"/api/sessions/{sid}/train", {"steps": 500, "record_every": 50})
        call(port, "GET", f"/api/sessions/{sid}/grid?resolution=101")
        call(port, "POST", f"/api/sessions/{sid}/share", {})
        call(port, "POST", f"/api/sessions/{sid}/gradcheck", {})
        peak = max(peak, rss_mb(pid))
    return idle, peak


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true")
    args = ap.parse_args(argv)
    port = free_port()
    env = {
        "BACKPROP_MAX_SESSIONS": str(SESSIONS),
        "BACKPROP_MAX_SESSION_BYTES": str(SESSION_BYTES),
    }
    with tempfile.TemporaryFile("w+") as log:
        server = start_server(port, log, env)
        try:
            lat = starvation(port, 5.0 if args.quick else 20.0)
            idle, peak = memory(port, server.pid, 25 if args.quick else 60)
        finally:
            stop_server(server)
    bound = SESSIONS * SESSION_BYTES / 1e6
    rows = []
    for name, values in lat.items():
        v = p99(values)
        verdict = "PASS" if v < TARGET_P99_MS else "MISS"
        rows.append((f"(1) {name} p99, 3 long calls running", f"{v:.1f} ms", verdict))
        rows.append((f"(1) {name} median", f"{statistics.median(values):.1f} ms", "info"))
    grown = peak - idle
    verdict = "PASS" if grown < bound else "MISS"
    rows.append(("(2) RSS idle / peak", f"{idle:.0f} / {peak:.0f} MB", "info"))
    rows.append((f"(2) RSS growth (bound {bound:.0f} MB)", f"{grown:.0f} MB", verdict))
    for row in rows:
        print(f"{row[0]:<44} {row[1]:>16}  {row[2]}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
