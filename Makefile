# Two entry points: `make demo` and `make test`. Each bootstraps .venv from nothing.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
# Use the machine's local wheel folder when there is one (the CPU build of torch lives there).
PIP_FIND := $(if $(wildcard /opt/wheels),--find-links /opt/wheels,)
PIP := $(PY) -m pip install --quiet $(PIP_FIND)

.PHONY: demo test venv clean

$(VENV)/.base: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PIP) -e .
	touch $@

# Tests also cover the training code, so they install the `train` extra (torch==2.13.0, CPU build here).
$(VENV)/.test: $(VENV)/.base
	$(PIP) -e '.[test,train]'
	touch $@

venv: $(VENV)/.base

demo: $(VENV)/.base
	$(VENV)/bin/vidtrace demo --out demo-out

test: $(VENV)/.test
	$(PY) -m pytest -q -ra

clean:
	rm -rf $(VENV) demo-out
