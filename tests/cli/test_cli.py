"""The command line: counted NFE output, one-line errors, third-party plugins from entry points."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def maskbench(*args, env=None, timeout=300):
    full_env = {**os.environ, **(env or {})}
    return subprocess.run([sys.executable, "-m", "maskbench.cli", *args], capture_output=True, text=True,
                          env=full_env, timeout=timeout, cwd=ROOT)


def assert_one_line_error(result, *fragments):
    assert result.returncode != 0
    assert "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    for fragment in fragments:
        assert fragment in lines[0]


def test_nfe_csv():
    result = maskbench("nfe", "--samplers", "mgm,df", "--extrap", "1,2", "--format", "csv")
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == ["sampler,extrap,nfe", "mgm,1,20", "mgm,2,60", "df,1,266", "df,2,798"]


def test_nfe_markdown():
    result = maskbench("nfe", "--samplers", "mgm", "--extrap", "2", "--format", "markdown")
    assert result.returncode == 0
    assert "| mgm" in result.stdout and "60" in result.stdout


HEAVY = ("torch", "deepspeed", "vizdoom", "jax", "matplotlib", "diffusers", "pandas", "scipy")

PROBE = """
import sys
from maskbench.cli import main
for argv in (["--help"], ["run", "--help"], ["nfe", "--help"], ["experiment", "--help"]):
    try:
        main(argv)
    except SystemExit:
        pass
print(",".join(sorted(name for name in {heavy!r} if name in sys.modules)), file=sys.stderr)
"""


def test_help_is_fast_and_lists_commands():
    """Fast start-up, checked by what ``--help`` imports (each of these costs seconds), not by a timer."""
    result = maskbench("--help")
    assert result.returncode == 0 and "nfe" in result.stdout
    probe = subprocess.run([sys.executable, "-c", PROBE.format(heavy=HEAVY)], capture_output=True, text=True, timeout=120)
    assert probe.returncode == 0 and probe.stderr.strip().splitlines()[-1:] in ([], [""]), probe.stderr[-2000:]


@pytest.mark.parametrize(
    "args,fragments",
    [
        (["--samplers", "mgm,nope"], ["unknown sampler 'nope'", "mgm", "rdm"]),
        (["--context", "16"], ["context"]),
        (["--stride", "15"], ["stride"]),
        (["--stride", "0"], ["stride"]),
        (["--extrap", "0"], ["extrapolation"]),
        (["--extrap", "1.5"], ["integers"]),
        (["--frames", "1.5"], ["invalid int"]),
        (["--opt", "mgm.bogus=1"], ["unknown option 'mgm.bogus'"]),
        (["--opt", "mgm.steps=ten"], ["expects an integer"]),
    ],
)
def test_bad_input_one_line_error(args, fragments):
    assert_one_line_error(maskbench("nfe", "--samplers", "mgm", *args), *fragments)


def test_sampler_options_from_cli():
    result = maskbench("nfe", "--samplers", "mgm", "--extrap", "1", "--opt", "mgm.steps=7", "--format", "csv")
    assert result.stdout.splitlines()[1] == "mgm,1,7"


@pytest.fixture(scope="module")
def plugin_path(tmp_path_factory):
    """Install the example plugin distribution (a real wheel build) into a private directory."""
    target = tmp_path_factory.mktemp("site")
    subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--no-build-isolation",
                    "--target", str(target), str(ROOT / "examples" / "maskbench-oneshot")], check=True,
                   capture_output=True, timeout=300)
    return str(target)


def test_third_party_plugin_found_through_entry_point(plugin_path):
    env = {"PYTHONPATH": plugin_path}
    listing = maskbench("samplers", env=env)
    assert "oneshot" in listing.stdout
    result = maskbench("nfe", "--samplers", "oneshot,mgm", "--extrap", "1,2", "--format", "csv", env=env)
    assert result.returncode == 0, result.stderr
    assert "oneshot,1,1" in result.stdout and "oneshot,2,3" in result.stdout


def test_plugins_can_be_blocked(plugin_path):
    env = {"PYTHONPATH": plugin_path, "MASKBENCH_BLOCK_PLUGINS": "oneshot,rdm"}
    result = maskbench("nfe", "--samplers", "oneshot", "--extrap", "1", env=env)
    assert_one_line_error(result, "unknown sampler 'oneshot'")
    assert "rdm" not in result.stderr
