//===- Generator.cpp - Token generation over a program family -------------===//
//
// The scheduler every static-shape serving stack has (vLLM's continuous
// batching as furiosa-llm and vllm-rbln run it on fixed buckets): requests
// queue for a KV-cache slot, are prefilled one by one with the smallest
// prefill program that holds the prompt, then decode together with the
// smallest decode program whose batch and context hold them all. It is a
// client of the public C API (runs of programs, shared state), so a real
// driver gets it for free.
//
// A sequence's cache rows sit at positions [0, length) of its slot; a
// decode step writes the new token's row at `length` and reads the first
// `context` positions, the mask hiding the ones past `length`.
//
//===----------------------------------------------------------------------===//

#include "Device.h"

#include "nuri/isa/Numerics.h"
#include "nuri/runtime.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <deque>
#include <map>
#include <numeric>
#include <random>
#include <set>
#include <string>
#include <vector>

namespace {

nuri_status error(nuri_status_code code, const std::string &message) {
  return nuri::rt::makeRuntimeStatus(code, message);
}

struct Program {
  std::string name;
  nuri_program_kind kind;
  uint32_t batch = 0, tokens = 0, context = 0;
  nuri_run *run = nullptr;
  /// Per input: its name, dtype, shape and a host buffer of its bytes.
  struct Input {
    std::string name;
    nuri_dtype dtype;
    std::vector<int64_t> shape;
    std::vector<uint8_t> bytes;
  };
  std::vector<Input> inputs;
  std::string logits;
};

struct Request {
  uint64_t id = 0;
  std::vector<int64_t> prompt;
  std::vector<int64_t> tokens;
  /// Prompt and generated tokens, once each: what the repetition penalty
  /// applies to, kept as tokens come instead of rebuilt per token.
  std::set<int64_t> seen;
  int64_t slot = -1;
  int64_t length = 0; ///< cache positions written
  nuri_stop_reason stop = NURI_STOP_NONE;
  bool prefilled = false;
  std::mt19937_64 rng;
};

bool isIndexType(nuri_dtype t) {
  return t == NURI_DTYPE_I64 || t == NURI_DTYPE_I32;
}

void store(Program::Input &in, size_t i, int64_t v) {
  switch (in.dtype) {
  case NURI_DTYPE_I64:
    reinterpret_cast<int64_t *>(in.bytes.data())[i] = v;
    break;
  case NURI_DTYPE_I32:
    reinterpret_cast<int32_t *>(in.bytes.data())[i] = static_cast<int32_t>(v);
    break;
  case NURI_DTYPE_F32:
    reinterpret_cast<float *>(in.bytes.data())[i] = static_cast<float>(v);
    break;
  case NURI_DTYPE_BOOL:
    in.bytes[i] = v != 0;
    break;
  default:
    break; // refused at creation
  }
}

/// Writes sequence `b`'s rows of an attention mask; `visible(i, j)` says
/// whether query row i sees cache position j. A [batch, context] mask is
/// one row per sequence (the model adds causality, and a prefill's last row
/// sees what every row may); a [batch, 1, P, P] mask (Megatron's) is the
/// whole matrix, which the program slices at its past length, so every row
/// is written.
template <typename Visible>
void fillMask(Program::Input &mask, size_t b, Visible visible) {
  if (mask.shape.size() == 2) {
    int64_t cols = mask.shape[1];
    for (int64_t j = 0; j < cols; ++j) {
      store(mask, size_t(b * cols + j), visible(cols - 1, j));
    }
    return;
  }
  int64_t p = mask.shape[3];
  for (int64_t i = 0; i < p; ++i) {
    for (int64_t j = 0; j < p; ++j) {
      store(mask, size_t((int64_t(b) * p + i) * p + j), visible(i, j));
    }
  }
}

float loadLogit(nuri_dtype t, const void *data, size_t i) {
  switch (t) {
  case NURI_DTYPE_F32:
    return static_cast<const float *>(data)[i];
  case NURI_DTYPE_BF16:
    return nuri::isa::bf16ToF32(static_cast<const uint16_t *>(data)[i]);
  case NURI_DTYPE_F16:
    return nuri::isa::f16ToF32(static_cast<const uint16_t *>(data)[i]);
  default:
    return 0;
  }
}

} // namespace

struct nuri_generator_t {
  nuri::rt::LiveObject live;
  nuri_generator_options options{};
  std::set<int64_t> stopTokens;
  std::vector<Program> prefill, decode; // each sorted by size
  uint32_t slots = 0, maxSeq = 0;
  /// Positions a sequence may fill: max_seq, or less when no decode program
  /// reads that far (context buckets chosen below --max-seq).
  int64_t positions = 0;
  int64_t vocab = 0;
  uint64_t nextId = 1;
  std::deque<uint64_t> queue;
  std::map<uint64_t, Request> requests;
  std::vector<uint64_t> slotOwner;           ///< 0: free
  std::map<std::string, double> counters[2]; ///< prefill, decode
  std::vector<float> row;                    ///< one row of logits

  ~nuri_generator_t() {
    for (auto *list : {&prefill, &decode}) {
      for (Program &p : *list) {
        nuri_run_release(p.run);
      }
    }
  }

  nuri_status init(nuri_session *session) {
    const nuri_model *model = nuri_session_model(session);
    nuri_generation_info info;
    if (nuri_model_program_count(model) == 0 ||
        nuri_model_generation_info(model, &info) != nullptr) {
      return error(NURI_INVALID_ARGUMENT,
                   "the model is not a generation package: compile the "
                   "decoder with `nuri compile --generate`");
    }
    slots = info.slots;
    maxSeq = info.max_seq;
    slotOwner.assign(slots, 0);
    for (size_t i = 0; i < nuri_model_program_count(model); ++i) {
      nuri_program_info pi;
      if (nuri_status s = nuri_model_program_info(model, i, &pi)) {
        return s;
      }
      Program p;
      p.name = pi.name;
      p.kind = pi.kind;
      p.batch = pi.batch;
      p.tokens = pi.tokens;
      p.context = pi.context;
      for (size_t k = 0; k < pi.input_count; ++k) {
        nuri_tensor_info t;
        if (nuri_status s = nuri_model_program_input_info(model, i, k, &t)) {
          return s;
        }
        Program::Input in;
        in.name = t.name;
        in.dtype = t.dtype;
        in.shape.assign(t.shape, t.shape + t.rank);
        in.bytes.assign(t.byte_size, 0);
        static const std::set<std::string> known = {
            "input_ids", "attention_mask", "position_ids", "kv_slots",
            "kv_positions"};
        bool dtypeOk =
            isIndexType(in.dtype) ||
            (in.name == "attention_mask" &&
             (in.dtype == NURI_DTYPE_F32 || in.dtype == NURI_DTYPE_BOOL));
        if (!known.count(in.name) || !dtypeOk) {
          return error(NURI_INVALID_ARGUMENT,
                       "program '" + p.name + "' has an input '" + in.name +
                           "' the generator does not know how to feed "
                           "(it feeds input_ids, attention_mask, "
                           "position_ids, kv_slots and kv_positions as "
                           "integers)");
        }
        p.inputs.push_back(std::move(in));
      }
      // The generator owns the meaning of these inputs; a shape it does not
      // expect would be fed wrong, silently.
      for (const Program::Input &in : p.inputs) {
        bool perSequence = in.name == "kv_slots" || in.name == "kv_positions";
        bool mask = in.name == "attention_mask";
        if (mask && in.shape.size() == 4 && in.shape[0] == pi.batch &&
            in.shape[1] == 1 && in.shape[2] == in.shape[3] &&
            in.shape[3] >= int64_t(pi.context)) {
          continue; // the whole [P, P] matrix, see fillMask
        }
        std::vector<int64_t> want =
            perSequence ? std::vector<int64_t>{pi.batch}
            : mask      ? std::vector<int64_t>{pi.batch, pi.context}
                        : std::vector<int64_t>{pi.batch, pi.tokens};
        if (in.shape != want) {
          return error(NURI_INVALID_ARGUMENT,
                       "program '" + p.name + "': input '" + in.name +
                           "' is not [batch" +
                           (perSequence ? std::string("]")
                            : mask      ? std::string(", context] or [batch, "
                                                           "1, P, P] with P at "
                                                           "least the context")
                                        : std::string(", tokens]")) +
                           "; the generator feeds only that layout");
        }
      }
      if (p.kind == NURI_PROGRAM_DECODE &&
          std::none_of(p.inputs.begin(), p.inputs.end(),
                       [](const Program::Input &in) {
                         return in.name == "attention_mask";
                       })) {
        return error(NURI_INVALID_ARGUMENT,
                     "program '" + p.name +
                         "' has no attention_mask input: a decode step could "
                         "not hide the cache positions past a sequence's "
                         "length");
      }
      for (const char *needed : {"input_ids", "kv_slots", "kv_positions"}) {
        if (std::none_of(
                p.inputs.begin(), p.inputs.end(),
                [&](const Program::Input &in) { return in.name == needed; })) {
          return error(NURI_INVALID_ARGUMENT, "program '" + p.name +
                                                  "' has no input '" + needed +
                                                  "'");
        }
      }
      // The head's output by name: taking any float [batch, tokens, N]
      // output would sample from hidden states of a model without a head.
      for (size_t k = 0; k < pi.output_count; ++k) {
        nuri_tensor_info t;
        if (nuri_status s = nuri_model_program_output_info(model, i, k, &t)) {
          return s;
        }
        if (std::string(t.name).find("logits") != std::string::npos &&
            (p.logits.empty() || std::string(t.name) == "logits") &&
            t.rank == 3 && t.shape[0] == pi.batch && t.shape[1] == pi.tokens &&
            (t.dtype == NURI_DTYPE_F32 || t.dtype == NURI_DTYPE_BF16 ||
             t.dtype == NURI_DTYPE_F16)) {
          p.logits = t.name;
          vocab = t.shape[2];
        }
      }
      if (p.logits.empty()) {
        return error(NURI_INVALID_ARGUMENT,
                     "program '" + p.name +
                         "' has no float [batch, tokens, vocab] output named "
                         "'logits': the generator samples from the "
                         "language-model head's output");
      }
      if (nuri_status s = nuri_run_create_program(session, pi.name, &p.run)) {
        return s;
      }
      (p.kind == NURI_PROGRAM_PREFILL ? prefill : decode)
          .push_back(std::move(p));
    }
    if (prefill.empty() || decode.empty()) {
      return error(NURI_INVALID_ARGUMENT,
                   "a generation package needs prefill and decode programs");
    }
    auto bySize = [](const Program &a, const Program &b) {
      return std::tie(a.batch, a.tokens, a.context) <
             std::tie(b.batch, b.tokens, b.context);
    };
    std::sort(prefill.begin(), prefill.end(), bySize);
    std::sort(decode.begin(), decode.end(), bySize);
    positions = maxSeq;
    int64_t widest = 0;
    for (const Program &p : decode) {
      widest = std::max<int64_t>(widest, p.context);
    }
    positions = std::min(positions, widest);
    return nullptr;
  }

  uint32_t longestPrompt() const {
    uint32_t t = 0;
    for (const Program &p : prefill) {
      t = std::max(t, p.tokens);
    }
    // The cache must also hold one generated token.
    return std::min<uint32_t>(t, static_cast<uint32_t>(positions) - 1);
  }

  nuri_status addRequest(const int64_t *prompt, size_t length,
                         uint64_t *outId) {
    if (length == 0 || !prompt) {
      return error(NURI_INVALID_ARGUMENT, "the prompt is empty");
    }
    if (length > longestPrompt()) {
      return error(NURI_INVALID_ARGUMENT,
                   "the prompt has " + std::to_string(length) +
                       " tokens; this package takes at most " +
                       std::to_string(longestPrompt()) + " (--max-seq " +
                       std::to_string(maxSeq) +
                       " and the largest --context-buckets entry must hold "
                       "the prompt and a generated token, and the largest "
                       "--prefill-buckets entry the prompt)");
    }
    for (size_t i = 0; i < length; ++i) {
      if (prompt[i] < 0 || prompt[i] >= vocab) {
        return error(NURI_INVALID_ARGUMENT, "prompt token " +
                                                std::to_string(i) + " is " +
                                                std::to_string(prompt[i]) +
                                                ", outside the vocabulary 0.." +
                                                std::to_string(vocab - 1));
      }
    }
    Request r;
    r.id = nextId++;
    r.prompt.assign(prompt, prompt + length);
    r.seen.insert(r.prompt.begin(), r.prompt.end());
    // splitmix64 of (seed, id): independent streams per request.
    uint64_t z = options.seed + 0x9e3779b97f4a7c15ULL * r.id;
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    r.rng.seed(z ^ (z >> 31));
    queue.push_back(r.id);
    if (outId) {
      *outId = r.id;
    }
    requests.emplace(r.id, std::move(r));
    return nullptr;
  }

  Program::Input *input(Program &p, const char *name) {
    for (Program::Input &in : p.inputs) {
      if (in.name == name) {
        return &in;
      }
    }
    return nullptr;
  }

  nuri_status execute(Program &p, int phase, const void **logits,
                      nuri_tensor_info *info) {
    for (Program::Input &in : p.inputs) {
      if (nuri_status s = nuri_run_bind_input(
              p.run, in.name.c_str(), in.dtype, in.shape.data(),
              in.shape.size(), in.bytes.data(), in.bytes.size())) {
        return s;
      }
    }
    if (nuri_status s = nuri_run_execute(p.run)) {
      return s;
    }
    nuri_counter c;
    for (size_t i = 0; nuri_run_get_counter(p.run, i, &c) == nullptr; ++i) {
      counters[phase][c.name] += c.value;
    }
    counters[phase]["runs"] += 1;
    return nuri_run_get_output(p.run, p.logits.c_str(), info, logits);
  }

  int64_t sample(Request &r, nuri_dtype dtype, const void *logits,
                 size_t offset) {
    row.resize(static_cast<size_t>(vocab));
    for (int64_t v = 0; v < vocab; ++v) {
      row[v] = loadLogit(dtype, logits, offset + static_cast<size_t>(v));
    }
    if (options.repetition_penalty != 1.0f) {
      for (int64_t t : r.seen) {
        float &l = row[t];
        l = l > 0 ? l / options.repetition_penalty
                  : l * options.repetition_penalty;
      }
    }
    if (options.temperature <= 0) {
      // Ties go to the lowest id, as argmax does everywhere else.
      return std::max_element(row.begin(), row.end()) - row.begin();
    }
    std::vector<int64_t> order(row.size());
    std::iota(order.begin(), order.end(), 0);
    std::stable_sort(order.begin(), order.end(),
                     [&](int64_t a, int64_t b) { return row[a] > row[b]; });
    size_t keep = order.size();
    if (options.top_k > 0) {
      keep = std::min<size_t>(keep, options.top_k);
    }
    float top = row[order[0]];
    std::vector<double> p(keep);
    double sum = 0;
    for (size_t i = 0; i < keep; ++i) {
      p[i] = std::exp((row[order[i]] - top) / options.temperature);
      sum += p[i];
    }
    if (options.top_p < 1.0f) {
      double mass = 0;
      for (size_t i = 0; i < keep; ++i) {
        mass += p[i] / sum;
        if (mass >= options.top_p) {
          keep = i + 1;
          break;
        }
      }
      p.resize(keep);
    }
    std::discrete_distribution<size_t> pick(p.begin(), p.end());
    return order[pick(r.rng)];
  }

  /// Appends a token and decides whether the request is done.
  void emit(Request &r, int64_t token, nuri_token_callback cb, void *user) {
    r.tokens.push_back(token);
    r.seen.insert(token);
    if (stopTokens.count(token)) {
      r.stop = NURI_STOP_TOKEN;
    } else if (r.tokens.size() >= options.max_new_tokens ||
               r.length + 1 > positions) {
      // No position left for this token's row: the cache is full.
      r.stop = NURI_STOP_LENGTH;
    }
    if (r.stop != NURI_STOP_NONE) {
      slotOwner[r.slot] = 0;
      r.slot = -1;
    }
    if (cb) {
      cb(user, r.id, token, r.stop != NURI_STOP_NONE);
    }
  }

  nuri_status prefillOne(Request &r, nuri_token_callback cb, void *user) {
    int64_t length = static_cast<int64_t>(r.prompt.size());
    Program *prog = nullptr;
    for (Program &p : prefill) {
      if (p.tokens >= length && p.batch >= 1) {
        prog = &p;
        break;
      }
    }
    if (!prog) {
      return error(NURI_INTERNAL, "no prefill program holds the prompt");
    }
    int64_t t = prog->tokens;
    for (Program::Input &in : prog->inputs) {
      std::fill(in.bytes.begin(), in.bytes.end(), 0);
    }
    Program::Input *ids = input(*prog, "input_ids");
    Program::Input *mask = input(*prog, "attention_mask");
    Program::Input *pos = input(*prog, "position_ids");
    for (int64_t j = 0; j < t; ++j) {
      store(*ids, j, j < length ? r.prompt[j] : 0);
      if (pos) {
        store(*pos, j, j);
      }
    }
    if (mask) {
      fillMask(*mask, 0,
               [&](int64_t i, int64_t j) { return j < length && j <= i; });
    }
    store(*input(*prog, "kv_slots"), 0, r.slot);
    store(*input(*prog, "kv_positions"), 0, 0);
    const void *logits = nullptr;
    nuri_tensor_info info;
    if (nuri_status s = execute(*prog, 0, &logits, &info)) {
      return s;
    }
    counters[0]["tokens"] += double(length);
    r.length = length;
    r.prefilled = true;
    emit(r, sample(r, info.dtype, logits, size_t(length - 1) * vocab), cb,
         user);
    return nullptr;
  }

  nuri_status decodeStep(std::vector<Request *> &live, nuri_token_callback cb,
                         void *user) {
    int64_t longest = 0;
    for (Request *r : live) {
      longest = std::max(longest, r->length + 1);
    }
    Program *prog = nullptr;
    for (Program &p : decode) {
      if (p.batch >= live.size() && p.context >= longest &&
          (!prog || std::tie(p.batch, p.context) <
                        std::tie(prog->batch, prog->context))) {
        prog = &p;
      }
    }
    if (!prog) {
      return error(NURI_INTERNAL,
                   "no decode program holds " + std::to_string(live.size()) +
                       " sequences of context " + std::to_string(longest));
    }
    for (Program::Input &in : prog->inputs) {
      std::fill(in.bytes.begin(), in.bytes.end(), 0);
    }
    Program::Input *ids = input(*prog, "input_ids");
    Program::Input *mask = input(*prog, "attention_mask");
    Program::Input *pos = input(*prog, "position_ids");
    Program::Input *slotIn = input(*prog, "kv_slots");
    Program::Input *posIn = input(*prog, "kv_positions");
    // Padding rows write into free slots, which nothing reads before a
    // prefill overwrites them.
    std::vector<int64_t> spare;
    for (uint32_t s = 0; s < slots; ++s) {
      if (!slotOwner[s]) {
        spare.push_back(s);
      }
    }
    if (spare.size() < prog->batch - live.size()) {
      return error(NURI_INTERNAL, "decode program '" + prog->name +
                                      "' has more padding rows than free "
                                      "cache slots");
    }
    for (size_t b = 0; b < prog->batch; ++b) {
      Request *r = b < live.size() ? live[b] : nullptr;
      store(*ids, b, r ? r->tokens.back() : 0);
      if (pos) {
        store(*pos, b, r ? r->length : 0);
      }
      store(*slotIn, b, r ? r->slot : spare[b - live.size()]);
      store(*posIn, b, r ? r->length : 0);
      if (mask) {
        fillMask(*mask, b,
                 [&](int64_t, int64_t j) { return r && j <= r->length; });
      }
    }
    const void *logits = nullptr;
    nuri_tensor_info info;
    if (nuri_status s = execute(*prog, 1, &logits, &info)) {
      return s;
    }
    counters[1]["tokens"] += double(live.size());
    for (size_t b = 0; b < live.size(); ++b) {
      Request &r = *live[b];
      r.length += 1;
      emit(r, sample(r, info.dtype, logits, b * size_t(vocab)), cb, user);
    }
    return nullptr;
  }

  nuri_status step(nuri_token_callback cb, void *user, size_t *pending) {
    // Queued requests that find a slot are prefilled (each emits its first
    // token); then every request holding a slot decodes, the new ones too:
    // the decode batch must hold all occupied slots, since its padding rows
    // write into free ones.
    while (!queue.empty()) {
      auto free = std::find(slotOwner.begin(), slotOwner.end(), 0);
      if (free == slotOwner.end()) {
        break;
      }
      Request &r = requests.at(queue.front());
      queue.pop_front();
      r.slot = free - slotOwner.begin();
      *free = r.id;
      counters[0]["steps"] += 1;
      if (nuri_status s = prefillOne(r, cb, user)) {
        return s;
      }
    }
    std::vector<Request *> live;
    for (auto &[id, r] : requests) {
      if (r.prefilled && r.stop == NURI_STOP_NONE) {
        live.push_back(&r);
      }
    }
    if (!live.empty()) {
      counters[1]["steps"] += 1;
      if (nuri_status s = decodeStep(live, cb, user)) {
        return s;
      }
    }
    if (pending) {
      *pending = queue.size();
      for (auto &[id, r] : requests) {
        *pending += r.prefilled && r.stop == NURI_STOP_NONE;
      }
    }
    return nullptr;
  }
};

extern "C" {

void nuri_generator_options_initialize(nuri_generator_options *options) {
  if (options) {
    *options = nuri_generator_options{};
    options->max_new_tokens = 64;
    options->top_p = 1.0f;
    options->repetition_penalty = 1.0f;
  }
}

nuri_status nuri_generator_create(nuri_session *session,
                                  const nuri_generator_options *options,
                                  nuri_generator **out_generator) {
  if (!session || !out_generator) {
    return error(NURI_INVALID_ARGUMENT,
                 "nuri_generator_create: session and out_generator must not "
                 "be NULL");
  }
  *out_generator = nullptr;
  auto gen = std::make_unique<nuri_generator_t>();
  nuri_generator_options_initialize(&gen->options);
  if (options) {
    gen->options = *options;
    if (options->stop_token_count && options->stop_tokens) {
      gen->stopTokens.insert(options->stop_tokens,
                             options->stop_tokens + options->stop_token_count);
    }
    gen->options.stop_tokens = nullptr;
    gen->options.stop_token_count = 0;
  }
  const nuri_generator_options &o = gen->options;
  if (o.max_new_tokens == 0 || !(o.temperature >= 0) || !(o.top_p > 0) ||
      o.top_p > 1 || !(o.repetition_penalty > 0)) {
    return error(NURI_INVALID_ARGUMENT,
                 "generator options: max_new_tokens must be >= 1, "
                 "temperature >= 0, top_p in (0, 1], repetition_penalty > 0");
  }
  if (nuri_status s = gen->init(session)) {
    return s;
  }
  *out_generator = gen.release();
  return nullptr;
}

void nuri_generator_release(nuri_generator *generator) { delete generator; }

nuri_status nuri_generator_add_request(nuri_generator *generator,
                                       const int64_t *prompt, size_t length,
                                       uint64_t *out_request_id) {
  if (!generator) {
    return error(NURI_INVALID_ARGUMENT, "nuri_generator_add_request: NULL");
  }
  return generator->addRequest(prompt, length, out_request_id);
}

nuri_status nuri_generator_step(nuri_generator *generator,
                                nuri_token_callback callback, void *user_data,
                                size_t *out_pending) {
  if (!generator) {
    return error(NURI_INVALID_ARGUMENT, "nuri_generator_step: NULL");
  }
  return generator->step(callback, user_data, out_pending);
}

nuri_status nuri_generator_run(nuri_generator *generator,
                               nuri_token_callback callback, void *user_data) {
  size_t pending = 1;
  while (pending > 0) {
    if (nuri_status s =
            nuri_generator_step(generator, callback, user_data, &pending)) {
      return s;
    }
  }
  return nullptr;
}

nuri_status nuri_generator_request_info(const nuri_generator *generator,
                                        uint64_t request_id,
                                        nuri_request_info *out_info) {
  if (!generator || !out_info) {
    return error(NURI_INVALID_ARGUMENT, "nuri_generator_request_info: NULL");
  }
  auto it = generator->requests.find(request_id);
  if (it == generator->requests.end()) {
    return error(NURI_NOT_FOUND, "no request " + std::to_string(request_id));
  }
  const Request &r = it->second;
  out_info->prompt_length = r.prompt.size();
  out_info->tokens = r.tokens.data();
  out_info->token_count = r.tokens.size();
  out_info->stop_reason = r.stop;
  return nullptr;
}

double nuri_generator_counter(const nuri_generator *generator,
                              const char *phase, const char *name) {
  if (!generator || !phase || !name) {
    return 0;
  }
  int p = std::string(phase) == "prefill"  ? 0
          : std::string(phase) == "decode" ? 1
                                           : -1;
  if (p < 0) {
    return 0;
  }
  auto it = generator->counters[p].find(name);
  return it == generator->counters[p].end() ? 0 : it->second;
}

} // extern "C"
