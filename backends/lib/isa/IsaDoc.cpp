//===- IsaDoc.cpp - Markdown reference generated from Isa.def -------------===//

#include "nuri/isa/IsaDoc.h"
#include "nuri/isa/Isa.h"

#include <fmt/format.h>

namespace nuri::isa {

namespace {
const char *kindName(FieldKind k) {
  switch (k) {
  case FieldKind::Int:
    return "int";
  case FieldKind::Addr:
    return "address";
  case FieldKind::Dtype:
    return "dtype";
  case FieldKind::Space:
    return "space";
  case FieldKind::Act:
    return "act";
  case FieldKind::BinOp:
    return "binop";
  case FieldKind::UnOp:
    return "unop";
  case FieldKind::RedOp:
    return "redop";
  case FieldKind::Bcast:
    return "bcast";
  case FieldKind::F32:
    return "fp32";
  case FieldKind::Label:
    return "label";
  }
  return "?";
}
/// The queues an opcode is legal on, from the same rule the assembler and
/// the verifier apply, so the table cannot drift from them.
std::string queuesOf(const OpcodeInfo &op) {
  if (op.engines == EngineClass::Any) {
    return "any";
  }
  std::string q;
  for (unsigned e = 0; e < kNumEngines; ++e) {
    if (engineAccepts(Engine(e), op.opcode)) {
      q += fmt::format("{}{}", q.empty() ? "" : ", ", engineName(Engine(e)));
    }
  }
  return q;
}
} // namespace

std::string renderIsaReference() {
  std::string s;
  s += fmt::format("ISA version {}.{}; {} bytes per instruction.\n\n",
                   kVersionMajor, kVersionMinor, kInstBytes);
  s +=
      "### Engines (one queue each per core)\n\n| engine | role |\n|---|---|\n";
  for (unsigned e = 0; e < kNumEngines; ++e) {
    s += fmt::format("| `{}` | {} |\n", engineName(Engine(e)),
                     engineDoc(Engine(e)));
  }
  s += "\n### Enumerations\n\n| kind | values (code) |\n|---|---|\n";
  for (FieldKind k :
       {FieldKind::Dtype, FieldKind::Space, FieldKind::Act, FieldKind::BinOp,
        FieldKind::UnOp, FieldKind::RedOp, FieldKind::Bcast}) {
    std::string vals;
    for (uint64_t v = 0; v < 64; ++v) {
      if (const char *n = enumName(k, v)) {
        if (!vals.empty()) {
          vals += ", ";
        }
        vals += fmt::format("`{}` ({})", n, v);
        if (k == FieldKind::Dtype) {
          vals.insert(vals.size() - 1,
                      fmt::format(", {} B", dtypeBytes(Dtype(v))));
        }
      }
    }
    s += fmt::format("| {} | {} |\n", kindName(k), vals);
  }
  s += "\n### Fields\n\n| field | bits | kind | meaning |\n|---|---|---|---|\n";
  for (unsigned i = 0; i < kNumFields; ++i) {
    const FieldInfo &fi = fieldInfo(Field(i));
    s += fmt::format("| `{}` | {} | {} | {} |\n", fi.mnemonic, fi.bits,
                     kindName(fi.kind), fi.doc);
  }
  s += "\n### Opcodes\n\nBits 0..7 hold the opcode; fields follow at the "
       "given bit offsets. Bits after the last field are reserved (zero).\n\n"
       "| opcode | value | queue | fields (bit offset) | semantics |\n"
       "|---|---|---|---|---|\n";
  for (const OpcodeInfo &op : opcodeTable()) {
    std::string fields;
    for (size_t i = 0; i < op.fields.size(); ++i) {
      if (!fields.empty()) {
        fields += ", ";
      }
      fields += fmt::format("`{}`@{}", fieldInfo(op.fields[i]).mnemonic,
                            op.offsets[i]);
    }
    s += fmt::format("| `{}` | 0x{:02x} | {} | {} | {} |\n", op.mnemonic,
                     op.value, queuesOf(op), fields.empty() ? "-" : fields,
                     op.summary);
  }
  return s;
}

} // namespace nuri::isa
