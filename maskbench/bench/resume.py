"""A rerun into a finished ``--out``: decided from the cell keys alone, before anything heavy is loaded."""

from __future__ import annotations

import json
from pathlib import Path

from maskbench.core.distributed import world
from maskbench.bench.context import DEFAULT_MODEL, Bench
from maskbench.bench.config import RunConfig, build_samplers
from maskbench.bench.store import ResultStore

REPORTED = "reports.json"  # the cell keys the reports in ``out`` were last written from


def finished_already(config: RunConfig, out: Path) -> bool:
    """Every cell of ``config`` is in ``out`` and its reports were written from exactly those cells.

    Decided from the cell keys alone (a light :class:`Bench`: model card and weights hash, tokenizer,
    opened data, no weights loaded, no contexts drawn), so a rerun of a finished run returns in seconds
    however many cells it has. Any doubt answers ``False``: the full path then skips finished cells anyway.
    """
    from maskbench.bench.run import cell_key  # run.py imports this module

    store = ResultStore(out / "results.jsonl")
    if not store.records or not (out / REPORTED).is_file() or not (out / "results.md").is_file():
        return False
    try:
        bench = light_bench(config)
        if bench is None:
            return False
        cells = [(name, factor) for factor in config.factors for name in config.samplers]
        keys = [cell_key(bench, name, factor) for name, factor in cells]
        reported = json.loads((out / REPORTED).read_text()).get("keys")
    except (AttributeError, KeyError, TypeError, ValueError):  # a key that needs more than the light bench
        return False
    if reported != keys or not all(store.has(key) for key in keys):
        return False
    from maskbench.bench.run import _say, _summary

    rank, _ = world()
    for i, key in enumerate(keys, 1):
        _say(rank, f"cell {i} of {len(keys)}: {_summary(store.get(key))} (done in an earlier run, skipped)")
    _say(rank, f"all {len(keys)} cells were finished in an earlier run; the reports in {out} are current")
    return True


class _KnownTokenizer:
    """Name and identity of a tokenizer, for keys only (no weights)."""

    def __init__(self, name: str, identity: str):
        self.name, self._identity = name, identity

    def identity(self) -> str:
        return self._identity


def light_bench(config: RunConfig) -> Bench | None:
    """What a cell's key needs, without the model's weights, the contexts or the real windows.

    ``None`` when the default data set is not rendered yet (then nothing can be finished).
    """
    from maskbench.core.checkpoint import read_card, weights_identity
    from maskbench.core.data import default_data_dir
    from maskbench.core.distributed import local_device
    from maskbench.tokenizers.base import get_tokenizer
    from maskbench.bench.context import _videos

    if config.data is None and not (default_data_dir() / "meta.json").is_file():
        return None
    device, model = local_device(config.device), config.model or DEFAULT_MODEL
    card = read_card(model)
    if config.tokenizer in (None, card.tokenizer) and config.tokenizer_path is None and card.tokenizer_identity:
        # prepare() refuses any other tokenizer than the card's, so its identity is the card's: no weights to load
        tokenizer = _KnownTokenizer(card.tokenizer, card.tokenizer_identity)
    else:
        tokenizer = get_tokenizer(config.tokenizer or card.tokenizer, config.tokenizer_path, device=device)
    return Bench(config=config, device=device, card=card, denoiser=None, tokenizer=tokenizer,
                 videos=_videos(config, card), frames=config.frames or card.frames, context=config.context or card.context,
                 stride=config.stride or card.stride, contexts={}, truth={}, samplers=build_samplers(config, card),
                 model_identity=weights_identity(model))
