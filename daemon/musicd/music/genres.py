"""The genre table: names, aliases and each genre's musical profile.

A profile says how a genre sounds: tempo range, keys and modes, meter and swing, the drum
groove family, chord progressions (roman numerals counted in the mode's scale; "ii7 V7"
splits a bar), chord voicing and comping, bass line style, melody style, the extra parts
(pads, arpeggios), the song form, the mix and the visualizer palette.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace

from musicd.music.profiles import MixProfile, ReverbProfile, StemMix, VideoProfile
from musicd.text import closest

GENRE_NAMES: tuple[str, ...] = (
    "lofi",
    "hip-hop",
    "trap",
    "techno",
    "house",
    "deep-house",
    "trance",
    "drum-and-bass",
    "dubstep",
    "synthwave",
    "ambient",
    "chillout",
    "pop",
    "rock",
    "funk",
    "disco",
    "soul",
    "rnb",
    "jazz",
    "blues",
    "bossa-nova",
    "reggae",
    "afrobeat",
    "folk",
    "country",
    "cinematic",
)

ALIASES: dict[str, str] = {
    "lo-fi": "lofi",
    "lofi-hip-hop": "lofi",
    "chillhop": "lofi",
    "hiphop": "hip-hop",
    "rap": "hip-hop",
    "boom-bap": "hip-hop",
    "dnb": "drum-and-bass",
    "drum-n-bass": "drum-and-bass",
    "drum-&-bass": "drum-and-bass",
    "drum-bass": "drum-and-bass",
    "jungle": "drum-and-bass",
    "deephouse": "deep-house",
    "edm": "house",
    "dance": "house",
    "retrowave": "synthwave",
    "outrun": "synthwave",
    "synth-wave": "synthwave",
    "chill": "chillout",
    "chill-out": "chillout",
    "downtempo": "chillout",
    "lounge": "chillout",
    "r&b": "rnb",
    "r-and-b": "rnb",
    "r-n-b": "rnb",
    "rhythm-and-blues": "rnb",
    "bossa": "bossa-nova",
    "bossanova": "bossa-nova",
    "samba": "bossa-nova",
    "afrobeats": "afrobeat",
    "afro": "afrobeat",
    "classical": "cinematic",
    "orchestral": "cinematic",
    "film": "cinematic",
    "epic": "cinematic",
    "soundtrack": "cinematic",
    "score": "cinematic",
    "country-folk": "folk",
    "acoustic": "folk",
    "singer-songwriter": "folk",
    "dub": "reggae",
    "ska": "reggae",
    "motown": "soul",
    "neo-soul": "soul",
    "swing": "jazz",
    "bebop": "jazz",
    "smooth-jazz": "jazz",
    "rock-and-roll": "rock",
    "indie": "rock",
    "alt-rock": "rock",
    "metal": "rock",
    "punk": "rock",
    "grunge": "rock",
    "brostep": "dubstep",
    "electro": "techno",
    "minimal": "techno",
    "acid": "techno",
    "psytrance": "trance",
    "uplifting-trance": "trance",
    "drill": "trap",
    "nu-disco": "disco",
    "boogie": "disco",
    "electro-pop": "pop",
    "synthpop": "pop",
    "new-age": "ambient",
    "drone": "ambient",
    "space": "ambient",
}


def _normalise(name: str) -> str:
    text = name.strip().lower().replace("_", "-")
    text = re.sub(r"\s*&\s*", "-&-", text)
    text = re.sub(r"[\s/]+", "-", text)
    return re.sub(r"-+", "-", text).strip("-")


def canonical_genre(name: str) -> str | None:
    """The table's name for `name` (any case, spaces or dashes, aliases), or None if unknown."""
    key = _normalise(name)
    if key in GENRE_NAMES:
        return key
    if key in ALIASES:
        return ALIASES[key]
    squashed = key.replace("-", "")
    for candidate in (*GENRE_NAMES, *ALIASES):
        if candidate.replace("-", "") == squashed:
            return ALIASES.get(candidate, candidate)
    return None


def close_genres(name: str, limit: int = 3) -> list[str]:
    """Known genre names closest to an unknown one, for "did you mean" messages."""
    key = _normalise(name)
    return closest(key, {**{name: name for name in GENRE_NAMES}, **ALIASES}, limit=limit, cutoff=0.5)


# --- profile types ---------------------------------------------------------------------------

ROLES: tuple[str, ...] = ("bass", "chords", "melody", "pads", "arp")


@dataclass(frozen=True)
class MelodyStyle:
    """How the lead line moves."""

    notes_per_beat: float  # average onsets per beat in a full-energy section
    range_semitones: int  # span of the line (singable: 12..19)
    center_pitch: int  # MIDI pitch the line centres on
    syncopation: float  # 0 on the beat .. 1 mostly off the beat
    legato: float  # fraction of the gap to the next note that a note fills (0.5..1)
    subdivision: float = 0.5  # rhythmic grid in beats (0.5 = eighths, 0.25 = sixteenths)


@dataclass(frozen=True)
class FormPart:
    """One section of a genre's full-length form; drop_rank orders what goes first when the
    song must be shorter (0 = never dropped)."""

    name: str
    bars: int
    energy: float
    drop_rank: int = 0


@dataclass(frozen=True)
class Genre:
    name: str
    description: str
    bpm_min: float
    bpm_max: float
    bpm_typical: float
    modes: dict[str, float]  # mode -> weight
    tonics: dict[str, float]  # typical tonics -> weight
    meter: tuple[int, int]
    swing: float  # off-beat delay as a fraction of the groove's swing unit (1/3 = triplet)
    groove: str  # drum groove family
    programs: dict[str, tuple[int, ...]]  # role -> GM programs, default first (0-based)
    progressions: dict[str, tuple[tuple[str, ...], ...]]  # mode or family -> loops, bar per item
    voicing: str  # triad, seventh, ninth, power, open
    comping: str  # how the chords track plays
    bass_style: str
    melody: MelodyStyle
    form: tuple[FormPart, ...]  # the full-length form, in order
    loop: tuple[str, ...]  # section names repeated (before the last ones) for long songs
    cadence: str  # the chord before the final tonic (major-family numeral; minor uses case)
    bars_per_chord: int = 1
    phrase_bars: int = 4
    mix: MixProfile = field(default_factory=MixProfile)
    video: VideoProfile = field(default_factory=VideoProfile)
    keywords: tuple[str, ...] = ()  # prompt words that suggest this genre
    kit: str = "standard"  # drum kit: a synthesized drum machine or a SoundFont kit (synth/kits.py)
    voices: dict[str, str] = field(default_factory=dict)  # role -> synth voice (synth/voices.py)
    signatures: tuple[str, ...] = ()  # what a listener names the genre by (GENRE_SIGNATURES)

    @property
    def roles(self) -> tuple[str, ...]:
        return tuple(r for r in ROLES if r in self.programs)


# --- helpers that keep the table readable ---------------------------------------------------


def _melody(npb: float, rng: int, center: int, sync: float, legato: float, sub: float = 0.5) -> MelodyStyle:
    return MelodyStyle(npb, rng, center, sync, legato, sub)


def _form(*parts: tuple) -> tuple[FormPart, ...]:
    return tuple(FormPart(*p) for p in parts)


SONG_FORM = _form(
    ("intro", 4, 0.35, 0),
    ("verse", 8, 0.55, 0),
    ("pre-chorus", 4, 0.7, 3),
    ("chorus", 8, 0.85, 0),
    ("verse", 8, 0.6, 2),
    ("pre-chorus", 4, 0.72, 4),
    ("chorus", 8, 0.9, 2),
    ("bridge", 8, 0.6, 1),
    ("chorus", 8, 1.0, 0),
    ("outro", 4, 0.4, 0),
)
SIMPLE_SONG_FORM = _form(
    ("intro", 4, 0.35, 0),
    ("verse", 8, 0.55, 0),
    ("chorus", 8, 0.85, 0),
    ("verse", 8, 0.6, 2),
    ("chorus", 8, 0.9, 2),
    ("bridge", 8, 0.6, 1),
    ("chorus", 8, 1.0, 0),
    ("outro", 4, 0.4, 0),
)
EDM_FORM = _form(
    ("intro", 8, 0.4, 0),
    ("build", 8, 0.65, 0),
    ("drop", 16, 1.0, 0),
    ("breakdown", 8, 0.45, 1),
    ("build", 8, 0.7, 3),
    ("drop", 16, 1.0, 0),
    ("outro", 8, 0.4, 0),
)
LOOP_FORM = _form(
    ("intro", 4, 0.35, 0),
    ("verse", 8, 0.6, 0),
    ("chorus", 8, 0.85, 0),
    ("verse", 8, 0.65, 2),
    ("chorus", 8, 0.9, 1),
    ("outro", 4, 0.4, 0),
)
AMBIENT_FORM = _form(
    ("intro", 8, 0.25, 0),
    ("verse", 16, 0.45, 0),
    ("chorus", 16, 0.6, 0),
    ("bridge", 8, 0.35, 1),
    ("chorus", 16, 0.65, 1),
    ("outro", 8, 0.25, 0),
)
CINEMATIC_FORM = _form(
    ("intro", 4, 0.25, 0),
    ("verse", 8, 0.45, 0),
    ("build", 4, 0.65, 3),
    ("chorus", 8, 0.85, 0),
    ("bridge", 8, 0.5, 1),
    ("build", 4, 0.75, 2),
    ("chorus", 8, 1.0, 0),
    ("outro", 4, 0.35, 0),
)
BLUES_FORM = _form(
    ("intro", 4, 0.45, 0),
    ("verse", 12, 0.7, 0),
    ("chorus", 12, 0.85, 0),
    ("verse", 12, 0.75, 1),
    ("chorus", 12, 0.9, 0),
    ("outro", 4, 0.5, 0),
)
# head, solos, head out: the head's A section is the "verse", its B section the "chorus"
JAZZ_FORM = _form(
    ("intro", 4, 0.4, 0),
    ("verse", 8, 0.65, 0),
    ("chorus", 8, 0.75, 0),
    ("bridge", 16, 0.85, 1),
    ("verse", 8, 0.7, 2),
    ("chorus", 8, 0.8, 0),
    ("outro", 4, 0.45, 0),
)

SONG_LOOP = ("verse", "chorus")
EDM_LOOP = ("breakdown", "build", "drop")


def _stems(**overrides: StemMix) -> dict[str, StemMix]:
    base = {
        "drums": StemMix(gain_db=0.0, reverb_send=0.12),
        "bass": StemMix(gain_db=-1.0, reverb_send=0.03, lowpass_hz=0.0),
        "chords": StemMix(gain_db=-4.0, pan=-0.2, highpass_hz=150.0, reverb_send=0.25),
        "melody": StemMix(gain_db=-2.0, pan=0.1, highpass_hz=200.0, reverb_send=0.25),
        "pads": StemMix(gain_db=-9.0, pan=0.0, highpass_hz=200.0, reverb_send=0.45, chorus_send=0.3),
        "arp": StemMix(gain_db=-8.0, pan=0.3, highpass_hz=250.0, reverb_send=0.35),
    }
    base.update(overrides)
    return base


def _mix(
    room: float,
    level: float,
    damping: float = 0.4,
    width: float = 0.9,
    duck: float = 0.0,
    transients: tuple[str, ...] = ("drums",),
    **overrides: StemMix,
) -> MixProfile:
    stems = _stems(**overrides)
    if duck:
        for name in ("bass", "pads", "chords", "arp"):
            s = stems[name]
            stems[name] = replace(s, duck_db=duck if name in ("bass", "pads") else duck / 2)
    return MixProfile(
        stems=stems, reverb=ReverbProfile(room, damping, width, level), transient_stems=transients
    )


def _video(*colours: str, style: str = "spectrum") -> VideoProfile:
    return VideoProfile(palette=tuple(colours), default_style=style)


FLAT_KEYS = {"F": 1.0, "Bb": 1.0, "Eb": 0.8, "C": 0.8, "G": 0.6, "Ab": 0.4, "D": 0.4}
GUITAR_KEYS = {"E": 1.0, "A": 1.0, "G": 1.0, "D": 1.0, "C": 0.7, "B": 0.3}
SYNTH_KEYS = {"A": 1.0, "F": 1.0, "G": 0.8, "C": 0.8, "D": 0.8, "E": 0.6, "F#": 0.4, "C#": 0.4}
PIANO_KEYS = {"C": 1.0, "F": 0.9, "G": 0.8, "D": 0.7, "Eb": 0.6, "Bb": 0.6, "A": 0.6, "E": 0.4}

_M = "major"
_m = "minor"

GENRES: dict[str, Genre] = {
    g.name: g
    for g in (
        Genre(
            "lofi",
            "dusty, jazzy hip-hop beats: swung drums, Rhodes sevenths and ninths",
            70,
            90,
            82,
            {_m: 0.45, _M: 0.35, "dorian": 0.2},
            PIANO_KEYS,
            (4, 4),
            0.2,
            "boom-bap",
            {"bass": (33, 32, 35), "chords": (4, 5, 0), "melody": (27, 73, 26, 24), "pads": (89, 88)},
            {
                _M: (
                    ("ii7", "V7", "Imaj7", "vi7"),
                    ("Imaj7", "vi7", "ii7", "V7"),
                    ("IVmaj7", "iii7", "ii7", "Imaj7"),
                    ("Imaj7", "IVmaj7", "iii7", "vi7"),
                ),
                _m: (
                    ("i7", "iv7", "VII7", "IIImaj7"),
                    ("i9", "iv9", "i9", "v7"),
                    ("VImaj7", "v7", "i7", "i7"),
                    ("i7", "VImaj7", "iv7", "v7"),
                ),
                "dorian": (("i7", "IV9", "i7", "IV9"), ("i9", "v7", "IVmaj7", "IV9")),
            },
            "ninth",
            "lazy",
            "laid-back",
            _melody(0.9, 14, 72, 0.45, 0.8, 0.5),
            LOOP_FORM,
            SONG_LOOP,
            "V",
            mix=_mix(
                0.35,
                0.45,
                0.7,
                chords=StemMix(-4.0, -0.25, 150.0, 6500.0, 1.0, -4.0, 0.25, 0.2),
                melody=StemMix(-3.0, 0.2, 200.0, 7000.0, 0.0, -3.0, 0.3, 0.1),
                drums=StemMix(0.0, 0.0, 30.0, 9000.0, 1.0, -3.0, 0.08),
            ),
            video=_video("#2b2233", "#f2b880", "#9fc3c9", "#e58f8f", style="bars"),
            keywords=(
                "study",
                "studying",
                "vinyl",
                "rain",
                "cozy",
                "homework",
                "beats",
                "tape",
                "nostalgic",
                "cafe",
                "coffee",
            ),
        ),
        Genre(
            "hip-hop",
            "boom-bap hip-hop: hard kick and snare, sampled-sounding piano and strings",
            84,
            100,
            92,
            {_m: 0.6, "dorian": 0.25, _M: 0.15},
            SYNTH_KEYS,
            (4, 4),
            0.24,
            "boom-bap",
            {"bass": (33, 38), "chords": (0,), "melody": (48, 61, 11), "pads": (49, 89)},
            {
                _m: (
                    ("i7", "iv7", "i7", "v7"),
                    ("i", "VI", "III", "VII"),
                    ("i", "i", "VI", "v"),
                    ("i7", "VI", "iv7", "v7"),
                ),
                _M: (("Imaj7", "vi7", "ii7", "V7"), ("IVmaj7", "iii7", "vi7", "vi7")),
                "dorian": (("i7", "IV7", "i7", "IV7"),),
            },
            "seventh",
            "chop",
            "boom-bap",
            _melody(1.0, 12, 70, 0.5, 0.6, 0.5),
            LOOP_FORM,
            SONG_LOOP,
            "v",
            mix=_mix(0.3, 0.4, 0.6),
            video=_video("#141414", "#e0c060", "#c04030", "#f0f0f0", style="bars"),
            keywords=("rapper", "cypher", "mc", "verse", "sampled", "street"),
        ),
        Genre(
            "trap",
            "trap: half-time 808s, rolling hi-hats, dark bells and pads",
            130,
            160,
            140,
            {_m: 0.75, "phrygian": 0.25},
            {"C": 1.0, "C#": 0.8, "F": 0.8, "G": 0.8, "A": 0.6, "D": 0.6},
            (4, 4),
            0.0,
            "trap",
            {"bass": (38, 39), "chords": (0, 48), "melody": (10, 8, 73, 12), "pads": (94, 89)},
            {
                _m: (
                    ("i", "VI", "III", "VII"),
                    ("i", "iv", "VI", "v"),
                    ("i", "i", "VI", "VI"),
                    ("i", "VI", "iv", "v"),
                ),
                "phrygian": (("i", "II", "i", "vii"), ("i", "II", "vii", "i")),
            },
            "triad",
            "sustain",
            "808",
            _melody(1.1, 12, 76, 0.55, 0.7, 0.25),
            LOOP_FORM,
            SONG_LOOP,
            "VI",
            mix=_mix(0.4, 0.45, 0.5, bass=StemMix(0.0, 0.0, 0.0, 0.0, 2.0, 0.0, 0.0)),
            video=_video("#0b0b12", "#a040ff", "#ff3060", "#40e0ff", style="spectrum"),
            keywords=("808", "808s", "hi-hats", "hihats", "atlanta", "drip"),
        ),
        Genre(
            "techno",
            "techno: four-on-the-floor kick, rolling bass, hypnotic stabs and sequences",
            122,
            135,
            128,
            {_m: 0.6, "phrygian": 0.2, "dorian": 0.2},
            SYNTH_KEYS,
            (4, 4),
            0.0,
            "four-on-floor",
            {"bass": (38, 39), "chords": (90, 81), "melody": (80, 81), "pads": (95, 89), "arp": (81, 80)},
            {
                _m: (("i", "i", "i", "i"), ("i", "i", "VII", "VII"), ("i", "VI", "i", "VII")),
                "phrygian": (("i", "i", "II", "i"),),
                "dorian": (("i7", "i7", "IV", "IV"),),
            },
            "triad",
            "offbeat-stabs",
            "acid",
            _melody(0.5, 10, 72, 0.5, 0.5, 0.25),
            EDM_FORM,
            EDM_LOOP,
            "VII",
            bars_per_chord=2,
            mix=_mix(0.55, 0.5, 0.5, duck=5.0),
            video=_video("#050505", "#e0e0e0", "#ff2020", "#606060", style="waveform"),
            keywords=("rave", "warehouse", "berlin", "hypnotic", "industrial", "club"),
        ),
        Genre(
            "house",
            "house: four-on-the-floor, offbeat hats and bass, piano and organ stabs",
            118,
            128,
            124,
            {_m: 0.55, _M: 0.25, "dorian": 0.2},
            SYNTH_KEYS,
            (4, 4),
            0.04,
            "four-on-floor",
            {"bass": (38, 33), "chords": (0, 16, 4), "melody": (80, 81, 5), "pads": (89, 90)},
            {
                _m: (("i", "VI", "III", "VII"), ("i7", "iv7", "VImaj7", "v7"), ("i", "VII", "VI", "VII")),
                _M: (("vi", "IV", "I", "V"), ("I", "V", "vi", "IV"), ("ii7", "V7", "Imaj7", "vi7")),
                "dorian": (("i7", "IV7", "i7", "IV7"),),
            },
            "seventh",
            "house-stabs",
            "offbeat",
            _melody(0.9, 12, 74, 0.55, 0.6, 0.5),
            EDM_FORM,
            EDM_LOOP,
            "VII",
            mix=_mix(0.5, 0.5, 0.45, duck=5.0),
            video=_video("#101030", "#ff60c0", "#40d0ff", "#ffe060", style="spectrum"),
            keywords=("dancefloor", "party", "groovy", "ibiza", "disco-house"),
        ),
        Genre(
            "deep-house",
            "deep house: filtered chord-stab ninths, a round offbeat bass, filtered pads, soft four-on-the-floor",
            115,
            124,
            121,
            {_m: 0.5, "dorian": 0.35, _M: 0.15},
            SYNTH_KEYS,
            (4, 4),
            0.05,
            "four-on-floor",
            {"bass": (38, 33), "chords": (4, 5, 0), "melody": (80, 73, 5), "pads": (89, 88)},
            {
                _m: (("i9", "iv9", "i9", "v7"), ("i7", "VImaj7", "iv7", "v7"), ("i9", "VII", "VImaj7", "v7")),
                "dorian": (("i9", "IV9", "i9", "IV9"), ("i7", "v7", "IVmaj7", "IV9")),
                _M: (("ii9", "V9", "Imaj9", "vi9"), ("IVmaj7", "iii7", "ii9", "Imaj9")),
            },
            "ninth",
            "deep-stabs",
            "offbeat",
            _melody(0.7, 12, 72, 0.55, 0.7, 0.5),
            EDM_FORM,
            EDM_LOOP,
            "v",
            mix=_mix(0.5, 0.5, 0.6, duck=4.0),
            video=_video("#0d1b2a", "#1b998b", "#e0b1cb", "#f4d35e", style="spectrum"),
            keywords=("deep", "late-night", "sunrise", "warm"),
        ),
        Genre(
            "trance",
            "trance: driving offbeat bass, supersaw chords, 16th arps, euphoric leads",
            132,
            142,
            138,
            {_m: 0.85, _M: 0.15},
            SYNTH_KEYS,
            (4, 4),
            0.0,
            "four-on-floor",
            {"bass": (38, 39), "chords": (90, 50), "melody": (81, 80), "pads": (50, 89, 95), "arp": (81, 80)},
            {
                _m: (
                    ("i", "VI", "III", "VII"),
                    ("VI", "VII", "i", "i"),
                    ("i", "VII", "VI", "VII"),
                    ("i", "iv", "VI", "VII"),
                ),
                _M: (("vi", "IV", "I", "V"), ("I", "V", "vi", "IV")),
            },
            "triad",
            "sustain",
            "offbeat",
            _melody(1.0, 14, 76, 0.35, 0.75, 0.5),
            EDM_FORM,
            EDM_LOOP,
            "VII",
            mix=_mix(0.75, 0.6, 0.35, duck=6.0),
            video=_video("#0a0a2a", "#30c0ff", "#ffffff", "#a060ff", style="spectrum"),
            keywords=("euphoric", "anthem", "festival", "supersaw", "hands-up"),
        ),
        Genre(
            "drum-and-bass",
            "drum and bass: fast breakbeats over a deep sub, liquid pads and keys",
            168,
            178,
            174,
            {_m: 0.75, "dorian": 0.25},
            SYNTH_KEYS,
            (4, 4),
            0.0,
            "breakbeat",
            {"bass": (38, 39), "chords": (4, 5), "melody": (73, 80, 11), "pads": (89, 95)},
            {
                _m: (
                    ("i7", "iv7", "VImaj7", "VII"),
                    ("i9", "VImaj7", "VII", "i9"),
                    ("i", "VI", "III", "VII"),
                ),
                "dorian": (("i9", "IV9", "i9", "IV9"),),
            },
            "ninth",
            "sustain",
            "sub",
            _melody(0.45, 14, 74, 0.4, 0.85, 0.5),
            EDM_FORM,
            EDM_LOOP,
            "VII",
            bars_per_chord=2,
            mix=_mix(0.6, 0.5, 0.4, duck=2.0),
            video=_video("#081018", "#00ffa0", "#ff8000", "#2060ff", style="waveform"),
            keywords=("liquid", "neurofunk", "breaks", "amen", "rollers"),
        ),
        Genre(
            "dubstep",
            "dubstep: half-time 140, wobbling sub bass, dark minor/phrygian pads",
            138,
            145,
            140,
            {_m: 0.6, "phrygian": 0.4},
            {"F": 1.0, "E": 0.8, "G": 0.8, "F#": 0.6, "D": 0.6},
            (4, 4),
            0.0,
            "half-time",
            {"bass": (38, 39), "chords": (90, 89), "melody": (81, 80), "pads": (95, 89)},
            {
                _m: (("i", "i", "VI", "VII"), ("i", "VI", "iv", "VII")),
                "phrygian": (("i", "II", "i", "i"), ("i", "i", "II", "vii")),
            },
            "triad",
            "sustain",
            "wobble",
            _melody(0.5, 12, 74, 0.5, 0.7, 0.5),
            EDM_FORM,
            EDM_LOOP,
            "VII",
            mix=_mix(0.5, 0.45, 0.5, duck=3.0),
            video=_video("#050510", "#80ff00", "#ff00a0", "#303030", style="waveform"),
            keywords=("wobble", "bass-music", "filthy", "drop", "heavy"),
        ),
        Genre(
            "synthwave",
            "synthwave: 80s drum machine, driving eighth-note bass, polysynths, arps",
            84,
            118,
            100,
            {_m: 0.7, _M: 0.3},
            SYNTH_KEYS,
            (4, 4),
            0.0,
            "pop",
            {
                "bass": (38, 39),
                "chords": (90, 62),
                "melody": (81, 62, 80),
                "pads": (89, 95),
                "arp": (80, 98, 81),
            },
            {
                _m: (
                    ("i", "VI", "III", "VII"),
                    ("i", "VII", "VI", "VII"),
                    ("VI", "VII", "i", "i"),
                    ("i", "iv", "VI", "VII"),
                ),
                _M: (("I", "V", "vi", "IV"), ("IV", "V", "iii", "vi")),
            },
            "triad",
            "sustain",
            "eighths",
            _melody(0.9, 14, 74, 0.3, 0.8, 0.5),
            SIMPLE_SONG_FORM,
            SONG_LOOP,
            "VII",
            mix=_mix(0.7, 0.55, 0.4, duck=3.0),
            video=_video("#1a0933", "#ff2a6d", "#05d9e8", "#f9c80e", style="spectrum"),
            keywords=("neon", "80s", "eighties", "retro", "miami", "vaporwave", "nightdrive", "cyberpunk"),
        ),
        Genre(
            "ambient",
            "ambient: slow-moving pads, drones and sparse bell-like melodies",
            60,
            80,
            70,
            {_M: 0.35, "lydian": 0.25, _m: 0.25, "dorian": 0.15},
            PIANO_KEYS,
            (4, 4),
            0.0,
            "none",
            {
                "bass": (92, 89),
                "chords": (88, 94, 89),
                "melody": (98, 11, 10, 8),
                "pads": (89, 91, 99),
                "arp": (46, 98),
            },
            {
                _M: (("I", "IV", "I", "vi"), ("Imaj7", "IVmaj7", "Imaj7", "vi7"), ("Iadd9", "V", "vi", "IV")),
                "lydian": (("I", "II", "I", "II"), ("Imaj7", "II", "vii", "II")),
                _m: (("i", "VI", "i", "VI"), ("i", "VII", "VI", "VII"), ("i9", "VImaj7", "III", "VII")),
                "dorian": (("i", "IV", "i", "IV"),),
            },
            "open",
            "swell",
            "pedal",
            _melody(0.35, 12, 76, 0.2, 1.0, 0.5),
            AMBIENT_FORM,
            ("chorus", "bridge"),
            "IV",
            bars_per_chord=2,
            mix=_mix(
                0.92,
                0.75,
                0.25,
                1.0,
                pads=StemMix(-4.0, 0.0, 120.0, 0.0, 0.0, 0.0, 0.7, 0.5),
                melody=StemMix(-4.0, 0.15, 200.0, 0.0, 0.0, 0.0, 0.6, 0.2),
            ),
            video=_video("#0a1420", "#6fa8dc", "#b4a7d6", "#d9ead3", style="spectrum"),
            keywords=(
                "meditation",
                "sleep",
                "calm",
                "atmospheric",
                "ethereal",
                "floating",
                "relaxing",
                "spa",
                "drones",
            ),
        ),
        Genre(
            "chillout",
            "chillout / downtempo: relaxed beats, Rhodes, soft flute and warm pads",
            84,
            105,
            95,
            {_M: 0.4, _m: 0.35, "dorian": 0.25},
            PIANO_KEYS,
            (4, 4),
            0.07,
            "downtempo",
            {"bass": (35, 33), "chords": (4, 0), "melody": (73, 11, 65), "pads": (89, 88), "arp": (46, 11)},
            {
                _M: (
                    ("Imaj7", "IVmaj7", "Imaj7", "IVmaj7"),
                    ("ii7", "V7", "Imaj7", "IVmaj7"),
                    ("Imaj7", "iii7", "IVmaj7", "V7"),
                ),
                _m: (("i7", "iv7", "VImaj7", "v7"), ("i9", "VImaj7", "i9", "VImaj7")),
                "dorian": (("i7", "IV9", "i7", "IV9"),),
            },
            "seventh",
            "lazy",
            "root-fifth",
            _melody(0.7, 14, 74, 0.35, 0.85, 0.5),
            SIMPLE_SONG_FORM,
            SONG_LOOP,
            "V",
            mix=_mix(0.6, 0.55, 0.5),
            video=_video("#1d2b3a", "#f4a261", "#2a9d8f", "#e9c46a", style="spectrum"),
            keywords=("sunset", "beach", "relaxed", "balearic", "lazy"),
        ),
        Genre(
            "pop",
            "pop: four-chord loops, clear verse/chorus form, bright lead and piano",
            95,
            128,
            112,
            {_M: 0.7, _m: 0.3},
            {"C": 1.0, "G": 1.0, "D": 0.8, "A": 0.8, "F": 0.7, "E": 0.6, "Bb": 0.4},
            (4, 4),
            0.0,
            "pop",
            {
                "bass": (33, 34, 38),
                "chords": (0, 27, 90),
                "melody": (80, 73, 85),
                "pads": (89, 48),
                "arp": (98,),
            },
            {
                _M: (
                    ("I", "V", "vi", "IV"),
                    ("vi", "IV", "I", "V"),
                    ("I", "vi", "IV", "V"),
                    ("IV", "I", "V", "vi"),
                ),
                _m: (("i", "VI", "III", "VII"), ("i", "VII", "VI", "VII"), ("VI", "VII", "i", "i")),
            },
            "triad",
            "pop-pulse",
            "pop",
            _melody(1.1, 14, 72, 0.35, 0.75, 0.5),
            SONG_FORM,
            SONG_LOOP,
            "V",
            mix=_mix(0.5, 0.5, 0.4),
            video=_video("#1b1b3a", "#ff6f91", "#ffc75f", "#845ec2", style="spectrum"),
            keywords=("catchy", "radio", "chart", "hook", "singalong", "summer"),
        ),
        Genre(
            "rock",
            "rock: driving backbeat, distorted power chords, eighth-note bass",
            100,
            150,
            124,
            {_M: 0.45, _m: 0.35, "mixolydian": 0.2},
            GUITAR_KEYS,
            (4, 4),
            0.0,
            "rock",
            {"bass": (34, 33), "chords": (30, 29), "melody": (29, 81, 30), "pads": (18, 16)},
            {
                _M: (
                    ("I", "IV", "V", "IV"),
                    ("I", "V", "vi", "IV"),
                    ("I", "IV", "I", "V"),
                    ("vi", "IV", "I", "V"),
                ),
                _m: (("i", "VI", "VII", "i"), ("i", "VII", "VI", "VII"), ("i", "iv", "VI", "VII")),
                "mixolydian": (("I", "VII", "IV", "I"), ("I", "IV", "VII", "IV")),
            },
            "power",
            "power-eighths",
            "root-eighths",
            _melody(1.0, 14, 67, 0.3, 0.8, 0.5),
            SIMPLE_SONG_FORM,
            SONG_LOOP,
            "V",
            mix=_mix(
                0.5,
                0.45,
                0.5,
                chords=StemMix(-3.0, -0.35, 100.0, 0.0, 0.0, 0.0, 0.15),
                melody=StemMix(-2.0, 0.35, 150.0, 0.0, 0.0, 0.0, 0.2),
            ),
            video=_video("#120a0a", "#ff4020", "#f0f0f0", "#ffa000", style="waveform"),
            keywords=("guitar", "guitars", "riff", "riffs", "distorted", "stadium", "garage", "loud", "band"),
        ),
        Genre(
            "funk",
            "funk: syncopated 16ths, slap bass on the one, clav chanks and horn stabs",
            95,
            115,
            104,
            {"dorian": 0.5, "mixolydian": 0.3, _m: 0.2},
            {"E": 1.0, "A": 0.8, "D": 0.8, "G": 0.6, "C": 0.5},
            (4, 4),
            0.06,
            "funk",
            {
                "bass": (36, 33, 37),
                "chords": (7, 27, 4),
                "melody": (61, 7, 27),
                "pads": (16, 17),
                "arp": (28, 27),
            },
            {
                "dorian": (("i7", "IV7", "i7", "IV7"), ("i7", "i7", "IV9", "IV9")),
                "mixolydian": (("I7", "I7", "IV", "IV"), ("I9", "VII", "IV", "I9")),
                _m: (("i7", "i7", "iv7", "v7"),),
                _M: (("I", "IV", "I", "V"),),
            },
            "ninth",
            "funk-chank",
            "funk",
            _melody(1.4, 12, 72, 0.65, 0.45, 0.25),
            SIMPLE_SONG_FORM,
            SONG_LOOP,
            "IV",
            mix=_mix(0.35, 0.4, 0.5),
            video=_video("#1e0f2e", "#ffb000", "#ff3f8e", "#00d1b2", style="bars"),
            keywords=("slap", "groove", "funky", "clavinet", "horns", "strut"),
        ),
        Genre(
            "disco",
            "disco: four-on-the-floor, octave bass, string sweeps and offbeat guitar",
            112,
            126,
            118,
            {_M: 0.45, _m: 0.35, "dorian": 0.2},
            {"A": 1.0, "D": 0.8, "E": 0.8, "C": 0.6, "G": 0.6, "F": 0.5},
            (4, 4),
            0.0,
            "disco",
            {
                "bass": (33, 34),
                "chords": (27, 4, 0),
                "melody": (61, 48, 80),
                "pads": (50, 51),
                "arp": (48, 49),
            },
            {
                _M: (
                    ("Imaj7", "ii7", "iii7", "ii7"),
                    ("vi7", "ii7", "V7", "Imaj7"),
                    ("ii7", "V7", "Imaj7", "vi7"),
                ),
                _m: (("i7", "iv7", "VII7", "IIImaj7"), ("i7", "iv7", "i7", "iv7")),
                "dorian": (("i7", "IV7", "i7", "IV7"),),
            },
            "seventh",
            "disco-offbeat",
            "octave",
            _melody(1.0, 14, 74, 0.4, 0.7, 0.5),
            SIMPLE_SONG_FORM,
            SONG_LOOP,
            "V",
            mix=_mix(0.55, 0.5, 0.45, duck=2.0),
            video=_video("#1a0b2e", "#ffd700", "#ff1493", "#00bfff", style="spectrum"),
            keywords=("mirrorball", "glitter", "roller", "70s", "seventies"),
        ),
        Genre(
            "soul",
            "soul: warm backbeat, electric piano and organ, gospel-tinged changes",
            70,
            100,
            84,
            {_M: 0.6, _m: 0.25, "mixolydian": 0.15},
            FLAT_KEYS,
            (4, 4),
            0.1,
            "soul",
            {"bass": (33, 32), "chords": (4, 16, 0), "melody": (61, 27, 17), "pads": (16, 48)},
            {
                _M: (
                    ("I", "vi7", "ii7", "V7"),
                    ("IVmaj7", "iii7", "ii7", "Imaj7"),
                    ("I", "IV", "I", "V"),
                    ("Imaj7", "iii7", "IVmaj7", "V7"),
                ),
                _m: (("i7", "iv7", "VII7", "IIImaj7"), ("i7", "iv7", "i7", "v7")),
                "mixolydian": (("I7", "IV", "I7", "IV"),),
            },
            "seventh",
            "soul-comp",
            "soul",
            _melody(0.9, 14, 70, 0.4, 0.8, 0.5),
            SIMPLE_SONG_FORM,
            SONG_LOOP,
            "IV",
            mix=_mix(0.5, 0.45, 0.5),
            video=_video("#2d1b12", "#e8a33d", "#b5432f", "#f2e2c4", style="bars"),
            keywords=("gospel", "heartfelt", "organ", "vintage", "sixties", "60s"),
        ),
        Genre(
            "rnb",
            "R&B: smooth ninths on electric piano, syncopated bass, laid-back swung beat",
            65,
            95,
            80,
            {_m: 0.5, _M: 0.3, "dorian": 0.2},
            FLAT_KEYS,
            (4, 4),
            0.12,
            "boom-bap",
            {"bass": (38, 33), "chords": (4, 5), "melody": (85, 27, 80), "pads": (89, 88)},
            {
                _M: (
                    ("Imaj9", "vi9", "ii9", "V9"),
                    ("IVmaj7", "iii7", "vi7", "ii7"),
                    ("ii9", "V9", "Imaj9", "Imaj9"),
                ),
                _m: (("i9", "iv9", "VImaj7", "v7"), ("i7", "VImaj7", "iv7", "v7")),
                "dorian": (("i9", "IV9", "i9", "IV9"),),
            },
            "ninth",
            "lazy",
            "soul",
            _melody(1.0, 14, 70, 0.5, 0.8, 0.25),
            SIMPLE_SONG_FORM,
            SONG_LOOP,
            "V",
            mix=_mix(0.45, 0.45, 0.55),
            video=_video("#1a0f1f", "#c77dff", "#ff9e00", "#e0aaff", style="spectrum"),
            keywords=("smooth", "sensual", "slow-jam", "silky", "velvet"),
        ),
        Genre(
            "jazz",
            "jazz: swung ride, walking bass, piano comping on ii-V-I, sax lead",
            100,
            180,
            132,
            {_M: 0.6, _m: 0.2, "dorian": 0.2},
            FLAT_KEYS,
            (4, 4),
            0.28,
            "jazz-swing",
            {"bass": (32,), "chords": (0, 26), "melody": (65, 66, 56, 11)},
            {
                _M: (
                    ("ii7", "V7", "Imaj7", "Imaj7"),
                    ("Imaj7", "vi7", "ii7", "V7"),
                    ("iii7", "vi7", "ii7", "V7"),
                    ("Imaj7", "IVmaj7", "iii7 vi7", "ii7 V7"),
                ),
                _m: (("i7", "iv7", "VII7", "IIImaj7"), ("VImaj7", "iiø7", "i7", "i7")),
                "dorian": (("i7", "i7", "IV7", "IV7"), ("i7", "IV7", "v7", "i7")),
            },
            "seventh",
            "jazz-comp",
            "walking",
            _melody(1.4, 17, 72, 0.45, 0.85, 0.5),
            JAZZ_FORM,
            ("bridge", "verse", "chorus"),
            "V",
            phrase_bars=8,
            mix=_mix(
                0.45,
                0.45,
                0.5,
                transients=("drums", "bass"),
                drums=StemMix(-2.0, 0.0, 40.0, 0.0, 0.0, 0.0, 0.2),
                bass=StemMix(-4.0, 0.0, 35.0, 0.0, -2.0, 0.0, 0.03),
            ),
            video=_video("#0e1a2b", "#d4a373", "#faedcd", "#588157", style="bars"),
            keywords=(
                "saxophone",
                "sax",
                "bebop",
                "trio",
                "quartet",
                "smoky",
                "speakeasy",
                "walking",
                "standards",
            ),
        ),
        Genre(
            "blues",
            "blues: 12-bar I7-IV7-V7 changes, shuffle feel, boogie bass, harmonica/guitar",
            70,
            120,
            92,
            {"blues": 1.0},
            {"E": 1.0, "A": 1.0, "G": 0.7, "C": 0.5, "Bb": 0.4},
            (4, 4),
            0.333,
            "shuffle",
            {"bass": (33, 32), "chords": (0, 27), "melody": (29, 22, 26), "pads": (16, 17)},
            {
                "blues": (
                    (
                        "Idom7",
                        "IVdom7",
                        "Idom7",
                        "Idom7",
                        "IVdom7",
                        "IVdom7",
                        "Idom7",
                        "Idom7",
                        "Vdom7",
                        "IVdom7",
                        "Idom7",
                        "Vdom7",
                    ),
                    (
                        "Idom7",
                        "Idom7",
                        "Idom7",
                        "Idom7",
                        "IVdom7",
                        "IVdom7",
                        "Idom7",
                        "Idom7",
                        "Vdom7",
                        "IVdom7",
                        "Idom7",
                        "Vdom7",
                    ),
                )
            },
            "seventh",
            "shuffle-comp",
            "boogie",
            _melody(0.9, 14, 70, 0.45, 0.8, 0.5),
            BLUES_FORM,
            ("verse", "chorus"),
            "Vdom7",
            phrase_bars=12,
            mix=_mix(0.45, 0.45, 0.5),
            video=_video("#0a1628", "#3a6ea5", "#c0c0c0", "#ff9f1c", style="waveform"),
            keywords=("12-bar", "harmonica", "delta", "chicago", "shuffle", "juke"),
        ),
        Genre(
            "bossa-nova",
            "bossa nova: nylon guitar comping, syncopated clave, ii-V-I with extensions",
            120,
            145,
            132,
            {_M: 0.6, _m: 0.2, "dorian": 0.2},
            {"F": 1.0, "C": 0.8, "D": 0.8, "G": 0.6, "Bb": 0.5},
            (4, 4),
            0.0,
            "bossa",
            {"bass": (32, 33), "chords": (24,), "melody": (73, 65, 11), "pads": (48, 49)},
            {
                _M: (
                    ("Imaj7", "Imaj7", "ii7", "V7"),
                    ("Imaj7", "vi7", "ii7", "V7"),
                    ("ii9", "V9", "Imaj9", "Imaj9"),
                    ("Imaj7", "IVmaj7", "iii7", "vi7"),
                ),
                _m: (("i7", "iv7", "i7", "v7"), ("i9", "iv9", "VImaj7", "v7")),
                "dorian": (("i7", "IV7", "i7", "IV7"),),
            },
            "ninth",
            "bossa",
            "bossa",
            _melody(0.8, 14, 72, 0.55, 0.85, 0.5),
            SIMPLE_SONG_FORM,
            SONG_LOOP,
            "V",
            bars_per_chord=1,
            mix=_mix(
                0.4,
                0.4,
                0.55,
                transients=("drums", "bass", "chords"),
                chords=StemMix(-2.0, -0.2, 100.0, 0.0, 0.0, 0.0, 0.2),
                bass=StemMix(-3.0, 0.0, 35.0, 0.0, -2.0, 0.0, 0.03),
            ),
            video=_video("#f4e9d8", "#e07a5f", "#3d405b", "#81b29a", style="bars"),
            keywords=("brazil", "brazilian", "ipanema", "rio", "nylon", "cafe"),
        ),
        Genre(
            "reggae",
            "reggae: one-drop drums, offbeat skank, deep melodic bass, organ bubble",
            68,
            90,
            76,
            {_M: 0.5, _m: 0.3, "dorian": 0.2},
            {"G": 1.0, "A": 0.8, "C": 0.8, "D": 0.7, "F": 0.5, "E": 0.5},
            (4, 4),
            0.08,
            "reggae",
            {"bass": (33, 32), "chords": (27, 28), "melody": (22, 61, 57), "arp": (16, 17)},
            {
                _M: (("I", "IV", "I", "V"), ("I", "V", "vi", "IV"), ("I", "IV", "V", "IV")),
                _m: (("i", "iv", "i", "v"), ("i", "VII", "VI", "VII")),
                "dorian": (("i7", "IV7", "i7", "IV7"), ("i", "IV", "i", "IV")),
            },
            "triad",
            "skank",
            "reggae",
            _melody(0.8, 12, 70, 0.45, 0.75, 0.5),
            SIMPLE_SONG_FORM,
            SONG_LOOP,
            "V",
            mix=_mix(0.45, 0.45, 0.5, bass=StemMix(1.0, 0.0, 0.0, 0.0, 2.0, 0.0, 0.03)),
            video=_video("#0b3d0b", "#ffd700", "#d7263d", "#1b998b", style="bars"),
            keywords=("jamaica", "jamaican", "one-drop", "rasta", "island", "skank"),
        ),
        Genre(
            "afrobeat",
            "afrobeat: interlocking guitar ostinatos, syncopated bass, horn riffs",
            100,
            120,
            108,
            {"dorian": 0.5, _m: 0.3, "mixolydian": 0.2},
            {"A": 1.0, "E": 0.8, "C": 0.7, "G": 0.7, "D": 0.6},
            (4, 4),
            0.05,
            "afro",
            {"bass": (33, 38), "chords": (4, 16), "melody": (61, 56, 17), "pads": (16, 89), "arp": (27, 24)},
            {
                "dorian": (("i7", "IV7", "i7", "IV7"), ("i7", "i7", "IV7", "IV7")),
                _m: (("i7", "iv7", "i7", "iv7"), ("i7", "VI", "VII", "i7")),
                "mixolydian": (("I", "VII", "IV", "I"),),
                _M: (("I", "IV", "vi", "V"),),
            },
            "seventh",
            "afro-chank",
            "afro",
            _melody(1.2, 12, 72, 0.6, 0.5, 0.25),
            LOOP_FORM,
            SONG_LOOP,
            "IV",
            mix=_mix(0.4, 0.4, 0.5),
            video=_video("#2b1a0e", "#f6ae2d", "#33658a", "#f26419", style="bars"),
            keywords=("lagos", "africa", "african", "fela", "highlife", "polyrhythm"),
        ),
        Genre(
            "folk",
            "folk: strummed and fingerpicked acoustic guitars, simple diatonic melodies",
            80,
            120,
            98,
            {_M: 0.75, _m: 0.15, "mixolydian": 0.1},
            GUITAR_KEYS,
            (4, 4),
            0.04,
            "ballad",
            {"bass": (32,), "chords": (25, 24), "melody": (73, 40, 22), "pads": (48, 21), "arp": (24, 25)},
            {
                _M: (
                    ("I", "IV", "I", "V"),
                    ("I", "V", "vi", "IV"),
                    ("I", "vi", "IV", "V"),
                    ("vi", "IV", "I", "V"),
                ),
                _m: (("i", "VII", "VI", "VII"), ("i", "iv", "i", "VII")),
                "mixolydian": (("I", "VII", "IV", "I"),),
            },
            "triad",
            "strum",
            "root-fifth",
            _melody(0.9, 13, 69, 0.25, 0.85, 0.5),
            SIMPLE_SONG_FORM,
            SONG_LOOP,
            "V",
            mix=_mix(
                0.45,
                0.4,
                0.5,
                chords=StemMix(-3.0, -0.3, 90.0, 0.0, 0.0, 1.0, 0.15),
                arp=StemMix(-7.0, 0.35, 120.0, 0.0, 0.0, 0.0, 0.2),
                bass=StemMix(-3.0, 0.0, 35.0, 0.0, -1.5, 0.0, 0.03),
            ),
            video=_video("#2e2a24", "#c9a66b", "#6b8f71", "#e8dcc2", style="waveform"),
            keywords=("campfire", "fingerpicking", "strumming", "woods", "cabin", "storytelling", "autumn"),
        ),
        Genre(
            "country",
            "country: train beat, boom-chick root-fifth bass, steel-string strum, banjo",
            90,
            130,
            110,
            {_M: 0.85, "mixolydian": 0.15},
            GUITAR_KEYS,
            (4, 4),
            0.06,
            "train",
            {"bass": (33, 32), "chords": (25, 27), "melody": (110, 22, 27), "arp": (105, 25)},
            {
                _M: (
                    ("I", "IV", "V", "I"),
                    ("I", "I", "IV", "V"),
                    ("I", "V", "IV", "I"),
                    ("I", "IV", "I", "V"),
                ),
                "mixolydian": (("I", "VII", "IV", "I"),),
            },
            "triad",
            "boom-chick",
            "root-fifth",
            _melody(1.0, 13, 69, 0.25, 0.8, 0.5),
            SIMPLE_SONG_FORM,
            SONG_LOOP,
            "V",
            mix=_mix(0.35, 0.35, 0.5, chords=StemMix(-3.0, -0.3, 90.0, 0.0, 0.0, 1.0, 0.12)),
            video=_video("#3b2a1a", "#d9a441", "#8c3b2a", "#f2e6d0", style="waveform"),
            keywords=("cowboy", "banjo", "fiddle", "nashville", "western", "honky-tonk", "rodeo", "truck"),
        ),
        Genre(
            "cinematic",
            "cinematic: string ensembles, horns and choir, slow epic progressions",
            60,
            100,
            80,
            {_m: 0.6, _M: 0.2, "dorian": 0.1, "lydian": 0.1},
            {"D": 1.0, "C": 0.8, "A": 0.8, "E": 0.6, "G": 0.6, "F": 0.5},
            (4, 4),
            0.0,
            "cinematic",
            {
                "bass": (43, 42),
                "chords": (48, 49),
                "melody": (60, 40, 73),
                "pads": (52, 89, 91),
                "arp": (45, 46),
            },
            {
                _m: (
                    ("i", "VI", "III", "VII"),
                    ("i", "VI", "iv", "VII"),
                    ("VI", "VII", "i", "i"),
                    ("i", "iv", "VI", "v"),
                ),
                _M: (("I", "V", "vi", "IV"), ("IV", "I", "V", "vi"), ("I", "iii", "IV", "V")),
                "lydian": (("I", "II", "I", "II"),),
                "dorian": (("i", "IV", "i", "IV"),),
            },
            "open",
            "sustain",
            "pedal",
            _melody(0.55, 15, 70, 0.15, 0.95, 0.5),
            CINEMATIC_FORM,
            ("bridge", "build", "chorus"),
            "V",
            bars_per_chord=1,
            mix=_mix(
                0.85,
                0.7,
                0.3,
                1.0,
                chords=StemMix(-3.0, -0.3, 60.0, 0.0, 0.0, 0.0, 0.45),
                melody=StemMix(-2.0, 0.2, 120.0, 0.0, 0.0, 0.0, 0.45),
                bass=StemMix(-2.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.25),
            ),
            video=_video("#0b0c10", "#c5a880", "#45a29e", "#66fcf1", style="spectrum"),
            keywords=(
                "orchestra",
                "orchestral",
                "trailer",
                "movie",
                "heroic",
                "battle",
                "strings",
                "soundtrack",
                "adventure",
                "fantasy",
                "ballad",  # slow, open voicings, strings: closer than any backbeat genre
            ),
        ),
    )
}

assert tuple(GENRES) == GENRE_NAMES, "every genre name needs a profile, in table order"


def genre_table_rows() -> list[dict]:
    """One row per genre for `musicd genres`: plain values the CLI formats."""
    rows = []
    for g in GENRES.values():
        rows.append(
            {
                "name": g.name,
                "bpm": f"{g.bpm_min:g}-{g.bpm_max:g}",
                "bpm_typical": g.bpm_typical,
                "modes": ", ".join(m for m, _ in sorted(g.modes.items(), key=lambda kv: -kv[1])),
                "keys": ", ".join(list(g.tonics)[:4]),
                "meter": f"{g.meter[0]}/{g.meter[1]}",
                "swing": g.swing,
                "groove": g.groove,
                "instruments": ", ".join(
                    f"{role}={gm_program_name(g.programs[role][0])}" for role in g.roles
                ),
                "aliases": ", ".join(sorted(a for a, c in ALIASES.items() if c == g.name)),
                "description": g.description,
                "signatures": "; ".join(g.signatures),
            }
        )
    return rows


GM_PROGRAM_NAMES: tuple[str, ...] = (
    "Acoustic Grand Piano",
    "Bright Acoustic Piano",
    "Electric Grand Piano",
    "Honky-tonk Piano",
    "Electric Piano 1",
    "Electric Piano 2",
    "Harpsichord",
    "Clavinet",
    "Celesta",
    "Glockenspiel",
    "Music Box",
    "Vibraphone",
    "Marimba",
    "Xylophone",
    "Tubular Bells",
    "Dulcimer",
    "Drawbar Organ",
    "Percussive Organ",
    "Rock Organ",
    "Church Organ",
    "Reed Organ",
    "Accordion",
    "Harmonica",
    "Tango Accordion",
    "Nylon Guitar",
    "Steel Guitar",
    "Jazz Guitar",
    "Clean Electric Guitar",
    "Muted Guitar",
    "Overdriven Guitar",
    "Distortion Guitar",
    "Guitar Harmonics",
    "Acoustic Bass",
    "Finger Bass",
    "Pick Bass",
    "Fretless Bass",
    "Slap Bass 1",
    "Slap Bass 2",
    "Synth Bass 1",
    "Synth Bass 2",
    "Violin",
    "Viola",
    "Cello",
    "Contrabass",
    "Tremolo Strings",
    "Pizzicato Strings",
    "Orchestral Harp",
    "Timpani",
    "String Ensemble 1",
    "String Ensemble 2",
    "Synth Strings 1",
    "Synth Strings 2",
    "Choir Aahs",
    "Voice Oohs",
    "Synth Voice",
    "Orchestra Hit",
    "Trumpet",
    "Trombone",
    "Tuba",
    "Muted Trumpet",
    "French Horn",
    "Brass Section",
    "Synth Brass 1",
    "Synth Brass 2",
    "Soprano Sax",
    "Alto Sax",
    "Tenor Sax",
    "Baritone Sax",
    "Oboe",
    "English Horn",
    "Bassoon",
    "Clarinet",
    "Piccolo",
    "Flute",
    "Recorder",
    "Pan Flute",
    "Blown Bottle",
    "Shakuhachi",
    "Whistle",
    "Ocarina",
    "Square Lead",
    "Saw Lead",
    "Calliope Lead",
    "Chiff Lead",
    "Charang Lead",
    "Voice Lead",
    "Fifths Lead",
    "Bass + Lead",
    "New Age Pad",
    "Warm Pad",
    "Polysynth Pad",
    "Choir Pad",
    "Bowed Pad",
    "Metallic Pad",
    "Halo Pad",
    "Sweep Pad",
    "Rain",
    "Soundtrack",
    "Crystal",
    "Atmosphere",
    "Brightness",
    "Goblins",
    "Echoes",
    "Sci-fi",
    "Sitar",
    "Banjo",
    "Shamisen",
    "Koto",
    "Kalimba",
    "Bagpipe",
    "Fiddle",
    "Shanai",
    "Tinkle Bell",
    "Agogo",
    "Steel Drums",
    "Woodblock",
    "Taiko Drum",
    "Melodic Tom",
    "Synth Drum",
    "Reverse Cymbal",
    "Guitar Fret Noise",
    "Breath Noise",
    "Seashore",
    "Bird Tweet",
    "Telephone Ring",
    "Helicopter",
    "Applause",
    "Gunshot",
)


def gm_program_name(program: int) -> str:
    """The General MIDI name of a 0-based program number."""
    return GM_PROGRAM_NAMES[program]


# Drum kits by genre family: drum machines (synthesized, synth/drum_machine.py) for the
# electronic genres, SoundFont kits (General MIDI bank 128) for the acoustic ones.
GENRE_KITS: dict[str, str] = {
    "lofi": "boom-bap",
    "hip-hop": "boom-bap",
    "trap": "tr-808",
    "techno": "tr-909",
    "house": "tr-909",
    "deep-house": "tr-909",
    "trance": "tr-909",
    "drum-and-bass": "breaks",
    "dubstep": "breaks",
    "synthwave": "tr-707",
    "ambient": "standard",
    "chillout": "tr-808",
    "pop": "standard",
    "rock": "power",
    "funk": "room",
    "disco": "room",
    "soul": "room",
    "rnb": "tr-808",
    "jazz": "jazz",
    "blues": "room",
    "bossa-nova": "brush",
    "reggae": "room",
    "afrobeat": "room",
    "folk": "brush",
    "country": "room",
    "cinematic": "orchestra",
}
# Synth voices (synth/voices.py) for the parts General MIDI does not carry; other roles keep
# their SoundFont instrument.
GENRE_VOICES: dict[str, dict[str, str]] = {
    "trance": {"bass": "synth-bass", "chords": "supersaw", "melody": "supersaw-lead", "arp": "pluck"},
    "techno": {"bass": "acid", "chords": "polysynth", "arp": "pluck"},
    "house": {"chords": "house-stab", "bass": "synth-bass"},
    "deep-house": {"bass": "deep-bass", "chords": "deep-stab", "pads": "filtered-pad"},
    "dubstep": {"bass": "wobble"},
    "trap": {"bass": "808"},
    "synthwave": {"bass": "synth-bass", "chords": "polysynth", "arp": "pluck"},
    "soul": {"chords": "rhodes", "pads": "tonewheel"},
    "rnb": {"chords": "rhodes"},
    "chillout": {"chords": "rhodes", "pads": "soft-pad", "melody": "pluck"},
    "drum-and-bass": {"bass": "reese", "chords": "soft-pad", "melody": "polysynth"},
}
# The signatures a listener names the genre by, and where each is made (tests/test_signatures.py
# checks them in the score and the render).
GENRE_SIGNATURES: dict[str, tuple[str, ...]] = {
    "techno": (
        "a four-on-the-floor TR-909 kick, claps on 2 and 4, open hats on every off-beat",
        "an acid 303 line: a sixteenth-note pattern per section, accents opening its resonant"
        " filter, slides between tied notes",
        "off-beat polysynth stabs and a plucked sixteenth sequence, pumping under the kick",
    ),
    "trance": (
        "supersaw chords and a supersaw lead, wide in the stereo field",
        "a driving off-beat bass under a four-on-the-floor TR-909 kick",
        "sixteenth-note plucked arps with tempo-synced echoes",
        "the sidechain pump: pads, chords and bass duck under every kick",
    ),
    "house": (
        "a four-on-the-floor TR-909 kick with open hats on the off-beats",
        "piano stabs doubled by an organ stab",
        "an off-beat synth bass, pumping under the kick",
    ),
    "deep-house": (
        "a soft TR-909 four-on-the-floor",
        "filtered chord-stab ninths with an echo",
        "a round, warm off-beat bass and a filtered pad that swells open",
    ),
    "hip-hop": (
        "swung boom-bap drums on a sampled-sounding machine (12-bit, 26 kHz sampler grit)",
        "a short chopped piano loop, cut off and repeated every two bars",
    ),
    "reggae": (
        "the one-drop: no kick on the one, kick and rimshot together on beat 3",
        "off-beat skank chops on 2 and 4",
        "the organ bubble on the eighth-note off-beats",
    ),
    "disco": (
        "four-on-the-floor kick with open hi-hats on every off-beat",
        "the octave bass",
        "string-section stabs",
    ),
    "soul": (
        "Rhodes electric-piano voicings with tremolo and a Leslie tonewheel organ",
        "a Motown backbeat: snare and tambourine on 2 and 4",
    ),
    "rnb": ("Rhodes electric-piano ninths", "a swung 808 backbeat on 2 and 4"),
    "country": (
        "the train beat: snare sixteenths with the accent on 2 and 4",
        "twangy steel-string guitar, fiddle lead and banjo rolls",
    ),
    "blues": ("the triplet shuffle", "bent notes: the lead scoops up into its long notes"),
    "cinematic": (
        "orchestral layers: strings, horn, contrabass and pizzicato",
        "timpani tuned to the tonic and the fifth",
        "string and choir swells (expression crescendos, builds)",
    ),
    "chillout": (
        "a Rhodes and soft analogue pads",
        "a downtempo drum machine: round kick, soft rim on 2 and 4, sixteenth shaker",
        "a plucked synth lead with tempo-synced echoes",
    ),
    "drum-and-bass": (
        "amen-style breakbeats at 170-odd bpm",
        "the reese bass",
        "soft analogue pads and a polysynth lead",
    ),
}
# The bus EQ by genre: a first-order low shelf and high shelf, (corner Hz, dB) each, on every
# instrument stem (audio/mixing.py): weight under dance and bass music, air on the bright genres,
# a rolled-off top on deep house and the vintage ones (soul, blues, jazz, reggae, chillout).
GENRE_BUS_EQ: dict[str, tuple[tuple[float, float], tuple[float, float]]] = {
    "lofi": ((120.0, 1.5), (0.0, 0.0)),
    "hip-hop": ((90.0, 2.0), (0.0, 0.0)),
    "trap": ((70.0, 2.5), (10000.0, 1.5)),
    "techno": ((80.0, 1.5), (9000.0, 1.0)),
    "house": ((90.0, 1.5), (10000.0, 1.5)),
    "deep-house": ((100.0, 1.5), (7000.0, -2.0)),
    "trance": ((80.0, 1.0), (10000.0, 2.0)),
    "drum-and-bass": ((60.0, 2.0), (10000.0, 1.5)),
    "dubstep": ((60.0, 2.5), (9000.0, 1.0)),
    "synthwave": ((100.0, 1.0), (9000.0, 1.5)),
    "ambient": ((0.0, 0.0), (8000.0, -1.5)),
    "chillout": ((120.0, 1.0), (8000.0, -1.5)),
    "pop": ((80.0, 1.0), (10000.0, 2.0)),
    "rock": ((0.0, 0.0), (5000.0, 1.0)),
    "funk": ((100.0, 1.0), (8000.0, 1.0)),
    "disco": ((90.0, 1.0), (10000.0, 2.0)),
    "soul": ((150.0, 1.5), (9000.0, -1.0)),
    "rnb": ((70.0, 2.0), (10000.0, 1.5)),
    "jazz": ((150.0, 0.5), (9000.0, -1.0)),
    "blues": ((150.0, 1.0), (8000.0, -1.5)),
    "bossa-nova": ((0.0, 0.0), (9000.0, -1.0)),
    "reggae": ((100.0, 3.0), (8000.0, -1.5)),
    "afrobeat": ((100.0, 1.0), (8000.0, 1.0)),
    "folk": ((120.0, -1.0), (8000.0, 1.0)),
    "country": ((0.0, 0.0), (8000.0, 1.0)),
    "cinematic": ((60.0, 1.5), (10000.0, 1.0)),
}
for _name in GENRE_NAMES:
    GENRES[_name] = replace(
        GENRES[_name],
        mix=replace(
            GENRES[_name].mix, bus_low_shelf=GENRE_BUS_EQ[_name][0], bus_high_shelf=GENRE_BUS_EQ[_name][1]
        ),
        kit=GENRE_KITS[_name],
        voices=dict(GENRE_VOICES.get(_name, {})),
        signatures=GENRE_SIGNATURES.get(_name, ()),
    )
