"""The embedded dataset: depth-guided first-person random walks through ViZDoom's ``my_way_home`` maze.

The stand-in for DMLab (README, "Data"): offline, deterministic for a seed, a few minutes on two
cores. Everything the renderer needs ships in the ``vizdoom`` wheel: the engine, the scenario and
the Freedoom IWAD whose textures the maze uses.

One video is one continuous walk of exactly ``frames`` frames, one game tic (1/35 s) per frame.
A walk that reaches the goal ends the episode early; it is then re-rendered from a seed derived
from (seed, video, attempt), so no video contains a cut.
"""

from __future__ import annotations

import contextlib
import multiprocessing as mp
import multiprocessing.util
import os
import shutil
import tempfile
import time
import weakref
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from einops import reduce

from maskbench.core.data import shards
from maskbench.core.data.frames import fit_square
from maskbench.core.errors import MaskbenchError

# Bump whenever the walk, the game settings or the frame geometry change: a dataset directory whose
# meta.json names another version is refused instead of being silently mixed with new shards.
RENDERER_VERSION = 1

SCENARIO = "my_way_home"

ASSET_LICENCE = (
    "Frames show textures of freedoom2.wad (Freedoom 0.13.0, per the WAD's FREEDOOM lump) and the map "
    "my_way_home.wad, both shipped in the vizdoom wheel. Freedoom: BSD 3-Clause licence, Copyright (c) "
    "Contributors to the Freedoom project (https://github.com/freedoom/freedoom/blob/master/COPYING.adoc; "
    "the wheel carries no licence file). Keep this notice with redistributed data. Engine: ViZDoom (MIT) "
    "with ZDoom parts under their own licences (https://zdoom.org/wiki/license)."
)

# 4:3 render resolutions the engine offers, smallest first.
_RESOLUTIONS = ((160, 120), (200, 150), (256, 192), (320, 240), (400, 300), (512, 384), (640, 480), (800, 600),
                (1024, 768), (1280, 960), (1400, 1050), (1600, 1200))

# The warm-up before frame 0 (not recorded) gets the walker up to speed and away from the spawn
# pose, so videos start mid-walk rather than from standstill.
_WARMUP_TICS = (20, 60)
_MAX_ATTEMPTS = 50


@dataclass(frozen=True)
class WalkConfig:
    """Constants of the random walk (angles in degrees per tic, depth in ViZDoom depth-buffer units).

    The depth buffer reads ~1-3 against a wall, ~10-30 across a room and up to ~90 down a corridor.

    Attributes:
        max_turn: turn-rate limit while walking; 4 deg/tic moves the 64-pixel view ~3.5 pixels a frame.
        escape_turn: turn rate while turning away from a wall (in place, so a faster turn is brief).
        noise_std: stationary std of the Ornstein-Uhlenbeck turn noise that makes the walk wander.
        noise_tics: correlation time of that noise: turns change smoothly over about this many tics.
        steer_gain: turn rate toward the depth-weighted centre of the open view (keeps to corridors).
        smoothing: fraction of the gap to the target turn rate closed each tic (a low-pass filter).
        near: centre depth under which the view counts as blocked: turn hard to the more open side.
        clear: centre depth at which a hard turn ends (hysteresis against left/right dithering).
        cruise: centre depth from which the walker moves at full speed.
        speed: forward input at full speed (ViZDoom saturates at 50, i.e. running; 25 is walking).
        min_speed: least forward input, a fraction of ``speed`` (0: a blocked walker turns in place).
    """

    max_turn: float = 4.0
    escape_turn: float = 7.0
    noise_std: float = 1.5
    noise_tics: float = 25.0
    steer_gain: float = 3.0
    smoothing: float = 0.2
    near: float = 6.0
    clear: float = 14.0
    cruise: float = 20.0
    speed: float = 30.0
    min_speed: float = 0.0


@dataclass
class _WalkState:
    turn: float = 0.0
    noise: float = 0.0
    commit: float = 0.0  # +1/-1 while turning away from a wall, 0 otherwise
    centre_depths: list[float] = field(default_factory=list)


def render_resolution(size: int) -> tuple[int, int]:
    """Engine resolution for ``size``-pixel videos: the smallest 4:3 mode at least 3x the size.

    A 3x supersampled area average (256x192 -> centre 192x192 -> 64x64 at ``size=64``) removes the
    aliasing of Doom's texture mapping at little cost (~700 fps a process versus ~1600 at 160x120).

    Returns:
        ``(width, height)``.
    """
    return next(((w, h) for w, h in _RESOLUTIONS if h >= 3 * size), _RESOLUTIONS[-1])


def video_seed(seed: int, video: int, attempt: int = 0) -> np.random.SeedSequence:
    """Seed of one video attempt, derived from (seed, video, attempt) only, never from the worker."""
    return np.random.SeedSequence([seed, video, attempt])


def make_game(size: int):
    """A headless ``my_way_home`` game set up for recording (one per process: it is not thread-safe).

    Returns:
        an initialised ``vizdoom.DoomGame``; close it with ``game.close()``.
    """
    import vizdoom as vzd  # heavy (engine .so): only the commands that render import it

    width, height = render_resolution(size)
    game = vzd.DoomGame()
    game.load_config(os.path.join(vzd.scenarios_path, f"{SCENARIO}.cfg"))
    game.set_screen_resolution(getattr(vzd.ScreenResolution, f"RES_{width}X{height}"))
    game.set_screen_format(vzd.ScreenFormat.RGB24)
    game.set_depth_buffer_enabled(True)
    game.set_window_visible(False)
    game.set_sound_enabled(False)
    for part in ("hud", "minimal_hud", "weapon", "crosshair", "messages", "screen_flashes", "decals", "particles"):
        getattr(game, f"set_render_{part}")(False)
    # Delta buttons take real values, which a smooth walk needs (the cfg's buttons are on/off).
    game.set_available_buttons([vzd.Button.TURN_LEFT_RIGHT_DELTA, vzd.Button.MOVE_FORWARD_BACKWARD_DELTA])
    game.set_available_game_variables([])
    game.set_episode_timeout(0)  # the walk decides the length; only the goal ends an episode
    game.set_mode(vzd.Mode.PLAYER)  # synchronous: the frame sequence depends on the seed alone
    game.add_game_args("+nomonsters 1")
    # The engine writes _vizdoom.ini and a _vizdoom/ folder into its working directory: give it a
    # private temporary one instead of the user's (removed when the game object goes away).
    engine_dir = tempfile.mkdtemp(prefix="maskbench-vizdoom-")
    game.set_doom_config_path(os.path.join(engine_dir, "_vizdoom.ini"))
    with _working_dir(engine_dir):  # the engine process inherits the cwd when init() launches it
        game.init()
    weakref.finalize(game, shutil.rmtree, engine_dir, ignore_errors=True)
    return game


@contextlib.contextmanager
def _working_dir(path: str):
    previous = os.getcwd()
    os.chdir(path)
    try:
        yield
    finally:
        os.chdir(previous)


def _depth_profile(depth: np.ndarray, bins: int = 16) -> np.ndarray:
    """Nearest obstacle at eye level, per column bin: ``[H, W]`` depth -> ``[bins]``."""
    h = depth.shape[0]
    band = depth[int(0.4 * h) : int(0.6 * h)].astype(np.float32)
    return reduce(band.min(axis=0), "(b w) -> b", "mean", b=bins)


def _step(state: _WalkState, depth: np.ndarray, cfg: WalkConfig, rng: np.random.Generator) -> list[float]:
    """One tic of the walk: update ``state`` from the depth buffer and return ``[turn, forward]``.

    Positive turn is to the right (ViZDoom's ``TURN_LEFT_RIGHT_DELTA`` convention).
    """
    profile = _depth_profile(depth)
    bins = len(profile)
    x = np.linspace(-1.0, 1.0, bins)
    centre = float(profile[bins // 2 - 2 : bins // 2 + 2].mean())
    state.centre_depths.append(centre)

    # Wandering: an Ornstein-Uhlenbeck process, so turns vary smoothly instead of jittering.
    decay = 1.0 / cfg.noise_tics
    state.noise += -decay * state.noise + cfg.noise_std * np.sqrt(2 * decay) * rng.standard_normal()
    # Steering toward where the view is open keeps the walker moving down corridors.
    open_weight = np.clip(profile - cfg.near, 0.0, None) ** 2
    steer = cfg.steer_gain * float((open_weight * x).sum() / (open_weight.sum() + 1e-6))
    target = steer + state.noise

    if state.commit == 0.0 and centre < cfg.near:
        left, right = profile[: bins // 2].mean(), profile[bins // 2 :].mean()
        state.commit = 1.0 if right > left else -1.0 if left > right else float(rng.choice([-1.0, 1.0]))
    elif state.commit != 0.0 and centre > cfg.clear:
        state.commit = 0.0
    if state.commit != 0.0:
        target = state.commit * cfg.escape_turn

    state.turn += cfg.smoothing * (target - state.turn)
    limit = cfg.escape_turn if state.commit else cfg.max_turn
    state.turn = float(np.clip(state.turn, -limit, limit))
    ease = np.clip((centre - cfg.near) / (cfg.cruise - cfg.near), cfg.min_speed, 1.0)
    return [state.turn, float(cfg.speed * ease)]


def _attempt(game, seeds: np.random.SeedSequence, frames: int, size: int, cfg: WalkConfig):
    """One walk; ``None`` when it reaches the goal before ``frames`` frames."""
    game_seed, walk_seed = seeds.spawn(2)
    rng = np.random.default_rng(walk_seed)
    game.set_seed(int(game_seed.generate_state(1)[0]))
    game.new_episode()
    state = _WalkState()
    # The spawn heading is one of a few map-defined angles; a random turn in one (unrecorded) tic
    # makes every heading equally likely.
    game.make_action([float(rng.uniform(-180.0, 180.0)), 0.0])
    out = np.empty((frames, size, size, 3), np.uint8)
    warmup = int(rng.integers(*_WARMUP_TICS))
    for t in range(-warmup, frames):
        if game.is_episode_finished():
            return None
        screen = game.get_state()
        if t >= 0:
            out[t] = fit_square(screen.screen_buffer, size)
        game.make_action(_step(state, screen.depth_buffer, cfg, rng))
    return out, np.asarray(state.centre_depths[warmup:], np.float32)


def render_video(game, seed: int, video: int, frames: int, size: int, cfg: WalkConfig = WalkConfig(),
                 with_depth: bool = False):
    """Render one video of the dataset.

    Args:
        game: from :func:`make_game` with the same ``size``.
        seed: dataset seed.
        video: index of the video in the dataset.
        frames: frames in the video.
        size: frame side in pixels.
        cfg: walk constants.
        with_depth: also return the centre depth the walker saw before each frame's action.

    Returns:
        uint8 ``[frames, size, size, 3]``, or with ``with_depth`` a pair (video, float32 ``[frames]``).
    """
    for attempt in range(_MAX_ATTEMPTS):
        result = _attempt(game, video_seed(seed, video, attempt), frames, size, cfg)
        if result is not None:
            return result if with_depth else result[0]
    raise MaskbenchError(f"video {video}: every one of {_MAX_ATTEMPTS} walks reached the goal within {frames} "
                         "frames; use fewer --frames")


# ---------------------------------------------------------------- parallel dataset rendering

_WORKER: dict = {}


def _worker_init(size: int, cfg: WalkConfig) -> None:
    # One game per process, reused across videos: init costs ~0.3 s, a video ~0.4 s. The engine is its
    # own executable: close it when the worker exits, or it outlives the pool as an orphan.
    game = make_game(size)
    multiprocessing.util.Finalize(game, game.close, exitpriority=10)
    _WORKER.update(game=game, size=size, cfg=cfg)


def _worker_render(job: tuple[int, int, int]) -> tuple[int, np.ndarray, float]:
    seed, video, frames = job
    start = time.perf_counter()
    out = render_video(_WORKER["game"], seed, video, frames, _WORKER["size"], _WORKER["cfg"])
    return video, out, time.perf_counter() - start


@dataclass(frozen=True)
class RenderResult:
    """What :func:`render_dataset` did.

    Attributes:
        path: the dataset directory.
        videos_rendered: videos rendered by this call (0 when the directory was complete).
        seconds: wall time of this call.
        fps_per_process: recorded frames per second of one process's busy time (unrecorded warm-up
            tics and retried walks count as cost); 0 when nothing was rendered.
    """

    path: Path
    videos_rendered: int
    seconds: float
    fps_per_process: float


def render_dataset(out_dir: str | os.PathLike, videos: int = 625, frames: int = 300, size: int = 64, seed: int = 0,
                   workers: int | None = None, test_fraction: float = 0.2, shard_videos: int = 25,
                   progress: bool = True) -> RenderResult:
    """Render the embedded ViZDoom dataset into ``out_dir`` (resumable; a complete directory is a no-op).

    Video ``i`` depends on ``(seed, i)`` only, so the bytes do not depend on ``workers``. Videos
    ``[0, n_train)`` form the train split and the rest the test split (videos are i.i.d., so a
    contiguous split is a random one). Each shard is written atomically; ``meta.json`` comes last.

    Args:
        out_dir: dataset directory (created).
        videos: number of videos.
        frames: frames per video.
        size: frame side in pixels.
        seed: dataset seed.
        workers: processes (one game each); default: all CPU cores.
        test_fraction: share of videos in the test split (rounded to a whole video).
        shard_videos: videos per shard file.
        progress: show a tqdm bar.

    Returns:
        :class:`RenderResult`.
    """
    plan = shards.plan_dataset(videos, frames, size, test_fraction, shard_videos)
    meta = shards.dataset_meta(plan, seed=seed, source=_source_meta(size))
    out = Path(out_dir)
    start = time.perf_counter()
    if shards.is_complete(out, meta):
        return RenderResult(out, 0, 0.0, 0.0)
    todo = shards.prepare_dir(out, meta)
    jobs = [(seed, v, frames) for s in todo for v in s.videos]
    busy = 0.0
    if jobs:  # none when an interrupted run had written every shard but not the final meta.json
        workers = max(1, min(workers or os.cpu_count() or 1, len(jobs)))
        busy = _render_jobs(out, todo, jobs, size, workers, progress)
    shards.finish_dir(out, meta)
    return RenderResult(out, len(jobs), time.perf_counter() - start, len(jobs) * frames / busy if busy else 0.0)


def _render_jobs(out: Path, todo: list, jobs: list, size: int, workers: int, progress: bool) -> float:
    """Render ``jobs`` and write the shards of ``todo`` as they complete; returns summed busy seconds."""
    from tqdm import tqdm

    pending = {s.name: {} for s in todo}
    owner = {v: s for s in todo for v in s.videos}
    busy = 0.0
    # spawn, not fork: the parent may hold torch/OpenMP threads, which fork does not survive well.
    ctx = mp.get_context("spawn")
    with ctx.Pool(workers, initializer=_worker_init, initargs=(size, WalkConfig())) as pool, \
            tqdm(total=len(jobs), unit="video", disable=None if progress else True, desc=f"vizdoom x{workers}") as bar:
        for video, array, seconds in pool.imap_unordered(_worker_render, jobs):
            busy += seconds
            s = owner[video]
            pending[s.name][video] = array
            if len(pending[s.name]) == len(s.videos):
                done = pending.pop(s.name)
                shards.write_shard(out / s.name, np.stack([done[v] for v in s.videos]))
            bar.update(1)
            bar.set_postfix(fps_per_proc=f"{bar.n * array.shape[0] / busy:.0f}")
        pool.close()  # let the workers exit (and close their games) instead of being terminated
        pool.join()
    return busy


def _source_meta(size: int) -> dict:
    import vizdoom as vzd

    return {"renderer": f"maskbench-vizdoom/{RENDERER_VERSION}", "vizdoom": vzd.__version__, "scenario": SCENARIO,
            "render_resolution": list(render_resolution(size)), "licence": ASSET_LICENCE}
