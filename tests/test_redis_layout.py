"""A session in pieces (app/redis_layout.py), without Redis: two workers take turns on
one run through a dict that stands for its Redis hash, each writing only what it
changed since it last read or wrote the hash. After every request the run read back
from the hash is the run itself, bit for bit."""

from __future__ import annotations

import numpy as np
import pytest

from app.exceptions import Refused
from app.redis_layout import CHUNK, Held, changes, decode
from app.schemas import SessionConfig
from app.sessions import build_network
from app.settings import Settings
from app.store import SessionStore

SETTINGS = Settings(max_history_points=130, undo_depth=6)  # history in several pieces
# Requests in random order: steps twice as often as the others.
KINDS = ["step", "step", "forward", "backward", "update", "train", "undo", "reset", "patch"]
KINDS.append("weights")


def request(session, rng: np.random.Generator) -> None:
    """One request of a random kind, as the routes make them."""
    kind = rng.choice(KINDS)
    if kind == "step":
        session.step()
    elif kind == "forward":
        chosen = rng.integers(0, session.net.n_train, 2).tolist()
        session.forward(chosen if rng.random() < 0.5 else None)
    elif kind == "backward":
        session.backward()
    elif kind == "update":
        session.update()
    elif kind == "train":
        session.train(int(rng.integers(1, 200)))
    elif kind == "undo":
        session.undo_last()
    elif kind == "reset":
        session.reset(int(rng.integers(0, 5)))
    elif kind == "patch":
        session.patch(float(rng.choice([0.05, 0.5])), int(rng.choice([1, 4])))
    else:
        session.set_weights([(rng.normal(size=w.shape)).tolist() for w in session.net.weights])


def same_run(a, b) -> None:
    sa, sb = a.net.state, b.net.state
    assert (sa.step, sa.epoch, sa.position) == (sb.step, sb.epoch, sb.position)
    for wa, wb in zip(sa.weights, sb.weights, strict=True):
        assert wa.tobytes() == wb.tobytes()
    assert a.config == b.config and a.phase == b.phase
    assert [u.step for u in a.undo] == [u.step for u in b.undo]
    for ua, ub in zip(a.undo, b.undo, strict=True):
        assert all(x.tobytes() == y.tobytes() for x, y in zip(ua.weights, ub.weights, strict=True))
    assert a.undo.maxlen == b.undo.maxlen
    assert a.history.to_dict() == b.history.to_dict()
    ta, tb = a.current_trace(), b.current_trace()
    assert (ta is None) == (tb is None)
    if ta is not None:
        assert ta.step == tb.step and ta.error == tb.error


@pytest.mark.parametrize("seed", range(4))
def test_two_workers_writing_changes_keep_the_whole_run(seed):
    rng = np.random.default_rng(seed)
    store = SessionStore(SETTINGS)
    config = SessionConfig.model_validate(
        {"layers": [2, 3, 1], "dataset": {"name": "xor", "n": 20}}
    )
    alone = store.create(config)  # the run as one process keeps it
    served = store.create(config)  # the same run, through the hash
    hash_: dict[str, bytes] = {}
    workers: list[tuple[Held, object] | None] = [None, None]
    sizes, most_pieces, most_stride = [], 0, 1

    def build(config, weights):
        return build_network(config, SETTINGS, weights)

    def save(session, held: Held) -> Held:
        made = changes(session, held)
        hash_.update(made.write, version=str(made.after.version).encode())
        for name in made.delete:
            del hash_[name]
        session.history.mark_saved()
        sizes.append(sum(map(len, made.write.values())))
        return made.after

    workers[0] = (save(served, Held(0)), served)
    for _ in range(300):
        w = int(rng.integers(0, 2))
        cached = workers[w]
        if cached is None or cached[0].version != int(hash_["version"]):
            fields = {name.encode(): value for name, value in hash_.items()}
            session, held = decode(served.id, fields, build, store._session)
            same_run(session, alone)
            cached = (held, session)
        held, session = cached
        kind = int(rng.integers(1 << 30))  # the same request on both
        outcomes = []
        for run in (alone, session):
            try:
                request(run, np.random.default_rng(kind))
                outcomes.append(None)
            except Refused as e:
                outcomes.append(str(e))
        assert outcomes[0] == outcomes[1]
        workers[w] = (save(session, held), session)
        same_run(session, alone)
        pieces = [name for name in hash_ if name[0] == "h" and name[1:].isdigit()]
        assert len(pieces) == -(-len(alone.history) // CHUNK)
        assert len([name for name in hash_ if name[0] == "u"]) == len(alone.undo)
        most_pieces = max(most_pieces, len(pieces))
        most_stride = max(most_stride, alone.history.stride)
    assert most_pieces > 1 and most_stride > 1  # in several pieces, and compacted
    # Most requests wrote a few pieces of it (small), some the whole run (a reset, a
    # compaction, a new undo stack after a patch).
    assert np.median(sizes) < 0.5 * max(sizes)
