"""The Holter summary's counts of ectopic beats, on kind sequences whose patterns are known."""

from __future__ import annotations

import numpy as np
import pytest

from ecgviewer.measure import ectopy
from ecgviewer.measure.rhythm import KINDS, NORMAL, SUPRA, VENTRICULAR

CODES = {"N": NORMAL, "V": VENTRICULAR, "S": SUPRA}


def beats(pattern: str, rr_s: float = 0.8, gaps: tuple[int, ...] = ()) -> tuple:
    """Beat times, kinds and RR (ms) of ``pattern`` (one letter a beat), regular at ``rr_s``; the RR
    into each beat of ``gaps`` unknown (an unreadable stretch before it)."""
    kind = np.array([CODES[c] for c in pattern.replace(" ", "")], np.int8)
    t = np.arange(len(kind)) * rr_s
    rr = np.full(len(kind), rr_s * 1000.0)
    rr[0] = np.nan
    rr[list(gaps)] = np.nan
    return t, kind, rr


def test_singles_couplets_runs_and_patterns_are_counted_apart():
    # bigeminy (3 cycles), a couplet, a run of 4, trigeminy (4 cycles), then two lone beats
    t, kind, rr = beats("NV NV NV NNN VV NNN VVVV NNN NNV NNV NNV NNV NNNN V NNNN V NNNN")
    v = ectopy.count(t, kind, rr, VENTRICULAR, NORMAL)
    assert (v.beats, v.single, v.couplets, v.runs, v.longest) == (15, 9, 1, 1, 4)
    assert v.fastest_bpm == pytest.approx(75.0)  # the run's three intervals of 0.8 s
    assert (v.bigeminy, v.trigeminy) == (1, 1)
    assert v.pattern_s == pytest.approx((5 + 11) * 0.8)  # from each episode's first beat to its last
    kinds = [e[0] for e in ectopy.events(t, kind, rr, VENTRICULAR, NORMAL, "ventricular")]
    assert sorted(kinds) == ["ventricular bigeminy", "ventricular run", "ventricular trigeminy"]
    words = v.words("Ventricular ectopic")
    assert words.startswith(
        "Ventricular ectopic: 9 single, 1 couplet, 1 run (longest 4 beats, fastest 75 bpm)"
    )
    assert "episodes of 1 bigeminy and 1 trigeminy (13 s)" in words
    assert (
        ectopy.Ectopy(3, 3, 0, 0, 0, None, 2, 0, 200.0).words("V")
        == "V: 3 single, episodes of 2 bigeminy (3.3 min)"
    )


def test_two_cycles_are_not_bigeminy_and_an_unreadable_stretch_breaks_a_pattern():
    t, kind, rr = beats("NV NV NNNN NV NV NV")
    assert ectopy.count(t, kind, rr, VENTRICULAR, NORMAL).bigeminy == 1  # the three cycles only
    t, kind, rr = beats("NV NV NV NV", gaps=(4,))  # the RR into the third N unknown
    assert ectopy.count(t, kind, rr, VENTRICULAR, NORMAL).bigeminy == 0
    t, kind, rr = beats("NNVV V NN", gaps=(4,))  # a couplet, then a beat after the gap: not a run
    v = ectopy.count(t, kind, rr, VENTRICULAR, NORMAL)
    assert (v.couplets, v.single, v.runs) == (1, 1, 0)


def test_supraventricular_beats_are_counted_against_the_normal_ones_alone():
    t, kind, rr = beats("NS NS NS NV NS")
    s = ectopy.count(t, kind, rr, SUPRA, NORMAL)
    assert (s.beats, s.single, s.bigeminy) == (4, 4, 1)  # the V ends the supraventricular pattern
    assert ectopy.count(t, kind, rr, VENTRICULAR, NORMAL).bigeminy == 0
    assert set(KINDS) >= {"normal", "supraventricular", "ventricular"}
