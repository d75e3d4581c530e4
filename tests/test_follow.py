"""Classroom: share links, the follow stream, read-only tokens and exercise checks.

The event stream is read over real HTTP from a live uvicorn server (the in-process
TestClient waits for a response to finish, and an event stream never does).
"""

from __future__ import annotations

import json
import queue
import threading

import httpx
import pytest
from fastapi.testclient import TestClient

from app import follow as follow_module
from app import follow_memory
from app.follow_memory import MemoryHub
from app.main import create_app
from app.settings import Settings
from app.store import SessionStore
from tests.support import run_in_own_loop, running_server

API = "/api/sessions"
BOTH_STORES = True  # sessions in the process and in Redis (tests/conftest.py)
WAIT = 10.0  # seconds any one event may take before the test fails


def new(client, **config) -> str:
    r = client.post(API, json=config)
    assert r.status_code == 201, r.text
    return r.json()["id"]


def share(client, sid: str, **body) -> dict:
    r = client.post(f"{API}/{sid}/share", json=body or None)
    assert r.status_code == 200, r.text
    return r.json()


class EventStream:
    """GET …/events read in a thread; events arrive in ``self.events`` as dicts."""

    def __init__(self, base: str, token: str, headers: dict | None = None) -> None:
        self.url = f"{base}/api/follow/{token}/events"
        self.headers = headers or {}
        self.events: queue.Queue = queue.Queue()
        self.status: int | None = None
        self.content_type = ""
        self.raw: list[str] = []
        self.opened = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()
        assert self.opened.wait(WAIT), "the event stream did not open"

    def _run(self) -> None:
        timeout = httpx.Timeout(WAIT, read=60.0)
        try:
            with httpx.stream("GET", self.url, headers=self.headers, timeout=timeout) as r:
                self.status = r.status_code
                self.content_type = r.headers.get("content-type", "")
                self.opened.set()
                fields: dict[str, str] = {}
                for line in r.iter_lines():
                    self.raw.append(line)
                    if line == "":
                        if "data" in fields:
                            self.events.put(
                                {
                                    "id": int(fields["id"]),
                                    "event": fields["event"],
                                    "data": json.loads(fields["data"]),
                                }
                            )
                        fields = {}
                    elif not line.startswith(":"):
                        name, _, value = line.partition(":")
                        fields[name] = value.removeprefix(" ")
        except httpx.HTTPError:
            pass
        finally:
            self.opened.set()
            self.events.put(None)  # the stream ended

    def next(self) -> dict:
        event = self.events.get(timeout=WAIT)
        assert event is not None, "the stream ended"
        return event

    def ended(self) -> bool:
        self.thread.join(WAIT)
        return not self.thread.is_alive()


@pytest.fixture
def live_server(settings: Settings):
    """A server of this test's own, with the test's store (the session-wide one keeps
    sessions in the process)."""
    with running_server(settings) as url:
        yield url


@pytest.fixture
def http(live_server):
    with httpx.Client(base_url=live_server, timeout=WAIT) as client:
        yield client


# --------------------------------------------------------------------- sharing
def test_share_gives_a_token_a_link_and_a_qr_code(client):
    sid = new(client)
    s = share(client, sid)
    assert s["token"] != sid and sid not in json.dumps(s)
    assert len(s["token"]) >= 22  # ≥ 128 bits in URL-safe base64 (24 bytes: 192 bits)
    assert s["url"] == f"/follow?token={s['token']}"
    assert s["link"] == f"http://testserver/follow?token={s['token']}"
    assert s["qr_svg"].startswith("<svg") and "viewBox" in s["qr_svg"] and "<path" in s["qr_svg"]
    assert s["followers"] == 0 and s["exercise"] is None
    again = share(client, sid, base_url="http://192.168.1.20:8000")
    assert again["token"] == s["token"]
    assert again["link"] == f"http://192.168.1.20:8000/follow?token={s['token']}"
    assert client.get(f"{API}/{sid}/share").json()["token"] == s["token"]
    r = client.post(f"{API}/{sid}/share", json={"base_url": "javascript:alert(1)"})
    assert r.status_code == 422


def test_the_follow_page_is_served(client):
    sid = new(client)
    token = share(client, sid)["token"]
    r = client.get(f"/follow?token={token}")
    assert r.status_code == 200 and "text/html" in r.headers["content-type"]
    assert "/static/follow.js" in r.text and "{{plotly_js}}" not in r.text


def test_a_follow_token_is_refused_by_every_session_endpoint(client):
    """Every route under /api/sessions/{session_id}, present and future, answers 403."""
    sid = new(client)
    token = share(client, sid)["token"]
    client.post(f"{API}/{sid}/step")
    before = client.get(f"{API}/{sid}").json()
    spec = client.get("/openapi.json").json()
    tried = 0
    for path, operations in spec["paths"].items():
        if "{session_id}" not in path:
            continue
        for method in operations:
            r = client.request(method.upper(), path.replace("{session_id}", token), json={})
            assert r.status_code == 403, (method, path, r.status_code)
            assert "read-only follow link" in r.json()["detail"]
            assert sid not in r.text
            tried += 1
    assert tried >= 20
    after = client.get(f"{API}/{sid}").json()
    assert after == before  # nothing changed, the share still works
    assert client.get(f"/api/follow/{token}").status_code == 200


def test_follower_reads_never_contain_the_session_id(client):
    sid = new(client, layers=[2, 3, 1])
    token = share(client, sid)["token"]
    client.post(f"{API}/{sid}/forward")
    spec = client.get("/openapi.json").json()
    bodies = {
        "delta": {"kind": "delta", "layer": 2, "unit": 1, "value": 0.5},
    }
    seen = 0
    for path, operations in spec["paths"].items():
        if not path.startswith("/api/follow/") or path.endswith("/events"):
            continue
        for method in operations:
            body = bodies["delta"] if method == "post" else None
            r = client.request(method.upper(), path.replace("{token}", token), json=body)
            assert r.status_code == 200, (method, path, r.text)
            assert sid not in r.text, path
            seen += 1
    assert seen >= 4
    state = client.get(f"/api/follow/{token}").json()
    assert state["config"]["layers"] == [2, 3, 1] and state["state"]["pending"] == "forward"
    assert [e["kind"] for e in state["frame"]] == ["forward"]


def test_unknown_tokens_and_unshared_sessions_get_404(client):
    r = client.get("/api/follow/not-a-token")
    assert r.status_code == 404 and "not valid" in r.json()["detail"]
    sid = new(client)
    assert client.get(f"{API}/{sid}/share").status_code == 404
    token = share(client, sid)["token"]
    assert client.delete(f"{API}/{sid}/share").status_code == 204
    assert client.get(f"/api/follow/{token}").status_code == 404
    assert client.post(f"{API}/{token}/step").status_code == 404  # a dead token is nothing


# --------------------------------------------------------------- the live stream
def test_a_follower_receives_the_teachers_steps_in_order(http, live_server):
    sid = new(http, layers=[2, 3, 1], batch_size=2)
    token = share(http, sid)["token"]
    stream = EventStream(live_server, token)
    assert stream.status == 200 and stream.content_type.startswith("text/event-stream")
    first = stream.next()
    assert first["event"] == "state" and first["data"]["reason"] == "connect"
    assert first["data"]["state"]["step"] == 0 and first["data"]["config"]["layers"] == [2, 3, 1]

    calls = ["forward", "backward", "update", "step", "step", "forward", "step", "undo"]
    answers = []
    for call in calls:
        r = http.post(f"{API}/{sid}/{call}", json={})
        assert r.status_code == 200, r.text
        answers.append(r.json())
    http.patch(f"{API}/{sid}", json={"learning_rate": 0.3})

    events = [stream.next() for _ in range(10)]
    assert [e["id"] for e in events] == list(range(first["id"] + 1, first["id"] + 11))
    assert [e["data"]["seq"] for e in events] == [e["id"] for e in events]
    # "step" after "forward" finishes that step: followers see its backward and update
    assert [e["event"] for e in events] == [
        "forward", "backward", "update", "step", "step", "forward", "backward", "update",
        "state", "state",
    ]  # fmt: skip
    # The trace each follower gets is the JSON the teacher's call returned.
    for n, answer in enumerate(answers[:6]):
        assert events[n]["data"]["trace"] == answer
    assert events[7]["data"]["trace"] == answers[6]
    assert [e["data"]["trace"]["step"] for e in events[:8]] == [1, 1, 1, 2, 3, 4, 4, 4]
    assert events[8]["data"]["reason"] == "undo" and events[8]["data"]["state"]["step"] == 3
    assert events[8]["data"]["frame"] == [events[4]["data"]]  # step 3 shown as it was
    assert events[9]["data"]["reason"] == "patch"
    assert events[9]["data"]["state"]["learning_rate"] == 0.3
    http.delete(f"{API}/{sid}/share")
    assert stream.next()["event"] == "ended"
    assert stream.ended()
    assert sid not in "\n".join(stream.raw)


def test_many_followers_get_every_event_and_the_share_counts_them(http, live_server):
    sid = new(http)
    token = share(http, sid)["token"]
    streams = [EventStream(live_server, token) for _ in range(5)]
    for s in streams:
        assert s.next()["event"] == "state"
    assert http.get(f"{API}/{sid}/share").json()["followers"] == 5
    for _ in range(10):
        http.post(f"{API}/{sid}/step")
    for s in streams:
        got = [s.next() for _ in range(10)]
        assert [e["data"]["trace"]["step"] for e in got] == list(range(1, 11))
    http.delete(f"{API}/{sid}/share")
    assert all(s.ended() for s in streams)


def test_a_reconnecting_follower_gets_what_it_missed(http, live_server):
    sid = new(http)
    token = share(http, sid)["token"]
    for _ in range(3):
        http.post(f"{API}/{sid}/step")
    last = http.get(f"/api/follow/{token}").json()["seq"]
    http.post(f"{API}/{sid}/step")
    http.post(f"{API}/{sid}/step")
    stream = EventStream(live_server, token, {"Last-Event-ID": str(last)})
    got = [stream.next(), stream.next()]
    assert [e["id"] for e in got] == [last + 1, last + 2]
    assert [e["data"]["trace"]["step"] for e in got] == [4, 5]
    http.delete(f"{API}/{sid}/share")
    assert stream.ended()


def test_followers_are_capped():
    settings = Settings(max_followers_per_session=1)
    with running_server(settings) as base, httpx.Client(base_url=base, timeout=WAIT) as http:
        sid = new(http)
        token = share(http, sid)["token"]
        first = EventStream(base, token)
        assert first.next()["event"] == "state"
        r = http.get(f"/api/follow/{token}/events")
        assert r.status_code == 429
        assert "BACKPROP_MAX_FOLLOWERS_PER_SESSION" in r.json()["detail"]
        http.delete(f"{API}/{sid}/share")
        assert first.ended()


def test_the_share_moves_to_the_teachers_next_setup(http, live_server):
    old = new(http)
    token = share(http, old)["token"]
    stream = EventStream(live_server, token)
    assert stream.next()["event"] == "state"
    assert http.delete(f"{API}/{old}").status_code == 204  # the page makes a new session
    paused = stream.next()
    assert paused["event"] == "paused" and "teacher" in paused["data"]["message"]
    assert http.get(f"/api/follow/{token}").status_code == 409
    fresh = new(http, layers=[2, 6, 6, 1])
    moved = share(http, fresh, continue_from=old)
    assert moved["token"] == token
    state = stream.next()
    assert state["event"] == "state" and state["data"]["reason"] == "continue"
    assert state["data"]["config"]["layers"] == [2, 6, 6, 1]
    http.post(f"{API}/{fresh}/step")
    assert stream.next()["event"] == "step"
    assert old not in "\n".join(stream.raw) and fresh not in "\n".join(stream.raw)
    http.delete(f"{API}/{fresh}/share")
    assert stream.ended()


def test_a_slow_follower_skips_to_a_fresh_state_and_memory_stays_bounded():
    """Straight on the hub: a follower that reads nothing holds at most its queue."""

    async def scenario():
        settings = Settings(follow_buffer_bytes=20_000)  # a few steps' events
        store = SessionStore(settings)
        hub = MemoryHub(store, settings)
        from app.schemas import SessionConfig

        session = store.create(SessionConfig())
        s = await hub.share(session, "http://x")
        stream = hub.stream(s, hub.join(s), None)
        assert b"retry" in await anext(stream)
        assert b"event: state" in await anext(stream)
        for _ in range(30):  # the follower reads nothing meanwhile
            session.step()
        (follower,) = s.followers
        assert 0 < follower.queued <= 20_000 and follower.queue.qsize() < 30
        assert s.recent_bytes <= 20_000 and len(s.recent) < 30  # the replay buffer too
        fresh = await anext(stream)
        assert b"event: state" in fresh and b'"reason":"resync"' in fresh
        assert b'"step":30' in fresh
        session.step()
        nxt = await anext(stream)
        assert b"event: step" in nxt and f"id: {s.seq}".encode() in nxt
        await stream.aclose()
        assert not s.followers and hub.followers == 0

    run_in_own_loop(scenario(), WAIT)


def test_an_expired_session_ends_its_share(monkeypatch):
    monkeypatch.setattr(follow_memory, "GRACE_SECONDS", 0.0)
    with TestClient(create_app(Settings(session_ttl_seconds=1))) as client:
        sid = new(client)
        token = share(client, sid)["token"]
        hub = client.app.state.follow
        client.app.state.store._sessions[sid].last_used -= 5  # idle past the expiry
        client.app.state.store.sweep()
        assert hub._by_token[token].detached_at is not None  # paused, waiting for the teacher
        client.portal.call(hub._prune)
        assert client.get(f"/api/follow/{token}").status_code == 404
        assert hub.followers == 0 and not hub._by_token and not hub._by_session


def test_a_follower_of_a_run_that_expired_gets_one_status_and_one_sentence():
    """Expired between two looks: the first look (which finds it expired) and the next
    ones answer alike, while the share waits for the teacher's next run."""
    with TestClient(create_app(Settings(session_ttl_seconds=60))) as client:
        sid = new(client)
        token = share(client, sid)["token"]
        client.app.state.store._sessions[sid].last_used -= 120  # idle past the expiry
        answers = [client.get(f"/api/follow/{token}") for _ in range(3)]
        answers += [client.get(f"/api/follow/{token}/dataset")]
        assert {r.status_code for r in answers} == {409}
        assert {r.json()["detail"] for r in answers} == {follow_module.RUN_ENDED}


# ------------------------------------------------------------------ exercises
def twin_step(client, config) -> dict:
    """The step a session with the same config takes: the numbers to predict."""
    twin = new(client, **config)
    return client.post(f"{API}/{twin}/step").json()


CONFIG = {"layers": [2, 3, 2, 1], "seed": 4, "learning_rate": 0.2}


def test_exercise_accepts_a_correct_delta_and_rejects_a_wrong_one(client):
    sid = new(client, **CONFIG)
    truth = twin_step(client, CONFIG)
    client.post(f"{API}/{sid}/forward")
    check = f"{API}/{sid}/exercise/check"
    for l, unit in [(3, 1), (2, 2), (1, 3)]:
        delta = truth["layers"][l - 1]["delta"][0][unit - 1]
        body = {"kind": "delta", "layer": l, "unit": unit}
        ok = client.post(check, json={**body, "value": delta * (1 + 0.005) + 0.0004}).json()
        assert ok["correct"] and ok["expected"] == delta and ok["step"] == 1
        assert ok["relative_tolerance"] == 0.01 and ok["absolute_tolerance"] == 0.001
        assert f"δ{'₁₂₃'[unit - 1]}({l})" in ok["formula"]
        wrong = client.post(check, json={**body, "value": delta + 0.05 + 0.02 * abs(delta)}).json()
        assert not wrong["correct"] and wrong["expected"] == delta
    # checking changed nothing: the step goes on as it would have
    assert client.get(f"{API}/{sid}").json()["state"]["pending"] == "forward"
    assert client.post(f"{API}/{sid}/step").json()["layers"] == truth["layers"]


def test_exercise_checks_the_new_weight_exactly(client):
    sid = new(client, **CONFIG)
    truth = twin_step(client, CONFIG)
    client.post(f"{API}/{sid}/forward")
    w = truth["layers"][0]["weights"][2][1]  # w_22(1) after the update
    body = {"kind": "weight", "layer": 1, "i": 2, "j": 2}
    ok = client.post(f"{API}/{sid}/exercise/check", json={**body, "value": w}).json()
    assert ok["correct"] and ok["expected"] == w and ok["difference"] == 0.0
    assert "η" in ok["formula"] and {t["symbol"] for t in ok["terms"]} >= {"η", "w₂₂(1)"}
    bad = client.post(f"{API}/{sid}/exercise/check", json={**body, "value": w + 0.1}).json()
    assert not bad["correct"]


def test_exercise_needs_a_step_in_progress_and_valid_targets(client):
    sid = new(client, **CONFIG)
    check = f"{API}/{sid}/exercise/check"
    r = client.post(check, json={"kind": "delta", "layer": 1, "unit": 1, "value": 0})
    assert r.status_code == 409 and "call forward first" in r.json()["detail"]
    client.post(f"{API}/{sid}/forward")
    for body, message in [
        ({"kind": "delta", "layer": 4, "unit": 1}, "layers are 1 … 3"),
        ({"kind": "delta", "layer": 2, "unit": 3}, "Layer 2 has 2 units"),
        ({"kind": "delta", "layer": 2, "unit": 1, "example": 1}, "has 1 examples"),
        ({"kind": "weight", "layer": 1, "i": 3, "j": 1}, "W(1) is 3 × 3"),
        ({"kind": "delta", "layer": 1, "value": 0}, "unit is required"),
        ({"kind": "delta", "layer": 2, "unit": 1, "step": 7}, "step on show is 1"),
    ]:
        r = client.post(check, json={"value": 0.0, **body})
        assert r.status_code in (409, 422) and message in r.json()["detail"], r.text


def test_a_follower_checks_against_the_teachers_step(client):
    sid = new(client, **CONFIG)
    token = share(client, sid)["token"]
    truth = twin_step(client, CONFIG)
    check = f"/api/follow/{token}/exercise/check"
    r = client.post(check, json={"kind": "delta", "layer": 3, "unit": 1, "value": 0})
    assert r.status_code == 409 and "wait for the forward beat" in r.json()["detail"]
    client.post(f"{API}/{sid}/forward")
    delta = truth["layers"][1]["delta"][0][0]
    body = {"kind": "delta", "layer": 2, "unit": 1, "step": 1}
    assert client.post(check, json={**body, "value": delta}).json()["correct"]
    assert not client.post(check, json={**body, "value": -delta - 1}).json()["correct"]
    client.post(f"{API}/{sid}/backward")
    client.post(f"{API}/{sid}/update")
    # after the update the step is still there to check, with the exact new weight
    w = truth["layers"][2]["weights"][0][0]
    ok = client.post(
        check, json={"kind": "weight", "layer": 3, "i": 0, "j": 1, "step": 1, "value": w}
    ).json()
    assert ok["correct"] and ok["expected"] == w
    for _ in range(12):
        client.post(f"{API}/{sid}/step")
    r = client.post(check, json={**body, "value": delta})
    assert r.status_code == 409 and "no longer kept" in r.json()["detail"]
    assert client.post(check, json={**body, "step": None, "value": 0}).json()["step"] == 13


def test_exercise_mode_is_set_for_followers(http, live_server):
    sid = new(http)
    token = share(http, sid)["token"]
    stream = EventStream(live_server, token)
    assert stream.next()["data"]["exercise"] is None
    mode = {"kind": "delta", "layer": 1, "unit": None, "i": None, "j": None}
    r = http.patch(f"{API}/{sid}/share", json={"exercise": {"kind": "delta", "layer": 1}})
    assert r.status_code == 200 and r.json()["exercise"] == mode
    event = stream.next()
    assert event["event"] == "exercise" and event["data"]["exercise"] == mode
    assert http.get(f"/api/follow/{token}").json()["exercise"] == mode
    http.patch(f"{API}/{sid}/share", json={"exercise": None})
    assert stream.next()["data"]["exercise"] is None
    http.delete(f"{API}/{sid}/share")
    assert stream.ended()
