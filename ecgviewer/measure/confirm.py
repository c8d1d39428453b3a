"""A second opinion on the beat list's doubtful detections: a delineator taught electrode motion
(``training/supervised/delineator.py``, recipe ``ludb12-motion2``) reads the stretch around each
detection whose QRS is unlike the page's dominant one, and says whether it too finds a QRS there.

Electrode motion makes QRS-like deflections that the shipped delineator takes for beats (EC57's
noise stress test: hundreds invented at 12 dB). The motion-taught delineator does not, but alone
it also drops fast broad complexes (record 205's ventricular tachycardia:
``training/reports/EC57-ludb12-motion2-refit.md``). Asked only where the first one doubts, its
answer is one more feature of the beat (``beat_classes.OPINION``) for the classifier to weigh with
the others (timing, likeness to the neighbours, noise). On MIT-BIH DS1 with synthetic motion at
12 dB, it found no QRS at 11,248 of the 11,808 false detections and at 131 of the 50,967 reference
beats (session 87's study, both delineators over every record).

The classifier, which learnt from muscle noise and baseline wander, still calls most detections
in motion ventricular (synthetic motion at 6 dB on record 119: 143 of 149 invented beats). So its
doubt is also a verdict where nothing else speaks for the beat (``not_beats``): an unconfirmed
detection whose QRS is unlike every confirmed detection's around it, and unlike the detection just
before and just after it, is not a beat. An ectopic focus repeats its shape (a couplet, a run,
bigeminy, the same PVC minutes apart), and a run's beats resemble their neighbours even where the
second opinion doubts them all; motion transients, where the noise is dense, resemble one another
but no confirmed beat, and seldom the detection next to them (DS1, cross-validated by record,
against keeping a detection like two others anywhere around it: of the detections kept so, none
of the reference beats clean or in muscle noise, 1 in synthetic motion at 12 dB and 1 at 6 dB;
false detections listed 52 -> 49 clean, 1,044 -> 950 in motion at 6 dB; session 97). With the
beat list's stretches of doubted detections read as noise (``rhythm.DOUBTED_SHARE``), EC57's own
electrode motion at 12 dB invents 131 beats in record 118 and 134 in 119, where it invented 185 and
190 (``training/reports/NOISE_STRESS.md``).
"""

from __future__ import annotations

from functools import cache

import numpy as np

from ecgviewer.measure import beat_classes as C
from ecgviewer.measure import beats as B
from ecgviewer.measure import signal
from ecgviewer.measure.delineate import Delineator

SUSPECT_R = 0.9  # a beat whose QRS correlates less with the dominant one is asked about (DS1: 14 %)
CONTEXT_S = 1.5  # read either side of it: the delineator learnt from 2 s crops
CONFIRM_MS = 100.0  # a QRS of the second opinion within this of the beat's R confirms it
LENGTH_STEP = 256  # samples: the lengths a stretch is read at are multiples of this (``_length``)


@cache
def bundled() -> Delineator:
    """The shipped second opinion in its 8-bit form, loaded once: every beat list asks it."""
    return Delineator.second_opinion().int8()


def unconfirmed(
    x: np.ndarray, r: np.ndarray, qrs_r: np.ndarray, second: Delineator, kept: np.ndarray | None = None
) -> np.ndarray:
    """Per beat at R samples ``r`` of the prepared (leads, n) page ``x``: 1 where the second
    delineator finds no QRS near a beat whose QRS correlation with the dominant ``qrs_r`` is under
    SUSPECT_R, else 0 (a beat like the dominant one is not asked about). A stretch holding no beat
    ``kept`` marks is not read: a beat list's page is read with margins whose beats the next page
    lists, and the last of them, cut by the page's end, is unlike every other beat (a call a page;
    0 for the beats of a stretch not read).
    Such a beat still widens a kept one's stretch it overlaps, as it always has: their answers stay
    as they were (a stretch starting elsewhere labels a few beats otherwise)."""
    out = np.zeros(len(r), dtype=np.float32)
    with np.errstate(invalid="ignore"):  # NaN: not measured, asked
        asked = np.flatnonzero(~(qrs_r >= SUSPECT_R))
    if len(asked) == 0 or x.shape[0] == 0:
        return out
    context, tol = round(CONTEXT_S * signal.FS), round(CONFIRM_MS * signal.FS / 1000)
    n = x.shape[-1]
    starts, ends = np.maximum(r[asked] - context, 0), np.minimum(r[asked] + context, n)
    # overlapping stretches read once, and those of one length together: fewer calls cost less
    group = np.r_[0, np.cumsum(starts[1:] > np.maximum.accumulate(ends)[:-1])]
    wanted = np.ones(len(asked), bool) if kept is None else kept[asked]
    spans = {}
    for g in np.unique(group[wanted]):
        a, b = int(starts[group == g].min()), int(ends[group == g].max())
        if a + (read := _length(b - a)) <= n:  # the same labels where R can be (see _length)
            b = a + read
        spans[g] = (a, b)
    for length in dict.fromkeys(b - a for a, b in spans.values()):  # in order, for the tests' stand-ins
        of_length = [g for g, (a, b) in spans.items() if b - a == length]
        labelled = second.labels_of([x[:, spans[g][0] : spans[g][1]] for g in of_length])
        for g, labels in zip(of_length, labelled, strict=True):
            mine = asked[group == g]
            on, off = B.qrs_runs(labels, np.ones(x.shape[0], bool))
            k = r[mine] - spans[g][0]
            # a QRS run [on, off) reaching within tol of R
            near = (on[None, :] <= k[:, None] + tol) & (off[None, :] > k[:, None] - tol)
            out[mine] = ~near.any(axis=1)
    return out


def _length(n: int) -> int:
    """A stretch of ``n`` samples read as one of a few lengths: multiples of LENGTH_STEP, four to
    eight a doubling (at most a quarter more signal, or LENGTH_STEP more). The 8-bit engine builds
    its kernels for each new input length (20-35 ms, against 4 ms for a 3 s stretch once built), and
    the stretches around doubted beats vary: in MIT-BIH 203's beat list the second opinion took
    4.7 s of 6.4 s, 3.2 s of it in 88 calls at lengths it read once. The stretch grows to the right
    only, keeping the pooling's pairs, and its R peaks lie CONTEXT_S before its own end, beyond the
    network's reach (176 samples), so their labels are the same."""
    m = -(-n // LENGTH_STEP)
    step = 1 << max(0, m.bit_length() - 3)
    return LENGTH_STEP * step * -(-m // step)


def not_beats_in(x: np.ndarray, r: np.ndarray, present: np.ndarray) -> np.ndarray:
    """``not_beats`` for one span read alone (the 10 s measurement; the beat list asks on its pages):
    per detection at R samples ``r`` of the prepared (leads, n) ``x``, the second opinion's doubt
    made a verdict. Its QRS likeness is to the median of the span's beats that are not premature.
    The second opinion is loaded (a second) only where a detection is unlike them."""
    if len(r) < 3 or not present.any():
        return np.zeros(len(r), dtype=bool)
    dominant = ~B.premature(np.diff(r).astype(float))
    # the QRS likeness only: width and noise, which the classifier's other features take, do not enter it
    likeness = C.morphology(x, r, present, np.full(len(r), np.nan), dominant, np.ones(len(r)))
    qrs_r = likeness[C.MORPHOLOGY.index("qrs_r")]
    if (qrs_r >= SUSPECT_R).all():  # none asked (NaN, not measured, is asked)
        return np.zeros(len(r), dtype=bool)
    doubted = unconfirmed(x[present], r, qrs_r, bundled())
    return not_beats(doubted, B.qrs_shapes(x, r, present))


def not_beats(unconfirmed: np.ndarray, shapes: np.ndarray, around: int = C.LONG) -> np.ndarray:
    """Per beat: unconfirmed (``unconfirmed``), and its QRS (``shapes``: (beats, leads, samples))
    correlating under SUSPECT_R with every confirmed detection's within ``around`` beats either
    side and with both neighbours'. On DS1, cross-validated by record (session 91), the first form
    (any likeness kept a detection): QRS +P 99.85 -> 99.89 and Se 99.86 -> 99.83 clean; +P 89.1 ->
    96.8 (Se 98.7 -> 94.9, its stretches read as noise) in synthetic motion at 6 dB. Every
    unconfirmed detection a verdict instead cost clean Se 0.07 (record 205's tachycardia, whose
    beats are alike). Session 125: in EC57's electrode motion at 12 dB most invented beats that
    stay are unconfirmed and kept by one confirmed detection alike, itself noise (116 of 700 in
    118, 9 of them kept by a true beat); needing two such, or three, left out 30 or 56 of 118's 130
    invented beats and 43 or 60 of 119's 139, but on DS1 with synthetic motion (cross-validated by
    record, the development set) it took true beats about one for one with false ones (6 dB: 41
    for 50; 12 dB: 9 for 5), and 29 in muscle noise at 0 dB: not done."""
    out = np.zeros(len(unconfirmed), dtype=bool)
    asked = np.flatnonzero(unconfirmed == 1)
    if len(asked) == 0:
        return out
    u = B.unit_shapes(shapes)
    kept = np.zeros(len(asked), dtype=bool)
    for k in range(1, around + 1):  # a diagonal of the neighbours' correlations at a time
        for other in (asked - k, asked + k):
            ok = (other >= 0) & (other < len(u))
            near = np.einsum("ij,ij->i", u[asked[ok]], u[other[ok]]) >= SUSPECT_R
            kept[ok] |= near & ((unconfirmed[other[ok]] == 0) | (k == 1))
    out[asked] = ~kept
    return out
