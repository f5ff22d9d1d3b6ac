"""FluidSynth rendering with the real library and the default SoundFont (Debian's MuseScore General)."""

from __future__ import annotations

from ctypes import c_void_p
from pathlib import Path

import numpy as np
import pytest

from musicd.errors import RenderError, ResourceMissingError
from musicd.music.compose.bass import CC_EXPRESSION, wobble_level
from musicd.music.profiles import MixProfile, ReverbProfile, StemMix
from musicd.music.score import Control, Note, Score, Track, semitones_to_bend
from musicd.synth.fluidsynth import CC_CHORUS_SEND, CC_REVERB_SEND, DRUM_BANK, FluidRenderer, _api
from musicd.synth.soundfonts import (
    SOUNDFONT_ENV,
    default_soundfont,
    resolve_soundfont,
    soundfont_cache_dir,
    soundfont_info,
)

SR = 44100
FLOOR = 10 ** (-80 / 20)
SILENT = 10 ** (-120 / 20)  # FluidSynth's reverb adds a ~1e-8 offset against denormals


def make_score(*tracks: Track, length_beats: float = 8.0, tempo_bpm: float = 120.0) -> Score:
    return Score(
        tempo_bpm=tempo_bpm,
        meter=(4, 4),
        key_tonic="C",
        mode="major",
        tracks=tracks,
        length_beats=length_beats,
    )


def notes(*spec: tuple[float, float, int]) -> tuple[Note, ...]:
    return tuple(Note(start, dur, pitch, 100) for start, dur, pitch in spec)


@pytest.fixture(scope="module")
def renderer() -> FluidRenderer:
    r = FluidRenderer(default_soundfont(), SR)
    yield r
    r.close()


def band_test_score() -> Score:
    """Four instruments playing together, one of them silent."""
    return make_score(
        Track("drums", 0, 9, notes((0, 0.5, 36), (1, 0.5, 38), (2, 0.5, 36), (3, 0.5, 42), (3.5, 0.5, 42))),
        Track("bass", 33, 0, notes((0, 1, 36), (1, 1, 43), (2, 2, 41))),
        Track("pads", 89, 1, notes((0, 4, 60), (0, 4, 64), (0, 4, 67))),
        Track("melody", 73, 2, notes((0, 0.5, 84), (0.5, 0.5, 86), (1, 1, 88), (2, 2, 84))),
        Track("silent", 0, 3, ()),
        length_beats=4.0,
    )


def test_stems_are_float32_not_quantised_to_int16(renderer: FluidRenderer) -> None:
    stems = renderer.render(make_score(Track("piano", 0, 0, notes((0, 1, 60)))), MixProfile())
    piano = stems["piano"]
    assert piano.dtype == np.float32 and piano.ndim == 2 and piano.shape[1] == 2
    sounding = piano[np.abs(piano) > 1e-4]
    steps = sounding * 32768.0
    off_grid = np.abs(steps - np.round(steps)) > 1e-3
    assert off_grid.mean() > 0.9, "samples sit on the int16 grid: the render went through 16-bit"


def test_every_track_gets_an_equally_long_stem_and_silent_tracks_are_silent(renderer: FluidRenderer) -> None:
    stems = renderer.render(band_test_score(), MixProfile())
    assert list(stems) == ["drums", "bass", "pads", "melody", "silent"]
    assert len({s.shape for s in stems.values()}) == 1
    assert np.abs(stems["silent"]).max() == 0.0
    for name in ("drums", "bass", "pads", "melody"):
        assert np.abs(stems[name]).max() > 0.01, name


def _reference_mix(score: Score, mix: MixProfile, soundfont: Path, length: int) -> np.ndarray:
    """The whole score rendered the ordinary way: one synth, one stereo output, one reverb/chorus."""
    import fluidsynth

    api = _api()
    synth = fluidsynth.Synth(gain=0.2, samplerate=SR, channels=16)
    ptr = c_void_p(synth.synth)
    try:
        sfid = synth.sfload(str(soundfont))
        api.set_reverb_roomsize(ptr, -1, mix.reverb.room_size)
        api.set_reverb_damp(ptr, -1, mix.reverb.damping)
        api.set_reverb_width(ptr, -1, mix.reverb.width)
        api.set_reverb_level(ptr, -1, mix.reverb.level)
        api.set_chorus_level(ptr, -1, mix.chorus_level)
        events = []
        spb = SR * 60.0 / score.tempo_bpm
        for ch, track in enumerate(score.tracks):
            api.set_channel_type(ptr, ch, 1 if track.is_drums else 0)
            api.program_select(ptr, ch, sfid, DRUM_BANK if track.is_drums else 0, track.program)
            api.cc(ptr, ch, 7, 100)
            api.cc(ptr, ch, 10, 64)
            api.cc(ptr, ch, CC_REVERB_SEND, round(mix.stem(track.name).reverb_send * 127))
            api.cc(ptr, ch, CC_CHORUS_SEND, round(mix.stem(track.name).chorus_send * 127))
            for n in track.notes:
                on = round(n.start_beat * spb)
                events.append((on, 1, ch, n.pitch, n.velocity))
                events.append(
                    (max(on + 1, round((n.start_beat + n.duration_beats) * spb)), 0, ch, n.pitch, 0)
                )
        events.sort()
        out = np.zeros((2, length), np.float32)
        pos = 0

        def run(count: int) -> None:
            nonlocal pos
            left, right = out[0, pos:].ctypes.data, out[1, pos:].ctypes.data
            dry = (c_void_p * 2)(left, right)
            fx = (c_void_p * 4)(left, right, left, right)
            assert api.process(ptr, count, 4, fx, 2, dry) == 0
            pos += count

        for at, is_on, ch, key, vel in events:
            if at > pos:
                run(at - pos)
            if is_on:
                api.noteon(ptr, ch, key, vel)
            else:
                api.noteoff(ptr, ch, key)
        run(length - pos)
        return out.T
    finally:
        synth.delete()


def test_stems_sum_to_the_full_synth_mix(renderer: FluidRenderer) -> None:
    score = band_test_score()
    # Every send above zero: a zero send switches that stem's effects units off entirely (the
    # SoundFont's own presets would otherwise still send a little), which one shared unit can't copy.
    mix = MixProfile(
        stems={
            "drums": StemMix(reverb_send=0.1, chorus_send=0.05),
            "bass": StemMix(reverb_send=0.05, chorus_send=0.1),
            "pads": StemMix(reverb_send=0.6, chorus_send=0.5),
            "melody": StemMix(reverb_send=0.3, chorus_send=0.2),
        }
    )
    stems = renderer.render(score, mix)
    total = np.sum(list(stems.values()), axis=0)
    reference = _reference_mix(score, mix, renderer.soundfont, total.shape[0])
    # Not bit-exact: FluidSynth reuses voice objects and a reused voice's first block carries a
    # little state from its previous note, and one shared synth reuses voices in another order than
    # several. Everything else (routing, effects, levels) must agree: error energy under -50 dB.
    error = (total - reference).astype(np.float64)
    error_db = 10 * np.log10(np.sum(error**2) / np.sum(reference.astype(np.float64) ** 2))
    assert error_db < -50, f"stems differ from the full mix by {error_db:.1f} dB"


def test_each_stem_holds_only_its_own_instrument(renderer: FluidRenderer) -> None:
    score = band_test_score()
    together = renderer.render(score, MixProfile())
    for track in score.tracks:
        alone = renderer.render(make_score(track, length_beats=score.length_beats), MixProfile())[track.name]
        n = min(alone.shape[0], together[track.name].shape[0])
        assert np.abs(together[track.name][:n] - alone[:n]).max() < 1e-6, track.name
        assert np.all(np.abs(together[track.name][n:]) < FLOOR)


def test_a_track_is_silent_in_its_stem_before_it_starts(renderer: FluidRenderer) -> None:
    score = make_score(Track("early", 0, 0, notes((0, 1, 60))), Track("late", 40, 1, notes((6, 1, 72))))
    stems = renderer.render(score, MixProfile())
    start_late = int(6 * SR * 60 / 120)
    assert np.abs(stems["late"][:start_late]).max() < SILENT  # only the reverb's anti-denormal offset
    assert np.abs(stems["late"][start_late:]).max() > 0.01


def test_release_tail_rings_past_the_score_end_and_trailing_silence_is_trimmed(
    renderer: FluidRenderer,
) -> None:
    mix = MixProfile(
        stems={"strings": StemMix(reverb_send=0.8)}, reverb=ReverbProfile(room_size=0.9, level=0.9)
    )
    score = make_score(Track("strings", 48, 0, notes((0, 2, 60))), length_beats=2.0)  # ends at 1.0 s
    audio = renderer.render(score, mix)["strings"]
    duration_s = audio.shape[0] / SR
    assert 1.3 < duration_s < 1.0 + 6.0 + 0.1
    assert np.abs(audio[int(1.05 * SR) :]).max() > 1e-3  # still ringing after the last bar line
    assert np.abs(audio[-SR // 100 :]).max() >= FLOOR * 0.5  # ends where the tail fades under -80 dBFS
    assert np.abs(audio[-SR // 100 :]).max() < 10 ** (-50 / 20)


def test_a_short_note_leaves_the_stem_at_the_musical_length(renderer: FluidRenderer) -> None:
    score = make_score(Track("drums", 0, 9, notes((0, 0.25, 42))), length_beats=16.0)  # 8 s of music
    audio = renderer.render(score, MixProfile())["drums"]
    assert audio.shape[0] == 8 * SR


def test_reverb_send_changes_the_stem(renderer: FluidRenderer) -> None:
    score = make_score(Track("piano", 0, 0, notes((0, 0.5, 60), (1, 0.5, 64))), length_beats=2.0)
    dry = renderer.render(score, MixProfile(stems={"piano": StemMix(reverb_send=0.0)}))["piano"]
    wet = renderer.render(score, MixProfile(stems={"piano": StemMix(reverb_send=1.0)}))["piano"]
    after_release = slice(int(1.6 * SR), int(2.5 * SR))

    def energy(a: np.ndarray) -> float:
        seg = a[after_release]
        return float(np.sum(seg.astype(np.float64) ** 2)) if seg.size else 0.0

    assert energy(wet) > 4 * energy(dry)
    assert wet.shape[0] > dry.shape[0]


def test_soundfont_loads_once_and_renders_do_not_bleed_into_each_other(renderer: FluidRenderer) -> None:
    loads = renderer.soundfont_loads
    quiet = make_score(Track("flute", 73, 0, notes((1, 1, 72))), length_beats=4.0)
    loud = make_score(
        Track("drums", 0, 9, notes(*[(b / 2, 0.5, 36 + (b % 3)) for b in range(16)])),
        Track("pads", 89, 1, notes((0, 8, 48), (0, 8, 55), (0, 8, 64))),
        length_beats=8.0,
    )
    big_reverb = MixProfile(
        stems={"pads": StemMix(reverb_send=1.0, chorus_send=1.0)},
        reverb=ReverbProfile(room_size=1.0, damping=0.0, level=1.0),
    )
    first = renderer.render(quiet, MixProfile())["flute"]
    renderer.render(loud, big_reverb)
    second = renderer.render(quiet, MixProfile())["flute"]
    assert renderer.soundfont_loads == loads
    assert first.shape == second.shape
    assert np.array_equal(first, second)
    assert np.abs(second[: SR // 2]).max() < SILENT  # nothing before the flute's first note


def test_drum_tracks_play_the_gm_drum_kit(renderer: FluidRenderer) -> None:
    kick = renderer.render(make_score(Track("drums", 0, 9, notes((0, 0.5, 36)))), MixProfile())["drums"]
    piano = renderer.render(make_score(Track("drums", 0, 0, notes((0, 0.5, 36)))), MixProfile())["drums"]
    assert np.abs(kick).max() > 0.01
    assert not np.allclose(kick[:SR], piano[:SR], atol=1e-3)


def test_more_tracks_than_stem_outputs_loads_another_synth() -> None:
    with FluidRenderer(default_soundfont(), SR, max_stems=2, threads=1) as small:
        tracks = [Track(f"t{i}", 0, i, notes((0, 0.5, 60 + i))) for i in range(3)]
        stems = small.render(make_score(*tracks, length_beats=1.0), MixProfile())
        assert small.soundfont_loads == 2
        assert all(np.abs(s).max() > 0.001 for s in stems.values())


def test_duplicate_track_names_are_rejected(renderer: FluidRenderer) -> None:
    score = make_score(Track("a", 0, 0, notes((0, 1, 60))), Track("a", 0, 1, notes((0, 1, 64))))
    with pytest.raises(RenderError, match="unique"):
        renderer.render(score, MixProfile())


def test_manifest_info_names_fluidsynth_and_the_soundfont(renderer: FluidRenderer) -> None:
    info = renderer.manifest_info
    assert info["fluidsynth_version"].startswith("2.")
    assert info["soundfont_name"] == "MuseScore_General"
    assert info["soundfont_loaded_from"].endswith(".sf2")  # the decoded copy, not the .sf3
    assert info["soundfont_load_s"] > 0


def test_missing_soundfont_says_how_to_install_one(tmp_path: Path) -> None:
    with pytest.raises(ResourceMissingError, match="apt-get install musescore-general-soundfont"):
        default_soundfont(env={}, candidates=(tmp_path / "none.sf2",))
    with pytest.raises(ResourceMissingError, match=SOUNDFONT_ENV):
        default_soundfont(env={SOUNDFONT_ENV: str(tmp_path / "gone.sf2")})
    with pytest.raises(ResourceMissingError, match="soundfont:"):
        resolve_soundfont(tmp_path / "gone.sf2")
    with pytest.raises(ResourceMissingError, match="does not exist"):
        FluidRenderer(tmp_path / "gone.sf2")


def test_corrupt_soundfont_is_reported(tmp_path: Path) -> None:
    broken = tmp_path / "broken.sf2"
    broken.write_bytes(b"RIFF\x00\x00\x00\x00not a soundfont")
    with pytest.raises(ResourceMissingError, match="not a valid"):
        FluidRenderer(broken, threads=1)


def test_soundfont_choice_prefers_the_environment_then_the_defaults(tmp_path: Path) -> None:
    custom = tmp_path / "custom.sf2"
    custom.write_bytes(b"x")
    assert default_soundfont(env={SOUNDFONT_ENV: str(custom)}) == custom
    assert default_soundfont(env={}) == Path("/usr/share/sounds/sf3/MuseScore_General.sf3")
    fallback = tmp_path / "FluidR3_GM.sf2"
    fallback.write_bytes(b"x")
    assert default_soundfont(env={}, candidates=(tmp_path / "missing.sf2", fallback)) == fallback
    assert soundfont_info(custom).format == "sf2"


def test_soundfont_cache_follows_systemd_then_xdg(tmp_path: Path) -> None:
    assert soundfont_cache_dir({"CACHE_DIRECTORY": "/var/cache/musicd"}) == Path(
        "/var/cache/musicd/soundfonts"
    )
    assert soundfont_cache_dir({"XDG_CACHE_HOME": str(tmp_path)}) == tmp_path / "musicd" / "soundfonts"


def envelope_rate_hz(mono: np.ndarray, frame: int = 441) -> float:
    """The strongest rate (Hz) at which the RMS envelope of `mono` rises and falls."""
    frames = mono[: len(mono) // frame * frame].reshape(-1, frame)
    rms = np.sqrt((frames.astype(np.float64) ** 2).mean(axis=1))
    rms -= rms.mean()
    spectrum = np.abs(np.fft.rfft(rms * np.hanning(len(rms))))
    rates = np.fft.rfftfreq(len(rms), frame / SR)
    return float(rates[1 + int(np.argmax(spectrum[1:]))])


def pitch_hz(mono: np.ndarray) -> float:
    """The fundamental of a steady tone from its autocorrelation (parabolic peak)."""
    x = mono.astype(np.float64) - mono.mean()
    corr = np.fft.irfft(np.abs(np.fft.rfft(x, 2 * len(x))) ** 2)[: len(x)]
    low, high = SR // 2000, SR // 50
    lag = low + int(np.argmax(corr[low:high]))
    a, b, c = corr[lag - 1], corr[lag], corr[lag + 1]
    return SR / (lag + 0.5 * (a - c) / (a - 2 * b + c))


@pytest.mark.parametrize("period_beats", [0.5, 1.0 / 3.0, 1.0])
def test_an_expression_lfo_makes_the_stem_envelope_pulse_at_its_rate(
    renderer: FluidRenderer, period_beats: float
) -> None:
    step = 1.0 / 48.0
    lfo = tuple(
        Control(round(k * step, 6), "cc", CC_EXPRESSION, wobble_level((k * step / period_beats) % 1.0))
        for k in range(int(8 / step))
    )
    flat = Track("bass", 81, 0, notes((0, 8, 45)))  # a sustained saw lead: no decay of its own
    wobbling = Track("bass", 81, 0, notes((0, 8, 45)), controls=lfo)
    plain = renderer.render(make_score(flat), MixProfile())["bass"][:, 0]
    wobble = renderer.render(make_score(wobbling), MixProfile())["bass"][:, 0]
    body = slice(SR // 2, 4 * SR)  # inside the 4 s note, after the attack
    expected_hz = 120.0 / 60.0 / period_beats
    assert envelope_rate_hz(wobble[body]) == pytest.approx(expected_hz, abs=0.35)
    level = np.sqrt(np.convolve(wobble[body] ** 2, np.ones(441) / 441, mode="valid"))
    assert level.max() > 4 * level.min()  # it pulses deeply, not a ripple
    assert abs(envelope_rate_hz(plain[body]) - expected_hz) > 0.35


def test_a_pitch_bend_shifts_the_pitch_by_its_amount_and_resets_per_render(renderer: FluidRenderer) -> None:
    bent = Track("lead", 80, 0, notes((0, 4, 57)), controls=(Control(0.0, "bend", 0, semitones_to_bend(7)),))
    sample = slice(SR // 2, SR // 2 + 8192)
    shifted = pitch_hz(renderer.render(make_score(bent, length_beats=4), MixProfile())["lead"][sample, 0])
    assert 12 * np.log2(shifted / 220.0) == pytest.approx(7.0, abs=0.15)
    plain = Track("lead", 80, 0, notes((0, 4, 57)))  # the next render starts unbent
    unbent = pitch_hz(renderer.render(make_score(plain, length_beats=4), MixProfile())["lead"][sample, 0])
    assert 12 * np.log2(unbent / 220.0) == pytest.approx(0.0, abs=0.15)


def test_controls_take_effect_at_their_beat(renderer: FluidRenderer) -> None:
    cut = Track("lead", 80, 0, notes((0, 4, 57)), controls=(Control(2.0, "cc", CC_EXPRESSION, 0),))
    lead = renderer.render(make_score(cut, length_beats=4), MixProfile())["lead"][:, 0]

    def rms(a: float, b: float) -> float:
        return float(np.sqrt(np.mean(lead[int(a * SR) : int(b * SR)] ** 2)))

    assert rms(0.5, 0.95) > 20 * max(rms(1.05, 1.9), 1e-9)  # beat 2 at 120 bpm = 1.0 s (reverb tail remains)


def test_a_composed_dubstep_bass_stem_wobbles_at_the_planned_rate_bar_by_bar(renderer: FluidRenderer) -> None:
    from dataclasses import replace

    from musicd.music.compose import compose
    from musicd.music.plan import make_plan
    from musicd.spec import load_spec

    plan = make_plan(load_spec("genres: [dubstep]\nduration: 45\n"), 3)
    score = compose(plan)
    bass = score.track("bass")
    stem = renderer.render(replace(score, tracks=(bass,)), MixProfile())["bass"][:, 0]
    floor = min(c.value for c in bass.controls)
    troughs: dict[int, list[float]] = {}
    for control in bass.controls:
        if control.value == floor:
            troughs.setdefault(int(control.beat // plan.beats_per_bar), []).append(control.beat)
    seconds_per_beat = 60.0 / plan.tempo_bpm
    matched = checked = 0
    for bar, beats in troughs.items():
        if len(beats) < 2:
            continue
        rate_hz = 1.0 / (min(b - a for a, b in zip(beats, beats[1:])) * seconds_per_beat)
        start = int(bar * plan.beats_per_bar * seconds_per_beat * SR)
        end = int((bar + 1) * plan.beats_per_bar * seconds_per_beat * SR)
        checked += 1
        matched += abs(envelope_rate_hz(stem[start:end], frame=256) - rate_hz) < 0.7
    assert checked >= 8 and matched >= 0.8 * checked


def test_every_main_role_enters_the_mix_at_its_level_whatever_plays_it(renderer: FluidRenderer) -> None:
    """SoundFont stems (a GM kit, bass, piano, strings) and a synth voice all land at ROLE_LEVEL_DB."""
    from musicd.audio.dynamics import gated_rms_db
    from musicd.synth.render import ROLE_LEVEL_DB, render_stems

    bar = [(b * 1.0, 0.9) for b in range(8)]
    score = make_score(
        Track("drums", 0, 9, notes(*((s, d, 36 if s % 2 == 0 else 38) for s, d in bar))),
        Track("bass", 33, 0, notes(*((s, d, 36) for s, d in bar))),
        Track("chords", 0, 1, notes((0, 8, 60), (0, 8, 64), (0, 8, 67))),
        Track("pads", 48, 2, notes((0, 8, 55), (0, 8, 62))),
        Track("melody", 73, 3, notes(*((s, d, 72 + int(s) % 5) for s, d in bar))),
        Track("arp", 0, 4, notes(*((s, d, 79) for s, d in bar))),
    )
    stems = render_stems(renderer, score, MixProfile(), {"arp": "pluck"}, "standard", seed=1)
    for role, target_db in ROLE_LEVEL_DB.items():
        assert gated_rms_db(stems[role], SR) == pytest.approx(target_db, abs=0.2), role
