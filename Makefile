# Two commands on a fresh machine: `make test` and `make preview [STACK=prod]`.
# Both create ./venv on first use and reinstall only when a requirements file changes.

PYTHON ?= python3
VENV   := venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed
STACK  ?= dev
# `make preview` is a dry run, as `pulumi preview` is: the shipped prod template previews with
# a warning per placeholder. DRY_RUN=false records a real update instead (a template with
# placeholders refuses it). Extra flags, e.g. PREVIEW_ARGS="--json out/preview.json" (CI), or
# PREVIEW_ARGS="--overlay tests/stacks/prod.operator.yaml" for the operator-completed prod.
PREVIEW_ARGS ?=
DRY_RUN ?= true
REQS   := requirements.txt requirements-dev.txt policies/requirements.txt app/requirements.txt

.PHONY: test typecheck preview preview-watch lint schema bench clean

$(PY):
	$(PYTHON) -m venv $(VENV)

$(STAMP): $(PY) $(REQS)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements-dev.txt
	touch $(STAMP)

# Lint and format check, then static types (pyrightconfig.json; tests/typecheck proves a wrong
# pulumi_aws argument type fails it), then the suite.
test: $(STAMP)
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .
	$(PY) -m basedpyright
	$(PY) -m pytest -n auto --dist loadfile --durations=10

preview: $(STAMP)
	$(PY) -m offline preview --stack $(STACK) $(if $(filter true,$(DRY_RUN)),--preview,) $(PREVIEW_ARGS)

# The edit loop: a warm process re-runs the preview on every change and prints what changed.
preview-watch: $(STAMP)
	$(PY) -m offline preview --stack $(STACK) --watch $(PREVIEW_ARGS)

lint: $(STAMP)
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .

typecheck: $(STAMP)
	$(PY) -m basedpyright

# Regenerate what is generated from the settings package: the stack-file schema and the README's
# config reference (tests fail while either is stale).
schema: $(STAMP)
	$(PY) -m settings schema > schema/pulumi-stack.schema.json
	$(PY) -m settings readme

# Scaling simulation of a stack's settings (docs/scaling-simulation.md); ARGS adds flags.
bench: $(STAMP)
	$(PY) -m bench.scaling_sim --stack $(STACK) $(ARGS)

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache
