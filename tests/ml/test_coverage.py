"""The caveat beside findings from fewer than 12 leads (``ecgviewer.ml.coverage``), from the card's
``lead_sets`` section, through the analyzer and ``analyze``'s JSON."""

from __future__ import annotations

import numpy as np
import pytest

from ecgviewer.leads import LIMB_LEADS, STANDARD_LEADS
from ecgviewer.ml.coverage import lead_note

SECTION = {
    "fold": 10,
    "task": "super",
    "reference": {"leads": list(STANDARD_LEADS), "auroc": 0.93},
    "sets": [
        {"name": "limb leads", "leads": list(LIMB_LEADS), "auroc": 0.88},
        {"name": "II, V1", "leads": ["II", "V1"], "auroc": 0.85},
        {"name": "II", "leads": ["II"], "auroc": 0.80},
    ],
}


def _missing(present: tuple[str, ...]) -> list[str]:
    return [lead for lead in STANDARD_LEADS if lead not in present]


def test_the_note_quotes_the_measured_set_the_recording_has() -> None:
    """None with 12 leads; the set itself when the recording has exactly its leads; the largest
    measured set within the leads otherwise; 'not measured' when none lies within them; and a
    card without figures says so."""
    assert lead_note(SECTION, []) is None and lead_note(None, []) is None
    exact = lead_note(SECTION, _missing(("II", "V1")))
    assert exact is not None
    assert (
        exact.text.startswith("2 of 12 leads (II, V1): with these leads")
        and "0.85, against 0.93" in exact.text
    )
    assert exact.short == "2 of 12 leads: AUROC 0.85 (12 leads: 0.93)"
    more = lead_note(SECTION, _missing((*LIMB_LEADS, "V1")))
    assert more is not None and "fewer of them (limb leads)" in more.text and "0.88" in more.text
    alone = lead_note(SECTION, _missing(("V2",)))
    assert alone is not None and "not measured with these leads" in alone.text and "0.93" in alone.text
    bare = lead_note(None, _missing(("II",)))
    assert bare is not None and "no figures for fewer" in bare.text


def test_the_analyzer_and_analyze_json_carry_the_note(sample) -> None:
    """A 12-lead recording has no note; the same ECG with only II and V1 gets the bundled card's
    figure for that set, in the predictions and in ``analyze``'s record."""
    from ecgviewer import assets
    from ecgviewer.io import load
    from ecgviewer.ml.infer import Analyzer
    from ecgviewer.recording import make_recording
    from ecgviewer.sources import ArraySource
    from ecgviewer.weights import read_card

    section = (read_card(assets.model_path()) or {}).get("lead_sets")
    if section is None:
        pytest.skip("the bundled card has no lead_sets section (python -m training lead-sets writes it)")
    rec = load(sample)
    analyzer = Analyzer(assets.model_path(), device="cpu")
    assert analyzer.analyse(rec).predictions.lead_note is None
    keep = [rec.index("II"), rec.index("V1")]
    pair = make_recording(None, ArraySource(np.asarray(rec.signals)[keep]), rec.fs, ["II", "V1"], "test")
    note = analyzer.analyse(pair).predictions.lead_note
    (measured,) = [s for s in section["sets"] if s["leads"] == ["II", "V1"]]
    assert note is not None and "with these leads the model's macro AUROC (super)" in note.text
    assert f"{measured['auroc']:.2f}, against {section['reference']['auroc']:.2f}" in note.text
