"""Mood words in a prompt and how each one bends the plan: mode, tempo, energy, extra parts."""

from __future__ import annotations

import re
from dataclasses import dataclass, field


@dataclass(frozen=True)
class Mood:
    """What one mood does to a plan."""

    name: str
    mode_factors: dict[str, float] = field(default_factory=dict)  # multiply a mode's weight
    tempo_factor: float = 1.0
    energy_shift: float = 0.0  # added to every section's energy (clamped to 0..1)
    add_roles: tuple[str, ...] = ()  # parts the mood asks for (pads for dreamy, ...)


_MINOR = {"minor": 4.0, "phrygian": 2.0, "dorian": 1.5, "major": 0.15, "lydian": 0.15, "mixolydian": 0.3}
_MAJOR = {"major": 4.0, "lydian": 1.5, "mixolydian": 1.5, "minor": 0.15, "phrygian": 0.1, "dorian": 0.5}

MOODS: dict[str, Mood] = {
    m.name: m
    for m in (
        Mood("dark", {**_MINOR, "phrygian": 3.0}, 0.97, 0.0),
        Mood("sad", _MINOR, 0.9, -0.1),
        Mood("melancholic", {**_MINOR, "dorian": 2.5}, 0.93, -0.05),
        Mood(
            "mysterious", {"dorian": 3.0, "phrygian": 2.5, "minor": 2.0, "major": 0.2}, 0.95, -0.05, ("pads",)
        ),
        Mood("aggressive", {**_MINOR, "phrygian": 3.0}, 1.08, 0.15),
        Mood("epic", {"minor": 3.0, "major": 0.6, "dorian": 1.0}, 1.0, 0.15, ("pads",)),
        Mood("happy", _MAJOR, 1.06, 0.05),
        Mood("uplifting", _MAJOR, 1.05, 0.1),
        Mood("romantic", {"major": 3.0, "minor": 0.8}, 0.94, -0.05, ("pads",)),
        Mood("dreamy", {"lydian": 3.0, "major": 2.0, "minor": 0.5}, 0.94, -0.1, ("pads",)),
        Mood("nostalgic", {"major": 1.5, "dorian": 1.5, "minor": 1.0}, 0.97, -0.05),
        Mood("energetic", {}, 1.1, 0.15),
        Mood("calm", {}, 0.9, -0.15, ("pads",)),
        Mood("chill", {}, 0.94, -0.1),
        Mood("tense", {"phrygian": 3.0, "minor": 2.0, "major": 0.2}, 1.02, 0.05),
    )
}

# Prompt words that name a mood (the mood names themselves included).
MOOD_WORDS: dict[str, str] = {
    **{name: name for name in MOODS},
    "gloomy": "dark",
    "ominous": "dark",
    "sinister": "dark",
    "brooding": "dark",
    "somber": "sad",
    "sombre": "sad",
    "sorrowful": "sad",
    "heartbroken": "sad",
    "lonely": "sad",
    "melancholy": "melancholic",
    "wistful": "melancholic",
    "bittersweet": "melancholic",
    "mystery": "mysterious",
    "eerie": "mysterious",
    "enigmatic": "mysterious",
    "angry": "aggressive",
    "furious": "aggressive",
    "hard": "aggressive",
    "intense": "aggressive",
    "heroic": "epic",
    "triumphant": "epic",
    "majestic": "epic",
    "grand": "epic",
    "joyful": "happy",
    "cheerful": "happy",
    "playful": "happy",
    "fun": "happy",
    "sunny": "happy",
    "bright": "happy",
    "hopeful": "uplifting",
    "euphoric": "uplifting",
    "inspiring": "uplifting",
    "love": "romantic",
    "tender": "romantic",
    "sweet": "romantic",
    "ethereal": "dreamy",
    "floating": "dreamy",
    "hazy": "dreamy",
    "dream": "dreamy",
    "retro": "nostalgic",
    "memories": "nostalgic",
    "upbeat": "energetic",
    "driving": "energetic",
    "fast": "energetic",
    "powerful": "energetic",
    "peaceful": "calm",
    "relaxing": "calm",
    "relaxed": "calm",
    "serene": "calm",
    "gentle": "calm",
    "soft": "calm",
    "slow": "calm",
    "quiet": "calm",
    "chilled": "chill",
    "mellow": "chill",
    "laid-back": "chill",
    "laidback": "chill",
    "suspense": "tense",
    "suspenseful": "tense",
    "anxious": "tense",
}


def prompt_words(prompt: str) -> list[str]:
    """Lower-case words of a prompt, hyphenated words kept whole."""
    return re.findall(r"[a-z0-9&'][a-z0-9&'\-]*", prompt.lower())


def find_moods(prompt: str) -> tuple[str, ...]:
    """Mood names found in a prompt, in order of first mention, without repeats."""
    found: dict[str, None] = {}
    for word in prompt_words(prompt):
        mood = MOOD_WORDS.get(word.strip("-'"))
        if mood:
            found[mood] = None
    return tuple(found)
