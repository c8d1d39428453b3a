"""Atomic writes: a crash or a full disk never leaves a half-written file behind.

The file gets the permissions the user would get from any program: those of the file it
replaces, or 0666 less the umask for a new one (a temporary file is private, 0600, which would
leave an exported report unreadable to the colleague it is meant for).
"""

from __future__ import annotations

import os
import stat
import tempfile
import threading
from pathlib import Path

from ecgviewer.errors import EcgError


def atomic_write_bytes(path: str | os.PathLike[str], data: bytes) -> None:
    """Write to a temporary file beside ``path``, flush it to disk, then rename over."""
    target = Path(path)
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", dir=target.parent or ".")
    except OSError as exc:
        raise EcgError(f"cannot write {target}: {exc.strerror}") from None
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fchmod(f.fileno(), _mode_for(target))
            os.fsync(f.fileno())
        os.replace(tmp, target)
    except OSError as exc:
        Path(tmp).unlink(missing_ok=True)
        raise EcgError(f"cannot write {target}: {exc.strerror}") from None


_UMASK_LOCK = threading.Lock()


def _mode_for(target: Path) -> int:
    """The permission bits ``target`` should have once written (module docstring)."""
    try:
        return stat.S_IMODE(target.stat().st_mode)
    except OSError:
        return 0o666 & ~umask()


def umask() -> int:
    """The process's umask (Linux reads it without changing it; elsewhere it is set and put back)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("Umask:"):
                return int(line.split()[1], 8)
    except (OSError, ValueError):
        pass
    with _UMASK_LOCK:
        mask = os.umask(0o022)
        os.umask(mask)
    return mask
