"""Hostile files in the inbox: each becomes a job or a readable rejection, fast, and nothing else.

Real files, FIFOs, symlinks, sparse files and SQLite; a property test throws arbitrary bytes
and names at ingest.
"""

from __future__ import annotations

import dataclasses
import json
import os
import threading
import time
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from musicd.config import Config
from musicd.music.sections import Section
from musicd.music.theory import parse_key
from musicd.queue.store import Store
from musicd.service.ingest import IngestStatus, ingest_file, ingest_files
from musicd.spec import load_spec
from musicd.spec.yaml_source import MAX_SPEC_BYTES
from musicd.text import display_text
from musicd.vocals import ChordTime, vocal_line
from musicd.vocals.timing_files import lrc_text, srt_text

NOW = datetime(2026, 5, 3, 9, 30, tzinfo=UTC)
SECRET = "root:$y$j9T$secret-hash-that-must-never-be-echoed:19000:0:99999:7:::"


def clock() -> datetime:
    return NOW


@pytest.fixture
def config(tmp_path: Path) -> Config:
    config = Config(inbox=tmp_path / "inbox", outbox=tmp_path / "outbox", state_dir=tmp_path / "state")
    config.inbox.mkdir()
    return config


@pytest.fixture
def store(config: Config):
    with Store.open(config.state_dir, clock=clock) as s:
        yield s


def ingest_within(path: Path, store: Store, config: Config, seconds: float = 5.0):
    """Ingest in a thread and fail (instead of hanging the suite) if it takes longer than `seconds`."""
    result: list = []
    thread = threading.Thread(target=lambda: result.append(ingest_files([path], store, config, clock)[0]))
    thread.start()
    thread.join(seconds)
    assert not thread.is_alive(), f"ingest of {path.name} blocked for more than {seconds} s"
    return result[0]


def test_a_duration_with_thousands_of_digits_is_rejected_not_a_crash(store: Store, config: Config) -> None:
    path = config.inbox / "nines.yaml"
    path.write_text(f'prompt: x\nduration: "{"9" * 5000}:30"\n')
    outcome = ingest_within(path, store, config)
    assert outcome.status is IngestStatus.REJECTED
    assert "is not a duration" in outcome.error_path.read_text()


def test_a_latin1_file_name_is_queued_and_kept_under_its_own_bytes(store: Store, config: Config) -> None:
    raw = os.fsencode(config.inbox) + b"/caf\xe9.yaml"
    with open(raw, "wb") as handle:
        handle.write(b"prompt: calm piano\nduration: 10\n")
    path = Path(os.fsdecode(raw))
    outcome = ingest_within(path, store, config)
    assert outcome.status is IngestStatus.QUEUED
    (job,) = outcome.jobs
    assert job.source_name == "caf\\xe9.yaml"
    assert outcome.kept_path is not None and os.fsencode(outcome.kept_path).endswith(b"-caf\xe9.yaml")
    assert not os.path.lexists(raw)


def test_a_huge_sparse_file_is_rejected_without_being_read(store: Store, config: Config) -> None:
    path = config.inbox / "huge.yaml"
    with open(path, "wb") as handle:
        handle.truncate(5 * 2**30)  # 5 GiB, sparse: costs no disk
    started = time.perf_counter()
    outcome = ingest_within(path, store, config)
    assert time.perf_counter() - started < 2
    assert outcome.status is IngestStatus.REJECTED
    assert "5242880.0 KiB" in outcome.error_path.read_text()


def test_a_fifo_is_set_aside_without_blocking(store: Store, config: Config) -> None:
    path = config.inbox / "pipe.yaml"
    os.mkfifo(path)
    outcome = ingest_within(path, store, config)
    assert outcome.status is IngestStatus.REJECTED
    assert "FIFO" in outcome.error_path.read_text()
    assert (config.rejected_dir / "pipe.yaml").is_fifo()


def test_a_symlink_is_set_aside_itself_and_its_target_is_never_read(
    store: Store, config: Config, tmp_path: Path
) -> None:
    secret = tmp_path / "shadow"
    secret.write_text("\n".join([SECRET] * 25) + "\n")
    (config.inbox / "x.yaml").symlink_to(secret)
    outcome = ingest_within(config.inbox / "x.yaml", store, config)
    assert outcome.status is IngestStatus.REJECTED
    error = outcome.error_path.read_text()
    assert "symbolic link" in error and "secret" not in error
    assert (config.rejected_dir / "x.yaml").is_symlink() and secret.read_text().startswith(SECRET)


def test_a_name_at_the_filesystem_limit_is_queued_and_leaves_the_inbox(store: Store, config: Config) -> None:
    name = "n" * 250 + ".yaml"  # 255 bytes: "<ulid>-" or ".error.txt" would not fit
    (config.inbox / name).write_text("prompt: x\nduration: 10\n")
    outcome = ingest_within(config.inbox / name, store, config)
    assert outcome.status is IngestStatus.QUEUED and outcome.kept_path is not None
    assert outcome.kept_path.exists() and len(os.fsencode(outcome.kept_path.name)) <= 255
    assert not (config.inbox / name).exists()
    bad = "b" * 250 + ".yaml"
    (config.inbox / bad).write_text("prompt: x\nduration: 9999\n")
    rejected = ingest_within(config.inbox / bad, store, config)
    assert rejected.status is IngestStatus.REJECTED and rejected.error_path.exists()
    assert not (config.inbox / bad).exists()


def test_a_file_another_program_still_has_open_waits(store: Store, config: Config) -> None:
    path = config.inbox / "open.yaml"
    with open(path, "w") as writer:
        writer.write("prompt: x\n")
        writer.flush()
        assert ingest_within(path, store, config).status is IngestStatus.BUSY
        writer.write("duration: 10\n")
    outcome = ingest_within(path, store, config)
    assert outcome.status is IngestStatus.QUEUED and outcome.jobs[0].duration_s == 10


def test_merge_keys_chained_forty_levels_deep_are_refused_fast() -> None:
    text = "a0: &a0 {k: 1}\n" + "".join(
        f"a{i}: &a{i} {{<<: [*a{i - 1}, *a{i - 1}], k{i}: 1}}\n" for i in range(1, 41)
    )
    started = time.perf_counter()
    with pytest.raises(Exception, match="too many entries"):
        load_spec(text + "prompt: x\n")
    assert time.perf_counter() - started < 2


@pytest.mark.parametrize("spaces", [200, 400, 3000])
def test_the_key_reader_is_linear(spaces: int) -> None:
    started = time.perf_counter()
    with pytest.raises(ValueError, match="is not a key"):
        parse_key("C" + " " * spaces + "x")
    assert time.perf_counter() - started < 0.1


def test_one_bad_file_never_holds_back_the_valid_ones_behind_it(store: Store, config: Config) -> None:
    os.mkfifo(config.inbox / "a-pipe.yaml")
    (config.inbox / "b-nines.yaml").write_text(f'prompt: x\nduration: "{"9" * 5000}:30"\n')
    (config.inbox / "c-good.yaml").write_text("prompt: calm\nduration: 10\n")
    paths = sorted(config.inbox.iterdir())
    outcomes = ingest_files(paths, store, config, clock)
    assert [o.status for o in outcomes] == [IngestStatus.REJECTED, IngestStatus.REJECTED, IngestStatus.QUEUED]


@pytest.mark.parametrize(
    "field",
    ['title: "x\\ud800y"', 'prompt: "calm \\udfff piano"', 'title: "x\\U0000DBFFy"', '"\\ud83c": 1'],
)
def test_text_no_database_can_store_is_rejected_readably_and_the_batch_goes_on(
    field: str, store: Store, config: Config
) -> None:
    rest = "duration: 10\n" if field.startswith("prompt") else "prompt: calm\nduration: 10\n"
    (config.inbox / "a-half.yaml").write_text(f"{field}\n{rest}")
    (config.inbox / "b-good.yaml").write_text("prompt: calm\nduration: 10\n")
    half, good = ingest_files(sorted(config.inbox.iterdir()), store, config, clock)
    assert half.status is IngestStatus.REJECTED and good.status is IngestStatus.QUEUED
    error = half.error_path.read_text()
    assert "without its other half" in error and "internal error" not in error
    assert not list(config.inbox.glob("*.yaml"))


def test_a_file_whose_rows_the_database_refuses_is_set_aside_and_the_rest_of_the_batch_is_queued(
    store: Store, config: Config, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Whatever the reader lets through that SQLite refuses (here a title with half a character,
    as a reader gap would pass it) costs that file only: the shared commit is retried file by file."""
    from musicd.service import ingest

    real_parse = ingest._parse

    def parse_with_a_gap(data: bytes, name: str, spec_hash: str, seed_source):  # type: ignore[no-untyped-def]
        jobs = real_parse(data, name, spec_hash, seed_source)
        return [dataclasses.replace(j, title="x\ud800") for j in jobs] if name.startswith("b-") else jobs

    monkeypatch.setattr(ingest, "_parse", parse_with_a_gap)
    for name in ("a-good.yaml", "b-gap.yaml", "c-good.yaml"):
        (config.inbox / name).write_text(f"title: {name}\nprompt: calm\nduration: 10\n")
    outcomes = ingest_files(sorted(config.inbox.iterdir()), store, config, clock)
    assert [o.status for o in outcomes] == [IngestStatus.QUEUED, IngestStatus.REJECTED, IngestStatus.QUEUED]
    assert "UnicodeEncodeError" in outcomes[1].error_path.read_text()
    assert sorted(j.title for j in store.list_jobs()) == ["a-good.yaml", "c-good.yaml"]
    assert not list(config.inbox.glob("*.yaml")) and all(o.kept_path for o in (outcomes[0], outcomes[2]))


_NAMES = st.binary(min_size=1, max_size=80).map(
    lambda raw: raw.replace(b"/", b"_").replace(b"\x00", b"_").lstrip(b".") or b"x"
)
_YAMLISH = st.one_of(
    st.binary(max_size=2000),
    st.text(max_size=500).map(str.encode),
    st.tuples(
        st.text(st.characters(max_codepoint=0x7F) | st.characters(categories=["Cs"]), max_size=8),
        st.booleans(),
    ).map(lambda text_long: _escaped_title(*text_long)),
    st.sampled_from(
        [b"prompt: x\nduration: 10\n", b"jobs: []\n", b"- a\n- b\n", b"a: &a [*a]\n", b"key: 'C    x'\n"]
    ),
)


def _escaped_title(text: str, long_form: bool) -> bytes:
    """A valid spec whose title is `text` written with escapes (lone surrogates included), as
    \\uXXXX or YAML's \\UXXXXXXXX."""
    quoted = json.dumps(text)
    if long_form:
        quoted = quoted.replace("\\u", "\\U0000")
    return f"title: {quoted}\nprompt: x\nduration: 10\n".encode()


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(name=_NAMES, data=_YAMLISH)
def test_any_bytes_under_any_name_become_a_job_or_a_readable_rejection(
    name: bytes, data: bytes, store: Store, config: Config
) -> None:
    raw = os.fsencode(config.inbox) + b"/" + name[:200] + b".yaml"
    with open(raw, "wb") as handle:
        handle.write(data)
    path = Path(os.fsdecode(raw))
    started = time.perf_counter()
    outcome = ingest_file(path, store, config, clock)
    assert time.perf_counter() - started < 5
    assert outcome.status in (IngestStatus.QUEUED, IngestStatus.REJECTED)
    if outcome.status is IngestStatus.REJECTED:
        error = outcome.error_path.read_text() if outcome.error_path is not None else ""
        assert "What is wrong" in error and "internal error" not in error, error
    assert not os.path.lexists(raw)


def test_spec_size_limit_is_what_the_reader_enforces(store: Store, config: Config) -> None:
    path = config.inbox / "big.yaml"
    path.write_bytes(b"prompt: x\n#" + b"a" * MAX_SPEC_BYTES)
    outcome = ingest_within(path, store, config)
    assert outcome.status is IngestStatus.REJECTED and "KiB" in outcome.error_path.read_text()


def test_lyrics_with_escapes_nul_and_override_tags_are_written_inert() -> None:
    lyrics = "[verse]\nHello \x1b[31mred\x1b[0m world {\\an8}{\\fs200}tonight\nSecond line\x07 here\n"
    spec = load_spec(f"prompt: x\nduration: 30\nlyrics: {json.dumps(lyrics)}\n")
    form = (Section("verse", 0, 8, 0.5),)
    chords = tuple(ChordTime(bar * 4.0, 4.0, (0, 4, 7)) for bar in range(8))
    vocal = vocal_line(
        spec.lyrics, ["en"], form, 100.0, (4, 4), "C", "major", chords, "high", np.random.default_rng(1)
    )
    for text in (srt_text(vocal), lrc_text(vocal, "Title\x1b[2J with {\\b1}tags")):
        assert "\x1b" not in text and "\x07" not in text and "\\" not in text and "{" not in text
        assert "Hello red world tonight" in text
    assert display_text("a\x00b\u202ec") == "abc"
