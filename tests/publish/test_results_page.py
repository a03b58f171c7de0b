"""Intervals, KVD, protocols and paired differences on the results page; grid-level pairs; collect of paired rows.

Fixtures are synthetic: records and I3D-sized features drawn with numpy, written as run folders.
"""

import json
import re
from pathlib import Path

import numpy as np
import pytest

from maskbench.bench import experiments, grid_pairs
from publish.collect import collect_runs
from maskbench.bench.experiments import Grid, Variant, run_grid
from maskbench.metrics.fvd import fvd_result
from maskbench.bench.grid_pairs import grid_pair_rows
from publish.measured import train_loss
from maskbench.bench.store import ResultStore
from maskbench.report.paired import paired_rows, real_file
from maskbench.report.record import CellRecord
from publish.paper import PAPER_FILE
from publish.results_page import write_results_page

ROOT = Path(__file__).resolve().parents[2]
N, D = 40, 400  # at least MIN_PAIRED_VIDEOS, so that a resolved difference can be called one


def feats(seed: int, shift: float = 0.0) -> np.ndarray:
    return np.random.default_rng(seed).normal(size=(N, D)) + shift


REAL, BASE = feats(0), feats(1)


def cell(sampler, extrap, key, fake, pairing="p", context=2, stride=14, options="Options(steps=20)"):
    """A finished cell of the current format: FVD with its interval, KVD, protocol and pairing."""
    stats = fvd_result(REAL, fake, 16, "full").record()
    stats = {k: v for k, v in stats.items() if k not in ("n_fake", "frames", "protocol")}
    from maskbench.samplers import registered_samplers

    return dict(key=key, sampler=sampler, extrap=extrap, length=16 * extrap, frames=16, context=context, stride=stride,
                nfe=20 * extrap, seconds_total=1.0, seconds_per_video=0.5, n_fake=len(fake), options=options, seed=0,
                finished=1.0, pairing=pairing, fvd_protocol="full", fvd_real_vs_real=40.0,
                sampler_revision=registered_samplers()[sampler].revision, **stats)


def old_cell(sampler, extrap, key, fvd, floor=None):
    """A cell as committed before intervals, KVD, protocol and pairing were recorded."""
    record = dict(key=key, sampler=sampler, extrap=extrap, length=16 * extrap, frames=16, context=2, stride=14,
                  nfe=20 * extrap, seconds_total=1.0, seconds_per_video=0.5, n_fake=N, n_real=N, fvd=fvd,
                  options="Options(steps=20)", seed=0, finished=1.0)
    return {**record, "fvd_real_vs_real": floor} if floor is not None else record


def write_run(folder: Path, cells: list[tuple[dict, np.ndarray | None]], extra: dict | None = None) -> list[dict]:
    """A variant's run folder: results.jsonl, run.json, the generated and real features of each cell."""
    (folder / "features").mkdir(parents=True, exist_ok=True)
    records = [record for record, _ in cells]
    (folder / "results.jsonl").write_text("".join(json.dumps(r) + "\n" for r in records))
    card = {"masking": "frame", "extra": extra or {}}
    (folder / "run.json").write_text(json.dumps({"config": {"model": None}, "model_card": card,
                                                 "machine": {"device": "cpu"}}))
    for record, fake in cells:
        if fake is not None:
            np.save(folder / "features" / f"{record['key']}.npy", fake)
            np.save(folder / "features" / real_file(CellRecord.from_json(record)), REAL)
    return records


def within_run_pairs(folder: Path, order: list[str]) -> list[dict]:
    """The run's own paired.jsonl, as maskbench run writes it."""
    records = ResultStore(folder / "results.jsonl").records

    def features(record):
        path = folder / "features" / f"{record.key}.npy"
        return np.load(path) if path.is_file() else None

    return paired_rows(records, order, features, lambda length: REAL, folder / "paired.jsonl")


@pytest.fixture
def two_variants(tmp_path):
    """A grid of two variants whose mgm and fm cells share contexts and seeds; v2 also has an unpaired cell."""
    root = tmp_path / "runs" / "g"
    v1 = write_run(root / "v1", [(cell("mgm", 2, "m1", BASE + 0.6), BASE + 0.6), (cell("fm", 2, "f1", BASE), BASE)])
    other = BASE + np.random.default_rng(7).normal(size=BASE.shape) * 0.05
    v2 = write_run(root / "v2", [(cell("mgm", 2, "m2", BASE + 0.1), BASE + 0.1), (cell("fm", 2, "f2", other), other),
                                 (cell("mgm", 2, "m3", BASE, pairing="other"), BASE)])
    return root, {r["key"]: r for r in v1 + v2}


def test_run_grid_writes_pairs_across_variants_with_equal_pairing(two_variants, monkeypatch, capsys):
    import maskbench.bench.run as run_module

    root, cells = two_variants
    grid = Grid("g", (Variant("v1"), Variant("v2")))
    monkeypatch.setattr(run_module, "run_benchmark", lambda config, reuse, **kw: Path(config.out))
    monkeypatch.setattr(experiments, "_preflight", lambda config: None)
    run_grid(grid, grid.configs(out=str(root)))
    rows = [json.loads(line) for line in (root / "paired.jsonl").read_text().splitlines()]
    assert [(r["a"], r["b"], r["variant_a"], r["variant_b"], r["key_a"], r["key_b"]) for r in rows] == [
        ("mgm", "mgm", "v1", "v2", "m1", "m2"), ("fm", "fm", "v1", "v2", "f1", "f2")]  # m3: another pairing
    for row in rows:
        expected = cells[row["key_a"]]["fvd"] - cells[row["key_b"]]["fvd"]
        assert abs(row["fvd_diff"] - expected) <= 1e-6 * max(1.0, abs(expected))
        assert row["fvd_low"] <= row["fvd_high"] and row["n"] == N
    assert rows[0]["fvd_resolved"] and rows[0]["fvd_diff"] > 0  # every mgm video of v1 moved by 0.5 more
    assert f"mgm (v1) - mgm (v2) at 2x ({N} paired videos): FVD +" in capsys.readouterr().out

    def not_again(*args, **kwargs):
        raise AssertionError("a pair already in paired.jsonl was computed again")

    monkeypatch.setattr(grid_pairs, "paired_row", not_again)
    assert grid_pair_rows(root, ["v1", "v2"]) == rows


def test_a_pair_without_kept_features_or_real_side_is_left_out(two_variants):
    root, _ = two_variants
    (root / "v2" / "features" / "f2.npy").unlink()
    for real in (root / "v1" / "features").glob("real-*.npy"):
        real.unlink()  # v2 still has the real side: found there
    rows = grid_pair_rows(root, ["v1", "v2", "not-run"])
    assert [(r["key_a"], r["key_b"]) for r in rows] == [("m1", "m2")]


def test_collect_copies_and_merges_paired_rows(two_variants, tmp_path):
    root, _ = two_variants
    within = within_run_pairs(root / "v1", ["mgm", "fm"])
    across = grid_pair_rows(root, ["v1", "v2"])
    results = tmp_path / "docs" / "results"
    stale = {**across[0], "key_a": "gone", "fvd_diff": 1.0}
    (results / "g").mkdir(parents=True)
    (results / "g" / "paired.jsonl").write_text(json.dumps(stale) + "\n" + json.dumps({**across[1], "fvd_diff": 9.0}) + "\n")
    collect_runs(tmp_path / "runs", results)
    read = lambda path: [json.loads(line) for line in path.read_text().splitlines()]  # noqa: E731
    assert read(results / "g" / "v1" / "paired.jsonl") == [json.loads(json.dumps(r, sort_keys=True)) for r in within]
    assert not (results / "g" / "v2" / "paired.jsonl").exists()  # v2's run computed no pair of its own here
    merged = read(results / "g" / "paired.jsonl")
    assert merged == [stale, *across]  # an earlier pair kept, the recomputed one replaced
    assert sorted(p.name for p in (results / "g" / "v1").iterdir()) == ["paired.jsonl", "results.jsonl", "run.json",
                                                                          "runs.jsonl"]


def test_collect_replaces_a_pair_written_the_other_way_round(two_variants, tmp_path):
    """``--samplers mgm`` after ``--samplers fm`` writes ``mgm - fm`` for the cells of an earlier ``fm - mgm``:
    the page must show the pair once (the newer row), not both signs of one difference."""
    root, _ = two_variants
    within = within_run_pairs(root / "v1", ["mgm", "fm"])
    results = tmp_path / "docs" / "results"
    (results / "g" / "v1").mkdir(parents=True)
    turned = [{**r, "a": r["b"], "b": r["a"], "key_a": r["key_b"], "key_b": r["key_a"], "fvd_diff": -r["fvd_diff"]}
              for r in within]
    (results / "g" / "v1" / "paired.jsonl").write_text("".join(json.dumps(r) + "\n" for r in turned))
    collect_runs(tmp_path / "runs", results)
    rows = [json.loads(line) for line in (results / "g" / "v1" / "paired.jsonl").read_text().splitlines()]
    assert [(r["key_a"], r["key_b"], r["fvd_diff"]) for r in rows] == [(r["key_a"], r["key_b"], r["fvd_diff"])
                                                                       for r in within]


def test_paired_table_reads_the_earlier_row_minus_the_later_whatever_order_the_run_wrote(tmp_path):
    """A queue that reruns ``--samplers fm`` after ``--samplers mgm`` rewrites the folder's pairs as ``fm - mgm``:
    the page's table must keep reading ``mgm - fm`` (its rows' order), with the difference and interval turned."""
    docs = tmp_path / "docs"
    variant = docs / "results" / "table1" / "frame-level"
    write_run(variant, [(cell("mgm", 2, "m2", BASE + 0.6), BASE + 0.6), (cell("fm", 2, "f2", BASE), BASE)])
    (row,) = within_run_pairs(variant, ["fm", "mgm"])
    assert (row["a"], row["b"]) == ("fm", "mgm") and row["fvd_diff"] < 0
    page = write_results_page(docs, ROOT / PAPER_FILE).read_text()
    difference = re.escape(f"{-row['fvd_diff']:+.2f} [{-row['fvd_high']:.2f}, {-row['fvd_low']:.2f}]")
    assert re.search(rf"\| mgm - fm +\| 2x +\| {N} +\| {difference}", page)
    assert "| fm - mgm" not in page


def test_paired_rows_follow_the_table_not_the_order_the_last_invocation_wrote(tmp_path):
    """An invocation that names ``df`` first rewrites the pairs as ``df - fm``, ``df - mgm``, ``fm - mgm``: the page
    lists them in the table's order (mgm, fm, df), each turned to read the earlier row minus the later."""
    docs = tmp_path / "docs"
    variant = docs / "results" / "table1" / "frame-level"
    shifted = {name: BASE + np.random.default_rng(seed).normal(size=BASE.shape) * 0.1 for name, seed in
               (("mgm", 1), ("fm", 2), ("df", 3))}
    write_run(variant, [(cell(name, 2, name[0], fake), fake) for name, fake in shifted.items()])
    written = within_run_pairs(variant, ["df", "fm", "mgm"])
    assert [(r["a"], r["b"]) for r in written] == [("df", "fm"), ("df", "mgm"), ("fm", "mgm")]
    page = write_results_page(docs, ROOT / PAPER_FILE).read_text()
    labels = re.findall(r"^\| (\w+ - \w+) +\| 2x", page, re.M)
    assert labels[:3] == ["mgm - fm", "mgm - df", "fm - df"]


def _invocation(started: str, threads: int) -> dict:
    return {"started": started, "machine": {"device": "cpu", "torch_threads": threads}, "argv": [f"threads {threads}"]}


def test_each_cell_has_the_facts_of_the_invocation_that_measured_it(tmp_path):
    """Two invocations into one folder (``--samplers mgm`` on 1 thread, then ``--samplers fm`` on 2): each cell's
    threads are its own invocation's, not those of the latest ``run.json``; collecting keeps both invocations,
    after the one an earlier collect left as ``run.json``."""
    from datetime import datetime

    from publish.collect import collect_runs
    from publish.measured import variant_rows

    folder = tmp_path / "runs" / "g" / "v"
    at = lambda text: datetime.fromisoformat(text).timestamp()  # noqa: E731
    write_run(folder, [({**cell("mgm", 2, "m", BASE), "finished": at("2026-01-01T01:00:00+00:00")}, BASE),
                       ({**cell("fm", 2, "f", BASE), "finished": at("2026-01-01T03:00:00+00:00")}, BASE)])
    runs = [_invocation("2026-01-01T00:00:00+00:00", 1), _invocation("2026-01-01T02:00:00+00:00", 2)]
    (folder / "runs.jsonl").write_text("".join(json.dumps(r) + "\n" for r in runs))
    (folder / "run.json").write_text(json.dumps(runs[1]))
    assert [(r.sampler, r.threads) for r in variant_rows(folder)] == [("mgm", 1), ("fm", 2)]
    results = tmp_path / "docs" / "results"
    earlier = _invocation("2025-12-01T00:00:00+00:00", 4)
    (results / "g" / "v").mkdir(parents=True)
    (results / "g" / "v" / "run.json").write_text(json.dumps(earlier))
    collect_runs(tmp_path / "runs", results)
    history = [json.loads(line) for line in (results / "g" / "v" / "runs.jsonl").read_text().splitlines()]
    assert history == [earlier, *runs] and json.loads((results / "g" / "v" / "run.json").read_text()) == runs[1]


def test_page_gives_interval_kvd_and_protocol_and_flags_old_cells(tmp_path):
    docs = tmp_path / "docs"
    variant = docs / "results" / "table1" / "frame-level"
    near = BASE + np.random.default_rng(5).normal(size=BASE.shape) * 1e-3
    records = write_run(variant, [(cell("mgm", 2, "m2", BASE + 0.6), BASE + 0.6), (cell("fm", 2, "f2", BASE), BASE),
                                  (cell("mgm", 3, "m3", near), near), (cell("fm", 3, "f3", BASE), BASE),
                                  (old_cell("mgm", 5, "m5", 812.5, floor=300.0), None),
                                  (old_cell("fm", 5, "f5", 700.25), None)],
                        extra={"loss_mean_last_100_steps": 9.5, "ce_mean_last_100_steps": 4.25, "steps": 10})
    pairs = {r["extrap"]: r for r in within_run_pairs(variant, ["mgm", "fm"])}
    assert sorted(pairs) == [2, 3] and pairs[2]["fvd_resolved"] and not pairs[3]["kvd_resolved"]
    page = write_results_page(docs, ROOT / PAPER_FILE).read_text()
    mgm = records[0]
    assert f"{mgm['fvd']:.2f} [{mgm['fvd_low']:.2f}, {mgm['fvd_high']:.2f}]" in page
    assert f"{mgm['kvd']:.2f} [{mgm['kvd_low']:.2f}, {mgm['kvd_high']:.2f}]" in page and "KVD [interval]" in page
    assert "FVD protocol: full (the whole rollout, as the paper) for 4 cells; not recorded for 2 cells" in page
    assert "812.50†‡" in page and "‡ no interval: measured before intervals were recorded" in page
    assert "Intervals: 95% basic bootstrap over videos (1000 resamples)" in page
    # the claims: paired differences where a paired row exists, the floor only for the old cells
    two, three, five = (line for line in page.splitlines() if line.startswith(("- Ours: 2x", "- Ours: 3x", "- Ours: 5x")))
    assert f"paired, MGM - FM over the same {N} contexts and seeds: FVD {pairs[2]['fvd_diff']:+.2f}" in two
    assert "FVD between two real sets" not in two and "resolved" in two and "not resolved" not in two.split("; KVD")[0]
    assert "paired, MGM - FM over the same" in three and "not resolved" in three
    assert "paired" not in five and "smaller than the FVD between two real sets of this size (300.00)" in five
    # the section's table of paired differences, and the training cross-entropy rather than the weighted loss
    assert re.search(rf"\| mgm - fm +\| 2x +\| {N} +\| \+[\d.]+ \[[\d.]+, [\d.]+\] resolved", page)
    assert "mean masked cross-entropy of the last 100: 4.25" in page and "9.50" not in page
    assert train_loss({"loss_mean_last_100_steps": 3.0}) == 3.0


def test_claim_across_variants_cites_the_grid_pair_turned_to_the_arms_order(tmp_path):
    runs = tmp_path / "runs" / "table2"
    write_run(runs / "full-sequence", [(cell("mgm", 2, "fs", BASE + 0.6), BASE + 0.6)])
    write_run(runs / "autoregressive", [(cell("mgm", 2, "ar", BASE, context=15, stride=1), BASE)])
    (row,) = grid_pair_rows(runs, ["full-sequence", "autoregressive"])  # full-sequence - autoregressive
    docs = tmp_path / "docs"
    collect_runs(tmp_path / "runs", docs / "results")
    page = write_results_page(docs, ROOT / PAPER_FILE).read_text()
    (claim,) = [line for line in page.splitlines() if line.startswith("- Ours: 2x")]
    # the page's arms read autoregressive - full-sequence: the grid row's difference and interval, turned round
    assert (f"paired, autoregressive MGM - full-sequence MGM over the same {N} contexts and seeds: FVD "
            f"{-row['fvd_diff']:+.2f} [{-row['fvd_high']:.2f}, {-row['fvd_low']:.2f}], resolved") in claim
    assert "mgm: `full-sequence` - `autoregressive`" in page  # the section's paired table


def test_table2_scored_beyond_the_context_has_its_own_section_pair_and_protocol(tmp_path):
    """The last16 grid's rows read as Table 2's arms, cite their own grid pair, name the protocol, and sit
    beside no paper number (the paper's are whole-rollout FVDs)."""
    runs = tmp_path / "runs" / "table2-last16"
    last16 = dict(fvd_protocol="last16")
    write_run(runs / "full-sequence", [({**cell("mgm", 2, "fs", BASE + 0.6), **last16}, BASE + 0.6)])
    write_run(runs / "autoregressive", [({**cell("mgm", 2, "ar", BASE, context=15, stride=1), **last16}, BASE)])
    (row,) = grid_pair_rows(runs, ["full-sequence", "autoregressive"])
    docs = tmp_path / "docs"
    collect_runs(tmp_path / "runs", docs / "results")
    page = write_results_page(docs, ROOT / PAPER_FILE).read_text()
    section = page.split("## Autoregressive against full-sequence sampling, scored beyond the context (ours)")[1]
    section = section.split("\n## ")[0]
    assert "FVD protocol: last16 (the last 16 frames, beyond the ground-truth context (ours))." in section
    assert "paper FFS" not in section and "mgm: `full-sequence` - `autoregressive`" in section
    discussion = page.split("### Autoregressive against full-sequence sampling, scored beyond the context (ours)")[1]
    (claim,) = [line for line in discussion.splitlines() if line.startswith("- Ours: 2x")]
    assert f"FVD {-row['fvd_diff']:+.2f}" in claim and "The paper reports" not in claim


def test_a_cell_sampled_over_several_invocations_has_its_seconds_flagged(tmp_path):
    docs = tmp_path / "docs"
    variant = docs / "results" / "table1" / "frame-level"
    write_run(variant, [({**cell("mgm", 2, "m2", BASE), "resumed_batches": 3}, BASE), (cell("fm", 2, "f2", BASE), BASE)])
    page = write_results_page(docs, ROOT / PAPER_FILE).read_text()
    mgm, fm = (line for line in page.splitlines() if line.startswith(("| mgm ", "| fm ")))
    assert "| 0.50§ " in mgm and "0.50§" not in fm
    assert "§ sampled over several invocations" in page


def test_a_stale_cell_is_marked_until_a_current_cell_of_its_place_supersedes_it(tmp_path):
    """A cell of an earlier sampler revision stays on the page, marked, while it is the only one of its place;
    once a current cell of the same place is in the files, the page shows that one alone."""
    from publish.current import current_rows, stale
    from publish.measured import load_grids

    from maskbench.samplers import registered_samplers

    now = registered_samplers()["mgm"].revision
    docs = tmp_path / "docs"
    variant = docs / "results" / "table1" / "frame-level"
    old_mgm = {**cell("mgm", 2, "old", BASE + 0.3), "sampler_revision": now - 1, "finished": 2.0}  # recorded later
    new_mgm = {**cell("mgm", 2, "new", BASE), "sampler_revision": now}
    write_run(variant, [(old_mgm, BASE + 0.3), (cell("fm", 2, "f2", BASE), BASE)])
    rows = load_grids(docs / "results")["table1"]
    assert [stale(r) for r in rows] == ["sampler", ""]
    assert current_rows(rows) == rows  # nothing supersedes the old MGM cell yet
    page = write_results_page(docs, ROOT / PAPER_FILE).read_text()
    assert re.search(r"\| mgm .*¶", page) and "¶ not a measurement of the current package" in page
    write_run(variant, [(old_mgm, BASE + 0.3), (new_mgm, BASE), (cell("fm", 2, "f2", BASE), BASE)])
    rows = load_grids(docs / "results")["table1"]
    assert [(r.key, r.sampler) for r in current_rows(rows)] == [("new", "mgm"), ("f2", "fm")]
    page = write_results_page(docs, ROOT / PAPER_FILE).read_text()
    assert not re.search(r"^\|.*¶", page, re.M) and "¶ not a measurement" not in page  # the prose may name the mark


def test_a_cell_of_an_earlier_shipped_model_is_stale():
    from types import SimpleNamespace

    from publish.current import stale

    shipped = {("frame", True): (8000, "vq-b"), ("frame", False): (8000, "vq-b")}
    row = lambda **kw: SimpleNamespace(**{"masking": "frame", "model_time_dependent": True, "train_steps": 8000,  # noqa: E731
                                          "tokenizer_identity": "vq-b", "sampler": "fm", "sampler_revision": 1, **kw})
    assert stale(row(), shipped, {"fm": 1}) == ""
    assert stale(row(train_steps=5400), shipped, {"fm": 1}) == "model"
    assert stale(row(tokenizer_identity="vq-a", sampler_revision=0), shipped, {"fm": 1}) == "model and sampler"
    assert stale(row(train_steps=None), shipped, {"fm": 1}) == ""  # the files cannot tell


def test_a_claim_does_not_compare_a_current_cell_with_a_stale_one(tmp_path):
    """MGM measured again with the current code beside an FM cell of an earlier model: no sentence weighs the two
    against each other; two stale cells are compared, marked."""
    from maskbench.samplers import registered_samplers

    from publish.claims import Arm, compare
    from publish.measured import load_grids

    now = registered_samplers()["mgm"].revision
    variant = tmp_path / "results" / "table1" / "frame-level"
    write_run(variant, [({**cell("mgm", 2, "m2", BASE + 0.3), "sampler_revision": now}, BASE + 0.3),
                        ({**cell("fm", 2, "f2", BASE), "sampler_revision": 0}, BASE),
                        ({**cell("mgm", 5, "m5", BASE), "sampler_revision": now - 1}, BASE),
                        ({**cell("fm", 5, "f5", BASE), "sampler_revision": 0}, BASE)])
    rows = load_grids(tmp_path / "results")["table1"]
    two, five = compare(rows, (Arm("MGM", {"sampler": "mgm"}), Arm("FM", {"sampler": "fm"})), ("extrap",))
    assert two == "2x: not compared yet: FM's cell measures an earlier model or sampler revision (¶), MGM's the current package."
    assert five.startswith("5x: MGM reaches FVD") and "¶ an earlier model or sampler revision" in five
