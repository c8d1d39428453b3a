"""A classifier as the CLEAR-HUG paper evaluates its encoder: the pretrained encoder frozen and one
HUG head per task trained on its cached lead features (``finetune.train_head``, the grid's frozen
cells), then folded into a plain ``Classifier`` so that the app, its attributions and the model
card treat it as any other model.

The heads train on features z-scored per dimension (``finetune.Standardise``). That z-score is an
affine map of each lead vector, so it folds exactly into the first layer that reads the lead
vectors: every HUG group expert's Linear (each applied per lead before any averaging) or the
linear head's fc (the mean over leads commutes with an affine map). The exported model therefore
has the same architecture and parameter count as a fine-tuned one.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from ecgviewer.ml.heads import HUGHead, LinearHead
from ecgviewer.ml.model import Classifier
from training.context import Context, TaskData, task_data
from training.pretrain.pretraining import load_encoder
from training.supervised.finetune import Standardise, train_head


@torch.no_grad()
def fold_standardise(std: Standardise, head: nn.Module) -> nn.Module:
    """``head`` with ``std`` folded into it: ``fold(std, head)(x) == head(std(x))`` (in place)."""
    if isinstance(head, HUGHead):
        firsts = [expert[0] for expert in head.groups]
    elif isinstance(head, LinearHead):
        firsts = [head.fc]
    else:
        raise TypeError(f"cannot fold a z-score into {type(head).__name__}")
    for lin in firsts:
        w = lin.weight / std.sd
        lin.bias -= w @ std.mean
        lin.weight.copy_(w)
    return head


def frozen_model(ctx: Context, encoder_path, seed: int = 0, method: str = "clear", head: str = "hug"
                 ) -> tuple[Classifier, TaskData, dict]:  # fmt: skip
    """``method``'s frozen encoder with a ``head`` per task of the preset, each trained on all the
    training labels and selected on fold 9. The heads are the grid's own 100 % cells (the same
    checkpoint tag), so a head the grid has trained is not trained again."""
    from training.supervised.grid import PROBE, features

    enc = load_encoder(encoder_path, ctx.preset.encoder, seed)
    rows, feats = features(ctx, encoder_path)
    tasks = ctx.preset.tasks
    td = task_data(ctx, tasks, 1.0, seed)
    model = Classifier(enc.config, {t: len(td.classes[t]) for t in tasks}, head)
    model.encoder.load_state_dict(enc.state_dict())
    history = []
    for task in tasks:
        tag = f"grid-{method}-{head}-{PROBE}-{task}-1.0-{seed}"
        folded, info = folded_head(ctx, feats, rows, task, 1.0, seed, head, tag)
        model.heads[task].load_state_dict(folded.state_dict())
        history += [{"task": task, **r} for r in info["history"]]
    return model.eval(), td, {"history": history}


def folded_head(
    ctx: Context, feats: torch.Tensor, rows: np.ndarray, task: str, frac: float, seed: int, head: str,
    tag: str,
) -> tuple[nn.Module, dict]:  # fmt: skip
    """A frozen-feature head of ``task`` (``train_head`` under the grid's reported protocol; the
    checkpoint ``tag`` is the grid cell's, so a head the grid trained is reused) with its z-score
    folded in, so that it reads a classifier's raw lead [CLS] features: LP-FT's starting heads."""
    from training.supervised.grid import probe_steps

    trained, _, info = train_head(ctx, feats, rows, task, frac, seed, head, tag, probe_steps(ctx.preset))
    return fold_standardise(trained[0], trained[1]), info
