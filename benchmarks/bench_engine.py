"""Microseconds per SGD step: the engine beside a NumPy floor and PyTorch.

    python benchmarks/bench_engine.py            # full run (about half a minute)
    python benchmarks/bench_engine.py --quick    # a short, rougher run (a few seconds)

For every net and batch size B, four variants train the same tanh MLP (tanh hidden and
output, squared error, η = 0.1) on the same data, each on its own copy of the same
initial weights:

    floor  a minimal SGD step written here: preallocated buffers, ``out=`` everywhere,
           in-place updates, no statistics, no finite checks
    full   the engine's full-trace step, ``net.step()``
    fast   the engine's fast-forward, ``net.run(n)``, per step
    torch  PyTorch CPU (float64, one thread): forward, ``loss.backward()``, SGD update
           under ``torch.no_grad()``

The machine is shared and noisy, so the variants are timed interleaved: each round times
one chunk of ``--steps`` steps of every variant (in a rotating order), and the table shows
the median over the rounds. Ratios are the medians of the per-round ratios (paired, so a
slow moment hits both sides). Before timing, one step of each variant is checked against
the engine's on the same mini-batch, so the floor and torch do the same arithmetic.

NumPy's BLAS is held to one thread (like torch) unless OPENBLAS_NUM_THREADS, or
OMP_NUM_THREADS, is already set.
"""

from __future__ import annotations

import os

for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS"):
    os.environ.setdefault(_var, "1")  # before NumPy loads its BLAS

import argparse  # noqa: E402
import statistics  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from collections.abc import Callable  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from engine import Config, Network, make_dataset  # noqa: E402
from engine.backprop import with_bias as augment  # noqa: E402
from engine.datasets import encode_labels  # noqa: E402
from engine.losses import PM1  # noqa: E402

try:
    import torch
except ImportError:
    torch = None

NETS = ((2, 4, 1), (2, 8, 8, 1), (2, 16, 16, 16, 16, 16, 16, 1), (2, 64, 64, 1))
BATCHES = (1, 32)
ETA = 0.1
TARGET_FULL = 2.5  # full-trace step <= 2.5 x floor
TARGET_FAST = 1.5  # fast-forward <= 1.5 x floor


def config(layers: tuple[int, ...], batch: int) -> Config:
    return Config(
        layers=layers,
        activation="tanh",
        output="tanh",
        loss="squared",
        init="xavier",
        learning_rate=ETA,
        batch_size=batch,
        seed=0,
    )


class Batches:
    """Mini-batches of B example indices: a fresh permutation per epoch, as SGD does."""

    def __init__(self, n: int, batch: int, seed: int = 0, convert: Callable = np.asarray):
        self.n, self.batch, self.convert = n, batch, convert
        self.rng = np.random.default_rng(seed)
        self.pos = n  # start with a shuffle

    def next(self):
        if self.pos + self.batch > self.n:
            self.order = self.convert(self.rng.permutation(self.n))
            self.pos = 0
        i = self.pos
        self.pos = i + self.batch
        return self.order[i : i + self.batch]


# --------------------------------------------------------------------------- floor
def carve(flat: np.ndarray, shapes) -> list[np.ndarray]:
    """C-contiguous views of consecutive pieces of a 1-D buffer."""
    views, i = [], 0
    for shape in shapes:
        n = shape[0] * shape[1]
        views.append(flat[i : i + n].reshape(shape))
        i += n
    return views


def make_floor(weights, xa_train: np.ndarray, y_train: np.ndarray, batch: int):
    """The fastest honest NumPy SGD step: returns ``(step(idx), weights)``.

    Same layout as the engine (bias unit x_0 = 1 in column 0, bias weights in row 0), so
    one ``np.dot`` gives s(l) and one gives G(l) including the bias row. δ is carried
    pre-scaled by −η/B, which makes x(l-1)ᵀ δ(l) the update ΔW(l) itself, and all W(l)
    and ΔW(l) are views of two flat buffers, so that W ← W + ΔW is one call.
    """
    shapes = [a.shape for a in weights]
    w_flat = np.concatenate([np.ravel(a) for a in weights]).astype(np.float64)
    u_flat = np.empty_like(w_flat)
    w, upd = carve(w_flat, shapes), carve(u_flat, shapes)
    xa = [np.ones((batch, a.shape[0])) for a in w]  # augmented x(0 … L-1); column 0 stays 1
    x = [a[:, 1:] for a in xa]  # x(l) views, written by tanh
    s = [np.empty((batch, a.shape[1])) for a in w]  # s(l); s(L) becomes x(L) in place
    delta = [np.empty_like(a) for a in s]
    back = [np.empty((batch, a.shape[0] - 1)) for a in w]  # δ(l) W(l)ᵀ without the bias row
    tmp = [np.empty_like(a) for a in back]
    y = np.empty((batch, 1))
    y_col = np.ascontiguousarray(y_train.reshape(-1, 1))
    r, t = np.empty((batch, 1)), np.empty((batch, 1))
    # Scalars as 0-d arrays: ufuncs take them faster than Python floats.
    one = np.array(1.0)
    scale = np.array(2.0 * ETA / batch)  # −η/B · ∂(x−y)²/∂x = −2η/B (x−y); sign: see δ(L)
    hidden = list(zip(xa[:-1], w[:-1], s[:-1], x[1:], strict=True))
    # Backward, layer L first: (δ(l), x(l-1)ᵀ, ΔW(l)) and, but for layer 1, what
    # δ(l-1) needs: (W(l)ᵀ without the bias row, scratch, scratch, x(l-1), δ(l-1)).
    layers = [(delta[l], xa[l].T, upd[l]) for l in range(len(w) - 1, -1, -1)]
    chain = [(w[l][1:].T, back[l], tmp[l], x[l], delta[l - 1]) for l in range(len(w) - 1, 0, -1)]
    chain.append(None)
    layers = list(zip(layers, chain, strict=True))
    xa0, xa_last, w_last, out, d_out = xa[0], xa[-1], w[-1], s[-1], delta[-1]
    dot, tanh, mul, sub, add, take = np.dot, np.tanh, np.multiply, np.subtract, np.add, np.take

    def step(idx):
        take(xa_train, idx, axis=0, out=xa0)
        for a, wl, sl, xl in hidden:
            dot(a, wl, out=sl)
            tanh(sl, out=xl)
        dot(xa_last, w_last, out=out)
        tanh(out, out=out)
        # δ(L)·(−η/B) = 2η/B (x−y)(x²−1)
        take(y_col, idx, axis=0, out=y)
        sub(out, y, out=r)
        mul(out, out, out=t)
        sub(t, one, out=t)
        mul(r, t, out=d_out)
        mul(d_out, scale, out=d_out)
        for (dl, at, u), prev in layers:
            dot(at, dl, out=u)  # ΔW(l) = −η/B x(l-1)ᵀ δ(l)
            if prev:  # δ(l-1) = θ'(s(l-1)) ⊙ δ(l) W(l)ᵀ = (1 − x(l-1)²) ⊙ δ(l) W(l)ᵀ
                wt, g, tl, xl, dprev = prev
                dot(dl, wt, out=g)
                mul(xl, xl, out=tl)
                sub(one, tl, out=tl)
                mul(g, tl, out=dprev)
        add(w_flat, u_flat, out=w_flat)  # every W(l) at once, after every δ used the old W

    return step, w


# --------------------------------------------------------------------------- torch
def make_torch(weights, x_train: np.ndarray, y_train: np.ndarray):
    """nn.Sequential(Linear, Tanh, …) in float64; returns ``(step(idx), weights())``."""
    torch.set_num_threads(1)
    mods = []
    for a in weights:
        lin = torch.nn.Linear(a.shape[0] - 1, a.shape[1], dtype=torch.float64)
        with torch.no_grad():
            lin.weight.copy_(torch.tensor(a[1:].T))
            lin.bias.copy_(torch.tensor(a[0]))
        mods += [lin, torch.nn.Tanh()]
    model = torch.nn.Sequential(*mods)
    params = list(model.parameters())
    xs = torch.tensor(x_train)
    ys = torch.tensor(y_train, dtype=torch.float64).reshape(-1, 1)
    mse = torch.nn.functional.mse_loss

    def step(idx):
        loss = mse(model(xs.index_select(0, idx)), ys.index_select(0, idx))
        loss.backward()
        with torch.no_grad():
            for p in params:
                p.add_(p.grad, alpha=-ETA)
                p.grad = None

    def current():
        lins = [m for m in model if isinstance(m, torch.nn.Linear)]
        return [
            np.vstack([m.bias.detach().numpy()[None], m.weight.detach().numpy().T]) for m in lins
        ]

    return step, current


# ------------------------------------------------------------------- measurement
def check(layers, batch, data, net) -> None:
    """From the same W, one step of floor and torch on examples 0 … B-1 must match the engine."""
    w0, xa_train, y_train = net.weights, augment(data.x_train), encode_labels(data.y_train, PM1)
    idx = np.arange(batch)
    floor_step, floor_w = make_floor(w0, xa_train, y_train, batch)
    floor_step(idx)
    want = net.step(idx).weights
    got = {"floor": floor_w}
    if torch is not None:
        torch_step, torch_w = make_torch(w0, data.x_train, y_train)
        torch_step(torch.from_numpy(np.array(idx)))
        got["torch"] = torch_w()
    for name, ws in got.items():
        for l, (a, b) in enumerate(zip(ws, want, strict=True), start=1):
            if not np.allclose(a, b, rtol=1e-9, atol=1e-12):
                raise SystemExit(f"{name} disagrees with the engine: {layers} B={batch} W({l})")


def variants(layers, batch, data) -> dict[str, Callable[[int], None]]:
    """name -> run(n), which does n SGD steps; each variant has its own copy of W."""
    cfg = config(layers, batch)
    full_net, fast_net = Network(cfg, data), Network(cfg, data)
    check(layers, batch, data, Network(cfg, data))
    w0, n = full_net.weights, full_net.n_train
    xa_train, y_train = augment(data.x_train), encode_labels(data.y_train, PM1)  # y = ±1

    floor_step, _ = make_floor(w0, xa_train, y_train, batch)
    floor_batches = Batches(n, batch)

    def floor(k: int) -> None:
        nxt = floor_batches.next
        for _ in range(k):
            floor_step(nxt())

    def full(k: int) -> None:
        step = full_net.step
        for _ in range(k):
            step()

    def fast(k: int) -> None:
        if fast_net.run(k).diverged:
            raise SystemExit(f"the engine diverged: {layers} B={batch}")

    out = {"floor": floor, "full": full, "fast": fast}
    if torch is not None:
        torch_step, _ = make_torch(w0, data.x_train, y_train)
        torch_batches = Batches(n, batch, convert=torch.from_numpy)

        def torch_run(k: int) -> None:
            nxt = torch_batches.next
            for _ in range(k):
                torch_step(nxt())

        out["torch"] = torch_run
    return out


def measure(runs: dict[str, Callable[[int], None]], steps: int, rounds: int):
    """µs per step of every variant per round, the variants interleaved in each round."""
    names = list(runs)
    for name in names:  # warm-up: caches, lazy imports, first-epoch permutations
        runs[name](max(steps // 4, 2))
    times: dict[str, list[float]] = {name: [] for name in names}
    for r in range(rounds):
        for name in names[r % len(names) :] + names[: r % len(names)]:
            t0 = time.perf_counter_ns()
            runs[name](steps)
            times[name].append((time.perf_counter_ns() - t0) / 1e3 / steps)
    return times


def ratio(times, a: str, b: str) -> float:
    return statistics.median(x / y for x, y in zip(times[a], times[b], strict=True))


def verdict(full: float, fast: float) -> str:
    return ", ".join(
        [
            "full ok" if full <= TARGET_FULL else "full MISS",
            "fast ok" if fast <= TARGET_FAST else "fast MISS",
        ]
    )


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="a short run: 5 rounds of 50 steps")
    ap.add_argument("--rounds", type=int, help="rounds per net and B (default 21)")
    ap.add_argument("--steps", type=int, help="steps per variant per round (default 200)")
    ap.add_argument("--net", action="append", help="only this net, e.g. 2-4-1 (repeatable)")
    ap.add_argument("--batch", type=int, action="append", help="only this B (repeatable)")
    args = ap.parse_args(argv)
    nets = [tuple(map(int, n.split("-"))) for n in args.net] if args.net else NETS
    rounds = args.rounds or (5 if args.quick else 21)
    steps = args.steps or (50 if args.quick else 200)

    data = make_dataset("xor", n=256)
    print(
        f"numpy {np.__version__}, torch {torch.__version__ if torch else 'not installed'}, "
        f"python {sys.version.split()[0]}; {len(data.x_train)} training examples, "
        f"{rounds} rounds x {steps} steps, median µs per step"
    )
    head = (
        f"{'net':<24} {'B':>3} {'floor µs':>9} {'full µs':>9} {'full/floor':>10} "
        f"{'fast µs':>9} {'fast/floor':>10} {'torch µs':>19}  target"
    )
    print(head)
    print("-" * len(head))
    for layers in nets:
        for batch in args.batch or BATCHES:
            times = measure(variants(layers, batch, data), steps, rounds)
            med = {name: statistics.median(v) for name, v in times.items()}
            full, fast = ratio(times, "full", "floor"), ratio(times, "fast", "floor")
            torch_us = med.get("torch")
            torch_col = f"{torch_us:.1f}" if torch_us is not None else "torch not installed"
            print(
                f"{'-'.join(map(str, layers)):<24} {batch:>3} {med['floor']:>9.1f} "
                f"{med['full']:>9.1f} {full:>9.2f}x "
                f"{med['fast']:>9.1f} {fast:>9.2f}x "
                f"{torch_col:>19}  {verdict(full, fast)}",
                flush=True,
            )
    print(
        f"targets: full <= {TARGET_FULL}x floor, fast <= {TARGET_FAST}x floor; "
        "ratios are medians of per-round ratios (torch for reference)"
    )


if __name__ == "__main__":
    main()
