"""musicd: offline music generation from YAML job specs."""

__version__ = "0.1.0"
