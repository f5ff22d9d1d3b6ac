"""The ffmpeg runner, with the real ffmpeg and ffprobe."""

from __future__ import annotations

from pathlib import Path

import ffmpeg
import numpy as np
import pytest
import soundfile

from musicd.errors import RenderError
from musicd.media.ffmpeg import compile_command, probe, run_ffmpeg, stderr_tail

SR = 44100


@pytest.fixture(scope="module")
def wav(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("ffmpeg") / "tone.wav"
    t = np.arange(3 * SR) / SR
    tone = (0.3 * np.sin(2 * np.pi * 440.0 * t)).astype(np.float32)
    soundfile.write(str(path), np.stack([tone, tone], axis=1), SR)
    return path


def test_a_failing_command_raises_what_it_was_doing_and_the_stderr_tail(tmp_path: Path) -> None:
    bogus = tmp_path / "not-audio.wav"
    bogus.write_text("this is not a wav file")
    args = compile_command(ffmpeg.input(str(bogus)).output(str(tmp_path / "out.mp3")))
    with pytest.raises(RenderError, match=r"^ffmpeg failed to encode the test file:\n") as excinfo:
        run_ffmpeg(args, what="encode the test file")
    assert "not-audio.wav" in str(excinfo.value)  # ffmpeg's own complaint comes along
    assert not (tmp_path / "out.mp3").exists()


def test_a_failure_while_following_progress_raises_the_same_way(tmp_path: Path) -> None:
    args = compile_command(ffmpeg.input(str(tmp_path / "missing.wav")).output(str(tmp_path / "out.flac")))
    seen: list[float] = []
    with pytest.raises(RenderError, match=r"ffmpeg failed to convert:\n.*missing.wav"):
        run_ffmpeg(args, what="convert", duration_s=3.0, progress=seen.append)
    assert 1.0 not in seen


def test_progress_rises_to_one_on_a_real_encode(tmp_path: Path) -> None:
    out = tmp_path / "tone.mp3"
    source = ffmpeg.input("sine=frequency=440:duration=20:sample_rate=44100", f="lavfi")
    stream = source.output(str(out), acodec="libmp3lame").global_args("-stats_period", "0.01")
    seen: list[float] = []
    result = run_ffmpeg(compile_command(stream), what="encode", duration_s=20.0, progress=seen.append)
    assert out.is_file() and result.stdout == b""
    assert len(seen) >= 3 and any(0.0 < f < 1.0 for f in seen)
    assert all(b > a for a, b in zip(seen, seen[1:]))  # strictly increasing
    assert seen[0] >= 0.0 and seen[-1] == 1.0


def test_stdout_comes_back_as_bytes(wav: Path) -> None:
    stream = ffmpeg.input(str(wav)).output("-", format="f32le", acodec="pcm_f32le")
    samples = np.frombuffer(run_ffmpeg(compile_command(stream), what="decode").stdout, np.float32)
    assert samples.size == 2 * 3 * SR  # interleaved stereo
    assert np.abs(samples).max() == pytest.approx(0.3, abs=1e-3)


def test_progress_needs_a_duration() -> None:
    with pytest.raises(ValueError, match="duration_s"):
        run_ffmpeg(["ffmpeg"], what="x", progress=lambda _: None)


def test_probe_reads_streams_and_fails_with_the_same_style(wav: Path, tmp_path: Path) -> None:
    info = probe(wav)
    audio = [s for s in info["streams"] if s["codec_type"] == "audio"]
    assert int(audio[0]["sample_rate"]) == SR
    assert float(info["format"]["duration"]) == pytest.approx(3.0, abs=0.01)
    bogus = tmp_path / "bogus.wav"
    bogus.write_bytes(b"\x00" * 64)
    with pytest.raises(RenderError, match=r"ffprobe failed to read .*bogus.wav:\n."):
        probe(bogus)


def test_stderr_tail_keeps_the_last_lines() -> None:
    text = "\n".join(f"line {i}" for i in range(100))
    assert stderr_tail(text, lines=3) == "line 97\nline 98\nline 99"
    assert stderr_tail(text.encode()).splitlines()[0] == "line 75"
    assert stderr_tail(None) == ""
