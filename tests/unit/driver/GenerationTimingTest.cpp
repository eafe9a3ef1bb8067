//===- GenerationTimingTest.cpp - Timing-only generation families ---------===//
//
// A decoder written `--shapes-only` (no weight bytes) compiles as a
// `--generate` family with weight placeholders, and the simulated programs
// never beat the DRAM roofline: every decode step reads at least every
// weight and its K/V context once (what bench-generation-llama measures on
// the full 7B/8B models).
//
//===----------------------------------------------------------------------===//

#include "nuri/Driver/Compile.h"
#include "nuri/Driver/Generate.h"
#include "nuri/Frontend/OnnxImporter.h"
#include "nuri/Zoo/Zoo.h"
#include "nuri/package/Package.h"
#include "nuri/runtime.hpp"
#include "nuri/sim/Simulator.h"
#include "nuri/target/Target.h"

#include "mlir/IR/BuiltinAttributes.h"
#include "mlir/IR/Diagnostics.h"
#include "mlir/IR/MLIRContext.h"

#include <gtest/gtest.h>

#include <cstring>
#include <filesystem>
#include <map>
#include <set>
#include <string>
#include <unistd.h>

namespace {

namespace fs = std::filesystem;

struct Context {
  static mlir::DialectRegistry registry() {
    mlir::DialectRegistry r;
    nuri::driver::registerDialects(r);
    return r;
  }
  mlir::MLIRContext context{registry(), mlir::MLIRContext::Threading::DISABLED};
  std::string diagnostics;
  mlir::ScopedDiagnosticHandler handler{&context, [this](mlir::Diagnostic &d) {
                                          diagnostics += d.str() + "\n";
                                          return mlir::success();
                                        }};
};

/// llama-7b's shapes with two layers, with past, written without weights.
struct ShapesOnlyLlama {
  std::string path;
  uint64_t parameters = 0;
  int64_t layers = 2, kvHeads = 32, headDim = 128, hidden = 4096, vocab = 32000;
  ShapesOnlyLlama() {
    fs::path dir = fs::temp_directory_path() /
                   ("nuri-generation-timing-" + std::to_string(::getpid()));
    fs::create_directories(dir);
    path = (dir / "llama.onnx").string();
    std::string error;
    nuri::zoo::BuildOptions bo;
    bo.layers = int(layers);
    bo.withPast = true;
    auto model = nuri::zoo::buildModel("llama-7b", bo, error);
    EXPECT_TRUE(model) << error;
    parameters = model->parameterCount();
    nuri::zoo::WriteOptions wo;
    wo.shapesOnly = true;
    EXPECT_TRUE(nuri::zoo::writeModel(*model, path, wo, error)) << error;
  }
  ~ShapesOnlyLlama() {
    std::error_code ec;
    fs::remove_all(fs::path(path).parent_path(), ec);
  }
};

TEST(GenerationTiming, ShapesOnlyModelNeedsPlaceholdersAndGetsDistinctOnes) {
  ShapesOnlyLlama llama;
  {
    // Without placeholders the missing data file is an error naming it.
    Context c;
    nuri::OnnxImportOptions io;
    io.inputShapes = {{"input_ids", {1, 4}},
                      {"attention_mask", {1, 4}},
                      {"position_ids", {1, 4}}};
    for (int l = 0; l < 2; ++l) {
      for (const char *kv : {"key", "value"}) {
        io.inputShapes["past_key_values." + std::to_string(l) + "." + kv] = {
            1, 32, 0, 128};
      }
    }
    EXPECT_FALSE(nuri::importOnnxFile(c.context, llama.path, io));
    EXPECT_NE(c.diagnostics.find("llama.onnx.data"), std::string::npos)
        << c.diagnostics;
    io.weightPlaceholders = true;
    mlir::OwningOpRef<mlir::ModuleOp> m =
        nuri::importOnnxFile(c.context, llama.path, io);
    ASSERT_TRUE(m) << c.diagnostics;
    // Every large weight is a splat, and no two share a value (a fold or
    // CSE would otherwise merge q/k/v projections of one shape).
    std::set<double> values;
    size_t splats = 0;
    m->walk([&](mlir::Operation *op) {
      auto attr = op->getAttrOfType<mlir::DenseElementsAttr>("value");
      if (!attr || !attr.isSplat() || attr.getNumElements() < 4096 * 4096 ||
          !llvm::isa<mlir::FloatType>(attr.getElementType())) {
        return;
      }
      ++splats;
      values.insert(attr.getSplatValue<llvm::APFloat>().convertToDouble());
    });
    EXPECT_GE(splats, 2u * 7 + 2); // 7 matrices per layer, embedding, head
    EXPECT_EQ(values.size(), splats);
  }
}

/// The small family the tests compile: prefill 32, decode at batch 1 and 4
/// over a 128-position context, bf16, weights as placeholders.
struct SmallFamily {
  nuri::driver::CompileOptions co;
  nuri::driver::GenerateOptions go;
  nuri::OnnxImportOptions io;
  explicit SmallFamily(const std::string &targetName) {
    co.target = targetName;
    co.dtype = "bf16";
    go.maxSeq = 128;
    go.prefillBuckets = {32};
    go.decodeBatch = {1, 4};
    go.contextBuckets = {128};
    io.weightPlaceholders = true;
  }
};

/// Each program of a 2-layer 7B-wide family on `target`, simulated timing
/// only, takes at least its roofline time and reads at least its bytes.
void expectRooflineHolds(const std::string &targetName) {
  ShapesOnlyLlama llama;
  Context c;
  nuri::Result<nuri::target::Target> target =
      nuri::target::findTarget(targetName);
  ASSERT_TRUE(target) << target.error();
  SmallFamily f(targetName);
  f.co.emit = nuri::driver::Emit::Programs;
  auto programs = nuri::driver::compileGenerationPrograms(c.context, llama.path,
                                                          f.io, f.co, f.go);
  ASSERT_TRUE(succeeded(programs)) << c.diagnostics;
  ASSERT_EQ(programs->size(), 3u);
  double weightBytes =
      2.0 * double(llama.parameters - uint64_t(llama.vocab * llama.hidden));
  double kvRow = 2.0 * 2 * double(llama.layers * llama.kvHeads * llama.headDim);
  double bw = target->dram.bytesPerSecond;
  double peak = target->peakOpsPerSecond(nuri::isa::Dtype::BF16);
  for (const nuri::driver::GenerationProgram &p : *programs) {
    SCOPED_TRACE(targetName + " " + p.name);
    ASSERT_FALSE(p.result.programs.empty());
    double flops = 0;
    for (const nuri::driver::PartitionInfo &pi : p.result.report.partitions) {
      flops += double(pi.flops);
    }
    double bytes = weightBytes + kvRow * double(p.batch * p.context);
    double bound = std::max(bytes / bw, p.prefill ? flops / peak : 0.0);
    double seconds = 0, moved = 0;
    for (const nuri::isa::Program &prog : p.result.programs) {
      nuri::sim::SimOptions so;
      so.functional = false;
      // No host writes the run-time indices here, so every batch row's
      // kv_slots/kv_positions read 0 and their cache writes hit one row:
      // a race by design of this run, not of the program (which the
      // NpuCodegen tests run with the detector at distinct slots).
      so.detectRaces = false;
      nuri::sim::Simulator sim(*target, so);
      nuri::Result<nuri::sim::Report> rep = sim.run(prog);
      ASSERT_TRUE(rep) << rep.error();
      seconds += rep->seconds.value();
      // Reads and writes: a prefill writes its K/V rows, a decode step
      // reads its context.
      moved += double(rep->dramBytes());
    }
    EXPECT_GE(moved, bytes);
    EXPECT_GE(seconds, bound);
  }
}

TEST(GenerationTiming, ShapesOnlyLlamaNeverBeatsTheRooflineOnAtom) {
  expectRooflineHolds("atom");
}

TEST(GenerationTiming, ShapesOnlyLlamaNeverBeatsTheRooflineOnRngd) {
  expectRooflineHolds("rngd");
}

/// `nuri compile --generate --timing-only`: the family as a package without
/// NPU weight bytes, which the sim device runs timing-only and no other
/// way, and whose programs take exactly the simulated time of the programs
/// compileGenerationPrograms makes in process (what bench-generation-llama
/// simulates).
TEST(GenerationTiming, TimingOnlyPackageTimesLikeTheInProcessPrograms) {
  ShapesOnlyLlama llama;
  Context c;
  const std::string targetName = "rngd";
  nuri::Result<nuri::target::Target> target =
      nuri::target::findTarget(targetName);
  ASSERT_TRUE(target) << target.error();
  SmallFamily f(targetName);
  nuri::driver::CompileOptions &co = f.co;

  // In process: the programs alone, simulated as the benchmark does.
  std::map<std::string, double> inProcess;
  {
    nuri::driver::CompileOptions programs = co;
    programs.emit = nuri::driver::Emit::Programs;
    auto compiled = nuri::driver::compileGenerationPrograms(
        c.context, llama.path, f.io, programs, f.go);
    ASSERT_TRUE(succeeded(compiled)) << c.diagnostics;
    for (const nuri::driver::GenerationProgram &p : *compiled) {
      double seconds = 0;
      for (const nuri::isa::Program &prog : p.result.programs) {
        nuri::sim::SimOptions so;
        so.functional = false;
        so.detectRaces = false; // see expectRooflineHolds
        nuri::sim::Simulator sim(*target, so);
        nuri::Result<nuri::sim::Report> rep = sim.run(prog);
        ASSERT_TRUE(rep) << rep.error();
        seconds += rep->seconds.value();
      }
      inProcess[p.name] = seconds;
    }
  }

  // The package: timing-only, and without the weights' bytes.
  co.timingOnly = true;
  auto family = nuri::driver::compileGenerationFamily(c.context, llama.path,
                                                      f.io, co, f.go);
  ASSERT_TRUE(succeeded(family)) << c.diagnostics;
  // No weight bytes: the weights section holds only the CPU partitions'
  // constants, every NPU weight load refers to the absent blob (each
  // program's own constants: at least the model's bf16 weights), and the
  // file is mostly the programs' instructions.
  double weightBytes = 2.0 * double(llama.parameters);
  nuri::Result<nuri::package::Package> read = nuri::package::readPackage(
      family->package.data(), family->package.size());
  ASSERT_TRUE(read) << read.error();
  EXPECT_TRUE(read->timingOnly);
  EXPECT_LT(read->weightBytes, 1u << 20);
  EXPECT_GE(double(read->absentWeightBytes), weightBytes);
  EXPECT_LT(double(family->package.size()), weightBytes / 20);
  nuri::Model model =
      nuri::Model::loadMemory(family->package.data(), family->package.size());
  EXPECT_TRUE(model.timingOnly());

  // Only the sim device, and only when asked to time.
  for (auto [device, timing] : {std::pair<const char *, bool>{"cpu", true},
                                {"cpu", false},
                                {"sim", false}}) {
    SCOPED_TRACE(std::string(device) + (timing ? " timing-only" : ""));
    nuri::SessionOptions so;
    so.timingOnly = timing;
    try {
      nuri::Session refused(model, device, so);
      ADD_FAILURE() << "the session was created";
    } catch (const nuri::Exception &e) {
      EXPECT_NE(std::string(e.what()).find("timing"), std::string::npos)
          << e.what();
    }
  }

  nuri::SessionOptions so;
  so.timingOnly = true;
  nuri::Session session(model, "sim", so);
  ASSERT_EQ(inProcess.size(), model.programs().size());
  for (const nuri::ProgramInfo &p : model.programs()) {
    SCOPED_TRACE(p.name);
    nuri::Run run = session.newRun(p.name);
    std::vector<std::vector<uint8_t>> storage;
    for (const nuri::TensorInfo &in : p.inputs) {
      storage.emplace_back(in.byteSize, 0);
      if (in.name == "kv_slots") {
        // Distinct slots, as the generator gives the batch rows.
        bool wide = in.dtype == NURI_DTYPE_I64;
        ASSERT_TRUE(wide || in.dtype == NURI_DTYPE_I32);
        size_t width = wide ? 8 : 4;
        for (size_t r = 0; r < in.byteSize / width; ++r) {
          int64_t slot = int64_t(r);
          std::memcpy(storage.back().data() + r * width, &slot, width);
        }
      }
      run.bindInput(in.name, {in.dtype, in.shape, storage.back().data(),
                              storage.back().size()});
    }
    run.execute();
    nuri::Counters counters = run.counters();
    // No weight reaches the device, and the simulated time is the
    // in-process one (the same program).
    EXPECT_EQ(counters.get("device_weight_bytes_written"), 0);
    EXPECT_NEAR(counters.get("device_seconds"), inProcess[p.name],
                1e-6 * inProcess[p.name]);
  }
}

TEST(GenerationTiming, ProgramsOnlyIsRequired) {
  ShapesOnlyLlama llama;
  Context c;
  nuri::driver::CompileOptions co;
  co.target = "atom";
  nuri::OnnxImportOptions io;
  io.weightPlaceholders = true;
  EXPECT_TRUE(failed(nuri::driver::compileGenerationPrograms(
      c.context, llama.path, io, co, {})));
  EXPECT_NE(c.diagnostics.find("Emit::Programs"), std::string::npos)
      << c.diagnostics;
}

} // namespace
