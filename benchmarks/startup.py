"""Cold start of the installed app and of the built bundle (``make package``), each in fresh
processes with fresh settings; and whether torch was imported before the first paint."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from common import child_env, log, summary

ROOT = Path(__file__).resolve().parent.parent
BUNDLE = ROOT / "dist" / "ecgviewer"  # make package (packaging/ecgviewer.spec)


def _venv_bin(name: str) -> str:
    """A console script beside this interpreter (the venv's), else on PATH."""
    cand = Path(sys.executable).parent / name
    if cand.exists():
        return str(cand)
    found = shutil.which(name)
    if not found:
        raise FileNotFoundError(f"{name} not found beside {sys.executable} or on PATH")
    return found


def _one_cold_start(cmd: list[str], settings_dir: Path, i: int) -> dict:
    ini = settings_dir / f"settings-{i}.ini"
    env = child_env(ECGVIEWER_SETTINGS=str(ini))
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env, cwd=ROOT)
    reported = None
    wall = None
    assert proc.stdout is not None
    for line in proc.stdout:
        if line.startswith("first-paint"):
            wall = time.perf_counter() - t0
            reported = float(line.split()[1])
            break
    try:
        _, err = proc.communicate(timeout=60)
    except subprocess.TimeoutExpired:
        proc.kill()
        _, err = proc.communicate()
    return {
        "wall_s": None if wall is None else round(wall, 3),
        "app_reported_s": reported,
        "exit_code": proc.returncode,
        "stderr_tail": (err or "").strip()[-500:],
    }


def _import_check(settings_dir: Path) -> dict:
    """``python -X importtime -m ecgviewer --quit-after-paint``: was torch imported before the first
    paint (the app's own line says), what was slow."""
    env = child_env(ECGVIEWER_SETTINGS=str(settings_dir / "importtime.ini"))
    proc = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "ecgviewer", "--quit-after-paint"],
        capture_output=True,
        text=True,
        env=env,
        cwd=ROOT,
        timeout=120,
    )
    mods, top = [], []
    for line in proc.stderr.splitlines():
        if not line.startswith("import time:") or "|" not in line:
            continue
        fields = line[len("import time:") :].split("|")
        if len(fields) != 3 or not fields[0].strip().isdigit():
            continue  # the column header
        raw = fields[2].rstrip()
        name = raw.strip()
        mods.append(name)
        if raw.startswith(" ") and not raw.startswith("  "):  # top-level import (one space)
            top.append((name, int(fields[1]) / 1000.0))
    torch = sorted({m for m in mods if m == "torch" or m.startswith("torch.")})
    top.sort(key=lambda x: -x[1])
    paint = next((ln for ln in proc.stdout.splitlines() if ln.startswith("first-paint")), None)
    return {
        "torch_before_paint": None if paint is None else paint.split()[-1] == "True",
        "torch_modules_by_exit": torch[:10],  # the model's background load starts at the first paint
        "n_modules": len(mods),
        "first_paint_line": paint,
        "slowest_top_level_imports_ms": [[n, round(ms, 1)] for n, ms in top[:10]],
        "exit_code": proc.returncode,
    }


def _cold_starts(cmd: list[str], repeats: int, settings_dir: Path, label: str) -> list[dict]:
    """``repeats`` runs of ``_one_cold_start``, each with a fresh settings file."""
    runs = []
    for i in range(repeats):
        log(f"{label} run {i + 1}/{repeats}")
        runs.append(_one_cold_start(cmd, settings_dir, i))
    return runs


def bench_cold_start(repeats: int) -> dict:
    cmd = [_venv_bin("ecgviewer"), "--quit-after-paint"]
    settings_dir = Path(tempfile.mkdtemp(prefix="ecgbench-settings-"))
    try:
        runs = _cold_starts(cmd, repeats, settings_dir, "[cold start]")
        log("[cold start] -X importtime check for torch")
        imports = _import_check(settings_dir)
    finally:
        shutil.rmtree(settings_dir, ignore_errors=True)
    walls = [r["wall_s"] for r in runs if r["wall_s"] is not None]
    return {
        "command": cmd,
        "runs": runs,
        "wall_s": summary(walls, 3) if walls else None,
        "app_reported_s": [r["app_reported_s"] for r in runs],
        "imports": imports,
    }


def _bundle_exe() -> Path | None:
    """The bundle's console executable (``ecgviewer``; ``ecgviewer-cli`` on Windows and macOS, whose
    ``ecgviewer`` is windowed and prints nothing), or None when no bundle was built."""
    info = BUNDLE / "_internal" / "build-info.json"
    if not info.is_file():
        return None
    name = json.loads(info.read_text(encoding="utf-8"))["executables"][-1]
    return BUNDLE / (name + (".exe" if sys.platform == "win32" else ""))


def bench_bundle(repeats: int) -> dict:
    """Size of dist/ecgviewer (its files' bytes, symbolic links not followed: ``du --apparent-size``)
    and its cold start, timed as ``bench_cold_start`` times the installed app's."""
    exe = _bundle_exe()
    if exe is None:
        return {"skipped": "no bundle in dist/ecgviewer (make package builds it)"}
    files = [p for p in BUNDLE.rglob("*") if p.is_file() and not p.is_symlink()]
    size = sum(p.stat().st_size for p in files)
    largest = sorted(files, key=lambda p: -p.stat().st_size)[:10]
    cmd = [str(exe), "--quit-after-paint"]
    settings_dir = Path(tempfile.mkdtemp(prefix="ecgbench-settings-"))
    try:
        runs = _cold_starts(cmd, repeats, settings_dir, "[bundle] cold start")
    finally:
        shutil.rmtree(settings_dir, ignore_errors=True)
    walls = [r["wall_s"] for r in runs if r["wall_s"] is not None]
    return {
        "size_mb": round(size / 1e6, 1),
        "size_mib": round(size / 2**20, 1),
        "files": len(files),
        "largest_mb": {str(p.relative_to(BUNDLE)): round(p.stat().st_size / 1e6, 1) for p in largest},
        "command": cmd,
        "runs": runs,
        "wall_s": summary(walls, 3) if walls else None,
        "app_reported_s": [r["app_reported_s"] for r in runs],
    }
