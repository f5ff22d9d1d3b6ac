"""The MUSICD_* environment variables that are not configuration keys.

Every other MUSICD_* name overrides a key of the configuration (see musicd.config), so
these are kept apart here: the config reader skips exactly this set.
"""

from __future__ import annotations

CONFIG_PATH_ENV = "MUSICD_CONFIG"  # the configuration file to read
CPU_THREADS_ENV = "MUSICD_TORCH_THREADS"  # torch's CPU threads (default 1)
MAGENTA_VENV_ENV = "MUSICD_MAGENTA_VENV"  # the Python 3.8 environment of the Magenta sidecar
MAGENTA_BUNDLE_ENV = "MUSICD_MAGENTA_BUNDLE"  # the melody RNN bundle (.mag)

RUNTIME_VARIABLES = frozenset({CONFIG_PATH_ENV, CPU_THREADS_ENV, MAGENTA_VENV_ENV, MAGENTA_BUNDLE_ENV})
