"""Measurements: the delineator's waves, global fiducials, intervals, QTc, axes, user edits,
bad input, and the LUDB training/validation machinery (the validation itself is a command)."""

from __future__ import annotations

import math
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from ecgviewer.dsp.resample import to_rate
from ecgviewer.leads import STANDARD_LEADS
from ecgviewer.measure import beats as B
from ecgviewer.measure import intervals as I
from ecgviewer.measure import signal
from ecgviewer.measure.delineate import Delineator, Wave, waves
from ecgviewer.measure.pipeline import measure, to_json
from ecgviewer.measure.statements import statements


@pytest.fixture(scope="module")
def delineator() -> Delineator:
    return Delineator.bundled()


def _probs(labels: np.ndarray) -> np.ndarray:
    p = np.full((4, len(labels)), 0.02)
    p[labels, np.arange(len(labels))] = 0.94
    return p


def test_a_qrs_cut_by_either_end_of_the_span_is_no_beat():
    labels = np.zeros((2, 600), dtype=np.int64)
    labels[:, :12] = 2  # the span starts inside a QRS
    labels[:, 200:225] = 2
    labels[:, 400:425] = 2
    labels[:, 590:] = 2  # ... and ends inside one
    x = np.zeros((2, 600), dtype=np.float32)
    x[:, [5, 212, 410, 595]] = 1.0
    assert B.find(labels, x, np.array([True, True])).tolist() == [212, 410]


def test_a_gentle_detection_just_after_a_beat_is_its_t_wave_a_steep_one_is_a_beat():
    fs, n = signal.FS, 4 * signal.FS
    t = np.arange(n) / fs
    x = np.zeros((2, n), dtype=np.float32)

    def bump(at_s: float, width_s: float, mv: float) -> None:
        x[:] += mv * np.exp(-(((t - at_s) / width_s) ** 2))

    for at in (0.5, 1.5, 2.5):
        bump(at, 0.01, 1.5)  # narrow QRS: steep
    bump(0.5 + 0.24, 0.05, 0.8)  # a tall T wave 240 ms after, labelled QRS by mistake
    bump(1.5 + 0.3, 0.012, 1.2)  # a premature beat 300 ms after: as steep as a QRS
    bump(2.5 + 0.4, 0.05, 0.8)  # a gentle wave 400 ms after: past Pan and Tompkins' 360 ms
    r = np.round(np.array([0.5, 0.74, 1.5, 1.8, 2.5, 2.9]) * fs).astype(np.int64)
    kept = B.without_t_waves(x, r, np.array([True, True]))
    assert (kept / fs).round(2).tolist() == [0.5, 1.5, 1.8, 2.5, 2.9]
    assert B.without_t_waves(x, r[:1], np.array([True, True])).tolist() == r[:1].tolist()


def test_a_minute_of_bigeminy_counts_the_reference_s_beats_not_the_pvcs_t_waves(shared, delineator, tmp_path):
    """MIT-BIH 119's first minute: two PVCs' tall T waves were labelled QRS 208 ms after R, and
    the measurements said 67 beats, 21 of them premature."""
    import wfdb

    from ecgviewer.io import load
    from ecgviewer.measure.pipeline import measure_recording
    from tests.review import SIXTY, sixty_seconds

    if not (shared / "mitdb" / f"{SIXTY}.hea").is_file():
        pytest.skip("MIT-BIH not in ../shared")
    m = measure_recording(load(sixty_seconds(shared, tmp_path)), delineator)
    ann = wfdb.rdann(str(shared / "mitdb" / SIXTY), "atr", sampto=60 * 360)
    ref = np.array([s / 360 for s, y in zip(ann.sample, ann.symbol, strict=True) if y in "NV"])
    assert len(m.r_times) == len(ref) == 65
    assert np.abs(np.asarray(m.r_times)[:, None] - ref[None]).min(axis=1).max() < 0.15
    # the beats the beat list calls ventricular are the reference's PVCs, and are stated so
    pvc = np.array([s / 360 for s, y in zip(ann.sample, ann.symbol, strict=True) if y == "V"])
    called = np.asarray(m.ventricular_s)
    assert len(called) == len(pvc) and np.abs(called[:, None] - pvc[None]).min(axis=1).max() < 0.15
    found = {st.criterion.code: st for st in statements(m)}
    assert found["PVC"].values["beats called ventricular"].startswith(f"{len(pvc)}, at ")
    assert "PRC(S)" not in found  # every early beat is one of them
    assert to_json(m)["ventricular_s"] == list(m.ventricular_s)
    # a span ending 0.3 s after a PVC: that beat, its T wave cut and no RR after it, is not named
    from ecgviewer.recording import crop

    cut = measure_recording(crop(load(sixty_seconds(shared, tmp_path)), 0.0, pvc[1] + 0.3), delineator)
    assert len(cut.ventricular_s) == 1 and abs(cut.ventricular_s[0] - pvc[0]) < 0.15


def test_waves_from_labels_edges_merging_and_minimum_length():
    lab = np.zeros(200, dtype=int)
    lab[20:45] = 2  # QRS of 25 samples = 100 ms
    lab[46:50] = 2  # a 1-sample gap (4 ms) < MERGE_MS: same QRS
    lab[100:102] = 1  # 8 ms "P": shorter than MIN_MS, dropped
    lab[120:180] = 3
    out = waves(_probs(lab))
    assert [w.kind for w in out] == ["QRS", "T"]
    qrs = out[0]
    assert qrs.on == pytest.approx(20.0, abs=0.05) and qrs.off == pytest.approx(49.0, abs=0.05)
    # The edge sits where the wave's probability crosses 0.5 (0.8 of the way from 119 to 120),
    # shifted half a sample so that a crossing midway gives the first labelled sample.
    p = _probs(lab)
    p[3, 119], p[3, 120] = 0.1, 0.6
    t = next(w for w in waves(p) if w.kind == "T")
    assert t.on == pytest.approx(119.8 + 0.5, abs=1e-6)


@pytest.mark.parametrize("n", [1000, 2501, 7])
def test_the_frozen_unet_computes_what_the_module_computes(n):
    """Folded batch norm and channels-last 2-D convolutions change the arithmetic, not the
    result, at any length (including ones the pooling must pad)."""
    import torch

    from ecgviewer.measure.unet import UNet1d, UNetConfig

    torch.manual_seed(0)
    model = UNet1d(UNetConfig(widths=(8, 12, 16), kernel=5))
    for bn in (m for m in model.modules() if isinstance(m, torch.nn.BatchNorm1d)):
        bn.running_mean.uniform_(-0.5, 0.5)  # statistics a trained model would have
        bn.running_var.uniform_(0.5, 2.0)
        bn.weight.data.uniform_(0.5, 1.5)
        bn.bias.data.uniform_(-0.2, 0.2)
    model.eval()
    x = torch.randn(3, 2, n)
    with torch.inference_mode():
        expected, got = model(x), model.frozen()(x)
    assert got.shape == expected.shape == (3, 4, n)
    assert torch.allclose(got, expected, atol=1e-4, rtol=1e-4)


def test_labels_are_the_most_probable_class_of_each_sample(delineator):
    """``labels`` skips the softmax, not the answer: the argmax of ``probabilities``."""
    from ecgviewer.io import load
    from tests.conftest import SAMPLE

    rec = load(SAMPLE)
    x = signal.prepare(rec.signals[:3], rec.fs)
    labels = delineator.labels(x)
    assert labels.shape == x.shape
    assert (labels == delineator.probabilities(x).argmax(axis=1)).all()
    assert set(np.unique(labels)) == {0, 1, 2, 3}


def test_the_8_bit_form_labels_the_sample_as_the_float_form_does(delineator):
    """The beat list's 8-bit delineator (bundled ranges) agrees with the float one on nearly every
    sample of the bundled recording, which it was not calibrated on, and finds the same beats."""
    from ecgviewer.io import load
    from tests.conftest import SAMPLE

    fast = delineator.int8()
    assert fast is not delineator and fast.in_int8 and fast.int8() is fast
    x = signal.prepare(load(SAMPLE).signals, 500)
    expected, got = delineator.labels(x), fast.labels(x)
    assert (got == expected).mean() > 0.99
    present = np.ones(len(x), bool)
    assert B.find(got, x, present).tolist() == B.find(expected, x, present).tolist()


def test_8_bit_ranges_for_other_weights_are_refused_and_none_mean_float(tmp_path, delineator):
    import json
    import shutil

    from ecgviewer.assets import delineator_path
    from ecgviewer.errors import EcgError
    from ecgviewer.measure.delineate import int8_path
    from ecgviewer.measure.unet import Int8UNet

    weights = tmp_path / "d.safetensors"
    shutil.copy(delineator_path(), weights)
    shutil.copy(delineator_path().with_suffix(".json"), weights.with_suffix(".json"))
    plain = Delineator.load(weights)  # no ranges beside it: the beat list reads in float
    assert plain.int8_ranges is None and plain.int8() is plain
    doc = json.loads(int8_path(delineator_path()).read_text())
    int8_path(weights).write_text(json.dumps({**doc, "weights_sha256": "0" * 64}))
    with pytest.raises(EcgError, match=r"do not match the SHA-256 in d\.int8\.json"):
        Delineator.load(weights)
    with pytest.raises(ValueError, match="not this network's"):
        Int8UNet(delineator.model, {"down.0.1": [0.0, 1.0]})


def test_a_beat_takes_no_t_wave_from_the_next_beat():
    """At fast rates the median window holds the next beat; a T found only after its QRS is not
    this beat's (a 1-lead tachycardia once gave a QT of 700 ms)."""
    r = 125
    beat = [Wave("QRS", 113, 140), Wave("QRS", 218, 245), Wave("T", 260, 280)]
    f = I.lead_fiducials(beat, r)
    assert f["qrs_on"] is not None and f["t_off"] is None
    f = I.lead_fiducials([*beat, Wave("T", 160, 200)], r)
    assert f["t_off"] == pytest.approx((200 - r) * 1000 / signal.FS)
    # and no P from before the previous beat's QRS
    early_p = [Wave("P", 20, 40), Wave("QRS", 50, 70), Wave("QRS", 113, 140)]
    assert I.lead_fiducials(early_p, r)["p_on"] is None


@pytest.mark.parametrize(
    ("formula", "rr", "expected"),
    [
        ("Bazett", 0.64, 500.0),
        ("Fridericia", 0.512, 500.0),
        ("Framingham", 0.64, 400 + 154 * 0.36),
        ("Hodges", 0.64, 400 + 1.75 * (60 / 0.64 - 60)),
        ("Bazett", 1.0, 400.0),
    ],
)
def test_qtc_formulas(formula, rr, expected):
    assert I.QTC_FORMULAS[formula](400.0, rr) == pytest.approx(expected)


def _median_with_vector(angle_deg: float) -> np.ndarray:
    """Limb-lead median beats whose QRS area is the projection of one frontal heart vector."""
    med = np.zeros((12, B.PRE + B.POST), dtype=np.float32)
    a, b = B.PRE - 10, B.PRE + 10
    for i, lead in enumerate(STANDARD_LEADS):
        if lead in I.LIMB_FRAME:
            direction, gain = I.LIMB_FRAME[lead]
            med[i, a:b] = gain * math.cos(math.radians(angle_deg - direction))
    return med


@pytest.mark.parametrize("angle", [-75.0, 0.0, 45.0, 110.0, 170.0])
def test_frontal_axis_recovers_the_vector(angle):
    med = _median_with_vector(angle)
    present = np.ones(12, dtype=bool)
    on, off = -10 * 1000 / signal.FS, 9 * 1000 / signal.FS
    assert I.frontal_axis(med, STANDARD_LEADS, present, on, off) == pytest.approx(angle, abs=1.0)
    only_one = np.array([lead == "I" for lead in STANDARD_LEADS])
    assert I.frontal_axis(med, STANDARD_LEADS, only_one, on, off) is None


def test_global_fiducials_second_earliest_and_wave_presence():
    per_lead = [dict.fromkeys(I.FIDUCIALS) for _ in range(12)]
    for i, f in enumerate(per_lead):
        f.update(qrs_on=-50.0 + i, qrs_off=40.0 + i, t_on=150.0, t_off=380.0 - i)
    per_lead[0]["p_on"], per_lead[0]["p_off"] = -200.0, -100.0  # P in one lead of 12 only
    fid, missing = I.global_fiducials(per_lead, 12)
    assert fid["qrs_on"] == -49.0 and fid["qrs_off"] == 50.0 and fid["t_off"] == 379.0
    assert missing == ["p"] and fid["p_on"] is None


@pytest.fixture(scope="module")
def ludb(shared: Path):
    root = shared / "ludb"
    if not root.is_dir():
        pytest.skip("LUDB not found in the shared data")
    from training.data import ludb as L

    return root, L


def test_reference_follows_the_cardiologists_marks(ludb):
    root, L = ludb
    rec = L.load(root, 1)
    from training.validate.measurements import reference

    lead_ii = reference(rec, [1])
    every = reference(rec, list(range(12)))
    # LUDB record 1, first marked beat: lead II QRS 644-682; I, V1 and V5 start at 641.
    assert (lead_ii[0]["qrs_on"], lead_ii[0]["qrs_off"]) == (644, 682)
    assert every[0]["qrs_on"] == min(w[1] for lead in rec.waves for w in lead[:3] if w[0] == "QRS")
    assert every[0]["qrs_off"] >= lead_ii[0]["qrs_off"]
    labels = L.labels(rec, signal.FS, 2500)
    assert labels[1, round(662 / 2)] == 2 and labels[1, 0] == -1  # QRS peak; unmarked start


def test_measurements_on_a_ludb_record(ludb, delineator):
    """Machinery check on a record the bundled model was trained on (not a validation: that is
    ``python -m training measurements``, held-out folds only)."""
    root, L = ludb
    from training.validate.measurements import compare

    rec = L.load(root, 2)
    m = measure(rec.signals, rec.fs, STANDARD_LEADS, delineator)
    diff = compare(rec, m, [1], m.lead_fiducials[1])  # lead II against lead II's marks
    assert abs(diff["qrs"]) < 15 and abs(diff["pr"]) < 15 and abs(diff["qt"]) < 30, diff
    hr = m.values["hr"].value
    rr_ann = np.diff([w[1] for w in rec.waves[1] if w[0] == "QRS"]).mean() / rec.fs
    assert hr == pytest.approx(60 / rr_ann, rel=0.05)
    assert m.values["qtc_bazett"].value == pytest.approx(
        m.values["qt"].value / math.sqrt(m.values["rr"].value / 1000), abs=0.2
    )
    doc = to_json(m)
    assert doc["values"]["qrs"]["unit"] == "ms" and doc["fiducials_ms"]["qrs_on"] < 0


def test_a_qt_as_long_as_the_rr_is_not_given(ludb, delineator):
    """A T wave found ending after the next beat began (fast atrial fibrillation) gives no QT and
    no QTc, with the reason, and so no prolonged-QTc statement; a user's own mark is kept."""
    root, L = ludb
    rec = L.load(root, 2)
    m = measure(rec.signals, rec.fs, STANDARD_LEADS, delineator)
    qt = m.values["qt"].value
    assert qt is not None and qt < m.values["rr"].value
    fast = replace(m, values={**m.values, "rr": I.Value(qt - 10, "ms")})
    v = I.values(fast)
    assert v["qt"].value is None and "next beat" in v["qt"].reason
    assert v["qtc_bazett"].value is None and "next beat" in v["qtc_bazett"].reason
    assert "LNGQT" not in [s.criterion.code for s in statements(replace(fast, values=v), "male")]
    assert v["qrs"] == m.values["qrs"]
    marked = I.with_fiducials(fast, t_off=fast.fiducials["t_off"] + 4)
    assert marked.values["qt"].value == pytest.approx(qt + 4, abs=0.11)


def test_a_user_edit_moves_dependent_values_only(ludb, delineator):
    root, L = ludb
    rec = L.load(root, 2)
    m = measure(rec.signals, rec.fs, STANDARD_LEADS, delineator)
    moved = I.with_fiducials(m, qrs_on=m.fiducials["qrs_on"] - 10)
    assert moved.edited == {"qrs_on"}
    assert moved.values["qrs"].value == pytest.approx(m.values["qrs"].value + 10, abs=0.11)
    assert moved.values["qrs"].edited and moved.values["pr"].edited and moved.values["qt"].edited
    assert moved.values["p"] == m.values["p"] and not moved.values["p"].edited
    assert I.with_fiducials(moved, qrs_on=m.fiducials["qrs_on"]).edited == frozenset()
    with pytest.raises(ValueError, match="unknown"):
        I.with_fiducials(m, r_peak=0.0)


def test_paced_and_fibrillation_records_say_what_is_not_measured(ludb, delineator):
    root, L = ludb
    paced = L.load(root, 8)  # ventricular pacing (LUDB diagnoses), two paced beats in these 10 s
    m = measure(paced.signals, paced.fs, STANDARD_LEADS, delineator)
    assert sum(m.paced) == 2 and not m.paced_rhythm  # the conducted majority is measured ...
    assert [why for why, p in zip(m.beat_reasons, m.paced, strict=True) if p] == [B.PACED_REASON] * 2
    assert m.values["qrs"].value is not None and not m.values["qrs"].paced  # ... without the paced two
    assert m.values["hr"].value is not None
    assert not any("not recognised" in n for n in m.notes)
    # where spikes cannot be seen (one lead, a low rate), or only with two leads' agreement
    # (here V1 shows record 8's spikes too faintly), the measurement says so
    two = [STANDARD_LEADS.index("II"), STANDARD_LEADS.index("V1")]
    m = measure(paced.signals[two], paced.fs, ["II", "V1"], delineator)
    assert m.values["qrs"].value is not None
    assert any("looked for in 2 leads only" in n for n in m.notes)
    m = measure(paced.signals[two[:1]], paced.fs, ["II"], delineator)
    assert any("paced beats are not recognised here" in n and "not 1" in n for n in m.notes)
    m = measure(to_rate(paced.signals, paced.fs, 128.0), 128.0, STANDARD_LEADS, delineator)
    assert any("not recognised here" in n and "not 128 Hz" in n for n in m.notes)
    af = L.load(root, 38)  # atrial fibrillation
    m = measure(af.signals, af.fs, STANDARD_LEADS, delineator)
    assert m.values["pr"].value is None and "P wave" in m.values["pr"].reason
    assert any("P wave" in n for n in m.notes)
    assert m.values["qrs"].value is not None


def test_bad_input_gives_reasons_not_numbers(delineator, ludb):
    flat = np.zeros((12, 5000), dtype=np.float32)
    m = measure(flat, 500.0, STANDARD_LEADS, delineator)
    assert all(v.value is None for v in m.values.values())
    assert "no usable lead" in m.values["qrs"].reason
    rng = np.random.default_rng(0)
    noise = rng.normal(0, 0.02, (12, 5000)).astype(np.float32)
    m = measure(noise, 500.0, STANDARD_LEADS, delineator)
    assert m.values["qrs"].value is None and m.values["qrs"].reason
    root, L = ludb
    rec = L.load(root, 2)
    r = [w for w in rec.waves[1] if w[0] == "QRS"][1]
    one = rec.signals[:, r[1] - 250 : r[2] + 250]  # one beat and 0.5 s either side
    m = measure(one, rec.fs, STANDARD_LEADS, delineator)
    assert len(m.r_times) == 1
    assert m.values["hr"].value is None and "fewer than two beats" in m.values["hr"].reason
    assert m.values["qtc_bazett"].value is None and m.values["qrs"].value is not None


def test_stated_noise_levels():
    from training.data import noise

    rng = np.random.default_rng(1)
    x = noise.stated("muscle", (12, 5000), 500.0, rng)
    assert np.sqrt(np.mean(x**2)) == pytest.approx(noise.LEVELS["muscle"]["rms_mv"], rel=1e-3)
    hum = noise.stated("mains", (1, 5000), 500.0, rng)
    assert np.abs(hum).max() == pytest.approx(noise.LEVELS["mains"]["amplitude_mv"], rel=0.05)
    spectrum = np.abs(np.fft.rfft(hum[0]))
    assert np.fft.rfftfreq(5000, 1 / 500)[spectrum.argmax()] == pytest.approx(50.0)


def test_tiny_delineator_training_exports_a_loadable_model(ludb, tmp_path):
    root, _ = ludb
    from training.supervised.delineator import TINY, run

    summary = run(root, tmp_path / "run", tmp_path / "d.safetensors", TINY, limit=6)
    assert set(summary["folds"]) == {"0", "1", "2", "3", "4"} and summary["bundled"]["records"] == 6
    fold0 = (tmp_path / "run" / "fold0.safetensors").stat().st_mtime_ns
    again = run(root, tmp_path / "run", None, TINY, limit=6)  # a stopped run resumes: folds kept
    assert again["folds"] == summary["folds"]
    assert (tmp_path / "run" / "fold0.safetensors").stat().st_mtime_ns == fold0
    # a recipe too long for one session: one fold trained, then measured on the records it held out
    one = run(root, tmp_path / "one", None, TINY, limit=6, folds=(1,))
    assert set(one["folds"]) == {"1"} and not (tmp_path / "one" / "fold0.safetensors").exists()
    # the validation's tables per lead count and rate, on the tiny fold models
    from training.validate import measurements, waves

    rows = measurements.run(
        root, tmp_path / "run", tmp_path / "m.jsonl", ("clean", "leads=1", "fs=125"), limit=2
    )
    assert [len(r["per_lead"]) for r in rows] == [12, 1, 12] * 2
    held = measurements.run(root, tmp_path / "one", tmp_path / "m1.jsonl", ("clean",), limit=6, held_out=(1,))
    assert [r["record"] for r in held] == [2]  # fold 1 of records 1-6 (record n in fold (n - 1) % 5)
    wave_rows = waves.run(root, tmp_path / "run", tmp_path / "w.jsonl", ("leads=2",), limit=2)
    assert {r["lead"] for r in wave_rows} == {1, 6}
    from training.validate import per_beat

    beat_rows = per_beat.run(root, tmp_path / "run", tmp_path / "b.jsonl", ("leads=2,fs=128",), limit=2)
    assert [r["condition"] for r in beat_rows] == ["leads=2,fs=128"] * 2 and beat_rows[0]["marked"] > 5
    text = measurements.write(rows, summary, tmp_path / "M.md", [], wave_rows, beat_rows).read_text()
    assert "### Global (every lead there is), leads=1" in text and "## Wave by wave" in text
    assert "## Beat by beat" in text and "| leads=2,fs=128 |" in text
    assert "| condition | beat list's kind | fiducial |" in text  # by kind (the tiny model finds none)
    model = Delineator.load(tmp_path / "d.safetensors")
    assert model.meta["trained_on"] == [1, 2, 3, 4, 5, 6]
    probs = model.probabilities(np.zeros((12, 500), np.float32))
    assert probs.shape == (12, 4, 500) and np.allclose(probs.sum(axis=1), 1, atol=1e-5)
    bad = tmp_path / "bad.safetensors"
    bad.write_bytes(b"not a model")
    with pytest.raises(Exception, match="not an ecgviewer delineator"):
        Delineator.load(bad)


def test_no_rr_is_taken_across_a_stretch_too_noisy_to_read():
    t = np.array([0.0, 1.0, 2.0, 6.0, 7.0, 8.0])  # 2-6 s unread: beats there not counted
    values, notes = I.rate(t, [(2.5, 5.5)])
    assert values["hr"].value == 60 and values["rr"].value == 1000 and notes == []
    assert I.rate(t)[0]["hr"].value < 60  # the 4 s RR would be a pause
    alone = I.rate(np.array([1.0, 6.0]), [(2.0, 5.0)])[0]["hr"]
    assert alone.value is None and alone.reason.startswith("fewer than two beats in a row")


def test_no_ventricular_beat_is_named_where_the_measurement_counts_no_beat(delineator):
    """The review's noise burst (10 s of noise four times the QRS's size from 15 s), its first 30 s
    measured as the window measures a page: the span too noisy to read counts no beat, so the
    "ventricular premature complexes" statement names none there either (the beat list of a 30 s
    span reads the burst's detections as beats, ventricular ones among them)."""
    from ecgviewer.measure.pipeline import measure_recording
    from ecgviewer.recording import crop
    from training.validate.synthetic_beats import drowned, sample_beat

    rec = drowned(sample_beat(), at_s=15.0, for_s=10.0, size=4.0)[0]
    m = measure_recording(crop(rec, 0.0, 30.0), delineator)
    assert m.too_noisy and m.ventricular_s is not None
    assert not [t for t in m.ventricular_s for a, b in m.too_noisy if a <= t <= b]


def test_premature_is_against_the_rrs_around_not_the_spans_median():
    """A rate that drifts from 60 to 90 bpm over minutes has no premature beat (against the span's
    median RR its faster half would); a beat 30 % early among them is one, and an RR across a
    gap where noise may hide beats is none."""
    rr = np.linspace(1000, 667, 120)
    rr[80] *= 0.7  # early, and the pause after it
    rr[81] *= 1.3
    rr[100] *= 0.6  # early too, but across a gap (below)
    r = np.round(np.r_[0.5, 0.5 + np.cumsum(rr) / 1000] * signal.FS).astype(int)
    x = np.zeros((len(STANDARD_LEADS), r[-1] + signal.FS))
    qrs = np.exp(-0.5 * (np.arange(-10, 11) / 3) ** 2)
    for c in r:
        x[:, c - 10 : c + 11] += qrs
    present = np.ones(len(STANDARD_LEADS), bool)
    reasons = B.classify(x, r, present).reasons
    assert [i for i, why in enumerate(reasons) if why == B.PREMATURE_REASON] == [81, 101]
    gapped = np.where(np.arange(len(rr)) == 100, np.nan, np.diff(r) * 1000 / signal.FS)
    reasons = B.classify(x, r, present, rr_ms=gapped).reasons  # no RR is known across the gap
    assert [i for i, why in enumerate(reasons) if why == B.PREMATURE_REASON] == [81]
