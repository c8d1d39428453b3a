"""ANSI/AAMI EC57 on the MIT-BIH Arrhythmia Database: the app's beat list (the app's own reader,
``measure.rhythm.analyse`` with the beat list's own delineator and the bundled classifier) against
the reference beat and rhythm labels, as a Holter reader's counts would be judged (issue 74).

Matching and classes follow EC57 (ANSI/AAMI EC57:2012; de Chazal et al., IEEE TBME 2004;51:1196)
as its reference comparator ``bxb`` (WFDB) applies them:

- a detected beat matches a reference beat within 150 ms (``rpeaks.pairs``, one to one);
- the first ``LEARNING_S`` (5 min) of each record are the algorithm's learning period, not scored;
- the reference's ventricular flutter and fibrillation (between its ``[`` and ``]`` labels) is
  left out of the beat-by-beat comparison: beats listed there are neither matches nor false
  positives (its flutter waves are not beats);
- reference labels map to AAMI classes (N: N L R e j; S: A a J S; V: V E; F: F; Q: / f Q); the
  paced records (102, 104, 107, 217) are left out of the class scores;
- VEB sensitivity: reference V beats matched and called ventricular over all reference V beats;
  VEB positive predictivity: those over themselves plus the N and S beats called ventricular and
  the invented ones (a fusion or unclassifiable beat called ventricular is not a false positive);
  SVEB likewise, a fusion beat called supraventricular counting as a false positive.

Gross statistics sum the counts over records. F: how the reference fusion beats were called. AF
duration, as the standard's episode comparator ``epicmp`` (WFDB) has it: the overlap of the beat
list's atrial fibrillation episodes with the reference's ``(AFIB`` rhythm stretches, over each,
after the learning period; the beat list's AF inside the reference's atrial flutter (``(AFL``) is
left out of AF +P (EC38/EC57: flutter called fibrillation is neither right nor wrong). The beat
list's classifier is fitted on these records, so each is scored by the settings fitted without it
(``run``).
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field, replace
from functools import cache
from pathlib import Path

import numpy as np

from ecgviewer.dsp.runs import runs
from ecgviewer.storage import atomic_write_bytes
from training import REPORTS, SHARED_DATA
from training.validate.rpeaks import MITDB_TOLERANCE_S, pairs

COMMAND = "python -m training ec57"
OUT = REPORTS / "EC57.md"
AAMI = {**dict.fromkeys("NLRej", "N"), **dict.fromkeys("AaJS", "S"), **dict.fromkeys("VE", "V"), "F": "F",
        **dict.fromkeys("/fQ", "Q")}  # fmt: skip
PACED = frozenset({"102", "104", "107", "217"})
LEARNING_S = 300.0  # EC57's learning period (bxb's default start): not scored beat by beat
GOALS = {
    "qrs_se": 99.8,
    "qrs_pp": 99.8,
    "veb_se": 95.0,
    "veb_pp": 95.0,
    "sveb_se": 85.0,
    "sveb_pp": 80.0,
    "af_se": 90.0,
    "af_pp": 90.0,
}  # issue 74, gross on DS2 (%)
# A paired interval drawn over fewer records than this says little (``carried``): the report says so
FEW_RECORDS = 5
NAMES = {
    k: f"{k[:-3].upper()}{' dur.' * k.startswith('af')} {'Se' if k.endswith('se') else '+P'}" for k in GOALS
}
CALLED = {"normal": "N", "supraventricular": "S", "ventricular": "V", "paced": "Q", "unreadable": "U"}
# The reference's beat labels (MIT-BIH's ``atr`` symbols; the WFDB annotation codes), for the table of
# where each is called; NOT_A_BEAT stands for a listed beat that matches none of them
LABELS = {
    "N": "normal", "L": "left bundle branch block", "R": "right bundle branch block",
    "e": "atrial escape", "j": "junctional escape", "A": "atrial premature",
    "a": "aberrated atrial premature", "J": "junctional premature", "S": "supraventricular premature",
    "V": "ventricular premature", "E": "ventricular escape", "F": "fusion of ventricular and normal",
    "/": "paced", "f": "fusion of paced and normal", "Q": "unclassifiable",
}  # fmt: skip
NOT_A_BEAT = "-"
# The reference's rhythm annotation of each pattern of ventricular ectopy the beat list's events name
PATTERNS = {"bigeminy": "(B", "trigeminy": "(T"}


@dataclass
class Counts:
    """One record's (or the gross) EC57 counts."""

    record: str
    paced: bool = False
    ref_beats: int = 0
    det_beats: int = 0
    matched: int = 0
    ref_v: int = 0
    det_v: int = 0
    tp_v: int = 0
    ref_s: int = 0
    det_s: int = 0
    tp_s: int = 0
    fp_not_v: int = 0  # beats called ventricular that EC57 does not count against VEB +P (F, Q)
    fp_not_s: int = 0  # beats called supraventricular whose reference is Q
    f_called: dict[str, int] = field(default_factory=dict)  # reference fusion beats, as called
    paced_called: dict[str, int] = field(default_factory=dict)  # reference paced beats (``/``), as called
    # each reference label (LABELS; NOT_A_BEAT: listed beats the reference lacks), as called (CALLED's
    # letters, "missed"): where the errors are, beyond the classes' figures
    by_label: dict[str, dict[str, int]] = field(default_factory=dict)
    af_ref_s: float = 0.0
    af_det_s: float = 0.0
    af_overlap_s: float = 0.0
    af_in_flutter_s: float = 0.0  # the list's AF inside the reference's atrial flutter: not in af_det_s
    unreadable_s: float = 0.0
    vf_s: float = 0.0  # the reference's ventricular flutter and fibrillation
    vf_listed: int = 0  # beats the list has there (not scored: EC57 leaves flutter out)
    vf_ventricular: int = 0  # of them, called ventricular
    vf_unreadable_s: float = 0.0  # of the flutter, marked unreadable
    vf_found_s: float = 0.0  # of the flutter, inside the flutter detector's events
    # ventricular bigeminy and trigeminy: the reference's (B and (T stretches, the list's episodes
    # (``measure.ectopy``), their overlap (s, after the learning period, as AF's); not EC57's
    bigeminy_ref_s: float = 0.0
    bigeminy_det_s: float = 0.0
    bigeminy_overlap_s: float = 0.0
    trigeminy_ref_s: float = 0.0
    trigeminy_det_s: float = 0.0
    trigeminy_overlap_s: float = 0.0
    # ventricular couplets and runs (3 or more) in the reference's beats and in the list's, each in
    # its own order from the learning period on: counted, not matched
    couplets_ref: int = 0
    couplets_det: int = 0
    runs_ref: int = 0
    runs_det: int = 0

    def add(self, other: Counts) -> None:
        for k, v in asdict(other).items():
            if isinstance(v, int | float) and not isinstance(v, bool):
                setattr(self, k, getattr(self, k) + v)
        theirs_by_label = [(self.by_label.setdefault(y, {}), t) for y, t in other.by_label.items()]
        for mine, theirs in ((self.f_called, other.f_called), (self.paced_called, other.paced_called),
                             *theirs_by_label):  # fmt: skip
            for k, v in theirs.items():
                mine[k] = mine.get(k, 0) + v


def _ratio(a: float, b: float) -> float | None:
    return a / b if b else None


def stats(c: Counts) -> dict[str, float | None]:
    """Se and +P for QRS, VEB, SVEB and AF duration (None where the denominator is zero)."""
    return {
        **{k: _ratio(*_fraction(c, k)) for k in GOALS},
        **{f"{p}_{k}": _ratio(getattr(c, f"{p}_overlap_s"), getattr(c, f"{p}_{d}_s"))
           for p in PATTERNS for k, d in (("se", "ref"), ("pp", "det"))},
    }  # fmt: skip


def overlap(a: Sequence[tuple[float, float]], b: Sequence[tuple[float, float]]) -> float:
    """Seconds that two lists of stretches share."""
    return float(sum(max(0.0, min(e1, e2) - max(s1, s2)) for s1, e1 in a for s2, e2 in b))


def rhythm_stretches(
    samples: Iterable[int], notes: Iterable[str], fs: float, end_s: float, rhythm: str = "(AFIB"
) -> list[tuple[float, float]]:
    """The reference's stretches (s) of one rhythm (atrial fibrillation unless said) from its
    rhythm annotations."""
    out, start = [], None
    for s, note in zip(samples, notes, strict=True):
        note = (note or "").strip("\x00 ")
        if not note.startswith("("):
            continue
        if note == rhythm and start is None:
            start = s / fs
        elif note != rhythm and start is not None:
            out.append((start, s / fs))
            start = None
    if start is not None:
        out.append((start, end_s))
    return out


def score(
    name: str,
    ref_samples: np.ndarray,
    ref_symbols: Sequence[str],
    det_s: np.ndarray,
    det_kinds: Sequence[str],
    fs: float,
    af_ref: Sequence[tuple[float, float]],
    af_det: Sequence[tuple[float, float]],
    unreadable: Sequence[tuple[float, float]] = (),
    start_s: float = 0.0,
    vf: Sequence[tuple[float, float]] = (),
    flutter: Sequence[tuple[float, float]] = (),
    atrial_flutter: Sequence[tuple[float, float]] = (),
    patterns: Mapping[str, tuple[Sequence[tuple[float, float]], Sequence[tuple[float, float]]]] | None = None,
) -> Counts:
    """One record's counts from its reference beats (samples, symbols) and the beat list's
    (seconds, called kinds: ``CALLED``'s keys), from ``start_s`` on, outside the reference's
    ventricular flutter ``vf`` (s); ``flutter``: the beat list's flutter events (s);
    ``atrial_flutter``: the reference's, where the list's AF is not scored; ``patterns``: each of
    ``PATTERNS``' (the reference's stretches, the list's episodes), scored as AF is."""
    det_s = np.asarray(det_s, dtype=float)
    scored = det_s >= start_s
    for a, b in vf:
        scored &= (det_s < a) | (det_s > b)
    keep = [i for i, y in enumerate(ref_symbols) if y in AAMI and ref_samples[i] >= start_s * fs]
    ref, cls = ref_samples[keep], [AAMI[ref_symbols[i]] for i in keep]
    called = [CALLED[k] for k, ok in zip(det_kinds, scored, strict=True) if ok]
    det = np.round(det_s[scored] * fs).astype(np.int64)
    matched = pairs(ref, det, round(MITDB_TOLERANCE_S * fs))
    c = Counts(name, paced=name in PACED, ref_beats=len(ref), det_beats=len(det), matched=len(matched))
    c.ref_v, c.ref_s = cls.count("V"), cls.count("S")
    c.det_v, c.det_s = called.count("V"), called.count("S")
    labels = [ref_symbols[i] for i in keep]
    unmatched = np.ones(len(det), dtype=bool)
    for i, k in matched:
        c.tp_v += cls[i] == "V" and called[k] == "V"
        c.tp_s += cls[i] == "S" and called[k] == "S"
        c.fp_not_v += cls[i] in "FQ" and called[k] == "V"
        c.fp_not_s += cls[i] == "Q" and called[k] == "S"
        tally = c.by_label.setdefault(labels[i], {})
        tally[called[k]] = tally.get(called[k], 0) + 1
        unmatched[k] = False
    for y in set(labels):
        tally = c.by_label.setdefault(y, {})
        if (n := labels.count(y)) > sum(tally.values()):
            tally["missed"] = n - sum(tally.values())
    for k in np.flatnonzero(unmatched):
        tally = c.by_label.setdefault(NOT_A_BEAT, {})
        tally[called[k]] = tally.get(called[k], 0) + 1
    c.f_called, c.paced_called = dict(c.by_label.get("F", {})), dict(c.by_label.get("/", {}))
    af_ref, af_det = _after(af_ref, start_s), _after(af_det, start_s)
    c.af_in_flutter_s = overlap(af_det, atrial_flutter)
    c.af_ref_s = sum(e - s for s, e in af_ref)
    c.af_det_s = sum(e - s for s, e in af_det) - c.af_in_flutter_s
    c.af_overlap_s = overlap(af_ref, af_det)
    for p, (ref_p, det_p) in (patterns or {}).items():
        ref_p, det_p = _after(ref_p, start_s), _after(det_p, start_s)
        setattr(c, f"{p}_ref_s", sum(e - s for s, e in ref_p))
        setattr(c, f"{p}_det_s", sum(e - s for s, e in det_p))
        setattr(c, f"{p}_overlap_s", overlap(ref_p, det_p))
    c.unreadable_s = sum(e - s for s, e in unreadable)
    for side, letters in (("ref", cls), ("det", called)):
        a, b = runs(np.array([y == "V" for y in letters], dtype=bool))
        setattr(c, f"couplets_{side}", int((b - a == 2).sum()))
        setattr(c, f"runs_{side}", int((b - a >= 3).sum()))
    in_vf = np.zeros(len(det_s), bool)
    for a, b in vf:
        in_vf |= (det_s >= a) & (det_s <= b)
    c.vf_s, c.vf_unreadable_s = sum(e - s for s, e in vf), overlap(vf, unreadable)
    c.vf_listed, c.vf_found_s = int(in_vf.sum()), overlap(vf, flutter)
    c.vf_ventricular = sum(k == "ventricular" for k, v in zip(det_kinds, in_vf, strict=True) if v)
    return c


def _after(stretches: Sequence[tuple[float, float]], start_s: float) -> list[tuple[float, float]]:
    """The stretches' parts from ``start_s`` on."""
    return [(max(a, start_s), b) for a, b in stretches if b > start_s]


@cache
def _reference(path: str):
    import wfdb

    return wfdb.rdann(path, "atr")


def flutter_stretches(samples: Iterable[int], symbols: Iterable[str], fs: float) -> list[tuple[float, float]]:
    """The reference's ventricular flutter and fibrillation (s): from each ``[`` to its ``]``."""
    out, start = [], None
    for s, y in zip(samples, symbols, strict=True):
        if y == "[":
            start = s / fs
        elif y == "]" and start is not None:
            out.append((start, s / fs))
            start = None
    return out


def score_list(name: str, mitdb: Path, beats, whole: bool = False) -> Counts:
    """One record's counts of a beat list (``rhythm.BeatList``) against its reference (wfdb), by
    EC57's rules; ``whole``: every beat of the whole record, flutter included (the figures before
    these rules were followed)."""
    from ecgviewer.measure.rhythm import FLUTTER, KINDS

    ann = _reference(str(mitdb / name))
    fs = float(ann.fs or 360)
    af_ref = rhythm_stretches(ann.sample, ann.aux_note, fs, beats.duration_s)
    af_det = [(e.start_s, e.end_s) for e in beats.events if e.kind == "atrial fibrillation"]
    unreadable = [(e.start_s, e.end_s) for e in beats.events if e.kind == "unreadable"]
    flutter = [(e.start_s, e.end_s) for e in beats.events if e.kind == FLUTTER]
    kinds = [KINDS[k] for k in beats.kind]
    vf = () if whole else flutter_stretches(ann.sample, ann.symbol, fs)
    afl = () if whole else rhythm_stretches(ann.sample, ann.aux_note, fs, beats.duration_s, "(AFL")
    patterns = {p: (rhythm_stretches(ann.sample, ann.aux_note, fs, beats.duration_s, code),
                    [(e.start_s, e.end_s) for e in beats.events if e.kind == f"ventricular {p}"])
                for p, code in PATTERNS.items()}  # fmt: skip
    return score(
        name, np.asarray(ann.sample), list(ann.symbol), beats.t_s, kinds, fs, af_ref, af_det, unreadable,
        start_s=0.0 if whole else LEARNING_S, vf=vf, flutter=flutter, atrial_flutter=afl, patterns=patterns,
    )  # fmt: skip


ByRate = dict[float, dict[int, list[Counts]]]  # a run's unpaced records at each rate read, by seed


def run(
    mitdb: Path, records: Sequence[str] | None = None, progress: Callable[[str], None] = print,
    delineator_file: Path | None = None, classifier_file: Path | None = None, pool: Sequence[Path] = (),
    seeds: Sequence[int] = (), rates: Sequence[float] = (), learn_rates: Sequence[float] = (),
    folds: int | None = None,
) -> tuple[list[Counts], list[Counts], list[Counts], dict[int, list[Counts]], ByRate]:  # fmt: skip
    """Every record's counts cross-validated (an unpaced record classed by the bundled settings
    fitted without it; a paced one by the bundled classifier, which never saw it), with the
    bundled classifier itself, and cross-validated over the whole records (``score_list``'s
    ``whole``); ``delineator_file``: the beats found by another delineator than the beat list's own;
    ``classifier_file``: another classifier (its settings chosen with that delineator's beats);
    ``pool``: delineators whose beats of the other records each fold's classifier also learns from
    (classes that hold whichever delineator found the beats); ``seeds``: the cross-validation
    fitted again with these seeds too (the unpaced records' counts by seed, the settings' own
    first: how much of the figures is the fit's luck); ``rates``: each unpaced record also
    resampled to these rates, classed by its own fold's classifier (each seed's);
    ``learn_rates``: each fold also learns from the records resampled to these rates
    (``beat_classifier.RATE``); ``folds``: that many folds of records instead of one a record
    (``beat_classifier.record_folds``)."""
    from ecgviewer.measure.beat_classes import BeatClassifier
    from ecgviewer.measure.rhythm import classify
    from training.supervised import beat_classifier as BC

    names = list(records or sorted(p.stem for p in mitdb.glob("*.atr")))
    unpaced = [n for n in names if n not in PACED]
    bundled = BeatClassifier.bundled() if classifier_file is None else BeatClassifier.load(classifier_file)
    cfg = BC.settings(bundled.meta)
    cfg = replace(cfg, augment=cfg.augment + tuple((BC.RATE, round(r)) for r in learn_rates))
    data = BC.detections(mitdb, names, progress, delineator_file=delineator_file) | BC.detections(
        mitdb, unpaced, progress, augment=cfg.augment, delineator_file=delineator_file
    )
    pooled = {  # keyed "<record>[+<noise>]+@<delineator>": ``dataset`` takes them with their record
        f"{k}+@{w.stem}": v
        for w in pool
        for k, v in BC.detections(mitdb, unpaced, progress, augment=cfg.augment, delineator_file=w).items()
    }

    def fitted(seed: int) -> dict[str, BeatClassifier]:
        progress(f"ec57: cross-validating over {len(unpaced)} records (seed {seed})")
        seeded = replace(cfg, seed=seed)
        models = BC.cross_validated(data | pooled, unpaced, seeded, folds) if len(unpaced) > 1 else {}
        return {n: BC.with_bias(m, bundled.meta["bias"]) for n, m in models.items()}

    own = fitted(cfg.seed)
    fits = {cfg.seed: own}
    listed = {n: classify(data[n][0], own.get(n, bundled)) for n in names if n in own or n in PACED}
    cv = [score_list(n, mitdb, beats) for n, beats in listed.items()]
    whole = [score_list(n, mitdb, beats, whole=True) for n, beats in listed.items()]
    shipped = [score_list(n, mitdb, classify(data[n][0], bundled)) for n in names]
    by_seed = {cfg.seed: [r for r in cv if not r.paced]}
    for seed in (s for s in seeds if s not in by_seed):
        fits[seed] = fitted(seed)
        by_seed[seed] = [score_list(n, mitdb, classify(data[n][0], m)) for n, m in fits[seed].items()]
    at_rates: ByRate = {}
    for rate in map(round, rates):
        copies = BC.detections(mitdb, list(own), progress, augment=[(BC.RATE, rate)],
                               delineator_file=delineator_file)  # fmt: skip
        at_rates[float(rate)] = {
            seed: [
                score_list(n, mitdb, classify(copies[f"{n}+{BC.RATE}{rate}"][0], m)) for n, m in fit.items()
            ]
            for seed, fit in fits.items()
        }
    return cv, shipped, whole, by_seed, at_rates


def save_counts(
    path: Path, rows: Sequence[Counts], by_seed: Mapping[int, Sequence[Counts]] | None = None,
    at_rates: ByRate | None = None, folds: int | None = None,
) -> None:  # fmt: skip
    """Each record's counts as JSON, for a paired comparison with another run (``paired``); with
    ``by_seed`` (its first seed's are ``rows``), the other seeds' too, each row with its seed; with
    ``at_rates``, the records resampled, each row with its rate and seed; with ``folds``, each row
    with the folds its cross-validation had (none: one a record)."""
    others = [
        asdict(r) | {"seed": seed} for seed, seeded in list((by_seed or {}).items())[1:] for r in seeded
    ]
    resampled = [
        asdict(r) | {"rate": rate, "seed": seed}
        for rate, by_rate_seed in (at_rates or {}).items()
        for seed, rated in by_rate_seed.items()
        for r in rated
    ]
    rows_ = [asdict(r) for r in rows] + others + resampled
    if folds is not None:
        rows_ = [r | {"folds": folds} for r in rows_]
    atomic_write_bytes(path, (json.dumps(rows_, indent=0) + "\n").encode())


def _protocol(folds: int | None) -> str:
    return "leaving one record out" if folds is None else f"in {folds} folds of records"


def counts_folds(path: Path) -> int | None:
    """The folds of records a run's counts (``save_counts``) were cross-validated with (None: one a
    record): runs are paired only where they agree."""
    return next((int(r["folds"]) for r in json.loads(Path(path).read_text()) if "folds" in r), None)


def load_counts(path: Path, rate: float | None = None) -> dict[int, list[Counts]]:
    """A run's counts (``save_counts``) by the seed its cross-validation was fitted with, each by
    record (rows without a seed: the run's first fit, the settings' own seed 0): at the records'
    own rate, or with ``rate`` those resampled to it (none where the run read none)."""
    out: dict[int, list[Counts]] = {}
    for r in json.loads(Path(path).read_text()):
        r.pop("folds", None)
        if r.pop("rate", None) == rate:
            out.setdefault(int(r.pop("seed", 0)), []).append(Counts(**r))
    return out


def shared_seeds(
    mine: Mapping[int, Sequence[Counts]], other: Mapping[int, Sequence[Counts]]
) -> tuple[list[Counts], list[Counts], list[int]]:  # fmt: skip
    """Two runs' counts by record for a paired comparison, each summed over the seeds both were
    fitted with (each over all its own where they share none), and those seeds: a record's true
    calls move by tens of beats from one seed's fit to another's (EC57.md's "fit's luck"), so the
    same fits on both sides compare a change that leaves the perceptron's inputs alone fit for fit,
    and unequal seeds would compare unequal luck."""
    common = [seed for seed in mine if seed in other]
    pick = lambda runs: summed(runs[k] for k in (common or runs))  # noqa: E731
    return pick(mine), pick(other), common


def summed(by_seed: Iterable[Sequence[Counts]]) -> list[Counts]:
    """Each record's counts summed over the seeds' (records in first-seen order)."""
    out: dict[str, Counts] = {}
    for rows in by_seed:
        for r in rows:
            if r.record in out:
                out[r.record].add(r)
            else:
                out[r.record] = replace(
                    r,
                    f_called=dict(r.f_called),
                    paced_called=dict(r.paced_called),
                    by_label={y: dict(t) for y, t in r.by_label.items()},
                )
    return list(out.values())


def paired(
    a: Sequence[Counts], b: Sequence[Counts], keys: Iterable[str] = tuple(GOALS), draws: int = 2000,
    seed: int = 0,
) -> dict[str, tuple[float, float, float]]:  # fmt: skip
    """Gross ``a`` minus gross ``b`` (percentage points), unpaced records, for each figure of
    ``keys`` that both have, with a 95 % interval by a bootstrap over records (one draw of the
    same records for both): two ways of listing the same records compared record by record."""
    rows = _pairs(a, b)

    def diff(idx: Iterable[int]) -> dict[str, float]:
        idx = list(idx)
        sa, sb = (stats(gross([rows[i][j] for i in idx], paced=False)) for j in (0, 1))
        return {k: 100 * (sa[k] - sb[k]) for k in keys if sa[k] is not None and sb[k] is not None}

    rng = np.random.default_rng(seed)
    seen: dict[str, list[float]] = {}
    for _ in range(draws):
        for k, v in diff(rng.integers(0, len(rows), len(rows))).items():
            seen.setdefault(k, []).append(v)
    point = diff(range(len(rows)))
    return {
        k: (v, float(np.percentile(seen[k], 2.5)), float(np.percentile(seen[k], 97.5)))
        for k, v in point.items()
    }


def _ordinal(n: int) -> str:
    return f"{n}{'th' if 10 <= n % 100 <= 20 else {1: 'st', 2: 'nd', 3: 'rd'}.get(n % 10, 'th')}"


def _names(files: Sequence[str]) -> str:
    return ", ".join(f"`{f}`" for f in files)


def _pct(x: float | None) -> str:
    return "-" if x is None else f"{100 * x:.2f}"


def gross(rows: Sequence[Counts], paced: bool) -> Counts:
    """The counts summed over the records (class counts over the unpaced ones only)."""
    total = Counts("gross")
    for r in rows:
        if paced or not r.paced:
            total.add(r)
    return total


def intervals(rows: Sequence[Counts], draws: int = 2000, seed: int = 0) -> dict[str, tuple[float, float]]:
    """95 % intervals of the gross figures by a bootstrap over records (the unit that varies: a
    patient), unpaced ones; a figure whose denominator is zero in a draw is left out of that draw."""
    rows = [r for r in rows if not r.paced]
    rng = np.random.default_rng(seed)
    seen: dict[str, list[float]] = {}
    for _ in range(draws):
        total = Counts("draw")
        for i in rng.integers(0, len(rows), len(rows)):
            total.add(rows[i])
        for k, v in stats(total).items():
            if v is not None:
                seen.setdefault(k, []).append(v)
    return {k: (float(np.percentile(v, 2.5)), float(np.percentile(v, 97.5))) for k, v in seen.items()}


def _row(r: Counts, name: str) -> str:
    s = stats(r)
    f = "/".join(str(r.f_called.get(k, 0)) for k in ("N", "S", "V", "missed"))
    classes = [_pct(s[k]) for k in ("veb_se", "veb_pp", "sveb_se", "sveb_pp")] + [f]
    qrs = [_pct(s["qrs_se"]), _pct(s["qrs_pp"])]
    rest = [_pct(s["af_se"]), _pct(s["af_pp"]), f"{r.unreadable_s:.0f}"]
    return (
        "| " + " | ".join([name, str(r.ref_beats), *qrs, *(["-"] * 5 if r.paced else classes), *rest]) + " |"
    )


def report(
    cv: Sequence[Counts], shipped: Sequence[Counts], mitdb: Path, whole: Sequence[Counts] = (),
    delineator: str = "the beat list's delineator",
    classifier: str = "the bundled classifier",
    pool: Sequence[str] = (),
    against: tuple[str, Mapping[int, Sequence[Counts]]] | None = None,
    command: str = COMMAND,
    by_seed: Mapping[int, Sequence[Counts]] | None = None,
    at_rates: ByRate | None = None,
    against_rates: Mapping[float, Mapping[int, Sequence[Counts]]] | None = None,
    learn_rates: Sequence[float] = (),
    folds: int | None = None,
) -> str:  # fmt: skip
    """EC57.md: per record and gross, in EC57's table (Se and +P in %), cross-validated (``folds``:
    in that many folds of records, not one a record); then the bundled classifier's gross
    figures; ``at_rates``: the records resampled (``run``), paired with their own rate and with
    ``against_rates`` (the other run's at the same rates)."""
    protocol = (
        "leave one record out" if folds is None else
        f"{folds} folds of records, every {_ordinal(folds)} record in one: a screen, {folds} fits "
        "instead of one a record; its figures are not the leave-one-record-out ones"
    )  # fmt: skip
    others = "other records" if folds is None else "other folds' records"
    head = ("| record | beats (ref) | QRS Se | QRS +P | VEB Se | VEB +P | SVEB Se | SVEB +P "
            "| F as N/S/V/missed | AF dur. Se | AF dur. +P | unreadable (s) |")  # fmt: skip
    lines = [
        f"# EC57 on the MIT-BIH Arrhythmia Database (generated by `{command}`)",
        "",
        "Do not edit by hand: run the command again. The app's beat list (its own reader, "
        f"`measure.rhythm.detect`, {delineator}, `measure.rhythm.classify`) against the reference "
        "labels, EC57's way (matching within 150 ms, AAMI classes, paced records left out of the class "
        "scores, gross statistics summed over records, the first 5 min of each record its learning period "
        "and the reference's ventricular flutter left out of the beat-by-beat comparison, as the standard's "
        "comparator `bxb` has them; AF duration after the learning period, the list's AF inside the "
        "reference's atrial flutter left out of AF +P, as its episode comparator `epicmp` has it); see "
        "`training/validate/ec57.py`. Records: "
        f"{len(shipped)} from `{mitdb.name}/` ({', '.join(r.record for r in shipped)}).",
        "",
        f"**Cross-validated, record by record** ({protocol}): each unpaced record's beats are "
        f"classed by {classifier}'s settings fitted on the {others} (`python -m training "
        "beat-classifier`)"
        + (f", on their beats as found by {delineator} and by {_names(pool)}" if pool else "")
        + "".join(f", and on the records resampled to {r:g} Hz" for r in learn_rates)
        + "; the paced records, which no classifier is fitted on, by that classifier. DS2, the held-out "
        "half, is not in `../shared` and is not read.",
        "",
        head,
        "|" + "---|" * (len(head.split("|")) - 2),
    ]
    lines += [_row(r, r.record + (" (paced)" if r.paced else "")) for r in cv]
    lines.append(_row(gross(cv, paced=False), "**gross** (unpaced)"))
    ci = intervals(cv)
    lines += ["", "Gross figures with 95 % intervals (bootstrap over records): " + "; ".join(
        f"{NAMES[k]} {_pct(stats(gross(cv, paced=False))[k])} "
        f"[{_pct(ci[k][0])}, {_pct(ci[k][1])}]" for k in GOALS if k in ci) + "."]  # fmt: skip
    if by_seed is not None and len(by_seed) > 1:
        lines += _luck(by_seed)
    lines += ["", "**Where the calls go**, cross-validated as above, by the reference's own label (the "
              "unpaced records, gross; `bxb`'s beat-by-beat matching; what a row's beats were called, then "
              "the records with most of its calls outside its AAMI class):", "", *by_label(cv),
              "", *shortfalls(cv)]  # fmt: skip
    qrs = stats(gross(cv, paced=True))
    every = gross(cv, paced=True)
    paced = [r for r in cv if r.paced]
    lines += (
        [
            "",
            "Paced records, how their paced beats (`/`) were called (paced, normal, ventricular, "
            "supraventricular, unreadable, missed): "
            + "; ".join(
                f"{r.record} "
                + "/".join(str(r.paced_called.get(k, 0)) for k in ("Q", "N", "V", "S", "U", "missed"))
                for r in paced
            )
            + ".",
        ]
        if paced
        else []
    )
    lines += [
        "",
        f"Ventricular flutter and fibrillation: the reference has {every.vf_s:.0f} s of it (records "
        f"{', '.join(r.record for r in cv if r.vf_s) or 'none'}), left out of the scores above as EC57 "
        f"has it. The flutter detector's events cover {every.vf_found_s:.0f} s of it (its figures on other "
        f"databases: VF.md); the beat list lists {every.vf_listed} beats there ({every.vf_ventricular} "
        f"called ventricular) and marks {every.vf_unreadable_s:.0f} s of it unreadable.",
        "",
        *_patterns(cv),
        *_couplets(cv),
        f"Atrial flutter: {every.af_in_flutter_s:.0f} s of the reference's atrial flutter are called "
        "fibrillation by the beat list (records "
        f"{', '.join(r.record for r in cv if r.af_in_flutter_s) or 'none'}), left out of AF +P as `epicmp` "
        "has it.",
        "",
        f"QRS over every record, paced ones included: Se {_pct(qrs['qrs_se'])} %, +P {_pct(qrs['qrs_pp'])} % "
        f"({every.matched} of {every.ref_beats} reference beats found; "
        f"{every.det_beats - every.matched} beats listed that the reference does not have).",
        "",
        *(["**Whole records**, cross-validated as above but every beat scored, the learning period and "
           "the ventricular flutter included (the rules these figures were first given by):", "", head,
           "|" + "---|" * (len(head.split("|")) - 2), _row(gross(whole, paced=False), "**gross** (unpaced)"),
           ""] if whole else []),
        *(_against(by_seed or {0: cv}, *against) if against else []),
        *(_rates(by_seed or {0: cv}, at_rates, against and against[0], against_rates or {})
          if at_rates else []),
        f"**{classifier[0].upper() + classifier[1:]} itself**, fitted on these records (not a measure of "
        "how it generalises):",
        "",
        head,
        "|" + "---|" * (len(head.split("|")) - 2),
        _row(gross(shipped, paced=False), "**gross** (unpaced)"),
        "",
        "Issue 74's goals on DS2, gross: " + ", ".join(f"{NAMES[k]} {v} %" for k, v in GOALS.items()) + ".",
        "",
    ]  # fmt: skip
    return "\n".join(lines)


def _patterns(cv: Sequence[Counts]) -> list[str]:
    """The beat list's ventricular bigeminy and trigeminy against the reference's rhythm annotations
    (no EC57 statistic: durations as AF's), gross with intervals over records, and the records."""
    rows = [r for r in cv if not r.paced]
    total, ci = stats(gross(rows, paced=False)), intervals(rows)
    parts = []
    for p, code in PATTERNS.items():
        held = [r.record for r in rows if getattr(r, f"{p}_ref_s") or getattr(r, f"{p}_det_s")]
        if not held:
            continue
        figures = ", ".join(
            f"{what} {_pct(total[k])}" + (f" [{_pct(ci[k][0])}, {_pct(ci[k][1])}]" if k in ci else "")
            for what, k in (("Se", f"{p}_se"), ("+P", f"{p}_pp"))
        )
        seconds = sum(getattr(r, f"{p}_ref_s") for r in rows), sum(getattr(r, f"{p}_det_s") for r in rows)
        parts.append(f"{p} (`{code}`) duration {figures} (the reference {seconds[0]:.0f} s, the list "
                     f"{seconds[1]:.0f} s; records {', '.join(held)})")  # fmt: skip
    if not parts:
        return []
    return [
        "Ventricular bigeminy and trigeminy (no EC57 statistic; the beat list's episodes, "
        "`measure.ectopy`: three cycles or more of a normal beat and a ventricular one, or of two normal "
        "beats and one, against the reference's rhythm annotations, their durations after the learning "
        "period as AF's, cross-validated as above, unpaced records, 95 % intervals over records): "
        + "; ".join(parts)
        + ".",
        "",
    ]


def _couplets(cv: Sequence[Counts]) -> list[str]:
    """Ventricular couplets and runs, the reference's and the list's, counted (unpaced records)."""
    rows = [r for r in cv if not r.paced]
    if not any(r.couplets_ref or r.couplets_det or r.runs_ref or r.runs_det for r in rows):
        return []
    apart = sorted(rows, key=lambda r: -abs(r.couplets_det - r.couplets_ref) - abs(r.runs_det - r.runs_ref))
    return [
        "Ventricular couplets, counted (not matched) in the reference's beats and in the list's, "
        "cross-validated as above, from the learning period on: the reference "
        f"{sum(r.couplets_ref for r in rows)}, the list {sum(r.couplets_det for r in rows)}; runs of three "
        f"or more: {sum(r.runs_ref for r in rows)} and {sum(r.runs_det for r in rows)}. Most apart: "
        + "; ".join(f"{r.record} {r.couplets_ref} and {r.couplets_det} couplets, {r.runs_ref} and "
                    f"{r.runs_det} runs" for r in apart[:3])
        + ".",
        "",
    ]  # fmt: skip


def _wrong(label: str, tally: Mapping[str, int]) -> int:
    """Calls of a reference label outside its AAMI class, and its beats missed; fusion and
    unclassifiable beats (EC57 scores no call of them) only missed; every beat listed where the
    reference has none."""
    right = {"/": CALLED["paced"], "F": None, "f": None, "Q": None}.get(label, AAMI.get(label, ""))
    return sum(n for k, n in tally.items() if k == "missed" or (right is not None and k != right))


def by_label(rows: Sequence[Counts], shown: int = 2) -> list[str]:
    """The table of how each reference label of the unpaced records was called, gross, with the
    records where most of its wrong calls are (``_wrong``)."""
    order = [*LABELS, NOT_A_BEAT]
    total = gross(rows, paced=False).by_label
    head = "| label | beats | " + " | ".join(CALLED) + " | missed | most wrong calls in |"
    lines = [head, "|" + "---|" * (len(head.split("|")) - 2)]
    for y in sorted(total, key=lambda y: order.index(y) if y in order else len(order)):
        counted = [(r.record, _wrong(y, r.by_label.get(y, {}))) for r in rows if not r.paced]
        worst = sorted((c for c in counted if c[1]), key=lambda c: -c[1])[:shown]
        name = f"`{y}` {LABELS[y]}" if y in LABELS else "not a reference beat"
        cells = [str(total[y].get(k, 0)) for k in (*CALLED.values(), "missed")]
        where = ", ".join(f"{record} ({n})" for record, n in worst) or "-"
        lines.append(f"| {name} | {sum(total[y].values())} | " + " | ".join(cells) + f" | {where} |")
    return lines


# Per beat figure: the AAMI class it is about, and whether it is a sensitivity (the class's reference
# beats called otherwise or missed are lost) or a positive predictivity (other beats called the class:
# the reference's other classes, fusion and unclassifiable beats excepted, and beats it does not have)
_CLASS_OF = {"veb": "V", "sveb": "S"}
_NOT_COUNTED = {"V": "FQ", "S": "Q"}  # reference classes whose calls EC57 does not count against +P


# What a figure below 100 % loses, in words
_LOST = {
    "qrs_se": "reference beats missed", "qrs_pp": "beats listed that the reference does not have",
    "veb_se": "reference ventricular beats not called ventricular",
    "veb_pp": "beats called ventricular that are not",
    "sveb_se": "reference supraventricular beats not called supraventricular",
    "sveb_pp": "beats called supraventricular that are not",
    "af_se": "s of the reference's AF not called AF", "af_pp": "s of AF listed outside the reference's",
}  # fmt: skip


def _fraction(c: Counts, figure: str) -> tuple[float, float]:
    """``stats``' numerator and denominator of ``figure``."""
    return {
        "qrs_se": (c.matched, c.ref_beats), "qrs_pp": (c.matched, c.det_beats),
        "veb_se": (c.tp_v, c.ref_v), "veb_pp": (c.tp_v, c.det_v - c.fp_not_v),
        "sveb_se": (c.tp_s, c.ref_s), "sveb_pp": (c.tp_s, c.det_s - c.fp_not_s),
        "af_se": (c.af_overlap_s, c.af_ref_s), "af_pp": (c.af_overlap_s, c.af_det_s),
    }[figure]  # fmt: skip


def _gap(c: Counts, figure: str) -> float:
    """What ``figure`` misses of 100 %: its denominator less its numerator (beats, or AF seconds)."""
    num, den = _fraction(c, figure)
    return den - num


def _lost(figure: str, label: str, tally: Mapping[str, int]) -> int:
    """The beats of one reference label (one record's ``by_label`` tally) that keep ``figure``
    (a ``GOALS`` key for beats) below 100 %."""
    kind, side = figure[:-3], figure[-2:]
    if kind == "qrs":
        return tally.get("missed", 0) if side == "se" else sum(tally.values()) * (label == NOT_A_BEAT)
    cls, own = _CLASS_OF[kind], AAMI.get(label)
    if side == "se":
        return sum(n for k, n in tally.items() if k != cls) if own == cls else 0
    return tally.get(cls, 0) if own != cls and (own is None or own not in _NOT_COUNTED[cls]) else 0


def shortfalls(rows: Sequence[Counts], shown: int = 3) -> list[str]:
    """Each gross figure of the unpaced records below its issue-74 goal, with what keeps it there:
    the beats by reference label and record (AF duration: the seconds by record), the most first,
    each with the figure had they been right, and whether that record holds most of its label's
    beats, which leaves its own fold of the cross-validation little of the label to learn from."""
    kept = [r for r in rows if not r.paced]
    total = gross(kept, paced=False)
    figures = stats(total)
    held = {y: sum(t.values()) for y, t in total.by_label.items()}
    by_record = {r.record: r for r in kept}
    out = []
    for k, goal in GOALS.items():
        point = figures[k]
        if point is None or 100 * point >= goal:
            continue
        num, den = _fraction(total, k)
        if k.startswith("af"):
            groups = [(r.record, "", _gap(r, k)) for r in kept]
        else:
            groups = [(r.record, y, _lost(k, y, t)) for r in kept for y, t in r.by_label.items()]
        groups = sorted((g for g in groups if g[2] > 0), key=lambda g: -g[2])[:shown]
        parts = []
        for record, y, n in groups:
            better = (num + n) / den if k.endswith("se") else num / (den - n)
            where = {"": record, NOT_A_BEAT: f"{record}'s beats the reference does not have"}.get(
                y, f"`{y}` in {record}"
            )
            own = sum(by_record[record].by_label.get(y, {}).values())
            most = (f"; {record} holds {own} of the {held[y]} `{y}` beats here"
                    if y and y != NOT_A_BEAT and 2 * own > held[y] else "")  # fmt: skip
            parts.append(f"{where}: {n:.0f} ({_pct(better)} % had they been right{most})")
        out.append(f"- {NAMES[k]} {_pct(point)} % (goal {goal} %): {den - num:.0f} {_LOST[k]}; "
                   "the most: " + ", ".join(parts) + ".")  # fmt: skip
    if not out:
        return ["Every goal is reached on these records, cross-validated as above.", ""]
    return [
        "**Where the goals are not reached**, cross-validated as above (the unpaced records, gross): "
        "each figure below its goal, what keeps it there, the most first, by the reference's label and "
        "record, and the figure had those alone been right. A record that holds most of a label's beats "
        "leaves the classifier fitted without it few of them to learn from.",
        "",
        *out,
        "",
    ]


def _luck(by_seed: Mapping[int, Sequence[Counts]], shown: int = 3) -> list[str]:
    """The report's table of the cross-validation fitted with other seeds (the first is the one
    above), with the figures' range and the records whose true calls move most."""
    table = {seed: stats(gross(rows, paced=False)) for seed, rows in by_seed.items()}
    cell = lambda k, f: _pct(f([v[k] for v in table.values() if v[k] is not None], default=None))  # noqa: E731
    head = "| seed | " + " | ".join(NAMES[k] for k in GOALS) + " |"
    swing = {}
    for i, r in enumerate(next(iter(by_seed.values()))):
        tp = [(rows[i].tp_v, rows[i].tp_s) for rows in by_seed.values()]
        v, sv = [t[0] for t in tp], [t[1] for t in tp]
        spans = f"{min(v)}\u2013{max(v)}", f"{min(sv)}\u2013{max(sv)}"
        swing[r.record] = (max(v) - min(v) + max(sv) - min(sv), *spans)
    moved = sorted((k for k in swing if swing[k][0]), key=lambda k: -swing[k][0])[:shown]
    return [
        "",
        "**The fit's luck**: the same cross-validation fitted with other seeds (the members' "
        "initial weights and the order of their batches); the table above is the first row's:",
        "",
        head,
        "|" + "---|" * (len(head.split("|")) - 2),
        *(f"| {seed} | " + " | ".join(_pct(v[k]) for k in GOALS) + " |" for seed, v in table.items()),
        "| lowest\u2013highest | " + " | ".join(f"{cell(k, min)}\u2013{cell(k, max)}" for k in GOALS) + " |",
        "",
        "Records whose true calls move most across the seeds (ventricular, supraventricular): "
        + ("; ".join(f"{k} {swing[k][1]}, {swing[k][2]}" for k in moved) or "none")
        + ".",
    ]


def _rates(
    by_seed: Mapping[int, Sequence[Counts]], at_rates: ByRate, name: str | None,
    theirs: Mapping[float, Mapping[int, Sequence[Counts]]],
) -> list[str]:  # fmt: skip
    """The report's figures at other sampling rates, cross-validated, each record's counts summed
    over the run's seeds, paired with the records' own rate and with another run's at the same rate
    (where it read that rate; over the seeds both were fitted with, ``shared_seeds``)."""
    own = summed([r for r in rows if not r.paced] for rows in by_seed.values())
    at = {rate: summed(rows.values()) for rate, rows in at_rates.items()}
    head = "| rate | " + " | ".join(NAMES[k] for k in GOALS) + " |"
    rule = "|" + "---|" * (len(GOALS) + 1)
    gross_row = lambda label, rows: f"| {label} | " + " | ".join(  # noqa: E731
        _pct(stats(gross(rows, paced=False))[k]) for k in GOALS) + " |"  # fmt: skip

    def paired_row(label: str, a: Sequence[Counts], b: Sequence[Counts]) -> str:
        d = paired(a, b)
        cells = (f"{d[k][0]:+.2f} [{d[k][1]:+.2f}, {d[k][2]:+.2f}]" if k in d else "-" for k in GOALS)
        return f"| {label} | " + " | ".join(cells) + " |"

    same = [
        (rate, *shared_seeds(rows, theirs[rate])[:2]) for rate, rows in at_rates.items() if rate in theirs
    ]
    fits = "the first seed's fit" if len(by_seed) == 1 else f"summed over the {len(by_seed)} seeds' fits"

    lines = [
        f"**At other sampling rates**, cross-validated as above ({fits}): each unpaced record "
        "resampled by the app's resampler (`dsp.resample.to_rate`) and read again, its beats classed by "
        "the same fold's classifier as at its own rate. Gross figures (%):",
        "",
        head,
        rule,
        gross_row("the records' own", own),
        *(gross_row(f"{rate:g} Hz", rows) for rate, rows in at.items()),
        "",
        "Paired by record (gross difference, percentage points, 95 % interval by a bootstrap over records)"
        + (f"; against {name}: that run's counts at the same rate (the seeds both fitted):" if same else ":"),
        "",
        head,
        rule,
        *(paired_row(f"{rate:g} Hz minus the records' own", rows, own) for rate, rows in at.items()),
        *(paired_row(f"{rate:g} Hz, this run minus that", rows, other) for rate, rows, other in same),
        "",
    ]
    return lines


def _against(
    by_seed: Mapping[int, Sequence[Counts]], name: str, other: Mapping[int, Sequence[Counts]]
) -> list[str]:  # fmt: skip
    """The report's paired comparison of its cross-validated counts with another run's
    (``load_counts``), over the seeds both were fitted with (``shared_seeds``)."""
    mine, theirs, common = shared_seeds(by_seed, other)
    d = paired(mine, theirs)
    cells = [f"{d[k][0]:+.2f} [{d[k][1]:+.2f}, {d[k][2]:+.2f}]" if k in d else "-" for k in GOALS]
    n = carried(mine, theirs)
    few = [NAMES[k] for k in GOALS if n[k] < FEW_RECORDS]
    listed = ", ".join(map(str, common))
    seeds = (
        f"each record's counts summed over the seeds both runs were fitted with ({listed})"
        if common
        else f"each record's counts summed over each run's seeds ({len(by_seed)} here, {len(other)} there)"
    )
    return [
        f"**Paired by record against {name}** (its cross-validated counts, the same protocol; {seeds}): "
        "gross difference, this run minus that (percentage points), with a 95 % interval by a bootstrap "
        "over records:",
        "",
        "| " + " | ".join(NAMES[k] for k in GOALS) + " |",
        "|" + "---|" * len(GOALS),
        "| " + " | ".join(cells) + " |",
        "| " + " | ".join(f"{n[k]} record{'s' * (n[k] != 1)}" for k in GOALS) + " |",
        "",
        *(
            [f"The last row: the records that have each figure's denominator in both runs. Under "
             f"{FEW_RECORDS} ({', '.join(few)}), the bootstrap over records draws from so few that its "
             "interval is not a measure of uncertainty: where each of them moves the same way, the "
             "interval lies on that side of zero whatever the size of the moves (MIT-BIH DS1 has two "
             "unpaced records with atrial fibrillation), so read the change itself.", ""]
            if few
            else []
        ),
    ]  # fmt: skip


def carried(a: Sequence[Counts], b: Sequence[Counts]) -> dict[str, int]:
    """For each figure, the unpaced records with its denominator in both ``a`` and ``b`` (as
    ``paired`` pairs them): how many a paired interval is drawn from."""
    return {k: sum(_fraction(x, k)[1] > 0 and _fraction(y, k)[1] > 0 for x, y in _pairs(a, b)) for k in GOALS}


def _pairs(a: Sequence[Counts], b: Sequence[Counts]) -> list[tuple[Counts, Counts]]:
    """Each unpaced record of ``a`` with the same record's counts in ``b``, where ``b`` has it."""
    theirs = {r.record: r for r in b if not r.paced}
    return [(r, theirs[r.record]) for r in a if not r.paced and r.record in theirs]


def arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--mitdb", type=Path, default=SHARED_DATA / "mitdb", help="MIT-BIH records (.hea .dat .atr)"
    )
    p.add_argument("--records", nargs="*", default=None, help="only these records (default: every one)")
    p.add_argument("--out", type=Path, default=OUT, help="the report (default training/reports/EC57.md)")
    p.add_argument(
        "--delineator",
        type=Path,
        default=None,
        help="find the beats with this delineator instead of the beat list's own (a comparison)",
    )
    p.add_argument("--classifier", type=Path, default=None,
                   help="class the beats with this classifier's settings, not the bundled one's")  # fmt: skip
    p.add_argument("--pool", type=Path, nargs="*", default=(),
                   help="fit each fold's classifier on the beats these delineators find too")  # fmt: skip
    p.add_argument(
        "--counts",
        type=Path,
        default=None,
        help="each record's cross-validated counts to this JSON (``paired``)",
    )
    p.add_argument("--against", type=Path, default=None,
                   help="another run's --counts JSON, compared record by record")  # fmt: skip
    p.add_argument("--seeds", type=int, nargs="*", default=(),
                   help="fit the cross-validation with these seeds too and report the spread")  # fmt: skip
    p.add_argument("--rates", type=float, nargs="*", default=(),
                   help="also read each record at these rates (Hz), classed by its fold")  # fmt: skip
    p.add_argument("--learn-rates", type=float, nargs="*", default=(),
                   help="fit each fold on the records resampled to these rates too")  # fmt: skip
    p.add_argument("--folds", type=int, default=None,
                   help="cross-validate in this many folds of records, not one a record")  # fmt: skip


def command(args: argparse.Namespace) -> None:
    """EC57 on the MIT-BIH Arrhythmia Database: the beat list's QRS, VEB, SVEB, F and AF figures (EC57.md)."""
    if not args.mitdb.is_dir():
        raise SystemExit(f"{args.mitdb}: no MIT-BIH records there (../shared/data/mitdb)")
    if args.against is not None and not args.against.is_file():  # before the half hour of fitting
        raise SystemExit(f"--against {args.against}: no such counts file")
    if args.against is not None and (theirs := counts_folds(args.against)) != args.folds:
        raise SystemExit(f"--against {args.against}: cross-validated {_protocol(theirs)}, this run "
                         f"{_protocol(args.folds)}: not paired (run both the same way)")  # fmt: skip
    if args.folds is not None:  # before the detections and the fitting
        from training.supervised.beat_classifier import record_folds

        names = args.records or sorted(p.stem for p in args.mitdb.glob("*.atr"))
        try:
            record_folds([n for n in names if n not in PACED], args.folds)
        except ValueError as exc:
            raise SystemExit(f"--folds {args.folds}: {exc}") from None
    against = None if args.against is None else (f"`{args.against.name}`", load_counts(args.against))
    cv, shipped, whole, by_seed, at_rates = run(
        args.mitdb, args.records, delineator_file=args.delineator, classifier_file=args.classifier,
        pool=args.pool, seeds=args.seeds, rates=args.rates, learn_rates=args.learn_rates, folds=args.folds,
    )  # fmt: skip
    named = {} if args.delineator is None else {"delineator": f"the delineator `{args.delineator.name}`"}
    if args.classifier is not None:
        named["classifier"] = f"the classifier `{args.classifier.name}`"
    options = (("--delineator", args.delineator), ("--classifier", args.classifier),
               ("--counts", args.counts), ("--against", args.against))  # fmt: skip
    pooled = [f"--pool {' '.join(w.name for w in args.pool)}"] if args.pool else []
    seeds = [f"--seeds {' '.join(map(str, args.seeds))}"] if args.seeds else []
    seeds += [f"--folds {args.folds}"] if args.folds is not None else []
    rates = [f"{flag} {' '.join(f'{r:g}' for r in v)}" for flag, v in
             (("--rates", args.rates), ("--learn-rates", args.learn_rates)) if v]  # fmt: skip
    command = " ".join([COMMAND, *(f"{k} {v.name}" for k, v in options if v is not None), *pooled, *seeds,
                        *rates])  # fmt: skip
    against_rates = {} if args.against is None else {
        float(round(r)): load_counts(args.against, float(round(r))) for r in args.rates}  # fmt: skip
    text = report(cv, shipped, args.mitdb, whole, against=against, command=command,
                  pool=[w.name for w in args.pool], by_seed=by_seed, at_rates=at_rates,
                  against_rates={r: v for r, v in against_rates.items() if v}, learn_rates=args.learn_rates,
                  folds=args.folds, **named)  # fmt: skip
    atomic_write_bytes(args.out, text.encode())
    if args.counts is not None:
        save_counts(args.counts, cv, by_seed, at_rates, args.folds)
    print(json.dumps({"records": len(shipped), **stats(gross(cv, paced=False)), "report": str(args.out)}))
