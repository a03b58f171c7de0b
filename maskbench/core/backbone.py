"""The frame-masked Latte: ``p(x1 | xt, t; theta)`` over discrete video tokens (paper section 3; README, "Training").

Latte's alternating spatial / temporal transformer blocks with DiT's adaLN-Zero conditioning, made
discrete (token embedding of ``K + 1`` ids, mask included; linear head to ``K`` logits) and
conditioned per frame: each frame has its own time ``t``, and each frame's tokens are modulated by
that frame's embedding.

The hidden state is ``[B, F, S, D]`` (``S = h * w``) in spatial blocks and ``[B, S, F, D]`` in
temporal blocks, so that attention always sees ``[B, A, L, D]`` with the sequence ``L`` next to the
channels and merges ``B`` and ``A`` without a copy; the state is transposed once between a spatial
and a temporal block (one copy of ``D`` per token, where regrouping q, k, v and the output inside a
temporal block would copy ``4 D``). The per-frame condition ``[B, F, D]`` broadcasts over ``S``,
which is Latte's ``[B*F, D]`` (spatial) and ``[B*h*w, F, D]`` (temporal) condition without
materialising the latter.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable, Mapping

import torch
import torch.nn.functional as F
from diffusers.configuration_utils import ConfigMixin, register_to_config
from diffusers.models.embeddings import TimestepEmbedding, Timesteps, get_1d_sincos_pos_embed_from_grid
from diffusers.models.modeling_utils import ModelMixin
from einops import rearrange
from torch import nn

from maskbench.core.cpu_threads import split_over_threads
from maskbench.core.errors import MaskbenchError

_TIME_CHANNELS = 256  # DiT's frequency embedding size
_TIME_SCALE = 1000.0  # t in [0, 1] -> DiT's integer-step range, where the sinusoid frequencies fit
# CPU inference: the batch is sliced over the threads (core/cpu_threads.py), and each single-threaded
# slice runs in chunks of about this many tokens, whose activations stay in cache (the memory-bound
# work, bias, GELU, norms, is then faster) and keep transient memory small. Inside a slice a chunk
# costs no thread barrier, only a few microseconds of dispatch per operation.
CPU_CHUNK_TOKENS = 2048


def _norm(x: torch.Tensor) -> torch.Tensor:
    """LayerNorm without affine parameters: adaLN supplies scale and shift."""
    return F.layer_norm(x, x.shape[-1:], eps=1e-6)


def _modulate(x: torch.Tensor, shift: torch.Tensor, scale: torch.Tensor) -> torch.Tensor:
    return torch.addcmul(shift, x, 1 + scale)  # one fused pass instead of x * (1 + scale) + shift


class LatteBlock(nn.Module):
    """DiT block with adaLN-Zero; ``temporal`` chooses the attention axis (frames or positions)."""

    def __init__(self, dim: int, num_heads: int, mlp_ratio: float, temporal: bool):
        super().__init__()
        self.num_heads = num_heads
        self.temporal = temporal
        self.qkv = nn.Linear(dim, 3 * dim)  # fused: one large matmul instead of three
        self.proj = nn.Linear(dim, dim)
        hidden = int(dim * mlp_ratio)
        # Exact GELU, not DiT's tanh approximation: same model quality, half the cost on CPUs.
        self.mlp = nn.Sequential(nn.Linear(dim, hidden), nn.GELU(), nn.Linear(hidden, dim))
        self.ada = nn.Linear(dim, 6 * dim)

    def forward(self, x: torch.Tensor, cond: torch.Tensor) -> torch.Tensor:
        """Args: x: ``[B, F, S, D]`` (spatial) or ``[B, S, F, D]`` (temporal); cond: ``silu(frame
        embedding)`` ``[B, F, D]``. Returns ``x``'s shape."""
        frames = "six b 1 f d" if self.temporal else "six b f 1 d"  # broadcast over the positions
        mods = rearrange(self.ada(cond), f"b f (six d) -> {frames}", six=6)
        shift_a, scale_a, gate_a, shift_m, scale_m, gate_m = mods
        x = torch.addcmul(x, gate_a, self._attend(_modulate(_norm(x), shift_a, scale_a)))
        return torch.addcmul(x, gate_m, self.mlp(_modulate(_norm(x), shift_m, scale_m)))

    def _attend(self, x: torch.Tensor) -> torch.Tensor:
        """``[B, A, L, D]`` -> ``[B, A, L, D]``, attending along ``L`` (``A`` joins the batch)."""
        # SDPA takes its fused CPU kernel only for 4-D inputs, hence the merged batch axis (a view
        # here). Measured against softmax(q k^T) v at L = 16 and 64 it is as fast or faster, and
        # uses less memory (benchmarks/test_backbone_speed.py::test_attention_path).
        q, k, v = rearrange(self.qkv(x), "b a l (three n d) -> three (b a) n l d", three=3, n=self.num_heads)
        out = F.scaled_dot_product_attention(q, k, v)
        return self.proj(rearrange(out, "(b a) n l d -> b a l (n d)", b=x.shape[0]))


class MaskedLatte(ModelMixin, ConfigMixin):
    """Discrete Latte with per-frame time: logits of the clean tokens given a partly masked video.

    Blocks alternate, as in Latte: block ``2i`` attends within a frame (``h * w`` tokens), block
    ``2i + 1`` across the frames at one spatial position. Tokens are already latents, so there is no
    patching: the ``/2`` in preset names only names Latte's widths.

    Args:
        vocab_size: ``K``, the number of clean token ids; the mask id is ``K``.
        max_frames: longest window accepted (temporal position embeddings exist up to it).
        height: ``h`` of the token grid.
        width: ``w`` of the token grid.
        hidden_size: ``D``, a multiple of ``num_heads`` and of 4 (2D sincos embedding).
        depth: total number of blocks, spatial and temporal together.
        num_heads: attention heads per block.
        mlp_ratio: MLP hidden width as a multiple of ``D``.
        time_conditioning: ``False`` makes a timestep-independent model (paper Table 4; the
            authors' ``time_cond = 0``): ``t`` is replaced by zeros before the embedding, so every
            frame gets the embedding of ``t = 0`` whatever the caller passes. Saved in
            ``config.json``; folders saved before the flag existed load as ``True``.
    """

    _supports_gradient_checkpointing = True

    @register_to_config
    def __init__(
        self,
        vocab_size: int = 1024,
        max_frames: int = 16,
        height: int = 8,
        width: int = 8,
        hidden_size: int = 192,
        depth: int = 4,
        num_heads: int = 3,
        mlp_ratio: float = 4.0,
        time_conditioning: bool = True,
    ):
        super().__init__()
        _check_sizes(hidden_size, num_heads, depth)
        self.gradient_checkpointing = False
        self.token_embed = nn.Embedding(vocab_size + 1, hidden_size)
        # Fixed sincos tables, saved with the weights so every loader restores them.
        self.register_buffer("spatial_pos", _spatial_sincos(hidden_size, height, width))
        self.register_buffer("temporal_pos", _sincos(hidden_size, torch.arange(max_frames)))
        self.time_proj = Timesteps(_TIME_CHANNELS, flip_sin_to_cos=True, downscale_freq_shift=0)
        self.time_embed = TimestepEmbedding(_TIME_CHANNELS, hidden_size)
        self.blocks = nn.ModuleList(
            LatteBlock(hidden_size, num_heads, mlp_ratio, temporal=i % 2 == 1) for i in range(depth)
        )
        self.final_ada = nn.Linear(hidden_size, 2 * hidden_size)
        self.head = nn.Linear(hidden_size, vocab_size)
        self._init_weights()

    @property
    def mask_id(self) -> int:
        """The mask token id ``M = K``."""
        return self.config.vocab_size

    def forward(self, tokens: torch.Tensor, t: torch.Tensor, where: torch.Tensor | None = None) -> torch.Tensor:
        """Logits over the ``K`` clean tokens.

        Args:
            tokens: long ``[B, F, h, w]``, ids in ``0..K`` (``K`` = mask), ``F <= max_frames``.
            t: float ``[B, F]``, per-frame time in ``[0, 1]`` (0 fully masked, 1 clean).
            where: optional bool ``[B, F, h, w]``: positions that need logits. The head then runs
                on those ``N`` positions only.

        Returns:
            ``[N, K]`` in the order of ``tokens[where]`` (row-major) if ``where`` is given, else
            ``[B, F, h, w, K]``.
        """
        self._check_inputs(tokens, t, where)
        if tokens.device.type == "cpu" and not torch.is_grad_enabled() and not torch.is_autocast_enabled("cpu"):
            return split_over_threads(self._forward_chunked, tokens, t, where)  # see core/cpu_threads.py
        return self._forward(tokens, t, where)

    def _forward_chunked(self, tokens: torch.Tensor, t: torch.Tensor, where: torch.Tensor | None) -> torch.Tensor:
        per_video = tokens.shape[1] * tokens.shape[2] * tokens.shape[3]
        size = max(1, CPU_CHUNK_TOKENS // per_video)
        if tokens.shape[0] <= size:
            return self._forward(tokens, t, where)
        pieces = [x.split(size) if x is not None else [None] * -(-tokens.shape[0] // size) for x in (tokens, t, where)]
        return torch.cat([self._forward(*piece) for piece in zip(*pieces)])

    def _forward(self, tokens: torch.Tensor, t: torch.Tensor, where: torch.Tensor | None) -> torch.Tensor:
        cond = F.silu(self._embed_time(t))
        x = self._embed_tokens(tokens)
        temporal = False  # the layout of x: [B, F, S, D], or [B, S, F, D] when True
        for block in self.blocks:
            if block.temporal != temporal:
                x, temporal = rearrange(x, "b a l d -> b l a d").contiguous(), block.temporal
            if torch.is_grad_enabled() and self.gradient_checkpointing:
                x = self._gradient_checkpointing_func(block, x, cond)
            else:
                x = block(x, cond)
        if temporal:
            x = rearrange(x, "b s f d -> b f s d").contiguous()
        shift, scale = rearrange(self.final_ada(cond), "b f (two d) -> two b f 1 d", two=2)
        x = _modulate(_norm(x), shift, scale)
        if where is not None:
            return self.head(x[rearrange(where, "b f h w -> b f (h w)")])
        return rearrange(self.head(x), "b f (h w) k -> b f h w k", h=tokens.shape[2])

    def _embed_tokens(self, tokens: torch.Tensor) -> torch.Tensor:
        """``[B, F, h, w]`` ids -> ``[B, F, S, D]`` with spatial and temporal positions added."""
        x = self.token_embed(rearrange(tokens, "b f h w -> b f (h w)"))
        frames = tokens.shape[1]
        return x + self.spatial_pos + rearrange(self.temporal_pos[:frames], "f d -> f 1 d")

    def _embed_time(self, t: torch.Tensor) -> torch.Tensor:
        """``[B, F]`` times -> ``[B, F, D]`` frame embeddings."""
        if not self.config.time_conditioning:
            # Zeroed, not skipped: the embedding of t = 0 still passes through the learned MLP, as in
            # the authors' model, so both kinds of model have the same weights and FLOPs.
            t = torch.zeros_like(t)
        freqs = self.time_proj(rearrange(t, "b f -> (b f)") * _TIME_SCALE)
        emb = self.time_embed(freqs.to(self.time_embed.linear_1.weight.dtype))
        return rearrange(emb, "(b f) d -> b f d", b=t.shape[0])

    def _check_inputs(self, tokens: torch.Tensor, t: torch.Tensor, where: torch.Tensor | None) -> None:
        # Shapes only: checking values would force a device sync on every call.
        cfg = self.config
        if tokens.dim() != 4 or tuple(tokens.shape[2:]) != (cfg.height, cfg.width):
            raise MaskbenchError(
                f"tokens must be [B, F, {cfg.height}, {cfg.width}], got {list(tokens.shape)}; "
                "tokenize at the resolution the backbone was built for"
            )
        if tokens.shape[1] > cfg.max_frames:
            raise MaskbenchError(
                f"window of {tokens.shape[1]} frames exceeds the backbone's max_frames={cfg.max_frames}; "
                "use a shorter window (k) or a backbone built with larger max_frames"
            )
        if tuple(t.shape) != tuple(tokens.shape[:2]):
            raise MaskbenchError(f"t must be [B, F] = {list(tokens.shape[:2])}, got {list(t.shape)}")
        if where is not None and (where.dtype != torch.bool or where.shape != tokens.shape):
            raise MaskbenchError(
                f"where must be bool {list(tokens.shape)}, got {where.dtype} {list(where.shape)}"
            )

    def _init_weights(self) -> None:
        # DiT: xavier linears, N(0, 0.02) embeddings, and adaLN-Zero (zero modulations and head)
        # so that every block starts as the identity and the model starts by predicting uniform.
        for module in self.modules():
            if isinstance(module, nn.Linear):
                nn.init.xavier_uniform_(module.weight)
                nn.init.zeros_(module.bias)
        nn.init.normal_(self.token_embed.weight, std=0.02)
        nn.init.normal_(self.time_embed.linear_1.weight, std=0.02)
        nn.init.normal_(self.time_embed.linear_2.weight, std=0.02)
        for layer in [*(block.ada for block in self.blocks), self.final_ada, self.head]:
            nn.init.zeros_(layer.weight)
            nn.init.zeros_(layer.bias)


def _check_sizes(hidden_size: int, num_heads: int, depth: int) -> None:
    if hidden_size % num_heads or hidden_size % 4:
        raise MaskbenchError(
            f"hidden_size={hidden_size} must be a multiple of num_heads={num_heads} and of 4"
        )
    if depth < 1:
        raise MaskbenchError(f"depth must be at least 1, got {depth}")


def _sincos(dim: int, positions: torch.Tensor) -> torch.Tensor:
    """``[P]`` positions -> ``[P, dim]`` fixed sinusoidal embedding (float32)."""
    return get_1d_sincos_pos_embed_from_grid(dim, positions.double()).float()


def _spatial_sincos(dim: int, height: int, width: int) -> torch.Tensor:
    """``[h*w, dim]``: half the channels encode the row, half the column (as in DiT / Latte)."""
    rows = rearrange(_sincos(dim // 2, torch.arange(height)), "h d -> h 1 d").expand(-1, width, -1)
    cols = rearrange(_sincos(dim // 2, torch.arange(width)), "w d -> 1 w d").expand(height, -1, -1)
    return rearrange(torch.cat([rows, cols], dim=-1), "h w d -> (h w) d").contiguous()


# Named sizes (DiT's dict of factories). Latte's widths; "tiny" for tests; "cpu" sized for a
# 2-core CPU: about 4 GFLOP per 16x8x8 video, some 30-40 ms per video on an idle machine
# (benchmarks/test_backbone_speed.py and benchmarks/report.py give the measured rate).
PRESETS: dict[str, dict[str, int]] = {
    "tiny": dict(depth=2, hidden_size=32, num_heads=2),
    "cpu": dict(depth=4, hidden_size=192, num_heads=3),
    "S/2": dict(depth=12, hidden_size=384, num_heads=6),
    "B/2": dict(depth=12, hidden_size=768, num_heads=12),
    "L/2": dict(depth=24, hidden_size=1024, num_heads=16),
    "XL/2": dict(depth=28, hidden_size=1152, num_heads=16),
}

BACKBONES: dict[str, Callable[..., MaskedLatte]] = {
    name: functools.partial(MaskedLatte, **sizes) for name, sizes in PRESETS.items()
}


def build_backbone(name: str, **config) -> MaskedLatte:
    """A backbone by preset name; ``config`` sets or overrides the other constructor arguments.

    Args:
        name: a key of :data:`BACKBONES` (``"tiny"``, ``"cpu"``, ``"S/2"``, ...).
        **config: e.g. ``vocab_size``, ``max_frames``, ``height``, ``width``.

    Raises:
        MaskbenchError: unknown name (the message lists the known ones).
    """
    if name not in BACKBONES:
        raise MaskbenchError(f"unknown backbone {name!r}; choose one of: {', '.join(BACKBONES)}")
    return BACKBONES[name](**config)


def forward_flops(config: Mapping, batch: int, frames: int, n_head_positions: int) -> int:
    """Analytic FLOPs of one forward (a multiply-add counts 2); matmuls and attention only.

    Elementwise work (norms, modulation, GELU, softmax) and the embedding lookup are left out:
    they are memory-bound and a few percent of the total.

    Args:
        config: the backbone's constructor arguments (``model.config`` or a preset merged with
            ``vocab_size`` etc.); missing keys take the constructor defaults.
        batch: ``B`` videos.
        frames: ``F`` frames per window.
        n_head_positions: ``N`` positions the head runs on (``B * F * h * w`` for full logits).

    Returns:
        FLOPs as an int.
    """
    cfg = {**_DEFAULTS, **dict(config)}
    dim, spatial = cfg["hidden_size"], cfg["height"] * cfg["width"]
    tokens, frame_rows = batch * frames * spatial, batch * frames
    mlp = int(dim * cfg["mlp_ratio"])
    per_token = 2 * dim * (3 * dim + dim + 2 * mlp)  # qkv, proj, MLP
    blocks = 0
    for i in range(cfg["depth"]):
        seq = frames if i % 2 else spatial
        blocks += tokens * (per_token + 4 * seq * dim)  # + QK^T and attn @ V
        blocks += 2 * frame_rows * dim * 6 * dim  # adaLN modulation, once per frame
    time = 2 * frame_rows * (_TIME_CHANNELS * dim + dim * dim)
    final = 2 * frame_rows * dim * 2 * dim + 2 * n_head_positions * dim * cfg["vocab_size"]
    return blocks + time + final


_DEFAULTS = {
    name: param.default
    for name, param in inspect.signature(MaskedLatte.__init__).parameters.items()
    if name != "self"
}
