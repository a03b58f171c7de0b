"""maskbench: benchmark samplers of discrete (masked-token) video generation models."""

__version__ = "0.1.0"
