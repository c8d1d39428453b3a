"""CLEAR's masks and the trivial baselines logged beside its loss (issue 27): whole lead groups
hidden leave no same-lead beat to copy, and the copy baseline shows when one is there."""

from __future__ import annotations

import torch

from ecgviewer.ml import contract
from ecgviewer.ml.beats import N_LEADS, EncoderConfig
from training.pretrain.batch import Batch
from training.pretrain.clear import (
    LEAD_GROUPS,
    N_BEATS,
    ClearPretrainer,
    DecoderConfig,
    group_mask,
    random_mask,
    trivial_baselines,
)


def _repeated_beats(b: int = 4, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """Every lead repeats one beat of its own in each record (records differ): a same-lead copy
    is exact, a population template is not."""
    g = torch.Generator().manual_seed(seed)
    beat = torch.randn(b, N_LEADS, 1, contract.TOKEN_LEN, generator=g)
    values = beat.expand(b, N_LEADS, N_BEATS, contract.TOKEN_LEN).clone()
    pad = torch.zeros(b, N_LEADS, N_BEATS, dtype=torch.bool)
    pad[:, :, 12:] = True
    return values, pad


def test_group_mask_hides_whole_groups_and_leaves_one_visible() -> None:
    for seed in range(40):
        keep, masked = group_mask(0.8, torch.Generator().manual_seed(seed))
        per_lead = masked.view(N_LEADS, N_BEATS)
        assert bool((per_lead.all(1) | ~per_lead.any(1)).all())  # a lead is hidden whole or not at all
        hidden = set(torch.nonzero(per_lead.all(1)).flatten().tolist())
        groups = [set(g) for g in LEAD_GROUPS]
        assert all(g <= hidden or not g & hidden for g in groups)
        assert any(not g & hidden for g in groups)  # something to rebuild from
        visible_groups = [g for g in groups if not g & hidden]
        # at least 80 % of the leads, unless the next group would have hidden them all
        assert len(hidden) >= 0.8 * N_LEADS or all(len(hidden) + len(g) >= N_LEADS for g in visible_groups)
        assert set(keep.tolist()) == set(torch.nonzero(~masked).flatten().tolist())

    def seeded(ratio: float, seed: int) -> torch.Tensor:
        return group_mask(ratio, torch.Generator().manual_seed(seed))[1]

    assert torch.equal(seeded(0.8, 3), seeded(0.8, 3))
    assert len({tuple(seeded(0.5, s).tolist()) for s in range(30)}) > 2


def test_the_copy_baseline_finds_the_shortcut_random_tokens_leave() -> None:
    values, pad = _repeated_beats()
    _, masked = random_mask(0.8, torch.Generator().manual_seed(0))
    got = trivial_baselines(values, pad, masked)
    assert got["copy_share"] > 0.5
    assert got["template_mse"] > 0.5  # records differ
    # exact where the lead has a visible beat, the template elsewhere
    assert got["copy_mse"] < (1 - got["copy_share"]) * got["template_mse"] + 1e-5


def test_hidden_lead_groups_leave_no_beat_to_copy() -> None:
    values, pad = _repeated_beats()
    _, masked = group_mask(0.8, torch.Generator().manual_seed(0))
    got = trivial_baselines(values, pad, masked)
    assert got["copy_share"] == 0.0
    assert abs(got["copy_mse"] - got["template_mse"]) < 1e-6


def test_a_mask_per_record_scores_only_that_record_s_hidden_beats() -> None:
    values, pad = _repeated_beats(b=2)
    _, masked = random_mask(0.8, torch.Generator().manual_seed(0))
    shared = trivial_baselines(values, pad, masked)
    assert trivial_baselines(values, pad, masked.expand(2, -1)) == shared
    # record 1 hides nothing, record 0 one whole lead: no beat of it to copy
    per_record = torch.zeros(2, N_LEADS * N_BEATS, dtype=torch.bool)
    per_record[0, :N_BEATS] = True
    got = trivial_baselines(values, pad, per_record)
    assert got["copy_share"] == 0.0 and got["copy_mse"] == got["template_mse"] > 0


def test_clear_logs_its_loss_beside_the_baselines_with_either_mask() -> None:
    values, pad = _repeated_beats(b=2)
    rpeaks = (30 + torch.arange(N_BEATS) * 66).expand(2, -1).clone()
    batch = Batch(values, pad, torch.zeros(2, N_LEADS, 1000), torch.full((2,), 1000),
                  torch.ones(2, N_LEADS, dtype=torch.bool), rpeaks, torch.arange(2))  # fmt: skip
    keys = {"mse", "copy_mse", "template_mse", "copy_share"}
    scale_keys = {"scale_mse", "scale_copy_mse", "scale_template_mse"}
    for masking, amplitude in (("tokens", 0.0), ("groups", 0.0), ("groups", 0.5)):
        torch.manual_seed(0)
        model = ClearPretrainer(
            EncoderConfig(dim=16, depth=1, heads=2, dropout=0.0),
            DecoderConfig(dim=16, depth=1, heads=2, mask_ratio=0.8, masking=masking, amplitude=amplitude),
        )
        loss = model(batch, 0.0)
        loss.backward()
        assert set(model.parts) == (keys | scale_keys if amplitude else keys)
        assert (model.parts["copy_share"] == 0.0) == (masking == "groups")
        if amplitude:  # the loss is the shape's MSE plus the weighted log-scale's
            expected = model.parts["mse"] + amplitude * model.parts["scale_mse"]
            assert abs(float(loss.detach()) - expected) < 1e-5


def test_the_scale_baselines_see_each_lead_s_size() -> None:
    """Each record's leads repeat their beat at a size of their own: a same-lead copy recovers the
    size where a visible beat is left, a template cannot, and hidden groups leave only the template."""
    values, pad = _repeated_beats()
    size = torch.rand(values.shape[0], N_LEADS, generator=torch.Generator().manual_seed(1)) * 2 + 0.1
    values = values / values.std(dim=-1, keepdim=True) * size[..., None, None]
    _, masked = random_mask(0.8, torch.Generator().manual_seed(0))
    got = trivial_baselines(values, pad, masked, amplitude=True)
    assert got["scale_copy_mse"] < 0.5 * got["scale_template_mse"]
    _, masked = group_mask(0.8, torch.Generator().manual_seed(0))
    got = trivial_baselines(values, pad, masked, amplitude=True)
    assert got["scale_copy_mse"] == got["scale_template_mse"] > 0.05
