//===- KvCache.cpp - Writing new rows into a KV cache ---------------------===//
//
// `cache_write` is how a generation step keeps its KV cache: the cache is an
// in-place state buffer, so the output is the input's storage and the
// kernel copies only the new rows (the whole cache only when a caller binds
// a separate output). Attention over the cache is in Linalg.cpp.
//
//===----------------------------------------------------------------------===//

#include "Internal.h"

#include <cstring>

namespace nuri::cpu::detail {

std::string readSlots(const graph::Op &op, const TensorView &t, int64_t limit,
                      std::vector<int64_t> &out, const char *what) {
  if (t.dtype != DType::I64 && t.dtype != DType::I32) {
    return fail(op, std::string(what) + " must be i32 or i64");
  }
  out.resize(static_cast<size_t>(t.elements()));
  for (size_t i = 0; i < out.size(); ++i) {
    out[i] = t.dtype == DType::I64 ? t.as<const int64_t>()[i]
                                   : t.as<const int32_t>()[i];
    if (out[i] < 0 || out[i] >= limit) {
      return fail(op, std::string(what) + "[" + std::to_string(i) +
                          "] = " + std::to_string(out[i]) + " is outside 0.." +
                          std::to_string(limit - 1));
    }
  }
  return "";
}

std::string runCacheWrite(const graph::Op &op, const Inputs &in,
                          const Outputs &out) {
  if (in.size() != 4 || out.size() != 1 || !in[0].data || !in[2].data ||
      !in[3].data || (!in[1].data && in[1].elements() != 0)) {
    return fail(op, "needs cache, update, slots and positions");
  }
  const TensorView &cache = in[0], &update = in[1], &o = out[0];
  if (cache.shape.size() != 4 || update.shape.size() != 4 ||
      o.shape != cache.shape || o.dtype != cache.dtype ||
      update.dtype != cache.dtype || update.shape[1] != cache.shape[1] ||
      update.shape[3] != cache.shape[3] ||
      in[2].shape != std::vector<int64_t>{update.shape[0]} ||
      in[3].shape != std::vector<int64_t>{update.shape[0]}) {
    return fail(op, "cache " + shapeString(cache.shape) + ", update " +
                        shapeString(update.shape) + ", slots " +
                        shapeString(in[2].shape) + ", positions " +
                        shapeString(in[3].shape) + " do not match");
  }
  int64_t batch = update.shape[0], heads = update.shape[1];
  int64_t tokens = update.shape[2], dim = update.shape[3];
  int64_t slotCount = cache.shape[0], maxSeq = cache.shape[2];
  std::vector<int64_t> slots, positions;
  std::string bad = readSlots(op, in[2], slotCount, slots);
  if (bad.empty()) {
    bad = readSlots(op, in[3], maxSeq - tokens + 1, positions, "position");
  }
  if (!bad.empty()) {
    return bad;
  }
  for (int64_t b = 0; b < batch; ++b) {
    for (int64_t c = 0; c < b; ++c) {
      if (slots[c] == slots[b]) {
        return fail(op, "slot " + std::to_string(slots[b]) +
                            " is written by batch rows " + std::to_string(c) +
                            " and " + std::to_string(b));
      }
    }
  }
  size_t element = graph::dtypeSize(cache.dtype);
  if (o.data != cache.data) {
    std::memcpy(o.data, cache.data,
                static_cast<size_t>(cache.elements()) * element);
  }
  size_t rowBytes = static_cast<size_t>(dim) * element;
  auto *dst = static_cast<uint8_t *>(o.data);
  const auto *src = static_cast<const uint8_t *>(update.data);
  for (int64_t b = 0; b < batch; ++b) {
    for (int64_t h = 0; h < heads; ++h) {
      // A sequence's new rows are consecutive in both tensors.
      int64_t from = (b * heads + h) * tokens;
      int64_t to = (slots[b] * heads + h) * maxSeq + positions[b];
      std::memcpy(dst + to * rowBytes, src + from * rowBytes,
                  rowBytes * static_cast<size_t>(tokens));
    }
  }
  return "";
}

bool isKvCacheOp(const std::string &kind) { return kind == "cache_write"; }

} // namespace nuri::cpu::detail
