"""What the PyInstaller build leaves out, shared by ``ecgviewer.spec`` and ``hooks/hook-PySide6.QtGui.py``.

Every entry is something the app never imports or loads: packaging/README.md says how each was
checked (sys.modules after every command of the app, then the built bundle running them, and the
spec's link check: no kept binary may link a left-out library).
"""

from __future__ import annotations

import fnmatch

# Python modules (and packages) never imported by the app.
EXCLUDE_MODULES = [
    # development, test and training tools
    *("tkinter", "_tkinter", "IPython", "jupyter_client", "ipykernel", "notebook"),
    *("pytest", "_pytest", "pytestqt", "hypothesis", "jsonschema", "sierraecg", "training"),
    *("hatchling", "PyInstaller", "pip", "setuptools", "pkg_resources"),
    # Dask (index --analyze --scheduler, the cluster extra): a cluster's workers run an installed
    # ecgviewer; the app analyses on its local process pool
    *("distributed", "dask", "tornado", "zict", "tblib", "partd", "locket"),
    # torch's compiler stack, exporters and tools (eager CPU inference and autograd need none of it),
    # and what only they import
    # (torch's hook still collects the kept modules as .py files too: torch reads its own source at import)
    *("torch._inductor", "torch._dynamo", "torch.onnx", "torch.utils.benchmark", "torch.utils.tensorboard"),
    *("torch.utils.cpp_extension", "tensorboard", "sympy", "mpmath", "networkx", "jinja2"),
    # fsspec's HTTP backend (wfdb imports fsspec; records are read from local files)
    *("aiohttp", "yarl", "multidict", "frozenlist", "propcache", "aiosignal"),
    # Qt modules the app does not import (PySide6-Essentials ships them)
    *(
        f"PySide6.{m}"
        for m in (
            *("QtQml", "QtQuick", "QtQuickControls2", "QtQuickTest", "QtQuickWidgets", "QtDesigner"),
            *("QtUiTools", "QtHelp", "QtSql", "QtDBus", "QtNetwork", "QtXml", "QtConcurrent"),
            "QtPrintSupport",
        )
    ),
]

# Files left out, by destination path in the bundle ("/" separators, fnmatch patterns).
DROP = [
    # torch: C++ headers, CMake files, static libraries, C++ test programs and test libraries, protoc
    # (torch/bin/torch_shm_manager stays: torch.multiprocessing checks for it at import)
    *("torch/include/*", "torch/share/*", "torch/test/*", "torch/bin/*", "*.a", "*.lib"),
    *(f"torch/lib/{p}{t}.*" for p in ("lib", "") for t in ("torchbind_test", "jitbackend_test")),
    *(f"torch/lib/{p}{t}.*" for p in ("lib", "") for t in ("backend_with_compiler", "aoti_custom_ops")),
    # ecgdatakit's ~64 MB of neural-network weights (its own models; the app never uses them)
    "ecgdatakit/processing/nn/weights/*",
    # Qt: translations (the UI is English only), QML, libraries of modules the app does not use
    *("PySide6/Qt/translations/*", "PySide6/translations/*", "PySide6/Qt/qml/*", "PySide6/qml/*"),
    *(
        f"{d}/*Qt6{m}*"
        for d in ("PySide6/Qt/lib", "PySide6")
        for m in ("Qml", "Quick", "Designer", "Lottie", "Labs", "VirtualKeyboard", "Pdf", "Sql", "Help")
    ),
    *(f"PySide6/Qt/lib/Qt{m}.framework/*" for m in ("Qml", "Quick", "Designer", "VirtualKeyboard", "Pdf")),
    *("PySide6/Qt/lib/libQt6WaylandCompositor*", "PySide6/Qt/lib/libQt6WaylandEgl*Compositor*"),
    "PySide6/Qt/lib/libQt6EglF*",
    # Qt plugins: embedded-Linux input and display (eglfs), the virtual keyboard (Qt Quick), PDF
    # images (Qt Pdf), Wayland compositors, GTK3 theme (links the build machine's GTK/cairo/pango)
    *(f"PySide6/{q}plugins/{t}/*" for q in ("Qt/", "") for t in ("egldeviceintegrations", "generic")),
    *(f"PySide6/{q}plugins/wayland-graphics-integration-server/*" for q in ("Qt/", "")),
    *(f"PySide6/{q}plugins/platforminputcontexts/*virtualkeyboard*" for q in ("Qt/", "")),
    *(f"PySide6/{q}plugins/imageformats/*qpdf*" for q in ("Qt/", "")),
    *(f"PySide6/{q}plugins/platformthemes/*gtk3*" for q in ("Qt/", "")),
]

# and the data files of the packages excluded above (torch's hook collects all of torch's data files)
DROP += [f"{m.replace('.', '/')}/*" for m in EXCLUDE_MODULES]

# Kept although a DROP pattern matches.
KEEP = ["torch/bin/torch_shm_manager*"]

# Binaries stripped of their symbol tables. PyInstaller's strip=True strips everything, and breaks the
# libraries auditwheel patched with patchelf (numpy.libs/*openblas*: "ELF load command address/offset
# not page-aligned"), so the spec strips itself: on Linux every ELF file that auditwheel left alone
# (none in a *.libs folder, none with an RPATH into one), on macOS only these (untested there);
# never on Windows. torch's libraries ship unstripped (libtorch_cpu.so 434 MB -> 330 MB).
STRIP_MACOS = ["torch/lib/*.dylib"]

# Qt platform plugins kept (the others are eglfs, linuxfb, vnc, Vulkan display): X11, Wayland,
# headless, Windows, macOS.
PLATFORMS = (
    *("qxcb", "qwayland", "qwayland-egl", "qwayland-generic"),
    *("qoffscreen", "qminimal", "qwindows", "qcocoa"),
)


def dropped(dest: str) -> bool:
    """Is the file at ``dest`` (its path inside the bundle) left out?"""
    dest = dest.replace("\\", "/")
    if any(fnmatch.fnmatch(dest, p) for p in KEEP):
        return False
    if any(fnmatch.fnmatch(dest, p) for p in DROP):
        return True
    parts = dest.split("/")
    if "plugins" in parts and parts[parts.index("plugins") + 1 :][:1] == ["platforms"]:
        return parts[-1].split(".")[0].removeprefix("lib") not in PLATFORMS
    return False


def split(toc: list) -> tuple[list, list]:
    """``(kept, left_out)`` of a PyInstaller TOC (entries ``(dest, src, typecode)``)."""
    kept, gone = [], []
    for entry in toc:
        (gone if dropped(entry[0]) else kept).append(entry)
    return kept, gone
