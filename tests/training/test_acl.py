"""ACL-ECG (training/pretrain/acl.py): label-preserving augmentations on synthetic records with known
R-peaks, the region map, the region InfoNCE terms against hand-computed values, and one
backward pass of the pretrainer for each inter-region setting."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from ecgviewer.ml import contract
from ecgviewer.ml.beats import EncoderConfig
from training.pretrain.acl import (
    REGION_NAMES,
    REGIONS,
    AclConfig,
    AclPretrainer,
    cycle_mask,
    inter_region_nce,
    intra_region_nce,
    random_scale_crop,
    time_shift,
    view,
)
from training.pretrain.batch import Batch

pytestmark = pytest.mark.usefixtures("one_torch_thread")

# Irregular R-R intervals (75-115 samples), so a run of peaks is found at one offset only.
PEAKS = np.array([40, 120, 215, 290, 400, 475, 575, 650, 760, 835, 935])
W = contract.WINDOW
MARGIN = 6  # 60 ms at 100 Hz
ALL_LEADS = np.ones(12, dtype=bool)


def _record(peaks: np.ndarray = PEAKS, length: int = W, seed: int = 0) -> np.ndarray:
    """(12, 1000): an offset and a slow wave (never exactly 0) plus a Gaussian QRS-like spike at
    each peak, its height different per lead and beat; 0 past ``length`` as in ``Batch.signal``."""
    rng = np.random.default_rng(seed)
    t = np.arange(W)
    x = 1.0 + 0.1 * np.sin(2 * np.pi * t / 37 + np.arange(12)[:, None])
    heights = rng.uniform(0.5, 2.0, size=(12, len(peaks)))
    x += (heights[:, :, None] * np.exp(-0.5 * ((t - peaks[:, None]) / 2.0) ** 2)).sum(axis=1)
    x[:, length:] = 0.0
    return x.astype(np.float32)


def _offset(peaks: np.ndarray, kept: np.ndarray) -> int:
    """The shift d with kept = a contiguous run of peaks + d (unique: the intervals are irregular)."""
    found = [
        int(kept[0] - peaks[j])
        for j in range(len(peaks) - len(kept) + 1)
        if np.array_equal(kept - kept[0] + peaks[j], peaks[j : j + len(kept)])
    ]
    assert len(found) == 1
    return found[0]


def _check_moved(
    x: np.ndarray, length: int, peaks: np.ndarray, y: np.ndarray, m: int, kept: np.ndarray
) -> None:
    """Crop and shift: the signal is moved by one offset d, zero elsewhere; the kept peaks are exactly
    those landing in [0, m); their R-R intervals are unchanged; every kept beat's token equals the
    original's wherever both tokens hold signal, and interior beats' tokens are identical."""
    d = _offset(peaks, kept)
    i = np.arange(W)
    source = i - d
    inside = (i < m) & (source >= 0) & (source < length)
    assert np.array_equal(y[:, inside], x[:, source[inside]])
    assert not y[:, ~inside].any()
    assert np.array_equal(kept, peaks[(peaks + d >= 0) & (peaks + d < m)] + d)
    idx = np.searchsorted(peaks, kept - d)
    assert np.array_equal(np.diff(kept), np.diff(peaks[idx]))
    old, _, _, old_spans = contract.tokenise_window(x[:, :length], peaks, ALL_LEADS)
    new, _, _, new_spans = contract.tokenise_window(y[:, :m], kept, ALL_LEADS)
    for k, j in enumerate(idx):
        lo = max(old_spans[j, 0] - peaks[j], new_spans[k, 0] - kept[k]) + contract.R_INDEX
        hi = min(old_spans[j, 1] - peaks[j], new_spans[k, 1] - kept[k]) + contract.R_INDEX
        assert hi > lo
        assert np.array_equal(new[:, k, lo:hi], old[:, j, lo:hi])
        if 0 < k < len(kept) - 1:
            assert np.array_equal(new[:, k], old[:, j])


# --------------------------------------------------------------------------- augmentations
@pytest.mark.parametrize("length", [W, 730])
def test_crop_keeps_labels(length: int) -> None:
    x, peaks = _record(length=length), PEAKS[: np.searchsorted(PEAKS, length)]
    sizes = []
    for seed in range(50):
        y, m, kept = random_scale_crop(x, length, peaks, np.random.default_rng(seed))
        assert round(0.5 * length) <= m <= length
        sizes.append(m)
        if len(kept):
            _check_moved(x, length, peaks, y, m, kept)
    assert len(set(sizes)) > 10  # the fraction really is drawn


@pytest.mark.parametrize("length", [W, 730])
def test_shift_keeps_labels(length: int) -> None:
    x, peaks = _record(length=length), PEAKS[: np.searchsorted(PEAKS, length)]
    shifts = set()
    for seed in range(50):
        y, m, kept = time_shift(x, length, peaks, np.random.default_rng(seed))
        d = _offset(peaks, kept)
        assert abs(d) <= contract.FS
        assert m == min(W, length + d)
        shifts.add(d)
        _check_moved(x, length, peaks, y, m, kept)
    assert min(shifts) < 0 < max(shifts)


def test_cycle_mask_never_touches_a_qrs() -> None:
    x = _record()
    masked_cycles = []
    for seed in range(300):
        y, m, kept = cycle_mask(x, W, PEAKS, np.random.default_rng(seed), max_fraction=0.5)
        assert m == W and np.array_equal(kept, PEAKS)
        zero = y == 0
        assert np.array_equal(zero, np.broadcast_to(zero[0], zero.shape))  # all leads at once
        assert np.array_equal(y[~zero], x[~zero])
        near_r = (np.abs(np.arange(W)[:, None] - PEAKS[None]) <= MARGIN).any(axis=1)
        assert not zero[0, near_r].any()
        edges = np.flatnonzero(np.diff(np.concatenate([[0], zero[0].astype(int), [0]])))
        runs = edges.reshape(-1, 2)  # [start, stop) of each zeroed stretch
        cycles = np.searchsorted(PEAKS, runs[:, 0]) - 1
        assert len(set(cycles)) == len(cycles)  # at most one stretch per R-R interval
        for (a, b), c in zip(runs, cycles, strict=True):
            assert 0 <= c < len(PEAKS) - 1
            assert PEAKS[c] + MARGIN < a and b - 1 < PEAKS[c + 1] - MARGIN
            assert b - a <= 0.5 * (PEAKS[c + 1] - PEAKS[c])
        masked_cycles.append(len(runs))
    assert min(masked_cycles) <= 2 and max(masked_cycles) >= 7  # a random number of cycles


def test_cycle_mask_needs_two_peaks() -> None:
    x = _record()
    for peaks in (PEAKS[:0], PEAKS[:1]):
        y, m, kept = cycle_mask(x, W, peaks, np.random.default_rng(0))
        assert y is x and m == W and kept is peaks


def test_identity_settings() -> None:
    x, rng = _record(), np.random.default_rng(0)
    y, m, kept = random_scale_crop(x, W, PEAKS, rng, scale=(1.0, 1.0))
    assert np.array_equal(y, x) and m == W and np.array_equal(kept, PEAKS)
    y, m, kept = time_shift(x, W, PEAKS, rng, max_s=0.0)
    assert np.array_equal(y, x) and m == W and np.array_equal(kept, PEAKS)
    y, _, _ = cycle_mask(x, W, PEAKS, rng, max_fraction=0.0)
    assert np.array_equal(y, x)


@pytest.mark.parametrize("augment", [random_scale_crop, cycle_mask, time_shift])
def test_augmentations_reproduce(augment) -> None:
    x = _record()
    a, b, c = (augment(x, W, PEAKS, np.random.default_rng(s)) for s in (7, 7, 8))
    assert np.array_equal(a[0], b[0]) and a[1] == b[1] and np.array_equal(a[2], b[2])
    assert not np.array_equal(a[0], c[0])


# --------------------------------------------------------------------------- batches and views
def _batch(n: int = 4) -> Batch:
    """``n`` synthetic records tokenised by the contract: different rhythms, one short record and
    one with an absent lead (V3)."""
    rhythms = [PEAKS, PEAKS[::2], PEAKS[1:-1], PEAKS[1::2]]
    records = []
    for b in range(n):
        peaks = rhythms[b % len(rhythms)]
        length = 730 if b == 1 else W
        peaks = peaks[peaks < length]
        present = ALL_LEADS.copy()
        present[contract.LEADS.index("V3")] = b != 2
        x = _record(peaks, length, seed=b) * present[:, None]
        records.append(
            (x, length, present, peaks, *contract.tokenise_window(x[:, :length], peaks, present)[:3])
        )
    rpeaks = np.full((n, contract.MAX_BEATS), -1)
    for b, r in enumerate(records):
        rpeaks[b, : len(r[3])] = r[3]
    t = lambda k: torch.from_numpy(np.stack([r[k] for r in records]))  # noqa: E731
    return Batch(
        values=t(4),
        pad=t(5),
        signal=t(0),
        length=torch.tensor([r[1] for r in records]),
        present=t(2),
        rpeaks=torch.from_numpy(rpeaks),
        rows=torch.arange(n),
    )


def test_view_without_augmentation_is_the_batch() -> None:
    batch = _batch()
    off = AclConfig(p_crop=0.0, p_mask=0.0, p_shift=0.0)
    values, pad, rpeaks = view(batch, np.random.default_rng(0), off)
    assert torch.equal(values, batch.values) and torch.equal(pad, batch.pad)
    assert torch.equal(rpeaks, batch.rpeaks)


def test_view_keeps_the_record_when_no_beat_survives() -> None:
    """A 10-sample crop mostly holds no R-peak: that view is then the un-augmented record."""
    batch = _batch()
    tiny = AclConfig(p_mask=0.0, p_shift=0.0, scale=(0.01, 0.01))
    fallbacks = 0
    for seed in range(10):
        values, pad, _ = view(batch, np.random.default_rng(seed), tiny)
        same = (values == batch.values).flatten(1).all(dim=1) & (pad == batch.pad).flatten(1).all(dim=1)
        fallbacks += int(same.sum())
        for b in torch.nonzero(~same).flatten():  # kept a beat: one token of at most 10 samples
            assert (~pad[b]).any(dim=0).sum() == 1 and (values[b] != 0).sum(dim=-1).max() <= 10
    assert fallbacks >= 25


def test_view_reproduces_and_is_random() -> None:
    batch = _batch()
    a, b, c = (view(batch, np.random.default_rng(s), AclConfig()) for s in (3, 3, 4))
    assert all(torch.equal(u, v) for u, v in zip(a, b, strict=True))
    assert not torch.equal(a[0], c[0])
    assert a[0].shape == batch.values.shape and a[0].dtype == torch.float32
    assert a[1].dtype == torch.bool and a[2].dtype == torch.int64


# --------------------------------------------------------------------------- regions and losses
def test_regions() -> None:
    leads = [i for region in REGIONS for i in region]
    assert len(REGIONS) == 4 and set(REGION_NAMES) == {"inferior", "lateral", "septal", "anterior"}
    assert len(leads) == len(set(leads)) == 11
    assert contract.LEADS.index("aVR") not in leads


def _unit(*angles: float) -> list[list[float]]:
    return [[math.cos(a), math.sin(a)] for a in angles]


# 2 ECGs x 2 regions x 2 dims; z[i][d] is a unit vector at a chosen angle.
Z1 = [_unit(0.0, 1.2), _unit(2.0, 3.5)]
Z2 = [_unit(0.3, 1.0), _unit(2.4, 4.0)]
TAU = 0.5


def _s(a: list[float], b: list[float]) -> float:
    return math.exp((a[0] * b[0] + a[1] * b[1]) / TAU)


def _expected(z1: list, z2: list, inter: str | None) -> float:
    """Σ over anchors (i, d) in both directions, written out with math.exp / math.log."""
    total = 0.0
    for a, b in ((z1, z2), (z2, z1)):
        for i in range(2):
            for d in range(2):
                same = [_s(a[i][d], b[j][d]) for j in range(2)]  # other ECGs, same region
                other = _s(a[i][d], b[i][1 - d])  # the same ECG's other region
                if inter is None:
                    total += -math.log(same[i] / sum(same))
                elif inter == "push":
                    total += -math.log(same[i] / (sum(same) + other))
                else:
                    denom = sum(same) + other
                    total += -(math.log(same[i] / denom) + math.log(other / denom)) / 2
    return total / 8


@pytest.mark.parametrize("inter", [None, "push", "pull"])
def test_losses_match_hand_computation(inter: str | None) -> None:
    z1, z2 = torch.tensor(Z1, dtype=torch.float64), torch.tensor(Z2, dtype=torch.float64)
    got = intra_region_nce(z1, z2, TAU) if inter is None else inter_region_nce(z1, z2, TAU, inter)
    assert float(got) == pytest.approx(_expected(Z1, Z2, inter), rel=1e-12)


def test_equal_similarities_give_log_candidates() -> None:
    z = torch.zeros(5, 4, 8)
    z[..., 0] = 1.0
    assert float(intra_region_nce(z, z, 0.1)) == pytest.approx(math.log(5), rel=1e-6)
    for sign in ("push", "pull"):
        assert float(inter_region_nce(z, z, 0.1, sign)) == pytest.approx(math.log(5 + 4 - 1), rel=1e-6)


def test_push_separates_regions_and_pull_merges_them() -> None:
    """An ECG whose regions share one vector costs more under "push" and less under "pull" than
    one whose regions are orthogonal (same intra-region similarities in both cases)."""
    same = torch.tensor([[[1.0, 0, 0, 0]] * 2, [[0, 0, 1.0, 0]] * 2])
    distinct = torch.tensor([[[1.0, 0, 0, 0], [0, 1.0, 0, 0]], [[0, 0, 1.0, 0], [0, 0, 0, 1.0]]])
    assert float(intra_region_nce(same, same, 0.1)) == pytest.approx(
        float(intra_region_nce(distinct, distinct, 0.1))
    )
    push = [float(inter_region_nce(z, z, 0.1, "push")) for z in (same, distinct)]
    pull = [float(inter_region_nce(z, z, 0.1, "pull")) for z in (same, distinct)]
    assert push[0] > push[1] and pull[0] < pull[1]
    with pytest.raises(ValueError):
        inter_region_nce(same, same, 0.1, "none")


# --------------------------------------------------------------------------- pretrainer
SMALL = EncoderConfig(dim=32, depth=1, heads=2)


@pytest.mark.parametrize("inter", ["push", "pull", "none"])
def test_pretrainer_backpropagates(inter: str) -> None:
    torch.manual_seed(0)
    model = AclPretrainer(SMALL, AclConfig(inter=inter, proj_hidden=16, proj_dim=8), seed=0)
    loss = model(_batch(), 0.0)
    assert loss.ndim == 0 and torch.isfinite(loss)
    loss.backward()
    grads = [p.grad for p in model.parameters() if p.requires_grad]
    assert all(g is not None and torch.isfinite(g).all() for g in grads)
    assert model.encoder.embed.weight.grad.abs().sum() > 0
    assert set(model.parts) == {"intra", "inter"}
    expected = model.config.eta_intra * model.parts["intra"] + model.config.eta_inter * model.parts["inter"]
    assert float(loss.detach()) == pytest.approx(expected, rel=1e-5)
    assert (model.parts["inter"] == 0.0) == (inter == "none")


def test_pretrainer_config_is_checked() -> None:
    with pytest.raises(ValueError):
        AclConfig(inter="both")
