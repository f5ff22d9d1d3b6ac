"""The Riffusion texture engine: Stable Diffusion fine-tuned on spectrograms (diffusers).

Loads riffusion/riffusion-model-v1 (or any SD 1.x folder in diffusers layout) from a
local folder only. The first clip comes from text-to-image; each later clip is an
img2img variation of the one before (so the texture evolves but stays coherent), each
with the prompt of the section it falls in. Clips become audio through the mel
spectrogram inversion in spectrogram.py, are joined with crossfades and fitted to whole
bars of the song (fit.py). Output is 44.1 kHz like Riffusion itself, resampled if the
request asks for another rate.
"""

from __future__ import annotations

import logging
import math
from dataclasses import replace
from typing import Any

import numpy as np

from musicd.engines.base import TextureRequest
from musicd.engines.devices import DevicePlan, import_torch, torch_dtype
from musicd.engines.neural import NeuralTextureEngine
from musicd.engines.settings import EngineConfig, RiffusionSettings
from musicd.engines.spectrogram import RIFFUSION_PARAMS, image_to_audio, image_to_audio_torch

log = logging.getLogger(__name__)

RIFFUSION_FILES: tuple[str, ...] = (
    "model_index.json",
    "unet/config.json",
    "vae/config.json",
    "text_encoder/config.json",
    "tokenizer",
    "scheduler/scheduler_config.json",
)
MODEL_NAME = "riffusion/riffusion-model-v1 (diffusers layout)"
CROSSFADE_S = 0.5  # between chained clips (at most a tenth of a clip)


def energy_words(energy: float) -> str:
    if energy >= 0.75:
        return "energetic, full"
    if energy <= 0.35:
        return "calm, sparse"
    return ""


def riffusion_prompt(request: TextureRequest, energy: float | None = None) -> str:
    """Short, comma-separated words: Riffusion was trained on captions like "jazzy lofi piano"."""
    words = [g.replace("-", " ") for g in request.genres] + list(request.moods)
    if energy is not None and energy_words(energy):
        words.append(energy_words(energy))
    if request.prompt.strip():
        words.append(request.prompt.strip())
    return ", ".join(w for w in words if w) or "ambient texture"


def section_energy_at(request: TextureRequest, time_s: float) -> float:
    for section in request.sections:
        if section.start_bar * request.bar_s <= time_s < section.end_bar * request.bar_s:
            return section.energy
    return request.sections[-1].energy if request.sections else 0.6


def join_with_crossfade(clips: list[np.ndarray], crossfade: int) -> np.ndarray:
    """Mono clips overlapped by `crossfade` samples with equal-power fades."""
    out = clips[0].astype(np.float32)
    fade_in = np.sqrt(np.linspace(0.0, 1.0, crossfade, dtype=np.float32))
    fade_out = fade_in[::-1]
    for clip in clips[1:]:
        overlap = min(crossfade, len(out), len(clip))
        if overlap == 0:
            out = np.concatenate([out, clip])
            continue
        mixed = out[-overlap:] * fade_out[-overlap:] + clip[:overlap] * fade_in[:overlap]
        out = np.concatenate([out[:-overlap], mixed, clip[overlap:]])
    return out


class RiffusionEngine(NeuralTextureEngine[RiffusionSettings, Any]):
    """Riffusion; the loaded model is a diffusers StableDiffusionPipeline."""

    name = "riffusion"
    title = "Riffusion"
    packages = ("torch", "diffusers", "transformers")
    files = RIFFUSION_FILES
    model_name = MODEL_NAME
    folder_contents = f"{', '.join(RIFFUSION_FILES)} and the weights"

    def settings_of(self, config: EngineConfig) -> RiffusionSettings:
        return config.riffusion

    def load(self, plan: DevicePlan) -> Any:
        """The text-to-image pipeline from the local folder (no safety checker: spectrograms)."""
        path = self._checked_folder()
        import_torch()
        from diffusers import DPMSolverMultistepScheduler, StableDiffusionPipeline

        with self._reading(path):
            pipe = StableDiffusionPipeline.from_pretrained(
                str(path),
                local_files_only=True,
                dtype=torch_dtype(plan.dtype),
                safety_checker=None,
                feature_extractor=None,
                requires_safety_checker=False,
            )
        pipe.scheduler = DPMSolverMultistepScheduler.from_config(pipe.scheduler.config)
        pipe.set_progress_bar_config(disable=True)
        return pipe.to(plan.device)

    def clip_timing(self) -> tuple[float, float]:
        """Seconds per clip and the crossfade between chained clips."""
        clip_s = RIFFUSION_PARAMS.width_to_seconds(self.settings.clip_width_px)
        return clip_s, min(CROSSFADE_S, clip_s / 10)

    def clip_count(self, request: TextureRequest) -> int:
        clip_s, crossfade_s = self.clip_timing()
        needed = max(1, math.ceil((request.duration_s - crossfade_s) / (clip_s - crossfade_s)))
        return min(needed, self.settings.max_clips) if self.settings.max_clips else needed

    def _render(self, pipe: Any, request: TextureRequest, plan: DevicePlan) -> tuple[np.ndarray, int]:
        """Chained clips joined into one mono signal at 44.1 kHz (before fitting to bars)."""
        torch = import_torch()
        from diffusers import StableDiffusionImg2ImgPipeline

        settings = self.settings
        params = replace(RIFFUSION_PARAMS, griffin_lim_iters=settings.griffin_lim_iters)
        clip_s, crossfade_s = self.clip_timing()
        step_s = clip_s - crossfade_s
        img2img = None
        image = None
        clips = []
        count = self.clip_count(request)
        for index in range(count):
            energy = section_energy_at(request, index * step_s + clip_s / 2)
            prompt = riffusion_prompt(request, energy)
            generator = torch.Generator(device=plan.device).manual_seed(request.seed + index)
            common = dict(
                prompt=prompt,
                negative_prompt=settings.negative_prompt or None,
                num_inference_steps=settings.steps,
                guidance_scale=settings.guidance_scale,
                generator=generator,
                output_type="np",
            )
            with torch.inference_mode():
                if image is None:
                    result = pipe(height=params.n_mels, width=settings.clip_width_px, **common)
                else:
                    if img2img is None:
                        img2img = StableDiffusionImg2ImgPipeline(
                            **pipe.components, requires_safety_checker=False
                        )
                        img2img.set_progress_bar_config(disable=True)
                    result = img2img(image=image[None], strength=settings.img2img_strength, **common)
            image = np.asarray(result.images[0], dtype=np.float32)
            if plan.device == "cuda":
                clip = image_to_audio_torch(image, request.seed + index, plan.device, params)
            else:
                clip = image_to_audio(image, np.random.default_rng([request.seed, index]), params)
            clips.append(clip)
            log.info("riffusion clip %d/%d (%.1f s): %s", index + 1, count, clip_s, prompt)
        crossfade = int(crossfade_s * params.sample_rate)
        return join_with_crossfade(clips, crossfade), params.sample_rate
