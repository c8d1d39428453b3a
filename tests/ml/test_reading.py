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
    agreed = reading(whole, (0.0, 10.0), 10.0, 60.0, 30.0, measured_beats=whole.detected + 1)
    assert agreed.every_beat and np.isfinite(agreed.beats_read)
