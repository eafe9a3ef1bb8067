//===- Describe.cpp - What `nuri inspect PKG.nuri` prints -----------------===//

#include "nuri/package/Package.h"

#include "nuri/isa/Isa.h"

#include <fmt/format.h>

#include <cstring>
#include <map>

namespace nuri::package {

namespace {

std::string typeOf(const ValueDesc &v) {
  std::string s = "[";
  for (size_t i = 0; i < v.shape.size(); ++i) {
    s += (i ? "," : "") + std::to_string(v.shape[i]);
  }
  return s + "] " + graph::dtypeName(v.dtype);
}

std::string quantOf(const QuantParams &q) {
  if (q.empty()) {
    return "";
  }
  if (q.scales.size() == 1) {
    return fmt::format("  quant scale={:g} zero_point={}", q.scales[0],
                       q.zeroPoints.empty() ? 0 : q.zeroPoints[0]);
  }
  return fmt::format("  quant per-channel axis={} ({} scales)", q.axis,
                     q.scales.size());
}

/// Prefixes every line of `text` with `indent`.
std::string indented(const std::string &text, const std::string &indent) {
  std::string out;
  size_t begin = 0;
  while (begin < text.size()) {
    size_t end = text.find('\n', begin);
    end = end == std::string::npos ? text.size() : end + 1;
    out += indent + text.substr(begin, end - begin);
    begin = end;
  }
  return out;
}

std::string describeBody(const Package &pkg);

} // namespace

std::string describePackage(const Package &pkg, const uint8_t *file,
                            size_t fileBytes) {
  std::string out;
  out += fmt::format("package: format {}.{}, {} bytes, producer '{}', "
                     "target '{}'\n",
                     pkg.versionMajor, pkg.versionMinor, pkg.fileBytes,
                     pkg.producer, pkg.targetName);
  if (file && fileBytes >= kHeaderBytes) {
    uint32_t count;
    std::memcpy(&count, file + 32, 4);
    out += fmt::format("sections ({}):\n", count);
    for (uint32_t i = 0; i < count; ++i) {
      const uint8_t *e = file + kHeaderBytes + i * kSectionEntryBytes;
      uint32_t kind, crc;
      uint64_t offset, size;
      std::memcpy(&kind, e, 4);
      std::memcpy(&offset, e + 8, 8);
      std::memcpy(&size, e + 16, 8);
      std::memcpy(&crc, e + 24, 4);
      out += fmt::format("  {:>3} {:<12} offset {:>10} size {:>10} "
                         "crc32c {:08x}\n",
                         i, sectionKindName(static_cast<SectionKind>(kind)),
                         offset, size, crc);
    }
  }
  out += fmt::format("weights: {} bytes\n", pkg.weightBytes);
  if (pkg.timingOnly) {
    out += fmt::format("timing-only: {} bytes of NPU weights not stored "
                       "(runs on the sim device with --timing-only)\n",
                       pkg.absentWeightBytes);
  }
  if (pkg.isFamily()) {
    out += fmt::format("generation: {} slots, max_seq {}\n",
                       pkg.generation.slots, pkg.generation.maxSeq);
    out += fmt::format("programs ({}):\n", pkg.programs.size());
    for (const ProgramDesc &prog : pkg.programs) {
      size_t npu = 0;
      for (const Partition &p : prog.package->partitions) {
        npu += p.kind == PartitionKind::Npu;
      }
      out += fmt::format("  '{}': {}, batch {}, tokens {}, context {}, {} "
                         "partitions ({} npu)\n",
                         prog.name, programKindName(prog.kind), prog.batch,
                         prog.tokens, prog.context,
                         prog.package->partitions.size(), npu);
      out += indented(describeBody(*prog.package), "    ");
    }
    return out;
  }
  return out + describeBody(pkg);
}

namespace {

/// I/O, states and schedule: what a plain package and each program of a
/// family describe.
std::string describeBody(const Package &pkg) {
  std::string out;
  out += "inputs:\n";
  for (int32_t id : pkg.inputs) {
    const ValueDesc &v = pkg.values[id];
    out += fmt::format("  {}: {}{}\n", v.name, typeOf(v), quantOf(v.quant));
  }
  out += "outputs:\n";
  for (int32_t id : pkg.outputs) {
    const ValueDesc &v = pkg.values[id];
    out += fmt::format("  {}: {}{}\n", v.name, typeOf(v), quantOf(v.quant));
  }
  if (!pkg.states.empty()) {
    out += "states:\n";
    for (const StateBuffer &st : pkg.states) {
      out += fmt::format("  {}: {} {}, '{}' -> '{}'{}\n", st.name,
                         typeOf(pkg.values[st.input]),
                         st.initOffset < 0 ? "zeros" : "initialized",
                         pkg.values[st.input].name, pkg.values[st.output].name,
                         st.inPlace ? " in place" : "");
    }
  }
  out += fmt::format("schedule ({} partitions):\n", pkg.partitions.size());
  // Which device wrote each value, to show what crosses CPU <-> NPU.
  std::vector<int> writer(pkg.values.size(), -1);
  for (size_t i = 0; i < pkg.partitions.size(); ++i) {
    const Partition &p = pkg.partitions[i];
    out += fmt::format("  {}: {} '{}'", i, partitionKindName(p.kind), p.name);
    if (p.kind == PartitionKind::Cpu) {
      std::map<std::string, int> histogram;
      for (const graph::Op &op : p.graph.ops) {
        std::string k = op.kind;
        if (k == "onnx_op") {
          k += ":" + op.getString("op_type", "?");
        }
        ++histogram[k];
      }
      out += fmt::format(", {} ops, {} tensors\n", p.graph.ops.size(),
                         p.graph.tensors.size());
      std::string ops;
      for (const auto &[k, n] : histogram) {
        ops += fmt::format(" {}x{}", k, n);
      }
      if (!ops.empty()) {
        out += "     ops:" + ops + "\n";
      }
    } else {
      out += fmt::format(", {} cores, {} streams, {} instructions, {} weight "
                         "loads\n",
                         p.program.numCores(), p.program.streams.size(),
                         p.program.numInstructions(), p.weightLoads.size());
      for (size_t k = 0; k < p.inputs.size(); ++k) {
        out += fmt::format("     dram 0x{:x} <- {}\n", p.inputAddresses[k],
                           pkg.values[p.inputs[k]].name);
      }
      for (size_t k = 0; k < p.outputs.size(); ++k) {
        out += fmt::format("     dram 0x{:x} -> {}\n", p.outputAddresses[k],
                           pkg.values[p.outputs[k]].name);
      }
    }
    for (int32_t id : p.inputs) {
      int w = writer[id];
      if (w >= 0 && pkg.partitions[w].kind != p.kind) {
        out += fmt::format("     transfer {} -> {}: '{}' ({} bytes)\n",
                           partitionKindName(pkg.partitions[w].kind),
                           partitionKindName(p.kind), pkg.values[id].name,
                           pkg.values[id].byteSize());
      }
    }
    for (int32_t id : p.outputs) {
      writer[id] = static_cast<int>(i);
    }
  }
  return out;
}

} // namespace

Result<std::string> describePackageFile(const std::string &path) {
  Result<std::shared_ptr<const PackageFile>> file = PackageFile::open(path);
  if (!file) {
    return Result<std::string>::failure(file.error());
  }
  return describePackage((*file)->package(), (*file)->data(), (*file)->size());
}

} // namespace nuri::package
