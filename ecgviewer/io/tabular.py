"""CSV and NPY recordings, in the layout documented in docs/readers.md.

CSV: optional ``# fs = 500`` and ``# units = mV`` comment lines, a header row of lead names,
then one row per sample (comma, semicolon or tab separated); a first column named
``time``/``t``/``time_s`` holds seconds and gives the rate when no ``# fs`` line does.
NPY: a 2-D array (leads x samples, or samples x leads) with a sidecar ``<name>.json``
holding ``{"fs": 500, "leads": ["I", ...], "units": "mV"}``.
"""

from __future__ import annotations

import json
import re
import warnings
from pathlib import Path
from types import MappingProxyType
from typing import Any

import numpy as np

from ecgviewer.errors import EcgReadError
from ecgviewer.io.registry import Reader, register
from ecgviewer.recording import Recording, make_recording
from ecgviewer.sources import ArraySource, SignalSource, WindowedSource

UNITS = MappingProxyType({"mv": 1.0, "uv": 1e-3, "µv": 1e-3, "μv": 1e-3, "v": 1e3})
TIME_COLUMNS = frozenset({"time", "t", "time_s", "seconds", "sec", "s"})
LAZY_VALUES = 8_000_000
_COMMENT = re.compile(r"^#\s*([A-Za-z_ ]+?)\s*[:=]\s*(.+?)\s*$")
_FS_KEYS = frozenset({"fs", "sampling_rate", "sampling rate", "fs_hz", "rate"})


def _unit_factor(path: Path, units: str) -> float:
    key = units.strip().lower()
    if key not in UNITS:
        raise EcgReadError(path, f"unknown units {units!r} (use mV, uV or V)")
    return UNITS[key]


def _check_fs(path: Path, fs: float) -> float:
    if not np.isfinite(fs) or not 50 <= fs <= 100_000:
        raise EcgReadError(path, f"sampling rate {fs:g} Hz is outside 50-100000 Hz")
    return float(fs)


def _text_lines(head: bytes) -> list[str]:
    """Non-empty lines of a text file's first bytes ([] for binary data)."""
    if b"\x00" in head:
        return []
    return [ln for ln in head.decode("utf-8", errors="ignore").splitlines() if ln.strip()]


def _delimiter(line: str) -> str:
    return max((",", ";", "\t"), key=line.count)


def _is_number(field: str) -> bool:
    try:
        float(field)
    except ValueError:
        return field.strip().lower() in ("", "nan", "na")
    return True


def sniff_csv(path: Path, head: bytes) -> bool:
    """Text whose first row names the columns and whose next row is numbers."""
    rows = [ln for ln in _text_lines(head) if not ln.lstrip().startswith("#")]
    if len(rows) < 2:
        return False
    delim = _delimiter(rows[0])
    header, first = rows[0].split(delim), rows[1].split(delim)
    return (
        len(header) == len(first)
        and not all(_is_number(h) for h in header)
        and all(_is_number(v) for v in first)
    )


def _missing_or_float(field: str) -> float:
    """Empty and 'na' fields are missing samples (NaN); anything else must be a number."""
    text = field.strip()
    return float("nan") if text.lower() in ("", "na") else float(text)


def _bad_row(path: Path, delim: str, skip: int, n_columns: int) -> str:
    """Where and why the rows under the header do not parse (for the error message)."""
    with path.open("r", encoding="utf-8-sig", errors="replace") as fh:
        for number, line in enumerate(fh, 1):
            if number <= skip or not line.strip() or line.lstrip().startswith("#"):
                continue
            fields = line.rstrip("\r\n").split(delim)
            if len(fields) != n_columns:
                return f"line {number} has {len(fields)} columns, the header row {n_columns}"
            bad = next((f for f in fields if not _is_number(f)), None)
            if bad is not None:
                return f"line {number}: {bad.strip()!r} is not a number"
    return f"expected {n_columns} numeric columns under the header row"


def _load_rows(path: Path, delim: str, skip: int, n_columns: int) -> np.ndarray:
    """The numbers under the header row; a ragged or non-numeric row is an error, not a gap.

    (``genfromtxt(invalid_raise=False)`` used to drop such rows silently, shifting every later
    sample in time, and printed numpy warnings on stderr.)
    """
    kwargs: dict[str, Any] = {"delimiter": delim, "skiprows": skip, "ndmin": 2, "encoding": "utf-8"}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # "input contained no data" is reported below instead
        try:
            return np.loadtxt(path, dtype=np.float64, **kwargs)
        except ValueError:
            pass
        try:  # slower: empty and 'na' fields as missing samples
            return np.loadtxt(path, dtype=np.float64, converters=_missing_or_float, **kwargs)
        except ValueError:
            raise EcgReadError(path, _bad_row(path, delim, skip, n_columns)) from None


def _fs_from_time(path: Path, t: np.ndarray) -> float:
    """Rate from a time column in seconds: over the whole span, since time stamps written with few
    decimals (0.0027, 0.0028 s at 360 Hz) make single steps uneven."""
    span = float(t[-1] - t[0])
    if not np.isfinite(span) or span <= 0:
        raise EcgReadError(path, "the time column does not increase")
    fs = (t.size - 1) / span
    return float(round(fs)) if abs(fs - round(fs)) < 1e-3 * fs else fs


def read_csv(path: Path) -> Recording:
    try:
        return _read_csv(path)
    except UnicodeDecodeError as exc:
        byte = exc.object[exc.start]
        raise EcgReadError(path, f"not UTF-8 text (byte 0x{byte:02x} at {exc.start})") from None


def _read_csv(path: Path) -> Recording:
    meta: dict[str, str] = {}
    header: list[str] | None = None
    skip = 0
    with path.open("r", encoding="utf-8-sig", errors="strict") as fh:  # -sig: Excel writes a BOM
        for line in fh:
            skip += 1
            if not line.strip():
                continue
            if line.lstrip().startswith("#"):
                m = _COMMENT.match(line.strip())
                if m:
                    meta[m.group(1).strip().lower()] = m.group(2)
                continue
            delim = _delimiter(line)
            header = [h.strip().strip("\"'").strip() for h in line.rstrip("\r\n").split(delim)]
            break
    if header is None:
        raise EcgReadError(path, "no header row with lead names")
    data = _load_rows(path, delim, skip, len(header))
    if data.size == 0 or data.shape[1] != len(header):
        raise EcgReadError(path, f"expected {len(header)} numeric columns under the header row")
    time_col = header[0].lower() in TIME_COLUMNS
    fs_text = next((v for k, v in meta.items() if k in _FS_KEYS), None)
    if fs_text is not None:
        try:
            fs = float(fs_text.split()[0])
        except ValueError:
            raise EcgReadError(path, f"unreadable sampling rate {fs_text!r}") from None
    elif time_col and data.shape[0] > 1:
        fs = _fs_from_time(path, data[:, 0])
    else:
        raise EcgReadError(path, "sampling rate unknown: add a '# fs = 500' line or a time column")
    warnings = []
    if "units" not in meta:
        warnings.append("units not stated in the file, assumed mV")
    factor = _unit_factor(path, meta.get("units", "mV"))
    signals = data[:, 1:] if time_col else data
    names = header[1:] if time_col else header
    if not names:
        raise EcgReadError(path, "no signal columns besides time")
    source = ArraySource(_to_mv(signals.T, factor, warnings))
    return make_recording(path, source, _check_fs(path, fs), names, "CSV", warnings=warnings)


def _to_mv(values: np.ndarray, factor: float, warnings: list[str] | None = None) -> np.ndarray:
    """float32 mV; values beyond float32's range (``inf``, ``1e308``) become gaps, not infinite ink."""
    with np.errstate(over="ignore", invalid="ignore"):
        out = (np.asarray(values, dtype=np.float64) * factor).astype(np.float32)
    infinite = np.isinf(out)
    if infinite.any():
        out[infinite] = np.nan
        if warnings is not None:
            warnings.append(f"{int(infinite.sum())} values too large to be a voltage, shown as gaps")
    return out


def sniff_npy(path: Path, head: bytes) -> bool:
    return head.startswith(b"\x93NUMPY")


def read_npy(path: Path) -> Recording:
    with path.open("rb") as fh:
        if not sniff_npy(path, fh.read(6)):
            raise EcgReadError(path, "not a NumPy .npy file (it lacks the NPY signature)")
    sidecar = path.with_suffix(".json")
    if not sidecar.is_file():
        raise EcgReadError(path, f"missing sidecar {sidecar.name} with fs, leads and units")
    try:
        info = json.loads(sidecar.read_text(encoding="utf-8"))
        fs, leads = float(info["fs"]), [str(x) for x in info["leads"]]
    except (ValueError, KeyError, TypeError, OverflowError) as exc:  # an fs of 10**400 included
        raise EcgReadError(sidecar, f"sidecar needs 'fs' and 'leads' ({exc})") from None
    try:
        arr = np.load(path, mmap_mode="r", allow_pickle=False)
    except ValueError as exc:  # numpy's own words for a damaged header or missing data
        if "mmap length" in str(exc):
            raise EcgReadError(path, "truncated: the header declares more data than the file holds") from None
        raise
    except OverflowError as exc:  # the samples' layout itself: nothing to show without it
        raise EcgReadError(path, f"the header's array shape is not one a file holds ({exc})") from None
    if arr.ndim != 2 or not np.issubdtype(arr.dtype, np.number):
        raise EcgReadError(path, f"expected a 2-D numeric array, got shape {arr.shape} {arr.dtype}")
    if arr.shape[0] != len(leads):
        if arr.shape[1] != len(leads):
            raise EcgReadError(path, f"array {arr.shape} does not match {len(leads)} leads")
        arr = arr.T
    factor = _unit_factor(path, str(info.get("units", "mV")))
    warnings: list[str] = []
    source: SignalSource
    if arr.size > LAZY_VALUES:

        def fetch(start: int, stop: int) -> np.ndarray:
            return _to_mv(arr[:, start:stop], factor)

        source = WindowedSource(fetch, arr.shape[0], arr.shape[1])
    else:
        source = ArraySource(_to_mv(arr, factor, warnings))
    return make_recording(path, source, _check_fs(path, fs), leads, "NPY", warnings=warnings)


register(Reader("CSV", (".csv", ".txt", ".tsv"), sniff_csv, read_csv))
register(Reader("NPY", (".npy",), sniff_npy, read_npy))
