#!/usr/bin/env python3
"""`nuri compile --generate` + `nuri generate` against ONNX Runtime's greedy
continuations of ../shared/models/gpt2-bytes-trained, and every bad input
the generator must refuse with a clear message.

  check_generate.py --nuri build/bin/nuri --model-dir ../shared/models/gpt2-bytes-trained \
      --case NAME [--work DIR]

Cases: greedy (each prompt alone, then all four batched: token for token),
slots (four requests on two cache slots: queued, none dropped), cache (a
cache too short: the long request stops with "length" after max_seq -
prompt + 1 tokens, the others go on), sampling (a fixed seed repeats; a
request's tokens do not depend on what it is batched with), errors,
stacked (--model-dir of a decoder with stacked [2, batch, heads, past, dim]
pasts, e.g. gpt2-tiny-random-ortfused or gpt2-megatron-1layer-past-torch19:
greedy tokens against the step-by-step loop over the plain model), step
(gpt2-tiny-past-torch16 on --target cpu or a chip: one decode step and the
one-token prefills against ONNX Runtime's outputs and presents, the cache
seeded through `nuri run --state`), merged (optimum's merged decoder with
its use_cache_branch If, built from gpt2-bytes-trained), and
sim (--target T, bf16 on the sim device: the first 16 greedy tokens of
every prompt batched, and teacher-forced top-1 agreement >= 97% with the
fp32 CPU logits over eval.npy in windows of 128).
Exits non-zero with a message on the first mismatch.
"""
import argparse
import json
import pathlib
import subprocess
import sys
import tempfile


def run(cmd, expect_ok=True):
    p = subprocess.run(cmd, capture_output=True, text=True)
    if expect_ok and p.returncode != 0:
        sys.exit(f"FAILED: {' '.join(map(str, cmd))}\n{p.stdout}\n{p.stderr}")
    return p


def compile_family(args, out, *extra):
    run([args.nuri, "compile", str(args.model_dir / "model.onnx"), "--generate",
         *extra, "-o", str(out)])


def generate(args, pkg, prompts, *extra):
    cmd = [args.nuri, "generate", str(pkg), "--device", "cpu", "--json", *extra]
    for p in prompts:
        cmd += ["--prompt-ids", ",".join(map(str, p))]
    return json.loads(run(cmd).stdout)


def expect(cond, what):
    if not cond:
        sys.exit("FAILED: " + what)
    print("ok:", what)


def refused(args, cmd, *needles):
    p = run(cmd, expect_ok=False)
    text = p.stdout + p.stderr
    expect(p.returncode != 0 and all(n in text for n in needles),
           f"refused ({' / '.join(needles)}): {text.strip()[:300]}")


def step_feeds(inputs_dir, ids, p_len):
    """One step's feeds for the plain model, in the dtypes and mask layout of
    the shared reference inputs: a [batch, total] mask, or Megatron's whole
    [batch, 1, P, P] lower-triangular one, sliced by the model itself."""
    import numpy as np
    ref = {f.stem: np.load(f) for f in inputs_dir.glob("*.npy") if not f.stem.startswith("past")}
    n = ids.shape[1]
    feeds = {"input_ids": ids.astype(ref["input_ids"].dtype)}
    if "position_ids" in ref:
        feeds["position_ids"] = np.arange(p_len, p_len + n).astype(ref["position_ids"].dtype)[None]
    if "attention_mask" in ref:
        mask = ref["attention_mask"]
        if mask.ndim == 4:
            side = mask.shape[-1]
            feeds["attention_mask"] = np.tril(np.ones((1, 1, side, side))).astype(mask.dtype)
        else:
            feeds["attention_mask"] = np.ones((1, p_len + n), mask.dtype)
    return feeds


def check_stacked(args, work):
    """A decoder whose past is [2, batch, heads, past, dim] (ORT's fused
    Attention, Megatron's Split/Squeeze): --generate's greedy tokens against
    the step-by-step loop an exporter's user runs (the plain model compiled
    per step, present fed back as past; the plain CPU path is checked against
    ONNX Runtime by models-cpu)."""
    import numpy as np
    model = args.model_dir / "model.onnx"
    pkg = work / "stacked.nuri"
    compile_family(args, pkg, "--max-seq", "32", "--decode-batch", "1,2",
                   "--context-buckets", "16,32", "--prefill-buckets", "8")
    prompts = [[1, 2, 3, 4, 5], [7, 8, 9]]
    steps = 8
    got = generate(args, pkg, prompts, "--max-new-tokens", str(steps))
    layers = sorted(p.stem for p in (args.model_dir / "inputs").glob("past_*.npy"))
    past0 = np.load(args.model_dir / "inputs" / f"{layers[0]}.npy")
    heads, dim = past0.shape[2], past0.shape[4]
    for r, prompt in enumerate(prompts):
        ids = np.array([prompt], np.int64)
        past = {l: np.zeros((2, 1, heads, 0, dim), np.float32) for l in layers}
        tokens = []
        for step in range(steps):
            feeds = {**step_feeds(args.model_dir / "inputs", ids, past[layers[0]].shape[3]),
                     **past}
            shapes, inputs = [], []
            for name, value in feeds.items():
                np.save(work / f"{name}.npy", value)
                shapes += ["--input-shape", f"{name}={'x'.join(map(str, value.shape))}"]
                inputs += ["--input", f"{name}={work / (name + '.npy')}"]
            run([args.nuri, "compile", str(model), *shapes, "-o", str(work / "step.nuri")])
            out = work / "step-out"
            out.mkdir(exist_ok=True)
            run([args.nuri, "run", str(work / "step.nuri"), "--device", "cpu", *inputs,
                 "--output-dir", str(out)])
            token = int(np.load(out / "logits.npy")[0, -1].argmax())
            tokens.append(token)
            past = {l: np.load(out / f"{l.replace('past', 'present')}.npy") for l in layers}
            ids = np.array([[token]], np.int64)
        expect(got["requests"][r]["tokens"] == tokens,
               f"stacked past, prompt {r}: {steps} greedy tokens {tokens} equal the step-by-step loop's")


def check_step(args, work):
    """gpt2-tiny-past-torch16 (input_ids [batch, 1], positions from the past's
    length, no mask, no LM head, keys kept transposed): the family's programs
    against ONNX Runtime's reference step. The cache is seeded with the
    reference past through `nuri run --state`, the decode program writes the
    new rows in place, and its output and the cache's rows equal ORT's
    last_state and presents."""
    import numpy as np
    device = "cpu" if args.target == "cpu" else "sim"
    tol = 1e-4 if device == "cpu" else 5e-2  # bf16 on the chips
    pkg = work / f"step-{args.target}.nuri"
    compile_family(args, pkg, "--target", args.target, "--max-seq", "8",
                   "--decode-batch", "2", "--context-buckets", "5,8")
    inputs, outputs = args.model_dir / "inputs", args.model_dir / "outputs"
    layers = sorted((p.stem for p in inputs.glob("past_*.npy")), key=lambda n: int(n[5:]))
    batch, heads, past_len, dim = np.load(inputs / f"{layers[0]}.npy").shape[1:]
    slots, max_seq = 2, 8

    def run_program(program, feeds, states, out):
        cmd = [args.nuri, "run", str(pkg), "--program", program, "--device", device,
               "--output-dir", str(out)]
        out.mkdir(exist_ok=True)
        for name, value in feeds.items():
            np.save(work / f"{name}.npy", value)
            cmd += ["--input", f"{name}={work / (name + '.npy')}"]
        for name, value in states.items():
            np.save(work / f"state-{name}.npy", value)
            cmd += ["--state", f"{name}={work / ('state-' + name + '.npy')}"]
        return run(cmd)

    def read_cache(path):
        c = np.load(path)
        return c if c.dtype == np.float32 else (c.astype(np.uint32) << 16).view(np.float32)

    # Decode: slots 0 and 1 hold the reference past at positions 0..3.
    states = {}
    for l in layers:
        past = np.load(inputs / f"{l}.npy")
        for k, half in enumerate(("key", "value")):
            cache = np.zeros((slots, heads, max_seq, dim), np.float32)
            cache[:, :, :past_len] = past[k]
            states[f"{l}.{half}"] = cache
    out = work / f"decode-{args.target}"
    run_program(f"decode.b2.c{past_len + 1}",
                {"input_ids": np.load(inputs / "input_ids.npy"),
                 "kv_slots": np.arange(batch, dtype=np.int64),
                 "kv_positions": np.full(batch, past_len, np.int64)}, states, out)
    err = np.abs(np.load(out / "last_state.npy").astype(np.float32)
                 - np.load(outputs / "last_state.npy")).max()
    expect(err <= tol, f"{args.target} decode.b2.c{past_len + 1}: last_state equals ORT's "
                       f"(max error {err:.3g})")
    worst = 0.0
    for l in layers:
        present = np.load(outputs / f"{l.replace('past', 'present')}.npy")
        for k, half in enumerate(("key", "value")):
            cache = read_cache(out / f"state.{l}.{half}.npy")
            worst = max(worst, np.abs(cache[:, :, :past_len + 1] - present[k]).max())
    expect(worst <= tol, f"{args.target}: the cache after the step holds ORT's presents "
                         f"(max error {worst:.3g})")

    # Prefill from an empty cache: one token per sequence, into slot b.
    for b in range(batch):
        out = work / f"prefill-{args.target}-{b}"
        ids = np.load(args.model_dir / "inputs_past0" / "input_ids.npy")[b:b + 1]
        run_program("prefill.b1.t1", {"input_ids": ids, "kv_slots": np.array([b], np.int64),
                                      "kv_positions": np.zeros(1, np.int64)}, {}, out)
        ref = np.load(args.model_dir / "outputs_past0" / "last_state.npy")[b:b + 1]
        err = np.abs(np.load(out / "last_state.npy").astype(np.float32) - ref).max()
        present = np.load(args.model_dir / "outputs_past0" / "present_0.npy")
        cache = read_cache(out / "state.past_0.key.npy")
        err = max(err, np.abs(cache[b, :, 0] - present[0, b, :, 0]).max())
        expect(err <= tol, f"{args.target} prefill.b1.t1, sequence {b}: last_state and "
                           f"the cache row equal ORT's (max error {err:.3g})")

    if device != "cpu":
        return
    refused(args, [args.nuri, "compile", str(args.model_dir / "model.onnx"), "--generate",
                   "--max-seq", "8", "--prefill-buckets", "4", "-o", str(work / "x.nuri")],
            "--prefill-buckets", "input_ids is [batch, 1]")
    refused(args, [args.nuri, "run", str(pkg), "--program", "decode.b2.c5", "--state",
                   f"past_99.key={work / 'state-past_0.key.npy'}"],
            "--state past_99.key", "no state 'past_99.key'", "past_0.key")
    np.save(work / "short.npy", np.zeros((slots, heads, 4, dim), np.float32))
    refused(args, [args.nuri, "run", str(pkg), "--program", "decode.b2.c5", "--state",
                   f"past_0.key={work / 'short.npy'}"],
            "--state past_0.key", "f32 [2,2,4,2]", "the state is f32 [2,2,8,2]")
    refused(args, [args.nuri, "generate", str(pkg), "--prompt-ids", "1"],
            "prefill.b1.t1", "output named 'logits'", "language-model head")


def check_merged(args, work):
    """Optimum's merged decoder: `use_cache_branch` chooses between the
    first-step graph and the with-past graph in an If. Built here from
    gpt2-bytes-trained (both branches its graph, as optimum merges two
    exports of one model); --generate binds the flag to the with-past
    branch and must reproduce ONNX Runtime's greedy continuations."""
    import onnx
    from onnx import helper, TensorProto
    m = onnx.load(str(args.model_dir / "model.onnx"))
    g = m.graph
    branch = lambda name: helper.make_graph(list(g.node), name, [], list(g.output),
                                            initializer=list(g.initializer))
    flag = helper.make_tensor_value_info("use_cache_branch", TensorProto.BOOL, [1])
    node = helper.make_node("If", ["use_cache_branch"], [o.name for o in g.output],
                            then_branch=branch("with_past"), else_branch=branch("no_past"))
    merged = helper.make_graph([node], "merged", list(g.input) + [flag], list(g.output))
    mm = helper.make_model(merged, opset_imports=list(m.opset_import))
    mm.ir_version = m.ir_version
    path = work / "decoder_model_merged.onnx"
    onnx.save(mm, str(path))
    pkg = work / "merged.nuri"
    run([args.nuri, "compile", str(path), "--generate", "--max-seq", "128",
         "--decode-batch", "4", "--context-buckets", "128", "--prefill-buckets", "64",
         "-o", str(pkg)])
    gen = args.model_dir / "generate"
    batch = json.load(open(gen / "batch.json"))
    n = 24
    r = generate(args, pkg, batch["prompts"], "--max-new-tokens", str(n))
    for i, got in enumerate(r["requests"]):
        want = json.load(open(gen / f"{i}.json"))["greedy"][:n]
        expect(got["tokens"] == want,
               f"merged decoder, prompt {i} batched: {n} greedy tokens equal ONNX Runtime's")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--nuri", required=True)
    ap.add_argument("--model-dir", required=True, type=pathlib.Path)
    ap.add_argument("--case", required=True)
    ap.add_argument("--work")
    ap.add_argument("--target", default="atom")
    args = ap.parse_args()
    work = pathlib.Path(args.work or tempfile.mkdtemp(prefix="nuri-gen-"))
    work.mkdir(parents=True, exist_ok=True)
    if args.case == "stacked":
        return check_stacked(args, work)
    if args.case == "step":
        return check_step(args, work)
    if args.case == "merged":
        return check_merged(args, work)
    gen = args.model_dir / "generate"
    singles = [json.load(open(gen / f"{i}.json")) for i in range(4)]
    batch = json.load(open(gen / "batch.json"))
    prompts = [s["prompt"] for s in singles]

    if args.case == "greedy":
        pkg = work / "gen.nuri"
        compile_family(args, pkg, "--max-seq", "128")
        for i, s in enumerate(singles):
            n = len(s["greedy"])
            r = generate(args, pkg, [s["prompt"]], "--max-new-tokens", str(n))
            got = r["requests"][0]
            expect(got["tokens"] == s["greedy"] and got["stop_reason"] == "length",
                   f"prompt {i} alone: {n} greedy tokens equal ONNX Runtime's")
        n = len(batch["greedy"][0])
        r = generate(args, pkg, batch["prompts"], "--max-new-tokens", str(n))
        for i, got in enumerate(r["requests"]):
            expect(got["tokens"] == batch["greedy"][i],
                   f"prompt {i} batched with the others: equal to ONNX Runtime's batch")
        expect(r["decode"]["runs"] == n - 1 and r["decode"]["tokens"] == 4 * (n - 1),
               "the four requests decode together, one run per step")
        expect(r["decode"]["host_to_device_bytes_per_step"] == 0
               and r["decode"]["device_to_host_bytes_per_sequence_step"] == 0,
               "the cpu device has no host-device boundary: nothing crosses it")
    elif args.case == "slots":
        pkg = work / "slots.nuri"
        compile_family(args, pkg, "--max-seq", "128", "--decode-batch", "1,2",
                       "--context-buckets", "64,128", "--prefill-buckets", "64")
        r = generate(args, pkg, prompts, "--max-new-tokens", "24")
        for i, got in enumerate(r["requests"]):
            expect(got["tokens"] == singles[i]["greedy"][:24],
                   f"request {i} of 4 on 2 slots: queued, then its 24 greedy tokens")
    elif args.case == "cache":
        pkg = work / "short.nuri"
        compile_family(args, pkg, "--max-seq", "64", "--prefill-buckets", "32,63",
                       "--context-buckets", "64")
        r = generate(args, pkg, [prompts[0], prompts[3]], "--max-new-tokens", "40")
        long_, short = r["requests"]
        room = 64 - len(prompts[0]) + 1
        expect(long_["stop_reason"] == "length" and len(long_["tokens"]) == room
               and long_["tokens"] == singles[0]["greedy"][:room],
               f"the {len(prompts[0])}-token prompt stops with 'length' after {room} tokens (cache full)")
        expect(short["stop_reason"] == "length" and short["tokens"] == singles[3]["greedy"][:40],
               "the other request goes on to its 40 tokens")
        # Context buckets below --max-seq bound a sequence the same way.
        narrow = work / "narrow.nuri"
        compile_family(args, narrow, "--max-seq", "128", "--prefill-buckets", "63",
                       "--context-buckets", "64")
        n = generate(args, narrow, [prompts[0]], "--max-new-tokens", "40")["requests"][0]
        expect(n["stop_reason"] == "length" and n["tokens"] == singles[0]["greedy"][:room],
               f"with context buckets up to 64 under --max-seq 128, the same {room} tokens")
    elif args.case == "refill":
        # A slot freed mid-run is refilled while the others decode: the new
        # request decodes with them in the same step, so the padding rows of
        # the batch-4 program never need more free slots than there are.
        pkg = work / "refill.nuri"
        compile_family(args, pkg, "--max-seq", "64", "--prefill-buckets", "32,63",
                       "--decode-batch", "4", "--context-buckets", "64")
        order = [0, 1, 2, 3, 2]
        r = generate(args, pkg, [prompts[i] for i in order], "--max-new-tokens", "20")
        for k, (i, got) in enumerate(zip(order, r["requests"])):
            n = min(20, 64 - len(prompts[i]) + 1)
            expect(got["tokens"] == singles[i]["greedy"][:n],
                   f"request {k} (prompt {i}) on 4 refilled slots: its {n} greedy tokens")
    elif args.case == "sampling":
        pkg = work / "gen.nuri"
        compile_family(args, pkg, "--max-seq", "128", "--decode-batch", "1,4",
                       "--context-buckets", "128", "--prefill-buckets", "64")
        opts = ["--max-new-tokens", "32", "--temperature", "0.9", "--top-k", "40",
                "--top-p", "0.95", "--repetition-penalty", "1.1"]
        a = generate(args, pkg, [prompts[0]], *opts, "--seed", "7")
        b = generate(args, pkg, [prompts[0]], *opts, "--seed", "7")
        c = generate(args, pkg, [prompts[0]], *opts, "--seed", "8")
        d = generate(args, pkg, prompts, *opts, "--seed", "7")
        ta = a["requests"][0]["tokens"]
        expect(ta == b["requests"][0]["tokens"], "the same seed gives the same tokens")
        expect(ta != c["requests"][0]["tokens"], "another seed gives other tokens")
        expect(ta == d["requests"][0]["tokens"],
               "a request's samples do not depend on what it is batched with")
        expect(ta != singles[0]["greedy"][:32], "sampling is not greedy")
    elif args.case == "errors":
        pkg = work / "gen.nuri"
        compile_family(args, pkg, "--max-seq", "128", "--decode-batch", "1",
                       "--context-buckets", "128", "--prefill-buckets", "127")
        refused(args, [args.nuri, "generate", str(pkg), "--prompt-ids",
                       ",".join(["65"] * 130)], "130 tokens", "at most 127", "--max-seq 128")
        refused(args, [args.nuri, "run", str(pkg)], "is a generation package",
                "--program NAME", "decode.b1.c128")
        one = run([args.nuri, "run", str(pkg), "--program", "decode.b1.c128", "--device", "cpu"])
        expect("logits: [1,1,256] f32" in one.stdout, "nuri run --program runs one decode program")
        refused(args, [args.nuri, "generate", str(pkg), "--prompt-ids", "65,300,66"],
                "prompt token 1 is 300", "outside the vocabulary 0..255")
        refused(args, [args.nuri, "generate", str(pkg), "--prompt", "x", "--tokenizer",
                       str(args.model_dir / "README.txt")], "--tokenizer", "README.txt",
                "not a SentencePiece model")
        plain = work / "plain.nuri"
        run([args.nuri, "compile", str(args.model_dir / "model.onnx"), "--input-shape",
             "input_ids=1x4", "--input-shape", "position_ids=1x4", "--input-shape",
             "attention_mask=1x4"] + sum([["--input-shape", f"past_key_values.{i}.{kv}=1x4x0x32"]
                                          for i in range(4) for kv in ("key", "value")], [])
            + ["-o", str(plain)])
        refused(args, [args.nuri, "generate", str(plain), "--prompt-ids", "65"],
                "not a generation package", "--generate")
        bert = args.model_dir.parent / "bert-tiny-keras2onnx-qa" / "model.onnx"
        if bert.exists():
            refused(args, [args.nuri, "compile", str(bert), "--generate", "-o",
                           str(work / "bert.nuri")], "--generate needs")
        refused(args, [args.nuri, "compile", str(args.model_dir / "model.onnx"),
                       "--generate", "--max-seq", "64", "--prefill-buckets", "100",
                       "-o", str(work / "x.nuri")], "--prefill-buckets 100 is outside 1..64")
        refused(args, [args.nuri, "compile", str(args.model_dir / "model.onnx"),
                       "--max-seq", "64", "-o", str(work / "x.nuri")], "need --generate")
    elif args.case == "sim":
        import numpy as np
        pkg = work / f"gen-{args.target}.nuri"
        compile_family(args, pkg, "--target", args.target, "--max-seq", "96",
                       "--decode-batch", "4", "--context-buckets", "96",
                       "--prefill-buckets", "64")
        cmd = [args.nuri, "generate", str(pkg), "--device", "sim", "--json",
               "--max-new-tokens", "16"]
        for p in batch["prompts"]:
            cmd += ["--prompt-ids", ",".join(map(str, p))]
        r = json.loads(run(cmd).stdout)
        for i, got in enumerate(r["requests"]):
            expect(got["tokens"] == singles[i]["greedy"][:16],
                   f"{args.target} bf16, prompt {i}: the first 16 greedy tokens equal ONNX Runtime's")
        print("sim:", json.dumps(r["sim"]))
        # The boundary counters per step: consistent with the totals, and a
        # decode step moves at least its token ids and positions.
        d = r["decode"]
        print("decode host->device bytes per step:", d["host_to_device_bytes_per_step"],
              "per sequence:", d["host_to_device_bytes_per_sequence_step"],
              "device->host per step:", d["device_to_host_bytes_per_step"])
        for k in ("host_to_device_bytes", "device_to_host_bytes"):
            expect(abs(d[k + "_per_step"] * d["steps"] - d[k]) < 1e-6 * max(1, d[k]),
                   f"decode {k}_per_step x steps = {k}")
            expect(abs(d[k + "_per_sequence_step"] * d["tokens"] - d[k]) < 1e-6 * max(1, d[k]),
                   f"decode {k}_per_sequence_step x sequences = {k}")
        expect(d["host_to_device_bytes_per_sequence_step"] >= 16,
               "a decode step sends at least a token id and a position per sequence")
        # The cache stays on the device: a step moves less than one
        # sequence's new K/V rows (4 layers x key and value x 4 heads x 32
        # dims x 2 bytes = 2048 B) either way. With the cache ops on the CPU
        # (before the NPU cache_attention) a step sent 2752 B per sequence
        # and read back 5312.
        rows = 4 * 2 * 4 * 32 * 2
        expect(d["host_to_device_bytes_per_sequence_step"] < rows,
               f"a decode step sends fewer bytes per sequence than its new K/V rows ({rows} B)")
        expect(d["device_to_host_bytes_per_sequence_step"] < rows,
               f"a decode step reads back fewer bytes per sequence than its new K/V rows ({rows} B)")
        expect(r["sim"]["cpu_partitions_per_decode_step"] <= 1,
               "the decode step's NPU work is one partition (cache ops included)")
        # Teacher forcing: every eval window through the plain model, bf16
        # on the chip against fp32 on the CPU.
        sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1] / "common"))
        from gpt2_bytes_eval import WIN, eval_feeds
        _, shapes, inputs = eval_feeds(args.model_dir, work, with_targets=False)
        n, win = len(np.load(work / "input_ids.npy")), WIN
        logits = {}
        for device, target in (("cpu", "cpu"), ("sim", args.target)):
            out = work / f"eval-{target}"
            out.mkdir(exist_ok=True)
            run([args.nuri, "compile", str(args.model_dir / "model.onnx"), "--target",
                 target, *shapes, "-o", str(work / f"eval-{target}.nuri")])
            run([args.nuri, "run", str(work / f"eval-{target}.nuri"), "--device", device,
                 *inputs, "--output-dir", str(out)])
            logits[device] = np.load(out / "logits.npy").astype(np.float32)
        agree = (logits["cpu"][:, :-1].argmax(-1) == logits["sim"][:, :-1].argmax(-1)).mean()
        expect(agree >= 0.97, f"{args.target} bf16 teacher-forced top-1 agreement with fp32 "
                              f"over {n} windows of {win}: {agree:.4f} >= 0.97")
    else:
        sys.exit(f"unknown case {args.case}")


if __name__ == "__main__":
    main()
