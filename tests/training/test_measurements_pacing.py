"""MEASUREMENTS.md's pacing table: per condition, paced records found and others called paced,
from the measurement's own notes, and the reason where spikes were not looked for."""

from __future__ import annotations

import numpy as np

from ecgviewer.measure import beats as B
from ecgviewer.measure.pipeline import PACED_RHYTHM
from training.validate.measurements import pacing_table


def test_pacing_table_counts_the_records_withheld_as_paced_and_says_where_it_could_not_look() -> None:
    found = [f"{PACED_RHYTHM}: 9 pacing spikes; intervals and axes are not measured"]
    blind = B.pacing_note(np.zeros((1, 1000)), 500.0)  # one lead
    rows = [
        {"condition": "clean", "paced": True, "notes": found},
        {"condition": "clean", "paced": True, "notes": []},
        {"condition": "clean", "paced": False, "notes": found},
        {"condition": "clean", "paced": False, "notes": []},
        {"condition": "leads=1", "paced": True, "notes": blind},
        {"condition": "leads=1", "paced": False, "notes": blind},
    ]
    lines = pacing_table(rows)
    clean = next(x for x in lines if x.startswith("| clean"))
    assert clean.startswith("| clean | 0.500 [") and clean.count("(n=2)") == 2 and clean.endswith("|  |")
    one = next(x for x in lines if x.startswith("| leads=1"))
    assert one.startswith("| leads=1 | 0.000 [") and one.endswith(
        "| pacing spikes are looked for in 2 or more leads, not 1 |"
    )
