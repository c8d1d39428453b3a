"""Install layout and start-up path: resources found outside the source tree; no torch at start."""

from __future__ import annotations

import os
import subprocess
import sys
import zipfile
from pathlib import Path

from tests.conftest import REPO


def test_wheel_carries_resources_and_finds_them_when_installed(tmp_path):
    r = subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--no-deps",
            "--no-build-isolation",
            "-q",
            "-w",
            str(tmp_path / "dist"),
            str(REPO),
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert r.returncode == 0, r.stderr
    (wheel,) = (tmp_path / "dist").glob("ecgviewer-*.whl")
    with zipfile.ZipFile(wheel) as z:
        names = set(z.namelist())
        assert "ecgviewer/resources/samples/ptbxl/records500/00000/00003_hr.hea" in names
        assert "ecgviewer/resources/icons/ecgviewer.svg" in names
        assert "ecgviewer/resources/models/clear-hug-bundled.safetensors" in names
        assert "ecgviewer/resources/models/clear-hug-bundled.json" in names
        assert "ecgviewer/ml/analyze.schema.json" in names
        z.extractall(tmp_path / "site")
    code = (
        "from ecgviewer.assets import sample_path; from ecgviewer.io import load; "
        "p = sample_path(); load(p); print(p)"
    )
    r = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env={**os.environ, "PYTHONPATH": str(tmp_path / "site")},
        timeout=120,
    )
    assert r.returncode == 0, r.stderr
    assert Path(r.stdout.strip()).is_relative_to(tmp_path / "site")


def test_startup_path_never_imports_torch(sample):
    code = (
        "import sys; from ecgviewer.cli import main; import ecgviewer.gui.app, ecgviewer.gui.main_window; "
        f"from ecgviewer.io import load; load({str(sample)!r}); "
        "assert 'torch' not in sys.modules, 'torch imported'; "
        "assert 'scipy.signal' not in sys.modules, 'scipy.signal imported'"
    )
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
