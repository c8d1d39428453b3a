"""The patch-token encoder with CroPA attention (ECG-JEPA, seed-methods.md §1.1, §1.2).

Tokens sit on a (lead x time) grid of fixed 0.2 s patches (``contract.patchify``), lead-major:
token (c, t) is index ``c * T + t``. CroPA lets a token attend only to its own lead (any time)
and to its own time step (any lead).

Design decisions:
- CroPA is computed factorised (a row part within the lead, a column part within the time step,
  one joint softmax) in O(L*T*(T+L)) instead of the (L*T)^2 of a masked dense attention; that is
  the reason it is written by hand. ``dense_weights`` rebuilds the (N, N) maps for the viewer.
- The blocks are ``layers.Block`` (pre-norm, same MLP and dropout) with the attention swapped,
  so both encoders of the project share one block design; the qkv projection keeps its bias
  (the paper's has none), a detail not worth a second attention class.
- Input is band-passed mV without per-record normalisation, as the paper feeds mV (§1.1), divided
  by a fixed ``scale_mv`` and embedded with a variance-preserving init, so a patch's content enters
  its token at the size of its sin-cos position. With the transformer's usual SD-0.02 embedding it
  entered at 1/35 of it, the EMA targets could not tell recordings apart and ECG-JEPA collapsed
  (training/README.md); a fixed mV scale, unlike z-scoring, keeps the amplitude.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field, fields
from typing import ClassVar

import torch
from torch import Tensor

from ecgviewer.ml import contract
from ecgviewer.ml.layers import Attention, Block, init_weights


@dataclass(frozen=True)
class PatchConfig:
    dim: int = 128
    depth: int = 4
    heads: int = 4
    mlp_ratio: float = 2.0
    dropout: float = 0.1
    scale_mv: float = 0.2  # patch values are divided by this: about the band-passed signal's SD
    spec: dict = field(default_factory=lambda: contract.PatchSpec().to_dict())  # a PatchSpec, as dict

    @property
    def patch_spec(self) -> contract.PatchSpec:
        return contract.PatchSpec.from_dict(self.spec)

    @classmethod
    def from_dict(cls, d: dict) -> PatchConfig:
        names = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in d.items() if k in names})

    def to_dict(self) -> dict:
        return asdict(self)


def cropa_allowed(n_leads: int, n_time: int) -> Tensor:
    """Bool (N, N), N = L*T lead-major, True = may attend: same lead or same time step (§1.2)."""
    idx = torch.arange(n_leads * n_time)
    lead, time = idx // n_time, idx % n_time
    return (lead[:, None] == lead[None, :]) | (time[:, None] == time[None, :])


def sincos(n: int, dim: int) -> Tensor:
    """Fixed 1-D sin-cos positions (n, dim): half the dims sines, half cosines (dim even)."""
    freq = 1.0 / 10000 ** (torch.arange(dim // 2, dtype=torch.float32) / (dim // 2))
    angle = torch.arange(n, dtype=torch.float32)[:, None] * freq[None, :]
    return torch.cat([angle.sin(), angle.cos()], dim=1)


def sincos_grid(n_leads: int, n_time: int, dim: int) -> Tensor:
    """Fixed 2-D sin-cos positions (L, T, dim): the first half encodes the lead, the second the time
    step (§1.1); dim divisible by 4."""
    lead = sincos(n_leads, dim // 2)[:, None, :].expand(-1, n_time, -1)
    time = sincos(n_time, dim // 2)[None, :, :].expand(n_leads, -1, -1)
    return torch.cat([lead, time], dim=-1)


class CropaAttention(Attention):
    """``model.Attention``'s projections on a (B, L, T, d) grid, restricted to CroPA.

    ``forward(x, pad)`` returns the output and the factorised weights (row (B, H, L, T, T) over the
    token's lead, column (B, H, L, T, L) over its time step). The column entry of the token itself
    is blocked (the row part already holds it), and padded keys are blocked in both parts with a
    finite fill, so a query with no allowed key stays finite.
    """

    def forward(  # type: ignore[override]  # CroPA returns its row and column weights
        self, x: Tensor, pad: Tensor | None = None, need_weights: bool = True
    ) -> tuple[Tensor, tuple[Tensor, Tensor]]:
        """Its factorised weights are part of the computation, so they come back either way."""
        b, n_leads, n_time, d = x.shape
        dh = d // self.heads
        qkv = self.qkv(x).reshape(b, n_leads, n_time, 3, self.heads, dh).permute(3, 0, 4, 1, 2, 5)
        q, k, v = qkv[0] / math.sqrt(dh), qkv[1], qkv[2]  # (B, H, L, T, dh)
        row = torch.einsum("bhltd,bhlsd->bhlts", q, k)
        col = torch.einsum("bhltd,bhmtd->bhltm", q, k)
        fill = torch.finfo(row.dtype).min
        self_col = torch.eye(n_leads, dtype=torch.bool, device=x.device)[:, None, :]  # (L, 1, L)
        if pad is None:
            col = col.masked_fill(self_col, fill)
        else:
            row = row.masked_fill(pad[:, None, :, None, :], fill)
            col = col.masked_fill(self_col | pad.transpose(1, 2)[:, None, None], fill)
        weights = torch.cat([row, col], dim=-1).softmax(dim=-1)
        row_w, col_w = weights[..., :n_time], weights[..., n_time:]
        out = torch.einsum("bhlts,bhlsd->bhltd", row_w, v) + torch.einsum("bhltm,bhmtd->bhltd", col_w, v)
        return self.proj(out.permute(0, 2, 3, 1, 4).reshape(b, n_leads, n_time, d)), (row_w, col_w)


def dense_weights(row: Tensor, col: Tensor) -> Tensor:
    """Factorised CroPA weights -> dense (B, H, N, N) over lead-major tokens (zero outside CroPA)."""
    b, h, n_leads, n_time, _ = row.shape
    dense = row.new_zeros(b, h, n_leads, n_time, n_leads, n_time)
    leads, times = torch.arange(n_leads, device=row.device), torch.arange(n_time, device=row.device)
    # Two advanced indices split by slices move to the front: (L, B, H, T, T) and (T, B, H, L, L).
    dense[:, :, leads, :, leads, :] = row.permute(2, 0, 1, 3, 4)
    dense[:, :, :, times, :, times] += col.permute(3, 0, 1, 2, 4)
    return dense.reshape(b, h, n_leads * n_time, n_leads * n_time)


class CropaBlock(Block):
    """``layers.Block`` (pre-norm) with CroPA attention; tokens stay on the (B, L, T, d) grid."""

    def __init__(self, dim: int, heads: int, mlp_ratio: float, dropout: float) -> None:
        super().__init__(dim, heads, mlp_ratio, dropout)
        self.attn = CropaAttention(dim, heads)


class PatchEncoder(torch.nn.Module):
    """Patches (B, L, T, P) mV -> hidden states (B, L, T', dim), CroPA in every layer (§1.2)."""

    kind: ClassVar[str] = contract.PATCHES

    def __init__(self, config: PatchConfig) -> None:
        super().__init__()
        self.config = config
        spec = config.patch_spec
        self.embed = torch.nn.Linear(spec.patch_len, config.dim)  # shared by all leads (§1.1)
        self.blocks = torch.nn.ModuleList(
            CropaBlock(config.dim, config.heads, config.mlp_ratio, config.dropout)
            for _ in range(config.depth)
        )
        self.norm = torch.nn.LayerNorm(config.dim)
        self.register_buffer(
            "position", sincos_grid(len(spec.leads), spec.n_patches, config.dim), persistent=False
        )
        self.apply(init_weights)
        torch.nn.init.normal_(self.embed.weight, std=spec.patch_len**-0.5)  # LeCun: unit in, unit out

    def forward(
        self,
        values: Tensor,
        pad: Tensor,
        keep_time: Tensor | None = None,
        return_attention: bool = False,
    ) -> tuple[Tensor, list[Tensor]]:
        """``keep_time``: sorted time steps to encode, shared by every lead (§1.3), so the grid
        stays L x T'; None encodes all. With ``return_attention`` each layer's dense (B, H, N, N)
        weights come back too."""
        x = self.embed(values / self.config.scale_mv) + self.position
        if keep_time is not None:
            x, pad = x[:, :, keep_time], pad[:, :, keep_time]
        maps = []
        for block in self.blocks:
            x, (row, col) = block(x, pad)
            if return_attention:
                maps.append(dense_weights(row, col))
        return self.norm(x), maps

    def lead_features(self, values: Tensor, pad: Tensor) -> Tensor:
        """(B, L, dim): each lead's mean over its non-padded tokens (zeros for a padded lead), the
        per-lead vectors the downstream heads take."""
        return _masked_mean(self(values, pad)[0], pad, dims=(2,))

    @property
    def patch_spec(self) -> contract.PatchSpec:
        return self.config.patch_spec

    def lead_vectors(self, values: Tensor, pad: Tensor, rpeaks: Tensor | None = None) -> Tensor:
        """(B, 12, dim) in the contract's lead order (patches take no R-peaks); a lead the spec
        leaves out (the paper's 8 leads) is a zero vector."""
        feats = self.lead_features(values, pad)
        rows = [contract.LEADS.index(lead) for lead in self.patch_spec.leads]
        out = feats.new_zeros(feats.shape[0], len(contract.LEADS), feats.shape[-1])
        out[:, rows] = feats
        return out

    def representation(self, values: Tensor, pad: Tensor) -> Tensor:
        """(B, dim): the mean over all non-padded tokens, the paper's representation (§1.5)."""
        return _masked_mean(self(values, pad)[0], pad, dims=(1, 2))


def _masked_mean(hidden: Tensor, pad: Tensor, dims: tuple[int, ...]) -> Tensor:
    weight = (~pad).to(hidden.dtype)[..., None]
    return (hidden * weight).sum(dim=dims) / weight.sum(dim=dims).clamp_min(1.0)
