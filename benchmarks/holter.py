"""The benchmark's synthetic 24 h, 12-lead, 500 Hz WFDB record (format 16, ~1.04 GB).

The samples are the committed PTB-XL sample's digital signal (10 s) tiled over 24 hours,
with a little white noise and a slow baseline wander so that no two pages are identical.
The record is cached in ``benchmarks/.cache/`` (git-ignored) and regenerated when missing or
incomplete; a stamp file written last marks a finished record.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
from common import SHARED, child_env, log, summary

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
SAMPLE = ROOT / "resources/samples/ptbxl/records500/00000/00003_hr.hea"
CACHE = HERE / ".cache"
CHILD_TIMEOUT_S = 240
NAME = "holter24h"
FS = 500
HOURS = 24
N_SAMPLES = HOURS * 3600 * FS  # 43,200,000 per lead
CHUNK = 600 * FS  # 10 minutes of samples per write (7.2 MB as int16)
NOISE_UNITS = 8  # +-8 uV of white noise (gain 1000 units/mV)
WANDER_UNITS = 60.0  # 60 uV of 0.15 Hz baseline wander
VERSION = 1  # bump when the generated content changes
SPARE_BYTES = 256 << 20  # leave this much disk free


class NotEnoughDisk(RuntimeError):
    pass


def _log(msg: str) -> None:
    print(f"[holter] {msg}", file=sys.stderr, flush=True)


def paths(cache: Path = CACHE) -> tuple[Path, Path, Path]:
    """Header, signal file and stamp of the cached record."""
    return cache / f"{NAME}.hea", cache / f"{NAME}.dat", cache / f"{NAME}.json"


def _base_signal() -> tuple[np.ndarray, object]:
    """The sample's digital samples (n, 12) int16 and its header."""
    import wfdb

    header = wfdb.rdheader(str(SAMPLE.with_suffix("")))
    if set(header.fmt) != {"16"} or header.fs != FS:
        raise RuntimeError(f"{SAMPLE}: expected format 16 at {FS} Hz")
    raw = np.fromfile(SAMPLE.with_suffix(".dat"), dtype="<i2")
    return raw.reshape(header.sig_len, header.n_sig), header


def expected_size(n_channels: int = 12) -> int:
    return N_SAMPLES * n_channels * 2


def is_valid(cache: Path = CACHE) -> bool:
    hea, dat, stamp = paths(cache)
    if not (hea.is_file() and dat.is_file() and stamp.is_file()):
        return False
    try:
        info = json.loads(stamp.read_text())
    except ValueError:
        return False
    return info.get("version") == VERSION and dat.stat().st_size == info.get("bytes")


def ensure(cache: Path = CACHE) -> tuple[Path, dict]:
    """The cached record's header path and facts about it, generating it first if needed."""
    hea, dat, stamp = paths(cache)
    if is_valid(cache):
        return hea, {**json.loads(stamp.read_text()), "generated_now": False}
    cache.mkdir(parents=True, exist_ok=True)
    for p in (hea, dat, stamp):
        p.unlink(missing_ok=True)
    need = expected_size()
    free = shutil.disk_usage(cache).free
    if free < need + SPARE_BYTES:
        raise NotEnoughDisk(
            f"need {(need + SPARE_BYTES) / 2**30:.2f} GiB free in {cache} for the 24 h record, "
            f"have {free / 2**30:.2f} GiB"
        )
    t0 = time.perf_counter()
    info = _generate(hea, dat)
    info["generate_s"] = round(time.perf_counter() - t0, 2)
    stamp.write_text(json.dumps(info, indent=1))
    _log(f"generated {dat} ({info['bytes'] / 1e9:.2f} GB) in {info['generate_s']} s")
    return hea, {**info, "generated_now": True}


def _generate(hea: Path, dat: Path) -> dict:
    import wfdb

    base, header = _base_signal()
    n_base, n_sig = base.shape
    rng = np.random.default_rng(20240601)
    sums = np.zeros(n_sig, dtype=np.int64)
    first = None
    part = dat.with_name(dat.name + ".part")
    _log(f"writing {N_SAMPLES * n_sig * 2 / 1e9:.2f} GB to {dat} ...")
    # Per-lead wander phase so the leads do not move together.
    phase = rng.uniform(0, 2 * np.pi, n_sig)
    with part.open("wb") as f:
        for start in range(0, N_SAMPLES, CHUNK):
            stop = min(N_SAMPLES, start + CHUNK)
            idx = np.arange(start, stop)
            chunk = base[idx % n_base].astype(np.int32)
            chunk += rng.integers(-NOISE_UNITS, NOISE_UNITS + 1, size=chunk.shape, dtype=np.int32)
            t = idx / FS
            wander = WANDER_UNITS * np.sin(2 * np.pi * 0.15 * t[:, None] + phase[None, :])
            chunk += wander.astype(np.int32)
            np.clip(chunk, -32767, 32767, out=chunk)  # -32768 is WFDB's "missing sample"
            out = chunk.astype("<i2")
            if first is None:
                first = out[0].astype(int).tolist()
            sums += out.sum(axis=0, dtype=np.int64)
            out.tofile(f)
            if (start // CHUNK) % 24 == 0:
                _log(f"  {stop / N_SAMPLES:5.0%}")
    part.replace(dat)
    record = wfdb.Record(
        record_name=NAME,
        n_sig=n_sig,
        fs=FS,
        sig_len=N_SAMPLES,
        file_name=[dat.name] * n_sig,
        fmt=["16"] * n_sig,
        adc_gain=list(header.adc_gain),
        baseline=list(header.baseline),
        units=list(header.units),
        adc_res=[16] * n_sig,
        adc_zero=[0] * n_sig,
        init_value=first,
        checksum=[int(s % 65536) for s in sums],
        block_size=[0] * n_sig,
        sig_name=list(header.sig_name),
        comments=[
            f"synthetic {HOURS} h record for ecgviewer benchmarks: PTB-XL 00003_hr tiled, "
            "with noise and baseline wander"
        ],
    )
    record.wrheader(write_dir=str(hea.parent))
    check = wfdb.rdheader(str(hea.with_suffix("")))
    if check.sig_len != N_SAMPLES or check.n_sig != n_sig or check.fs != FS:
        raise RuntimeError(f"wfdb reads back {check.n_sig} x {check.sig_len} at {check.fs} Hz")
    size = dat.stat().st_size
    if size != N_SAMPLES * n_sig * 2:
        raise RuntimeError(f"{dat}: {size} bytes written, expected {N_SAMPLES * n_sig * 2}")
    return {
        "version": VERSION,
        "bytes": size,
        "n_sig": n_sig,
        "fs": FS,
        "sig_len": N_SAMPLES,
        "hours": HOURS,
        "header": str(hea),
    }


if __name__ == "__main__":
    print(json.dumps(ensure()[1], indent=1))


# -- the same record as EDF+, and 3 of its leads at 250 Hz as a Holter's EDF+ ----------------------
HOLTER_LEADS = ("II", "V1", "V5")  # a 3-channel Holter's usual leads (CM5, CC5 and CM1's closest)


def ensure_edf(kind: str, cache: Path = CACHE) -> Path:
    """``holter24h.edf`` (all 12 leads at 500 Hz, for browsing) or ``holter24h-3lead.edf``
    (HOLTER_LEADS at 250 Hz, for the beat list), written from the WFDB record by the app's own
    "Save as" (every second sample for 250 Hz: the PTB-XL sample has little above 100 Hz)."""
    from ecgviewer.io import load
    from ecgviewer.io.writers import save
    from ecgviewer.recording import make_recording

    header, _ = ensure(cache)
    path = cache / (f"{NAME}.edf" if kind == "12lead" else f"{NAME}-3lead.edf")
    stamp = path.with_suffix(".json")
    if path.is_file() and stamp.is_file() and json.loads(stamp.read_text()).get("version") == VERSION:
        return path
    rec = load(header)
    if kind != "12lead":
        rows = [rec.index(lead) for lead in HOLTER_LEADS]
        rec = make_recording(None, _EverySecond(rec.source, rows), rec.fs / 2, list(HOLTER_LEADS), "3-lead")
    t0 = time.perf_counter()
    save(rec, path)
    stamp.write_text(json.dumps({"version": VERSION, "bytes": path.stat().st_size}))
    _log(f"wrote {path} in {time.perf_counter() - t0:.1f} s")
    return path


class _EverySecond:
    """Rows of a source at half its rate, read window by window (a ``SignalSource``)."""

    lazy = True

    def __init__(self, base, rows: list[int]) -> None:
        self.base, self.rows = base, rows
        self.n_channels, self.n_samples = len(rows), base.n_samples // 2

    def read(self, start: int, stop: int) -> np.ndarray:
        return self.base.read(2 * start, 2 * stop)[self.rows, ::2]


# What an AVX2 machine without AVX-512 runs, held to on a machine with it: the libraries the beat
# list computes in, each by its own switch (oneDNN's 8-bit convolutions, ATen's kernels, FBGEMM,
# NumPy's loops, OpenBLAS). The same cores at their own clock and caches: an estimate, not a figure
# from such a machine (benchmarks/cpu-avx2-2core.json was one).
AVX2_ENV = {
    "ONEDNN_MAX_CPU_ISA": "AVX2",
    "ATEN_CPU_CAPABILITY": "avx2",
    "FBGEMM_ENABLE_INSTRUCTIONS": "AVX2",
    "NPY_DISABLE_CPU_FEATURES": "X86_V4 AVX512_ICL AVX512_SPR",
    "OPENBLAS_CORETYPE": "Haswell",
}


def _beat_list_child(paths: list[Path], **env: str) -> dict:
    cmd = [sys.executable, str(HERE / "beat_list_child.py"), *map(str, paths)]
    proc = subprocess.run(
        cmd, capture_output=True, text=True, env=child_env(**env), timeout=CHILD_TIMEOUT_S * 2, cwd=ROOT
    )
    if proc.returncode != 0:
        raise RuntimeError(f"beat list child failed ({proc.returncode}): {proc.stderr.strip()[-2000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def bench_beat_list() -> dict:
    """``measure.rhythm.analyse`` over 24 h of 3 leads at 250 Hz in a fresh process: wall time,
    beats and peak memory against the file's size."""
    path = ensure_edf("3lead")
    log("[beat list] 24 h, 3 leads, 250 Hz")
    return {**_beat_list_child([path]), "file_mib": round(path.stat().st_size / 2**20, 1)}


def bench_beat_list_avx2(simd: str | None) -> dict:
    """``bench_beat_list`` held to AVX2 (``AVX2_ENV``), where this machine has AVX-512: issue 74's
    goal is the day in 30 s on AVX2 machines too."""
    if simd != "avx512f":
        return {"skipped": f"this machine's widest vector unit is {simd}: beat_list_24h_s is its figure"}
    log("[beat list] the same day held to AVX2")
    return _beat_list_child([ensure_edf("3lead")], **AVX2_ENV)


def bench_beat_list_mitdb() -> dict:
    """The same over the MIT-BIH Arrhythmia records in ``../shared`` (2 leads at 360 Hz, 30 min
    each), one after the other in one fresh process: real recordings, with the ectopy, noise and
    doubted beats that the day built from one 10 s sample has not (its second opinion reads one
    stretch length, its pages are all alike)."""
    folder = SHARED / "mitdb"
    paths = sorted(p for p in folder.glob("*.hea") if p.stem.isdigit())  # not the noise records
    if not paths:
        return {"skipped": f"no MIT-BIH records in {folder}"}
    log(f"[beat list] {len(paths)} MIT-BIH records")
    return {**_beat_list_child(paths), "records": [p.stem for p in paths]}


# -- the benchmark: a 24 h record opened and panned in fresh subprocesses -------------------------
def _run_child(header: Path, *args: str) -> dict:
    cmd = [sys.executable, str(HERE / "holter_child.py"), str(header), *args]
    proc = subprocess.run(
        cmd, capture_output=True, text=True, env=child_env(), timeout=CHILD_TIMEOUT_S, cwd=ROOT
    )
    if proc.returncode != 0:
        raise RuntimeError(f"holter child failed ({proc.returncode}): {proc.stderr.strip()[-2000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def _warm_page_cache(path: Path) -> float:
    """Read the whole file once so every run sees a warm page cache; returns seconds."""
    t = time.perf_counter()
    with path.open("rb", buffering=0) as f:
        while f.read(16 << 20):
            pass
    return time.perf_counter() - t


def bench_holter(open_repeats: int, pans: int) -> dict:
    try:
        header, info = ensure()
    except NotEnoughDisk as exc:
        return {"error": str(exc)}
    dat = header.with_suffix(".dat")
    out: dict = {
        "record": {k: info[k] for k in ("bytes", "n_sig", "fs", "sig_len", "hours")},
        "generated_now": info["generated_now"],
    }
    if info["generated_now"]:
        out["generate_s"] = info.get("generate_s")
    log(f"[holter] warming the page cache ({dat.stat().st_size / 1e9:.2f} GB)")
    out["page_cache_warm_read_s"] = round(_warm_page_cache(dat), 2)
    log("[holter] full run: open, pans, envelope, peak RSS")
    full = _run_child(header, "--pans", str(pans))
    opens = [full["holter_open_s"]]
    extra = []
    for i in range(open_repeats - 1):
        log(f"[holter] open-only run {i + 2}/{open_repeats}")
        extra.append(_run_child(header, "--open-only"))
        opens.append(extra[-1]["holter_open_s"])
    out["open_s"] = summary(opens, 4)
    runs = [full, *extra]
    out["open_wfdb_preimported_s"] = summary(
        [r["open_breakdown_s"]["load"] + r["open_breakdown_s"]["set_recording_and_paint"] for r in runs], 4
    )
    out["open_breakdown_s_per_run"] = [full["open_breakdown_s"]] + [e["open_breakdown_s"] for e in extra]
    out["full_run"] = full
    edf = ensure_edf("12lead")
    log("[holter] the same record as EDF+: open, pans")
    out["edf_run"] = _run_child(edf, "--pans", str(pans))
    return out
