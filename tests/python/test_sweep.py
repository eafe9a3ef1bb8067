"""nuri.sweep gives the rows `nuri sweep` writes for the same spec, from a
dict or a YAML file; a bad spec raises with the file and field."""
import json

import pytest

import nuri
from conftest import cli

SPEC = {
    "name": "py-tiny",
    "workloads": [{"name": "bert", "zoo": "bert-tiny", "layers": 1, "batch": 1,
                   "seq": 16, "dtype": "bf16"}],
    "target": "atom",
    "axes": {"cores": [2, 4]},
    "objectives": [{"minimize": "latency_s"}, {"minimize": "area_mm2"}],
    "search": "grid",
}


def test_sweep_equals_cli(tmp_path):
    rows = nuri.sweep(SPEC, out_dir=tmp_path / "py")
    assert [r["point"] for r in rows] == [0, 1]
    assert all(r["status"] == "ok" for r in rows), rows
    assert rows[0]["bert.latency_s"] > rows[1]["bert.latency_s"] > 0
    spec = tmp_path / "spec.yaml"
    spec.write_text(json.dumps(SPEC))
    cli("sweep", spec, "-o", tmp_path / "cli", "--quiet")
    ref = [json.loads(line) for line in open(tmp_path / "cli" / "results.jsonl")]
    ref.sort(key=lambda r: r["point"])
    for got, want in zip(rows, ref):
        for key in ("status", "bert.latency_s", "bert.cycles", "area_mm2", "cores"):
            if key in want:
                assert got[key] == pytest.approx(want[key]), key
    # From the file, into a temporary folder: the same rows.
    again = nuri.sweep(spec)
    assert [r["bert.latency_s"] for r in again] == [r["bert.latency_s"] for r in rows]


def test_bad_spec(tmp_path):
    bad = dict(SPEC, axes={"no_such_key": [1, 2]})
    with pytest.raises(nuri.Error, match="no_such_key"):
        nuri.sweep(bad, out_dir=tmp_path)
    with pytest.raises(nuri.Error, match=r"<spec dict>.*workloads"):
        nuri.sweep({"name": "empty"})
