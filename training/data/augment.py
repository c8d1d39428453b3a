"""Signal-space augmentations for fine-tuning, and the contract's beat tokeniser in torch.

Other hospitals' ECGs differ from PTB-XL's in gain calibration, baseline wander, noise, the
device's low-pass filter and sampling rate (hence where the R-peak detector lands), lead count
and length. Each augmentation below draws one of those differences on the band-passed 100 Hz
window, and so does electrode placement (``placed``); the beat tokens are then cut again, on the
device, at the (jittered) R-peaks by ``tokenise_batch``, which is ``contract.tokenise_window``
batched in torch (tested equal), so an augmented record is tokenised exactly as a real one would
be. Nothing here depends on PTB-XL's own recording chain. Strengths are deliberately moderate:
labels must stay true (voltage criteria of hypertrophy survive a +-15 % gain; a 1-sample R jitter
moves no interval; a 10 degree turn of the axis moves a left anterior fascicular block's -45 only
at its edge).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import torch
from torch import Tensor

from ecgviewer.leads import LIMB_LEADS, derive_limb_leads
from ecgviewer.ml import contract


@dataclass(frozen=True)
class AugmentConfig:
    p: float = 0.8  # probability that a record is augmented at all
    gain: float = 0.15  # record gain: log-uniform in [1/(1+g), 1+g]
    lead_gain: float = 0.05  # and per lead on top
    wander_mv: float = 0.1  # residual baseline wander (0.05-0.6 Hz), peak amplitude up to this
    noise_mv: float = 0.03  # white noise SD up to this
    p_smooth: float = 0.3  # a lower low-pass corner: a 3-tap smoothing of random strength
    p_jitter: float = 0.3  # R-peaks moved by -1, 0 or +1 sample each (detector differences)
    p_drop: float = 0.1  # some leads missing
    drop_fraction: float = 0.3  # each lead then missing with this probability (one always stays)
    p_shift: float = 0.2  # a shorter or shifted recording: zero-filled shift up to max_shift_s
    max_shift_s: float = 2.0
    # Electrodes placed otherwise (``placed``); 0 in the presets trained before it, whose random
    # draws stay as they were:
    p_place: float = 0.0
    rotate_deg: float = 10.0  # the frontal-plane axis turned by up to this either way
    precordial_shift: float = 0.3  # the chest electrodes moved along their row by up to this spacing

    def to_dict(self) -> dict:
        return asdict(self)


def tokenise_batch(signal: Tensor, rpeaks: Tensor, present: Tensor, length: Tensor) -> tuple[Tensor, ...]:
    """Beat tokens of a batch of windows, as ``contract.tokenise_window``: ``signal`` (B, 12, W),
    ``rpeaks`` (B, K) ascending window samples with -1 after the last, ``present`` (B, 12),
    ``length`` (B,). Returns values (B, 12, 15, 96), pad (B, 12, 15) and the R-peak of each beat
    slot (B, 15), -1 where none."""
    b, n_leads, w = signal.shape
    r = rpeaks[:, : contract.MAX_BEATS]
    ok = r >= 0
    nxt = torch.cat([r[:, 1:], torch.full_like(r[:, :1], -1)], dim=1)
    prv = torch.cat([torch.full_like(r[:, :1], -1), r[:, :-1]], dim=1)
    half = contract.R_INDEX
    start = torch.where(prv >= 0, torch.div(prv + r, 2, rounding_mode="floor"), r - half)
    stop = torch.where((nxt >= 0) & ok, torch.div(r + nxt, 2, rounding_mode="floor"), r + half)
    start = torch.maximum(torch.maximum(start, r - half), torch.zeros_like(r))
    stop = torch.minimum(torch.minimum(stop, r + half), length[:, None])
    idx = r[..., None] - half + torch.arange(contract.TOKEN_LEN, device=signal.device)  # (B, K, 96)
    valid = (idx >= start[..., None]) & (idx < stop[..., None]) & ok[..., None]
    k = r.shape[1]
    gathered = torch.gather(signal, 2, idx.clamp(0, w - 1).reshape(b, 1, -1).expand(-1, n_leads, -1))
    values = gathered.reshape(b, n_leads, k, contract.TOKEN_LEN) * (
        valid[:, None] & present[:, :, None, None]
    )
    pad = ~(ok[:, None, :] & present[:, :, None])
    slots = torch.where(ok, r, torch.full_like(r, -1))
    if k < contract.MAX_BEATS:  # fewer beat slots than the contract's: pad them
        extra = contract.MAX_BEATS - k
        values = torch.nn.functional.pad(values, (0, 0, 0, extra))
        pad = torch.nn.functional.pad(pad, (0, extra), value=True)
        slots = torch.nn.functional.pad(slots, (0, extra), value=-1)
    return values, pad, slots


def augment(
    signal: Tensor,
    rpeaks: Tensor,
    present: Tensor,
    length: Tensor,
    config: AugmentConfig,
    gen: torch.Generator,
) -> tuple[Tensor, Tensor, Tensor, Tensor]:
    """One random draw of every augmentation for each record of a batch (on the batch's device);
    returns the new (signal, rpeaks, present, length). ``gen`` is a CPU generator, so a run
    reproduces on any device."""
    b, n_leads, w = signal.shape
    dev = signal.device

    def rand(*shape: int) -> Tensor:
        return torch.rand(*shape, generator=gen).to(dev)

    on = rand(b) < config.p
    x = signal
    if config.p_place > 0:
        moved = rand(b) < config.p_place
        theta = (rand(b) * 2 - 1) * math.radians(config.rotate_deg)
        shift = (rand(b) * 2 - 1) * config.precordial_shift
        x = torch.where(moved[:, None, None], placed(x, present, theta, shift), x)
    # gain, per record and per lead
    log_g = (rand(b, 1, 1) * 2 - 1) * torch.log1p(torch.tensor(config.gain))
    log_l = (rand(b, n_leads, 1) * 2 - 1) * torch.log1p(torch.tensor(config.lead_gain))
    x = x * torch.exp(log_g + log_l)
    # residual baseline wander: one sinusoid per record, an amplitude per lead
    t = torch.arange(w, device=dev) / contract.FS
    f = 0.05 + rand(b, 1, 1) * 0.55
    phase = rand(b, 1, 1) * 2 * torch.pi
    x = x + rand(b, n_leads, 1) * config.wander_mv * torch.sin(2 * torch.pi * f * t + phase)
    # white noise
    x = x + torch.randn(b, n_leads, w, generator=gen).to(dev) * rand(b, 1, 1) * config.noise_mv
    # a lower low-pass corner: y = a x[t-1] + (1 - 2a) x[t] + a x[t+1]
    a = (rand(b, 1, 1) < config.p_smooth) * rand(b, 1, 1) * 0.25
    padded = torch.nn.functional.pad(x, (1, 1), mode="replicate")
    x = a * padded[..., :-2] + (1 - 2 * a) * x + a * padded[..., 2:]
    # R-peak jitter
    jit = (rand(b, 1) < config.p_jitter) * (torch.randint(-1, 2, rpeaks.shape, generator=gen).to(dev))
    r = torch.where(rpeaks >= 0, (rpeaks + jit).clamp(0, w - 1), rpeaks)
    # missing leads (at least one lead stays)
    drop = (rand(b, 1) < config.p_drop) & (rand(b, n_leads) < config.drop_fraction)
    keep = present & ~drop
    keep = torch.where(keep.any(1, keepdim=True), keep, present)
    # a shifted / shorter recording, zero-filled; beats pushed out are dropped
    limit = round(config.max_shift_s * contract.FS)
    s = ((rand(b) < config.p_shift) * (rand(b) * (2 * limit + 1) - limit)).long()
    src = torch.arange(w, device=dev)[None] - s[:, None]  # output sample t reads input t - s
    inside = (src >= 0) & (src < length[:, None])
    x = torch.gather(x, 2, src.clamp(0, w - 1)[:, None].expand(-1, n_leads, -1)) * inside[:, None]
    new_len = (length + s).clamp(max=w)  # the record ends here; samples before max(s, 0) are zero
    moved = torch.where(r >= 0, r + s[:, None], r)
    ok = (moved >= s.clamp(min=0)[:, None]) & (moved < new_len[:, None]) & (r >= 0)
    moved = _compact(torch.where(ok, moved, torch.full_like(moved, -1)))
    # a record left without beats keeps its original R-peaks (never an empty view)
    empty = (moved < 0).all(1)
    x = x * keep[..., None]
    sel = on & ~empty
    out = (
        torch.where(sel[:, None, None], x, signal),
        torch.where(sel[:, None], moved, rpeaks),
        torch.where(sel[:, None], keep, present),
        torch.where(sel, new_len, length),
    )
    return out


def placed(x: Tensor, present: Tensor, theta: Tensor, shift: Tensor) -> Tensor:
    """``x`` (B, 12, W) as electrodes placed otherwise would record it: the frontal-plane vector
    turned by ``theta`` (B,) radians, the six limb leads derived again from it by Einthoven's and
    Goldberger's identities (a heart lying more horizontally or vertically, the limb electrodes
    moved: the axis varies by 10-20 degrees with respiration and posture alone); the chest row
    moved by ``shift`` (B,) of the spacing between electrodes, each chest lead read by linear
    interpolation between its neighbours (the row's ends held). A record keeps its limb leads
    without both I and II, its chest leads without all six; a lead absent stays absent."""
    limb = present[:, 0] & present[:, 1]
    theta, shift = theta.to(x.dtype), shift.to(x.dtype)
    hx, hy = x[:, 0], (2 * x[:, 1] - x[:, 0]) / math.sqrt(3)  # the hexaxial frame: I at 0, II at 60 deg
    c, s = torch.cos(theta)[:, None], torch.sin(theta)[:, None]
    lead_i = c * hx - s * hy
    lead_ii = lead_i / 2 + (s * hx + c * hy) * (math.sqrt(3) / 2)
    derived = derive_limb_leads(lead_i, lead_ii)
    limbs = torch.stack([lead_i, lead_ii, *(derived[name] for name in LIMB_LEADS[2:])], dim=1)
    chest = x[:, 6:12]
    at = (torch.arange(6, device=x.device)[None] + shift[:, None]).clamp(0, 5)  # (B, 6) positions
    lo = at.floor().long().clamp(max=4)
    w = (at - lo)[..., None]
    pick = lambda i: torch.gather(chest, 1, i[..., None].expand(-1, -1, chest.shape[-1]))  # noqa: E731
    chests = (1 - w) * pick(lo) + w * pick(lo + 1)
    out = torch.cat([torch.where(limb[:, None, None], limbs, x[:, :6]),
                     torch.where(present[:, 6:12].all(1)[:, None, None], chests, chest)], dim=1)  # fmt: skip
    return torch.where(present[..., None], out, x)


def _compact(r: Tensor) -> Tensor:
    """Valid R-peaks (>= 0) first, in order, then -1."""
    big = 1 << 30
    key = torch.where(r >= 0, r, torch.full_like(r, big)).sort(1).values
    return torch.where(key < big, key, torch.full_like(r, -1))
