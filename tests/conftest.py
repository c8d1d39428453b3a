"""Shared fixtures. Qt runs offscreen; settings go to a throwaway file, never the user's."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

REPO = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("ECGVIEWER_SHARED_DATA", REPO.parent / "shared" / "data"))
SAMPLE = REPO / "resources/samples/ptbxl/records500/00000/00003_hr.hea"


@pytest.fixture(autouse=True, scope="session")
def _isolated_settings(tmp_path_factory: pytest.TempPathFactory) -> None:
    os.environ["ECGVIEWER_SETTINGS"] = str(tmp_path_factory.mktemp("settings") / "ecgviewer.ini")


@pytest.fixture(scope="session")
def shared() -> Path:
    """``../shared/data`` (real PTB-XL, LUDB and vendor files); skips when absent."""
    if not (SHARED / "README.md").is_file():
        pytest.skip(f"shared data not found at {SHARED} (set ECGVIEWER_SHARED_DATA)")
    return SHARED


@pytest.fixture
def sample() -> Path:
    return SAMPLE


@pytest.fixture
def settings(tmp_path: Path):
    from PySide6 import QtCore

    from ecgviewer.gui.settings import Settings

    s = Settings(QtCore.QSettings(str(tmp_path / "s.ini"), QtCore.QSettings.Format.IniFormat))
    s.set_value("ai/enabled", "false")  # the viewer's own tests; tests/test_gui_ai.py turns it on
    s.set_value("measure/enabled", "false")  # likewise; tests/test_gui_measure.py turns it on
    return s


@pytest.fixture
def one_torch_thread() -> Iterator[None]:
    """A training job shares the CPU: one thread keeps tiny models fast and polite, and the
    setting is restored so later tests keep their timing."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)
