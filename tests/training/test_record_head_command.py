"""``python -m training record-head`` (issue 75's rhythm inputs): the app's head is the models
scikit-learn fitted, and the command fits on folds 1-8, chooses on fold 9 and never reads fold 10."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest

from ecgviewer.ml import record_head as H
from ecgviewer.weights import read_card
from tests.conftest import training_cli
from training.supervised import record_head as T


def test_the_apps_forward_pass_is_the_fitted_models() -> None:
    """The head's NumPy forward gives scikit-learn's probabilities for the same inputs (the same
    seeds refitted), features that could not be measured included: the perceptrons', the logistic
    regressions' and the trees' (walked here), their log-odds averaged; a statement seen once has no
    trees and its share of the records."""
    from sklearn.ensemble import HistGradientBoostingClassifier
    from sklearn.linear_model import LogisticRegression
    from sklearn.neural_network import MLPClassifier

    rng = np.random.default_rng(0)
    x = rng.normal(size=(300, len(H.NAMES))) * 10 + 50
    x[rng.random(x.shape) < 0.05] = np.nan
    y = np.stack([x[:, 1] > 50, np.nan_to_num(x[:, 4]) > 55, rng.random(300) < 0.3, np.arange(300) == 7],
                 axis=1).astype(int)  # fmt: skip
    cfg = T.Config(hidden=8, members=2, max_iter=50, trees=30)
    arrays = T.fit(x, y, cfg)
    head = T.head(arrays, ["A", "B", "C", "D"], cfg, 1.0)
    z = np.clip((H.inputs(x, arrays["median"]) - arrays["mean"]) / arrays["scale"], -H.CLIP, H.CLIP)
    nets = [MLPClassifier((8, 8), alpha=cfg.alpha, max_iter=50, random_state=m).fit(z, y) for m in range(2)]
    mlp = np.mean([n.predict_proba(z) for n in nets], axis=0)
    linear = np.stack([LogisticRegression(C=cfg.linear_c, max_iter=500).fit(z, y[:, k]).predict_proba(z)[:, 1]
                       for k in range(4)], axis=1)  # fmt: skip
    boosted = {"learning_rate": cfg.tree_rate, "max_leaf_nodes": cfg.tree_leaves,
               "l2_regularization": cfg.tree_l2}  # fmt: skip
    trees = [HistGradientBoostingClassifier(max_iter=30, early_stopping=True, random_state=k, **boosted)
             .fit(x, y[:, k]).predict_proba(x)[:, 1] for k in range(3)]  # fmt: skip
    forest = np.stack([*trees, np.full(300, 1 / 300)], axis=1)
    assert len(head.forest.root) > 3 and set(head.forest.code) == {0, 1, 2}
    assert np.allclose(H.sigmoid(head.forest.logits(x)), forest, atol=1e-9)
    want = H.sigmoid(sum(H.logit(p, H.FLOOR) for p in (mlp, linear, forest)) / 3)
    assert np.allclose(head.probabilities(x), want, atol=1e-9)


def test_the_features_cache_is_keyed_by_the_beat_classifier(tmp_path: Path, monkeypatch) -> None:
    """The share of each beat kind is a feature: another classifier file must not read the features
    cached with the bundled one (a stale cache once went unnoticed)."""
    import shutil

    import ecgviewer.assets as assets

    bundled = assets.beat_classifier_path()
    other = tmp_path / bundled.name
    shutil.copy(bundled, other)
    before = T._key()
    monkeypatch.setattr(assets, "beat_classifier_path", lambda: other)
    assert T._key() == before  # the same bytes: the same key
    with other.open("ab") as f:
        f.write(b" ")
    assert T._key() != before


def test_the_command_fits_on_training_folds_and_chooses_on_fold_9(shared: Path, tmp_path: Path) -> None:
    """The first 6 records of each fold (12 before: the features of 108 records, 15 s of a cold
    cache, where 54 fit and choose as well)."""
    out, report = tmp_path / "record-test.safetensors", tmp_path / "RECORD_HEAD.md"
    ledger = Path(os.environ["TRAINING_LEDGER"])
    before = ledger.read_text() if ledger.is_file() else ""
    limit = 6
    training_cli("record-head", "--data-root", shared, "--limit", str(limit), "--out", out,
                 "--report", report, "--workers", "1")  # fmt: skip
    head = H.RecordHead.load(out)
    card = read_card(out)
    assert card is not None and card["weight"] == head.weight and head.weight in T.WEIGHTS
    assert head.meta["encoder_sha256"] == card["model"]["sha256"]
    assert card["records"]["train"] > limit and card["records"]["val"] == limit
    assert [r["weight"] for r in card["weights"]] == list(T.WEIGHTS)
    best = max(r["auroc"] for r in card["weights"])
    assert card["combined"]["auroc"] == pytest.approx(best)
    text = report.read_text()
    assert "fold 10 is not read" in text and "research use, not a medical device" in text
    assert (ledger.read_text() if ledger.is_file() else "") == before  # no fold-10 read logged, none made
    assert json.loads(out.with_suffix(".json").read_text())["command"] == T.COMMAND


def test_fold_10_is_read_for_the_head_that_ships_and_logged(shared: Path, tmp_path: Path) -> None:
    """``--test`` scores the given head beside the kept encoder predictions, paired against the
    encoder alone and the kept CNN, into its card and the report, and logs each task's read."""
    import shutil

    from ecgviewer.assets import record_head_path

    out, report = tmp_path / "record-ptbxl.safetensors", tmp_path / "RECORD_HEAD.md"
    for suffix in (".safetensors", ".json", ".md"):
        shutil.copy(record_head_path().with_suffix(suffix), out.with_suffix(suffix))
    ledger = Path(os.environ["TRAINING_LEDGER"])
    training_cli("record-head", "--test", "--data-root", shared, "--limit", "60", "--out", out,
                 "--report", report, "--workers", "1")  # fmt: skip
    card = read_card(out)
    tasks = (*T.TASKS, *(["super"] if H.RecordHead.load(out).superclasses else []))
    assert card is not None and set(card["test"]["tasks"]) == set(tasks)
    for task in ("rhythm", "super")[: len(tasks) - len(T.TASKS) + 1]:  # super's CNN: its `all` model's
        read = card["test"]["tasks"][task]
        assert read["records"] == 60 and "both_minus_inception1d" in read and "both_minus_encoder" in read
    assert "## Fold 10" in report.read_text() and "## Fold 10" in out.with_suffix(".md").read_text()
    logged = ledger.read_text()
    assert all(f"| {task} | macro AUROC {card['test']['tasks'][task]['both']['auroc']:.4f} |" in logged
               for task in tasks)  # fmt: skip


def test_fold_9_is_read_again_for_the_head_with_today_s_beat_list_fitting_and_logging_nothing(
    shared: Path, tmp_path: Path
) -> None:
    """``--check`` asks whether the head must be fitted again after the beat list changed: each
    task's fold-9 figure beside the one its card was fitted with, and paired against another head
    (here itself: no difference); the head's files and the fold-10 ledger are left as they were."""
    from ecgviewer.assets import record_head_path

    ledger = Path(os.environ["TRAINING_LEDGER"])
    before = ledger.read_text() if ledger.is_file() else ""
    head = record_head_path()
    card = head.with_suffix(".json").read_bytes()
    res = training_cli("record-head", "--check", "--against", head, "--data-root", shared, "--limit", "40",
                       "--workers", "1")  # fmt: skip
    lines = res.stdout.strip().splitlines()
    assert lines[0].startswith("fold 9, 40 records") and len(lines) == 1 + len(T.TASKS)
    fitted = read_card(head)["tasks"]  # type: ignore[index]
    for task, line in zip(T.TASKS, lines[1:], strict=True):
        assert (
            line.startswith(f"- `{task}` ")
            and f"(as fitted: {fitted[task]['combined']['auroc']:.4f})" in line
        )
        assert line.endswith("minus the other head +0.0000 [+0.0000, +0.0000]")
    assert head.with_suffix(".json").read_bytes() == card
    assert (ledger.read_text() if ledger.is_file() else "") == before


def test_ludb_is_read_by_the_app_with_its_rhythm_and_diagnosis_labels(shared: Path, tmp_path: Path) -> None:
    """``--ludb`` analyses LUDB records with the app's Analyzer and the given head, scores each
    record's header rhythm and its other diagnoses by the stated mappings, and keeps the card's
    other sections."""
    import shutil

    from ecgviewer.assets import record_head_path

    out, report = tmp_path / "record-ptbxl.safetensors", tmp_path / "RECORD_HEAD.md"
    for suffix in (".safetensors", ".json", ".md"):
        shutil.copy(record_head_path().with_suffix(suffix), out.with_suffix(suffix))
    training_cli("record-head", "--ludb", shared / "ludb", "--limit", "8", "--out", out, "--report", report)
    card = read_card(out)
    assert card is not None and card["ludb"]["records"] + len(card["ludb"]["unmapped"]) == 8
    assert card["ludb"]["mapping"] == T.LUDB_RHYTHMS and card["ludb"]["both"]["support"]["SR"] > 0
    findings = card["ludb"]["findings"]
    assert findings["mapping"] == T.LUDB_FINDINGS and findings["records"] == 8
    assert set(findings["both"]["support"]) == set(T.LUDB_FINDINGS.values())
    text = report.read_text()
    assert "## LUDB" in text and text == out.with_suffix(".md").read_text()
    assert ("## Fold 10" in text) == ("test" in card)  # a section read before is kept


def test_results_show_what_the_app_reads_against_the_goals() -> None:
    """RESULTS.md's section on the bundled model with the head: each task's fold-10 figure from the
    head's card, judged against issue 75's goal by its interval; none beside another model."""
    from ecgviewer.assets import model_path, record_head_path
    from ecgviewer.weights import sha256
    from training.reports.results import TASK_GOALS, record_head_section

    card = read_card(record_head_path())
    assert card is not None and "test" in card
    lines = record_head_section(sha256(model_path()))
    for task, r in card["test"]["tasks"].items():
        row = next(line for line in lines if line.startswith(f"| `{task}` |"))
        lo, goal = r["both"]["auroc_ci"][0], TASK_GOALS[task]
        assert ("| met |" in row) == (lo >= goal) and f"{r['both']['auroc']:.4f}" in row
        assert ("(above)" in row.split("|")[-2]) == (r["both_minus_inception1d"]["auroc_ci"][0] > 0)
    assert record_head_section("0" * 64) == []


def test_a_features_run_stopped_part_way_carries_on(tmp_path: Path, monkeypatch) -> None:
    """The cache is saved every SAVE_EVERY records: a run stopped at the third record has kept the
    first two, and the next run reads only the records not kept."""
    read: list[str] = []

    def reader(path: str) -> np.ndarray:
        if len(read) == 2 and "stop" not in read:
            read.append("stop")
            raise KeyboardInterrupt
        read.append(path)
        return np.full(len(H.NAMES), float(Path(path).stem))

    monkeypatch.setattr(T, "SAVE_EVERY", 2)
    monkeypatch.setattr(T, "_features_of", reader)
    paths = {e: tmp_path / f"{e}.hea" for e in (11, 12, 13, 14, 15)}
    with pytest.raises(KeyboardInterrupt):
        T.features(paths, workers=1, cache=tmp_path)
    assert read == [str(paths[11]), str(paths[12]), "stop"]
    x = T.features(paths, workers=1, cache=tmp_path)
    assert read[3:] == [str(paths[e]) for e in (13, 14, 15)]
    assert x[:, 0].tolist() == [11, 12, 13, 14, 15]


def test_the_superclasses_read_off_the_statements_are_a_fold_9_study(shared: Path, tmp_path: Path) -> None:
    """``--superclasses`` mixes the super head's log-odds with the superclasses read off the 71
    statements (the head weighed in) at each weight, on fold 9 only, into the card and report,
    keeping the card's other sections and logging no fold-10 read."""
    import shutil

    from ecgviewer.assets import record_head_path

    out, report = tmp_path / "record-ptbxl.safetensors", tmp_path / "RECORD_HEAD.md"
    for suffix in (".safetensors", ".json", ".md"):
        shutil.copy(record_head_path().with_suffix(suffix), out.with_suffix(suffix))
    ledger = Path(os.environ["TRAINING_LEDGER"])
    before = ledger.read_text() if ledger.is_file() else ""
    root = tmp_path / "data"  # PTB-XL alone: LUDB's part is tested below
    root.mkdir()
    (root / "ptbxl").symlink_to(shared / "ptbxl")
    training_cli("record-head", "--superclasses", "--data-root", root, "--limit", "40", "--out", out,
                 "--report", report, "--workers", "1")  # fmt: skip
    card = read_card(out)
    assert card is not None
    s = card["superclasses"]
    assert [w["weight"] for w in s["weights"]] == list(T.SUPER_WEIGHTS) and s["weight"] in T.SUPER_WEIGHTS
    assert s["best"]["auroc"] == pytest.approx(max(w["auroc"] for w in s["weights"]))
    assert (
        s["classes"] == ["CD", "HYP", "MI", "NORM", "STTC"] and 0 < s["records"] <= 40 and s["ludb"] is None
    )
    unmixed = next(w for w in s["weights"] if w["weight"] == 0)
    assert s["best"]["auroc"] - unmixed["auroc"] == pytest.approx(s["best_minus_super_head"]["auroc"])
    text = report.read_text()
    assert (
        "## The superclasses read off the statements" in text and text == out.with_suffix(".md").read_text()
    )
    assert ("## Fold 10" in text) == ("test" in card)
    assert (ledger.read_text() if ledger.is_file() else "") == before
    # what fold 9 decided goes into the head's metadata only where the rule holds; the card names
    # the weights so written, and the encoder's card beside the bundled head is not touched
    for reading in s["agreement"].values():  # the disagreements a reader meets, each reading's
        assert set(reading) == {"CD", "HYP", "MI", "STTC"}
        counts = reading.values()
        assert all(0 <= r["none_of_its_statements"] <= r["positive"] <= s["records"] for r in counts)
    decided = s["decided"]
    assert set(decided["thresholds"]) == set(s["classes"]) and set(decided["surfaced"]) <= set(s["classes"])
    assert decided["members"]["NORM"] == ["NORM"] and decided["weight"] == s["weight"]
    head = H.RecordHead.load(out)
    assert bool(head.superclasses) == T.ships(s) and s["head_sha256"] == card["weights_sha256"]
    assert ("met: the app reads the mix" in text) == T.ships(s)


def test_ludb_superclasses_are_read_by_the_app_with_the_mix_chosen_on_fold_9(shared: Path) -> None:
    from ecgviewer.ml.record_head import RecordHead
    from training.data import datasets as D

    labels = D.load_labels(D.ptbxl_root(shared))
    head = RecordHead.bundled()
    none = T._ludb_superclasses(shared / "ludb", head, labels, 0.0, 30)
    assert none is not None and 0 < none["records"] <= 30 and none["classes"]
    assert none["mixed"]["auroc"] == pytest.approx(none["super_head"]["auroc"])  # weight 0: the head alone
    assert none["statements"]["auroc"] != pytest.approx(none["super_head"]["auroc"])
    assert T.superclasses_markdown({**_study(), "ludb": none}).count("LUDB read by the app") == 1


def _study() -> dict:
    """A fold-9 ``superclasses`` result of two weights, for the markdown."""
    classes = ["CD", "HYP", "MI", "NORM", "STTC"]
    row = {"auroc": 0.9, "auroc_ci": [0.89, 0.91], "per_class_auroc": dict.fromkeys(classes, 0.9)}
    return {"head_sha256": "0" * 64, "records": 9, "classes": classes, "weight": 0.5, "best": row,
            "best_minus_super_head": {"auroc": 0.01, "auroc_ci": [0.0, 0.02]},
            "weights": [{"weight": w, **row} for w in (0.0, 0.5)]}  # fmt: skip


def test_evaluate_weighs_super_as_the_app_reads_it(shared: Path) -> None:
    """``evaluate``'s weighing (``weigher``) reads the superclasses off the encoder's statements
    with the head weighed in where the bundled head mixes them, and refuses to guess without the
    statements; the statements' own task is weighed as before."""
    from ecgviewer.assets import model_path
    from training.data import datasets as D

    head = H.RecordHead.bundled()
    if not head.superclasses:
        pytest.skip("the bundled head does not read the superclasses (fold 9 did not choose it)")
    weigh = T.weigher(model_path(), shared)
    assert weigh is not None
    labels = D.load_labels(D.ptbxl_root(shared))
    ids = labels.ecg_id[labels.fold == D.VAL_FOLD][:4]
    classes = sorted(head.superclasses)
    rng = np.random.default_rng(1)
    own, statements = rng.uniform(0.05, 0.95, (4, 5)), rng.uniform(0.05, 0.95, (4, len(head.codes)))
    _, measured = T.beside(T._sha(model_path()), ids, shared)  # type: ignore[misc]
    want = head.mixed(own, head.read_off(classes, head.combined(statements, measured))[0])
    assert np.allclose(weigh(classes, own, ids, statements), want)
    with pytest.raises(ValueError, match="statements"):
        weigh(classes, own, ids, None)
    assert np.allclose(weigh(head.codes, statements, ids, None), head.combined(statements, measured))


def test_the_cards_task_tables_say_the_app_reads_them_with_the_head() -> None:
    """A clinician who opens the model card sees this model's own thresholds in its task tables; where
    the app reads a task with the record head, the section says the app's thresholds are the head's."""
    from ecgviewer.assets import model_path
    from training.supervised.card import markdown

    card = read_card(model_path())
    assert card is not None
    sections = {s.split("`")[1]: s for s in markdown(card).split("## Task ")[1:]}
    said = "the app reads this task with the record head weighed in"
    assert (said in sections["all"]) == ("all" in card["record_head"]["tasks"])
    assert (said in sections["super"]) == ("superclasses" in card["record_head"])
    alone = {k: v for k, v in card.items() if k != "record_head"}
    assert said not in markdown(alone)
