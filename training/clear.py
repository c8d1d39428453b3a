"""CLEAR pretraining (seed-methods.md §2.3): masked beat-token reconstruction with a decoder
restricted to the conduction set (same beat in every lead) and the view set (own lead's [CLS])."""

from __future__ import annotations

from dataclasses import asdict, dataclass

import torch
from torch import Tensor, nn

from ecgviewer.ml import contract
from ecgviewer.ml.beats import N_LEADS, Encoder, EncoderConfig, normalise_tokens, view_allowed
from ecgviewer.ml.layers import Block
from training.batch import Batch

N_BEATS = contract.MAX_BEATS
N_TOKENS = N_LEADS * N_BEATS


@dataclass(frozen=True)
class DecoderConfig:
    dim: int = 128
    depth: int = 2
    heads: int = 4
    mask_ratio: float = 0.8

    def to_dict(self) -> dict:
        return asdict(self)


def random_mask(ratio: float, generator: torch.Generator | None = None) -> tuple[Tensor, Tensor]:
    """One masking pattern for the whole batch: (kept token indices, bool masked (180,))."""
    order = torch.randperm(N_TOKENS, generator=generator)
    n_keep = max(1, round(N_TOKENS * (1 - ratio)))
    keep = order[:n_keep].sort().values
    masked = torch.ones(N_TOKENS, dtype=torch.bool)
    masked[keep] = False
    return keep, masked


def decoder_allowed(masked: Tensor) -> Tensor:
    """Bool (192, 192), True = may attend, for the decoder (M = M_conduction U M_view):

    - [CLS]_i <-> [CLS]_i, and [CLS]_i <-> every beat of lead i (both ways);
    - a masked beat (i, j) -> beat j of every lead (the conduction set), plus [CLS]_i;
    - a visible beat -> every visible beat, plus [CLS]_i.
    """
    dev = masked.device
    beat = torch.arange(N_TOKENS, device=dev) % N_BEATS
    allowed = view_allowed().to(dev)  # the [CLS] rules are the encoder's; only beat-to-beat differs
    same_beat = beat[:, None] == beat[None, :]
    visible = ~masked
    beats = torch.where(masked[:, None], same_beat, visible[:, None] & visible[None, :])
    allowed[N_LEADS:, N_LEADS:] = beats | torch.eye(N_TOKENS, dtype=torch.bool, device=dev)
    return allowed


class ClearPretrainer(nn.Module):
    """Encoder (on visible tokens) + light decoder (on all tokens) -> per-token MSE."""

    def __init__(self, encoder: EncoderConfig, decoder: DecoderConfig, seed: int = 0) -> None:
        super().__init__()
        self.decoder_config = decoder
        self.generator = torch.Generator().manual_seed(seed)  # one mask per batch, equal on all ranks
        self.parts: dict[str, float] = {}
        self.encoder = Encoder(encoder)
        d = decoder.dim
        self.to_decoder = nn.Linear(encoder.dim, d)
        self.mask_token = nn.Parameter(torch.zeros(d))
        self.position = nn.Embedding(N_LEADS + N_TOKENS, d)
        self.blocks = nn.ModuleList(Block(d, decoder.heads, 2.0, 0.0) for _ in range(decoder.depth))
        self.norm = nn.LayerNorm(d)
        self.predict = nn.Linear(d, contract.TOKEN_LEN)
        nn.init.trunc_normal_(self.mask_token, std=0.02)
        nn.init.trunc_normal_(self.position.weight, std=0.02)

    def forward(self, batch: Batch, progress: float) -> Tensor:
        keep, masked = random_mask(self.decoder_config.mask_ratio, self.generator)
        dev = batch.values.device
        loss = self.reconstruction_loss(batch.values, batch.pad, batch.rpeaks, keep.to(dev), masked.to(dev))
        self.parts = {"mse": float(loss.detach())}
        return loss

    def reconstruction_loss(
        self, values: Tensor, pad: Tensor, rpeaks: Tensor, keep: Tensor, masked: Tensor
    ) -> Tensor:
        """Mean squared error over the masked, non-padded tokens (z-scored targets)."""
        b = values.shape[0]
        hidden, _ = self.encoder(values, pad, rpeaks, keep=keep)
        hidden = self.to_decoder(hidden)
        x = self.mask_token.expand(b, N_LEADS + N_TOKENS, -1).clone()
        x[:, :N_LEADS] = hidden[:, :N_LEADS]
        x[:, N_LEADS + keep] = hidden[:, N_LEADS:].to(x.dtype)  # bf16 under autocast
        x = x + self.position.weight
        pad = pad.flatten(1)
        key_pad = torch.cat([torch.zeros_like(pad[:, :N_LEADS]), pad], dim=1)
        blocked = (~decoder_allowed(masked).to(x.device))[None, None] | key_pad[:, None, None, :]
        for block in self.blocks:
            x, _ = block(x, blocked)
        pred = self.predict(self.norm(x[:, N_LEADS:]))
        target, _ = normalise_tokens(values.flatten(1, 2))
        weight = (masked.to(x.device)[None, :] & ~pad).float()
        per_token = ((pred.float() - target) ** 2).mean(dim=-1)
        return (per_token * weight).sum() / weight.sum().clamp_min(1.0)
