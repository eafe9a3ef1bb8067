//===- Package.h - The .nuri package format ---------------------*- C++ -*-===//
//
// A compiled model as one file: the partitions in schedule order (CPU
// partitions as serialized nuri::graph::Graph, NPU partitions as encoded
// per-core instruction streams plus their memory plan), the model-level
// tensors (I/O names, shapes, dtypes, quantization), the weights (64-byte
// aligned, mmap-able), the target config and checksums. A generation
// package is a family of such programs (prefill and decode buckets), each a
// nested package image, sharing one weight blob and one set of state
// buffers. The layout is written down in docs/package-format.md.
//
// The compiler writes packages with PackageBuilder; the runtime, `nuri
// inspect` and the fuzzer read them with readPackage, which checks every
// offset, size, count, enum, string length and checksum before anything is
// used: hostile bytes give an error, never a crash. No LLVM or MLIR here.
//
//===----------------------------------------------------------------------===//

#ifndef NURI_PACKAGE_PACKAGE_H
#define NURI_PACKAGE_PACKAGE_H

#include "nuri/graph/Graph.h"
#include "nuri/isa/Program.h"
#include "nuri/isa/Result.h"
#include "nuri/target/Target.h"

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace nuri::package {

constexpr char kMagic[8] = {'N', 'U', 'R', 'I', 'P', 'K', 'G', '\0'};
/// A reader accepts its own major version and any minor version: minor
/// versions only add section kinds, which older readers skip.
constexpr uint16_t kVersionMajor = 1;
/// 1.1 added the State section, 1.2 the Program and Generation sections of
/// a program family, 1.3 the AbsentWeights section of a timing-only
/// package. The writer stamps the lowest minor version whose sections the
/// package uses: a plain package is 1.1, a family 1.2, a timing-only one
/// 1.3.
constexpr uint16_t kVersionMinor = 3;
constexpr uint16_t kVersionMinorPlain = 1;
constexpr uint16_t kVersionMinorFamily = 2;
constexpr uint64_t kHeaderBytes = 64;
constexpr uint64_t kSectionEntryBytes = 32;
/// Every section starts on this boundary, so weights can be used in place
/// from an mmap and tensors keep the alignment the compiler gave them.
constexpr uint64_t kAlignment = 64;

/// Section kinds; the numbering is part of the format (append only).
enum class SectionKind : uint32_t {
  Meta = 1,        ///< producer, target name
  Values = 2,      ///< model-level tensors and which are model I/O
  Schedule = 3,    ///< partitions in execution order
  CpuGraph = 4,    ///< one serialized graph::Graph per CPU partition
  NpuProgram = 5,  ///< one ISA binary (isa::encodeProgram) per NPU partition
  MemoryPlan = 6,  ///< one per NPU partition: tensor -> DRAM address
  Weights = 7,     ///< the weight blob (TensorDesc::dataOffset points here)
  Target = 8,      ///< the target config YAML, as loaded by NuriTarget
  State = 9,       ///< state buffers that persist across runs (format 1.1)
  Program = 10,    ///< one program of a family: a nested image (format 1.2)
  Generation = 11, ///< the family's cache geometry (format 1.2)
  /// Timing-only: the size of the weight blob the NPU weight loads refer to,
  /// whose bytes the package does not hold (format 1.3).
  AbsentWeights = 12,
};
const char *sectionKindName(SectionKind kind);

/// Quantization of an int8/uint8 tensor: real = scale * (q - zeroPoint),
/// per tensor (one scale, axis -1) or per channel along `axis`.
struct QuantParams {
  std::vector<double> scales;
  std::vector<int64_t> zeroPoints;
  int32_t axis = -1;
  bool empty() const { return scales.empty(); }
};

/// A model-level tensor: a model input or output, or a tensor that crosses
/// from one partition to a later one.
struct ValueDesc {
  std::string name;
  graph::DType dtype = graph::DType::F32;
  std::vector<int64_t> shape;
  QuantParams quant;

  int64_t byteSize() const {
    return graph::elementCount(shape) *
           static_cast<int64_t>(graph::dtypeSize(dtype));
  }
};

enum class PartitionKind : uint8_t { Cpu = 0, Npu = 1 };
const char *partitionKindName(PartitionKind kind);

/// Where an NPU partition finds a weight range in simulated DRAM: the host
/// writes weights[weightOffset, +bytes) to `address` before the run.
struct WeightLoad {
  uint64_t weightOffset = 0;
  uint64_t bytes = 0;
  uint64_t address = 0;
};

struct Partition {
  PartitionKind kind = PartitionKind::Cpu;
  std::string name;
  /// Value ids. CPU: inputs[i] is graph.inputs[i], outputs[i] is
  /// graph.outputs[i]. NPU: bound to inputAddresses/outputAddresses.
  std::vector<int32_t> inputs;
  std::vector<int32_t> outputs;
  graph::Graph graph;   ///< CPU partitions
  isa::Program program; ///< NPU partitions
  /// NPU memory plan: dense row-major tensors at these DRAM addresses.
  std::vector<uint64_t> inputAddresses;
  std::vector<uint64_t> outputAddresses;
  std::vector<WeightLoad> weightLoads;
};

/// A buffer the session keeps across runs (the KV cache of a decoder). At
/// the start of a run the value `input` is the buffer's contents; at the end
/// the buffer takes the contents of the value `output`. With `inPlace` the
/// value `output` lives in the buffer itself (no copy): the partition that
/// writes it updates the state where it stands, reading `input` from the
/// same bytes, so it must read every element before it overwrites it (an
/// elementwise accumulate, or a cache written only at new positions).
/// Otherwise `output` has its own buffer and is copied in after the run.
struct StateBuffer {
  std::string name;
  graph::DType dtype = graph::DType::F32;
  std::vector<int64_t> shape;
  int32_t input = -1;  ///< value id: read by partitions, written by none
  int32_t output = -1; ///< value id: written by a partition
  bool inPlace = false;
  /// Initial contents (and those after a reset): weights[initOffset, +size)
  /// or, for -1, zeros.
  int64_t initOffset = -1;

  int64_t byteSize() const {
    return graph::elementCount(shape) *
           static_cast<int64_t>(graph::dtypeSize(dtype));
  }
};

struct Package;

/// What a program of a family computes: a prefill bucket (the prompt, or a
/// chunk of it, for `batch` sequences of `tokens` query tokens) or a decode
/// bucket (one token per sequence). The numbering is part of the format.
enum class ProgramKind : uint8_t { Prefill = 0, Decode = 1 };
const char *programKindName(ProgramKind kind);

/// One program of a family: a complete package of its own (values,
/// schedule, states) whose weights are the family's.
struct ProgramDesc {
  std::string name; ///< unique in the family, non-empty
  ProgramKind kind = ProgramKind::Prefill;
  uint32_t batch = 0;   ///< sequences per run (<= GenerationInfo::slots)
  uint32_t tokens = 0;  ///< query tokens per sequence (1 for decode)
  uint32_t context = 0; ///< cache positions attention reads (>= tokens)
  /// The nested program; its `weights` are the outer package's.
  std::shared_ptr<const Package> package;
};

/// The cache geometry every program of a family shares.
struct GenerationInfo {
  uint32_t slots = 0;  ///< cache slots: the most sequences in flight
  uint32_t maxSeq = 0; ///< cache length in positions
};

/// A decoded package. `weights` points into the bytes it was read from (the
/// caller keeps them alive; see PackageFile).
struct Package {
  uint16_t versionMajor = kVersionMajor;
  uint16_t versionMinor = kVersionMinor;
  std::string producer;
  std::string targetName; ///< "cpu" for packages with no NPU partition
  std::string targetYaml; ///< empty when no NPU partition needs it
  /// The target config, parsed once by the reader (null without a target
  /// section); the runtime uses it and never parses the YAML again.
  std::shared_ptr<const target::Target> target;
  std::vector<ValueDesc> values;
  std::vector<int32_t> inputs;  ///< value ids of the model inputs, in order
  std::vector<int32_t> outputs; ///< value ids of the model outputs, in order
  std::vector<Partition> partitions; ///< in execution order
  std::vector<StateBuffer> states;
  const uint8_t *weights = nullptr;
  uint64_t weightBytes = 0;
  uint64_t fileBytes = 0;
  /// A timing-only package (an AbsentWeights section; a program image
  /// inherits it from its family): compiled without weight data, so its
  /// NPU weight loads refer to an absent blob of absentWeightBytes bytes
  /// instead of `weights` (which keeps the CPU partitions' constants and
  /// the states' initial values). It runs only on a device that simulates
  /// timing without data; its outputs mean nothing.
  bool timingOnly = false;
  uint64_t absentWeightBytes = 0;
  /// A family (format 1.2): the programs, which share `weights` and declare
  /// the same state buffers. A family has no values, partitions or states
  /// of its own; `generation` is set exactly when `programs` is not empty.
  std::vector<ProgramDesc> programs;
  GenerationInfo generation;

  bool isFamily() const { return !programs.empty(); }
  /// The state buffers a session keeps: this package's, or for a family
  /// those of its first program (every program declares the same ones;
  /// their value ids are the first program's).
  const std::vector<StateBuffer> &sessionStates() const;
  /// The program named `name`, or nullptr.
  const ProgramDesc *findProgram(const std::string &name) const;
  /// True when a partition (of a family: of any program) runs on the NPU.
  bool hasNpuPartitions() const;
  /// The value id with this name, or -1.
  int32_t findValue(const std::string &name) const;
};

struct ReadOptions {
  /// Verify the CRC-32C of every section and of the whole file. The fuzzer
  /// turns it off to reach the structural checks behind it.
  bool verifyChecksums = true;
  /// The weights of the family a program image belongs to. When set, the
  /// image's own weights section must be empty and constants, weight loads
  /// and state initial values refer to these bytes (borrowed: they must
  /// outlive the Package).
  const uint8_t *externalWeights = nullptr;
  uint64_t externalWeightBytes = 0;
  /// With externalWeights: the family is timing-only, its absent blob this
  /// many bytes (Package::timingOnly).
  bool externalTimingOnly = false;
  uint64_t externalAbsentWeightBytes = 0;
};

/// Decodes and validates a package image. Never trusts a byte of it.
Result<Package> readPackage(const uint8_t *data, size_t size,
                            const ReadOptions &options = {});

/// A package together with the bytes it borrows from: an mmap of a file or
/// an owned copy of a buffer.
class PackageFile {
public:
  ~PackageFile();
  PackageFile(const PackageFile &) = delete;
  PackageFile &operator=(const PackageFile &) = delete;

  /// Maps the file read-only; the error names the file.
  static Result<std::shared_ptr<const PackageFile>>
  open(const std::string &path, const ReadOptions &options = {});
  /// Copies `size` bytes into 64-byte aligned storage and reads them.
  static Result<std::shared_ptr<const PackageFile>>
  fromMemory(const void *data, size_t size, const ReadOptions &options = {});

  const Package &package() const { return package_; }
  const std::string &origin() const { return origin_; }
  /// The raw image (valid as long as this object).
  const uint8_t *data() const { return data_; }
  size_t size() const { return size_; }

private:
  PackageFile() = default;
  Package package_;
  std::string origin_;
  const uint8_t *data_ = nullptr;
  size_t size_ = 0;
  void *mapping_ = nullptr; ///< munmap on destruction
  size_t mappingBytes_ = 0;
  std::unique_ptr<uint8_t[], void (*)(uint8_t *)> owned_{nullptr, nullptr};
};

/// Builds a package. The common case (`nuri compile --target cpu`):
///
///   PackageBuilder b;
///   b.setWeights(std::move(weightBytes));
///   b.addCpuPartition(graph);          // model I/O from the graph's I/O
///   Result<bool> ok = b.write("model.nuri");
///
/// Partitions exchange tensors by name: a graph input or output (or an NPU
/// binding) with the name of an earlier partition's output reads that
/// tensor. Unless setIO is called, the model inputs are the tensors read
/// before any partition writes them and the outputs those written but read
/// by no later partition, each in order of first appearance.
class PackageBuilder {
public:
  /// Any name; `nuri inspect` shows it.
  void setProducer(std::string producer);
  /// The target name and its config YAML (nuri::target::loadTargetYaml
  /// must accept it); required when there is an NPU partition.
  void setTarget(std::string name, std::string yaml);
  /// Replaces the weight blob (TensorDesc::dataOffset points into it).
  void setWeights(std::vector<uint8_t> bytes);
  void setWeights(const void *data, size_t size);
  /// Appends bytes to the weight blob at a 64-byte aligned offset and
  /// returns that offset: for NPU constants (a WeightLoad of
  /// {offset, size, address}) after setWeights.
  uint64_t appendWeights(const void *data, size_t size);
  /// The weight blob so far (for setExternalWeights of a program's builder).
  const std::vector<uint8_t> &weights() const { return weights_; }
  /// Makes this builder write a program image of a family whose weights
  /// are `data` (the family builder's weights()): the image gets an empty
  /// weights section, and the read-back validates constants, weight loads
  /// and state initial values against these bytes. Borrowed until build()
  /// or write() returns; excludes setWeights and appendWeights.
  void setExternalWeights(const uint8_t *data, uint64_t size);
  /// Makes the package timing-only (Package::timingOnly): every weight load
  /// refers to an absent blob of `bytes` bytes, not to the weights. On a
  /// program image's builder (after setExternalWeights) it says the family
  /// is timing-only, and the image gets no AbsentWeights section of its own.
  void setAbsentWeights(uint64_t bytes);
  /// Quantization parameters of a named model-level tensor.
  void setQuantization(const std::string &name, QuantParams quant);

  /// Appends a CPU partition. Its graph inputs and outputs must carry
  /// unique, non-empty names.
  void addCpuPartition(graph::Graph graph, std::string name = "");

  struct NpuTensor {
    ValueDesc value;
    uint64_t address = 0; ///< DRAM address of the dense row-major tensor
  };
  /// Appends an NPU partition: the program, where its inputs are written
  /// and its outputs read back, and the weight ranges it expects in DRAM.
  void addNpuPartition(isa::Program program, std::vector<NpuTensor> inputs,
                       std::vector<NpuTensor> outputs,
                       std::vector<WeightLoad> weightLoads,
                       std::string name = "");

  struct StateSpec {
    std::string name;
    graph::DType dtype = graph::DType::F32;
    std::vector<int64_t> shape;
    std::string input;  ///< value read at run start (no partition writes it)
    std::string output; ///< value written by a partition, kept at run end
    bool inPlace = false;
    int64_t initOffset = -1; ///< in the weight blob; -1: zeros
  };
  /// Declares a state buffer (see StateBuffer). Its input and output values
  /// are neither model inputs nor model outputs.
  void addState(StateSpec state);

  /// Names the model inputs and outputs explicitly, in this order.
  void setIO(std::vector<std::string> inputs, std::vector<std::string> outputs);

  /// A program of a family: `image` is a complete package built by another
  /// PackageBuilder with setExternalWeights(weights() of this builder).
  struct ProgramSpec {
    std::string name;
    ProgramKind kind = ProgramKind::Prefill;
    uint32_t batch = 0, tokens = 0, context = 0;
    std::vector<uint8_t> image;
  };
  /// Makes this builder write a family (format 1.2): setWeights, optional
  /// setTarget and setProducer, addProgram for each program, setGeneration;
  /// no partitions, states, setIO or quantization of its own.
  void addProgram(ProgramSpec program);
  void setGeneration(GenerationInfo info);

  /// The encoded package; the result is read back with readPackage before
  /// it is returned, so an invalid package is never produced.
  Result<std::vector<uint8_t>> build() const;
  /// build() and write to `path`; the error names the file.
  Result<bool> write(const std::string &path) const;

private:
  /// The image up to the weights section (which is last).
  Result<std::vector<uint8_t>> buildPrefix() const;
  /// The options that read back what this builder writes.
  ReadOptions readBackOptions() const;
  /// buildPrefix() of a family (throws nuri::Error).
  std::vector<uint8_t> buildFamilyPrefix() const;
  struct PendingPartition {
    Partition partition;
    std::vector<ValueDesc> inputs, outputs;
  };
  std::string producer_ = "nuri";
  std::string targetName_ = "cpu";
  std::string targetYaml_;
  std::vector<uint8_t> weights_;
  std::vector<std::pair<std::string, QuantParams>> quant_;
  std::vector<PendingPartition> partitions_;
  std::vector<StateSpec> states_;
  const uint8_t *externalWeights_ = nullptr;
  uint64_t externalWeightBytes_ = 0;
  bool external_ = false;
  std::optional<uint64_t> absentWeights_;
  std::vector<ProgramSpec> programs_;
  std::optional<GenerationInfo> generation_;
  std::optional<std::pair<std::vector<std::string>, std::vector<std::string>>>
      io_;
  std::string deferredError_;
};

/// Serializes a graph in the format of a CpuGraph section, and back.
std::vector<uint8_t> encodeGraph(const graph::Graph &graph);
Result<graph::Graph> decodeGraph(const uint8_t *data, size_t size);

/// CRC-32C (Castagnoli), hardware-accelerated where the CPU has SSE4.2.
uint32_t crc32c(const uint8_t *data, size_t size, uint32_t crc = 0);

/// A human-readable description (`nuri inspect PKG.nuri`): header,
/// sections, I/O, partitions with op histograms and the tensors that move
/// between CPU and NPU. `fileBytes` is the raw image for the section table.
std::string describePackage(const Package &package, const uint8_t *file,
                            size_t fileBytes);
/// Reads the file and describes it; the error names the file.
Result<std::string> describePackageFile(const std::string &path);
/// True when the bytes start with the .nuri magic.
bool hasPackageMagic(const void *data, size_t size);
/// True when the file exists and starts with the .nuri magic.
bool isPackageFile(const std::string &path);

} // namespace nuri::package

#endif // NURI_PACKAGE_PACKAGE_H
