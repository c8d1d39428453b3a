"""Each beat's class from what a Holter reader weighs: its QRS, P and T against the patient's own
dominant beat on the same page, its width, its noise, and its timing against the RR intervals
around it. The features are relative to the patient (de Chazal et al., IEEE TBME 2004;51:1196:
inter-patient classes generalise when beats are compared with the patient's own), and small
multilayer perceptrons, with gradient-boosted trees beside them where the classifier was fitted
with trees, fitted on MIT-BIH DS1 (``python -m training beat-classifier``), weigh them.

The perceptron's forward pass is three matrix products in NumPy: the beat list runs it on every
beat of a 24 h recording, and torch's per-call overhead would cost more than the arithmetic.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from ecgviewer.forest import Forest
from ecgviewer.measure import beats as B
from ecgviewer.measure import intervals as I
from ecgviewer.measure import signal

# Per beat, against the page's dominant beat (the median of its beats that are not premature):
MORPHOLOGY = (
    "qrs_r",  # QRS correlation (R +- beats.QRS_HALF_MS, the leads together)
    "qrs_r_min",  # the lowest of the leads' QRS correlations
    "beat_r",  # correlation over P, QRS and T (quality.NOISE_WINDOW_MS)
    "p_r",  # correlation of the P-wave window (P_WINDOW_MS)
    "p_shape_r",  # the same, each lead about its own mean: the P wave's shape, not the leads' offsets
    "t_before_r",  # correlation of the ST-T before the beat with the dominant beat's (a P' hidden in it)
    "distance",  # RMS difference of the QRS over the dominant QRS's RMS
    "amplitude",  # log of the QRS's peak-to-peak over the dominant's
    "amplitude_min",  # the same in the lead where it is lowest (a heartbeat is seen in every lead)
    "qrs_s",  # the delineated QRS duration (s)
    "wider_s",  # that minus the dominant beats' median duration
    "noise",  # log of the high-frequency noise outside the QRS over the page's median
    "clarity",  # log of the dominant QRS's peak-to-peak (mV) over that noise: low where noise drowns beats
)
# Per beat, a second delineator's (``confirm``): 1 where one taught electrode motion finds no QRS
# at a beat unlike the dominant one, 0 where it does or the beat is like the dominant one:
OPINION = ("unconfirmed",)
# Per beat, from the R-R series (NaN across unreadable stretches):
RHYTHM = (
    "pre",  # log of the RR before the beat over the local median RR (LOCAL beats either side)
    "post",  # log of the RR after it over the local median
    "pre_post",  # log of the RR before over the RR after (compensatory pause)
    "pre_long",  # log of the RR before over the median RR of LONG beats either side
    "local_s",  # the local median RR (s)
    "irregular",  # the local RR series' RMSSD over its mean (intervals.nrmssd): AF's irregularity
    "irregular_long",  # the same over LONG beats either side
    "p_share",  # the share of the LOCAL beats either side with a delineated P wave: sinus rhythm or not
    "has_p",  # a delineated P wave before the QRS (1) or not (0)
)
LEARNT = MORPHOLOGY + OPINION + RHYTHM  # what the perceptron weighs
# Per beat, against the recording's usual beat (the median QRS of its beats that are not premature,
# over the whole recording), for the guard after the perceptron (``unlike_usual``): a page that is
# all one ectopic rhythm (idioventricular rhythm, a long run of ventricular tachycardia) makes that
# rhythm its dominant beat, which MORPHOLOGY then finds alike (MIT-BIH 207's escape beats: QRS r
# 0.99 against their page's, -0.6 against the recording's usual one). Not taught to the perceptron:
# fitted on DS1 by record, it saw too few such pages to learn from (session 108: taught, it called
# fewer of 207's escape beats ventricular, not more).
USUAL = (
    "usual_r",  # the QRS correlation with the usual QRS (``usual``), the leads read together
    "usual_wider_s",  # the QRS duration minus the usual beats' median duration
)
FEATURES = LEARNT + USUAL
# The perceptron sees each feature and its difference from the recording's median: what is usual
# for this patient (no P wave seen anywhere, a wide QRS throughout) is not a class.
INPUTS = LEARNT + tuple(f"{f}-median" for f in LEARNT)
CLASSES = ("normal", "supraventricular", "ventricular", "artefact")  # artefact: not a beat
FLOOR = 1e-4  # each kind of model's probability is kept this far from 0 before their logs are averaged
LOCAL, LONG = 4, 32
WIDE_QRS_S = 0.12  # AHA/ACCF/HRS 2009: a QRS this wide is not conducted normally ...
WIDER_S = 0.04  # ... nor this much wider than the patient's dominant (or usual) QRS ...
OTHER_R = 0.8  # ... with another shape (r below this); 0.04 s and 0.8 checked by DS1 cross-validation
P_WINDOW_MS = (-250.0, -60.0)
# ``t_before_r``: an atrial premature beat's early P' often falls in the T wave before it, where no
# P wave is delineated; a reader looks for the T wave it deforms. The previous beat's ST-T, from just
# past its QRS (QRS_HALF_MS and 20 ms) to this beat's P window's end, against the dominant beat's at
# the same lags; a ventricular premature beat leaves it as it was. Not measured where under 40 ms of
# it remain, nor after a beat whose QRS is unlike the dominant one (an ectopic beat's ST-T is its
# own). Set before any fit (session 145): on DS1's detections after a dominant-like beat, 209's atrial
# premature beats called normal correlate 0.80 (median) against its normal beats' 0.93, 201's
# aberrated ones called ventricular 0.88 against its ventricular beats' 0.97.
T_BEFORE_FROM_MS, T_BEFORE_MIN_MS = 80.0, 40.0
# ``amplitude_min``: electrode motion and muscle noise are local to an electrode, so a detection they
# make stands out in one lead and barely in another, where a heartbeat is seen in each lead at its
# usual size. On DS1's detections (session 144, each lead's QRS over its page's median), under e^-1
# in some lead: 260 of 50,996 reference beats and 618 of 1,079 detections of no beat in the clean
# records; 270 and 15,059 of 25,509 with synthetic motion at 6 dB. A QRS, and the dominant one, under
# this share of the largest lead's dominant QRS count as that share: a nearly isoelectric lead says
# nothing, and the feature stops at log(AMPLITUDE_FLOOR). Set before any fit, not chosen
AMPLITUDE_FLOOR = 0.1
# A beat that matches the dominant one (r of OTHER_R or more) within this shift is compared there:
# the R found may be another peak of the same QRS (an RSR' complex's R' or an RS complex's S, 20-40
# ms apart). One that matches nowhere is compared at its own R, where noise and ectopic beats keep
# their unlikeness (a best match over shifts would make every shape look a little like the dominant).
ALIGN_MS = 40.0
# A supraventricular run (an atrial run, paroxysmal SVT) starts abruptly and goes on fast and
# regular: its beats are premature against the sinus rhythm before it, not against each other, so
# the RR features above (against the neighbours) miss all but its first beat, and often that. A run:
RUN_RATIO = 0.8  # RRs at most this share of the sinus NN interval before it (20 % premature) ...
RUN_STEADY = 0.2  # ... each within this log-ratio of the one before (regular: fibrillation is not) ...
RUN_MIN = 3  # ... three beats or more (a run of SVEBs); RUN_RATIO 0.8 and 0.9 compared by DS1 LORO
# One beat that breaks a run (a longer cycle as an SVT warms up, or one irregular cycle inside it)
# does not end it where the two beats after it are fast again and the second steady: sinus
# rhythm's return is slower than that. Compared with ending the run there by DS1 LORO, three seeds.
PR_STEADY_MS = 10.0  # ms: fibrillatory waves read as P waves fall anywhere (LUDB 129, 173 at 15 ms)
# An atrial premature beat's P' is early and unlike the sinus P waves around it; sinus arrhythmia
# speeds up gradually and keeps its P wave (``premature_p_unlike``; all set looking at DS1's misses
# and LUDB's fibrillation record 173, then compared by DS1 LORO):
P_EARLY_RATIO = 0.9  # at most this share of the local cycle (10 % premature) ...
P_UNLIKE_R = 0.5  # ... its P window correlating under this with the page's template ...
P_ALIKE_AROUND = 0.6  # ... where the beats around correlate this much (their median) ...
RR_STEADY_AROUND = 0.1  # ... and their RRs are steady (median absolute deviation over median) ...
CLEAR_P = 3.0  # ... the QRS's clarity at least this (e^3: 20 times the noise)
RUN_SINUS = 8  # the sinus reference: the median of the last 8 NN intervals (both beats normal)
# Where the last NN interval lies more than RUN_SINUS beats back, it says nothing of the rhythm the
# run interrupts: the reference is then the median of the RUN_SINUS RRs before the run, whatever
# their beats. MIT-BIH 207's supraventricular tachycardia came 100 s after flutter waves read as
# normal beats (a 0.31 s "sinus" NN), and only its first beat was called supraventricular; the RR
# just before the run instead made 223's sinus rhythm after a compensatory pause a run (session 140).


def _correlation(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Pearson r of each row of ``a`` (beats, n) with ``b`` (n,); NaN-free inputs."""
    ac, bc = a - a.mean(axis=-1, keepdims=True), b - b.mean(axis=-1, keepdims=True)
    norm = np.linalg.norm(ac, axis=-1) * np.linalg.norm(bc, axis=-1)
    return (ac * bc).sum(axis=-1) / np.maximum(norm, 1e-12)


def morphology(
    x: np.ndarray, r: np.ndarray, present: np.ndarray, qrs_s: np.ndarray, dominant: np.ndarray,
    noise: np.ndarray,
) -> np.ndarray:  # fmt: skip
    """(len(MORPHOLOGY), beats) of the prepared (leads, n) page ``x``, R at ``r`` (contract
    samples); ``dominant`` marks the beats whose median is the page's template."""
    out = np.full((len(MORPHOLOGY), len(r)), np.nan, dtype=np.float32)
    if not present.any() or len(r) == 0:
        return out
    ms = lambda v: round(abs(v) * signal.FS / 1000)  # noqa: E731
    pre, post = ms(-250.0), ms(450.0)
    half = ms(B.QRS_HALF_MS)
    qrs, p = slice(pre - half, pre + half), slice(pre - ms(P_WINDOW_MS[0]), pre - ms(P_WINDOW_MS[1]))
    flat = lambda a, s: a[..., s].reshape(*a.shape[:-2], -1)  # noqa: E731  (leads side by side)
    # each lead about its own mean first: where the wave is small (a P wave of 0.1 mV), the leads'
    # offsets from one another would be most of the variance that a correlation over the leads
    # side by side follows (``p_r``: an atrial premature beat's P' read as alike, session 146)
    centred = lambda a, s: flat(a[..., s] - a[..., s].mean(axis=-1, keepdims=True), slice(None))  # noqa: E731
    windows = lambda at: np.nan_to_num(B.windows(x[present], at, pre, post))  # noqa: E731  (0 past the ends)
    median = lambda w: np.median(w[dominant] if dominant.sum() >= 3 else w, axis=0)  # noqa: E731
    w = windows(r)  # (beats, leads, n)
    shifts = np.arange(-ms(ALIGN_MS), ms(ALIGN_MS) + 1)
    tq = flat(median(w), qrs)
    at_shifts = sliding_window_view(
        w[..., qrs.start + shifts[0] : qrs.stop + shifts[-1]], qrs.stop - qrs.start, -1
    )
    r_at = _correlation(np.moveaxis(at_shifts, 2, 0).reshape(len(shifts), len(r), -1), tq)  # (shifts, beats)
    best = np.argmax(r_at, axis=0)
    shift = np.where(r_at[best, np.arange(len(r))] >= OTHER_R, shifts[best], 0)
    at = r + shift
    w = windows(at)  # each beat where it matches, the template from the matched beats
    template = median(w)
    wq, tq = flat(w, qrs), flat(template, qrs)
    per_lead = _correlation(w[..., qrs], template[:, qrs])  # (beats, leads)
    width = float(np.nanmedian(qrs_s[dominant])) if np.isfinite(qrs_s[dominant]).any() else np.nan
    spans, template_spans = np.ptp(w[..., qrs], axis=-1), np.ptp(template[:, qrs], axis=-1)
    # a lead's QRS and its dominant one are read as at least that share of the largest lead's: a
    # nearly isoelectric lead's ratio would be its noise's
    floor = max(AMPLITUDE_FLOOR * float(template_spans.max()), 1e-4)
    qrs_r = _correlation(wq, tq)
    like = qrs_r >= OTHER_R
    features = {
        "qrs_r": qrs_r,
        "qrs_r_min": per_lead.min(axis=1),
        "beat_r": _correlation(flat(w, slice(None)), flat(template, slice(None))),
        "p_r": _correlation(flat(w, p), flat(template, p)),
        "p_shape_r": _correlation(centred(w, p), centred(template, p)),
        "t_before_r": _t_before(w[:, :, pre:], template[:, pre:], at, r - ms(P_WINDOW_MS[1]), like),
        "distance": np.sqrt(((wq - tq) ** 2).mean(axis=1)) / max(float(np.sqrt((tq**2).mean())), 1e-6),
        "amplitude": np.log(np.maximum(spans.mean(axis=1), 1e-4) / max(float(template_spans.mean()), 1e-4)),
        "amplitude_min": np.log(np.maximum(spans, floor) / np.maximum(template_spans, floor)).min(axis=1),
        "qrs_s": qrs_s,
        "wider_s": qrs_s - width,
        "noise": np.log(np.maximum(noise, 1e-6) / max(float(np.median(noise)), 1e-6)),
        "clarity": np.log(max(float(template_spans.mean()), 1e-4) / np.maximum(noise, 1e-6)),
    }
    for k, name in enumerate(MORPHOLOGY):
        out[k] = features[name]
    return out


def _t_before(
    after: np.ndarray, template: np.ndarray, at: np.ndarray, until: np.ndarray, like: np.ndarray
) -> np.ndarray:
    """``t_before_r`` per beat: ``after`` (beats, leads, n) each beat's window from its R at ``at``,
    ``template`` (leads, n) the dominant beat's; the previous beat's window is read up to ``until``
    (each beat's P window's end, contract samples). NaN for the first beat, a short span, and after
    a beat unlike the dominant one (``like``: its QRS; an ectopic beat's ST-T is its own)."""
    ms = lambda v: round(v * signal.FS / 1000)  # noqa: E731
    out = np.full(len(at), np.nan, dtype=np.float32)
    if len(at) < 2:
        return out
    lo = ms(T_BEFORE_FROM_MS)
    seg, tmpl = after[:-1, :, lo:], template[None, :, lo:]
    stop = until[1:] - at[:-1] - lo  # samples of the previous beat's window before this beat's P window ends
    mask = (np.arange(seg.shape[-1]) < stop[:, None])[:, None, :]  # (beats - 1, 1, n)
    count = np.maximum(mask.sum(axis=(1, 2)) * seg.shape[1], 1)
    centred = [
        (v - (v * mask).sum(axis=(1, 2), keepdims=True) / count[:, None, None]) * mask for v in (seg, tmpl)
    ]
    norm = np.sqrt((centred[0] ** 2).sum(axis=(1, 2)) * (centred[1] ** 2).sum(axis=(1, 2)))
    r = (centred[0] * centred[1]).sum(axis=(1, 2)) / np.maximum(norm, 1e-12)
    out[1:] = np.where((stop >= ms(T_BEFORE_MIN_MS)) & like[:-1], r, np.nan)
    return out


USUAL_BEATS = 4000  # the usual QRS is the median of this many beats spread over the recording
USUAL_SHIFT_MS = 20.0  # a beat matched within this shift, as ALIGN_MS (the kept shapes span -80..120 ms)
USUAL_CHUNK = 4096  # beats compared at once: memory bounded whatever the length


def usual(shapes: np.ndarray, pre: np.ndarray, qrs_s: np.ndarray) -> np.ndarray:
    """(len(USUAL), beats) of a whole recording: each beat's QRS (``shapes``: (beats, leads,
    beats.SHAPE_N), zero in a lead not read there) against the recording's usual QRS, over the leads
    read at that beat, and its QRS duration ``qrs_s`` against theirs; ``pre``: the beats' RHYTHM
    ``pre`` (NaN: not known), the usual beats being those not premature (``beats.PREMATURE``).
    Matched within USUAL_SHIFT_MS as ``morphology`` matches."""
    n = len(shapes)
    out = np.full((len(USUAL), n), np.nan, dtype=np.float32)
    if n < 3:
        return out
    x = shapes  # float16, as kept: each chunk in float32 only when compared (a day: 100,000 beats)
    read = (x != 0).any(axis=-1)  # (beats, leads)
    with np.errstate(invalid="ignore"):
        pick = np.flatnonzero(~(np.asarray(pre) < np.log(B.PREMATURE)))
    pick = pick if len(pick) >= 3 else np.arange(n)
    pick = pick[np.unique(np.linspace(0, len(pick) - 1, min(len(pick), USUAL_BEATS)).astype(int))]
    if np.isfinite(qrs_s[pick]).any():
        out[1] = qrs_s - np.nanmedian(qrs_s[pick])
    template = np.stack([
        np.median(x[pick[read[pick, lead]], lead].astype(np.float32), axis=0)
        if read[pick, lead].any() else np.zeros(x.shape[-1], np.float32)
        for lead in range(x.shape[1])
    ])  # fmt: skip
    s = round(USUAL_SHIFT_MS * signal.FS / 1000)
    core = slice(s, x.shape[-1] - s)
    for leads in np.unique(read, axis=0):  # each set of leads read, compared over those
        if not leads.any():
            continue
        which = np.flatnonzero((read == leads).all(axis=1))
        t = template[leads, core].reshape(-1)
        t = (t - t.mean()) / max(float(np.linalg.norm(t - t.mean())), 1e-12)
        for a in range(0, len(which), USUAL_CHUNK):
            rows = which[a : a + USUAL_CHUNK]
            chunk = x[np.ix_(rows, np.flatnonzero(leads))].astype(np.float32)
            at = sliding_window_view(chunk, core.stop - core.start, -1)
            v = np.moveaxis(at, 2, 1).reshape(len(rows), 2 * s + 1, -1)  # (beats, shifts, leads x samples)
            # Pearson r as _correlation, without centring each window: t is centred, so v's mean drops out
            spread = np.einsum("bsk,bsk->bs", v, v) - v.sum(axis=-1) ** 2 / v.shape[-1]
            r = (v @ t) / np.sqrt(np.maximum(spread, 1e-24))  # (beats, shifts)
            best = r.max(axis=1)
            out[0, rows] = np.where(best >= OTHER_R, best, r[:, s])
    return out


def _around(v: np.ndarray, h: int, own: bool = False) -> np.ndarray:
    """(len(v), 2h or 2h + 1) windows of ``h`` values either side of each (itself only if
    ``own``), NaN past the ends."""
    padded = np.r_[np.full(h, np.nan), v, np.full(h, np.nan)]
    view = sliding_window_view(padded, 2 * h + 1)
    return view if own else np.delete(view, h, axis=1)


def rhythm(rr_ms: np.ndarray, has_p: np.ndarray) -> np.ndarray:
    """(len(RHYTHM), beats) from every beat's RR to the previous one (ms, NaN where unknown) and
    whether each has a P wave."""
    rr = np.asarray(rr_ms, dtype=np.float64) / 1000.0
    if len(rr) == 0:
        return np.zeros((len(RHYTHM), 0), np.float32)
    after = np.r_[rr[1:], np.nan]
    has_p = np.asarray(has_p, dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # a lone beat has no neighbours: NaN
        local, long = (np.nanmedian(_around(rr, h), axis=1) for h in (LOCAL, LONG))
        p_share = np.nanmean(_around(has_p, LOCAL), axis=1)
        out = np.stack([
            np.log(rr / local), np.log(after / local), np.log(rr / after), np.log(rr / long), local,
            I.nrmssd(_around(rr, LOCAL, own=True), axis=1), I.nrmssd(_around(rr, LONG, own=True), axis=1),
            p_share, has_p,
        ])  # fmt: skip
    return out.astype(np.float32)


def not_conducted(features: np.ndarray) -> np.ndarray:
    """Per beat: a QRS of at least WIDE_QRS_S, WIDER_S wider than the page's dominant QRS, and
    correlating under OTHER_R with it, which normal conduction does not give. A guard on the
    perceptron, which has seen few such beats at a sinus beat's timing and may extrapolate."""
    f = {name: features[FEATURES.index(name)] for name in ("qrs_s", "wider_s", "qrs_r")}
    with np.errstate(invalid="ignore"):  # NaN: not measured, not wide
        return (f["qrs_s"] >= WIDE_QRS_S) & (f["wider_s"] >= WIDER_S) & (f["qrs_r"] < OTHER_R)


def like_usual(features: np.ndarray) -> np.ndarray:
    """Per beat: ``not_conducted``'s mirror, against the page's dominant QRS and the recording's
    usual one alike: a QRS under WIDE_QRS_S, less than WIDER_S wider than both, correlating OTHER_R
    or more with the usual QRS: conducted, whatever the perceptron called it. A page crowded with
    ventricular and fusion beats (MIT-BIH 208) or fibrillation's varying beats (203) bends its
    dominant beat, against which the perceptron then finds the patient's usual beats unlike."""
    f = {name: features[FEATURES.index(name)] for name in ("qrs_s", "wider_s", *USUAL)}
    with np.errstate(invalid="ignore"):  # NaN: not measured, not narrow nor alike
        narrow = (f["qrs_s"] < WIDE_QRS_S) & (f["wider_s"] < WIDER_S) & (f["usual_wider_s"] < WIDER_S)
        return narrow & (f["usual_r"] >= OTHER_R)


def unlike_usual(features: np.ndarray) -> np.ndarray:
    """Per beat: ``not_conducted`` against the recording's usual QRS (USUAL) instead of its page's
    dominant one, with no P wave before it: a page all of such beats (idioventricular rhythm) makes
    them its dominant beat; with its P wave such a beat may be conducted (rate-dependent bundle
    branch block), which the perceptron weighs."""
    f = {name: features[FEATURES.index(name)] for name in ("qrs_s", "has_p", *USUAL)}
    with np.errstate(invalid="ignore"):  # NaN: not measured, not wide
        wide = (f["qrs_s"] >= WIDE_QRS_S) & (f["usual_wider_s"] >= WIDER_S)
        return wide & (f["usual_r"] < OTHER_R) & (f["has_p"] == 0)


def _after_alike(features: np.ndarray, conducted: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per beat: its QRS like the page's dominant one (r of OTHER_R or more), and the beat before
    conducted and like it too (after an interpolated ventricular beat the sinus beat comes early
    against it, and noise may have the ventricular beat called normal)."""
    with np.errstate(invalid="ignore"):  # NaN: not measured, not alike
        like = features[FEATURES.index("qrs_r")] >= OTHER_R
    return like, np.r_[False, (np.asarray(conducted, bool) & like)[:-1]][: len(like)]


def _early(rr: np.ndarray, k: np.ndarray, ratio: float) -> np.ndarray:
    """Whether the beats ``k`` come at most ``ratio`` of their local cycle (the median of the
    LOCAL RRs (ms) either side) after the beat before."""
    with np.errstate(invalid="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # no RR around: not early
        return rr[k] <= ratio * np.nanmedian(_around(rr, LOCAL)[k], axis=1)


def premature_conducted(
    features: np.ndarray, rr_ms: np.ndarray, pr_ms: np.ndarray, conducted: np.ndarray
) -> np.ndarray:
    """Per beat of a beat list (its RRs and PR intervals, ms, NaN where no P wave was found, and
    whether each beat is called conducted): a QRS like the page's dominant one with no P wave
    before it, at most RUN_RATIO of the local cycle after a beat conducted and like it
    (``_after_alike``), in sinus rhythm: P waves before at least half the LOCAL beats either side,
    at a steady PR (their median absolute deviation at most PR_STEADY_MS; fibrillatory waves read
    as P waves fall at any distance from the QRS). A premature atrial or junctional beat, which
    sinus arrhythmia does not give. For the beat list outside atrial fibrillation
    (``rhythm.with_kinds``): the perceptron met irregular rhythm in DS1 almost only in
    fibrillation, where premature beats are normal, and called MIT-BIH 201's atrial premature
    beats in sinus rhythm so. The rhythm is the list's own, without the detections left out as
    noise (the features' RRs still have them). Windows are taken only around the candidates: a
    day's list has about 100,000 beats."""
    pr = np.asarray(pr_ms, dtype=np.float64)
    out = np.zeros(len(pr), bool)
    like, after = _after_alike(features, conducted)
    k = np.flatnonzero(like & ~np.isfinite(pr) & after)
    if len(k) == 0:
        return out
    around = _around(pr, LOCAL)[k]
    with np.errstate(invalid="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # no P wave around: not sinus rhythm
        spread = np.nanmedian(np.abs(around - np.nanmedian(around, axis=1, keepdims=True)), axis=1)
        sinus = (np.isfinite(around).sum(axis=1) >= LOCAL) & (spread <= PR_STEADY_MS)
    out[k] = _early(np.asarray(rr_ms, dtype=np.float64), k, RUN_RATIO) & sinus
    return out


def premature_p_unlike(features: np.ndarray, rr_ms: np.ndarray, conducted: np.ndarray) -> np.ndarray:
    """Per beat of a beat list (as ``premature_conducted``'s): a QRS like the page's dominant one
    after a beat conducted and like it (``_after_alike``), at most P_EARLY_RATIO of the local
    cycle, its P window unlike the page's template (r under P_UNLIKE_R) where the LOCAL beats
    either side have P waves alike (their median r at least P_ALIKE_AROUND) and a steady rhythm
    (their RRs, the pause after it left out, within RR_STEADY_AROUND of their median by median
    absolute deviation), the QRS standing clear of the noise (``clarity`` at least CLEAR_P): an
    atrial premature beat's early, abnormal P' interrupting sinus rhythm, which the perceptron took
    for a sinus beat where it is only mildly premature (MIT-BIH 118, 220 and 223). Fibrillation
    too short to make an episode (LUDB 173, 10 s) is irregular around, its P windows unlike; noise
    makes P windows unlike and jitters RRs, hence the clarity."""
    like, after = _after_alike(features, conducted)
    with np.errstate(invalid="ignore"):  # NaN: not measured, not unlike nor clear
        p_r = features[FEATURES.index("p_r")].astype(np.float64)
        clear = features[FEATURES.index("clarity")] >= CLEAR_P
        k = np.flatnonzero(like & after & clear & (p_r < P_UNLIKE_R))
    out = np.zeros(len(like), bool)
    if len(k) == 0:
        return out
    rr = np.asarray(rr_ms, dtype=np.float64)
    around = _around(rr, LOCAL)[k]
    around[:, LOCAL] = np.nan  # the pause after it
    with np.errstate(invalid="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # nothing around: not sinus rhythm
        cycle = np.nanmedian(around, axis=1, keepdims=True)
        steady = np.nanmedian(np.abs(around - cycle), axis=1) <= RR_STEADY_AROUND * cycle[:, 0]
        alike = np.nanmedian(_around(p_r, LOCAL)[k], axis=1) >= P_ALIKE_AROUND
    out[k] = _early(rr, k, P_EARLY_RATIO) & steady & alike
    return out


def _running_median(v: np.ndarray) -> np.ndarray:
    """[k]: the median of ``v[k - RUN_SINUS + 1 : k + 1]``, NaN where under 3 of them are finite."""
    window = sliding_window_view(np.r_[np.full(RUN_SINUS - 1, np.nan), v], RUN_SINUS)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # an all-NaN window
        return np.where(np.isfinite(window).sum(axis=1) >= 3, np.nanmedian(window, axis=1), np.nan)


def supraventricular_runs(label: np.ndarray, rr_s: np.ndarray) -> np.ndarray:
    """``label`` (indices into CLASSES) with the beats of each supraventricular run called
    supraventricular. A run starts at a beat called normal or supraventricular whose RR is at most
    RUN_RATIO of both the sinus reference and the RR before it (abrupt: sinus rhythm speeds up
    gradually), or at a beat the perceptron calls supraventricular; it goes on while the beats
    (normal or supraventricular) stay that fast against the reference and steady, and through one
    narrow beat that is not where the two after it are. Runs from an abrupt onset count from
    RUN_MIN beats; after a supraventricular beat, any that follow it."""
    normal, supra = CLASSES.index("normal"), CLASSES.index("supraventricular")
    rr = np.asarray(rr_s, dtype=np.float64)
    narrow = (label == normal) | (label == supra)
    nn = np.flatnonzero(np.r_[False, (label[1:] == normal) & (label[:-1] == normal)] & np.isfinite(rr))
    if len(nn) < 3:
        return label
    sinus = _running_median(rr[nn])  # [k]: of NN intervals k - 7 to k
    recent = _running_median(np.r_[np.nan, rr[:-1]])  # [i]: of the RRs just before beat i
    at = np.arange(len(rr))
    before = np.searchsorted(nn, at) - 1  # each beat's last NN interval before it
    ref = np.where(before >= 0, sinus[np.maximum(before, 0)], np.nan)
    ref = np.where((before >= 0) & (at - nn[np.maximum(before, 0)] > RUN_SINUS), recent, ref)
    previous = np.r_[np.nan, rr[:-1]]
    with np.errstate(invalid="ignore"):
        abrupt = (rr <= RUN_RATIO * ref) & (rr <= RUN_RATIO * previous)
        steady = np.abs(np.log(rr / previous)) <= RUN_STEADY
        onset = narrow & (abrupt | ((label == supra) & (ref > 0)))
    readable, n = narrow & np.isfinite(rr), len(rr)  # an unreadable stretch before a beat ends a run

    def fast(k: int, limit: float) -> bool:
        return bool(k < n and narrow[k] and rr[k] <= limit)

    def resumes(k: int, limit: float) -> bool:  # beat k broke the run: do the two after it resume it?
        again = fast(k + 1, limit) and fast(k + 2, limit) and steady[k + 2]
        return bool(readable[k] and again and abs(np.log(rr[k + 1] / rr[k - 1])) <= RUN_STEADY)

    out, end = label.copy(), 0
    for i in np.flatnonzero(onset).tolist():
        if i < end:
            continue
        limit, end = RUN_RATIO * ref[i], i + 1
        while end < n:
            if fast(end, limit) and steady[end]:
                end += 1
            elif resumes(end, limit):  # the first of the two at the run's rate again
                end += 3  # the beat that broke it and the two that resume it
            else:
                break
        if end - i >= RUN_MIN or label[i] == supra:
            out[i:end] = supra
    return out


def inputs(features: np.ndarray) -> np.ndarray:
    """(beats, INPUTS) of one recording's (FEATURES, beats)."""
    f = np.asarray(features[: len(LEARNT)], dtype=np.float32)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # a feature never measured: NaN
        usual = np.nanmedian(f, axis=1, keepdims=True) if f.shape[1] else np.zeros((len(f), 1), np.float32)
    return np.concatenate([f, f - usual]).T


def _softmax(h: np.ndarray) -> np.ndarray:
    e = np.exp(h - h.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


@dataclass(frozen=True)
class BeatClassifier:
    """The fitted perceptrons (a few, from different seeds, their probabilities averaged: one
    alone varies with the order it saw its beats in): standardisation, ReLU layers, the CLASSES'
    logits; gradient-boosted trees on the same inputs where it was fitted with them, the two
    kinds' log-probabilities averaged (the trees see the sharp limits of a prematurity or a width);
    and a bias added to the log-probabilities (chosen by cross-validation: how readily each class
    is called)."""

    mean: np.ndarray  # (INPUTS,)
    scale: np.ndarray
    members: tuple[tuple[tuple[np.ndarray, np.ndarray], ...], ...]  # each: (weight (out, in), bias (out,))
    bias: np.ndarray  # (CLASSES,)
    meta: dict
    forest: Forest | None = None  # one sequence of trees per class, on the unstandardised inputs

    @property
    def two_pass(self) -> bool:
        """Fitted to class the beats again on RR intervals without the detections it judged noise
        (``rhythm.classify``); a classifier fitted before this setting existed was not."""
        return bool(self.meta.get("two_pass", False))

    def probabilities(self, features: np.ndarray) -> np.ndarray:
        """(beats, CLASSES) from one recording's (FEATURES, beats)."""
        return self.forward(inputs(features))

    def forward(self, x: np.ndarray) -> np.ndarray:
        """(beats, CLASSES) from the perceptron's inputs (beats, inputs); an input that could not
        be measured counts as the training beats' mean, and none lies beyond 8 standard deviations."""
        z = (x - self.mean) / self.scale
        z = np.clip(np.nan_to_num(z, nan=0.0, posinf=8.0, neginf=-8.0), -8.0, 8.0)
        out = np.zeros((len(z), len(CLASSES)))
        for layers in self.members:
            h = z
            for i, (w, b) in enumerate(layers):
                h = h @ w.T + b
                if i < len(layers) - 1:
                    h = np.maximum(h, 0.0)
            out += _softmax(h)
        out /= len(self.members)
        if self.forest is None:
            return out
        trees = _softmax(self.forest.logits(x))
        mixed = np.exp((np.log(np.maximum(out, FLOOR)) + np.log(np.maximum(trees, FLOOR))) / 2)
        return mixed / mixed.sum(axis=1, keepdims=True)

    def classes(self, features: np.ndarray, x: np.ndarray | None = None) -> np.ndarray:
        """Each beat's index into CLASSES (``labelled``)."""
        return self.labelled(features, x)[0]

    def labelled(
        self, features: np.ndarray, x: np.ndarray | None = None, beats: bool = False
    ) -> tuple[np.ndarray, np.ndarray]:
        """Each beat's index into CLASSES and the perceptron's probabilities (beats, CLASSES); a
        beat the perceptron calls ventricular whose QRS is narrow and like the usual one is the
        likelier of normal and supraventricular (``like_usual``), a beat it calls normal whose QRS
        is wide, wider than the dominant one and of another shape is ventricular
        (``not_conducted``), the beats of a supraventricular run supraventricular
        (``supraventricular_runs``), and then a beat still normal whose QRS is so against the
        recording's usual one is ventricular (``unlike_usual``): the runs are found against the
        rhythm before them as its page had it (an escape rhythm's slow cycle, MIT-BIH 207's, is
        what makes the tachycardia after it abrupt). ``x``: the perceptron's inputs where they are
        not the features' (a study of other inputs); ``beats``: each is known to be a beat, so
        never an artefact."""
        if features.shape[1] == 0:
            return np.zeros(0, dtype=np.int64), np.zeros((0, len(CLASSES)))
        p = self.probabilities(features) if x is None else self.forward(x)
        score = np.log(p + 1e-12) + self.bias
        if beats:
            score[:, CLASSES.index("artefact")] = -np.inf
        label = np.argmax(score, axis=1)
        normal, ventricular = CLASSES.index("normal"), CLASSES.index("ventricular")
        conducted = like_usual(features) & (label == ventricular)
        label[conducted] = np.argmax(score[conducted][:, [normal, CLASSES.index("supraventricular")]], axis=1)
        label[not_conducted(features) & (label == normal)] = ventricular
        rr_s = np.exp(features[FEATURES.index("pre")]) * features[FEATURES.index("local_s")]
        label = supraventricular_runs(label, rr_s)
        label[unlike_usual(features) & (label == normal)] = ventricular
        return label, p

    @classmethod
    def load(cls, path: Path) -> BeatClassifier:
        from ecgviewer.errors import EcgError
        from ecgviewer.weights import read_weights

        meta, tensors = read_weights(path, "beat_classifier", "beat classifier")
        if meta.get("inputs") != list(INPUTS) or meta.get("classes") != list(CLASSES):
            raise EcgError(
                f"{path.name}: a beat classifier for other features or classes than this version's"
            )
        a = {k: v.numpy() for k, v in tensors.items()}
        members = tuple(
            tuple((a[f"members.{m}.{i}.weight"], a[f"members.{m}.{i}.bias"]) for i in range(meta["layers"]))
            for m in range(meta["members"])
        )
        forest = Forest.from_arrays(a) if "tree_root" in a else None
        return cls(a["mean"], a["scale"], members, np.asarray(meta["bias"], dtype=np.float32), meta, forest)

    @staticmethod
    @cache
    def bundled() -> BeatClassifier:
        from ecgviewer.assets import beat_classifier_path

        return BeatClassifier.load(beat_classifier_path())
