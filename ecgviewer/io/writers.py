"""Save as WFDB or EDF+: lossless (the integers the source file stored come back) and atomic.

A recording knows, per lead, the step of the integers its file stored (``Recording.resolution``).
The writers store ``round(x / step)`` with a calibration that maps each integer back to the very
same value: for EDF, digital and physical ranges whose 8-character texts are exact for the step.
Leads off that grid (aVR = -(I + II) / 2 has half steps) get the coarsest binary or decimal
fraction of the step that holds them; leads on no grid are quantised finely, the error reported.

Long recordings are read and written window by window (two passes: one to find each lead's grid
and range, one to write). Files are written beside the target under temporary names and moved
into place only once complete, the header last: a failure leaves the old file or nothing.
"""

from __future__ import annotations

import errno
import math
import os
import re
import shutil
import tempfile
import warnings
from collections.abc import Iterator
from dataclasses import dataclass, replace
from datetime import date
from fractions import Fraction
from pathlib import Path

import numpy as np

from ecgviewer.errors import EcgError
from ecgviewer.io.edf_reader import DERIVED, UNKNOWN_START, header_of
from ecgviewer.io.wfdb_reader import IDENTIFIER_PREFIX
from ecgviewer.leads import STANDARD_LEADS
from ecgviewer.recording import Annotation, Recording

FORMATS = {".hea": "wfdb", ".dat": "wfdb", ".edf": "edf", ".bdf": "edf"}
WINDOW = 1 << 16  # samples per lead per read: the block size of a paged source
# Fractions of a lead's step tried, coarsest first, when its samples are off the step's grid.
DIVISORS = tuple(sorted(2**a * 5**b for a in range(10) for b in range(5) if 2**a * 5**b <= 1000))
UNKNOWN_STEP = Fraction(1, 1000)  # mV: a lead of unknown step is tried on a 1 uV grid and its fractions
FINE_STEP = Fraction(1, 10**6)  # mV: WFDB's quantum (1 nV, format 32) for a lead on no grid
EDF_TEXT = 8  # characters of EDF's physical minimum and maximum fields
EDF_RECORD_BYTES = 61440  # the EDF specification's recommended upper limit for a data record
MAX_ANNOTATION_SIGNALS = 64  # edflib's limit; each holds one annotation per data record
MAX_ANNOTATION_TEXT = 40  # edflib cuts longer annotation texts
_EPS32 = float(np.finfo(np.float32).eps)
_RECORD_NAME = re.compile(r"[-\w]+", re.ASCII)
_UNITS = (("uV", Fraction(1000)), ("mV", Fraction(1)))  # EDF physical dimension, factor from mV


class SaveError(EcgError):
    """A recording could not be saved; ``str()`` names the file and why."""

    def __init__(self, path: str | Path, cause: str) -> None:
        self.path = Path(path)
        self.cause = cause
        super().__init__(f"Cannot save {self.path.name}: {cause} ({self.path})")


def format_for(path: str | os.PathLike[str]) -> str:
    """The format, "wfdb" or "edf", that the file name's suffix asks for."""
    fmt = FORMATS.get(Path(path).suffix.lower())
    if fmt is None:
        raise SaveError(path, "unknown format: name the file .hea (WFDB) or .edf (EDF+)")
    return fmt


def save(
    recording: Recording,
    path: str | os.PathLike[str],
    fmt: str | None = None,
    *,
    identifiers: bool = False,
    notes: list[str] | None = None,
) -> Path:
    """Write ``recording`` as WFDB (``.hea`` + ``.dat``) or EDF+ and return the path written (the
    ``.hea``, or ``.bdf`` when the integers need more than EDF's 16 bits).

    Patient identifiers are written only with ``identifiers=True``. What was not kept exactly
    (values quantised, annotations cut) is appended to ``notes`` as plain sentences.
    """
    target = Path(path).expanduser()
    fmt = fmt or format_for(target)
    if fmt not in ("wfdb", "edf"):
        raise SaveError(target, f"unknown format {fmt!r} (wfdb or edf)")
    if not target.parent.is_dir():
        raise SaveError(target, "the folder does not exist")
    out = notes if notes is not None else []
    tmp = None
    try:
        tmp = Path(tempfile.mkdtemp(prefix=".ecgviewer-save-", dir=target.parent))
        if fmt == "wfdb":
            return _save_wfdb(recording, target, tmp, identifiers, out)
        return _save_edf(recording, target, tmp, identifiers, out)
    except SaveError:
        raise
    except OSError as exc:
        raise SaveError(target, _cause(exc)) from None
    except MemoryError:
        raise SaveError(target, "not enough memory") from None
    except Exception as exc:  # a library failing on odd input must not crash the app
        cause = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise SaveError(target, f"write failed ({cause})") from exc
    finally:
        if tmp is not None:
            shutil.rmtree(tmp, ignore_errors=True)


def _cause(exc: OSError) -> str:
    plain = {
        errno.ENOSPC: "the disk is full",
        errno.EDQUOT: "the disk quota is exceeded",
        errno.EACCES: "permission denied",
        errno.EPERM: "permission denied",
        errno.EROFS: "the folder is on a read-only disk",
        errno.ENOENT: "the folder does not exist",
    }
    return plain.get(exc.errno or 0, exc.strerror or str(exc))


# -- Which integers: each lead's grid ----------------------------------------------------------------


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


def _fraction(step: float) -> Fraction:
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
        self.base = abs(_fraction(step)) if step else UNKNOWN_STEP  # EDF may invert the polarity
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


def _windows(rec: Recording, size: int) -> Iterator[tuple[int, np.ndarray]]:
    for start in range(0, rec.n_samples, size):
        yield start, rec.read(start, start + size).astype(np.float64)


def scan(rec: Recording, offset: bool) -> list[LeadCoding]:
    """Each lead's coding (first pass over the whole recording, window by window)."""
    res = rec.resolution or (None,) * len(rec.leads)
    scans = [_Scan(r, offset) for r in res]
    for _, data in _windows(rec, WINDOW):
        finite = np.abs(data[np.isfinite(data)])
        scale = float(finite.max()) if finite.size else 0.0
        for s, x in zip(scans, data, strict=True):
            s.update(x, scale)
    return [s.coding() for s in scans]


# -- WFDB --------------------------------------------------------------------------------------------


def _wfdb_coding(c: LeadCoding) -> LeadCoding:
    """A lead on no grid, or whose codes overflow 32 bits: quantised to 1 nV (coarser if it must)."""
    if c.exact and c.low > -(2**31) and c.high < 2**31:
        return c
    step = FINE_STEP * max(1, math.ceil(max(abs(c.vmin), abs(c.vmax)) / 2147.0))
    q = replace(c, step=step, offset=Fraction(0), exact=False)
    q.low, q.high = (int(v) for v in q.codes(np.array([c.vmin, c.vmax])))
    return q


def _save_wfdb(rec: Recording, target: Path, tmp: Path, identifiers: bool, notes: list[str]) -> Path:
    import wfdb

    name = target.stem if target.suffix.lower() in (".hea", ".dat") else target.name
    if not _RECORD_NAME.fullmatch(name):
        raise SaveError(target, "a WFDB record name may hold only letters, digits, '-' and '_'")
    hea, dat = target.with_name(name + ".hea"), target.with_name(name + ".dat")
    codings = [_wfdb_coding(c) for c in scan(rec, offset=False)]
    fmt16 = all(c.low > -32768 and c.high <= 32767 for c in codings)
    dtype, missing = ("<i2", -32768) if fmt16 else ("<i4", -(2**31))
    _check_space(target, rec.n_samples * len(rec.leads) * (2 if fmt16 else 4))
    n_leads = len(rec.leads)
    checksum, first = np.zeros(n_leads, np.int64), np.zeros(n_leads, np.int64)
    errors = np.zeros(n_leads)
    with open(tmp / dat.name, "wb") as fh:
        for start, data in _windows(rec, WINDOW):
            codes = np.stack([c.codes(x) for c, x in zip(codings, data, strict=True)])
            codes[np.isnan(data)] = missing
            errors = np.maximum(errors, _max_errors(codings, data, codes))
            checksum += codes.sum(axis=1)
            if start == 0:
                first = codes[:, 0].copy()
            fh.write(codes.T.astype(dtype).tobytes())
    start_time = rec.start_time
    record = wfdb.Record(
        record_name=name,
        n_sig=n_leads,
        fs=rec.fs,
        sig_len=rec.n_samples,
        base_date=start_time.date() if start_time else None,
        base_time=start_time.time() if start_time else None,
        file_name=[dat.name] * n_leads,
        fmt=["16" if fmt16 else "32"] * n_leads,
        adc_gain=[float(1 / c.step) for c in codings],
        baseline=[0] * n_leads,
        units=["mV"] * n_leads,
        adc_res=[16 if fmt16 else 32] * n_leads,
        adc_zero=[0] * n_leads,
        init_value=[int(v) for v in first],
        checksum=[int((s + 32768) % 65536 - 32768) for s in checksum],  # 16-bit signed sum
        block_size=[0] * n_leads,
        sig_name=list(rec.leads),
        comments=_comments(rec, identifiers),
    )
    record.wrheader(write_dir=str(tmp))
    moves = [(tmp / dat.name, dat)]
    annotations = [a for a in rec.metadata.annotations if a.text.strip() and a.onset >= 0]
    if annotations:  # WFDB "comment" annotations ('"'), the text in the aux field; durations are lost
        wfdb.wrann(
            name,
            "atr",
            np.array([round(a.onset * rec.fs) for a in annotations], np.int64),
            symbol=['"'] * len(annotations),
            aux_note=[_one_line(a.text) for a in annotations],
            fs=rec.fs,
            write_dir=str(tmp),
        )
        moves.append((tmp / (name + ".atr"), target.with_name(name + ".atr")))
        if any(a.duration for a in annotations):
            notes.append("annotation durations are not kept in WFDB (only onsets and texts)")
    _report(rec, codings, errors, notes)
    _commit(tmp, [*moves, (tmp / hea.name, hea)])
    return hea


def _one_line(text: str) -> str:
    return " ".join(str(text).split())


def _comments(rec: Recording, identifiers: bool) -> list[str]:
    """Header comments (``key: value``, as WFDB readers of LUDB and the Challenge parse them)."""
    meta = rec.metadata
    lines = []
    if meta.age is not None:
        lines.append(f"age: {meta.age:g}")
    if meta.sex:
        lines.append(f"sex: {meta.sex}")
    lines += [f"{k}: {v}" for k, v in meta.extra.items()]
    if meta.report:
        lines.append(f"report: {meta.report}")
    device = meta.device
    if device is not None:
        if device.device:
            lines.append(f"device: {device.device}")
        lines += [f"device statement {k}: {s}" for k, s in enumerate(device.statements, 1)]
        lines += [f"device {k}: {v:g}" for k, v in device.measurements.items()]
        if device.qtc_formula:
            lines.append(f"device qtc formula: {device.qtc_formula}")
    derived = [lead for lead in rec.leads if lead in rec.derived]
    if derived:
        lines.append(f"derived leads: {' '.join(derived)} (computed from I and II, not recorded)")
    if identifiers:  # prefixed, so a reader files them as identifiers, not as ordinary facts
        lines += [f"{IDENTIFIER_PREFIX}{k}: {v}" for k, v in meta.identifiers.items()]
    return [_one_line(line) for line in lines]


# -- EDF+ --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class EdfCalibration:
    """One EDF signal's digital range and the exact texts of its physical range."""

    dmin: int
    dmax: int
    pmin: str
    pmax: str
    unit: str  # "uV" or "mV"

    def coding(self) -> LeadCoding:
        """The coding this calibration stands for, exactly as a reader computes it."""
        factor = dict(_UNITS)[self.unit]
        step = (Fraction(self.pmax) - Fraction(self.pmin)) / (self.dmax - self.dmin) / factor
        return LeadCoding(step, Fraction(self.pmin) / factor / step - self.dmin)


def _decimal(v: Fraction) -> str | None:
    """``v`` written exactly as a decimal of at most 8 characters, else None."""
    den, k2, k5 = v.denominator, 0, 0
    while den % 2 == 0:
        den, k2 = den // 2, k2 + 1
    while den % 5 == 0:
        den, k5 = den // 5, k5 + 1
    if den != 1:
        return None
    k = max(k2, k5)
    digits = str(abs(v.numerator) * 10**k // v.denominator).rjust(k + 1, "0")
    text = ("-" if v < 0 else "") + (digits[:-k] + "." + digits[-k:] if k else digits)
    return text if len(text) <= EDF_TEXT else None


def _near_text(v: Fraction, rounding) -> str:
    """The longest-precision text of at most 8 characters near ``v`` (``rounding``: math.floor,
    math.ceil or round)."""
    for k in range(EDF_TEXT - 1, -1, -1):
        text = _decimal(Fraction(rounding(v * 10**k), 10**k))
        if text is not None:
            return text
    raise ValueError(f"physical value {float(v):g} does not fit EDF's 8 characters")


def _endpoint(value: Fraction, offset: Fraction, lo: int, hi: int, low_end: bool) -> int | None:
    """The digital value in ``lo..hi`` nearest ``lo`` (``low_end``) or ``hi`` whose physical value
    ``(d + offset) * value`` has an exact text of at most 8 characters, else None.

    For k decimals the value is a multiple of 10**-k exactly when ``d`` lies in one residue class
    (solved modulo G below); the text's length bounds the magnitude. So each k is one computation.
    """
    best = None
    fa, fb = offset.numerator, offset.denominator
    for k in range(EDF_TEXT):
        w = value * 10**k
        g = fb * w.denominator // math.gcd(fb * w.denominator, w.numerator)
        # (d * fb + fa) must be a multiple of g.
        if math.gcd(fb, g) != 1:
            continue
        residue = (-fa * pow(fb, -1, g)) % g if g > 1 else 0
        frac = k + 1 if k else 0
        neg_max, pos_max = Fraction(10 ** (EDF_TEXT - 1 - frac)), Fraction(10 ** (EDF_TEXT - frac))
        a = max(lo, math.ceil(-neg_max / value - offset + Fraction(1, 10**9)))
        b = min(hi, math.floor(pos_max / value - offset - Fraction(1, 10**9)))
        if a > b:
            continue
        d = a + (residue - a) % g if low_end else b - (b - residue) % g
        if not a <= d <= b or _decimal((d + offset) * value) is None:
            continue
        if best is None or (d < best if low_end else d > best):
            best = d
    return best


def edf_calibration(c: LeadCoding, dlo: int, dhi: int) -> EdfCalibration | None:
    """The widest digital range within ``dlo..dhi`` holding the codes ``c.low..c.high`` whose
    physical range has exact 8-character texts, in uV or mV; None when there is none. A lead with
    missing samples gets the nearest minimum below its codes instead: missing samples are written
    as the minimum, which then lies just below the signal rather than far off."""
    best = None
    for unit, factor in _UNITS:
        value = c.step * factor
        lo = _endpoint(value, c.offset, dlo, c.low - (1 if c.missing else 0), not c.missing)
        hi = _endpoint(value, c.offset, c.high, dhi, False)
        if lo is None or hi is None:
            continue
        cal = EdfCalibration(
            lo, hi, _decimal((lo + c.offset) * value), _decimal((hi + c.offset) * value), unit
        )
        if best is None or hi - lo > best.dmax - best.dmin:
            best = cal
    return best


def _shifted(c: LeadCoding, dlo: int, dhi: int) -> LeadCoding:
    """The codes moved (a whole number, into the offset) to fit ``dlo..dhi`` when they do not."""
    if dlo + (1 if c.missing else 0) <= c.low and c.high <= dhi:
        return c
    shift = -((c.low + c.high) // 2)
    return replace(c, offset=c.offset - shift, low=c.low + shift, high=c.high + shift)


def _edf_signal(c: LeadCoding, dlo: int, dhi: int) -> tuple[EdfCalibration, LeadCoding]:
    """The calibration to write and the coding it stands for: exact where the data allow; else
    the nearest texts for the same integers (a step such as 1/65537 mV), kept when every integer
    still maps back to itself; else a requantisation over the lead's range."""
    spare = 1 if c.missing else 0
    if c.exact and c.high - c.low + spare <= dhi - dlo:
        c = _shifted(c, dlo, dhi)
        cal = edf_calibration(c, dlo, dhi) or _nearest(c, dlo, dhi)
        got = replace(cal.coding(), low=c.low, high=c.high, missing=c.missing, vmin=c.vmin, vmax=c.vmax)
        ends = np.array([c.low, c.high], np.float64)
        drift = c.values(ends) / float(got.step) - float(got.offset) - ends  # linear: largest at the ends
        if np.all(np.abs(drift) < 0.25):
            return cal, got
    lo, hi = (c.vmin, c.vmax) if c.vmax > c.vmin else (c.vmin - 1.0, c.vmax + 1.0)  # a flat lead: any
    margin = (hi - lo) * 2 / (dhi - dlo) if c.missing else 0.0  # keeps dmin free for missing samples
    best = None
    for unit, factor in _UNITS:
        pmin = _near_text(Fraction(lo - margin) * factor, math.floor)
        pmax = _near_text(Fraction(hi) * factor, math.ceil)
        cal = EdfCalibration(dlo, dhi, pmin, pmax, unit)
        if best is None or cal.coding().step < best.coding().step:
            best = cal
    return best, replace(best.coding(), missing=c.missing, exact=False, vmin=c.vmin, vmax=c.vmax)


def _nearest(c: LeadCoding, dlo: int, dhi: int) -> EdfCalibration:
    best = None
    for unit, factor in _UNITS:
        value = c.step * factor
        cal = EdfCalibration(
            dlo,
            dhi,
            _near_text((dlo + c.offset) * value, round),
            _near_text((dhi + c.offset) * value, round),
            unit,
        )
        if best is None or abs(cal.coding().step - c.step) < abs(best.coding().step - c.step):
            best = cal
    return best


def _record_samples(n: int, fs: float, row_bytes: int, n_annotations: int) -> tuple[int, int]:
    """Samples per data record, and the padding the last record needs. A record must last a whole
    number of 10 us (edflib's unit; the header's duration is then exact) within 1 ms..60 s and hold
    its share of the annotations (64 at most per record). Preferred, in order: no padding (or the
    least: 3601 samples at 360 Hz cannot avoid some), EDF's recommended record size, about 1 s."""
    rate = Fraction(fs).limit_denominator(10**6)
    sizes = np.arange(1, max(1, int(60 * fs)) + 1, dtype=np.int64)
    whole = (sizes * 100_000 * rate.denominator) % rate.numerator == 0
    dur = sizes / float(rate)
    records = -(-n // sizes)
    ok = whole & (dur >= 0.001) & (records * MAX_ANNOTATION_SIGNALS >= n_annotations)
    if not ok.any():
        raise ValueError(f"no EDF data record length suits {fs:g} Hz")
    sizes, dur, pad = sizes[ok], dur[ok], (records * sizes - n)[ok]
    best = np.lexsort((np.abs(np.log(dur)), sizes * row_bytes > EDF_RECORD_BYTES, pad))[0]
    return int(sizes[best]), int(pad[best])


def _edf_label(lead: str) -> str:
    return (f"ECG {lead}" if lead in STANDARD_LEADS else lead)[:16]


def _ascii(text: str) -> str:
    """EDF header text: printable ASCII, spaces as underscores (EDF+ subfields)."""
    return "".join(ch if 33 <= ord(ch) < 127 else "_" for ch in _one_line(text).replace(" ", "_"))


def _patient_fields(rec: Recording, identifiers: bool) -> dict[str, object]:
    """EDF+ patient and recording subfields: "X" (unknown) for every identifier unless asked."""
    meta = rec.metadata
    ids = meta.identifiers if identifiers else {}
    notes = ids.get("patient notes", "")
    if meta.age is not None and not re.search(r"\bage\b", notes, re.IGNORECASE):
        notes = f"{notes} age:{meta.age:g}".strip()
    fields: dict[str, object] = {
        "patientcode": _ascii(ids.get("patient id", "")),
        "patientname": _ascii(ids.get("name", "")),
        "patient_additional": _ascii(notes),
        "technician": _ascii(ids.get("technician", "")),
        "admincode": _ascii(ids.get("admin code", "")),
        "equipment": _ascii(meta.extra.get("equipment") or (meta.device.device if meta.device else "") or ""),
        "recording_additional": _ascii(meta.extra.get("recording notes", "")),
        "sex": {"male": 1, "female": 0}.get(meta.sex or ""),
    }
    try:
        fields["birthdate"] = date.fromisoformat(ids.get("birth date", ""))
    except ValueError:
        fields["birthdate"] = ""
    return fields


def _save_edf(rec: Recording, target: Path, tmp: Path, identifiers: bool, notes: list[str]) -> Path:
    codings = scan(rec, offset=True)
    bdf = target.suffix.lower() == ".bdf" or any(
        c.exact and c.high - c.low + (1 if c.missing else 0) > 65535 for c in codings
    )
    if target.suffix.lower() not in (".edf", ".bdf"):
        target = target.with_name(target.name + ".edf")
    if bdf and target.suffix.lower() != ".bdf":
        target = target.with_suffix(".bdf")
        notes.append(f"saved as BDF+ ({target.name}): the stored integers need more than EDF's 16 bits")
    dlo, dhi = (-(2**23), 2**23 - 1) if bdf else (-(2**15), 2**15 - 1)
    signals = [_edf_signal(c, dlo, dhi) for c in codings]
    annotations = sorted((a for a in rec.metadata.annotations if a.onset >= 0), key=lambda a: a.onset)
    width = 3 if bdf else 2
    spr, pad = _record_samples(rec.n_samples, rec.fs, len(rec.leads) * width, len(annotations))
    n_records = (rec.n_samples + pad) // spr
    _check_space(target, (rec.n_samples + pad) * len(rec.leads) * width)
    path = tmp / target.name
    errors = _write_edf(
        path, rec, signals, bdf, spr, annotations[: n_records * MAX_ANNOTATION_SIGNALS], identifiers
    )
    cals = [cal for cal, _ in signals]
    _write_physical_texts(path, cals)
    header = header_of(path)
    written = [(Fraction(s.pmin), Fraction(s.pmax), s.dmin, s.dmax) for s in header.signals[: len(cals)]]
    if header.n_records != n_records:  # edflib reports few write errors (a full disk among them)
        raise SaveError(
            target, f"the file was not completely written ({header.n_records} of {n_records} records)"
        )
    if written != [(Fraction(c.pmin), Fraction(c.pmax), c.dmin, c.dmax) for c in cals]:
        raise SaveError(target, "the calibration written differs from the one intended")
    if pad:
        notes.append(
            f"{pad} samples added at the end (the last value repeated): EDF stores whole data records"
        )
    _annotation_notes(annotations, n_records, notes)
    if rec.metadata.device is not None:
        notes.append("the device's interpretation and measurements are not kept in EDF+ (WFDB keeps them)")
    for lead, (_, c) in zip(rec.leads, signals, strict=True):
        if c.missing:
            notes.append(
                f"lead {lead}: {c.missing} missing samples written as its physical minimum (EDF has no gaps)"
            )
    _report(rec, [c for _, c in signals], errors, notes)
    _commit(tmp, [(path, target)])
    return target


def _write_edf(
    path: Path,
    rec: Recording,
    signals: list[tuple[EdfCalibration, LeadCoding]],
    bdf: bool,
    spr: int,
    annotations: list[Annotation],
    identifiers: bool,
) -> np.ndarray:
    """Write the file with pyedflib, record by record; returns each lead's largest change (mV)."""
    import pyedflib
    from pyedflib._extensions._pyedflib import set_starttime_subsecond

    n_leads = len(rec.leads)
    n_records = -(-rec.n_samples // spr)
    start = (rec.start_time or UNKNOWN_START).replace(tzinfo=None)
    writer = pyedflib.EdfWriter(
        str(path), n_leads, pyedflib.FILETYPE_BDFPLUS if bdf else pyedflib.FILETYPE_EDFPLUS
    )
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # pyedflib warns about a forced record duration
            writer.setSignalHeaders(
                [
                    {
                        "label": _edf_label(lead),
                        "dimension": cal.unit,
                        "sample_frequency": rec.fs,
                        "physical_min": float(cal.pmin),  # the exact texts are put in afterwards
                        "physical_max": float(cal.pmax),
                        "digital_min": cal.dmin,
                        "digital_max": cal.dmax,
                        "transducer": DERIVED if lead in rec.derived else "ECG electrode",
                        "prefilter": _ascii(rec.metadata.extra.get("filters", ""))[:80],
                    }
                    for lead, (cal, _) in zip(rec.leads, signals, strict=True)
                ]
            )
            writer.setDatarecordDuration(float(Fraction(spr) / Fraction(rec.fs).limit_denominator(10**6)))
            need = math.ceil(len(annotations) / n_records)
            writer.set_number_of_annotation_signals(min(MAX_ANNOTATION_SIGNALS, max(1, need)))
            writer.setHeader({**_patient_fields(rec, identifiers), "startdate": start.replace(microsecond=0)})
        if start.microsecond:  # pyedflib multiplies microseconds by 100; edflib counts 100 ns units
            set_starttime_subsecond(writer.handle, start.microsecond * 10)
        for a in annotations:
            writer.writeAnnotation(a.onset, a.duration if a.duration is not None else -1, a.text)
        codings = [c for _, c in signals]
        errors = np.zeros(n_leads)
        for _, data in _windows(rec, spr * max(1, WINDOW // spr)):
            if data.shape[1] % spr:  # the last, partial record: the last value repeated
                data = np.pad(data, ((0, 0), (0, -data.shape[1] % spr)), mode="edge")
            codes = np.stack([c.codes(x) for c, x in zip(codings, data, strict=True)])
            for row, (cal, _) in enumerate(signals):
                codes[row][np.isnan(data[row])] = cal.dmin
            errors = np.maximum(errors, _max_errors(codings, data, codes))
            block = codes.reshape(n_leads, -1, spr).transpose(1, 0, 2).reshape(-1, n_leads * spr)
            for record in np.ascontiguousarray(block, dtype=np.int32):
                if writer.blockWriteDigitalSamples(record) < 0:
                    raise OSError(errno.EIO, "write failed")
    finally:
        writer.close()
    return errors


def _write_physical_texts(path: Path, cals: list[EdfCalibration]) -> None:
    """Put the exact physical range texts into the header: edflib prints some floats a digit
    short (79951.48 as "79951.47"), which would change every value of the signal."""
    with path.open("r+b") as fh:
        ns = int(fh.read(256)[252:256])
        for column, texts in ((104, [c.pmin for c in cals]), (112, [c.pmax for c in cals])):
            for k, text in enumerate(texts):
                fh.seek(256 + ns * column + 8 * k)
                fh.write(text.ljust(EDF_TEXT).encode("ascii"))


def _annotation_notes(annotations: list[Annotation], n_records: int, notes: list[str]) -> None:
    dropped = len(annotations) - n_records * MAX_ANNOTATION_SIGNALS
    if dropped > 0:
        notes.append(f"{dropped} annotations not saved: EDF+ holds {MAX_ANNOTATION_SIGNALS} per data record")
    cut = sum(len(a.text.encode("utf-8")) > MAX_ANNOTATION_TEXT for a in annotations)
    if cut:
        notes.append(f"{cut} annotation texts cut to {MAX_ANNOTATION_TEXT} characters")


# -- Shared ------------------------------------------------------------------------------------------


def _max_errors(codings: list[LeadCoding], data: np.ndarray, codes: np.ndarray) -> np.ndarray:
    """Per lead, the largest |sample - value of its code| in mV (NaN samples aside)."""
    out = np.zeros(len(codings))
    for k, c in enumerate(codings):
        diff = np.abs(data[k] - c.values(codes[k]))
        diff = diff[np.isfinite(diff)]
        out[k] = float(diff.max()) if diff.size else 0.0
    return out


def _report(rec: Recording, codings: list[LeadCoding], errors: np.ndarray, notes: list[str]) -> None:
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


def _check_space(target: Path, data_bytes: int) -> None:
    free = shutil.disk_usage(target.parent).free
    if data_bytes > free:
        raise SaveError(
            target, f"the disk is full ({data_bytes / 1e6:.1f} MB needed, {free / 1e6:.1f} MB free)"
        )


def _commit(tmp: Path, moves: list[tuple[Path, Path]]) -> None:
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
