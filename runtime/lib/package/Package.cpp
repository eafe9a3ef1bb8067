//===- Package.cpp - Writing and reading .nuri packages -------------------===//
//
// The byte layout is docs/package-format.md. Everything read from a file
// goes through ByteReader (bounded) and is checked before it is used.
//
//===----------------------------------------------------------------------===//

#include "nuri/package/Package.h"

#include "ByteIO.h"

#include "nuri/target/Target.h"

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <fstream>
#include <map>
#include <set>

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#if defined(__x86_64__)
#include <nmmintrin.h>
#endif

namespace nuri::package {

using detail::ByteReader;
using detail::ByteWriter;
using graph::DType;

//===----------------------------------------------------------------------===//
// Checksums
//===----------------------------------------------------------------------===//

namespace {

struct CrcTable {
  uint32_t t[256];
  CrcTable() {
    for (uint32_t i = 0; i < 256; ++i) {
      uint32_t c = i;
      for (int k = 0; k < 8; ++k) {
        c = (c & 1) ? (c >> 1) ^ 0x82F63B78u : c >> 1;
      }
      t[i] = c;
    }
  }
};

uint32_t crcSoftware(const uint8_t *p, size_t n, uint32_t crc) {
  static const CrcTable table;
  for (size_t i = 0; i < n; ++i) {
    crc = table.t[(crc ^ p[i]) & 0xFF] ^ (crc >> 8);
  }
  return crc;
}

#if defined(__x86_64__)
__attribute__((target("sse4.2"))) uint32_t crcHardware(const uint8_t *p,
                                                       size_t n, uint32_t crc) {
  uint64_t c = crc;
  while (n >= 8) {
    uint64_t v;
    std::memcpy(&v, p, 8);
    c = _mm_crc32_u64(c, v);
    p += 8;
    n -= 8;
  }
  uint32_t c32 = static_cast<uint32_t>(c);
  while (n--) {
    c32 = _mm_crc32_u8(c32, *p++);
  }
  return c32;
}
#endif

} // namespace

uint32_t crc32c(const uint8_t *data, size_t size, uint32_t crc) {
  crc = ~crc;
#if defined(__x86_64__)
  static const bool hasSse42 = __builtin_cpu_supports("sse4.2");
  if (hasSse42) {
    return ~crcHardware(data, size, crc);
  }
#endif
  return ~crcSoftware(data, size, crc);
}

//===----------------------------------------------------------------------===//
// Names
//===----------------------------------------------------------------------===//

const char *sectionKindName(SectionKind kind) {
  switch (kind) {
  case SectionKind::Meta:
    return "meta";
  case SectionKind::Values:
    return "values";
  case SectionKind::Schedule:
    return "schedule";
  case SectionKind::CpuGraph:
    return "cpu_graph";
  case SectionKind::NpuProgram:
    return "npu_program";
  case SectionKind::MemoryPlan:
    return "memory_plan";
  case SectionKind::Weights:
    return "weights";
  case SectionKind::Target:
    return "target";
  case SectionKind::State:
    return "state";
  case SectionKind::Program:
    return "program";
  case SectionKind::Generation:
    return "generation";
  case SectionKind::AbsentWeights:
    return "absent_weights";
  }
  return "unknown";
}

const char *programKindName(ProgramKind kind) {
  switch (kind) {
  case ProgramKind::Prefill:
    return "prefill";
  case ProgramKind::Decode:
    return "decode";
  }
  return "unknown";
}

const char *partitionKindName(PartitionKind kind) {
  return kind == PartitionKind::Npu ? "npu" : "cpu";
}

bool Package::hasNpuPartitions() const {
  for (const Partition &p : partitions) {
    if (p.kind == PartitionKind::Npu) {
      return true;
    }
  }
  for (const ProgramDesc &p : programs) {
    if (p.package->hasNpuPartitions()) {
      return true;
    }
  }
  return false;
}

const std::vector<StateBuffer> &Package::sessionStates() const {
  return programs.empty() ? states : programs.front().package->states;
}

const ProgramDesc *Package::findProgram(const std::string &name) const {
  for (const ProgramDesc &p : programs) {
    if (p.name == name) {
      return &p;
    }
  }
  return nullptr;
}

int32_t Package::findValue(const std::string &name) const {
  for (size_t i = 0; i < values.size(); ++i) {
    if (values[i].name == name) {
      return static_cast<int32_t>(i);
    }
  }
  return -1;
}

bool hasPackageMagic(const void *data, size_t size) {
  return size >= sizeof(kMagic) && std::memcmp(data, kMagic, 8) == 0;
}

bool isPackageFile(const std::string &path) {
  std::ifstream in(path, std::ios::binary);
  char magic[sizeof(kMagic)] = {};
  in.read(magic, sizeof(magic));
  return in && hasPackageMagic(magic, sizeof(magic));
}

//===----------------------------------------------------------------------===//
// Shapes and values
//===----------------------------------------------------------------------===//

namespace {

constexpr uint32_t kMaxRank = 16;
constexpr int64_t kMaxElements = int64_t(1) << 40;
constexpr uint32_t kMaxSections = 1u << 16;
constexpr uint32_t kMaxTargetYamlBytes = 1u << 20;

std::string shapeString(const std::vector<int64_t> &shape) {
  std::string s = "[";
  for (size_t i = 0; i < shape.size(); ++i) {
    s += (i ? "," : "") + std::to_string(shape[i]);
  }
  return s + "]";
}

std::string typeString(DType dtype, const std::vector<int64_t> &shape) {
  return shapeString(shape) + " " + graph::dtypeName(dtype);
}

DType readDType(ByteReader &r) {
  uint8_t code = r.u8();
  if (graph::dtypeSize(static_cast<DType>(code)) == 0) {
    r.fail("unknown element type code " + std::to_string(code));
  }
  return static_cast<DType>(code);
}

/// Reads the name of entry `index` of a section (`entry`: "value", "state
/// buffer"): the runtime looks entries up by name, so a name is non-empty
/// and no two entries of the section share it (`seen` holds the earlier
/// ones).
std::string readUniqueName(ByteReader &r, const char *what, const char *entry,
                           size_t index, std::set<std::string> &seen) {
  std::string name = r.str(what);
  if (name.empty() || !seen.insert(name).second) {
    r.fail(std::string(entry) + " " + std::to_string(index) +
           " has an empty or repeated name '" + name + "'");
  }
  return name;
}

std::vector<int64_t> readShape(ByteReader &r) {
  uint32_t rank = r.count(8, "rank");
  if (rank > kMaxRank) {
    r.fail("rank " + std::to_string(rank) + " exceeds the limit " +
           std::to_string(kMaxRank));
  }
  std::vector<int64_t> shape(rank);
  int64_t elements = 1;
  for (int64_t &d : shape) {
    d = r.i64();
    if (d < 0 || (d && elements > kMaxElements / d)) {
      r.fail("dimension " + std::to_string(d) +
             " is negative or the shape impossibly large");
    }
    elements *= d;
  }
  return shape;
}

void writeShape(ByteWriter &w, const std::vector<int64_t> &shape) {
  w.i64s(shape);
}

} // namespace

//===----------------------------------------------------------------------===//
// Graph serialization
//===----------------------------------------------------------------------===//

namespace {
enum AttrTag : uint8_t {
  TagInt = 0,
  TagFloat = 1,
  TagString = 2,
  TagInts = 3,
  TagFloats = 4
};
} // namespace

std::vector<uint8_t> encodeGraph(const graph::Graph &g) {
  ByteWriter w;
  w.u32(static_cast<uint32_t>(g.tensors.size()));
  for (const graph::TensorDesc &t : g.tensors) {
    w.str(t.name);
    w.u8(static_cast<uint8_t>(t.dtype));
    writeShape(w, t.shape);
    w.i64(t.dataOffset);
  }
  w.u32(static_cast<uint32_t>(g.ops.size()));
  for (const graph::Op &op : g.ops) {
    w.str(op.kind);
    w.str(op.location);
    w.i32s(op.inputs);
    w.i32s(op.outputs);
    w.u32(static_cast<uint32_t>(op.attrs.size()));
    for (const auto &[name, value] : op.attrs) {
      w.str(name);
      w.u8(static_cast<uint8_t>(value.index()));
      if (auto *i = std::get_if<int64_t>(&value)) {
        w.i64(*i);
      } else if (auto *f = std::get_if<double>(&value)) {
        w.f64(*f);
      } else if (auto *s = std::get_if<std::string>(&value)) {
        w.str(*s);
      } else if (auto *is = std::get_if<std::vector<int64_t>>(&value)) {
        w.i64s(*is);
      } else {
        w.f64s(std::get<std::vector<double>>(value));
      }
    }
  }
  w.i32s(g.inputs);
  w.i32s(g.outputs);
  return std::move(w.bytes);
}

namespace {

graph::Graph decodeGraphOrThrow(ByteReader &r) {
  graph::Graph g;
  // A tensor is at least a name length, dtype, rank and offset.
  g.tensors.resize(r.count(4 + 1 + 4 + 8, "tensor"));
  for (graph::TensorDesc &t : g.tensors) {
    t.name = r.str("tensor name");
    t.dtype = readDType(r);
    t.shape = readShape(r);
    t.dataOffset = r.i64();
    if (t.dataOffset < -1) {
      r.fail("tensor data offset " + std::to_string(t.dataOffset) +
             " is negative");
    }
  }
  g.ops.resize(r.count(4 * 5, "op"));
  for (graph::Op &op : g.ops) {
    op.kind = r.str("op kind");
    op.location = r.str("op location");
    op.inputs = r.i32s("op input");
    op.outputs = r.i32s("op output");
    uint32_t attrs = r.count(4 + 1, "attribute");
    for (uint32_t a = 0; a < attrs; ++a) {
      std::string name = r.str("attribute name");
      uint8_t tag = r.u8();
      graph::AttrValue value;
      switch (tag) {
      case TagInt:
        value = r.i64();
        break;
      case TagFloat:
        value = r.f64();
        break;
      case TagString:
        value = r.str("string attribute", 1u << 24);
        break;
      case TagInts:
        value = r.i64s("ints attribute");
        break;
      case TagFloats:
        value = r.f64s("floats attribute");
        break;
      default:
        r.fail("attribute '" + name + "' has unknown type tag " +
               std::to_string(tag));
      }
      if (!op.attrs.emplace(std::move(name), std::move(value)).second) {
        r.fail("op '" + op.kind + "' repeats an attribute");
      }
    }
  }
  g.inputs = r.i32s("graph input");
  g.outputs = r.i32s("graph output");
  r.expectEnd();
  return g;
}

} // namespace

Result<graph::Graph> decodeGraph(const uint8_t *data, size_t size) {
  return catchErrors([&] {
    ByteReader r(data, size, "graph");
    return decodeGraphOrThrow(r);
  });
}

//===----------------------------------------------------------------------===//
// Reading
//===----------------------------------------------------------------------===//

namespace {

struct SectionEntry {
  SectionKind kind;
  uint64_t offset = 0;
  uint64_t size = 0;
  uint32_t crc = 0;
};

/// Rejects YAML that could make the parser recurse deeply: flow
/// collections nest by brackets, so their count bounds the depth.
void checkYamlShape(const std::string &yaml) {
  size_t brackets = 0;
  for (char c : yaml) {
    brackets += c == '[' || c == '{';
  }
  if (brackets > 256) {
    throw Error("target section: " + std::to_string(brackets) +
                " flow brackets exceed the limit 256");
  }
}

uint64_t alignUp(uint64_t x) {
  return (x + kAlignment - 1) / kAlignment * kAlignment;
}

/// What a program image of a family inherits from the family.
struct Nesting {
  std::shared_ptr<target::Target> target; ///< null without a target section
  std::string targetYaml;
  std::string targetName;
};

class Reader {
public:
  Reader(const uint8_t *data, size_t size, const ReadOptions &options,
         const Nesting *nesting = nullptr)
      : data_(data), size_(size), options_(options), nesting_(nesting) {}

  Package read() {
    readHeader();
    readSectionTable();
    bool family = has(SectionKind::Program) || has(SectionKind::Generation);
    if (family && nesting_) {
      fail("a program image has program or generation sections of its own");
    }
    readMeta();
    readWeights();
    readTarget();
    if (family) {
      readFamily();
      return std::move(pkg_);
    }
    readValues();
    readStates();
    readSchedule();
    checkStateOutputs();
    if (nesting_ && pkg_.hasNpuPartitions() &&
        pkg_.targetName != nesting_->targetName) {
      fail("meta section: target '" + pkg_.targetName +
           "' is not the family's target '" + nesting_->targetName + "'");
    }
    return std::move(pkg_);
  }

private:
  const uint8_t *data_;
  size_t size_;
  ReadOptions options_;
  const Nesting *nesting_; ///< set when reading a program of a family
  Package pkg_;
  std::vector<SectionEntry> sections_;
  std::vector<bool> used_;
  std::shared_ptr<target::Target> target_;
  std::vector<bool> stateInput_; ///< per value: bound to a state's input

  [[noreturn]] static void fail(const std::string &message) {
    throw Error(message);
  }

  void readHeader() {
    if (size_ < kHeaderBytes) {
      fail("file of " + std::to_string(size_) +
           " bytes is shorter than the package header (" +
           std::to_string(kHeaderBytes) + " bytes)");
    }
    if (!hasPackageMagic(data_, size_)) {
      fail("not a .nuri package (bad magic)");
    }
    ByteReader r(data_, kHeaderBytes, "header");
    r.get<uint64_t>(); // magic
    pkg_.versionMajor = r.u16();
    pkg_.versionMinor = r.u16();
    if (pkg_.versionMajor != kVersionMajor) {
      fail("package format version " + std::to_string(pkg_.versionMajor) + "." +
           std::to_string(pkg_.versionMinor) +
           " is not supported (this reader knows " +
           std::to_string(kVersionMajor) + ".x)");
    }
    uint32_t headerBytes = r.u32();
    uint64_t fileBytes = r.u64();
    uint64_t tableOffset = r.u64();
    uint32_t sectionCount = r.u32();
    uint32_t tableCrc = r.u32();
    uint32_t fileCrc = r.u32();
    uint32_t headerCrc = r.u32();
    for (int i = 0; i < 2; ++i) {
      if (r.u64() != 0) {
        fail("header: reserved bytes are not zero");
      }
    }
    if (headerBytes != kHeaderBytes) {
      fail("header: size " + std::to_string(headerBytes) + " is not " +
           std::to_string(kHeaderBytes));
    }
    if (options_.verifyChecksums && crc32c(data_, 44) != headerCrc) {
      fail("header: checksum mismatch");
    }
    if (fileBytes != size_) {
      fail("header says the file has " + std::to_string(fileBytes) +
           " bytes, but it has " + std::to_string(size_) +
           " (truncated or padded)");
    }
    if (sectionCount == 0 || sectionCount > kMaxSections) {
      fail("header: section count " + std::to_string(sectionCount) +
           " is out of range");
    }
    if (tableOffset != kHeaderBytes ||
        sectionCount * kSectionEntryBytes > size_ - kHeaderBytes) {
      fail("header: section table (offset " + std::to_string(tableOffset) +
           ", " + std::to_string(sectionCount) +
           " entries) lies outside the file");
    }
    if (options_.verifyChecksums) {
      if (crc32c(data_ + tableOffset, sectionCount * kSectionEntryBytes) !=
          tableCrc) {
        fail("section table: checksum mismatch");
      }
      static const uint8_t zeros[8] = {};
      uint32_t crc = crc32c(data_, 40);
      crc = crc32c(zeros, 8, crc);
      crc = crc32c(data_ + 48, size_ - 48, crc);
      if (crc != fileCrc) {
        fail("file checksum mismatch (the file is corrupted)");
      }
    }
    sections_.resize(sectionCount);
  }

  void readSectionTable() {
    ByteReader r(data_ + kHeaderBytes, sections_.size() * kSectionEntryBytes,
                 "section table");
    uint64_t tableEnd = kHeaderBytes + sections_.size() * kSectionEntryBytes;
    std::vector<std::pair<uint64_t, uint64_t>> ranges;
    for (size_t i = 0; i < sections_.size(); ++i) {
      SectionEntry &s = sections_[i];
      std::string where = "section " + std::to_string(i);
      s.kind = static_cast<SectionKind>(r.u32());
      uint32_t flags = r.u32();
      s.offset = r.u64();
      s.size = r.u64();
      s.crc = r.u32();
      uint32_t reserved = r.u32();
      if (flags != 0 || reserved != 0) {
        fail(where + ": flags or reserved field is not zero");
      }
      if (s.offset % kAlignment != 0) {
        fail(where + ": offset " + std::to_string(s.offset) +
             " is not aligned to " + std::to_string(kAlignment));
      }
      if (s.offset < tableEnd || s.offset > size_ ||
          s.size > size_ - s.offset) {
        fail(where + " (" + sectionKindName(s.kind) + "): bytes [" +
             std::to_string(s.offset) + ", +" + std::to_string(s.size) +
             ") lie outside the file of " + std::to_string(size_) + " bytes");
      }
      if (options_.verifyChecksums &&
          crc32c(data_ + s.offset, s.size) != s.crc) {
        fail(where + " (" + sectionKindName(s.kind) + "): checksum mismatch");
      }
      ranges.emplace_back(s.offset, s.size);
    }
    std::sort(ranges.begin(), ranges.end());
    for (size_t i = 1; i < ranges.size(); ++i) {
      if (ranges[i - 1].first + ranges[i - 1].second > ranges[i].first) {
        fail("sections overlap at byte " + std::to_string(ranges[i].first));
      }
    }
    used_.assign(sections_.size(), false);
  }

  /// The one section of `kind`; `required` or nullptr.
  const SectionEntry *single(SectionKind kind, bool required) {
    const SectionEntry *found = nullptr;
    for (size_t i = 0; i < sections_.size(); ++i) {
      if (sections_[i].kind == kind) {
        if (found) {
          fail(std::string("more than one ") + sectionKindName(kind) +
               " section");
        }
        found = &sections_[i];
        used_[i] = true;
      }
    }
    if (!found && required) {
      fail(std::string("no ") + sectionKindName(kind) + " section");
    }
    return found;
  }

  bool has(SectionKind kind) const {
    for (const SectionEntry &s : sections_) {
      if (s.kind == kind) {
        return true;
      }
    }
    return false;
  }

  ByteReader reader(const SectionEntry &s) {
    return ByteReader(data_ + s.offset, s.size,
                      std::string(sectionKindName(s.kind)) + " section");
  }

  void readMeta() {
    ByteReader r = reader(*single(SectionKind::Meta, true));
    pkg_.producer = r.str("producer");
    pkg_.targetName = r.str("target name");
    r.expectEnd();
  }

  void readWeights() {
    const SectionEntry *s = single(SectionKind::Weights, true);
    pkg_.weights = data_ + s->offset;
    pkg_.weightBytes = s->size;
    pkg_.fileBytes = size_;
    if (options_.externalWeights) {
      // A program of a family: its constants point into the family's.
      if (s->size != 0) {
        fail("weights section: a program image has " + std::to_string(s->size) +
             " bytes of weights of its own; its constants must point into "
             "the family's weights");
      }
      pkg_.weights = options_.externalWeights;
      pkg_.weightBytes = options_.externalWeightBytes;
      pkg_.timingOnly = options_.externalTimingOnly;
      pkg_.absentWeightBytes = options_.externalAbsentWeightBytes;
    }
    if (const SectionEntry *a = single(SectionKind::AbsentWeights, false)) {
      if (options_.externalWeights) {
        fail("absent_weights section: a program image is timing-only "
             "exactly when its family is; it has no such section of its own");
      }
      ByteReader r = reader(*a);
      pkg_.timingOnly = true;
      pkg_.absentWeightBytes = r.u64();
      r.expectEnd();
    }
  }

  void readTarget() {
    const SectionEntry *s = single(SectionKind::Target, false);
    if (!s) {
      return;
    }
    ByteReader r = reader(*s);
    pkg_.targetYaml = r.str("target yaml", kMaxTargetYamlBytes);
    r.expectEnd();
    if (pkg_.targetYaml.empty()) {
      return;
    }
    if (nesting_) {
      // Every program runs on the family's target: the same config, which
      // was parsed once for the family.
      if (!nesting_->target) {
        fail("target section: the program has a target config but the "
             "family has none");
      }
      if (pkg_.targetYaml != nesting_->targetYaml) {
        fail("target section: the program's target config differs from the "
             "family's");
      }
      target_ = nesting_->target;
      pkg_.target = target_;
      return;
    }
    checkYamlShape(pkg_.targetYaml);
    Result<target::Target> t =
        target::loadTargetYaml(pkg_.targetYaml, "target section");
    if (!t) {
      fail(t.error());
    }
    target_ = std::make_shared<target::Target>(std::move(*t));
    pkg_.target = target_;
  }

  /// A program family: the generation section and the programs, each a
  /// nested image read with this package's weights and target.
  void readFamily() {
    for (size_t i = 0; i < sections_.size(); ++i) {
      switch (sections_[i].kind) {
      case SectionKind::Values:
      case SectionKind::Schedule:
      case SectionKind::State:
      case SectionKind::CpuGraph:
      case SectionKind::NpuProgram:
      case SectionKind::MemoryPlan:
        fail("section " + std::to_string(i) + " (" +
             sectionKindName(sections_[i].kind) +
             "): a program family has no values, partitions or states of "
             "its own; they belong to its programs");
      default:
        break;
      }
    }
    if (!has(SectionKind::Program)) {
      fail("a generation section without program sections");
    }
    const SectionEntry *g = single(SectionKind::Generation, false);
    if (!g) {
      fail("a package with program sections needs a generation section");
    }
    {
      ByteReader r = reader(*g);
      pkg_.generation.slots = r.u32();
      pkg_.generation.maxSeq = r.u32();
      r.expectEnd();
    }
    const GenerationInfo &gen = pkg_.generation;
    if (gen.slots == 0 || gen.maxSeq == 0) {
      fail("generation section: slots " + std::to_string(gen.slots) +
           " and max_seq " + std::to_string(gen.maxSeq) +
           " must be at least 1");
    }
    Nesting nesting{target_, pkg_.targetYaml, pkg_.targetName};
    ReadOptions nested;
    nested.verifyChecksums = options_.verifyChecksums;
    nested.externalWeights = pkg_.weights;
    nested.externalWeightBytes = pkg_.weightBytes;
    nested.externalTimingOnly = pkg_.timingOnly;
    nested.externalAbsentWeightBytes = pkg_.absentWeightBytes;
    std::set<std::string> names;
    for (size_t i = 0; i < sections_.size(); ++i) {
      const SectionEntry &s = sections_[i];
      if (s.kind != SectionKind::Program) {
        continue;
      }
      used_[i] = true;
      ByteReader r = reader(s);
      ProgramDesc prog;
      prog.name = r.str("program name");
      if (prog.name.empty() || !names.insert(prog.name).second) {
        r.fail("program has an empty or repeated name '" + prog.name + "'");
      }
      std::string where = "program '" + prog.name + "'";
      uint8_t kind = r.u8();
      prog.batch = r.u32();
      prog.tokens = r.u32();
      prog.context = r.u32();
      // The header is zero-padded to the alignment, so the nested image
      // starts aligned in the file.
      uint64_t headerEnd = alignUp(r.offset());
      if (headerEnd > s.size) {
        fail(where + ": the section of " + std::to_string(s.size) +
             " bytes ends inside its header");
      }
      for (uint64_t b = r.offset(); b < headerEnd; ++b) {
        if (data_[s.offset + b] != 0) {
          fail(where + ": header padding byte " + std::to_string(b) +
               " is not zero");
        }
      }
      if (kind > 1) {
        fail(where + ": kind " + std::to_string(kind) +
             " is neither prefill (0) nor decode (1)");
      }
      prog.kind = static_cast<ProgramKind>(kind);
      if (prog.batch == 0) {
        fail(where + ": batch must be at least 1");
      }
      if (prog.tokens == 0) {
        fail(where + ": tokens must be at least 1");
      }
      if (prog.tokens > prog.context) {
        fail(where + ": tokens " + std::to_string(prog.tokens) +
             " exceed its context " + std::to_string(prog.context));
      }
      if (prog.context > gen.maxSeq) {
        fail(where + ": context " + std::to_string(prog.context) +
             " exceeds the generation's max_seq " + std::to_string(gen.maxSeq));
      }
      if (prog.batch > gen.slots) {
        fail(where + ": batch " + std::to_string(prog.batch) +
             " exceeds the generation's slots " + std::to_string(gen.slots));
      }
      try {
        prog.package = std::make_shared<const Package>(
            Reader(data_ + s.offset + headerEnd, s.size - headerEnd, nested,
                   &nesting)
                .read());
      } catch (const Error &e) {
        fail(where + ": " + e.what());
      }
      pkg_.programs.push_back(std::move(prog));
    }
    checkSharedStates();
  }

  /// The state buffers are how programs share the KV cache: every program
  /// declares the same ones (by name: dtype, shape and initial value).
  void checkSharedStates() {
    const ProgramDesc &first = pkg_.programs.front();
    const std::vector<StateBuffer> &want = first.package->states;
    for (size_t p = 1; p < pkg_.programs.size(); ++p) {
      const ProgramDesc &prog = pkg_.programs[p];
      std::string where = "program '" + prog.name + "'";
      const std::vector<StateBuffer> &have = prog.package->states;
      auto find = [](const std::vector<StateBuffer> &v,
                     const std::string &name) -> const StateBuffer * {
        for (const StateBuffer &st : v) {
          if (st.name == name) {
            return &st;
          }
        }
        return nullptr;
      };
      for (const StateBuffer &w : want) {
        const StateBuffer *h = find(have, w.name);
        if (!h) {
          fail(where + ": does not declare the state buffer '" + w.name +
               "' of program '" + first.name +
               "' (the programs of a family share their state buffers)");
        }
        if (h->dtype != w.dtype || h->shape != w.shape) {
          fail(where + ": state '" + w.name + "' is " +
               typeString(h->dtype, h->shape) + " here but " +
               typeString(w.dtype, w.shape) + " in program '" + first.name +
               "'");
        }
        if (h->initOffset != w.initOffset) {
          fail(where + ": state '" + w.name + "' has init offset " +
               std::to_string(h->initOffset) + " here but " +
               std::to_string(w.initOffset) + " in program '" + first.name +
               "'");
        }
      }
      for (const StateBuffer &h : have) {
        if (!find(want, h.name)) {
          fail(where + ": state '" + h.name + "' is not declared by program '" +
               first.name +
               "' (the programs of a family share their state buffers)");
        }
      }
    }
  }

  void readValues() {
    ByteReader r = reader(*single(SectionKind::Values, true));
    pkg_.values.resize(r.count(4 + 1 + 4 + 4 + 4 + 4, "value"));
    std::set<std::string> names;
    for (size_t i = 0; i < pkg_.values.size(); ++i) {
      ValueDesc &v = pkg_.values[i];
      v.name = readUniqueName(r, "value name", "value", i, names);
      v.dtype = readDType(r);
      v.shape = readShape(r);
      v.quant.scales = r.f64s("quantization scale");
      v.quant.zeroPoints = r.i64s("quantization zero point");
      v.quant.axis = r.i32();
      checkQuant(r, v);
    }
    pkg_.inputs = readValueIds(r, "model input");
    pkg_.outputs = readValueIds(r, "model output");
    r.expectEnd();
  }

  /// State buffers: each binds a value nobody writes (its contents at run
  /// start) and a value a partition writes (kept at run end).
  void readStates() {
    stateInput_.assign(pkg_.values.size(), false);
    const SectionEntry *s = single(SectionKind::State, false);
    if (!s) {
      return;
    }
    ByteReader r = reader(*s);
    // name length, dtype, rank, input, output, flags, init offset
    pkg_.states.resize(r.count(4 + 1 + 4 + 4 + 4 + 1 + 8, "state buffer"));
    std::set<std::string> names;
    std::vector<bool> bound(pkg_.values.size(), false);
    std::vector<bool> isIo(pkg_.values.size(), false);
    for (int32_t id : pkg_.inputs) {
      isIo[id] = true;
    }
    for (int32_t id : pkg_.outputs) {
      isIo[id] = true;
    }
    for (size_t i = 0; i < pkg_.states.size(); ++i) {
      StateBuffer &st = pkg_.states[i];
      st.name = readUniqueName(r, "state name", "state buffer", i, names);
      std::string where = "state '" + st.name + "'";
      st.dtype = readDType(r);
      st.shape = readShape(r);
      st.input = r.i32();
      st.output = r.i32();
      uint8_t flags = r.u8();
      if (flags > 1) {
        r.fail(where + ": unknown flags " + std::to_string(flags));
      }
      st.inPlace = flags == 1;
      st.initOffset = r.i64();
      for (int32_t id : {st.input, st.output}) {
        if (id < 0 || id >= static_cast<int32_t>(pkg_.values.size())) {
          r.fail(where + ": value id " + std::to_string(id) +
                 " is out of range");
        }
        const ValueDesc &v = pkg_.values[id];
        if (isIo[id]) {
          r.fail(where + ": value '" + v.name + "' is a model input or output");
        }
        if (bound[id]) {
          r.fail(where + ": value '" + v.name + "' is bound to a state twice");
        }
        bound[id] = true;
        if (v.dtype != st.dtype || v.shape != st.shape) {
          r.fail(where + " is " + typeString(st.dtype, st.shape) +
                 " but its value '" + v.name + "' is " +
                 typeString(v.dtype, v.shape));
        }
      }
      if (st.initOffset < -1 ||
          (st.initOffset >= 0 &&
           (static_cast<uint64_t>(st.initOffset) > pkg_.weightBytes ||
            static_cast<uint64_t>(st.byteSize()) >
                pkg_.weightBytes - static_cast<uint64_t>(st.initOffset)))) {
        r.fail(where + ": initial value at weight offset " +
               std::to_string(st.initOffset) + " lies outside the weights");
      }
      stateInput_[st.input] = true;
    }
    r.expectEnd();
  }

  void checkStateOutputs() {
    for (const StateBuffer &st : pkg_.states) {
      bool written = false;
      for (const Partition &p : pkg_.partitions) {
        written |= std::find(p.outputs.begin(), p.outputs.end(), st.output) !=
                   p.outputs.end();
      }
      if (!written) {
        fail("state '" + st.name + "': no partition writes its value '" +
             pkg_.values[st.output].name + "'");
      }
    }
  }

  void checkQuant(ByteReader &r, const ValueDesc &v) {
    const QuantParams &q = v.quant;
    std::string where = "value '" + v.name + "': quantization";
    if (!q.zeroPoints.empty() && q.zeroPoints.size() != q.scales.size()) {
      r.fail(where + " has " + std::to_string(q.scales.size()) +
             " scales but " + std::to_string(q.zeroPoints.size()) +
             " zero points");
    }
    for (double s : q.scales) {
      if (!std::isfinite(s)) {
        r.fail(where + " scale is not finite");
      }
    }
    if (q.axis == -1) {
      if (q.scales.size() > 1) {
        r.fail(where + " has several scales but no axis");
      }
    } else if (q.axis < 0 || q.axis >= static_cast<int32_t>(v.shape.size()) ||
               static_cast<int64_t>(q.scales.size()) != v.shape[q.axis]) {
      r.fail(where + " axis " + std::to_string(q.axis) +
             " does not match the shape " + shapeString(v.shape) + " and " +
             std::to_string(q.scales.size()) + " scales");
    }
  }

  std::vector<int32_t> readValueIds(ByteReader &r, const char *what) {
    std::vector<int32_t> ids = r.i32s(what);
    std::set<int32_t> seen;
    for (int32_t id : ids) {
      if (id < 0 || id >= static_cast<int32_t>(pkg_.values.size())) {
        r.fail(std::string(what) + " id " + std::to_string(id) +
               " is out of range");
      }
      if (!seen.insert(id).second) {
        r.fail(std::string(what) + " '" + pkg_.values[id].name +
               "' is listed twice");
      }
    }
    return ids;
  }

  const SectionEntry &sectionRef(uint32_t index, SectionKind kind,
                                 const std::string &where) {
    if (index >= sections_.size() || sections_[index].kind != kind) {
      fail(where + ": section index " + std::to_string(index) + " is not a " +
           sectionKindName(kind) + " section");
    }
    if (used_[index]) {
      fail(where + ": section " + std::to_string(index) + " is used twice");
    }
    used_[index] = true;
    return sections_[index];
  }

  void readSchedule() {
    ByteReader r = reader(*single(SectionKind::Schedule, true));
    pkg_.partitions.resize(r.count(1 + 4 + 4 + 4 + 4 + 4, "partition"));
    std::vector<bool> available(pkg_.values.size(), false);
    for (int32_t id : pkg_.inputs) {
      available[id] = true;
    }
    for (size_t v = 0; v < pkg_.values.size(); ++v) {
      if (stateInput_[v]) {
        available[v] = true; // the state's contents at run start
      }
    }
    for (size_t p = 0; p < pkg_.partitions.size(); ++p) {
      Partition &part = pkg_.partitions[p];
      uint8_t kind = r.u8();
      if (kind > 1) {
        r.fail("partition " + std::to_string(p) + " has unknown kind " +
               std::to_string(kind));
      }
      part.kind = static_cast<PartitionKind>(kind);
      part.name = r.str("partition name");
      std::string where = "partition " + std::to_string(p) +
                          (part.name.empty() ? "" : " ('" + part.name + "')");
      uint32_t body = r.u32();
      uint32_t plan = r.u32();
      part.inputs = readValueIds(r, "partition input");
      part.outputs = readValueIds(r, "partition output");
      for (int32_t id : part.inputs) {
        if (!available[id]) {
          fail(where + " reads '" + pkg_.values[id].name +
               "' before any partition writes it");
        }
      }
      for (int32_t id : part.outputs) {
        if (available[id]) {
          fail(where + " writes '" + pkg_.values[id].name +
               "', which is already a model input, a state's input or "
               "written earlier");
        }
      }
      if (part.kind == PartitionKind::Cpu) {
        readCpuPartition(part, sectionRef(body, SectionKind::CpuGraph, where),
                         where);
      } else {
        readNpuPartition(part, sectionRef(body, SectionKind::NpuProgram, where),
                         sectionRef(plan, SectionKind::MemoryPlan, where),
                         where);
      }
      for (int32_t id : part.outputs) {
        available[id] = true;
      }
    }
    r.expectEnd();
    for (int32_t id : pkg_.outputs) {
      if (!available[id]) {
        fail("model output '" + pkg_.values[id].name + "' is never written");
      }
    }
  }

  void checkBinding(const graph::Graph &g, int32_t tensor, int32_t value,
                    const std::string &where) {
    const graph::TensorDesc &t = g.tensors[tensor];
    const ValueDesc &v = pkg_.values[value];
    if (t.dtype != v.dtype || t.shape != v.shape) {
      fail(where + ": graph tensor " + std::to_string(tensor) + " is " +
           typeString(t.dtype, t.shape) + " but the value '" + v.name +
           "' bound to it is " + typeString(v.dtype, v.shape));
    }
  }

  void readCpuPartition(Partition &part, const SectionEntry &s,
                        const std::string &where) {
    ByteReader r(data_ + s.offset, s.size, where + " graph");
    part.graph = decodeGraphOrThrow(r);
    const graph::Graph &g = part.graph;
    std::string problem = g.validate(static_cast<int64_t>(pkg_.weightBytes));
    if (!problem.empty()) {
      fail(where + ": " + problem);
    }
    if (g.inputs.size() != part.inputs.size() ||
        g.outputs.size() != part.outputs.size()) {
      fail(where + ": the graph has " + std::to_string(g.inputs.size()) +
           " inputs and " + std::to_string(g.outputs.size()) +
           " outputs, the schedule binds " +
           std::to_string(part.inputs.size()) + " and " +
           std::to_string(part.outputs.size()));
    }
    std::set<int32_t> seen;
    for (size_t i = 0; i < g.inputs.size(); ++i) {
      int32_t t = g.inputs[i];
      if (g.tensors[t].isConstant() || !seen.insert(t).second) {
        fail(where + ": graph input tensor " + std::to_string(t) +
             " is a constant or listed twice");
      }
      checkBinding(g, t, part.inputs[i], where);
    }
    for (size_t i = 0; i < g.outputs.size(); ++i) {
      checkBinding(g, g.outputs[i], part.outputs[i], where);
    }
  }

  void checkDram(uint64_t address, uint64_t bytes, const std::string &what) {
    uint64_t dram = target_->dram.bytes;
    if (address > dram || bytes > dram - address) {
      fail(what + ": DRAM bytes [" + std::to_string(address) + ", +" +
           std::to_string(bytes) + ") lie outside the target's " +
           std::to_string(dram) + " bytes");
    }
  }

  void readNpuPartition(Partition &part, const SectionEntry &prog,
                        const SectionEntry &plan, const std::string &where) {
    if (!target_) {
      fail(where + ": an NPU partition needs a target section");
    }
    Result<isa::Program> program =
        isa::decodeProgram(data_ + prog.offset, prog.size);
    if (!program) {
      fail(where + ": " + program.error());
    }
    part.program = std::move(*program);
    if (part.program.numCores() > target_->cores) {
      fail(where + ": the program uses " +
           std::to_string(part.program.numCores()) + " cores, the target '" +
           target_->name + "' has " + std::to_string(target_->cores));
    }
    ByteReader r(data_ + plan.offset, plan.size, where + " memory plan");
    part.inputAddresses = r.u64s("input address");
    part.outputAddresses = r.u64s("output address");
    uint32_t loads = r.count(24, "weight load");
    part.weightLoads.resize(loads);
    for (WeightLoad &w : part.weightLoads) {
      w.weightOffset = r.u64();
      w.bytes = r.u64();
      w.address = r.u64();
    }
    r.expectEnd();
    if (part.inputAddresses.size() != part.inputs.size() ||
        part.outputAddresses.size() != part.outputs.size()) {
      fail(where + ": the memory plan places " +
           std::to_string(part.inputAddresses.size()) + " inputs and " +
           std::to_string(part.outputAddresses.size()) +
           " outputs, the schedule binds " +
           std::to_string(part.inputs.size()) + " and " +
           std::to_string(part.outputs.size()));
    }
    for (size_t i = 0; i < part.inputs.size(); ++i) {
      const ValueDesc &v = pkg_.values[part.inputs[i]];
      checkDram(part.inputAddresses[i], v.byteSize(),
                where + ": input '" + v.name + "'");
    }
    for (size_t i = 0; i < part.outputs.size(); ++i) {
      const ValueDesc &v = pkg_.values[part.outputs[i]];
      checkDram(part.outputAddresses[i], v.byteSize(),
                where + ": output '" + v.name + "'");
    }
    for (size_t i = 0; i < part.weightLoads.size(); ++i) {
      const WeightLoad &w = part.weightLoads[i];
      std::string what = where + ": weight load " + std::to_string(i);
      // A timing-only package's loads refer to its absent blob.
      uint64_t blob =
          pkg_.timingOnly ? pkg_.absentWeightBytes : pkg_.weightBytes;
      if (w.weightOffset > blob || w.bytes > blob - w.weightOffset) {
        fail(what + (pkg_.timingOnly
                         ? " reads past the absent weights (" +
                               std::to_string(blob) + " bytes)"
                         : std::string(" reads past the weight section")));
      }
      checkDram(w.address, w.bytes, what);
    }
  }
};

} // namespace

Result<Package> readPackage(const uint8_t *data, size_t size,
                            const ReadOptions &options) {
  return catchErrors([&] {
    if (!data && size) {
      throw Error("no data");
    }
    return Reader(data, size, options).read();
  });
}

//===----------------------------------------------------------------------===//
// PackageFile
//===----------------------------------------------------------------------===//

PackageFile::~PackageFile() {
  if (mapping_) {
    munmap(mapping_, mappingBytes_);
  }
}

Result<std::shared_ptr<const PackageFile>>
PackageFile::open(const std::string &path, const ReadOptions &options) {
  using R = Result<std::shared_ptr<const PackageFile>>;
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    return R::failure(path + ": cannot open: " + std::strerror(errno));
  }
  struct stat st;
  if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    ::close(fd);
    return R::failure(path + ": not a regular file");
  }
  std::shared_ptr<PackageFile> file(new PackageFile());
  file->origin_ = path;
  size_t size = static_cast<size_t>(st.st_size);
  const uint8_t *data = nullptr;
  if (size > 0) {
    void *m = mmap(nullptr, size, PROT_READ, MAP_PRIVATE, fd, 0);
    if (m == MAP_FAILED) {
      ::close(fd);
      return R::failure(path + ": cannot map: " + std::strerror(errno));
    }
    file->mapping_ = m;
    file->mappingBytes_ = size;
    data = static_cast<const uint8_t *>(m);
  }
  ::close(fd);
  file->data_ = data;
  file->size_ = size;
  Result<Package> p = readPackage(data, size, options);
  if (!p) {
    return R::failure(path + ": " + p.error());
  }
  file->package_ = std::move(*p);
  return R(std::shared_ptr<const PackageFile>(std::move(file)));
}

Result<std::shared_ptr<const PackageFile>>
PackageFile::fromMemory(const void *data, size_t size,
                        const ReadOptions &options) {
  using R = Result<std::shared_ptr<const PackageFile>>;
  std::shared_ptr<PackageFile> file(new PackageFile());
  file->origin_ = "<memory>";
  if (size > 0) {
    void *copy = std::aligned_alloc(kAlignment, (size + kAlignment - 1) /
                                                    kAlignment * kAlignment);
    if (!copy) {
      return R::failure("out of host memory for a package of " +
                        std::to_string(size) + " bytes");
    }
    std::memcpy(copy, data, size);
    file->owned_ = std::unique_ptr<uint8_t[], void (*)(uint8_t *)>(
        static_cast<uint8_t *>(copy), [](uint8_t *p) { std::free(p); });
  }
  file->data_ = file->owned_.get();
  file->size_ = size;
  Result<Package> p = readPackage(file->owned_.get(), size, options);
  if (!p) {
    return R::failure(p.error());
  }
  file->package_ = std::move(*p);
  return R(std::shared_ptr<const PackageFile>(std::move(file)));
}

//===----------------------------------------------------------------------===//
// Writing
//===----------------------------------------------------------------------===//

void PackageBuilder::setProducer(std::string producer) {
  producer_ = std::move(producer);
}

void PackageBuilder::setTarget(std::string name, std::string yaml) {
  targetName_ = std::move(name);
  targetYaml_ = std::move(yaml);
}

void PackageBuilder::setWeights(std::vector<uint8_t> bytes) {
  weights_ = std::move(bytes);
}

void PackageBuilder::setWeights(const void *data, size_t size) {
  const uint8_t *p = static_cast<const uint8_t *>(data);
  weights_.assign(p, p + size);
}

uint64_t PackageBuilder::appendWeights(const void *data, size_t size) {
  uint64_t offset =
      (weights_.size() + kAlignment - 1) / kAlignment * kAlignment;
  weights_.resize(offset + size);
  if (size) {
    std::memcpy(weights_.data() + offset, data, size);
  }
  return offset;
}

void PackageBuilder::setQuantization(const std::string &name,
                                     QuantParams quant) {
  quant_.emplace_back(name, std::move(quant));
}

void PackageBuilder::addCpuPartition(graph::Graph graph, std::string name) {
  PendingPartition pending;
  auto describe = [&](int32_t id) {
    ValueDesc v;
    if (id >= 0 && id < static_cast<int32_t>(graph.tensors.size())) {
      v.name = graph.tensors[id].name;
      v.dtype = graph.tensors[id].dtype;
      v.shape = graph.tensors[id].shape;
    } else if (deferredError_.empty()) {
      deferredError_ = "cpu partition: graph I/O tensor id " +
                       std::to_string(id) + " is out of range";
    }
    return v;
  };
  for (int32_t id : graph.inputs) {
    pending.inputs.push_back(describe(id));
  }
  for (int32_t id : graph.outputs) {
    pending.outputs.push_back(describe(id));
  }
  pending.partition.kind = PartitionKind::Cpu;
  pending.partition.name = std::move(name);
  pending.partition.graph = std::move(graph);
  partitions_.push_back(std::move(pending));
}

void PackageBuilder::addNpuPartition(isa::Program program,
                                     std::vector<NpuTensor> inputs,
                                     std::vector<NpuTensor> outputs,
                                     std::vector<WeightLoad> weightLoads,
                                     std::string name) {
  PendingPartition pending;
  pending.partition.kind = PartitionKind::Npu;
  pending.partition.name = std::move(name);
  pending.partition.program = std::move(program);
  pending.partition.weightLoads = std::move(weightLoads);
  for (NpuTensor &t : inputs) {
    pending.partition.inputAddresses.push_back(t.address);
    pending.inputs.push_back(std::move(t.value));
  }
  for (NpuTensor &t : outputs) {
    pending.partition.outputAddresses.push_back(t.address);
    pending.outputs.push_back(std::move(t.value));
  }
  partitions_.push_back(std::move(pending));
}

void PackageBuilder::addState(StateSpec state) {
  states_.push_back(std::move(state));
}

void PackageBuilder::setIO(std::vector<std::string> inputs,
                           std::vector<std::string> outputs) {
  io_.emplace(std::move(inputs), std::move(outputs));
}

void PackageBuilder::setExternalWeights(const uint8_t *data, uint64_t size) {
  external_ = true;
  externalWeights_ = data;
  externalWeightBytes_ = size;
}

void PackageBuilder::setAbsentWeights(uint64_t bytes) {
  absentWeights_ = bytes;
}

void PackageBuilder::addProgram(ProgramSpec program) {
  programs_.push_back(std::move(program));
}

void PackageBuilder::setGeneration(GenerationInfo info) { generation_ = info; }

ReadOptions PackageBuilder::readBackOptions() const {
  ReadOptions o;
  if (external_) {
    // A null pointer means "no external weights" to the reader; an empty
    // blob still needs an address.
    static const uint8_t none = 0;
    o.externalWeights = externalWeights_ ? externalWeights_ : &none;
    o.externalWeightBytes = externalWeights_ ? externalWeightBytes_ : 0;
    o.externalTimingOnly = absentWeights_.has_value();
    o.externalAbsentWeightBytes = absentWeights_.value_or(0);
  }
  return o;
}

namespace {

void writeSchedule(ByteWriter &w, const Package &pkg,
                   const std::vector<std::pair<uint32_t, uint32_t>> &refs) {
  w.u32(static_cast<uint32_t>(pkg.partitions.size()));
  for (size_t i = 0; i < pkg.partitions.size(); ++i) {
    const Partition &p = pkg.partitions[i];
    w.u8(static_cast<uint8_t>(p.kind));
    w.str(p.name);
    w.u32(refs[i].first);
    w.u32(refs[i].second);
    w.i32s(p.inputs);
    w.i32s(p.outputs);
  }
}

struct Blob {
  SectionKind kind;
  std::vector<uint8_t> bytes;
};

Blob absentWeightsBlob(uint64_t bytes) {
  ByteWriter w;
  w.u64(bytes);
  return {SectionKind::AbsentWeights, std::move(w.bytes)};
}

/// Lays out the sections (the last one is the weights, whose bytes are
/// `weights`, not copied: write() streams them) and returns the image up to
/// the weights, header and table included.
std::vector<uint8_t> assembleImage(const std::vector<Blob> &blobs,
                                   const std::vector<uint8_t> &weights,
                                   uint16_t versionMinor) {
  uint64_t tableEnd = kHeaderBytes + blobs.size() * kSectionEntryBytes;
  std::vector<uint64_t> offsets;
  uint64_t end = alignUp(tableEnd);
  for (size_t i = 0; i < blobs.size(); ++i) {
    offsets.push_back(end);
    uint64_t size = blobs[i].kind == SectionKind::Weights
                        ? weights.size()
                        : blobs[i].bytes.size();
    end = alignUp(end + size);
  }
  // Everything but the weights, which are last: write() streams them
  // from weights instead of copying them into one image.
  uint64_t prefixBytes = offsets.back();
  uint64_t fileBytes = prefixBytes + weights.size();
  std::vector<uint8_t> file(prefixBytes, 0);
  ByteWriter table;
  for (size_t i = 0; i < blobs.size(); ++i) {
    bool isWeights = blobs[i].kind == SectionKind::Weights;
    uint64_t size = isWeights ? weights.size() : blobs[i].bytes.size();
    if (size && !isWeights) {
      std::memcpy(file.data() + offsets[i], blobs[i].bytes.data(), size);
    }
    table.u32(static_cast<uint32_t>(blobs[i].kind));
    table.u32(0);
    table.u64(offsets[i]);
    table.u64(size);
    table.u32(isWeights ? crc32c(weights.data(), size)
                        : crc32c(file.data() + offsets[i], size));
    table.u32(0);
  }
  std::memcpy(file.data() + kHeaderBytes, table.bytes.data(),
              table.bytes.size());
  ByteWriter h;
  h.put(*reinterpret_cast<const uint64_t *>(kMagic));
  h.u16(kVersionMajor);
  h.u16(versionMinor);
  h.u32(static_cast<uint32_t>(kHeaderBytes));
  h.u64(fileBytes);
  h.u64(kHeaderBytes);
  h.u32(static_cast<uint32_t>(blobs.size()));
  h.u32(crc32c(table.bytes.data(), table.bytes.size()));
  std::memcpy(file.data(), h.bytes.data(), h.bytes.size()); // 40 bytes
  // [40, 48) are still zero, as the file checksum wants them.
  uint32_t fileCrc = crc32c(file.data(), prefixBytes);
  fileCrc = crc32c(weights.data(), weights.size(), fileCrc);
  std::memcpy(file.data() + 40, &fileCrc, 4);
  uint32_t headerCrc = crc32c(file.data(), 44);
  std::memcpy(file.data() + 44, &headerCrc, 4);
  return file;
}

} // namespace

std::vector<uint8_t> PackageBuilder::buildFamilyPrefix() const {
  if (!partitions_.empty() || !states_.empty() || io_ || !quant_.empty()) {
    throw Error("a program family has no partitions, states, I/O or "
                "quantization of its own: they belong to its programs");
  }
  if (external_) {
    throw Error("a program family cannot itself be a program image "
                "(setExternalWeights)");
  }
  if (programs_.empty()) {
    throw Error("setGeneration without any addProgram");
  }
  if (!generation_) {
    throw Error("a program family needs setGeneration (slots, max_seq)");
  }
  std::vector<Blob> blobs;
  {
    ByteWriter w;
    w.str(producer_);
    w.str(targetName_);
    blobs.push_back({SectionKind::Meta, std::move(w.bytes)});
  }
  if (!targetYaml_.empty()) {
    ByteWriter w;
    w.str(targetYaml_);
    blobs.push_back({SectionKind::Target, std::move(w.bytes)});
  }
  {
    ByteWriter w;
    w.u32(generation_->slots);
    w.u32(generation_->maxSeq);
    blobs.push_back({SectionKind::Generation, std::move(w.bytes)});
  }
  for (const ProgramSpec &p : programs_) {
    ByteWriter w;
    w.str(p.name);
    w.u8(static_cast<uint8_t>(p.kind));
    w.u32(p.batch);
    w.u32(p.tokens);
    w.u32(p.context);
    // Zero padding keeps the nested image aligned as a file of its own.
    w.bytes.resize(alignUp(w.bytes.size()), 0);
    w.bytes.insert(w.bytes.end(), p.image.begin(), p.image.end());
    blobs.push_back({SectionKind::Program, std::move(w.bytes)});
  }
  if (absentWeights_) {
    blobs.push_back(absentWeightsBlob(*absentWeights_));
  }
  blobs.push_back({SectionKind::Weights, {}});
  return assembleImage(blobs, weights_,
                       absentWeights_ ? kVersionMinor : kVersionMinorFamily);
}

Result<std::vector<uint8_t>> PackageBuilder::buildPrefix() const {
  return catchErrors([&]() -> std::vector<uint8_t> {
    if (!deferredError_.empty()) {
      throw Error(deferredError_);
    }
    if (!programs_.empty() || generation_) {
      return buildFamilyPrefix();
    }
    if (external_ && !weights_.empty()) {
      throw Error("a program image (setExternalWeights) has no weights of "
                  "its own: append its constants to the family's weights");
    }
    Package pkg;
    std::map<std::string, int32_t> byName;
    // Values by name, in order of first appearance; a producer of a name
    // that is already known must agree with its type.
    auto valueId = [&](const ValueDesc &v, const std::string &where) {
      if (v.name.empty()) {
        throw Error(where + ": a partition input or output has no name");
      }
      auto it = byName.find(v.name);
      if (it == byName.end()) {
        pkg.values.push_back(v);
        it = byName.emplace(v.name, int32_t(pkg.values.size() - 1)).first;
      } else {
        const ValueDesc &known = pkg.values[it->second];
        if (known.dtype != v.dtype || known.shape != v.shape) {
          throw Error(where + ": tensor '" + v.name + "' is " +
                      typeString(v.dtype, v.shape) + " here but " +
                      typeString(known.dtype, known.shape) + " elsewhere");
        }
      }
      return it->second;
    };
    // State-bound values are neither model inputs nor model outputs.
    std::set<std::string> stateValues;
    for (const StateSpec &st : states_) {
      stateValues.insert(st.input);
      stateValues.insert(st.output);
    }
    auto isStateValue = [&](int32_t id) {
      return stateValues.count(pkg.values[id].name) != 0;
    };
    std::vector<bool> written, read;
    for (size_t i = 0; i < partitions_.size(); ++i) {
      const PendingPartition &pp = partitions_[i];
      std::string where = "partition " + std::to_string(i);
      Partition part = pp.partition;
      for (const ValueDesc &v : pp.inputs) {
        part.inputs.push_back(valueId(v, where));
      }
      for (const ValueDesc &v : pp.outputs) {
        part.outputs.push_back(valueId(v, where));
      }
      written.resize(pkg.values.size(), false);
      read.resize(pkg.values.size(), false);
      for (int32_t id : part.inputs) {
        if (!written[id] && !read[id] && !io_ && !isStateValue(id)) {
          pkg.inputs.push_back(id);
        }
        read[id] = true;
      }
      for (int32_t id : part.outputs) {
        written[id] = true;
      }
      pkg.partitions.push_back(std::move(part));
    }
    if (io_) {
      for (const std::string &n : io_->first) {
        auto it = byName.find(n);
        if (it == byName.end()) {
          throw Error("model input '" + n + "' is not read by any partition");
        }
        pkg.inputs.push_back(it->second);
      }
      for (const std::string &n : io_->second) {
        auto it = byName.find(n);
        if (it == byName.end()) {
          throw Error("model output '" + n +
                      "' is not written by any partition");
        }
        pkg.outputs.push_back(it->second);
      }
    } else {
      // Outputs: written, and not read by a later partition.
      std::vector<bool> readLater(pkg.values.size(), false);
      std::vector<int32_t> outs;
      for (size_t i = pkg.partitions.size(); i-- > 0;) {
        const Partition &p = pkg.partitions[i];
        for (size_t k = p.outputs.size(); k-- > 0;) {
          if (!readLater[p.outputs[k]] && !isStateValue(p.outputs[k])) {
            outs.push_back(p.outputs[k]);
          }
        }
        for (int32_t id : p.inputs) {
          readLater[id] = true;
        }
      }
      pkg.outputs.assign(outs.rbegin(), outs.rend());
    }
    for (const auto &[name, q] : quant_) {
      auto it = byName.find(name);
      if (it == byName.end()) {
        throw Error("quantization for unknown tensor '" + name + "'");
      }
      pkg.values[it->second].quant = q;
    }
    for (const StateSpec &st : states_) {
      StateBuffer b;
      b.name = st.name;
      b.dtype = st.dtype;
      b.shape = st.shape;
      b.inPlace = st.inPlace;
      b.initOffset = st.initOffset;
      for (auto [name, id] :
           {std::pair{&st.input, &b.input}, std::pair{&st.output, &b.output}}) {
        auto it = byName.find(*name);
        if (it == byName.end()) {
          throw Error("state '" + st.name +
                      "': no partition reads or writes '" + *name + "'");
        }
        *id = it->second;
      }
      pkg.states.push_back(std::move(b));
    }

    // Sections: meta, values, schedule, target, bodies, weights (last, so
    // the small sections are at the front of the file for inspect).
    std::vector<Blob> blobs;
    {
      ByteWriter w;
      w.str(producer_);
      w.str(targetName_);
      blobs.push_back({SectionKind::Meta, std::move(w.bytes)});
    }
    {
      ByteWriter w;
      w.u32(static_cast<uint32_t>(pkg.values.size()));
      for (const ValueDesc &v : pkg.values) {
        w.str(v.name);
        w.u8(static_cast<uint8_t>(v.dtype));
        writeShape(w, v.shape);
        w.f64s(v.quant.scales);
        w.i64s(v.quant.zeroPoints);
        w.i32(v.quant.axis);
      }
      w.i32s(pkg.inputs);
      w.i32s(pkg.outputs);
      blobs.push_back({SectionKind::Values, std::move(w.bytes)});
    }
    size_t scheduleIndex = blobs.size();
    blobs.push_back({SectionKind::Schedule, {}});
    if (!targetYaml_.empty()) {
      ByteWriter w;
      w.str(targetYaml_);
      blobs.push_back({SectionKind::Target, std::move(w.bytes)});
    }
    if (!pkg.states.empty()) {
      ByteWriter w;
      w.u32(static_cast<uint32_t>(pkg.states.size()));
      for (const StateBuffer &st : pkg.states) {
        w.str(st.name);
        w.u8(static_cast<uint8_t>(st.dtype));
        writeShape(w, st.shape);
        w.i32(st.input);
        w.i32(st.output);
        w.u8(st.inPlace ? 1 : 0);
        w.i64(st.initOffset);
      }
      blobs.push_back({SectionKind::State, std::move(w.bytes)});
    }
    std::vector<std::pair<uint32_t, uint32_t>> refs;
    for (const Partition &p : pkg.partitions) {
      if (p.kind == PartitionKind::Cpu) {
        refs.emplace_back(uint32_t(blobs.size()), UINT32_MAX);
        blobs.push_back({SectionKind::CpuGraph, encodeGraph(p.graph)});
        continue;
      }
      Result<std::vector<uint8_t>> code = isa::encodeProgram(p.program);
      if (!code) {
        throw Error("npu partition '" + p.name + "': " + code.error());
      }
      refs.emplace_back(uint32_t(blobs.size()), uint32_t(blobs.size() + 1));
      blobs.push_back({SectionKind::NpuProgram, std::move(*code)});
      ByteWriter w;
      w.u64s(p.inputAddresses);
      w.u64s(p.outputAddresses);
      w.u32(static_cast<uint32_t>(p.weightLoads.size()));
      for (const WeightLoad &l : p.weightLoads) {
        w.u64(l.weightOffset);
        w.u64(l.bytes);
        w.u64(l.address);
      }
      blobs.push_back({SectionKind::MemoryPlan, std::move(w.bytes)});
    }
    {
      ByteWriter w;
      writeSchedule(w, pkg, refs);
      blobs[scheduleIndex].bytes = std::move(w.bytes);
    }
    bool timingOnly = absentWeights_ && !external_;
    if (timingOnly) {
      blobs.push_back(absentWeightsBlob(*absentWeights_));
    }
    blobs.push_back({SectionKind::Weights, {}}); // filled from weights_
    return assembleImage(blobs, weights_,
                         timingOnly ? kVersionMinor : kVersionMinorPlain);
  });
}

Result<std::vector<uint8_t>> PackageBuilder::build() const {
  Result<std::vector<uint8_t>> prefix = buildPrefix();
  if (!prefix) {
    return prefix;
  }
  std::vector<uint8_t> file = std::move(*prefix);
  file.insert(file.end(), weights_.begin(), weights_.end());
  // Never hand out a package the reader would refuse.
  Result<Package> check =
      readPackage(file.data(), file.size(), readBackOptions());
  if (!check) {
    return Result<std::vector<uint8_t>>::failure(
        "the package would be invalid: " + check.error());
  }
  return file;
}

Result<bool> PackageBuilder::write(const std::string &path) const {
  Result<std::vector<uint8_t>> prefix = buildPrefix();
  if (!prefix) {
    return Result<bool>::failure(path + ": " + prefix.error());
  }
  {
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    out.write(reinterpret_cast<const char *>(prefix->data()),
              static_cast<std::streamsize>(prefix->size()));
    out.write(reinterpret_cast<const char *>(weights_.data()),
              static_cast<std::streamsize>(weights_.size()));
    out.close();
    if (!out) {
      return Result<bool>::failure(path + ": cannot write the package");
    }
  }
  // Read back through the mapping, as the runtime will: a package the
  // reader would refuse is removed, never left behind.
  Result<std::shared_ptr<const PackageFile>> check =
      PackageFile::open(path, readBackOptions());
  if (!check) {
    std::remove(path.c_str());
    return Result<bool>::failure("the package would be invalid: " +
                                 check.error());
  }
  return true;
}

} // namespace nuri::package
