"""Job specs: loading, plain-language validation, key names, languages, JSON Schema, examples."""

from __future__ import annotations

import dataclasses
import json
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from musicd.errors import SpecError
from musicd.music.languages import LANGUAGES, canonical_language
from musicd.music.theory import KeySpec, parse_key
from musicd.music.theory import TheoryError as KeyNameError
from musicd.music.theory import pitch_class as tonic_to_pitch_class
from musicd.spec import (
    MAX_SPEC_BYTES,
    JobSpec,
    VideoSpec,
    load_batch,
    load_jobs,
    load_spec,
    spec_json_schema,
    spec_json_schema_text,
)

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = sorted((ROOT / "jobspecs" / "examples").glob("*.yaml"))
SCHEMA_FILE = ROOT / "jobspecs" / "schema.json"

FULL_SPEC = """\
title: Late night study
prompt: relaxing lofi hip-hop for studying, warm and dusty
genres: [lofi, hip-hop]
duration: 90
bpm: 82
key: A minor
seed: 1234
artist_inspiration: [Nujabes]
lyrics: |
  Lost in the rhythm of the night
vocals: {languages: [en], engine: auto, voice: low}
engines: {melody: rules, texture: none}
video: {styles: [spectrum]}
output: {formats: [wav, mp3, flac], stems: true, midi: false}
master: {loudness_lufs: -14, true_peak_db: -1}
"""


def problems_of(text: str | bytes, loader=load_spec) -> list[str]:
    with pytest.raises(SpecError) as caught:
        loader(text, "test.yaml")
    assert caught.value.source == "test.yaml"
    return caught.value.problems


def only_problem(text: str | bytes, loader=load_spec) -> str:
    problems = problems_of(text, loader)
    assert len(problems) == 1, problems
    return problems[0]


# --- valid specs ---------------------------------------------------------------------------


def test_canonical_spec_parses_every_field() -> None:
    spec = load_spec(FULL_SPEC)
    assert spec.title == "Late night study"
    assert spec.prompt == "relaxing lofi hip-hop for studying, warm and dusty"
    assert spec.genres == ("lofi", "hip-hop")
    assert spec.duration_s == 90.0
    assert spec.bpm == 82.0
    assert spec.key == KeySpec("A", "minor")
    assert spec.seed == 1234
    assert spec.artist_inspiration == ("Nujabes",)
    assert spec.lyrics == "Lost in the rhythm of the night"
    assert spec.vocals.languages == ("en",) and spec.vocals.voice == "low"
    assert (spec.engines.melody, spec.engines.texture) == ("rules", "none")
    assert spec.video == VideoSpec(styles=("spectrum",))
    assert spec.output.formats == ("wav", "mp3", "flac")
    assert spec.output.stems is True and spec.output.midi is False
    assert (spec.master.loudness_lufs, spec.master.true_peak_db) == (-14.0, -1.0)


def test_minimal_spec_gets_defaults() -> None:
    spec = load_spec("genres: lofi\n")
    assert spec == JobSpec(genres=("lofi",))
    assert spec.duration_s == 60.0 and spec.video is None and spec.key is None and spec.seed is None
    assert spec.output.formats[0] == "wav"


def test_http_api_aliases_parse_like_canonical_names() -> None:
    aliased = load_spec(
        "musicPrompt: warm jazz\ngenres: [jazz]\ndurationSec: 45\nartistInspiration: [Bill Evans]\n"
        "vocalLanguages: [French]\ngenerateVideo: true\n"
    )
    canonical = load_spec(
        "prompt: warm jazz\ngenres: [jazz]\nduration: 45\nartist_inspiration: [Bill Evans]\n"
        "vocals: {languages: [fr]}\nvideo: true\n"
    )
    assert aliased == canonical
    assert aliased.video == VideoSpec(styles=())
    assert load_spec("prompt: x\nvideoStyles: [Oscilloscope]\n").video == VideoSpec(("scope",))
    assert load_spec("prompt: x\ngenerateVideo: false\n").video is None


def test_nested_alias_merges_with_the_rest_of_its_section() -> None:
    spec = load_spec("prompt: x\nvocalLanguages: [de]\nvocals: {voice: high}\n")
    assert spec.vocals.languages == ("de",) and spec.vocals.voice == "high"


@pytest.mark.parametrize(
    ("written", "seconds"),
    [
        ("1:30", 90),
        ('"1:30"', 90),
        ('"01:30"', 90),
        ('"0:45"', 45),
        ("90", 90),
        ("90.5", 90.5),
        ('"90s"', 90),
        ('"2m"', 120),
        ('"1m30s"', 90),
        ('"1 min 30 s"', 90),
        ("10:00", 600),
    ],
)
def test_duration_accepts_seconds_and_minutes(written: str, seconds: float) -> None:
    assert load_spec(f"prompt: x\nduration: {written}\n").duration_s == seconds


@pytest.mark.parametrize(
    ("written", "styles"),
    [
        ("true", ()),
        ("spectrum", ("spectrum",)),
        ("Abstract Visualizer", ("spectrum",)),
        ("{styles: [Waveform]}", ("waveform",)),
        ("{styles: [audio waveform]}", ("waveform",)),
        ("[Spectrum Analyzer, frequency-bars, EQUALIZER]", ("bars",)),
        ("{styles: [Oscilloscope, vectorscope, scope]}", ("scope",)),
        ("{styles: [bars, spectrum]}", ("bars", "spectrum")),
    ],
)
def test_video_styles_accept_friendly_names(written: str, styles: tuple[str, ...]) -> None:
    assert load_spec(f"prompt: x\nvideo: {written}\n").video == VideoSpec(styles)


def test_video_off_or_absent_means_no_video() -> None:
    assert load_spec("prompt: x\nvideo: false\n").video is None
    assert load_spec("prompt: x\n").video is None
    assert VideoSpec().styles_or("bars") == ("bars",)


def test_names_are_normalised_and_duplicates_dropped() -> None:
    spec = load_spec(
        "genres: [Lo-Fi, lofi, DnB, Hip Hop]\nvocals: {languages: [English, en-US, Español, pt_BR]}\n"
        "output: {formats: [MP3, .flac, wav, mp3]}\nkey: ebm\n"
    )
    assert spec.genres == ("lofi", "drum-and-bass", "hip-hop")
    assert spec.vocals.languages == ("en", "es", "pt")
    assert spec.output.formats == ("wav", "mp3", "flac")
    assert spec.key == KeySpec("Eb", "minor")


def test_yaml_booleans_and_numbers_read_as_the_text_written() -> None:
    # YAML 1.1 reads `no` as false and `1:30` as 90; where text is expected, the text written counts.
    spec = load_spec("title: 1:30\nprompt: 2024-01-01\nvocals: {languages: [no]}\nkey: Bb\n")
    assert spec.title == "1:30" and spec.prompt == "2024-01-01"
    assert spec.vocals.languages == ("nb",)


def test_single_values_and_comma_lists_count_as_lists() -> None:
    spec = load_spec(
        "genres: lofi, hip-hop\nartist_inspiration: Earth, Wind & Fire\nvocals: {languages: fr}\n"
    )
    assert spec.genres == ("lofi", "hip-hop")
    assert spec.artist_inspiration == ("Earth, Wind & Fire",)
    assert spec.vocals.languages == ("fr",)


def test_field_names_must_be_words() -> None:
    assert only_problem("prompt: x\n1: 2\n") == (
        "1: a number (1) is not a field name; field names are words such as prompt or genres (line 2)"
    )
    assert only_problem("prompt: x\n? [a, b]\n: 1\n") == (
        "a list or mapping is used as a field name (line 2); field names are plain words"
    )


def test_null_fields_mean_use_the_default() -> None:
    spec = load_spec("prompt: x\nbpm:\nkey: ~\nvideo: null\nduration: null\n")
    assert spec.bpm is None and spec.key is None and spec.video is None and spec.duration_s == 60.0


def test_to_dict_is_json_ready_and_loads_back_to_an_equal_spec() -> None:
    spec = load_spec(FULL_SPEC)
    data = spec.to_dict()
    assert data["duration"] == 90.0 and data["key"] == "A minor" and data["genres"] == ["lofi", "hip-hop"]
    assert json.loads(json.dumps(data)) == data
    assert load_spec(yaml.safe_dump(data)) == spec
    assert load_spec(json.dumps(load_spec("genres: [rock]").to_dict())) == load_spec("genres: [rock]")


def test_job_spec_is_frozen_and_uses_tuples() -> None:
    spec = load_spec(FULL_SPEC)
    with pytest.raises(dataclasses.FrozenInstanceError):
        spec.duration_s = 10  # type: ignore[misc]
    assert isinstance(spec.genres, tuple) and isinstance(spec.output.formats, tuple)
    assert hash(spec) == hash(load_spec(FULL_SPEC))


def test_display_title_falls_back_to_prompt_then_genres() -> None:
    assert load_spec("genres: [lofi, hip-hop]\n").display_title == "Lofi + Hip-hop"
    assert load_spec("prompt: a b c d e f g h i j\n").display_title == "a b c d e f g h\u2026"
    assert load_spec(FULL_SPEC).display_title == "Late night study"


def test_a_json_payload_is_a_spec_too() -> None:
    spec = load_spec(json.dumps({"musicPrompt": "calm piano", "durationSec": 30, "videoStyles": ["bars"]}))
    assert spec.prompt == "calm piano" and spec.duration_s == 30 and spec.video == VideoSpec(("bars",))
    with pytest.raises(SpecError) as caught:
        load_spec(json.dumps({"prompt": "x", "bpm": 500}))
    assert caught.value.problems == ["bpm: 500 is too fast; allowed 40..220 BPM (line 1)"]


def test_load_batch_keeps_a_single_file_as_written_and_gives_each_list_entry_its_own_text() -> None:
    single = "# my comment\nprompt: calm piano\n"
    [(spec, text)] = load_batch(single)
    assert text == single and spec.prompt == "calm piano"
    batch = load_batch("jobs:\n  - {prompt: one, bpm: 90}\n  - {genres: [rock], seed: 4}\n")
    assert [spec.prompt for spec, _ in batch] == ["one", None]
    for spec, text in batch:
        assert load_spec(text) == spec  # each job's own text loads back to the same spec


def test_utf8_bom_and_utf16_files_are_read() -> None:
    assert load_spec(b"\xef\xbb\xbfgenres: [jazz]\n").genres == ("jazz",)
    assert load_spec("title: Café\ngenres: [jazz]\n".encode("utf-16")).title == "Café"


# --- problems, each in plain language with its line ------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "prompt: x\nbpm: 90\n\nduration: 900\n",
            "duration: 900 is too long; allowed 5..600 seconds (line 4)",
        ),
        ("prompt: x\nduration: 2\n", "duration: 2 is too short; allowed 5..600 seconds (line 2)"),
        ('prompt: x\nduration: "15:00"\n', 'duration: "15:00" is too long; allowed 5..600 seconds (line 2)'),
        (
            "prompt: x\nduration: soon\n",
            'duration: "soon" is not a duration; write seconds (90) or minutes:seconds ("1:30"), '
            "allowed 5..600 seconds (line 2)",
        ),
        ("prompt: x\nbpm: 300\n", "bpm: 300 is too fast; allowed 40..220 BPM (line 2)"),
        ("prompt: x\nbpm: fast\n", 'bpm: expected a number (40..220 BPM), got text ("fast") (line 2)'),
        (
            'prompt: x\nbpm: "90"\n',
            'bpm: expected a number (40..220 BPM), got text ("90"); write the number without quotes (line 2)',
        ),
        (
            "prompt: x\nseed: -1\n",
            "seed: -1 is too low; allowed a whole number from 0 to 9223372036854775807 (line 2)",
        ),
        (
            "prompt: x\nseed: 1.5\n",
            "seed: 1.5 is not a whole number; allowed a whole number from 0 to 9223372036854775807 (line 2)",
        ),
        (
            "prompt: x\nseed: true\n",
            "seed: expected a whole number from 0 to 9223372036854775807, got true/false (true) (line 2)",
        ),
        (
            "prompt: x\nmaster: {loudness_lufs: -40}\n",
            "master.loudness_lufs: -40 is too quiet; allowed -30..-6 LUFS (line 2)",
        ),
        (
            "prompt: x\nmaster:\n  true_peak_db: 2\n",
            "master.true_peak_db: 2 is too high; allowed -9..0 dBTP (line 3)",
        ),
        (
            "prompt: x\ngenres: {a: 1}\n",
            "genres: expected a list of genres, got a mapping (field: value pairs), e.g. [lofi] (line 2)",
        ),
        (
            "prompt: x\noutput: {stems: maybe}\n",
            'output.stems: expected true or false, got text ("maybe") (line 2)',
        ),
        (
            "prompt: x\nvideo: 3\n",
            "video: expected true, false, a style name or a mapping such as {styles: [spectrum]}, "
            "got a number (3) (line 2)",
        ),
        (
            "prompt: x\nvocals: [en]\n",
            "vocals: expected a mapping with languages, engine, voice, got a list (1 entry), "
            "e.g. {languages: [en], engine: auto, voice: auto} (line 2)",
        ),
        (
            "prompt: x\noutput: {formats: [mp3, aac]}\n",
            'output.formats[1]: "aac" is not a supported audio format; allowed: wav, mp3, flac, ogg, opus (line 2)',
        ),
        (
            "prompt: x\nengines: {melody: jazzbot}\n",
            'engines.melody: "jazzbot" is not a known melody engine; allowed: auto, rules, magenta (line 2)',
        ),
        (
            "prompt: x\nvocals: {engine: loud}\n",
            'vocals.engine: "loud" is not a known vocal engine; allowed: auto, coqui, piper, mbrola, espeak, none (line 2)',
        ),
        ('prompt: |\n  two\n  lines\ntitle: "a\\nb"\n', "title: must be a single line of text (line 4)"),
        (
            'prompt: "   "\n',
            "prompt: is empty; write a few words about the music, or leave the field out (line 1)",
        ),
        (
            "prompt: x\nduraton: 90\n",
            "duraton: unknown field; did you mean duration or durationSec? (line 2)",
        ),
        ("prompt: x\ntempo: 90\n", "tempo: unknown field; did you mean bpm? (line 2)"),
        ("prompt: x\nformat: [mp3]\n", "format: unknown field; did you mean formats inside output? (line 2)"),
        ("prompt: x\nDuration: 30\n", "Duration: unknown field; did you mean duration? (line 2)"),
        (
            "prompt: x\noutput:\n  stems: true\n  fromats: [mp3]\n",
            "output.fromats: unknown field; did you mean formats? (line 4)",
        ),
        (
            "prompt: x\nzzqx: 1\n",
            "zzqx: unknown field; the fields here are: title, prompt, genres, duration, bpm, key, "
            "seed, artist_inspiration, lyrics, vocals, engines, video, output, master, musicPrompt, durationSec, "
            "artistInspiration, vocalLanguages, generateVideo, videoStyles (line 2)",
        ),
        (
            "prompt: x\nmusicPrompt: y\n",
            "musicPrompt: given together with prompt; they set the same thing, keep only one "
            "(prompt is the current name) (line 2)",
        ),
        (
            "prompt: x\nvocals: {languages: [en]}\nvocalLanguages: [fr]\n",
            "vocalLanguages: given together with vocals.languages; they set the same thing, keep only one "
            "(vocals.languages is the current name) (line 3)",
        ),
        (
            "prompt: x\nvideo: true\ngenerateVideo: true\n",
            "generateVideo: given together with video; they set the same thing, keep only one "
            "(video is the current name) (line 3)",
        ),
        (
            "prompt: x\ngenerateVideo: false\nvideoStyles: [bars]\n",
            "generateVideo: is false but videoStyles are given; set generateVideo: true or drop videoStyles (line 2)",
        ),
        (
            "title: only a title\n",
            "a job needs a prompt or genres (or both), e.g. `prompt: relaxing lofi for studying` or "
            "`genres: [lofi]` (line 1)",
        ),
        (
            "genres: [lofi]\nbpm: 80\ngenres: [rock]\n",
            "genres: is given twice, first on line 1; keep one (line 3)",
        ),
    ],
)
def test_bad_value_gets_its_own_plain_message_and_line(text: str, expected: str) -> None:
    assert only_problem(text) == expected


def test_unknown_genre_suggests_close_matches() -> None:
    problem = only_problem("prompt: x\ngenres:\n  - lofi\n  - tecno\n")
    assert problem.startswith(
        'genres[1]: "tecno" is not a known genre (did you mean techno?); allowed: lofi, '
    )
    assert problem.endswith("(line 4)")


def test_bad_key_name_explains_the_form() -> None:
    problem = only_problem("prompt: x\nkey: H minor\n")
    assert problem == (
        'key: "H minor" is not a key; write a tonic A-G with an optional # or b, then a mode (major, minor, '
        'dorian, phrygian, lydian, mixolydian or locrian), e.g. "C major", "F# minor", "D dorian", "Bb", '
        '"Ebm" (line 2)'
    )


def test_unsupported_language_names_the_supported_ones() -> None:
    problem = only_problem("prompt: x\nvocals:\n  languages: [en, Englsh]\n")
    assert problem.startswith(
        'vocals.languages[1]: "Englsh" is not a supported vocal language (did you mean English?)'
    )
    problems = problems_of("prompt: x\nvocals:\n  languages: [klingon]\n")
    assert problems[0].startswith(
        'vocals.languages[0]: "klingon" is not a supported vocal language; allowed: en (English), '
    )
    for code in ("es (Spanish)", "ja (Japanese)", "ko (Korean)", "hi (Hindi)"):
        assert code in problems[0]


def test_unknown_video_style_lists_the_allowed_ones() -> None:
    problem = only_problem("prompt: x\nvideo:\n  styles: [spectrum, matrix]\n")
    assert problem == (
        'video.styles[1]: "matrix" is not a known video style; allowed: waveform, spectrum, bars, scope '
        '(or a name such as "Abstract Visualizer", "Waveform", "Spectrum Analyzer", "Oscilloscope") (line 3)'
    )


def test_too_long_texts_and_lists_are_refused() -> None:
    lyrics = "\n".join(["la la la la la la la la la"] * 200)
    problem = only_problem("prompt: x\nlyrics: |\n" + "".join(f"  {line}\n" for line in lyrics.splitlines()))
    assert problem == f"lyrics: is {len(lyrics)} characters long; allowed up to 5000 characters (line 2)"
    assert only_problem(f"title: {'t' * 201}\nprompt: x\n") == (
        "title: is 201 characters long; allowed up to 200 characters (line 1)"
    )
    assert only_problem(f"prompt: {'p' * 1001}\n") == (
        "prompt: is 1001 characters long; allowed up to 1000 characters (line 1)"
    )
    nine = ", ".join(["lofi", "rock", "jazz", "pop", "funk", "soul", "folk", "blues", "trap"])
    assert only_problem(f"genres: [{nine}]\n") == "genres: has 9 entries; allowed up to 8 genres (line 1)"


def test_all_problems_are_reported_at_once_in_file_order() -> None:
    text = """\
title: Many mistakes
prompt: x
genres: [lofy, hip-hop]
duration: 900
bpm: fast
key: H minor
seed: -3
vocals: {languages: [klingon]}
video: {styles: [matrix]}
output: {formats: [aac], stems: maybe}
master: {loudness_lufs: -40}
musicPrompt: y
colour: blue
"""
    problems = problems_of(text)
    fields = [problem.split(":")[0] for problem in problems]
    assert fields == [
        "genres[0]",
        "duration",
        "bpm",
        "key",
        "seed",
        "vocals.languages[0]",
        "video.styles[0]",
        "output.formats[0]",
        "output.stems",
        "master.loudness_lufs",
        "musicPrompt",
        "colour",
    ]
    lines = [int(re.search(r"\(line (\d+)\)$", problem).group(1)) for problem in problems]
    assert lines == [3, 4, 5, 6, 7, 8, 9, 10, 10, 11, 12, 13]


def test_error_message_names_the_source_and_lists_problems() -> None:
    with pytest.raises(SpecError) as caught:
        load_spec("prompt: x\nbpm: 1\nduration: 1\n", "inbox/song.yaml")
    assert str(caught.value) == (
        "inbox/song.yaml is not a valid musicd job spec:\n"
        "  - bpm: 1 is too slow; allowed 40..220 BPM (line 2)\n"
        "  - duration: 1 is too short; allowed 5..600 seconds (line 3)"
    )


# --- documents that are not job specs ------------------------------------------------------


@pytest.mark.parametrize("text", ["", "\n\n", "# just a comment\n", "---\n"])
def test_empty_file_is_refused(text: str) -> None:
    assert only_problem(text).startswith("the file is empty; a job spec needs at least a prompt or genres")


@pytest.mark.parametrize(
    ("text", "what"),
    [
        ("- prompt: x\n- genres: [rock]\n", "a list (2 entries)"),
        ("just some words\n", 'text ("just some words")'),
        ("42\n", "a number (42)"),
    ],
)
def test_non_mapping_document_is_refused(text: str, what: str) -> None:
    assert only_problem(text) == (
        f"a job spec is a mapping of fields such as `prompt: ...` and `genres: [...]`, but this is {what} (line 1)"
    )


def test_python_tags_are_refused_and_never_run(tmp_path: Path) -> None:
    marker = tmp_path / "ran"
    text = f"prompt: !!python/object/apply:os.system ['touch {marker}']\n"
    assert only_problem(text) == (
        "the tag !!python/object/apply:os.system is not allowed (line 1); a job spec holds only plain text, "
        "numbers, true/false, lists and mappings"
    )
    assert not marker.exists()
    assert "!!python/object:collections.OrderedDict is not allowed" in only_problem(
        "prompt: !!python/object:collections.OrderedDict {}\n"
    )


def test_binary_junk_is_refused() -> None:
    assert only_problem(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\xff\xd8") == (
        "the file is not UTF-8 text (byte 0x89 on line 1); a job spec is a plain-text YAML file, save it as UTF-8"
    )
    assert only_problem(b"prompt: x\n\x00\x01\x02") == (
        "the file contains binary data (control character 0x00 on line 2); a job spec is a plain-text YAML file"
    )


def test_huge_file_is_refused_before_parsing() -> None:
    text = "prompt: x\nlyrics: |\n" + "  la la la\n" * (MAX_SPEC_BYTES // 10)
    assert only_problem(text).startswith("the file is 70.4 KiB; a job spec may be at most 64 KiB")


def test_broken_yaml_says_where() -> None:
    problem = only_problem("prompt: x\ngenres: [lofi\nbpm: 80\n")
    assert problem.startswith("the file is not valid YAML: ")
    assert "(line 3)" in problem and "check the indentation" in problem
    assert only_problem("prompt: a\n---\nprompt: b\n") == (
        "the file holds more than one YAML document (another `---` on line 2); put one job per file, "
        "or several jobs in a `jobs:` list"
    )


def test_hostile_structures_fail_fast_with_a_message() -> None:
    started = time.monotonic()
    bomb = (
        "a: &a [x, x, x, x, x, x, x, x, x]\n"
        + "".join(f"{chr(98 + i)}: &{chr(98 + i)} [{', '.join(['*' + chr(97 + i)] * 9)}]\n" for i in range(8))
        + "prompt: x\ngenres: *i\n"
    )
    problems = problems_of(bomb)
    assert "genres: has 9 entries; allowed up to 8 genres (line 11)" in problems
    assert "a: unknown field; the fields here are:" in problems[0]
    assert only_problem("[" * 5000) == "the file is nested too deeply to be a job spec"
    assert only_problem("prompt: x\nseed: " + "9" * 5000 + "\n") == (
        "the file holds a value that cannot be read (a number with thousands of digits)"
    )
    assert time.monotonic() - started < 10


# --- jobs lists ----------------------------------------------------------------------------


def test_jobs_list_loads_every_job() -> None:
    specs = load_jobs("jobs:\n  - genres: [techno]\n    duration: 30\n  - prompt: calm piano\n")
    assert [spec.genres for spec in specs] == [("techno",), ()]
    assert specs[0].duration_s == 30 and specs[1].prompt == "calm piano"
    assert load_jobs("genres: [rock]\n") == [load_spec("genres: [rock]\n")]


def test_jobs_list_with_a_bad_entry_is_refused_whole_with_paths() -> None:
    text = """\
jobs:
  - genres: [techno]
  - genres: [rock]
    duration: 900
  - prompt: fine
    keyy: C
  - [not, a, job]
"""
    assert problems_of(text, load_jobs) == [
        "jobs[1].duration: 900 is too long; allowed 5..600 seconds (line 4)",
        "jobs[2].keyy: unknown field; did you mean key? (line 6)",
        "jobs[3]: a job spec is a mapping of fields such as `prompt: ...` and `genres: [...]`, "
        "but this is a list (3 entries) (line 7)",
    ]


def test_jobs_can_share_defaults_through_an_x_anchor() -> None:
    text = """\
x-defaults: &defaults
  duration: 30
  bpm: 90
jobs:
  - <<: *defaults
    genres: [rock]
  - <<: *defaults
    genres: [jazz]
    bpm: 300
"""
    assert problems_of(text, load_jobs) == ["jobs[1].bpm: 300 is too fast; allowed 40..220 BPM (line 9)"]
    specs = load_jobs(text.replace("bpm: 300", "bpm: 120"))
    assert [(spec.genres, spec.duration_s, spec.bpm) for spec in specs] == [
        (("rock",), 30, 90),
        (("jazz",), 30, 120),
    ]
    assert problems_of(text.replace("duration: 30", "duration: 700"), load_jobs) == [
        "jobs[0].duration: 700 is too long; allowed 5..600 seconds (line 2)",
        "jobs[1].duration: 700 is too long; allowed 5..600 seconds (line 2)",
        "jobs[1].bpm: 300 is too fast; allowed 40..220 BPM (line 9)",
    ]


def test_jobs_file_shape_problems() -> None:
    assert only_problem("jobs: []\n", load_jobs) == "jobs: is empty; list at least one job (line 1)"
    assert only_problem("jobs: {prompt: x}\n", load_jobs) == (
        "jobs: expected a list of jobs (each starting with `- `), got a mapping (field: value pairs) (line 1)"
    )
    assert problems_of("jobs:\n  - prompt: x\nbpm: 80\n", load_jobs) == [
        "bpm: a file with a `jobs:` list holds nothing else; move bpm into each job that needs it "
        "(or name it x-... to hold YAML anchors) (line 3)"
    ]
    assert only_problem("jobs:\n" + "  - genres: [rock]\n" * 51, load_jobs) == (
        "jobs: has 51 jobs; allowed up to 50 per file (line 1)"
    )
    assert only_problem("jobs:\n  - prompt: x\n") == (
        "jobs: this file holds a list of jobs; put one job's fields at the top level, or submit the file "
        "as a batch (line 1)"
    )


# --- key names -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "tonic", "mode"),
    [
        ("C major", "C", "major"),
        ("A minor", "A", "minor"),
        ("F# minor", "F#", "minor"),
        ("D dorian", "D", "dorian"),
        ("Bb", "Bb", "major"),
        ("bb", "Bb", "major"),
        ("a", "A", "major"),
        ("Ebm", "Eb", "minor"),
        ("c#m", "C#", "minor"),
        ("CM", "C", "major"),
        ("G Mixolydian", "G", "mixolydian"),
        ("e phrygian", "E", "phrygian"),
        ("F lydian", "F", "lydian"),
        ("B locrian", "B", "locrian"),
        ("Db maj", "Db", "major"),
        ("g min", "G", "minor"),
        ("C ionian", "C", "major"),
        ("A aeolian", "A", "minor"),
        ("C sharp minor", "C#", "minor"),
        ("B flat major", "Bb", "major"),
        ("E\u266d minor", "Eb", "minor"),
        ("f#-minor", "F#", "minor"),
    ],
)
def test_parse_key_reads_common_spellings(text: str, tonic: str, mode: str) -> None:
    assert parse_key(text) == KeySpec(tonic, mode)


@pytest.mark.parametrize("text", ["H minor", "C blues", "minor", "", "Cbb", "C# major minor", "X"])
def test_parse_key_refuses_other_text_and_explains_the_form(text: str) -> None:
    with pytest.raises(KeyNameError, match=r"is not a key; write a tonic A-G with an optional # or b"):
        parse_key(text)


def test_tonic_pitch_classes_and_scales() -> None:
    assert [tonic_to_pitch_class(t) for t in ("C", "c#", "Db", "bb", "B", "Cb", "E#", "F\u266f")] == [
        0,
        1,
        1,
        10,
        11,
        11,
        5,
        6,
    ]
    with pytest.raises(KeyNameError):
        tonic_to_pitch_class("H")
    assert parse_key("A minor").scale_pitch_classes() == (9, 11, 0, 2, 4, 5, 7)
    assert parse_key("D dorian").scale_pitch_classes() == (2, 4, 5, 7, 9, 11, 0)
    assert str(parse_key("f# min")) == "F# minor"


# --- languages -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "code"),
    [
        ("English", "en"),
        ("en", "en"),
        ("en-US", "en"),
        ("EN_gb", "en"),
        ("Español", "es"),
        ("espanol", "es"),
        ("Français", "fr"),
        ("Deutsch", "de"),
        ("pt-BR", "pt"),
        ("日本語", "ja"),
        ("Mandarin", "zh"),
        ("zh-Hans", "zh"),
        ("Korean", "ko"),
        ("हिन्दी", "hi"),
        ("English (US)", "en"),
        ("no", "nb"),
    ],
)
def test_canonical_language_accepts_codes_and_names(text: str, code: str) -> None:
    assert canonical_language(text) == code


@pytest.mark.parametrize("text", ["klingon", "", "e", "xx-YY"])
def test_canonical_language_refuses_unknown(text: str) -> None:
    assert canonical_language(text) is None


def test_required_languages_are_supported() -> None:
    for code in (
        "en",
        "es",
        "fr",
        "de",
        "it",
        "pt",
        "nl",
        "pl",
        "cs",
        "tr",
        "ru",
        "sv",
        "fi",
        "hu",
        "hi",
        "zh",
        "ja",
        "ko",
    ):
        assert code in LANGUAGES


@pytest.mark.skipif(shutil.which("espeak-ng") is None, reason="espeak-ng is not installed")
def test_every_language_has_an_installed_espeak_voice() -> None:
    listing = subprocess.run(["espeak-ng", "--voices"], capture_output=True, text=True, check=True).stdout
    installed = {line.split()[1] for line in listing.splitlines()[1:] if len(line.split()) > 1}
    missing = {
        code: lang.espeak_voice for code, lang in LANGUAGES.items() if lang.espeak_voice not in installed
    }
    assert not missing


# --- JSON Schema and examples --------------------------------------------------------------


def test_committed_schema_file_is_current() -> None:
    assert SCHEMA_FILE.read_text(encoding="utf-8") == spec_json_schema_text(), (
        "jobspecs/schema.json is out of date; regenerate it with `python -m musicd.spec > jobspecs/schema.json`"
    )
    assert spec_json_schema_text().endswith("}\n")


def test_module_entry_point_prints_the_schema() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "musicd.spec"], capture_output=True, text=True, check=True, cwd=ROOT
    )
    assert result.stdout == spec_json_schema_text()


def test_schema_describes_fields_aliases_enums_and_ranges() -> None:
    schema = spec_json_schema()
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    job = schema["$defs"]["job"]
    props = job["properties"]
    assert job["additionalProperties"] is False
    for name in (
        "title",
        "prompt",
        "genres",
        "duration",
        "bpm",
        "key",
        "seed",
        "artist_inspiration",
        "lyrics",
        "vocals",
        "engines",
        "video",
        "output",
        "master",
        "musicPrompt",
        "durationSec",
        "artistInspiration",
        "vocalLanguages",
        "generateVideo",
        "videoStyles",
    ):
        assert props[name]["description"], name
    assert props["bpm"]["minimum"] == 40 and props["bpm"]["maximum"] == 220
    assert props["duration"]["default"] == 60
    assert props["output"]["properties"]["formats"]["anyOf"][0]["items"]["enum"] == [
        "wav",
        "mp3",
        "flac",
        "ogg",
        "opus",
    ]
    assert props["lyrics"]["maxLength"] == 5000


def test_schema_agrees_with_the_loader() -> None:
    jsonschema = pytest.importorskip("jsonschema")
    validator = jsonschema.Draft202012Validator(spec_json_schema())
    jsonschema.Draft202012Validator.check_schema(spec_json_schema())
    assert not list(validator.iter_errors(yaml.safe_load(FULL_SPEC)))
    assert not list(validator.iter_errors(load_spec(FULL_SPEC).to_dict()))
    assert not list(validator.iter_errors({"jobs": [{"genres": ["rock"]}, {"musicPrompt": "x"}]}))
    for bad in (
        {"prompt": "x", "duration": 900},
        {"prompt": "x", "musicPrompt": "y"},
        {"title": "t"},
        {"prompt": "x", "colour": "blue"},
        {"prompt": "x", "key": "H minor"},
        {"prompt": "x", "generateVideo": False, "videoStyles": ["bars"]},
        {"prompt": "x", "vocals": {"languages": ["en"]}, "vocalLanguages": ["fr"]},
    ):
        assert list(validator.iter_errors(bad)), bad
        with pytest.raises(SpecError):
            load_spec(json.dumps(bad))


def test_there_are_enough_varied_examples() -> None:
    assert len(EXAMPLES) >= 8
    specs = [load_spec(path.read_bytes(), path.name) for path in EXAMPLES]
    assert len({genre for spec in specs for genre in spec.genres}) >= 10
    assert sum(spec.video is not None for spec in specs) in (1, 2, 3)
    assert any(spec.lyrics for spec in specs)
    assert any(len(spec.output.formats) >= 3 for spec in specs)
    assert any("musicPrompt:" in path.read_text(encoding="utf-8") for path in EXAMPLES)


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda path: path.name)
def test_example_is_valid_quick_and_points_at_the_schema(path: Path) -> None:
    text = path.read_text(encoding="utf-8")
    assert text.splitlines()[0] == "# yaml-language-server: $schema=../schema.json"
    spec = load_spec(text, path.name)
    assert 20 <= spec.duration_s <= 60
    assert spec.seed is not None
    jsonschema = pytest.importorskip("jsonschema")
    assert not list(jsonschema.Draft202012Validator(spec_json_schema()).iter_errors(yaml.safe_load(text)))
