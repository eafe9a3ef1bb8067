#!/usr/bin/env python3
"""A small design-space sweep from Python: one-layer bert-tiny at sequence
32 on atom-like chips with 2 or 4 cores and 32x32 or 64x64 arrays, compiled
and simulated per point; prints each point's latency, energy and area and
the Pareto front over latency and area.

    PYTHONPATH=build/python python3 examples/python/sweep.py [--out DIR]
"""
import argparse

import nuri

parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
parser.add_argument("--out", default=None,
                    help="keep results.jsonl/.csv here (default: a temporary folder)")
args = parser.parse_args()

spec = {
    "name": "python-example",
    "workloads": [{"name": "bert", "zoo": "bert-tiny", "layers": 1,
                   "batch": 1, "seq": 32, "dtype": "bf16"}],
    "target": "atom",
    "axes": {"cores": [2, 4], "matrix.rows": [32, 64]},
    "derived": {"matrix.cols": "matrix.rows",
                "matrix.macs_per_cycle.bf16": "matrix.rows * matrix.cols",
                "matrix.macs_per_cycle.f16": "matrix.rows * matrix.cols",
                "matrix.macs_per_cycle.i8": "4 * matrix.rows * matrix.cols"},
    "objectives": [{"minimize": "latency_s"}, {"minimize": "area_mm2"}],
    "search": "grid",
}
base = nuri.target("atom").to_dict()
print(f"base chip: atom, {base['cores']} cores, area {base['area_mm2']:.1f} mm^2")

rows = nuri.sweep(spec, out_dir=args.out)
print(f"{'point':>5} {'cores':>5} {'array':>6} {'latency us':>11} {'energy uJ':>10} "
      f"{'area mm2':>9}  status")
for r in rows:
    line = f"{r['point']:>5} {r['cores']:>5.0f} {r['matrix.rows']:>6.0f}"
    if r["status"] == "ok":
        line += (f" {r['latency_s'] * 1e6:>11.2f} {r['energy_j'] * 1e6:>10.2f}"
                 f" {r['area_mm2']:>9.1f}")
    print(f"{line}  {r['status']}{'  (pareto)' if r['pareto'] else ''}")
front = [r for r in rows if r["pareto"]]
assert front and all(r["status"] == "ok" for r in front)
print(f"{len(front)} of {len(rows)} points on the latency/area Pareto front")
