"""The phases: pretrain (CLEAR), fine-tune or train heads, evaluate, export. Each is a function
of a ``Context`` so the CLI, the presets and the tests compose them the same way."""

from __future__ import annotations

import json
import math
import platform
import subprocess
import sys
import time
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path

import numpy as np
import torch
from torch import nn

from ecgviewer.ml import bundle, contract
from ecgviewer.ml.beats import Encoder, EncoderConfig
from ecgviewer.ml.heads import HEADS
from ecgviewer.ml.model import Classifier
from ecgviewer.ml.patches import PatchConfig
from ecgviewer.weights import write_card
from training import data as D
from training import metrics as M
from training.augment import augment, tokenise_batch
from training.batch import Batch
from training.engine import Dist, LoopConfig, barrier, fit, init_distributed, schedule
from training.methods import METHODS, PretrainSet, lead_features, new_encoder
from training.presets import Preset, Recipe

# The app shows a class only if it was learnable on validation data (rule recorded in the card).
SURFACE_MIN_AUROC = 0.85
SURFACE_MIN_SUPPORT = 20


@dataclass
class Tensors:
    """A token cache loaded into memory as torch tensors."""

    values: torch.Tensor
    pad: torch.Tensor
    time_bin: torch.Tensor
    signal: torch.Tensor
    length: torch.Tensor
    present: torch.Tensor
    rpeaks: torch.Tensor

    @classmethod
    def of(cls, caches: list[D.TokenCache]) -> Tensors:
        cat = lambda name: torch.from_numpy(np.concatenate([np.asarray(getattr(c, name)) for c in caches]))  # noqa: E731
        return cls(*(cat(f.name) for f in fields(cls)))

    def batch(
        self, rows: torch.Tensor | np.ndarray, device: torch.device, spec: contract.PatchSpec | None = None
    ) -> tuple[torch.Tensor | None, ...]:
        """A classifier's inputs for ``rows``: beat tokens, or (with a patch ``spec``) the patches
        of the stored window, with no time bins."""
        rows = torch.as_tensor(rows)
        if spec is not None:
            b = self.full(rows, device)
            return (*contract.patchify(b.signal, b.present, spec, b.length), None)
        return self.values[rows].to(device), self.pad[rows].to(device), self.time_bin[rows].to(device)

    def full(self, rows: torch.Tensor | np.ndarray, device: torch.device, index: torch.Tensor | None = None
             ) -> Batch:  # fmt: skip
        """Everything a pretraining objective may use; ``index`` becomes ``Batch.rows``."""
        rows = torch.as_tensor(rows)
        got = {f.name: getattr(self, f.name)[rows].to(device) for f in fields(self)}
        return Batch(**got, rows=(rows if index is None else torch.as_tensor(index)).to(device))


@dataclass
class Context:
    data_root: Path
    run_dir: Path
    cache_dir: Path
    preset: Preset
    workers: int = 2
    unlabelled: list[Path] = field(default_factory=list)
    progress: bool = True
    dist: Dist = field(default_factory=init_distributed)
    _ptbxl: D.PtbxlData | None = None
    _tensors: Tensors | None = None
    timings: dict = field(default_factory=dict)

    @property
    def ptbxl(self) -> D.PtbxlData:
        if self._ptbxl is None:
            t0 = time.perf_counter()
            self._ptbxl = rank0_first(
                self.dist,
                lambda: D.load_ptbxl(
                    self.data_root, self.cache_dir, self.workers, self.preset.limit, self.progress
                ),
            )
            # the build time is kept in the cache, so a resumed run still reports it
            self.timings["tokenise_s"] = self._ptbxl.cache.build_s
            self.timings["tokenise_open_s"] = round(time.perf_counter() - t0, 1)
        return self._ptbxl

    @property
    def tensors(self) -> Tensors:
        if self._tensors is None:
            self._tensors = Tensors.of([self.ptbxl.cache])
        return self._tensors


def rank0_first(d: Dist, build):
    """Run ``build`` on rank 0 first (it may write the token cache), then on the other ranks,
    which then find the cache complete and only open it."""
    if not d.main:
        barrier(d)
    out = build()
    if d.main:
        barrier(d)
    return out


def seed_all(seed: int) -> None:
    torch.manual_seed(seed)
    np.random.seed(seed)


# --------------------------------------------------------------------------- pretraining
def encoder_path(run_dir: Path, method: str) -> Path:
    """Where a method's pretrained encoder goes (CLEAR's keeps the name the bundled run used)."""
    return run_dir / ("encoder.safetensors" if method == "clear" else f"encoder-{method}.safetensors")


def pretrain(ctx: Context, seed: int = 0, method: str = "clear") -> Path:
    """Pretrain ``method`` on PTB-XL training folds (labels unused) plus unlabelled WFDB folders;
    saves the encoder (``encoder_path``) and returns that path. A finished run is not repeated."""
    from safetensors.torch import save_file

    m = METHODS[method]
    out = encoder_path(ctx.run_dir, method)
    phase = "pretrain" if method == "clear" else f"pretrain-{method}"
    info_path = ctx.run_dir / f"{phase}.json"
    if out.is_file():
        if info_path.is_file():  # the same keys a fresh run reports (the file holds more)
            done = json.loads(info_path.read_text())
            ctx.timings.update({k: done[k] for k in ("pretrain_s", "pretrain_records") if k in done})
        return out
    pt = ctx.ptbxl
    _, train = pt.split("all", D.TRAIN_FOLDS)
    extra_caches = rank0_first(
        ctx.dist, lambda: D.load_unlabelled(ctx.unlabelled, ctx.cache_dir, ctx.workers, ctx.progress)
    )
    caches = [pt.cache, *extra_caches]
    tensors = Tensors.of(caches)
    offset = len(pt.cache)
    extra = np.arange(offset, len(tensors.values))
    rows = torch.from_numpy(np.concatenate([train.rows, extra]))
    seed_all(seed)
    data = PretrainSet(tensors, rows.numpy(), caches, ctx.workers, ctx.progress)
    model = m.build(ctx.preset, data, seed)
    loop = ctx.preset.schedules.get(method, ctx.preset.pretrain)
    total = schedule(len(rows), loop, ctx.dist.world)[2]

    def loss_fn(net: nn.Module, idx: torch.Tensor, step: int) -> torch.Tensor:
        return net(tensors.full(rows[idx], ctx.dist.device, idx), step / total)

    def after_step(step: int) -> dict[str, float]:
        if hasattr(model, "after_step"):
            model.after_step((step + 1) / total)
        return dict(model.parts)

    _, info = fit(model, loss_fn, len(rows), loop, ctx.run_dir, phase, ctx.dist, seed=seed,
                  progress=ctx.progress, after_step=after_step)  # fmt: skip
    # summed over epochs, so a resumed run reports its whole pretraining time
    timing = {
        "pretrain_s": round(sum(h["seconds"] for h in info["history"]), 1),
        "pretrain_records": {"ptbxl": len(train.rows), "unlabelled": len(extra)},
        "pretrain_steps": total,
        "pretrain_loop": loop.to_dict(),
        "preprocessing_s": data.timings,
        "hardware": hardware(),
    }
    ctx.timings.update({k: timing[k] for k in ("pretrain_s", "pretrain_records")})
    if ctx.dist.main:
        state = {k: v.detach().cpu().contiguous() for k, v in model.encoder.state_dict().items()}
        meta = {
            "encoder": json.dumps(model.encoder.config.to_dict()),
            "kind": m.kind,
            "method": method,
            "pretrain_ids": D.id_ranges(train.ecg_id),
        }
        save_file(state, str(out), metadata=meta)
        info_path.write_text(json.dumps(timing))
    return out


def load_encoder(path: Path | None, config: EncoderConfig | PatchConfig, seed: int = 0) -> nn.Module:
    """A pretrained encoder (its family and config read from the file), or (path None) a randomly
    initialised one with ``config``."""
    from safetensors import safe_open
    from safetensors.torch import load_file

    seed_all(seed)
    if path is None:
        return new_encoder("patches" if isinstance(config, PatchConfig) else "beats", config.to_dict())
    with safe_open(str(path), framework="pt") as f:
        meta = f.metadata() or {}
    enc = new_encoder(meta.get("kind", "beats"), json.loads(meta["encoder"]))
    enc.load_state_dict(load_file(str(path)))
    return enc


# --------------------------------------------------------------------------- prediction
@torch.no_grad()
def predict(
    model: Classifier, tensors: Tensors, rows: np.ndarray, batch: int, device: torch.device
) -> dict[str, np.ndarray]:
    model.eval().to(device)
    out: dict[str, list[np.ndarray]] = {}
    for i in range(0, len(rows), batch):
        logits = model(*tensors.batch(rows[i : i + batch], device, model.patch_spec))
        for task, z in logits.items():
            out.setdefault(task, []).append(torch.sigmoid(z.float()).cpu().numpy())
    return {task: np.concatenate(v) for task, v in out.items()}


@torch.no_grad()
def lead_cls_features(
    enc: nn.Module, tensors: Tensors, rows: np.ndarray, batch: int, device: torch.device
) -> torch.Tensor:
    """Frozen per-lead encoder outputs (N, 12, dim) for head-only training."""
    enc.eval().to(device)
    chunks = (tensors.full(rows[i : i + batch], device) for i in range(0, len(rows), batch))
    return torch.cat([lead_features(enc, b).cpu() for b in chunks])


# --------------------------------------------------------------------------- supervised phases
@dataclass
class TaskData:
    classes: dict[str, list[str]]
    train: dict[str, D.Split]
    val: dict[str, D.Split]


def task_data(ctx: Context, tasks: tuple[str, ...], frac: float, seed: int) -> TaskData:
    """Splits for each task; the label fraction subsets the *records* of the training folds,
    the same records for every task."""
    classes, train, val = {}, {}, {}
    for task in tasks:
        classes[task], train[task] = ctx.ptbxl.split(task, D.TRAIN_FOLDS)
        _, val[task] = ctx.ptbxl.split(task, [D.VAL_FOLD])
    pool = np.unique(np.concatenate([s.ecg_id for s in train.values()]))
    chosen = set(pool[D.fraction(len(pool), frac, seed)].tolist())
    for task, s in train.items():
        keep = np.array([e in chosen for e in s.ecg_id], dtype=bool)
        train[task] = D.Split(s.rows[keep], s.y[keep], s.ecg_id[keep])
    return TaskData(classes, train, val)


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


def layer_groups(model: Classifier, lr: float, decay: float) -> list[dict]:
    """AdamW parameter groups with layer-wise learning-rate decay (BEiT, Bao et al. 2022): the
    heads and final norm learn at ``lr``, encoder block i at ``lr * decay ** (depth - i)``, the
    embeddings at ``lr * decay ** (depth + 1)``; decay 1 is one group."""
    blocks = getattr(model.encoder, "blocks", [])
    depth = len(blocks)
    layer_of = {id(q): i + 1 for i, blk in enumerate(blocks) for q in blk.parameters()}
    head = {id(q) for q in model.heads.parameters()} | {id(q) for q in model.encoder.norm.parameters()}
    groups: dict[int, list] = {}
    for q in model.parameters():
        layer = depth + 1 if id(q) in head else layer_of.get(id(q), 0)
        groups.setdefault(layer, []).append(q)
    return [{"params": qs, "lr": lr * decay ** (depth + 1 - k)} for k, qs in sorted(groups.items())]


def teacher_probs(run_dir: Path, task: str, n_rows: int) -> np.ndarray | None:
    """The mean of the supervised baselines' probabilities for ``task`` (every cache row; NaN
    where a row has none), from ``<run_dir>/teacher-*-<task>-1.0-*.npz`` (training/baselines.py);
    None when no baseline of the task has been trained."""
    files = sorted(run_dir.glob(f"teacher-*-{task}-1.0-*.npz"))
    if not files:
        return None
    total = None
    for f in files:
        z = np.load(f)
        one = np.full((n_rows, z["probs"].shape[1]), np.nan, dtype=np.float32)
        one[z["rows"]] = z["probs"]
        total = one if total is None else total + one
    return total / len(files)


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
) -> tuple[Classifier, TaskData, dict]:
    """Full fine-tuning (or training from scratch) of encoder + heads, selected on fold 9.

    With ``min_steps``, a small label fraction is repeated within each epoch until the run makes
    that many updates; the epoch count (and so the number of fold-9 evaluations) stays fixed.
    ``recipe`` (default: plain fine-tuning) adds signal-space augmentation, layer-wise
    learning-rate decay and distillation from the supervised baselines' mean probabilities.
    ``init``, a classifier of the same shape, gives the starting heads too (LP-FT).
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
    if recipe.distill > 0:
        for t in tasks:
            teacher = teacher_probs(ctx.run_dir, t, len(tensors.values))
            if teacher is None or np.isnan(teacher[rows[has[t].numpy()]]).any():
                raise FileNotFoundError(
                    f"distillation needs the baselines' predictions of {t!r} in {ctx.run_dir}"
                )
            soft = torch.from_numpy(np.nan_to_num(teacher[rows]))
            y[t] = (1 - recipe.distill) * y[t] + recipe.distill * soft
    bce = nn.BCEWithLogitsLoss(reduction="none")
    loop = ctx.preset.finetune
    per_epoch = math.ceil(min_steps / loop.epochs) * loop.batch_size
    sample = torch.from_numpy(np.resize(np.arange(len(rows)), max(len(rows), per_epoch)))
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

    params = layer_groups(model, loop.lr, recipe.layer_decay) if recipe.layer_decay < 1 else None
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
    return model, td, info


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
) -> tuple[nn.Module, TaskData, dict]:
    """A linear or HUG head on cached frozen [CLS] features, standardised, selected on fold 9."""
    td = task_data(ctx, (task,), frac, seed)
    pos = {int(r): i for i, r in enumerate(feat_rows)}
    tr = torch.tensor([pos[int(r)] for r in td.train[task].rows])
    va = torch.tensor([pos[int(r)] for r in td.val[task].rows])
    y = torch.from_numpy(td.train[task].y)
    seed_all(seed)
    model = nn.Sequential(Standardise(feats[tr]), HEADS[head](feats.shape[-1], len(td.classes[task])))
    bce = nn.BCEWithLogitsLoss()

    def loss_fn(net: nn.Module, idx: torch.Tensor, step: int) -> torch.Tensor:
        return bce(net(feats[tr[idx]]), y[idx])

    def evaluate(m: nn.Module) -> dict:
        p = torch.sigmoid(m(feats[va])).numpy()
        return {"val_auroc": M.macro(td.val[task].y, p)[0]}

    loop = ctx.preset.probe
    loop = LoopConfig(loop.epochs, min(loop.batch_size, len(tr)), loop.lr, loop.weight_decay, loop.warmup)
    model, info = fit(
        model, loss_fn, len(tr), loop, ctx.run_dir, phase, Dist(), evaluate, "val_auroc", seed, progress=False
    )
    return model, td, info


# --------------------------------------------------------------------------- export
def surfaced(val_report: dict, cls: str) -> bool:
    """The rule for showing a class in the app, on fold-9 figures only."""
    auroc = val_report["per_class_auroc"][cls] or 0.0
    return auroc >= SURFACE_MIN_AUROC and val_report["support"][cls] >= SURFACE_MIN_SUPPORT


def git_commit() -> str | None:
    try:
        return subprocess.run(
            ["git", "rev-parse", "HEAD"],
            capture_output=True,
            text=True,
            check=True,
            cwd=Path(__file__).parent,
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return None


def hardware() -> dict:
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    gpu = torch.cuda.get_device_name(0) if torch.cuda.is_available() else None
    return {
        "cpu": cpu,
        "threads": torch.get_num_threads(),
        "gpu": gpu,
        "torch": torch.__version__,
        "python": platform.python_version(),
    }


def bundled_model(
    ctx: Context, encoder_path: Path, seed: int = 0, method: str = "clear", init: Classifier | None = None
) -> tuple[Classifier, TaskData, dict]:
    """The exported classifier: ``method``'s encoder fine-tuned with a HUG head on every label;
    ``init`` (the frozen-encoder probe, ``training/probe.py``) gives the starting heads (LP-FT)."""
    enc = load_encoder(encoder_path, ctx.preset.encoder, seed)
    phase = "finetune-bundled" if method == "clear" else f"finetune-{method}"
    phase += "-lpft" if init is not None else ""
    return train_classifier(
        ctx, enc, ctx.preset.tasks, 1.0, seed, "hug", phase, recipe=ctx.preset.recipe, init=init
    )


def evaluate_split(model: Classifier, ctx: Context, task: str, split: str, n_boot: int = 1000) -> dict:
    """Metrics of ``model``'s ``task`` head on fold 9 (``val``) or fold 10 (``test``)."""
    fold = D.VAL_FOLD if split == "val" else D.TEST_FOLD
    classes, s = ctx.ptbxl.split(task, [fold])
    p = predict(model, ctx.tensors, s.rows, ctx.preset.batch_eval, ctx.dist.device)[task]
    return {"classes": classes, "probs": p, "y": s.y, "report": M.report(s.y, p, classes, n_boot)}


def tokenizer_text(model: Classifier) -> str:
    """The model card's one line on what the classifier reads (the app's model picker shows it)."""
    spec = model.patch_spec
    if spec is not None:
        return (
            f"patches: {len(spec.leads)} leads ({', '.join(spec.leads)}) at {spec.fs} Hz, "
            f"{spec.patch_s:g} s patches ({spec.patch_len} samples), {spec.n_patches} per lead "
            f"per {spec.window_s:g} s window, band-passed {contract.BAND[0]}-{contract.BAND[1]:g} Hz, "
            f"in units of {model.encoder.config.scale_mv:g} mV"
        )
    return (
        f"beats: up to {contract.MAX_BEATS} beat tokens of {contract.TOKEN_LEN} samples per lead "
        f"at {contract.FS} Hz, R at sample {contract.R_INDEX}, R-peaks by {contract.RPEAK_METHOD}"
    )


def export(
    ctx: Context,
    model: Classifier,
    td: TaskData,
    name: str,
    out_dir: Path,
    command: list[str],
    method: str = "clear",
    frozen: bool = False,
) -> Path:
    """Write ``<out_dir>/<name>.safetensors`` and its model card (JSON + Markdown); ``method`` is
    the pretraining objective of the encoder, ``frozen`` says that only the heads were trained
    (``training/probe.py``)."""
    from training.card import markdown

    t0 = time.perf_counter()
    weights = out_dir / f"{name}.safetensors"
    out_dir.mkdir(parents=True, exist_ok=True)
    digest = bundle.save_model(weights, model, td.classes)
    labels = {}
    for task in td.classes:
        val = evaluate_split(model, ctx, task, "val")
        test = evaluate_split(model, ctx, task, "test")
        thr = M.f1_thresholds(val["y"], val["probs"])
        vr = val["report"]
        labels[task] = {
            "classes": td.classes[task],
            "thresholds": {c: float(t) for c, t in zip(td.classes[task], thr, strict=True)},
            "val": vr,
            "test": test["report"],
            "surfaced": [c for c in td.classes[task] if surfaced(vr, c)],
        }  # fmt: skip
    pt = ctx.ptbxl
    ctx.timings["export_s"] = round(time.perf_counter() - t0, 1)
    phases = ("tokenise_s", "pretrain_s", "finetune_s", "heads_s", "export_s")
    ctx.timings["total_s"] = round(sum(ctx.timings.get(k) or 0.0 for k in phases), 1)
    card = {
        "name": name,
        "intended_use": "Research use only, not a medical device. Not for diagnosis or treatment decisions.",
        "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "git_commit": git_commit(),
        "command": " ".join(command),
        "preset": ctx.preset.name,
        "tokenizer": tokenizer_text(model),
        "architecture": {
            "kind": model.kind,
            "encoder": model.encoder.config.to_dict(),
            "head": model.head_kind,
            "parameters": sum(p.numel() for p in model.parameters()),
        },
        "pretraining": {
            "method": method,
            "label": METHODS[method].label,
            "objective": asdict(METHODS[method].objective(ctx.preset)),
        },
        "training": {
            "pretrain": ctx.preset.schedules.get(method, ctx.preset.pretrain).to_dict(),
            **({"encoder": "frozen after pretraining; one HUG head per task trained on its cached lead "
                           "features, z-scored per dimension (folded into the heads' first layers)",
                "heads": ctx.preset.probe.to_dict(),
                "selection": "per task, the epoch with the best fold-9 macro AUROC"} if frozen else
               {"finetune": ctx.preset.finetune.to_dict(), "recipe": ctx.preset.recipe.to_dict(),
                "selection": "epoch with the best mean fold-9 macro AUROC over the tasks"}),
        },
        "contract": {"version": contract.CONTRACT_VERSION, "fs": contract.FS, "band_hz": contract.BAND,
                     "token_len": contract.TOKEN_LEN, "max_beats": contract.MAX_BEATS,
                     "rpeaks": contract.RPEAK_METHOD, "deviations_from_clear": list(contract.DEVIATIONS)},
        "data": {
            "dataset": "PTB-XL v1.0.3, 100 Hz records (CC BY 4.0)",
            "folds": {"train": list(D.TRAIN_FOLDS), "validation": D.VAL_FOLD, "test": D.TEST_FOLD},
            "pretrain_ecg_ids": D.id_ranges(td_union_ids(ctx, "all", D.TRAIN_FOLDS)),
            "unlabelled_pretraining": [str(p) for p in ctx.unlabelled],
            "finetune_ecg_ids": D.id_ranges(np.unique(np.concatenate([s.ecg_id for s in td.train.values()]))),
            "validation_records": len(ctx.ptbxl.split("all", [D.VAL_FOLD])[1].rows),
            "test_records": len(ctx.ptbxl.split("all", [D.TEST_FOLD])[1].rows),
            "records_on_disk": len(pt.ecg_id),
            "tokeniser_fallback_records": int(np.asarray(pt.cache.fallback).sum()),
        },
        "labels": labels,
        "surface_rule": f"a class is shown in the app when its fold-9 AUROC >= {SURFACE_MIN_AUROC} "
        f"and fold 9 has >= {SURFACE_MIN_SUPPORT} positive records",
        "thresholds_rule": "per class, the probability that maximises F1 on fold 9",
        "timings": ctx.timings,
        "hardware": hardware(),
        "weights_sha256": digest,
    }  # fmt: skip
    write_card(weights, card, markdown(card))
    return weights


def td_union_ids(ctx: Context, task: str, folds) -> np.ndarray:
    return ctx.ptbxl.split(task, folds)[1].ecg_id


def command_line() -> list[str]:
    return [Path(sys.executable).name, "-m", "training", *sys.argv[1:]]
