#!/usr/bin/env python3
"""Quantized ONNX models built here, run by Nuri's CPU device and by ONNX Runtime.

1. `dynamic-matmul`: one MatMul quantized the way ONNX Runtime's
   quantize_dynamic writes it (DynamicQuantizeLinear, MatMulInteger, Cast,
   Mul of the scales, Mul). Nuri folds it into one quantized_matmul; the
   output must equal ONNX Runtime's bit for bit.
2. `bert-dynamic`: the shared BERT toy (5 layers) with every weight MatMul
   rewritten into that pattern (per-channel int8 and per-tensor uint8
   weights, alternating) and its two Gemms (transB) into QDQ form
   (QuantizeLinear/DequantizeLinear on the activation, a per-axis int8
   weight DequantizeLinear on axis 0). Every output must match ONNX
   Runtime's within --atol / --rtol (the float parts, LayerNorm, GELU,
   softmax, round differently and can move a value across a quantization
   step), and Nuri's graph must hold a folded quantized_matmul for every
   quantized product, none left as MatMulInteger.

3. `matmul-nbits`: com.microsoft MatMulNBits (onnxruntime-genai's int4
   weights): K = 80 in blocks of 32 (the last padded), uint4 values with
   packed zero points and a bias, and the same without zero points (8
   implied), feeding a GELU. Nuri maps each onto nuri.dequantize_blocked and
   a float linear; the outputs must match ONNX Runtime's within the
   tolerance (both dequantize exactly; the sums round differently).

ONNX Runtime runs through tests/unit/zoo/ort_check.js (onnxruntime-node,
NODE_PATH); without it the test exits 77 (skipped).

  ort_quantized.py --nuri build/bin/nuri --bert ../shared/models/bert-toy-pretrain-torch11
"""
import argparse
import json
import pathlib
import subprocess
import sys
import tempfile

import numpy as np
import onnx
from onnx import helper, numpy_helper, version_converter, TensorProto

HERE = pathlib.Path(__file__).resolve().parent
ORT_CHECK = HERE.parent / "unit" / "zoo" / "ort_check.js"


def quantize_weight(w, per_channel, axis):
    """ONNX Runtime's weight schemes: symmetric int8 per output channel with
    reduce_range (7 bits), or asymmetric uint8 per tensor.

    reduce_range is what ONNX Runtime asks for on x86 without VNNI: there its
    uint8 x int8 kernel (vpmaddubsw) saturates each pair of products to
    int16, so full-range int8 weights make its MatMulInteger differ from
    ONNX's exact int32 definition, which Nuri computes. With 7-bit weights a
    pair stays below 2^15 and both are exact."""
    if per_channel:
        amax = np.max(np.abs(w), axis=1 - axis)
        scale = (np.maximum(amax, 1e-8) / 63.0).astype(np.float32)
        shaped = scale.reshape((-1, 1) if axis == 0 else (1, -1))
        q = np.clip(np.rint(w / shaped), -63, 63).astype(np.int8)
        return q, scale, np.zeros(scale.shape, np.int8)
    lo, hi = min(float(w.min()), 0.0), max(float(w.max()), 0.0)
    scale = np.float32((hi - lo) / 255.0)
    zero = np.uint8(np.clip(np.rint(-lo / scale), 0, 255))
    q = np.clip(np.rint(w / scale) + zero, 0, 255).astype(np.uint8)
    return q, np.array(scale, np.float32), np.array(zero, np.uint8)


class Rewriter:
    def __init__(self, model):
        self.model = model
        self.graph = model.graph
        self.inits = {i.name: i for i in self.graph.initializer}
        self.dynamic = {}  # activation -> (q, scale, zero)
        self.count = 0

    def add_init(self, name, array):
        self.graph.initializer.append(numpy_helper.from_array(array, name))

    def dynamic_matmul(self, node, out, per_channel):
        x, w_name = node.input
        w = numpy_helper.to_array(self.inits[w_name]).astype(np.float32)
        q, scale, zero = quantize_weight(w, per_channel, axis=1)
        tag = f"q{self.count}"
        self.count += 1
        self.add_init(f"{tag}_w", q)
        self.add_init(f"{tag}_ws", scale)
        self.add_init(f"{tag}_wz", zero)
        if x not in self.dynamic:
            names = (f"{tag}_xq", f"{tag}_xs", f"{tag}_xz")
            out.append(helper.make_node("DynamicQuantizeLinear", [x],
                                        list(names), name=f"{tag}_dql"))
            self.dynamic[x] = names
        xq, xs, xz = self.dynamic[x]
        out += [
            helper.make_node("MatMulInteger", [xq, f"{tag}_w", xz, f"{tag}_wz"],
                             [f"{tag}_acc"], name=f"{tag}_mmi"),
            helper.make_node("Cast", [f"{tag}_acc"], [f"{tag}_accf"],
                             to=TensorProto.FLOAT, name=f"{tag}_cast"),
            helper.make_node("Mul", [xs, f"{tag}_ws"], [f"{tag}_s"],
                             name=f"{tag}_scales"),
            helper.make_node("Mul", [f"{tag}_accf", f"{tag}_s"],
                             [node.output[0]], name=f"{tag}_out"),
        ]

    def qdq_gemm(self, node, out):
        a, b = node.input[0], node.input[1]
        trans_b = next((h.i for h in node.attribute if h.name == "transB"), 0)
        w = numpy_helper.to_array(self.inits[b]).astype(np.float32)
        axis = 0 if trans_b else 1
        q, scale, _ = quantize_weight(w, True, axis=axis)
        tag = f"q{self.count}"
        self.count += 1
        self.add_init(f"{tag}_w", q)
        self.add_init(f"{tag}_ws", scale)
        self.add_init(f"{tag}_as", np.array(0.035, np.float32))
        self.add_init(f"{tag}_az", np.array(128, np.uint8))
        out += [
            helper.make_node("QuantizeLinear", [a, f"{tag}_as", f"{tag}_az"],
                             [f"{tag}_aq"], name=f"{tag}_qa"),
            helper.make_node("DequantizeLinear", [f"{tag}_aq", f"{tag}_as",
                                                  f"{tag}_az"],
                             [f"{tag}_adq"], name=f"{tag}_dqa"),
            helper.make_node("DequantizeLinear", [f"{tag}_w", f"{tag}_ws"],
                             [f"{tag}_wdq"], axis=axis, name=f"{tag}_dqw"),
        ]
        gemm = helper.make_node("Gemm", [f"{tag}_adq", f"{tag}_wdq",
                                         *node.input[2:]],
                                list(node.output), name=node.name)
        gemm.attribute.extend(node.attribute)
        out.append(gemm)

    def run(self):
        nodes = []
        matmuls = 0
        for node in self.graph.node:
            weight = node.input[1] if len(node.input) > 1 else None
            const_2d = weight in self.inits and len(self.inits[weight].dims) == 2
            if node.op_type == "MatMul" and const_2d:
                self.dynamic_matmul(node, nodes, per_channel=matmuls % 2 == 0)
                matmuls += 1
            elif node.op_type == "Gemm" and const_2d:
                self.qdq_gemm(node, nodes)
            else:
                nodes.append(node)
        del self.graph.node[:]
        self.graph.node.extend(nodes)
        return self.count


def dynamic_matmul_model(path):
    """One ORT-style dynamically quantized MatMul, [2, 8, 40] x [40, 24]."""
    rng = np.random.default_rng(5)
    w = rng.normal(0, 0.3, (40, 24)).astype(np.float32)
    graph = helper.make_graph(
        [helper.make_node("MatMul", ["x", "w"], ["y"], name="mm")], "mm",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [2, 8, 40])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [2, 8, 24])],
        [numpy_helper.from_array(w, "w")])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    count = Rewriter(model).run()
    onnx.save(model, path)
    x = rng.normal(0, 1.5, (2, 8, 40)).astype(np.float32)
    return count, {"x": x}


def pack_nibbles(values):
    """uint4 values along the last axis, two a byte, the first in the low bits."""
    values = values.astype(np.uint8)
    if values.shape[-1] % 2:
        values = np.concatenate([values, np.zeros(values.shape[:-1] + (1,), np.uint8)], -1)
    return (values[..., 0::2] | (values[..., 1::2] << 4)).astype(np.uint8)


def matmul_nbits_model(path):
    """Two MatMulNBits, [2, 8, 80] -> [2, 8, 24] -> [2, 8, 16], the first with
    uint4 zero points and a bias, the second with neither."""
    rng = np.random.default_rng(9)
    block, nodes, inits = 32, [], []

    def nbits(name, x, y, k, n, zero_points, bias):
        blocks = (k + block - 1) // block
        q = rng.integers(0, 16, (n, blocks, block)).astype(np.uint8)
        q[:, -1, k - (blocks - 1) * block:] = 0  # padding past K
        scales = rng.uniform(0.01, 0.05, (n * blocks,)).astype(np.float32)
        inputs = [x, name + ".B", name + ".scales"]
        inits.extend([numpy_helper.from_array(pack_nibbles(q), name + ".B"),
                      numpy_helper.from_array(scales, name + ".scales")])
        if zero_points:
            zp = rng.integers(0, 16, (n, blocks)).astype(np.uint8)
            inits.append(numpy_helper.from_array(pack_nibbles(zp).reshape(-1),
                                                 name + ".zp"))
            inputs.append(name + ".zp")
        if bias:
            inputs += ["", ""] if not zero_points else [""]
            inputs.append(name + ".bias")
            inits.append(numpy_helper.from_array(
                rng.normal(0, 0.1, (n,)).astype(np.float32), name + ".bias"))
        nodes.append(helper.make_node(
            "MatMulNBits", inputs, [y], name=name, domain="com.microsoft",
            K=k, N=n, bits=4, block_size=block))

    nbits("up", "x", "h", 80, 24, zero_points=True, bias=True)
    nodes.append(helper.make_node("Gelu", ["h"], ["g"], name="gelu", domain="com.microsoft"))
    nbits("down", "g", "y", 24, 16, zero_points=False, bias=False)
    graph = helper.make_graph(
        nodes, "nbits",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [2, 8, 80])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [2, 8, 16])], inits)
    model = helper.make_model(graph, opset_imports=[
        helper.make_opsetid("", 17), helper.make_opsetid("com.microsoft", 1)])
    onnx.save(model, path)
    return {"x": rng.normal(0, 1.0, (2, 8, 80)).astype(np.float32)}


def bert_model(bert_dir, path):
    model = onnx.load(str(bert_dir / "model.onnx"))
    # Per-axis DequantizeLinear needs opset 13.
    model = version_converter.convert_version(model, 13)
    count = Rewriter(model).run()
    onnx.save(model, path)
    feeds = {p.stem: np.load(p) for p in sorted((bert_dir / "inputs").glob("*.npy"))}
    return count, feeds


def run_ort(node, model, feeds, work):
    manifest = []
    for name, array in feeds.items():
        file = work / f"feed.{name}.bin"
        file.write_bytes(np.ascontiguousarray(array).tobytes())
        kind = {"int64": "int64", "float32": "float32"}[str(array.dtype)]
        manifest.append({"name": name, "type": kind, "dims": list(array.shape),
                         "file": str(file)})
    (work / "feeds.json").write_text(json.dumps(manifest))
    result = subprocess.run([node, str(ORT_CHECK), "--feeds", str(work),
                             str(model)], capture_output=True, text=True)
    if result.returncode == 77:
        print("onnxruntime-node not installed (set NODE_PATH): skipped")
        sys.exit(77)
    if result.returncode:
        raise RuntimeError(f"ONNX Runtime failed: {result.stdout}{result.stderr}")
    outputs = {}
    for out in json.loads((work / "outputs.json").read_text()):
        data = np.frombuffer(pathlib.Path(out["file"]).read_bytes(), np.float32)
        outputs[out["name"]] = data.reshape(out["dims"])
    return outputs


def run_nuri(nuri, model, feeds, work):
    shapes, inputs = [], []
    for name, array in feeds.items():
        npy = work / f"in.{name}.npy"
        np.save(npy, array)
        shapes += ["--input-shape", f"{name}={'x'.join(map(str, array.shape))}"]
        inputs += ["--input", f"{name}={npy}"]
    package = work / "model.nuri"
    subprocess.run([nuri, "compile", str(model), "--target", "cpu", *shapes,
                    "-o", str(package)], check=True)
    imported = subprocess.run([nuri, "import", str(model), *shapes],
                              check=True, capture_output=True, text=True).stdout
    out = work / "nuri_out"
    subprocess.run([nuri, "run", str(package), "--device", "cpu", *inputs,
                    "--output-dir", str(out)], check=True, capture_output=True)
    return {p.stem: np.load(p) for p in out.glob("*.npy")}, imported


def check_folded(imported, count, what):
    folded = sum(1 for line in imported.splitlines()
                 if "nuri.quantized_matmul" in line and " scales(" in line)
    left = [line.strip()[:80] for line in imported.splitlines()
            if "MatMulInteger" in line or "nuri.dequantize" in line or
            ("nuri.quantized_matmul" in line and " scales(" not in line)]
    print(f"{what}: {folded} folded quantized_matmul of {count} quantized "
          f"products; left unfolded: {left or 'nothing'}")
    return folded == count and not left


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--nuri", required=True)
    parser.add_argument("--node", default="node")
    parser.add_argument("--bert", required=True, type=pathlib.Path)
    parser.add_argument("--rtol", type=float, default=1e-4)
    parser.add_argument("--atol", type=float, default=1e-5)
    args = parser.parse_args()
    ok = True
    with tempfile.TemporaryDirectory() as tmp:
        work = pathlib.Path(tmp)

        model = work / "dynamic-matmul.onnx"
        count, feeds = dynamic_matmul_model(model)
        want = run_ort(args.node, model, feeds, work)
        got, imported = run_nuri(args.nuri, model, feeds, work)
        ok &= check_folded(imported, count, "dynamic-matmul")
        differ = int(np.count_nonzero(got["y"] != want["y"]))
        print(f"dynamic-matmul: {differ} of {want['y'].size} elements differ "
              f"from ONNX Runtime (must be 0)")
        ok &= differ == 0

        model = work / "matmul-nbits.onnx"
        feeds = matmul_nbits_model(model)
        want = run_ort(args.node, model, feeds, work)
        got, imported = run_nuri(args.nuri, model, feeds, work)
        blocked = imported.count("nuri.dequantize_blocked")
        err = np.abs(got["y"].astype(np.float64) - want["y"])
        close = np.isclose(got["y"], want["y"], rtol=args.rtol, atol=args.atol)
        print(f"matmul-nbits: {blocked} nuri.dequantize_blocked (must be 2); "
              f"max |error| {err.max():.3g} (max |y| {np.abs(want['y']).max():.3g}), "
              f"{np.count_nonzero(~close)} of {close.size} outside tolerance")
        ok &= blocked == 2 and bool(close.all())

        model = work / "bert-dynamic.onnx"
        count, feeds = bert_model(args.bert, model)
        want = run_ort(args.node, model, feeds, work)
        got, imported = run_nuri(args.nuri, model, feeds, work)
        ok &= check_folded(imported, count, "bert-dynamic")
        for name, w in want.items():
            g = got[name]
            err = np.abs(g.astype(np.float64) - w)
            close = np.isclose(g, w, rtol=args.rtol, atol=args.atol)
            cos = float(np.dot(g.ravel(), w.ravel()) /
                        (np.linalg.norm(g) * np.linalg.norm(w)))
            print(f"bert-dynamic {name}: max |error| {err.max():.3g}, "
                  f"{np.count_nonzero(g == w)} of {w.size} bit-exact, "
                  f"{np.count_nonzero(~close)} outside tolerance, "
                  f"cosine {cos:.7f}")
            ok &= bool(close.all())
    print("PASS" if ok else "FAIL")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
