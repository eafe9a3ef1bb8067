"""What the NPU quantization checks share: running the nuri CLI, reporting a
check, and the two-layer MLP with a residual they quantize (MatMul+bias,
Relu, MatMul+bias, Add)."""

import argparse
import pathlib
import subprocess
import sys

import onnx
from onnx import TensorProto, helper, numpy_helper


def parse_args():
    """--nuri (the CLI) and --work (a scratch folder, created)."""
    ap = argparse.ArgumentParser()
    ap.add_argument("--nuri", required=True)
    ap.add_argument("--work", required=True, type=pathlib.Path)
    args = ap.parse_args()
    args.work.mkdir(parents=True, exist_ok=True)
    return args


def run(cmd):
    p = subprocess.run([str(c) for c in cmd], capture_output=True, text=True)
    if p.returncode != 0:
        sys.exit(f"FAILED ({p.returncode}): {' '.join(map(str, cmd))}\n{p.stdout}\n{p.stderr}")
    return p.stdout + p.stderr


def expect(cond, what):
    print(("ok: " if cond else "FAIL: ") + what)
    if not cond:
        sys.exit(1)


def save_mlp(path, w1, b1, w2, b2, s):
    """y = fc2(relu(fc1(x))) + x for x [1, s, d], fc1 [d, f], fc2 [f, d]."""
    d = w1.shape[0]
    nodes = [
        helper.make_node("MatMul", ["x", "W1"], ["h1"], name="fc1/MatMul"),
        helper.make_node("Add", ["h1", "b1"], ["h2"], name="fc1/Add"),
        helper.make_node("Relu", ["h2"], ["h3"], name="act"),
        helper.make_node("MatMul", ["h3", "W2"], ["h4"], name="fc2/MatMul"),
        helper.make_node("Add", ["h4", "b2"], ["h5"], name="fc2/Add"),
        helper.make_node("Add", ["h5", "x"], ["y"], name="res"),
    ]
    g = helper.make_graph(
        nodes, "mlp", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, s, d])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, s, d])],
        [numpy_helper.from_array(w1, "W1"), numpy_helper.from_array(b1, "b1"),
         numpy_helper.from_array(w2, "W2"), numpy_helper.from_array(b2, "b2")])
    onnx.save(helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)]), path)
