"""Nuri from Python: compile ONNX models for NPUs, run them on the CPU or the
simulated NPU, generate tokens, and sweep chip configs (docs/python.md).

    import nuri, numpy as np
    pkg = nuri.compile("model.onnx", target="atom", input_shapes={"x": (1, 64)})
    session = nuri.Session(pkg, device="sim")
    out = session.run({"x": np.ones((1, 64), np.float32)})
    print(out["y"], session.run({"x": x}, stats=True)[1]["sim"]["cycles"])

Everything here calls Nuri's C++ libraries (the runtime's C++ wrapper and
the compiler driver), never the `nuri` command. Errors are `nuri.Error`
(a RuntimeError) carrying the runtime's or the compiler's message and a
`code` ("NURI_NOT_FOUND", "NURI_INVALID_ARGUMENT", "NURI_COMPILE_ERROR", ...).

numpy has no bfloat16 or fp8: such tensors travel as their bit patterns in
uint16 / uint8 arrays; `bf16_to_float32` and `float32_to_bf16` convert.
"""

import json as _json
import os as _os
import tempfile as _tempfile

import numpy as _np

from . import _nuri
from ._nuri import Buffer, Error, GenerationStream

__all__ = [
    "Buffer", "Error", "GenerationStream", "Package", "Session", "Target",
    "bf16_to_float32", "compile", "devices", "float32_to_bf16", "load",
    "sweep", "target", "targets", "version",
]

Package = _nuri.Package


def version():
    """The runtime library's version, e.g. "1.1.0"."""
    return _nuri.version()


def devices():
    """The runtime's devices: "cpu", "sim" and "auto"."""
    return _nuri.devices()


def load(path):
    """Loads a .nuri package (memory-mapped, checksums verified).

    Raises nuri.Error naming the file when it cannot be read or is not a
    valid package."""
    return _nuri._load(_os.fspath(path))


_QUANTIZE_OPTIONS = {
    "calibration_method": "minmax", "percentile": 99.99, "smoothquant": None,
    "exclude": (), "calibration_cache": "", "quantize_head": False,
    "accuracy_report": False, "min_sqnr": None,
}
_GENERATE_OPTIONS = {
    "max_seq": 256, "prefill_buckets": (), "decode_batch": (),
    "context_buckets": (),
}
_OTHER_OPTIONS = {"simulate": False, "bind_inputs": None, "producer": None}


def _tensor_proto_bytes(name, value):
    if isinstance(value, (bytes, bytearray)):
        return bytes(value)
    if isinstance(value, (str, _os.PathLike)):
        with open(value, "rb") as f:
            return f.read()
    from onnx import numpy_helper  # only for numpy values
    return numpy_helper.from_array(_np.asarray(value), name).SerializeToString()


def compile(model, target="cpu", dtype=None, input_shapes=None, quantize=None,
            calibration=None, generate=False, **options):
    """Compiles an ONNX model into a `nuri.Package` (what `nuri compile` does).

    model: a path to an .onnx file, or the bytes of one (external data then
        cannot be found: pass a path for such models).
    target: "cpu" or a chip config name ("atom", "rngd", "x220", "x330",
        "tiny", see `nuri.targets()`) or a .yaml config path.
    dtype: "bf16", "fp16" or "fp32"; default fp32 for cpu, bf16 for a chip.
    input_shapes: {input name: shape} pinning dynamic dimensions.
    quantize: "int8", "fp8", "w8a16" or "w4a16" post-training quantization
        (docs/quantization.md), with calibration: a folder of input sets or
        a token-id .npy file (int8 and fp8 calibrate activations).
    generate: True (or a dict of the options below) compiles a decoder with
        its KV cache as a generation package for `Session.generate`.

    Other options (keyword arguments): simulate (the report gets simulated
    cycles), bind_inputs ({name: TensorProto bytes, .pb path or array}),
    producer; with quantize: calibration_method, percentile, smoothquant,
    exclude, calibration_cache, quantize_head, accuracy_report, min_sqnr;
    with generate: max_seq, prefill_buckets, decode_batch, context_buckets.

    Raises nuri.Error with the compiler's diagnostics (file, node, reason).
    The GIL is released while compiling."""
    allowed = set(_QUANTIZE_OPTIONS) | set(_GENERATE_OPTIONS) | set(_OTHER_OPTIONS)
    unknown = sorted(set(options) - allowed)
    if unknown:
        raise TypeError(f"nuri.compile: unknown option(s) {', '.join(unknown)}; "
                        f"known: {', '.join(sorted(allowed))}")
    quant_given = [k for k in _QUANTIZE_OPTIONS if k in options]
    if calibration is not None:
        quant_given.insert(0, "calibration")
    if quant_given and not quantize:
        raise ValueError(f"nuri.compile: {', '.join(quant_given)} need quantize=")
    gen = dict(generate) if isinstance(generate, dict) else {}
    gen_given = [k for k in _GENERATE_OPTIONS if k in options]
    gen.update({k: options[k] for k in gen_given})
    if (gen_given or gen) and not generate:
        raise ValueError(f"nuri.compile: {', '.join(gen_given)} need generate=True")
    bad = sorted(set(gen) - set(_GENERATE_OPTIONS))
    if bad:
        raise TypeError(f"nuri.compile: unknown generate option(s) {', '.join(bad)}")

    q = None
    if quantize:
        q = {
            "scheme": str(quantize),
            "calibration": _os.fspath(calibration) if calibration is not None else "",
            "method": options.get("calibration_method", "minmax"),
            "percentile": float(options.get("percentile", 99.99)),
            "smoothquant": options.get("smoothquant"),
            "exclude": list(options.get("exclude", ())),
            "cache": _os.fspath(options.get("calibration_cache", "")),
            "quantize_head": bool(options.get("quantize_head", False)),
            "accuracy_report": bool(options.get("accuracy_report", False)),
            "min_sqnr": (None if options.get("min_sqnr") is None
                         else float(options["min_sqnr"])),
        }
    g = None
    if generate:
        g = {k: gen.get(k, v) for k, v in _GENERATE_OPTIONS.items()}
        g = {"max_seq": int(g["max_seq"]),
             **{k: [int(x) for x in g[k]] for k in _GENERATE_OPTIONS if k != "max_seq"}}
    shapes = {str(k): [int(d) for d in v] for k, v in (input_shapes or {}).items()}
    binds = {str(k): _tensor_proto_bytes(k, v)
             for k, v in (options.get("bind_inputs") or {}).items()}

    def run(path, producer):
        return _nuri._compile(path, str(target), dtype or "", shapes, binds,
                              bool(options.get("simulate", False)),
                              options.get("producer") or producer, q, g)

    if isinstance(model, (bytes, bytearray, memoryview)):
        with _tempfile.TemporaryDirectory(prefix="nuri-") as tmp:
            path = _os.path.join(tmp, "model.onnx")
            with open(path, "wb") as f:
                f.write(model)
            try:
                return run(path, "nuri.compile (bytes)")
            except Error as e:
                # Name the model as the caller knows it, not the temp file.
                e.args = (str(e).replace(path, "<model bytes>"),)
                raise
    path = _os.fspath(model)
    return run(path, "nuri.compile " + _os.path.basename(path))


def _prompt_lists(prompts):
    """A list of token ids is one prompt; a list of lists, several."""
    prompts = list(prompts)
    if prompts and all(isinstance(t, (int, _np.integer)) for t in prompts):
        return [[int(t) for t in prompts]]
    return [[int(t) for t in p] for p in prompts]


class Session(_nuri._Session):
    """A package opened on a device ("cpu", "sim" or "auto").

    `package` is a `nuri.Package` or a path to a .nuri file. Runs may be
    issued from many threads at once (the GIL is released while one
    executes); generation is one generator at a time per session. `run` is
    the extension's own method (no Python frame per call)."""

    def __init__(self, package, device="auto", threads=0, trace=False,
                 profile=False):
        if not isinstance(package, Package):
            package = load(package)
        super().__init__(package, str(device), int(threads), bool(trace),
                         bool(profile))

    def generate(self, prompts, max_new_tokens=64, temperature=0.0, top_k=0,
                 top_p=1.0, seed=0, stop_tokens=(), repetition_penalty=1.0,
                 stats=False):
        """Generates tokens for each prompt (a list of token ids, or a list of
        such lists) with a generation package, continuously batched; returns
        one list of new tokens per prompt (greedy at temperature 0). With
        stats=True returns (tokens, stats) with the prefill/decode counters,
        stop reasons and, on "sim", TTFT and time per output token."""
        return self._generate(_prompt_lists(prompts), int(max_new_tokens),
                              float(temperature), int(top_k), float(top_p),
                              float(repetition_penalty), int(seed),
                              [int(t) for t in stop_tokens], bool(stats))

    def generate_stream(self, prompts, max_new_tokens=64, temperature=0.0,
                        top_k=0, top_p=1.0, seed=0, stop_tokens=(),
                        repetition_penalty=1.0):
        """Like generate, as an iterator of (prompt index, token, finished)
        in the order tokens are produced. The session generates nothing else
        until the iterator is exhausted or closed."""
        return self._generate_stream(_prompt_lists(prompts), int(max_new_tokens),
                                     float(temperature), int(top_k), float(top_p),
                                     float(repetition_penalty), int(seed),
                                     [int(t) for t in stop_tokens])

    def read_state(self, name):
        """A copy of state buffer `name` (a generation package's KV cache)."""
        return self._read_state(name)

    def write_state(self, name, array):
        """Sets state buffer `name` from an array of its size."""
        self._write_state(name, _np.ascontiguousarray(array))

    def reset_state(self, name=""):
        """Restores state `name` (every state when empty) to its initial value."""
        self._reset_state(name)

    def __repr__(self):
        return f"<nuri.Session {self.package.target} on {self.device}>"


class Target:
    """A chip config: `name`, `description`, `to_dict()` (the config with its
    derived figures, area and peak power, as `nuri target show --json`) and
    `str()` (the text form)."""

    def __init__(self, name, description, json_text, text):
        self.name, self.description = name, description
        self._json, self._text = json_text, text

    def to_dict(self):
        return _json.loads(self._json)

    def __str__(self):
        return self._text

    def __repr__(self):
        return f"<nuri.Target {self.name}: {self.description}>"


def targets():
    """{name: description} of the chip configs on the config search path."""
    return dict(_nuri._targets())


def target(name, overrides=None):
    """The chip config `name` (or a .yaml path) with optional overrides
    {"section.key": value}; nuri.Error names an unknown config or key."""
    sets = [f"{k}={v}" for k, v in (overrides or {}).items()]
    return Target(*_nuri._target_json(_os.fspath(name), sets))


def _absolute_paths(spec, base):
    spec = _json.loads(_json.dumps(spec))  # a deep copy of plain data
    for w in spec.get("workloads", []) or []:
        if isinstance(w, dict) and w.get("onnx") and not _os.path.isabs(w["onnx"]):
            w["onnx"] = _os.path.join(base, w["onnx"])
    t = spec.get("target")
    if isinstance(t, str) and t.endswith(".yaml") and not _os.path.isabs(t):
        spec["target"] = _os.path.join(base, t)
    return spec


def sweep(spec, out_dir=None, jobs=0, progress=False):
    """Runs a design-space sweep (docs/dse.md) and returns its rows, one dict
    per point: point (its grid index), status, pareto, and every column of
    results.jsonl.

    spec: a dict of the YAML spec's fields (relative paths resolve against
        the current directory) or a path to a spec file.
    out_dir: where results.jsonl/.csv go (resumable); default a temporary
        directory removed afterwards."""
    tmp = None
    try:
        if out_dir is None:
            tmp = _tempfile.TemporaryDirectory(prefix="nuri-sweep-")
            out_dir = tmp.name
        out_dir = _os.fspath(out_dir)
        if isinstance(spec, dict):
            _os.makedirs(out_dir, exist_ok=True)
            path = _os.path.join(out_dir, "spec.yaml")
            with open(path, "w") as f:  # JSON is YAML
                _json.dump(_absolute_paths(spec, _os.getcwd()), f, indent=1)
        else:
            path = _os.fspath(spec)
        try:
            return _nuri._sweep(path, out_dir, int(jobs), bool(progress))["rows"]
        except Error as e:
            if isinstance(spec, dict):  # the file is ours, written from the dict
                e.args = (str(e).replace(path, "<spec dict>"),)
            raise
    finally:
        if tmp is not None:
            tmp.cleanup()


def bf16_to_float32(bits):
    """float32 values of bf16 bit patterns (a uint16 array)."""
    bits = _np.asarray(bits, dtype=_np.uint16)
    return (bits.astype(_np.uint32) << 16).view(_np.float32)


def float32_to_bf16(values):
    """bf16 bit patterns (uint16) of float32 values, rounded to nearest even."""
    v = _np.ascontiguousarray(values, dtype=_np.float32).view(_np.uint32)
    rounded = v + 0x7FFF + ((v >> 16) & 1)
    out = (rounded >> 16).astype(_np.uint16)
    nan = _np.isnan(_np.asarray(values, dtype=_np.float32))
    out[nan] = 0x7FC0
    return out
