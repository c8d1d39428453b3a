"""Frozen-probe quality against pretraining length and encoder size (issue 27), on fold 9 only.

One pretraining run, as long as the last point, saves its encoder after chosen epochs
(``pretrain``'s snapshots); each snapshot, and as epoch 0 the randomly initialised encoder of the
same family (beat tokens, or ECG-JEPA's patches) and size, gets the grid's frozen
probe (``finetune.train_head``: a HUG head on the cached lead-[CLS] features, its epoch chosen on
fold 9) for every task and seed. The points are snapshots of one cosine schedule, not separate
runs per budget: the whole curve costs what its longest point costs, and an early snapshot's
learning rate has not decayed yet, so its figure understates a run of that length. Every row
carries its fold-9 probabilities, so ``scaling_table`` pairs each point with epoch 0 by bootstrap.
Fold 10 is never read here.
"""

from __future__ import annotations

import json
import math
import re
import time
from dataclasses import replace
from itertools import product
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import torch

from ecgviewer.ml import contract
from training.context import Context
from training.pretrain.methods import METHODS
from training.pretrain.pretraining import pretrain, pretrain_phase, snapshot_path
from training.supervised.finetune import train_head
from training.supervised.grid import features, probe_steps, read_rows
from training.validate import metrics as M

if TYPE_CHECKING:  # matplotlib is imported by the reports only
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

HEAD = "hug"
# a timed curve: its name, its points by epoch, its pretraining seconds by epoch, how it ran
Curve = tuple[str, dict, dict[int, float], str]
# a curve enters a budget's table only with a snapshot within this factor of it, either side
NEAR = 1.25
# the budgets of one table group: each curve's whole pretraining, if at least this factor above the last
SPREAD = 2.0
# task -> curve -> (epoch or seconds, mean fold-9 AUROC, seed 0's 95 % interval), what a plot draws
Points = dict[str, dict[str, list[tuple[float, float, list[float]]]]]


def sized(ctx: Context, size: str | None) -> Context:
    """``ctx`` with its encoder resized to ``WIDTHxDEPTH`` (heads of 32 dimensions) and its run in
    the ``WIDTHxDEPTH`` subfolder (features and checkpoints are per encoder), or as it is."""
    if not size:
        return ctx
    width, depth = (int(v) for v in size.lower().split("x"))
    if width % 32 or width < 32 or depth < 1:
        raise ValueError(f"--size {size}: width a multiple of 32, depth at least 1 (e.g. 192x6)")
    shape = {"dim": width, "depth": depth, "heads": width // 32}
    # both families: ECG-JEPA pretrains the patch encoder, the others the beat encoder
    encoder, patch = replace(ctx.preset.encoder, **shape), replace(ctx.preset.patch, **shape)
    preset = replace(ctx.preset, name=f"{ctx.preset.name}-{size}", encoder=encoder, patch=patch)
    return replace(ctx, preset=preset, run_dir=ctx.run_dir / f"{width}x{depth}")


def _row_key(row: dict) -> tuple:
    return row["method"], row["epoch"], row["task"], row["seed"]


def run_scaling(ctx: Context, method: str, epochs: list[int], tasks: list[str], seeds: int,
                probe: bool = True) -> Path:  # fmt: skip
    """Pretrain for ``max(epochs)`` epochs (the preset's loop otherwise: one cosine schedule that
    ends at the last point) with snapshots at ``epochs``, probe each and the random-init encoder
    on every task and seed; missing rows are appended to ``<run>/scaling.jsonl`` (a stopped run
    resumes). ``probe=False`` stops after the pretraining (a lent accelerator's short time goes to
    pretraining; a later run probes)."""
    if not epochs or min(epochs) < 1:
        raise ValueError(f"snapshot epochs {epochs}: give one or more, each at least 1")
    loop = replace(ctx.preset.schedules.get(method, ctx.preset.pretrain), epochs=max(epochs))
    ctx = replace(ctx, preset=replace(ctx.preset, schedules={**ctx.preset.schedules, method: loop}))
    final = pretrain(ctx, method=method, snapshots=tuple(epochs))
    out = ctx.run_dir / "scaling.jsonl"
    if not probe:
        return out
    done = {_row_key(r) for r in read_rows(out)}
    preds = ctx.run_dir / "preds"
    preds.mkdir(parents=True, exist_ok=True)
    decoder = ctx.preset.decoder
    patches = METHODS[method].kind == contract.PATCHES
    family_config = ctx.preset.patch if patches else ctx.preset.encoder  # what the rows' encoder is
    for epoch in [0, *sorted(set(epochs))]:
        encoder = None
        if epoch:
            encoder = final if epoch == loop.epochs else snapshot_path(ctx.run_dir, method, epoch)
            if not encoder.is_file():
                raise FileNotFoundError(
                    f"{encoder}: the pretraining in {ctx.run_dir} finished without a snapshot at "
                    f"epoch {epoch}; give a new --run-dir to pretrain with it"
                )
        feats = None
        for task, seed in product(tasks, range(seeds)):
            if (method, epoch, task, seed) in done:
                continue
            t0 = time.perf_counter()
            if feats is None:  # epoch 0: the random-init encoder of the method's family
                feats = features(ctx, encoder, METHODS[method].kind)
            tag = f"scaling-{method}-{epoch}-{task}-{seed}"
            rows, f = feats
            model, td, _ = train_head(ctx, f, rows, task, 1.0, seed, HEAD, tag, probe_steps(ctx.preset))
            pos = {int(r): i for i, r in enumerate(rows)}
            val = td.val[task]
            with torch.no_grad():
                p = torch.sigmoid(model(f[[pos[int(r)] for r in val.rows]])).numpy()
            np.savez_compressed(preds / f"{tag}.npz", y=val.y, p=p, ecg_id=val.ecg_id)
            rep = M.report(val.y, p, td.classes[task])
            row = {
                "method": method, "epoch": epoch, "task": task, "seed": seed, "head": HEAD,
                "preset": ctx.preset.name, "encoder": family_config.to_dict(),
                "masking": decoder.masking, "amplitude": decoder.amplitude, "schedule": loop.epochs,
                "val_auroc": rep["auroc"], "val_auroc_ci": rep["auroc_ci"], "n_val": rep["n"],
                "preds": f"{tag}.npz", "seconds": round(time.perf_counter() - t0, 1),
            }  # fmt: skip
            with out.open("a") as fh:
                fh.write(json.dumps(row) + "\n")
            shown = {k: row[k] for k in ("method", "epoch", "task", "seed", "val_auroc")}
            print(json.dumps(shown), flush=True)
    return out


def _schedule(run: Path, row: dict) -> int | None:
    """The length of the cosine schedule behind ``row``'s snapshots: logged in the row, or (rows
    from before it was) the run's ``pretrain.json``."""
    if "schedule" in row:
        return row["schedule"]
    info = run / "pretrain.json"
    return json.loads(info.read_text())["pretrain_loop"]["epochs"] if info.is_file() else None


def _curve_name(run: Path, row: dict, size: bool = True) -> str:
    """A curve's name: what was pretrained, at which encoder size (``size=False``: the family the
    size table compares across sizes) and how long its one schedule was (two runs that differ only
    in length are two curves: their snapshots at the same epoch are different encoders)."""
    amp = f"+amplitude {row['amplitude']:g}" if row.get("amplitude") else ""
    pretext = f" ({row['masking']}{amp})" if row["method"] == "clear" else ""  # CLEAR's masking only
    length = _schedule(run, row)
    of = f", {length}-epoch schedule" if length else ""
    return f"{row['method']}{pretext}{' ' + _size(row) if size else ''}{of}"


def _size(row: dict) -> str:
    return f"{row['encoder']['dim']}x{row['encoder']['depth']}"


def _parameters(row: dict) -> int:
    """The parameter count of the encoder a row probed, built in its method's family from the
    logged configuration (rows before the patch encoder's own was logged carry the beat encoder's
    shape, which the patch encoder shares)."""
    from ecgviewer.ml.model import create_encoder, encoder_config

    kind = METHODS[row["method"]].kind
    return sum(p.numel() for p in create_encoder(kind, encoder_config(kind, row["encoder"])).parameters())


def _probs(rows: list[dict]) -> tuple[np.ndarray, list[np.ndarray]]:
    """Labels and each seed's fold-9 probabilities (``read_rows`` made ``preds`` a path: beside the
    log, whether the run folder was given absolute or relative)."""
    from training.data.keep import load_npz

    loaded = [load_npz(r["preds"]) for r in sorted(rows, key=lambda r: r["seed"])]
    return loaded[0]["y"], [z["p"] for z in loaded]


# one probed encoder: its run and the rows of its seeds
Probed = tuple[Path, list[dict]]
Cells = dict[tuple[str, str], dict[int, Probed]]


def run_label(run: Path) -> str:
    """A run folder as the reports name it: a size subfolder (``scaling --size``) with its parent."""
    return f"{run.parent.name}/{run.name}" if re.fullmatch(r"\d+x\d+", run.name) else run.name


def _cells(runs: list[Path]) -> Cells:
    """(task, curve) -> epoch -> (run, rows of its seeds), from the runs' ``scaling.jsonl``. A curve
    whose name an earlier run has taken (the same pretraining run again) is named with its run."""
    cells: Cells = {}
    owner: dict[str, Path] = {}
    for run in runs:
        for row in read_rows(run / "scaling.jsonl"):
            name = _curve_name(run, row)
            if owner.setdefault(name, run) != run:
                name = f"{name}, run {run_label(run)}"
            cell = cells.setdefault((row["task"], name), {})
            cell.setdefault(row["epoch"], (run, []))[1].append(row)
    return cells


def _gain(point: Probed, base: Probed | None) -> str:
    """The paired-bootstrap difference of a point from another (its curve's epoch 0, or its
    family's largest encoder at its last snapshot), as a table cell."""
    if base is None or point is base:
        return "-"
    (y, p), (y0, p0) = _probs(point[1]), _probs(base[1])
    k = min(len(p), len(p0))
    d = M.paired_bootstrap(y, p[:k], p0[:k]) if np.array_equal(y, y0) else None
    return "-" if d is None else f"{d['auroc']:+.4f} [{d['auroc_ci'][0]:+.4f}, {d['auroc_ci'][1]:+.4f}]"


def _mean(rows: list[dict]) -> float:
    return float(np.mean([r["val_auroc"] for r in rows]))


def scaling_table(runs: list[Path]) -> tuple[list[str], Points]:
    """Markdown lines (one table per task: every curve's epochs, mean fold-9 AUROC over seeds, and
    the paired-bootstrap difference from the same curve's epoch 0) and the points for a plot."""
    cells = _cells(runs)
    lines: list[str] = []
    points: Points = {}
    for task in sorted({t for t, _ in cells}):
        lines += [f"**{task}** (fold 9, frozen {HEAD} probe)", "",
                  "| encoder | epochs | seeds | macro AUROC | vs epoch 0 [95 % CI] |",
                  "|---|---|---|---|---|"]  # fmt: skip
        for (t, name), by_epoch in sorted(cells.items()):
            if t != task:
                continue
            for epoch, point in sorted(by_epoch.items()):
                rows, gain = point[1], _gain(point, by_epoch.get(0))
                lines.append(f"| {name} | {epoch} | {len(rows)} | {_mean(rows):.4f} | {gain} |")
                ci = rows[0]["val_auroc_ci"]
                points.setdefault(task, {}).setdefault(name, []).append((epoch, _mean(rows), ci))
        lines.append("")
    return lines, points


# task -> family -> (size, parameters, random init's and pretrained AUROC), what the size plot draws
SizePoints = dict[str, dict[str, list[tuple[str, int, float, float]]]]


def size_table(runs: list[Path]) -> tuple[list[str], SizePoints]:
    """Markdown lines (per task: each pretraining family's encoder sizes, the random-init encoder
    of that size, its last snapshot, their paired difference and the paired difference from the
    family's largest encoder, pretrained: whether the smaller one loses anything) and the points
    for a plot. Only curves with both ends logged enter; a family of one size still shows its row."""
    cells = _cells(runs)
    lines: list[str] = []
    points: SizePoints = {}
    for task in sorted({t for t, _ in cells}):
        families: dict[str, list[tuple[int, Probed, Probed, int]]] = {}
        for (t, _), by_epoch in sorted(cells.items()):
            last = max(by_epoch)
            if t == task and 0 in by_epoch and last:
                run, rows = by_epoch[last]
                family = families.setdefault(_curve_name(run, rows[0], size=False), [])
                family.append((_parameters(rows[0]), by_epoch[0], by_epoch[last], last))
        if not families:
            continue
        lines += [f"**{task}** (fold 9, frozen {HEAD} probe, each encoder at its last snapshot)", "",
                  "| pretraining | encoder | parameters | epochs | seeds | random init | pretrained "
                  "| difference [95 % CI] | vs the largest [95 % CI] |", "|---" * 9 + "|"]  # fmt: skip
        for family, found in sorted(families.items()):
            found.sort(key=lambda f: f[0])
            largest = found[-1][2]
            for n, base, end, epochs in found:
                size, before, after = _size(end[1][0]), _mean(base[1]), _mean(end[1])
                lines.append(f"| {family} | {size} | {n:,} | {epochs} | {len(end[1])} | {before:.4f} "
                             f"| {after:.4f} | {_gain(end, base)} | {_gain(end, largest)} |")  # fmt: skip
                points.setdefault(task, {}).setdefault(family, []).append((size, n, before, after))
        lines.append("")
    return lines, points


def _epochs(run: Path, method: str) -> dict[int, dict]:
    """The per-epoch log of ``method``'s pretraining in ``run``; an epoch logged twice (a stopped
    run redoes the epoch it stopped in) keeps its last record."""
    phase = pretrain_phase(method)
    return {r["epoch"]: r for r in read_rows(run / "metrics.jsonl", None) if r.get("phase") == phase}


def _seconds(run: Path, method: str) -> dict[int, float]:
    """Pretraining wall-clock summed up to each epoch (0: none) of ``method``'s run in ``run``."""
    per_epoch = _epochs(run, method)
    total, out = 0.0, {0: 0.0}
    for epoch in sorted(per_epoch):
        total += per_epoch[epoch]["seconds"]
        out[epoch] = total
    return out


def ran_on(run: Path, method: str) -> tuple[str, str] | None:
    """The machine a pretraining ran on (the GPU, or the CPU and its thread count, since only runs
    of one machine have comparable seconds) and a table cell of its threads and precision, from
    each epoch's log; None when its epochs ran on more than one machine or precision (a run
    resumed elsewhere: its seconds add up unlike quantities). Logs from before each epoch named
    its machine read the pretraining's ``<phase>.json``, which the machine that finished wrote."""
    epochs = list(_epochs(run, method).values())
    logged = {json.dumps([r["hardware"], r["bf16"]], sort_keys=True) for r in epochs if "hardware" in r}
    if logged:
        if len(logged) > 1 or any("hardware" not in r for r in epochs):
            return None
        hw, bf16 = json.loads(logged.pop())
    else:
        path = run / f"{pretrain_phase(method)}.json"
        info = json.loads(path.read_text()) if path.is_file() else {}
        hw, bf16 = info.get("hardware", {}), info.get("bf16")
    threads = hw.get("threads", "?")
    precision = {True: "bf16", False: "fp32"}.get(bf16, "precision not logged")
    machine = hw.get("gpu") or f"{hw.get('cpu', 'an unlogged CPU')}, {threads} threads"
    return machine, f"{threads} threads, {precision}"


def nearest_epoch(seconds: dict[int, float], budget: float) -> int:
    """The snapshot of a curve whose pretraining time is nearest ``budget`` as a ratio, either
    side. Snapshots are whole epochs, and an epoch of ECG-JEPA, ACL-ECG or PhysioCLR is a third to
    a half of a CPU budget here: a cut at the budget (plus a margin) read one such curve a whole
    epoch early, at two thirds of the others' compute, for a 0.1 s overrun."""
    spent = {e: s for e, s in seconds.items() if e and s > 0}
    if not spent or budget <= 0:
        raise ValueError(f"no pretrained snapshot with a logged time to read at {budget} s")
    return min(spent, key=lambda e: (abs(math.log(spent[e] / budget)), e))


def budgets(wholes: list[float]) -> list[float]:
    """The budgets at which curves of these whole pretraining times are compared: the shortest,
    then each longer whole at least ``SPREAD`` times the last budget taken (nearby lengths of
    runs sized to one budget would only repeat its table)."""
    out: list[float] = []
    for whole in sorted(wholes):
        if not out or whole >= SPREAD * out[-1]:
            out.append(whole)
    return out


def compute_table(runs: list[Path]) -> tuple[list[str], Points]:
    """Markdown lines (per task, encoder size and machine with two or more curves, one table per
    budget: each budget is a curve's whole pretraining time (``budgets``), and every curve that
    pretrained at least that long and has a snapshot within ``NEAR`` of it is read at its snapshot
    nearest it, ranked by mean fold-9 AUROC, with paired differences from its random init and from
    the first) and those curves' points against pretraining seconds for a plot. A curve whose run
    did not log its time, or ran on several machines, is left out; seconds of different machines,
    thread counts or precisions are never compared."""
    cells = _cells(runs)
    lines: list[str] = []
    points: Points = {}
    for task in sorted({t for t, _ in cells}):
        by_size: dict[tuple[str, str], list[Curve]] = {}
        for (t, name), by_epoch in sorted(cells.items()):
            if t != task or 0 not in by_epoch or len(by_epoch) < 2:
                continue
            run, rows = by_epoch[max(by_epoch)]
            secs = _seconds(run, rows[0]["method"])
            where = ran_on(run, rows[0]["method"])
            if set(by_epoch) <= set(secs) and where is not None:
                machine, cell = where
                by_size.setdefault((_size(rows[0]), machine, cell), []).append((name, by_epoch, secs, cell))
        for (size, machine, _), curves in sorted(by_size.items()):
            if len(curves) < 2:
                continue
            for name, by_epoch, secs, _ in curves:
                for e, (_, rows) in sorted(by_epoch.items()):
                    points.setdefault(task, {}).setdefault(f"{name} on {machine}", []).append(
                        (secs[e], _mean(rows), rows[0]["val_auroc_ci"])
                    )
            for budget in budgets([secs[max(by_epoch)] for _, by_epoch, secs, _ in curves]):
                lines += _budget_table(task, size, machine, budget, curves)
    return lines, points


def _budget_table(task: str, size: str, machine: str, budget: float, curves: list[Curve]) -> list[str]:
    """One equal-compute table: the curves that reach ``budget``, each read at its snapshot
    nearest it (within ``NEAR``); nothing when fewer than two do."""
    read = []
    for name, by_epoch, secs, ran_on in curves:
        if secs[max(by_epoch)] < budget:
            continue
        epoch = nearest_epoch({e: secs[e] for e in by_epoch}, budget)
        if abs(math.log(secs[epoch] / budget)) <= math.log(NEAR):
            read.append((name, epoch, secs[epoch], ran_on, by_epoch))
    if len(read) < 2:
        return []
    read.sort(key=lambda r: -_mean(r[4][r[1]][1]))
    first = read[0][4][read[0][1]]
    title = f"**{task}**, {size} encoders on {machine}: budget {budget:,.0f} s (fold 9, frozen {HEAD} probe)"
    lines = [title, "", "| pretraining | read at epoch | pretraining (s) | ran on | seeds | macro AUROC "
             "| vs random init [95 % CI] | vs the first [95 % CI] |", "|---" * 8 + "|"]  # fmt: skip
    for name, epoch, spent, ran_on, by_epoch in read:
        point = by_epoch[epoch]
        seeds, auroc = len(point[1]), _mean(point[1])
        lines.append(f"| {name} | {epoch} | {spent:,.0f} | {ran_on} | {seeds} | {auroc:.4f} "
                     f"| {_gain(point, by_epoch[0])} | {_gain(point, first)} |")  # fmt: skip
    return [*lines, ""]


def scaling_figure(points: Points, out: Path, xlabel: str = "pretraining epochs") -> Path:
    """Fold-9 AUROC against pretraining epochs (or another measure of its length: ``xlabel``), one
    panel per task, one line per curve."""
    fig, axes, colour = _panels(points)
    for ax, task in zip(axes, sorted(points), strict=True):
        for name, pts in sorted(points[task].items()):
            e, m, ci = zip(*sorted(pts), strict=True)
            line = ax.plot(e, m, marker="o", label=name, color=colour[name])[0]
            ax.fill_between(e, [c[0] for c in ci], [c[1] for c in ci], alpha=0.15, color=line.get_color())
            if e[0] == 0:  # the level pretraining has to beat
                ax.axhline(m[0], ls="--", lw=0.8, color=line.get_color())
        ax.set(title=f"{task} (fold 9)", xlabel=f"{xlabel} (0 = random init, dashed)",
               ylabel="macro AUROC (band: seed 0's 95 % CI)")  # fmt: skip
        ax.grid(alpha=0.3)
    return _saved(fig, out)


def size_figure(points: SizePoints, out: Path) -> Path:
    """Fold-9 AUROC against the encoder's parameter count, one panel per task: per pretraining
    family its last snapshots (solid) and the random-init encoders of the same sizes (dashed), each
    point named by its size where the family has several."""
    fig, axes, colour = _panels(points)
    for ax, task in zip(axes, sorted(points), strict=True):
        for family, pts in sorted(points[task].items()):
            size, n, base, end = zip(*sorted(pts, key=lambda p: p[1]), strict=True)
            line = ax.plot(n, end, marker="o", label=family, color=colour[family])[0]
            ax.plot(n, base, marker="x", ls="--", color=line.get_color())
            # one-size families unnamed: their labels piled up at 128x4 (their size is in the table)
            for x, y, label in zip(n, end, size, strict=True) if len(pts) > 1 else ():
                ax.annotate(label, (x, y), textcoords="offset points", xytext=(3, 4), fontsize=7)
        ax.set_xscale("log")
        ax.set(title=f"{task} (fold 9)", xlabel="encoder parameters (log; x, dashed = random init)",
               ylabel="macro AUROC")  # fmt: skip
        ax.grid(alpha=0.3)
    return _saved(fig, out)


def _panels(points: dict[str, dict]) -> tuple[Figure, list[Axes], dict[str, str]]:
    """A figure of one panel per task, side by side, and one colour per curve, the same in every
    panel (matplotlib imported here: reports only)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(
        1, len(points), figsize=(4.2 * len(points), 3.8), squeeze=False, layout="constrained"
    )
    names = sorted({name for curves in points.values() for name in curves})
    return fig, list(axes[0]), {name: f"C{i % 10}" for i, name in enumerate(names)}


def _saved(fig: Figure, out: Path) -> Path:
    """Write ``fig`` with its curves' legend to ``out`` atomically and close it."""
    import matplotlib.pyplot as plt

    # one legend below the panels, of every panel's curves: inside one, it hid the points it sat on
    shown = {label: h for ax in fig.axes for h, label in zip(*ax.get_legend_handles_labels(), strict=True)}
    # one column under a single panel; the tight box widens the canvas to a legend wider than it
    ncol = 2 if len(fig.axes) > 1 else 1
    fig.legend(list(shown.values()), list(shown), loc="outside lower center", ncol=ncol, fontsize=7)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_suffix(".tmp.png")
    fig.savefig(tmp, dpi=80, bbox_inches="tight")
    plt.close(fig)
    tmp.replace(out)
    return out
