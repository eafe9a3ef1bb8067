#!/usr/bin/env python3
"""Token generation with the shared byte-level GPT-2 from Python.

    PYTHONPATH=build/python python3 examples/python/generate.py \
        [--model-dir ../shared/models/gpt2-bytes-trained] [--prompt TEXT] \
        [--max-new-tokens 48] [--temperature 0.8 --top-k 40 --seed 1]

Compiles the decoder with its KV cache as a generation package (prefill and
decode programs sharing the weights and the cache), then continues a prompt
token by token as the tokens stream out (one token per byte), and two more
prompts batched together. Greedy by default: the first prompt's
continuation is then checked against ONNX Runtime's (generate/0.json).
"""
import argparse
import json
import pathlib
import sys

import nuri

here = pathlib.Path(__file__).resolve().parent
parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
parser.add_argument("--model-dir", type=pathlib.Path,
                    default=here.parents[2] / "shared/models/gpt2-bytes-trained",
                    help="default: ../shared/models/gpt2-bytes-trained beside the repo")
parser.add_argument("--prompt", default=None, help="default: the model's first test prompt")
parser.add_argument("--max-new-tokens", type=int, default=48)
parser.add_argument("--temperature", type=float, default=0.0)
parser.add_argument("--top-k", type=int, default=0)
parser.add_argument("--seed", type=int, default=0)
parser.add_argument("--device", default="cpu")
args = parser.parse_args()

reference = json.load(open(args.model_dir / "generate" / "0.json"))
prompt = list(args.prompt.encode()) if args.prompt else reference["prompt"]

package = nuri.compile(args.model_dir / "model.onnx", generate=True, max_seq=128)
print(f"{len(package.programs)} programs: "
      + ", ".join(p["name"] for p in package.programs))
session = nuri.Session(package, device=args.device)
sampling = dict(max_new_tokens=args.max_new_tokens, temperature=args.temperature,
                top_k=args.top_k, seed=args.seed)

text = bytes(prompt).decode(errors="replace")
print(f"\n{text}", end="", flush=True)
tokens = []
for _, token, _ in session.generate_stream(prompt, **sampling):
    tokens.append(token)
    print(bytes([token]).decode(errors="replace"), end="", flush=True)
print("\n")

others = [list(b"Permission is hereby granted"), list(b"GNU GENERAL PUBLIC")]
batch, stats = session.generate(others, stats=True, **sampling)
for p, t in zip(others, batch):
    print(repr(bytes(p + t).decode(errors="replace")))
print(f"\n{stats['tokens']} tokens in {stats['wall_seconds']:.3f} s "
      f"({stats['tokens_per_s']:.0f} tokens/s on {session.device})")

if args.temperature == 0 and not args.prompt:
    want = reference["greedy"][:args.max_new_tokens]
    if tokens != want:
        print(f"MISMATCH with ONNX Runtime's greedy tokens:\n {tokens}\n {want}")
        sys.exit(1)
    print("the streamed continuation matches ONNX Runtime's greedy tokens")
