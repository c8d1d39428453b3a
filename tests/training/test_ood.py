"""``python -m training ood``: LUDB's diagnoses mapped to PTB-XL superclasses, and the model run
through the app on LUDB and on the vendor files."""

from __future__ import annotations

import argparse
import json
import re

import numpy as np
import pytest

from ecgviewer.assets import model_path
from ecgviewer.io import load
from training.validate import ood, ood_report

CLASSES = ["CD", "HYP", "MI", "NORM", "STTC"]
NEGATIVE = dict.fromkeys(CLASSES, 0)


def row(**cells: str) -> dict[str, str]:
    """A ludb.csv row; keyword names are column constants of ``ood`` (``RHYTHM``, ...)."""
    return {getattr(ood, k): v for k, v in cells.items()}


@pytest.mark.parametrize(
    ("cells", "positive"),
    [
        ({"RHYTHM": "Sinus rhythm\n", "AXIS": "Electric axis of the heart: normal\n"}, {"NORM"}),
        ({"RHYTHM": "Sinus bradycardia", "AXIS": "Electric axis of the heart: vertical"}, {"NORM"}),
        ({"RHYTHM": "Atrial fibrillation"}, set()),
        ({"RHYTHM": "Sinus rhythm", "CONDUCTION": "Incomplete right bundle branch block"}, {"CD"}),
        ({"RHYTHM": "Sinus rhythm", "CONDUCTION": "I degree av block"}, {"CD"}),
        ({"RHYTHM": "Sinus rhythm", "CONDUCTION": "Iii degree av-block"}, {"CD"}),
        ({"RHYTHM": "Sinus rhythm", "CONDUCTION": "Complete left bundle branch block"}, {"CD"}),
        ({"RHYTHM": "Sinus rhythm", "CONDUCTION": "Left anterior hemiblock"}, {"CD"}),
        (
            {
                "RHYTHM": "Sinus rhythm",
                "HYPERTROPHY": "Left ventricular hypertrophy\nLeft atrial hypertrophy",
            },
            {"HYP"},
        ),
        ({"RHYTHM": "Sinus rhythm", "HYPERTROPHY": "Right atrial overload"}, {"HYP"}),
        ({"RHYTHM": "Sinus rhythm", "ISCHEMIA": "Stemi: anterior wall\nStemi: septal"}, {"MI"}),
        ({"RHYTHM": "Sinus rhythm", "ISCHEMIA": "Scar formation: posterior wall"}, {"MI"}),
        ({"RHYTHM": "Sinus rhythm", "ISCHEMIA": "Ischemia: inferior wall"}, {"STTC"}),
        (
            {"RHYTHM": "Sinus rhythm", "REPOLARISATION": "Non-specific repolarization abnormalities: septal"},
            {"STTC"},
        ),
        # an axis deviation leaves NORM open, but a hypertrophy decides it
        (
            {
                "RHYTHM": "Sinus rhythm",
                "AXIS": "Electric axis of the heart: left axis deviation",
                "HYPERTROPHY": "Left ventricular hypertrophy",
            },
            {"HYP"},
        ),
        # undefined ischaemia leaves MI and STTC open; other statements decide both
        (
            {
                "RHYTHM": "Sinus rhythm",
                "ISCHEMIA": "Undefined ischemia/scar/supp.nstemi: lateral wall\nStemi: lateral wall",
                "REPOLARISATION": "Non-specific repolarization abnormalities: lateral wall",
            },
            {"MI", "STTC"},
        ),
    ],
)
def test_ludb_statements_map_as_the_table_says(cells, positive):
    labels, reason = ood.map_labels(row(**cells), CLASSES)
    assert reason is None
    assert labels == {**NEGATIVE, **dict.fromkeys(positive, 1)}


@pytest.mark.parametrize(
    ("cells", "reason"),
    [
        ({"RHYTHM": "Sinus rhythm", "PACING": "Unipolar ventricular pacing"}, "paced"),
        (
            {"RHYTHM": "Sinus rhythm", "AXIS": "Electric axis of the heart: left axis deviation"},
            "NORM undecided",
        ),
        (
            {"RHYTHM": "Sinus rhythm", "EXTRASYSTOLES": "Ventricular extrasystole, type: single pvc"},
            "NORM undecided",
        ),
        (
            {"RHYTHM": "Sinus rhythm", "ISCHEMIA": "Undefined ischemia/scar/supp.nstemi: apical"},
            "MI undecided",
        ),
        ({"RHYTHM": "Sinus rhythm", "OTHER": "Early repolarization syndrome"}, "NORM undecided"),
        ({"RHYTHM": "Sinus rhythm", "HYPERTROPHY": "Left ventricular overload"}, "STTC undecided"),
        ({"RHYTHM": "Sinus rhythm", "CONDUCTION": "Sinoatrial blockade, undefined"}, "CD undecided"),
        ({"RHYTHM": "Junctional rhythm"}, "unmapped Rhythms statement"),
    ],
)
def test_undecidable_ludb_records_are_left_out_with_the_reason(cells, reason):
    labels, why = ood.map_labels(row(**cells), CLASSES)
    assert labels is None and why.startswith(reason)


def test_every_ludb_statement_has_a_rule(shared):
    rows = ood.read_ludb(shared / "ludb")
    assert len(rows) == 200
    for r in rows.values():
        for column, text in ood.statements(r):
            assert ood.rule_for(column, text) is not None, (column, text)
    reasons = [ood.map_labels(r, CLASSES)[1] for r in rows.values()]
    assert reasons.count("paced") == sum(bool(r[ood.PACING].strip()) for r in rows.values())


def test_identifier_words_are_redacted_from_file_names():
    ids = {"name": "ZZDEMO, PATIENT", "patient id": "123"}
    assert ood.redact("xml/9_zzdemo_patient_123.xml", ids) == "xml/9_[id]_[id]_123.xml"


@pytest.fixture(scope="module")
def result(shared, tmp_path_factory) -> tuple[dict, str]:
    """The bundled model on 12 LUDB records and every vendor file, with a short bootstrap."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)  # the machine is shared with training jobs
    out = tmp_path_factory.mktemp("ood") / "ood.json"
    try:
        res = ood.run(model_path(), shared, out, ludb_records=list(range(1, 13)), n_boot=50)
    finally:
        torch.set_num_threads(before)
    assert json.loads(out.read_text()) == json.loads(json.dumps(res))
    return res, out.read_text()


def test_ludb_is_scored_through_the_app(result):
    res, _ = result
    ludb = res["ludb"]
    assert res["classes"] == CLASSES and res["device"] == "cpu" and res["pretraining_saw_ludb"]
    assert ludb["records"] == 12 and ludb["used"] + sum(ludb["excluded"].values()) == 12
    for r in ludb["per_record"]:
        assert (r["labels"] is None) == (r["probabilities"] is None) == (r["excluded"] is not None)
    for c, e in ludb["classes"].items():
        assert e["positives"] + e["negatives"] == ludb["used"]
        scored = e["positives"] >= ood.MIN_COUNT and e["negatives"] >= ood.MIN_COUNT
        assert (c in ludb["too_few"]) != scored and (e["auroc"] is not None) == scored
        if scored:
            assert e["auroc_ci"][0] <= e["auroc"] <= e["auroc_ci"][1]
    assert ludb["too_few"]  # 12 records cannot score every class
    assert ludb["macro"] is None or set(ludb["macro"]["classes"]).isdisjoint(ludb["too_few"])


def test_every_vendor_file_is_analysed_without_identifiers(result, shared):
    res, text = result
    files = res["formats"]["files"]
    assert len(files) == 12 and all(f["analysed"] for f in files)
    for f in files:
        assert sorted(f["probabilities"]) == CLASSES and all(0 <= p <= 1 for p in f["probabilities"].values())
        assert f["leads"] >= 12 and f["fs"] >= 500 and f["duration_s"] >= 10
    same = {g["files"][0]: g["max_abs_diff"] for g in res["formats"]["same_ecg"]}
    assert same["formats/dicom/ecgtoolkit_Example.dcm"] < 1e-4  # one recording in three formats
    # EDF+ rounds to 0.3 uV: the encoder's probabilities move by < 0.002, but the measured beats
    # weighed into the superclasses see the QRS end a sample (4 ms) later, and the J point with it
    assert same["formats/edf/ludb_record1.edf"] < 0.02
    for path in (shared / "formats").rglob("*"):
        if path.suffix.lower() in (".dcm", ".xml", ".scp"):
            for value in load(path).metadata.identifiers.values():
                for word in re.findall(r"[0-9A-Za-z]{4,}", value):
                    if not word.isdigit():  # digits alone also occur inside probabilities
                        assert word.lower() not in text.lower(), path.name


def test_markdown_section(result):
    md = ood_report.markdown(result[0])
    assert md.startswith("## Out of distribution\n") and "### LUDB" in md and "### Vendor files" in md
    assert "too few" in md and "| Cardiac pacing | (any) | record left out (paced) |" in md
    assert "philips_xml/3191723_[id]_1-04_orig.xml" in md


def test_results_show_the_ood_section(result, tmp_path):
    """``python -m training results`` appends the section when the OOD JSON is there."""
    from training.reports.results import write_results

    ood_json = tmp_path / "ood.json"
    ood_json.write_text(result[1])
    with_ood = write_results([tmp_path / "no-run"], tmp_path / "a.md", ood_json).read_text()
    without = write_results([tmp_path / "no-run"], tmp_path / "b.md", tmp_path / "absent.json").read_text()
    assert ood_report.markdown(result[0]) in with_ood and "## Out of distribution" not in without


def test_the_subcommand_writes_its_json(shared, tmp_path, capsys, one_torch_thread):
    root = tmp_path / "data"
    root.mkdir()
    (root / "formats").symlink_to(shared / "formats")  # no ludb/: that part is skipped
    out = tmp_path / "ood.json"
    ood.cmd_ood(argparse.Namespace(model=model_path(), data_root=root, out=out, challenge=[], against=None))
    summary = json.loads(capsys.readouterr().out)
    assert summary == {
        "out": str(out),
        "ludb_used": None,
        "ludb_macro_auroc": None,
        "challenge_used": None,
        "files_analysed": 12,
        "files": 12,
    }
    assert json.loads(out.read_text())["ludb"] is None


@pytest.mark.parametrize(
    ("codes", "labels", "reason"),
    [
        (["426783006"], {"NORM"}, None),
        (["426177001", "164873001"], {"HYP"}, None),  # sinus bradycardia with LVH
        (["164889003", "59118001"], {"CD"}, None),  # AF with RBBB: not normal, CD
        (["426783006", "164867002", "428750005"], {"MI", "STTC"}, None),
        (["426783006", "427172004"], None, "NORM undecided"),  # a PVC leaves NORM open ...
        (["426783006", "427172004", "270492004"], {"CD"}, None),  # ... until a statement decides it
        (["426783006", "55827005"], None, "HYP undecided"),  # voltage alone
        (["426783006", "999999999"], None, "unmapped code 999999999"),
        ([], None, "no code"),
    ],
)
def test_challenge_codes_map_as_the_table_says(codes, labels, reason):
    got, why = ood.map_codes(codes, CLASSES)
    assert why is None if reason is None else (why or "").startswith(reason)
    assert got == (None if labels is None else {**NEGATIVE, **dict.fromkeys(labels, 1)})


def test_challenge_records_are_read_once_each_and_never_ptbxl(tmp_path):
    import numpy as np
    import wfdb

    def write(folder, name, dx):
        folder.mkdir(parents=True, exist_ok=True)
        wfdb.wrsamp(name, fs=500, units=["mV"], sig_name=["I"], p_signal=np.zeros((10, 1)), fmt=["16"],
                    comments=["Age: 50", f"Dx: {dx}"], write_dir=str(folder))  # fmt: skip

    write(tmp_path / "a", "E00001", "426783006,164873001")
    write(tmp_path / "b", "E00001", "426783006,164873001")  # the same record in another copy
    write(tmp_path / "b", "JS00002", "164889003")
    write(tmp_path / "b", "HR00003", "426783006")  # PTB-XL: the training hospital
    got = ood.read_challenge([tmp_path / "a", tmp_path / "b"])
    assert [(name, codes) for name, _, codes in got] == [
        ("E00001", ["426783006", "164873001"]),
        ("JS00002", ["164889003"]),
    ]
    assert ood.source_of("JS00002") == "JS" and ood.source_of("E00001") == "E"


def test_a_challenge_record_the_reader_refuses_is_left_out_with_its_reason(tmp_path):
    """Georgia's 2020 release names its records ``E00002.mat`` in the record line, which wfdb
    refuses: that record is counted with the reader's cause, and the run goes on."""
    from types import SimpleNamespace

    import wfdb

    class Reads(ood._Model):  # the app's reader; every class at 0.5 instead of the network
        def __init__(self) -> None:
            self.classes = CLASSES

        def analyse(self, path):
            return load(path), [SimpleNamespace(code=c, probability=0.5) for c in CLASSES]

    for name in ("E00001", "E00002"):
        wfdb.wrsamp(name, fs=500, units=["mV"] * 2, sig_name=["I", "II"], p_signal=np.zeros((5000, 2)),
                    fmt=["16"] * 2, comments=["Dx: 426783006"], write_dir=str(tmp_path))  # fmt: skip
    quirk = tmp_path / "E00002.hea"
    quirk.write_text(quirk.read_text().replace("E00002 ", "E00002.mat ", 1))
    got = ood.evaluate_challenge(Reads(), [tmp_path], n_boot=10)
    (why,) = [r["excluded"] for r in got["per_record"] if r["record"] == "E00002"]
    assert why.startswith("not analysed: invalid WFDB header") and got["excluded"] == {why: 1}
    assert got["records"] == 2 and got["used"] == 1
    (kept,) = [r for r in got["per_record"] if r["record"] == "E00001"]
    assert kept["labels"] == {**NEGATIVE, "NORM": 1} and kept["probabilities"] == dict.fromkeys(CLASSES, 0.5)


def _scored_run(name: str, probabilities: np.ndarray, labels: np.ndarray) -> dict:
    """A ``run`` result of LUDB alone, records scored with ``probabilities`` (records, classes)."""
    classes = ["CD", "NORM"]
    rows = [{"record": i, "labels": dict(zip(classes, map(int, y), strict=True)), "excluded": None,
             "probabilities": dict(zip(classes, map(float, p), strict=True))}
            for i, (y, p) in enumerate(zip(labels, probabilities, strict=True))]  # fmt: skip
    rows.append({"record": 99, "labels": None, "excluded": "paced", "probabilities": None})
    return {"model": {"name": name}, "ludb": ood.scored(classes, rows, {"paced": 1}, 50), "challenge": None}


def test_two_models_are_compared_on_the_same_records():
    rng = np.random.default_rng(4)
    y = np.c_[rng.random(60) < 0.3, rng.random(60) < 0.5].astype(int)
    noise = rng.random(y.shape)
    sharp, blurred = _scored_run("sharp", y + 0.8 * noise, y), _scored_run("blurred", y + 3 * noise, y)
    d = ood.paired(sharp, blurred, n_boot=200)
    assert d["against"] == {"name": "blurred"} and d["challenge"] is None
    assert d["ludb"]["records"] == 60 and d["ludb"]["classes"] == ["CD", "NORM"]
    lo, hi = d["ludb"]["difference_ci"]
    assert 0 < lo <= d["ludb"]["difference"] <= hi
    assert all(v > 0 for v in d["ludb"]["per_class"].values())
    assert ood.paired(sharp, sharp, n_boot=50)["ludb"]["difference_ci"] == [0.0, 0.0]
    blurred["model"] = {"name": "blurred", "sha256": "ab" * 32}
    sharp["model"] = {"name": "sharp", "sha256": "cd" * 32}
    section = ood_report.paired_lines(ood.paired(sharp, blurred, n_boot=200), sharp["model"])
    assert "| LUDB | 60 | CD, NORM | +" in "\n".join(section) and "Challenge" not in "\n".join(section)
    relabelled = _scored_run("other mapping", y + 0.8 * noise, 1 - y)
    with pytest.raises(ValueError, match="label a record differently"):
        ood.paired(sharp, relabelled, n_boot=50)


def test_placement_report_pairs_each_model_with_those_before_it():
    from training.validate.placement import ood_lines

    rng = np.random.default_rng(5)
    y = np.c_[rng.random(40) < 0.4, rng.random(40) < 0.5].astype(int)
    runs = [_scored_run(name, y + k * rng.random(y.shape), y) for k, name in ((3, "a"), (2, "b"), (1, "c"))]
    for r in runs:
        r["model"]["sha256"] = r["model"]["name"] * 12
    text = "\n".join(ood_lines(runs))
    titles = re.findall(r"^### `(\w)` \(\w+\) against `(\w)`", text, re.M)
    assert titles == [("b", "a"), ("c", "a"), ("c", "b")]
