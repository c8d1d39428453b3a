"""Reading every vendor format and saving as WFDB / EDF+: warm-process times per file.

The vendor samples live in ``../shared/data/formats`` (not shipped: GE MUSE samples are GPL);
without it only the bundled WFDB sample is timed.
"""

from __future__ import annotations

import statistics
import tempfile
import time
from pathlib import Path

from common import SHARED

SIDE_FILES = (".dat", ".xyz", ".mat")  # a WFDB record is timed through its header


def _median_ms(fn, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append((time.perf_counter() - t0) * 1e3)
    return round(statistics.median(times), 2)


def bench_formats(sample: Path, repeats: int) -> dict:
    """Median load time of each sample file (by format), and of saving the bundled sample."""
    from ecgviewer.io import load
    from ecgviewer.io.writers import save

    files = [sample]
    folder = SHARED / "formats"
    if folder.is_dir():
        files += sorted(p for p in folder.rglob("*") if p.is_file() and p.suffix.lower() not in SIDE_FILES)
    load_ms: dict[str, float] = {}
    for path in files:
        fmt = load(path).source_format  # the first read imports the format's library: not timed
        # keyed by format, not file name: a vendor file's name may carry the patient's
        key = f"{fmt} #{sum(k.startswith(fmt + ' #') for k in load_ms) + 1}"
        load_ms[key] = _median_ms(lambda p=path: load(p), repeats)
    rec = load(sample)
    with tempfile.TemporaryDirectory() as tmp:
        targets = {"wfdb": Path(tmp) / "out.hea", "edf": Path(tmp) / "out.edf"}
        save_ms = {fmt: _median_ms(lambda t=target: save(rec, t), repeats) for fmt, target in targets.items()}
    return {"load_ms": load_ms, "save_ms": save_ms, "shared_data": folder.is_dir(), "repeats": repeats}
