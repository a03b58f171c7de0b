"""A plain, textbook Latte of the same geometry as :class:`~maskbench.core.backbone.MaskedLatte`.

Written the way DiT and Latte write it (README, "Speed": the backbone target): ``nn.Linear`` qkv, explicit
``softmax(q k^T / sqrt(d)) v`` attention, tanh GELU, ``nn.LayerNorm`` without affine, adaLN-Zero
modulation with ``chunk(6)``, the hidden state rearranged between ``[(B F), S, D]`` (spatial blocks)
and ``[(B S), F, D]`` (temporal blocks), the per-frame condition repeated over the other axis, and
no chunking of the batch. The benchmarks alternate it with ours in one process: ours must be at
least as fast. It gets the same masked head as ours (logits at ``where`` only) so that the two
compute the same FLOPs; :func:`from_ours` copies our weights so a test can check it is the same
model (with ``approximate="none"`` it then gives our logits).
"""

from __future__ import annotations

import torch
from einops import rearrange, repeat
from torch import nn

from maskbench.core.backbone import MaskedLatte


def _modulate(x: torch.Tensor, shift: torch.Tensor, scale: torch.Tensor) -> torch.Tensor:
    return x * (1 + scale) + shift


class ReferenceAttention(nn.Module):
    """timm / DiT ``Attention`` in its "math" mode."""

    def __init__(self, dim: int, num_heads: int):
        super().__init__()
        self.num_heads = num_heads
        self.scale = (dim // num_heads) ** -0.5
        self.qkv = nn.Linear(dim, 3 * dim)
        self.proj = nn.Linear(dim, dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``[N, L, D]`` -> ``[N, L, D]``."""
        n, length, dim = x.shape
        qkv = self.qkv(x).reshape(n, length, 3, self.num_heads, dim // self.num_heads).permute(2, 0, 3, 1, 4)
        q, k, v = qkv.unbind(0)
        attn = ((q @ k.transpose(-2, -1)) * self.scale).softmax(dim=-1)
        return self.proj((attn @ v).transpose(1, 2).reshape(n, length, dim))


class ReferenceBlock(nn.Module):
    """DiT block with adaLN-Zero: ``x [N, L, D]``, condition ``c [N, D]`` or per-token ``[N, L, D]``."""

    def __init__(self, dim: int, num_heads: int, mlp_ratio: float, approximate: str = "tanh"):
        super().__init__()
        self.norm1 = nn.LayerNorm(dim, elementwise_affine=False, eps=1e-6)
        self.attn = ReferenceAttention(dim, num_heads)
        self.norm2 = nn.LayerNorm(dim, elementwise_affine=False, eps=1e-6)
        hidden = int(dim * mlp_ratio)
        self.mlp = nn.Sequential(nn.Linear(dim, hidden), nn.GELU(approximate=approximate), nn.Linear(hidden, dim))
        self.adaLN_modulation = nn.Sequential(nn.SiLU(), nn.Linear(dim, 6 * dim))

    def forward(self, x: torch.Tensor, c: torch.Tensor) -> torch.Tensor:
        mods = self.adaLN_modulation(c)
        if mods.dim() == 2:
            mods = mods.unsqueeze(1)
        shift_msa, scale_msa, gate_msa, shift_mlp, scale_mlp, gate_mlp = mods.chunk(6, dim=-1)
        x = x + gate_msa * self.attn(_modulate(self.norm1(x), shift_msa, scale_msa))
        return x + gate_mlp * self.mlp(_modulate(self.norm2(x), shift_mlp, scale_mlp))


class ReferenceLatte(nn.Module):
    """Textbook discrete Latte with per-frame time; the same inputs and outputs as ``MaskedLatte``."""

    def __init__(self, config, approximate: str = "tanh"):
        super().__init__()
        dim, self.height = config["hidden_size"], config["height"]
        self.spatial = config["height"] * config["width"]
        self.token_embed = nn.Embedding(config["vocab_size"] + 1, dim)
        self.register_buffer("spatial_pos", torch.zeros(self.spatial, dim))
        self.register_buffer("temporal_pos", torch.zeros(config["max_frames"], dim))
        self.t_embedder = nn.Sequential(nn.Linear(256, dim), nn.SiLU(), nn.Linear(dim, dim))
        self.blocks = nn.ModuleList(ReferenceBlock(dim, config["num_heads"], config["mlp_ratio"], approximate)
                                    for _ in range(config["depth"]))
        self.norm_final = nn.LayerNorm(dim, elementwise_affine=False, eps=1e-6)
        self.final_ada = nn.Sequential(nn.SiLU(), nn.Linear(dim, 2 * dim))
        self.head = nn.Linear(dim, config["vocab_size"])

    def timestep_embedding(self, t: torch.Tensor) -> torch.Tensor:
        """``[B, F]`` -> ``[B, F, 256]`` (DiT's sinusoid of ``1000 t``, cos half first)."""
        half = 128
        freqs = torch.exp(-torch.log(torch.tensor(10000.0)) * torch.arange(half, device=t.device) / half)
        args = (t * 1000)[..., None] * freqs
        return torch.cat([torch.cos(args), torch.sin(args)], dim=-1)

    def forward(self, tokens: torch.Tensor, t: torch.Tensor, where: torch.Tensor) -> torch.Tensor:
        """tokens long ``[B, F, h, w]``, t ``[B, F]``, where bool ``[B, F, h, w]`` -> logits ``[N, K]``."""
        b, f = tokens.shape[:2]
        x = self.token_embed(rearrange(tokens, "b f h w -> b f (h w)")) + self.spatial_pos
        x = rearrange(x + self.temporal_pos[:f, None], "b f s d -> (b f) s d")
        c = self.t_embedder(self.timestep_embedding(t))  # [B, F, D]
        c_spatial = rearrange(c, "b f d -> (b f) d")
        c_temporal = repeat(c, "b f d -> (b s) f d", s=self.spatial)
        for i, block in enumerate(self.blocks):
            if i % 2 == 0:
                x = block(x, c_spatial)
            else:
                x = rearrange(x, "(b f) s d -> (b s) f d", b=b)
                x = rearrange(block(x, c_temporal), "(b s) f d -> (b f) s d", b=b)
        shift, scale = self.final_ada(c_spatial).unsqueeze(1).chunk(2, dim=-1)
        x = _modulate(self.norm_final(x), shift, scale)
        return self.head(x[rearrange(where, "b f h w -> (b f) (h w)")])


def from_ours(model: MaskedLatte, approximate: str = "tanh") -> ReferenceLatte:
    """A :class:`ReferenceLatte` with ``model``'s weights (same dtype and device), in eval mode."""
    ref = ReferenceLatte(dict(model.config), approximate)
    state = {"token_embed.weight": model.token_embed.weight, "spatial_pos": model.spatial_pos,
             "temporal_pos": model.temporal_pos, "head.weight": model.head.weight, "head.bias": model.head.bias,
             "final_ada.1.weight": model.final_ada.weight, "final_ada.1.bias": model.final_ada.bias}
    for ours, theirs in (("linear_1", "0"), ("linear_2", "2")):
        for kind in ("weight", "bias"):
            state[f"t_embedder.{theirs}.{kind}"] = getattr(model.time_embed, ours).__getattr__(kind)
    for i, block in enumerate(model.blocks):
        for ours, theirs in (("qkv", "attn.qkv"), ("proj", "attn.proj"), ("mlp.0", "mlp.0"), ("mlp.2", "mlp.2"),
                             ("ada", "adaLN_modulation.1")):
            for kind in ("weight", "bias"):
                state[f"blocks.{i}.{theirs}.{kind}"] = block.get_submodule(ours).__getattr__(kind)
    ref.load_state_dict({k: v.detach().clone() for k, v in state.items()})
    param = next(model.parameters())
    return ref.to(param.device, param.dtype).eval()
