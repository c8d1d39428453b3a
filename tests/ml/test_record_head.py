"""The record head beside the encoder (``ml.record_head``): the bundled head, its features at the
encoder's rate, and what the app shows where it weighs in."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from ecgviewer.assets import model_path, record_head_path
from ecgviewer.dsp.resample import to_rate
from ecgviewer.io import load
from ecgviewer.leads import STANDARD_LEADS
from ecgviewer.measure.delineate import Delineator
from ecgviewer.ml.infer import Analyzer
from ecgviewer.ml.record_head import GROUPS, NAMES, RecordHead, recording_features
from ecgviewer.ml.wording import decision_text
from ecgviewer.recording import make_recording
from ecgviewer.sources import ArraySource
from ecgviewer.weights import read_card, sha256
from tests.conftest import SAMPLE


@pytest.fixture(scope="module")
def head() -> RecordHead:
    return RecordHead.bundled()


def test_the_bundled_head_reads_these_features_beside_the_bundled_encoder(head: RecordHead) -> None:
    card = read_card(record_head_path())  # checks the weights' SHA-256 too
    assert card is not None and head.meta["features"] == list(NAMES)
    assert head.meta["encoder_sha256"] == sha256(model_path())
    assert set(head.meta["surfaced"]) <= set(head.codes) and set(head.meta["thresholds"]) == set(head.codes)
    assert 0 <= head.weight <= 3 and card["weight"] == head.weight


def test_what_could_not_be_measured_is_read_as_the_training_records_median(head: RecordHead) -> None:
    p = head.probabilities(np.full(len(NAMES), np.nan))
    assert p.shape == (1, len(head.codes)) and np.all((p > 0) & (p < 1))
    enc = np.linspace(0.05, 0.95, len(head.codes))
    raw = replace(head, calibration=(1.0, 0.0))
    assert np.allclose(replace(raw, weight=0.0).combined(enc, p[0]), enc)
    # a head that says no more than the statement's prevalence leaves the encoder's probability,
    # calibrated as every sum is: a map that keeps each statement's ranking of records
    assert np.allclose(raw.combined(enc, raw.prior), enc)
    rising = np.repeat(np.linspace(0.05, 0.95, 19)[:, None], len(head.codes), axis=1)
    calibrated = head.combined(rising, np.broadcast_to(head.prior, rising.shape))
    assert head.calibration[0] > 0 and np.all(np.diff(calibrated, axis=0) > 0)


def test_the_head_names_the_groups_of_features_that_raise_it(head: RecordHead) -> None:
    """Occlusion by typical values: a record typical everywhere but V5's waves owes the head's
    departures from its typical reading to V5 alone, and every finding names at most that lead."""
    x = head.median.copy()
    assert all(np.allclose(v, 0.0) for v in head.by_group(x).values())
    assert all(not groups for groups in head.raising(x).values())
    v5 = list(GROUPS["V5"])
    x[v5] = head.median[v5] + 4 * head.scale[v5]  # each of V5's features 4 SDs above typical
    parts = head.by_group(x)
    assert all(np.allclose(parts[g], 0.0) for g in GROUPS if g != "V5")
    raised = head.raising(x)
    assert all(groups in ((), ("V5",)) for groups in raised.values())
    assert any(raised.values()) and sorted(GROUPS["rhythm"]) == list(range(len(GROUPS["rhythm"])))
    assert sorted(i for idx in GROUPS.values() for i in idx) == list(range(len(NAMES)))


def test_a_lead_the_recording_lacks_is_never_named_as_raising_a_finding(head: RecordHead) -> None:
    """A Holter's II and V1 (MIT-BIH's two leads): the ten leads it lacks are unmeasured, and have
    no part in what the head read, whatever the rest of the record; read as typical, their
    features would have counted as measured and taken a part."""
    x = head.median + 2 * head.scale[: len(NAMES)]  # the rhythm and both leads' waves far from typical
    lacking = [g for g in STANDARD_LEADS if g not in ("II", "V1")]
    for lead in lacking:
        x[list(GROUPS[lead])] = np.nan
    parts = head.by_group(x)
    assert all(np.allclose(parts[g], 0.0) for g in lacking)
    named = {g for groups in head.raising(x).values() for g in groups}
    assert named and named <= {"rhythm", "intervals", "II", "V1"}, named


def test_features_are_read_at_the_encoders_rate_whatever_the_recordings() -> None:
    """A 500 Hz recording's features are those of its 100 Hz resampling (the rate the head learnt)."""
    rec = load(SAMPLE)
    assert rec.fs == 500
    x = to_rate(rec.signals, rec.fs, 100)
    at_100 = make_recording(None, ArraySource(x), 100, list(rec.leads), "test")
    d = Delineator.bundled()
    a, b = recording_features(rec, d), recording_features(at_100, d)
    assert np.array_equal(a, b, equal_nan=True) and np.isfinite(a[NAMES.index("hr")])
    assert np.isfinite(a[NAMES.index("V5_r")]) and np.isfinite(a[NAMES.index("qrs_ms")])


def test_the_heads_beat_list_is_read_by_the_measurements_delineator() -> None:
    """The head was fitted on the measurement delineator's waves; the beat list's own is a lighter
    network for long recordings (on fold 9 its waves cost the head's `form` AUROC 0.004): the
    features are read with the measurements' one, loaded once."""
    from ecgviewer.ml.record_head import measuring_delineator

    d = measuring_delineator()
    assert d is measuring_delineator()
    widths = (d.meta["config"]["widths"], Delineator.for_beats().meta["config"]["widths"])
    assert widths[0] == Delineator.bundled().meta["config"]["widths"] and widths[0] != widths[1]
    rec = load(SAMPLE)
    measured = recording_features(rec, Delineator.bundled())
    assert np.array_equal(recording_features(rec), measured, equal_nan=True)


def test_the_app_shows_the_statements_with_the_measured_beats_weighed_in(head: RecordHead) -> None:
    analyzer = Analyzer(device="cpu")
    assert analyzer.record_head is not None
    preds = analyzer.analyse(load(SAMPLE)).predictions
    sr = preds.get("all", "SR")
    assert sr.record_head is not None
    encoder, beats = sr.record_head
    both = head.combined(np.array([encoder]), np.array([beats]), [head.codes.index("SR")])
    assert sr.probability == pytest.approx(float(both[0]))
    assert sr.threshold == head.meta["thresholds"]["SR"] and sr.surfaced == ("SR" in head.meta["surfaced"])
    assert "measured beats" in decision_text(sr)
    x = recording_features(load(SAMPLE), Delineator.bundled())
    assert sr.measured_by == head.raising(x)["SR"] and len(sr.measured_by) <= 3
    assert all(c.record_head is None for c in preds.tasks["all"] if c.code not in head.codes)
    hidden = {n.code for n in preds.not_reported}
    assert all(c.code in hidden for c in preds.tasks["all"] if c.code in head.codes and not c.surfaced)


def test_the_superclasses_are_read_off_their_statements_as_ptbxl_groups_them(head: RecordHead) -> None:
    """Each superclass is its likeliest diagnostic statement (the members are PTB-XL's statement
    table's, which the app groups findings by), mixed with the encoder's own as fold 9 chose; the
    mix cannot be given without the statements."""
    from ecgviewer import assets
    from ecgviewer.io.ptbxl import statement_groups

    if not head.superclasses:
        pytest.skip("the bundled head does not read the superclasses (fold 9 did not choose it)")
    groups = statement_groups(assets.statements_dir())
    classes = sorted(head.superclasses)
    assert head.mixes(classes) and not head.mixes(["NORM"]) and not head.applies(classes)
    for cls, members in head.superclasses.items():
        assert sorted(members) == sorted(c for c in head.codes if groups[c] == cls)
    rng = np.random.default_rng(0)
    statements = rng.uniform(0.01, 0.99, size=(4, len(head.codes)))
    read, member = head.read_off(classes, statements)
    for k, cls in enumerate(classes):
        at = [head.codes.index(c) for c in head.superclasses[cls]]
        assert np.allclose(read[:, k], statements[:, at].max(axis=1))
        assert all(head.codes[m] in head.superclasses[cls] for m in member[:, k])
    encoder = rng.uniform(0.01, 0.99, size=(4, len(classes)))
    fixed = head.mixed(encoder, np.broadcast_to(read[:1], read.shape))  # one reading: the encoder's order
    assert np.array_equal(np.argsort(fixed, axis=0), np.argsort(encoder, axis=0))
    w, (slope, intercept) = head.meta["super"]["weight"], head.meta["super"]["calibration"]
    z = w * np.log(read / (1 - read)) + (1 - w) * np.log(encoder / (1 - encoder))
    assert np.allclose(head.mixed(encoder, read), 1 / (1 + np.exp(-(slope * z + intercept))))
    with pytest.raises(ValueError, match="statements"):
        head.weighed(classes, encoder, statements)
    thresholds, shown = head.judged(classes, {}, set())
    assert thresholds == head.meta["super"]["thresholds"] and shown == set(head.meta["super"]["surfaced"])


def test_the_app_reads_each_superclass_off_its_likeliest_statement_too(head: RecordHead) -> None:
    """What the app shows for a superclass is the encoder's super head mixed with the likeliest of
    the superclass' statements (shown or not) as the findings table has them, with the head's
    thresholds and the measured groups of that statement."""
    if not head.superclasses:
        pytest.skip("the bundled head does not read the superclasses (fold 9 did not choose it)")
    preds = Analyzer(device="cpu").analyse(load(SAMPLE)).predictions
    for c in preds.tasks["super"]:
        assert c.record_head is not None and c.read_off in head.superclasses[c.code]
        members = {m: preds.get("all", m) for m in head.superclasses[c.code]}
        assert c.record_head[1] == pytest.approx(max(m.probability for m in members.values()))
        assert members[c.read_off].probability == pytest.approx(c.record_head[1])
        want = head.mixed(np.array([c.record_head[0]]), np.array([c.record_head[1]]))[0]
        assert c.probability == pytest.approx(float(want))
        assert c.threshold == head.meta["super"]["thresholds"][c.code]
        assert c.measured_by == members[c.read_off].measured_by
        assert f"statement {c.read_off} with the measured beats" in decision_text(c)


def test_a_recording_without_an_rr_interval_is_read_by_the_encoder_alone() -> None:
    """A flat recording has no beat: the head, which never met a record without an RR interval,
    stays out, and the statements are the encoder's with its card's thresholds."""
    analyzer = Analyzer(device="cpu")
    zeros = ArraySource(np.zeros((12, 5000), np.float32))
    flat = make_recording(None, zeros, 500, list(STANDARD_LEADS), "test")
    preds = analyzer.analyse(flat).predictions
    card = analyzer.loaded.card["labels"]["all"]
    sr = preds.get("all", "SR")
    assert sr.record_head is None and sr.threshold == card["thresholds"]["SR"]
    assert all(c.record_head is None for cs in preds.tasks.values() for c in cs)


def test_a_head_of_the_earlier_kind_is_refused_by_name(tmp_path) -> None:
    """A head file of perceptrons alone (session 113's kind) has no trees: loading it says so and
    names the file, rather than failing on a missing array."""
    import torch

    from ecgviewer.errors import EcgError
    from ecgviewer.weights import save_weights

    module = torch.nn.Module()
    for k in ("median", "mean", "scale", "prior", "m0_l0_weight", "m0_l0_bias"):
        module.register_buffer(k, torch.zeros(2))
    path = tmp_path / "record-old.safetensors"
    save_weights(path, module, "record_head", {"features": list(NAMES), "codes": ["SR"], "layers": 1,
                                               "members": 1, "weight": 1.0})  # fmt: skip
    with pytest.raises(EcgError, match=r"record-old\.safetensors.*earlier version"):
        RecordHead.load(path)
