"""Every subcommand's arguments: bad values refused at once (exit 2, one line, nothing written), help complete."""

import argparse
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from maskbench import cli

ROOT = Path(__file__).resolve().parents[2]
MAIN = Path(sys.executable).with_name("maskbench")  # the console script of this environment

# Options whose value is free text by nature and checked when used (run: tests/cli/test_first_hour.py).
FREE_TEXT = {"--model", "--tokenizer", "--tokenizer-path", "--data", "--split"}


def subcommands(parser: argparse.ArgumentParser, prefix=()):
    """``(argv prefix, parser)`` of every leaf subcommand."""
    subs = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    if not subs:
        yield prefix, parser
        return
    for name, sub in subs[0].choices.items():
        yield from subcommands(sub, (*prefix, name))


def base_args(command: tuple, tmp: Path) -> list[str]:
    """Valid required arguments of ``command``."""
    videos = tmp / "videos"
    videos.mkdir(exist_ok=True)
    return {
        ("experiment",): [str(ROOT / "benchmarks" / "experiments" / "table1.yaml")],
        ("fvd",): ["--real", str(videos), "--fake", str(videos)],
        ("tokenizer", "train"): ["--data", str(videos), "--out", str(tmp / "new")],
        ("tokenizer", "eval"): ["--data", str(videos), "--out", str(tmp / "new")],
        ("tokenize",): ["--out", str(tmp / "new")],
    }.get(command, [])


def bad_value(action: argparse.Action, tmp: Path) -> str | None:
    """A value ``action`` must refuse, from its type or choices; ``None`` for free text."""
    if action.choices:
        return "nosuch"
    (tmp / "a-file").write_text("")
    return {cli.positive_int: "0", cli.count: "-1", cli.positive_float: "0", cli.fraction: "1.5",
            cli.device_name: "gpu0", cli.out_dir: str(tmp / "a-file"), cli.existing_path: str(tmp / "missing"),
            cli.int_list: "1,x", cli.name_list: ",", cli.opt_pair: "steps=3", cli.split_name: "validation"}.get(action.type)


def valued_options(parser):
    return [a for a in parser._actions if a.option_strings and a.nargs != 0 and a.help != argparse.SUPPRESS
            and not isinstance(a, argparse._HelpAction)]


def sweep_cases():
    cases = []
    for command, parser in subcommands(cli.build_parser()):
        for action in valued_options(parser):
            cases.append(pytest.param(command, action.option_strings[-1], id=f"{' '.join(command)} {action.option_strings[-1]}"))
    return cases


@pytest.mark.parametrize("command,flag", sweep_cases())
def test_every_bad_argument_is_refused_at_once(command, flag, tmp_path, monkeypatch, capsys):
    parser = dict(subcommands(cli.build_parser()))[command]
    action = next(a for a in parser._actions if flag in a.option_strings)
    value = bad_value(action, tmp_path)
    if value is None:
        assert flag in FREE_TEXT, f"{' '.join(command)} {flag} has no validating type or choices"
        return
    work = tmp_path / "cwd"
    work.mkdir()
    monkeypatch.chdir(work)
    argv = [*command, *base_args(command, tmp_path), flag, value]
    before = sorted(p.name for p in tmp_path.iterdir())
    with pytest.raises(SystemExit) as exit_:
        cli.main(argv)
    err = capsys.readouterr().err
    assert exit_.value.code == 2
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1, err
    assert flag in err
    assert sorted(p.name for p in tmp_path.iterdir()) == before and not any(work.iterdir())


def test_every_option_has_help_with_its_default():
    for command, parser in subcommands(cli.build_parser()):
        for action in parser._actions:
            if isinstance(action, argparse._HelpAction) or action.help == argparse.SUPPRESS or not action.option_strings:
                continue
            name = f"{' '.join(command)} {action.option_strings[-1]}"
            assert action.help and len(action.help) > 10, f"{name} has no help"
            if action.nargs != 0 and action.default not in (None, [], ()):
                assert "default" in action.help, f"{name}: the help does not say the default"
            if action.type in (cli.int_list, cli.name_list):
                assert "comma-separated" in action.help, f"{name}: the help does not say the list format"


def test_bad_argument_answers_in_well_under_a_second(tmp_path):
    (tmp_path / "a-file").write_text("")
    for args in (["run", "--out", str(tmp_path / "a-file")], ["run", "--split", "validation"]):
        start = time.perf_counter()
        result = subprocess.run([str(MAIN), *args], capture_output=True, text=True, cwd=tmp_path, timeout=60,
                                env={**os.environ, "OMP_NUM_THREADS": "1"})
        seconds = time.perf_counter() - start
        assert result.returncode == 2 and len(result.stderr.strip().splitlines()) == 1, result.stderr
        assert seconds < 3.0, f"{args}: {seconds:.2f} s"  # about 0.3 s idle; generous for a loaded 2-core machine


def test_bad_arguments_import_nothing_heavy(tmp_path):
    """Refused before torch, the engines or the networks are imported (the reason they answer at once)."""
    (tmp_path / "a-file").write_text("")
    code = (
        "import sys\nfrom maskbench.cli import main\n"
        f"for args in [['run', '--out', {str(tmp_path / 'a-file')!r}], ['run', '--split', 'validation'],"
        f" ['run', '--data', {str(tmp_path / 'missing')!r}], ['run', '--device', 'gpu0'], ['nfe', '--frames', '0']]:\n"
        "    try:\n        assert main(args) == 2\n    except SystemExit as e:\n        assert e.code == 2\n"
        "print(sorted(m for m in ('torch', 'deepspeed', 'vizdoom', 'diffusers', 'maskbench.metrics.i3d') if m in sys.modules))\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=tmp_path, timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"
