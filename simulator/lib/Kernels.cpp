//===- Kernels.cpp - Functional semantics of the instructions -------------===//

#include "Kernels.h"

#include "nuri/isa/Numerics.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <vector>

namespace nuri::sim::detail {

using isa::Dtype;

void loadRow(Dtype dtype, const uint8_t *src, size_t n, float *out) {
  switch (dtype) {
  case Dtype::BF16:
    for (size_t i = 0; i < n; ++i) {
      uint16_t h;
      std::memcpy(&h, src + 2 * i, 2);
      out[i] = isa::bf16ToF32(h);
    }
    return;
  case Dtype::F32:
    std::memcpy(out, src, 4 * n);
    return;
  case Dtype::I8:
    for (size_t i = 0; i < n; ++i) {
      out[i] = float(int8_t(src[i]));
    }
    return;
  default:
    for (size_t i = 0; i < n; ++i) {
      out[i] = isa::loadAsF32(dtype, src, i);
    }
  }
}

void storeRow(Dtype dtype, uint8_t *dst, size_t n, const float *in) {
  switch (dtype) {
  case Dtype::BF16:
    for (size_t i = 0; i < n; ++i) {
      uint16_t h = isa::f32ToBf16(in[i]);
      std::memcpy(dst + 2 * i, &h, 2);
    }
    return;
  case Dtype::F32:
    std::memcpy(dst, in, 4 * n);
    return;
  default:
    for (size_t i = 0; i < n; ++i) {
      isa::storeFromF32(dtype, dst, i, in[i]);
    }
  }
}

void dequantizeRow(unsigned bits, const uint8_t *packed, const float *scales,
                   size_t n, Dtype out, uint8_t *dst) {
  std::vector<float> row(n);
  for (size_t i = 0; i < n; ++i) {
    int q = bits == 8 ? int(int8_t(packed[i]))
                      // Sign-extend the nibble: 8..15 are -8..-1.
                      : ((int(packed[i / 2]) >> (4 * (i % 2))) & 15) ^ 8;
    if (bits == 4) {
      q -= 8;
    }
    row[i] = float(q) * scales[i];
  }
  storeRow(out, dst, n, row.data());
}

float applyBinary(isa::BinOp op, float x, float y) {
  switch (op) {
  case isa::BinOp::Add:
    return x + y;
  case isa::BinOp::Sub:
    return x - y;
  case isa::BinOp::Mul:
    return x * y;
  case isa::BinOp::Div:
    return x / y;
  case isa::BinOp::Max:
    return std::fmax(x, y);
  case isa::BinOp::Min:
    return std::fmin(x, y);
  }
  return 0;
}

namespace {
float gelu(float x) {
  return 0.5f * x * (1.0f + std::erf(x * 0.70710678118654752f));
}
/// GPT-2's approximation, 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))),
/// written as x / (1 + exp(-2u)) like the CPU kernels (the same value in
/// exact arithmetic; this form also saturates cleanly for large |x|).
float geluTanh(float x) {
  float u = 0.7978845608028654f * (x + 0.044715f * x * x * x);
  return x / (1.0f + std::exp(-2.0f * u));
}
float sigmoid(float x) { return 1.0f / (1.0f + std::exp(-x)); }
} // namespace

float applyUnary(isa::UnOp op, float x) {
  switch (op) {
  case isa::UnOp::Copy:
    return x;
  case isa::UnOp::Neg:
    return -x;
  case isa::UnOp::Abs:
    return std::fabs(x);
  case isa::UnOp::Relu:
    return x > 0 ? x : 0.0f;
  case isa::UnOp::Exp:
    return std::exp(x);
  case isa::UnOp::Rsqrt:
    return 1.0f / std::sqrt(x);
  case isa::UnOp::Sqrt:
    return std::sqrt(x);
  case isa::UnOp::Recip:
    return 1.0f / x;
  case isa::UnOp::Tanh:
    return std::tanh(x);
  case isa::UnOp::Erf:
    return std::erf(x);
  case isa::UnOp::Gelu:
    return gelu(x);
  case isa::UnOp::GeluTanh:
    return geluTanh(x);
  case isa::UnOp::Silu:
    return x * sigmoid(x);
  case isa::UnOp::Sigmoid:
    return sigmoid(x);
  }
  return 0;
}

float applyAct(isa::Act act, float x) {
  switch (act) {
  case isa::Act::None:
    return x;
  case isa::Act::Relu:
    return x > 0 ? x : 0.0f;
  case isa::Act::Gelu:
    return gelu(x);
  case isa::Act::GeluTanh:
    return geluTanh(x);
  case isa::Act::Silu:
    return x * sigmoid(x);
  case isa::Act::Tanh:
    return std::tanh(x);
  }
  return x;
}

void matmulInt8(const uint8_t *a, uint64_t lda, const uint8_t *b, uint64_t ldb,
                uint64_t m, uint64_t n, uint64_t k, int32_t *acc,
                bool accumulate) {
  // Wrapping int32 accumulation (unsigned arithmetic: no UB).
  std::vector<uint32_t> row(n);
  for (uint64_t i = 0; i < m; ++i) {
    for (uint64_t j = 0; j < n; ++j) {
      row[j] = accumulate ? uint32_t(acc[i * n + j]) : 0u;
    }
    const int8_t *ar = reinterpret_cast<const int8_t *>(a + i * lda);
    for (uint64_t p = 0; p < k; ++p) {
      int32_t av = ar[p];
      const int8_t *br = reinterpret_cast<const int8_t *>(b + p * ldb);
      for (uint64_t j = 0; j < n; ++j) {
        row[j] += uint32_t(av * int32_t(br[j]));
      }
    }
    for (uint64_t j = 0; j < n; ++j) {
      acc[i * n + j] = int32_t(row[j]);
    }
  }
}

void matmulFloat(const uint8_t *a, uint64_t lda, Dtype at, const uint8_t *b,
                 uint64_t ldb, Dtype bt, uint64_t m, uint64_t n, uint64_t k,
                 float *acc, bool accumulate) {
  std::vector<float> bf(k * n);
  for (uint64_t p = 0; p < k; ++p) {
    loadRow(bt, b + p * ldb, n, bf.data() + p * n);
  }
  std::vector<float> arow(k), row(n);
  for (uint64_t i = 0; i < m; ++i) {
    loadRow(at, a + i * lda, k, arow.data());
    for (uint64_t j = 0; j < n; ++j) {
      row[j] = accumulate ? acc[i * n + j] : 0.0f;
    }
    // i-k-j order: each output still sums in ascending k, and the inner
    // loop vectorizes across j. Products of <=11-bit significands are exact
    // in fp32, so fused or separate multiply-add round identically.
    for (uint64_t p = 0; p < k; ++p) {
      float av = arow[p];
      const float *br = bf.data() + p * n;
      for (uint64_t j = 0; j < n; ++j) {
        row[j] += av * br[j];
      }
    }
    for (uint64_t j = 0; j < n; ++j) {
      acc[i * n + j] = row[j];
    }
  }
}

void vectorOp(const isa::Instruction &in, uint8_t *base, uint64_t rows,
              uint64_t cols, const uint32_t *acc, bool accIsInt) {
  using namespace isa;
  Dtype dt = Dtype(in[Field::DType]);
  Dtype st = Dtype(in[Field::SType]);
  std::vector<float> x(cols), y(cols), out(cols);
  uint8_t *dst = base + in[Field::Dst];
  uint64_t ldd = in[Field::Ldd];
  switch (in.opcode) {
  case Opcode::VecBinary: {
    BinOp bop = BinOp(in[Field::BinOpF]);
    Bcast bc = Bcast(in[Field::BcastF]);
    // Read all sources before writing, so in-place ops are well defined.
    std::vector<float> all(rows * cols);
    for (uint64_t r = 0; r < rows; ++r) {
      loadRow(st, base + in[Field::Src] + r * in[Field::Lds], cols, x.data());
      if (bc == Bcast::None) {
        loadRow(st, base + in[Field::Src1] + r * in[Field::Lds1], cols,
                y.data());
      } else if (bc == Bcast::Row) {
        loadRow(st, base + in[Field::Src1], cols, y.data());
      } else {
        float v;
        loadRow(st, base + in[Field::Src1] + r * in[Field::Lds1], 1, &v);
        std::fill(y.begin(), y.end(), v);
      }
      for (uint64_t c = 0; c < cols; ++c) {
        all[r * cols + c] = applyBinary(bop, x[c], y[c]);
      }
    }
    for (uint64_t r = 0; r < rows; ++r) {
      storeRow(dt, dst + r * ldd, cols, all.data() + r * cols);
    }
    return;
  }
  case Opcode::VecScalar:
  case Opcode::VecUnary: {
    std::vector<float> all(rows * cols);
    float imm = in.imm();
    for (uint64_t r = 0; r < rows; ++r) {
      loadRow(st, base + in[Field::Src] + r * in[Field::Lds], cols, x.data());
      for (uint64_t c = 0; c < cols; ++c) {
        all[r * cols + c] =
            in.opcode == Opcode::VecScalar
                ? applyBinary(BinOp(in[Field::BinOpF]), x[c], imm)
                : applyUnary(UnOp(in[Field::UnOpF]), x[c]);
      }
    }
    for (uint64_t r = 0; r < rows; ++r) {
      storeRow(dt, dst + r * ldd, cols, all.data() + r * cols);
    }
    return;
  }
  case Opcode::VecReduce: {
    std::vector<float> res(rows);
    bool isMax = RedOp(in[Field::RedOpF]) == RedOp::Max;
    for (uint64_t r = 0; r < rows; ++r) {
      loadRow(st, base + in[Field::Src] + r * in[Field::Lds], cols, x.data());
      float a = isMax ? x[0] : 0.0f;
      for (uint64_t c = isMax ? 1 : 0; c < cols; ++c) {
        a = isMax ? std::fmax(a, x[c]) : a + x[c];
      }
      res[r] = a;
    }
    storeRow(dt, dst, rows, res.data());
    return;
  }
  case Opcode::VecBcast: {
    Bcast bc = Bcast(in[Field::BcastF]);
    uint64_t n = bc == Bcast::Row ? cols : rows;
    std::vector<float> v(n);
    loadRow(st, base + in[Field::Src], n, v.data());
    for (uint64_t r = 0; r < rows; ++r) {
      for (uint64_t c = 0; c < cols; ++c) {
        out[c] = bc == Bcast::Row ? v[c] : v[r];
      }
      storeRow(dt, dst + r * ldd, cols, out.data());
    }
    return;
  }
  case Opcode::VecTranspose: {
    unsigned eb = dtypeBytes(dt);
    std::vector<uint8_t> tmp(rows * cols * eb);
    for (uint64_t r = 0; r < rows; ++r) {
      const uint8_t *srow = base + in[Field::Src] + r * in[Field::Lds];
      for (uint64_t c = 0; c < cols; ++c) {
        std::memcpy(&tmp[(c * rows + r) * eb], srow + c * eb, eb);
      }
    }
    for (uint64_t c = 0; c < cols; ++c) {
      std::memcpy(dst + c * ldd, &tmp[c * rows * eb], rows * eb);
    }
    return;
  }
  case Opcode::VecFill: {
    std::fill(out.begin(), out.end(), in.imm());
    for (uint64_t r = 0; r < rows; ++r) {
      storeRow(dt, dst + r * ldd, cols, out.data());
    }
    return;
  }
  case Opcode::VecAccRead: {
    bool useScale = in[Field::UseScale], useBias = in[Field::UseBias];
    Act act = Act(in[Field::ActF]);
    std::vector<float> scale(cols, 1.0f);
    std::vector<uint32_t> bias(cols, 0);
    std::vector<float> obias;
    if (in[Field::UseObias]) {
      obias.resize(cols);
      std::memcpy(obias.data(), base + in[Field::Obias], cols * 4);
    }
    if (useScale) {
      std::memcpy(scale.data(), base + in[Field::Scale], cols * 4);
    }
    if (useBias) {
      std::memcpy(bias.data(), base + in[Field::Bias], cols * 4);
    }
    const uint32_t *a = acc;
    bool exactInt = accIsInt && dt == Dtype::I32 && !useScale &&
                    obias.empty() && (act == Act::None || act == Act::Relu);
    for (uint64_t r = 0; r < rows; ++r) {
      if (exactInt) {
        for (uint64_t c = 0; c < cols; ++c) {
          int32_t v = int32_t(a[r * cols + c] + bias[c]);
          if (act == Act::Relu && v < 0) {
            v = 0;
          }
          std::memcpy(dst + r * ldd + 4 * c, &v, 4);
        }
        continue;
      }
      for (uint64_t c = 0; c < cols; ++c) {
        float v;
        if (accIsInt) {
          v = float(int32_t(a[r * cols + c] + bias[c]));
        } else {
          v = bitsFloat(a[r * cols + c]);
          if (useBias) {
            v += bitsFloat(bias[c]);
          }
        }
        if (useScale) {
          v *= scale[c];
        }
        if (!obias.empty()) {
          v += obias[c];
        }
        out[c] = applyAct(act, v);
      }
      storeRow(dt, dst + r * ldd, cols, out.data());
    }
    return;
  }
  default:
    return;
  }
}

} // namespace nuri::sim::detail
