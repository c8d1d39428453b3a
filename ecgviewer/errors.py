"""The project's own typed errors: every message names the file and the cause."""

from __future__ import annotations

from pathlib import Path


class EcgError(Exception):
    """Base class for errors the user should see as one readable line (never a traceback)."""


class EcgReadError(EcgError):
    """A recording could not be read; ``str()`` names the file and why."""

    def __init__(self, path: str | Path, cause: str) -> None:
        self.path = Path(path)
        self.cause = cause
        super().__init__(f"Cannot open {self.path.name!s}: {cause} ({self.path})")
