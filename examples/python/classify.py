#!/usr/bin/env python3
"""Text classification with a BERT-style model from Python.

    PYTHONPATH=build/python python3 examples/python/classify.py \
        [--model-dir ../shared/models/distilbert-tiny-optimum] [--target atom]

Compiles the shared DistilBERT sequence classifier (optimum's export) for the
CPU or a chip, runs its two example sentences (token ids in inputs/*.npy) on
the matching device, prints each sentence's class and probabilities, and
checks the logits against ONNX Runtime's (outputs/logits.npy): exact up to
fp32 rounding on the CPU, cosine >= 0.999 in bf16 on the simulated NPU.
"""
import argparse
import pathlib
import sys

import numpy as np

import nuri

here = pathlib.Path(__file__).resolve().parent
parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
parser.add_argument("--model-dir", type=pathlib.Path,
                    default=here.parents[2] / "shared/models/distilbert-tiny-optimum",
                    help="default: ../shared/models/distilbert-tiny-optimum beside the repo")
parser.add_argument("--target", default="cpu", help="cpu, atom, rngd, ...")
args = parser.parse_args()

inputs = {f.stem: np.load(f) for f in sorted((args.model_dir / "inputs").glob("*.npy"))}
package = nuri.compile(args.model_dir / "model.onnx", target=args.target,
                       input_shapes={name: a.shape for name, a in inputs.items()})
report = package.report
print(f"compiled for {report['target']} ({report['dtype']}): "
      f"{report['npu_ops']} NPU ops, {report['cpu_ops']} CPU ops, "
      f"{len(report['partitions'])} partition(s)")

device = "cpu" if args.target == "cpu" else "sim"
session = nuri.Session(package, device=device)
outputs, stats = session.run(inputs, stats=True)
logits = outputs["logits"]
probs = np.exp(logits - logits.max(-1, keepdims=True))
probs /= probs.sum(-1, keepdims=True)
for i, (row, p) in enumerate(zip(logits, probs)):
    print(f"sentence {i}: class {int(row.argmax())}  probabilities {np.round(p, 4).tolist()}")
if device == "sim":
    sim = stats["sim"]
    print(f"simulated: {sim['cycles']} cycles, {sim['seconds'] * 1e6:.1f} us, "
          f"MAC utilization {sim['mac_utilization']:.3f}")

want = np.load(args.model_dir / "outputs" / "logits.npy")
if device == "cpu":
    ok = np.allclose(logits, want, rtol=1e-3, atol=1e-4)
else:
    cos = float(np.dot(logits.ravel(), want.ravel()) /
                (np.linalg.norm(logits) * np.linalg.norm(want)))
    ok = cos >= 0.999
ok = ok and (logits.argmax(-1) == want.argmax(-1)).all()
print("matches ONNX Runtime" if ok else f"MISMATCH with ONNX Runtime: {want}")
sys.exit(0 if ok else 1)
