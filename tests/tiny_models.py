"""Build tiny, random-weight model folders offline with the real diffusers/transformers classes.

The folders have the same layout as the public models (riffusion/riffusion-model-v1 and
facebook/musicgen-small), so the engines load them through exactly the code path a real
model takes; only the sizes differ. Nothing here touches the network.
"""

from __future__ import annotations

import json
import tempfile
from pathlib import Path


# Byte-level BPE alphabet as CLIP's tokenizer spells it (printable stand-ins for all 256 bytes).
def _bytes_to_unicode() -> list[str]:
    printable = (
        list(range(ord("!"), ord("~") + 1))
        + list(range(ord("¡"), ord("¬") + 1))
        + list(range(ord("®"), ord("ÿ") + 1))
    )
    codes = printable[:]
    extra = 0
    for byte in range(256):
        if byte not in printable:
            printable.append(byte)
            codes.append(256 + extra)
            extra += 1
    return [chr(code) for code in codes]


def write_clip_tokenizer_files(folder: Path) -> int:
    """A tiny CLIP BPE vocabulary (single bytes, with and without '</w>', a few merges)."""
    folder.mkdir(parents=True, exist_ok=True)
    symbols = _bytes_to_unicode()
    vocab: dict[str, int] = {}
    for symbol in symbols:
        vocab[symbol] = len(vocab)
    for symbol in symbols:
        vocab[symbol + "</w>"] = len(vocab)
    merges = [("l", "o"), ("lo", "f"), ("lof", "i</w>"), ("p", "a"), ("pa", "d</w>")]
    for left, right in merges:
        vocab[left + right] = len(vocab)
    vocab["<|startoftext|>"] = len(vocab)
    vocab["<|endoftext|>"] = len(vocab)
    (folder / "vocab.json").write_text(json.dumps(vocab), encoding="utf-8")
    merge_lines = ["#version: 0.2"] + [f"{left} {right}" for left, right in merges]
    (folder / "merges.txt").write_text("\n".join(merge_lines) + "\n", encoding="utf-8")
    return len(vocab)


def build_tiny_riffusion(folder: Path, *, latent_px: int = 32) -> Path:
    """A Stable Diffusion folder (unet, vae, text_encoder, tokenizer, scheduler), ~2 MB.

    The VAE has four blocks, so like SD 1.5 it scales images by 8: a 512-px-tall
    spectrogram image is a 64-row latent. `latent_px` is the UNet's nominal sample size.
    """
    import torch
    from diffusers import (
        AutoencoderKL,
        PNDMScheduler,
        StableDiffusionPipeline,
        UNet2DConditionModel,
    )
    from transformers import CLIPTextConfig, CLIPTextModel, CLIPTokenizer

    torch.manual_seed(0)
    folder = Path(folder)
    with tempfile.TemporaryDirectory() as token_dir:
        vocab_size = write_clip_tokenizer_files(Path(token_dir))
        tokenizer = CLIPTokenizer.from_pretrained(token_dir, model_max_length=77)
    unet = UNet2DConditionModel(
        block_out_channels=(16, 32),
        layers_per_block=1,
        sample_size=latent_px,
        in_channels=4,
        out_channels=4,
        down_block_types=("DownBlock2D", "CrossAttnDownBlock2D"),
        up_block_types=("CrossAttnUpBlock2D", "UpBlock2D"),
        cross_attention_dim=32,
        attention_head_dim=4,
        norm_num_groups=8,
    )
    vae = AutoencoderKL(
        block_out_channels=(8, 8, 16, 16),
        in_channels=3,
        out_channels=3,
        down_block_types=("DownEncoderBlock2D",) * 4,
        up_block_types=("UpDecoderBlock2D",) * 4,
        latent_channels=4,
        layers_per_block=1,
        norm_num_groups=4,
        sample_size=latent_px * 8,
    )
    text_encoder = CLIPTextModel(
        CLIPTextConfig(
            bos_token_id=vocab_size - 2,
            eos_token_id=vocab_size - 1,
            pad_token_id=vocab_size - 1,
            hidden_size=32,
            intermediate_size=37,
            num_attention_heads=4,
            num_hidden_layers=2,
            vocab_size=vocab_size,
            max_position_embeddings=77,
        )
    )
    scheduler = PNDMScheduler(
        beta_start=0.00085,
        beta_end=0.012,
        beta_schedule="scaled_linear",
        num_train_timesteps=1000,
        skip_prk_steps=True,
        steps_offset=1,
    )
    pipe = StableDiffusionPipeline(
        vae=vae,
        text_encoder=text_encoder,
        tokenizer=tokenizer,
        unet=unet,
        scheduler=scheduler,
        safety_checker=None,
        feature_extractor=None,
        requires_safety_checker=False,
    )
    pipe.save_pretrained(folder)
    return folder


def _t5_vocab() -> list[tuple[str, float]]:
    specials = [("<pad>", 0.0), ("</s>", 0.0), ("<unk>", 0.0)]
    words = "lofi ambient house techno jazz pad chill warm bpm key major minor mood music".split()
    pieces = [("▁" + word, -2.0) for word in words]
    letters = [(char, -5.0) for char in "abcdefghijklmnopqrstuvwxyz0123456789,.-#"]
    return specials + pieces + [("▁", -3.0)] + letters


def build_tiny_musicgen(folder: Path) -> Path:
    """A MusicGen folder (T5 text encoder, EnCodec at 32 kHz / 50 Hz frames, decoder), ~0.3 M params."""
    import torch
    from transformers import (
        EncodecConfig,
        EncodecFeatureExtractor,
        MusicgenConfig,
        MusicgenDecoderConfig,
        MusicgenForConditionalGeneration,
        MusicgenProcessor,
        T5Config,
        T5Tokenizer,
    )

    torch.manual_seed(0)
    folder = Path(folder)
    vocab = _t5_vocab()
    tokenizer = T5Tokenizer(vocab=vocab, extra_ids=0)
    text_config = T5Config(
        vocab_size=len(vocab),
        d_model=16,
        d_kv=4,
        d_ff=32,
        num_layers=1,
        num_heads=2,
        pad_token_id=0,
        eos_token_id=1,
        decoder_start_token_id=0,
    )
    audio_config = EncodecConfig(
        sampling_rate=32000,
        audio_channels=1,
        hidden_size=16,
        num_filters=4,
        num_residual_layers=1,
        upsampling_ratios=[8, 5, 4, 4],  # 640 samples per frame: 50 frames/s, as musicgen-small
        num_lstm_layers=1,
        codebook_size=64,
        target_bandwidths=[1.2],  # 4 codebooks of 6 bits at 50 Hz
        norm_type="weight_norm",
    )
    decoder_config = MusicgenDecoderConfig(
        vocab_size=64,
        max_position_embeddings=512,
        num_hidden_layers=2,
        ffn_dim=32,
        num_attention_heads=2,
        hidden_size=16,
        num_codebooks=4,
        pad_token_id=64,
        bos_token_id=64,
        audio_channels=1,
    )
    config = MusicgenConfig(
        text_encoder=text_config.to_dict(),
        audio_encoder=audio_config.to_dict(),
        decoder=decoder_config.to_dict(),
    )
    model = MusicgenForConditionalGeneration(config)
    # EnCodec starts with all-zero codebooks (trained ones are learned), which would decode
    # every token sequence to the same audio; random vectors make the codes audible.
    with torch.no_grad():
        for layer in model.audio_encoder.quantizer.layers:
            layer.codebook.embed.normal_()
            layer.codebook.embed_avg.copy_(layer.codebook.embed)
    model.generation_config.decoder_start_token_id = 64
    model.generation_config.pad_token_id = 64
    model.generation_config.do_sample = True
    model.generation_config.guidance_scale = 3.0
    model.generation_config.max_length = 256
    model.save_pretrained(folder)
    feature_extractor = EncodecFeatureExtractor(feature_size=1, sampling_rate=32000)
    processor = MusicgenProcessor(feature_extractor=feature_extractor, tokenizer=tokenizer)
    processor.save_pretrained(folder)
    return folder
