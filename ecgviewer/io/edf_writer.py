"""Save as EDF+ (or BDF+ when the integers need more than 16 bits): the writer beside
``edf_reader``, with physical ranges whose 8-character texts are exact for each lead's step."""

from __future__ import annotations

import errno
import math
import re
import warnings
from dataclasses import dataclass, replace
from datetime import date
from fractions import Fraction
from pathlib import Path

import numpy as np

from ecgviewer.io.coding import (
    WINDOW,
    LeadCoding,
    SaveError,
    check_space,
    commit,
    max_errors,
    one_line,
    report_changes,
    scan,
    windows,
)
from ecgviewer.io.edf_reader import DERIVED, UNKNOWN_START, header_of
from ecgviewer.leads import STANDARD_LEADS
from ecgviewer.recording import Annotation, Recording

EDF_TEXT = 8  # characters of EDF's physical minimum and maximum fields
EDF_RECORD_BYTES = 61440  # the EDF specification's recommended upper limit for a data record
MAX_ANNOTATION_SIGNALS = 64  # edflib's limit; each holds one annotation per data record
MAX_ANNOTATION_TEXT = 40  # edflib cuts longer annotation texts
_UNITS = (("uV", Fraction(1000)), ("mV", Fraction(1)))  # EDF physical dimension, factor from mV


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
        pmin, pmax = _decimal((lo + c.offset) * value), _decimal((hi + c.offset) * value)
        if pmin is None or pmax is None:
            continue
        cal = EdfCalibration(lo, hi, pmin, pmax, unit)
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
    best: EdfCalibration | None = None
    for unit, factor in _UNITS:
        pmin = _near_text(Fraction(lo - margin) * factor, math.floor)
        pmax = _near_text(Fraction(hi) * factor, math.ceil)
        cal = EdfCalibration(dlo, dhi, pmin, pmax, unit)
        if best is None or cal.coding().step < best.coding().step:
            best = cal
    assert best is not None  # _UNITS is not empty
    return best, replace(best.coding(), missing=c.missing, exact=False, vmin=c.vmin, vmax=c.vmax)


def _nearest(c: LeadCoding, dlo: int, dhi: int) -> EdfCalibration:
    best: EdfCalibration | None = None
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
    assert best is not None  # _UNITS is not empty
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
    return "".join(ch if 33 <= ord(ch) < 127 else "_" for ch in one_line(text).replace(" ", "_"))


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


def save_edf(rec: Recording, target: Path, tmp: Path, identifiers: bool, notes: list[str]) -> Path:
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
    check_space(target, (rec.n_samples + pad) * len(rec.leads) * width)
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
    report_changes(rec, [c for _, c in signals], errors, notes)
    commit(tmp, [(path, target)])
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
            header = {**_patient_fields(rec, identifiers), "startdate": start.replace(microsecond=0)}
            writer.setHeader(header)  # type: ignore[arg-type]  # pyedflib's stub omits its datetime field
        if start.microsecond:  # pyedflib multiplies microseconds by 100; edflib counts 100 ns units
            set_starttime_subsecond(writer.handle, start.microsecond * 10)
        for a in annotations:
            writer.writeAnnotation(a.onset, a.duration if a.duration is not None else -1, a.text)
        codings = [c for _, c in signals]
        errors = np.zeros(n_leads)
        for _, data in windows(rec, spr * max(1, WINDOW // spr)):
            if data.shape[1] % spr:  # the last, partial record: the last value repeated
                data = np.pad(data, ((0, 0), (0, -data.shape[1] % spr)), mode="edge")
            codes = np.stack([c.codes(x) for c, x in zip(codings, data, strict=True)])
            for row, (cal, _) in enumerate(signals):
                codes[row][np.isnan(data[row])] = cal.dmin
            errors = np.maximum(errors, max_errors(codings, data, codes))
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
