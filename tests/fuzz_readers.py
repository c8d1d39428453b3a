"""Fuzz every registered reader with mutated real samples; report what broke.

    python tests/fuzz_readers.py --seconds-per-reader 20 --json out.json [--reader NAME] [--seed N]
                                 [--total-seconds S] [--save DIR] [--report FILE.md]
    python tests/fuzz_readers.py --replay SAVED/FILE      # one input again, with its traceback
    python tests/fuzz_readers.py --from-json out.json --report FILE.md

Each reader's real samples (``../shared/data``: the vendor files of ``formats/``, LUDB, PTB-XL; plus
CSV, NPY and ISHNE files generated from a real record) are mutated by hypothesis strategies: byte flips,
runs of 0x00/0xFF/0x7F/0x80, integer boundary values, truncation, deleted, duplicated and inserted
chunks; text and XML files (UTF-16 XML too, on its text) also get structural mutations (numbers
replaced by 0, -1, huge, NaN; lines, elements and attributes removed or duplicated). Every file also
has its integer fields set to values no 16-, 32- or 64-bit field holds (beyond 2**31, 2**32, 2**64,
negative): in place in a binary file's text header, keeping its fixed-width fields aligned. A WFDB
record's header and signal files are mutated separately. Each input is written under its original
name and opened with ``ecgviewer.io.load``.

Acceptable outcomes: a Recording whose first and last 10 s read as float32 (finite or NaN) of the
right shape and whose summary renders, or an ``EcgReadError`` naming the file with a one-line cause.
Bugs: any other exception, a hang (over 5 s per input, SIGALRM; a worker stuck in C code is killed
by the parent), a memory blow-up (RLIMIT_AS, 3 GB by default: MemoryError or "not enough memory"),
an empty or traceback-like message, samples that are +-inf or misshaped, any of the unmutated
sample's identifiers (``rec.metadata.identifiers``) in an error message, a warning or the summary,
and a library's failure on a number it cannot represent (an ``OverflowError``, "out of bounds for
int32", "year ... is out of range") reaching the user as the reason the whole ECG cannot be opened:
a reader skips or clamps such a field and says so in the recording's warnings, or names the field
in its own ``EcgReadError`` when the waveform cannot be read without it.

Readers run one by one, each in a worker subprocess (so that rlimits, alarms and a crash in a C
library stay there). Failing inputs are saved with a REPRODUCE.txt.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import re
import select
import shutil
import signal
import struct
import subprocess
import sys
import tempfile
import time
import traceback
from collections import Counter
from dataclasses import asdict, dataclass, field
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
SHARED = Path(os.environ.get("ECGVIEWER_SHARED_DATA", REPO.parent / "shared" / "data"))
BUNDLED = REPO / "resources/samples/ptbxl/records500/00000/00003_hr.hea"
READER_MODULES = (
    "ecgviewer.io",
    "ecgviewer.io.vendor",
    "ecgviewer.io.edf_reader",
    "ecgviewer.io.ishne_reader",
)
TIMEOUT_S = 5.0
GRACE_S = 10.0  # beyond the alarm, before the parent kills a worker stuck outside Python
MEMORY_MB = 3072
BATCH = 100  # hypothesis examples per seeded run
SAVE_PER_SIGNATURE = 3
OK_KINDS = ("recording", "typed error", "wrapped library error")
# A library's words for a number it could not hold: a reader must not let one reject the ECG.
_UNREPRESENTABLE = re.compile(
    r"out of bounds for u?int|too large to convert|int too large|(greater|less) than (maximum|minimum)"
    r"|out of range|must be in -?\d+\.\.-?\d+|overflow",
    re.IGNORECASE,
)


# --- samples ------------------------------------------------------------------------------------


@dataclass
class Target:
    """One file of one sample to mutate; the sample's other files are copied unchanged."""

    sample: str
    files: list[str]  # every file of the sample (absolute paths)
    open: str  # the name passed to load()
    target: str  # the name of the mutated file
    kind: str  # "binary", "text", "xml" or "xml16" (UTF-16 XML, as Philips PageWriters write it)


def _kind(path: Path) -> str:
    raw = path.read_bytes()[:256]
    if raw[:2] in (b"\xff\xfe", b"\xfe\xff") and raw.decode("utf-16", "ignore").lstrip().startswith("<"):
        return "xml16"
    head = raw.lstrip(b"\xef\xbb\xbf \t\r\n")
    if head.startswith(b"<"):
        return "xml"
    return "text" if path.suffix.lower() in (".hea", ".csv", ".json", ".txt") else "binary"


def _record_files(hea: Path) -> list[Path]:
    """A WFDB record's header and the signal files it names."""
    names = {hea.name}
    for line in hea.read_text(encoding="latin-1").splitlines()[1:]:
        first = line.split()[0] if line.split() and not line.startswith("#") else ""
        if first and (hea.parent / first).is_file():
            names.add(first)
    return sorted((hea.parent / n for n in names), key=lambda p: (p.suffix != ".hea", p.name))


def _wfdb_sample(name: str, hea: Path) -> list[Target]:
    files = _record_files(hea)
    return [
        Target(name, [str(f) for f in files], hea.name, f.name, "text" if f.suffix == ".hea" else "binary")
        for f in files
    ]


def _single(name: str, path: Path, extra: tuple[Path, ...] = ()) -> list[Target]:
    files = [path, *extra]
    return [Target(name, [str(f) for f in files], path.name, f.name, _kind(f)) for f in files]


def _source_record(shared: Path | None) -> tuple[str, object]:
    """The real record the generated samples are made of (LUDB 1, or the bundled PTB-XL record)."""
    import wfdb

    base = shared / "ludb/data/1" if shared else BUNDLED.with_suffix("")
    return base.name, wfdb.rdrecord(str(base), physical=False)


def generated_samples(shared: Path | None, out: Path) -> list[Target]:
    """CSV, NPY (+ sidecar) and ISHNE files written from a real record's samples."""
    import numpy as np

    sys.path.insert(0, str(HERE))
    from helpers import SPEC_OF, write_ishne

    name, rec = _source_record(shared)
    physical = (rec.d_signal - np.asarray(rec.baseline)) / np.asarray(rec.adc_gain)  # mV
    physical = physical[:2000]  # 4 s at 500 Hz: enough structure, more inputs per second
    leads = list(rec.sig_name)
    csv = out / f"{name}.csv"
    with csv.open("w") as fh:
        fh.write(f"# fs = {rec.fs:g}\n# units = mV\ntime," + ",".join(leads) + "\n")
        for i, row in enumerate(physical):
            fh.write(f"{i / rec.fs:.4f}," + ",".join(f"{v:.5f}" for v in row) + "\n")
    npy = out / f"{name}.npy"
    np.save(npy, physical.T.astype(np.float32))
    sidecar = npy.with_suffix(".json")
    sidecar.write_text(json.dumps({"fs": rec.fs, "leads": leads, "units": "mV"}))
    res_nv = [50] * len(leads)
    codes = np.round(physical * 1e6 / 50).astype(np.int16)
    specs = [SPEC_OF.get(n.upper().replace("AV", "aV"), 0) for n in leads]
    ishne = write_ishne(out / f"{name}.ecg", codes, res_nv, specs, int(rec.fs), var_text=b"generated")
    return [
        *_single(f"generated {csv.name}", csv),
        *_single(f"generated {npy.name}", npy, (sidecar,)),
        *_single(f"generated {ishne.name}", ishne),
    ]


def real_samples(shared: Path | None) -> list[Target]:
    if shared is None:
        return _wfdb_sample("bundled PTB-XL 00003_hr", BUNDLED)
    targets = _wfdb_sample("LUDB 1", shared / "ludb/data/1.hea")
    ptbxl = shared / "ptbxl/records100"
    targets += _wfdb_sample("PTB-XL 00001_lr", ptbxl / "00000/00001_lr.hea")
    flac = sorted((ptbxl / "02000").glob("*_lr.hea"))[:1]
    targets += [t for hea in flac for t in _wfdb_sample(f"PTB-XL {hea.stem} (FLAC)", hea)]
    formats = shared / "formats"
    for hea in sorted(formats.rglob("*.hea")):
        targets += _wfdb_sample(f"formats/{hea.parent.name}/{hea.stem}", hea)
    wfdb_files = {f for t in targets for f in t.files}
    for f in sorted(formats.rglob("*")):
        if f.is_file() and str(f) not in wfdb_files:
            targets += _single(f"formats/{f.parent.name}/{f.name}", f)
    return targets


def import_readers() -> list[str]:
    """Import the reader modules that exist; returns the registered reader names."""
    import importlib

    for mod in READER_MODULES:
        try:
            importlib.import_module(mod)
        except ModuleNotFoundError as exc:
            if exc.name is None or not mod.startswith(exc.name):
                raise  # a module that exists but fails to import is a bug, not "not written yet"
    from ecgviewer.io import READERS

    return [r.name for r in READERS]


def assign(targets: list[Target]) -> dict[str, list[Target]]:
    """Targets grouped by the reader that claims the unmutated sample."""
    from ecgviewer.io import detect

    out: dict[str, list[Target]] = {}
    for t in targets:
        path = Path(next(f for f in t.files if Path(f).name == t.open))
        try:
            name = detect(path).name
        except Exception as exc:  # no reader for it (yet)
            name = f"(none: {type(exc).__name__})"
        out.setdefault(name, []).append(t)
    return out


# --- mutations ----------------------------------------------------------------------------------

RUN_BYTES = (0x00, 0xFF, 0x7F, 0x80)
BOUNDARY = [
    struct.pack(fmt, v)
    for fmt, values in (
        ("<h", (-32768, -1, 0, 1, 32767)),
        (">h", (-32768, -1, 32767)),
        ("<H", (0x8000, 0xFFFF)),
        ("<i", (-(2**31), -1, 0, 2**31 - 1)),
        (">i", (-(2**31), -1, 2**31 - 1)),
        ("<I", (2**31, 2**32 - 1)),
        (">I", (2**31, 2**32 - 1)),
        ("<Q", (2**63, 2**64 - 1)),
        ("<q", (2**63 - 1, -(2**63))),
        ("<f", (float("nan"), float("inf"))),
        ("<d", (float("nan"), float("-inf"))),
    )
    for v in values
]
NUMBERS = [
    "0",
    "-1",
    "1e308",
    "-1e308",
    "99999999999999999999",
    "2147483648",
    "65536",
    "NaN",
    "inf",
    "-0",
    "",
    "0.0001",
]
# Integers no 16-, 32- or 64-bit field holds, or that such a field misreads (signed as unsigned).
OUT_OF_RANGE = [
    "2147483648",
    "2148169007",
    "4294967296",
    "-2147483649",
    "-32769",
    "65536",
    "-1",
    "9223372036854775808",
    "18446744073709551616",
    "99999999999999999999",
    "-99999999999999999999",
]
# An integer, also where it is part of a date, time or version ("2010-01-19", "21.11.26", "1.04").
_INTEGER = re.compile(rb"(?<!\w)-?\d+(?!\w)")
_NUMBER = re.compile(rb"(?<![\w.])-?\d+(?:\.\d+)?(?:[eE][-+]?\d+)?(?![\w.])")
_TAG = re.compile(rb"<(/?)([A-Za-z_][\w.:-]*)[^<>]*?(/?)>")
_ATTR = re.compile(rb"\s[A-Za-z_][\w.:-]*\s*=\s*(\"[^\"<>]*\"|'[^'<>]*')")
BINARY_TEXT_REGION = 8192  # numbers are replaced only in a binary file's (ASCII) header region
# Operations whose first argument picks the k-th match (of a number, line, element...), not a position.
_INDEXED = {
    "number",
    "int_range",
    "line_del",
    "line_dup",
    "field_del",
    "elem_del",
    "elem_dup",
    "attr_del",
    "attr_dup",
    "attr_val",
}


def strategy(data: bytes, kind: str):
    """Hypothesis strategy of mutation lists for one file."""
    from hypothesis import strategies as st

    n = len(data)
    pos = st.one_of(st.integers(0, min(n, 1024)), st.integers(0, n), st.integers(max(0, n - 1024), n))
    index = st.integers(0, 10**9)
    ops = [
        st.tuples(st.just("flip"), pos, st.integers(1, 255)),
        st.tuples(st.just("run"), pos, st.sampled_from(RUN_BYTES), st.integers(1, 16)),
        st.tuples(st.just("boundary"), pos, st.sampled_from(BOUNDARY)),
        st.tuples(st.just("truncate"), pos),
        st.tuples(st.just("delete"), pos, st.integers(1, 256)),
        st.tuples(st.just("duplicate"), pos, st.integers(1, 4096), pos),
        st.tuples(st.just("insert"), pos, st.binary(min_size=1, max_size=64)),
    ]
    number = st.tuples(st.just("number"), index, st.sampled_from(NUMBERS))
    out_of_range = st.tuples(st.just("int_range"), index, st.sampled_from(OUT_OF_RANGE))
    if kind == "binary":  # numbers in an ASCII header region (EDF, NPY, DICOM strings)
        return st.lists(st.one_of(*ops, number, out_of_range), min_size=1, max_size=4)
    structural = [number, out_of_range]
    if kind == "text":
        structural += [st.tuples(st.just(op), index) for op in ("line_del", "line_dup", "field_del")]
    else:
        structural += [
            st.tuples(st.just(op), index) for op in ("elem_del", "elem_dup", "attr_del", "attr_dup")
        ]
        structural.append(st.tuples(st.just("attr_val"), index, st.sampled_from(NUMBERS)))
    # As likely as a byte-level mutation, so that the mutated text still parses often enough to go deeper.
    return st.lists(st.one_of(st.one_of(ops), st.one_of(structural)), min_size=1, max_size=4)


def _pick(matches: list, i: int):
    return matches[i % len(matches)] if matches else None


def _element_span(data: bytes, m: re.Match) -> tuple[int, int]:
    """Start and end of the element whose start tag is ``m`` (nesting of the same name counted)."""
    if m.group(3):
        return m.start(), m.end()
    same = re.compile(rb"<(/?)" + re.escape(m.group(2)) + rb"(?=[\s/>])[^<>]*?(/?)>")
    depth = 1
    for t in same.finditer(data, m.end()):
        depth += -1 if t.group(1) else (0 if t.group(2) else 1)
        if depth == 0:
            return m.start(), t.end()
    return m.start(), m.end()


def apply(data: bytes, ops: list[tuple], kind: str) -> bytes:
    """``data`` with each mutation applied in turn (positions clipped to the current length). In a
    UTF-16 XML file the structural mutations (numbers, elements, attributes) apply to its text, the
    byte-level ones to its bytes."""
    b = bytearray(data)
    for op in ops:
        if kind == "xml16" and op[0] in _INDEXED:
            text = bytes(b).decode("utf-16", "replace").encode("utf-8")
            b = bytearray(apply(text, [op], "xml").decode("utf-8", "replace").encode("utf-16"))
            continue
        name, n = op[0], len(b)
        clip = 0 if name in _INDEXED else min(op[1], n)
        if name == "flip" and n:
            b[min(clip, n - 1)] ^= op[2]
        elif name == "run":
            b[clip : clip + op[3]] = bytes([op[2]]) * op[3]
        elif name == "boundary":
            b[clip : clip + len(op[2])] = op[2]
        elif name == "truncate":
            del b[clip:]
        elif name == "delete":
            del b[clip : clip + op[2]]
        elif name == "duplicate":
            chunk = bytes(b[clip : clip + op[2]])
            dest = min(op[3], len(b))
            b[dest:dest] = chunk
        elif name == "insert":
            b[clip:clip] = op[2]
        elif name == "number":
            region = bytes(b if kind != "binary" else b[:BINARY_TEXT_REGION])
            m = _pick(list(_NUMBER.finditer(region)), op[1])
            if m:
                b[m.start() : m.end()] = op[2].encode()
        elif name == "int_range":
            _out_of_range(b, op[1], op[2], kind)
        elif name in ("line_del", "line_dup"):
            lines = bytes(b).splitlines(keepends=True)
            if lines:
                i = op[1] % len(lines)
                lines[i : i + 1] = [] if name == "line_del" else [lines[i], lines[i]]
                b = bytearray(b"".join(lines))
        elif name == "field_del":
            m = _pick(list(re.finditer(rb"[^,;\t\s]+[,;\t]", bytes(b))), op[1])
            if m:
                del b[m.start() : m.end()]
        elif name in ("elem_del", "elem_dup"):
            m = _pick([t for t in _TAG.finditer(bytes(b)) if not t.group(1)], op[1])
            if m:
                s, e = _element_span(bytes(b), m)
                b[s:e] = b"" if name == "elem_del" else bytes(b[s:e]) * 2
        elif name in ("attr_del", "attr_dup", "attr_val"):
            m = _pick(list(_ATTR.finditer(bytes(b))), op[1])
            if m and name == "attr_val":
                b[m.start(1) + 1 : m.end(1) - 1] = op[2].encode()
            elif m:
                b[m.start() : m.end()] = b"" if name == "attr_del" else bytes(b[m.start() : m.end()]) * 2
    return bytes(b)


def _out_of_range(b: bytearray, index: int, value: str, kind: str) -> None:
    """The ``index``-th integer of ``b`` set to ``value``. In a binary file's text header the field
    keeps its width (the digits and the spaces after them; a longer value is cut to fit, still out of
    range in an 8-character EDF field), so that the fixed-width fields after it stay aligned."""
    region = bytes(b if kind != "binary" else b[:BINARY_TEXT_REGION])
    m = _pick(list(_INTEGER.finditer(region)), index)
    if m is None:
        return
    if kind != "binary":
        b[m.start() : m.end()] = value.encode()
        return
    end = m.end()
    while end < len(region) and region[end] == 0x20:
        end += 1
    b[m.start() : end] = value.encode()[: end - m.start()].ljust(end - m.start())


def describe(ops: list[tuple]) -> str:
    return "; ".join(" ".join(repr(x) if isinstance(x, bytes) else str(x) for x in op) for op in ops)


# --- one input ----------------------------------------------------------------------------------


class Hang(BaseException):
    """Raised by SIGALRM: a BaseException, so that no reader's ``except Exception`` swallows it."""


def _alarm(signum, frame):
    raise Hang


@dataclass
class Outcome:
    kind: str
    type: str = ""
    message: str = ""  # the cause (first line), or the exception's first line
    stage: str = "load"
    detail: str = ""  # traceback, for bugs
    elapsed: float = 0.0
    reader: str = ""  # the reader that actually read the mutated input

    @property
    def bug(self) -> bool:
        return self.kind not in OK_KINDS


_TRACEBACK = re.compile(r"Traceback \(most recent call last\)|File \".*\", line \d+")


def _message_problem(exc, folder: Path) -> str | None:
    cause = exc.cause if isinstance(exc.cause, str) else ""
    if not cause.strip():
        return "empty cause"
    if "\n" in cause or _TRACEBACK.search(cause):
        return "cause is a multi-line or traceback text"
    if any(not c.isprintable() for c in cause):
        return "cause holds unprintable characters"
    if exc.path.name not in str(exc) or exc.path.parent.resolve() != folder.resolve():
        return "message does not name the input file"
    return None


def _scrub(text: str, folder: Path) -> str:
    """``text`` without the input's file names (the user's own names, not the patient's)."""
    for p in sorted(folder.iterdir(), key=lambda p: -len(p.name)):
        text = text.replace(str(p), "").replace(p.name, "").replace(p.stem, "")
    return text.replace(str(folder), "")


def leaks(text: str, identifiers: list[str], folder: Path) -> str | None:
    """The identifier found in ``text``, if any (only its length is reported)."""
    clean = _scrub(text, folder)
    return next((v for v in identifiers if v in clean), None)


def check_recording(rec, identifiers: list[str], folder: Path) -> Outcome | None:
    """What is wrong with a loaded recording, or None."""
    import numpy as np

    from ecgviewer.summary import summary_lines

    n, fs = rec.n_samples, rec.fs
    if not (np.isfinite(fs) and fs > 0 and n > 0):
        return Outcome("samples", "Recording", f"fs {fs!r}, {n} samples", "read")
    if rec.resolution is not None and len(rec.resolution) != len(rec.leads):
        return Outcome("samples", "Recording", "resolution and leads differ in length", "read")
    w = int(min(n, max(1, round(10 * fs))))
    for a, b in ((0, w), (n - w, n)):
        x = rec.read(a, b)
        if not isinstance(x, np.ndarray) or x.dtype != np.float32 or x.shape != (len(rec.leads), b - a):
            shape = getattr(x, "shape", None)
            return Outcome(
                "samples", "Recording", f"read({a}, {b}) gave {getattr(x, 'dtype', type(x))} {shape}", "read"
            )
        if np.isinf(x).any():
            return Outcome("samples", "Recording", f"read({a}, {b}) holds +-inf", "read")
    shown = [ln for ln in summary_lines(rec) if not ln.startswith("File:")] + list(rec.warnings)
    found = leaks("\n".join(shown), identifiers, folder)
    if found:
        return Outcome(
            "privacy", "Recording", f"an identifier ({len(found)} chars) in the summary or warnings", "read"
        )
    return None


def attempt(path: Path, identifiers: list[str], timeout: float = TIMEOUT_S) -> Outcome:
    """Open ``path`` as the app does and classify what happens."""
    from ecgviewer.errors import EcgReadError
    from ecgviewer.io import detect, load

    folder = path.parent
    t0 = time.perf_counter()
    stage, reader = "load", ""
    signal.signal(signal.SIGALRM, _alarm)
    signal.setitimer(signal.ITIMER_REAL, timeout)
    try:
        try:
            reader = detect(path).name
        except Exception:
            reader = ""
        rec = load(path)
        stage = "read"
        out = check_recording(rec, identifiers, folder) or Outcome("recording")
    except Hang as exc:  # where it was stuck: the frames above the alarm handler
        where = "".join(traceback.format_list(traceback.extract_tb(exc.__traceback__)[-9:-1]))
        out = Outcome("hang", "Hang", f"no result after {timeout:g} s", stage, where)
    except EcgReadError as exc:
        cause = exc.cause if isinstance(exc.cause, str) else repr(exc.cause)
        first = cause.strip().splitlines()[0] if cause.strip() else ""
        wrapped = exc.__cause__ is not None and not isinstance(exc.__cause__, EcgReadError)
        problem = _message_problem(exc, folder)
        tb = "".join(traceback.format_exception(exc))
        inner = exc.__cause__ or exc.__context__  # the registry hides a MemoryError's origin ("from None")
        if inner is not None:  # last, so that the report's last line is the root cause
            tb += "\nRaised while handling:\n" + "".join(traceback.format_exception(inner))
        if stage == "read":
            out = Outcome("crash", "EcgReadError", first, stage, tb)
        elif "not enough memory" in cause:
            out = Outcome("memory", "EcgReadError", first, stage, tb)
        elif problem:
            out = Outcome("message", "EcgReadError", f"{problem}: {first[:200]!r}", stage, tb)
        elif found := leaks(str(exc), identifiers, folder):
            out = Outcome(
                "privacy", "EcgReadError", f"an identifier ({len(found)} chars) in: " + _redact(first, found)
            )
        elif wrapped and unrepresentable(exc.__cause__):
            why = f"the ECG rejected: {first}"
            out = Outcome("unrepresentable number", type(exc.__cause__).__name__, why, stage, tb)
        else:
            kind = "wrapped library error" if wrapped else "typed error"
            out = Outcome(kind, type(exc.__cause__).__name__ if wrapped else "EcgReadError", first)
    except MemoryError:
        out = Outcome("memory", "MemoryError", "", stage, traceback.format_exc())
    except Exception as exc:  # anything else reaching the app is a crash
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
        out = Outcome("crash", type(exc).__name__, first, stage, traceback.format_exc())
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
    out.elapsed = time.perf_counter() - t0
    out.reader = reader
    return out


def unrepresentable(exc: BaseException | None) -> bool:
    """Whether a library's exception says a number did not fit the field or type it read it into."""
    if isinstance(exc, OverflowError):
        return True
    return isinstance(exc, ValueError) and bool(_UNREPRESENTABLE.search(str(exc)))


def _redact(text: str, value: str) -> str:
    return text.replace(value, "<identifier>")


def signature(out: Outcome) -> str:
    """Outcomes that differ only in numbers or quoted values count as one bug / one cause."""
    msg = re.sub(r"'[^']*'|\"[^\"]*\"", "'…'", out.message)
    return f"{out.kind}|{out.stage}|{out.type}|" + re.sub(r"\d+(\.\d+)?", "#", msg)[:160]


# --- worker -------------------------------------------------------------------------------------


def _emit(fh, **event) -> None:
    fh.write(json.dumps(event) + "\n")
    fh.flush()


def _copy_sample(t: Target, folder: Path, mutated: bytes | None) -> Path:
    folder.mkdir(parents=True)
    for f in t.files:
        src = Path(f)
        if src.name == t.target and mutated is not None:
            (folder / src.name).write_bytes(mutated)
        else:
            shutil.copyfile(src, folder / src.name)
    return folder / t.open


def save_failure(
    save: Path, reader: str, folder: Path, t: Target, out: Outcome, ops: str, number: int
) -> str:
    slug = re.sub(r"[^\w.-]+", "_", reader)
    dest = save / slug / f"{number:04d}-{out.kind.replace(' ', '_')}"
    if dest.exists():
        shutil.rmtree(dest)
    shutil.copytree(folder, dest)
    opened = dest / t.open
    (dest / "REPRODUCE.txt").write_text(
        f"python {Path(__file__).resolve()} --replay {opened}\n\n"
        f"sample: {t.sample}; mutated file: {t.target}\nmutations: {ops}\n"
        f"outcome: {out.kind} ({out.stage}) {out.type}: {out.message}\n\n{out.detail}"
    )
    return str(opened)


def _more(spec: dict, ti: int, tried: int) -> bool:
    """Whether target ``ti`` gets another input: until its share of the budget is spent, and the
    first target until ``min_inputs`` were tried whatever the budget (a short campaign)."""
    return time.monotonic() < spec["t_end"] or (ti == 0 and tried < spec.get("min_inputs", 0))


def _input_runner(proto, spec, reader, save, saved, scratch, counter, t, ti, original, identifiers):
    """The hypothesis test body for one target: mutate, write, open, classify, report."""
    seen: set[bytes] = set()

    def one(ops: list[tuple]) -> None:
        if not _more(spec, ti, counter[0]):
            return
        data = apply(original, ops, t.kind)
        digest = hashlib.blake2b(data, digest_size=16).digest()
        if digest in seen:  # hypothesis re-draws simple examples at the start of each seeded run
            return
        seen.add(digest)
        counter[0] += 1
        folder = scratch / f"input-{counter[0]}"
        path = _copy_sample(t, folder, data)
        desc = describe(ops)
        _emit(proto, ev="start", target=ti, dir=str(folder), ops=desc[:2000])
        out = attempt(path, identifiers, spec["timeout"])
        sig, saved_at = signature(out), None
        if out.bug and saved[sig] < SAVE_PER_SIGNATURE:
            saved[sig] += 1
            saved_at = save_failure(save, reader, folder, t, out, desc, counter[0])
        if not out.bug:
            out.detail = ""
        _emit(proto, ev="result", target=ti, sig=sig, saved=saved_at, ops=desc[:300], **asdict(out))
        shutil.rmtree(folder, ignore_errors=True)

    return one


def worker(spec_path: Path) -> None:
    """Fuzz one reader's targets until the deadline; one JSON line per event on the protocol fd."""
    import faulthandler
    import resource
    import warnings

    faulthandler.enable()  # a crash in a C library leaves its Python stack in the worker's log

    proto = os.fdopen(os.dup(1), "w")
    os.dup2(2, 1)  # anything a library prints goes to stderr, never into the protocol
    spec = json.loads(spec_path.read_text())
    limit = spec["memory_mb"] * 2**20
    resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    warnings.simplefilter("ignore")
    import_readers()
    from hypothesis import HealthCheck, Phase, Verbosity, given, seed, settings

    targets = [Target(**t) for t in spec["targets"]]
    deadline = time.monotonic() + spec["seconds"]
    save, reader = Path(spec["save"]), spec["reader"]
    saved: Counter[str] = Counter()
    scratch = Path(tempfile.mkdtemp(prefix="ecgviewer-fuzz-worker-"))
    counter = [0]
    try:
        for ti, t in enumerate(targets):
            t_end = time.monotonic() + max(0.0, deadline - time.monotonic()) / (len(targets) - ti)
            spec["t_end"] = t_end
            base = _copy_sample(t, scratch / f"base-{ti}", None)
            identifiers: list[str] = []
            out = attempt(base, [])
            if out.kind == "recording":
                from ecgviewer.io import load

                meta = load(base).metadata
                identifiers = sorted(
                    {v.strip() for v in meta.identifiers.values() if len(v.strip()) >= 4}, key=len
                )
                identifiers.reverse()
                out = attempt(base, identifiers)
            _emit(
                proto,
                ev="baseline",
                target=ti,
                kind=out.kind,
                message=out.message,
                n_identifiers=len(identifiers),
            )
            original = Path(next(f for f in t.files if Path(f).name == t.target)).read_bytes()
            one = _input_runner(
                proto, spec, reader, save, saved, scratch, counter, t, ti, original, identifiers
            )
            run = 0
            while _more(spec, ti, counter[0]):
                test = settings(
                    max_examples=BATCH,
                    phases=[Phase.generate],
                    database=None,
                    deadline=None,
                    suppress_health_check=list(HealthCheck),
                    verbosity=Verbosity.quiet,
                )(given(strategy(original, t.kind))(one))
                seed(spec["seed"] * 1_000_003 + ti * 10_007 + run)(test)()
                run += 1
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    _emit(proto, ev="done", maxrss_mb=resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)


# --- parent -------------------------------------------------------------------------------------


@dataclass
class ReaderResult:
    reader: str
    samples: list[str]
    inputs: int = 0
    outcomes: dict[str, int] = field(default_factory=dict)
    bugs: list[dict] = field(default_factory=list)
    causes: list[list] = field(default_factory=list)  # most frequent error causes [signature, count]
    baseline: list[dict] = field(default_factory=list)
    wall_s: float = 0.0
    slowest_s: float = 0.0
    worker_restarts: int = 0
    maxrss_mb: float = 0.0


class Campaign:
    """One reader's fuzzing: runs workers until the budget is spent, restarting one that died."""

    def __init__(self, name: str, targets: list[Target], seconds: float, args) -> None:
        self.name, self.targets, self.seconds, self.args = name, targets, seconds, args
        self.res = ReaderResult(name, sorted({t.sample for t in targets}))
        self.bugs: dict[str, dict] = {}
        self.causes: Counter[str] = Counter()
        self.current = 0  # index of the target the worker is on
        self.in_flight: dict | None = None  # the input the worker is reading now

    def run(self) -> ReaderResult:
        t0 = time.monotonic()
        deadline = t0 + self.seconds
        start, restarts = 0, 0
        with tempfile.TemporaryDirectory(prefix="ecgviewer-fuzz-") as tmp:
            while start < len(self.targets):
                finished = self._worker(Path(tmp), start, max(0.0, deadline - time.monotonic()), restarts)
                if finished or time.monotonic() >= deadline:
                    break
                restarts += 1
                start = self.current  # go on with the target it died on, with another seed
        res = self.res
        res.wall_s = round(time.monotonic() - t0, 2)
        res.worker_restarts = restarts
        res.bugs = sorted(self.bugs.values(), key=lambda b: -b["count"])
        res.causes = [[c, n] for c, n in self.causes.most_common(8)]
        return res

    def _worker(self, tmp: Path, start: int, seconds: float, restart: int) -> bool:
        """One worker over ``targets[start:]``; True when it finished its budget normally."""
        spec = tmp / f"spec-{restart}.json"
        spec.write_text(
            json.dumps(
                {
                    "reader": self.name,
                    "targets": [asdict(t) for t in self.targets[start:]],
                    "seconds": seconds,
                    "seed": self.args.seed + 7919 * restart,
                    "save": str(self.args.save),
                    "timeout": TIMEOUT_S,
                    "memory_mb": self.args.memory_mb,
                    "min_inputs": self.args.min_inputs,
                }
            )
        )
        env = {**os.environ, "OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
        log = tmp / f"worker-{restart}.log"
        self.current, self.in_flight = start, None
        with log.open("w") as err:
            cmd = [sys.executable, str(Path(__file__).resolve()), "--worker", str(spec)]
            proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=err, env=env, cwd=REPO)
            done, buf = False, b""
            while True:
                ready, _, _ = select.select([proc.stdout], [], [], TIMEOUT_S + GRACE_S)
                if not ready:  # stuck where the alarm cannot reach it (C code): kill it
                    proc.kill()
                    proc.wait()
                    self._lost_input(
                        "hang", "Hang", f"no result after {TIMEOUT_S + GRACE_S:g} s, worker killed"
                    )
                    return False
                chunk = os.read(proc.stdout.fileno(), 1 << 16)
                if not chunk:
                    break
                buf += chunk
                while b"\n" in buf:
                    line, buf = buf.split(b"\n", 1)
                    done = self._event(start, json.loads(line)) or done
            rc = proc.wait()
        if done:
            return True
        tail = log.read_text(errors="replace").strip().splitlines()[-12:]
        how = f"signal {signal.Signals(-rc).name}" if rc < 0 else f"exit status {rc}"
        if self.in_flight is None:  # died outside an input (import, baseline): no point in retrying
            self._bug(f"worker|{how}", {"kind": "worker died", "type": how, "message": " / ".join(tail)})
            self.current = len(self.targets)
            return False
        self._lost_input("worker died", how, f"the worker died ({how})", "\n".join(tail))
        return False

    def _event(self, start: int, event: dict) -> bool:
        ev = event.pop("ev")
        if "target" in event:
            self.current = start + event["target"]
        t = self.targets[self.current] if self.current < len(self.targets) else None
        if ev == "baseline":
            entry = {"sample": t.sample, "file": t.target, "kind": event["kind"], "message": event["message"]}
            self.res.baseline.append({**entry, "identifiers": event["n_identifiers"]})
            if event["kind"] not in OK_KINDS:
                self._bug(
                    f"baseline|{event['kind']}|{event['message']}", {**event, "stage": "unmutated sample"}
                )
        elif ev == "start":
            self.in_flight = event
        elif ev == "result":
            self.in_flight = None
            self._count(event["kind"])
            self.res.slowest_s = max(self.res.slowest_s, event["elapsed"])
            if event["kind"] not in OK_KINDS:
                self._bug(event["sig"], event)
            elif event["kind"] != "recording":
                self.causes[event["sig"].split("|", 2)[2]] += 1
        elif ev == "done":
            self.res.maxrss_mb = max(self.res.maxrss_mb, event["maxrss_mb"])
            return True
        return False

    def _count(self, kind: str) -> None:
        self.res.inputs += 1
        self.res.outcomes[kind] = self.res.outcomes.get(kind, 0) + 1

    def _bug(self, sig: str, event: dict) -> None:
        if sig in self.bugs:
            self.bugs[sig]["count"] += 1
            self.bugs[sig]["reproducer"] = self.bugs[sig]["reproducer"] or event.get("saved")
            return
        self.bugs[sig] = {
            "kind": event["kind"],
            "stage": event.get("stage", ""),
            "type": event.get("type", ""),
            "message": event.get("message", ""),
            "reader": event.get("reader", ""),
            "count": 1,
            "reproducer": event.get("saved"),
            "input": event.get("ops", ""),
            "traceback": (event.get("detail") or "").strip()[-4000:],
        }

    def _lost_input(self, kind: str, type_: str, message: str, detail: str = "") -> None:
        """A hang or crash the worker could not report itself: save the in-flight input, count it."""
        event = {**(self.in_flight or {}), "kind": kind, "type": type_, "message": message, "detail": detail}
        self.in_flight = None
        self._count(kind)
        sig = f"{kind}|{type_}"
        folder = Path(event.get("dir", ""))
        if event.get("dir") and folder.is_dir() and sig not in self.bugs:
            out = Outcome(kind, type_, message, detail=detail)
            t = self.targets[self.current]
            event["saved"] = save_failure(
                self.args.save, self.name, folder, t, out, event.get("ops", ""), 9000
            )
        self._bug(sig, event)


def report(doc: dict) -> str:
    """The markdown summary of a campaign (tests/FUZZING.md)."""
    columns = [
        "reader",
        "samples",
        "inputs tried",
        "recordings",
        "typed errors",
        "wrapped library errors",
        "bugs",
    ]
    rows = ["| " + " | ".join([*columns, "slowest (s)", "wall (s)"]) + " |", "|---" + "|---:" * 8 + "|"]
    for r in doc["readers"]:
        o = r["outcomes"]
        counts = [o.get(k, 0) for k in OK_KINDS]
        cells = [r["reader"], len(r["samples"]), r["inputs"], *counts, sum(b["count"] for b in r["bugs"])]
        rows.append("| " + " | ".join(map(str, cells)) + f" | {r['slowest_s']:.2f} | {r['wall_s']:.0f} |")
    total = sum(r["inputs"] for r in doc["readers"])
    lines = [
        "# Fuzzing the readers",
        "",
        f"Generated by `{doc['command']}` on {doc['date']}: seed {doc['seed']}, "
        f"{doc['seconds_per_reader']:g} s per reader, {doc['timeout_s']:g} s per input, address space "
        f"limited to {doc['memory_mb']} MB; {total} inputs in all.",
        "",
        "Each input is a real sample with one to four hypothesis mutations (byte flips, boundary values, "
        "truncation, deleted, duplicated and inserted chunks; for text and XML also numbers, lines, elements "
        "and attributes), opened with `ecgviewer.io.load`. *Typed errors* are `EcgReadError`s the readers "
        "raise themselves; *wrapped library errors* are library exceptions the registry turned into an "
        "`EcgReadError`: readable, but the reader did not foresee that input. Bugs are crashes, hangs, "
        "memory blow-ups, unreadable messages, patient identifiers in messages or warnings, and bad samples.",
        "",
        *rows,
        "",
        "## Bugs",
        "",
    ]
    bugs = [(r["reader"], b) for r in doc["readers"] for b in r["bugs"]]
    for reader, b in bugs:
        where = b["stage"] or "open"
        lines.append(
            f"- **{reader}** ({b['count']}x) {b['kind']} at {where}: `{b['type']}` {b['message'][:200]}"
        )
        if b.get("input"):
            lines.append(f"  input: {b['input'][:200]}")
        if b.get("traceback"):
            lines.append(f"  last line: `{b['traceback'].splitlines()[-1][:200]}`")
        if b.get("reproducer"):
            lines.append(f"  reproducer: `python tests/fuzz_readers.py --replay {b['reproducer']}`")
    if not bugs:
        lines.append("None found.")
    lines += ["", "## Most frequent error causes (what the user reads; # stands for numbers)", ""]
    for r in doc["readers"]:
        if r["causes"]:
            shown = []
            for c, n in r["causes"][:5]:
                kind, msg = c.split("|", 1)
                shown.append(f"{msg} ({n}{'' if kind == 'EcgReadError' else ', from ' + kind})")
            lines.append(f"- **{r['reader']}**: " + "; ".join(shown))
    lines += ["", "## Samples", ""]
    lines += [f"- **{r['reader']}**: " + ", ".join(r["samples"]) for r in doc["readers"]]
    if doc.get("unclaimed_samples"):
        lines.append(
            "- no reader claims: " + ", ".join(s for v in doc["unclaimed_samples"].values() for s in v)
        )
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--seconds-per-reader", type=float, default=20.0)
    ap.add_argument("--total-seconds", type=float, help="split this budget evenly over the readers instead")
    ap.add_argument("--min-inputs", type=int, default=0,
                    help="inputs each reader tries at least, over its budget if need be")  # fmt: skip
    ap.add_argument("--json", type=Path)
    ap.add_argument("--report", type=Path, help="write a markdown summary")
    ap.add_argument("--reader", action="append", help="fuzz only this reader (repeatable)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--save", type=Path, default=Path(tempfile.gettempdir()) / "ecgviewer-fuzz-failures")
    ap.add_argument("--memory-mb", type=int, default=MEMORY_MB)
    ap.add_argument(
        "--no-shared", action="store_true", help="generated samples only, even if ../shared exists"
    )
    ap.add_argument("--worker", type=Path, help=argparse.SUPPRESS)
    ap.add_argument("--replay", type=Path, help="open one saved input and print the outcome")
    ap.add_argument("--from-json", type=Path, help="only render --report from an earlier --json")
    args = ap.parse_args(argv)
    if args.worker:
        worker(args.worker)
        return 0
    if args.from_json:
        args.report.write_text(report(json.loads(args.from_json.read_text())))
        return 0
    if args.replay:
        import resource

        limit = args.memory_mb * 2**20  # as in the campaign: an allocation that failed there fails here
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
        import_readers()
        out = attempt(args.replay, [])
        print(
            f"{out.kind} ({out.stage}, {out.elapsed:.2f} s, reader {out.reader}): {out.type}: {out.message}"
        )
        print(out.detail)
        return 1 if out.bug else 0

    started = time.time()
    import_readers()
    shared = SHARED if (SHARED / "README.md").is_file() and not args.no_shared else None
    with tempfile.TemporaryDirectory(prefix="ecgviewer-fuzz-samples-") as gen:
        targets = real_samples(shared) + generated_samples(shared, Path(gen))
        groups = assign(targets)
        unclaimed = {n: sorted({t.sample for t in ts}) for n, ts in groups.items() if n.startswith("(none")}
        names = [n for n in groups if n not in unclaimed and (not args.reader or n in args.reader)]
        per = args.total_seconds / max(1, len(names)) if args.total_seconds else args.seconds_per_reader
        results = []
        for name in names:
            r = Campaign(name, groups[name], per, args).run()
            results.append(asdict(r))
            nb = sum(b["count"] for b in r.bugs)
            print(f"{name}: {r.inputs} inputs, {r.outcomes}, {nb} bugs, {r.wall_s:.0f} s", file=sys.stderr)
    from ecgviewer.io import READERS

    doc = {
        "command": "python tests/fuzz_readers.py " + " ".join(argv if argv is not None else sys.argv[1:]),
        "date": time.strftime("%Y-%m-%d %H:%M", time.localtime(started)),
        "seed": args.seed,
        "seconds_per_reader": per,
        "timeout_s": TIMEOUT_S,
        "memory_mb": args.memory_mb,
        "shared": str(shared) if shared else None,
        "registered": [r.name for r in READERS],
        "without_samples": [r.name for r in READERS if r.name not in groups],
        "unclaimed_samples": unclaimed,
        "readers": results,
    }
    if args.json:
        args.json.write_text(json.dumps(doc, indent=1))
    if args.report:
        args.report.write_text(report(doc))
    return 1 if any(r["bugs"] for r in results) else 0


if __name__ == "__main__":
    sys.exit(main())
