"""FVD against total NFE, every sampler across extrapolation factors (paper Figure 3)."""

from __future__ import annotations

from pathlib import Path


def fvd_vs_nfe(records: list[dict], path: str | Path, title: str = "") -> None:
    """One line per sampler through its (NFE, FVD) points, each labelled with its factor."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 4), dpi=120)
    for sampler in sorted({r["sampler"] for r in records}):
        points = sorted((r["nfe"], r["fvd"], r["extrap"]) for r in records if r["sampler"] == sampler and r.get("fvd") is not None)
        if not points:
            continue
        ax.plot([p[0] for p in points], [p[1] for p in points], marker="o", label=sampler)
        for nfe, fvd, factor in points:
            ax.annotate(f"{factor}x", (nfe, fvd), textcoords="offset points", xytext=(4, 4), fontsize=7)
    ax.set_xscale("log")
    ax.set_xlabel("total NFE per video (counted)")
    ax.set_ylabel("FVD (lower is better)")
    ax.set_title(title or "FVD vs NFE")
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
