"""Lead quality: a missing, flat, clipped or pure-noise lead is left out of the measurements
with its reason, and the other leads are measured as before."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.signal import butter, sosfilt

from ecgviewer.io import load
from ecgviewer.measure import quality as Q
from ecgviewer.measure.delineate import Delineator
from ecgviewer.measure.pipeline import measure, to_json
from ecgviewer.report.content import measurement_block
from tests.conftest import SAMPLE


@pytest.fixture(scope="module")
def clean():
    rec = load(SAMPLE)
    delineator = Delineator.bundled()
    return rec, delineator, measure(rec.signals, rec.fs, rec.leads, delineator)


def _lead(rec, name: str) -> int:
    return rec.leads.index(name)


def _emg(n: int, fs: float, rms: float, seed: int) -> np.ndarray:
    """Muscle-like noise: white noise band-passed to 20-100 Hz."""
    sos = butter(4, [20, 100], btype="band", fs=fs, output="sos")
    x = sosfilt(sos, np.random.default_rng(seed).normal(0, 1, n))
    return rms * x / x.std()


def test_missing_flat_and_clipped_leads_are_named_with_their_reason(clean):
    rec, _, _ = clean
    x = rec.signals.astype(np.float64).copy()
    x[_lead(rec, "V2")] = np.nan
    x[_lead(rec, "V3")] = 0.3
    v4 = x[_lead(rec, "V4")]
    x[_lead(rec, "V4")] = np.minimum(v4, v4.min() + 0.6 * np.ptp(v4))  # every R on the rail
    problems = Q.raw_problems(x, rec.fs, rec.leads)
    assert set(problems) == {"V2", "V3", "V4"}
    assert "every sample missing" in problems["V2"]
    assert problems["V3"].startswith("flat line")
    assert problems["V4"].startswith("clipped") and "upper limit" in problems["V4"]


def test_an_amplifier_settling_once_is_not_clipping(clean):
    """One long run at the rail (the first 300 ms) is a settling amplifier, not a clipped lead."""
    rec, _, _ = clean
    x = rec.signals.astype(np.float64).copy()
    i = _lead(rec, "I")
    x[i, : int(0.3 * rec.fs)] = x[i].min()
    assert Q.raw_problems(x, rec.fs, rec.leads) == {}


def test_noise_leads_are_left_out_and_the_rest_is_measured_as_before(clean):
    rec, delineator, before = clean
    x = rec.signals.astype(np.float64).copy()
    n = x.shape[1]
    x[_lead(rec, "V5")] = np.random.default_rng(0).normal(0, 0.2, n)
    x[_lead(rec, "II")] = _emg(n, rec.fs, 0.3, seed=1)
    m = measure(x, rec.fs, rec.leads, delineator)
    assert set(m.left_out) == {"II", "V5"}
    assert all(why.startswith("pure noise") for why in m.left_out.values())
    assert not m.present[[_lead(rec, "II"), _lead(rec, "V5")]].any()
    assert any(note.startswith("V5 left out: pure noise") for note in m.notes)
    assert to_json(m)["leads_left_out"] == m.left_out
    block = measurement_block(m, rec, "Bazett", "")
    assert "Left out: II (pure noise), V5 (pure noise)" in block.lines
    for key in ("hr", "qrs", "qt"):
        assert m.values[key].value == pytest.approx(before.values[key].value, abs=10), key


def test_a_two_lead_recording_with_one_noise_lead_keeps_the_other(clean):
    rec, delineator, before = clean
    i = rec.signals[_lead(rec, "I")].astype(np.float64)
    noise = _emg(len(i), rec.fs, 0.3, seed=2)
    m = measure(np.stack([i, noise]), rec.fs, ("I", "II"), delineator)
    assert set(m.left_out) == {"II"}
    assert m.values["hr"].value == pytest.approx(before.values["hr"].value, abs=3)


@pytest.mark.parametrize(
    ("kind", "leads", "seed"),
    [("white", 12, 3), ("white", 12, 0), ("muscle", 12, 1), ("white", 2, 2), ("muscle", 1, 4)],
)
def test_a_recording_of_noise_says_so_instead_of_giving_numbers(clean, kind, leads, seed):
    rec, delineator, _ = clean
    n = rec.signals.shape[1]
    if kind == "white":
        x = np.random.default_rng(seed).normal(0, 0.2, (leads, n))
    else:
        x = np.stack([_emg(n, rec.fs, 0.3, seed + k) for k in range(leads)])
    m = measure(x, rec.fs, rec.leads[:leads], delineator)
    assert all(v.value is None for v in m.values.values()), m.values
    reason = m.values["qrs"].reason
    assert reason.startswith(("no usable lead", "no QRS complexes found", "no measurable beat")), reason


def test_clean_leads_match_their_beats_far_above_noise(clean):
    """The statistic itself: every lead of a clean recording matches beat to beat (r near 1);
    white noise does not (r near 0)."""
    rec, _, before = clean
    from ecgviewer.measure import signal

    x = signal.prepare(rec.signals, rec.fs)
    r = np.round((before.r_times - before.span_s[0]) * signal.FS).astype(int)
    match = Q.beat_match(x, r, np.ones(12, dtype=bool))
    assert match.min() > 0.7
    noisy = Q.beat_match(np.random.default_rng(4).normal(0, 0.2, x.shape), r, np.ones(12, dtype=bool))
    assert noisy.max() < Q.MIN_NOISE_R


def _burst(rec, leads: list[str], from_s: float, to_s: float, rms: float) -> np.ndarray:
    """The recording with muscle-like noise on ``leads`` from ``from_s`` to ``to_s``."""
    x = rec.signals.astype(np.float64)
    a, b = round(from_s * rec.fs), round(to_s * rec.fs)
    for k, name in enumerate(leads):
        x[_lead(rec, name), a:b] += _emg(b - a, rec.fs, rms, seed=10 + k)
    return x


def test_a_clean_recording_has_no_noisy_stretch(clean):
    assert clean[2].too_noisy == () and to_json(clean[2])["too_noisy_s"] == []


def test_a_burst_of_noise_in_every_lead_is_not_counted_as_beats(clean):
    rec, delineator, before = clean
    m = measure(_burst(rec, list(rec.leads), 3.0, 6.0, 0.4), rec.fs, rec.leads, delineator)
    ((a, b),) = m.too_noisy
    assert 2.5 <= a <= 3.0 and 6.0 <= b <= 6.51  # whole noisy seconds
    assert m.values["hr"].value == pytest.approx(before.values["hr"].value, abs=2)
    assert not ((m.r_times > a) & (m.r_times < b)).any()
    assert any(n.startswith("too noisy to read: ") for n in m.notes), m.notes
    assert not any("pacing spikes" in n for n in m.notes), m.notes  # the noise's own "spikes"
    assert to_json(m)["too_noisy_s"] == [[round(a, 3), round(b, 3)]]
    printed = measurement_block(m, rec, "Bazett", "").lines  # the report
    assert f"Too noisy to read: {a:.1f}\u2013{b:.1f} s (no beat counted)" in printed


def test_a_burst_in_some_leads_is_read_in_the_others(clean):
    rec, delineator, before = clean
    noisy = ["V1", "V2", "V3", "V4", "V5", "V6"]
    m = measure(_burst(rec, noisy, 3.0, 6.0, 0.4), rec.fs, rec.leads, delineator)
    assert m.too_noisy == ()  # nothing left unread: every beat found, and only the beats
    assert np.abs(m.r_times - before.r_times).max() < 0.02
    note = next(n for n in m.notes if "its beats read in the other leads" in n)
    assert "noise in V1, V2, V3, V4, V5, V6" in note


def test_a_burst_in_too_few_leads_to_make_beats_is_no_stretch(clean):
    rec, delineator, before = clean
    m = measure(_burst(rec, ["V1", "V2"], 3.0, 6.0, 0.4), rec.fs, rec.leads, delineator)
    assert m.too_noisy == () and not any("noise in" in n for n in m.notes)
    assert len(m.r_times) == len(before.r_times)


def test_electrode_motion_is_not_counted_where_the_second_opinion_finds_no_qrs(clean):
    from ecgviewer.measure.pipeline import SECOND_OPINION
    from training.validate.motion import motion_noise

    rec, delineator, before = clean
    x = rec.signals.astype(np.float64)
    a, b = round(2.0 * rec.fs), round(5.0 * rec.fs)
    motion = motion_noise(b - a, rec.fs, len(rec.leads), seed=3)
    x[:, a:b] += 0.4 * motion / motion.std()  # slow, not broadband: no noisy stretch
    m = measure(x, rec.fs, rec.leads, delineator)
    every = measure(x, rec.fs, rec.leads, delineator, read_noise=True)
    assert m.too_noisy == () and len(every.r_times) > len(before.r_times)  # motion makes "beats" ...
    assert len(m.r_times) == len(before.r_times)  # ... not counted
    assert m.values["hr"].value == pytest.approx(before.values["hr"].value, abs=2), every.values["hr"]
    assert any(SECOND_OPINION in n for n in m.notes), m.notes


def test_a_noisy_lead_above_the_old_bar_at_the_joint_detections_is_looked_at_and_read_around():
    """Noise of electrode motion's band (2-20 Hz) in V1 at 0.14 of its QRS's peak-to-peak (RMS),
    II clean: at the two leads' joint detections V1's QRS stands about 11 times out of its noise,
    above session 141's bar for looking (10) and under this one's (``DROWNED_LOOK``); read alone
    it stands under ``DROWNED_SNR``, II about 90 times, so V1 is the lead read around, never II."""
    from scipy.signal import butter, sosfiltfilt

    from ecgviewer.measure import beats as B
    from ecgviewer.measure import signal
    from tests.measure.beat_records import FS, record, sample_beat

    beat = sample_beat()
    rec = record([(t, beat) for t in np.arange(1.0, 59.0, 0.9)], 60.0)
    noise = sosfiltfilt(
        butter(2, (2, 20), "bandpass", fs=FS, output="sos"), np.random.default_rng(3).normal(0, 1, 60 * FS)
    )
    x = rec.read(0, rec.n_samples).astype(np.float64)
    x[1] += np.ptp(beat[1]) * 0.14 * noise / noise.std()
    x = signal.prepare(x, rec.fs)
    both = np.ones(2, dtype=bool)
    delineator = Delineator.bundled()
    r = B.find(delineator.labels(x), x, both)
    joint = Q.beat_snr(x, r, both)
    assert joint[0] > 50 and 10 < joint[1] <= Q.DROWNED_LOOK
    worst, why = Q.drowned(x, r, both.copy(), both, delineator)
    assert worst == 1 and why.startswith("drowned in noise")
