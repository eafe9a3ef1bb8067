"""The Python layer itself: zero-copy outputs, in-place inputs, 8 threads
running at once, every error path's message, no leak over 1,000 runs, the
target and dtype helpers."""
import gc
import json
import threading
import tracemalloc

import numpy as np
import pytest

import nuri
from conftest import cli, tiny_model_bytes


def reference(x, w, b):
    return np.maximum(x @ w + b, 0)


def test_outputs_are_zero_copy(tiny):
    pkg, w, b = tiny
    session = nuri.Session(pkg, device="cpu")
    x = np.linspace(-1, 1, 64, dtype=np.float32)[None]
    out = session.run({"x": x})
    y = out["y"]
    assert isinstance(y.base, nuri.Buffer), type(y.base)
    assert y.base.names == ["y"]
    assert y.flags.c_contiguous and y.dtype == np.float32 and y.shape == (1, 64)
    np.testing.assert_allclose(y, reference(x, w, b), rtol=1e-5, atol=1e-5)
    assert not y.flags.owndata  # a view of Nuri's buffer, not a copy
    # While `y` lives its run stays leased: a second call takes another run
    # (other buffers). Once both die their runs go back to the pool, and the
    # next call reuses one instead of making a third.
    address = y.__array_interface__["data"][0]
    y2 = session.run({"x": x})["y"]
    assert y2.__array_interface__["data"][0] != address
    assert np.array_equal(y, y2)
    assert session._pooled_runs() == 0
    del out, y, y2
    gc.collect()
    assert session._pooled_runs() == 2
    live = nuri._nuri._live_runs()
    y3 = session.run({"x": x})["y"]
    assert session._pooled_runs() == 1 and nuri._nuri._live_runs() == live
    del y3
    assert session._pooled_runs() == 2


def test_inputs_in_place_and_converted(tiny):
    pkg, w, b = tiny
    session = nuri.Session(pkg, device="cpu")
    base = np.random.default_rng(1).standard_normal((2, 64)).astype(np.float32)
    strided = base[::2]  # C-contiguous rows are not: copied, same result
    assert not strided.flags.c_contiguous or strided.shape[0] == 1
    col = np.asfortranarray(np.random.default_rng(2).standard_normal((1, 64)).astype(np.float32)[:, ::-1])
    for x in (base[:1], strided, col, base[:1].astype(">f4")):
        y = session.run({"x": x})["y"]
        np.testing.assert_allclose(y, reference(np.asarray(x, np.float32), w, b),
                                   rtol=1e-5, atol=1e-5)
    # Lists of Python floats become the input's dtype.
    y = session.run({"x": base[:1].tolist()})["y"]
    np.testing.assert_allclose(y, reference(base[:1], w, b), rtol=1e-5, atol=1e-5)


def test_eight_threads(tiny):
    pkg, w, b = tiny
    session = nuri.Session(pkg, device="cpu")
    errors = []
    barrier = threading.Barrier(8)

    def work(k):
        try:
            rng = np.random.default_rng(k)
            barrier.wait()
            for _ in range(50):
                x = rng.standard_normal((1, 64)).astype(np.float32)
                y = session.run({"x": x})["y"]
                np.testing.assert_allclose(y, reference(x, w, b), rtol=1e-4, atol=1e-4)
        except Exception as e:  # reported below, with the thread
            errors.append((k, e))

    threads = [threading.Thread(target=work, args=(k,)) for k in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors


def test_gil_released_during_run():
    # The session counts runs in flight while holding the GIL; this thread
    # can only read a nonzero count if the worker let go of the GIL mid-run.
    # The worker runs until this thread has seen one (at most 2,000 runs).
    data, w, b = tiny_model_bytes(128)
    pkg = nuri.compile(data, target="atom", input_shapes={"x": (1, 128)})
    session = nuri.Session(pkg, device="sim")
    x = np.ones((1, 128), np.float32)
    ref = session.run({"x": x})["y"].copy()
    results, seen = [], threading.Event()

    def work():
        while not seen.is_set() and len(results) < 2000:
            results.append(np.array_equal(session.run({"x": x})["y"], ref))

    worker = threading.Thread(target=work)
    worker.start()
    while worker.is_alive():
        if session._executing():
            seen.set()
    worker.join()
    assert results and all(results)
    assert seen.is_set(), f"the GIL was held through all {len(results)} runs"


def test_errors_carry_the_message(tiny, tmp_path):
    pkg, _, _ = tiny
    session = nuri.Session(pkg, device="cpu")
    x = np.zeros((1, 64), np.float32)
    cases = [
        (lambda: nuri.Session(tmp_path / "missing.nuri"), "missing.nuri", "NURI_IO_ERROR"),
        (lambda: nuri.load(tmp_path / "missing.nuri"), "missing.nuri", "NURI_IO_ERROR"),
        (lambda: session.run({"nope": x}), "nope", "NURI_NOT_FOUND"),
        (lambda: session.run({"x": np.zeros((1, 63), np.float32)}), "63", "NURI_INVALID_ARGUMENT"),
        (lambda: session.run({"x": np.zeros((1, 64), np.int32)}), "i32", "NURI_INVALID_ARGUMENT"),
        (lambda: session.run({"x": np.zeros((1, 64), np.complex64)}), "complex64", "NURI_INVALID_ARGUMENT"),
        (lambda: session.run({}), "x", "NURI_INVALID_ARGUMENT"),
        (lambda: nuri.Session(pkg, device="tpu"), "tpu", "NURI_NOT_FOUND"),
        (lambda: nuri.compile(tiny_model_bytes()[0], target="nosuchchip"), "nosuchchip", "NURI_COMPILE_ERROR"),
        (lambda: nuri.compile(tmp_path / "missing.onnx"), "missing.onnx", "NURI_COMPILE_ERROR"),
        (lambda: nuri.compile(b"not an onnx model"), "<model bytes>", "NURI_COMPILE_ERROR"),
        (lambda: nuri.target("nosuchchip"), "nosuchchip", "NURI_NOT_FOUND"),
        (lambda: session.generate([[1, 2]]), "generation", "NURI_INVALID_ARGUMENT"),
    ]
    for call, needle, code in cases:
        with pytest.raises(nuri.Error) as info:
            call()
        assert isinstance(info.value, RuntimeError)
        assert needle in str(info.value), str(info.value)
        assert info.value.code == code, (str(info.value), info.value.code)
    (tmp_path / "junk.nuri").write_bytes(b"junk" * 100)
    with pytest.raises(nuri.Error, match="junk.nuri"):
        nuri.load(tmp_path / "junk.nuri")
    with pytest.raises(TypeError, match="max_sq"):
        nuri.compile(tiny_model_bytes()[0], max_sq=3)
    with pytest.raises(ValueError, match="quantize"):
        nuri.compile(tiny_model_bytes()[0], smoothquant=0.5)
    # The session still works after every failure.
    assert session.run({"x": x})["y"].shape == (1, 64)


def test_thousand_runs_leak_nothing(tiny):
    pkg, _, _ = tiny
    session = nuri.Session(pkg, device="cpu")
    x = np.ones((1, 64), np.float32)
    for _ in range(20):  # warm up caches, the pool and numpy's allocator
        session.run({"x": x}, stats=True)
    gc.collect()
    live = nuri._nuri._live_runs()
    objects = nuri._nuri._live_objects()
    tracemalloc.start()
    before = tracemalloc.take_snapshot()
    for i in range(1000):
        out, stats = session.run({"x": x}, stats=(i % 2 == 0)) if i % 2 == 0 else \
            (session.run({"x": x}), None)
        del out, stats
    gc.collect()
    after = tracemalloc.take_snapshot()
    tracemalloc.stop()
    grown = sum(s.size_diff for s in after.compare_to(before, "filename"))
    assert grown < 64 * 1024, f"{grown} bytes of Python memory kept over 1,000 runs"
    assert nuri._nuri._live_runs() == live, "runs leaked"
    assert nuri._nuri._live_objects() == objects, "runtime handles leaked"
    assert session._pooled_runs() == 1


def test_sessions_release_their_handles(tiny):
    pkg, _, _ = tiny
    gc.collect()
    objects = nuri._nuri._live_objects()
    for _ in range(20):
        s = nuri.Session(pkg, device="cpu")
        y = s.run({"x": np.ones((1, 64), np.float32)})["y"]
        del s  # the output keeps its run, and so the session, alive
        assert nuri._nuri._live_objects() > objects
        del y
    gc.collect()
    assert nuri._nuri._live_objects() == objects


def test_stats_and_helpers(tiny):
    pkg, _, _ = tiny
    out, stats = nuri.Session(pkg, device="cpu").run({"x": np.ones((1, 64), np.float32)},
                                                      stats=True)
    assert stats["device"] == "cpu" and stats["wall_seconds"] > 0
    assert stats["counters"]["partitions_run"] == 1
    assert "sim" not in stats
    bits = nuri.float32_to_bf16(np.array([1.0, -2.5, 3.14159, np.nan], np.float32))
    assert bits.dtype == np.uint16 and bits[0] == 0x3F80
    back = nuri.bf16_to_float32(bits)
    assert back[0] == 1.0 and back[1] == -2.5 and abs(back[2] - 3.14159) < 0.02
    assert np.isnan(back[3])
    assert "cpu" in nuri.devices() and nuri.version().count(".") == 2


def test_targets_match_cli():
    names = nuri.targets()
    assert "atom" in names and all(isinstance(v, str) for v in names.values())
    t = nuri.target("atom")
    ref = json.loads(cli("target", "show", "atom", "--json").stdout)
    assert t.to_dict() == ref
    assert t.name == "atom" and str(t)
    more = nuri.target("atom", {"cores": 2}).to_dict()
    assert more != ref


def test_stubs_and_docstrings():
    import ast
    import pathlib
    stub = pathlib.Path(nuri.__file__).with_name("__init__.pyi")
    tree = ast.parse(stub.read_text())
    declared = {n.name for n in tree.body if isinstance(n, (ast.FunctionDef, ast.ClassDef))}
    assert set(nuri.__all__) <= declared, set(nuri.__all__) - declared
    for obj in (nuri.compile, nuri.Session, nuri.Session.run, nuri.Session.generate,
                nuri.Session.generate_stream, nuri.sweep, nuri.target, nuri.load,
                nuri.Package, nuri.Buffer):
        assert obj.__doc__ and len(obj.__doc__) > 40, obj
