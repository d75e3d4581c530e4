"""A plain step (no body, or ``{}``) is served below FastAPI (app/hotpath.py): the same
status, headers and bytes as the route, which serves every other step request."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

import app.routes.sessions as routes
from app.routes.sessions import step_response
from tests.support import DIVERGING

API = "/api/sessions"
CONFIG = {"layers": [2, 8, 8, 1], "batch_size": 3, "seed": 11}
# What the route answers for and the hot path does not: a body naming no examples.
VIA_ROUTE = {"content": b'{"indices": null}', "headers": {"Content-Type": "application/json"}}
PLAIN_STEPS = {
    "no body": {"content": b"", "headers": {}},
    "the page's {}": {"content": b"{}", "headers": {"Content-Type": "application/json"}},
}


def new(client: TestClient, **config) -> str:
    r = client.post(API, json=config)
    assert r.status_code == 201, r.text
    return r.json()["id"]


def comparable(r) -> tuple[int, dict, bytes]:
    headers = {k: v for k, v in r.headers.items() if k not in ("date", "server")}
    return r.status_code, headers, r.content


@pytest.mark.parametrize("gzipped", [True, False], ids=["gzip", "identity"])
@pytest.mark.parametrize("plain", list(PLAIN_STEPS), ids=list(PLAIN_STEPS))
def test_a_plain_step_answers_as_the_route_does(client, plain, gzipped):
    accept = {"Accept-Encoding": "gzip" if gzipped else "identity"}
    fast, routed = new(client, **CONFIG), new(client, **CONFIG)
    kw = PLAIN_STEPS[plain]
    for _ in range(4):
        a = client.post(
            f"{API}/{fast}/step", content=kw["content"], headers={**kw["headers"], **accept}
        )
        b = client.post(
            f"{API}/{routed}/step",
            content=VIA_ROUTE["content"],
            headers={**VIA_ROUTE["headers"], **accept},
        )
        assert comparable(a) == comparable(b)
        assert a.status_code == 200 and a.json()["layers"][0]["weights"]
        assert (a.headers.get("content-encoding") == "gzip") is gzipped
        assert "default-src 'self'" in a.headers["content-security-policy"]
    assert client.get(f"{API}/{fast}").json() == client.get(f"{API}/{routed}").json() | {"id": fast}


def test_plain_steps_take_the_hot_path(client, monkeypatch):
    """The route (FastAPI) serves only the steps the hot path passes on."""
    served_by_route = []

    def spy(*args):
        served_by_route.append(args[1])
        return step_response(*args)

    monkeypatch.setattr(routes, "step_response", spy)
    sid = new(client)
    for kw in PLAIN_STEPS.values():
        assert client.post(f"{API}/{sid}/step", **kw).status_code == 200
    assert served_by_route == []
    assert client.post(f"{API}/{sid}/step", json={"indices": [0]}).status_code == 200
    assert client.post(f"{API}/{sid}/step", **VIA_ROUTE).status_code == 200
    assert served_by_route == [[0], None]
    assert client.get(f"{API}/{sid}").json()["state"]["step"] == 4


def test_a_step_with_examples_goes_to_the_route(client):
    sid = new(client, **CONFIG)
    r = client.post(f"{API}/{sid}/step", json={"indices": [4, 0]})
    assert r.status_code == 200 and r.json()["indices"] == [4, 0]
    r = client.post(f"{API}/{sid}/step", content=b"{", headers={"Content-Type": "application/json"})
    assert r.status_code == 422 and r.json() == {"detail": "The request body is not valid JSON."}
    # "{}" that is not declared JSON is refused by the route, as FastAPI refuses it.
    r = client.post(f"{API}/{sid}/step", content=b"{}", headers={"Content-Type": "text/plain"})
    assert r.status_code == 422
    assert client.get(f"{API}/{sid}").json()["state"]["step"] == 1


def test_errors_on_the_hot_path_are_the_apps_sentences(client):
    r = client.post(f"{API}/{'0' * 32}/step")
    assert r.status_code == 404
    assert r.json()["detail"].startswith("There is no session with this id")
    assert r.headers["x-content-type-options"] == "nosniff"
    # A phase in progress: a plain step finishes it; the same numbers as the phases.
    a, b = new(client, **CONFIG), new(client, **CONFIG)
    client.post(f"{API}/{a}/forward")
    finished = client.post(f"{API}/{a}/step").json()
    client.post(f"{API}/{b}/forward")
    client.post(f"{API}/{b}/backward")
    updated = client.post(f"{API}/{b}/update").json()
    assert finished["layers"] == updated["layers"] and finished["step"] == 1


def test_a_refused_step_on_the_hot_path(client):
    sid = new(client, **DIVERGING)
    for _ in range(6):
        before = client.get(f"{API}/{sid}").json()
        r = client.post(f"{API}/{sid}/step")
        assert r.status_code == 200
        if r.json()["diverged"]:
            break
    else:
        pytest.fail("η = 1e6 did not diverge in 6 steps")
    body = r.json()
    assert body["layers"] == [] and body["message"]
    assert "content-encoding" not in r.headers  # small: sent as it is
    assert client.get(f"{API}/{sid}").json() == before  # the session as it was
