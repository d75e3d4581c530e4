"""A classroom on one server: 100 students stepping while 100 followers watch the teacher.

    python benchmarks/bench_classroom.py            # full run (about 2 minutes)
    python benchmarks/bench_classroom.py --quick    # shorter phases (about 1 minute)

The server is started as a teacher would start it (``python -m app``: one uvicorn
process, uvloop and httptools, access log on) on a free port of 127.0.0.1, with a short
session expiry (BACKPROP_SESSION_TTL_SECONDS, default here 20 s) so the expiry can be
watched. Load:

- 100 students, each stepping their own 2-8-8-1 session through its own connection:
  ``wrk`` (a C client, ``apt-get install -y wrk``) with a Lua script that gives every
  connection its own session. Two runs: *paced* — every student presses Play at 5
  steps/s, the page's default rate (500 steps/s in all) — and *flat out* — every
  connection steps as fast as the server answers (a closed loop: the worst case).
- 100 followers of one shared teacher session, each an event stream read by this
  script (plain asyncio sockets and a minimal chunked/SSE parser, so the client is cheap),
  while the teacher steps 5 times a second. Every follower must get every step, in
  order (consecutive event ids), within 1 s of the teacher's request.

Memory: the server's RSS at start, with everybody connected, at the peak, after the
load, after the sessions expired (idle past the TTL, then one request sweeps them), and
after a second class came and left the same way; then 3 × BACKPROP_MAX_SESSIONS
sessions are opened and abandoned (students leaving without closing) to show the cap.

Only loopback addresses are used; every phase is bounded in time. Targets: step p99 <
250 ms, 0 errors, every follower event delivered in order within 1 s.
"""

from __future__ import annotations

import argparse
import asyncio
import http.client
import json
import os
import resource
import shutil
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from serving import (
    HOST,
    WRK_RESULT_LUA,
    busy_cpu_seconds,
    cpu_seconds,
    free_port,
    rss_mb,
    start_server,
    stop_server,
    wrk_result,
)

LAYERS = [2, 8, 8, 1]
STUDENTS = 100
FOLLOWERS = 100
TEACHER_HZ = 5.0
PLAY_MS = 200  # a student's Play at 5 steps/s
TTL = 20  # seconds: BACKPROP_SESSION_TTL_SECONDS for this server
MAX_SESSIONS = 1000  # the default cap

TARGET_P99_MS = 250.0
TARGET_DELIVERY_S = 1.0

WRK_LUA = r"""
-- args: pause between a connection's requests (ms, 0: none), then one session id per
-- connection. Each wrk thread holds one connection (run with -t N -c N).
function init(args)
  math.randomseed(tid * 7919)
  pause = tonumber(args[1])
  local ids = #args - 1
  local sid = args[1 + ((tid - 1) % ids) + 1]
  wrk.body = "{}"  -- what the page's fetch() sends for a step
  wrk.headers["Content-Type"] = "application/json"
  req = wrk.format("POST", "/api/sessions/" .. sid .. "/step")
  non2xx = 0
  first = true
end
-- A student's pace varies: each pause is drawn from [pause/2, 3 pause/2], so that the
-- class does not step in lockstep (the first request waits until every connection is
-- open, plus a random part of one pause).
function delay()
  if first then
    first = false
    return 1000 + math.random(0, pause)
  end
  if pause == 0 then return 0 end
  return math.random(math.floor(pause / 2), math.floor(pause * 3 / 2))
end
function request() return req end
"""


# ---------------------------------------------------------------------- the server
class Api:
    """A keep-alive JSON client for set-up requests (not for the measured load)."""

    def __init__(self, port: int) -> None:
        self.conn = http.client.HTTPConnection(HOST, port, timeout=30)

    def call(self, method: str, path: str, body=None) -> tuple[int, object]:
        data = None if body is None else json.dumps(body).encode()
        headers = {"Content-Type": "application/json"} if data is not None else {}
        self.conn.request(method, path, body=data, headers=headers)
        r = self.conn.getresponse()
        raw = r.read()
        return r.status, (json.loads(raw) if raw else None)

    def new_session(self) -> str:
        status, body = self.call("POST", "/api/sessions", {"layers": LAYERS})
        assert status == 201, body
        return body["id"]


# ------------------------------------------------------------------- followers
@dataclass
class Follower:
    events: list[tuple[int, str, int, float]] = field(default_factory=list)  # id, kind, step, t
    first_seq: int | None = None
    error: str = ""


async def follow(port: int, token: str, f: Follower, ready: asyncio.Event, stop: asyncio.Event):
    """Read one event stream: HTTP/1.1 chunked body, parsed into SSE events."""
    try:
        reader, writer = await asyncio.open_connection(HOST, port)
        writer.write(
            f"GET /api/follow/{token}/events HTTP/1.1\r\nHost: {HOST}:{port}\r\n"
            "Accept: text/event-stream\r\n\r\n".encode()
        )
        status = await reader.readline()
        if b" 200 " not in status:
            f.error = status.decode().strip()
            ready.set()
            return
        while (await reader.readline()) not in (b"\r\n", b""):
            pass
        buffer = b""
        stopping = asyncio.ensure_future(stop.wait())
        while True:
            size_line = asyncio.ensure_future(reader.readline())
            done, _ = await asyncio.wait({size_line, stopping}, return_when=asyncio.FIRST_COMPLETED)
            if stopping in done:
                size_line.cancel()
                break
            size = int(size_line.result().strip() or b"0", 16)
            if size == 0:
                break
            chunk = await reader.readexactly(size + 2)
            now = time.monotonic()
            buffer += chunk[:-2]
            while b"\n\n" in buffer:
                block, buffer = buffer.split(b"\n\n", 1)
                fields = dict(
                    line.split(": ", 1) for line in block.decode().split("\n") if ": " in line
                )
                if "data" not in fields:
                    continue
                data = json.loads(fields["data"])
                if f.first_seq is None:
                    f.first_seq = int(fields["id"])
                    ready.set()
                    continue
                step = data.get("trace", {}).get("step", -1)
                f.events.append((int(fields["id"]), fields["event"], step, now))
        writer.close()
    except (OSError, asyncio.IncompleteReadError, ValueError) as e:
        f.error = f"{type(e).__name__}: {e}"
        ready.set()


async def teacher(port: int, sid: str, seconds: float, sent: dict[int, float]) -> list[float]:
    """POST /step TEACHER_HZ times a second on one keep-alive connection."""
    reader, writer = await asyncio.open_connection(HOST, port)
    latencies = []
    request = (
        f"POST /api/sessions/{sid}/step HTTP/1.1\r\nHost: {HOST}:{port}\r\n"
        "Content-Length: 0\r\n\r\n"
    ).encode()
    start = time.monotonic()
    n = 0
    while time.monotonic() - start < seconds:
        t0 = time.monotonic()
        writer.write(request)
        await reader.readline()
        length = 0
        while (line := await reader.readline()) not in (b"\r\n", b""):
            if line.lower().startswith(b"content-length:"):
                length = int(line.split(b":")[1])
        body = json.loads(await reader.readexactly(length))
        sent[body["step"]] = t0
        latencies.append(time.monotonic() - t0)
        n += 1
        await asyncio.sleep(max(0.0, start + n / TEACHER_HZ - time.monotonic()))
    writer.close()
    return latencies


async def wrk(port: int, ids: list[str], seconds: int, pause_ms: int, script: str) -> dict:
    proc = await asyncio.create_subprocess_exec(
        "wrk", "-t", str(len(ids)), "-c", str(len(ids)), "-d", f"{seconds + 1}s",
        "--timeout", "10s", "-s", script, f"http://{HOST}:{port}",
        "--", str(pause_ms), *ids,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
    )  # fmt: skip
    out, _ = await proc.communicate()
    return wrk_result(out.decode())


async def sample_rss(pid: int, peak: list[float], stop: asyncio.Event) -> None:
    while not stop.is_set():
        peak[0] = max(peak[0], rss_mb(pid))
        await asyncio.sleep(0.25)


@dataclass
class Result:
    name: str
    steps: dict
    teacher_steps: int = 0
    delivered: int = 0
    expected: int = 0
    in_order: bool = True
    delivery_p50: float = 0.0
    delivery_p99: float = 0.0
    delivery_max: float = 0.0
    follower_errors: int = 0
    server_cpu: float = 0.0
    client_cpu: float = 0.0  # this script and wrk
    other_cpu: float = 0.0  # the rest of the machine: noise


async def connect_followers(port: int, token: str, n: int, stop: asyncio.Event):
    """``n`` followers' event streams, each connected and past its first event; they
    read until ``stop`` is set. Returns the followers and their tasks."""
    followers = [Follower() for _ in range(n)]
    readies = [asyncio.Event() for _ in followers]
    tasks = [
        asyncio.create_task(follow(port, token, f, r, stop))
        for f, r in zip(followers, readies, strict=True)
    ]
    await asyncio.wait_for(asyncio.gather(*(r.wait() for r in readies)), 30)
    return followers, tasks


async def classroom(port, pid, students, token, teacher_sid, seconds, pause_ms, script, peak, n):
    """One load phase: wrk students + the teacher + ``n`` followers' event streams."""
    stop = asyncio.Event()
    followers, tasks = await connect_followers(port, token, n, stop)
    sampler = asyncio.create_task(sample_rss(pid, peak, stop))
    cpu0, t0, busy0 = cpu_seconds(pid), time.monotonic(), busy_cpu_seconds()
    own0 = resource.getrusage(resource.RUSAGE_SELF)
    kids0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    sent: dict[int, float] = {}
    students_run = asyncio.create_task(wrk(port, students, seconds, pause_ms, script))
    await asyncio.sleep(1.0)  # wrk's connections open (its Lua delays the first request)
    await teacher(port, teacher_sid, seconds, sent)
    steps = await students_run
    wall = time.monotonic() - t0
    server = cpu_seconds(pid) - cpu0
    own1 = resource.getrusage(resource.RUSAGE_SELF)
    kids1 = resource.getrusage(resource.RUSAGE_CHILDREN)  # wrk, reaped by now
    client = own1.ru_utime + own1.ru_stime - own0.ru_utime - own0.ru_stime
    client += kids1.ru_utime + kids1.ru_stime - kids0.ru_utime - kids0.ru_stime
    other = busy_cpu_seconds() - busy0 - server - client
    await asyncio.sleep(1.5)  # the last events reach everybody
    stop.set()
    await asyncio.wait_for(asyncio.gather(*tasks), 10)
    sampler.cancel()

    result = Result("", steps, teacher_steps=len(sent), expected=len(sent) * n)
    delays = []
    for f in followers:
        if f.error:
            result.follower_errors += 1
            continue
        ids = [e[0] for e in f.events]
        got = [e[2] for e in f.events if e[1] == "step"]
        result.delivered += len(got)
        if ids != list(range(f.first_seq + 1, f.first_seq + 1 + len(ids))) or got != sorted(sent):
            result.in_order = False
        delays += [e[3] - sent[e[2]] for e in f.events if e[2] in sent]
    delays.sort()
    if delays:
        result.delivery_p50 = delays[len(delays) // 2]
        result.delivery_p99 = delays[min(len(delays) - 1, int(len(delays) * 0.99))]
        result.delivery_max = delays[-1]
    result.server_cpu = server / wall
    result.client_cpu = client / wall
    result.other_cpu = max(0.0, other / wall)
    return result


# ---------------------------------------------------------------------- main
def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="5 s load phases, not 15 s")
    args = parser.parse_args()
    seconds = 5 if args.quick else 15
    if not shutil.which("wrk"):
        raise SystemExit("wrk is not installed (Debian: apt-get install -y wrk)")

    port = free_port()
    tmp = Path(tempfile.mkdtemp(prefix="bench-classroom-"))
    script = tmp / "students.lua"
    script.write_text(WRK_LUA + WRK_RESULT_LUA)
    with open(tmp / "server.log", "wb") as log:
        server = start_server(
            port,
            log,
            {"BACKPROP_SESSION_TTL_SECONDS": str(TTL), "BACKPROP_MAX_SESSIONS": str(MAX_SESSIONS)},
        )
    memory: list[tuple[str, float]] = []
    try:
        api = Api(port)
        api.call("GET", "/healthz")
        memory.append(("server started", rss_mb(server.pid)))
        teacher_sid = api.new_session()
        status, shared = api.call("POST", f"/api/sessions/{teacher_sid}/share", {})
        assert status == 200, shared
        token = shared["token"]
        students = [api.new_session() for _ in range(STUDENTS)]
        memory.append((f"{STUDENTS + 1} sessions made", rss_mb(server.pid)))

        results = []
        peak = [0.0]
        runs = [
            ("paced, no followers (baseline)", PLAY_MS, 0),
            ("paced: Play at 5 steps/s", PLAY_MS, FOLLOWERS),
            ("flat out (stress)", 0, FOLLOWERS),
        ]
        for name, pause, n in runs:
            r = asyncio.run(
                classroom(
                    port, server.pid, students, token, teacher_sid, seconds, pause,
                    str(script), peak, n,
                )
            )  # fmt: skip
            r.name = name
            results.append(r)
            api = Api(port)  # a fresh connection after the idle time
        memory.append((f"peak during load ({FOLLOWERS} followers connected)", peak[0]))
        memory.append(("after the load, followers gone", rss_mb(server.pid)))

        # Students leave without closing: the sessions expire after TTL seconds idle.
        time.sleep(TTL + 1.5)
        api = Api(port)
        api.new_session()  # creating a session sweeps the expired ones
        gone = api.call("GET", f"/api/sessions/{students[0]}")[0]
        follow_status = api.call("GET", f"/api/follow/{token}")[0]
        memory.append(
            (f"after expiry (TTL {TTL} s; a student's session now: {gone})", rss_mb(server.pid))
        )

        # A second class comes, steps, and leaves the same way.
        second = [api.new_session() for _ in range(STUDENTS)]
        for sid in second:
            api.call("POST", f"/api/sessions/{sid}/train", {"steps": 200})
        memory.append(("second class: 100 sessions, 200 steps each", rss_mb(server.pid)))
        time.sleep(TTL + 1.5)
        api = Api(port)
        api.new_session()
        memory.append(("second class expired", rss_mb(server.pid)))

        # More students than the cap, none closing: the least recently used are evicted.
        for n in range(1, 3 * MAX_SESSIONS + 1):
            sid = api.new_session()
            api.call("POST", f"/api/sessions/{sid}/train", {"steps": 50})
            if n % MAX_SESSIONS == 0:
                memory.append(
                    (f"{n} sessions opened and abandoned (cap {MAX_SESSIONS})", rss_mb(server.pid))
                )
    finally:
        stop_server(server)

    print(
        f"\nBackprop Lab classroom benchmark: {STUDENTS} students ({LAYERS}, B = 1) stepping "
        f"for {seconds} s per run, {FOLLOWERS} followers of a teacher stepping "
        f"{TEACHER_HZ:g}×/s; one uvicorn process (uvloop, httptools), {os.cpu_count()} CPUs.\n"
    )
    print(
        "| run | student steps | steps/s | p50 ms | p99 ms | max ms | errors | teacher steps "
        "| follower events (got / expected, in order) | delivery p50 / p99 / max s "
        "| CPU: server / clients / other |"
    )
    print("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- | --- | --- |")
    ok = True  # the targets are for the paced runs; flat out shows where the limit is
    noisy = 0.0
    for r in results:
        s = r.steps
        errors = s["non2xx"] + s["socket_errors"] + r.follower_errors
        rate = s["requests"] / (s["duration_us"] / 1e6)
        events = (
            f"{r.delivered} / {r.expected}, {'yes' if r.in_order else 'NO'}" if r.expected else "–"
        )
        delivery = (
            f"{r.delivery_p50:.3f} / {r.delivery_p99:.3f} / {r.delivery_max:.3f}"
            if r.expected
            else "–"
        )
        print(
            f"| {r.name} | {s['requests']} | {rate:.0f} | {s['p50_us'] / 1000:.1f} | "
            f"{s['p99_us'] / 1000:.1f} | {s['max_us'] / 1000:.1f} | {errors} | {r.teacher_steps} | "
            f"{events} | {delivery} | {r.server_cpu:.2f} / {r.client_cpu:.2f} / {r.other_cpu:.2f} |"
        )
        noisy = max(noisy, r.other_cpu)
        ok &= errors == 0 and r.in_order and r.delivered == r.expected
        if r.name.startswith("paced"):
            ok &= s["p99_us"] / 1000 < TARGET_P99_MS and r.delivery_max < TARGET_DELIVERY_S
    print(
        "\nCPU in cores (of the run's wall time): the server is one process; 'clients' is wrk "
        "and this script; 'other' is the rest of the machine."
    )
    if noisy > 0.25:
        print(f"WARNING: other processes used up to {noisy:.2f} cores: latencies are noisy.")
    print("\n| server memory | RSS MB |\n| --- | ---: |")
    for name, mb in memory:
        print(f"| {name} | {mb:.1f} |")
    print(
        f"\nthe teacher's follow link after its session expired: HTTP {follow_status} "
        "(409: followers are told the run ended and wait for the teacher's next one)"
    )
    print(
        f"targets (paced runs): step p99 < {TARGET_P99_MS:g} ms, 0 errors, every follower "
        f"event in order within {TARGET_DELIVERY_S:g} s -> {'MET' if ok else 'NOT MET'}"
    )
    print(f"(server log: {tmp / 'server.log'})")


if __name__ == "__main__":
    main()
