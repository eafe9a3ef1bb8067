//===- Gemm.cpp - Packed, cache-blocked GEMM with run-time ISA choice -----===//
//
// The classic five-loop structure: K in blocks of kKc; B packed once per K
// block into NR-wide panels (shared by all tasks); each task packs its own
// MC x kKc block of A into MR-high panels and walks B panels (outer, so a
// panel stays in L1) by A panels (inner, streaming from L2). Tasks are
// (M block, N chunk) pairs sized so that every thread gets several.
//
//===----------------------------------------------------------------------===//

#include "nuri/cpu/Gemm.h"
#include "GemmInternal.h"
#include "Vector.h"

// GCC 12's AVX-512 headers trip -Wmaybe-uninitialized on their own
// _mm512_undefined_* placeholders.
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#pragma GCC diagnostic ignored "-Wuninitialized"
#include <immintrin.h>
#include <oneapi/tbb/parallel_for.h>
#include <oneapi/tbb/task_arena.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>
#include <type_traits>
#include <vector>

namespace nuri::cpu {
namespace {

constexpr int64_t kKc = 256;

/// b advances by ldb per k: NR for a packed panel, the row stride when the
/// kernel reads a row-major B in place.
using MicroKernel = void (*)(int64_t kc, const float *a, const float *b,
                             int64_t ldb, float *c, int64_t ldc, bool acc,
                             int64_t mr, int64_t nr);

struct KernelInfo {
  const char *name;
  int64_t mr, nr, mc;
  MicroKernel fn;
};

__attribute__((target("avx512f"))) void
kernel8x32(int64_t kc, const float *a, const float *b, int64_t ldb, float *c,
           int64_t ldc, bool acc, int64_t mr, int64_t nr) {
  __m512 c0[8], c1[8];
#pragma GCC unroll 8
  for (int i = 0; i < 8; ++i) {
    c0[i] = _mm512_setzero_ps();
    c1[i] = _mm512_setzero_ps();
  }
  for (int64_t p = 0; p < kc; ++p) {
    __m512 b0 = _mm512_loadu_ps(b);
    __m512 b1 = _mm512_loadu_ps(b + 16);
#pragma GCC unroll 8
    for (int i = 0; i < 8; ++i) {
      __m512 ai = _mm512_set1_ps(a[i]);
      c0[i] = _mm512_fmadd_ps(ai, b0, c0[i]);
      c1[i] = _mm512_fmadd_ps(ai, b1, c1[i]);
    }
    a += 8;
    b += ldb;
  }
  if (mr == 8 && nr == 32) {
#pragma GCC unroll 8
    for (int i = 0; i < 8; ++i) {
      float *ci = c + i * ldc;
      if (acc) {
        c0[i] = _mm512_add_ps(c0[i], _mm512_loadu_ps(ci));
        c1[i] = _mm512_add_ps(c1[i], _mm512_loadu_ps(ci + 16));
      }
      _mm512_storeu_ps(ci, c0[i]);
      _mm512_storeu_ps(ci + 16, c1[i]);
    }
    return;
  }
  auto lanes = [](int64_t k) {
    return k >= 16
               ? __mmask16(0xffff)
               : static_cast<__mmask16>((1u << std::max<int64_t>(k, 0)) - 1);
  };
  __mmask16 m0 = lanes(nr), m1 = lanes(nr - 16);
  // Unrolled so that c0/c1 stay registers in the k loop above.
#pragma GCC unroll 8
  for (int i = 0; i < 8; ++i) {
    if (i >= mr) {
      break;
    }
    float *ci = c + i * ldc;
    if (acc) {
      c0[i] = _mm512_add_ps(c0[i], _mm512_maskz_loadu_ps(m0, ci));
      c1[i] = _mm512_add_ps(c1[i], _mm512_maskz_loadu_ps(m1, ci + 16));
    }
    _mm512_mask_storeu_ps(ci, m0, c0[i]);
    _mm512_mask_storeu_ps(ci + 16, m1, c1[i]);
  }
}

/// Eight B values as fp32: loaded, or widened from bf16 (exact: a bf16 is
/// the upper half of the fp32 with the same value).
__attribute__((target("avx2,fma"))) inline __m256 loadB8(const float *b) {
  return _mm256_loadu_ps(b);
}
__attribute__((target("avx2,fma"))) inline __m256 loadB8(const uint16_t *b) {
  __m128i h = _mm_loadu_si128(reinterpret_cast<const __m128i *>(b));
  return _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_cvtepu16_epi32(h), 16));
}

template <typename BT>
__attribute__((target("avx2,fma"))) void
kernel6x16(int64_t kc, const float *a, const BT *b, int64_t ldb, float *c,
           int64_t ldc, bool acc, int64_t mr, int64_t nr) {
  __m256 c0[6], c1[6];
#pragma GCC unroll 6
  for (int i = 0; i < 6; ++i) {
    c0[i] = _mm256_setzero_ps();
    c1[i] = _mm256_setzero_ps();
  }
  for (int64_t p = 0; p < kc; ++p) {
    __m256 b0 = loadB8(b);
    __m256 b1 = loadB8(b + 8);
#pragma GCC unroll 6
    for (int i = 0; i < 6; ++i) {
      __m256 ai = _mm256_broadcast_ss(a + i);
      c0[i] = _mm256_fmadd_ps(ai, b0, c0[i]);
      c1[i] = _mm256_fmadd_ps(ai, b1, c1[i]);
    }
    a += 6;
    b += ldb;
  }
  if (mr == 6 && nr == 16) {
#pragma GCC unroll 6
    for (int i = 0; i < 6; ++i) {
      float *ci = c + i * ldc;
      if (acc) {
        c0[i] = _mm256_add_ps(c0[i], _mm256_loadu_ps(ci));
        c1[i] = _mm256_add_ps(c1[i], _mm256_loadu_ps(ci + 8));
      }
      _mm256_storeu_ps(ci, c0[i]);
      _mm256_storeu_ps(ci + 8, c1[i]);
    }
    return;
  }
  alignas(32) float tile[6][16];
  // Unrolled so that c0/c1 stay registers in the k loop above.
#pragma GCC unroll 6
  for (int i = 0; i < 6; ++i) {
    _mm256_store_ps(tile[i], c0[i]);
    _mm256_store_ps(tile[i] + 8, c1[i]);
  }
  for (int64_t i = 0; i < mr; ++i) {
    for (int64_t j = 0; j < nr; ++j) {
      c[i * ldc + j] = acc ? c[i * ldc + j] + tile[i][j] : tile[i][j];
    }
  }
}

/// kernel6x16 for the first R rows of its packed A panel only: a GEMV (a
/// decode step's linear, M = 1) would otherwise spend six times the FMAs of
/// the work on padding rows. The same FMAs in the same order per row, so
/// every row's result equals kernel6x16's.
template <int R, typename BT>
__attribute__((target("avx2,fma"))) void
kernelRx16(int64_t kc, const float *a, const BT *b, int64_t ldb, float *c,
           int64_t ldc, bool acc, int64_t nr) {
  __m256 c0[R], c1[R];
  for (int i = 0; i < R; ++i) {
    c0[i] = _mm256_setzero_ps();
    c1[i] = _mm256_setzero_ps();
  }
  for (int64_t p = 0; p < kc; ++p) {
    __m256 b0 = loadB8(b);
    __m256 b1 = loadB8(b + 8);
    for (int i = 0; i < R; ++i) {
      __m256 ai = _mm256_broadcast_ss(a + i);
      c0[i] = _mm256_fmadd_ps(ai, b0, c0[i]);
      c1[i] = _mm256_fmadd_ps(ai, b1, c1[i]);
    }
    a += 6;
    b += ldb;
  }
  alignas(32) float tile[16];
  for (int i = 0; i < R; ++i) {
    float *ci = c + i * ldc;
    if (nr == 16) {
      if (acc) {
        c0[i] = _mm256_add_ps(c0[i], _mm256_loadu_ps(ci));
        c1[i] = _mm256_add_ps(c1[i], _mm256_loadu_ps(ci + 8));
      }
      _mm256_storeu_ps(ci, c0[i]);
      _mm256_storeu_ps(ci + 8, c1[i]);
      continue;
    }
    _mm256_store_ps(tile, c0[i]);
    _mm256_store_ps(tile + 8, c1[i]);
    for (int64_t j = 0; j < nr; ++j) {
      ci[j] = acc ? ci[j] + tile[j] : tile[j];
    }
  }
}

/// The micro-kernel call for an `mr`-row tile: kernel6x16's thin variants
/// for the avx2 kernel's short tiles, the kernel itself otherwise. bf16
/// panels (BT = uint16_t) exist only for the avx2 kernel.
template <typename BT>
void runTile(const KernelInfo &kk, int64_t kc, const float *a, const BT *b,
             float *c, int64_t ldc, bool acc, int64_t mr, int64_t nr) {
  constexpr bool bf16 = std::is_same_v<BT, uint16_t>;
  if ((bf16 || kk.fn == kernel6x16<float>)&&mr < 4) {
    switch (mr) {
    case 1:
      return kernelRx16<1>(kc, a, b, kk.nr, c, ldc, acc, nr);
    case 2:
      return kernelRx16<2>(kc, a, b, kk.nr, c, ldc, acc, nr);
    case 3:
      return kernelRx16<3>(kc, a, b, kk.nr, c, ldc, acc, nr);
    default:
      break;
    }
  }
  if constexpr (bf16) {
    kernel6x16(kc, a, b, kk.nr, c, ldc, acc, mr, nr);
  } else {
    kk.fn(kc, a, b, kk.nr, c, ldc, acc, mr, nr);
  }
}

/// Portable 4x8 kernel for machines without AVX2.
void kernel4x8(int64_t kc, const float *a, const float *b, int64_t ldb,
               float *c, int64_t ldc, bool acc, int64_t mr, int64_t nr) {
  float t[4][8] = {};
  for (int64_t p = 0; p < kc; ++p) {
    for (int i = 0; i < 4; ++i) {
      for (int j = 0; j < 8; ++j) {
        t[i][j] += a[i] * b[j];
      }
    }
    a += 4;
    b += ldb;
  }
  for (int64_t i = 0; i < mr; ++i) {
    for (int64_t j = 0; j < nr; ++j) {
      c[i * ldc + j] = acc ? c[i * ldc + j] + t[i][j] : t[i][j];
    }
  }
}

const KernelInfo &kernel() {
  static const KernelInfo k = [] {
    if (detail::isaLevel() == detail::IsaLevel::Avx512) {
      return KernelInfo{"avx512", 8, 32, 128, kernel8x32};
    }
    if (detail::isaLevel() == detail::IsaLevel::Avx2) {
      return KernelInfo{"avx2", 6, 16, 96, kernel6x16<float>};
    }
    return KernelInfo{"scalar", 4, 8, 64, kernel4x8};
  }();
  return k;
}

struct FreeDeleter {
  void operator()(float *p) const { std::free(p); }
};
using Buffer = std::unique_ptr<float, FreeDeleter>;

Buffer allocate(int64_t floats) {
  size_t bytes =
      (static_cast<size_t>(floats) * sizeof(float) + 63) & ~size_t(63);
  return Buffer(
      static_cast<float *>(std::aligned_alloc(64, bytes ? bytes : 64)));
}

/// A per-thread scratch block that grows and is reused. Only used by code
/// that spawns no tasks while holding it, so a thread never re-enters it.
float *scratch(Buffer &buf, int64_t &capacity, int64_t floats) {
  if (floats > capacity) {
    buf = allocate(floats);
    capacity = floats;
  }
  return buf.get();
}

/// dst[c * dstStride + r] = src[r * srcStride + c] for an 8x8 block: the
/// transposing step of packing, 8 loads and 8 stores instead of 64 of each.
__attribute__((target("avx"))) void transpose8x8(const float *src,
                                                 int64_t srcStride, float *dst,
                                                 int64_t dstStride) {
  __m256 r[8], t[8], u[8];
  for (int i = 0; i < 8; ++i) {
    r[i] = _mm256_loadu_ps(src + i * srcStride);
  }
  for (int i = 0; i < 8; i += 2) {
    t[i] = _mm256_unpacklo_ps(r[i], r[i + 1]);
    t[i + 1] = _mm256_unpackhi_ps(r[i], r[i + 1]);
  }
  for (int i = 0; i < 8; i += 4) {
    u[i] = _mm256_shuffle_ps(t[i], t[i + 2], 0x44);
    u[i + 1] = _mm256_shuffle_ps(t[i], t[i + 2], 0xee);
    u[i + 2] = _mm256_shuffle_ps(t[i + 1], t[i + 3], 0x44);
    u[i + 3] = _mm256_shuffle_ps(t[i + 1], t[i + 3], 0xee);
  }
  for (int i = 0; i < 4; ++i) {
    _mm256_storeu_ps(dst + i * dstStride,
                     _mm256_permute2f128_ps(u[i], u[i + 4], 0x20));
    _mm256_storeu_ps(dst + (i + 4) * dstStride,
                     _mm256_permute2f128_ps(u[i], u[i + 4], 0x31));
  }
}

bool hasAvx() {
  static const bool avx = [] {
    return detail::isaLevel() != detail::IsaLevel::Scalar;
  }();
  return avx;
}

/// Packs rows [i0, i0 + mr) x cols [p0, p0 + kc) of A into one MR-high
/// panel (zero rows past mr), reading A along its contiguous direction.
void packAPanel(const KernelInfo &kk, MatrixRef a, int64_t i0, int64_t mr,
                int64_t p0, int64_t kc, float *dst) {
  if (mr < kk.mr) {
    std::fill(dst, dst + kc * kk.mr, 0.0f);
  }
  if (a.colStride == 1) {
    const float *src = a.data + i0 * a.rowStride + p0;
    int64_t p = 0;
    if (kk.mr == 8 && mr == 8 && hasAvx()) {
      for (; p + 8 <= kc; p += 8) {
        transpose8x8(src + p, a.rowStride, dst + p * 8, 8);
      }
    }
    for (int64_t i = 0; i < mr; ++i) {
      for (int64_t q = p; q < kc; ++q) {
        dst[q * kk.mr + i] = src[i * a.rowStride + q];
      }
    }
    return;
  }
  for (int64_t p = 0; p < kc; ++p) {
    const float *src = a.data + i0 * a.rowStride + (p0 + p) * a.colStride;
    for (int64_t i = 0; i < mr; ++i) {
      dst[p * kk.mr + i] = src[i * a.rowStride];
    }
  }
}

void packBPanel(const KernelInfo &kk, MatrixRef b, int64_t j0, int64_t n,
                int64_t p0, int64_t kc, float *dst) {
  int64_t nr = std::min(kk.nr, n - j0);
  if (b.colStride == 1) {
    for (int64_t p = 0; p < kc; ++p) {
      const float *src = b.data + (p0 + p) * b.rowStride + j0;
      std::memcpy(dst, src, nr * sizeof(float));
      std::fill(dst + nr, dst + kk.nr, 0.0f);
      dst += kk.nr;
    }
    return;
  }
  // Transposed B (rows of B^T contiguous, e.g. keys in q.k^T): 8x8 blocks
  // of columns are transposed into the panel, the rest element by element.
  if (nr < kk.nr) {
    std::fill(dst, dst + kc * kk.nr, 0.0f);
  }
  const float *base = b.data + p0 * b.rowStride + j0 * b.colStride;
  int64_t j = 0;
  if (b.rowStride == 1 && hasAvx()) {
    int64_t pEnd = kc / 8 * 8;
    for (; j + 8 <= nr; j += 8) {
      for (int64_t p = 0; p < pEnd; p += 8) {
        transpose8x8(base + j * b.colStride + p, b.colStride,
                     dst + p * kk.nr + j, kk.nr);
      }
      for (int64_t jj = j; jj < j + 8; ++jj) {
        for (int64_t p = pEnd; p < kc; ++p) {
          dst[p * kk.nr + jj] = base[jj * b.colStride + p];
        }
      }
    }
  }
  for (; j < nr; ++j) {
    const float *src = base + j * b.colStride;
    for (int64_t p = 0; p < kc; ++p) {
      dst[p * kk.nr + j] = src[p * b.rowStride];
    }
  }
}

thread_local Buffer tlA, tlB, tlPanel;
thread_local int64_t tlACap = 0, tlBCap = 0, tlPanelCap = 0;

/// Rows of C for a few rows of A (a decode step's M = 1..4): stream B once,
/// row by row, with no packing and no MR padding. Memory-bound, like the
/// problem.
constexpr int64_t kThinM = 4;
__attribute__((target_clones("avx512f", "avx2", "default"))) void
thinRows(int64_t m, int64_t j0, int64_t j1, int64_t k, MatrixRef a,
         const float *b, int64_t ldb, float *c, int64_t ldc, bool acc) {
  for (int64_t i = 0; i < m; ++i) {
    if (!acc) {
      std::fill(c + i * ldc + j0, c + i * ldc + j1, 0.0f);
    }
  }
  for (int64_t p = 0; p < k; ++p) {
    const float *brow = b + p * ldb;
    for (int64_t i = 0; i < m; ++i) {
      float av = a.data[i * a.rowStride + p * a.colStride];
      float *crow = c + i * ldc;
      for (int64_t j = j0; j < j1; ++j) {
        crow[j] += av * brow[j];
      }
    }
  }
}

} // namespace

const char *gemmKernelName() { return kernel().name; }

namespace {
/// The GEMM driver; `prepacked` (optional) holds all of B packed by
/// packMatrixB, so no B packing happens here.
void sgemmImpl(int64_t m, int64_t n, int64_t k, MatrixRef a, MatrixRef b,
               float *c, int64_t ldc, bool accumulate, bool parallel,
               const float *prepacked,
               const uint16_t *prepackedBf16 = nullptr) {
  if (m <= 0 || n <= 0) {
    return;
  }
  if (k <= 0) {
    if (!accumulate) {
      for (int64_t i = 0; i < m; ++i) {
        std::fill(c + i * ldc, c + i * ldc + n, 0.0f);
      }
    }
    return;
  }
  const KernelInfo &kk = kernel();
  int threads = parallel ? tbb::this_task_arena::max_concurrency() : 1;
  // Below ~1 MFLOP the task overhead outweighs the second core.
  if (threads <= 1 || 2.0 * m * n * k < 2e6) {
    parallel = false;
    threads = 1;
  }
  bool havePacked = prepacked || prepackedBf16;
  if (m <= kThinM && b.colStride == 1 && !havePacked) {
    // Column chunks of 512 keep the C rows in L1 while B streams past.
    constexpr int64_t kChunk = 512;
    int64_t chunks = (n + kChunk - 1) / kChunk;
    auto chunk = [&](int64_t t) {
      int64_t j0 = t * kChunk, j1 = std::min(n, j0 + kChunk);
      thinRows(m, j0, j1, k, a, b.data, b.rowStride, c, ldc, accumulate);
    };
    if (parallel && chunks > 1) {
      tbb::parallel_for(int64_t(0), chunks, chunk);
    } else {
      for (int64_t t = 0; t < chunks; ++t) {
        chunk(t);
      }
    }
    return;
  }
  int64_t nPanels = (n + kk.nr - 1) / kk.nr;
  int64_t mPanels = (m + kk.mr - 1) / kk.mr;
  int64_t mBlocks = (m + kk.mc - 1) / kk.mc;
  int64_t chunkPanels = nPanels;
  if (parallel) {
    int64_t want = 4 * threads;
    int64_t nChunks =
        std::clamp<int64_t>((want + mBlocks - 1) / mBlocks, 1, nPanels);
    chunkPanels = (nPanels + nChunks - 1) / nChunks;
  }
  int64_t nChunks = (nPanels + chunkPanels - 1) / chunkPanels;
  int64_t kcMax = std::min(kKc, k);
  // Both operands are packed once per K block, so no task repeats another's
  // packing; the packed A of all M rows is reused by every N chunk.
  // (With a prepacked weight and one M block, A is packed for all of K.)
  bool allK = havePacked && mBlocks == 1;
  int64_t aFloats = (allK ? k : kcMax) * mPanels * kk.mr;
  // With a single M block every B panel is used by exactly one task: that
  // task packs it right before use, so the panel stays in L1 instead of a
  // whole packed B (megabytes for a weight matrix) going out to L3 and
  // back (1-3% faster on 128x3072x768, and no B-sized buffer). With more M
  // blocks, B is packed once up front and shared.
  bool fuseB = mBlocks == 1 && !havePacked;
  int64_t bFloats = fuseB || havePacked ? 0 : kcMax * nPanels * kk.nr;
  Buffer ownA, ownB;
  float *ap = parallel ? (ownA = allocate(aFloats)).get()
                       : scratch(tlA, tlACap, aFloats);
  float *bp = parallel ? (ownB = allocate(bFloats)).get()
                       : scratch(tlB, tlBCap, bFloats);
  int64_t mPanelsPerBlock = kk.mc / kk.mr;
  if (allK) {
    // One M block against a prepacked weight (a dense layer at M <= mc):
    // A is packed for every K block at once and each task runs all K
    // blocks of its N chunk, so a C tile stays in L1 across K blocks and
    // there are two parallel loops per GEMM instead of two per K block.
    // The sums run in the same order as below, so results are identical.
    // Generic over the panels' element type: fp32, or bf16 widened by the
    // micro-kernel.
    auto runAllK = [&](const auto *packedB) {
      float *apAll = ap;
      int64_t kBlocks = (k + kKc - 1) / kKc;
      auto packAll = [&](int64_t t) {
        int64_t p0 = (t / mPanels) * kKc, ip = t % mPanels;
        int64_t kc = std::min(kKc, k - p0), i0 = ip * kk.mr;
        packAPanel(kk, a, i0, std::min(kk.mr, m - i0), p0, kc,
                   apAll + p0 * mPanels * kk.mr + ip * kc * kk.mr);
      };
      auto panelOf = [&](int64_t jp, int64_t p0) {
        int64_t kc = std::min(kKc, k - p0);
        return packedB + p0 * nPanels * kk.nr + jp * kc * kk.nr;
      };
      // A GEMV-like product (one row panel: a decode step's linear) is
      // bound by reading B once. A K block's panels are contiguous, so
      // walking the task's panels K block by K block is one sequential
      // stream per block, which the hardware prefetcher follows at full
      // bandwidth; panel by panel it restarts a short stream every kc rows.
      // Each C tile still sums its K blocks in order: the same results.
      auto streamThin = [&](int64_t jBegin, int64_t jEnd) {
        for (int64_t p0 = 0; p0 < k; p0 += kKc) {
          int64_t kc = std::min(kKc, k - p0);
          bool acc = accumulate || p0 > 0;
          const float *apk = apAll + p0 * mPanels * kk.mr;
          for (int64_t jp = jBegin; jp < jEnd; ++jp) {
            int64_t j0 = jp * kk.nr, nr = std::min(kk.nr, n - j0);
            runTile(kk, kc, apk, panelOf(jp, p0), c + j0, ldc, acc, m, nr);
          }
        }
      };
      auto taskAll = [&](int64_t nc) {
        int64_t jBegin = nc * chunkPanels;
        int64_t jEnd = std::min(nPanels, jBegin + chunkPanels);
        if (mPanels == 1 && m < 4) {
          return streamThin(jBegin, jEnd);
        }
        for (int64_t jp = jBegin; jp < jEnd; ++jp) {
          int64_t j0 = jp * kk.nr, nr = std::min(kk.nr, n - j0);
          for (int64_t p0 = 0; p0 < k; p0 += kKc) {
            int64_t kc = std::min(kKc, k - p0);
            const auto *bpanel = panelOf(jp, p0);
            // The weight comes from DRAM (a model's weights do not stay in
            // cache between runs): the next panel is prefetched in slices
            // spread over the row panels (into L1: measured 1-3% faster
            // than into L2 on bert-base and gpt2-small).
            const auto *nextPanel =
                p0 + kKc < k ? panelOf(jp, p0 + kKc)
                             : (jp + 1 < jEnd ? panelOf(jp + 1, 0) : nullptr);
            int64_t nextKc =
                p0 + kKc < k ? std::min(kKc, k - p0 - kKc) : std::min(kKc, k);
            const char *next = reinterpret_cast<const char *>(nextPanel);
            int64_t lines = nextKc * kk.nr * int64_t(sizeof(*packedB)) / 64;
            int64_t slice = (lines + mPanels - 1) / mPanels;
            int64_t line = 0;
            bool acc = accumulate || p0 > 0;
            const float *apk = apAll + p0 * mPanels * kk.mr;
            for (int64_t ip = 0; ip < mPanels; ++ip) {
              int64_t i = ip * kk.mr, mr = std::min(kk.mr, m - i);
              runTile(kk, kc, apk + ip * kk.mr * kc, bpanel, c + i * ldc + j0,
                      ldc, acc, mr, nr);
              for (int64_t e = std::min(lines, line + slice); next && line < e;
                   ++line) {
                _mm_prefetch(next + line * 64, _MM_HINT_T0);
              }
            }
          }
        }
      };
      if (parallel) {
        tbb::parallel_for(int64_t(0), kBlocks * mPanels, packAll);
        tbb::parallel_for(int64_t(0), nChunks, taskAll);
      } else {
        for (int64_t t = 0; t < kBlocks * mPanels; ++t) {
          packAll(t);
        }
        for (int64_t t = 0; t < nChunks; ++t) {
          taskAll(t);
        }
      }
    };
    if (prepackedBf16) {
      runAllK(prepackedBf16);
    } else {
      runAllK(prepacked);
    }
    return;
  }
  for (int64_t p0 = 0; p0 < k; p0 += kKc) {
    int64_t kc = std::min(kKc, k - p0);
    bool acc = accumulate || p0 > 0;
    auto pack = [&](int64_t t) {
      if (t < mPanels) {
        int64_t i0 = t * kk.mr;
        packAPanel(kk, a, i0, std::min(kk.mr, m - i0), p0, kc,
                   ap + t * kc * kk.mr);
      } else {
        int64_t jp = t - mPanels;
        if (!fuseB && !prepacked) {
          packBPanel(kk, b, jp * kk.nr, n, p0, kc, bp + jp * kc * kk.nr);
        }
      }
    };
    auto task = [&](int64_t t) {
      int64_t mb = t / nChunks, nc = t % nChunks;
      int64_t ipBegin = mb * mPanelsPerBlock;
      int64_t ipEnd = std::min(mPanels, ipBegin + mPanelsPerBlock);
      int64_t jEnd = std::min(nPanels, (nc + 1) * chunkPanels);
      for (int64_t jp = nc * chunkPanels; jp < jEnd; ++jp) {
        int64_t j0 = jp * kk.nr, nr = std::min(kk.nr, n - j0);
        // Reading a row-major B in place (ldb = its row stride) was tried:
        // it loses up to 25% when the stride is a multiple of 4 KiB (cache
        // set conflicts), so B is always packed.
        const float *bpanel;
        if (fuseB) {
          float *panel = scratch(tlPanel, tlPanelCap, kc * kk.nr);
          packBPanel(kk, b, j0, n, p0, kc, panel);
          bpanel = panel;
        } else if (prepacked) {
          // Prepacked K blocks lie one after another, each kc x all panels.
          bpanel = prepacked + p0 * nPanels * kk.nr + jp * kc * kk.nr;
        } else {
          bpanel = bp + jp * kc * kk.nr;
        }
        int64_t ldb = kk.nr;
        // A prepacked weight comes from DRAM (a model's weights do not stay
        // in cache between runs): while this panel is in use, the next one
        // is prefetched in slices spread over the row panels (into L1:
        // measured 1-3% faster than into L2 on bert-base and gpt2-small).
        const char *next =
            prepacked && jp + 1 < jEnd
                ? reinterpret_cast<const char *>(bpanel + kc * kk.nr)
                : nullptr;
        int64_t lines = kc * kk.nr * int64_t(sizeof(float)) / 64;
        int64_t slice = (lines + (ipEnd - ipBegin) - 1) /
                        std::max<int64_t>(ipEnd - ipBegin, 1);
        int64_t line = 0;
        for (int64_t ip = ipBegin; ip < ipEnd; ++ip) {
          int64_t i = ip * kk.mr, mr = std::min(kk.mr, m - i);
          kk.fn(kc, ap + ip * kk.mr * kc, bpanel, ldb, c + i * ldc + j0, ldc,
                acc, mr, nr);
          for (int64_t e = std::min(lines, line + slice); next && line < e;
               ++line) {
            _mm_prefetch(next + line * 64, _MM_HINT_T0);
          }
        }
      }
    };
    if (parallel) {
      tbb::parallel_for(int64_t(0),
                        mPanels + (fuseB || prepacked ? 0 : nPanels), pack);
      tbb::parallel_for(int64_t(0), mBlocks * nChunks, task);
    } else {
      for (int64_t t = 0; t < mPanels + (fuseB || prepacked ? 0 : nPanels);
           ++t) {
        pack(t);
      }
      for (int64_t t = 0; t < mBlocks * nChunks; ++t) {
        task(t);
      }
    }
  }
}
} // namespace

void sgemm(int64_t m, int64_t n, int64_t k, MatrixRef a, MatrixRef b, float *c,
           int64_t ldc, bool accumulate, bool parallel) {
  sgemmImpl(m, n, k, a, b, c, ldc, accumulate, parallel, nullptr);
}

PackedMatrix packMatrixB(int64_t k, int64_t n, MatrixRef b,
                         bool bValuesAreBf16) {
  const KernelInfo &kk = kernel();
  PackedMatrix p;
  p.k = k;
  p.n = n;
  p.kernel = kk.name;
  int64_t nPanels = (n + kk.nr - 1) / kk.nr;
  p.data.resize(static_cast<size_t>(std::max<int64_t>(k, 0) * nPanels * kk.nr));
  tbb::parallel_for(int64_t(0), (k + kKc - 1) / kKc * nPanels, [&](int64_t t) {
    int64_t p0 = t / nPanels * kKc, jp = t % nPanels;
    int64_t kc = std::min(kKc, k - p0);
    packBPanel(kk, b, jp * kk.nr, n, p0, kc,
               p.data.data() + p0 * nPanels * kk.nr + jp * kc * kk.nr);
  });
  if (bValuesAreBf16 && kk.fn == kernel6x16<float>) {
    // Truncation is exact: every value is a bf16 value.
    p.bf16.resize(p.data.size());
    const auto *bits = reinterpret_cast<const uint32_t *>(p.data.data());
    for (size_t i = 0; i < p.data.size(); ++i) {
      p.bf16[i] = static_cast<uint16_t>(bits[i] >> 16);
    }
    p.data = std::vector<float>();
  }
  return p;
}

void sgemmPrepacked(int64_t m, int64_t n, int64_t k, MatrixRef a, MatrixRef b,
                    const PackedMatrix &packed, float *c, int64_t ldc,
                    bool accumulate, bool parallel) {
  const KernelInfo &kk = kernel();
  bool usable =
      packed.k == k && packed.n == n && std::string(packed.kernel) == kk.name;
  if (usable && !packed.bf16.empty()) {
    // bf16 panels are read by the one-M-block driver; a long prefill runs
    // it per block of rows (each block reads the weight once, as the fp32
    // driver's M blocks do).
    for (int64_t i0 = 0; i0 < m; i0 += kk.mc) {
      MatrixRef rows{a.data + i0 * a.rowStride, a.rowStride, a.colStride};
      sgemmImpl(std::min(kk.mc, m - i0), n, k, rows, b, c + i0 * ldc, ldc,
                accumulate, parallel, nullptr, packed.bf16.data());
    }
    return;
  }
  sgemmImpl(m, n, k, a, b, c, ldc, accumulate, parallel,
            usable ? packed.data.data() : nullptr);
}

namespace detail {

int64_t packedASize(int64_t m, int64_t k) {
  const KernelInfo &kk = kernel();
  return (m + kk.mr - 1) / kk.mr * kk.mr * k;
}

int64_t packedBSize(int64_t k, int64_t n) {
  const KernelInfo &kk = kernel();
  return (n + kk.nr - 1) / kk.nr * kk.nr * k;
}

void packA(MatrixRef a, int64_t m, int64_t k, float *dst) {
  const KernelInfo &kk = kernel();
  for (int64_t i0 = 0; i0 < m; i0 += kk.mr) {
    packAPanel(kk, a, i0, std::min(kk.mr, m - i0), 0, k, dst + i0 * k);
  }
}

void packB(MatrixRef b, int64_t k, int64_t n, float *dst) {
  const KernelInfo &kk = kernel();
  for (int64_t j0 = 0; j0 < n; j0 += kk.nr) {
    packBPanel(kk, b, j0, n, 0, k, dst + j0 * k);
  }
}

void gemmPacked(int64_t m, int64_t n, int64_t k, const float *ap,
                const float *bp, int64_t bK, float *c, int64_t ldc,
                bool accumulate) {
  const KernelInfo &kk = kernel();
  for (int64_t j0 = 0; j0 < n; j0 += kk.nr) {
    int64_t nr = std::min(kk.nr, n - j0);
    for (int64_t i0 = 0; i0 < m; i0 += kk.mr) {
      kk.fn(k, ap + i0 * k, bp + j0 * bK, kk.nr, c + i0 * ldc + j0, ldc,
            accumulate, std::min(kk.mr, m - i0), nr);
    }
  }
}

void igemmExactF32(int64_t m, int64_t n, int64_t k, const float *a,
                   const float *b, int64_t maxProduct, int32_t *c,
                   bool accumulate) {
  if (!accumulate) {
    std::fill(c, c + m * n, 0);
  }
  if (m <= 0 || n <= 0 || k <= 0) {
    return;
  }
  int64_t slice = maxProduct <= 0
                      ? k
                      : std::max<int64_t>(1, (int64_t(1) << 24) / maxProduct);
  std::vector<float> part(m * n);
  auto *uc = reinterpret_cast<uint32_t *>(c);
  for (int64_t p0 = 0; p0 < k; p0 += slice) {
    int64_t kc = std::min(slice, k - p0);
    sgemm(m, n, kc, MatrixRef{a + p0, k, 1}, MatrixRef{b + p0 * n, n, 1},
          part.data(), n, false);
    // Exact slice sums add in wrapping int32, as the NPU's accumulators.
    for (int64_t i = 0; i < m * n; ++i) {
      uc[i] += static_cast<uint32_t>(static_cast<int32_t>(part[i]));
    }
  }
}

} // namespace detail

namespace {
__attribute__((target_clones("avx512f", "avx2", "default"))) void
igemmRow(int64_t n, int64_t k, const int32_t *a, const int32_t *b, int32_t *c) {
  // Unsigned arithmetic: overflow wraps (defined), as int32 hardware does.
  auto *uc = reinterpret_cast<uint32_t *>(c);
  for (int64_t p = 0; p < k; ++p) {
    uint32_t av = static_cast<uint32_t>(a[p]);
    const auto *ub = reinterpret_cast<const uint32_t *>(b + p * n);
    for (int64_t j = 0; j < n; ++j) {
      uc[j] += av * ub[j];
    }
  }
}

int64_t maxAbs(const int32_t *v, int64_t n) {
  int64_t m = 0;
  for (int64_t i = 0; i < n; ++i) {
    m = std::max<int64_t>(m, v[i] < 0 ? -int64_t(v[i]) : v[i]);
  }
  return m;
}
} // namespace

void igemm(int64_t m, int64_t n, int64_t k, const int32_t *a, const int32_t *b,
           int32_t *c, bool accumulate) {
  if (!accumulate) {
    std::fill(c, c + m * n, 0);
  }
  if (m <= 0 || n <= 0 || k <= 0) {
    return;
  }
  // fp32 holds every integer up to 2^24 exactly, so a product over a K
  // slice whose partial sums stay below 2^24 in magnitude is exact on the
  // fp32 GEMM, in any summation order (detail::igemmExactF32). Wide
  // integers fall back to the int32 loop.
  int64_t maxProduct = maxAbs(a, m * k) * maxAbs(b, k * n);
  int64_t slice = maxProduct == 0 ? k : (int64_t(1) << 24) / maxProduct;
  if (slice >= 64 || slice >= k) {
    std::vector<float> fa(a, a + m * k), fb(b, b + k * n);
    detail::igemmExactF32(m, n, k, fa.data(), fb.data(), maxProduct, c, true);
    return;
  }
  auto rows = [&](int64_t i) { igemmRow(n, k, a + i * k, b, c + i * n); };
  if (2.0 * m * n * k < 2e6) {
    for (int64_t i = 0; i < m; ++i) {
      rows(i);
    }
  } else {
    tbb::parallel_for(int64_t(0), m, rows);
  }
}

} // namespace nuri::cpu
