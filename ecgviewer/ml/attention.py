"""Where the encoder looked: each lead [CLS]'s attention over its own lead's beats, per layer and
head, and attention rollout (Abnar & Zuidema 2020) over the whole stack.

A patch-token encoder (ECG-JEPA) has no [CLS]: a lead is read as the mean of its tokens, so its
map is the mean attention of the lead's tokens over the lead's patches, and the rollout starts
from those means. Each patch's weight is spread over its samples and summed onto the beats they
lie on (``inputs``), so both encoders are shown on the same 12 x 15 beat grid.

Attention shows where information flowed, not why the model decided (Jain & Wallace 2019):
the viewer shows it beside the gradient attributions, never instead of them.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor

from ecgviewer.ml import contract
from ecgviewer.ml.infer import BATCH, Analysis, Analyzer
from ecgviewer.ml.inputs import ModelInput
from ecgviewer.ml.model import Classifier, Ensemble, Model
from ecgviewer.recording import Recording

N_LEADS, N_BEATS = len(contract.LEADS), contract.MAX_BEATS
PATCH_BATCH = 4  # windows per pass for patches: dense CroPA maps are layers x heads x N x N, N = 600


@dataclass
class AttentionMaps:
    cls_to_beats: np.ndarray  # float32 (W, layers, heads, 12, 15): [CLS]_i -> lead i's beat j
    rollout: np.ndarray  # float32 (W, 12, 15): rollout from the 12 [CLS] tokens onto each beat token
    readout: str = "[CLS]"  # what reads a lead: its [CLS] token, or the mean of a patch lead's tokens

    @property
    def layers(self) -> int:
        return self.cls_to_beats.shape[1]


def attend(analyzer: Analyzer, rec: Recording, analysis: Analysis) -> AttentionMaps:
    """Attention maps of ``analysis`` (of ``rec``) on the analyzer's device (cached)."""
    model_input = analysis.inputs
    return analyzer.cache.get(
        rec, "attention", lambda: analyzer.on_device(lambda d: attention_maps(analyzer.model, model_input, d))
    )


def attention_maps(
    model: Model, model_input: ModelInput, device: torch.device | None = None
) -> AttentionMaps:
    """Both maps for every window; padded beats are 0 (they are never attended). An ensemble's
    maps are its members' means, layer by layer and head by head (the members share a shape)."""
    device = device or torch.device("cpu")
    if isinstance(model, Ensemble):
        maps = [attention_maps(m, model_input, device) for m in model.parts]
        readout = f"{maps[0].readout}, mean of {len(maps)} ensemble members"
        mean = {
            k: np.mean([getattr(m, k) for m in maps], axis=0).astype(np.float32)
            for k in ("cls_to_beats", "rollout")
        }
        return AttentionMaps(mean["cls_to_beats"], mean["rollout"], readout)
    if model_input.kind == contract.PATCHES:
        return _patch_maps(model, model_input, device)
    values, pad, rpeaks = model_input.tensors(device)
    own, rolled = [], []
    with torch.inference_mode():
        for s in range(0, len(values), BATCH):
            part = slice(s, s + BATCH)
            _, maps = model.encoder(values[part], pad[part], rpeaks[part], return_attention=True)
            stack = torch.stack(maps, dim=1)  # (B, layers, heads, N, N)
            own.append(own_lead_attention(stack).float().cpu().numpy())
            rolled.append(rollout_to_beats(stack).float().cpu().numpy())
    keep = ~model_input.tokens.pad
    cls_to_beats = np.concatenate(own) * keep[:, None, None]
    return AttentionMaps(cls_to_beats, np.concatenate(rolled) * keep)


def _patch_maps(model: Classifier, model_input: ModelInput, device: torch.device) -> AttentionMaps:
    values, pad, _ = model_input.tensors(device)
    own, rolled = [], []
    with torch.inference_mode():
        for s in range(0, len(values), PATCH_BATCH):
            part = slice(s, s + PATCH_BATCH)
            _, maps = model.encoder(values[part], pad[part], return_attention=True)
            stack = torch.stack(maps, dim=1)  # (B, layers, heads, N, N), N = L*T lead-major
            own.append(own_lead_patch_attention(stack, pad[part]).float().cpu().numpy())
            rolled.append(rollout_to_patches(stack, pad[part]).float().cpu().numpy())
    keep = ~model_input.tokens.pad
    on_beats = model_input.beat_sums
    cls_to_beats = on_beats(model_input.per_sample(np.concatenate(own))) * keep[:, None, None]
    rollout = on_beats(model_input.per_sample(np.concatenate(rolled))) * keep
    return AttentionMaps(cls_to_beats.astype(np.float32), rollout.astype(np.float32), "lead tokens")


def own_lead_patch_attention(stack: Tensor, pad: Tensor) -> Tensor:
    """(B, layers, H, N, N), pad (B, L, T) -> (B, layers, H, L, T): the mean over lead l's real
    tokens of their attention to lead l's patch at each time step."""
    n_leads, n_time = pad.shape[1:]
    grid = stack.unflatten(-1, (n_leads, n_time)).unflatten(-3, (n_leads, n_time))  # .., L, T, L, T
    same = torch.diagonal(grid, dim1=-4, dim2=-2)  # (B, layers, H, Tq, Tk, L)
    query = (~pad).to(stack.dtype)  # (B, L, Tq)
    weight = query / query.sum(dim=-1, keepdim=True).clamp_min(1.0)
    return torch.einsum("bykqtl,blq->byklt", same, weight)


def rollout_to_patches(stack: Tensor, pad: Tensor) -> Tensor:
    """(B, layers, H, N, N), pad (B, L, T) -> (B, L, T): rollout from the lead readouts (each the
    mean of a lead's real tokens, then the mean over leads) onto every patch token."""
    joint = _rollout(stack)
    real = (~pad).flatten(1).to(stack.dtype)  # (B, N)
    per_lead = (~pad).sum(dim=-1, keepdim=True).clamp_min(1).to(stack.dtype)  # (B, L, 1)
    leads = ((~pad).any(dim=-1)).sum(dim=-1).clamp_min(1).to(stack.dtype)  # (B,)
    readout = real / per_lead.expand_as(pad).flatten(1) / leads[:, None]
    return torch.einsum("bq,bqk->bk", readout, joint).unflatten(-1, pad.shape[1:])


def own_lead_attention(stack: Tensor) -> Tensor:
    """(B, L, H, N, N) -> (B, L, H, 12, 15): row [CLS]_i, columns lead i's beat tokens."""
    cls_rows = stack[..., :N_LEADS, N_LEADS:]  # (B, L, H, 12, 180)
    per_lead = cls_rows.unflatten(-1, (N_LEADS, N_BEATS))  # (B, L, H, 12, 12, 15)
    return torch.diagonal(per_lead, dim1=-3, dim2=-2).transpose(-1, -2)


def rollout_to_beats(stack: Tensor) -> Tensor:
    """(B, L, H, N, N) -> (B, 12, 15): the rollout's rows of the 12 lead [CLS] tokens, which the
    head reads, averaged, at each beat token."""
    return _rollout(stack)[:, :N_LEADS, N_LEADS:].mean(dim=1).unflatten(-1, (N_LEADS, N_BEATS))


def _rollout(stack: Tensor) -> Tensor:
    """(B, L, H, N, N) -> (B, N, N): heads averaged, identity added for the residual path, rows
    renormalised, layers multiplied (last @ ... @ first)."""
    eye = torch.eye(stack.shape[-1], dtype=stack.dtype, device=stack.device)
    joint = eye
    for layer in stack.unbind(dim=1):
        a = layer.mean(dim=1) + eye
        joint = (a / a.sum(dim=-1, keepdim=True)) @ joint
    return joint
