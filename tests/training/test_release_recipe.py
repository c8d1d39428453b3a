"""The release run's parts that need no data: the pack's round trip, the torch tokeniser against
the contract's, the augmentations' invariants, layer-wise learning-rate decay, distillation
targets and the supervised CNN baselines' shapes and test-time windows."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from ecgviewer.ml import contract
from ecgviewer.ml.beats import EncoderConfig
from ecgviewer.ml.model import Classifier
from training.data import augment as A
from training.data import datasets as D
from training.data import pack
from training.supervised import baselines as B
from training.supervised.finetune import distil, layer_groups, teacher_probs, with_rr


def _records(n: int = 6, seed: int = 0) -> list[dict]:
    """Synthetic band-passed windows with R-peaks, derived leads that follow the formulas (but for
    one record, which does not), an absent lead and a short record."""
    rng = np.random.default_rng(seed)
    out = []
    for i in range(n):
        x = np.zeros((12, contract.WINDOW), dtype=np.float32)
        peaks = np.arange(60 + 7 * i, 990, 80 + 3 * i)[: contract.MAX_BEATS]
        for lead in (0, 1, *range(6, 12)):
            x[lead] = rng.normal(0, 0.05, contract.WINDOW)
            x[lead, peaks] += rng.uniform(0.5, 1.5)
        x[2:6] = pack.derived_from_limb(x)
        if i == 1:
            x[3] += 0.2  # a device that does not derive aVR from I and II
        present = np.ones(12, dtype=bool)
        if i == 2:
            present[7], x[7] = False, 0.0
        n_valid = 700 if i == 3 else contract.WINDOW
        x[:, n_valid:] = 0.0
        peaks = peaks[peaks < n_valid]
        rpeaks = np.full(contract.MAX_BEATS, -1, dtype=np.int64)
        rpeaks[: len(peaks)] = peaks
        values, pad, slots, _ = contract.tokenise_window(x[:, :n_valid], peaks, present)
        assert (slots == rpeaks).all()
        out.append({"values": values, "pad": pad, "fallback": False, "signal": x,
                    "length": n_valid, "present": present, "rpeaks": rpeaks})  # fmt: skip
    return out


@pytest.fixture
def cache(tmp_path) -> D.TokenCache:
    recs = _records()
    return D.write_cache(tmp_path / "cache", [str(i + 1) for i in range(len(recs))], "k", recs)


def test_pack_round_trip_is_within_half_a_step(cache, tmp_path):
    manifest = pack.pack_cache(cache, tmp_path / "pack", step_uv=5.0, parts=2)
    assert [p["records"] for p in manifest["parts"]] == [3, 3]
    back = pack.unpack(tmp_path / "pack", tmp_path / "caches")
    assert back.ids == cache.ids
    assert np.abs(np.asarray(back.signal) - np.asarray(cache.signal)).max() <= 0.0025 + 1e-6
    assert np.abs(np.asarray(back.values) - np.asarray(cache.values)).max() <= 0.0025 + 1e-6
    for name in ("pad", "rpeaks", "length", "present"):
        assert (np.asarray(getattr(back, name)) == np.asarray(getattr(cache, name))).all(), name
    assert pack.unpack(tmp_path / "pack", tmp_path / "caches").folder == back.folder  # built once


def test_pack_names_a_missing_part(cache, tmp_path):
    pack.pack_cache(cache, tmp_path / "pack", parts=2)
    (tmp_path / "pack" / "signal-1.xz").unlink()
    with pytest.raises(FileNotFoundError, match=r"signal-1\.xz"):
        pack.unpack(tmp_path / "pack", tmp_path / "caches")


def _batch(cache: D.TokenCache) -> tuple[torch.Tensor, ...]:
    return tuple(
        torch.from_numpy(np.array(getattr(cache, n))) for n in ("signal", "rpeaks", "present", "length")
    )


def test_torch_tokeniser_equals_the_contract(cache):
    values, pad, slots = A.tokenise_batch(*_batch(cache))
    assert torch.equal(values, torch.from_numpy(np.array(cache.values)))
    assert torch.equal(pad, torch.from_numpy(np.array(cache.pad)))
    assert torch.equal(slots, torch.from_numpy(np.array(cache.rpeaks)))


def test_augmented_records_are_tokenised_as_real_ones(cache):
    signal, rpeaks, present, length = _batch(cache)
    config = A.AugmentConfig(p=1.0, p_smooth=1.0, p_jitter=1.0, p_drop=1.0, p_shift=1.0)
    x, r, keep, n = A.augment(signal, rpeaks, present, length, config, torch.Generator().manual_seed(3))
    assert not torch.equal(x, signal)
    assert (keep <= present).all() and keep.any(1).all()  # leads only go missing, one always stays
    assert ((r >= 0).sum(1) > 0).all()  # never a record without beats
    values, pad, _ = A.tokenise_batch(x, r, keep, n)
    for i in range(len(x)):
        peaks = r[i][r[i] >= 0].numpy()
        assert (np.diff(peaks) > 0).all() and (peaks < n[i].item()).all()
        ref = contract.tokenise_window(x[i, :, : n[i]].numpy(), peaks, keep[i].numpy())
        np.testing.assert_array_equal(values[i].numpy(), ref[0])
        np.testing.assert_array_equal(pad[i].numpy(), ref[1])


def test_layer_decay_scales_lower_layers_down():
    model = Classifier(EncoderConfig(dim=16, depth=3, heads=2), {"super": 5})
    groups = layer_groups(model, 1e-3, 0.5)
    assert [g["lr"] for g in groups] == pytest.approx([1e-3 * 0.5**k for k in (4, 3, 2, 1, 0)])
    assert sum(len(g["params"]) for g in groups) == len(list(model.parameters()))
    head = {id(q) for q in model.heads.parameters()}
    assert head <= {id(q) for q in groups[-1]["params"]}


def test_the_rr_input_is_added_to_a_trained_classifier_unchanged_and_learns_as_a_head(cache):
    """``with_rr``: the grown classifier gives the same logits as the one it grew from (so a
    continued fine-tune starts from the shipped model), and its new RR layers learn at a rate of
    their own, not the embeddings' decayed one."""
    torch.manual_seed(0)
    model = Classifier(EncoderConfig(dim=16, depth=2, heads=2), {"super": 5, "all": 7}).eval()
    grown = with_rr(model)
    assert grown.encoder.config.rr and grown.encoder.rr is not None and with_rr(grown) is grown
    values, pad, rpeaks = (torch.from_numpy(np.array(getattr(cache, n))) for n in ("values", "pad", "rpeaks"))
    with torch.no_grad():
        before, after = model(values, pad, rpeaks), grown(values, pad, rpeaks)
    assert all(torch.equal(before[t], after[t]) for t in before)
    groups = layer_groups(grown, 1e-4, 0.5, fresh_lr=1e-3)
    fresh = [*grown.encoder.rr.parameters(), *grown.encoder.rhythm.parameters()]
    assert groups[-1]["lr"] == 1e-3 and [id(q) for q in groups[-1]["params"]] == [id(q) for q in fresh]
    assert sum(len(g["params"]) for g in groups) == len(list(grown.parameters()))


def test_the_rr_statistics_reach_the_logits_directly_from_zero(cache):
    """``with_rr(logits=True)`` grows an RR classifier by the direct RR term unchanged; once
    trained, the term adds its linear read of the window's RR statistics to the logit (here the
    log mean RR), it learns at the fresh rate, and a classifier with it refuses to run without
    R-peaks."""
    torch.manual_seed(0)
    rr = with_rr(Classifier(EncoderConfig(dim=16, depth=2, heads=2), {"super": 5, "all": 7}).eval())
    grown = with_rr(rr, logits=True)
    assert rr.rhythm_logits is None and grown.encoder.config.rr_logits and with_rr(grown, True) is grown
    values, pad, rpeaks = (torch.from_numpy(np.array(getattr(cache, n))) for n in ("values", "pad", "rpeaks"))
    with torch.no_grad():
        before, after = rr(values, pad, rpeaks), grown(values, pad, rpeaks)
        assert all(torch.equal(before[t], after[t]) for t in before)
        grown.rhythm_logits["super"].weight[2, 0] = 1.0  # the log mean RR raises class 2
        gained = grown.logit(values, pad, rpeaks, "super", 2) - rr.logit(values, pad, rpeaks, "super", 2)
        other = grown.logit(values, pad, rpeaks, "all", 0), rr.logit(values, pad, rpeaks, "all", 0)
        assert torch.equal(*other)  # the other task's term is still zero
    assert gained.abs().max() > 0.05  # windows with beats are there
    d = np.diff(np.array(cache.rpeaks), axis=1) / contract.FS
    for k, row in enumerate(np.array(cache.rpeaks)):
        ok = (row[1:] >= 0) & (row[:-1] >= 0)
        expected = np.log(d[k][ok].mean()) if ok.sum() >= 2 else 0.0
        assert gained[k].item() == pytest.approx(expected, abs=1e-4)
    groups = layer_groups(grown, 1e-4, 0.5, fresh_lr=1e-3)
    assert {id(q) for q in grown.rhythm_logits.parameters()} <= {id(q) for q in groups[-1]["params"]}
    with pytest.raises(ValueError, match="R-peaks"):
        grown(values, pad, None)


def test_teacher_probs_average_the_baselines(tmp_path):
    assert teacher_probs(tmp_path, "super", 4) is None
    for k, p in enumerate((0.2, 0.6)):
        np.savez(
            tmp_path / f"teacher-grid-arch{k}-super-1.0-0.npz",
            rows=np.array([0, 2]),
            probs=np.full((2, 5), p),
        )
    np.savez(tmp_path / "teacher-grid-arch0-super-0.1-0.npz", rows=np.array([1]), probs=np.ones((1, 5)))
    t = teacher_probs(tmp_path, "super", 4)
    assert t[[0, 2]] == pytest.approx(0.4) and np.isnan(t[[1, 3]]).all()


def test_distillation_blends_the_tasks_that_have_a_teacher(tmp_path):
    """``super`` has a teacher and is blended; ``all`` has none and keeps its labels; with no
    teacher at all, or one that misses a labelled row, distillation refuses."""
    rows = np.array([0, 2, 3])
    y = {"super": torch.ones(3, 5), "all": torch.ones(3, 7)}
    has = {"super": torch.tensor([True, True, False]), "all": torch.ones(3, dtype=torch.bool)}
    with pytest.raises(FileNotFoundError, match="teacher"):
        distil(dict(y), rows, has, tmp_path, 4, 0.5)
    np.savez(tmp_path / "teacher-grid-inception1d-super-1.0-0.npz", rows=np.array([0, 2]),
             probs=np.full((2, 5), 0.2, dtype=np.float32))  # fmt: skip
    out = dict(y)
    assert distil(out, rows, has, tmp_path, 4, 0.5) == ["super"]
    assert out["super"][:2] == pytest.approx(0.6) and out["all"] is y["all"]
    has["super"][2] = True  # row 3 is labelled but the teacher never saw it
    with pytest.raises(FileNotFoundError, match="miss training rows"):
        distil(dict(y), rows, has, tmp_path, 4, 0.5)


def test_a_distilled_card_names_its_teachers_and_keeps_its_explanations(tmp_path):
    """The card of a distilled model lists each teacher's predictions file with its SHA-256 and
    fold-9 aggregation, and says so in words; re-exporting the same weights keeps the explanation
    benchmark's section, new weights do not inherit it."""
    from types import SimpleNamespace

    from ecgviewer.weights import sha256
    from training.supervised.card import how_trained
    from training.supervised.export import kept_explanations, teachers

    f = tmp_path / "teacher-grid-inception1d-super-1.0-0.npz"
    np.savez(f, rows=np.array([0]), probs=np.ones((1, 5)), aggregation=np.array("max"))
    ctx = SimpleNamespace(run_dir=tmp_path)
    named = teachers(ctx, SimpleNamespace(classes={"super": [], "all": []}))
    assert named == [{"task": "super", "file": f.name, "sha256": sha256(f), "aggregation": "max"}]
    tr = {"finetune": {}, "recipe": {"distill": 0.5}, "teachers": named}
    assert f"`{f.name}` ({sha256(f)[:12]}\u2026, `super`)" in how_trained(tr) and "0.5 labels" in how_trained(
        tr
    )
    card = tmp_path / "m.json"
    card.write_text(json.dumps({"weights_sha256": "abc", "explanations": {"method": "occlusion"}}))
    assert kept_explanations(card, "abc") == {"explanations": {"method": "occlusion"}}
    assert kept_explanations(card, "def") == {} and kept_explanations(tmp_path / "none.json", "abc") == {}


@pytest.mark.parametrize("arch", sorted(B.ARCHS))
def test_baselines_classify_windows(arch):
    torch.manual_seed(0)
    model = B.ARCHS[arch](5, 1.0).eval()
    x = torch.randn(3, 12, contract.WINDOW)
    w = B.windows(x, contract.WINDOW)
    assert w.shape == (3, 7, 12, B.CROP)  # 2.5 s every 1.25 s over 10 s
    torch.testing.assert_close(w[:, -1], x[..., -B.CROP :])
    probs = B.predict_windows(model, x, B.Scaler(0.0, 1.0), torch.device("cpu"))
    assert probs["mean"].shape == (3, 5) and (probs["max"] >= probs["mean"] - 1e-6).all()
    one_by_one = B.predict_windows(model, x, B.Scaler(0.0, 1.0), torch.device("cpu"), batch=1)
    for aggregation, p in probs.items():  # how many records a pass takes changes no probability
        np.testing.assert_allclose(one_by_one[aggregation], p, rtol=1e-4, atol=1e-6)
    crop = B.crops(x, torch.tensor([1000, 600, 250]), torch.Generator().manual_seed(0))
    assert crop.shape == (3, 12, B.CROP)


def test_a_finished_baseline_is_not_trained_again(tmp_path):
    rows = [{"phase": "p", "epoch": e, "val_auroc": 0.5 + e / 10} for e in (1, 2, 2, 3)]
    (tmp_path / "metrics.jsonl").write_text("\n".join(map(json.dumps, rows)))
    assert B.finished(tmp_path, "p", 4) is None
    info = B.finished(tmp_path, "p", 3)
    assert [r["epoch"] for r in info["history"]] == [1, 2, 3] and info["best"] == pytest.approx(0.8)


def _frontal(angle_deg: float, n: int = 50) -> torch.Tensor:
    """(1, 12, n): a frontal-plane vector pointing at ``angle_deg`` (hexaxial: I at 0, aVF at
    90), its six limb leads by the identities, and chest leads 1 to 6 mV."""
    a = np.radians(angle_deg)
    hx, hy = np.cos(a), np.sin(a)
    lead_i, lead_ii = hx, hx / 2 + hy * np.sqrt(3) / 2
    x = np.zeros((1, 12, n), np.float32)
    x[0, 0], x[0, 1] = lead_i, lead_ii
    x[..., 2:6, :] = pack.derived_from_limb(x)
    x[0, 6:] = np.arange(1, 7, dtype=np.float32)[:, None]
    return torch.from_numpy(x)


def test_electrodes_placed_otherwise_turn_the_axis_and_move_the_chest_row():
    present = torch.ones(1, 12, dtype=torch.bool)

    def turn(x: torch.Tensor, deg: float, shift: float = 0.0) -> torch.Tensor:
        return A.placed(x, present, torch.tensor([np.radians(deg)]), torch.tensor([shift]))

    x = _frontal(0.0)
    assert torch.allclose(turn(x, 0.0), x, atol=1e-6)  # nothing moved, nothing changes
    # a vector along lead I turned by 60 degrees lies along lead II, and by 90 along aVF
    assert torch.allclose(turn(x, 60.0)[:, :6], _frontal(60.0)[:, :6], atol=1e-6)
    assert torch.allclose(turn(x, 90.0)[:, :6], _frontal(90.0)[:, :6], atol=1e-6)
    assert torch.allclose(turn(turn(x, 13.0), -13.0), x, atol=1e-6)
    turned = turn(_frontal(37.0), 10.0)
    np.testing.assert_allclose(turned[0, 2:6].numpy(), pack.derived_from_limb(turned.numpy())[0], atol=1e-6)
    # the chest row moved by a whole spacing reads each lead's neighbour, half of it between them;
    # the row's end is held
    np.testing.assert_allclose(turn(x, 0.0, 1.0)[0, 6:, 0].numpy(), [2, 3, 4, 5, 6, 6], atol=1e-6)
    np.testing.assert_allclose(turn(x, 0.0, -0.5)[0, 6:, 0].numpy(), [1, 1.5, 2.5, 3.5, 4.5, 5.5], atol=1e-6)
    # an absent lead stays absent; without lead I the limb leads stay, without V2 the chest row
    gone = present.clone()
    gone[0, 0] = gone[0, 7] = False
    y = x.clone()
    y[0, 0] = y[0, 7] = 0.0
    out = A.placed(y, gone, torch.tensor([0.5]), torch.tensor([0.5]))
    assert torch.equal(out, y)


def test_placement_is_drawn_only_where_asked(cache):
    signal, rpeaks, present, length = _batch(cache)

    def draw(config: A.AugmentConfig) -> tuple[torch.Tensor, ...]:
        return A.augment(signal, rpeaks, present, length, config, torch.Generator().manual_seed(5))

    before = draw(A.AugmentConfig(p=1.0))
    assert all(
        torch.equal(a, b) for a, b in zip(before, draw(A.AugmentConfig(p=1.0, rotate_deg=40.0)), strict=True)
    )
    placed = draw(A.AugmentConfig(p=1.0, p_place=1.0))
    assert not torch.equal(placed[0], before[0])


def test_placement_report_reads_moved_windows_as_training_does(cache):
    from training.context import Tensors
    from training.validate import placement

    torch.manual_seed(0)
    model = Classifier(EncoderConfig(dim=16, depth=1, heads=2), {"super": 5}).eval()
    tensors, rows = Tensors.of([cache]), np.arange(len(cache.length))
    still = placement.probabilities({"m": model}, tensors, rows, "super", 0.0, 0.0)["m"]
    turned = placement.probabilities({"m": model}, tensors, rows, "super", 20.0, 0.0)["m"]
    assert still.shape == turned.shape == (len(rows), 5) and not np.allclose(still, turned)
    result = {
        "models": {"a.safetensors": "0123456789ab"},
        "presets": {"a.safetensors": "release-cpu-placement-distill"},
        "tasks": {
            "super": {
                "records": 6,
                "classes": 5,
                "models": {
                    "a.safetensors": {
                        "auroc": 0.9,
                        "cases": {c: [-0.01, -0.02, 0.0] for c, *_ in placement.CASES},
                    }
                },
            }
        },
    }
    text = placement.markdown(result, "python -m training placement a.safetensors")
    assert "| `a.safetensors` | 0.9000 | -0.0100 [-0.0200, +0.0000] |" in text and "axis +20 deg" in text
    assert "`a.safetensors` (0123456789ab, `release-cpu-placement-distill`)" in text
