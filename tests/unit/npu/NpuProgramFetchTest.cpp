//===- NpuProgramFetchTest.cpp - The fetch queue through the npu dialect --===//
//
// A program with a fetch stream imports into `npu.stream {engine = "fetch"}`,
// verifies, and emits back to the same isa::Program; an op the fetch queue
// cannot run is rejected by the dialect and by the emitter.
//
//===----------------------------------------------------------------------===//

#include "RoundTrip.h"
#include "nuri/Conversion/NpuProgram.h"
#include "nuri/isa/Assembler.h"

#include "mlir/IR/BuiltinOps.h"
#include "mlir/IR/MLIRContext.h"
#include "mlir/IR/Verifier.h"
#include "mlir/Parser/Parser.h"

#include <gtest/gtest.h>

using namespace nuri;

namespace {

TEST(NpuProgram, FetchStreamImportsAndEmitsUnchanged) {
  Result<isa::Program> program = isa::assemble(R"(
    .stream core=0 engine=dma
      dma.copy src_space=dram, dst_space=sram, src=0x0, dst=0x0, bytes=256, rows=1, planes=1
      barrier bar=0, count=3
      end
    .stream core=0 engine=fetch
    top:
      dma.copy src_space=dram, dst_space=sram, src=0x10000, dst=0x2000, bytes=4096, rows=4, planes=1, src_stride=4096, dst_stride=4096
      dma.mcast src_space=dram, cores=0b11, src=0x0, dst=0x1000, bytes=128, rows=1, planes=1
      repeat body=top, times=2
      sem.signal sem=1, core=0, count=1
      barrier bar=0, count=3
      end
    .stream core=0 engine=mat
      sem.wait sem=1, count=1
      barrier bar=0, count=3
      end
  )");
  ASSERT_TRUE(program) << program.error();

  mlir::MLIRContext ctx;
  ctx.loadDialect<npu::NpuDialect>();
  mlir::OwningOpRef<mlir::ModuleOp> module =
      mlir::ModuleOp::create(mlir::UnknownLoc::get(&ctx));
  npu::ProgramOp prog = test::importForTest(*module, *program);

  unsigned fetchStreams = 0;
  for (mlir::Operation &op : prog.getBody().front()) {
    auto s = mlir::cast<npu::StreamOp>(op);
    if (s.getEngine() == "fetch") {
      ++fetchStreams;
      EXPECT_EQ(s.getCore(), 0);
    }
  }
  EXPECT_EQ(fetchStreams, 1u);
  EXPECT_TRUE(test::emitsBack(prog, *program));
}

TEST(NpuProgram, EmitterRejectsAComputeOpOnTheFetchQueue) {
  // Built without verification (as a pass could leave it): the emitter must
  // still refuse to encode mat.mm on the fetch queue.
  mlir::MLIRContext ctx;
  ctx.loadDialect<npu::NpuDialect>();
  mlir::OwningOpRef<mlir::ModuleOp> module =
      mlir::ModuleOp::create(mlir::UnknownLoc::get(&ctx));
  mlir::OpBuilder b(&ctx);
  npu::ProgramOp prog = test::importForTest(
      *module, *isa::assemble(".stream core=0 engine=fetch\n"
                              "  nop cycles=1\n  end\n"));
  auto stream = mlir::cast<npu::StreamOp>(prog.getBody().front().front());
  mlir::OpBuilder sb = mlir::OpBuilder::atBlockEnd(&stream.getBody().front());
  mlir::OperationState st(b.getUnknownLoc(), "npu.mm");
  for (auto [name, v] : {std::pair<const char *, int64_t>{"acc", 0},
                         {"a", 0},
                         {"lda", 2},
                         {"b", 0},
                         {"ldb", 2},
                         {"m", 1},
                         {"n", 1},
                         {"k", 1},
                         {"accumulate", 0}}) {
    st.addAttribute(name, sb.getI64IntegerAttr(v));
  }
  st.addAttribute("atype", sb.getStringAttr("bf16"));
  st.addAttribute("btype", sb.getStringAttr("bf16"));
  sb.create(st);

  std::string diag;
  mlir::ScopedDiagnosticHandler handler(&ctx, [&](mlir::Diagnostic &d) {
    diag += d.str() + "\n";
    return mlir::success();
  });
  EXPECT_TRUE(mlir::failed(mlir::verify(prog)));
  EXPECT_NE(diag.find("is not legal on the 'fetch' queue"), std::string::npos)
      << diag;
  diag.clear();
  EXPECT_TRUE(mlir::failed(npu::emitProgram(prog)));
  EXPECT_NE(diag.find("not legal on the fetch queue"), std::string::npos)
      << diag;
}

} // namespace
