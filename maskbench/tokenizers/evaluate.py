"""How good a tokenizer is on a data set: PSNR, codebook usage, reconstruction FVD and a GIF."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from maskbench.core.config import count, device_name, existing_path, positive_int, setting, split_name
from maskbench.metrics.protocols import PROTOCOL_HELP


@dataclass(frozen=True)
class ReconstructionConfig:
    """``maskbench tokenizer eval``: ``videos`` random clips of ``frames`` frames from ``split``."""

    data: str = setting(help="videos to reconstruct (e.g. data/vizdoom)", cli=dict(type=existing_path))
    out: str = setting(help="folder for reconstruction.json and reconstruction.gif")
    tokenizer: str = setting("vizdoom-vq", "tokenizer name")
    tokenizer_path: str | None = setting(None, "weights folder (default: the tokenizer's shipped weights)",
                                         cli=dict(type=existing_path))
    split: str = setting("test", "train, test or all", cli=dict(type=split_name))
    videos: int = setting(64, "clips for PSNR and FVD", cli=dict(type=positive_int))
    frames: int = setting(16, "frames per clip", cli=dict(type=positive_int))
    seed: int = setting(0, "seed of the clip draws", cli=dict(type=count))
    device: str = setting("auto", "auto, cpu, cuda, cuda:1, ...", cli=dict(type=device_name))
    fvd_protocol: str = setting("full", PROTOCOL_HELP)


def evaluate_reconstruction(config: ReconstructionConfig) -> dict:
    """Writes ``reconstruction.json`` and ``reconstruction.gif`` into ``config.out``; returns the numbers."""
    import json

    import numpy as np
    import torch  # here, not above: `maskbench --help` builds this config's flags

    from maskbench.core.data import open_videos, random_windows
    from maskbench.core.distributed import local_device
    from maskbench.tokenizers.train import evaluate_tokenizer, write_reconstruction_gif
    from maskbench.tokenizers.base import get_tokenizer
    from maskbench.metrics.features import i3d_features
    from maskbench.metrics.fvd import fvd_result
    from maskbench.metrics.protocols import check_protocol, protocol_clips, protocol_frames

    check_protocol(config.fvd_protocol, config.frames)
    device = local_device(config.device)
    tokenizer = get_tokenizer(config.tokenizer, config.tokenizer_path, device=device)
    videos = open_videos(config.data, split=config.split)
    real = random_windows(videos, config.frames, config.videos, seed=config.seed)
    with torch.inference_mode():
        recon = np.concatenate([tokenizer.decode(tokenizer.encode(torch.from_numpy(real[i : i + 8]))).cpu().numpy()
                                for i in range(0, len(real), 8)])
    result = evaluate_tokenizer(tokenizer, real.reshape(-1, *real.shape[2:]))
    real_feats, recon_feats = (i3d_features(protocol_clips(x, config.fvd_protocol), device=device) for x in (real, recon))
    fvd = fvd_result(real_feats, recon_feats, protocol_frames(config.fvd_protocol, config.frames), config.fvd_protocol)
    result.update(reconstruction_fvd=fvd.fvd, fvd=fvd.record())
    result.update(videos=config.videos, frames=config.frames, tokenizer=tokenizer.identity(), data=videos.video_id())
    out = Path(config.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "reconstruction.json").write_text(json.dumps(result, indent=2) + "\n")
    write_reconstruction_gif(tokenizer, videos, out / "reconstruction.gif", frames=config.frames, seed=config.seed)
    return result
