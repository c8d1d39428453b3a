"""EDF, EDF+ and BDF(+) files: the ECG channels of Holter, sleep-lab and research recordings.

The data records are memory-mapped read-only and decoded here, window by window when long (a
24 h Holter is paged, never loaded): a random jump decodes only the records it shows (0.5 ms for
12 leads at 500 Hz, against 15 ms through pyedflib's per-channel reads, which also refuse
discontinuous files). Records of a discontinuous file (EDF+D, BDF+D) are placed at their onsets,
the gaps shown as missing samples.

Values come from the header's decimal calibration as exact fractions, rounded once, so that
"Save as" can write back the very integers this file stored.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from fractions import Fraction
from math import lcm
from pathlib import Path

import numpy as np

from ecgviewer.errors import EcgReadError
from ecgviewer.io.registry import Reader, register
from ecgviewer.io.wfdb_reader import LAZY_VALUES, MAX_FS, MIN_FS, UNIT_TO_MV
from ecgviewer.leads import STANDARD_LEADS, canonical_lead
from ecgviewer.recording import Annotation, Metadata, Recording, age_at, make_recording
from ecgviewer.sources import ArraySource, FetchSource, SignalSource

EDF_MAGIC, BDF_MAGIC = b"0       ", b"\xffBIOSEMI"
MAX_SIGNALS = 4096
MAX_SPAN_S = 31 * 86400  # a discontinuous file's records, gaps included, must fit in a month
DERIVED = "derived from I and II"  # transducer field of a lead computed, not recorded
# A file written with an unknown start time gets this date (EDF's clipping date); read back as None.
UNKNOWN_START = datetime(1985, 1, 1)

_DECIMAL = re.compile(r"[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d{1,2})?")  # no 10**999999 from a header
_ECG_LABEL = re.compile(r"^\s*(ecg|ekg)(?![a-z])", re.IGNORECASE)  # "ECG V1", "ECG1", "EKG-II"
_ECG_WORD = re.compile(r"(?<![a-z])(ecg|ekg)(?![a-z])", re.IGNORECASE)
_AGE = re.compile(r"\bage\s*[:=]?\s*(\d{1,3}(?:\.\d+)?)\b", re.IGNORECASE)
# A TAL: +onset[\x15duration]\x14text\x14...\x14\x00 (EDF+ section 2.2.2).
_TAL = re.compile(rb"([+-]\d+(?:\.\d*)?)(?:\x15(\d+(?:\.\d*)?))?\x14(.*?)\x00", re.DOTALL)
_MONTHS = ("JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC")


@dataclass(frozen=True)
class Signal:
    """One signal's header fields."""

    label: str
    transducer: str
    dimension: str
    pmin: Fraction
    pmax: Fraction
    dmin: int
    dmax: int
    prefilter: str
    spr: int  # samples per data record
    annotation: bool  # the EDF+ "EDF Annotations" channel


@dataclass(frozen=True)
class Header:
    bdf: bool
    reserved: str
    patient: str
    recording: str
    start: datetime | None
    header_bytes: int
    n_records: int
    duration: Fraction  # seconds per data record
    signals: tuple[Signal, ...]

    @property
    def plus(self) -> bool:
        return self.reserved[:4] in ("EDF+", "BDF+")

    @property
    def discontinuous(self) -> bool:
        return self.reserved[:5] in ("EDF+D", "BDF+D")

    @property
    def sample_bytes(self) -> int:
        return 3 if self.bdf else 2

    @property
    def record_bytes(self) -> int:
        return sum(s.spr for s in self.signals) * self.sample_bytes

    def offset(self, i: int) -> int:
        """Byte offset of signal ``i`` inside a data record."""
        return sum(s.spr for s in self.signals[:i]) * self.sample_bytes


def _text(raw: bytes) -> str:
    return raw.decode("latin-1").strip()


def _number(raw: bytes) -> Fraction:
    """A header number, exactly ("0.002", "-3.2768", "1E+03"); ValueError otherwise."""
    text = _text(raw)
    if not _DECIMAL.fullmatch(text):
        raise ValueError(f"not a number: {text!r}")
    return Fraction(text)


def _main_fields(head: bytes) -> tuple[int, int, Fraction, int]:
    """Header size, record count, record duration and signal count; ValueError when not numbers."""
    header_bytes, n_records = int(head[184:192]), int(head[236:244])
    duration, ns = _number(head[244:252]), int(head[252:256])
    if ns < 1 or header_bytes != 256 * (ns + 1) or n_records < -1 or duration < 0:
        raise ValueError("inconsistent header")
    return header_bytes, n_records, duration, ns


def sniff(path: Path, head: bytes) -> bool:
    """EDF's "0" or BDF's 0xFF "BIOSEMI", then a main header whose numeric fields hold together."""
    if head[:8] not in (EDF_MAGIC, BDF_MAGIC) or len(head) < 256:
        return False
    try:
        _main_fields(head)
    except ValueError:
        return False
    return True


def _start(raw: bytes, recording: str, plus: bool) -> datetime | None:
    """dd.mm.yy hh.mm.ss; EDF+ gives the four-digit year in the recording field."""
    try:
        day, month, yy = (int(x) for x in _text(raw[168:176]).split("."))
        hh, mm, ss = (int(x) for x in _text(raw[176:184]).split("."))
        year = 1900 + yy if yy >= 85 else 2000 + yy
        fields = recording.split()
        if plus and len(fields) > 1 and fields[0] == "Startdate" and fields[1] != "X":
            year = datetime.strptime(fields[1].title(), "%d-%b-%Y").year
        start = datetime(year, month, day, hh, mm, ss)
    except ValueError:
        return None
    return None if start == UNKNOWN_START else start


def read_header(path: Path, raw: bytes, file_size: int) -> Header:
    """Parse and check the header; every inconsistency is an EcgReadError with a plain cause."""
    if len(raw) < 256:
        raise EcgReadError(path, "header truncated")
    try:
        header_bytes, n_records, duration, ns = _main_fields(raw)
    except ValueError:
        raise EcgReadError(path, "unreadable main header (sizes, record count or duration)") from None
    if ns > MAX_SIGNALS:
        raise EcgReadError(path, f"the header declares {ns} signals (at most {MAX_SIGNALS} are read)")
    if len(raw) < header_bytes:
        raise EcgReadError(path, f"header truncated: {len(raw)} of {header_bytes} bytes")
    bdf = raw[:8] == BDF_MAGIC
    reserved, recording = _text(raw[192:236]), _text(raw[88:168])
    plus = reserved[:4] in ("EDF+", "BDF+")
    fields, pos = [], 256
    for width in (16, 80, 8, 8, 8, 8, 8, 80, 8, 32):
        fields.append([raw[pos + k * width : pos + (k + 1) * width] for k in range(ns)])
        pos += ns * width
    limit = 1 << (23 if bdf else 15)
    signals = []
    for k in range(ns):
        label = _text(fields[0][k])
        try:
            pmin, pmax = _number(fields[3][k]), _number(fields[4][k])
            dmin, dmax, spr = int(fields[5][k]), int(fields[6][k]), int(fields[8][k])
        except ValueError:
            raise EcgReadError(path, f"signal {k + 1}: unreadable calibration or sample count") from None
        if not (-limit <= dmin < dmax < limit) or pmin == pmax or spr < 1:
            raise EcgReadError(path, f"signal {k + 1}: invalid calibration or sample count in the header")
        annotation = plus and label in ("EDF Annotations", "BDF Annotations")
        signals.append(
            Signal(
                label, _text(fields[1][k]), _text(fields[2][k]), pmin, pmax, dmin, dmax,
                _text(fields[7][k]), spr, annotation,
            )
        )  # fmt: skip
    header = Header(
        bdf, reserved, _text(raw[8:88]), recording, _start(raw, recording, plus),
        header_bytes, n_records, duration, tuple(signals),
    )  # fmt: skip
    if duration == 0:
        raise EcgReadError(path, "the data records last 0 s (a file of annotations only?)")
    if n_records == -1:
        raise EcgReadError(
            path, "the header does not state its number of data records (unfinished recording?)"
        )
    need = header_bytes + n_records * header.record_bytes
    if file_size < need:
        raise EcgReadError(
            path, f"data truncated: the header declares {need} bytes, the file holds {file_size}"
        )
    return header


def _is_ecg(s: Signal) -> bool:
    """An ECG lead by its label ("ECG V1", "EKG II", "aVR") or its transducer ("ECG electrode")."""
    return (
        bool(_ECG_LABEL.match(s.label) or _ECG_WORD.search(s.transducer))
        or canonical_lead(s.label) in STANDARD_LEADS
    )


def select_channels(path: Path, header: Header, warnings: list[str]) -> tuple[list[int], list[Fraction]]:
    """ECG voltage channels at the common sampling rate, and each one's factor to mV."""
    volts = []
    for i, s in enumerate(header.signals):
        if s.annotation:
            continue
        factor = UNIT_TO_MV.get(s.dimension.lower())
        if factor is None:
            warnings.append(f"channel {s.label!r} skipped: its unit {s.dimension!r} is not a voltage")
        else:
            volts.append((i, Fraction(str(factor))))
    if not volts:
        raise EcgReadError(path, "no channel is a voltage (uV, mV or V): no ECG to show")
    ecg = [(i, f) for i, f in volts if _is_ecg(header.signals[i])]
    others = [repr(header.signals[i].label) for i, _ in volts if ecg and not _is_ecg(header.signals[i])]
    if others:  # a sleep study's EEG, EOG and EMG are voltages too
        warnings.append(f"{len(others)} channel(s) skipped, not ECG leads: {', '.join(others)}")
    chosen = ecg or volts
    spr = Counter(header.signals[i].spr for i, _ in chosen).most_common(1)[0][0]
    for i, _ in chosen:
        s = header.signals[i]
        if s.spr != spr:
            rate, ecg_rate = float(s.spr / header.duration), float(spr / header.duration)
            warnings.append(
                f"channel {s.label!r} skipped: sampled at {rate:g} Hz, the ECG at {ecg_rate:g} Hz"
            )
    chosen = [(i, f) for i, f in chosen if header.signals[i].spr == spr]
    return [i for i, _ in chosen], [f for _, f in chosen]


class Calibration:
    """Digital to mV as an exact fraction ``(a * d + b) / q``, computed in float64 with one rounding
    (exact integers up to 2**53), so that a stored integer maps to the float nearest its value."""

    def __init__(self, s: Signal, to_mv: Fraction, digital_limit: int) -> None:
        step = (s.pmax - s.pmin) / (s.dmax - s.dmin) * to_mv
        offset = s.pmin * to_mv - s.dmin * step
        q = lcm(step.denominator, offset.denominator)
        self.step = step
        self.a, self.b, self.q = int(step * q), int(offset * q), q
        self.exact = abs(self.a) * digital_limit + abs(self.b) < 2**53 and q < 2**53
        self._float = (float(step), float(offset))

    def __call__(self, d: np.ndarray) -> np.ndarray:
        if self.exact:
            return ((d.astype(np.float64) * self.a + self.b) / self.q).astype(np.float32)
        return (d * self._float[0] + self._float[1]).astype(np.float32)


def _decode(block: np.ndarray, bdf: bool) -> np.ndarray:
    """(records, bytes) uint8 of one signal -> (records, samples) int32 (little-endian 16 or 24 bit)."""
    block = np.ascontiguousarray(block)
    if not bdf:
        return block.view("<i2").astype(np.int32)
    b = block.reshape(block.shape[0], -1, 3).astype(np.int32)
    v = b[..., 0] | (b[..., 1] << 8) | (b[..., 2] << 16)
    return (v ^ 0x800000) - 0x800000


def _records(path: Path, header: Header) -> np.ndarray:
    """The data records, memory-mapped read-only as (records, bytes)."""
    shape = (header.n_records, header.record_bytes)
    return np.memmap(path, np.uint8, mode="r", offset=header.header_bytes, shape=shape)


def read_tals(path: Path, header: Header, every_record: bool) -> tuple[list[Annotation], np.ndarray | None]:
    """EDF+ annotations (onsets from the file's start) and the onsets in seconds of the first record
    (or of every record) from the time-keeping TAL that opens each; None when one lacks it."""
    cols = [
        np.arange(header.offset(i), header.offset(i) + s.spr * header.sample_bytes)
        for i, s in enumerate(header.signals)
        if s.annotation
    ]
    if not cols or header.n_records == 0:
        return [], None
    rows = np.asarray(_records(path, header)[:, np.concatenate(cols)])
    onsets = np.empty(header.n_records if every_record else 1)
    for k in range(onsets.size):
        m = _TAL.match(rows[k].tobytes())
        if m is None:
            return _annotations(rows), None
        onsets[k] = float(m.group(1))
    return _annotations(rows), onsets


def _annotations(rows: np.ndarray) -> list[Annotation]:
    out = []
    for m in _TAL.finditer(rows.tobytes()):
        texts = [t for t in m.group(3).decode("utf-8", "replace").split("\x14") if t]
        duration = float(m.group(2)) if m.group(2) else None
        out += [Annotation(float(m.group(1)), duration, t) for t in texts]
    return sorted(out, key=lambda a: a.onset)


def _raw_fetch(path: Path, header: Header, keep: list[int], cals: list[Calibration], starts: np.ndarray):
    """Window reads of the raw records, record k placed at sample ``starts[k]`` (NaN between)."""
    records = _records(path, header)
    spr = header.signals[keep[0]].spr
    spans = [(header.offset(i), header.offset(i) + spr * header.sample_bytes) for i in keep]

    def fetch(start: int, stop: int) -> np.ndarray:
        out = np.full((len(keep), stop - start), np.nan, np.float32)
        k0 = max(0, int(np.searchsorted(starts, start, "right")) - 1)
        k1 = int(np.searchsorted(starts, stop, "left"))
        if k1 <= k0:
            return out
        pos = starts[k0:k1, None] + np.arange(spr)
        inside = (pos >= start) & (pos < stop)
        block = np.asarray(records[k0:k1])
        for row, ((a, b), cal) in enumerate(zip(spans, cals, strict=True)):
            out[row, pos[inside] - start] = cal(_decode(block[:, a:b], header.bdf)[inside])
        return out

    return fetch


def _placement(path: Path, header: Header, spr: int, onsets: np.ndarray | None, warnings: list[str]):
    """First sample of each record on the time axis of a discontinuous file."""
    if onsets is None:
        raise EcgReadError(path, "discontinuous EDF+ file whose data records lack their onsets")
    starts = np.rint((onsets - onsets[0]) / float(header.duration) * spr).astype(np.int64)
    if np.any(np.diff(starts) < spr):
        raise EcgReadError(path, "discontinuous EDF+ file whose data records overlap or are out of order")
    if (starts[-1] + spr) / spr * header.duration > MAX_SPAN_S:
        raise EcgReadError(path, "discontinuous EDF+ file whose records span more than 31 days")
    gaps = np.diff(starts) - spr
    if gaps.any():
        seconds = gaps.sum() / spr * float(header.duration)
        warnings.append(
            f"discontinuous recording: {np.count_nonzero(gaps)} gap(s), {seconds:g} s in all, left blank"
        )
    return starts


def _person_field(text: str) -> str | None:
    """An EDF+ subfield: "X" means unknown, underscores stand for spaces."""
    return None if text in ("", "X") else text.replace("_", " ")


def _metadata(header: Header, start: datetime | None, warnings: list[str]) -> Metadata:
    meta = Metadata()
    if not header.plus:  # plain EDF: free-text fields that may name the patient
        for key, text in (("patient", header.patient), ("recording", header.recording)):
            if text:
                meta.identifiers[key] = text
        return meta
    p = header.patient.split() + ["X"] * 4
    code, sex, birth, name = (_person_field(x) for x in p[:4])
    notes = _person_field(" ".join(header.patient.split()[4:]))
    age = _AGE.search(notes or "")
    if notes and not _AGE.sub("", notes).strip():  # nothing but the age
        notes = None
    born = _birth_date(birth)
    if birth and born is None:  # kept as written, with the identifiers; never quoted in a warning
        warnings.append("the EDF+ patient field's birth date is not a date (dd-MMM-yyyy): no age from it")
    for key, value in (("patient id", code), ("name", name), ("patient notes", notes)):
        if value:
            meta.identifiers[key] = value
    if birth:
        meta.identifiers["birth date"] = born.isoformat() if born else birth
    meta.sex = {"F": "female", "M": "male"}.get((sex or "").upper()[:1])
    if age:
        meta.age = float(age.group(1))
    elif born and start:
        meta.age = age_at(born, start.date())
    r = header.recording.split()
    if r[:1] == ["Startdate"]:
        admin, tech, equipment = (_person_field(x) for x in (r[2:5] + ["X"] * 3)[:3])
        for key, value in (("admin code", admin), ("technician", tech)):
            if value:
                meta.identifiers[key] = value
        if equipment:
            meta.extra["equipment"] = equipment
        if _person_field(" ".join(r[5:])):
            meta.extra["recording notes"] = " ".join(r[5:]).replace("_", " ")
    return meta


def _birth_date(text: str | None) -> date | None:
    if not text:
        return None
    try:
        day, month, year = text.split("-")
        return date(int(year), _MONTHS.index(month.upper()) + 1, int(day))
    except (ValueError, OverflowError):  # a year no date holds ("99999999999999999999") included
        return None


def _format_name(header: Header) -> str:
    name = ("BDF" if header.bdf else "EDF") + ("+" if header.plus else "")
    return name + (" (discontinuous)" if header.discontinuous else "")


def header_of(path: Path) -> Header:
    """The header of an EDF or BDF file, checked against the file's size."""
    size = path.stat().st_size
    with path.open("rb") as fh:
        raw = fh.read(256)
        if len(raw) == 256 and raw[:8] in (EDF_MAGIC, BDF_MAGIC) and raw[252:256].strip().isdigit():
            raw += fh.read(256 * min(int(raw[252:256]), MAX_SIGNALS))
    if raw[:8] not in (EDF_MAGIC, BDF_MAGIC):
        raise EcgReadError(path, "not an EDF or BDF file (its first bytes are not EDF's or BDF's version)")
    return read_header(path, raw, size)


def read(path: Path) -> Recording:
    header = header_of(path)
    size = path.stat().st_size
    warnings: list[str] = []
    trailing = size - header.header_bytes - header.n_records * header.record_bytes
    if trailing:
        warnings.append(f"{trailing} bytes after the last data record ignored")
    keep, to_mv = select_channels(path, header, warnings)
    spr = header.signals[keep[0]].spr
    fs = float(spr / header.duration)  # exact fractions: 1667 samples in 3.334 s are 500 Hz
    if not (MIN_FS <= fs <= MAX_FS):
        raise EcgReadError(path, f"sampling rate {fs:g} Hz is outside {MIN_FS:g}-{MAX_FS:g} Hz")
    if header.n_records == 0:
        raise EcgReadError(path, "the file holds no data records")
    limit = 1 << (23 if header.bdf else 15)
    cals = [Calibration(header.signals[i], f, limit) for i, f in zip(keep, to_mv, strict=True)]
    annotations, onsets = read_tals(path, header, header.discontinuous)
    first = float(onsets[0]) if onsets is not None else 0.0  # the start time's fraction of a second

    if header.discontinuous:
        starts = _placement(path, header, spr, onsets, warnings)
    else:
        starts = np.arange(header.n_records) * spr
    fetch = _raw_fetch(path, header, keep, cals, starts)
    n = int(starts[-1]) + spr
    # A long recording's records stay memory-mapped: a jump decodes just the records it shows.
    lazy = n * len(keep) > LAZY_VALUES
    source: SignalSource = FetchSource(fetch, len(keep), n) if lazy else ArraySource(fetch(0, n))
    start = header.start + timedelta(seconds=first) if header.start else None
    meta = _metadata(header, start, warnings)
    meta.annotations = [Annotation(a.onset - first, a.duration, a.text) for a in annotations]
    filters = sorted({header.signals[i].prefilter for i in keep} - {""})
    if filters:
        meta.extra["filters"] = "; ".join(filters)
    rec = make_recording(
        path,
        source,
        fs,
        [header.signals[i].label for i in keep],
        _format_name(header),
        start_time=start,
        metadata=meta,
        warnings=warnings,
        resolution=tuple(float(c.step) for c in cals),
    )
    # Leads a writer computed (our "Save as" marks them in the transducer field) stay marked derived.
    computed = {
        canonical_lead(header.signals[i].label) for i in keep if header.signals[i].transducer == DERIVED
    }
    rec.derived = rec.derived | frozenset(computed & set(rec.leads))
    return rec


register(Reader("EDF", (".edf", ".bdf"), sniff, read))
