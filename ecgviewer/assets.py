"""Where the bundled files (samples, icons, models) are: wheel, source checkout or frozen app."""

from __future__ import annotations

import os
import sys
from pathlib import Path

SAMPLE = "samples/ptbxl/records500/00000/00003_hr.hea"
ICON = "icons/ecgviewer.svg"
MODEL = "models/clear-hug-bundled.safetensors"
DELINEATOR = "models/delineator-ludb.safetensors"
SECOND_OPINION = "models/delineator-ludb-motion.safetensors"
# the beat list's: a half-width student of DELINEATOR (a quarter of its multiply-adds: a 24 h 3-lead
# list on 2 cores held to AVX2 in 20 s, 32 s with DELINEATOR), shipped once EC57 paired with
# DELINEATOR's list found it no worse (training/reports/EC57-student-ambiguous-seeds.md); the 10 s
# measurements and the record head keep DELINEATOR
BEAT_DELINEATOR = "models/delineator-ludb-beats.safetensors"
BEAT_CLASSIFIER = "models/beats-mitdb.safetensors"
RECORD_HEAD = "models/record-ptbxl.safetensors"
FLUTTER_DETECTOR = "models/flutter-vfdb.json"
STATEMENTS = "samples/ptbxl"  # PTB-XL's scp_statements.csv, unmodified


def resources_dir() -> Path:
    """``resources/``: inside the package when installed or frozen, else the repository's."""
    here = Path(__file__).resolve().parent
    candidates = [here / "resources", here.parent / "resources"]
    frozen = getattr(sys, "_MEIPASS", None)
    if frozen:
        candidates.insert(0, Path(frozen) / "ecgviewer" / "resources")
    for c in candidates:
        if (c / SAMPLE).is_file():
            return c
    raise FileNotFoundError("ecgviewer's resources/ folder is missing from this installation")


def sample_path() -> Path:
    """The bundled sample recording (PTB-XL ecg_id 3, 500 Hz; CC BY 4.0)."""
    return resources_dir() / SAMPLE


def icon_path() -> Path:
    return resources_dir() / ICON


def model_path() -> Path:
    """The bundled encoder's weights (its model card sits beside them)."""
    return resources_dir() / MODEL


def user_data_dir() -> Path:
    """The platform's per-user app data folder for ecgviewer; not created here.

    The three platforms' conventions are written out here: ``platformdirs`` is not a dependency."""
    home = Path.home()
    if sys.platform == "win32":
        base = Path(os.environ.get("APPDATA") or home / "AppData" / "Roaming")
    elif sys.platform == "darwin":
        base = home / "Library" / "Application Support"
    else:
        base = Path(os.environ.get("XDG_DATA_HOME") or home / ".local" / "share")
    return base / "ecgviewer"


def user_models_dir() -> Path:
    """Where the user's own classifiers live (``ECGVIEWER_MODELS``, else the per-user app data
    folder); not created here: reading the list must not write to the disk."""
    override = os.environ.get("ECGVIEWER_MODELS")
    if override:
        return Path(override).expanduser()
    return user_data_dir() / "models"


def delineator_path() -> Path:
    """The bundled P/QRS/T delineator (trained on LUDB; its card sits beside it)."""
    return resources_dir() / DELINEATOR


def beat_delineator_path() -> Path:
    """The delineator the beat list reads every page with (its card beside it): one place to
    change it, and every beat list (window, report, CLI, measurements, record head) follows."""
    return resources_dir() / BEAT_DELINEATOR


def second_opinion_path() -> Path:
    """The delineator taught electrode motion, the beat list's second opinion on doubtful beats
    (``measure.confirm``; its card sits beside it)."""
    return resources_dir() / SECOND_OPINION


def beat_classifier_path() -> Path:
    """The beat list's classifier (fitted on MIT-BIH DS1; its card sits beside it)."""
    return resources_dir() / BEAT_CLASSIFIER


def record_head_path() -> Path:
    """The record head over the beat list's features (fitted on PTB-XL; its card sits beside it)."""
    return resources_dir() / RECORD_HEAD


def flutter_detector_path() -> Path:
    """The beat list's flutter and fibrillation detector (fitted on vfdb; its card beside it)."""
    return resources_dir() / FLUTTER_DETECTOR


def statements_dir() -> Path:
    """The folder holding PTB-XL's SCP-ECG statement table, which names and groups the model's
    classes (it ships with the PTB-XL samples)."""
    return resources_dir() / STATEMENTS
