//===- GenerateCommand.cpp - nuri generate --------------------------------===//
//
// nuri generate PKG.nuri [--device cpu|sim|auto]
//     (--prompt-ids 1,2,3 ... | --prompt TEXT ... --tokenizer bytes|FILE.model)
//     [--max-new-tokens N] [--temperature T --top-k K --top-p P --seed S]
//     [--repetition-penalty R] [--stop-ids 2,3] [--stream] [--json]
// nuri generate PKG.nuri --device sim --timing-only --prompt-len N
//     [--batch B] [--max-new-tokens N] [--json]
//
// A command line over the runtime's generator (nuri_generator_*, over a
// package from `nuri compile --generate`). Each --prompt-ids or --prompt is
// one request; they are all queued at once and batched continuously.
//
// --timing-only simulates without data (a package from `nuri compile
// --generate --timing-only`, or any package to time it): B requests of N
// prompt tokens each generate --max-new-tokens tokens, and the output is the
// simulated figures. The tokens such a run produces are meaningless (no
// weights, no data), so they are never printed.
//
//===----------------------------------------------------------------------===//

#include "Command.h"
#include "Tokenizer.h"

#include "nuri/runtime.hpp"
#include "nuri/target/Target.h"

#include "llvm/Support/FormatVariadic.h"
#include "llvm/Support/JSON.h"
#include "llvm/Support/WithColor.h"
#include "llvm/Support/raw_ostream.h"

#include <chrono>
#include <map>
#include <memory>
#include <optional>

namespace {

namespace cl = llvm::cl;

cl::SubCommand generateCmd("generate",
                           "Generate tokens with a package compiled by "
                           "`nuri compile --generate`");
cl::opt<std::string> genPackage(cl::Positional, cl::desc("<PKG.nuri>"),
                                cl::Required, cl::sub(generateCmd));
cl::opt<std::string> genDevice("device", cl::desc("cpu, sim or auto"),
                               cl::init("auto"), cl::sub(generateCmd));
cl::list<std::string>
    genPromptIds("prompt-ids",
                 cl::desc("a request's prompt as token ids, e.g. 1,2,3 "
                          "(repeatable: one request each)"),
                 cl::value_desc("IDS"), cl::sub(generateCmd));
cl::list<std::string>
    genPrompts("prompt",
               cl::desc("a request's prompt as text, encoded with "
                        "--tokenizer (repeatable)"),
               cl::value_desc("TEXT"), cl::sub(generateCmd));
cl::opt<std::string>
    genTokenizer("tokenizer",
                 cl::desc("bytes (byte-level models: a token per byte) or a "
                          "SentencePiece .model file"),
                 cl::init(""), cl::sub(generateCmd));
cl::opt<unsigned> genMaxNew("max-new-tokens",
                            cl::desc("tokens to generate per request"),
                            cl::init(64), cl::sub(generateCmd));
cl::opt<float> genTemperature("temperature",
                              cl::desc("0 (default): greedy; otherwise "
                                       "sample at this temperature"),
                              cl::init(0.0f), cl::sub(generateCmd));
cl::opt<unsigned> genTopK("top-k", cl::desc("sample among the K likeliest"),
                          cl::init(0), cl::sub(generateCmd));
cl::opt<float> genTopP("top-p",
                       cl::desc("sample among the likeliest tokens holding "
                                "this probability mass"),
                       cl::init(1.0f), cl::sub(generateCmd));
cl::opt<float> genPenalty("repetition-penalty",
                          cl::desc("> 1 discourages tokens already in the "
                                   "prompt or output"),
                          cl::init(1.0f), cl::sub(generateCmd));
cl::opt<uint64_t> genSeed("seed", cl::desc("sampling seed"), cl::init(0),
                          cl::sub(generateCmd));
cl::list<int64_t> genStopIds("stop-ids",
                             cl::desc("token ids that end a request"),
                             cl::CommaSeparated, cl::sub(generateCmd));
cl::opt<bool> genStream("stream",
                        cl::desc("print tokens as they are generated"),
                        cl::sub(generateCmd));
cl::opt<bool> genJson("json", cl::desc("print one JSON object"),
                      cl::sub(generateCmd));
cl::opt<bool> genTimingOnly(
    "timing-only",
    cl::desc("on the sim device: simulate timing without data (a package "
             "from `nuri compile --timing-only`, or any package to time it) "
             "and print the simulated figures; the tokens are meaningless "
             "and not printed"),
    cl::sub(generateCmd));
cl::opt<unsigned> genPromptLen(
    "prompt-len",
    cl::desc("with --timing-only: prompt tokens per request (instead of "
             "--prompt-ids or --prompt)"),
    cl::init(0), cl::sub(generateCmd));
cl::opt<unsigned> genBatch("batch",
                           cl::desc("with --prompt-len: the number of "
                                    "requests (default 1)"),
                           cl::init(1), cl::sub(generateCmd));

bool parseIds(const std::string &text, std::vector<int64_t> &out) {
  llvm::SmallVector<llvm::StringRef> parts;
  llvm::StringRef(text).split(parts, ',', -1, /*KeepEmpty=*/false);
  for (llvm::StringRef p : parts) {
    int64_t v;
    if (p.trim().getAsInteger(10, v)) {
      return false;
    }
    out.push_back(v);
  }
  return !out.empty();
}

const char *stopName(nuri_stop_reason r) {
  switch (r) {
  case NURI_STOP_TOKEN:
    return "stop";
  case NURI_STOP_LENGTH:
    return "length";
  default:
    return "none";
  }
}

int runGenerate() {
  std::unique_ptr<nuri::cli::Tokenizer> tokenizer;
  if (!genTokenizer.empty()) {
    std::string why;
    tokenizer = nuri::cli::loadTokenizer(genTokenizer, why);
    if (!tokenizer) {
      llvm::WithColor::error() << "--tokenizer: " << why << "\n";
      return 2;
    }
  }
  std::vector<std::vector<int64_t>> prompts;
  for (const std::string &ids : genPromptIds) {
    std::vector<int64_t> p;
    if (!parseIds(ids, p)) {
      llvm::WithColor::error() << "--prompt-ids '" << ids
                               << "': expected comma-separated integers\n";
      return 2;
    }
    prompts.push_back(std::move(p));
  }
  if (!genPrompts.empty() && !tokenizer) {
    llvm::WithColor::error()
        << "--prompt needs --tokenizer bytes or --tokenizer FILE.model\n";
    return 2;
  }
  for (const std::string &text : genPrompts) {
    prompts.push_back(tokenizer->encode(text));
  }
  if (genTimingOnly) {
    // The tokens are meaningless, so nothing may read them.
    if (genStream || !genStopIds.empty() || tokenizer) {
      llvm::WithColor::error()
          << "--timing-only computes no tokens: --stream, --stop-ids and "
             "--tokenizer do not apply\n";
      return 2;
    }
    if (genPromptLen > 0) {
      if (!prompts.empty()) {
        llvm::WithColor::error()
            << "give either --prompt-len or --prompt-ids, not both\n";
        return 2;
      }
      if (genBatch < 1) {
        llvm::WithColor::error() << "--batch must be at least 1\n";
        return 2;
      }
      // Token 0 is in every vocabulary; the ids change no timing.
      prompts.assign(genBatch, std::vector<int64_t>(genPromptLen, 0));
    }
  } else if (genPromptLen.getNumOccurrences() || genBatch.getNumOccurrences()) {
    llvm::WithColor::error()
        << "--prompt-len and --batch make requests for --timing-only\n";
    return 2;
  }
  if (prompts.empty()) {
    llvm::WithColor::error()
        << (genTimingOnly ? "give --prompt-len (or --prompt-ids)\n"
                          : "give at least one --prompt-ids or --prompt\n");
    return 2;
  }

  try {
    nuri::Model model = nuri::Model::loadFile(genPackage);
    nuri::SessionOptions sessionOptions;
    sessionOptions.timingOnly = genTimingOnly;
    nuri::Session session(model, genDevice, sessionOptions);
    nuri::GeneratorOptions options;
    options.maxNewTokens = genMaxNew;
    options.temperature = genTemperature;
    options.topK = genTopK;
    options.topP = genTopP;
    options.repetitionPenalty = genPenalty;
    options.seed = genSeed;
    options.stopTokens.assign(genStopIds.begin(), genStopIds.end());
    nuri::Generator generator(session, options);
    std::vector<uint64_t> ids;
    for (const auto &p : prompts) {
      ids.push_back(generator.addRequest(p));
    }
    bool single = prompts.size() == 1;
    auto start = std::chrono::steady_clock::now();
    generator.run([&](uint64_t id, int64_t token, bool finished) {
      if (!genStream || genJson) {
        return;
      }
      if (single) {
        llvm::outs() << (tokenizer ? tokenizer->decode({token})
                                   : std::to_string(token) + " ");
        if (finished) {
          llvm::outs() << "\n";
        }
      } else {
        llvm::outs() << id << "\t" << token
                     << (tokenizer ? "\t" + tokenizer->decode({token}) : "")
                     << (finished ? "\t(end)" : "") << "\n";
      }
      llvm::outs().flush();
    });
    double wall =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start)
            .count();
    size_t generated = 0;
    llvm::json::Array requests;
    std::vector<nuri::RequestInfo> infos;
    for (uint64_t id : ids) {
      infos.push_back(generator.request(id));
      generated += infos.back().tokens.size();
    }
    // The simulated figures (sim device only).
    std::optional<llvm::json::Object> simFigures;
    if (std::string(session.device()) == "sim") {
      double prefillS = generator.counter("prefill", "device_seconds");
      double decodeS = generator.counter("decode", "device_seconds");
      double steps = generator.counter("decode", "steps");
      double decoded = generator.counter("decode", "tokens");
      double dram = generator.counter("decode", "dram_bytes");
      llvm::json::Object sim{
          {"ttft_s", prefillS / double(ids.size())},
          {"tpot_s", steps > 0 ? decodeS / steps : 0.0},
          {"tokens_per_s", (prefillS + decodeS) > 0
                               ? double(generated) / (prefillS + decodeS)
                               : 0.0},
          {"tokens_per_s_per_user", decodeS > 0 ? steps / decodeS : 0.0},
          {"dram_bytes_per_token", decoded > 0 ? dram / decoded : 0.0},
          // Partitions the chip does not run (the KV-cache ops today) run
          // on the host; their time is not in the simulated figures.
          {"cpu_partitions_per_decode_step",
           steps > 0 ? (generator.counter("decode", "partitions_run") -
                        generator.counter("decode", "npu_partitions_run")) /
                           steps
                     : 0.0}};
      nuri::Result<nuri::target::Target> target =
          nuri::target::findTarget(model.target());
      if (target && decodeS > 0) {
        // Time the decode steps' DRAM traffic needs at full bandwidth,
        // against the time they took.
        sim["dram_roofline_fraction"] =
            dram / target->dram.bytesPerSecond / decodeS;
      }
      simFigures = std::move(sim);
    }
    if (!genJson && genTimingOnly) {
      llvm::outs() << llvm::formatv(
          "timing-only on {0} ({1}): {2} request(s) of {3} prompt tokens, {4} "
          "tokens generated; token ids are not computed in a timing-only run "
          "and are not shown\n",
          session.device(), model.target(), ids.size(), prompts[0].size(),
          generated);
      if (simFigures) {
        auto get = [&](const char *k) {
          return simFigures->getNumber(k).value_or(0.0);
        };
        llvm::outs() << llvm::formatv(
            "sim: ttft {0:f3} ms, tpot {1:f3} ms, {2:f1} tokens/s ({3:f1} per "
            "user), {4:f0} DRAM bytes per token, DRAM roofline {5:f1}%\n",
            get("ttft_s") * 1e3, get("tpot_s") * 1e3, get("tokens_per_s"),
            get("tokens_per_s_per_user"), get("dram_bytes_per_token"),
            100 * get("dram_roofline_fraction"));
      }
      return 0;
    }
    if (!genJson) {
      if (!genStream) {
        for (size_t i = 0; i < ids.size(); ++i) {
          const nuri::RequestInfo &r = infos[i];
          if (!single) {
            llvm::outs() << "request " << ids[i] << " ("
                         << stopName(r.stopReason) << "): ";
          }
          if (tokenizer) {
            llvm::outs() << tokenizer->decode(r.tokens);
          } else {
            for (size_t k = 0; k < r.tokens.size(); ++k) {
              llvm::outs() << (k ? "," : "") << r.tokens[k];
            }
          }
          llvm::outs() << "\n";
        }
      }
      llvm::outs().flush();
      llvm::errs() << llvm::formatv("{0} tokens in {1:f3} s: {2:f1} tokens/s "
                                    "({3} request(s), device {4})\n",
                                    generated, wall, generated / wall,
                                    ids.size(), session.device());
      return 0;
    }
    for (size_t i = 0; i < ids.size(); ++i) {
      llvm::json::Object o{{"id", static_cast<int64_t>(ids[i])},
                           {"stop_reason", stopName(infos[i].stopReason)}};
      if (genTimingOnly) {
        // Meaningless ids are never printed as if real: only how many.
        o["prompt_tokens"] = static_cast<int64_t>(prompts[i].size());
        o["generated_tokens"] = static_cast<int64_t>(infos[i].tokens.size());
      } else {
        o["prompt"] = llvm::json::Array(prompts[i]);
        o["tokens"] = llvm::json::Array(infos[i].tokens);
      }
      if (tokenizer) {
        o["text"] = tokenizer->decode(infos[i].tokens);
      }
      requests.push_back(std::move(o));
    }
    auto phase = [&](const char *name) {
      llvm::json::Object o;
      for (const char *c :
           {"runs", "steps", "tokens", "wall_seconds", "cycles",
            "device_seconds", "host_to_device_bytes", "device_to_host_bytes",
            "dram_bytes", "device_weight_bytes_written", "partitions_run",
            "npu_partitions_run"}) {
        o[c] = generator.counter(name, c);
      }
      // What one step moves across the host-device boundary, per step and
      // for decode also per sequence (a decode step's tokens are its
      // sequences):
      // with the KV cache resident on the device, only token ids and
      // positions should cross (0 on the cpu device, which has no boundary).
      double steps = generator.counter(name, "steps");
      double tokens = generator.counter(name, "tokens");
      for (const char *c : {"host_to_device_bytes", "device_to_host_bytes"}) {
        double bytes = generator.counter(name, c);
        o[std::string(c) + "_per_step"] = steps > 0 ? bytes / steps : 0.0;
        if (std::string(name) == "decode") {
          o[std::string(c) + "_per_sequence_step"] =
              tokens > 0 ? bytes / tokens : 0.0;
        }
      }
      return o;
    };
    llvm::json::Object out{{"package", genPackage},
                           {"device", session.device()},
                           {"requests", std::move(requests)},
                           {"wall_s", wall},
                           {"tokens_per_s", generated / wall},
                           {"prefill", phase("prefill")},
                           {"decode", phase("decode")}};
    if (genTimingOnly) {
      out["timing_only"] = true;
      out["note"] = "timing-only: no data is computed, so the generated "
                    "token ids are meaningless and not reported";
    }
    if (simFigures) {
      out["sim"] = std::move(*simFigures);
    }
    llvm::outs() << llvm::formatv("{0:2}", llvm::json::Value(std::move(out)))
                 << "\n";
    return 0;
  } catch (const nuri::Exception &e) {
    llvm::WithColor::error() << e.what() << "\n";
    return 1;
  }
}

nuri::cli::CommandRegistration registration(generateCmd, runGenerate);

} // namespace
