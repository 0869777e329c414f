# Two commands do all the set-up on a fresh machine (see README):
#   make demo   - a real fine-tuning run of all-MiniLM-L6-v2 on the built-in demo set
#   make test   - the test suite (python -m pytest)
# Both create .venv on first use: the CPU build of torch first, then skgloss
# with its test and offline extras.

PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python

.PHONY: demo test bench-step bench-mr clean

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q torch==2.13.0
	$(PY) -m pip install -q -e '.[test,offline]'
	touch $@

demo: $(VENV)/.installed
	$(PY) -m skgloss demo

test: $(VENV)/.installed
	$(PY) -m pytest -q

bench-step: $(VENV)/.installed
	$(PY) benchmarks/step_time.py

bench-mr: $(VENV)/.installed
	$(PY) benchmarks/mr_short_fit.py

clean:
	rm -rf $(VENV) *.egg-info
