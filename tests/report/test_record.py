"""The result record: one typed, versioned line of ``results.jsonl``; old lines upgraded on reading only."""

import dataclasses
import json

import pytest

from maskbench.bench.store import ResultStore
from maskbench.core.errors import MaskbenchError
from maskbench.report.record import SCHEMA_VERSION, CellRecord, samples_path
from maskbench.samplers import build_sampler

#: docs/results/table1/frame-level/results.jsonl as committed, written before the schema existed.
OLD_LINE = (
    '{"context": 2, "extrap": 2, "feature_seconds": 24.464867712999876, "finished": 1795895042.607286, "frames": 16, '
    '"fvd": 1477.383509712229, "fvd_real_vs_real": 572.7870168209774, "key": "9bca3b6e10748f4c", "length": 32, '
    '"n_fake": 16, "n_real": 16, "nfe": 788, "options": "RDMOptions(time_independent=False, schedule=\'sigmoid\', '
    'steps=250, temperature=1.0)", "sampler": "rdm", "seconds_per_video": 41.284996510874976, "seconds_total": '
    '660.5599441739996, "seed": 0, "stride": 14, "wall_seconds": 690.8621802710004}'
)


def cell(**fields) -> CellRecord:
    sampler = build_sampler("mgm")
    base = dict(key="abc", sampler="mgm", extrap=2, length=32, frames=16, context=2, stride=14, nfe=60,
                seconds_total=4.0, seconds_per_video=1.0, n_fake=4, seed=0, finished=1.0,
                options=dataclasses.asdict(sampler.options), rollout=type(sampler).rollout, fvd=12.5, n_real=4,
                fvd_protocol="full", fvd_frames=32, pairing="p")
    return CellRecord(**{**base, **fields})


def test_round_trip_through_json_and_the_store(tmp_path):
    record = cell()
    assert CellRecord.from_json(json.loads(json.dumps(record.to_json()))) == record
    store = ResultStore(tmp_path / "results.jsonl")
    store.append(record)
    assert ResultStore(tmp_path / "results.jsonl").records == [record]


def test_a_new_line_carries_the_schema_version_and_options_as_data(tmp_path):
    ResultStore(tmp_path / "results.jsonl").append(cell())
    (line,) = (tmp_path / "results.jsonl").read_text().splitlines()
    data = json.loads(line)
    assert data["schema"] == SCHEMA_VERSION and data["options"]["steps"] == 20 and data["rollout"] == "windows"
    assert "reused_from" not in data  # written on copies only
    copied = dataclasses.replace(cell(), reused_from="runs/other")
    assert copied.to_json() == {**cell().to_json(), "reused_from": "runs/other"}


def test_an_old_committed_line_is_upgraded_with_its_options_as_a_dict(tmp_path):
    record = CellRecord.from_json(json.loads(OLD_LINE))
    assert record.options == {"time_independent": False, "schedule": "sigmoid", "steps": 250, "temperature": 1.0}
    assert record.rollout == "rolling" and record.sampler_revision == 1  # RDM rolled its own window; revision 1
    assert (record.fvd, record.n_fake, record.fvd_real_vs_real) == (1477.383509712229, 16, 572.7870168209774)
    assert record.pairing is None and record.ci_level is None and record.fvd_protocol is None
    (tmp_path / "results.jsonl").write_text(OLD_LINE + "\n")
    assert ResultStore(tmp_path / "results.jsonl").records == [record]
    other = CellRecord.from_json({**json.loads(OLD_LINE), "sampler": "mgm", "options": "MGMOptions(steps=20)"})
    assert other.rollout == "windows" and other.options == {"steps": 20}


def test_a_partial_last_line_is_ignored(tmp_path):
    path = tmp_path / "results.jsonl"
    path.write_text(json.dumps(cell().to_json()) + "\n" + OLD_LINE[:40])
    assert [r.key for r in ResultStore(path).records] == ["abc"]


def test_a_future_schema_is_a_one_line_error(tmp_path):
    with pytest.raises(MaskbenchError, match="schema 99") as error:
        CellRecord.from_json({**cell().to_json(), "schema": 99})
    assert "\n" not in str(error.value) and "upgrade maskbench" in str(error.value)
    path = tmp_path / "results.jsonl"
    path.write_text(json.dumps({**cell().to_json(), "schema": SCHEMA_VERSION + 1}) + "\n")
    with pytest.raises(MaskbenchError, match=f"{path} line 1: result record of schema {SCHEMA_VERSION + 1}"):
        ResultStore(path)


def test_unknown_or_missing_fields_are_one_line_errors():
    with pytest.raises(MaskbenchError, match="unknown field"):
        CellRecord.from_json({**cell().to_json(), "surprise": 1})
    data = cell().to_json()
    del data["nfe"]
    with pytest.raises(MaskbenchError, match="lacks field"):
        CellRecord.from_json(data)


def test_samplers_say_how_they_roll_out():
    assert type(build_sampler("mgm")).rollout == "windows" and type(build_sampler("rdm")).rollout == "rolling"


def test_samples_have_one_path(tmp_path):
    assert samples_path(tmp_path, "mgm", 5) == tmp_path / "samples" / "mgm-5x.npy"
