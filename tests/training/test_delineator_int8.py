"""The delineator's 8-bit form: calibration beside the weights, the beat cache keyed on it, and
the comparison with the float form (on two records, as the command runs on all)."""

from __future__ import annotations

import json
import shutil
import warnings
from pathlib import Path

import numpy as np

from training.supervised import delineator_int8 as D8


def _copy_bundled(tmp_path: Path) -> Path:
    from ecgviewer.assets import delineator_path

    weights = tmp_path / "d.safetensors"
    shutil.copy(delineator_path(), weights)
    shutil.copy(delineator_path().with_suffix(".json"), weights.with_suffix(".json"))
    return weights


def test_calibration_writes_ranges_the_loader_builds_the_8_bit_form_from(tmp_path, shared):
    from ecgviewer.measure.delineate import Delineator, int8_path
    from ecgviewer.weights import sha256
    from training.supervised.beat_classifier import _key

    weights = _copy_bundled(tmp_path)
    before = _key(weights)
    out = D8.calibrate(weights, shared / "ludb", [1, 2])
    assert out == int8_path(weights) and out.name == "d.int8.json"
    doc = json.loads(out.read_text())
    assert doc["weights_sha256"] == sha256(weights) and doc["calibration"].startswith("LUDB records 1-2,")
    logits = doc["ranges"].pop("out.0")  # the last convolution's output, dequantised: no ReLU
    lo, hi = np.array(list(doc["ranges"].values())).T
    assert (hi > lo).all() and (lo == 0).all() and logits[0] < 0 < logits[1]  # the rest after ReLUs
    assert Delineator.load(weights).int8().in_int8
    assert _key(weights) != before  # beats found with other ranges are found again


def test_the_comparison_matches_beats_and_reports_each_fiducials_shift(tmp_path, shared):
    from ecgviewer.measure.delineate import int8_path

    weights = _copy_bundled(tmp_path)
    D8.calibrate(weights, shared / "ludb", [1, 2, 3])
    rows = D8.compare(weights, shared / "mitdb", ["101"])
    assert rows[0]["float"] > 1800 and rows[0]["matched"] >= rows[0]["float"] - 5
    marks = D8.against_marks(weights, shared / "ludb", [1, 2])
    assert {r["condition"] for r in marks} == set(D8.LUDB_CONDITIONS) and len(marks) == 4
    text = D8.report(rows, marks, json.loads(int8_path(weights).read_text()), "cmd", weights)
    assert "| qrs_on |" in text and "| leads=2,fs=250 | qrs_on |" in text
    assert f"delineator `{weights.name}`'s 8-bit form" in text and "bundled" not in text  # a copy is named


def test_the_two_forms_beats_are_matched_one_to_one_within_the_window():
    from training.validate.rpeaks import pairs

    assert pairs(np.array([0, 100, 300]), np.array([55, 90, 500]), 60) == [(0, 0), (1, 1)]
    assert pairs(np.array([0, 40]), np.array([20]), 30) == [(0, 0)]  # one beat is not matched twice


def test_the_8_bit_pooling_is_torchs_on_the_same_integers():
    """``unet._pool8`` (the larger integer of each pair) gives torch's quantized max pooling
    exactly, channels-last as the network's tensors are, and the float pooling while calibrating."""
    import torch

    from ecgviewer.measure import unet as U

    x = torch.randn(2, 16, 1, 64, generator=torch.Generator().manual_seed(0))
    x = x.contiguous(memory_format=torch.channels_last)
    with warnings.catch_warnings():  # torch's deprecation notice of its 8-bit tensors (pinned: it works)
        warnings.simplefilter("ignore")
        q = torch.quantize_per_tensor(x, 0.02, 3, torch.quint8)
    got, want = U._pool8(q), torch.nn.functional.max_pool2d(q, (1, 2))
    assert (got.q_scale(), got.q_zero_point()) == (want.q_scale(), want.q_zero_point())
    assert torch.equal(got.int_repr(), want.int_repr())
    assert got.is_contiguous(memory_format=torch.channels_last)
    assert torch.equal(U._pool8(x), U._pool2d(x))
