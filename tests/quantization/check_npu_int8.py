#!/usr/bin/env python3
"""int8 and fp8 on the NPU, bit for bit: a small quantized model on the sim
device against the CPU device running the same graph.

Builds a two-layer MLP with a residual (MatMul+bias, Relu, MatMul+bias, Add),
calibrates it once (`--quantize int8`, the cache shared by every compile),
compiles it for each chip and for `--target cpu` in the chip's compute dtype
(the same graph and rounding points), runs both and requires identical
outputs. Also checks that the chip runs the quantized products on the NPU
(npu.quantize + npu.quantized_gemm, nothing on the CPU) and that the result
is close to the float model. fp8 (`--quantize fp8`) runs on rngd's e4m3
tiles, whose fp32 sums the CPU takes in the same order.
"""


import numpy as np

from npu_mlp import expect, parse_args, run, save_mlp


def build_model(work, rng, d=64, f=256, s=16):
    w1 = rng.normal(0, 0.1, (d, f)).astype(np.float32)
    b1 = rng.normal(0, 0.1, f).astype(np.float32)
    w2 = rng.normal(0, 0.1, (f, d)).astype(np.float32)
    b2 = rng.normal(0, 0.1, d).astype(np.float32)
    path = work / "mlp.onnx"
    save_mlp(path, w1, b1, w2, b2, s)
    for i in range(4):
        (work / "calib" / f"set{i}").mkdir(parents=True, exist_ok=True)
        np.save(work / "calib" / f"set{i}" / "x.npy", rng.normal(0, 1, (1, s, d)).astype(np.float32))
    np.save(work / "x.npy", rng.normal(0, 1, (1, s, d)).astype(np.float32))
    return path


def main():
    args = parse_args()
    work = args.work
    model = build_model(work, np.random.default_rng(0))
    def quant(scheme):
        return ["--quantize", scheme, "--calibration", work / "calib",
                "--calibration-cache", work / f"calib-{scheme}.json"]

    run([args.nuri, "compile", model, "--target", "cpu", "-o", work / "fp32.nuri"])
    run([args.nuri, "run", work / "fp32.nuri", "--device", "cpu", "--input", f"x={work / 'x.npy'}",
         "--output-dir", work / "fp32"])
    ref = np.load(work / "fp32" / "y.npy")

    # x220 has no bf16 tiles: its float GEMMs would need fp16, but this
    # model has none left, so it also runs in bf16; fp16 checks the other
    # compute dtype's read-out cast.
    for target, dtype, scheme in [("atom", "bf16", "int8"), ("x220", "fp16", "int8"),
                                  ("x220", "bf16", "int8"), ("tiny", "bf16", "int8"),
                                  ("rngd", "bf16", "int8"), ("rngd", "bf16", "fp8")]:
        name = f"{target}-{dtype}-{scheme}"
        chip, cpu = work / f"{name}.nuri", work / f"cpu-{dtype}-{scheme}.nuri"
        report = run([args.nuri, "compile", model, "--target", target, "--dtype", dtype,
                      *quant(scheme), "--report", "-o", chip])
        expect(f"target {target}, dtype {dtype}" in report, f"{target}: compiled in {dtype}")
        expect("0 on the CPU" in report and report.count("npu.quantized_gemm") == 2
               and report.count("npu.quantize ") == 2,
               f"{name}: both products run as npu.quantize + npu.quantized_gemm, nothing on the CPU")
        if scheme == "fp8":
            mlir = run([args.nuri, "compile", model, "--target", target, *quant(scheme),
                        "--emit", "mlir", "-o", work / f"{name}.mlir"])
            text = (work / f"{name}.mlir").read_text()
            products = [l for l in text.splitlines() if "nuri.quantized_matmul" in l]
            expect(len(products) == 2 and all(
                'nuri.device = "npu"' in l and
                ("x256xf8E4M3FN>, tensor<256x64xf8E4M3FN>" in l or
                 "x64xf8E4M3FN>, tensor<64x256xf8E4M3FN>" in l) for l in products),
                   f"{name}: both products multiply e4m3 by e4m3 on the NPU")
        run([args.nuri, "compile", model, "--target", "cpu", "--dtype", dtype, *quant(scheme),
             "-o", cpu])
        for device, pkg in [("sim", chip), ("cpu", cpu)]:
            run([args.nuri, "run", pkg, "--device", device, "--input", f"x={work / 'x.npy'}",
                 "--output-dir", work / f"{name}-{device}"])
        sim = np.load(work / f"{name}-sim" / "y.npy")
        host = np.load(work / f"{name}-cpu" / "y.npy")
        diff = int((sim != host).sum())
        expect(diff == 0, f"{name}: sim device equals the cpu device ({dtype} graph) bit for bit "
                          f"({sim.size} values, {diff} differ)")
        cos = float((sim * ref).sum() / np.linalg.norm(sim) / np.linalg.norm(ref))
        expect(cos > 0.999, f"{name}: cosine against fp32 {cos:.6f} > 0.999")


if __name__ == "__main__":
    main()
