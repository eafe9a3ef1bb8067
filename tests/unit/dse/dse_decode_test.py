#!/usr/bin/env python3
"""Decode (generation) workloads in `nuri sweep` (docs/dse.md, "Decode
workloads").

  PYTHONPATH=tests/common dse_decode_test.py --nuri build/bin/nuri --src .

- examples/sweeps/decode-gpt2.yaml run twice from clean directories gives
  identical rows (the generation metrics included), every point ok, and
  so does a rerun over the first one's compile cache;
- at each core count, more DRAM bandwidth never lowers decode tokens/s,
  and the DRAM roofline fraction stays in (0, 1];
- the rows carry the generation metrics of `nuri generate --device sim
  --json`, and they are consistent with each other;
- bad scenarios are spec errors naming the key: `generation` on a zoo model
  without a KV cache, on an ONNX file without past inputs, and
  prompt_len + new_tokens beyond the model's positions (GPT-2's position
  embedding, LLaMA's rotary tables).
Prints one line per check and exits non-zero if any failed.
"""
import argparse
import json
import pathlib
import sys
import tempfile

from cli_test_util import check, failures, run

METRICS = ["ttft_s", "tpot_s", "tokens_per_s", "tokens_per_s_per_user",
           "dram_bytes_per_token", "dram_roofline_fraction",
           "cpu_partitions_per_decode_step"]


def rows_of(d):
    return [json.loads(l) for l in (d / "results.jsonl").read_text().splitlines()]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--nuri", required=True)
    ap.add_argument("--src", required=True)
    args = ap.parse_args()
    nuri, src = args.nuri, pathlib.Path(args.src)
    spec = src / "examples" / "sweeps" / "decode-gpt2.yaml"

    with tempfile.TemporaryDirectory(prefix="nuri-dse-decode-") as tmp:
        work = pathlib.Path(tmp)
        runs = []
        for k in range(2):
            out = work / f"run{k}"
            r = run([nuri, "sweep", spec, "-o", out, "--quiet"])
            check(r.returncode == 0, f"run {k}: nuri sweep decode-gpt2.yaml exits 0",
                  r.stderr[-2000:])
            if r.returncode != 0:
                return 1
            runs.append(sorted(rows_of(out), key=lambda x: x["point"]))
        a, b = runs
        check(len(a) == 6, "6 points", str(len(a)))
        bad = [x for x in a if x["status"] != "ok"]
        check(not bad, "every point is ok", json.dumps(bad[:1]))
        check(a == b, "a rerun from a clean directory gives identical rows")
        # The families come from the compile cache when the results go.
        out = work / "run0"
        for f in ("results.jsonl", "results.csv", "layers.jsonl"):
            (out / f).unlink()
        r = run([nuri, "sweep", spec, "-o", out, "--quiet"])
        check(r.returncode == 0 and "6 from the cache" in r.stdout + r.stderr,
              "a rerun over the same cache compiles no family again",
              (r.stdout + r.stderr)[-600:])
        check(sorted(rows_of(out), key=lambda x: x["point"]) == a,
              "rows from the cached families equal the compiled ones")

        for m in METRICS:
            check(all(x.get(f"gpt2.{m}") is not None for x in a),
                  f"every row has gpt2.{m}")
        for x in a:
            p = x["point"]
            # 4 requests x 16 tokens over the simulated prefill + decode time.
            tps = 64 / x["gpt2.latency_s"]
            check(abs(x["gpt2.tokens_per_s"] - tps) <= 1e-9 * tps,
                  f"point {p}: tokens_per_s = 64 tokens / latency_s",
                  f"{x['gpt2.tokens_per_s']} vs {tps}")
            check(abs(x["gpt2.tokens_per_s_per_user"] * x["gpt2.tpot_s"] - 1) < 1e-9,
                  f"point {p}: tokens_per_s_per_user = 1 / tpot_s")
            f = x["gpt2.dram_roofline_fraction"]
            check(0 < f <= 1.0 + 1e-9, f"point {p}: 0 < dram_roofline_fraction <= 1", str(f))
            check(x["gpt2.dram_bytes_per_token"] > 0, f"point {p}: dram_bytes_per_token > 0")
            check(x["latency_s"] == x["gpt2.latency_s"], f"point {p}: latency_s is the workload's")

        by_cores = {}
        for x in a:
            by_cores.setdefault(x["cores"], []).append(x)
        for cores, xs in sorted(by_cores.items()):
            xs.sort(key=lambda x: x["dram.bytes_per_s"])
            tps = [x["gpt2.tokens_per_s"] for x in xs]
            dec = [x["gpt2.tokens_per_s_per_user"] for x in xs]
            check(all(t2 >= t1 for t1, t2 in zip(tps, tps[1:])),
                  f"cores {cores}: more DRAM bandwidth never lowers tokens_per_s",
                  str(tps))
            check(all(t2 >= t1 for t1, t2 in zip(dec, dec[1:])),
                  f"cores {cores}: more DRAM bandwidth never lowers decode "
                  f"tokens_per_s_per_user", str(dec))
            # The figures must move at all: 16x the bandwidth is not free
            # on a decode step that streams every weight.
            check(tps[-1] > tps[0], f"cores {cores}: 16x DRAM bandwidth raises tokens_per_s",
                  str(tps))
        print("rows:")
        for x in a:
            print(f"  point {x['point']}: dram {x['dram.bytes_per_s']:.0f} B/s, cores "
                  f"{x['cores']:.0f}: {x['gpt2.tokens_per_s']:.1f} tokens/s, ttft "
                  f"{x['gpt2.ttft_s'] * 1e6:.1f} us, tpot {x['gpt2.tpot_s'] * 1e6:.1f} us, "
                  f"roofline {x['gpt2.dram_roofline_fraction']:.3f}, cpu partitions/step "
                  f"{x['gpt2.cpu_partitions_per_decode_step']:.0f}")

        # Bad scenarios: spec errors that name the key.
        base = spec.read_text()

        def bad_spec(name, text, want):
            p = work / f"{name}.yaml"
            p.write_text(text)
            r = run([nuri, "sweep", p, "-o", work / f"out-{name}", "--quiet"])
            check(r.returncode != 0 and all(w in r.stderr for w in want),
                  f"{name}: exits non-zero naming {want}", r.stderr[-600:])

        bad_spec("no-past-zoo", base.replace("zoo: gpt2-tiny", "zoo: bert-tiny"),
                 ["generation", "bert-tiny", "KV cache"])
        bad_spec("too-long", base.replace("new_tokens: 16", "new_tokens: 600"),
                 ["generation.prompt_len + generation.new_tokens", "632", "512 positions"])
        # LLaMA's positions are its rotary tables' ([1, 1, 512, D], sliced
        # and squeezed before position_ids gathers them).
        bad_spec("too-long-llama",
                 base.replace("zoo: gpt2-tiny", "zoo: llama-tiny")
                     .replace("prompt_len: 32", "prompt_len: 500"),
                 ["generation.prompt_len + generation.new_tokens", "516", "512 positions"])
        bad_spec("seq-on-decode", base.replace("    dtype: bf16\n", "    dtype: bf16\n    seq: 64\n"),
                 ["seq", "decode workload"])
        # An ONNX file without past inputs (bert-tiny written by the zoo).
        onnx = work / "bert-tiny.onnx"
        r = run([nuri, "zoo", "bert-tiny", "-o", onnx])
        check(r.returncode == 0, "nuri zoo bert-tiny writes an ONNX file", r.stderr[-400:])
        bad_spec("no-past-onnx", base.replace("zoo: gpt2-tiny", f"onnx: {onnx}"),
                 ["workload `gpt2`", "`generation` needs a decoder", "no past input"])
    return 1 if failures() else 0


if __name__ == "__main__":
    sys.exit(main())
