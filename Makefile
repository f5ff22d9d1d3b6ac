# musicd: `make demo` renders the example specs, `make test` runs the tests.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
PIP := $(PY) -m pip
APT_PACKAGES := fluidsynth libfluidsynth3 fluid-soundfont-gm ffmpeg espeak-ng rsync fonts-dejavu-core
EXTRAS ?= dev

.PHONY: setup system venv demo test bench schema clean

setup: system venv

system:
	@missing=""; for p in $(APT_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
		echo "installing Debian packages:$$missing"; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $$missing; \
	fi

venv: $(VENV)/.installed-$(EXTRAS)

$(VENV)/.installed-$(EXTRAS): pyproject.toml constraints.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PIP) install -q --upgrade pip
	$(PIP) install -q -c constraints.txt -e ".[$(EXTRAS)]"
	touch $@

demo: setup
	$(VENV)/bin/musicd demo jobspecs/examples -o demo-out

test: setup
	$(PY) -m pytest -q

bench: setup
	$(PY) bench/bench_render.py

schema: venv
	$(VENV)/bin/musicd schema > jobspecs/schema.json

clean:
	rm -rf demo-out .pytest_cache
