"""Vendor ECG formats: DICOM waveform, HL7 aECG, GE MUSE XML, Philips Sierra XML and SCP-ECG.

The pinned ``ecgdatakit`` decodes all five (XLI, Huffman, base64, DICOM multiplex groups) into
its ``ECGRecord``; this module only picks the format by content, runs that one parser, and turns
its record into a :class:`Recording` in one place, so units, lead checks, the device's report and
the separation of patient identifiers are handled the same way for every vendor.
"""

from __future__ import annotations

import copy
import importlib
import math
import re
import struct
import types
import warnings
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

import numpy as np

from ecgviewer.errors import EcgReadError, plain_cause
from ecgviewer.io.registry import Reader, register
from ecgviewer.io.wfdb_reader import AGE_LEFT_OUT, MAX_AGE, MAX_FS, MIN_FS, UNIT_TO_MV, sentences
from ecgviewer.leads import canonical_lead
from ecgviewer.recording import DeviceReport, MedianBeats, Metadata, Recording, make_recording
from ecgviewer.sources import ArraySource

if TYPE_CHECKING:
    from ecgdatakit.models import ECGRecord, FilterSettings, Lead

MAX_MB = 256  # these formats hold 10 s ECGs of a few hundred kB
MAX_VALUES = 2 * 2**30 // 4  # samples that fit ~2 GB as float32
INT16_PADDING = 32767  # |code| a writer fills a beat's unused samples with
MIN_CALIBRATION_S = 0.1  # a trailing block identical in every lead and at least this long is not ECG

_SEX = MappingProxyType({"m": "male", "f": "female"})
# ecgdatakit's GlobalMeasurements field -> our key (``measurements.MEASUREMENTS``)
_MEASUREMENTS = MappingProxyType(
    {
        "heart_rate": "hr",
        "rr_interval": "rr",
        "pr_interval": "pr",
        "qrs_duration": "qrs",
        "qt_interval": "qt",
        "p_axis": "p_axis",
        "qrs_axis": "qrs_axis",
        "t_axis": "t_axis",
    }
)
# Values ecgdatakit keeps as annotations because the file gives no field for them: the device's
# P duration, and its QTc without a named formula (MUSE QTCorrected, Philips 1.03 meanqtc, ...).
_P_DURATION_KEYS = ("pdur", "MDC_ECG_TIME_PD_P", "P Duration")
_QTC_KEYS = ("qtc", "QTCorrected", "QTc Interval", "MDC_ECG_TIME_PD_QTc")
_SCP_QTC_FORMULA = MappingProxyType({1: "Bazett", 2: "Hodges"})  # EN 1064 section 7 QTc formula codes
_MS_VALUE = re.compile(r"^\s*(-?\d+(?:\.\d+)?)\s*(ms)?(?:\s|\(|$)")
_UNKNOWN = frozenset({"", "unknown", "none", "n/a"})
# ecgdatakit's Interpretation.source for statements a physician made, in the words shown
_PHYSICIAN = MappingProxyType(
    {"confirmed": "a physician (confirmed)", "overread": "a physician (edited, not confirmed)"}
)
# names, (leads, samples) float32 mV, sampling rate, mV per stored step of each lead
_Signals = tuple[list[str], np.ndarray, float, tuple[float | None, ...]]


@dataclass(frozen=True)
class _Format:
    name: str  # shown as Recording.source_format and in error messages
    extensions: tuple[str, ...]
    module: str  # ecgdatakit.parsing.parsers.<module>
    parser: str  # its Parser class
    max_mb: int = MAX_MB  # files above are refused before parsing


FORMATS = (
    _Format("DICOM ECG", (".dcm", ".dicom"), "dicom_waveform", "DICOMWaveformParser"),
    _Format("HL7 aECG", (".xml",), "hl7_aecg", "HL7aECGParser"),
    _Format("GE MUSE XML", (".xml",), "ge_muse_xml", "GEMuseXMLParser"),
    _Format("Philips Sierra XML", (".xml",), "sierra_xml", "SierraXMLParser"),
    # ecgdatakit's Huffman decoder holds the data as a text of bits: 8 bytes per byte of file
    _Format("SCP-ECG", (".scp",), "scp_ecg", "SCPECGParser", max_mb=32),
)


@cache
def _parser(fmt: _Format) -> Any:
    """The format's ecgdatakit parser class, imported on first use (keeps start-up fast)."""
    parser = getattr(importlib.import_module(f"ecgdatakit.parsing.parsers.{fmt.module}"), fmt.parser)
    fix = {"sierra_xml": _sierra, "ge_muse_xml": _muse}.get(fmt.module)
    return fix(parser) if fix else parser


def _median_note(fmt: str, exc: BaseException) -> str:
    """What the user reads when a file's median beats are left out, and why."""
    return f"{fmt}: the device's median beats not read ({_cause(exc)})"


def _cause(exc: BaseException) -> str:
    """A library's exception as one line; an overflow's own words ("(34, 'Numerical result out of
    range')", "Python int too large to convert to C long") say no more than this."""
    return "a number out of range" if isinstance(exc, OverflowError) else plain_cause(exc)


def _without_path(text: str, path: Path) -> str:
    """A library's message without the file's path, which our error names already (and which may
    hold a patient's name)."""
    return text.replace(str(path), "the file").replace(path.name, "the file")


def _with_globals(func: Any, **names: Any) -> Any:
    """A copy of the library function ``func`` that finds ``names`` in place of its module's own:
    how one dependency of the pinned ecgdatakit's code is corrected without copying that code,
    and without patching the library's module for every other caller."""
    return types.FunctionType(
        func.__code__, {**func.__globals__, **names}, func.__name__, func.__defaults__, func.__closure__
    )


def _xli_deltas_16bit(buffer: bytes | list[int], first: int) -> np.ndarray:
    """XLI's second-order delta decoding in the 16-bit arithmetic of the samples it encodes.

    ecgdatakit 2.0.3 sums exactly and stores int32, so a lead whose exact sums leave int32 fails
    the whole file ("Python integer 2148169007 out of bounds for int32"); the reference decoders
    (sierraecg's C and Go readers) wrap at 16 bits, and agree with it wherever it succeeds.
    z[i] = 2 z[i-1] - z[i-2] - L[i] (L: the start value, then each previous code less 64) is two
    running sums, taken modulo 2**16.
    """
    from ecgdatakit.exceptions import CorruptedFileError
    from ecgdatakit.parsing.codecs.xli import xli_unpack

    codes = xli_unpack(buffer).astype(np.int64)
    if codes.size < 2:
        raise CorruptedFileError("XLI chunk holds fewer than two delta codes")
    subtract = np.concatenate(([first], codes[2:-1] - 64))[: codes.size - 2]
    steps = (codes[1] - codes[0] - np.cumsum(subtract)) % 65536
    out = codes.copy()
    out[2:] = codes[1] + np.cumsum(steps)
    return ((out + 32768) % 65536 - 32768).astype(np.int32)


def _sierra(base: type) -> type:
    """ecgdatakit's Sierra parser with XLI decoded in 16 bits (``_xli_deltas_16bit``), and whose
    representative beats, when unreadable, are left out with a note instead of failing the ECG."""
    from ecgdatakit.exceptions import ECGDataKitError
    from ecgdatakit.parsing.codecs import xli

    xli_decode = _with_globals(xli.xli_decode, xli_decode_deltas=_xli_deltas_16bit)

    def read_beats(self: Any, *args: Any) -> list[Any]:
        try:
            return list(base._read_representative_beats(self, *args))  # type: ignore[attr-defined]
        except (ECGDataKitError, ValueError, OverflowError) as exc:  # a field they cannot represent
            warnings.warn(_median_note("Philips Sierra XML", exc), stacklevel=2)
            return []

    methods = {
        "_read_leads": _with_globals(base._read_leads, xli_decode=xli_decode),  # type: ignore[attr-defined]
        "_read_representative_beats": read_beats,
    }
    return _subclass(base, methods)


def _muse(base: type) -> type:
    """ecgdatakit's GE MUSE parser, whose median beats, when a field of theirs is out of range,
    are left out with a note instead of failing the ECG. The library reads both waveforms in one
    method: on a failure it reads again without the median waveform, and if the rhythm alone reads,
    the failure was the median's. A rhythm lead whose byte or sample count disagrees with the
    samples it stores is read from those samples (the counts only repeat them), with a note; a
    rhythm lead that cannot be read at all is left out with a note, the other leads kept."""
    from ecgdatakit.exceptions import ECGDataKitError

    failures = (ECGDataKitError, ValueError, OverflowError)

    def read_lead(self: Any, ld: Any, rate: int, kind: str, file_path: Path, *args: Any) -> Any:
        try:
            return base._read_lead(self, ld, rate, kind, file_path, *args)  # type: ignore[attr-defined]
        except failures as exc:
            if kind != "rhythm":
                raise
            cause = _without_path(_cause(exc), Path(file_path))
            name = (ld.findtext("LeadID") or "?").strip()
            bare = copy.deepcopy(ld)
            for tag in ("LeadByteCountTotal", "LeadSampleCountTotal"):
                for el in bare.findall(tag):
                    bare.remove(el)
            try:
                lead = base._read_lead(self, bare, rate, kind, file_path, *args)  # type: ignore[attr-defined]
            except failures:
                self._warnings.append((f"GE MUSE: rhythm lead {name} not read ({cause})", UserWarning))
                return None
            note = f"GE MUSE: rhythm lead {name} read from its {lead.samples.size} stored samples ({cause})"
            self._warnings.append((note, UserWarning))
            return lead

    def read_waveforms(self: Any, root: Any, *args: Any) -> tuple[list[Any], list[Any]]:
        state = {k: copy.copy(v) for k, v in vars(self).items()}  # the warnings it has noted so far
        try:
            return base._read_waveforms(self, root, *args)  # type: ignore[attr-defined]
        except (ECGDataKitError, ValueError, OverflowError) as exc:
            rhythm = copy.copy(root)  # a shallow copy: removing from it leaves the file's tree whole
            waveforms = rhythm.findall("Waveform")
            medians = [w for w in waveforms if (w.findtext("WaveformType") or "").strip().lower() == "median"]
            if not medians:
                raise
            for w in medians:
                rhythm.remove(w)
            vars(self).update(state)
            leads, _ = base._read_waveforms(self, rhythm, *args)  # type: ignore[attr-defined]
            self._warnings.append((_median_note("GE MUSE XML", exc), UserWarning))
            return leads, []

    return _subclass(base, {"_read_waveforms": read_waveforms, "_read_lead": read_lead})


def _subclass(base: type, methods: dict[str, Any]) -> type:
    """``base`` with ``methods`` in place of its own (the parser classes ``_parser`` returns)."""
    return type(f"Tolerant{base.__name__}", (base,), {"__module__": __name__, **methods})


def _sniffer(fmt: _Format):
    def sniff(path: Path, head: bytes) -> bool:
        """The parser's own content check: DICM magic, the XML root tag, SCP's section-0 layout."""
        return bool(_parser(fmt).can_parse(path, head))

    return sniff


def _reader(fmt: _Format):
    def read(path: Path) -> Recording:
        return _read(path, fmt)

    return read


def _read(path: Path, fmt: _Format) -> Recording:
    size = path.stat().st_size
    if size > fmt.max_mb * 2**20:
        limit = f"limit {fmt.max_mb} MB"
        raise EcgReadError(path, f"{size / 2**20:.0f} MB is too large for a {fmt.name} file ({limit})")
    if fmt.module == "scp_ecg":
        _check_scp_leads(path, size)
    from ecgdatakit.exceptions import ECGDataKitError

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            record = _parser(fmt)().parse(path)
        except ECGDataKitError as exc:
            cause = plain_cause(ValueError(_without_path(str(exc), path)))
            raise EcgReadError(path, f"invalid {fmt.name} data ({cause})") from None
        except OverflowError:  # what a file can do without is left out above: its waveform needs this
            raise EcgReadError(
                path, f"invalid {fmt.name} data (a number its waveform needs is out of range)"
            ) from None
    notes = list(dict.fromkeys(_without_path(str(w.message), path) for w in caught if _matters(w)))
    if fmt.module == "dicom_waveform":
        _fix_dicom_padding(path, record, notes)
    return to_recording(path, fmt.name, record, notes)


def _check_scp_leads(path: Path, size: int) -> None:
    """Refuse lead sample ranges the file cannot hold before ecgdatakit allocates them: a mutated
    section 3 declared 2^31 samples, 16 GB. Each sample takes at least one bit of Huffman data.

    EN 1064 layout: section 0 (at byte 6) lists (id u16, length u32, 1-based offset u32) per
    section; section 3's body (after its 16-byte header) holds the lead count, a flag byte, then
    (first u32, last u32, lead id u8) per lead.
    """
    data = path.read_bytes()
    if len(data) < 22:
        return  # too short for section 0: the parser says so
    length0 = int.from_bytes(data[10:14], "little")
    pointers = data[22 : 6 + min(length0, len(data))]
    for k in range(0, len(pointers) - 9, 10):
        if int.from_bytes(pointers[k : k + 2], "little") != 3:
            continue
        start = int.from_bytes(pointers[k + 6 : k + 10], "little") - 1 + 16
        body = data[start:] if start >= 16 else b""
        for lead in range(min(body[0] if body else 0, (len(body) - 2) // 9)):
            first, last = struct.unpack_from("<II", body, 2 + 9 * lead)
            if last - first + 1 > 8 * size:
                raise EcgReadError(
                    path,
                    f"SCP section 3 declares {last - first + 1} samples in a lead, more "
                    f"than a {size}-byte file can hold",
                )
        return


def _matters(w: warnings.WarningMessage) -> bool:
    """ecgdatakit's own warnings (a CRC mismatch, ignored series, unscaled leads) concern the reader
    of the ECG; pydicom's complaints about malformed UIDs and library deprecations do not."""
    return issubclass(w.category, UserWarning) and "pydicom" not in Path(w.filename).parts


def _fix_dicom_padding(path: Path, record: ECGRecord, notes: list[str]) -> None:
    """Undo two DICOM padding conventions that would otherwise spoil the picture.

    ecgdatakit blanks every sample equal to the Waveform Padding Value; the C# ECG Toolkit declares
    0 there, which blanks each zero crossing. A padding value strictly inside the range of a group's
    other samples cannot be padding, so its samples are put back. The same writer pads its median
    beats with -32768 (the int16 minimum) without declaring it: that code becomes a gap.
    """
    import pydicom

    groups = pydicom.dcmread(path, specific_tags=["WaveformSequence"]).get("WaveformSequence") or []
    for leads in (record.leads, record.median_beats):
        n = {lead.samples.size for lead in leads}
        group = next((g for g in groups if {g.get("NumberOfWaveformSamples")} == n), None)
        if group is None or not all(lead.is_raw for lead in leads):
            continue
        kind = str(group.get("WaveformSampleInterpretation") or "SS")
        bits = int(group.get("WaveformBitsAllocated") or 16)
        pad_bytes = group.get("WaveformPaddingValue")
        if kind in ("SS", "US", "SB", "UB") and isinstance(pad_bytes, bytes) and len(pad_bytes) >= bits // 8:
            dtype = {"SS": "<i", "US": "<u", "SB": "i", "UB": "u"}[kind] + str(bits // 8)
            pad = float(np.frombuffer(pad_bytes[: bits // 8], dtype=dtype)[0])
            codes = np.concatenate([lead.samples for lead in leads])
            valid = codes[np.isfinite(codes)]
            if valid.size < codes.size and valid.size and valid.min() < pad < valid.max():
                for lead in leads:
                    lead.samples[np.isnan(lead.samples)] = pad
                notes.append(f"DICOM padding value {pad:g} lies inside the signal: its samples are kept")
        if kind == "SS" and bits == 16:
            for lead in leads:
                lead.samples[lead.samples == -32768] = np.nan


def to_recording(path: Path, source_format: str, record: ECGRecord, notes: list[str]) -> Recording:
    """One ecgdatakit ``ECGRecord`` as a Recording: leads in mV, metadata, the device's report."""
    warns: list[str] = []
    try:
        names, data, fs, resolution = _signals(record.leads, warns)
    except ValueError as exc:
        raise EcgReadError(path, str(exc)) from None
    data = _without_calibration_block(data, fs, warns)
    meta = _metadata(record, warns)
    meta.device = _device_report(record, meta, warns)
    identifiers = [v for v in meta.identifiers.values() if len(v) > 1]
    return make_recording(
        path,
        ArraySource(data),
        fs,
        names,
        source_format,
        start_time=record.recording.date,
        metadata=meta,
        warnings=[_withhold(w, identifiers) for w in notes + warns],
        resolution=resolution,
    )


def _without_calibration_block(data: np.ndarray, fs: float, warns: list[str]) -> np.ndarray:
    """The signal without a trailing block in which every lead holds the same value: what a device
    appends for its printout, not ECG. Philips Sierra files end with 0.1 s at 0 mV, a 0.2 s 1 mV
    pulse and 0.1 s at 0 mV; left in, the pulse read as a pacing spike in every lead."""
    if data.shape[0] < 2 or data.shape[1] < 2:
        return data
    differ = np.flatnonzero(np.any(data != data[:1], axis=0))
    end = int(differ[-1]) + 1 if differ.size else 0
    tail = data.shape[1] - end
    if tail < MIN_CALIBRATION_S * fs or end < MIN_CALIBRATION_S * fs:
        return data
    step = float(np.nanmax(data[0, end:]) - np.nanmin(data[0, end:]))
    pulse = f", a {step:g} mV step" if step > 0 else ""
    warns.append(
        f"the last {tail / fs:.2f} s are the same in every lead (the device's calibration block{pulse}): "
        "left out, the paper draws its own 1 mV pulse"
    )
    return data[:, :end]


def _withhold(text: str, identifiers: list[str]) -> str:
    """A library's warning with any patient or staff identifier it happens to quote removed."""
    for value in identifiers:
        text = text.replace(value, "…")
    return text


def _signals(leads: list[Lead], warns: list[str]) -> _Signals:
    """Leads as one (leads, samples) float32 mV array, with their rate and mV per stored step.

    Raises ValueError with the cause when nothing usable remains: no voltage lead, leads sampled
    at different rates or at a rate outside MIN_FS-MAX_FS (a MUSE SampleExponent of -2**31 makes
    it 0 Hz), no samples, or more samples than memory allows.
    """
    kept: list[tuple[str, np.ndarray, float | None, int]] = []
    for lead in leads:
        samples = np.asarray(lead.samples)
        if samples.ndim != 1 or samples.dtype.kind not in "iuf":
            raise ValueError(f"lead {lead.label}: samples are not a numeric series")
        scaled = _to_mv(lead, samples)
        if scaled is None:
            warns.append(f"lead {lead.label} skipped: no amplitude scale in a voltage unit")
            continue
        kept.append((lead.label, scaled, _step_mv(lead), int(lead.sampling_rate)))
    if not kept:
        raise ValueError("no lead has an amplitude scale in a voltage unit")
    rates = sorted({rate for *_, rate in kept})
    if len(rates) > 1:
        raise ValueError(f"leads are sampled at different rates ({', '.join(map(str, rates))} Hz)")
    lengths = [x.size for _, x, _, _ in kept]
    n = min(lengths)
    if n == 0:
        raise ValueError("the file holds no samples")
    if n * len(kept) > MAX_VALUES:
        raise ValueError(f"{len(kept)} leads of {n} samples exceed the memory limit")
    if not MIN_FS <= rates[0] <= MAX_FS:
        raise ValueError(f"sampling rate {rates[0]:g} Hz is outside {MIN_FS:g}-{MAX_FS:g} Hz")
    if max(lengths) != n:
        warns.append(f"leads have unequal lengths ({n} to {max(lengths)} samples): all cut to {n} samples")
    data = np.stack([x[:n] for _, x, _, _ in kept]).astype(np.float32)
    if not np.isfinite(data).all():
        data[np.isinf(data)] = np.nan  # shown as gaps, like missing samples
    return [label for label, *_ in kept], data, float(rates[0]), tuple(step for _, _, step, _ in kept)


def _unit_mv(unit: str) -> float | None:
    return UNIT_TO_MV.get((unit or "").strip().lower())


def _to_mv(lead: Lead, samples: np.ndarray) -> np.ndarray | None:
    """The lead in mV (float64), or None when the file gives it no voltage scale."""
    if lead.is_raw:
        factor = _unit_mv(lead.resolution_unit)
        if factor is None or not lead.resolution or not math.isfinite(lead.resolution):
            return None
        return (samples * float(lead.resolution) + float(lead.offset)) * factor
    factor = _unit_mv(lead.units)
    return None if factor is None else samples * factor


def _step_mv(lead: Lead) -> float | None:
    """mV per stored integer step, when the file states a voltage resolution."""
    factor = _unit_mv(lead.resolution_unit)
    if factor is None or not lead.resolution or not math.isfinite(lead.resolution):
        return None
    return float(lead.resolution) * factor


def _metadata(record: ECGRecord, warns: list[str]) -> Metadata:
    """Age, sex and non-identifying facts apart from identifiers (names, IDs, birth date)."""
    patient, rec = record.patient, record.recording
    meta = Metadata()
    if patient.age is not None and 0 <= patient.age <= MAX_AGE:
        meta.age = float(patient.age)
    elif patient.age is not None:
        warns.append(AGE_LEFT_OUT)
    meta.sex = _SEX.get((patient.sex or "").strip()[:1].lower())
    name = " ".join(p for p in (patient.first_name.strip(), patient.last_name.strip()) if p)
    staff = {
        "name": name,
        "patient id": patient.patient_id.strip(),
        "birth date": patient.birth_date.date().isoformat() if patient.birth_date else "",
        "technician": rec.technician.strip(),
        "physician": rec.referring_physician.strip(),
        "interpreting physician": record.interpretation.interpreter.strip(),
        "investigator": str(record.raw_metadata.get("investigator") or "").strip(),
    }
    meta.identifiers = {k: v for k, v in staff.items() if v}
    device = rec.device
    facts = {
        "institution": device.institution,
        "department": device.department,
        "location": rec.location,
        "acquisition type": device.acquisition_type,
        "filters": _filters(rec.acquisition.filters),
        "format version": record.file_format.version,
        "device severity": record.interpretation.severity,
    }
    meta.extra = {k: str(v).strip() for k, v in facts.items() if v and str(v).strip()}
    return meta


def _filters(f: FilterSettings) -> str:
    """The acquisition filters as one line, e.g. ``0.05-150 Hz, notch 60 Hz``."""
    if f.highpass is not None and f.lowpass:
        parts = [f"{f.highpass:g}-{f.lowpass:g} Hz"]
    else:
        parts = [f"{kind} {v:g} Hz" for kind, v in (("high-pass", f.highpass), ("low-pass", f.lowpass)) if v]
    if f.notch and f.notch_active is not False:
        parts.append(f"notch {f.notch:g} Hz")
    return ", ".join(parts)


def _device_report(record: ECGRecord, meta: Metadata, warns: list[str]) -> DeviceReport | None:
    """What the acquiring device concluded, or None when the file carries none of it. A second QTc
    (MUSE states QTCorrected and QTcFrederica) goes to ``meta.extra`` beside the one reported."""
    device = record.recording.device
    parts = [p.strip() for p in (device.manufacturer, device.model, device.software_version)]
    name = " ".join(dict.fromkeys(p for p in parts if p.lower() not in _UNKNOWN)) or None
    statements = _statements(record, meta)
    if not statements and record.annotations.get("rhythm"):  # aECG's coded rhythm annotation
        statements = [record.annotations["rhythm"]]
    measurements, formula, other_qtc = _measurements(record)
    meta.extra.update({f"device QTc ({f})": f"{v:g} ms" for f, v in other_qtc.items()})
    median = _median(record.median_beats, warns)
    if not (name or statements or measurements or median):
        return None
    return DeviceReport(name, statements, measurements, formula, median)


def _statements(record: ECGRecord, meta: Metadata) -> list[str]:
    """The device's own interpretation statements.

    ecgdatakit keeps a physician's statements (an overread, a confirmed ECG) in place of the
    device's and moves the device's to ``machine_interpretation``: those are the device's, and the
    physician's become the recording's ``report``, so that neither is shown under the other's name.
    """
    interp = record.interpretation
    said = [f"{t} ({reason})" if reason else t for t, reason in interp.statements]
    if interp.source not in _PHYSICIAN:
        return said
    if said:
        meta.report = sentences(said)
        meta.extra["report by"] = _PHYSICIAN[interp.source]
    machine = [m.strip() for m in str(record.annotations.get("machine_interpretation") or "").splitlines()]
    # Philips renders a statement's two parts as "left | right"
    parts = [m.partition(" | ") for m in machine if m]
    return [f"{left} ({right})" if right else left for left, _, right in parts]


def _ms(text: object) -> float | None:
    """A duration the library kept as text (``'102 ms'``, ``'403'``) in ms; None for other units."""
    match = _MS_VALUE.match(str(text))
    return float(match.group(1)) if match else None


def _measurements(record: ECGRecord) -> tuple[dict[str, float], str | None, dict[str, float]]:
    """The device's global measurements under our keys, the formula of its QTc, and the QTc values
    under other formulas that the file also states."""
    g = record.measurements
    out = {key: float(v) for field, key in _MEASUREMENTS.items() if (v := getattr(g, field)) is not None}
    notes = record.annotations
    p_dur = next((v for k in _P_DURATION_KEYS if k in notes and (v := _ms(notes[k])) is not None), None)
    if p_dur is not None:
        out["p"] = p_dur
    # The QTc the device reports as its own comes first; its formula is named only when the file
    # names it (a Bazett or Fridericia field with the same value, or SCP's formula code).
    named = {"Bazett": g.qtc_bazett, "Fridericia": g.qtc_fridericia}
    stated = next((v for k in _QTC_KEYS if k in notes and (v := _ms(notes[k])) is not None), None)
    if stated is not None:
        formula = next((f for f, v in named.items() if v is not None and float(v) == stated), None)
        code = record.raw_metadata.get("qtc_formula_code")
        formula = formula or (_SCP_QTC_FORMULA.get(code) if code is not None else None)
        out["qtc"] = stated
    else:
        formula, value = next(((f, v) for f, v in named.items() if v is not None), (None, None))
        if value is not None:
            out["qtc"] = float(value)
    others = {f: float(v) for f, v in named.items() if v is not None and float(v) != out.get("qtc")}
    return out, formula, others


def _median(beats: list[Lead], warns: list[str]) -> MedianBeats | None:
    """The device's representative beats; a file whose beats cannot be used still opens."""
    if not beats:
        return None
    skipped: list[str] = []
    try:
        names, data, fs, steps = _signals(beats, skipped)
    except ValueError as exc:
        warns.append(f"device median beats not shown: {exc}")
        return None
    warns.extend(f"median beats: {w}" for w in skipped)
    for row, step in zip(data, steps, strict=True):
        # 16-bit extremes are padding, not signal: Philips 1.04 declares 2.4 s of beats and fills the
        # second half with 32767 (81.9 mV at 2.5 uV per step)
        if step:
            row[np.abs(row) >= INT16_PADDING * step * (1 - 1e-6)] = np.nan
    kept = np.flatnonzero(np.isfinite(data).any(axis=0))
    if kept.size == 0:
        warns.append("device median beats not shown: every sample is missing")
        return None
    data = data[:, : kept[-1] + 1]  # a writer's padding after the beat (ECG Toolkit's DICOM)
    return MedianBeats(fs, tuple(canonical_lead(n) for n in names), data)


for _fmt in FORMATS:
    register(Reader(_fmt.name, _fmt.extensions, _sniffer(_fmt), _reader(_fmt)))
