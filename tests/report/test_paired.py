"""Paired differences of a run's samplers (``paired.jsonl``) and the interval columns of the tables."""

import json

import numpy as np

from maskbench.metrics.fvd import fvd_from_features, fvd_result
from maskbench.report.paired import FAR, MIN_PAIRED_VIDEOS, difference_text, pairs, paired_markdown, paired_rows, sentence
from maskbench.report.record import CellRecord
from maskbench.report.tables import pivot_markdown

D = 400


def _features(seed: int, n: int = 48, shift: float = 0.0) -> np.ndarray:
    return np.random.default_rng(seed).normal(size=(n, D)) + shift


def record(**fields) -> CellRecord:
    """A cell with ``fields``; what the test does not name is a plausible constant."""
    base = dict(key="k", sampler="mgm", extrap=2, length=20, frames=16, context=2, stride=14, nfe=40, seconds_total=1.0,
                seconds_per_video=1.0, n_fake=48, seed=0, finished=0.0)
    return CellRecord(**{**base, **fields})


def _cell(sampler: str, extrap: int, key: str, fvd: float | None = 1.0) -> CellRecord:
    return record(sampler=sampler, extrap=extrap, length=10 * extrap, key=key, fvd=fvd, fvd_protocol="full")


def test_pairs_follow_the_asked_order_within_a_factor():
    records = [_cell("fm", 2, "a"), _cell("mgm", 2, "b"), _cell("df", 2, "c", fvd=None), _cell("mgm", 5, "d"),
               _cell("fm", 5, "e")]
    got = [(a.sampler, b.sampler, a.extrap) for a, b in pairs(records, ["mgm", "fm", "df"])]
    assert got == [("mgm", "fm", 2), ("mgm", "fm", 5)]  # no FVD, no pair; a is the earlier one asked for


def test_paired_rows_are_the_difference_of_the_two_fvds_and_are_computed_once(tmp_path):
    real, base = _features(0), _features(1)
    feats = {"k1": base + 0.3, "k2": base + 0.3 + np.random.default_rng(2).normal(size=base.shape) * 0.05}
    records = [_cell("mgm", 2, "k1"), _cell("fm", 2, "k2")]
    calls = []

    def features(record):
        calls.append(record.key)
        return feats[record.key]

    path = tmp_path / "paired.jsonl"
    (row,) = paired_rows(records, ["mgm", "fm"], features, lambda length: real, path)
    expected = fvd_from_features(real, feats["k1"]) - fvd_from_features(real, feats["k2"])
    assert abs(row["fvd_diff"] - expected) < 1e-6 * max(1.0, abs(expected))
    assert row["fvd_low"] <= row["fvd_high"] and row["kvd_low"] <= row["kvd_high"]
    assert (row["a"], row["b"], row["n"], row["key_a"], row["key_b"]) == ("mgm", "fm", 48, "k1", "k2")
    again = paired_rows(records, ["mgm", "fm"], features, lambda length: real, path)
    assert again == [row] and calls == ["k1", "k2"]  # the second call read paired.jsonl
    assert json.loads(path.read_text()) == row


def test_a_large_paired_shift_is_resolved_and_no_difference_is_not(tmp_path):
    real, base = _features(0), _features(1)
    shifted = base + 0.5  # every video moved the same way: a real difference
    same = base + np.random.default_rng(3).normal(size=base.shape) * 1e-3
    records = [_cell("a", 2, "x"), _cell("b", 2, "y"), _cell("c", 2, "z")]
    feats = {"x": shifted, "y": base, "z": same}
    rows = paired_rows(records, ["a", "b", "c"], lambda r: feats[r.key], lambda length: real, tmp_path / "p.jsonl")
    by = {(r["a"], r["b"]): r for r in rows}
    assert by["a", "b"]["fvd_resolved"] and by["a", "b"]["kvd_resolved"] and by["a", "b"]["fvd_diff"] > 0
    assert not by["b", "c"]["kvd_resolved"] and by["b", "c"]["kvd_videos_needed"] > 48
    assert "resolved" in sentence(by["a", "b"]) and "not resolved (about" in sentence(by["b", "c"])
    assert "## Paired differences" in paired_markdown(rows)


def test_below_the_minimum_count_even_a_large_shift_is_not_called_resolved(tmp_path):
    # with no true difference, 4-8 videos gave 10-15% false "resolved" against the nominal 5%
    real, base = _features(0, 8), _features(1, 8)
    records = [_cell("a", 2, "x"), _cell("b", 2, "y")]
    feats = {"x": base + 0.5, "y": base}
    (row,) = paired_rows(records, ["a", "b"], lambda r: feats[r.key], lambda length: real, tmp_path / "p.jsonl")
    assert row["fvd_low"] > 0 and not row["fvd_resolved"]  # the interval excludes 0, the verdict does not follow
    assert row["fvd_videos_needed"] >= MIN_PAIRED_VIDEOS and "fewer than 32 paired videos" in sentence(row)


def test_a_videos_needed_estimate_far_beyond_the_count_is_shown_as_a_bound_not_as_digits():
    row = {"a": "mgm", "b": "fm", "extrap": 5, "n": 64, "fvd_resolved": False, "fvd_diff": 0.25, "fvd_low": -84.4, "fvd_high": 45.4,
           "fvd_videos_needed": 2148317, "kvd_resolved": False, "kvd_diff": -4.08, "kvd_low": -9.27, "kvd_high": 0.37,
           "kvd_videos_needed": 77}
    assert difference_text(row, "fvd", 2).endswith(f"needs >{FAR * 64}") and "2148317" not in sentence(row)
    assert difference_text(row, "kvd", 2).endswith("needs ~77") and "about 77 videos" in sentence(row)
    assert f"more than {FAR * 64} videos per cell would be needed" in sentence(row)


def test_a_pair_without_kept_features_is_left_out(tmp_path):
    records = [_cell("mgm", 2, "k1"), _cell("fm", 2, "k2")]
    rows = paired_rows(records, ["mgm", "fm"], lambda r: None, lambda length: _features(0), tmp_path / "p.jsonl")
    assert rows == [] and not (tmp_path / "p.jsonl").exists()


def test_tables_show_interval_and_kvd_and_keep_old_records_readable():
    real, fake = _features(0, 32), _features(1, 32, 0.2)
    result = fvd_result(real, fake, 16, "full").record()
    new = record(sampler="mgm", extrap=2, length=30, context=2, stride=14, nfe=40, seconds_per_video=1.0, n_fake=32,
                 **{k: v for k, v in result.items() if k not in ("n_fake", "frames", "protocol")})
    old = record(sampler="fm", extrap=2, length=30, context=2, stride=14, nfe=480, seconds_per_video=9.0, n_fake=16,
                 n_real=16, fvd=812.5)  # written before intervals existed
    text = pivot_markdown([new, old])
    assert f"{new.fvd:.1f} [{new.fvd_low:.1f}, {new.fvd_high:.1f}] / KVD {new.kvd:.2f}" in text
    assert "| 480 / 9.00s / 812.5 (16)" in text and "infinitely many videos" in text


def test_too_few_videos_give_no_interval_rather_than_a_zero_width_one():
    result = fvd_result(_features(0, 2), _features(1, 2), 16, "full")
    assert result.kvd is not None and result.kvd_low is None and result.kvd_high is None
    assert "[no interval]" in result.report()


def test_a_pair_asked_the_other_way_round_is_turned_not_computed_again(tmp_path):
    """``--samplers fm`` after ``--samplers mgm``: the kept ``mgm - fm`` row, turned to ``fm - mgm`` (difference
    and interval negated and swapped, verdicts kept), without reading any features again."""
    real, base = _features(0), _features(1)
    feats = {"k1": base + 0.5, "k2": base}
    records = [_cell("mgm", 2, "k1"), _cell("fm", 2, "k2")]
    path = tmp_path / "paired.jsonl"
    (first,) = paired_rows(records, ["mgm", "fm"], lambda r: feats[r.key], lambda length: real, path)
    calls = []
    (row,) = paired_rows(records, ["fm", "mgm"], lambda r: calls.append(r.key), lambda length: real, path)
    assert calls == [] and (row["a"], row["b"], row["key_a"], row["key_b"]) == ("fm", "mgm", "k2", "k1")
    for name in ("fvd", "kvd"):
        assert row[f"{name}_diff"] == -first[f"{name}_diff"] and row[f"{name}_resolved"] == first[f"{name}_resolved"]
        assert (row[f"{name}_low"], row[f"{name}_high"]) == (-first[f"{name}_high"], -first[f"{name}_low"])
    assert json.loads(path.read_text()) == row
