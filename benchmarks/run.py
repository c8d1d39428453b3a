"""ecgviewer benchmarks: ``make bench`` (``QT_QPA_PLATFORM=offscreen .venv/bin/python benchmarks/run.py``).

Prints ONE JSON object on stdout; progress goes to stderr. What each figure measures is in
``benchmarks/README.md``. Options: ``--quick`` (fewer repeats, for trying the script out),
``--skip-holter``, ``--skip-cold-start``, ``--skip-ml`` (also skips the UI stall, which needs the
model), ``--skip-ui-stall``, ``--skip-bundle`` (the built app's size and cold start; skipped anyway,
with a note, when ``make package`` has not built dist/ecgviewer).
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

T_BENCH = time.perf_counter()
HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE))
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import formats  # noqa: E402
import holter  # noqa: E402
import ml  # noqa: E402
import report  # noqa: E402
import ui_stall  # noqa: E402
from common import ShownPaper, hardware, log, summary  # noqa: E402

SAMPLE = ROOT / "resources/samples/ptbxl/records500/00000/00003_hr.hea"
BUNDLE = ROOT / "dist" / "ecgviewer"  # make package (packaging/ecgviewer.spec)
TARGETS = {  # figure -> (limit, unit); every figure passes when it is at most its limit
    "open_first_paint_ms": (100.0, "ms"),
    "open_first_paint_ptbxl_ms": (100.0, "ms"),
    "repaint_ms": (10.0, "ms"),
    "holter_open_s": (1.0, "s"),
    "holter_pan_ms": (16.0, "ms"),
    "holter_pan_random_ms": (16.0, "ms"),
    "holter_rss_ratio": (1.5, "ratio"),
    "cold_start_s": (2.0, "s"),
    "infer_ms": (100.0, "ms"),
    "ig_ms": (1000.0, "ms"),
    "measure_ms": (500.0, "ms"),
    "format_load_max_ms": (250.0, "ms"),
    "report_pdf_ms": (1000.0, "ms"),
    "ui_max_stall_ms": (100.0, "ms"),
    "bundle_size_mb": (600.0, "MB (10^6 bytes)"),
    "bundle_cold_start_s": (3.0, "s"),
}
TARGETS_MIN = {  # figure -> (limit, unit); these pass when they are above their limit
    "aopc_diff_k3_ci_low": (0.0, "probability"),  # always defined, unlike the reported aopc_ratio_k3
    "aopc_win_rate_k3": (0.5, "fraction"),
}
CHILD_TIMEOUT_S = 240


def _venv_bin(name: str) -> str:
    """A console script beside this interpreter (the venv's), else on PATH."""
    cand = Path(sys.executable).parent / name
    if cand.exists():
        return str(cand)
    found = shutil.which(name)
    if not found:
        raise FileNotFoundError(f"{name} not found beside {sys.executable} or on PATH")
    return found


def _loadavg() -> list[float] | None:
    try:
        return [round(x, 2) for x in os.getloadavg()]
    except OSError:
        return None


def _child_env(**extra: str) -> dict:
    env = dict(os.environ)
    env["QT_QPA_PLATFORM"] = "offscreen"
    env.update(extra)
    return env


# -- 10 s record, in this (warm) process --------------------------------------------------------
def bench_open(shown: ShownPaper, repeats: int) -> dict:
    """load(path) -> set_recording -> true_scale -> painted, for a copy outside PTB-XL and in place."""
    from ecgviewer.io import load

    tmp = Path(tempfile.mkdtemp(prefix="ecgbench-"))
    try:
        copy = tmp / SAMPLE.name
        shutil.copy2(SAMPLE, copy)
        shutil.copy2(SAMPLE.with_suffix(".dat"), copy.with_suffix(".dat"))
        cases = {"copy": copy, "ptbxl": SAMPLE}
        first: dict[str, float] = {}
        for name, path in cases.items():  # the very first open: wfdb import, PTB-XL table read
            t = time.perf_counter()
            shown.open(load(path))
            first[name] = (time.perf_counter() - t) * 1e3
        for _ in range(3):  # warm-up
            for path in cases.values():
                shown.open(load(path))
        totals: dict[str, list[float]] = {k: [] for k in cases}
        parts: dict[str, dict[str, list[float]]] = {
            k: {"load": [], "set_recording": [], "paint": [], "cpu": []} for k in cases
        }
        paints: dict[str, list[int]] = {k: [] for k in cases}
        metadata: dict[str, str | None] = {}
        view = shown.view
        for _ in range(repeats):
            for name, path in cases.items():  # interleaved, so drift hits both alike
                gc.collect()
                p0 = shown.paints
                c0 = time.process_time()
                t0 = time.perf_counter()
                rec = load(path)
                t1 = time.perf_counter()
                view.set_recording(rec)
                view.true_scale()
                t2 = time.perf_counter()
                shown.paint()
                t3 = time.perf_counter()
                parts[name]["cpu"].append((time.process_time() - c0) * 1e3)
                totals[name].append((t3 - t0) * 1e3)
                parts[name]["load"].append((t1 - t0) * 1e3)
                parts[name]["set_recording"].append((t2 - t1) * 1e3)
                parts[name]["paint"].append((t3 - t2) * 1e3)
                paints[name].append(shown.paints - p0)
                metadata[name] = rec.metadata.dataset
        out = {}
        for name in cases:
            out[name] = {
                "total_ms": summary(totals[name]),
                "breakdown_median_ms": {k: round(statistics.median(v), 2) for k, v in parts[name].items()},
                "note": "cpu = process CPU time of the whole open (all threads); well under the "
                "wall time means the process was waiting (other load on the machine)",
                "first_open_in_process_ms": round(first[name], 1),
                "paints_per_open": sorted(set(paints[name])),
                "metadata_dataset": metadata[name],
            }
        out["ink_pixels"] = shown.ink_pixels()
        return out
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def bench_repaint(shown: ShownPaper, repeats: int) -> dict:
    """Repaint of an unchanged page (12 leads x 10 s) per layout; grab() timed for reference."""
    from ecgviewer.io import load

    shown.open(load(SAMPLE))
    out = {}
    for layout in ("3x4+1", "12x1"):
        shown.set_layout(layout)
        for _ in range(5):
            shown.paint()
        gc.collect()
        ts, p0 = [], shown.paints
        for _ in range(repeats):
            t = time.perf_counter()
            shown.paint()
            ts.append((time.perf_counter() - t) * 1e3)
        paints = shown.paints - p0
        grabs = []
        for _ in range(repeats):
            t = time.perf_counter()
            shown.grab()
            grabs.append((time.perf_counter() - t) * 1e3)
        out[layout] = {
            "repaint_ms": summary(ts),
            "grab_ms": summary(grabs),
            "paints_per_repaint": round(paints / repeats, 2),
            "ink_pixels": shown.ink_pixels(),
        }
    shown.set_layout("3x4+1")
    return out


# -- 24 h record, fresh subprocesses ---------------------------------------------------------------
def _run_child(header: Path, *args: str) -> dict:
    cmd = [sys.executable, str(HERE / "holter_child.py"), str(header), *args]
    proc = subprocess.run(
        cmd, capture_output=True, text=True, env=_child_env(), timeout=CHILD_TIMEOUT_S, cwd=ROOT
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
        header, info = holter.ensure()
    except holter.NotEnoughDisk as exc:
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
    return out


# -- cold start of the app ---------------------------------------------------------------------------
def _one_cold_start(cmd: list[str], settings_dir: Path, i: int) -> dict:
    ini = settings_dir / f"settings-{i}.ini"
    env = _child_env(ECGVIEWER_SETTINGS=str(ini))
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env, cwd=ROOT)
    reported = None
    wall = None
    assert proc.stdout is not None
    for line in proc.stdout:
        if line.startswith("first-paint"):
            wall = time.perf_counter() - t0
            reported = float(line.split()[1])
            break
    try:
        _, err = proc.communicate(timeout=60)
    except subprocess.TimeoutExpired:
        proc.kill()
        _, err = proc.communicate()
    return {
        "wall_s": None if wall is None else round(wall, 3),
        "app_reported_s": reported,
        "exit_code": proc.returncode,
        "stderr_tail": (err or "").strip()[-500:],
    }


def _import_check(settings_dir: Path) -> dict:
    """``python -X importtime -m ecgviewer --quit-after-paint``: was torch imported before the first
    paint (the app's own line says), what was slow."""
    env = _child_env(ECGVIEWER_SETTINGS=str(settings_dir / "importtime.ini"))
    proc = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "ecgviewer", "--quit-after-paint"],
        capture_output=True,
        text=True,
        env=env,
        cwd=ROOT,
        timeout=120,
    )
    mods, top = [], []
    for line in proc.stderr.splitlines():
        if not line.startswith("import time:") or "|" not in line:
            continue
        fields = line[len("import time:") :].split("|")
        if len(fields) != 3 or not fields[0].strip().isdigit():
            continue  # the column header
        raw = fields[2].rstrip()
        name = raw.strip()
        mods.append(name)
        if raw.startswith(" ") and not raw.startswith("  "):  # top-level import (one space)
            top.append((name, int(fields[1]) / 1000.0))
    torch = sorted({m for m in mods if m == "torch" or m.startswith("torch.")})
    top.sort(key=lambda x: -x[1])
    paint = next((ln for ln in proc.stdout.splitlines() if ln.startswith("first-paint")), None)
    return {
        "torch_before_paint": None if paint is None else paint.split()[-1] == "True",
        "torch_modules_by_exit": torch[:10],  # the model's background load starts at the first paint
        "n_modules": len(mods),
        "first_paint_line": paint,
        "slowest_top_level_imports_ms": [[n, round(ms, 1)] for n, ms in top[:10]],
        "exit_code": proc.returncode,
    }


def _cold_starts(cmd: list[str], repeats: int, settings_dir: Path, label: str) -> list[dict]:
    """``repeats`` runs of ``_one_cold_start``, each with a fresh settings file."""
    runs = []
    for i in range(repeats):
        log(f"{label} run {i + 1}/{repeats}")
        runs.append(_one_cold_start(cmd, settings_dir, i))
    return runs


def bench_cold_start(repeats: int) -> dict:
    cmd = [_venv_bin("ecgviewer"), "--quit-after-paint"]
    settings_dir = Path(tempfile.mkdtemp(prefix="ecgbench-settings-"))
    try:
        runs = _cold_starts(cmd, repeats, settings_dir, "[cold start]")
        log("[cold start] -X importtime check for torch")
        imports = _import_check(settings_dir)
    finally:
        shutil.rmtree(settings_dir, ignore_errors=True)
    walls = [r["wall_s"] for r in runs if r["wall_s"] is not None]
    return {
        "command": cmd,
        "runs": runs,
        "wall_s": summary(walls, 3) if walls else None,
        "app_reported_s": [r["app_reported_s"] for r in runs],
        "imports": imports,
    }


# -- the built app (make package) ---------------------------------------------------------------------
def _bundle_exe() -> Path | None:
    """The bundle's console executable (``ecgviewer``; ``ecgviewer-cli`` on Windows and macOS, whose
    ``ecgviewer`` is windowed and prints nothing), or None when no bundle was built."""
    info = BUNDLE / "_internal" / "build-info.json"
    if not info.is_file():
        return None
    name = json.loads(info.read_text(encoding="utf-8"))["executables"][-1]
    return BUNDLE / (name + (".exe" if sys.platform == "win32" else ""))


def bench_bundle(repeats: int) -> dict:
    """Size of dist/ecgviewer (its files' bytes, symbolic links not followed: ``du --apparent-size``)
    and its cold start, timed as ``bench_cold_start`` times the installed app's."""
    exe = _bundle_exe()
    if exe is None:
        return {"skipped": "no bundle in dist/ecgviewer (make package builds it)"}
    files = [p for p in BUNDLE.rglob("*") if p.is_file() and not p.is_symlink()]
    size = sum(p.stat().st_size for p in files)
    largest = sorted(files, key=lambda p: -p.stat().st_size)[:10]
    cmd = [str(exe), "--quit-after-paint"]
    settings_dir = Path(tempfile.mkdtemp(prefix="ecgbench-settings-"))
    try:
        runs = _cold_starts(cmd, repeats, settings_dir, "[bundle] cold start")
    finally:
        shutil.rmtree(settings_dir, ignore_errors=True)
    walls = [r["wall_s"] for r in runs if r["wall_s"] is not None]
    return {
        "size_mb": round(size / 1e6, 1),
        "size_mib": round(size / 2**20, 1),
        "files": len(files),
        "largest_mb": {str(p.relative_to(BUNDLE)): round(p.stat().st_size / 1e6, 1) for p in largest},
        "command": cmd,
        "runs": runs,
        "wall_s": summary(walls, 3) if walls else None,
        "app_reported_s": [r["app_reported_s"] for r in runs],
    }


# -- main -----------------------------------------------------------------------------------------
def _guarded(name: str, bench, result: dict, details: dict) -> dict:
    """``bench()``'s figures in ``details[name]``; a failure is reported as ``<name>_error`` instead
    of losing the other figures."""
    try:
        out = bench()
    except Exception as exc:  # report, do not lose the other figures
        out = {"error": f"{type(exc).__name__}: {exc}"}
    details[name] = out
    if "error" in out:
        result[f"{name}_error"] = out["error"]
    return out


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true", help="fewer repeats (trying the script out)")
    p.add_argument("--skip-holter", action="store_true")
    p.add_argument("--skip-cold-start", action="store_true")
    p.add_argument(
        "--skip-ml", action="store_true", help="no encoder figures (inference, attributions, UI stall)"
    )
    p.add_argument("--skip-ui-stall", action="store_true", help="no UI-stall figure (a GUI child process)")
    p.add_argument("--skip-bundle", action="store_true", help="no figures of the built app (dist/ecgviewer)")
    args = p.parse_args()
    open_n, repaint_n, pans, holter_opens, cold_n = (5, 10, 10, 1, 2) if args.quick else (20, 30, 50, 3, 5)
    infer_n, faith_records, stall_n = (8, 10, 3) if args.quick else (20, 50, 10)

    result: dict = {}
    details: dict = {}
    log("[setup] importing Qt, pyqtgraph, ecgviewer (warm process)")
    import pyqtgraph  # noqa: F401

    import ecgviewer.gui.paper
    import ecgviewer.io  # noqa: F401

    load_start = _loadavg()
    shown = ShownPaper("3x4+1")
    hw = hardware()

    log(f"[open] 10 s 12-lead record, {open_n} repeats")
    op = bench_open(shown, open_n)
    result["open_first_paint_ms"] = op["copy"]["total_ms"]["median"]
    result["open_first_paint_ptbxl_ms"] = op["ptbxl"]["total_ms"]["median"]
    result["open_first_paint_cpu_ms"] = op["copy"]["breakdown_median_ms"]["cpu"]
    result["open_first_paint_p90_ms"] = op["copy"]["total_ms"]["p90"]
    details["open"] = op

    log(f"[repaint] 3x4+1 and 12x1, {repaint_n} repeats")
    rp = bench_repaint(shown, repaint_n)
    result["repaint_ms"] = max(v["repaint_ms"]["median"] for v in rp.values())
    result["repaint_ms_by_layout"] = {k: v["repaint_ms"]["median"] for k, v in rp.items()}
    details["repaint"] = rp
    shown.view.close()

    log("[formats] every sample format read, the sample saved as WFDB and EDF+")
    fm = _guarded("formats", lambda: formats.bench_formats(SAMPLE, 3 if args.quick else 10), result, details)
    if "error" not in fm:
        result["format_load_max_ms"] = max(fm["load_ms"].values())
        result["format_load_ms"] = fm["load_ms"]
        result["save_ms"] = fm["save_ms"]

    if not args.skip_holter:
        log("[holter] 24 h 12-lead 500 Hz record")
        h = _guarded("holter", lambda: bench_holter(holter_opens, pans), result, details)
        if "error" not in h:
            full = h["full_run"]
            result["holter_open_s"] = h["open_s"]["median"]
            result["holter_open_runs_s"] = h["open_s"]["samples"]
            result["holter_open_wfdb_preimported_s"] = h["open_wfdb_preimported_s"]["median"]
            result["holter_pan_ms"] = full["pan_sequential_ms"]["median"]
            result["holter_pan_p90_ms"] = full["pan_sequential_ms"]["p90"]
            result["holter_pan_cpu_ms"] = full["pan_sequential_cpu_ms_median"]
            result["holter_pan_random_ms"] = full["pan_random_ms"]["median"]
            result["holter_pan_random_p90_ms"] = full["pan_random_ms"]["p90"]
            if "pan_random_diskcold_ms" in full:
                result["holter_pan_random_diskcold_ms"] = full["pan_random_diskcold_ms"]["median"]
                result["holter_pan_random_diskcold_p90_ms"] = full["pan_random_diskcold_ms"]["p90"]
            result["holter_rss_ratio"] = full["holter_rss_ratio"]
            result["holter_peak_rss_mib"] = full["peak_rss_mib"]
            result["holter_file_mib"] = round(full["file_bytes"] / 2**20, 1)
            result["holter_envelope_s"] = full["envelope_s"]

    if not args.skip_cold_start:
        log(f"[cold start] ecgviewer --quit-after-paint, {cold_n} runs")
        try:
            cs = bench_cold_start(cold_n)
        except Exception as exc:
            cs = {"error": f"{type(exc).__name__}: {exc}"}
        details["cold_start"] = cs
        if "error" in cs or not cs.get("wall_s"):
            result["cold_start_error"] = cs.get("error") or "no first-paint line from the app"
        else:
            result["cold_start_s"] = cs["wall_s"]["median"]
            result["cold_start_runs_s"] = cs["wall_s"]["samples"]
            result["cold_start_app_reported_s"] = cs["app_reported_s"]
        if "imports" in cs:
            result["cold_start_torch_before_paint"] = cs["imports"]["torch_before_paint"]

    if not args.skip_bundle:
        log(f"[bundle] dist/ecgviewer: size, --quit-after-paint {cold_n} runs")
        b = _guarded("bundle", lambda: bench_bundle(cold_n), result, details)
        if "skipped" in b:
            result["bundle_note"] = b["skipped"]
        elif "error" not in b:
            result["bundle_size_mb"] = b["size_mb"]
            if b["wall_s"]:
                result["bundle_cold_start_s"] = b["wall_s"]["median"]
                result["bundle_cold_start_runs_s"] = b["wall_s"]["samples"]
            else:
                result["bundle_cold_start_error"] = "no first-paint line from the bundle"

    if not args.skip_ml:
        log(f"[ml] inference and attributions on the sample, {infer_n} repeats")
        lat = ml.bench_latency(SAMPLE, infer_n)
        log(f"[ml] faithfulness of IG on {faith_records} PTB-XL fold-10 records")
        faith = ml.bench_faithfulness(faith_records)
        details["ml"] = {"latency": lat, "faithfulness": faith}
        result["infer_ms"] = lat["infer_ms"]["median"]
        result["infer_cpu_ms"] = lat["infer_cpu_ms_median"]
        result["ig_ms"] = lat["ig_ms"]["median"]
        result["ig_cpu_ms"] = lat["ig_cpu_ms_median"]
        result["occlusion_ms"] = lat["occlusion_ms"]["median"]
        result["gxi_ms"] = lat["gxi_ms"]["median"]
        result["attention_ms"] = lat["attention_ms"]["median"]
        result["measure_ms"] = lat["measure_ms"]["median"]
        result["ml_device"], result["ml_torch_threads"] = lat["device"], lat["torch_threads"]
        log("[report] the sample's two-page PDF and a 300 dpi PNG page, once analysed")
        rp = _guarded("report", lambda: report.bench_report(SAMPLE, 3 if args.quick else 10), result, details)
        if "error" not in rp:
            result["report_pdf_ms"] = rp["pdf_ms"]
            result["report_png_page_ms"] = rp["png_page_300dpi_ms"]
        if "error" in faith:
            result["faithfulness_error"] = faith["error"]
        else:
            result["aopc_diff_k3_ci_low"] = faith["aopc_diff_k3_ci95"][0]
            for key in (
                "aopc_diff_k3",
                "aopc_win_rate_k3",
                "aopc_sign_test_p",
                "aopc_ratio_k3",
                "randomisation_spearman_median",
            ):
                result[key] = faith[key]

    if not (args.skip_ml or args.skip_ui_stall):
        log(f"[ui stall] main window, {stall_n} analyses of the sample with a UI-thread heartbeat")
        us = _guarded("ui_stall", lambda: ui_stall.bench(stall_n), result, details)
        if "error" not in us:
            for key in (
                "ui_max_stall_ms",
                "ui_stall_p99_ms",
                "ui_max_stall_less_runqueue_ms",
                "ui_stall_during_model_load_ms",
                "ui_stall_first_analysis_ms",
            ):
                result[key] = us[key]
            result["ui_stall_analysis_wall_ms"] = us["analysis_wall_ms_median"]
            result["ui_show_result_ms"] = us["show_result_ms_median"]
            result["ui_show_result_cpu_ms"] = us["show_result_cpu_ms_median"]

    targets = {}
    for table, bound, ok in (
        (TARGETS_MIN, "target_min", float.__gt__),
        (TARGETS, "target_max", float.__le__),
    ):
        for key, (limit, unit) in table.items():
            value = result.get(key)
            targets[key] = {
                bound: limit,
                "unit": unit,
                "value": value,
                "pass": None if value is None else bool(ok(float(value), float(limit))),
            }
    if "cold_start_torch_before_paint" in result:
        value = result["cold_start_torch_before_paint"]
        targets["cold_start_torch_before_paint"] = {
            "target": False,
            "value": value,
            "pass": None if value is None else not value,
        }
    result["targets"] = targets
    result["all_pass"] = all(t["pass"] for t in targets.values() if t["pass"] is not None)
    result["hardware"] = hw
    result["method"] = {
        "paint": "PaperView shown at 1600x900 (offscreen platform), true scale; 'painted' = "
        "QApplication.processEvents() (the scene's queued dirty-item processing and the window's "
        "update request, as the event loop does them), plus viewport().repaint() when that "
        "painted nothing; paints are counted (details: paints_per_*: 1 for every timed operation)",
        "repeats": {
            "open": open_n,
            "repaint": repaint_n,
            "pans": pans,
            "holter_open_processes": holter_opens,
            "cold_start": cold_n,
            "infer": infer_n,
            "faithfulness_records": faith_records,
            "ui_stall_analyses": stall_n,
        },
        "quick": args.quick,
    }
    result["system_load"] = {"loadavg_1_5_15_start": load_start, "loadavg_1_5_15_end": _loadavg()}
    result["details"] = details
    result["bench_wall_s"] = round(time.perf_counter() - T_BENCH, 1)
    log(f"[done] {result['bench_wall_s']} s")
    json.dump(result, sys.stdout, indent=1)
    sys.stdout.write("\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
