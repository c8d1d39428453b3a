"""Datasets: PTB-XL labels and folds, unlabelled WFDB folders, and the on-disk token cache.

Tokenisation runs once per (dataset, contract version) and is cached as memory-mapped ``.npy``
arrays; epochs only read the cache.
"""

from __future__ import annotations

import ast
import hashlib
import json
import os
import time
from collections.abc import Iterable
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ecgviewer.leads import canonical_lead
from ecgviewer.ml import contract
from training import SHARED_DATA

TASKS = ("super", "sub", "form", "rhythm", "diag", "all")
TRAIN_FOLDS = (1, 2, 3, 4, 5, 6, 7, 8)
VAL_FOLD = 9
TEST_FOLD = 10
LAYOUT = 2  # the cache's arrays; 2 added the signal, its length, present leads and R-peaks


def default_data_root() -> Path | None:
    return SHARED_DATA if SHARED_DATA.is_dir() else None


def ptbxl_root(data_root: Path) -> Path:
    """The PTB-XL folder inside ``data_root`` (``ptbxl/``, ``ptb-xl/`` or the root itself)."""
    for cand in (data_root / "ptbxl", data_root / "ptb-xl", data_root):
        if (cand / "scp_statements.csv").is_file():
            return cand
    raise FileNotFoundError(f"{data_root}: no PTB-XL folder (scp_statements.csv) found")


@dataclass
class Labels:
    """PTB-XL records with their fold and 0/1 statement matrix (all 71 SCP statements)."""

    ecg_id: np.ndarray  # int64 (N,)
    fold: np.ndarray  # int64 (N,)
    statements: list[str]
    y: np.ndarray  # uint8 (N, 71)
    scp: object  # pandas DataFrame of scp_statements.csv, indexed by code

    def task(self, name: str) -> tuple[list[str], np.ndarray]:
        """Class names and (N, C) targets of a task (ecg_ptbxl_benchmarking's definitions)."""
        return self.aggregate(name, self.y)

    def aggregate(self, name: str, by_statement: np.ndarray) -> tuple[list[str], np.ndarray]:
        """Task ``name``'s classes and columns from an (N, 71) matrix over ``statements``: 0/1
        targets, or a 71-statement head's probabilities (a class present when any of its member
        statements is, so scored by the largest member probability), which is how a model with
        only an ``all`` head is scored on the finer tasks."""
        scp = self.scp
        col = {s: i for i, s in enumerate(self.statements)}
        if name == "all":
            return list(self.statements), by_statement
        if name in ("diag", "form", "rhythm"):
            key = {"diag": "diagnostic", "form": "form", "rhythm": "rhythm"}[name]
            codes = [c for c in self.statements if scp.loc[c, key] == 1]
            return codes, by_statement[:, [col[c] for c in codes]]
        if name in ("super", "sub"):
            members = self.members(name)
            y = np.zeros((len(by_statement), len(members)), dtype=by_statement.dtype)
            for k, codes in enumerate(members.values()):
                y[:, k] = by_statement[:, [col[c] for c in codes]].max(axis=1)
            return list(members), y
        raise ValueError(f"unknown task {name!r}; choose from {', '.join(TASKS)}")

    def members(self, name: str) -> dict[str, list[str]]:
        """Each class of ``super`` or ``sub`` (sorted) -> its diagnostic statements among ``statements``."""
        key = "diagnostic_class" if name == "super" else "diagnostic_subclass"
        diag = self.scp[self.scp["diagnostic"] == 1]
        known = set(self.statements)
        classes = sorted(diag[key].dropna().unique())
        return {cls: [c for c in diag.index[diag[key] == cls] if c in known] for cls in classes}


def load_labels(root: Path) -> Labels:
    """Read PTB-XL labels from ``ptbxl_statements_v103.csv`` (the shared data's complete table)
    or, failing that, PhysioNet's ``ptbxl_database.csv``."""
    import pandas as pd

    scp = pd.read_csv(root / "scp_statements.csv", index_col=0)
    statements = list(scp.index)
    table = root / "ptbxl_statements_v103.csv"
    if table.is_file():
        df = pd.read_csv(table)
        y = df[statements].to_numpy(dtype=np.uint8)
    else:
        df = pd.read_csv(root / "ptbxl_database.csv")
        codes = df["scp_codes"].map(ast.literal_eval)
        y = np.array([[int(s in c) for s in statements] for c in codes], dtype=np.uint8)
    return Labels(
        ecg_id=df["ecg_id"].to_numpy(np.int64),
        fold=df["strat_fold"].to_numpy(np.int64),
        statements=statements,
        y=y,
        scp=scp,
    )


def ptbxl_record(root: Path, ecg_id: int) -> Path:
    """Path (without suffix) of a PTB-XL 100 Hz record."""
    return root / "records100" / f"{ecg_id // 1000 * 1000:05d}" / f"{ecg_id:05d}_lr"


def wfdb_records(folder: Path) -> list[Path]:
    """Every WFDB record (header) under ``folder``, sorted, without suffix."""
    return sorted(p.with_suffix("") for p in folder.rglob("*.hea"))


def _tokenise_file(path: str) -> dict[str, np.ndarray] | str:
    """The first 10 s window of one WFDB record: its beat tokens and the band-passed 100 Hz
    signal with the R-peaks they were cut at (signal-space objectives start from those); an
    error string if unreadable."""
    import wfdb

    try:
        rec = wfdb.rdrecord(path)
        leads = [canonical_lead(n) for n in rec.sig_name]
        x, present = contract.prepare(rec.p_signal.T, rec.fs, leads)
        tok = contract.tokenise_prepared(x, present, rec.fs)
    except Exception as exc:  # a bad file is reported and skipped, never fatal for a cache build
        return f"{Path(path).name}: {exc}"
    window = x[:, : contract.WINDOW]
    signal = np.zeros((len(contract.LEADS), contract.WINDOW), dtype=np.float32)
    signal[:, : window.shape[1]] = window
    return {"values": tok.values[0], "pad": tok.pad[0],
            "fallback": bool(tok.fallback[0]), "signal": signal, "length": window.shape[1],
            "present": present, "rpeaks": tok.local_rpeaks[0]}  # fmt: skip


@dataclass
class TokenCache:
    """Memory-mapped tokens of a list of records (one 10 s window each)."""

    folder: Path
    ids: list[str]
    values: np.ndarray
    pad: np.ndarray
    fallback: np.ndarray
    signal: np.ndarray  # float32 (N, 12, 1000): the band-passed 100 Hz window of the tokens
    length: np.ndarray  # int64 (N,): valid samples of ``signal``
    present: np.ndarray  # bool (N, 12)
    rpeaks: np.ndarray  # int64 (N, 15): R-peaks (indices into ``signal``), -1 where none
    build_s: float | None = None  # tokenising time of the process that built the cache

    def __len__(self) -> int:
        return len(self.ids)

    def index_of(self, ids: Iterable[str]) -> np.ndarray:
        pos = {r: i for i, r in enumerate(self.ids)}
        return np.array([pos[r] for r in ids], dtype=np.int64)


def build_cache(
    folder: Path, records: dict[str, Path], workers: int = 2, progress: bool = True
) -> TokenCache:
    """Tokenise ``records`` (id -> path) into ``folder`` unless a complete cache of the same
    contract version and record list is already there."""
    key = hashlib.sha256("\n".join(f"{k}\t{v}" for k, v in records.items()).encode()).hexdigest()
    done = complete_cache(folder, key)
    if done is not None:
        return done
    paths = [str(p) for p in records.values()]
    from tqdm import tqdm

    with ProcessPoolExecutor(max_workers=max(1, workers)) as pool:
        results = pool.map(_tokenise_file, paths, chunksize=64)
        shown = tqdm(results, total=len(paths), desc=f"tokenise {folder.name}", disable=not progress)
        return write_cache(folder, list(records), key, shown)


_LAYOUT = {
    "values": (np.float32, (len(contract.LEADS), contract.MAX_BEATS, contract.TOKEN_LEN)),
    "pad": (np.bool_, (len(contract.LEADS), contract.MAX_BEATS)),
    "fallback": (np.bool_, ()),
    "signal": (np.float32, (len(contract.LEADS), contract.WINDOW)),
    "length": (np.int64, ()),
    "present": (np.bool_, (len(contract.LEADS),)),
    "rpeaks": (np.int64, (contract.MAX_BEATS,)),
}


def complete_cache(folder: Path, key: str) -> TokenCache | None:
    """The cache in ``folder`` if it was completely built from the same records (``key``) under
    this contract version and layout, else None."""
    meta_path = folder / "meta.json"
    if meta_path.is_file():
        meta = json.loads(meta_path.read_text())
        wanted = (contract.CONTRACT_VERSION, key, LAYOUT)
        if (meta.get("contract"), meta.get("key"), meta.get("layout")) == wanted:
            return open_cache(folder)
    return None


def write_cache(
    folder: Path, ids: list[str], key: str, results: Iterable[dict[str, np.ndarray] | str]
) -> TokenCache:
    """Write one record's arrays (or an error string) per id into a memory-mapped cache in
    ``folder``; ``meta.json`` is written last, so an interrupted build is rebuilt, never used."""
    folder.mkdir(parents=True, exist_ok=True)
    meta_path = folder / "meta.json"
    t0 = time.perf_counter()
    n = len(ids)
    arrays = {
        name: np.lib.format.open_memmap(folder / f"{name}.npy", "w+", dtype, (n, *shape))
        for name, (dtype, shape) in _LAYOUT.items()
    }
    ok = np.zeros(n, dtype=bool)
    errors = []
    for i, res in enumerate(results):
        if isinstance(res, str):
            errors.append(res)
            continue
        for name, arr in arrays.items():
            arr[i] = res[name]
        ok[i] = True
    for arr in arrays.values():
        arr.flush()
    meta = {
        "contract": contract.CONTRACT_VERSION,
        "key": key,
        "layout": LAYOUT,
        "ids": ids,
        "ok": ok.tolist(),
        "errors": errors,
        "fallback": int(np.asarray(arrays["fallback"]).sum()),
        "build_s": round(time.perf_counter() - t0, 1),
    }
    tmp = meta_path.with_suffix(".tmp")
    tmp.write_text(json.dumps(meta))
    os.replace(tmp, meta_path)  # written last: a cache without meta.json is rebuilt
    return open_cache(folder)


def open_cache(folder: Path) -> TokenCache:
    meta = json.loads((folder / "meta.json").read_text())
    ok = np.asarray(meta["ok"], dtype=bool)
    load = lambda name: np.load(folder / f"{name}.npy", mmap_mode="r")  # noqa: E731
    names = ("values", "pad", "fallback", "signal", "length", "present", "rpeaks")
    cache = TokenCache(folder, meta["ids"], *(load(name) for name in names), meta.get("build_s"))
    if not ok.all():  # unreadable records stay in the arrays but leave the id list
        cache.ids = [r if good else f"!{r}" for r, good in zip(cache.ids, ok, strict=True)]
    return cache


@dataclass
class Split:
    """Row indices into a TokenCache with targets, for one task."""

    rows: np.ndarray
    y: np.ndarray
    ecg_id: np.ndarray


@dataclass
class PtbxlData:
    """PTB-XL records present on disk, tokenised, with their labels."""

    root: Path
    labels: Labels
    cache: TokenCache
    ecg_id: np.ndarray  # ids present (and readable), in cache order

    def split(self, task: str, folds: Iterable[int]) -> tuple[list[str], Split]:
        classes, y = self.labels.task(task)
        row_of = {int(e): i for i, e in enumerate(self.labels.ecg_id)}
        cache_pos = {r: i for i, r in enumerate(self.cache.ids)}
        folds = set(folds)
        rows, ys, ids = [], [], []
        for e in self.ecg_id:
            r = row_of[int(e)]
            if self.labels.fold[r] in folds and y[r].any():
                rows.append(cache_pos[str(e)])
                ys.append(y[r])
                ids.append(int(e))
        return classes, Split(
            np.array(rows, np.int64), np.array(ys, np.float32).reshape(-1, len(classes)), np.array(ids)
        )


def load_ptbxl(
    data_root: Path, cache_root: Path, workers: int = 2, limit: int | None = None, progress: bool = True
) -> PtbxlData:
    """Labels plus tokens of every PTB-XL 100 Hz record found under ``data_root`` (or in its pack,
    ``training/data/pack.py``, on a machine that has no records)."""
    from training.data import pack

    root = ptbxl_root(data_root)
    labels = load_labels(root)
    if pack.is_pack(root):
        cache = pack.unpack(root, cache_root)
        ids = np.array([int(r) for r in cache.ids if not r.startswith("!")], dtype=np.int64)
        return PtbxlData(root, labels, cache, ids[:limit] if limit else ids)
    records = {}
    for e in labels.ecg_id:
        p = ptbxl_record(root, int(e))
        if p.with_suffix(".hea").is_file():
            records[str(int(e))] = p
    if limit:
        records = dict(list(records.items())[:limit])
    if not records:
        raise FileNotFoundError(f"{root}: no PTB-XL records100 files found")
    tag = hashlib.sha1(f"{root.resolve()}:{limit}".encode()).hexdigest()[:10]
    cache = build_cache(cache_root / f"ptbxl-{tag}-c{contract.CONTRACT_VERSION}", records, workers, progress)
    present = np.array([int(r) for r in cache.ids if not r.startswith("!")], dtype=np.int64)
    return PtbxlData(root, labels, cache, present)


def load_unlabelled(
    folders: Iterable[Path], cache_root: Path, workers: int = 2, progress: bool = True
) -> list[TokenCache]:
    """Token caches of unlabelled WFDB folders (LUDB, or any folder given on the command line),
    or of their packs."""
    from training.data import pack

    caches = []
    for folder in folders:
        if pack.is_pack(folder):
            caches.append(pack.unpack(folder, cache_root))
            continue
        records = {str(p.relative_to(folder)): p for p in wfdb_records(folder)}
        if records:
            name = hashlib.sha1(str(folder.resolve()).encode()).hexdigest()[:10]
            caches.append(
                build_cache(
                    cache_root / f"{folder.name}-{name}-c{contract.CONTRACT_VERSION}",
                    records,
                    workers,
                    progress,
                )
            )
    return caches


def fraction(rows: int, frac: float, seed: int) -> np.ndarray:
    """A random subset (at least one record) of ``range(rows)``: the label-fraction protocol."""
    if frac >= 1:
        return np.arange(rows)
    rng = np.random.default_rng(seed)
    return np.sort(rng.choice(rows, size=max(1, round(rows * frac)), replace=False))


def id_ranges(ids: Iterable[int]) -> str:
    """Compact "1-5,7,9-12" form of sorted integer ids, for model cards."""
    ids = sorted(int(i) for i in ids)
    parts, start, prev = [], None, None
    for i in [*ids, None]:
        if start is not None and (i is None or i != prev + 1):
            parts.append(str(start) if start == prev else f"{start}-{prev}")
            start = None
        if i is not None and start is None:
            start = i
        prev = i
    return ",".join(parts)
