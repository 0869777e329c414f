# Two commands do all the set-up on a fresh machine (see README):
#   make demo   - a real fine-tuning run of all-MiniLM-L6-v2 on the built-in demo set
#   make test   - the test suite (python -m pytest)
# Both create .venv on first use: torch first, then skgloss with its test,
# offline, docs and distributed extras. TORCH_PIP_ARGS is passed to the torch
# install: where pip's default index would bring a CUDA build, get the CPU one
# with  make demo TORCH_PIP_ARGS='--index-url https://download.pytorch.org/whl/cpu'

PYTHON ?= python3
TORCH_PIP_ARGS ?=
VENV := .venv
PY := $(VENV)/bin/python

.PHONY: demo test docs bench-knn bench-scarcity bench-step bench-mr bench-corpus bench-semi bench-batching bench-predict bench-accuracy readme clean

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q torch==2.13.0 $(TORCH_PIP_ARGS)
	$(PY) -m pip install -q -e '.[test,offline,docs,distributed]'
	touch $@

demo: $(VENV)/.installed
	$(PY) -m skgloss demo

test: $(VENV)/.installed
	$(PY) -m pytest -q

# the documentation (warnings are errors), then its links and, with chromium, its console
docs: $(VENV)/.installed
	$(PY) -m sphinx -W --keep-going -b html docs docs/_build/html
	$(PY) docs/check_html.py docs/_build/html

bench-step: $(VENV)/.installed
	$(PY) benchmarks/step_time.py

bench-mr: $(VENV)/.installed
	$(PY) benchmarks/mr_short_fit.py

bench-corpus: $(VENV)/.installed
	$(PY) benchmarks/corpus_graph_speed.py

bench-semi: $(VENV)/.installed
	$(PY) benchmarks/mr_semi_supervised.py --seeds 0 1 2 --with-kl

bench-batching: $(VENV)/.installed
	$(PY) benchmarks/batching.py

bench-predict: $(VENV)/.installed
	$(PY) benchmarks/predict_throughput.py

# the resumable five-dataset accuracy harness (cpu profile), then its tables
bench-accuracy: $(VENV)/.installed
	$(PY) benchmarks/harness.py --profile cpu
	$(PY) benchmarks/render_tables.py --profile cpu

bench-knn: $(VENV)/.installed
	$(PY) benchmarks/knn_scaling.py

# the label-scarcity study (MR and R8, 1/5/10/20 % labels), then its table and plot
bench-scarcity: $(VENV)/.installed
	$(PY) benchmarks/label_scarcity.py
	$(PY) benchmarks/render_scarcity.py

# copy benchmarks/results/*.json into the README's tables
readme: $(VENV)/.installed
	$(PY) benchmarks/render_readme.py

clean:
	rm -rf $(VENV) *.egg-info
