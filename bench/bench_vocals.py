"""Vocal synthesis speed for a 60 s pop song: the whole vocals stage and its parts (melody,
singing, bus), median of several runs, plus the vocal bus alone on the same dry take; then, per
installed singer (espeak, piper, mbrola), quality figures on one dry take of the same song:

- pitch: share of voiced frames within 50 cents of the planned note (librosa pyin);
- timing: word onsets (librosa onset detection) against the planned word starts, and each LRC
  line time against where the line's sound begins: median and 95th percentile, ms;
- speed: seconds of singing work per second of song;
- clicks per minute: jumps between neighbouring samples above half the take's peak;
- a spectrogram PNG of the first sung line per singer, written to bench/spectrogram_<singer>.png.

Run: .venv/bin/python bench/bench_vocals.py [--runs 5] [--singers espeak,piper,mbrola]

Whole jobs (--job): the same 60 s pop song rendered end to end by run_job (wav only, no video,
warm: SoundFont and voices loaded once) with vocals.engine none and then each singer; prints the
median job seconds, the vocals stage's median and the ratio to the job without vocals (the
+50 % job-time ceiling is a ratio of at most 1.5).

    .venv/bin/python bench/bench_vocals.py --job [--runs 3] [--singers espeak,piper,mbrola,auto]

The voice in the mix (--bus): each singer's dry take of the song through the vocal bus (pop):
the sung passages' RMS, the peak, and the long-term spectrum's share per band (dB of the total),
the figures the per-singer treatment in musicd/vocals/bus.py was set from.

    .venv/bin/python bench/bench_vocals.py --bus [--singers espeak,piper,mbrola]
"""

from __future__ import annotations

import argparse
import resource
import statistics
import time
from pathlib import Path

from musicd.music.plan import make_plan
from musicd.spec import load_spec
from musicd.vocals import sing
from musicd.vocals.bus import process_vocal_bus

LYRICS = """[verse]
The city lights are calling me tonight
I walk alone beneath the silver rain
Every step is bringing me home
To the place where I belong

[chorus]
Sing it loud and sing it clear
We are here, we are here
"""
SAMPLE_RATE = 44100


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5, help="timed runs per voice (median)")
    parser.add_argument(
        "--singers", default="espeak,piper,mbrola", help="singers to measure (comma-separated)"
    )
    parser.add_argument("--quality-only", action="store_true", help="skip the espeak speed runs")
    parser.add_argument("--job", action="store_true", help="time whole 60 s jobs per singer instead")
    parser.add_argument("--bus", action="store_true", help="each singer's level and spectrum on the bus")
    args = parser.parse_args()
    if args.job:
        jobs(args.singers.split(","), args.runs)
        return
    spec = load_spec(
        "genres: [pop]\nduration: 60\nlyrics: |\n" + "".join(f"  {line}\n" for line in LYRICS.splitlines())
    )
    plan = make_plan(spec, 7)
    n_samples = int(plan.duration_s * SAMPLE_RATE)
    if args.bus:
        for name in args.singers.split(","):
            bus_figures(name.strip(), spec, plan, n_samples)
        return
    if not args.quality_only:
        speed(spec, plan, n_samples, args.runs)
    for name in args.singers.split(","):
        quality(name.strip(), spec, plan, n_samples)


JOB_SPEC = """title: Vocal job benchmark
genres: [pop]
duration: 60
seed: 7
vocals: {{engine: {engine}, voice: low}}
output: {{formats: [wav], stems: true, midi: true}}
lyrics: |
""" + "".join(f"  {line}\n" for line in LYRICS.splitlines())


def jobs(singers: list[str], runs: int) -> None:
    """Whole-job seconds per singer against the same job without vocals (median of `runs`)."""
    import os
    import tempfile

    from musicd.pipeline import Resources, run_job
    from musicd.vocals.piper import clear_line_cache

    resources = Resources.load()
    names = ["none", *(s.strip() for s in singers if s.strip() != "none")]

    def cpu_s() -> float:
        own, children = (resource.getrusage(who) for who in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN))
        return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime

    def once(engine: str) -> tuple[float, float, float, str]:
        clear_line_cache()  # each job sings its lines for the first time, as new lyrics would
        with tempfile.TemporaryDirectory() as out:
            start, start_cpu = time.perf_counter(), cpu_s()
            result = run_job(load_spec(JOB_SPEC.format(engine=engine)), Path(out), resources)
            total, cpu = time.perf_counter() - start, cpu_s() - start_cpu
        vocals = result.manifest["engines"]["vocals"]
        return total, cpu, float(result.manifest["timings_s"].get("vocals", 0.0)), vocals["used"]

    print(f"load average at start: {os.getloadavg()[0]:.2f}; cores: {os.cpu_count()}")
    baseline = baseline_cpu = 0.0
    for engine in names:
        once(engine)  # warm up: loads the voice, fills the caches
        measured = [once(engine) for _ in range(runs)]
        total = statistics.median(m[0] for m in measured)
        cpu = statistics.median(m[1] for m in measured)
        stage = statistics.median(m[2] for m in measured)
        baseline, baseline_cpu = baseline or total, baseline_cpu or cpu
        print(
            f"{engine:>7} (sung by {measured[0][3]}): job wall median of {runs} {total:.2f} s "
            f"(min {min(m[0] for m in measured):.2f}, max {max(m[0] for m in measured):.2f}), "
            f"CPU {cpu:.2f} s, vocals stage {stage:.2f} s; x{total / baseline:.2f} wall, "
            f"x{cpu / baseline_cpu:.2f} CPU of the job without vocals"
        )
    print(f"load average at end: {os.getloadavg()[0]:.2f}")


def speed(spec, plan, n_samples: int, runs: int) -> None:
    """The espeak vocals stage's speed (both registers) and the vocal bus alone."""
    sing(spec.lyrics, ["en"], "low", "espeak", plan, SAMPLE_RATE, n_samples, seed=7)  # warm up
    args = argparse.Namespace(runs=runs)
    for voice in ("low", "high"):
        totals: list[float] = []
        parts: dict[str, list[float]] = {}
        for _ in range(args.runs):
            start = time.perf_counter()
            result = sing(spec.lyrics, ["en"], voice, "espeak", plan, SAMPLE_RATE, n_samples, seed=7)
            totals.append(time.perf_counter() - start)
            for name, seconds in result.timings_s.items():
                parts.setdefault(name, []).append(seconds)
        vocal = result.vocal
        sung_s = sum(vocal.beats_to_seconds(n.note.duration_beats) for n in vocal.notes)
        total = statistics.median(totals)
        medians = {name: round(statistics.median(values), 3) for name, values in parts.items()}
        print(
            f"voice={voice}: song {plan.duration_s:.1f} s, sung {sung_s:.1f} s, "
            f"{sum(1 for n in vocal.notes if not n.continuation)} syllables; median of "
            f"{args.runs}: {total:.2f} s total {medians} (min {min(totals):.2f}, max "
            f"{max(totals):.2f}) -> {total / sung_s:.3f} s per sung second, "
            f"{total * 60 / plan.duration_s:.2f} s per 60 s song"
        )
    from musicd.vocals.espeak import speak
    from musicd.vocals.singing import sing_vocal_line

    dry = sing_vocal_line(result.vocal, speak, SAMPLE_RATE, n_samples)
    bus_runs = []
    for _ in range(args.runs):
        start = time.perf_counter()
        process_vocal_bus(dry, SAMPLE_RATE, plan.genres, plan.tempo_bpm)
        bus_runs.append(time.perf_counter() - start)
    print(
        f"vocal bus alone ({'/'.join(plan.genres)}, {len(dry) / SAMPLE_RATE:.0f} s at "
        f"{SAMPLE_RATE} Hz): median of {args.runs}: {statistics.median(bus_runs):.3f} s "
        f"(min {min(bus_runs):.3f}, max {max(bus_runs):.3f})"
    )


def quality(name: str, spec, plan, n_samples: int) -> None:
    """Pitch, timing, speed and clicks of one singer's dry take; its spectrogram PNG."""
    import librosa
    import numpy as np

    from musicd.engines import EngineConfig, make_singer
    from musicd.vocals import plan_vocal_line
    from musicd.vocals.singing import group_words
    from musicd.vocals.timing_files import lrc_text

    singer = make_singer(name, EngineConfig())
    status = singer.availability()
    if not status.usable:
        print(f"{name}: not installed here ({status.reason})")
        return
    vocal = plan_vocal_line(spec.lyrics, ["en"], "low", plan, 7)
    rate = 22050
    n = int(n_samples * rate / SAMPLE_RATE)
    singer.sing(vocal, rate, n)  # warm up (loads the model)
    from musicd.vocals.piper import clear_line_cache

    clear_line_cache()  # time a first singing of these lines, as new lyrics would be
    start = time.perf_counter()
    audio = singer.sing(vocal, rate, n)
    seconds = time.perf_counter() - start
    hop = 256
    f0, voiced, _ = librosa.pyin(audio, fmin=65, fmax=1000, sr=rate, frame_length=1024, hop_length=hop)
    times = librosa.times_like(f0, sr=rate, hop_length=hop)
    starts = np.array([vocal.beats_to_seconds(x.note.start_beat) for x in vocal.notes])
    ends = np.array([vocal.beats_to_seconds(x.note.start_beat + x.note.duration_beats) for x in vocal.notes])
    pitches = np.array([x.note.pitch for x in vocal.notes])
    cents = []
    for t, hz, is_voiced in zip(times, f0, voiced):
        k = np.flatnonzero((starts <= t) & (t < ends))
        if is_voiced and k.size and np.isfinite(hz):
            cents.append(abs(1200 * np.log2(hz / librosa.midi_to_hz(pitches[k[0]]))))
    share = float(np.mean(np.array(cents) <= 50)) if cents else 0.0
    onsets = librosa.onset.onset_detect(y=audio, sr=rate, hop_length=128, units="time", backtrack=True)
    words = np.array([min(abs(onsets - vocal.beats_to_seconds(w.start_beat))) for w in group_words(vocal)])
    loud = np.abs(audio) > np.max(np.abs(audio)) * 0.01
    lines = []
    for entry in lrc_text(vocal).splitlines():
        if len(entry) > 10 and entry[1:3].isdigit():
            at = int(entry[1:3]) * 60 + float(entry[4:9])
            begin = max(0.0, at - 0.2)
            hits = np.flatnonzero(loud[int(begin * rate) : int((at + 0.5) * rate)])
            if hits.size:
                lines.append(abs(begin + hits[0] / rate - at))
    jumps = np.abs(np.diff(audio))
    clicks = int(np.sum(jumps > 0.5 * np.max(np.abs(audio))))
    song_s = n / rate
    sung_s = float(np.sum(ends - starts))
    print(
        f"{name}: {share:.1%} of {len(cents)} voiced frames within 50 cents; word onsets median "
        f"{1000 * np.median(words):.0f} ms, p95 {1000 * np.percentile(words, 95):.0f} ms "
        f"({np.mean(words <= 0.05):.0%} within 50 ms); LRC line starts median "
        f"{1000 * np.median(lines):.0f} ms, p95 {1000 * np.percentile(lines, 95):.0f} ms; "
        f"{seconds:.2f} s for {sung_s:.1f} s sung = {seconds / song_s:.3f} s per second of song; "
        f"{clicks / (song_s / 60):.1f} clicks/min"
    )
    spectrogram_png(audio, rate, vocal, Path(__file__).parent / f"spectrogram_{name}.png", name)


BANDS_HZ = (
    (0, 250),
    (250, 500),
    (500, 2000),
    (2000, 5000),
    (5000, 8000),
    (8000, 11000),
    (11000, 16000),
    (16000, 22050),
)


def bus_figures(name: str, spec, plan, n_samples: int) -> None:
    """One singer's take through the bus: sung RMS, peak and spectrum share per band."""
    import numpy as np
    from scipy import signal

    from musicd.engines import EngineConfig, make_singer
    from musicd.vocals import plan_vocal_line
    from musicd.vocals.bus import _sung_rms

    singer = make_singer(name, EngineConfig())
    if not singer.availability().usable:
        print(f"{name}: not installed here")
        return
    vocal = plan_vocal_line(spec.lyrics, ["en"], "low", plan, 7)
    dry = singer.sing(vocal, SAMPLE_RATE, n_samples)
    stem = process_vocal_bus(dry, SAMPLE_RATE, plan.genres, plan.tempo_bpm, singer=name)
    mid = stem.mean(axis=1)
    freqs, power = signal.welch(mid, SAMPLE_RATE, nperseg=4096)
    shares = " ".join(
        f"{a}-{b}:{10 * np.log10(power[(freqs >= a) & (freqs < b)].sum() / power.sum() + 1e-12):.1f}"
        for a, b in BANDS_HZ
    )
    print(
        f"{name}: sung RMS {20 * np.log10(_sung_rms(mid, SAMPLE_RATE)):.1f} dBFS, peak "
        f"{20 * np.log10(np.abs(stem).max()):.1f} dBFS; band shares (Hz: dB) {shares}"
    )


def spectrogram_png(audio, rate: int, vocal, path: Path, name: str) -> None:
    """The first sung line's spectrogram (0-8 kHz, log magnitude) as a greyscale PNG, via ffmpeg."""
    import subprocess

    import numpy as np
    from scipy.signal import stft

    line = vocal.lines[0]
    a = int(vocal.beats_to_seconds(line.start_beat) * rate)
    b = int((vocal.beats_to_seconds(line.end_beat) + 0.3) * rate)
    _, _, z = stft(audio[a:b], rate, nperseg=1024, noverlap=768)
    db = 20 * np.log10(np.abs(z[: int(8000 / (rate / 1024))]) + 1e-9)
    image = np.clip((db - (db.max() - 80)) / 80, 0, 1)[::-1]
    pixels = (255 * image).astype(np.uint8)
    pixels = np.repeat(np.repeat(pixels, 2, axis=0), 2, axis=1)
    height, width = pixels.shape
    subprocess.run(
        [
            "ffmpeg",
            "-y",
            "-loglevel",
            "error",
            "-f",
            "rawvideo",
            "-pix_fmt",
            "gray",
            "-s",
            f"{width}x{height}",
            "-i",
            "-",
            "-frames:v",
            "1",
            str(path),
        ],
        input=pixels.tobytes(),
        check=True,
    )
    print(f"  {name}: spectrogram of {line.text!r} -> {path.name}")


if __name__ == "__main__":
    main()
