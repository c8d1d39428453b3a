"""The desktop check before the window (``ecgviewer.desktop``): missing system libraries become
one install command for the user's distribution, never Qt's plugin message."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from ecgviewer import desktop

LDD = """\
\tlibQt6XcbQpa.so.6 => /x/PySide6/Qt/lib/libQt6XcbQpa.so.6 (0x00007f)
\tlibxcb-icccm.so.4 => not found
\tlibxcb-keysyms.so.1 => not found
\tlibxcb.so.1 => /lib/x86_64-linux-gnu/libxcb.so.1 (0x00007f)
\tlibxcb-icccm.so.4 => not found
\tlibfoo-unknown.so.2 => not found
"""


def test_ldd_output_becomes_the_missing_libraries(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(desktop.shutil, "which", lambda name: "/usr/bin/ldd")
    monkeypatch.setattr(desktop.subprocess, "run", lambda *a, **k: subprocess.CompletedProcess(a, 0, LDD, ""))
    assert desktop.missing_libraries(Path("libqxcb.so")) == [
        "libxcb-icccm.so.4",
        "libxcb-keysyms.so.1",
        "libfoo-unknown.so.2",
    ]
    monkeypatch.setattr(desktop.shutil, "which", lambda name: None)
    assert desktop.missing_libraries(Path("libqxcb.so")) == []  # no ldd: never stop a window


def test_one_install_command_per_distribution() -> None:
    debian = 'PRETTY_NAME="Debian GNU/Linux 12"\nID=debian\n'
    ubuntu = 'NAME="Ubuntu"\nID=ubuntu\nID_LIKE=debian\n'
    fedora = 'NAME="Fedora Linux"\nID=fedora\n'
    rocky = 'ID="rocky"\nID_LIKE="rhel centos fedora"\n'
    assert [desktop.distribution(t) for t in (debian, ubuntu, fedora, rocky, "ID=arch\n")] == [
        "debian", "debian", "fedora", "fedora", None,
    ]  # fmt: skip
    missing = ["libxcb-icccm.so.4", "libxcb-keysyms.so.1", "libxcb-cursor.so.0", "libxkbcommon-x11.so.0"]
    assert desktop.install_command(missing, "debian") == (
        "apt-get update && apt-get install -y libxcb-icccm4 libxcb-keysyms1 libxcb-cursor0 libxkbcommon-x11-0"
    )
    assert desktop.install_command(missing, "fedora") == (
        "dnf install -y xcb-util-wm xcb-util-keysyms xcb-util-cursor libxkbcommon-x11"
    )
    other = desktop.install_command(["libxcb-icccm.so.4"], None)
    assert "libxcb-icccm4 (Debian) / xcb-util-wm (Fedora)" in other


def test_only_an_xcb_window_is_checked() -> None:
    assert not desktop.uses_xcb({"QT_QPA_PLATFORM": "offscreen"})
    assert desktop.uses_xcb({"QT_QPA_PLATFORM": "xcb"})
    assert not desktop.uses_xcb({"QT_QPA_PLATFORM": "wayland;xcb"})
    assert desktop.problem({"QT_QPA_PLATFORM": "offscreen"}) is None
    if sys.platform.startswith("linux"):
        assert desktop.uses_xcb({"DISPLAY": ":0"}) and not desktop.uses_xcb({"WAYLAND_DISPLAY": "w"})


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="Qt's xcb plugin is Linux's")
def test_the_viewer_says_what_to_install_instead_of_aborting(tmp_path: Path) -> None:
    """The real entry point with the xcb platform and no display: whatever this machine lacks
    (system libraries, or only a display), one clear sentence and exit code 2, not Qt's abort."""
    env = {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "WAYLAND_DISPLAY")}
    env |= {"QT_QPA_PLATFORM": "xcb", "ECGVIEWER_SETTINGS": str(tmp_path / "s.ini")}
    r = subprocess.run(
        [sys.executable, "-m", "ecgviewer"], env=env, capture_output=True, text=True, timeout=120
    )
    assert r.returncode == desktop.EXIT_CODE, r.stderr
    assert r.stderr.startswith("ecgviewer: the window cannot open: ")
    assert "could not load the Qt platform plugin" not in r.stderr
    plugin = desktop.xcb_plugin()
    missing = desktop.missing_libraries(plugin) if plugin else []
    assert ("install" in r.stderr) == bool(missing) and all(lib in r.stderr for lib in missing)
