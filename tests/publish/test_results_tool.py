"""``benchmarks/experiments/results.py``: bad arguments are refused at once, as maskbench's own commands."""

import subprocess
import sys
from pathlib import Path

import pytest

import results
from maskbench import cli

ROOT = Path(__file__).resolve().parents[2]


def bad_value(action, tmp: Path) -> str:
    (tmp / "a-file").write_text("")
    return {cli.out_dir: str(tmp / "a-file"), cli.existing_path: str(tmp / "missing")}[action.type]


@pytest.mark.parametrize("flag", ["--collect", "--docs", "--paper", "--readme"])
def test_every_bad_argument_is_refused_at_once(flag, tmp_path, monkeypatch, capsys):
    action = next(a for a in results.build_parser()._actions if flag in a.option_strings)
    value = bad_value(action, tmp_path)
    work = tmp_path / "cwd"
    work.mkdir()
    monkeypatch.chdir(work)
    before = sorted(p.name for p in tmp_path.iterdir())
    with pytest.raises(SystemExit) as exit_:
        results.main([flag, value])
    err = capsys.readouterr().err
    assert exit_.value.code == 2
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1 and flag in err, err
    assert sorted(p.name for p in tmp_path.iterdir()) == before and not any(work.iterdir())


def test_the_tool_runs_as_a_script_from_anywhere(tmp_path):
    """``python benchmarks/experiments/results.py`` finds its package and paper.yaml from any folder."""
    done = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "experiments" / "results.py"), "--docs",
                           str(tmp_path / "docs")], cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "docs" / "results.md").is_file() and "wrote" in done.stdout


def test_maskbench_itself_has_no_results_command():
    """Paper publication is not part of the installed framework."""
    assert "results" not in cli.build_parser()._subparsers._group_actions[0].choices
