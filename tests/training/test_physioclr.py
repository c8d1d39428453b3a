"""PhysioCLR (training/pretrain/physioclr.py): the loss by hand, the beat-shuffled and half-window views,
the neurokit2 features on real PTB-XL records (skipped without the shared data), the PCA reduction
and one backward pass of the pretrainer on a tiny batch."""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import pytest
import torch

from ecgviewer.leads import canonical_lead
from ecgviewer.ml import contract
from ecgviewer.ml.beats import EncoderConfig
from training.pretrain.batch import Batch
from training.pretrain.physioclr import (
    FEATURES,
    FLAGS,
    PhysioCLRConfig,
    PhysioCLRPretrainer,
    beat_shuffle,
    feature_matrix,
    halves,
    hide_leads,
    multi_positive_nce,
    record_features,
    reduce,
)

N_BEATS = contract.MAX_BEATS


pytestmark = pytest.mark.usefixtures("one_torch_thread")


# --- loss ------------------------------------------------------------------------------------


def test_multi_positive_nce_matches_the_formula_by_hand() -> None:
    sim = torch.tensor([[0.9, 0.1, -0.3], [0.2, 0.5, 0.4]])
    positive = torch.tensor([[True, False, False], [False, True, True]])
    negative = torch.tensor([[False, True, True], [True, False, False]])
    tau = 0.5
    row0 = -math.log(math.exp(0.9 / tau)) + math.log(math.exp(0.1 / tau) + math.exp(-0.3 / tau))
    row1 = -math.log(math.exp(0.5 / tau) + math.exp(0.4 / tau)) + math.log(math.exp(0.2 / tau))
    got = multi_positive_nce(sim, positive, negative, tau)
    assert got.item() == pytest.approx((row0 + row1) / 2, rel=1e-6)


def test_multi_positive_nce_skips_anchors_without_positives_and_empty_negatives() -> None:
    sim = torch.tensor([[0.9, 0.1, -0.3], [0.2, 0.5, 0.4]], requires_grad=True)
    positive = torch.tensor([[True, True, False], [False, False, False]])
    negative = torch.tensor([[False, False, False], [True, True, True]])
    tau = 0.1
    loss = multi_positive_nce(sim, positive, negative, tau)
    # Row 1 has no positive (left out); row 0 has no negative (its second term is dropped).
    assert loss.item() == pytest.approx(-math.log(math.exp(0.9 / tau) + math.exp(0.1 / tau)), rel=1e-6)
    loss.backward()
    assert torch.isfinite(sim.grad).all() and (sim.grad[1] == 0).all()
    none = multi_positive_nce(sim, torch.zeros_like(positive), negative, tau)
    assert none.item() == 0.0 and none.requires_grad


# --- views -----------------------------------------------------------------------------------


def _tokens(beats: list[int], seed: int = 0) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Distinct random tokens for records with the given beat counts; lead 3 of record 0 absent."""
    g = torch.Generator().manual_seed(seed)
    b = len(beats)
    values = torch.randn(b, 12, N_BEATS, contract.TOKEN_LEN, generator=g)
    pad = torch.ones(b, 12, N_BEATS, dtype=torch.bool)
    rpeaks = torch.full((b, N_BEATS), -1, dtype=torch.int64)
    for i, k in enumerate(beats):
        pad[i, :, :k] = False
        rpeaks[i, :k] = 30 + torch.arange(k) * 960 // max(k, 1)  # R-peaks spread over the 10 s
    pad[0, 3] = True
    values[pad] = 0.0
    return values, pad, rpeaks


def test_beat_shuffle_permutes_whole_beats_alike_in_every_lead() -> None:
    values, pad, rpeaks = _tokens([8, 1, 15])
    out, out_pad, out_bins = beat_shuffle(values, pad, rpeaks, torch.Generator().manual_seed(3))
    assert out.shape == values.shape and torch.equal(out_pad, pad) and torch.equal(out_bins, rpeaks)
    for i, k in enumerate([8, 1, 15]):
        # Lead 0's tokens are distinct, so they name the permutation; every lead must follow it.
        perm = [int(torch.nonzero((values[i, 0] == out[i, 0, j]).all(-1))[0]) for j in range(k)]
        assert sorted(perm) == list(range(k))
        assert torch.equal(out[i, :, :k], values[i][:, perm])
        assert torch.equal(out[i, :, k:], values[i, :, k:])  # padded slots stay put
    assert torch.equal(out[1], values[1])  # one beat: nothing to permute
    assert not torch.equal(out[2], values[2])


def test_beat_shuffle_is_reproducible_with_a_seed() -> None:
    values, pad, rpeaks = _tokens([12, 7])
    a = beat_shuffle(values, pad, rpeaks, torch.Generator().manual_seed(5))[0]
    b = beat_shuffle(values, pad, rpeaks, torch.Generator().manual_seed(5))[0]
    c = beat_shuffle(values, pad, rpeaks, torch.Generator().manual_seed(6))[0]
    assert torch.equal(a, b) and not torch.equal(a, c)


def test_halves_put_every_beat_in_exactly_one_half_by_rpeaks() -> None:
    _, pad, rpeaks = _tokens([15, 9, 3, 1])
    first, second = halves(pad, rpeaks)
    beat = ~pad
    in_first, in_second = ~first, ~second
    assert torch.equal(in_first | in_second, beat) and not (in_first & in_second).any()
    early = (rpeaks < 500)[:, None, :].expand_as(pad)
    assert torch.equal(in_first, beat & early) and torch.equal(in_second, beat & ~early)
    assert (~second[3]).sum() == 0  # the one-beat record has no second half


def test_hide_leads_hides_present_leads_at_the_rate_and_keeps_one() -> None:
    _, pad, _ = _tokens([15, 11, 6, 1] * 50)
    pad[1] = True
    pad[1, 7, :4] = False  # record 1 has one lead: it is never hidden
    present = ~pad.all(dim=2)
    g = torch.Generator().manual_seed(0)
    hidden = hide_leads(pad, 0.5, g)
    assert hidden.shape == present.shape and not (hidden & ~present).any()
    assert (present & ~hidden).any(dim=1).all()  # every record keeps a lead to rebuild from
    assert not hidden[1].any()
    assert 0.45 < float(hidden.sum() / present.sum()) < 0.55
    all_hidden = hide_leads(pad, 1.0, torch.Generator().manual_seed(1))
    assert ((present & ~all_hidden).sum(dim=1) == 1).all()  # p = 1 keeps exactly the spare lead
    again = hide_leads(pad, 0.5, torch.Generator().manual_seed(0))
    assert torch.equal(hidden, again) and not hide_leads(pad, 0.0, g).any()


# --- features on real records ----------------------------------------------------------------


def _ptbxl(shared: Path, ecg_id: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    wfdb = pytest.importorskip("wfdb")
    base = shared / "ptbxl" / "records100" / f"{ecg_id // 1000 * 1000:05d}" / f"{ecg_id:05d}_lr"
    if not base.with_suffix(".hea").is_file():
        pytest.skip(f"PTB-XL record {base} not in the shared data")
    rec = wfdb.rdrecord(str(base))
    leads = [canonical_lead(n) for n in rec.sig_name]
    x, present = contract.prepare(rec.p_signal.T, rec.fs, leads)
    return x, present, contract.tokenise(rec.p_signal.T, rec.fs, leads).rpeaks[0]


def test_record_features_on_a_real_record(shared: Path) -> None:
    x, present, rpeaks = _ptbxl(shared, 1)
    f = record_features(x, present, rpeaks)
    assert f.shape == (len(FEATURES),) and len(set(FEATURES)) == len(FEATURES)
    r = rpeaks[rpeaks >= 0]
    heart_rate = 60.0 / (np.diff(r).mean() / contract.FS)
    assert f[FEATURES.index("rr_mean")] == pytest.approx(60000.0 / heart_rate, rel=0.1)
    flags = f[[FEATURES.index(name) for name in FLAGS]]
    assert np.all((flags >= 0) & (flags <= 1))
    assert np.isnan(f).mean() < 0.2  # a clean sinus record: nearly everything measurable


def test_record_features_give_nan_not_exceptions() -> None:
    flat = np.zeros((12, 1000), dtype=np.float32)
    present = np.ones(12, dtype=bool)
    beats = np.arange(50, 1000, 80)
    assert np.isnan(record_features(flat, present, beats)).all()
    noise = np.random.default_rng(0).normal(0, 0.2, (12, 1000)).astype(np.float32)
    assert np.isnan(record_features(noise, present, np.full(15, -1))).all()
    assert np.isnan(record_features(noise, np.zeros(12, dtype=bool), beats)).all()
    # R-peaks at the very edges of noise: whatever neurokit2 makes of it, no exception.
    edges = record_features(noise, present, np.array([0, 1, 998, 999]))
    assert edges.shape == (len(FEATURES),)


def test_feature_matrix_in_worker_processes_matches_one_by_one(shared: Path) -> None:
    records = [_ptbxl(shared, i) for i in (1, 2)]
    signals = np.zeros((2, 12, contract.WINDOW), dtype=np.float32)
    for i, (x, _, _) in enumerate(records):
        signals[i, :, : x.shape[1]] = x[:, : contract.WINDOW]
    lengths = np.array([min(x.shape[1], contract.WINDOW) for x, _, _ in records])
    present = np.stack([p for _, p, _ in records])
    rpeaks = np.stack([r for _, _, r in records])
    got = feature_matrix(signals, lengths, present, rpeaks, workers=2)
    want = np.stack([record_features(signals[i, :, : lengths[i]], present[i], rpeaks[i]) for i in range(2)])
    np.testing.assert_array_equal(got, want)


# --- reduction -------------------------------------------------------------------------------


def test_reduce_imputes_standardises_and_fits_on_fit_rows_only() -> None:
    rng = np.random.default_rng(0)
    f = rng.normal(size=(40, 20))
    f[rng.random(f.shape) < 0.2] = np.nan
    f[:, 3] = 7.0  # constant
    f[:, 4] = np.nan  # never measured
    fit = np.arange(30)
    out = reduce(f, fit, n_components=5)
    assert out.shape == (40, 5) and out.dtype == np.float32 and np.isfinite(out).all()
    other = f.copy()
    other[30:] = rng.normal(size=(10, 20)) * 100
    np.testing.assert_array_equal(reduce(other, fit, n_components=5)[:30], out[:30])
    assert reduce(f, fit).shape == (40, 20)  # no more components than features


@dataclass
class _Cache:
    """What ``physio_features`` reads of a ``TokenCache``."""

    folder: Path
    signal: np.ndarray
    length: np.ndarray
    present: np.ndarray
    rpeaks: np.ndarray
    fallback: np.ndarray

    def __len__(self) -> int:
        return len(self.signal)


def test_physio_features_only_of_the_records_pretrained_on(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The neurokit2 features (about 0.1 s a record) are computed for the records pretrained on and
    no other, once: kept beside their cache under a name of which records, so another set of rows
    computes its own and the same set reads them back; each row gets its own record's features."""
    import training.pretrain.physioclr as P
    from training.pretrain.methods import PretrainSet, physio_features

    seen: list[float] = []

    def fake(item: tuple) -> np.ndarray:  # a record's features from its first sample, which names it
        seen.append(float(item[0][0, 0]))
        return np.sin(np.arange(len(FEATURES)) * (seen[-1] + 1.0))

    monkeypatch.setattr(P, "_features_of", fake)
    caches = []
    for c, size in enumerate((5, 3)):
        signal = np.zeros((size, 12, 20), dtype=np.float32)
        signal[:, 0, 0] = 10 * c + np.arange(size)
        folder = tmp_path / f"cache{c}"
        folder.mkdir()
        caches.append(_Cache(folder, signal, np.full(size, 20), np.ones((size, 12), bool),
                             np.zeros((size, 4), int), np.zeros(size, bool)))  # fmt: skip
    rows = np.array([0, 3, 5, 7, 3])  # cache 0's records 0 and 3, cache 1's 0 and 2

    def features(rows: np.ndarray) -> torch.Tensor:
        return physio_features(PretrainSet(None, rows, caches, workers=1))

    got = features(rows)
    assert sorted(seen) == [0.0, 3.0, 10.0, 12.0]
    assert got.shape[0] == 5 and not torch.allclose(got[0], got[1])
    torch.testing.assert_close(got[1], got[4])  # the same record's, to rounding (SIMD width varies by CPU)
    assert len(list(tmp_path.glob("cache*/physio-features-*.npy"))) == 2
    seen.clear()
    torch.testing.assert_close(features(rows), got)
    assert seen == []  # read back
    features(np.array([0, 1, 5]))
    assert sorted(seen) == [0.0, 1.0, 10.0]  # cache 1's record 0 alone is another set of its rows
    assert len(list(tmp_path.glob("cache*/physio-features-*.npy"))) == 4


# --- the pretrainer --------------------------------------------------------------------------


def _batch(b: int = 4) -> Batch:
    values, pad, rpeaks = _tokens([15, 11, 6, 1][:b], seed=1)
    return Batch(
        values=values * 0.3,
        pad=pad,
        signal=torch.zeros(b, 12, contract.WINDOW),
        length=torch.full((b,), contract.WINDOW),
        present=~pad.all(dim=2),
        rpeaks=rpeaks,
        rows=torch.tensor([0, 3, 5, 7][:b]),
    )


def test_pretrainer_loss_is_finite_and_trains_the_encoder() -> None:
    torch.manual_seed(0)
    features = torch.randn(10, 6)
    encoder = EncoderConfig(dim=16, depth=1, heads=2, dropout=0.0)
    model = PhysioCLRPretrainer(encoder, PhysioCLRConfig(proj_dim=8), features, seed=0)
    loss = model(_batch(), 0.0)
    assert torch.isfinite(loss) and set(model.parts) == {"con", "rec", "peak"}
    c = model.config
    total = model.parts["con"] + c.alpha * model.parts["rec"] + c.beta * model.parts["peak"]
    assert loss.item() == pytest.approx(total, rel=1e-5)
    loss.backward()
    grads = [p.grad for p in model.encoder.parameters() if p.grad is not None]
    assert grads and all(torch.isfinite(g).all() for g in grads)
    assert any(g.abs().sum() > 0 for g in grads)
    assert "features" not in model.state_dict()


def test_lead_masking_rebuilds_a_lost_lead_only_from_the_others(monkeypatch: pytest.MonkeyPatch) -> None:
    """With random lead masking, what the decoder reads for the anchor does not change when a lost
    lead's signal does (it can only come from the other leads), and the masked-token MSE is logged
    beside the trivial answers, which have no beat of a lost lead to copy."""
    import training.pretrain.physioclr as P

    drawn: list[torch.Tensor] = []
    monkeypatch.setattr(P, "hide_leads", lambda *a: drawn.append(hide_leads(*a)) or drawn[-1])
    features = torch.randn(10, 6)
    encoder = EncoderConfig(dim=16, depth=2, heads=2, dropout=0.0)
    config = PhysioCLRConfig(proj_dim=8, lead_mask=0.5)

    def decoded(batch: Batch) -> tuple[torch.Tensor, PhysioCLRPretrainer]:
        torch.manual_seed(0)
        model = PhysioCLRPretrainer(encoder, config, features, seed=0)
        seen: list[torch.Tensor] = []
        model.decode.register_forward_hook(lambda _m, args, _out: seen.append(args[0].detach()))
        loss = model(batch, 0.0)
        assert torch.isfinite(loss)
        return seen[0], model

    batch = _batch()
    before, model = decoded(batch)
    keys = {"con", "rec", "peak", "mse", "template_mse", "copy_mse", "copy_share"}
    assert set(model.parts) == keys and model.parts["copy_share"] == 0.0
    assert model.parts["copy_mse"] == pytest.approx(model.parts["template_mse"])
    lost = drawn[0][: batch.size]
    record, lead = (int(i) for i in torch.nonzero(lost & batch.present)[0])
    changed = batch.values.clone()
    changed[record, lead] = torch.randn_like(changed[record, lead]) * 5
    after, _ = decoded(replace(batch, values=changed))
    assert torch.equal(drawn[0], drawn[1])  # the same draws
    torch.testing.assert_close(after, before)
    # without the masking the same change reaches the decoder
    config = PhysioCLRConfig(proj_dim=8)
    plain, _ = decoded(batch)
    changed_plain, _ = decoded(replace(batch, values=changed))
    assert not torch.allclose(plain, changed_plain)
