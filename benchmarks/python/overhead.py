#!/usr/bin/env python3
"""Per-run overhead of the nuri Python layer over the runtime's C++ wrapper.

    PYTHONPATH=build/python python3 benchmarks/python/overhead.py [--n 256] [--runs 2000]

One tiny model (y = relu(x @ W + b), x of [1, n] floats, on the cpu
device), one session, the same input array. Baseline: a C++ loop through
nuri::Run (bind the input, execute, read the output), timed inside the
extension with the GIL released (Session._cpp_run_seconds). Python:
session.run({"x": x}) with its output dict dropped, the work a caller does.
Both alternate in short rounds in one process; the line reports each
side's fastest round (the least disturbed by other work on the machine:
the kernels' parallel loops make a round's time swing with the load) and
their ratio (issue 13's goal: at most 1.10), and the ratio of the medians.
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
parser.add_argument("--n", type=int, default=256, help="the model's width")
parser.add_argument("--runs", type=int, default=500, help="runs per round")
parser.add_argument("--rounds", type=int, default=21)
args = parser.parse_args()

data, _, _ = tiny_model_bytes(args.n)
session = nuri.Session(nuri.compile(data), device="cpu", threads=1)
x = np.random.default_rng(0).standard_normal((1, args.n)).astype(np.float32)
feeds = {"x": x}
for _ in range(200):  # warm up: the pool's run, caches, the allocator
    session.run(feeds)
session._cpp_run_seconds(feeds, 200)

cpp, py = [], []
for _ in range(args.rounds):
    cpp.append(session._cpp_run_seconds(feeds, args.runs) / args.runs)
    run = session.run
    start = time.perf_counter()
    for _ in range(args.runs):
        run(feeds)
    py.append((time.perf_counter() - start) / args.runs)

c, p = min(cpp), min(py)
print(json.dumps({"bench": "python-overhead", "model": f"tiny mlp 1x{args.n}",
                  "device": "cpu", "runs_per_round": args.runs, "rounds": args.rounds,
                  "cpp_us_per_run": round(c * 1e6, 3), "python_us_per_run": round(p * 1e6, 3),
                  "overhead_us": round((p - c) * 1e6, 3), "ratio": round(p / c, 3),
                  "median_ratio": round(statistics.median(py) / statistics.median(cpp), 3)}))
