"""Encoder figures for ``run.py``: inference and attribution latency, and faithfulness of IG.

Torch uses as many threads as ``torch.get_num_threads()`` says (``OMP_NUM_THREADS`` sets it);
the count is reported. Shared data (PTB-XL fold 9) comes from ``ECGVIEWER_SHARED_DATA`` or
``../shared/data``; without it the faithfulness figure is replaced by a reason.
"""

from __future__ import annotations

import csv
import gc
import statistics
import time
from pathlib import Path

from common import SHARED, log, summary

ROOT = Path(__file__).resolve().parents[1]
FOLD = 9  # the development fold: fold 10, the test fold, is read only by logged commands (training/FOLD10.md)


def _timed(fn) -> tuple[float, float, object]:
    """(wall ms, process CPU ms, result) of ``fn()``."""
    gc.collect()
    c0, t0 = time.process_time(), time.perf_counter()
    out = fn()
    return (time.perf_counter() - t0) * 1e3, (time.process_time() - c0) * 1e3, out


def bench_latency(sample: Path, repeats: int) -> dict:
    """infer_ms: load(file) -> tokens -> probabilities, model loaded, result cache emptied each
    time; ig_ms: IG (32 steps) with aggregation into beats/leads/territories and the tree, on
    tokens already computed; occlusion, gradient x input and attention for reference."""
    import torch

    from ecgviewer.io import load
    from ecgviewer.ml import explain
    from ecgviewer.ml.attention import attention_maps
    from ecgviewer.ml.infer import Analyzer

    t0 = time.perf_counter()
    analyzer = Analyzer(device="auto")
    model_load_ms = (time.perf_counter() - t0) * 1e3
    first_ms, _, _ = _timed(lambda: analyzer.analyse(load(sample)))  # imports neurokit2, wfdb tables
    for _ in range(3):
        analyzer.cache.clear()
        analyzer.analyse(load(sample))
    walls, cpus, parts = [], [], {"tokenise_ms": [], "infer_ms": []}
    for _ in range(repeats):
        analyzer.cache.clear()
        wall, cpu, analysis = _timed(lambda: analyzer.analyse(load(sample)))
        walls.append(wall)
        cpus.append(cpu)
        for k in parts:
            parts[k].append(analysis.predictions.timings[k])
    model_input = analysis.inputs
    target = explain.choose_target(analyzer.classes, analysis.predictions, "super", None)
    model, device = analyzer.model, analyzer.device
    out = {
        "device": str(device),
        "torch_threads": torch.get_num_threads(),
        "model_load_ms": round(model_load_ms, 1),
        "first_analysis_in_process_ms": round(first_ms, 1),
        "infer_ms": summary(walls),
        "infer_cpu_ms_median": round(statistics.median(cpus), 2),
        "infer_breakdown_median_ms": {k: round(statistics.median(v), 2) for k, v in parts.items()},
        "target": f"{target.task}/{target.code} logit",
    }
    methods = {"ig": max(3, repeats // 4), "gxi": repeats, "occlusion": max(2, repeats // 8)}
    how = analyzer.explain_settings  # the model card's reference and frontal sharing, as the app explains

    def attribution(method: str) -> None:
        explain.attribute(model, model_input, target, method, device=device, frontal=how.frontal,
                          reference=how.reference)  # fmt: skip

    out["explain_baseline"] = how.reference.name
    for method, n in methods.items():
        attribution(method)  # warm-up
        runs = [_timed(lambda m=method: attribution(m)) for _ in range(n)]
        out[f"{method}_ms"] = summary([r[0] for r in runs])
        out[f"{method}_cpu_ms_median"] = round(statistics.median(r[1] for r in runs), 2)
    runs = [_timed(lambda: attention_maps(model, model_input, device)) for _ in range(repeats)]
    out["attention_ms"] = summary([r[0] for r in runs])
    out["measure_ms"] = bench_measure(sample, repeats)
    return out


def bench_fast_rate(sample: Path, repeats: int) -> dict:
    """infer_fast_ms and ig_fast_ms: the same on a fast rhythm (PTB-XL 17, 152 bpm, 25 beats),
    whose beats past the 15th are read in a second window (``contract.plan_windows``)."""
    from ecgviewer.io import load
    from ecgviewer.ml import explain
    from ecgviewer.ml.infer import Analyzer

    analyzer = Analyzer(device="auto")
    analyzer.analyse(load(sample))  # warm-up
    walls = []
    for _ in range(repeats):
        analyzer.cache.clear()
        wall, _, analysis = _timed(lambda: analyzer.analyse(load(sample)))
        walls.append(wall)
    target = explain.choose_target(analyzer.classes, analysis.predictions, "super", None)
    how = analyzer.explain_settings

    def ig() -> None:
        explain.attribute(analyzer.model, analysis.inputs, target, "ig", device=analyzer.device,
                          frontal=how.frontal, reference=how.reference)  # fmt: skip

    ig()
    runs = [_timed(ig)[0] for _ in range(max(3, repeats // 4))]
    return {"windows": analysis.tokens.n_windows, "beats": analysis.tokens.detected,
            "infer_ms": summary(walls), "ig_ms": summary(runs)}  # fmt: skip


def bench_measure(sample: Path, repeats: int) -> dict:
    """measure_ms: delineation, beats, median beats and values of the loaded sample (delineator
    loaded, one warm-up run)."""
    from ecgviewer.io import load
    from ecgviewer.measure.delineate import Delineator
    from ecgviewer.measure.pipeline import measure_recording

    rec, delineator = load(sample), Delineator.bundled()
    measure_recording(rec, delineator)
    return summary([_timed(lambda: measure_recording(rec, delineator))[0] for _ in range(repeats)])


def fold_records(n: int) -> list[Path]:
    """The first ``n`` PTB-XL ``FOLD`` records (by ecg_id) at 100 Hz in the shared data."""
    root = SHARED / "ptbxl"
    with (root / "ptbxl_statements_v103.csv").open(newline="", encoding="utf-8") as fh:
        ids = sorted(int(r["ecg_id"]) for r in csv.DictReader(fh) if r["strat_fold"] == str(FOLD))
    paths = [root / "records100" / f"{i // 1000 * 1000:05d}" / f"{i:05d}_lr.hea" for i in ids]
    return [p for p in paths if p.is_file()][:n]


def bench_faithfulness(n_records: int) -> dict:
    """Per record: IG (32 steps) of the most probable surfaced superclass's logit, then AOPC of the
    target probability over zeroing the 1..3 most-attributed beats vs 1..3 random beats (10 seeded
    draws); plus the randomisation check. Aggregated by ``checks.faithfulness_summary``."""
    if not (SHARED / "ptbxl" / "ptbxl_statements_v103.csv").is_file() or not (
        records := fold_records(n_records)
    ):
        return {"error": f"PTB-XL fold {FOLD} not found under {SHARED} (set ECGVIEWER_SHARED_DATA)"}
    import numpy as np

    from ecgviewer.io import load
    from ecgviewer.ml import checks, explain
    from ecgviewer.ml.infer import Analyzer

    analyzer = Analyzer(device="auto")
    rows, faiths = [], []
    for i, path in enumerate(records):
        if i % 10 == 0:
            log(f"[faithfulness] record {i + 1}/{len(records)}")
        rec = load(path)
        analysis = analyzer.analyse(rec)
        target = explain.choose_target(analyzer.classes, analysis.predictions, "super", None)
        e = explain.explain(analyzer, rec, analyzer.analyse(rec), target, "ig")
        sanity, faith = checks.check(analyzer, rec, analyzer.analyse(rec), e)
        faiths.append(faith)
        rows.append(
            {
                "record": path.stem,
                "target": target.code,
                "probability": round(faith.probability, 4),
                "aopc_top": round(faith.aopc_top, 6),
                "aopc_random": round(faith.aopc_random, 6),
                "spearman_randomised": sanity.spearman,
            }
        )
    s = checks.faithfulness_summary(faiths)
    rhos = [r["spearman_randomised"] for r in rows if np.isfinite(r["spearman_randomised"])]
    rand_ci = [round(x, 5) for x in s.aopc_random_ci]
    return {
        "aopc_diff_k3": round(s.difference_mean, 5),
        "aopc_diff_k3_ci95": [round(x, 5) for x in s.difference_ci],
        "aopc_win_rate_k3": round(s.win_rate, 3),
        "wins_losses": [s.wins, s.losses],
        "aopc_sign_test_p": float(f"{s.sign_test_p:.3g}"),
        "aopc_ratio_k3": None if s.ratio is None else round(s.ratio, 3),
        "aopc_ratio_undefined_because": None
        if s.ratio is not None
        else f"random removals do not clearly lower the probability (95 % interval {rand_ci})",
        "aopc_top_mean": round(s.aopc_top_mean, 5),
        "aopc_random_mean": round(s.aopc_random_mean, 5),
        "aopc_random_mean_ci95": rand_ci,
        "definition": f"per record, AOPC = mean drop of the target probability after zeroing 1..{s.k} "
        f"beat tokens, the most-attributed ones (top) or random ones (mean of {faiths[0].n_random} draws). "
        f"aopc_diff_k3: mean over records of AOPC_top - AOPC_random, 95 % percentile bootstrap interval "
        f"over records ({s.n_boot} resamples, seed {s.seed}); aopc_win_rate_k3: share of records "
        "with AOPC_top > AOPC_random, exact two-sided sign test (ties left out); aopc_ratio_k3: "
        "mean AOPC_top / mean AOPC_random, only when the random mean's interval is above 0",
        "records": len(rows),
        "source": f"PTB-XL strat_fold {FOLD}, first {len(rows)} ecg_ids, records100",
        "randomisation_spearman_median": round(statistics.median(rhos), 3) if rhos else None,
        "targets": {c: sum(r["target"] == c for r in rows) for c in sorted({r["target"] for r in rows})},
        "per_record": rows,
    }
