"""Results tables from the JSONL records: ``results.csv`` and the paper-style pivot ``results.md``."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pandas as pd

from maskbench.metrics.protocols import SCORES
from maskbench.report.record import CellRecord

COLUMNS = ["sampler", "extrap", "length", "context", "stride", "nfe", "seconds_per_video", "fvd", "fvd_low", "fvd_high",
           "kvd", "kvd_low", "kvd_high", "fvd_real_vs_real", "fvd_protocol", "n_fake", "n_real", "ci_level", "ci_method",
           "ci_resamples"]
FEW_VIDEOS = 256


def results_frame(records: list[CellRecord]) -> pd.DataFrame:
    frame = pd.DataFrame([{c: getattr(_with_protocol(r), c) for c in COLUMNS} for r in records], columns=COLUMNS)
    return frame.sort_values(["sampler", "extrap"])


def _with_protocol(record: CellRecord) -> CellRecord:
    """Records written before protocols were named scored the whole rollout: ``full``."""
    if record.fvd is not None and not record.fvd_protocol:
        return dataclasses.replace(record, fvd_protocol="full")
    return record


def write_csv(records: list[CellRecord], path: str | Path) -> None:
    results_frame(records).to_csv(path, index=False)


def pivot_markdown(records: list[CellRecord]) -> str:
    """Rows sampler, columns extrapolation; each cell ``NFE / seconds per video / FVD [interval] / KVD [interval]``
    (paper Table 5)."""
    frame = results_frame(records)
    frame["cell"] = frame.apply(_cell, axis=1)
    table = frame.pivot(index="sampler", columns="extrap", values="cell").fillna("-")
    table.columns = [f"{c}x" for c in table.columns]
    text = table.to_markdown(tablefmt="github")
    note = ("Cells: counted NFE / sampling seconds per video / FVD [interval] / KVD [interval] (number of generated "
            "videos).")
    if frame["ci_level"].notna().any():
        row = frame[frame["ci_level"].notna()].iloc[0]
        note += (f" Intervals: {row['ci_level']:.0%} {row['ci_method']} bootstrap over videos ({int(row['ci_resamples'])}"
                 " resamples), for the distance at infinitely many videos: FVD is biased upwards by about D/N (D = 400"
                 " features), so at small N its interval can lie below the estimate; KVD is unbiased at any N.")
    protocols = sorted(set(frame["fvd_protocol"].dropna()))
    if protocols:
        scored = "; ".join(f"{name}: {frames}" for name, frames in SCORES.items())
        note += f" FVD protocol: {', '.join(protocols)} ({scored})."
    if (frame["n_fake"] < FEW_VIDEOS).any():
        note += (f" FVD from fewer than {FEW_VIDEOS} videos is biased and not comparable with published"
                 " numbers.")
    return f"{text}\n\n{note}\n"


def _cell(row: pd.Series) -> str:
    return f"{int(row['nfe'])} / {row['seconds_per_video']:.2f}s / {distance_text(row)} ({int(row['n_fake'])})"


def distance_text(row) -> str:
    """``553.0 [472.1, 501.3] / KVD 0.41 [0.30, 0.52]``; ``n/a`` without FVD; older records: FVD alone."""
    from maskbench.metrics.stats import interval_text

    value = row["fvd"]
    if not _present(value):
        return "n/a"
    text = f"{value:.1f}"
    if _present(row["ci_level"]):
        text += f" {interval_text(_float(row['fvd_low']), _float(row['fvd_high']))}"
    if _present(row["kvd"]):
        text += f" / KVD {row['kvd']:.2f} {interval_text(_float(row['kvd_low']), _float(row['kvd_high']), 2)}"
    return text


def _present(value) -> bool:
    return value is not None and not pd.isna(value)


def _float(value) -> float | None:
    return float(value) if _present(value) else None


def write_markdown(records: list[CellRecord], path: str | Path, header: str = "", footer: str = "") -> None:
    Path(path).write_text(header + pivot_markdown(records) + footer)
