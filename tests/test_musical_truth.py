"""The outbox's audio is in the tempo and key its manifest claims, by independent analysis.

librosa estimates the tempo from onsets and the key from a chroma profile
(Krumhansl-Kessler); neither knows anything about how the track was made. Every genre is
checked on a short track (24 s, or 12 bars at its typical tempo where that is longer: a pulse
needs bars to be heard), with a seed of its own.
"""

from __future__ import annotations

import math
from pathlib import Path

import librosa
import numpy as np
import pytest

from musicd.music.genres import GENRE_NAMES, GENRES
from musicd.music.theory import MODE_INTERVALS
from musicd.music.theory import pitch_class as tonic_to_pitch_class
from musicd.pipeline import Resources, run_job
from musicd.spec import load_spec

MAJOR_PROFILE = np.array([6.35, 2.23, 3.48, 2.33, 4.38, 4.09, 2.52, 5.19, 2.39, 3.66, 2.29, 2.88])
MINOR_PROFILE = np.array([6.33, 2.68, 3.52, 5.38, 2.60, 3.53, 2.54, 4.75, 3.98, 2.69, 3.34, 3.17])


@pytest.fixture(scope="module")
def resources() -> Resources:
    return Resources.load()


def estimate_key(chroma: np.ndarray) -> tuple[int, str]:
    """(tonic pitch class, "major" | "minor") with the best profile correlation."""
    scores = [
        (np.corrcoef(np.roll(profile, tonic), chroma)[0, 1], tonic, mode)
        for mode, profile in (("major", MAJOR_PROFILE), ("minor", MINOR_PROFILE))
        for tonic in range(12)
    ]
    _, tonic, mode = max(scores)
    return tonic, mode


def scale(tonic: int, mode: str) -> frozenset[int]:
    return frozenset((tonic + step) % 12 for step in MODE_INTERVALS[mode])


# A mode's major/minor family: the blues (dominant sevenths over a blue third) reads as major.
MAJOR_FAMILY = frozenset({"major", "lydian", "mixolydian", "blues"})


def relative_key(tonic: int, mode: str) -> tuple[int, str]:
    """The relative minor of a major-family key, the relative major of a minor-family one."""
    return ((tonic + 9) % 12, "minor") if mode in MAJOR_FAMILY else ((tonic + 3) % 12, "major")


MIN_DURATION_S = 24
MIN_BARS = 12
GENRE_SEEDS = [(genre, 3 + 2 * index) for index, genre in enumerate(GENRE_NAMES)]


# librosa's onset tempo (its prior centred on 120 bpm) hears cinematic's timpani ostinato, a
# 3-3-2 of sixteenths, at 80-87 bpm as a dotted-eighth pulse (4/3 of the tempo) on every seed
# tried (53, 54, 55, 36 s): strict, so the case fails once it passes and the mark must go.
KNOWN_MISREADS = {
    "cinematic": pytest.mark.xfail(strict=True, reason="the 3-3-2 timpani ostinato reads as 4/3 of the tempo")
}
GENRE_CASES = [pytest.param(g, s, id=g, marks=KNOWN_MISREADS.get(g, ())) for g, s in GENRE_SEEDS]


@pytest.mark.parametrize("genre,seed", GENRE_CASES)
def test_tempo_and_key_match_the_manifest(
    genre: str, seed: int, resources: Resources, tmp_path: Path
) -> None:
    genre_profile = GENRES[genre]
    duration_s = max(
        MIN_DURATION_S, math.ceil(MIN_BARS * genre_profile.meter[0] * 60 / genre_profile.bpm_typical)
    )
    spec = load_spec(
        f"genres: [{genre}]\nduration: {duration_s}\nseed: {seed}\noutput: {{stems: false, midi: false}}\n"
    )
    manifest = run_job(spec, tmp_path, resources).manifest
    plan = manifest["plan"]
    audio, sample_rate = librosa.load(tmp_path / manifest["mix"]["wav"], sr=22050, mono=True)

    onsets = librosa.onset.onset_strength(y=audio, sr=sample_rate)
    tempo = float(librosa.feature.tempo(onset_envelope=onsets, sr=sample_rate)[0])
    claimed = plan["tempo_bpm"]
    assert min(abs(tempo / (claimed * k) - 1) for k in (0.5, 1, 2)) < 0.04, (tempo, claimed)

    chroma = librosa.feature.chroma_cqt(y=audio, sr=sample_rate).mean(axis=1)
    tonic, mode = estimate_key(chroma)
    claimed_tonic = tonic_to_pitch_class(plan["key_tonic"])
    same_scale = scale(tonic, mode) == scale(claimed_tonic, plan["mode"])
    relative = (tonic, mode) == relative_key(claimed_tonic, plan["mode"])
    assert tonic == claimed_tonic or same_scale or relative, (tonic, mode, plan["key"])
