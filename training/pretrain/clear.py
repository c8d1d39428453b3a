"""CLEAR pretraining (seed-methods.md §2.3): masked beat-token reconstruction with a decoder
restricted to the conduction set (same beat in every lead) and the view set (own lead's [CLS]).

CLEAR masks random tokens. Nearly every masked beat then has a visible beat in its own lead, and
copying that lead's mean visible beat nearly solves the pretext (issue 27). ``masking="groups"``
hides whole lead groups instead, so a masked lead must be rebuilt from the other leads: the
conduction across leads that CLEAR means to learn. Every step logs, beside the loss, what two
predictors that learn nothing would score (``trivial_baselines``), so a shortcut shows at once."""

from __future__ import annotations

from dataclasses import asdict, dataclass

import torch
from torch import Tensor, nn

from ecgviewer.leads import LIMB_LEADS, STANDARD_LEADS
from ecgviewer.ml import contract
from ecgviewer.ml.beats import N_LEADS, Encoder, EncoderConfig, normalise_tokens, view_allowed
from ecgviewer.ml.layers import Block
from training.pretrain.batch import Batch

N_BEATS = contract.MAX_BEATS
N_TOKENS = N_LEADS * N_BEATS


@dataclass(frozen=True)
class DecoderConfig:
    dim: int = 128
    depth: int = 2
    heads: int = 4
    mask_ratio: float = 0.8
    masking: str = "tokens"  # or "groups" (``MASKS``)
    # > 0: each masked token's log-amplitude (``normalise_tokens``' scale) is predicted too, with
    # this weight beside the shape's MSE: the z-scored target alone cannot tell a hidden lead's size
    amplitude: float = 0.0

    def to_dict(self) -> dict:
        return asdict(self)


# Masked whole by ``group_mask``: the six limb leads together (any two of them give the other
# four exactly, so a limb lead alone is no test), the chest leads in neighbouring pairs.
LEAD_GROUPS: tuple[tuple[int, ...], ...] = tuple(
    tuple(STANDARD_LEADS.index(lead) for lead in group)
    for group in (LIMB_LEADS, ("V1", "V2"), ("V3", "V4"), ("V5", "V6"))
)


def random_mask(ratio: float, generator: torch.Generator | None = None) -> tuple[Tensor, Tensor]:
    """One masking pattern for the whole batch: (kept token indices, bool masked (180,))."""
    order = torch.randperm(N_TOKENS, generator=generator)
    n_keep = max(1, round(N_TOKENS * (1 - ratio)))
    keep = order[:n_keep].sort().values
    masked = torch.ones(N_TOKENS, dtype=torch.bool)
    masked[keep] = False
    return keep, masked


def group_mask(ratio: float, generator: torch.Generator | None = None) -> tuple[Tensor, Tensor]:
    """Whole ``LEAD_GROUPS`` masked, in random order, until at least ``ratio`` of the leads are;
    one group always stays visible. (kept token indices, bool masked (180,)), as ``random_mask``."""
    leads: list[int] = []
    for g in torch.randperm(len(LEAD_GROUPS), generator=generator).tolist():
        if len(leads) >= ratio * N_LEADS:
            break
        if len(leads) + len(LEAD_GROUPS[g]) < N_LEADS:
            leads += LEAD_GROUPS[g]
    lead_masked = torch.zeros(N_LEADS, dtype=torch.bool)
    lead_masked[leads] = True
    masked = lead_masked.repeat_interleave(N_BEATS)  # tokens are lead-major
    return (~masked).nonzero().flatten(), masked


MASKS = {"tokens": random_mask, "groups": group_mask}


@torch.no_grad()
def trivial_baselines(
    values: Tensor, pad: Tensor, masked: Tensor, amplitude: bool = False
) -> dict[str, float]:
    """What predictors that learn nothing score on the loss's tokens and targets (masked, real
    beats; ``masked`` one pattern (180,) or one per record (B, 180); z-scored shapes, and with
    ``amplitude`` their log-scales, ``scale_`` keys):
    ``template_mse``, each lead's mean over the batch; ``copy_mse``, the mean of the lead's
    visible beats in the same record (the template where it has none); ``copy_share``, the
    masked beats whose lead has a visible one."""
    b = values.shape[0]
    shape, scale = normalise_tokens(values.flatten(1, 2))
    real = ~pad
    hidden = masked.view(-1, N_LEADS, N_BEATS) & real
    seen = ~masked.view(-1, N_LEADS, N_BEATS) & real
    n_seen = seen.sum(-1, keepdim=True)  # (B, 12, 1)
    n = hidden.sum().clamp_min(1)
    out = {"copy_share": float((hidden & (n_seen > 0)).sum() / n)}
    targets = {"": shape, "scale_": scale} if amplitude else {"": shape}
    for key, flat in targets.items():
        target = flat.view(b, N_LEADS, N_BEATS, -1).float()
        template = (target * real[..., None]).sum((0, 2)) / real.sum((0, 2)).clamp_min(1)[:, None]
        copy = (target * seen[..., None]).sum(2) / n_seen.clamp_min(1)  # (B, 12, F)
        guess = torch.where(n_seen[..., None] > 0, copy[:, :, None], template[None, :, None])
        for name, pred in (("template", template[None, :, None]), ("copy", guess)):
            out[f"{key}{name}_mse"] = float((((target - pred) ** 2).mean(-1) * hidden).sum() / n)
    return out


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
        self.predict = nn.Linear(d, contract.TOKEN_LEN + (1 if decoder.amplitude > 0 else 0))
        nn.init.trunc_normal_(self.mask_token, std=0.02)
        nn.init.trunc_normal_(self.position.weight, std=0.02)

    def forward(self, batch: Batch, progress: float) -> Tensor:
        config = self.decoder_config
        keep, masked = MASKS[config.masking](config.mask_ratio, self.generator)
        dev = batch.values.device
        keep, masked = keep.to(dev), masked.to(dev)
        loss = self.reconstruction_loss(batch.values, batch.pad, batch.rpeaks, keep, masked)
        baselines = trivial_baselines(batch.values, batch.pad, masked, config.amplitude > 0)
        self.parts = {**self.parts, **baselines}
        return loss

    def reconstruction_loss(
        self, values: Tensor, pad: Tensor, rpeaks: Tensor, keep: Tensor, masked: Tensor
    ) -> Tensor:
        """Mean squared error over the masked, non-padded tokens (z-scored targets), plus
        ``amplitude`` x that of their log-scales when the decoder predicts them; both parts
        go to ``parts``."""
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
            x, _ = block(x, blocked, need_weights=False)
        pred = self.predict(self.norm(x[:, N_LEADS:])).float()
        target, scale = normalise_tokens(values.flatten(1, 2))
        weight = (masked.to(x.device)[None, :] & ~pad).float()
        n = weight.sum().clamp_min(1.0)
        loss = (((pred[..., : contract.TOKEN_LEN] - target) ** 2).mean(dim=-1) * weight).sum() / n
        self.parts = {"mse": float(loss.detach())}
        if self.decoder_config.amplitude > 0:
            scale_mse = (((pred[..., contract.TOKEN_LEN] - scale[..., 0]) ** 2) * weight).sum() / n
            self.parts["scale_mse"] = float(scale_mse.detach())
            loss = loss + self.decoder_config.amplitude * scale_mse
        return loss
