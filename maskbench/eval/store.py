"""Append-only JSONL of finished cells: a rerun skips them, a kill loses only the cell in progress."""

from __future__ import annotations

import json
import os
from pathlib import Path


class ResultStore:
    """``results.jsonl`` with one record per finished (sampler, extrapolation) cell."""

    def __init__(self, path: str | Path):
        self.path = Path(path)
        self.records: list[dict] = []
        if self.path.exists():
            self.records = [json.loads(line) for line in self._complete_lines()]

    def _complete_lines(self) -> list[str]:
        # A kill during a write can leave a partial last line: ignore it, the cell reruns.
        lines = self.path.read_text().splitlines()
        good = []
        for line in lines:
            try:
                json.loads(line)
                good.append(line)
            except json.JSONDecodeError:
                continue
        return good

    def has(self, key: str) -> bool:
        return any(record.get("key") == key for record in self.records)

    def append(self, record: dict) -> None:
        """Write one record durably (flush + fsync) before the next cell starts."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self.path.open("a") as handle:
            handle.write(json.dumps(record, sort_keys=True) + "\n")
            handle.flush()
            os.fsync(handle.fileno())
        self.records.append(record)
