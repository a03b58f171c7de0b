"""Root pytest configuration: benchmarks run once, untimed, in an ordinary ``pytest`` run and are
timed only under ``pytest --benchmark-only`` (or ``--benchmark-enable``)."""

import pytest


@pytest.hookimpl(tryfirst=True)
def pytest_configure(config):
    option = config.option
    if not getattr(option, "benchmark_only", False) and not getattr(option, "benchmark_enable", False):
        option.benchmark_disable = True


def pytest_ignore_collect(collection_path, config):
    """Under ``--benchmark-only`` only benchmarks/ is collected: the tests would all be skipped anyway."""
    if getattr(config.option, "benchmark_only", False):
        return "tests" in collection_path.relative_to(config.rootpath).parts[:1] or None
    return None
