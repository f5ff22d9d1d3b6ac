"""Time the audio stages on a dense 60 s score: FluidSynth render, stem mix, bus, master (no video).

    .venv/bin/python bench/bench_stages_audio.py [--seconds 60] [--threads 2] [--repeat 3]

Prints wall and CPU seconds per stage and the real-time factor of each and of the whole, and the
CPU seconds per minute of audio that the dynamics add: the drum transient control (inside the
stem mix) and the glue compressor on the bus (mix_bus against a plain sum).
"""

from __future__ import annotations

import argparse
import time
from dataclasses import replace

import numpy as np

from musicd.audio.mastering import master
from musicd.audio.mixing import mix_bus, mix_stems, sum_stems
from musicd.music.profiles import MixProfile, ReverbProfile, StemMix
from musicd.music.score import Note, Score, Track
from musicd.synth.fluidsynth import FluidRenderer
from musicd.synth.soundfonts import default_soundfont

SR = 44100


def dense_score(seconds: float, tempo_bpm: float = 120.0, seed: int = 1) -> Score:
    """Six busy tracks: 8th-note drums, bass, lead and arpeggio, sustained chords and pads."""
    rng = np.random.default_rng(seed)
    beats = seconds * tempo_bpm / 60.0
    drums, bass, melody, arp, chords, pads = [], [], [], [], [], []
    for beat in np.arange(0.0, beats, 0.5):
        b = float(beat)
        drums.append(Note(b, 0.25, 42, 90))
        if b == int(b):
            drums.append(Note(b, 0.25, 36 if int(b) % 2 == 0 else 38, 115))
        bass.append(Note(b, 0.45, 36 + int(rng.integers(0, 12)), 100))
        melody.append(Note(b, 0.45, 72 + int(rng.integers(0, 12)), 90))
        arp.append(Note(b, 0.25, 60 + int(rng.integers(0, 24)), 80))
    for beat in np.arange(0.0, beats, 4.0):
        b = float(beat)
        chords += [Note(b, 3.9, p, 80) for p in (60, 64, 67, 71)]
        pads += [Note(b, 4.0, p, 70) for p in (48, 55, 64)]
    tracks = (
        Track("drums", 0, 9, tuple(drums)),
        Track("bass", 33, 0, tuple(bass)),
        Track("chords", 0, 1, tuple(chords)),
        Track("melody", 81, 2, tuple(melody)),
        Track("pads", 89, 3, tuple(pads)),
        Track("arp", 25, 4, tuple(arp)),
    )
    return Score(tempo_bpm, (4, 4), "A", "minor", tracks, beats)


PROFILE = MixProfile(
    stems={
        "drums": StemMix(gain_db=0.0, highpass_hz=30, reverb_send=0.1),
        "bass": StemMix(gain_db=-1.0, highpass_hz=35, low_shelf_db=2.0, reverb_send=0.05),
        "chords": StemMix(gain_db=-3.0, pan=-0.3, highpass_hz=120, reverb_send=0.25, duck_db=3.0),
        "melody": StemMix(gain_db=-2.0, pan=0.2, high_shelf_db=1.5, reverb_send=0.2),
        "pads": StemMix(
            gain_db=-6.0, highpass_hz=150, lowpass_hz=9000, reverb_send=0.4, chorus_send=0.3, duck_db=4.0
        ),
        "arp": StemMix(gain_db=-5.0, pan=0.4, highpass_hz=200, reverb_send=0.3),
    },
    reverb=ReverbProfile(room_size=0.6, damping=0.4, width=0.9, level=0.5),
    chorus_level=0.6,
)


NO_TRANSIENTS = replace(PROFILE, transient_ratio=1.0)


class Clock:
    def __init__(self) -> None:
        self.wall, self.cpu = time.perf_counter(), time.process_time()

    def lap(self) -> tuple[float, float]:
        wall, cpu = time.perf_counter(), time.process_time()
        result = (wall - self.wall, cpu - self.cpu)
        self.wall, self.cpu = wall, cpu
        return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--target-lufs", type=float, default=-14.0)
    args = parser.parse_args()

    clock = Clock()
    renderer = FluidRenderer(default_soundfont(), SR, threads=args.threads)
    load_wall, _ = clock.lap()
    print(
        f"FluidSynth {renderer.fluidsynth_version}, {renderer.soundfont_name}: "
        f"{len(renderer.manifest_info) and renderer.manifest_info['synth_instances']} synth(s), "
        f"loaded in {load_wall:.2f} s"
    )
    score = dense_score(args.seconds)
    kicks = [score.beats_to_seconds(n.start_beat) for n in score.track("drums").notes if n.pitch == 36]
    notes = sum(len(t.notes) for t in score.tracks)
    print(f"score: {len(score.tracks)} tracks, {notes} notes, {score.duration_s:.0f} s")
    for run in range(1, args.repeat + 1):
        clock.lap()
        stems = renderer.render(score, PROFILE)
        render = clock.lap()
        processed = mix_stems(stems, PROFILE, SR, kicks)
        mixing = clock.lap()
        _, mixed = mix_bus(processed, PROFILE, SR, in_place=True)
        bus = clock.lap()
        sum_stems(processed)
        plain_sum = clock.lap()
        mix_stems(stems, NO_TRANSIENTS, SR, kicks)
        plain_mix = clock.lap()
        result = master(mixed, SR, args.target_lufs, -1.0)
        mastering = clock.lap()
        audio_s = mixed.shape[0] / SR
        total_wall = render[0] + mixing[0] + bus[0] + mastering[0]
        per_minute = 60.0 / audio_s
        print(
            f"run {run}: render {render[0]:.2f} s wall / {render[1]:.2f} s cpu ({audio_s / render[0]:.0f}x), "
            f"mix {mixing[0]:.2f} / {mixing[1]:.2f}, bus {bus[0]:.2f} / {bus[1]:.2f}, "
            f"master {mastering[0]:.2f} / {mastering[1]:.2f} "
            f"({result.iterations} it, limiter {result.limiter_reduction_db:.1f} dB) -> "
            f"total {total_wall:.2f} s for {audio_s:.1f} s of audio ({audio_s / total_wall:.0f}x real time)"
        )
        print(
            f"  dynamics, cpu s per minute of audio: transient control "
            f"{(mixing[1] - plain_mix[1]) * per_minute:.3f}, glue {(bus[1] - plain_sum[1]) * per_minute:.3f}"
        )
    renderer.close()


if __name__ == "__main__":
    main()
