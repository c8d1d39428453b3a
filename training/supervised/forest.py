"""Fitted gradient-boosted trees as the flat arrays the app walks (``ecgviewer.forest.Forest``),
for the record head (a binary model per statement) and the beat list's classifier (one multiclass
model): one writer, so both read alike."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

# the app's names for scikit-learn's TreePredictor node fields
FIELDS = {"feature": "feature_idx", "threshold": "num_threshold", "left": "left", "right": "right",
          "missing_left": "missing_go_to_left", "leaf": "is_leaf", "value": "value"}  # fmt: skip


def per_output(model) -> tuple[list[list], np.ndarray]:
    """A fitted HistGradientBoostingClassifier's trees, a sequence per output (one for a binary
    target, one per class otherwise), and each output's log-odds before any tree. scikit-learn has
    no public accessor for either (``_predictors``, ``_baseline_prediction``)."""
    outputs = len(model._predictors[0])
    trees = [[iteration[k] for iteration in model._predictors] for k in range(outputs)]
    return trees, np.asarray(model._baseline_prediction, dtype=np.float64).ravel()


def arrays(trees: Sequence[tuple[int, Sequence]], base: np.ndarray) -> dict[str, np.ndarray]:
    """``tree_*`` arrays of (output index, its trees) pairs, in output order, and ``base`` (the
    log-odds of every output before its trees; an output without trees keeps its base)."""
    out: dict[str, list] = {k: [] for k in FIELDS}
    roots, codes, at = [], [], 0
    for code, sequence in trees:
        for tree in sequence:
            t = {mine: tree.nodes[theirs] for mine, theirs in FIELDS.items()}
            inner = ~t["leaf"].astype(bool)  # a leaf's children are 0: they stay so
            t["left"], t["right"] = (t[c].astype(np.int64) + at * inner for c in ("left", "right"))
            for name, v in t.items():
                out[name].append(v)
            roots.append(at)
            codes.append(code)
            at += len(tree.nodes)
    flat = {f"tree_{k}": np.concatenate(v) if v else np.zeros(0) for k, v in out.items()}
    return flat | {
        "tree_root": np.array(roots, np.int64),
        "tree_code": np.array(codes, np.int64),
        "tree_base": np.asarray(base, np.float64),
    }
