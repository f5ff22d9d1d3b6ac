#!/usr/bin/env bash
# Create .magenta-venv: Python 3.8 + magenta 2.1.4 (TensorFlow 2.9), for the melody sidecar.
# Idempotent: a stamp file records a finished install; a second run returns at once.
# Python 3.8 is found in this order: $MAGENTA_PYTHON, python3.8 on PATH, pyenv's versions,
# uv's managed Pythons (`uv python install 3.8`, which downloads one when the network allows).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
ENV_DIR="${MAGENTA_VENV:-$ROOT/.magenta-venv}"
STAMP="$ENV_DIR/.installed-magenta-2.1.4"
HOST_PY="${HOST_PYTHON:-$ROOT/.venv/bin/python}"
[ -x "$HOST_PY" ] || HOST_PY=python3

installed() {  # without importing TensorFlow (that alone takes ~10-30 s)
  "$ENV_DIR/bin/python" -c "import importlib.util as u, sys; sys.exit(not (u.find_spec('magenta') and u.find_spec('tensorflow')))" >/dev/null 2>&1
}
if [ -f "$STAMP" ] && installed; then
  exit 0
fi

apt_missing=""
for p in libasound2-dev libjack-jackd2-dev abcmidi; do
  dpkg -s "$p" >/dev/null 2>&1 || apt_missing="$apt_missing $p"
done
if [ -n "$apt_missing" ] && command -v apt-get >/dev/null 2>&1; then
  echo "installing Debian packages:$apt_missing"
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $apt_missing
fi

# uv resolves magenta's old pins in minutes where pip backtracks for much longer.
UV="$(command -v uv || true)"
if [ -z "$UV" ]; then
  "$HOST_PY" -m pip install -q uv
  UV="$(dirname "$HOST_PY")/uv"
  [ -x "$UV" ] || UV="$(command -v uv)"
fi

works() { [ -n "$1" ] && "$1" -c 'import sys; assert sys.version_info[:2] == (3, 8)' >/dev/null 2>&1; }
PY38="${MAGENTA_PYTHON:-}"
if ! works "$PY38"; then
  PY38=""
  for c in "$(command -v python3.8 || true)" "${PYENV_ROOT:-$HOME/.pyenv}"/versions/3.8*/bin/python3.8; do
    works "$c" && PY38="$c" && break  # (a pyenv shim on PATH may not run: test each)
  done
fi
if [ -z "$PY38" ]; then
  PY38="$("$UV" python find 3.8 2>/dev/null || true)"
fi
if [ -z "$PY38" ]; then
  "$UV" python install 3.8
  PY38="$("$UV" python find 3.8)"
fi
echo "magenta env: $ENV_DIR with $PY38"

[ -x "$ENV_DIR/bin/python" ] || "$UV" venv --python "$PY38" "$ENV_DIR"
"$UV" pip install --python "$ENV_DIR/bin/python" --exclude-newer 2022-09-15 magenta==2.1.4
"$ENV_DIR/bin/python" -c "import magenta, tensorflow as tf; print('magenta ok, tensorflow', tf.__version__)"
touch "$STAMP"
