"""Beat templates, as Holter software groups them: the beats of a recording gathered by QRS shape,
each group with its count, its kinds and its median, so that a reader relabels a whole group at
once (``relabel``) and the counts, runs and events follow (``rhythm.with_kinds``).

Leader clustering by correlation, written here because the libraries' clusterers need the number
of groups or every pair's distance (100,000 beats of a day): a beat joins the first template it
correlates with at ``JOIN_R`` or better, else starts one; the templates are found on at most
``SEED_BEATS`` beats spread over the recording and every beat is then given its best one.

Beats are compared where they match best within ``ALIGN`` of their R, as the beat list compares a
beat with the dominant one (``beat_classes.ALIGN_MS``): the R found may be another peak of the same
QRS (an RSR' complex's R'), and a reader groups by shape, not by which peak was found (MIT-BIH 118's
normal beats made four normal groups at their R, three aligned).
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np

from ecgviewer.measure import beat_classes as C
from ecgviewer.measure import beats as B
from ecgviewer.measure import rhythm as R
from ecgviewer.measure import signal

JOIN_R = 0.9  # a beat this alike its template's shape (Pearson r over the leads' QRS) belongs to it
MERGE_R = 0.95  # two groups' mean shapes this alike are one group
SEED_BEATS = 4000
MAX_TEMPLATES = 24  # the largest groups, each its own; the rest are pooled as "other shapes"
MEDIAN_BEATS = 200  # a template's median is of at most this many of its beats, spread over it
ALIGN = round(C.ALIGN_MS * signal.FS / 1000)  # samples either way (the shapes are at the contract's rate)
CHUNK = 4096  # beats compared at a time: every shift of a day's beats at once would be 0.8 GB
# paced: where the recorder's bandwidth hides the spikes (MIT-BIH's paced records 102 and 104 show
# none), only the reader, who knows the patient has a pacemaker, can say a group is paced;
# artefact: not a beat, left out of the list
RELABELS = ("normal", "supraventricular", "ventricular", "paced", "artefact")


@dataclass(frozen=True)
class Template:
    members: np.ndarray  # indices into the beat list, in time order
    median: np.ndarray  # (leads, samples) of rhythm.SHAPE_MS around R, mV, the members aligned
    counts: dict[str, int]  # the members' kinds (rhythm.KINDS), those present
    pooled: bool = False  # the "other shapes" group: beats of the smaller groups together
    shifts: np.ndarray | None = None  # per member, samples its shape lies late against the median

    @property
    def kind(self) -> str:
        """The members' most common kind."""
        return max(self.counts, key=lambda k: self.counts[k])

    def title(self) -> str:
        n = len(self.members)
        what = "other shapes" if self.pooled else self.kind
        return f"{what} \u00b7 {n:,} beat{'s' * (n != 1)}"


def _core(shapes: np.ndarray) -> np.ndarray:
    """Unit rows of each shape's core, ``ALIGN`` in from either end: what is compared at R."""
    return B.unit_shapes(shapes[..., ALIGN : shapes.shape[-1] - ALIGN])


def _windows(shapes: np.ndarray) -> np.ndarray:
    """(shifts, beats, leads x core) unit rows: each shape's core (``ALIGN`` in from either end) at
    every shift within ``ALIGN``, the middle row at its R."""
    n = shapes.shape[-1]
    return np.stack([B.unit_shapes(shapes[..., ALIGN + k : n - ALIGN + k]) for k in range(-ALIGN, ALIGN + 1)])


def _leaders(u: np.ndarray) -> np.ndarray:
    """Template shapes (unit rows) from the beats ``u`` by leader clustering (running means), at
    each beat's R: a leader that took beats at their best shift would drift along the QRS."""
    sums: list[np.ndarray] = []
    units = np.zeros((0, u.shape[1]), np.float32)
    for row in u:
        r = units @ row
        if len(r) and r.max() >= JOIN_R:
            k = int(r.argmax())
            sums[k] = sums[k] + row
            units[k] = sums[k] / max(float(np.linalg.norm(sums[k])), 1e-6)
        else:
            sums.append(row.copy())
            units = np.vstack([units, row])
    return units


def _best(shapes: np.ndarray, units: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Each beat's best template, its r there and the shift (samples) it matches at; a beat that
    matches one at its R at MERGE_R or better is not searched further (most beats: a day's shifts
    for every beat took seconds)."""
    idx, shift = np.zeros(len(shapes), np.int64), np.zeros(len(shapes), np.int64)
    r = np.full(len(shapes), -1.0, np.float32)
    for a in range(0, len(shapes), CHUNK):
        c = _core(shapes[a : a + CHUNK]) @ units.T
        idx[a : a + CHUNK], r[a : a + CHUNK] = c.argmax(axis=1), c.max(axis=1)
    doubt = np.flatnonzero(r < MERGE_R)
    for a in range(0, len(doubt), CHUNK):
        some = doubt[a : a + CHUNK]
        c = _windows(shapes[some]) @ units.T  # (shifts, beats, templates)
        best = c.max(axis=0)
        idx[some], r[some] = best.argmax(axis=1), best.max(axis=1)
        shift[some] = np.take_along_axis(c, idx[None, some, None], axis=2)[..., 0].argmax(axis=0) - ALIGN
    return idx, r, shift


def spread(n: int, k: int) -> np.ndarray:
    return (
        np.unique(np.linspace(0, n - 1, min(n, k)).round().astype(np.int64)) if n else np.zeros(0, np.int64)
    )


def cluster(beats: R.BeatList) -> list[Template]:
    """The beat list's templates, largest first (the pooled "other shapes" last)."""
    if beats.shapes is None or len(beats.t_s) == 0:
        return []
    shapes = beats.shapes
    rare = np.flatnonzero(beats.kind != R.NORMAL)  # every kind seeds, however few its beats
    seeds = np.union1d(spread(len(shapes), SEED_BEATS // 2), rare[spread(len(rare), SEED_BEATS // 2)])
    units = _leaders(_core(shapes[seeds]))
    idx, r, shift = _best(shapes, units)
    alone = np.flatnonzero(r < JOIN_R)  # shapes the seeds did not have: their own templates
    if len(alone):
        units = np.vstack([units, _leaders(_core(shapes[alone[spread(len(alone), SEED_BEATS)]]))])
        idx, r, shift = _best(shapes, units)
    groups = _merged([np.flatnonzero(idx == k) for k in range(len(units))], shapes, shift)
    groups = sorted((g for g in groups if len(g)), key=len, reverse=True)
    kept, rest = groups[:MAX_TEMPLATES], groups[MAX_TEMPLATES:]
    out = [_template(beats, g, shift) for g in kept]
    if rest:
        out.append(_template(beats, np.sort(np.concatenate(rest)), shift, pooled=True))
    return out


def _shifted(shapes: np.ndarray, shift: np.ndarray) -> np.ndarray:
    """Each shape moved ``shift`` samples earlier (its match lies that late), NaN where it has none."""
    n = shapes.shape[-1]
    at = np.arange(n)[None, :] + shift[:, None]
    inside = (at >= 0) & (at < n)
    out = np.take_along_axis(shapes.astype(np.float32), np.clip(at, 0, n - 1)[:, None, :], axis=2)
    out[np.broadcast_to(~inside[:, None, :], out.shape)] = np.nan
    return out


def _merged(groups: list[np.ndarray], shapes: np.ndarray, shift: np.ndarray) -> list[np.ndarray]:
    """Groups whose medians correlate at MERGE_R or better at some shift within ALIGN made one,
    the larger absorbing the smaller (its members' ``shift`` moved by that shift): a beat's noise
    decides which of two alike leaders it joins, and a leader may have been found at another peak
    of the same QRS; a reader would not tell them apart."""
    groups = sorted((g for g in groups if len(g)), key=len, reverse=True)
    if not groups:
        return []
    centre = [int(np.median(shift[g])) for g in groups]
    means = np.stack([_median(shapes, g, shift - c) for g, c in zip(groups, centre, strict=True)])
    w = _windows(means)  # (shifts, groups, core)
    r = np.einsum("sgc,hc->sgh", w, w[ALIGN])  # group g at shift s against group h at its R
    taken = np.zeros(len(groups), bool)
    out = []
    for k in range(len(groups)):
        if taken[k]:
            continue
        best = r[:, :, k].max(axis=0)
        alike = ~taken & (best >= MERGE_R)
        taken |= alike
        for j in np.flatnonzero(alike):  # into k's frame: j's median lies argmax - ALIGN late of k's
            shift[groups[j]] += int(r[:, j, k].argmax()) - ALIGN - centre[j] + centre[k]
        out.append(np.sort(np.concatenate([groups[j] for j in np.flatnonzero(alike)])))
    return out


def follow(groups: list[Template], before: R.BeatList, after: R.BeatList) -> list[Template]:
    """The same groups on a relabelled beat list (``relabel``): their beats still listed, with
    their kinds now; a group whose beats all left (artefacts) is gone. The groups stay where the
    reader saw them rather than being formed again."""
    kept = np.isin(np.round(before.t_s, 3), np.round(after.t_s, 3))
    index = np.cumsum(kept) - 1
    out = []
    for g in groups:
        still = kept[g.members]
        members = index[g.members[still]]
        if len(members):
            kinds = np.bincount(after.kind[members], minlength=len(R.KINDS))
            counts = {R.KINDS[k]: int(n) for k, n in enumerate(kinds) if n}
            shifts = None if g.shifts is None else g.shifts[still]
            out.append(Template(members, g.median, counts, g.pooled, shifts))
    return out


def _median(shapes: np.ndarray, members: np.ndarray, shift: np.ndarray) -> np.ndarray:
    """The median of up to MEDIAN_BEATS of ``members``' shapes, each moved by its ``shift``; a
    sample no moved shape reaches is the unmoved shapes' median there."""
    some = members[spread(len(members), MEDIAN_BEATS)]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # an all-NaN sample: filled below
        median = np.nanmedian(_shifted(shapes[some], shift[some]), axis=0)
    return np.where(np.isfinite(median), median, np.median(shapes[some].astype(np.float32), axis=0))


def _template(beats: R.BeatList, members: np.ndarray, shift: np.ndarray, pooled: bool = False) -> Template:
    """A group's template: its members' median, each aligned where it matches, against the shift
    most of them have (mostly none: the median stays on R)."""
    assert beats.shapes is not None
    own = shift - int(np.median(shift[members]))
    kinds = np.bincount(beats.kind[members], minlength=len(R.KINDS))
    counts = {R.KINDS[k]: int(n) for k, n in enumerate(kinds) if n}
    return Template(members, _median(beats.shapes, members, own), counts, pooled, own[members])


def relabel(beats: R.BeatList, members: np.ndarray, label: str) -> R.BeatList:
    """The beat list with ``members`` (indices) relabelled ``label`` (of RELABELS; an artefact
    is left out), its counts, runs and events following."""
    if label not in RELABELS:
        raise ValueError(f"{label!r}: not one of {', '.join(RELABELS)}")
    kind = beats.kind.copy()
    keep = np.ones(len(kind), bool)
    if label == "artefact":
        keep[members] = False
    else:
        kind[members] = R.KINDS.index(label)
    return R.with_kinds(beats, kind, keep, relabel=(label, beats.t_s[members]))


def replay(beats: R.BeatList, relabels: tuple[tuple[str, np.ndarray], ...]) -> R.BeatList:
    """A fresh beat list with the reader's relabels (as kept: label, the beats' R in s) applied
    in order; a beat no longer listed is passed over."""
    for label, t_s in relabels:
        members = np.flatnonzero(np.isin(np.round(beats.t_s, 3), np.round(np.asarray(t_s), 3)))
        beats = relabel(beats, members, label)
    return beats
