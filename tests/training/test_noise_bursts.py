"""``python -m training noise-bursts``: a burst of noise among clean minutes, counted and reported,
paired case by case with an earlier run."""

from __future__ import annotations

import json
from argparse import Namespace
from dataclasses import replace

from training.validate import noise_bursts as NB


def test_one_burst_counted_reported_and_paired(tmp_path):
    from ecgviewer.measure.delineate import Delineator

    case = NB.measure("muscle", 4.0, 10.0, 15.0, Delineator.bundled())
    assert case.true_inside == 11 and case.paced == 0 and case.ectopic == 0 and case.clean_missed == 0
    assert case.invented <= 2 and case.unreadable_s >= 6.0  # the burst is read as noise, not beats
    worse = replace(case, invented=case.invented + 9, paced=2)
    text = NB.report([case], "python -m training noise-bursts", against=[worse])
    assert f"| muscle | 4 | 1 | 11 | {case.invented} | 0 | 0 | {case.unlisted} |" in text
    assert f"invented {case.invented + 9} -> {case.invented}, paced listed 2 -> 0" in text
    assert "cases with fewer invented beats 1, with more 0" in text
    counts = tmp_path / "counts.json"
    NB.command(Namespace(out=tmp_path / "NB.md", counts=counts, against=None, noises=["muscle"], sizes=[4.0],
                         lengths=[10.0], starts=[15.0]))  # fmt: skip
    assert [NB.Case(**c) for c in json.loads(counts.read_text())] == [case]
    assert (
        "--counts counts.json --noises muscle --sizes 4.0 --lengths 10.0 --starts 15.0"
        in (tmp_path / "NB.md").read_text()
    )
