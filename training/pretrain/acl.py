"""ACL-ECG pretraining (seed-methods.md §4): physiology-aware augmentations and region-level
contrastive learning over the four anatomical lead regions.

ACL-ECG has no official code (§4, §9). The paper's backbone (very probably one VGG16-1D per lead,
§4.2) is replaced by the project's shared beat-token encoder, whose 12 lead [CLS] outputs are true
per-lead summaries (the encoder hard-masks each [CLS] to its own lead's beats): the comparison with
the other objectives then measures the objective, not the backbone.

- Views: the augmentations of §4.1 act on the band-passed 100 Hz window (signal space), then the
  contract's own tokeniser cuts the beat tokens again from the transformed R-peaks, so a view is
  tokenised exactly as a real record would be.
- Regions: inferior, lateral, septal, anterior (``TERRITORIES`` without aVR, §4.2); a region is the
  mean of its leads' [CLS] outputs, through its own projector.
- Loss: ``eta_intra * intra + eta_inter * inter`` (τ = 0.1, η = 0.5 each, §4.2). The sign of the
  inter-region term is unresolved (§4.2, §9); ``inter`` selects it (default "push", the abstract's
  "inter-region discriminability") and "none" ablates it.
- Not taken: the 3p per-ECG global z-score (§4.2); the encoder z-scores every token itself.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from functools import partial
from typing import Literal

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ecgviewer.leads import TERRITORIES
from ecgviewer.ml import contract
from ecgviewer.ml.beats import N_LEADS, Encoder, EncoderConfig
from training.pretrain.batch import Batch

# The four anatomical regions as indices into contract.LEADS; aVR is usually excluded (§4.2).
REGION_NAMES: tuple[str, ...] = tuple(name for name in TERRITORIES if name != "aVR")
REGIONS: tuple[tuple[int, ...], ...] = tuple(
    tuple(contract.LEADS.index(lead) for lead in TERRITORIES[name]) for name in REGION_NAMES
)
QRS_MARGIN_S = 0.06  # the cycle mask stays this far from every R-peak, so the QRS is kept whole
CYCLE_P = 0.5  # each R-R interval is masked with this probability (the spec gives no number)
Record = tuple[np.ndarray, int, np.ndarray]  # signal (12, W), valid length, R-peaks (ascending)
InterSign = Literal["push", "pull", "none"]


@dataclass(frozen=True)
class AclConfig:
    """``p_*`` default to 1.0: every augmentation already draws its strength (crop fraction, shift,
    which cycles), near-identity included, and the augmentations are the method's core (§4.1)."""

    tau: float = 0.1
    eta_intra: float = 0.5
    eta_inter: float = 0.5
    inter: InterSign = "push"
    p_crop: float = 1.0
    p_mask: float = 1.0
    p_shift: float = 1.0
    scale: tuple[float, float] = (0.5, 1.0)  # LFBT's crop range (§4.2)
    max_mask_fraction: float = 0.5  # LFBT's time-out masking goes up to 50 % (§4.2)
    max_shift_s: float = 1.0
    # 3p projectors are 2048 wide (§4.2) on 64-d lead features; ours sit on a 128-d encoder, so 2x/1x.
    proj_hidden: int = 256
    proj_dim: int = 128

    def __post_init__(self) -> None:
        if self.inter not in ("push", "pull", "none"):
            raise ValueError(f"inter must be push, pull or none, not {self.inter!r}")

    def to_dict(self) -> dict:
        return asdict(self)


# --------------------------------------------------------------------------- augmentations (§4.1)
def random_scale_crop(
    x: np.ndarray,
    length: int,
    peaks: np.ndarray,
    rng: np.random.Generator,
    scale: tuple[float, float] = (0.5, 1.0),
) -> Record:
    """Keep a contiguous crop of a random fraction of the record, moved to the window's start.

    Our reading of "random scale cropping" (the 3p notes say random resized crop): the crop is NOT
    resampled back to full length, as that would change the heart rate and every interval, i.e.
    the labels. Peaks outside the crop are dropped.
    """
    m = min(length, max(1, round(rng.uniform(*scale) * length)))
    start = int(rng.integers(0, length - m + 1))
    out = np.zeros_like(x)
    out[:, :m] = x[:, start : start + m]
    kept = peaks[(peaks >= start) & (peaks < start + m)]
    return out, m, kept - start


def cycle_mask(
    x: np.ndarray, length: int, peaks: np.ndarray, rng: np.random.Generator, max_fraction: float = 0.5
) -> Record:
    """Zero (all leads) one contiguous stretch inside each chosen R-R interval.

    Each interval is chosen with probability ``CYCLE_P``; its stretch is a uniform fraction (up to
    ``max_fraction``) of the interval, placed uniformly at least ``QRS_MARGIN_S`` from both R-peaks,
    so no R-peak and no sample within 60 ms of one is ever zeroed. Fewer than 2 peaks: a no-op.
    """
    if len(peaks) < 2:
        return x, length, peaks
    margin = round(QRS_MARGIN_S * contract.FS)
    rr = np.diff(peaks)
    chosen, size, where = rng.random(len(rr)) < CYCLE_P, rng.random(len(rr)), rng.random(len(rr))
    first = peaks[:-1] + margin + 1  # first sample that may be zeroed
    room = rr - 2 * margin - 1  # samples between the two protected zones
    n = np.minimum(np.floor(size * max_fraction * rr).astype(np.int64), room)
    start = first + np.floor(where * (room - n + 1)).astype(np.int64)
    out = x.copy()
    for a, k in zip(start[chosen & (n > 0)], n[chosen & (n > 0)], strict=True):
        out[:, a : a + k] = 0.0
    return out, length, peaks


def time_shift(
    x: np.ndarray, length: int, peaks: np.ndarray, rng: np.random.Generator, max_s: float = 1.0
) -> Record:
    """Shift the record by a uniform whole number of samples in [-max_s, max_s] seconds.

    Zero-filled, no wrap-around (wrapping would splice the end onto the start and fake a beat
    interval); samples and peaks pushed out of the window are dropped.
    """
    limit = round(max_s * contract.FS)
    s = int(rng.integers(-limit, limit + 1))
    w = x.shape[-1]
    lo, hi = max(0, s), max(0, min(w, length + s))  # where the kept samples land
    out = np.zeros_like(x)
    out[:, lo:hi] = x[:, lo - s : hi - s]
    moved = peaks + s
    return out, hi, moved[(moved >= lo) & (moved < hi)]


def _augment(record: Record, rng: np.random.Generator, config: AclConfig) -> Record:
    """Crop, cycle mask and shift, each with its probability (always drawn, so runs reproduce)."""
    steps = (
        (config.p_crop, partial(random_scale_crop, scale=config.scale)),
        (config.p_mask, partial(cycle_mask, max_fraction=config.max_mask_fraction)),
        (config.p_shift, partial(time_shift, max_s=config.max_shift_s)),
    )
    out = record
    for p, step in steps:
        if rng.random() < p:
            out = step(*out, rng)
    return out if len(out[2]) else record  # no beat left: this view is the record itself


def view(batch: Batch, rng: np.random.Generator, config: AclConfig) -> tuple[Tensor, Tensor, Tensor]:
    """One augmented view of every record: (values, pad, rpeaks) on the batch's device, cut by
    ``contract.tokenise_window`` from the augmented signal and its R-peaks."""
    signal = batch.signal.detach().cpu().numpy()
    lengths = batch.length.cpu().numpy()
    present = batch.present.cpu().numpy()
    rpeaks = batch.rpeaks.cpu().numpy()
    tokens = []
    for x, n, peaks, lead_ok in zip(signal, lengths, rpeaks, present, strict=True):
        y, m, kept = _augment((x, int(n), peaks[peaks >= 0]), rng, config)
        tokens.append(contract.tokenise_window(y[:, :m], kept, lead_ok)[:3])
    device = batch.values.device
    return tuple(torch.from_numpy(np.stack(part)).to(device) for part in zip(*tokens, strict=True))


# --------------------------------------------------------------------------- losses (§4.2)
def _log_probs(a: Tensor, b: Tensor, tau: float, regions: bool) -> Tensor:
    """Log-softmax (B, R, C) over the candidates of each anchor ``a[i, d]``: first ``b[j, d]`` for
    every ECG j (the positive at j = i), then, if ``regions``, ``b[i, d']`` for each d' != d."""
    bsz, r, _ = a.shape
    logits = torch.einsum("idk,jdk->idj", a, b)
    if regions:
        own = torch.einsum("idk,iek->ide", a, b)
        off = ~torch.eye(r, dtype=torch.bool, device=a.device)
        logits = torch.cat([logits, own[:, off].view(bsz, r, r - 1)], dim=-1)
    return (logits / tau).log_softmax(dim=-1)


def _positive(lp: Tensor) -> Tensor:
    """(B, R): the log-probability of the same ECG, same region."""
    return lp.diagonal(dim1=0, dim2=2).T


def intra_region_nce(z1: Tensor, z2: Tensor, tau: float) -> Tensor:
    """Intra-region consistency (§4.2 Eq. 10), z (B, R, D) L2-normalised, s = dot product:

        L = 1/(2BR) Σ_{i,d} [ -log e^{s(z1_id, z2_id)/τ} / Σ_j e^{s(z1_id, z2_jd)/τ} + (1 <-> 2) ]

    Negatives are the other ECGs' same region in the other view only (CLIP-style): the spec names
    no in-view negatives. Equal similarities give log B.
    """
    loss = sum(-_positive(_log_probs(a, b, tau, regions=False)).mean() for a, b in ((z1, z2), (z2, z1)))
    return loss / 2


def inter_region_nce(z1: Tensor, z2: Tensor, tau: float, sign: Literal["push", "pull"] = "push") -> Tensor:
    """Inter-region term (§4.2 Eq. 11); both signs share one candidate set per anchor z1_id:

        C_id = {z2_jd : every ECG j} U {z2_id' : d' != d}      (B + R - 1 candidates)
        lp(c) = s(z1_id, c)/τ - log Σ_{c' ∈ C_id} e^{s(z1_id, c')/τ}

    - "push" (default): the same ECG's other regions are extra negatives, "inter-region
      discriminability" as the abstract (the primary source) says:
          L = 1/(2BR) Σ_{i,d} [ -lp(z2_id) + (1 <-> 2) ]
    - "pull" (the 3p notes' reading): all R regions of the same ECG are positives, averaged
      outside the log (SupCon's L_out); it draws an ECG's regions towards one vector:
          L = 1/(2BR) Σ_{i,d} [ -1/R Σ_{d'} lp(z2_id') + (1 <-> 2) ]

    Equal similarities give log(B + R - 1) for both.
    """
    if sign not in ("push", "pull"):
        raise ValueError(f"sign must be push or pull, not {sign!r}")
    bsz = z1.shape[0]
    total = z1.new_zeros(())
    for a, b in ((z1, z2), (z2, z1)):
        lp = _log_probs(a, b, tau, regions=True)
        pos = _positive(lp)
        if sign == "pull":
            pos = (pos + lp[..., bsz:].sum(dim=-1)) / lp.shape[1]
        total = total - pos.mean()
    return total / 2


# --------------------------------------------------------------------------- pretrainer
def _projector(dim: int, hidden: int, out: int) -> nn.Module:
    return nn.Sequential(nn.Linear(dim, hidden), nn.BatchNorm1d(hidden), nn.ReLU(), nn.Linear(hidden, out))


class AclPretrainer(nn.Module):
    """Two augmented views per record through one encoder -> four region embeddings per view ->
    ``eta_intra * intra + eta_inter * inter``."""

    def __init__(self, encoder: EncoderConfig, config: AclConfig | None = None, seed: int = 0) -> None:
        super().__init__()
        self.config = config or AclConfig()
        self.encoder = Encoder(encoder)
        c = self.config
        self.projectors = nn.ModuleList(_projector(encoder.dim, c.proj_hidden, c.proj_dim) for _ in REGIONS)
        member = torch.zeros(len(REGIONS), N_LEADS)
        for r, leads in enumerate(REGIONS):
            member[r, list(leads)] = 1.0
        self.register_buffer("member", member, persistent=False)
        # numpy: the augmentations run on CPU numpy records; same seed on every rank (common brief)
        self.rng = np.random.default_rng(seed)
        self.parts: dict[str, float] = {}

    def regions(self, cls: Tensor, present: Tensor) -> Tensor:
        """(B, 12, d) lead [CLS] -> (B, R, proj_dim) L2-normalised region embeddings.

        The mean runs over the region's present leads: an absent lead's [CLS] sees no beat, so it is
        the same vector for every record (a region with no present lead falls back to all leads).
        """
        w = self.member[None] * present[:, None, :].to(self.member.dtype)  # (B, R, 12)
        w = torch.where(w.sum(dim=-1, keepdim=True) > 0, w, self.member[None])
        mean = (w @ cls.float()) / w.sum(dim=-1, keepdim=True)
        z = torch.stack([proj(mean[:, r]) for r, proj in enumerate(self.projectors)], dim=1)
        return F.normalize(z.float(), dim=-1)

    def forward(self, batch: Batch, progress: float) -> Tensor:
        """The batch's loss; ``progress`` is unused (ACL-ECG has no schedule)."""
        c = self.config
        v1, v2 = view(batch, self.rng, c), view(batch, self.rng, c)
        values, pad, rpeaks = (torch.cat(pair) for pair in zip(v1, v2, strict=True))
        hidden, _ = self.encoder(values, pad, rpeaks)  # both views in one pass, one BatchNorm batch
        z1, z2 = self.regions(hidden[:, :N_LEADS], batch.present.repeat(2, 1)).chunk(2)
        intra = intra_region_nce(z1, z2, c.tau)
        loss = c.eta_intra * intra
        inter = 0.0
        if c.inter != "none":
            inter_t = inter_region_nce(z1, z2, c.tau, c.inter)
            loss = loss + c.eta_inter * inter_t
            inter = float(inter_t.detach())
        self.parts = {"intra": float(intra.detach()), "inter": inter}
        return loss
