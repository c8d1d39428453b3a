"""Pretraining: a method's encoder from the training folds' signals (labels unused), saved
once per run folder, and loading it (or a random one) back."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import torch
from torch import nn

from ecgviewer.ml import contract
from ecgviewer.ml.beats import EncoderConfig
from ecgviewer.ml.model import kind_of
from ecgviewer.ml.patches import PatchConfig
from training.context import Context, Tensors, rank0_first, seed_all
from training.data import datasets as D
from training.engine import fit, hardware, schedule
from training.pretrain.methods import METHODS, PretrainSet, new_encoder


# --------------------------------------------------------------------------- pretraining
def encoder_path(run_dir: Path, method: str) -> Path:
    """Where a method's pretrained encoder goes (CLEAR's keeps the name the bundled run used)."""
    return run_dir / ("encoder.safetensors" if method == "clear" else f"encoder-{method}.safetensors")


def pretrain_phase(method: str) -> str:
    """The name a method's pretraining logs under (``metrics.jsonl`` rows, ``<phase>.json``)."""
    return "pretrain" if method == "clear" else f"pretrain-{method}"


def snapshot_path(run_dir: Path, method: str, epoch: int) -> Path:
    """Where ``pretrain(..., snapshots=...)`` keeps the encoder as it was after ``epoch``."""
    out = encoder_path(run_dir, method)
    return out.with_name(f"{out.stem}-epoch{epoch}{out.suffix}")


def pretrain(ctx: Context, seed: int = 0, method: str = "clear", snapshots: tuple[int, ...] = ()) -> Path:
    """Pretrain ``method`` on PTB-XL training folds (labels unused) plus unlabelled WFDB folders;
    saves the encoder (``encoder_path``) and returns that path. A finished run is not repeated.
    ``snapshots``: epochs after which the encoder is also saved (``snapshot_path``), for scaling."""
    m = METHODS[method]
    out = encoder_path(ctx.run_dir, method)
    phase = pretrain_phase(method)
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

    pretrain_ids = D.id_ranges(train.ecg_id)

    def on_epoch(net: nn.Module, epoch: int) -> None:
        if epoch in snapshots:
            save_encoder(net.encoder, snapshot_path(ctx.run_dir, method, epoch), m.kind, method, pretrain_ids)

    _, info = fit(model, loss_fn, len(rows), loop, ctx.run_dir, phase, ctx.dist, seed=seed,
                  progress=ctx.progress, after_step=after_step, on_epoch=on_epoch)  # fmt: skip
    # summed over epochs, so a resumed run reports its whole pretraining time
    timing = {
        "pretrain_s": round(sum(h["seconds"] for h in info["history"]), 1),
        "pretrain_records": {"ptbxl": len(train.rows), "unlabelled": len(extra)},
        "pretrain_steps": total,
        "pretrain_loop": loop.to_dict(),
        "preprocessing_s": data.timings,
        "hardware": hardware(),
        "bf16": ctx.dist.amp,  # wall-clock is comparable between runs of the same precision only
    }
    ctx.timings.update({k: timing[k] for k in ("pretrain_s", "pretrain_records")})
    if ctx.dist.main:
        save_encoder(model.encoder, out, m.kind, method, pretrain_ids)
        info_path.write_text(json.dumps(timing))
    return out


def save_encoder(encoder: nn.Module, out: Path, kind: str, method: str, pretrain_ids: str) -> Path:
    """Write an encoder as ``load_encoder`` reads it: weights plus its family, config and origin."""
    from safetensors.torch import save_file

    state = {k: v.detach().cpu().contiguous() for k, v in encoder.state_dict().items()}
    meta = {"encoder": json.dumps(encoder.config.to_dict()), "kind": kind, "method": method,
            "pretrain_ids": pretrain_ids}  # fmt: skip
    save_file(state, str(out), metadata=meta)
    return out


def load_encoder(path: Path | None, config: EncoderConfig | PatchConfig, seed: int = 0) -> nn.Module:
    """A pretrained encoder (its family and config read from the file), or (path None) a randomly
    initialised one with ``config``."""
    from safetensors import safe_open
    from safetensors.torch import load_file

    seed_all(seed)
    if path is None:
        return new_encoder(kind_of(config), config.to_dict())
    with safe_open(str(path), framework="pt") as f:
        meta = f.metadata() or {}
    enc = new_encoder(meta.get("kind", contract.BEATS), json.loads(meta["encoder"]))
    enc.load_state_dict(load_file(str(path)))
    return enc
