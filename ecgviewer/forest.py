"""Gradient-boosted trees (scikit-learn's HistGradientBoostingClassifier) as flat node arrays
walked in NumPy: scikit-learn's own predictor needs its pickled estimator, which the app neither
ships nor loads. The record head (``ml.record_head``, a sequence of trees per statement) and the
beat list's classifier (``measure.beat_classes``, one per class) read them alike; training writes
them (``training.supervised.forest``)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import cached_property

import numpy as np

PAIRS = 1 << 18  # (row, tree) pairs walked at once: memory bounded (a day's beats), and in cache


@dataclass(frozen=True)
class Forest:
    """Sequences of trees, each adding log-odds to one output ("code": a statement, a class)."""

    feature: np.ndarray  # (nodes,) the feature a node splits on
    threshold: np.ndarray  # (nodes,) a value at most this goes left
    left: np.ndarray  # (nodes,) node indices into these arrays
    right: np.ndarray
    missing_left: np.ndarray  # (nodes,) where a feature that could not be measured goes
    leaf: np.ndarray  # (nodes,)
    value: np.ndarray  # (nodes,) a leaf's log-odds
    root: np.ndarray  # (trees,) each tree's first node
    code: np.ndarray  # (trees,) the output it adds to
    base: np.ndarray  # (codes,) the log-odds before any tree

    KEYS = ("feature", "threshold", "left", "right", "missing_left", "leaf", "value", "root", "code", "base")

    @classmethod
    def from_arrays(cls, a: Mapping[str, np.ndarray]) -> Forest:
        kind = {"feature": np.int64, "left": np.int64, "right": np.int64, "root": np.int64, "code": np.int64,
                "missing_left": bool, "leaf": bool}  # fmt: skip
        forest = cls(*(np.asarray(a[f"tree_{k}"], kind.get(k, np.float64)) for k in cls.KEYS))
        if np.any(np.diff(forest.code) < 0):
            raise ValueError("a forest's trees must come output by output")
        return forest

    def logits(self, x: np.ndarray) -> np.ndarray:
        """(rows, codes) log-odds of (rows, features) ``x``, non-finite features unmeasured."""
        step = max(1, PAIRS // max(1, len(self.root)))
        parts = [self._logits(x[i : i + step]) for i in range(0, len(x), step)]
        return np.concatenate(parts) if parts else np.tile(self.base, (0, 1))

    def _logits(self, x: np.ndarray) -> np.ndarray:
        rows, trees = np.divmod(np.arange(len(x) * len(self.root)), len(self.root))
        return self.summed(self.value[self.walk(x, rows, trees)].reshape(len(x), len(self.root)))

    def summed(self, values: np.ndarray) -> np.ndarray:
        """(rows, codes) log-odds from each tree's leaf value (rows, trees)."""
        out = np.tile(self.base, (len(values), 1))
        if len(self.root):
            first = np.flatnonzero(np.r_[True, np.diff(self.code) > 0])  # each output's first tree
            out[:, self.code[first]] += np.add.reduceat(values, first, axis=1)
        return out

    def walk(self, x: np.ndarray, rows: np.ndarray, trees: np.ndarray) -> np.ndarray:
        """The leaf that row ``rows[i]`` of (rows, features) ``x`` reaches in tree ``trees[i]``:
        every pair walked at once, a level a step, only where a leaf is not reached yet."""
        flat = np.where(np.isfinite(x), x, np.nan).ravel()
        node, row_start, children = self.root[trees], rows * x.shape[1], self._children
        walking = np.flatnonzero(~self.leaf[node])
        while walking.size:
            at = node[walking]
            v = flat[row_start[walking] + self.feature[at]]
            left = np.where(np.isnan(v), self.missing_left[at], v <= self.threshold[at])
            node[walking] = children[at, (~left).astype(np.int64)]
            walking = walking[~self.leaf[node[walking]]]
        return node

    @cached_property
    def _children(self) -> np.ndarray:
        """(nodes, 2): each node's left and right child, built once (walked again and again)."""
        return np.stack([self.left, self.right], axis=1)

    def touching(self, features: Sequence[int]) -> np.ndarray:
        """(trees,) whether a tree splits on any of ``features`` (the others ignore them)."""
        tree_of_node = np.searchsorted(self.root, np.arange(len(self.value)), side="right") - 1
        split = ~self.leaf & np.isin(self.feature, list(features))
        out = np.zeros(len(self.root), dtype=bool)
        out[tree_of_node[split]] = True
        return out
