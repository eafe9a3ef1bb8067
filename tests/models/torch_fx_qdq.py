#!/usr/bin/env python3
"""A QDQ model from PyTorch's own quantization flow, run by Nuri on cpu and sim.

PyTorch (Debian's python3-torch) quantizes two small models with its FX
post-training flow (prepare_fx with the x86 qconfig mapping: per-tensor
uint8 activations, per-channel symmetric int8 weights; calibrate; convert_fx)
and exports them with torch.onnx.export (opset 13), so the QDQ graphs are
what a user of torch.ao gets, quirks included (a Cast after every
QuantizeLinear, int32 bias DequantizeLinear with ConstantOfShape zero points):

- `linear-2d`: Linear, ReLU, Linear on [4, 16], exported as Gemm (transB);
- `mlp-3d`: Linear, ReLU, Linear, a residual add, Linear on [2, 5, 16],
  exported as MatMul(x, Transpose(DequantizeLinear(W))).

Checks, per model:
- Nuri's import folds every quantized product into nuri.quantized_matmul
  (no float matmul left);
- `nuri run --device cpu` is within one LSB of the output's quantization step
  of PyTorch's own quantized model and of ONNX Runtime's CPU provider (when
  onnxruntime-node is on NODE_PATH; without it that comparison is skipped and
  said so);
- compiled for atom and run on the sim device (the float glue between the
  quantized products in bf16 there, so an activation can land one step off
  before each of the two requantizations on the residual path): cosine >=
  0.999 and within two steps plus bf16's rounding of the output.

Exits 77 (skipped) when torch cannot be imported.

  torch_fx_qdq.py --nuri build/bin/nuri [--node node]
"""
import argparse
import pathlib
import subprocess
import sys
import tempfile
import warnings

import numpy as np

try:
    import torch
    from torch.ao.quantization import get_default_qconfig_mapping
    from torch.ao.quantization.quantize_fx import convert_fx, prepare_fx
except ImportError as e:
    print(f"python3-torch not importable ({e}): skipped")
    sys.exit(77)

import onnx

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
from ort_quantized import run_ort  # noqa: E402  (onnxruntime-node through ort_check.js)


class Linear2d(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.a = torch.nn.Linear(16, 32)
        self.b = torch.nn.Linear(32, 8)

    def forward(self, x):
        return self.b(torch.relu(self.a(x)))


class Mlp3d(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.a = torch.nn.Linear(16, 32)
        self.b = torch.nn.Linear(32, 16)
        self.c = torch.nn.Linear(16, 8)

    def forward(self, x):
        return self.c(self.b(torch.relu(self.a(x))) + x)


def export(module, shape, path):
    """FX post-training quantization, calibrated on 16 random batches, then
    torch.onnx.export. Returns the input, PyTorch's quantized output and the
    output's quantization step (the last Linear's output scale)."""
    torch.manual_seed(0)
    model = module().eval()
    x = torch.randn(*shape)
    prepared = prepare_fx(model, get_default_qconfig_mapping("x86"), (x,))
    with torch.no_grad():
        for _ in range(16):
            prepared(torch.randn(*shape))
        quantized = convert_fx(prepared)
        y = quantized(x)
        torch.onnx.export(quantized, (x,), str(path), opset_version=13,
                          input_names=["x"], output_names=["y"])
    last = [m for m in quantized.modules() if hasattr(m, "scale")][-1]
    return x.numpy(), y.numpy(), float(last.scale)


def run_nuri(nuri, model, x, work, target):
    package = work / f"{model.stem}.{target}.nuri"
    subprocess.run([nuri, "compile", str(model), "--target", target,
                    "-o", str(package)], check=True)
    np.save(work / "x.npy", x)
    out = work / f"out.{model.stem}.{target}"
    subprocess.run([nuri, "run", str(package), "--device",
                    "cpu" if target == "cpu" else "sim", "--input",
                    f"x={work / 'x.npy'}", "--output-dir", str(out)],
                   check=True, capture_output=True)
    return np.load(out / "y.npy")


def compare(what, got, want, step, max_steps, min_cosine=None, bf16=False):
    """Within max_steps quantization steps (plus, for an output a bf16 NPU
    partition dequantized, bf16's rounding of it: 2^-9 relative)."""
    err = float(np.abs(got.astype(np.float64) - want).max())
    allowed = max_steps * step + (2.0**-9 * float(np.abs(want).max()) if bf16 else 0.0)
    cos = float(np.dot(got.ravel(), want.ravel()) /
                (np.linalg.norm(got) * np.linalg.norm(want)))
    ok = err <= allowed * (1 + 1e-5) and (min_cosine is None or cos >= min_cosine)
    print(f"  {what}: max |error| {err:.4g} = {err / step:.2f} steps of {step:.4g} "
          f"(at most {max_steps}{' + bf16 rounding' if bf16 else ''}), {np.count_nonzero(got != want)} of {want.size} differ, "
          f"cosine {cos:.6f}{'' if min_cosine is None else f' (at least {min_cosine})'}"
          f": {'ok' if ok else 'FAIL'}")
    return ok


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--nuri", required=True)
    parser.add_argument("--node", default="node")
    args = parser.parse_args()
    warnings.filterwarnings("ignore")  # torch's deprecation notes
    ok = True
    with tempfile.TemporaryDirectory() as tmp:
        work = pathlib.Path(tmp)
        for name, module, shape, products in [("linear-2d", Linear2d, (4, 16), 2),
                                              ("mlp-3d", Mlp3d, (2, 5, 16), 3)]:
            model = work / f"{name}.onnx"
            x, y_torch, step = export(module, shape, model)
            kinds = [n.op_type for n in onnx.load(str(model)).graph.node]
            print(f"{name}: {kinds.count('QuantizeLinear')} QuantizeLinear, "
                  f"{kinds.count('DequantizeLinear')} DequantizeLinear, "
                  f"{kinds.count('Gemm') + kinds.count('MatMul')} Gemm/MatMul")
            imported = subprocess.run([args.nuri, "import", str(model)], check=True,
                                      capture_output=True, text=True).stdout
            folded = imported.count("nuri.quantized_matmul")
            floats = imported.count("nuri.matmul") + imported.count("nuri.linear")
            print(f"  import: {folded} nuri.quantized_matmul (want {products}), "
                  f"{floats} float matmuls left (want 0)")
            ok &= folded == products and floats == 0

            cpu = run_nuri(args.nuri, model, x, work, "cpu")
            ok &= compare("cpu vs PyTorch", cpu, y_torch, step, 1)
            sim = run_nuri(args.nuri, model, x, work, "atom")
            ok &= compare("sim (atom) vs PyTorch", sim, y_torch, step, 2, 0.999, bf16=True)
            try:
                y_ort = run_ort(args.node, model, {"x": x}, work)["y"]
            except (SystemExit, FileNotFoundError):
                print("  ONNX Runtime: node or onnxruntime-node (NODE_PATH) missing, not compared")
                continue
            ok &= compare("cpu vs ONNX Runtime", cpu, y_ort, step, 1)
            ok &= compare("sim (atom) vs ONNX Runtime", sim, y_ort, step, 2, 0.999, bf16=True)
    print("PASS" if ok else "FAIL")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
