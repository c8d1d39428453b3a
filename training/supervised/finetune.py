"""Supervised training on top of an encoder: full fine-tuning (from random heads, or from the
frozen-encoder probe's heads: LP-FT) and heads on cached frozen features; every run selected
on fold 9."""

from __future__ import annotations

import math
from dataclasses import replace
from pathlib import Path

import numpy as np
import torch
from torch import nn

from ecgviewer.ml import contract
from ecgviewer.ml.beats import Encoder, EncoderConfig
from ecgviewer.ml.heads import HEADS
from ecgviewer.ml.model import Classifier
from training.context import Context, TaskData, predict, seed_all, task_data
from training.data import datasets as D
from training.data.augment import augment, tokenise_batch
from training.engine import Dist, LoopConfig, fit
from training.presets import Recipe
from training.pretrain.pretraining import load_encoder
from training.validate import metrics as M


def _joint_rows(td: TaskData) -> tuple[np.ndarray, dict[str, torch.Tensor], dict[str, torch.Tensor]]:
    """Union of the training rows of all tasks, with per-task targets and 'has label' masks."""
    rows = np.unique(np.concatenate([s.rows for s in td.train.values()]))
    pos = {r: i for i, r in enumerate(rows)}
    y, has = {}, {}
    for task, s in td.train.items():
        yt = torch.zeros(len(rows), len(td.classes[task]))
        ht = torch.zeros(len(rows), dtype=torch.bool)
        idx = torch.tensor([pos[r] for r in s.rows], dtype=torch.long)
        yt[idx] = torch.from_numpy(s.y)
        ht[idx] = True
        y[task], has[task] = yt, ht
    return rows, y, has


def _val_auroc(probs: dict[str, np.ndarray], val: dict[str, D.Split]) -> dict:
    out = {f"val_{t}_auroc": M.macro(val[t].y, p)[0] for t, p in probs.items()}
    out["val_auroc"] = float(np.mean(list(out.values())))
    return out


def layer_groups(model: Classifier, lr: float, decay: float, fresh_lr: float | None = None) -> list[dict]:
    """AdamW parameter groups with layer-wise learning-rate decay (BEiT, Bao et al. 2022): the
    heads and final norm learn at ``lr``, encoder block i at ``lr * decay ** (depth - i)``, the
    embeddings at ``lr * decay ** (depth + 1)``; decay 1 is one group. The RR input layers, which
    no pretext trains and ``with_rr`` adds at zero, learn at ``fresh_lr`` (default ``lr``)."""
    blocks = getattr(model.encoder, "blocks", [])
    depth = len(blocks)
    layer_of = {id(q): i + 1 for i, blk in enumerate(blocks) for q in blk.parameters()}
    head = {id(q) for q in model.heads.parameters()} | {id(q) for q in model.encoder.norm.parameters()}
    fresh = [
        q for name in ("rr", "rhythm") if (m := getattr(model.encoder, name, None)) for q in m.parameters()
    ] + (list(model.rhythm_logits.parameters()) if model.rhythm_logits is not None else [])
    groups: dict[int, list] = {}
    for q in model.parameters():
        if any(q is f for f in fresh):
            continue
        layer = depth + 1 if id(q) in head else layer_of.get(id(q), 0)
        groups.setdefault(layer, []).append(q)
    out = [{"params": qs, "lr": lr * decay ** (depth + 1 - k)} for k, qs in sorted(groups.items())]
    return out + ([{"params": fresh, "lr": fresh_lr or lr}] if fresh else [])


def teacher_files(run_dir: Path, task: str) -> list[Path]:
    """The supervised baselines' predictions for ``task`` in ``run_dir`` (training/supervised/baselines.py),
    each trained on all the training labels of that task."""
    return sorted(run_dir.glob(f"teacher-*-{task}-1.0-*.npz"))


def teacher_probs(run_dir: Path, task: str, n_rows: int) -> np.ndarray | None:
    """The mean of the supervised baselines' probabilities for ``task`` (every cache row; NaN
    where a row has none), from ``teacher_files``; None when no baseline of the task has been
    trained."""
    files = teacher_files(run_dir, task)
    if not files:
        return None
    total = None
    for f in files:
        z = np.load(f)
        one = np.full((n_rows, z["probs"].shape[1]), np.nan, dtype=np.float32)
        one[z["rows"]] = z["probs"]
        total = one if total is None else total + one
    return total / len(files)


def model_teacher(ctx: Context, model_file: Path) -> list[Path]:
    """An exported classifier's probabilities for every cache row, one ``teacher-*.npz`` per task
    in the run folder, so a continued fine-tune can distil from the model it starts from when its
    own teachers (the CNN baselines) are gone. The classes must be the preset's, in its order."""
    from ecgviewer.ml.bundle import load_model
    from ecgviewer.weights import sha256
    from training.supervised.baselines import save_npz

    loaded = load_model(model_file)
    every = ctx.ptbxl.cache.index_of(str(e) for e in ctx.ptbxl.ecg_id)
    probs = predict(loaded.model, ctx.tensors, every, ctx.preset.batch_eval, ctx.dist.device)
    source = f"{model_file.name} ({sha256(model_file)[:12]}), contract {contract.CONTRACT_VERSION} tokens"
    out = []
    for task in ctx.preset.tasks:
        classes, _ = ctx.ptbxl.split(task, D.TRAIN_FOLDS)
        if loaded.classes.get(task) != classes:
            raise ValueError(f"{model_file}: its {task!r} classes are not the preset's")
        path = ctx.run_dir / f"teacher-{model_file.stem}-{task}-1.0-0.npz"
        save_npz(path, rows=every, probs=probs[task], classes=np.array(classes), source=np.array(source))
        out.append(path)
    return out


def distil(
    y: dict[str, torch.Tensor], rows: np.ndarray, has: dict[str, torch.Tensor], run_dir: Path, n_rows: int,
    weight: float,
) -> list[str]:  # fmt: skip
    """Blend ``weight`` of the teachers' mean probabilities into the targets ``y`` of every task
    that has a teacher in ``run_dir`` (``teacher_probs``); the others keep their labels. Returns
    the tasks distilled; none at all, or a teacher that misses a labelled row, is an error."""
    done = []
    for t in y:
        teacher = teacher_probs(run_dir, t, n_rows)
        if teacher is None:
            continue
        if np.isnan(teacher[rows[has[t].numpy()]]).any():
            raise FileNotFoundError(f"distillation: the baselines of {t!r} in {run_dir} miss training rows")
        soft = torch.from_numpy(np.nan_to_num(teacher[rows]))
        y[t] = (1 - weight) * y[t] + weight * soft
        done.append(t)
    if not done:
        raise FileNotFoundError(f"distillation needs a baseline's predictions (teacher-*.npz) in {run_dir}")
    print(f"distillation ({weight:g} of the teachers' probabilities): {', '.join(done)}; "
          f"labels only: {', '.join(t for t in y if t not in done) or 'none'}", flush=True)  # fmt: skip
    return done


def train_classifier(
    ctx: Context,
    encoder: Encoder,
    tasks: tuple[str, ...],
    frac: float,
    seed: int,
    head: str,
    phase: str,
    min_steps: int = 0,
    recipe: Recipe | None = None,
    init: Classifier | None = None,
    loop: LoopConfig | None = None,
) -> tuple[Classifier, TaskData, dict]:
    """Full fine-tuning (or training from scratch) of encoder + heads, selected on fold 9.

    With ``min_steps``, a small label fraction is repeated within each epoch until the run makes
    that many updates; the epoch count (and so the number of fold-9 evaluations) stays fixed.
    ``recipe`` (default: plain fine-tuning) adds signal-space augmentation, layer-wise
    learning-rate decay and distillation from the supervised baselines' mean probabilities.
    ``init``, a classifier of the same shape, gives the starting heads too (LP-FT); ``loop``
    replaces the preset's fine-tuning schedule (LP-FT's lower rate).
    """
    recipe = recipe or Recipe()
    td = task_data(ctx, tasks, frac, seed)
    seed_all(seed)
    model = Classifier(encoder.config, {t: len(td.classes[t]) for t in tasks}, head)
    model.encoder.load_state_dict(encoder.state_dict())
    if init is not None:
        model.load_state_dict(init.state_dict())
    rows, y, has = _joint_rows(td)
    tensors, dev = ctx.tensors, ctx.dist.device
    distilled: list[str] = []
    if recipe.distill > 0:
        distilled = distil(y, rows, has, ctx.run_dir, len(tensors.values), recipe.distill)
    bce = nn.BCEWithLogitsLoss(reduction="none")
    loop = loop or ctx.preset.finetune
    sample = repeated(len(rows), min_steps, loop)
    gen = torch.Generator().manual_seed(seed)

    def inputs(idx: torch.Tensor) -> tuple:
        chosen = rows[idx.numpy()]
        if recipe.augment is None:
            return tensors.batch(chosen, dev, model.patch_spec)
        b = tensors.full(chosen, dev)
        sig, peaks, present, length = augment(b.signal, b.rpeaks, b.present, b.length, recipe.augment, gen)
        if model.patch_spec is not None:
            return (*contract.patchify(sig, present, model.patch_spec, length), None)
        return tokenise_batch(sig, peaks, present, length)

    def loss_fn(net: nn.Module, idx: torch.Tensor, step: int) -> torch.Tensor:
        idx = sample[idx]
        logits = net(*inputs(idx))
        loss = torch.zeros((), device=dev)
        for t in tasks:
            m = has[t][idx].to(dev)
            per = bce(logits[t].float(), y[t][idx].to(dev)).mean(dim=1)
            loss = loss + (per * m).sum() / m.sum().clamp_min(1)
        return loss

    val_rows = np.unique(np.concatenate([s.rows for s in td.val.values()]))
    val_pos = {int(r): i for i, r in enumerate(val_rows)}

    def evaluate(m: nn.Module) -> dict:
        probs = predict(m, tensors, val_rows, ctx.preset.batch_eval, dev)
        return _val_auroc({t: probs[t][[val_pos[int(r)] for r in td.val[t].rows]] for t in tasks}, td.val)

    # a new RR layer (``with_rr``) learns at the rate heads are trained from scratch (the probe's)
    fresh_lr = ctx.preset.probe.lr
    params = layer_groups(model, loop.lr, recipe.layer_decay, fresh_lr) if recipe.layer_decay < 1 else None
    model, info = fit(
        model,
        loss_fn,
        len(sample),
        loop,
        ctx.run_dir,
        phase,
        ctx.dist,
        evaluate,
        "val_auroc",
        seed,
        params=params,
        progress=ctx.progress,
    )
    return model, td, info | {"distilled": distilled}


def repeated(n: int, min_steps: int, loop: LoopConfig) -> torch.Tensor:
    """The indices of ``n`` training examples, repeated within each epoch until ``loop`` makes at
    least ``min_steps`` updates: a small label fraction then trains as long as a large one, while
    the epoch count (so the number of fold-9 evaluations) stays fixed."""
    per_epoch = math.ceil(min_steps / loop.epochs) * loop.batch_size
    return torch.from_numpy(np.resize(np.arange(n), max(n, per_epoch)))


class Standardise(nn.Module):
    """A fixed z-score per feature dimension from the head's training rows, pooled over the 12
    leads (MAE's linear-probe BatchNorm without affine, He et al. 2022): encoders whose features
    differ in offset and scale (ECG-JEPA's share a large common offset) reach the head on one
    footing, and test rows use the same figures. Pooled, because the leads share one feature space
    and their offsets from each other tell the HUG experts which lead is which: a z-score per lead
    and dimension dropped CLEAR-HUG on ``sub`` at 1 % labels from AUROC 0.73 to 0.53 (measured)."""

    def __init__(self, train: torch.Tensor) -> None:
        super().__init__()
        flat = train.reshape(-1, train.shape[-1])
        self.register_buffer("mean", flat.mean(0))
        self.register_buffer("sd", flat.std(0, correction=0).clamp_min(1e-6))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return (x - self.mean) / self.sd


def train_head(
    ctx: Context,
    feats: torch.Tensor,
    feat_rows: np.ndarray,
    task: str,
    frac: float,
    seed: int,
    head: str,
    phase: str,
    min_steps: int = 0,
) -> tuple[nn.Module, TaskData, dict]:
    """A linear or HUG head on cached frozen [CLS] features, standardised, selected on fold 9;
    at least ``min_steps`` updates (``repeated``)."""
    td = task_data(ctx, (task,), frac, seed)
    pos = {int(r): i for i, r in enumerate(feat_rows)}
    tr = torch.tensor([pos[int(r)] for r in td.train[task].rows])
    va = torch.tensor([pos[int(r)] for r in td.val[task].rows])
    y = torch.from_numpy(td.train[task].y)
    seed_all(seed)
    model = nn.Sequential(Standardise(feats[tr]), HEADS[head](feats.shape[-1], len(td.classes[task])))
    bce = nn.BCEWithLogitsLoss()
    loop = ctx.preset.probe
    loop = LoopConfig(loop.epochs, min(loop.batch_size, len(tr)), loop.lr, loop.weight_decay, loop.warmup)
    sample = repeated(len(tr), min_steps, loop)

    def loss_fn(net: nn.Module, idx: torch.Tensor, step: int) -> torch.Tensor:
        idx = sample[idx]
        return bce(net(feats[tr[idx]]), y[idx])

    def evaluate(m: nn.Module) -> dict:
        p = torch.sigmoid(m(feats[va])).numpy()
        return {"val_auroc": M.macro(td.val[task].y, p)[0]}

    at = {"run_dir": ctx.run_dir, "phase": phase, "d": Dist(), "seed": seed, "progress": False}
    model, info = fit(model, loss_fn, len(sample), loop, evaluate=evaluate, select="val_auroc", **at)
    return model, td, info


def bundled_model(
    ctx: Context, encoder_path: Path, seed: int = 0, method: str = "clear", init: Classifier | None = None,
    start: str = "lpft",
) -> tuple[Classifier, TaskData, dict]:  # fmt: skip
    """The exported classifier: ``method``'s encoder fine-tuned with a HUG head on every label;
    ``init`` gives the starting heads: the frozen-encoder probe's (``training/supervised/probe.py``, LP-FT,
    ``start`` "lpft") or an exported classifier's (``start`` "continued", ``continued_from``)."""
    enc = load_encoder(encoder_path, ctx.preset.encoder, seed)
    phase = "finetune-bundled" if method == "clear" else f"finetune-{method}"
    phase += f"-{start}" if init is not None else ""
    return train_classifier(
        ctx, enc, ctx.preset.tasks, 1.0, seed, "hug", phase, recipe=ctx.preset.recipe, init=init
    )


def with_rr(model: Classifier, logits: bool = False) -> Classifier:
    """``model`` with the beat encoder's RR-interval inputs added (``EncoderConfig.rr``) and, with
    ``logits``, the RR statistics' direct term in the logits (``rr_logits``): the new layers start
    at zero, so the returned classifier computes exactly what ``model`` does."""
    config = model.encoder.config
    if not isinstance(config, EncoderConfig):
        return model
    wanted = replace(config, rr=True, rr_logits=config.rr_logits or logits)
    if wanted == config:
        return model
    classes = {t: int(h.fc.out_features) for t, h in model.heads.items()}
    grown = Classifier(wanted, classes, model.head_kind)
    missing, unexpected = grown.load_state_dict(model.state_dict(), strict=False)
    if unexpected or any(
        not k.startswith(("encoder.rr.", "encoder.rhythm.", "rhythm_logits.")) for k in missing
    ):
        raise ValueError(f"cannot add the RR input: missing {missing}, unexpected {unexpected}")
    return grown.train(model.training)


def continued_from(ctx: Context, weights: Path, method: str) -> tuple[Path, Classifier]:
    """An exported classifier as the start of a longer fine-tune: its encoder (written to the run
    folder, as ``bundled_model`` reads encoders) and the classifier itself (the starting heads).
    A preset whose encoder has the RR input adds it (``with_rr``). What its encoder was pretrained
    on and the runs it descends from come from its card (``ctx.lineage``, ``ctx.ancestry``)."""
    from ecgviewer.ml.bundle import load_model
    from ecgviewer.weights import read_card, sha256
    from training.pretrain.pretraining import save_encoder
    from training.supervised.lineage import ancestry, beside, lineage

    model = load_model(weights).model
    ctx.start = {"file": weights.name, "sha256": sha256(weights)}
    ctx.lineage = lineage(read_card(weights))
    ctx.ancestry = ancestry(ctx.start, beside(weights))
    if not isinstance(model, Classifier) or set(model.tasks) != set(ctx.preset.tasks):
        raise ValueError(f"{weights}: not one classifier with the heads {', '.join(ctx.preset.tasks)}")
    if getattr(ctx.preset.encoder, "rr", False):
        model = with_rr(model, getattr(ctx.preset.encoder, "rr_logits", False))
    out = save_encoder(model.encoder, ctx.run_dir / "encoder-continued.safetensors", model.kind, method,
                       f"those of {weights.name}'s card")  # fmt: skip
    return out, model
