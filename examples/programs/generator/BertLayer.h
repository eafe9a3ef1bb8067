//===- BertLayer.h - A BERT-base encoder layer as an NPU program -*- C++
//-*-===//
//
// Emits one encoder layer (seq 128, hidden 768, 12 heads, FFN 3072, bf16)
// split over all cores of a target with the builder API, the way the
// compiler (issue 5) is expected to: column-split GEMMs with double-buffered
// weight chunks and a lagging store, head-split attention, row-split
// residual+LayerNorm, barriers between phases, activations kept in the shared
// SRAM when the chip has one. examples/programs/bert_layer.nasm is its output
// for `atom`.
//
//===----------------------------------------------------------------------===//

#ifndef NURI_EXAMPLES_BERTLAYER_H
#define NURI_EXAMPLES_BERTLAYER_H

#include "nuri/isa/Program.h"
#include "nuri/target/Target.h"

namespace nuri::examples {

struct BertConfig {
  unsigned seq = 128, hidden = 768, heads = 12, ffn = 3072;
  unsigned layers = 1; ///< repeated layers (benchmarks scale program length)
};

/// Where the layer's tensors live in DRAM (all bf16 row-major unless noted).
struct BertLayout {
  uint64_t x = 0;    ///< input  [seq x hidden]
  uint64_t y = 0;    ///< output [seq x hidden]
  uint64_t wqkv = 0; ///< [hidden x 3 hidden]
  uint64_t bqkv = 0; ///< f32 [3 hidden]
  uint64_t wo = 0, bo = 0, w1 = 0, b1 = 0, w2 = 0, b2 = 0;
  uint64_t ln1g = 0, ln1b = 0, ln2g = 0, ln2b = 0; ///< bf16 [hidden]
  uint64_t end = 0; ///< first DRAM byte after the layer's data
  /// FLOPs (2 x MACs) of the layer and DRAM bytes it must at least move
  /// (weights, biases, input, output).
  double flops = 0, minDramBytes = 0;
};

/// Builds the program; throws nuri::Error if the target cannot hold it.
isa::Program buildBertLayer(const target::Target &t, const BertConfig &cfg,
                            BertLayout *layout = nullptr);

} // namespace nuri::examples

#endif // NURI_EXAMPLES_BERTLAYER_H
