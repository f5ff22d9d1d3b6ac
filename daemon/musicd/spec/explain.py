"""`musicd validate --explain`: how a valid spec will be read, before anything is rendered.

For each job: the genres after aliases and inference (and when a string collapsed into one
genre), moods, tempo, key, duration and form from the plan, the files the job writes, and
rough size and time estimates. Size: exact for WAV, typical bitrates for the other formats.
Time: per-second ratios measured on a 2-core machine (README, Performance).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from musicd.spec.fit import FIT_SEEDS, sings
from musicd.spec.model import JobSpec

# prompt words for instruments -> the part of a General MIDI name that plays them
INSTRUMENT_WORDS = {
    "piano": "piano",
    "rhodes": "electric piano",
    "guitar": "guitar",
    "guitars": "guitar",
    "strings": "string",
    "violin": "violin",
    "cello": "cello",
    "sax": "sax",
    "saxophone": "sax",
    "trumpet": "trumpet",
    "horns": "horn",
    "flute": "flute",
    "organ": "organ",
    "harp": "harp",
    "choir": "choir",
    "synth": "synth",
}
TAIL_S = 2.5  # the audio runs on past the last bar line (release and reverb tails)
# Bytes per second of audio (stereo 44.1 kHz): WAV exact; the others measured on rendered
# 30 s pop and ambient jobs (they vary with the music: a full mix compresses less).
BYTES_PER_S = {"wav": 176_400.0, "mp3": 25_000.0, "flac": 105_000.0, "ogg": 25_000.0, "opus": 25_000.0}
STEM_BYTES_PER_S = 120_000.0  # one 24-bit FLAC stem: 80-200 kB/s measured, drums the most
# 720p30 x264 crf 23 under a 4 Mb/s cap, plus 192 kb/s AAC: busy styles approach the cap
VIDEO_BYTES_PER_S = {"spectrum": 450_000.0, "bars": 70_000.0}
VIDEO_DEFAULT_BYTES_PER_S = 300_000.0
COVER_BYTES = 1_000_000  # cover.png + cover.jpg
# Job seconds per second of audio on an idle 2-core machine (README, Performance): render
# to encode, one video style, and the piper singer (English; the other singers about 0.01).
JOB_S_PER_S = 0.05
JOB_FIXED_S = 0.5
VIDEO_S_PER_S = 0.14
VOCALS_S_PER_S = {"piper": 0.2, "other": 0.01}


def explain_jobs(data: bytes | str, source: str = "spec") -> list[dict[str, Any]]:
    """Each job of a spec file as plain data; raises SpecError like load_jobs."""
    from musicd.spec.load import load_jobs
    from musicd.spec.yaml_source import read_yaml

    specs = load_jobs(data, source)
    document, _ = read_yaml(data, source)
    raws = document["jobs"] if isinstance(document, dict) and "jobs" in document else [document]
    return [explain_job(spec, raw if isinstance(raw, dict) else {}) for spec, raw in zip(specs, raws)]


def _raw_genres(raw: dict[Any, Any]) -> list[str]:
    value = raw.get("genres")
    if isinstance(value, list):
        return [str(v) for v in value if v is not None]
    if isinstance(value, str):
        return [part for part in value.split(",") if part.strip()] if "," in value else [value]
    return []


def genre_notes(written: Sequence[str]) -> list[str]:
    """How each genre string of the spec was read: aliases, and strings that became one genre."""
    from musicd.music.genres import canonical_genre

    notes: list[str] = []
    seen: set[str] = set()
    for text in written:
        genre = canonical_genre(text)
        if genre is None:
            continue
        words = [w for w in re.split(r"[\s/_]+", text.strip()) if w]
        others = [g for g in (canonical_genre(w) for w in words) if g and g != genre]
        if others:
            notes.append(
                f'"{text}" is read as ONE genre, {genre}; for {genre} and {others[0]} together '
                f"write them as two list entries: [{', '.join(dict.fromkeys(words))}]"
            )
        elif text.strip().lower() != genre:
            notes.append(f'"{text}" is read as {genre}')
        if genre in seen:
            notes.append(f'"{text}" repeats {genre}; it counts once')
        seen.add(genre)
    return notes


def explain_job(spec: JobSpec, raw: dict[Any, Any] | None = None) -> dict[str, Any]:
    """How one validated job will be read: plan figures, files, size and time estimates."""
    from musicd.music.genres import gm_program_name
    from musicd.music.plan import make_plan
    from musicd.pipeline.names import STEM_FORMAT, STEMS_DIR, mix_name

    seed = spec.seed if spec.seed is not None else 0
    plan = make_plan(spec, seed)
    if spec.genres:
        genres_from = "the spec"
        notes = genre_notes(_raw_genres(raw or {}))
    else:
        genres_from = "the prompt"
        notes = [plan.decisions[0]]
        if "default" in plan.decisions[0]:
            notes.append("add `genres:` to choose; `musicd genres` lists them")
    variation: dict[str, Any] | None = None
    if spec.seed is None:
        plans = [make_plan(spec, s) for s in range(FIT_SEEDS)]
        tempos = sorted({p.tempo_bpm for p in plans})
        keys = sorted({f"{p.key_tonic} {p.mode}" for p in plans})
        variation = {
            "seeds": FIT_SEEDS,
            "tempo_bpm": [tempos[0], tempos[-1]],
            "keys": keys,
            "bars": [min(p.bars for p in plans), max(p.bars for p in plans)],
        }
    form = [
        {
            "name": s.name,
            "bars": s.bars,
            "start_s": round(plan.bar_to_seconds(s.start_bar), 1),
            "end_s": round(plan.bar_to_seconds(s.end_bar), 1),
        }
        for s in plan.form
    ]
    instruments = {role: gm_program_name(p) for role, p in plan.instruments.items()}
    names = " ".join(instruments.values()).lower()
    asked = dict.fromkeys(
        word
        for word in re.findall(r"[a-z]+", (spec.prompt or "").lower())
        if word in INSTRUMENT_WORDS and INSTRUMENT_WORDS[word] not in names
    )
    if asked:
        notes.append(
            f"the prompt names {', '.join(asked)}, which no part plays: prompt words choose genres "
            "and moods, not instruments (the parts below come from the genre)"
        )
    sung = sings(spec)
    parts = [*(["drums"] if plan.groove != "none" else []), *plan.instruments]
    if spec.engines.texture != "none":
        parts.append("texture")
    if sung:
        parts.append("vocals")
    duration_s = plan.duration_s
    audio_s = duration_s + TAIL_S
    files: list[dict[str, Any]] = []

    def add(path: str, what: str, size: float) -> None:
        files.append({"path": path, "what": what, "bytes": int(size)})

    for fmt in spec.output.formats:
        what = "the master (16-bit, 44.1 kHz)" if fmt == "wav" else f"the mix as {fmt}"
        add(mix_name(spec.display_title, fmt), what, BYTES_PER_S[fmt] * audio_s)
    if spec.output.stems:
        for part in parts:
            add(f"{STEMS_DIR}/{part}.{STEM_FORMAT}", f"the {part} stem (24-bit)", STEM_BYTES_PER_S * audio_s)
    if spec.output.midi:
        add("score.mid", "the score (MIDI)", 20_000)
    if sung:
        add("lyrics.lrc", "synchronised lyrics", 2_000)
        add("lyrics.srt", "subtitles (burnt into the video)", 2_000)
    add("cover.png", "the cover; cover.jpg (600 px) is embedded in the tags", COVER_BYTES)
    styles = spec.video.styles_or(plan.video.default_style) if spec.video else ()
    for index, style in enumerate(styles):
        name = "video.mp4" if index == 0 else f"video-{style}.mp4"
        rate = VIDEO_BYTES_PER_S.get(style, VIDEO_DEFAULT_BYTES_PER_S)
        add(name, f"the {style} video (720p)", rate * audio_s)
    add("spec.yaml", "the spec as submitted", 2_000)
    add("manifest.json", "what ran, every decision and file", 20_000)

    english = "en" in spec.vocals.languages[:1]
    singer = "piper" if english and spec.vocals.engine in ("auto", "piper") else "other"
    time_s = JOB_FIXED_S + JOB_S_PER_S * duration_s + VIDEO_S_PER_S * duration_s * len(styles)
    if sung:
        time_s += VOCALS_S_PER_S[singer] * duration_s
    return {
        "title": spec.display_title,
        "genres": list(plan.genres),
        "genres_from": genres_from,
        "genre_notes": notes,
        "moods": list(plan.moods),
        "seed": spec.seed,
        "plan_seed": seed,
        "variation": variation,
        "tempo_bpm": round(plan.tempo_bpm, 2),
        "tempo_from": "the spec" if spec.bpm else f"the {plan.primary.name} range, fitted to whole bars",
        "key": f"{plan.key_tonic} {plan.mode}",
        "key_from": "the spec" if spec.key is not None else f"the typical {plan.primary.name} keys",
        "meter": f"{plan.meter[0]}/{plan.meter[1]}",
        "requested_duration_s": spec.duration_s,
        "duration_s": round(duration_s, 1),
        "bars": plan.bars,
        "form": form,
        "instruments": instruments,
        "vocals": {
            "sung": sung,
            "languages": list(spec.vocals.languages),
            "engine": spec.vocals.engine,
            "voice": spec.vocals.voice,
        },
        "files": files,
        "size_bytes": sum(f["bytes"] for f in files),
        "size_how": "WAV exact; the other files at rates measured on rendered jobs (they vary "
        "with the music)",
        "time_s": round(time_s, 1),
        "time_how": f"per second of audio: {JOB_S_PER_S:g} s render to encode, {VIDEO_S_PER_S:g} s "
        f"per video, {VOCALS_S_PER_S['piper']:g} s for the piper singer, measured on an idle 2-core "
        "machine (README, Performance); Magenta and the neural texture engines add more",
        "decisions": list(plan.decisions),
    }


def _size(n: float) -> str:
    return f"{n / 1e6:.1f} MB" if n >= 100_000 else f"{n / 1e3:.0f} kB"


def _clock(seconds: float) -> str:
    return f"{int(seconds) // 60}:{seconds % 60:04.1f}"


def explain_text(job: dict[str, Any]) -> str:
    """The explanation of one job (explain_job's data) for a terminal."""
    lines = [f'"{job["title"]}"']
    lines.append(f"  genres:   {', '.join(job['genres'])} (from {job['genres_from']})")
    lines.extend(f"            {note}" for note in job["genre_notes"])
    if job["moods"]:
        lines.append(
            f"  moods:    {', '.join(job['moods'])} (from prompt words; they bend tempo, mode, energy)"
        )
    variation = job["variation"]
    if variation is None:
        lines.append(f"  seed:     {job['seed']} (the same seed gives the same track)")
    else:
        low, high = variation["tempo_bpm"]
        keys = variation["keys"]
        tempo = f"{low:.0f} bpm" if round(low) == round(high) else f"{low:.0f}-{high:.0f} bpm"
        lines.append(
            f"  seed:     none; drawn per job. Shown for seed {job['plan_seed']}; over "
            f"{variation['seeds']} seeds: {tempo}, {len(keys)} key(s) "
            f"({', '.join(keys[:4])}{', ...' if len(keys) > 4 else ''})"
        )
    lines.append(f"  tempo:    {job['tempo_bpm']:.4g} bpm (from {job['tempo_from']})")
    lines.append(f"  key:      {job['key']} (from {job['key_from']}), meter {job['meter']}")
    lines.append(
        f"  duration: {job['duration_s']:g} s ({job['bars']} bars; asked {job['requested_duration_s']:g} s)"
    )
    form = ", ".join(
        f"{s['name']} {s['bars']} bar{'s' if s['bars'] != 1 else ''} {_clock(s['start_s'])}-{_clock(s['end_s'])}"
        for s in job["form"]
    )
    lines.append(f"  form:     {form}")
    lines.append("  parts:    " + ", ".join(f"{role} {name}" for role, name in job["instruments"].items()))
    vocals = job["vocals"]
    if vocals["sung"]:
        lines.append(
            f"  vocals:   sung in {', '.join(vocals['languages'])} (engine {vocals['engine']}, "
            f"voice {vocals['voice']}); the lyrics fit the form"
        )
    else:
        lines.append("  vocals:   none (instrumental)")
    lines.append("  files (in the job's outbox folder):")
    width = max(len(f["path"]) for f in job["files"])
    for entry in job["files"]:
        lines.append(f"    {entry['path']:<{width}}  {_size(entry['bytes']):>8}  {entry['what']}")
    lines.append(f"  size:     about {_size(job['size_bytes'])} ({job['size_how']})")
    lines.append(f"  time:     about {job['time_s']:.0f} s ({job['time_how']})")
    return "\n".join(lines)
