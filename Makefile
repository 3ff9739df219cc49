# Two commands do all set-up on a fresh machine with Python 3.11:
#   make run    create .venv, install ConvCanvas, launch the app
#   make test   create .venv, install ConvCanvas with test extras, lint, run every test
# TORCH_INDEX_URL=... installs torch from that index first (e.g. PyTorch's CPU-only wheels).
PYTHON ?= python3.11
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: run test lint bench clean

$(STAMP): pyproject.toml
	@command -v $(PYTHON) >/dev/null 2>&1 || { echo "Python 3.11 is needed (set PYTHON=...)"; exit 1; }
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(if $(TORCH_INDEX_URL),$(PY) -m pip install --quiet 'torch>=2.2,<2.14' --index-url $(TORCH_INDEX_URL))
	$(PY) -m pip install --quiet -e '.[test]'
	touch $(STAMP)

run: $(STAMP)
	$(PY) main.py $(ARGS)

test: $(STAMP) lint
	QT_QPA_PLATFORM=offscreen $(PY) -m pytest $(PYTEST_ARGS)

lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/lint-imports

bench: $(STAMP)
	$(PY) -m pip install --quiet -e '.[test,bench]'
	QT_QPA_PLATFORM=offscreen $(PY) -m bench $(ARGS)

clean:
	rm -rf $(VENV)
