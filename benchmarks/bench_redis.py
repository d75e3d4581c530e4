"""Sessions in Redis and several workers, against the in-process store, in one run.

    python benchmarks/bench_redis.py            # 3 rounds of 5 s per setup
    python benchmarks/bench_redis.py --quick    # 1 round of 2 s

Three servers, started as a teacher would (``python -m app``) on free 127.0.0.1 ports,
and a redis-server of this run's own (in a temporary directory, append-only file on,
``appendfsync everysec`` as compose.yaml runs it):

    memory     one worker, sessions in the process (the baseline)
    redis      one worker, BACKPROP_REDIS_URL set
    redis x2   ``--workers 2``, BACKPROP_REDIS_URL set

(1) step throughput: 50 connections (wrk, one thread each), each stepping a session of
    its own (2-8-8-1, B = 1) as fast as answers come; the setups take turns each round,
    so a busy machine slows them alike, and the ratios are medians over the rounds:
    redis / memory (target >= 0.60) and redis x2 / redis (target >= 1.5).
(2) a paced class through ``redis x2``: 100 students, each stepping its own session 5
    times a second (200 ms between an answer and the next step), while 100 followers
    (each on a connection of its own, so on either worker) watch a teacher stepping 5
    times a second: p99 < 250 ms, no errors, every follower gets every step in order.

Targets are printed beside the figures, never asserted: the numbers depend on the machine.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

from bench_classroom import connect_followers, teacher
from serving import HOST, ROOT, WRK_RESULT_LUA, free_port, start_server, stop_server, wrk_result

sys.path.insert(0, str(ROOT))
from tests.support import redis_server  # noqa: E402

LAYERS = [2, 8, 8, 1]
CONNECTIONS = 50
STUDENTS = 100
FOLLOWERS = 100
PAUSE_MS = 200  # 5 steps a second per student
TARGET_ONE = 0.60
TARGET_TWO = 1.5
TARGET_P99_MS = 250.0

# Arguments after "--": the pause between an answer and the next step (ms), then session
# ids, one per thread (= connection). Every thread waits 1 s before its first request
# (not counted), so all connections are open when the load starts.
WRK_LUA = r"""
function init(args)
  pause = tonumber(args[1])
  first = true
  wrk.body = "{}"
  wrk.headers["Content-Type"] = "application/json"
  req = wrk.format("POST", "/api/sessions/" .. args[1 + tid] .. "/step")
  non2xx = 0
end

function delay()
  if first then first = false; return 1000 end
  return pause
end

function request()
  return req
end
"""


def new_sessions(port: int, n: int) -> list[str]:
    ids = []
    for _ in range(n):
        body = json.dumps({"layers": LAYERS}).encode()
        req = urllib.request.Request(
            f"http://{HOST}:{port}/api/sessions",
            body,
            {"Content-Type": "application/json"},
        )
        with urllib.request.urlopen(req, timeout=10) as r:
            ids.append(json.loads(r.read())["id"])
    return ids


def wrk(port: int, script: Path, ids: list[str], seconds: int, pause_ms: int) -> dict:
    n = len(ids)
    cmd = ["wrk", f"-t{n}", f"-c{n}", f"-d{seconds + 1}s", "--timeout", "5s", "-s", str(script)]
    cmd += [f"http://{HOST}:{port}", "--", str(pause_ms), *ids]
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=seconds + 70)
    if out.returncode != 0:
        sys.exit(f"wrk failed ({out.returncode}):\n{out.stdout}\n{out.stderr}")
    r = wrk_result(out.stdout)
    r["rps"] = r["requests"] / (r["duration_us"] / 1e6 - 1.0)  # without the start delay
    return r


def post(port: int, path: str, body: dict) -> dict:
    req = urllib.request.Request(
        f"http://{HOST}:{port}{path}",
        json.dumps(body).encode(),
        {"Content-Type": "application/json"},
    )
    with urllib.request.urlopen(req, timeout=10) as r:
        return json.loads(r.read())


async def paced_class(port: int, script: Path, students: list[str], seconds: int) -> dict:
    """The students through wrk, the teacher stepping, FOLLOWERS event streams."""
    (sid,) = new_sessions(port, 1)
    token = post(port, f"/api/sessions/{sid}/share", {})["token"]
    stop = asyncio.Event()
    followers, tasks = await connect_followers(port, token, FOLLOWERS, stop)
    load = asyncio.create_task(asyncio.to_thread(wrk, port, script, students, seconds, PAUSE_MS))
    await asyncio.sleep(1.0)  # wrk's connections open (its Lua delays the first request)
    sent: dict[int, float] = {}
    await teacher(port, sid, seconds - 1, sent)
    result = await load
    await asyncio.sleep(1.5)  # the last events reach everybody
    stop.set()
    await asyncio.wait_for(asyncio.gather(*tasks), 10)
    result["teacher_steps"] = len(sent)
    result["follower_errors"] = sum(1 for f in followers if f.error)
    result["in_order"] = sum(
        1
        for f in followers
        if not f.error
        and [e[0] for e in f.events]
        == list(range(f.first_seq + 1, f.first_seq + 1 + len(f.events)))
        and [e[2] for e in f.events if e[1] == "step"] == sorted(sent)
    )
    delays = sorted(e[3] - sent[e[2]] for f in followers for e in f.events if e[2] in sent)
    result["delivery_p99"] = delays[min(len(delays) - 1, int(len(delays) * 0.99))] if delays else 0
    return result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="1 round of 2 s")
    args = parser.parse_args()
    rounds, seconds = (1, 2) if args.quick else (3, 5)
    if not shutil.which("wrk"):
        raise SystemExit("wrk is not installed (Debian: apt-get install -y wrk)")

    with tempfile.TemporaryDirectory() as tmp, redis_server(appendonly=True) as url:
        script = Path(tmp) / "step.lua"
        script.write_text(WRK_LUA + WRK_RESULT_LUA)
        setups = {
            "memory": ({}, ()),
            "redis": ({"BACKPROP_REDIS_URL": url}, ()),
            "redis x2": ({"BACKPROP_REDIS_URL": url}, ("--workers", "2")),
        }
        servers, ids = {}, {}
        try:
            for name, (env, extra) in setups.items():
                port = free_port()
                log = open(Path(tmp) / f"{name}.log", "wb")  # noqa: SIM115 (closed with the dir)
                servers[name] = (port, start_server(port, log, env, extra))
                time.sleep(3 if extra else 0)  # the second worker imports too
                ids[name] = new_sessions(port, CONNECTIONS)
            rps = {name: [] for name in setups}
            for _ in range(rounds):
                for name, (port, _) in servers.items():
                    rps[name].append(wrk(port, script, ids[name], seconds, 0)["rps"])
            port = servers["redis x2"][0]
            students = new_sessions(port, STUDENTS)
            cls = asyncio.run(paced_class(port, script, students, max(seconds, 5)))
        finally:
            for _, proc in servers.values():
                stop_server(proc)

    one = statistics.median(b / a for a, b in zip(rps["memory"], rps["redis"], strict=True))
    two = statistics.median(b / a for a, b in zip(rps["redis"], rps["redis x2"], strict=True))
    print(f"\nstep throughput, {CONNECTIONS} connections, {rounds} round(s) of {seconds} s:")
    for name, values in rps.items():
        print(f"  {name:9} " + "  ".join(f"{v:7.0f} req/s" for v in values))
    ok = "ok" if one >= TARGET_ONE else "BELOW"
    print(f"  redis / memory     {one:5.2f}  (target >= {TARGET_ONE:.2f}: {ok})")
    ok = "ok" if two >= TARGET_TWO else "BELOW"
    print(f"  redis x2 / redis   {two:5.2f}  (target >= {TARGET_TWO:.2f}: {ok})")
    errors = cls["non2xx"] + cls["socket_errors"]
    p99 = cls["p99_us"] / 1e3
    ok = "ok" if p99 < TARGET_P99_MS and errors == 0 else "MISSED"
    print(
        f"\npaced class through redis x2: {STUDENTS} students at {1000 // PAUSE_MS} steps/s: "
        f"{cls['rps']:.0f} req/s, p50 {cls['p50_us'] / 1e3:.1f} ms, p99 {p99:.1f} ms, "
        f"{errors} errors (target p99 < {TARGET_P99_MS:.0f} ms, no errors: {ok})"
    )
    ok = "ok" if cls["in_order"] == FOLLOWERS else "MISSED"
    print(
        f"  {FOLLOWERS} followers of a teacher at 5 steps/s ({cls['teacher_steps']} steps): "
        f"{cls['in_order']} got every step in order, {cls['follower_errors']} errors, "
        f"delivery p99 {cls['delivery_p99'] * 1e3:.0f} ms (target: all in order: {ok})"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
