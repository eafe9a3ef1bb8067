#!/usr/bin/env python3
"""ONNX backend node tests through the whole CPU path, as a user runs them.

For each test in the conformance list: `nuri compile --target cpu` (binding
the inputs that feed shapes, i.e. int64 tensors and scalars, with
--bind-input, as a static-shape compiler needs), `nuri run --device cpu`
on test_data_set_0's other inputs, and each output compared with the
expected one (rtol 1e-3, atol 1e-5). Prints a line per failure, the count,
and exits non-zero when fewer than --min-pass-rate of the tests pass.
--markdown FILE writes the failures as a table for docs/.
"""
import argparse
import pathlib
import subprocess
import sys
import tempfile

import numpy as np
import onnx
from onnx import numpy_helper


def load_tensor(path):
    tensor = onnx.TensorProto()
    tensor.ParseFromString(pathlib.Path(path).read_bytes())
    return numpy_helper.to_array(tensor)


def first_line(text):
    lines = [l for l in text.strip().splitlines() if l.strip()]
    return lines[0][:300] if lines else "(no message)"


def prepare_inputs(model, data, work):
    """Splits test_data_set_0's inputs into compile-time bindings (int64
    tensors and scalars, which feed shapes) and run-time .npy feeds.
    Returns (compile_args, run_args), or a failure reason string."""
    initializers = {i.name for i in model.graph.initializer}
    graph_inputs = [i for i in model.graph.input if i.name not in initializers]
    compile_args, run_args = [], []
    for index, info in enumerate(graph_inputs):
        pb = data / f"input_{index}.pb"
        if not pb.exists():
            return "missing input data"
        tensor_type = info.type.tensor_type
        shape_like = (tensor_type.elem_type == onnx.TensorProto.INT64 or
                      (tensor_type.HasField("shape") and
                       len(tensor_type.shape.dim) == 0))
        if shape_like:
            compile_args += ["--bind-input", f"{info.name}={pb}"]
            continue
        array = load_tensor(pb)
        npy = work / f"input_{index}.npy"
        np.save(npy, array)
        # Pin only what the model leaves open; its static dims stand.
        dims = tensor_type.shape.dim if tensor_type.HasField("shape") else None
        if dims is None or any(not d.HasField("dim_value") for d in dims):
            pinned = "x".join(str(d) for d in array.shape)
            compile_args += ["--input-shape", f"{info.name}={pinned}"]
        run_args += ["--input", f"{info.name}={npy}"]
    return compile_args, run_args


def compare_outputs(model, data, out, rtol, atol):
    """The first output that differs from the expected one, or None."""
    for index, info in enumerate(model.graph.output):
        want = load_tensor(data / f"output_{index}.pb")
        got_file = out / f"{info.name}.npy"
        if not got_file.exists():
            return f"output '{info.name}' not written"
        got = np.load(got_file)
        if got.shape != want.shape:
            return f"output '{info.name}': shape {got.shape}, expected {want.shape}"
        if want.dtype.kind in "biuO" or got.dtype.kind in "biu":
            differ = np.count_nonzero(got.astype(want.dtype) != want)
            if differ:
                return f"output '{info.name}': {differ} elements differ"
            continue
        if not np.allclose(got.astype(np.float64), want.astype(np.float64),
                           rtol=rtol, atol=atol, equal_nan=True):
            err = np.nanmax(np.abs(got.astype(np.float64) - want.astype(np.float64)))
            return f"output '{info.name}': max error {err:.3g}"
    return None


def run_test(nuri, test_dir, work, rtol, atol):
    model = onnx.load(str(test_dir / "model.onnx"), load_external_data=False)
    data = test_dir / "test_data_set_0"
    prepared = prepare_inputs(model, data, work)
    if isinstance(prepared, str):
        return prepared
    compile_args, run_args = prepared
    package = work / "test.nuri"
    out = work / "out"
    result = subprocess.run(
        [nuri, "compile", str(test_dir / "model.onnx"), "--target", "cpu",
         *compile_args, "-o", str(package)], capture_output=True, text=True)
    if result.returncode:
        return "compile: " + first_line(result.stderr)
    result = subprocess.run(
        [nuri, "run", str(package), "--device", "cpu", *run_args,
         "--output-dir", str(out)], capture_output=True, text=True)
    if result.returncode:
        return "run: " + first_line(result.stderr)
    return compare_outputs(model, data, out, rtol, atol)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--nuri", required=True)
    parser.add_argument("--list", required=True)
    parser.add_argument("--data", required=True)
    parser.add_argument("--rtol", type=float, default=1e-3)
    parser.add_argument("--atol", type=float, default=1e-5)
    parser.add_argument("--min-pass-rate", type=float, default=0.9)
    parser.add_argument("--markdown", default="")
    parser.add_argument("--only", default="")
    args = parser.parse_args()

    names = [l.strip() for l in open(args.list)
             if l.strip() and not l.startswith("#") and args.only in l]
    failures = []
    for name in names:
        test_dir = pathlib.Path(args.data) / name
        with tempfile.TemporaryDirectory() as tmp:
            if not (test_dir / "model.onnx").exists():
                reason = "test data not installed"
            else:
                try:
                    reason = run_test(args.nuri, test_dir, pathlib.Path(tmp),
                                      args.rtol, args.atol)
                except Exception as error:  # unreadable test data
                    reason = f"test data unreadable by onnx {onnx.__version__}: {error}"
        if reason:
            failures.append((name, reason))
            print(f"FAIL {name}: {reason}")
    passed = len(names) - len(failures)
    rate = passed / len(names) if names else 0.0
    print(f"cpu conformance: {passed} of {len(names)} pass ({100 * rate:.1f}%)")
    print(f"{passed} passed, {len(failures)} failed")
    if args.markdown:
        with open(args.markdown, "w") as md:
            md.write("| test | reason |\n|---|---|\n")
            for name, reason in failures:
                md.write(f"| `{name}` | {reason.replace('|', '/')} |\n")
    return 0 if rate >= args.min_pass_rate else 1


if __name__ == "__main__":
    sys.exit(main())
