"""The kept batches of a cell in progress: saved whole, loaded only when they hold the numbers the rerun needs."""

import numpy as np
import pytest

from maskbench.bench.partial import BatchStore


def batch(index=3, videos=2, features=True, samples=1):
    return {"index": index, "nfe": 12, "seconds": 1.5, "videos": videos, "feature_seconds": 0.25, "wall": 2.0,
            "features": np.arange(videos * 400, dtype=np.float32).reshape(videos, 400) if features else None,
            "samples": np.full((samples, 4, 8, 8, 3), 7, dtype=np.uint8)}


def test_a_saved_batch_loads_as_it_was_marked_resumed(tmp_path):
    store = BatchStore(tmp_path, "key")
    store.save(batch())
    part = store.load(3, videos=2, features=True)
    assert part["resumed"] is True and (part["index"], part["nfe"], part["videos"]) == (3, 12, 2)
    assert (part["seconds"], part["feature_seconds"], part["wall"]) == (1.5, 0.25, 2.0)
    assert np.array_equal(part["features"], batch()["features"]) and np.array_equal(part["samples"], batch()["samples"])
    assert sorted(p.name for p in store.folder.iterdir()) == ["batch-00003.npz", "batch-00003.samples.npy"]  # no temporary file


def test_a_batch_whose_samples_file_is_gone_loads_with_its_numbers_and_no_samples(tmp_path):
    store = BatchStore(tmp_path, "key")
    store.save(batch())
    store.samples_path(3).unlink()  # a kept folder that travelled without its samples (they are not committed)
    part = store.load(3, videos=2, features=True)
    assert len(part["samples"]) == 0 and np.array_equal(part["features"], batch()["features"])
    store.save(batch(index=4, samples=0))
    assert not store.samples_path(4).exists() and len(store.load(4, videos=2, features=True)["samples"]) == 0


@pytest.mark.parametrize("need", [dict(videos=3, features=True),  # another batch size or count
                                  dict(videos=2, features=True, index=4)])  # another batch
def test_a_batch_that_does_not_hold_what_is_needed_is_computed_again(tmp_path, need):
    store = BatchStore(tmp_path, "key")
    store.save(batch())
    assert store.load(need.pop("index", 3), **need) is None


def test_a_batch_without_features_serves_a_run_without_fvd_only(tmp_path):
    store = BatchStore(tmp_path, "key")
    store.save(batch(features=False))
    assert store.load(3, videos=2, features=True) is None
    assert store.load(3, videos=2, features=False)["features"] is None


def test_a_corrupt_or_truncated_batch_is_computed_again(tmp_path):
    store = BatchStore(tmp_path, "key")
    store.save(batch())
    data = store.path(3).read_bytes()
    store.path(3).write_bytes(data[: len(data) // 2])
    assert store.load(3, videos=2, features=True) is None
    store.path(3).write_bytes(b"not a zip at all")
    assert store.load(3, videos=2, features=True) is None


def test_clear_removes_the_cell_and_an_empty_partial_folder_only(tmp_path):
    one, other = BatchStore(tmp_path, "one"), BatchStore(tmp_path, "other")
    one.save(batch())
    other.save(batch())
    one.clear()
    assert not one.folder.exists() and other.folder.exists()
    other.clear()
    assert not (tmp_path / "partial").exists() and tmp_path.exists()
