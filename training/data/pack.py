"""A portable, compact copy of a tokenised dataset, for machines that cannot read the records.

An accelerator machine may reach nothing but what is sent to it, and what is sent is small
(tens of MiB), while PTB-XL's token cache is 2.5 GB. A pack keeps only what the cache is made
from: the contract's band-passed 100 Hz window and the R-peaks the tokens were cut at. The
tokens are cut again on arrival by ``contract.tokenise_window``, the code that cut them here.

- Signal: the 8 independent leads (I, II, V1-V6) quantised to ``step_uv`` microvolts; the four
  derived leads as their residual from Einthoven's and Goldberger's formulas, which is almost all
  zero where the device derived them and carries the difference where it did not. Each lead's
  first difference is stored (smaller numbers), LZMA-compressed, in ``parts`` files so a transfer
  limit can be met one part per transfer. Lossy by at most ``step_uv / 2`` per sample.
- Everything else (R-peaks, lengths, lead presence, fallback flags, ids, the label tables) is
  exact. ``packed.json`` names the parts; a missing part is a clear error.

Why by hand: no library compresses multi-lead ECG arrays this way (FLAC was measured: 109 MiB
against LZMA's ~100 MiB for PTB-XL at 5 uV, and it allows at most 8 channels).
"""

from __future__ import annotations

import hashlib
import json
import lzma
import os
import shutil
import time
from pathlib import Path

import numpy as np

from ecgviewer.ml import contract
from training.data import datasets as D

PACK_VERSION = 1
INDEPENDENT = ("I", "II", "V1", "V2", "V3", "V4", "V5", "V6")
DERIVED = ("III", "aVR", "aVL", "aVF")
LABEL_FILES = ("scp_statements.csv", "ptbxl_statements_v103.csv", "ptbxl_database.csv")
_IND = [contract.LEADS.index(lead) for lead in INDEPENDENT]
_DER = [contract.LEADS.index(lead) for lead in DERIVED]


def derived_from_limb(signal: np.ndarray) -> np.ndarray:
    """III, aVR, aVL, aVF (..., 4, n) from leads I and II of ``signal`` (..., 12, n)."""
    i, ii = signal[..., 0, :], signal[..., 1, :]
    return np.stack([ii - i, -(i + ii) / 2, i - ii / 2, ii - i / 2], axis=-2)


def _encode(signal: np.ndarray, step_mv: float) -> np.ndarray:
    """(N, 12, n) mV -> int16 first differences, independent leads then derived residuals."""
    q = np.empty_like(signal, dtype=np.int32)
    q[:, _IND] = np.round(signal[:, _IND] / step_mv)
    limb = np.zeros_like(signal)
    limb[:, :2] = q[:, :2] * step_mv  # the formulas on the stored (quantised) I and II
    q[:, _DER] = np.round((signal[:, _DER] - derived_from_limb(limb)) / step_mv)
    q = np.clip(q, -32767, 32767)
    return np.diff(q, axis=-1, prepend=0).astype(np.int16)


def _decode(delta: np.ndarray, step_mv: float) -> np.ndarray:
    q = np.cumsum(delta.astype(np.int32), axis=-1).astype(np.float32) * step_mv
    out = np.empty_like(q)
    out[:, _IND] = q[:, _IND]
    out[:, _DER] = q[:, _DER] + derived_from_limb(q)
    return out


def pack_cache(cache: D.TokenCache, out: Path, step_uv: float = 5.0, parts: int = 1,
               extra_files: tuple[Path, ...] = ()) -> dict:  # fmt: skip
    """Write ``cache`` (readable records only) as a pack in folder ``out``; returns its manifest."""
    t0 = time.perf_counter()
    keep = np.array([not r.startswith("!") for r in cache.ids])
    rows = np.flatnonzero(keep)
    out.mkdir(parents=True, exist_ok=True)
    step = step_uv / 1000
    files = []
    for k, chunk in enumerate(np.array_split(rows, parts)):
        name = f"signal-{k}.xz"
        blob = lzma.compress(_encode(np.asarray(cache.signal[chunk], dtype=np.float64), step).tobytes())
        _atomic_bytes(out / name, blob)
        files.append({"file": name, "records": len(chunk), "sha256": hashlib.sha256(blob).hexdigest()})
    np.savez_compressed(
        out / "arrays.npz",
        rpeaks=np.asarray(cache.rpeaks[rows]).astype(np.int16),
        length=np.asarray(cache.length[rows]).astype(np.int16),
        present=np.asarray(cache.present[rows]),
        fallback=np.asarray(cache.fallback[rows]),
    )
    for f in extra_files:
        shutil.copyfile(f, out / f.name)
    manifest = {
        "version": PACK_VERSION,
        "contract": contract.CONTRACT_VERSION,
        "step_uv": step_uv,
        "ids": [cache.ids[i] for i in rows],
        "window": contract.WINDOW,
        "parts": files,
        "extra_files": [f.name for f in extra_files],
        "pack_s": round(time.perf_counter() - t0, 1),
    }
    _atomic_bytes(out / "packed.json", json.dumps(manifest).encode())
    return manifest


def is_pack(folder: Path) -> bool:
    return (folder / "packed.json").is_file()


def unpack(folder: Path, cache_root: Path) -> D.TokenCache:
    """The token cache of pack ``folder`` (built once under ``cache_root``, keyed by the pack)."""
    manifest = json.loads((folder / "packed.json").read_text())
    if manifest["contract"] != contract.CONTRACT_VERSION:
        raise ValueError(f"{folder}: packed under contract {manifest['contract']}, "
                         f"this code is contract {contract.CONTRACT_VERSION}")  # fmt: skip
    missing = [p["file"] for p in manifest["parts"] if not (folder / p["file"]).is_file()]
    if missing:
        raise FileNotFoundError(f"{folder}: pack parts missing: {', '.join(missing)}")
    key = hashlib.sha256("".join(p["sha256"] for p in manifest["parts"]).encode()).hexdigest()
    target = cache_root / f"{folder.name}-pack-{key[:12]}"
    done = D.complete_cache(target, key)
    if done is not None:
        return done
    arrays = np.load(folder / "arrays.npz")
    shape = (len(contract.LEADS), manifest["window"])
    deltas = [
        np.frombuffer(lzma.decompress((folder / p["file"]).read_bytes()), np.int16).reshape(-1, *shape)
        for p in manifest["parts"]
    ]
    signal = _decode(np.concatenate(deltas), manifest["step_uv"] / 1000)
    records = {
        "signal": signal,
        "rpeaks": arrays["rpeaks"].astype(np.int64),
        "length": arrays["length"].astype(np.int64),
        "present": arrays["present"],
        "fallback": arrays["fallback"],
    }
    return D.write_cache(target, manifest["ids"], key, _tokens(records))


def _tokens(r: dict[str, np.ndarray]):
    """Per record, the arrays of a token cache, the tokens cut again at the stored R-peaks."""
    for x, peaks, n, present, fallback in zip(
        r["signal"], r["rpeaks"], r["length"], r["present"], r["fallback"], strict=True
    ):
        values, pad, _, _ = contract.tokenise_window(x[:, :n], peaks[peaks >= 0], present)
        yield {"values": values, "pad": pad, "fallback": bool(fallback), "signal": x,
               "length": int(n), "present": present, "rpeaks": peaks}  # fmt: skip


def _atomic_bytes(path: Path, blob: bytes) -> None:
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_bytes(blob)
    os.replace(tmp, path)


def pack_data(data_root: Path, cache_root: Path, out: Path, step_uv: float = 5.0, parts: int = 2,
              workers: int = 2, progress: bool = True) -> dict:  # fmt: skip
    """Pack PTB-XL (``out/ptbxl``, with its label tables) and LUDB (``out/ludb``) of ``data_root``."""
    pt = D.load_ptbxl(data_root, cache_root, workers, None, progress)
    labels = tuple(pt.root / f for f in LABEL_FILES if (pt.root / f).is_file())
    summary = {"ptbxl": pack_cache(pt.cache, out / "ptbxl", step_uv, parts, labels)}
    ludb = data_root / "ludb"
    if ludb.is_dir():
        (cache,) = D.load_unlabelled([ludb], cache_root, workers, progress)
        summary["ludb"] = pack_cache(cache, out / "ludb", step_uv, 1)
    return {name: {k: m[k] for k in ("parts", "step_uv", "pack_s")} | {"records": len(m["ids"])}
            for name, m in summary.items()}  # fmt: skip
