//===- BertLayer.cpp - A BERT-base encoder layer as an NPU program --------===//

#include "BertLayer.h"

#include "nuri/isa/Builder.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>

namespace nuri::examples {

namespace {

using namespace isa;

constexpr unsigned kBf16 = 2;

struct Buf {
  Space space;
  uint64_t addr;
};

/// Bump allocation of one core's scratchpad; every core uses the same map.
class SramPlan {
public:
  explicit SramPlan(uint64_t size) : size_(size) {}
  uint64_t alloc(uint64_t bytes, const char *what) {
    uint64_t at = (top_ + 63) & ~uint64_t(63);
    if (at + bytes > size_) {
      throw Error(fmt::format("BERT layer does not fit the {} B scratchpad "
                              "(at {})",
                              size_, what));
    }
    top_ = at + bytes;
    return at;
  }

private:
  uint64_t size_;
  uint64_t top_ = 0;
};

class Generator {
public:
  Generator(const target::Target &t, const BertConfig &c)
      : t_(t), c_(c), P_(t.cores), S_(c.seq), H_(c.hidden), NH_(c.heads),
        DH_(c.hidden / c.heads), F_(c.ffn), sram_(t.sram.bytesPerCore) {}

  Program build(BertLayout *out) {
    if (H_ % NH_ || (3 * H_) % P_ || H_ % P_ || F_ % P_ || S_ % P_ != 0) {
      throw Error(fmt::format("BERT shapes do not split over {} cores", P_));
    }
    if (!t_.supports(Dtype::BF16)) {
      throw Error(fmt::format("target {} has no bf16 matrix path", t_.name));
    }
    planDram();
    planSram();
    for (unsigned l = 0; l < c_.layers; ++l) {
      Buf in{Space::Dram, l % 2 ? lay_.y : lay_.x};
      Buf outY{Space::Dram, l % 2 ? lay_.x : lay_.y};
      Buf a = in;
      if (actSpace_ == Space::Shared) {
        // Every core reads all of X for its QKV columns: fetch it from DRAM
        // once into the shared SRAM, each core copying its rows.
        unsigned nr = S_ / P_;
        for (unsigned p = 0; p < P_; ++p) {
          uint64_t off = uint64_t(p) * nr * H_ * kBf16;
          q(p, Engine::Dma)
              .dma(copy2d({in.space, in.addr + off}, H_ * kBf16,
                          {Space::Shared, xs_ + off}, H_ * kBf16, nr,
                          H_ * kBf16));
        }
        barrierAll();
        a = {Space::Shared, xs_};
      }
      gemm({actSpace_, qkv_}, a, H_, 3 * H_, lay_.wqkv, lay_.bqkv, Act::None);
      attention();
      gemm({actSpace_, ao_}, {actSpace_, ctx_}, H_, H_, lay_.wo, lay_.bo,
           Act::None);
      layerNorm({actSpace_, l1_}, {actSpace_, ao_}, in, lay_.ln1g, lay_.ln1b);
      gemm({actSpace_, h1_}, {actSpace_, l1_}, H_, F_, lay_.w1, lay_.b1,
           Act::Gelu);
      gemm({actSpace_, f2_}, {actSpace_, h1_}, F_, H_, lay_.w2, lay_.b2,
           Act::None);
      layerNorm(outY, {actSpace_, f2_}, {actSpace_, l1_}, lay_.ln2g, lay_.ln2b);
    }
    if (out) {
      *out = lay_;
    }
    return pb_.finish();
  }

private:
  void planDram() {
    uint64_t top = 0;
    auto take = [&](uint64_t bytes) {
      uint64_t at = top;
      top = (top + bytes + 4095) & ~uint64_t(4095);
      return at;
    };
    lay_.x = take(S_ * H_ * kBf16);
    lay_.y = take(S_ * H_ * kBf16);
    lay_.wqkv = take(H_ * 3 * H_ * kBf16);
    lay_.bqkv = take(3 * H_ * 4);
    lay_.wo = take(H_ * H_ * kBf16);
    lay_.bo = take(H_ * 4);
    lay_.w1 = take(H_ * F_ * kBf16);
    lay_.b1 = take(F_ * 4);
    lay_.w2 = take(F_ * H_ * kBf16);
    lay_.b2 = take(H_ * 4);
    lay_.ln1g = take(H_ * kBf16);
    lay_.ln1b = take(H_ * kBf16);
    lay_.ln2g = take(H_ * kBf16);
    lay_.ln2b = take(H_ * kBf16);
    lay_.end = top;
    double weights = 2.0 * (3.0 * H_ * H_ + H_ * H_ + 2.0 * H_ * F_);
    double biases = 4.0 * (3 * H_ + H_ + F_ + H_) + 2.0 * 4 * H_;
    lay_.minDramBytes = c_.layers * (weights + biases + 2.0 * S_ * H_ * kBf16);
    lay_.flops =
        c_.layers * (2.0 * S_ * (3.0 * H_ * H_ + H_ * H_ + 2.0 * H_ * F_) +
                     2.0 * NH_ * 2.0 * S_ * S_ * DH_);
    // Activations between phases: in the shared SRAM when it holds them all
    // (no DRAM round trips), else in DRAM after the weights.
    uint64_t actBytes = S_ * (3 * H_ + 5 * H_ + F_) * kBf16 + 7 * 4096;
    if (t_.sram.sharedBytes >= actBytes) {
      actSpace_ = Space::Shared;
      top = 0; // shared-SRAM addresses start at 0
    } else {
      actSpace_ = Space::Dram; // after the weights
    }
    xs_ = take(S_ * H_ * kBf16);
    qkv_ = take(S_ * 3 * H_ * kBf16);
    ctx_ = take(S_ * H_ * kBf16);
    ao_ = take(S_ * H_ * kBf16);
    l1_ = take(S_ * H_ * kBf16);
    h1_ = take(S_ * F_ * kBf16);
    f2_ = take(S_ * H_ * kBf16);
    if (actSpace_ == Space::Dram) {
      lay_.end = top;
    }
  }

  unsigned tileWidth(unsigned nc) const {
    if (nc <= 128) {
      return nc;
    }
    for (unsigned d = 128; d >= 32; --d) {
      if (nc % d == 0 && d % 8 == 0) {
        return d;
      }
    }
    return nc;
  }

  void planSram() {
    unsigned kmax = std::max(H_, F_);
    unsigned ncMax = std::max({3 * H_, H_, F_}) / P_;
    ntMax_ = 0;
    for (unsigned n : {3 * H_ / P_, H_ / P_, F_ / P_}) {
      ntMax_ = std::max(ntMax_, tileWidth(n));
    }
    // Resident A rows are padded by one bank width: with a row stride that is
    // a multiple of banks x width every row would start in the same bank and
    // the matrix engine would stream A at a fraction of its rate.
    aPad_ = t_.sram.bankWidthBytes;
    aRes_ = sram_.alloc(uint64_t(S_) * (kmax * kBf16 + aPad_), "A");
    for (auto &w : wbuf_) {
      w = sram_.alloc(uint64_t(kc_) * ntMax_ * kBf16, "weight buffer");
    }
    outs_ = sram_.alloc(uint64_t(S_) * ncMax * kBf16, "outputs");
    bias_ = sram_.alloc(ncMax * 4, "bias");
    scale_ = sram_.alloc(S_ * 4, "scale");
    for (auto &s : slot_) {
      s.q = sram_.alloc(S_ * DH_ * kBf16, "Q");
      s.k = sram_.alloc(S_ * DH_ * kBf16, "K");
      s.kt = sram_.alloc(S_ * DH_ * kBf16, "K^T");
      s.v = sram_.alloc(S_ * DH_ * kBf16, "V");
      s.sc = sram_.alloc(S_ * S_ * 4, "scores");
      s.p = sram_.alloc(S_ * S_ * kBf16, "P");
      s.ctx = sram_.alloc(S_ * DH_ * kBf16, "ctx");
      s.mx = sram_.alloc(S_ * 4, "rowmax");
      s.sum = sram_.alloc(S_ * 4, "rowsum");
      s.rcp = sram_.alloc(S_ * 4, "1/rowsum");
    }
    unsigned nr = S_ / P_;
    ln_.xa = sram_.alloc(nr * H_ * kBf16, "ln a");
    ln_.xr = sram_.alloc(nr * H_ * kBf16, "ln residual");
    ln_.t1 = sram_.alloc(nr * H_ * 4, "ln t1");
    ln_.t2 = sram_.alloc(nr * H_ * 4, "ln t2");
    ln_.g = sram_.alloc(H_ * kBf16, "gamma");
    ln_.b = sram_.alloc(H_ * kBf16, "beta");
    ln_.gf = sram_.alloc(H_ * 4, "gamma f32");
    ln_.bf = sram_.alloc(H_ * 4, "beta f32");
    ln_.mu = sram_.alloc(nr * 4, "mean");
    ln_.var = sram_.alloc(nr * 4, "var");
    ln_.out = sram_.alloc(nr * H_ * kBf16, "ln out");
    uint64_t accNeed = std::max<uint64_t>(2ull * S_ * ntMax_,
                                          2ull * S_ * S_ + 2ull * S_ * DH_);
    if (accNeed * 4 > t_.matrix.accBytes) {
      throw Error(fmt::format("BERT layer needs {} B of accumulator, target "
                              "{} has {}",
                              accNeed * 4, t_.name, t_.matrix.accBytes));
    }
  }

  StreamBuilder q(unsigned core, Engine e) { return pb_.queue(core, e); }

  void barrierAll() {
    unsigned id = phase_++ % t_.barriers;
    for (unsigned p = 0; p < P_; ++p) {
      for (Engine e : {Engine::Dma, Engine::Matrix, Engine::Vector}) {
        q(p, e).barrier(id, P_ * 3);
      }
    }
  }

  DmaDesc copy2d(Buf src, uint64_t srcLd, Buf dst, uint64_t dstLd,
                 uint64_t rows, uint64_t bytes) {
    DmaDesc d;
    d.srcSpace = src.space;
    d.dstSpace = dst.space;
    d.src = src.addr;
    d.dst = dst.addr;
    d.srcStride = srcLd;
    d.dstStride = dstLd;
    d.rows = rows;
    d.bytes = bytes;
    return d;
  }

  /// out[S x N] = act(A[S x K] * W[K x N] + b), columns split over cores.
  void gemm(Buf out, Buf a, unsigned K, unsigned N, uint64_t w, uint64_t b,
            Act act) {
    unsigned nc = N / P_, nt = tileWidth(nc), T = nc / nt;
    unsigned kc = K % kc_ == 0 ? kc_ : K, chunks = K / kc;
    unsigned G = T * chunks;
    uint64_t lda = K * kBf16 + aPad_;
    uint64_t accBase[2] = {0, uint64_t(S_) * nt};
    for (unsigned p = 0; p < P_; ++p) {
      unsigned n0 = p * nc;
      auto dma = q(p, Engine::Dma);
      auto mat = q(p, Engine::Matrix);
      auto vec = q(p, Engine::Vector);
      dma.dma(copy2d({Space::Dram, b + n0 * 4}, 0, {Space::Sram, bias_}, 0, 1,
                     nc * 4));
      dma.signal(9);
      auto outTile = [&](unsigned j) {
        return outs_ + uint64_t(j) * S_ * nt * kBf16;
      };
      auto store = [&](unsigned j) {
        dma.wait(8);
        dma.dma(copy2d({Space::Sram, outTile(j)}, nt * kBf16,
                       {out.space, out.addr + (n0 + j * nt) * kBf16}, N * kBf16,
                       S_, nt * kBf16));
      };
      for (unsigned j = 0; j < T; ++j) {
        for (unsigned c = 0; c < chunks; ++c) {
          unsigned g = j * chunks + c, bb = g % 2;
          if (g >= 2) {
            dma.wait(2 + bb);
          }
          if (j == 0) {
            // A stays resident after the first column tile.
            dma.dma(copy2d({a.space, a.addr + c * kc * kBf16}, K * kBf16,
                           {Space::Sram, aRes_ + c * kc * kBf16}, lda, S_,
                           kc * kBf16));
          }
          dma.dma(copy2d(
              {Space::Dram, w + (uint64_t(c) * kc * N + n0 + j * nt) * kBf16},
              N * kBf16, {Space::Sram, wbuf_[bb]}, nt * kBf16, kc, nt * kBf16));
          dma.signal(bb);
        }
        if (j >= 1) {
          store(j - 1);
        }
      }
      store(T - 1);

      for (unsigned j = 0; j < T; ++j) {
        unsigned ab = j % 2;
        if (j >= 2) {
          mat.wait(6 + ab);
        }
        for (unsigned c = 0; c < chunks; ++c) {
          unsigned g = j * chunks + c, bb = g % 2;
          mat.wait(bb);
          mat.mm(accBase[ab], {aRes_ + c * kc * kBf16, lda},
                 {wbuf_[bb], nt * kBf16}, S_, nt, kc, Dtype::BF16, Dtype::BF16,
                 c > 0);
          if (g + 2 < G) {
            mat.signal(2 + bb);
          }
        }
        mat.signal(4 + ab);
      }

      vec.wait(9);
      for (unsigned j = 0; j < T; ++j) {
        unsigned ab = j % 2;
        vec.wait(4 + ab);
        Epilogue e;
        e.out = Dtype::BF16;
        e.act = act;
        e.useBias = true;
        e.bias = bias_ + j * nt * 4;
        vec.accRead({outTile(j), nt * kBf16}, accBase[ab], S_, nt, e);
        if (j + 2 < T) {
          vec.signal(6 + ab);
        }
        vec.signal(8);
      }
    }
    barrierAll();
  }

  void attention() {
    uint64_t ldq = 3 * H_ * kBf16;
    uint64_t accS[2] = {0, uint64_t(S_) * S_};
    uint64_t accC[2] = {2ull * S_ * S_, 2ull * S_ * S_ + uint64_t(S_) * DH_};
    for (unsigned p = 0; p < P_; ++p) {
      std::vector<unsigned> heads;
      for (unsigned h = p; h < NH_; h += P_) {
        heads.push_back(h);
      }
      auto dma = q(p, Engine::Dma);
      auto mat = q(p, Engine::Matrix);
      auto vec = q(p, Engine::Vector);
      vec.fill({scale_, S_ * 4}, 1.0f / std::sqrt(float(DH_)), 1, S_,
               Dtype::F32);
      for (size_t g0 = 0; g0 < heads.size(); g0 += 2) {
        size_t gn = std::min<size_t>(2, heads.size() - g0);
        auto sem = [&](size_t s, unsigned k) {
          return unsigned(10 + 6 * s + k);
        };
        for (size_t s = 0; s < gn; ++s) {
          unsigned h = heads[g0 + s];
          const Slot &sl = slot_[s];
          Buf src{actSpace_, qkv_ + h * DH_ * kBf16};
          dma.dma(copy2d(src, ldq, {Space::Sram, sl.q}, DH_ * kBf16, S_,
                         DH_ * kBf16));
          dma.dma(copy2d({actSpace_, src.addr + H_ * kBf16}, ldq,
                         {Space::Sram, sl.k}, DH_ * kBf16, S_, DH_ * kBf16));
          dma.dma(copy2d({actSpace_, src.addr + 2 * H_ * kBf16}, ldq,
                         {Space::Sram, sl.v}, DH_ * kBf16, S_, DH_ * kBf16));
          dma.signal(sem(s, 0));
        }
        for (size_t s = 0; s < gn; ++s) {
          const Slot &sl = slot_[s];
          vec.wait(sem(s, 0));
          vec.transpose({sl.kt, S_ * kBf16}, {sl.k, DH_ * kBf16}, S_, DH_,
                        Dtype::BF16);
          vec.signal(sem(s, 1));
        }
        for (size_t s = 0; s < gn; ++s) {
          const Slot &sl = slot_[s];
          mat.wait(sem(s, 1));
          mat.mm(accS[s], {sl.q, DH_ * kBf16}, {sl.kt, S_ * kBf16}, S_, S_, DH_,
                 Dtype::BF16, Dtype::BF16, false);
          mat.signal(sem(s, 2));
        }
        for (size_t s = 0; s < gn; ++s) {
          const Slot &sl = slot_[s];
          vec.wait(sem(s, 2));
          Epilogue e;
          e.out = Dtype::F32;
          e.useScale = true;
          e.scale = scale_;
          vec.accRead({sl.sc, S_ * 4}, accS[s], S_, S_, e);
          TileRef sc{sl.sc, S_ * 4};
          vec.reduce(RedOp::Max, sl.mx, sc, S_, S_, Dtype::F32, Dtype::F32);
          vec.binary(BinOp::Sub, Bcast::Col, sc, sc, {sl.mx, 4}, S_, S_,
                     Dtype::F32, Dtype::F32);
          vec.unary(UnOp::Exp, sc, sc, S_, S_, Dtype::F32, Dtype::F32);
          vec.reduce(RedOp::Sum, sl.sum, sc, S_, S_, Dtype::F32, Dtype::F32);
          vec.unary(UnOp::Recip, {sl.rcp, 4}, {sl.sum, 4}, S_, 1, Dtype::F32,
                    Dtype::F32);
          vec.binary(BinOp::Mul, Bcast::Col, {sl.p, S_ * kBf16}, sc,
                     {sl.rcp, 4}, S_, S_, Dtype::BF16, Dtype::F32);
          vec.signal(sem(s, 3));
        }
        for (size_t s = 0; s < gn; ++s) {
          const Slot &sl = slot_[s];
          mat.wait(sem(s, 3));
          mat.mm(accC[s], {sl.p, S_ * kBf16}, {sl.v, DH_ * kBf16}, S_, DH_, S_,
                 Dtype::BF16, Dtype::BF16, false);
          mat.signal(sem(s, 4));
        }
        for (size_t s = 0; s < gn; ++s) {
          const Slot &sl = slot_[s];
          vec.wait(sem(s, 4));
          Epilogue e;
          e.out = Dtype::BF16;
          vec.accRead({sl.ctx, DH_ * kBf16}, accC[s], S_, DH_, e);
          vec.signal(sem(s, 5));
        }
        for (size_t s = 0; s < gn; ++s) {
          unsigned h = heads[g0 + s];
          dma.wait(sem(s, 5));
          dma.dma(copy2d({Space::Sram, slot_[s].ctx}, DH_ * kBf16,
                         {actSpace_, ctx_ + h * DH_ * kBf16}, H_ * kBf16, S_,
                         DH_ * kBf16));
        }
      }
    }
    barrierAll();
  }

  /// out = LayerNorm(a + r) * gamma + beta over rows, rows split over cores.
  void layerNorm(Buf out, Buf a, Buf r, uint64_t gamma, uint64_t beta) {
    unsigned nr = S_ / P_;
    uint64_t ld = H_ * kBf16, ldf = H_ * 4;
    for (unsigned p = 0; p < P_; ++p) {
      uint64_t row0 = uint64_t(p) * nr * ld;
      auto dma = q(p, Engine::Dma);
      auto vec = q(p, Engine::Vector);
      dma.dma(copy2d({a.space, a.addr + row0}, ld, {Space::Sram, ln_.xa}, ld,
                     nr, ld));
      dma.dma(copy2d({r.space, r.addr + row0}, ld, {Space::Sram, ln_.xr}, ld,
                     nr, ld));
      dma.dma(copy2d({Space::Dram, gamma}, 0, {Space::Sram, ln_.g}, 0, 1, ld));
      dma.dma(copy2d({Space::Dram, beta}, 0, {Space::Sram, ln_.b}, 0, 1, ld));
      dma.signal(22);
      vec.wait(22);
      TileRef t1{ln_.t1, ldf}, t2{ln_.t2, ldf};
      float invH = 1.0f / float(H_);
      vec.binary(BinOp::Add, Bcast::None, t1, {ln_.xa, ld}, {ln_.xr, ld}, nr,
                 H_, Dtype::F32, Dtype::BF16);
      vec.reduce(RedOp::Sum, ln_.mu, t1, nr, H_, Dtype::F32, Dtype::F32);
      vec.scalar(BinOp::Mul, {ln_.mu, 4}, {ln_.mu, 4}, invH, nr, 1, Dtype::F32,
                 Dtype::F32);
      vec.binary(BinOp::Sub, Bcast::Col, t1, t1, {ln_.mu, 4}, nr, H_,
                 Dtype::F32, Dtype::F32);
      vec.binary(BinOp::Mul, Bcast::None, t2, t1, t1, nr, H_, Dtype::F32,
                 Dtype::F32);
      vec.reduce(RedOp::Sum, ln_.var, t2, nr, H_, Dtype::F32, Dtype::F32);
      vec.scalar(BinOp::Mul, {ln_.var, 4}, {ln_.var, 4}, invH, nr, 1,
                 Dtype::F32, Dtype::F32);
      vec.scalar(BinOp::Add, {ln_.var, 4}, {ln_.var, 4}, 1e-12f, nr, 1,
                 Dtype::F32, Dtype::F32);
      vec.unary(UnOp::Rsqrt, {ln_.var, 4}, {ln_.var, 4}, nr, 1, Dtype::F32,
                Dtype::F32);
      vec.binary(BinOp::Mul, Bcast::Col, t1, t1, {ln_.var, 4}, nr, H_,
                 Dtype::F32, Dtype::F32);
      vec.unary(UnOp::Copy, {ln_.gf, ldf}, {ln_.g, ld}, 1, H_, Dtype::F32,
                Dtype::BF16);
      vec.unary(UnOp::Copy, {ln_.bf, ldf}, {ln_.b, ld}, 1, H_, Dtype::F32,
                Dtype::BF16);
      vec.binary(BinOp::Mul, Bcast::Row, t1, t1, {ln_.gf, 0}, nr, H_,
                 Dtype::F32, Dtype::F32);
      vec.binary(BinOp::Add, Bcast::Row, {ln_.out, ld}, t1, {ln_.bf, 0}, nr, H_,
                 Dtype::BF16, Dtype::F32);
      vec.signal(23);
      dma.wait(23);
      dma.dma(copy2d({Space::Sram, ln_.out}, ld, {out.space, out.addr + row0},
                     ld, nr, ld));
    }
    barrierAll();
  }

  struct Slot {
    uint64_t q, k, kt, v, sc, p, ctx, mx, sum, rcp;
  };
  struct LnBufs {
    uint64_t xa, xr, t1, t2, g, b, gf, bf, mu, var, out;
  };

  const target::Target &t_;
  BertConfig c_;
  unsigned P_, S_, H_, NH_, DH_, F_;
  unsigned kc_ = 256;
  unsigned ntMax_ = 0;
  SramPlan sram_;
  ProgramBuilder pb_;
  BertLayout lay_;
  Space actSpace_ = Space::Dram;
  uint64_t xs_ = 0, qkv_ = 0, ctx_ = 0, ao_ = 0, l1_ = 0, h1_ = 0, f2_ = 0;
  uint64_t aPad_ = 0;
  uint64_t aRes_ = 0, wbuf_[2] = {0, 0}, outs_ = 0, bias_ = 0, scale_ = 0;
  Slot slot_[2];
  LnBufs ln_;
  unsigned phase_ = 0;
};

} // namespace

Program buildBertLayer(const target::Target &t, const BertConfig &cfg,
                       BertLayout *layout) {
  return Generator(t, cfg).build(layout);
}

} // namespace nuri::examples
