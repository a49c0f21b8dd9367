# Two commands: `make run` (set up everything, serve the demo) and `make test`.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
PORT   ?= 5000
HOST   ?= 127.0.0.1

.PHONY: install assets test run browser bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e '.[test]'
	touch $@

install: $(VENV)/.installed

# The browser libraries (bpmn-js, dmn-js) from the npm registry, exactly as package-lock.json
# pins them, into node_modules/ (ignored; Flask serves an allow-list of their files). Reinstalled
# only when the lock file changes. Without npm the pages still work, without their diagrams.
node_modules/.installed: package-lock.json
	@if command -v npm >/dev/null 2>&1; then npm ci --no-audit --no-fund --loglevel=error && touch $@; \
	 else echo "make: npm not found; pages will show no diagrams (install Node.js and npm)"; fi

assets: node_modules/.installed

# Debian's Chromium (and a CJK font for its screenshots) for the real-browser test:
# Playwright's own browser download does not work offline. Needs root; where it cannot be
# installed the browser test says why and skips.
browser:
	@{ command -v chromium >/dev/null 2>&1 && fc-list 2>/dev/null | grep -qi wqy; } || { \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium fonts-wqy-microhei >/dev/null) \
	      || echo "make: could not install chromium; the browser test will be skipped"; \
	  else echo "make: chromium not installed and no root/apt-get; the browser test will be skipped"; fi; }

test: install assets browser
	$(BIN)/pytest -q -p no:cacheprovider

run: install assets
	$(BIN)/gridloop setup-demo
	GRIDLOOP_PUBLIC_URL=$${GRIDLOOP_PUBLIC_URL:-http://$(HOST):$(PORT)} $(BIN)/gridloop serve --host $(HOST) --port $(PORT)

bench: install
	$(BIN)/python bench/engine.py
	$(BIN)/python bench/peer.py
	$(BIN)/python bench/http.py
	$(BIN)/python bench/timers.py
	$(BIN)/python bench/conformance.py
	$(BIN)/python bench/load.py

clean:
	rm -rf $(VENV) instance *.egg-info node_modules
