"""Job specs: safe YAML loading, plain-language validation, the parsed JobSpec and its JSON Schema."""

from __future__ import annotations

from musicd.music.theory import KeySpec, parse_key
from musicd.spec.load import job_text, load_batch, load_jobs, load_spec, read_spec_file
from musicd.spec.model import EnginesSpec, JobSpec, MasterSpec, OutputSpec, VideoSpec, VocalsSpec
from musicd.spec.schema import spec_json_schema, spec_json_schema_text
from musicd.spec.yaml_source import MAX_SPEC_BYTES

__all__ = [
    "MAX_SPEC_BYTES",
    "EnginesSpec",
    "JobSpec",
    "KeySpec",
    "MasterSpec",
    "OutputSpec",
    "VideoSpec",
    "VocalsSpec",
    "job_text",
    "load_batch",
    "load_jobs",
    "load_spec",
    "parse_key",
    "read_spec_file",
    "spec_json_schema",
    "spec_json_schema_text",
]
