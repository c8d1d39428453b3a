"""MEASUREMENTS.md's pacing table: per condition, paced records found and others called paced,
from the measurement's own notes, and the reason where spikes were not looked for; and the
bundled delineator's card that the command rewrites."""

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


def test_the_card_of_weights_validated_again_keeps_when_and_from_what_they_were_made(tmp_path, monkeypatch):
    """``measurements`` rewrites the bundled delineator's card with fresh figures; the same weights
    keep their creation date, commit and recipe (the validation's own go beside them), and new
    weights take this run's."""
    import json

    from ecgviewer.measure.delineate import Delineator
    from ecgviewer.measure.unet import UNet1d, UNetConfig
    from training.validate import measurements as M

    weights = tmp_path / "d.safetensors"
    Delineator(UNet1d(UNetConfig(widths=(4, 8), kernel=5)), {}).save(weights, {"trained_on": [1, 2]})
    monkeypatch.setattr(M.time, "strftime", lambda _: "first")
    M.write_card(weights, [], {"recipe": {"steps": 1}}, "cmd")
    monkeypatch.setattr(M.time, "strftime", lambda _: "second")
    M.write_card(weights, [], {"recipe": {"steps": 2}}, "cmd")
    card = json.loads(weights.with_suffix(".json").read_text())
    assert (card["created"], card["recipe"], card["validated"]["at"]) == ("first", {"steps": 1}, "second")
    assert "- Created first from" in weights.with_suffix(".md").read_text()
    Delineator(UNet1d(UNetConfig(widths=(4, 8), kernel=5)), {}).save(weights, {"trained_on": [1, 2, 3]})
    M.write_card(weights, [], {"recipe": {"steps": 3}}, "cmd")  # other weights: a card of their own
    card = json.loads(weights.with_suffix(".json").read_text())
    assert (card["created"], card["recipe"]) == ("second", {"steps": 3})
