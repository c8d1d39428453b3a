"""'Save as' WFDB and EDF+ (``io.writers``, ``wfdb_writer``, ``edf_writer``): lossless, anonymised by default,
atomic.

Checked against independent readings of what was written: ``wfdb.rdrecord(physical=False)`` for
WFDB's stored integers, ``pyedflib`` for EDF's digital values, header fields and annotations,
``wfdb.rdann`` for the WFDB annotation file; and against the source files' own integers (LUDB
record 1 in WFDB, the shared EDF+ sample). Round trips through our readers must give back the
float32 samples exactly (leads computed in float32 from I and II: within 2 float32 ulps), with lead
names, sampling rate, start time, age, sex and annotations. Failures leave no partial file.
"""

from __future__ import annotations

import datetime as dt
import errno
import os
import time
from fractions import Fraction
from pathlib import Path

import numpy as np
import pyedflib
import pytest
import wfdb

from ecgviewer.io import coding, edf_reader, edf_writer, load, wfdb_writer
from ecgviewer.io.edf_writer import edf_calibration
from ecgviewer.io.writers import SaveError, save
from ecgviewer.recording import Annotation, DeviceReport, Metadata, make_recording
from ecgviewer.sources import ArraySource

GE_STEP = 0.00488  # mV: GE MUSE's 4.88 uV per integer
NAME, MRN = "Jane Roe", "MRN-4711"


def _digital_edf(path: Path) -> tuple[np.ndarray, list[dict], dict]:
    f = pyedflib.EdfReader(str(path))
    try:
        codes = np.array([f.readSignal(i, digital=True) for i in range(f.signals_in_file)])
        return codes, f.getSignalHeaders(), f.getHeader()
    finally:
        f.close()


def _annotations_edf(path: Path) -> list[tuple[float, float, str]]:
    f = pyedflib.EdfReader(str(path))
    try:
        onsets, durations, texts = f.readAnnotations()
        return list(zip(onsets.tolist(), durations.tolist(), texts.tolist(), strict=True))
    finally:
        f.close()


def _eight_leads(nan: bool = False):
    """I, II, V1-V6 on GE's 4.88 uV grid; III, aVR, aVL, aVF derived (aV* on half steps)."""
    rng = np.random.default_rng(7)
    codes = rng.integers(-3000, 3000, (8, 5000))
    data = (codes * GE_STEP).astype(np.float32)
    if nan:
        data[2, 100:200] = np.nan
        data[0, 0] = np.nan
    meta = Metadata(
        age=63,
        sex="male",
        identifiers={"name": NAME, "patient id": MRN, "birth date": "1961-02-03"},
        annotations=[Annotation(1.0, 0.5, "event"), Annotation(2.25, None, "x" * 50)],
    )
    rec = make_recording(
        None, ArraySource(data), 500, ["I", "II", "V1", "V2", "V3", "V4", "V5", "V6"], "GE MUSE XML",
        resolution=(GE_STEP,) * 8, metadata=meta, start_time=dt.datetime(2021, 3, 4, 5, 6, 7, 250000),
    )  # fmt: skip
    return rec, codes


# -- (a) a LUDB WFDB record ---------------------------------------------------------------------------


def test_ludb_wfdb_round_trips(shared: Path, tmp_path: Path) -> None:
    src = shared / "ludb/data/1"
    rec = load(src.with_suffix(".hea"))
    stored = wfdb.rdrecord(str(src), physical=False)
    codes = stored.d_signal - np.array(stored.baseline)  # the integers, baseline removed

    hea = save(rec, tmp_path / "l1.hea")
    assert hea == tmp_path / "l1.hea" and (tmp_path / "l1.dat").is_file()
    back = wfdb.rdrecord(str(tmp_path / "l1"), physical=False)
    assert back.fmt == ["16"] * 12 and back.adc_gain == stored.adc_gain
    assert np.array_equal(back.d_signal, codes)
    again = load(hea)
    assert np.array_equal(again.signals, rec.signals)  # float32, bit for bit
    assert again.leads == rec.leads and again.fs == rec.fs and again.resolution == rec.resolution
    assert again.metadata.age == 51 and again.metadata.sex == "female"

    edf = save(rec, tmp_path / "l1.edf")
    digital, headers, _ = _digital_edf(edf)
    assert np.array_equal(digital, codes.T)
    # 1/1716 mV per integer: exact texts need a digital range in multiples of 429 (-32604 = -76 * 429).
    assert (headers[0]["digital_min"], headers[0]["physical_min"], headers[0]["dimension"]) == (
        -32604,
        -19000,
        "uV",
    )
    again = load(edf)
    assert np.abs(again.signals - rec.signals).max() <= 1e-6
    assert np.array_equal(again.signals, rec.signals)  # measured: exact as well
    assert again.leads == rec.leads and again.metadata.age == 51 and again.metadata.sex == "female"


# -- (b) the shared EDF+ sample -----------------------------------------------------------------------


def test_edf_sample_round_trips(shared: Path, tmp_path: Path) -> None:
    src = shared / "formats/edf/ludb_record1.edf"
    rec = load(src)
    digital, src_headers, src_header = _digital_edf(src)

    edf = save(rec, tmp_path / "copy.edf")
    got, headers, header = _digital_edf(edf)
    assert np.array_equal(got, digital)  # the very integers of the source file
    keys = ("label", "dimension", "physical_min", "physical_max", "digital_min", "digital_max")
    assert [[h[k] for k in keys] for h in headers] == [[h[k] for k in keys] for h in src_headers]
    assert header["startdate"] == src_header["startdate"] and header["sex"] == "Female"
    assert header["equipment"] == src_header["equipment"]
    assert header["patientcode"] == "" and "LUDB-1" not in edf.read_bytes()[:256].decode("latin-1")
    assert _annotations_edf(edf) == _annotations_edf(src)
    again = load(edf)
    assert (
        np.array_equal(again.signals, rec.signals) and again.metadata.annotations == rec.metadata.annotations
    )
    assert again.start_time == rec.start_time and again.metadata.age == 51

    hea = save(rec, tmp_path / "copy.hea")
    back = wfdb.rdrecord(str(tmp_path / "copy"), physical=False)
    # EDF's symmetric ranges put values at half steps: WFDB gets half the step, integers 2d + 1.
    assert back.adc_gain == [6553.5] * 12 and back.fmt == ["16"] * 12
    assert np.array_equal(back.d_signal, 2 * digital.T + 1)
    again = load(hea)
    assert np.array_equal(again.signals, rec.signals)
    assert again.start_time == rec.start_time and again.leads == rec.leads
    ann = wfdb.rdann(str(tmp_path / "copy"), "atr")
    assert ann.aux_note == [a.text for a in rec.metadata.annotations]
    assert np.array_equal(ann.sample, [round(a.onset * 500) for a in rec.metadata.annotations])


# -- (c) in-memory recordings: derived leads, NaNs, no known step ------------------------------------


@pytest.mark.parametrize("suffix", [".hea", ".edf"])
def test_derived_leads(tmp_path: Path, suffix: str) -> None:
    rec, codes = _eight_leads()
    notes: list[str] = []
    path = save(rec, tmp_path / ("ge" + suffix), notes=notes)
    again = load(path)
    assert again.leads == rec.leads and again.fs == 500
    assert again.start_time == rec.start_time  # microseconds too (pyedflib's own are 10x off)
    assert again.metadata.age == 63 and again.metadata.sex == "male"
    stored = [rec.index(n) for n in ("I", "II", "V1", "V2", "V3", "V4", "V5", "V6")]
    assert np.array_equal(again.signals[stored], rec.signals[stored])
    derived = [rec.index(n) for n in ("III", "aVR", "aVL", "aVF")]
    ulp = np.spacing(np.abs(rec.signals[derived]).max())
    assert np.abs(again.signals[derived] - rec.signals[derived]).max() <= 2 * ulp  # float32 sums
    # The integers of the derived leads, exactly: III = II - I; aVR = -(I + II) in half steps.
    i, ii = codes[0], codes[1]
    if suffix == ".hea":
        d = wfdb.rdrecord(str(tmp_path / "ge"), physical=False).d_signal.T
        assert "derived leads: III aVR aVL aVF" in (tmp_path / "ge.hea").read_text()
    else:
        d, headers, _ = _digital_edf(path)
        assert headers[rec.index("aVR")]["transducer"] == edf_reader.DERIVED
        assert again.derived == rec.derived
        # 4.88 uV: exact texts need digital ranges in multiples of 25; 2.44 uV: of 5 or 25 / 2.
        assert (
            headers[0]["digital_min"] % 25 == 0
            and headers[0]["physical_min"] == headers[0]["digital_min"] * 4.88
        )
        assert _annotations_edf(path)[0] == (1.0, 0.5, "event")
        assert notes == ["1 annotation texts cut to 40 characters"]
    assert np.array_equal(d[rec.index("III")], ii - i) and np.array_equal(d[rec.index("aVR")], -(i + ii))
    assert np.array_equal(d[rec.index("aVL")], 2 * i - ii) and np.array_equal(d[rec.index("aVF")], 2 * ii - i)


@pytest.mark.parametrize("suffix", [".hea", ".edf"])
def test_missing_samples(tmp_path: Path, suffix: str) -> None:
    rec, _ = _eight_leads(nan=True)
    notes: list[str] = []
    again = load(save(rec, tmp_path / ("gaps" + suffix), notes=notes))
    x, y = again.signals, rec.signals
    gaps = np.isnan(y)
    assert np.array_equal(x[~gaps], y[~gaps]) or np.abs(x[~gaps] - y[~gaps]).max() <= 2e-6
    if suffix == ".hea":  # WFDB's missing-sample code
        assert np.array_equal(np.isnan(x), gaps) and not any("missing" in n for n in notes)
    else:  # EDF has none: the lead's physical minimum, just below its samples, and a note
        v1 = rec.index("V1")
        assert np.all(x[v1, 100:200] < np.nanmin(y[v1])) and np.nanmin(y[v1]) - x[v1, 100] < 0.2
        assert "lead V1: 100 missing samples written as its physical minimum (EDF has no gaps)" in notes


@pytest.mark.parametrize("suffix", [".hea", ".edf"])
def test_unknown_step_is_quantised_and_reported(tmp_path: Path, suffix: str) -> None:
    data = np.random.default_rng(3).normal(0, 1, (3, 2000)).astype(np.float32)
    rec = make_recording(None, ArraySource(data), 250, ["V1", "V2", "V3"], "numpy")
    notes: list[str] = []
    again = load(save(rec, tmp_path / ("noise" + suffix), notes=notes))
    err = np.abs(again.signals - data).max()
    bound = 1e-6 if suffix == ".hea" else 2 * np.ptp(data, axis=1).max() / 65534  # 1 nV; range / 65534
    assert err <= bound
    assert len(notes) == 3 and all("quantised" in n and "largest change" in n for n in notes)


def test_decimal_data_of_unknown_step_is_exact(tmp_path: Path) -> None:
    """Values such as a CSV's 0.123 mV sit on a 1 uV grid: found, and kept exactly."""
    data = (np.random.default_rng(4).integers(-2000, 2000, (2, 1000)) / 1000).astype(np.float32)
    rec = make_recording(None, ArraySource(data), 250, ["II", "V2"], "CSV")
    for suffix in (".hea", ".edf"):
        notes: list[str] = []
        assert np.array_equal(load(save(rec, tmp_path / ("csv" + suffix), notes=notes)).signals, data)
        assert not notes


def test_exact_texts() -> None:
    """The 8-character physical range search, against hand-worked cases."""
    c = coding.LeadCoding(coding.grid_fraction(GE_STEP), low=-100, high=100)
    cal = edf_calibration(c, -32768, 32767)
    # -32768..-32751 and 32766..32767 have no 8-character texts ("-159907.8" is 9 characters).
    assert (cal.dmin, cal.dmax, cal.pmin, cal.pmax, cal.unit) == (-32750, 32765, "-159820", "159893.2", "uV")
    half = coding.LeadCoding(coding.grid_fraction(20 / 65535), offset=Fraction(1, 2), low=-5, high=5)
    cal = edf_calibration(half, -32768, 32767)
    assert (cal.dmin, cal.dmax, cal.pmin, cal.pmax) == (-32768, 32767, "-10000", "10000")
    # 1/65537 mV: no digital range in 16 bits has exact texts (65537 is prime)
    assert edf_calibration(coding.LeadCoding(Fraction(1, 65537), low=-5, high=5), -32768, 32767) is None


def test_24_bit_integers_go_to_bdf(tmp_path: Path) -> None:
    step = 1 / 32000  # mV: BioSemi's 31.25 nV
    codes = np.random.default_rng(5).integers(-1_500_000, 1_500_000, (3, 2048))
    data = (codes * step).astype(np.float32)
    rec = make_recording(None, ArraySource(data), 2048, ["V1", "V2", "V3"], "BDF", resolution=(step,) * 3)
    notes: list[str] = []
    path = save(rec, tmp_path / "bio.edf", notes=notes)
    assert path == tmp_path / "bio.bdf" and path.read_bytes()[:8] == b"\xffBIOSEMI"
    assert notes == ["saved as BDF+ (bio.bdf): the stored integers need more than EDF's 16 bits"]
    assert np.array_equal(_digital_edf(path)[0], codes)
    assert np.array_equal(load(path).signals, rec.signals)
    save(rec, tmp_path / "bio.hea")
    back = wfdb.rdrecord(str(tmp_path / "bio"), physical=False)
    assert back.fmt == ["32"] * 3 and np.array_equal(back.d_signal.T, codes)


def test_step_without_exact_text_keeps_the_integers(tmp_path: Path) -> None:
    """1/65537 mV: no 8-character texts are exact; the nearest ones keep every integer."""
    step = 1 / 65537
    codes = np.random.default_rng(6).integers(-20000, 20000, (2, 1000))
    rec = make_recording(None, ArraySource((codes * step).astype(np.float32)), 250, ["V1", "V2"], "test",
                         resolution=(step,) * 2)  # fmt: skip
    notes: list[str] = []
    path = save(rec, tmp_path / "odd.edf", notes=notes)
    assert np.array_equal(_digital_edf(path)[0], codes)
    err = np.abs(load(path).signals - rec.signals).max()
    assert 0 < err < step / 20  # measured: 0.02 step
    assert len(notes) == 2 and all("values changed by up to" in n for n in notes)


# -- Privacy ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("suffix", [".hea", ".edf"])
def test_identifiers_only_when_asked(tmp_path: Path, suffix: str) -> None:
    rec, _ = _eight_leads()
    path = save(rec, tmp_path / ("anon" + suffix))
    written = b"".join(p.read_bytes() for p in tmp_path.iterdir() if p.is_file())
    for secret in (NAME, NAME.replace(" ", "_"), MRN, "1961", "03-FEB"):
        assert secret.encode() not in written
    if suffix == ".edf":
        assert path.read_bytes()[8:88].decode().split()[:4] == ["X", "M", "X", "X"]

    path = save(rec, tmp_path / ("named" + suffix), identifiers=True)
    text = path.read_bytes().decode("latin-1")
    assert (NAME.replace(" ", "_") if suffix == ".edf" else NAME) in text and MRN in text
    again = load(path)
    assert again.metadata.identifiers["name"] == NAME
    if suffix == ".edf":
        assert again.metadata.identifiers["birth date"] == "1961-02-03"
    else:  # WFDB keeps the identifiers as marked header comments, never as ordinary facts
        assert again.metadata.identifiers == rec.metadata.identifiers
        assert NAME not in str(again.metadata.extra)


def test_wfdb_keeps_the_device_report_and_derived_leads(tmp_path: Path) -> None:
    rec, _ = _eight_leads()
    rec.metadata.device = DeviceReport(
        device="Acme 9000",
        statements=["Sinus rhythm", "Normal ECG"],
        measurements={"pr": 150.0, "qtc": 410.0},
    )
    rec.metadata.device.qtc_formula = "Bazett"
    again = load(save(rec, tmp_path / "device.hea"))
    assert again.metadata.device == DeviceReport(
        device="Acme 9000",
        statements=["Sinus rhythm", "Normal ECG"],
        measurements={"pr": 150.0, "qtc": 410.0},
        qtc_formula="Bazett",
    )
    assert again.derived == rec.derived and again.derived


# -- (d) a long, paged recording ----------------------------------------------------------------------


def test_long_lazy_recording_is_written_window_by_window(tmp_path: Path) -> None:
    fs, n = 500, 2 * 3600 * 500  # 2 h x 3 leads
    k = np.arange(n)
    codes = [((k * (7 + j) + 1000 * j) % 20000 - 10000).astype(np.int32) for j in range(3)]
    src = tmp_path / "holter.edf"
    w = pyedflib.EdfWriter(str(src), 3, pyedflib.FILETYPE_EDFPLUS)
    w.setSignalHeaders(
        [{"label": f"ECG {lead}", "dimension": "uV", "sample_frequency": fs, "physical_min": -10000,
          "physical_max": 10000, "digital_min": -32768, "digital_max": 32767, "transducer": "",
          "prefilter": ""} for lead in ("V1", "V2", "V5")]
    )  # fmt: skip
    w.setStartdatetime(dt.datetime(2024, 5, 6, 7, 8, 9))
    w.writeAnnotation(3600.5, 2.0, "mid event")
    for r in range(n // fs):
        w.blockWriteDigitalSamples(np.concatenate([c[r * fs : (r + 1) * fs] for c in codes]))
    w.close()
    rec = load(src)
    assert rec.source.lazy
    largest = []
    read = rec.source.read
    rec.source.read = lambda a, b: largest.append(b - a) or read(a, b)  # type: ignore[method-assign]
    mid = n // 2 + 77
    for suffix, fmt in ((".edf", "EDF+"), (".hea", "WFDB")):
        t0 = time.perf_counter()
        path = save(rec, tmp_path / ("out" + suffix))
        print(f"2 h x 3 leads @ 500 Hz -> {suffix}: {time.perf_counter() - t0:.2f} s")
        assert max(largest) <= coding.WINDOW  # never the whole recording
        again = load(path)
        assert again.source.lazy and again.source_format == fmt and again.n_samples == n
        # WFDB's memory-mapped reader scales in float32: within an ulp rather than bit for bit.
        assert np.abs(again.read(mid, mid + 3000) - rec.read(mid, mid + 3000)).max() <= 1e-6
        assert again.start_time == rec.start_time
    digital, _, _ = _digital_edf(tmp_path / "out.edf")
    assert all(np.array_equal(d, c) for d, c in zip(digital, codes, strict=True))
    assert np.array_equal(
        wfdb.rdrecord(str(tmp_path / "out"), physical=False).d_signal.T, 2 * np.array(codes) + 1
    )
    assert _annotations_edf(tmp_path / "out.edf") == [(3600.5, 2.0, "mid event")]


# -- Failures leave nothing behind ------------------------------------------------------------------


def _leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir())


def test_failed_header_move_restores_the_previous_record(tmp_path: Path, monkeypatch) -> None:
    """os.replace failing on the header (a read-only folder, as root cannot get one): the .dat
    already moved is put back, the old header stays, no temporary file remains."""
    rec, _ = _eight_leads()
    (tmp_path / "r.hea").write_text("old header\n")
    (tmp_path / "r.dat").write_bytes(b"old data")
    real = os.replace

    def failing(src, dst):
        if str(dst).endswith(".hea"):
            raise PermissionError(errno.EACCES, "Permission denied")
        return real(src, dst)

    monkeypatch.setattr(coding.os, "replace", failing)
    with pytest.raises(SaveError, match="permission denied"):
        save(rec, tmp_path / "r.hea")
    assert _leftovers(tmp_path) == ["r.dat", "r.hea"]
    assert (tmp_path / "r.dat").read_bytes() == b"old data" and (
        tmp_path / "r.hea"
    ).read_text() == "old header\n"


def test_disk_full_while_writing(tmp_path: Path, monkeypatch) -> None:
    rec, _ = _eight_leads()
    real = coding.windows

    def full(*args, **kwargs):
        yield from list(real(*args, **kwargs))[:1]
        raise OSError(errno.ENOSPC, "No space left on device")

    for suffix, writer in ((".hea", wfdb_writer), (".edf", edf_writer)):
        monkeypatch.setattr(writer, "windows", full)  # the writing pass fails; the scan does not
        with pytest.raises(SaveError, match="the disk is full"):
            save(rec, tmp_path / ("full" + suffix))
        assert _leftovers(tmp_path) == []


def test_not_enough_space_is_refused_up_front(tmp_path: Path, monkeypatch) -> None:
    rec, _ = _eight_leads()
    monkeypatch.setattr(coding.shutil, "disk_usage", lambda _: _Usage())
    with pytest.raises(SaveError, match="the disk is full"):
        save(rec, tmp_path / "x.edf")
    assert _leftovers(tmp_path) == []


class _Usage:  # shutil.disk_usage's answer for an almost full disk
    total = used = free = 1000


def test_bad_targets(tmp_path: Path) -> None:
    rec, _ = _eight_leads()
    with pytest.raises(SaveError, match="folder does not exist"):
        save(rec, tmp_path / "missing" / "x.edf")
    with pytest.raises(SaveError, match="unknown format"):
        save(rec, tmp_path / "x.xyz")
    with pytest.raises(SaveError, match="record name"):
        save(rec, tmp_path / "a b.hea")
    assert _leftovers(tmp_path) == []
    assert save(rec, tmp_path / "plain", fmt="edf") == tmp_path / "plain.edf"
    assert save(rec, tmp_path / "rec.dat") == tmp_path / "rec.hea"
