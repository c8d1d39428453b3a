"""Multi-label metrics: macro AUROC / AUPRC with bootstrap 95 % intervals, paired bootstrap
differences between two models, per-class AUROC, and per-class decision thresholds chosen on
validation."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np


def scorable(y: np.ndarray) -> np.ndarray:
    """Classes with at least one positive and one negative (AUROC is undefined otherwise)."""
    pos = y.sum(axis=0)
    return (pos > 0) & (pos < len(y))


def class_scores(y: np.ndarray, p: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(AUROC, average precision) of every column at once, from one sort; NaN where a class is
    not scorable. Tied scores form one group: a positive counts half of the negatives tied with
    it (Mann-Whitney), and AP steps once per group (scikit-learn's definition). Vectorised so that
    1,000 bootstrap draws of 71 classes stay fast; tests check both against scikit-learn."""
    order = np.argsort(-p, axis=0)  # any order within a tie: both metrics step once per group
    ps = np.take_along_axis(p, order, axis=0)
    tp = np.cumsum(np.take_along_axis(y, order, axis=0), axis=0, dtype=np.float64)
    fp = np.arange(1, len(y) + 1)[:, None] - tp
    last = np.ones_like(ps, dtype=bool)
    last[:-1] = ps[:-1] != ps[1:]  # the last row of each group of tied scores

    def step(cum: np.ndarray) -> np.ndarray:
        """Each group's increment of ``cum``, on the group's last row (0 elsewhere)."""
        at = np.where(last, cum, 0)
        prev = np.maximum.accumulate(np.vstack([np.zeros((1, y.shape[1])), at[:-1]]), axis=0)
        return np.where(last, cum - prev, 0)

    d_tp, d_fp = step(tp), step(fp)
    pos = tp[-1]
    neg = len(y) - pos
    with np.errstate(invalid="ignore", divide="ignore"):
        auc = (d_tp * (neg - fp + d_fp / 2)).sum(axis=0) / (pos * neg)
        ap = (d_tp * tp / (tp + fp)).sum(axis=0) / pos
    ok = scorable(y)
    return np.where(ok, auc, np.nan), np.where(ok, ap, np.nan)


def macro(y: np.ndarray, p: np.ndarray) -> tuple[float, float]:
    """(macro AUROC, macro AUPRC) over the scorable classes."""
    auc, ap = class_scores(y, p)
    return float(np.nanmean(auc)), float(np.nanmean(ap))


class Strata:
    """Records grouped by their exact label pattern (row of ``y``), for stratified resampling.

    Resampling with replacement within each group keeps every class's positive (and negative)
    count in every draw, so no draw has to be rejected: rejecting draws that lose a rare class's
    positives conditions on drawing them, which over-represents those positives and lifted the
    macro AUPRC interval of PTB-XL ``all`` above its own point estimate. The price: a record alone in
    its pattern is in every draw exactly once (on fold 10 of ``all``, 26 % of the records; of
    ``super``, none), so an interval over many classes understates the record-to-record spread."""

    def __init__(self, y: np.ndarray) -> None:
        _, group = np.unique(y, axis=0, return_inverse=True)
        group = group.ravel()
        self.order = np.argsort(group, kind="stable")  # records sorted by group
        size = np.bincount(group)
        start = np.cumsum(size) - size
        self.start, self.size = start[group[self.order]], size[group[self.order]]

    def draw(self, rng: np.random.Generator) -> np.ndarray:
        """Record indices of one resample: each slot takes a random member of its own group."""
        return self.order[self.start + (rng.random(len(self.order)) * self.size).astype(np.int64)]


def _interval(draws: np.ndarray) -> list[list[float]]:
    """The 95 % percentile interval of each column of ``draws`` (NaN when there are none)."""
    if not len(draws):
        return [[np.nan, np.nan]] * draws.shape[1]
    lo, hi = np.percentile(draws, [2.5, 97.5], axis=0)
    return [[float(a), float(b)] for a, b in zip(lo, hi, strict=True)]


def report(y: np.ndarray, p: np.ndarray, classes: list[str], n_boot: int = 1000, seed: int = 0) -> dict:
    """Point estimates, stratified bootstrap (``Strata``) 95 % intervals and per-class AUROC."""
    auroc, auprc = macro(y, p)
    need = scorable(y)
    strata, rng = Strata(y), np.random.default_rng(seed)
    draws = [strata.draw(rng) for _ in range(n_boot if need.any() else 0)]
    b = np.array([macro(y[i][:, need], p[i][:, need]) for i in draws]).reshape(-1, 2)
    auroc_ci, auprc_ci = _interval(b)
    return {
        "auroc": auroc,
        "auroc_ci": auroc_ci,
        "auprc": auprc,
        "auprc_ci": auprc_ci,
        "n_boot": len(b),
        "per_class_auroc": {
            c: (None if np.isnan(a) else float(a))
            for c, a in zip(classes, class_scores(y, p)[0], strict=True)
        },
        "support": {c: int(s) for c, s in zip(classes, y.sum(axis=0), strict=True)},
        "n": len(y),
    }


def paired_bootstrap(
    y: np.ndarray,
    probs_a: Sequence[np.ndarray],
    probs_b: Sequence[np.ndarray],
    n_boot: int = 1000,
    seed: int = 0,
) -> dict:
    """Macro AUROC and AUPRC of model A minus model B on the same records, with 95 % intervals.

    ``probs_a[i]`` and ``probs_b[i]`` are seed i of each model (the same label subset, so the
    pair shares its training data). Each draw resamples the seed pairs and the records (``Strata``)
    together, so the interval covers both the seed-to-seed and the test-set variation; since A and
    B see the same records, record difficulty cancels and the interval is narrower than the
    difference of two separate intervals. A is better only when ``better(result)``.
    """
    if len(probs_a) != len(probs_b) or not len(probs_a):
        raise ValueError(f"need as many seeds of A as of B, at least one ({len(probs_a)} vs {len(probs_b)})")
    need = scorable(y)
    y, ab = y[:, need], np.stack([np.stack(probs_a), np.stack(probs_b)])[..., need]  # (2, seeds, N, C)
    k, c = ab.shape[1], y.shape[1]

    def diff(idx: np.ndarray, seeds: np.ndarray) -> np.ndarray:
        """(AUROC, AUPRC) of A minus B, averaged over ``seeds`` (with repeats); all the needed
        columns go through one call of each metric, which keeps 1,000 draws fast."""
        used, count = np.unique(seeds, return_counts=True)
        p = ab[:, used][:, :, idx].transpose(2, 0, 1, 3).reshape(len(idx), -1)
        yy = np.tile(y[idx], 2 * len(used))
        per = [np.nanmean(m.reshape(2, len(used), c), axis=2) for m in class_scores(yy, p)]
        return np.array([(m[0] - m[1]) @ count / k for m in per])

    point = diff(np.arange(len(y)), np.arange(k))
    strata, rng = Strata(y), np.random.default_rng(seed)
    draws = np.array([diff(strata.draw(rng), rng.integers(0, k, k)) for _ in range(n_boot)]).reshape(-1, 2)
    auroc_ci, auprc_ci = _interval(draws)
    return {"auroc": float(point[0]), "auroc_ci": auroc_ci, "auprc": float(point[1]), "auprc_ci": auprc_ci,
            "n_boot": len(draws), "seeds": k, "n": len(y)}  # fmt: skip


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
