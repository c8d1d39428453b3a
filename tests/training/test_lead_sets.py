"""``python -m training lead-sets``: the classifier on the lead sets users record, through the app."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest

from tests.conftest import training_main
from training.data import datasets as D
from training.validate import lead_sets as L

# fold 10's first records the command reads: each is analysed once per lead set with the bundled
# model (about 0.17 s a set on 2 cores); 6 carry labels of several superclasses, enough for the
# paired differences and a record that counts (12 took twice the time and tested nothing more)
LIMIT = 6


def test_a_lead_set_is_built_as_a_reader_builds_it(shared: Path) -> None:
    """I and II bring the derived limb leads, a chest lead comes alone, and a set the recording
    lacks entirely is refused with the file's name."""
    from ecgviewer.errors import EcgError
    from ecgviewer.io import load

    root = D.ptbxl_root(shared)
    labels = D.load_labels(root)
    ecg_id = int(labels.ecg_id[labels.fold == D.TEST_FOLD].min())
    rec = load(D.ptbxl_record(root, ecg_id).with_suffix(".hea"))
    two = L.subset(rec, ("I", "II"))
    assert two.leads == ("I", "II", "III", "aVR", "aVL", "aVF") and two.derived == {
        "III",
        "aVR",
        "aVL",
        "aVF",
    }
    assert (two.signals[:2] == rec.signals[[rec.index("I"), rec.index("II")]]).all()
    assert L.subset(rec, ("V1",)).leads == ("V1",)
    with pytest.raises(EcgError, match=rf"{ecg_id:05d}_lr\.hea: none of X"):
        L.subset(rec, ("X",))


def test_the_command_scores_every_set_paired_with_12_leads(shared: Path, tmp_path: Path) -> None:
    """On the first records of fold 10: the 12-lead probabilities are the app's for the file, each
    set has its row and paired difference, a re-run computes nothing, and a record a set could not
    analyse is counted and left out of every set's figures."""
    from ecgviewer import assets
    from ecgviewer.io import load
    from ecgviewer.ml.infer import Analyzer
    from ecgviewer.weights import read_card

    model = tmp_path / "model" / assets.model_path().name  # a copy: the command writes its card
    model.parent.mkdir()
    for suffix in (".safetensors", ".json"):
        shutil.copy(assets.model_path().with_suffix(suffix), model.with_suffix(suffix))
    run, out = tmp_path / "run", tmp_path / "LEAD_SETS.md"
    training_main("lead-sets", "--data-root", shared, "--run-dir", run, "--model", model, "--folds", "10",
                  "--limit", str(LIMIT), "--out", out, "--no-progress")  # fmt: skip
    (path,) = run.glob("lead-sets-fold10-*.jsonl")
    rows = [json.loads(line) for line in path.read_text().splitlines()]
    assert len(rows) == LIMIT and all(set(r["sets"]) == set(L.LEAD_SETS) for r in rows)

    root = D.ptbxl_root(shared)
    labels = D.load_labels(root)
    first = rows[0]
    file = D.ptbxl_record(root, first["ecg_id"]).with_suffix(".hea")
    app = Analyzer(assets.model_path(), device="cpu").analyse(load(file))
    assert first["sets"][L.REFERENCE]["super"] == pytest.approx(
        {c.code: c.probability for c in app.predictions.tasks["super"]}, abs=1e-6
    )
    assert first["sets"]["II (single lead)"]["super"] != first["sets"][L.REFERENCE]["super"]

    md = out.read_text()
    for name in L.LEAD_SETS:
        assert any(line.startswith(f"| {name} |") for line in md.splitlines()), name
    assert "## Fold 10 (reported): `super`" in md and "## Fold 10 (reported): `all`" in md
    section = read_card(model)["lead_sets"]  # the card keeps fold 10's super figures
    assert section["fold"] == 10 and section["reference"]["leads"] == list(L.LEAD_SETS[L.REFERENCE])
    assert [s["name"] for s in section["sets"]] == list(L.LEAD_SETS)[1:]
    assert "## Fewer leads" in model.with_suffix(".md").read_text()
    # its read of fold 10 is in the (tests' own) ledger
    ledger = Path(os.environ["TRAINING_LEDGER"]).read_text()
    assert f"{model.name} (lead-sets)" in ledger and "| super | macro AUROC 12 leads" in ledger
    before = path.read_text()
    assert L.run(model, shared, run, (10,), LIMIT, progress=False) == {10: path}  # the command's run, again
    assert path.read_text() == before

    whole = L.scores(rows, labels, "super")
    assert whole["failed"] == 0 and whole["sets"][L.REFERENCE].get("difference") is None
    _, y = labels.task("super")
    row_of = {int(e): i for i, e in enumerate(labels.ecg_id)}
    k = next(k for k, r in enumerate(rows) if y[row_of[r["ecg_id"]]].any())  # a record that counts
    lost = rows[k] | {"sets": rows[k]["sets"] | {"I (single lead, wearables)": {"error": "no beat"}}}
    less = L.scores([*rows[:k], lost, *rows[k + 1 :]], labels, "super")
    assert less["failed"] == 1 and less["n"] == whole["n"] - 1
