"""ECG-JEPA pretraining (seed-methods.md §1.3): predict, in latent space, the EMA target encoder's
layer-normed outputs at time steps masked in every lead at once, from the visible steps.

The encoder is ``ecgviewer.ml.patches.PatchEncoder`` (CroPA, §1.2); the predictor runs per lead.
"""

from __future__ import annotations

import copy
from dataclasses import asdict, dataclass

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ecgviewer.ml import contract
from ecgviewer.ml.layers import Block, init_weights
from ecgviewer.ml.patches import PatchConfig, PatchEncoder, sincos
from training.pretrain.batch import Batch

MASKS = ("random", "multiblock")


@dataclass(frozen=True)
class JepaConfig:
    """Masking, predictor and EMA settings (§1.3, §1.4).

    The paper's predictor is 384 wide, 6 deep, 12 heads for a 768-wide encoder; ours keeps its
    predictor/encoder width ratio (~1/2) at the project's encoder size and stays shallow for CPU.
    """

    mask: str = "random"
    ratio: tuple[float, float] = (0.6, 0.7)  # random: fraction of time steps masked, ~U(ratio)
    blocks: int = 4  # multiblock: number of contiguous blocks
    block_scale: tuple[float, float] = (0.175, 0.225)  # multiblock: block length / T, ~U(scale)
    dim: int = 64
    depth: int = 2
    heads: int = 4
    ema: tuple[float, float] = (0.996, 1.0)  # momentum, linear from first to second over training

    def __post_init__(self) -> None:
        if self.mask not in MASKS:
            raise ValueError(f"mask must be one of {MASKS}, not {self.mask!r}")

    def to_dict(self) -> dict:
        return asdict(self)


def _uniform(bounds: tuple[float, float], generator: torch.Generator) -> float:
    return bounds[0] + (bounds[1] - bounds[0]) * float(torch.rand(1, generator=generator))


def time_mask(n_time: int, config: JepaConfig, generator: torch.Generator) -> Tensor:
    """Bool (T,) masked time steps, shared by all leads and drawn once per batch (§1.3).

    random: round(T * U(ratio)) steps; multiblock: the union of ``blocks`` contiguous blocks of
    floor(T * U(block_scale)) steps. Both keep at least one masked and one visible step; a
    multiblock draw that covers everything (only possible for a short T) is drawn again, as
    I-JEPA's sampler does.
    """
    if config.mask == "random":
        n = min(max(round(n_time * _uniform(config.ratio, generator)), 1), n_time - 1)
        masked = torch.zeros(n_time, dtype=torch.bool)
        masked[torch.randperm(n_time, generator=generator)[:n]] = True
        return masked
    while True:
        masked = torch.zeros(n_time, dtype=torch.bool)
        for _ in range(config.blocks):
            length = min(max(int(n_time * _uniform(config.block_scale, generator)), 1), n_time - 1)
            start = int(torch.randint(0, n_time - length + 1, (1,), generator=generator))
            masked[start : start + length] = True
        if not masked.all():
            return masked


def spread(target: Tensor, weight: Tensor) -> float:
    """The targets' standard deviation across the batch, averaged over real tokens and dims: about 1
    for layer-normed targets that differ between recordings, 0 for a collapsed encoder (one output
    per position whatever the input, which the loss alone cannot tell from success)."""
    if target.shape[0] < 2:
        return float("nan")
    per_token = target.std(dim=0).mean(dim=-1)  # (L, M)
    real = weight.min(dim=0).values  # tokens real in every recording
    return float((per_token * real).sum() / real.sum().clamp_min(1.0))


class JepaPretrainer(nn.Module):
    """Context encoder (trained) + EMA target encoder + per-lead predictor -> Smooth-L1 (§1.3)."""

    def __init__(self, patch: PatchConfig, config: JepaConfig, seed: int = 0) -> None:
        super().__init__()
        self.spec = patch.patch_spec
        if self.spec.fs != contract.FS:
            raise ValueError(f"the batch's signal is at {contract.FS} Hz, the patch spec at {self.spec.fs}")
        self.config = config
        self.generator = torch.Generator().manual_seed(seed)
        self.encoder = PatchEncoder(patch)
        # A registered submodule so it moves with .to() and is in state_dict() for resume; no
        # gradient ever reaches it, so AdamW skips it.
        self.target = copy.deepcopy(self.encoder).requires_grad_(False).eval()
        dp = config.dim
        self.to_predictor = nn.Linear(patch.dim, dp)
        self.mask_token = nn.Parameter(torch.zeros(dp))
        # No dropout in the predictor, like the CLEAR decoder here (the spec is silent).
        self.blocks = nn.ModuleList(
            Block(dp, config.heads, patch.mlp_ratio, 0.0) for _ in range(config.depth)
        )
        self.norm = nn.LayerNorm(dp)
        self.predict = nn.Linear(dp, patch.dim)
        self.register_buffer("position", sincos(self.spec.n_patches, dp), persistent=False)  # time only
        for module in (self.to_predictor, self.blocks, self.predict):
            module.apply(init_weights)
        nn.init.trunc_normal_(self.mask_token, std=0.02)
        self.parts: dict[str, float] = {}

    def train(self, mode: bool = True) -> JepaPretrainer:
        """The target stays in eval mode: dropout noise in the regression targets only adds
        variance (the spec is silent)."""
        super().train(mode)
        self.target.train(False)
        return self

    def momentum(self, progress: float) -> float:
        first, last = self.config.ema
        return first + (last - first) * progress

    def forward(self, batch: Batch, progress: float) -> Tensor:
        """Smooth-L1 (beta 1) at the masked steps of all leads, mean over non-padded tokens and dims."""
        values, pad = contract.patchify(batch.signal, batch.present, self.spec, batch.length)
        masked = time_mask(self.spec.n_patches, self.config, self.generator)  # on CPU: no device sync
        keep = (~masked).nonzero()[:, 0].to(values.device)
        hidden_steps = masked.nonzero()[:, 0].to(values.device)
        with torch.no_grad():
            target = self.target(values, pad)[0][:, :, hidden_steps]
            target = F.layer_norm(target.float(), target.shape[-1:])
        context = self.encoder(values, pad, keep_time=keep)[0]
        pred = self.predictor(context, pad, keep, hidden_steps)
        weight = (~pad[:, :, hidden_steps]).float()
        per_token = F.smooth_l1_loss(pred.float(), target, reduction="none", beta=1.0).mean(dim=-1)
        loss = (per_token * weight).sum() / weight.sum().clamp_min(1.0)
        self.parts = {
            "smooth_l1": float(loss.detach()),
            "momentum": self.momentum(progress),
            "target_spread": spread(target, weight),
        }
        return loss

    def predictor(self, context: Tensor, pad: Tensor, keep: Tensor, hidden_steps: Tensor) -> Tensor:
        """Context (B, L, V, d) -> predictions (B, L, M, d) at the masked steps, one sequence per
        lead: visible tokens then mask tokens, each with its time position, full attention."""
        b, n_leads, n_keep, _ = context.shape
        n_hidden = len(hidden_steps)
        x = self.to_predictor(context) + self.position[keep]
        queries = (self.mask_token + self.position[hidden_steps]).expand(b, n_leads, -1, -1)
        x = torch.cat([x, queries], dim=2).flatten(0, 1)  # (B*L, V+M, dp)
        key_pad = torch.cat([pad[:, :, keep], pad[:, :, hidden_steps]], dim=2).flatten(0, 1)
        blocked = key_pad[:, None, None, :]
        for block in self.blocks:
            x, _ = block(x, blocked, need_weights=False)
        out = self.predict(self.norm(x[:, n_keep:]))
        return out.reshape(b, n_leads, n_hidden, -1)

    @torch.no_grad()
    def after_step(self, progress: float) -> None:
        """target <- m * target + (1 - m) * encoder, m rising linearly from 0.996 to 1 (§1.3)."""
        m = self.momentum(progress)
        for t, o in zip(self.target.parameters(), self.encoder.parameters(), strict=True):
            t.lerp_(o, 1.0 - m)
