# musicd: `make demo` renders the example specs, `make test` runs the tests.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
PIP := $(PY) -m pip
APT_PACKAGES := fluidsynth libfluidsynth3 musescore-general-soundfont fluid-soundfont-gm ffmpeg espeak-ng rsync fonts-dejavu-core chromium
EXTRAS ?= dev

.PHONY: setup system venv voices demo test lint quick bench schema clean magenta-env train-magenta

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

# MBROLA diphone singers (optional, only when a person asks: `make voices`). MBROLA is in Debian's
# contrib section and its voices in non-free (free to use, not to be sold): this adds those two
# sections in their own sources file, /etc/apt/sources.list.d/musicd-voices.sources, and never
# touches the others; `make setup` never changes apt sources.
MBROLA_VOICES ?= us1 us2 us3 en1 de2 fr1 es2 it3 nl2 br1
VOICES_SOURCES := /etc/apt/sources.list.d/musicd-voices.sources
voices:
	@set -e; . /etc/os-release; \
	if [ ! -f $(VOICES_SOURCES) ]; then \
		echo "adding Debian contrib and non-free for $$VERSION_CODENAME in $(VOICES_SOURCES)"; \
		printf 'Types: deb\nURIs: http://deb.debian.org/debian\nSuites: %s %s-updates\nComponents: contrib non-free\nSigned-By: /usr/share/keyrings/debian-archive-keyring.gpg\n' \
			"$$VERSION_CODENAME" "$$VERSION_CODENAME" > $(VOICES_SOURCES); \
	fi; \
	apt-get update -qq; \
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq mbrola $(addprefix mbrola-,$(MBROLA_VOICES)); \
	ls /usr/share/mbrola

# The demo runs the real service once over a fresh layout: inbox -> queue -> worker -> outbox.
demo: setup
	rm -rf demo-out
	$(VENV)/bin/musicd init demo-out
	cp jobspecs/examples/*.yaml demo-out/inbox/
	$(VENV)/bin/musicd run --once --config demo-out/config.yaml
	@echo; echo "Finished tracks (<title>.wav/.mp3, stems/, score.mid, manifest.json, ...):"
	@find demo-out/outbox -mindepth 4 -maxdepth 4 -type d | sort

test: EXTRAS = dev,ml,cluster
test: setup magenta-env lint
	$(PY) -m pytest -q

# ruff (lint and format) over the package, the tests and the benchmarks; mypy over the package.
lint: EXTRAS = dev,ml
lint: venv
	$(VENV)/bin/ruff check daemon tests bench
	$(VENV)/bin/ruff format --check daemon tests bench
	$(VENV)/bin/mypy

# The quick local loop: everything but the slow tests.
quick: EXTRAS = dev,ml
quick: setup lint
	$(PY) -m pytest -q -m "not slow"

bench: EXTRAS = dev,ml,cluster
bench: setup
	$(PY) bench/bench_render.py
	$(PY) bench/bench_video.py
	$(PY) bench/bench_vocals.py
	$(PY) bench/bench_texture.py --quick
	$(PY) bench/bench_daemon.py
	$(PY) bench/bench_magenta.py
	$(PY) bench/bench_web.py
	$(PY) bench/bench_ray.py

# Magenta's melody RNN needs Python 3.8 + TensorFlow 2.9: its own .magenta-venv (idempotent,
# seconds when already there). The sidecar runs there; musicd never imports TensorFlow.
magenta-env:
	@bash tools/magenta/setup_env.sh

# Retrain the shipped melody bundle (models/magenta/) from the public-domain tunes; see
# models/magenta/MODEL_CARD.md. Work files go to build/magenta/ (delete it to start over).
# These defaults are the settings the shipped bundle was trained with (metrics.json "command").
TRAIN_MAGENTA_ARGS ?= --round-steps 100 --max-steps 1500 --max-minutes 64 --patience 3 --min-delta 0.005
train-magenta: magenta-env
	nice -n 19 .magenta-venv/bin/python tools/magenta/train.py $(TRAIN_MAGENTA_ARGS)
	.magenta-venv/bin/python tools/magenta/model_card.py

schema: venv
	$(VENV)/bin/musicd schema > jobspecs/schema.json

clean:
	rm -rf demo-out .pytest_cache
