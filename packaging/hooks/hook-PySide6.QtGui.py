"""PyInstaller's own hook for PySide6.QtGui, less the plugins that ``packaging/trim.py`` leaves out.

Filtering here, before PyInstaller follows the plugins' links, keeps their libraries out too
(the virtual keyboard plugin alone links Qt Quick, QML and Network; the GTK3 theme, GTK's stack).
"""

import os

from PyInstaller.utils.hooks.qt import add_qt6_dependencies
from trim import dropped

hiddenimports, binaries, datas = add_qt6_dependencies(__file__)
# hook entries are (source file, destination folder)
binaries = [(src, dst) for src, dst in binaries if not dropped(os.path.join(dst, os.path.basename(src)))]
datas = [(src, dst) for src, dst in datas if not dropped(os.path.join(dst, os.path.basename(src)))]
