"""The run scripts (``training/*.sh``) run for an hour or more, on a lent accelerator or on the 2
CPU cores, where a typo costs the lease or the session: each must at least parse and say how it is
called."""

from __future__ import annotations

import shutil
import subprocess

import pytest

from tests.conftest import REPO

SCRIPTS = sorted((REPO / "training").glob("*.sh"))


@pytest.mark.skipif(shutil.which("bash") is None, reason="bash is not installed")
@pytest.mark.parametrize("script", SCRIPTS, ids=lambda p: p.name)
def test_script_parses_and_names_its_usage(script):
    subprocess.run(["bash", "-n", str(script)], check=True)
    text = script.read_text()
    assert text.startswith("#!/usr/bin/env bash\n")
    assert "# Usage: training/" + script.name in text
    assert "set -euo pipefail" in text


def test_there_are_scripts():
    gpu = {"gpu_session.sh", "gpu_ssl.sh", "gpu_objectives.sh", "gpu_scaling.sh"}
    expected = gpu | {"cpu_gain.sh", "cpu_jepa.sh", "cpu_scaling.sh"}
    assert {p.name for p in SCRIPTS} >= expected
