"""Where the encoder looked: each lead [CLS]'s attention over its own lead's beats, per layer and
head, and attention rollout (Abnar & Zuidema 2020) over the whole stack.

Attention shows where information flowed, not why the model decided (Jain & Wallace 2019):
the viewer shows it beside the gradient attributions, never instead of them.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor, nn

from ecgviewer.ml import contract
from ecgviewer.ml.infer import BATCH, Analyzer, token_tensors
from ecgviewer.recording import Recording

N_LEADS, N_BEATS = len(contract.LEADS), contract.MAX_BEATS


@dataclass
class AttentionMaps:
    cls_to_beats: np.ndarray  # float32 (W, layers, heads, 12, 15): [CLS]_i -> lead i's beat j
    rollout: np.ndarray  # float32 (W, 12, 15): rollout from the 12 [CLS] tokens onto each beat token

    @property
    def layers(self) -> int:
        return self.cls_to_beats.shape[1]


def attend(analyzer: Analyzer, rec: Recording) -> AttentionMaps:
    """Attention maps of ``rec`` on the analyzer's device (cached)."""
    tokens = analyzer.analyse(rec).tokens
    return analyzer.cache.get(
        rec, "attention", lambda: analyzer.on_device(lambda d: attention_maps(analyzer.model, tokens, d))
    )


def attention_maps(
    model: nn.Module, tokens: contract.Tokens, device: torch.device | None = None
) -> AttentionMaps:
    """Both maps for every window of ``tokens``; padded beats are 0 (they are never attended)."""
    values, pad, time_bin = token_tensors(tokens, device or torch.device("cpu"))
    own, rolled = [], []
    with torch.inference_mode():
        for s in range(0, len(values), BATCH):
            part = slice(s, s + BATCH)
            _, maps = model.encoder(values[part], pad[part], time_bin[part], return_attention=True)
            stack = torch.stack(maps, dim=1)  # (B, layers, heads, N, N)
            own.append(own_lead_attention(stack).float().cpu().numpy())
            rolled.append(rollout_to_beats(stack).float().cpu().numpy())
    keep = ~tokens.pad
    cls_to_beats = np.concatenate(own) * keep[:, None, None]
    return AttentionMaps(cls_to_beats, np.concatenate(rolled) * keep)


def own_lead_attention(stack: Tensor) -> Tensor:
    """(B, L, H, N, N) -> (B, L, H, 12, 15): row [CLS]_i, columns lead i's beat tokens."""
    cls_rows = stack[..., :N_LEADS, N_LEADS:]  # (B, L, H, 12, 180)
    per_lead = cls_rows.unflatten(-1, (N_LEADS, N_BEATS))  # (B, L, H, 12, 12, 15)
    return torch.diagonal(per_lead, dim1=-3, dim2=-2).transpose(-1, -2)


def rollout_to_beats(stack: Tensor) -> Tensor:
    """(B, L, H, N, N) -> (B, 12, 15): heads averaged, identity added for the residual path, rows
    renormalised, layers multiplied (last @ ... @ first); then the rows of the 12 lead [CLS]
    tokens, which the head reads, averaged, at each beat token."""
    eye = torch.eye(stack.shape[-1], dtype=stack.dtype, device=stack.device)
    joint = eye
    for layer in stack.unbind(dim=1):
        a = layer.mean(dim=1) + eye
        joint = (a / a.sum(dim=-1, keepdim=True)) @ joint
    return joint[:, :N_LEADS, N_LEADS:].mean(dim=1).unflatten(-1, (N_LEADS, N_BEATS))
