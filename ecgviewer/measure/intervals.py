"""Global fiducials and measurements from median beats: intervals, QTc, frontal axes.

Global onsets and offsets come from all leads together, as IEC 60601-2-25 and the CSE study
define them: the second-earliest onset and the second-latest offset over the leads that show the
wave (robust to one lead's error; the earliest or latest when only one lead shows it).
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from itertools import pairwise
from typing import TYPE_CHECKING

import numpy as np

from ecgviewer.dsp.rate import bpm_from_rr
from ecgviewer.measure import beats as B
from ecgviewer.measure import signal
from ecgviewer.measure.atrial_waves import AtrialWaves
from ecgviewer.measurements import BPM, DEGREES, FIDUCIALS, MS

if TYPE_CHECKING:
    from ecgviewer.recording import DeviceReport

# QTc formulas, RR in seconds, QT in ms (Rautaharju et al., AHA/ACCF/HRS 2009 Part IV; Luo 2004).
QTC_FORMULAS = {
    "Bazett": lambda qt, rr: qt / math.sqrt(rr),
    "Fridericia": lambda qt, rr: qt / rr ** (1 / 3),
    "Framingham": lambda qt, rr: qt + 154.0 * (1.0 - rr),
    "Hodges": lambda qt, rr: qt + 1.75 * (60.0 / rr - 60.0),
}
# The formula the QTc value and the prolonged-QTc statement use until the user picks another: one
# name, so that the value, the statement and every table say the same (the clinical default; Part
# IV prefers a linear adjustment, which the statement's criterion says).
DEFAULT_QTC = "Bazett"
# Hexaxial reference frame: lead direction (degrees) and gain relative to lead I (Goldberger's
# augmented leads see the heart vector scaled by sqrt(3)/2).
LIMB_FRAME = {
    "I": (0, 1.0),
    "II": (60, 1.0),
    "III": (120, 1.0),
    "aVR": (-150, math.sqrt(3) / 2),
    "aVL": (-30, math.sqrt(3) / 2),
    "aVF": (90, math.sqrt(3) / 2),
}
MIN_LEADS_SHARE = 0.25  # a wave must show in this share of present leads to count as present
IRREGULAR_CV = 0.15  # RR coefficient of variation above which the rhythm is called irregular
# Atrial fibrillation's irregularity, for a recording's statement and a long recording's episodes
# alike: the RMS of the successive differences of the RR intervals between two beats not of
# another origin (a ventricular beat and the pause after it set aside), over their mean.
AF_NRMSSD = 0.1
P_SEARCH_MS, T_SEARCH_MS = 400.0, 700.0
# In a paced rhythm these are the paced complex's (PR: the P wave to the paced QRS, its AV delay),
# and say so; P duration and P axis are the atrium's own.
PACED_VALUES = ("pr", "qrs", "qt", *(f"qtc_{f.lower()}" for f in QTC_FORMULAS), "qrs_axis", "t_axis")
TOO_NOISY = "too noisy to read"  # what a stretch of ``Measurements.too_noisy`` is called wherever it is shown


@dataclass(frozen=True)
class Value:
    """One measurement: a number with its unit, or None and the reason it could not be made."""

    value: float | None
    unit: str
    reason: str = ""
    edited: bool = False
    paced: bool = False  # measured on paced beats: the paced complex's value, labelled so


@dataclass(frozen=True)
class Measurements:
    """Everything measured on one span. Fiducials are ms relative to the median beat's R."""

    leads: tuple[str, ...]
    present: np.ndarray  # (leads,) bool
    median: np.ndarray  # (leads, PRE + POST) mV at signal.FS, R at index B.PRE
    lead_fiducials: tuple[dict[str, float | None], ...]  # per lead, from its own median beat
    fiducials: dict[str, float | None]  # global
    auto_fiducials: dict[str, float | None]  # before any user edit
    r_times: np.ndarray  # s, in the recording, every beat found
    beat_reasons: tuple[str, ...]  # "" if the beat is in the median, else why not
    values: dict[str, Value]  # hr, rr, p, pr, qrs, qt, qtc_<formula>, p_axis, qrs_axis, t_axis
    withheld: dict[str, str] = field(default_factory=dict)  # value -> why it is not measured here
    notes: tuple[str, ...] = ()
    span_s: tuple[float, float] = (0.0, 0.0)
    left_out: dict[str, str] = field(default_factory=dict)  # recorded lead -> why not measured
    paced: tuple[bool, ...] = ()  # per beat of ``r_times``: started by a pacing spike
    too_noisy: tuple[tuple[float, float], ...] = ()  # s in the recording: noise left their QRS uncounted
    # s in the recording: stretches where noise left a detection uncounted (``too_noisy`` among
    # them); a beat may be among those, so no RR is taken across them (``rr_ms``)
    rr_gaps: tuple[tuple[float, float], ...] = ()
    device: DeviceReport | None = None  # what the acquiring device measured (the file's), if it says
    # s in the recording: the span's beats the beat list's classifier calls ventricular (``rhythm``);
    # None where they were not classed (measured by hand, or the beat list failed)
    ventricular_s: tuple[float, ...] | None = None
    # the atrial activity between the QRS-T complexes (``atrial_waves``); None where not read
    atrial_waves: AtrialWaves | None = None

    def rr_ms(self) -> np.ndarray:
        """Each RR between successive beats found (ms), NaN across ``rr_gaps``."""
        return rr_between(self.r_times, self.rr_gaps)

    @property
    def paced_rhythm(self) -> bool:
        """The median beat is made of paced beats (``beats.classify``): its QRS, QT and axes are
        the paced complex's."""
        return any(p and not why for p, why in zip(self.paced, self.beat_reasons, strict=False))

    @property
    def edited(self) -> frozenset[str]:
        return frozenset(k for k in FIDUCIALS if self.fiducials.get(k) != self.auto_fiducials.get(k))

    @property
    def window_ms(self) -> tuple[float, float]:
        return (-B.PRE_MS, B.POST_MS)

    def qtc(self, formula: str) -> Value:
        return self.values[f"qtc_{formula.lower()}"]


def lead_fiducials(lead_waves, r_index: int) -> dict[str, float | None]:
    """The QRS at R and the P before it and T after it, of one lead's median beat, in ms from R."""
    ms = 1000 / signal.FS
    fid: dict[str, float | None] = dict.fromkeys(FIDUCIALS)
    qrs = [w for w in lead_waves if w.kind == "QRS" and w.on - 15 / ms <= r_index <= w.off + 15 / ms]
    if not qrs:
        return fid
    q = min(qrs, key=lambda w: abs((w.on + w.off) / 2 - r_index))
    fid["qrs_on"], fid["qrs_off"] = (q.on - r_index) * ms, (q.off - r_index) * ms
    # A beat's P and T lie between its neighbours' QRS complexes: at fast rates the window also
    # holds the next beat, whose T must not be taken for this one's.
    before = max([w.off for w in lead_waves if w.kind == "QRS" and w.off < q.on], default=-math.inf)
    after = min([w.on for w in lead_waves if w.kind == "QRS" and w.on > q.off], default=math.inf)
    ps = [
        w
        for w in lead_waves
        if w.kind == "P" and w.off <= q.on + 2 and w.on >= max(q.on - P_SEARCH_MS / ms, before)
    ]
    if ps:
        fid["p_on"], fid["p_off"] = (ps[-1].on - r_index) * ms, (ps[-1].off - r_index) * ms
    t_end = min(q.off + T_SEARCH_MS / ms, after)
    ts = [w for w in lead_waves if w.kind == "T" and w.on >= q.off - 2 and w.off <= t_end]
    if ts:
        fid["t_on"], fid["t_off"] = (ts[0].on - r_index) * ms, (ts[0].off - r_index) * ms
    return fid


def global_fiducials(per_lead: list[dict[str, float | None]], n_present: int) -> tuple[dict, list[str]]:
    """Second-earliest onsets and second-latest offsets; waves seen in too few leads are absent."""
    need = max(1, math.ceil(MIN_LEADS_SHARE * n_present))
    out: dict[str, float | None] = dict.fromkeys(FIDUCIALS)
    missing = []
    for wave in ("p", "qrs", "t"):
        on = sorted(v for f in per_lead if (v := f[f"{wave}_on"]) is not None)
        off = sorted((v for f in per_lead if (v := f[f"{wave}_off"]) is not None), reverse=True)
        if len(on) < need:
            missing.append(wave)
            continue
        out[f"{wave}_on"] = on[1] if len(on) >= 3 else on[0]
        out[f"{wave}_off"] = off[1] if len(off) >= 3 else off[0]
    # Leads disagree at the edges: a P cannot end after the QRS starts, a T start before it ends.
    if out["p_off"] is not None and out["qrs_on"] is not None:
        out["p_off"] = min(out["p_off"], out["qrs_on"])
    if out["t_on"] is not None and out["qrs_off"] is not None:
        out["t_on"] = max(out["t_on"], out["qrs_off"])
    return out, missing


def frontal_axis(
    median: np.ndarray, leads: tuple[str, ...], present: np.ndarray, on: float | None, off: float | None
) -> float | None:
    """Frontal-plane axis (degrees, -180..180] of the net area between ``on`` and ``off`` (ms from
    R), least squares over the limb leads present; None without two independent leads."""
    if on is None or off is None or off <= on:
        return None
    a, b = B.PRE + round(on * signal.FS / 1000), B.PRE + round(off * signal.FS / 1000) + 1
    base = max(0, a - round(0.01 * signal.FS))
    rows, areas = [], []
    for i, lead in enumerate(leads):
        if lead in LIMB_FRAME and present[i]:
            angle, gain = LIMB_FRAME[lead]
            baseline = float(np.mean(median[i, base : a + 1]))
            areas.append(float(np.sum(median[i, a:b] - baseline)))
            rows.append([gain * math.cos(math.radians(angle)), gain * math.sin(math.radians(angle))])
    if len(rows) < 2 or np.linalg.matrix_rank(np.asarray(rows)) < 2:
        return None
    (hx, hy), *_ = np.linalg.lstsq(np.asarray(rows), np.asarray(areas), rcond=None)
    if math.hypot(hx, hy) < 1e-6:
        return None
    return round(math.degrees(math.atan2(hy, hx)), 0)


def values(m: Measurements) -> dict[str, Value]:
    """HR and RR as found, and intervals, QTc and axes recomputed from ``m.fiducials``;
    ``m.withheld`` names values this span cannot give (no measurable beat) and why; in a paced
    rhythm the paced complex's values are marked ``paced``."""
    f, ms, missing = m.fiducials, "ms", m.withheld
    rr_ms = m.values["rr"].value

    def span(name: str, a: str, b: str) -> Value:
        if name in missing:
            return Value(None, ms, missing[name])
        ta, tb = f[a], f[b]
        if ta is None or tb is None:
            return Value(None, ms, f"no {_wave_name(a if ta is None else b)} found")
        return Value(round(tb - ta, 1), ms, edited=a in m.edited or b in m.edited)

    out = {
        "hr": m.values["hr"],
        "rr": m.values["rr"],
        "p": span("p", "p_on", "p_off"),
        "pr": span("pr", "p_on", "qrs_on"),
        "qrs": span("qrs", "qrs_on", "qrs_off"),
        "qt": span("qt", "qrs_on", "t_off"),
    }
    qt = out["qt"]
    if qt.value is not None and rr_ms is not None and qt.value >= rr_ms and not qt.edited:
        # A T wave cannot end after the next beat has begun: the end found is the next beat's
        # (fast atrial fibrillation gave QT 467 ms at RR 381 ms, a "QTc" of 757 ms).
        why = f"the T wave's end cannot be told from the next beat (QT {qt.value:.0f} ms, RR {rr_ms:.0f} ms)"
        out["qt"] = qt = Value(None, ms, why)
    for name, fn in QTC_FORMULAS.items():
        key = f"qtc_{name.lower()}"
        if qt.value is None:
            out[key] = Value(None, ms, qt.reason)
        elif rr_ms is None:
            out[key] = Value(None, ms, m.values["rr"].reason)
        else:
            out[key] = Value(round(fn(qt.value, rr_ms / 1000), 1), ms, edited=qt.edited)
    for wave, (a, b) in {
        "p": ("p_on", "p_off"),
        "qrs": ("qrs_on", "qrs_off"),
        "t": ("t_on", "t_off"),
    }.items():
        key = f"{wave}_axis"
        if key in missing:
            out[key] = Value(None, DEGREES, missing[key])
            continue
        axis = frontal_axis(m.median, m.leads, m.present, f[a], f[b])
        reason = (
            ""
            if axis is not None
            else (f"no {_wave_name(a)} found" if f[a] is None else "needs two limb leads")
        )
        out[key] = Value(axis, DEGREES, reason, edited=a in m.edited or b in m.edited)
    if m.paced_rhythm:
        out |= {k: replace(out[k], paced=True) for k in PACED_VALUES if out[k].value is not None}
    return out


def _wave_name(fiducial: str) -> str:
    return {"p": "P wave", "qrs": "QRS complex", "t": "T wave"}[fiducial.split("_")[0]]


def with_fiducials(m: Measurements, **changes: float | None) -> Measurements:
    """The same measurements with some global fiducials moved by the user (ms from R); every
    value that depends on a moved fiducial is recomputed and marked edited."""
    unknown = set(changes) - set(FIDUCIALS)
    if unknown:
        raise ValueError(f"unknown fiducials {sorted(unknown)}")
    fid = {**m.fiducials, **changes}
    placed = [(k, t) for k in FIDUCIALS if (t := fid[k]) is not None]
    for (a, ta), (b, tb) in pairwise(placed):
        if tb < ta:
            raise ValueError(f"{b} ({tb:.0f} ms) would come before {a} ({ta:.0f} ms)")
    moved = replace(m, fiducials=fid)
    return replace(moved, values=values(moved))


def nrmssd(rr: np.ndarray, axis: int = -1) -> np.ndarray:
    """RMSSD over the mean of RR series along ``axis``, NaN (an RR across an unreadable stretch)
    left out; NaN where fewer than two RRs are known."""
    with np.errstate(invalid="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        return np.sqrt(np.nanmean(np.diff(rr, axis=axis) ** 2, axis=axis)) / np.nanmean(rr, axis=axis)


def irregular(rr: np.ndarray) -> bool:
    """Three or more RRs whose coefficient of variation is above IRREGULAR_CV."""
    return len(rr) >= 3 and float(np.std(rr) / np.mean(rr)) > IRREGULAR_CV


def heart_rate(rr_ms: np.ndarray) -> float | None:
    """A span's heart rate (bpm): 60 000 over the mean of its RR intervals, the beats it holds per
    minute (NaN, an RR across an unreadable stretch, left out); None without one. The one rate of
    a span: the measurements' HR and the beat list's trend and range are this, so that one span
    never shows two rates."""
    rr = np.asarray(rr_ms, dtype=np.float64)
    rr = rr[np.isfinite(rr)]
    return None if len(rr) == 0 else bpm_from_rr(rr / 1000.0)


def rr_between(r_times: np.ndarray, gaps: Sequence[tuple[float, float]] = ()) -> np.ndarray:
    """The RRs (ms) of beats at ``r_times`` (s), NaN for one across any of ``gaps`` (s, the same
    clock: a stretch where noise may have hidden a beat, whose RR would read as a pause)."""
    t = np.asarray(r_times, dtype=np.float64)
    across = np.zeros(max(len(t) - 1, 0), dtype=bool)
    for a, b in gaps:
        across |= (t[:-1] < b) & (t[1:] > a)
    return np.where(across, np.nan, np.diff(t) * 1000)


def rate(r_times: np.ndarray, gaps: Sequence[tuple[float, float]] = ()) -> tuple[dict[str, Value], list[str]]:
    """Heart rate and RR from every beat found (not only the median's), and a rhythm note. An RR
    across one of ``gaps`` (``rr_between``) is no RR."""
    rr = rr_between(r_times, gaps)
    rr = rr[np.isfinite(rr)]
    if len(rr) == 0:
        reason = "fewer than two beats" if not gaps else "fewer than two beats in a row outside the noise"
        return {"hr": Value(None, BPM, reason), "rr": Value(None, MS, reason)}, []
    mean = float(np.mean(rr))
    notes = []
    if irregular(rr):
        cv = float(np.std(rr) / mean)
        notes.append(f"irregular rhythm: RR {rr.min():.0f}-{rr.max():.0f} ms (variation {100 * cv:.0f} %)")
    bpm = heart_rate(rr)
    return {"hr": Value(None if bpm is None else round(bpm, 0), BPM), "rr": Value(round(mean, 0), MS)}, notes
