#!/usr/bin/env python3
"""Every shared model on the simulated rngd against the simulated atom.

Issue 14: "no shared model runs slower on rngd than on atom". For each model
folder under --models (model.onnx and inputs/*.npy), `nuri compile --target T
--dtype bf16` with the input shapes of the .npy files and `nuri run --device
sim --json` for T = atom and T = rngd, in one run; prints per model the
simulated cycles of the NPU partitions, the time at each target's clock and
rngd's speed-up over atom, then one closing line. CPU partitions are not
simulated and are left out on both sides.

  rngd_vs_atom.py --nuri build/bin/nuri --models /work/shared/models
      [--configs backends/configs] [--check]

--check exits 1 when a model runs slower on rngd (the issue's goal; the
figures are a benchmark, so by default the exit status only reports errors).
"""
import argparse
import json
import pathlib
import re
import subprocess
import sys
import tempfile

import numpy as np


def clock_hz(configs, target):
    text = (configs / f"{target}.yaml").read_text()
    m = re.search(r"^clock_hz:\s*([0-9.]+)\s*(GHz|MHz|Hz)?", text, re.M)
    if not m:
        raise SystemExit(f"{configs}/{target}.yaml: no clock_hz")
    scale = {"GHz": 1e9, "MHz": 1e6, "Hz": 1.0, None: 1.0}[m.group(2)]
    return float(m.group(1)) * scale


def simulate(nuri, model, target, work):
    shapes, feeds = [], []
    for npy in sorted((model / "inputs").glob("*.npy")):
        dims = "x".join(str(d) for d in np.load(npy).shape) or "1"
        shapes += ["--input-shape", f"{npy.stem}={dims}"]
        feeds += ["--input", f"{npy.stem}={npy}"]
    package = work / f"{model.name}.{target}.nuri"
    r = subprocess.run([nuri, "compile", str(model / "model.onnx"), "--target",
                        target, "--dtype", "bf16", *shapes, "-o",
                        str(package)], capture_output=True, text=True)
    if r.returncode:
        return None, f"compile: {r.stderr.strip()[:300]}"
    r = subprocess.run([nuri, "run", str(package), "--device", "sim",
                        "--json", *feeds], capture_output=True, text=True)
    if r.returncode:
        return None, f"run: {r.stderr.strip()[:300]}"
    report = json.loads(r.stdout)
    return sum(p.get("sim_cycles", 0) for p in report["partitions"]), ""


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--nuri", required=True)
    ap.add_argument("--models", required=True)
    ap.add_argument("--configs", default=str(
        pathlib.Path(__file__).resolve().parents[2] / "backends" / "configs"))
    ap.add_argument("--check", action="store_true")
    args = ap.parse_args()
    configs = pathlib.Path(args.configs)
    hz = {t: clock_hz(configs, t) for t in ("atom", "rngd")}
    models = sorted(d for d in pathlib.Path(args.models).iterdir()
                    if (d / "model.onnx").exists() and (d / "inputs").is_dir())
    print(f"{'model':38s} {'atom cycles':>12s} {'rngd cycles':>12s} "
          f"{'atom us':>9s} {'rngd us':>9s} {'rngd speed-up':>13s}")
    slower, errors = [], 0
    with tempfile.TemporaryDirectory() as tmp:
        work = pathlib.Path(tmp)
        for model in models:
            cycles = {}
            for t in ("atom", "rngd"):
                cycles[t], err = simulate(args.nuri, model, t, work)
                if cycles[t] is None:
                    print(f"{model.name:38s} {t}: {err}")
                    errors += 1
                    break
            else:
                us = {t: cycles[t] / hz[t] * 1e6 for t in cycles}
                speedup = us["atom"] / us["rngd"] if us["rngd"] else 0.0
                print(f"{model.name:38s} {cycles['atom']:12d} "
                      f"{cycles['rngd']:12d} {us['atom']:9.1f} "
                      f"{us['rngd']:9.1f} {speedup:12.2f}x")
                if speedup < 1.0:
                    slower.append(model.name)
    print(f"rngd slower than atom on {len(slower)} of {len(models)} shared "
          f"models" + (f": {', '.join(slower)}" if slower else ""))
    if errors:
        return 2
    return 1 if args.check and slower else 0


if __name__ == "__main__":
    sys.exit(main())
