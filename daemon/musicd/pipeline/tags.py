"""Tags a music library understands, written into every audio file with mutagen.

Title, artist, album, genres, date, BPM, key, lyrics (unsynchronised everywhere; synchronised
SYLT in ID3), a comment with prompt, seed and job id, the loudness as ReplayGain 2 (reference
-18 LUFS; R128_TRACK_GAIN against -23 LUFS in Opus, as RFC 7845 asks) and an embedded JPEG
cover. mp3 and wav carry ID3v2.4, flac/ogg/opus Vorbis comments. ffprobe reads them back.
"""

from __future__ import annotations

import base64
import logging
import math
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from musicd.errors import RenderError

log = logging.getLogger(__name__)

DEFAULT_ARTIST = "musicd"
DEFAULT_ALBUM = "musicd"
REPLAYGAIN_REFERENCE_LUFS = -18.0
R128_REFERENCE_LUFS = -23.0
COVER_JPEG_SIZE = 600
TAGGED_FORMATS = frozenset({"mp3", "wav", "flac", "ogg", "opus"})
MINOR_MODES = frozenset({"minor", "aeolian", "dorian", "phrygian", "locrian"})
# ISO 639-1 (musicd.music.languages) -> ISO 639-2/B, as ID3 lyrics frames name languages.
ISO639_2 = {
    "en": "eng", "es": "spa", "fr": "fre", "de": "ger", "it": "ita", "pt": "por", "nl": "dut",
    "pl": "pol", "cs": "cze", "tr": "tur", "ru": "rus", "sv": "swe", "fi": "fin", "hu": "hun",
    "hi": "hin", "zh": "chi", "ja": "jpn", "ko": "kor", "uk": "ukr", "da": "dan", "nb": "nob",
    "ro": "rum", "el": "gre", "id": "ind", "vi": "vie",
}  # fmt: skip
_LRC_LINE = re.compile(r"^\[(\d+):(\d+(?:\.\d+)?)\](.*)$")


@dataclass(frozen=True)
class TagDefaults:
    """The configurable part of the tags (config `tags:`)."""

    artist: str = DEFAULT_ARTIST
    album: str = DEFAULT_ALBUM


@dataclass(frozen=True)
class TrackTags:
    """Everything written into a file's tags; `integrated_lufs` is the measured mix's loudness."""

    title: str
    artist: str = DEFAULT_ARTIST
    album: str = DEFAULT_ALBUM
    genres: tuple[str, ...] = ()
    date: str = ""  # YYYY-MM-DD
    bpm: int | None = None
    key: str | None = None  # "Am", "F#" (the ID3 TKEY notation)
    lyrics: str | None = None
    synced_lyrics: tuple[tuple[float, str], ...] = ()  # (start seconds, line)
    language: str = "xxx"  # ISO 639-2
    comment: str = ""
    job_id: str | None = None
    seed: int | None = None
    integrated_lufs: float | None = None
    true_peak_db: float | None = None
    extra: dict[str, str] = field(default_factory=dict)

    def replaygain_db(self, file_gain_db: float = 0.0) -> float | None:
        """ReplayGain 2 track gain of a file encoded `file_gain_db` from the measured mix."""
        if self.integrated_lufs is None:
            return None
        return REPLAYGAIN_REFERENCE_LUFS - (self.integrated_lufs + file_gain_db)

    def peak(self, file_gain_db: float = 0.0) -> float | None:
        if self.true_peak_db is None:
            return None
        return 10 ** ((self.true_peak_db + file_gain_db) / 20)

    def r128_q78(self, file_gain_db: float = 0.0) -> int | None:
        """R128_TRACK_GAIN: gain to -23 LUFS in 1/256 dB (Q7.8), for Opus."""
        if self.integrated_lufs is None:
            return None
        gain = R128_REFERENCE_LUFS - (self.integrated_lufs + file_gain_db)
        return max(-32768, min(32767, round(gain * 256)))

    def to_dict(self) -> dict[str, Any]:
        """The manifest's record of what was written."""
        return {
            "title": self.title,
            "artist": self.artist,
            "album": self.album,
            "genres": list(self.genres),
            "date": self.date,
            "bpm": self.bpm,
            "key": self.key,
            "comment": self.comment,
            "lyrics": bool(self.lyrics),
            "synced_lyrics_lines": len(self.synced_lyrics),
            "replaygain_track_gain_db": _round(self.replaygain_db()),
            "replaygain_track_peak": _round(self.peak(), 6),
        }


def _round(value: float | None, digits: int = 2) -> float | None:
    return None if value is None else round(value, digits)


def key_notation(tonic: str, mode: str) -> str:
    """The ID3 TKEY / Vorbis KEY text: the tonic, "m" for minor-like modes ("Am", "F#", "Bbm")."""
    return tonic + ("m" if mode.lower() in MINOR_MODES else "")


def language_code(code: str | None) -> str:
    """ISO 639-2 code for a musicd language code; "xxx" (unknown) otherwise."""
    return ISO639_2.get((code or "").lower(), "xxx")


def parse_lrc(text: str) -> tuple[tuple[float, str], ...]:
    """(start seconds, text) of each timed line of an LRC file, in order."""
    lines = []
    for raw in text.splitlines():
        match = _LRC_LINE.match(raw.strip())
        if match and match.group(3).strip():
            lines.append((int(match.group(1)) * 60 + float(match.group(2)), match.group(3).strip()))
    return tuple(sorted(lines))


def plain_lyrics(text: str | None) -> str | None:
    """The lyrics without section markers ("[verse]") or blank runs; None when nothing is left."""
    if not text:
        return None
    lines = [line.rstrip() for line in text.splitlines() if not re.fullmatch(r"\s*\[[^\]]*\]\s*", line)]
    joined = re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip()
    return joined or None


def comment_text(prompt: str | None, seed: int | None, job_id: str | None) -> str:
    parts = [f"prompt: {prompt}" if prompt else "", f"seed: {seed}" if seed is not None else ""]
    parts.append(f"job: {job_id}" if job_id else "")
    return "; ".join(p for p in parts if p) + ("; made by musicd" if any(parts) else "made by musicd")


# ------------------------------------------------------------------ the cover


def make_cover_jpeg(png_path: Path, jpeg_path: Path, size: int = COVER_JPEG_SIZE) -> Path:
    """A JPEG `size` pixels wide (aspect kept) of the cover, made with ffmpeg."""
    import ffmpeg

    from musicd.media.ffmpeg import compile_command, run_ffmpeg

    if not png_path.is_file():
        raise RenderError(f"Cannot make {jpeg_path.name}: {png_path} does not exist.")
    stream = (
        ffmpeg.input(str(png_path))
        .filter("scale", size, -2, flags="lanczos")
        .output(str(jpeg_path), vframes=1, **{"q:v": 3, "pix_fmt": "yuvj420p"})
        .overwrite_output()
    )
    run_ffmpeg(compile_command(stream), what=f"make {jpeg_path.name} from {png_path.name}")
    return jpeg_path


# ------------------------------------------------------------------ writing


def write_tags(
    path: Path, fmt: str, tags: TrackTags, *, cover_jpeg: bytes | None = None, file_gain_db: float = 0.0
) -> None:
    """Write `tags` (and the cover) into the audio file at `path`, replacing what was there.

    `file_gain_db` is the gain the encoder took off this file (EncodeResult.gain_db), so its
    ReplayGain describes the file itself. Raises RenderError when the file cannot be tagged.
    """
    fmt = fmt.lower()
    try:
        if fmt in ("mp3", "wav"):
            _write_id3(path, fmt, tags, cover_jpeg, file_gain_db)
        elif fmt in ("flac", "ogg", "opus"):
            _write_vorbis(path, fmt, tags, cover_jpeg, file_gain_db)
        else:
            raise RenderError(f"Cannot tag {path.name}: {fmt} files take no tags here.")
    except RenderError:
        raise
    except Exception as exc:  # mutagen raises its own error types per format
        raise RenderError(f"Cannot write the tags of {path.name}: {exc}") from exc


def _write_id3(path: Path, fmt: str, tags: TrackTags, cover: bytes | None, gain_db: float) -> None:
    from mutagen import id3
    from mutagen.wave import WAVE

    frames: list[id3.Frame] = [
        id3.TIT2(encoding=3, text=tags.title),
        id3.TPE1(encoding=3, text=tags.artist),
        id3.TALB(encoding=3, text=tags.album),
    ]
    if tags.genres:
        frames.append(id3.TCON(encoding=3, text=list(tags.genres)))
    if tags.date:
        frames.append(id3.TDRC(encoding=3, text=tags.date))
    if tags.bpm is not None:
        frames.append(id3.TBPM(encoding=3, text=str(tags.bpm)))
    if tags.key:
        frames.append(id3.TKEY(encoding=3, text=tags.key))
    if tags.comment:
        frames.append(id3.COMM(encoding=3, lang="eng", desc="", text=tags.comment))
    if tags.lyrics:
        frames.append(id3.USLT(encoding=3, lang=tags.language, desc="", text=tags.lyrics))
    if tags.synced_lyrics:
        timed = [(line, int(round(start * 1000))) for start, line in tags.synced_lyrics]
        frames.append(id3.SYLT(encoding=3, lang=tags.language, format=2, type=1, desc="", text=timed))
    for name, value in _custom_fields(tags, gain_db, opus=False).items():
        frames.append(id3.TXXX(encoding=3, desc=name, text=value))
    if cover:
        frames.append(id3.APIC(encoding=3, mime="image/jpeg", type=3, desc="Cover", data=cover))

    if fmt == "wav":
        wave = WAVE(str(path))
        if wave.tags is None:
            wave.add_tags()
        assert wave.tags is not None
        _replace_frames(wave.tags, frames)
        wave.save(v2_version=4)
        return
    try:
        existing = id3.ID3(str(path))
    except id3.ID3NoHeaderError:
        existing = id3.ID3()
    _replace_frames(existing, frames)
    existing.save(str(path), v2_version=4)


def _replace_frames(tags: Any, frames: list[Any]) -> None:
    for frame in frames:
        tags.delall(frame.HashKey if frame.FrameID in ("TXXX",) else frame.FrameID)
    for frame in frames:
        tags.add(frame)


def _custom_fields(tags: TrackTags, gain_db: float, *, opus: bool) -> dict[str, str]:
    fields: dict[str, str] = {}
    if tags.job_id:
        fields["MUSICD_JOB_ID"] = tags.job_id
    if tags.seed is not None:
        fields["MUSICD_SEED"] = str(tags.seed)
    gain, peak = tags.replaygain_db(gain_db), tags.peak(gain_db)
    if not opus and gain is not None:
        fields["REPLAYGAIN_TRACK_GAIN"] = f"{gain:+.2f} dB"
        # One track per album here: the album gain is the track's.
        fields["REPLAYGAIN_ALBUM_GAIN"] = f"{gain:+.2f} dB"
        fields["REPLAYGAIN_REFERENCE_LOUDNESS"] = f"{REPLAYGAIN_REFERENCE_LUFS:.1f} LUFS"
    if not opus and peak is not None:
        fields["REPLAYGAIN_TRACK_PEAK"] = f"{peak:.6f}"
        fields["REPLAYGAIN_ALBUM_PEAK"] = f"{peak:.6f}"
    fields.update(tags.extra)
    return fields


def _picture(cover: bytes) -> Any:
    from mutagen.flac import Picture

    picture = Picture()
    picture.type = 3
    picture.mime = "image/jpeg"
    picture.desc = "Cover"
    picture.data = cover
    width, height = _jpeg_size(cover)
    picture.width, picture.height, picture.depth = width, height, 24
    return picture


def _write_vorbis(path: Path, fmt: str, tags: TrackTags, cover: bytes | None, gain_db: float) -> None:
    from mutagen.flac import FLAC
    from mutagen.oggopus import OggOpus
    from mutagen.oggvorbis import OggVorbis

    audio: Any = {"flac": FLAC, "ogg": OggVorbis, "opus": OggOpus}[fmt](str(path))
    if audio.tags is None:
        audio.add_tags()
    comments: dict[str, list[str]] = {
        "TITLE": [tags.title],
        "ARTIST": [tags.artist],
        "ALBUM": [tags.album],
    }
    if tags.genres:
        comments["GENRE"] = list(tags.genres)
    if tags.date:
        comments["DATE"] = [tags.date]
    if tags.bpm is not None:
        comments["BPM"] = [str(tags.bpm)]
    if tags.key:
        comments["KEY"] = [tags.key]
    if tags.comment:
        comments["COMMENT"] = [tags.comment]
    if tags.lyrics:
        comments["LYRICS"] = [tags.lyrics]
    if tags.synced_lyrics:  # the LRC form, as foobar2000 and Navidrome read it
        comments["SYNCEDLYRICS"] = ["\n".join(f"[{_lrc_time(s)}]{line}" for s, line in tags.synced_lyrics)]
    for name, value in _custom_fields(tags, gain_db, opus=fmt == "opus").items():
        comments[name] = [value]
    if fmt == "opus":
        q78 = tags.r128_q78(gain_db)
        if q78 is not None:
            comments["R128_TRACK_GAIN"] = [str(q78)]
            comments["R128_ALBUM_GAIN"] = [str(q78)]
    for name, values in comments.items():
        audio.tags[name] = values
    if cover:
        picture = _picture(cover)
        if fmt == "flac":
            audio.clear_pictures()
            audio.add_picture(picture)
        else:
            audio.tags["METADATA_BLOCK_PICTURE"] = [base64.b64encode(picture.write()).decode("ascii")]
    audio.save()


def _lrc_time(seconds: float) -> str:
    minutes, rest = divmod(max(0.0, seconds), 60)
    return f"{int(minutes):02d}:{rest:05.2f}"


def _jpeg_size(data: bytes) -> tuple[int, int]:
    """(width, height) from a JPEG's SOF marker; (0, 0) when it cannot be found."""
    index = 2
    while index + 9 < len(data):
        if data[index] != 0xFF:
            index += 1
            continue
        marker = data[index + 1]
        length = int.from_bytes(data[index + 2 : index + 4], "big")
        if marker in (0xC0, 0xC1, 0xC2):
            height = int.from_bytes(data[index + 5 : index + 7], "big")
            width = int.from_bytes(data[index + 7 : index + 9], "big")
            return width, height
        index += 2 + length
    return 0, 0


def bpm_value(tempo_bpm: float) -> int | None:
    return int(round(tempo_bpm)) if tempo_bpm and math.isfinite(tempo_bpm) and tempo_bpm > 0 else None
