"""``measure``: a recording span in, ``Measurements`` out (the app, the CLI and the validation
all call this one function)."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import replace

import numpy as np

from ecgviewer.leads import STANDARD_LEADS as LEADS
from ecgviewer.leads import standard_leads
from ecgviewer.measure import agreement as A
from ecgviewer.measure import beats as B
from ecgviewer.measure import confirm, signal
from ecgviewer.measure import delineate as D
from ecgviewer.measure import intervals as I
from ecgviewer.measure import quality as Q
from ecgviewer.measure.atrial_waves import atrial_waves
from ecgviewer.measure.intervals import Measurements, Value
from ecgviewer.measurements import FIDUCIALS, MEASUREMENTS, unit
from ecgviewer.recording import Recording

log = logging.getLogger(__name__)
# A beat this close to either end of the span lacks the RR before or after it, and its QRS or T
# may be cut: it is not named ventricular (fold 9: 12 of the 56 records called without a PVC
# label, none with one)
EDGE_S = 0.5

# What a span without a measurable beat withholds: every measurement but the rate, QTc once per formula.
INTERVAL_VALUES = tuple(
    value
    for key in MEASUREMENTS
    if key not in ("hr", "rr")
    for value in ([f"qtc_{f.lower()}" for f in I.QTC_FORMULAS] if key == "qtc" else [key])
)
MIN_PACING_SPIKES = 2  # fewer is no pacing to speak of (one transient can pass for a spike)
PACED_RHYTHM = "paced rhythm"  # how the note of a measurement made on paced beats begins
QRS_AT_MS = 40.0  # a lead labels a QRS at a detection when it does within this of its R
NOISE_CONTEXT_S = 1.0  # a noisy stretch's quiet leads are delineated with this much either side
TOO_NOISY = I.TOO_NOISY  # how the note of a stretch that no lead could read begins
SECOND_OPINION = "no QRS by the second opinion"  # in the note of detections not counted for it


def measure(
    signals: np.ndarray, fs: float, leads: Sequence[str], delineator: D.Delineator, start_s: float = 0.0,
    *, read_noise: bool = False,
) -> Measurements:  # fmt: skip
    """Delineate, find and sort beats, build median beats and measure them. Values that cannot
    be measured carry the reason (no beats, paced rhythm, no P wave...) instead of a number. QRS
    complexes found in a burst of noise (``quality.noisy_stretches``) are not counted unless the
    leads the noise spares read them, nor are those the second opinion finds no QRS at and that
    are unlike the beats around (``confirm.not_beats_in``: electrode motion); ``read_noise`` counts
    them all, as before session 99 (the paired validation only: ``python -m training noisy-spans``)."""

    raw, present = standard_leads(np.asarray(signals), leads)
    left_out = {k: v for k, v in Q.raw_problems(signals, fs, leads).items() if k in LEADS}
    present &= np.array([lead not in left_out for lead in LEADS])
    x = signal.prepare(raw, fs)
    r, labels, _ = Q.beats_without_noise(x, present, LEADS, left_out, delineator)  # all present leads
    r = B.without_t_waves(x, r, present)
    noisy = [] if read_noise else Q.noisy_stretches(x, present)
    r, too_noisy, gaps, noise_notes = _outside_noise(x, r, present, noisy, delineator, start_s)
    if not read_noise and (judged := confirm.not_beats_in(x, r, present)).any():
        n = int(judged.sum())
        noise_notes.append(
            f"{n} detection{'s' * (n != 1)} not counted: {SECOND_OPINION}, unlike the beats around "
            "(electrode motion or noise)"
        )
        # the RR across one is kept: mostly it is noise between two beats, whose RR it then is (taking
        # no RR across it, every MIT-BIH span: 49 over 10 bpm off against 35, session 99)
        r = r[~judged]
    left_out = {lead: left_out[lead] for lead in LEADS if lead in left_out}  # in lead order
    empty = {k: None for k in FIDUCIALS}
    base = Measurements(
        leads=LEADS,
        present=present,
        median=np.zeros((len(LEADS), B.PRE + B.POST), np.float32),
        lead_fiducials=tuple(dict(empty) for _ in LEADS),
        fiducials=dict(empty),
        auto_fiducials=dict(empty),
        r_times=np.zeros(0),
        beat_reasons=(),
        values={},
        span_s=(start_s, start_s + raw.shape[-1] / fs),
        left_out=left_out,
        too_noisy=tuple(too_noisy),
    )
    if not present.any():
        return _withheld(base, "no usable lead" + _listed(left_out, " (missing, flat or all NaN)"))
    if len(r) == 0:
        why = next((n for n in noise_notes if n.startswith(TOO_NOISY)), "no QRS complexes found")
        return _withheld(base, why + _listed(left_out, ""))
    if len(r) < Q.MIN_NOISE_BEATS and (stands := Q.prominence(x, r, present)) < Q.MIN_PROMINENCE:
        why = (
            f"no measurable beat: nothing stands out of the noise ({stands:.1f}x the median level, "
            f"under {Q.MIN_PROMINENCE:.0f}x)"
        )
        return _withheld(base, why + _listed(left_out, ""))
    spikes = B.pacing_spikes(np.asarray(signals, np.float32), fs)  # the recorded leads, as recorded
    if spikes is not None:  # a burst of noise makes "spikes" of its own
        spikes = spikes[~_within(spikes * signal.FS, noisy)]
    paced = B.paced_beats(r / signal.FS, B.qrs_onsets(labels, present, r) / signal.FS, spikes)
    beats = B.classify(x, r, present, paced, I.rr_between(start_s + r / signal.FS, gaps))
    rate, notes = I.rate(start_s + r / signal.FS, gaps)
    median = B.median(x, beats)
    per_lead = _delineate_median(median, present, delineator)
    fid, missing = I.global_fiducials(
        [f for f, p in zip(per_lead, present, strict=True) if p], int(present.sum())
    )
    notes += noise_notes
    notes += _notes(beats, missing) + [f"{lead} left out: {why}" for lead, why in left_out.items()]
    notes += B.pacing_note(np.asarray(signals), fs) + _pacing_notes(beats, paced, spikes)
    m = Measurements(
        leads=LEADS,
        present=present,
        median=median,
        lead_fiducials=tuple(per_lead),
        fiducials=dict(fid),
        auto_fiducials=dict(fid),
        r_times=start_s + r / signal.FS,
        beat_reasons=beats.reasons,
        values=rate,
        notes=tuple(notes),
        span_s=base.span_s,
        left_out=left_out,
        paced=tuple(bool(p) for p in paced),
        too_noisy=tuple(too_noisy),
        rr_gaps=tuple(gaps),
        atrial_waves=atrial_waves(x, r, present, LEADS),
    )
    return replace(m, values=I.values(m))


def measure_recording(rec: Recording, delineator: D.Delineator, offset_s: float = 0.0) -> Measurements:
    """``measure`` on a recording (or a span cropped from one: ``offset_s`` is where it starts),
    with the acquiring device's own measurements beside ours, to be compared (``agreement``)."""
    m = measure(rec.signals, rec.fs, rec.leads, delineator, offset_s)
    m = replace(m, ventricular_s=_ventricular(rec, offset_s, m.too_noisy))
    device = rec.metadata.device
    return replace(m, device=device) if device is not None and device.measurements else m


def _ventricular(
    rec: Recording, offset_s: float, too_noisy: Sequence[tuple[float, float]] = ()
) -> tuple[float, ...] | None:
    """The beats of ``rec`` the beat list's classifier calls ventricular (s, ``offset_s`` on; none
    within ``EDGE_S`` of either end, nor in the measurement's ``too_noisy`` stretches, where it
    says no beat is counted), the evidence a "ventricular premature complexes" statement names
    (PTB-XL fold 9, 100 Hz: any such beat found 111 of 114 PVC-labelled records, PPV 0.72, against
    0.42 for early beats of any origin); None where no beat list could be made."""
    from ecgviewer.errors import EcgError
    from ecgviewer.measure.rhythm import VENTRICULAR, analyse

    try:
        beats = analyse(rec)
    except (EcgError, ValueError) as exc:
        log.info("no beat list for the measured span: %s", exc)
        return None
    t = beats.t_s[beats.kind == VENTRICULAR]
    t = t[(t >= EDGE_S) & (t <= rec.duration - EDGE_S)] + offset_s
    t = t[~np.any([(t >= a) & (t <= b) for a, b in too_noisy], axis=0)] if too_noisy else t
    return tuple(round(float(s), 3) for s in t)


def to_json(m: Measurements) -> dict:
    """The measurements as plain JSON: values with units or the reason they are missing, the
    global and per-lead fiducials (ms from the median beat's R), beats used and left out."""
    return {
        "span_s": list(m.span_s),
        "values": {
            k: {
                "value": v.value,
                "unit": v.unit,
                **({"reason": v.reason} if v.reason else {}),
                **({"edited": True} if v.edited else {}),
                **({"paced": True} if v.paced else {}),
            }
            for k, v in m.values.items()
        },
        "qtc_default": I.DEFAULT_QTC,
        "paced_rhythm": m.paced_rhythm,
        "device_differences": {k: d.to_json() for k, d in A.differences(m, m.device, I.DEFAULT_QTC).items()},
        "fiducials_ms": _rounded(m.fiducials),
        "lead_fiducials_ms": {
            lead: _rounded(f) for lead, f, p in zip(m.leads, m.lead_fiducials, m.present, strict=True) if p
        },
        "beats": [
            {"t_s": round(float(t), 3), **({"excluded": why} if why else {}), **({"paced": p} if p else {})}
            for t, why, p in zip(m.r_times, m.beat_reasons, _per_beat(m.paced, len(m.r_times)), strict=True)
        ],
        "ventricular_s": None if m.ventricular_s is None else list(m.ventricular_s),
        "atrial_waves": None
        if (w := m.atrial_waves) is None
        else {
            "rate_per_min": round(w.rate_per_min, 1),
            "organisation": round(w.organisation, 3),
            "lead": w.lead,
        },
        "notes": list(m.notes),
        "too_noisy_s": [[round(a, 3), round(b, 3)] for a, b in m.too_noisy],
        "leads_left_out": dict(m.left_out),
        "method": f"U-Net delineator on median beats (delineation contract {signal.VERSION}); "
        "global onsets second-earliest and offsets second-latest over the leads",
    }


def _per_beat(paced: tuple[bool, ...], n: int) -> tuple[bool, ...]:
    """``Measurements.paced``, or no beat paced where it was not recorded (measurements made by hand)."""
    return paced if len(paced) == n else (False,) * n


def _rounded(f: dict[str, float | None]) -> dict[str, float | None]:
    return {k: None if v is None else round(v, 1) for k, v in f.items()}


def _listed(left_out: dict[str, str], otherwise: str) -> str:
    """The leads left out and why, in brackets, for a reason that nothing could be measured."""
    if not left_out:
        return otherwise
    return " (" + "; ".join(f"{lead}: {why}" for lead, why in left_out.items()) + ")"


def _delineate_median(median: np.ndarray, present: np.ndarray, delineator: D.Delineator) -> list[dict]:
    """Fiducials of each lead's median beat; edge-padded by 0.5 s (flat, like a TP segment) so
    the window's ends do not look like the end of a recording."""
    pad = signal.FS // 2
    padded = np.pad(median, ((0, 0), (pad, pad)), mode="edge")
    probs = delineator.probabilities(padded, present)[..., pad:-pad]
    return [
        I.lead_fiducials(D.waves(probs[i]), B.PRE) if present[i] else dict.fromkeys(FIDUCIALS)
        for i in range(len(median))
    ]


def _within(samples: np.ndarray, stretches: list[tuple[int, int, np.ndarray]]) -> np.ndarray:
    """Which of ``samples`` lie in one of the ``stretches`` (start, exclusive end, ...)."""
    inside = np.zeros(len(samples), dtype=bool)
    for a, b, _ in stretches:
        inside |= (samples >= a) & (samples < b)
    return inside


def _outside_noise(
    x: np.ndarray, r: np.ndarray, present: np.ndarray, noisy: list[tuple[int, int, np.ndarray]],
    delineator: D.Delineator, start_s: float,
) -> tuple[np.ndarray, list[tuple[float, float]], list[tuple[float, float]], list[str]]:  # fmt: skip
    """The R samples that are beats by the leads the noise spares: in each of the ``noisy``
    stretches (``quality.noisy_stretches``) a detection stays where at least ``beats.QRS_VOTE``
    of the quiet present leads, delineated again without the loud ones (whose noise would reach
    them through the network's spatial-RMS input), label a QRS at it; none stays where every lead
    is loud. Also (s of the recording) the stretches that every lead's noise left unread, those
    where a detection was left out (no RR is taken across them: a beat may be among those left
    out), and a note for each stretch."""
    keep = np.ones(len(r), dtype=bool)
    tol, context = round(QRS_AT_MS * signal.FS / 1000), round(NOISE_CONTEXT_S * signal.FS)
    unread, gaps, notes = [], [], []
    for a, b, loud in noisy:
        inside = np.flatnonzero(_within(r, [(a, b, loud)]))
        quiet = present & ~loud
        if quiet.any() and len(inside):
            lo, hi = max(a - context, 0), min(b + context, x.shape[-1])
            qrs = delineator.labels(x[quiet, lo:hi]) == 2
            at = r[inside] - lo
            votes = np.array([qrs[:, max(k - tol, 0) : k + tol + 1].any(axis=1).mean() for k in at])
            keep[inside] = votes >= B.QRS_VOTE
        else:
            keep[inside] = False
        t = (start_s + a / signal.FS, start_s + b / signal.FS)
        names = "every lead" if not quiet.any() else ", ".join(np.asarray(LEADS)[loud])
        where = f"{t[0]:.1f}\u2013{t[1]:.1f} s, noise in {names}"
        n = int((~keep[inside]).sum())
        dropped = f"{n} detection{'s' * (n != 1)} there not counted"
        if n or not quiet.any():
            gaps.append(t)
        if quiet.any():
            notes.append(f"{where}: its beats read in the other leads" + f"; {dropped}" * (n > 0))
        else:
            unread.append(t)
            notes.append(f"{TOO_NOISY}: {where}; {dropped}")
    return r[keep], unread, gaps, notes


def _notes(beats: B.Beats, missing: list[str]) -> list[str]:
    notes = []
    n, used = len(beats.r), int(beats.included.sum())
    if n == 1:
        notes.append("one beat only: the median beat is that beat; no heart rate")
    elif used < n:
        kinds = sorted({r.split(" (")[0] for r in beats.reasons if r})
        notes.append(f"median of {used} of {n} beats; left out: {', '.join(kinds)}")
    if "p" in missing:
        notes.append(
            "no P wave in the median beat (atrial fibrillation or flutter, junctional rhythm?): "
            "P duration, PR and P axis not measured"
        )
    if "t" in missing:
        notes.append("no T wave in the median beat: QT, QTc and T axis not measured")
    return notes


def _pacing_notes(beats: B.Beats, paced: np.ndarray, spikes: np.ndarray | None) -> list[str]:
    """What pacing the span shows: a median of paced beats (its values are the paced complex's),
    or spikes that start no QRS (an atrial pacemaker's, or ones that did not capture)."""
    n = int(paced.sum())
    if paced[beats.included].any():
        found = f"{len(spikes)} pacing spikes" if spikes is not None else "pacing spikes"
        return [f"{PACED_RHYTHM}: {n} of {len(paced)} beats paced ({found}); PR, QRS, QT, QTc and "
                f"the QRS and T axes are the paced complex's"]  # fmt: skip
    if n == 0 and spikes is not None and len(spikes) >= MIN_PACING_SPIKES:
        return [f"{len(spikes)} pacing spikes, none within {B.PACED_BEFORE_MS:.0f} ms before a QRS "
                f"(atrial pacing, or no capture): the beats are measured as conducted"]  # fmt: skip
    return []


def _withheld(m: Measurements, why: str) -> Measurements:
    values = {"hr": Value(None, "bpm", why), "rr": Value(None, "ms", why)}
    values.update({k: Value(None, unit(k), why) for k in INTERVAL_VALUES})
    return replace(m, values=values, withheld=dict.fromkeys(INTERVAL_VALUES, why), notes=(why,))
