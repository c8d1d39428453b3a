"""``ecgviewer render`` and ``ecgviewer info``: headless, one-line errors, exit codes."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from PySide6 import QtGui

from ecgviewer.cli import main
from ecgviewer.render.layout import page_layout
from ecgviewer.render.options import MM_PER_INCH


def run_cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "ecgviewer", *map(str, args)], capture_output=True, text=True, timeout=120
    )


@pytest.mark.parametrize(("layout", "speed", "dpi"), [("3x4+1", 25.0, 150.0), ("12x1", 50.0, 100.0)])
def test_render_writes_a_true_scale_page(sample, tmp_path, layout, speed, dpi):
    out = tmp_path / "page.png"
    assert (
        main(
            [
                "render",
                str(sample),
                "--layout",
                layout,
                "--speed",
                str(speed),
                "--gain",
                "10",
                "--filter",
                "hp0.5,lp40",
                "--dpi",
                str(dpi),
                "--out",
                str(out),
            ]
        )
        == 0
    )
    image = QtGui.QImage(str(out))
    from ecgviewer.leads import STANDARD_LEADS

    page = page_layout(layout, STANDARD_LEADS, speed=speed)
    assert image.width() == round(page.width * dpi / MM_PER_INCH)
    assert image.height() == round(page.height * dpi / MM_PER_INCH)
    assert not list(tmp_path.glob(".page.png.*"))  # the atomic write left no temporary file


def test_render_and_info_in_a_subprocess(sample, tmp_path):
    out = tmp_path / "p.png"
    r = run_cli("render", sample, "--out", out, "--dpi", "96")
    assert r.returncode == 0, r.stderr
    assert "25 mm/s, 10 mm/mV, HP 0.5 Hz, LP 150 Hz" in r.stdout and out.stat().st_size > 10_000
    r = run_cli("info", sample)
    assert r.returncode == 0
    for text in ("Leads:      12 (I, II, III, aVR", "Rate:       500 Hz", "PTB-XL record 3", "NORM"):
        assert text in r.stdout


@pytest.mark.parametrize(
    "args",
    [
        ("info", "missing.hea"),
        ("render", "missing.hea", "--out", "x.png"),
        ("render", "SAMPLE", "--out", "x.png", "--filter", "bandstop7"),
        ("render", "SAMPLE", "--out", "/nonexistent-dir/x.png"),
    ],
)
def test_errors_are_one_line_with_exit_2(sample, tmp_path, args):
    args = [str(sample) if a == "SAMPLE" else a for a in args]
    r = subprocess.run(
        [sys.executable, "-m", "ecgviewer", *args], capture_output=True, text=True, cwd=tmp_path, timeout=120
    )
    assert r.returncode == 2
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("ecgviewer: error: "), r.stderr
    assert "Traceback" not in r.stderr


def test_usage_errors_exit_2(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["render", "x.hea"])  # --out missing
    assert exc.value.code == 2


def test_module_and_script_entry_points_exist():
    r = run_cli("--version")
    assert r.returncode == 0 and r.stdout.startswith("ecgviewer ")
    scripts = Path(sys.executable).parent
    assert (scripts / "ecgviewer").exists() or (scripts / "ecgviewer.exe").exists()


def test_info_hides_identifiers_unless_asked(shared, capsys):
    """GE MUSE sample (GPL, read from ../shared): its placeholder patient is JOHN DOE."""
    muse = shared / "formats/ge_muse_xml/muse-sinus.xml"
    assert main(["info", str(muse)]) == 0
    out = capsys.readouterr().out
    assert "DOE" not in out and "081486213" not in out and "hidden" in out
    assert "Device says: Normal Sinus rhythm" in out and "Device PR: 144 ms" in out
    assert main(["info", str(muse), "--identifiers"]) == 0
    assert "DOE" in capsys.readouterr().out


def test_library_errors_withhold_quoted_values():
    from ecgviewer.errors import plain_cause

    cause = plain_cause(ValueError("invalid literal for int() with base 10: 'DOE^JOHN'\nTraceback..."))
    assert "DOE" not in cause and "Traceback" not in cause and cause.startswith("invalid literal")
    assert plain_cause(KeyError("PatientName")) == "KeyError \u2026"
    # a library that names the file: its folders or name may be a patient's, whatever the length
    for path in ("/data/DOE_JOHN/ecg.xml", "/tmp/" + "x" * 200 + "/DOE_JOHN.xml", r"C:\ECG\DOE_JOHN.xml"):
        cause = plain_cause(ValueError(f"the lead count is coded in {path}, wrongly"))
        assert "DOE" not in cause and "xxx" not in cause
        assert cause.startswith("the lead count is coded in the file")
    assert plain_cause(ValueError("gain 1/2 of 3/4/5")) == "gain 1/2 of 3/4/5"  # numbers are not paths
