"""Decoding an .sf3 SoundFont into a cached .sf2 copy: same samples, same sound, paid once."""

from __future__ import annotations

import io
import logging
import struct
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import soundfile

from musicd.music.profiles import MixProfile
from musicd.music.score import Note, Score, Track
from musicd.synth.fluidsynth import FluidRenderer
from musicd.synth.sf3 import SAMPLE_HEADER, VORBIS_FLAG, decode_sf3, decoded_copy, loadable_soundfont

MUSESCORE = Path("/usr/share/sounds/sf3/MuseScore_General.sf3")


def _chunk(chunk_id: bytes, payload: bytes) -> bytes:
    return struct.pack("<4sI", chunk_id, len(payload)) + payload + (b"\0" if len(payload) & 1 else b"")


def _vorbis(samples: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    soundfile.write(buffer, samples, 44100, format="OGG", subtype="VORBIS")
    return buffer.getvalue()


def tiny_sf3(path: Path) -> list[np.ndarray]:
    """An .sf3 holding two Vorbis samples (only the chunks the decoder reads); returns their PCM."""
    t = np.arange(4410) / 44100
    tones = [0.5 * np.sin(2 * np.pi * 440 * t), 0.3 * np.sin(2 * np.pi * 220 * t[:3000])]
    streams = [_vorbis(tone) for tone in tones]
    headers, offset = [], 0
    for index, stream in enumerate(streams):
        name = f"tone{index}".encode()
        headers.append(
            SAMPLE_HEADER.pack(
                name, offset, offset + len(stream), 100, 2000, 44100, 69, 0, 0, 1 | VORBIS_FLAG
            )
        )
        offset += len(stream)
    headers.append(SAMPLE_HEADER.pack(b"EOS", 0, 0, 0, 0, 0, 0, 0, 0, 0))
    body = (
        b"sfbk"
        + _chunk(b"LIST", b"INFO" + _chunk(b"ifil", struct.pack("<HH", 3, 1)) + _chunk(b"INAM", b"tiny\0"))
        + _chunk(b"LIST", b"sdta" + _chunk(b"smpl", b"".join(streams)))
        + _chunk(b"LIST", b"pdta" + _chunk(b"phdr", bytes(38)) + _chunk(b"shdr", b"".join(headers)))
    )
    path.write_bytes(b"RIFF" + struct.pack("<I", len(body)) + body)
    return [soundfile.read(io.BytesIO(stream), dtype="int16")[0] for stream in streams]


def read_sf2(path: Path) -> tuple[tuple[int, ...], np.ndarray, list[tuple[Any, ...]]]:
    data = path.read_bytes()
    assert data[:4] == b"RIFF" and data[8:12] == b"sfbk"
    assert struct.unpack_from("<I", data, 4)[0] == len(data) - 8
    version = struct.unpack_from("<HH", data, data.index(b"ifil") + 8)
    smpl = data.index(b"smpl")
    size = struct.unpack_from("<I", data, smpl + 4)[0]
    pcm = np.frombuffer(data, dtype="<i2", count=size // 2, offset=smpl + 8)
    shdr = data.index(b"shdr")
    count = struct.unpack_from("<I", data, shdr + 4)[0] // SAMPLE_HEADER.size
    headers = [SAMPLE_HEADER.unpack_from(data, shdr + 8 + i * SAMPLE_HEADER.size) for i in range(count)]
    return version, pcm, headers


def test_decoded_copy_holds_the_same_samples_with_loops_moved_and_the_flag_cleared(tmp_path: Path) -> None:
    expected = tiny_sf3(tmp_path / "tiny.sf3")
    with open(tmp_path / "tiny.sf2", "wb") as out:
        frames = decode_sf3(tmp_path / "tiny.sf3", out)
    version, pcm, headers = read_sf2(tmp_path / "tiny.sf2")
    assert version == (2, 4) and frames == len(pcm)
    for pcm_expected, header in zip(expected, headers, strict=False):
        _, start, end, loop_start, loop_end, rate, *_, kind = header
        assert not kind & VORBIS_FLAG and rate == 44100
        assert np.array_equal(pcm[start:end], pcm_expected)
        assert (loop_start - start, loop_end - start) == (100, 2000)
        assert not pcm[end : end + 46].any()  # the 46 zero frames the format asks for
    assert headers[-1][0].startswith(b"EOS")


def test_copy_is_made_once_and_renewed_when_the_source_changes(tmp_path: Path) -> None:
    source, cache = tmp_path / "tiny.sf3", tmp_path / "cache"
    tiny_sf3(source)
    first = decoded_copy(source, cache)
    made = first.stat().st_mtime_ns
    assert decoded_copy(source, cache) == first and first.stat().st_mtime_ns == made
    source.write_bytes(source.read_bytes() + b"\0\0")  # a new version of the SoundFont
    second = decoded_copy(source, cache)
    assert second != first and second.is_file() and not first.exists()
    assert [p.name for p in cache.iterdir()] == [second.name]  # no temporary left behind


def test_an_undecodable_sf3_is_loaded_as_it_is_with_the_reason_logged(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    broken = tmp_path / "broken.sf3"
    broken.write_bytes(b"RIFF\x04\x00\x00\x00sfbk")
    with caplog.at_level(logging.WARNING):
        assert loadable_soundfont(broken, tmp_path / "cache") == broken
    assert "lacks the SoundFont chunk" in caplog.text
    assert not list((tmp_path / "cache").glob("*"))


@pytest.mark.skipif(not MUSESCORE.is_file(), reason="Debian's musescore-general-soundfont is not installed")
def test_decoded_musescore_general_renders_exactly_as_the_sf3(tmp_path: Path) -> None:
    """FluidSynth decoding the .sf3 itself and FluidSynth loading the cached copy sound the same."""
    score = Score(
        120.0,
        (4, 4),
        "C",
        "major",
        (
            Track("piano", 0, 0, tuple(Note(i * 0.5, 0.5, 60 + i, 100) for i in range(8))),
            Track("strings", 48, 1, tuple(Note(0, 4, p, 90) for p in (55, 60, 64))),
            Track("drums", 0, 9, tuple(Note(i * 0.5, 0.25, (36, 38, 42)[i % 3], 110) for i in range(8))),
        ),
        4.0,
    )
    with FluidRenderer(MUSESCORE, threads=1) as cached:  # the default cache folder, decoded once
        assert cached.loaded_from.suffix == ".sf2"
        from_copy = cached.render(score, MixProfile())
    unwritable = tmp_path / "file-not-folder"
    unwritable.write_bytes(b"")
    with FluidRenderer(MUSESCORE, threads=1, cache_dir=unwritable) as direct:
        assert direct.loaded_from == MUSESCORE
        from_sf3 = direct.render(score, MixProfile())
    for stem, audio in from_copy.items():
        assert np.abs(audio).max() > 0.01, stem
        assert np.array_equal(audio, from_sf3[stem]), stem
