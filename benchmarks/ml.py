"""Encoder figures for ``run.py``: inference and attribution latency, and faithfulness of IG.

Torch uses as many threads as ``torch.get_num_threads()`` says (``OMP_NUM_THREADS`` sets it);
the count is reported. Shared data (PTB-XL fold 10) comes from ``ECGVIEWER_SHARED_DATA`` or
``../shared/data``; without it the faithfulness figure is replaced by a reason.
"""

from __future__ import annotations

import csv
import gc
import os
import statistics
import time
from pathlib import Path

from common import log, summary

ROOT = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("ECGVIEWER_SHARED_DATA", ROOT.parent / "shared" / "data"))
FOLD = 10
K = 3
N_RANDOM = 10


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
    tokens = analysis.tokens
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
    for method, n in methods.items():
        explain.attribute(model, tokens, target, method, device=device)  # warm-up
        runs = [
            _timed(lambda m=method: explain.attribute(model, tokens, target, m, device=device))
            for _ in range(n)
        ]
        out[f"{method}_ms"] = summary([r[0] for r in runs])
        out[f"{method}_cpu_ms_median"] = round(statistics.median(r[1] for r in runs), 2)
    runs = [_timed(lambda: attention_maps(model, tokens, device)) for _ in range(repeats)]
    out["attention_ms"] = summary([r[0] for r in runs])
    return out


def fold_records(n: int) -> list[Path]:
    """The first ``n`` PTB-XL fold-10 records (by ecg_id) at 100 Hz in the shared data."""
    root = SHARED / "ptbxl"
    with (root / "ptbxl_statements_v103.csv").open(newline="", encoding="utf-8") as fh:
        ids = sorted(int(r["ecg_id"]) for r in csv.DictReader(fh) if r["strat_fold"] == str(FOLD))
    paths = [root / "records100" / f"{i // 1000 * 1000:05d}" / f"{i:05d}_lr.hea" for i in ids]
    return [p for p in paths if p.is_file()][:n]


def bench_faithfulness(n_records: int) -> dict:
    """Per record: IG (32 steps) of the most probable surfaced superclass's logit, then zero the
    k = 3 most-attributed beats vs 3 random beats (10 seeded draws); plus the randomisation check."""
    if not (SHARED / "ptbxl" / "ptbxl_statements_v103.csv").is_file():
        return {"error": f"PTB-XL not found under {SHARED} (set ECGVIEWER_SHARED_DATA)"}
    import numpy as np

    from ecgviewer.io import load
    from ecgviewer.ml import explain
    from ecgviewer.ml.infer import Analyzer

    analyzer = Analyzer(device="auto")
    rows = []
    records = fold_records(n_records)
    for i, path in enumerate(records):
        if i % 10 == 0:
            log(f"[faithfulness] record {i + 1}/{len(records)}")
        rec = load(path)
        analysis = analyzer.analyse(rec)
        target = explain.choose_target(analyzer.classes, analysis.predictions, "super", None)
        e = explain.explain(analyzer, rec, target, "ig")
        sanity, faith = explain.check(analyzer, rec, e)
        rows.append(
            {
                "record": path.stem,
                "target": target.code,
                "top_drop": faith.top_drops[-1],
                "random_drop": faith.random_drops[-1],
                "ratio": faith.ratio,
                "aopc_top": faith.aopc_top,
                "aopc_random": faith.aopc_random,
                "spearman_randomised": sanity.spearman,
            }
        )
    top = float(np.mean([r["top_drop"] for r in rows]))
    rand = float(np.mean([r["random_drop"] for r in rows]))
    ratios = [r["ratio"] for r in rows if r["ratio"] is not None]
    rhos = [r["spearman_randomised"] for r in rows if np.isfinite(r["spearman_randomised"])]
    return {
        "aopc_ratio_k3": round(top / rand, 3) if rand > 0 else None,
        "undefined_because": None if rand > 0 else "zeroing random beats raised the probability on average",
        "definition": "mean over records of the probability drop after zeroing the 3 most-attributed "
        "beats / the same for 3 random beats (mean of 10 draws per record)",
        "records": len(rows),
        "source": f"PTB-XL strat_fold {FOLD}, first {len(rows)} ecg_ids, records100",
        "mean_top_drop": round(top, 5),
        "mean_random_drop": round(rand, 5),
        "per_record_ratio_median": round(statistics.median(ratios), 3) if ratios else None,
        "records_ratio_above_1": sum(r > 1 for r in ratios),
        "records_top_drop_above_random": sum(r["top_drop"] > r["random_drop"] for r in rows),
        "records_random_drop_not_positive": len(rows) - len(ratios),
        "aopc_top_mean": round(float(np.mean([r["aopc_top"] for r in rows])), 5),
        "aopc_random_mean": round(float(np.mean([r["aopc_random"] for r in rows])), 5),
        "randomisation_spearman_median": round(statistics.median(rhos), 3) if rhos else None,
        "targets": {c: sum(r["target"] == c for r in rows) for c in sorted({r["target"] for r in rows})},
        "per_record": rows,
    }
