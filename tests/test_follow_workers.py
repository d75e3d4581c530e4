"""Follow mode across workers: the teacher steps through one worker, followers watch
through another, both on one Redis (app/follow_redis.py).

Two live servers in this process stand for two workers (each has its own hub, reader
tasks and session cache, as a worker process does); the last test runs a real
``backprop-lab --workers 2``.
"""

from __future__ import annotations

import httpx
import pytest

from app.settings import Settings
from tests.conftest import redis_settings
from tests.support import running_server
from tests.test_follow import WAIT, EventStream, new, share
from tests.test_redis import Server, fresh_connection

API = "/api/sessions"
BEATS = ["forward", "backward", "update", "step", "step", "forward", "step", "undo", "step"]


@pytest.fixture
def workers(redis_url):
    """Two app servers on one (emptied) Redis: (teacher's worker, followers' worker)."""
    settings = redis_settings(redis_url)
    with (
        running_server(settings) as a,
        running_server(settings) as b,
        httpx.Client(base_url=a, timeout=WAIT) as ta,
        httpx.Client(base_url=b, timeout=WAIT) as tb,
    ):
        yield ta, tb


def teach(http: httpx.Client, sid: str, calls: list[str]) -> list[dict]:
    answers = []
    for call in calls:
        r = http.post(f"{API}/{sid}/{call}", json={})
        assert r.status_code == 200, r.text
        answers.append(r.json())
    return answers


def test_a_follower_on_another_worker_sees_every_step_in_order(workers):
    a, b = workers
    sid = new(a, layers=[2, 3, 1], batch_size=2)
    token = share(a, sid)["token"]
    streams = [EventStream(str(b.base_url), token) for _ in range(3)]
    firsts = [s.next() for s in streams]
    assert {f["event"] for f in firsts} == {"state"}
    assert b.get(f"{API}/{sid}/share").status_code == 200  # the teacher's, on any worker
    assert a.get(f"{API}/{sid}/share").json()["followers"] == 3

    answers = teach(a, sid, BEATS)
    expected = [
        "forward", "backward", "update", "step", "step", "forward", "backward", "update",
        "state", "step",
    ]  # fmt: skip
    for stream, first in zip(streams, firsts, strict=True):
        events = [stream.next() for _ in expected]
        assert [e["event"] for e in events] == expected
        assert [e["id"] for e in events] == list(range(first["id"] + 1, first["id"] + 11))
        assert [e["data"]["seq"] for e in events] == [e["id"] for e in events]
        for n, answer in enumerate(answers[:6]):
            assert events[n]["data"]["trace"] == answer  # what the teacher's call returned
        assert events[7]["data"]["trace"] == answers[6]
        assert events[8]["data"]["reason"] == "undo"
        assert events[8]["data"]["frame"] == [events[4]["data"]]  # step 3 as it was
        assert events[9]["data"]["trace"] == answers[8]
    # What a page opening now on either worker sees: the same run, the same step.
    assert a.get(f"/api/follow/{token}").json() == b.get(f"/api/follow/{token}").json()
    a.delete(f"{API}/{sid}/share")
    for stream in streams:
        assert stream.next()["event"] == "ended"
        assert stream.ended()
        assert sid not in "\n".join(stream.raw)
    assert b.get(f"/api/follow/{token}").status_code == 404


def test_the_first_view_on_another_worker_is_the_step_on_show(workers):
    a, b = workers
    sid = new(a, layers=[2, 3, 1])
    teach(a, sid, ["step", "step"])
    (forward,) = teach(a, sid, ["forward"])
    token = share(a, sid)["token"]  # shared after stepping: the step in progress shows
    seen = b.get(f"/api/follow/{token}").json()
    assert seen["state"]["step"] == 2 and seen["state"]["pending"] == "forward"
    assert [e["trace"] for e in seen["frame"]] == [forward]
    stream = EventStream(str(b.base_url), token)
    first = stream.next()
    assert first["event"] == "state" and first["data"]["frame"] == seen["frame"]
    (backward,) = teach(a, sid, ["backward"])
    assert stream.next()["data"]["trace"] == backward
    frame = b.get(f"/api/follow/{token}").json()["frame"]
    assert [e["kind"] for e in frame] == ["forward", "backward"]
    a.delete(f"{API}/{sid}/share")
    assert stream.ended()


def test_a_follower_replays_what_it_missed_from_another_worker(workers):
    a, b = workers
    sid = new(a)
    token = share(a, sid)["token"]
    teach(a, sid, ["step"] * 3)
    last = a.get(f"/api/follow/{token}").json()["seq"]
    answers = teach(a, sid, ["step", "step"])
    stream = EventStream(str(b.base_url), token, {"Last-Event-ID": str(last)})
    got = [stream.next(), stream.next()]
    assert [e["id"] for e in got] == [last + 1, last + 2]
    assert [e["data"]["trace"] for e in got] == answers
    (more,) = teach(a, sid, ["step"])  # and then live, through this worker's reader
    nxt = stream.next()
    assert nxt["id"] == last + 3 and nxt["data"]["trace"] == more
    # An id from the future, or one no longer kept: a fresh state, never an error.
    late = EventStream(str(b.base_url), token, {"Last-Event-ID": str(last + 99)})
    fresh = late.next()
    assert fresh["event"] == "state" and fresh["data"]["state"]["step"] == 6
    a.delete(f"{API}/{sid}/share")
    assert stream.ended() and late.ended()


def test_trace_and_exports_are_served_by_the_other_worker(workers):
    a, b = workers
    sid = new(a, layers=[2, 4, 3, 1], batch_size=3)
    (stepped,) = teach(a, sid, ["step"])
    assert b.get(f"{API}/{sid}/trace").json() == stepped == a.get(f"{API}/{sid}/trace").json()
    assert b.get(f"{API}/{sid}/trace.csv").text == a.get(f"{API}/{sid}/trace.csv").text
    teach(b, sid, ["forward", "backward", "update"])  # finished through the other one
    assert a.get(f"{API}/{sid}/trace").json()["step"] == 2
    teach(a, sid, ["undo"])  # back to weights no trace produced: nothing to export
    r = b.get(f"{API}/{sid}/trace")
    assert r.status_code == 409 and "step first" in r.json()["detail"]


def test_followers_check_exercises_and_tokens_stay_read_only_on_any_worker(workers):
    a, b = workers
    sid = new(a, layers=[2, 3, 2, 1], seed=4)
    token = share(a, sid)["token"]
    twin = new(a, layers=[2, 3, 2, 1], seed=4)
    (truth,) = teach(a, twin, ["step"])
    teach(a, sid, ["forward"])
    delta = truth["layers"][1]["delta"][0][0]
    check = {"kind": "delta", "layer": 2, "unit": 1, "step": 1, "value": delta}
    assert b.post(f"/api/follow/{token}/exercise/check", json=check).json()["correct"]
    teach(a, sid, ["backward", "update"])
    w = truth["layers"][2]["weights"][0][0]
    weight = {"kind": "weight", "layer": 3, "i": 0, "j": 1, "step": 1, "value": w}
    ok = b.post(f"/api/follow/{token}/exercise/check", json=weight).json()
    assert ok["correct"] and ok["expected"] == w
    r = b.post(f"/api/follow/{token}/exercise/check", json={**check, "step": 9})
    assert r.status_code == 409 and "no longer kept" in r.json()["detail"]
    r = b.patch(f"{API}/{sid}/share", json={"exercise": {"kind": "delta", "layer": 1}})
    assert r.status_code == 200
    assert a.get(f"/api/follow/{token}").json()["exercise"]["layer"] == 1
    for client in (a, b):
        r = client.post(f"{API}/{token}/step")
        assert r.status_code == 403 and "read-only follow link" in r.json()["detail"]
        assert client.delete(f"{API}/{token}").status_code == 403
        assert client.get("/api/follow/not-a-token").status_code == 404
        r = client.get(f"/api/follow/{token}/events", headers={"Last-Event-ID": "x"})
        assert r.status_code == 422


def test_the_share_moves_to_a_new_setup_made_on_another_worker(workers):
    a, b = workers
    old = new(a)
    token = share(a, old)["token"]
    stream = EventStream(str(a.base_url), token)
    assert stream.next()["event"] == "state"
    assert b.delete(f"{API}/{old}").status_code == 204
    assert stream.next()["event"] == "paused"
    assert a.get(f"/api/follow/{token}").status_code == 409
    fresh = new(b, layers=[2, 6, 1])
    assert share(b, fresh, continue_from=old)["token"] == token
    state = stream.next()
    assert state["data"]["reason"] == "continue" and state["data"]["config"]["layers"] == [2, 6, 1]
    (answer,) = teach(b, fresh, ["step"])
    assert stream.next()["data"]["trace"] == answer
    b.delete(f"{API}/{fresh}/share")
    assert stream.ended()


def test_followers_of_two_uvicorn_workers_see_every_step(redis_url):
    """``backprop-lab --workers 2``: followers and the teacher's calls each on a new
    connection, which the kernel hands to either worker."""
    redis_settings(redis_url)
    server = Server(redis_url, workers=2)
    try:
        with fresh_connection(server.url) as http:
            sid = new(http)
            token = share(http, sid)["token"]
            streams = [EventStream(server.url, token) for _ in range(6)]
            firsts = [s.next()["id"] for s in streams]
            answers = teach(http, sid, ["forward", "backward", "update"] + ["step"] * 12)
            for stream, first in zip(streams, firsts, strict=True):
                got = [stream.next() for _ in answers]
                assert [e["id"] for e in got] == list(range(first + 1, first + 16))
                assert [e["data"]["trace"] for e in got] == answers
            assert {http.get(f"{API}/{sid}/trace").json()["step"] for _ in range(6)} == {13}
        # The server restarts: the streams end without "ended" (the share goes on), and
        # a page that reconnects replays what it missed from the new server.
        server.stop()
        for stream in streams:
            assert stream.ended() and "event: ended" not in stream.raw
        last = firsts[0] + len(answers)
        server = Server(redis_url, workers=2)
        with fresh_connection(server.url) as http:
            (more,) = teach(http, sid, ["step"])
            stream = EventStream(server.url, token, {"Last-Event-ID": str(last)})
            assert stream.next()["data"]["trace"] == more
            http.delete(f"{API}/{sid}/share")
            assert stream.next()["event"] == "ended"
    finally:
        server.stop()


def test_without_redis_the_in_process_hub_is_used():
    from fastapi.testclient import TestClient

    from app.follow_memory import MemoryHub
    from app.main import create_app

    with TestClient(create_app(Settings())) as client:
        assert isinstance(client.app.state.follow, MemoryHub)


def test_the_follower_cap_holds_per_worker_and_is_named(redis_url):
    settings = redis_settings(redis_url, max_followers_per_session=1)
    with (
        running_server(settings) as a,
        running_server(settings) as b,
        httpx.Client(base_url=a, timeout=WAIT) as http,
    ):
        sid = new(http)
        token = share(http, sid)["token"]
        first = EventStream(a, token)
        assert first.next()["event"] == "state"
        r = http.get(f"/api/follow/{token}/events")
        assert r.status_code == 429
        assert "BACKPROP_MAX_FOLLOWERS_PER_SESSION" in r.json()["detail"]
        other = EventStream(b, token)  # the other worker has room for one
        assert other.next()["event"] == "state"
        assert http.get(f"{API}/{sid}/share").json()["followers"] == 2  # on both workers
        http.delete(f"{API}/{sid}/share")
        assert first.ended() and other.ended()
