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

std::optional<VectorOp> describeVectorOp(const Target &t,
                                         const isa::Instruction &in) {
  using namespace isa;
  auto extent = [](uint64_t addr, uint64_t ld, uint64_t rows,
                   uint64_t rowBytes) {
    return std::pair<uint64_t, uint64_t>{
        addr, addr + (rows ? (rows - 1) * ld : 0) + rowBytes};
  };
  const Opcode op = in.opcode;
  const Dtype dt = Dtype(in[Field::DType]), st = Dtype(in[Field::SType]);
  VectorOp v;
  v.rows = in[Field::Rows];
  v.cols = in[Field::Cols];
  const unsigned sb = dtypeBytes(st), db = dtypeBytes(dt);
  switch (op) {
  case Opcode::VecBinary: {
    Bcast bc = Bcast(in[Field::BcastF]);
    v.reads[0] = extent(in[Field::Src], in[Field::Lds], v.rows, v.cols * sb);
    v.reads[1] =
        extent(in[Field::Src1], in[Field::Lds1], bc == Bcast::Row ? 1 : v.rows,
               (bc == Bcast::Col ? 1 : v.cols) * sb);
    v.bytesPerElement = 2 * sb + db;
    break;
  }
  case Opcode::VecScalar:
  case Opcode::VecUnary:
    v.reads[0] = extent(in[Field::Src], in[Field::Lds], v.rows, v.cols * sb);
    v.bytesPerElement = sb + db;
    if (op == Opcode::VecUnary &&
        isUnOpTranscendental(UnOp(in[Field::UnOpF]))) {
      v.passes = t.vector.transcendentalPasses;
    }
    break;
  case Opcode::VecReduce:
    v.kind = VectorKind::Reduce;
    v.reads[0] = extent(in[Field::Src], in[Field::Lds], v.rows, v.cols * sb);
    v.bytesPerElement = sb;
    break;
  case Opcode::VecBcast: {
    uint64_t n = Bcast(in[Field::BcastF]) == Bcast::Row ? v.cols : v.rows;
    v.reads[0] = extent(in[Field::Src], 0, 1, n * sb);
    v.bytesPerElement = db;
    break;
  }
  case Opcode::VecTranspose:
    v.kind = VectorKind::Transpose;
    v.reads[0] = extent(in[Field::Src], in[Field::Lds], v.rows, v.cols * db);
    v.bytesPerElement = 2 * db;
    break;
  case Opcode::VecFill:
    v.bytesPerElement = db;
    break;
  case Opcode::VecAccRead: {
    v.rows = in[Field::M];
    v.cols = in[Field::N];
    if (in[Field::UseScale]) {
      v.reads[0] = extent(in[Field::Scale], 0, 1, v.cols * 4);
    }
    if (in[Field::UseBias]) {
      v.reads[1] = extent(in[Field::Bias], 0, 1, v.cols * 4);
    }
    if (in[Field::UseObias]) {
      v.reads[2] = extent(in[Field::Obias], 0, 1, v.cols * 4);
    }
    Act act = Act(in[Field::ActF]);
    if (act == Act::Gelu || act == Act::GeluTanh || act == Act::Silu ||
        act == Act::Tanh) {
      v.passes = t.vector.transcendentalPasses;
    }
    v.bytesPerElement = 4 + db;
    break;
  }
  default:
    return std::nullopt;
  }
  if (op == Opcode::VecReduce) {
    v.write = extent(in[Field::Dst], 0, 1, v.rows * db);
  } else if (op == Opcode::VecTranspose) {
    v.write = extent(in[Field::Dst], in[Field::Ldd], v.cols, v.rows * db);
  } else {
    v.write = extent(in[Field::Dst], in[Field::Ldd], v.rows, v.cols * db);
  }
  return v;
}

} // namespace nuri::target
