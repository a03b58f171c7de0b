"""Results tables from the JSONL records: ``results.csv`` and the paper-style pivot ``results.md``."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

COLUMNS = ["sampler", "extrap", "length", "context", "stride", "nfe", "seconds_per_video", "fvd", "fvd_protocol", "n_fake",
           "n_real"]
FEW_VIDEOS = 256


def results_frame(records: list[dict]) -> pd.DataFrame:
    frame = pd.DataFrame([_with_protocol(r) for r in records])
    return frame[[c for c in COLUMNS if c in frame.columns]].sort_values(["sampler", "extrap"])


def _with_protocol(record: dict) -> dict:
    """Records written before protocols were named scored the whole rollout: ``full``."""
    if record.get("fvd") is not None and not record.get("fvd_protocol"):
        return {**record, "fvd_protocol": "full"}
    return record


def write_csv(records: list[dict], path: str | Path) -> None:
    results_frame(records).to_csv(path, index=False)


def pivot_markdown(records: list[dict]) -> str:
    """Rows sampler, columns extrapolation; each cell ``NFE / seconds per video / FVD`` (paper Table 5)."""
    frame = results_frame(records)
    frame["cell"] = frame.apply(_cell, axis=1)
    table = frame.pivot(index="sampler", columns="extrap", values="cell").fillna("-")
    table.columns = [f"{c}x" for c in table.columns]
    text = table.to_markdown(tablefmt="github")
    note = "Cells: counted NFE / sampling seconds per video / FVD (number of generated videos)."
    protocols = sorted(set(frame["fvd_protocol"].dropna())) if "fvd_protocol" in frame else []
    if protocols:
        note += f" FVD protocol: {', '.join(protocols)} (full: the whole rollout; center16: its 16 centre frames)."
    if (frame["n_fake"] < FEW_VIDEOS).any():
        note += (f" FVD from fewer than {FEW_VIDEOS} videos is biased and not comparable with published"
                 " numbers.")
    return f"{text}\n\n{note}\n"


def _cell(row: pd.Series) -> str:
    fvd = "n/a" if pd.isna(row.get("fvd")) else f"{row['fvd']:.1f}"
    return f"{int(row['nfe'])} / {row['seconds_per_video']:.2f}s / {fvd} ({int(row['n_fake'])})"


def write_markdown(records: list[dict], path: str | Path, header: str = "") -> None:
    Path(path).write_text(header + pivot_markdown(records))
