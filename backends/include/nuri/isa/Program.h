//===- Program.h - Per-core, per-engine instruction streams -----*- C++ -*-===//
//
// A program is a set of instruction streams, one per (core, engine) queue. The
// binary file (.bin) is what `nuri asm` writes and `nuri sim` reads; a package
// (.nuri) will carry the same streams, so the simulator's entry point takes a
// Program, not a file.
//
// File layout (little endian), version kVersionMajor.kVersionMinor:
//   0  char[8]  magic "NURIBIN\0"
//   8  u16      version major, u16 version minor
//   12 u32      number of streams S
//   16 S x { u16 core, u8 engine, u8 reserved(0), u32 count, u64 byte offset }
//   ... instructions, 64 bytes each, each stream contiguous at its offset
//
//===----------------------------------------------------------------------===//

#ifndef NURI_ISA_PROGRAM_H
#define NURI_ISA_PROGRAM_H

#include "nuri/isa/Isa.h"

#include <string>
#include <vector>

namespace nuri::isa {

struct Stream {
  unsigned core = 0;
  Engine engine = Engine::Dma;
  std::vector<Instruction> insts;
};

struct Program {
  std::vector<Stream> streams;

  /// The stream for (core, engine), created on first use.
  Stream &stream(unsigned core, Engine engine);
  const Stream *find(unsigned core, Engine engine) const;
  unsigned numCores() const;
  size_t numInstructions() const;
};

constexpr char kProgramMagic[8] = {'N', 'U', 'R', 'I', 'B', 'I', 'N', '\0'};

/// Structural checks shared by the assembler, the file reader and the
/// simulator: opcodes legal on their queue, fields in range, `repeat` bodies
/// backwards and non-empty, every stream ends with `end`, no duplicate
/// streams. The message names core, engine and pc.
std::string verifyProgram(const Program &program);

Result<std::vector<uint8_t>> encodeProgram(const Program &program);
/// Decodes and verifies a program image; never trusts sizes or offsets.
Result<Program> decodeProgram(const uint8_t *data, size_t size);

Result<Program> readProgramFile(const std::string &path);
/// Writes the encoded program; the error names the file.
Result<bool> writeProgramFile(const Program &program, const std::string &path);

} // namespace nuri::isa

#endif // NURI_ISA_PROGRAM_H
