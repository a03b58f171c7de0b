"""The finished batches of a cell in progress: ``<out>/partial/<cell key>/batch-<index>.npz``.

A cell of a few hundred videos takes hours on a CPU, longer than a job, a session or a spot instance
may last. Each batch of a cell is a pure function of the cell's key and its index (its contexts are rows
``index * batch`` onwards of the cell's draw, its generator is seeded by the run's seed and ``index``), so
a batch kept by an earlier, interrupted invocation is the batch this one would compute (bitwise on the
same kind of processor; on another, whose kernels round differently, a near-tie in a token draw can go
the other way: an equally valid draw from the same contexts and seeds): a rerun into the
same ``--out`` loads it and samples only the batches that are missing. Files are written whole (a
temporary file, then a rename) and one that cannot be read is computed again. The folder is removed once
the cell's record is in ``results.jsonl``.
"""

from __future__ import annotations

import os
import shutil
import zipfile
from pathlib import Path

import numpy as np

PARTIAL = "partial"
_SCALARS = ("index", "nfe", "seconds", "videos", "feature_seconds", "wall")


class BatchStore:
    """The kept batches of one cell (``key``) under ``out``.

    A batch is the dict ``maskbench.bench.run`` builds: ``index``, ``nfe`` (model evaluations of the batch),
    ``seconds`` (sampling), ``videos``, ``features`` (``[videos, 400]`` or ``None`` without FVD),
    ``feature_seconds``, ``samples`` (decoded videos kept for the grids, possibly none; kept in a file of their
    own) and ``wall`` (the batch's whole wall time). A loaded one also has ``resumed`` = True.
    """

    def __init__(self, out: str | Path, key: str):
        self.folder = Path(out) / PARTIAL / key

    def path(self, index: int) -> Path:
        return self.folder / f"batch-{index:05d}.npz"

    def samples_path(self, index: int) -> Path:
        """The batch's decoded samples, apart from its numbers: they only illustrate, and a folder of kept batches
        can travel (committed, copied) without them."""
        return self.folder / f"batch-{index:05d}.samples.npy"

    def save(self, part: dict) -> None:
        """Keep one finished batch (atomically: a kill leaves the old state or the new one, never half a file)."""
        self.folder.mkdir(parents=True, exist_ok=True)
        if len(part["samples"]):
            temporary = self.samples_path(part["index"]).with_suffix(".tmp.npy")
            np.save(temporary, np.asarray(part["samples"]))
            os.replace(temporary, self.samples_path(part["index"]))
        arrays = {name: np.asarray(-1.0 if part[name] is None else part[name]) for name in _SCALARS}
        if part["features"] is not None:
            arrays["features"] = np.asarray(part["features"])
        temporary = self.path(part["index"]).with_suffix(".tmp.npz")
        np.savez_compressed(temporary, **arrays)
        os.replace(temporary, self.path(part["index"]))

    def load(self, index: int, videos: int, features: bool) -> dict | None:
        """Batch ``index`` as kept, or ``None`` when it was not kept, cannot be read, or does not hold what this
        invocation needs: ``videos`` rollouts, and their features when ``features``. Its samples are those kept
        beside it (none when that file is gone: the numbers do not depend on them)."""
        try:
            with np.load(self.path(index), allow_pickle=False) as data:
                part = {name: data[name].item() for name in _SCALARS}
                part["features"] = data["features"] if "features" in data.files else None
        except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile):
            return None
        if part["index"] != index or part["videos"] != videos:
            return None
        if features and (part["features"] is None or len(part["features"]) != videos):
            return None
        part["index"], part["nfe"], part["videos"] = int(part["index"]), int(part["nfe"]), int(part["videos"])
        part["feature_seconds"] = None if part["feature_seconds"] < 0 else part["feature_seconds"]
        return {**part, "samples": self._samples(index), "resumed": True}

    def _samples(self, index: int) -> np.ndarray:
        try:
            return np.load(self.samples_path(index), allow_pickle=False)
        except (OSError, ValueError, EOFError):
            return np.zeros((0,), dtype=np.uint8)

    def clear(self) -> None:
        """Remove the cell's kept batches (and ``partial/`` when no other cell has any)."""
        shutil.rmtree(self.folder, ignore_errors=True)
        try:
            self.folder.parent.rmdir()
        except OSError:
            pass
