"""Append-only JSONL of finished cells: a rerun skips them (the batches of the cell in progress: bench/partial.py)."""

from __future__ import annotations

import fcntl
import json
import os
from pathlib import Path

from maskbench.core.errors import MaskbenchError
from maskbench.report.record import CellRecord


class ResultStore:
    """``results.jsonl`` with one :class:`CellRecord` per finished (sampler, extrapolation) cell; keys are unique.

    Lines of older schemas are upgraded as they are read (:meth:`CellRecord.from_json`); new ones are
    written in the current schema.
    """

    def __init__(self, path: str | Path):
        self.path = Path(path)
        self.records: list[CellRecord] = self._read()

    def _read(self) -> list[CellRecord]:
        if not self.path.exists():
            return []
        # A kill during a write can leave a partial last line: ignore it, the cell reruns.
        records = []
        for number, line in enumerate(self.path.read_text().splitlines(), 1):
            try:
                data = json.loads(line)
            except json.JSONDecodeError:
                continue
            try:
                records.append(CellRecord.from_json(data))
            except MaskbenchError as error:
                raise MaskbenchError(f"{self.path} line {number}: {error}") from None
        return records

    def has(self, key: str) -> bool:
        return any(record.key == key for record in self.records)

    def get(self, key: str) -> CellRecord | None:
        """The record of cell ``key``, or ``None``."""
        return next((record for record in self.records if record.key == key), None)

    def append(self, record: CellRecord) -> None:
        """Write one record durably (flush + fsync) before the next cell starts.

        The file is re-read under an exclusive lock first, so a key some other writer added meanwhile
        is refused rather than written twice.

        Raises:
            MaskbenchError: a record with this key is already in the file.
        """
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self.path.open("a") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)  # released when the handle closes
            self.records = self._read()
            if self.has(record.key):
                raise MaskbenchError(f"{self.path} already holds cell {record.key} ({record.sampler} "
                                     f"{record.extrap}x): another run wrote it; rerun to use it")
            handle.write(json.dumps(record.to_json(), sort_keys=True) + "\n")
            handle.flush()
            os.fsync(handle.fileno())
        self.records.append(record)


class OutLock:
    """An advisory lock (``fcntl``) on ``<out>/.maskbench.lock`` for the lifetime of one run.

    Another run into the same folder is refused with its pid, not left to compute every cell twice.
    The lock dies with its process, so a killed run never leaves a stale one behind.
    """

    NAME = ".maskbench.lock"

    def __init__(self, out: str | Path):
        self.path = Path(out) / self.NAME
        self._handle = None

    def __enter__(self) -> "OutLock":
        self.path.parent.mkdir(parents=True, exist_ok=True)
        handle = self.path.open("a+")
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.seek(0)
            holder = handle.read().strip() or "unknown pid"
            handle.close()
            raise MaskbenchError(f"{self.path.parent} is in use by another maskbench run ({holder}); wait for it to "
                                 "finish or choose another --out") from None
        handle.seek(0)
        handle.truncate()
        handle.write(f"pid {os.getpid()}")
        handle.flush()
        self._handle = handle
        return self

    def __exit__(self, *exc) -> None:
        if self._handle is not None:
            self._handle.truncate(0)
            self._handle.close()  # closing releases the lock
            self._handle = None
