"""Every beat of a recording of any length: the beat list (time, kind, intervals where they can be
measured), the heart-rate trend, the ectopy counts and the events a reader jumps to (pauses,
ventricular and supraventricular runs, atrial fibrillation, unreadable stretches).

Paged: the recording is read ``PAGE_S`` at a time with ``MARGIN_S`` of context either side, so
memory stays bounded whatever its length (a few pages measured at once, ``workers``), and every page goes
through the delineation contract and the lead checks of the 10 s measurements (``signal.prepare``,
``quality``), and through the flutter detector (``flutter``): where the signal is ventricular
flutter or fibrillation, an undulation and not beats, no beat is listed and the stretch is an event
of its own. At most
``MAX_LEADS`` leads are read, a 3-channel Holter's worth: more adds time, not beats. Of those,
``DELINEATED`` are delineated on each page, the others standing in for a lead that cannot be read
there (flat, clipped, missing or pure noise): the classes were fitted and validated on MIT-BIH's
two leads (``training/reports/EC57.md``), and the delineator is most of the time a page takes:
the beat list's own (``Delineator.for_beats``) reads the pages in its 8-bit form
(``Delineator.int8``; against the float form, ``training/reports/DELINEATOR-INT8.md``). A second
delineator, taught electrode motion, reads the stretches around beats unlike the page's dominant
one (``confirm``): whether it finds a QRS there is one of the features the classifier weighs, and
a detection it does not confirm, unlike the detections around it, is left out
(``confirm.not_beats``).
"""

from __future__ import annotations

import itertools
import threading
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass, replace
from functools import cache

import numpy as np

from ecgviewer.dsp.runs import runs
from ecgviewer.errors import Cancelled
from ecgviewer.measure import atrial, confirm, signal, workers
from ecgviewer.measure import beat_classes as C
from ecgviewer.measure import beats as B
from ecgviewer.measure import delineate as D
from ecgviewer.measure import ectopy as EC
from ecgviewer.measure import flutter as F
from ecgviewer.measure import intervals as I
from ecgviewer.measure import quality as Q
from ecgviewer.measure.delineate import Delineator
from ecgviewer.measurements import BEAT_KINDS, EVENT_KINDS
from ecgviewer.memory import keep_freed_memory
from ecgviewer.recording import Recording
from ecgviewer.summary import clock

PAGE_S = 60.0  # one delineator pass; a fixed length keeps the convolution kernels' set-up cached
MARGIN_S = 2.0  # context either side of a page: no beat is judged at an edge
MAX_LEADS = 3
DELINEATED = 2
LEAD_PREFERENCE = ("II", "V1", "V5", "I", "V2", "V6", "V3", "V4", "aVF", "III", "aVL", "aVR")
NEIGHBOURS = 3  # beats either side whose QRS may lie in a beat's noise window (``_hf_noise``)
NOISE_FACTOR = 4.0  # a beat's high-frequency noise outside its QRS, over the page's median: unreadable
MIN_NOISE_MV = 0.02
PAUSE_S = 2.0
MIN_GAP_S = 1.0  # samples missing in every lead for this long: an unreadable stretch
# Noise: a stretch where half the detections around each are artefacts, for 5 s or more, is read
# as noise (an unreadable stretch), its beats not listed
NOISY_BEATS, NOISY_SHARE, NOISY_MIN_S = 4, 0.5, 5.0
# ... and one where DOUBTED_SHARE of the detections around each (DOUBTED_BEATS either side) are
# listed although the second opinion finds no QRS there (``confirm``; kept as like other beats):
# where the two delineators disagree, the signal is noise (bSQI: Li, Clifford et al. 2008). The
# lowest share that left every DS1 figure as it was, clean and in noise (cross-validated by record,
# session 97: 0.1 and 0.15 cost true beats). The detections judged no beats counted among the doubted
# too (they are the two delineators' disagreements as well; session 125, DS1 cross-validated by
# record): at a share of 0.2, 157 clean reference beats lost; at 0.4, 5 clean and 1,562 in synthetic
# motion at 12 dB for 25 false detections; at 0.6, nothing moved. Not done
DOUBTED_BEATS, DOUBTED_SHARE = 8, 0.2
# The same share, the judged and the doubted counted together, tells where a beat's class is read
# through noise: there a beat called ventricular whose QRS matches the dominant one (r of
# beat_classes.OTHER_R or more) is listed unreadable, its class not read. Electrode motion widens
# and bends a true beat's delineated QRS (true beats in synthetic motion called ventricular at QRS r
# 0.83-0.93); calling such a beat normal instead would say more than the signal does. Session 143
# compared shares 0.1-0.35 with r 0.7-0.9 (and the recording's usual QRS alike too) on the beat
# lists of DS1's 22 records, each classed by the classifier fitted without it, clean and with
# synthetic electrode motion (``training/validate/motion.py``) throughout at 12 and 6 dB: of the
# settings that took no true ventricular beat of the clean records, the one whose motion copies
# lost the most false ventricular calls net of the true ones is this share with r 0.8 (clean: 4
# normal beats and 9 detections of no beat no longer called ventricular, no true one; 12 dB: 297
# and 31 for 70 true ones; 6 dB: 1,342 and 89 for 322). EC57's electrode-motion noise was not
# looked at in choosing.
# A detection counts as noise there (besides those judged artefacts) where the noise rule marked it
# unreadable (NOISE_FACTOR) and the classifier finds it at least this likely an artefact: more
# likely noise than a beat. Alone it stays listed, unreadable (the classifier's artefact bias keeps
# single beats); a burst of them is a stretch too noisy to read. Without it, 10 s of muscle noise
# four times the QRS among clean minutes listed up to 14 unreadable "beats" where 11 were (the
# classifier's artefact probability 0.4-0.8 there, under its bias); on DS1 cross-validated by
# record, clean and in noise, 0.5 and 0.3 changed no figure (session 98)
NOISE_P = 0.5
# ... and one of UNCLEAR_MIN_S or more where the QRS barely stands out of the noise and the beats
# are not alike: around each detection (CLARITY_BEATS either side), the median ``clarity`` (the
# page's dominant QRS over its high-frequency noise, in e-folds) under CLARITY_MIN and CLARITY_DROP
# under the recording's clearest beats (its CLARITY_Q percentile: a faint recording is not noise for
# being faint), and the median likeness of a QRS to its closest neighbour's (``_neighbour_r``, the
# template-matching quality index of Orphanidou et al., IEEE JBHI 2015) under NEIGHBOUR_R: a paced
# rhythm's spikes lower the clarity, but its beats stay alike; and the median successive RR
# difference at least UNCLEAR_IRREGULAR of the median RR: detections that keep a regular rhythm in
# noise follow the heart (muscle noise as large as the QRS for 20 s among clean minutes was read
# beat for beat, NOISE_BURSTS.md, and without this went unread). Electrode motion makes QRS-like
# deflections that no other rule tells from beats (EC57's noise stress test listed 440-680
# invented beats a record at 6 and 0 dB). Chosen on DS1 cross-validated by record (session 118),
# clarity 2.4-3.2 by 0.1 against likeness 0.8-0.95 by 0.05: of the settings that took no
# reference beat of the clean records, the one that left out most invented detections of their
# noisy copies (muscle, wander and synthetic motion; 1,668 of 4,167); the electrode-motion test
# was not looked at in choosing. The regularity guard, added after, kept 9,800 of the 16,000 true
# beats this took from the copies with muscle noise as large as the QRS throughout, and 629 of
# their 1,500 invented detections. The clarity is read twice, on the full band (CLARITY_MIN, the
# classifier's feature) and below NOISE_BAND_HZ (CLARITY_MIN_BAND; a zero-phase Butterworth
# low-pass of NOISE_BAND_ORDER before the second difference), a band every recorder keeps, and a
# stretch either reads as unclear is unclear. The full band alone misses noise at 128 Hz, where a
# Holter keeps nothing over 64 Hz and the same noise reads about half as large (EC57's
# electrode-motion test invented 3,452 beats there against 1,644 at 360 Hz, NOISE_STRESS-128.md);
# the band alone misses electrode motion's content above 45 Hz at 360 Hz (2,669 invented). The
# band's limit is the largest that takes no reference beat of DS1's clean records at 360 Hz nor at
# 128 Hz (3.3 took 22), as the full band's 2.7 was chosen (session 135)
CLARITY_MIN, CLARITY_MIN_BAND, CLARITY_DROP, CLARITY_Q = 2.7, 3.25, 1.0, 90.0
NEIGHBOUR_R, UNCLEAR_IRREGULAR = 0.9, 0.1
NOISE_BAND_HZ, NOISE_BAND_ORDER = 45.0, 4
CLARITY_BEATS, UNCLEAR_MIN_S, NEIGHBOURS_COMPARED = 8, 10.0, 2
FLUTTER = "ventricular fibrillation"  # the event of the flutter detector's stretches
NO_BEATS = ("unreadable", FLUTTER)  # events where no beat is listed
NOT_READ = " not read "  # in a note on a lead left out of some pages (``_not_read``): shown with the counts

KINDS = tuple(BEAT_KINDS)
BEAT_FIDUCIALS = ("p_on", "p_off", "qrs_on", "qrs_off", "t_off")  # a beat's own, measured on its own
NORMAL, SUPRA, VENTRICULAR, PACED, UNREADABLE = (KINDS.index(k) for k in BEAT_KINDS)
ARTEFACT = C.CLASSES.index("artefact")
_MS = 1000.0 / signal.FS
SHAPE_MS = B.SHAPE_MS  # a beat's QRS, kept for the templates


@dataclass(frozen=True)
class Event:
    kind: str  # a key of EVENT_KINDS
    start_s: float
    end_s: float
    detail: str

    def to_json(self) -> dict:
        return {"kind": self.kind, "name": EVENT_KINDS[self.kind], "start_s": round(self.start_s, 3),
                "end_s": round(self.end_s, 3), "detail": self.detail}  # fmt: skip


@dataclass(frozen=True)
class BeatList:
    """The beat list and what follows from it; intervals are NaN where not measurable."""

    t_s: np.ndarray  # R of every beat, s from the recording's start
    kind: np.ndarray  # int8 index into KINDS
    rr_ms: np.ndarray  # to the previous beat; NaN for the first and across unreadable stretches
    fiducials_ms: np.ndarray  # (5, beats): BEAT_FIDUCIALS, ms from the beat's R; NaN where absent
    events: tuple[Event, ...]
    trend_s: np.ndarray  # centres of the trend's bins
    trend_bpm: np.ndarray  # NaN where a bin has no RR interval
    duration_s: float
    leads: tuple[str, ...]  # the leads read: their shapes are kept, DELINEATED of them delineated
    notes: tuple[str, ...] = ()
    features: np.ndarray | None = None  # (beat_classes.FEATURES, beats) the classes were weighed from
    shapes: np.ndarray | None = None  # (beats, leads, samples) float16: the QRS over SHAPE_MS (templates)
    relabels: tuple[tuple[str, np.ndarray], ...] = ()  # the reader's, in order: (label, the beats' R in s)

    def fiducial(self, name: str) -> np.ndarray:
        """Every beat's fiducial ``name`` (of BEAT_FIDUCIALS), ms from its R."""
        return self.fiducials_ms[BEAT_FIDUCIALS.index(name)]

    @property
    def qrs_ms(self) -> np.ndarray:
        return self.fiducial("qrs_off") - self.fiducial("qrs_on")

    @property
    def pr_ms(self) -> np.ndarray:
        return self.fiducial("qrs_on") - self.fiducial("p_on")

    @property
    def qt_ms(self) -> np.ndarray:
        return self.fiducial("t_off") - self.fiducial("qrs_on")

    @property
    def has_p(self) -> np.ndarray:
        return np.isfinite(self.fiducial("p_on"))

    def rate_range(self) -> tuple[float, float, float] | None:
        """The trend's lowest and highest heart rate and the mean over every RR interval (bpm)."""
        ok = np.isfinite(self.trend_bpm)
        mean = I.heart_rate(self.rr_ms)
        if not ok.any() or mean is None:
            return None
        return float(self.trend_bpm[ok].min()), float(self.trend_bpm[ok].max()), mean

    def summary(self) -> list[str]:
        """The counts and the rate range in words (the Beats dock, the report)."""
        counts = self.counts()
        kinds = ", ".join(f"{n} {BEAT_KINDS[k]}" for k, n in counts.items() if n or k == "normal")
        if any(note.startswith(B.NOT_SEEN) for note in self.notes):  # "normal" could be paced here
            kinds += f" ({B.NOT_SEEN})"
        lines = [
            f"{sum(counts.values())} beats in {clock(self.duration_s)}",
            kinds,
            *(note for note in self.notes if NOT_READ in note),  # beats found without a lead: with the counts
        ]  # short enough for a column
        # each class's couplets, runs and patterns (single beats alone: the counts above say it all)
        lines += [e.words(BEAT_KINDS[k].capitalize()) for k, e in self.ectopy().items() if e.patterned]
        rates = self.rate_range()
        if rates is not None:
            lines.append("Heart rate {:.0f}\u2013{:.0f} bpm, mean {:.0f} bpm".format(*rates))
        flutter = [e for e in self.events if e.kind == FLUTTER]
        if flutter:  # the reader must not miss it among the events
            seconds = sum(e.end_s - e.start_s for e in flutter)
            stretches = f"{len(flutter)} stretch{'es' if len(flutter) > 1 else ''}, {seconds:.0f} s in all"
            lines.append(f"{EVENT_KINDS[FLUTTER].capitalize()}? {stretches}: no beats listed there")
        if self.relabels:
            lines.append(self.relabelled())
        return lines

    def relabelled(self) -> str:
        """What the reader relabelled, in words (the beats a later relabel took again counted once)."""
        latest: dict[float, str] = {}
        for label, t in self.relabels:
            latest.update(dict.fromkeys(np.round(t, 3).tolist(), label))
        by = {k: list(latest.values()).count(k) for k in dict.fromkeys(latest.values())}
        return (
            f"{len(latest)} beats relabelled by the reader ("
            + ", ".join(f"{n} {k}" for k, n in by.items())
            + ")"
        )

    def lead_use(self) -> str:
        """Which leads the beats were found in (``DELINEATED`` of those read), for the Beats panel."""
        found = f"Beats found in {' and '.join(self.leads[:DELINEATED])}"
        if len(self.leads) <= DELINEATED:
            return found
        return f"{found} ({', '.join(self.leads[DELINEATED:])} where one of them cannot be read)"

    def reading(self) -> str:
        """How the beats were read: the leads, then the notes the summary does not show (the
        detections of noise left out, where pacing spikes were looked for), for the Beats panel
        and the report alike."""
        notes = [note for note in self.notes if NOT_READ not in note]
        return f"{self.lead_use()}; {'; '.join(notes) or 'every beat delineated'}"

    def counts(self) -> dict[str, int]:
        return {k: int((self.kind == i).sum()) for i, k in enumerate(KINDS)}

    def ectopy(self) -> dict[str, EC.Ectopy]:
        """The ectopic beats of each class counted as a Holter summary has them (``ectopy``)."""
        return {KINDS[which]: EC.count(self.t_s, self.kind, self.rr_ms, which, NORMAL)
                for which in (VENTRICULAR, SUPRA)}  # fmt: skip

    def to_json(self) -> dict:
        def r(a: np.ndarray, d: int = 1) -> list:
            return [None if not np.isfinite(v) else round(float(v), d) for v in a]

        return {
            "duration_s": round(self.duration_s, 3),
            "leads": list(self.leads),
            "counts": self.counts(),
            "ectopy": {k: asdict(e) for k, e in self.ectopy().items()},
            "beats": {
                "t_s": r(self.t_s, 3),
                "kind": [KINDS[k] for k in self.kind],
                "rr_ms": r(self.rr_ms),
                "qrs_ms": r(self.qrs_ms),
                "pr_ms": r(self.pr_ms),
                "qt_ms": r(self.qt_ms),
                "fiducials_ms": {k: r(v) for k, v in zip(BEAT_FIDUCIALS, self.fiducials_ms, strict=True)},
            },
            "trend": {"t_s": r(self.trend_s), "hr_bpm": r(self.trend_bpm)},
            "events": [e.to_json() for e in self.events],
            "notes": list(self.notes),
            "relabels": [{"label": label, "t_s": r(t, 3)} for label, t in self.relabels],
        }


@dataclass
class _Page:
    """What one page contributes: its beats (s) with their per-beat measures."""

    t_s: np.ndarray
    kind: np.ndarray  # PACED and UNREADABLE as found on the page; NORMAL for the classifier to class
    fiducials_ms: np.ndarray  # (5, beats): BEAT_FIDUCIALS
    unreadable: list[tuple[float, float]]  # s: no usable lead, or every lead's samples missing
    morphology: np.ndarray  # (beat_classes.MORPHOLOGY, beats)
    unconfirmed: np.ndarray  # (beats,) beat_classes.OPINION
    shapes: np.ndarray  # (beats, leads, samples) float16
    clarity_band: np.ndarray  # (beats,) the QRS's clarity over the noise below NOISE_BAND_HZ
    flutter_s: np.ndarray  # the centres of the flutter detector's windows in the page's core (s)
    flutter_p: np.ndarray  # their probability of flutter or fibrillation (NaN: no lead read)
    left_out: dict[str, str]  # leads not read on this page, and why (``quality.beats_without_noise``)
    seconds: float  # the page's core


@dataclass(frozen=True)
class Detected:
    """Every beat found with what its class is weighed from, before it is classed (``classify``):
    the pages joined."""

    t_s: np.ndarray
    kind: np.ndarray
    fiducials_ms: np.ndarray
    features: np.ndarray  # (beat_classes.FEATURES, beats)
    shapes: np.ndarray
    unreadable: list[tuple[float, float]]
    duration_s: float
    leads: tuple[str, ...]
    notes: tuple[str, ...]
    flutter: tuple[tuple[float, float], ...] = ()  # ventricular flutter or fibrillation (s)
    clarity_band: np.ndarray | None = None  # (beats,) ``_Page.clarity_band``; None: not measured


def chosen_leads(rec: Recording) -> list[int]:
    """Up to MAX_LEADS recorded (not derived) leads, by LEAD_PREFERENCE, else in file order."""
    recorded = [i for i, lead in enumerate(rec.leads) if lead not in rec.derived]
    ranked = sorted(recorded, key=lambda i: (LEAD_PREFERENCE + rec.leads).index(rec.leads[i]))
    return ranked[:MAX_LEADS]


def analyse(
    rec: Recording, delineator: Delineator | None = None, progress: Callable[[float], bool] | None = None,
    classifier: C.BeatClassifier | None = None,
) -> BeatList:  # fmt: skip
    """The whole recording, page by page, its beats found by ``delineator`` and classed by
    ``classifier`` (the beat list's own by default: ``bundled_delineator``, the classifier fitted
    on its beats); ``progress(fraction)`` returning False cancels (``Cancelled``)."""
    return classify(detect(rec, delineator, progress), classifier or C.BeatClassifier.bundled())


def detect(
    rec: Recording, delineator: Delineator | None = None, progress: Callable[[float], bool] | None = None,
    second: Delineator | None = None,
) -> Detected:  # fmt: skip
    """Every beat of the recording with its measures and its class's features, page by page;
    ``delineator``: another than the beat list's own (a comparison); ``second``: the second
    opinion on doubtful beats (``confirm``; the bundled one by default)."""
    import scipy.signal  # noqa: F401  (loads scipy's own BLAS, so that the limit below holds it too)
    from threadpoolctl import threadpool_limits

    keep_freed_memory()  # each page allocates alike: reuse, not fresh pages
    delineator = (delineator.int8() if delineator is not None else bundled_delineator()).built()
    second = (second.int8() if second is not None else confirm.bundled()).built()
    detector = F.Detector.bundled()
    leads = chosen_leads(rec)
    names = tuple(rec.leads[i] for i in leads)
    page, margin = round(PAGE_S * rec.fs), round(MARGIN_S * rec.fs)
    pages: list[_Page] = []
    pending: deque[tuple[int, workers.Task]] = deque()  # at most Pages.depth pages read ahead

    def collect() -> None:
        end, future = pending.popleft()
        pages.append(future.result())
        if progress is not None and not progress(min(1.0, end / rec.n_samples)):
            for _, waiting in pending:
                waiting.cancel()
            raise Cancelled

    blas = threadpool_limits(limits=1, user_api="blas")
    shared = (delineator, second, detector)
    with blas, _one_torch_thread(), workers.Pages(_measure_page, shared, rec.duration) as pool:
        for start in range(0, rec.n_samples, page):
            a, b = max(0, start - margin), min(rec.n_samples, start + page + margin)
            core = (start, min(b, start + page))
            raw = rec.read(a, b)  # here: a reader need not be safe across threads
            pending.append((start + page, pool.submit(raw, leads, names, rec.fs, a, core)))
            if len(pending) > pool.depth:
                collect()
        while pending:
            collect()
    # whether spikes could be seen depends on the rate and on the recorded leads (all, not the 3 read)
    notes = [*B.pacing_note(rec.read(0, min(rec.n_samples, round(rec.fs))), rec.fs), *_not_read(pages)]
    cat = lambda f: np.concatenate([getattr(p, f) for p in pages], axis=-1)  # noqa: E731
    t, gaps = cat("t_s"), _unreadable(pages)
    fid = cat("fiducials_ms")
    has_p = np.isfinite(fid[BEAT_FIDUCIALS.index("p_on")])
    shapes = (
        np.concatenate([p.shapes for p in pages])
        if pages
        else np.zeros((0, len(names), B.SHAPE_N), np.float16)
    )
    morphology, rhythm = cat("morphology"), C.rhythm(_rr(t, gaps), has_p)
    pre, qrs_s = rhythm[C.RHYTHM.index("pre")], morphology[C.MORPHOLOGY.index("qrs_s")]
    usual = C.usual(shapes, pre, qrs_s)  # against the whole recording: known once every page is read
    features = np.concatenate([morphology, cat("unconfirmed")[None], rhythm, usual])
    flutter = detector.stretches(cat("flutter_s"), cat("flutter_p")) if pages else []
    return Detected(
        t,
        cat("kind").astype(np.int8),
        fid,
        features,
        shapes,
        gaps,
        rec.duration,
        names,
        tuple(notes),
        tuple((a, min(b, rec.duration)) for a, b in flutter),
        clarity_band=cat("clarity_band"),
    )


def _measure_page(
    raw: np.ndarray, leads: list[int], names: Sequence[str], fs: float, first: int, core: tuple[int, int],
    delineator: Delineator, second: Delineator, detector: F.Detector,
) -> _Page:  # fmt: skip
    """Beats with R inside ``core`` (samples of the recording) of a page read from ``first``, and
    the flutter detector's windows centred there; ``delineator`` finds the beats, ``second`` is
    the second opinion on doubtful ones."""
    mine = raw[leads]
    x_raw = _filled(mine.astype(np.float64))
    problems = Q.raw_problems(mine, fs, names)
    present = np.array([n not in problems for n in names])
    x = signal.prepare(x_raw, fs)
    left_out = dict(problems)
    r, labels, used = Q.beats_without_noise(
        x, present, names, left_out, delineator, DELINEATED, read_around=True
    )
    seconds = (core[1] - core[0]) / fs
    lost = ~np.isfinite(mine).any(axis=0)  # samples missing in every lead
    if present.any():
        in_core = lost[core[0] - first : core[1] - first]
        gaps = [((core[0] + a) / fs, (core[0] + b) / fs) for a, b in zip(*runs(in_core), strict=True)
                if b - a >= MIN_GAP_S * fs]  # fmt: skip
    else:
        gaps = [(core[0] / fs, core[1] / fs)]
    flutter_s = first / fs + F.centres_s(x.shape[-1])
    inside = (flutter_s >= core[0] / fs) & (flutter_s < core[1] / fs)
    at = np.minimum((np.arange(x.shape[-1]) * fs / signal.FS).astype(int), len(lost) - 1)  # contract's rate
    flutter_p = detector.read(x[used], lost[at])[inside]
    flutter_s = flutter_s[inside]
    t = (first + r * fs / signal.FS) / fs
    keep = (t >= core[0] / fs) & (t < core[1] / fs)
    if not keep.any():
        empty = np.zeros(0)
        no_shapes = np.zeros((0, len(leads), B.SHAPE_N), np.float16)
        no_beats = np.zeros((len(BEAT_FIDUCIALS), 0)), np.zeros((len(C.MORPHOLOGY), 0), np.float32)
        return _Page(empty, empty.astype(np.int8), no_beats[0], gaps, no_beats[1], empty.astype(np.float32),
                     no_shapes, empty.astype(np.float32), flutter_s, flutter_p, left_out,
                     seconds)  # fmt: skip
    fid = _fiducials(labels, used, r)  # r has no QRS cut by the page's ends (``beats.find``)
    qrs_s = (fid[BEAT_FIDUCIALS.index("qrs_off")] - fid[BEAT_FIDUCIALS.index("qrs_on")]) / signal.FS
    half = round(B.QRS_HALF_MS * signal.FS / 1000)
    noise = _hf_noise(x[used], r, half) if used.any() else np.zeros(len(r))
    dominant = ~B.premature(np.diff(r).astype(float))
    morphology = C.morphology(x, r, used, qrs_s, dominant, noise)
    qrs_r = morphology[C.MORPHOLOGY.index("qrs_r")]
    # the same QRS over the noise below NOISE_BAND_HZ (clarity is log(QRS / noise)): rate-invariant
    band = _hf_noise(_noise_band(x[used]), r, half) if used.any() else noise
    clarity_band = morphology[C.MORPHOLOGY.index("clarity")] + np.log(
        np.maximum(noise, 1e-6) / np.maximum(band, 1e-6)
    )
    unconfirmed = (
        confirm.unconfirmed(x[used], r, qrs_r, second, keep) if used.any() else np.zeros(len(r), np.float32)
    )
    kind = np.full(len(r), NORMAL, dtype=np.int8)
    if used.any():
        limit = max(NOISE_FACTOR * float(np.median(noise)), MIN_NOISE_MV)
        noisy = noise > limit
        noisy[noisy] = _hf_noise(x[used], r, half, qrs_r >= C.OTHER_R, noisy)[noisy] > limit
        kind[noisy] = UNREADABLE
    spikes = B.pacing_spikes(raw, fs)  # every recorded lead, as the 10 s measurement looks
    onset = (first + fid[BEAT_FIDUCIALS.index("qrs_on")] * fs / signal.FS) / fs
    kind[B.paced_beats(t, onset, None if spikes is None else spikes + first / fs)] = PACED
    shapes = B.qrs_shapes(x, r[keep], present)
    return _Page(
        t[keep],
        kind[keep],
        ((fid - r) * _MS)[:, keep],
        gaps,
        morphology[:, keep],
        unconfirmed[keep],
        shapes,
        clarity_band[keep].astype(np.float32),
        flutter_s,
        flutter_p,
        left_out,
        seconds,
    )


_bundled_lock = threading.Lock()


def bundled_delineator() -> Delineator:
    """The beat list's own delineator (``Delineator.for_beats``) in its 8-bit form, loaded and built
    once, under a lock: a window's beat list and its measurements' may start at once."""
    with _bundled_lock:
        return _bundled_delineator()


@cache
def _bundled_delineator() -> Delineator:
    return Delineator.for_beats().int8().built()


_torch_threads = {"users": 0, "before": 1}
_torch_lock = threading.Lock()


@contextmanager
def _one_torch_thread() -> Iterator[None]:
    """torch's intra-op threads at one while the pages' workers share the cores (process-wide,
    so counted: two beat lists at once, one being cancelled as the next starts, restore it once)."""
    import torch

    with _torch_lock:
        if _torch_threads["users"] == 0:
            _torch_threads["before"] = torch.get_num_threads()
            torch.set_num_threads(1)
        _torch_threads["users"] += 1
    try:
        yield
    finally:
        with _torch_lock:
            _torch_threads["users"] -= 1
            if _torch_threads["users"] == 0:
                torch.set_num_threads(_torch_threads["before"])


def _filled(x: np.ndarray) -> np.ndarray:
    """Missing samples (NaN) interpolated per lead (a lead with none at all becomes zeros)."""
    for row in x:
        ok = np.isfinite(row)
        if not ok.all():
            row[:] = np.interp(np.arange(len(row)), np.flatnonzero(ok), row[ok]) if ok.any() else 0.0
    return x


def _fiducials(labels: np.ndarray, present: np.ndarray, r: np.ndarray) -> np.ndarray:
    """Per beat (5, beats), BEAT_FIDUCIALS in contract samples (NaN where absent), from where
    enough present leads agree on each wave (as ``beats.find``, whose R always lies in one of
    these QRS runs)."""
    votes = [(labels[present] == k).mean(axis=0) >= B.QRS_VOTE for k in (1, 3)]
    qs, qe = B.qrs_runs(labels, present)  # as ``beats.find`` has them
    (ps, pe), (ts, te) = D.wave_runs(votes[0], "P"), D.wave_runs(votes[1], "T")  # as ``delineate.waves``
    k = np.searchsorted(qs, r, side="right") - 1
    on, off = qs[k].astype(float), qe[k].astype(float)
    p_on, p_off, t_off = (np.full(len(r), np.nan) for _ in range(3))
    # each beat's P and T lie between its neighbours' QRS complexes (``intervals.lead_fiducials``)
    before, after = np.r_[-np.inf, off[:-1]], np.r_[on[1:], np.inf]
    if len(ps):
        j = np.searchsorted(pe, on + 2, side="right") - 1
        ok = (j >= 0) & (ps[j] >= np.maximum(on - I.P_SEARCH_MS / _MS, before))
        p_on[ok], p_off[ok] = ps[j[ok]], pe[j[ok]] - 1
    if len(ts):
        j = np.minimum(np.searchsorted(ts, off - 2, side="left"), len(ts) - 1)
        ok = (ts[j] >= off - 2) & (te[j] <= np.minimum(off + I.T_SEARCH_MS / _MS, after))
        t_off[ok] = te[j[ok]] - 1
    return np.stack([p_on, p_off, on, off - 1, t_off])  # offsets at the last labelled sample, as annotated


@cache
def _noise_sections() -> np.ndarray:
    from scipy.signal import butter

    return butter(NOISE_BAND_ORDER, NOISE_BAND_HZ, fs=signal.FS, output="sos")


def _noise_band(x: np.ndarray) -> np.ndarray:
    """``x`` (leads, 250 Hz samples) low-passed to NOISE_BAND_HZ, zero-phase (scipy's filter: the
    limits were carried over with it)."""
    from scipy.signal import sosfiltfilt

    if x.shape[-1] < 64:  # too short for sosfiltfilt's padding: as it is
        return x
    return sosfiltfilt(_noise_sections(), x, axis=-1).astype(x.dtype)


def _hf_noise(
    x: np.ndarray, r: np.ndarray, half: int, alike: np.ndarray | None = None, only: np.ndarray | None = None
) -> np.ndarray:
    """RMS of the second difference (mV per sample squared) around each beat outside its QRS:
    smooth P, ST and T waves leave little; muscle noise and electrode artefacts a lot.

    ``alike`` marks the beats whose QRS has the patient's dominant shape: between two such beats,
    each one's QRS is left out of the other's window too, since in a fast run (an atrial run, an
    SVT) the next beat's QRS lies there and is not noise. A detection in noise rarely has that
    shape, so its neighbours still count. ``only``: the beats measured (NaN elsewhere)."""
    pre, post = (round(abs(ms) * signal.FS / 1000) for ms in Q.NOISE_WINDOW_MS)
    i = np.arange(len(r)) if only is None else np.flatnonzero(only)
    w = B.windows(np.diff(x, n=2, axis=-1, prepend=x[:, :1], append=x[:, -1:]), r[i], pre, post)
    w[..., pre - half : pre + half] = np.nan  # its own QRS
    if alike is not None:  # a mask, not a slice: slow, so asked for the few beats over the limit only
        at, skip = np.arange(pre + post), np.zeros((len(i), pre + post), bool)
        for k in (*range(-NEIGHBOURS, 0), *range(1, NEIGHBOURS + 1)):
            j = np.clip(i + k, 0, len(r) - 1)
            other = r[j].astype(np.int64) - r[i] + pre  # beat i + k's R in beat i's window
            both = (i + k >= 0) & (i + k < len(r)) & alike[i] & alike[j]
            skip |= both[:, None] & (at >= other[:, None] - half) & (at < other[:, None] + half)
        w[np.broadcast_to(skip[:, None, :], w.shape)] = np.nan
    out = np.full(len(r), np.nan, dtype=w.dtype)
    out[i] = np.sqrt(np.nanmean(w**2, axis=(1, 2)))
    return out


def _rr(t: np.ndarray, gaps: Sequence[tuple[float, float]]) -> np.ndarray:
    """Every beat's RR to the previous one (ms); NaN for the first and across unreadable stretches."""
    rr = np.diff(t, prepend=np.nan) * 1000
    for a, b in gaps:
        rr[(t > a) & (np.concatenate([[-np.inf], t[:-1]]) < b)] = np.nan
    return rr


def features_without(found: Detected, keep: np.ndarray) -> np.ndarray:
    """``found``'s features with the RHYTHM ones of the ``keep`` beats taken from their own RR
    series, as if the others had not been found."""
    features = found.features.copy()
    t, has_p = found.t_s[keep], np.isfinite(found.fiducials_ms[BEAT_FIDUCIALS.index("p_on"), keep])
    rows = np.array([C.FEATURES.index(name) for name in C.RHYTHM])
    features[np.ix_(rows, np.flatnonzero(keep))] = C.rhythm(_rr(t, found.unreadable), has_p)
    return features


def classify(found: Detected, classifier: C.BeatClassifier) -> BeatList:
    """The beat list: every beat found classed (paced and unreadable ones as found), those the
    classifier or the second opinion (``confirm.not_beats``) judges artefacts left out, and the
    events that follow."""
    kind = found.kind.copy()
    label, p = classifier.labelled(found.features)
    unconfirmed = found.features[C.FEATURES.index("unconfirmed")]
    label[confirm.not_beats(unconfirmed, found.shapes)] = ARTEFACT
    if classifier.two_pass and 0 < (first := label == ARTEFACT).sum() < len(label):
        # the beats classed again on RR intervals without the detections judged noise, which
        # shorten the RRs of the true beats around them (``beat_classifier.Config.two_pass``);
        # whether a detection is a beat was the first reading's to say, on the RRs it made
        found = replace(found, features=features_without(found, ~first))
        label[~first], p[~first] = classifier.labelled(found.features[:, ~first], beats=True)
    native = kind == NORMAL
    for name, k in (("supraventricular", SUPRA), ("ventricular", VENTRICULAR)):
        kind[native & (label == C.CLASSES.index(name))] = k
    # in noise the delineated QRS widens and its shape bends (electrode motion): where the
    # detections around a beat are doubted, one called ventricular whose QRS still matches the
    # dominant one is a beat whose class cannot be read (DOUBTED_SHARE's second use)
    doubtful = _share((unconfirmed == 1) | (label == ARTEFACT), DOUBTED_BEATS) >= DOUBTED_SHARE
    alike = found.features[C.FEATURES.index("qrs_r")] >= C.OTHER_R
    kind[bent := doubtful & alike & (kind == VENTRICULAR)] = UNREADABLE
    judged = label == ARTEFACT
    # a detection judged noise is left out unless it was found paced (the classifier never saw a
    # paced beat); every judgement counts towards a stretch too noisy to read, where noise makes
    # "spikes" of its own
    artefact = judged & (native | (kind == UNREADABLE))
    # a detection the noise rule marked unreadable and the classifier finds more likely an artefact
    # than a beat is noise too where it has company (``NOISE_P``), though not left out alone
    noise = judged | ((found.kind == UNREADABLE) & (p[:, ARTEFACT] >= NOISE_P))
    # noise is looked for between the flutter detector's stretches: those are a rhythm, not noise
    doubted, t = (unconfirmed == 1) & ~judged, found.t_s
    # judged on the detections listed (as the rule was chosen: noise's own lowers every median),
    # then every detection inside such a stretch is unclear, those judged noise too
    listed, unclear = ~artefact, np.zeros(len(t), bool)
    band = np.full(len(t), np.nan) if found.clarity_band is None else found.clarity_band
    full = found.features[C.FEATURES.index("clarity")]
    bands = ((full[listed], CLARITY_MIN), (band[listed], CLARITY_MIN_BAND))
    for first, last in _unclear(t[listed], found.shapes[listed], *bands):
        unclear |= (t >= first) & (t <= last)
    edges = [-np.inf, *itertools.chain.from_iterable(found.flutter), np.inf]
    noisy = [
        stretch
        for lo, hi in zip(edges[::2], edges[1::2], strict=True)
        for stretch in _too_noisy(
            *(v[(t > lo) & (t < hi)] for v in (t, noise, doubted, found.kind == UNREADABLE, unclear))
        )
    ]
    beat = ~artefact
    for a, b, *_ in [*noisy, *found.flutter]:  # no beat is listed in noise, nor in fibrillation
        beat &= (found.t_s < a) | (found.t_s > b)
    notes = list(found.notes)
    if (left_out := int(artefact.sum())) > 0:
        notes.append(f"{left_out} detection{'s' * (left_out != 1)} of noise left out")
    if (unread := int((bent & beat).sum())) > 0:
        notes.append(f"{unread} beat{'s' * (unread != 1)} in noise not classed: the dominant QRS, bent by it")
    return with_kinds(found, kind, beat, tuple(notes), noisy=noisy)


def _too_noisy(
    t: np.ndarray, artefact: np.ndarray, doubted: np.ndarray, unreadable: np.ndarray | None = None,
    unclear: np.ndarray | None = None,
) -> list[tuple[float, float, str]]:  # fmt: skip
    """Stretches of NOISY_MIN_S or longer where at least NOISY_SHARE of the detections around each
    (NOISY_BEATS either side) are artefacts, or DOUBTED_SHARE (DOUBTED_BEATS either side) are
    ``doubted`` (listed, the second opinion finding no QRS there), or that are ``unclear``
    (``_unclear``): read as noise, not as beats. Each goes on over the detections next to it that
    the noise rule marked ``unreadable``: at a burst's edges, the clean beats in the window dilute
    the share, not the noise."""
    if len(t) < 2 * NOISY_BEATS + 1:
        return []
    unclear = np.zeros(len(t), bool) if unclear is None else unclear
    noise = (_share(artefact, NOISY_BEATS) >= NOISY_SHARE) | (_share(doubted, DOUBTED_BEATS) >= DOUBTED_SHARE)
    noise |= unclear
    unreadable = np.zeros(len(t), bool) if unreadable is None else unreadable
    stretches: list[tuple[int, int]] = []
    flagged = artefact | doubted | unclear
    for a, b in zip(*runs(noise), strict=True):
        inside = a + np.flatnonzero(flagged[a:b])  # from its first doubt to its last: the clean
        a, b = (int(inside[0]), int(inside[-1]) + 1) if len(inside) else (a, a)  # beats around stay
        if b == a:
            continue
        while a > 0 and unreadable[a - 1]:
            a -= 1
        while b < len(t) and unreadable[b]:
            b += 1
        if stretches and a <= stretches[-1][1]:  # grown into the one before
            a = stretches.pop()[0]
        stretches.append((a, b))
    out = []
    for a, b in stretches:
        if t[b - 1] - t[a] >= NOISY_MIN_S:
            n, m = int(artefact[a:b].sum()), int(doubted[a:b].sum())
            detail = f"too noisy to read: of {b - a} detections, {n} were noise and {m} doubtful"
            if (u := int(unclear[a:b].sum())) > 0:
                detail += f"; {u} with a QRS barely above the noise"
            out.append((float(t[a]), float(t[b - 1]), detail))
    return out


def _share(flags: np.ndarray, h: int) -> np.ndarray:
    """Per beat, the share of ``flags`` among it and the ``h`` beats either side (none past the ends)."""
    from numpy.lib.stride_tricks import sliding_window_view as windows

    if len(flags) == 0:
        return np.zeros(0)
    return windows(np.r_[np.zeros(h), flags, np.zeros(h)].astype(float), 2 * h + 1).mean(axis=1)


def _unclear(
    t: np.ndarray, shapes: np.ndarray, *bands: tuple[np.ndarray, float]
) -> list[tuple[float, float]]:
    """Stretches (first and last beat's R, s) of UNCLEAR_MIN_S or longer where, around each beat
    (CLARITY_BEATS either side), the median clarity of one of the ``bands`` (each a clarity per
    beat and its limit) is under its limit and CLARITY_DROP under the recording's CLARITY_Q
    percentile, and the median ``_neighbour_r`` of the QRS ``shapes`` under NEIGHBOUR_R, and the
    median successive RR difference at least UNCLEAR_IRREGULAR of the median RR; a beat without a
    clarity counts as clear. The likeness and the RR are read once for all bands (the hot path)."""
    from numpy.lib.stride_tricks import sliding_window_view as windows

    bands = tuple((c, least) for c, least in bands if np.isfinite(c).any())
    if len(t) < 2 * CLARITY_BEATS + 1 or not bands:
        return []

    def around(v: np.ndarray) -> np.ndarray:
        return np.median(windows(np.pad(v, CLARITY_BEATS, mode="edge"), 2 * CLARITY_BEATS + 1), axis=1)

    rr = np.diff(t, prepend=t[0] - (t[1] - t[0]))
    doubtful = around(np.abs(np.diff(rr, prepend=rr[0]))) >= UNCLEAR_IRREGULAR * around(rr)
    doubtful &= around(_neighbour_r(shapes)) < NEIGHBOUR_R
    out = []
    for clarity, least in bands:
        limit = min(least, float(np.nanpercentile(clarity, CLARITY_Q)) - CLARITY_DROP)
        low = doubtful & (around(np.where(np.isfinite(clarity), clarity, np.inf)) < limit)
        out += [(float(t[a]), float(t[b - 1])) for a, b in zip(*runs(low), strict=True)
                if t[b - 1] - t[a] >= UNCLEAR_MIN_S]  # fmt: skip
    return out


def _neighbour_r(shapes: np.ndarray, chunk: int = 8192) -> np.ndarray:
    """Each beat's QRS (``shapes``: (beats, leads, samples), the leads together) correlated with its
    NEIGHBOURS_COMPARED neighbours either side, the best of them; in chunks (bounded memory)."""
    k, n = NEIGHBOURS_COMPARED, len(shapes)
    out = np.full(n, -1.0, np.float32)
    for start in range(0, n, chunk):
        a, b = max(0, start - k), min(n, start + chunk + k)
        s = shapes[a:b].reshape(b - a, -1).astype(np.float32)
        s -= s.mean(axis=1, keepdims=True)
        s /= np.maximum(np.linalg.norm(s, axis=1, keepdims=True), 1e-12)
        best = np.full(b - a, -1.0, np.float32)
        for d in range(1, k + 1):
            r = (s[d:] * s[:-d]).sum(axis=1)
            best[d:] = np.maximum(best[d:], r)  # with the one d before
            best[:-d] = np.maximum(best[:-d], r)  # with the one d after
        out[start : min(n, start + chunk)] = best[start - a : start - a + min(chunk, n - start)]
    return out


def with_kinds(
    found: Detected | BeatList, kind: np.ndarray, keep: np.ndarray | None = None,
    notes: tuple[str, ...] | None = None, relabel: tuple[str, np.ndarray] | None = None,
    noisy: Sequence[tuple[float, float, str]] = (),
) -> BeatList:  # fmt: skip
    """The beat list of ``found``'s beats (those ``keep`` marks) with these kinds, its RR series,
    trend and events following from them; ``relabel`` (the reader's, kept with the list) makes
    the kinds final (no supraventricular beat becomes normal inside fibrillation, nor a premature
    beat called normal supraventricular outside it: ``beat_classes.premature_conducted`` and
    ``premature_p_unlike``)."""
    keep = np.ones(len(kind), bool) if keep is None else keep
    t, kind = found.t_s[keep], kind[keep].astype(np.int8)
    fid = found.fiducials_ms[:, keep]
    features = None if found.features is None else found.features[:, keep]
    shapes = None if found.shapes is None else found.shapes[keep]
    relabels = (*getattr(found, "relabels", ()), *([relabel] if relabel else []))
    if isinstance(found, Detected):
        stretches = [("unreadable", a, b, f"no usable signal for {b - a:.0f} s") for a, b in found.unreadable]
        stretches += [(FLUTTER, a, b, flutter_detail(b - a)) for a, b in found.flutter]
    else:  # a beat list relabelled: its stretches without beats as they were said
        stretches = [(e.kind, e.start_s, e.end_s, e.detail) for e in found.events if e.kind in NO_BEATS]
    stretches = sorted([*stretches, *(("unreadable", *n) for n in noisy)], key=lambda s: s[1:])
    gaps = [(a, b) for _, a, b, _ in stretches]
    duration = found.duration_s
    rr = _rr(t, gaps)
    events = [Event(kind, a, b, detail) for kind, a, b, detail in stretches]
    has_p = np.isfinite(fid[BEAT_FIDUCIALS.index("p_on")])
    af = atrial.episodes(t, kind == NORMAL, (kind == NORMAL) | (kind == SUPRA), rr, has_p, duration)
    if not relabels:
        fibrillating = np.zeros(len(t), bool)
        for a, b in af:
            fibrillating |= (t >= a) & (t <= b)
        kind[fibrillating & (kind == SUPRA)] = NORMAL  # irregularity is the rhythm there
        if features is not None:  # and outside it, a premature beat is not (``premature_conducted``)
            conducted = (kind == NORMAL) | (kind == SUPRA)
            pr = fid[BEAT_FIDUCIALS.index("qrs_on")] - fid[BEAT_FIDUCIALS.index("p_on")]
            early = C.premature_conducted(features, rr, pr, conducted)
            early |= C.premature_p_unlike(features, rr, conducted)  # nor one with an unlike P wave
            kind[early & ~fibrillating & (kind == NORMAL)] = SUPRA
    events += [Event("atrial fibrillation", a, b, f"irregular RR without P waves for {b - a:.0f} s")
               for a, b in af]  # fmt: skip
    for which, name in ((VENTRICULAR, "ventricular"), (SUPRA, "supraventricular")):  # runs, bigeminy...
        events += [Event(*e) for e in EC.events(t, kind, rr, which, NORMAL, name)]
    events += _pauses(t, rr)
    bin_s = 10.0 if duration <= 3600 else 60.0
    trend_s, trend_bpm = _trend(t, rr, duration, bin_s)
    events = sorted(events, key=lambda e: e.start_s)
    notes = found.notes if notes is None else notes
    return BeatList(t, kind, rr, fid, tuple(events), trend_s, trend_bpm, duration, found.leads, tuple(notes),
                    features, shapes, relabels)  # fmt: skip


def flutter_detail(seconds: float) -> str:
    """What a flutter event says: the rhythm it is taken for, and what looks alike."""
    return (f"an undulation without separate beats for {seconds:.0f} s; fast polymorphic "
            "ventricular tachycardia looks alike: check the strip")  # fmt: skip


def _not_read(pages: Sequence[_Page]) -> list[str]:
    """Each lead left out of some pages: for how long and why (the reasons' headlines, longest
    first), so that the reader knows which beats were found without it."""
    by_lead: dict[str, dict[str, float]] = {}
    for page in pages:
        for lead, why in page.left_out.items():
            reasons = by_lead.setdefault(lead, {})
            reasons[Q.headline(why)] = reasons.get(Q.headline(why), 0.0) + page.seconds
    whole = sum(page.seconds for page in pages)
    notes = []
    for lead, reasons in by_lead.items():
        seconds = sum(reasons.values())
        why = ", ".join(f"{k} {_minutes(v)}" if len(reasons) > 1 else k
                        for k, v in sorted(reasons.items(), key=lambda kv: -kv[1]))  # fmt: skip
        span = "throughout" if seconds >= whole else f"for {_minutes(seconds)} of {_minutes(whole)}"
        notes.append(f"{lead}{NOT_READ}{span} ({why})")
    return notes


def _minutes(seconds: float) -> str:
    """A duration in whole minutes (pages are a minute long), or seconds under one."""
    return f"{seconds:.0f} s" if seconds < 60 else f"{seconds / 60:.0f} min"


def _unreadable(pages: list[_Page]) -> list[tuple[float, float]]:
    """The pages' unreadable stretches, those that meet merged."""
    out: list[tuple[float, float]] = []
    for a, b in (gap for p in pages for gap in p.unreadable):
        if out and out[-1][1] >= a - 1e-9:
            out[-1] = (out[-1][0], b)
        else:
            out.append((a, b))
    return out


def _pauses(t: np.ndarray, rr: np.ndarray) -> list[Event]:
    long = np.flatnonzero(rr > PAUSE_S * 1000)
    return [
        Event("pause", float(t[i - 1]), float(t[i]), f"{rr[i] / 1000:.1f} s without a beat") for i in long
    ]


def _trend(t: np.ndarray, rr: np.ndarray, duration: float, bin_s: float) -> tuple[np.ndarray, np.ndarray]:
    """Heart rate per bin, of the RR intervals into the beats in it (``intervals.heart_rate``, the
    measurements' definition: a 10 s recording's one bin gives the measured HR)."""
    edges = np.arange(0.0, duration + bin_s, bin_s)
    centres = (edges[:-1] + edges[1:]) / 2
    bpm = np.full(len(centres), np.nan)
    ok = np.isfinite(rr)
    idx = np.digitize(t[ok], edges) - 1
    order = np.argsort(idx, kind="stable")  # each bin's RRs together, in their order (a day: 1,440 bins)
    idx, inside = idx[order], rr[ok][order]
    bins = np.unique(idx)
    starts, ends = np.searchsorted(idx, bins), np.searchsorted(idx, bins, side="right")
    for i, a, b in zip(bins, starts, ends, strict=True):
        if 0 <= i < len(bpm):
            bpm[i] = I.heart_rate(inside[a:b])
    return centres, bpm
