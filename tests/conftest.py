"""Shared fixtures. Qt runs offscreen; settings go to a throwaway file, never the user's."""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from tests.helpers import AI_TIMEOUT_MS, shown_window

REPO = Path(__file__).resolve().parents[1]
# Qt's offscreen platform with a workstation's 1920x1080 screen, not its own 800x800, so the window
# opens at its default size as on a clinician's desk (``gui.placement``); tests of other screens
# give their child processes their own (tests/gui/test_placement.py)
if os.environ.get("QT_QPA_PLATFORM", "offscreen") == "offscreen":
    os.environ["QT_QPA_PLATFORM"] = f"offscreen:configfile={REPO / 'tests' / 'screen-1920x1080.json'}"
# the report writers' intervals from 200 bootstrap draws, not 1000 (``training.validate.metrics.N_BOOT``,
# read when it is imported): the same code, a fifth of the time, in this process and its children.
# Set here, before any test module imports it: a module's fixtures run before a test's monkeypatch
# (``test_protocol``'s grids drew 1000 while their tests asked for 200)
os.environ.setdefault("TRAINING_BOOTSTRAP_DRAWS", "200")
SHARED = Path(os.environ.get("ECGVIEWER_SHARED_DATA", REPO.parent / "shared" / "data"))
SAMPLE = REPO / "resources/samples/ptbxl/records500/00000/00003_hr.hea"


@pytest.hookimpl(wrapper=True)
def pytest_runtest_protocol(item: pytest.Item, nextitem: pytest.Item | None) -> Iterator[object]:
    """After a test with Qt widgets, once pytest has dropped its fixtures: its windows' garbage is
    collected here, outside any Qt call (``workers.collect_anywhere``), not by an automatic
    collection inside a later test's Qt call, where a destroyed widget can deadlock."""
    result = yield
    if "qtbot" in getattr(item, "fixturenames", ()):
        from ecgviewer.gui import workers

        workers.collect_anywhere()
    return result


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Tests marked ``long`` run first: under two processes (``make test``) a long test that
    starts last keeps one core busy alone after the other has finished."""
    items.sort(key=lambda item: item.get_closest_marker("long") is None)  # stable: order kept


@pytest.fixture(autouse=True, scope="session")
def _isolated_settings(tmp_path_factory: pytest.TempPathFactory) -> None:
    os.environ["ECGVIEWER_SETTINGS"] = str(tmp_path_factory.mktemp("settings") / "ecgviewer.ini")


@pytest.fixture(autouse=True, scope="session")
def _isolated_ledger(tmp_path_factory: pytest.TempPathFactory) -> None:
    """Fold-10 reads by tests go to a throwaway ledger, never ``training/FOLD10.md``."""
    os.environ["TRAINING_LEDGER"] = str(tmp_path_factory.mktemp("ledger") / "FOLD10.md")


@pytest.fixture(scope="session")
def shared() -> Path:
    """``../shared/data`` (real PTB-XL, LUDB and vendor files); skips when absent."""
    if not (SHARED / "README.md").is_file():
        pytest.skip(f"shared data not found at {SHARED} (set ECGVIEWER_SHARED_DATA)")
    return SHARED


def training_env(**extra: str) -> dict[str, str]:
    """One thread (on a small machine torch's default thread count oversubscribes the cores and
    makes the tiny preset several times slower); 200 bootstrap draws come with ``os.environ``."""
    return {**os.environ, "OMP_NUM_THREADS": "1", **extra}


def training_cli(
    *args: str | Path, timeout: int = 600, nice: int = 0, **env: str
) -> subprocess.CompletedProcess:
    """``python -m training ...`` in the repository (``nice``: its niceness, higher yields the
    cores); fails the test with its output on error."""
    cmd = [sys.executable, "-m", "training", *map(str, args)]
    res = subprocess.run(
        cmd, cwd=REPO, env=training_env(**env), capture_output=True, text=True, timeout=timeout,
        preexec_fn=(lambda: os.nice(nice)) if nice else None,
    )  # fmt: skip
    tail = f"{res.stdout[-3000:]}\n{res.stderr[-5000:]}"
    assert res.returncode == 0, f"{' '.join(cmd)} -> {res.returncode}\n{tail}"
    return res


def training_main(*args: str | Path) -> str:
    """``python -m training ...`` run in this process, as the command line runs it
    (``training.__main__.main`` with the arguments, ``sys.argv`` as the child's, which the cards
    record, in the repository, torch at one thread as ``training_env`` gives a child): its stdout,
    also written to this test's (shown when it fails). A child process spent 3-5 s of CPU starting
    (torch, torch._dynamo on its first optimiser, scikit-learn), which this process has done once.
    Errors are raised as they are, not turned into an exit status: the command line's own behaviour
    is the child processes' to test (``training_cli``; the tiny seed, DDP)."""
    import io

    import torch

    from training.__main__ import main

    argv, threads, out = list(map(str, args)), torch.get_num_threads(), io.StringIO()
    before = sys.argv
    sys.argv = [str(REPO / "training" / "__main__.py"), *argv]
    torch.set_num_threads(1)
    try:
        with contextlib.chdir(REPO), contextlib.redirect_stdout(out):
            main(argv)
    finally:
        sys.argv = before
        torch.set_num_threads(threads)
        sys.stdout.write(out.getvalue())
    return out.getvalue()


def _tiny_seed_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    base = tmp_path_factory.getbasetemp()
    return (base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base) / "tiny-seed"


def _make_tiny_seed(seed: Path, shared: Path, nice: int = 0) -> None:
    """``python -m training run --preset tiny`` into ``seed`` unless a process made it already (the
    others wait on its lock, as pytest-xdist's documentation shows); a failure is kept for them."""
    from filelock import FileLock

    with FileLock(f"{seed}.lock"):
        failed = seed.with_name("tiny-seed-failed.txt")
        if failed.is_file():
            pytest.fail(f"the tiny run failed earlier: {failed.read_text()}")
        if not (seed / "stdout.txt").is_file():
            shutil.rmtree(seed, ignore_errors=True)
            seed.mkdir()
            args = ["--run-dir", seed / "run", "--cache-dir", seed / "cache", "--out", seed / "model"]
            ledger = str(seed / "FOLD10.md")
            try:
                res = training_cli("run", "--preset", "tiny", "--data-root", shared, *args, "--no-progress",
                                   nice=nice, TRAINING_LEDGER=ledger)  # fmt: skip
            except AssertionError as exc:
                failed.write_text(str(exc))
                raise
            (seed / "stdout.txt").write_text(res.stdout)


def _physio_features(seed: Path, shared: Path, nice: int) -> None:
    """PhysioCLR's neurokit2 features of the tiny preset's records (15-20 s) computed into the seed's
    token cache (a throwaway pretraining run beside it), once a session, after the seed is made:
    the PhysioCLR smoke runs, which pretrain on them without LUDB's (an empty ``--unlabelled``),
    find them in their copy of the cache when it was taken after (else they compute them)."""
    from filelock import FileLock

    done, run = seed.with_name("tiny-physio-done"), seed.with_name("tiny-physio-run")
    with FileLock(f"{done}.lock"):
        if done.is_file() or not (seed / "stdout.txt").is_file():
            return
        shutil.rmtree(run, ignore_errors=True)
        shutil.copytree(seed / "cache", run / "cache")  # no file of the seed's own appears half-written
        (run / "none").mkdir()
        training_cli("pretrain", "--method", "physioclr", "--preset", "tiny", "--data-root", shared,
                     "--run-dir", run / "run", "--cache-dir", run / "cache", "--unlabelled", run / "none",
                     "--no-progress", nice=nice, TRAINING_LEDGER=str(run / "FOLD10.md"))  # fmt: skip
        for features in (run / "cache").rglob("physio-features-*.npy"):
            features.replace(seed / "cache" / features.relative_to(run / "cache"))
        done.touch()


@pytest.fixture(autouse=True, scope="session")
def _tiny_seed_early(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[None]:
    """The tiny run started at the session's start, beside the first tests, where a collected test
    needs it: made when the first such test asked, the other test process waited for it idle (43 s
    of ``test_protocol``'s setup in session 110's CI, about 20 s of it waiting). Niced, it takes
    the cores the tests leave (beside it, the first, long test took 33 s instead of 18-26)."""
    needed = any("tiny_seed" in item.fixturenames for item in request.session.items)
    if not needed or not (SHARED / "README.md").is_file():
        yield
        return
    seed = _tiny_seed_path(tmp_path_factory)

    def make() -> None:
        with contextlib.suppress(BaseException):  # kept in tiny-seed-failed.txt: the fixture fails
            _make_tiny_seed(seed, SHARED, nice=10)
        with contextlib.suppress(BaseException):  # without them, the smoke runs compute their own
            _physio_features(seed, SHARED, nice=10)

    thread = threading.Thread(target=make, name="tiny-seed", daemon=True)
    thread.start()
    yield
    thread.join()


@pytest.fixture(scope="session")
def tiny_seed(shared: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The tiny run, once a session (``_make_tiny_seed``): its run, token cache and model, its
    fold-10 reads (``FOLD10.md``) and output (``stdout.txt``, written last). Modules start from
    copies (tests/training): made per module, it was made again on each process, and again whenever
    the long tests' order brought a process back to the module."""
    seed = _tiny_seed_path(tmp_path_factory)
    _make_tiny_seed(seed, shared)
    return seed


@pytest.fixture(autouse=True)
def private_library(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Each test's own library (over-reads, indexes): never the user's."""
    path = tmp_path / "library" / "library.sqlite"
    monkeypatch.setenv("ECGVIEWER_LIBRARY", str(path))
    return path


@pytest.fixture
def sample() -> Path:
    return SAMPLE


@pytest.fixture
def settings(tmp_path: Path):
    from PySide6 import QtCore

    from ecgviewer.gui.settings import Settings

    s = Settings(QtCore.QSettings(str(tmp_path / "s.ini"), QtCore.QSettings.Format.IniFormat))
    s.set_value("ai/enabled", "false")  # the viewer's own tests; tests/gui/test_gui_ai.py turns it on
    s.set_value("measure/enabled", "false")  # likewise; tests/gui/test_gui_measure.py turns it on
    return s


@pytest.fixture
def one_torch_thread() -> Iterator[None]:
    """A training job shares the CPU: one thread keeps tiny models fast and polite, and the
    setting is restored so later tests keep their timing."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


# -- windows and recordings the GUI and report tests share ------------------------------------
@pytest.fixture
def window(qtbot, settings):
    from PySide6 import QtWidgets

    w = shown_window(qtbot, settings)
    yield w
    w.cancel_tasks()
    for box in w.findChildren(QtWidgets.QMessageBox):  # a window-modal box left open (Save as's
        box.done(0)  # notes) is the application's active modal widget for the next test in this process


@pytest.fixture
def long_record(tmp_path: Path) -> Path:
    """Two minutes of 12-lead ECG at 500 Hz (the sample repeated), written with wfdb."""
    import wfdb

    from ecgviewer.io import load

    src = load(REPO / "resources/samples/ptbxl/records500/00000/00003_hr.hea")
    data = np.tile(src.signals, 12).T.astype(np.float64)
    wfdb.wrsamp(
        "long",
        fs=500,
        units=["mV"] * 12,
        sig_name=list(src.leads),
        p_signal=data,
        fmt=["16"] * 12,
        adc_gain=[1000.0] * 12,
        baseline=[0] * 12,
        write_dir=str(tmp_path),
    )
    return tmp_path / "long.hea"


@pytest.fixture
def ai_window(qtbot, tmp_path: Path):
    """A window with the AI on (the default for a new user) and its model loaded."""
    from PySide6 import QtCore

    from ecgviewer.gui.settings import Settings

    settings = Settings(QtCore.QSettings(str(tmp_path / "ai.ini"), QtCore.QSettings.Format.IniFormat))
    w = shown_window(qtbot, settings, 1500, 950)
    assert w.ai_action.isChecked() and w.ai_dock.isVisible()
    if w.ai.analyzer is None:
        with qtbot.waitSignal(w.ai.modelReady, timeout=AI_TIMEOUT_MS):
            w.ai.load_model()
    yield w
    w.cancel_tasks()


@pytest.fixture(scope="module")
def sample_measured():
    """The bundled PTB-XL sample and its measurements, made once for the widget tests."""
    from ecgviewer.io import load
    from ecgviewer.measure.delineate import Delineator
    from ecgviewer.measure.pipeline import measure_recording

    rec = load(SAMPLE)
    return rec, measure_recording(rec, Delineator.bundled())


@pytest.fixture
def measure_window(qtbot, settings):
    settings.set_value("measure/enabled", "true")
    w = shown_window(qtbot, settings)
    assert w.measure_action.isChecked() and w.measure_dock.isVisible()
    yield w
    w.cancel_tasks()
