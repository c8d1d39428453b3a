"""Fuzzing the readers: the oracle, then a short deterministic campaign.

The oracle (``fuzz_readers.attempt``) is checked first on a planted misbehaving reader: a leaked
identifier, a hang, infinite samples, a library exception and a clean read must each be classified
as such, so that "zero bugs" below means something. Then ``tests/fuzz_readers.py`` runs in a
subprocess (its address-space limit and alarms stay out of pytest) over every registered reader's
real samples for ECGVIEWER_FUZZ_SECONDS (default 9) in all, at least 10 inputs each, with a fixed
seed, and must report no bug. Without ../shared it fuzzes the generated samples (CSV, NPY, ISHNE,
the bundled WFDB record).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import fuzz_readers as fz
import numpy as np
import pytest

from ecgviewer.errors import EcgReadError
from ecgviewer.io.registry import READERS, Reader
from ecgviewer.recording import make_recording
from ecgviewer.sources import ArraySource

SECRET = "Ada Testperson"


def _planted(path: Path):
    """A reader that misbehaves as the file's first line asks."""
    what = path.read_bytes()[5:].split(b"\n")[0].decode()
    if what == "leak":
        raise EcgReadError(path, f"no ECG for patient {SECRET}")
    if what == "hang":
        time.sleep(30)
    if what == "library":
        raise IndexError("list index out of range")
    if what == "int32":  # a library that reads a header's number into an int32 (issue 71)
        np.asarray([2148169007], dtype=np.int32)
    if what == "year":
        raise ValueError("year 2148169007 is out of range")
    data = np.zeros((2, 1000), np.float32)
    data[0, 10] = 1.0
    if what == "inf":
        data[1, 990] = np.inf
    if what == "warn":
        rec = make_recording(path, ArraySource(data), 500, ["I", "V1"], "planted")
        rec.warnings.append(f"recorded on {SECRET}'s device")
        return rec
    return make_recording(path, ArraySource(data), 500, ["I", "V1"], "planted")


@pytest.fixture
def planted():
    reader = Reader("PLANTED", (".planted",), lambda p, head: head.startswith(b"PLNT"), _planted)
    READERS.insert(0, reader)
    yield
    READERS.remove(reader)


@pytest.mark.parametrize(
    ("content", "kind"),
    [
        ("ok", "recording"),
        ("leak", "privacy"),
        ("warn", "privacy"),
        ("hang", "hang"),
        ("inf", "samples"),
        ("library", "wrapped library error"),
        ("int32", "unrepresentable number"),
        ("year", "unrepresentable number"),
    ],
)
def test_oracle_classifies(planted, tmp_path: Path, content: str, kind: str) -> None:
    path = tmp_path / "x.planted"
    path.write_bytes(b"PLNT " + content.encode() + b"\n")
    out = fz.attempt(path, [SECRET], timeout=0.5)
    assert out.kind == kind, out
    assert out.bug == (kind not in fz.OK_KINDS)
    assert SECRET not in out.message


def test_mutations_are_structural() -> None:
    xml = b'<a x="1"><b>2</b><b><b>3</b></b><c/></a>'
    assert fz.apply(xml, [("elem_del", 2)], "xml") == b'<a x="1"><b>2</b><c/></a>'
    assert fz.apply(xml, [("elem_dup", 4)], "xml") == b'<a x="1"><b>2</b><b><b>3</b></b><c/><c/></a>'
    assert fz.apply(xml, [("attr_val", 0, "NaN")], "xml") == b'<a x="NaN"><b>2</b><b><b>3</b></b><c/></a>'
    assert (
        fz.apply(b"1 12 500\nx 3\n", [("number", 2, "-1"), ("line_dup", 1)], "text") == b"1 12 -1\nx 3\nx 3\n"
    )
    data = bytes(range(10))
    assert fz.apply(data, [("truncate", 4), ("boundary", 1, b"\xff\x7f")], "binary") == b"\x00\xff\x7f\x03"


def test_integers_are_set_out_of_range() -> None:
    """Text and XML take the value whole; a binary file's fixed-width text field keeps its width
    (EDF's 8-character fields: "99999999" is still beyond any date or 16-bit count)."""
    hea = b"1 12 500 5000\n# Dx: 164889003\n"
    out = fz.apply(hea, [("int_range", 3, "2147483648")], "text")
    assert out == b"1 12 500 2147483648\n# Dx: 164889003\n"
    assert fz.apply(hea, [("int_range", 4, "-1")], "text") == b"1 12 500 5000\n# Dx: -1\n"
    xml = b'<a v="1.04" d="2010-01-19">7</a>'
    assert fz.apply(xml, [("int_range", 2, "99999999999999999999")], "xml") == (
        b'<a v="1.04" d="99999999999999999999-01-19">7</a>'
    )
    utf16 = '<a n="12"><b>7</b></a>'.encode("utf-16")  # Philips PageWriter exports
    out = fz.apply(utf16, [("int_range", 1, "2148169007"), ("elem_dup", 1)], "xml16")
    assert out.decode("utf-16") == '<a n="12"><b>2148169007</b><b>2148169007</b></a>'
    edf = b"0       21.11.26        10      "
    out = fz.apply(edf, [("int_range", 4, "99999999999999999999")], "binary")
    assert out == b"0       21.11.26        99999999" and len(out) == len(edf)


@pytest.fixture(scope="module")
def campaign(tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict]:
    """One deterministic campaign over every reader (in a subprocess), its report by reader."""
    tmp = tmp_path_factory.mktemp("fuzz")
    budget = float(os.environ.get("ECGVIEWER_FUZZ_SECONDS", "9"))
    out = tmp / "fuzz.json"
    cmd = [sys.executable, fz.__file__, "--total-seconds", str(budget), "--min-inputs", "10", "--seed", "0"]
    cmd += ["--json", str(out), "--save", str(tmp / "failures")]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=2 * budget + 240)
    assert out.is_file(), proc.stderr[-3000:]
    return {r["reader"]: r for r in json.loads(out.read_text())["readers"]}


@pytest.mark.parametrize("reader", [r.name for r in READERS])
def test_fuzzing_finds_no_bug(campaign: dict[str, dict], reader: str) -> None:
    if reader not in campaign:
        pytest.skip(f"no sample of {reader} to mutate (its samples are in ../shared/data)")
    r = campaign[reader]
    assert r["inputs"] >= 10, f"{reader}: only {r['inputs']} inputs tried"
    shown = [
        f"{b['count']}x {b['kind']} at {b['stage'] or 'open'}: {b['type']} {b['message'][:200]}"
        f" (replay: python tests/fuzz_readers.py --replay {b['reproducer']})"
        for b in r["bugs"][:5]
    ]
    assert not r["bugs"], f"{reader}: {len(r['bugs'])} distinct bugs, first ones:\n" + "\n".join(shown)
