//===- Generate.cpp - A decoder's program family for --generate -----------===//
//
// Static-shape accelerators run generation as a family of compiled graphs
// (furiosa-llm, optimum-rbln, NxD Inference, IREE/shortfin all converged on
// it): a prefill program per prompt-length bucket and a decode program per
// (batch, context length) bucket. Each is the same ONNX decoder imported
// with that bucket's shapes — pinned through the inputs' dim_params — and
// rewritten by nuri-kv-cache so the KV cache is state the programs share.
// Their constants go into one WeightStore, so the weights are stored once.
//
//===----------------------------------------------------------------------===//

#include "nuri/Driver/Generate.h"
#include "nuri/Driver/Quantize.h"

#include "nuri/package/Package.h"

#include "mlir/IR/Diagnostics.h"
#include "llvm/Support/FormatVariadic.h"

#include <algorithm>
#include <map>
#include <set>

using namespace mlir;

namespace nuri::driver {
namespace {

/// The names the exporter gave the dynamic dimensions, found from the
/// inputs every decoder has.
struct DimRoles {
  std::string batch, tokens, past, total;
  /// input_ids is [batch, 1] (torch 1.6's GPT-2 with past): every program
  /// takes one token, so the prompt is a single-token prefill.
  bool oneToken = false;
};

bool isPastInput(const OnnxGraphInput &in) {
  llvm::StringRef name(in.name);
  return name.starts_with("past_key_values") || name.starts_with("past_") ||
         name.starts_with("past.");
}

llvm::Expected<DimRoles> findDimRoles(const std::vector<OnnxGraphInput> &ins) {
  // The caller's diagnostic names the file.
  auto fail = [&](const std::string &why) {
    return llvm::createStringError(std::errc::invalid_argument, "%s",
                                   why.c_str());
  };
  DimRoles roles;
  const OnnxGraphInput *ids = nullptr;
  for (const OnnxGraphInput &in : ins) {
    if (in.name == "input_ids") {
      ids = &in;
    }
  }
  if (!ids || ids->dims.size() != 2) {
    return fail("--generate needs a rank-2 input 'input_ids' [batch, "
                "sequence] (a decoder exported with its KV cache)");
  }
  roles.batch = ids->dimParams[0];
  roles.tokens = ids->dimParams[1];
  roles.oneToken = ids->dims[1] == 1;
  bool anyPast = false;
  for (const OnnxGraphInput &in : ins) {
    if (!isPastInput(in)) {
      continue;
    }
    anyPast = true;
    // [batch, heads, past, dim], or keys and values stacked in front.
    bool stacked = in.dims.size() == 5 && in.dims[0] == 2;
    size_t pastDim = stacked ? 3 : 2;
    if ((in.dims.size() != 4 && !stacked) || in.dimParams[pastDim].empty()) {
      return fail("past input '" + in.name +
                  "' is neither [batch, heads, past_sequence, dim] nor [2, "
                  "batch, heads, past_sequence, dim] with a named dynamic "
                  "past length");
    }
    roles.past = in.dimParams[pastDim];
  }
  if (!anyPast) {
    return fail("--generate needs a decoder exported with its KV cache "
                "(inputs past_key_values.N.key/value, outputs "
                "present.N.key/value, as optimum's decoder_with_past); this "
                "model has no past inputs");
  }
  for (const OnnxGraphInput &in : ins) {
    if (in.name == "attention_mask" && in.dims.size() == 2) {
      roles.total = in.dimParams[1];
    }
  }
  if (roles.batch.empty() || (roles.tokens.empty() && !roles.oneToken)) {
    return fail("input 'input_ids' must have dynamic, named batch and "
                "sequence dimensions for --generate to pin them per bucket");
  }
  return roles;
}

struct Bucket {
  std::string name;
  package::ProgramKind kind;
  int64_t batch, tokens, context;
};

std::vector<Bucket> bucketsOf(const GenerateOptions &g) {
  std::vector<Bucket> out;
  for (int64_t t : g.prefillBuckets) {
    out.push_back({llvm::formatv("prefill.b1.t{0}", t).str(),
                   package::ProgramKind::Prefill, 1, t, t});
  }
  for (int64_t b : g.decodeBatch) {
    for (int64_t c : g.contextBuckets) {
      out.push_back({llvm::formatv("decode.b{0}.c{1}", b, c).str(),
                     package::ProgramKind::Decode, b, 1, c});
    }
  }
  return out;
}

} // namespace

llvm::Expected<GenerateOptions> resolveBuckets(GenerateOptions g) {
  auto fail = [](const std::string &why) {
    return llvm::createStringError(std::errc::invalid_argument, "%s",
                                   why.c_str());
  };
  if (g.maxSeq < 2) {
    return fail("--max-seq " + std::to_string(g.maxSeq) +
                " leaves no room to generate (at least 2)");
  }
  if (g.prefillBuckets.empty()) {
    for (int64_t t : {32, 128, 512}) {
      if (t < g.maxSeq) {
        g.prefillBuckets.push_back(t);
      }
    }
    g.prefillBuckets.push_back(g.maxSeq);
  }
  if (g.contextBuckets.empty()) {
    for (int64_t c = 64; c < g.maxSeq; c *= 2) {
      g.contextBuckets.push_back(c);
    }
    g.contextBuckets.push_back(g.maxSeq);
  }
  auto check = [&](std::vector<int64_t> &list, const char *flag, int64_t lo,
                   int64_t hi) -> std::string {
    if (list.empty()) {
      return std::string(flag) + " is empty";
    }
    std::sort(list.begin(), list.end());
    list.erase(std::unique(list.begin(), list.end()), list.end());
    for (int64_t v : list) {
      if (v < lo || v > hi) {
        return std::string(flag) + " " + std::to_string(v) + " is outside " +
               std::to_string(lo) + ".." + std::to_string(hi) + " (--max-seq " +
               std::to_string(g.maxSeq) + ")";
      }
    }
    return "";
  };
  for (std::string why :
       {check(g.prefillBuckets, "--prefill-buckets", 1, g.maxSeq),
        check(g.contextBuckets, "--context-buckets", 2, g.maxSeq),
        check(g.decodeBatch, "--decode-batch", 1, 4096)}) {
    if (!why.empty()) {
      return fail(why);
    }
  }
  return g;
}

namespace {
/// The family's programs, compiled one bucket at a time with `options`
/// (Emit::Package: each a package image whose constants went into
/// `store`; Emit::Programs: the NPU programs only, no constant bytes).
FailureOr<std::vector<GenerationProgram>>
compileBuckets(MLIRContext &context, const std::string &path,
               OnnxImportOptions importOptions, const CompileOptions &options,
               const GenerateOptions &requested, WeightStore *store,
               GenerateOptions &resolved, int64_t &slots) {
  auto fileLoc = FileLineColLoc::get(&context, path, 0, 0);
  auto report = [&](llvm::Error error) {
    emitError(fileLoc) << llvm::toString(std::move(error));
    return failure();
  };
  llvm::Expected<GenerateOptions> generate = resolveBuckets(requested);
  if (!generate) {
    return report(generate.takeError());
  }
  llvm::Expected<std::vector<OnnxGraphInput>> inputs =
      readOnnxGraphInputs(path);
  if (!inputs) {
    return report(inputs.takeError());
  }
  llvm::Expected<DimRoles> roles = findDimRoles(*inputs);
  if (!roles) {
    return report(roles.takeError());
  }
  if (roles->oneToken) {
    if (!requested.prefillBuckets.empty() &&
        requested.prefillBuckets != std::vector<int64_t>{1}) {
      return emitError(fileLoc)
             << "--prefill-buckets: this decoder's input_ids is [batch, 1], "
                "so it takes one token per step; its only prefill bucket is 1";
    }
    generate->prefillBuckets = {1};
  }
  slots = *std::max_element(generate->decodeBatch.begin(),
                            generate->decodeBatch.end());

  // Optimum's merged decoder picks its with-past branch by this flag, for
  // every program and for calibration; a zero-length past serves the
  // prefill through the same branch.
  for (const OnnxGraphInput &in : *inputs) {
    if (in.name == "use_cache_branch" &&
        !importOptions.constantInputs.count(in.name)) {
      importOptions.constantInputs[in.name] = serializeOnnxBoolTensor(
          std::vector<int64_t>(in.dims.size(), 1), true);
    }
  }

  CompileOptions programOptions = options;
  // Every program is quantized from one calibration.
  if (options.quantize && !options.afterGraphPasses) {
    FailureOr<CompileOptions> quantized =
        prepareQuantization(context, path, importOptions, options);
    if (failed(quantized)) {
      return failure();
    }
    programOptions = *quantized;
  }
  programOptions.kvCache = CompileOptions::KvCache{slots, generate->maxSeq};
  programOptions.weightStore = store;
  std::vector<Bucket> buckets = bucketsOf(*generate);
  std::vector<GenerationProgram> programs;
  for (auto [index, bucket] : llvm::enumerate(buckets)) {
    if (options.progress) {
      options.progress(llvm::formatv("program {0}/{1}: {2}", index + 1,
                                     buckets.size(), bucket.name)
                           .str());
    }
    std::map<std::string, int64_t> sizes = {
        {roles->batch, bucket.batch},
        {roles->past, bucket.context - bucket.tokens}};
    if (!roles->tokens.empty()) {
      sizes[roles->tokens] = bucket.tokens;
    }
    if (!roles->total.empty()) {
      sizes[roles->total] = bucket.context;
    }
    OnnxImportOptions bucketImport = importOptions;
    for (const OnnxGraphInput &in : *inputs) {
      if (bucketImport.inputShapes.count(in.name) ||
          bucketImport.constantInputs.count(in.name)) {
        continue;
      }
      std::vector<int64_t> shape;
      for (size_t d = 0; d < in.dims.size(); ++d) {
        if (in.dims[d] >= 0) {
          shape.push_back(in.dims[d]);
          continue;
        }
        auto it = sizes.find(in.dimParams[d]);
        if (it == sizes.end()) {
          return emitError(fileLoc)
                 << "input '" << in.name << "' has a dynamic dimension " << d
                 << (in.dimParams[d].empty() ? std::string(" without a name")
                                             : " ('" + in.dimParams[d] + "')")
                 << " that is not the batch, sequence, past or total length "
                    "of the decoder; pin it with --input-shape";
        }
        shape.push_back(it->second);
      }
      bucketImport.inputShapes[in.name] = shape;
    }
    FailureOr<CompileResult> program =
        compileOnnxFile(context, path, bucketImport, programOptions);
    if (failed(program)) {
      emitRemark(fileLoc) << "while compiling the program '" << bucket.name
                          << "' (batch " << bucket.batch << ", "
                          << bucket.tokens << " new tokens, context "
                          << bucket.context << ")";
      return failure();
    }
    GenerationProgram out;
    out.name = bucket.name;
    out.prefill = bucket.kind == package::ProgramKind::Prefill;
    out.batch = bucket.batch;
    out.tokens = bucket.tokens;
    out.context = bucket.context;
    out.result = std::move(*program);
    programs.push_back(std::move(out));
  }
  resolved = *generate;
  return programs;
}
} // namespace

FailureOr<std::vector<GenerationProgram>>
compileGenerationPrograms(MLIRContext &context, const std::string &path,
                          OnnxImportOptions importOptions,
                          const CompileOptions &options,
                          const GenerateOptions &generate) {
  if (options.emit != Emit::Programs) {
    return emitError(FileLineColLoc::get(&context, path, 0, 0))
           << "compileGenerationPrograms makes NPU programs only (Emit::"
              "Programs); a package comes from compileGenerationFamily";
  }
  GenerateOptions resolved;
  int64_t slots = 0;
  return compileBuckets(context, path, std::move(importOptions), options,
                        generate, /*store=*/nullptr, resolved, slots);
}

FailureOr<CompileResult>
compileGenerationFamily(MLIRContext &context, const std::string &path,
                        OnnxImportOptions importOptions,
                        const CompileOptions &options,
                        const GenerateOptions &requested) {
  auto fileLoc = FileLineColLoc::get(&context, path, 0, 0);
  if (options.emit != Emit::Package) {
    return emitError(fileLoc) << "--generate writes a package; --emit mlir "
                                 "and asm show one program: compile with "
                                 "--input-shape instead";
  }
  WeightStore store;
  GenerateOptions resolved;
  int64_t slots = 0;
  FailureOr<std::vector<GenerationProgram>> compiled =
      compileBuckets(context, path, std::move(importOptions), options,
                     requested, &store, resolved, slots);
  if (failed(compiled)) {
    return failure();
  }
  const GenerateOptions *generate = &resolved;
  CompileResult family;
  std::vector<package::PackageBuilder::ProgramSpec> programs;
  for (GenerationProgram &program : *compiled) {
    family.text +=
        llvm::formatv("{0,-20} {1,-8} batch {2,-3} tokens {3,-5} "
                      "context {4,-5} {5} partition(s)\n",
                      program.name, program.prefill ? "prefill" : "decode",
                      program.batch, program.tokens, program.context,
                      program.result.report.partitions.size())
            .str();
    package::PackageBuilder::ProgramSpec spec;
    spec.name = program.name;
    spec.kind = program.prefill ? package::ProgramKind::Prefill
                                : package::ProgramKind::Decode;
    spec.batch = static_cast<uint32_t>(program.batch);
    spec.tokens = static_cast<uint32_t>(program.tokens);
    spec.context = static_cast<uint32_t>(program.context);
    spec.image = std::move(program.result.package);
    programs.push_back(std::move(spec));
    family.report = std::move(program.result.report);
  }
  size_t programCount = programs.size();

  package::PackageBuilder builder;
  builder.setProducer(options.producer);
  builder.setWeights(store.bytes().data(), store.bytes().size());
  if (options.target != "cpu") {
    Result<target::Target> loaded = target::findTarget(options.target);
    if (!loaded) {
      return emitError(fileLoc) << loaded.error();
    }
    builder.setTarget(loaded->name, target::targetToYaml(*loaded));
  }
  for (package::PackageBuilder::ProgramSpec &spec : programs) {
    builder.addProgram(std::move(spec));
  }
  if (options.timingOnly) {
    builder.setAbsentWeights(store.absentBytes());
  }
  package::GenerationInfo info;
  info.slots = static_cast<uint32_t>(slots);
  info.maxSeq = static_cast<uint32_t>(generate->maxSeq);
  builder.setGeneration(info);
  Result<std::vector<uint8_t>> bytes = builder.build();
  if (!bytes) {
    return emitError(fileLoc) << "cannot build the package: " << bytes.error();
  }
  family.package = std::move(*bytes);
  family.text +=
      llvm::formatv("{0} programs, {1} cache slots, max_seq {2}, "
                    "{3} weight bytes shared\n",
                    programCount, slots, generate->maxSeq, store.bytes().size())
          .str();
  if (options.timingOnly) {
    family.text += llvm::formatv("timing-only: {0} bytes of NPU constants "
                                 "not stored (each program's own)\n",
                                 store.absentBytes())
                       .str();
  }
  // One calibration quantized every program: its notes once, for the family.
  for (const std::string &line : family.report.quantization) {
    family.text += line + "\n";
  }
  return family;
}

} // namespace nuri::driver
