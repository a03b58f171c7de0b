"""Experiment grids (``maskbench experiment``) and the results page built from them (``benchmarks/experiments/results.py``)."""

import json
import re
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
import yaml

from maskbench.bench.config import build_samplers
from maskbench.cli import main
from maskbench.core.errors import MaskbenchError
from maskbench.bench.experiments import load_grid
from publish.measured import load_grids
from results import main as results_main
from publish.results_page import READING_FILE, _machine, _provenance, load_reading
from publish.paper import PAPER_FILE, load_paper

ROOT = Path(__file__).resolve().parents[2]
GRIDS = sorted(p for p in (ROOT / "benchmarks" / "experiments").glob("*.yaml") if p.name not in {"paper.yaml", READING_FILE})
FRAMES, CONTEXT, STRIDE = 5, 1, 4  # the tiny model of conftest.py


@pytest.mark.parametrize("path", GRIDS, ids=lambda p: p.stem)
def test_shipped_grid_validates(path):
    grid = load_grid(path)
    assert grid.name == path.stem and grid.description
    for name, config in grid.configs():
        assert Path(config.out) == Path("runs/experiments") / grid.name / name
        assert set(build_samplers(config)) == set(config.samplers)


def test_shipped_grids_mirror_the_paper():
    grids = {p.stem: dict(load_grid(p).configs()) for p in GRIDS}
    assert set(grids) == {"table1", "table2", "table2-last16", "table3", "table4", "figure4"}
    (table1,) = grids["table1"].values()
    assert tuple(table1.samplers) == ("mgm", "fm", "df", "rdm") and table1.factors == (2, 5, 10)
    assert (grids["table2"]["autoregressive"].stride, grids["table2"]["autoregressive"].context) == (1, 15)
    last16 = grids["table2-last16"]  # Table 2's rows, scored on frames generated in both rollouts
    assert {n: (c.context, c.stride, c.fvd_protocol) for n, c in last16.items()} == {
        "full-sequence": (None, None, "last16"), "autoregressive": (15, 1, "last16")}
    assert grids["table3"]["constant"].model.endswith("maskbench/weights/latte-vizdoom-constant")
    table4 = grids["table4"]  # model time-dependent or not x sampling time-dependent or not: FM and MGM of each
    assert tuple(table4["time-dependent-model"].samplers) == ("fm", "mgm")
    assert tuple(table4["time-independent-model"].samplers) == ("fm", "mgm")
    assert table4["time-dependent-model"].model.endswith("maskbench/weights/latte-vizdoom-frame")
    assert table4["time-independent-model"].model.endswith("maskbench/weights/latte-vizdoom-frame-notime")
    steps = sorted(c.samplers["mgm"]["steps"] for c in grids["figure4"].values() if tuple(c.samplers) == ("mgm",))
    assert steps == [5, 10, 20, 50, 100]
    assert load_paper(ROOT / PAPER_FILE).values, "paper.yaml parses"


def test_the_gpu_script_and_the_cpu_queues_run_every_shipped_grid():
    """A grid added to benchmarks/experiments/ and forgotten by the scripts that measure the page is never measured."""
    gpu = (ROOT / "benchmarks" / "gpu" / "protocol.sh").read_text()
    (default,) = re.findall(r'^GRIDS=\$\{GRIDS:-"([^"]+)"\}', gpu, flags=re.M)
    queues = (ROOT / "benchmarks" / "experiments" / "cpu_queues.sh").read_text()
    queued = set(re.findall(r"^\s+run (\S+) ", queues, flags=re.M))
    assert set(default.split()) == {p.stem for p in GRIDS} == queued


def test_shipped_reading_is_prose_without_measured_numbers():
    reading = load_reading(ROOT / PAPER_FILE.with_name(READING_FILE))
    assert reading["setting"] and set(reading["grids"]) <= {"table1", "table2", "table2-last16", "table3", "table4",
                                                        "figure4"}
    text = " ".join([reading["setting"], *reading["grids"].values()])
    assert not re.findall(r"\d+\.\d+", text), "measured numbers come from the result files, not from prose"


def test_cell_filters_keep_only_the_asked_cells():
    grid = load_grid(ROOT / "benchmarks" / "experiments" / "table3.yaml")  # mgm, fm x 1, 2, 5 in two variants
    runs = dict(grid.configs(samplers=("fm", "df"), factors=(5, 2)))
    assert set(runs) == {"frame-level", "constant"}
    assert all(tuple(c.samplers) == ("fm",) and c.factors == (2, 5) for c in runs.values())  # the grid's order kept
    figure4 = dict(load_grid(ROOT / "benchmarks" / "experiments" / "figure4.yaml").configs(samplers=("fm",)))
    assert figure4 and all(name.startswith("fm-") for name in figure4)  # the MGM variants have no fm cell: dropped
    with pytest.raises(MaskbenchError, match="no variant has a cell"):
        grid.configs(factors=(10,))


@pytest.mark.parametrize(
    "text,fragment",
    [
        ("variants: {a: {}}\nbogus: 1\n", "unknown key(s) bogus"),
        ("variants: {a: {stepz: 3}}\n", "unknown field(s) stepz"),
        ("variants: {a: {videos: many}}\n", "videos must be int"),
        ("variants: {a: {factors: [2, x]}}\n", "factors must be"),
        ("variants: [a, b\n", "not valid YAML"),
        ("variants: {}\n", "no variants"),
        ("variants: {'a b': {}}\n", "folder name"),
        ("defaults: {options: 3}\nvariants: {a: {}}\n", "options must map"),
    ],
)
def test_bad_grid_is_a_one_line_error(tmp_path, text, fragment):
    path = tmp_path / "grid.yaml"
    path.write_text(text)
    with pytest.raises(MaskbenchError, match=re.escape(fragment)):
        load_grid(path)


def test_bad_grid_via_cli_exits_2_without_traceback(tmp_path):
    (tmp_path / "bad.yaml").write_text("variants: {a: {stepz: 3}}\n")
    for grid in (tmp_path / "bad.yaml", tmp_path / "missing.yaml"):
        result = subprocess.run([sys.executable, "-m", "maskbench.cli", "experiment", str(grid)], capture_output=True,
                                text=True, cwd=ROOT, timeout=120)
        lines = result.stderr.strip().splitlines()
        assert result.returncode == 2 and "Traceback" not in result.stderr
        assert len(lines) == 1 and str(grid.name) in lines[0], result.stderr


def test_missing_model_fails_before_any_work(tmp_path, capsys):
    grid = tmp_path / "g.yaml"
    grid.write_text(f"variants:\n  ok: {{}}\n  later: {{model: {tmp_path / 'not-trained-yet'}}}\n")
    assert main(["experiment", str(grid), "--no-fvd", "--out", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "does not exist yet" in err and "--variants ok" in err
    assert not (tmp_path / "out").exists()


# --- end to end on the tiny model, tokenizer and data of conftest.py's `assets` -------------------------


def tiny_grid(assets, path):
    defaults = dict(model=str(assets / "model"), tokenizer="vqgan", tokenizer_path=str(assets / "vq"),
                    data=str(assets / "data"), split="all", samplers=["mgm"], factors=[2], videos=2, batch_size=2,
                    options={"mgm.steps": 2})
    variants = {"full-sequence": {}, "autoregressive": {"context": FRAMES - 1, "stride": 1}}
    path.write_text(yaml.safe_dump({"name": "tiny", "description": "two variants", "defaults": defaults,
                                    "variants": variants}))
    return path


@pytest.fixture(scope="module")
def experiment(assets, tmp_path_factory):
    root = tmp_path_factory.mktemp("experiment")
    args = ["experiment", str(tiny_grid(assets, root / "tiny.yaml")), "--no-fvd", "--out", str(root / "runs" / "tiny")]
    assert main(args) == 0
    return root, args


def records(folder):
    return [json.loads(line) for line in (folder / "results.jsonl").read_text().splitlines()]


def test_experiment_runs_every_variant_into_its_folder(experiment):
    root, _ = experiment
    full, auto = (records(root / "runs" / "tiny" / v) for v in ("full-sequence", "autoregressive"))
    assert len(full) == len(auto) == 1
    # L = 10: full sequence ceil((10 - 5) / 4) + 1 = 3 windows, autoregressive (10 - 4) / 1 = 6 windows, 2 steps each
    assert (full[0]["nfe"], full[0]["stride"]) == (3 * 2, STRIDE)
    assert (auto[0]["nfe"], auto[0]["stride"], auto[0]["context"]) == (6 * 2, 1, FRAMES - 1)
    assert full[0]["fvd"] is None and full[0]["n_fake"] == 2
    assert (root / "runs" / "tiny" / "autoregressive" / "run.json").is_file()


def test_a_variants_estimate_is_at_its_grids_size_and_the_grid_sums_them(experiment, capsys):
    """Not the paper's 625 videos at 2, 5, 10x: the grid's own videos and factors (here 2 videos, 2x)."""
    from maskbench.bench.experiments import _say_grid_estimate, load_grid

    root, _ = experiment
    outs = [root / "runs" / "tiny" / v for v in ("full-sequence", "autoregressive")]
    estimates = [json.loads((out / "estimate.json").read_text()) for out in outs]
    assert [(e["videos"], e["factors"], e["label"]) for e in estimates] == [(2, [2], "this variant at its grid's size")] * 2
    assert all(e["sampling_s"] > 0 for e in estimates)
    _say_grid_estimate(load_grid(root / "tiny.yaml"), outs)
    assert "tiny at its own size, summed over the 2 variant(s) run, would take about" in capsys.readouterr().out


def test_experiment_rerun_skips_finished_cells(experiment, capsys):
    root, args = experiment
    before = [(root / "runs" / "tiny" / v / "results.jsonl").read_text() for v in ("full-sequence", "autoregressive")]
    capsys.readouterr()
    assert main(args) == 0
    assert capsys.readouterr().out.count("skipped") == 2
    after = [(root / "runs" / "tiny" / v / "results.jsonl").read_text() for v in ("full-sequence", "autoregressive")]
    assert after == before


def test_identical_cell_of_another_grid_is_copied_not_rerun(experiment, assets, capsys):
    root, _ = experiment
    other = yaml.safe_load(tiny_grid(assets, root / "tiny.yaml").read_text())
    other["variants"] = {"same": {}, "more-steps": {"options": {"mgm.steps": 3}}}
    (root / "again.yaml").write_text(yaml.safe_dump({**other, "name": "again"}))
    capsys.readouterr()
    assert main(["experiment", str(root / "again.yaml"), "--no-fvd", "--out", str(root / "runs" / "again")]) == 0
    assert capsys.readouterr().out.count("copied") == 1
    (original,), (same,), (more,) = (records(root / "runs" / g / v) for g, v in
                                     (("tiny", "full-sequence"), ("again", "same"), ("again", "more-steps")))
    assert same == {**original, "reused_from": str(root / "runs" / "tiny" / "full-sequence")}
    assert "reused_from" not in more and more["nfe"] == 3 * 3  # a different option is a different cell
    assert (root / "runs" / "again" / "same" / "samples" / "mgm-2x.npy").is_file()


def test_collect_then_results_page_from_a_real_experiment(experiment, tmp_path):
    root, _ = experiment
    assert results_main(["--collect", str(root / "runs"), "--docs", str(tmp_path / "docs")]) == 0
    copied = tmp_path / "docs" / "results" / "tiny" / "autoregressive"
    assert sorted(p.name for p in copied.iterdir()) == ["results.jsonl", "run.json", "runs.jsonl"]
    page = (tmp_path / "docs" / "results.md").read_text()
    assert "Experiment `tiny`" in page and "| autoregressive" in page
    assert page.count("Not yet measured") == 6  # none of the paper's grids (and table2-last16) ran here


# --- the results page from a fabricated results tree ---------------------------------------------------

def record(sampler, extrap, nfe, fvd, videos, frames=16, context=2, stride=14, options=None):
    """A cell of the installed sampler code (its current revision)."""
    from maskbench.samplers import registered_samplers

    options = options or f"Options(time_independent=False, schedule='sigmoid', steps={20 if sampler == 'mgm' else 250})"
    return dict(key=f"{sampler}{extrap}{context}{options}", sampler=sampler, extrap=extrap, length=extrap * frames,
                frames=frames, context=context, stride=stride, nfe=nfe, seconds_total=1.0, seconds_per_video=nfe / 997,
                n_fake=videos, n_real=videos, fvd=fvd, options=options, seed=0, finished=1.0, wall_seconds=90.0,
                sampler_revision=registered_samplers()[sampler].revision)


def write_variant(folder, recs, masking="frame"):
    folder.mkdir(parents=True)
    (folder / "results.jsonl").write_text("".join(json.dumps(r) + "\n" for r in recs))
    run = {"config": {"model": None}, "model_card": {"masking": masking}, "machine": {"device": "cpu"}}
    (folder / "run.json").write_text(json.dumps(run))


@pytest.fixture
def fabricated(tmp_path):
    runs = tmp_path / "runs"
    table1 = [{**record("mgm", 2, 60, 61.234, 300), "fvd_real_vs_real": 40.0},
              record("fm", 2, 750, 70.111, 300), record("df", 2, 798, 150.5, 300),
              record("mgm", 5, 120, 111.987, 8), record("fm", 5, 1500, 101.456, 8), record("df", 5, 1596, 280.25, 8)]
    write_variant(runs / "table1" / "frame-level", table1)
    table2 = [record("mgm", 2, 60, 66.5, 300), record("mgm", 2, 340, 33.25, 300, context=15, stride=1)]
    write_variant(runs / "table2" / "full-sequence", [{**table2[0], "reused_from": "runs/table1/frame-level"}])
    write_variant(runs / "table2" / "autoregressive", table2[1:])
    fig4 = [record("mgm", 1, s, 90.0 - s / 10, 300, options=f"MGMOptions(steps={s})") for s in (5, 10, 20)]
    write_variant(runs / "figure4" / "mgm", fig4)
    samples = runs / "table1" / "frame-level" / "samples"
    samples.mkdir()
    for sampler in ("fm", "df"):
        np.save(samples / f"{sampler}-5x.npy", np.random.default_rng(0).integers(0, 255, (3, 10, 16, 16, 3), dtype=np.uint8))
    return runs, [*table1, *table2, *fig4]


def test_results_page_tables_marker_and_figures(fabricated, tmp_path):
    runs, _ = fabricated
    docs = tmp_path / "docs"
    assert results_main(["--collect", str(runs), "--docs", str(docs)]) == 0
    page = (docs / "results.md").read_text()
    for image in ("figure3_fvd_vs_nfe.png", "figure4_fvd_vs_steps.png", "table1/best_worst_5x.gif"):
        assert (docs / "results" / image).stat().st_size > 0 and f"(results/{image})" in page
    assert not list((docs / "results").rglob("*.npy")), "sample arrays stay in the run folders"
    assert "| mgm       | 2x" in page or re.search(r"\| mgm\s+\| 2x", page)
    assert "111.99†" in page and "61.23 " in page and "61.23†" not in page  # 8 videos marked, 300 not
    assert "59.93 (T1, T5)" in page, "the paper's value beside our MGM 2x cell"
    assert "left the lowest FVD, fm" in page and "right the highest, df" in page
    assert "MGM reaches FVD 61.23 with 60 NFE against FM's FVD 70.11 with 750 NFE" in page
    assert "autoregressive MGM reaches FVD 33.25 with 340 NFE" in page
    assert page.count("Ours: not yet measured.") == 3  # table2-last16, table3, table4
    assert "MGM: FVD 89.50 at 5, 89.00 at 10, 88.00 at 20 steps; lowest at 20 steps; highest and lowest differ by 1.50" in page
    assert "Wall time: 9.0 min for the 6 cells measured in this grid." in page  # table1: 6 x 90 s
    assert "Wall time: 1.5 min for the 1 cell measured in this grid; 1 cell copied from identical" in page  # table2


def test_table4_reads_both_of_the_papers_comparisons_and_the_fourth_row(tmp_path):
    """Table 4's claim rests on two comparisons: MGM of the two models, and MGM (t = 0) against FM of the
    timestep-dependent model; each gets its sentence, the second with its paired difference. The fourth row
    (FM of the timestep-independent model, not in the paper) gets FM of the two models compared."""
    runs = tmp_path / "runs" / "table4"
    timed = {"extra": {"recipe": {"time_conditioning": True}}}
    untimed = {"extra": {"recipe": {"time_conditioning": False}}}
    mgm, fm = record("mgm", 1, 20, 730.5, 64, options="MGMOptions(time='zeros', steps=20)"), record("fm", 1, 250, 756.7, 64)
    for folder, recs, card in ((runs / "time-dependent-model", [fm, mgm], timed),
                               (runs / "time-independent-model",
                                [{**fm, "key": "ti-fm", "fvd": 790.1}, {**mgm, "key": "ti", "fvd": 768.6}], untimed)):
        write_variant(folder, recs)
        run = json.loads((folder / "run.json").read_text())
        (folder / "run.json").write_text(json.dumps({**run, "model_card": {**run["model_card"], **card}}))
    pair = dict(a="mgm", b="fm", key_a=mgm["key"], key_b=fm["key"], extrap=1, n=64, n_real=64, fvd_protocol="full",
                ci_level=0.95, ci_method="basic", ci_resamples=1000, fvd_diff=-26.2, fvd_low=-61.0, fvd_high=-3.5,
                fvd_resolved=True, fvd_videos_needed=64, kvd_diff=-1.0, kvd_low=-2.0, kvd_high=0.5, kvd_resolved=False,
                kvd_videos_needed=200)
    (runs / "time-dependent-model" / "paired.jsonl").write_text(json.dumps(pair) + "\n")
    docs = tmp_path / "docs"
    assert results_main(["--collect", str(tmp_path / "runs"), "--docs", str(docs)]) == 0
    section = (docs / "results.md").read_text().split("### Timestep-dependent")[1]
    assert "- Ours: 1x: MGM of the timestep-dependent model reaches FVD 730.50" in section
    assert ("- Ours: 1x: MGM of the timestep-dependent model (t = 0) reaches FVD 730.50 with 20 NFE against FM of the "
            "timestep-dependent model (per-frame t)'s FVD 756.70 with 250 NFE") in section
    assert "over the same 64 contexts and seeds: FVD -26.20 [-61.00, -3.50], resolved" in section
    assert ("- Ours: 1x: FM of the timestep-dependent model reaches FVD 756.70 with 250 NFE against FM of the "
            "timestep-independent model's FVD 790.10 with 250 NFE") in section
    table = (docs / "results.md").read_text().split("## Timestep-dependent")[1].split("## ")[0]
    assert "| time-independent-model | fm        | 1x        | no                     | per frame" in table


def test_table1_reads_mgm_against_df_and_rdm(tmp_path):
    """The claim's second half (MaskFlow beats DF and RDM) gets a sentence per factor for each, as MGM vs FM does."""
    runs = tmp_path / "runs" / "table1" / "frame-level"
    write_variant(runs, [record("mgm", 2, 60, 1674.3, 256), record("fm", 2, 750, 1722.2, 256),
                         record("df", 2, 798, 1724.7, 256), record("rdm", 2, 788, 1650.0, 256)])
    docs = tmp_path / "docs"
    assert results_main(["--collect", str(tmp_path / "runs"), "--docs", str(docs)]) == 0
    section = (docs / "results.md").read_text().split("### Samplers")[1].split("### ")[0]
    assert "- Ours: 2x: MGM reaches FVD 1674.30 with 60 NFE against DF's FVD 1724.70 with 798 NFE" in section
    assert "- Ours: 2x: MGM reaches FVD 1674.30 with 60 NFE against RDM's FVD 1650.00 with 788 NFE" in section
    assert "RDM has the lower FVD" in section


def test_collect_in_a_later_session_keeps_the_committed_cells_and_gif(fabricated, tmp_path):
    runs, recs = fabricated
    docs = tmp_path / "docs"
    results_main(["--collect", str(runs), "--docs", str(docs)])
    gif = docs / "results" / "table1" / "best_worst_5x.gif"
    before = gif.read_bytes()
    later = tmp_path / "later"  # a new session: runs/ is gone, one more cell measured, no 5x samples on disk
    write_variant(later / "table1" / "frame-level", [record("rdm", 2, 788, 120.5, 300)])
    assert results_main(["--collect", str(later), "--docs", str(docs)]) == 0
    merged = [json.loads(line) for line in (docs / "results" / "table1" / "frame-level" / "results.jsonl").open()]
    assert [r["sampler"] for r in merged] == ["mgm", "fm", "df", "mgm", "fm", "df", "rdm"]
    assert gif.read_bytes() == before, "the same best and worst cells: the GIF stays"
    worse = tmp_path / "worse"  # now a cell beats the GIF's worst at 5x, and its samples are not here
    write_variant(worse / "table1" / "frame-level", [record("rdm", 5, 1652, 400.5, 8)])
    results_main(["--collect", str(worse), "--docs", str(docs)])
    assert not gif.exists() and "best_worst_5x.gif" not in (docs / "results.md").read_text()


def test_results_page_gives_every_cell_the_real_vs_real_floor_of_its_length(fabricated, tmp_path):
    runs, _ = fabricated
    results_main(["--collect", str(runs), "--docs", str(tmp_path / "docs")])
    rows = markdown_rows((tmp_path / "docs" / "results.md").read_text())
    floors = {(r.get("variant"), r.get("sampler"), r["extrap."]): r["FVD real vs real"] for r in rows if "extrap." in r}
    # one 2x cell of 300 videos recorded it; every 2x cell of 300 videos shares the same two real sets
    assert floors[None, "fm", "2x"] == floors["autoregressive", None, "2x"] == "40.00"
    assert floors[None, "mgm", "5x"] == "-"  # 8 videos at 5x: another count and length, not known
    page = (tmp_path / "docs" / "results.md").read_text()
    assert "has the lower FVD, by 33.25, smaller than the FVD between two real sets of this size (40.00)" in page
    assert "FM has the lower FVD, by" not in page.split("5x:")[0]  # 2x: MGM is lower


def test_results_page_setting_order_and_written_reading(fabricated, tmp_path):
    runs, _ = fabricated
    paper = tmp_path / "paper.yaml"
    paper.write_text((ROOT / PAPER_FILE).read_text())
    (tmp_path / "discussion.yaml").write_text("setting: Small model,\n  small data.\ngrids:\n  table2: Context helps.\n")
    docs = tmp_path / "docs"
    assert results_main(["--collect", str(runs), "--docs", str(docs), "--paper", str(paper)]) == 0
    page = (docs / "results.md").read_text()
    assert "## Setting" in page and "frame masking, training length not recorded" in page and "cpu (" in page
    assert "Small model, small data." in page and "Our reading: Context helps." in page
    assert page.index("Our reading: Context helps.") > page.index("### Autoregressive")
    # ours: MGM 61.23 < FM 70.11 at 2x, as the paper's FFS 59.93 < 66.94; at 5x ours flip (111.99 > 101.46)
    two, five = page.split("### Samplers across")[1].split("- Ours: 5x")[:2]  # MGM vs FM; DF and RDM follow
    five = five.split("\n")[0]
    assert "59.93 at 60 NFE (T1)" in two and "the same order as ours" in two
    assert "the opposite order to ours" in five


def test_results_rewrites_only_the_readme_headline_block(fabricated, tmp_path):
    runs, recs = fabricated
    mgm, fm = recs[0], recs[1]  # Table 1 at 2x: its paired difference is the headline's verdict
    pair = dict(a="mgm", b="fm", key_a=mgm["key"], key_b=fm["key"], extrap=2, n=300, n_real=300, fvd_protocol="full",
                ci_level=0.95, ci_method="basic", ci_resamples=1000, fvd_diff=-8.877, fvd_low=-20.0, fvd_high=3.0,
                fvd_resolved=False, fvd_videos_needed=900, kvd_diff=-1.0, kvd_low=-2.0, kvd_high=0.5,
                kvd_resolved=False, kvd_videos_needed=700)
    (runs / "table1" / "frame-level" / "paired.jsonl").write_text(json.dumps(pair) + "\n")
    readme, plain = tmp_path / "README.md", tmp_path / "OTHER.md"
    readme.write_text("intro\n<!-- headline:start (benchmarks/experiments/results.py writes this block) -->\nold\n<!-- headline:end -->\nrest\n")
    plain.write_text("no block here\n")
    docs = str(tmp_path / "docs")
    assert results_main(["--collect", str(runs), "--docs", docs, "--readme", str(readme)]) == 0
    text = readme.read_text()
    assert text.startswith("intro\n") and text.endswith("<!-- headline:end -->\nrest\n") and "old" not in text
    assert "111.99†" in text and "59.93 (T1, T5)" in text and "(docs/results.md)" in text
    assert "| mgm - fm            | 2x        | 300      | -8.88 [-20.00, 3.00] needs ~900" in text
    assert results_main(["--docs", docs, "--readme", str(readme)]) == 0 and readme.read_text() == text  # stable
    assert results_main(["--docs", docs, "--readme", str(plain)]) == 0 and plain.read_text() == "no block here\n"


def test_results_page_regenerates_from_the_docs_tree_alone(fabricated, tmp_path):
    runs, _ = fabricated
    docs = tmp_path / "docs"
    results_main(["--collect", str(runs), "--docs", str(docs)])
    first = (docs / "results.md").read_text()
    (docs / "results.md").unlink()
    import shutil

    shutil.rmtree(runs)
    assert results_main(["--docs", str(docs)]) == 0
    assert (docs / "results.md").read_text() == first


def test_results_page_numbers_come_from_the_files(fabricated, tmp_path):
    runs, recs = fabricated
    docs = tmp_path / "docs"
    results_main(["--collect", str(runs), "--docs", str(docs)])
    page = (docs / "results.md").read_text()
    paper = load_paper(ROOT / PAPER_FILE).values
    allowed = {f"{r[k]:.2f}" for r in recs for k in ("fvd", "seconds_per_video")}
    allowed |= {f"{getattr(v, k):.2f}" for v in paper for k in ("fvd", "seconds") if getattr(v, k) is not None}
    allowed |= {f"{r['fvd_real_vs_real']:.2f}" for r in recs if "fvd_real_vs_real" in r}
    allowed |= {f"{abs(a['fvd'] - b['fvd']):.2f}" for a in recs for b in recs}  # gaps the discussion names
    decimals = set(re.findall(r"(?<![\d.])(\d+\.\d\d)(?![\dx])", page))  # ratios are printed as 0.08x
    assert decimals and decimals <= allowed, decimals - allowed
    nfe_column = [int(row["NFE (counted)"]) for row in markdown_rows(page)]
    assert len(nfe_column) == len(recs) and sorted(nfe_column) == sorted(r["nfe"] for r in recs)


def markdown_rows(page):
    """Every row of every markdown table on the page, as header -> cell."""
    rows, header = [], None
    for line in page.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")] if line.startswith("|") else None
        if cells is None:
            header = None
        elif header is None:
            header = cells
        elif not set(line) <= set("|-: "):
            rows.append(dict(zip(header, cells)))
    return rows


def test_variants_are_listed_with_their_numbers_in_order(tmp_path):
    for steps in (100, 5, 20):
        write_variant(tmp_path / "figure4" / f"mgm-{steps}", [record("mgm", 1, steps, 90.0, 16, options=f"MGMOptions(steps={steps})")])
    rows = load_grids(tmp_path)["figure4"]
    assert [r.variant for r in rows] == ["mgm-5", "mgm-20", "mgm-100"]  # not mgm-100, mgm-20, mgm-5
    assert _provenance(rows) == "Measured: `mgm-5`, `mgm-20`, `mgm-100`: model `shipped default` (frame masking) on cpu."


def test_provenance_names_the_processor_each_invocation_recorded(tmp_path):
    folder = tmp_path / "table1" / "frame-level"
    write_variant(folder, [record("mgm", 2, 60, 61.0, 64)])
    machine = {"device": "cpu", "cpu_count": 2, "cpu_model": "AMD EPYC"}
    (folder / "run.json").write_text(json.dumps({"config": {"model": None}, "model_card": {"masking": "frame"},
                                                 "machine": machine}))
    rows = load_grids(tmp_path)["table1"]
    assert _provenance(rows).endswith("(frame masking) on cpu (AMD EPYC, 2 cores).")
    gpu = SimpleNamespace(device="cuda", processor="NVIDIA H100 80GB HBM3", cores=16)
    assert _machine(gpu) == "cuda (NVIDIA H100 80GB HBM3, 16 cores)"
    assert _machine(SimpleNamespace(device="cpu", processor=None, cores=None)) == "cpu"  # runs before either was kept


def test_provenance_names_each_variant_once_with_every_machine_of_its_cells():
    """Cells of one variant from invocations that did and did not record the processor: the variant is named
    once, with both machines (it was named twice, once per machine)."""
    cell = lambda variant, processor: SimpleNamespace(  # noqa: E731
        variant=variant, model="m", masking="frame", train_steps=8000, device="cpu", processor=processor, cores=2)
    rows = [cell("td", None), cell("td", "AMD EPYC"), cell("td", "AMD EPYC"), cell("ti", None)]
    assert _provenance(rows) == ("Measured: `td`, `ti`: model `m` (frame masking, 8000 training steps) on "
                                 "cpu (2 cores) and cpu (AMD EPYC, 2 cores).")


def test_only_rank_zero_announces_variants(monkeypatch, capsys, tmp_path):
    import maskbench.bench.run as run_module
    from maskbench.bench.experiments import run_grid

    grid = load_grid(ROOT / "benchmarks" / "experiments" / "table2.yaml")
    runs = grid.configs(out=str(tmp_path))
    monkeypatch.setattr(run_module, "run_benchmark", lambda config, reuse, **kw: Path(config.out))
    for rank, lines in (("1", 0), ("0", len(runs))):
        monkeypatch.setenv("RANK", rank)
        run_grid(grid, runs)
        assert capsys.readouterr().out.count("maskbench: table2 variant") == lines


def test_results_page_says_when_the_shipped_models_are_not_the_measured_ones(tmp_path):
    from publish.results_page import _shipped_since

    card = tmp_path / "latte-x" / "maskbench.json"
    card.parent.mkdir()
    card.write_text(json.dumps({"masking": "frame", "tokenizer_identity": "vq-b",
                                "extra": {"steps": 300, "total_steps": 5700}}))
    row = SimpleNamespace  # the attributes of a publish.measured.MeasuredCell it reads
    rows = [row(masking="frame", train_steps=5400, tokenizer_identity="vq-b"),
            row(masking="constant", train_steps=5400, tokenizer_identity="vq-b")]
    assert "(frame masking: 5700 training steps on tokenizer vq-b)" in _shipped_since(rows, tmp_path)
    assert _shipped_since([row(masking="frame", train_steps=5700, tokenizer_identity="vq-b")], tmp_path) == ""
    retokenized = [row(masking="frame", train_steps=5700, tokenizer_identity="vq-a")]  # same length, new tokens
    assert "tokenizer vq-b" in _shipped_since(retokenized, tmp_path)
    assert _shipped_since([row(masking="frame", train_steps=None)], tmp_path) == ""


def test_results_page_names_the_grids_that_measure_the_shipped_models_and_current_code(monkeypatch):
    import publish.results_page as page

    monkeypatch.setattr(page, "_shipped_since", lambda rows: "" if rows[0].fresh else " other models")
    monkeypatch.setattr(page, "_revised_since", lambda rows: "")
    row = SimpleNamespace
    grids = {"table1": [row(fresh=False)], "table4": [row(fresh=True)]}
    assert page._current(grids) == (" Grids whose every cell measures the shipped models and the current code: table4; "
                                    "not yet: table1.")
    assert page._current({"table4": [row(fresh=True)]}) == ""  # all current: nothing to single out
    assert page._current({"table1": [row(fresh=False)]}) == ""  # none current: the other sentences say so


def test_shipped_models_without_time_input_are_told_apart(tmp_path):
    from publish.results_page import _shipped_since

    for name, timed, steps in (("latte-a", True, 8000), ("latte-b", False, 600)):
        (tmp_path / name).mkdir()
        (tmp_path / name / "maskbench.json").write_text(json.dumps({"masking": "frame", "tokenizer_identity": "vq",
                                                                    "extra": {"steps": steps}}))
        (tmp_path / name / "config.json").write_text(json.dumps({"time_conditioning": timed}))
    row = SimpleNamespace
    assert _shipped_since([row(masking="frame", train_steps=8000, tokenizer_identity="vq", model_time_dependent=True)],
                          tmp_path) == ""  # before, the no-time model (sorted last) stood for every frame model
    assert "frame masking without time input: 600" in _shipped_since(
        [row(masking="frame", train_steps=8000, tokenizer_identity="vq", model_time_dependent=False)], tmp_path)


def test_setting_names_each_model_by_time_input_tokenizer_and_age(monkeypatch):
    import publish.results_page as page

    monkeypatch.setattr(page, "stale", lambda row: "model" if row.train_steps == 5400 else "")
    row = SimpleNamespace  # the attributes of a publish.measured.MeasuredCell it reads
    common = dict(masking="frame", train_loss=None, tokenizer="vizdoom-vq")
    notime = page._model(row(train_steps=8000, tokenizer_identity="vq-new", model_time_dependent=False, **common))
    old = page._model(row(train_steps=5400, tokenizer_identity="vq-old", model_time_dependent=True, **common))
    # the two frame-masking models of 8000 steps read apart, and the two tokenizers of one name too
    assert notime == "frame masking without time input, 8000 training steps, tokenizer `vq-new`"
    assert old == f"frame masking, 5400 training steps, tokenizer `vq-old` ({page.STALE}, earlier model)"


def test_results_page_says_when_cells_predate_a_sampler_revision():
    from publish.results_page import _revised_since

    current = {"mgm": 2, "fm": 1}
    row = SimpleNamespace  # the attributes of a publish.measured.MeasuredCell it reads
    # records written before revisions existed count as 1 (CellRecord.from_json, tests/report/test_record.py)
    rows = [row(sampler="mgm", sampler_revision=1), row(sampler="fm", sampler_revision=1)]
    assert "mgm (revision 1, now 2)" in _revised_since(rows, current)
    assert "fm" not in _revised_since(rows, current)
    assert _revised_since([row(sampler="mgm", sampler_revision=2), row(sampler="fm", sampler_revision=1)], current) == ""
    assert _revised_since([row(sampler="oneshot", sampler_revision=1)], current) == ""  # a plugin not installed here


def test_a_bad_later_variant_is_refused_before_the_first_one_runs(assets, tmp_path, capsys):
    """Every variant's prerequisites are checked up front: the second variant asks for a longer window
    than the model was trained on (before, found only when that variant loaded its model)."""
    grid = yaml.safe_load(tiny_grid(assets, tmp_path / "tiny.yaml").read_text())
    grid["variants"]["full-sequence"] = {"frames": 50}  # runs second: variants come in the file's (sorted) order
    (tmp_path / "bad.yaml").write_text(yaml.safe_dump(grid))
    assert main(["experiment", str(tmp_path / "bad.yaml"), "--no-fvd", "--out", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1 and "--frames 50 exceeds" in err
    assert not list((tmp_path / "out").rglob("results.jsonl"))  # the first variant did not run
