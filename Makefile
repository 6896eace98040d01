# Set-up paths for a fresh machine. torch==2.13.0 is installed before the project so that pip does not pull the
# CUDA build of torch on CPU-only machines. Every environment installs the project against a constraints file:
#   constraints/lock.txt    the exact versions the whole suite passed with (what `make demo` / `make test` install)
#   constraints/lowest.txt  the lowest versions pyproject.toml declares (transformers 5.4, ...): the model,
#                           generation, save/load and tokenizer tests run there too, and folders cross between the two
# `make test-latest` installs the newest releases the declared ranges allow, so a breaking release shows the day it
# appears; `make lock` then adopts what passed there as the new lock.
VENV ?= .venv
PY := $(VENV)/bin/python
LOWEST := .venv-lowest
LATEST := .venv-latest
INTEGRATIONS := .venv-integrations
TORCH := torch==2.13.0
COMMA := ,
# The tests that must pass on every release of the declared range (the full suite runs on the lock).
RANGE_TESTS := tests/test_modeling.py tests/test_generation.py tests/test_save_load.py tests/test_compatibility.py \
	tests/test_cross_version.py tests/test_convert.py tests/test_tokenization.py

# $(call venv,DIR,PIP_ARGUMENTS,EXTRAS): a fresh environment with torch first, then the project and its test tools.
define venv
	rm -rf $(1)
	python3 -m venv $(1)
	$(1)/bin/python -m pip install --quiet --upgrade pip
	$(1)/bin/python -m pip install --quiet $(TORCH)
	$(1)/bin/python -m pip install --quiet $(2) -e ".[$(3)]"
endef

# pytest exits 5 when it collects no test: treat that as a failure of the suite, with a message.
define pytest
	$(1) -m pytest -q $(2); rc=$$?; \
	if [ $$rc -eq 5 ]; then echo "pytest collected no tests"; exit 1; fi; exit $$rc
endef

# The default environment carries no optional integration: transformers imports torchao / bitsandbytes when they are
# installed, and they print load failures and deprecation warnings in every run of a CPU machine.
$(VENV)/.installed: pyproject.toml constraints/lock.txt
	$(call venv,$(VENV),-c constraints/lock.txt,dev)
	touch $@

# PEFT, TRL, quantisation and `transformers serve`, at the lock's versions: tests/test_ecosystem.py runs there.
$(INTEGRATIONS)/.installed: pyproject.toml constraints/lock.txt
	$(call venv,$(INTEGRATIONS),-c constraints/lock.txt,dev$(COMMA)integrations)
	touch $@

$(LOWEST)/.installed: pyproject.toml constraints/lowest.txt
	$(call venv,$(LOWEST),-c constraints/lowest.txt,dev)
	touch $@

.PHONY: install lint test test-lock test-range test-integrations test-lowest test-latest test-transformers lock demo bench
install: $(VENV)/.installed

# What CI runs: the linter, the whole suite on the lock, the range tests on the lowest declared versions (with folders
# saved under one and loaded under the other), and the integrations' tests in their own environment.
test: lint test-lock test-range test-integrations

# ruff's checks as pyproject.toml configures them (120 columns, pyflakes, import order), and its formatting.
lint: $(VENV)/.installed
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .

test-lock: $(VENV)/.installed
	$(call pytest,$(PY),)

test-range: $(VENV)/.installed $(LOWEST)/.installed
	$(call pytest,GPT_HF_OTHER_PYTHON=$(CURDIR)/$(PY) $(LOWEST)/bin/python,$(RANGE_TESTS))

test-integrations: $(INTEGRATIONS)/.installed
	$(call pytest,$(INTEGRATIONS)/bin/python,tests/test_ecosystem.py)

# The whole suite on the lowest declared versions (by hand, when a floor moves).
test-lowest: $(LOWEST)/.installed
	$(call pytest,$(LOWEST)/bin/python,)

# The newest releases the declared ranges allow, not the lock: run it to see a new release's effect.
# As `make test` does, the suite runs without the optional integrations and their tests in an environment with them.
test-latest: $(LOWEST)/.installed
	$(call venv,$(LATEST),--upgrade --upgrade-strategy eager,dev)
	$(LATEST)/bin/python -m pip list --format=freeze | grep -iE '^(transformers|tokenizers|datasets|accelerate|huggingface.hub|torch)=='
	$(call pytest,GPT_HF_OTHER_PYTHON=$(CURDIR)/$(LOWEST)/bin/python $(LATEST)/bin/python,)
	$(call venv,$(LATEST)-integrations,--upgrade --upgrade-strategy eager,dev$(COMMA)integrations)
	$(call pytest,$(LATEST)-integrations/bin/python,tests/test_ecosystem.py)

# transformers' own ModelTesterMixin (from its source distribution) on gpt_hf and GPT-2, on the lock and the lowest
# versions: results.md in each output folder lists the tests whose outcome differs (docs/compatibility.md explains).
test-transformers: $(VENV)/.installed $(LOWEST)/.installed
	$(PY) tests/transformers_suite/run.py --output_dir outputs/transformers_suite/lock
	$(LOWEST)/bin/python tests/transformers_suite/run.py --output_dir outputs/transformers_suite/lowest

# Adopt the environments test-latest built (after they passed) as the new lock: the integrations one holds both.
lock:
	$(LATEST)-integrations/bin/python -m pip freeze --exclude-editable | sed 's/^torch==\([0-9.]*\)+cpu$$/torch==\1/' > constraints/lock.txt

demo: $(VENV)/.installed
	$(PY) scripts/demo.py

bench: $(VENV)/.installed
	$(PY) scripts/benchmark.py
