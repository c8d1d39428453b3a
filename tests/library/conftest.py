"""What the library tests share: a throwaway copy of the bundled PTB-XL samples, a library file
in ``tmp_path``, and WFDB records written with a device's report and patient identifiers."""

from __future__ import annotations

import shutil
import sqlite3
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import pytest

from ecgviewer.library import db
from ecgviewer.recording import DeviceReport, Metadata
from tests.conftest import REPO
from tests.helpers import synthetic

SAMPLES = REPO / "resources/samples/ptbxl"
SAMPLE_IDS = (3, 8, 17)  # the bundled records' ecg_ids
NAME, PATIENT_ID = "Wilhelmina Testpatient", "MRN-0047-1193"  # identifiers no test output may show


@pytest.fixture
def samples(tmp_path: Path) -> Path:
    """``data/ptbxl``: the bundled PTB-XL tree (three 500 Hz records and its tables), copied so that
    a test may change, damage or remove files."""
    shutil.copytree(SAMPLES, tmp_path / "data" / "ptbxl")
    return tmp_path / "data"


@pytest.fixture
def library(tmp_path: Path) -> Iterator[sqlite3.Connection]:
    conn = db.open_library(tmp_path / "library.sqlite")
    yield conn
    conn.close()


def rows(conn: sqlite3.Connection) -> dict[str, sqlite3.Row]:
    """Every row of ``recordings``, by file name."""
    return {Path(r["path"]).name: r for r in conn.execute("SELECT * FROM recordings")}


def write_ecg(
    folder: Path,
    name: str,
    qtc: float = 452.0,
    statements: tuple[str, ...] = ("Sinus rhythm", "Left bundle branch block"),
    age: float = 71.0,
    sex: str = "female",
) -> Path:
    """A 10 s 12-lead WFDB record (``name.hea`` + ``.dat``) carrying a device's statements and
    measurements, a start time, and patient identifiers (written into the header on purpose)."""
    from ecgviewer.io.writers import save

    rec = synthetic()
    rec.start_time = datetime(2021, 3, 4, 5, 6, 7)
    rec.metadata = Metadata(
        age=age,
        sex=sex,
        identifiers={"name": NAME, "patient id": PATIENT_ID},
        device=DeviceReport(
            device="Vendor Cardio 9", statements=list(statements), measurements={"qtc": qtc, "qrs": 156.0}
        ),
    )
    folder.mkdir(parents=True, exist_ok=True)
    return save(rec, folder / f"{name}.hea", identifiers=True)
