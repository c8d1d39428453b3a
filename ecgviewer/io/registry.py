"""Reader registry: formats are detected by content (extension only as a tie-breaker)."""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from ecgviewer.errors import EcgReadError, plain_cause
from ecgviewer.recording import Recording

SNIFF_BYTES = 4096


@dataclass(frozen=True)
class Reader:
    """One file format: how to recognise it from its first bytes and how to read it."""

    name: str
    extensions: tuple[str, ...]
    sniff: Callable[[Path, bytes], bool]
    read: Callable[[Path], Recording]
    companions: tuple[str, ...] = ()  # extensions of files read through another one (WFDB's .dat)


READERS: list[Reader] = []
# Extensions that files other than ECGs use too: a folder of exports often holds unrelated XML or
# text, so such a file is listed only when a reader recognises its first bytes.
GENERIC_EXTENSIONS = frozenset({".xml", ".txt", ".tsv"})


def register(reader: Reader) -> Reader:
    """Add a reader; later issues' formats plug in here."""
    READERS.append(reader)
    return reader


def resolve(path: str | os.PathLike[str]) -> Path:
    """The file to open: a WFDB record may be named without its extension."""
    p = Path(path).expanduser()
    if not p.exists() and p.with_name(p.name + ".hea").is_file():
        return p.with_name(p.name + ".hea")
    return p


def claimed(path: Path) -> bool:
    """A reader claims ``path``'s extension and it is not a companion file (a WFDB record is
    listed once, by its header) nor hidden."""
    suffix = path.suffix.lower()
    claims = [r for r in READERS if suffix in r.extensions]
    return bool(claims) and not path.name.startswith(".") and not all(suffix in r.companions for r in claims)


def listed(path: Path) -> bool:
    """Whether a folder listing shows ``path``: it is ``claimed``, and where the extension is
    generic or claimed by several formats, a reader recognises its content."""
    if not claimed(path):
        return False
    suffix = path.suffix.lower()
    claims = [r for r in READERS if suffix in r.extensions]
    if len(claims) == 1 and suffix not in GENERIC_EXTENSIONS:
        return True
    try:
        with path.open("rb") as f:
            head = f.read(SNIFF_BYTES)
    except OSError:
        return False
    return any(r.sniff(path, head) for r in claims)


def detect(path: Path) -> Reader:
    """The reader whose sniffer accepts the file; content first, then extension.

    A file no sniffer accepts goes to the reader of its extension, if any, so that a corrupt
    ``.hea`` or ``.csv`` fails with that reader's specific cause rather than "unrecognised".
    """
    with path.open("rb") as f:
        head = f.read(SNIFF_BYTES)
    matches = [r for r in READERS if r.sniff(path, head)]
    by_ext = [r for r in (matches or READERS) if path.suffix.lower() in r.extensions]
    if not by_ext and not matches:
        known = ", ".join(r.name for r in READERS)
        raise EcgReadError(path, f"unrecognised file format (readable formats: {known})")
    return (by_ext or matches)[0]


def load(path: str | os.PathLike[str]) -> Recording:
    """Read an ECG file into a :class:`Recording`; any failure becomes an ``EcgReadError``."""
    p = Path(path).expanduser()
    try:
        p = resolve(p)
        if not p.exists():
            raise EcgReadError(p, "no such file")
        if not p.is_file():
            raise EcgReadError(p, "not a file")
        if not os.access(p, os.R_OK):
            raise EcgReadError(p, "permission denied")
        if p.stat().st_size == 0:
            raise EcgReadError(p, "the file is empty")
        reader = detect(p)
    except (OSError, ValueError) as exc:  # a name too long, a file that cannot be opened, ...
        cause = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        raise EcgReadError(p, cause) from None
    try:
        return reader.read(p)
    except EcgReadError:
        raise
    except MemoryError:
        raise EcgReadError(p, "not enough memory to read this recording") from None
    except Exception as exc:  # a reader's library failing on bad input must not crash the app
        raise EcgReadError(p, f"invalid {reader.name} data ({plain_cause(exc)})") from exc
