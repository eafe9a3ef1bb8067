//===- Isa.h - The Nuri NPU instruction set ---------------------*- C++ -*-===//
//
// Enumerations and tables generated from Isa.def, the in-memory instruction
// form shared by the assembler, the compiler's emitter and the simulator, and
// the fixed binary encoding (64 bytes per instruction, versioned).
//
//===----------------------------------------------------------------------===//

#ifndef NURI_ISA_ISA_H
#define NURI_ISA_ISA_H

#include "nuri/isa/Result.h"

#include <array>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace nuri::isa {

constexpr uint16_t kVersionMajor = 1;
constexpr uint16_t kVersionMinor = 4; // 1.1: dma.idx; 1.2: vec.accrd obias;
                                      // 1.3: dma.dq; 1.4: its qcgroup
constexpr size_t kInstBytes = 64;

enum class Engine : uint8_t {
#define NURI_ENGINE(Name, Mnem, Doc) Name,
#include "nuri/isa/Isa.def"
};
constexpr unsigned kNumEngines = 0
#define NURI_ENGINE(Name, Mnem, Doc) +1
#include "nuri/isa/Isa.def"
    ;

enum class Dtype : uint8_t {
#define NURI_DTYPE(Name, Mnem, Code, Bytes) Name = Code,
#include "nuri/isa/Isa.def"
};
enum class Space : uint8_t {
#define NURI_SPACE(Name, Mnem, Code, Doc) Name = Code,
#include "nuri/isa/Isa.def"
};
enum class Act : uint8_t {
#define NURI_ACT(Name, Mnem, Code) Name = Code,
#include "nuri/isa/Isa.def"
};
enum class BinOp : uint8_t {
#define NURI_BINOP(Name, Mnem, Code) Name = Code,
#include "nuri/isa/Isa.def"
};
enum class UnOp : uint8_t {
#define NURI_UNOP(Name, Mnem, Code, Transc) Name = Code,
#include "nuri/isa/Isa.def"
};
enum class RedOp : uint8_t {
#define NURI_REDOP(Name, Mnem, Code) Name = Code,
#include "nuri/isa/Isa.def"
};
enum class Bcast : uint8_t {
#define NURI_BCAST(Name, Mnem, Code, Doc) Name = Code,
#include "nuri/isa/Isa.def"
};

enum class Field : uint8_t {
#define NURI_FIELD(Name, Mnem, Bits, Kind, Doc) Name,
#include "nuri/isa/Isa.def"
};
constexpr unsigned kNumFields = 0
#define NURI_FIELD(Name, Mnem, Bits, Kind, Doc) +1
#include "nuri/isa/Isa.def"
    ;

enum class FieldKind : uint8_t {
  Int,
  Addr,
  Dtype,
  Space,
  Act,
  BinOp,
  UnOp,
  RedOp,
  Bcast,
  F32,
  Label
};

enum class Opcode : uint8_t {
  Invalid = 0,
#define NURI_OPCODE(Name, Mnem, Value, Engines, Summary, ...) Name = Value,
#include "nuri/isa/Isa.def"
};

/// Which queues may hold an opcode.
enum class EngineClass : uint8_t { Any, Dma, Matrix, Vector };

struct FieldInfo {
  Field field;
  const char *mnemonic;
  unsigned bits;
  FieldKind kind;
  const char *doc;
};

struct OpcodeInfo {
  Opcode opcode;
  const char *mnemonic;
  uint8_t value;
  EngineClass engines;
  const char *summary;
  std::vector<Field> fields;
  /// Bit offset of each field in `fields` within the 512-bit word.
  std::vector<unsigned> offsets;
};

// Table lookups. The lookups by value/name return nullptr when unknown.
const FieldInfo &fieldInfo(Field f);
const std::vector<OpcodeInfo> &opcodeTable();
const OpcodeInfo *opcodeInfo(Opcode op);
const OpcodeInfo *opcodeByValue(uint8_t value);
const OpcodeInfo *opcodeByMnemonic(std::string_view mnemonic);
const FieldInfo *fieldByMnemonic(std::string_view mnemonic);

const char *engineName(Engine e);
const char *engineDoc(Engine e);
bool parseEngine(std::string_view s, Engine &out);
/// Every engine mnemonic in code order, joined by `sep`, for messages that
/// list the valid engines.
std::string engineNames(std::string_view sep);
/// The class of non-Any opcodes queue `e` executes. Several queues may share a
/// class (dma and fetch both run DMA instructions), so code that asks "is this
/// a DMA queue" compares classes, never engines.
EngineClass engineClass(Engine e);
/// Whether `op` is legal on queue `e`: the one legality rule the builder, the
/// assembler, program verification, the npu dialect and the docs share.
bool engineAccepts(Engine e, Opcode op);

const char *dtypeName(Dtype d);
unsigned dtypeBytes(Dtype d);
bool isValidDtype(uint64_t code);
bool isFloatDtype(Dtype d);
bool isFp8(Dtype d);

/// The mnemonic of an enumerated field value, or nullptr if out of range.
const char *enumName(FieldKind kind, uint64_t value);
/// Parses an enumerator mnemonic of `kind`; false if unknown.
bool parseEnum(FieldKind kind, std::string_view s, uint64_t &out);
/// Number of enumerators of an enum kind (0 for non-enum kinds).
unsigned enumCount(FieldKind kind);
bool isUnOpTranscendental(UnOp op);

/// One instruction: an opcode and a value for every field it uses. Fields the
/// opcode does not use are zero. Indexing by Field keeps decode cheap.
struct Instruction {
  Opcode opcode = Opcode::Invalid;
  std::array<uint64_t, kNumFields> fields{};

  Instruction() = default;
  explicit Instruction(Opcode op) : opcode(op) {}
  uint64_t get(Field f) const { return fields[static_cast<unsigned>(f)]; }
  uint64_t operator[](Field f) const { return get(f); }
  Instruction &set(Field f, uint64_t v) {
    fields[static_cast<unsigned>(f)] = v;
    return *this;
  }
  float imm() const;
  Instruction &setImm(float v);
  bool operator==(const Instruction &o) const {
    return opcode == o.opcode && fields == o.fields;
  }
};

using EncodedInst = std::array<uint8_t, kInstBytes>;

/// Encodes one instruction; fails if a field does not fit its width or an
/// enumerated field is out of range.
Result<EncodedInst> encode(const Instruction &inst);
/// Decodes one instruction; fails on an unknown opcode, a field out of range
/// or nonzero reserved bits.
Result<Instruction> decode(const uint8_t *bytes);

/// Checks every field of `inst` against the tables (what encode checks).
/// Returns an empty string when valid, else the reason.
std::string checkFields(const Instruction &inst);

/// One line of assembly for an instruction (no label resolution: `body`
/// prints as its numeric pc).
std::string formatInstruction(const Instruction &inst);

} // namespace nuri::isa

#endif // NURI_ISA_ISA_H
