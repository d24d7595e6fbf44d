# Two entry points: `make demo` and `make test`. Each bootstraps .venv from nothing.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: demo test venv clean bench

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[test]'
	touch $(STAMP)

venv: $(STAMP)

demo: $(STAMP)
	$(VENV)/bin/vidtrace demo --out demo-out

test: $(STAMP)
	$(PY) -m pytest -q -ra

clean:
	rm -rf $(VENV) demo-out
