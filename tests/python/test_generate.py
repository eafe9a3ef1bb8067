"""Generation from Python reproduces ONNX Runtime's greedy continuations of
the shared gpt2-bytes-trained (its generate/*.json), alone, batched and
streamed, and agrees with `nuri generate` when sampling."""
import json

import pytest

import nuri
from conftest import cli, shared_model


@pytest.fixture(scope="module")
def family(tmp_path_factory):
    d = shared_model("gpt2-bytes-trained")
    pkg = nuri.compile(d / "model.onnx", generate=True, max_seq=128)
    path = tmp_path_factory.mktemp("gen") / "gpt2.nuri"
    pkg.save(path)
    singles = [json.load(open(d / "generate" / f"{i}.json")) for i in range(4)]
    batch = json.load(open(d / "generate" / "batch.json"))
    return pkg, path, singles, batch


def test_family_package(family):
    pkg = family[0]
    assert pkg.is_generation
    kinds = {p["kind"] for p in pkg.programs}
    assert kinds == {"prefill", "decode"}
    assert pkg.states, "the KV cache is a state"


def test_greedy_alone_and_batched(family):
    pkg, _, singles, batch = family
    session = nuri.Session(pkg, device="cpu")
    for i, s in enumerate(singles):
        got = session.generate(s["prompt"], max_new_tokens=len(s["greedy"]))
        assert got == [s["greedy"]], f"prompt {i}"
    n = len(batch["greedy"][0])
    tokens, stats = session.generate([s["prompt"] for s in singles],
                                     max_new_tokens=n, stats=True)
    assert tokens == batch["greedy"]
    assert stats["stop_reasons"] == ["length"] * 4
    assert stats["decode"]["tokens"] > 0 and stats["tokens"] == 4 * n


def test_stream_matches(family):
    pkg, _, singles, _ = family
    session = nuri.Session(pkg, device="cpu")
    prompts = [s["prompt"] for s in singles[:2]]
    seen = {0: [], 1: []}
    finished = set()
    for index, token, done in session.generate_stream(prompts, max_new_tokens=20):
        assert index not in finished
        seen[index].append(token)
        if done:
            finished.add(index)
    assert finished == {0, 1}
    assert [seen[0], seen[1]] == [s["greedy"][:20] for s in singles[:2]]
    # A second stream while one is open on this thread is refused, not a hang.
    stream = session.generate_stream(prompts[0], max_new_tokens=2)
    with pytest.raises(nuri.Error, match="already generating"):
        session.generate(prompts[0], max_new_tokens=1)
    stream.close()
    assert session.generate(prompts[0], max_new_tokens=3) == [singles[0]["greedy"][:3]]


def test_sampling_equals_cli(family):
    pkg, path, singles, _ = family
    session = nuri.Session(path, device="cpu")
    prompt = singles[1]["prompt"]
    got = session.generate([prompt], max_new_tokens=12, temperature=0.8, top_k=20,
                           top_p=0.9, seed=5)
    ref = json.loads(cli("generate", path, "--device", "cpu", "--json",
                         "--prompt-ids", ",".join(map(str, prompt)),
                         "--max-new-tokens", 12, "--temperature", 0.8,
                         "--top-k", 20, "--top-p", 0.9, "--seed", 5).stdout)
    assert got == [ref["requests"][0]["tokens"]]


def test_generation_errors(family):
    pkg, _, singles, _ = family
    session = nuri.Session(pkg, device="cpu")
    with pytest.raises(nuri.Error, match="vocabulary"):
        session.generate([[1, 2, 100000]], max_new_tokens=2)
    with pytest.raises(nuri.Error, match="empty"):
        session.generate([[]], max_new_tokens=2)
    with pytest.raises(nuri.Error, match="program"):
        session.run({})  # a family runs by program


def test_sim_generation_equals_cli(tmp_path):
    # bf16 on the simulated atom: the tokens `nuri generate --device sim`
    # gives for the same package, and the simulator's TTFT / TPOT.
    d = shared_model("gpt2-bytes-trained")
    prompt = json.load(open(d / "generate" / "0.json"))["prompt"]
    pkg = nuri.compile(d / "model.onnx", target="atom", generate=True, max_seq=64,
                       prefill_buckets=[64], decode_batch=[1], context_buckets=[64])
    path = tmp_path / "atom.nuri"
    pkg.save(path)
    tokens, stats = nuri.Session(path, device="sim").generate(prompt, max_new_tokens=6,
                                                               stats=True)
    ref = json.loads(cli("generate", path, "--device", "sim", "--json", "--prompt-ids",
                         ",".join(map(str, prompt)), "--max-new-tokens", 6).stdout)
    assert tokens == [ref["requests"][0]["tokens"]]
    assert stats["device"] == "sim"
    assert stats["sim"]["ttft_s"] == pytest.approx(ref["sim"]["ttft_s"])
    assert stats["sim"]["tpot_s"] == pytest.approx(ref["sim"]["tpot_s"]) and stats["sim"]["tpot_s"] > 0


def test_threads_take_turns_generating(family):
    # One generator per session at a time: four threads' requests queue on
    # the session and each still gets its own greedy continuation.
    import threading
    pkg, _, singles, _ = family
    session = nuri.Session(pkg, device="cpu")
    got = {}

    def work(i):
        got[i] = session.generate(singles[i]["prompt"], max_new_tokens=16)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert got == {i: [singles[i]["greedy"][:16]] for i in range(4)}


def test_quantized_family_equals_cli(tmp_path):
    # --quantize int8 --smoothquant 0.5 calibrated on the training windows:
    # the same package bytes as `nuri compile`, and the report says so.
    d = shared_model("gpt2-bytes-trained")
    args = dict(generate=True, max_seq=64, prefill_buckets=[63], decode_batch=[1],
                context_buckets=[64], quantize="int8", calibration=d / "calib.npy",
                smoothquant=0.5, producer="nuri compile model.onnx")
    pkg = nuri.compile(d / "model.onnx", **args)
    ref = tmp_path / "cli.nuri"
    cli("compile", d / "model.onnx", "--generate", "--max-seq", 64, "--prefill-buckets", 63,
        "--decode-batch", 1, "--context-buckets", 64, "--quantize", "int8",
        "--calibration", d / "calib.npy", "--smoothquant", 0.5, "-o", ref)
    assert pkg.to_bytes() == ref.read_bytes()
    prompt = json.load(open(d / "generate" / "0.json"))["prompt"][:40]
    tokens = nuri.Session(pkg, device="cpu").generate(prompt, max_new_tokens=8)
    assert len(tokens[0]) == 8
