"""The one in-memory model of an ECG that every reader produces and every view consumes."""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field, replace
from datetime import date, datetime
from functools import cached_property
from pathlib import Path

import numpy as np

from ecgviewer.leads import FLAT_MV, LIMB_LEADS, STANDARD_LEADS, canonical_lead
from ecgviewer.sources import ArraySource, DerivedLimbSource, SignalSource

# Amplitude checks: an ECG in mV rarely exceeds +-10 mV; a lead with less than 10 uV
# peak-to-peak carries no signal.
IMPLAUSIBLE_MV = 50.0
CHECK_SECONDS = 60.0  # lazy (long) records are checked on their first minute only


@dataclass(frozen=True)
class Annotation:
    """A time-stamped note the file carries (EDF+ TAL, a device's event marker)."""

    onset: float  # seconds from the recording's first sample
    duration: float | None
    text: str


@dataclass
class MedianBeats:
    """The device's own representative (median) beat per lead, in mV."""

    fs: float
    leads: tuple[str, ...]
    data: np.ndarray  # (leads, samples) float32 mV


@dataclass
class DeviceReport:
    """What the acquiring device concluded: shown beside our measurements, never mixed with them."""

    device: str | None = None  # manufacturer, model and software as the file names them
    statements: list[str] = field(default_factory=list)  # interpretation, in the device's words
    measurements: dict[str, float] = field(default_factory=dict)  # keys of ``measurements.MEASUREMENTS``
    qtc_formula: str | None = None  # the device's QTc correction, when the file names it
    median: MedianBeats | None = None


@dataclass
class Metadata:
    """What the file (or the dataset around it) says about the recording.

    ``identifiers`` (patient name, ID, birth date) are kept apart from everything else: they are
    shown only when the user turns identifiers on, and never logged or put in an error message.
    """

    record_id: str | None = None
    age: float | None = None
    sex: str | None = None  # "male" / "female"
    report: str | None = None
    labels: dict[str, float] = field(default_factory=dict)  # code -> likelihood (%) or 1
    label_descriptions: dict[str, str] = field(default_factory=dict)
    dataset: str | None = None
    extra: dict[str, str] = field(default_factory=dict)
    identifiers: dict[str, str] = field(default_factory=dict)  # e.g. {"name": ..., "patient id": ...}
    device: DeviceReport | None = None
    annotations: list[Annotation] = field(default_factory=list)

    def __repr__(self) -> str:  # a Metadata printed by accident (a log, a traceback) shows no identifiers
        shown = {k: v for k, v in vars(self).items() if k != "identifiers" and v}
        return f"Metadata({shown}, identifiers={'<hidden>' if self.identifiers else '{}'})"


_OPENINGS = itertools.count(1)


@dataclass
class Recording:
    """A multi-lead ECG: samples in mV (leads x samples, float32), read through ``source``."""

    path: Path | None
    source: SignalSource
    fs: float
    leads: tuple[str, ...]
    source_format: str
    units: str = "mV"
    derived: frozenset[str] = frozenset()
    start_time: datetime | None = None
    metadata: Metadata = field(default_factory=Metadata)
    warnings: list[str] = field(default_factory=list)
    # mV per stored integer step of each lead (None where the file stores floats or text): lets
    # "Save as" write the same integers back, so a round trip through WFDB or EDF+ is lossless.
    resolution: tuple[float | None, ...] | None = None
    # which opening of a recording this is (``crop`` keeps it): every result the window shows
    # carries it, and a result of another opening is refused (``analysis.Findings.source``)
    uid: int = field(default_factory=lambda: next(_OPENINGS), compare=False, repr=False)

    @property
    def n_samples(self) -> int:
        return self.source.n_samples

    @property
    def duration(self) -> float:
        """Length in seconds."""
        return self.n_samples / self.fs

    @cached_property
    def signals(self) -> np.ndarray:
        """All samples, (leads, samples) float32 mV. Avoid on long (lazy) recordings."""
        return self.source.read(0, self.n_samples)

    def index(self, lead: str) -> int:
        return self.leads.index(lead)

    def read(self, start: int, stop: int) -> np.ndarray:
        """Samples ``start:stop`` of every lead, (leads, n) float32 mV."""
        return self.source.read(start, stop)

    @property
    def name(self) -> str:
        return self.path.name if self.path else "recording"


def age_at(born: date, on: date) -> float:
    """Age in whole years on ``on`` (readers that store a birth date and a recording date)."""
    return float(on.year - born.year - ((on.month, on.day) < (born.month, born.day)))


def crop(rec: Recording, t0: float, t1: float) -> Recording:
    """Seconds ``t0`` to ``t1`` of ``rec`` as an in-memory recording (same leads, labels and
    metadata; no file behind it, so nothing can write to the user's file)."""
    a = max(0, round(t0 * rec.fs))
    b = min(rec.n_samples, max(a + 1, round(t1 * rec.fs)))
    return replace(rec, path=None, source=ArraySource(rec.read(a, b)), warnings=list(rec.warnings))


def make_recording(
    path: Path | None,
    source: SignalSource,
    fs: float,
    names: list[str],
    source_format: str,
    **kwargs: object,
) -> Recording:
    """Canonicalise lead names, derive missing limb leads and check the signal's sanity."""
    if not np.isfinite(fs) or fs <= 0:
        raise ValueError(f"invalid sampling rate {fs!r}")
    leads = _unique([canonical_lead(n) for n in names])
    rec = Recording(path, source, float(fs), tuple(leads), source_format, **kwargs)  # type: ignore[arg-type]
    if rec.resolution is not None and len(rec.resolution) != len(leads):
        raise ValueError(f"{len(rec.resolution)} resolutions for {len(leads)} leads")
    _derive_missing_limb_leads(rec)
    _check_signals(rec)
    return rec


def _unique(names: list[str]) -> list[str]:
    """Keep duplicate lead names apart (``V1``, ``V1 (2)``) rather than silently dropping one."""
    seen: dict[str, int] = {}
    out = []
    for n in names:
        seen[n] = seen.get(n, 0) + 1
        out.append(n if seen[n] == 1 else f"{n} ({seen[n]})")
    return out


def _derive_missing_limb_leads(rec: Recording) -> None:
    have = set(rec.leads)
    missing = [n for n in LIMB_LEADS[2:] if n not in have]
    if not missing or not {"I", "II"} <= have:
        return
    # Standard leads in standard order, then the others in file order.
    order = [n for n in STANDARD_LEADS if n in have or n in missing]
    order += [n for n in rec.leads if n not in STANDARD_LEADS]
    recipe: list[int | str] = [rec.leads.index(n) if n in have else n for n in order]
    rec.source = DerivedLimbSource(rec.source, recipe, rec.leads.index("I"), rec.leads.index("II"))
    if rec.resolution is not None:
        # III = II - I keeps the step of I and II; aVR, aVL and aVF halve a sum, so half the step.
        res_i, res_ii = rec.resolution[rec.leads.index("I")], rec.resolution[rec.leads.index("II")]
        step = res_i if res_i == res_ii else None
        derived = {"III": step, "aVR": step and step / 2, "aVL": step and step / 2, "aVF": step and step / 2}
        rec.resolution = tuple(rec.resolution[r] if isinstance(r, int) else derived[r] for r in recipe)
    rec.leads = tuple(order)
    rec.derived = frozenset(missing)
    rec.warnings.append(f"{', '.join(missing)} derived from I and II (not recorded)")


def _check_signals(rec: Recording) -> None:
    """Warn about what would otherwise be a silently wrong picture."""
    n = rec.n_samples if not rec.source.lazy else min(rec.n_samples, int(CHECK_SECONDS * rec.fs))
    data = rec.source.read(0, n) if n else np.zeros((len(rec.leads), 0), np.float32)
    if n == 0:
        raise ValueError("the recording holds no samples")
    finite = np.isfinite(data)
    if not finite.any():
        raise ValueError("every sample is missing (NaN)")
    for i, lead in enumerate(rec.leads):
        x = data[i][finite[i]]
        missing = 1.0 - x.size / n
        if x.size == 0:
            rec.warnings.append(f"lead {lead}: no signal (all samples missing)")
            continue
        if missing > 0:
            rec.warnings.append(f"lead {lead}: {missing:.0%} of samples missing, shown as gaps")
        if np.ptp(x) < FLAT_MV:
            rec.warnings.append(f"lead {lead}: flat line (under {FLAT_MV * 1000:.0f} uV)")
    ok = data[finite]
    peak = float(np.percentile(np.abs(ok - np.median(ok)), 99.9)) if ok.size else 0.0
    if peak > IMPLAUSIBLE_MV:
        rec.warnings.append(f"amplitudes reach {peak:.0f} mV, implausible for an ECG: check the file's units")
