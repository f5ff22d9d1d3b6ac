"""Tags a music library reads: written by the pipeline, read back with mutagen and ffprobe.

One real job (FluidSynth, espeak-ng, ffmpeg) in every format, with lyrics and a cover;
then the optional stages failing (video, an extra format) while the audio is still published.
"""

from __future__ import annotations

import base64
import io
import json
import subprocess
from pathlib import Path
from typing import Any

import pytest
import soundfile as sf
from mutagen.flac import FLAC, Picture
from mutagen.id3 import ID3
from mutagen.oggopus import OggOpus
from mutagen.oggvorbis import OggVorbis
from mutagen.wave import WAVE

from musicd.errors import RenderError
from musicd.pipeline import Resources, run_job
from musicd.pipeline.tags import TagDefaults, key_notation, parse_lrc, plain_lyrics
from musicd.spec import load_spec

FORMATS = ("wav", "mp3", "flac", "ogg", "opus")
SPEC = (
    "title: Ночной город\n"
    "prompt: a slow night drive\n"
    "genres: [pop]\n"
    "duration: 14\n"
    "seed: 4\n"
    "lyrics: |\n  [verse]\n  Hold the light across the water\n  Carry every word we sing\n"
    "output: {formats: [wav, mp3, flac, ogg, opus], stems: true}\n"
)
EXTRA = {"job_id": "01JDTAGS000000000000000000", "started_at": "2026-05-17T21:04:05+00:00"}


@pytest.fixture(scope="module")
def resources() -> Resources:
    resources = Resources.load()
    resources.tags = TagDefaults(artist="Home Server", album="Night Jobs")
    return resources


@pytest.fixture(scope="module")
def job(resources: Resources, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, Any]]:
    out = tmp_path_factory.mktemp("tagged")
    result = run_job(load_spec(SPEC, source="t.yaml"), out, resources, manifest_extra=EXTRA)
    return out, result.manifest


def ffprobe_tags(path: Path) -> dict[str, str]:
    """Format tags (mp3, wav, flac) merged with the audio stream's (Ogg), keys lowercased."""
    out = subprocess.run(
        [
            "ffprobe",
            "-v",
            "error",
            "-show_entries",
            "format_tags:stream_tags:stream=codec_type",
            "-of",
            "json",
            str(path),
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    data = json.loads(out)
    tags = {k.lower(): v for k, v in data.get("format", {}).get("tags", {}).items()}
    for stream in data.get("streams", []):
        if stream.get("codec_type") == "audio":
            tags.update({k.lower(): v for k, v in stream.get("tags", {}).items()})
    return tags


def test_the_mix_is_named_after_the_job_and_the_title_is_kept(job: tuple[Path, dict[str, Any]]) -> None:
    out, manifest = job
    assert manifest["mix"] == {fmt: f"nochnoy-gorod.{fmt}" for fmt in FORMATS}
    assert manifest["title"] == "Ночной город" and manifest["tags"]["title"] == "Ночной город"
    assert manifest["warnings"] == []
    assert (out / "stems/.ndignore").is_file() and sf.info(out / "stems/vocals.flac").subtype == "PCM_24"


@pytest.mark.parametrize("fmt", FORMATS)
def test_ffprobe_reads_title_artist_album_genre_and_date(fmt: str, job: tuple[Path, dict[str, Any]]) -> None:
    out, manifest = job
    tags = ffprobe_tags(out / manifest["mix"][fmt])
    assert tags["title"] == "Ночной город"
    assert tags["artist"] == "Home Server" and tags["album"] == "Night Jobs"
    assert tags["genre"] == "pop" and tags["date"] == "2026-05-17"
    assert "01JDTAGS000000000000000000" in (tags.get("comment") or tags.get("musicd_job_id", ""))
    gain_key = "r128_track_gain" if fmt == "opus" else "replaygain_track_gain"
    assert gain_key in tags


def test_id3_tags_in_mp3_and_wav(job: tuple[Path, dict[str, Any]]) -> None:
    out, manifest = job
    expected_gain = (
        -18.0 - manifest["loudness"]["integrated_lufs"] - manifest["audio"]["encodes"]["mp3"]["gain_db"]
    )
    for tags in (ID3(out / manifest["mix"]["mp3"]), WAVE(out / manifest["mix"]["wav"]).tags):
        assert tags is not None
        assert str(tags["TIT2"]) == "Ночной город" and str(tags["TPE1"]) == "Home Server"
        assert str(tags["TALB"]) == "Night Jobs" and list(tags["TCON"].text) == ["pop"]
        assert str(tags["TBPM"]) == str(round(manifest["plan"]["tempo_bpm"]))
        assert str(tags["TKEY"]) == key_notation(manifest["plan"]["key_tonic"], manifest["plan"]["mode"])
        comment = str(tags.getall("COMM")[0])
        assert "a slow night drive" in comment and "seed: 4" in comment and EXTRA["job_id"] in comment
        (lyrics,) = tags.getall("USLT")
        assert lyrics.lang == "eng" and "Hold the light across the water" in lyrics.text
        assert "[verse]" not in lyrics.text
        (synced,) = tags.getall("SYLT")
        lines = [text for text, _ in synced.text]
        times = [ms for _, ms in synced.text]
        assert "Carry every word we sing" in lines and times == sorted(times)
        (cover,) = tags.getall("APIC")
        assert cover.mime == "image/jpeg" and cover.type == 3 and cover.data[:2] == b"\xff\xd8"
    mp3 = ID3(out / manifest["mix"]["mp3"])
    gain = float(str(mp3["TXXX:REPLAYGAIN_TRACK_GAIN"]).split()[0])
    assert gain == pytest.approx(expected_gain, abs=0.01)
    assert 0 < float(str(mp3["TXXX:REPLAYGAIN_TRACK_PEAK"])) < 1.0


def test_vorbis_comments_in_flac_ogg_and_opus(job: tuple[Path, dict[str, Any]]) -> None:
    out, manifest = job
    lufs = manifest["loudness"]["integrated_lufs"]
    for fmt, opener in (("flac", FLAC), ("ogg", OggVorbis), ("opus", OggOpus)):
        audio = opener(out / manifest["mix"][fmt])
        tags = audio.tags
        assert tags["TITLE"] == ["Ночной город"] and tags["ARTIST"] == ["Home Server"]
        assert tags["GENRE"] == ["pop"] and tags["BPM"] == [str(round(manifest["plan"]["tempo_bpm"]))]
        assert "Hold the light" in tags["LYRICS"][0] and "[00:" in tags["SYNCEDLYRICS"][0]
        assert tags["MUSICD_SEED"] == ["4"] and tags["MUSICD_JOB_ID"] == [EXTRA["job_id"]]
        file_gain = manifest["audio"]["encodes"].get(fmt, {}).get("gain_db", 0.0)
        if fmt == "opus":
            assert "REPLAYGAIN_TRACK_GAIN" not in tags  # RFC 7845: R128 gains only
            assert int(tags["R128_TRACK_GAIN"][0]) == pytest.approx((-23 - lufs - file_gain) * 256, abs=3)
        else:
            assert float(tags["REPLAYGAIN_TRACK_GAIN"][0].split()[0]) == pytest.approx(
                -18 - lufs - file_gain, abs=0.01
            )
        if fmt == "flac":
            (picture,) = audio.pictures
        else:
            picture = Picture(base64.b64decode(tags["METADATA_BLOCK_PICTURE"][0]))
        assert picture.mime == "image/jpeg" and picture.type == 3
        assert picture.width == 600 and picture.data[:2] == b"\xff\xd8"


def test_the_embedded_cover_is_a_600_px_jpeg_of_cover_png(job: tuple[Path, dict[str, Any]]) -> None:
    out, manifest = job
    probe = subprocess.run(
        ["ffprobe", "-v", "error", "-show_entries", "stream=codec_name,width,height", "-of", "json", "-"],
        input=ID3(out / manifest["mix"]["mp3"]).getall("APIC")[0].data,
        capture_output=True,
        check=True,
    )
    (stream,) = json.loads(probe.stdout)["streams"]
    assert stream["codec_name"] == "mjpeg" and stream["width"] == 600
    assert (out / "cover.jpg").read_bytes()[:2] == b"\xff\xd8"
    assert io.BytesIO((out / "cover.png").read_bytes()).read(4) == b"\x89PNG"


def test_lyrics_helpers() -> None:
    assert parse_lrc("[ti:x]\n[00:01.50]one\n[01:02.00]two\n[00:03.00]\n") == ((1.5, "one"), (62.0, "two"))
    assert plain_lyrics("[verse]\nOne\n\n\n\n[chorus]\nTwo\n") == "One\n\nTwo"
    assert key_notation("A", "minor") == "Am" and key_notation("F#", "major") == "F#"
    assert key_notation("D", "dorian") == "Dm"


# ------------------------------------------------------------------ optional stages failing


def test_a_failed_video_still_publishes_the_audio_with_a_warning(
    resources: Resources, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import musicd.pipeline.run as pipeline_run

    def broken_video(audio_path: Path, out_path: Path, **_: Any) -> Path:
        out_path.write_bytes(b"half a video")
        raise RenderError("ffmpeg failed to render the video: injected")

    monkeypatch.setattr(pipeline_run, "render_video", broken_video)
    spec = load_spec(
        "title: Video breaks\ngenres: [house]\nduration: 6\nseed: 2\n"
        "output: {formats: [wav, mp3], stems: false}\nvideo: {styles: [waveform]}\n"
    )
    result = run_job(spec, tmp_path, resources)
    assert result.manifest["status"] == "done"
    (warning,) = result.manifest["warnings"]
    assert warning["stage"] == "video" and "injected" in warning["message"]
    assert not (tmp_path / "video.mp4").exists()  # no half-written video
    assert (tmp_path / "video-breaks.wav").is_file() and (tmp_path / "video-breaks.mp3").is_file()
    assert ID3(tmp_path / "video-breaks.mp3")["TIT2"].text == ["Video breaks"]
    listed = {f["path"] for f in json.loads((tmp_path / "manifest.json").read_text())["files"]}
    assert "video-breaks.mp3" in listed and "video.mp4" not in listed


def test_a_failed_extra_format_is_a_warning_not_a_failure(
    resources: Resources, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import musicd.pipeline.run as pipeline_run

    real = pipeline_run.encode_audio

    def no_opus(wav: Path, out: Path, fmt: str) -> Any:
        if fmt == "opus":
            raise RenderError("ffmpeg failed to encode as opus: injected")
        return real(wav, out, fmt)

    monkeypatch.setattr(pipeline_run, "encode_audio", no_opus)
    spec = load_spec(
        "title: No opus\ngenres: [lofi]\nduration: 6\nseed: 2\noutput: {formats: [mp3, opus], stems: false}\n"
    )
    result = run_job(spec, tmp_path, resources)
    assert set(result.manifest["mix"]) == {"wav", "mp3"}
    assert [w["stage"] for w in result.manifest["warnings"]] == ["encode"]
    assert not (tmp_path / "no-opus.opus").exists()
