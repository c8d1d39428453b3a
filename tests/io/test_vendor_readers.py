"""Vendor readers (ecgviewer/io/vendor.py) checked against independent readings of the same files.

- DICOM: pydicom's ``waveform_array`` (sensitivity x correction + baseline; units read from the
  ChannelSensitivityUnitsSequence), lead names and order from the ChannelSourceSequence, the group's
  SamplingFrequency; the device's median beats against the MEDIAN BEAT multiplex group.
- Philips Sierra XML: the ``sierraecg`` package's own XLI decoder (integer counts) times the
  resolution the XML declares; sampling rate and duration as the XML declares them.
- GE MUSE XML: WaveFormData decoded here with base64 + struct, times LeadAmplitudeUnitsPerBit in
  LeadAmplitudeUnits; III, aVR, aVL, aVF derived from the stored I and II.
- HL7 aECG, SCP-ECG and the ECG Toolkit DICOM: one recording in three formats must agree, and the
  aECG's lead I must equal origin + scale x digits read with xml.etree.
- The device's statements, measurements and metadata against the elements of each file; patient
  identifiers present but absent from repr, warnings, extra and the summary text.
- Detection by content (renamed files, no sniffer accepting another format), typed errors for
  truncated and random files, size and consistency guards in the shared conversion.
"""

from __future__ import annotations

import base64
import shutil
import struct
import time
import xml.etree.ElementTree as ET
from datetime import datetime
from pathlib import Path

import numpy as np
import pydicom
import pytest
import sierraecg
from ecgdatakit.models import ECGRecord, Lead

import ecgviewer.io.vendor as vendor
from ecgviewer.errors import EcgReadError
from ecgviewer.io import READERS, load
from ecgviewer.leads import STANDARD_LEADS, canonical_lead
from ecgviewer.summary import summary_lines

MUSE = ("braveheart_example1.xml", "muse-sinus.xml")
PHILIPS = ("129DYPRG.XML", "2020-5-18_15-48-11.xml", "3191723_ZZDEMOPTONLY_1-04_orig.xml")
SAMPLES = {  # file under formats/ -> the reader that must detect it
    "dicom/ecgtoolkit_Example.dcm": "DICOM ECG",
    "dicom/pydicom_waveform_ecg.dcm": "DICOM ECG",
    "hl7_aecg/Example_aECG.xml": "HL7 aECG",
    **{f"ge_muse_xml/{n}": "GE MUSE XML" for n in MUSE},
    **{f"philips_xml/{n}": "Philips Sierra XML" for n in PHILIPS},
    "scp_ecg/Example.scp": "SCP-ECG",
}
VENDOR = {f.name for f in vendor.FORMATS}
UV = 1e-3  # mV per uV
TOL = 1e-6  # mV: float32 rounding of values below 10 mV


def _formats(shared: Path) -> Path:
    return shared / "formats"


def _max_uv(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.max(np.abs(a.astype(np.float64) - b.astype(np.float64)))) / UV


# --- DICOM ---------------------------------------------------------------------------------------


def _dicom_group(ds: pydicom.Dataset, index: int) -> tuple[list[str], np.ndarray, float, list[float]]:
    """Lead names, (leads, samples) mV, rate and mV per step of one multiplex group, per pydicom."""
    wf = ds.WaveformSequence[index]
    channels = wf.ChannelDefinitionSequence
    to_mv = [{"uV": UV, "mV": 1.0}[ch.ChannelSensitivityUnitsSequence[0].CodeValue] for ch in channels]
    names = [
        canonical_lead(ch.ChannelSourceSequence[0].CodeMeaning.removeprefix("Lead ").split(" (")[0])
        for ch in channels
    ]
    data = ds.waveform_array(index).T * np.array(to_mv)[:, None]
    steps = [
        float(ch.ChannelSensitivity) * float(ch.get("ChannelSensitivityCorrectionFactor", 1)) * f
        for ch, f in zip(channels, to_mv, strict=True)
    ]
    return names, data, float(wf.SamplingFrequency), steps


@pytest.mark.parametrize("name", ["ecgtoolkit_Example.dcm", "pydicom_waveform_ecg.dcm"])
def test_dicom_matches_pydicom(shared: Path, name: str) -> None:
    path = _formats(shared) / "dicom" / name
    ds = pydicom.dcmread(path)
    rec = load(path)
    names, data, fs, steps = _dicom_group(ds, 0)
    assert rec.source_format == "DICOM ECG"
    assert rec.leads == tuple(names) == STANDARD_LEADS
    assert rec.fs == fs and rec.n_samples == int(ds.WaveformSequence[0].NumberOfWaveformSamples)
    assert rec.resolution == pytest.approx(steps)
    assert np.isfinite(rec.signals).all()  # ECG Toolkit's padding value 0 must not blank zero crossings
    assert _max_uv(rec.signals, data) < TOL / UV

    median = rec.metadata.device.median
    m_names, m_data, m_fs, _ = _dicom_group(ds, 1)
    assert "MEDIAN" in ds.WaveformSequence[1].MultiplexGroupLabel.upper()
    assert median.leads == tuple(m_names) and median.fs == m_fs
    n = median.data.shape[1]
    assert _max_uv(median.data, m_data[:, :n]) < TOL / UV
    # Whatever was trimmed is the writer's undeclared padding: the int16 minimum, not a beat sample.
    raw = np.frombuffer(ds.WaveformSequence[1].WaveformData, "<i2").reshape(-1, len(m_names))
    assert (raw[n:] == -32768).all()


def test_dicom_metadata_and_device_report(shared: Path) -> None:
    path = _formats(shared) / "dicom" / "pydicom_waveform_ecg.dcm"
    ds = pydicom.dcmread(path)
    rec = load(path)
    meta = rec.metadata
    assert meta.age == int(ds.PatientAge.rstrip("Y"))
    assert meta.sex == {"F": "female", "M": "male"}[ds.PatientSex]
    assert rec.start_time == datetime.strptime(ds.AcquisitionDateTime, "%Y%m%d%H%M%S")
    assert ds.Manufacturer in meta.device.device and ds.ManufacturerModelName in meta.device.device
    texts = [a.UnformattedTextValue for a in ds.WaveformAnnotationSequence if "UnformattedTextValue" in a]
    assert meta.device.statements == texts == ["RITMO SINUSALE", "ECG NORMALE"]
    numeric = {
        a.ConceptNameCodeSequence[0].CodeMeaning: float(a.NumericValue)
        for a in ds.WaveformAnnotationSequence
        if "NumericValue" in a
    }
    ours = {"rr": "RR Interval", "pr": "PR Interval", "qrs": "QRS Duration", "qt": "QT Interval"}
    ours |= {"qtc": "QTc Interval", "p_axis": "P Axis", "qrs_axis": "QRS Axis", "t_axis": "T Axis"}
    assert {k: meta.device.measurements[k] for k in ours} == {k: numeric[v] for k, v in ours.items()}
    assert meta.device.qtc_formula is None  # the file does not name it
    assert meta.identifiers["patient id"] == ds.PatientID
    birth = datetime.strptime(ds.PatientBirthDate, "%Y%m%d").date()
    assert meta.identifiers["birth date"] == birth.isoformat()


def test_dicom_library_noise_is_not_a_warning(shared: Path) -> None:
    """pydicom complains about the ECG Toolkit's malformed UIDs: nothing a reader of the ECG needs."""
    rec = load(_formats(shared) / "dicom" / "ecgtoolkit_Example.dcm")
    assert not any("VR UI" in w for w in rec.warnings)
    assert any("padding value 0" in w for w in rec.warnings)


# --- Philips Sierra XML --------------------------------------------------------------------------


def _philips_header(path: Path) -> tuple[float, float, float]:
    """(sampling rate, uV per count, ms per channel) as the XML declares them."""
    root = ET.parse(path).getroot()
    signal = root.find(".//{*}signalcharacteristics")
    resolution = signal.find("{*}signalresolution")  # 1.03
    if resolution is None:
        resolution = signal.find("{*}resolution")  # 1.04
    waves = root.find(".//{*}parsedwaveforms")
    rate = float(signal.findtext("{*}samplingrate"))
    return rate, float(resolution.text), float(waves.get("durationperchannel"))


@pytest.mark.parametrize("name", PHILIPS)
def test_philips_matches_sierraecg(shared: Path, name: str) -> None:
    path = _formats(shared) / "philips_xml" / name
    rate, uv_per_count, duration_ms = _philips_header(path)
    ref = sierraecg.read_file(str(path))
    rec = load(path)
    assert rec.source_format == "Philips Sierra XML"
    assert rec.leads == tuple(canonical_lead(lead.label) for lead in ref.leads) == STANDARD_LEADS
    stored = round(duration_ms * rate / 1000)
    assert rec.fs == rate and 10 * rate <= rec.n_samples < stored
    assert rec.resolution == pytest.approx([uv_per_count * UV] * 12)
    full = np.array([lead.samples[:stored] for lead in ref.leads], np.float64) * uv_per_count * UV
    assert _max_uv(rec.signals, full[:, : rec.n_samples]) < TOL / UV
    # what was left out is the device's calibration block: every lead the same, a 1 mV pulse in it
    tail = full[:, rec.n_samples :]
    assert np.all(tail == tail[0]) and np.ptp(tail[0]) == pytest.approx(1.0)
    assert any("calibration block" in w for w in rec.warnings)


def test_philips_device_report(shared: Path) -> None:
    path = _formats(shared) / "philips_xml" / "2020-5-18_15-48-11.xml"
    root = ET.parse(path).getroot()
    glob = root.find(".//{*}interpretation/{*}globalmeasurements")
    tags = ("heartrate", "print", "qrsdur", "qtint", "qtcb")
    file = {tag: float(glob.findtext("{*}" + tag)) for tag in tags}
    assert file == {"heartrate": 64, "print": 164, "qrsdur": 102, "qtint": 399, "qtcb": 412}
    rec = load(path)
    device = rec.metadata.device
    m = device.measurements
    assert (m["hr"], m["pr"], m["qrs"], m["qt"], m["qtc"]) == tuple(file.values())
    assert device.qtc_formula == "Bazett"
    assert m["p"] == float(glob.findtext("{*}pdur"))
    assert (m["p_axis"], m["qrs_axis"], m["t_axis"]) == tuple(
        float(glob.findtext("{*}" + t)) for t in ("pfrontaxis", "qrsfrontaxis", "tfrontaxis")
    )
    statements = [
        f"{s.findtext('{*}leftstatement')} ({s.findtext('{*}rightstatement')})"
        for s in root.findall(".//{*}interpretation/{*}statement")
    ]
    assert device.statements == statements
    assert device.statements[0] == "Sinus rhythm (normal P axis, V-rate 50-99)"
    machine = root.find(".//{*}dataacquisition/{*}machine")
    assert machine.text in device.device and machine.get("detaildescription").split(":")[-1] in device.device
    acq = root.find(".//{*}dataacquisition")
    assert rec.start_time == datetime.fromisoformat(f"{acq.get('date')}T{acq.get('time')}")
    assert rec.metadata.sex is None  # <sex>Unknown</sex>
    assert rec.metadata.age == 69  # from <dateofbirth>1951-01-01 at the acquisition on 2020-05-18
    beats = device.median
    repbeats = root.find(".//{*}repbeats")
    assert beats.fs == float(repbeats.get("samplespersec")) and beats.leads == STANDARD_LEADS


# --- GE MUSE XML ---------------------------------------------------------------------------------


def _muse_waveform(path: Path, kind: str) -> tuple[float, dict[str, np.ndarray]]:
    """Rate and {lead: mV} of the Rhythm or Median waveform, decoded with the stdlib."""
    to_mv = {"MICROVOLTS": UV, "MILLIVOLTS": 1.0}
    root = ET.parse(path).getroot()
    wave = next(w for w in root.iter("Waveform") if w.findtext("WaveformType") == kind)
    fs = float(wave.findtext("SampleBase")) * 10 ** int(wave.findtext("SampleExponent") or 0)
    leads = {}
    for lead in wave.iter("LeadData"):
        payload = base64.b64decode(lead.findtext("WaveFormData"))
        counts = struct.unpack(f"<{len(payload) // 2}h", payload)
        scale = float(lead.findtext("LeadAmplitudeUnitsPerBit")) * to_mv[lead.findtext("LeadAmplitudeUnits")]
        leads[lead.findtext("LeadID")] = np.array(counts, np.float64) * scale
    return fs, leads


@pytest.mark.parametrize("name", MUSE)
def test_muse_matches_base64_and_derives_limb_leads(shared: Path, name: str) -> None:
    path = _formats(shared) / "ge_muse_xml" / name
    fs, stored = _muse_waveform(path, "Rhythm")
    assert set(stored) == {"I", "II", "V1", "V2", "V3", "V4", "V5", "V6"}  # MUSE stores 8 leads
    rec = load(path)
    assert rec.source_format == "GE MUSE XML" and rec.fs == fs
    assert rec.leads == STANDARD_LEADS and rec.derived == {"III", "aVR", "aVL", "aVF"}
    got = {lead: rec.signals[rec.index(lead)] for lead in rec.leads}
    for lead, x in stored.items():
        assert _max_uv(got[lead], x) < TOL / UV
    i, ii = stored["I"], stored["II"]
    derived = {"III": ii - i, "aVR": -(i + ii) / 2, "aVL": i - ii / 2, "aVF": ii - i / 2}
    for lead, x in derived.items():
        assert _max_uv(got[lead], x) < TOL / UV
    m_fs, m_stored = _muse_waveform(path, "Median")
    median = rec.metadata.device.median
    assert median.fs == m_fs and median.leads == tuple(m_stored)
    assert _max_uv(median.data, np.array(list(m_stored.values()))) < TOL / UV


def test_muse_device_report_and_metadata(shared: Path) -> None:
    path = _formats(shared) / "ge_muse_xml" / "muse-sinus.xml"
    root = ET.parse(path).getroot()
    lines, line = [], []
    for stmt in root.find("Diagnosis").iter("DiagnosisStatement"):
        line.append(stmt.findtext("StmtText"))
        if stmt.findtext("StmtFlag") == "ENDSLINE":
            lines.append(" ".join(line))
            line = []
    rec = load(path)
    device = rec.metadata.device
    assert device.statements == lines and device.statements[0] == "Normal Sinus rhythm"
    meas = root.find("RestingECGMeasurements")
    tags = {"hr": "VentricularRate", "pr": "PRInterval", "qrs": "QRSDuration", "qt": "QTInterval"}
    tags |= {"qtc": "QTCorrected", "p_axis": "PAxis", "qrs_axis": "RAxis", "t_axis": "TAxis"}
    expected = {k: float(meas.findtext(t)) for k, t in tags.items()}
    expected["rr"] = float(root.find("QRSTimesTypes").findtext("GlobalRR"))
    assert device.measurements == expected
    assert device.measurements["pr"] == 144 and device.qtc_formula is None  # MUSE does not name it
    assert rec.metadata.extra["device QTc (Fridericia)"] == f"{meas.findtext('QTcFrederica')} ms"
    demo, test = root.find("PatientDemographics"), root.find("TestDemographics")
    assert rec.metadata.age == float(demo.findtext("PatientAge")) and rec.metadata.sex == "male"
    stamp = f"{test.findtext('AcquisitionDate')} {test.findtext('AcquisitionTime')}"
    assert rec.start_time == datetime.strptime(stamp, "%m-%d-%Y %H:%M:%S")
    assert device.device.startswith(test.findtext("AcquisitionDevice"))
    assert rec.metadata.identifiers["name"] == "JOHN DOE"


def test_muse_checksum_mismatch_becomes_a_warning(shared: Path, tmp_path: Path) -> None:
    text = (_formats(shared) / "ge_muse_xml" / "muse-sinus.xml").read_text("latin-1")
    bad = tmp_path / "crc.xml"
    bad.write_text(text.replace("<LeadDataCRC32>", "<LeadDataCRC32>1", 1), "latin-1")
    assert any("CRC32 mismatch" in w for w in load(bad).warnings)


# --- One recording in three formats --------------------------------------------------------------


def test_aecg_scp_and_dicom_agree(shared: Path) -> None:
    fmt = _formats(shared)
    aecg = load(fmt / "hl7_aecg" / "Example_aECG.xml")
    scp = load(fmt / "scp_ecg" / "Example.scp")
    dcm = load(fmt / "dicom" / "ecgtoolkit_Example.dcm")
    assert (aecg.source_format, scp.source_format) == ("HL7 aECG", "SCP-ECG")
    assert set(aecg.leads) == set(scp.leads) == set(dcm.leads) == set(STANDARD_LEADS)
    assert aecg.fs == scp.fs == dcm.fs == 500 and aecg.n_samples == scp.n_samples == dcm.n_samples
    assert aecg.start_time == scp.start_time == dcm.start_time == datetime(2002, 11, 22, 9, 10)
    for other in (scp, dcm):
        for lead in STANDARD_LEADS:
            assert _max_uv(aecg.signals[aecg.index(lead)], other.signals[other.index(lead)]) == 0
    medians = [r.metadata.device.median for r in (aecg, scp, dcm)]
    n = min(m.data.shape[1] for m in medians)
    assert n == 599
    for m in medians[1:]:
        for lead in STANDARD_LEADS:
            a = medians[0].data[medians[0].leads.index(lead), :n]
            assert _max_uv(a, m.data[m.leads.index(lead), :n]) == 0
    for rec in (aecg, scp, dcm):
        assert rec.metadata.identifiers["patient id"] == "SBJ-123"
    assert aecg.metadata.device.measurements["qtc"] == scp.metadata.device.measurements["qtc"] == 443


def test_aecg_lead_against_declared_origin_and_scale(shared: Path) -> None:
    path = _formats(shared) / "hl7_aecg" / "Example_aECG.xml"
    root = ET.parse(path).getroot()
    seq = next(
        s
        for s in root.iter("{urn:hl7-org:v3}sequence")
        if s.find("{urn:hl7-org:v3}code").get("code") == "MDC_ECG_LEAD_I"
    )  # the first lead I sequence is the rhythm's (the median's follows it)
    value = seq.find("{urn:hl7-org:v3}value")
    origin, scale = value.find("{urn:hl7-org:v3}origin"), value.find("{urn:hl7-org:v3}scale")
    assert origin.get("unit") == scale.get("unit") == "uV"
    digits = np.array(value.findtext("{urn:hl7-org:v3}digits").split(), np.float64)
    expected = (float(origin.get("value")) + float(scale.get("value")) * digits) * UV
    rec = load(path)
    assert _max_uv(rec.signals[rec.index("I")], expected) < TOL / UV
    assert rec.resolution[rec.index("I")] == pytest.approx(float(scale.get("value")) * UV)


def test_scp_checksum_mismatch_becomes_a_warning(shared: Path, tmp_path: Path) -> None:
    data = (_formats(shared) / "scp_ecg" / "Example.scp").read_bytes()
    at = data.index(b"Clark")  # the last name in Section 1: a change the decoder survives
    bad = tmp_path / "crc.scp"
    bad.write_bytes(data[:at] + b"Clbrk" + data[at + 5 :])
    rec = load(bad)
    assert any("CRC mismatch" in w for w in rec.warnings)
    assert not any("Clbrk" in w for w in rec.warnings)


# --- Identifiers ---------------------------------------------------------------------------------


@pytest.mark.parametrize("sample", sorted(SAMPLES))
def test_identifiers_are_kept_apart(shared: Path, tmp_path: Path, sample: str) -> None:
    """Names, IDs and birth dates go to ``identifiers`` only (the file is copied under a neutral name:
    one sample's file name holds its patient's name)."""
    src = _formats(shared) / sample
    path = tmp_path / ("record" + src.suffix)
    shutil.copyfile(src, path)
    rec = load(path)
    ids = rec.metadata.identifiers
    if "braveheart" in sample:
        assert ids == {}
        return
    assert ids.get("patient id")
    shown = [repr(rec.metadata), *rec.warnings, *rec.metadata.extra.values(), *summary_lines(rec)]
    for value in ids.values():
        assert not any(value in text for text in shown), value


# --- Detection and errors ------------------------------------------------------------------------


def test_each_sample_is_detected_by_exactly_its_own_sniffer(shared: Path, tmp_path: Path) -> None:
    readers = [r for r in READERS if r.name in VENDOR]
    assert {r.name for r in readers} == VENDOR
    for sample, name in SAMPLES.items():
        path = _formats(shared) / sample
        head = path.read_bytes()[:4096]
        assert [r.name for r in readers if r.sniff(path, head)] == [name], sample
    csv = tmp_path / "x.csv"
    csv.write_text("I,II\n0.1,0.2\n0.3,0.4\n")
    others = [
        csv,
        _formats(shared) / "wfdb_ptbdb" / "s0010_re.hea",
        _formats(shared) / "wfdb_ptbdb" / "s0010_re.dat",
        _formats(shared) / "edf" / "ludb_record1.edf",
    ]
    for path in others:
        head = path.read_bytes()[:4096]
        assert not [r.name for r in readers if r.sniff(path, head)], path.name


@pytest.mark.parametrize("sample", sorted(SAMPLES))
def test_renamed_file_is_read_by_content(shared: Path, tmp_path: Path, sample: str) -> None:
    src = _formats(shared) / sample
    renamed = tmp_path / "x.bin"
    shutil.copyfile(src, renamed)
    a, b = load(src), load(renamed)
    assert b.source_format == SAMPLES[sample] and b.leads == a.leads
    np.testing.assert_array_equal(a.signals, b.signals)


@pytest.mark.parametrize("sample", sorted(SAMPLES))
def test_truncated_file_raises_a_typed_error_quickly(shared: Path, tmp_path: Path, sample: str) -> None:
    data = (_formats(shared) / sample).read_bytes()
    for keep in (len(data) // 2, 600):
        path = tmp_path / f"cut_{keep}{Path(sample).suffix}"
        path.write_bytes(data[:keep])
        start = time.perf_counter()
        with pytest.raises(EcgReadError) as err:
            load(path)
        assert time.perf_counter() - start < 2.0
        assert path.name in str(err.value)


@pytest.mark.parametrize("suffix", [".dcm", ".xml", ".XML", ".scp", ".bin"])
def test_random_bytes_raise_a_typed_error(tmp_path: Path, suffix: str) -> None:
    path = tmp_path / f"noise{suffix}"
    path.write_bytes(np.random.default_rng(7).integers(0, 256, 20_000, dtype=np.uint8).tobytes())
    start = time.perf_counter()
    with pytest.raises(EcgReadError) as err:
        load(path)
    assert time.perf_counter() - start < 2.0 and path.name in str(err.value)


def test_oversized_file_is_refused_before_parsing(tmp_path: Path) -> None:
    path = tmp_path / "huge.dcm"
    with path.open("wb") as f:  # sparse: no disk space used
        f.write(b"\0" * 128 + b"DICM")
        f.truncate(257 * 2**20)
    with pytest.raises(EcgReadError, match="too large"):
        load(path)


# --- The shared conversion on records the samples do not cover ----------------------------------


def _lead(label: str, n: int, rate: int = 500, unit: str = "uV") -> Lead:
    return Lead(label, np.arange(n, dtype=np.float64), rate, resolution=2.5, resolution_unit=unit)


def test_unequal_lengths_are_cut_with_a_warning(tmp_path: Path) -> None:
    record = ECGRecord(leads=[_lead("I", 5000), _lead("II", 4990)])
    rec = vendor.to_recording(tmp_path / "x.xml", "test", record, [])
    assert rec.n_samples == 4990
    assert any("unequal lengths (4990 to 5000 samples)" in w for w in rec.warnings)
    assert rec.signals[0, 10] == pytest.approx(10 * 2.5 * UV)


@pytest.mark.parametrize(
    ("leads", "cause"),
    [
        ([_lead("I", 5000), _lead("II", 5000, rate=250)], "different rates"),
        ([_lead("I", 5000, unit=""), _lead("II", 5000, unit="mmHg")], "voltage unit"),
        ([_lead("I", 0), _lead("II", 0)], "no samples"),
        ([_lead("I", 500, rate=10), _lead("II", 500, rate=10)], "outside 50-100000 Hz"),
    ],
)
def test_unusable_leads_raise_the_cause(tmp_path: Path, leads: list[Lead], cause: str) -> None:
    with pytest.raises(EcgReadError, match=cause):
        vendor.to_recording(tmp_path / "x.xml", "test", ECGRecord(leads=leads), [])


def test_a_lead_without_voltage_unit_is_skipped_and_median_problems_do_not_refuse(tmp_path: Path) -> None:
    record = ECGRecord(
        leads=[_lead("I", 5000), _lead("II", 5000), _lead("Resp", 5000, unit="")],
        median_beats=[_lead("I", 600), _lead("II", 600, rate=1000)],
    )
    rec = vendor.to_recording(tmp_path / "x.xml", "test", record, [])
    assert rec.leads[:2] == ("I", "II") and "Resp" not in rec.leads
    assert any("lead Resp skipped" in w for w in rec.warnings)
    assert rec.metadata.device is None
    assert any("median beats not shown" in w for w in rec.warnings)


def test_library_warning_quoting_an_identifier_is_withheld(tmp_path: Path) -> None:
    record = ECGRecord(leads=[_lead("I", 5000), _lead("II", 5000)])
    record.patient.last_name = "Zyxwv"
    rec = vendor.to_recording(tmp_path / "x.xml", "test", record, ["odd field near Zyxwv"])
    assert rec.metadata.identifiers["name"] == "Zyxwv"
    assert not any("Zyxwv" in w for w in rec.warnings)
