"""Open folder's catalogue (``io.catalog``): it lists every file a registered reader reads, each
record once, and nothing else."""

from __future__ import annotations

import shutil
from pathlib import Path

from ecgviewer.io import catalog, load


def test_open_folder_lists_every_vendor_sample(shared: Path) -> None:
    """Every sample of ``../shared/data/formats`` is listed, WFDB records once by their header
    (not their .dat, .mat or .xyz files), and every listed file opens."""
    formats = shared / "formats"
    names = {e.name for e in catalog.scan(formats)}
    folders = {p.name for p in formats.iterdir() if p.is_dir()}
    assert {n.split("/")[0] for n in names} == folders
    assert not {n for n in names if Path(n).suffix.lower() in (".dat", ".mat", ".xyz")}
    assert {"wfdb_ptbdb/s0010_re.hea", "wfdb_challenge_mat/HR06000.hea", "edf/ludb_record1.edf"} <= names
    readable = {str(p.relative_to(formats)) for p in formats.rglob("*") if p.is_file() and _opens(p)}
    readable -= {n for n in readable if Path(n).suffix.lower() in (".dat", ".mat")}
    assert names == readable


def _opens(path: Path) -> bool:
    try:
        load(path)
    except Exception:
        return False
    return True


def test_unrelated_files_with_shared_extensions_are_not_listed(shared: Path, tmp_path: Path) -> None:
    """An XML or text file that no reader recognises stays out; hidden files, a lone signal file
    and unknown extensions too."""
    shutil.copy(shared / "formats" / "hl7_aecg" / "Example_aECG.xml", tmp_path / "ecg.xml")
    (tmp_path / "settings.xml").write_text('<?xml version="1.0"?><settings><a>1</a></settings>')
    (tmp_path / "notes.txt").write_text("called the patient back on Monday\n")
    (tmp_path / "lone.dat").write_bytes(b"\x00" * 64)
    (tmp_path / "photo.png").write_bytes(b"\x89PNG")
    (tmp_path / ".hidden.csv").write_text("I,II\n1,2\n")
    assert [e.name for e in catalog.scan(tmp_path)] == ["ecg.xml"]


def test_a_datasets_tables_are_not_recordings(tmp_path: Path) -> None:
    """A CSV beside a PhysioNet RECORDS index (LUDB's ludb.csv) and PTB-XL's tables at its root
    are metadata: Open folder and the library leave them out; the same CSV elsewhere is listed
    when it reads as an ECG."""
    from ecgviewer.io.writers import save
    from tests.helpers import synthetic

    ludb = tmp_path / "ludb"
    (ludb / "data").mkdir(parents=True)
    save(synthetic(), ludb / "data" / "1.hea")
    (ludb / "RECORDS").write_text("data/1\n")
    (ludb / "ludb.csv").write_text("ID,Sex,Age\n1,F,51\n")
    assert [e.name for e in catalog.scan(ludb)] == ["data/1.hea"]
    export = tmp_path / "export"  # an ECG exported as CSV, without a RECORDS index
    export.mkdir()
    rows = "\n".join(f"{0.1 * (k % 7):.2f},{0.2 * (k % 5):.2f}" for k in range(1000))
    (export / "ecg.csv").write_text(f"# fs = 500\nI,II\n{rows}\n")
    (ludb / "data" / "ecg.csv").write_text((export / "ecg.csv").read_text())  # not beside RECORDS
    assert [e.path for e in catalog.scan(export)] == [export / "ecg.csv"]
    assert [e.name for e in catalog.scan(ludb)] == ["data/1.hea", "data/ecg.csv"]
