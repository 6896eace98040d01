# Set-up paths for a fresh machine. torch==2.13.0 is installed before the project so that pip does not pull the
# CUDA build of torch on CPU-only machines.
VENV ?= .venv
PY := $(VENV)/bin/python

$(VENV)/.installed: pyproject.toml
	python3 -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet torch==2.13.0
	$(PY) -m pip install --quiet -e ".[dev]"
	touch $@

.PHONY: install test demo bench
install: $(VENV)/.installed

# pytest exits 5 when it collects no test: treat that as a failure of the suite, with a message.
test: $(VENV)/.installed
	$(PY) -m pytest -q; rc=$$?; \
	if [ $$rc -eq 5 ]; then echo "pytest collected no tests"; exit 1; fi; exit $$rc

demo: $(VENV)/.installed
	$(PY) scripts/demo.py

bench: $(VENV)/.installed
	$(PY) scripts/benchmark.py
