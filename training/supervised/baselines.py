"""Supervised 1-D CNN baselines, trained as the PTB-XL benchmark trains them (Strodthoff, Wagner,
Schaeffter, Samek, *Deep learning for ECG analysis: benchmarks and insights from PTB-XL*, IEEE
JBHI 25:1519, 2021): the floor the bundled self-supervised model must not fall below.

- ``xresnet1d101``: a bag-of-tricks ResNet (He et al. 2019, "ResNet-D": a three-convolution stem,
  average-pool shortcuts, the last BatchNorm of each block initialised to zero) with bottleneck
  blocks [3, 4, 23, 3], expansion 4, kernel size 5, as the benchmark's 1-D adaptation.
- ``inception1d``: InceptionTime (Fawaz et al. 2020) as in the benchmark: 6 modules of a 1x1
  bottleneck (32) then convolutions of 39, 19 and 9 samples and a max-pool branch (32 filters
  each), a residual shortcut every 3 modules.
- Both end in the benchmark's head: concatenated average and max pooling, BatchNorm, dropout,
  a 128-unit hidden layer, BatchNorm, dropout, the classes.
- Training (the benchmark's recipe): 100 Hz, random 2.5 s crops, AdamW (lr 1e-2, wd 1e-2) with a
  one-cycle-like schedule (warm-up then cosine), BCE, batch 128, 50 epochs; at test time sliding
  2.5 s windows every 1.25 s, aggregated by the mean or the maximum over windows. The epoch and
  the aggregation are chosen on fold 9; fold 10 is scored once.
- Deviation: the input is the contract's 0.67-40 Hz band-passed signal (the one every model here
  sees), scaled by one mean and SD of the training rows (the benchmark standardises raw mV).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor, nn

from training.engine import LoopConfig, fit
from training.validate import metrics as M

CROP = 250  # samples: 2.5 s at 100 Hz
STRIDE = 125  # test-time windows every 1.25 s
AGGREGATIONS = ("mean", "max")


def _conv_bn(
    c_in: int, c_out: int, k: int, stride: int = 1, act: bool = True, zero: bool = False
) -> nn.Sequential:
    bn = nn.BatchNorm1d(c_out)
    nn.init.constant_(bn.weight, 0.0 if zero else 1.0)
    layers: list[nn.Module] = [nn.Conv1d(c_in, c_out, k, stride, padding=k // 2, bias=False), bn]
    if act:
        layers.append(nn.ReLU(inplace=True))
    return nn.Sequential(*layers)


class Bottleneck(nn.Module):
    def __init__(self, c_in: int, width: int, stride: int, k: int, expansion: int = 4) -> None:
        super().__init__()
        c_out = width * expansion
        self.convs = nn.Sequential(
            _conv_bn(c_in, width, 1),
            _conv_bn(width, width, k, stride),
            _conv_bn(width, c_out, 1, act=False, zero=True),
        )
        short: list[nn.Module] = []
        if stride != 1:
            short.append(nn.AvgPool1d(stride, stride, ceil_mode=True))
        if c_in != c_out:
            short.append(_conv_bn(c_in, c_out, 1, act=False))
        self.short = nn.Sequential(*short)
        self.act = nn.ReLU(inplace=True)

    def forward(self, x: Tensor) -> Tensor:
        return self.act(self.convs(x) + self.short(x))


def head(c_in: int, n_classes: int, hidden: int = 128, p: float = 0.5) -> nn.Sequential:
    """The benchmark's head: concat pooling -> BN, dropout, 128, ReLU -> BN, dropout -> classes."""
    return nn.Sequential(
        ConcatPool(),
        nn.BatchNorm1d(2 * c_in),
        nn.Dropout(p / 2),
        nn.Linear(2 * c_in, hidden),
        nn.ReLU(inplace=True),
        nn.BatchNorm1d(hidden),
        nn.Dropout(p),
        nn.Linear(hidden, n_classes),
    )


class ConcatPool(nn.Module):
    def forward(self, x: Tensor) -> Tensor:
        return torch.cat([x.mean(-1), x.amax(-1)], dim=1)


def xresnet1d(
    layers: tuple[int, ...], n_classes: int, c_in: int = 12, k: int = 5, scale: float = 1.0
) -> nn.Sequential:
    stem = tuple(_scaled(c, scale) for c in (32, 32, 64))
    mods: list[nn.Module] = [
        _conv_bn(c_in, stem[0], k, stride=2),
        _conv_bn(stem[0], stem[1], k),
        _conv_bn(stem[1], stem[2], k),
        nn.MaxPool1d(3, 2, padding=1),
    ]
    c = stem[-1]
    for i, (n, full) in enumerate(zip(layers, (64, 128, 256, 512), strict=True)):
        width = _scaled(full, scale)
        for j in range(n):
            mods.append(Bottleneck(c, width, 2 if (i > 0 and j == 0) else 1, k))
            c = width * 4
    return nn.Sequential(*mods, head(c, n_classes))


class InceptionModule(nn.Module):
    def __init__(self, c_in: int, filters: int = 32, bottleneck: int = 32, kernels=(39, 19, 9)) -> None:
        super().__init__()
        self.bottleneck = nn.Conv1d(c_in, bottleneck, 1, bias=False) if c_in > 1 else nn.Identity()
        c_b = bottleneck if c_in > 1 else c_in
        self.convs = nn.ModuleList(nn.Conv1d(c_b, filters, k, padding=k // 2, bias=False) for k in kernels)
        self.pool = nn.Sequential(nn.MaxPool1d(3, 1, padding=1), nn.Conv1d(c_in, filters, 1, bias=False))
        self.bn = nn.BatchNorm1d(filters * (len(kernels) + 1))
        self.act = nn.ReLU(inplace=True)

    def forward(self, x: Tensor) -> Tensor:
        b = self.bottleneck(x)
        out = torch.cat([conv(b) for conv in self.convs] + [self.pool(x)], dim=1)
        return self.act(self.bn(out))


class Inception1d(nn.Module):
    """The benchmark's InceptionTime: its bottleneck as wide as its filters (32 each at full scale),
    so that a scaled-down model (the tiny preset's) is narrowed throughout, not only after the
    bottleneck (its long kernels on 32 channels were most of a tiny grid cell's time)."""

    def __init__(self, n_classes: int, c_in: int = 12, depth: int = 6, filters: int = 32) -> None:
        super().__init__()
        width = filters * 4
        self.modules_ = nn.ModuleList(
            InceptionModule(c_in if d == 0 else width, filters, bottleneck=filters) for d in range(depth)
        )
        self.shortcuts = nn.ModuleList(
            _conv_bn(c_in if d == 0 else width, width, 1, act=False) for d in range(depth // 3)
        )
        self.act = nn.ReLU(inplace=True)
        self.head = head(width, n_classes)

    def forward(self, x: Tensor) -> Tensor:
        res = x
        for d, module in enumerate(self.modules_):
            x = module(x)
            if d % 3 == 2:
                x = self.act(x + self.shortcuts[d // 3](res))
                res = x
        return self.head(x)


def _scaled(channels: int, scale: float) -> int:
    return max(4, round(channels * scale))


# architecture -> (number of classes, channel scale) -> model; the benchmark's widths at scale 1
ARCHS: dict[str, Callable[[int, float], nn.Module]] = {
    "xresnet1d101": lambda n, scale: xresnet1d((3, 4, 23, 3), n, scale=scale),
    "inception1d": lambda n, scale: Inception1d(n, filters=_scaled(32, scale)),
}
LOOP = LoopConfig(
    epochs=50, batch_size=128, lr=1e-2, weight_decay=1e-2, warmup=0.25, clip=1.0, betas=(0.9, 0.99)
)


@dataclass
class Scaler:
    """One mean and SD of the training rows' signal (all leads, all samples)."""

    mean: float
    sd: float

    @classmethod
    def of(cls, signal: Tensor, rows: int = 2000) -> Scaler:
        x = signal[:rows].double()  # rows are in random order of record; 2,000 are plenty
        return cls(float(x.mean()), float(x.std()))

    def __call__(self, x: Tensor) -> Tensor:
        return (x - self.mean) / self.sd


def crops(signal: Tensor, length: Tensor, gen: torch.Generator) -> Tensor:
    """One random ``CROP``-sample window of each record (B, 12, W) within its valid length."""
    room = (length - CROP).clamp_min(0)
    start = (torch.rand(len(signal), generator=gen) * (room + 1).float()).long()
    idx = start[:, None] + torch.arange(CROP)
    return torch.gather(signal, 2, idx[:, None, :].expand(-1, signal.shape[1], -1).to(signal.device))


def windows(signal: Tensor, length: int) -> Tensor:
    """Sliding windows (B, n_windows, 12, CROP) every ``STRIDE`` samples, the last at the end."""
    starts = list(range(0, max(1, length - CROP + 1), STRIDE))
    if starts[-1] + CROP < length:
        starts.append(length - CROP)
    return torch.stack([signal[..., s : s + CROP] for s in starts], dim=1)


# Records a prediction pass takes at once. On the CPU 64 (448 windows), not 256: inception1d at the
# tiny preset's scale predicted 300 records in 3.0 s instead of 5.2 on 2 cores, xresnet1d101 128
# records in 6.2 s instead of 8.8 (session 105).
PREDICT_BATCH = {"cuda": 256, "cpu": 64}


@torch.no_grad()
def predict_windows(model: nn.Module, signal: Tensor, scaler: Scaler, device: torch.device,
                    batch: int | None = None) -> dict[str, np.ndarray]:  # fmt: skip
    """Sigmoid probabilities of every record under each aggregation of its window predictions."""
    batch = batch or PREDICT_BATCH.get(device.type, PREDICT_BATCH["cpu"])
    model.eval().to(device)
    out: dict[str, list[np.ndarray]] = {a: [] for a in AGGREGATIONS}
    for i in range(0, len(signal), batch):
        w = windows(scaler(signal[i : i + batch].to(device)), signal.shape[-1])
        b, n = w.shape[:2]
        with torch.autocast("cuda", dtype=torch.bfloat16, enabled=device.type == "cuda"):
            p = torch.sigmoid(model(w.flatten(0, 1)).float()).reshape(b, n, -1)
        out["mean"].append(p.mean(1).cpu().numpy())
        out["max"].append(p.amax(1).cpu().numpy())
    return {a: np.concatenate(v) for a, v in out.items()}


def train_cnn(
    arch: str,
    signal: Tensor,
    length: Tensor,
    y: Tensor,
    val_signal: Tensor,
    val_y: np.ndarray,
    loop: LoopConfig,
    run_dir,
    phase: str,
    device: torch.device,
    seed: int = 0,
    min_steps: int = 0,
    progress: bool = False,
    cpu_bf16: bool = False,
    scale: float = 1.0,
) -> tuple[nn.Module, Scaler, str, dict]:
    """Train ``arch`` on crops of ``signal`` (N, 12, W) with targets ``y``; returns the model at
    the epoch with the best fold-9 macro AUROC, its scaler, the aggregation that scored best on
    fold 9 at that epoch, and the fit info (resumable from ``<run_dir>/<phase>.ckpt``)."""
    from training.engine import Dist

    torch.manual_seed(seed)
    model = ARCHS[arch](y.shape[1], scale)
    scaler = Scaler.of(signal)
    bce = nn.BCEWithLogitsLoss()
    gen = torch.Generator().manual_seed(seed)
    per_epoch = math.ceil(min_steps / loop.epochs) * loop.batch_size
    sample = torch.from_numpy(np.resize(np.arange(len(signal)), max(len(signal), per_epoch)))
    if loop.batch_size > len(sample):
        loop = LoopConfig(**{**loop.to_dict(), "batch_size": len(sample)})

    def loss_fn(net: nn.Module, idx: Tensor, step: int) -> Tensor:
        rows = sample[idx]
        x = crops(signal[rows], length[rows], gen).to(device)
        return bce(net(scaler(x)).float(), y[rows].to(device))

    def evaluate(m: nn.Module) -> dict:
        probs = predict_windows(m, val_signal, scaler, device)
        scores = {f"val_auroc_{a}": M.macro(val_y, p)[0] for a, p in probs.items()}
        return {**scores, "val_auroc": max(scores.values())}

    d = Dist(device=device, cpu_bf16=cpu_bf16)
    model, info = fit(model, loss_fn, len(sample), loop, run_dir, phase, d, evaluate, "val_auroc", seed,
                      progress=progress)  # fmt: skip
    return model, scaler, _agg(info), info


def run(ctx, arch: str, task: str, frac: float, seed: int, tag: str, min_steps: int = 0) -> dict:
    """One grid cell: train ``arch`` on ``task`` with ``frac`` of the training labels, choose epoch and
    aggregation on fold 9, and predict fold 9, fold 10 and (for distillation) every record.

    Returns the fold-9 and fold-10 probabilities, the splits, the chosen aggregation and fit info;
    the all-record probabilities go to ``<run_dir>/teacher-<tag>.npz``."""
    from training.context import task_data
    from training.data import datasets as D

    td = task_data(ctx, (task,), frac, seed)
    tr, va = td.train[task], td.val[task]
    classes, test = ctx.ptbxl.split(task, [D.TEST_FOLD])
    out = ctx.run_dir / f"teacher-{tag}.npz"
    info = finished(ctx.run_dir, tag, ctx.preset.baseline.epochs) if out.is_file() else None
    if info is None:
        t, dev = ctx.tensors, ctx.dist.device
        model, scaler, agg, info = train_cnn(
            arch, t.signal[tr.rows], t.length[tr.rows], torch.from_numpy(tr.y), t.signal[va.rows], va.y,
            ctx.preset.baseline, ctx.run_dir, tag, dev, seed, min_steps, ctx.progress, ctx.dist.cpu_bf16,
            ctx.preset.baseline_scale,
        )  # fmt: skip
        every = ctx.ptbxl.cache.index_of(str(e) for e in ctx.ptbxl.ecg_id)
        probs = predict_windows(model, t.signal[every], scaler, dev)[agg]
        save_npz(out, rows=every, probs=probs, classes=np.array(classes), aggregation=np.array(agg))
    pick, agg = _every_record(out, info)
    return {"td": td, "classes": classes, "test": test, "val_probs": pick(va.rows),
            "test_probs": pick(test.rows), "aggregation": agg, "info": info}  # fmt: skip


def from_all_head(ctx, arch: str, task: str, seed: int, min_steps: int = 0) -> dict:
    """``task`` scored from ``arch``'s model of all 71 statements (trained first if need be), as
    the bundled model's finer tasks are scored from its ``all`` head (``Labels.aggregate``): the
    same footing for a paired comparison. Returns what ``run`` returns."""
    from training.context import task_data
    from training.data import datasets as D

    tag = f"grid-{arch}-all-1.0-{seed}"
    info = run(ctx, arch, "all", 1.0, seed, tag, min_steps)["info"]
    pick, agg = _every_record(ctx.run_dir / f"teacher-{tag}.npz", info)
    td = task_data(ctx, (task,), 1.0, seed)
    classes, test = ctx.ptbxl.split(task, [D.TEST_FOLD])
    scored = lambda rows: ctx.ptbxl.labels.aggregate(task, pick(rows))[1]  # noqa: E731
    return {"td": td, "classes": classes, "test": test, "val_probs": scored(td.val[task].rows),
            "test_probs": scored(test.rows), "aggregation": agg, "info": info}  # fmt: skip


def _every_record(path, info: dict):
    """A teacher file's probabilities by cache row (``pick(rows)``) and its fold-9 aggregation."""
    z = np.load(path)
    every, probs, agg = z["rows"], z["probs"], str(z["aggregation"]) if "aggregation" in z else _agg(info)
    pos = {int(r): i for i, r in enumerate(every)}
    return (lambda rows: probs[[pos[int(r)] for r in rows]]), agg


def finished(run_dir, phase: str, epochs: int) -> dict | None:
    """The logged history of a run of ``phase`` that completed all ``epochs`` (its predictions are
    then on disk: a finished run, on this machine or an accelerator, is not trained again)."""
    import json

    log = run_dir / "metrics.jsonl"
    if not log.is_file():
        return None
    history = [r for r in map(json.loads, log.read_text().splitlines()) if r["phase"] == phase]
    last = {r["epoch"]: r for r in history}  # a resumed run may log an epoch twice: keep the last
    if len(last) < epochs:
        return None
    return {"history": [last[e] for e in sorted(last)], "best": max(r["val_auroc"] for r in last.values())}


def _agg(info: dict) -> str:
    best = max(info["history"], key=lambda r: r["val_auroc"])
    return max(AGGREGATIONS, key=lambda a: best[f"val_auroc_{a}"])


def save_npz(path, **arrays) -> None:
    import os

    tmp = path.with_name(path.name + ".tmp.npz")
    np.savez_compressed(tmp, **arrays)
    os.replace(tmp, path)
