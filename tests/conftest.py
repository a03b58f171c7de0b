"""Shared by every test: one torch thread, a seeded generator, and the end-to-end tests' tiny assets."""

import sys
from pathlib import Path

import pytest
import torch

# The paper-publication tool (benchmarks/experiments/publish) is a repository tool, not an installed package.
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks" / "experiments"))

# Correctness tests on small tensors: one thread avoids spin-waiting when cores are shared.
torch.set_num_threads(1)


@pytest.fixture
def generator():
    return torch.Generator().manual_seed(0)

TINY_FRAMES, TINY_CONTEXT, TINY_STRIDE = 5, 1, 4  # the tiny model's window k, m, s


@pytest.fixture(scope="module")
def assets(tmp_path_factory):
    """A rendered ViZDoom set, a random tiny VQ tokenizer (f8) and a tiny backbone on its codes, plus a
    VQ folder dressed as a model (``not-a-backbone``) for the wrong-checkpoint error and another VQ of the
    same vocabulary (``other-vq``) for the wrong-tokenizer error."""
    from diffusers import VQModel

    from maskbench.core.backbone import build_backbone
    from maskbench.core.checkpoint import ModelCard, save_model
    from maskbench.core.data.vizdoom import render_dataset
    from maskbench.tokenizers.base import get_tokenizer

    root = tmp_path_factory.mktemp("assets")
    render_dataset(root / "data", videos=3, frames=20, size=64, seed=0, workers=1, progress=False)
    vq = VQModel(down_block_types=("DownEncoderBlock2D",) * 4, up_block_types=("UpDecoderBlock2D",) * 4,
                 block_out_channels=(8, 8, 8, 8), layers_per_block=1, latent_channels=4, num_vq_embeddings=32,
                 vq_embed_dim=4, norm_num_groups=4)
    vq.save_pretrained(root / "vq")
    torch.manual_seed(1)
    VQModel.from_config(vq.config).save_pretrained(root / "other-vq")  # same vocabulary, other tokens
    torch.manual_seed(0)
    model = build_backbone("tiny", vocab_size=32, max_frames=TINY_FRAMES, height=8, width=8)
    card = ModelCard(TINY_FRAMES, TINY_CONTEXT, TINY_STRIDE, tokenizer="vqgan", frame_size=64,
                     tokenizer_identity=get_tokenizer("vqgan", str(root / "vq")).identity())
    save_model(model, root / "model", card)
    vq.save_pretrained(root / "not-a-backbone")
    (root / "not-a-backbone" / "maskbench.json").write_text((root / "model" / "maskbench.json").read_text())
    return root
