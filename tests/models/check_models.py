#!/usr/bin/env python3
"""Every shared model, compiled for a device and run on it, against ONNX Runtime.

For each model folder (model.onnx, inputs/*.npy, outputs/*.npy, and any
inputs_X/outputs_X pairs): `nuri compile` with the input shapes of the .npy
files, `nuri run` on the device, and a comparison of every output with the
reference. Prints one line per model and data set, and a closing
"N passed, M failed" line; exits non-zero if any failed.

  check_models.py --nuri build/bin/nuri --models ../shared/models \
      [--device cpu] [--rtol 1e-3] [--atol 1e-4] [--work DIR]
  check_models.py ... --device sim --target atom --dtype bf16 \
      --metric cosine --min-cosine 0.999 [--compare-cpu]

With --metric cosine every float output must reach --min-cosine against
the reference (integer and boolean outputs must match exactly); the cosine
of every output is printed. --compare-cpu also compiles the same model for
the CPU with the same --dtype, runs it on the CPU device and prints the
cosine between the two devices (informational: the NPU accumulates in fp32
in another order). --report prints the compile report's summary line.
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


def cosine(got, want):
    a = got.astype(np.float64).ravel()
    b = want.astype(np.float64).ravel()
    if not (np.isfinite(a).all() and np.isfinite(b).all()):
        finite = np.isfinite(a) & np.isfinite(b)
        if (np.isfinite(a) != np.isfinite(b)).any():
            return float("nan")
        a, b = a[finite], b[finite]
    na, nb = np.linalg.norm(a), np.linalg.norm(b)
    if na == 0 or nb == 0:
        return 1.0 if na == nb else 0.0
    return float(a @ b / (na * nb))


def compare_cosine(name, got, want, min_cosine, notes):
    if got.shape != want.shape:
        return f"{name}: shape {got.shape}, expected {want.shape}"
    if want.dtype.kind in "biu":
        bad = np.count_nonzero(got.astype(want.dtype) != want)
        notes.append(f"{name} exact" if not bad else f"{name} {bad} differ")
        return f"{name}: {bad} integer elements differ" if bad else None
    c = cosine(got, want)
    notes.append(f"{name} cos {c:.6f}")
    if not c >= min_cosine:
        return f"{name}: cosine {c:.6f} < {min_cosine}"
    return None


def compile_and_run(nuri, model, shapes, feeds, target, dtype, device, work,
                    tag, report):
    package = work / f"{tag}.nuri"
    out_dir = work / f"out_{tag}"
    out_dir.mkdir(exist_ok=True)
    compile_cmd = [nuri, "compile", str(model), "--target", target, *shapes,
                   "-o", str(package)]
    if dtype:
        compile_cmd += ["--dtype", dtype]
    if report is not None:
        compile_cmd += ["--report"]
    result = subprocess.run(compile_cmd, capture_output=True, text=True)
    if result.returncode:
        return None, f"compile failed: {result.stderr.strip()[:600]}"
    if report is not None:
        report += [l for l in result.stdout.splitlines() if l.startswith("ops:")]
    run_cmd = [nuri, "run", str(package), "--device", device, *feeds,
               "--output-dir", str(out_dir)]
    result = subprocess.run(run_cmd, capture_output=True, text=True)
    if result.returncode:
        return None, f"run failed: {result.stderr.strip()[:600]}"
    return out_dir, None


def run_set(nuri, model, inputs_dir, outputs_dir, device, work, rtol, atol,
            args=None, notes=None):
    if args is not None and (args.metric == "cosine" or args.target != "cpu"
                             or args.dtype):
        return run_set_cosine(nuri, model, inputs_dir, outputs_dir, device,
                              work, args, notes)
    return run_set_close(nuri, model, inputs_dir, outputs_dir, device, work,
                         rtol, atol)


def run_set_cosine(nuri, model, inputs_dir, outputs_dir, device, work, args,
                   notes):
    shapes, feeds = [], []
    for npy in sorted(inputs_dir.glob("*.npy")):
        dims = "x".join(str(d) for d in np.load(npy).shape)
        shapes += ["--input-shape", f"{npy.stem}={dims}"]
        feeds += ["--input", f"{npy.stem}={npy}"]
    report = [] if args.report else None
    out_dir, error = compile_and_run(nuri, model, shapes, feeds, args.target,
                                     args.dtype, device, work, "dev", report)
    if error:
        return [error]
    notes += report or []
    cpu_dir = None
    if args.compare_cpu:
        cpu_dir, error = compile_and_run(nuri, model, shapes, feeds, "cpu",
                                         args.dtype, "cpu", work, "cpu", None)
        if error:
            notes.append(f"cpu device: {error}")
    problems = []
    for want_file in sorted(outputs_dir.glob("*.npy")):
        got_file = out_dir / want_file.name
        if not got_file.exists():
            problems.append(f"{want_file.stem}: not written")
            continue
        got = np.load(got_file)
        problem = compare_cosine(want_file.stem, got, np.load(want_file),
                                 args.min_cosine, notes)
        if problem:
            problems.append(problem)
        if cpu_dir is not None and (cpu_dir / want_file.name).exists():
            other = np.load(cpu_dir / want_file.name)
            if other.dtype.kind == "f" and other.shape == got.shape:
                c = cosine(got, other)
                notes.append(f"{want_file.stem} vs cpu device cos {c:.6f}")
                if not c >= args.min_cpu_cosine:
                    problems.append(f"{want_file.stem}: cosine against the "
                                    f"CPU device {c:.6f} < "
                                    f"{args.min_cpu_cosine}")
    return problems


def run_set_close(nuri, model, inputs_dir, outputs_dir, device, work, rtol,
                  atol):
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
    parser.add_argument("--target", default="cpu")
    parser.add_argument("--dtype", default="")
    parser.add_argument("--metric", choices=["allclose", "cosine"],
                        default="allclose")
    parser.add_argument("--min-cosine", type=float, default=0.999)
    parser.add_argument("--compare-cpu", action="store_true")
    parser.add_argument("--min-cpu-cosine", type=float, default=0.0,
                        help="with --compare-cpu: the least cosine between "
                             "the device and the CPU device on the same "
                             "bf16 graph")
    parser.add_argument("--report", action="store_true")
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
            notes = []
            with tempfile.TemporaryDirectory() as tmp:
                problems = run_set(args.nuri, folder / "model.onnx", inputs_dir,
                                   outputs_dir, args.device,
                                   pathlib.Path(tmp), args.rtol, args.atol,
                                   args, notes)
            detail = f"  ({'; '.join(notes)})" if notes else ""
            if problems:
                failed += 1
                print(f"FAIL {label}{detail}")
                for p in problems:
                    print(f"     {p}")
            else:
                passed += 1
                print(f"ok   {label}{detail}")
    print(f"{passed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
