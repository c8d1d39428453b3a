"""The preprocessing contract: R-peaks against LUDB, token geometry, windows and bad input."""

from __future__ import annotations

import json

import numpy as np
import pytest

from ecgviewer.leads import STANDARD_LEADS
from ecgviewer.ml import contract as C


def ecg_like(seconds: float, fs: float, rate_bpm: float = 72.0, leads=STANDARD_LEADS) -> np.ndarray:
    """Narrow Gaussian 'QRS' spikes of 1 mV on every lead at a fixed rate."""
    t = np.arange(int(seconds * fs)) / fs
    beats = np.arange(0.4, seconds, 60.0 / rate_bpm)
    x = sum(np.exp(-0.5 * ((t - b) / 0.012) ** 2) for b in beats)
    return np.tile(x, (len(leads), 1)).astype(np.float32)


def test_rpeak_detector_choice_measured_on_ludb(shared, capsys):
    """The contract's detector meets Se and PPV >= 99 % on LUDB lead II and beats xqrs."""
    from training.validate.rpeaks import compare

    res = compare(shared / "ludb")
    with capsys.disabled():
        print("\nR-peaks on LUDB:", json.dumps(res["results"]))
    by = {r["method"]: r for r in res["results"]}
    f1 = {m: 2 * r["sensitivity"] * r["ppv"] / (r["sensitivity"] + r["ppv"]) for m, r in by.items()}
    assert by[C.RPEAK_METHOD]["annotated_r"] == 1831
    assert by[C.RPEAK_METHOD]["sensitivity"] >= 0.99
    assert by[C.RPEAK_METHOD]["ppv"] >= 0.99
    assert abs(by[C.RPEAK_METHOD]["offset_ms_mean"]) < 10
    assert f1[C.RPEAK_METHOD] == max(f1.values())


def test_ludb_tokens_are_centred_on_annotated_r(shared):
    import wfdb

    from training.validate.rpeaks import ludb_record, match

    signals, fs, leads, ref, _ = ludb_record(shared / "ludb/data/1")
    tok = C.tokenise(signals, fs, leads)
    assert tok.values.shape == (1, 12, C.MAX_BEATS, C.TOKEN_LEN)
    assert tok.rpeak_lead == "II" and not tok.fallback[0]
    beats = tok.rpeaks[0][tok.rpeaks[0] >= 0]
    tp, off = match(ref, beats, int(0.075 * fs))
    assert tp == len(ref) and np.abs(off).max() <= 0.02 * fs  # every annotated beat, within 20 ms
    # the R sample of lead II sits at index 48 of its token, and the token is the trace there
    x = C.band_pass(C.to_model_rate(C.standard_leads(signals, leads)[0], fs))
    for j, r in enumerate(beats):
        r100 = round(r * C.FS / fs)
        assert tok.values[0, 1, j, C.R_INDEX] == pytest.approx(x[1, r100], abs=1e-5)
        a, b = tok.spans[0, j]
        assert a <= r < b and b - a <= C.TOKEN_LEN * fs / C.FS
    assert wfdb.rdheader(str(shared / "ludb/data/1")).sig_len == signals.shape[1]


def test_beat_spans_midpoints_and_clamps():
    spans = C.beat_spans(np.array([60, 140, 400]), n=450)
    # first: R-48; 60|140 midpoint 100; 140|400 midpoint 270 clamped to R+48 = 188;
    # third starts at the midpoint 270, clamped to R-48 = 352, ends at min(R+48, n) = 448
    assert spans.tolist() == [[12, 100], [100, 188], [352, 448]]
    assert C.beat_spans(np.array([10]), n=50).tolist() == [[0, 50]]


def test_padding_short_and_windows_long():
    short = C.tokenise(ecg_like(4, 500), 500, STANDARD_LEADS)
    n_beats = (~short.pad[0, 0]).sum()
    assert short.n_windows == 1 and 3 <= n_beats <= 5
    assert (short.values[0, :, n_beats:] == 0).all() and short.pad[0, :, n_beats:].all()
    long = C.tokenise(ecg_like(35, 500), 500, STANDARD_LEADS)
    # 35 s: four equal tiles of 8.75 s that do not overlap (no sliver of a tile at the end)
    assert long.window_start.tolist() == [0, 4375, 8750, 13125]
    assert long.window_stop.tolist() == [4375, 8750, 13125, 17500]
    assert not long.fallback.any()
    r = long.rpeaks[1][long.rpeaks[1] >= 0]
    assert (r >= 4375).all() and (r < 8750).all()
    assert long.local_rpeaks[1, 0] == (r[0] - 4375) // 5


@pytest.mark.parametrize("bpm", [30, 72, 152, 190, 220])
@pytest.mark.parametrize("seconds", [4, 10, 60])
def test_every_beat_is_read_once(bpm, seconds):
    """At any rate from 30 to 220 bpm and any length, every detected beat is a token of exactly one
    window, no window holds more than 15 beats or more than 10 s, and the first window of a 10 s
    record is what the model was trained on (its first 15 beats, from the start)."""
    x = ecg_like(seconds, 250, bpm)
    tok = C.tokenise(x, 250, STANDARD_LEADS)
    real = tok.rpeaks[tok.rpeaks >= 0]
    assert not tok.fallback.any()
    assert len(real) == tok.detected == len(np.unique(real))  # all of them, once each
    assert abs(tok.detected - len(np.arange(0.4, seconds, 60 / bpm))) <= 1
    assert ((tok.window_stop - tok.window_start) <= 10 * 250).all()
    assert ((tok.rpeaks >= 0).sum(axis=1) <= C.MAX_BEATS).all()
    for w in range(tok.n_windows):  # each beat's token lies inside its window
        ok = tok.rpeaks[w] >= 0
        assert (tok.spans[w, ok, 0] >= tok.window_start[w]).all()
        assert (tok.spans[w, ok, 1] <= tok.window_stop[w]).all()
    weights = C.window_weights(tok)
    assert weights.sum() == pytest.approx(1.0)
    if seconds == 10:
        x100, present = C.prepare(x, 250, STANDARD_LEADS)
        peaks, _ = C.find_rpeaks(x100, present)
        first = C.tokenise_window(x100, peaks, present)
        assert np.array_equal(tok.values[0], first[0]) and np.array_equal(tok.local_rpeaks[0], first[2])


def test_beats_the_reference_lead_misses_are_found_by_the_others():
    """Lead II loses two beats (a flat stretch): half the other leads agree on them, so they are
    read; at the original positions."""
    x = ecg_like(10, 500, 72)
    truth = np.arange(0.4, 10, 60 / 72)
    ii = STANDARD_LEADS.index("II")
    for b in truth[[3, 7]]:
        x[ii, int((b - 0.1) * 500) : int((b + 0.1) * 500)] = 0.0
    x100, present = C.prepare(x, 500, STANDARD_LEADS)
    lone = C.detect_rpeaks(x100[ii])
    peaks, lead = C.find_rpeaks(x100, present)
    assert lead == "II" and len(lone) == len(truth) - 2
    assert len(peaks) == len(truth)
    assert np.abs(peaks / C.FS - truth).max() <= 0.02


def test_a_second_peak_in_one_lead_is_not_a_beat_but_a_fast_rhythm_is():
    """A peak 0.27 s after R in lead II alone (a notched wide QRS, a tall T) is dropped; the same
    spacing in every lead (222 bpm) is a rhythm, and every beat stands."""
    ii = STANDARD_LEADS.index("II")
    slow = ecg_like(10, 500, 60)
    t = np.arange(slow.shape[1]) / 500
    slow[ii] += sum(np.exp(-0.5 * ((t - b - 0.27) / 0.012) ** 2) for b in np.arange(0.4, 10, 1.0))
    x100, present = C.prepare(slow, 500, STANDARD_LEADS)
    assert len(C.detect_rpeaks(x100[ii])) > 12  # lead II alone takes the extra peaks for beats
    assert len(C.find_rpeaks(x100, present)[0]) == 10
    fast = ecg_like(10, 500, 222)
    x100, present = C.prepare(fast, 500, STANDARD_LEADS)
    assert len(C.find_rpeaks(x100, present)[0]) == len(np.arange(0.4, 10, 60 / 222))


def test_consensus_needs_half_of_the_other_leads():
    ref = np.array([100, 200, 300, 400, 500])
    minority = [np.array([100, 200, 250, 300, 400, 500])] * 3 + [np.array([100, 200, 300, 400, 500])] * 8
    assert C.consensus(ref, minority).tolist() == ref.tolist()  # 3 of 11 leads: not a beat
    missed = np.array([100, 200, 400, 500])
    majority = [np.array([100, 200, 302, 400, 500])] * 6 + [np.array([100, 200, 400, 500])] * 5
    assert C.consensus(missed, majority).tolist() == [100, 200, 302, 400, 500]
    assert C.consensus(missed, []).tolist() == missed.tolist()  # one lead: as it is


def test_paced_ptbxl_144_every_beat_at_100_hz(shared):
    """The paced PTB-XL 144 at 100 Hz: lead II alone finds 7 of its 11 beats (contract 1); every
    lead together finds all, each within 80 ms of V5's R (a paced QRS peaks at other times in other
    leads)."""
    import wfdb

    from ecgviewer.leads import canonical_lead
    from training.validate.rpeaks import contract1_rpeaks

    rec = wfdb.rdrecord(str(shared / "ptbxl/records100/00000/00144_lr"))
    x100, present = C.prepare(rec.p_signal.T, rec.fs, [canonical_lead(n) for n in rec.sig_name])
    assert len(contract1_rpeaks(x100, present)) == 7
    peaks, _ = C.find_rpeaks(x100, present)
    v5 = C.detect_rpeaks(x100[STANDARD_LEADS.index("V5")])
    assert len(peaks) == len(v5) == 11
    assert np.abs(peaks - v5).max() <= 8


def test_a_patch_scaffold_keeps_one_window_a_tile():
    x100, present = C.prepare(ecg_like(10, 250, 152), 250, STANDARD_LEADS)
    assert C.tokenise_prepared(x100, present, 250).n_windows == 2
    assert C.tokenise_prepared(x100, present, 250, chunk=False).n_windows == 1


def test_missing_nan_and_flat_leads_are_padded():
    x = ecg_like(10, 100, leads=("I", "II", "V1"))
    x[2, 100:200] = np.nan  # a gap in V1 is interpolated, not propagated
    tok = C.tokenise(x, 100, ("I", "II", "V1"))
    assert np.isfinite(tok.values).all()
    missing = set(STANDARD_LEADS) - {"I", "II", "V1"}
    assert set(tok.missing_leads) == missing
    for i, lead in enumerate(STANDARD_LEADS):
        assert tok.pad[0, i].all() == (lead in missing)
    nan_lead = ecg_like(10, 100, leads=("I", "II"))
    nan_lead[1] = np.nan
    tok = C.tokenise(nan_lead, 100, ("I", "II"))
    assert "II" in tok.missing_leads and tok.rpeak_lead == "I"  # falls back to another lead


def test_no_detectable_beat_uses_flagged_pseudo_beats():
    rng = np.random.default_rng(0)
    noise = rng.normal(0, 0.001, (12, 1000)).astype(np.float32)
    noise[:, ::7] += 0.02
    tok = C.tokenise(np.zeros((12, 1000), np.float32), 100, STANDARD_LEADS)
    assert tok.fallback.all() and tok.rpeak_lead is None and tok.pad.all()  # flat: every lead absent
    assert len(C.detect_rpeaks(noise[1])) >= 0  # does not raise on noise


def test_odd_sampling_rate_resamples_to_100_hz():
    x = ecg_like(10, 257)
    assert C.to_model_rate(x, 257).shape[-1] == 1000
    tok = C.tokenise(x, 257, STANDARD_LEADS)
    assert not tok.fallback.any() and (~tok.pad[0, 0]).sum() >= 11
    assert tok.spans.max() <= x.shape[-1]
