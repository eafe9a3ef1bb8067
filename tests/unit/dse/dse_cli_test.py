#!/usr/bin/env python3
"""The design-space CLI as a user runs it (docs/dse.md).

  PYTHONPATH=tests/common dse_cli_test.py --nuri build/bin/nuri --src .

- `nuri target show --json` carries area_mm2, its breakdown and peak power;
- `nuri sim --json` carries energy_j and average_power_w by component, and
  they add up;
- `nuri sweep examples/sweeps/bert-tiny-grid.yaml`: results files, a
  progress line with an ETA, a rerun that resumes everything;
- bad specs exit 1 with the file, line and column: a YAML syntax error and
  an axis over a key the config does not have.
Prints one line per check and exits non-zero if any failed.
"""
import argparse
import csv
import json
import os
import pathlib
import sys
import tempfile

from cli_test_util import check, failures, run

# Runs an array job's tasks in order, here and now: `--array=0-N`,
# `--output=...%a.log` and `--chdir` as nuri sweep passes them; with
# FAKE_SLURM_KILL=I, task I is "killed" before it starts. Writes the points
# of the tasks it ran to `ran` in the batch directory.
FAKE_SBATCH = """#!{python}
import os, subprocess, sys
args = sys.argv[1:]
opt = {{a.split("=", 1)[0]: a.split("=", 1)[1] for a in args[:-1] if "=" in a}}
first, last = map(int, opt["--array"].split("-"))
kill = os.environ.get("FAKE_SLURM_KILL", "")
ran = []
for i in range(first, last + 1):
    log = opt["--output"].replace("%a", str(i))
    if str(i) == kill:
        open(log, "w").write("slurmstepd: error: task killed by the test\\n")
        continue
    ran += open(os.path.join(opt["--chdir"], f"shard-{{i}}.points")).read().split()
    with open(log, "w") as out:
        subprocess.run(["sh", args[-1]], cwd=opt["--chdir"], stdout=out, stderr=out,
                       env=dict(os.environ, SLURM_ARRAY_TASK_ID=str(i)))
open(os.path.join(opt["--chdir"], "ran"), "w").write("\\n".join(ran))
print("4242")
"""


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--nuri", required=True)
    ap.add_argument("--src", required=True)
    args = ap.parse_args()
    nuri, src = args.nuri, pathlib.Path(args.src)

    with tempfile.TemporaryDirectory(prefix="nuri-dse-cli-") as tmp:
        work = pathlib.Path(tmp)

        r = run([nuri, "target", "show", "rngd", "--json"])
        t = json.loads(r.stdout) if r.returncode == 0 else {}
        check(t.get("area_mm2", 0) > 0, "target show --json has area_mm2", r.stderr)
        bd = t.get("area_breakdown_mm2", {})
        check(abs(sum(v for k, v in bd.items() if k != "total") / 0.7 - t.get("area_mm2", 0)) < 1e-3 * t.get("area_mm2", 1),
              "the area breakdown adds up to area_mm2 (utilization 0.7)", str(bd))
        check(set(t.get("peak_power_w", {})) == {"i8", "e4m3", "e5m2", "bf16", "f16"},
              "target show --json has peak power per dtype", str(t.get("peak_power_w")))
        r = run([nuri, "target", "show", "atom"])
        check(r.returncode == 0 and "area " in r.stdout and "peak power bf16" in r.stdout,
              "target show prints area and peak power", r.stdout)

        prog = work / "gemm.bin"
        r = run([nuri, "asm", src / "examples/programs/gemm.nasm", "-o", prog])
        check(r.returncode == 0, "asm gemm.nasm", r.stderr)
        r = run([nuri, "sim", prog, "--target", "atom", "--json", "--timing-only"])
        s = json.loads(r.stdout) if r.returncode == 0 else {}
        e, p = s.get("energy_j") or {}, s.get("average_power_w") or {}
        comps = ["matrix", "sram", "accumulator", "vector", "dram", "noc", "static"]
        check(all(c in e and c in p for c in comps + ["total"]),
              "sim --json has energy_j and average_power_w by component", str(e))
        if e:
            check(abs(sum(e[c] for c in comps) - e["total"]) <= 1e-5 * e["total"],
                  "the components add up to the total", str(e))
            check(abs(e["total"] / s["seconds"] - p["total"]) <= 1e-5 * p["total"],
                  "average power is energy over simulated time", f"{e['total']} {s['seconds']} {p['total']}")
            check(e["matrix"] > 0 and e["dram"] > 0, "a GEMM spends energy in the array and DRAM", str(e))
        r = run([nuri, "sim", prog, "--target", "atom", "--timing-only"])
        check(r.returncode == 0 and "energy:" in r.stdout and "average" in r.stdout,
              "sim prints the energy by component", r.stdout[-400:])

        # `nuri run --device sim` reports the energy of its NPU partitions
        # with the same model as `nuri sim` on the same program.
        onnx, pkg, nasm = work / "bt.onnx", work / "bt.nuri", work / "bt.nasm"
        shapes = [a for n in ["input_ids", "attention_mask", "token_type_ids"]
                  for a in ["--input-shape", f"{n}=1x32"]]
        r = run([nuri, "zoo", "bert-tiny", "-o", onnx])
        check(r.returncode == 0, "zoo bert-tiny", r.stderr)
        r1 = run([nuri, "compile", onnx, "--target", "atom", *shapes, "-o", pkg])
        r2 = run([nuri, "compile", onnx, "--target", "atom", *shapes, "--emit", "asm", "-o", nasm])
        check(r1.returncode == 0 and r2.returncode == 0, "compile bert-tiny for atom", r1.stderr + r2.stderr)
        r = run([nuri, "run", pkg, "--device", "sim", "--json"])
        got = json.loads(r.stdout).get("sim", {}) if r.returncode == 0 else {}
        r = run([nuri, "sim", nasm, "--target", "atom", "--json"])
        want = json.loads(r.stdout) if r.returncode == 0 else {}
        e, p = got.get("energy_j") or {}, got.get("average_power_w") or {}
        check(set(e) == set(comps + ["total"]) and set(p) == set(e),
              "run --device sim --json has energy_j and average_power_w by component", str(got))
        if e and want.get("energy_j"):
            close = lambda a, b: abs(a - b) <= 1e-5 * max(abs(a), abs(b), 1e-30)
            check(got["cycles"] == want["cycles"] and
                  all(close(e[c], want["energy_j"][c]) and close(p[c], want["average_power_w"][c])
                      for c in comps + ["total"]),
                  "its energy and power equal nuri sim's on the same program",
                  f"run {e} sim {want['energy_j']}")
            check(abs(sum(e[c] for c in comps) - e["total"]) <= 1e-9 * e["total"],
                  "the run's components add up to its total", str(e))
        r = run([nuri, "run", pkg, "--device", "sim"])
        check(r.returncode == 0 and "energy: " in r.stdout and "  dram " in r.stdout,
              "run --device sim prints the energy table", r.stdout[-600:])

        # `nuri sim --compare BASE.json`: totals and per-kernel cycles
        # against a saved report.
        base, cur = work / "base.json", work / "cur.json"
        r = run([nuri, "sim", nasm, "--target", "atom", "--timing-only", "--json"])
        base.write_text(r.stdout)
        r = run([nuri, "sim", nasm, "--target", "atom", "--timing-only", "--json",
                 "--set", "dram.bytes_per_s=128GB"])
        cur.write_text(r.stdout)
        b, c = json.loads(base.read_text()), json.loads(cur.read_text())
        r = run([nuri, "sim", nasm, "--target", "atom", "--timing-only", "--set", "dram.bytes_per_s=128GB",
                 "--compare", base, "--json"])
        cmp = json.loads(r.stdout) if r.returncode == 0 else {}
        m = {x["name"]: x for x in cmp.get("metrics", [])}
        check(m.get("cycles", {}).get("baseline") == b["cycles"] and m["cycles"]["current"] == c["cycles"]
              and abs(m["cycles"]["change"] - (c["cycles"] / b["cycles"] - 1)) < 1e-12
              and c["cycles"] != b["cycles"],
              "sim --compare --json: cycles of both runs and their change", r.stdout[:800] + r.stderr)
        check(abs(m.get("energy_j.dram", {}).get("current", 0) - c["energy_j"]["dram"]) <= 1e-5 * c["energy_j"]["dram"]
              and m.get("busy.mat", {}).get("unit") == "share",
              "it compares energy by component and engine busy shares", str(list(m))[:500])
        ks = cmp.get("kernels", [])
        check(len(ks) == len(b["barrier_releases"]) + 1 and
              sum(k["baseline_cycles"] for k in ks) == b["cycles"] and
              sum(k["current_cycles"] for k in ks) == c["cycles"],
              "its kernels (barrier to barrier, then the tail) add up to each run's cycles", str(ks)[:500])
        r = run([nuri, "sim", cur, "--compare", base])
        check(r.returncode == 0 and "kernels in both" in r.stdout and "largest changes: kernel" in r.stdout and
              f"{b['cycles']}" in r.stdout and f"{c['cycles']}" in r.stdout,
              "sim SAVED.json --compare BASE.json prints the table", r.stdout[-800:] + r.stderr)
        r = run([nuri, "sim", prog, "--target", "atom", "--timing-only", "--compare", base])
        check(r.returncode == 0 and "not the same program's kernels" in r.stdout,
              "another program's report is compared in totals only, said", r.stdout[-400:] + r.stderr)
        (work / "junk.json").write_text("{\"cycles\": ")
        r = run([nuri, "sim", cur, "--compare", work / "junk.json"])
        check(r.returncode == 1 and "junk.json: not a `nuri sim --json` report" in r.stderr,
              "a baseline that is not a report is an error naming it", r.stderr)
        r = run([nuri, "sim", cur])
        check(r.returncode == 1 and "only read with --compare" in r.stderr,
              "a saved report without --compare is refused", r.stderr)

        out = work / "grid"
        spec = src / "examples/sweeps/bert-tiny-grid.yaml"
        r = run([nuri, "sweep", spec, "-o", out])
        check(r.returncode == 0, "sweep bert-tiny-grid", r.stderr[-2000:])
        check("ETA" in r.stderr, "the sweep prints a progress line with an ETA", r.stderr[-500:])
        rows = list(csv.DictReader(open(out / "results.csv"))) if (out / "results.csv").exists() else []
        check(len(rows) == 12, "12 rows in results.csv", str(len(rows)))
        jl = (out / "results.jsonl").read_text().splitlines() if (out / "results.jsonl").exists() else []
        check(len(jl) == 12, "12 lines in results.jsonl", str(len(jl)))
        statuses = {row["status"] for row in rows}
        check(statuses <= {"ok", "infeasible"} and "ok" in statuses, "points are ok or infeasible", str(statuses))
        for row in rows:
            if row["status"] == "ok":
                check(float(row["latency_s"]) > 0 and float(row["energy_j"]) > 0 and
                      float(row["area_mm2"]) <= 400 and len(row["git_commit"]) >= 7 and
                      len(row["config_hash"]) == 16,
                      f"point {row['point']} has latency, energy, area <= 400 and provenance", str(row))
        r = run([nuri, "sweep", spec, "-o", out, "--quiet"])
        check(r.returncode == 0 and "12 resumed, 0 evaluated" in r.stdout, "a rerun resumes every point", r.stdout + r.stderr)

        # --trace-points on the finished sweep: a trace per front point,
        # nothing re-evaluated, each trace a Perfetto JSON of its point.
        r = run([nuri, "sweep", spec, "-o", out, "--quiet", "--trace-points", "pareto"])
        front = [l.split(",")[0] for l in (out / "pareto.csv").read_text().splitlines()]
        traces = sorted(p.name for p in (out / "traces").glob("*.json")) if (out / "traces").exists() else []
        check(r.returncode == 0 and "12 resumed, 0 evaluated" in r.stdout and
              traces == sorted(f"point-{i}.bert.0.json" for i in front) and
              f"{len(front)} Perfetto traces" in r.stdout,
              "--trace-points pareto writes a trace per front point", f"{traces} {front} {r.stdout}{r.stderr}")
        if traces:
            t = json.loads((out / "traces" / traces[0]).read_text())
            events = t.get("traceEvents", t) if isinstance(t, dict) else t
            check(len(events) > 100, f"{traces[0]} has the run's events", str(len(events)))
        r = run([nuri, "sweep", spec, "-o", out, "--quiet", "--trace-points", "1,x"])
        check(r.returncode == 1 and "is not pareto, best or a list of point indices" in r.stderr,
              "a bad --trace-points is refused before the sweep", r.stderr)
        r = run([nuri, "sweep", spec, "-o", out, "--quiet", "--trace-points", "999"])
        check(r.returncode == 1 and "point 999 is not one of the sweep's points" in r.stderr,
              "--trace-points of a point outside the sweep is an error", r.stderr)

        # --backend slurm's bookkeeping with a stand-in sbatch that runs the
        # array's tasks here, one of them "killed" (dse_slurm_test.py runs a
        # real cluster): the other tasks' rows are kept, the error names the
        # task and its log, and a rerun runs only the lost points.
        fake = work / "fake-slurm"
        fake.mkdir()
        (fake / "sbatch").write_text(FAKE_SBATCH.format(python=sys.executable))
        (fake / "squeue").write_text("#!/bin/sh\nexit 0\n")
        for f in ["sbatch", "squeue"]:
            (fake / f).chmod(0o755)
        env = dict(os.environ, PATH=f"{fake}:{os.environ.get('PATH', '')}", FAKE_SLURM_KILL="1")
        so = work / "slurm"
        r = run([nuri, "sweep", spec, "-o", so, "--backend", "slurm", "--tasks", "3", "--quiet"], env=env)
        lost = (so / "slurm/batch-0/shard-1.points").read_text().split() if r.returncode else []
        kept = (so / "results.jsonl").read_text().splitlines() if (so / "results.jsonl").exists() else []
        check(r.returncode == 1 and "did not come back from SLURM" in r.stderr and "task 1" in r.stderr
              and "shard-1.log" in r.stderr and "killed by the test" in r.stderr,
              "a lost SLURM task is an error naming the task and its log", r.stderr)
        check(len(lost) > 0 and len(kept) == 12 - len(lost) and
              not {json.loads(l)["point"] for l in kept} & {int(p) for p in lost},
              "the other tasks' rows are recorded", f"{len(kept)} kept, lost {lost}")
        env["FAKE_SLURM_KILL"] = ""
        r = run([nuri, "sweep", spec, "-o", so, "--backend", "slurm", "--tasks", "3", "--quiet"], env=env)
        ran = (so / "slurm/batch-1/ran").read_text().split() if (so / "slurm/batch-1/ran").exists() else []
        check(r.returncode == 0 and f"{12 - len(lost)} resumed" in r.stdout and
              sorted(ran) == sorted(lost),
              "a rerun submits only the lost points", f"{r.stdout}{r.stderr} ran {ran}")
        by_point = lambda d: {json.loads(l)["point"]: json.loads(l)
                              for l in (d / "results.jsonl").read_text().splitlines()}
        check(r.returncode == 0 and by_point(so) == by_point(out),
              "the SLURM rows equal the local run's")
        r = run([nuri, "sweep", spec, "-o", work / "bad", "--backend", "slurm", "--tasks", "0"])
        check(r.returncode == 1 and "--tasks must be 1 to 1000" in r.stderr, "--tasks 0 is refused", r.stderr)
        r = run([nuri, "sweep", spec, "-o", work / "bad", "--backend", "cloud"])
        check(r.returncode == 1 and "--backend must be local or slurm" in r.stderr, "an unknown backend is refused",
              r.stderr)

        bad = work / "bad.yaml"
        bad.write_text("name: x\nworkloads:\n  - zoo: bert-tiny\ntarget: atom\naxes:\n  cores: [2, 4\n")
        r = run([nuri, "sweep", bad, "-o", work / "bad"])
        check(r.returncode == 1 and f"{bad}:7:1:" in r.stderr, "a YAML syntax error names line and column", r.stderr)
        bad.write_text("name: x\nworkloads:\n  - zoo: bert-tiny\ntarget: atom\naxes:\n  sram.bytes_per_kore: [1MiB]\n")
        r = run([nuri, "sweep", bad, "-o", work / "bad"])
        check(r.returncode == 1 and f"{bad}:6:3: axis `sram.bytes_per_kore` is not a key of the config" in r.stderr,
              "an unknown config key on an axis names it", r.stderr)
    print(f"{failures()} failure(s)")
    return 1 if failures() else 0


if __name__ == "__main__":
    sys.exit(main())
