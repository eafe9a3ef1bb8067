#!/usr/bin/env python3
"""Zoo bert-base int8 against bf16 on the simulated NPU (issue 11).

Writes zoo bert-base (random weights) and two calibration sets of random
token ids, calibrates once (`--quantize int8`, minmax, the cache shared by
every compile), then compiles and simulates (`nuri compile --report
--simulate`, timing only) in one run:

  atom bert-base b1 and b8: bf16 and int8; the ratio bf16 / int8
  (goals: >= 1.8x at batch 1, >= 3x at batch 8);
  x220 bert-base b1: fp16 and int8; int8's latency and its share of the
  int8 roofline (bound = max(MACs / i8 MACs per cycle, bytes / DRAM bytes
  per cycle), bytes = the int8 weights of every MatMul/Gemm, read once).

Every figure is simulated NPU time (the embedding gathers run on the CPU
in both and are not counted). Nothing is asserted: benchmarks print.
"""

import argparse
import json
import pathlib
import re
import subprocess
import sys
import time

import numpy as np
import onnx


def run(cmd):
    p = subprocess.run([str(c) for c in cmd], capture_output=True, text=True)
    if p.returncode != 0:
        sys.exit(f"FAILED ({p.returncode}): {' '.join(map(str, cmd))}\n{p.stdout}\n{p.stderr}")
    return p.stdout + p.stderr


def simulated(report):
    """NPU cycles summed over the partitions, and the MACs on the NPU."""
    cycles = sum(int(c) for c in re.findall(r"npu npu_\d+ .*?simulated (\d+)", report))
    macs = int(re.search(r"of (\d+) MACs on the NPU", report).group(1))
    return cycles, macs


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--nuri", required=True)
    ap.add_argument("--work", required=True, type=pathlib.Path)
    ap.add_argument("--seq", type=int, default=128)
    args = ap.parse_args()
    work = args.work
    work.mkdir(parents=True, exist_ok=True)
    model = work / "bert-base.onnx"
    if not model.exists():
        run([args.nuri, "zoo", "bert-base", "-o", model])
    rng = np.random.default_rng(0)
    calib = work / "calib"
    for i in range(2):
        d = calib / f"set{i}"
        d.mkdir(parents=True, exist_ok=True)
        np.save(d / "input_ids.npy", rng.integers(0, 30522, (1, args.seq)).astype(np.int64))
        np.save(d / "attention_mask.npy", np.ones((1, args.seq), np.int64))
        np.save(d / "token_type_ids.npy", np.zeros((1, args.seq), np.int64))
    cache = work / "calib.json"

    def compile_(target, batch, dtype, int8):
        shapes = []
        for name in ("input_ids", "attention_mask", "token_type_ids"):
            shapes += ["--input-shape", f"{name}={batch}x{args.seq}"]
        quant = ["--quantize", "int8", "--calibration", calib, "--calibration-cache", cache] if int8 else []
        pkg = work / f"{target}-b{batch}-{'int8' if int8 else dtype}.nuri"
        start = time.time()
        report = run([args.nuri, "compile", model, "--target", target, "--dtype", dtype, *shapes,
                      *quant, "--report", "--simulate", "-o", pkg])
        cycles, macs = simulated(report)
        return {"cycles": cycles, "macs": macs, "bytes": pkg.stat().st_size,
                "seconds": time.time() - start}

    print(f"bert-base int8 vs float, seq {args.seq}, simulated NPU time (timing model)")
    atom = json.loads(run([args.nuri, "target", "show", "atom", "--json"]))
    for batch, goal in [(1, 1.8), (8, 3.0)]:
        f = compile_("atom", batch, "bf16", False)
        q = compile_("atom", batch, "bf16", True)
        us = lambda r: r["cycles"] / atom["clock_hz"] * 1e6
        print(f"atom bert-base b{batch}: bf16 {us(f):,.1f} us, int8 {us(q):,.1f} us, "
              f"speedup {f['cycles'] / q['cycles']:.2f}x (goal >= {goal:.1f}x)")

    x220 = json.loads(run([args.nuri, "target", "show", "x220", "--json"]))
    f = compile_("x220", 1, "fp16", False)
    q = compile_("x220", 1, "fp16", True)
    clock = x220["clock_hz"]
    i8 = x220["matrix"]["macs_per_cycle"]["i8"] * x220["cores"]
    dram = x220["dram_bytes_per_s"] / clock
    # Bytes: every int8 weight of a MatMul/Gemm read once (the embedding
    # tables are gathered on the CPU and never reach the NPU), a lower
    # bound as a roofline must be; the activations stay on chip at best.
    graph = onnx.load(str(model), load_external_data=False).graph
    inits = {i.name: i for i in graph.initializer}
    weights = sum(int(np.prod(inits[n.input[1]].dims)) for n in graph.node
                  if n.op_type in ("MatMul", "Gemm") and len(n.input) > 1
                  and n.input[1] in inits and len(inits[n.input[1]].dims) == 2)
    compute, memory = q["macs"] / i8, weights / dram
    bound = max(compute, memory)
    print(f"x220 bert-base b1: int8 {q['cycles'] / clock * 1e6:,.1f} us, "
          f"{100 * bound / q['cycles']:.1f}% of its int8 roofline "
          f"({'compute' if compute >= memory else 'memory'}-bound: {bound:,.0f} cycles); "
          f"fp16 {f['cycles'] / clock * 1e6:,.1f} us, speedup {f['cycles'] / q['cycles']:.2f}x")


if __name__ == "__main__":
    main()
