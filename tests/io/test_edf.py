"""EDF / EDF+ / BDF reader (ecgviewer.io.edf_reader).

Checked against independent readings: the shared EDF+ sample against the same LUDB record in WFDB
(``wfdb.rdrecord``; the conversion rounded to the EDF step, so within one step, 0.31 uV) and
against pyedflib's own physical values, annotations and header fields; files written here with
pyedflib (a BDF+ with 24-bit integers, a 2 h EDF+, EDF+D with a gap, plain EDF) against the
integers written into them. Lead order and names, units (mV), sampling rate, laziness of long
files, metadata routing (identifiers kept apart) and the plain causes of bad input.
"""

from __future__ import annotations

import datetime as dt
import time
from pathlib import Path

import numpy as np
import pyedflib
import pytest

from ecgviewer.errors import EcgReadError
from ecgviewer.io import edf_reader, load
from ecgviewer.io.registry import detect

FS_LONG = 500  # 2 h x 3 leads at 500 Hz: 10.8 M values, above the lazy threshold
_SETTERS = {
    "patientname": "setPatientName", "patientcode": "setPatientCode", "technician": "setTechnician",
    "equipment": "setEquipment", "patient_additional": "setPatientAdditional", "sex": "setSex",
}  # fmt: skip


def _write(
    path: Path, channels: list[dict], data: list[np.ndarray], *, ftype=pyedflib.FILETYPE_EDFPLUS, **kw
):
    """An EDF/BDF written with pyedflib from digital integers, record by record (1 s records)."""
    w = pyedflib.EdfWriter(str(path), len(channels), ftype)
    w.setSignalHeaders(channels)
    w.setStartdatetime(kw.get("start", dt.datetime(2024, 5, 6, 7, 8, 9)))
    for key, setter in _SETTERS.items():
        if key in kw:
            getattr(w, setter)(kw[key])
    for onset, duration, text in kw.get("annotations", []):
        w.writeAnnotation(onset, duration, text)
    sprs = [int(c["sample_frequency"]) for c in channels]
    for r in range(len(data[0]) // sprs[0]):
        record = np.concatenate([d[r * s : (r + 1) * s] for d, s in zip(data, sprs, strict=True)])
        assert w.blockWriteDigitalSamples(np.ascontiguousarray(record, np.int32)) == 0
    w.close()


def _channel(label, fs, dim="uV", pmin=-10000, pmax=10000, dmin=-32768, dmax=32767):
    return {"label": label, "dimension": dim, "sample_frequency": fs, "physical_min": pmin,
            "physical_max": pmax, "digital_min": dmin, "digital_max": dmax, "transducer": "",
            "prefilter": "HP:0.05Hz LP:150Hz"}  # fmt: skip


def _mv(d, pmin, pmax, dmin, dmax, to_mv=1e-3):
    """EDF's calibration (specification, section 2.1.3), in float64."""
    return (pmin + (np.asarray(d, np.float64) - dmin) * (pmax - pmin) / (dmax - dmin)) * to_mv


# -- The shared sample: a conversion of LUDB record 1 ------------------------------------------------


def test_ludb_sample_against_wfdb_and_pyedflib(shared: Path) -> None:
    import wfdb

    path = shared / "formats/edf/ludb_record1.edf"
    rec = load(path)
    ref = wfdb.rdrecord(str(shared / "ludb/data/1"))
    assert rec.source_format == "EDF+"
    assert rec.leads == ("I", "II", "III", "aVR", "aVL", "aVF", "V1", "V2", "V3", "V4", "V5", "V6")
    assert [n.lower() for n in ref.sig_name] == [n.lower() for n in rec.leads]
    assert rec.fs == ref.fs == 500 and rec.n_samples == ref.sig_len == 5000 and rec.units == "mV"
    assert not rec.derived and not rec.source.lazy
    diff_uv = np.abs(rec.signals - ref.p_signal.T) * 1000
    assert diff_uv.max() < 0.31  # one EDF step (20000/65535 uV): the conversion's rounding
    assert diff_uv.mean() < 0.2

    f = pyedflib.EdfReader(str(path))
    try:
        physical = np.array([f.readSignal(i) for i in range(12)]) / 1000  # uV -> mV
        assert np.array_equal(rec.signals, physical.astype(np.float32))
        assert rec.resolution == tuple(20 / 65535 for _ in range(12))
        assert rec.start_time == f.getStartdatetime()
        onsets, _, texts = f.readAnnotations()
    finally:
        f.close()
    got = rec.metadata.annotations
    assert len(got) == len(onsets) == 48
    assert [a.text for a in got] == list(texts)
    assert np.allclose([a.onset for a in got], onsets) and all(a.duration is None for a in got)

    meta = rec.metadata
    assert meta.sex == "female" and meta.age == 51  # the WFDB header says <age>: 51, <sex>: F
    assert meta.extra["equipment"] == "LUDB v1.0.1 converted with pyedflib"
    assert meta.identifiers["patient id"] == "LUDB-1"
    shown = repr(meta) + " ".join(rec.warnings) + " ".join(meta.extra.values())
    assert "LUDB-1" not in shown


def test_sniffer(shared: Path, tmp_path: Path) -> None:
    sample = shared / "formats/edf/ludb_record1.edf"
    head = sample.read_bytes()[:4096]
    assert edf_reader.sniff(sample, head)
    assert detect(sample).name == "EDF"
    disguised = tmp_path / "record.dat"  # content decides, not the extension
    disguised.write_bytes(sample.read_bytes())
    assert detect(disguised).name == "EDF"
    assert not edf_reader.sniff(sample, b"0       " + b"x" * 300)  # the magic, then no numbers
    bad = bytearray(head)
    bad[252:256] = b"13  "  # signal count that contradicts the header size
    assert not edf_reader.sniff(sample, bytes(bad))
    assert not edf_reader.sniff(sample, head[:200])


# -- Files written here -------------------------------------------------------------------------------


def test_bdf_24bit_with_other_channels(tmp_path: Path) -> None:
    """BDF+: 24-bit integers, a trigger channel (not a voltage) and a channel at another rate."""
    fs, n = 256, 256 * 4
    rng = np.random.default_rng(1)
    ecg = [rng.integers(-5_000_000, 5_000_000, n) for _ in range(3)]
    labels = ["ECG V1", "EKG V2", "II"]
    chans = [_channel(lb, fs, "uV", -262144, 262143, -8388608, 8388607) for lb in labels]
    chans += [_channel("Status", fs, "Boolean", -1, 1, -8388608, 8388607), _channel("ECG I", 128, "mV")]
    data = [*ecg, np.zeros(n, int), rng.integers(-100, 100, n // 2)]
    path = tmp_path / "rec.bdf"
    _write(path, chans, data, ftype=pyedflib.FILETYPE_BDFPLUS)
    assert path.read_bytes()[:8] == b"\xffBIOSEMI"

    rec = load(path)
    assert rec.source_format == "BDF+"
    assert rec.leads == ("V1", "V2", "II") and rec.fs == fs
    step = (262143 + 262144) / (2**24 - 1) / 1000  # mV (BioSemi's calibration)
    expected = np.array([_mv(d, -262144, 262143, -8388608, 8388607) for d in ecg])
    assert np.array_equal(rec.signals, expected.astype(np.float32))
    assert rec.resolution == pytest.approx((step,) * 3, rel=1e-12)
    assert any("'Status'" in w and "not a voltage" in w for w in rec.warnings)
    assert any("'ECG I'" in w and "128 Hz" in w for w in rec.warnings)
    assert rec.metadata.extra["filters"] == "HP:0.05Hz LP:150Hz"

    # The raw reader (used when edflib refuses, here because the file is open already) decodes
    # the 24-bit integers the same way.
    holder = pyedflib.EdfReader(str(path))
    try:
        again = load(path)
    finally:
        holder.close()
    assert np.array_equal(again.signals, rec.signals)


def _long_edf(path: Path, hours: float = 2.0) -> list[np.ndarray]:
    n = int(hours * 3600 * FS_LONG)
    k = np.arange(n)
    data = [((k * (7 + j) + 1000 * j) % 20000 - 10000).astype(np.int32) for j in range(3)]
    chans = [_channel(f"ECG {lead}", FS_LONG) for lead in ("V1", "V2", "V5")]
    _write(path, chans, data, annotations=[(3600.5, 2.0, "mid event")])
    return data


def test_long_edf_is_paged(tmp_path: Path) -> None:
    path = tmp_path / "holter.edf"
    data = _long_edf(path)
    t0 = time.perf_counter()
    rec = load(path)
    opened = time.perf_counter() - t0
    assert rec.source.lazy and rec.n_samples == len(data[0]) and rec.leads == ("V1", "V2", "V5")
    assert opened < 5.0  # measured about 0.1 s: nothing is loaded but the first minute's check
    mid = rec.n_samples // 2 + 123
    window = rec.read(mid, mid + 2500)
    expected = np.array([_mv(d[mid : mid + 2500], -10000, 10000, -32768, 32767) for d in data])
    assert np.array_equal(window, expected.astype(np.float32))
    assert rec.metadata.annotations[0].text == "mid event" and rec.metadata.annotations[0].onset == 3600.5
    assert rec.start_time == dt.datetime(2024, 5, 6, 7, 8, 9)
    # A second window across a cache-block boundary, and the end of the record.
    edge = (1 << 16) * 3 - 10
    assert np.array_equal(
        rec.read(edge, edge + 20)[1],
        _mv(data[1][edge : edge + 20], -1e4, 1e4, -32768, 32767).astype(np.float32),
    )
    assert rec.read(rec.n_samples - 5, rec.n_samples + 5).shape == (3, 5)

    # Opened twice while the first is paging: edflib refuses, the raw reader takes over.
    again = load(path)
    assert np.array_equal(again.read(mid, mid + 2500), window)


def test_discontinuous_edf_places_records_at_their_onsets(tmp_path: Path) -> None:
    """EDF+D: records at 0, 1, 2 s then 5, 6 s (edited here from an EDF+C written by pyedflib)."""
    fs, n = 200, 200 * 5
    codes = [np.arange(n, dtype=np.int32) - 500, 2 * np.arange(n, dtype=np.int32)]
    path = tmp_path / "gaps.edf"
    chans = [_channel("ECG I", fs), _channel("ECG V1", fs)]
    _write(path, chans, codes, annotations=[(5.5, -1, "after the gap")])
    raw = bytearray(path.read_bytes())
    header = edf_reader.header_of(path)
    raw[192:197] = b"EDF+D"
    annotation_offset = header.offset(2)
    for k, onset in ((3, b"+5"), (4, b"+6")):
        at = header.header_bytes + k * header.record_bytes + annotation_offset
        assert raw[at : at + 3] == b"+%d\x14" % k
        raw[at : at + 2] = onset
    path.write_bytes(bytes(raw))
    with pytest.raises(OSError, match="discontinuous"):
        pyedflib.EdfReader(str(path))  # why the raw reader exists

    rec = load(path)
    assert rec.source_format == "EDF+ (discontinuous)"
    assert rec.n_samples == 7 * fs and rec.leads == ("I", "V1")
    x = rec.signals
    gap = slice(3 * fs, 5 * fs)
    assert (
        np.isnan(x[:, gap]).all()
        and not np.isnan(x[:, : 3 * fs]).any()
        and not np.isnan(x[:, 5 * fs :]).any()
    )
    step = 20 / 65535
    assert np.array_equal(x[0, : 3 * fs], ((codes[0][: 3 * fs] + 0.5) * step).astype(np.float32))
    assert np.array_equal(x[1, 5 * fs :], ((codes[1][3 * fs :] + 0.5) * step).astype(np.float32))
    assert any("1 gap(s), 2 s" in w for w in rec.warnings)
    assert [(a.onset, a.text) for a in rec.metadata.annotations] == [(5.5, "after the gap")]


def test_plain_edf_fields_are_identifiers(tmp_path: Path) -> None:
    path = tmp_path / "plain.edf"
    chans = [_channel("ECG1", 250), _channel("EEG Fpz-Cz", 250)]
    ids = {"patientname": "Jane_Roe", "patientcode": "MRN-991", "technician": "Smith"}
    _write(path, chans, [np.arange(500, dtype=np.int32)] * 2, ftype=pyedflib.FILETYPE_EDF, **ids)
    rec = load(path)
    assert rec.source_format == "EDF" and rec.leads == ("ECG1",)
    assert "1 channel(s) skipped, not ECG leads: 'EEG Fpz-Cz'" in rec.warnings
    ids = rec.metadata.identifiers
    assert "Jane_Roe" in ids["patient"] and "MRN-991" in ids["patient"] and "Smith" in ids["recording"]
    shown = repr(rec.metadata) + " ".join(rec.warnings) + " ".join(rec.metadata.extra.values())
    assert not any(s in shown for s in ("Jane", "MRN-991", "Smith"))


def test_edf_plus_patient_fields(tmp_path: Path) -> None:
    path = tmp_path / "plus.edf"
    _write(path, [_channel("ECG II", 250)], [np.arange(500, dtype=np.int32)], patientname="Jane_Roe",
           patientcode="MRN-991", technician="Smith", equipment="Holter_X1", sex=1,
           patient_additional="age_67_ward_B")  # fmt: skip
    rec = load(path)
    meta = rec.metadata
    assert meta.sex == "male" and meta.age == 67 and meta.extra["equipment"] == "Holter X1"
    assert meta.identifiers["name"] == "Jane Roe" and meta.identifiers["patient id"] == "MRN-991"
    assert meta.identifiers["technician"] == "Smith" and "ward B" in meta.identifiers["patient notes"]
    shown = repr(meta) + " ".join(rec.warnings) + " ".join(meta.extra.values())
    assert not any(s in shown for s in ("Jane", "Roe", "MRN-991", "Smith"))


# -- Bad input: plain causes ----------------------------------------------------------------------


@pytest.fixture
def small_edf(tmp_path: Path) -> Path:
    path = tmp_path / "small.edf"
    _write(path, [_channel("ECG I", 250), _channel("ECG II", 250)], [np.arange(1000, dtype=np.int32)] * 2)
    return path


def _edited(path: Path, at: int, text: bytes) -> Path:
    raw = bytearray(path.read_bytes())
    raw[at : at + len(text)] = text
    path.write_bytes(bytes(raw))
    return path


def test_truncated_data(small_edf: Path) -> None:
    small_edf.write_bytes(small_edf.read_bytes()[:-300])
    with pytest.raises(EcgReadError, match="data truncated"):
        load(small_edf)


def test_unreadable_main_header(small_edf: Path) -> None:
    _edited(small_edf, 236, b"four    ")  # number of data records
    with pytest.raises(EcgReadError, match="unreadable main header"):
        load(small_edf)


def test_absurd_sampling_rate(small_edf: Path) -> None:
    _edited(small_edf, 244, b"0.00001 ")  # 250 samples per 10 us = 25 MHz
    with pytest.raises(EcgReadError, match="outside 50-100000 Hz"):
        load(small_edf)


def test_no_voltage_channel(small_edf: Path) -> None:
    header = edf_reader.header_of(small_edf)
    ns = len(header.signals)
    for k in range(2):
        _edited(small_edf, 256 + ns * 96 + 8 * k, b"degC    ")
    with pytest.raises(EcgReadError, match="no channel is a voltage"):
        load(small_edf)


def test_bad_calibration(small_edf: Path) -> None:
    ns = len(edf_reader.header_of(small_edf).signals)
    _edited(small_edf, 256 + ns * 104, b"abc     ")  # physical minimum of signal 1
    with pytest.raises(EcgReadError, match="signal 1: unreadable calibration"):
        load(small_edf)


def test_a_patient_field_without_its_subfields_does_not_block_the_signals(small_edf: Path) -> None:
    """An EDF+ patient field without its subfields (edflib refuses the whole file): the records are
    read all the same, and the field stays an identifier, out of the warnings and the repr."""
    _edited(small_edf, 8, b"JaneRoe".ljust(80))
    rec = load(small_edf)
    assert rec.signals.shape == (len(rec.leads), 1000)
    assert rec.metadata.identifiers["patient id"] == "JaneRoe"
    assert "JaneRoe" not in " ".join(rec.warnings) + repr(rec.metadata)
