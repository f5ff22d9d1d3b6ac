"""`python -m musicd.spec` prints the job spec JSON Schema (the text of jobspecs/schema.json)."""

from __future__ import annotations

import sys

from musicd.spec.schema import spec_json_schema_text

if __name__ == "__main__":
    sys.stdout.write(spec_json_schema_text())
