"""Every genre signature the genre table names is in the score, and the ones that live in the
sound are in the render (onsets by beat position, spectra, pitch)."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from musicd.audio.production import PRODUCTION, produce, punch, sampler, stereo_width
from musicd.music.compose import compose
from musicd.music.genres import GENRE_SIGNATURES, GENRES
from musicd.music.plan import make_plan
from musicd.music.profiles import ReverbProfile
from musicd.music.theory import pitch_class
from musicd.spec import load_spec
from musicd.synth.fluidsynth import FluidRenderer
from musicd.synth.kits import kit_named
from musicd.synth.render import render_stems
from musicd.synth.reverb import decay_s, room_reverb
from musicd.synth.soundfonts import default_soundfont

SR = 44100
KICKS, SNARES, RIM, TAMB, OPEN_HAT = {35, 36}, {38, 40}, 37, 54, 46


def song(genre: str, seed: int = 3, duration: int = 60):
    plan = make_plan(load_spec(f"genres: [{genre}]\nduration: {duration}\n"), seed)
    return plan, compose(plan)


def groove_bars(plan, names=("verse", "chorus", "drop")):
    """Bars that play the section's plain groove: not the phrase-end fill bars, not the last."""
    for section in plan.form:
        if section.name in names:
            for bar in range(section.start_bar, section.end_bar):
                if (bar - section.start_bar) % 4 != 3 and bar < plan.bars - 1:
                    yield bar


def hits(notes, pitches, beat, tol=0.06):
    return [n for n in notes if n.pitch in pitches and abs(n.start_beat - beat) <= tol]


def test_every_signature_genre_names_its_signatures():
    for name, sigs in GENRE_SIGNATURES.items():
        assert GENRES[name].signatures == sigs and len(sigs) >= 2


def test_reggae_one_drop_rimshot_skank_and_bubble():
    plan, score = song("reggae")
    drums = score.track("drums").notes
    starts = {s.start_bar for s in plan.form}  # a section may open on a crash and a kick
    bars = [bar for bar in groove_bars(plan, ("chorus",)) if bar not in starts]
    assert bars
    for bar in bars:
        b = bar * 4
        assert not hits(drums, KICKS, b), bar  # nothing on the one
        assert hits(drums, KICKS, b + 2) and hits(drums, {RIM}, b + 2), bar  # kick + rim on 3
    chords = [n for n in score.track("chords").notes if n.start_beat < (plan.bars - 1) * 4]
    assert all(abs(n.start_beat % 2 - 1.0) < 0.1 and n.duration_beats <= 0.25 for n in chords)
    bubble = [n for n in score.track("arp").notes if n.start_beat < (plan.bars - 1) * 4]
    assert bubble and all(abs((n.start_beat % 1) - 0.5) < 0.3 for n in bubble)  # off the beat


def test_disco_open_hats_on_the_offbeats_octave_bass_and_string_stabs():
    plan, score = song("disco")
    drums = score.track("drums").notes
    for bar in groove_bars(plan, ("chorus",)):
        for beat in range(4):
            assert hits(drums, {OPEN_HAT}, bar * 4 + beat + 0.5), (bar, beat)
            assert hits(drums, KICKS, bar * 4 + beat), (bar, beat)
    bass = score.track("bass").notes
    jumps = [abs(b.pitch - a.pitch) for a, b in zip(bass, bass[1:])]
    assert jumps.count(12) > len(jumps) / 3
    arp = score.track("arp")
    assert arp.program in (48, 49) and arp.notes
    assert max(n.duration_beats for n in arp.notes if n.start_beat < (plan.bars - 1) * 4) <= 0.3


@pytest.mark.parametrize("genre", ["soul", "rnb"])
def test_soul_and_rnb_play_a_rhodes_over_a_backbeat(genre):
    plan, score = song(genre)
    assert plan.voices["chords"] == "rhodes"
    drums = score.track("drums").notes
    for bar in groove_bars(plan):
        for beat in (1, 3):
            assert hits(drums, SNARES | {39}, bar * 4 + beat, 0.08), (genre, bar, beat)
    if genre == "soul":
        assert plan.groove == "soul" and plan.voices["pads"] == "tonewheel"
        assert any(n.pitch == TAMB for n in drums)


def test_hip_hop_swings_and_loops_a_two_bar_chop():
    plan, score = song("hip-hop")
    assert plan.swing >= 0.2 and plan.comping == "chop" and not kit_named(plan.kit).kind == "soundfont"
    chords = score.track("chords").notes
    for section in plan.form:
        if section.name != "verse":
            continue
        pattern = {}
        for n in chords:
            bar = int(n.start_beat // 4)
            if section.start_bar <= bar < section.end_bar - 1:
                pattern.setdefault(bar - section.start_bar, set()).add(round(n.start_beat - bar * 4, 1))
        assert pattern[0] == pattern[2] and pattern[1] == pattern[3] and pattern[0] != pattern[1]
        body = [n for n in chords if n.start_beat < (plan.bars - 1) * 4]
        assert max(n.duration_beats for n in body) < 1.0  # cut short, like a chopped sample


def test_country_train_beat_steel_guitar_and_fiddle():
    plan, score = song("country", seed=1)
    assert plan.groove == "train"
    drums = score.track("drums").notes
    snare_steps = {round((n.start_beat % 1) * 4) % 4 for n in drums if n.pitch in SNARES}
    assert snare_steps == {0, 1, 2, 3}  # the brushed sixteenths
    assert plan.instruments["chords"] in (25, 27) and plan.instruments["melody"] in (110, 22)


def test_blues_shuffles_and_bends_into_its_long_notes():
    plan, score = song("blues")
    assert plan.swing >= 0.33 and plan.groove == "shuffle"
    bends = [c for c in score.track("melody").controls if c.kind == "bend"]
    assert bends and min(c.value for c in bends) < 0 and max(c.value for c in bends) == 0
    assert bends[-1].value == 0


def test_cinematic_timpani_on_tonic_and_fifth_and_swelling_strings_and_choir():
    plan, score = song("cinematic")
    tonic = pitch_class(plan.key_tonic)
    timpani = [n for n in score.track("drums").notes if 41 <= n.pitch <= 53]
    assert timpani and {n.pitch % 12 for n in timpani} <= {tonic, (tonic + 7) % 12}
    assert plan.instruments["pads"] == 52  # Choir Aahs
    for role in ("chords", "pads"):
        swell = [c.value for c in score.track(role).controls if c.kind == "cc" and c.number == 11]
        assert swell and min(swell) <= 60 and max(swell) == 127, role
        assert sum(b > a for a, b in zip(swell, swell[1:])) > len(swell) / 2  # mostly rising


def test_chillout_and_drum_and_bass_are_their_own_thing():
    plan, _ = song("chillout")
    assert plan.groove == "downtempo" and kit_named(plan.kit).synthesized
    assert plan.voices == {"chords": "rhodes", "pads": "soft-pad", "melody": "pluck"}
    plan, score = song("drum-and-bass")
    assert plan.voices["bass"] == "reese" and plan.voices["chords"] == "soft-pad"
    drums = score.track("drums").notes
    for bar in groove_bars(plan, ("drop",)):
        assert hits(drums, KICKS, bar * 4) and hits(drums, KICKS, bar * 4 + 0.5)  # the amen's 1, 1-and
        assert hits(drums, SNARES, bar * 4 + 1) and hits(drums, SNARES, bar * 4 + 3)


# --- in the render ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def renderer():
    r = FluidRenderer(default_soundfont(), SR)
    yield r
    r.close()


def band_energy(audio, lo, hi, at_s, window_s=0.08):
    a = int(at_s * SR)
    x = audio[a : a + int(window_s * SR)].mean(axis=1)
    spectrum = np.abs(np.fft.rfft(x * np.hanning(len(x)))) ** 2
    freqs = np.fft.rfftfreq(len(x), 1 / SR)
    return float(spectrum[(freqs >= lo) & (freqs < hi)].sum())


def test_reggae_render_drops_on_three_not_one(renderer):
    plan, score = song("reggae", duration=40)
    stems = render_stems(renderer, score, plan.mix, plan.voices, plan.kit, plan.seed)
    spb = 60.0 / plan.tempo_bpm
    one = three = 0.0
    starts = {s.start_bar for s in plan.form}
    for bar in (b for b in groove_bars(plan, ("chorus", "verse")) if b not in starts):
        one += band_energy(stems["drums"], 30, 150, bar * 4 * spb)
        three += band_energy(stems["drums"], 30, 150, (bar * 4 + 2) * spb)
    assert three > 5 * one  # what sounds on the one is the room's tail of the last drop


def test_cinematic_render_timpani_ring_at_the_tonic(renderer):
    plan, score = song("cinematic", duration=40)
    tonic = pitch_class(plan.key_tonic)
    notes = [n for n in score.track("drums").notes if 41 <= n.pitch <= 53]
    # one timpani stroke on the tonic, alone: its strongest partial is its pitch or its fifth
    note = next(n for n in notes if n.pitch % 12 == tonic)
    drums = replace(score.track("drums"), notes=(replace(note, start_beat=0.0),))
    only = replace(score, tracks=(drums,), length_beats=4.0)
    audio = renderer.render(only, plan.mix)["drums"].mean(axis=1)
    x = audio[int(0.05 * SR) : int(0.8 * SR)]
    spectrum = np.abs(np.fft.rfft(x * np.hanning(len(x))))
    freqs = np.fft.rfftfreq(len(x), 1 / SR)
    band = (freqs > 40) & (freqs < 1000)
    peak = freqs[band][np.argmax(spectrum[band])]
    above = (12 * np.log2(peak / 440.0) + 69 - note.pitch) % 12
    assert min(abs(above - k) for k in (0, 7, 12)) < 1.0, (peak, note.pitch)


def test_hip_hop_drums_and_chop_go_through_the_sampler():
    x = (np.random.default_rng(0).standard_normal((SR, 2)) * 0.2).astype(np.float32)
    crushed = sampler(x, SR)
    assert np.allclose(crushed * 2048, np.round(crushed * 2048))  # 12-bit steps
    held = float(np.mean(crushed[1:, 0] == crushed[:-1, 0]))
    assert abs(held - (1 - 26040 / SR)) < 0.02  # sample-and-hold at the SP-1200's 26.04 kHz
    out = produce({"drums": x, "chords": x.copy(), "bass": x.copy()}, "hip-hop", SR)
    # chords and bass share the rest of the chain; only the chop goes through the sampler first
    assert np.array_equal(out["chords"], produce({"bass": sampler(x, SR)}, "hip-hop", SR)["bass"])
    assert not np.allclose(out["chords"], out["bass"])
    prod = PRODUCTION["hip-hop"]
    punched = sampler(punch(x, SR, prod.punch_db, prod.parallel), SR)
    assert np.array_equal(out["drums"], produce({"bass": punched}, "hip-hop", SR)["bass"])


def test_rhodes_tremolo_pans_in_antiphase():
    from musicd.music.score import Note, Track
    from musicd.synth.voices import VOICES, render_track

    track = Track("chords", 4, 1, (Note(0.0, 8.0, 60, 100),))
    audio = render_track(track, VOICES["rhodes"], 120.0, SR, 4 * SR, np.random.default_rng(0))
    frame = SR // 100
    env = np.sqrt((audio[: 3 * SR].reshape(-1, frame, 2) ** 2).mean(axis=1))
    ratio = np.log(env[20:, 0] + 1e-9) - np.log(env[20:, 1] + 1e-9)
    spectrum = np.abs(np.fft.rfft(ratio - ratio.mean()))
    freqs = np.fft.rfftfreq(len(ratio), 1 / 100)
    assert abs(freqs[np.argmax(spectrum)] - VOICES["rhodes"].tremolo_hz) < 0.5


def test_room_reverb_adds_a_tail_of_the_room_length_and_leaves_no_send_alone():
    room = ReverbProfile(0.5, 0.4, 0.9, 0.5)
    x = np.zeros((3 * SR, 2), np.float32)
    x[1000:1100] = 0.5
    dry = x.copy()
    wet = room_reverb(x, 0.3, room, SR)
    tail = wet[1100:] - dry[1100:]
    frame = SR // 20
    env = np.sqrt((tail[: (len(tail) // frame) * frame, 0].reshape(-1, frame) ** 2).mean(axis=1))
    assert env[2] > 0 and env[int(decay_s(0.5) * 20 * 0.6)] < env[2] / 10  # it decays
    assert np.abs(tail[:, 0] - tail[:, 1]).max() > 0  # stereo, not a mono copy
    assert room_reverb(dry.copy(), 0.0, room, SR).tobytes() == dry.tobytes()


def test_synth_stems_carry_their_reverb_send(renderer):
    plan, score = song("trance", duration=20)
    stems = render_stems(renderer, score, plan.mix, plan.voices, plan.kit, plan.seed)
    chords = score.track("chords")
    end = max(n.start_beat + n.duration_beats for n in chords.notes)
    after = int(score.beats_to_seconds(end) * SR) + int(0.45 * SR)  # past the voice's release
    assert np.abs(stems["chords"][after : after + SR // 10]).max() > 1e-4


@pytest.mark.parametrize("genre", ["chillout", "hip-hop"])
def test_stems_with_synth_reverb_and_production_still_add_up_to_the_mix(genre, tmp_path):
    import soundfile as sf

    from musicd.pipeline import Resources, run_job

    result = run_job(load_spec(f"genres: [{genre}]\nduration: 10\nseed: 5\n"), tmp_path, Resources.load())
    stems = [sf.read(p)[0] for p in (tmp_path / "stems").glob("*.flac")]
    mix, _ = sf.read(tmp_path / result.manifest["mix"]["wav"])
    total = sum(stems)
    n = min(len(total), len(mix))
    corr = (total[:n] * mix[:n]).sum() / (((total[:n] ** 2).sum() * (mix[:n] ** 2).sum()) ** 0.5)
    assert corr > 0.98
    loud = result.manifest["loudness"]
    assert abs(loud["integrated_lufs"] + 14) < 1.0 and loud["true_peak_db"] <= -1.0 + 0.05


def test_synthesized_stems_sit_at_the_soundfont_level_of_their_role(renderer):
    from musicd.audio.dynamics import gated_rms_db
    from musicd.synth.render import ROLE_LEVEL_DB, synthesized_tracks

    plan, score = song("house", duration=20)
    stems = render_stems(renderer, score, plan.mix, plan.voices, plan.kit, plan.seed)
    synthesized = synthesized_tracks(score, plan.voices, plan.kit)
    assert {"drums", "bass", "chords"} <= set(synthesized)
    for name in synthesized:
        level = gated_rms_db(np.ascontiguousarray(stems[name]), SR)
        assert abs(level - ROLE_LEVEL_DB[name]) < 2.0, (name, level)  # the room adds a little


# --- techno, trance, house, deep house, and the leads that read as jazz ----------------------

SAXES_AND_VIBES = frozenset({11, 64, 65, 66, 67})


def test_techno_plays_an_acid_line_with_accents_and_slides():
    from musicd.synth.voices import LEGATO_GAP_S, VOICES

    plan, score = song("techno")
    assert plan.voices["bass"] == "acid" and plan.kit == "tr-909" and VOICES["acid"].glide_s > 0
    drop = [s for s in plan.form if s.name == "drop"]
    bass = [
        n
        for n in score.track("bass").notes
        if any(s.start_bar * 4 <= n.start_beat < s.end_bar * 4 for s in drop)
    ]
    assert bass and all(abs(n.start_beat * 4 - round(n.start_beat * 4)) < 1e-6 for n in bass)  # sixteenths
    slides = [
        (a, b)
        for a, b in zip(bass, bass[1:])
        if score.beats_to_seconds(b.start_beat) - score.beats_to_seconds(a.start_beat + a.duration_beats)
        < LEGATO_GAP_S
    ]
    assert len(slides) >= len(bass) / 12  # tied notes: the voice glides between them
    assert any(a.pitch != b.pitch for a, b in slides)
    velocities = np.array([n.velocity for n in bass])
    loud, soft = (
        velocities[velocities > np.median(velocities) + 10],
        velocities[velocities <= np.median(velocities)],
    )
    assert len(loud) >= len(bass) / 8 and loud.mean() - soft.mean() > 18  # accents
    # each drop repeats one bar pattern: hypnotic, not random
    first = sorted(
        (round(n.start_beat % 4, 2), n.pitch) for n in bass if int(n.start_beat // 4) == drop[0].start_bar
    )
    second = sorted(
        (round(n.start_beat % 4, 2), n.pitch) for n in bass if int(n.start_beat // 4) == drop[0].start_bar + 2
    )
    assert first == second


def centroid_hz(x):
    spectrum = np.abs(np.fft.rfft(x * np.hanning(len(x))))
    freqs = np.fft.rfftfreq(len(x), 1 / SR)
    return float((spectrum * freqs).sum() / spectrum.sum())


def test_acid_accents_open_the_filter_in_the_render():
    from musicd.music.score import Note, Track
    from musicd.synth.voices import VOICES, render_track

    notes = tuple(Note(i * 0.5, 0.2, 40, 127 if i % 2 else 70) for i in range(8))
    audio = render_track(
        Track("bass", 38, 1, notes), VOICES["acid"], 120.0, SR, 3 * SR, np.random.default_rng(0)
    )
    window = int(0.06 * SR)
    on = [int(i * 0.25 * SR) for i in range(8)]
    accented = np.mean([centroid_hz(audio[a : a + window, 0]) for a in on[1::2]])
    plain = np.mean([centroid_hz(audio[a : a + window, 0]) for a in on[0::2]])
    assert accented > 1.15 * plain, (accented, plain)


def test_trance_drives_an_offbeat_bass_under_sixteenth_arps_and_wide_supersaws(renderer):
    plan, score = song("trance", duration=30)
    assert plan.voices == {
        "bass": "synth-bass",
        "chords": "supersaw",
        "melody": "supersaw-lead",
        "arp": "pluck",
    }
    drums = score.track("drums").notes
    bars = list(groove_bars(plan, ("drop",)))
    assert bars
    for bar in bars:
        assert all(hits(drums, KICKS, bar * 4 + beat) for beat in range(4))
        bass = [n for n in score.track("bass").notes if int(n.start_beat // 4) == bar]
        assert bass and all(abs(n.start_beat % 1 - 0.5) < 0.05 for n in bass)  # on the off-beats
        arp = [n for n in score.track("arp").notes if int(n.start_beat // 4) == bar]
        assert len(arp) == 16
    stems = render_stems(renderer, score, plan.mix, plan.voices, plan.kit, plan.seed)
    wide = produce({"chords": stems["chords"]}, "trance", SR)["chords"]
    assert stereo_width(np.ascontiguousarray(stems["chords"])) > 0.3  # the detuned stack's spread
    assert stereo_width(wide) > 1.3 * stereo_width(np.ascontiguousarray(stems["chords"]))


def test_house_chords_are_piano_stabs_doubled_by_the_organ():
    from musicd.music.score import Note, Track
    from musicd.synth.voices import VOICES, render_track

    plan, _ = song("house")
    assert plan.voices["chords"] == "house-stab"
    track = Track("chords", 0, 1, (Note(0.0, 0.5, 60, 100), Note(0.0, 0.5, 64, 100), Note(0.0, 0.5, 67, 100)))

    def play(name):
        return render_track(track, VOICES[name], 120.0, SR, SR, np.random.default_rng(0))

    piano, organ, stab = play("piano-stab"), play("organ-stab"), play("house-stab")
    assert np.allclose(stab, piano + 0.55 * organ, atol=1e-6)
    # the piano's bright FM bark dies within the stab; the organ's drawbars keep their tone
    early, late = slice(int(0.005 * SR), int(0.045 * SR)), slice(int(0.3 * SR), int(0.34 * SR))
    assert centroid_hz(piano[early, 0]) > 1.25 * centroid_hz(piano[late, 0])
    assert centroid_hz(organ[late, 0]) > 0.7 * centroid_hz(organ[early, 0])


def test_deep_house_has_a_warm_bass_filtered_stabs_and_a_swelling_pad():
    from musicd.music.score import Note, Track
    from musicd.synth.voices import VOICES, render_track

    plan, score = song("deep-house")
    assert plan.voices == {"bass": "deep-bass", "chords": "deep-stab", "pads": "filtered-pad"}
    assert plan.kit == "tr-909" and GENRES["deep-house"].signatures

    def play(name, notes, seconds):
        track = Track("x", 0, 1, notes)
        return render_track(track, VOICES[name], 120.0, SR, int(seconds * SR), np.random.default_rng(0))[:, 0]

    line = tuple(Note(i * 0.5 + 0.25, 0.4, 36, 100) for i in range(8))
    warm, bright = play("deep-bass", line, 2.5), play("synth-bass", line, 2.5)
    assert centroid_hz(warm[: 2 * SR]) < 0.7 * centroid_hz(bright[: 2 * SR])
    pad = play("filtered-pad", (Note(0.0, 16.0, 57, 90), Note(0.0, 16.0, 64, 90)), 8.0)
    opening = [centroid_hz(pad[int(t * SR) : int((t + 0.2) * SR)]) for t in (0.3, 1.5, 2.5)]
    assert opening[0] < opening[1] < opening[2]  # the filter swells open over seconds
    stab = play("deep-stab", (Note(0.0, 1.0, 60, 100),), 1.0)
    assert centroid_hz(stab[int(0.005 * SR) : int(0.05 * SR)]) > 1.3 * centroid_hz(
        stab[int(0.3 * SR) : int(0.35 * SR)]
    )


@pytest.mark.parametrize(
    "genre", ["rnb", "soul", "funk", "blues", "reggae", "afrobeat", "lofi", "deep-house", "house"]
)
def test_leads_that_read_as_jazz_are_gone(genre):
    """Saxophones and vibraphone made these genres read as jazz: their leads are now an
    idiomatic lead (brass section, harmonica, overdriven or clean guitar, organ, synth lead)."""
    assert not SAXES_AND_VIBES & set(GENRES[genre].programs["melody"])
    for seed in range(12):
        plan = make_plan(load_spec(f"genres: [{genre}]\nduration: 30\n"), seed)
        assert plan.instruments["melody"] not in SAXES_AND_VIBES, (genre, seed)
