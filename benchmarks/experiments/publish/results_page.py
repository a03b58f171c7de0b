"""``docs/results.md``: the paper's tables and figures, regenerated from the committed results tree alone.

Inputs: ``<docs>/results/<grid>/<variant>/{results.jsonl,run.json,paired.jsonl}`` and the grid's
``<docs>/results/<grid>/paired.jsonl`` (see :mod:`publish.collect`), and the paper's reported values
(``benchmarks/experiments/paper.yaml``). Outputs: ``<docs>/results.md`` and its images in
``<docs>/results/``. No number on the page is typed in here.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from maskbench.metrics.stats import interval_text
from maskbench.report.paired import difference_text, turned
from maskbench.report.plots import fvd_vs_nfe, fvd_vs_steps
from maskbench.report.tables import FEW_VIDEOS

from publish.claims import Arm, compare, steps_sentences
from publish.current import WEIGHTS, current_rows, shipped_models, stale
from publish.collect import GIF_FACTOR, best_and_worst, gif_name
from publish.measured import MeasuredCell, load_grids, load_paired
from publish.paper import PaperReference, load_paper, paper_cell

DAGGER = "†"
NO_INTERVAL = "‡"  # an FVD measured before intervals were recorded
STALE = "¶"  # a cell of an earlier model or sampler revision, shown where no current cell has replaced it yet
RESUMED = "§"  # a cell sampled over several invocations: its seconds come from more than one run
PROTOCOLS = {"full": "the whole rollout, as the paper", "center16": "the 16 centre frames, as the authors' fvd16",
             "last16": "the last 16 frames, beyond the ground-truth context (ours)"}
HEADLINE = ("<!-- headline:start", "<!-- headline:end -->")  # the start marker is found by its prefix
START_LINE = "<!-- headline:start (benchmarks/experiments/results.py writes this block) -->"
READING_FILE = "discussion.yaml"  # beside paper.yaml
FIGURE3, FIGURE4 = "figure3_fvd_vs_nfe.png", "figure4_fvd_vs_steps.png"


@dataclass(frozen=True)
class Section:
    """One experiment grid on the page: its table's columns, the paper tables it mirrors, the claim it tests."""

    grid: str
    title: str
    claim: str
    columns: tuple[str, ...]
    paper_tables: tuple[int, ...] = ()
    arms: tuple[Arm, Arm] | None = None
    group: tuple[str, ...] = ("extrap",)
    also: tuple[tuple[Arm, Arm], ...] = ()  # further comparisons the claim rests on, one sentence per group each


TABLE2_CLAIM = "Autoregressive MGM (one new frame per window) improves FVD over full-sequence MGM at a higher NFE."
TABLE2_ARMS = (Arm("autoregressive MGM", {"mode": "autoregressive"}), Arm("full-sequence MGM", {"mode": "full-sequence"}))
SECTIONS = (
    Section("table1", "Samplers across extrapolation factors (paper Tables 1 and 5, Figure 3)",
            "MGM-style sampling keeps FM-style quality at a fraction of the NFE (and MaskFlow beats DF and RDM).",
            ("sampler", "extrap", "nfe", "seconds_per_video", "fvd", "kvd", "fvd_real_vs_real", "n_fake"), (1, 5),
            (Arm("MGM", {"sampler": "mgm"}), Arm("FM", {"sampler": "fm"})),
            also=((Arm("MGM", {"sampler": "mgm"}), Arm("DF", {"sampler": "df"})),
                  (Arm("MGM", {"sampler": "mgm"}), Arm("RDM", {"sampler": "rdm"})))),
    Section("table2", "Autoregressive against full-sequence sampling (paper Table 2)", TABLE2_CLAIM,
            ("variant", "extrap", "context", "stride", "nfe", "seconds_per_video", "fvd", "kvd", "fvd_real_vs_real",
             "n_fake"), (2, 7), TABLE2_ARMS),
    Section("table2-last16", "Autoregressive against full-sequence sampling, scored beyond the context (ours)",
            TABLE2_CLAIM + " Here FVD scores only the last 16 frames of each rollout, generated in both, where the "
            "paper's whole-rollout FVD also counts the autoregressive rollout's fifteen ground-truth context frames.",
            ("variant", "extrap", "context", "stride", "nfe", "fvd", "kvd", "fvd_real_vs_real", "n_fake"), (),
            TABLE2_ARMS),
    Section("table3", "Frame-level against constant masking (paper Table 3)",
            "Frame-level masking costs nothing at the training length and is what lets rollouts extrapolate.",
            ("variant", "masking", "sampler", "extrap", "nfe", "fvd", "kvd", "fvd_real_vs_real", "n_fake"), (3,),
            (Arm("frame-level masking", {"masking": "frame"}), Arm("constant masking", {"masking": "constant"})),
            ("sampler", "extrap")),
    Section("table4", "Timestep-dependent and timestep-independent models and sampling (paper Table 4)",
            "A timestep-dependent model sampled with t = 0 (eq. 8) needs no retraining and, with MGM, does best: "
            "better than MGM of a timestep-independent model.",
            ("variant", "sampler", "extrap", "model_time_dependent", "time_independent", "nfe", "fvd", "kvd",
             "fvd_real_vs_real", "n_fake"), (4,),
            (Arm("MGM of the timestep-dependent model", {"sampler": "mgm", "model_time_dependent": True}),
             Arm("MGM of the timestep-independent model", {"sampler": "mgm", "model_time_dependent": False})),
            also=((Arm("MGM of the timestep-dependent model (t = 0)", {"sampler": "mgm", "model_time_dependent": True}),
                   Arm("FM of the timestep-dependent model (per-frame t)", {"sampler": "fm", "model_time_dependent": True})),
                  (Arm("FM of the timestep-dependent model", {"sampler": "fm", "model_time_dependent": True}),
                   Arm("FM of the timestep-independent model", {"sampler": "fm", "model_time_dependent": False})))),
    Section("figure4", "FVD of one window against sampling steps (paper Figure 4)",
            "The paper's step counts for MGM and FM sit where FVD stops improving.",
            ("sampler", "steps", "nfe", "seconds_per_video", "fvd", "kvd", "fvd_real_vs_real", "n_fake")),
)
GENERIC = ("variant", "sampler", "extrap", "context", "stride", "steps", "nfe", "seconds_per_video", "fvd", "kvd",
           "fvd_real_vs_real", "n_fake")

COLUMNS = {
    "variant": ("variant", lambda r: r.variant),
    "sampler": ("sampler", lambda r: r.sampler),
    "extrap": ("extrap.", lambda r: f"{r.extrap}x"),
    "context": ("m", lambda r: str(r.context)),
    "stride": ("s", lambda r: str(r.stride)),
    "masking": ("training masking", lambda r: str(r.masking)),
    "steps": ("steps / window", lambda r: "-" if r.steps is None else str(r.steps)),
    "model_time_dependent": ("model trained with t", lambda r: "yes" if r.model_time_dependent else "no"),
    "time_independent": ("t given to the model", lambda r: "zeros (eq. 8)" if r.time_independent else "per frame"),
    "nfe": ("NFE (counted)", lambda r: str(r.nfe)),
    "seconds_per_video": ("s / video", lambda r: f"{r.seconds_per_video:.2f}" + (RESUMED if r.resumed_batches else "")),
    "fvd": ("FVD [interval]", lambda r: _fvd_cell(r)),
    "kvd": ("KVD [interval]", lambda r: _kvd_cell(r)),
    "fvd_real_vs_real": ("FVD real vs real", lambda r: "-" if r.fvd_real_vs_real is None else f"{r.fvd_real_vs_real:.2f}"),
    "n_fake": ("videos", lambda r: str(r.n_fake)),
}


def _few(row: MeasuredCell) -> bool:
    """An FVD from too few videos to compare with anything published."""
    return row.fvd is not None and row.n_fake < FEW_VIDEOS


def _old(row: MeasuredCell) -> bool:
    """An FVD measured before intervals (and KVD) were recorded."""
    return row.fvd is not None and row.ci_level is None


def _fvd_cell(row: MeasuredCell) -> str:
    """``61.23 [48.10, 70.02]``; ``[no interval]`` where too few videos allow none; old records: FVD alone, flagged."""
    if row.fvd is None:
        return "n/a"
    interval = "" if _old(row) else f" {interval_text(row.fvd_low, row.fvd_high, 2)}"
    marks = (DAGGER if _few(row) else "") + (NO_INTERVAL if _old(row) else "") + (STALE if stale(row) else "")
    return f"{row.fvd:.2f}{interval}{marks}"


def _kvd_cell(row: MeasuredCell) -> str:
    if row.fvd is None:
        return "n/a"
    if row.kvd is None:
        return "-"
    return f"{row.kvd:.2f} {interval_text(row.kvd_low, row.kvd_high, 2)}"


def write_results_page(docs: str | Path, paper_path: str | Path) -> Path:
    """Regenerate ``<docs>/results.md`` and its images from ``<docs>/results/`` and ``paper_path``."""
    docs = Path(docs)
    images = docs / "results"
    images.mkdir(parents=True, exist_ok=True)
    grids, paired, paper = _current_grids(images), load_paired(images), load_paper(paper_path)
    reading = load_reading(Path(paper_path).with_name(READING_FILE))
    sections = list(SECTIONS) + [Section(name, f"Experiment `{name}`", "", GENERIC)
                                 for name in grids if name not in {s.grid for s in SECTIONS}]
    figures = _figures(grids, images)
    body = [_section(s, grids.get(s.grid, []), paper, figures, images, paired.get(s.grid, [])) for s in sections]
    discussion = [_discussion(s, grids.get(s.grid, []), paper, paired.get(s.grid, [])) + _reading(reading, s.grid)
                  for s in sections]
    page = "\n".join([_header(paper), _setting(grids, reading), *body, "## Discussion\n", *filter(None, discussion)])
    (docs / "results.md").write_text(page)
    return docs / "results.md"


def _current_grids(root: Path) -> dict[str, list[MeasuredCell]]:
    """The grids' rows, each stale cell left out where a current cell of its place supersedes it."""
    return {name: current_rows(rows) for name, rows in load_grids(root).items()}


def load_reading(path: Path) -> dict:
    """Our reading of the results (``discussion.yaml``: ``setting`` and one text per grid), written by
    people next to the generated comparisons; it holds no measured numbers. Empty when absent."""
    import yaml

    data = yaml.safe_load(path.read_text()) if path.is_file() else None
    return data if isinstance(data, dict) else {}


def _reading(reading: dict, grid: str) -> str:
    text = (reading.get("grids") or {}).get(grid)
    return f"\nOur reading: {' '.join(str(text).split())}\n" if text else ""


def _setting(grids: dict, reading: dict) -> str:
    """What was measured on what, from the result files; then the written context, if any."""
    rows = [r for rows in grids.values() for r in rows]
    if not rows:
        return ""
    models = dict.fromkeys(_model(r) for r in rows)
    trained = "; ".join(models)
    machines = ", ".join(f"{d} ({n} thread{'s' if n != 1 else ''} per process)"
                         for d, n in dict.fromkeys((r.device, r.threads) for r in rows))
    counts = ", ".join(str(v) for v in sorted({r.n_fake for r in rows if r.fvd is not None}))
    text = (f"## Setting\n\nMeasured with the models shipped when the grids ran ({trained}), sampled on {machines}; "
            f"generated videos per FVD cell: {counts or 'none'}.{_current(grids)}{_shipped_since(rows)}"
            f"{_revised_since(rows)}\n")
    extra = reading.get("setting")
    return text + (f"\n{' '.join(str(extra).split())}\n" if extra else "")


def _model(row: MeasuredCell) -> str:
    """The model a cell measured, as the setting lists it: masking, time input, training, tokenizer; marked
    with the stale sign when the package now ships another model of that kind."""
    timed = "" if getattr(row, "model_time_dependent", True) else " without time input"
    earlier = f" ({STALE}, earlier model)" if "model" in stale(row) else ""
    return f"{row.masking} masking{timed}, {_trained(row.train_steps, row.train_loss)}, tokenizer `{row.tokenizer_identity or row.tokenizer}`{earlier}"


def _current(grids: dict) -> str:
    """Which grids every cell of which measures the shipped models and the installed samplers' code."""
    current = [name for name, rows in grids.items() if rows and not _shipped_since(rows) + _revised_since(rows)]
    if not current or len(current) == len(grids):
        return ""
    others = [name for name in grids if name not in current]
    return (f" Grids whose every cell measures the shipped models and the current code: {', '.join(current)}; "
            f"not yet: {', '.join(others)}.")


def _shipped_since(rows: list[MeasuredCell], weights: Path = WEIGHTS) -> str:
    """A sentence when the package now ships other models than the ones measured: another training length
    or another tokenizer (``weights``: the folder holding the shipped ``latte-*`` models)."""
    now = shipped_models(weights)  # (masking, trained with t) -> (training steps, tokenizer) of the shipped model
    measured = dict.fromkeys(((r.masking, getattr(r, "model_time_dependent", True)), (r.train_steps, r.tokenizer_identity))
                             for r in rows if r.train_steps is not None)
    changed = [f"{m} masking{'' if timed else ' without time input'}: {now[m, timed][0]} training steps on tokenizer "
               f"{now[m, timed][1]}" for (m, timed), was in measured if now.get((m, timed)) not in (None, was)]
    if not changed:
        return ""
    return (f" The package now ships other models ({'; '.join(changed)}); cells of the earlier ones "
            f"({STALE}) do not measure them until the grids are rerun.")


def _revised_since(rows: list[MeasuredCell], current: dict[str, int] | None = None) -> str:
    """A sentence when cells were measured by an earlier revision of a sampler's code than the installed one
    (``current``: name -> revision, default the registered samplers)."""
    if current is None:
        from maskbench.samplers import registered_samplers

        current = {name: cls.revision for name, cls in registered_samplers().items()}
    measured = dict.fromkeys((r.sampler, r.sampler_revision) for r in rows)
    old = [f"{name} (revision {was}, now {current[name]})" for name, was in measured
           if name in current and was < current[name]]
    if not old:
        return ""
    return (f" Cells of {', '.join(old)} were measured by an earlier revision of that sampler's code (its `revision` "
            f"note says what changed); those cells ({STALE}) do not measure the current code until the grids are rerun.")


def _trained(steps: int | None, loss: float | None) -> str:
    if steps is None:
        return "training length not recorded"
    return f"{steps} training steps" + (f" (mean masked cross-entropy of the last 100: {loss:.2f})"
                                          if loss is not None else "")


def update_readme(readme: str | Path, docs: str | Path, paper_path: str | Path) -> bool:
    """Replace the README's block between the ``HEADLINE`` markers with Table 1 and its paired differences as on
    the page.

    Returns ``False`` (and writes nothing) when the README has no such block.
    """
    readme = Path(readme)
    text = readme.read_text() if readme.is_file() else ""
    start, end = (text.find(marker) for marker in HEADLINE)
    if start < 0 or end < start:
        return False
    rows = _current_grids(Path(docs) / "results").get(SECTIONS[0].grid, [])
    paired = load_paired(Path(docs) / "results").get(SECTIONS[0].grid, [])
    table = ("\n".join(filter(None, [_table(SECTIONS[0], rows, load_paper(paper_path)), _paired_table(rows, paired)]))
             if rows else "Not yet measured.\n")
    counts = sorted({r.n_fake for r in rows})
    videos = str(counts[0]) if len(counts) == 1 else f"N` (N = {', '.join(map(str, counts))}: the videos column)"
    videos += "`" if len(counts) == 1 else ""
    source = (f"{_provenance(rows)}{_shipped_since(rows)}{_revised_since(rows)} Command: `maskbench experiment "
              f"benchmarks/experiments/{SECTIONS[0].grid}.yaml --videos {videos}, then "
              "`python benchmarks/experiments/results.py`." if rows else "No run yet.")
    block = f"{START_LINE}\n{SECTIONS[0].title}, from [`docs/results.md`](docs/results.md). {source}\n\n{table}"
    readme.write_text(text[:start] + block + text[end:])
    return True


def _header(paper: PaperReference) -> str:
    sets = ", ".join(f"{d['name']} ({d['videos']} videos)" for d in paper.datasets.values())
    return ("# Results against the MaskFlow paper\n\n"
            "Generated by `python benchmarks/experiments/results.py` from the result files under `docs/results/` (copied from "
            "`maskbench experiment` runs by `python benchmarks/experiments/results.py --collect`) and from the values the paper reports, "
            "`benchmarks/experiments/paper.yaml`. Do not edit by hand: rerun the command.\n\n"
            f"Paper columns are the paper's own numbers on its data sets ({sets}), models and hardware, printed "
            "where the settings it states equal ours (Tn = the paper's Table n); they are references, not our "
            f"measurements. {DAGGER} marks an FVD from fewer than {FEW_VIDEOS} generated videos: biased, not "
            "comparable with the paper's. *FVD real vs real* is the FVD between two independent sets of real "
            "videos of the same length and count: what sampling noise and small-sample bias alone give, the floor "
            "below which a model's FVD cannot be told from real data's at that count. FVD and KVD (kernel video "
            "distance, unbiased at any count) carry bootstrap intervals over videos where the cell recorded them "
            f"({NO_INTERVAL} marks an FVD measured before intervals were recorded). *Paired differences* compare cells "
            "that saw the same contexts and seeds, video by video; *resolved* means the difference's interval "
            "excludes 0 at the number of videos measured, otherwise the table says how many videos per cell would "
            "resolve it if the difference held.\n")


def _section(section: Section, rows: list[MeasuredCell], paper: PaperReference, figures: list, images: Path,
             paired: list[dict] = ()) -> str:
    head = f"## {section.title}\n\n" + (f"Paper's claim: {section.claim}\n\n" if section.claim else "")
    command = f"`maskbench experiment benchmarks/experiments/{section.grid}.yaml`"
    if not rows:
        return head + f"Not yet measured: run {command}, then `python benchmarks/experiments/results.py --collect runs/experiments`.\n"
    parts = [head + f"Reproduce: {command}. {_provenance(rows)} {_wall(rows)}\n", _table(section, rows, paper),
             _paired_table(rows, paired)]
    parts += [f"![{alt}](results/{name})\n" for grid, alt, name in figures if grid == section.grid]
    parts.append(_gif(section.grid, rows, images))
    return "\n".join(p for p in parts if p)


def _table(section: Section, rows: list[MeasuredCell], paper: PaperReference) -> str:
    frame = pd.DataFrame({COLUMNS[c][0]: [COLUMNS[c][1](r) for r in rows] for c in section.columns})
    for dataset in paper.datasets if section.paper_tables else []:
        cells = [paper_cell(paper.beside(r, dataset, section.paper_tables)) for r in rows]
        if any(cells):
            frame[f"paper {dataset}: NFE / FVD"] = cells
    notes = [f"{DAGGER} fewer than {FEW_VIDEOS} videos: not comparable."] if any(_few(r) for r in rows) else []
    notes += ["n/a: no FVD (the run passed --no-fvd)."] if any(r.fvd is None for r in rows) else []
    notes += _interval_notes(rows)
    if any(r.fvd is not None and stale(r) for r in rows):
        notes.append(f"{STALE} not a measurement of the current package: an earlier model or an earlier revision of "
                     "the sampler's code (no current cell of this place yet; rerun the grid).")
    if "seconds_per_video" in section.columns and any(r.resumed_batches for r in rows):
        notes.append(f"{RESUMED} sampled over several invocations (the cell resumed at its first missing batch): "
                     "its seconds per video mix the batches' own timings, possibly on other machines or loads.")
    notes += [f"T{v.table} {v.dataset} {v.settings.get('sampler', '')} {v.settings.get('extrap', '')}x: {v.note}."
              for v in paper.values if v.note and v.table in section.paper_tables]
    table = frame.to_markdown(index=False, tablefmt="github", disable_numparse=True) + "\n"
    return table + ("\n" + " ".join(notes) + "\n" if notes else "")


def _interval_notes(rows: list[MeasuredCell]) -> list[str]:
    """What the intervals are, which FVDs have none, and the FVD protocol of the measured cells."""
    notes = []
    new = [r for r in rows if r.fvd is not None and not _old(r)]
    if new:
        notes.append(f"Intervals: {new[0].ci_level:.0%} {new[0].ci_method} bootstrap over videos "
                     f"({new[0].ci_resamples} resamples), for the distance at infinitely many videos: FVD is biased "
                     "upwards by about D/N (D = 400 features), so at small N its interval can lie below the value; "
                     "KVD is unbiased and can be negative.")
    if any(_old(r) for r in rows):
        notes.append(f"{NO_INTERVAL} no interval: measured before intervals were recorded (no KVD either; a rerun of "
                     "the grid records both).")
    if any(r.fvd is not None for r in rows):
        notes.append(_protocol_note(rows))
    return notes


def _protocol_note(rows: list[MeasuredCell]) -> str:
    counts: dict = {}
    for r in rows:
        if r.fvd is not None:
            counts[r.fvd_protocol] = counts.get(r.fvd_protocol, 0) + 1
    if list(counts) == [None]:
        return "FVD protocol: not recorded (measured before protocols were recorded)."
    parts = [f"{name} ({PROTOCOLS.get(name, name)})" for name in counts if name is not None]
    if len(counts) > 1:
        parts = [f"{name} ({PROTOCOLS.get(name, name)}) for {_cells(n)}" if name else
                 f"not recorded for {_cells(n)} (measured before protocols were recorded)" for name, n in counts.items()]
    return f"FVD protocol: {'; '.join(parts)}."


def _paired_table(rows: list[MeasuredCell], paired: list[dict]) -> str:
    """The paired differences between the table's cells: across variants in the grid's order of variants (as
    computed), within a variant as the earlier row of the table minus the later one, whichever order the
    invocation that computed it named the samplers in (``--samplers fm`` after ``--samplers mgm`` writes
    ``fm - mgm``); by factor, then pairs within a variant before pairs across variants, each in the order of
    the table's rows (not the order the last invocation wrote them in)."""
    rank = {r.key: i for i, r in reversed(list(enumerate(rows)))}  # a key's first row
    shown = {}
    for p in paired:
        if p["key_a"] in rank and p["key_b"] in rank:
            p = turned(p) if "variant_a" not in p and rank[p["key_b"]] < rank[p["key_a"]] else p
            shown[p["key_a"], p["key_b"]] = p
    if not shown:
        return ""
    several = len({r.variant for r in rows}) > 1
    ordered = sorted(shown.values(), key=lambda p: (p["extrap"], "variant_a" in p, rank[p["key_a"]], rank[p["key_b"]]))
    frame = pd.DataFrame([{"paired difference": _pair_label(p, several), "extrap.": f"{p['extrap']}x",
                           "videos": str(p["n"]), "FVD difference [interval]": difference_text(p, "fvd", 2),
                           "KVD difference [interval]": difference_text(p, "kvd", 2)} for p in ordered])
    return ("Paired differences (cells that saw the same contexts and seeds, video by video; intervals resample the "
            "pairs jointly):\n\n" + frame.to_markdown(index=False, tablefmt="github", disable_numparse=True) +
            "\n\n*resolved*: the interval excludes 0 at this number of videos; *needs ~N*: about N videos per cell "
            "would resolve it, if the difference held; *needs >N*: the difference is so near zero that more than a hundred "
            "times the videos measured would be needed.\n")


def _pair_label(row: dict, several: bool) -> str:
    if "variant_a" in row:
        return f"{row['a']}: `{row['variant_a']}` - `{row['variant_b']}`"
    return f"{row['a']} - {row['b']}" + (f" (`{row['variant']}`)" if several and row.get("variant") else "")


def _provenance(rows: list[MeasuredCell]) -> str:
    """``Measured: `a`, `b`: model `m` (frame masking, N training steps) on cpu (2 cores) and cpu (AMD EPYC, 2
    cores).``: one clause per model, its variants and every machine its cells record, each once."""
    models: dict[tuple, tuple[dict, dict]] = {}  # dicts as ordered sets: first seen first
    for r in rows:
        trained = f", {r.train_steps} training steps" if r.train_steps is not None else ""
        names, machines = models.setdefault((r.model, r.masking + " masking" + trained), ({}, {}))
        names[f"`{r.variant}`"] = machines[_machine(r)] = None
    return "Measured: " + "; ".join(f"{', '.join(v)}: model `{m}` ({k}) on {' and '.join(d)}"
                                    for (m, k), (v, d) in models.items()) + "."


def _machine(row: MeasuredCell) -> str:
    """``cpu (AMD EPYC, 2 cores)``: the device, then its processor and core count where the run recorded them."""
    facts = [getattr(row, "processor", None), f"{row.cores} cores" if row.cores else None]
    facts = [fact for fact in facts if fact]
    return row.device + (f" ({', '.join(facts)})" if facts else "")


def _wall(rows: list[MeasuredCell]) -> str:
    """The grid's wall time here: its own cells (copies of other grids' identical cells cost nothing)."""
    own = [r for r in rows if r.reused_from is None]
    timed = [r.wall_seconds for r in own if r.wall_seconds is not None]
    text = f"Wall time: {sum(timed) / 60:.1f} min for the {_cells(len(timed))} measured in this grid" if timed else "Wall time"
    if len(timed) < len(own):
        text += f" ({'and ' if timed else 'not recorded: '}{_cells(len(own) - len(timed))} measured before wall time was recorded)"
    copied = len(rows) - len(own)
    return text + (f"; {_cells(copied)} copied from identical cells of other grids." if copied else ".")


def _cells(count: int) -> str:
    return f"{count} cell{'' if count == 1 else 's'}"


def _figures(grids: dict, images: Path) -> list[tuple[str, str, str]]:
    """Figure 3 from table1 (plus table2's autoregressive cells), Figure 4 from figure4; stale images removed."""
    links = []
    points = grids.get("table1", []) + [dataclasses.replace(r, sampler=f"{r.sampler} (autoregressive)")
                                        for r in grids.get("table2", []) if r.mode == "autoregressive"]
    if _plot(points, images / FIGURE3, fvd_vs_nfe, "FVD vs total NFE (paper Figure 3)"):
        links.append(("table1", "Figure 3: FVD against total NFE", FIGURE3))
    if _plot(grids.get("figure4", []), images / FIGURE4, fvd_vs_steps, "FVD of one window vs steps (paper Figure 4)"):
        links.append(("figure4", "Figure 4: FVD against steps", FIGURE4))
    return links


def _plot(records: list[MeasuredCell], path: Path, plot, title: str) -> bool:
    counts = sorted({r.n_fake for r in records if r.fvd is not None})
    if not counts:
        path.unlink(missing_ok=True)
        return False
    few = f" ({DAGGER} under {FEW_VIDEOS}: not comparable)" if counts[0] < FEW_VIDEOS else ""
    plot(records, path, f"{title}\n{' / '.join(map(str, counts))} generated videos per cell{few}")
    return True


def _gif(grid: str, rows: list[MeasuredCell], images: Path) -> str:
    pair = best_and_worst(rows, GIF_FACTOR)
    if not pair or not (images / grid / gif_name()).is_file():
        return ""
    best, worst = (f"{r.sampler} (`{r.variant}`, FVD {r.fvd:.2f}{STALE if stale(r) else ''})" for r in pair)
    return (f"![best and worst at {GIF_FACTOR}x](results/{grid}/{gif_name()})\n\n"
            f"Samples at {GIF_FACTOR}x (one video each, every other frame): left the lowest FVD, {best}; "
            f"right the highest, {worst}.\n")


def _discussion(section: Section, rows: list[MeasuredCell], paper: PaperReference, paired: list[dict] = ()) -> str:
    if not section.claim:
        return ""
    head = f"### {section.title}\n\nPaper: {section.claim}\n\n"
    if not rows:
        return head + "Ours: not yet measured.\n"
    if section.arms:
        sentences = [s for arms in (section.arms, *section.also)
                     for s in compare(rows, arms, section.group, paper, section.paper_tables, paired)]
    else:
        sentences = steps_sentences(rows, paired)
    if not sentences:
        sentences = ["no pair of cells to compare yet (one side of the comparison is not measured)."]
    return head + "\n".join(f"- Ours: {s}" for s in sentences) + "\n"
