"""The Qt-free cores type-check clean (mypy, configured in pyproject.toml's [tool.mypy]), so CI
catches a type error that `make lint` would."""

from __future__ import annotations

import subprocess
import sys

from tests.conftest import REPO


def test_the_cores_type_check() -> None:
    res = subprocess.run(
        [sys.executable, "-m", "mypy"], cwd=REPO, capture_output=True, text=True, timeout=900
    )
    assert res.returncode == 0, res.stdout[-4000:] + res.stderr[-2000:]
