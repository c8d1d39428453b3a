"""The project's own typed errors: every message names the file and the cause."""

from __future__ import annotations

import re
from pathlib import Path

MAX_CAUSE = 160
_QUOTED = re.compile(r"'[^']*'|\"[^\"]*\"|b'[^']*'")
# a path of two parts or more (/tmp/x.xml, C:\ECG\x.xml): a folder or file name may be a patient's
_PATH = re.compile(r"(?<![\w.])(?:[A-Za-z]:)?(?:[\\/][^\s\\/'\"()\[\]]+){2,}[\\/]?")


class EcgError(Exception):
    """Base class for errors the user should see as one readable line (never a traceback)."""


class Cancelled(Exception):
    """The user cancelled long work (``progress`` returned False); nothing is reported."""


class EcgReadError(EcgError):
    """A recording could not be read; ``str()`` names the file and why."""

    def __init__(self, path: str | Path, cause: str) -> None:
        self.path = Path(path)
        self.cause = cause
        super().__init__(f"Cannot open {self.path.name!s}: {cause} ({self.path})")


def plain_cause(exc: BaseException) -> str:
    """A library's exception as one short line, with quoted values and paths withheld: a library
    quotes the field it choked on, or the file's path, and either may hold a patient's name."""
    text = str(exc).strip()
    line = text.splitlines()[0] if text else type(exc).__name__
    line = "".join(c if c.isprintable() else "?" for c in _PATH.sub("the file", _QUOTED.sub("…", line)))
    if not line.strip("… "):  # nothing left but withheld values: say what kind of failure
        line = f"{type(exc).__name__} {line}".strip()
    return line if len(line) <= MAX_CAUSE else line[: MAX_CAUSE - 1] + "…"
