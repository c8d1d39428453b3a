"""Render ``resources/icons/ecgviewer.svg`` to a PNG for the frozen app's icon.

``python packaging/icon.py OUT.png [--size 256]``. PyInstaller (with Pillow) turns the PNG into the
``.ico`` (Windows) or ``.icns`` (macOS) it needs; on Linux an executable carries no icon. Qt's own
SVG renderer draws it (QtSvg, offscreen platform), so building needs no extra tool.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

SVG = Path(__file__).resolve().parents[1] / "resources" / "icons" / "ecgviewer.svg"


def render(out: Path, size: int = 256) -> Path:
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from PySide6 import QtCore, QtGui, QtSvg

    app = QtGui.QGuiApplication.instance() or QtGui.QGuiApplication([])  # noqa: F841 (kept alive)
    renderer = QtSvg.QSvgRenderer(str(SVG))
    if not renderer.isValid():
        raise RuntimeError(f"{SVG}: not a valid SVG")
    image = QtGui.QImage(size, size, QtGui.QImage.Format.Format_ARGB32)
    image.fill(QtCore.Qt.GlobalColor.transparent)
    painter = QtGui.QPainter(image)
    painter.setRenderHint(QtGui.QPainter.RenderHint.Antialiasing)
    renderer.render(painter)
    painter.end()
    out.parent.mkdir(parents=True, exist_ok=True)
    if not image.save(str(out), "PNG"):
        raise RuntimeError(f"{out}: could not write the PNG")
    return out


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("out", type=Path)
    p.add_argument("--size", type=int, default=256, help="pixels (square); .ico and .icns take 256")
    args = p.parse_args(argv)
    print(render(args.out, args.size))
    return 0


if __name__ == "__main__":
    sys.exit(main())
