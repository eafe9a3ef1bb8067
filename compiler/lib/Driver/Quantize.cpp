//===- Quantize.cpp - Calibration for `nuri compile --quantize` -----------===//
//
// Calibration runs the float model on the runtime's CPU device, one input
// set at a time, with the input of every linear that will be quantized as an
// extra output, and folds each run into per-layer statistics: min/max, |max|
// per input channel, a histogram. No activation outlives its run, so memory
// is the model plus one set's intermediates however many sets there are.
// With SmoothQuant there are two rounds: the first measures the per-channel
// |max| that sets the smoothing factors, the second the ranges of the
// smoothed activations, which are what int8 quantizes.
//
//===----------------------------------------------------------------------===//

#include "nuri/Driver/Quantize.h"

#include "nuri/Dialect/Nuri/Transforms/Passes.h"
#include "nuri/Dialect/Nuri/Transforms/Quantization.h"
#include "nuri/npy/Npy.h"
#include "nuri/runtime.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/Diagnostics.h"
#include "mlir/Pass/PassManager.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/FormatVariadic.h"
#include "llvm/Support/JSON.h"
#include "llvm/Support/MemoryBuffer.h"
#include "llvm/Support/Path.h"
#include "llvm/Support/raw_ostream.h"

#include <algorithm>
#include <cmath>
#include <cstring>

using namespace mlir;

namespace nuri::driver {

//===----------------------------------------------------------------------===//
// Histogram
//===----------------------------------------------------------------------===//

void Histogram::add(const float *values, size_t n, float absMax) {
  if (n == 0) {
    return;
  }
  if (counts.empty()) {
    counts.assign(kBins, 0);
    // A power of two, so that doubling keeps the edges exact.
    range = std::ldexp(1.0,
                       std::max(-40, std::ilogb(std::max(absMax, 1e-12f)) + 1));
  }
  while (absMax > range) {
    // Bin j of [-R, R] lies in bin kBins/4 + j/2 of [-2R, 2R].
    std::vector<uint64_t> merged(kBins, 0);
    for (int j = 0; j < kBins; ++j) {
      merged[kBins / 4 + j / 2] += counts[j];
    }
    counts = std::move(merged);
    range *= 2;
  }
  double scale = kBins / (2 * range);
  for (size_t i = 0; i < n; ++i) {
    int bin = static_cast<int>((double(values[i]) + range) * scale);
    counts[std::clamp(bin, 0, kBins - 1)] += 1;
  }
}

uint64_t Histogram::total() const {
  uint64_t t = 0;
  for (uint64_t c : counts) {
    t += c;
  }
  return t;
}

double Histogram::quantile(double fraction) const {
  uint64_t t = total();
  if (t == 0) {
    return 0;
  }
  double want = fraction * double(t), seen = 0;
  double width = 2 * range / kBins;
  for (int j = 0; j < kBins; ++j) {
    seen += double(counts[j]);
    if (seen >= want) {
      // The upper edge for the top of the range, the lower one below zero:
      // either way the chosen range holds the quantile.
      return fraction >= 0.5 ? -range + (j + 1) * width : -range + j * width;
    }
  }
  return range;
}

//===----------------------------------------------------------------------===//
// Activation ranges
//===----------------------------------------------------------------------===//

namespace {

/// Candidate clippings of one end of the histogram: bin edges from the
/// outermost occupied edge `outer` towards the zero edge `zero`, spaced
/// geometrically (fine near the observed end, where the choice matters).
std::vector<int> clipEdges(int outer, int zero) {
  std::vector<int> edges;
  int span = std::abs(outer - zero);
  if (span == 0) {
    return {zero};
  }
  int dir = outer > zero ? 1 : -1;
  for (double f = 1.0; f > 0.02; f *= 0.94) {
    int e = zero + dir * std::max(1, int(std::lround(f * span)));
    if (edges.empty() || edges.back() != e) {
      edges.push_back(e);
    }
  }
  return edges;
}

constexpr int kLevels = 256; // uint8 activations

/// Expected squared error of quantizing the histogram to kLevels levels
/// over [lo, hi] (bin centers stand for their values).
double quantizationMse(const Histogram &h, double lo, double hi) {
  double width = 2 * h.range / Histogram::kBins;
  double step = (hi - lo) / (kLevels - 1), rounding = step * step / 12;
  double sum = 0;
  for (int j = 0; j < Histogram::kBins; ++j) {
    if (!h.counts[j]) {
      continue;
    }
    double c = -h.range + (j + 0.5) * width;
    double e = c < lo   ? (lo - c) * (lo - c)
               : c > hi ? (c - hi) * (c - hi)
                        : rounding;
    sum += double(h.counts[j]) * e;
  }
  return sum;
}

/// KL(P || Q), TensorRT's calibration criterion: P is the histogram clipped
/// to bins [a, b), the clipped tails added to its end bins; Q is the
/// kLevels-level quantization of the bins inside (without the tails), each
/// level's mass spread over its occupied bins. So clipping costs the mass it
/// moves and a wide range the resolution it loses. Needs b - a >= kLevels.
double quantizationKl(const Histogram &h, int a, int b) {
  const std::vector<uint64_t> &n = h.counts;
  int m = b - a;
  std::vector<double> p(n.begin() + a, n.begin() + b);
  for (int j = 0; j < a; ++j) {
    p.front() += double(n[j]);
  }
  for (int j = b; j < Histogram::kBins; ++j) {
    p.back() += double(n[j]);
  }
  std::vector<double> levelMass(kLevels, 0), levelBins(kLevels, 0);
  double pTotal = 0, qTotal = 0;
  for (int i = 0; i < m; ++i) {
    int level = int(int64_t(i) * kLevels / m);
    levelMass[level] += double(n[a + i]);
    levelBins[level] += n[a + i] > 0;
    pTotal += p[i];
    qTotal += double(n[a + i]);
  }
  // A bin P holds and Q does not (a clipped tail landing on an empty end
  // bin) gets a small floor instead of an infinite divergence, as ONNX
  // Runtime's entropy calibrator smooths it.
  constexpr double kFloor = 1e-8;
  double kl = 0;
  for (int i = 0; i < m; ++i) {
    if (p[i] > 0) {
      int level = int(int64_t(i) * kLevels / m);
      double q = n[a + i] ? levelMass[level] / levelBins[level] / qTotal : 0;
      double pn = p[i] / pTotal;
      kl += pn * std::log(pn / std::max(q, kFloor));
    }
  }
  return kl;
}

} // namespace

std::pair<double, double> chooseActivationRange(const LayerStats &s,
                                                const std::string &method,
                                                double percentile) {
  double lo = std::min(s.min, 0.0), hi = std::max(s.max, 0.0);
  const Histogram &h = s.histogram;
  if (method == "minmax" || !h.total()) {
    return {lo, hi};
  }
  if (method == "percentile") {
    double tail = (100.0 - percentile) / 100.0;
    return {std::min(0.0, std::max(lo, h.quantile(tail))),
            std::max(0.0, std::min(hi, h.quantile(1.0 - tail)))};
  }
  // Bin edges: edge e is the value -range + e * width; 0 is the middle one.
  const int zero = Histogram::kBins / 2;
  double width = 2 * h.range / Histogram::kBins;
  int first = 0, last = Histogram::kBins - 1;
  while (!h.counts[first]) {
    ++first;
  }
  while (!h.counts[last]) {
    --last;
  }
  std::vector<int> lows = clipEdges(std::min(first, zero), zero);
  std::vector<int> highs = clipEdges(std::max(last + 1, zero), zero);
  // The outermost candidate is the observed range itself, not its bin edge.
  auto value = [&](int edge, bool low) {
    double v = -h.range + edge * width;
    return low ? std::max(v, lo) : std::min(v, hi);
  };
  double best = INFINITY;
  std::pair<double, double> chosen{lo, hi};
  for (int a : lows) {
    for (int b : highs) {
      double cost;
      if (method == "mse") {
        cost = quantizationMse(h, value(a, true), value(b, false));
      } else if (b - a >= kLevels) {
        cost = quantizationKl(h, a, b);
      } else {
        continue; // finer than the histogram: KL cannot tell ranges apart
      }
      if (cost < best) {
        best = cost;
        chosen = {value(a, true), value(b, false)};
      }
    }
  }
  return chosen;
}

//===----------------------------------------------------------------------===//
// Calibration cache (JSON)
//===----------------------------------------------------------------------===//

llvm::Error writeCalibrationCache(const std::string &path,
                                  const CalibrationTable &table,
                                  const std::string &model) {
  llvm::json::Object layers;
  for (const auto &[key, s] : table.layers) {
    llvm::json::Object layer;
    layer["min"] = s.min;
    layer["max"] = s.max;
    llvm::json::Array channels;
    for (float v : s.channelAbsMax) {
      channels.push_back(double(v));
    }
    layer["channel_absmax"] = std::move(channels);
    llvm::json::Object hist;
    hist["range"] = s.histogram.range;
    llvm::json::Array counts;
    for (uint64_t c : s.histogram.counts) {
      counts.push_back(int64_t(c));
    }
    hist["counts"] = std::move(counts);
    layer["histogram"] = std::move(hist);
    layers[key] = std::move(layer);
  }
  llvm::json::Object root;
  root["format"] = "nuri-calibration";
  root["version"] = 1;
  root["model"] = model;
  root["sets"] = table.sets;
  root["source"] = table.source;
  root["smoothquant_alpha"] = table.smoothAlpha
                                  ? llvm::json::Value(*table.smoothAlpha)
                                  : llvm::json::Value(nullptr);
  root["layers"] = std::move(layers);
  std::error_code ec;
  llvm::raw_fd_ostream os(path, ec);
  if (ec) {
    return llvm::createStringError(ec,
                                   "cannot write the calibration cache "
                                   "'%s': %s",
                                   path.c_str(), ec.message().c_str());
  }
  os << llvm::formatv("{0:2}", llvm::json::Value(std::move(root))) << "\n";
  return llvm::Error::success();
}

llvm::Expected<CalibrationTable> readCalibrationCache(const std::string &path) {
  auto corrupt = [&](const std::string &why) {
    return llvm::createStringError(
        std::errc::invalid_argument,
        "calibration cache '%s' is corrupt: %s (delete it to calibrate again)",
        path.c_str(), why.c_str());
  };
  auto buffer = llvm::MemoryBuffer::getFile(path);
  if (!buffer) {
    return llvm::createStringError(
        buffer.getError(), "cannot read the calibration cache '%s': %s",
        path.c_str(), buffer.getError().message().c_str());
  }
  llvm::Expected<llvm::json::Value> parsed =
      llvm::json::parse((*buffer)->getBuffer());
  if (!parsed) {
    return corrupt(llvm::toString(parsed.takeError()));
  }
  const llvm::json::Object *root = parsed->getAsObject();
  if (!root || root->getString("format") != "nuri-calibration") {
    return corrupt("not a nuri calibration cache (no \"format\": "
                   "\"nuri-calibration\")");
  }
  if (root->getInteger("version") != 1) {
    return corrupt("unsupported version (expected 1)");
  }
  CalibrationTable table;
  table.sets = root->getInteger("sets").value_or(0);
  table.source = "cache " + path;
  if (std::optional<double> a = root->getNumber("smoothquant_alpha")) {
    table.smoothAlpha = *a;
  }
  const llvm::json::Object *layers = root->getObject("layers");
  if (!layers) {
    return corrupt("no \"layers\" object");
  }
  for (const auto &[key, value] : *layers) {
    const llvm::json::Object *layer = value.getAsObject();
    std::string k = key.str();
    if (!layer) {
      return corrupt("layer '" + k + "' is not an object");
    }
    LayerStats s;
    std::optional<double> lo = layer->getNumber("min"),
                          hi = layer->getNumber("max");
    if (!lo || !hi || !(*lo <= *hi)) {
      return corrupt("layer '" + k + "' has no valid \"min\" <= \"max\"");
    }
    s.min = *lo;
    s.max = *hi;
    s.seen = true;
    const llvm::json::Array *channels = layer->getArray("channel_absmax");
    if (!channels) {
      return corrupt("layer '" + k + "' has no \"channel_absmax\" array");
    }
    for (const llvm::json::Value &v : *channels) {
      std::optional<double> d = v.getAsNumber();
      if (!d || *d < 0) {
        return corrupt(
            "layer '" + k +
            "' has a channel_absmax entry that is not a number >= 0");
      }
      s.channelAbsMax.push_back(static_cast<float>(*d));
    }
    const llvm::json::Object *hist = layer->getObject("histogram");
    const llvm::json::Array *counts = hist ? hist->getArray("counts") : nullptr;
    std::optional<double> range =
        hist ? hist->getNumber("range") : std::nullopt;
    if (!counts || !range ||
        (counts->size() != 0 && counts->size() != size_t(Histogram::kBins))) {
      return corrupt("layer '" + k + "' has no histogram of " +
                     std::to_string(Histogram::kBins) + " counts and a range");
    }
    s.histogram.range = *range;
    for (const llvm::json::Value &v : *counts) {
      std::optional<int64_t> c = v.getAsInteger();
      if (!c || *c < 0) {
        return corrupt("layer '" + k +
                       "' has a histogram count that is not "
                       "an integer >= 0");
      }
      s.histogram.counts.push_back(static_cast<uint64_t>(*c));
    }
    table.layers[k] = std::move(s);
  }
  return table;
}

namespace {

//===----------------------------------------------------------------------===//
// Calibration sets
//===----------------------------------------------------------------------===//

llvm::Error errorf(const std::string &message) {
  return llvm::createStringError(std::errc::invalid_argument, "%s",
                                 message.c_str());
}

std::string shapeText(const std::vector<int64_t> &shape) {
  std::string s = "[";
  for (size_t i = 0; i < shape.size(); ++i) {
    s += (i ? "," : "") + std::to_string(shape[i]);
  }
  return s + "]";
}

std::string declaredShape(const OnnxGraphInput &in) {
  std::string s = "[";
  for (size_t i = 0; i < in.dims.size(); ++i) {
    s += i ? "," : "";
    s += in.dims[i] >= 0 ? std::to_string(in.dims[i])
                         : (in.dimParams[i].empty() ? "?" : in.dimParams[i]);
  }
  return s + "]";
}

std::optional<graph::DType> dtypeOfOnnx(int32_t type) {
  switch (type) {
  case 1:
    return graph::DType::F32;
  case 2:
    return graph::DType::U8;
  case 3:
    return graph::DType::I8;
  case 6:
    return graph::DType::I32;
  case 7:
    return graph::DType::I64;
  case 9:
    return graph::DType::Bool;
  case 10:
    return graph::DType::F16;
  case 11:
    return graph::DType::F64;
  default:
    return std::nullopt;
  }
}

using Feeds = std::map<std::string, npy::Array>;

/// The calibration input sets, loaded one at a time.
class SetSource {
public:
  /// The sets at `path` for the model at `model` (whose graph inputs a
  /// set must feed).
  static llvm::Expected<SetSource> open(const std::string &path,
                                        const std::string &model,
                                        const OnnxImportOptions &importOptions);
  size_t size() const { return tokens ? tokenRows : dirs.size(); }
  std::string nameOf(size_t i) const {
    return tokens ? llvm::formatv("{0} row {1}", path, i).str() : dirs[i];
  }
  llvm::Expected<Feeds> load(size_t i) const;

private:
  std::string path;
  std::vector<OnnxGraphInput> inputs; ///< the ones a set must feed
  std::vector<std::string> dirs;
  std::optional<npy::Array> tokens; ///< [sets, length] token ids
  size_t tokenRows = 0;
};

bool hasNpyFiles(const std::string &dir) {
  std::error_code ec;
  for (llvm::sys::fs::directory_iterator it(dir, ec), end; it != end && !ec;
       it.increment(ec)) {
    if (llvm::sys::path::extension(it->path()) == ".npy") {
      return true;
    }
  }
  return false;
}

llvm::Expected<SetSource>
SetSource::open(const std::string &path, const std::string &model,
                const OnnxImportOptions &importOptions) {
  llvm::Expected<std::vector<OnnxGraphInput>> all = readOnnxGraphInputs(model);
  if (!all) {
    return all.takeError();
  }
  SetSource src;
  src.path = path;
  for (const OnnxGraphInput &in : *all) {
    if (!importOptions.constantInputs.count(in.name)) {
      src.inputs.push_back(in);
    }
  }
  if (!llvm::sys::fs::exists(path)) {
    return errorf("calibration folder '" + path + "' does not exist");
  }
  if (!llvm::sys::fs::is_directory(path)) {
    // A token-id file: calib.npy of a decoder, one window per row.
    nuri::Result<npy::Array> array = npy::readFile(path);
    if (!array) {
      return errorf("calibration file '" + path + "': " + array.error());
    }
    bool integer =
        array->dtype == graph::DType::I64 || array->dtype == graph::DType::I32;
    if (array->shape.size() != 2 || !integer || array->shape[0] == 0 ||
        array->shape[1] == 0) {
      return errorf("calibration file '" + path + "' has " +
                    graph::dtypeName(array->dtype) + " " +
                    shapeText(array->shape) +
                    "; a calibration .npy holds token ids [sets, tokens] "
                    "(int64) for a decoder, otherwise give a folder of input "
                    "sets (DIR/<set>/<input>.npy)");
    }
    bool ids = false;
    for (const OnnxGraphInput &in : src.inputs) {
      llvm::StringRef name(in.name);
      if (name == "input_ids") {
        ids = true;
      } else if (name != "attention_mask" && name != "position_ids" &&
                 !name.starts_with("past")) {
        return errorf("calibration file '" + path +
                      "' holds token ids, but the model also takes '" +
                      in.name +
                      "'; give a folder of input sets (DIR/<set>/<input>.npy)");
      }
    }
    if (!ids) {
      return errorf("calibration file '" + path +
                    "' holds token ids, but the model has no input "
                    "'input_ids'; give a folder of input sets "
                    "(DIR/<set>/<input>.npy)");
    }
    src.tokenRows = static_cast<size_t>(array->shape[0]);
    src.tokens = std::move(*array);
    return src;
  }
  if (hasNpyFiles(path)) {
    src.dirs.push_back(path); // one set, as a model's inputs/ folder
  } else {
    std::error_code ec;
    for (llvm::sys::fs::directory_iterator it(path, ec), end; it != end && !ec;
         it.increment(ec)) {
      if (llvm::sys::fs::is_directory(it->path()) && hasNpyFiles(it->path())) {
        src.dirs.push_back(it->path());
      }
    }
    std::sort(src.dirs.begin(), src.dirs.end());
  }
  if (src.dirs.empty()) {
    return errorf("calibration folder '" + path +
                  "' holds no input sets (expected " + path +
                  "/<set>/<input>.npy, one .npy per model input)");
  }
  return src;
}

llvm::Expected<Feeds> SetSource::load(size_t i) const {
  Feeds feeds;
  if (tokens) {
    int64_t t = tokens->shape[1];
    for (const OnnxGraphInput &in : inputs) {
      npy::Array a;
      a.dtype = dtypeOfOnnx(in.elementType).value_or(graph::DType::I64);
      llvm::StringRef name(in.name);
      if (name == "input_ids" || name == "attention_mask" ||
          name == "position_ids") {
        a.shape = {1, t};
        a.dtype = graph::DType::I64;
        a.data.resize(size_t(t) * 8);
        auto *out = reinterpret_cast<int64_t *>(a.data.data());
        for (int64_t j = 0; j < t; ++j) {
          int64_t id = tokens->dtype == graph::DType::I64
                           ? reinterpret_cast<const int64_t *>(
                                 tokens->data.data())[i * t + j]
                           : reinterpret_cast<const int32_t *>(
                                 tokens->data.data())[i * t + j];
          out[j] = name == "input_ids" ? id : name == "position_ids" ? j : 1;
        }
      } else {
        // A past: batch 1, zero length (each window is a prefill).
        for (size_t d = 0; d < in.dims.size(); ++d) {
          a.shape.push_back(in.dims[d] >= 0 ? in.dims[d] : d == 0 ? 1 : 0);
        }
        if (in.dims.size() == 5 && in.dims[0] == 2) {
          a.shape[1] = in.dims[1] >= 0 ? in.dims[1] : 1; // stacked [2, B, ...]
        }
        a.data.resize(size_t(graph::elementCount(a.shape)) *
                      graph::dtypeSize(a.dtype));
      }
      feeds[in.name] = std::move(a);
    }
    return feeds;
  }
  const std::string &dir = dirs[i];
  std::error_code ec;
  for (llvm::sys::fs::directory_iterator it(dir, ec), end; it != end && !ec;
       it.increment(ec)) {
    llvm::StringRef file = llvm::sys::path::filename(it->path());
    if (!file.ends_with(".npy")) {
      continue;
    }
    std::string name = file.drop_back(4).str();
    auto known = llvm::find_if(
        inputs, [&](const OnnxGraphInput &in) { return in.name == name; });
    if (known == inputs.end()) {
      std::string names;
      for (const OnnxGraphInput &in : inputs) {
        names += (names.empty() ? "" : ", ") + in.name;
      }
      return errorf("calibration set '" + dir + "' has '" + file.str() +
                    "', which is not an input of the model (inputs: " + names +
                    ")");
    }
    nuri::Result<npy::Array> a = npy::readFile(it->path());
    if (!a) {
      return errorf(a.error());
    }
    // The shapes the model declares, static dimensions exactly.
    bool ok = a->shape.size() == known->dims.size();
    for (size_t d = 0; ok && d < a->shape.size(); ++d) {
      ok = known->dims[d] < 0 || known->dims[d] == a->shape[d];
    }
    if (!ok) {
      return errorf(it->path() + " has shape " + shapeText(a->shape) +
                    "; the model's input '" + name + "' is " +
                    declaredShape(*known));
    }
    std::optional<graph::DType> want = dtypeOfOnnx(known->elementType);
    if (want && *want != a->dtype) {
      return errorf(it->path() + " holds " + graph::dtypeName(a->dtype) +
                    "; the model's input '" + name + "' is " +
                    graph::dtypeName(*want));
    }
    feeds[name] = std::move(*a);
  }
  for (const OnnxGraphInput &in : inputs) {
    if (!feeds.count(in.name)) {
      return errorf("calibration set '" + dir + "' has no '" + in.name +
                    ".npy' for the model input '" + in.name + "'");
    }
  }
  return feeds;
}

//===----------------------------------------------------------------------===//
// Running the float model
//===----------------------------------------------------------------------===//

/// Layers the automatic fallback (--min-sqnr) keeps float, with the reason.
using FallbackLayers = std::map<std::string, std::string>;

/// Marks what --exclude names, what the fallback keeps float and what is the
/// model head nuri.quantize_skip.
void markExclusions(ModuleOp module, const QuantizeOptions &q,
                    const FallbackLayers &fallback = {}) {
  for (QuantCandidate &c : collectQuantCandidates(module)) {
    auto kept = fallback.find(c.key);
    if (kept != fallback.end()) {
      c.op->setAttr(kQuantizeSkipAttr,
                    StringAttr::get(module.getContext(), kept->second));
      continue;
    }
    llvm::StringRef key(c.key);
    llvm::StringRef last =
        key.rsplit('/').second.empty() ? key : key.rsplit('/').second;
    for (const std::string &p : q.exclude) {
      if (key == p || key.starts_with(p + "/") || last == p ||
          last.starts_with(p + "_") || last.starts_with(p + "#")) {
        c.op->setAttr(
            kQuantizeSkipAttr,
            StringAttr::get(module.getContext(), "excluded by --exclude " + p));
        break;
      }
    }
    if (c.head && !q.quantizeHead && !c.op->hasAttr(kQuantizeSkipAttr)) {
      c.op->setAttr(
          kQuantizeSkipAttr,
          StringAttr::get(module.getContext(), "the model head stays float"));
    }
  }
}

std::string outputName(size_t i) {
  return llvm::formatv("nuri.calibration.{0}", i).str();
}

/// Adds `values` to @main's results (each once) and returns their names.
std::vector<std::string> exposeValues(ModuleOp module,
                                      const std::vector<Value> &values) {
  auto main = module.lookupSymbol<func::FuncOp>("main");
  Operation *ret = main.getBody().front().getTerminator();
  std::vector<std::string> names;
  llvm::DenseMap<Value, std::string> named;
  for (Value v : values) {
    auto it = named.find(v);
    if (it != named.end()) {
      names.push_back(it->second);
      continue;
    }
    std::string name = outputName(named.size());
    unsigned index = main.getNumResults();
    main.insertResult(
        index, v.getType(),
        DictionaryAttr::get(
            module.getContext(),
            {NamedAttribute(
                StringAttr::get(module.getContext(), onnx_attrs::kName),
                StringAttr::get(module.getContext(), name))}));
    ret->insertOperands(ret->getNumOperands(), v);
    named[v] = name;
    names.push_back(name);
  }
  return names;
}

struct Status {
  nuri_status s = nullptr;
  ~Status() { nuri_status_release(s); }
  std::string message() const { return nuri_status_message(s); }
};

/// A context of its own for a model the quantizer imports only to look at or
/// to run (the probe, each calibration and measurement runner): a context
/// keeps every constant it ever held (the ONNX weights become resource
/// blobs of the context) until it is destroyed, so importing in the
/// caller's context would keep one more copy of the weights per import for
/// the whole compile. Diagnostics go on to the caller's context, where the
/// caller's handler formats them.
class ScratchContext {
public:
  explicit ScratchContext(MLIRContext &parent)
      : context(parent.getDialectRegistry(), MLIRContext::Threading::DISABLED) {
    if (parent.isMultithreadingEnabled()) {
      context.setThreadPool(parent.getThreadPool());
    }
    context.getDiagEngine().registerHandler([&parent](Diagnostic &d) {
      parent.getDiagEngine().emit(std::move(d));
      return success();
    });
  }
  MLIRContext &get() { return context; }

private:
  MLIRContext context;
};

/// One compiled float model (per distinct set of input shapes) in a session.
struct Runner {
  std::vector<uint8_t> package;
  nuri_model *model = nullptr;
  nuri_session *session = nullptr;
  nuri_run *run = nullptr;
  Runner() = default;
  Runner(const Runner &) = delete;
  ~Runner() {
    nuri_run_release(run);
    nuri_session_release(session);
    nuri_model_release(model);
  }
};

/// Compiles `path` for the CPU with `prepare` applied after the graph
/// passes, pinned to the feeds' shapes.
FailureOr<std::unique_ptr<Runner>>
makeRunner(MLIRContext &context, const std::string &path,
           OnnxImportOptions importOptions, const Feeds &feeds,
           std::function<LogicalResult(ModuleOp)> prepare) {
  for (const auto &[name, a] : feeds) {
    importOptions.inputShapes[name] = a.shape;
  }
  importOptions.allowUnsupported = true;
  ScratchContext scratch(context);
  OwningOpRef<ModuleOp> module =
      importOnnxFile(scratch.get(), path, importOptions);
  if (!module) {
    return failure();
  }
  CompileOptions options;
  options.target = "cpu";
  options.dtype = "fp32";
  options.producer = "nuri calibration";
  options.afterGraphPasses = std::move(prepare);
  FailureOr<CompileResult> compiled = compileModule(*module, options);
  if (failed(compiled)) {
    return failure();
  }
  auto runner = std::make_unique<Runner>();
  runner->package = std::move(compiled->package);
  Location loc = FileLineColLoc::get(&context, path, 0, 0);
  Status st;
  st.s = nuri_model_load_memory(runner->package.data(), runner->package.size(),
                                nullptr, &runner->model);
  if (!st.s) {
    nuri_session_options so;
    nuri_session_options_initialize(&so);
    so.device = "cpu";
    st.s = nuri_session_create(runner->model, &so, &runner->session);
  }
  if (!st.s) {
    st.s = nuri_run_create(runner->session, &runner->run);
  }
  if (st.s) {
    return emitError(loc) << "calibration: " << st.message();
  }
  return runner;
}

std::string signatureOf(const Feeds &feeds) {
  std::string s;
  for (const auto &[name, a] : feeds) {
    s += name + shapeText(a.shape) + ";";
  }
  return s;
}

/// Runs `runner` on `feeds`; calls `visit(i, view)` for the i-th output.
LogicalResult runOnce(
    Location loc, Runner &runner, const Feeds &feeds,
    const std::vector<std::string> &outputs,
    llvm::function_ref<void(size_t, const float *, size_t, int64_t)> visit) {
  Status st;
  nuri_run_clear_bindings(runner.run);
  for (const auto &[name, a] : feeds) {
    st.s = nuri_run_bind_input(runner.run, name.c_str(),
                               static_cast<nuri_dtype>(a.dtype), a.shape.data(),
                               a.shape.size(), a.data.data(), a.data.size());
    if (st.s) {
      return emitError(loc) << "calibration: " << st.message();
    }
  }
  st.s = nuri_run_execute(runner.run);
  if (st.s) {
    return emitError(loc) << "calibration: " << st.message();
  }
  for (size_t i = 0; i < outputs.size(); ++i) {
    nuri_tensor_info info;
    const void *data = nullptr;
    st.s = nuri_run_get_output(runner.run, outputs[i].c_str(), &info, &data);
    if (st.s) {
      return emitError(loc) << "calibration: " << st.message();
    }
    if (info.dtype != NURI_DTYPE_F32 || info.rank == 0) {
      return emitError(loc) << "calibration: output '" << outputs[i]
                            << "' is not an f32 tensor";
    }
    size_t n = info.byte_size / 4;
    visit(i, static_cast<const float *>(data), n, info.shape[info.rank - 1]);
  }
  return success();
}

void accumulate(LayerStats &s, const float *x, size_t n, int64_t channels,
                bool ranges) {
  if (s.channelAbsMax.size() != size_t(channels)) {
    s.channelAbsMax.assign(channels, 0.0f);
  }
  float lo = INFINITY, hi = -INFINITY;
  for (size_t i = 0; i < n; ++i) {
    float v = x[i];
    lo = std::min(lo, v);
    hi = std::max(hi, v);
    float a = std::fabs(v);
    float &c = s.channelAbsMax[i % channels];
    c = std::max(c, a);
  }
  if (!ranges || n == 0) {
    return;
  }
  float amax = std::max(std::fabs(lo), std::fabs(hi));
  s.min = s.seen ? std::min(s.min, double(lo)) : lo;
  s.max = s.seen ? std::max(s.max, double(hi)) : hi;
  s.seen = true;
  s.histogram.add(x, n, amax);
}

/// The ranges nuri-quantize uses for each layer, by the method.
void annotate(ModuleOp module, const CalibrationTable &table,
              const QuantizeOptions &q) {
  for (QuantCandidate &c : collectQuantCandidates(module)) {
    auto it = table.layers.find(c.key);
    if (it == table.layers.end() || c.op->hasAttr(kQuantizeSkipAttr)) {
      continue;
    }
    auto [lo, hi] = chooseActivationRange(it->second, q.method, q.percentile);
    const LayerStats &s = it->second;
    Builder b(module.getContext());
    SmallVector<NamedAttribute> entries = {
        b.getNamedAttr("min", b.getF32FloatAttr(float(lo))),
        b.getNamedAttr("max", b.getF32FloatAttr(float(hi)))};
    if (!s.channelAbsMax.empty()) {
      entries.push_back(b.getNamedAttr(
          "channel_absmax",
          DenseF32ArrayAttr::get(module.getContext(), s.channelAbsMax)));
    }
    c.op->setAttr(kCalibrationAttr, b.getDictionaryAttr(entries));
  }
}

LogicalResult runQuantizationPasses(ModuleOp module, const QuantizeOptions &q,
                                    bool quantize) {
  PassManager pm(module.getContext());
  if (q.smoothQuantAlpha) {
    NuriSmoothQuantOptions smooth;
    smooth.alpha = *q.smoothQuantAlpha;
    pm.addPass(createNuriSmoothQuant(smooth));
  }
  if (quantize) {
    NuriQuantizeOptions opts;
    opts.scheme = q.scheme;
    opts.quantizeHead = q.quantizeHead;
    pm.addPass(createNuriQuantize(opts));
  }
  return pm.run(module);
}

/// One round over the sets: `ranges` false collects only the per-channel
/// |max| (SmoothQuant's first round).
LogicalResult calibrateRound(MLIRContext &context, const std::string &path,
                             const OnnxImportOptions &importOptions,
                             const QuantizeOptions &q, const SetSource &sets,
                             CalibrationTable &table, bool ranges,
                             const CompileOptions &options) {
  Location loc = FileLineColLoc::get(&context, path, 0, 0);
  std::map<std::string, std::unique_ptr<Runner>> runners;
  std::map<std::string, std::vector<std::string>> keysOf, outputsOf;
  for (size_t i = 0; i < sets.size(); ++i) {
    if (options.progress) {
      options.progress(llvm::formatv("calibrating{0}: set {1}/{2}",
                                     ranges ? "" : " (smoothquant)", i + 1,
                                     sets.size())
                           .str());
    }
    llvm::Expected<Feeds> feeds = sets.load(i);
    if (!feeds) {
      return emitError(loc) << llvm::toString(feeds.takeError());
    }
    std::string sig = signatureOf(*feeds);
    if (!runners.count(sig)) {
      std::vector<std::string> keys, outputs;
      auto prepare = [&](ModuleOp module) -> LogicalResult {
        markExclusions(module, q);
        if (ranges && q.smoothQuantAlpha) {
          // The second round sees the smoothed model.
          annotate(module, table, q);
          if (failed(runQuantizationPasses(module, q, /*quantize=*/false))) {
            return failure();
          }
          // The package carries no calibration attributes.
          for (QuantCandidate &c : collectQuantCandidates(module)) {
            c.op->removeAttr(kCalibrationAttr);
          }
        }
        std::vector<Value> values;
        for (QuantCandidate &c : collectQuantCandidates(module)) {
          if (!c.op->hasAttr(kQuantizeSkipAttr)) {
            keys.push_back(c.key);
            values.push_back(c.op.getInput());
          }
        }
        outputs = exposeValues(module, values);
        return success();
      };
      FailureOr<std::unique_ptr<Runner>> runner =
          makeRunner(context, path, importOptions, *feeds, prepare);
      if (failed(runner)) {
        emitRemark(loc) << "while compiling the float model for calibration "
                           "set '"
                        << sets.nameOf(i) << "'";
        return failure();
      }
      runners[sig] = std::move(*runner);
      keysOf[sig] = keys;
      outputsOf[sig] = outputs;
    }
    const std::vector<std::string> &keys = keysOf[sig];
    // Two linears that read one value share an output; each key is
    // visited and counts it.
    if (failed(runOnce(loc, *runners[sig], *feeds, outputsOf[sig],
                       [&](size_t o, const float *x, size_t n, int64_t ch) {
                         accumulate(table.layers[keys[o]], x, n, ch, ranges);
                       }))) {
      emitRemark(loc) << "while running calibration set '" << sets.nameOf(i)
                      << "'";
      return failure();
    }
  }
  return success();
}

//===----------------------------------------------------------------------===//
// --accuracy-report
//===----------------------------------------------------------------------===//

/// The f32 output `name` of the last run, copied, with its last dimension.
std::optional<std::pair<std::vector<float>, int64_t>>
fetchOutput(Runner &runner, const std::string &name) {
  nuri_tensor_info info;
  const void *data = nullptr;
  Status st;
  st.s = nuri_run_get_output(runner.run, name.c_str(), &info, &data);
  if (st.s || info.dtype != NURI_DTYPE_F32 || info.rank == 0) {
    return std::nullopt;
  }
  const float *f = static_cast<const float *>(data);
  return std::make_pair(std::vector<float>(f, f + info.byte_size / 4),
                        info.shape[info.rank - 1]);
}

LogicalResult executeOnly(Location loc, Runner &runner, const Feeds &feeds) {
  return runOnce(loc, runner, feeds, {},
                 [](size_t, const float *, size_t, int64_t) {});
}

struct Compared {
  double sqnr = 0, cosine = 0, maxError = 0;
};

Compared compare(const std::vector<float> &ref, const std::vector<float> &got) {
  double signal = 0, noise = 0, dot = 0, nr = 0, ng = 0, maxError = 0;
  for (size_t i = 0; i < ref.size() && i < got.size(); ++i) {
    double r = ref[i], g = got[i], d = r - g;
    signal += r * r;
    noise += d * d;
    dot += r * g;
    nr += r * r;
    ng += g * g;
    maxError = std::max(maxError, std::fabs(d));
  }
  Compared c;
  c.sqnr = noise > 0 ? 10 * std::log10(signal / noise) : INFINITY;
  c.cosine = nr > 0 && ng > 0 ? dot / std::sqrt(nr * ng) : 1.0;
  c.maxError = maxError;
  return c;
}

/// What quantization changed on the first calibration set: each quantized
/// layer's result and each model output, quantized against float.
struct Measured {
  std::string set;
  struct Layer {
    std::string key;
    Compared c;
  };
  std::vector<Layer> layers; ///< in program order
  struct Output {
    std::string name;
    Compared c;
    int64_t rows = 0, top1Agree = -1; ///< -1: not logits
  };
  std::vector<Output> outputs;
};

/// Runs the float and the quantized model (both on the CPU in fp32, so only
/// quantization differs) on the first calibration set and compares each
/// quantized layer's result and each model output. `why` names the flag
/// that asked, for the error when there is no calibration set.
FailureOr<Measured>
measureQuantization(MLIRContext &context, const std::string &path,
                    const OnnxImportOptions &importOptions,
                    const QuantizeOptions &q, const FallbackLayers &fallback,
                    const std::function<LogicalResult(ModuleOp)> &quantize,
                    llvm::StringRef why) {
  Location loc = FileLineColLoc::get(&context, path, 0, 0);
  if (q.calibration.empty()) {
    return emitError(loc) << why
                          << " needs --calibration: it compares the float and "
                             "the quantized model on the first calibration "
                             "set";
  }
  llvm::Expected<SetSource> sets =
      SetSource::open(q.calibration, path, importOptions);
  if (!sets) {
    return emitError(loc) << llvm::toString(sets.takeError());
  }
  llvm::Expected<Feeds> feeds = sets->load(0);
  if (!feeds) {
    return emitError(loc) << llvm::toString(feeds.takeError());
  }
  std::vector<std::string> floatKeys, floatNames, quantKeys, quantNames;
  auto floatPrep = [&](ModuleOp module) -> LogicalResult {
    markExclusions(module, q, fallback);
    std::vector<Value> values;
    for (QuantCandidate &c : collectQuantCandidates(module)) {
      floatKeys.push_back(c.key);
      values.push_back(c.op.getResult());
    }
    floatNames = exposeValues(module, values);
    return success();
  };
  auto quantPrep = [&](ModuleOp module) -> LogicalResult {
    if (failed(quantize(module))) {
      return failure();
    }
    std::vector<Value> values;
    module.walk([&](Operation *op) {
      if (auto key = op->getAttrOfType<StringAttr>(kQuantKeyAttr)) {
        quantKeys.push_back(key.str());
        values.push_back(op->getResult(0));
      }
    });
    quantNames = exposeValues(module, values);
    return success();
  };
  FailureOr<std::unique_ptr<Runner>> floatRun =
      makeRunner(context, path, importOptions, *feeds, floatPrep);
  if (failed(floatRun)) {
    return failure();
  }
  FailureOr<std::unique_ptr<Runner>> quantRun =
      makeRunner(context, path, importOptions, *feeds, quantPrep);
  if (failed(quantRun) || failed(executeOnly(loc, **floatRun, *feeds)) ||
      failed(executeOnly(loc, **quantRun, *feeds))) {
    return failure();
  }
  Measured m;
  m.set = sets->nameOf(0);
  for (size_t i = 0; i < quantKeys.size(); ++i) {
    auto f = llvm::find(floatKeys, quantKeys[i]);
    if (f == floatKeys.end()) {
      continue;
    }
    auto ref = fetchOutput(**floatRun, floatNames[f - floatKeys.begin()]);
    auto got = fetchOutput(**quantRun, quantNames[i]);
    if (ref && got) {
      m.layers.push_back({quantKeys[i], compare(ref->first, got->first)});
    }
  }
  for (size_t o = 0; o < nuri_model_output_count((*floatRun)->model); ++o) {
    nuri_tensor_info info;
    Status st;
    st.s = nuri_model_output_info((*floatRun)->model, o, &info);
    if (st.s || llvm::StringRef(info.name).starts_with("nuri.calibration.")) {
      continue;
    }
    auto ref = fetchOutput(**floatRun, info.name);
    auto got = fetchOutput(**quantRun, info.name);
    if (!ref || !got) {
      continue;
    }
    Measured::Output out{info.name, compare(ref->first, got->first)};
    if (llvm::StringRef(info.name).contains("logits") && ref->second > 1) {
      int64_t n = ref->second;
      out.rows = int64_t(ref->first.size()) / n;
      out.top1Agree = 0;
      for (int64_t r = 0; r < out.rows; ++r) {
        auto at = [&](const std::vector<float> &v) {
          return std::max_element(v.begin() + r * n, v.begin() + (r + 1) * n) -
                 (v.begin() + r * n);
        };
        out.top1Agree += at(ref->first) == at(got->first);
      }
    }
    m.outputs.push_back(out);
  }
  return m;
}

/// --accuracy-report's lines.
void reportAccuracy(const Measured &m, const QuantizeOptions &q,
                    std::vector<std::string> &notes) {
  notes.push_back(llvm::formatv("accuracy report: float vs {0} on the CPU "
                                "(fp32 elsewhere), calibration set '{1}'",
                                q.scheme, m.set)
                      .str());
  notes.push_back("  per quantized layer (its result in the quantized model "
                  "against the float model's; earlier layers' errors "
                  "included):");
  notes.push_back(
      llvm::formatv("  {0,-40} {1,8} {2,9}", "layer", "SQNR dB", "cosine")
          .str());
  double threshold = q.minSqnr.value_or(QuantizeOptions::kSuggestedMinSqnr);
  std::vector<std::string> suggested;
  for (const Measured::Layer &l : m.layers) {
    notes.push_back(llvm::formatv("  {0,-40} {1,8:f1} {2,9:f5}", l.key,
                                  l.c.sqnr, l.c.cosine)
                        .str());
    if (l.c.sqnr < threshold) {
      suggested.push_back(l.key);
    }
  }
  for (const Measured::Output &o : m.outputs) {
    std::string line =
        llvm::formatv("  output {0}: cosine {1:f5}, max error {2:e2}", o.name,
                      o.c.cosine, o.c.maxError)
            .str();
    if (o.top1Agree >= 0) {
      line += llvm::formatv(", top-1 agreement {0:f2}% of {1} rows",
                            100.0 * o.top1Agree / std::max<int64_t>(o.rows, 1),
                            o.rows);
    }
    notes.push_back(line);
  }
  std::string advice = llvm::formatv(
      "  suggested exclusions (SQNR below {0:f1} dB): ", threshold);
  if (suggested.empty()) {
    advice += "none";
  }
  for (const std::string &key : suggested) {
    advice += "--exclude " + key + " ";
  }
  notes.push_back(advice);
}

} // namespace

FailureOr<CompileOptions>
prepareQuantization(MLIRContext &context, const std::string &path,
                    const OnnxImportOptions &importOptions,
                    const CompileOptions &options) {
  Location loc = FileLineColLoc::get(&context, path, 0, 0);
  const QuantizeOptions &q = *options.quantize;
  if (q.scheme != "int8" && q.scheme != "fp8" && q.scheme != "w8a16" &&
      q.scheme != "w4a16") {
    return emitError(loc) << "--quantize " << q.scheme
                          << ": expected int8, fp8, w8a16 or w4a16";
  }
  if (q.method != "minmax" && q.method != "percentile" &&
      q.method != "entropy" && q.method != "mse") {
    return emitError(loc) << "--calibration-method " << q.method
                          << ": expected minmax, percentile, entropy or mse";
  }
  if (!(q.percentile > 50 && q.percentile <= 100)) {
    return emitError(loc) << "--percentile " << q.percentile
                          << " is outside (50, 100]";
  }
  if (q.smoothQuantAlpha &&
      !(*q.smoothQuantAlpha >= 0 && *q.smoothQuantAlpha <= 1)) {
    return emitError(loc) << "--smoothquant " << *q.smoothQuantAlpha
                          << " is outside [0, 1]";
  }
  // A quantized model is refused before any calibration work.
  {
    OnnxImportOptions probe = importOptions;
    probe.allowUnsupported = true;
    // Shapes do not matter to the probe: dynamic dimensions the caller left
    // open (a --generate family pins them per program) become 1.
    llvm::Expected<std::vector<OnnxGraphInput>> inputs =
        readOnnxGraphInputs(path);
    if (!inputs) {
      return emitError(loc) << llvm::toString(inputs.takeError());
    }
    for (const OnnxGraphInput &in : *inputs) {
      if (!probe.inputShapes.count(in.name) &&
          !probe.constantInputs.count(in.name)) {
        std::vector<int64_t> dims = in.dims;
        for (int64_t &d : dims) {
          d = d < 0 ? 1 : d;
        }
        probe.inputShapes[in.name] = dims;
      }
    }
    ScratchContext scratch(context);
    OwningOpRef<ModuleOp> module = importOnnxFile(scratch.get(), path, probe);
    if (!module) {
      return failure();
    }
    if (Operation *op = findQuantizedOp(*module)) {
      return op->emitError("--quantize: the model is already quantized ('")
             << op->getName()
             << "' from a quantized ONNX node); --quantize takes a float "
                "model";
    }
  }
  auto notes = std::make_shared<std::vector<std::string>>();
  auto table = std::make_shared<CalibrationTable>();
  bool needRanges = q.scheme == "int8" || q.scheme == "fp8";
  bool needStats = needRanges || q.smoothQuantAlpha;
  bool fromCache = !q.cachePath.empty() && llvm::sys::fs::exists(q.cachePath);
  if (fromCache) {
    llvm::Expected<CalibrationTable> cached = readCalibrationCache(q.cachePath);
    if (!cached) {
      return emitError(loc) << llvm::toString(cached.takeError());
    }
    if (cached->smoothAlpha != q.smoothQuantAlpha) {
      auto text = [](std::optional<double> a) {
        return a ? llvm::formatv("--smoothquant {0}", *a).str()
                 : std::string("no --smoothquant");
      };
      return emitError(loc)
             << "calibration cache '" << q.cachePath << "' was made with "
             << text(cached->smoothAlpha) << ", this compile asks for "
             << text(q.smoothQuantAlpha)
             << "; delete it (or name another) to calibrate again";
    }
    *table = std::move(*cached);
  } else if (needStats) {
    if (q.calibration.empty()) {
      return emitError(loc)
             << "--quantize " << q.scheme
             << (q.smoothQuantAlpha ? " with --smoothquant" : "")
             << " needs --calibration DIR (input sets) or an existing "
                "--calibration-cache";
    }
    llvm::Expected<SetSource> sets =
        SetSource::open(q.calibration, path, importOptions);
    if (!sets) {
      return emitError(loc) << llvm::toString(sets.takeError());
    }
    table->sets = static_cast<int64_t>(sets->size());
    table->source = q.calibration;
    table->smoothAlpha = q.smoothQuantAlpha;
    if (q.smoothQuantAlpha &&
        failed(calibrateRound(context, path, importOptions, q, *sets, *table,
                              /*ranges=*/false, options))) {
      return failure();
    }
    if (failed(calibrateRound(context, path, importOptions, q, *sets, *table,
                              /*ranges=*/true, options))) {
      return failure();
    }
    if (!q.cachePath.empty()) {
      if (llvm::Error e = writeCalibrationCache(
              q.cachePath, *table, llvm::sys::path::filename(path).str())) {
        return emitError(loc) << llvm::toString(std::move(e));
      }
    }
  }
  if (needStats) {
    notes->push_back(llvm::formatv("quantization: {0}, calibration {1} "
                                   "{2} set(s) of {3}, method {4}{5}",
                                   q.scheme, fromCache ? "read from" : "over",
                                   table->sets, table->source, q.method,
                                   q.smoothQuantAlpha
                                       ? llvm::formatv(", smoothquant alpha "
                                                       "{0}",
                                                       *q.smoothQuantAlpha)
                                             .str()
                                       : std::string())
                         .str());
  } else {
    notes->push_back("quantization: " + q.scheme +
                     " (weights only; no calibration needed)");
  }

  CompileOptions out = options;
  out.quantize.reset();
  out.quantizationNotes = notes;
  // The quantizing hook: the measurements below get their own (their
  // decisions are not the package's, so their notes are dropped), the
  // compile the one whose notes the report shows.
  auto makeHook = [table,
                   qc = q](std::shared_ptr<const FallbackLayers> fallback,
                           std::shared_ptr<std::vector<std::string>> notes) {
    return [table, qc, fallback, notes, first = std::make_shared<bool>(true)](
               ModuleOp module) -> LogicalResult {
      markExclusions(module, qc, *fallback);
      if (qc.scheme == "int8" || qc.scheme == "fp8" || qc.smoothQuantAlpha) {
        // A cache from another model has no statistics for these layers.
        for (QuantCandidate &c : collectQuantCandidates(module)) {
          if (!c.op->hasAttr(kQuantizeSkipAttr) &&
              !table->layers.count(c.key)) {
            return c.op.emitError("calibration (")
                   << table->source << ") has no statistics for the layer '"
                   << c.key << "'; was it made for another model?";
          }
        }
        annotate(module, *table, qc);
      }
      if (failed(runQuantizationPasses(module, qc, /*quantize=*/true))) {
        return failure();
      }
      if (*first) {
        // The report lists each decision once (a family has many programs).
        *first = false;
        int quantized = 0;
        for (QuantCandidate &c : collectQuantCandidates(module)) {
          auto why = c.op->getAttrOfType<StringAttr>(kQuantizeSkipAttr);
          notes->push_back(llvm::formatv("  float  {0}: {1}", c.key,
                                         why ? why.getValue() : "not quantized")
                               .str());
        }
        module.walk([&](Operation *op) {
          if (auto key = op->getAttrOfType<StringAttr>(kQuantKeyAttr)) {
            ++quantized;
            notes->push_back(
                llvm::formatv("  {0,-6} {1}", qc.scheme, key.getValue()).str());
          }
        });
        notes->insert(
            notes->begin() + 1,
            llvm::formatv("  {0} linear layer(s) quantized", quantized).str());
      }
      for (QuantCandidate &c : collectQuantCandidates(module)) {
        c.op->removeAttr(kCalibrationAttr);
      }
      return success();
    };
  };
  auto fallback = std::make_shared<FallbackLayers>();
  // Float against quantized under the fallback so far, on the first set;
  // `flag` names what asked, for the error without calibration.
  auto measure = [&](llvm::StringRef flag) {
    return measureQuantization(
        context, path, importOptions, q, *fallback,
        makeHook(fallback, std::make_shared<std::vector<std::string>>()), flag);
  };
  if (q.minSqnr) {
    // Keeping a layer float changes the error the later layers see, so the
    // measurement repeats (a few rounds) until every quantized layer holds
    // the threshold.
    for (int round = 0; round < 4; ++round) {
      FailureOr<Measured> m = measure("--min-sqnr");
      if (failed(m)) {
        return failure();
      }
      int added = 0;
      for (const Measured::Layer &l : m->layers) {
        if (l.c.sqnr < *q.minSqnr) {
          (*fallback)[l.key] = llvm::formatv(
              "SQNR {0:f1} dB below --min-sqnr {1:f1} (automatic fallback)",
              l.c.sqnr, *q.minSqnr);
          ++added;
        }
      }
      if (!added) {
        break;
      }
    }
    notes->push_back(llvm::formatv("  automatic fallback (--min-sqnr {0:f1} "
                                   "dB): {1} layer(s) kept float",
                                   *q.minSqnr, fallback->size())
                         .str());
  }
  out.afterGraphPasses = makeHook(fallback, notes);
  if (q.accuracyReport) {
    FailureOr<Measured> m = measure("--accuracy-report");
    if (failed(m)) {
      return failure();
    }
    reportAccuracy(*m, q, *notes);
  }
  return out;
}

} // namespace nuri::driver
