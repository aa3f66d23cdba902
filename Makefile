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

.PHONY: setup test test-unit test-notebooks test-nightly course lab doctor lint clean-notebooks clean

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
