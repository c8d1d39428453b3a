"""The delineator's trainer: distillation pulls the student towards its teacher, and the
unlabelled PTB-XL records it learns from never come from the validation or test folds."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from training import SHARED_DATA
from training.supervised import delineator as T


def _unlabelled(n: int, seed: int) -> list[T.Example]:
    rng = np.random.default_rng(seed)
    raw = rng.normal(0, 0.3, (n, 12, 3 * T.CROP))
    return [T.Example(i, r, np.full(r.shape, -1, dtype=np.int64)) for i, r in enumerate(raw)]


def test_distillation_follows_the_teacher():
    """Unlabelled crops only: what the student says is what its teacher said."""
    import torch

    def teacher(wave: int):
        def says(x: torch.Tensor) -> torch.Tensor:  # this wave everywhere
            logits = torch.zeros(x.shape[0], 4, x.shape[-1])
            logits[:, wave] = 6.0
            return logits

        return says

    data = _unlabelled(4, 0)
    recipe = replace(T.TINY, steps=40, lr=2e-2, teacher=True, unlabelled=1, rate_share=0.0)
    x = torch.from_numpy(np.concatenate([T.augment(e, np.random.default_rng(1), recipe)[0] for e in data]))
    for wave in (2, 3):  # QRS, T
        model = T.train(data, recipe, teacher=teacher(wave), extra=_unlabelled(2, 1))
        with torch.no_grad():
            p = torch.softmax(model(x.float()), dim=1).mean(dim=(0, 2))
        assert p[wave] > 0.8, (wave, p)


def test_in_atrial_fibrillation_the_student_learns_no_p_wave_from_a_teacher_that_says_one():
    """A teacher that says P half the time: the student follows it on sinus crops, and where
    ``no_p`` marks the crop, keeps the other classes' proportions and says no P."""
    import torch

    def teacher(x: torch.Tensor) -> torch.Tensor:  # P or QRS, evenly
        logits = torch.zeros(x.shape[0], 4, x.shape[-1])
        logits[:, [T.P_CLASS, 2]] = 6.0
        return logits

    soft = torch.softmax(teacher(torch.zeros(3, 2, 10)), dim=1)
    kept = T._without_p(soft, np.array([False, True, False]))
    assert torch.allclose(kept[[0, 2]], soft[[0, 2]]) and torch.allclose(kept.sum(dim=1), torch.ones(3, 10))
    assert (kept[1, T.P_CLASS] == 0).all()
    assert torch.allclose(kept[1, 2] / kept[1, 0], soft[1, 2] / soft[1, 0])

    recipe = replace(T.TINY, steps=40, lr=2e-2, teacher=True, unlabelled=1, rate_share=0.0, af_hides_p=True)
    data = _unlabelled(4, 0)
    x = torch.from_numpy(np.concatenate([T.augment(e, np.random.default_rng(1), recipe)[0] for e in data]))
    for no_p in (False, True):
        extra = [replace(e, no_p=no_p) for e in _unlabelled(2, 1)]
        model = T.train([replace(e, no_p=no_p) for e in data], recipe, teacher=teacher, extra=extra)
        with torch.no_grad():
            p = torch.softmax(model(x.float()), dim=1).mean(dim=(0, 2))
        assert (p[T.P_CLASS] < 0.1) if no_p else (p[T.P_CLASS] > 0.3), (no_p, p)


@pytest.mark.skipif(not (SHARED_DATA / "ptbxl").is_dir(), reason="needs ../shared/data/ptbxl")
def test_atrial_fibrillation_and_flutter_records_are_all_added_and_marked():
    from training.data.datasets import load_labels, ptbxl_root

    labels = load_labels(ptbxl_root(SHARED_DATA))
    af = labels.y[:, [labels.statements.index(s) for s in T.AF_STATEMENTS]].any(axis=1)
    fibrillating = set(labels.ecg_id[af & (labels.fold <= 8)].tolist())
    plain = {e.number for e in T.unlabelled(SHARED_DATA, 3, seed=3)}
    extra = T.unlabelled(SHARED_DATA, 3, seed=3, atrial=True)
    marked = {e.number for e in extra if e.no_p}
    assert marked and marked <= fibrillating and {e.number for e in extra} == plain | marked
    assert not any(e.no_p for e in extra if e.number not in fibrillating)


@pytest.mark.skipif(not (SHARED_DATA / "ptbxl").is_dir(), reason="needs ../shared/data/ptbxl")
def test_unlabelled_records_are_training_folds_only():
    from training.data.datasets import load_labels, ptbxl_root

    extra = T.unlabelled(SHARED_DATA, 5, seed=3)
    labels = load_labels(ptbxl_root(SHARED_DATA))
    fold = dict(zip(labels.ecg_id.tolist(), labels.fold.tolist(), strict=True))
    assert len(extra) == 5 and all(fold[e.number] <= 8 for e in extra)
    assert all(e.raw.shape == (12, 2500) and (e.target == -1).all() for e in extra)  # 10 s at 250 Hz
    assert [e.number for e in T.unlabelled(SHARED_DATA, 5, seed=3)] == [e.number for e in extra]


def test_recorded_noise_is_added_at_the_snr_drawn(monkeypatch):
    """EC57's SNR: the lead's peak-to-peak squared over 8, over the noise's power."""
    monkeypatch.setattr(T, "RECORDED_SNR_DB", (6.0, 6.0))
    rng = np.random.default_rng(0)
    x = np.sin(np.linspace(0, 20 * np.pi, 2500))[None].repeat(3, 0) * np.array([[0.5], [1.0], [2.0]])
    noises = [rng.normal(0, 1.0, 10_000), rng.normal(0, 3.0, 10_000)]
    added = T._recorded(x, noises, rng)
    signal_power = np.ptp(x, axis=1) ** 2 / 8
    assert np.allclose(10 * np.log10(signal_power / (added**2).mean(axis=1)), 6.0, atol=0.01)


def test_synthetic_motion_is_added_at_the_snr_drawn_and_shared_between_leads(monkeypatch):
    monkeypatch.setattr(T, "MOTION_SNR_DB", (12.0, 12.0))
    x = np.sin(np.linspace(0, 20 * np.pi, 2500))[None].repeat(3, 0) * np.array([[0.5], [1.0], [2.0]])
    added = T._motion(x, np.random.default_rng(0))
    signal_power = np.ptp(x, axis=1) ** 2 / 8
    assert np.allclose(10 * np.log10(signal_power / (added**2).mean(axis=1)), 12.0, atol=0.01)
    assert np.corrcoef(added)[0, 1] > 0.2  # one movement of the electrodes, seen in every lead


def test_the_motion_recipe_gives_finite_crops_with_their_labels():
    ex = T.Example(
        1, np.random.default_rng(1).normal(0, 0.3, (12, 3 * T.CROP)), np.zeros((12, 3 * T.CROP), int)
    )
    rng = np.random.default_rng(0)
    for _ in range(20):
        x, y = T.augment(ex, rng, replace(T.MOTION, motion=1.0))
        assert x.shape == (12, 2, T.CROP) and np.isfinite(x).all() and (y >= -1).all()


def test_motion2_teaches_no_p_wave_in_the_crops_it_moves():
    from ecgviewer.measure.unet import CLASSES

    assert CLASSES.index("P") == T.P_CLASS
    target = np.tile(np.repeat([0, 1, 0, 2, 0, 3], 100), (12, 3))[:, : 3 * T.CROP]
    ex = T.Example(1, np.random.default_rng(1).normal(0, 0.3, target.shape), target)
    rng = np.random.default_rng(0)
    moved = [T.augment(ex, rng, replace(T.MOTION2, motion=1.0))[1] for _ in range(5)]
    kept = [T.augment(ex, rng, replace(T.MOTION2, motion=0.0))[1] for _ in range(5)]
    assert not any((y == T.P_CLASS).any() for y in moved) and all((y == 2).any() for y in moved)
    assert all((y == T.P_CLASS).any() for y in kept)
