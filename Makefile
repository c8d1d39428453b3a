# From nothing: `make run` opens the viewer on the bundled sample; `make test` runs every test.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed-stamp

.PHONY: install run test bench train lint format clean fuzz

install: $(STAMP)

$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet -e '.[test]'
	touch $(STAMP)

run: $(STAMP)
	$(VENV)/bin/ecgviewer

test: $(STAMP)
	QT_QPA_PLATFORM=offscreen $(PY) -m pytest

train: $(STAMP)
	$(PY) -m training run --preset bundled

# A longer fuzzing campaign over every reader's samples: tests/FUZZING.md, failing inputs in build/.
fuzz: $(STAMP)
	mkdir -p build
	$(PY) tests/fuzz_readers.py --seconds-per-reader 120 --json build/fuzz.json --report tests/FUZZING.md --save build/fuzz-failures

bench: $(STAMP)
	QT_QPA_PLATFORM=offscreen $(PY) benchmarks/run.py

lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

format: $(STAMP)
	$(VENV)/bin/ruff check --fix .
	$(VENV)/bin/ruff format .

clean:
	rm -rf $(VENV) build dist .pytest_cache benchmarks/.cache
