"""ecgviewer benchmarks: ``make bench`` (``QT_QPA_PLATFORM=offscreen .venv/bin/python benchmarks/run.py``).

Prints ONE JSON object on stdout; progress goes to stderr. What each figure measures is in
``benchmarks/README.md``. Options: ``--quick`` (fewer repeats, for trying the script out),
``--skip-holter``, ``--skip-cold-start``, ``--skip-ml`` (also skips the UI stall, which needs the
model), ``--skip-ui-stall``, ``--skip-bundle`` (the built app's size and cold start; skipped anyway,
with a note, when ``make package`` has not built dist/ecgviewer).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

T_BENCH = time.perf_counter()
HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE))
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import formats  # noqa: E402
import holter  # noqa: E402
import library  # noqa: E402
import ml  # noqa: E402
import paper  # noqa: E402
import report  # noqa: E402
import startup  # noqa: E402
import ui_stall  # noqa: E402
from common import ShownPaper, hardware, log  # noqa: E402

SAMPLE = ROOT / "resources/samples/ptbxl/records500/00000/00003_hr.hea"
FAST = ROOT / "resources/samples/ptbxl/records500/00000/00017_hr.hea"  # 152 bpm: two windows
TARGETS = {  # figure -> (limit, unit); every figure passes when it is at most its limit
    "open_first_paint_ms": (100.0, "ms"),
    "open_first_paint_ptbxl_ms": (100.0, "ms"),
    "repaint_ms": (10.0, "ms"),
    "holter_open_s": (1.0, "s"),
    "holter_pan_ms": (16.0, "ms"),
    "holter_pan_random_ms": (16.0, "ms"),
    "holter_rss_ratio": (1.5, "ratio"),
    "holter_edf_pan_random_ms": (16.0, "ms"),
    "beat_list_24h_s": (30.0, "s"),  # issue 74's goal: a 3-channel Holter's day in 30 s on 2 cores
    "cold_start_s": (2.0, "s"),
    "infer_ms": (100.0, "ms"),
    "ig_ms": (1000.0, "ms"),
    "measure_ms": (500.0, "ms"),
    "format_load_max_ms": (250.0, "ms"),
    "library_query_ms": (100.0, "ms"),
    "report_pdf_ms": (1000.0, "ms"),
    "ui_max_stall_ms": (100.0, "ms"),
    "bundle_size_mb": (600.0, "MB (10^6 bytes)"),
    "bundle_cold_start_s": (3.0, "s"),
}
TARGETS_MIN = {  # figure -> (limit, unit); these pass when they are above their limit
    "aopc_diff_k3_ci_low": (0.0, "probability"),  # always defined, unlike the reported aopc_ratio_k3
    "aopc_win_rate_k3": (0.5, "fraction"),
}


@dataclass
class Setup:
    """What the benches share: the options, the repeat counts and the shown paper."""

    args: argparse.Namespace
    repeats: dict[str, int]
    shown: ShownPaper


@dataclass(frozen=True)
class Bench:
    """One bench: its entry in ``details``, its progress line, how to run it and which headline
    figures its details give; ``skip`` reads the command line."""

    name: str
    title: Callable[[Setup], str]
    run: Callable[[Setup], dict]
    figures: Callable[[dict], dict]
    skip: Callable[[argparse.Namespace], bool] = lambda _a: False


def _open_figures(op: dict) -> dict:
    return {
        "open_first_paint_ms": op["copy"]["total_ms"]["median"],
        "open_first_paint_ptbxl_ms": op["ptbxl"]["total_ms"]["median"],
        "open_first_paint_cpu_ms": op["copy"]["breakdown_median_ms"]["cpu"],
        "open_first_paint_p90_ms": op["copy"]["total_ms"]["p90"],
    }


def _repaint(s: Setup) -> dict:
    out = paper.bench_repaint(s.shown, SAMPLE, s.repeats["repaint"])
    s.shown.view.close()
    return out


def _holter_figures(h: dict) -> dict:
    full = h["full_run"]
    out = {
        "holter_open_s": h["open_s"]["median"],
        "holter_open_runs_s": h["open_s"]["samples"],
        "holter_open_wfdb_preimported_s": h["open_wfdb_preimported_s"]["median"],
        "holter_pan_ms": full["pan_sequential_ms"]["median"],
        "holter_pan_p90_ms": full["pan_sequential_ms"]["p90"],
        "holter_pan_cpu_ms": full["pan_sequential_cpu_ms_median"],
        "holter_pan_random_ms": full["pan_random_ms"]["median"],
        "holter_pan_random_p90_ms": full["pan_random_ms"]["p90"],
        "holter_rss_ratio": full["holter_rss_ratio"],
        "holter_peak_rss_mib": full["peak_rss_mib"],
        "holter_file_mib": round(full["file_bytes"] / 2**20, 1),
        "holter_envelope_s": full["envelope_s"],
    }
    edf = h["edf_run"]
    out["holter_edf_open_s"] = edf["holter_open_s"]
    out["holter_edf_pan_random_ms"] = edf["pan_random_ms"]["median"]
    out["holter_edf_pan_random_p90_ms"] = edf["pan_random_ms"]["p90"]
    out["holter_edf_rss_ratio"] = edf["holter_rss_ratio"]
    if "pan_random_diskcold_ms" in full:
        out["holter_pan_random_diskcold_ms"] = full["pan_random_diskcold_ms"]["median"]
        out["holter_pan_random_diskcold_p90_ms"] = full["pan_random_diskcold_ms"]["p90"]
    return out


def _cpu_s(b: dict) -> float:
    """The beat list's CPU time: its process's and its worker process's (``measure.workers``)."""
    return b["cpu_s"] + b.get("worker_cpu_s", 0.0)


def _beat_list_figures(b: dict) -> dict:
    return {
        "beat_list_24h_s": round(b["wall_s"] * 24 / b["hours"], 2),
        "beat_list_24h_cpu_s": round(_cpu_s(b) * 24 / b["hours"], 2),
        "beat_list_beats": b["beats"],
        "beat_list_peak_rss_mib": b["peak_rss_mib"],
        "beat_list_worker_peak_rss_mib": b.get("worker_peak_rss_mib"),
    }


def _cold_start_figures(cs: dict) -> dict:
    out: dict = {}
    if not cs.get("wall_s"):
        out["cold_start_error"] = "no first-paint line from the app"
    else:
        out["cold_start_s"] = cs["wall_s"]["median"]
        out["cold_start_runs_s"] = cs["wall_s"]["samples"]
        out["cold_start_app_reported_s"] = cs["app_reported_s"]
    if "imports" in cs:
        out["cold_start_torch_before_paint"] = cs["imports"]["torch_before_paint"]
    return out


def _bundle_figures(b: dict) -> dict:
    if "skipped" in b:
        return {"bundle_note": b["skipped"]}
    if not b["wall_s"]:
        return {
            "bundle_size_mb": b["size_mb"],
            "bundle_cold_start_error": "no first-paint line from the bundle",
        }
    return {
        "bundle_size_mb": b["size_mb"],
        "bundle_cold_start_s": b["wall_s"]["median"],
        "bundle_cold_start_runs_s": b["wall_s"]["samples"],
    }


def _ml(s: Setup) -> dict:
    lat = ml.bench_latency(SAMPLE, s.repeats["infer"])
    lat["fast_rate"] = ml.bench_fast_rate(FAST, s.repeats["infer"])
    log(f"[ml] faithfulness of IG on {s.repeats['faithfulness_records']} PTB-XL fold-{ml.FOLD} records")
    return {"latency": lat, "faithfulness": ml.bench_faithfulness(s.repeats["faithfulness_records"])}


def _ml_figures(d: dict) -> dict:
    lat, faith = d["latency"], d["faithfulness"]
    out = {
        "infer_ms": lat["infer_ms"]["median"],
        "infer_cpu_ms": lat["infer_cpu_ms_median"],
        "ig_ms": lat["ig_ms"]["median"],
        "ig_cpu_ms": lat["ig_cpu_ms_median"],
        "infer_fast_rate_ms": lat["fast_rate"]["infer_ms"]["median"],
        "ig_fast_rate_ms": lat["fast_rate"]["ig_ms"]["median"],
        "occlusion_ms": lat["occlusion_ms"]["median"],
        "gxi_ms": lat["gxi_ms"]["median"],
        "attention_ms": lat["attention_ms"]["median"],
        "measure_ms": lat["measure_ms"]["median"],
        "ml_device": lat["device"],
        "ml_torch_threads": lat["torch_threads"],
    }
    if "error" in faith:
        return {**out, "faithfulness_error": faith["error"]}
    keys = (
        "aopc_diff_k3",
        "aopc_win_rate_k3",
        "aopc_sign_test_p",
        "aopc_ratio_k3",
        "randomisation_spearman_median",
    )
    return {**out, "aopc_diff_k3_ci_low": faith["aopc_diff_k3_ci95"][0], **{k: faith[k] for k in keys}}


def _ui_stall_figures(us: dict) -> dict:
    keys = ("ui_max_stall_ms", "ui_stall_p99_ms", "ui_max_stall_less_runqueue_ms",
            "ui_stall_during_model_load_ms", "ui_stall_first_analysis_ms")  # fmt: skip
    return {
        **{k: us[k] for k in keys},
        "ui_stall_analysis_wall_ms": us["analysis_wall_ms_median"],
        "ui_show_result_ms": us["show_result_ms_median"],
        "ui_show_result_cpu_ms": us["show_result_cpu_ms_median"],
    }


# In the order they run: the paper's benches share the warm process and its shown window.
BENCHES = (
    Bench(
        "open",
        lambda s: f"[open] 10 s 12-lead record, {s.repeats['open']} repeats",
        lambda s: paper.bench_open(s.shown, SAMPLE, s.repeats["open"]),
        _open_figures,
    ),
    Bench(
        "repaint",
        lambda s: f"[repaint] 3x4+1 and 12x1, {s.repeats['repaint']} repeats",
        _repaint,
        lambda rp: {
            "repaint_ms": max(v["repaint_ms"]["median"] for v in rp.values()),
            "repaint_ms_by_layout": {k: v["repaint_ms"]["median"] for k, v in rp.items()},
        },
    ),
    Bench(
        "formats",
        lambda s: "[formats] every sample format read, the sample saved as WFDB and EDF+",
        lambda s: formats.bench_formats(SAMPLE, s.repeats["formats"]),
        lambda fm: {
            "format_load_max_ms": max(fm["load_ms"].values()),
            "format_load_ms": fm["load_ms"],
            "save_ms": fm["save_ms"],
        },
    ),
    Bench(
        "library",
        lambda s: "[library] the example queries on a generated library of 100,000 recordings",
        lambda s: library.bench_queries(s.repeats["library"]),
        lambda lb: {"library_query_ms": max(lb["query_ms"].values()), "library_generate_s": lb["generate_s"]},
    ),
    Bench(
        "library_analyze",
        lambda s: "[library analyze] index --analyze on 100 PTB-XL 100 Hz records, a pool of every core",
        lambda s: library.bench_analyze(),
        lambda la: {"library_analyze_records_per_s": la.get("records_per_s")},
        lambda a: a.skip_ml,
    ),
    Bench(
        "holter",
        lambda s: "[holter] 24 h 12-lead 500 Hz record",
        lambda s: holter.bench_holter(s.repeats["holter_open_processes"], s.repeats["pans"]),
        _holter_figures,
        lambda a: a.skip_holter,
    ),
    Bench(
        "beat_list",
        lambda s: "[beat list] every beat of 24 h of 3 leads at 250 Hz (EDF+)",
        lambda s: holter.bench_beat_list(),
        _beat_list_figures,
        lambda a: a.skip_holter or a.skip_ml,
    ),
    Bench(
        "beat_list_avx2",
        lambda s: "[beat list] the same day held to AVX2",
        lambda s: holter.bench_beat_list_avx2(hardware()["cpu_simd"]),
        lambda b: (
            {}
            if "skipped" in b
            else {
                "beat_list_24h_avx2_s": round(b["wall_s"] * 24 / b["hours"], 2),
                "beat_list_24h_avx2_cpu_s": round(_cpu_s(b) * 24 / b["hours"], 2),
            }
        ),
        lambda a: a.skip_holter or a.skip_ml,
    ),
    Bench(
        "beat_list_mitdb",
        lambda s: "[beat list] every beat of the MIT-BIH Arrhythmia records in ../shared",
        lambda s: holter.bench_beat_list_mitdb(),
        lambda b: (
            {}
            if "skipped" in b
            else {
                "beat_list_mitdb_24h_s": round(b["wall_s"] * 24 / b["hours"], 2),
                "beat_list_mitdb_24h_cpu_s": round(_cpu_s(b) * 24 / b["hours"], 2),
            }
        ),
        lambda a: a.skip_holter or a.skip_ml,
    ),
    Bench(
        "cold_start",
        lambda s: f"[cold start] ecgviewer --quit-after-paint, {s.repeats['cold_start']} runs",
        lambda s: startup.bench_cold_start(s.repeats["cold_start"]),
        _cold_start_figures,
        lambda a: a.skip_cold_start,
    ),
    Bench(
        "bundle",
        lambda s: f"[bundle] dist/ecgviewer: size, --quit-after-paint {s.repeats['cold_start']} runs",
        lambda s: startup.bench_bundle(s.repeats["cold_start"]),
        _bundle_figures,
        lambda a: a.skip_bundle,
    ),
    Bench(
        "ml",
        lambda s: f"[ml] inference and attributions on the sample, {s.repeats['infer']} repeats",
        _ml,
        _ml_figures,
        lambda a: a.skip_ml,
    ),
    Bench(
        "report",
        lambda s: "[report] the sample's two-page PDF and a 300 dpi PNG page, once analysed",
        lambda s: report.bench_report(SAMPLE, s.repeats["report"]),
        lambda rp: {"report_pdf_ms": rp["pdf_ms"], "report_png_page_ms": rp["png_page_300dpi_ms"]},
        lambda a: a.skip_ml,
    ),
    Bench(
        "ui_stall",
        lambda s: (
            f"[ui stall] main window, {s.repeats['ui_stall_analyses']} analyses of the "
            "sample with a UI-thread heartbeat"
        ),
        lambda s: ui_stall.bench(s.repeats["ui_stall_analyses"]),
        _ui_stall_figures,
        lambda a: a.skip_ml or a.skip_ui_stall,
    ),
)


def _loadavg() -> list[float] | None:
    try:
        return [round(x, 2) for x in os.getloadavg()]
    except OSError:
        return None


def _run(bench: Bench, setup: Setup, result: dict, details: dict) -> None:
    """``bench``'s details and headline figures; a failure is reported as ``<name>_error`` instead
    of losing the other figures."""
    try:
        out = bench.run(setup)
        figures = {} if "error" in out else bench.figures(out)
    except Exception as exc:  # report, do not lose the other figures
        out, figures = {"error": f"{type(exc).__name__}: {exc}"}, {}
    details[bench.name] = out
    if "error" in out:
        result[f"{bench.name}_error"] = out["error"]
    result.update(figures)


def _targets(result: dict) -> dict:
    targets = {}
    for table, bound, ok in (
        (TARGETS_MIN, "target_min", float.__gt__),
        (TARGETS, "target_max", float.__le__),
    ):
        for key, (limit, unit) in table.items():
            value = result.get(key)
            passed = None if value is None else bool(ok(float(value), float(limit)))
            targets[key] = {bound: limit, "unit": unit, "value": value, "pass": passed}
    if "cold_start_torch_before_paint" in result:
        value = result["cold_start_torch_before_paint"]
        targets["cold_start_torch_before_paint"] = {"target": False, "value": value,
                                                    "pass": None if value is None else not value}  # fmt: skip
    return targets


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
    names = ("open", "repaint", "pans", "holter_open_processes", "cold_start", "infer",
             "faithfulness_records", "ui_stall_analyses", "formats", "report", "library")  # fmt: skip
    quick, full = (5, 10, 10, 1, 2, 8, 10, 3, 3, 3, 3), (20, 30, 50, 3, 5, 20, 50, 10, 10, 10, 10)
    counts = quick if args.quick else full
    repeats = dict(zip(names, counts, strict=True))

    result: dict = {}
    details: dict = {}
    log("[setup] importing Qt, pyqtgraph, ecgviewer (warm process)")
    import pyqtgraph  # noqa: F401

    import ecgviewer.gui.paper
    import ecgviewer.io  # noqa: F401

    load_start = _loadavg()
    setup = Setup(args, repeats, ShownPaper("3x4+1"))
    hw = hardware()
    for bench in BENCHES:
        if not bench.skip(args):
            log(bench.title(setup))
            _run(bench, setup, result, details)

    result["targets"] = _targets(result)
    result["all_pass"] = all(t["pass"] for t in result["targets"].values() if t["pass"] is not None)
    result["hardware"] = hw
    result["method"] = {
        "paint": "PaperView shown at 1600x900 (offscreen platform), true scale; 'painted' = "
        "QApplication.processEvents() (the scene's queued dirty-item processing and the window's "
        "update request, as the event loop does them), plus viewport().repaint() when that "
        "painted nothing; paints are counted (details: paints_per_*: 1 for every timed operation)",
        "repeats": repeats,
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
