"""Data: the ViZDoom renderer, the shard format, user folders and the one entry point.

CI renders only a few short videos (3 x 20 frames); the whole file runs in well under a minute.
"""

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

import vizdoom
from maskbench.core.data import VideoSet, default_data_dir, open_videos, random_windows
from maskbench.core.data import vizdoom as vd
from maskbench.core.data.shards import META, read_meta
from maskbench.core.errors import MaskbenchError

SMALL = dict(videos=3, frames=20, size=64, test_fraction=0.2, progress=False)


def _files(path: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(path.iterdir())}


@pytest.fixture(scope="module")
def rendered(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("vizdoom") / "seed0"
    result = vd.render_dataset(out, seed=0, workers=2, **SMALL)
    assert result.videos_rendered == 3 and result.fps_per_process > 0
    return out


# ---------------------------------------------------------------- renderer


def test_same_seed_same_bytes_whatever_the_workers(rendered, tmp_path):
    again = vd.render_dataset(tmp_path / "again", seed=0, workers=1, **SMALL)
    assert again.videos_rendered == 3
    assert _files(rendered) == _files(tmp_path / "again")


def _engines() -> set[int]:
    """Running ViZDoom engine processes (the executables the render workers start)."""
    found = set()
    for proc in Path("/proc").iterdir():
        try:
            if proc.name.isdigit() and b"vizdoom/vizdoom\x00" in (proc / "cmdline").read_bytes():
                found.add(int(proc.name))
        except OSError:
            continue
    return found


@pytest.mark.skipif(not Path("/proc").is_dir(), reason="reads /proc")
def test_render_leaves_no_engine_running(tmp_path):
    before = _engines()
    vd.render_dataset(tmp_path / "once", seed=0, workers=2, **SMALL)
    assert _engines() - before == set()


def test_different_seed_differs(rendered, tmp_path):
    vd.render_dataset(tmp_path / "seed1", seed=1, workers=1, **SMALL)
    a, b = open_videos(rendered), open_videos(tmp_path / "seed1")
    assert all(not np.array_equal(a[i], b[i]) for i in range(len(a)))


def test_layout_split_and_meta(rendered):
    meta = read_meta(rendered)
    assert meta["complete"] and meta["seed"] == 0 and meta["splits"] == {"train": 2, "test": 1}
    assert "Freedoom" in meta["source"]["licence"] and meta["source"]["vizdoom"] == vizdoom.__version__
    train, test, both = (open_videos(rendered, split=s) for s in ("train", "test", None))
    assert (len(train), len(test), len(both)) == (2, 1, 3)
    assert train[0].shape == (20, 64, 64, 3) and train[0].dtype == np.uint8
    np.testing.assert_array_equal(both[2], test[0])  # all = train then test, in video order


@pytest.fixture(scope="module")
def walks():
    """Two 100-frame walks with the centre depth the walker saw at each frame."""
    game = vd.make_game(64)
    try:
        yield [vd.render_video(game, seed=0, video=v, frames=100, size=64, with_depth=True) for v in (0, 1)]
    finally:
        game.close()


def test_the_walk_moves(walks):
    # Mean absolute difference of consecutive frames (0-255 scale): a still camera gives 0.0
    # (checked below); the 625 videos of the default set measured 3.6-23 (median 8.8) and these
    # 100-frame clips 9-11, so 2.0 separates "moving" from "stuck" with a margin on both sides.
    for video, _ in walks:
        step = np.abs(np.diff(video.astype(np.int16), axis=0)).mean()
        assert step > 2.0, step


def test_a_still_camera_is_still_so_the_threshold_means_something():
    still = vd.WalkConfig(max_turn=0.0, escape_turn=0.0, noise_std=0.0, steer_gain=0.0, speed=0.0)
    game = vd.make_game(64)
    try:
        video = vd.render_video(game, seed=0, video=0, frames=10, size=64, cfg=still)
    finally:
        game.close()
    assert np.abs(np.diff(video.astype(np.int16), axis=0)).mean() == 0.0


def test_the_walk_does_not_stare_at_walls(walks):
    cfg = vd.WalkConfig()
    for video, centre_depth in walks:
        # Blocked (a wall within ~60 map units ahead) only during brief escape turns: measured 0-15%.
        assert (centre_depth < cfg.near).mean() < 0.35
        # No blank or near-constant frames: a one-colour frame has std < 3, the lowest over all
        # 187,500 frames of the default set is 6.3 (a textured wall close-up).
        assert video.reshape(len(video), -1).std(axis=1).min() > 3.0


# ---------------------------------------------------------------- resume / no-op


def test_complete_directory_is_a_no_op(rendered):
    before = {p.name: p.stat().st_mtime_ns for p in rendered.iterdir()}
    assert vd.render_dataset(rendered, seed=0, workers=2, **SMALL).videos_rendered == 0
    assert before == {p.name: p.stat().st_mtime_ns for p in rendered.iterdir()}


def test_interrupted_run_resumes(rendered, tmp_path):
    partial = tmp_path / "partial"
    shutil.copytree(rendered, partial)
    (partial / "test-00000.npy").unlink()  # the shard in flight when the run was killed
    (partial / "test-00000.npy.tmp-123").write_bytes(b"half a shard")
    meta = read_meta(partial)
    meta["complete"] = False
    (partial / META).write_text(json.dumps(meta))
    with pytest.raises(MaskbenchError, match="unfinished"):
        open_videos(partial)
    assert vd.render_dataset(partial, seed=0, workers=1, **SMALL).videos_rendered == 1
    assert _files(partial) == _files(rendered)


def test_run_killed_before_the_final_meta_only_finishes(rendered, tmp_path):
    partial = tmp_path / "partial"
    shutil.copytree(rendered, partial)
    meta = read_meta(partial)
    (partial / META).write_text(json.dumps(dict(meta, complete=False)))
    assert vd.render_dataset(partial, seed=0, workers=1, **SMALL).videos_rendered == 0
    assert _files(partial) == _files(rendered)


def test_a_different_dataset_in_the_directory_is_refused(rendered):
    with pytest.raises(MaskbenchError, match="different dataset.*seed"):
        vd.render_dataset(rendered, seed=5, workers=1, **SMALL)


# ---------------------------------------------------------------- user folders


def _clip(frames: int, h: int, w: int, tint: int) -> np.ndarray:
    """Frames whose red channel encodes time (20 per frame) and whose green channel names the clip."""
    video = np.zeros((frames, h, w, 3), np.uint8)
    video[..., 0] = (20 * np.arange(frames, dtype=np.uint8))[:, None, None]
    video[..., 1] = tint
    return video


@pytest.fixture
def video_folder(tmp_path) -> Path:
    import imageio.v3 as iio

    root = tmp_path / "clips"
    (root / "class_a").mkdir(parents=True)
    iio.imwrite(root / "class_a" / "wide.mp4", _clip(12, 96, 128, 50), fps=10, codec="libx264", plugin="pyav")
    iio.imwrite(root / "tall.mp4", _clip(9, 120, 90, 150), fps=10, plugin="FFMPEG", macro_block_size=1)
    iio.imwrite(root / "anim.gif", _clip(6, 64, 64, 250), duration=100, loop=0)
    good = (root / "tall.mp4").read_bytes()
    (root / "truncated.mp4").write_bytes(good[: len(good) // 3])
    (root / "garbage.avi").write_bytes(np.random.default_rng(0).bytes(5000))
    (root / "notes.txt").write_text("not a video")
    return root


def test_folder_of_videos_skips_and_counts_unreadable(video_folder):
    with pytest.warns(UserWarning, match="skipped 2 unreadable of 5 videos"):
        videos = open_videos(video_folder, size=32)
    assert len(videos) == 3 and videos.skipped == 2
    assert [videos.num_frames(i) for i in range(3)] == [6, 12, 9]  # anim.gif, class_a/wide.mp4, tall.mp4
    for i, tint in enumerate((250, 50, 150)):
        video = videos[i]
        assert video.shape == (videos.num_frames(i), 32, 32, 3) and video.dtype == np.uint8
        red = video[..., 0].astype(float).mean(axis=(1, 2))
        np.testing.assert_allclose(red, 20 * np.arange(len(video)), atol=8)  # lossy codecs, frames in order
        assert abs(video[..., 1].mean() - tint) < 8


def test_folder_clip_reads_a_range(video_folder):
    with pytest.warns(UserWarning):
        videos = open_videos(video_folder, size=16)
    np.testing.assert_array_equal(videos.clip(1, 3, 7), videos[1][3:7])


def test_frame_folders(tmp_path):
    root = tmp_path / "ffs"
    for name, (n, h, w, ext) in {"vid_000": (12, 80, 60, "png"), "vid_001": (4, 48, 48, "jpg")}.items():
        (root / name).mkdir(parents=True)
        for t, frame in enumerate(_clip(n, h, w, 100)):
            Image.fromarray(frame).save(root / name / f"frame_{t}.{ext}")  # unpadded: frame_10 after frame_9
    videos = open_videos(root, size=24)
    assert len(videos) == 2 and [videos.num_frames(i) for i in range(2)] == [12, 4]
    video = videos[0]
    assert video.shape == (12, 24, 24, 3)
    np.testing.assert_array_equal(video[..., 0].mean(axis=(1, 2)), 20 * np.arange(12))


def test_folder_splits(tmp_path):
    for split in ("train", "test"):
        (tmp_path / split / "v").mkdir(parents=True)
        Image.fromarray(_clip(1, 8, 8, 0)[0]).save(tmp_path / split / "v" / "0.png")
    assert len(open_videos(tmp_path, split="train")) == 1 and len(open_videos(tmp_path)) == 2
    with pytest.raises(MaskbenchError, match="no 'val' sub-folder"):
        open_videos(tmp_path, split="val")


def test_missing_empty_and_unreadable_paths(tmp_path):
    for path, match in ((tmp_path / "nope", "no dataset at"), (tmp_path, "no readable video")):
        with pytest.raises(MaskbenchError, match=match) as err:
            open_videos(path)
        assert "\n" not in str(err.value)
    (tmp_path / "bad.mp4").write_bytes(b"\0" * 100)
    with pytest.raises(MaskbenchError, match="1 unreadable files"):
        open_videos(tmp_path)


# ---------------------------------------------------------------- entry point


def test_random_windows_are_deterministic_and_skip_short_videos(rendered, tmp_path):
    videos = open_videos(rendered)
    a = random_windows(videos, length=8, count=5, seed=3)
    assert a.shape == (5, 8, 64, 64, 3) and a.dtype == np.uint8
    np.testing.assert_array_equal(a, random_windows(videos, 8, 5, seed=3))
    assert not np.array_equal(a, random_windows(videos, 8, 5, seed=4))
    with pytest.raises(MaskbenchError, match="no video .* has 21 frames"):
        random_windows(videos, length=21, count=1, seed=0)

    root = tmp_path / "mixed"  # one 3-frame video, one 10-frame video: only the long one qualifies
    for name, n in (("short", 3), ("long", 10)):
        (root / name).mkdir(parents=True)
        for t, frame in enumerate(_clip(n, 8, 8, 0)):
            Image.fromarray(frame).save(root / name / f"{t}.png")
    windows = random_windows(open_videos(root, size=8), length=5, count=20, seed=0)
    starts = windows[:, 0, 0, 0, 0] // 20
    assert starts.max() <= 5 and np.all(windows[:, :, 0, 0, 0] == (starts[:, None] + np.arange(5)) * 20)


def test_video_id_is_stable_and_distinguishes(rendered):
    ids = {open_videos(rendered, size=s, split=p).video_id() for s in (64, 32) for p in (None, "train", "test")}
    assert len(ids) == 6
    assert open_videos(rendered).video_id() == open_videos(rendered).video_id()
    assert isinstance(open_videos(rendered), VideoSet)


def test_resized_read_of_shards(rendered):
    assert open_videos(rendered, size=32)[0].shape == (20, 32, 32, 3)


def test_default_data_dir(monkeypatch, tmp_path):
    monkeypatch.setenv("MASKBENCH_DATA", str(tmp_path))
    assert default_data_dir() == tmp_path
    monkeypatch.delenv("MASKBENCH_DATA")
    assert default_data_dir() == Path.home() / ".cache" / "maskbench" / "vizdoom"


def _numbered_frames(root: Path, lengths: dict[str, int], size: int = 8) -> Path:
    """Frame folders whose frame ``t`` of video ``v`` has red ``20 t`` and green ``40 v`` (readable back)."""
    for v, (name, n) in enumerate(lengths.items()):
        (root / name).mkdir(parents=True)
        for t, frame in enumerate(_clip(n, size, size, 40 * v)):
            Image.fromarray(frame).save(root / name / f"{t}.png")
    return root


def test_fixed_windows_use_every_video_once_at_the_stated_position(tmp_path):
    from maskbench.core.data import fixed_windows

    videos = open_videos(_numbered_frames(tmp_path / "set", {"a": 5, "b": 9, "c": 6, "d": 5}), size=8)
    for position, first_frames in (("first", [0, 0, 0, 0]), ("center", [0, 2, 1, 0])):  # F // 2 - 5 // 2
        windows = fixed_windows(videos, 5, position)
        assert windows.shape == (4, 5, 8, 8, 3)
        np.testing.assert_array_equal(windows[:, 0, 0, 0, 1] // 40, [0, 1, 2, 3])  # each video once, in order
        np.testing.assert_array_equal(windows[:, :, 0, 0, 0] // 20, np.add.outer(first_frames, np.arange(5)))
    random = fixed_windows(videos, 5, "random", seed=3)
    np.testing.assert_array_equal(random[:, 0, 0, 0, 1] // 40, [0, 1, 2, 3])
    np.testing.assert_array_equal(random, fixed_windows(videos, 5, "random", seed=3))
    subset = fixed_windows(videos, 5, count=3, seed=1)[:, 0, 0, 0, 1] // 40
    assert len(set(subset.tolist())) == 3 and list(subset) == sorted(subset)  # without replacement


def test_fixed_windows_refuse_short_videos_and_oversized_counts(tmp_path):
    from maskbench.core.data import fixed_windows

    videos = open_videos(_numbered_frames(tmp_path / "set", {"a": 5, "b": 9}), size=8)
    with pytest.raises(MaskbenchError, match="1 of 2 videos .* fewer than 6 frames"):
        fixed_windows(videos, 6)
    with pytest.raises(MaskbenchError, match="asked for 3 videos of a set of 2"):
        fixed_windows(videos, 5, count=3)
    with pytest.raises(MaskbenchError, match="unknown window position"):
        fixed_windows(videos, 5, "middle")


def test_size_none_reads_the_stored_resolution(tmp_path, rendered):
    videos = open_videos(_numbered_frames(tmp_path / "set", {"a": 3}, size=12), size=None)
    assert videos[0].shape == (3, 12, 12, 3) and "size=native" in videos.video_id()
    assert open_videos(rendered, size=None)[0].shape == (20, 64, 64, 3)
