"""Named FVD protocols: which frames are scored, and that the real-side cache keeps them apart."""

from types import SimpleNamespace

import numpy as np
import pytest

from maskbench.core.errors import MaskbenchError
from maskbench.metrics.protocols import check_protocol, protocol_clips, protocol_frames


def _timed(n: int, frames: int) -> np.ndarray:
    """uint8 ``[n, frames, 2, 2, 3]`` whose pixels hold the frame index."""
    return np.broadcast_to(np.arange(frames, dtype=np.uint8)[None, :, None, None, None], (n, frames, 2, 2, 3))


@pytest.mark.parametrize("frames, first", [(16, 0), (32, 8), (33, 8), (20, 2), (17, 0)])
def test_center16_is_the_authors_centre_clip(frames, first):
    # fvd_external.py: indices range(F // 2 - 8, F // 2 + 8) of the F frames.
    clips = protocol_clips(_timed(3, frames), "center16")
    assert clips.shape == (3, 16, 2, 2, 3)
    np.testing.assert_array_equal(clips[0, :, 0, 0, 0], np.arange(first, first + 16))


@pytest.mark.parametrize("frames", [16, 17, 32, 80])
def test_last16_is_the_end_of_the_clip_beyond_any_context(frames):
    # Table 2's autoregressive rollout starts from 15 ground-truth frames: at 2x (32 frames) the last 16 are
    # all generated, where center16 would still hold frames 8..14 of the context
    clips = protocol_clips(_timed(2, frames), "last16")
    assert clips.shape == (2, 16, 2, 2, 3) and protocol_frames("last16", frames) == 16
    np.testing.assert_array_equal(clips[1, :, 0, 0, 0], np.arange(frames - 16, frames))


def test_full_is_the_whole_clip():
    videos = _timed(2, 40)
    assert protocol_clips(videos, "full") is not None and np.array_equal(protocol_clips(videos, "full"), videos)
    assert protocol_frames("full", 40) == 40 and protocol_frames("center16", 40) == 16


def test_unknown_and_too_short_fail_in_one_line():
    with pytest.raises(MaskbenchError, match="unknown FVD protocol 'fvd16'"):
        check_protocol("fvd16")
    with pytest.raises(MaskbenchError, match="center16 needs clips of at least 16 frames, got 10"):
        protocol_clips(_timed(1, 10), "center16")
    with pytest.raises(MaskbenchError, match="last16 needs clips of at least 16 frames, got 12"):
        check_protocol("last16", 12)


def test_real_side_cache_is_keyed_by_protocol(tmp_path, monkeypatch):
    from maskbench.core.data import open_videos
    from maskbench.core.data.vizdoom import render_dataset
    from maskbench.bench import real
    from maskbench.metrics import features

    render_dataset(tmp_path / "data", videos=2, frames=20, size=16, seed=0, workers=1, progress=False)
    monkeypatch.setenv("MASKBENCH_CACHE", str(tmp_path / "cache"))
    seen = []

    def stand_in(clips, device=None):  # the I3D cost is not the point: record what it would see
        seen.append(clips.shape[1])
        return np.full((len(clips), 4), clips.shape[1], np.float32)

    monkeypatch.setattr(features, "i3d_features", stand_in)
    videos = open_videos(tmp_path / "data", size=16)
    got = {p: real.real_features(SimpleNamespace(config=SimpleNamespace(videos=2, seed=0, fvd_protocol=p),
                                                 videos=videos, device="cpu"), 20)
           for p in ("full", "center16")}
    assert seen == [20, 16] and got["full"][0, 0] == 20 and got["center16"][0, 0] == 16
    assert len(list((tmp_path / "cache" / "features").glob("*.npy"))) == 2


def test_grids_and_their_cli_override_set_the_protocol(tmp_path):
    from maskbench.bench.experiments import Grid, Variant

    grid = Grid("g", (Variant("paper", {}), Variant("authors", {"fvd_protocol": "center16"})))
    assert [c.fvd_protocol for _, c in grid.configs(tmp_path)] == ["full", "center16"]
    assert [c.fvd_protocol for _, c in grid.configs(tmp_path, fvd_protocol="center16")] == ["center16"] * 2
    with pytest.raises(MaskbenchError, match="unknown FVD protocol"):
        Variant("bad", {"fvd_protocol": "fvd16"}).config(tmp_path)


def test_tables_name_the_protocol_and_read_records_written_before_it(tmp_path):
    import pandas as pd

    import dataclasses

    from maskbench.report.record import CellRecord
    from maskbench.report.tables import pivot_markdown, write_csv

    old = CellRecord(key="a", sampler="mgm", extrap=2, length=32, frames=16, context=2, stride=14, nfe=40,
                     seconds_total=4.0, seconds_per_video=1.0, seed=0, finished=0.0, fvd=100.0, n_fake=4,
                     n_real=4)  # a results.jsonl record from before protocols were named
    new = dataclasses.replace(old, sampler="fm", fvd_protocol="center16")
    write_csv([old, new], tmp_path / "results.csv")
    frame = pd.read_csv(tmp_path / "results.csv")
    assert dict(zip(frame["sampler"], frame["fvd_protocol"])) == {"mgm": "full", "fm": "center16"}
    assert "FVD protocol: center16, full" in pivot_markdown([old, new])
