"""The case review's list (tests/review.py) through one window at 1366x768, one case after another
as a clinician goes through a clinic list (issue 71). After each case, everything the window shows
belongs to it (``review.problems``): the AI result and the measurements are of the open recording,
every beat was read or the unread seconds are given with a reason, the explained label is positive
unless nothing is, and its words are in the form its decision calls for. A library search in
between leaves PTB-XL's shared descriptions (and so the findings' names) as they were; a label the
reader chose stays with its recording.

The list is split into chunks of 3-4 cases (one window each) so that each test stays short; the
100 Hz PTB-XL records keep the chunks fast.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.helpers import AI_TIMEOUT_MS, choose_label
from tests.review import Case, cases, new_window, problems, show

CHUNKS = (  # the review's order, cut where the analyses (the 60 s and 15-lead ones are long) add up
    ("normal", "stach", "af", "aflt"),
    ("lbbb", "rbbb", "imi"),
    ("ami", "lmi", "lvh", "pace"),
    ("noisy", "holter", "scp"),
    ("sixty", "dicom", "dicom-mortara"),
    ("hl7", "philips", "muse"),
    ("muse-sinus", "ptbdb"),
    ("mat", "edf", "burst"),
)
SEARCH_AFTER, QUERY = "af", "statement~fibrillation"  # between cases 3 and 4 of the first chunk
CHOOSE_ON, CHOSEN = "rbbb", "CLBBB"  # the reader explains a negative label; the next case must not


@pytest.fixture(scope="module")
def review_cases(shared: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Case]:
    """The review's cases by key, chosen once per module (the sinus tachycardia's rate is measured)."""
    return {c.key: c for c in cases(shared, tmp_path_factory.mktemp("review"))}


@pytest.fixture
def clinic(qtbot, tmp_path: Path) -> Iterator[object]:
    """One window at a laptop's 1366x768, default settings in a throwaway file, its model and
    delineator loaded (the review's own window)."""
    w = new_window(tmp_path / "review.ini", 1366, 768)
    qtbot.addWidget(w)
    yield w
    w.cancel_tasks()


def _names(shared: Path) -> dict[Path, dict[str, str]]:
    """PTB-XL's statement descriptions as every part of the app shares them (the model's classes',
    first, and the records' labels), copied."""
    from ecgviewer import assets
    from ecgviewer.io import ptbxl

    return {root: dict(ptbxl.descriptions(root)) for root in (assets.statements_dir(), shared / "ptbxl")}


def _search(qtbot, w, shared: Path, seen: list[Case], folder: Path) -> None:
    """Index the PTB-XL cases seen so far (copied with the tables) and search their statements."""
    root, tree = shared / "ptbxl", folder / "ptbxl"
    tree.mkdir(parents=True)
    for name in ("ptbxl_database.csv", "ptbxl_statements_v103.csv", "scp_statements.csv"):
        shutil.copy(root / name, tree / name)
    ours = [c for c in seen if c.path.is_relative_to(root)]
    for case in ours:
        into = tree / case.path.parent.relative_to(root)
        into.mkdir(parents=True, exist_ok=True)
        for f in case.path.parent.glob(f"{case.path.stem}*"):  # .hea, .dat (FLAC: _1.dat, _2.dat)
            shutil.copy(f, into / f.name)
    lib = w.library
    lib.set_library_path(folder / "library.sqlite")
    w.show_library()
    lib.index_folder(tree)
    qtbot.waitUntil(lambda: lib.model.rowCount() == len(ours) and not w.tasks.busy(), timeout=60000)
    lib.query.setText(QUERY)
    qtbot.waitUntil(lambda: lib.message.text().startswith("1 matching") and not w.tasks.busy(), timeout=20000)
    af = next(c for c in ours if c.key == "af")
    assert [Path(r.path).name for r in lib.model.result.rows] == [af.path.name]


@pytest.mark.parametrize("keys", CHUNKS, ids="+".join)
def test_cases_one_after_another_in_one_window(qtbot, clinic, shared, review_cases, tmp_path, keys):
    w, names, seen = clinic, _names(shared), []
    model_names = next(iter(names.values()))  # the findings' names come from the model's table
    chosen = None
    for k, key in enumerate(keys, 1):
        case = review_cases.get(key)
        if case is None:
            continue  # its data is absent here
        shown = show(w, case.path, settle=False, timeout_ms=AI_TIMEOUT_MS)
        assert shown.error is None, f"case {k} ({key}): {shown.error}"
        assert shown.analysed and shown.measured, f"case {k} ({key}): {shown.notes}"
        assert w.recording.path == case.path
        assert w.ai.result.source[0] == w.recording.uid and w.measure.recording is w.recording
        assert problems(w, model_names) == [], f"case {k} ({key})"
        seen.append(case)
        if key == "burst":  # 10 s of noise from 15 s: no beat counted there, nor its "spikes"
            m = w.measure.measurements
            ((a, b),) = m.too_noisy
            assert 14.4 <= a <= 15.0 and 25.0 <= b <= 25.6, m.too_noisy  # whole noisy seconds
            assert m.values["hr"].value == pytest.approx(67, abs=2), m.notes
            assert not any(m.paced) and not any("spikes, none within" in n for n in m.notes), m.notes
            assert "too noisy to read" in w.measure.panel.status.text()
            for t0 in (0.0, 12.0):  # the paper greys the noise in every row showing it, and names it
                w.paper.set_t0(t0)
                greyed = [rect for rect, text in w.unread.shown() if text == "too noisy to read"]
                rows = {p.row for p in w.paper.page.panels if p.available and p.t1 > a and p.t0 < b}
                assert len(greyed) == len(rows) > 0, w.unread.shown()
                assert t0 or all(p.t0 >= 10.0 for p in w.paper.page.panels if p.row in rows)  # 0-10 s clean
        if chosen is not None:  # the case after a chosen label starts with its own top finding
            r = w.ai.result
            preds = r.analysis.predictions
            assert w.ai.label is None
            assert r.target.code == preds.top_positive("super").code
            assert r.target.code != chosen or preds.get(r.target.task, chosen).decision
            chosen = None
        if key == CHOOSE_ON:
            result = choose_label(qtbot, w, CHOSEN)
            assert result.target.code == CHOSEN and w.ai.result is result
            assert problems(w, model_names) == [], f"case {k} ({key}), {CHOSEN} chosen"
            chosen = CHOSEN
        if key == SEARCH_AFTER:
            _search(qtbot, w, shared, seen, tmp_path)
            assert _names(shared) == names, "a library search changed PTB-XL's shared descriptions"
            assert problems(w, model_names) == [], f"case {k} ({key}), after the search"
    assert _names(shared) == names


def test_a_label_cut_off_or_showing_markup_is_a_problem(qtbot):
    """The review's label check fails where it should: a line wider than its label, wrapped text
    taller than it, escaped text Qt reads as plain; the same labels with room and rich text pass."""
    from PySide6 import QtCore, QtWidgets

    from tests.review import label_problems

    w = QtWidgets.QWidget()
    qtbot.addWidget(w)
    long = "Atrial flutter (suspected), measured, and Sinus tachycardia, the model's, exclude each other"
    line, wrapped, escaped = (QtWidgets.QLabel(t, w) for t in (long, long, "the model&#x27;s"))
    wrapped.setWordWrap(True)
    for y, label in enumerate((line, wrapped, escaped)):
        label.setGeometry(0, 40 * y, 120, 20)
    w.show()
    said = label_problems(w)
    assert len(said) == 3 and sum("cut off" in s for s in said) == 2 and "markup" in said[-1], said
    line.resize(line.sizeHint())
    wrapped.resize(120, wrapped.heightForWidth(120))
    escaped.setTextFormat(QtCore.Qt.TextFormat.RichText)
    assert label_problems(w) == []


def test_a_button_whose_text_is_cut_off_is_a_problem(qtbot):
    """The same check on buttons: one narrower than its text, and a tool button whose menu opens at
    once (its arrow drawn over the text's end); a push button with that menu keeps room for it."""
    from PySide6 import QtWidgets

    from tests.review import label_problems

    w = QtWidgets.QWidget()
    qtbot.addWidget(w)
    narrow, tool, push = (
        QtWidgets.QPushButton("Model card...", w),
        QtWidgets.QToolButton(w),
        QtWidgets.QPushButton(w),
    )
    tool.setText("Model cards")
    push.setText("Model cards")
    tool.setPopupMode(QtWidgets.QToolButton.ToolButtonPopupMode.InstantPopup)
    for button in (tool, push):
        button.setMenu(QtWidgets.QMenu(button))
    for y, button in enumerate((narrow, tool, push)):
        button.move(0, 40 * y)
        button.resize(button.sizeHint())
    narrow.resize(narrow.sizeHint().width() // 2, narrow.sizeHint().height())
    w.show()
    said = label_problems(w)
    assert len(said) == 2 and all("button's text is cut off" in s for s in said), said
    assert "Model card..." in said[0] and "Model cards" in said[1]


def test_the_reviews_facts_say_which_statements_are_not_stated():
    """A statement whose numbers are met but that is not stated (analyze's ``not_stated``) is
    listed with its reason: the review's index read it as stated (PTB-XL 19505's flutter)."""
    from tests.review import key_facts

    target = {"task": "rhythm", "code": "STACH", "description": "sinus tachycardia", "probability": 0.99}
    record = {
        "explanation": {"target": target, "summary": {"text": "STACH", "form": "positive"}},
        "predictions": {
            "rhythm": [{"code": "STACH", "surfaced": True, "decision": True, "probability": 0.99}]
        },
        "statements": [
            {
                "code": "AFLT",
                "text": "Atrial flutter (suspected)",
                "not_stated": "waves at twice a regular rate",
            },
            {"code": "LAD", "text": "Left axis deviation"},
        ],
        "whole": True,
        "span_s": [0.0, 10.0],
    }
    assert key_facts({"records": [record]})["statements"] == [
        "Atrial flutter (suspected) (not stated: waves at twice a regular rate)",
        "Left axis deviation",
    ]
