"""The MusicGen texture engine (transformers): text-conditioned audio from a local folder.

Loads MusicgenForConditionalGeneration + AutoProcessor (e.g. facebook/musicgen-small)
with local_files_only. One generate() call makes at most `window_s` seconds; longer
songs continue window by window, feeding the last `prompt_s` seconds back as the audio
prompt so the music carries on, joined with a short crossfade. The result (32 kHz for
the public checkpoints) is resampled to the request's rate and fitted to whole bars.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from musicd.engines.base import TextureRequest
from musicd.engines.devices import DevicePlan, import_torch, torch_dtype
from musicd.engines.neural import NeuralTextureEngine
from musicd.engines.settings import EngineConfig, MusicGenSettings

log = logging.getLogger(__name__)

MUSICGEN_FILES: tuple[str, ...] = ("config.json", "tokenizer_config.json")
WEIGHT_PATTERNS: tuple[str, ...] = ("*.safetensors", "*.bin")
MODEL_NAME = "a MusicGen checkpoint such as facebook/musicgen-small"
JOIN_CROSSFADE_S = 0.05


@dataclass
class LoadedMusicGen:
    """The model and its processor, resident together in the cache."""

    model: Any
    processor: Any


def musicgen_prompt(request: TextureRequest) -> str:
    """A description in the style of MusicGen's training captions."""
    genres = ", ".join(g.replace("-", " ") for g in request.genres) or "instrumental"
    parts = [f"{genres} track"]
    if request.moods:
        parts.append(", ".join(request.moods))
    parts.append(f"{round(request.tempo_bpm)} bpm")
    parts.append(f"in {request.key_tonic} {request.mode}")
    text = ", ".join(parts)
    if request.prompt.strip():
        text += f". {request.prompt.strip()}"
    return text


class MusicGenEngine(NeuralTextureEngine[MusicGenSettings, LoadedMusicGen]):
    """MusicGen; the loaded model is the model and its processor."""

    name = "musicgen"
    title = "MusicGen"
    packages = ("torch", "transformers")
    files = MUSICGEN_FILES
    model_name = MODEL_NAME
    folder_contents = f"{', '.join(MUSICGEN_FILES)}, the tokenizer, preprocessor config and weights"

    def settings_of(self, config: EngineConfig) -> MusicGenSettings:
        return config.musicgen

    def folder_problem(self, path: Path) -> str | None:
        """The shared checks, and at least one weights file."""
        problem = super().folder_problem(path)
        if problem is None and not any(any(path.glob(pattern)) for pattern in WEIGHT_PATTERNS):
            problem = (
                f"model folder {path} has no weights (expected model.safetensors or "
                f"pytorch_model.bin beside {', '.join(MUSICGEN_FILES)})"
            )
        return problem

    def load(self, plan: DevicePlan) -> LoadedMusicGen:
        path = self._checked_folder()
        import_torch()
        from transformers import AutoProcessor, MusicgenForConditionalGeneration

        with self._reading(path):
            model = MusicgenForConditionalGeneration.from_pretrained(
                str(path), local_files_only=True, dtype=torch_dtype(plan.dtype)
            )
            processor = AutoProcessor.from_pretrained(str(path), local_files_only=True)
        return LoadedMusicGen(model.to(plan.device).eval(), processor)

    def _generate_window(
        self,
        loaded: LoadedMusicGen,
        prompt: str,
        tail: np.ndarray | None,
        frames: int,
        seed: int,
        plan: DevicePlan,
    ) -> np.ndarray:
        """One generate() call: (channels, samples) of new audio (the prompt's audio removed)."""
        torch = import_torch()
        model, processor = loaded.model, loaded.processor
        audio_config = model.config.audio_encoder
        sample_rate = audio_config.sampling_rate
        codebooks = model.config.decoder.num_codebooks // max(1, model.config.decoder.audio_channels)
        kwargs: dict[str, Any] = {"text": [prompt], "padding": True, "return_tensors": "pt"}
        if tail is not None:
            kwargs["audio"] = [tail[0] if tail.shape[0] == 1 else tail.T]
            kwargs["sampling_rate"] = sample_rate
        inputs = {k: v.to(plan.device) for k, v in processor(**kwargs).items()}
        if "input_values" in inputs:
            inputs["input_values"] = inputs["input_values"].to(torch_dtype(plan.dtype))
        torch.manual_seed(seed)
        with torch.inference_mode():
            values = model.generate(
                **inputs,
                do_sample=True,
                guidance_scale=self.settings.guidance_scale,
                temperature=self.settings.temperature,
                top_k=self.settings.top_k,
                max_new_tokens=frames + codebooks - 1,
            )
        audio = values[0].float().cpu().numpy()  # (channels, samples)
        return audio

    def _render(
        self, loaded: LoadedMusicGen, request: TextureRequest, plan: DevicePlan
    ) -> tuple[np.ndarray, int]:
        """Windows joined into (samples, channels) at the model's rate."""
        model = loaded.model
        audio_config = model.config.audio_encoder
        sample_rate = int(audio_config.sampling_rate)
        frame_rate = float(audio_config.frame_rate)
        hop = int(round(sample_rate / frame_rate))
        max_frames = (
            int(model.config.decoder.max_position_embeddings) - model.config.decoder.num_codebooks - 1
        )
        window_frames = max(2, min(int(self.settings.window_s * frame_rate), max_frames))
        prompt_frames = max(1, min(int(self.settings.prompt_s * frame_rate), window_frames - 1))
        target = int(math.ceil(request.duration_s * sample_rate))
        prompt = musicgen_prompt(request)
        crossfade = int(JOIN_CROSSFADE_S * sample_rate)

        first = min(window_frames, int(math.ceil(target / hop)) + 1)
        out = self._generate_window(loaded, prompt, None, first, request.seed, plan)
        windows = 1
        while out.shape[1] < target and (
            not self.settings.max_windows or windows < self.settings.max_windows
        ):
            tail_len = min(prompt_frames * hop, (out.shape[1] // hop) * hop)
            tail = out[:, -tail_len:]
            new_frames = min(
                window_frames - tail_len // hop, int(math.ceil((target - out.shape[1]) / hop)) + 1
            )
            decoded = self._generate_window(
                loaded, prompt, tail, max(1, new_frames), request.seed + windows, plan
            )
            fresh = decoded[:, tail_len:]
            if fresh.shape[1] == 0:
                break
            overlap = min(crossfade, tail_len)
            fade = np.sqrt(np.linspace(0.0, 1.0, overlap, dtype=np.float32))
            out[:, -overlap:] = (
                out[:, -overlap:] * fade[::-1] + decoded[:, tail_len - overlap : tail_len] * fade
            )
            out = np.concatenate([out, fresh], axis=1)
            windows += 1
        log.info(
            "musicgen: %d window(s), %.1f s at %d Hz: %s",
            windows,
            out.shape[1] / sample_rate,
            sample_rate,
            prompt,
        )
        return out.T.astype(np.float32), sample_rate
