"""Tokenizers: shapes and dtypes, round trips, VQModel folders, the registry, and a tiny training run."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from maskbench.core.errors import MaskbenchError
from maskbench.tokenizers.base import get_tokenizer, tokenizer_registry
from maskbench.tokenizers.vq import DEFAULT_VIZDOOM_WEIGHTS, VQTokenizer, nearest_codes, to_unit_range

K = 32


def _vq_model(seed: int = 0, lookup_from_codebook: bool = False):
    from diffusers import VQModel

    torch.manual_seed(seed)
    return VQModel(down_block_types=("DownEncoderBlock2D",) * 3, up_block_types=("UpDecoderBlock2D",) * 3,
                   block_out_channels=(8, 8, 16), layers_per_block=1, latent_channels=4, num_vq_embeddings=K,
                   norm_num_groups=4, sample_size=16, lookup_from_codebook=lookup_from_codebook)


def _video(b: int = 2, f: int = 3, size: int = 16, seed: int = 0) -> torch.Tensor:
    generator = torch.Generator().manual_seed(seed)
    return torch.randint(0, 256, (b, f, size, size, 3), generator=generator, dtype=torch.uint8)


@pytest.fixture(scope="module")
def vq_dir(tmp_path_factory):
    path = tmp_path_factory.mktemp("vq")
    _vq_model().save_pretrained(path, safe_serialization=True)
    return path


def test_encode_decode_shapes_and_dtypes(vq_dir):
    tokenizer = get_tokenizer("vqgan", str(vq_dir))
    assert (tokenizer.vocab_size, tokenizer.downsample) == (K, 4)
    tokens = tokenizer.encode(_video())
    assert tokens.dtype == torch.long and tokens.shape == (2, 3, 4, 4)
    assert 0 <= int(tokens.min()) and int(tokens.max()) < K
    pixels = tokenizer.decode(tokens)
    assert pixels.dtype == torch.uint8 and pixels.shape == (2, 3, 16, 16, 3)


def test_encode_matches_vqmodel_quantize_and_decode_matches_vqmodel(vq_dir):
    """Our chunked code search and codebook decode equal diffusers' own quantize/decode path."""
    tokenizer = get_tokenizer("vqgan", str(vq_dir))
    model = _vq_model()
    video = _video(b=1, f=4)
    pixels = to_unit_range(video[0].permute(0, 3, 1, 2))
    with torch.no_grad():
        latents = model.encode(pixels).latents
        _, _, (_, _, ids) = model.quantize(latents)
        reference = model.decode(latents).sample
    tokens = tokenizer.encode(video)
    assert torch.equal(tokens.flatten(), ids.flatten())
    decoded = tokenizer.decode(tokens)[0].permute(0, 3, 1, 2).float()
    expected = ((reference.clamp(-1, 1) + 1) * 127.5).round()
    assert (decoded - expected).abs().max() <= 1  # channels-last convolutions may round differently


def test_lookup_from_codebook_models_decode_the_same(tmp_path):
    a = VQTokenizer("a", _vq_model(lookup_from_codebook=False))
    b = VQTokenizer("b", _vq_model(lookup_from_codebook=True))
    tokens = torch.randint(0, K, (1, 2, 4, 4), generator=torch.Generator().manual_seed(1))
    assert torch.equal(a.decode(tokens), b.decode(tokens))


def test_nearest_codes_blocks_agree_with_one_pass():
    generator = torch.Generator().manual_seed(0)
    latents, codebook = torch.randn(1000, 8, generator=generator), torch.randn(64, 8, generator=generator)
    assert torch.equal(nearest_codes(latents, codebook, rows=37), torch.cdist(latents, codebook).argmin(1))


def test_save_reload_keeps_identity_and_tokens(vq_dir, tmp_path):
    first = get_tokenizer("vqgan", str(vq_dir))
    VQTokenizer("vqgan", first.model.float()).model.save_pretrained(tmp_path / "copy")
    second = get_tokenizer("vqgan", str(tmp_path / "copy"))
    assert first.identity() == second.identity() and first.identity().startswith("vqgan-")
    video = _video()
    assert torch.equal(first.encode(video), second.encode(video))
    other = VQTokenizer("vqgan", _vq_model(seed=1))
    assert other.identity() != first.identity()


def test_numpy_input_and_bad_inputs(vq_dir):
    tokenizer = get_tokenizer("vqgan", str(vq_dir))
    video = _video()
    assert torch.equal(tokenizer.encode(video.numpy()), tokenizer.encode(video))
    with pytest.raises(MaskbenchError, match="uint8"):
        tokenizer.encode(video.float())
    with pytest.raises(MaskbenchError, match="multiple"):
        tokenizer.encode(_video(size=18))
    with pytest.raises(MaskbenchError, match="mask token"):
        tokenizer.decode(torch.full((1, 1, 4, 4), K))


def test_vqgan_needs_a_valid_folder(tmp_path):
    with pytest.raises(MaskbenchError, match="--tokenizer-path"):
        get_tokenizer("vqgan")
    with pytest.raises(MaskbenchError, match="no directory"):
        get_tokenizer("vqgan", str(tmp_path / "missing"))
    with pytest.raises(MaskbenchError, match="config.json"):
        get_tokenizer("vqgan", str(tmp_path))
    (tmp_path / "config.json").write_text(json.dumps({"_class_name": "AutoencoderKL"}))
    with pytest.raises(MaskbenchError, match="not a diffusers VQModel"):
        get_tokenizer("vqgan", str(tmp_path))


def test_vqgan_corrupt_weights_fail_in_one_line(vq_dir, tmp_path):
    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "config.json").write_text((vq_dir / "config.json").read_text())
    (broken / "diffusion_pytorch_model.safetensors").write_bytes(b"not a safetensors file")
    with pytest.raises(MaskbenchError, match="cannot load") as error:
        get_tokenizer("vqgan", str(broken))
    assert "\n" not in str(error.value)


def test_registry_lists_both_and_rejects_unknown_names():
    registry = tokenizer_registry()
    assert {"vizdoom-vq", "vqgan"} <= set(registry)
    assert all(spec.help for spec in registry.values())
    with pytest.raises(MaskbenchError, match="unknown tokenizer 'nope'.*vizdoom-vq.*vqgan"):
        get_tokenizer("nope")


@pytest.mark.skipif(not (DEFAULT_VIZDOOM_WEIGHTS / "config.json").is_file(), reason="shipped weights not built")
def test_shipped_tokenizer_round_trip_is_stable():
    """Decoded tokens re-encode to (nearly) the same picture.

    Token ids themselves come back only in part (about 21% on real test frames): the small tokenizer
    has many codes that decode to near-identical patches, so re-encoding picks a neighbour. Pixels
    are what the benchmark compares, so the check is in pixel space, plus a floor above chance.
    """
    from maskbench.tokenizers.train import psnr

    tokenizer = get_tokenizer("vizdoom-vq")
    assert (tokenizer.vocab_size, tokenizer.downsample) == (512, 8)
    tokens = torch.randint(0, tokenizer.vocab_size, (1, 4, 8, 8), generator=torch.Generator().manual_seed(0))
    pixels = tokenizer.decode(tokens)
    assert pixels.shape == (1, 4, 64, 64, 3)
    again = tokenizer.encode(pixels)
    assert float(psnr(tokenizer.decode(again)[0], pixels[0]).mean()) > 25.0
    assert (again == tokens).float().mean() > 5 / tokenizer.vocab_size  # measured 2.7%, chance 0.2%


def test_training_writes_a_loadable_model_and_resumes_exactly(tmp_path):
    """A short run writes a loadable model and its card; a resumed run equals an uninterrupted one."""
    from maskbench.tokenizers.train import TRAINING_CARD, TokenizerTrainConfig, fit_tokenizer

    generator = torch.Generator().manual_seed(0)
    small = torch.randint(0, 256, (64, 4, 4, 3), generator=generator, dtype=torch.uint8)
    frames = small.repeat_interleave(4, dim=1).repeat_interleave(4, dim=2).numpy()  # [64, 16, 16, 3]
    config = TokenizerTrainConfig(steps=6, batch_size=4, lr=2e-3, vocab_size=16, channels=(8, 8, 16), embed_dim=4,
                                  frame_size=16, crop=8, warmup=2, restart_every=3, eval_frames=8)
    full = fit_tokenizer(frames, frames[:8], tmp_path / "full", config, progress=False, command="test")
    card = json.loads((full.out_dir / TRAINING_CARD).read_text())
    assert card["command"] == "test" and card["eval_frames"] == 8 and 0 < card["codebook_usage"] <= 1
    assert not (full.out_dir / "checkpoint.pt").exists()

    resumed = _interrupt_and_resume(frames, tmp_path / "resumed", config, after=3)
    assert resumed.card["identity"] == full.card["identity"]  # same weights, bit for bit

    tokenizer = get_tokenizer("vizdoom-vq", str(full.out_dir))  # six steps: loadable, not yet good
    assert tokenizer.identity() == full.card["identity"]
    assert tokenizer.decode(tokenizer.encode(torch.from_numpy(frames[None, :8]))).shape == (1, 8, 16, 16, 3)


def _interrupt_and_resume(frames, out, config, after: int):
    """Train ``after`` steps as a killed run would have (its last checkpoint only), then resume."""
    from maskbench.tokenizers.train import _TrainState, fit_tokenizer

    state = _TrainState(config)
    pool = torch.from_numpy(frames).permute(0, 3, 1, 2)
    for _ in range(after):
        state.train_step(pool)
        state.step += 1
    out.mkdir()
    state.save(out / "checkpoint.pt", 0.0)
    return fit_tokenizer(frames, frames[:8], out, config, progress=False)


def test_training_continues_from_a_tokenizer_folder_keeping_its_codebook(tmp_path):
    """init_from starts from trained weights (codebook included); another architecture is refused."""
    from maskbench.tokenizers.train import TokenizerTrainConfig, _TrainState, fit_tokenizer

    frames = torch.randint(0, 256, (32, 16, 16, 3), generator=torch.Generator().manual_seed(1), dtype=torch.uint8).numpy()
    base = dict(batch_size=4, vocab_size=16, channels=(8, 8, 16), embed_dim=4, frame_size=16, warmup=1, eval_frames=4)
    first = fit_tokenizer(frames, frames[:4], tmp_path / "first", TokenizerTrainConfig(steps=3, **base), progress=False)
    warm = _TrainState(TokenizerTrainConfig(steps=1, init_from=str(first.out_dir), **base))
    second = fit_tokenizer(frames, frames[:4], tmp_path / "second",
                           TokenizerTrainConfig(steps=2, init_from=str(first.out_dir), **base), progress=False)
    assert second.card["total_steps"] == 5 and second.card["earlier"]["identity"] == first.card["identity"]
    assert second.card["total_wall_time_s"] >= first.card["wall_time_s"]
    trained = get_tokenizer("vizdoom-vq", str(first.out_dir)).model.quantize.embedding.weight
    pool = torch.from_numpy(frames).permute(0, 3, 1, 2)
    before = warm.model.quantize.embedding.weight.detach().clone()
    assert torch.equal(before, trained)
    warm.train_step(pool)  # step 0 of a warm start: the codebook is trained on, not re-drawn from this batch
    assert (warm.model.quantize.embedding.weight - before).abs().max() < 0.1
    other = TokenizerTrainConfig(steps=1, init_from=str(first.out_dir), **{**base, "vocab_size": 32})
    with pytest.raises(MaskbenchError, match="another architecture"):
        _TrainState(other)
    with pytest.raises(MaskbenchError, match="not a tokenizer folder"):
        TokenizerTrainConfig(init_from=str(tmp_path / "nowhere"))


def test_training_refuses_a_checkpoint_from_other_settings(tmp_path):
    from maskbench.tokenizers.train import TokenizerTrainConfig, _TrainState

    config = TokenizerTrainConfig(steps=2, batch_size=2, vocab_size=16, channels=(8, 8, 16), embed_dim=4,
                                  frame_size=16, crop=None)
    _TrainState(config).save(tmp_path / "checkpoint.pt", 0.0)
    other = TokenizerTrainConfig(**{**config.__dict__, "vocab_size": 32})
    with pytest.raises(MaskbenchError, match="vocab_size"):
        _TrainState.create(other, tmp_path / "checkpoint.pt")
    (tmp_path / "checkpoint.pt").write_bytes(b"garbage")
    with pytest.raises(MaskbenchError, match="cannot resume"):
        _TrainState.create(config, tmp_path / "checkpoint.pt")


def test_train_config_validation():
    from maskbench.tokenizers.train import TokenizerTrainConfig

    with pytest.raises(MaskbenchError, match="multiple of the downsampling"):
        TokenizerTrainConfig(frame_size=60)
    with pytest.raises(MaskbenchError, match="crop 36"):
        TokenizerTrainConfig(crop=36)
    with pytest.raises(MaskbenchError, match="steps"):
        TokenizerTrainConfig(steps=0)


def test_reconstruction_gif(tmp_path):
    import imageio.v3 as iio

    from maskbench.tokenizers.train import write_reconstruction_gif

    class Videos:
        def __init__(self, videos):
            self.videos = videos

        def __len__(self):
            return len(self.videos)

        def num_frames(self, i):
            return self.videos.shape[1]

        def clip(self, i, start=0, stop=None):
            return self.videos[i, start:stop].copy()

        def video_id(self):
            return "fake"

    videos = Videos(_video(b=3, f=6).numpy())
    path = write_reconstruction_gif(VQTokenizer("t", _vq_model()), videos, tmp_path / "r.gif", count=2, frames=4)
    gif = iio.imread(path)
    assert gif.shape[0] == 4 and gif.shape[1] == 2 * 2 * (16 + 2) and gif.shape[2] == 2 * 2 * (16 + 2)
