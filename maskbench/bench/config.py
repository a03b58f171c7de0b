"""Typed configuration of ``maskbench run`` (validated before any work starts)."""

from __future__ import annotations

from dataclasses import dataclass

from maskbench.core.errors import MaskbenchError


@dataclass(frozen=True)
class RunConfig:
    """One benchmark run: samplers x extrapolation factors on one model and data set.

    ``frames``/``context``/``stride`` of ``None`` take the model card's training values.
    """

    samplers: tuple[str, ...] = ("mgm", "fm", "df", "rdm")
    factors: tuple[int, ...] = (2,)
    model: str | None = None
    tokenizer: str | None = None
    tokenizer_path: str | None = None
    data: str | None = None
    split: str | None = "test"
    videos: int = 4
    frames: int | None = None
    context: int | None = None
    stride: int | None = None
    seed: int = 0
    time_independent: bool = False
    device: str = "auto"
    out: str = "runs/latest"
    batch_size: int | None = None
    options: tuple[str, ...] = ()
    fvd: bool = True
    samples: int = 4
    fvd_protocol: str = "full"

    def __post_init__(self) -> None:
        if not self.samplers:
            raise MaskbenchError("no sampler given; pass --samplers mgm,fm,df,rdm")
        if not self.factors or any(f < 1 for f in self.factors):
            raise MaskbenchError(f"extrapolation factors must be integers >= 1, got {self.factors}")
        if self.videos < 1:
            raise MaskbenchError(f"--videos must be at least 1, got {self.videos}")
        if self.fvd and self.videos < 2:
            raise MaskbenchError("FVD needs at least 2 videos; raise --videos or pass --no-fvd")
        from maskbench.metrics.protocols import check_protocol

        check_protocol(self.fvd_protocol)
        if self.batch_size is not None and self.batch_size < 1:
            raise MaskbenchError(f"--batch-size must be at least 1, got {self.batch_size}")

    def explicit_options(self, sampler: str) -> set[str]:
        """Options the user set for ``sampler`` with ``--opt``."""
        return {pair.split("=", 1)[0].split(".", 1)[1] for pair in self.options if pair.startswith(f"{sampler}.")}
