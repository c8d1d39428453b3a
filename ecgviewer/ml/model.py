"""The beat-token encoder (CLEAR, seed-methods.md §2.2) and its heads (linear, HUG §2.5).

Sequence layout: 12 lead [CLS] tokens first, then the beat tokens lead-major
(lead i, beat j at ``12 + i * 15 + j``). Attention is written out (no fused kernel) so every
layer can return its weights and captum can differentiate through it.

Design decisions, each on purpose:
- Tokens are embedded one by one (Linear 96 -> d) instead of CLEAR's circular Conv1d across the
  token axis, so a token's embedding depends on its own beat only and attributions stay local.
- The encoder *hard*-masks the view rule: lead i's [CLS] sees only itself and lead i's beats
  (CLEAR's code only adds +1 to those logits). The 12 [CLS] outputs are then true per-lead
  summaries: the HUG lead groups mean what they say, and [CLS]-to-beat attention reads as
  "which beats mattered in this lead". Beat tokens see all beats, so leads still inform each
  other.
- Per-token z-scoring (CLEAR) happens here, on mV input; the log of each token's scale is an
  extra input feature (``amplitude``) so voltage criteria (hypertrophy) are not thrown away.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, fields
from functools import partial

import torch
from torch import Tensor, nn

from ecgviewer.ml import contract

N_LEADS = len(contract.LEADS)
N_TIME_BINS = 16
EPS = 1e-3  # mV; keeps the z-score of near-flat tokens finite
# HUG's lead-system groups (§2.5), as indices into contract.LEADS.
HUG_GROUPS: tuple[tuple[int, ...], ...] = ((0, 1, 2), (3, 4, 5), (6, 7, 8, 9, 10, 11))
HUG_PAIRS: tuple[tuple[int, int], ...] = ((0, 1), (1, 2), (0, 2))


@dataclass(frozen=True)
class EncoderConfig:
    dim: int = 128
    depth: int = 4
    heads: int = 4
    mlp_ratio: float = 2.0
    dropout: float = 0.1
    amplitude: bool = True

    @classmethod
    def from_dict(cls, d: dict) -> EncoderConfig:
        names = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in d.items() if k in names})

    def to_dict(self) -> dict:
        return asdict(self)


def normalise_tokens(values: Tensor) -> tuple[Tensor, Tensor]:
    """Per-token z-score over the 96 samples, and the log of the token's scale (mV)."""
    mean = values.mean(dim=-1, keepdim=True)
    std = values.std(dim=-1, keepdim=True, unbiased=False)
    return (values - mean) / (std + EPS), torch.log(std + EPS)


def view_allowed(n_leads: int = N_LEADS, n_beats: int = contract.MAX_BEATS) -> Tensor:
    """Bool (12+T, 12+T), True = may attend: [CLS]_i <-> itself and lead i's beats;
    beats <-> all beats."""
    n_tok = n_leads * n_beats
    lead_of = torch.arange(n_tok) // n_beats
    allowed = torch.zeros(n_leads + n_tok, n_leads + n_tok, dtype=torch.bool)
    allowed[:n_leads, :n_leads] = torch.eye(n_leads, dtype=torch.bool)
    own = lead_of[None, :] == torch.arange(n_leads)[:, None]  # (12, T)
    allowed[:n_leads, n_leads:] = own
    allowed[n_leads:, :n_leads] = own.T
    allowed[n_leads:, n_leads:] = True
    return allowed


class Attention(nn.Module):
    """Multi-head self-attention that returns its weights (B, heads, N, N)."""

    def __init__(self, dim: int, heads: int) -> None:
        super().__init__()
        self.heads = heads
        self.qkv = nn.Linear(dim, dim * 3)
        self.proj = nn.Linear(dim, dim)

    def forward(self, x: Tensor, blocked: Tensor | None = None) -> tuple[Tensor, Tensor]:
        b, n, d = x.shape
        q, k, v = self.qkv(x).reshape(b, n, 3, self.heads, d // self.heads).permute(2, 0, 3, 1, 4)
        logits = (q @ k.transpose(-2, -1)) / math.sqrt(d // self.heads)
        if blocked is not None:  # (N, N) or (B, 1, N, N); a finite fill keeps empty rows finite
            logits = logits.masked_fill(blocked, torch.finfo(logits.dtype).min)
        weights = logits.softmax(dim=-1)
        out = (weights @ v).transpose(1, 2).reshape(b, n, d)
        return self.proj(out), weights


class Block(nn.Module):
    """Pre-norm transformer block."""

    def __init__(self, dim: int, heads: int, mlp_ratio: float, dropout: float) -> None:
        super().__init__()
        self.norm1 = nn.LayerNorm(dim)
        self.attn = Attention(dim, heads)  # no dropout on the weights: costly on CPU
        self.norm2 = nn.LayerNorm(dim)
        hidden = int(dim * mlp_ratio)
        self.mlp = nn.Sequential(
            nn.Linear(dim, hidden), nn.GELU(), nn.Dropout(dropout), nn.Linear(hidden, dim)
        )
        self.drop = nn.Dropout(dropout)

    def forward(self, x: Tensor, blocked: Tensor | None = None) -> tuple[Tensor, Tensor]:
        a, weights = self.attn(self.norm1(x), blocked)
        x = x + self.drop(a)
        return x + self.drop(self.mlp(self.norm2(x))), weights


class Encoder(nn.Module):
    """Beat tokens (B, 12, 15, 96) mV -> hidden states (B, 12 + kept tokens, dim)."""

    def __init__(self, config: EncoderConfig) -> None:
        super().__init__()
        self.config = config
        d = config.dim
        self.embed = nn.Linear(contract.TOKEN_LEN, d)
        self.amplitude = nn.Linear(1, d) if config.amplitude else None
        self.cls = nn.Parameter(torch.zeros(N_LEADS, d))
        self.lead = nn.Embedding(N_LEADS, d)
        self.beat = nn.Embedding(contract.MAX_BEATS, d)
        self.time = nn.Embedding(N_TIME_BINS, d)
        self.blocks = nn.ModuleList(
            Block(d, config.heads, config.mlp_ratio, config.dropout) for _ in range(config.depth)
        )
        self.norm = nn.LayerNorm(d)
        self.register_buffer("allowed", view_allowed(), persistent=False)
        self.register_buffer("lead_ids", torch.arange(N_LEADS), persistent=False)
        self.register_buffer("beat_ids", torch.arange(contract.MAX_BEATS), persistent=False)
        nn.init.trunc_normal_(self.cls, std=0.02)
        self.apply(_init)

    def embed_tokens(self, values: Tensor, time_bin: Tensor) -> Tensor:
        """(B, 12, 15, 96) mV -> (B, 180, dim) token embeddings with positions."""
        z, log_scale = normalise_tokens(values)
        x = self.embed(z)
        if self.amplitude is not None:
            x = x + self.amplitude(log_scale)
        x = x + self.lead(self.lead_ids)[None, :, None] + self.beat(self.beat_ids)[None, None]
        x = x + self.time(time_bin.clamp(0, N_TIME_BINS - 1))[:, None]
        return x.flatten(1, 2)

    def forward(
        self,
        values: Tensor,
        pad: Tensor,
        time_bin: Tensor,
        keep: Tensor | None = None,
        return_attention: bool = False,
    ) -> tuple[Tensor, list[Tensor]]:
        """``keep``: indices of the beat tokens to encode (one pattern for the whole batch, as in
        CLEAR's pretraining); None encodes all 180. Returns hidden states and, if asked, each
        layer's attention weights."""
        b = values.shape[0]
        x = self.embed_tokens(values, time_bin)
        pad = pad.flatten(1)
        allowed = self.allowed
        if keep is not None:
            x, pad = x[:, keep], pad[:, keep]
            rows = torch.cat([torch.arange(N_LEADS, device=keep.device), keep + N_LEADS])
            allowed = allowed[rows][:, rows]
        cls = (self.cls + self.lead(self.lead_ids)).expand(b, -1, -1)
        x = torch.cat([cls, x], dim=1)
        key_pad = torch.cat([torch.zeros_like(pad[:, :N_LEADS]), pad], dim=1)
        blocked = (~allowed)[None, None] | key_pad[:, None, None, :]
        maps = []
        for block in self.blocks:
            x, weights = block(x, blocked)
            if return_attention:
                maps.append(weights)
        return self.norm(x), maps


class LinearHead(nn.Module):
    """CLEAR's downstream head: mean of the 12 lead [CLS] outputs -> Linear."""

    def __init__(self, dim: int, n_classes: int) -> None:
        super().__init__()
        self.fc = nn.Linear(dim, n_classes)

    def forward(self, cls: Tensor) -> Tensor:
        return self.fc(cls.mean(dim=1))


class HUGHead(nn.Module):
    """Hierarchical lead-Unified Group head (§2.5): lead groups -> pairs -> all -> classifier.

    Each expert is Linear + GELU here (a deviation, training/README.md); ``linear=True`` gives the
    paper's linear experts (CLEAR-HUG ``utils/moe.py``), whose whole head is then one affine map of
    the 12 lead vectors. The 7 group vectors are averaged before the classifier, and
    ``group_vectors`` exposes them so the viewer can explain per lead system.
    """

    def __init__(self, dim: int, n_classes: int, dropout: float = 0.1, linear: bool = False) -> None:
        super().__init__()
        expert = partial(_expert, linear=linear)
        self.groups = nn.ModuleList(expert(dim) for _ in HUG_GROUPS)
        self.pairs = nn.ModuleList(expert(dim) for _ in HUG_PAIRS)
        self.top = expert(dim)
        self.drop = nn.Dropout(dropout)
        self.fc = nn.Linear(dim, n_classes)

    def group_vectors(self, cls: Tensor) -> Tensor:
        """(B, 12, d) -> (B, 7, d): 3 groups, 3 pairs, 1 overall."""
        g = [
            expert(cls[:, list(idx)]).mean(dim=1) for expert, idx in zip(self.groups, HUG_GROUPS, strict=True)
        ]
        p = [
            expert(torch.stack([g[i], g[j]], dim=1)).mean(dim=1)
            for expert, (i, j) in zip(self.pairs, HUG_PAIRS, strict=True)
        ]
        top = self.top(torch.stack(p, dim=1)).mean(dim=1)
        return torch.stack([*g, *p, top], dim=1)

    def forward(self, cls: Tensor) -> Tensor:
        return self.fc(self.drop(self.group_vectors(cls).mean(dim=1)))


# "hug-linear": the paper-faithful HUG, compared with ours in the training grid.
HEADS = {"linear": LinearHead, "hug": HUGHead, "hug-linear": partial(HUGHead, linear=True)}


class Classifier(nn.Module):
    """Encoder + one head per task (e.g. ``super`` and ``all``): tokens -> logits.

    The encoder is the beat-token ``Encoder`` (``EncoderConfig``) or, for ECG-JEPA's encoders,
    the patch-token ``PatchEncoder`` (``PatchConfig``); ``kind`` names which, so the tokeniser.
    """

    def __init__(self, config: EncoderConfig, tasks: dict[str, int], head: str = "hug") -> None:
        super().__init__()
        from ecgviewer.ml.patches import PatchConfig, PatchEncoder  # patches builds on this module

        self.head_kind = head
        self.kind = "patches" if isinstance(config, PatchConfig) else "beats"
        self.encoder = PatchEncoder(config) if self.kind == "patches" else Encoder(config)
        self.heads = nn.ModuleDict({task: HEADS[head](config.dim, n) for task, n in tasks.items()})

    @property
    def patch_spec(self) -> contract.PatchSpec | None:
        """The patch tokeniser's spec of a patch classifier; None for beat tokens."""
        return self.encoder.config.patch_spec if self.kind == "patches" else None

    def lead_cls(self, values: Tensor, pad: Tensor, time_bin: Tensor | None = None) -> Tensor:
        """The 12 per-lead vectors (B, 12, dim): the lead [CLS] outputs of the beat encoder, the
        per-lead token means of the patch encoder (which has no time bins), in the contract's lead
        order; a lead the patch spec leaves out (the paper's 8 leads) is a zero vector."""
        if self.kind == "patches":
            feats = self.encoder.lead_features(values, pad)
            rows = [contract.LEADS.index(lead) for lead in self.patch_spec.leads]
            out = feats.new_zeros(feats.shape[0], N_LEADS, feats.shape[-1])
            out[:, rows] = feats
            return out
        return self.encoder(values, pad, time_bin)[0][:, :N_LEADS]

    def forward(self, values: Tensor, pad: Tensor, time_bin: Tensor | None = None) -> dict[str, Tensor]:
        cls = self.lead_cls(values, pad, time_bin)
        return {task: head(cls) for task, head in self.heads.items()}


def _expert(dim: int, linear: bool = False) -> nn.Module:
    return nn.Sequential(nn.Linear(dim, dim), *([] if linear else [nn.GELU()]))


def _init(m: nn.Module) -> None:
    if isinstance(m, nn.Linear):
        nn.init.trunc_normal_(m.weight, std=0.02)
        if m.bias is not None:
            nn.init.zeros_(m.bias)
    elif isinstance(m, nn.Embedding):
        nn.init.trunc_normal_(m.weight, std=0.02)
