"""The model in the window (pytest-qt, offscreen): background loading, the diagnosis panel,
attributions synced between the tree and the paper, label and method choices, cancel, the device
setting, long recordings and the model card."""

from __future__ import annotations

import html
import subprocess
import sys
import textwrap

import numpy as np
from PySide6 import QtCore, QtWidgets

from ecgviewer.gui.explain_view import METHOD_NAMES, Selection
from ecgviewer.gui.main_window import MainWindow
from ecgviewer.gui.settings import Settings
from ecgviewer.leads import TERRITORIES
from ecgviewer.ml.contract import LEADS
from ecgviewer.ml.infer import NOT_VALIDATED
from tests.helpers import AI_TIMEOUT_MS as TIMEOUT_MS
from tests.helpers import analysed, lead_pair, shown_window


def test_torch_loads_off_the_ui_thread_after_the_window_is_up(sample, tmp_path):
    """An audit hook records which thread imports torch; the window paints before the model loads."""
    script = textwrap.dedent("""
        import sys, threading
        seen = {}
        def hook(event, args):
            if event == "import" and args[0] == "torch" and "thread" not in seen:
                seen["thread"] = threading.current_thread() is threading.main_thread()
        sys.addaudithook(hook)
        from PySide6 import QtCore, QtWidgets
        app = QtWidgets.QApplication([])
        from ecgviewer.gui.main_window import MainWindow
        from ecgviewer.gui.settings import Settings
        w = MainWindow(Settings(QtCore.QSettings(sys.argv[2], QtCore.QSettings.Format.IniFormat)))
        w.show()
        state = {}
        w.paper.painted.connect(lambda: state.setdefault("painted_before_model", w.ai.analyzer is None))
        w.ai.modelReady.connect(app.quit)
        w.open_file(__import__("pathlib").Path(sys.argv[1]))
        QtCore.QTimer.singleShot(170000, app.quit)
        app.exec()
        print("main-thread-import", seen.get("thread"), "painted-first", state.get("painted_before_model"),
              "loaded", w.ai.analyzer is not None, flush=True)
    """)
    r = subprocess.run(
        [sys.executable, "-c", script, str(sample), str(tmp_path / "s.ini")],
        capture_output=True,
        text=True,
        timeout=240,
    )
    assert "main-thread-import False painted-first True loaded True" in r.stdout, r.stdout + r.stderr[-2000:]


def test_analysis_fills_the_diagnosis_and_attribution_panels(qtbot, ai_window, sample):
    w = ai_window
    result = analysed(qtbot, w, lambda: w.open_file(sample))
    d, e = w.ai.panel.diagnosis, w.ai.panel.explain
    assert "Research use, not a medical device" in d.notice.text()
    rows = {item.text(0).split()[0]: item for item in d.items()}
    # PTB-XL record 3 is labelled NORM (100 %): the model calls it normal, beside the record's label
    norm = rows["NORM"]
    assert float(norm.text(1)) > float(norm.text(2)) and norm.text(3) == "positive"
    assert norm.text(4) == "yes (100 %)"  # one form for every row: yes, and the likelihood if given
    # the superclass is read off its statement with the measured beats too: its tooltip says each part
    found = result.analysis.predictions.get("super", "NORM")
    assert found.read_off == "NORM" and "statement NORM with the measured beats" in norm.toolTip(0)
    for item in d.items():
        if item.text(1):
            assert 0.0 <= float(item.text(1)) <= 1.0
    assert "NORM (normal ECG) 100 %" in d.record_labels.text()
    # the default target is the top finding, explained by the model card's method against its
    # reference, both named
    assert result.target.code == "NORM" and d.tree.currentItem() is norm
    settings = w.ai.analyzer.explain_settings
    assert result.explanation.method == settings.method == e.current_method()
    # the reading path says the finding and what was read; the method's detail is one click away
    caption, details = e.caption.text(), e.details.text()
    assert html.escape(result.worded.text) in caption and "Read: all" in caption  # every beat, the seconds
    assert "logit" not in caption and "baseline" not in caption
    assert not e.details.isVisible() and not e.details_button.isChecked()
    e.details_button.click()
    assert e.details.isVisible()
    baseline = f"baseline: {result.explanation.baseline}"
    for text in (
        METHOD_NAMES[settings.method],
        "32 steps" if settings.method == "ig" else "",
        baseline,
        "NORM",
        "logit",
        result.explanation.completeness() or "",
    ):
        assert text in details
    # bars rank the leads by score; the tree's territories hold their leads
    leads = result.explanation.leads
    assert [leads[LEADS.index(n)] for n in e.ranked] == sorted(leads, reverse=True)
    territories = e.tree.topLevelItem(0)
    assert [territories.child(k).text(0) for k in range(territories.childCount())] == list(TERRITORIES)
    # the paper is shaded, the legend reads it, and the opacity slider changes it
    assert w.ai.shading._fills and "NORM attribution" in e.legend.text()
    alpha = max(c.alpha() for _, c in w.ai.shading._fills)
    e.opacity.setValue(20)
    assert max(c.alpha() for _, c in w.ai.shading._fills) < alpha
    assert "Model: CPU" in w.ai.device_label.text()


def test_tree_and_paper_follow_each_other(qtbot, ai_window, sample):
    w = ai_window
    analysed(qtbot, w, lambda: w.open_file(sample))
    e, scores = w.ai.panel.explain, w.ai.panel.explain.scores
    # tree -> paper: a beat of lead II outlines that beat; a territory outlines its leads
    k = int(np.flatnonzero(scores.lead == "II")[3])
    item = e.beat_item(k)
    e.tree.setCurrentItem(item)
    assert w.ai.shading._beat == k and w.ai.shading._leads == frozenset({"II"})
    inferior = e.tree.topLevelItem(0).child(0)
    e.tree.setCurrentItem(inferior)
    assert w.ai.shading._leads == frozenset(TERRITORIES["inferior"]) and w.ai.shading._beat is None
    # paper -> tree: a click on the rhythm strip (lead II, full 10 s) selects the beat under it
    strip = next(p for p in w.paper.page.panels if p.lead == "II" and p.t1 - p.t0 > 5)
    j = int(np.flatnonzero(scores.lead == "II")[5])
    t = float(scores.r_s[j])
    scene = w.paper.vb.mapViewToScene(QtCore.QPointF(strip.x + (t - strip.t0) * w.paper.page.speed, strip.y))
    qtbot.mouseClick(w.paper.viewport(), QtCore.Qt.MouseButton.LeftButton, pos=w.paper.mapFromScene(scene))
    sel = e.tree.currentItem().data(0, QtCore.Qt.ItemDataRole.UserRole)
    assert isinstance(sel, Selection) and sel.beat == j
    assert w.ai.shading._beat == j


def test_choosing_a_label_and_a_method_reanalyses(qtbot, ai_window, sample):
    w = ai_window
    analysed(qtbot, w, lambda: w.open_file(sample))
    d, e = w.ai.panel.diagnosis, w.ai.panel.explain
    mi = next(item for item in d.items() if item.text(0).startswith("MI "))
    result = analysed(qtbot, w, lambda: d.tree.setCurrentItem(mi))
    assert (result.target.task, result.target.code) == ("super", "MI")
    assert "<b>MI</b>" in e.details.text() and e.caption.text().startswith("<b>MI, ")
    e.method.setCurrentIndex(e.method.findData("gxi"))
    result = analysed(qtbot, w, lambda: e.method.activated.emit(e.method.currentIndex()))
    assert result.explanation.method == "gxi" and result.target.code == "MI"
    assert "Gradient \u00d7 input" in e.details.text() and not e.steps.isEnabled()
    e.method.setCurrentIndex(e.method.findData("occlusion"))
    result = analysed(qtbot, w, lambda: e.method.activated.emit(e.method.currentIndex()))
    assert result.explanation.samples is None and w.ai.shading._strips == []
    # attention shading: the rollout over the beats, with its own legend
    e.shade.setCurrentIndex(e.shade.findData("attention"))
    e.shade.activated.emit(e.shade.currentIndex())
    assert "rollout" in e.legend.text().lower() and w.ai.shading.scores.signed is False


def test_cancel_stops_an_analysis_without_a_result(qtbot, ai_window, sample, tmp_path):
    w = ai_window
    analysed(qtbot, w, lambda: w.open_file(sample))
    w.ai.panel.explain.set_method("ig")  # steps matter to Integrated Gradients only
    analysed(qtbot, w, w.ai.analyse)
    w.ai.panel.explain.steps.setValue(64)  # settings not in the cache: real work to cancel
    w.ai.analyse()
    assert w.cancel_button.isVisible()
    with qtbot.assertNotEmitted(w.ai.resultShown, wait=3000):
        w.cancel_button.click()
    assert "analysis" not in w.tasks.tasks and w.ai.result.explanation.n_steps == 32
    # and a new request still runs
    result = analysed(qtbot, w, w.ai.analyse)
    assert result.explanation.n_steps == 64


def test_device_setting_and_model_card(qtbot, ai_window, monkeypatch):
    w = ai_window
    combo = w.ai.device_combo
    combo.setCurrentIndex(combo.findData("cpu"))
    combo.activated.emit(combo.currentIndex())
    qtbot.waitUntil(lambda: "device" not in w.tasks.tasks, timeout=10_000)
    assert w.ai.analyzer.device.type == "cpu" and w.settings.value("ai/device") == "cpu"
    shown = {}

    def fake_exec(dialog: QtWidgets.QDialog) -> int:
        shown["text"] = dialog.browser.toPlainText()
        return 0

    from ecgviewer.gui import diagnosis

    monkeypatch.setattr(diagnosis.ModelCardDialog, "exec", fake_exec)
    w.ai.panel.diagnosis.card_button.click()
    assert "research" in shown["text"].lower() and "sha" in shown["text"].lower()


def test_a_long_recording_is_analysed_a_span_at_a_time(qtbot, ai_window, long_record):
    w = ai_window
    result = analysed(qtbot, w, lambda: w.open_file(long_record))
    assert not result.whole and result.span == (0.0, 30.0)
    assert "0.0\u201330.0 s" in w.ai.panel.explain.caption.text()
    scores = w.ai.panel.explain.scores
    assert scores.start_s.min() >= 0.0 and scores.stop_s.max() <= 30.0
    # a beat off the page: the page moves to show it, inside the analysed span (no new analysis)
    e = w.ai.panel.explain
    k = int(np.flatnonzero((scores.lead == "V1") & (scores.r_s > 15.0))[0])
    with qtbot.assertNotEmitted(w.ai.resultShown, wait=1000):
        e.tree.setCurrentItem(e.beat_item(k))
    assert w.paper.t0 > 5.0 and w.ai.shading._beat == k
    assert any(p.lead == "V1" and p.t0 <= scores.r_s[k] < p.t1 for p in w.paper.page.panels)
    result = analysed(qtbot, w, lambda: w.paper.set_t0(60.0))
    assert result.span == (60.0, 90.0)
    scores = w.ai.panel.explain.scores
    assert scores.start_s.min() >= 60.0 and scores.stop_s.max() <= 90.0
    assert w.ai.shading._fills  # the page on screen (60-70 s) is shaded


def test_findings_from_fewer_leads_say_what_the_card_measured_with_them(qtbot, ai_window, sample, tmp_path):
    """The sample's II and V1 alone (a 2-channel Holter's leads): the diagnosis panel says, in view
    between the status and the findings, how the model scored with these leads (the card's
    lead-set figure); the 12-lead sample opened next hides it."""
    from ecgviewer.assets import model_path
    from ecgviewer.weights import read_card

    w, d = ai_window, ai_window.ai.panel.diagnosis
    analysed(qtbot, w, lambda: w.open_file(lead_pair(sample, tmp_path)))
    section = read_card(model_path())["lead_sets"]
    (measured,) = [s for s in section["sets"] if s["leads"] == ["II", "V1"]]
    assert d.leads.isVisible() and d.leads.text().startswith(
        "\u26a0 2 of 12 leads (II, V1): with these leads"
    )
    assert f"{measured['auroc']:.2f}, against {section['reference']['auroc']:.2f}" in d.leads.text()

    def settled() -> bool:  # every line of the note shown, the findings below it (after relayout)
        note = d.leads.geometry()
        return (
            note.height() >= d.leads.heightForWidth(note.width()) and note.bottom() < d.tree.geometry().top()
        )

    qtbot.waitUntil(settled)
    assert d.rect().contains(d.leads.geometry()) and d.tree.height() > 0
    analysed(qtbot, w, lambda: w.open_file(sample))
    assert not d.leads.isVisible()


def test_sanity_checks_and_raw_export(qtbot, ai_window, sample, tmp_path, monkeypatch):
    w = ai_window
    analysed(qtbot, w, lambda: w.open_file(sample))
    e = w.ai.panel.explain
    e.checks_button.click()
    qtbot.waitUntil(lambda: "Spearman" in e.checks.text(), timeout=TIMEOUT_MS)
    assert "Faithfulness" in e.checks.text()
    out = tmp_path / "raw.npz"
    monkeypatch.setattr(QtWidgets.QFileDialog, "getSaveFileName", lambda *a, **k: (str(out), ""))
    e.export_button.click()
    with np.load(out) as raw:
        np.testing.assert_allclose(raw["beats"], w.ai.result.explanation.beats)
        assert raw["attention_rollout"].shape == (1, 12, 15)


def test_a_patch_token_model_is_explained_on_the_beats(qtbot, tmp_path, sample):
    """An ECG-JEPA (patch-token) classifier chosen in the settings runs in the window: its
    attributions shade the same beats and the caption says how patches were summed onto them."""
    import torch

    from ecgviewer.gui import diagnosis
    from ecgviewer.ml.bundle import save_model
    from ecgviewer.ml.model import Classifier
    from ecgviewer.ml.patches import PatchConfig

    torch.manual_seed(0)
    model = Classifier(PatchConfig(dim=16, depth=1, heads=2, dropout=0.0), {"super": 5}).eval()
    path = tmp_path / "jepa-tiny.safetensors"
    save_model(path, model, {"super": ["CD", "HYP", "MI", "NORM", "STTC"]})
    settings = Settings(QtCore.QSettings(str(tmp_path / "ai.ini"), QtCore.QSettings.Format.IniFormat))
    settings.set_model_file(path)
    w = MainWindow(settings)
    qtbot.addWidget(w)
    w.show()
    qtbot.waitExposed(w)
    try:
        if w.ai.analyzer is None:
            with qtbot.waitSignal(w.ai.modelReady, timeout=TIMEOUT_MS):
                w.ai.load_model()
        assert w.ai.analyzer.model.kind == "patches"
        result = analysed(qtbot, w, lambda: w.open_file(sample))
        assert result.analysis.inputs.kind == "patches"
        assert "Patch-token model: " in w.ai.panel.explain.details.text()
        assert "of the attribution lies between beats" in w.ai.panel.explain.details.text()
        # this model has no card, so no class is validated: the findings table says so
        rows = w.ai.panel.diagnosis.items()
        assert rows[0].text(0) == diagnosis.NO_FINDINGS
        assert rows[1].text(0) == "Not reported by this model (5)"  # each listed, with the reason
        assert all(r.text(0).endswith(NOT_VALIDATED) for r in rows[2:]) and len(rows) == 7
        assert w.ai.shading._fills
    finally:
        w.cancel_tasks()


def test_the_panels_scroll_so_the_window_fits_a_laptop_screen(qtbot, settings):
    """Analysis and Measurements stack in the right dock area; their heights must not add up to a
    window minimum taller than a 1366 x 768 screen (it was 1,195 px), and a short Attribution tab
    squeezes the lead chart, not the territory tree below its header."""
    settings.set_value("ai/enabled", "true")  # the model is not loaded: the layout is under test
    settings.set_value("measure/enabled", "true")
    w = shown_window(qtbot, settings, 1366, 700)
    assert w.ai_dock.isVisible() and w.measure_dock.isVisible()
    assert w.minimumSizeHint().height() <= 700 and w.height() == 700
    tree = w.ai.panel.explain.tree
    assert tree.height() >= tree.header().height() + 3 * tree.fontMetrics().height()
    # only the height scrolls: a panel that grows wider once a model is named widens its dock
    w.ai.panel.diagnosis.notice.setText("<b>Research use, not a medical device.</b> Model: " + "x" * 60)
    qtbot.wait(200)
    assert w.ai_dock.widget().viewport().width() >= w.ai.panel.minimumSizeHint().width()


def test_a_positive_finding_the_interpretation_leaves_out_says_so_and_why(qtbot):
    """PTB-XL 144, a paced ECG: the model's infarction is positive but not stated (AHA/ACCF/HRS
    2009: Q-wave and ST-T criteria do not apply with ventricular pacing); the panel lists it with
    its probability and says why it is not stated, not as a plain positive."""
    from ecgviewer.gui.diagnosis import DiagnosisPanel
    from ecgviewer.ml.infer import ClassResult, Predictions

    def c(code: str, group: str, p: float) -> ClassResult:
        return ClassResult(code, code.lower(), group, p, (p,), 0.3, p >= 0.3, True, None)

    preds = Predictions(
        tasks={"super": [c("MI", "MI", 0.55), c("CD", "CD", 0.99)], "rhythm": [c("PACE", "rhythm", 0.97)]},
        record_labels={},
        device="cpu",
        timings={},
    )
    panel = DiagnosisPanel()
    qtbot.addWidget(panel)
    panel.set_predictions(preds)
    rows = {item.text(0).split()[0]: item for item in panel.items()}
    assert rows["MI"].text(1) == "0.55" and rows["MI"].text(3) == "not stated"
    assert "ventricular pacing" in rows["MI"].toolTip(3) and not rows["MI"].font(0).bold()
    assert rows["CD"].text(3) == "positive" and rows["CD"].font(0).bold()
