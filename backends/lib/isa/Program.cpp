//===- Program.cpp - Program container and binary file format -------------===//

#include "nuri/isa/Program.h"

#include <fmt/format.h>

#include <cstring>
#include <fstream>
#include <iterator>
#include <set>

namespace nuri::isa {

namespace {

constexpr size_t kHeaderBytes = 16;
constexpr size_t kStreamEntryBytes = 16;
// Far more than any real program; bounds what a hostile header can make us
// allocate before the size checks catch it.
constexpr uint32_t kMaxStreams = 1u << 16;

template <typename T> T readLe(const uint8_t *p) {
  T v = 0;
  for (size_t i = 0; i < sizeof(T); ++i) {
    v |= T(p[i]) << (8 * i);
  }
  return v;
}
template <typename T> void writeLe(std::vector<uint8_t> &out, T v) {
  for (size_t i = 0; i < sizeof(T); ++i) {
    out.push_back(uint8_t(v >> (8 * i)));
  }
}

} // namespace

Stream &Program::stream(unsigned core, Engine engine) {
  for (Stream &s : streams) {
    if (s.core == core && s.engine == engine) {
      return s;
    }
  }
  streams.push_back(Stream{core, engine, {}});
  return streams.back();
}

const Stream *Program::find(unsigned core, Engine engine) const {
  for (const Stream &s : streams) {
    if (s.core == core && s.engine == engine) {
      return &s;
    }
  }
  return nullptr;
}

unsigned Program::numCores() const {
  unsigned n = 0;
  for (const Stream &s : streams) {
    n = std::max(n, s.core + 1);
  }
  return n;
}

size_t Program::numInstructions() const {
  size_t n = 0;
  for (const Stream &s : streams) {
    n += s.insts.size();
  }
  return n;
}

std::string verifyProgram(const Program &program) {
  std::set<std::pair<unsigned, unsigned>> seen;
  for (const Stream &s : program.streams) {
    std::string where =
        fmt::format("core {} engine {}", s.core, engineName(s.engine));
    if (static_cast<unsigned>(s.engine) >= kNumEngines) {
      return fmt::format("core {}: bad engine {}", s.core,
                         static_cast<unsigned>(s.engine));
    }
    if (s.core > 0xffff) {
      return fmt::format("core {}: core index too large", s.core);
    }
    if (!seen.insert({s.core, static_cast<unsigned>(s.engine)}).second) {
      return where + ": duplicate stream";
    }
    if (s.insts.empty() || s.insts.back().opcode != Opcode::End) {
      return where + ": stream does not end with `end`";
    }
    for (size_t pc = 0; pc < s.insts.size(); ++pc) {
      const Instruction &inst = s.insts[pc];
      std::string err = checkFields(inst);
      if (!err.empty()) {
        return fmt::format("{} pc {}: {}", where, pc, err);
      }
      if (!engineAccepts(s.engine, inst.opcode)) {
        return fmt::format("{} pc {}: {}: not legal on the {} queue", where, pc,
                           formatInstruction(inst), engineName(s.engine));
      }
      if (inst.opcode == Opcode::Repeat) {
        uint64_t body = inst.get(Field::Body);
        if (body >= pc) {
          return fmt::format("{} pc {}: {}: body must start before the repeat",
                             where, pc, formatInstruction(inst));
        }
        if (inst.get(Field::Times) == 0) {
          return fmt::format("{} pc {}: {}: times must be >= 1", where, pc,
                             formatInstruction(inst));
        }
      }
    }
  }
  return {};
}

Result<std::vector<uint8_t>> encodeProgram(const Program &program) {
  std::string err = verifyProgram(program);
  if (!err.empty()) {
    return Result<std::vector<uint8_t>>::failure(err);
  }
  std::vector<uint8_t> out;
  out.insert(out.end(), kProgramMagic, kProgramMagic + 8);
  writeLe<uint16_t>(out, kVersionMajor);
  writeLe<uint16_t>(out, kVersionMinor);
  writeLe<uint32_t>(out, static_cast<uint32_t>(program.streams.size()));
  uint64_t offset = kHeaderBytes + kStreamEntryBytes * program.streams.size();
  for (const Stream &s : program.streams) {
    writeLe<uint16_t>(out, static_cast<uint16_t>(s.core));
    writeLe<uint8_t>(out, static_cast<uint8_t>(s.engine));
    writeLe<uint8_t>(out, 0);
    writeLe<uint32_t>(out, static_cast<uint32_t>(s.insts.size()));
    writeLe<uint64_t>(out, offset);
    offset += s.insts.size() * kInstBytes;
  }
  for (const Stream &s : program.streams) {
    for (const Instruction &inst : s.insts) {
      Result<EncodedInst> enc = encode(inst);
      if (!enc) {
        return Result<std::vector<uint8_t>>::failure(enc.error());
      }
      out.insert(out.end(), enc->begin(), enc->end());
    }
  }
  return out;
}

Result<Program> decodeProgram(const uint8_t *data, size_t size) {
  using R = Result<Program>;
  if (size < kHeaderBytes || std::memcmp(data, kProgramMagic, 8) != 0) {
    return R::failure("not a Nuri program (bad magic)");
  }
  uint16_t major = readLe<uint16_t>(data + 8);
  uint16_t minor = readLe<uint16_t>(data + 10);
  if (major != kVersionMajor) {
    return R::failure(
        fmt::format("program has ISA version {}.{}, this build reads {}.x",
                    major, minor, kVersionMajor));
  }
  uint32_t numStreams = readLe<uint32_t>(data + 12);
  if (numStreams > kMaxStreams ||
      kHeaderBytes + uint64_t(numStreams) * kStreamEntryBytes > size) {
    return R::failure(
        fmt::format("stream table ({} streams) runs past the end", numStreams));
  }
  Program program;
  for (uint32_t i = 0; i < numStreams; ++i) {
    const uint8_t *e = data + kHeaderBytes + i * kStreamEntryBytes;
    Stream s;
    s.core = readLe<uint16_t>(e);
    uint8_t engine = e[2];
    if (engine >= kNumEngines || e[3] != 0) {
      return R::failure(fmt::format("stream {}: bad engine {}", i, engine));
    }
    s.engine = static_cast<Engine>(engine);
    uint32_t count = readLe<uint32_t>(e + 4);
    uint64_t offset = readLe<uint64_t>(e + 8);
    if (offset > size || uint64_t(count) * kInstBytes > size - offset) {
      return R::failure(fmt::format(
          "stream {} (core {} engine {}): {} instructions at offset {} run "
          "past the end of the {}-byte file",
          i, s.core, engineName(s.engine), count, offset, size));
    }
    s.insts.reserve(count);
    for (uint32_t pc = 0; pc < count; ++pc) {
      Result<Instruction> inst = decode(data + offset + pc * kInstBytes);
      if (!inst) {
        return R::failure(fmt::format("core {} engine {} pc {}: {}", s.core,
                                      engineName(s.engine), pc, inst.error()));
      }
      s.insts.push_back(*inst);
    }
    program.streams.push_back(std::move(s));
  }
  std::string err = verifyProgram(program);
  if (!err.empty()) {
    return R::failure(err);
  }
  return program;
}

Result<Program> readProgramFile(const std::string &path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    return Result<Program>::failure(path + ": cannot open");
  }
  std::vector<uint8_t> bytes((std::istreambuf_iterator<char>(in)),
                             std::istreambuf_iterator<char>());
  Result<Program> p = decodeProgram(bytes.data(), bytes.size());
  if (!p) {
    return Result<Program>::failure(path + ": " + p.error());
  }
  return p;
}

Result<bool> writeProgramFile(const Program &program, const std::string &path) {
  Result<std::vector<uint8_t>> bytes = encodeProgram(program);
  if (!bytes) {
    return Result<bool>::failure(path + ": " + bytes.error());
  }
  std::ofstream out(path, std::ios::binary);
  out.write(reinterpret_cast<const char *>(bytes->data()), bytes->size());
  if (!out) {
    return Result<bool>::failure(path + ": cannot write");
  }
  return true;
}

} // namespace nuri::isa
