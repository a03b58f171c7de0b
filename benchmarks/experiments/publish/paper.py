"""The MaskFlow paper's reported numbers (``benchmarks/experiments/paper.yaml``), matched to our cells.

A paper value stands beside one of our cells when every setting the paper states for it (sampler,
extrapolation, mode, masking, time dependence) equals the cell's; the data set never matches ours, so
the values are references, printed with their table and data set.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from maskbench.core.errors import MaskbenchError

SETTINGS = ("sampler", "extrap", "mode", "masking", "time_independent", "model_time_dependent")
METRICS = ("nfe", "seconds", "fvd")
PAPER_FILE = Path(__file__).resolve().parents[1] / "paper.yaml"


@dataclass(frozen=True)
class PaperValue:
    """One number set the paper reports: its table, data set, settings and metrics."""

    table: int
    dataset: str
    settings: dict = field(default_factory=dict)
    nfe: int | None = None
    seconds: float | None = None
    fvd: float | None = None
    note: str = ""

    def __post_init__(self) -> None:
        unknown = sorted(set(self.settings) - set(SETTINGS))
        if unknown:
            raise MaskbenchError(f"paper table {self.table}: unknown setting(s) {', '.join(unknown)}; "
                                 f"settings: {', '.join(SETTINGS)}")
        if all(getattr(self, m) is None for m in METRICS):
            raise MaskbenchError(f"paper table {self.table}: a value needs at least one of {', '.join(METRICS)}")

    def matches(self, row) -> bool:
        """Every setting equals the row's (a :class:`publish.measured.MeasuredCell`) attribute of that name."""
        return all(getattr(row, key) == value for key, value in self.settings.items())


@dataclass(frozen=True)
class PaperReference:
    """Every value of ``paper.yaml`` and the data sets they come from (name, videos, k, m, s)."""

    source: str
    datasets: dict
    values: tuple[PaperValue, ...]

    def __post_init__(self) -> None:
        unknown = sorted({v.dataset for v in self.values} - set(self.datasets))
        if unknown:
            raise MaskbenchError(f"paper values name undeclared data set(s) {', '.join(unknown)}")

    def beside(self, row, dataset: str, tables: tuple[int, ...]) -> list[PaperValue]:
        """The values of ``tables`` on ``dataset`` whose settings all equal the row's."""
        return [v for v in self.values if v.table in tables and v.dataset == dataset and v.matches(row)]


def load_paper(path: str | Path) -> PaperReference:
    """Read ``paper.yaml``; one-line errors for a missing or malformed file."""
    import yaml

    path = Path(path)
    if not path.is_file():
        raise MaskbenchError(f"paper reference file {path} does not exist; pass --paper {PAPER_FILE}")
    try:
        data = yaml.safe_load(path.read_text()) or {}
        values = tuple(_value(table, entry) for table in data.get("tables", []) for entry in table["values"])
        return PaperReference(str(data.get("source", "")), dict(data.get("datasets", {})), values)
    except (yaml.YAMLError, KeyError, TypeError, AttributeError) as error:
        raise MaskbenchError(f"{path} is not a paper reference file: {str(error).splitlines()[0]}") from None
    except MaskbenchError as error:
        raise MaskbenchError(f"{path}: {error}") from None


def _value(table: dict, entry: dict) -> PaperValue:
    merged = {**table.get("settings", {}), **entry}
    metrics = {m: merged.pop(m) for m in METRICS if m in merged}
    dataset, note = merged.pop("dataset"), str(merged.pop("note", ""))
    return PaperValue(int(table["table"]), str(dataset), merged, note=note, **metrics)


def paper_cell(values: list[PaperValue]) -> str:
    """``NFE / FVD (Tn, ...)``: equal numbers from several tables are printed once."""
    groups: dict[tuple, list[int]] = {}
    for v in values:
        groups.setdefault((v.nfe, v.fvd), []).append(v.table)
    parts = [f"{'-' if nfe is None else nfe} / {'-' if fvd is None else f'{fvd:.2f}'} "
             f"({', '.join(f'T{t}' for t in tables)})" for (nfe, fvd), tables in groups.items()]
    return "; ".join(parts) if parts else ""
