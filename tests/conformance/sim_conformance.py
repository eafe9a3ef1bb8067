#!/usr/bin/env python3
"""ONNX backend node tests on the sim device, for the ops the NPU claims.

For each test in the conformance list: `nuri compile --target TARGET
--dtype DTYPE --report`; a test none of whose ops the NPU claims is not an
NPU test and is skipped. The others run with `nuri run --device sim` (NPU
partitions on the simulator, the rest on the CPU) and every output is
compared with the expected one within the dtype's tolerance (bf16: rtol and
atol 2e-2, fp16: 2e-3, fp32: the CPU suite's 1e-3/1e-5). Prints a line per
failure, "sim conformance (TARGET, DTYPE): P of N NPU tests pass", and exits
non-zero when fewer than --min-pass-rate of them pass.
"""
import argparse
import pathlib
import re
import subprocess
import sys
import tempfile

import onnx

sys.path.insert(0, str(pathlib.Path(__file__).parent))
from cpu_conformance import compare_outputs, first_line, prepare_inputs  # noqa: E402

TOLERANCE = {"bf16": (2e-2, 2e-2), "fp16": (2e-3, 2e-3), "fp32": (1e-3, 1e-5)}


def run_test(nuri, test_dir, work, target, dtype):
    """Returns (claimed, failure reason or None)."""
    model = onnx.load(str(test_dir / "model.onnx"), load_external_data=False)
    data = test_dir / "test_data_set_0"
    prepared = prepare_inputs(model, data, work)
    if isinstance(prepared, str):
        return False, prepared
    compile_args, run_args = prepared
    package = work / "test.nuri"
    result = subprocess.run(
        [nuri, "compile", str(test_dir / "model.onnx"), "--target", target,
         "--dtype", dtype, "--report", *compile_args, "-o", str(package)],
        capture_output=True, text=True)
    if result.returncode:
        # Only a test the NPU would have claimed counts; without a report we
        # cannot tell, so a compile failure is reported but not counted.
        return False, "compile: " + first_line(result.stderr)
    match = re.search(r"ops: (\d+) of (\d+) on the NPU", result.stdout)
    if not match or int(match.group(1)) == 0:
        return False, None
    out = work / "out"
    result = subprocess.run(
        [nuri, "run", str(package), "--device", "sim", *run_args,
         "--output-dir", str(out)], capture_output=True, text=True)
    if result.returncode:
        return True, "run: " + first_line(result.stderr)
    rtol, atol = TOLERANCE[dtype]
    return True, compare_outputs(model, data, out, rtol, atol)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--nuri", required=True)
    parser.add_argument("--list", required=True)
    parser.add_argument("--data", required=True)
    parser.add_argument("--target", default="atom")
    parser.add_argument("--dtype", default="bf16", choices=sorted(TOLERANCE))
    parser.add_argument("--min-pass-rate", type=float, default=0.0)
    parser.add_argument("--only", default="")
    args = parser.parse_args()

    names = [l.strip() for l in open(args.list)
             if l.strip() and not l.startswith("#") and args.only in l]
    claimed, failures, compile_errors = [], [], 0
    for name in names:
        test_dir = pathlib.Path(args.data) / name
        if not (test_dir / "model.onnx").exists():
            continue
        with tempfile.TemporaryDirectory() as tmp:
            try:
                npu, reason = run_test(args.nuri, test_dir, pathlib.Path(tmp),
                                       args.target, args.dtype)
            except Exception as error:  # unreadable test data
                npu, reason = False, f"test data unreadable: {error}"
        if npu:
            claimed.append(name)
            if reason:
                failures.append((name, reason))
                print(f"FAIL {name}: {reason}")
        elif reason:
            compile_errors += 1
    passed = len(claimed) - len(failures)
    rate = passed / len(claimed) if claimed else 0.0
    print(f"sim conformance ({args.target}, {args.dtype}): {passed} of "
          f"{len(claimed)} NPU tests pass ({100 * rate:.1f}%); "
          f"{len(names) - len(claimed)} tests have no op the NPU claims "
          f"({compile_errors} of them do not compile for {args.target})")
    print(f"{passed} passed, {len(failures)} failed")
    return 0 if rate >= args.min_pass_rate else 1


if __name__ == "__main__":
    sys.exit(main())
