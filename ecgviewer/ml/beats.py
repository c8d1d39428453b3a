"""The beat-token encoder (CLEAR, seed-methods.md §2.2).

Sequence layout: 12 lead [CLS] tokens first, then the beat tokens lead-major
(lead i, beat j at ``12 + i * 15 + j``).

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
- The encoder takes each beat's R-peak position, not only its whole-second time bin. With
  ``rr`` on it reads the RR intervals as a cardiologist reads rate, regularity and prematurity:
  each beat token gets its intervals to the neighbouring beats, and the window's RR statistics
  (``rhythm_features``) are added to every lead vector the heads read, a direct path, as a
  96-sample token shows almost none of the RR interval (on fold 9 the model without them trailed
  the CNN baselines most on sinus arrhythmia, 0.70 against 0.90 AUROC, bradycardia, bigeminy and
  PACs). Both layers start at zero, so an encoder gains them without changing its output.
  With ``rr_logits`` the statistics also enter each head's logits linearly (``model.Classifier``):
  on fold 9 a logistic regression on the seven statistics alone out-ranked the model that had
  them only through the lead vectors on bradycardia (0.946 against 0.926 AUROC), sinus
  arrhythmia, PACs and bigeminy.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields
from typing import ClassVar, cast

import torch
from torch import Tensor, nn

from ecgviewer.ml import contract
from ecgviewer.ml.layers import Block, init_weights

N_LEADS = len(contract.LEADS)
N_TIME_BINS = 16
EPS = 1e-3  # mV; keeps the z-score of near-flat tokens finite


@dataclass(frozen=True)
class EncoderConfig:
    dim: int = 128
    depth: int = 4
    heads: int = 4
    mlp_ratio: float = 2.0
    dropout: float = 0.1
    amplitude: bool = True
    rr: bool = False  # the RR-interval inputs (module docstring); off in encoders exported before them
    # the window's RR statistics also reach every classifier head's logits through a linear term
    # (``model.Classifier``); off in classifiers exported before it
    rr_logits: bool = False
    # fields added after weights were first shipped: written only when set, so re-exporting a model
    # that does not use them gives the same file (cards, ``choose`` and the explanation benchmark
    # name weights by the file's SHA-256)
    LATER: ClassVar[dict[str, object]] = {"rr": False, "rr_logits": False}

    @classmethod
    def from_dict(cls, d: dict) -> EncoderConfig:
        names = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in d.items() if k in names})

    def to_dict(self) -> dict:
        return {k: v for k, v in asdict(self).items() if k not in self.LATER or v != self.LATER[k]}


def normalise_tokens(values: Tensor) -> tuple[Tensor, Tensor]:
    """Per-token z-score over the 96 samples, and the log of the token's scale (mV)."""
    mean = values.mean(dim=-1, keepdim=True)
    std = values.std(dim=-1, keepdim=True, unbiased=False)
    return (values - mean) / (std + EPS), torch.log(std + EPS)


def rr_features(rpeaks: Tensor) -> Tensor:
    """(B, 15) R-peaks (100 Hz samples from the window start, ascending, -1 where no beat) ->
    (B, 15, 4): log RR in seconds to the previous and to the next beat (0 where there is none) and
    whether each exists."""
    ok = rpeaks >= 0
    pair = ok[:, 1:] & ok[:, :-1]  # (B, 14): beats j and j + 1 both exist
    log_rr = torch.log((rpeaks[:, 1:] - rpeaks[:, :-1]).clamp_min(1).float() / contract.FS)
    log_rr = torch.where(pair, log_rr, torch.zeros_like(log_rr))
    pad = nn.functional.pad
    prev, nxt = pad(log_rr, (1, 0)), pad(log_rr, (0, 1))
    return torch.stack([prev, nxt, pad(pair, (1, 0)).float(), pad(pair, (0, 1)).float()], dim=-1)


N_RHYTHM = 7


def rhythm_features(rpeaks: Tensor, irregular: float = 0.15) -> Tensor:
    """(B, 15) R-peaks (as ``rr_features``) -> (B, 7) RR statistics of each window: log mean RR
    (s), its coefficient of variation, RMSSD over the mean, log of longest over shortest, the share
    of successive intervals differing by more than ``irregular`` of the mean, the share of
    successive differences that alternate in sign (bigeminy), and whether there are at least two
    intervals (all zero otherwise)."""
    ok = rpeaks >= 0
    pair = ok[:, 1:] & ok[:, :-1]
    d = (rpeaks[:, 1:] - rpeaks[:, :-1]).clamp_min(1).float() / contract.FS
    w = pair.float()
    n = w.sum(1).clamp_min(1)
    mean = (d * w).sum(1) / n
    cv = ((((d - mean[:, None]) ** 2) * w).sum(1) / n).sqrt() / mean
    succ = (pair[:, 1:] & pair[:, :-1]).float()
    dd = d[:, 1:] - d[:, :-1]
    n2 = succ.sum(1).clamp_min(1)
    rmssd = ((dd**2 * succ).sum(1) / n2).sqrt() / mean
    spread = torch.log(torch.where(pair, d, 0).amax(1) / torch.where(pair, d, 1e3).amin(1))
    jumpy = ((dd.abs() > irregular * mean[:, None]).float() * succ).sum(1) / n2
    both = succ[:, 1:] * succ[:, :-1]
    alternate = ((dd[:, 1:] * dd[:, :-1] < 0).float() * both).sum(1) / both.sum(1).clamp_min(1)
    enough = (pair.sum(1) >= 2)[:, None]
    f = torch.stack([torch.log(mean), cv, rmssd, spread, jumpy, alternate, torch.ones_like(mean)], dim=1)
    return torch.where(enough, f, torch.zeros_like(f))  # not a product: a record without beats gives inf


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


class Encoder(nn.Module):
    """Beat tokens (B, 12, 15, 96) mV and their R-peaks (B, 15) -> hidden states
    (B, 12 + kept tokens, dim)."""

    kind: ClassVar[str] = contract.BEATS
    patch_spec = None  # beat tokens follow the contract, not a patch spec
    allowed: Tensor  # buffers, for the type checker
    lead_ids: Tensor
    beat_ids: Tensor

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
        self.rr = nn.Linear(4, d) if config.rr else None
        self.rhythm = nn.Sequential(nn.Linear(N_RHYTHM, d), nn.GELU(), nn.Linear(d, d)) if config.rr else None
        self.blocks = nn.ModuleList(
            Block(d, config.heads, config.mlp_ratio, config.dropout) for _ in range(config.depth)
        )
        self.norm = nn.LayerNorm(d)
        self.register_buffer("allowed", view_allowed(), persistent=False)
        self.register_buffer("lead_ids", torch.arange(N_LEADS), persistent=False)
        self.register_buffer("beat_ids", torch.arange(contract.MAX_BEATS), persistent=False)
        nn.init.trunc_normal_(self.cls, std=0.02)
        self.apply(init_weights)
        if self.rr is not None and self.rhythm is not None:
            nn.init.zeros_(self.rr.weight)
            nn.init.zeros_(cast(nn.Linear, self.rhythm[-1]).weight)

    def embed_tokens(self, values: Tensor, rpeaks: Tensor) -> Tensor:
        """(B, 12, 15, 96) mV, R-peaks (B, 15) -> (B, 180, dim) token embeddings with positions."""
        z, log_scale = normalise_tokens(values)
        x = self.embed(z)
        if self.amplitude is not None:
            x = x + self.amplitude(log_scale)
        x = x + self.lead(self.lead_ids)[None, :, None] + self.beat(self.beat_ids)[None, None]
        time_bin = torch.div(rpeaks.clamp_min(0), contract.FS, rounding_mode="floor")  # whole seconds
        x = x + self.time(time_bin.clamp_max(N_TIME_BINS - 1))[:, None]
        if self.rr is not None:
            x = x + self.rr(rr_features(rpeaks))[:, None]
        return x.flatten(1, 2)

    def forward(
        self,
        values: Tensor,
        pad: Tensor,
        rpeaks: Tensor,
        keep: Tensor | None = None,
        return_attention: bool = False,
    ) -> tuple[Tensor, list[Tensor]]:
        """``keep``: indices of the beat tokens to encode (one pattern for the whole batch, as in
        CLEAR's pretraining); None encodes all 180. Returns hidden states and, if asked, each
        layer's attention weights."""
        b = values.shape[0]
        x = self.embed_tokens(values, rpeaks)
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
            x, weights = block(x, blocked, need_weights=return_attention)
            if weights is not None:
                maps.append(weights)
        return self.norm(x), maps

    def lead_vectors(self, values: Tensor, pad: Tensor, rpeaks: Tensor | None = None) -> Tensor:
        """The 12 lead [CLS] outputs (B, 12, dim), what the heads read."""
        if rpeaks is None:
            raise ValueError("a beat-token encoder needs the beats' R-peaks")
        cls = self(values, pad, rpeaks)[0][:, :N_LEADS]
        if self.rhythm is not None:
            cls = cls + self.rhythm(rhythm_features(rpeaks))[:, None]
        return cls
