# tproutine: `make demo` to try it, `make test` to check it.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: install demo test test-bluez lint typecheck pytest fuzz bench clean

install: $(STAMP)

# Re-installs only when the project's metadata changes, so repeated runs are quick.
$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

demo: install
	$(BIN)/tproutine demo

lint: install
	$(BIN)/ruff check tproutine tests bench tools
	$(BIN)/ruff format --check tproutine tests bench tools

typecheck: install
	$(BIN)/mypy

pytest: install
	$(BIN)/python -m pytest -q

test: lint typecheck pytest

# The device path on Linux's own Bluetooth stack (BlueZ), in a small VM built from
# Debian packages and cached under ~/.cache/tproutine/bluez-vm (tools/bluez-vm/run.py;
# needs root and qemu-system-x86; ARGS go to pytest in the VM, e.g. ARGS=tests/bluez/test_link.py,
# VMARGS to run.py, e.g. VMARGS="--accel kvm").
test-bluez:
	python3 tools/bluez-vm/run.py $(VMARGS) -- $(ARGS)

# The property tests with fresh examples (make test draws the same ones every run).
fuzz: install
	HYPOTHESIS_PROFILE=explore $(BIN)/python -m pytest -q $$(grep -rl --include='test_*.py' '^from hypothesis' tests)

bench: install
	$(BIN)/python -m bench

clean:
	rm -rf $(VENV) build dist .pytest_cache .mypy_cache .ruff_cache .hypothesis
	find . -name __pycache__ -type d -prune -exec rm -rf {} +
