"""The composer: every genre composes; notes stay in key; the chorus recurs; endings resolve."""

from __future__ import annotations

import pytest

from musicd.music.compose import compose
from musicd.music.compose.harmony import make_context, voice_lead
from musicd.music.genres import GENRE_NAMES
from musicd.music.plan import make_plan
from musicd.music.score import semitones_to_bend
from musicd.music.theory import allowed_pitch_classes, parse_roman, pitch_class
from musicd.spec import load_spec


def song(text: str, seed: int = 1):
    plan = make_plan(load_spec(text), seed)
    return plan, compose(plan)


def pitched(score):
    return [n for t in score.tracks if not t.is_drums for n in t.notes]


@pytest.mark.parametrize("name", GENRE_NAMES)
@pytest.mark.parametrize("duration_s", [8, 150])
def test_every_genre_composes_in_key_and_to_length(name, duration_s):
    plan, score = song(f"genres: [{name}]\nduration: {duration_s}\n", seed=duration_s)
    assert score.length_beats == plan.bars * plan.beats_per_bar
    assert abs(score.duration_s - duration_s) <= 1.0
    names = {t.name for t in score.tracks}
    assert {"bass", "chords", "melody"} <= names
    assert ("drums" in names) == (plan.groove != "none")
    allowed = allowed_pitch_classes(plan.key_tonic, plan.mode)
    notes = pitched(score)
    in_key = sum(n.pitch % 12 in allowed for n in notes) / len(notes)
    assert in_key >= 0.97
    for track in score.tracks:
        assert all(1 <= n.velocity <= 127 and 0 <= n.pitch <= 127 for n in track.notes)
        assert all(n.duration_beats > 0 and n.start_beat >= 0 for n in track.notes)
        assert max(n.start_beat for n in track.notes) < score.length_beats


@pytest.mark.parametrize("name", GENRE_NAMES)
def test_the_last_bar_lands_on_the_tonic_chord(name):
    plan, score = song(f"genres: [{name}]\nduration: 40\n", seed=7)
    last_bar = score.length_beats - score.beats_per_bar
    tonic = parse_roman(plan.progressions[-1][-1], pitch_class(plan.key_tonic), plan.mode)
    assert tonic.root_pc == pitch_class(plan.key_tonic)
    for track in score.tracks:
        if track.is_drums:
            continue
        final = [n for n in track.notes if n.start_beat >= last_bar - 1e-6]
        assert final, track.name
        assert {n.pitch % 12 for n in final} <= set(tonic.tones), track.name
        assert all(
            n.start_beat + n.duration_beats >= score.length_beats - 0.5
            for n in final
            if n.start_beat == last_bar
        ), track.name
    bass_final = [n for n in score.track("bass").notes if n.start_beat == last_bar]
    assert bass_final and bass_final[0].pitch % 12 == tonic.root_pc
    melody_final = [n for n in score.track("melody").notes if n.start_beat == last_bar]
    assert melody_final[0].pitch % 12 == tonic.root_pc


@pytest.mark.parametrize("name", ["pop", "lofi", "rock", "trance", "jazz", "reggae", "country"])
def test_the_chorus_melody_recurs(name):
    plan, score = song(f"genres: [{name}]\nduration: 180\n", seed=11)
    hook = "drop" if any(s.name == "drop" for s in plan.form) else "chorus"
    starts = [s.start_bar * plan.beats_per_bar for s in plan.form if s.name == hook]
    bars = min(s.bars for s in plan.form if s.name == hook)
    assert len(starts) >= 2
    melody = score.track("melody").notes

    def line(start):
        return [
            (round(n.start_beat - start, 3), n.pitch)
            for n in melody
            if start <= n.start_beat < start + bars * plan.beats_per_bar
        ]

    first, again = line(starts[0]), line(starts[1])
    assert len(first) >= bars  # the hook really sings
    assert first == again
    verse = [s for s in plan.form if s.name == "verse"]
    if verse:
        verse_line = line(verse[0].start_bar * plan.beats_per_bar)
        assert [p for _, p in verse_line[:8]] != [p for _, p in first[:8]]


@pytest.mark.parametrize("name", GENRE_NAMES)
def test_the_melody_stays_in_a_singable_range_with_breaths(name):
    plan, score = song(f"genres: [{name}]\nduration: 90\n", seed=5)
    pitches = [n.pitch for n in score.track("melody").notes]
    assert max(pitches) - min(pitches) <= 19
    notes = score.track("melody").notes
    gaps = [b.start_beat - (a.start_beat + a.duration_beats) for a, b in zip(notes, notes[1:])]
    assert sum(g >= 0.9 for g in gaps) >= 2  # phrase endings leave rests


@pytest.mark.parametrize("name", GENRE_NAMES)
def test_bass_plays_the_chord_root_on_downbeats(name):
    plan, score = song(f"genres: [{name}]\nduration: 60\n", seed=2)
    ctx = make_context(plan)
    by_start = {}
    for n in score.track("bass").notes:
        by_start.setdefault(round(n.start_beat, 4), n)
    checked = hits = 0
    for span in ctx.spans:
        note = by_start.get(round(span.start_beat, 4))
        if note is None:
            continue
        checked += 1
        hits += note.pitch % 12 == span.chord.root_pc
    assert checked >= len(ctx.spans) // 2 or plan.bass_style in ("offbeat", "rolling")
    assert hits >= 0.95 * checked


def test_two_seeds_give_different_melodies_and_one_seed_the_same():
    text = "genres: [pop]\nkey: C major\nbpm: 110\nduration: 60\n"
    _, a = song(text, 1)
    _, b = song(text, 2)
    _, a2 = song(text, 1)
    assert a == a2
    assert [n.pitch for n in a.track("melody").notes] != [n.pitch for n in b.track("melody").notes]


def test_voice_leading_keeps_common_tones_and_moves_little():
    chords = [parse_roman(s, 0, "major") for s in ("I", "IV", "V", "I", "vi", "ii7", "V7", "I")]
    voicings = voice_lead(chords, "triad", 53, 76, 4, 64)
    c_to_f = set(voicings[0]) & set(voicings[1])
    assert c_to_f  # C stays when C major moves to F major
    moves = [
        sum(abs(x - y) for x, y in zip(sorted(a), sorted(b)))
        for a, b in zip(voicings, voicings[1:])
        if len(a) == len(b)
    ]
    assert max(moves) <= 7
    assert all(53 <= p <= 76 for v in voicings for p in v)


def test_velocity_follows_section_energy():
    plan, score = song("genres: [pop]\nduration: 120\n", seed=4)
    bpb = plan.beats_per_bar

    def mean_velocity(name):
        spans = [(s.start_bar * bpb, s.end_bar * bpb) for s in plan.form if s.name == name]
        vel = [
            n.velocity for n in score.track("chords").notes if any(a <= n.start_beat < b for a, b in spans)
        ]
        return sum(vel) / len(vel)

    assert mean_velocity("chorus") > mean_velocity("verse")


def test_blues_uses_the_twelve_bar_changes_with_a_shuffle_and_boogie_bass():
    plan, score = song("genres: [blues]\nkey: A\nduration: 120\n", seed=1)
    chorus = next(p for s, p in zip(plan.form, plan.progressions) if s.name == "chorus")
    assert chorus[:12] == plan.progressions[1][:12] and len(chorus) >= 12
    assert [c for c in chorus[:12]].count("Idom7") >= 4
    assert plan.swing >= 1 / 3 - 0.01
    offbeats = [n.start_beat % 1 for n in score.track("bass").notes if n.start_beat % 1 > 0.01]
    assert offbeats and all(abs(o - (0.5 + plan.swing * 0.5)) < 0.01 for o in offbeats)


def notes_per_bar(plan, score, names, roles=None):
    bpb = plan.beats_per_bar
    spans = [(s.start_bar * bpb, s.end_bar * bpb) for s in plan.form if s.name in names]
    bars = sum((b - a) / bpb for a, b in spans)
    count = sum(
        1
        for t in score.tracks
        if not t.is_drums and (roles is None or t.name in roles)
        for n in t.notes
        if any(a <= n.start_beat < b for a, b in spans)
    )
    return count / bars


@pytest.mark.parametrize("name", GENRE_NAMES)
def test_the_chorus_is_fuller_than_the_intro(name):
    plan, score = song(f"genres: [{name}]\nduration: 120\n", seed=3)
    names = {s.name for s in plan.form}
    hook = "drop" if "drop" in names else "chorus"
    assert "intro" in names and hook in names
    assert notes_per_bar(plan, score, {hook}) > notes_per_bar(plan, score, {"intro"})
    bpb = plan.beats_per_bar

    def roles_in(section_name):
        spans = [(s.start_bar * bpb, s.end_bar * bpb) for s in plan.form if s.name == section_name]
        return {
            t.name
            for t in score.tracks
            if not t.is_drums and any(a <= n.start_beat < b for n in t.notes for a, b in spans)
        }

    assert roles_in(hook) > roles_in("intro")
    assert "melody" not in roles_in("intro")


@pytest.mark.parametrize("name", ["house", "trance", "techno"])
def test_breakdowns_drop_drums_and_bass_and_builds_swell(name):
    plan, score = song(f"genres: [{name}]\nduration: 150\n", seed=2)
    assert "breakdown" in [s.name for s in plan.form]
    assert notes_per_bar(plan, score, {"breakdown"}, {"bass"}) == 0
    bpb = plan.beats_per_bar
    breakdown = next(s for s in plan.form if s.name == "breakdown")
    drums = [
        n
        for n in score.track("drums").notes
        if breakdown.start_bar * bpb <= n.start_beat < (breakdown.end_bar - 1) * bpb
    ]
    assert not drums  # only a pickup fill in its last bar
    build = next(s for s in plan.form if s.name == "build")
    parts = [
        n
        for t in score.tracks
        if not t.is_drums
        for n in t.notes
        if build.start_bar * bpb <= n.start_beat < build.end_bar * bpb
    ]
    half = (build.start_bar + build.bars / 2) * bpb
    first = [n.velocity for n in parts if n.start_beat < half]
    second = [n.velocity for n in parts if n.start_beat >= half]
    assert sum(second) / len(second) > sum(first) / len(first) + 5


def test_reggae_skanks_on_the_offbeats_with_an_organ_bubble():
    plan, score = song("genres: [reggae]\nduration: 60\n", seed=1)
    chords = score.track("chords").notes
    body = [n for n in chords if n.start_beat < (plan.bars - 1) * 4]
    assert body and all(0.95 < n.start_beat % 2 < 1.1 for n in body)  # beats 2 and 4
    organ = score.track("arp")
    assert organ is not None and organ.program in (16, 17)
    off = [n for n in organ.notes if n.start_beat < (plan.bars - 1) * 4]
    assert off and all(n.start_beat % 1 > 0.3 for n in off)  # never on the beat


def test_funk_guitar_chops_leave_sixteenth_rests():
    plan, score = song("genres: [funk]\nduration: 60\n", seed=1)
    arp = score.track("arp")
    assert arp is not None and arp.program in (27, 28)
    chorus = next(s for s in plan.form if s.name == "chorus")
    bar = [
        round(n.start_beat - chorus.start_bar * 4, 2)
        for n in arp.notes
        if chorus.start_bar * 4 <= n.start_beat < chorus.start_bar * 4 + 4
    ]
    assert 6 <= len(bar) < 16


def test_jazz_walks_the_bass_in_quarter_notes():
    plan, score = song("genres: [jazz]\nduration: 90\n", seed=1)
    chorus = next(s for s in plan.form if s.name == "chorus")
    starts = [
        n.start_beat
        for n in score.track("bass").notes
        if chorus.start_bar * 4 <= n.start_beat < chorus.end_bar * 4
    ]
    assert len(starts) == chorus.bars * 4


def wobble_periods(controls, bar_beats):
    """{bar: beats between the expression troughs (its lowest value) within that bar}."""
    floor = min(c.value for c in controls)
    peaks: dict[int, list[float]] = {}
    for c in controls:
        if c.value == floor:
            peaks.setdefault(int(c.beat // bar_beats + 1e-9), []).append(c.beat)
    return {
        bar: round(min(b - a for a, b in zip(beats, beats[1:])), 4)
        for bar, beats in peaks.items()
        if len(beats) > 1
    }


def test_dubstep_bass_wobbles_its_expression_at_a_rate_chosen_per_bar():
    plan, score = song("genres: [dubstep]\nduration: 90\n", seed=4)
    bass = score.track("bass")
    assert bass.controls and {(c.kind, c.number) for c in bass.controls} == {("cc", 11)}
    beats = [c.beat for c in bass.controls]
    assert beats == sorted(beats)
    assert min(c.value for c in bass.controls) <= 30 and bass.controls[-1].value == 127
    periods = wobble_periods(bass.controls, plan.beats_per_bar)
    assert set(periods.values()) <= {0.5, 0.3333, 1.0}
    assert len(set(periods.values())) >= 2  # the rate changes from bar to bar
    bass_bars = {int(n.start_beat // plan.beats_per_bar) for n in bass.notes}
    assert set(periods) <= bass_bars | {b + 1 for b in bass_bars}  # it wobbles where the bass plays
    assert all(b < plan.bars - 1 for b in periods)  # the final note rings unwobbled


def test_trap_808s_glide_between_sustained_notes_and_bend_back_before_the_next():
    plan, score = song("genres: [trap]\nduration: 90\n", seed=4)
    bass = score.track("bass")
    bends = [c for c in bass.controls if c.kind == "bend"]
    assert bends and len(bends) == len(bass.controls)
    starts = {round(n.start_beat, 4): n for n in bass.notes}
    resets = [i for i, c in enumerate(bends) if c.value == 0]
    assert resets and resets[-1] == len(bends) - 1  # it ends centred
    glides, begin = 0, 0
    for end in resets:
        glide = bends[begin:end]
        target = starts[round(bends[end].beat, 4)]  # the reset falls on the next note's start
        source = max(
            (n for n in bass.notes if n.start_beat < target.start_beat - 1e-6), key=lambda n: n.start_beat
        )
        interval = target.pitch - source.pitch
        assert glide[-1].value == semitones_to_bend(interval)  # it lands on the next note's pitch
        assert all(abs(c.value) <= abs(glide[-1].value) for c in glide)
        assert glide[0].beat >= source.start_beat and source.duration_beats >= 0.75
        glides += 1
        begin = end + 1
    candidates = sum(
        1
        for a, b in zip(bass.notes, bass.notes[1:])
        if min(a.duration_beats, b.duration_beats) >= 0.75
        and a.pitch != b.pitch
        and 0 <= b.start_beat - a.start_beat - a.duration_beats <= 0.25
    )
    assert 0 < glides < candidates  # now and then, not on every pair


@pytest.mark.parametrize("name", [g for g in GENRE_NAMES if g not in ("dubstep", "trap")])
def test_other_bass_styles_carry_no_controls(name):
    _, score = song(f"genres: [{name}]\nduration: 20\n")
    # the blues lead's bends and the cinematic swells are the only other control curves
    others = {"blues": {"melody"}, "cinematic": {"chords", "pads"}}.get(name, set())
    assert all(not t.controls for t in score.tracks if t.name not in others)
