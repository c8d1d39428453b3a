"""The beat list of a long recording: beats placed at known times with known kinds (the bundled
sample's own beat, a wide ectopic complex, P-less beats at irregular intervals) must come back
with their kinds, once each across page boundaries, with the pauses, runs and fibrillation."""

from __future__ import annotations

import numpy as np
import pytest

from ecgviewer.errors import Cancelled
from ecgviewer.measure import atrial as A
from ecgviewer.measure import intervals as I
from ecgviewer.measure import rhythm as R
from ecgviewer.measure import workers as W
from ecgviewer.measure.delineate import Delineator
from ecgviewer.measure.intervals import heart_rate
from ecgviewer.measure.pipeline import measure
from ecgviewer.recording import make_recording
from ecgviewer.sources import ArraySource
from tests.measure.beat_records import FS, PRE, ectopic, record, sample_beat
from training.validate.synthetic_beats import LEAD_IN_S, STRAY, drowned, invented, premature_beats


def _sinus(start: float, stop: float, rr: float, w: np.ndarray) -> list[tuple[float, np.ndarray]]:
    return [(t, w) for t in np.arange(start, stop, rr)]


def test_kinds_pauses_and_runs_come_back_once_each_across_pages(beat):
    beats, expect, seconds = premature_beats(beat)  # what the beat classifier's selection checks too
    assert seconds > R.PAGE_S + 30  # the premature beats around the first page edge
    rh = R.analyse(record(beats, seconds))
    assert any("looked for in 2 leads only" in n for n in rh.notes)  # a spike must show in both leads
    times = np.array([t for t, _ in beats])
    assert len(rh.t_s) == len(beats)  # every beat once, none at the page edges twice
    assert np.abs(rh.t_s - times).max() < 0.05
    assert [R.KINDS[k] for k in rh.kind] == expect
    last = times[np.flatnonzero(np.diff(times) > 2.5)[0]]  # the beat before the pause
    assert rh.counts() == {"normal": len(beats) - 6, "supraventricular": 1, "ventricular": 5, "paced": 0,
                           "unreadable": 0}  # fmt: skip
    events = {e.kind: e for e in rh.events}
    assert set(events) == {"pause", "ventricular run"}
    assert events["pause"].start_s == pytest.approx(last, abs=0.05) and "2.6 s" in events["pause"].detail
    assert events["ventricular run"].start_s == pytest.approx(LEAD_IN_S + 75.0, abs=0.05)
    assert events["ventricular run"].detail.startswith("4 beats at 120 bpm")
    v = rh.ectopy()["ventricular"]  # the Holter summary's counts: a single beat and the run
    assert (v.beats, v.single, v.couplets, v.runs, v.longest) == (5, 1, 0, 1, 4)
    assert "Ventricular ectopic: 1 single, 1 run (longest 4 beats, fastest 120 bpm)" in rh.summary()
    normal = rh.kind == R.KINDS.index("normal")
    assert np.nanmedian(rh.qrs_ms[normal]) < 120 < np.nanmedian(rh.qrs_ms[~normal & (rh.kind != 1)])
    assert np.isfinite(rh.pr_ms[normal]).mean() > 0.9 and np.isfinite(rh.qt_ms[normal]).mean() > 0.9
    # the trend: each 10 s bin's beats per minute, the measurements' rate (``intervals.heart_rate``)
    ordered = np.sort(times)
    into = np.digitize(ordered[1:], np.arange(0.0, seconds + 10.0, 10.0)) - 1
    rr = np.diff(ordered) * 1000
    expected = [60000 / rr[into == i].mean() if (into == i).any() else np.nan for i in range(len(rh.trend_s))]
    assert rh.trend_bpm == pytest.approx(expected, abs=1.0, nan_ok=True)  # a bin past the last beat: NaN


def test_atrial_fibrillation_is_an_episode_and_its_beats_are_not_premature(beat):
    rng = np.random.default_rng(1)
    no_p = beat.copy()
    no_p[:, : PRE - round(0.08 * FS)] = 0.0  # the P wave cut away
    beats = _sinus(1.0, 40.0, 0.9, beat)
    t = 40.0
    while t < 110.0:
        beats.append((t, no_p))
        t += rng.uniform(0.45, 1.1)
    beats += _sinus(t + 0.9, 149.0, 0.9, beat)
    rh = R.analyse(record(beats, 150.0))
    (af,) = [e for e in rh.events if e.kind == "atrial fibrillation"]
    assert af.start_s == pytest.approx(40.0, abs=8.0) and af.end_s == pytest.approx(110.0, abs=8.0)
    inside = (rh.t_s > af.start_s) & (rh.t_s < af.end_s)
    assert not (rh.kind[inside] == R.KINDS.index("supraventricular")).any()


def test_ventricular_beats_and_their_pauses_are_no_atrial_fibrillation(beat):
    no_p = beat.copy()
    no_p[:, : PRE - round(0.08 * FS)] = 0.0  # a junctional rhythm: no P wave ...
    beats, t = [], 1.0
    for k in range(240):  # ... with a ventricular premature beat every 40th beat, and its pause
        beats.append((t, ectopic() if k % 40 == 39 else no_p))
        t += 0.5 if k % 40 == 38 else 1.1 if k % 40 == 39 else 0.8
    rh = R.analyse(record(beats, t + 1.0))
    assert (rh.kind == R.KINDS.index("ventricular")).sum() == 6
    assert not [e for e in rh.events if e.kind == "atrial fibrillation"]


def test_an_unreadable_stretch_is_an_event_not_a_pause(beat):
    beats = _sinus(1.0, 59.0, 0.9, beat) + _sinus(181.0, 239.0, 0.9, beat)
    rec = record(beats, 240.0)
    rec.source.data[:, 60 * FS : 180 * FS] = np.nan  # two minutes of lost signal
    rh = R.analyse(rec)
    assert [e.kind for e in rh.events] == ["unreadable"]
    assert rh.events[0].start_s == pytest.approx(60.0) and rh.events[0].end_s == pytest.approx(180.0)
    assert np.isnan(rh.rr_ms[np.searchsorted(rh.t_s, 181.0)])


def test_no_beat_is_invented_in_noise_that_drowns_them(beat):
    """Sinus rhythm with 30 s of muscle-like noise four times the QRS's size: the stretch is an
    unreadable event (too noisy), not a run of invented beats; the clean beats are all there."""
    rec, times, stretch = drowned(beat)
    rh = R.analyse(rec)
    noisy = [e for e in rh.events if e.kind == "unreadable"]
    assert len(noisy) == 1 and "too noisy to read" in noisy[0].detail
    assert noisy[0].start_s < 50.0 and noisy[0].end_s > 70.0
    assert invented(rh.t_s, times, stretch) <= STRAY  # at most a stray invented beat at the noise's edges
    clean = (times < 44.0) | (times > 76.0)
    assert np.abs(times[clean][:, None] - rh.t_s[None, :]).min(axis=1).max() < 0.05  # every clean beat listed


def test_a_lead_drowned_in_noise_is_read_around_and_the_clean_one_carries_every_beat(beat):
    """Noise of electrode motion's band (2-20 Hz) in V1 alone, at EC57's 0 dB (RMS the QRS's
    peak-to-peak over sqrt(8)): read with V1, beats went missing and a minute was unreadable
    though II is clean (session 141: 85 beats missed, 13 invented); read around V1, every beat."""
    from scipy.signal import butter, sosfiltfilt

    beats = _sinus(1.0, 119.0, 0.9, beat)
    rec = record(beats, 120.0)
    band = butter(2, (2, 20), "bandpass", fs=FS, output="sos")
    noise = sosfiltfilt(band, np.random.default_rng(3).normal(0, 1, rec.n_samples))
    rec.source.data[1] += (np.ptp(beat[1]) / np.sqrt(8) * noise / noise.std()).astype(np.float32)
    rh = R.analyse(rec)
    times = np.array([t for t, _ in beats])
    assert len(rh.t_s) == len(times) and np.abs(rh.t_s - times).max() < 0.05
    assert not [e for e in rh.events if e.kind == "unreadable"]
    assert "V1 not read throughout (drowned in noise)" in rh.notes


def test_the_unclear_rule_reads_the_same_noise_at_a_holters_128_hz(beat):
    """Muscle-like noise half the QRS's size for 30 s: the clarity the unclear-stretch rule reads
    (noise below NOISE_BAND_HZ) is the same when the record is resampled to 128 Hz, in the noise
    and out of it, where the full band's (the classifier's feature) reads 128 Hz about 1 e-fold
    clearer, since nothing above 64 Hz is left there."""
    from ecgviewer.dsp.resample import to_rate
    from ecgviewer.measure import beat_classes as C

    rec, _, (a, b) = drowned(beat, size=0.5)
    slow = to_rate(rec.read(0, rec.n_samples), rec.fs, 128.0)
    holter = make_recording(None, ArraySource(slow), 128.0, list(rec.leads), "holter")
    medians = []
    for found in (R.detect(rec), R.detect(holter)):
        noisy = (found.t_s > a + 2) & (found.t_s < b - 2)
        clean = (found.t_s < a - 2) | (found.t_s > b + 2)
        full, band = found.features[C.FEATURES.index("clarity")], found.clarity_band
        medians.append([np.median(v[m]) for v in (full, band) for m in (clean, noisy)])
    (full_clean, full_noisy, *band_250), (slow_clean, slow_noisy, *band_128) = medians
    assert slow_clean - full_clean > 0.5 and slow_noisy - full_noisy > 0.5  # the full band: not alike
    assert np.allclose(band_250, band_128, atol=0.1)
    assert band_250[1] < band_250[0] - 1.0  # and it still sees the noise


def test_a_burst_of_noise_among_clean_minutes_is_an_unreadable_stretch_not_beats(beat):
    """10 s of muscle-like noise in two clean minutes (a Holter's motion): its transients are no
    pacing spikes, and where the noise rule marks the detections unreadable and the classifier
    finds them likelier noise than beats, the burst is one unreadable event, not a list of
    "unreadable beats" three times the heart's rate."""
    rec, times, stretch = drowned(beat, at_s=15.0, for_s=10.0)
    rh = R.analyse(rec)
    assert not (rh.kind == R.KINDS.index("paced")).any()
    (noisy,) = [e for e in rh.events if e.kind == "unreadable"]
    assert noisy.start_s < 17.0 and noisy.end_s > 23.0
    assert invented(rh.t_s, times, stretch) <= STRAY
    clean = (times < 14.0) | (times > 26.0)
    assert np.abs(times[clean][:, None] - rh.t_s[None, :]).min(axis=1).max() < 0.05


def test_a_stretch_whose_listed_detections_the_second_opinion_doubts_is_read_as_noise():
    """A minute of detections, none judged an artefact: where a fifth of those around each are
    listed but unconfirmed (motion transients alike enough to be kept), the stretch is noise; the
    same doubts scattered one in ten are not."""
    t = np.arange(60.0)
    none = np.zeros(60, bool)
    doubted = none.copy()
    doubted[20:40:4] = doubted[22:40:4] = True  # half of the 20 detections from 20 s
    (stretch,) = R._too_noisy(t, none, doubted)
    assert stretch[0] <= 22.0 and stretch[1] >= 37.0 and "10 doubtful" in stretch[2]
    scattered = none.copy()
    scattered[::10] = True
    assert R._too_noisy(t, none, scattered) == []
    artefacts = none.copy()
    artefacts[20:32] = True
    assert (
        R._too_noisy(t, artefacts, none)[0][2]
        == "too noisy to read: of 12 detections, 12 were noise and 0 doubtful"
    )


def test_a_noisy_stretch_goes_on_over_the_unreadable_detections_next_to_it():
    """At a burst's edges the clean beats in the share's window hide the noise: the stretch takes in
    the detections the noise rule marked unreadable next to it, and merges with one it reaches."""
    t = np.arange(60.0)
    artefacts, unreadable = np.zeros(60, bool), np.zeros(60, bool)
    artefacts[20:32] = artefacts[40:48] = True
    unreadable[[*range(16, 20), *range(32, 40), 48, 55]] = True  # next to the stretches but for 55
    (stretch,) = R._too_noisy(t, artefacts, np.zeros(60, bool), unreadable)
    assert stretch == (16.0, 48.0, "too noisy to read: of 33 detections, 20 were noise and 0 doubtful")
    assert [s[:2] for s in R._too_noisy(t, artefacts, np.zeros(60, bool))] == [(20.0, 31.0), (40.0, 47.0)]


def test_a_stretch_where_the_qrs_barely_stands_out_of_the_noise_is_read_as_noise():
    """Two minutes of beats a second whose clarity falls for 20 s while their QRS stop looking alike
    and their rhythm goes irregular (electrode motion as loud as the QRS): that stretch is unclear;
    a 6 s dip is not, nor beats that stay alike (a paced rhythm's spikes lower the clarity) or keep
    a regular rhythm (the detections follow the heart), nor a whole recording merely faint."""
    rng = np.random.default_rng(0)
    regular = np.arange(120.0)
    t = regular.copy()
    t[30:50] += rng.uniform(-0.3, 0.3, 20)
    t[80:86] += rng.uniform(-0.3, 0.3, 6)
    qrs = np.sin(np.linspace(0, 3 * np.pi, 50)) * np.hanning(50)
    alike = np.broadcast_to(qrs, (120, 2, 50)).astype(np.float16)
    unlike = alike.copy()
    unlike[30:50] += rng.normal(0, 1, (20, 2, 50)).astype(np.float16)
    unlike[80:86] += rng.normal(0, 1, (6, 2, 50)).astype(np.float16)
    clarity = np.full(120, 4.5)
    clarity[30:50] = clarity[80:86] = 2.2
    clarity[40] = 4.0  # a clear beat inside does not break the stretch
    clarity[90] = np.nan  # no clarity measured: counts as clear
    ((a, b),) = R._unclear(t, unlike, (clarity, R.CLARITY_MIN))  # its edges as far as the medians reach
    assert t[30] <= a <= t[32] and t[47] <= b <= t[49]
    assert R._unclear(t, alike, (clarity, R.CLARITY_MIN)) == []
    clear = np.full(120, 4.5)  # a second band finds it where the first does not: either is enough
    assert R._unclear(t, unlike, (clear, R.CLARITY_MIN), (clarity, R.CLARITY_MIN)) == [(a, b)]
    assert R._unclear(regular, unlike, (clarity, R.CLARITY_MIN)) == []
    assert R._unclear(t, unlike, (np.full(120, 2.2), R.CLARITY_MIN)) == []  # faint: its own clearest
    none = np.zeros(120, bool)
    (stretch,) = R._too_noisy(regular, none, none, None, (regular >= 30) & (regular <= 49))
    assert stretch == (30.0, 49.0, "too noisy to read: of 20 detections, 0 were noise and 0 doubtful; "
                       "20 with a QRS barely above the noise")  # fmt: skip


def test_neighbour_likeness_is_the_best_correlation_with_the_beats_either_side():
    shapes = np.random.default_rng(1).normal(size=(9, 2, 50)).astype(np.float16)
    shapes[5] = shapes[3]
    got = R._neighbour_r(shapes, chunk=4)
    flat = shapes.reshape(9, -1).astype(float)
    want = [max(np.corrcoef(flat[i], flat[j])[0, 1] for j in range(max(0, i - 2), min(9, i + 3)) if j != i)
            for i in range(9)]  # fmt: skip
    assert got == pytest.approx(want, abs=1e-5)
    assert got[3] == got[5] == pytest.approx(1.0)


def test_progress_and_cancel(beat):
    rec = record(_sinus(1.0, 179.0, 0.9, beat), 180.0)
    seen: list[float] = []
    R.analyse(rec, progress=lambda f: seen.append(f) or True)
    assert seen == pytest.approx([1 / 3, 2 / 3, 1.0])
    with pytest.raises(Cancelled):
        R.analyse(rec, progress=lambda f: False)


def test_pages_measured_side_by_side_give_what_one_at_a_time_gives(beat, monkeypatch):
    beats, _, seconds = premature_beats(beat)  # three pages, with ectopic beats and a pause
    rec = record(beats, seconds)
    together = R.detect(rec)
    monkeypatch.setattr(W, "THREADS", 1)
    alone = R.detect(rec)
    for field in ("t_s", "kind", "fiducials_ms", "features", "shapes", "clarity_band"):
        assert np.array_equal(getattr(together, field), getattr(alone, field), equal_nan=True), field


def test_overlapping_beat_lists_give_torch_its_threads_back_once_both_end():
    """One beat list being cancelled while the next starts: the last to end restores torch."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(2)  # as on a 2-core machine outside the test run's one thread
    try:
        first, second = R._one_torch_thread(), R._one_torch_thread()
        first.__enter__()
        second.__enter__()
        assert torch.get_num_threads() == 1
        first.__exit__(None, None, None)
        assert torch.get_num_threads() == 1  # the second still measures
        second.__exit__(None, None, None)
        assert torch.get_num_threads() == 2
    finally:
        torch.set_num_threads(before)


def test_at_most_three_recorded_leads_are_read_preferring_ii_v1_v5():
    x = ArraySource(np.zeros((12, 100), np.float32))
    from ecgviewer.leads import STANDARD_LEADS

    rec = make_recording(None, x, 500.0, list(STANDARD_LEADS), "twelve")
    assert [rec.leads[i] for i in R.chosen_leads(rec)] == ["II", "V1", "V5"]
    holter = make_recording(None, ArraySource(np.zeros((2, 100), np.float32)), 128.0, ["ECG1", "ECG2"], "h")
    assert R.chosen_leads(holter) == [0, 1]


def test_two_leads_are_delineated_and_the_third_stands_in_where_one_cannot_be_read(delineator):
    """A 3-lead Holter: II and V1 delineated; where II is flat (page 2) or pure noise (page 3), V5
    carries the beats in its place (the notes say where II was not read, and why), and V5's shapes
    are kept for the templates throughout."""
    w = sample_beat(("II", "V1", "V5"))
    beats = _sinus(1.0, 179.0, 0.9, w)
    rec = record(beats, 180.0, leads=("II", "V1", "V5"))
    x = rec.source.data
    x[0, 57 * FS : 123 * FS] = 0.0  # flat over page 2 and its margins
    x[0, 123 * FS :] = np.random.default_rng(1).normal(0, 0.2, x.shape[1] - 123 * FS)
    calls: list[int] = []
    spy = Delineator(delineator.model, delineator.meta)
    spy.labels = lambda s, present=None: calls.append(len(s)) or delineator.labels(s, present)  # type: ignore[method-assign]
    rh = R.analyse(rec, spy)
    assert calls == [2, 2, 2, 2]  # two leads a page, page 3 again with V5 once II is found noise
    times = np.array([t for t, _ in beats])
    assert len(rh.t_s) == len(beats) and np.abs(rh.t_s - times).max() < 0.05
    assert set(R.KINDS[k] for k in rh.kind) == {"normal"}
    assert rh.leads == ("II", "V1", "V5") and rh.shapes is not None
    said = "Beats found in II and V1 (V5 where one of them cannot be read)"
    assert rh.lead_use() == said
    not_read = "II not read for 2 min of 3 min (flat line 1 min, pure noise 1 min)"
    assert not_read in rh.notes and not_read in rh.summary()  # shown with the counts ...
    assert rh.reading().startswith(said) and "not read" not in rh.reading()  # ... and said once
    from ecgviewer.report.content import beats_block

    lines = beats_block(rh).lines  # printed as the panel shows it
    assert rh.reading() in lines and not_read in lines
    amplitude = np.ptp(rh.shapes.astype(float), axis=2)  # (beats, leads)
    first, later = rh.t_s < 57.0, rh.t_s > 63.0
    assert (amplitude[:, 2] > 0.2).all()  # V5 read on every page, delineated or not
    assert (amplitude[first, 0] > 0.2).all() and (amplitude[later, 0] == 0).all()  # II left out where unread


def test_a_beat_takes_no_t_wave_or_p_wave_across_its_neighbours():
    """Per-beat PR and QT come from waves between the neighbouring beats' QRS complexes."""
    lab = np.zeros((1, 400), dtype=np.int8)
    lab[0, 30:40] = 1  # P of beat 0
    lab[0, 50:70] = 2  # QRS 0
    lab[0, 120:140] = 2  # QRS 1: beat 0's T, if any, lies before it
    lab[0, 180:220] = 3  # T of beat 1 ...
    lab[0, 199] = 0  # ... with a one-sample dropout: still one T (``delineate.wave_runs``)
    lab[0, 240:244] = 3  # and a 16 ms fleck of "T" after it: too short to be a wave
    lab[0, 300:320] = 2  # QRS 2, with no P and no T of its own
    p_on, p_off, qrs_on, qrs_off, t_off = R._fiducials(lab, np.array([True]), np.array([60, 130, 310]))
    assert np.isfinite(p_on).tolist() == [True, False, False] and p_off[0] == 39  # the last P sample
    assert np.isnan(p_off[1:]).all()
    assert np.isnan(t_off[0]) and t_off[1] == 219 and np.isnan(t_off[2])  # the last T sample
    assert p_on[0] == 30 and qrs_on.tolist() == [50, 120, 300] and qrs_off.tolist() == [69, 139, 319]


def test_a_qrs_cut_by_the_recording_s_start_or_end_is_no_beat(beat):
    """Beats whose R lies 8-12 ms from either end of the recording lose part of their QRS."""
    inside = _sinus(1.0, 9.0, 1.0, beat)
    rh = R.analyse(record([(0.012, beat), *inside, (9.992, beat)], 10.0))
    assert len(rh.t_s) == len(inside) and rh.t_s[0] > 0.9 and rh.t_s[-1] < 8.1


def test_a_10_s_recording_has_one_rate_in_the_beat_list_and_the_measurements(delineator, beat):
    """Issue 71: one span, one heart rate. An irregular 10 s (the median RR 700 ms, 86 bpm; the
    mean 790 ms, 76 bpm): the beat list's trend and range once took the median, the measurement
    the mean."""
    rr = [0.6, 1.1, 0.7, 1.2, 0.65, 0.7, 1.0, 0.7, 0.66, 0.6, 0.78]
    times = 0.5 + np.concatenate([[0.0], np.cumsum(rr)])
    rec = record([(t, beat) for t in times], 10.0)
    rh = R.analyse(rec)
    m = measure(rec.signals, rec.fs, rec.leads, delineator)
    assert len(rh.t_s) == len(m.r_times) == len(times)
    assert m.values["hr"].value == pytest.approx(60 / np.mean(rr), abs=0.5)
    assert rh.trend_bpm.tolist() == pytest.approx([m.values["hr"].value], abs=0.5)
    assert rh.rate_range()[2] == pytest.approx(m.values["hr"].value, abs=0.5)
    assert (
        heart_rate(np.array([600.0, np.nan, 900.0])) == pytest.approx(80.0)
        and heart_rate(np.zeros(0)) is None
    )


def test_a_run_does_not_span_an_unreadable_stretch():
    """Ventricular beats either side of an unreadable stretch are two runs, each at its own rate,
    not one at the rate the gap makes (MIT-BIH 207 once had "108 beats at 31 bpm" across its
    ventricular flutter, which the list reads as too noisy)."""
    from ecgviewer.measure import beat_classes as C

    t = np.r_[10.0 + 0.5 * np.arange(10), 80.0 + 0.5 * np.arange(10)]
    n = len(t)
    found = R.Detected(
        t, np.full(n, R.VENTRICULAR, np.int8), np.full((5, n), np.nan), np.zeros((len(C.FEATURES), n)),
        np.zeros((n, 2, 50), np.float16), [(20.0, 75.0)], 100.0, ("II", "V1"), (),
    )  # fmt: skip
    rh = R.with_kinds(found, found.kind)
    runs = [e for e in rh.events if e.kind == "ventricular run"]
    assert [(e.start_s, e.end_s, e.detail) for e in runs] == [
        (10.0, 14.5, "10 beats at 120 bpm"),
        (80.0, 84.5, "10 beats at 120 bpm"),
    ]


def _listed(
    t: np.ndarray, kind: np.ndarray, unreadable: list[tuple[float, float]] | None = None
) -> R.BeatList:
    """The beat list of beats at ``t`` with these kinds and no P wave found anywhere."""
    from ecgviewer.measure import beat_classes as C

    n = len(t)
    found = R.Detected(
        t, kind.astype(np.int8), np.full((5, n), np.nan), np.zeros((len(C.FEATURES), n)),
        np.zeros((n, 2, 50), np.float16), unreadable or [], float(t[-1] + 1.0), ("II", "V1"), (),
    )  # fmt: skip
    return R.with_kinds(found, found.kind)


def test_frequent_supraventricular_beats_are_not_atrial_fibrillation_but_irregular_normal_beats_are():
    """Two minutes without a P wave found: sinus beats every 0.8 s with every third beat a
    supraventricular one (0.5 s early, then a pause) are not atrial fibrillation, since the
    irregularity is the ectopic beats' (MIT-BIH 118 and 209 were called so); the same beats at
    irregular intervals, all classed normal, are."""
    rr = np.tile([0.8, 0.5, 1.1], 60)
    kind = np.tile([R.NORMAL, R.SUPRA, R.NORMAL], 60)
    ectopy = _listed(np.cumsum(rr), kind)
    assert not [e for e in ectopy.events if e.kind == "atrial fibrillation"]
    assert (ectopy.kind == R.SUPRA).sum() == 60
    irregular = np.random.default_rng(0).uniform(0.45, 1.15, 180)
    af = _listed(np.cumsum(irregular), np.full(180, R.NORMAL))
    assert [e.kind for e in af.events] == ["atrial fibrillation"]


def _af(listed: R.BeatList) -> list[tuple[float, float]]:
    return [(e.start_s, e.end_s) for e in listed.events if e.kind == "atrial fibrillation"]


def test_a_few_ectopic_beats_called_normal_in_a_regular_rhythm_are_not_atrial_fibrillation():
    """Three minutes of regular beats without P waves (a junctional or paced rhythm, or P waves
    the delineator misses) with every eighth beat an ectopic one that the classifier called normal
    (0.5 s early, then a pause): the RMS of the RR differences is large, their typical one is
    nil, so there is no fibrillation (MIT-BIH 118; paced 104 and 107 were called so)."""
    rr = np.tile([0.8] * 6 + [0.5, 1.1], 28)
    listed = _listed(np.cumsum(rr), np.full(len(rr), R.NORMAL))
    assert A.irregular(np.tile(rr[:16] * 1000, (1, 1))) == [False]
    assert I.nrmssd(rr[:16]) > I.AF_NRMSSD  # the RMS alone would have called it
    assert not _af(listed)


def test_irregular_beats_among_mostly_ventricular_ones_or_across_a_gap_are_not_judged():
    """Conducted beats at irregular intervals, but three of every seven beats conducted (the
    rhythm is the ventricular beats': MIT-BIH 207's idioventricular rhythm between flutter),
    then irregular beats in two 25 s stretches either side of a 2-minute unreadable one: neither
    is fibrillation, while the same irregular beats for a minute without a gap are."""
    rng = np.random.default_rng(2)
    kind = np.tile([R.NORMAL] * 3 + [R.VENTRICULAR] * 4, 30)
    mostly_ventricular = _listed(np.cumsum(rng.uniform(0.45, 1.15, len(kind))), kind)
    assert not _af(mostly_ventricular)
    before = np.cumsum(rng.uniform(0.45, 1.15, 34))
    after = before[-1] + 120.0 + np.cumsum(rng.uniform(0.45, 1.15, 34))
    assert before[-1] < 30.0 and after[-1] - after[0] < 30.0
    t = np.r_[before, after]
    gap = _listed(t, np.full(len(t), R.NORMAL), unreadable=[(before[-1] + 0.2, after[0] - 0.2)])
    assert not _af(gap)
    joined = _listed(np.r_[before, before[-1] + after - after[0] + 0.8], np.full(len(t), R.NORMAL))
    assert _af(joined)


def test_a_salvo_of_ectopic_beats_does_not_cut_an_episode_of_atrial_fibrillation():
    """A minute and a half of irregular beats, a minute of ventricular bigeminy (no RR between two
    normal beats to judge the rhythm by in its middle 28 s), irregular beats again: one episode of
    fibrillation over the salvo, as a Holter has it (it was cut in two). Two minutes of bigeminy
    leave two episodes (more than the shortest episode uncovered), and so do 30 s of regular
    normal beats (a rhythm judged)."""
    rng = np.random.default_rng(3)
    irregular = rng.uniform(0.45, 1.15, 90)

    def af_around(rr: np.ndarray, kind: np.ndarray) -> list[tuple[float, float]]:
        t = np.cumsum(np.r_[irregular, rr, irregular])
        return _af(_listed(t, np.r_[np.full(90, R.NORMAL), kind, np.full(90, R.NORMAL)]))

    def bigeminy(seconds: float) -> tuple[np.ndarray, np.ndarray]:
        k = round(seconds / 1.2)
        return np.tile([0.5, 0.7], k), np.tile([R.VENTRICULAR, R.NORMAL], k)

    (episode,) = af_around(*bigeminy(60.0))
    assert episode[1] - episode[0] > 200.0
    assert len(af_around(*bigeminy(120.0))) == 2
    assert len(af_around(np.full(38, 0.8), np.full(38, R.NORMAL))) == 2


def test_supraventricular_calls_without_p_waves_do_not_cut_an_episode_of_atrial_fibrillation():
    """Irregular beats, then 20 s without P waves where every fourth beat is called
    supraventricular (0.45 s early, then 1 s): the RRs left between two normal beats are alike,
    the RRs between conducted beats are not. Between fibrillation it is the fibrillation's
    irregularity, one episode (a candidate list cut MIT-BIH 203's so); a minute of it leaves two
    episodes (more than the shortest episode uncovered), and two minutes of it alone are no
    fibrillation (atrial premature beats whose P waves were missed)."""
    rng = np.random.default_rng(4)
    irregular = rng.uniform(0.45, 1.15, 90)

    def pattern(seconds: float) -> tuple[np.ndarray, np.ndarray]:
        k = round(seconds / 3.05)
        return np.tile([0.8, 0.8, 0.45, 1.0], k), np.tile([R.NORMAL, R.NORMAL, R.SUPRA, R.NORMAL], k)

    def af_around(rr: np.ndarray, kind: np.ndarray) -> list[tuple[float, float]]:
        t = np.cumsum(np.r_[irregular, rr, irregular])
        return _af(_listed(t, np.r_[np.full(90, R.NORMAL), kind, np.full(90, R.NORMAL)]))

    (episode,) = af_around(*pattern(20.0))
    assert episode[1] - episode[0] > 140.0
    assert len(af_around(*pattern(60.0))) == 2
    rr, kind = pattern(120.0)
    assert not _af(_listed(np.cumsum(rr), kind))


def test_a_two_pass_classifier_classes_the_beats_again_without_the_noise_it_found():
    """A detection of noise between two beats halves both their RRs: the beat after it looks
    premature. A classifier fitted for it (``two_pass``) reads the beats again on RR intervals
    without the detections it judged noise; one that was not reads them once."""
    from ecgviewer.measure import beat_classes as C

    n = 30
    beats = 1.0 + 0.8 * np.arange(n)
    t = np.sort(np.r_[beats, beats[14] + 0.4])  # noise found halfway between beats 14 and 15
    no_p = np.full((5, n + 1), np.nan)
    features = np.zeros((len(C.FEATURES), n + 1), np.float32)
    rows = [C.FEATURES.index(f) for f in C.RHYTHM]
    features[rows] = C.rhythm(np.diff(t, prepend=np.nan) * 1000, np.zeros(n + 1))
    features[C.FEATURES.index("noise"), 15] = 3.0
    shapes = np.zeros((n + 1, 2, 10), np.float16)
    found = R.Detected(t, np.full(n + 1, R.NORMAL, np.int8), no_p, features, shapes, [], float(t[-1] + 1.0),
                       ("II", "V1"), ())  # fmt: skip
    pre, noise = C.FEATURES.index("pre"), C.FEATURES.index("noise")
    normal, ventricular = C.CLASSES.index("normal"), C.CLASSES.index("ventricular")

    class Seeing:  # a stand-in: noise where the noise feature says so, ventricular where premature
        def __init__(self, two_pass: bool) -> None:
            self.two_pass, self.seen, self.beats = two_pass, [], []

        def labelled(self, f: np.ndarray, beats: bool = False) -> tuple[np.ndarray, np.ndarray]:
            self.seen.append(f[pre].copy())
            self.beats.append(beats)
            label = np.where(f[pre] < np.log(0.7), ventricular, normal)
            label[(f[noise] > 1) & (not beats)] = R.ARTEFACT
            return label, np.eye(len(C.CLASSES))[label]

    once, twice = Seeing(False), Seeing(True)
    first = R.classify(found, once)
    assert len(once.seen) == 1 and len(first.t_s) == n and np.allclose(first.t_s, beats)
    assert np.flatnonzero(first.kind == R.VENTRICULAR).tolist() == [15]  # its RR halved by the noise
    again = R.classify(found, twice)
    assert len(twice.seen) == 2 and twice.seen[1].shape == (n,) and np.allclose(twice.seen[1][1:], 0.0)
    assert twice.beats == [False, True]  # the second reading classes beats: none becomes an artefact
    assert np.allclose(again.t_s, beats) and (again.kind == R.NORMAL).all()
    assert again.features is not None and np.allclose(again.features[pre, 1:], 0.0)  # what was weighed


def test_a_beat_known_to_be_one_is_never_classed_an_artefact():
    """``labelled(..., beats=True)``: the second reading of a two-pass beat list keeps every beat
    the first kept, however likely the perceptron finds an artefact."""
    from ecgviewer.measure import beat_classes as C

    k = len(C.CLASSES)
    logits = np.zeros(k, np.float32)
    logits[C.CLASSES.index("artefact")], logits[C.CLASSES.index("ventricular")] = 5.0, 1.0
    layer = (np.zeros((k, len(C.INPUTS)), np.float32), logits)
    ones = np.ones(len(C.INPUTS), np.float32)
    model = C.BeatClassifier(0 * ones, ones, ((layer,),), np.zeros(k, np.float32), {})
    features = np.zeros((len(C.FEATURES), 4), np.float32)
    assert (model.labelled(features)[0] == C.CLASSES.index("artefact")).all()
    label, p = model.labelled(features, beats=True)
    assert (label == C.CLASSES.index("ventricular")).all() and p.argmax(axis=1).tolist() == [k - 1] * 4


def test_the_beats_of_an_atrial_run_are_not_unreadable_for_their_neighbours_qrs(shared):
    """Whether a beat with the patient's QRS is readable leaves out the QRS of such neighbours in
    its noise window: in an atrial run the next beat's QRS lies in it, and was counted as noise
    that made the run's beats "unreadable" (a minute of MIT-BIH 220, whose reference has three
    atrial runs, 10 beats, between 411 and 420 s: 7 of them were unreadable, the runs hidden)."""
    from ecgviewer.io import load

    rec = load(shared / "mitdb" / "220.hea")
    a = round(380 * rec.fs)
    x = np.asarray(rec.read(a, a + round(60 * rec.fs)), dtype=np.float32)
    found = R.detect(make_recording(None, ArraySource(x), rec.fs, list(rec.leads), "220"))
    runs = (found.t_s > 411.0 - 380) & (found.t_s < 420.0 - 380)
    assert runs.sum() == 16  # the reference's beats there, each found once
    assert not (found.kind == R.UNREADABLE).any()


def test_an_idioventricular_rhythm_filling_its_pages_is_never_normal(shared):
    """MIT-BIH 207 from 1400 to 1760 s: two minutes of the patient's usual beats (left bundle branch
    block), then ventricular
    flutter and 109 s of idioventricular rhythm (the reference's 105 escape beats, E), a page's worth:
    each page's dominant beat was the escape beat itself, and they were called normal (session 108).
    Against the recording's usual beat, wide and unlike, with no P wave before them, they are not
    conducted (``beat_classes.unlike_usual``), and the usual beats are not touched; against each
    page's dominant beat alone (``not_conducted``, the guard before session 108), they were."""
    import wfdb

    from ecgviewer.io import load
    from ecgviewer.measure import beat_classes as C

    rec = load(shared / "mitdb" / "207.hea")
    a, b = round(1400 * rec.fs), round(1760 * rec.fs)
    x = np.asarray(rec.read(a, b), dtype=np.float32)
    found = R.detect(make_recording(None, ArraySource(x), rec.fs, list(rec.leads), "207"))
    ann = wfdb.rdann(str(shared / "mitdb" / "207"), "atr", sampfrom=a, sampto=b)
    symbol, at = np.array(ann.symbol), (ann.sample - a) / rec.fs
    nearest = lambda kind: np.abs(found.t_s[:, None] - at[symbol == kind]).argmin(axis=0)  # noqa: E731
    escape, usual = np.unique(nearest("E")), np.unique(nearest("L"))  # L: the patient's usual beats
    assert len(escape) == 105 and len(usual) > 100
    assert C.not_conducted(found.features)[escape].mean() < 0.2
    # all but the few with a P wave found before them (sinus P waves march through, dissociated) or
    # under 40 ms wider than the usual QRS as delineated: those are the perceptron's to weigh
    assert C.unlike_usual(found.features)[escape].mean() > 0.9
    assert not C.unlike_usual(found.features)[usual].any()


def test_a_neighbours_qrs_is_left_out_of_the_noise_only_between_beats_of_the_dominant_shape():
    """Three identical complexes 200 ms apart on a flat line: each one's window (-250 to +450 ms)
    holds another one's QRS, the only "noise" there. Left out between beats marked alike;
    counted where either beat is not."""
    fs = R.signal.FS
    x = np.zeros((1, 4 * fs), np.float32)
    r = np.array([fs, fs + round(0.2 * fs), fs + round(0.4 * fs)])
    for at in r:
        x[0, at - 3 : at + 4] = np.r_[np.linspace(0, 1.5, 4), np.linspace(1.5, 0, 4)[1:]]
    half = round(R.B.QRS_HALF_MS * fs / 1000)
    own = R._hf_noise(x, r, half)
    assert (own > 0).all()  # a neighbour's QRS counts as noise around each
    assert np.allclose(R._hf_noise(x, r, half, np.ones(3, bool)), 0.0)
    mixed = R._hf_noise(x, r, half, np.array([True, True, False]), np.array([True, False, True]))
    assert 0.0 < mixed[0] < own[0] and np.isnan(mixed[1]) and mixed[2] == own[2]  # 0: beat 2's QRS counts


def test_both_delineators_are_built_before_the_pages_threads_start(delineator, monkeypatch):
    """Built lazily inside two page threads, a network would be built twice at once, and torch's
    notices would leak past the build's thread-unsafe ``warnings.catch_warnings``."""
    from ecgviewer.measure.delineate import Delineator

    mine, second = (Delineator(delineator.model, delineator.meta) for _ in range(2))  # nothing built yet
    seen = []

    class Pool(W.ThreadPoolExecutor):
        def __init__(self, workers: int) -> None:
            seen.append(["_frozen" in d.int8().__dict__ for d in (mine, second)])
            super().__init__(workers)

    monkeypatch.setattr(W, "ThreadPoolExecutor", Pool)
    x = np.zeros((2, 10 * 250), np.float32)
    R.detect(make_recording(None, ArraySource(x), 250.0, ["II", "V1"], "flat"), mine, second=second)
    assert seen == [[True, True]] * W.THREADS  # one pool for each lane


def test_a_premature_narrow_beat_without_a_p_wave_in_sinus_rhythm_is_supraventricular_whatever_was_called():
    """Sinus rhythm (P waves, 0.8 s) where every fifth beat comes 0.5 s after the one before, with
    the dominant QRS and no P wave found, and the perceptron called them all normal (as it called
    MIT-BIH 201's atrial premature beats, the rhythm around them being irregular): the beat list
    calls them supraventricular. Not so a beat early only by sinus arrhythmia's 10 %, one with its
    P wave, one of another shape, the sinus beat after an interpolated ventricular beat, nor a
    beat of atrial fibrillation (irregular, P waves mostly absent, or found at any distance from
    the QRS): there premature beats are the rhythm."""
    from ecgviewer.measure import beat_classes as C

    def listed(
        rr: np.ndarray, kind: np.ndarray, p: np.ndarray, qrs_r: np.ndarray, jitter: float | np.ndarray = 0.0
    ) -> R.BeatList:
        n = len(rr)
        fid = np.full((5, n), np.nan)
        fid[R.BEAT_FIDUCIALS.index("p_on")] = np.where(p, -160.0 + np.broadcast_to(jitter, n), np.nan)
        fid[R.BEAT_FIDUCIALS.index("qrs_on")] = -40.0
        features = np.zeros((len(C.FEATURES), n))
        features[C.FEATURES.index("qrs_r")] = qrs_r
        t = np.cumsum(rr)
        found = R.Detected(t, kind.astype(np.int8), fid, features, np.zeros((n, 2, 50), np.float16), [],
                           float(t[-1] + 1.0) if n else 10.0, ("II", "V1"), ())  # fmt: skip
        return R.with_kinds(found, found.kind)

    cycle = np.array([0.8, 0.8, 0.8, 0.8, 0.5, 1.1])
    rr, normal = np.tile(cycle, 20), np.full(120, R.NORMAL)
    early = np.tile(cycle == 0.5, 20)
    apcs = listed(rr, normal, ~early, np.full(120, 0.99))
    assert (apcs.kind == R.SUPRA).tolist() == early.tolist()
    assert not [e for e in apcs.events if e.kind == "atrial fibrillation"]
    mild = np.tile([0.8, 0.8, 0.8, 0.8, 0.72, 0.88], 20)
    assert (listed(mild, normal, ~np.tile(cycle == 0.5, 20), np.full(120, 0.99)).kind == R.NORMAL).all()
    assert (listed(rr, normal, np.ones(120, bool), np.full(120, 0.99)).kind == R.NORMAL).all()
    assert (listed(rr, normal, ~early, np.where(early, 0.5, 0.99)).kind == R.NORMAL).all()
    # an interpolated ventricular beat halfway through a sinus cycle: the sinus beat after it, its
    # P wave hidden in the ventricular beat's T wave; also where noise had that beat called normal
    interpolated = np.tile([0.8, 0.8, 0.8, 0.4, 0.4], 24)
    kind = np.tile([R.NORMAL, R.NORMAL, R.NORMAL, R.VENTRICULAR, R.NORMAL], 24)
    p_found, qrs_r = np.tile([True, True, True, False, False], 24), np.where(kind == R.NORMAL, 0.99, 0.3)
    assert listed(interpolated, kind, p_found, qrs_r).kind.tolist() == kind.tolist()
    assert (listed(interpolated, np.full(120, R.NORMAL), p_found, qrs_r).kind == R.NORMAL).all()
    rng = np.random.default_rng(0)  # some fibrillatory waves read as P waves, as happens
    irregular, waves = rng.uniform(0.35, 1.15, 180), rng.random(180) < 0.35
    af = listed(irregular, np.full(180, R.NORMAL), waves, np.full(180, 0.99))
    assert [e.kind for e in af.events] == ["atrial fibrillation"]
    assert (af.kind == R.NORMAL).all()
    # more of them, enough to make it no episode (LUDB 173 at two leads), but at any distance from
    # the QRS, unlike a sinus P wave's steady PR interval
    waves = np.tile([True, True, True, False], 45)
    anywhere = np.tile([-90.0, 0.0, 90.0, 0.0], 45)
    scattered = listed(irregular, np.full(180, R.NORMAL), waves, np.full(180, 0.99), anywhere)
    assert not [e for e in scattered.events if e.kind == "atrial fibrillation"]
    assert (scattered.kind == R.NORMAL).all()
    assert (listed(irregular, np.full(180, R.NORMAL), waves, np.full(180, 0.99)).kind == R.SUPRA).any()
    for n in (0, 1, 5):  # a recording with no beat, one, or too few to have neighbours enough
        assert len(listed(rr[:n], normal[:n], ~early[:n], np.full(n, 0.99)).kind) == n


def test_a_mildly_premature_beat_with_an_unlike_p_wave_in_sinus_rhythm_is_supraventricular():
    """Sinus rhythm (0.8 s, P waves alike) where every fifth beat comes 15 % early with a P wave
    unlike the page's (an atrial premature beat's P'), all called normal: the beat list calls those
    supraventricular (``premature_p_unlike``). Not so a beat early by 5 %, one 15 % early with the
    sinus P wave (sinus arrhythmia), the same beats in noise (QRS clarity low), nor beats of
    fibrillation (irregular, P windows all unlike) or of sinus rhythm whose P waves are all unlike."""
    from ecgviewer.measure import beat_classes as C

    def listed(rr: np.ndarray, p_r: np.ndarray, clarity: float = 4.0) -> R.BeatList:
        n = len(rr)
        fid = np.full((5, n), np.nan)
        fid[R.BEAT_FIDUCIALS.index("p_on")], fid[R.BEAT_FIDUCIALS.index("qrs_on")] = -160.0, -40.0
        features = np.zeros((len(C.FEATURES), n))
        features[C.FEATURES.index("qrs_r")], features[C.FEATURES.index("p_r")] = 0.99, p_r
        features[C.FEATURES.index("clarity")] = clarity
        t = np.cumsum(rr)
        shapes = np.zeros((n, 2, 50), np.float16)
        found = R.Detected(t, np.full(n, R.NORMAL, np.int8), fid, features, shapes, [], float(rr.sum() + 1.0),
                           ("II", "V1"), ())  # fmt: skip
        return R.with_kinds(found, found.kind)

    early = np.tile([False, False, False, False, True], 24)
    rr = np.where(early, 0.68, 0.8) + np.where(np.r_[False, early[:-1]], 0.12, 0.0)  # its pause
    p_prime = np.where(early, 0.2, 0.9)
    assert ((listed(rr, p_prime).kind == R.SUPRA) == early).all()
    assert (listed(rr, p_prime, clarity=2.0).kind == R.NORMAL).all()
    assert (listed(np.where(early, 0.76, 0.8), p_prime).kind == R.NORMAL).all()
    assert (listed(rr, np.full(120, 0.9)).kind == R.NORMAL).all()
    assert (listed(rr, np.full(120, 0.2)).kind == R.NORMAL).all()
    irregular = np.random.default_rng(1).uniform(0.4, 1.1, 180)
    assert (listed(irregular, np.full(180, 0.9)).kind == R.NORMAL).all()
    for n in (0, 1, 5):  # a recording with no beat, one, or too few to have neighbours enough
        assert len(listed(rr[:n], p_prime[:n]).kind) == n
