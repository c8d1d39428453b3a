"""What the WFDB and EDF+ writers share: each lead's integer grid (``scan``: the step of the
integers its file stored, or the coarsest fraction of it that holds the samples), the changes
quantising made, the free-space check and moving finished files into place (the header last)."""

from __future__ import annotations

import math
import os
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import numpy as np

from ecgviewer.errors import EcgError
from ecgviewer.recording import Recording

WINDOW = 1 << 16  # samples per lead per read: the block size of a paged source
# Fractions of a lead's step tried, coarsest first, when its samples are off the step's grid.
DIVISORS = tuple(sorted(2**a * 5**b for a in range(10) for b in range(5) if 2**a * 5**b <= 1000))
UNKNOWN_STEP = Fraction(1, 1000)  # mV: a lead of unknown step is tried on a 1 uV grid and its fractions
FINE_STEP = Fraction(1, 10**6)  # mV: WFDB's quantum (1 nV, format 32) for a lead on no grid
_EPS32 = float(np.finfo(np.float32).eps)


class SaveError(EcgError):
    """A recording could not be saved; ``str()`` names the file and why."""

    def __init__(self, path: str | os.PathLike[str], cause: str) -> None:
        self.path = Path(path)
        self.cause = cause
        super().__init__(f"Cannot save {self.path.name}: {cause} ({self.path})")


@dataclass
class LeadCoding:
    """How one lead's samples become integers: ``value = (code + offset) * step`` (mV)."""

    step: Fraction
    offset: Fraction = Fraction(0)
    low: int = 0  # smallest and largest code of the finite samples
    high: int = 0
    missing: int = 0  # NaN samples
    exact: bool = True  # every sample is exactly some code's value
    vmin: float = 0.0  # range of the finite samples, mV
    vmax: float = 0.0

    def codes(self, x: np.ndarray) -> np.ndarray:
        """Codes of ``x`` (float64 in; NaN gives 0: callers store their missing-sample code)."""
        c = np.rint(x / float(self.step) - float(self.offset))
        return np.nan_to_num(c, nan=0.0).astype(np.int64)

    def values(self, codes: np.ndarray) -> np.ndarray:
        return (codes + float(self.offset)) * float(self.step)


def grid_fraction(step: float) -> Fraction:
    """The simple fraction a float step stands for (1/1716 mV, 20/65535 mV), else the float itself."""
    simple = Fraction(step).limit_denominator(10**9)
    return simple if abs(float(simple) - step) <= 4 * math.ulp(step) else Fraction(step)


class _Scan:
    """First pass over one lead: its range, NaNs, and the coarsest grid that holds every sample.

    A grid is a fraction ``1/m`` of the lead's step; a window's valid ``m`` are the multiples of
    its smallest, so the lead's grid is the least common multiple over the windows. With
    ``offset`` (EDF), the grid may be shifted by a constant (EDF's half step of symmetric ranges).
    """

    def __init__(self, step: float | None, offset: bool) -> None:
        self.base = abs(grid_fraction(step)) if step else UNKNOWN_STEP  # EDF may invert the polarity
        self.m: int | None = 1
        self._offset = offset
        self.ref: float | None = None
        self.lo, self.hi, self.missing = math.inf, -math.inf, 0

    def _on_grid(self, x: np.ndarray, m: int, scale: float) -> bool:
        step = float(self.base / m)
        # float32 samples, and leads computed from others in float32, are off by a few ulps of the
        # largest sample: tolerated, in units of the step, while the grid stays resolvable (integers
        # up to about 2**21 in float32).
        tol = 1e-3 + 2 * _EPS32 * scale / step
        if tol > 0.45:
            return False
        u = (x - self.ref) / step
        return bool(np.all(np.abs(u - np.rint(u)) <= tol))

    def update(self, x: np.ndarray, scale: float) -> None:
        finite = np.isfinite(x)
        self.missing += int(x.size - np.count_nonzero(finite))
        x = x[finite].astype(np.float64)
        if x.size == 0:
            return
        self.lo, self.hi = min(self.lo, float(x.min())), max(self.hi, float(x.max()))
        if self.ref is None:  # the smallest sample: its float32 rounding is the least, in steps
            self.ref = float(x[np.argmin(np.abs(x))]) if self._offset else 0.0
        if self.m is None or self._on_grid(x, self.m, scale):
            return
        mw = next((d for d in DIVISORS if self._on_grid(x, d, scale)), None)
        self.m = None if mw is None else math.lcm(self.m, mw)
        if self.m is not None and self.m > DIVISORS[-1]:
            self.m = None

    def coding(self) -> LeadCoding:
        """The grid as a coding; ``exact=False`` (step still to choose) when there is none."""
        lo, hi = (self.lo, self.hi) if self.ref is not None else (0.0, 0.0)
        if self.m is None:
            return LeadCoding(self.base, missing=self.missing, exact=False, vmin=lo, vmax=hi)
        step = self.base / self.m
        t0 = (self.ref or 0.0) / float(step)
        f = t0 - math.ceil(t0 - 0.5)  # in (-1/2, 1/2]: EDF's symmetric ranges have +1/2
        offset = Fraction(f).limit_denominator(100)
        if abs(f) < 1e-3:
            offset = Fraction(0)
        elif abs(float(offset) - f) > 1e-4:  # no simple fraction: the codes are kept, not the texts
            offset = Fraction(f)
        elif offset <= -Fraction(1, 2):
            offset += 1
        coding = LeadCoding(step, offset, missing=self.missing, vmin=lo, vmax=hi)
        coding.low, coding.high = (int(c) for c in coding.codes(np.array([lo, hi])))
        return coding


def windows(rec: Recording, size: int) -> Iterator[tuple[int, np.ndarray]]:
    for start in range(0, rec.n_samples, size):
        yield start, rec.read(start, start + size).astype(np.float64)


def scan(rec: Recording, offset: bool) -> list[LeadCoding]:
    """Each lead's coding (first pass over the whole recording, window by window)."""
    res = rec.resolution or (None,) * len(rec.leads)
    scans = [_Scan(r, offset) for r in res]
    for _, data in windows(rec, WINDOW):
        finite = np.abs(data[np.isfinite(data)])
        scale = float(finite.max()) if finite.size else 0.0
        for s, x in zip(scans, data, strict=True):
            s.update(x, scale)
    return [s.coding() for s in scans]


def max_errors(codings: list[LeadCoding], data: np.ndarray, codes: np.ndarray) -> np.ndarray:
    """Per lead, the largest |sample - value of its code| in mV (NaN samples aside)."""
    out = np.zeros(len(codings))
    for k, c in enumerate(codings):
        diff = np.abs(data[k] - c.values(codes[k]))
        diff = diff[np.isfinite(diff)]
        out[k] = float(diff.max()) if diff.size else 0.0
    return out


def report_changes(rec: Recording, codings: list[LeadCoding], errors: np.ndarray, notes: list[str]) -> None:
    """Notes for the leads not kept exactly: those quantised, and any whose measured change exceeds
    float32 rounding (a check on the grid found)."""
    rounding = 4 * _EPS32 * max(max(abs(c.vmin), abs(c.vmax)) for c in codings)
    for lead, c, err in zip(rec.leads, codings, errors, strict=True):
        if not c.exact:
            notes.append(
                f"lead {lead}: values on no integer grid, quantised to {float(c.step) * 1000:.4g} uV steps "
                f"(largest change {err * 1000:.3g} uV)"
            )
        elif err > rounding:
            notes.append(f"lead {lead}: values changed by up to {err * 1000:.3g} uV")


def check_space(target: Path, data_bytes: int) -> None:
    free = shutil.disk_usage(target.parent).free
    if data_bytes > free:
        raise SaveError(
            target, f"the disk is full ({data_bytes / 1e6:.1f} MB needed, {free / 1e6:.1f} MB free)"
        )


def commit(tmp: Path, moves: list[tuple[Path, Path]]) -> None:
    """Move the finished files into place in order (the header last); on failure, put back what was
    there, so a reader never sees a header without its data."""
    done: list[tuple[Path, Path | None]] = []
    try:
        for src, dst in moves:
            backup = None
            if dst.exists():
                backup = tmp / f"previous-{dst.name}"
                try:
                    os.link(dst, backup)
                except OSError:
                    shutil.copy2(dst, backup)
            os.replace(src, dst)
            done.append((dst, backup))
    except OSError:
        for dst, backup in reversed(done):
            if backup is not None:
                os.replace(backup, dst)
            else:
                dst.unlink(missing_ok=True)
        raise


def one_line(text: str) -> str:
    return " ".join(str(text).split())
