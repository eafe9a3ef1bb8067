"""gpt2-bytes-trained's held-out text as model inputs, for the generation and
quantization checks (tests/generation/check_generate.py,
tests/quantization/check_quantization.py).

eval.npy is cut into windows of 128 bytes (the training length), each run
from a zero-length past, as ONNX Runtime's eval_nll.json was measured.
"""
import numpy as np

WIN = 128


def eval_feeds(model_dir, work, with_targets=True):
    """Saves the windows as .npy inputs in `work`; returns (targets, shapes,
    inputs): targets [n, WIN] (each window's next bytes; None without
    with_targets, which then keeps the last window that has no next byte),
    and the --input-shape / --input flags of nuri compile and nuri run."""
    ev = np.load(model_dir / "eval.npy").astype(np.int64)
    n = (len(ev) - 1) // WIN if with_targets else len(ev) // WIN
    ids = np.stack([ev[i * WIN:(i + 1) * WIN] for i in range(n)])
    targets = (np.stack([ev[i * WIN + 1:(i + 1) * WIN + 1] for i in range(n)])
               if with_targets else None)
    feeds = {"input_ids": ids, "attention_mask": np.ones_like(ids),
             "position_ids": np.tile(np.arange(WIN, dtype=np.int64), (n, 1))}
    for i in range(4):
        for kv in ("key", "value"):
            feeds[f"past_key_values.{i}.{kv}"] = np.zeros((n, 4, 0, 32), np.float32)
    shapes, inputs = [], []
    for name, value in feeds.items():
        np.save(work / f"{name}.npy", value)
        shapes += ["--input-shape", f"{name}={'x'.join(map(str, value.shape))}"]
        inputs += ["--input", f"{name}={work / (name + '.npy')}"]
    return targets, shapes, inputs
