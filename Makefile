# Build and check the companion book.  Two commands on a fresh machine:
#   make book   - create .venv from requirements.txt, execute the chapters, build _build/html
#   make test   - unit + chapter tests, notebook checks, a warning-free build, offline browser check
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

.PHONY: book test chromium browser-check clean

# The companion package is installed in editable mode, so `import companion` works in any kernel
# (Jupyter, papermill, nbval, the book build) whatever its working directory.
$(VENV)/.installed: requirements.txt pyproject.toml
	python3 -m venv $(VENV) && $(VENV)/bin/pip install -r requirements.txt \
	  && $(VENV)/bin/pip install --no-deps -e . && touch $@

book: $(VENV)/.installed
	$(BUILD_BOOK)

# Chromium first, so that the tests of the browser check itself run too (they skip without it).
test: $(VENV)/.installed chromium
	$(PYTHON) -m pytest -q tests
	$(PYTHON) -m pytest -q --nbval book/*.ipynb --nbval-sanitize-with book/nbval_sanitize.cfg
	$(BUILD_BOOK)
	$(MAKE) --no-print-directory browser-check

chromium:
	@if [ ! -x /usr/bin/chromium ] || [ ! -x /usr/bin/chromedriver ]; then \
	  echo "Installing Chromium and chromedriver (Debian packages) for the browser check"; \
	  $(SUDO) apt-get update && \
	  DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y --no-install-recommends chromium chromium-driver; \
	fi

browser-check: $(VENV)/.installed chromium
	$(PYTHON) scripts/check_rendered.py _build/html

clean:
	rm -rf _build
