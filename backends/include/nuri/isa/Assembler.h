//===- Assembler.h - Text form of Nuri programs -----------------*- C++ -*-===//
//
// The .nasm syntax:
//
//   # comment (also `;` or `//` to end of line)
//   .equ W_BASE, 0x100000          named constant
//   .stream core=0 engine=dma      following instructions go to this queue
//   loop:                          label (a pc within the current stream)
//     dma.copy src_space=dram, dst_space=sram, src=W_BASE+0x40, dst=0, ...
//     repeat body=loop, times=4
//     end
//
// Operands are `field=value`, separated by commas or blanks; a missing field
// is zero. Values are integers (decimal, 0x hex, 0b binary, with `_`
// separators), `.equ` names, sums/differences of those, enumerator mnemonics
// (bf16, sram, add, gelu ...), floats for `imm`, and labels for `body`.
// The disassembler prints every field, so asm -> disasm -> asm reproduces the
// binary byte for byte.
//
//===----------------------------------------------------------------------===//

#ifndef NURI_ISA_ASSEMBLER_H
#define NURI_ISA_ASSEMBLER_H

#include "nuri/isa/Program.h"

#include <string>
#include <string_view>

namespace nuri::isa {

/// Assembles `text`; errors read "FILE:LINE: reason".
Result<Program> assemble(std::string_view text,
                         std::string_view fileName = "<input>");
Result<Program> assembleFile(const std::string &path);

/// Canonical text of a program (labels `L<pc>` where `repeat` points).
std::string disassemble(const Program &program);

} // namespace nuri::isa

#endif // NURI_ISA_ASSEMBLER_H
