"""The clinician's report, read back from the written files by an independent reader (pypdfium2:
PDFium's text extraction and rasteriser): page count and size, the text on each page, and the grid
and calibration pulse measured in the pixels of a rasterised page. Values are checked against the
model and the signal directly, not against the report's own code."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PySide6 import QtGui

from ecgviewer.cli import main
from ecgviewer.render.options import MM_PER_INCH, ViewOptions
from ecgviewer.report import content, make, pages
from tests.helpers import lead_pair, synthetic, with_pause
from tests.report.reading import NOT_ON_PAPER, flat, pdf_pages, raster

A4, LETTER = (297.0, 210.0), (279.4, 215.9)


@pytest.fixture(scope="module")
def sample_pdf(tmp_path_factory, request) -> Path:
    """The bundled sample's report, written by the command line with the bundled model."""
    from tests.conftest import SAMPLE

    out = tmp_path_factory.mktemp("report") / "sample.pdf"
    assert main(["report", str(SAMPLE), "--out", str(out), "--paper", "a4", "--steps", "4"]) == 0
    return out


def test_sample_report_has_its_a4_landscape_pages(sample_pdf):
    """The ECG with its interpretation, what stands behind the statements going on over a page,
    the attribution, and the classes the model does not report on the page its text goes on to."""
    doc = pdf_pages(sample_pdf)
    assert len(doc) == 4 and "Unconfirmed computer interpretation" in doc[0][1]
    assert "text of page 1 continued" in doc[1][1] and "Behind the computer's statements" in doc[1][1]
    assert "text of page 3 continued" in doc[3][1] and "Not reported by this model" in doc[3][1]
    for size, _ in doc:
        assert size == pytest.approx(A4, abs=0.5)


def test_classes_not_reported_keep_each_ones_figure_in_print():
    """Grouped by why and the bar, each class with its own fold-9 figure, as the window lists them."""
    from types import SimpleNamespace

    from ecgviewer.ml.infer import (
        NOT_VALIDATED,
        SURFACE_MIN_AUROC,
        SURFACE_MIN_SUPPORT,
        NotReported,
        not_surfaced_reason,
    )

    val = {"support": {"AFLT": 7, "DIG": 3, "NST_": 40}, "per_class_auroc": {"NST_": 0.849}}
    codes = ("AFLT", "DIG", "NST_")
    gone = [NotReported(c, c, "all", not_surfaced_reason(val, c) or "") for c in codes]
    gone.append(NotReported("X", "x", "all", NOT_VALIDATED))
    block = content.unreported_block(SimpleNamespace(not_reported=gone))
    assert block is not None and block.lines == (
        f"too few validation examples ({SURFACE_MIN_SUPPORT} needed): AFLT (7 on fold 9), DIG (3 on fold 9)",
        f"not reliable enough ({SURFACE_MIN_AUROC} needed): NST_ (fold-9 AUROC 0.849)",
        f"{NOT_VALIDATED}: X",
    )


def test_page_one_carries_labels_measurements_and_findings(sample_pdf, sample):
    import neurokit2 as nk

    from ecgviewer.io import load
    from ecgviewer.ml.infer import Analyzer

    text = pdf_pages(sample_pdf)[0][1]
    assert text.startswith("12-lead ECG ")
    for needed in (
        "25 mm/s, 10 mm/mV",
        "Filter: HP 0.5 Hz, LP 150 Hz (display only)",
        "Research use, not a medical device.",
        "PTB-XL record 3",
        "Page 1 of 4",
    ):
        assert needed in text
    for lead in ("aVR", "aVL", "aVF", "V1", "V6"):
        assert lead in text
    assert not [word for word in NOT_ON_PAPER if word in text]  # nothing cut, nothing left to a screen
    analyzer = Analyzer(device="cpu")
    assert f"{analyzer.name} (sha256 {analyzer.sha256[:12]})" in text
    rec = load(sample)
    top = analyzer.analyse(rec).predictions.top("super")
    assert f"{top.code} {top.description} p = {top.probability:.2f}" in flat(text)  # a row: name, p, decision
    assert f"Explained: {top.code}" in text
    # the cart's interpretation: numbered, unconfirmed, each statement with what stands behind it
    assert "Unconfirmed computer interpretation" in text and "1. Sinus rhythm" in flat(text)
    text_page = pdf_pages(sample_pdf)[1][1]
    assert "1. Sinus rhythm: measured: rate " in flat(text_page)  # what stands behind it, overleaf
    # the heart rate against R-peaks found by neurokit2 on lead II
    _, info = nk.ecg_peaks(rec.signals[rec.index("II")], sampling_rate=rec.fs)
    hr = 60.0 / np.median(np.diff(info["ECG_R_Peaks"]) / rec.fs)
    shown = float(text.split("HR: ")[1].split(" bpm")[0])
    assert shown == pytest.approx(hr, abs=2)
    assert "QTc (Bazett): " in text and "QRS axis: " in text


def test_findings_from_two_leads_carry_the_cards_lead_set_figure(tmp_path, sample):
    """The sample's II and V1 alone: the findings column ends with the model card's macro AUROC
    for that lead set beside the 12 leads'."""
    from ecgviewer.assets import model_path
    from ecgviewer.weights import read_card

    out = tmp_path / "pair.pdf"
    assert main(["report", str(lead_pair(sample, tmp_path)), "--out", str(out), "--steps", "4"]) == 0
    section = read_card(model_path())["lead_sets"]
    (measured,) = [s for s in section["sets"] if s["leads"] == ["II", "V1"]]
    short = f"2 of 12 leads: AUROC {measured['auroc']:.2f} (12 leads: {section['reference']['auroc']:.2f})"
    text = pdf_pages(out)[0][1]
    assert short in flat(text)
    assert text.startswith("2-lead ECG pair.hea")  # the title counts the recorded leads


def test_the_attribution_of_the_explained_class_follows_page_one(sample_pdf):
    from ecgviewer.leads import TERRITORIES

    first, _text, second, _fourth = (t for _, t in pdf_pages(sample_pdf))
    code = first.split("Explained: ")[1].split(" ")[0]
    assert f"Attribution of {code}" in second
    assert "Leads (share of |attribution|)" in second and "Page 3 of 4" in second
    for name in TERRITORIES:
        assert name in second
    assert "lowers the logit" in second and "raises" in second


def test_a_finding_read_from_leads_names_no_territory_in_print(tmp_path, sample):
    """As on screen (``wording.TERRITORIAL``): sinus rhythm is positive on the sample, and its
    attribution names the leads raising it, never a coronary territory."""
    out = tmp_path / "sr.pdf"
    args = ["report", str(sample), "--out", str(out), "--no-measure", "--label", "SR", "--steps", "4"]
    assert main(args) == 0
    first = flat(next(t for _, t in pdf_pages(out)))
    assert "Explained: SR" in first and "SR, positive" in first, first
    assert "leads raising it" in first and "territories raising it" not in first
    assert first.count("leads raising it") == 1  # the worded line names them; not a second list


def test_rasterised_grid_and_pulse_are_true_scale(tmp_path, sample):
    """5 mm boxes and a 10 mm (1 mV at 10 mm/mV) pulse, measured on PDFium's rendering at 300 dpi."""
    out = tmp_path / "grid.pdf"
    args = ["report", str(sample), "--out", str(out), "--no-ai", "--no-measure", "--paper", "letter"]
    assert main(args) == 0
    assert pdf_pages(out)[0][0] == pytest.approx(LETTER, abs=0.5)
    dpi = 300.0
    px = dpi / MM_PER_INCH
    img = raster(out, 0, dpi).astype(int)
    major = (img[..., 0] > 190) & (img[..., 1] < 175) & (img[..., 2] < 175) & (img[..., 1] > 100)
    for axis, extent in ((0, 265.0), (1, 150.0)):  # columns (vertical lines), then rows
        profile = major.sum(axis=axis)
        lines = np.flatnonzero(profile > 0.5 * profile.max())
        centres = np.array([g.mean() for g in np.split(lines, np.flatnonzero(np.diff(lines) > 2) + 1)])
        spacing = np.diff(centres)
        assert np.median(spacing) == pytest.approx(5 * px, abs=0.3)
        assert centres[-1] - centres[0] == pytest.approx(extent * px, abs=2)
    # the sheet is centred across the page
    cols = np.flatnonzero(major.sum(axis=0) > 0.5 * major.sum(axis=0).max())
    assert cols[0] / px == pytest.approx((LETTER[0] - 265.0) / 2, abs=0.3)
    # the first row's calibration pulse: a vertical ink run 10 mm tall at the pulse's rising edge
    page = content.ecg_pages(*_sample_and_options(sample), 0.0)[0]
    top = cols[0] / px, (LETTER[1] - pages.MARGIN_MM - pages.FOOTER_MM - page.height)
    x = round((top[0] + page.pulse_x) * px)
    dark = (img[:, x - 2 : x + 3].sum(axis=-1) < 200).any(axis=1)
    runs = np.split(np.flatnonzero(dark), np.flatnonzero(np.diff(np.flatnonzero(dark)) > 1) + 1)
    longest = max(len(r) for r in runs)
    assert longest == pytest.approx(10 * px + pages.TRACE_MM * px, abs=3)


def _sample_and_options(sample):
    from ecgviewer.io import load

    return load(sample), ViewOptions()


def test_png_pages_have_the_paper_size_at_their_dpi(tmp_path, sample):
    out = tmp_path / "r.png"
    assert main(["report", str(sample), "--out", str(out), "--no-ai", "--no-measure", "--dpi", "100"]) == 0
    image = QtGui.QImage(str(out))
    w, h = pages.paper_mm(pages.default_paper())
    assert (image.width(), image.height()) == (round(w / MM_PER_INCH * 100), round(h / MM_PER_INCH * 100))
    assert image.dotsPerMeterX() == round(100 / 0.0254)
    assert not (tmp_path / "r-2.png").exists()  # no AI: one page for 10 s


def test_long_recording_continues_on_further_pages_and_says_what_is_left_out(qapp, tmp_path):
    rec = synthetic(45.0, fs=250.0)
    report = make.make(rec, ViewOptions())
    assert [p.t0 for p in report.pages] == [0.0, 10.0, 20.0, 30.0, 40.0] and report.n_pages == 5
    out = tmp_path / "long.pdf"
    pages.write(report, out, "a4")
    doc = pdf_pages(out)
    assert len(doc) == 5 and "40.0\u201345.0 s of 45.0 s" in doc[4][1] and "Page 5 of 5" in doc[4][1]
    assert "AI analysis off" in doc[0][1] and "Measurements off" in doc[0][1]
    capped = make.make(rec, ViewOptions(), max_pages=2)
    pages.write(capped, out, "a4")
    doc = pdf_pages(out)
    assert len(doc) == 2 and "shows 0.0\u201320.0 s of 45.0 s" in doc[1][1]
    assert "shows" not in doc[0][1]


def test_a_long_recordings_report_lists_its_beats_and_events(qapp, tmp_path):
    """Over a minute: page one carries the beat list's counts, rate range and events; a 10 s
    ECG's does not (its median beat says it all)."""
    from ecgviewer.measure.delineate import Delineator

    delineator = Delineator.bundled()
    report = make.make(with_pause(), ViewOptions(), delineator=delineator, max_pages=1)
    assert report.beats is not None and report.beats.lines[0].startswith("1")
    out = tmp_path / "beats.pdf"
    pages.write(report, out, "a4")
    text = pdf_pages(out)[0][1]
    assert "beats in 2:03.0 (whole recording)" in text and "Heart rate" in text
    assert "0:59.5 pause: 3.6 s without a beat" in flat(text)
    short = make.make(synthetic(10.0, fs=250.0), ViewOptions(), delineator=delineator)
    assert short.beats is None


def test_identifiers_are_printed_only_when_asked(qapp, tmp_path):
    rec = synthetic(10.0)
    rec.metadata.identifiers.update({"name": "Doe Jane", "patient id": "XYZ123"})
    out = tmp_path / "id.pdf"
    pages.write(make.make(rec, ViewOptions()), out, "a4")
    text = pdf_pages(out)[0][1]
    assert "Doe Jane" not in text and "XYZ123" not in text and "Patient identifiers: not shown" in text
    pages.write(make.make(rec, ViewOptions(), identifiers=True), out, "a4")
    text = pdf_pages(out)[0][1]
    assert "Name: Doe Jane" in text and "Patient id: XYZ123" in text


def test_a_sheet_too_big_for_the_paper_is_refused_before_any_analysis(tmp_path, sample, capsys):
    out = tmp_path / "big.pdf"
    assert main(["report", str(sample), "--out", str(out), "--layout", "12x1", "--paper", "a4"]) == 2
    err = capsys.readouterr().err
    assert "12x1" in err and "A4 landscape" in err and "true scale" in err and not out.exists()
    assert main(["report", str(sample), "--out", str(tmp_path / "r.txt")]) == 2
    assert main(["report", str(tmp_path / "missing.hea"), "--out", str(out)]) == 2
    assert main(["report", str(sample), "--out", str(out), "--qtc", "nope"]) == 2


def test_shares_are_signed_fractions_of_the_total_magnitude():
    s = content.shares(["a", "b", "c"], np.array([3.0, -1.0, 0.0]))
    assert [x.share for x in s] == [0.75, -0.25, 0.0]
    assert [x.name for x in content.ranked(s, 3)] == ["a"]  # only what raises the logit is ranked
    assert all(x.share == 0 for x in content.shares(["a"], np.zeros(1)))


def test_a_share_that_prints_as_zero_is_not_named_as_lowering_or_raising():
    s = content.shares(["a", "b", "c"], np.array([0.992, -0.004, 0.004]))  # b at -0.4 %: "-0 %"
    assert content.ranked(s, 3, -1) == [] and [x.name for x in content.ranked(s, 3)] == ["a"]
    s = content.shares(["a", "b"], np.array([0.99, -0.01]))
    assert [content.percent(x.share, True) for x in content.ranked(s, 3, -1)] == ["-1 %"]
    assert [content.percent(v, True) for v in (-0.004, 0.004, 0.0)] == ["0 %"] * 3  # the lead chart's labels


def test_self_test_runs_every_step(tmp_path):
    lines: list[str] = []
    from ecgviewer.selftest import run

    run(tmp_path / "self.pdf", say=lines.append)
    steps = [line.split()[1] for line in lines[:-1]]
    assert steps == ["sample", "model", "predict", "measure", "report"]
    assert lines[-1].startswith("self-test passed") and len(pdf_pages(tmp_path / "self.pdf")) == 4


# -- from the window ------------------------------------------------------------------------------
def test_window_report_prints_the_users_edited_measurements(qtbot, measure_window, sample, tmp_path):
    from tests.helpers import measured, open_wait

    w = measure_window
    if w.ai_action.isChecked():
        w.ai_action.trigger()  # Tools > AI analysis off
    m = measured(qtbot, w, lambda: open_wait(qtbot, w, sample))
    view = w.measure.median.view
    view.lines["qrs_on"][1].setValue(view.x_of(1, m.fiducials["qrs_on"] - 20.0))  # as a drag does
    qrs = w.measure.measurements.values["qrs"]
    assert qrs.edited
    out = tmp_path / "window.pdf"
    with qtbot.waitSignal(w.reportWritten, timeout=60_000) as blocker:
        w.export_report(out)
    assert blocker.args[0] == [out]
    doc = pdf_pages(out)
    assert len(doc) == 1 and f"QRS: {qrs.value:.0f} ms (edited)" in doc[0][1]
    assert "AI analysis off" in doc[0][1]


def test_window_report_explains_the_label_on_screen(qtbot, ai_window, sample, tmp_path):
    from tests.helpers import analysed, choose, open_wait

    w = ai_window
    result = analysed(qtbot, w, lambda: open_wait(qtbot, w, sample))
    choose(w, "layout", "6x2")  # 220 mm tall at 10 mm/mV: not on a landscape page at true scale
    out = tmp_path / "ai.pdf"
    with qtbot.waitSignal(w.reportWritten, timeout=120_000):
        w.export_report(out)
    first, *more = (t for _, t in pdf_pages(out))  # page one's text and the unreported classes go on over
    code = result.explanation.target.code
    assert f"Explained: {code}" in " ".join([first, *more])
    assert any(t.startswith(f"Attribution of {code}") for t in more)
    assert "aVR" in first and "V1" in first
    assert "6x2 at 25 mm/s, 10 mm/mV does not fit" in w.statusBar().currentMessage()
    assert "printed as 3x4+1" in w.statusBar().currentMessage()


def test_self_test_names_the_step_that_fails(tmp_path, monkeypatch, capsys):
    import ecgviewer.assets

    monkeypatch.setattr(ecgviewer.assets, "sample_path", lambda: tmp_path / "gone.hea")
    assert main(["self-test"]) == 2
    assert "self-test step 'sample' failed" in capsys.readouterr().err
