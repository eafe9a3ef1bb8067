#!/usr/bin/env python3
"""Every shared model, compiled for a device and run on it, against ONNX Runtime.

For each model folder (model.onnx, inputs/*.npy, outputs/*.npy, and any
inputs_X/outputs_X pairs): `nuri compile` with the input shapes of the .npy
files, `nuri run` on the device, and a comparison of every output with the
reference. Prints one line per model and data set, and a closing
"N passed, M failed" line; exits non-zero if any failed.

  check_models.py --nuri build/bin/nuri --models ../shared/models \
      [--device cpu] [--rtol 1e-3] [--atol 1e-4] [--work DIR]
"""
import argparse
import os
import pathlib
import subprocess
import sys
import tempfile

import numpy as np


def compare(name, got, want, rtol, atol):
    if got.shape != want.shape:
        return f"{name}: shape {got.shape}, expected {want.shape}"
    if got.dtype != want.dtype:
        got = got.astype(want.dtype)
    if want.dtype.kind in "biu":
        bad = np.count_nonzero(got != want)
        return f"{name}: {bad} integer elements differ" if bad else None
    close = np.isclose(got, want, rtol=rtol, atol=atol, equal_nan=True)
    if close.all():
        return None
    err = np.abs(got.astype(np.float64) - want.astype(np.float64))
    worst = np.unravel_index(np.nanargmax(err), err.shape)
    return (f"{name}: {np.count_nonzero(~close)} of {want.size} elements off, "
            f"worst {float(err[worst]):.3g} at {tuple(int(i) for i in worst)} "
            f"(got {float(got[worst]):.6g}, want {float(want[worst]):.6g})")


def run_set(nuri, model, inputs_dir, outputs_dir, device, work, rtol, atol):
    inputs = sorted(inputs_dir.glob("*.npy"))
    shapes = []
    feeds = []
    for npy in inputs:
        array = np.load(npy)
        dims = "x".join(str(d) for d in array.shape)
        shapes += ["--input-shape", f"{npy.stem}={dims}"]
        feeds += ["--input", f"{npy.stem}={npy}"]
    package = work / "model.nuri"
    out_dir = work / "out"
    out_dir.mkdir(exist_ok=True)
    compile_cmd = [nuri, "compile", str(model), "--target", "cpu", *shapes,
                   "-o", str(package)]
    result = subprocess.run(compile_cmd, capture_output=True, text=True)
    if result.returncode:
        return [f"compile failed: {result.stderr.strip()[:600]}"]
    run_cmd = [nuri, "run", str(package), "--device", device, *feeds,
               "--output-dir", str(out_dir)]
    result = subprocess.run(run_cmd, capture_output=True, text=True)
    if result.returncode:
        return [f"run failed: {result.stderr.strip()[:600]}"]
    problems = []
    for want_file in sorted(outputs_dir.glob("*.npy")):
        got_file = out_dir / want_file.name
        if not got_file.exists():
            problems.append(f"{want_file.stem}: not written")
            continue
        problem = compare(want_file.stem, np.load(got_file), np.load(want_file),
                          rtol, atol)
        if problem:
            problems.append(problem)
    return problems


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--nuri", required=True)
    parser.add_argument("--models", required=True)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--rtol", type=float, default=1e-3)
    parser.add_argument("--atol", type=float, default=1e-4)
    parser.add_argument("--only", default="")
    args = parser.parse_args()

    passed = failed = 0
    for folder in sorted(pathlib.Path(args.models).iterdir()):
        if not (folder / "model.onnx").exists() or args.only not in folder.name:
            continue
        sets = [("", folder / "inputs", folder / "outputs")]
        for extra in sorted(folder.glob("inputs_*")):
            suffix = extra.name[len("inputs"):]
            if (folder / f"outputs{suffix}").exists():
                sets.append((suffix, extra, folder / f"outputs{suffix}"))
        for suffix, inputs_dir, outputs_dir in sets:
            label = folder.name + suffix
            with tempfile.TemporaryDirectory() as tmp:
                problems = run_set(args.nuri, folder / "model.onnx", inputs_dir,
                                   outputs_dir, args.device,
                                   pathlib.Path(tmp), args.rtol, args.atol)
            if problems:
                failed += 1
                print(f"FAIL {label}")
                for p in problems:
                    print(f"     {p}")
            else:
                passed += 1
                print(f"ok   {label}")
    print(f"{passed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
