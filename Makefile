# The course's commands. `make setup` once, then `make course` (runs offline) or `make lab`; `make test` for the tests.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
# torch: the CPU build 2.13.0 by default. Point TORCH_INDEX_URL at PyTorch's CPU wheel index on a laptop
# without a GPU to skip the large CUDA build, e.g. `make setup TORCH_INDEX_URL=<cpu wheel index>`.
TORCH_SPEC ?= torch==2.13.0
TORCH_INDEX_URL ?=
# What the tests run: by default tiny scale, the shipped samples, no network. The GPU workflow runs the same
# command with `make test SCALE=full SOURCE=hub OFFLINE=0`.
SCALE ?= tiny
SOURCE ?= sample
OFFLINE ?= 1
TEST_ENV = HF_HUB_OFFLINE=$(OFFLINE) COURSE_SCALE=$(SCALE) COURSE_SOURCE=$(SOURCE) COURSE_QUIET=1 TOKENIZERS_PARALLELISM=false \
	$(if $(TEST_THREADS),OMP_NUM_THREADS=$(TEST_THREADS) MKL_NUM_THREADS=$(TEST_THREADS))
# A cell may train several runs: 10 minutes at tiny/quick, 2 hours at full (sized for a T4; measured on an H200
# a bert-base-sized encoder trained 393 pairs/s, about 2 minutes for 50k pairs; see docs/benchmark.md).
CELL_TIMEOUT ?= $(if $(filter full,$(SCALE)),7200,600)
NBVAL := --nbval-lax --nbval-current-env --nbval-cell-timeout=$(CELL_TIMEOUT)
# pytest-xdist: WORKERS processes, each notebook's cells on one worker (they share a kernel). WORKERS=0 runs serially.
WORKERS ?= 2
XDIST := $(if $(filter 0,$(WORKERS)),,-n $(WORKERS) --dist loadfile)
# One torch thread per worker process (and its kernels) when workers run side by side: two workers with two
# threads each on two cores oversubscribe the CPU. Measured on the 2-core CI machine: notebook 03c alone took
# 15 s with 2 threads and 20 s with 1, so two 1-thread workers get through the suite faster than one.
TEST_THREADS ?= $(if $(filter 0 1,$(WORKERS)),,1)
# Where the tests' notebooks write (models, results, figures): a throwaway folder unless TEST_OUTPUT_DIR is given,
# so `make test` writes nothing into the repository and never reads an earlier run's results.
TEST_OUTPUT_DIR ?=
define with_test_outputs
	@out="$(TEST_OUTPUT_DIR)"; [ -n "$$out" ] || out=$$(mktemp -d -t course-test.XXXXXX); \
	echo "test outputs: $$out"; \
	COURSE_OUTPUT_DIR=$$out $(TEST_ENV) $(1); rc=$$?; \
	[ -n "$(TEST_OUTPUT_DIR)" ] || rm -rf "$$out"; exit $$rc
endef

.PHONY: setup test test-unit test-notebooks test-nightly browser-deps course lab doctor lint clean-notebooks clean

setup:
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -c "import torch" 2>/dev/null || $(BIN)/python -m pip install $(TORCH_SPEC) $(if $(TORCH_INDEX_URL),--index-url $(TORCH_INDEX_URL))
	$(BIN)/python -m pip install -c constraints.txt -e ".[offline,dev,lab]"
	$(BIN)/python -m ipykernel install --sys-prefix --name python3 --display-name "Python 3 (embedding course)"
	$(BIN)/python -m helpers doctor || true

# The suite: unit tests, every notebook and every exercise solution. Tests marked `nightly` (the DDP run, the
# diagram redraw, the CLI tests that start kernels) run in `make test-nightly`.
test:
	$(call with_test_outputs,$(BIN)/python -m pytest $(NBVAL) $(XDIST) -m "not nightly" tests notebooks exercises/solutions $(PYTEST_ARGS))

test-unit:
	$(call with_test_outputs,$(BIN)/python -m pytest $(XDIST) -m "not nightly" tests $(PYTEST_ARGS))

test-notebooks:
	$(call with_test_outputs,$(BIN)/python -m pytest $(NBVAL) $(XDIST) notebooks exercises/solutions $(PYTEST_ARGS))

test-nightly:
	$(call with_test_outputs,$(BIN)/python -m pytest $(XDIST) -m nightly tests $(PYTEST_ARGS))

# The checks a new or changed notebook must pass (docs/authoring.md, "Testing one notebook"), e.g.
# `make check-notebook NB=03g`: the notebook and its exercise solutions under nbval at tiny on the samples (a
# throwaway output folder, as in `make test`), then the rule tests: outputs stripped, set-up cell, Colab cells and
# exercise copies in step, exercise structure, links, ruff, device rules, the timing tables against
# docs/benchmark.md, and the instructor guide's learning objectives.
RULE_TESTS := tests/test_repo.py tests/test_device_rules.py tests/test_exercises.py tests/test_authoring.py \
	tests/test_cli.py::test_timing_tables_in_the_docs_agree_with_the_benchmark
.PHONY: check-notebook
check-notebook:
	@[ -n "$(NB)" ] && [ -n "$(wildcard notebooks/$(NB)_*.ipynb)" ] || \
		{ echo "usage: make check-notebook NB=NN (the prefix of a notebook in notebooks/, e.g. 03g)"; exit 2; }
	$(call with_test_outputs,$(BIN)/python -m pytest $(NBVAL) $(XDIST) $(wildcard notebooks/$(NB)_*.ipynb \
		exercises/solutions/$(NB)_*.ipynb) $(RULE_TESTS) $(PYTEST_ARGS))

# The canary: the same suite in a separate environment (LATEST_VENV) with the newest release of every dependency,
# no constraints file, so that a library release that breaks the course shows up here before a learner meets it.
# It prints which packages differ from the pins before the tests (and after them, so the end of a log names the
# versions). LATEST_TESTS narrows what runs (default: what `make test` runs). The weekly workflow
# .github/workflows/latest.yml runs it. torch: the newest release pip finds (TORCH_INDEX_URL as in `make setup`).
LATEST_VENV ?= .venv-latest
LATEST_TESTS ?= tests notebooks exercises/solutions
.PHONY: test-latest
test-latest:
	test -x $(LATEST_VENV)/bin/python || $(PYTHON) -m venv $(LATEST_VENV)
	$(LATEST_VENV)/bin/python -m pip install --upgrade pip
	$(LATEST_VENV)/bin/python -m pip install --upgrade torch $(if $(TORCH_INDEX_URL),--index-url $(TORCH_INDEX_URL))
	$(LATEST_VENV)/bin/python -m pip install --upgrade --upgrade-strategy eager -e ".[offline,dev,lab]"
	$(LATEST_VENV)/bin/python -m tools.pins
	$(call with_test_outputs,$(LATEST_VENV)/bin/python -m pytest $(NBVAL) $(XDIST) -m "not nightly" $(LATEST_TESTS) \
		$(PYTEST_ARGS); rc=$$?; $(LATEST_VENV)/bin/python -m tools.pins; (exit $$rc))

# The nightly browser test (tests/test_browser.py): Playwright's Python client, and Chromium: Debian's package as
# root (works offline from a Debian mirror), otherwise Playwright's own download.
browser-deps:
	$(BIN)/python -m pip install -c constraints.txt -e ".[browser]"
	@if command -v chromium >/dev/null; then echo "chromium: $$(command -v chromium)"; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then apt-get update -qq && apt-get install -y -qq chromium; \
	else $(BIN)/python -m playwright install --with-deps chromium; fi

# Run every notebook headless (offline default: tiny scale on the shipped samples unless COURSE_* say otherwise).
# Executed notebooks, models, results.md and plots land in outputs/.
course:
	$(BIN)/python -m tools run $(NOTEBOOKS)

lab:
	$(BIN)/jupyter lab  # the repository root: notebooks/ and exercises/

doctor:
	$(BIN)/python -m helpers doctor

lint:
	$(BIN)/ruff check .

clean-notebooks:
	$(BIN)/nbstripout --keep-id notebooks/*.ipynb exercises/*.ipynb exercises/solutions/*.ipynb

clean:
	rm -rf outputs
