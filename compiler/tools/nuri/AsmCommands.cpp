//===- AsmCommands.cpp - nuri asm / disasm / isa --------------------------===//
//
// Thin wrappers over NuriIsa: the library does the work and returns errors as
// values; this file only maps them to messages and exit codes.
//
//===----------------------------------------------------------------------===//

#include "Command.h"

#include "nuri/isa/Assembler.h"
#include "nuri/isa/IsaDoc.h"

#include "llvm/Support/raw_ostream.h"

#include <fstream>

namespace {

namespace cl = llvm::cl;

bool writeText(const std::string &path, const std::string &text) {
  if (path == "-") {
    llvm::outs() << text;
    return true;
  }
  std::ofstream out(path);
  out << text;
  if (!out) {
    llvm::errs() << "nuri: " << path << ": cannot write\n";
    return false;
  }
  return true;
}

// ---- nuri asm ---------------------------------------------------------------
cl::SubCommand asmCmd("asm", "Assemble a .nasm program into a .bin");
cl::opt<std::string> asmInput(cl::Positional, cl::desc("<PROG.nasm>"),
                              cl::Required, cl::sub(asmCmd));
cl::opt<std::string> asmOutput("o", cl::desc("output .bin"),
                               cl::value_desc("PROG.bin"), cl::Required,
                               cl::sub(asmCmd));

int runAsm() {
  nuri::Result<nuri::isa::Program> p = nuri::isa::assembleFile(asmInput);
  if (!p) {
    llvm::errs() << "nuri asm: " << p.error() << "\n";
    return 1;
  }
  nuri::Result<bool> w = nuri::isa::writeProgramFile(*p, asmOutput);
  if (!w) {
    llvm::errs() << "nuri asm: " << w.error() << "\n";
    return 1;
  }
  return 0;
}
nuri::cli::CommandRegistration asmReg(asmCmd, runAsm);

// ---- nuri disasm
// --------------------------------------------------------------
cl::SubCommand disasmCmd("disasm",
                         "Disassemble a .bin program into .nasm text");
cl::opt<std::string> disInput(cl::Positional, cl::desc("<PROG.bin>"),
                              cl::Required, cl::sub(disasmCmd));
cl::opt<std::string> disOutput("o", cl::desc("output .nasm ('-' = stdout)"),
                               cl::value_desc("PROG.nasm"), cl::init("-"),
                               cl::sub(disasmCmd));

int runDisasm() {
  nuri::Result<nuri::isa::Program> p = nuri::isa::readProgramFile(disInput);
  if (!p) {
    llvm::errs() << "nuri disasm: " << p.error() << "\n";
    return 1;
  }
  return writeText(disOutput, nuri::isa::disassemble(*p)) ? 0 : 1;
}
nuri::cli::CommandRegistration disasmReg(disasmCmd, runDisasm);

// ---- nuri isa
// -------------------------------------------------------------------
cl::SubCommand isaCmd("isa", "Print the ISA reference generated from Isa.def");
cl::opt<std::string> isaOutput("o", cl::desc("output ('-' = stdout)"),
                               cl::init("-"), cl::sub(isaCmd));

int runIsa() {
  return writeText(isaOutput, nuri::isa::renderIsaReference()) ? 0 : 1;
}
nuri::cli::CommandRegistration isaReg(isaCmd, runIsa);

} // namespace
