"""Which invocation of a run folder measured a cell (each cell gets that invocation's model and machine)."""

from datetime import datetime

from maskbench.core.provenance import invocation_for


def at(text: str) -> float:
    return datetime.fromisoformat(f"2026-01-01T{text}+00:00").timestamp()


RUNS = [{"started": "2026-01-01T00:00:00+00:00", "n": 1}, {"started": "2026-01-01T02:00:00+00:00", "n": 2},
        {"started": "2026-01-01T04:00:00+00:00", "n": 3}]


def test_a_measured_cell_belongs_to_the_latest_invocation_started_before_it_finished():
    assert invocation_for(RUNS, at("01:00:00"))["n"] == 1
    assert invocation_for(RUNS, at("03:00:00"))["n"] == 2
    assert invocation_for(RUNS, None)["n"] == 3 and invocation_for([], at("01:00:00")) == {}


def test_a_copied_cell_belongs_to_the_first_invocation_started_after_the_original_finished():
    """A copy keeps the original's finish time, which can lie before every invocation into this folder (or
    within an older one that measured another model): the copying invocation is the first one after it."""
    assert invocation_for(RUNS, at("01:00:00"), copied=True)["n"] == 2
    assert invocation_for(RUNS, at("05:00:00"), copied=True)["n"] == 3  # none after it: the latest
