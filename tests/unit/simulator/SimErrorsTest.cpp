//===- SimErrorsTest.cpp - Invalid programs stop with a precise error -----===//

#include "TestUtil.h"

#include <fmt/format.h>

using namespace nuri;
using namespace nuri::isa;

namespace {

std::string runError(const std::string &text, const char *targetName = "tiny",
                     bool functional = true) {
  Program p = test::assembleOrDie(text);
  sim::SimOptions o;
  o.functional = functional;
  sim::Simulator sim(test::loadTarget(targetName), o);
  Result<sim::Report> r = sim.run(p);
  EXPECT_FALSE(r) << text;
  return r ? std::string() : r.error();
}

void expectHas(const std::string &err,
               std::initializer_list<const char *> parts) {
  for (const char *p : parts) {
    EXPECT_NE(err.find(p), std::string::npos)
        << "missing `" << p << "` in: " << err;
  }
}

TEST(SimErrors, SramOutOfBoundsNamesCoreEnginePcAndInstruction) {
  for (bool functional : {true, false}) {
    std::string e = runError(R"(
      .stream core=1 engine=vec
        vec.fill dst=0x0, ldd=4, rows=1, cols=1, dtype=f32, imm=1.0
        vec.fill dst=0x3fff0, ldd=64, rows=2, cols=8, dtype=f32, imm=1.0
        end)",
                             "tiny", functional);
    expectHas(e, {"core 1 engine vec pc 1", "`vec.fill dst=0x3fff0",
                  "out of bounds", "size 0x40000"});
  }
}

TEST(SimErrors, DramOutOfBounds) {
  std::string e = runError(R"(
    .stream core=0 engine=dma
      dma.copy src_space=dram, dst_space=sram, src=0x3fffff0, dst=0, bytes=64, rows=1, planes=1
      end)");
  expectHas(e, {"core 0 engine dma pc 0", "DRAM source", "out of bounds"});
  // Strides that would wrap a 64-bit address are caught too.
  e = runError(R"(
    .stream core=0 engine=dma
      dma.copy src_space=dram, dst_space=sram, src=0, dst=0, bytes=1, rows=65535, planes=65535, src_stride=0xffffffff, src_pstride=0xffffffffff
      end)");
  expectHas(e, {"out of bounds"});
}

TEST(SimErrors, DequantizingLoadChecksItsFormat) {
  // One field wrong at a time (the rest a valid 2 x 8 load), and what the
  // error must say.
  struct Case {
    const char *fields, *want;
  } cases[] = {
      {"cols=8, dtype=bf16, qbits=2, qscale=0x100, qgroup=1", "qbits=2"},
      {"cols=7, dtype=bf16, qbits=4, qscale=0x100, qgroup=1", "cols=7 is odd"},
      {"cols=8, dtype=i8, qbits=8, qscale=0x100, qgroup=1", "dtype=i8"},
      {"cols=8, dtype=bf16, qbits=8, qscale=0x102, qgroup=1",
       "qscale=0x102 (stride 0) is not 4-byte aligned"},
      {"cols=8, dtype=bf16, qbits=8, qscale=0x100, qgroup=0", "qgroup=0"},
  };
  for (const Case &c : cases) {
    expectHas(runError(fmt::format(R"(
    .stream core=0 engine=dma
      dma.dq src=0, dst=0, rows=2, src_stride=8, ldd=16, {}
      end)",
                                   c.fields)),
              {"core 0 engine dma pc 0", c.want});
  }
}

TEST(SimErrors, IndexedDmaNamesTheIndexAndTheMovedAddress) {
  // An index the host left too large moves the destination out of DRAM: the
  // error says which index, its value and the address it started from.
  Program p = test::assembleOrDie(R"(
    .stream core=0 engine=dma
      dma.idx src_space=sram, dst_space=dram, src=0, dst=0x3fff000, bytes=64, rows=1, planes=1, idx_dst=1, idx0=0x100, idx_scale0=4096
      end)");
  sim::Simulator sim(test::loadTarget("tiny"));
  int32_t slot = 7;
  sim.writeDram(0x100, &slot, 4);
  Result<sim::Report> r = sim.run(p);
  ASSERT_FALSE(r);
  expectHas(r.error(),
            {"core 0 engine dma pc 0", "DRAM destination", "out of bounds",
             "dst=0x3fff000 offset by", "idx0 value 7 x 4096"});
  // A negative index that moves the address below 0.
  slot = -1;
  sim.writeDram(0x100, &slot, 4);
  Program low = test::assembleOrDie(R"(
    .stream core=0 engine=dma
      dma.idx src_space=dram, dst_space=sram, src=0x10, dst=0, bytes=64, rows=1, planes=1, idx0=0x100, idx_scale0=4096
      end)");
  r = sim.run(low);
  ASSERT_FALSE(r);
  expectHas(r.error(),
            {"run-time offset -4096", "src=0x10", "outside the address space"});
  // The index itself must be an aligned word inside DRAM.
  std::string e = runError(R"(
    .stream core=0 engine=dma
      dma.idx src_space=dram, dst_space=sram, src=0, dst=0, bytes=4, rows=1, planes=1, idx1=0x102, idx_scale1=4
      end)");
  expectHas(e, {"idx1=0x102 is not 4-byte aligned"});
  e = runError(R"(
    .stream core=0 engine=dma
      dma.idx src_space=dram, dst_space=sram, src=0, dst=0, bytes=4, rows=1, planes=1, idx0=0x3fffffe0, idx_scale0=4
      end)");
  expectHas(e, {"idx0", "out of bounds"});
}

TEST(SimErrors, Misalignment) {
  std::string e = runError(R"(
    .stream core=0 engine=vec
      vec.unary unop=exp, dst=0x101, ldd=64, src=0x0, lds=64, rows=1, cols=4, dtype=bf16, stype=bf16
      end)");
  expectHas(e, {"pc 0", "misaligned dst", "2 bytes (bf16)"});
}

TEST(SimErrors, DtypeMismatch) {
  std::string e = runError(R"(
    .stream core=0 engine=mat
      mat.mm acc=0, a=0, lda=64, b=0x1000, ldb=64, m=8, n=8, k=8, atype=i8, btype=bf16
      end)");
  expectHas(e, {"engine mat pc 0", "dtype mismatch: atype i8 with btype bf16"});
  e = runError(R"(
    .stream core=0 engine=mat
      mat.mm acc=0, a=0, lda=64, b=0x1000, ldb=64, m=8, n=8, k=8, atype=i8, btype=i8
      mat.mm acc=0, a=0, lda=64, b=0x1000, ldb=64, m=8, n=8, k=8, atype=bf16, btype=bf16, accumulate=1
      end)");
  expectHas(e, {"pc 1", "accumulating f32 into i32"});
  e = runError(R"(
    .stream core=0 engine=mat
      mat.mm acc=0, a=0, lda=64, b=0x1000, ldb=64, m=8, n=8, k=8, atype=e4m3, btype=e4m3
      end)",
               "atom");
  expectHas(e, {"e4m3 is not supported", "atom"});
}

TEST(SimErrors, SemaphoreNeverSignalledIsADeadlock) {
  std::string e = runError(R"(
    .stream core=0 engine=dma
      sem.signal sem=1, core=0, count=1
      end
    .stream core=0 engine=mat
      sem.wait sem=1, count=2
      end)");
  expectHas(e, {"deadlock", "core 0 engine mat pc 0",
                "`sem.wait sem=1, count=2`", "value 1"});
  // A cycle: each engine waits for the other.
  e = runError(R"(
    .stream core=0 engine=dma
      sem.wait sem=0, count=1
      sem.signal sem=1, core=0, count=1
      end
    .stream core=0 engine=vec
      sem.wait sem=1, count=1
      sem.signal sem=0, core=0, count=1
      end)");
  expectHas(e, {"2 queue(s)", "engine dma pc 0", "engine vec pc 0"});
}

TEST(SimErrors, UnsynchronizedAccessesAreRaces) {
  // The matrix engine reads A while the DMA is still writing it.
  std::string e = runError(R"(
    .stream core=0 engine=dma
      dma.copy src_space=dram, dst_space=sram, src=0, dst=0x100, bytes=64, rows=8, planes=1, src_stride=64, dst_stride=64
      end
    .stream core=0 engine=mat
      mat.mm acc=0, a=0x100, lda=64, b=0x1000, ldb=16, m=8, n=8, k=8, atype=bf16, btype=bf16
      end)");
  expectHas(e, {"core 0 engine mat pc 0", "race: reads SRAM [0x100, 0x2d0)",
                "core 0 engine dma pc 0", "still writes it"});
  // The same with the weights expanded on the way in (dma.dq writes
  // 8 rows of 32 bf16 from 8 rows of 32 int4).
  e = runError(R"(
    .stream core=0 engine=fetch
      dma.dq src=0, dst=0x1000, rows=8, cols=32, src_stride=16, ldd=64, dtype=bf16, qbits=4, qscale=0x800, qscale_stride=128, qgroup=4
      end
    .stream core=0 engine=mat
      mat.mm acc=0, a=0x0, lda=64, b=0x1000, ldb=64, m=8, n=32, k=8, atype=bf16, btype=bf16
      end)");
  expectHas(e, {"core 0 engine mat pc 0", "race: reads SRAM",
                "core 0 engine fetch pc 0", "still writes it"});
  // The vector engine reads the accumulator while the array writes it.
  e = runError(R"(
    .stream core=0 engine=mat
      mat.mm acc=0, a=0x0, lda=64, b=0x1000, ldb=16, m=8, n=8, k=64, atype=bf16, btype=bf16
      end
    .stream core=0 engine=vec
      vec.accrd dst=0x2000, ldd=16, acc=0, m=8, n=8, dtype=bf16
      end)");
  expectHas(e,
            {"engine vec pc 0", "race: reads accumulator", "engine mat pc 0"});
  // The vector engine reads a tile the DMA is still writing.
  e = runError(R"(
    .stream core=0 engine=dma
      dma.copy src_space=dram, dst_space=sram, src=0, dst=0x100, bytes=64, rows=8, planes=1, src_stride=64, dst_stride=64
      end
    .stream core=0 engine=vec
      vec.unary unop=exp, dst=0x1000, ldd=64, src=0x140, lds=64, rows=2, cols=32, dtype=bf16, stype=bf16
      end)");
  expectHas(e, {"core 0 engine vec pc 0", "race: reads SRAM [0x140, 0x1c0)",
                "core 0 engine dma pc 0", "still writes it"});
  // A multicast lands on a tile another core's vector engine still writes.
  e = runError(R"(
    .stream core=1 engine=vec
      vec.fill dst=0x200, ldd=64, rows=64, cols=32, dtype=bf16, imm=2.0
      end
    .stream core=0 engine=dma
      nop cycles=3
      dma.mcast src_space=shared, cores=0b11, src=0, dst=0x200, bytes=16, rows=1, planes=1
      end)");
  expectHas(e, {"core 0 engine dma pc 1",
                "race: writes SRAM [0x200, 0x210) of core 1",
                "core 1 engine vec pc 0", "still writes it"});
  // Two transfers in flight write the same bytes (write-after-write).
  e = runError(R"(
    .stream core=0 engine=dma
      dma.copy src_space=dram, dst_space=sram, src=0, dst=0x100, bytes=64, rows=4, planes=1, src_stride=64, dst_stride=64
      dma.copy src_space=dram, dst_space=sram, src=0x4000, dst=0x1c0, bytes=8, rows=1, planes=1
      end)");
  expectHas(e, {"pc 1", "race: writes SRAM [0x1c0, 0x1c8)", "pc 0"});
  // Interleaved column slices of the same rows do not overlap: no race.
  Program p = test::assembleOrDie(R"(
    .stream core=0 engine=dma
      dma.copy src_space=dram, dst_space=sram, src=0, dst=0x100, bytes=32, rows=8, planes=1, src_stride=64, dst_stride=64
      end
    .stream core=0 engine=vec
      vec.fill dst=0x120, ldd=64, rows=8, cols=16, dtype=bf16, imm=1.0
      end)");
  sim::Simulator ok(test::loadTarget("tiny"));
  EXPECT_TRUE(ok.run(p));
  // The same first program, ordered by a semaphore, is fine.
  p = test::assembleOrDie(R"(
    .stream core=0 engine=dma
      dma.copy src_space=dram, dst_space=sram, src=0, dst=0x100, bytes=64, rows=8, planes=1, src_stride=64, dst_stride=64
      sem.signal sem=0, core=0, count=1
      end
    .stream core=0 engine=mat
      sem.wait sem=0, count=1
      mat.mm acc=0, a=0x100, lda=64, b=0x1000, ldb=16, m=8, n=8, k=8, atype=bf16, btype=bf16
      end)");
  sim::Simulator ordered(test::loadTarget("tiny"));
  EXPECT_TRUE(ordered.run(p));
}

TEST(SimErrors, MulticastMaskAndRangesAreChecked) {
  for (bool functional : {true, false}) {
    // tiny has cores 0 and 1: bit 2 names a core that does not exist.
    std::string e = runError(R"(
      .stream core=1 engine=dma
        nop cycles=1
        dma.mcast src_space=dram, cores=0b101, src=0, dst=0, bytes=64, rows=1, planes=1
        end)",
                             "tiny", functional);
    expectHas(e,
              {"core 1 engine dma pc 1", "`dma.mcast src_space=dram, cores=5",
               "names core 2, which does not exist", "tiny has 2 cores"});
    // The destination range is checked for every core and names the one.
    e = runError(R"(
      .stream core=0 engine=dma
        dma.mcast src_space=shared, cores=0b10, src=0, dst=0x3ffc0, bytes=64, rows=2, planes=1, src_stride=64, dst_stride=64
        end)",
                 "tiny", functional);
    expectHas(e, {"core 0 engine dma pc 0", "SRAM destination of core 1",
                  "[0x3ffc0, 0x40040) out of bounds", "size 0x40000"});
    e = runError(R"(
      .stream core=0 engine=dma
        dma.mcast src_space=shared, cores=0b11, src=0xfff0, dst=0, bytes=64, rows=1, planes=1
        end)",
                 "tiny", functional);
    expectHas(e,
              {"pc 0", "shared SRAM source [0xfff0, 0x10030) out of bounds"});
  }
  expectHas(runError(".stream core=0 engine=dma\n dma.mcast src_space=dram, "
                     "cores=0, bytes=4, rows=1, planes=1\n end\n"),
            {"engine dma pc 0", "cores=0: the multicast names no destination"});
  expectHas(runError(".stream core=0 engine=dma\n dma.mcast src_space=peer, "
                     "core=5, cores=1, bytes=4, rows=1, planes=1\n end\n"),
            {"engine dma pc 0", "peer core 5 does not exist"});
  expectHas(runError(".stream core=0 engine=dma\n dma.mcast src_space=dram, "
                     "cores=3, bytes=0, rows=1, planes=1\n end\n"),
            {"is empty"});
}

TEST(SimErrors, MulticastRacesWithEveryDestinationCore) {
  // Core 1's matrix engine reads A while core 0's multicast still writes it.
  std::string e = runError(R"(
    .stream core=0 engine=dma
      dma.mcast src_space=dram, cores=0b11, src=0, dst=0x100, bytes=64, rows=4, planes=1, src_stride=64, dst_stride=64
      end
    .stream core=1 engine=mat
      nop cycles=5
      mat.mm acc=0, a=0x100, lda=64, b=0x1000, ldb=16, m=8, n=8, k=32, atype=bf16, btype=bf16
      end)");
  expectHas(e, {"core 1 engine mat pc 1",
                "race: reads SRAM [0x100, 0x300) of core 1",
                "core 0 engine dma pc 0", "`dma.mcast", "still writes it"});
  // The other direction: the multicast lands on an operand core 1 is still
  // reading (a long reduction).
  e = runError(R"(
    .stream core=1 engine=mat
      mat.mm acc=0, a=0x100, lda=2048, b=0x8000, ldb=16, m=8, n=8, k=1024, atype=bf16, btype=bf16
      end
    .stream core=0 engine=dma
      nop cycles=5
      dma.mcast src_space=shared, cores=0b10, src=0, dst=0x100, bytes=64, rows=1, planes=1
      end)");
  expectHas(e, {"core 0 engine dma pc 1",
                "race: writes SRAM [0x100, 0x140) of core 1",
                "core 1 engine mat pc 0", "still reads it"});
  // Ordered by a semaphore signalled after the multicast: no race.
  Program p = test::assembleOrDie(R"(
    .stream core=0 engine=dma
      dma.mcast src_space=dram, cores=0b11, src=0, dst=0x100, bytes=64, rows=4, planes=1, src_stride=64, dst_stride=64
      sem.signal sem=0, core=1, count=1
      end
    .stream core=1 engine=mat
      sem.wait sem=0, count=1
      mat.mm acc=0, a=0x100, lda=64, b=0x1000, ldb=16, m=8, n=8, k=32, atype=bf16, btype=bf16
      end)");
  sim::Simulator ok(test::loadTarget("tiny"));
  Result<sim::Report> r = ok.run(p);
  EXPECT_TRUE(r) << r.error();
}

TEST(SimErrors, BarrierMisuse) {
  std::string e = runError(R"(
    .stream core=0 engine=dma
      barrier bar=0, count=3
      end
    .stream core=1 engine=dma
      barrier bar=0, count=3
      end)");
  expectHas(e, {"deadlock", "barrier 0 (2 of 3 arrived)"});
  e = runError(R"(
    .stream core=0 engine=dma
      barrier bar=0, count=2
      end
    .stream core=1 engine=dma
      barrier bar=0, count=3
      end)");
  expectHas(e, {"core 1 engine dma pc 0", "disagrees"});
  e = runError(R"(
    .stream core=0 engine=dma
      barrier bar=99, count=1
      end)");
  expectHas(e, {"barrier 99 does not exist"});
}

TEST(SimErrors, ResourceIndicesOutOfRange) {
  expectHas(
      runError(
          ".stream core=0 engine=dma\n sem.signal sem=200, core=0\n end\n"),
      {"semaphore 200 does not exist"});
  expectHas(
      runError(".stream core=0 engine=dma\n sem.signal sem=0, core=9\n end\n"),
      {"core 9 does not exist"});
  expectHas(
      runError(".stream core=0 engine=dma\n dma.copy src_space=sram, "
               "dst_space=peer, core=5, bytes=4, rows=1, planes=1\n end\n"),
      {"peer core 5 does not exist"});
  expectHas(runError(".stream core=5 engine=dma\n end\n"),
            {"program uses 6 cores but target tiny has 2"});
  expectHas(
      runError(".stream core=0 engine=mat\n mat.mm acc=4090, a=0, lda=64, "
               "b=0, ldb=64, m=8, n=8, k=1, atype=bf16, btype=bf16\n end\n"),
      {"accumulator entries [4090, 4154) out of bounds"});
  expectHas(runError(".stream core=0 engine=vec\n vec.fill rows=0, cols=1, "
                     "dtype=f32\n end\n"),
            {"empty tile"});
}

TEST(SimErrors, RunawayLoopsHitTheInstructionBudget) {
  Program p = test::assembleOrDie(R"(
    .stream core=0 engine=vec
    a: nop cycles=0
    b: nop cycles=0
    c: nop cycles=0
       repeat body=c, times=65535
       repeat body=b, times=65535
       repeat body=a, times=65535
       end)");
  sim::SimOptions o;
  o.maxInstructions = 1000000;
  sim::Simulator sim(test::loadTarget("tiny"), o);
  Result<sim::Report> r = sim.run(p);
  ASSERT_FALSE(r);
  expectHas(r.error(), {"budget of 1000000 exceeded"});
}

TEST(SimErrors, FunctionalDramImageIsBounded) {
  Program p = test::assembleOrDie(R"(
    .stream core=0 engine=dma
      dma.copy src_space=sram, dst_space=dram, src=0, dst=0, bytes=65536, rows=64, planes=1, src_stride=0, dst_stride=65536
      end)");
  sim::SimOptions o;
  o.maxHostDramBytes = 1 << 20; // 16 pages
  sim::Simulator sim(test::loadTarget("tiny"), o);
  Result<sim::Report> r = sim.run(p);
  ASSERT_FALSE(r);
  expectHas(r.error(), {"core 0 engine dma pc 0", "exceed 1 MiB"});
  o.functional = false; // timing-only never allocates
  sim::Simulator timing(test::loadTarget("tiny"), o);
  EXPECT_TRUE(timing.run(p));
}

TEST(SimErrors, BadBinariesNameTheStreamAndPc) {
  Program p = test::assembleOrDie(
      ".stream core=1 engine=vec\n nop cycles=1\n nop cycles=2\n end\n");
  std::vector<uint8_t> bin = *encodeProgram(p);
  std::vector<uint8_t> bad = bin;
  size_t inst1 = bin.size() - 2 * kInstBytes;
  bad[inst1] = 0xee;
  Result<Program> d = decodeProgram(bad.data(), bad.size());
  ASSERT_FALSE(d);
  expectHas(d.error(), {"core 1 engine vec pc 1", "bad opcode 0xee"});
  bad = bin;
  bad[inst1 + 40] = 1;
  d = decodeProgram(bad.data(), bad.size());
  ASSERT_FALSE(d);
  expectHas(d.error(), {"pc 1", "bad encoding", "reserved bit"});
  // An `end` missing from the stream.
  Program noEnd = p;
  noEnd.streams[0].insts.pop_back();
  sim::Simulator sim(test::loadTarget("tiny"));
  Result<sim::Report> r = sim.run(noEnd);
  ASSERT_FALSE(r);
  expectHas(r.error(), {"core 1 engine vec", "does not end with `end`"});
}

} // namespace
