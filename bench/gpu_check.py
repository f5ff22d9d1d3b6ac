"""Check the neural texture path on a GPU: `python bench/gpu_check.py [--tiny] [--durations 15,60]`.

Builds a Stable Diffusion 1.5-sized pipeline (UNet, VAE and CLIP text encoder from the
public SD 1.5 configs written below) with random weights, saves it as a diffusers folder
(the layout of riffusion/riffusion-model-v1) and runs the real Riffusion engine on it
through the ModelCache, in float16 on CUDA. Prints
  1. load time (cold) and a warm hit;
  2. 50 denoising steps at 512x512 (one 5.12 s clip) and the spectrogram-to-audio time;
  3. whole textures of 15 s and 60 s;
  4. the cache's VRAM budget (free memory less the reserve) and OOM recovery: a job that
     hits torch.cuda.OutOfMemoryError once is retried after unloading everything, one
     that hits it twice fails with ModelOutOfMemoryError, and the cache still works after.

Random weights make noise, not music: this measures speed and memory, not quality.
`--tiny` swaps in small configs and a few steps so the script runs (slowly) on a CPU.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

REPO_DIR = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(REPO_DIR / "tests"), str(REPO_DIR)]

from musicd.engines import ModelCache, TextureRequest, parse_engine_config  # noqa: E402
from musicd.engines.devices import import_torch  # noqa: E402
from musicd.errors import ModelOutOfMemoryError  # noqa: E402
from musicd.music.sections import Section  # noqa: E402

GIB = 1024**3

SD15_UNET = {
    "sample_size": 64,
    "in_channels": 4,
    "out_channels": 4,
    "layers_per_block": 2,
    "block_out_channels": (320, 640, 1280, 1280),
    "down_block_types": (
        "CrossAttnDownBlock2D",
        "CrossAttnDownBlock2D",
        "CrossAttnDownBlock2D",
        "DownBlock2D",
    ),
    "up_block_types": ("UpBlock2D", "CrossAttnUpBlock2D", "CrossAttnUpBlock2D", "CrossAttnUpBlock2D"),
    "cross_attention_dim": 768,
    "attention_head_dim": 8,
    "norm_num_groups": 32,
}
SD15_VAE = {
    "in_channels": 3,
    "out_channels": 3,
    "latent_channels": 4,
    "layers_per_block": 2,
    "block_out_channels": (128, 256, 512, 512),
    "down_block_types": ("DownEncoderBlock2D",) * 4,
    "up_block_types": ("UpDecoderBlock2D",) * 4,
    "norm_num_groups": 32,
    "sample_size": 512,
}
SD15_TEXT = {
    "vocab_size": 49408,
    "hidden_size": 768,
    "intermediate_size": 3072,
    "num_hidden_layers": 12,
    "num_attention_heads": 12,
    "max_position_embeddings": 77,
    "hidden_act": "quick_gelu",
    "projection_dim": 768,
    "bos_token_id": 49406,
    "eos_token_id": 49407,
    "pad_token_id": 49407,
}
TINY_UNET = {
    **SD15_UNET,
    "block_out_channels": (32, 64, 64, 64),
    "layers_per_block": 1,
    "cross_attention_dim": 32,
    "attention_head_dim": 4,
}
TINY_VAE = {**SD15_VAE, "block_out_channels": (8, 8, 16, 16), "layers_per_block": 1, "norm_num_groups": 4}
TINY_TEXT = {
    **SD15_TEXT,
    "vocab_size": 1000,
    "hidden_size": 32,
    "intermediate_size": 37,
    "num_hidden_layers": 2,
    "num_attention_heads": 4,
    "projection_dim": 32,
    "bos_token_id": 998,
    "eos_token_id": 999,
    "pad_token_id": 999,
}


def build_pipeline_folder(folder: Path, tiny: bool) -> Path:
    """A random-weight SD 1.5 (or tiny) pipeline saved in diffusers layout, in float16 files."""
    torch = import_torch()
    from diffusers import AutoencoderKL, PNDMScheduler, StableDiffusionPipeline, UNet2DConditionModel
    from transformers import CLIPTextConfig, CLIPTextModel, CLIPTokenizer

    from tiny_models import write_clip_tokenizer_files

    torch.manual_seed(0)
    with tempfile.TemporaryDirectory() as token_dir:
        write_clip_tokenizer_files(Path(token_dir))
        tokenizer = CLIPTokenizer.from_pretrained(token_dir, model_max_length=77)
    text_config = dict(TINY_TEXT if tiny else SD15_TEXT)
    text_config["vocab_size"] = max(text_config["vocab_size"], len(tokenizer))
    pipe = StableDiffusionPipeline(
        vae=AutoencoderKL(**(TINY_VAE if tiny else SD15_VAE)),
        text_encoder=CLIPTextModel(CLIPTextConfig(**text_config)),
        tokenizer=tokenizer,
        unet=UNet2DConditionModel(**(TINY_UNET if tiny else SD15_UNET)),
        scheduler=PNDMScheduler(
            beta_start=0.00085,
            beta_end=0.012,
            beta_schedule="scaled_linear",
            skip_prk_steps=True,
            steps_offset=1,
        ),
        safety_checker=None,
        feature_extractor=None,
        requires_safety_checker=False,
    )
    if not tiny:
        pipe = pipe.to(torch.float16)
    pipe.save_pretrained(folder)
    return folder


def texture_request(duration_s: float, seed: int = 1) -> TextureRequest:
    bars = max(1, round(duration_s / 2.0))  # 120 bpm, 4/4: 2 s bars
    half = max(1, bars // 2)
    sections = (Section("verse", 0, half, 0.5),) + (
        (Section("chorus", half, bars - half, 0.9),) if bars > half else ()
    )
    return TextureRequest(
        prompt="warm synth pad",
        genres=("ambient",),
        moods=("dreamy",),
        tempo_bpm=120.0,
        key_tonic="C",
        mode="major",
        meter=(4, 4),
        sections=sections,
        duration_s=bars * 2.0,
        sample_rate=44100,
        seed=seed,
    )


def gpu_line(torch) -> str:
    if not torch.cuda.is_available():
        return "no CUDA GPU"
    free, total = torch.cuda.mem_get_info()
    return (
        f"{torch.cuda.get_device_name(0)}: free {free / GIB:.1f} GiB of {total / GIB:.1f}, "
        f"allocated {torch.cuda.memory_allocated() / GIB:.2f} GiB"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tiny", action="store_true", help="small configs and few steps (runs on a CPU)")
    parser.add_argument(
        "--durations", default=None, help="texture lengths in seconds (default 15,60; tiny 5,15)"
    )
    parser.add_argument("--steps", type=int, default=None, help="denoising steps (default 50; tiny 2)")
    args = parser.parse_args()
    torch = import_torch()
    from musicd.engines.riffusion import RiffusionEngine

    steps = args.steps or (2 if args.tiny else 50)
    durations = [float(d) for d in (args.durations or ("5,15" if args.tiny else "15,60")).split(",")]
    print(
        f"torch {torch.__version__}; {gpu_line(torch)}; {'tiny' if args.tiny else 'SD 1.5-sized'} random weights"
    )
    if not torch.cuda.is_available() and not args.tiny:
        print("no GPU: the full-size check would take hours on a CPU; use --tiny here")
        return

    with tempfile.TemporaryDirectory() as tmp:
        started = time.perf_counter()
        folder = build_pipeline_folder(Path(tmp) / "riffusion-model-v1", args.tiny)
        print(f"built and saved the pipeline in {time.perf_counter() - started:.1f} s")
        config = parse_engine_config(
            {
                "riffusion": {
                    "path": str(folder),
                    "steps": steps,
                    "griffin_lim_iters": 8 if args.tiny else 32,
                },
                "cache": {"reserve_gb": 1.5, "budget_gb": 16},
            }
        )
        engine = RiffusionEngine(config)
        print(f"availability: {engine.availability(config)}")
        cache = ModelCache.from_settings(config.cache)

        # 1. cold load, warm hit
        plan, key = engine._plan_and_key()
        use = cache.preload(key, lambda: engine.load(plan), engine.size_hint())
        print(
            f"\n1. load: {use.load_s:.2f} s, {use.size_bytes / GIB:.2f} GiB on {use.device}/{use.dtype}; "
            f"{gpu_line(torch)}"
        )

        # 2. one 5.12 s clip: denoising and spectrogram inversion
        with cache.use(key, lambda: engine.load(plan)) as pipe:
            generator = torch.Generator(device=plan.device).manual_seed(0)
            sync = torch.cuda.synchronize if plan.device == "cuda" else (lambda: None)
            pipe(
                prompt="ambient pad",
                num_inference_steps=1,
                height=512,
                width=512,
                generator=generator,
                output_type="np",
            )  # warm-up (kernels, allocator)
            sync()
            started = time.perf_counter()
            image = pipe(
                prompt="ambient pad",
                num_inference_steps=steps,
                height=512,
                width=512,
                generator=generator,
                output_type="np",
            ).images[0]
            sync()
            denoise_s = time.perf_counter() - started
        from dataclasses import replace

        import numpy as np

        from musicd.engines.spectrogram import RIFFUSION_PARAMS, image_to_audio, image_to_audio_torch

        params = replace(RIFFUSION_PARAMS, griffin_lim_iters=config.riffusion.griffin_lim_iters)
        started = time.perf_counter()
        if plan.device == "cuda":
            image_to_audio_torch(image, 0, "cuda", params)
        else:
            image_to_audio(image, np.random.default_rng(0), params)
        invert_s = time.perf_counter() - started
        print(
            f"2. one 512x512 clip (5.12 s of audio): {steps} steps {denoise_s:.2f} s "
            f"({denoise_s / steps * 1000:.0f} ms/step), Griffin-Lim {params.griffin_lim_iters} iters "
            f"{invert_s:.2f} s"
        )

        # 3. whole textures
        for duration_s in durations:
            request = texture_request(duration_s)
            with cache.recording() as uses:
                started = time.perf_counter()
                audio = engine.generate(request, cache)
                total = time.perf_counter() - started
            assert audio.shape == (request.n_samples, 2)
            hit = all(u.cache_hit for u in uses)
            print(
                f"3. {request.duration_s:.0f} s texture: {engine.clip_count(request)} clips in {total:.1f} s "
                f"({total / request.duration_s:.2f} s per second of audio), cache hit {hit}"
            )

        # 4. VRAM budget and out-of-memory recovery
        if plan.device == "cuda":
            free = torch.cuda.mem_get_info()[0]
            print(
                f"4. budget: free {free / GIB:.1f} GiB - reserve {cache.cuda_reserve_bytes / GIB:.1f} GiB "
                f"= {(free - cache.cuda_reserve_bytes) / GIB:.1f} GiB for more models; resident "
                f"{cache.resident_bytes('cuda') / GIB:.2f} GiB"
            )
        attempts = []

        def oom_once(model):
            attempts.append(1)
            if len(attempts) == 1:
                if plan.device == "cuda":
                    total_bytes = torch.cuda.mem_get_info()[1]
                    torch.empty(int(total_bytes * 2), dtype=torch.uint8, device="cuda")  # a real CUDA OOM
                raise MemoryError("injected out of memory")
            return "ok"

        started = time.perf_counter()
        result = cache.run(key, lambda: engine.load(plan), oom_once, engine.size_hint())
        print(
            f"   OOM once: unloaded all, reloaded and retried -> {result} in {time.perf_counter() - started:.1f} s "
            f"(loads so far {cache.loads}); {gpu_line(torch)}"
        )

        def oom_always(model):
            if plan.device == "cuda":
                torch.empty(int(torch.cuda.mem_get_info()[1] * 2), dtype=torch.uint8, device="cuda")
            raise MemoryError("injected out of memory")

        try:
            cache.run(key, lambda: engine.load(plan), oom_always, engine.size_hint())
            print("   OOM twice: NOT raised (unexpected)")
        except ModelOutOfMemoryError as error:
            print(f"   OOM twice: ModelOutOfMemoryError: {str(error)[:120]}...")
        request = texture_request(durations[0])
        started = time.perf_counter()
        engine.generate(request, cache)
        print(
            f"   after the failure the cache still works: {request.duration_s:.0f} s texture in "
            f"{time.perf_counter() - started:.1f} s; {gpu_line(torch)}"
        )


if __name__ == "__main__":
    main()
