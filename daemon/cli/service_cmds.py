"""Commands around the service: init, run, submit, status, list, retry, cancel."""

from __future__ import annotations
