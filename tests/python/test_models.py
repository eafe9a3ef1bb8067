"""The shared models from Python give exactly what `nuri compile` + `nuri
run` give: the same package bytes and bit-identical outputs, on the cpu
device (fp32) and on the simulated NPU (atom, bf16), with the sim report's
cycles equal to `nuri run --json`'s."""
import json

import numpy as np
import pytest

import nuri
from conftest import cli, load_inputs, shared_model

CASES = [
    ("bert-toy-pretrain-torch11", "cpu", "cpu"),
    ("bert-toy-pretrain-torch11", "atom", "sim"),
    ("distilbert-tiny-optimum", "cpu", "cpu"),
    ("distilbert-tiny-optimum", "atom", "sim"),
    ("bert-tiny-keras2onnx-qa", "cpu", "cpu"),
]


@pytest.mark.parametrize("model,target,device", CASES,
                         ids=[f"{m}-{t}-{d}" for m, t, d in CASES])
def test_outputs_equal_cli(tmp_path, model, target, device):
    d = shared_model(model)
    inputs = load_inputs(d)
    shapes = {k: v.shape for k, v in inputs.items()}
    producer = "nuri compile model.onnx"  # what the CLI writes
    pkg = nuri.compile(d / "model.onnx", target=target, input_shapes=shapes,
                       producer=producer)
    assert pkg.report["target"] == target
    assert pkg.report["partitions"], pkg.report

    cli_pkg = tmp_path / "cli.nuri"
    cli("compile", d / "model.onnx", "--target", target, "-o", cli_pkg,
        *sum((["--input-shape", f"{k}={'x'.join(map(str, s))}"]
              for k, s in shapes.items()), []))
    assert pkg.to_bytes() == cli_pkg.read_bytes(), "packages differ"

    args = ["run", cli_pkg, "--device", device, "--json", "--output-dir", tmp_path / "out"]
    for name in inputs:
        args += ["--input", f"{name}={d / 'inputs' / (name + '.npy')}"]
    ref = json.loads(cli(*args).stdout)

    session = nuri.Session(pkg, device=device)
    outputs, stats = session.run(inputs, stats=True)
    assert set(outputs) == {o["name"] for o in ref["outputs"]}
    for o in ref["outputs"]:
        want = np.load(o["file"])
        got = outputs[o["name"]]
        assert got.dtype == want.dtype and got.shape == want.shape, o["name"]
        assert np.array_equal(got, want), f"{o['name']} differs from nuri run"
    assert stats["device"] == device
    if device == "sim":
        assert stats["sim"]["cycles"] == ref["sim"]["cycles"] > 0
        assert stats["sim"]["dram_bytes"] == ref["sim"]["dram_bytes"]
        assert stats["sim"]["npu_partitions"] == ref["sim"]["npu_partitions"] >= 1
        assert [p["name"] for p in stats["partitions"]] == \
            [p["name"] for p in ref["partitions"]]


def test_save_load_roundtrip(tmp_path):
    d = shared_model("distilbert-tiny-optimum")
    inputs = load_inputs(d)
    pkg = nuri.compile(str(d / "model.onnx"),
                       input_shapes={k: v.shape for k, v in inputs.items()})
    path = tmp_path / "m.nuri"
    pkg.save(path)
    loaded = nuri.load(path)
    assert loaded.report is None and loaded.path == str(path)
    assert loaded.to_bytes() == pkg.to_bytes()
    assert [i["name"] for i in loaded.inputs] == sorted(inputs) or \
        {i["name"] for i in loaded.inputs} == set(inputs)
    a = nuri.Session(pkg, "cpu").run(inputs)
    b = nuri.Session(str(path), "cpu").run(inputs)
    for k in a:
        assert np.array_equal(a[k], b[k])
    # Also against ONNX Runtime's reference outputs (fp32 CPU).
    for f in (d / "outputs").glob("*.npy"):
        np.testing.assert_allclose(a[f.stem], np.load(f), rtol=1e-3, atol=1e-4)


def test_compile_from_bytes_equals_path():
    d = shared_model("bert-toy-pretrain-torch11")
    shapes = {k: v.shape for k, v in load_inputs(d).items()}
    a = nuri.compile(d / "model.onnx", input_shapes=shapes, producer="p")
    b = nuri.compile((d / "model.onnx").read_bytes(), input_shapes=shapes, producer="p")
    assert a.to_bytes() == b.to_bytes()
