"""A Vorbis-compressed .sf3 SoundFont decoded once into a plain .sf2 copy in a cache folder.

FluidSynth decodes every sample of an .sf3 each time it loads one (MuseScore General: 5-9 s and
a full decode per synth instance). The decoded copy is an ordinary SoundFont 2 file holding the
very samples FluidSynth would have decoded (16-bit PCM through libsndfile), so it renders the
same notes in a fraction of a second. The copy is keyed by the source's name, size and mtime and
written through a hidden temporary name, so a changed source gets a new copy and a crash never
leaves half a file under the final name.

The .sf3 layout (MuseScore's extension of SoundFont 2): a sample whose type has bit 0x10 set is
one Ogg Vorbis stream; its start and end are byte offsets into the `smpl` chunk, and its loop
points count decoded frames from the sample's own start.
"""

from __future__ import annotations

import io
import logging
import mmap
import struct
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

import soundfile

from musicd.durable import replacing
from musicd.errors import ResourceMissingError

log = logging.getLogger(__name__)

DECODER_VERSION = 1  # part of the cache key: a fixed decoder makes new copies
VORBIS_FLAG = 0x10
SAMPLE_HEADER = struct.Struct("<20sIIIIIBbHH")  # shdr: name, start, end, loops, rate, pitch, link, type
SAMPLE_PADDING = 46  # zero frames after each sample, as the SoundFont 2 specification asks


class SoundFontDecodeError(ResourceMissingError):
    """An .sf3 file could not be decoded into a .sf2 copy."""


def _chunks(data: mmap.mmap | bytes, start: int, end: int) -> Iterator[tuple[bytes, int, int]]:
    """(id, payload offset, payload size) of each RIFF chunk between `start` and `end`."""
    while start + 8 <= end:
        chunk_id, size = struct.unpack_from("<4sI", data, start)
        if start + 8 + size > end:
            raise SoundFontDecodeError(f"chunk {chunk_id!r} runs past the end of its list")
        yield chunk_id, start + 8, size
        start += 8 + size + (size & 1)


def _chunk(chunk_id: bytes, payload: bytes) -> bytes:
    return struct.pack("<4sI", chunk_id, len(payload)) + payload + (b"\0" if len(payload) & 1 else b"")


def decode_sf3(source: Path, out: BinaryIO) -> int:
    """Write `source` (.sf3) to `out` as a SoundFont 2 file with PCM samples; returns the frames."""
    with open(source, "rb") as handle, mmap.mmap(handle.fileno(), 0, access=mmap.ACCESS_READ) as data:
        if data[:4] != b"RIFF" or data[8:12] != b"sfbk":
            raise SoundFontDecodeError(f"{source} is not a SoundFont (no RIFF sfbk header)")
        lists = {
            data[offset : offset + 4]: (offset + 4, offset + size)
            for chunk_id, offset, size in _chunks(data, 12, len(data))
            if chunk_id == b"LIST"
        }
        try:
            info, sdta, pdta = lists[b"INFO"], lists[b"sdta"], lists[b"pdta"]
            smpl = next(offset for chunk_id, offset, _ in _chunks(data, *sdta) if chunk_id == b"smpl")
            shdr_offset, shdr_size = next((o, s) for c, o, s in _chunks(data, *pdta) if c == b"shdr")
        except (KeyError, StopIteration) as exc:
            raise SoundFontDecodeError(f"{source} lacks the SoundFont chunk {exc}") from None

        info_body = b"".join(
            _chunk(chunk_id, struct.pack("<HH", 2, 4) if chunk_id == b"ifil" else data[o : o + size])
            for chunk_id, o, size in _chunks(data, *info)
        )
        out.write(b"RIFF\0\0\0\0sfbk" + _chunk(b"LIST", b"INFO" + info_body))
        sdta_at = out.tell()
        out.write(b"LIST\0\0\0\0sdtasmpl\0\0\0\0")

        headers: list[tuple[bytes, int, int, int, int, int, int, int, int, int]] = []
        frames = 0
        count = shdr_size // SAMPLE_HEADER.size
        for index in range(count):
            name, start, end, loop_start, loop_end, rate, pitch, correction, link, kind = (
                SAMPLE_HEADER.unpack_from(data, shdr_offset + index * SAMPLE_HEADER.size)
            )
            if index == count - 1 or not kind & VORBIS_FLAG:  # the terminal record, or a ROM sample
                headers.append((name, start, end, loop_start, loop_end, rate, pitch, correction, link, kind))
                continue
            try:
                pcm, _ = soundfile.read(io.BytesIO(data[smpl + start : smpl + end]), dtype="int16")
            except (soundfile.LibsndfileError, RuntimeError) as exc:
                label = name.split(b"\0")[0].decode("latin-1")
                raise SoundFontDecodeError(
                    f"{source}: sample {index} ({label}) is not Ogg Vorbis: {exc}"
                ) from None
            mono = pcm if pcm.ndim == 1 else pcm[:, 0]
            out.write(mono.astype("<i2").tobytes() + bytes(2 * SAMPLE_PADDING))
            headers.append(
                (name, frames, frames + len(mono), frames + loop_start, frames + loop_end)
                + (rate, pitch, correction, link, kind & ~VORBIS_FLAG)
            )
            frames += len(mono) + SAMPLE_PADDING

        smpl_size = 2 * frames
        pdta_body = b"".join(
            _chunk(chunk_id, b"".join(SAMPLE_HEADER.pack(*h) for h in headers))
            if chunk_id == b"shdr"
            else _chunk(chunk_id, data[o : o + size])
            for chunk_id, o, size in _chunks(data, *pdta)
        )
    out.write(_chunk(b"LIST", b"pdta" + pdta_body))
    riff_size = out.tell() - 8
    out.seek(4)
    out.write(struct.pack("<I", riff_size))
    out.seek(sdta_at + 4)
    out.write(struct.pack("<I4s4sI", smpl_size + 12, b"sdta", b"smpl", smpl_size))
    return frames


def decoded_copy(source: Path, cache_dir: Path) -> Path:
    """The .sf2 copy of `source` in `cache_dir`, decoded now if it is not there yet."""
    stat = source.stat()
    target = cache_dir / f"{source.stem}-{stat.st_size}-{stat.st_mtime_ns}-d{DECODER_VERSION}.sf2"
    if target.is_file():
        return target
    cache_dir.mkdir(parents=True, exist_ok=True)
    log.info("decoding %s into %s once (later loads read the copy)", source, target)
    with replacing(target) as out:
        decode_sf3(source, out)
    for stale in cache_dir.glob(f"{source.stem}-*.sf2"):  # copies of an older source or decoder
        if stale != target:
            stale.unlink(missing_ok=True)
    return target


def loadable_soundfont(soundfont: Path, cache_dir: Path | None) -> Path:
    """What FluidSynth should load for `soundfont`: its decoded copy for an .sf3, else itself.

    Without a cache folder, or when the copy cannot be made (read-only or full disk), the .sf3
    itself is loaded (slower, same sound) and the reason logged.
    """
    if cache_dir is None or soundfont.suffix.lower() != ".sf3":
        return soundfont
    try:
        return decoded_copy(soundfont, cache_dir)
    except (OSError, SoundFontDecodeError) as exc:
        log.warning(
            "cannot keep a decoded copy of %s in %s (%s); loading the .sf3 itself", soundfont, cache_dir, exc
        )
        return soundfont
