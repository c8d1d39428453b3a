"""Synthetic recordings and image probes shared by the rendering and GUI tests."""

from __future__ import annotations

import binascii
import json
import shutil
import struct
from datetime import date, datetime
from pathlib import Path

import numpy as np

from ecgviewer.leads import STANDARD_LEADS
from ecgviewer.recording import Recording, make_recording
from ecgviewer.sources import ArraySource

AI_TIMEOUT_MS = 180_000  # first analysis in a process imports torch and neurokit2; CI machines are slow
MEASURE_TIMEOUT_MS = 120_000  # the first measurement in a process imports torch


def with_pause(pause_at_s: float = 60.0, tiles: int = 12) -> Recording:
    """The bundled sample tiled ``tiles`` times, with 3 s of flat line at ``pause_at_s`` (a pause
    of about 3.5 s): a long recording with one event for the beat list."""
    from ecgviewer.io import load

    src = load(Path(__file__).resolve().parents[1] / "resources/samples/ptbxl/records500/00000/00003_hr.hea")
    x = np.tile(src.signals, tiles)
    a = round(pause_at_s * src.fs)
    x = np.concatenate([x[:, :a], np.zeros((12, round(3 * src.fs)), np.float32), x[:, a:]], axis=1)
    return make_recording(None, ArraySource(x), src.fs, list(src.leads), "with a pause")


def synthetic(
    seconds: float = 10.0,
    fs: float = 500.0,
    leads=STANDARD_LEADS,
    spikes_every: float = 1.0,
    spike_mv: float = 1.0,
) -> Recording:
    """Flat leads with a one-sample spike of ``spike_mv`` every ``spikes_every`` s (at 0.5 s, 1.5 s...),
    lead k offset by k*10 uV so leads can be told apart."""
    n = round(seconds * fs)
    data = np.zeros((len(leads), n), np.float32)
    idx = (np.arange(0.5, seconds, spikes_every) * fs).astype(int)
    data[:, idx] = spike_mv
    data += (np.arange(len(leads), dtype=np.float32) * 0.01)[:, None]
    return make_recording(None, ArraySource(data), fs, list(leads), "synthetic")


def hex_rgb(color: str) -> np.ndarray:
    return np.array([int(color[i : i + 2], 16) for i in (1, 3, 5)], np.uint8)


def mask(arr: np.ndarray, color: str, tol: int = 40) -> np.ndarray:
    return np.abs(arr.astype(int) - hex_rgb(color).astype(int)).sum(axis=-1) <= tol


def shown_window(qtbot, settings, width: int = 1400, height: int = 900):
    """A main window on ``settings``, shown at ``width`` x ``height`` and exposed (the GUI tests'
    common start; the caller cancels its tasks)."""
    from PySide6 import QtCore

    from ecgviewer.gui.main_window import MainWindow

    w = MainWindow(settings)
    qtbot.addWidget(w)
    w.setWindowState(QtCore.Qt.WindowState.WindowNoState)  # its own size, even on a small screen
    w.resize(width, height)
    w.show()
    qtbot.waitExposed(w)
    return w


def open_wait(qtbot, window, path: Path) -> None:
    """Open ``path`` and wait until the paper shows it."""
    with qtbot.waitSignal(window.recordingLoaded, timeout=20000):
        window.open_file(path)


def measured(qtbot, window, action):
    """Run ``action`` and return the measurements the window shows after it."""
    with qtbot.waitSignal(window.measure.measured, timeout=MEASURE_TIMEOUT_MS) as blocker:
        action()
    return blocker.args[0]


def choose(window, key: str, data: object) -> None:
    combo = window.combos[key]
    combo.setCurrentIndex(combo.findData(data))
    combo.activated.emit(combo.currentIndex())


def analysed(qtbot, window, action) -> object:
    """Run ``action`` and return the analysis result it leads to."""
    with qtbot.waitSignal(window.ai.resultShown, timeout=AI_TIMEOUT_MS) as blocker:
        action()
    return blocker.args[0]


def choose_label(qtbot, window, code: str) -> object:
    """Click the findings row of ``code`` (as a reader does) and return its explanation's result."""
    d = window.ai.panel.diagnosis
    row = next(i for i in d.items() if i.text(0).split()[0] == code)
    return analysed(qtbot, window, lambda: d.tree.setCurrentItem(row))


def copy_model(folder: Path, stem: str, name: str | None = None) -> Path:
    """The bundled classifier and its card under another file name (and card name) in ``folder``."""
    from ecgviewer.assets import model_path

    bundled = model_path()
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / f"{stem}.safetensors"
    shutil.copyfile(bundled, target)
    card = json.loads(bundled.with_suffix(".json").read_text())
    card["name"] = name or stem
    target.with_suffix(".json").write_text(json.dumps(card))
    shutil.copyfile(bundled.with_suffix(".md"), target.with_suffix(".md"))
    return target


# -- ISHNE files written from the standard's field table (Badilini 1998), not from the reader ----
# Table 1 of the standard: I..aVF are 5..10, V1..V6 11..16.
SPEC_OF = {name: code for code, name in enumerate(STANDARD_LEADS, start=5)}
PATIENT = {"first": "Ada", "last": "Testperson", "pid": "ISH-4711", "birth": date(1961, 5, 17)}


def write_ishne(
    path: Path,
    codes: np.ndarray,
    res_nv: list[int],
    specs: list[int],
    fs: int,
    *,
    magic: bytes = b"ISHNE1.0",
    var_text: bytes = b"",
    record: datetime | None = datetime(2018, 3, 4, 9, 15, 30),
    sex: int = 2,
    quality: list[int] | None = None,
    ecg_size: int | None = None,
    patient: dict | None = None,
) -> Path:
    """An ISHNE .ecg file, laid out field by field as the standard's header table gives them.

    ``codes``: samples x leads int16. The checksum is CRC-CCITT (0x1021, initial 0xFFFF) of bytes 10
    up to the first sample, stored little-endian.
    """
    p = PATIENT if patient is None else patient
    n, n_leads = codes.shape
    h = bytearray(512)  # the fixed header; offsets below are the file's minus 10

    def at(offset: int, fmt: str, *values: object) -> None:
        struct.pack_into("<" + fmt, h, offset - 10, *values)

    def text(offset: int, width: int, value: str) -> None:
        h[offset - 10 : offset - 10 + width] = value.encode("latin-1")[:width].ljust(width, b"\0")

    def day(d: date | None) -> tuple[int, int, int]:
        return (d.day, d.month, d.year) if d else (-9, -9, -9)

    at(10, "i", len(var_text))  # size of the variable-length block
    at(14, "i", n if ecg_size is None else ecg_size)  # samples per lead
    at(18, "i", 522)  # offset of the variable-length block
    at(22, "i", 522 + len(var_text))  # offset of the ECG block
    at(26, "h", 1)  # file version
    text(28, 40, p["first"])
    text(68, 40, p["last"])
    text(108, 20, p["pid"])
    at(128, "h", sex)
    at(130, "h", 1)  # race
    at(132, "3h", *day(p["birth"]))
    at(138, "3h", *day(record.date() if record else None))
    at(144, "3h", 5, 3, 2018)  # file creation date
    at(150, "3h", *((record.hour, record.minute, record.second) if record else (-9, -9, -9)))
    at(156, "h", n_leads)
    at(158, "12h", *(list(specs) + [-9] * (12 - n_leads)))
    at(182, "12h", *((quality or [1] * n_leads) + [-9] * (12 - n_leads)))
    at(206, "12h", *(list(res_nv) + [-9] * (12 - n_leads)))
    at(230, "h", 0)  # pacemaker: none
    text(232, 40, "digital")
    at(272, "h", fs)
    text(354, 80, "test file, CC0")
    body = bytes(h) + var_text
    crc = binascii.crc_hqx(body, 0xFFFF)
    with path.open("wb") as fh:
        fh.write(magic + struct.pack("<H", crc) + body)
        fh.write(np.ascontiguousarray(codes, dtype="<i2").tobytes())
    return path


def ptbxl_patient(shared: Path, tmp_path: Path) -> tuple[Path, list[Path]]:
    """A PTB-XL tree of one patient's records (100 Hz, from ../shared), oldest first."""
    import csv
    from collections import defaultdict

    root = shared / "ptbxl"
    by_patient: dict[str, list[dict]] = defaultdict(list)
    with (root / "ptbxl_database.csv").open(newline="") as fh:
        for row in csv.DictReader(fh):
            if (root / (row["filename_lr"] + ".hea")).is_file():
                by_patient[row["patient_id"]].append(row)
    rows = sorted(next(v for v in by_patient.values() if len(v) >= 2), key=lambda r: r["recording_date"])
    tree = tmp_path / "ptbxl"
    tree.mkdir()
    for name in ("ptbxl_database.csv", "scp_statements.csv"):
        shutil.copy(root / name, tree / name)
    heads = []
    for row in rows:
        for suffix in (".hea", ".dat"):
            src = root / (row["filename_lr"] + suffix)
            (tree / src.parent.relative_to(root)).mkdir(parents=True, exist_ok=True)
            shutil.copy(src, tree / src.relative_to(root))
        heads.append(tree / (row["filename_lr"] + ".hea"))
    return tree, heads


def lead_pair(sample: Path, folder: Path, leads: tuple[str, str] = ("II", "V1")) -> Path:
    """Two leads of ``sample`` (a 2-channel Holter's, by default) written alone as WFDB."""
    import wfdb

    from ecgviewer.io import load

    rec = load(sample)
    pair = np.asarray(rec.signals)[[rec.index(lead) for lead in leads]].T.astype(np.float64)
    wfdb.wrsamp("pair", fs=rec.fs, units=["mV"] * 2, sig_name=list(leads), p_signal=pair, fmt=["16"] * 2,
                adc_gain=[1000.0] * 2, baseline=[0] * 2, write_dir=str(folder))  # fmt: skip
    return folder / "pair.hea"


# An HTML entity or a tag that a reader would see as characters: a label Qt did not read as rich
# text (one escaped line has no tag for Qt's guess to find), or markup escaped twice
LITERAL_MARKUP = r"&(#x?[0-9a-f]+|[a-z]+);|</?(br|b|i|li|ul)\s*/?>"


def displayed(label) -> str:
    """A QLabel's text as Qt draws it: rich text (set so, or guessed by ``mightBeRichText``)
    rendered to plain text, else the text as it is."""
    from PySide6 import QtCore, QtGui

    text, fmt = label.text(), label.textFormat()
    Format = QtCore.Qt.TextFormat
    if fmt == Format.RichText or (fmt == Format.AutoText and QtGui.Qt.mightBeRichText(text)):
        doc = QtGui.QTextDocument()
        doc.setHtml(text)
        return doc.toPlainText()
    return text


def button_cut_off(button) -> str | None:
    """Why a shown button's text does not fit it, or None: narrower than its size hint (Qt clips a
    button's text without a sign), or a tool button whose menu opens at once (Fusion draws that
    menu's arrow inside the button, over the text, with no room kept for it in the size hint)."""
    from PySide6 import QtCore, QtWidgets

    if not button.text():
        return None
    need = button.sizeHint().width()
    Tool = QtWidgets.QToolButton
    if (
        isinstance(button, Tool)
        and button.menu() is not None
        and button.popupMode() != Tool.ToolButtonPopupMode.MenuButtonPopup
        and (
            button.icon().isNull() or button.toolButtonStyle() != QtCore.Qt.ToolButtonStyle.ToolButtonIconOnly
        )
    ):
        need += button.style().pixelMetric(QtWidgets.QStyle.PixelMetric.PM_MenuButtonIndicator, None, button)
    return f"needs {need} px of width, has {button.width()}" if need > button.width() + 2 else None


def cut_off(label) -> str | None:
    """Why a shown QLabel's text does not fit it (a line wider than the label, or wrapped lines
    taller), or None: Qt clips a label's text without a sign. A picture label has no text to cut."""
    from PySide6 import QtCore, QtGui

    text = label.text()
    if not text or not label.pixmap().isNull():
        return None
    room = label.contentsRect()
    doc = QtGui.QTextDocument()
    doc.setDefaultFont(label.font())
    doc.setDocumentMargin(0)
    fmt, Format = label.textFormat(), QtCore.Qt.TextFormat
    if fmt == Format.RichText or (fmt == Format.AutoText and QtGui.Qt.mightBeRichText(text)):
        doc.setHtml(text)
    else:
        doc.setPlainText(text)
    if label.wordWrap():
        doc.setTextWidth(room.width())
        need = doc.size().height()
        return f"needs {need:.0f} px of height, has {room.height()}" if need > room.height() + 2 else None
    need = doc.idealWidth()
    return f"needs {need:.0f} px of width, has {room.width()}" if need > room.width() + 2 else None
