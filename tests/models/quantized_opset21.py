#!/usr/bin/env python3
"""Opset 21's 4-bit and opset 19's float8 Q/DQ, against numpy and ONNX Runtime.

The installed onnx Python package (1.12) predates these types, so the
models are written with their type numbers (uint4 21, int4 22, float8e4m3fn
17) and raw data, as onnx 1.16 and ONNX Runtime's quantizer write them:

1. `int4-blocked`: x [2, 3, 80] -> MatMul by an int4 weight [80, 24]
   blocked along K (axis 0, blocks of 32, the last padded) with int4 zero
   points -> MatMul by the transpose of a uint4 weight [16, 24] blocked
   along axis 1 (blocks of 16) without zero points, its tensors in an
   external data file. Both must import as nuri.dequantize_blocked.
2. `int4-per-axis`: an int4 weight [24, 8] per output channel (no
   block_size), and a uint4 one per tensor with a zero point.
3. `fp8-qdq`: the activation quantized to float8e4m3fn and back (a zero
   zero point given), times a float8e4m3fn weight dequantized per column.

Each runs on Nuri's CPU device (within rtol 1e-4 / atol 1e-5 of an exact
numpy reference computed the ONNX way, and of ONNX Runtime when
onnxruntime-node is on NODE_PATH) and, compiled for atom, on the sim device
(cosine >= 0.999: the weights are bf16 there). The fp8 product folds into an
e4m3 x e4m3 quantized_matmul, which rngd runs on its e4m3 tiles: compiled
for rngd, nothing of it may stay on the CPU.

  quantized_opset21.py --nuri build/bin/nuri [--node node]
"""
import argparse
import pathlib
import subprocess
import sys
import tempfile

import numpy as np
import onnx
from onnx import TensorProto, helper

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
from ort_quantized import run_ort  # noqa: E402

UINT4, INT4, E4M3 = 21, 22, 17
RNG = np.random.default_rng(21)


def raw_tensor(name, dtype, values):
    """A TensorProto of `dtype` from integer codes (4-bit: packed in pairs,
    the first in the low nibble) or float8 bytes."""
    values = np.asarray(values)
    t = TensorProto()
    t.name = name
    t.data_type = dtype
    t.dims.extend(values.shape)
    flat = values.ravel().astype(np.int64)
    if dtype in (UINT4, INT4):
        nibbles = (flat & 0xF).astype(np.uint8)
        if nibbles.size % 2:
            nibbles = np.append(nibbles, np.uint8(0))
        t.raw_data = (nibbles[0::2] | (nibbles[1::2] << 4)).astype(np.uint8).tobytes()
    else:
        t.raw_data = flat.astype(np.uint8).tobytes()
    return t


def e4m3_table():
    """Every finite float8e4m3fn value by its code (NaN codes excluded)."""
    codes = np.arange(256)
    sign = np.where(codes & 0x80, -1.0, 1.0)
    exp, man = (codes >> 3) & 0xF, codes & 7
    value = np.where(exp == 0, man / 8.0 * 2.0**-6, (1 + man / 8.0) * 2.0**(exp - 7.0))
    finite = (codes & 0x7F) != 0x7F
    return codes[finite], (sign * value)[finite]


CODES, VALUES = e4m3_table()


def to_e4m3(x):
    """Round to nearest float8e4m3fn (ties to an even code), saturating at
    +-448: ONNX's QuantizeLinear with saturate=1. Returns codes."""
    x = np.clip(np.asarray(x, np.float64), -448.0, 448.0)
    d = np.abs(x.reshape(-1, 1) - VALUES.reshape(1, -1))
    best = d.min(axis=1, keepdims=True)
    tied = d == best
    # Prefer the even code among ties; +0 over -0.
    pick = np.where(tied, (CODES.reshape(1, -1) & 1) * 2 + (CODES.reshape(1, -1) >> 7), 99)
    return CODES[pick.argmin(axis=1)].reshape(x.shape)


def from_e4m3(codes):
    lut = np.zeros(256)
    lut[CODES] = VALUES
    return lut[np.asarray(codes)]


def model(name, nodes, inits, x_shape, y_shape, opset):
    graph = helper.make_graph(
        nodes, name, [helper.make_tensor_value_info("x", TensorProto.FLOAT, x_shape)],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, y_shape)], inits)
    m = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])
    m.ir_version = 10 if opset >= 21 else 9
    return m


def blocked_dq(q, scale, zero, axis, block):
    rep = np.repeat(scale, block, axis=axis).take(range(q.shape[axis]), axis=axis)
    zrep = np.repeat(zero, block, axis=axis).take(range(q.shape[axis]), axis=axis)
    return ((q - zrep) * rep.astype(np.float64))


def int4_blocked():
    wa = RNG.integers(-8, 8, (80, 24))
    sa = (RNG.random((3, 24)) * 0.05 + 0.01).astype(np.float32)
    za = RNG.integers(-2, 3, (3, 24))
    wb = RNG.integers(0, 16, (16, 24))
    sb = (RNG.random((16, 2)) * 0.05 + 0.01).astype(np.float32)
    nodes = [
        helper.make_node("DequantizeLinear", ["wa", "sa", "za"], ["wa_f"], axis=0, block_size=32),
        helper.make_node("MatMul", ["x", "wa_f"], ["h"]),
        helper.make_node("DequantizeLinear", ["wb", "sb"], ["wb_f"], axis=1, block_size=16),
        helper.make_node("Transpose", ["wb_f"], ["wb_t"], perm=[1, 0]),
        helper.make_node("MatMul", ["h", "wb_t"], ["y"]),
    ]
    inits = [raw_tensor("wa", INT4, wa), helper.make_tensor("sa", TensorProto.FLOAT, sa.shape, sa.ravel()),
             raw_tensor("za", INT4, za), raw_tensor("wb", UINT4, wb),
             helper.make_tensor("sb", TensorProto.FLOAT, sb.shape, sb.ravel())]
    x = RNG.standard_normal((2, 3, 80)).astype(np.float32)
    wa_f = blocked_dq(wa, sa, za, 0, 32)
    wb_f = blocked_dq(wb, sb, np.zeros_like(sb, np.int64), 1, 16)
    want = (x.astype(np.float64) @ wa_f) @ wb_f.T
    return model("int4-blocked", nodes, inits, [2, 3, 80], [2, 3, 16], 21), x, want, 2


def int4_per_axis():
    wa = RNG.integers(-8, 8, (24, 8))
    sa = (RNG.random(8) * 0.1 + 0.01).astype(np.float32)
    wb = RNG.integers(0, 16, (8, 8))
    nodes = [
        helper.make_node("DequantizeLinear", ["wa", "sa"], ["wa_f"], axis=1),
        helper.make_node("MatMul", ["x", "wa_f"], ["h"]),
        helper.make_node("DequantizeLinear", ["wb", "sb", "zb"], ["wb_f"]),
        helper.make_node("MatMul", ["h", "wb_f"], ["y"]),
    ]
    inits = [raw_tensor("wa", INT4, wa), helper.make_tensor("sa", TensorProto.FLOAT, [8], sa),
             raw_tensor("wb", UINT4, wb), helper.make_tensor("sb", TensorProto.FLOAT, [], [0.03]),
             raw_tensor("zb", UINT4, np.array(7))]
    x = RNG.standard_normal((4, 24)).astype(np.float32)
    want = (x.astype(np.float64) @ (wa * sa.astype(np.float64))) @ ((wb - 7) * np.float64(np.float32(0.03)))
    return model("int4-per-axis", nodes, inits, [4, 24], [4, 8], 21), x, want, 0


def fp8_qdq():
    w = RNG.standard_normal((24, 8)) * 0.5
    sw = (np.abs(w).max(axis=0) / 448.0).astype(np.float32)
    wq = to_e4m3(w / sw)
    sx = np.float32(0.02)
    nodes = [
        helper.make_node("QuantizeLinear", ["x", "sx", "zx"], ["xq"]),
        helper.make_node("DequantizeLinear", ["xq", "sx", "zx"], ["xf"]),
        helper.make_node("DequantizeLinear", ["w", "sw"], ["wf"], axis=1),
        helper.make_node("MatMul", ["xf", "wf"], ["y"]),
    ]
    inits = [helper.make_tensor("sx", TensorProto.FLOAT, [], [float(sx)]),
             raw_tensor("zx", E4M3, np.array(0)), raw_tensor("w", E4M3, wq),
             helper.make_tensor("sw", TensorProto.FLOAT, [8], sw)]
    x = RNG.standard_normal((4, 24)).astype(np.float32)
    xq = from_e4m3(to_e4m3((x / sx).astype(np.float32)))
    want = (xq * np.float64(sx)) @ (from_e4m3(wq) * sw.astype(np.float64))
    return model("fp8-qdq", nodes, inits, [4, 24], [4, 8], 19), x, want, 0


def run_nuri(nuri, path, x, work, target):
    package = work / f"{path.stem}.{target}.nuri"
    subprocess.run([nuri, "compile", str(path), "--target", target, "-o", str(package)],
                   check=True)
    np.save(work / "x.npy", x)
    out = work / f"out.{path.stem}.{target}"
    subprocess.run([nuri, "run", str(package), "--device", "cpu" if target == "cpu" else "sim",
                    "--input", f"x={work / 'x.npy'}", "--output-dir", str(out)],
                   check=True, capture_output=True)
    return np.load(out / "y.npy")


def close(what, got, want, rtol=1e-4, atol=1e-5):
    ok = np.isclose(got, want, rtol=rtol, atol=atol)
    err = float(np.abs(got - want).max())
    print(f"  {what}: max |error| {err:.3g} (max |y| {np.abs(want).max():.3g}), "
          f"{np.count_nonzero(~ok)} of {ok.size} outside tolerance")
    return bool(ok.all())


def cosine(what, got, want, least=0.999):
    cos = float(np.dot(got.ravel(), want.ravel()) / (np.linalg.norm(got) * np.linalg.norm(want)))
    print(f"  {what}: cosine {cos:.6f} (at least {least})")
    return cos >= least


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--nuri", required=True)
    parser.add_argument("--node", default="node")
    args = parser.parse_args()
    ok, ort_missing = True, False
    with tempfile.TemporaryDirectory() as tmp:
        work = pathlib.Path(tmp)
        for make in (int4_blocked, int4_per_axis, fp8_qdq):
            m, x, want, blocked = make()
            path = work / f"{m.graph.name}.onnx"
            # The blocked weights as external data (the 4-bit bytes in
            # model.onnx.data), the others inline.
            onnx.save(m, str(path), save_as_external_data=m.graph.name == "int4-blocked",
                      location=f"{m.graph.name}.onnx.data", size_threshold=0)
            print(m.graph.name)
            imported = subprocess.run([args.nuri, "import", str(path)], check=True,
                                      capture_output=True, text=True).stdout
            count = imported.count("nuri.dequantize_blocked")
            print(f"  import: {count} nuri.dequantize_blocked (want {blocked})")
            ok &= count == blocked
            cpu = run_nuri(args.nuri, path, x, work, "cpu")
            ok &= close("cpu vs numpy", cpu, want)
            ok &= cosine("sim (atom) vs numpy", run_nuri(args.nuri, path, x, work, "atom"), want)
            if make is fp8_qdq:
                report = subprocess.run(
                    [args.nuri, "compile", str(path), "--target", "rngd", "--report", "-o",
                     str(work / "fp8.rngd.nuri")], check=True, capture_output=True,
                    text=True).stdout
                tiles = "npu.quantized_gemm" in report and "0 on the CPU" in report
                print(f"  rngd: the product on the e4m3 tiles, nothing on the CPU: {tiles}")
                ok &= tiles
                ok &= cosine("sim (rngd) vs numpy", run_nuri(args.nuri, path, x, work, "rngd"),
                             want)
            try:
                ort = run_ort(args.node, path, {"x": x}, work)["y"]
            except (SystemExit, FileNotFoundError):
                ort_missing = True
                continue
            ok &= close("ONNX Runtime vs numpy (the reference itself)", ort, want)
            ok &= close("cpu vs ONNX Runtime", cpu, ort)
    if ort_missing:
        print("ONNX Runtime: node or onnxruntime-node (NODE_PATH) missing, not compared")
    print("PASS" if ok else "FAIL")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
