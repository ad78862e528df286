# Two commands are the contract: `make demo` and `make test`. Both create the virtual
# environment and install what they need on a fresh Debian machine with Python 3.11.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
DEMO_ARGS ?=
BENCH ?=
PYTEST_ARGS ?=

.PHONY: demo test bench lint venv browser clean

# setup.py and the C decoder: a changed extension is rebuilt by the next make test/demo
$(STAMP): pyproject.toml setup.py hotline/ami/_speedups.c
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

venv: $(STAMP)

# Debian's Chromium drives the browser tests (Playwright never downloads a browser here);
# the CJK font makes the Chinese pages legible in the screenshots.
browser:
	@{ command -v chromium >/dev/null 2>&1 && fc-list 2>/dev/null | grep -qi wqy; } || { \
	  if [ "$$(id -u)" = 0 ]; then apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium fonts-wqy-microhei >/dev/null; \
	  else echo "chromium missing: run 'sudo apt-get install chromium' (browser tests will be skipped)"; fi; }

demo: $(STAMP)
	$(PY) -m hotline.demo $(DEMO_ARGS)

test: $(STAMP) browser
	$(PY) -m ruff check .
	$(PY) -m pytest -q $(PYTEST_ARGS)

bench: $(STAMP)
	$(PY) -m bench $(BENCH)

lint: $(STAMP)
	$(PY) -m ruff check .

clean:
	rm -rf $(VENV) .pytest_cache bench/results/*.json
