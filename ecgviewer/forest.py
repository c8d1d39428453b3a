"""Gradient-boosted trees (scikit-learn's HistGradientBoostingClassifier) as flat node arrays
walked in NumPy: scikit-learn's own predictor needs its pickled estimator, which the app neither
ships nor loads. The record head (``ml.record_head``, a sequence of trees per statement) and the
beat list's classifier (``measure.beat_classes``, one per class) read them alike; training writes
them (``training.supervised.forest``)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from functools import cached_property

import numpy as np

PAIRS = 1 << 18  # (row, tree) pairs walked at once: memory bounded (a day's beats), and in cache
THREADS = 2  # chunks of pairs walked at once (one for each of 2 cores)


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
        count = len(self.root)
        step = max(1, PAIRS // max(1, count))
        n = min(step, len(x))
        rows, trees = np.repeat(np.arange(n), count), np.tile(np.arange(count), n)  # a chunk's pairs

        def chunk(i: int) -> np.ndarray:
            part = x[i : i + step]
            leaves = self.walk(part, rows[: len(part) * count], trees[: len(part) * count])
            return self.summed(self.value[leaves].reshape(len(part), count))

        starts = range(0, len(x), step)
        if len(starts) < 2:
            parts = [chunk(i) for i in starts]
        else:  # the walk's NumPy steps release the interpreter's lock (a day's beats: 0.85 -> 0.50 s)
            with ThreadPoolExecutor(THREADS) as pool:
                parts = list(pool.map(chunk, starts))
        return np.concatenate(parts) if parts else np.tile(self.base, (0, 1))

    def summed(self, values: np.ndarray) -> np.ndarray:
        """(rows, codes) log-odds from each tree's leaf value (rows, trees)."""
        out = np.tile(self.base, (len(values), 1))
        if len(self.root):
            first = np.flatnonzero(np.r_[True, np.diff(self.code) > 0])  # each output's first tree
            out[:, self.code[first]] += np.add.reduceat(values, first, axis=1)
        return out

    def walk(self, x: np.ndarray, rows: np.ndarray, trees: np.ndarray) -> np.ndarray:
        """The leaf that row ``rows[i]`` of (rows, features) ``x`` reaches in tree ``trees[i]``:
        every pair a level a step, as deep as the deepest tree, a leaf leading to itself
        (``_steps``), so that no step sorts out the pairs still walking (a day's beat list: 1.6 ->
        0.7 s; the record head's deeper trees, a record: 1 -> 2 ms)."""
        feature, threshold, missing_left, children, depth = self._steps
        flat = np.where(np.isfinite(x), x, np.nan).ravel()
        node, first = self.root[trees], rows * x.shape[1]
        for _ in range(depth):
            v = flat[first + feature[node]]
            right = ~((v <= threshold[node]) | (np.isnan(v) & missing_left[node]))
            node = children[2 * node + right]
        return node

    @cached_property
    def _steps(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, int]:
        """The nodes as ``walk`` steps through them, built once (walked again and again): each
        one's feature, threshold, missing way and left and right child side by side, a leaf its
        own child either way; and the deepest tree's depth."""
        nodes = np.arange(len(self.leaf))
        children = np.stack([np.where(self.leaf, nodes, c) for c in (self.left, self.right)], axis=1)
        depth, level = 0, self.root[~self.leaf[self.root]]
        while len(level):
            depth += 1
            level = np.concatenate([self.left[level], self.right[level]])
            level = level[~self.leaf[level]]
        feature = np.where(self.leaf, 0, self.feature).astype(np.intp)
        threshold = np.where(self.leaf, np.inf, self.threshold)
        return feature, threshold, self.missing_left | self.leaf, children.ravel().astype(np.intp), depth

    def touching(self, features: Sequence[int]) -> np.ndarray:
        """(trees,) whether a tree splits on any of ``features`` (the others ignore them)."""
        tree_of_node = np.searchsorted(self.root, np.arange(len(self.value)), side="right") - 1
        split = ~self.leaf & np.isin(self.feature, list(features))
        out = np.zeros(len(self.root), dtype=bool)
        out[tree_of_node[split]] = True
        return out
