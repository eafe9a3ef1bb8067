#!/usr/bin/env python3
"""Per-run overhead of the nuri Python layer over the runtime's C++ wrapper.

    PYTHONPATH=build/python python3 benchmarks/python/overhead.py [--n 256 | --model M.onnx --seq 128]

One model on the cpu device, one session, the same inputs: either the
tests' tiny MLP (y = relu(x @ W + b), x of [1, n] floats) or an ONNX file
(the zoo's bert-tiny, the demo model, at batch 1 and --seq tokens; its
token inputs get random ids 0 and 1). Baseline: a C++ loop through
nuri::Run (bind the inputs, execute, read the outputs), timed inside the
extension with the GIL released (Session._cpp_run_seconds). Python:
session.run(feeds) with its output dict dropped, the work a caller does.
Both alternate in short rounds in one process; the line reports each
side's fastest round (the least disturbed by other work on the machine:
the kernels' parallel loops make a round's time swing with the load) and
their ratio (issue 13's goal: at most 1.10), and the ratio of the medians.

`floor_us` is what any CPython binding pays per call whatever it wraps:
a call into C with the feeds dict that returns a new dict holding one new
numpy array (dict(feeds) plus np.empty of the first output's shape); the
overhead cannot go below it, so on a run of a few microseconds the ratio
is bound to exceed 1.10 and the line says how much of the overhead is Nuri's.
"""
import argparse
import json
import pathlib
import statistics
import sys
import time

import numpy as np

import nuri

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[2] / "tests" / "python"))
from conftest import tiny_model_bytes  # noqa: E402  (the tests' tiny model)

parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
parser.add_argument("--n", type=int, default=256, help="the tiny MLP's width")
parser.add_argument("--model", help="an ONNX model instead of the MLP")
parser.add_argument("--seq", type=int, default=128, help="--model's sequence length")
parser.add_argument("--runs", type=int, default=500, help="runs per round")
parser.add_argument("--rounds", type=int, default=21)
args = parser.parse_args()

rng = np.random.default_rng(0)
if args.model:
    import onnx
    graph = onnx.load(args.model, load_external_data=False).graph
    # Dynamic dims: the first is the batch (1), the others the sequence.
    shapes = {i.name: [d.dim_value if d.HasField("dim_value") else 1 if k == 0 else args.seq
                       for k, d in enumerate(i.type.tensor_type.shape.dim)]
              for i in graph.input}
    package = nuri.compile(args.model, input_shapes=shapes)
    feeds = {}
    for t in package.inputs:
        dtype = np.dtype(t["numpy_dtype"])
        # Ids of 0 and 1 are in range for every table (token types have 2).
        feeds[t["name"]] = (rng.integers(0, 2, t["shape"]).astype(dtype)
                            if dtype.kind in "iu" else
                            rng.standard_normal(t["shape"]).astype(dtype))
    name = f"{pathlib.Path(args.model).stem} 1x{args.seq}"
else:
    package = nuri.compile(tiny_model_bytes(args.n)[0])
    feeds = {"x": rng.standard_normal((1, args.n)).astype(np.float32)}
    name = f"tiny mlp 1x{args.n}"
session = nuri.Session(package, device="cpu", threads=1)
for _ in range(200):  # warm up: the pool's run, caches, the allocator
    session.run(feeds)
session._cpp_run_seconds(feeds, 200)

first = package.outputs[0]
out_shape, out_dtype = tuple(first["shape"]), np.dtype(first["numpy_dtype"])


def floor_call(f, empty=np.empty):
    return {"y": empty(out_shape, out_dtype), **f}


cpp, py, floor = [], [], []
for _ in range(args.rounds):
    cpp.append(session._cpp_run_seconds(feeds, args.runs) / args.runs)
    run = session.run
    start = time.perf_counter()
    for _ in range(args.runs):
        run(feeds)
    py.append((time.perf_counter() - start) / args.runs)
    start = time.perf_counter()
    for _ in range(args.runs):
        floor_call(feeds)
    floor.append((time.perf_counter() - start) / args.runs)

c, p, f = min(cpp), min(py), min(floor)
print(json.dumps({"bench": "python-overhead", "model": name,
                  "device": "cpu", "runs_per_round": args.runs, "rounds": args.rounds,
                  "cpp_us_per_run": round(c * 1e6, 3), "python_us_per_run": round(p * 1e6, 3),
                  "overhead_us": round((p - c) * 1e6, 3), "floor_us": round(f * 1e6, 3),
                  "ratio": round(p / c, 3),
                  "median_ratio": round(statistics.median(py) / statistics.median(cpp), 3)}))
