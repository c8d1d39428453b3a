"""The rhythm head: the beat list's rhythm features (``measure.rhythm_features``) weighed by small
perceptrons fitted on PTB-XL's training folds (``python -m training rhythm-head``), their evidence
(log-odds over the statement's share of the training records) added, times a weight chosen on fold
9, to the encoder's log-odds of each rhythm statement. The encoder reads 2.5 s windows; sinus
arrhythmia, a slow sinus rate or a bigeminal pattern are read off the whole RR series, which the
beat list measures beat by beat (issue 75).

The features are those of the recording as the encoder's contract has it (``contract.FS``): the
head was fitted on PTB-XL's 100 Hz records, and a P wave is seen less sharply at 100 Hz than at
500, so the app reads them at the rate they were learnt at.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import numpy as np

from ecgviewer.measure import rhythm_features as RF
from ecgviewer.measure.delineate import Delineator
from ecgviewer.recording import Recording

CLIP = 8.0  # standard deviations: no input lies beyond


def recording_features(rec: Recording, delineator: Delineator) -> np.ndarray:
    """``RF.features`` of ``rec``'s beat list at the encoder's rate (``contract.FS``), the rate the
    head learnt them at; a recording at another rate is resampled as the encoder's input is."""
    from ecgviewer.dsp.resample import to_rate
    from ecgviewer.measure.rhythm import analyse
    from ecgviewer.ml.contract import FS
    from ecgviewer.recording import make_recording
    from ecgviewer.sources import ArraySource

    if rec.fs != FS:
        x = to_rate(rec.signals, rec.fs, FS)
        rec = make_recording(None, ArraySource(x), FS, list(rec.leads), rec.source_format)
    return RF.features(analyse(rec, delineator))


def inputs(x: np.ndarray, median: np.ndarray) -> np.ndarray:
    """(records, 2 x features): each feature, the training records' median where it could not be
    measured, then whether it could not (1) or could (0)."""
    missing = ~np.isfinite(x)
    return np.concatenate([np.where(missing, median, x), missing.astype(np.float64)], axis=1)


def logit(p: np.ndarray) -> np.ndarray:
    q = np.clip(p, 1e-6, 1 - 1e-6)
    return np.log(q / (1 - q))


@dataclass(frozen=True)
class RhythmHead:
    codes: tuple[str, ...]  # the rhythm statements it scores (PTB-XL codes)
    median: np.ndarray  # (features,) the training records' medians, for what could not be measured
    mean: np.ndarray  # (2 x features,) standardisation of ``inputs``
    scale: np.ndarray
    members: tuple[tuple[tuple[np.ndarray, np.ndarray], ...], ...]  # each: (weight (in, out), bias (out,))
    weight: float  # the head's evidence is added times this (chosen on fold 9)
    prior: np.ndarray  # (codes,) each statement's share of the training records
    meta: dict

    def probabilities(self, features: np.ndarray) -> np.ndarray:
        """(records, codes): the members' mean probability from (records, RF.NAMES) features."""
        z = (inputs(np.atleast_2d(features), self.median) - self.mean) / self.scale
        z = np.clip(z, -CLIP, CLIP)
        out = np.zeros((len(z), len(self.codes)))
        for layers in self.members:
            h = z
            for i, (w, b) in enumerate(layers):
                h = h @ w + b
                h = np.maximum(h, 0.0) if i < len(layers) - 1 else 1 / (1 + np.exp(-h))
            out += h
        return out / len(self.members)

    def combined(self, encoder: np.ndarray, head: np.ndarray, at: Sequence[int] | None = None) -> np.ndarray:
        """The encoder's probabilities of ``codes`` (..., codes; ``at``: of these of them) with the
        head's weighed in: the head's evidence (its log-odds over the statement's share of the
        training records) added ``weight`` times to the encoder's log-odds. The share is taken out
        once: both models learnt it, and counted twice it would pull a rare statement's probability
        below either's."""
        prior = self.prior if at is None else self.prior[list(at)]
        return 1 / (1 + np.exp(-(logit(encoder) + self.weight * (logit(head) - logit(prior)))))

    def weighed(self, classes: Sequence[str], encoder: np.ndarray, head: np.ndarray) -> np.ndarray:
        """A task's (records, ``classes``) probabilities with the head's statements among them
        weighed with the head's (records, ``codes``) probabilities; the others as they are."""
        out = np.array(encoder, dtype=np.float64)
        mine = [k for k, code in enumerate(self.codes) if code in classes]
        if mine:
            at = [list(classes).index(self.codes[k]) for k in mine]
            out[:, at] = self.combined(out[:, at], np.asarray(head, np.float64)[:, mine], mine)
        return out

    def judged(
        self, classes: Sequence[str], thresholds: Mapping[str, float], surfaced: Collection[str]
    ) -> tuple[dict[str, float], set[str]]:
        """A task's thresholds and shown classes (the encoder card's) with the head's own for its
        statements among ``classes``: chosen on fold 9 with the head weighed in."""
        mine = [c for c in self.codes if c in classes]
        chosen = set(surfaced) - set(mine) | {c for c in mine if c in self.meta["surfaced"]}
        return {**thresholds, **{c: float(self.meta["thresholds"][c]) for c in mine}}, chosen

    @classmethod
    def load(cls, path: Path) -> RhythmHead:
        from ecgviewer.errors import EcgError
        from ecgviewer.weights import read_weights

        meta, tensors = read_weights(path, "rhythm_head", "rhythm head")
        if meta.get("features") != list(RF.NAMES):
            raise EcgError(f"{path.name}: a rhythm head for other features than this version's")
        a = {k: v.numpy().astype(np.float64) for k, v in tensors.items()}
        members = tuple(
            tuple((a[f"m{m}_l{i}_weight"], a[f"m{m}_l{i}_bias"]) for i in range(meta["layers"]))
            for m in range(meta["members"])
        )
        codes, weight = tuple(meta["codes"]), float(meta["weight"])
        return cls(codes, a["median"], a["mean"], a["scale"], members, weight, a["prior"], meta)

    @staticmethod
    @cache
    def bundled() -> RhythmHead:
        from ecgviewer.assets import rhythm_head_path

        return RhythmHead.load(rhythm_head_path())
