"""Whether this Linux desktop can open the Qt window, checked before Qt tries.

Qt's xcb platform plugin needs system libraries that PySide6's wheels do not carry (on a fresh
Debian, ``libxcb-icccm4`` and ``libxcb-keysyms1``); without them Qt aborts with "could not load
the Qt platform plugin xcb" and no hint of what to install. ``ldd`` on the plugin lists every
missing library, the plugin's own and its Qt libraries'; each is mapped to its package on the
user's distribution, and the window is not attempted until one install command has been run.
No library does this for Qt (its own message names the plugin, not the packages).
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

EXIT_CODE = 2
# shared library -> (Debian/Ubuntu package, Fedora package), for what Qt's xcb plugin links.
PACKAGES: dict[str, tuple[str, str]] = {
    "libxcb-icccm.so.4": ("libxcb-icccm4", "xcb-util-wm"),
    "libxcb-keysyms.so.1": ("libxcb-keysyms1", "xcb-util-keysyms"),
    "libxcb-cursor.so.0": ("libxcb-cursor0", "xcb-util-cursor"),
    "libxcb-image.so.0": ("libxcb-image0", "xcb-util-image"),
    "libxcb-render-util.so.0": ("libxcb-render-util0", "xcb-util-renderutil"),
    "libxcb-util.so.1": ("libxcb-util1", "xcb-util"),
    "libxkbcommon-x11.so.0": ("libxkbcommon-x11-0", "libxkbcommon-x11"),
    "libxkbcommon.so.0": ("libxkbcommon0", "libxkbcommon"),
    "libxcb-randr.so.0": ("libxcb-randr0", "libxcb"),
    "libxcb-shape.so.0": ("libxcb-shape0", "libxcb"),
    "libxcb-shm.so.0": ("libxcb-shm0", "libxcb"),
    "libxcb-sync.so.1": ("libxcb-sync1", "libxcb"),
    "libxcb-xfixes.so.0": ("libxcb-xfixes0", "libxcb"),
    "libxcb-xkb.so.1": ("libxcb-xkb1", "libxcb"),
    "libxcb-render.so.0": ("libxcb-render0", "libxcb"),
    "libxcb-glx.so.0": ("libxcb-glx0", "libxcb"),
    "libxcb.so.1": ("libxcb1", "libxcb"),
    "libX11-xcb.so.1": ("libx11-xcb1", "libX11-xcb"),
    "libX11.so.6": ("libx11-6", "libX11"),
    "libEGL.so.1": ("libegl1", "libglvnd-egl"),
    "libGL.so.1": ("libgl1", "libglvnd-glx"),
    "libOpenGL.so.0": ("libopengl0", "libglvnd-opengl"),
    "libfontconfig.so.1": ("libfontconfig1", "fontconfig"),
    "libfreetype.so.6": ("libfreetype6", "freetype"),
    "libdbus-1.so.3": ("libdbus-1-3", "dbus-libs"),
    "libglib-2.0.so.0": ("libglib2.0-0", "glib2"),
}
# as root: a desktop user puts sudo (or su -c) before it; apt's package lists may be stale or absent
_INSTALL = {"debian": "apt-get update && apt-get install -y", "fedora": "dnf install -y"}
_NOT_FOUND = re.compile(r"^\s*(\S+)\s+=>\s+not found", re.MULTILINE)


def xcb_plugin() -> Path | None:
    """The xcb platform plugin of the PySide6 this process would use (None: not there)."""
    import PySide6  # the package only: Qt's libraries are not loaded by this

    path = Path(PySide6.__file__).parent / "Qt" / "plugins" / "platforms" / "libqxcb.so"
    return path if path.is_file() else None


def missing_libraries(plugin: Path) -> list[str]:
    """The shared libraries ``plugin`` needs and the system lacks (``ldd``; none when ``ldd``
    is not there, so that the check never stops a window that might open)."""
    ldd = shutil.which("ldd")
    if ldd is None:
        return []
    out = subprocess.run([ldd, str(plugin)], capture_output=True, text=True, timeout=30).stdout
    return list(dict.fromkeys(_NOT_FOUND.findall(out)))


def distribution(os_release: str) -> str | None:
    """'debian' (Debian, Ubuntu and their kin) or 'fedora' (Fedora, RHEL and kin) from the text
    of ``/etc/os-release``; None for others."""
    fields = dict(re.findall(r'^(ID|ID_LIKE)="?([^"\n]*)"?', os_release, re.MULTILINE))
    ids = f"{fields.get('ID', '')} {fields.get('ID_LIKE', '')}".split()
    for family, members in (("debian", ("debian", "ubuntu")), ("fedora", ("fedora", "rhel", "centos"))):
        if any(i in members for i in ids):
            return family
    return None


def install_command(missing: list[str], family: str | None) -> str:
    """The one command that installs ``missing``, or, on another distribution, both families'
    package names to look up."""
    if family in _INSTALL:
        column = 0 if family == "debian" else 1
        names = dict.fromkeys(PACKAGES[lib][column] if lib in PACKAGES else lib for lib in missing)
        return f"{_INSTALL[family]} {' '.join(names)}"
    known = [lib for lib in missing if lib in PACKAGES]
    hint = "; ".join(f"{lib}: {PACKAGES[lib][0]} (Debian) / {PACKAGES[lib][1]} (Fedora)" for lib in known)
    return f"install the packages that provide {', '.join(missing)}" + (f" ({hint})" if hint else "")


def uses_xcb(env: dict[str, str]) -> bool:
    """Whether Qt will try the xcb plugin: on Linux, unless another platform is asked for
    (``offscreen`` in CI) or a Wayland session is there for Qt's own choice."""
    platform = env.get("QT_QPA_PLATFORM", "")
    if platform:
        return platform.split(":")[0].split(";")[0] == "xcb"
    return sys.platform.startswith("linux") and not env.get("WAYLAND_DISPLAY")


def problem(env: dict[str, str] | None = None, os_release: Path = Path("/etc/os-release")) -> str | None:
    """Why the window cannot open here, with what to do (None: nothing found against it)."""
    env = dict(os.environ if env is None else env)
    if not uses_xcb(env):
        return None
    plugin = xcb_plugin()
    missing = missing_libraries(plugin) if plugin else []
    if missing:
        text = os_release.read_text(errors="replace") if os_release.is_file() else ""
        return (
            f"ecgviewer: the window cannot open: Qt's xcb platform plugin needs "
            f"{', '.join(missing)}, which this system lacks. Install them as root (or with sudo):\n\n"
            f"    {install_command(missing, distribution(text))}\n\n"
            "then start ecgviewer again (README: System packages). The command-line tools "
            "(ecgviewer analyze, report, ...) work without them."
        )
    if not env.get("DISPLAY"):
        return (
            "ecgviewer: the window cannot open: there is no X display (DISPLAY is not set). Start it "
            "from a desktop session; on a machine without one, the command-line tools work "
            "(ecgviewer --help)."
        )
    return None


def main() -> int:
    """``python -m ecgviewer.desktop``: say whether the window can open here."""
    why = problem()
    print(why or "ecgviewer: this desktop can open the window.", file=sys.stderr if why else sys.stdout)
    return EXIT_CODE if why else 0


if __name__ == "__main__":
    sys.exit(main())
