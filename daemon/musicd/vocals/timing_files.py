"""Timed lyrics: LRC (one timestamp per line) and SRT (one cue per line), UTF-8."""

from __future__ import annotations

from pathlib import Path

from musicd.text import display_text
from musicd.vocals.melody import VocalLine


def _line_times(vocal: VocalLine) -> list[tuple[float, float, str]]:
    """Each sung line's start, end and text (made safe: these files are shown by players and libass)."""
    return [
        (
            vocal.beats_to_seconds(line.start_beat),
            vocal.beats_to_seconds(line.end_beat),
            display_text(line.text),
        )
        for line in vocal.lines
    ]


def seconds_to_lrc(seconds: float) -> str:
    """ "[mm:ss.xx]"."""
    centis = int(round(seconds * 100))
    return f"[{centis // 6000:02d}:{(centis // 100) % 60:02d}.{centis % 100:02d}]"


def seconds_to_srt(seconds: float) -> str:
    """ "hh:mm:ss,mmm"."""
    millis = int(round(seconds * 1000))
    return f"{millis // 3600000:02d}:{(millis // 60000) % 60:02d}:{(millis // 1000) % 60:02d},{millis % 1000:03d}"


def lrc_text(vocal: VocalLine, title: str | None = None) -> str:
    """The LRC file's text: each line at its first sung note, a blank cue when it ends."""
    out = [f"[ti:{display_text(title)}]"] if title else []
    times = _line_times(vocal)
    for index, (start, end, text) in enumerate(times):
        out.append(f"{seconds_to_lrc(start)}{text}")
        following = times[index + 1][0] if index + 1 < len(times) else None
        if following is None or following - end > 1.0:
            out.append(seconds_to_lrc(end))
    return "\n".join(out) + ("\n" if out else "")


def srt_text(vocal: VocalLine) -> str:
    """The SRT file's text: one numbered cue per sung line."""
    cues = []
    for index, (start, end, text) in enumerate(_line_times(vocal), start=1):
        cues.append(f"{index}\n{seconds_to_srt(start)} --> {seconds_to_srt(end)}\n{text}\n")
    return "\n".join(cues)


def write_lrc(path: Path, vocal: VocalLine, title: str | None = None) -> None:
    Path(path).write_text(lrc_text(vocal, title), encoding="utf-8")


def write_srt(path: Path, vocal: VocalLine) -> None:
    Path(path).write_text(srt_text(vocal), encoding="utf-8")
