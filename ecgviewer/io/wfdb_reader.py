"""WFDB records (PhysioNet): every signal format wfdb reads, single- and multi-segment.

Short records are read whole through ``wfdb.rdrecord`` (its exact ADC-to-physical
conversion); long ones are paged: memory-mapped when the samples are plain interleaved
integers, otherwise read window by window through ``rdrecord(sampfrom, sampto)``.
"""

from __future__ import annotations

import math
import os
import re
from collections.abc import Mapping
from datetime import datetime
from pathlib import Path
from types import MappingProxyType

import numpy as np

from ecgviewer.errors import EcgReadError
from ecgviewer.io import ptbxl, snomed
from ecgviewer.io.registry import Reader, register
from ecgviewer.measurements import MEASUREMENTS
from ecgviewer.recording import (
    Annotation,
    DeviceReport,
    Metadata,
    Recording,
    make_recording,
)
from ecgviewer.sources import ArraySource, MemmapSource, SignalSource, WindowedSource

# Records with more values than this are paged from disk instead of loaded (32 MB as float32).
LAZY_VALUES = 8_000_000
MIN_FS, MAX_FS = 50.0, 100_000.0
MAX_AGE = 150.0  # years; an age outside 0-150 is a field misread (or a code), not the patient's
AGE_LEFT_OUT = f"the age field is not an age in 0-{MAX_AGE:g} years: left out"

IDENTIFIER_PREFIX = "identifier "  # header comments holding patient identifiers (Save as, on request)
DIAGNOSES_KEY = "diagnoses"  # LUDB: "<diagnoses>:" heads the free-text diagnoses that follow
NOTE_SYMBOLS = frozenset({'"', "+"})  # WFDB comment and rhythm-change annotations
MAX_ANNOTATIONS = 10_000
UNIT_TO_MV: Mapping[str, float] = MappingProxyType(
    {"mv": 1.0, "uv": 1e-3, "µv": 1e-3, "μv": 1e-3, "v": 1e3, "nv": 1e-6}
)
_UNKNOWN_UNITS = frozenset({"", "nu", "?", "unknown"})
# Plain little-endian integer formats numpy can map directly: fmt -> (dtype, offset to signed).
_MAPPABLE = MappingProxyType({"16": ("<i2", 0), "32": ("<i4", 0), "80": ("u1", 128)})
_MISSING = MappingProxyType({"16": -32768, "32": -(2**31), "80": 0})  # raw stored value meaning "no sample"
_HEADER_LINE = re.compile(rb"^[^\s#/]+(?:/\d+)?\s+\d+(?:\s|$)")
_NUMBERED = re.compile(r"^(.+)_\d+$")
_RECORD_NAME = re.compile(r"^\w+(?:/\d+)?$")  # name[/segments]
_RATE_FIELD = re.compile(r"^(?:\d+\.?\d*|\.\d+)(?:/[\d.]*)?(?:\(-?[\d.]*\))?$")  # fs[/counter[(base)]]
# Bytes per sample of the fixed-width formats (FLAC, 508/516/524, varies and is not checked).
_SAMPLE_BYTES: Mapping[str, float] = MappingProxyType(
    {
        "8": 1,
        "16": 2,
        "24": 3,
        "32": 4,
        "61": 2,
        "80": 1,
        "160": 2,
        "212": 1.5,
        "310": 4 / 3,
        "311": 4 / 3,
    }
)


def _header_path(path: Path) -> Path:
    """The record's header: ``rec.hea`` beside ``rec.dat``, or ``rec.hea`` beside ``rec_1.dat``
    when a record's signals are split over numbered files (PTB-XL's FLAC records)."""
    if path.suffix.lower() == ".hea":
        return path
    hea = path.with_suffix(".hea")
    numbered = _NUMBERED.match(path.stem)
    if not hea.is_file() and numbered:
        shared = path.with_name(numbered.group(1) + ".hea")
        if shared.is_file() and path.name in shared.read_text(encoding="latin-1"):
            return shared
    return hea


def sniff(path: Path, head: bytes) -> bool:
    """A WFDB header, or a signal file (.dat, .mat, ...) with its header beside it."""
    if path.suffix.lower() != ".hea":
        return path.suffix.lower() in (".dat", ".mat") and _header_path(path).is_file()
    for line in head.splitlines():
        line = line.strip()
        if line and not line.startswith(b"#"):
            return bool(_HEADER_LINE.match(line))
    return False


def _to_mv(path: Path, names: list[str], units: list[str], rec_warnings: list[str]) -> list[float | None]:
    """Per channel, the factor to mV, or None for channels that are not ECG voltages."""
    out: list[float | None] = []
    for name, unit in zip(names, units, strict=True):
        key = (unit or "").strip().lower()
        if key in UNIT_TO_MV:
            out.append(UNIT_TO_MV[key])
        elif key in _UNKNOWN_UNITS:
            out.append(1.0)
            rec_warnings.append(f"lead {name}: units not given in the header, assumed mV")
        else:
            out.append(None)
            rec_warnings.append(f"channel {name!r} skipped: units {unit!r} are not a voltage")
    if not any(f is not None for f in out):
        raise EcgReadError(path, "no channel is an ECG voltage (units: " + ", ".join(units) + ")")
    return out


def _metadata(comments: list[str], warnings: list[str]) -> tuple[Metadata, list[str]]:
    """Key: value header comments (LUDB's ``<age>: 51``, the Challenge's ``Age: 74``, PTB's, and
    what our Save as writes: the device's report, derived leads, identifiers); and the derived leads.

    The dataset's own diagnoses become the recording's ``report``: LUDB's lines after
    ``<diagnoses>:`` (free text, with or without a colon: "Left ventricular hypertrophy."), and the
    Challenge's ``Dx:`` SNOMED CT codes, named (``snomed``); ``dx`` itself stays in ``extra``.
    A ``report:`` line (our Save as) is that report, read back as written.
    """
    meta, device, derived = Metadata(), DeviceReport(), []
    diagnoses: list[str] = []
    in_diagnoses = False
    for line in comments:
        key, sep, value = line.partition(":")
        key, value = key.strip().strip("<>").strip().lower(), value.strip()
        if in_diagnoses and line.strip() and not line.lstrip().startswith("<"):
            diagnoses.append(line.strip())  # LUDB: every line after <diagnoses>: is one
            continue
        in_diagnoses = False
        if sep and not value and key == DIAGNOSES_KEY:
            in_diagnoses = True
        if not sep or not value:
            continue
        if key.startswith(IDENTIFIER_PREFIX):
            meta.identifiers[key.removeprefix(IDENTIFIER_PREFIX)] = value
        elif key == "derived leads":
            derived = value.partition("(")[0].split()
        elif key.startswith("device") and _device_comment(device, key, value):
            continue
        elif key == "age":
            try:
                age = float(value)
            except ValueError:
                age = None
            if age is not None and 0 <= age <= MAX_AGE:
                meta.age = age
            else:  # the Challenge writes "Age: NaN" for an unknown age
                meta.extra["age"] = value
                if age is not None and math.isfinite(age):
                    warnings.append(AGE_LEFT_OUT)
        elif key == "sex":
            meta.sex = {"m": "male", "f": "female"}.get(value[:1].lower(), value)
        elif key == "report":
            meta.report = value
        else:
            meta.extra[key] = value
            if key == "dx":
                diagnoses += snomed.statements(value)
    if meta.report is None and diagnoses:
        meta.report = sentences(diagnoses)
    if device != DeviceReport():
        meta.device = device
    return meta, derived


def sentences(statements: list[str]) -> str:
    """Statements as one report text, each ending in a full stop ("Sinus rhythm. LVH.")."""
    return " ".join(s if s.endswith(".") else f"{s}." for s in statements)


def _device_comment(device: DeviceReport, key: str, value: str) -> bool:
    """File a ``device ...`` comment written by Save as into ``device``; False if it is not one."""
    what = key.removeprefix("device").strip()
    if not what:
        device.device = value
    elif what.startswith("statement"):
        device.statements.append(value)
    elif what == "qtc formula":
        device.qtc_formula = value
    elif what in MEASUREMENTS:
        try:
            device.measurements[what] = float(value)
        except ValueError:
            return False
    else:
        return False
    return True


def _annotations(record_name: str, fs: float) -> list[Annotation]:
    """The record's comment and rhythm notes in ``<record>.atr`` (beat labels are left out: a
    Holter has 100,000 of them), as Save as writes them."""
    import wfdb

    if not Path(record_name + ".atr").is_file():
        return []
    try:
        ann = wfdb.rdann(record_name, "atr")
    except Exception:  # an unreadable annotation file must not stop the signal from opening
        return []
    notes = ann.aux_note or [""] * len(ann.sample)
    return [
        Annotation(float(t) / fs, None, text.strip().strip("\x00"))
        for t, sym, text in zip(ann.sample, ann.symbol, notes, strict=False)
        if sym in NOTE_SYMBOLS and text.strip().strip("\x00")
    ][:MAX_ANNOTATIONS]


def _start_time(header: object) -> datetime | None:
    date, time = getattr(header, "base_date", None), getattr(header, "base_time", None)
    if date is None or time is None:
        return None
    return datetime.combine(date, time)


def _record_line(hea: Path) -> list[str]:
    """The fields of the header's record line (its first line that is not a comment)."""
    with hea.open(encoding="latin-1") as fh:
        return next((ln for ln in fh if ln.strip() and not ln.lstrip().startswith("#")), "").split()


def _header_refused(hea: Path, exc: Exception) -> EcgReadError:
    """Why wfdb refused the header, in words where the record line says more than wfdb does:
    the PhysioNet/CinC Challenge 2020 release of the Georgia database names its records
    ``E00015.mat``, and wfdb says only "invalid syntax in record line". The name itself is not
    quoted: it may be a patient's."""
    fields = _record_line(hea)
    if fields and not _RECORD_NAME.match(fields[0]):
        what = (
            "carries a file extension (as the PhysioNet/CinC Challenge 2020 release of the Georgia "
            "database writes them)"
            if "." in fields[0]
            else "has characters other than letters, digits and underscores"
        )
        return EcgReadError(hea, f"invalid WFDB header: the record name in its record line {what}")
    return EcgReadError(hea, f"invalid WFDB header ({exc})")


def _check_record_line(hea: Path) -> None:
    """wfdb takes an unparsable rate for the 250 Hz default and drops what follows it: refuse such a
    record line rather than show the signal on a wrong time scale."""
    fields = _record_line(hea)
    if len(fields) > 2 and not _RATE_FIELD.match(fields[2]):
        raise EcgReadError(hea, f"unreadable sampling rate {fields[2]!r} in the record line")
    if len(fields) > 3 and not fields[3].isdigit():
        raise EcgReadError(hea, f"unreadable number of samples {fields[3]!r} in the record line")


def _check_signal_specs(hea: Path, header) -> None:
    """Refuse, naming the lead, a sample format wfdb does not decode and a baseline no 64-bit
    integer holds: both set how every sample reads, and wfdb fails on them with a bare KeyError
    or a numpy casting error."""
    from wfdb.io._signal import DAT_FMTS

    names = header.sig_name or [f"signal {k + 1}" for k in range(header.n_sig or 0)]
    limit = np.iinfo(np.int64)
    for name, fmt, baseline in zip(names, header.fmt or [], header.baseline or [], strict=False):
        if fmt is not None and fmt not in DAT_FMTS:
            raise EcgReadError(hea, f"lead {name!r}: {fmt!r} is not a WFDB signal format")
        if baseline is not None and not limit.min <= baseline <= limit.max:
            raise EcgReadError(hea, f"lead {name!r}: baseline {baseline} is beyond a 64-bit integer")


def _samples_in_files(hea: Path, header) -> int | None:
    """Frames the shortest signal file holds (None when a format's width varies, as FLAC's does).

    Checked up front so that a missing or short file fails on open with a clear message, not
    later, in the middle of paging a long record.
    """
    frame: dict[str, float] = {}
    offset: dict[str, int] = {}
    spfs = header.samps_per_frame or [1] * header.n_sig
    offsets = header.byte_offset or [0] * header.n_sig
    for name, fmt, spf, off in zip(header.file_name, header.fmt, spfs, offsets, strict=False):
        if name == "~":
            continue
        if fmt not in _SAMPLE_BYTES:
            return None
        frame[name] = frame.get(name, 0.0) + _SAMPLE_BYTES[fmt] * (spf or 1)
        offset.setdefault(name, int(off or 0))
    held: list[int] = []
    for name, size in frame.items():
        dat = hea.with_name(name)
        if not dat.is_file():
            raise EcgReadError(hea, f"signal file {name} not found")
        if not os.access(dat, os.R_OK):
            raise EcgReadError(dat, "permission denied")
        have, need = dat.stat().st_size, offset[name] + int((header.sig_len or 0) * size)
        if have < need:
            raise EcgReadError(dat, f"data file truncated: {have} bytes, the header needs {need}")
        held.append(int(max(0, have - offset[name]) / size))
    return min(held) if held else None


def _memmap_source(path: Path, header, keep: list[int], to_mv: list[float | None]) -> SignalSource | None:
    """A memory map over the signal file when the layout allows one, else None."""
    fmts, files = set(header.fmt), set(header.file_name)
    if len(fmts) != 1 or len(files) != 1 or next(iter(fmts)) not in _MAPPABLE:
        return None
    if any(s not in (None, 0) for s in (header.skew or [])):
        return None
    if any(s != 1 for s in (header.samps_per_frame or [1])):
        return None
    fmt = next(iter(fmts))
    dtype, offset_to_signed = _MAPPABLE[fmt]
    dat = path.with_name(next(iter(files)))
    offset = int((header.byte_offset or [0])[0] or 0)  # its size was checked by _samples_in_files
    baseline = [header.baseline[k] + offset_to_signed for k in keep]
    return MemmapSource(
        dat,
        dtype=dtype,
        n_channels=header.n_sig,
        n_samples=header.sig_len,
        offset=offset,
        gain=[header.adc_gain[k] for k in keep],
        baseline=baseline,
        to_mv=[f for k in keep if (f := to_mv[k]) is not None],  # keep: the leads with a factor
        missing=_MISSING[fmt],
        channels=keep,
    )


def read(path: Path) -> Recording:
    import wfdb  # deferred: wfdb pulls pandas, kept off the start-up path until a file is read

    hea = _header_path(path)
    if not hea.is_file():
        raise EcgReadError(path, f"no WFDB header {hea.name} beside it")
    record_name = str(hea.with_suffix(""))
    try:
        header = wfdb.rdheader(record_name)
    except Exception as exc:
        raise _header_refused(hea, exc) from None
    _check_record_line(hea)
    fs = float(header.fs or 0)
    if not (MIN_FS <= fs <= MAX_FS):
        raise EcgReadError(hea, f"sampling rate {fs:g} Hz is outside {MIN_FS:g}-{MAX_FS:g} Hz")
    multi = hasattr(header, "seg_name")
    if multi:
        header = wfdb.rdheader(record_name, rd_segments=True)
        names, units = _multi_segment_layout(header)
        for seg in header.segments or []:
            if seg is not None and seg.sig_len:
                _check_signal_specs(hea, seg)
                _samples_in_files(hea, seg)
    else:
        names, units = list(header.sig_name or []), list(header.units or [])
        if not names:
            raise EcgReadError(hea, "the header lists no signals")
        if len(names) != header.n_sig:
            raise EcgReadError(
                hea, f"the record line declares {header.n_sig} signals, but {len(names)} signal lines follow"
            )
        _check_signal_specs(hea, header)
        held = _samples_in_files(hea, header)
        if not header.sig_len and held:
            header.sig_len = held  # WFDB lets a header leave the length out: the file tells it
    if not header.sig_len:
        raise EcgReadError(hea, "the header declares no samples (signal length 0)")
    warnings: list[str] = []
    to_mv = _to_mv(hea, names, units, warnings)
    keep = [k for k, f in enumerate(to_mv) if f is not None]
    scale = np.array([to_mv[k] for k in keep], dtype=np.float64)[:, None]
    n_values = header.sig_len * len(keep)

    source: SignalSource | None = None
    if n_values > LAZY_VALUES and not multi:
        source = _memmap_source(hea, header, keep, to_mv)
    if source is None and n_values > LAZY_VALUES:

        def fetch(start: int, stop: int) -> np.ndarray:
            r = wfdb.rdrecord(record_name, sampfrom=start, sampto=stop, channels=keep)
            return (r.p_signal.T * scale).astype(np.float32)

        source = WindowedSource(fetch, len(keep), header.sig_len)
    if source is None:
        rec = wfdb.rdrecord(record_name, channels=keep)
        if rec.p_signal is None or rec.p_signal.shape[0] != header.sig_len:
            got = 0 if rec.p_signal is None else rec.p_signal.shape[0]
            raise EcgReadError(hea, f"data truncated: {got} of {header.sig_len} samples present")
        source = ArraySource((rec.p_signal.T * scale).astype(np.float32))

    meta, derived = _metadata(list(header.comments or []), warnings)
    if not multi:
        meta.annotations = _annotations(record_name, fs)
    gains = None if multi else header.adc_gain
    resolution = tuple(to_mv[k] / gains[k] if gains and gains[k] else None for k in keep) if gains else None
    recording = make_recording(
        path,
        source,
        fs,
        [names[k] for k in keep],
        "WFDB",
        start_time=_start_time(header),
        metadata=meta,
        warnings=warnings,
        resolution=resolution,
    )
    recording.derived |= frozenset(derived) & frozenset(recording.leads)
    ptbxl.attach(recording)
    return recording


def _multi_segment_layout(header) -> tuple[list[str], list[str]]:
    """Signal names and units of a multi-segment record (from its layout or first segment)."""
    for seg in header.segments or []:
        if seg is not None and seg.sig_name:
            return list(seg.sig_name), list(seg.units or [""] * len(seg.sig_name))
    raise ValueError("no segment lists its signals")


register(Reader("WFDB", (".hea", ".dat", ".mat"), sniff, read, companions=(".dat", ".mat")))
