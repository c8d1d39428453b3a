"""PTB-XL from PhysioNet through wfdb's downloader (for users with internet access).

Uses ``wfdb.get_record_list`` and wfdb's per-file PhysioNet fetch (which resumes partial files)
rather than ``wfdb.dl_database``, which would also pull the 500 Hz records (about 1.7 GB more).
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

DATABASE = "ptb-xl/1.0.3"
TABLES = ("ptbxl_database.csv", "scp_statements.csv", "LICENSE.txt")


def download(dest: Path, records: int | None = None, url: str | None = None) -> str:
    """Fetch PTB-XL's tables and its 100 Hz records (the first ``records`` of them) into
    ``dest/ptbxl``; ``url`` replaces physionet.org (a mirror). Returns a one-line summary."""
    import wfdb
    from wfdb.io import download as dl

    previous = dl.config.db_index_url
    wfdb.set_db_index_url(url.rstrip("/") + "/" if url else dl.PN_INDEX_URL)
    try:
        names = [r for r in wfdb.get_record_list(DATABASE) if r.startswith("records100/")]
        names = names[:records] if records else names
        files = [*TABLES, *(f"{r}{ext}" for r in names for ext in (".hea", ".dat"))]
        out = Path(dest) / "ptbxl"
        out.mkdir(parents=True, exist_ok=True)
        jobs = [
            (Path(f).name, str(Path(f).parent).replace(".", ""), DATABASE, str(out), True, False)
            for f in files
        ]
        for _, subdir, *_ in jobs:
            (out / subdir).mkdir(parents=True, exist_ok=True)
        with ThreadPoolExecutor(max_workers=2) as pool:  # PhysioNet asks for few connections
            list(pool.map(dl.dl_pn_file, jobs))
    finally:
        wfdb.set_db_index_url(previous)
    return f"{len(names)} records and {len(TABLES)} tables in {out}"
