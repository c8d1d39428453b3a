"""The record head: what the beat list measures over the whole record, its rhythm
(``measure.rhythm_features``) and its dominant beat's amplitudes and intervals
(``measure.beat_shape_features``), weighed by three kinds of model fitted on PTB-XL's training
folds (``python -m training record-head``): small perceptrons, a linear model and gradient-boosted
trees, their log-odds averaged (each sees what the others miss: trees the sharp limits of a rate or an
interval, the linear model the rare statements). Their evidence (log-odds over the statement's share
of the training records) is added, times a weight chosen on fold 9, to the encoder's log-odds of each
PTB-XL statement. The encoder reads 2.5 s windows of single beats; sinus arrhythmia or a bigeminal
pattern are read off the whole RR series, low voltage, a long PR or ST depression off the median of
every normal beat, which the beat list measures (issue 75).

The features are those of the recording as the encoder's contract has it (``contract.FS``): the
head was fitted on PTB-XL's 100 Hz records, and a P wave is seen less sharply at 100 Hz than at
500, so the app reads them at the rate they were learnt at. Its beat list is read by the
measurements' delineator (``Delineator.bundled``), not the beat list's lighter one, which long
recordings need and 10 s do not: the head was fitted on that delineator's waves, and on fold 9 the
lighter one's cost its ``form`` AUROC 0.0042 [-0.0084, +0.0000], paired (session 153).
"""

from __future__ import annotations

import threading
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from functools import cache, cached_property
from pathlib import Path

import numpy as np

from ecgviewer.forest import Forest
from ecgviewer.leads import STANDARD_LEADS
from ecgviewer.measure import beat_shape_features as S
from ecgviewer.measure import rhythm_features as RF
from ecgviewer.measure.delineate import Delineator
from ecgviewer.recording import Recording

CLIP = 8.0  # standard deviations: no input lies beyond
FLOOR = 1e-4  # each kind of model's probability is kept this far from 0 and 1 before averaging
# the head's features, in its inputs' order: the rhythm's, then the dominant beat's (PR and QRS are
# in both: the median over every beat of the list, and the dominant beat's)
NAMES = (*RF.NAMES, *S.NAMES)
_AT = len(RF.NAMES)  # where the dominant beat's begin
# What a cardiologist reads them as: the rhythm, the intervals, each lead's waves (by position)
GROUPS: dict[str, tuple[int, ...]] = {
    "rhythm": tuple(range(_AT)),
    "intervals": tuple(_AT + S.NAMES.index(k) for k in S.GLOBAL),
    **{lead: tuple(_AT + S.NAMES.index(f"{lead}_{k}") for k in S.PER_LEAD) for lead in STANDARD_LEADS},
}
TOP_GROUPS = 3  # the groups a finding names as raising the head's evidence most
# A group's part in the log-odds below this is rounding (the trees' sums differ in their last bits
# between CPUs' SIMD widths), not evidence: such a group is not named as raising a finding.
RAISES = 1e-9


_lock = threading.Lock()


def measuring_delineator() -> Delineator:
    """The delineator the head's features are read with (the measurements'), in the beat list's
    8-bit form, loaded and built once, under a lock: analyses may start on two threads at once, and
    two threads building one network would build it twice (``Delineator.built``)."""
    with _lock:
        return _measuring()


@cache
def _measuring() -> Delineator:
    return Delineator.bundled().int8().built()


def recording_features(rec: Recording, delineator: Delineator | None = None) -> np.ndarray:
    """(NAMES,): the rhythm and dominant-beat features of ``rec``'s beat list at the encoder's rate
    (``contract.FS``), the rate the head learnt them at; a recording at another rate is resampled
    as the encoder's input is. ``delineator``: another than ``measuring_delineator`` (a comparison)."""
    from ecgviewer.dsp.resample import to_rate
    from ecgviewer.measure.rhythm import analyse
    from ecgviewer.ml.contract import FS
    from ecgviewer.recording import make_recording
    from ecgviewer.sources import ArraySource

    if rec.fs != FS:
        x = to_rate(rec.signals, rec.fs, FS)
        rec = make_recording(None, ArraySource(x), FS, list(rec.leads), rec.source_format)
    beats = analyse(rec, delineator or measuring_delineator())
    return np.concatenate([RF.features(beats), S.features(rec, beats)])


def inputs(x: np.ndarray, median: np.ndarray) -> np.ndarray:
    """(records, 2 x features): each feature, the training records' median where it could not be
    measured, then whether it could not (1) or could (0)."""
    missing = ~np.isfinite(x)
    return np.concatenate([np.where(missing, median, x), missing.astype(np.float64)], axis=1)


def logit(p: np.ndarray, floor: float = 1e-6) -> np.ndarray:
    q = np.clip(p, floor, 1 - floor)
    return np.log(q / (1 - q))


def sigmoid(z: np.ndarray) -> np.ndarray:
    return 1 / (1 + np.exp(-z))


@dataclass(frozen=True)
class RecordHead:
    codes: tuple[str, ...]  # the statements it scores (PTB-XL codes)
    median: np.ndarray  # (features,) the training records' medians, for what could not be measured
    mean: np.ndarray  # (2 x features,) standardisation of ``inputs``
    scale: np.ndarray
    # the perceptrons, each layer (weight (in, out), bias (out,))
    members: tuple[tuple[tuple[np.ndarray, np.ndarray], ...], ...]
    linear: tuple[np.ndarray, np.ndarray]  # a logistic regression per statement on the same inputs
    forest: Forest  # trees on the features themselves
    weight: float  # the head's evidence is added times this (chosen on fold 9)
    prior: np.ndarray  # (codes,) each statement's share of the training records
    # (slope, intercept) on both models' evidence, fitted on fold 9: the weight that ranks best
    # counts evidence they share more than once, and its probabilities overstate (Platt scaling,
    # about each statement's share: a global one pulled common statements such as SR far down)
    calibration: tuple[float, float]
    meta: dict

    def probabilities(self, features: np.ndarray, forest: np.ndarray | None = None) -> np.ndarray:
        """(records, codes) from (records, NAMES) features: the perceptrons' mean probability, the
        linear model's and the trees' (``forest``: their log-odds, when known), log-odds averaged."""
        x = np.atleast_2d(features)
        z = np.clip((inputs(x, self.median) - self.mean) / self.scale, -CLIP, CLIP)
        mlp = np.zeros((len(z), len(self.codes)))
        for layers in self.members:
            h = z
            for i, (w, b) in enumerate(layers):
                h = h @ w + b
                h = np.maximum(h, 0.0) if i < len(layers) - 1 else sigmoid(h)
            mlp += h / len(self.members)
        trees = self.forest.logits(x) if forest is None else forest
        kinds = (mlp, sigmoid(z @ self.linear[0] + self.linear[1]), sigmoid(trees))
        return sigmoid(np.mean([logit(p, FLOOR) for p in kinds], axis=0))

    def by_group(self, features: np.ndarray) -> dict[str, np.ndarray]:
        """Each of GROUPS' part in the head's log-odds of every statement (codes,) for one
        record's ``features`` (``_occluded``)."""
        odds = self._occluded(features)
        return {g: odds[0] - odds[k + 1] for k, g in enumerate(GROUPS)}

    def _occluded(self, features: np.ndarray) -> np.ndarray:
        """(1 + GROUPS, codes) log-odds of one record's ``features``, as measured, then with each
        group's measured features read at the training records' medians, as measured and typical
        (occlusion). What was not measured stays so: a lead the recording lacks has no part (read
        as typical, its features would count as measured and take a part). A tree that splits on
        none of a group's features keeps its leaf: only the others are walked again (six in ten of
        them for each group)."""
        x = np.asarray(features, np.float64).reshape(-1)
        rows = [x]
        measured = np.isfinite(x)
        for idx in GROUPS.values():
            typical, at = x.copy(), list(idx)
            typical[at] = np.where(measured[at], self.median[at], x[at])
            rows.append(typical)
        f, everyone = self.forest, np.arange(len(self.forest.root))
        values = np.tile(f.value[f.walk(x[None], np.zeros_like(everyone), everyone)], (len(rows), 1))
        row, tree = self._touched
        values[row, tree] = f.value[f.walk(np.array(rows), row, tree)]
        return logit(self.probabilities(np.array(rows), f.summed(values)))

    @cached_property
    def _touched(self) -> tuple[np.ndarray, np.ndarray]:
        """(occluded row, tree) pairs ``by_group`` walks again: each group's row (1, 2, ...) with
        the trees that split on one of its features."""
        touched = [np.flatnonzero(self.forest.touching(idx)) for idx in GROUPS.values()]
        row = np.concatenate([np.full(len(t), k + 1) for k, t in enumerate(touched)]).astype(np.int64)
        return row, np.concatenate(touched).astype(np.int64)

    def read(self, features: np.ndarray) -> tuple[np.ndarray, dict[str, tuple[str, ...]]]:
        """One record's probabilities (codes,) and, per code, the groups (of GROUPS) that raise the
        head's log-odds of it most, at most TOP_GROUPS of them, in order (none where no group
        raises it): one pass over the models for both."""
        odds = self._occluded(features)
        names, table = list(GROUPS), odds[0] - odds[1:]  # (groups, codes)
        out = {}
        for k, code in enumerate(self.codes):
            order = [i for i in np.argsort(-table[:, k], kind="stable")[:TOP_GROUPS] if table[i, k] > RAISES]
            out[code] = tuple(names[i] for i in order)
        return sigmoid(odds[0]), out

    def raising(self, features: np.ndarray) -> dict[str, tuple[str, ...]]:
        """``read``'s groups alone."""
        return self.read(features)[1]

    def combined(self, encoder: np.ndarray, head: np.ndarray, at: Sequence[int] | None = None) -> np.ndarray:
        """The encoder's probabilities of ``codes`` (..., codes; ``at``: of these of them) with the
        head's weighed in: the head's evidence (its log-odds over the statement's share of the
        training records) added ``weight`` times to the encoder's log-odds. The share is taken out
        once: both models learnt it, and counted twice it would pull a rare statement's probability
        below either's. The two models' evidence is then calibrated (``calibration``: scaled and
        shifted, the share kept), which keeps every ranking."""
        share = logit(self.prior if at is None else self.prior[list(at)])
        evidence = logit(encoder) - share + self.weight * (logit(head) - share)
        slope, intercept = self.calibration
        return sigmoid(share + slope * evidence + intercept)

    def applies(self, classes: Sequence[str]) -> bool:
        """Whether a task is weighed: one whose classes are statements the head scores (``all``,
        ``diag``, ``form``, ``rhythm``). A task that aggregates statements (``super``'s NORM is
        also a statement's name; ``sub``'s LVH a group's) is the encoder's alone: the weight and
        thresholds were chosen on the statements."""
        return set(classes) <= set(self.codes)

    @property
    def superclasses(self) -> Mapping[str, Sequence[str]]:
        """Superclass -> its diagnostic statements, where fold 9 chose to read the superclasses off
        the statements too (``meta["super"]``, ``python -m training record-head --superclasses``);
        empty where it did not."""
        return self.meta.get("super", {}).get("members", {})

    def mixes(self, classes: Sequence[str]) -> bool:
        """Whether a task is the superclasses, read partly off the statements (``mixed``)."""
        return bool(self.superclasses) and set(classes) == set(self.superclasses)

    def read_off(self, classes: Sequence[str], statements: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Each superclass of ``classes`` read off (records, ``codes``) statements' probabilities
        (the head weighed in): its likeliest member, as PTB-XL aggregates its labels; (records,
        classes) probabilities and the index in ``codes`` of the member each was read off."""
        at = [[self.codes.index(c) for c in self.superclasses[k]] for k in classes]
        p = np.asarray(statements, np.float64)
        member = np.stack([np.asarray(m)[np.argmax(p[:, m], axis=1)] for m in at], axis=1)
        return np.take_along_axis(p, member, axis=1), member

    def mixed(self, encoder: np.ndarray, read: np.ndarray) -> np.ndarray:
        """The superclasses' probabilities: the log-odds ``read`` off the statements times fold 9's
        weight, the rest the encoder's own (its super head), then calibrated on fold 9 (Platt
        scaling: the likeliest of many members overstates, and the two readings share evidence)."""
        sup = self.meta["super"]
        w, (slope, intercept) = float(sup["weight"]), sup["calibration"]
        z = w * logit(np.asarray(read, np.float64)) + (1 - w) * logit(np.asarray(encoder, np.float64))
        return sigmoid(slope * z + intercept)

    def weighed(
        self, classes: Sequence[str], encoder: np.ndarray, head: np.ndarray,
        statements: np.ndarray | None = None,
    ) -> np.ndarray:  # fmt: skip
        """A task's (records, ``classes``) probabilities with the head's (records, ``codes``)
        weighed in, where it ``applies``; the superclasses ``mixed`` with their reading off the
        encoder's (records, ``codes``) ``statements`` with the head weighed in, where it ``mixes``
        them; as they are elsewhere."""
        out = np.array(encoder, dtype=np.float64)
        if self.applies(classes):
            mine = [self.codes.index(c) for c in classes]
            out = self.combined(out, np.asarray(head, np.float64)[:, mine], mine)
        elif self.mixes(classes):
            if statements is None:
                raise ValueError("the superclasses are read off the statements too: give the encoder's")
            both = self.combined(np.asarray(statements, np.float64), np.asarray(head, np.float64))
            out = self.mixed(out, self.read_off(classes, both)[0])
        return out

    def _decided(self, classes: Sequence[str]) -> Mapping | None:
        """What fold 9 decided for a task the head weighs (thresholds, shown classes, their fold-9
        figures): the superclasses' own where it ``mixes`` them; None where it weighs nothing."""
        return self.meta["super"] if self.mixes(classes) else self.meta if self.applies(classes) else None

    def judged(
        self, classes: Sequence[str], thresholds: Mapping[str, float], surfaced: Collection[str]
    ) -> tuple[dict[str, float], set[str]]:
        """A task's thresholds and shown classes: the head's own (chosen on fold 9 with the head
        weighed in) where it ``applies`` or ``mixes``, else the encoder card's."""
        decided = self._decided(classes)
        if decided is None:
            return dict(thresholds), set(surfaced)
        chosen = {c for c in classes if c in decided["surfaced"]}
        return {**thresholds, **{c: float(decided["thresholds"][c]) for c in classes}}, chosen

    def validated(self, classes: Sequence[str]) -> Mapping | None:
        """The fold-9 figures (``per_class_auroc``, ``support``) the head's shown classes of a task
        were judged by; None where it weighs nothing."""
        decided = self._decided(classes)
        return None if decided is None else decided["val"]

    @classmethod
    def load(cls, path: Path) -> RecordHead:
        from ecgviewer.errors import EcgError
        from ecgviewer.weights import read_weights

        meta, tensors = read_weights(path, "record_head", "record head")
        if meta.get("features") != list(NAMES):
            raise EcgError(f"{path.name}: a record head for other features than this version's")
        if "tree_root" not in tensors:
            raise EcgError(f"{path.name}: a record head of an earlier version (perceptrons alone)")
        a = {k: v.numpy() for k, v in tensors.items()}
        f = {k: v.astype(np.float64) for k, v in a.items() if not k.startswith("tree_")}
        members = tuple(
            tuple((f[f"m{m}_l{i}_weight"], f[f"m{m}_l{i}_bias"]) for i in range(meta["layers"]))
            for m in range(meta["members"])
        )
        codes, weight = tuple(meta["codes"]), float(meta["weight"])
        linear = (f["linear_weight"], f["linear_bias"])
        slope, intercept = (float(v) for v in meta["calibration"])
        return cls(codes, f["median"], f["mean"], f["scale"], members, linear, Forest.from_arrays(a), weight,
                   f["prior"], (slope, intercept), meta)  # fmt: skip

    @staticmethod
    @cache
    def bundled() -> RecordHead:
        from ecgviewer.assets import record_head_path

        return RecordHead.load(record_head_path())
