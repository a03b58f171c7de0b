"""``maskbench fvd`` on rendered ViZDoom data: a sanity check that FVD measures what it should."""

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from maskbench.core.data import open_videos, random_windows
from maskbench.metrics.features import i3d_features
from maskbench.metrics.fvd import fvd_from_features

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def rendered(tmp_path_factory):
    from maskbench.core.data.vizdoom import render_dataset

    root = tmp_path_factory.mktemp("vizdoom")
    render_dataset(root / "a", videos=12, frames=24, size=64, seed=1, workers=2, progress=False)
    render_dataset(root / "b", videos=12, frames=24, size=64, seed=2, workers=2, progress=False)
    return root


def test_fvd_real_vs_real_small_and_vs_shuffled_large(rendered):
    a = random_windows(open_videos(rendered / "a"), 16, 12, seed=0)
    b = random_windows(open_videos(rendered / "b"), 16, 12, seed=0)
    # Every clip of the broken set is a sequence of unrelated frames (shuffled over time and videos).
    frames = b.reshape(-1, *b.shape[2:])
    shuffled = frames[np.random.default_rng(0).permutation(len(frames))].reshape(b.shape)
    fa, fb, fs = (i3d_features(x, progress=False) for x in (a, b, shuffled))
    same, broken = fvd_from_features(fa, fb), fvd_from_features(fa, fs)
    # With 12 clips per side the covariance terms dominate both values (FVD is strongly biased at this
    # size); measured here: ~1.2x between the two, with deterministic inputs.
    assert broken > 1.1 * same, (same, broken)
    mean_same, mean_broken = (float(((fa.mean(0) - f.mean(0)) ** 2).sum()) for f in (fb, fs))
    assert mean_broken > mean_same, (mean_same, mean_broken)


def test_cli_json(rendered):
    cmd = [sys.executable, "-m", "maskbench.cli", "fvd", "--real", str(rendered / "a"), "--fake", str(rendered / "b"),
           "--frames", "9", "--videos", "3", "--json"]
    result = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT, timeout=300)
    assert result.returncode == 0, result.stderr[-2000:]
    data = json.loads(result.stdout)
    assert data["n_real"] == 3 and data["n_fake"] == 3 and data["frames"] == 9 and data["fvd"] > 0
    assert data["protocol"] == "full" and data["position"] == "center"


def _smooth_videos(n: int, seed: int, frames: int = 9, size: int = 32) -> np.ndarray:
    """uint8 ``[n, frames, size, size, 3]``: coarse colour blobs drifting over time (not I3D-flat noise)."""
    rng = np.random.default_rng(seed)
    coarse = rng.uniform(0, 255, size=(n, 1, 4, 4, 3))
    drift = rng.normal(0, 25, size=(n, frames, 4, 4, 3)).cumsum(axis=1)
    small = np.clip(coarse + drift, 0, 255)
    return np.repeat(np.repeat(small, size // 4, axis=2), size // 4, axis=3).round().astype(np.uint8)


def _write_frame_folders(root: Path, videos: np.ndarray) -> Path:
    from PIL import Image

    for v, video in enumerate(videos):
        folder = root / f"video{v:02d}"
        folder.mkdir(parents=True)
        for t, frame in enumerate(video):
            Image.fromarray(frame).save(folder / f"{t}.png")
    return root


@pytest.fixture(scope="module")
def frame_sets(tmp_path_factory):
    """Two PNG-frame-folder sets of 4 videos (9 frames, 32x32, never 224) and their library features."""
    root = tmp_path_factory.mktemp("frames")
    real, fake = _smooth_videos(4, seed=1), _smooth_videos(4, seed=2)
    real[2:] = 255 - real[2:]  # a spread of content on the real side, so that its covariance is not tiny
    paths = _write_frame_folders(root / "real", real), _write_frame_folders(root / "fake", fake)
    return paths, (i3d_features(real, progress=False), i3d_features(fake, progress=False))


def test_cli_equals_library_on_each_video_once(frame_sets, capsys):
    from maskbench.cli import main

    (real_dir, fake_dir), (real, fake) = frame_sets
    assert main(["fvd", "--real", str(real_dir), "--fake", str(fake_dir), "--frames", "9", "--device", "cpu", "--json"]) == 0
    cli = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    library = fvd_from_features(real, fake)
    assert cli["n_real"] == cli["n_fake"] == 4 and cli["frames"] == 9
    assert cli["fvd"] == pytest.approx(library, rel=1e-4)
    # The equality is not vacuous: scoring one video twice, or leaving one out, moves FVD well past it.
    duplicated = fake.copy()
    duplicated[3] = fake[0]
    for changed in (fvd_from_features(real, duplicated), fvd_from_features(real, fake[:3])):
        assert abs(changed - library) > 0.01 * library, (changed, library)


def test_cli_rejects_the_removed_size_option(frame_sets, capsys):
    from maskbench.cli import main

    (real_dir, fake_dir), _ = frame_sets
    assert main(["fvd", "--real", str(real_dir), "--fake", str(fake_dir), "--size", "64"]) == 2
    err = capsys.readouterr().err.strip()
    assert "--size was removed" in err and len(err.splitlines()) == 1


def test_center16_needs_sixteen_frames(frame_sets, capsys):
    from maskbench.cli import main

    (real_dir, fake_dir), _ = frame_sets
    args = ["fvd", "--real", str(real_dir), "--fake", str(fake_dir), "--frames", "9", "--fvd-protocol", "center16"]
    assert main(args) == 2 and "center16 needs clips of at least 16 frames" in capsys.readouterr().err


def test_videos_shorter_than_frames_fail_in_one_line(frame_sets, capsys):
    from maskbench.cli import main

    (real_dir, fake_dir), _ = frame_sets
    assert main(["fvd", "--real", str(real_dir), "--fake", str(fake_dir), "--frames", "10"]) == 2
    err = capsys.readouterr().err.strip()
    assert "4 of 4 videos" in err and "fewer than 10 frames" in err and len(err.splitlines()) == 1


def test_cli_missing_fake_fails_before_any_feature(rendered):
    cmd = [sys.executable, "-m", "maskbench.cli", "fvd", "--real", str(rendered / "a"), "--fake", "/nonexistent"]
    result = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert result.returncode == 2 and "I3D" not in result.stderr and len(result.stderr.strip().splitlines()) == 1


def test_tokenizer_eval_writes_numbers_and_gif(rendered, tmp_path):
    from maskbench.tokenizers.evaluate import ReconstructionConfig, evaluate_reconstruction

    result = evaluate_reconstruction(ReconstructionConfig(str(rendered / "a"), str(tmp_path), videos=2, frames=9))
    assert result["psnr_db"] > 15 and result["reconstruction_fvd"] > 0 and result["videos"] == 2
    assert (tmp_path / "reconstruction.json").is_file() and (tmp_path / "reconstruction.gif").is_file()
