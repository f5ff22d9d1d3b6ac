# musicd: `make demo` renders the example specs, `make test` runs the tests.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
PIP := $(PY) -m pip
APT_PACKAGES := fluidsynth libfluidsynth3 fluid-soundfont-gm ffmpeg espeak-ng rsync fonts-dejavu-core
EXTRAS ?= dev

.PHONY: setup system venv demo test lint quick bench schema clean

setup: system venv

system:
	@missing=""; for p in $(APT_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
		echo "installing Debian packages:$$missing"; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing; \
	fi

# Reinstalls only when pyproject.toml or constraints.txt changed since the last install of EXTRAS.
venv:
	@stamp="$(VENV)/.installed-$(EXTRAS)"; \
	if [ ! -f "$$stamp" ] || [ pyproject.toml -nt "$$stamp" ] || [ constraints.txt -nt "$$stamp" ]; then \
		set -e; \
		test -x $(PY) || $(PYTHON) -m venv $(VENV); \
		echo "installing musicd[$(EXTRAS)] into $(VENV)"; \
		$(PIP) install -q --upgrade pip; \
		$(PIP) install -q -c constraints.txt -e ".[$(EXTRAS)]"; \
		touch "$$stamp"; \
	fi

# The demo runs the real service once over a fresh layout: inbox -> queue -> worker -> outbox.
demo: setup
	rm -rf demo-out
	$(VENV)/bin/musicd init demo-out
	cp jobspecs/examples/*.yaml demo-out/inbox/
	$(VENV)/bin/musicd run --once --config demo-out/config.yaml
	@echo; echo "Finished tracks (mix.wav, stems/, score.mid, manifest.json, ...):"
	@find demo-out/outbox -mindepth 4 -maxdepth 4 -type d | sort

test: EXTRAS = dev,ml
test: setup lint
	$(PY) -m pytest -q

# ruff (lint and format) and mypy over the package, the tests and the benchmarks.
lint: EXTRAS = dev,ml
lint: venv
	$(VENV)/bin/ruff check daemon tests bench
	$(VENV)/bin/ruff format --check daemon tests bench
	$(VENV)/bin/mypy

# The quick local loop: everything but the slow tests.
quick: EXTRAS = dev,ml
quick: setup lint
	$(PY) -m pytest -q -m "not slow"

bench: EXTRAS = dev,ml
bench: setup
	$(PY) bench/bench_render.py
	$(PY) bench/bench_video.py
	$(PY) bench/bench_vocals.py
	$(PY) bench/bench_texture.py --quick
	$(PY) bench/bench_daemon.py

schema: venv
	$(VENV)/bin/musicd schema > jobspecs/schema.json

clean:
	rm -rf demo-out .pytest_cache
