# The two commands: `make demo` and `make test`. Everything installs into .venv from
# requirements.lock (exact versions), then the package itself in editable mode.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
CORES ?= 2
STAMP := $(VENV)/.installed

.PHONY: demo test lint format report bench lock clean

$(STAMP): requirements.lock pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade "pip==26.3"
	$(BIN)/python -m pip install --quiet -r requirements.lock
	$(BIN)/python -m pip install --quiet --no-deps -e .
	# Bytecode for the editable package, as pip writes it for installed ones: where Python
	# may not write it itself (PYTHONDONTWRITEBYTECODE), every job would compile it again.
	$(BIN)/python -m compileall -q src
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/snakemake --cores $(CORES)

test: $(STAMP)
	$(BIN)/python -m pytest

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/snakefmt --check Snakefile workflow/Snakefile workflow/rules
	$(BIN)/snakemake --lint

format: $(STAMP)
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .
	$(BIN)/snakefmt Snakefile workflow/Snakefile workflow/rules

report: demo
	$(BIN)/snakemake --cores $(CORES) --report results/report.zip

bench: $(STAMP)
	$(BIN)/python benchmarks/run.py $(if $(FULL),--full)

# Re-resolve the pins from pyproject.toml's ranges (needs network to PyPI).
lock:
	rm -rf .lock-venv && $(PYTHON) -m venv .lock-venv
	.lock-venv/bin/pip install --quiet ".[dev]"
	{ head -3 requirements.lock; .lock-venv/bin/pip freeze --all --exclude-editable | grep -v '^contexture\|^pip=='; } > requirements.lock.new
	mv requirements.lock.new requirements.lock && rm -rf .lock-venv

clean:
	rm -rf results/*/ .snakemake
