"""Beats for measurement: found from the delineator's QRS labels, sorted into dominant and
excluded (premature, other morphology, noisy), and averaged into median beats per lead."""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np

from ecgviewer.dsp.runs import runs
from ecgviewer.measure import signal

PRE_MS, POST_MS = 500.0, 700.0  # median-beat window around R: 1.2 s, as MUSE and aECG medians
PRE = round(PRE_MS * signal.FS / 1000)
POST = round(POST_MS * signal.FS / 1000)
QRS_VOTE = 0.3  # share of present leads that must label a sample QRS for it to be a beat
MIN_RR_MS = 200.0  # two QRS detections closer than this are one beat
# A detection less than T_WAVE_MS after the beat before whose steepest slope is under T_WAVE_SLOPE
# of that beat's is its T wave, not a beat (Pan and Tompkins 1985's rule, their 360 ms and half).
T_WAVE_MS = 360.0
T_WAVE_SLOPE = 0.5
QRS_HALF_MS = 60.0  # morphology is compared over R +- this
MIN_CORRELATION = 0.85  # below: other QRS morphology (ectopic or aberrant)
PREMATURE = 0.85  # RR before the beat shorter than this share of the median RR around it
NOISE_FACTOR = 3.0  # residual against the template this many times the median residual
MIN_NOISE_MV = 0.05
PREMATURE_REASON = "premature"  # a beat left out of the median for its short RR (its origin unknown)
LOCAL_RR = 8  # a page's dominant beats: not premature against the median of this many RRs around
PACE_S = 30.0  # a measured span's: against the median RR within this of the beat (``_early``)
SHAPE_MS = (-80.0, 120.0)  # a beat's QRS, kept for the templates: the shape Holter software groups by
SHAPE_N = round((SHAPE_MS[1] - SHAPE_MS[0]) * signal.FS / 1000)
# A pacing spike is a pulse of 0.1-2 ms: the signal jumps by PACE_JUMP_MV within PACE_JUMP_MS
# from a quieter stretch (the span before moves under PACE_QUIET_SHARE of the jump), does not go
# on the same way (the span after moves under PACE_ONWARD_SHARE of it: a steep QRS slope does),
# and comes back at least PACE_RETURN_SHARE of the way within PACE_RETURN_MS (an amplifier's
# baseline step does not), in PACE_LEADS leads at once, or in every recorded lead when fewer are
# (at least PACE_MIN_LEADS; one of them at the full jump, the others, where the spike's vector
# projects less, at PACE_OTHER_SHARE of it). PACE_JUMP_MV is the earlier slope limit
# (0.125 mV/ms) over PACE_JUMP_MS at PACE_FULL_FS or more; below it a pulse shorter than a sample
# is spread by the anti-aliasing filter, its area kept, so the jump looked for falls with the
# rate. The jump may take up to PACE_RISE_MS: a recorder's 100-150 Hz low-pass spreads a spike's
# rise over two samples at 500 Hz (LUDB's paced records so filtered: 1-2 of 10 found over 2 ms,
# 5-6 over 4 ms). With fewer than PACE_LEADS leads to agree, a jump must also stand
# PACE_NOISE_SDS robust SDs above its lead's sample-to-sample change on either side of it
# (PACE_FLOOR_S): two leads of muscle noise at 250 Hz otherwise pulse together, and a burst of it
# among a long recording's clean minutes made paced beats of its transients, which the beat list
# kept (its classifier, which never saw a paced beat, does not judge them). The rates, shares and
# noise rule were set on LUDB's paced records and its and PTB-XL's 500 Hz non-paced ones,
# resampled, filtered and with the validation's noise: training/reports/MEASUREMENTS.md's pacing
# figures are on those same records.
PACE_JUMP_MS = 2.0
PACE_RISE_MS = 4.0
PACE_JUMP_MV = 0.25
PACE_FULL_FS = 500.0
PACE_QUIET_SHARE = 0.25
PACE_ONWARD_SHARE = 0.5
PACE_RETURN_MS = 20.0
PACE_RETURN_SHARE = 0.5
PACE_LEADS = 6
PACE_MIN_LEADS = 2  # one lead cannot tell a spike from a noise transient
PACE_OTHER_SHARE = 0.6  # at 0.4, 1 of LUDB's and PTB-XL's 310 non-paced records was called paced
PACE_NOISE_SDS = 5.0
PACE_FLOOR_S = 0.5  # ... above the lead's sample-to-sample change in this stretch either side of it
MIN_PACE_FS = 250.0  # spikes last ~0.5-2 ms; at 128 Hz LUDB's non-paced records gave false ones
NOT_SEEN = "paced beats are not recognised here"  # how a measurement that could not look begins its note
# A beat is paced when a spike falls from PACED_BEFORE_MS before its QRS onset up to its R. On
# LUDB's ventricular-paced records the spike came 12-32 ms before the cardiologists' QRS onset and
# 38 ms before to 20 ms after the delineator's, but 84-98 ms before R in four of them (a wide paced
# QRS peaks late): the earlier rule, a spike within 80 ms before R, called those beats normal. An
# atrial pacing spike starts the P wave, a PR interval (120 ms or more) before the QRS: outside.
PACED_BEFORE_MS = 60.0
PACED_REASON = "paced"  # a paced beat left out of a median of conducted ones
NATIVE_REASON = "not paced"  # a conducted beat left out of a median of paced ones


@dataclass(frozen=True)
class Beats:
    r: np.ndarray  # R (alignment point) of every beat, samples at signal.FS
    reasons: tuple[str, ...]  # "" for a beat in the median, else why it was left out

    @property
    def included(self) -> np.ndarray:
        return np.array([not r for r in self.reasons], dtype=bool)


def qrs_runs(labels: np.ndarray, present: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """First and one-past-last samples of the runs where at least ``QRS_VOTE`` of the present
    leads label QRS: the QRS complexes every beat is found in (``find``, the beat list)."""
    return runs((labels[present] == 2).mean(axis=0) >= QRS_VOTE)


def qrs_onsets(labels: np.ndarray, present: np.ndarray, r: np.ndarray) -> np.ndarray:
    """The first sample of the QRS run each R of ``find`` lies in."""
    starts, _ = qrs_runs(labels, present)
    if len(r) == 0:
        return np.zeros(0, dtype=np.int64)
    return starts[np.searchsorted(starts, r, side="right") - 1]


def find(labels: np.ndarray, x: np.ndarray, present: np.ndarray) -> np.ndarray:
    """R samples from per-lead labels (leads, n): runs where enough leads say QRS; R is the
    spatial-RMS maximum inside each run. A run that touches either end of the span is a QRS cut
    by it, no beat: its R would be wrong and its RR short (a "premature" beat at the end)."""
    if not present.any():
        return np.zeros(0, dtype=np.int64)
    starts, stops = qrs_runs(labels, present)
    rms = signal.spatial_rms(x, present)
    peaks: list[int] = []
    min_gap = MIN_RR_MS * signal.FS / 1000
    for a, b in zip(starts, stops, strict=True):
        if a == 0 or b == labels.shape[-1]:
            continue
        r = int(a + np.argmax(rms[a:b]))
        if peaks and r - peaks[-1] < min_gap:
            if rms[r] > rms[peaks[-1]]:
                peaks[-1] = r
            continue
        peaks.append(r)
    return np.asarray(peaks, dtype=np.int64)


def without_t_waves(x: np.ndarray, r: np.ndarray, present: np.ndarray) -> np.ndarray:
    """``r`` (``find``) less the detections that are the previous beat's T wave: a PVC's sharp
    discordant T wave can be labelled QRS just past ``MIN_RR_MS``. For the 10 s measurements, which
    have no beat classifier to tell; the beat list's classifier judges such detections itself."""
    if len(r) < 2 or not present.any():
        return r
    half = round(QRS_HALF_MS * signal.FS / 1000)
    slopes = np.abs(np.diff(windows(x[present], r, half, half + 1), axis=-1))
    steepest = np.nan_to_num(slopes).max(axis=(1, 2))  # NaN: past the span's ends
    kept = [0]
    for i in range(1, len(r)):
        j = kept[-1]
        near = (r[i] - r[j]) * 1000 / signal.FS < T_WAVE_MS
        if not (near and steepest[i] < T_WAVE_SLOPE * steepest[j]):
            kept.append(i)
    return r[kept]


def windows(values: np.ndarray, centres: np.ndarray, pre: int = PRE, post: int = POST) -> np.ndarray:
    """(beats, leads, pre + post) windows of ``values`` (leads, n) around ``centres``; NaN where
    a window runs past the recording. Used for signals and for attributions alike."""
    leads, n = values.shape
    padded = np.full((leads, pre + n + post), np.nan, dtype=np.float32)  # one gather, no loop over beats
    padded[:, pre : pre + n] = values
    at = np.asarray(centres, dtype=np.int64)[:, None] + np.arange(pre + post)  # into padded: c - pre + k
    outside = (at < 0) | (at >= padded.shape[1])
    out = padded[:, np.clip(at, 0, padded.shape[1] - 1)].transpose(1, 0, 2)
    out[np.broadcast_to(outside[:, None, :], out.shape)] = np.nan
    return out


def premature(rr: np.ndarray) -> np.ndarray:
    """Per beat: is the RR leading to it (``rr[i - 1]`` to beat i) shorter than ``PREMATURE``
    times the median of up to ``LOCAL_RR // 2`` RRs on each side of it (not itself)?"""
    from numpy.lib.stride_tricks import sliding_window_view

    h = LOCAL_RR // 2
    if len(rr) == 0:
        return np.zeros(1, bool)
    padded = np.concatenate([np.full(h, np.nan), rr, np.full(h, np.nan)])
    around = np.delete(sliding_window_view(padded, 2 * h + 1), h, axis=1)  # row j: rr[j]'s neighbours
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # a lone RR has no neighbour: NaN, not premature
        pace = np.nanmedian(around, axis=1)
    return np.concatenate([[False], rr < PREMATURE * pace])


def _early(t_s: np.ndarray, rr_ms: np.ndarray) -> np.ndarray:
    """Per beat at ``t_s``: is the RR leading to it shorter than ``PREMATURE`` times the median of
    the known RRs (``rr_ms``, NaN: none) within ``PACE_S`` of it? A span of up to PACE_S (the
    window's 30 s, PTB-XL's 10 s) is judged against its own median, as validated; a span of
    minutes against the minute around each beat, so that where the rate drifts its faster stretches
    are not premature (``premature`` is the beat list's, over a few beats)."""
    ends = t_s[1:]  # each RR's end
    lo, hi = np.searchsorted(ends, ends - PACE_S), np.searchsorted(ends, ends + PACE_S, side="right")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # no known RR around: NaN, not premature
        pace = np.array([np.nanmedian(rr_ms[a:b]) for a, b in zip(lo, hi, strict=True)])
    return np.concatenate([[False], rr_ms < PREMATURE * pace])


def qrs_shapes(x: np.ndarray, r: np.ndarray, present: np.ndarray) -> np.ndarray:
    """(beats, leads, SHAPE_N) float16: each beat's QRS over SHAPE_MS in every lead of the prepared
    ``x``, zero in leads not ``present`` and past the span's ends."""
    pre = round(-SHAPE_MS[0] * signal.FS / 1000)
    w = windows(np.where(present[:, None], x, 0.0), r, pre, SHAPE_N - pre)
    return np.nan_to_num(w).astype(np.float16)


def unit_shapes(shapes: np.ndarray) -> np.ndarray:
    """Each beat's shape ((beats, leads, samples), the leads side by side) less its mean, to unit
    length: the dot product of two rows is their Pearson r."""
    x = shapes.reshape(len(shapes), -1).astype(np.float32)
    x -= x.mean(axis=1, keepdims=True)
    return x / np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-6)


def classify(
    x: np.ndarray, r: np.ndarray, present: np.ndarray, paced: np.ndarray | None = None,
    rr_ms: np.ndarray | None = None,
) -> Beats:  # fmt: skip
    """Leave out premature beats (``early``: ``rr_ms``, NaN across a gap where noise may hide a
    beat, else every RR of ``r``), beats of another QRS morphology and noisy beats; if that would
    leave none, keep them all (the median is then of everything, and says so). With
    ``paced`` (per beat, ``paced_beats``) the median is of one kind: paced beats are left out
    beside a conducted majority, conducted ones beside a paced majority (a median of both shapes
    is neither), and the morphology is compared with the majority's."""
    kind = np.zeros(len(r), dtype=bool) if paced is None else np.asarray(paced, dtype=bool)
    majority = bool(kind.sum() * 2 > len(kind))
    reasons = ["" if k == majority else PACED_REASON if k else NATIVE_REASON for k in kind]
    mine = np.flatnonzero(kind == majority)
    if len(mine) < 3 or not present.any():
        return Beats(r, tuple(reasons))
    w = windows(x[present], r)
    template = np.nanmedian(w[mine], axis=0)
    half = round(QRS_HALF_MS * signal.FS / 1000)
    qrs = slice(PRE - half, PRE + half)
    early = _early(
        r / signal.FS, np.diff(r) * 1000 / signal.FS if rr_ms is None else np.asarray(rr_ms, float)
    )
    residual = np.sqrt(np.nanmean((w - template) ** 2, axis=(1, 2)))
    noise_limit = max(NOISE_FACTOR * float(np.median(residual[mine])), MIN_NOISE_MV)
    for i in mine:
        a, b = w[i][:, qrs].ravel(), template[:, qrs].ravel()
        ok = np.isfinite(a) & np.isfinite(b)
        corr = np.corrcoef(a[ok], b[ok])[0, 1] if ok.sum() > 3 else 1.0
        if early[i]:
            reasons[i] = PREMATURE_REASON
        elif np.isfinite(corr) and corr < MIN_CORRELATION:
            reasons[i] = f"other QRS morphology (r = {corr:.2f})"
        elif residual[i] > noise_limit:
            reasons[i] = "noisy"
    if all(reasons[i] for i in mine):
        for i in mine:
            reasons[i] = ""
    return Beats(r, tuple(reasons))


def paced_beats(r_s: np.ndarray, onset_s: np.ndarray, spikes_s: np.ndarray | None) -> np.ndarray:
    """Per beat (R and QRS onset in s): does a pacing spike (``pacing_spikes``, same clock) start
    it, from ``PACED_BEFORE_MS`` before its QRS onset up to its R? The one rule for the 10 s
    measurement and the beat list, so that the two agree on which beats are paced."""
    r = np.asarray(r_s, dtype=np.float64)
    if spikes_s is None or len(spikes_s) == 0 or len(r) == 0:
        return np.zeros(len(r), dtype=bool)
    spikes = np.asarray(spikes_s, dtype=np.float64)[None, :]
    earliest = np.asarray(onset_s, dtype=np.float64)[:, None] - PACED_BEFORE_MS / 1000
    return np.asarray(((spikes >= earliest) & (spikes <= r[:, None])).any(axis=1))


def median(x: np.ndarray, beats: Beats) -> np.ndarray:
    """Median beats (leads, PRE + POST) over the included beats."""
    w = windows(x, beats.r[beats.included])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN columns at the edges
        out = np.nanmedian(w, axis=0)
    return np.nan_to_num(out, nan=0.0).astype(np.float32)


def pacing_blind(signals: np.ndarray, fs: float) -> str:
    """Why pacing spikes cannot be seen in these raw signals ("" when they can): too low a rate,
    or too few recorded leads (a lead of NaN only is not recorded) to tell a spike from noise."""
    if fs < MIN_PACE_FS:
        return f"pacing spikes need {MIN_PACE_FS:.0f} Hz or more, not {fs:g} Hz"
    recorded = _recorded(signals)
    if recorded < PACE_MIN_LEADS:
        return f"pacing spikes are looked for in {PACE_MIN_LEADS} or more leads, not {recorded}"
    return ""


def _recorded(signals: np.ndarray) -> int:
    return int(np.isfinite(signals).any(axis=-1).sum())


def pacing_note(signals: np.ndarray, fs: float) -> list[str]:
    """The note a measurement carries when it could not have seen a paced rhythm, or saw it with
    fewer leads than the full rule asks (where a spike missing from one lead, or smaller than the
    noise, goes unseen)."""
    if why := pacing_blind(signals, fs):
        return [f"{NOT_SEEN} ({why}): they would be measured as native"]
    if (recorded := _recorded(signals)) < PACE_LEADS:
        return [
            f"pacing spikes looked for in {recorded} leads only: a spike must show in each of them, "
            f"above its noise, so paced beats may be measured as native"
        ]
    return []


def pacing_spikes(signals: np.ndarray, fs: float) -> np.ndarray | None:
    """Times (s) of pacing spikes in raw signals at their own rate: the recorded leads pulsing at
    once, abruptly and briefly, as no native wave does (the constants above). None where they
    cannot be seen (``pacing_blind``)."""
    if pacing_blind(signals, fs):
        return None
    x = np.nan_to_num(np.asarray(signals, dtype=np.float64))
    need = min(PACE_LEADS, _recorded(signals))
    first = max(1, round(PACE_JUMP_MS * fs / 1000))
    spans = range(first, max(first, round(PACE_RISE_MS * fs / 1000)) + 1)
    hits = np.unique(np.concatenate([_jumps(x, fs, j, need) for j in spans]))
    if len(hits) == 0:
        return np.zeros(0)
    events = hits[np.concatenate([[True], np.diff(hits) > 0.02 * fs])]  # one per 20 ms cluster
    return events / fs


def _local_mad(x: np.ndarray, j: int, at: np.ndarray, fs: float, n: int, cols: np.ndarray) -> np.ndarray:
    """(leads, n): at each of the samples ``at`` (in columns ``cols``; 0 elsewhere), each lead's
    median absolute deviation of its change over ``j`` samples in the PACE_FLOOR_S before it or
    the PACE_FLOOR_S after it, the larger: the noise a spike must stand above where it is. Over the
    whole window, a burst of noise among clean minutes set no bar, nor did its clean side at its
    edges."""
    step = x[:, j:] - x[:, :-j]
    span = min(max(1, round(PACE_FLOOR_S * fs)), step.shape[1])
    last = step.shape[1] - span
    out = np.zeros((len(x), n))
    for first in (at - span, at):  # the stretch before the jump, then the one after it
        w = step[:, np.clip(first, 0, last)[:, None] + np.arange(span)]  # (leads, len(at), span)
        mad = np.median(np.abs(w - np.median(w, axis=-1, keepdims=True)), axis=-1)
        out[:, cols] = np.maximum(out[:, cols], mad)
    return out


def _jumps(x: np.ndarray, fs: float, j: int, need: int) -> np.ndarray:
    """Samples where ``need`` leads end a spike's jump made over ``j`` samples (the rule above)."""
    n = x.shape[-1]
    if n <= 3 * j:
        return np.zeros(0, dtype=np.int64)
    limit = PACE_JUMP_MV * min(1.0, fs / PACE_FULL_FS)
    # the jump runs from t to t + j; the rule's shape is weighed only where the jump alone could pass
    # it (a day's 12 leads at 500 Hz: the shape everywhere was a fifth of the beat list's time)
    size = np.abs(x[:, 2 * j : n - j] - x[:, j : n - 2 * j])
    low = limit if need >= PACE_LEADS else PACE_OTHER_SHARE * limit
    t = j + np.flatnonzero((size >= limit).any(axis=0) & ((size >= low).sum(axis=0) >= need))
    if len(t) == 0:
        return t
    before, at, end, later = (x[:, t + k * j] for k in (-1, 0, 1, 2))
    jump = end - at
    size = np.abs(jump)
    onward = (later - end) * np.sign(jump)
    shaped = (np.abs(at - before) <= PACE_QUIET_SHARE * size) & (onward <= PACE_ONWARD_SHARE * size)

    def candidates(floor: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        full = shaped & (size >= np.maximum(limit, floor))
        other = full if need >= PACE_LEADS else shaped & (size >= np.maximum(PACE_OTHER_SHARE * limit, floor))
        return np.flatnonzero(full.any(axis=0) & (other.sum(axis=0) >= need)), full, other

    cand, full, other = candidates(np.zeros((len(x), 1)))
    if len(cand) and need < PACE_LEADS:  # the noise floor only raises the bar: its medians only where needed
        cand, full, other = candidates(PACE_NOISE_SDS * 1.4826 * _local_mad(x, j, t[cand], fs, len(t), cand))
    if len(cand):  # the return, checked only where enough leads jumped
        after = np.minimum(t[cand, None] + j + np.arange(1, round(PACE_RETURN_MS * fs / 1000) + 1), n - 1)
        moved = np.abs(x[:, after] - x[:, t[cand], None]).min(axis=-1)
        back = moved <= PACE_RETURN_SHARE * size[:, cand]
        cand = cand[(full[:, cand] & back).any(axis=0) & ((other[:, cand] & back).sum(axis=0) >= need)]
    return t[cand] + j
