#!/usr/bin/env python3
"""Timing-only packages for models bigger than the machine, as a user runs them.

  PYTHONPATH=tests/common timing_only_cli_test.py --nuri build/bin/nuri --work DIR

A 2-layer llama-7b written `nuri zoo --with-past --shapes-only` (the graph, no
weight data):
- `nuri compile --generate` without --timing-only refuses it, naming the
  missing data file; with --timing-only it writes a small package that
  `nuri inspect` calls timing-only;
- `nuri generate --device sim --timing-only --prompt-len P --batch B --json`
  prints the sim figures, never the (meaningless) token ids;
- `nuri run --program NAME --timing-only` times one program, and its time is
  the decode step generate reports;
- without --timing-only, on the cpu device, or with --timing-only on cpu, the
  package is refused with a clear error; --prompt-len needs --timing-only.
Prints one line per check and exits non-zero if any failed.
"""
import argparse
import json
import os
import pathlib
import re
import sys

from cli_test_util import check, failures, run


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--nuri", required=True)
    parser.add_argument("--work", required=True)
    parser.add_argument("--target", default="rngd")
    args = parser.parse_args()
    nuri = args.nuri
    work = pathlib.Path(args.work)
    work.mkdir(parents=True, exist_ok=True)
    onnx_path = work / "llama.onnx"
    pkg = work / "llama.nuri"
    for stale in (pkg, work / "refused.nuri"):
        if stale.exists():
            stale.unlink()

    r = run([nuri, "zoo", "llama-7b", "--with-past", "--shapes-only",
             "--layers", "2", "-o", onnx_path])
    check(r.returncode == 0, "nuri zoo llama-7b --shapes-only --layers 2", r.stderr)
    check(not pathlib.Path(str(onnx_path) + ".data").exists(),
          "--shapes-only writes no data file")

    buckets = ["--target", args.target, "--generate", "--max-seq", "128",
               "--prefill-buckets", "32", "--decode-batch", "1,4",
               "--context-buckets", "128"]
    r = run([nuri, "compile", onnx_path] + buckets + ["-o", work / "refused.nuri"])
    check(r.returncode != 0 and "llama.onnx.data" in r.stderr,
          "without --timing-only the missing data file is an error naming it",
          r.stderr[-400:])
    check(not (work / "refused.nuri").exists(), "and no package is written")

    r = run([nuri, "compile", onnx_path, "--target", "cpu", "--generate",
             "--timing-only", "-o", work / "refused.nuri"])
    check(r.returncode != 0 and "--timing-only" in r.stderr,
          "--timing-only for --target cpu is refused", r.stderr[-400:])

    r = run([nuri, "compile", onnx_path] + buckets + ["--timing-only", "-o", pkg])
    check(r.returncode == 0 and pkg.exists(), "nuri compile --timing-only",
          r.stderr[-800:])
    if not pkg.exists():
        return 1
    # Two layers of llama-7b are 1.3 GB of bf16 weights; the package holds
    # none of them: its weights section has only the CPU partitions' few
    # constants, and the file is mostly the programs' instructions.
    size = pkg.stat().st_size
    check(size < (1300 << 20) // 20, f"the package is small ({size} bytes)")
    r = run([nuri, "inspect", pkg])
    check(r.returncode == 0 and "timing-only" in r.stdout,
          "nuri inspect says the package is timing-only", r.stdout[-400:] + r.stderr)
    m = re.search(r"^weights: (\d+) bytes", r.stdout, re.M)
    check(m is not None and int(m.group(1)) < 1 << 20,
          "its weights section holds no weight bytes", m and m.group(0))

    # generate, timing-only: the figures, never the token ids.
    r = run([nuri, "generate", pkg, "--device", "sim", "--timing-only",
             "--prompt-len", "20", "--max-new-tokens", "4", "--batch", "4",
             "--json"])
    check(r.returncode == 0, "nuri generate --timing-only --json", r.stderr[-800:])
    out = json.loads(r.stdout) if r.returncode == 0 else {}
    sim = out.get("sim", {})
    for key in ("ttft_s", "tpot_s", "tokens_per_s", "dram_bytes_per_token",
                "dram_roofline_fraction"):
        check(sim.get(key, 0) > 0, f"sim.{key} = {sim.get(key)}")
    check(0 < sim.get("dram_roofline_fraction", 0) <= 1,
          "the simulator never beats the DRAM roofline")
    reqs = out.get("requests", [])
    check(len(reqs) == 4 and all(q.get("generated_tokens") == 4 and
                                 q.get("prompt_tokens") == 20 for q in reqs),
          "four requests of 20 prompt tokens generate 4 tokens each", reqs)
    check(all("tokens" not in q and "prompt" not in q for q in reqs),
          "no token ids are printed as if real")
    check(out.get("timing_only") is True and "meaningless" in out.get("note", ""),
          "the output says the run is timing-only and its tokens meaningless")
    check(out.get("decode", {}).get("device_weight_bytes_written", 1) == 0,
          "no weight byte is written to the device")

    r = run([nuri, "generate", pkg, "--device", "sim", "--timing-only",
             "--prompt-len", "20", "--max-new-tokens", "2"])
    check(r.returncode == 0 and "not shown" in r.stdout and "tpot" in r.stdout,
          "the text output says the token ids are not shown and gives the figures",
          r.stdout + r.stderr[-400:])

    # One program alone: its simulated time is the decode step's.
    r = run([nuri, "run", pkg, "--program", "decode.b4.c128", "--device", "sim",
             "--timing-only", "--json"])
    check(r.returncode == 0, "nuri run --program decode.b4.c128 --timing-only",
          r.stderr[-800:])
    if r.returncode == 0:
        one = json.loads(r.stdout)
        step = one.get("sim", {}).get("seconds", 0)
        check(one.get("timing_only") is True and one.get("outputs") == [],
              "nuri run --timing-only reports no outputs")
        tpot = sim.get("tpot_s", 0)
        check(step > 0 and abs(step - tpot) <= 1e-3 * tpot,
              f"the program's time {step:.6e} s is generate's tpot {tpot:.6e} s")

    # The errors.
    r = run([nuri, "generate", pkg, "--device", "sim", "--prompt-ids", "1,2,3"])
    check(r.returncode != 0 and "timing-only" in r.stderr,
          "a timing-only package without --timing-only is refused", r.stderr[-400:])
    r = run([nuri, "generate", pkg, "--device", "cpu", "--timing-only",
             "--prompt-len", "8"])
    check(r.returncode != 0 and "timing-only" in r.stderr,
          "the cpu device refuses --timing-only", r.stderr[-400:])
    r = run([nuri, "run", pkg, "--program", "decode.b1.c128", "--device", "cpu"])
    check(r.returncode != 0 and "timing-only" in r.stderr,
          "the cpu device refuses a timing-only package", r.stderr[-400:])
    r = run([nuri, "generate", pkg, "--device", "sim", "--prompt-len", "8"])
    check(r.returncode != 0 and "--timing-only" in r.stderr,
          "--prompt-len needs --timing-only", r.stderr[-400:])
    r = run([nuri, "generate", pkg, "--device", "sim", "--timing-only",
             "--prompt-len", "8", "--stream"])
    check(r.returncode != 0 and "--stream" in r.stderr,
          "--stream (which prints tokens) is refused with --timing-only",
          r.stderr[-400:])
    r = run([nuri, "generate", "--help"])
    check("--timing-only" in r.stdout and "--prompt-len" in r.stdout,
          "nuri generate --help names --timing-only and --prompt-len")
    return 1 if failures() else 0


if __name__ == "__main__":
    sys.exit(main())
