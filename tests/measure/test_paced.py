"""A paced rhythm (issue 71): its QRS, QT and axes are given as the paced complex's, labelled so, not
withheld; the 10 s measurement and the beat list call the same beats paced (one rule,
``beats.paced_beats``), where the beat list once called a GE MUSE file's ten paced beats normal
because their wide QRS peaked more than 80 ms after the spike."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from ecgviewer.io import load
from ecgviewer.leads import STANDARD_LEADS
from ecgviewer.measure import beats as B
from ecgviewer.measure import rhythm as R
from ecgviewer.measure.delineate import Delineator
from ecgviewer.measure.pipeline import PACED_RHYTHM, measure, to_json
from ecgviewer.measure.statements import statements
from ecgviewer.recording import Recording, make_recording
from ecgviewer.sources import ArraySource
from tests.conftest import SAMPLE

PACED_COMPLEX = ("pr", "qrs", "qt", "qtc_bazett", "qrs_axis", "t_axis")
SPIKE_BEFORE_QRS_MS = 50.0  # a ventricular spike this long before the QRS onset: about 100 ms before R


@pytest.fixture(scope="module")
def delineator() -> Delineator:
    return Delineator.bundled()


@pytest.fixture(scope="module")
def paced(delineator: Delineator) -> Recording:
    """The bundled sample (PTB-XL record 3, sinus rhythm) with a 1 mV one-sample pacing spike in
    every lead before each QRS whose spike falls inside the recording (all but the first)."""
    rec = load(SAMPLE)
    x = np.array(rec.signals, np.float32)
    m = measure(x, rec.fs, rec.leads, delineator)
    at = m.r_times + (m.fiducials["qrs_on"] - SPIKE_BEFORE_QRS_MS) / 1000
    x[:, np.round(at[at > 0] * rec.fs).astype(int)] += 1.0
    return make_recording(None, ArraySource(x), rec.fs, list(rec.leads), "paced sample")


def _agree(m_times: np.ndarray, m_paced: tuple[bool, ...], listed: R.BeatList) -> None:
    """Every beat both found (R within 50 ms) is paced in both or in neither."""
    for t, p in zip(m_times, m_paced, strict=True):
        k = int(np.argmin(np.abs(listed.t_s - t)))
        if abs(listed.t_s[k] - t) < 0.05:
            assert bool(listed.kind[k] == R.PACED) == p, (t, R.KINDS[listed.kind[k]], p)


def test_paced_beats_give_paced_values_and_the_beat_list_calls_them_paced(paced, delineator) -> None:
    m = measure(paced.signals, paced.fs, paced.leads, delineator)
    assert m.paced_rhythm and sum(m.paced) == len(m.paced) - 1 and not m.paced[0]
    for key in PACED_COMPLEX:
        assert m.values[key].value is not None and m.values[key].paced, key
    assert not m.values["p"].paced and not m.values["hr"].paced
    assert 60 < m.values["qrs"].value < 130 and m.values["qt"].value > m.values["qrs"].value
    assert any(
        n.startswith(f"{PACED_RHYTHM}: {len(m.paced) - 1} of {len(m.paced)} beats paced") for n in m.notes
    )
    assert m.beat_reasons[0] == B.NATIVE_REASON  # the one conducted beat is left out of the median
    assert [s.criterion.code for s in statements(m)][:1] == ["PACE"]
    doc = to_json(m)
    assert doc["paced_rhythm"] and doc["values"]["qrs"]["paced"] and "paced" not in doc["values"]["hr"]
    assert [b.get("paced", False) for b in doc["beats"]] == list(m.paced)
    listed = R.analyse(paced)
    assert (listed.kind == R.PACED).sum() == len(m.paced) - 1
    _agree(m.r_times, m.paced, listed)


def test_a_spike_before_the_p_wave_does_not_pace_the_beat() -> None:
    """An atrial pacing spike starts the P wave, a PR interval before the QRS."""
    r, onset = np.array([1.0, 2.0]), np.array([0.95, 1.95])
    assert B.paced_beats(r, onset, np.array([0.92, 1.75])).tolist() == [True, False]
    assert B.paced_beats(r, onset, np.array([1.0, 2.01])).tolist() == [True, False]  # up to R, not after
    assert B.paced_beats(r, onset, None).tolist() == [False, False]


@pytest.mark.parametrize("number", [34, 74])
def test_ludb_ventricular_paced_records(shared: Path, delineator: Delineator, number: int) -> None:
    """Unipolar ventricular pacing: record 74's spikes come 84-88 ms before R (the beat list called
    its beats normal), both give wide paced complexes."""
    from training.data import ludb

    rec = ludb.load(shared / "ludb", number)
    m = measure(rec.signals, rec.fs, STANDARD_LEADS, delineator)
    assert m.paced_rhythm and m.values["qrs"].paced and m.values["qrs"].value >= 120
    assert m.values["qrs_axis"].value is not None and m.values["qrs_axis"].paced
    listed = R.analyse(
        make_recording(None, ArraySource(rec.signals), rec.fs, list(STANDARD_LEADS), "x"), delineator
    )
    assert (listed.kind == R.PACED).mean() >= 0.9
    _agree(m.r_times, m.paced, listed)


def test_at_100_hz_the_beat_list_does_not_call_unseeable_pacing_normal(shared: Path, delineator) -> None:
    """At 100 Hz a pacing spike cannot be seen (PTB-XL's paced record 144 is read as native): the
    beat list's counts say so beside "normal", as the 10 s measurement's note does."""
    rec = load(shared / "ptbxl/records100/00000/00144_lr.hea")
    assert rec.fs == 100
    listed = R.analyse(rec)
    line = listed.summary()[1]
    assert "normal" in line and B.NOT_SEEN in line
    assert any(n.startswith(B.NOT_SEEN) for n in measure(rec.signals, rec.fs, rec.leads, delineator).notes)
