"""Commands around one render: render, validate, genres, schema, doctor, demo."""

from __future__ import annotations
