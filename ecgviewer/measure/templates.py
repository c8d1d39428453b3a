"""Beat templates, as Holter software groups them: the beats of a recording gathered by QRS shape,
each group with its count, its kinds and its median, so that a reader relabels a whole group at
once (``relabel``) and the counts, runs and events follow (``rhythm.with_kinds``).

Leader clustering by correlation, written here because the libraries' clusterers need the number
of groups or every pair's distance (100,000 beats of a day): a beat joins the first template it
correlates with at ``JOIN_R`` or better, else starts one; the templates are found on at most
``SEED_BEATS`` beats spread over the recording and every beat is then given its best one.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ecgviewer.measure import beats as B
from ecgviewer.measure import rhythm as R

JOIN_R = 0.9  # a beat this alike its template's shape (Pearson r over the leads' QRS) belongs to it
MERGE_R = 0.95  # two groups' mean shapes this alike are one group
SEED_BEATS = 4000
MAX_TEMPLATES = 24  # the largest groups, each its own; the rest are pooled as "other shapes"
MEDIAN_BEATS = 200  # a template's median is of at most this many of its beats, spread over it
# paced: where the recorder's bandwidth hides the spikes (MIT-BIH's paced records 102 and 104 show
# none), only the reader, who knows the patient has a pacemaker, can say a group is paced;
# artefact: not a beat, left out of the list
RELABELS = ("normal", "supraventricular", "ventricular", "paced", "artefact")


@dataclass(frozen=True)
class Template:
    members: np.ndarray  # indices into the beat list, in time order
    median: np.ndarray  # (leads, samples) of rhythm.SHAPE_MS around R, mV
    counts: dict[str, int]  # the members' kinds (rhythm.KINDS), those present
    pooled: bool = False  # the "other shapes" group: beats of the smaller groups together

    @property
    def kind(self) -> str:
        """The members' most common kind."""
        return max(self.counts, key=lambda k: self.counts[k])

    def title(self) -> str:
        n = len(self.members)
        what = "other shapes" if self.pooled else self.kind
        return f"{what} \u00b7 {n:,} beat{'s' * (n != 1)}"


def _leaders(u: np.ndarray) -> np.ndarray:
    """Template shapes (unit rows) from the beats ``u`` by leader clustering (running means)."""
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


def _best(u: np.ndarray, units: np.ndarray, chunk: int = 20000) -> tuple[np.ndarray, np.ndarray]:
    """Each beat's best template and its r (chunked: a day's beats against the templates)."""
    idx, r = np.zeros(len(u), np.int64), np.full(len(u), -1.0, np.float32)
    for a in range(0, len(u), chunk):
        c = u[a : a + chunk] @ units.T
        idx[a : a + chunk], r[a : a + chunk] = c.argmax(axis=1), c.max(axis=1)
    return idx, r


def spread(n: int, k: int) -> np.ndarray:
    return (
        np.unique(np.linspace(0, n - 1, min(n, k)).round().astype(np.int64)) if n else np.zeros(0, np.int64)
    )


def cluster(beats: R.BeatList) -> list[Template]:
    """The beat list's templates, largest first (the pooled "other shapes" last)."""
    if beats.shapes is None or len(beats.t_s) == 0:
        return []
    u = B.unit_shapes(beats.shapes)
    rare = np.flatnonzero(beats.kind != R.NORMAL)  # every kind seeds, however few its beats
    seeds = np.union1d(spread(len(u), SEED_BEATS // 2), rare[spread(len(rare), SEED_BEATS // 2)])
    units = _leaders(u[seeds])
    idx, r = _best(u, units)
    alone = np.flatnonzero(r < JOIN_R)  # shapes the seeds did not have: their own templates
    if len(alone):
        units = np.vstack([units, _leaders(u[alone[spread(len(alone), SEED_BEATS)]])])
        idx, r = _best(u, units)
    groups = _merged([np.flatnonzero(idx == k) for k in range(len(units))], u)
    groups = sorted((g for g in groups if len(g)), key=len, reverse=True)
    kept, rest = groups[:MAX_TEMPLATES], groups[MAX_TEMPLATES:]
    out = [_template(beats, g) for g in kept]
    if rest:
        out.append(_template(beats, np.sort(np.concatenate(rest)), pooled=True))
    return out


def _merged(groups: list[np.ndarray], u: np.ndarray) -> list[np.ndarray]:
    """Groups whose mean shapes correlate at MERGE_R or better made one, the larger absorbing
    the smaller: a beat's noise decides which of two alike leaders it joins, a reader would not."""
    groups = sorted((g for g in groups if len(g)), key=len, reverse=True)
    means = (
        B.unit_shapes(np.stack([u[g].mean(axis=0) for g in groups])) if groups else np.zeros((0, u.shape[1]))
    )
    taken = np.zeros(len(groups), bool)
    out = []
    for k in range(len(groups)):
        if taken[k]:
            continue
        alike = ~taken & (means @ means[k] >= MERGE_R)
        taken |= alike
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
        members = index[g.members[kept[g.members]]]
        if len(members):
            kinds = np.bincount(after.kind[members], minlength=len(R.KINDS))
            counts = {R.KINDS[k]: int(n) for k, n in enumerate(kinds) if n}
            out.append(Template(members, g.median, counts, g.pooled))
    return out


def _template(beats: R.BeatList, members: np.ndarray, pooled: bool = False) -> Template:
    assert beats.shapes is not None
    median = np.median(beats.shapes[members[spread(len(members), MEDIAN_BEATS)]].astype(np.float32), axis=0)
    kinds = np.bincount(beats.kind[members], minlength=len(R.KINDS))
    counts = {R.KINDS[k]: int(n) for k, n in enumerate(kinds) if n}
    return Template(members, median, counts, pooled)


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
