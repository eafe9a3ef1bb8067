//===- NpuProgram.cpp - isa::Program <-> the npu dialect ------------------===//

#include "nuri/Conversion/NpuProgram.h"

#include "nuri/isa/Builder.h"

#include "llvm/ADT/SmallString.h"

using namespace mlir;

namespace nuri::npu {

namespace {

DictionaryAttr tensorAttr(MLIRContext *ctx, const DramTensor &t) {
  Builder b(ctx);
  SmallVector<int64_t> shape(t.shape.begin(), t.shape.end());
  return b.getDictionaryAttr(
      {b.getNamedAttr("name", b.getStringAttr(t.name)),
       b.getNamedAttr("dtype", b.getStringAttr(graph::dtypeName(t.dtype))),
       b.getNamedAttr("shape", b.getDenseI64ArrayAttr(shape)),
       b.getNamedAttr("address", b.getI64IntegerAttr(int64_t(t.address)))});
}

} // namespace

ProgramOp importProgram(OpBuilder &builder, Location loc, StringRef name,
                        const CompiledPartition &part, StringRef targetName) {
  MLIRContext *ctx = builder.getContext();
  SmallVector<Attribute> ins, outs;
  for (const DramTensor &t : part.inputs) {
    ins.push_back(tensorAttr(ctx, t));
  }
  for (const DramTensor &t : part.outputs) {
    outs.push_back(tensorAttr(ctx, t));
  }
  auto program = builder.create<ProgramOp>(
      loc, builder.getStringAttr(name), builder.getStringAttr(targetName),
      builder.getArrayAttr(ins), builder.getArrayAttr(outs));
  program.getBody().push_back(new Block());
  OpBuilder pb = OpBuilder::atBlockEnd(&program.getBody().front());
  for (const isa::Stream &s : part.program.streams) {
    auto stream =
        pb.create<StreamOp>(loc, pb.getI64IntegerAttr(s.core),
                            pb.getStringAttr(isa::engineName(s.engine)));
    stream.getBody().push_back(new Block());
    OpBuilder sb = OpBuilder::atBlockEnd(&stream.getBody().front());
    for (const isa::Instruction &inst : s.insts) {
      if (inst.opcode == isa::Opcode::End) {
        continue; // implicit: emitProgram appends it
      }
      const isa::OpcodeInfo *info = isa::opcodeInfo(inst.opcode);
      StringRef opName = opNameOf(inst.opcode);
      // An opcode Isa.def has and the dialect lacks must not vanish from the
      // program: as an unregistered op it fails verification instead.
      OperationState state(
          loc, ("npu." + (opName.empty() ? StringRef(info->mnemonic) : opName))
                   .str());
      for (isa::Field f : info->fields) {
        const isa::FieldInfo &fi = isa::fieldInfo(f);
        Attribute a;
        switch (fi.kind) {
        case isa::FieldKind::Int:
        case isa::FieldKind::Addr:
        case isa::FieldKind::Label:
          a = sb.getI64IntegerAttr(int64_t(inst.get(f)));
          break;
        case isa::FieldKind::F32:
          a = sb.getF32FloatAttr(inst.imm());
          break;
        default:
          a = sb.getStringAttr(isa::enumName(fi.kind, inst.get(f)));
          break;
        }
        state.addAttribute(fi.mnemonic, a);
      }
      sb.create(state);
    }
  }
  return program;
}

FailureOr<isa::Program> emitProgram(ProgramOp program) {
  isa::ProgramBuilder pb;
  for (Operation &op : program.getBody().front()) {
    auto stream = dyn_cast<StreamOp>(op);
    if (!stream) {
      return op.emitOpError("is not an npu.stream");
    }
    isa::Engine engine;
    if (!isa::parseEngine(stream.getEngine().str(), engine)) {
      return stream.emitOpError("has no engine '") << stream.getEngine() << "'";
    }
    isa::StreamBuilder sb = pb.queue(unsigned(stream.getCore()), engine);
    for (Operation &inst : stream.getBody().front()) {
      FailureOr<isa::Instruction> i = toInstruction(&inst);
      if (failed(i)) {
        return failure();
      }
      try {
        sb.emit(*i);
      } catch (const Error &e) {
        return inst.emitOpError("cannot be encoded: ") << e.what();
      }
    }
  }
  try {
    return pb.finish();
  } catch (const Error &e) {
    return program.emitOpError("is not a valid program: ") << e.what();
  }
}

} // namespace nuri::npu
