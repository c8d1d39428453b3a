"""Bad input: every broken file ends in one ``EcgReadError`` that names the file and the cause
(and, from the CLI, one stderr line with exit status 2, never a traceback); odd but readable
files load with a clear warning. Nothing is ever written next to the file being read."""

from __future__ import annotations

import json
import os
import pathlib
import subprocess
import sys
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest
import wfdb

from ecgviewer.errors import EcgError, EcgReadError
from ecgviewer.io import load
from ecgviewer.leads import STANDARD_LEADS
from tests.conftest import REPO

NAMES12 = ["I", "II", "III", "AVR", "AVL", "AVF", "V1", "V2", "V3", "V4", "V5", "V6"]
TOL = {"rtol": 1e-6, "atol": 1e-6}


def ecg_like(n: int, leads: int, seed: int = 0) -> np.ndarray:
    """Samples x leads in mV."""
    rng = np.random.default_rng(seed)
    t = np.arange(n)[:, None] / 500.0
    return 1.2 * np.sin(2 * np.pi * 1.1 * t + rng.uniform(0, 6, leads)) + 0.1 * rng.normal(size=(n, leads))


def write(
    tmp: Path,
    name: str,
    sig: np.ndarray | None = None,
    names: list[str] | None = None,
    units: list[str] | str = "mV",
    fs: float = 500,
    fmt: str = "16",
    **kw,
) -> Path:
    """A WFDB record written with wfdb; returns its header."""
    sig = ecg_like(2000, 12) if sig is None else sig
    names = names or NAMES12[: sig.shape[1]]
    units = [units] * sig.shape[1] if isinstance(units, str) else units
    if fmt == "212":
        kw.setdefault("adc_gain", [200.0] * sig.shape[1])
        kw.setdefault("baseline", [0] * sig.shape[1])
    wfdb.wrsamp(
        name,
        fs=fs,
        units=units,
        sig_name=names,
        p_signal=sig,
        fmt=[fmt] * sig.shape[1],
        write_dir=str(tmp),
        **kw,
    )
    return tmp / f"{name}.hea"


def write_header(
    tmp: Path, name: str, n_samples: int, names: list[str], fmt: str = "16", fs: float = 500
) -> Path:
    """A header written by hand (with a signal file written by the caller)."""
    bits = {"16": 16, "212": 12}[fmt]
    lines = [f"{name} {len(names)} {fs:g} {n_samples}"]
    lines += [f"{name}.dat {fmt} 200(0)/mV {bits} 0 0 0 0 {n}" for n in names]
    (tmp / f"{name}.hea").write_text("\n".join(lines) + "\n")
    return tmp / f"{name}.hea"


def sidecar(path: Path, **info) -> None:
    path.with_suffix(".json").write_text(json.dumps(info))


def cli_info(path: Path | str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "ecgviewer", "info", str(path)],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=REPO,
    )


def check_cli_error(proc: subprocess.CompletedProcess, name: str, causes: tuple[str, ...]) -> None:
    """Exit status 2 and exactly one stderr line naming the file and the cause; no traceback."""
    lines = proc.stderr.strip().splitlines()
    assert proc.returncode == 2, proc.stderr
    assert "Traceback" not in proc.stderr
    assert len(lines) == 1, proc.stderr
    assert lines[0].startswith("ecgviewer: error: Cannot open ")
    assert name in lines[0]
    assert all(c.lower() in lines[0].lower() for c in causes), (causes, lines[0])
    assert proc.stdout == ""


def assert_read_error(path: Path | str, *causes: str, name: str | None = None) -> EcgReadError:
    """``load`` fails with one EcgReadError naming the file (``name``: e.g. a sidecar) and the cause."""
    with pytest.raises(EcgReadError) as info:
        load(path)
    err = info.value
    assert isinstance(err, EcgError)
    message = str(err)
    assert (name or Path(path).name) in message
    assert all(c.lower() in message.lower() for c in causes), (causes, message)
    assert "\n" not in message
    return err


# ------------------------------------------------------------------------- fatal cases: a table
# Each case builds its input in a folder and says what the error must mention: (path, file name
# the message must hold, causes). Every case is checked through load() and through the CLI.

Case = Callable[[Path], tuple[Path, str, tuple[str, ...]]]
CASES: dict[str, Case] = {}


def case(fn: Case) -> Case:
    CASES[fn.__name__] = fn
    return fn


@case
def garbage_header(tmp):
    (tmp / "junk.hea").write_text("this is not a header\nnor is this: 12 x\n\u00e9\u00e8 garbage\n")
    return tmp / "junk.hea", "junk.hea", ("invalid WFDB header",)


@case
def binary_header(tmp):
    (tmp / "bin.hea").write_bytes(np.random.default_rng(1).bytes(3000))
    return tmp / "bin.hea", "bin.hea", ("WFDB",)


@case
def header_blank_lines(tmp):
    (tmp / "blank.hea").write_text("\n\n   \n")
    return tmp / "blank.hea", "blank.hea", ("invalid WFDB header",)


@case
def header_record_name_with_extension(tmp):  # the Challenge 2020 release of the Georgia database
    hea = write(tmp, "E00015")
    lines = hea.read_text().splitlines()
    hea.write_text("\n".join([lines[0].replace("E00015", "E00015.mat", 1), *lines[1:]]) + "\n")
    return hea, "E00015.hea", ("record name in its record line carries a file extension",)


@case
def header_unreadable_rate(tmp):
    hea = write(tmp, "rate")
    lines = hea.read_text().splitlines()
    hea.write_text("\n".join(["rate 12 fast 2000", *lines[1:]]) + "\n")
    return hea, "rate.hea", ("unreadable sampling rate 'fast'",)  # wfdb alone would read 250 Hz


@case
def header_unreadable_length(tmp):
    hea = write(tmp, "length")
    lines = hea.read_text().splitlines()
    hea.write_text("\n".join(["length 12 500 2k", *lines[1:]]) + "\n")
    return hea, "length.hea", ("unreadable number of samples '2k'",)


@case
def header_declares_more_signals(tmp):
    hea = write(tmp, "more")
    lines = hea.read_text().splitlines()
    hea.write_text("\n".join([lines[0].replace("more 12", "more 14"), *lines[1:]]) + "\n")
    return hea, "more.hea", ("declares 14 signals", "12 signal lines")


@case
def header_declares_fewer_signals(tmp):
    hea = write(tmp, "fewer")
    lines = hea.read_text().splitlines()
    hea.write_text("\n".join([lines[0].replace("fewer 12", "fewer 10"), *lines[1:]]) + "\n")
    return hea, "fewer.hea", ("declares 10 signals", "12 signal lines")


@case
def truncated_dat_16(tmp):
    hea = write(tmp, "cut16")
    dat = tmp / "cut16.dat"
    dat.write_bytes(dat.read_bytes()[:30_000])
    return hea, "cut16.dat", ("truncated", "30000 bytes", "48000")


@case
def truncated_dat_212(tmp):
    hea = write(tmp, "cut212", fmt="212")
    dat = tmp / "cut212.dat"
    dat.write_bytes(dat.read_bytes()[:9_000])
    return hea, "cut212.dat", ("truncated", "9000 bytes")


@case
def truncated_dat_lazy_16(tmp):
    """Header of a 12 x 700,000 record (memory-mapped), but only 1 s of samples in the file."""
    hea = write_header(tmp, "cutlong16", 700_000, NAMES12)
    np.zeros((500, 12), "<i2").tofile(tmp / "cutlong16.dat")
    return hea, "cutlong16.dat", ("truncated", "12000 bytes", "16800000")


@case
def truncated_dat_lazy_212(tmp):
    """The same for format 212, paged through wfdb: the file holds the first 200 s, more than
    opening reads, so this used to open and fail later, when the viewer paged further."""
    hea = write_header(tmp, "cutlong212", 700_000, NAMES12, fmt="212")
    (tmp / "cutlong212.dat").write_bytes(bytes(100_000 * 12 * 3 // 2))
    return hea, "cutlong212.dat", ("truncated", "1800000 bytes", "12600000")


@case
def truncated_segment(tmp):
    for k in (1, 2):
        write(tmp, f"ms_{k}", ecg_like(2000, 12, seed=k))
    (tmp / "ms_2.dat").write_bytes((tmp / "ms_2.dat").read_bytes()[:1000])
    (tmp / "ms.hea").write_text("ms/2 12 500 4000\nms_1 2000\nms_2 2000\n")
    return tmp / "ms.hea", "ms_2.dat", ("truncated",)


@case
def signal_file_missing(tmp):
    hea = write(tmp, "nodat")
    (tmp / "nodat.dat").unlink()
    return hea, "nodat.hea", ("nodat.dat", "not found")


@case
def signal_file_without_header(tmp):
    (tmp / "lonely.dat").write_bytes(np.random.default_rng(2).bytes(4000))
    return tmp / "lonely.dat", "lonely.dat", ("no WFDB header", "lonely.hea")


@case
def empty_header(tmp):
    (tmp / "empty.hea").write_bytes(b"")
    return tmp / "empty.hea", "empty.hea", ("empty",)


@case
def empty_csv(tmp):
    (tmp / "empty.csv").write_bytes(b"")
    return tmp / "empty.csv", "empty.csv", ("empty",)


@case
def empty_npy(tmp):
    (tmp / "empty.npy").write_bytes(b"")
    return tmp / "empty.npy", "empty.npy", ("empty",)


@case
def random_binary_unknown_extension(tmp):
    (tmp / "blob.bin").write_bytes(np.random.default_rng(3).bytes(10_000))
    return tmp / "blob.bin", "blob.bin", ("unrecognised file format", "WFDB", "CSV", "NPY")


@case
def random_binary_no_extension(tmp):
    (tmp / "blob").write_bytes(np.random.default_rng(4).bytes(10_000))
    return tmp / "blob", "blob", ("unrecognised file format",)


@case
def random_binary_npy(tmp):
    (tmp / "fake.npy").write_bytes(np.random.default_rng(5).bytes(10_000))
    return tmp / "fake.npy", "fake.npy", ("not a NumPy", "signature")


@case
def random_binary_csv(tmp):
    (tmp / "fake.csv").write_bytes(b"\xff\xfe" + np.random.default_rng(6).bytes(10_000))
    return tmp / "fake.csv", "fake.csv", ("not UTF-8 text",)


@case
def nonexistent_file(tmp):
    return tmp / "missing.hea", "missing.hea", ("no such file",)


@case
def nonexistent_record_name(tmp):
    return tmp / "nothere", "nothere", ("no such file",)


@case
def directory(tmp):
    (tmp / "folder.hea").mkdir()
    return tmp / "folder.hea", "folder.hea", ("not a file",)


@case
def name_too_long(tmp):
    return tmp / ("x" * 300 + ".hea"), "x" * 300, ("too long",)


@case
def csv_non_numeric(tmp):
    (tmp / "words.csv").write_text("# fs = 500\nI,II\nred,green\nblue,white\n")
    return tmp / "words.csv", "words.csv", ("line 3", "'red' is not a number")


@case
def csv_text_inside_numbers(tmp):
    (tmp / "typo.csv").write_text("# fs = 500\nI,II\n0.1,0.2\n0.3,O.4\n0.5,0.6\n")
    return tmp / "typo.csv", "typo.csv", ("line 4", "'O.4' is not a number")


@case
def csv_ragged_rows(tmp):
    (tmp / "ragged.csv").write_text("# fs = 500\nI,II\n0.1,0.2\n0.3\n0.5,0.6\n")
    return tmp / "ragged.csv", "ragged.csv", ("line 4", "1 columns", "header row 2")


@case
def csv_header_only(tmp):
    (tmp / "head.csv").write_text("# fs = 500\nI,II,V1\n")
    return tmp / "head.csv", "head.csv", ("3 numeric columns",)


@case
def csv_without_fs(tmp):
    (tmp / "nofs.csv").write_text("I,II\n0.1,0.2\n0.3,0.4\n")
    return tmp / "nofs.csv", "nofs.csv", ("sampling rate unknown", "# fs")


@case
def csv_unknown_units(tmp):
    (tmp / "units.csv").write_text("# fs = 500\n# units = furlongs\nI,II\n0.1,0.2\n0.3,0.4\n")
    return tmp / "units.csv", "units.csv", ("unknown units", "furlongs")


@case
def csv_time_not_increasing(tmp):
    (tmp / "clock.csv").write_text("time,I,II\n0.004,0.1,0.2\n0.002,0.3,0.4\n0.000,0.5,0.6\n")
    return tmp / "clock.csv", "clock.csv", ("time column does not increase",)


@case
def csv_rate_too_low(tmp):
    (tmp / "slow.csv").write_text("# fs = 10\nI,II\n0.1,0.2\n0.3,0.4\n")
    return tmp / "slow.csv", "slow.csv", ("10 Hz",)


@case
def npy_without_sidecar(tmp):
    np.save(tmp / "alone.npy", ecg_like(100, 12).T)
    return tmp / "alone.npy", "alone.npy", ("missing sidecar", "alone.json")


@case
def npy_sidecar_without_leads(tmp):
    np.save(tmp / "noleads.npy", ecg_like(100, 12).T)
    sidecar(tmp / "noleads.npy", fs=500)
    return tmp / "noleads.npy", "noleads.json", ("'leads'",)


@case
def npy_sidecar_without_fs(tmp):
    np.save(tmp / "nofs.npy", ecg_like(100, 12).T)
    sidecar(tmp / "nofs.npy", leads=NAMES12)
    return tmp / "nofs.npy", "nofs.json", ("'fs'",)


@case
def npy_sidecar_not_json(tmp):
    np.save(tmp / "badjson.npy", ecg_like(100, 12).T)
    (tmp / "badjson.json").write_text("{fs: 500, leads: [I, II]")
    return tmp / "badjson.npy", "badjson.json", ("sidecar needs",)


@case
def npy_lead_count_mismatch(tmp):
    np.save(tmp / "count.npy", ecg_like(100, 12).T)
    sidecar(tmp / "count.npy", fs=500, leads=["I", "II"])
    return tmp / "count.npy", "count.npy", ("does not match 2 leads",)


@case
def npy_one_dimensional(tmp):
    np.save(tmp / "flat1d.npy", np.zeros(1000))
    sidecar(tmp / "flat1d.npy", fs=500, leads=["II"])
    return tmp / "flat1d.npy", "flat1d.npy", ("2-D",)


@case
def npy_rate_too_low(tmp):
    np.save(tmp / "slow.npy", ecg_like(100, 12).T)
    sidecar(tmp / "slow.npy", fs=10, leads=NAMES12)
    return tmp / "slow.npy", "slow.npy", ("10 Hz",)


@case
def wfdb_rate_too_low(tmp):
    return write(tmp, "tenhz", ecg_like(500, 12), fs=10), "tenhz.hea", ("10 Hz", "outside")


@case
def wfdb_no_voltage_channel(tmp):
    hea = write(tmp, "bp", ecg_like(2000, 2) * 20 + 100, ["ABP", "PAP"], units="mmHg")
    return hea, "bp.hea", ("no channel is an ECG voltage", "mmHg")


@case
def wfdb_every_sample_missing(tmp):
    nan = np.full((1000, 2), np.nan)
    hea = write(tmp, "allnan", nan, ["I", "II"], adc_gain=[200.0] * 2, baseline=[0] * 2)
    return hea, "allnan.hea", ("every sample is missing",)


class _Touch:
    """Unpickling this creates a marker file: proof that a reader ran pickle on untrusted input."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (pathlib.Path.touch, (self.marker,))


@case
def npy_object_array(tmp):
    arr = np.array([[_Touch(tmp / "PICKLE_RAN")] * 4] * 12, dtype=object)
    np.save(tmp / "objects.npy", arr, allow_pickle=True)
    sidecar(tmp / "objects.npy", fs=500, leads=NAMES12)
    return tmp / "objects.npy", "objects.npy", ("object",)


@pytest.mark.parametrize("name", list(CASES))
def test_bad_input_raises_one_clear_error(tmp_path, name):
    path, shown, causes = CASES[name](tmp_path)
    err = assert_read_error(path, *causes, name=shown)
    assert err.path.name == shown or shown in str(err.path)
    assert not (tmp_path / "PICKLE_RAN").exists()  # allow_pickle stays False


def test_bad_input_cli_one_line_exit_2(tmp_path):
    """``ecgviewer info`` on every case above: exit 2, one stderr line, no traceback (run in parallel)."""
    built = {}
    for name, build in CASES.items():
        (tmp_path / name).mkdir()
        built[name] = build(tmp_path / name)
    with ThreadPoolExecutor(max_workers=4) as pool:
        procs = dict(zip(built, pool.map(lambda b: cli_info(b[0]), built.values()), strict=True))
    for name, (_, shown, causes) in built.items():
        check_cli_error(procs[name], shown, causes)
        assert not (tmp_path / name / "PICKLE_RAN").exists()


@pytest.mark.skipif(
    not hasattr(os, "geteuid") or os.geteuid() == 0,
    reason="running as root: root can read a file without read permission",
)
@pytest.mark.parametrize("which", ["header", "signal"])
def test_file_without_read_permission(tmp_path, which):
    hea = write(tmp_path, "secret")
    locked = hea if which == "header" else tmp_path / "secret.dat"
    locked.chmod(0)
    try:
        assert_read_error(hea, "permission denied", name=locked.name)
        check_cli_error(cli_info(hea), locked.name, ("permission denied",))
    finally:
        locked.chmod(0o644)


# ----------------------------------------------------------- odd but readable: load with a warning


def test_nan_stretch_is_missing_not_zero(tmp_path):
    sig = ecg_like(5000, 12)
    sig[1000:1500, 0] = np.nan  # 1 s gap in lead I (the format's invalid value in the file)
    sig[:, 7] = np.nan  # lead V2 never recorded
    hea = write(tmp_path, "gaps", sig, adc_gain=[200.0] * 12, baseline=[0] * 12)
    rec = load(hea)
    wrec = wfdb.rdrecord(str(tmp_path / "gaps"))
    assert np.isnan(rec.signals[0, 1000:1500]).all()
    assert np.isfinite(rec.signals[0, :1000]).all() and np.isfinite(rec.signals[0, 1500:]).all()
    np.testing.assert_allclose(rec.signals, wrec.p_signal.T, equal_nan=True, **TOL)
    assert any("lead I:" in w and "10%" in w and "missing" in w for w in rec.warnings), rec.warnings
    assert any("lead V2:" in w and "all samples missing" in w for w in rec.warnings), rec.warnings
    proc = cli_info(hea)
    assert proc.returncode == 0 and "missing" in proc.stdout and proc.stderr == ""


def test_flat_lead_warns(tmp_path):
    sig = ecg_like(3000, 12)
    sig[:, 9] = 0.25  # V4 disconnected: a constant offset
    rec = load(write(tmp_path, "flat", sig))
    assert any("V4" in w and "flat" in w for w in rec.warnings), rec.warnings
    assert not any("V5" in w for w in rec.warnings)


def test_implausible_amplitudes_warn_about_units(tmp_path):
    """Microvolts written as if they were millivolts: values reach hundreds of 'mV'."""
    sig = ecg_like(3000, 12) * 1000
    rec = load(write(tmp_path, "huge", sig, units="mV"))
    assert any("implausible" in w and "units" in w for w in rec.warnings), rec.warnings
    np.testing.assert_allclose(rec.signals, wfdb.rdrecord(str(tmp_path / "huge")).p_signal.T, **TOL)
    normal = load(write(tmp_path, "normal", sig / 1000))
    assert not any("implausible" in w for w in normal.warnings)


@pytest.mark.parametrize(("names", "leads"), [(["II"], ("II",)), (["MLII"], ("II",)), (["ECG"], ("ECG",))])
def test_single_lead_record(tmp_path, names, leads):
    rec = load(write(tmp_path, "one", ecg_like(3000, 1), names))
    assert rec.leads == leads and rec.signals.shape == (1, 3000)
    assert not rec.derived


def test_two_lead_holter_style_record_derives_limb_leads(tmp_path):
    rec = load(write(tmp_path, "two", ecg_like(3000, 2), ["I", "II"]))
    assert rec.leads == STANDARD_LEADS[:6] and rec.derived == frozenset({"III", "aVR", "aVL", "aVF"})


def test_fifteen_lead_record(tmp_path):
    names = [*NAMES12, "vx", "vy", "vz"]
    rec = load(write(tmp_path, "fifteen", ecg_like(3000, 15), names))
    assert rec.leads == (*STANDARD_LEADS, "vx", "vy", "vz")
    np.testing.assert_allclose(rec.signals, wfdb.rdrecord(str(tmp_path / "fifteen")).p_signal.T, **TOL)


@pytest.mark.parametrize("fs", [50, 10_000])
def test_extreme_but_valid_sampling_rates(tmp_path, fs):
    rec = load(write(tmp_path, f"fs{fs}", ecg_like(2000, 12), fs=fs))
    assert rec.fs == fs and rec.duration == pytest.approx(2000 / fs)


def test_non_voltage_channels_are_skipped(tmp_path):
    sig = np.column_stack([ecg_like(3000, 12), 120 + 20 * np.sin(np.arange(3000) / 100), np.full(3000, 37.0)])
    names = [*NAMES12, "ABP", "Temp"]
    hea = write(tmp_path, "icu", sig, names, units=["mV"] * 12 + ["mmHg", "degC"])
    rec = load(hea)
    assert rec.leads == STANDARD_LEADS
    assert any("'ABP'" in w and "mmHg" in w and "skipped" in w for w in rec.warnings), rec.warnings
    assert any("'Temp'" in w and "degC" in w for w in rec.warnings), rec.warnings
    np.testing.assert_allclose(rec.signals, wfdb.rdrecord(str(tmp_path / "icu")).p_signal[:, :12].T, **TOL)


def test_damaged_ptbxl_table_only_costs_the_metadata(tmp_path):
    """A broken ptbxl_database.csv in the tree must not make the recording unreadable."""
    folder = tmp_path / "ptbxl" / "records500" / "00000"
    folder.mkdir(parents=True)
    (tmp_path / "ptbxl" / "ptbxl_database.csv").write_text("ecg_id,oops\n1,2\n")
    rec = load(write(folder, "00001_hr"))
    assert rec.leads == STANDARD_LEADS
    assert rec.metadata.dataset is None
    assert any("PTB-XL" in w for w in rec.warnings), rec.warnings


def _snapshot(folder: Path) -> dict[str, tuple[int, int]]:
    return {p.name: (p.stat().st_mtime_ns, p.stat().st_size) for p in sorted(folder.iterdir())}


def test_files_are_opened_read_only(tmp_path):
    folder = tmp_path / "ro"
    folder.mkdir()
    write(folder, "small")
    write_header(folder, "long", 700_000, NAMES12)  # memory-mapped when read
    rng = np.random.default_rng(9)
    rng.integers(-2000, 2000, size=(700_000, 12), dtype=np.int16).astype("<i2").tofile(folder / "long.dat")
    (folder / "x.csv").write_text("# fs = 500\nI,II\n0.1,0.2\n0.3,0.4\n")
    np.save(folder / "y.npy", ecg_like(100, 12).T)
    sidecar(folder / "y.npy", fs=500, leads=NAMES12)
    for p in folder.iterdir():
        p.chmod(0o444)
    folder.chmod(0o555)
    try:
        before = _snapshot(folder)
        time.sleep(0.01)
        for name in ("small.hea", "small.dat", "long.hea", "x.csv", "y.npy"):
            rec = load(folder / name)
            assert np.isfinite(rec.read(0, 1000)).all()
        long = load(folder / "long")
        assert long.source.lazy and long.read(650_000, 655_000).shape == (12, 5000)
        assert _snapshot(folder) == before
    finally:
        folder.chmod(0o755)


# ------------------------------------------------------------------------- an hours-long record

HOURS, FS, LEADS = 2, 500, 12
N_LONG = HOURS * 3600 * FS  # 3.6 M samples x 12 leads = 86.4 M values
WINDOW = 5400 * FS  # a 10 s window at 1:30:00


@pytest.fixture(scope="module")
def hours_long(tmp_path_factory) -> tuple[Path, np.ndarray, np.ndarray]:
    """A 2 h format-16 record: the first 2 minutes and a 10 s window at 1:30:00 hold signal,
    the rest is a sparse (zero) file, so writing it costs almost nothing."""
    tmp = tmp_path_factory.mktemp("hours")
    rng = np.random.default_rng(11)
    head = rng.integers(-1500, 1500, size=(120 * FS, LEADS), dtype=np.int16)
    window = rng.integers(-1500, 1500, size=(10 * FS, LEADS), dtype=np.int16)
    with (tmp / "holter.dat").open("wb") as fh:
        fh.write(head.astype("<i2").tobytes())
        fh.seek(WINDOW * LEADS * 2)
        fh.write(window.astype("<i2").tobytes())
        fh.truncate(N_LONG * LEADS * 2)
    lines = [f"holter {LEADS} {FS} {N_LONG} 08:00:00 01/02/2024"]
    lines += [f"holter.dat 16 200(0)/mV 16 0 0 0 0 {n}" for n in NAMES12]
    (tmp / "holter.hea").write_text("\n".join(lines) + "\n")
    return tmp / "holter.hea", head, window


def test_hours_long_record_opens_lazily_and_fast(hours_long):
    hea, head, window = hours_long
    t0 = time.perf_counter()
    rec = load(hea)
    elapsed = time.perf_counter() - t0
    assert elapsed < 1.0, f"opening a 2 h record took {elapsed:.2f} s"
    assert rec.source.lazy
    assert rec.n_samples == N_LONG and rec.duration == HOURS * 3600
    assert rec.leads == STANDARD_LEADS
    assert rec.start_time is not None and rec.start_time.hour == 8
    t0 = time.perf_counter()
    got = rec.read(WINDOW, WINDOW + 10 * FS)
    assert time.perf_counter() - t0 < 0.5
    assert got.shape == (12, 10 * FS) and got.dtype == np.float32
    np.testing.assert_allclose(got, window.T / 200.0, **TOL)
    np.testing.assert_allclose(rec.read(0, 10 * FS), head[: 10 * FS].T / 200.0, **TOL)
    wrec = wfdb.rdrecord(str(hea.with_suffix("")), sampfrom=WINDOW - 100, sampto=WINDOW + 100)
    np.testing.assert_allclose(rec.read(WINDOW - 100, WINDOW + 100), wrec.p_signal.T, **TOL)
    assert rec.read(N_LONG - 10 * FS, N_LONG + 10).shape == (12, 10 * FS)  # the last 10 s


def test_hours_long_record_cli_info(hours_long):
    hea, _, _ = hours_long
    proc = cli_info(hea)
    assert proc.returncode == 0, proc.stderr
    assert "2:00:00.000" in proc.stdout and "3600000 samples" in proc.stdout
