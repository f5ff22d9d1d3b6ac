"""The outbox's audio is in the tempo and key its manifest claims, by independent analysis.

librosa estimates the tempo from onsets and the key from a chroma profile
(Krumhansl-Kessler); neither knows anything about how the track was made.
"""

from __future__ import annotations

from pathlib import Path

import librosa
import numpy as np
import pytest

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


@pytest.mark.parametrize(
    "genre,seed",
    [("house", 3), ("drum-and-bass", 5), ("reggae", 7), ("synthwave", 11), ("rock", 13), ("jazz", 17)],
)
def test_tempo_and_key_match_the_manifest(
    genre: str, seed: int, resources: Resources, tmp_path: Path
) -> None:
    spec = load_spec(
        f"genres: [{genre}]\nduration: 30\nseed: {seed}\noutput: {{stems: false, midi: false}}\n"
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
    assert tonic == claimed_tonic or same_scale, (tonic, mode, plan["key"])
