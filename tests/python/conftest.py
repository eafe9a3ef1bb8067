"""Fixtures of the nuri Python package's tests (run by ctest through
/usr/bin/python3 -m pytest with PYTHONPATH=<build>/python; see
tests/python/CMakeLists.txt). NURI_CLI is the `nuri` binary the outputs are
compared against; NURI_SHARED_MODELS the shared models folder."""
import os
import pathlib
import subprocess

import numpy as np
import pytest

import nuri

SHARED = pathlib.Path(os.environ.get("NURI_SHARED_MODELS", "/nonexistent"))


def cli(*args, check=True):
    """Runs the `nuri` command (the reference the package must agree with)."""
    cmd = [os.environ["NURI_CLI"], *map(str, args)]
    p = subprocess.run(cmd, capture_output=True, text=True)
    if check and p.returncode != 0:
        raise AssertionError(f"{' '.join(cmd)} failed:\n{p.stdout}\n{p.stderr}")
    return p


def shared_model(name):
    d = SHARED / name
    if not (d / "model.onnx").exists():
        pytest.skip(f"shared model {name} not present at {d}")
    return d


def tiny_model_bytes(n=64):
    """y = relu(x @ W + b) for x of [1, n] floats: a model whose run is
    microseconds, for the leak, thread and overhead checks."""
    from onnx import TensorProto, helper, numpy_helper
    rng = np.random.default_rng(7)
    w = rng.standard_normal((n, n)).astype(np.float32) / np.sqrt(n)
    b = rng.standard_normal((n,)).astype(np.float32)
    graph = helper.make_graph(
        [helper.make_node("MatMul", ["x", "w"], ["xw"]),
         helper.make_node("Add", ["xw", "b"], ["z"]),
         helper.make_node("Relu", ["z"], ["y"])],
        "tiny",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, n])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, n])],
        [numpy_helper.from_array(w, "w"), numpy_helper.from_array(b, "b")])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 14)])
    model.ir_version = 8
    return model.SerializeToString(), w, b


@pytest.fixture(scope="session")
def tiny():
    data, w, b = tiny_model_bytes()
    return nuri.compile(data), w, b


def load_inputs(model_dir, sub="inputs"):
    return {f.stem: np.load(f) for f in sorted((model_dir / sub).glob("*.npy"))}
