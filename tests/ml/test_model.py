"""The encoder's attention rules, padding, normalisation, heads, model files and CLEAR pretraining.

Every test uses a tiny configuration (dim 16, one or two layers) so the file runs in seconds on CPU.
"""

from __future__ import annotations

import json
import pickle
import struct
from pathlib import Path

import pytest
import torch
from torch import Tensor

from ecgviewer.errors import EcgError
from ecgviewer.leads import HUG_GROUPS
from ecgviewer.ml import contract
from ecgviewer.ml.beats import (
    N_LEADS,
    Encoder,
    EncoderConfig,
    normalise_tokens,
    rhythm_features,
    rr_features,
    view_allowed,
)
from ecgviewer.ml.bundle import load_model, save_model
from ecgviewer.ml.heads import HEADS, HUGHead, LinearHead
from ecgviewer.ml.model import Classifier
from ecgviewer.weights import sha256, write_card
from training.pretrain.clear import ClearPretrainer, DecoderConfig, decoder_allowed, random_mask

N_BEATS = contract.MAX_BEATS
N_TOKENS = N_LEADS * N_BEATS
N_SEQ = N_LEADS + N_TOKENS
CLASSES = {"super": ["NORM", "MI", "STTC", "CD", "HYP"], "all": [f"c{k}" for k in range(7)]}


pytestmark = pytest.mark.usefixtures("one_torch_thread")


def _config(**overrides: object) -> EncoderConfig:
    base: dict[str, object] = {"dim": 16, "depth": 1, "heads": 2, "dropout": 0.0}
    base.update(overrides)
    return EncoderConfig(**base)


def _encoder(seed: int = 0, **overrides: object) -> Encoder:
    torch.manual_seed(seed)
    return Encoder(_config(**overrides)).eval()


def _classifier(head: str = "hug", seed: int = 0, **overrides: object) -> Classifier:
    torch.manual_seed(seed)
    tasks = {task: len(names) for task, names in CLASSES.items()}
    return Classifier(_config(**overrides), tasks, head).eval()


def _batch(b: int = 2, seed: int = 0, scale: float = 0.5) -> tuple[Tensor, Tensor, Tensor]:
    """Random tokens of realistic size (``scale`` mV), nothing padded, R-peaks 0.66 s apart."""
    g = torch.Generator().manual_seed(seed)
    values = torch.randn(b, N_LEADS, N_BEATS, contract.TOKEN_LEN, generator=g) * scale
    pad = torch.zeros(b, N_LEADS, N_BEATS, dtype=torch.bool)
    rpeaks = (30 + torch.arange(N_BEATS) * 66).expand(b, -1).clone()
    return values, pad, rpeaks


def _some_padding(b: int = 2) -> Tensor:
    """Trailing beats missing everywhere, a whole missing lead and one isolated gap."""
    pad = torch.zeros(b, N_LEADS, N_BEATS, dtype=torch.bool)
    pad[:, :, 12:] = True
    pad[0, 5] = True
    pad[b - 1, 2, 7] = True
    return pad


def _tok(lead: int, beat: int) -> int:
    """Sequence index of beat ``beat`` of lead ``lead`` (after the 12 [CLS] tokens)."""
    return N_LEADS + lead * N_BEATS + beat


def _row(allowed: Tensor, i: int) -> set[int]:
    return set(torch.nonzero(allowed[i]).flatten().tolist())


# --- attention rules ------------------------------------------------------------------------------


def test_view_allowed_small_case_by_hand() -> None:
    """A 2-lead, 2-beat case written out by hand pins the layout (CLS first, lead-major beats)."""
    expected = torch.tensor(
        [
            [1, 0, 1, 1, 0, 0],  # CLS_0: itself, lead 0's beats
            [0, 1, 0, 0, 1, 1],  # CLS_1: itself, lead 1's beats
            [1, 0, 1, 1, 1, 1],  # lead 0 beat 0: CLS_0, all beats
            [1, 0, 1, 1, 1, 1],  # lead 0 beat 1
            [0, 1, 1, 1, 1, 1],  # lead 1 beat 0: CLS_1, all beats
            [0, 1, 1, 1, 1, 1],  # lead 1 beat 1
        ],
        dtype=torch.bool,
    )
    assert torch.equal(view_allowed(2, 2), expected)


def test_view_allowed_cls_sees_own_lead_and_beats_see_all_beats() -> None:
    """The [CLS] outputs are per-lead summaries only if CLS_i sees nothing but lead i."""
    allowed = view_allowed()
    assert allowed.shape == (N_SEQ, N_SEQ)
    assert allowed.dtype == torch.bool
    all_beats = {_tok(i, j) for i in range(N_LEADS) for j in range(N_BEATS)}
    for i in range(N_LEADS):
        assert _row(allowed, i) == {i} | {_tok(i, j) for j in range(N_BEATS)}
    for lead in range(N_LEADS):
        for beat in range(N_BEATS):
            assert _row(allowed, _tok(lead, beat)) == all_beats | {lead}


def test_decoder_allowed_conduction_and_view_sets() -> None:
    """Masked beats may see only the same beat in every lead (conduction) and their own CLS (view);
    visible beats see the visible beats; nothing else leaks into the reconstruction."""
    keep, masked = random_mask(0.8, torch.Generator().manual_seed(3))
    allowed = decoder_allowed(masked)
    assert allowed.shape == (N_SEQ, N_SEQ)
    visible = {_tok(t // N_BEATS, t % N_BEATS) for t in keep.tolist()}
    for i in range(N_LEADS):
        assert _row(allowed, i) == {i} | {_tok(i, j) for j in range(N_BEATS)}
    n_masked_rows = 0
    for lead in range(N_LEADS):
        for beat in range(N_BEATS):
            me = _tok(lead, beat)
            if bool(masked[lead * N_BEATS + beat]):
                n_masked_rows += 1
                expected = {_tok(k, beat) for k in range(N_LEADS)} | {lead, me}
            else:
                assert me in visible
                expected = visible | {lead, me}
            assert _row(allowed, me) == expected, (lead, beat)
    assert n_masked_rows == 144
    # the [CLS] rows follow the encoder's view rule
    assert torch.equal(allowed[:N_LEADS], view_allowed()[:N_LEADS])


def test_random_mask_keeps_a_fifth_sorted_disjoint_and_seeded() -> None:
    """The encoder gets 36 of 180 tokens in order; the rest are the reconstruction targets."""
    keep, masked = random_mask(0.8, torch.Generator().manual_seed(7))
    assert keep.shape == (36,)
    assert keep.dtype == torch.int64
    assert masked.shape == (N_TOKENS,)
    assert masked.dtype == torch.bool
    assert int(masked.sum()) == 144
    assert bool((keep[1:] > keep[:-1]).all())
    assert int(keep.min()) >= 0
    assert int(keep.max()) < N_TOKENS
    kept = set(keep.tolist())
    hidden = set(torch.nonzero(masked).flatten().tolist())
    assert kept.isdisjoint(hidden)
    assert kept | hidden == set(range(N_TOKENS))

    keep2, masked2 = random_mask(0.8, torch.Generator().manual_seed(7))
    assert torch.equal(keep, keep2)
    assert torch.equal(masked, masked2)
    keep3, _ = random_mask(0.8, torch.Generator().manual_seed(8))
    assert not torch.equal(keep, keep3)


# --- the encoder ----------------------------------------------------------------------------------


def _probe(hidden: Tensor) -> Tensor:
    """A scalar that depends on every feature: the plain sum of a LayerNorm output is constant."""
    weights = torch.randn(hidden.shape[-1], generator=torch.Generator().manual_seed(99))
    return (hidden * weights).sum()


def _cls0_gradient(depth: int) -> Tensor:
    enc = _encoder(depth=depth)
    values, pad, rpeaks = _batch()
    values.requires_grad_(True)
    hidden, _ = enc(values, pad, rpeaks)
    assert hidden.shape == (2, N_SEQ, 16)
    _probe(hidden[:, 0]).backward()
    assert values.grad is not None
    return values.grad


def test_encoder_one_layer_cls_is_blind_to_other_leads() -> None:
    """The view mask is hard: after one layer CLS_0 is a function of lead 0 only."""
    grad = _cls0_gradient(depth=1)
    assert float(grad[:, 0].abs().sum()) > 0
    for lead in range(1, N_LEADS):
        assert bool((grad[:, lead] == 0).all()), lead


def test_encoder_two_layers_cls_hears_other_leads_through_beats() -> None:
    """Beat tokens attend across leads, so from the second layer on CLS_0 depends on lead 3."""
    grad = _cls0_gradient(depth=2)
    assert float(grad[:, 0].abs().sum()) > 0
    assert float(grad[:, 3].abs().sum()) > 0


def test_encoder_one_layer_beats_mix_across_leads() -> None:
    """The other half of the rule: a beat token of lead 0 already sees lead 3 after one layer."""
    enc = _encoder(depth=1)
    values, pad, rpeaks = _batch()
    values.requires_grad_(True)
    hidden, _ = enc(values, pad, rpeaks)
    _probe(hidden[:, _tok(0, 0)]).backward()
    assert values.grad is not None
    assert float(values.grad[:, 3].abs().sum()) > 0


def test_attention_weights_are_normalised_and_respect_view_and_padding() -> None:
    """The weights the viewer shows must be the ones used: a distribution over allowed,
    non-padded keys only."""
    enc = _encoder(depth=2)
    values, _, rpeaks = _batch()
    pad = _some_padding()
    with torch.no_grad():
        _, maps = enc(values, pad, rpeaks, return_attention=True)
        _, no_maps = enc(values, pad, rpeaks)
    assert no_maps == []
    assert len(maps) == 2
    allowed = view_allowed()
    for w in maps:
        assert w.shape == (2, 2, N_SEQ, N_SEQ)
        torch.testing.assert_close(w.sum(dim=-1), torch.ones(2, 2, N_SEQ), atol=1e-5, rtol=0)
        assert bool((w[:, :, ~allowed] == 0).all())
        for b in range(2):
            key_pad = torch.cat([torch.zeros(N_LEADS, dtype=torch.bool), pad[b].flatten()])
            assert bool((w[b][:, :, key_pad] == 0).all())
            # and nothing else is blocked: every allowed, non-padded key gets some weight
            open_keys = allowed & ~key_pad[None, :]
            assert bool((w[b][:, open_keys] > 0).all())


def test_padded_token_values_do_not_change_outputs() -> None:
    """A missing beat is zero-filled by the contract, but the model must not read it at all."""
    model = _classifier("hug", depth=2)
    values, _, rpeaks = _batch()
    pad = _some_padding()
    other = values.clone()
    g = torch.Generator().manual_seed(11)
    other[pad] = torch.randn(int(pad.sum()), contract.TOKEN_LEN, generator=g) * 5 + 2
    assert not torch.equal(values, other)
    with torch.no_grad():
        h1, _ = model.encoder(values, pad, rpeaks)
        h2, _ = model.encoder(other, pad, rpeaks)
        logits1 = model(values, pad, rpeaks)
        logits2 = model(other, pad, rpeaks)
    torch.testing.assert_close(h1[:, :N_LEADS], h2[:, :N_LEADS], atol=1e-6, rtol=0)
    real = ~pad.flatten(1)
    torch.testing.assert_close(h1[:, N_LEADS:][real], h2[:, N_LEADS:][real], atol=1e-6, rtol=0)
    for task in CLASSES:
        torch.testing.assert_close(logits1[task], logits2[task], atol=1e-6, rtol=0)
    # the same change on real tokens does change the output (the check above is not vacuous)
    changed = values.clone()
    changed[~pad] = changed[~pad].flip(-1)
    with torch.no_grad():
        h3, _ = model.encoder(changed, pad, rpeaks)
    assert float((h3[:, :N_LEADS] - h1[:, :N_LEADS]).abs().max()) > 1e-4


def test_normalise_tokens_z_scores_each_token() -> None:
    """Each token is z-scored over its own 96 samples and reports log(std + EPS) in mV."""
    values, _, _ = _batch(scale=1.0)
    z, log_scale = normalise_tokens(values)
    assert z.shape == values.shape
    assert log_scale.shape == (*values.shape[:-1], 1)
    torch.testing.assert_close(z.mean(-1), torch.zeros(values.shape[:-1]), atol=1e-5, rtol=0)
    torch.testing.assert_close(z.std(-1, unbiased=False), torch.ones(values.shape[:-1]), atol=2e-3, rtol=0)
    std = values.std(-1, unbiased=False, keepdim=True)
    torch.testing.assert_close(log_scale, torch.log(std + 1e-3))
    z_flat, log_flat = normalise_tokens(torch.zeros(1, contract.TOKEN_LEN))
    assert bool(torch.isfinite(z_flat).all())
    assert bool(torch.isfinite(log_flat).all())


def test_amplitude_feature_sees_token_scale() -> None:
    """Voltage criteria (hypertrophy) need the amplitude: tripling one beat must change the output,
    of that lead's CLS and of that recording only."""
    enc = _encoder(amplitude=True)
    values, pad, rpeaks = _batch(scale=1.0)
    louder = values.clone()
    louder[0, 2, 4] *= 3
    with torch.no_grad():
        h1, _ = enc(values, pad, rpeaks)
        h2, _ = enc(louder, pad, rpeaks)
    assert float((h2[0, 2] - h1[0, 2]).abs().max()) > 1e-3
    torch.testing.assert_close(h1[1], h2[1], atol=1e-6, rtol=0)
    # one layer: the CLS of an untouched lead does not move
    torch.testing.assert_close(h1[0, 5], h2[0, 5], atol=1e-6, rtol=0)


def test_without_amplitude_outputs_ignore_per_token_scale() -> None:
    """With ``amplitude=False`` only the shape of each beat matters (per-token z-score); EPS makes
    this approximate, so the tokens are ~1 mV and the tolerance is 1e-3."""
    enc = _encoder(depth=2, amplitude=False)
    values, pad, rpeaks = _batch(scale=1.0)
    g = torch.Generator().manual_seed(5)
    factor = torch.rand(2, N_LEADS, N_BEATS, 1, generator=g) * 2.5 + 0.5  # 0.5 .. 3
    with torch.no_grad():
        h1, _ = enc(values, pad, rpeaks)
        h2, _ = enc(values * factor, pad, rpeaks)
        # a change of shape, not scale, does move the output
        h3, _ = enc(values.flip(-1), pad, rpeaks)
    torch.testing.assert_close(h2, h1, rtol=1e-3, atol=1e-3)
    assert float((h3 - h1).abs().max()) > 1e-2


@pytest.mark.parametrize("amplitude", [True, False])
def test_outputs_ignore_per_token_offset(amplitude: bool) -> None:
    """Baseline wander between beats is removed by the z-score, with or without the amplitude."""
    enc = _encoder(amplitude=amplitude)
    values, pad, rpeaks = _batch(scale=1.0)
    g = torch.Generator().manual_seed(6)
    offset = torch.randn(2, N_LEADS, N_BEATS, 1, generator=g)
    with torch.no_grad():
        h1, _ = enc(values, pad, rpeaks)
        h2, _ = enc(values + offset, pad, rpeaks)
    torch.testing.assert_close(h2, h1, rtol=1e-4, atol=1e-4)


def test_rr_features_are_the_log_intervals_to_the_neighbouring_beats() -> None:
    r = torch.tensor([[50, 150, 200, -1, -1], [400, -1, -1, -1, -1]])
    f = rr_features(r)
    assert f.shape == (2, 5, 4)
    ln = torch.log(torch.tensor(0.5)).item()  # 150 -> 200: 0.5 s; 50 -> 150: 1 s (log 0)
    torch.testing.assert_close(f[0, :, 0], torch.tensor([0.0, 0.0, ln, 0.0, 0.0]))
    torch.testing.assert_close(f[0, :, 1], torch.tensor([0.0, ln, 0.0, 0.0, 0.0]))
    assert f[0, :, 2].tolist() == [0, 1, 1, 0, 0] and f[0, :, 3].tolist() == [1, 1, 0, 0, 0]
    assert not f[1].any()  # one beat: no interval at all


def test_rhythm_features_tell_regular_from_irregular_and_bigeminal() -> None:
    regular = 30 + torch.arange(10) * 100  # 60 /min
    bigeminy = torch.tensor([30, 90, 190, 250, 350, 410, 510, 570, 670, 730])  # 0.6 s, 1.0 s, ...
    rng = torch.Generator().manual_seed(0)
    irregular = 30 + torch.cumsum(torch.randint(40, 160, (10,), generator=rng), 0)
    r = torch.full((5, 15), -1)
    for i, peaks in enumerate([regular, bigeminy, irregular, torch.tensor([100, 200])]):
        r[i, : len(peaks)] = peaks
    f = rhythm_features(r)
    assert f.shape == (5, 7) and torch.isfinite(f).all()
    torch.testing.assert_close(f[0], torch.tensor([0.0, 0, 0, 0, 0, 0, 1]))  # log 1 s, no variation
    assert f[1, 5] == 1 and f[1, 4] == 1 and f[1, 1] > 0.2  # every interval alternates and jumps
    assert f[2, 1] > 0.2 and f[2, 4] > 0.3 and f[2, 5] < 1
    assert not f[3:].any()  # one interval, or none: no statistics


def test_rr_input_starts_silent_and_then_hears_the_rhythm() -> None:
    """The RR layers start at zero (an encoder gains them without changing its output); once they
    have weights, the same beats at other intervals (within the same whole seconds) encode
    differently, which the time bins alone cannot tell apart."""
    values, pad, rpeaks = _batch()
    other = rpeaks.clone()
    other[:, 1::2] -= 7  # irregular RR, every R in the same second as before
    assert torch.equal(other // contract.FS, rpeaks // contract.FS)
    plain, with_rr = _encoder(), _encoder(rr=True)
    with_rr.load_state_dict(plain.state_dict(), strict=False)
    with torch.no_grad():
        h, _ = plain(values, pad, rpeaks)
        torch.testing.assert_close(with_rr(values, pad, rpeaks)[0], h, atol=0, rtol=0)
        torch.testing.assert_close(plain(values, pad, other)[0], h, atol=0, rtol=0)
        torch.testing.assert_close(with_rr.lead_vectors(values, pad, rpeaks), h[:, :N_LEADS], atol=0, rtol=0)
        assert with_rr.rr is not None and with_rr.rhythm is not None
        with_rr.rr.weight.normal_(0, 0.5)
        assert float((with_rr(values, pad, other)[0] - with_rr(values, pad, rpeaks)[0]).abs().max()) > 1e-2
        with_rr.rr.weight.zero_()  # the window's statistics reach the lead vectors directly
        with_rr.rhythm[-1].weight.normal_(0, 0.5)
        moved = with_rr.lead_vectors(values, pad, other) - with_rr.lead_vectors(values, pad, rpeaks)
        assert float(moved.abs().min()) > 1e-3  # every lead, every dimension


# --- heads ----------------------------------------------------------------------------------------


def test_hug_group_vectors_shape_and_lead_groups() -> None:
    """The 7 HUG vectors (3 groups, 3 pairs, overall) explain per lead system only if each one
    depends on exactly the leads of its group."""
    torch.manual_seed(0)
    head = HUGHead(16, 4, dropout=0.0).eval()
    cls = torch.randn(3, N_LEADS, 16, requires_grad=True)
    vectors = head.group_vectors(cls)
    assert vectors.shape == (3, 7, 16)
    groups = [set(g) for g in HUG_GROUPS]
    expected = [
        groups[0],
        groups[1],
        groups[2],
        groups[0] | groups[1],
        groups[1] | groups[2],
        groups[0] | groups[2],
        set(range(N_LEADS)),
    ]
    for k, leads in enumerate(expected):
        (grad,) = torch.autograd.grad(vectors[:, k].sum(), cls, retain_graph=True)
        used = {i for i in range(N_LEADS) if float(grad[:, i].abs().sum()) > 0}
        assert used == leads, k
    torch.testing.assert_close(head(cls), head.fc(vectors.mean(dim=1)))


def test_paper_hug_is_affine_and_ours_is_not() -> None:
    """The paper's HUG (linear experts) is one affine map of the 12 lead vectors; ours (Linear +
    GELU experts, a listed deviation) is not. Both keep the same parameter names and lead groups."""
    torch.manual_seed(0)
    x, y = torch.randn(2, 3, N_LEADS, 16)
    paper, ours = HEADS["hug-linear"](16, 4, dropout=0.0), HUGHead(16, 4, dropout=0.0)
    for head, affine in ((paper, True), (ours, False)):
        head.eval()
        zero = head(torch.zeros_like(x))
        additive = torch.allclose(head(x + y) - zero, (head(x) - zero) + (head(y) - zero), atol=1e-5)
        assert additive == affine
    assert HEADS["hug-linear"](16, 4).state_dict().keys() == HUGHead(16, 4).state_dict().keys()


def test_linear_head_is_mean_of_lead_cls() -> None:
    """CLEAR's linear probe: a linear map of the mean [CLS]."""
    torch.manual_seed(0)
    head = LinearHead(16, 3)
    cls = torch.randn(2, N_LEADS, 16)
    out = head(cls)
    assert out.shape == (2, 3)
    torch.testing.assert_close(out, head.fc(cls.mean(dim=1)))


@pytest.mark.parametrize("head", ["hug", "linear"])
def test_classifier_returns_logits_per_task(head: str) -> None:
    """The app reads ``logits[task]`` as (B, n_classes) for every task it was trained on."""
    model = _classifier(head)
    values, _, rpeaks = _batch(b=3)
    with torch.no_grad():
        logits = model(values, _some_padding(3), rpeaks)
    assert set(logits) == set(CLASSES)
    for task, names in CLASSES.items():
        assert logits[task].shape == (3, len(names))
        assert logits[task].dtype == torch.float32
        assert bool(torch.isfinite(logits[task]).all())
    assert model.lead_cls(values, _some_padding(3), rpeaks).shape == (3, N_LEADS, 16)


# --- model files ----------------------------------------------------------------------------------


@pytest.fixture
def no_pickle(monkeypatch: pytest.MonkeyPatch) -> None:
    """Loading a model must never unpickle: make every pickle entry point explode."""

    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError("pickle/torch.load used while loading a model")

    monkeypatch.setattr(torch, "load", refuse)
    monkeypatch.setattr(pickle, "load", refuse)
    monkeypatch.setattr(pickle, "loads", refuse)


def _saved(tmp_path: Path, head: str = "hug", **overrides: object) -> tuple[Path, Classifier, str]:
    model = _classifier(head, seed=1, **overrides)
    path = tmp_path / "model.safetensors"
    digest = save_model(path, model, CLASSES)
    return path, model, digest


@pytest.mark.parametrize(("head", "amplitude"), [("hug", True), ("linear", False)])
def test_bundle_round_trip_gives_identical_logits(
    tmp_path: Path, no_pickle: None, head: str, amplitude: bool
) -> None:
    """A saved model must predict exactly what it predicted before saving, without pickle."""
    path, model, digest = _saved(tmp_path, head, depth=2, amplitude=amplitude)
    assert digest == sha256(path)
    values, _, rpeaks = _batch()
    pad = _some_padding()
    loaded = load_model(path)
    assert not loaded.model.training
    assert loaded.card is None
    assert loaded.classes == CLASSES
    assert loaded.model.head_kind == head
    assert loaded.model.encoder.config == model.encoder.config
    with torch.no_grad():
        before = model(values, pad, rpeaks)
        after = loaded.model(values, pad, rpeaks)
    for task in CLASSES:
        assert torch.equal(before[task], after[task]), task


def test_bundle_file_is_safetensors_with_config_metadata(tmp_path: Path) -> None:
    """Weights are safetensors (8-byte little-endian header length, JSON header) and carry
    the architecture and contract version, so they load on their own."""
    from safetensors import safe_open

    path, model, _ = _saved(tmp_path)
    data = path.read_bytes()
    (n,) = struct.unpack("<Q", data[:8])
    assert 8 + n <= len(data)
    header = json.loads(data[8 : 8 + n])
    assert "config" in header["__metadata__"]
    with safe_open(str(path), framework="pt") as f:
        config = json.loads(f.metadata()["config"])
        names = set(f.keys())
    assert names == set(model.state_dict())
    assert config["encoder"] == model.encoder.config.to_dict()
    assert config["head"] == "hug"
    assert config["classes"] == CLASSES
    assert config["contract"] == contract.CONTRACT_VERSION


def test_options_added_later_are_written_only_when_set() -> None:
    """A model that does not use the RR options writes the config it wrote before they existed,
    so re-exporting it gives the same file and SHA-256; a model that uses them keeps them."""
    from ecgviewer.ml.beats import EncoderConfig

    plain, rr, both = EncoderConfig(), EncoderConfig(rr=True), EncoderConfig(rr=True, rr_logits=True)
    assert not {"rr", "rr_logits"} & set(plain.to_dict())
    assert rr.to_dict()["rr"] is True and "rr_logits" not in rr.to_dict()
    for c in (plain, rr, both):
        assert EncoderConfig.from_dict(c.to_dict()) == c


def test_bundle_card_sha256_is_checked(tmp_path: Path) -> None:
    """A card that does not describe these weights must not be shown next to them."""
    path, _, digest = _saved(tmp_path)
    write_card(path, {"weights_sha256": "0" * 64, "note": "wrong"}, "# card\n")
    with pytest.raises(EcgError, match="SHA-256"):
        load_model(path)
    write_card(path, {"weights_sha256": digest, "note": "right"}, "# card\n")
    loaded = load_model(path)
    assert loaded.card is not None
    assert loaded.card["note"] == "right"
    assert path.with_suffix(".md").read_text() == "# card\n"
    # weights replaced after the card was written: the old card no longer matches
    save_model(path, _classifier(seed=2), CLASSES)
    with pytest.raises(EcgError):
        load_model(path)


def test_bundle_refuses_other_contract_version(tmp_path: Path) -> None:
    """Tokens from another preprocessing contract would silently give wrong predictions."""
    from safetensors import safe_open
    from safetensors.torch import load_file, save_file

    path, _, _ = _saved(tmp_path)
    with safe_open(str(path), framework="pt") as f:
        config = json.loads(f.metadata()["config"])
    config["contract"] = "0-other"
    other = tmp_path / "other.safetensors"
    save_file(load_file(str(path)), str(other), metadata={"config": json.dumps(config)})
    with pytest.raises(EcgError, match="contract"):
        load_model(other)
    for version in contract.READS_ALSO:  # an earlier contract this one reads: loads
        config["contract"] = version
        save_file(load_file(str(path)), str(other), metadata={"config": json.dumps(config)})
        assert load_model(other).config["contract"] == version


def _garbage_files(tmp_path: Path) -> dict[str, Path]:
    from safetensors.torch import save_file

    path, _, _ = _saved(tmp_path)
    data = path.read_bytes()
    files = {
        "text": b"this is not a model file at all\n" * 4,
        "empty": b"",
        "huge header length": struct.pack("<Q", 10**12) + b"{}",
        "truncated": data[: len(data) // 2],
    }
    out = {}
    for name, content in files.items():
        p = tmp_path / f"{name.replace(' ', '_')}.safetensors"
        p.write_bytes(content)
        out[name] = p
    foreign = tmp_path / "foreign.safetensors"
    save_file({"weight": torch.zeros(3)}, str(foreign), metadata={"format": "pt"})
    out["foreign safetensors"] = foreign
    return out


@pytest.mark.parametrize("kind", ["text", "empty", "huge header length", "truncated", "foreign safetensors"])
def test_bundle_garbage_file_raises_ecg_error(tmp_path: Path, kind: str) -> None:
    """A wrong or damaged file must give the user one readable line (EcgError), not a traceback."""
    path = _garbage_files(tmp_path)[kind]
    with pytest.raises(EcgError, match=path.name):
        load_model(path)


# --- CLEAR pretraining ----------------------------------------------------------------------------


def _pretrainer() -> tuple[ClearPretrainer, tuple[Tensor, Tensor, Tensor, Tensor, Tensor]]:
    torch.manual_seed(0)
    model = ClearPretrainer(_config(), DecoderConfig(dim=16, depth=1, heads=2, mask_ratio=0.8))
    values, _, rpeaks = _batch()
    pad = _some_padding()
    keep, masked = random_mask(0.8, torch.Generator().manual_seed(1))
    return model, (values, pad, rpeaks, keep, masked)


def _capture_prediction(model: ClearPretrainer) -> dict[str, Tensor]:
    captured: dict[str, Tensor] = {}

    def hook(module: torch.nn.Module, inputs: tuple[Tensor, ...], output: Tensor) -> None:
        output.retain_grad()
        captured["pred"] = output

    model.predict.register_forward_hook(hook)
    return captured


def test_clear_loss_counts_masked_real_tokens_only() -> None:
    """Reconstruction is scored on masked, non-padded tokens: visible tokens are given to the
    encoder and padded ones do not exist."""
    model, (values, pad, rpeaks, keep, masked) = _pretrainer()
    captured = _capture_prediction(model)
    loss = model.reconstruction_loss(values, pad, rpeaks, keep, masked)
    assert loss.ndim == 0
    assert bool(torch.isfinite(loss))
    assert float(loss.detach()) > 0
    loss.backward()
    pred = captured["pred"]
    assert pred.shape == (2, N_TOKENS, contract.TOKEN_LEN)
    grad = pred.grad
    assert grad is not None
    token_grad = grad.abs().sum(dim=-1)  # (B, 180)
    flat_pad = pad.flatten(1)
    scored = masked[None, :] & ~flat_pad
    # the mask and the padding overlap in both ways, so each rule is really exercised
    assert bool((masked[None, :] & flat_pad).any())
    assert bool((~masked[None, :] & ~flat_pad).any())
    assert bool((token_grad[:, ~masked] == 0).all())
    assert bool((token_grad[flat_pad] == 0).all())
    assert bool((token_grad[scored] > 0).all())
    # and the loss is the mean over exactly those tokens
    target, _ = normalise_tokens(values.flatten(1, 2))
    per_token = ((pred.detach() - target) ** 2).mean(dim=-1)
    torch.testing.assert_close(loss.detach(), per_token[scored].mean())


def test_clear_prediction_never_sees_masked_values() -> None:
    """Masked tokens are what the model must guess: their values may reach the targets only,
    never the predictions."""
    model, (values, pad, rpeaks, keep, masked) = _pretrainer()
    captured = _capture_prediction(model)
    values.requires_grad_(True)
    model.reconstruction_loss(values, pad, rpeaks, keep, masked)
    captured["pred"].sum().backward()
    assert values.grad is not None
    token_grad = values.grad.abs().sum(dim=-1).flatten(1)  # (B, 180)
    assert bool((token_grad[:, masked] == 0).all())
    visible_real = ~masked[None, :] & ~pad.flatten(1)
    assert bool((token_grad[visible_real] > 0).all())


def test_bundled_model_loads_with_its_card() -> None:
    """The shipped weights load without pickles, match their card's SHA-256 and the contract: the
    one they were trained with, or an earlier one whose card gives its figures under this one."""
    from ecgviewer.assets import model_path

    loaded = load_model(model_path())
    card = loaded.card
    assert card is not None and "not a medical device" in card["intended_use"]
    con = card["contract"]
    assert con["version"] == loaded.config["contract"]
    if con["version"] != contract.CONTRACT_VERSION:
        assert con["version"] in contract.READS_ALSO
        read = con["read_under"]
        assert read["version"] == contract.CONTRACT_VERSION
        for fold in ("fold9", "fold10"):
            assert set(read[fold]) >= {"super", "all"}
            assert all(
                r["difference_ci"][0] <= r["difference"] <= r["difference_ci"][1] for r in read[fold].values()
            )
        assert f"contract v{contract.CONTRACT_VERSION}" in model_path().with_suffix(".md").read_text()
    assert set(loaded.classes) == {"super", "all"} and len(loaded.classes["super"]) == 5
    for task, lab in card["labels"].items():
        assert set(lab["thresholds"]) == set(loaded.classes[task])
        assert 0.5 < lab["test"]["auroc"] <= 1 and lab["test"]["auroc_ci"][0] <= lab["test"]["auroc"]
    assert (model_path().with_suffix(".md")).read_text().startswith("# Model card")


def test_an_ensemble_reads_the_members_mean_probability(tmp_path: Path) -> None:
    """The ensemble's logit is the logit of its members' mean probability (stable for large
    logits), one class's ``logit`` matches ``forward``, and its file loads back as the same model
    with each member's architecture."""
    from ecgviewer.ml.model import Ensemble, mean_probability_logit

    z = torch.tensor([[3.0, -40.0, 80.0], [-1.0, -45.0, 90.0]])
    expected = torch.logit(torch.sigmoid(z.double()).mean(0)).float()
    torch.testing.assert_close(mean_probability_logit(z)[:2], expected[:2], rtol=1e-5, atol=1e-5)
    assert torch.isfinite(mean_probability_logit(z)).all()  # sigmoid(80) rounds to 1 in float
    members = [_classifier(seed=0), _classifier(seed=1, depth=2)]
    ens = Ensemble(members).eval()
    batch = _batch()
    with torch.no_grad():
        out = ens(*batch)
        each = [m(*batch) for m in members]
        for task in CLASSES:
            mean = torch.stack([torch.sigmoid(o[task]) for o in each]).mean(0)
            torch.testing.assert_close(torch.sigmoid(out[task]), mean, rtol=1e-5, atol=1e-6)
        torch.testing.assert_close(ens.logit(*batch, "super", 1), out["super"][:, 1])
    path = tmp_path / "ens.safetensors"
    save_model(path, ens, CLASSES)
    loaded = load_model(path)
    assert isinstance(loaded.model, Ensemble) and [
        m["encoder"]["depth"] for m in loaded.config["members"]
    ] == [1, 2]
    with torch.no_grad():
        torch.testing.assert_close(loaded.model(*batch)["all"], out["all"])
    from ecgviewer.ml.registry import describe

    info = describe(path)  # the model picker lists it
    assert (
        info is not None
        and info.error is None
        and info.architecture.startswith("ensemble of 2: 16-d, 1 layers")
    )
    with pytest.raises(ValueError, match="share"):
        Ensemble([members[0], Classifier(_config(), {"super": 5}, "hug")])
