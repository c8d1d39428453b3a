"""ISHNE Holter reader, checked against independent readings.

Files are built here by ``write_ishne``, written from the standard's field table (Badilini 1998),
not from the reader. LUDB record 1 (real, 12 leads) is re-quantised to per-lead resolutions and
written as ISHNE; our reading must give the LUDB physical values (``wfdb``) within half a step,
the exact stored codes x resolution, the leads in file order, and the same numbers, lead names and
checksum verdict as the independent parser ``ecgdatakit.parsing.parsers.ishne_holter``. A 24 h
3-lead file must open lazily in well under a second; broken files end in a readable
``EcgReadError`` (annotation files, truncation, absurd header values) that never quotes the patient.
"""

from __future__ import annotations

import struct
import time
import warnings
from datetime import date, datetime
from datetime import time as dtime
from pathlib import Path

import numpy as np
import pytest

import ecgviewer.io.ishne_reader  # noqa: F401  (registers the reader)
from ecgviewer.errors import EcgReadError
from ecgviewer.io import detect, load
from ecgviewer.leads import STANDARD_LEADS
from ecgviewer.sources import MemmapSource
from tests.helpers import PATIENT, SPEC_OF, write_ishne


def ludb_as_ishne(shared: Path, path: Path) -> tuple[Path, np.ndarray, np.ndarray, list[int]]:
    """LUDB record 1 as ISHNE: (file, LUDB physical mV (leads x n), stored codes, nV per lead).

    ISHNE keeps one integer nV resolution per lead and no offset, so the LUDB samples are
    re-quantised, each lead with its own step (40, 45, ... 95 nV), to catch a reader mixing leads up.
    """
    import wfdb

    rec = wfdb.rdrecord(str(shared / "ludb/data/1"), physical=False)
    gain, base = np.asarray(rec.adc_gain), np.asarray(rec.baseline)
    physical = (rec.d_signal - base) / gain  # mV, samples x leads
    res_nv = [40 + 5 * k for k in range(rec.n_sig)]
    codes = np.round(physical * 1e6 / np.asarray(res_nv)).astype(np.int16)
    specs = [SPEC_OF[n] for n in ("I", "II", "III", "aVR", "aVL", "aVF", "V1", "V2", "V3", "V4", "V5", "V6")]
    assert [s.upper() for s in rec.sig_name] == [n.upper() for n in STANDARD_LEADS]
    write_ishne(path, codes, res_nv, specs, int(rec.fs), var_text=b"LUDB record 1, re-quantised")
    return path, physical.T, codes, res_nv


def synthetic(path: Path, n: int = 2000, leads: int = 3, **kw) -> Path:
    rng = np.random.default_rng(0)
    codes = rng.integers(-2000, 2000, size=(n, leads), dtype=np.int16)
    kw.setdefault("specs", [SPEC_OF["II"], SPEC_OF["V1"], SPEC_OF["V5"]][:leads])
    kw.setdefault("res_nv", [2500] * leads)
    kw.setdefault("fs", 200)
    return write_ishne(path, codes, **kw)


def test_ludb_record_read_back(shared: Path, tmp_path: Path) -> None:
    path, physical, codes, res_nv = ludb_as_ishne(shared, tmp_path / "ludb1.ecg")
    rec = load(path)
    assert detect(path).name == "ISHNE"
    assert rec.source_format == "ISHNE Holter" and rec.fs == 500 and rec.n_samples == 5000
    assert rec.leads == STANDARD_LEADS and not rec.derived
    assert isinstance(rec.source, MemmapSource) and rec.source.lazy
    data = rec.read(0, rec.n_samples)
    assert data.dtype == np.float32 and data.shape == (12, 5000)
    stored = codes.T * (np.asarray(res_nv)[:, None] * 1e-6)
    np.testing.assert_allclose(data, stored, rtol=1e-6, atol=1e-9)  # codes x resolution, exactly
    step = np.asarray(res_nv)[:, None] * 1e-6
    assert np.all(np.abs(data - physical) <= step / 2 + 1e-7)  # LUDB's own values, within half a step
    assert np.abs(data - physical).max() * 1000 < 0.05  # uV
    assert rec.resolution == pytest.approx([r * 1e-6 for r in res_nv])
    assert rec.start_time == datetime(2018, 3, 4, 9, 15, 30)
    meta = rec.metadata
    assert meta.sex == "female" and meta.age == 56
    assert meta.identifiers == {
        "name": "Ada Testperson",
        "patient id": "ISH-4711",
        "birth date": "1961-05-17",
        "comments": "LUDB record 1, re-quantised",
    }
    assert meta.extra["recorder"] == "digital" and meta.device is None
    shown = " ".join(rec.warnings) + " ".join(meta.extra.values()) + repr(meta)
    assert not any(v in shown for v in ("Ada", "Testperson", "ISH-4711", "1961"))
    assert not any("checksum" in w for w in rec.warnings)


def test_same_as_ecgdatakit(shared: Path, tmp_path: Path) -> None:
    """The independent parser reads the same file to the same numbers, names and rate, and finds
    its checksum valid (so our writer's CRC follows the standard, not just our reader)."""
    from ecgdatakit.exceptions import ChecksumWarning
    from ecgdatakit.parsing.parsers.ishne_holter import ISHNEHolterParser

    path, *_ = ludb_as_ishne(shared, tmp_path / "ludb1.ecg")
    with warnings.catch_warnings():
        warnings.simplefilter("error", ChecksumWarning)
        other = ISHNEHolterParser().parse(path)
    ours = load(path)
    assert other.raw_metadata["checksum_valid"] is True
    assert [lead.label for lead in other.leads] == list(ours.leads)
    assert {lead.sampling_rate for lead in other.leads} == {ours.fs}
    theirs_uv = np.stack([lead.samples * lead.resolution for lead in other.leads])
    ours_uv = ours.read(0, ours.n_samples).astype(np.float64) * 1000
    assert theirs_uv.shape == ours_uv.shape
    assert np.abs(theirs_uv - ours_uv).max() < 1e-3  # float32 rounding only
    assert other.recording.date == ours.start_time
    assert other.patient.patient_id == ours.metadata.identifiers["patient id"]


def test_24h_holter_opens_lazily(tmp_path: Path) -> None:
    fs, n = 200, 24 * 3600 * 200
    ramp = (np.arange(n, dtype=np.int64) % 4000 - 2000).astype(np.int16)
    codes = np.stack([ramp, -ramp, ramp // 2], axis=1)
    path = write_ishne(tmp_path / "day.ecg", codes, [2500, 2500, 5000], [1, 13, 16], fs)
    del codes, ramp
    t0 = time.perf_counter()
    rec = load(path)
    elapsed = time.perf_counter() - t0
    assert elapsed < 0.5, f"opening a 24 h Holter took {elapsed:.2f} s"
    assert rec.source.lazy and "signals" not in vars(rec)
    assert rec.n_samples == n and rec.duration == 24 * 3600
    assert rec.leads == ("lead 1 (bipolar)", "V3", "V6")
    last = rec.read(n - 3, n)
    k = np.arange(n - 3, n) % 4000 - 2000
    np.testing.assert_allclose(last, [k * 0.0025, -k * 0.0025, (k // 2) * 0.005], rtol=1e-6)


def test_checksum_mismatch_warns(tmp_path: Path) -> None:
    from ecgdatakit.exceptions import ChecksumWarning
    from ecgdatakit.parsing.parsers.ishne_holter import ISHNEHolterParser

    path = synthetic(tmp_path / "a.ecg")
    assert not any("checksum" in w for w in load(path).warnings)
    raw = bytearray(path.read_bytes())
    raw[400] ^= 0x20  # a byte of the copyright field: the header still parses
    path.write_bytes(raw)
    rec = load(path)
    assert any("checksum mismatch" in w for w in rec.warnings)
    assert rec.n_samples == 2000
    with pytest.warns(ChecksumWarning):  # the independent parser agrees that it is corrupt
        ISHNEHolterParser().parse(path)


def test_annotation_file_refused(tmp_path: Path) -> None:
    path = synthetic(tmp_path / "a.ann", magic=b"ANN  1.0")
    with pytest.raises(EcgReadError, match="annotation file"):
        load(path)


def test_truncated_file(tmp_path: Path) -> None:
    path = synthetic(tmp_path / "t.ecg", n=2000)
    path.write_bytes(path.read_bytes()[: 522 + 1000 * 6])
    with pytest.raises(
        EcgReadError, match="truncated: the header declares 2000 samples per lead, the file holds 1000"
    ):
        load(path)
    path.write_bytes(path.read_bytes()[:300])
    with pytest.raises(EcgReadError, match="truncated: 300 bytes"):
        load(path)


def test_sniffed_by_content_and_lead_codes(tmp_path: Path) -> None:
    path = synthetic(tmp_path / "holter.bin", specs=[SPEC_OF["I"], 42, -9])
    rec = load(path)
    assert rec.leads == ("I", "lead 2 (code 42)", "lead 3 (absent)")


@pytest.mark.parametrize(
    ("kw", "cause"),
    [
        ({"specs": [5, 6, 11], "res_nv": [2500, 0, 2500]}, "resolution missing or not positive for II"),
        ({"fs": 0}, "sampling rate 0 Hz"),
        ({"ecg_size": 3000}, "declares 3000 samples per lead, the file holds 2000"),
    ],
)
def test_bad_header_values(tmp_path: Path, kw: dict, cause: str) -> None:
    path = synthetic(tmp_path / "bad.ecg", **kw)
    with pytest.raises(EcgReadError, match=cause) as err:
        load(path)
    assert not any(v in str(err.value) for v in ("Ada", "Testperson", "ISH-4711"))


def test_lead_count_out_of_range(tmp_path: Path) -> None:
    path = synthetic(tmp_path / "bad.ecg")
    raw = bytearray(path.read_bytes())
    struct.pack_into("<h", raw, 156, 13)
    path.write_bytes(raw)
    with pytest.raises(EcgReadError, match="13 leads"):
        load(path)


def test_quality_and_unknown_dates(tmp_path: Path) -> None:
    """Lead quality codes 2-5 warn; an unknown record date gives no start time, not a bogus one."""
    path = synthetic(tmp_path / "q.ecg", quality=[1, 3, 0], record=None, patient={**PATIENT, "birth": None})
    rec = load(path)
    assert rec.start_time is None and rec.metadata.age is None
    assert "V1: the recorder rated this lead 'frequent noise'" in rec.warnings
    assert rec.metadata.extra["lead quality"] == "II good, V1 frequent noise, V5 not rated"


def test_time_field_of_start(tmp_path: Path) -> None:
    path = synthetic(tmp_path / "s.ecg", record=datetime(2001, 12, 31, 23, 59, 58))
    assert load(path).start_time == datetime.combine(date(2001, 12, 31), dtime(23, 59, 58))
