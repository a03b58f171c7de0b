"""Counted NFE must equal the paper's numbers (SPEC section 6), for every configuration."""

import pytest

from maskbench.bench.nfe import NFEConfig, nfe_rows

FFS, DMLAB = (16, 2, 14), (36, 12, 24)
PAPER = [  # (k, m, s), sampler, {factor: NFE}
    (FFS, "mgm", {1: 20, 2: 60, 5: 120, 10: 240}),
    (FFS, "fm", {1: 250, 2: 750, 5: 1500, 10: 3000}),
    (FFS, "df", {1: 266, 2: 798, 5: 1596, 10: 3192}),
    (FFS, "rdm", {1: 500, 2: 788, 5: 1652, 10: 3092}),
    ((16, 15, 1), "mgm", {2: 340, 5: 1300, 10: 2900}),
    (DMLAB, "mgm", {1: 20, 2: 60, 5: 140}),
    (DMLAB, "df", {1: 286, 2: 858, 5: 2002}),
    (DMLAB, "rdm", {1: 500, 2: 896, 5: 2084}),
    ((36, 35, 1), "mgm", {2: 740, 5: 2900}),
]


@pytest.mark.parametrize("geometry,sampler,expected", PAPER, ids=[f"{g}-{s}" for g, s, _ in PAPER])
def test_counted_nfe_equals_paper(geometry, sampler, expected):
    rows = nfe_rows(NFEConfig((sampler,), *geometry, tuple(expected)))
    assert {row["extrap"]: row["nfe"] for row in rows} == expected


@pytest.mark.parametrize("geometry,expected", [(FFS, 19), (DMLAB, 16), ((16, 15, 1), 4), ((36, 35, 1), 3)])
def test_authors_mgm_counts_stop_when_nothing_is_masked(geometry, expected):
    """``mgm.spread=window`` (the authors' adap_scheduler) spends fewer than 20 NFE on a window with context."""
    rows = nfe_rows(NFEConfig({"mgm": {"spread": "window"}}, *geometry, (1,)))
    assert rows[0]["nfe"] == expected
    assert nfe_rows(NFEConfig(("mgm",), *geometry, (1,)))[0]["nfe"] == 20
