"""End to end: a spec becomes a mastered track folder (real FluidSynth and ffmpeg)."""

from __future__ import annotations

import json
from pathlib import Path

import mido
import pytest
import soundfile as sf

from musicd.audio.loudness import measure_file_loudness
from musicd.errors import CancelledError
from musicd.music.genres import GENRE_NAMES
from musicd.pipeline import Resources, run_job
from musicd.spec import load_spec


@pytest.fixture(scope="module")
def resources() -> Resources:
    return Resources.load()


def _spec(text: str):
    return load_spec(text, source="test.yaml")


@pytest.mark.parametrize("genre", GENRE_NAMES)
def test_every_genre_renders_at_target_loudness(genre: str, resources: Resources, tmp_path: Path) -> None:
    spec = _spec(f"genres: [{genre}]\nduration: 20\nseed: 7\noutput: {{stems: false}}\n")
    result = run_job(spec, tmp_path, resources)
    wav = tmp_path / result.manifest["mix"]["wav"]
    assert wav.name == f"{genre}.wav"  # untitled: named after the genres
    measured = measure_file_loudness(wav)
    assert abs(measured.integrated_lufs - (-14.0)) <= 0.5, measured
    assert measured.true_peak_db <= -1.0, measured
    info = sf.info(wav)
    assert info.samplerate == 44100 and info.channels == 2 and info.subtype == "PCM_16"
    assert 19.0 <= info.duration <= 21.0 + 6.0  # the request within 1 s, plus a release tail
    assert result.manifest["plan"]["genres"][0] == genre


def test_track_folder_has_every_promised_file(resources: Resources, tmp_path: Path) -> None:
    data = (
        b"title: Folder check\ngenres: [house]\nduration: 12\nseed: 3\n"
        b"output: {formats: [wav, mp3, flac], stems: true, midi: true}\n"
        b"video: {styles: [waveform]}\n"
    )
    stages: list[str] = []
    run_job(
        _spec(data.decode()),
        tmp_path,
        resources,
        spec_bytes=data,
        progress=lambda stage, pct: stages.append(stage),
    )
    for name in (
        "folder-check.wav",
        "folder-check.mp3",
        "folder-check.flac",
        "score.mid",
        "spec.yaml",
        "cover.png",
        "cover.jpg",
        "video.mp4",
        "manifest.json",
    ):
        assert (tmp_path / name).is_file(), name
    assert (tmp_path / "spec.yaml").read_bytes() == data
    stems = sorted(p.stem for p in (tmp_path / "stems").glob("*.flac"))
    assert {"drums", "bass"} <= set(stems)
    assert not list(tmp_path.glob("stems/*.wav")) and not list(tmp_path.glob("mix.*"))
    assert sf.info(tmp_path / "stems/drums.flac").subtype == "PCM_24"
    assert (tmp_path / "stems/.ndignore").is_file()  # Navidrome skips the stems folder
    manifest = json.loads((tmp_path / "manifest.json").read_text())
    listed = {f["path"] for f in manifest["files"]}
    assert {"folder-check.wav", "video.mp4", "score.mid", "stems/bass.flac"} <= listed
    assert "manifest.json" not in listed
    assert manifest["mix"] == {f: f"folder-check.{f}" for f in ("wav", "mp3", "flac")}
    assert manifest["warnings"] == []
    assert manifest["seed"] == 3 and manifest["plan"]["tempo_bpm"] > 0
    assert set(manifest["timings_s"]) >= {"plan", "compose", "render", "mix", "master", "video"}
    assert manifest["versions"]["fluidsynth"] and manifest["versions"]["ffmpeg"]
    assert "video" in stages and stages[0] == "plan"


def test_stems_add_up_to_the_mix_before_limiting(resources: Resources, tmp_path: Path) -> None:
    result = run_job(_spec("genres: [funk]\nduration: 10\nseed: 5\n"), tmp_path, resources)
    stems = [sf.read(p)[0] for p in (tmp_path / "stems").glob("*.flac")]
    mix, _ = sf.read(tmp_path / result.manifest["mix"]["wav"])
    total = sum(stems)
    length = min(len(total), len(mix))
    correlation = (total[:length] * mix[:length]).sum() / (
        ((total[:length] ** 2).sum() * (mix[:length] ** 2).sum()) ** 0.5
    )
    assert correlation > 0.98


def test_manifest_claims_the_midi_tempo_and_key(resources: Resources, tmp_path: Path) -> None:
    result = run_job(
        _spec("genres: [lofi]\nbpm: 84\nkey: D minor\nduration: 15\nseed: 11\n"), tmp_path, resources
    )
    plan = result.manifest["plan"]
    assert plan["tempo_bpm"] == 84 and plan["key_tonic"] == "D" and plan["mode"] == "minor"
    midi = mido.MidiFile(tmp_path / "score.mid")
    tempos = [m.tempo for t in midi.tracks for m in t if m.type == "set_tempo"]
    keys = [m.key for t in midi.tracks for m in t if m.type == "key_signature"]
    assert round(mido.tempo2bpm(tempos[0])) == 84 and keys[0] == "Dm"


def test_seed_is_drawn_and_recorded_when_absent(resources: Resources, tmp_path: Path) -> None:
    first = run_job(_spec("genres: [pop]\nduration: 8\n"), tmp_path / "a", resources)
    again = run_job(_spec(f"genres: [pop]\nduration: 8\nseed: {first.seed}\n"), tmp_path / "b", resources)
    assert first.manifest["seed"] == first.seed and again.manifest["seed"] == first.seed
    assert (tmp_path / "a/score.mid").read_bytes() == (tmp_path / "b/score.mid").read_bytes()


def test_cancel_stops_at_a_stage_boundary(resources: Resources, tmp_path: Path) -> None:
    seen: list[str] = []
    with pytest.raises(CancelledError):
        run_job(
            _spec("genres: [rock]\nduration: 8\n"),
            tmp_path,
            resources,
            progress=lambda stage, pct: seen.append(stage),
            should_cancel=lambda: "compose" in seen,
        )
    assert not (tmp_path / "manifest.json").exists()


def test_lyrics_are_sung_and_timed(resources: Resources, tmp_path: Path) -> None:
    spec = _spec(
        "genres: [pop]\nduration: 20\nseed: 4\n"
        "lyrics: |\n  Hold the light across the water\n  Carry every word we sing\n"
    )
    result = run_job(spec, tmp_path, resources)
    vocals, _ = sf.read(tmp_path / "stems/vocals.flac")
    assert abs(vocals).max() > 0.01
    lrc = [ln for ln in (tmp_path / "lyrics.lrc").read_text().splitlines() if ln[1:3].isdigit()]
    sung = [ln[10:] for ln in lrc if ln[10:]]
    assert sung == ["Hold the light across the water", "Carry every word we sing"]
    times = [int(ln[1:3]) * 60 + float(ln[4:9]) for ln in lrc]
    assert times == sorted(times) and times[-1] < 20 and len(set(times)) == len(times)
    assert " --> " in (tmp_path / "lyrics.srt").read_text()
    midi = mido.MidiFile(tmp_path / "score.mid")
    names = [m.name for t in midi.tracks for m in t if m.type == "track_name"]
    lyrics = [m for t in midi.tracks for m in t if m.type == "lyrics"]
    assert "vocals" in names and len(lyrics) >= 10
    vocals_record = result.manifest["engines"]["vocals"]
    assert vocals_record["used"] == "piper"  # English: the neural voice
    singer = vocals_record["singers"][0]
    assert singer["voice"] == "en_US-joe-medium" and "CC0" in singer["licence"]


def test_song_without_lyrics_has_no_vocal_stem(resources: Resources, tmp_path: Path) -> None:
    result = run_job(_spec("genres: [techno]\nduration: 10\nseed: 4\n"), tmp_path, resources)
    assert not (tmp_path / "stems/vocals.flac").exists()
    assert not (tmp_path / "lyrics.lrc").exists()
    assert result.manifest["engines"]["vocals"]["used"] == "none"
    assert (tmp_path / "stems/texture.flac").is_file()
    assert result.manifest["engines"]["texture"]["used"] == "procedural"


def test_missing_texture_model_falls_back_with_the_reason(resources: Resources, tmp_path: Path) -> None:
    result = run_job(
        _spec("genres: [ambient]\nduration: 10\nseed: 4\nengines: {texture: riffusion}\n"),
        tmp_path,
        resources,
    )
    texture = result.manifest["engines"]["texture"]
    assert texture["asked"] == "riffusion" and texture["used"] == "procedural"
    assert "riffusion" in texture["reason"] and "models.riffusion.path" in texture["reason"]


def test_texture_none_leaves_no_texture_stem(resources: Resources, tmp_path: Path) -> None:
    run_job(
        _spec("genres: [ambient]\nduration: 10\nseed: 4\nengines: {texture: none}\n"), tmp_path, resources
    )
    assert not (tmp_path / "stems/texture.flac").exists()
