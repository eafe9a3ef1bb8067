//===- Quantize.h - Calibration and post-training quantization --*- C++ -*-===//
//
// `nuri compile --quantize int8|w8a16|w4a16 --calibration DIR`: the float model
// is compiled for the CPU with the input of every quantizable linear as an
// extra output and run over the calibration sets; per layer, running
// min/max, per-channel |max| (for SmoothQuant) and a histogram (for the
// percentile, entropy and mse methods) are updated from each run and the
// activations dropped. The statistics go to a calibration cache (JSON) that a
// recompile reads instead of calibrating again. The graph passes
// nuri-smooth-quant and nuri-quantize then rewrite the model
// (docs/quantization.md).
//
//===----------------------------------------------------------------------===//

#ifndef NURI_DRIVER_QUANTIZE_H
#define NURI_DRIVER_QUANTIZE_H

#include "nuri/Driver/Compile.h"

#include <map>
#include <memory>

namespace nuri::driver {

/// A histogram of values over [-range, range] in a fixed number of bins; the
/// range doubles (merging bin pairs) when a value falls outside, so it never
/// needs the data twice.
struct Histogram {
  static constexpr int kBins = 2048;
  double range = 0; ///< 0: empty
  std::vector<uint64_t> counts;
  void add(const float *values, size_t n, float absMax);
  /// The value below which `fraction` of the samples lie (bin edges).
  double quantile(double fraction) const;
  uint64_t total() const;
};

/// What calibration found for the input of one linear.
struct LayerStats {
  double min = 0, max = 0;
  bool seen = false;
  /// |max| per input channel of the float model before SmoothQuant.
  std::vector<float> channelAbsMax;
  Histogram histogram;
};

struct CalibrationTable {
  /// SmoothQuant alpha the min/max/histogram were measured under; nullopt:
  /// none.
  std::optional<double> smoothAlpha;
  int64_t sets = 0;
  std::string source; ///< what was calibrated on (folder, file or cache)
  std::map<std::string, LayerStats> layers;
};

/// The activation range [lo, hi] (always holding 0) for uint8 quantization
/// that `method` chooses from a layer's statistics: "minmax" (the observed
/// range), "percentile" (`percentile` percent of the values inside), or,
/// over candidate clippings of each end of the histogram, "entropy" (the
/// least KL divergence between the histogram and its 256-level quantized
/// form, TensorRT's criterion) or "mse" (the least expected squared error,
/// rounding inside the range plus clipping outside).
std::pair<double, double> chooseActivationRange(const LayerStats &s,
                                                const std::string &method,
                                                double percentile);

/// Reads a calibration cache; the error names the file and what is wrong.
llvm::Expected<CalibrationTable> readCalibrationCache(const std::string &path);
/// Writes it; the error names the file.
llvm::Error writeCalibrationCache(const std::string &path,
                                  const CalibrationTable &table,
                                  const std::string &model);

/// Calibrates (or reads the cache) as `options.quantize` asks and returns
/// options whose afterGraphPasses hook quantizes each compiled module the
/// same way. Fails after a diagnostic at `path`.
mlir::FailureOr<CompileOptions>
prepareQuantization(mlir::MLIRContext &context, const std::string &path,
                    const OnnxImportOptions &importOptions,
                    const CompileOptions &options);

} // namespace nuri::driver

#endif // NURI_DRIVER_QUANTIZE_H
