"""Multi-label metrics: macro AUROC / AUPRC with bootstrap 95 % intervals, paired bootstrap
differences between two models, per-class AUROC, and per-class decision thresholds chosen on
validation."""

from __future__ import annotations

import os
import warnings
from collections.abc import Sequence

import numpy as np

# bootstrap draws of an interval whose caller gives none (the report writers); the tests of those
# writers set fewer in TRAINING_BOOTSTRAP_DRAWS: the same code, coarser intervals
N_BOOT = int(os.environ.get("TRAINING_BOOTSTRAP_DRAWS") or 1000)


def scorable(y: np.ndarray) -> np.ndarray:
    """Classes with at least one positive and one negative (AUROC is undefined otherwise)."""
    pos = y.sum(axis=0)
    return (pos > 0) & (pos < len(y))


class Ranked:
    """Every column of ``p`` sorted once, so that a bootstrap draw needs no sort of its own: a draw
    is a weight per record (how often it was drawn), and weighted cumulative counts over the fixed
    order give what sorting the resampled records would (a record drawn twice is two tied scores,
    which sit in one group either way). Both metrics sum over positives only, so a draw needs the
    cumulative count of all records just at the positives' tie groups, and the positives' own
    counts from a cumulative sum over the positives alone (a few % of the cells on PTB-XL).
    Measured on 71 classes x 2 models x 5 seeds of 2,158 records: 7 ms a draw, against 124 ms for
    the cumulative sums over every cell that it replaced, with bitwise the same scores."""

    def __init__(self, y: np.ndarray, p: np.ndarray) -> None:
        n, m = p.shape
        self.order = np.argsort(-p, axis=0)  # any order within a tie: both metrics step once per group
        ps = np.take_along_axis(p, self.order, axis=0)
        row = np.broadcast_to(np.arange(n)[:, None], p.shape)
        last = np.ones(p.shape, dtype=bool)
        last[:-1] = ps[:-1] != ps[1:]  # the last row of each group of tied scores
        first = np.ones(p.shape, dtype=bool)
        first[1:] = last[:-1]
        # each row's group as rows of the cumulative counts with a zero row on top: its last row
        # (``end``), and the row before its first (``before``)
        end = np.minimum.accumulate(np.where(last, row, n)[::-1], axis=0)[::-1] + 1
        before = np.maximum.accumulate(np.where(first, row, 0), axis=0)
        self.col, at = np.nonzero(np.take_along_axis(y, self.order, axis=0).T > 0)  # by column, then row
        self.record = self.order[at, self.col]
        self.bounds = np.searchsorted(self.col, np.arange(m + 1))  # each column's positives
        # the positives of the same column above each group bound, as counts into the positives
        key = self.col * (n + 1)
        self.above = [np.searchsorted(key + at, key + g[at, self.col]) for g in (end, before)]
        self.seen_at = [g[at, self.col] * m + self.col for g in (end, before)]

    def scores(self, weight: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
        """(AUROC, average precision) of every column with records counted ``weight`` times (whole
        numbers; each once by default); NaN where a class has no positive or no negative weight. A
        positive counts half of the negatives tied with it (Mann-Whitney); AP steps once per group
        (scikit-learn)."""
        n, m = self.order.shape
        w = np.ones(n, dtype=np.int64) if weight is None else np.asarray(weight)
        total = int(w.sum())
        # the narrowest integer that holds the counts: the cumulative sum over every cell is the
        # draw's cost, and it is bound by memory
        small = next(t for t in (np.int16, np.int32, np.int64) if total <= np.iinfo(t).max)
        seen = np.zeros((n + 1, m), dtype=small)
        np.add.accumulate(w.astype(small)[self.order], axis=0, out=seen[1:])
        hit = w[self.record].astype(np.float64)  # each positive's weight
        cum = np.concatenate([[0.0], np.cumsum(hit)])
        pos = cum[self.bounds[1:]] - cum[self.bounds[:-1]]
        neg = total - pos
        base = cum[self.bounds[self.col]]
        tp_end, tp_before = (cum[a] - base for a in self.above)
        seen_end, seen_before = (seen.ravel()[s].astype(np.float64) for s in self.seen_at)
        precision = np.divide(tp_end, seen_end, out=np.zeros_like(tp_end), where=seen_end > 0)
        with np.errstate(invalid="ignore", divide="ignore"):
            fp = (seen_end - tp_end) + (seen_before - tp_before)
            auc = np.bincount(self.col, hit * (neg[self.col] - fp / 2), minlength=m) / (pos * neg)
            ap = np.bincount(self.col, hit * precision, minlength=m) / pos
        ok = (pos > 0) & (neg > 0)
        return np.where(ok, auc, np.nan), np.where(ok, ap, np.nan)


def class_scores(y: np.ndarray, p: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(AUROC, average precision) of every column at once, from one sort (``Ranked``); NaN where a
    class is not scorable. Tests check both against scikit-learn."""
    return Ranked(y, p).scores()


def macro(y: np.ndarray, p: np.ndarray) -> tuple[float, float]:
    """(macro AUROC, macro AUPRC) over the scorable classes."""
    auc, ap = class_scores(y, p)
    return float(np.nanmean(auc)), float(np.nanmean(ap))


def _interval(point: np.ndarray, shifts: np.ndarray) -> list[list[float]]:
    """The 95 % interval of each column: ``point`` plus the 2.5th and 97.5th percentiles of the
    draws' ``shifts`` from it (NaN when there are none)."""
    if not len(shifts):
        return [[np.nan, np.nan]] * len(point)
    lo, hi = point + np.percentile(shifts, [2.5, 97.5], axis=0)
    return [[float(a), float(b)] for a, b in zip(lo, hi, strict=True)]


def _bootstrap(
    y: np.ndarray, models: Sequence[Sequence[np.ndarray]], n_boot: int, seed: int
) -> tuple[np.ndarray, np.ndarray, float]:
    """Each model's (macro AUROC, macro AUPRC), averaged over its seeds, on all records (``point``,
    (models, 2)); how far ``n_boot`` draws move it (``(n_boot, models, 2)``); and the share of
    draws that left a class out.

    A draw takes len(y) records with replacement and as many seed indices (the same for every
    model: seed i of each was trained on the same labels), so the interval covers the test set's
    and the seeds' variation; every model sees the same draws, so a difference is paired. The
    records are drawn plainly: resampling within each label pattern, as before, drew a record
    alone in its pattern once in every draw (26 % of PTB-XL `all`'s fold 10), and its intervals
    were about four times too narrow (issue 75; ``tests/training/test_protocol.py``).

    A class without a positive or a negative in a draw is left out of that draw, and the draw's
    shift is measured over the classes it kept: its macro minus the point's macro over the same
    classes. Comparing a macro over fewer classes with one over all would move the interval by
    whatever the absent classes score (a rare class with a high AP leaves the draws lower than the
    point), not by how the metric varies."""
    k = len(models[0])
    if not k or any(len(m) != k for m in models):
        raise ValueError(f"need as many seeds of every model, at least one ({[len(m) for m in models]})")
    need = scorable(y)
    if not need.any():  # no class to score: no point and no draws
        return np.full((len(models), 2), np.nan), np.zeros((0, len(models), 2)), 0.0
    probs = np.stack([np.stack(m) for m in models])[..., need]  # (models, seeds, N, C)
    n_models, (n, c) = len(models), y[:, need].shape
    ranked = Ranked(np.tile(y[:, need], n_models * k), probs.transpose(2, 0, 1, 3).reshape(n, -1))

    def per_class(weight: np.ndarray, seeds: np.ndarray) -> np.ndarray:
        """(models, classes, 2): each class's (AUROC, AP) averaged over ``seeds`` (with repeats);
        NaN where the draw has no positive or no negative of the class (then in every seed)."""
        share = np.bincount(seeds, minlength=k) / k
        return np.stack([np.tensordot(m.reshape(n_models, k, c), share, axes=([1], [0]))
                         for m in ranked.scores(weight)], axis=-1)  # fmt: skip

    point = per_class(np.ones(n, dtype=np.int64), np.arange(k))
    rng = np.random.default_rng(seed)
    moved = [per_class(np.bincount(rng.integers(0, n, n), minlength=n), rng.integers(0, k, k)) - point
             for _ in range(n_boot)]  # fmt: skip
    kept = [d for d in moved if not np.isnan(d).all()]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        shifts = np.array([np.nanmean(d, axis=1) for d in kept]).reshape(-1, n_models, 2)
    left_out = float(np.mean([np.isnan(d).any() for d in moved])) if moved else 0.0
    return point.mean(axis=1), shifts, left_out


def report(
    y: np.ndarray, p: np.ndarray | Sequence[np.ndarray], classes: list[str], n_boot: int | None = None,
    seed: int = 0,
) -> dict:  # fmt: skip
    """Point estimates with record bootstrap 95 % intervals (``_bootstrap``; ``N_BOOT`` draws
    unless ``n_boot`` says), and per-class AUROC. ``p`` is one model's probabilities, or a list
    of its seeds': then the point is the seeds' mean and the draws resample seeds with records,
    so that the point is printed with its own interval. ``left_out_share``: the share of draws in
    which a class had no positive or no negative and was left out."""
    seeds = [p] if isinstance(p, np.ndarray) else list(p)
    n_boot = N_BOOT if n_boot is None else n_boot
    point, shifts, left_out = _bootstrap(y, [seeds], n_boot, seed)
    auroc_ci, auprc_ci = _interval(point[0], shifts[:, 0])
    per_class = np.mean([class_scores(y, s)[0] for s in seeds], axis=0)
    return {
        "auroc": float(point[0, 0]),
        "auroc_ci": auroc_ci,
        "auprc": float(point[0, 1]),
        "auprc_ci": auprc_ci,
        "n_boot": len(shifts),
        "left_out_share": left_out,
        "seeds": len(seeds),
        "per_class_auroc": {
            c: (None if np.isnan(a) else float(a)) for c, a in zip(classes, per_class, strict=True)
        },
        "support": {c: int(s) for c, s in zip(classes, y.sum(axis=0), strict=True)},
        "n": len(y),
    }


def paired_bootstrap(
    y: np.ndarray,
    probs_a: Sequence[np.ndarray],
    probs_b: Sequence[np.ndarray],
    n_boot: int | None = None,
    seed: int = 0,
) -> dict:
    """Macro AUROC and AUPRC of model A minus model B on the same records, with 95 % intervals.

    ``probs_a[i]`` and ``probs_b[i]`` are seed i of each model (the same label subset, so the
    pair shares its training data). Both are scored on the same draws of records and seeds
    (``_bootstrap``): record difficulty cancels, and the interval is narrower than the difference
    of two separate intervals. A is better only when ``better(result)``. ``N_BOOT`` draws unless
    ``n_boot`` says."""
    n_boot = N_BOOT if n_boot is None else n_boot
    if len(probs_a) != len(probs_b) or not len(probs_a):
        raise ValueError(f"need as many seeds of A as of B, at least one ({len(probs_a)} vs {len(probs_b)})")
    point, shifts, left_out = _bootstrap(y, [probs_a, probs_b], n_boot, seed)
    diff = point[0] - point[1]
    auroc_ci, auprc_ci = _interval(diff, shifts[:, 0] - shifts[:, 1])
    return {"auroc": float(diff[0]), "auroc_ci": auroc_ci, "auprc": float(diff[1]), "auprc_ci": auprc_ci,
            "n_boot": len(shifts), "left_out_share": left_out, "seeds": len(probs_a),
            "n": len(y)}  # fmt: skip


def better(paired: dict, key: str = "auroc") -> bool:
    """Whether A beats B: the whole 95 % interval of the paired difference lies above zero."""
    return paired[f"{key}_ci"][0] > 0


def worse(paired: dict, key: str = "auroc") -> bool:
    """Whether A is below B: the whole 95 % interval of the paired difference lies below zero."""
    return paired[f"{key}_ci"][1] < 0


def f1_thresholds(y: np.ndarray, p: np.ndarray) -> np.ndarray:
    """Per class, the probability threshold that maximises F1 on (validation) data; 0.5 where
    a class has no positives."""
    from sklearn.metrics import precision_recall_curve

    out = np.full(y.shape[1], 0.5)
    for k in range(y.shape[1]):
        if y[:, k].sum() == 0:
            continue
        prec, rec, thr = precision_recall_curve(y[:, k], p[:, k])
        f1 = 2 * prec[:-1] * rec[:-1] / np.maximum(prec[:-1] + rec[:-1], 1e-12)
        out[k] = float(thr[np.argmax(f1)])
    return out
