"""The PyInstaller bundle (``make package`` -> dist/ecgviewer/): it runs, and it holds what it must and
none of what the spec leaves out. Skipped when no bundle was built.

Checked against: the bundle's own ``self-test`` (sample -> model -> attribution -> measurement ->
report PDF); its ``analyze`` of the bundled sample against the same command run from the source
tree (same model hash, same probabilities); its ``info`` on DICOM, EDF and SCP files from ../shared
against this checkout's reading of them (those readers load parsers through importlib, the usual
missing-hidden-import failure); a rendered PNG's size against what ``render`` says it wrote; the
viewer's first paint; and the bundle's files against fixed lists of what must and must not be there.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import REPO

BUNDLE = REPO / "dist" / "ecgviewer"
INTERNAL = BUNDLE / "_internal"
SAMPLE_REL = "samples/ptbxl/records500/00000/00003_hr.hea"
SAMPLE = REPO / "resources" / SAMPLE_REL
SAMPLE_IN_BUNDLE = INTERNAL / "ecgviewer/resources" / SAMPLE_REL
TIMEOUT_S = 300  # a cold bundle on a busy 2-core machine: torch and the model load in ~5 s unloaded


@pytest.fixture(scope="module")
def info() -> dict:
    """build-info.json of the bundle (written by packaging/ecgviewer.spec); skips without a bundle."""
    path = INTERNAL / "build-info.json"
    if not path.is_file():
        pytest.skip(f"no bundle in {BUNDLE} (`make package` builds it)")
    return json.loads(path.read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def exe(info: dict) -> Path:
    """The console executable: `ecgviewer` on Linux, `ecgviewer-cli` on Windows and macOS."""
    name = info["executables"][-1] + (".exe" if sys.platform == "win32" else "")
    return BUNDLE / name


def _run(exe: Path, *args: str, tmp_path: Path, timeout: float = TIMEOUT_S) -> subprocess.CompletedProcess:
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen", "ECGVIEWER_SETTINGS": str(tmp_path / "s.ini")}
    return subprocess.run(
        [str(exe), *args], capture_output=True, text=True, timeout=timeout, env=env, cwd=tmp_path
    )


def test_self_test_passes(exe, info, tmp_path):
    if "ecgviewer.selftest" not in info["modules"]:
        pytest.skip("the bundle was built before `ecgviewer self-test` existed: rebuild it (make package)")
    pdf = tmp_path / "self-test.pdf"
    r = _run(exe, "self-test", "--out", str(pdf), tmp_path=tmp_path)
    assert r.returncode == 0, r.stdout + r.stderr
    lines = r.stdout.splitlines()
    steps = [m.group(1) for ln in lines if (m := re.match(r"ok\s+(\S+)\s+\d+ ms", ln))]
    assert steps == ["sample", "model", "predict", "measure", "report"], r.stdout
    assert re.fullmatch(r"self-test passed in \d+\.\d s", lines[-1]), r.stdout
    assert pdf.read_bytes().startswith(b"%PDF")


def _super_probabilities(doc: dict) -> dict[str, float]:
    return {c["code"]: c["probability"] for c in doc["records"][0]["predictions"]["super"]}


def test_analyze_matches_the_source_tree(exe, tmp_path):
    """Same model file, same probabilities as the checkout's own ``ecgviewer analyze``."""
    out, ref = tmp_path / "bundle.json", tmp_path / "source.json"
    r = _run(exe, "analyze", str(SAMPLE_IN_BUNDLE), "--json", str(out), tmp_path=tmp_path)
    assert r.returncode == 0, r.stderr
    r = subprocess.run(
        [sys.executable, "-m", "ecgviewer", "analyze", str(SAMPLE), "--json", str(ref)],
        capture_output=True,
        text=True,
        timeout=TIMEOUT_S,
        env={**os.environ, "QT_QPA_PLATFORM": "offscreen"},
        cwd=REPO,
    )
    assert r.returncode == 0, r.stderr
    got, want = (json.loads(p.read_text(encoding="utf-8")) for p in (out, ref))
    assert got["model"]["sha256"] == want["model"]["sha256"]
    assert got["errors"] == [] and len(got["records"]) == 1
    p_got, p_want = _super_probabilities(got), _super_probabilities(want)
    assert p_got.keys() == p_want.keys() and len(p_want) >= 5
    for code, p in p_want.items():
        assert p_got[code] == pytest.approx(p, abs=1e-4), code


def test_render_writes_the_png_it_reports(exe, tmp_path):
    png = tmp_path / "page.png"
    r = _run(exe, "render", str(SAMPLE_IN_BUNDLE), "--out", str(png), "--dpi", "100", tmp_path=tmp_path)
    assert r.returncode == 0, r.stderr
    w, h = map(int, re.search(r": (\d+)x(\d+) px", r.stdout).groups())
    data = png.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    assert (int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")) == (w, h)
    assert w > 500 and h > 300


def test_viewer_paints_its_first_window(exe, tmp_path):
    r = _run(exe, "--quit-after-paint", tmp_path=tmp_path, timeout=120)
    assert r.returncode == 0, r.stderr
    line = next(ln for ln in r.stdout.splitlines() if ln.startswith("first-paint"))
    seconds, torch_before_paint = line.split()[1], line.split()[-1]
    assert float(seconds) > 0
    assert torch_before_paint == "False", line  # the model loads after the first paint, frozen too


@pytest.mark.parametrize(
    "rel, fmt",
    [
        ("formats/dicom/pydicom_waveform_ecg.dcm", "DICOM ECG"),
        ("formats/edf/ludb_record1.edf", "EDF+"),
        ("formats/scp_ecg/Example.scp", "SCP-ECG"),
    ],
)
def test_info_reads_vendor_files_like_the_source_tree(exe, shared, tmp_path, rel, fmt):
    from ecgviewer.io import load
    from ecgviewer.summary import summary_lines

    path = shared / rel
    r = _run(exe, "info", str(path), tmp_path=tmp_path)
    assert r.returncode == 0, r.stderr
    assert r.stdout.splitlines() == summary_lines(load(path), identifiers=False)
    assert f"Format:     {fmt}" in r.stdout.splitlines()


def test_bundle_holds_resources_and_licences(info):
    res = INTERNAL / "ecgviewer" / "resources"
    for rel in (
        "models/clear-hug-bundled.safetensors",
        "models/clear-hug-bundled.json",
        "models/clear-hug-bundled.md",
        "models/delineator-ludb.safetensors",
        "models/delineator-ludb.md",
        "models/delineator-ludb-beats.safetensors",
        "models/delineator-ludb-beats.int8.json",
        "models/delineator-ludb-beats.md",
        "models/delineator-ludb-motion.safetensors",
        "models/delineator-ludb-motion.int8.json",
        "models/delineator-ludb-motion.md",
        "models/beats-mitdb.safetensors",
        "models/beats-mitdb.json",
        "models/beats-mitdb.md",
        "models/flutter-vfdb.json",
        "models/flutter-vfdb.md",
        "samples/ptbxl/records500/00000/00003_hr.hea",
        "samples/ptbxl/records500/00000/00003_hr.dat",
        "samples/ptbxl/scp_statements.csv",
        "icons/ecgviewer.svg",
    ):
        assert (res / rel).is_file(), rel
        assert (res / rel).stat().st_size == (REPO / "resources" / rel).stat().st_size, rel
    assert (INTERNAL / "ecgviewer/ml/analyze.schema.json").is_file()
    assert (INTERNAL / "licenses/LGPL-3.0.txt").is_file() and (INTERNAL / "licenses/GPL-3.0.txt").is_file()
    assert any(INTERNAL.glob("pyside6_essentials-*.dist-info/METADATA"))
    assert any(INTERNAL.glob("torch-*.dist-info/licenses/*"))


def test_bundle_leaves_out_what_the_app_never_uses(info):
    files = [p.relative_to(INTERNAL).as_posix() for p in INTERNAL.rglob("*") if p.is_file()]
    assert len(files) > 500
    forbidden = [
        r"^torch/(include|test|share)/",
        r"^torch/bin/(?!torch_shm_manager)",
        r"^torch/lib/(lib)?(torchbind_test|jitbackend_test|backend_with_compiler|aoti_custom_ops)\.",
        r"^torch/(_inductor|_dynamo|onnx)/",
        r"\.(a|lib)$",
        r"^ecgdatakit/processing/nn/weights/",
        r"(^|/)(lib)?Qt6?(Qml|Quick|Designer|VirtualKeyboard|Pdf|Sql|Help|Lottie|Labs)",
        r"^PySide6/(Qt/)?translations/",
        r"^PySide6/(Qt/)?qml/",
        r"^PySide6/Qt(Qml|Quick\w*|Designer|UiTools|Help|Sql|Network|Xml|DBus)\.",
        r"^PySide6/Qt/plugins/(egldeviceintegrations|generic)/",
        r"^PySide6/Qt/plugins/platforms/libq(eglfs|linuxfb|vnc|vkkhrdisplay|minimalegl)",
        r"(^|/)(sympy|networkx|jinja2|tkinter|_tkinter|IPython|pytest|_pytest|hypothesis|jsonschema)/",
        r"(^|/)(sierraecg|training|hatchling|setuptools|aiohttp|tensorboard)/",
    ]
    found = [(pat, f) for f in files for pat in forbidden if re.search(pat, f)]
    assert not found, found[:10]
    # the Qt platform plugins the viewer needs on Linux are there
    if sys.platform.startswith("linux"):
        platforms = {p.name for p in (INTERNAL / "PySide6/Qt/plugins/platforms").iterdir()}
        assert {"libqxcb.so", "libqwayland.so", "libqoffscreen.so"} <= platforms
        assert (INTERNAL / "torch/bin/torch_shm_manager").is_file()
