# Two commands do all set-up on a fresh machine with Python 3.11:
#   make run    create .venv, install ConvCanvas (no test tools), launch the app
#   make test   create .venv, install ConvCanvas with test extras, lint, run every test
# TORCH_INDEX_URL=... installs torch from that index first (e.g. PyTorch's CPU-only wheels).
PYTHON ?= python3.11
VENV ?= .venv
PY := $(VENV)/bin/python
# .installed-app: ConvCanvas alone (make run); .installed: with the test extras (make test).
APP_STAMP := $(VENV)/.installed-app
STAMP := $(VENV)/.installed
# The same range as pyproject.toml (a comma inside $(if ...) would split its arguments).
TORCH_SPEC := torch>=2.2,<2.14

.PHONY: run test lint interop bench clean

$(APP_STAMP): pyproject.toml
	@command -v $(PYTHON) >/dev/null 2>&1 || { echo "Python 3.11 is needed (set PYTHON=...)"; exit 1; }
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(if $(TORCH_INDEX_URL),$(PY) -m pip install --quiet '$(TORCH_SPEC)' --index-url $(TORCH_INDEX_URL))
	$(PY) -m pip install --quiet -e .
	touch $(APP_STAMP)

$(STAMP): $(APP_STAMP)
	$(PY) -m pip install --quiet -e '.[test]'
	touch $(STAMP)

run: $(APP_STAMP)
	$(PY) main.py $(ARGS)

test: $(STAMP) lint interop
	QT_QPA_PLATFORM=offscreen $(PY) -m pytest $(PYTEST_ARGS)

# PyTorch import against real torchvision, in a second environment (torch==2.14.1,
# torchvision==0.29.1) built once per machine in the user's cache directory, keyed by
# tests/interop/requirements.txt. A failed build fails the target: never a silent skip.
interop:
	@env="$$(PYTHON=$(PYTHON) bash tests/interop/build_env.sh)" && \
	PYTHONPATH=$(CURDIR) "$$env/bin/python" -m pytest -c tests/interop/pytest.ini \
		--rootdir tests/interop tests/interop -q

lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/lint-imports

bench: $(STAMP)
	$(PY) -m pip install --quiet -e '.[test,bench]'
	QT_QPA_PLATFORM=offscreen $(PY) -m bench $(ARGS)

clean:
	rm -rf $(VENV)
