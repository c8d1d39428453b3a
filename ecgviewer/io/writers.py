"""Save as WFDB or EDF+: lossless (the integers the source file stored come back) and atomic.

A recording knows, per lead, the step of the integers its file stored (``Recording.resolution``).
The writers store ``round(x / step)`` with a calibration that maps each integer back to the very
same value: for EDF, digital and physical ranges whose 8-character texts are exact for the step.
Leads off that grid (aVR = -(I + II) / 2 has half steps) get the coarsest binary or decimal
fraction of the step that holds them; leads on no grid are quantised finely, the error reported.

Long recordings are read and written window by window (two passes: one to find each lead's grid
and range, one to write). Files are written beside the target under temporary names and moved
into place only once complete, the header last: a failure leaves the old file or nothing.
"""

from __future__ import annotations

import errno
import os
import shutil
import tempfile
from pathlib import Path
from types import MappingProxyType

from ecgviewer.io.coding import SaveError
from ecgviewer.io.edf_writer import save_edf
from ecgviewer.io.wfdb_writer import save_wfdb
from ecgviewer.recording import Recording

FORMATS = MappingProxyType({".hea": "wfdb", ".dat": "wfdb", ".edf": "edf", ".bdf": "edf"})


def format_for(path: str | os.PathLike[str]) -> str:
    """The format, "wfdb" or "edf", that the file name's suffix asks for."""
    fmt = FORMATS.get(Path(path).suffix.lower())
    if fmt is None:
        raise SaveError(path, "unknown format: name the file .hea (WFDB) or .edf (EDF+)")
    return fmt


def save(
    recording: Recording,
    path: str | os.PathLike[str],
    fmt: str | None = None,
    *,
    identifiers: bool = False,
    notes: list[str] | None = None,
) -> Path:
    """Write ``recording`` as WFDB (``.hea`` + ``.dat``) or EDF+ and return the path written (the
    ``.hea``, or ``.bdf`` when the integers need more than EDF's 16 bits).

    Patient identifiers are written only with ``identifiers=True``. What was not kept exactly
    (values quantised, annotations cut) is appended to ``notes`` as plain sentences.
    """
    target = Path(path).expanduser()
    fmt = fmt or format_for(target)
    if fmt not in ("wfdb", "edf"):
        raise SaveError(target, f"unknown format {fmt!r} (wfdb or edf)")
    if not target.parent.is_dir():
        raise SaveError(target, "the folder does not exist")
    out = notes if notes is not None else []
    tmp = None
    try:
        tmp = Path(tempfile.mkdtemp(prefix=".ecgviewer-save-", dir=target.parent))
        if fmt == "wfdb":
            return save_wfdb(recording, target, tmp, identifiers, out)
        return save_edf(recording, target, tmp, identifiers, out)
    except SaveError:
        raise
    except OSError as exc:
        raise SaveError(target, _cause(exc)) from None
    except MemoryError:
        raise SaveError(target, "not enough memory") from None
    except Exception as exc:  # a library failing on odd input must not crash the app
        cause = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise SaveError(target, f"write failed ({cause})") from exc
    finally:
        if tmp is not None:
            shutil.rmtree(tmp, ignore_errors=True)


def _cause(exc: OSError) -> str:
    plain = {
        errno.ENOSPC: "the disk is full",
        errno.EDQUOT: "the disk quota is exceeded",
        errno.EACCES: "permission denied",
        errno.EPERM: "permission denied",
        errno.EROFS: "the folder is on a read-only disk",
        errno.ENOENT: "the folder does not exist",
    }
    return plain.get(exc.errno or 0, exc.strerror or str(exc))
