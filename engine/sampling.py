"""Which examples each SGD step uses: every epoch visits the training set once, shuffled.

The order of epoch e is a pure function of (seed, e): permutation number e mod 16 drawn
from the generator seeded with [seed, 1, e // 16] (one generator serves 16 epochs in a
row). Nothing but (epoch, position) needs saving to continue a run exactly, and the
initial weights (drawn from [seed, 0]) never change which examples are visited.
"""

from __future__ import annotations

import numpy as np

ORDER_STREAM = 1
EPOCHS_PER_GENERATOR = 16


def epoch_order(seed: int, epoch: int, n: int) -> np.ndarray:
    """The shuffled order of the n training examples in ``epoch`` (read-only)."""
    rng = np.random.default_rng([seed, ORDER_STREAM, epoch // EPOCHS_PER_GENERATOR])
    for _ in range(epoch % EPOCHS_PER_GENERATOR):
        rng.permutation(n)  # the orders of this generator's earlier epochs
    order = rng.permutation(n)
    order.flags.writeable = False
    return order


class Orders:
    """``epoch_order`` for one seed and training set, remembering the last two epochs
    (a batch may straddle an epoch boundary)."""

    def __init__(self, seed: int, n: int) -> None:
        self.seed, self.n = seed, n
        self._kept: dict[int, np.ndarray] = {}

    def __call__(self, epoch: int) -> np.ndarray:
        order = self._kept.get(epoch)
        if order is None:
            if len(self._kept) >= 2:
                self._kept.pop(min(self._kept))
            order = self._kept[epoch] = epoch_order(self.seed, epoch, self.n)
        return order

    def next_batch(self, size: int, epoch: int, position: int) -> tuple[np.ndarray, int, int]:
        """The next ``size`` example indices from (epoch, position), and where they lead:
        the rest of this epoch, then the next one's first examples."""
        parts = []
        while size > 0:
            if position == self.n:
                epoch, position = epoch + 1, 0
            take = min(size, self.n - position)
            parts.append(self(epoch)[position : position + take])
            position, size = position + take, size - take
        indices = parts[0] if len(parts) == 1 else np.concatenate(parts)
        return indices, epoch, position
