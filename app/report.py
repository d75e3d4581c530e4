"""Exports for homework: a step's trace and a run's history as CSV, and an HTML report.

CSV of a step (long format, one number per row, every number of the trace):

    quantity, layer, row, col, value

``s``, ``x``, ``prime`` (θ'(s)), ``delta``: row = position k in the mini-batch, col = unit j;
``grad``, ``update``, ``weights``: row = i (0 is the bias unit), col = j;
``grad_norm``, ``delta_mean_abs``, ``saturation``: one row per layer;
``step``, ``error``, ``learning_rate``, ``index``, ``input``, ``target``: layer 0.

The report is one self-contained HTML file (plotly.js inside, so it opens offline):
gradient size per layer and error over the run, the last step's ‖G(l)‖ per layer, and
the decision boundary for 2-D data.
"""

from __future__ import annotations

import csv
import html
import io

import numpy as np
import plotly.graph_objects as go

from app.sessions import Session
from engine import StepTrace


def trace_csv(t: StepTrace) -> str:
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(["quantity", "layer", "row", "col", "value"])
    w.writerow(["step", 0, "", "", t.step])
    w.writerow(["error", 0, "", "", repr(t.error)])
    w.writerow(["learning_rate", 0, "", "", repr(t.learning_rate)])
    for k, i in enumerate(t.indices):
        w.writerow(["index", 0, k, "", int(i)])
        w.writerow(["target", 0, k, "", repr(float(t.target[k]))])
        for j, v in enumerate(t.input[k], start=1):
            w.writerow(["input", 0, k, j, repr(float(v))])
    for l in range(1, len(t.s) + 1):
        lay = t.layer(l)
        for name in ("s", "x", "prime", "delta"):
            values = getattr(lay, name)
            if values is None:  # θ' of a softmax layer: not an element-wise slope
                continue
            for (k, j), v in np.ndenumerate(values):
                w.writerow([name, l, k, j + 1, repr(float(v))])
        for name in ("grad", "update", "weights"):
            for (i, j), v in np.ndenumerate(getattr(lay, name)):
                w.writerow([name, l, i, j + 1, repr(float(v))])
        for name in ("grad_norm", "delta_mean_abs", "saturation"):
            w.writerow([name, l, "", "", repr(float(getattr(lay, name)))])
    return buf.getvalue()


def history_csv(session: Session) -> str:
    c = session.history.curve()
    L = session.net.config.depth
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(
        ["first_step", "last_step", "error"]
        + [f"grad_norm_{l}" for l in range(1, L + 1)]
        + [f"delta_mean_abs_{l}" for l in range(1, L + 1)]
    )
    for k in range(len(c.step)):
        w.writerow(
            [int(c.first[k]), int(c.step[k]), repr(float(c.error[k]))]
            + [repr(float(v)) for v in c.grad_norm[k]]
            + [repr(float(v)) for v in c.delta_mean_abs[k]]
        )
    return buf.getvalue()


def _figures(session: Session) -> list[go.Figure]:
    c = session.history.curve(max_points=2000)
    L = session.net.config.depth
    figs = []
    grad = go.Figure(layout={"title": "Gradient size per layer ‖G(l)‖ (log scale)"})
    for l in range(L):
        grad.add_scatter(x=c.step, y=c.grad_norm[:, l], mode="lines", name=f"layer {l + 1}")
    grad.update_yaxes(type="log", title="‖G(l)‖")
    grad.update_xaxes(title="step")
    figs.append(grad)
    err = go.Figure(layout={"title": "Error on the mini-batch (mean over the points shown)"})
    err.add_scatter(x=c.step, y=c.error, mode="lines", name="error", opacity=0.35)
    k = max(1, len(c.error) // 25)  # a moving mean over ~4 % of the run
    if k > 1:
        smooth = np.convolve(c.error, np.ones(k) / k, mode="valid")
        err.add_scatter(x=c.step[k - 1 :], y=smooth, mode="lines", name=f"mean of {k} points")
    err.update_xaxes(title="step")
    figs.append(err)
    if len(c.step):
        bars = go.Figure(layout={"title": f"‖G(l)‖ per layer at step {int(c.step[-1])}"})
        bars.add_bar(x=[f"layer {l}" for l in range(1, L + 1)], y=c.grad_norm[-1])
        bars.update_yaxes(type="log")
        figs.append(bars)
    if session.net.config.layers[0] == 2:
        xs, ys, layers = session.net.grid(61)
        out = layers[-1]
        z = out.argmax(axis=2) if out.shape[2] > 1 else out[:, :, 0]
        d = session.net.dataset
        boundary = go.Figure(layout={"title": "Decision boundary: the output over the plane"})
        boundary.add_heatmap(x=xs, y=ys, z=z, colorscale="RdBu", opacity=0.8)
        boundary.add_scatter(
            x=d.x_train[:, 0],
            y=d.x_train[:, 1],
            mode="markers",
            marker={"color": d.y_train, "colorscale": "Viridis", "line": {"width": 1}},
            name="training points",
        )
        figs.append(boundary)
    return figs


def _g(v: float | None) -> str:
    return "–" if v is None else f"{v:.4g}"


def html_report(session: Session) -> str:
    cfg = session.config
    m = session.net.metrics()
    parts = []
    for k, fig in enumerate(_figures(session)):
        fig.update_layout(height=420, template="plotly_white")
        parts.append(fig.to_html(full_html=False, include_plotlyjs=k == 0))
    rows = "".join(
        f"<tr><th>{html.escape(k)}</th><td>{html.escape(str(v))}</td></tr>"
        for k, v in [
            ("layers", "-".join(map(str, cfg.layers))),
            ("hidden θ / output / loss", f"{cfg.activation} / {cfg.output} / {cfg.loss}"),
            ("init", f"{cfg.init.scheme} × {cfg.init.scale}"),
            ("η, batch size, seed", f"{cfg.learning_rate}, {cfg.batch_size}, {cfg.seed}"),
            ("dataset", cfg.dataset.name),
            ("steps, epoch", f"{session.net.state.step}, {session.net.state.epoch}"),
            ("train error / accuracy", f"{_g(m['train_error'])} / {_g(m['train_accuracy'])}"),
            ("test error / accuracy", f"{_g(m['test_error'])} / {_g(m['test_accuracy'])}"),
        ]
    )
    return (
        "<!doctype html><html><head><meta charset='utf-8'><title>Backprop Lab report</title>"
        "<style>body{font-family:sans-serif;max-width:60rem;margin:2rem auto}"
        "th{text-align:left;padding-right:1rem}</style></head><body>"
        f"<h1>Backprop Lab report</h1><table>{rows}</table>{''.join(parts)}</body></html>"
    )
