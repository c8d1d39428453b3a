"""The comparison grid (methods x tasks x label fractions x seeds) under one protocol, and the
generated ``training/RESULTS.md``.

Methods: CLEAR linear probe and CLEAR-HUG on the frozen pretrained encoder; the same heads on
the same encoder randomly initialised (frozen); full fine-tuning from the pretrained encoder;
supervised training from scratch. Every run selects its epoch on fold 9 and is scored once on
fold 10. Rows go to ``<run>/grid.jsonl``; finished rows are skipped on re-runs (resumable).
"""

from __future__ import annotations

import json
import time
from dataclasses import replace
from pathlib import Path

import numpy as np

from ecgviewer.ml.model import HEADS
from training import data as D
from training import metrics as M
from training.methods import METHODS
from training.pipeline import (
    Context,
    hardware,
    lead_cls_features,
    load_encoder,
    predict,
    pretrain,
    train_classifier,
    train_head,
)

LABEL = {
    "clear-linear": "CLEAR, linear probe (frozen)",
    "clear-hug": "CLEAR-HUG (frozen encoder)",
    **{f"{m.name}-{head}": f"{m.label}, {text}" for m in METHODS.values() if m.name != "clear"
       for head, text in (("linear", "linear probe (frozen)"), ("hug", "HUG head (frozen encoder)"))},
    "finetune": "CLEAR, full fine-tune",
    "random-linear": "random init, linear probe (frozen)",
    "random-hug": "random init, HUG (frozen encoder)",
    "scratch": "supervised from scratch",
    "scratch-noamp": "supervised from scratch, no amplitude feature (ablation)",
}  # fmt: skip
RANDOM_INIT_SEED = 1234  # the frozen random-init encoder, the same for every head and task
BUNDLED_GOAL = 0.90  # super macro AUROC on fold 10 (the goal)
CLEAR_GAIN = 0.01  # the least mean AUROC gain called 'clearly better'
PER_CLASS_MAX = 5  # tasks with at most this many classes get a per-class table
MIN_STEPS = 150  # small label fractions are repeated within epochs, so every run makes enough updates
# The frozen heads' input (pipeline.Standardise). Rows logged under another protocol (raw features,
# "standardised" per lead and dimension) stay in grid.jsonl but are neither skipped as done nor reported.
PROBE = "z-dim"


def _current(row: dict) -> bool:
    """Whether a logged row was made under today's protocol."""
    return not frozen(row["method"]) or row.get("probe") == PROBE


def _rows(path: Path) -> list[dict]:
    """The current rows of a grid log."""
    if not path.is_file():
        return []
    return [r for r in map(json.loads, filter(str.strip, path.read_text().splitlines())) if _current(r)]


def _done(path: Path) -> set[tuple]:
    return {(r["method"], r["task"], r["fraction"], r["seed"]) for r in _rows(path)}


def _test(model_probs: np.ndarray, split: D.Split, classes: list[str]) -> dict:
    return M.report(split.y, model_probs, classes)


def frozen(method: str) -> tuple[str | None, str] | None:
    """(pretraining method or None for random init, head) of a frozen-encoder grid method."""
    ssl, _, head = method.rpartition("-")
    if head in HEADS and (ssl in METHODS or ssl == "random"):
        return (None if ssl == "random" else ssl), head
    return None


def run_grid(ctx: Context, tasks: list[str], fractions: list[float], seeds: int, methods: list[str]) -> Path:
    import torch

    out = ctx.run_dir / "grid.jsonl"
    done = _done(out)
    unknown = [m for m in methods if m not in LABEL]
    if unknown:
        raise ValueError(f"unknown grid methods {unknown}; choose from {', '.join(LABEL)}")
    all_rows = np.arange(len(ctx.ptbxl.cache))
    present = np.array([not r.startswith("!") for r in ctx.ptbxl.cache.ids])
    all_rows = all_rows[present]
    feats = {}
    bundled = _bundled(ctx)
    for method in methods:
        for task in tasks:
            for frac in fractions:
                for seed in range(seeds if frac < 1 else 1):
                    key = (method, task, frac, seed)
                    if key in done:
                        continue
                    t0 = time.perf_counter()
                    tag = f"grid-{method}-{task}-{frac}-{seed}"
                    probe = {"probe": PROBE} if frozen(method) else {}
                    if frozen(method):
                        tag = f"grid-{method}-{PROBE}-{task}-{frac}-{seed}"  # not an old run's checkpoint
                        ssl, head = frozen(method)
                        if ssl not in feats:
                            feats[ssl] = _features(ctx, pretrain(ctx, method=ssl) if ssl else None, all_rows)
                        f = feats[ssl]
                        model, td, info = train_head(ctx, f, all_rows, task, frac, seed, head, tag)
                        classes, test = ctx.ptbxl.split(task, [D.TEST_FOLD])
                        pos = {int(r): i for i, r in enumerate(all_rows)}
                        with torch.no_grad():
                            p = torch.sigmoid(model(f[[pos[int(r)] for r in test.rows]])).numpy()
                    elif (
                        method == "finetune"
                        and frac >= 1
                        and task in ctx.preset.tasks
                        and bundled is not None
                    ):
                        # 100 % fine-tuning is the bundled model itself (multi-task, same protocol)
                        model, td, best = bundled
                        info = {"best": best[f"val_{task}_auroc"]}
                        classes, test = ctx.ptbxl.split(task, [D.TEST_FOLD])
                        p = predict(model, ctx.tensors, test.rows, ctx.preset.batch_eval, ctx.dist.device)[
                            task
                        ]
                    else:
                        config = ctx.preset.encoder
                        if method == "scratch-noamp":
                            config = replace(config, amplitude=False)
                        enc = load_encoder(pretrain(ctx) if method == "finetune" else None, config, seed)
                        model, td, info = train_classifier(
                            ctx, enc, (task,), frac, seed, "hug", tag, min_steps=MIN_STEPS
                        )
                        classes, test = ctx.ptbxl.split(task, [D.TEST_FOLD])
                        p = predict(model, ctx.tensors, test.rows, ctx.preset.batch_eval, ctx.dist.device)[
                            task
                        ]
                    row = {
                        "method": method, "task": task, "fraction": frac, "seed": seed,
                        "n_train": len(td.train[task].rows), "val_auroc": info["best"],
                        "test": _test(p, test, classes), "seconds": round(time.perf_counter() - t0, 1),
                        **probe,
                    }  # fmt: skip
                    with out.open("a") as fh:
                        fh.write(json.dumps(row) + "\n")
                    print(
                        json.dumps(
                            {k: row[k] for k in ("method", "task", "fraction", "seed", "val_auroc")}
                            | {"test_auroc": row["test"]["auroc"]}
                        ),
                        flush=True,
                    )
    return out


def _features(ctx: Context, encoder: Path | None, rows: np.ndarray):
    """Frozen lead-[CLS] features of ``rows``, kept on disk beside the run (keyed by the encoder's
    SHA-256, or the fixed random-init seed), so later grid invocations skip the encoder pass."""
    import torch

    from ecgviewer.ml.bundle import sha256

    tag = sha256(encoder)[:12] if encoder is not None else f"random{RANDOM_INIT_SEED}"
    path = ctx.run_dir / f"features-{tag}-{len(rows)}.pt"
    if path.is_file():
        return torch.load(path, weights_only=True)
    enc = load_encoder(encoder, ctx.preset.encoder, seed=RANDOM_INIT_SEED)
    f = lead_cls_features(enc, ctx.tensors, rows, ctx.preset.batch_eval, ctx.dist.device)
    torch.save(f, path.with_suffix(".tmp"))
    path.with_suffix(".tmp").replace(path)
    return f


def _bundled(ctx: Context) -> tuple | None:
    """The exported model of this run (if any) with its training data and fold-9 score."""
    from ecgviewer.ml.bundle import load_model
    from training.pipeline import task_data

    meta = ctx.run_dir / "run.json"
    if not meta.is_file():
        return None
    loaded = load_model(Path(json.loads(meta.read_text())["weights"]))
    td = task_data(ctx, ctx.preset.tasks, 1.0, 0)
    best = max(_history(ctx.run_dir, "finetune-bundled"), key=lambda r: r["val_auroc"])
    return loaded.model, td, best


def _history(run_dir: Path, phase: str) -> list[dict]:
    lines = (run_dir / "metrics.jsonl").read_text().splitlines()
    return [r for r in map(json.loads, lines) if r["phase"] == phase]


def _fmt(rows: list[dict], key: str) -> str:
    vals = np.array([r["test"][key] for r in rows])
    ci = rows[0]["test"][f"{key}_ci"]
    spread = f" ± {vals.std(ddof=1):.3f}" if len(vals) > 1 else ""
    return f"{vals.mean():.3f}{spread} [{ci[0]:.3f}-{ci[1]:.3f}]"


def _per_class(rows: list[dict], task: str, fracs: list[float]) -> list[str]:
    """Per-class test AUROC (mean over seeds) of a task with few classes: where the amplitude
    ablation shows (hypertrophy, HYP, needs absolute voltage)."""
    cells = [r for r in rows if r["task"] == task]
    classes = list(cells[0]["test"]["per_class_auroc"])
    if len(classes) > PER_CLASS_MAX:
        return []
    header = "| method | labels | " + " | ".join(classes) + " |"
    lines = [f"## `{task}`: per-class AUROC", "", header, "|---|---|" + "---|" * len(classes)]
    for method in LABEL:
        for f in fracs:
            cell = [r for r in cells if r["method"] == method and r["fraction"] == f]
            if not cell:
                continue
            means = [np.mean([r["test"]["per_class_auroc"][c] for r in cell]) for c in classes]
            lines.append(f"| {LABEL[method]} | {f:.0%} | " + " | ".join(f"{m:.3f}" for m in means) + " |")
    return [*lines, ""]


def _seeds(rows: list[dict], method: str, task: str, frac: float) -> np.ndarray:
    key = (method, task, frac)
    return np.array([r["test"]["auroc"] for r in rows if (r["method"], r["task"], r["fraction"]) == key])


def _goals(rows: list[dict], cards: list[dict]) -> list[str]:
    """The issue's goals, checked on the logged numbers (task ``super``, test macro AUROC)."""
    intro = f"Fold-10 macro AUROC of `super`; 'clearly' means a mean gain of at least {CLEAR_GAIN}."
    lines = [
        "## Goals",
        "",
        intro,
        "",
        "| goal | labels | ours | baseline | gain | verdict |",
        "|---" * 6 + "|",
    ]
    for card in cards:
        auroc = card["labels"]["super"]["test"]["auroc"]
        verdict = "met" if auroc >= BUNDLED_GOAL else f"missed by {BUNDLED_GOAL - auroc:.3f}"
        lines.append(f"| bundled model >= {BUNDLED_GOAL} | 100% | {auroc:.3f} | - | - | {verdict} |")
    checks = [(f"{LABEL[a]} beats {LABEL[b]} clearly", a, b, CLEAR_GAIN, (0.01, 0.1, 1.0))
              for a, b in (("clear-linear", "random-linear"), ("clear-hug", "random-hug"))]  # fmt: skip
    checks.append((f"{LABEL['finetune']} beats {LABEL['scratch']}", "finetune", "scratch", 0.0, (0.01, 0.1)))
    for goal, ours, base, need, fracs in checks:
        for f in fracs:
            a, b = _seeds(rows, ours, "super", f), _seeds(rows, base, "super", f)
            if not len(a) or not len(b):
                continue
            gain = a.mean() - b.mean()
            verdict = "met" if gain > need else f"missed by {need - gain:.3f}"
            spread = max(a.std(ddof=1) if len(a) > 1 else 0.0, b.std(ddof=1) if len(b) > 1 else 0.0)
            if abs(gain) < spread:
                verdict += f" (gain within the seeds' SD {spread:.3f})"
            lines.append(f"| {goal} | {f:.0%} | {a.mean():.3f} | {b.mean():.3f} | {gain:+.3f} | {verdict} |")
    return [*lines, ""]


def _pretraining(runs: list[Path], cards: list[dict]) -> list[str]:
    """What each method's pretraining cost: schedule, updates and wall-clock, from its run log."""
    lines = ["## Pretraining runs", "",
             "| method | records | epochs x batch | updates | wall-clock (s) | once per cache (s) | threads "
             "| hardware |", "|---|---|---|---|---|---|---|---|"]  # fmt: skip
    for run in runs:
        for m in METHODS.values():
            path = run / ("pretrain.json" if m.name == "clear" else f"pretrain-{m.name}.json")
            if not path.is_file():
                continue
            info = json.loads(path.read_text())
            card = cards[0] if cards and m.name == "clear" else {}  # the bundled run logged less
            loop = info.get("pretrain_loop") or card.get("training", {}).get("pretrain", {})
            hw = info.get("hardware") or card.get("hardware", {})
            recs = info["pretrain_records"]
            cells = [
                m.label,
                f"{recs['ptbxl']} PTB-XL + {recs['unlabelled']} LUDB",
                f"{loop.get('epochs', '-')} x {loop.get('batch_size', '-')}",
                info.get("pretrain_steps", "-"),
                f"{info['pretrain_s']:.0f}",
                ", ".join(
                    f"{k.removesuffix('_s')} {v:.0f}" for k, v in info.get("preprocessing_s", {}).items()
                )
                or "-",
                hw.get("threads", "-"),
                f"{hw.get('cpu', '-')}, GPU {hw.get('gpu')}",
            ]
            lines.append("| " + " | ".join(map(str, cells)) + " |")
    return [*lines, ""] if len(lines) > 4 else []


def _compared(rows: list[dict]) -> list[str]:
    """The pretraining methods side by side (frozen encoder, mean test AUROC over seeds), and which
    is best on this data: the mean rank over the cells every method has, so a method run on more
    tasks neither gains nor loses by it."""
    subjects = {m.name: m.label for m in METHODS.values()} | {"random": "random init (no pretraining)"}
    lines = []
    for head, title in (("hug", "HUG head"), ("linear", "linear probe")):
        ours = [r for r in rows if frozen(r["method"]) and frozen(r["method"])[1] == head]
        cells = sorted({(r["task"], r["fraction"]) for r in ours}, key=lambda c: (D.TASKS.index(c[0]), c[1]))
        seeds = {(s, c): _seeds(rows, f"{s}-{head}", *c) for s in subjects for c in cells}
        means = {s: {c: seeds[s, c].mean() for c in cells if len(seeds[s, c])} for s in subjects}
        means = {s: m for s, m in means.items() if m}
        if len(means) < 2:
            continue
        common = [c for c in cells if all(c in m for m in means.values())]
        if not common:
            continue
        ranks: dict[str, list[int]] = {s: [] for s in means}
        for c in common:
            order = sorted(means, key=lambda s: -means[s][c])
            for k, s in enumerate(order):
                ranks[s].append(k + 1)
        mean_rank = {s: float(np.mean(r)) for s, r in ranks.items()}
        header = " | ".join(f"{t} {f:.0%}" for t, f in cells)
        lines += [f"## Pretraining methods compared: {title} on the frozen encoder", "",
                  "Test macro AUROC, mean over seeds; the best of each column in bold; '-': not run.", "",
                  f"| method | {header} | mean rank ({len(common)} shared cells) |",
                  "|---|" + "---|" * (len(cells) + 1)]  # fmt: skip
        best = {c: max(m[c] for m in means.values() if c in m) for c in cells}
        for s in sorted(means, key=mean_rank.get):
            vals = ["-" if c not in means[s] else f"**{means[s][c]:.3f}**" if means[s][c] == best[c]
                    else f"{means[s][c]:.3f}" for c in cells]  # fmt: skip
            lines.append(f"| {subjects[s]} | " + " | ".join(vals) + f" | {mean_rank[s]:.2f} |")
        top = min(mean_rank.values())
        winners = [s for s in means if mean_rank[s] == top]  # "clear" first on a tie: it is in use
        named = " and ".join(f"**{subjects[s]}**" for s in winners)
        tie = ", tied" if len(winners) > 1 else ""
        lines += ["", f"Best on this data ({title}, mean rank over {len(common)} cells{tie}): {named}."]
        if "clear" in means:
            lines.append(_bundled_verdict(winners[0], subjects[winners[0]], seeds, means, common))
        lines.append("")
    return lines


def _bundled_verdict(winner: str, label: str, seeds: dict, means: dict, cells: list) -> str:
    """Whether the bundled model (a CLEAR encoder) should change: only for a method that beats CLEAR
    in most shared cells by more than the larger seed SD (``CLEAR_GAIN`` where a cell has one seed)."""
    if winner == "clear":
        return "CLEAR, the bundled model's encoder, ranks first or shares it: the bundled model stays."
    shared = [c for c in cells if c in means[winner] and c in means["clear"]]

    def noise(c: tuple) -> float:
        sds = [seeds[s, c].std(ddof=1) for s in (winner, "clear") if len(seeds[s, c]) > 1]
        return max(sds) if sds else CLEAR_GAIN

    higher = [c for c in shared if means[winner][c] > means["clear"][c]]
    clearly = [c for c in higher if means[winner][c] - means["clear"][c] > noise(c)]
    change = len(clearly) > len(shared) / 2
    verdict = (f"the bundled model should change to the {label} encoder" if change
               else "that is not enough to change the bundled model (CLEAR)")  # fmt: skip
    return (f"Against CLEAR, {label} is higher in {len(higher)} of {len(shared)} shared cells, by more "
            f"than the larger seed SD (one seed: {CLEAR_GAIN}) in {len(clearly)}: {verdict}.")  # fmt: skip


def write_results(runs: list[Path], out: Path) -> Path:
    """Generate RESULTS.md from the grid logs and the bundled model card of ``runs``."""
    rows = []
    cards = []
    for run in runs:
        rows += _rows(run / "grid.jsonl")
        meta = run / "run.json"
        if meta.is_file():
            cards.append(json.loads(Path(json.loads(meta.read_text())["card"]).read_text()))
    lines = [
        "# Results",
        "",
        "Generated by `python -m training results` from the grid logs (`python -m training grid`) and the",
        "bundled model card; do not edit by hand. PTB-XL 100 Hz, folds 1-8 train (label fractions are",
        "random subsets of the training records), fold 9 selects the epoch, fold 10 is scored once.",
        "Frozen-encoder heads train on the lead [CLS] features standardised per dimension by the mean and",
        "SD of their training rows over all leads (MAE's linear-probe protocol, He et al. 2022).",
        "Cells: test macro AUROC (mean ± SD over seeds) [bootstrap 95 % interval of seed 0].",
        "",
    ]
    for card in cards:
        lines += [f"## Bundled model `{card['name']}`", "",
                  f"Command: `{card['command']}`; hardware: {card['hardware']};",
                  f"timings (s): {card['timings']}.", ""]  # fmt: skip
        for task, lab in card["labels"].items():
            t = lab["test"]
            (a0, a1), (p0, p1) = t["auroc_ci"], t["auprc_ci"]
            lines.append(
                f"- `{task}` (fold 10, n={t['n']}): macro AUROC {t['auroc']:.3f} [{a0:.3f}-{a1:.3f}], "
                f"macro AUPRC {t['auprc']:.3f} [{p0:.3f}-{p1:.3f}]"
            )
        lines.append("")
    lines += _goals(rows, cards)
    lines += _pretraining(runs, cards)
    lines += _compared(rows)
    for task in dict.fromkeys(r["task"] for r in rows):
        fracs = sorted({r["fraction"] for r in rows if r["task"] == task})
        for key, title in (("auroc", "macro AUROC"), ("auprc", "macro AUPRC")):
            header = " | ".join(f"{f:.0%} labels" for f in fracs)
            lines += [f"## `{task}`: {title}", "", f"| method | {header} | wall-clock (s) |",
                      "|---|" + "---|" * (len(fracs) + 1)]  # fmt: skip
            for method in LABEL:
                cell = [r for r in rows if r["task"] == task and r["method"] == method]
                if not cell:
                    continue
                by = [sorted((r for r in cell if r["fraction"] == f), key=lambda r: r["seed"]) for f in fracs]
                secs = sum(r["seconds"] for r in cell)
                lines.append(
                    f"| {LABEL[method]} | "
                    + " | ".join(_fmt(b, key) if b else "-" for b in by)
                    + f" | {secs:.0f} |"
                )
            lines.append("")
        lines += _per_class(rows, task, fracs)
    lines += ["Hardware of this machine when the file was written: " + json.dumps(hardware()), ""]
    out.write_text("\n".join(lines))
    return out
