# Build and test entry points. CI runs `bash .ci/run`, which runs `make test`.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.stamp

# Lint only the trees that exist (bench/ may not, on a young checkout).
LINT_PATHS := $(wildcard gloo_nb tests bench)

export PIP_DISABLE_PIP_VERSION_CHECK := 1

.PHONY: venv lint test demo bench clean

venv: $(STAMP)

# Recreated only when pyproject.toml or the C extension changes (the stamp is older than them) or the
# venv is missing.
$(STAMP): pyproject.toml setup.py gloo_nb/models/codec/_cyaml.c
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "gloo_nb needs Python >= 3.11; got " + sys.version.split()[0] + " from $(PYTHON) (set PYTHON=...)")'
	@test -x $(BIN)/python || { echo "creating $(VENV) with $(PYTHON)"; $(PYTHON) -m venv $(VENV); }
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	@touch $@

lint: $(STAMP)
	$(BIN)/ruff check $(LINT_PATHS)
	$(BIN)/mypy gloo_nb
	$(BIN)/lint-imports

# System packages first: the venv's install compiles the C YAML loader with them.
test:
	bash scripts/system-deps.sh $(PYTHON)
	$(MAKE) --no-print-directory venv lint
	$(BIN)/pytest

demo: $(STAMP)
	$(BIN)/python -m gloo_nb.demo

bench: $(STAMP)
	$(BIN)/python bench/translate.py
	$(BIN)/python bench/sandbox.py
	$(BIN)/python bench/inspect_gateway.py
	$(BIN)/python bench/widgets.py
	$(BIN)/python bench/rollout.py
	$(BIN)/python bench/journal.py
	$(BIN)/python bench/access_log.py

clean:
	rm -rf $(VENV) build dist *.egg-info .mypy_cache .ruff_cache .pytest_cache .import_linter_cache
	find . -name __pycache__ -type d -prune -not -path './.git/*' -exec rm -rf {} +
