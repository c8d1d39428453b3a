"""The comparison grid (methods x tasks x label fractions x seeds) under one protocol; its tables
are written by ``results.py``.

Methods: CLEAR linear probe and CLEAR-HUG on the frozen pretrained encoder; the same heads on
the same encoder randomly initialised (frozen); full fine-tuning from the pretrained encoder;
supervised training from scratch; any method registered in ``RUNNERS``. Every choice is made on
fold 9: each run's epoch, the ranking of the pretraining methods and the verdict on the bundled
model. Fold 10 is only reported: its labels never reach a choice (tests/training/test_protocol.py
permutes them). Rows go to ``<run>/grid.jsonl`` and each row's per-record fold-9 and fold-10
probabilities to ``<run>/preds/<tag>.npz`` (``save_preds``), so that two methods can be compared
on the same test records, seed by seed (``metrics.paired_bootstrap``); finished rows are skipped
on re-runs (resumable).
"""

from __future__ import annotations

import json
import math
import os
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from functools import partial
from itertools import product
from pathlib import Path

import numpy as np
import torch
from torch import nn

from ecgviewer.ml import contract
from ecgviewer.ml.heads import HEADS
from ecgviewer.ml.model import Classifier
from training.context import Context, TaskData, lead_cls_features, predict, task_data
from training.data import datasets as D
from training.presets import LPFT_FINETUNE, Preset
from training.pretrain.methods import METHODS
from training.pretrain.pretraining import load_encoder, pretrain
from training.supervised.finetune import train_classifier, train_head
from training.validate import metrics as M

LABEL = {
    "clear-linear": "CLEAR, linear probe (frozen)",
    "clear-hug": "CLEAR-HUG (frozen encoder)",
    "clear-hug-linear": "CLEAR-HUG with the paper's linear experts (frozen encoder)",
    **{f"{m.name}-{head}": f"{m.label}, {text}" for m in METHODS.values() if m.name != "clear"
       for head, text in (("linear", "linear probe (frozen)"), ("hug", "HUG head (frozen encoder)"))},
    "finetune": "CLEAR, full fine-tune",
    "lpft": "CLEAR, LP-FT (frozen HUG head, then full fine-tune)",
    "exported": "the run's exported classifier (run.json; 100 % labels)",
    "random-linear": "random init, linear probe (frozen)",
    "random-hug": "random init, HUG (frozen encoder)",
    "random-hug-linear": "random init, HUG with linear experts (frozen encoder)",
    "random-patches-linear": "random init, patch encoder, linear probe (frozen)",
    "random-patches-hug": "random init, patch encoder, HUG (frozen encoder)",
    "scratch": "supervised from scratch",
    "scratch-noamp": "supervised from scratch, no amplitude feature (ablation)",
    "scratch-lpft": "random init, LP-FT (frozen HUG head, then full fine-tune)",
    "xresnet1d101": "xresnet1d101, supervised 1-D CNN (PTB-XL benchmark recipe)",
    "inception1d": "inception1d, supervised 1-D CNN (PTB-XL benchmark recipe)",
}  # fmt: skip
RANDOM_INIT_SEED = 1234  # the frozen random-init encoder, the same for every head and task
# The frozen random-init encoder of each encoder family, by the name its grid methods start with:
# what pretraining an encoder of that family must beat (ECG-JEPA's is the patch encoder).
RANDOM_INIT = {"random": contract.BEATS, "random-patches": contract.PATCHES}
BUNDLED_GOAL = 0.925  # super macro AUROC on fold 10 (issue 22: at least the xresnet1d101 benchmark's)
CLEAR_GAIN = 0.01  # the bundled-model verdict's noise floor for a cell with one seed (fold 9)
PER_CLASS_MAX = 5  # tasks with at most this many classes get a per-class table
# The finer tasks a supervised CNN is scored on from its model of all 71 statements at 100 % labels,
# as the bundled model is (``baselines.from_all_head``); below 100 % it trains on the task itself.
FROM_ALL = ("sub", "diag", "form", "rhythm")
MIN_SEEDS = 5  # seeds of every cell below 100 % labels: a subset's luck is as large as the gaps measured
# What the bundled model must not fall below, task by task at 100 % labels (``results.compare_with_bundled``):
# the supervised baselines (a method registered in ``RUNNERS`` joins by its name) and the frozen
# HUG head on the random encoder, the model without pretraining (issue 22 found the old bundled
# model below it).
BASELINES: list[str] = ["scratch", "xresnet1d101", "inception1d", "random-hug"]
# The frozen heads' protocols by name -> their minimum number of updates (``finetune.repeated``):
# "z-dim", the heads on standardised features (finetune.Standardise) for the probe loop's epochs,
# which at 1 % of the labels is one update an epoch; "z-dim-steps2000", the same with the small
# fractions repeated to at least 2,000 updates. ``grid --probe`` logs rows under either, so that
# fold 9 can compare them (PRETRAINING.md). PROBE is the one reported: z-dim-steps2000, higher
# on fold 9 for both encoders at 1 % and 10 % (by 0.04-0.08 mean AUROC over 6 tasks x 5 seeds,
# PRETRAINING.md, run scale-groups48); 7,000 updates added nothing on two fold-9 cells tried. Rows of
# other protocols (raw features, "standardised" per lead and dimension) stay in grid.jsonl,
# neither skipped as done nor reported.
PROBES: dict[str, int] = {"z-dim": 0, "z-dim-steps2000": 2000}
PROBE = "z-dim-steps2000"
# Fine-tuning from the pretrained encoder against the same network from random weights, each pair
# under one recipe: plain fine-tuning, and LP-FT (the shipped model's recipe, ``_lpft``)
FINETUNE_PAIRS: list[tuple[str, str]] = [("finetune", "scratch"), ("lpft", "scratch-lpft")]


def probe_steps(preset: Preset, probe: str = PROBE) -> int:
    """The least number of updates a frozen head makes under ``probe`` with ``preset``."""
    return math.ceil(PROBES[probe] * preset.probe_step_scale)


NO_PREDS = "†"  # marks table cells with rows logged before per-record predictions were saved


@dataclass
class RunOut:
    """What one grid cell's training produced: the row's figures and the predictions kept for
    paired comparisons. ``info`` goes into the row as it is (JSON: the selected epoch, say)."""

    n_train: int
    val_auroc: float  # fold-9 macro AUROC of the selected model: the only score choices use
    classes: list[str]
    val: D.Split  # fold 9
    test: D.Split  # fold 10
    val_probs: np.ndarray
    test_probs: np.ndarray
    info: dict = field(default_factory=dict)


# (ctx, task, label fraction, seed, checkpoint tag) -> the trained cell
Runner = Callable[[Context, str, float, int, str], RunOut]


def _selected_epoch(history: list[dict]) -> int:
    """The epoch ``engine.fit`` kept: the best fold-9 macro AUROC."""
    return max(history, key=lambda r: r["val_auroc"])["epoch"]


def _predicted(
    ctx: Context, model: Classifier, task: str, td: TaskData, val_auroc: float | None, info: dict
) -> RunOut:
    """A trained classifier's cell: its fold-9 and fold-10 probabilities of ``task``. A model
    without a ``task`` head is scored from its 71-statement ``all`` head (``Labels.aggregate``),
    and its fold-9 score (``val_auroc=None``) is then computed here."""
    _, test = ctx.ptbxl.split(task, [D.TEST_FOLD])
    val = td.val[task]
    own = task in model.tasks

    def probs(rows: np.ndarray) -> np.ndarray:
        out = predict(model, ctx.tensors, rows, ctx.preset.batch_eval, ctx.dist.device)
        return out[task] if own else ctx.ptbxl.labels.aggregate(task, out["all"])[1]

    val_probs = probs(val.rows)
    if val_auroc is None:
        val_auroc = M.macro(val.y, val_probs)[0]
    if not own:
        info = {**info, "from": "all"}
    return RunOut(len(td.train[task].rows), val_auroc, td.classes[task], val, test, val_probs,
                  probs(test.rows), info)  # fmt: skip


def _trained(ctx: Context, task: str, frac: float, seed: int, tag: str, encoder: nn.Module) -> RunOut:
    """Encoder plus HUG head trained on ``task`` with ``frac`` of the labels, selected on fold 9."""
    model, td, info = train_classifier(
        ctx, encoder, (task,), frac, seed, "hug", tag, min_steps=ctx.preset.grid_min_steps
    )
    return _predicted(ctx, model, task, td, info["best"], {"epoch": _selected_epoch(info["history"])})


def _bundled_run(ctx: Context, task: str) -> RunOut:
    """The run's exported model as the 100 % cell of ``task``: it was trained under the same
    protocol (multi-task), so training it again would only cost time. Its row names the weights
    file and their SHA-256, which is how ``results.compare_with_bundled`` finds and names it; its
    fold-9 score is its card's."""
    from ecgviewer.ml.bundle import load_model

    loaded = load_model(Path(json.loads((ctx.run_dir / "run.json").read_text())["weights"]))
    td = task_data(ctx, (task,), 1.0, 0)
    info = {"bundled": loaded.card["name"] + ".safetensors", "weights_sha256": loaded.card["weights_sha256"]}
    log_path = ctx.run_dir / "metrics.jsonl"
    log = map(json.loads, log_path.read_text().splitlines()) if log_path.is_file() else []
    tuned = [r for r in log if r["phase"].startswith("finetune-bundled")]  # none for a frozen export
    if tuned:
        info["epoch"] = max(tuned, key=lambda r: r["val_auroc"])["epoch"]
    own = loaded.card["labels"].get(task)
    return _predicted(ctx, loaded.model, task, td, own["val"]["auroc"] if own else None, info)


def _exported(ctx: Context, task: str, frac: float) -> RunOut:
    """The run's exported classifier (``run.json``): trained on all the labels, so only a 100 % cell."""
    if frac < 1:
        raise ValueError(f"'exported' is the run's model trained on 100 % of the labels, not {frac:.0%}")
    return _bundled_run(ctx, task)


def _finetune(ctx: Context, task: str, frac: float, seed: int, tag: str) -> RunOut:
    """CLEAR's encoder fine-tuned; at 100 % labels of a task the exported model has, that model."""
    if frac >= 1 and task in ctx.preset.tasks and (ctx.run_dir / "run.json").is_file():
        return _bundled_run(ctx, task)
    return _trained(ctx, task, frac, seed, tag, load_encoder(pretrain(ctx), ctx.preset.encoder, seed))


def _from_scratch(ctx: Context, task: str, frac: float, seed: int, tag: str, amplitude: bool) -> RunOut:
    """The same classifier from random weights (``amplitude=False``: the log-amplitude ablation)."""
    config = ctx.preset.encoder if amplitude else replace(ctx.preset.encoder, amplitude=False)
    return _trained(ctx, task, frac, seed, tag, load_encoder(None, config, seed))


def lpft_start(ctx: Context, task: str, frac: float, seed: int, pretrained: bool) -> Classifier:
    """LP-FT's starting classifier: the pretrained (or the grid's random-init) encoder under the
    frozen-encoder HUG cell of the same task, fraction and seed, z-score folded in (the grid's own
    checkpoint, so a head is trained once)."""
    from training.supervised.probe import folded_head

    path = pretrain(ctx) if pretrained else None
    rows, feats = features(ctx, path)
    cell = f"grid-{'clear' if pretrained else 'random'}-hug-{PROBE}-{task}-{frac}-{seed}"
    head, _ = folded_head(ctx, feats, rows, task, frac, seed, "hug", cell)
    enc = load_encoder(path, ctx.preset.encoder, seed=RANDOM_INIT_SEED)
    model = Classifier(enc.config, {task: head.fc.out_features}, "hug")
    model.encoder.load_state_dict(enc.state_dict())
    model.heads[task].load_state_dict(head.state_dict())
    return model


def _lpft(ctx: Context, task: str, frac: float, seed: int, tag: str, pretrained: bool) -> RunOut:
    """LP-FT (Kumar et al. 2022) as the shipped model is trained: ``lpft_start``, then encoder and
    head fine-tuned end to end with the preset's recipe (augmentation, layer-wise decay; no
    distillation) at LP-FT's rate. The pretrained and random-init cells differ in the start only."""
    init = lpft_start(ctx, task, frac, seed, pretrained)
    recipe = replace(ctx.preset.recipe, distill=0.0, from_probe=True)
    model, td, info = train_classifier(ctx, init.encoder, (task,), frac, seed, "hug", tag,
                                       ctx.preset.grid_min_steps, recipe, init, LPFT_FINETUNE)  # fmt: skip
    return _predicted(ctx, model, task, td, info["best"], {"epoch": _selected_epoch(info["history"])})


def _cnn(ctx: Context, task: str, frac: float, seed: int, tag: str, arch: str) -> RunOut:
    """A supervised CNN baseline (``baselines.py``), epoch and aggregation chosen on fold 9."""
    from training.supervised import baselines

    scored = frac >= 1 and task in FROM_ALL
    if scored:
        o = baselines.from_all_head(ctx, arch, task, seed, min_steps=ctx.preset.grid_min_steps)
    else:
        o = baselines.run(ctx, arch, task, frac, seed, tag, min_steps=ctx.preset.grid_min_steps)
    best = max(o["info"]["history"], key=lambda r: r["val_auroc"])
    td, chosen = o["td"], {"epoch": best["epoch"], "aggregation": o["aggregation"]}
    val_auroc = M.macro(td.val[task].y, o["val_probs"])[0] if scored else best["val_auroc"]
    return RunOut(len(td.train[task].rows), val_auroc, o["classes"], td.val[task], o["test"],
                  o["val_probs"], o["test_probs"], chosen | ({"from": "all"} if scored else {}))  # fmt: skip


# Every method that trains its own model (all but the frozen-encoder heads, see ``frozen``).
RUNNERS: dict[str, Runner] = {
    "finetune": _finetune,
    "exported": lambda ctx, task, frac, seed, tag: _exported(ctx, task, frac),
    "scratch": partial(_from_scratch, amplitude=True),
    "scratch-noamp": partial(_from_scratch, amplitude=False),
    "lpft": partial(_lpft, pretrained=True),
    "scratch-lpft": partial(_lpft, pretrained=False),
    "xresnet1d101": partial(_cnn, arch="xresnet1d101"),
    "inception1d": partial(_cnn, arch="inception1d"),
}


def save_preds(path: Path, out: RunOut) -> None:
    """``out``'s per-record probabilities as ``.npz`` (written whole or not at all): ``classes``;
    ``val_ecg_id``, ``val_y``, ``val_probs`` (fold 9); ``test_ecg_id``, ``test_y``, ``test_probs``
    (fold 10). Probabilities are float32, rows in the order of the ecg_ids."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    with tmp.open("wb") as fh:
        np.savez_compressed(fh, classes=np.array(out.classes), val_ecg_id=out.val.ecg_id, val_y=out.val.y,
                            val_probs=out.val_probs.astype(np.float32), test_ecg_id=out.test.ecg_id,
                            test_y=out.test.y, test_probs=out.test_probs.astype(np.float32))  # fmt: skip
    os.replace(tmp, path)


def load_preds(row: dict) -> dict[str, np.ndarray] | None:
    """A row's saved predictions (``save_preds``), or None for a row logged before they were kept."""
    from training.data.keep import load_npz

    return load_npz(row["preds"]) if "preds" in row else None


def _current(row: dict, probe: str | None) -> bool:
    """Whether a logged row was made under the ``probe`` protocol (None: any)."""
    return probe is None or not frozen(row["method"]) or row.get("probe") == probe


def read_rows(path: Path, probe: str | None = PROBE) -> list[dict]:
    """The rows of a grid log made under ``probe`` (the reported protocol by default, None: all);
    a row's ``preds`` becomes the path of its predictions."""
    if not path.is_file():
        return []
    logged = map(json.loads, filter(str.strip, path.read_text().splitlines()))
    rows = [r for r in logged if _current(r, probe)]
    return [r | {"preds": path.parent / "preds" / r["preds"]} if "preds" in r else r for r in rows]


def _done(path: Path, probe: str) -> set[tuple]:
    return {(r["method"], r["task"], r["fraction"], r["seed"]) for r in read_rows(path, probe)}


def frozen(method: str) -> tuple[str | None, str] | None:
    """(pretraining method or None for random init, head) of a frozen-encoder grid method
    (``<method>-<head>``; a head's name may hold a dash, ``hug-linear``)."""
    for head in sorted(HEADS, key=len, reverse=True):
        ssl = method.removesuffix(f"-{head}")
        if ssl != method and (ssl in METHODS or ssl in RANDOM_INIT):
            return (None if ssl in RANDOM_INIT else ssl), head
    return None


def random_family(method: str) -> str:
    """The encoder family (``contract.BEATS`` or ``PATCHES``) of a random-init grid method."""
    found = frozen(method)
    if found is None or found[0] is not None:
        raise ValueError(f"{method!r} is not a random-init frozen-encoder method")
    return RANDOM_INIT[method.removesuffix(f"-{found[1]}")]


def _frozen_run(
    ctx: Context,
    rows: np.ndarray,
    feats: torch.Tensor,
    method: str,
    task: str,
    frac: float,
    seed: int,
    tag: str,
    probe: str,
) -> RunOut:
    """A linear or HUG head on the cached frozen features ``feats`` of cache ``rows``, trained
    under the ``probe`` protocol."""
    steps = probe_steps(ctx.preset, probe)
    model, td, info = train_head(ctx, feats, rows, task, frac, seed, frozen(method)[1], tag, steps)
    _, test = ctx.ptbxl.split(task, [D.TEST_FOLD])
    pos = {int(r): i for i, r in enumerate(rows)}

    def probs(split: D.Split) -> np.ndarray:
        with torch.no_grad():
            return torch.sigmoid(model(feats[[pos[int(r)] for r in split.rows]])).numpy()

    val = td.val[task]
    epoch = {"epoch": _selected_epoch(info["history"])}
    return RunOut(
        len(td.train[task].rows), info["best"], td.classes[task], val, test, probs(val), probs(test), epoch
    )


def run_grid(
    ctx: Context, tasks: list[str], fractions: list[float], seeds: int, methods: list[str], probe: str = PROBE
) -> Path:
    """Train every missing cell and append its row; below 100 % labels at least ``MIN_SEEDS`` seeds;
    the frozen heads under the ``probe`` protocol (``PROBES``)."""
    if probe not in PROBES:
        raise ValueError(f"unknown probe protocol {probe!r}; choose from {', '.join(PROBES)}")
    unknown = [m for m in methods if m not in LABEL]
    if unknown:
        raise ValueError(f"unknown grid methods {unknown}; choose from {', '.join(LABEL)}")
    below = max(seeds, MIN_SEEDS)
    if below > seeds and any(f < 1 for f in fractions):
        print(f"grid: {below} seeds instead of {seeds} below 100 % labels (at least {MIN_SEEDS})",
              file=sys.stderr, flush=True)  # fmt: skip
    out = ctx.run_dir / "grid.jsonl"
    done = _done(out, probe)
    feats: dict[str, tuple[np.ndarray, torch.Tensor]] = {}  # pretraining method or random family
    for method, task, frac in product(methods, tasks, fractions):
        for seed in range(below if frac < 1 else 1):
            if (method, task, frac, seed) in done:
                continue
            t0 = time.perf_counter()
            if frozen(method):
                tag = f"grid-{method}-{probe}-{task}-{frac}-{seed}"  # not an old run's checkpoint
                ssl = frozen(method)[0]
                key = ssl or random_family(method)
                if key not in feats:
                    feats[key] = features(ctx, pretrain(ctx, method=ssl)) if ssl else features(ctx, None, key)
                res = _frozen_run(ctx, *feats[key], method, task, frac, seed, tag, probe)
            else:
                tag = f"grid-{method}-{task}-{frac}-{seed}"
                res = RUNNERS[method](ctx, task, frac, seed, tag)
            save_preds(ctx.run_dir / "preds" / f"{tag}.npz", res)
            row = {
                "method": method, "task": task, "fraction": frac, "seed": seed, "n_train": res.n_train,
                "val_auroc": res.val_auroc, "test": M.report(res.test.y, res.test_probs, res.classes),
                "seconds": round(time.perf_counter() - t0, 1), "preds": f"{tag}.npz",
                **({"probe": probe} if frozen(method) else {}), **res.info,
            }  # fmt: skip
            with out.open("a") as fh:
                fh.write(json.dumps(row) + "\n")
            from training.data.ledger import record  # the row's fold-10 figures: a read, logged

            figure = f"macro AUROC {row['test']['auroc']:.4f}"  # the model's hash where the row has one
            record(row.get("weights_sha256", "-"), task, figure, f"`grid` cell {tag}")
            # progress shows fold 9 only: fold 10 is read in the report, never while choosing
            shown = {k: row[k] for k in ("method", "task", "fraction", "seed", "val_auroc")}
            print(json.dumps(shown), flush=True)
    return out


def features(
    ctx: Context, encoder: Path | None, family: str = contract.BEATS
) -> tuple[np.ndarray, torch.Tensor]:
    """The cache rows with a record and their frozen lead-[CLS] features, kept on disk beside the
    run (keyed by the encoder's SHA-256, or the fixed random-init seed and, beyond beat tokens,
    the ``family`` a random-init encoder is built in), so later grid invocations skip the encoder
    pass. A pretrained encoder's family is its file's."""
    from ecgviewer.weights import sha256

    rows = np.flatnonzero([not r.startswith("!") for r in ctx.ptbxl.cache.ids])
    beats = family == contract.BEATS
    random_tag = f"random{RANDOM_INIT_SEED}" + ("" if beats else f"-{family}")
    tag = sha256(encoder)[:12] if encoder is not None else random_tag
    path = ctx.run_dir / f"features-{tag}-{len(rows)}.pt"
    if path.is_file():
        return rows, torch.load(path, weights_only=True)
    enc = load_encoder(encoder, ctx.preset.encoder if beats else ctx.preset.patch, seed=RANDOM_INIT_SEED)
    f = lead_cls_features(enc, ctx.tensors, rows, ctx.preset.batch_eval, ctx.dist.device)
    path.parent.mkdir(parents=True, exist_ok=True)  # a grid of random-init heads pretrains nothing first
    torch.save(f, path.with_suffix(".tmp"))
    path.with_suffix(".tmp").replace(path)
    return rows, f
