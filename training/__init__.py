"""Reproduces the pretraining and produces the bundled model.

Imports the model and the preprocessing from ``ecgviewer``; the app never imports this package.
The packages by job: ``data`` (datasets, packs, the fold-10 ledger), ``pretrain`` (the four
self-supervised objectives), ``supervised`` (fine-tuning, baselines, export and the choices),
``validate`` (the validation suites) and ``reports`` (every generated report, and RESULTS.md's
writer). The paths every command defaults to are here, once.
"""

from pathlib import Path

TRAINING = Path(__file__).resolve().parent
REPO = TRAINING.parent
REPORTS = (
    TRAINING / "reports"
)  # every generated report and figure (reports/README.md: which command writes which)
RUN_LOGS = TRAINING / "run-logs"  # what the reports read, kept in the repository (``data/keep.py``)
RUNS = REPO / "runs"  # run folders: checkpoints, caches, weights (not kept)
SHARED_DATA = REPO.parent / "shared" / "data"  # beside the repository in every checkout and in CI
