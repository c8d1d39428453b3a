# From nothing: `make run` opens the viewer on the bundled sample; `make test` runs every test.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed-stamp

.PHONY: install run test bench train lint format clean fuzz package screenshots review

install: $(STAMP)

$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet -e '.[test]'
	touch $(STAMP)

run: $(STAMP)
	$(VENV)/bin/ecgviewer

# Two test processes (pytest-xdist) share the cores, each torch at one thread; the 15 slowest
# tests are listed at the end, so that a slow one is seen. Bytecode is written even where the
# environment says not to (PYTHONDONTWRITEBYTECODE): without it each test process and each of the
# tests' child processes compiled the sources again (collection alone 19 s a process instead of 9).
test: $(STAMP)
	PYTHONDONTWRITEBYTECODE= QT_QPA_PLATFORM=offscreen OMP_NUM_THREADS=1 $(PY) -m pytest -n 2 --dist worksteal --durations=15

# The shipped model's recipe (training/README.md); it replaces the bundled one only after
# `python -m training choose` says so on fold 9.
train: $(STAMP)
	$(PY) -m training run --preset release-cpu --cpu-bf16 --frozen

# A longer fuzzing campaign over every reader's samples: tests/FUZZING.md, failing inputs in build/.
fuzz: $(STAMP)
	mkdir -p build
	$(PY) tests/fuzz_readers.py --seconds-per-reader 120 --json build/fuzz.json --report tests/FUZZING.md --save build/fuzz-failures

# The one-folder app in dist/ecgviewer/ (PyInstaller, packaging/ecgviewer.spec; packaging/README.md),
# then the bundle's own headless check. Its console executable is ecgviewer-cli on macOS.
BUNDLE_CLI := dist/ecgviewer/$(if $(filter Darwin,$(shell uname -s)),ecgviewer-cli,ecgviewer)
package: $(STAMP)
	$(PY) -m pip install --quiet -e '.[package]'
	$(VENV)/bin/pyinstaller --noconfirm --clean --distpath dist --workpath build/pyinstaller packaging/ecgviewer.spec
	QT_QPA_PLATFORM=offscreen $(BUNDLE_CLI) self-test

# PNGs of the main window states at 1366x768 and 1920x1080, device pixel ratio 1 and 2, and a
# report page (tests/screenshots.py): look at them before a screen change is called done.
screenshots: $(STAMP)
	QT_QPA_PLATFORM=offscreen $(PY) tests/screenshots.py --out build/screenshots

# The clinical case review (tests/review.py): about 24 real recordings from ../shared/data, each opened
# one after another in one window at 1366x768 and 1920x1080, with its report pages and analysis JSON,
# in build/review/index.html (about 10 min on 2 shared cores): look at it before a release.
review: $(STAMP)
	QT_QPA_PLATFORM=offscreen $(PY) -m tests.review --out build/review

bench: $(STAMP)
	QT_QPA_PLATFORM=offscreen $(PY) benchmarks/run.py

lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(PY) -m mypy

format: $(STAMP)
	$(VENV)/bin/ruff check --fix .
	$(VENV)/bin/ruff format .

clean:
	rm -rf $(VENV) build dist .pytest_cache benchmarks/.cache
