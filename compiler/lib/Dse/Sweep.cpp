//===- Sweep.cpp - Design-space sweeps over chip configs ------------------===//
//
// The flow of runSweep (docs/dse.md):
//   1. import each workload once (one MLIRContext, all dialects loaded up
//      front so that compiles can share it from several threads);
//   2. read DIR/results.jsonl, if any: those points are done;
//   3. resolve each pending point serially: axis values, derived keys, the
//      config (an impossible chip is a row, not an error), area, the
//      constraints that need no simulation, and the config the compiler
//      sees (minus the keys it does not read and the resimulate_only keys);
//   4. compile each distinct (workload, compiler config) once, in parallel,
//      cached in DIR/cache/programs so a resumed sweep does not recompile;
//   5. simulate each point timing-only, in parallel, and append its row.
//
//===----------------------------------------------------------------------===//

#include "nuri/Dse/Sweep.h"

#include "nuri/Dse/Nsga2.h"

#include "nuri/Driver/Compile.h"
#include "nuri/Driver/Generate.h"
#include "nuri/Frontend/OnnxImporter.h"
#include "nuri/Zoo/Zoo.h"
#include "nuri/isa/Program.h"
#include "nuri/package/Package.h"
#include "nuri/runtime.hpp"
#include "nuri/sim/Energy.h"
#include "nuri/sim/Simulator.h"
#include "nuri/target/Target.h"

#include "mlir/IR/Diagnostics.h"
#include "mlir/IR/MLIRContext.h"
#include "mlir/IR/OwningOpRef.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/JSON.h"
#include "llvm/Support/Program.h"
#include "llvm/Support/xxhash.h"

#include <fmt/format.h>
#include <tbb/global_control.h>
#include <tbb/info.h>
#include <tbb/parallel_for_each.h>
#include <tbb/task_arena.h>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdlib>
#include <fcntl.h>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <random>
#include <set>
#include <sstream>
#include <thread>
#include <unistd.h>

namespace nuri::dse {

namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

std::string hashHex(const std::string &s) {
  return fmt::format("{:016x}", llvm::xxh3_64bits(llvm::StringRef(s)));
}

std::string readFile(const fs::path &p) {
  std::ifstream in(p, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

/// This process's name for temporaries: SLURM tasks on several hosts share
/// the cache directory, and their pids can collide.
const std::string &tmpTag() {
  static const std::string tag = [] {
    char host[256] = {};
    ::gethostname(host, sizeof host - 1);
    return fmt::format("{}.{}", hashHex(host).substr(0, 8), ::getpid());
  }();
  return tag;
}

/// Writes through a temporary and a rename: readers (and a resumed sweep)
/// see the whole file or none of it.
void writeFileAtomic(const fs::path &p, const std::string &data) {
  static std::atomic<uint64_t> serial{0};
  fs::path tmp = p;
  tmp += fmt::format(".tmp{}.{}", tmpTag(), serial++);
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    out << data;
    if (!out) {
      throw Error(tmp.string() + ": cannot write");
    }
  }
  fs::rename(tmp, p);
}

const char *kComponents[] = {"matrix", "sram", "accumulator", "vector",
                             "dram",   "noc",  "static"};

/// Diagnostics of the compile running on this thread.
thread_local std::string *tlsDiagnostics = nullptr;

//===----------------------------------------------------------------------===//
// Results files
//===----------------------------------------------------------------------===//

std::string csvCell(const Value &v) {
  if (std::holds_alternative<double>(v)) {
    return fmt::format("{:.17g}", std::get<double>(v));
  }
  if (std::holds_alternative<std::string>(v)) {
    const std::string &s = std::get<std::string>(v);
    if (s.find_first_of(",\"\n") == std::string::npos) {
      return s;
    }
    std::string q = "\"";
    for (char c : s) {
      q += c == '"' ? std::string("\"\"") : std::string(1, c == '\n' ? ' ' : c);
    }
    return q + "\"";
  }
  return "";
}

llvm::json::Value jsonCell(const Value &v) {
  if (std::holds_alternative<double>(v)) {
    double d = std::get<double>(v);
    return std::isfinite(d) ? llvm::json::Value(d) : llvm::json::Value(nullptr);
  }
  if (std::holds_alternative<std::string>(v)) {
    return std::get<std::string>(v);
  }
  return nullptr;
}

class ResultsFiles {
public:
  ResultsFiles(fs::path dir, std::vector<std::string> columns,
               std::string specHash)
      : dir_(std::move(dir)), columns_(std::move(columns)),
        specHash_(std::move(specHash)) {}
  ~ResultsFiles() {
    for (int fd : {jsonl_, csv_, detail_}) {
      if (fd >= 0) {
        ::close(fd);
      }
    }
  }

  /// Reads the rows of an earlier run. A torn last line (the writer was
  /// killed mid-line) is dropped with a warning; anything else that does
  /// not parse is an error naming the line.
  std::map<uint64_t, Row> resume(std::string &warning) {
    return read(dir_ / "results.jsonl", &warning);
  }

  /// Reads the rows of `p` (no file: none). With `warning`, a torn last
  /// line is cut off the file and reported; without, it is skipped and the
  /// file is left alone (a SLURM task may still be writing it).
  std::map<uint64_t, Row> read(const fs::path &p, std::string *warning) {
    std::map<uint64_t, Row> rows;
    if (!fs::exists(p)) {
      return rows;
    }
    std::string text = readFile(p);
    size_t keep = text.size();
    if (!text.empty() && text.back() != '\n') {
      keep = text.rfind('\n') == std::string::npos ? 0 : text.rfind('\n') + 1;
      text.resize(keep);
      if (warning) {
        *warning = fmt::format("{}: dropping an incomplete last line (an "
                               "interrupted write); its point runs again",
                               p.string());
        fs::resize_file(p, keep);
      }
    }
    std::istringstream in(text);
    std::string line;
    for (unsigned lineNo = 1; std::getline(in, line); ++lineNo) {
      auto fail = [&](const std::string &why) {
        throw Error(fmt::format("{}:{}: corrupt results record: {}; move the "
                                "file away to start the sweep over",
                                p.string(), lineNo, why));
      };
      llvm::Expected<llvm::json::Value> v = llvm::json::parse(line);
      if (!v) {
        fail(llvm::toString(v.takeError()));
      }
      const llvm::json::Object *o = v->getAsObject();
      if (!o) {
        fail("not a JSON object");
      }
      std::optional<double> index = o->getNumber("point");
      std::optional<llvm::StringRef> hash = o->getString("spec_hash");
      std::optional<llvm::StringRef> status = o->getString("status");
      if (!index || !hash || !status || *index < 0 ||
          *index != std::floor(*index)) {
        fail("no point, status or spec_hash");
      }
      if (*hash != specHash_) {
        throw Error(fmt::format(
            "{}:{}: written by a different spec (hash {}, this spec {}); use "
            "another -o DIR or move the file away",
            p.string(), lineNo, hash->str(), specHash_));
      }
      Row r;
      r.index = uint64_t(*index);
      r.status = status->str();
      for (const std::string &c : columns_) {
        const llvm::json::Value *cell = o->get(c);
        if (!cell || cell->kind() == llvm::json::Value::Null) {
          r.values[c] = std::monostate();
        } else if (std::optional<double> d = cell->getAsNumber()) {
          r.values[c] = *d;
        } else if (std::optional<llvm::StringRef> s = cell->getAsString()) {
          r.values[c] = s->str();
        } else {
          fail("column `" + c + "` is neither a number nor a string");
        }
      }
      rows[r.index] = std::move(r);
    }
    return rows;
  }

  /// Rewrites the CSV from the rows the JSONL holds (the CSV is derived:
  /// a crash between the two appends must not leave them disagreeing),
  /// then opens both files for appending.
  void open(const std::map<uint64_t, Row> &rows) {
    std::string csv = header();
    for (auto &[i, r] : rows) {
      csv += csvLine(r);
    }
    writeFileAtomic(dir_ / "results.csv", csv);
    // layers.jsonl (per-layer detail, docs/dse.md) loses a torn last line
    // too, so appends after a kill start on a line of their own.
    fs::path detail = dir_ / "layers.jsonl";
    if (fs::exists(detail)) {
      std::string text = readFile(detail);
      if (!text.empty() && text.back() != '\n') {
        size_t nl = text.rfind('\n');
        fs::resize_file(detail, nl == std::string::npos ? 0 : nl + 1);
      }
    }
    detail_ =
        ::open(detail.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    jsonl_ = ::open((dir_ / "results.jsonl").c_str(),
                    O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    csv_ =
        ::open((dir_ / "results.csv").c_str(), O_WRONLY | O_APPEND | O_CLOEXEC);
    if (jsonl_ < 0 || csv_ < 0 || detail_ < 0) {
      throw Error((dir_ / "results.jsonl").string() + ": cannot open");
    }
  }

  /// One write per line and file, under a lock: O_APPEND keeps whole lines
  /// together, and a kill leaves at most one torn last line.
  /// `detail` (a JSON object, or empty) goes to layers.jsonl first: a point
  /// in results.jsonl always has its detail; a kill between the two writes
  /// reruns the point and the reader takes a point's last detail line.
  void append(const Row &r, const std::string &detail) {
    std::string json = jsonLine(r), csv = csvLine(r);
    std::lock_guard<std::mutex> lock(mutex_);
    if (!detail.empty()) {
      writeAll(detail_, detail + "\n");
    }
    writeAll(jsonl_, json);
    writeAll(csv_, csv);
  }

private:
  std::string header() const {
    std::string h;
    for (const std::string &c : columns_) {
      h += (h.empty() ? "" : ",") + csvCell(c);
    }
    return h + "\n";
  }
  std::string csvLine(const Row &r) const {
    std::string l;
    for (size_t i = 0; i < columns_.size(); ++i) {
      auto it = r.values.find(columns_[i]);
      l += (i ? "," : "") +
           (it == r.values.end() ? std::string() : csvCell(it->second));
    }
    return l + "\n";
  }
  std::string jsonLine(const Row &r) const {
    // Columns in their fixed order, so reruns write identical lines.
    std::string s;
    llvm::raw_string_ostream os(s);
    llvm::json::OStream j(os);
    j.object([&] {
      for (const std::string &c : columns_) {
        auto it = r.values.find(c);
        j.attribute(c, it == r.values.end() ? llvm::json::Value(nullptr)
                                            : jsonCell(it->second));
      }
    });
    os.flush();
    return s + "\n";
  }
  static void writeAll(int fd, const std::string &s) {
    size_t done = 0;
    while (done < s.size()) {
      ssize_t n = ::write(fd, s.data() + done, s.size() - done);
      if (n <= 0) {
        throw Error("cannot append to the results files");
      }
      done += size_t(n);
    }
  }

  fs::path dir_;
  std::vector<std::string> columns_;
  std::string specHash_;
  int jsonl_ = -1, csv_ = -1, detail_ = -1;
  std::mutex mutex_;
};

//===----------------------------------------------------------------------===//
// Progress line
//===----------------------------------------------------------------------===//

class Progress {
public:
  Progress(bool enabled) : enabled_(enabled), tty_(::isatty(2)) {}
  void start(std::string phase, uint64_t total) {
    std::lock_guard<std::mutex> lock(mutex_);
    phase_ = std::move(phase);
    total_ = total;
    done_ = 0;
    lastDecile_ = 0;
    start_ = Clock::now();
  }
  void step() {
    std::lock_guard<std::mutex> lock(mutex_);
    ++done_;
    if (!enabled_ || !total_) {
      return;
    }
    double elapsed =
        std::chrono::duration<double>(Clock::now() - start_).count();
    double eta = elapsed / double(done_) * double(total_ - done_);
    unsigned decile = unsigned(10 * done_ / total_);
    std::string line = fmt::format(
        "[sweep] {} {}/{} ({:.0f}%), {:.1f}/s, ETA {:.0f}:{:02.0f}", phase_,
        done_, total_, 100.0 * double(done_) / double(total_),
        double(done_) / std::max(elapsed, 1e-9), std::floor(eta / 60),
        std::fmod(eta, 60.0));
    if (tty_) {
      fmt::print(stderr, "\r{:<78}{}", line, done_ == total_ ? "\n" : "");
    } else if (decile != lastDecile_ || done_ == total_) {
      // Logs get a line per tenth, not a carriage-return storm.
      fmt::print(stderr, "{}\n", line);
    }
    lastDecile_ = decile;
  }

private:
  bool enabled_, tty_;
  std::mutex mutex_;
  std::string phase_;
  uint64_t total_ = 0, done_ = 0;
  unsigned lastDecile_ = 0;
  Clock::time_point start_;
};

//===----------------------------------------------------------------------===//
// The runner
//===----------------------------------------------------------------------===//

/// A workload's compiled NPU programs for one compiler config.
struct Compiled {
  bool ok = false;
  std::string error;
  std::vector<isa::Program> programs; ///< NPU partitions in order
  int64_t cpuOps = 0, npuOps = 0;
  /// The compile report's layers (nuri::driver::LayerInfo): their matrix
  /// FLOPs and the constant bytes they read.
  struct Layer {
    std::string name;
    uint64_t flops = 0, weightBytes = 0;
  };
  std::vector<Layer> layers;
  /// Per program, the layer (an index into `layers`) each kernel is billed
  /// to: every kernel ends with one chip-wide barrier, so the simulation's
  /// barrier releases time each layer at the point's own config.
  std::vector<std::vector<int>> kernelLayers;
  /// A decode workload: the family package (cache/programs/NAME-KEY.nuri)
  /// the generator runs on the sim device.
  std::string packagePath;
};

/// The generation metrics a decode workload adds to a row (docs/dse.md,
/// "Decode workloads"), as `nuri generate --device sim --json` names them.
const char *kGenerationMetrics[] = {"ttft_s",
                                    "tpot_s",
                                    "tokens_per_s",
                                    "tokens_per_s_per_user",
                                    "dram_bytes_per_token",
                                    "dram_roofline_fraction",
                                    "cpu_partitions_per_decode_step"};

/// The `.layers` cache file: one line per layer (`L name flops bytes`),
/// then one per program (`P kernels layer...`). Layer names are ONNX node
/// path prefixes (`encoder/layer.3`) and hold no spaces.
std::string layersText(const Compiled &c) {
  std::string s;
  for (const Compiled::Layer &l : c.layers) {
    s += fmt::format("L {} {} {}\n", l.name, l.flops, l.weightBytes);
  }
  for (const std::vector<int> &k : c.kernelLayers) {
    s += fmt::format("P {}", k.size());
    for (int l : k) {
      s += fmt::format(" {}", l);
    }
    s += "\n";
  }
  return s;
}

bool parseLayers(const std::string &text, Compiled &c) {
  std::istringstream in(text);
  std::string tag;
  while (in >> tag) {
    if (tag == "L") {
      Compiled::Layer l;
      if (!(in >> l.name >> l.flops >> l.weightBytes)) {
        return false;
      }
      c.layers.push_back(std::move(l));
    } else if (tag == "P") {
      size_t n = 0;
      if (!(in >> n)) {
        return false;
      }
      std::vector<int> k(n);
      for (int &l : k) {
        if (!(in >> l) || l < 0 || size_t(l) >= c.layers.size()) {
          return false;
        }
      }
      c.kernelLayers.push_back(std::move(k));
    } else {
      return false;
    }
  }
  return c.kernelLayers.size() == c.programs.size();
}

/// An MLIRContext with every workload imported and prepared (the graph
/// passes and the dtype conversion, which no axis changes: see
/// driver::prepareModule). MLIR never frees the attributes a context
/// uniques, so a context is dropped after kCompilesPerContext compiles and
/// the workloads are imported afresh. The weights (their f32 import and
/// their bf16 conversion) are most of a context; a compile that makes the
/// programs only leaves little behind: 64 bert-base compiles peaked at the
/// same 5.5 GB with 32 compiles per context as with 4, and imported 4
/// times instead of 16.
struct CompileContext {
  std::unique_ptr<mlir::MLIRContext> context;
  std::vector<mlir::OwningOpRef<mlir::ModuleOp>> modules; ///< per workload
  /// Per workload: why its graph stage failed (every compile of it fails
  /// the same way, and each point records it), empty when prepared.
  std::vector<std::string> prepareErrors;
  unsigned compiles = 0;
};
constexpr unsigned kCompilesPerContext = 32;

/// A point resolved before any compile.
struct Plan {
  uint64_t index = 0;
  Row row;
  target::Overrides overrides;
  std::map<std::string, double> vars; ///< axis and derived values
  std::optional<target::Target> target;
  std::vector<std::string> compileKeys; ///< per workload
  std::string detail; ///< the layers.jsonl line, once simulated
  /// The decode workloads' energy and DRAM traffic, from the sim device's
  /// counters (the point's detail line sums them with the others').
  sim::EnergyReport generationEnergy;
  double generationDramBytes = 0;
};

class Runner {
public:
  Runner(const Spec &spec, const SweepOptions &options)
      : spec_(spec), options_(options), dir_(options.outDir),
        cache_(options.cacheDir.empty() ? dir_ / "cache"
                                        : fs::path(options.cacheDir)),
        progress_(options.progress) {}

  SweepSummary run();

private:
  void prepareDirs();
  void writeManifest();
  void importWorkloads();
  void checkDecoder(const Workload &w, const std::string &path) const;
  Compiled compileFamily(size_t workload, const std::string &key,
                         CompileContext &ctx);
  bool simulateGeneration(Plan &p, size_t workload, const Compiled &c,
                          std::string &error);
  std::vector<std::string> columns() const;
  std::vector<uint64_t> searchPoints() const;
  Plan resolve(uint64_t index);
  void compileAll(std::vector<Plan> &plans);
  Compiled compileOne(size_t workload, const std::string &key);
  void simulate(Plan &plan);
  std::vector<uint64_t> runOnSlurm(std::vector<Plan> &plans);
  std::vector<uint64_t> tracePointList(const SweepSummary &s) const;
  unsigned writeTraces(const std::vector<uint64_t> &points);
  bool imported_ = false;
  std::map<uint64_t, std::pair<Row, std::string>>
  readShards(const std::set<uint64_t> &wanted);
  void finishRow(Row &row) const;
  std::optional<double> configValue(const std::string &key) const;

  const Spec &spec_;
  const SweepOptions &options_;
  fs::path dir_, cache_;
  Progress progress_;
  std::unique_ptr<CompileContext> newContext();
  /// An idle context from the pool, or a new one when the pool is empty or
  /// the idle one has served its compiles.
  std::unique_ptr<CompileContext> takeContext();
  std::vector<std::string> workloadPaths_;
  unsigned workers_ = 1;
  /// Idle compile contexts; a compile takes one (or makes one) and gives it
  /// back, until it has served kCompilesPerContext compiles.
  std::mutex poolMutex_;
  std::vector<std::unique_ptr<CompileContext>> pool_;
  std::atomic<uint64_t> imports_{0};
  std::map<std::string, double> baseValues_;
  std::string commit_;
  std::map<std::string, std::string> compileYaml_; ///< key -> config text
  std::map<std::string, std::pair<size_t, std::string>> compileJobs_;
  std::map<std::string, Compiled> compiled_;
  std::unique_ptr<ResultsFiles> results_;
  std::set<std::string> metricNames_;
  std::atomic<uint64_t> compiledCount_{0}, cacheHits_{0};
  std::string slurmFailure_; ///< why the last SLURM batch left points out
};

/// DIR/sweep.json: what `nuri report` needs to know of the spec (which
/// columns are axes, the objectives, the column order of the results).
void Runner::writeManifest() {
  std::string s;
  llvm::raw_string_ostream os(s);
  llvm::json::OStream j(os, 1);
  j.object([&] {
    j.attribute("name", spec_.name);
    j.attribute("spec", spec_.path);
    j.attribute("spec_hash", spec_.hash);
    j.attribute("target", spec_.target);
    j.attribute("search", spec_.search.kind == SearchKind::Grid     ? "grid"
                          : spec_.search.kind == SearchKind::Random ? "random"
                                                                    : "nsga2");
    j.attributeArray("axes", [&] {
      for (const Axis &a : spec_.axes) {
        j.object([&] {
          j.attribute("key", a.key);
          j.attributeArray("values", [&] {
            for (const std::string &v : a.values) {
              j.value(v);
            }
          });
        });
      }
    });
    j.attributeArray("derived", [&] {
      for (const Derived &d : spec_.derived) {
        j.value(d.key);
      }
    });
    j.attributeArray("objectives", [&] {
      for (const Objective &o : spec_.objectives) {
        j.object([&] {
          j.attribute("expr", o.expr.text());
          j.attribute("sense", o.maximize ? "maximize" : "minimize");
        });
      }
    });
    j.attributeArray("workloads", [&] {
      for (const Workload &w : spec_.workloads) {
        j.value(w.name);
      }
    });
    j.attributeArray("columns", [&] {
      for (const std::string &c : columns()) {
        j.value(c);
      }
    });
  });
  os.flush();
  writeFileAtomic(dir_ / "sweep.json", s + "\n");
}

void Runner::prepareDirs() {
  std::error_code ec;
  for (fs::path sub :
       {dir_, cache_ / "configs", cache_ / "programs", cache_ / "workloads"}) {
    fs::create_directories(sub, ec);
    if (ec) {
      throw Error(
          fmt::format("{}: cannot create: {}", sub.string(), ec.message()));
    }
  }
  // Compiles name their config through the config search path (the
  // driver's CompileOptions::target is a config name); the sweep's own
  // configs come first. Set once, before any thread starts.
  std::string path = fs::absolute(cache_ / "configs").string();
  if (const char *old = std::getenv("NURI_CONFIG_PATH")) {
    path += std::string(":") + old;
  }
  ::setenv("NURI_CONFIG_PATH", path.c_str(), 1);
}

std::unique_ptr<CompileContext> Runner::takeContext() {
  std::unique_ptr<CompileContext> ctx;
  {
    std::lock_guard<std::mutex> lock(poolMutex_);
    if (!pool_.empty()) {
      ctx = std::move(pool_.back());
      pool_.pop_back();
    }
  }
  if (!ctx || ctx->compiles >= kCompilesPerContext) {
    ctx.reset(); // free the old one before importing into a new one
    ctx = newContext();
  }
  return ctx;
}

std::unique_ptr<CompileContext> Runner::newContext() {
  auto c = std::make_unique<CompileContext>();
  mlir::DialectRegistry registry;
  driver::registerDialects(registry);
  c->context = std::make_unique<mlir::MLIRContext>(registry);
  c->context->loadAllAvailableDialects();
  // One thread compiles in a context at a time; with several workers the
  // parallelism is across points, not inside one compile.
  if (workers_ > 1) {
    c->context->disableMultithreading();
  }
  c->context->printOpOnDiagnostic(false);
  c->context->getDiagEngine().registerHandler([](mlir::Diagnostic &d) {
    if (tlsDiagnostics) {
      *tlsDiagnostics += d.str() + "\n";
    }
    return mlir::success();
  });
  for (size_t w = 0; w < spec_.workloads.size(); ++w) {
    if (spec_.workloads[w].generation) {
      // A family imports the decoder once per bucket, with the bucket's
      // shapes (driver::compileGenerationFamily): nothing to share here.
      c->modules.emplace_back();
      c->prepareErrors.emplace_back();
      continue;
    }
    OnnxImportOptions io;
    io.inputShapes = spec_.workloads[w].inputShapes;
    io.allowUnsupported = true; // the CPU runs what the NPU does not
    std::string diags;
    tlsDiagnostics = &diags;
    mlir::OwningOpRef<mlir::ModuleOp> m =
        importOnnxFile(*c->context, workloadPaths_[w], io);
    tlsDiagnostics = nullptr;
    ++imports_;
    if (!m) {
      throw Error(fmt::format("workload `{}`: {}: {}", spec_.workloads[w].name,
                              workloadPaths_[w], diags));
    }
    bool prepared = true;
    if (options_.shareCompileStages) {
      driver::CompileOptions o;
      o.dtype = spec_.workloads[w].dtype;
      diags.clear();
      tlsDiagnostics = &diags;
      prepared = mlir::succeeded(driver::prepareModule(*m, o));
      tlsDiagnostics = nullptr;
    }
    c->prepareErrors.push_back(
        prepared ? std::string()
        : diags.empty()
            ? std::string("the compiler failed without a diagnostic")
            : diags.substr(0, diags.find('\n')));
    c->modules.push_back(std::move(m));
  }
  return c;
}

/// A decode workload's model must have a KV cache and enough positions for
/// its scenario: otherwise every point would fail the same way, so the spec
/// is wrong (the error names the workload and the key).
void Runner::checkDecoder(const Workload &w, const std::string &path) const {
  llvm::Expected<std::vector<OnnxGraphInput>> inputs =
      readOnnxGraphInputs(path);
  if (!inputs) {
    throw Error(fmt::format("{}: workload `{}`: {}", spec_.path, w.name,
                            llvm::toString(inputs.takeError())));
  }
  bool past = false;
  for (const OnnxGraphInput &in : *inputs) {
    past |= llvm::StringRef(in.name).starts_with("past");
  }
  if (!past) {
    throw Error(fmt::format(
        "{}: workload `{}`: `generation` needs a decoder exported with its "
        "KV cache (past_key_values.N.key/value inputs and present outputs, "
        "optimum's decoder_with_past layout; `nuri zoo NAME --with-past`), "
        "and {} has no past input",
        spec_.path, w.name, path));
  }
  llvm::Expected<int64_t> positions = readOnnxMaxPositions(path);
  if (!positions) {
    throw Error(fmt::format("{}: workload `{}`: {}", spec_.path, w.name,
                            llvm::toString(positions.takeError())));
  }
  const GenerationScenario &g = *w.generation;
  if (*positions > 0 && g.promptLen + g.newTokens > *positions) {
    throw Error(fmt::format(
        "{}: workload `{}`: generation.prompt_len + generation.new_tokens = "
        "{} + {} = {} is beyond the model's {} positions",
        spec_.path, w.name, g.promptLen, g.newTokens, g.promptLen + g.newTokens,
        *positions));
  }
}

void Runner::importWorkloads() {
  for (const Workload &w : spec_.workloads) {
    std::string path = w.onnx;
    if (!w.zoo.empty()) {
      path = (cache_ / "workloads" / (w.name + ".onnx")).string();
      if (options_.workerPoints && fs::exists(path)) {
        // A SLURM task reads what the submitting process wrote before it
        // submitted; rewriting it here would race the other tasks' reads.
        workloadPaths_.push_back(path);
        continue;
      }
      zoo::BuildOptions b;
      b.layers = w.layers;
      b.withPast = bool(w.generation);
      std::string error;
      std::unique_ptr<zoo::Model> m = zoo::buildModel(w.zoo, b, error);
      if (!m || !zoo::writeModel(*m, path, {}, error)) {
        throw Error(fmt::format("workload `{}`: {}", w.name, error));
      }
    }
    workloadPaths_.push_back(path);
    if (w.generation) {
      checkDecoder(w, path);
    }
  }
  // The first context imports every workload up front, so a workload that
  // does not import is an error before any point runs.
  pool_.push_back(newContext());
}

std::vector<std::string> Runner::columns() const {
  std::vector<std::string> c = {"point", "point_id", "status"};
  for (const Axis &a : spec_.axes) {
    c.push_back(a.key);
  }
  for (const Derived &d : spec_.derived) {
    c.push_back(d.key);
  }
  for (const char *m :
       {"area_mm2", "cycles", "latency_s", "energy_j", "average_power_w"}) {
    c.push_back(m);
  }
  for (const char *comp : kComponents) {
    c.push_back(std::string("energy_j.") + comp);
  }
  for (const Workload &w : spec_.workloads) {
    for (const char *m : {"cycles", "latency_s", "energy_j", "cpu_ops"}) {
      c.push_back(w.name + "." + m);
    }
    if (w.generation) {
      for (const char *m : kGenerationMetrics) {
        c.push_back(w.name + "." + m);
      }
    }
  }
  for (const char *p :
       {"reason", "config_hash", "spec_hash", "nuri_version", "git_commit"}) {
    c.push_back(p);
  }
  return c;
}

std::vector<uint64_t> Runner::searchPoints() const {
  uint64_t n = spec_.gridSize();
  std::vector<uint64_t> points;
  if (spec_.search.kind == SearchKind::Grid) {
    if (n > 100'000'000) {
      throw Error(fmt::format("{}: the grid has {} points; use `search: "
                              "{{random: N}}` or nsga2",
                              spec_.path, n));
    }
    for (uint64_t i = 0; i < n; ++i) {
      points.push_back(i);
    }
    return points;
  }
  // random: distinct points drawn with a fixed generator and seed, so a
  // rerun (or a resume) visits the same ones.
  uint64_t want = std::min(spec_.search.count, n);
  std::mt19937_64 rng(spec_.search.seed);
  std::set<uint64_t> seen;
  while (seen.size() < want) {
    seen.insert(rng() % n);
  }
  return {seen.begin(), seen.end()};
}

/// Every numeric key of the base config, `section.key` -> value: what
/// expressions read for keys no axis sets. Flattened once, before threads
/// start (yaml-cpp nodes are not safe to read from several threads).
void flatten(const YAML::Node &n, const std::string &prefix,
             std::map<std::string, double> &out) {
  if (n.IsMap()) {
    for (auto it = n.begin(); it != n.end(); ++it) {
      std::string k = it->first.as<std::string>();
      flatten(it->second, prefix.empty() ? k : prefix + "." + k, out);
    }
  } else if (n.IsScalar()) {
    Result<double> v = target::parseQuantity(n.as<std::string>());
    if (v) {
      out[prefix] = *v;
    }
  }
}

std::optional<double> Runner::configValue(const std::string &key) const {
  auto it = baseValues_.find(key);
  return it == baseValues_.end() ? std::nullopt
                                 : std::optional<double>(it->second);
}

Plan Runner::resolve(uint64_t index) {
  Plan p;
  p.index = index;
  Row &r = p.row;
  r.index = index;
  r.values["point"] = double(index);
  // Mixed radix, the last axis fastest.
  std::vector<size_t> choice(spec_.axes.size());
  uint64_t rest = index;
  for (size_t a = spec_.axes.size(); a-- > 0;) {
    choice[a] = rest % spec_.axes[a].values.size();
    rest /= spec_.axes[a].values.size();
  }
  std::string identity;
  for (size_t a = 0; a < spec_.axes.size(); ++a) {
    const Axis &axis = spec_.axes[a];
    const std::string &v = axis.values[choice[a]];
    p.overrides.push_back(axis.key + "=" + v);
    identity += axis.key + "=" + v + "\n";
    Result<double> num = target::parseQuantity(v);
    if (num) {
      p.vars[axis.key] = *num;
      r.values[axis.key] = *num;
    } else {
      r.values[axis.key] = v;
    }
  }
  r.values["point_id"] = hashHex(identity);
  auto lookup = [&](const std::string &name) -> std::optional<double> {
    auto it = p.vars.find(name);
    if (it != p.vars.end()) {
      return it->second;
    }
    return configValue(name);
  };
  for (const Derived &d : spec_.derived) {
    Result<double> v = d.expr.evaluate(lookup);
    if (!v) {
      throw Error(fmt::format("{}: derived `{}` = `{}`: {}", spec_.path, d.key,
                              d.expr.text(), v.error()));
    }
    p.vars[d.key] = *v;
    r.values[d.key] = *v;
    std::string text = std::fabs(*v) < 9e15 && *v == std::floor(*v)
                           ? fmt::format("{}", int64_t(*v))
                           : fmt::format("{:.17g}", *v);
    p.overrides.push_back(d.key + "=" + text);
  }
  Result<target::Target> t = target::loadTargetYaml(
      spec_.targetText, fmt::format("point {}", index), p.overrides);
  if (!t) {
    r.status = "invalid";
    r.values["reason"] = t.error();
    return p;
  }
  p.target = *t;
  double area = target::areaOf(*t).total;
  if (t->area.present) {
    p.vars["area_mm2"] = area;
    r.values["area_mm2"] = area;
  }
  Result<std::string> full = target::applyOverridesToYaml(
      spec_.targetText, spec_.targetPath, p.overrides);
  r.values["config_hash"] = hashHex(*full);
  // Constraints on the config alone skip the compile.
  for (const Expr &c : spec_.constraints) {
    bool onResults = false;
    for (const std::string &n : c.names()) {
      onResults |= metricNames_.count(n) && n != "area_mm2";
    }
    if (onResults) {
      continue;
    }
    Result<double> v = c.evaluate(lookup);
    if (!v) {
      throw Error(fmt::format("{}: constraint `{}`: {}", spec_.path, c.text(),
                              v.error()));
    }
    if (*v == 0) {
      r.status = "infeasible";
      r.values["reason"] = "constraint `" + c.text() + "` fails";
      return p;
    }
  }
  // What the compiler sees: every key it reads. `energy:` and `area:` are
  // read by nothing in the compiler; resimulate_only keys stay at the base.
  target::Overrides forCompiler;
  for (const std::string &o : p.overrides) {
    std::string key = o.substr(0, o.find('='));
    bool pinned =
        std::find(spec_.resimulateOnly.begin(), spec_.resimulateOnly.end(),
                  key) != spec_.resimulateOnly.end();
    if (!pinned && key.rfind("energy.", 0) != 0 && key.rfind("area.", 0) != 0) {
      forCompiler.push_back(o);
    }
  }
  Result<std::string> yaml = target::applyOverridesToYaml(
      spec_.targetText, spec_.targetPath, forCompiler);
  for (size_t w = 0; w < spec_.workloads.size(); ++w) {
    const Workload &wl = spec_.workloads[w];
    // A family package carries its config, and the sim device times and
    // charges energy by it: a decode workload compiles with every key the
    // point sets (resimulate_only does not apply to it).
    const std::string &forThis = wl.generation ? *full : *yaml;
    std::string scenario =
        wl.generation
            ? fmt::format("gen {} {} {}", wl.generation->promptLen,
                          wl.generation->newTokens, wl.generation->batch)
            : std::string();
    std::string shapes;
    for (auto &[k, v] : wl.inputShapes) {
      shapes += k + ":";
      for (int64_t d : v) {
        shapes += std::to_string(d) + ",";
      }
    }
    std::string key = hashHex(fmt::format("{}\n{}\n{}\n{}\n{}\n{}\n{}\n{}",
                                          wl.name, wl.zoo, wl.onnx, wl.layers,
                                          shapes, wl.dtype, commit_, scenario) +
                              forThis);
    compileYaml_[key] = forThis;
    compileJobs_.emplace(key, std::make_pair(w, key));
    p.compileKeys.push_back(key);
  }
  return p;
}

Compiled Runner::compileFamily(size_t w, const std::string &key,
                               CompileContext &ctx) {
  const Workload &wl = spec_.workloads[w];
  const GenerationScenario &sc = *wl.generation;
  fs::path base = cache_ / "programs" / (wl.name + "-" + key);
  fs::path pkg = base, err = base;
  pkg += ".nuri";
  err += ".error";
  Compiled c;
  // The family is the smallest that serves the scenario: one prefill
  // bucket of the prompt's length, decode programs of the scenario's batch
  // (all requests are in flight at once, so that is also the cache's
  // slots), and the default context buckets up to prompt + new tokens.
  driver::GenerateOptions g;
  g.maxSeq = sc.promptLen + sc.newTokens;
  g.prefillBuckets = {sc.promptLen};
  g.decodeBatch = {sc.batch};
  driver::CompileOptions o;
  o.target = "c" + key; // DIR/cache/configs/c<key>.yaml, on the search path
  o.dtype = wl.dtype;
  o.producer = "nuri sweep";
  OnnxImportOptions io;
  io.inputShapes = wl.inputShapes;
  io.allowUnsupported = true; // the KV-cache ops may run on the CPU
  std::string diags;
  tlsDiagnostics = &diags;
  mlir::FailureOr<driver::CompileResult> r = driver::compileGenerationFamily(
      *ctx.context, workloadPaths_[w], io, o, g);
  tlsDiagnostics = nullptr;
  // Each program of the family imported the decoder into the context.
  if (llvm::Expected<driver::GenerateOptions> b = driver::resolveBuckets(g)) {
    size_t programs = b->prefillBuckets.size() +
                      b->decodeBatch.size() * b->contextBuckets.size();
    ctx.compiles += unsigned(programs);
    imports_ += programs;
  } else {
    llvm::consumeError(b.takeError());
  }
  ++compiledCount_;
  if (failed(r)) {
    c.error = diags.empty() ? "the compiler failed without a diagnostic"
                            : diags.substr(0, diags.find('\n'));
    writeFileAtomic(err, c.error);
    return c;
  }
  c.cpuOps = r->report.cpuOps;
  c.npuOps = r->report.npuOps;
  // The op counts first: the package is what marks the entry complete.
  fs::path meta = base;
  meta += ".meta";
  writeFileAtomic(meta, fmt::format("{} {}\n", c.cpuOps, c.npuOps));
  writeFileAtomic(pkg, std::string(r->package.begin(), r->package.end()));
  c.packagePath = pkg.string();
  c.ok = true;
  return c;
}

Compiled Runner::compileOne(size_t w, const std::string &key) {
  const Workload &wl = spec_.workloads[w];
  if (wl.generation) {
    fs::path base = cache_ / "programs" / (wl.name + "-" + key);
    fs::path pkg = base, err = base;
    pkg += ".nuri";
    err += ".error";
    // Written whole (through a rename), so an existing file is complete.
    if (fs::exists(err) || fs::exists(pkg)) {
      Compiled c;
      if (fs::exists(err)) {
        ++cacheHits_;
        c.error = readFile(err);
        return c;
      }
      fs::path meta = base;
      meta += ".meta";
      std::istringstream in(readFile(meta));
      if (in >> c.cpuOps >> c.npuOps) {
        ++cacheHits_;
        c.ok = true;
        c.packagePath = pkg.string();
        return c;
      }
      // No op counts beside the package: compile again.
    }
    std::unique_ptr<CompileContext> ctx = takeContext();
    Compiled c = compileFamily(w, key, *ctx);
    std::lock_guard<std::mutex> lock(poolMutex_);
    pool_.push_back(std::move(ctx));
    return c;
  }
  // The cache keeps the NPU programs only (a few MB), not the package: its
  // weight blob is the same for every point and would cost hundreds of MB
  // of disk per point on bert-base.
  fs::path base = cache_ / "programs" / (wl.name + "-" + key);
  auto file = [&](const std::string &suffix) {
    fs::path p = base;
    p += suffix;
    return p;
  };
  Compiled c;
  auto load = [&]() -> bool {
    if (fs::exists(file(".error"))) {
      c.error = readFile(file(".error"));
      return true;
    }
    std::istringstream meta(readFile(file(".meta")));
    size_t count = 0;
    if (!(meta >> c.cpuOps >> c.npuOps >> count)) {
      return false;
    }
    for (size_t i = 0; i < count; ++i) {
      Result<isa::Program> p =
          isa::readProgramFile(file(fmt::format(".{}.bin", i)).string());
      if (!p) {
        c.programs.clear();
        return false; // a damaged cache entry: compile again
      }
      c.programs.push_back(std::move(*p));
    }
    if (!parseLayers(readFile(file(".layers")), c)) {
      c.programs.clear();
      c.layers.clear();
      c.kernelLayers.clear();
      return false; // an entry from before per-layer figures: compile again
    }
    c.ok = true;
    return true;
  };
  if (load()) {
    ++cacheHits_;
    return c;
  }
  std::string diags;
  driver::CompileOptions o;
  o.target = "c" + key; // DIR/cache/configs/c<key>.yaml, on the search path
  o.dtype = wl.dtype;
  o.producer = "nuri sweep";
  if (options_.shareCompileStages) {
    // The programs and the report only: no package, no weight bytes; the
    // context's modules went through prepareModule.
    o.emit = driver::Emit::Programs;
    o.prepared = true;
  }
  std::unique_ptr<CompileContext> ctx = takeContext();
  mlir::FailureOr<driver::CompileResult> r = mlir::failure();
  tlsDiagnostics = &diags; // after newContext, which uses it too
  if (!ctx->prepareErrors[w].empty()) {
    diags = ctx->prepareErrors[w];
  } else {
    mlir::OwningOpRef<mlir::ModuleOp> module = ctx->modules[w]->clone();
    r = driver::compileModule(*module, o);
  }
  ++ctx->compiles;
  {
    std::lock_guard<std::mutex> lock(poolMutex_);
    pool_.push_back(std::move(ctx));
  }
  tlsDiagnostics = nullptr;
  ++compiledCount_;
  if (failed(r)) {
    // Deterministic: the same compile fails the same way on a resume.
    c.error = diags.empty() ? "the compiler failed without a diagnostic"
                            : diags.substr(0, diags.find('\n'));
    writeFileAtomic(file(".error"), c.error);
    return c;
  }
  if (options_.shareCompileStages) {
    c.programs = std::move(r->programs);
  } else {
    // Straight from the compiler's bytes: no copy, no checksum pass over
    // the weight blob.
    package::ReadOptions ro;
    ro.verifyChecksums = false;
    Result<package::Package> pkg =
        package::readPackage(r->package.data(), r->package.size(), ro);
    if (!pkg) {
      c.error = "the compiled package does not read back: " + pkg.error();
      return c;
    }
    for (package::Partition &part : pkg->partitions) {
      if (part.kind == package::PartitionKind::Npu) {
        c.programs.push_back(std::move(part.program));
      }
    }
  }
  c.cpuOps = r->report.cpuOps;
  c.npuOps = r->report.npuOps;
  // Kernel -> layer, per NPU partition (report.partitions lists the
  // partitions in package order, so its NPU ones match c.programs).
  std::map<std::string, int> layerIndex;
  for (const driver::LayerInfo &l : r->report.layers) {
    layerIndex[l.name] = int(c.layers.size());
    c.layers.push_back({l.name, l.flops, l.weightBytes});
  }
  std::map<std::string, size_t> programOf;
  for (const driver::PartitionInfo &pi : r->report.partitions) {
    if (pi.npu) {
      programOf.emplace(pi.name, programOf.size());
    }
  }
  c.kernelLayers.resize(c.programs.size());
  for (const driver::OpEstimate &e : r->report.opEstimates) {
    auto p = programOf.find(e.partition);
    auto l = layerIndex.find(e.layer);
    if (p == programOf.end() || p->second >= c.programs.size() ||
        l == layerIndex.end()) {
      continue;
    }
    std::vector<int> &k = c.kernelLayers[p->second];
    if (k.size() < e.firstKernel + e.kernelCount) {
      k.resize(e.firstKernel + e.kernelCount, l->second);
    }
    for (unsigned i = e.firstKernel; i < e.firstKernel + e.kernelCount; ++i) {
      k[i] = l->second;
    }
  }
  c.ok = true;
  for (size_t i = 0; i < c.programs.size(); ++i) {
    Result<std::vector<uint8_t>> bytes = isa::encodeProgram(c.programs[i]);
    if (bytes) {
      writeFileAtomic(file(fmt::format(".{}.bin", i)),
                      std::string(bytes->begin(), bytes->end()));
    }
  }
  writeFileAtomic(file(".layers"), layersText(c));
  // The meta file last: an entry without it is incomplete and recompiles.
  writeFileAtomic(file(".meta"), fmt::format("{} {} {}\n", c.cpuOps, c.npuOps,
                                             c.programs.size()));
  return c;
}

void Runner::compileAll(std::vector<Plan> &plans) {
  std::vector<std::string> keys;
  std::set<std::string> needed;
  for (const Plan &p : plans) {
    if (p.row.status.empty()) {
      needed.insert(p.compileKeys.begin(), p.compileKeys.end());
    }
  }
  for (const std::string &k : needed) {
    if (!compiled_.count(k)) {
      keys.push_back(k);
      writeFileAtomic(cache_ / "configs" / ("c" + k + ".yaml"),
                      compileYaml_.at(k));
    }
  }
  if (keys.empty()) {
    return;
  }
  progress_.start("compiling", keys.size());
  std::vector<Compiled> out(keys.size());
  std::vector<size_t> order(keys.size());
  for (size_t i = 0; i < keys.size(); ++i) {
    order[i] = i;
  }
  tbb::parallel_for_each(order.begin(), order.end(), [&](size_t i) {
    out[i] = compileOne(compileJobs_.at(keys[i]).first, keys[i]);
    progress_.step();
  });
  for (size_t i = 0; i < keys.size(); ++i) {
    compiled_[keys[i]] = std::move(out[i]);
  }
}

/// A decode workload at one point: the family runs through the runtime's
/// generator on the sim device (functional and timed by the package's
/// config, which is the point's), `batch` requests of synthetic prompts
/// queued at once, greedy, exactly `new_tokens` each. The metrics are the
/// ones `nuri generate --device sim --json` prints, computed the same way.
bool Runner::simulateGeneration(Plan &p, size_t w, const Compiled &c,
                                std::string &error) {
  const Workload &wl = spec_.workloads[w];
  const GenerationScenario &sc = *wl.generation;
  Row &r = p.row;
  try {
    nuri::Model model = nuri::Model::loadFile(c.packagePath);
    int64_t vocab = 0;
    for (const nuri::ProgramInfo &prog : model.programs()) {
      for (const nuri::TensorInfo &t : prog.outputs) {
        if (t.name == "logits" && !t.shape.empty()) {
          vocab = t.shape.back();
        }
      }
    }
    if (vocab < 2) {
      error = "the family has no `logits` output to generate from";
      return false;
    }
    // One thread per session: the sweep runs points in parallel.
    nuri::Session session(model, "sim", nuri::SessionOptions{1, false, false});
    nuri::GeneratorOptions go;
    go.maxNewTokens = uint32_t(sc.newTokens);
    nuri::Generator gen(session, go);
    // Synthetic prompts: fixed ids (a multiplicative hash of request and
    // position), so every rerun feeds the same tokens. Timing does not
    // depend on the ids; the greedy continuation is what the sim computes.
    std::vector<uint64_t> ids;
    for (int64_t q = 0; q < sc.batch; ++q) {
      std::vector<int64_t> prompt;
      for (int64_t i = 0; i < sc.promptLen; ++i) {
        uint64_t h = (uint64_t(q) * 1000003u + uint64_t(i)) * 2654435761u;
        prompt.push_back(int64_t(1 + (h >> 7) % uint64_t(vocab - 1)));
      }
      ids.push_back(gen.addRequest(prompt));
    }
    gen.run([](uint64_t, int64_t, bool) {});
    double generated = 0;
    for (uint64_t id : ids) {
      generated += double(gen.request(id).tokens.size());
    }
    double prefillS = gen.counter("prefill", "device_seconds");
    double decodeS = gen.counter("decode", "device_seconds");
    double steps = gen.counter("decode", "steps");
    double decoded = gen.counter("decode", "tokens");
    double dram = gen.counter("decode", "dram_bytes");
    auto set = [&](const char *m, double v) {
      r.values[wl.name + "." + m] = v;
    };
    set("cycles",
        gen.counter("prefill", "cycles") + gen.counter("decode", "cycles"));
    set("latency_s", prefillS + decodeS);
    set("cpu_ops", double(c.cpuOps));
    set("ttft_s", prefillS / double(ids.size()));
    set("tpot_s", steps > 0 ? decodeS / steps : 0.0);
    set("tokens_per_s",
        prefillS + decodeS > 0 ? generated / (prefillS + decodeS) : 0.0);
    set("tokens_per_s_per_user", decodeS > 0 ? steps / decodeS : 0.0);
    set("dram_bytes_per_token", decoded > 0 ? dram / decoded : 0.0);
    if (decodeS > 0 && p.target->dram.bytesPerSecond > 0) {
      set("dram_roofline_fraction",
          dram / p.target->dram.bytesPerSecond / decodeS);
    }
    // Partitions the chip does not run (the KV-cache ops while they are
    // on the CPU): their host time is in none of the figures above.
    set("cpu_partitions_per_decode_step",
        steps > 0 ? (gen.counter("decode", "partitions_run") -
                     gen.counter("decode", "npu_partitions_run")) /
                        steps
                  : 0.0);
    sim::EnergyReport e;
    e.modeled = p.target->energy.present;
    e.seconds = prefillS + decodeS;
    for (const char *comp : kComponents) {
      std::string name = std::string("energy_j.") + comp;
      e.joules.push_back(
          {comp, gen.counter("prefill", name) + gen.counter("decode", name)});
    }
    if (e.modeled) {
      set("energy_j", e.totalJoules());
    }
    p.generationEnergy = e;
    p.generationDramBytes = gen.counter("prefill", "dram_bytes") + dram;
  } catch (const std::exception &ex) {
    error = ex.what();
    return false;
  }
  return true;
}

void Runner::simulate(Plan &p) {
  Row &r = p.row;
  double cycles = 0, seconds = 0;
  sim::EnergyReport energy;
  std::string firstError;
  bool allOk = true;
  std::string status;
  // Per-layer cycles from each program's barrier releases, and what the
  // simulator reports chip-wide (docs/dse.md, "How to read the report").
  struct LayerCycles {
    std::string workload, name;
    uint64_t cycles = 0, flops = 0, weightBytes = 0;
    /// The simulator's counters over the layer's kernels (kernelStats).
    sim::Report::KernelCounters counters;
  };
  // Adds `b - a` (cumulative counters) into `into`.
  auto addSpan = [](sim::Report::KernelCounters &into,
                    const sim::Report::KernelCounters &a,
                    const sim::Report::KernelCounters &b) {
    for (unsigned e = 0; e < isa::kNumEngines; ++e) {
      into.busyCycles[e] += b.busyCycles[e] - a.busyCycles[e];
    }
    for (auto &[why, n] : b.stalls) {
      auto it = a.stalls.find(why);
      uint64_t d = n - (it == a.stalls.end() ? 0 : it->second);
      if (d) {
        into.stalls[why] += d;
      }
    }
    into.dramBytes += b.dramBytes - a.dramBytes;
    into.nocBytes += b.nocBytes - a.nocBytes;
  };
  std::vector<LayerCycles> layers;
  std::map<std::string, size_t> layerAt;
  uint64_t busy[isa::kNumEngines] = {}, macs = 0, dramBytes = 0, nocBytes = 0;
  std::map<std::string, uint64_t> stalls;
  for (size_t w = 0; w < spec_.workloads.size(); ++w) {
    const Workload &wl = spec_.workloads[w];
    const Compiled &c = compiled_.at(p.compileKeys[w]);
    if (!c.ok) {
      allOk = false;
      status = status.empty() ? "compile_error" : status;
      firstError = firstError.empty() ? wl.name + ": " + c.error : firstError;
      continue;
    }
    if (wl.generation) {
      std::string error;
      if (!simulateGeneration(p, w, c, error)) {
        allOk = false;
        status = status.empty() ? "sim_error" : status;
        firstError = firstError.empty() ? wl.name + ": " + error : firstError;
        continue;
      }
      cycles += std::get<double>(r.values[wl.name + ".cycles"]);
      seconds += std::get<double>(r.values[wl.name + ".latency_s"]);
      if (p.generationEnergy.modeled) {
        energy.add(p.generationEnergy);
      }
      dramBytes += uint64_t(p.generationDramBytes);
      continue;
    }
    double wc = 0, ws = 0;
    sim::EnergyReport we;
    bool simOk = true;
    auto layerSlot = [&](const std::string &name) -> LayerCycles & {
      auto [it, fresh] = layerAt.emplace(wl.name + "\n" + name, layers.size());
      if (fresh) {
        LayerCycles layer;
        layer.workload = wl.name;
        layer.name = name;
        layers.push_back(std::move(layer));
      }
      return layers[it->second];
    };
    for (const Compiled::Layer &l : c.layers) {
      LayerCycles &lc = layerSlot(l.name);
      lc.flops = l.flops;
      lc.weightBytes = l.weightBytes;
    }
    for (size_t pi = 0; pi < c.programs.size(); ++pi) {
      const isa::Program &prog = c.programs[pi];
      sim::SimOptions so;
      so.functional = false;
      // The compiler's programs pass npu-verify-sync; the race detector
      // only costs time here.
      so.detectRaces = false;
      so.kernelStats = true; // per-layer engine, sync and traffic shares
      sim::Simulator sim(*p.target, so);
      Result<sim::Report> rep = sim.run(prog);
      if (!rep) {
        simOk = false;
        firstError =
            firstError.empty() ? wl.name + ": " + rep.error() : firstError;
        break;
      }
      wc += double(rep->cycles.count());
      ws += rep->seconds.value();
      const std::vector<int> &kl = c.kernelLayers[pi];
      const std::vector<uint64_t> &rel = rep->barrierReleases;
      uint64_t billed = 0;
      sim::Report::KernelCounters before;
      if (rel.size() == kl.size() && rep->kernelStats.size() == rel.size()) {
        for (size_t k = 0; k < rel.size(); ++k) {
          LayerCycles &lc = layerSlot(c.layers[kl[k]].name);
          lc.cycles += rel[k] - billed;
          billed = rel[k];
          addSpan(lc.counters, before, rep->kernelStats[k]);
          before = rep->kernelStats[k];
        }
      }
      // After the last kernel's barrier (or all of it, if the program's
      // kernels do not match the compile's): billed to no layer.
      sim::Report::KernelCounters total;
      for (const sim::CoreStats &cs : rep->cores) {
        for (unsigned e = 0; e < isa::kNumEngines; ++e) {
          total.busyCycles[e] += cs.engines[e].busyCycles;
        }
      }
      total.stalls = rep->stalls;
      total.dramBytes = rep->dramBytes();
      total.nocBytes = rep->nocBytes;
      if (uint64_t(rep->cycles.count()) > billed) {
        LayerCycles &lc = layerSlot("(unattributed)");
        lc.cycles += rep->cycles.count() - billed;
        addSpan(lc.counters, before, total);
      }
      for (const sim::CoreStats &cs : rep->cores) {
        for (unsigned e = 0; e < isa::kNumEngines; ++e) {
          busy[e] += cs.engines[e].busyCycles;
        }
      }
      for (auto &[why, n] : rep->stalls) {
        stalls[why] += n;
      }
      macs += rep->macs;
      dramBytes += rep->dramBytes();
      nocBytes += rep->nocBytes;
      we.add(sim::estimateEnergy(*rep, *p.target,
                                 wl.dtype == "fp16" ? isa::Dtype::F16
                                                    : isa::Dtype::BF16));
    }
    if (!simOk) {
      allOk = false;
      status = status.empty() ? "sim_error" : status;
      continue;
    }
    r.values[wl.name + ".cycles"] = wc;
    r.values[wl.name + ".latency_s"] = ws;
    r.values[wl.name + ".cpu_ops"] = double(c.cpuOps);
    if (we.modeled) {
      r.values[wl.name + ".energy_j"] = we.totalJoules();
    }
    cycles += wc;
    seconds += ws;
    energy.add(we);
  }
  if (!allOk) {
    r.status = status;
    r.values["reason"] = firstError;
    return;
  }
  r.values["cycles"] = cycles;
  r.values["latency_s"] = seconds;
  {
    const target::Target &t = *p.target;
    isa::Dtype dt = spec_.workloads.front().dtype == "fp16" ? isa::Dtype::F16
                                                            : isa::Dtype::BF16;
    auto peak = t.matrix.macsPerCycle.find(dt);
    std::string s;
    llvm::raw_string_ostream os(s);
    llvm::json::OStream j(os);
    j.object([&] {
      j.attribute("point", double(p.index));
      j.attribute("spec_hash", spec_.hash);
      j.attribute("cycles", cycles);
      j.attribute("clock_hz", t.clockHz);
      j.attribute("cores", double(t.cores));
      j.attribute("macs_per_cycle_per_core", peak == t.matrix.macsPerCycle.end()
                                                 ? 0.0
                                                 : double(peak->second));
      j.attribute("dram_bytes_per_s", t.dram.bytesPerSecond);
      j.attribute("macs", double(macs));
      j.attribute("dram_bytes", double(dramBytes));
      j.attribute("noc_bytes", double(nocBytes));
      j.attributeObject("engine_busy_cycles", [&] {
        const char *names[] = {
#define NURI_ENGINE(Name, Mnem, Doc) Mnem,
#include "nuri/isa/Isa.def"
        };
        for (unsigned e = 0; e < isa::kNumEngines; ++e) {
          j.attribute(names[e], double(busy[e]));
        }
      });
      j.attributeObject("stall_cycles", [&] {
        for (auto &[why, n] : stalls) {
          j.attribute(why, double(n));
        }
      });
      j.attributeArray("layers", [&] {
        for (const LayerCycles &l : layers) {
          j.object([&] {
            j.attribute("workload", l.workload);
            j.attribute("name", l.name);
            j.attribute("cycles", double(l.cycles));
            j.attribute("flops", double(l.flops));
            j.attribute("weight_bytes", double(l.weightBytes));
            // The layer's own share of what the chip did (docs/dse.md).
            j.attributeObject("engine_busy_cycles", [&] {
              const char *names[] = {
#define NURI_ENGINE(Name, Mnem, Doc) Mnem,
#include "nuri/isa/Isa.def"
              };
              for (unsigned e = 0; e < isa::kNumEngines; ++e) {
                j.attribute(names[e], double(l.counters.busyCycles[e]));
              }
            });
            j.attributeObject("stall_cycles", [&] {
              for (auto &[why, n] : l.counters.stalls) {
                j.attribute(why, double(n));
              }
            });
            j.attribute("dram_bytes", double(l.counters.dramBytes));
            j.attribute("noc_bytes", double(l.counters.nocBytes));
          });
        }
      });
    });
    os.flush();
    p.detail = s;
  }
  if (energy.modeled) {
    r.values["energy_j"] = energy.totalJoules();
    r.values["average_power_w"] =
        seconds > 0 ? energy.totalJoules() / seconds : 0.0;
    for (auto &[name, j] : energy.joules) {
      r.values["energy_j." + name] = j;
    }
  }
  auto lookup = [&](const std::string &name) -> std::optional<double> {
    auto v = r.values.find(name);
    if (v != r.values.end() && std::holds_alternative<double>(v->second)) {
      return std::get<double>(v->second);
    }
    auto it = p.vars.find(name);
    if (it != p.vars.end()) {
      return it->second;
    }
    return configValue(name);
  };
  for (const Expr &c : spec_.constraints) {
    Result<double> v = c.evaluate(lookup);
    if (!v) {
      r.status = "infeasible";
      r.values["reason"] = "constraint `" + c.text() + "`: " + v.error();
      return;
    }
    if (*v == 0) {
      r.status = "infeasible";
      r.values["reason"] = "constraint `" + c.text() + "` fails";
      return;
    }
  }
  r.status = "ok";
}

//===----------------------------------------------------------------------===//
// The SLURM backend (docs/dse.md, "Running on SLURM")
//===----------------------------------------------------------------------===//

/// Quotes for /bin/sh.
std::string shellQuote(const std::string &s) {
  std::string q = "'";
  for (char c : s) {
    q += c == '\'' ? std::string("'\\''") : std::string(1, c);
  }
  return q + "'";
}

struct Command {
  int exitCode = -1;
  std::string out, err;
};

/// Runs a SLURM client (sbatch, squeue) with its output in files of `dir`.
Command runTool(const std::string &tool, const std::vector<std::string> &args,
                const fs::path &dir) {
  Command c;
  llvm::ErrorOr<std::string> path = llvm::sys::findProgramByName(tool);
  if (!path) {
    throw Error(fmt::format("--backend slurm: `{}` is not on PATH (Debian: "
                            "apt-get install slurm-client)",
                            tool));
  }
  std::vector<llvm::StringRef> argv = {*path};
  for (const std::string &a : args) {
    argv.push_back(a);
  }
  std::string outPath = (dir / (tool + ".out")).string();
  std::string errPath = (dir / (tool + ".err")).string();
  std::optional<llvm::StringRef> redirects[] = {
      llvm::StringRef(""), llvm::StringRef(outPath), llvm::StringRef(errPath)};
  std::string msg;
  c.exitCode = llvm::sys::ExecuteAndWait(*path, argv, std::nullopt, redirects,
                                         /*SecondsToWait=*/120, 0, &msg);
  c.out = readFile(outPath);
  c.err = msg.empty() ? readFile(errPath) : msg;
  while (!c.err.empty() && c.err.back() == '\n') {
    c.err.pop_back();
  }
  return c;
}

/// Rows (and their layers.jsonl lines) that SLURM tasks wrote under
/// DIR/slurm/batch-*/shard-*/, for the points in `wanted`: those of this
/// run's batches and of an earlier, interrupted run's.
std::map<uint64_t, std::pair<Row, std::string>>
Runner::readShards(const std::set<uint64_t> &wanted) {
  std::map<uint64_t, std::pair<Row, std::string>> got;
  fs::path root = dir_ / "slurm";
  if (!fs::is_directory(root)) {
    return got;
  }
  std::vector<fs::path> shards;
  for (const fs::directory_entry &b : fs::directory_iterator(root)) {
    if (!b.is_directory()) {
      continue;
    }
    for (const fs::directory_entry &sh : fs::directory_iterator(b.path())) {
      if (sh.is_directory()) {
        shards.push_back(sh.path());
      }
    }
  }
  std::sort(shards.begin(), shards.end());
  for (const fs::path &sh : shards) {
    for (auto &[i, row] : results_->read(sh / "results.jsonl", nullptr)) {
      if (wanted.count(i)) {
        got[i] = {std::move(row), ""};
      }
    }
    // The detail lines, the last one per point (a task killed between its
    // two writes and rerun leaves two).
    std::istringstream in(readFile(sh / "layers.jsonl"));
    std::string line;
    while (std::getline(in, line)) {
      llvm::Expected<llvm::json::Value> v = llvm::json::parse(line);
      if (!v) {
        llvm::consumeError(v.takeError());
        continue; // a torn last line of a running task
      }
      const llvm::json::Object *o = v->getAsObject();
      std::optional<double> point = o ? o->getNumber("point") : std::nullopt;
      auto it = point ? got.find(uint64_t(*point)) : got.end();
      if (it != got.end()) {
        it->second.second = line;
      }
    }
  }
  return got;
}

/// Evaluates the plans not decided by their config (status empty) as a
/// SLURM job array and fills in their rows. Returns the points that did not
/// come back (a task failed); their rows stay empty.
std::vector<uint64_t> Runner::runOnSlurm(std::vector<Plan> &plans) {
  std::vector<Plan *> remote;
  std::set<uint64_t> wanted;
  for (Plan &p : plans) {
    if (p.row.status.empty()) {
      remote.push_back(&p);
      wanted.insert(p.index);
    }
  }
  if (remote.empty()) {
    return {};
  }
  // Rows an interrupted earlier run's tasks finished.
  std::map<uint64_t, std::pair<Row, std::string>> got = readShards(wanted);
  std::vector<uint64_t> pending;
  std::vector<std::vector<std::string>> keys;
  for (Plan *p : remote) {
    if (!got.count(p->index)) {
      pending.push_back(p->index);
      keys.push_back(p->compileKeys);
    }
  }
  std::string failure;
  if (!pending.empty()) {
    const SlurmOptions &so = options_.slurm;
    fs::path root = fs::absolute(dir_ / "slurm");
    fs::create_directories(root);
    fs::path batch;
    for (unsigned k = 0;; ++k) {
      batch = root / fmt::format("batch-{}", k);
      if (fs::create_directory(batch)) {
        break;
      }
    }
    std::vector<std::vector<uint64_t>> shards =
        shardPoints(pending, keys, std::max(1u, so.tasks));
    for (size_t i = 0; i < shards.size(); ++i) {
      std::string list;
      for (uint64_t p : shards[i]) {
        list += fmt::format("{}\n", p);
      }
      writeFileAtomic(batch / fmt::format("shard-{}.points", i), list);
    }
    std::string shard = (batch / "shard-").string();
    std::string script = fmt::format(
        "#!/bin/sh\n"
        "# One task of a `nuri sweep --backend slurm` batch (docs/dse.md).\n"
        "i=${{SLURM_ARRAY_TASK_ID:?not a SLURM array task}}\n"
        "exec {} sweep {} -o {}\"$i\" --worker-points {}\"$i\".points "
        "--cache-dir {} --quiet{}\n",
        shellQuote(so.nuri), shellQuote(fs::absolute(spec_.path).string()),
        shellQuote(shard), shellQuote(shard),
        shellQuote(fs::absolute(cache_).string()),
        so.cpusPerTask ? fmt::format(" -j {}", so.cpusPerTask) : "");
    writeFileAtomic(batch / "task.sh", script);
    fs::permissions(batch / "task.sh", fs::perms::owner_exec,
                    fs::perm_options::add);
    std::vector<std::string> args = {
        "--parsable",
        "--job-name=nuri-sweep-" + spec_.name,
        fmt::format("--array=0-{}", shards.size() - 1),
        "--output=" + shard + "%a.log",
        "--chdir=" + batch.string(),
    };
    if (!so.partition.empty()) {
      args.push_back("--partition=" + so.partition);
    }
    if (so.cpusPerTask) {
      args.push_back(fmt::format("--cpus-per-task={}", so.cpusPerTask));
    }
    args.insert(args.end(), so.sbatchArgs.begin(), so.sbatchArgs.end());
    args.push_back((batch / "task.sh").string());
    Command sub = runTool("sbatch", args, batch);
    std::string jobId = sub.out.substr(0, sub.out.find_first_of(";\n"));
    if (sub.exitCode != 0 || jobId.empty() ||
        jobId.find_first_not_of("0123456789") != std::string::npos) {
      throw Error(fmt::format("sbatch failed (exit {}): {}", sub.exitCode,
                              sub.err.empty() ? sub.out : sub.err));
    }
    writeFileAtomic(batch / "job", jobId + "\n");
    if (options_.progress) {
      fmt::print(stderr,
                 "[sweep] SLURM job {}: {} points in {} tasks, logs in "
                 "{}/shard-*.log\n",
                 jobId, pending.size(), shards.size(), batch.string());
    }
    // Wait until the job has left the queue. The rows are counted as they
    // come in, for the progress line.
    progress_.start("on SLURM job " + jobId, pending.size());
    std::set<uint64_t> left(pending.begin(), pending.end());
    size_t seen = 0;
    double wait = so.pollSeconds;
    unsigned failures = 0;
    for (;;) {
      std::this_thread::sleep_for(std::chrono::duration<double>(wait));
      wait = std::min(wait * 1.5, 10.0);
      size_t now = readShards(left).size();
      for (; seen < now; ++seen) {
        progress_.step();
      }
      if (now == left.size()) {
        break; // every row is in; the tasks are exiting
      }
      Command q = runTool(
          "squeue", {"--noheader", "--jobs=" + jobId, "--format=%i %T"}, batch);
      if (q.exitCode == 0 &&
          q.out.find_first_not_of(" \n") == std::string::npos) {
        break;
      }
      if (q.exitCode != 0) {
        // squeue forgets a job MinJobAge (300 s) after it ends.
        if (q.err.find("Invalid job id") != std::string::npos) {
          break;
        }
        if (++failures == 30) {
          throw Error(fmt::format(
              "squeue failed 30 times in a row, last: {}; job {} may still "
              "run: rerun the same command once it ends to collect its rows",
              q.err, jobId));
        }
        continue;
      }
      failures = 0;
    }
    got = readShards(wanted);
    // The first task that did not finish its points, for the message.
    for (size_t i = 0; i < shards.size() && failure.empty(); ++i) {
      for (uint64_t p : shards[i]) {
        if (!got.count(p)) {
          std::string log = readFile(batch / fmt::format("shard-{}.log", i));
          while (!log.empty() && log.back() == '\n') {
            log.pop_back();
          }
          failure =
              fmt::format("task {} ({}): {}", i,
                          (batch / fmt::format("shard-{}.log", i)).string(),
                          log.empty() ? std::string("no output")
                                      : log.substr(log.rfind('\n') + 1));
          break;
        }
      }
    }
    failure = failure.empty() ? "" : "SLURM job " + jobId + ": " + failure;
  }
  std::vector<uint64_t> missing;
  for (Plan *p : remote) {
    auto it = got.find(p->index);
    if (it == got.end()) {
      missing.push_back(p->index);
      continue;
    }
    p->row = std::move(it->second.first);
    p->detail = std::move(it->second.second);
  }
  if (!missing.empty()) {
    slurmFailure_ = failure;
  }
  return missing;
}

void Runner::finishRow(Row &r) const {
  r.values["status"] = r.status;
  r.values["spec_hash"] = spec_.hash;
  r.values["nuri_version"] = nuriVersion();
  r.values["git_commit"] = commit_;
  r.objectives.clear();
  if (r.status != "ok") {
    return;
  }
  auto lookup = [&](const std::string &name) -> std::optional<double> {
    auto v = r.values.find(name);
    if (v != r.values.end() && std::holds_alternative<double>(v->second)) {
      return std::get<double>(v->second);
    }
    return configValue(name);
  };
  for (const Objective &o : spec_.objectives) {
    Result<double> v = o.expr.evaluate(lookup);
    if (!v) {
      throw Error(fmt::format("{}: objective `{}`: {}", spec_.path,
                              o.expr.text(), v.error()));
    }
    r.objectives.push_back(o.maximize ? -*v : *v);
  }
}

SweepSummary Runner::run() {
  auto start = Clock::now();
  commit_ = nuriGitCommit();
  for (const std::string &c : columns()) {
    if (c != "point" && c != "point_id" && c != "status") {
      metricNames_.insert(c);
    }
  }
  for (const Axis &a : spec_.axes) {
    metricNames_.erase(a.key);
  }
  for (const Derived &d : spec_.derived) {
    metricNames_.erase(d.key);
  }
  flatten(YAML::Load(spec_.targetText), "", baseValues_);
  prepareDirs();
  writeManifest();
  results_ = std::make_unique<ResultsFiles>(dir_, columns(), spec_.hash);
  std::string warning;
  std::map<uint64_t, Row> done = results_->resume(warning);
  std::set<uint64_t> resumedBefore;
  for (auto &[i, r] : done) {
    resumedBefore.insert(i);
  }
  if (!warning.empty() && options_.progress) {
    fmt::print(stderr, "nuri sweep: warning: {}\n", warning);
  }
  results_->open(done);

  SweepSummary s;
  unsigned jobs = options_.jobs ? options_.jobs
                                : unsigned(tbb::info::default_concurrency());
  tbb::global_control limit(tbb::global_control::max_allowed_parallelism, jobs);
  workers_ = jobs;
  bool &imported = imported_;
  // Evaluates the points not done yet (in parallel) and records them.
  auto evaluate = [&](const std::vector<uint64_t> &indices) {
    std::vector<Plan> plans;
    std::set<uint64_t> queued;
    for (uint64_t i : indices) {
      if (!done.count(i) && queued.insert(i).second) {
        if (!imported) {
          importWorkloads();
          imported = true;
        }
        plans.push_back(resolve(i));
      }
    }
    if (options_.backend == Backend::Slurm) {
      // The tasks compiled and simulated; their rows are recorded here as
      // a local run records its own, and those that did not come back
      // stop the sweep after the others are kept (a rerun resumes).
      std::vector<uint64_t> missing = runOnSlurm(plans);
      std::set<uint64_t> lost(missing.begin(), missing.end());
      for (Plan &p : plans) {
        if (lost.count(p.index)) {
          continue;
        }
        finishRow(p.row);
        results_->append(p.row, p.detail);
        if (options_.onRow) {
          options_.onRow(p.row);
        }
        done[p.index] = std::move(p.row);
      }
      s.evaluated += plans.size() - lost.size();
      if (!lost.empty()) {
        throw Error(fmt::format(
            "{} of {} points did not come back from SLURM ({}); the {} "
            "others are recorded: rerun the same command to run the rest",
            lost.size(), plans.size(), slurmFailure_,
            plans.size() - lost.size()));
      }
      return;
    }
    compileAll(plans);
    progress_.start("simulating", plans.size());
    tbb::parallel_for_each(plans.begin(), plans.end(), [&](Plan &p) {
      if (p.row.status.empty()) {
        simulate(p);
      }
      finishRow(p.row);
      results_->append(p.row, p.detail);
      if (options_.onRow) {
        options_.onRow(p.row);
      }
      progress_.step();
    });
    s.evaluated += plans.size();
    for (Plan &p : plans) {
      done[p.index] = std::move(p.row);
    }
  };

  std::vector<uint64_t> points;
  if (options_.workerPoints) {
    // A SLURM task: the points its batch gave it, whatever the search.
    uint64_t n = spec_.gridSize();
    for (uint64_t i : *options_.workerPoints) {
      if (i >= n) {
        throw Error(fmt::format("--worker-points: point {} is outside the "
                                "grid of {} points",
                                i, n));
      }
    }
    points = *options_.workerPoints;
    evaluate(points);
  } else if (spec_.search.kind == SearchKind::Nsga2) {
    std::vector<uint64_t> radix;
    for (const Axis &a : spec_.axes) {
      radix.push_back(a.values.size());
    }
    auto toIndex = [&](const std::vector<uint64_t> &choice) {
      uint64_t index = 0;
      for (size_t a = 0; a < radix.size(); ++a) {
        index = index * radix[a] + choice[a];
      }
      return index;
    };
    // Points that are not ok (impossible chips, failed compiles, broken
    // constraints) get the worst fitness, so selection drops them.
    BatchEvaluator batch = [&](const std::vector<std::vector<uint64_t>> &cs) {
      std::vector<uint64_t> idx;
      for (const auto &c : cs) {
        idx.push_back(toIndex(c));
      }
      evaluate(idx);
      std::vector<std::vector<double>> out;
      for (uint64_t i : idx) {
        Row &r = done.at(i);
        finishRow(r);
        out.push_back(r.status == "ok" ? r.objectives
                                       : std::vector<double>(
                                             spec_.objectives.size(), 1e300));
      }
      return out;
    };
    Nsga2Options no;
    no.population = spec_.search.population;
    no.generations = spec_.search.generations;
    no.seed = spec_.search.seed;
    Result<std::vector<std::vector<uint64_t>>> seen =
        nsga2Search(radix, unsigned(spec_.objectives.size()), batch, no);
    if (!seen) {
      throw Error(spec_.path + ": " + seen.error());
    }
    std::set<uint64_t> all;
    for (const auto &c : *seen) {
      all.insert(toIndex(c));
    }
    points.assign(all.begin(), all.end());
  } else {
    points = searchPoints();
    evaluate(points);
  }
  s.points = points.size();
  for (uint64_t i : points) {
    // Counted against what the resumed file held before this run.
    s.resumed += resumedBefore.count(i);
  }
  std::vector<std::vector<double>> objs;
  std::vector<size_t> okRows;
  for (uint64_t i : points) {
    Row &r = done.at(i);
    finishRow(r);
    if (r.status == "ok") {
      ++s.ok;
      objs.push_back(r.objectives);
      okRows.push_back(s.rows.size());
    }
    s.rows.push_back(r);
  }
  for (size_t f : paretoFront(objs)) {
    s.pareto.push_back(s.rows[okRows[f]]);
  }
  s.compiled = compiledCount_;
  s.imports = imports_;
  s.compileCacheHits = cacheHits_;
  s.seconds = std::chrono::duration<double>(Clock::now() - start).count();
  // The front, as point indices and objective values, beside the results.
  std::string front;
  for (const Row &r : s.pareto) {
    front += fmt::format("{}", r.index);
    for (double o : r.objectives) {
      front += fmt::format(",{:.17g}", o);
    }
    front += "\n";
  }
  writeFileAtomic(dir_ / "pareto.csv", front);
  if (!options_.tracePoints.empty()) {
    s.traces = writeTraces(tracePointList(s));
  }
  return s;
}

/// The points `--trace-points` names, among those of the search.
std::vector<uint64_t> Runner::tracePointList(const SweepSummary &s) const {
  const std::string &what = options_.tracePoints;
  std::vector<uint64_t> out;
  if (what == "pareto") {
    for (const Row &r : s.pareto) {
      out.push_back(r.index);
    }
    return out;
  }
  if (what == "best") {
    const Row *best = nullptr;
    for (const Row &r : s.rows) {
      if (r.status == "ok" && !r.objectives.empty() &&
          (!best || r.objectives[0] < best->objectives[0])) {
        best = &r;
      }
    }
    if (best) {
      out.push_back(best->index);
    }
    return out;
  }
  std::map<uint64_t, const Row *> byIndex;
  for (const Row &r : s.rows) {
    byIndex[r.index] = &r;
  }
  std::istringstream in(what);
  std::string item;
  while (std::getline(in, item, ',')) {
    if (item.empty() || item.size() > 19 ||
        item.find_first_not_of("0123456789") != std::string::npos) {
      throw Error(fmt::format("--trace-points: `{}` is not pareto, best or a "
                              "list of point indices",
                              what));
    }
    uint64_t i = std::stoull(item);
    auto it = byIndex.find(i);
    if (it == byIndex.end()) {
      throw Error(fmt::format("--trace-points: point {} is not one of the "
                              "sweep's points",
                              i));
    }
    if (it->second->status != "ok") {
      throw Error(fmt::format("--trace-points: point {} is {}, not ok: it has "
                              "nothing to trace",
                              i, it->second->status));
    }
    out.push_back(i);
  }
  return out;
}

/// Simulates each point again with the trace on (its programs come from
/// the compile cache) and writes DIR/traces/point-I.WORKLOAD.K.json, one
/// Perfetto trace per NPU program. Returns how many it wrote.
unsigned Runner::writeTraces(const std::vector<uint64_t> &points) {
  if (points.empty()) {
    return 0;
  }
  if (!imported_) {
    importWorkloads(); // a compile the cache misses needs the modules
    imported_ = true;
  }
  std::vector<Plan> plans;
  for (uint64_t i : points) {
    plans.push_back(resolve(i));
  }
  compileAll(plans);
  fs::create_directories(dir_ / "traces");
  unsigned written = 0;
  for (const Plan &p : plans) {
    for (size_t w = 0; w < spec_.workloads.size(); ++w) {
      const Compiled &c = compiled_.at(p.compileKeys[w]);
      for (size_t k = 0; k < c.programs.size(); ++k) {
        sim::SimOptions so;
        so.functional = false;
        so.detectRaces = false;
        so.trace = true;
        sim::Simulator sim(*p.target, so);
        Result<sim::Report> rep = sim.run(c.programs[k]);
        if (!rep) {
          throw Error(fmt::format("--trace-points: point {}: {}", p.index,
                                  rep.error()));
        }
        writeFileAtomic(dir_ / "traces" /
                            fmt::format("point-{}.{}.{}.json", p.index,
                                        spec_.workloads[w].name, k),
                        sim.traceJson());
        ++written;
      }
    }
  }
  return written;
}

} // namespace

std::vector<std::vector<uint64_t>>
shardPoints(const std::vector<uint64_t> &points,
            const std::vector<std::vector<std::string>> &keys,
            unsigned shards) {
  size_t n = points.size();
  if (n == 0) {
    return {};
  }
  // Union-find over the points, joined by the compile keys they share.
  std::vector<size_t> parent(n);
  for (size_t i = 0; i < n; ++i) {
    parent[i] = i;
  }
  auto find = [&](size_t i) {
    while (parent[i] != i) {
      i = parent[i] = parent[parent[i]];
    }
    return i;
  };
  std::map<std::string, size_t> firstWith;
  for (size_t i = 0; i < n && i < keys.size(); ++i) {
    for (const std::string &k : keys[i]) {
      auto [it, fresh] = firstWith.emplace(k, i);
      if (!fresh) {
        size_t a = find(i), b = find(it->second);
        parent[std::max(a, b)] = std::min(a, b);
      }
    }
  }
  // Groups in the order of their first point, each in the given order.
  std::map<size_t, std::vector<uint64_t>> groups;
  for (size_t i = 0; i < n; ++i) {
    groups[find(i)].push_back(points[i]);
  }
  std::vector<uint64_t> ordered;
  for (auto &[root, g] : groups) {
    ordered.insert(ordered.end(), g.begin(), g.end());
  }
  size_t count = std::min<size_t>(std::max(1u, shards), n);
  std::vector<std::vector<uint64_t>> out(count);
  size_t at = 0;
  for (size_t s = 0; s < count; ++s) {
    size_t size = n / count + (s < n % count ? 1 : 0);
    out[s].assign(ordered.begin() + at, ordered.begin() + at + size);
    at += size;
  }
  return out;
}

std::vector<size_t> paretoFront(const std::vector<std::vector<double>> &objs) {
  std::vector<size_t> front;
  for (size_t i = 0; i < objs.size(); ++i) {
    bool dominated = false;
    for (size_t j = 0; j < objs.size() && !dominated; ++j) {
      if (i == j) {
        continue;
      }
      bool noWorse = true, better = false;
      for (size_t k = 0; k < objs[i].size(); ++k) {
        noWorse &= objs[j][k] <= objs[i][k];
        better |= objs[j][k] < objs[i][k];
      }
      // Of two identical points the first one stays on the front.
      dominated = noWorse && (better || j < i);
    }
    if (!dominated) {
      front.push_back(i);
    }
  }
  return front;
}

Result<SweepSummary> runSweep(const Spec &spec, const SweepOptions &options) {
  return catchErrors([&] {
    try {
      Runner r(spec, options);
      return r.run();
    } catch (const fs::filesystem_error &e) {
      throw Error(e.what());
    } catch (const YAML::Exception &e) {
      throw Error(fmt::format("{}: {}", spec.targetPath, e.what()));
    }
  });
}

} // namespace nuri::dse
