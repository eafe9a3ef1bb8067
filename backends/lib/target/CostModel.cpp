//===- CostModel.cpp - Cycle formulas shared by compiler and simulator ----===//

#include "nuri/target/CostModel.h"

#include <algorithm>
#include <cmath>
#include <numeric>

namespace nuri::target {

namespace {
uint64_t ceilDiv(uint64_t a, uint64_t b) { return (a + b - 1) / b; }
uint64_t ceilCycles(double c) { return uint64_t(std::ceil(c - 1e-9)); }
} // namespace

double sramBankFactor(const Target &t, uint64_t stride, uint64_t stridedRows,
                      double rowBytesPerCycle, double otherBytesPerCycle) {
  uint64_t w = t.sram.bankWidthBytes, banks = t.sram.banks;
  double demand = double(stridedRows) * rowBytesPerCycle;
  uint64_t distinct;
  if (stridedRows <= 1) {
    distinct = banks;
  } else if (stride % w == 0) {
    // Rows `stride` apart start in banks that repeat with this period.
    uint64_t s = (stride / w) % banks;
    uint64_t g = std::gcd(s == 0 ? banks : s, banks);
    distinct = std::min<uint64_t>(stridedRows, banks / g);
  } else {
    distinct = std::min<uint64_t>(stridedRows, banks);
  }
  double strided = demand / (double(distinct) * double(w));
  double total = (demand + otherBytesPerCycle) / double(w * banks);
  return std::max({1.0, strided, total});
}

MatmulCost matmulCost(const Target &t, uint64_t m, uint64_t n, uint64_t k,
                      isa::Dtype a, isa::Dtype b, uint64_t lda, uint64_t ldb,
                      bool coldPipeline) {
  MatmulCost c;
  double pack = std::min(t.packing(a), t.packing(b));
  if (pack <= 0 || m == 0 || n == 0 || k == 0) {
    return c;
  }
  unsigned ea = isa::dtypeBytes(a), eb = isa::dtypeBytes(b);
  uint64_t R = t.matrix.rows, C = t.matrix.cols;
  double stream, factor;
  uint64_t extra = 0;
  if (t.matrix.dataflow == Dataflow::OutputStationary) {
    uint64_t folds = ceilDiv(m, R) * ceilDiv(n, C);
    stream = double(folds * ceilCycles(double(k) / pack));
    uint64_t rows = std::min(m, R), cols = std::min(n, C);
    factor = sramBankFactor(t, lda, rows, pack * ea, double(cols) * pack * eb);
  } else {
    uint64_t folds = ceilDiv(k, R) * ceilDiv(n, C);
    uint64_t load = std::min(k, R);
    stream = double(folds * std::max(ceilCycles(double(m) / pack), load));
    if (coldPipeline) {
      extra = load; // nothing streamed before to hide the first weight load
    }
    factor =
        sramBankFactor(t, ldb, load, double(std::min(n, C)) * eb / double(load),
                       double(load) * pack * ea);
  }
  c.idealCycles = ceilCycles(stream) + extra;
  c.occupancy = ceilCycles(stream * factor) + extra;
  c.fillDrain = R + C - 2;
  return c;
}

VectorCost vectorCost(const Target &t, VectorKind kind, uint64_t rows,
                      uint64_t cols, unsigned passes,
                      unsigned bytesPerElement) {
  const VectorConfig &v = t.vector;
  double cyc;
  uint64_t tail = 0;
  if (kind == VectorKind::Transpose) {
    cyc = double(ceilDiv(rows, v.lanes) * ceilDiv(cols, v.lanes) * v.lanes);
  } else {
    cyc = double(rows * ceilDiv(cols, v.lanes) * passes);
  }
  if (kind == VectorKind::Reduce) {
    tail = uint64_t(std::ceil(std::log2(double(v.lanes))));
  }
  double factor =
      std::max(1.0, double(v.lanes) * double(bytesPerElement) /
                        double(uint64_t(t.sram.banks) * t.sram.bankWidthBytes));
  VectorCost c;
  c.idealCycles = ceilCycles(cyc) + tail;
  c.occupancy = ceilCycles(cyc * factor) + tail;
  c.depth = v.pipelineDepth;
  return c;
}

uint64_t dmaCycles(const Target &t, uint64_t bytes, bool viaDram) {
  double cap = viaDram ? t.dramBytesPerCycle() : t.noc.bytesPerCycle;
  double rate = std::min(t.dma.bytesPerCycle, cap);
  uint64_t latency = viaDram ? t.dram.latencyCycles : t.noc.latencyCycles;
  return latency + ceilCycles(double(bytes) / rate);
}

} // namespace nuri::target
