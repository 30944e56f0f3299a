# Two commands do all set-up on a fresh machine with python3 and pip:
#   make book   -> .venv, pinned install, execute every chapter, build _build/html
#   make test   -> lint (ruff, ruff format --check, mypy), unit tests and every chapter
#                  under nbmake at MRS_SCALE=tiny
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp
# Scale of the book build (tiny | book | paper); tests always run at tiny.
MRS_SCALE ?= book
# External reference data: ../shared/data when present (see mrs_lib/data.py).
ifneq ($(wildcard ../shared/data),)
export MRS_DATA_DIR ?= $(abspath ../shared/data)
endif
# Wall-clock bound around the book build (a lost kernel message can stall it).
BOOK_TIMEOUT ?= 5400
JOBS ?= 2

.PHONY: help venv test lint unit notebooks book check-browser lab clean lcmodel mutations

help:
	@echo "make book           build the executed book into _build/html (MRS_SCALE=$(MRS_SCALE))"
	@echo "make test           lint (ruff, format, mypy) + unit tests + chapters (nbmake, tiny)"
	@echo "make lab            JupyterLab on the book"
	@echo "make check-browser  headless-Chromium check of widgets in the built book"
	@echo "make lcmodel        build the real LCModel 6.3 (gfortran) into the cache and check it"
	@echo "make mutations      plant known bugs in a copy of the library: their tests must fail"

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[book,dev]"
	@touch $(STAMP)

venv: $(STAMP)

# Lint: ruff's rules (line length 100 included), its formatter, and mypy on the library.
lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

unit: $(STAMP)
	MRS_SCALE=tiny $(BIN)/python -m pytest -n $(JOBS) -m "not browser" tests

# Chapter notebooks under nbmake (book/intro.md, a MyST text notebook, is executed by
# tests/test_widgets.py and by the book build). No notebooks yet is not an error.
CHAPTERS := $(wildcard book/*.ipynb)
NBMAKE = $(if $(CHAPTERS),MRS_SCALE=tiny $(BIN)/python -m pytest -n $(JOBS) --nbmake --nbmake-timeout=600 $(CHAPTERS),@echo "no chapter notebooks in book/ yet")

notebooks: $(STAMP)
	$(NBMAKE)

# -m "not browser" keeps the slow tests: the 1,000-example reader fuzz
# (tests/test_fuzz_readers.py, about 1 min of CPU) runs here and in .ci/run.
test: lint
	MRS_SCALE=tiny $(BIN)/python -m pytest -n $(JOBS) -m "not browser" tests
	$(NBMAKE)

# MRS_STATIC_WIDGETS=1: mrs_lib.widgets.explore precomputes its views, so sliders stay
# interactive in the static pages (book/_ext/offline_widgets.py sets it for any build too).
# --all: Sphinx would otherwise skip unchanged sources and keep pages executed at another
# MRS_SCALE (jupyter-cache and Sphinx key on the source, not on the environment).
# -n -W: nitpicky, and every warning is an error, so a cross-reference that does not
# resolve (a {func} role in a chapter, a :class: in a docstring) fails the build.
book: $(STAMP)
	MRS_SCALE=$(MRS_SCALE) MRS_STATIC_WIDGETS=1 timeout $(BOOK_TIMEOUT) $(BIN)/jupyter-book build . --all -n -W --keep-going

# The intro page (book/intro.md) holds a teaching widget; pages keep their book/ subfolder.
BROWSER_PAGE ?= _build/html/book/intro.html
check-browser: $(STAMP)
	@test -f $(BROWSER_PAGE) || { echo "no built book at $(BROWSER_PAGE): run 'make book' first"; exit 2; }
	MRS_BROWSER_PAGE=$(abspath $(BROWSER_PAGE)) $(BIN)/python -m pytest -p no:cacheprovider -m browser tests/test_browser.py

# The real LCModel 6.3 from its registered Fortran source (mrs_lib/fit/lcmodel_build.py):
# gfortran into the project's cache ($MRS_CACHE_DIR/lcmodel or the OS cache of mrs_lib), then
# LCModel's own test case must reproduce the reference build's concentration table exactly.
# Up to date (same source, checked) is a no-op; FORCE=1 rebuilds.
lcmodel: $(STAMP)
	$(BIN)/mrs lcmodel build $(if $(FORCE),--force,)

# jupytext opens book/intro.md (a MyST text notebook) as a notebook; the setting below,
# written into the venv's own Jupyter config, makes that the default on a double click.
LAB_VIEWERS := $(VENV)/etc/jupyter/labconfig/default_setting_overrides.json
# Mutation check (tests/mutations.py): each bug once found passing the suite (issue 14) is
# planted in a temporary copy of the library and its tests must fail there. About 3 minutes
# (one pytest process per mutation), so it runs from .ci/run rather than inside `make test`.
mutations: $(STAMP)
	MRS_SCALE=tiny $(BIN)/python tests/mutations.py

lab: $(STAMP)
	$(BIN)/jupytext-config --settings-file $(LAB_VIEWERS) set-default-viewer markdown myst >/dev/null
	$(BIN)/jupyter lab book $(if $(filter 0,$(shell id -u)),--allow-root,)

clean:
	rm -rf _build .pytest_cache .ruff_cache .mypy_cache .hypothesis
