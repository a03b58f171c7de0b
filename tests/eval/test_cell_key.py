"""A result cell's key names what a path does not: the weights, the tokenizer, the sampler's revision.

Cells with an equal key are skipped or copied, so a key that missed any of these would serve stale
numbers for retrained weights at the same path or for a fixed sampler.
"""

from types import SimpleNamespace

from maskbench.core.checkpoint import weights_identity
from maskbench.eval.run import cell_key
from maskbench.samplers.mgm import MGM


def bench(model_identity="aaaa", tokenizer="vq-1111", sampler=MGM):
    config = SimpleNamespace(model="/m", videos=4, seed=0, data=None, fvd=True)
    return SimpleNamespace(config=config, samplers={"mgm": sampler()}, frames=16, context=2, stride=14, batch_size=4,
                           model_identity=model_identity, tokenizer=SimpleNamespace(identity=lambda: tokenizer))


class NextMGM(MGM):
    revision = MGM.revision + 1


def test_key_is_stable_and_changes_with_weights_tokenizer_and_revision():
    key = cell_key(bench(), "mgm", 2)
    assert key == cell_key(bench(), "mgm", 2)
    assert key != cell_key(bench(model_identity="bbbb"), "mgm", 2)
    assert key != cell_key(bench(tokenizer="vq-2222"), "mgm", 2)
    assert key != cell_key(bench(sampler=NextMGM), "mgm", 2)


def test_weights_identity_follows_the_bytes(tmp_path):
    (tmp_path / "config.json").write_text("{}")
    (tmp_path / "diffusion_pytorch_model.safetensors").write_bytes(b"weights one")
    first = weights_identity(tmp_path)
    assert first == weights_identity(tmp_path) and len(first) == 16
    (tmp_path / "diffusion_pytorch_model.safetensors").write_bytes(b"weights two")
    assert weights_identity(tmp_path) != first
