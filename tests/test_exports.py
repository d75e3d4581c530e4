"""Exports parse and hold the same numbers as the API."""

from __future__ import annotations

import csv
import io

import pytest

API = "/api/sessions"


@pytest.fixture
def stepped(client):
    sid = client.post(API, json={"layers": [2, 3, 2, 1], "batch_size": 2}).json()["id"]
    trace = client.post(f"{API}/{sid}/step").json()
    return sid, trace


def test_trace_json_is_the_last_step(client, stepped):
    sid, trace = stepped
    assert client.get(f"{API}/{sid}/trace").json()["layers"] == trace["layers"]


def test_trace_csv_holds_every_number_of_the_step(client, stepped):
    sid, trace = stepped
    r = client.get(f"{API}/{sid}/trace.csv")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(r.text)))
    got = {(q["quantity"], q["layer"], q["row"], q["col"]): float(q["value"]) for q in rows}
    assert got[("error", "0", "", "")] == trace["error"]
    for lay in trace["layers"]:
        l = str(lay["layer"])
        for name in ("s", "x", "delta", "grad", "update", "weights"):
            for i, row in enumerate(lay[name]):
                for j, v in enumerate(row, start=1):
                    assert got[(name, l, str(i), str(j))] == v  # exact: repr round-trips
        assert got[("grad_norm", l, "", "")] == lay["grad_norm"]
    n_numbers = sum(
        len(lay[n]) * len(lay[n][0])
        for lay in trace["layers"]
        for n in ("s", "x", "delta", "grad", "update", "weights")
    )
    assert sum(q["quantity"] in ("s", "x", "delta", "grad", "update", "weights") for q in rows) == (
        n_numbers
    )


def test_history_csv_matches_the_history(client, stepped):
    sid, _ = stepped
    client.post(f"{API}/{sid}/train", json={"steps": 40})
    rows = list(csv.DictReader(io.StringIO(client.get(f"{API}/{sid}/history.csv").text)))
    hist = client.get(f"{API}/{sid}/history").json()
    assert [int(r["last_step"]) for r in rows] == hist["step"]
    assert [float(r["error"]) for r in rows] == hist["error"]
    assert [float(r["grad_norm_3"]) for r in rows] == [g[2] for g in hist["grad_norm"]]


def test_trace_export_needs_a_step_at_the_current_weights(client, stepped):
    sid, _ = stepped
    client.post(f"{API}/{sid}/undo")
    r = client.get(f"{API}/{sid}/trace.csv")
    assert r.status_code == 409 and "step first" in r.json()["detail"]


def test_html_report_is_self_contained(client, stepped):
    sid, _ = stepped
    r = client.get(f"{API}/{sid}/report.html")
    assert r.status_code == 200 and "attachment" in r.headers["content-disposition"]
    body = r.text
    assert "Backprop Lab report" in body and "Gradient size per layer" in body
    assert "Decision boundary" in body
    assert "<script src=" not in body  # plotly.js is inside: it opens offline
