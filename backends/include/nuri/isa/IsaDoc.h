//===- IsaDoc.h - The ISA reference rendered from Isa.def -------*- C++ -*-===//
//
// docs/isa.md embeds this text between BEGIN/END markers; a unit test fails
// when the two disagree, and `nuri isa --markdown` prints the fresh text.
//
//===----------------------------------------------------------------------===//

#ifndef NURI_ISA_ISADOC_H
#define NURI_ISA_ISADOC_H

#include <string>

namespace nuri::isa {

constexpr const char *kIsaDocBegin = "<!-- BEGIN GENERATED FROM Isa.def -->";
constexpr const char *kIsaDocEnd = "<!-- END GENERATED FROM Isa.def -->";

/// Markdown tables of engines, enumerations, fields and opcodes (with bit
/// offsets), generated from Isa.def.
std::string renderIsaReference();

} // namespace nuri::isa

#endif // NURI_ISA_ISADOC_H
