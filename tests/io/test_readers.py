"""Readers: every supported layout loads the same mV values, leads and rate that wfdb (or the
documented CSV/NPY layout) says the file holds."""

from __future__ import annotations

import ast
import csv
import json
import sys
import threading
from datetime import datetime
from pathlib import Path

import numpy as np
import pytest
import wfdb

from ecgviewer.io import detect, load
from ecgviewer.io.wfdb_reader import LAZY_VALUES
from ecgviewer.leads import STANDARD_LEADS, canonical_lead, derive_limb_leads
from ecgviewer.sources import MemmapSource, WindowedSource

TOL = {"rtol": 1e-6, "atol": 1e-6}  # the viewer stores float32 mV
PTBXL_NAMES = ["I", "II", "III", "AVR", "AVL", "AVF", "V1", "V2", "V3", "V4", "V5", "V6"]
EIGHT = ["I", "II", "V1", "V2", "V3", "V4", "V5", "V6"]


def record_name(path: Path) -> str:
    """The wfdb record name of a header or signal file."""
    return str(path.with_suffix("")) if path.suffix in (".hea", ".dat", ".mat") else str(path)


def reference(rec, wrec) -> np.ndarray:
    """wfdb's p_signal (samples x signals) as leads x samples in the order of ``rec.leads``."""
    names = [canonical_lead(n) for n in wrec.sig_name]
    return wrec.p_signal.T[[names.index(lead) for lead in rec.leads]]


def assert_same_as_wfdb(path: Path, rec=None, **rdrecord):
    """``load(path)`` holds exactly wfdb's physical values, rate and length."""
    rec = rec or load(path)
    wrec = wfdb.rdrecord(record_name(path), **rdrecord)
    assert rec.fs == wrec.fs
    assert rec.n_samples == wrec.sig_len == rec.signals.shape[1]
    assert rec.signals.dtype == np.float32
    np.testing.assert_allclose(rec.signals, reference(rec, wrec), **TOL)
    return rec, wrec


def write(
    tmp: Path,
    name: str,
    p_signal: np.ndarray,
    names: list[str],
    fmt: str = "16",
    fs: float = 500,
    units: str = "mV",
    **kw,
) -> Path:
    n = p_signal.shape[1]
    if fmt in ("212", "80"):  # narrow formats: a gain that keeps +-5 mV inside the ADC range
        kw.setdefault("adc_gain", [{"212": 200.0, "80": 20.0}[fmt]] * n)
        kw.setdefault("baseline", [3] * n)
    wfdb.wrsamp(
        name,
        fs=fs,
        units=[units] * n,
        sig_name=names,
        p_signal=p_signal,
        fmt=[fmt] * n,
        write_dir=str(tmp),
        **kw,
    )
    return tmp / f"{name}.hea"


def ecg_like(n: int, leads: int, seed: int = 0) -> np.ndarray:
    """Samples x leads in mV: a few sines plus noise, different per lead."""
    rng = np.random.default_rng(seed)
    t = np.arange(n)[:, None] / 500.0
    phase = rng.uniform(0, 2 * np.pi, leads)
    return 1.2 * np.sin(2 * np.pi * 1.1 * t + phase) + 0.1 * rng.normal(size=(n, leads))


# ---------------------------------------------------------------------------------- real data


def test_committed_sample_matches_wfdb(sample):
    rec, _ = assert_same_as_wfdb(sample)
    assert rec.leads == STANDARD_LEADS
    assert (rec.fs, rec.n_samples, rec.duration) == (500.0, 5000, 10.0)
    assert rec.source_format == "WFDB"
    assert not rec.source.lazy and not rec.derived and rec.warnings == []
    meta = rec.metadata
    assert (meta.dataset, meta.record_id, meta.age, meta.sex) == ("PTB-XL", "3", 37.0, "female")
    assert meta.labels == {"NORM": 100.0, "SR": 0.0}
    assert meta.label_descriptions == {"NORM": "normal ECG", "SR": "sinus rhythm"}


@pytest.mark.parametrize(
    ("rel", "header", "fs", "fmt"),
    [
        ("records500/00000/00001_hr.hea", "records500/00000/00001_hr.hea", 500, "16"),
        ("records100/00000/00001_lr.hea", "records100/00000/00001_lr.hea", 100, "16"),
        ("records100/00000/00001_lr.dat", "records100/00000/00001_lr.hea", 100, "16"),
        ("records100/00000/00001_lr", "records100/00000/00001_lr.hea", 100, "16"),  # no extension
        # lossless FLAC (ecg_id >= 2000): two signal files, 02000_lr_1.dat and 02000_lr_2.dat
        ("records100/02000/02000_lr.hea", "records100/02000/02000_lr.hea", 100, "516"),
        ("records100/02000/02000_lr_2.dat", "records100/02000/02000_lr.hea", 100, "516"),
    ],
)
def test_ptbxl_records_match_wfdb(shared, rel, header, fs, fmt):
    header = shared / "ptbxl" / header
    assert set(wfdb.rdheader(record_name(header)).fmt) == {fmt}
    rec = load(shared / "ptbxl" / rel)
    assert_same_as_wfdb(header, rec)
    assert rec.leads == STANDARD_LEADS
    assert rec.fs == fs and rec.n_samples == 10 * fs
    assert rec.warnings == [] and not rec.derived and not rec.source.lazy


def _database_row(shared: Path, eid: int) -> dict:
    with (shared / "ptbxl/ptbxl_database.csv").open(newline="", encoding="utf-8") as fh:
        return next(r for r in csv.DictReader(fh) if int(r["ecg_id"]) == eid)


def _statements_row(shared: Path, eid: int) -> dict:
    with (shared / "ptbxl/ptbxl_statements_v103.csv").open(newline="", encoding="utf-8") as fh:
        return next(r for r in csv.DictReader(fh) if int(r["ecg_id"]) == eid)


def _scp_descriptions(shared: Path) -> dict[str, str]:
    with (shared / "ptbxl/scp_statements.csv").open(newline="", encoding="utf-8") as fh:
        return {r[""]: r["description"] for r in csv.DictReader(fh)}


def test_ptbxl_metadata_from_database(shared):
    """ecg_id 8 is in ptbxl_database.csv: likelihoods, report, age, sex, fold."""
    row = _database_row(shared, 8)
    meta = load(shared / "ptbxl/records500/00000/00008_hr.hea").metadata
    assert (meta.dataset, meta.record_id) == ("PTB-XL", "8")
    assert meta.age == float(row["age"])
    assert meta.sex == {"0": "male", "1": "female"}[row["sex"]]
    assert meta.labels == ast.literal_eval(row["scp_codes"])  # the original likelihoods
    assert meta.labels["IMI"] == 35.0
    names = _scp_descriptions(shared)
    assert meta.label_descriptions == {c: names[c] for c in meta.labels}
    assert all(meta.label_descriptions.values())
    assert meta.report == row["report"].strip()
    assert meta.extra["strat_fold"] == row["strat_fold"]


@pytest.mark.parametrize(
    "rel", ["ptbxl/records100/02000/02000_lr.hea", "ptbxl/records100/02000/02000_lr_1.dat"]
)
def test_ptbxl_metadata_from_statements_only(shared, rel):
    """ecg_id 2000 is only in ptbxl_statements_v103.csv: 0/1 labels, age, sex, fold."""
    with pytest.raises(StopIteration):
        _database_row(shared, 2000)
    row = _statements_row(shared, 2000)
    meta = load(shared / rel).metadata
    assert (meta.dataset, meta.record_id) == ("PTB-XL", "2000")
    expected = {c for c, v in row.items() if c not in ("ecg_id", "age", "sex", "strat_fold") and v == "1"}
    assert set(meta.labels) == expected and expected
    assert set(meta.labels.values()) == {0.0}  # stated, likelihood not given (never "1 %")
    names = _scp_descriptions(shared)
    assert meta.label_descriptions == {c: names[c] for c in expected}
    assert meta.age == float(row["age"])
    assert meta.sex == {"0": "male", "1": "female"}[row["sex"]]
    assert meta.extra["strat_fold"] == row["strat_fold"]
    assert meta.report is None  # the statements table has no report text


def test_ludb_lower_case_leads_and_comments(shared):
    path = shared / "ludb/data/1.hea"
    rec, wrec = assert_same_as_wfdb(path)
    assert wrec.sig_name[:3] == ["i", "ii", "iii"]
    assert rec.leads == STANDARD_LEADS
    assert (rec.fs, rec.n_samples) == (500.0, 5000)
    assert rec.metadata.age == 51.0 and rec.metadata.sex == "female"  # '<age>: 51', '<sex>: F'
    assert rec.metadata.dataset is None  # no PTB-XL tables above LUDB
    assert rec.metadata.report.startswith("Rhythm: Sinus bradycardia.")  # the diagnoses (test_labels.py)


def test_ptbdb_15_leads_keep_frank_leads(shared):
    rec, _ = assert_same_as_wfdb(shared / "formats/wfdb_ptbdb/s0010_re.hea")
    assert rec.leads == (*STANDARD_LEADS, "vx", "vy", "vz")
    assert (rec.fs, rec.n_samples) == (1000.0, 38400)
    assert not rec.derived
    assert rec.metadata.age == 81.0 and rec.metadata.sex == "female"


@pytest.mark.parametrize("ext", [".mat", ".hea"])
def test_challenge_mat_record(shared, ext):
    path = shared / "formats/wfdb_challenge_mat" / f"HR06000{ext}"
    rec, _ = assert_same_as_wfdb(path)
    assert rec.leads == STANDARD_LEADS
    assert (rec.fs, rec.n_samples) == (500.0, 5000)
    assert rec.metadata.age == 59.0 and rec.metadata.sex == "female"
    assert rec.metadata.extra["dx"] == "164934002,426783006"


# ----------------------------------------------------------------------- generated WFDB records


@pytest.mark.parametrize("fmt", ["212", "80", "16", "24", "32"])
def test_signal_formats(tmp_path, fmt):
    sig = ecg_like(3000, 12)
    path = write(tmp_path, f"f{fmt}", sig, PTBXL_NAMES, fmt)
    rec, wrec = assert_same_as_wfdb(path)
    assert wrec.fmt == [fmt] * 12
    assert rec.leads == STANDARD_LEADS
    # the file holds the signal to within one ADC step
    np.testing.assert_allclose(rec.signals, sig.T, atol=1.01 / min(wrec.adc_gain))


def test_microvolt_units_become_millivolts(tmp_path):
    sig = ecg_like(2000, 12)
    path = write(tmp_path, "uv", sig * 1000, PTBXL_NAMES, units="uV")
    wrec = wfdb.rdrecord(record_name(path))
    assert wrec.units == ["uV"] * 12
    rec = load(path)
    assert rec.units == "mV"
    np.testing.assert_allclose(rec.signals, wrec.p_signal.T / 1000, **TOL)
    np.testing.assert_allclose(rec.signals, sig.T, atol=1e-3)
    assert not any("unit" in w for w in rec.warnings)


def test_eight_leads_derive_the_limb_leads(tmp_path):
    path = write(tmp_path, "eight", ecg_like(2500, 8), EIGHT)
    rec = load(path)
    wrec = wfdb.rdrecord(record_name(path))
    assert rec.leads == STANDARD_LEADS
    assert rec.derived == frozenset({"III", "aVR", "aVL", "aVF"})
    assert any("derived" in w and "aVR" in w for w in rec.warnings)
    recorded = [lead for lead in rec.leads if lead not in rec.derived]
    np.testing.assert_allclose(rec.signals[[rec.index(x) for x in recorded]], wrec.p_signal.T, **TOL)
    i, ii = wrec.p_signal[:, 0], wrec.p_signal[:, 1]
    expected = {"III": ii - i, "aVR": -(i + ii) / 2, "aVL": i - ii / 2, "aVF": ii - i / 2}
    for lead, values in expected.items():
        np.testing.assert_allclose(rec.signals[rec.index(lead)], values, **TOL)
    assert rec.read(100, 200).shape == (12, 100)
    np.testing.assert_allclose(rec.read(100, 200), rec.signals[:, 100:200], **TOL)


def test_derive_limb_leads_formulas():
    i, ii = np.array([1.0, -0.5, 0.25]), np.array([0.5, 2.0, -1.0])
    d = derive_limb_leads(i, ii)
    np.testing.assert_allclose(d["III"], ii - i)
    np.testing.assert_allclose(d["aVR"], -(i + ii) / 2)
    np.testing.assert_allclose(d["aVL"], i - ii / 2)
    np.testing.assert_allclose(d["aVF"], ii - i / 2)
    # Einthoven's law and the Goldberger sum hold
    np.testing.assert_allclose(d["aVR"] + d["aVL"] + d["aVF"], 0, atol=1e-12)


def _write_multisegment(tmp: Path, layout: bool) -> Path:
    a, b = ecg_like(3000, 8, seed=1), ecg_like(2000, 8, seed=2)
    write(tmp, "seg_1", a, EIGHT)
    write(tmp, "seg_2", b, EIGHT)
    lines = ["seg/2 8 500 5000", "seg_1 3000", "seg_2 2000"]
    if layout:  # variable layout: a layout header (length 0) names the signals first
        (tmp / "seg_layout.hea").write_text(
            "seg_layout 8 500 0\n" + "".join(f"~ 0 200/mV 16 0 0 0 0 {n}\n" for n in EIGHT)
        )
        lines = ["seg/3 8 500 5000", "seg_layout 0", "seg_1 3000", "seg_2 2000"]
    (tmp / "seg.hea").write_text("\n".join(lines) + "\n")
    return tmp / "seg.hea"


@pytest.mark.parametrize("layout", [False, True], ids=["fixed", "variable"])
def test_multi_segment_record(tmp_path, layout):
    path = _write_multisegment(tmp_path, layout)
    rec = load(path)
    wrec = wfdb.rdrecord(record_name(path), m2s=True)
    assert rec.n_samples == 5000 == wrec.sig_len
    assert rec.leads == STANDARD_LEADS and rec.derived == frozenset({"III", "aVR", "aVL", "aVF"})
    recorded = [rec.index(x) for x in rec.leads if x not in rec.derived]
    np.testing.assert_allclose(rec.signals[recorded], wrec.p_signal.T, **TOL)
    np.testing.assert_allclose(rec.read(2990, 3010)[recorded], wrec.p_signal.T[:, 2990:3010], **TOL)


# A long record (12 x 700,000 = 8.4 M values > LAZY_VALUES) in a memory-mappable format (16)
# and one that is read through wfdb window by window (212), written with numpy.
LONG_N, LONG_LEADS, LONG_GAIN, LONG_BASELINE = 700_000, 12, 200.0, 7
WINDOW_STARTS = [0, 1, 65_535, 65_536 - 700, 123_457, 400_000, LONG_N - 2500]
NAN_AT = (300_010, 4)  # one missing sample (the format's invalid value)


def pack212(d: np.ndarray) -> bytes:
    """Format 212: two 12-bit samples in three bytes."""
    flat = np.asarray(d, np.int16).ravel()
    if flat.size % 2:
        flat = np.append(flat, np.int16(0))
    u = (flat.astype(np.uint16) & 0xFFF).reshape(-1, 2)
    out = np.empty((u.shape[0], 3), np.uint8)
    out[:, 0] = u[:, 0] & 0xFF
    out[:, 1] = (u[:, 0] >> 8) | ((u[:, 1] >> 8) << 4)
    out[:, 2] = u[:, 1] & 0xFF
    return out.tobytes()


def write_raw(
    tmp: Path,
    name: str,
    digital: np.ndarray,
    fmt: str,
    names: list[str],
    fs: float = 500,
    gain: float = LONG_GAIN,
    baseline: int = LONG_BASELINE,
    units: str = "mV",
) -> Path:
    """A WFDB record written directly: samples with numpy, a one-line-per-signal header."""
    data = pack212(digital) if fmt == "212" else np.ascontiguousarray(digital, "<i2").tobytes()
    (tmp / f"{name}.dat").write_bytes(data)
    bits = {"212": 12, "16": 16}[fmt]
    lines = [f"{name} {len(names)} {fs:g} {digital.shape[0]}"]
    lines += [f"{name}.dat {fmt} {gain:g}({baseline})/{units} {bits} 0 0 0 0 {n}" for n in names]
    (tmp / f"{name}.hea").write_text("\n".join(lines) + "\n")
    return tmp / f"{name}.hea"


@pytest.fixture(scope="module")
def long_records(tmp_path_factory) -> dict[str, Path]:
    tmp = tmp_path_factory.mktemp("long")
    rng = np.random.default_rng(7)
    digital = rng.integers(-2000, 2000, size=(LONG_N, LONG_LEADS), dtype=np.int16)
    out = {}
    for fmt, invalid in (("16", -32768), ("212", -2048)):
        d = digital.copy()
        d[NAN_AT] = invalid
        out[fmt] = write_raw(tmp, f"long{fmt}", d, fmt, PTBXL_NAMES)
    return out


@pytest.mark.parametrize(("fmt", "kind"), [("16", MemmapSource), ("212", WindowedSource)])
def test_long_record_is_paged_and_matches_wfdb(long_records, fmt, kind):
    path = long_records[fmt]
    rec = load(path)
    assert LONG_N * LONG_LEADS > LAZY_VALUES
    assert rec.source.lazy and isinstance(rec.source, kind)
    assert (rec.n_samples, rec.fs, rec.leads) == (LONG_N, 500.0, STANDARD_LEADS)
    for start in WINDOW_STARTS:
        stop = min(start + 2500, LONG_N)
        wrec = wfdb.rdrecord(record_name(path), sampfrom=start, sampto=stop)
        got = rec.read(start, stop)
        assert got.shape == (12, stop - start) and got.dtype == np.float32
        np.testing.assert_allclose(got, reference(rec, wrec), **TOL)
    # the format's invalid value is a missing sample (NaN), as wfdb reads it
    window = rec.read(NAN_AT[0] - 5, NAN_AT[0] + 5)
    assert np.isnan(window[NAN_AT[1], 5]) and np.isfinite(np.delete(window.ravel(), NAN_AT[1] * 10 + 5)).all()
    # reads past either end are clipped, never an error
    assert rec.read(LONG_N - 10, LONG_N + 1000).shape == (12, 10)
    assert rec.read(-50, 10).shape == (12, 10)


def test_long_record_with_skipped_channel_and_derived_leads(tmp_path):
    """Memory-mapped path with a non-voltage channel skipped and limb leads derived."""
    rng = np.random.default_rng(3)
    names = ["I", "II", "V1", "V2", "V3", "V4", "V5", "V6", "BP"]
    digital = rng.integers(-2000, 2000, size=(1_100_000, 9), dtype=np.int16)
    path = write_raw(tmp_path, "holter", digital, "16", names)
    text = path.read_text().splitlines()
    text[-1] = text[-1].replace("/mV", "/mmHg")
    path.write_text("\n".join(text) + "\n")
    rec = load(path)
    assert rec.source.lazy
    assert rec.leads == STANDARD_LEADS and rec.derived == frozenset({"III", "aVR", "aVL", "aVF"})
    assert any("BP" in w and "mmHg" in w for w in rec.warnings)
    start, stop = 1_012_345, 1_015_000
    wrec = wfdb.rdrecord(record_name(path), sampfrom=start, sampto=stop)
    got = rec.read(start, stop)
    for k, name in enumerate(names[:8]):
        np.testing.assert_allclose(got[rec.index(name)], wrec.p_signal[:, k], **TOL)
    i, ii = wrec.p_signal[:, 0], wrec.p_signal[:, 1]
    np.testing.assert_allclose(got[rec.index("aVF")], ii - i / 2, **TOL)


@pytest.mark.parametrize(
    ("alias", "canonical"),
    [
        ("MLII", "II"), ("AVR", "aVR"), ("avl", "aVL"), ("aVF", "aVF"), ("v1", "V1"), ("V6", "V6"),
        ("i", "I"), ("II", "II"), ("III", "III"), ("DI", "I"), ("D2", "II"), ("ECG II", "II"),
        ("Lead V3", "V3"), ("lead_avf", "aVF"), (" V2 ", "V2"), ("MLI", "I"), ("ML2", "II"),
        ("vx", "vx"), ("V7", "V7"), ("Pleth", "Pleth"), ("ABP ", "ABP"),
    ],
)  # fmt: skip
def test_canonical_lead(alias, canonical):
    assert canonical_lead(alias) == canonical


def test_aliases_in_a_written_record(tmp_path):
    names = ["DI", "MLII", "d3", "AVR", "avl", "AvF", "v1", "v2", "V3", "v4", "V5", "v6"]
    path = write(tmp_path, "alias", ecg_like(1500, 12), names)
    rec, _ = assert_same_as_wfdb(path)
    assert rec.leads == STANDARD_LEADS and not rec.derived


def test_header_details_start_time_and_optional_length(tmp_path):
    path = write(
        tmp_path,
        "dated",
        ecg_like(1000, 12),
        PTBXL_NAMES,
        base_datetime=datetime(2021, 3, 4, 5, 6, 7),
        comments=["Age: 64", "Sex: M", "Dx: 1234"],
    )
    rec = load(path)
    assert rec.start_time == datetime(2021, 3, 4, 5, 6, 7)
    assert (rec.metadata.age, rec.metadata.sex, rec.metadata.extra["dx"]) == (64.0, "male", "1234")
    # WFDB allows leaving the sample count (and the rate: 250 Hz) out of the record line
    lines = path.read_text().splitlines()
    lines[0] = "dated 12 500"
    path.write_text("\n".join(lines) + "\n")
    assert_same_as_wfdb(path)
    lines[0] = "dated 12"
    path.write_text("\n".join(lines) + "\n")
    rec, _ = assert_same_as_wfdb(path)
    assert rec.fs == 250.0


def test_unknown_age_is_not_nan(tmp_path):
    """The Challenge writes 'Age: NaN' for an unknown age."""
    rec = load(write(tmp_path, "noage", ecg_like(1000, 12), PTBXL_NAMES, comments=["Age: NaN", "Sex: F"]))
    assert rec.metadata.age is None and rec.metadata.extra["age"] == "NaN"
    assert rec.metadata.sex == "female"


# ---------------------------------------------------------------------------------- CSV and NPY


def write_csv(
    path: Path,
    columns: dict[str, np.ndarray],
    *,
    fs: float | None = 500,
    units: str | None = "mV",
    delimiter: str = ",",
    fmt: str = "%.6f",
    encoding: str = "utf-8",
) -> Path:
    lines = []
    if fs is not None:
        lines.append(f"# fs = {fs:g}")
    if units is not None:
        lines.append(f"# units = {units}")
    lines.append(delimiter.join(columns))
    rows = np.column_stack(list(columns.values()))
    lines += [delimiter.join(fmt % v for v in row) for row in rows]
    path.write_text("\n".join(lines) + "\n", encoding=encoding)
    return path


def test_csv_documented_layout(tmp_path):
    sig = ecg_like(2000, 12).round(6)
    path = write_csv(tmp_path / "ecg.csv", dict(zip(PTBXL_NAMES, sig.T, strict=True)))
    rec = load(path)
    assert rec.source_format == "CSV" and detect(path).name == "CSV"
    assert (rec.fs, rec.n_samples, rec.leads) == (500.0, 2000, STANDARD_LEADS)
    np.testing.assert_allclose(rec.signals, sig.T, **TOL)
    assert rec.warnings == [] and not rec.derived


def test_csv_microvolts_and_tab_delimiter(tmp_path):
    sig = ecg_like(1000, 12).round(3)
    path = write_csv(
        tmp_path / "uv.tsv",
        dict(zip(PTBXL_NAMES, sig.T * 1000, strict=True)),
        units="uV",
        delimiter="\t",
        fmt="%.0f",
    )
    rec = load(path)
    np.testing.assert_allclose(rec.signals, sig.T, **TOL)
    assert rec.units == "mV"


def test_csv_semicolon_and_eight_leads(tmp_path):
    sig = ecg_like(1000, 8).round(5)
    path = write_csv(tmp_path / "semi.csv", dict(zip(EIGHT, sig.T, strict=True)), delimiter=";", units=None)
    rec = load(path)
    assert rec.leads == STANDARD_LEADS and rec.derived == frozenset({"III", "aVR", "aVL", "aVF"})
    np.testing.assert_allclose(rec.signals[rec.index("V3")], sig[:, 4], **TOL)
    np.testing.assert_allclose(rec.signals[rec.index("III")], sig[:, 1] - sig[:, 0], **TOL)
    assert any("units" in w and "mV" in w for w in rec.warnings)  # units not stated: assumed mV


@pytest.mark.parametrize(("fs", "decimals"), [(500, 3), (250, 3), (360, 4), (1000, 3)])
def test_csv_time_column_gives_fs(tmp_path, fs, decimals):
    """Time stamps written with few decimals (0.0027, 0.0028 s at 360 Hz) still give the exact rate."""
    n = 10 * fs
    sig = ecg_like(n, 2).round(3)
    columns = {"time": np.arange(n) / fs, "I": sig[:, 0], "II": sig[:, 1]}
    path = write_csv(tmp_path / "t.csv", columns, fs=None, fmt=f"%.{decimals}f")
    rec = load(path)
    assert rec.fs == fs and rec.n_samples == n
    assert rec.leads == ("I", "II", "III", "aVR", "aVL", "aVF")
    np.testing.assert_allclose(rec.signals[:2], sig.T, atol=1e-6)


def test_csv_excel_style_bom_and_quoted_names(tmp_path):
    path = tmp_path / "excel.csv"
    rows = '"t","I","II"\r\n0.000,0.1,0.2\r\n0.002,0.3,0.4\r\n0.004,0.5,0.7\r\n'
    path.write_text(rows, encoding="utf-8-sig")
    rec = load(path)
    assert rec.fs == 500.0 and rec.leads[:2] == ("I", "II")
    np.testing.assert_allclose(rec.signals[:2], [[0.1, 0.3, 0.5], [0.2, 0.4, 0.7]], **TOL)


def test_csv_empty_fields_are_gaps(tmp_path):
    path = tmp_path / "gaps.csv"
    rows = "\n".join(f"{k * 0.01:.2f},{'' if 10 <= k < 20 else f'{np.sin(k / 5):.3f}'}" for k in range(100))
    path.write_text(f"# fs = 500\n# units = mV\nI,II\n{rows}\n")
    rec = load(path)
    assert np.isnan(rec.signals[1, 10:20]).all() and np.isfinite(rec.signals[1, :10]).all()
    assert any("II" in w and "missing" in w for w in rec.warnings)


@pytest.mark.parametrize("orientation", ["leads_x_samples", "samples_x_leads"])
def test_npy_both_orientations(tmp_path, orientation):
    sig = ecg_like(3000, 12).astype(np.float32)  # samples x leads
    arr = sig.T if orientation == "leads_x_samples" else sig
    np.save(tmp_path / "x.npy", arr)
    (tmp_path / "x.json").write_text(json.dumps({"fs": 500, "leads": PTBXL_NAMES, "units": "mV"}))
    rec = load(tmp_path / "x.npy")
    assert rec.source_format == "NPY"
    assert (rec.fs, rec.n_samples, rec.leads) == (500.0, 3000, STANDARD_LEADS)
    np.testing.assert_allclose(rec.signals, sig.T, **TOL)


def test_npy_microvolts_int16(tmp_path):
    digital = np.random.default_rng(5).integers(-3000, 3000, size=(12, 1000), dtype=np.int16)
    np.save(tmp_path / "uv.npy", digital)
    (tmp_path / "uv.json").write_text(json.dumps({"fs": 1000, "leads": PTBXL_NAMES, "units": "uV"}))
    rec = load(tmp_path / "uv.npy")
    np.testing.assert_allclose(rec.signals, digital / 1000.0, **TOL)


def test_npy_long_array_is_paged(tmp_path):
    n = LAZY_VALUES // 8 + 10_000
    arr = np.random.default_rng(6).integers(-2000, 2000, size=(n, 8), dtype=np.int16)
    np.save(tmp_path / "long.npy", arr)
    (tmp_path / "long.json").write_text(json.dumps({"fs": 500, "leads": EIGHT, "units": "uV"}))
    rec = load(tmp_path / "long.npy")
    assert rec.source.lazy and rec.n_samples == n
    got = rec.read(n - 3000, n)
    np.testing.assert_allclose(got[[rec.index(x) for x in EIGHT]], arr[n - 3000 :].T / 1000.0, **TOL)
    i, ii = arr[n - 3000 :, 0] / 1000.0, arr[n - 3000 :, 1] / 1000.0
    np.testing.assert_allclose(got[rec.index("aVR")], -(i + ii) / 2, **TOL)


def test_content_detection_ignores_misleading_extensions(tmp_path):
    """A CSV named .dat (no header beside it) and an NPY with an odd extension are read by content."""
    sig = ecg_like(500, 12).round(5)
    csv_dat = write_csv(tmp_path / "export.dat", dict(zip(PTBXL_NAMES, sig.T, strict=True)))
    assert not csv_dat.with_suffix(".hea").exists()
    assert detect(csv_dat).name == "CSV"
    np.testing.assert_allclose(load(csv_dat).signals, sig.T, **TOL)

    with (tmp_path / "holter.ecg").open("wb") as fh:
        np.save(fh, sig.T.astype(np.float32))
    (tmp_path / "holter.json").write_text(json.dumps({"fs": 500, "leads": PTBXL_NAMES}))
    assert detect(tmp_path / "holter.ecg").name == "NPY"
    rec = load(tmp_path / "holter.ecg")
    assert rec.source_format == "NPY"
    np.testing.assert_allclose(rec.signals, sig.T, **TOL)

    # a WFDB record is recognised through its header or its signal file
    hea = write(tmp_path, "rec", sig, PTBXL_NAMES)
    assert detect(hea).name == "WFDB" and detect(tmp_path / "rec.dat").name == "WFDB"


def test_windowed_source_is_thread_safe():
    """The overview's worker thread and the view page one source at once: the block cache must
    not break (it raised KeyError when one thread evicted a block another was about to use)."""
    src = WindowedSource(lambda a, b: np.full((2, b - a), a, np.float32), 2, 1 << 20, max_blocks=2)
    src.block = 16
    errors: list[str] = []

    def page(seed: int) -> None:
        rng = np.random.default_rng(seed)
        try:
            for start in rng.integers(0, 64, 20_000):
                got = src.read(int(start), int(start) + 20)
                assert got.shape == (2, 20)
        except Exception as exc:  # collected: an exception in a thread would not fail the test
            errors.append(repr(exc))

    interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)  # switch threads as often as possible
    try:
        threads = [threading.Thread(target=page, args=(k,)) for k in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    finally:
        sys.setswitchinterval(interval)
    assert errors == []
