"""Figures from result records: FVD against total NFE (paper Figure 3), FVD against steps (Figure 4)."""

from __future__ import annotations

from pathlib import Path

from maskbench.report.record import CellRecord


def fvd_vs_nfe(records: list[CellRecord], path: str | Path, title: str = "") -> None:
    """One line per sampler through its (NFE, FVD) points, each labelled with its factor."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 4), dpi=120)
    for sampler in sorted({r.sampler for r in records}):
        points = sorted((r.nfe, r.fvd, r.extrap) for r in records if r.sampler == sampler and r.fvd is not None)
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


def fvd_vs_steps(records: list[CellRecord], path: str | Path, title: str = "") -> None:
    """One panel per sampler: FVD of its cells against their steps per window (the ``steps`` option)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    measured = [r for r in records if r.fvd is not None and r.options.get("steps")]
    samplers = sorted({r.sampler for r in measured})
    panels = max(1, len(samplers))
    fig, axes = plt.subplots(1, panels, figsize=(4 * panels, 3.5), dpi=120, squeeze=False)
    for ax, sampler in zip(axes[0], samplers):
        points = sorted((r.options["steps"], r.fvd) for r in measured if r.sampler == sampler)
        ax.plot([p[0] for p in points], [p[1] for p in points], marker="o", label=f"{sampler}, generated")
        floors = {r.fvd_real_vs_real for r in measured if r.sampler == sampler}
        if len(floors) == 1 and None not in floors:  # one length and count: one real-vs-real FVD
            ax.axhline(floors.pop(), color="gray", linestyle="--", label="real vs real (same count)")
        ax.legend(fontsize=7)
        ax.set_xscale("log")
        ax.set_xticks([p[0] for p in points], [str(p[0]) for p in points])
        ax.minorticks_off()
        ax.set_xlabel(f"{sampler} steps per window (NFE of one window)")
        ax.set_ylabel("FVD (lower is better)")
        ax.grid(alpha=0.3)
    fig.suptitle(title or "FVD vs sampling steps")
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
