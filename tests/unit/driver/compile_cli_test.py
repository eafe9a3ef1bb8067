#!/usr/bin/env python3
"""`nuri compile` for the chip targets, as a user runs it, and its bad inputs.

  PYTHONPATH=tests/common compile_cli_test.py --nuri build/bin/nuri --configs backends/configs

- --report (--simulate), --emit mlir|asm, --dump-ir-after-all, --progress, --target cpu;
- `nuri run --device sim --trace OUT.json` (partitions in order, engine
  tracks inside the NPU partitions);
- a sequence length that does not tile the array (13 on `tiny`'s 8x8) runs
  on the sim device and agrees with the CPU device;
- bad input: weights beyond DRAM and a config whose SRAM cannot hold one
  tile give a clear error naming the node (exit 1, no package, no crash);
  an unknown target, dtype or --emit kind is an error too.
Prints one line per check and exits non-zero if any failed.
"""
import argparse
import json
import os
import pathlib
import re
import sys
import tempfile

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

from cli_test_util import check, failures, run


def shapes(seq):
    out = []
    for name in ("input_ids", "attention_mask", "token_type_ids"):
        out += ["--input-shape", f"{name}={1}x{seq}"]
    return out


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--nuri", required=True)
    parser.add_argument("--configs", required=True)
    args = parser.parse_args()
    nuri = args.nuri
    with tempfile.TemporaryDirectory() as tmp:
        work = pathlib.Path(tmp)
        model = work / "bert-tiny.onnx"
        r = run([nuri, "zoo", "bert-tiny", "-o", model])
        check(r.returncode == 0, "nuri zoo bert-tiny", r.stderr)

        pkg = work / "atom.nuri"
        r = run([nuri, "compile", model, "--target", "atom", *shapes(16),
                 "--report", "--progress", "-o", pkg])
        check(r.returncode == 0 and pkg.exists(), "compile --target atom",
              r.stderr)
        check(re.search(r"ops: \d+ of \d+ on the NPU", r.stdout) is not None and
              re.search(r"matrix work .*: [\d.]+% of \d+ MACs on the NPU",
                        r.stdout) is not None and
              "fell back to the CPU" in r.stdout and
              "per op (partition, location, kind, predicted cycles)" in r.stdout and
              re.search(r"^  encoder/layer\.0 +\d+ +\d+ +- +- *$", r.stdout,
                        re.M) is not None,
              "--report lists partitions, fallbacks and layers", r.stdout)
        check("[nuri compile] lowering NPU partition" in r.stderr,
              "--progress prints the stages", r.stderr)
        r = run([nuri, "compile", model, "--target", "atom", *shapes(16),
                 "--report", "--simulate", "-o", work / "s.nuri"])
        check(r.returncode == 0 and
              re.search(r"npu npu_0 .* predicted \d+ cycles, simulated \d+",
                        r.stdout) is not None,
              "--report --simulate shows predicted and simulated cycles",
              r.stdout + r.stderr)
        # Per layer: ops, predicted, simulated, their ratio; the layers and
        # what runs after the partitions' last barriers add up to the
        # partitions' simulated cycles.
        rows = dict((m.group(1), int(m.group(2))) for m in re.finditer(
            r"^  (\S+) +(?:\d+ +)?\d+ +(\d+) +[\d.]+x$", r.stdout, re.M))
        parts = sum(int(m.group(1)) for m in re.finditer(
            r" predicted \d+ cycles, simulated (\d+)", r.stdout))
        tail = re.search(r"(\d+) cycles after the last barriers", r.stdout)
        layers = [k for k in rows if k != "total"]
        check(r.returncode == 0 and tail is not None and
              layers == ["embeddings", "encoder/layer.0", "encoder/layer.1",
                         "head"] and
              all(rows[k] > 0 for k in layers) and
              sum(rows[k] for k in layers) == rows.get("total") and
              rows["total"] + int(tail.group(1)) == parts,
              "--report --simulate: simulated cycles per layer sum to the "
              "partitions'", r.stdout)
        r = run([nuri, "run", pkg, "--device", "sim", "--json"])
        ok = r.returncode == 0
        if ok:
            stats = json.loads(r.stdout)
            npu = [p for p in stats["partitions"] if p["device"] == "sim" and
                   p["sim_cycles"] > 0]
            ok = stats["sim"]["npu_partitions"] >= 1 and len(npu) >= 1
        check(ok, "run --device sim reports simulated cycles per partition",
              r.stderr + r.stdout[:300])

        trace = work / "trace.json"
        r = run([nuri, "run", pkg, "--device", "sim", "--trace", trace])
        ok = r.returncode == 0 and trace.exists()
        if ok:
            events = json.loads(trace.read_text())["traceEvents"]
            parts = [e for e in events if e.get("pid") == 1000 and e["ph"] == "X"]
            engines = [e for e in events if e.get("pid") != 1000 and e["ph"] == "X"]
            ends = [p["ts"] + p["dur"] for p in parts]
            # bert-tiny: the embedding lookups on the CPU, the rest on the
            # NPU, one after the other on one timeline.
            ok = (len(parts) >= 2 and len(engines) > 0 and
                  any("(npu, simulated)" in p["name"] for p in parts) and
                  any("(cpu," in p["name"] for p in parts) and
                  all(a <= b["ts"] + 1e-6 for a, b in zip(ends, parts[1:])) and
                  max(e["ts"] for e in engines) <= ends[-1] + 1e-6)
        check(ok, "run --trace writes the whole run as one trace", r.stderr)

        r = run([nuri, "compile", model, "--target", "atom", *shapes(16),
                 "--emit", "mlir", "-o", "-"])
        check(r.returncode == 0 and "func.func private @npu_0" in r.stdout,
              "--emit mlir prints the partitioned graph", r.stderr)
        r = run([nuri, "compile", model, "--target", "atom", *shapes(16),
                 "--emit", "asm", "-o", work / "p.s"])
        text = (work / "p.s").read_text() if (work / "p.s").exists() else ""
        check(r.returncode == 0 and "// partition npu_0" in text,
              "--emit asm writes the NPU programs", r.stderr)
        r = run([nuri, "compile", model, "--target", "atom", *shapes(16),
                 "--dump-ir-after-all", "-o", work / "d.nuri"])
        check(r.returncode == 0 and "IR Dump After NuriPartition" in r.stderr
              and "IR Dump After NuriOutlineNpuPartitions" in r.stderr,
              "--dump-ir-after-all", r.stderr[-400:])
        r = run([nuri, "compile", model, *shapes(16), "-o", work / "c.nuri"])
        check(r.returncode == 0, "--target cpu still compiles", r.stderr)

        # 13 positions do not tile an 8x8 array: remainder tiles or a
        # fallback, never a wrong answer.
        odd = work / "odd.nuri"
        odd_cpu = work / "odd_cpu.nuri"
        r1 = run([nuri, "compile", model, "--target", "tiny", *shapes(13),
                  "-o", odd])
        r2 = run([nuri, "compile", model, "--dtype", "bf16", *shapes(13),
                  "-o", odd_cpu])
        outs = {}
        for device, package in (("sim", odd), ("cpu", odd_cpu)):
            out_dir = work / f"out_{device}"
            r = run([nuri, "run", package, "--device", device, "--output-dir",
                     out_dir])
            if r.returncode == 0:
                outs[device] = np.load(out_dir / "last_hidden_state.npy")
        ok = r1.returncode == 0 and r2.returncode == 0 and len(outs) == 2
        if ok:
            a = outs["sim"].ravel().astype(np.float64)
            b = outs["cpu"].ravel().astype(np.float64)
            cos = a @ b / (np.linalg.norm(a) * np.linalg.norm(b))
            ok = cos > 0.9999
        check(ok, "seq 13 on tiny (does not tile 8x8) matches the CPU device",
              r1.stderr + r2.stderr)

        # A model that returns its input as an output and is all NPU: the
        # output is the input itself, next to the NPU partition's result.
        w = numpy_helper.from_array(
            np.random.RandomState(0).randn(16, 16).astype(np.float32), "W")
        x = helper.make_tensor_value_info("x", TensorProto.FLOAT, [4, 16])
        graph = helper.make_graph(
            [helper.make_node("MatMul", ["x", "W"], ["y"]),
             helper.make_node("Relu", ["y"], ["z"])], "passthrough", [x],
            [helper.make_tensor_value_info("z", TensorProto.FLOAT, [4, 16]), x],
            [w])
        alias = work / "alias.onnx"
        onnx.save(helper.make_model(
            graph, opset_imports=[helper.make_opsetid("", 17)]), str(alias))
        feed = work / "x.npy"
        np.save(feed, np.linspace(-1, 1, 64, dtype=np.float32).reshape(4, 16))
        r = run([nuri, "compile", alias, "--target", "atom", "-o",
                 work / "alias.nuri"])
        ok = r.returncode == 0
        if ok:
            r = run([nuri, "run", work / "alias.nuri", "--device", "sim",
                     "--input", f"x={feed}", "--output-dir", work / "alias"])
            ok = (r.returncode == 0 and np.array_equal(
                np.load(work / "alias" / "x.npy"), np.load(feed)))
        check(ok, "an output that is the model's input, beside NPU partitions",
              r.stderr)

        # Chips too small for the model: the errors come from the NPU
        # lowering and name the node; no package is written.
        cfg = work / "configs"
        cfg.mkdir()
        tiny = (pathlib.Path(args.configs) / "tiny.yaml").read_text()
        (cfg / "smalldram.yaml").write_text(
            tiny.replace("name: tiny", "name: smalldram")
                .replace("bytes: 64MiB", "bytes: 256KiB"))
        (cfg / "smallsram.yaml").write_text(
            tiny.replace("name: tiny", "name: smallsram")
                .replace("bytes_per_core: 256KiB", "bytes_per_core: 2KiB")
                .replace("shared_bytes: 64KiB", "shared_bytes: 0KiB"))
        env = dict(os.environ, NURI_CONFIG_PATH=str(cfg))
        for target, pattern in (("smalldram", r"(?i)dram.*262144|262144.*dram"),
                                ("smallsram", r"(?i)sram.*2048|2048.*sram")):
            out = work / f"{target}.nuri"
            r = run([nuri, "compile", model, "--target", target, *shapes(16),
                     "-o", out], env)
            check(r.returncode == 1 and re.search(pattern, r.stderr) and
                  "error" in r.stderr and not out.exists() and
                  len(r.stderr) < 2000,
                  f"--target {target}: a clear error", r.stderr[:600])

        for flags, pattern in ((["--target", "no-such-chip"], "unknown target 'no-such-chip'"),
                               (["--target", "atom", "--dtype", "int4"], "unknown dtype 'int4'"),
                               (["--emit", "llvm"], "--emit llvm")):
            r = run([nuri, "compile", model, *flags, *shapes(16), "-o",
                     work / "bad.nuri"])
            check(r.returncode != 0 and pattern in r.stderr,
                  f"{' '.join(flags)} is an error", r.stderr)
    print(f"{failures()} failed")
    return 1 if failures() else 0


if __name__ == "__main__":
    sys.exit(main())
