#!/usr/bin/env python3
"""Weight-only quantization on the NPU (w8a16, w4a16): the weights stay
compressed in DRAM and the GEMM expands them as it loads them (dma.dq).

A two-layer MLP with a residual (MatMul+bias, Relu, MatMul+bias, Add), for
each scheme on atom:

1. The sim device equals the CPU device running the same graph (`--target
   cpu --dtype bf16`, the same --quantize) bit for bit. The CPU's float GEMM
   sums in another order than the matrix engine, so this model's values are
   chosen to make every sum exact (weights k * 2^-7 or k * 2^-5 whose
   quantization is exact, activations k / 8): any order gives the same
   float, and what is compared is the expansion of the weights.
2. With random weights, the compressed package on the sim device equals, bit
   for bit, the float model whose weights are the dequantized values
   (bf16(f32(q) * scale), computed here with numpy as docs/isa.md defines
   dma.dq) on the sim device: the expansion is the CPU's dequantize
   followed by the cast to bf16.
3. The sim device's DRAM traffic against the bf16 model: about 1/2 (w8a16)
   and 1/4 (w4a16) of the bytes. Fails if the weights reach the chip as
   bf16.
4. At these 4 rows the cost model runs the first GEMM (1024 columns, 128
   a core) as the transposed GEMV (docs/isa.md): its weight chunks are
   dma.dq with their scale groups along the columns (qcgroup > 1, a [N, K]
   weight), so checks 1 and 2 check that kernel (its x^T load, its
   transposed read-out with bias and relu). The second (256 columns, 32 a
   core, half of atom's 64 streaming rows) stays row-major.

The simulator runs with its race detector on (the sim device's default),
and every compile checks the program's synchronization (npu-verify-sync).
"""

import json
import re

import numpy as np

from npu_mlp import expect, parse_args, run, save_mlp


def bf16(x):
    """Rounds float32 values to bf16 (nearest even), kept as float32."""
    b = np.asarray(x, np.float32).view(np.uint32).astype(np.uint64)
    b = (b + 0x7FFF + ((b >> 16) & 1)) >> 16 << 16
    return b.astype(np.uint32).view(np.float32)


def exact_weight(rng, k, n, scheme):
    """A weight whose quantization is exact: int8 columns of k * 2^-7 with
    one +-127 each (scale 2^-7), or 4-bit blocks of k * 2^-5 with one -8
    each and nothing above 7 (scale 2^-5)."""
    if scheme == "w8a16":
        q = rng.integers(-8, 9, (k, n))
        q[rng.integers(0, k, n), np.arange(n)] = rng.choice([-127, 127], n)
        return (q / 128.0).astype(np.float32)
    q = rng.integers(-8, 8, (k, n))
    for b in range(0, k, 128):
        q[b + rng.integers(0, min(128, k - b), n), np.arange(n)] = -8
    return (q / 32.0).astype(np.float32)


def dequantized(w, scheme):
    """What the GEMM reads: the weight quantized as nuri-quantize does it,
    then bf16(f32(q) * scale) (docs/isa.md, dma.dq), the scale being the
    fp32 scale rounded to bf16 (nuri-convert-dtype rounds every float
    constant to the compute dtype, for the CPU device's bf16 graph too)."""
    k, n = w.shape
    if scheme == "w8a16":
        s = np.abs(w).max(axis=0).astype(np.float32)
        s = np.where(s > 0, s / np.float32(127), np.float32(1)).astype(np.float32)
        q = np.clip(np.rint(w / s), -127, 127).astype(np.float32)
        return bf16(q * bf16(s))
    out = np.empty_like(w)
    block = 128 if k >= 128 else max(16, 1 << (k - 1).bit_length())
    for b in range(0, k, block):
        blk = w[b:b + block]
        idx = np.abs(blk).argmax(axis=0)
        extreme = blk[idx, np.arange(n)]
        s = np.where(extreme != 0, extreme / np.float32(-8), np.float32(1)).astype(np.float32)
        q = np.clip(np.rint(blk / s) + 8, 0, 15) - 8
        out[b:b + block] = bf16(q.astype(np.float32) * bf16(s))
    return out


def main():
    args = parse_args()
    work = args.work
    rng = np.random.default_rng(0)
    d, f, s = 256, 1024, 4  # decode-like: the weights are most of the bytes

    def sim(model, extra, tag):
        pkg = work / f"{tag}.nuri"
        report = run([args.nuri, "compile", model, "--target", "atom", *extra, "--report", "-o", pkg])
        out = run([args.nuri, "run", pkg, "--device", "sim", "--json", "--input", f"x={work / 'x.npy'}",
                   "--output-dir", work / tag])
        counters = json.loads(out[out.index("{"):])["runs"][0]["counters"]
        return np.load(work / tag / "y.npy"), counters, report

    for scheme in ["w8a16", "w4a16"]:
        quant = ["--quantize", scheme]
        # 1. Exact sums: sim equals the CPU device bit for bit.
        w1, w2 = exact_weight(rng, d, f, scheme), exact_weight(rng, f, d, scheme)
        b1 = (rng.integers(-4, 5, f) / 64).astype(np.float32)
        b2 = (rng.integers(-4, 5, d) / 64).astype(np.float32)
        model = work / f"exact-{scheme}.onnx"
        save_mlp(model, w1, b1, w2, b2, s)
        np.save(work / "x.npy", (rng.integers(-4, 5, (1, s, d)) / 8).astype(np.float32))
        ys, _, report = sim(model, quant, f"exact-{scheme}-atom")
        expect("0 on the CPU" in report, f"{scheme}: the whole MLP runs on the NPU")
        cpu = work / f"exact-{scheme}-cpu.nuri"
        run([args.nuri, "compile", model, "--target", "cpu", "--dtype", "bf16", *quant, "-o", cpu])
        run([args.nuri, "run", cpu, "--device", "cpu", "--input", f"x={work / 'x.npy'}",
             "--output-dir", work / f"exact-{scheme}-cpu"])
        yc = np.load(work / f"exact-{scheme}-cpu" / "y.npy")
        diff = int((ys != yc).sum())
        expect(diff == 0, f"{scheme}: sim device equals the cpu device (bf16 graph) bit for bit "
                          f"({ys.size} values, {diff} differ)")
        nasm = work / f"exact-{scheme}.nasm"
        run([args.nuri, "compile", model, "--target", "atom", *quant, "--emit", "asm", "-o", nasm])
        loads = [line for line in nasm.read_text().splitlines() if "dma.dq" in line]
        gemv = [line for line in loads if int(re.search(r"qcgroup\W+(\d+)", line).group(1)) > 1]
        expect(0 < len(gemv) < len(loads) and loads.index(gemv[0]) == 0,
               f"{scheme}: at {s} rows the first GEMM loads [N, K] for the transposed GEMV, "
               f"the second [K, N] ({len(gemv)} of {len(loads)} dma.dq with qcgroup > 1)")

        # 2. Random weights: the compressed weights expand to exactly the
        # dequantized bf16 weights.
        w1 = rng.normal(0, 0.05, (d, f)).astype(np.float32)
        w2 = rng.normal(0, 0.05, (f, d)).astype(np.float32)
        b1 = rng.normal(0, 0.1, f).astype(np.float32)
        b2 = rng.normal(0, 0.1, d).astype(np.float32)
        model = work / f"random-{scheme}.onnx"
        save_mlp(model, w1, b1, w2, b2, s)
        np.save(work / "x.npy", rng.normal(0, 1, (1, s, d)).astype(np.float32))
        yq, cq, _ = sim(model, quant, f"random-{scheme}-atom")
        deq = work / f"random-{scheme}-deq.onnx"
        save_mlp(deq, dequantized(w1, scheme), b1, dequantized(w2, scheme), b2, s)
        yd, _, _ = sim(deq, [], f"random-{scheme}-deq-atom")
        diff = int((yq != yd).sum())
        expect(diff == 0, f"{scheme}: the compressed weights give the dequantized bf16 weights' "
                          f"result bit for bit ({yq.size} values, {diff} differ)")

        # 3. The bytes: against the float model in bf16.
        _, cf, _ = sim(model, [], f"random-{scheme}-bf16-atom")
        ratio = cq["dram_bytes"] / cf["dram_bytes"]
        lo, hi = (0.45, 0.56) if scheme == "w8a16" else (0.22, 0.32)
        print(f"{scheme}: DRAM bytes {cq['dram_bytes']:.0f} against bf16 {cf['dram_bytes']:.0f}: "
              f"{ratio:.3f}x")
        expect(lo <= ratio <= hi, f"{scheme}: DRAM bytes {ratio:.3f}x of bf16, within [{lo}, {hi}]")


if __name__ == "__main__":
    main()
