"""ECG-JEPA: the patch tokeniser, CroPA attention, the time masks, the loss and the EMA."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from ecgviewer.io import load
from ecgviewer.ml import contract
from ecgviewer.ml.layers import Attention
from ecgviewer.ml.patches import (
    CropaAttention,
    PatchConfig,
    PatchEncoder,
    cropa_allowed,
    dense_weights,
)
from tests.conftest import SAMPLE
from training.pretrain.batch import Batch
from training.pretrain.jepa import JepaConfig, JepaPretrainer, spread, time_mask

SMALL_SPEC = contract.PatchSpec(leads=("I", "II", "V1"), window_s=2.0)  # 3 leads x 10 patches of 20
SMALL = PatchConfig(dim=16, depth=1, heads=2, dropout=0.0, spec=SMALL_SPEC.to_dict())


def make_batch(b: int = 3, n: int = 1000, seed: int = 0) -> Batch:
    g = torch.Generator().manual_seed(seed)
    return Batch(
        values=torch.zeros(b, 12, contract.MAX_BEATS, contract.TOKEN_LEN),
        pad=torch.zeros(b, 12, contract.MAX_BEATS, dtype=torch.bool),
        signal=torch.randn(b, 12, n, generator=g) * 0.5,
        length=torch.full((b,), n),
        present=torch.ones(b, 12, dtype=torch.bool),
        rpeaks=torch.full((b, contract.MAX_BEATS), -1),
        rows=torch.arange(b),
    )


# --- patchify -----------------------------------------------------------------------------------


def test_patch_spec_sizes_and_round_trip() -> None:
    assert (contract.PatchSpec().patch_len, contract.PatchSpec().n_patches) == (20, 50)
    ref = contract.JEPA_REFERENCE
    assert (ref.patch_len, ref.n_patches, len(ref.leads)) == (50, 50, 8)  # §1.1: 8 x 50 x 50
    assert contract.PatchSpec.from_dict(ref.to_dict()) == ref
    assert PatchConfig.from_dict(SMALL.to_dict()) == SMALL
    with pytest.raises(ValueError):
        contract.PatchSpec(patch_s=0.3)  # 1000 samples are not a whole number of 30-sample patches


def test_patchify_selects_leads_in_order_and_reshapes() -> None:
    rng = np.random.default_rng(0)
    x = rng.standard_normal((2, 12, 2600)).astype(np.float32)
    values, pad = contract.patchify(x, np.ones((2, 12), bool), contract.JEPA_REFERENCE)
    assert values.shape == (2, 8, 50, 50) and pad.shape == (2, 8, 50) and not pad.any()
    for k, lead in enumerate(contract.JEPA_REFERENCE.leads):
        np.testing.assert_array_equal(
            values[:, k], x[:, contract.LEADS.index(lead), :2500].reshape(2, 50, 50)
        )


def test_patchify_pads_a_short_record_and_an_absent_lead() -> None:
    x = np.ones((12, 450), np.float32)
    present = np.ones(12, bool)
    present[contract.LEADS.index("II")] = False
    values, pad = contract.patchify(x, present, contract.PatchSpec())
    assert values.shape == (12, 50, 20)
    ii = contract.LEADS.index("II")
    assert pad[ii].all() and not values[ii].any()
    others = np.delete(np.arange(12), ii)
    # 450 samples: patches 0..22 hold data (patch 22 half), 23.. are wholly past the end.
    assert not pad[others, :23].any() and pad[others, 23:].all()
    assert values[others, 22, :10].all() and not values[others, 22, 10:].any()
    assert not values[others, 23:].any()


def test_patchify_numpy_and_torch_agree() -> None:
    rng = np.random.default_rng(1)
    x = rng.standard_normal((3, 12, 1000)).astype(np.float32)
    present = rng.random((3, 12)) > 0.2
    length = np.array([1000, 730, 20])
    v_np, p_np = contract.patchify(x, present, contract.PatchSpec(), length)
    v_t, p_t = contract.patchify(
        torch.from_numpy(x), torch.from_numpy(present), contract.PatchSpec(), torch.from_numpy(length)
    )
    np.testing.assert_array_equal(v_t.numpy(), v_np)
    np.testing.assert_array_equal(p_t.numpy(), p_np)
    assert p_np[2, :, 1:].all() and (p_np[2, :, 0] == ~present[2]).all()


# --- CroPA --------------------------------------------------------------------------------------


def test_cropa_allowed_is_same_lead_or_same_time() -> None:
    n_leads, n_time = 3, 4
    allowed = cropa_allowed(n_leads, n_time)
    for c in range(n_leads):
        for t in range(n_time):
            for c2 in range(n_leads):
                for t2 in range(n_time):
                    assert bool(allowed[c * n_time + t, c2 * n_time + t2]) == (c == c2 or t == t2)


def test_factorised_attention_equals_dense_masked_attention() -> None:
    torch.manual_seed(0)
    b, n_leads, n_time, d = 2, 3, 5, 16
    cropa = CropaAttention(d, 4)
    dense = Attention(d, 4)
    dense.load_state_dict(cropa.state_dict())
    x = torch.randn(b, n_leads, n_time, d)
    pad = torch.zeros(b, n_leads, n_time, dtype=torch.bool)
    pad[0, 1] = True  # an absent lead
    pad[0, :, 4] = True  # past the end: token (1, 4) of record 0 has no allowed key at all
    pad[1, 2, 0] = True
    out, (row, col) = cropa(x, pad)
    blocked = (~cropa_allowed(n_leads, n_time))[None, None] | pad.flatten(1)[:, None, None, :]
    ref_out, ref_w = dense(x.flatten(1, 2), blocked)
    weights = dense_weights(row, col)
    assert weights.shape == (b, 4, n_leads * n_time, n_leads * n_time)
    assert torch.isfinite(out).all()
    answerable = (~blocked).any(dim=-1)[:, 0]  # (B, N): queries with at least one allowed key
    assert not answerable[0, 1 * n_time + 4] and answerable.sum() == b * n_leads * n_time - 1
    torch.testing.assert_close(out.flatten(1, 2)[answerable], ref_out[answerable], atol=1e-5, rtol=0)
    rows = answerable[:, None].expand(-1, 4, -1)
    torch.testing.assert_close(weights[rows], ref_w[rows], atol=1e-5, rtol=0)
    assert (weights[:, :, ~cropa_allowed(n_leads, n_time)] == 0).all()  # never other lead AND other time


def test_one_cropa_layer_sees_exactly_its_lead_and_its_time_step() -> None:
    torch.manual_seed(0)
    encoder = PatchEncoder(SMALL).eval()
    values = torch.randn(1, 3, 10, 20)
    pad = torch.zeros(1, 3, 10, dtype=torch.bool)
    c, t = 1, 4
    base = encoder(values, pad)[0][0, c, t]
    for c2 in range(3):
        for t2 in range(10):
            if (c2, t2) == (c, t):
                continue
            bumped = values.clone()
            bumped[0, c2, t2] += 1.0
            changed = not torch.allclose(encoder(values=bumped, pad=pad)[0][0, c, t], base, atol=1e-6)
            assert changed == (c2 == c or t2 == t), (c2, t2)


def test_encoder_time_subset_pooling_and_maps() -> None:
    torch.manual_seed(0)
    encoder = PatchEncoder(SMALL).eval()
    values = torch.randn(2, 3, 10, 20)
    pad = torch.zeros(2, 3, 10, dtype=torch.bool)
    pad[1, 2] = True
    hidden, maps = encoder(values, pad, keep_time=torch.tensor([0, 3, 7]), return_attention=True)
    assert hidden.shape == (2, 3, 3, 16) and maps[0].shape == (2, 2, 9, 9)
    torch.testing.assert_close(maps[0].sum(-1), torch.ones(2, 2, 9))
    per_lead = encoder.lead_features(values, pad)
    assert per_lead.shape == (2, 3, 16) and not per_lead[1, 2].any()
    full = encoder(values, pad)[0]
    torch.testing.assert_close(encoder.representation(values, pad)[1], full[1, :2].mean(dim=(0, 1)))


# --- time masks ---------------------------------------------------------------------------------


def test_random_time_mask_ratio() -> None:
    g = torch.Generator().manual_seed(0)
    counts = []
    for _ in range(300):
        masked = time_mask(50, JepaConfig(), g)
        assert masked.shape == (50,) and masked.dtype == torch.bool  # one mask for every lead
        counts.append(int(masked.sum()))
    assert min(counts) >= 30 and max(counts) <= 35 and len(set(counts)) > 3  # round(50 * U(0.6, 0.7))


def _runs(masked: torch.Tensor) -> list[int]:
    runs, n = [], 0
    for m in [*masked.tolist(), False]:
        if m:
            n += 1
        elif n:
            runs.append(n)
            n = 0
    return runs


def test_multiblock_time_mask_is_a_union_of_four_blocks() -> None:
    g = torch.Generator().manual_seed(0)
    config = JepaConfig(mask="multiblock")
    for _ in range(300):
        masked = time_mask(50, config, g)
        runs = _runs(masked)
        # floor(50 * U(0.175, 0.225)) is 8..11; overlapping blocks merge into longer runs.
        assert 1 <= len(runs) <= 4 and min(runs) >= 8 and 11 <= sum(runs) <= 44
        assert not masked.all()
    for _ in range(200):  # a short T, where four blocks could cover everything
        masked = time_mask(4, config, g)
        assert masked.any() and not masked.all()


def test_time_mask_reproduces_with_a_seed() -> None:
    for mask in ("random", "multiblock"):
        config = JepaConfig(mask=mask)
        draws = [time_mask(50, config, torch.Generator().manual_seed(s)) for s in (7, 7, 8)]
        assert torch.equal(draws[0], draws[1]) and not torch.equal(draws[0], draws[2])


# --- loss and EMA -------------------------------------------------------------------------------


def _oracle(model: JepaPretrainer, batch: Batch, offset: float, padded_offset: float = 0.0) -> None:
    """Replace the predictor by LN(target) + offset (+ ``padded_offset`` on padded tokens)."""
    values, pad = contract.patchify(batch.signal, batch.present, model.spec, batch.length)
    with torch.no_grad():
        target = model.target(values, pad)[0]
    target = F.layer_norm(target, target.shape[-1:])

    def predictor(context: torch.Tensor, pad_: torch.Tensor, keep: torch.Tensor, hidden: torch.Tensor):
        return target[:, :, hidden] + offset + padded_offset * pad[:, :, hidden, None]

    model.predictor = predictor


@pytest.mark.parametrize(
    ("offset", "expected"), [(0.0, 0.0), (0.5, 0.5 * 0.5**2), (-0.5, 0.125), (3.0, 3.0 - 0.5)]
)
def test_loss_is_smooth_l1_to_the_layer_normed_target(offset: float, expected: float) -> None:
    model = JepaPretrainer(SMALL, JepaConfig(), seed=0).train()
    batch = make_batch()
    batch.present[0, contract.LEADS.index("II")] = False
    _oracle(model, batch, offset, padded_offset=100.0)  # padded tokens must not count
    loss = model(batch, 0.25)
    assert loss.item() == pytest.approx(expected, abs=1e-5)
    assert model.parts["smooth_l1"] == pytest.approx(expected, abs=1e-5)
    assert model.parts["momentum"] == pytest.approx(0.997)


def test_target_spread_tells_a_collapsed_encoder() -> None:
    """One output per position whatever the recording: spread 0; layer-normed targets that differ
    between recordings: about 1; a token padded in some recording does not count."""
    torch.manual_seed(0)
    weight = torch.ones(4, 2, 3)
    same = torch.randn(1, 2, 3, 8).expand(4, -1, -1, -1).clone()
    assert spread(same, weight) == pytest.approx(0.0, abs=1e-6)
    same[:, 0, 0] = torch.randn(4, 8)  # differs, but padded in recording 1
    weight[1, 0, 0] = 0.0
    assert spread(same, weight) == pytest.approx(0.0, abs=1e-6)
    varied = F.layer_norm(torch.randn(512, 2, 3, 64), (64,))
    assert spread(varied, torch.ones(512, 2, 3)) == pytest.approx(1.0, abs=0.05)


def test_a_fresh_target_encoder_tells_real_recordings_apart() -> None:
    """The collapse guard: at initialisation the content of real band-passed ECG patches must move
    the layer-normed targets about as much as the sin-cos positions do. The SD-0.02 embedding of mV
    input gave a spread of 0.03 (training/README.md) and ECG-JEPA learned positions only."""
    windows = []
    for path in sorted(SAMPLE.parent.glob("*.hea")):
        rec = load(path)
        windows.append(contract.prepare(rec.signals, rec.fs, rec.leads))
    signal = torch.from_numpy(np.stack([x for x, _ in windows]))
    present = torch.from_numpy(np.stack([p for _, p in windows]))
    torch.manual_seed(0)
    model = JepaPretrainer(PatchConfig(), JepaConfig(), seed=0)
    values, pad = contract.patchify(signal, present, model.spec)
    with torch.no_grad():
        target = model.target(values, pad)[0]
    target = F.layer_norm(target, target.shape[-1:])
    assert len(windows) >= 3 and spread(target, (~pad).float()) > 0.3


def test_training_step_and_ema() -> None:
    torch.manual_seed(0)
    model = JepaPretrainer(SMALL, JepaConfig(mask="multiblock"), seed=0).train()
    assert not model.target.training and all(not p.requires_grad for p in model.target.parameters())
    assert any(k.startswith("target.") for k in model.state_dict())  # saved for resume
    batch = make_batch(n=150)  # a short record: the tail patches are padded
    batch.present[1] = False  # a record with no lead at all stays finite
    loss = model(batch, 0.0)
    assert torch.isfinite(loss) and loss.item() > 0
    loss.backward()
    assert all(p.grad is None for p in model.target.parameters())
    assert all(p.grad is not None for p in model.encoder.parameters())
    assert model.mask_token.grad is not None and model.predict.weight.grad is not None
    torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=1e-2).step()
    before = [p.clone() for p in model.target.parameters()]
    online = [p.detach().clone() for p in model.encoder.parameters()]
    assert any(not torch.equal(b, o) for b, o in zip(before, online, strict=True))
    model.after_step(0.5)
    m = 0.996 + 0.004 * 0.5
    for t, b, o in zip(model.target.parameters(), before, online, strict=True):
        torch.testing.assert_close(t, m * b + (1 - m) * o)


def test_pretrainer_refuses_a_spec_at_another_rate() -> None:
    with pytest.raises(ValueError):
        JepaPretrainer(PatchConfig(spec=contract.JEPA_REFERENCE.to_dict()), JepaConfig())


def test_patch_classifier_round_trips_through_a_model_file(tmp_path) -> None:
    """A classifier on the patch encoder is saved with its tokeniser family and loads back as the
    same function of the same patches (the app loads any exported encoder by its ``kind``)."""
    from ecgviewer.ml.bundle import load_model, save_model
    from ecgviewer.ml.model import Classifier
    from ecgviewer.ml.patches import PatchConfig

    torch.manual_seed(0)
    model = Classifier(PatchConfig(dim=16, depth=1, heads=2), {"super": 5}, "hug").eval()
    assert model.kind == "patches" and model.patch_spec == contract.PatchSpec()
    path = tmp_path / "jepa-hug.safetensors"
    save_model(path, model, {"super": ["CD", "HYP", "MI", "NORM", "STTC"]})
    loaded = load_model(path)
    assert loaded.config["kind"] == "patches" and loaded.model.kind == "patches"
    x = torch.randn(2, 12, contract.WINDOW)
    present = torch.ones(2, 12, dtype=torch.bool)
    present[1, 3] = False
    values, pad = contract.patchify(x, present, model.patch_spec)
    with torch.no_grad():
        torch.testing.assert_close(loaded.model(values, pad)["super"], model(values, pad)["super"])
