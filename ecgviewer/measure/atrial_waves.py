"""The atrial activity between the QRS-T complexes of a span: its dominant rate and how organised
it is. Atrial flutter is one re-entrant circuit, regular waves at 240-340 a minute; atrial
fibrillation is disorganised. Both leave RR intervals irregular without a P wave (where flutter's
conduction varies), which alone reads as fibrillation.

Each lead's QRS-T complexes are cancelled by subtracting the lead's median beat at every R
(average beat subtraction: Slocum, Sahakian, Swiryn, J Electrocardiol 1992;25:1), and the
residual's periodogram is read: its highest peak between the RATE_PER_MIN limits is the atrial
rate, and the share of the power over BAND_HZ that lies within PEAK_HZ of that peak and of its
second harmonic is the organisation (the organisation index of Everett et al., IEEE TBME
2001;48:969). Read in the leads where flutter waves show best (II, III, aVF, V1), the most
organised of them counts. Hand-written: neither scipy nor neurokit2 measures atrial activity.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ecgviewer.measure import signal

LEADS = ("II", "III", "aVF", "V1")
RATE_PER_MIN = (210.0, 360.0)  # where the dominant atrial peak is looked for
BAND_HZ = (2.0, 12.0)  # the atrial activity's power: fibrillation's waves lie within it too
PEAK_HZ = 0.3  # half-width of a peak (a 10 s span resolves 0.1 Hz)
CANCEL_MS = (200.0, 500.0)  # the median beat subtracted around each R: QRS and T
NFFT = 8192  # at least this long a periodogram, zero-padded: 0.03 Hz a bin at 250 Hz
MIN_BEATS = 3
# Atrial flutter is stated (``statements``) where no P wave is found and the rhythm is not paced,
# and the atrial waves run at FLUTTER_PER_MIN with at least FLUTTER_ORGANISATION of their power in
# that rate and its harmonic. The range is flutter's usual one (slower under antiarrhythmic drugs:
# PTB-XL's flutter records read 212-355 a minute here, a quarter under 260); the organisation was
# read off PTB-XL folds 1-8 (session 154: all 59 flutter records, 200 of fibrillation and 400
# others, through the app's measurements), where its median was 0.53 in flutter, 0.18 in
# fibrillation and 0.17 in the others; at 0.4 the rule found 41 of the 59 flutter records and
# 3 of the 200 fibrillation records, none of the others; fold 9 checked it
# (training/reports/ATRIAL_WAVES.md and ATRIAL_WAVES-fold9.md, ``python -m training atrial-waves``)
FLUTTER_PER_MIN = (240.0, 340.0)
FLUTTER_ORGANISATION = 0.4
# Waves at twice a regular ventricular rate (``AtrialWaves.twice``) are what fixed 2:1 conduction
# gives, but also what a regular tachycardia leaves when its P waves hide in the T waves: there the
# QRS-T windows overlap (an RR under the 700 ms of CANCEL_MS), the median beat holds part of its
# neighbours, and the residue of cancelling it repeats with every beat, its second harmonic inside
# flutter's band. PTB-XL folds 1-8 (session 160: every flutter, fibrillation and supraventricular
# tachycardia record and 3000 others): 36 of 802 sinus and supraventricular tachycardias were
# called flutter so, organisation 0.40-0.67 (median 0.43), against 41 of the 59 flutter records
# (2:1 ones 0.44-0.76, median 0.52); needing this much where the waves run at twice a regular rate
# kept 30 of the 41 and 6 of the 36; fold 9 checked it (training/reports/ATRIAL_WAVES*.md)
TWICE_ORGANISATION = 0.5


@dataclass(frozen=True)
class AtrialWaves:
    rate_per_min: float  # the dominant atrial rate
    organisation: float  # the share of the atrial activity's power in that rate and its harmonic
    lead: str  # where it is most organised

    @property
    def flutter(self) -> bool:
        """Organised waves at flutter's rate (FLUTTER_PER_MIN, FLUTTER_ORGANISATION)."""
        lo, hi = FLUTTER_PER_MIN
        return lo <= self.rate_per_min <= hi and self.organisation >= FLUTTER_ORGANISATION

    def twice(self, ventricular_bpm: float | None) -> bool:
        """Whether the waves run at twice the ventricular rate, within a peak's half-width (PEAK_HZ)."""
        return ventricular_bpm is not None and abs(self.rate_per_min - 2 * ventricular_bpm) <= 60 * PEAK_HZ


def atrial_waves(
    x: np.ndarray, r: np.ndarray, present: np.ndarray, leads: tuple[str, ...]
) -> AtrialWaves | None:
    """The most organised of LEADS' atrial activity in the prepared ``x`` (leads, n) at
    ``signal.FS`` with R at ``r`` (samples), or None where no such lead is present or there are
    fewer than MIN_BEATS beats."""
    from scipy.signal import periodogram

    r = np.asarray(r, dtype=np.int64)
    pre, post = (round(ms * signal.FS / 1000) for ms in CANCEL_MS)
    inside = r[(r >= pre) & (r + post <= x.shape[-1])]
    if len(inside) < MIN_BEATS:
        return None
    best: AtrialWaves | None = None
    for name in LEADS:
        if name not in leads or not present[leads.index(name)]:
            continue
        s = np.asarray(x[leads.index(name)], dtype=np.float64)
        template = np.median(np.stack([s[c - pre : c + post] for c in inside]), axis=0)
        residual = s.copy()
        for c in r:  # every beat, those cut by the span's ends too
            a, b = max(0, c - pre), min(len(s), c + post)
            residual[a:b] -= template[a - (c - pre) : b - (c - pre)]
        f, p = periodogram(residual, signal.FS, nfft=max(NFFT, len(residual)))  # a shorter one truncates
        total = p[(f >= BAND_HZ[0]) & (f <= BAND_HZ[1])].sum()
        search = (f >= RATE_PER_MIN[0] / 60) & (f <= RATE_PER_MIN[1] / 60)
        if total <= 0 or not search.any():
            continue
        peak = float(f[search][np.argmax(p[search])])
        # the harmonic's bins past BAND_HZ count too: only for a peak above 351 a minute, past flutter's
        near = (np.abs(f - peak) <= PEAK_HZ) | (np.abs(f - 2 * peak) <= PEAK_HZ)
        found = AtrialWaves(60 * peak, float(p[near].sum() / total), name)
        if best is None or found.organisation > best.organisation:
            best = found
    return best
