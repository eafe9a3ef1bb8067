//===- CompileTest.cpp - The compile flow of `nuri compile` ---------------===//
//
// A small zoo model through nuri::driver: a mixed package (CPU and NPU
// partitions) that runs on the sim device and agrees with the CPU device
// running the same bf16 graph; the report, --emit mlir, and the errors.
//
//===----------------------------------------------------------------------===//

#include "nuri/Driver/Compile.h"
#include "nuri/Zoo/Zoo.h"
#include "nuri/package/Package.h"
#include "nuri/runtime.hpp"

#include "mlir/IR/Diagnostics.h"

#include "TempDir.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <unistd.h>

namespace {

namespace fs = std::filesystem;

using nuri::test::TempDir;

// bert-tiny (2 layers, hidden 128) written once per test binary.
const std::string &bertTinyPath() {
  static TempDir dir("driver-test");
  static std::string path = [] {
    std::string p = (dir.path / "bert-tiny.onnx").string();
    std::string error;
    auto model = nuri::zoo::buildModel("bert-tiny", {}, error);
    EXPECT_TRUE(model) << error;
    EXPECT_TRUE(nuri::zoo::writeModel(*model, p, {}, error)) << error;
    return p;
  }();
  return path;
}

nuri::OnnxImportOptions seq16() {
  nuri::OnnxImportOptions o;
  for (const char *name : {"input_ids", "attention_mask", "token_type_ids"}) {
    o.inputShapes[name] = {1, 16};
  }
  return o;
}

struct Compiled {
  mlir::FailureOr<nuri::driver::CompileResult> result;
  std::string diagnostics;
};

Compiled compile(const std::string &path, nuri::driver::CompileOptions options,
                 nuri::OnnxImportOptions import = seq16()) {
  mlir::DialectRegistry registry;
  nuri::driver::registerDialects(registry);
  mlir::MLIRContext context(registry);
  context.disableMultithreading();
  context.printOpOnDiagnostic(false);
  Compiled c;
  mlir::ScopedDiagnosticHandler handler(&context, [&](mlir::Diagnostic &d) {
    c.diagnostics += d.str() + "\n";
    return mlir::success();
  });
  c.result = nuri::driver::compileOnnxFile(context, path, import, options);
  return c;
}

struct Outputs {
  std::map<std::string, std::vector<float>> values;
  std::vector<nuri::PartitionStats> partitions;
};

Outputs runPackage(const std::vector<uint8_t> &bytes,
                   const std::string &device) {
  nuri::Model model = nuri::Model::loadMemory(bytes.data(), bytes.size());
  nuri::Session session(model, device);
  nuri::Run run = session.newRun();
  std::vector<int64_t> ids(16), mask(16, 1), types(16, 0);
  for (int i = 0; i < 16; ++i) {
    ids[i] = (i * 37 + 11) % 4096;
  }
  mask[15] = 0; // one padded position
  run.bindInput("input_ids", nuri::TensorRef::of(ids.data(), {1, 16}));
  run.bindInput("attention_mask", nuri::TensorRef::of(mask.data(), {1, 16}));
  run.bindInput("token_type_ids", nuri::TensorRef::of(types.data(), {1, 16}));
  run.execute();
  Outputs out;
  for (const nuri::TensorInfo &o : model.outputs()) {
    nuri::OutputView v = run.output(o.name);
    EXPECT_EQ(v.info.dtype, NURI_DTYPE_F32) << o.name;
    const float *p = v.as<float>();
    out.values[o.name].assign(p, p + v.info.elements());
  }
  out.partitions = run.partitionStats();
  return out;
}

double cosine(const std::vector<float> &a, const std::vector<float> &b) {
  double ab = 0, aa = 0, bb = 0;
  for (size_t i = 0; i < a.size() && i < b.size(); ++i) {
    ab += double(a[i]) * b[i];
    aa += double(a[i]) * a[i];
    bb += double(b[i]) * b[i];
  }
  return ab / std::sqrt(aa * bb);
}

TEST(DriverCompile, TargetCpuIsOneFp32CpuPartition) {
  nuri::driver::CompileOptions options;
  Compiled c = compile(bertTinyPath(), options);
  ASSERT_TRUE(mlir::succeeded(c.result)) << c.diagnostics;
  auto pkg = nuri::package::readPackage(c.result->package.data(),
                                        c.result->package.size());
  ASSERT_TRUE(pkg) << pkg.error();
  ASSERT_EQ(pkg->partitions.size(), 1u);
  EXPECT_EQ(pkg->partitions[0].kind, nuri::package::PartitionKind::Cpu);
  EXPECT_EQ(pkg->targetName, "cpu");
  EXPECT_EQ(c.result->report.dtype, "fp32");
  EXPECT_EQ(c.result->report.npuOps, 0);
}

TEST(DriverCompile, MixedPackageRunsOnSimAndAgreesWithCpuDevice) {
  nuri::driver::CompileOptions npu;
  npu.target = "atom";
  Compiled chip = compile(bertTinyPath(), npu);
  ASSERT_TRUE(mlir::succeeded(chip.result)) << chip.diagnostics;
  const nuri::driver::Report &report = chip.result->report;
  EXPECT_EQ(report.dtype, "bf16");
  EXPECT_GT(report.npuOps, 0);

  auto pkg = nuri::package::readPackage(chip.result->package.data(),
                                        chip.result->package.size());
  ASSERT_TRUE(pkg) << pkg.error();
  EXPECT_EQ(pkg->targetName, "atom");
  EXPECT_FALSE(pkg->targetYaml.empty());
  bool cpuPart = false, npuPart = false;
  for (const nuri::package::Partition &p : pkg->partitions) {
    cpuPart |= p.kind == nuri::package::PartitionKind::Cpu;
    npuPart |= p.kind == nuri::package::PartitionKind::Npu;
  }
  // The embedding gathers stay on the CPU, the encoder goes to the NPU.
  EXPECT_TRUE(cpuPart);
  EXPECT_TRUE(npuPart);
  ASSERT_EQ(report.partitions.size(), pkg->partitions.size());
  // The model keeps its fp32/int64 interface.
  ASSERT_EQ(pkg->inputs.size(), 3u);
  for (int32_t id : pkg->outputs) {
    EXPECT_EQ(pkg->values[id].dtype, nuri::graph::DType::F32);
  }

  Outputs sim = runPackage(chip.result->package, "sim");
  uint64_t cycles = 0;
  for (const nuri::PartitionStats &p : sim.partitions) {
    cycles += uint64_t(p.counters.get("cycles"));
  }
  EXPECT_GT(cycles, 0u);

  // The CPU device runs the same bf16 graph.
  nuri::driver::CompileOptions cpu;
  cpu.dtype = "bf16";
  Compiled host = compile(bertTinyPath(), cpu);
  ASSERT_TRUE(mlir::succeeded(host.result)) << host.diagnostics;
  Outputs ref = runPackage(host.result->package, "cpu");
  // And the fp32 graph is the reference for both.
  Compiled fp32 = compile(bertTinyPath(), {});
  ASSERT_TRUE(mlir::succeeded(fp32.result)) << fp32.diagnostics;
  Outputs exact = runPackage(fp32.result->package, "cpu");
  ASSERT_EQ(sim.values.size(), ref.values.size());
  for (const auto &[name, values] : sim.values) {
    EXPECT_GT(cosine(values, ref.values[name]), 0.9999) << name;
    EXPECT_GT(cosine(values, exact.values[name]), 0.999) << name;
  }
}

TEST(DriverCompile, ReportNamesPartitionsFallbacksAndLayers) {
  nuri::driver::CompileOptions options;
  options.target = "rngd";
  std::vector<std::string> stages;
  options.progress = [&](const std::string &s) { stages.push_back(s); };
  Compiled c = compile(bertTinyPath(), options);
  ASSERT_TRUE(mlir::succeeded(c.result)) << c.diagnostics;
  std::string text = c.result->report.text();
  EXPECT_NE(text.find("target rngd, dtype bf16"), std::string::npos) << text;
  EXPECT_NE(text.find(" npu npu_0"), std::string::npos) << text;
  EXPECT_NE(text.find(" cpu cpu_0"), std::string::npos) << text;
  EXPECT_NE(text.find("fell back to the CPU"), std::string::npos) << text;
  EXPECT_NE(text.find("nuri.gather"), std::string::npos) << text;
  EXPECT_NE(text.find("per op (partition, location, kind, predicted cycles)"),
            std::string::npos)
      << text;
  EXPECT_NE(text.find("per layer"), std::string::npos) << text;
  EXPECT_NE(text.find("simulated cycles: --simulate"), std::string::npos)
      << text;
  EXPECT_FALSE(c.result->report.opEstimates.empty());
  EXPECT_FALSE(c.result->report.layers.empty());
  ASSERT_GE(stages.size(), 3u);
  EXPECT_EQ(stages.front().rfind("importing", 0), 0u);
}

// The ops' simulated cycles come from the barrier that ends each kernel:
// they must add up, layer by layer, to the partitions' simulated cycles
// (less what runs after the last barrier), and bert-tiny's two identical
// encoder layers must come out as two rows of equal work.
TEST(DriverCompile, SimulatedLayersSumToThePartitions) {
  nuri::driver::CompileOptions options;
  options.target = "atom";
  options.simulate = true;
  Compiled c = compile(bertTinyPath(), options);
  ASSERT_TRUE(mlir::succeeded(c.result)) << c.diagnostics;
  const nuri::driver::Report &r = c.result->report;

  std::vector<std::string> names;
  for (const nuri::driver::LayerInfo &l : r.layers) {
    names.push_back(l.name);
  }
  EXPECT_EQ(names, (std::vector<std::string>{"embeddings", "encoder/layer.0",
                                             "encoder/layer.1", "head"}));

  uint64_t partitionCycles = 0, tails = 0, predicted = 0;
  int64_t npuOps = 0;
  for (const nuri::driver::PartitionInfo &p : r.partitions) {
    if (!p.npu) {
      continue;
    }
    EXPECT_GT(p.simulatedCycles, 0u) << p.name;
    EXPECT_GT(p.macUtilization, 0.0) << p.name;
    // The program ends at its last kernel's barrier.
    EXPECT_LE(p.tailCycles * 100, p.simulatedCycles) << p.name;
    partitionCycles += p.simulatedCycles;
    tails += p.tailCycles;
    predicted += p.predictedCycles;
    npuOps += p.ops;
  }
  uint64_t layerCycles = 0, layerPredicted = 0, layerFlops = 0;
  int64_t layerOps = 0;
  for (const nuri::driver::LayerInfo &l : r.layers) {
    EXPECT_GT(l.simulatedCycles, 0u) << l.name;
    layerCycles += l.simulatedCycles;
    layerPredicted += l.predictedCycles;
    layerFlops += l.flops;
    layerOps += l.ops;
  }
  EXPECT_EQ(layerCycles + tails, partitionCycles);
  EXPECT_EQ(layerPredicted, predicted);
  EXPECT_EQ(layerOps, npuOps);
  EXPECT_EQ(layerFlops, 2 * r.npuMacs);
  uint64_t opCycles = 0;
  for (const nuri::driver::OpEstimate &e : r.opEstimates) {
    opCycles += e.simulatedCycles;
    EXPECT_FALSE(e.layer.empty()) << e.location;
  }
  EXPECT_EQ(opCycles, layerCycles);

  ASSERT_EQ(r.layers.size(), 4u);
  const nuri::driver::LayerInfo &l0 = r.layers[1], &l1 = r.layers[2];
  EXPECT_EQ(l0.ops, l1.ops);
  EXPECT_EQ(l0.flops, l1.flops);
  EXPECT_EQ(l0.weightBytes, l1.weightBytes);
  EXPECT_EQ(l0.predictedCycles, l1.predictedCycles);
  EXPECT_NEAR(double(l0.simulatedCycles), double(l1.simulatedCycles),
              0.1 * double(l1.simulatedCycles));
  // Four projections and two FFN matrices of 128x128 / 128x512 weights and
  // their biases, bf16, plus the two layer norms' scale and shift.
  EXPECT_GE(l0.weightBytes, 2u * (4 * 128 * 128 + 2 * 128 * 512));

  std::string text = r.text();
  EXPECT_NE(text.find("per op (partition, location, kind, predicted cycles, "
                      "simulated cycles)"),
            std::string::npos)
      << text;
  EXPECT_NE(text.find("  encoder/layer.1 "), std::string::npos) << text;
  EXPECT_NE(text.find("after the last barriers are in no layer"),
            std::string::npos)
      << text;
}

TEST(DriverCompile, EmitMlirShowsOutlinedPartitions) {
  nuri::driver::CompileOptions options;
  options.target = "atom";
  options.emit = nuri::driver::Emit::Mlir;
  Compiled c = compile(bertTinyPath(), options);
  ASSERT_TRUE(mlir::succeeded(c.result)) << c.diagnostics;
  const std::string &ir = c.result->text;
  EXPECT_NE(ir.find("func.func private @npu_0"), std::string::npos);
  EXPECT_NE(ir.find("nuri.partition = \"npu\""), std::string::npos);
  EXPECT_NE(ir.find("call @npu_0"), std::string::npos);
  EXPECT_NE(ir.find("xbf16>"), std::string::npos);
  EXPECT_TRUE(c.result->package.empty());
}

TEST(DriverCompile, EmitAsmDisassemblesThePrograms) {
  nuri::driver::CompileOptions options;
  options.target = "atom";
  options.emit = nuri::driver::Emit::Asm;
  Compiled c = compile(bertTinyPath(), options);
  ASSERT_TRUE(mlir::succeeded(c.result)) << c.diagnostics;
  EXPECT_NE(c.result->text.find("// partition npu_0 (target atom)"),
            std::string::npos);
  EXPECT_NE(c.result->text.find("dma."), std::string::npos);
}

TEST(DriverCompile, PreparedProgramsOnlyEqualTheFullCompile) {
  // What `nuri sweep` does: the graph stage once (prepareModule), then per
  // chip a clone compiled to its programs only. The programs, their
  // constants' places and the report must be those of the whole flow.
  mlir::DialectRegistry registry;
  nuri::driver::registerDialects(registry);
  mlir::MLIRContext context(registry);
  context.disableMultithreading();
  std::string diags;
  mlir::ScopedDiagnosticHandler handler(&context, [&](mlir::Diagnostic &d) {
    diags += d.str() + "\n";
    return mlir::success();
  });
  nuri::OnnxImportOptions io = seq16();
  io.allowUnsupported = true;
  mlir::OwningOpRef<mlir::ModuleOp> imported =
      nuri::importOnnxFile(context, bertTinyPath(), io);
  ASSERT_TRUE(imported) << diags;
  nuri::driver::CompileOptions prep;
  prep.dtype = "bf16";
  mlir::OwningOpRef<mlir::ModuleOp> prepared = imported->clone();
  ASSERT_TRUE(mlir::succeeded(nuri::driver::prepareModule(*prepared, prep)))
      << diags;
  for (const char *target : {"atom", "rngd"}) {
    SCOPED_TRACE(target);
    nuri::driver::CompileOptions full;
    full.target = target;
    full.dtype = "bf16";
    mlir::OwningOpRef<mlir::ModuleOp> a = imported->clone();
    auto whole = nuri::driver::compileModule(*a, full);
    ASSERT_TRUE(mlir::succeeded(whole)) << diags;
    nuri::driver::CompileOptions shared = full;
    shared.prepared = true;
    shared.emit = nuri::driver::Emit::Programs;
    mlir::OwningOpRef<mlir::ModuleOp> b = prepared->clone();
    auto programs = nuri::driver::compileModule(*b, shared);
    ASSERT_TRUE(mlir::succeeded(programs)) << diags;
    EXPECT_TRUE(programs->package.empty());

    auto pkg = nuri::package::readPackage(whole->package.data(),
                                          whole->package.size());
    ASSERT_TRUE(pkg) << pkg.error();
    std::vector<const nuri::package::Partition *> npu;
    for (const nuri::package::Partition &p : pkg->partitions) {
      if (p.kind == nuri::package::PartitionKind::Npu) {
        npu.push_back(&p);
      }
    }
    ASSERT_EQ(programs->programs.size(), npu.size());
    ASSERT_FALSE(npu.empty());
    for (size_t i = 0; i < npu.size(); ++i) {
      auto x = nuri::isa::encodeProgram(npu[i]->program);
      auto y = nuri::isa::encodeProgram(programs->programs[i]);
      ASSERT_TRUE(x && y);
      EXPECT_EQ(*x, *y) << "program " << i;
    }
    const nuri::driver::Report &r = whole->report, &q = programs->report;
    EXPECT_EQ(r.npuOps, q.npuOps);
    EXPECT_EQ(r.cpuOps, q.cpuOps);
    ASSERT_EQ(r.partitions.size(), q.partitions.size());
    for (size_t i = 0; i < r.partitions.size(); ++i) {
      EXPECT_EQ(r.partitions[i].name, q.partitions[i].name);
      EXPECT_EQ(r.partitions[i].predictedCycles,
                q.partitions[i].predictedCycles);
      // The constants' sizes without their bytes.
      EXPECT_EQ(r.partitions[i].weightBytes, q.partitions[i].weightBytes);
    }
    ASSERT_EQ(r.layers.size(), q.layers.size());
    for (size_t i = 0; i < r.layers.size(); ++i) {
      EXPECT_EQ(r.layers[i].name, q.layers[i].name);
      EXPECT_EQ(r.layers[i].weightBytes, q.layers[i].weightBytes);
      EXPECT_EQ(r.layers[i].predictedCycles, q.layers[i].predictedCycles);
    }
    ASSERT_EQ(r.opEstimates.size(), q.opEstimates.size());
    for (size_t i = 0; i < r.opEstimates.size(); ++i) {
      EXPECT_EQ(r.opEstimates[i].location, q.opEstimates[i].location);
      EXPECT_EQ(r.opEstimates[i].firstKernel, q.opEstimates[i].firstKernel);
      EXPECT_EQ(r.opEstimates[i].kernelCount, q.opEstimates[i].kernelCount);
    }
  }
}

TEST(DriverCompile, UnknownTargetAndDtypeAreErrors) {
  nuri::driver::CompileOptions target;
  target.target = "no-such-chip";
  Compiled a = compile(bertTinyPath(), target);
  EXPECT_TRUE(mlir::failed(a.result));
  EXPECT_NE(a.diagnostics.find("unknown target 'no-such-chip'"),
            std::string::npos)
      << a.diagnostics;
  nuri::driver::CompileOptions dtype;
  dtype.dtype = "int4";
  Compiled b = compile(bertTinyPath(), dtype);
  EXPECT_TRUE(mlir::failed(b.result));
  EXPECT_NE(b.diagnostics.find("unknown dtype 'int4'"), std::string::npos)
      << b.diagnostics;
}

} // namespace
