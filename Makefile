# Build and check the companion book.  Two commands on a fresh machine:
#   make book   - create .venv from requirements.txt, execute the chapters, build _build/html
#   make test   - unit + chapter tests, notebook checks, a warning-free build, offline browser check
# one to check that today's code reproduces the committed results:
#   make verify  - recompute the cheapest paper-preset unit of every experiment and compare it with
#                  book/results/ (592 s on a 2-core CPU; needs full MNIST for chapters 1, 3, 4)
# and one to regenerate every committed result (`make help` lists every target):
#   make results - recompute the paper preset of every chapter into book/results/ (resumable: stored
#                  units are reused), then rebuild the book. About 3 hours of computing from
#                  scratch on a 2-core CPU for the results committed (`python -m
#                  companion results --dry-run` prints the current estimate from the committed
#                  provenance), plus the book build; needs full MNIST for chapters 1, 3 and 4 (README,
#                  "Getting full MNIST").
#
# Every target uses the project's own virtual environment (.venv); nothing is installed globally
# except Chromium and chromedriver (Debian packages) for the browser check.

SHELL := /bin/bash
.DEFAULT_GOAL := book

VENV   := .venv
PYTHON := $(VENV)/bin/python
JB     := $(VENV)/bin/jupyter-book
# The notebooks run with book/ as their working directory; this makes `import companion` work in
# their kernels, in papermill and in nbval without installing the package.
export PYTHONPATH := $(CURDIR)$(if $(PYTHONPATH),:$(PYTHONPATH),)
export PYDEVD_DISABLE_FILE_VALIDATION := 1
# `--all` re-reads every page (executed notebooks still come from the cache in
# _build/.jupyter_cache), so that a warning from an earlier build is reported again instead of
# being hidden by Sphinx's incremental build. TQDM_DISABLE keeps progress bars out of the pages.
BUILD_BOOK := TQDM_DISABLE=1 $(JB) build . -W --keep-going --all
SUDO := $(if $(filter 0,$(shell id -u)),,sudo)

.PHONY: book test verify results chromium browser-check numerics clean help

# The companion package is installed in editable mode, so `import companion` works in any kernel
# (Jupyter, papermill, nbval, the book build) whatever its working directory.
$(VENV)/.installed: requirements.txt pyproject.toml
	python3 -m venv $(VENV) && $(VENV)/bin/pip install -r requirements.txt \
	  && $(VENV)/bin/pip install --no-deps -e . && touch $@

book: $(VENV)/.installed
	$(BUILD_BOOK)

# Chromium first, so that the tests of the browser check itself run too (they skip without it).
# Every notebook is executed once: the notebook check (nbval on every notebook, one of the tests:
# tests/test_stored_outputs.py) runs it on a copy of the committed results with noise added and shows
# that the fresh execution reproduces every stored output (the same check as a plain
# `pytest --nbval book/*.ipynb`, and proof that no stored output depends on the last bits); the book
# is then built from those stored outputs (COMPANION_BOOK_EXECUTE=off, companion/book_site.py), with
# -W. The regression tests recompute the tiny unit of every experiment; `make verify` the paper ones.
test: $(VENV)/.installed chromium
	$(PYTHON) -m pytest -q -m "not after_build and not verify" --durations=25 tests
	COMPANION_BOOK_EXECUTE=off $(BUILD_BOOK)
	COMPANION_AFTER_BUILD=1 $(PYTHON) -m pytest -q -m after_build tests
	$(MAKE) --no-print-directory browser-check

# The committed results against today's code: the cheapest paper-preset unit of every experiment
# recomputed and compared with book/results/ at the experiment's tolerance (tests/test_regression.py,
# marker `verify`). Full MNIST: the data root, or ../shared/data/mnist (COMPANION_TEST_MNIST).
verify: $(VENV)/.installed
	$(PYTHON) -m pytest -q -m verify --durations=10 tests/test_regression.py

# The executed-notebook cache is keyed by the notebooks' code, not by the results they read: it is
# dropped so that every chapter is executed again on the regenerated results.
results: $(VENV)/.installed
	$(PYTHON) -m companion results
	rm -rf _build/.jupyter_cache
	$(BUILD_BOOK)

chromium:
	@if [ ! -x /usr/bin/chromium ] || [ ! -x /usr/bin/chromedriver ]; then \
	  echo "Installing Chromium and chromedriver (Debian packages) for the browser check"; \
	  $(SUDO) apt-get update && \
	  DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y --no-install-recommends chromium chromium-driver; \
	fi

browser-check: $(VENV)/.installed chromium
	$(PYTHON) scripts/check_rendered.py _build/html

# The regression tests and the notebook check under several numeric configurations (BLAS kernels,
# PyTorch's vectorised kernels, threads): about 10 minutes a configuration on a 2-core CPU.
numerics: $(VENV)/.installed
	$(PYTHON) scripts/numerics.py

clean:
	rm -rf _build

help:
	@echo "make book           create .venv, execute the chapters (committed results), build _build/html"
	@echo "make test           unit and chapter tests, notebook checks, a warning-free build, browser check"
	@echo "make verify         recompute the cheapest paper unit of every experiment against book/results/"
	@echo "                    (about 10 minutes on a 2-core CPU; needs full MNIST, README 'Getting full MNIST')"
	@echo "make results        regenerate every committed result (paper presets, resumable) into"
	@echo "                    book/results/, then rebuild the book: about 2.5 h of computing from scratch"
	@echo "                    on a 2-core CPU (committed results) plus the build; needs full MNIST for"
	@echo "                    chapter 3 (README, 'Getting full MNIST'). Current estimate:"
	@echo "                    .venv/bin/python -m companion results --dry-run"
	@echo "make browser-check  open every built page offline in headless Chromium"
	@echo "make numerics       regression tests and notebook checks under several numeric configurations"
	@echo "make clean          remove _build/"
