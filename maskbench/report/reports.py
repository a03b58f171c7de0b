"""Everything a run writes after its cells: CSV, markdown pivot, FVD-vs-NFE plot, video grids."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from maskbench.core.media import video_grid, write_video
from maskbench.report.paired import paired_markdown, write_paired_csv
from maskbench.report.plots import fvd_vs_nfe
from maskbench.report.record import CellRecord, samples_path
from maskbench.report.tables import write_csv, write_markdown


def write_reports(out: Path, records: list[CellRecord], bench, paired: list[dict] = ()) -> None:
    """``results.csv``, ``results.md`` (with the paired differences), ``paired.csv``, the plot and the grids."""
    if not records:
        return
    write_csv(records, out / "results.csv")
    header = (f"# maskbench run\n\nModel `{bench.config.model or 'shipped default'}`, k={bench.frames}, "
              f"m={bench.context}, s={bench.stride}, seed {bench.config.seed}, device {bench.device}.\n\n")
    write_markdown(records, out / "results.md", header, paired_markdown(list(paired)))
    write_paired_csv(list(paired), out / "paired.csv")
    if any(r.fvd is not None for r in records):
        fvd_vs_nfe(records, out / "fvd_vs_nfe.png")
    for factor in sorted({r.extrap for r in records}):
        done = {r.sampler for r in records if r.extrap == factor}
        _grid(out, bench, factor, [name for name in bench.config.samplers if name in done])  # the order asked for


def _grid(out: Path, bench, factor: int, samplers: list[str]) -> None:
    """``grid_<x>x.gif``: ground truth, then one column per sampler; one row per kept video."""
    columns = [bench.truth[bench.plan(factor).length]]
    for name in samplers:
        path = samples_path(out, name, factor)
        if path.exists():
            columns.append(np.load(path))
    rows = min(len(c) for c in columns)
    if rows == 0:
        return
    # Native size: a grid of long rollouts upscaled 2x runs to tens of MB; viewers can scale it up.
    write_video(video_grid([c[:rows] for c in columns]), out / f"grid_{factor}x.gif", scale=1)
