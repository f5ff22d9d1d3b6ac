"""One job from spec to finished folder: plan, compose, render, mix, master, encode, video.

Stages are plain functions of their inputs; this module sequences them, writes files at the
edges, reports progress and checks for cancellation between stages and, in the long ones (render,
encode, video), inside them: a cancel then stops FluidSynth or kills ffmpeg within about a second.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np

from musicd import __version__
from musicd.audio.encode import EncodeResult, encode_audio, write_wav
from musicd.audio.loudness import Loudness, measure_file_loudness
from musicd.audio.mastering import MasterResult, master
from musicd.audio.mixing import mix_bus, mix_stems
from musicd.audio.production import produce
from musicd.engines import (
    EngineConfig,
    ModelCache,
    TextureRequest,
    choose_texture_engine,
    preload_models,
)
from musicd.engines.melody_choice import compose_with_melody
from musicd.engines.texture_procedural import texture_level_db
from musicd.errors import CancelledError, RenderError
from musicd.media.cover import render_cover
from musicd.media.video import render_video
from musicd.music.midi import score_to_midi
from musicd.music.plan import Plan, make_plan
from musicd.music.score import Score
from musicd.pipeline.manifest import write_manifest
from musicd.pipeline.names import IGNORE_MARKERS, STEM_FORMAT, STEMS_DIR, mix_name
from musicd.pipeline.tags import (
    TagDefaults,
    TrackTags,
    bpm_value,
    comment_text,
    key_notation,
    language_code,
    make_cover_jpeg,
    parse_lrc,
    plain_lyrics,
    write_tags,
)
from musicd.programs import ffmpeg_version
from musicd.seeding import draw_seed
from musicd.spec import JobSpec
from musicd.synth.fluidsynth import FluidRenderer
from musicd.synth.render import render_stems, synthesized_tracks
from musicd.synth.soundfonts import default_soundfont
from musicd.vocals import VocalResult, duck_lead, sing

log = logging.getLogger(__name__)

SAMPLE_RATE = 44100
KICK_PITCHES = frozenset({35, 36})
STEM_HEADROOM_DB = -0.3  # stems keep their common gain; this is the most any may peak

# Share of the whole job each stage takes, for progress percentages (and so the ETA): the
# measured seconds per minute of audio x 100 (README, Performance: bench_render.py 60 s medians,
# the spectrum video, the piper singer of bench_vocals.py).
STAGE_WEIGHTS = {
    "plan": 2,
    "compose": 5,
    "vocals": 1230,
    "render": 73,
    "texture": 30,
    "mix": 30,
    "master": 40,
    "encode": 69,
    "video": 869,
}
VOCAL_TAIL_S = 8.0  # room for the vocal reverb after the last note; trimmed to the mix
# Progress inside a stage is reported at most this often, and only when it moved this much;
# the cancel flag is checked at every step all the same.
# (A job's history thus holds at most about 100 progress rows, however long it is.)
SUB_PROGRESS_INTERVAL_S = 1.0
SUB_PROGRESS_MIN_STEP = 1.0  # percentage points of the whole job
RENDER_SYNTH_SHARE = 0.85  # of the render stage: FluidSynth; the rest is production

ProgressFn = Callable[[str, float], None]
FractionFn = Callable[[float], None]


@dataclass
class Resources:
    """What a worker keeps resident between jobs: the SoundFont and the model cache."""

    renderer: FluidRenderer
    engines: EngineConfig
    models: ModelCache
    tags: TagDefaults = field(default_factory=TagDefaults)

    @classmethod
    def load(
        cls,
        soundfont: Path | None = None,
        engines: EngineConfig | None = None,
        tags: TagDefaults | None = None,
    ) -> Resources:
        """Load the SoundFont and the models to preload (the config's `models:`, parsed).

        `tags` are the artist and album written into every file (the config's `tags:`).
        """
        engines = engines or EngineConfig()
        renderer = FluidRenderer(soundfont or default_soundfont(), SAMPLE_RATE)
        models = ModelCache.from_settings(engines.cache)
        for loaded in preload_models(models, engines):
            log.info("preload: %s", loaded)
        return cls(renderer=renderer, engines=engines, models=models, tags=tags or TagDefaults())

    def unload_idle(self) -> list[str]:
        """Unload models unused for models.cache.keep_alive_s; the worker calls this between jobs."""
        return [key.engine for key in self.models.unload_idle()]


@dataclass(frozen=True)
class JobResult:
    out_dir: Path
    manifest: dict[str, Any]
    seed: int

    @property
    def warnings(self) -> list[dict[str, str]]:
        """Optional stages that failed (the audio was published all the same)."""
        return list(self.manifest.get("warnings", []))


class _Warnings:
    """Failures of optional stages (video, cover, an extra format, tags): recorded, never fatal."""

    def __init__(self) -> None:
        self.items: list[dict[str, str]] = []

    @contextmanager
    def optional(self, stage: str, what: str) -> Iterator[None]:
        try:
            yield
        except CancelledError:
            raise
        except Exception as exc:  # an optional stage's boundary: the audio is kept, the failure recorded
            log.warning("%s failed; the audio is published without it: %s", what, exc, exc_info=True)
            self.items.append({"stage": stage, "message": f"{what} failed: {exc}"})


@dataclass
class _Stages:
    """Progress, cancellation and per-stage timings for one run."""

    stages: tuple[str, ...]
    progress: ProgressFn | None
    should_cancel: Callable[[], bool] | None
    seconds: dict[str, float] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _last: tuple[float, float] = (0.0, -1.0)  # (perf_counter, percent) of the last report

    @contextmanager
    def stage(self, name: str) -> Iterator[None]:
        self._check_cancel(f"cancelled before the {name} stage")
        self._report(name, self._percent(name, 0.0))
        start = time.perf_counter()
        yield
        self.seconds[name] = round(time.perf_counter() - start, 3)
        self._report(name, self._percent(name, 1.0))

    def sub(self, name: str, start: float = 0.0, end: float = 1.0) -> FractionFn:
        """A callback for progress inside stage `name`: it takes 0..1, maps it onto [start, end] of
        the stage's share of the job and reports it (throttled). Every call checks the cancel flag
        and raises CancelledError, which stops the FluidSynth render or kills the ffmpeg running."""

        def report(fraction: float) -> None:
            self._check_cancel(f"cancelled during the {name} stage")
            if self.progress is None:
                return
            within = start + (end - start) * min(max(fraction, 0.0), 1.0)
            percent = self._percent(name, within)
            now = time.perf_counter()
            with self._lock:
                last_s, last_percent = self._last
                if now - last_s < SUB_PROGRESS_INTERVAL_S or percent - last_percent < SUB_PROGRESS_MIN_STEP:
                    return
                self._last = (now, percent)
                self.progress(name, percent)

        return report

    def _check_cancel(self, message: str) -> None:
        if self.should_cancel is not None and self.should_cancel():
            raise CancelledError(message)

    def _percent(self, name: str, within: float) -> float:
        """The whole job's percent done at fraction `within` (0..1) of stage `name`."""
        total = sum(STAGE_WEIGHTS.get(s, 1) for s in self.stages)
        index = self.stages.index(name)
        finished = sum(STAGE_WEIGHTS.get(s, 1) for s in self.stages[:index])
        return round(100.0 * (finished + within * STAGE_WEIGHTS.get(name, 1)) / total, 1)

    def _report(self, name: str, percent: float) -> None:
        if self.progress is None:
            return
        with self._lock:
            self._last = (time.perf_counter(), percent)
            self.progress(name, percent)


def kick_times_s(score: Score) -> list[float]:
    """Onsets of kick drums, which trigger sidechain ducking."""
    drums = next((t for t in score.tracks if t.is_drums), None)
    if drums is None:
        return []
    return sorted({score.beats_to_seconds(n.start_beat) for n in drums.notes if n.pitch in KICK_PITCHES})


def run_job(
    spec: JobSpec,
    out_dir: Path,
    resources: Resources,
    *,
    seed: int | None = None,
    progress: ProgressFn | None = None,
    should_cancel: Callable[[], bool] | None = None,
    manifest_extra: Mapping[str, Any] | None = None,
    spec_bytes: bytes | None = None,
) -> JobResult:
    """Render `spec` into `out_dir` (created if needed); manifest.json is written last."""
    seed = seed if seed is not None else spec.seed if spec.seed is not None else draw_seed()
    sings = bool(spec.lyrics and spec.lyrics.strip()) and spec.vocals.engine != "none"
    names = (
        ("plan", "compose")
        + (("vocals",) if sings else ())
        + ("render", "texture", "mix", "master", "encode")
        + (("video",) if spec.video else ())
    )
    stages = _Stages(names, progress, should_cancel)
    warnings = _Warnings()
    out_dir.mkdir(parents=True, exist_ok=True)

    with stages.stage("plan"):
        plan = make_plan(spec, seed)
        video_styles = spec.video.styles_or(plan.video.default_style) if spec.video else ()
    with stages.stage("compose"):
        score, melody_record = compose_with_melody(plan, spec.engines.melody, resources.models)
    if not sings:
        vocals = _no_vocals(spec, plan, seed)
    else:
        with stages.stage("vocals"):
            tail = int((score.duration_s + VOCAL_TAIL_S) * SAMPLE_RATE)
            vocals = sing(
                spec.lyrics,
                spec.vocals.languages,
                spec.vocals.voice,
                spec.vocals.engine,
                plan,
                SAMPLE_RATE,
                tail,
                seed,
                config=resources.engines,
                cache=resources.models,
            )
            score = _with_vocal_line(score, vocals)
    midi_bytes = score_to_midi(score)
    with stages.stage("render"):
        instrumental = replace(score, tracks=tuple(t for t in score.tracks if t.name != "vocals"))
        stems = render_stems(
            resources.renderer,
            instrumental,
            plan.mix,
            plan.voices,
            plan.kit,
            seed,
            progress=stages.sub("render", 0.0, RENDER_SYNTH_SHARE),
        )
        stems = produce(stems, plan.genres[0], SAMPLE_RATE)
        length = len(next(iter(stems.values())))
    with stages.stage("texture"), resources.models.recording() as model_uses:
        texture = _texture(spec, plan, score, seed, resources, length)
    with stages.stage("mix"):
        stems = mix_stems(stems, plan.mix, SAMPLE_RATE, kick_times_s(score))
        if texture.audio is not None:
            stems["texture"] = texture.audio
        if vocals.audio is not None:
            stems["vocals"] = _fit_length(vocals.audio, length)
        stems, mix = mix_bus(stems, plan.mix, SAMPLE_RATE, in_place=True)
    with stages.stage("master"):
        mastered = master(mix, SAMPLE_RATE, spec.master.loudness_lufs, spec.master.true_peak_db)
    with stages.stage("encode"):
        wav = write_wav(
            out_dir / mix_name(spec.display_title, "wav"),
            mastered.audio,
            SAMPLE_RATE,
            bits=16,
            rng=np.random.default_rng(seed),
        )
        # Two ffmpeg processes read the master WAV while this thread writes the other files.
        with ThreadPoolExecutor(max_workers=2) as pool:
            loudness = pool.submit(measure_file_loudness, wav)
            cover = pool.submit(_draw_cover, wav, out_dir, spec.display_title, plan)
            encodes = _write_files(
                out_dir, spec, wav, stems, mastered, midi_bytes, spec_bytes, warnings, stages.sub("encode")
            )
            subtitles = None
            if vocals.track is not None:
                subtitles = _write_text(out_dir / "lyrics.srt", vocals.srt_text)
                _write_text(out_dir / "lyrics.lrc", vocals.lrc_text)
            measured = loudness.result()
            cover_jpeg: bytes | None = None
            with warnings.optional("cover", "drawing the cover"):
                cover_jpeg = cover.result()
        tags = _track_tags(spec, plan, seed, resources.tags, vocals, measured, manifest_extra)
        for encoded in encodes:
            with warnings.optional("tags", f"tagging {encoded.path.name}"):
                write_tags(
                    encoded.path, encoded.format, tags, cover_jpeg=cover_jpeg, file_gain_db=encoded.gain_db
                )
    if video_styles:
        with stages.stage("video"):
            share = 1.0 / len(video_styles)
            for index, style in enumerate(video_styles):
                name = "video.mp4" if index == 0 else f"video-{style}.mp4"
                with warnings.optional("video", f"the {style} video"):
                    try:
                        render_video(
                            wav,
                            out_dir / name,
                            style=style,
                            title=spec.display_title,
                            profile=plan.video,
                            subtitles_path=subtitles,
                            progress=stages.sub("video", index * share, (index + 1) * share),
                        )
                    except BaseException:
                        (out_dir / name).unlink(missing_ok=True)
                        raise

    engines = {
        "compose": melody_record,
        "render": {
            "asked": "fluidsynth",
            "used": "fluidsynth",
            "reason": "",
            "synthesized": synthesized_tracks(instrumental, plan.voices, plan.kit),
        },
        "texture": {**texture.record, "models": [use.to_dict() for use in model_uses]},
        "vocals": vocals.record(),
    }
    manifest = _manifest(
        spec,
        plan,
        score,
        seed,
        resources,
        mastered,
        measured,
        encodes,
        engines,
        stages.seconds,
        manifest_extra,
        wav=wav,
        tags=tags,
        warnings=warnings.items,
    )
    write_manifest(out_dir, manifest)
    log.info("rendered %r into %s in %.2f s", spec.display_title, out_dir, sum(stages.seconds.values()))
    return JobResult(out_dir=out_dir, manifest=manifest, seed=seed)


@dataclass(frozen=True)
class _Texture:
    audio: np.ndarray | None
    record: dict[str, Any]


def _texture(
    spec: JobSpec, plan: Plan, score: Score, seed: int, resources: Resources, length: int
) -> _Texture:
    """The texture layer at the genre's level under the mix, `length` samples long."""
    choice = choose_texture_engine(spec.engines.texture, resources.engines)
    record: dict[str, Any] = dict(choice.as_record(spec.engines.texture))
    if choice.engine is None:
        return _Texture(None, record)
    request = TextureRequest(
        prompt=spec.prompt or "",
        genres=plan.genres,
        moods=plan.moods,
        tempo_bpm=plan.tempo_bpm,
        key_tonic=plan.key_tonic,
        mode=plan.mode,
        meter=plan.meter,
        sections=plan.form,
        duration_s=score.duration_s,
        sample_rate=SAMPLE_RATE,
        seed=seed,
    )
    audio = choice.engine.generate(request, resources.models)
    level_db = texture_level_db(plan.genres)
    record["level_db"] = level_db
    return _Texture(_fit_length(audio * 10 ** (level_db / 20), length), record)


def _no_vocals(spec: JobSpec, plan: Plan, seed: int) -> VocalResult:
    """The vocals result of a job that sings nothing, with the reason."""
    return sing(spec.lyrics, (), "auto", spec.vocals.engine, plan, SAMPLE_RATE, 0, seed)


def _with_vocal_line(score: Score, vocals: VocalResult) -> Score:
    """Add the vocal track to the score and let the lead instrument step back under it."""
    if vocals.track is None:
        return score
    tracks = [duck_lead(t, vocals.vocal) if t.name == "melody" else t for t in score.tracks]
    return replace(score, tracks=(*tracks, vocals.track))


def _fit_length(audio: np.ndarray, length: int) -> np.ndarray:
    """Trim or zero-pad (n, 2) audio to `length` samples."""
    if len(audio) >= length:
        return audio[:length]
    return np.pad(audio, ((0, length - len(audio)), (0, 0)))


def _write_text(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def _track_tags(
    spec: JobSpec,
    plan: Plan,
    seed: int,
    defaults: TagDefaults,
    vocals: VocalResult,
    measured: Loudness,
    extra: Mapping[str, Any] | None,
) -> TrackTags:
    """The tags of every audio file of the job; the date is the job's start (else today)."""
    extra = extra or {}
    started = extra.get("started_at") or extra.get("queued_at")
    try:
        day = datetime.fromisoformat(str(started)).astimezone().date() if started else None
    except ValueError:
        day = None
    job_id = extra.get("job_id")
    sung = vocals.track is not None
    return TrackTags(
        title=spec.display_title,
        artist=defaults.artist,
        album=defaults.album,
        genres=tuple(plan.genres),
        date=(day or datetime.now().astimezone().date()).isoformat(),
        bpm=bpm_value(plan.tempo_bpm),
        key=key_notation(plan.key_tonic, plan.mode),
        lyrics=plain_lyrics(spec.lyrics) if sung else None,
        synced_lyrics=parse_lrc(vocals.lrc_text) if sung else (),
        language=language_code(spec.vocals.languages[0] if spec.vocals.languages else None),
        comment=comment_text(spec.prompt, seed, job_id if isinstance(job_id, str) else None),
        job_id=job_id if isinstance(job_id, str) else None,
        seed=seed,
        integrated_lufs=measured.integrated_lufs if np.isfinite(measured.integrated_lufs) else None,
        true_peak_db=measured.true_peak_db if np.isfinite(measured.true_peak_db) else None,
    )


def _write_files(
    out_dir: Path,
    spec: JobSpec,
    wav: Path,
    stems: dict[str, np.ndarray],
    mastered: MasterResult,
    midi_bytes: bytes,
    spec_bytes: bytes | None,
    warnings: _Warnings,
    progress: FractionFn | None = None,
) -> list[EncodeResult]:
    """The mix's other formats, stems at the master's gain, score.mid and spec.yaml.

    Returns the mix files (the master WAV first). A format that fails to encode is a warning.
    Stems are 24-bit FLAC in stems/, with markers that tell music libraries to skip the folder.
    `progress` gets the fraction of these files written, after each one (it may raise to stop).
    """
    formats = [fmt for fmt in spec.output.formats if fmt != "wav"]
    steps = max(1, len(formats) + (len(stems) if spec.output.stems else 0))
    done = 0

    def step() -> None:
        nonlocal done
        done += 1
        if progress is not None:
            progress(done / steps)

    encodes = [EncodeResult(wav, "wav")]
    for fmt in formats:
        target = out_dir / mix_name(spec.display_title, fmt)
        with warnings.optional("encode", f"encoding {fmt}"):
            try:
                encodes.append(encode_audio(wav, target, fmt))
            except BaseException:
                target.unlink(missing_ok=True)
                raise
        step()
    if spec.output.stems:
        stem_dir = out_dir / STEMS_DIR
        stem_dir.mkdir(exist_ok=True)
        for marker in IGNORE_MARKERS:
            (stem_dir / marker).write_text("*\n", encoding="utf-8")
        gain = 10 ** (mastered.gain_db / 20)
        peak = max(float(np.max(np.abs(s))) for s in stems.values()) * gain
        gain *= min(1.0, 10 ** (STEM_HEADROOM_DB / 20) / peak) if peak > 0 else 1.0
        for name, audio in stems.items():
            _write_stem(stem_dir / f"{name}.{STEM_FORMAT}", audio * gain)
            step()
    if spec.output.midi:
        (out_dir / "score.mid").write_bytes(midi_bytes)
    if spec_bytes is not None:
        (out_dir / "spec.yaml").write_bytes(spec_bytes)
    return encodes


def _draw_cover(wav: Path, out_dir: Path, title: str, plan: Plan) -> bytes:
    """cover.png and its 600 px cover.jpg (the bytes embedded in the tags)."""
    render_cover(wav, out_dir / "cover.png", title=title, profile=plan.video)
    return make_cover_jpeg(out_dir / "cover.png", out_dir / "cover.jpg").read_bytes()


def _write_stem(path: Path, audio: np.ndarray) -> Path:
    """A 24-bit FLAC stem (soundfile's libsndfile encodes it; no dither at 24 bits)."""
    import soundfile

    data = np.clip(np.asarray(audio, dtype=np.float32), -1.0, 1.0 - 2.0**-23)
    if not np.all(np.isfinite(data)):
        raise RenderError(f"Cannot write {path.name}: the stem contains non-finite samples.")
    # FLAC level 0: lossless like any level, a third faster to encode, ~1 % larger
    soundfile.write(str(path), data, SAMPLE_RATE, subtype="PCM_24", format="FLAC", compression_level=0.0)
    return path


def _manifest(
    spec: JobSpec,
    plan: Plan,
    score: Score,
    seed: int,
    resources: Resources,
    mastered: MasterResult,
    measured: Loudness,
    encodes: list[EncodeResult],
    engines: dict[str, Any],
    seconds: dict[str, float],
    extra: Mapping[str, Any] | None,
    *,
    wav: Path,
    tags: TrackTags,
    warnings: list[dict[str, str]],
) -> dict[str, Any]:
    renderer = resources.renderer
    out_dir = wav.parent
    return {
        "status": "done",
        "musicd_version": __version__,
        **dict(extra or {}),
        "title": spec.display_title,
        "seed": seed,
        "spec": spec.to_dict(),
        "plan": plan.to_dict(),
        "mix": {e.format: e.path.relative_to(out_dir).as_posix() for e in encodes},
        "stems_format": f"{STEM_FORMAT} 24-bit" if spec.output.stems else None,
        "tags": tags.to_dict(),
        "warnings": list(warnings),
        "engines": engines,
        "audio": {
            "duration_s": round(len(mastered.audio) / SAMPLE_RATE, 3),
            "music_duration_s": round(score.duration_s, 3),
            "sample_rate": SAMPLE_RATE,
            "target_lufs": spec.master.loudness_lufs,
            "target_true_peak_db": spec.master.true_peak_db,
            "master_gain_db": round(mastered.gain_db, 2),
            "limiter_reduction_db": round(mastered.limiter_reduction_db, 2),
            "limited_fraction": round(mastered.limited_fraction, 4),
            "reached_target": mastered.reached_target,
            "encodes": {
                e.format: {"gain_db": round(e.gain_db, 2), "decoded_peak_db": e.decoded_peak_db}
                for e in encodes
                if e.format != "wav"
            },
        },
        "loudness": {
            "integrated_lufs": round(measured.integrated_lufs, 2),
            "true_peak_db": round(measured.true_peak_db, 2),
            "lra": round(measured.lra, 2),
            "measured_by": f"ffmpeg ebur128 (peak=true) on {wav.name}",
            "master_integrated_lufs": round(mastered.integrated_lufs, 2),
            "master_true_peak_db": round(mastered.true_peak_db, 2),
        },
        "timings_s": seconds,
        "versions": {
            "musicd": __version__,
            "fluidsynth": renderer.fluidsynth_version,
            "ffmpeg": ffmpeg_version(),
            "soundfont": renderer.soundfont_name,
        },
    }
