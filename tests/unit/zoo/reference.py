#!/usr/bin/env python3
"""Checks that zoo models compute what the Hugging Face models compute.

A zoo graph mimics torch.onnx.export's layout: masks built in-graph, heads
split by Shape-driven Reshapes, RoPE by Slice/Neg/Concat. A wrong index in
that machinery still gives finite numbers, so ort_check.js alone cannot catch
it. This script re-implements each architecture in float64 numpy, straight
from the transformers modeling code (not from the graph), takes the weights
from the model's initializers, runs the model in ONNX Runtime through
ort_check.js, and compares.

    NODE_PATH=/tmp/ort/node_modules python3 reference.py MODEL.onnx [NAME]

NAME (bert-tiny, gpt2-small, ...) defaults to the file's stem. Exits 0 when
the outputs agree, 1 when they do not, 77 when onnxruntime-node is missing.
Needs python3-onnx and numpy (Debian packages).
"""

import json
import math
import os
import subprocess
import sys
import tempfile

import numpy as np
import onnx
from onnx import numpy_helper

# Per-model numbers that the weights do not reveal.
CONFIGS = {
    "bert-tiny": dict(family="bert", heads=2),
    "bert-base": dict(family="bert", heads=12),
    "gpt2-tiny": dict(family="gpt2", heads=2),
    "gpt2-small": dict(family="gpt2", heads=12),
    "llama-tiny": dict(family="llama", heads=4, kv_heads=2),
    "llama-7b-1layer": dict(family="llama", heads=32, kv_heads=32),
    "vit-tiny": dict(family="vit", heads=3, patch=16),
    "whisper-tiny-encoder": dict(family="whisper", heads=6),
}
BATCH, SEQ = 2, 8
F32_MIN = float(np.finfo(np.float32).min)


class Weights:
    """Initializers by parameter name, or by the node that consumes them."""

    def __init__(self, model):
        self.tensors = {t.name: numpy_helper.to_array(t).astype(np.float64)
                        for t in model.graph.initializer
                        if t.data_type == onnx.TensorProto.FLOAT}
        self.node_weight = {n.name: n.input[1] for n in model.graph.node
                            if n.op_type == "MatMul" and len(n.input) > 1}

    def __getitem__(self, name):
        return self.tensors[name]

    def __contains__(self, name):
        return name in self.tensors

    def matmul(self, node):
        """The [in, out] weight of a Linear, renamed by constant folding."""
        return self.tensors[self.node_weight[node]]

    def layers(self, pattern):
        count = 0
        while any(pattern.format(count) in n for n in self.tensors):
            count += 1
        return count


def erf(x):
    # numpy has no erf and scipy is not a dependency. Abramowitz & Stegun
    # 7.1.26 (absolute error <= 1.5e-7, far inside the 1e-3 comparison),
    # vectorized: math.erf element by element took 8 s of whisper-tiny's
    # 22 M activations.
    t = 1.0 / (1.0 + 0.3275911 * np.abs(x))
    poly = t * (0.254829592 + t * (-0.284496736 + t * (
        1.421413741 + t * (-1.453152027 + t * 1.061405429))))
    return np.sign(x) * (1.0 - poly * np.exp(-x * x))


def gelu_erf(x):
    return 0.5 * x * (1.0 + erf(x / math.sqrt(2.0)))


def gelu_tanh(x):
    return 0.5 * x * (1.0 + np.tanh(math.sqrt(2.0 / math.pi) *
                                    (x + 0.044715 * x ** 3)))


def layer_norm(x, w, prefix, eps):
    mean = x.mean(-1, keepdims=True)
    var = ((x - mean) ** 2).mean(-1, keepdims=True)
    return (x - mean) / np.sqrt(var + eps) * w[prefix + ".weight"] + \
        w[prefix + ".bias"]


def softmax(x):
    # In place: whisper-tiny's scores are 27 M doubles per layer.
    x = x - x.max(-1, keepdims=True)
    np.exp(x, out=x)
    x /= x.sum(-1, keepdims=True)
    return x


def split_heads(x, heads):
    b, s, h = x.shape
    return x.reshape(b, s, heads, h // heads).transpose(0, 2, 1, 3)


def merge_heads(x):
    b, h, s, d = x.shape
    return x.transpose(0, 2, 1, 3).reshape(b, s, h * d)


def attention(q, k, v, heads, mask=None, scaled=False):
    q, k, v = (split_heads(t, heads) for t in (q, k, v))
    scores = q @ k.transpose(0, 1, 3, 2)
    if not scaled:
        scores = scores / math.sqrt(q.shape[-1])
    if mask is not None:
        scores = scores + mask
    return merge_heads(softmax(scores) @ v)


def bert(w, cfg, feeds):
    ids, mask, types = feeds["input_ids"], feeds["attention_mask"], \
        feeds["token_type_ids"]
    seq = ids.shape[1]
    x = w["embeddings.word_embeddings.weight"][ids] + \
        w["embeddings.token_type_embeddings.weight"][types] + \
        w["embeddings.position_embeddings.weight"][np.arange(seq)][None]
    x = layer_norm(x, w, "embeddings.LayerNorm", 1e-12)
    ext = (1.0 - mask[:, None, None, :].astype(np.float64)) * -10000.0
    for l in range(w.layers("encoder.layer.{}.")):
        p, s = f"encoder.layer.{l}", f"/encoder/layer.{l}"

        def lin(x, sub):
            return x @ w.matmul(f"{s}/{sub}/MatMul") + \
                w[f"{p}.{sub.replace('/', '.')}.bias"]
        ctx = attention(lin(x, "attention/self/query"),
                        lin(x, "attention/self/key"),
                        lin(x, "attention/self/value"), cfg["heads"], ext)
        a = layer_norm(lin(ctx, "attention/output/dense") + x, w,
                       f"{p}.attention.output.LayerNorm", 1e-12)
        i = gelu_erf(lin(a, "intermediate/dense"))
        x = layer_norm(lin(i, "output/dense") + a, w, f"{p}.output.LayerNorm",
                       1e-12)
    pooled = np.tanh(x[:, 0] @ w["pooler.dense.weight"].T +
                     w["pooler.dense.bias"])
    return {"last_hidden_state": x, "pooler_output": pooled}


def gpt2(w, cfg, feeds):
    ids, mask = feeds["input_ids"], feeds["attention_mask"]
    seq = ids.shape[1]
    x = w["transformer.wte.weight"][ids] + \
        w["transformer.wpe.weight"][np.arange(seq)][None]
    ext = (1.0 - mask[:, None, None, :].astype(np.float64)) * -10000.0
    causal = np.tril(np.ones((seq, seq), dtype=bool))
    heads = cfg["heads"]
    for l in range(w.layers("transformer.h.{}.")):
        p = f"transformer.h.{l}"

        def conv1d(x, name):
            return x @ w[f"{p}.{name}.weight"] + w[f"{p}.{name}.bias"]
        h = layer_norm(x, w, f"{p}.ln_1", 1e-5)
        q, k, v = np.split(conv1d(h, "attn.c_attn"), 3, axis=-1)
        q, k, v = (split_heads(t, heads) for t in (q, k, v))
        scores = q @ k.transpose(0, 1, 3, 2) / math.sqrt(q.shape[-1])
        scores = np.where(causal, scores, F32_MIN) + ext
        x = x + conv1d(merge_heads(softmax(scores) @ v), "attn.c_proj")
        h = layer_norm(x, w, f"{p}.ln_2", 1e-5)
        x = x + conv1d(gelu_tanh(conv1d(h, "mlp.c_fc")), "mlp.c_proj")
    x = layer_norm(x, w, "transformer.ln_f", 1e-5)
    return {"logits": x @ w["transformer.wte.weight"].T}


def llama(w, cfg, feeds):
    ids, mask, positions = feeds["input_ids"], feeds["attention_mask"], \
        feeds["position_ids"]
    seq = ids.shape[1]
    heads, kv_heads = cfg["heads"], cfg["kv_heads"]

    def rms(x, name):
        return w[name + ".weight"] * x / np.sqrt((x ** 2).mean(-1, keepdims=True)
                                                 + 1e-6)
    x = w["model.embed_tokens.weight"][ids]
    causal = np.where(np.tril(np.ones((seq, seq), dtype=bool)), 0.0, F32_MIN)
    padding = np.where(mask[:, None, None, :] == 0, F32_MIN, 0.0)
    combined = causal[None, None] + padding
    dim = x.shape[-1] // heads
    inv_freq = 1.0 / (10000.0 ** (np.arange(0, dim, 2) / dim))
    freqs = positions[..., None].astype(np.float64) * inv_freq
    emb = np.concatenate([freqs, freqs], -1)
    cos, sin = np.cos(emb)[:, None], np.sin(emb)[:, None]

    def rope(t):
        half = t.shape[-1] // 2
        rotated = np.concatenate([-t[..., half:], t[..., :half]], -1)
        return t * cos + rotated * sin
    for l in range(w.layers("model.layers.{}.")):
        p, s = f"model.layers.{l}", f"/model/layers.{l}"
        h = rms(x, f"{p}.input_layernorm")
        q = split_heads(h @ w.matmul(f"{s}/self_attn/q_proj/MatMul"), heads)
        k = split_heads(h @ w.matmul(f"{s}/self_attn/k_proj/MatMul"), kv_heads)
        v = split_heads(h @ w.matmul(f"{s}/self_attn/v_proj/MatMul"), kv_heads)
        q, k = rope(q), rope(k)
        k = np.repeat(k, heads // kv_heads, axis=1)
        v = np.repeat(v, heads // kv_heads, axis=1)
        scores = q @ k.transpose(0, 1, 3, 2) / math.sqrt(dim) + combined
        ctx = merge_heads(softmax(scores) @ v)
        x = x + ctx @ w.matmul(f"{s}/self_attn/o_proj/MatMul")
        h = rms(x, f"{p}.post_attention_layernorm")
        gate = h @ w.matmul(f"{s}/mlp/gate_proj/MatMul")
        up = h @ w.matmul(f"{s}/mlp/up_proj/MatMul")
        silu = gate / (1.0 + np.exp(-gate))
        x = x + (silu * up) @ w.matmul(f"{s}/mlp/down_proj/MatMul")
    x = rms(x, "model.norm")
    return {"logits": x @ w.matmul("/lm_head/MatMul")}


def vit(w, cfg, feeds):
    pixels = feeds["pixel_values"].astype(np.float64)
    patch = cfg["patch"]
    b, c, hgt, wid = pixels.shape
    conv = w["vit.embeddings.patch_embeddings.projection.weight"]
    tiles = pixels.reshape(b, c, hgt // patch, patch, wid // patch, patch)
    tiles = tiles.transpose(0, 2, 4, 1, 3, 5).reshape(b, -1, c * patch * patch)
    x = tiles @ conv.reshape(conv.shape[0], -1).T + \
        w["vit.embeddings.patch_embeddings.projection.bias"]
    cls = np.broadcast_to(w["vit.embeddings.cls_token"], (b, 1, x.shape[-1]))
    x = np.concatenate([cls, x], 1) + w["vit.embeddings.position_embeddings"]
    for l in range(w.layers("vit.encoder.layer.{}.")):
        p, s = f"vit.encoder.layer.{l}", f"/vit/encoder/layer.{l}"

        def lin(x, sub, param):
            return x @ w.matmul(f"{s}/{sub}/MatMul") + w[f"{p}.{param}.bias"]
        h = layer_norm(x, w, f"{p}.layernorm_before", 1e-12)
        ctx = attention(lin(h, "attention/attention/query",
                            "attention.attention.query"),
                        lin(h, "attention/attention/key",
                            "attention.attention.key"),
                        lin(h, "attention/attention/value",
                            "attention.attention.value"), cfg["heads"])
        x = lin(ctx, "attention/output/dense", "attention.output.dense") + x
        h = layer_norm(x, w, f"{p}.layernorm_after", 1e-12)
        i = gelu_erf(lin(h, "intermediate/dense", "intermediate.dense"))
        x = lin(i, "output/dense", "output.dense") + x
    x = layer_norm(x, w, "vit.layernorm", 1e-12)
    return {"logits": x[:, 0] @ w["classifier.weight"].T +
            w["classifier.bias"]}


def whisper(w, cfg, feeds):
    x = feeds["input_features"].astype(np.float64)

    def conv1d(x, name, stride):
        weight, bias = w[name + ".weight"], w[name + ".bias"]
        padded = np.pad(x, ((0, 0), (0, 0), (1, 1)))
        steps = (padded.shape[-1] - 3) // stride + 1
        cols = np.stack([padded[:, :, k:k + stride * steps:stride]
                         for k in range(3)], -1)  # [b, in, t, 3]
        cols = cols.transpose(0, 2, 1, 3).reshape(x.shape[0], steps, -1)
        out = cols @ weight.reshape(weight.shape[0], -1).T + bias
        return out.transpose(0, 2, 1)
    x = gelu_erf(conv1d(x, "conv1", 1))
    x = gelu_erf(conv1d(x, "conv2", 2)).transpose(0, 2, 1)
    x = x + w["embed_positions.weight"]
    heads = cfg["heads"]
    for l in range(w.layers("layers.{}.")):
        p, s = f"layers.{l}", f"/layers.{l}"

        def lin(x, sub, bias=True):
            y = x @ w.matmul(f"{s}/{sub}/MatMul")
            return y + w[f"{p}.{sub.replace('/', '.')}.bias"] if bias else y
        h = layer_norm(x, w, f"{p}.self_attn_layer_norm", 1e-5)
        dim = h.shape[-1] // heads
        # Scaling q before the product, as WhisperAttention does.
        q = lin(h, "self_attn/q_proj") * dim ** -0.5
        ctx = attention(q, lin(h, "self_attn/k_proj", False),
                        lin(h, "self_attn/v_proj"), heads, scaled=True)
        x = x + lin(ctx, "self_attn/out_proj")
        h = layer_norm(x, w, f"{p}.final_layer_norm", 1e-5)
        x = x + lin(gelu_erf(lin(h, "fc1")), "fc2")
    return {"last_hidden_state": layer_norm(x, w, "layer_norm", 1e-5)}


def make_feeds(model, vocab):
    rng = np.random.default_rng(2024)
    feeds = {}
    for value in model.graph.input:
        name = value.name
        if name == "input_ids":
            feeds[name] = rng.integers(1, min(vocab, 1000), (BATCH, SEQ))
        elif name == "attention_mask":
            mask = np.ones((BATCH, SEQ), dtype=np.int64)
            mask[1, -3:] = 0  # right padding on the second row
            feeds[name] = mask
        elif name == "token_type_ids":
            types = np.zeros((BATCH, SEQ), dtype=np.int64)
            types[:, SEQ // 2:] = 1
            feeds[name] = types
        elif name == "position_ids":
            feeds[name] = np.tile(np.arange(SEQ), (BATCH, 1))
        else:
            dims = [d.dim_value for d in
                    value.type.tensor_type.shape.dim][1:]
            feeds[name] = rng.uniform(-1, 1, [BATCH] + dims).astype(np.float32)
        if feeds[name].dtype.kind == "i":
            feeds[name] = feeds[name].astype(np.int64)
    return feeds


def run_ort(path, feeds, workdir):
    manifest = []
    for name, array in feeds.items():
        file = os.path.join(workdir, f"in.{name}.bin")
        array.tofile(file)
        manifest.append(dict(name=name, file=file, dims=list(array.shape),
                             type="int64" if array.dtype == np.int64
                             else "float32"))
    with open(os.path.join(workdir, "feeds.json"), "w") as f:
        json.dump(manifest, f)
    script = os.path.join(os.path.dirname(os.path.abspath(__file__)),
                          "ort_check.js")
    result = subprocess.run(["node", script, "--feeds", workdir, path])
    if result.returncode != 0:
        sys.exit(result.returncode)
    with open(os.path.join(workdir, "outputs.json")) as f:
        outputs = json.load(f)
    return {o["name"]: np.fromfile(o["file"], dtype=np.float32)
            .reshape(o["dims"]) for o in outputs}


def main():
    path = sys.argv[1]
    name = sys.argv[2] if len(sys.argv) > 2 else \
        os.path.basename(path).rsplit(".onnx", 1)[0]
    cfg = CONFIGS[name]
    model = onnx.load(path)  # resolves external data beside the model
    weights = Weights(model)
    vocab = max([t.shape[0] for n, t in weights.tensors.items()
                 if "embed" in n or n.endswith("wte.weight")] + [1000])
    feeds = make_feeds(model, vocab)
    expected = globals()[cfg["family"]](weights, cfg, feeds)
    with tempfile.TemporaryDirectory() as workdir:
        actual = run_ort(path, feeds, workdir)
    ok = True
    for out, ref in expected.items():
        got = actual[out].astype(np.float64)
        err = np.abs(got - ref).max()
        scale = np.abs(ref).max()
        good = got.shape == ref.shape and err <= 1e-3 * max(scale, 1.0)
        ok = ok and good
        print(f"{name}: {out} {list(got.shape)} max|ort - numpy| = {err:.3g} "
              f"(max|ref| {scale:.3g}) {'OK' if good else 'MISMATCH'}")
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
