#!/usr/bin/env python3
"""int8 on the NPU, bit for bit: a small quantized model on the sim device
against the CPU device running the same graph.

Builds a two-layer MLP with a residual (MatMul+bias, Relu, MatMul+bias, Add),
calibrates it once (`--quantize int8`, the cache shared by every compile),
compiles it for each chip and for `--target cpu` in the chip's compute dtype
(the same graph and rounding points), runs both and requires identical
outputs. Also checks that the chip runs the quantized products on the NPU
(npu.quantize + npu.quantized_gemm, nothing on the CPU) and that the result
is close to the float model.
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
    cache = work / "calib.json"
    quant = ["--quantize", "int8", "--calibration", work / "calib", "--calibration-cache", cache]

    run([args.nuri, "compile", model, "--target", "cpu", "-o", work / "fp32.nuri"])
    run([args.nuri, "run", work / "fp32.nuri", "--device", "cpu", "--input", f"x={work / 'x.npy'}",
         "--output-dir", work / "fp32"])
    ref = np.load(work / "fp32" / "y.npy")

    # x220 has no bf16 tiles: its float GEMMs would need fp16, but this
    # model has none left, so it also runs in bf16; fp16 checks the other
    # compute dtype's read-out cast.
    for target, dtype in [("atom", "bf16"), ("x220", "fp16"), ("x220", "bf16"), ("tiny", "bf16")]:
        chip, cpu = work / f"{target}-{dtype}.nuri", work / f"cpu-{dtype}.nuri"
        report = run([args.nuri, "compile", model, "--target", target, "--dtype", dtype, *quant,
                      "--report", "-o", chip])
        expect(f"target {target}, dtype {dtype}" in report, f"{target}: compiled in {dtype}")
        expect("0 on the CPU" in report and report.count("npu.quantized_gemm") == 2
               and report.count("npu.quantize ") == 2,
               f"{target}: both products run as npu.quantize + npu.quantized_gemm, nothing on the CPU")
        run([args.nuri, "compile", model, "--target", "cpu", "--dtype", dtype, *quant, "-o", cpu])
        for device, pkg in [("sim", chip), ("cpu", cpu)]:
            run([args.nuri, "run", pkg, "--device", device, "--input", f"x={work / 'x.npy'}",
                 "--output-dir", work / f"{target}-{dtype}-{device}"])
        sim = np.load(work / f"{target}-{dtype}-sim" / "y.npy")
        host = np.load(work / f"{target}-{dtype}-cpu" / "y.npy")
        diff = int((sim != host).sum())
        expect(diff == 0, f"{target}: sim device equals the cpu device ({dtype} graph) bit for bit "
                          f"({sim.size} values, {diff} differ)")
        cos = float((sim * ref).sum() / np.linalg.norm(sim) / np.linalg.norm(ref))
        expect(cos > 0.999, f"{target}: cosine against fp32 {cos:.6f} > 0.999")


if __name__ == "__main__":
    main()
