//===- Isa.cpp - Tables and encoding generated from Isa.def ---------------===//

#include "nuri/isa/Isa.h"

#include <fmt/format.h>

#include <bitset>
#include <cstring>
#include <unordered_map>

namespace nuri::isa {

namespace {

const FieldInfo kFields[] = {
#define NURI_FIELD(Name, Mnem, Bits, Kind, Doc)                                \
  {Field::Name, Mnem, Bits, FieldKind::Kind, Doc},
#include "nuri/isa/Isa.def"
};

// The field lists of Isa.def name fields bare; these constants make them
// usable as initializer-list elements.
namespace f {
#define NURI_FIELD(Name, Mnem, Bits, Kind, Doc)                                \
  [[maybe_unused]] constexpr Field Name = Field::Name;
#include "nuri/isa/Isa.def"
} // namespace f

std::vector<OpcodeInfo> buildOpcodeTable() {
  using namespace f;
  std::vector<OpcodeInfo> table = {
#define NURI_OPCODE(Name, Mnem, Value, Engines, Summary, ...)                  \
  {Opcode::Name, Mnem, Value, EngineClass::Engines, Summary, {__VA_ARGS__}, {}},
#include "nuri/isa/Isa.def"
  };
  for (OpcodeInfo &info : table) {
    unsigned offset = 8;
    for (Field fld : info.fields) {
      info.offsets.push_back(offset);
      offset += fieldInfo(fld).bits;
    }
    if (offset > kInstBytes * 8) {
      throw Error(fmt::format("Isa.def: opcode {} needs {} bits, more than {}",
                              info.mnemonic, offset, kInstBytes * 8));
    }
  }
  return table;
}

struct Tables {
  std::vector<OpcodeInfo> opcodes = buildOpcodeTable();
  std::array<const OpcodeInfo *, 256> byValue{};
  std::unordered_map<std::string_view, const OpcodeInfo *> byMnemonic;
  std::unordered_map<std::string_view, const FieldInfo *> fieldByMnemonic;
  Tables() {
    for (const OpcodeInfo &info : opcodes) {
      byValue[info.value] = &info;
      byMnemonic[info.mnemonic] = &info;
    }
    for (const FieldInfo &fi : kFields) {
      fieldByMnemonic[fi.mnemonic] = &fi;
    }
  }
};

const Tables &tables() {
  static const Tables t;
  return t;
}

struct EnumEntry {
  const char *name;
  uint64_t code;
};

const std::vector<EnumEntry> &enumEntries(FieldKind kind) {
  static const std::vector<EnumEntry> dtypes = {
#define NURI_DTYPE(Name, Mnem, Code, Bytes) {Mnem, Code},
#include "nuri/isa/Isa.def"
  };
  static const std::vector<EnumEntry> spaces = {
#define NURI_SPACE(Name, Mnem, Code, Doc) {Mnem, Code},
#include "nuri/isa/Isa.def"
  };
  static const std::vector<EnumEntry> acts = {
#define NURI_ACT(Name, Mnem, Code) {Mnem, Code},
#include "nuri/isa/Isa.def"
  };
  static const std::vector<EnumEntry> binops = {
#define NURI_BINOP(Name, Mnem, Code) {Mnem, Code},
#include "nuri/isa/Isa.def"
  };
  static const std::vector<EnumEntry> unops = {
#define NURI_UNOP(Name, Mnem, Code, Transc) {Mnem, Code},
#include "nuri/isa/Isa.def"
  };
  static const std::vector<EnumEntry> redops = {
#define NURI_REDOP(Name, Mnem, Code) {Mnem, Code},
#include "nuri/isa/Isa.def"
  };
  static const std::vector<EnumEntry> bcasts = {
#define NURI_BCAST(Name, Mnem, Code, Doc) {Mnem, Code},
#include "nuri/isa/Isa.def"
  };
  static const std::vector<EnumEntry> none;
  switch (kind) {
  case FieldKind::Dtype:
    return dtypes;
  case FieldKind::Space:
    return spaces;
  case FieldKind::Act:
    return acts;
  case FieldKind::BinOp:
    return binops;
  case FieldKind::UnOp:
    return unops;
  case FieldKind::RedOp:
    return redops;
  case FieldKind::Bcast:
    return bcasts;
  default:
    return none;
  }
}

uint64_t fieldMask(unsigned bits) {
  return bits >= 64 ? ~0ull : ((1ull << bits) - 1);
}

void putBits(uint8_t *bytes, unsigned offset, unsigned bits, uint64_t value) {
  for (unsigned i = 0; i < bits; ++i) {
    if ((value >> i) & 1) {
      unsigned bit = offset + i;
      bytes[bit / 8] |= uint8_t(1u << (bit % 8));
    }
  }
}

uint64_t getBits(const uint8_t *bytes, unsigned offset, unsigned bits) {
  uint64_t value = 0;
  // Byte-at-a-time extraction: fields are at most 48 bits, so at most 7
  // bytes are touched.
  unsigned bit = offset;
  unsigned done = 0;
  while (done < bits) {
    unsigned inByte = bit % 8;
    unsigned take = std::min(8 - inByte, bits - done);
    uint64_t chunk = (bytes[bit / 8] >> inByte) & ((1u << take) - 1);
    value |= chunk << done;
    done += take;
    bit += take;
  }
  return value;
}

} // namespace

const FieldInfo &fieldInfo(Field f) {
  return kFields[static_cast<unsigned>(f)];
}
const std::vector<OpcodeInfo> &opcodeTable() { return tables().opcodes; }
const OpcodeInfo *opcodeInfo(Opcode op) {
  return tables().byValue[static_cast<uint8_t>(op)];
}
const OpcodeInfo *opcodeByValue(uint8_t value) {
  return tables().byValue[value];
}
const OpcodeInfo *opcodeByMnemonic(std::string_view mnemonic) {
  auto it = tables().byMnemonic.find(mnemonic);
  return it == tables().byMnemonic.end() ? nullptr : it->second;
}
const FieldInfo *fieldByMnemonic(std::string_view mnemonic) {
  auto it = tables().fieldByMnemonic.find(mnemonic);
  return it == tables().fieldByMnemonic.end() ? nullptr : it->second;
}

const char *engineName(Engine e) {
  switch (e) {
#define NURI_ENGINE(Name, Mnem, Doc)                                           \
  case Engine::Name:                                                           \
    return Mnem;
#include "nuri/isa/Isa.def"
  }
  return "?";
}
const char *engineDoc(Engine e) {
  switch (e) {
#define NURI_ENGINE(Name, Mnem, Doc)                                           \
  case Engine::Name:                                                           \
    return Doc;
#include "nuri/isa/Isa.def"
  }
  return "?";
}
bool parseEngine(std::string_view s, Engine &out) {
#define NURI_ENGINE(Name, Mnem, Doc)                                           \
  if (s == Mnem) {                                                             \
    out = Engine::Name;                                                        \
    return true;                                                               \
  }
#include "nuri/isa/Isa.def"
  return false;
}
std::string engineNames(std::string_view sep) {
  std::string s;
  for (unsigned e = 0; e < kNumEngines; ++e) {
    if (e) {
      s += sep;
    }
    s += engineName(Engine(e));
  }
  return s;
}
EngineClass engineClass(Engine e) {
  switch (e) {
  case Engine::Dma:
  case Engine::Fetch:
    return EngineClass::Dma;
  case Engine::Matrix:
    return EngineClass::Matrix;
  case Engine::Vector:
    return EngineClass::Vector;
  }
  return EngineClass::Any;
}
bool engineAccepts(Engine e, Opcode op) {
  const OpcodeInfo *info = opcodeInfo(op);
  if (!info) {
    return false;
  }
  return info->engines == EngineClass::Any || info->engines == engineClass(e);
}

const char *dtypeName(Dtype d) {
  const char *n = enumName(FieldKind::Dtype, static_cast<uint64_t>(d));
  return n ? n : "?";
}
unsigned dtypeBytes(Dtype d) {
  switch (d) {
#define NURI_DTYPE(Name, Mnem, Code, Bytes)                                    \
  case Dtype::Name:                                                            \
    return Bytes;
#include "nuri/isa/Isa.def"
  }
  return 0;
}
bool isValidDtype(uint64_t code) {
  return enumName(FieldKind::Dtype, code) != nullptr;
}
bool isFloatDtype(Dtype d) { return d != Dtype::I8 && d != Dtype::I32; }
bool isFp8(Dtype d) { return d == Dtype::E4M3 || d == Dtype::E5M2; }

const char *enumName(FieldKind kind, uint64_t value) {
  for (const EnumEntry &e : enumEntries(kind)) {
    if (e.code == value) {
      return e.name;
    }
  }
  return nullptr;
}
bool parseEnum(FieldKind kind, std::string_view s, uint64_t &out) {
  for (const EnumEntry &e : enumEntries(kind)) {
    if (s == e.name) {
      out = e.code;
      return true;
    }
  }
  return false;
}
unsigned enumCount(FieldKind kind) { return enumEntries(kind).size(); }

bool isUnOpTranscendental(UnOp op) {
  switch (op) {
#define NURI_UNOP(Name, Mnem, Code, Transc)                                    \
  case UnOp::Name:                                                             \
    return Transc;
#include "nuri/isa/Isa.def"
  }
  return false;
}

float Instruction::imm() const {
  uint32_t bits = static_cast<uint32_t>(get(Field::Imm));
  float v;
  std::memcpy(&v, &bits, 4);
  return v;
}
Instruction &Instruction::setImm(float v) {
  uint32_t bits;
  std::memcpy(&bits, &v, 4);
  return set(Field::Imm, bits);
}

namespace {

/// What checkFields asks of every instruction the compiler emits, the
/// assembler reads and the simulator loads, precomputed once: per opcode
/// the mask of each field and the fields it does not have; per enum kind
/// its valid codes. A bert-base compile checks each of its instructions
/// several times, and the lookups were a tenth of a sweep's compile.
struct FieldChecks {
  static constexpr unsigned kNumKinds = unsigned(FieldKind::Label) + 1;
  struct PerOpcode {
    std::vector<uint64_t> masks; ///< by position in OpcodeInfo::fields
    std::vector<unsigned> unused;
  };
  std::array<PerOpcode, 256> opcodes;
  /// Valid enumerator codes below 256, per kind; `enumKind` marks the kinds
  /// that are enums.
  std::array<std::bitset<256>, kNumKinds> valid;
  std::array<bool, kNumKinds> enumKind{};
  FieldChecks() {
    for (const OpcodeInfo &info : opcodeTable()) {
      PerOpcode &p = opcodes[info.value];
      std::array<bool, kNumFields> used{};
      for (Field fld : info.fields) {
        used[static_cast<unsigned>(fld)] = true;
        p.masks.push_back(fieldMask(fieldInfo(fld).bits));
      }
      for (unsigned i = 0; i < kNumFields; ++i) {
        if (!used[i]) {
          p.unused.push_back(i);
        }
      }
    }
    for (unsigned k = 0; k < kNumKinds; ++k) {
      for (const EnumEntry &e : enumEntries(FieldKind(k))) {
        enumKind[k] = true;
        if (e.code < 256) {
          valid[k].set(e.code);
        }
      }
    }
  }
  /// True when `inst` passes every check (the slow path then has nothing
  /// to say); false sends the caller to the slow path for the message.
  bool fine(const Instruction &inst, const OpcodeInfo &info) const {
    const PerOpcode &p = opcodes[info.value];
    for (size_t i = 0; i < info.fields.size(); ++i) {
      uint64_t v = inst.get(info.fields[i]);
      if (v & ~p.masks[i]) {
        return false;
      }
      unsigned k = unsigned(fieldInfo(info.fields[i]).kind);
      if (enumKind[k] && (v >= 256 || !valid[k].test(v))) {
        return false;
      }
    }
    for (unsigned i : p.unused) {
      if (inst.fields[i] != 0) {
        return false;
      }
    }
    return true;
  }
};

} // namespace

std::string checkFields(const Instruction &inst) {
  const OpcodeInfo *info = opcodeInfo(inst.opcode);
  static const FieldChecks checks;
  if (info && checks.fine(inst, *info)) {
    return {};
  }
  if (!info) {
    return fmt::format("unknown opcode 0x{:02x}",
                       static_cast<unsigned>(inst.opcode));
  }
  std::array<bool, kNumFields> used{};
  for (Field fld : info->fields) {
    used[static_cast<unsigned>(fld)] = true;
    const FieldInfo &fi = fieldInfo(fld);
    uint64_t v = inst.get(fld);
    if (v & ~fieldMask(fi.bits)) {
      return fmt::format("{}: field {}={} does not fit in {} bits",
                         info->mnemonic, fi.mnemonic, v, fi.bits);
    }
    if (enumCount(fi.kind) && !enumName(fi.kind, v)) {
      return fmt::format("{}: field {}={} is not a valid enumerator",
                         info->mnemonic, fi.mnemonic, v);
    }
  }
  for (unsigned i = 0; i < kNumFields; ++i) {
    if (!used[i] && inst.fields[i] != 0) {
      return fmt::format("{}: has no field {}", info->mnemonic,
                         kFields[i].mnemonic);
    }
  }
  return {};
}

Result<EncodedInst> encode(const Instruction &inst) {
  std::string err = checkFields(inst);
  if (!err.empty()) {
    return Result<EncodedInst>::failure(err);
  }
  const OpcodeInfo *info = opcodeInfo(inst.opcode);
  EncodedInst out{};
  out[0] = info->value;
  for (size_t i = 0; i < info->fields.size(); ++i) {
    putBits(out.data(), info->offsets[i], fieldInfo(info->fields[i]).bits,
            inst.get(info->fields[i]));
  }
  return out;
}

Result<Instruction> decode(const uint8_t *bytes) {
  const OpcodeInfo *info = opcodeByValue(bytes[0]);
  if (!info) {
    return Result<Instruction>::failure(
        fmt::format("bad opcode 0x{:02x}", bytes[0]));
  }
  Instruction inst(info->opcode);
  unsigned end = 8;
  for (size_t i = 0; i < info->fields.size(); ++i) {
    const FieldInfo &fi = fieldInfo(info->fields[i]);
    uint64_t v = getBits(bytes, info->offsets[i], fi.bits);
    if (enumCount(fi.kind) && !enumName(fi.kind, v)) {
      return Result<Instruction>::failure(
          fmt::format("bad encoding: {} field {}={} is not a valid enumerator",
                      info->mnemonic, fi.mnemonic, v));
    }
    inst.set(info->fields[i], v);
    end = info->offsets[i] + fi.bits;
  }
  for (unsigned bit = end; bit < kInstBytes * 8; ++bit) {
    if ((bytes[bit / 8] >> (bit % 8)) & 1) {
      return Result<Instruction>::failure(fmt::format(
          "bad encoding: {} has reserved bit {} set", info->mnemonic, bit));
    }
  }
  return inst;
}

std::string formatInstruction(const Instruction &inst) {
  const OpcodeInfo *info = opcodeInfo(inst.opcode);
  if (!info) {
    return fmt::format("<opcode 0x{:02x}>", static_cast<unsigned>(inst.opcode));
  }
  std::string s = info->mnemonic;
  bool first = true;
  for (Field fld : info->fields) {
    const FieldInfo &fi = fieldInfo(fld);
    s += first ? " " : ", ";
    first = false;
    uint64_t v = inst.get(fld);
    s += fi.mnemonic;
    s += '=';
    if (const char *name = enumName(fi.kind, v)) {
      s += name;
    } else if (fi.kind == FieldKind::F32) {
      uint32_t bits = static_cast<uint32_t>(v);
      float x;
      std::memcpy(&x, &bits, 4);
      // Shortest text that reads back to the same bits; NaN payloads and
      // infinities print as raw bits so they survive the round trip.
      if (x == x && x - x == 0) {
        s += fmt::format("{}", x);
        if (s.find_first_of(".eE", s.rfind('=')) == std::string::npos) {
          s += ".0";
        }
      } else {
        s += fmt::format("0x{:08x}", bits);
      }
    } else if (fi.kind == FieldKind::Label) {
      s += fmt::format("{}", v);
    } else if (fi.kind == FieldKind::Addr || v >= 4096) {
      s += fmt::format("0x{:x}", v);
    } else {
      s += fmt::format("{}", v);
    }
  }
  return s;
}

} // namespace nuri::isa
