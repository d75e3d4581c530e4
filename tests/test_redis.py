"""Sessions in Redis: several workers serve one session as one process would, and a
killed worker loses nothing that was answered.

The API and follow suites also run against Redis (``BOTH_STORES`` in test_api.py and
test_follow.py); this file checks what only several workers can show.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient

from app.main import create_app
from app.settings import Settings
from tests.conftest import redis_settings
from tests.support import free_port, run_in_own_loop

ROOT = Path(__file__).resolve().parent.parent
API = "/api/sessions"

# One run through every kind of change, each call answered by the next "worker".
SCRIPT = [
    ("post", "/step", None),
    ("post", "/forward", None),
    ("post", "/backward", None),
    ("post", "/update", None),
    ("post", "/step", {"indices": [0, 3]}),
    ("post", "/forward", {"indices": [1]}),
    ("post", "/step", None),  # finishes the step in progress
    ("patch", "", {"learning_rate": 0.3, "batch_size": 4}),
    ("post", "/train", {"steps": 40}),
    ("post", "/undo", None),
    ("post", "/step", None),
    ("post", "/train", {"steps": 5}),
    ("post", "/undo", None),
    ("get", "/trace", None),  # the step before the fast-forward shows again
    ("post", "/forward", None),
    ("patch", "", {"batch_size": 2}),  # the step in progress keeps its batch of 4
    ("post", "/step", None),
    ("post", "/step", None),
    ("post", "/forward", None),
    ("post", "/undo", None),  # cancels the half-done step
    ("post", "/reset", {"seed": 5}),
    ("post", "/step", None),
    ("put", "/weights", {"weights": [[[0.1, -0.2], [0.3, 0.4], [-0.5, 0.6]], [[0.7], [8], [-1]]]}),
    ("post", "/step", None),
    ("get", "/history", None),
    ("get", "/export", None),
    ("get", "", None),
]
CONFIG = {"layers": [2, 2, 1], "dataset": {"name": "xor", "n": 20}}


def without_id(answer: dict) -> dict:
    return {k: v for k, v in answer.items() if k != "id"}


def run_script(clients) -> list:
    """SCRIPT on one session, call i through clients[i % len(clients)]."""
    r = clients[0].post(API, json=CONFIG)
    assert r.status_code == 201, r.text
    sid = r.json()["id"]
    answers = []
    for i, (method, path, body) in enumerate(SCRIPT):
        client = clients[(i + 1) % len(clients)]
        kwargs = {} if body is None else {"json": body}
        r = client.request(method, f"{API}/{sid}{path}", **kwargs)
        assert r.status_code == 200, (path, r.text)
        answers.append(without_id(r.json()))
    return answers


def test_two_workers_taking_turns_give_the_trajectory_of_one_process(redis_url):
    """Every call goes to the other app: each must read the session from Redis (the
    step in progress, undo stack and history included) and continue it exactly."""
    with TestClient(create_app(Settings())) as one:
        alone = run_script([one])
    settings = redis_settings(redis_url)
    with TestClient(create_app(settings)) as a, TestClient(create_app(settings)) as b:
        shared = run_script([a, b])
    assert shared == alone


def earlier_layout(r, key: str, history_as: str) -> None:
    """Rewrite a session's hash as sessions were saved before the config, the undo
    entries and the history had fields of their own: the config in the header, the undo
    stack's weights in one field ``undo`` (the header listing each entry's step, epoch,
    position), the history in one field, as JSON at first, then as capacity, stride, n
    and each column's n raw values."""
    import numpy as np
    import orjson

    from app.history import COLUMNS, History

    fields = {k.decode(): v for k, v in r.hgetall(key).items()}
    header = orjson.loads(fields["header"])
    header["config"] = orjson.loads(fields["config"])
    capacity, stride, points = header.pop("history")
    rows = b"".join(fields[f"h{k}"] for k in range(-(-points // 64)))
    old = History.from_rows(2, capacity, stride, rows).to_dict()
    if history_as == "json":
        history = orjson.dumps(old)
    else:
        history = np.array([capacity, stride, points], np.int64).tobytes() + b"".join(
            np.asarray(
                old[c], np.int64 if c in ("first", "last", "count") else np.float64
            ).tobytes()
            for c in COLUMNS
        )
    undo = b"".join(fields[name] for name, *_ in header["undo"])
    header["undo"] = [at for _, *at in header["undo"]]
    # A step in progress was kept as what recomputes it (here: the next mini-batch).
    backward = "backward" in fields
    header["pending"] = {"indices": None, "backward": backward} if "forward" in fields else None
    r.delete(key)
    r.hset(key, mapping={"version": fields["version"], "header": orjson.dumps(header)})
    r.hset(key, mapping={"weights": fields["weights"], "trace": fields["trace"]})
    r.hset(key, mapping={"undo": undo, "history": history})


@pytest.mark.parametrize("history_as", ["json", "columns"])
def test_a_session_saved_in_the_earlier_layout_still_loads(redis_url, history_as):
    """A session saved by the previous release, read by a new worker, shows the same
    state and curve, undoes and goes on as it would have; its next save is in the new
    layout."""
    import redis

    settings = redis_settings(redis_url)
    with TestClient(create_app(settings)) as a:
        sid = a.post(API, json=CONFIG).json()["id"]
        a.post(f"{API}/{sid}/train", json={"steps": 100})
        for _ in range(3):
            a.post(f"{API}/{sid}/step")
        state, curve = a.get(f"{API}/{sid}").json(), a.get(f"{API}/{sid}/history").json()
        after = [a.post(f"{API}/{sid}/undo").json() for _ in range(2)]
        after.append(a.post(f"{API}/{sid}/step").json())
        a.post(f"{API}/{sid}/undo")  # back where `after` began, three times over
        a.post(f"{API}/{sid}/step")
        a.post(f"{API}/{sid}/step")
    key = f"backprop:session:{sid}"
    with redis.Redis.from_url(redis_url) as r:
        earlier_layout(r, key, history_as)
        with TestClient(create_app(settings)) as b:
            assert b.get(f"{API}/{sid}").json() == state
            assert b.get(f"{API}/{sid}/history").json() == curve
            again = [b.post(f"{API}/{sid}/undo").json() for _ in range(2)]
            again.append(b.post(f"{API}/{sid}/step").json())
            assert again == after
        assert r.hexists(key, "h0") and not r.hexists(key, "undo")
        assert not r.hexists(key, "history")


def test_a_step_writes_what_it_changed_however_long_the_run(redis_url):
    """What one step sends to Redis: the header, the weights, the trace, one undo entry
    and one piece of the history. After 3,000 steps (a full undo stack of 50 entries,
    3,000 history points: about 280 KB in all) a step sends no more than the first did,
    give or take the last piece of the history."""
    import redis

    from app.history import row_dtype
    from app.redis_layout import CHUNK

    def sent(r, step) -> int:
        before = r.info("stats")["total_net_input_bytes"]
        step()
        return r.info("stats")["total_net_input_bytes"] - before

    settings = redis_settings(redis_url)
    with redis.Redis.from_url(redis_url) as r, TestClient(create_app(settings)) as c:
        sid = c.post(API, json={"layers": [2, 8, 8, 1]}).json()["id"]
        c.post(f"{API}/{sid}/step")
        first = sent(r, lambda: c.post(f"{API}/{sid}/step"))
        for _ in range(3):
            assert c.post(f"{API}/{sid}/train", json={"steps": 1000}).status_code == 200
        later = [sent(r, lambda: c.post(f"{API}/{sid}/step")) for _ in range(CHUNK)]
    assert max(later) < first + CHUNK * row_dtype(3).itemsize + 1000, (first, later)
    assert sorted(later)[CHUNK // 2] < 2 * first, (first, later)


def test_a_step_in_progress_saved_in_the_earlier_layout_goes_on(redis_url):
    """Read by a worker that then saves it in the new layout (a GET rewrites the
    header), and finished by another: the same step as in one process."""
    import redis

    def forward_pass(client) -> str:
        sid = client.post(API, json=CONFIG).json()["id"]
        for _ in range(3):
            client.post(f"{API}/{sid}/step")
        assert client.post(f"{API}/{sid}/forward").status_code == 200
        return sid

    with TestClient(create_app(Settings())) as one:
        sid = forward_pass(one)
        state = without_id(one.get(f"{API}/{sid}").json())
        finished = one.post(f"{API}/{sid}/step").json()
    settings = redis_settings(redis_url)
    with TestClient(create_app(settings)) as a:
        sid = forward_pass(a)
    with redis.Redis.from_url(redis_url) as r:
        earlier_layout(r, f"backprop:session:{sid}", "columns")
    with TestClient(create_app(settings)) as b:
        assert without_id(b.get(f"{API}/{sid}").json()) == state
    with TestClient(create_app(settings)) as c:
        assert without_id(c.get(f"{API}/{sid}").json()) == state  # still in progress
        assert c.post(f"{API}/{sid}/step").json() == finished


def test_a_session_this_server_cannot_read_is_a_404_and_frees_its_lock(redis_url):
    """A hash saved by another version (here: its header damaged) is refused with a
    sentence, never a 500, and leaves no lock behind for the next request."""
    import redis

    settings = redis_settings(redis_url)
    with TestClient(create_app(settings)) as a:
        sid = a.post(API, json=CONFIG).json()["id"]
    with redis.Redis.from_url(redis_url) as r:
        r.hset(f"backprop:session:{sid}", "header", b'{"config": {}}')
        with TestClient(create_app(settings)) as b:
            for _ in range(2):
                answer = b.post(f"{API}/{sid}/step")
                assert answer.status_code == 404
                assert "cannot read" in answer.json()["detail"]
        assert not r.exists(f"backprop:lock:{sid}")


def test_a_copy_dropped_while_its_read_is_in_flight_is_still_served(redis_url):
    """Redis answers "your copy is current" for a copy another request of this worker
    dropped meanwhile (its save failed): the copy is served and kept, not a KeyError."""
    from app.redis_store import RedisStore
    from app.schemas import SessionConfig

    async def run() -> None:
        store = await RedisStore.connect(redis_settings(redis_url))
        try:
            session = await store.add(SessionConfig())
            read = store._read

            async def dropped_meanwhile(keys, args):
                store._drop(session.id)
                return await read(keys=keys, args=args)

            store._read = dropped_meanwhile
            assert (await store.peek(session.id)) is session
            assert len(store) == 1
        finally:
            await store.close()

    run_in_own_loop(run())


def test_max_sessions_holds_across_workers(redis_url):
    settings = redis_settings(redis_url, max_sessions=3)
    with TestClient(create_app(settings)) as a, TestClient(create_app(settings)) as b:
        ids = [c.post(API, json={}).json()["id"] for c in (a, b, a, b, a)]
        alive = [sid for sid in ids if b.get(f"{API}/{sid}").status_code == 200]
    assert alive == ids[2:]  # the two least recently used were evicted


def test_a_session_expires_by_its_ttl(redis_url):
    settings = redis_settings(redis_url, session_ttl_seconds=1)
    with TestClient(create_app(settings)) as client:
        sid = client.post(API, json={}).json()["id"]
        assert client.get(f"{API}/{sid}").status_code == 200
        time.sleep(2.2)  # Redis drops the hash after its TTL
        assert client.get(f"{API}/{sid}").status_code == 404


def test_a_server_without_redis_does_not_start():
    settings = Settings(redis_url=f"redis://127.0.0.1:{free_port()}/0")
    with pytest.raises(RuntimeError, match="BACKPROP_REDIS_URL"), TestClient(create_app(settings)):
        pass


# ---------------------------------------------------------------- real workers
class Server:
    """``backprop-lab --workers N`` on a free port, with its Redis; stopped after."""

    def __init__(self, redis_url: str, workers: int) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        env = {**os.environ, "PYTHONPATH": str(ROOT), "BACKPROP_REDIS_URL": redis_url}
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "app", "--port", str(self.port), "--workers", str(workers)],
            cwd=ROOT,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        self.wait_until_ready(workers)

    def workers(self) -> list[int]:
        """The worker processes' ids (children of uvicorn's supervisor)."""
        path = Path(f"/proc/{self.proc.pid}/task/{self.proc.pid}/children")
        return [int(p) for p in path.read_text().split()]

    def wait_until_ready(self, workers: int, timeout: float = 30.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            assert self.proc.poll() is None, "the server exited"
            try:
                ready = httpx.get(self.url + "/healthz", timeout=1).status_code == 200
            except httpx.HTTPError:
                ready = False
            if ready and (workers == 1 or len(self.workers()) >= workers):
                return
            time.sleep(0.1)
        pytest.fail(f"the server did not start within {timeout} s")

    def stop(self) -> None:
        if self.proc.poll() is not None:
            return
        os.killpg(self.proc.pid, signal.SIGTERM)
        try:
            self.proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(timeout=15)


@pytest.fixture
def two_workers(redis_url):
    redis_settings(redis_url)  # empty
    server = Server(redis_url, workers=2)
    try:
        yield server
    finally:
        server.stop()


def fresh_connection(base: str) -> httpx.Client:
    """A client that opens a new connection per request: the kernel hands each one to
    either worker."""
    return httpx.Client(base_url=base, timeout=30, limits=httpx.Limits(max_keepalive_connections=0))


def test_two_uvicorn_workers_give_the_trajectory_of_one_process(two_workers):
    with TestClient(create_app(Settings())) as one:
        alone = run_script([one])
    with fresh_connection(two_workers.url) as http:
        assert run_script([http]) == alone


def test_a_killed_worker_loses_no_answered_step(two_workers, redis_url):
    """A paced class (a step every 20 ms per student) through two workers; one worker
    is SIGKILLed mid-load. Every session then answers at its last answered step (or
    one more: a step taken but not answered when the worker died)."""
    students, answered, errors = 12, {}, []
    stop = threading.Event()
    with fresh_connection(two_workers.url) as http:
        ids = [http.post(API, json={}).json()["id"] for _ in range(students)]
    for sid in ids:
        answered[sid] = 0

    def student(sid: str) -> None:
        with fresh_connection(two_workers.url) as http:
            while not stop.is_set():
                try:
                    r = http.post(f"{API}/{sid}/step")
                except httpx.HTTPError:
                    errors.append(sid)  # in flight on the killed worker
                    continue
                if r.status_code == 200:
                    answered[sid] = r.json()["step"]
                else:
                    errors.append(r.text)
                time.sleep(0.02)

    threads = [threading.Thread(target=student, args=(sid,)) for sid in ids]
    for t in threads:
        t.start()
    deadline = time.monotonic() + 60
    while min(answered.values()) < 3 and time.monotonic() < deadline:
        time.sleep(0.1)  # every student under way
    os.kill(two_workers.workers()[0], signal.SIGKILL)
    time.sleep(1.0)
    stop.set()
    for t in threads:
        t.join(timeout=60)
    assert min(answered.values()) >= 3, (answered, errors)
    with fresh_connection(two_workers.url) as http:
        for sid in ids:
            r = http.get(f"{API}/{sid}")
            assert r.status_code == 200, r.text
            assert r.json()["state"]["step"] - answered[sid] in (0, 1)
    # The whole server stopped and started again: the runs are still there.
    two_workers.stop()
    again = Server(redis_url, workers=1)
    try:
        with fresh_connection(again.url) as http:
            for sid in ids:
                assert http.get(f"{API}/{sid}").json()["state"]["step"] >= answered[sid]
    finally:
        again.stop()
