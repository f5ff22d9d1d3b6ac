"""The store's schema as named, ordered migrations; each runs once and is recorded.

Append new migrations at the end; never edit or reorder one that has shipped.
Only `musicd.queue.store` runs these.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Migration:
    """One schema step: a unique name and the SQL script that performs it."""

    name: str
    sql: str


MIGRATIONS: tuple[Migration, ...] = (
    Migration(
        "0001_jobs_events_spec_sources",
        """
        CREATE TABLE spec_sources (
            id TEXT PRIMARY KEY,
            source_path TEXT NOT NULL,
            source_name TEXT NOT NULL,
            spec_hash TEXT NOT NULL,
            kept_path TEXT NOT NULL,
            ingested_at TEXT NOT NULL,
            kept_at TEXT
        );
        CREATE INDEX spec_sources_pending ON spec_sources (source_path, spec_hash)
            WHERE kept_at IS NULL;

        CREATE TABLE jobs (
            id TEXT PRIMARY KEY,
            seq INTEGER NOT NULL UNIQUE,
            state TEXT NOT NULL
                CHECK (state IN ('queued', 'running', 'done', 'failed', 'cancelled')),
            priority INTEGER NOT NULL DEFAULT 0,
            attempts INTEGER NOT NULL DEFAULT 0,
            title TEXT NOT NULL,
            source_name TEXT NOT NULL,
            spec_hash TEXT NOT NULL,
            spec_text TEXT NOT NULL,
            seed INTEGER,
            error TEXT,
            outbox_path TEXT,
            stage TEXT,
            percent REAL,
            cancel_requested INTEGER NOT NULL DEFAULT 0,
            source_id TEXT REFERENCES spec_sources (id),
            created_at TEXT NOT NULL,
            queued_at TEXT NOT NULL,
            started_at TEXT,
            finished_at TEXT,
            updated_at TEXT NOT NULL
        );
        CREATE INDEX jobs_claim_order ON jobs (state, priority DESC, queued_at, seq);
        CREATE INDEX jobs_source ON jobs (source_id);

        CREATE TABLE events (
            id INTEGER PRIMARY KEY,
            job_id TEXT NOT NULL REFERENCES jobs (id) ON DELETE CASCADE,
            time TEXT NOT NULL,
            stage TEXT,
            percent REAL,
            message TEXT,
            level TEXT NOT NULL DEFAULT 'info'
        );
        CREATE INDEX events_job ON events (job_id, id);
        """,
    ),
    Migration(
        "0002_jobs_duration_s",
        # read once at ingest; jobs queued before this migration get the longest a spec allows
        "ALTER TABLE jobs ADD COLUMN duration_s REAL NOT NULL DEFAULT 600;",
    ),
    Migration(
        "0003_jobs_interruptions",
        # service crashes while a job ran: not the job's attempts (those count its own worker's deaths)
        "ALTER TABLE jobs ADD COLUMN interruptions INTEGER NOT NULL DEFAULT 0;",
    ),
    Migration(
        "0004_jobs_source_name_index",
        # `musicd web` finds the job a submission became by its file name
        "CREATE INDEX jobs_source_name ON jobs (source_name);",
    ),
)
