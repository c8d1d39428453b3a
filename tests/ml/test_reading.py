"""What the model read, and exactly which seconds it did not read and why (``ml.reading``)."""

from __future__ import annotations

import numpy as np

from ecgviewer.leads import STANDARD_LEADS
from ecgviewer.ml import contract as C
from ecgviewer.ml.reading import reading
from tests.ml.test_contract import ecg_like


def test_every_beat_of_a_fast_rhythm_is_said_read():
    tok = C.tokenise(ecg_like(10, 250, 152), 250, STANDARD_LEADS)
    r = reading(tok, (0.0, 10.0), 10.0, 60.0, 30.0)
    assert r.every_beat and r.beats_read == r.beats_detected == tok.detected > 15
    assert r.text == f"Read: all {tok.detected} beats of 0.0\u201310.0 s (2 windows)."


def test_what_is_not_read_is_said_with_its_seconds():
    """A long recording's span, a stretch without R peaks, and a count the measurements dispute."""
    x = ecg_like(20, 250)
    x[:, 2500:] = 0.0  # the second 10 s flat: no R peaks there
    tok = C.tokenise(x, 250, STANDARD_LEADS)
    assert tok.fallback.tolist() == [False, True]
    r = reading(tok, (30.0, 50.0), 120.0, 60.0, 30.0)
    spans = [(u.start_s, u.stop_s) for u in r.unread]
    assert spans == [(0.0, 30.0), (40.0, 50.0), (50.0, 120.0)] and not r.every_beat
    assert "no R peaks found" in r.unread[1].reason and "30 s at a time" in r.unread[0].reason
    assert "not read 40.0\u201350.0 s: no R peaks found" in r.text
    whole = C.tokenise(ecg_like(10, 250), 250, STANDARD_LEADS)
    disputed = reading(whole, (0.0, 10.0), 10.0, 60.0, 30.0, measured_beats=whole.detected + 5)
    assert not disputed.every_beat and "may not have been read" in disputed.unread[0].reason
    extra = reading(whole, (0.0, 10.0), 10.0, 60.0, 30.0, measured_beats=whole.detected - 5)
    assert "T waves or noise" in extra.unread[0].reason and "not read" not in extra.text
    assert f"disputed 0.0\u201310.0 s: the model's R-peak detector found {whole.detected} beats" in extra.text
    assert extra.unread[0].beats == 5
    agreed = reading(whole, (0.0, 10.0), 10.0, 60.0, 30.0, measured_beats=whole.detected + 1)
    assert agreed.every_beat and np.isfinite(agreed.beats_read)


def test_beats_read_in_a_stretch_too_noisy_to_measure_are_said_disputed():
    """The model's R-peak detector finds "beats" in noise where the measurements read none: the
    reading says how many it read there, and no longer that every beat was read."""
    whole = C.tokenise(ecg_like(10, 250), 250, STANDARD_LEADS)
    beat_s = np.unique(whole.rpeaks[whole.rpeaks >= 0]) / 250
    inside = int(((beat_s >= 2.0) & (beat_s <= 5.0)).sum())
    # the measurements count no beat in the noise: the model's beats there are not disputed twice
    measured = whole.detected - inside
    r = reading(whole, (0.0, 10.0), 10.0, 60.0, 30.0, measured, too_noisy=[(2.0, 5.0), (9.99, 10.0)])
    said = [(u.start_s, u.stop_s, u.verb, u.beats) for u in r.unread]
    assert inside >= 2 and said == [(2.0, 5.0, "disputed", inside)]
    words = f"disputed 2.0\u20135.0 s: too noisy to read for the measurements: the model read {inside} beats"
    assert words in r.text
    assert not r.every_beat and r.to_json()["unread"][0]["beats"] == inside
    more = reading(whole, (0.0, 10.0), 10.0, 60.0, 30.0, measured - 5, too_noisy=[(2.0, 5.0)])
    assert [u.beats for u in more.unread] == [5, inside]  # the whole span's dispute first, then the noise
    said = f"found {measured} beats outside the noise where the measurements found {measured - 5}"
    assert said in more.text
