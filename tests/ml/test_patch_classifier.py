"""The viewer runs a patch-token (ECG-JEPA) classifier: its input, and every explanation of it
summed onto the contract's beat tokens (``ecgviewer.ml.inputs``)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from ecgviewer.io import load
from ecgviewer.ml import checks, contract, explain
from ecgviewer.ml.attention import attend
from ecgviewer.ml.bundle import save_model
from ecgviewer.ml.infer import Analyzer
from ecgviewer.ml.model import Classifier
from ecgviewer.ml.patches import PatchConfig
from tests.conftest import SAMPLE

CLASSES = {"super": ["CD", "HYP", "MI", "NORM", "STTC"]}


def _model_file(folder: Path, spec: contract.PatchSpec) -> Path:
    torch.manual_seed(0)
    model = Classifier(PatchConfig(dim=16, depth=2, heads=2, dropout=0.0, spec=spec.to_dict()), {"super": 5})
    path = folder / f"jepa-{spec.fs}.safetensors"
    save_model(path, model.eval(), CLASSES)
    return path


@pytest.fixture(scope="module")
def rec():
    return load(SAMPLE)  # 500 Hz, 10 s


@pytest.fixture(scope="module")
def analyzer(tmp_path_factory) -> Analyzer:
    return Analyzer(_model_file(tmp_path_factory.mktemp("models"), contract.PatchSpec()), device="cpu")


def _spans(tokens: contract.Tokens, w: int) -> np.ndarray:
    peaks = tokens.local_rpeaks[w][tokens.local_rpeaks[w] >= 0]
    return contract.beat_spans(peaks, contract.WINDOW)


def test_patch_input_is_the_band_passed_window_and_maps_samples_onto_beat_spans(analyzer, rec):
    analysis = analyzer.analyse(rec)
    mi, tokens = analysis.inputs, analysis.tokens
    assert mi.kind == "patches" and mi.values.shape == (1, 12, 50, 20)
    x, _ = contract.prepare(rec.signals, rec.fs, rec.leads)
    np.testing.assert_array_equal(mi.values[0].reshape(12, -1), x[:, : contract.WINDOW])
    spans = _spans(tokens, 0)
    counts = mi.beat_sums(np.ones(mi.values.shape))[0]  # samples lying on each beat
    np.testing.assert_array_equal(
        counts[:, : len(spans)], np.broadcast_to(spans[:, 1] - spans[:, 0], (12, len(spans)))
    )
    assert np.all(counts[:, len(spans) :] == 0)
    # the token layout puts a sample where the beat token holds the same signal sample
    laid = mi.token_samples(mi.values)
    np.testing.assert_allclose(laid, tokens.values, atol=1e-6)


def test_gradients_on_patches_add_up_per_lead(analyzer, rec):
    target = explain.Target("super", "NORM", CLASSES["super"].index("NORM"))
    e = explain.explain(analyzer, rec, analyzer.analyse(rec), target, "ig")
    assert e.samples.shape == (1, 12, 15, 96) and e.beats.shape == (1, 12, 15)
    np.testing.assert_allclose(e.samples.sum(-1), e.beats, atol=1e-5)
    np.testing.assert_allclose(e.beats.sum(-1) + e.outside, e.leads[None], atol=1e-9)
    gap = e.outside[0]
    assert np.abs(gap).sum() > 0  # this record's RR exceeds 0.96 s: samples between beat tokens
    total = e.leads.sum()
    expected = e.logit - e.baseline_logit
    assert total == pytest.approx(expected[0], abs=abs(e.convergence_delta[0]) + 1e-4)
    assert np.abs(e.beats[analyzer.analyse(rec).tokens.pad]).max() == 0.0


def test_occluding_a_beat_zeroes_exactly_its_samples(analyzer, rec):
    target = explain.Target("super", "MI", CLASSES["super"].index("MI"))
    e = explain.explain(analyzer, rec, analyzer.analyse(rec), target, "occlusion")
    mi = analyzer.analyse(rec).inputs
    lead, beat = contract.LEADS.index("V2"), 3
    values, pad, _ = mi.tensors(torch.device("cpu"))
    a, b = _spans(mi.tokens, 0)[beat]
    zeroed = values.clone().reshape(1, 12, -1)
    zeroed[0, lead, a:b] = 0.0
    with torch.inference_mode():
        logits = [
            analyzer.model(v.reshape(values.shape), pad)["super"][0, target.index] for v in (values, zeroed)
        ]
    assert e.beats[0, lead, beat] == pytest.approx(float(logits[0] - logits[1]), abs=1e-5)
    assert e.outside is None and e.samples is None


def test_faithfulness_and_randomisation_run_on_patches(analyzer, rec):
    target = explain.Target("super", "NORM", CLASSES["super"].index("NORM"))
    e = explain.explain(analyzer, rec, analyzer.analyse(rec), target, "gxi")
    sanity, faith = checks.check(analyzer, rec, analyzer.analyse(rec), e)
    assert sanity.n_beats == int((~analyzer.analyse(rec).tokens.pad).sum())
    assert faith.k == 3 and all(np.isfinite(faith.top_drops + faith.random_drops))


def test_attention_of_a_patch_encoder_on_the_beat_grid(analyzer, rec):
    maps = attend(analyzer, rec, analyzer.analyse(rec))
    pad = analyzer.analyse(rec).tokens.pad
    assert maps.readout == "lead tokens"
    assert maps.cls_to_beats.shape == (1, 2, 2, 12, 15) and maps.rollout.shape == (1, 12, 15)
    assert np.all(maps.rollout[pad] == 0) and np.all(maps.rollout >= 0)
    # a lead's tokens spend at most their whole weight on their own lead's beats; the rollout
    # distributes at most the readouts' unit mass
    assert np.all(maps.cls_to_beats.sum(-1) <= 1 + 1e-5) and np.all(maps.cls_to_beats.sum(-1) > 0)
    assert 0 < maps.rollout.sum() <= 1 + 1e-5


def test_the_papers_eight_leads_at_250_hz(tmp_path, rec):
    """JEPA's reference input: the app resamples to 250 Hz for the patches, leaves the four derived
    leads out and still explains on the 100 Hz beat grid."""
    analyzer = Analyzer(_model_file(tmp_path, contract.JEPA_REFERENCE), device="cpu")
    mi = analyzer.analyse(rec).inputs
    assert mi.values.shape == (1, 8, 50, 50)
    counts = mi.beat_sums(np.ones(mi.values.shape))[0]
    spans = _spans(mi.tokens, 0)
    lengths = (spans[:, 1] - spans[:, 0]) * 2.5
    v2 = contract.LEADS.index("V2")
    assert np.all(np.abs(counts[v2, : len(spans)] - lengths) <= 1)
    e = explain.explain(analyzer, rec, analyzer.analyse(rec), explain.Target("super", "NORM", 3), "gxi")
    derived = [contract.LEADS.index(lead) for lead in ("III", "aVR", "aVL", "aVF")]
    assert np.all(e.leads[derived] == 0) and np.abs(e.leads).sum() > 0
