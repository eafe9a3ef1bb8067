#!/usr/bin/env python3
"""Post-training quantization of the shared gpt2-bytes-trained, end to end.

--case nll: calibrates on calib.npy only (`nuri compile --quantize`), then
computes the teacher-forced mean negative log-likelihood over eval.npy in
windows of 128 (each from a zero-length past, the way eval_nll.json was
made by ONNX Runtime) on the cpu device, for fp32, int8 with SmoothQuant and
w8a16, and checks the rise against fp32: int8 SmoothQuant <= 3%, w8a16 <=
0.5% (issue 11). Also checks that the fp32 figure equals eval_nll.json, that
a second compile reads the calibration cache instead of calibrating, and
that it gives the same package. Prints one line per scheme.

--case generate: --generate families quantized w8a16 and int8; greedy tokens.
--case report: --accuracy-report's lines, --min-sqnr's suggestions, --exclude.
--case errors: each bad input is refused with a message naming it.
"""

import argparse
import json
import pathlib
import subprocess
import sys

import numpy as np

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1] / "common"))
from gpt2_bytes_eval import eval_feeds  # noqa: E402



def run(cmd, expect_ok=True):
    p = subprocess.run([str(c) for c in cmd], capture_output=True, text=True)
    if expect_ok and p.returncode != 0:
        sys.exit(f"FAILED ({p.returncode}): {' '.join(map(str, cmd))}\n{p.stdout}\n{p.stderr}")
    return p


def expect(cond, what):
    print(("ok: " if cond else "FAIL: ") + what)
    if not cond:
        sys.exit(1)


def refused(cmd, *needles):
    p = run(cmd, expect_ok=False)
    text = p.stdout + p.stderr
    expect(p.returncode != 0 and all(n in text for n in needles),
           f"refused with {needles!r}" + ("" if p.returncode != 0 else " (but it succeeded)"))
    if not all(n in text for n in needles):
        print(text)
        sys.exit(1)


def nll(logits, targets):
    x = logits.astype(np.float64)
    x = x - x.max(-1, keepdims=True)
    logp = x - np.log(np.exp(x).sum(-1, keepdims=True))
    return float(-np.take_along_axis(logp, targets[..., None], -1).mean())


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--nuri", required=True)
    ap.add_argument("--model-dir", required=True, type=pathlib.Path)
    ap.add_argument("--work", required=True, type=pathlib.Path)
    ap.add_argument("--case", default="nll")
    ap.add_argument("--alpha", default="0.5")
    ap.add_argument("--target", default="cpu",
                    help="compile the quantized models for this target and run them on "
                         "sim (the fp32 baseline stays on the cpu)")
    args = ap.parse_args()
    work = args.work
    work.mkdir(parents=True, exist_ok=True)
    model = args.model_dir / "model.onnx"
    calib = args.model_dir / "calib.npy"

    if args.case == "nll":
        targets, shapes, inputs = eval_feeds(args.model_dir, work)
        schemes = {
            "fp32": [],
            "int8-smoothquant": ["--quantize", "int8", "--calibration", calib,
                                 "--smoothquant", args.alpha,
                                 "--calibration-cache", work / "int8-sq.json"],
            "int8": ["--quantize", "int8", "--calibration", calib],
            "int8-percentile": ["--quantize", "int8", "--calibration", calib,
                                "--calibration-method", "percentile"],
            "w8a16": ["--quantize", "w8a16"],
            "w4a16": ["--quantize", "w4a16"],
            "fp8": ["--quantize", "fp8", "--calibration-cache", work / "fp8.json",
                    "--calibration", calib],
        }
        methods = ("entropy", "mse") if args.target == "cpu" else ()
        for method in methods:
            # The histogram methods clip from the same statistics: the cache
            # the first scheme writes serves them without calibrating again.
            schemes[f"int8-smoothquant-{method}"] = [
                "--quantize", "int8", "--smoothquant", args.alpha, "--calibration-cache",
                work / "int8-sq.json", "--calibration-method", method]
        ref = json.loads((args.model_dir / "eval_nll.json").read_text())["nll"]
        result = {}
        device = "cpu" if args.target == "cpu" else "sim"
        for name, extra in schemes.items():
            pkg = work / f"{name}.nuri"
            (work / name).mkdir(exist_ok=True)
            target = ["--target", args.target] if extra else []
            rep = run([args.nuri, "compile", model, *shapes, *target, *extra, "--report",
                       "-o", pkg])
            if extra:
                print("\n".join(l for l in rep.stdout.splitlines()
                                if l.startswith("quantization") or "layer(s)" in l))
                # 4 blocks x (qkv, attention out, fc, proj); lm_head float.
                expect("16 linear layer(s) quantized" in rep.stdout
                       and "float  /MatMul: the model head stays float" in rep.stdout,
                       f"{name}: 16 linears quantized, the head kept float")
                if args.target != "cpu" and (name.startswith("int8") or
                                             (name == "fp8" and args.target == "rngd")):
                    # The int8 products run on the NPU's int8 tiles, fp8's
                    # on rngd's e4m3 tiles.
                    gemms = rep.stdout.count("npu.quantized_gemm")
                    expect(gemms == 16 and "nuri.quantized_matmul" not in rep.stdout,
                           f"{name}: the 16 8-bit products run as npu.quantized_gemm "
                           f"on {args.target} ({gemms})")
            run([args.nuri, "run", pkg, "--device", device if extra else "cpu", *inputs,
                 "--output-dir", work / name])
            logits = np.load(work / name / "logits.npy")
            result[name] = nll(logits, targets)
        base = result["fp32"]
        expect(abs(base - ref) < 1e-4,
               f"fp32 NLL {base:.5f} equals ONNX Runtime's eval_nll.json {ref:.5f}")
        for name in schemes:
            if name == "fp32":
                continue
            rise = (result[name] / base - 1) * 100
            print(f"gpt2-bytes-trained eval NLL {args.target}/{device}: {name} {result[name]:.5f} vs fp32 {base:.5f}: "
                  f"{rise:+.2f}%")
        expect(result["int8-smoothquant"] <= base * 1.03,
               f"int8 SmoothQuant NLL rise {(result['int8-smoothquant'] / base - 1) * 100:+.2f}% <= 3%")
        for name in (f"int8-smoothquant-{m}" for m in methods):
            expect(result[name] <= base * 1.03,
                   f"{name} NLL rise {(result[name] / base - 1) * 100:+.2f}% <= 3%")
        # fp8's goal (1%) holds with fp32 around the quantized linears
        # (+0.91%); with bf16 around them on a chip the two roundings add up
        # (rngd's e4m3 tiles: +1.03%), which the sim run bounds instead of
        # hiding.
        fp8_goal = 1.01 if args.target == "cpu" else 1.015
        expect(result["fp8"] <= base * fp8_goal,
               f"fp8 NLL rise {(result['fp8'] / base - 1) * 100:+.2f}% <= "
               f"{(fp8_goal - 1) * 100:.1f}%")
        expect(result["w4a16"] <= base * 1.04,
               f"w4a16 NLL rise {(result['w4a16'] / base - 1) * 100:+.2f}% <= 4%")
        expect(result["w8a16"] <= base * 1.005,
               f"w8a16 NLL rise {(result['w8a16'] / base - 1) * 100:+.2f}% <= 0.5%")
        # The cache written above: a recompile reads it (no calibration
        # folder needed) and makes the same package.
        again = work / "int8-sq-cached.nuri"
        rep = run([args.nuri, "compile", model, *shapes, *target, "--quantize", "int8",
                   "--smoothquant", args.alpha, "--calibration-cache",
                   work / "int8-sq.json", "--report", "-o", again])
        expect("calibration read from" in rep.stdout, "the second compile reads the cache")
        expect(again.read_bytes() == (work / "int8-smoothquant.nuri").read_bytes(),
               "and writes the same package")
    elif args.case == "generate":
        # A generation family quantized from one calibration: w8a16's greedy
        # continuations equal fp32's (ONNX Runtime's, generate/N.json) for
        # at least the first 32 tokens of each prompt.
        refs = [json.loads((args.model_dir / "generate" / f"{i}.json").read_text())
                for i in range(4)]
        for scheme, extra in (("w8a16", []),
                              ("int8", ["--calibration", calib, "--smoothquant", args.alpha])):
            pkg = work / f"gen-{scheme}.nuri"
            run([args.nuri, "compile", model, "--generate", "--max-seq", "128",
                 "--quantize", scheme, *extra, "-o", pkg])
            cmd = [args.nuri, "generate", pkg, "--device", "cpu", "--json",
                   "--max-new-tokens", "64"]
            for r in refs:
                cmd += ["--prompt-ids", ",".join(map(str, r["prompt"]))]
            got = json.loads(run(cmd).stdout)["requests"]
            prefixes = []
            for r, g in zip(refs, got):
                n = 0
                while n < min(len(r["greedy"]), len(g["tokens"])) and r["greedy"][n] == g["tokens"][n]:
                    n += 1
                prefixes.append(n)
            print(f"gpt2-bytes-trained greedy {scheme} (cpu): tokens equal to fp32 per prompt: {prefixes} of 64")
            if scheme == "w8a16":
                expect(min(prefixes) >= 32, f"w8a16 greedy equals fp32 for >= 32 tokens ({prefixes})")
                # The CPU device dequantizes a constant int8 weight once, when
                # the session is prepared: a decode step runs no dequantize op.
                prof = json.loads(run([args.nuri, "run", pkg, "--program", "decode.b1.c128",
                                       "--device", "cpu", "--profile", "--json"]).stdout)
                kinds = prof["op_seconds"].keys()
                expect(any(k.startswith("linear") for k in kinds)
                       and not any(k.startswith("dequantize") for k in kinds),
                       f"w8a16 on cpu: the weights are dequantized at session creation, "
                       f"not per step (ops run: {sorted(kinds)})")
    elif args.case == "report":
        # --accuracy-report on one calibration window: a line per quantized
        # layer, one per output, and the exclusions it suggests; then
        # --exclude by prefix and by name.
        shapes = window_shapes()
        base = [args.nuri, "compile", model, *shapes, "--quantize", "int8", "--calibration",
                calib, "--smoothquant", args.alpha, "--accuracy-report", "-o", work / "r.nuri"]
        text = run(base).stdout
        print(text)
        layers = [l for l in text.splitlines() if l.startswith("  /h.")]
        expect(len(layers) == 16, "a line per quantized layer (16)")
        sqnr = {l.split()[0]: float(l.split()[1]) for l in layers}
        expect(all(v > 15 for v in sqnr.values()), f"every layer's SQNR > 15 dB (min {min(sqnr.values()):.1f})")
        logits = [l for l in text.splitlines() if l.startswith("  output logits:")]
        expect(len(logits) == 1 and "top-1 agreement" in logits[0], "logits: cosine, max error, top-1")
        agree = float(logits[0].split("top-1 agreement ")[1].split("%")[0])
        expect(agree >= 95, f"top-1 agreement {agree:.2f}% >= 95% on a calibration window")
        expect("suggested exclusions (SQNR below 20.0 dB): none" in text,
               "without --min-sqnr, exclusions below 20 dB are suggested (none here)")
        # --min-sqnr above the worst layer: the automatic fallback keeps it
        # (and whatever else stays below after it) float, and every layer
        # still quantized then holds the threshold.
        worst = min(sqnr, key=sqnr.get)
        floor = sqnr[worst] + 0.05
        text = run(base + ["--min-sqnr", f"{floor:.2f}"]).stdout
        kept = [l for l in text.splitlines() if "(automatic fallback)" in l]
        expect(any(l.startswith(f"  float  {worst}: SQNR ") for l in kept),
               f"--min-sqnr {floor:.2f} keeps the worst layer {worst} float")
        expect(f"{16 - len(kept)} linear layer(s) quantized" in text
               and f"{len(kept)} layer(s) kept float" in text,
               f"{len(kept)} layer(s) kept float, {16 - len(kept)} quantized")
        after = {l.split()[0]: float(l.split()[1]) for l in text.splitlines()
                 if l.startswith("  /h.")}
        expect(len(after) == 16 - len(kept) and worst not in after
               and all(v >= floor for v in after.values()),
               f"after the fallback every quantized layer's SQNR >= {floor:.2f} dB "
               f"(min {min(after.values()):.2f})")
        text = run(base + ["--exclude", "/h.0", "--exclude", worst]).stdout
        expect("11 linear layer(s) quantized" in text
               and f"float  {worst}: excluded by --exclude {worst}" in text
               and "float  /h.0/c_fc/MatMul: excluded by --exclude /h.0" in text,
               "--exclude by layer prefix and by name keeps 5 linears float")
    elif args.case == "errors":
        out = work / "x.nuri"
        model = [model, *window_shapes()]
        refused([args.nuri, "compile", *model, "--quantize", "int8", "--calibration",
                 work / "nowhere", "-o", out],
                "calibration folder", "nowhere", "does not exist")
        empty = work / "empty"
        empty.mkdir(exist_ok=True)
        refused([args.nuri, "compile", *model, "--quantize", "int8", "--calibration",
                 empty, "-o", out], "calibration folder", "holds no input sets")
        # A set with a wrongly shaped input, and one that lacks an input.
        bad = work / "bad" / "set0"
        bad.mkdir(parents=True, exist_ok=True)
        for f in (args.model_dir / "inputs_past0").glob("*.npy"):
            np.save(bad / f.name, np.load(f))
        np.save(bad / "input_ids.npy", np.zeros((1, 2, 3), np.int64))
        refused([args.nuri, "compile", *model, "--quantize", "int8", "--calibration",
                 work / "bad", "-o", out],
                "input_ids.npy has shape [1,2,3]", "the model's input 'input_ids' is [")
        (bad / "input_ids.npy").unlink()
        refused([args.nuri, "compile", *model, "--quantize", "int8", "--calibration",
                 work / "bad", "-o", out], "has no 'input_ids.npy' for the model input")
        refused([args.nuri, "compile", *model, "--quantize", "int8", "-o", out],
                "--quantize int8 needs --calibration")
        refused([args.nuri, "compile", *model, "--quantize", "w8a16", "--min-sqnr", "20",
                 "-o", out], "--min-sqnr needs --calibration")
        refused([args.nuri, "compile", *model, "--min-sqnr", "20", "-o", out],
                "--min-sqnr need --quantize")
        refused([args.nuri, "compile", *model, "--quantize", "int8", "--calibration", calib,
                 "--calibration-method", "kl", "-o", out],
                "--calibration-method kl: expected minmax, percentile, entropy or mse")
        # A corrupt cache names the file.
        cache = work / "corrupt.json"
        cache.write_text('{"format": "nuri-calibration", "version": 1, "layers": {"x": {"min": 1')
        refused([args.nuri, "compile", *model, "--quantize", "int8", "--calibration-cache",
                 cache, "-o", out], "calibration cache", "corrupt.json", "is corrupt")
        cache.write_text('{"format": "nuri-calibration", "version": 1, "layers": {"x": {"min": 2, "max": 1}}}')
        refused([args.nuri, "compile", *model, "--quantize", "int8", "--calibration-cache",
                 cache, "-o", out], "corrupt.json", "layer 'x' has no valid \"min\" <= \"max\"")
        cache.write_text(json.dumps({"format": "nuri-calibration", "version": 1, "sets": 1,
                                     "smoothquant_alpha": None, "layers": {}}))
        refused([args.nuri, "compile", *model, "--quantize", "int8", "--calibration-cache",
                 cache, "-o", out], "has no statistics for the layer", "another model")
        refused([args.nuri, "compile", *model, "--quantize", "int8", "--smoothquant", "0.5",
                 "--calibration-cache", cache, "-o", out],
                "was made with no --smoothquant", "--smoothquant 0.5")
        refused([args.nuri, "compile", *model, "--quantize", "int4", "-o", out],
                "--quantize int4: expected int8, fp8, w8a16 or w4a16")
        refused([args.nuri, "compile", *model, "--exclude", "x", "-o", out], "need --quantize")
        # An already quantized model (ONNX Runtime's dynamic quantization).
        q = work / "dq.onnx"
        make_quantized_model(q)
        refused([args.nuri, "compile", q, "--quantize", "w8a16", "-o", out],
                "the model is already quantized", "--quantize takes a float model")
    else:
        sys.exit(f"unknown case {args.case}")


def window_shapes():
    """The shapes of one window of 128, as a user compiles the model."""
    shapes = ["--input-shape", "input_ids=1x128", "--input-shape", "attention_mask=1x128",
              "--input-shape", "position_ids=1x128"]
    for i in range(4):
        for kv in ("key", "value"):
            shapes += ["--input-shape", f"past_key_values.{i}.{kv}=1x4x0x32"]
    return shapes


def make_quantized_model(path):
    import onnx
    from onnx import TensorProto, helper, numpy_helper
    w = numpy_helper.from_array(np.ones((4, 3), np.int8), "w")
    g = helper.make_graph(
        [helper.make_node("DynamicQuantizeLinear", ["x"], ["xq", "xs", "xz"], name="dq"),
         helper.make_node("MatMulInteger", ["xq", "w", "xz"], ["y"], name="mmi")],
        "q", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [2, 4])],
        [helper.make_tensor_value_info("y", TensorProto.INT32, [2, 3])], [w])
    onnx.save(helper.make_model(g, opset_imports=[helper.make_opsetid("", 13)]), str(path))


if __name__ == "__main__":
    main()
