//===- IsaTest.cpp - Encoding, assembler, disassembler, docs --------------===//

#include "TestFiles.h"

#include <gtest/gtest.h>

#include "nuri/isa/IsaDoc.h"

#include <random>
#include <set>

using namespace nuri;
using namespace nuri::isa;

namespace {

/// An instruction with random in-range values in every field of `info`.
Instruction randomInstruction(const OpcodeInfo &info, std::mt19937_64 &rng) {
  Instruction inst(info.opcode);
  for (Field f : info.fields) {
    const FieldInfo &fi = fieldInfo(f);
    uint64_t v;
    if (enumCount(fi.kind)) {
      do {
        v = rng() % 16;
      } while (!enumName(fi.kind, v));
    } else {
      v = fi.bits >= 64 ? rng() : rng() & ((1ull << fi.bits) - 1);
    }
    inst.set(f, v);
  }
  return inst;
}

TEST(Isa, TablesAreConsistent) {
  std::set<uint8_t> values;
  std::set<std::string> names;
  for (const OpcodeInfo &op : opcodeTable()) {
    EXPECT_TRUE(values.insert(op.value).second) << op.mnemonic;
    EXPECT_TRUE(names.insert(op.mnemonic).second) << op.mnemonic;
    EXPECT_NE(op.value, 0)
        << "0x00 must stay invalid so zeroed memory is not code";
    ASSERT_FALSE(op.offsets.empty() && !op.fields.empty());
    if (!op.fields.empty()) {
      unsigned end = op.offsets.back() + fieldInfo(op.fields.back()).bits;
      EXPECT_LE(end, kInstBytes * 8) << op.mnemonic;
    }
  }
}

TEST(Isa, EveryOpcodeRoundTripsThroughEncodingAndText) {
  std::mt19937_64 rng(42);
  for (const OpcodeInfo &op : opcodeTable()) {
    for (int i = 0; i < 50; ++i) {
      Instruction inst = randomInstruction(op, rng);
      Result<EncodedInst> enc = encode(inst);
      ASSERT_TRUE(enc) << enc.error();
      EXPECT_EQ((*enc)[0], op.value);
      Result<Instruction> dec = decode(enc->data());
      ASSERT_TRUE(dec) << dec.error();
      EXPECT_EQ(*dec, inst) << formatInstruction(inst);
      // Text round trip (labels print as numbers outside a program).
      if (op.opcode == Opcode::Repeat) {
        continue;
      }
      std::string text =
          ".stream core=0 engine=" +
          std::string(op.engines == EngineClass::Matrix   ? "mat"
                      : op.engines == EngineClass::Vector ? "vec"
                                                          : "dma") +
          "\n" + formatInstruction(inst) + "\nend\n";
      Result<Program> p = assemble(text);
      ASSERT_TRUE(p) << p.error() << "\n" << text;
      EXPECT_EQ(p->streams[0].insts[0], inst) << text;
    }
  }
}

TEST(Isa, DecodeRejectsBadOpcodeReservedBitsAndBadEnums) {
  EncodedInst bytes{};
  bytes[0] = 0xee;
  Result<Instruction> r = decode(bytes.data());
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().find("bad opcode 0xee"), std::string::npos) << r.error();

  bytes = *encode(Instruction(Opcode::End));
  bytes[63] = 0x80;
  r = decode(bytes.data());
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().find("reserved bit"), std::string::npos) << r.error();

  Instruction mm(Opcode::MatMul);
  mm.set(Field::AType, 3).set(Field::BType, 3);
  bytes = *encode(mm);
  // Find atype's offset and write dtype code 15 (undefined).
  const OpcodeInfo *info = opcodeInfo(Opcode::MatMul);
  for (size_t i = 0; i < info->fields.size(); ++i) {
    if (info->fields[i] == Field::AType) {
      unsigned off = info->offsets[i];
      for (unsigned b = 0; b < 4; ++b) {
        bytes[(off + b) / 8] |= uint8_t(1u << ((off + b) % 8));
      }
    }
  }
  r = decode(bytes.data());
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().find("atype"), std::string::npos) << r.error();
}

TEST(Isa, EncodeAndBuilderRejectFieldsThatDoNotFit) {
  Instruction in(Opcode::SemWait);
  in.set(Field::Sem, 256);
  Result<EncodedInst> e = encode(in);
  ASSERT_FALSE(e);
  EXPECT_NE(e.error().find("sem=256"), std::string::npos) << e.error();

  Instruction stray(Opcode::End);
  stray.set(Field::Rows, 1);
  EXPECT_FALSE(encode(stray));

  ProgramBuilder pb;
  auto q = pb.queue(0, Engine::Vector);
  EXPECT_THROW(q.wait(300), Error);
  EXPECT_THROW(q.mm(0, {}, {}, 1, 1, 1, Dtype::BF16, Dtype::BF16, false),
               Error); // matrix op on the vector queue
}

TEST(Isa, IndexedDmaEncodesAssemblesAndRoundTrips) {
  ProgramBuilder pb;
  auto fetch = pb.queue(1, Engine::Fetch);
  DmaDesc d;
  d.srcSpace = Space::Sram;
  d.dstSpace = Space::Dram;
  d.src = 0x200;
  d.dst = 0x123456789ab;
  d.bytes = 128;
  d.planes = 12;
  d.srcPStride = 128;
  d.dstPStride = 0x8000;
  DmaIndex ix;
  ix.offsetDst = true;
  ix.index0 = 0xfffffffffffc; // the widest address field
  ix.scale0 = 0xffffffff;
  ix.index1 = 0x44;
  ix.scale1 = 128;
  fetch.dmaIndexed(d, ix);
  const Instruction &in = pb.program().streams[0].insts[0];
  EXPECT_EQ(in.opcode, Opcode::DmaIdx);
  EXPECT_EQ(in.get(Field::IdxDst), 1u);
  EXPECT_EQ(in.get(Field::Idx0), 0xfffffffffffcu);
  EXPECT_EQ(in.get(Field::IdxScale0), 0xffffffffu);
  std::string text = formatInstruction(in);
  EXPECT_NE(text.find("dma.idx src_space=sram, dst_space=dram"),
            std::string::npos)
      << text;
  EXPECT_NE(text.find("idx_dst=1, idx0=0xfffffffffffc, idx_scale0=0xffffffff, "
                      "idx1=0x44, idx_scale1=128"),
            std::string::npos)
      << text;
  Result<EncodedInst> bytes = encode(in);
  ASSERT_TRUE(bytes) << bytes.error();
  Result<Instruction> back = decode(bytes->data());
  ASSERT_TRUE(back) << back.error();
  EXPECT_EQ(*back, in);
  // Text -> binary -> text is a fixed point, and the program is legal on
  // both DMA queues and no other.
  Program p = test::assembleOrDie(".stream core=1 engine=fetch\n" + text +
                                  "\nend\n.stream core=0 engine=dma\n" + text +
                                  "\nend\n");
  EXPECT_EQ(p.streams[0].insts[0], in);
  Result<std::vector<uint8_t>> bin = encodeProgram(p);
  ASSERT_TRUE(bin) << bin.error();
  Result<Program> decoded = decodeProgram(bin->data(), bin->size());
  ASSERT_TRUE(decoded) << decoded.error();
  EXPECT_EQ(disassemble(*decoded), disassemble(p));
  EXPECT_FALSE(engineAccepts(Engine::Vector, Opcode::DmaIdx));
  EXPECT_FALSE(assemble(".stream core=0 engine=vec\n" + text + "\nend\n"));
  // A reserved bit after the last field is refused by the decoder.
  EncodedInst dirty = *bytes;
  dirty[(445 + 32) / 8] |= 0x80;
  EXPECT_FALSE(decode(dirty.data()));
  // Naming no index at all is a plain dma.copy: the builder refuses it.
  EXPECT_THROW(fetch.dmaIndexed(d, DmaIndex{}), Error);
}

TEST(Isa, BuilderMulticastValidatesMaskAndSpaces) {
  ProgramBuilder pb;
  auto dma = pb.queue(2, Engine::Dma);
  DmaDesc d;
  d.srcSpace = Space::Shared;
  d.src = 0x40;
  d.dst = 0x100;
  d.bytes = 64;
  d.rows = 3;
  d.srcStride = 128;
  d.dstStride = 64;
  dma.dmaMcast(d, 0x80000005u);
  const Instruction &in = pb.program().streams[0].insts[0];
  EXPECT_EQ(in.opcode, Opcode::DmaMcast);
  EXPECT_EQ(in.get(Field::Cores), 0x80000005u);
  EXPECT_EQ(in.get(Field::SrcSpace), uint64_t(Space::Shared));
  EXPECT_EQ(in.get(Field::SrcStride), 128u);
  EXPECT_EQ(formatInstruction(in),
            "dma.mcast src_space=shared, cores=0x80000005, src=0x40, "
            "dst=0x100, bytes=64, rows=3, planes=1, src_stride=128, "
            "dst_stride=64, src_pstride=0, dst_pstride=0, core=0");

  auto expectThrow = [&](auto &&fn, const char *needle) {
    try {
      fn();
      ADD_FAILURE() << "no error, expected: " << needle;
    } catch (const Error &e) {
      std::string msg = e.what();
      EXPECT_NE(msg.find(needle), std::string::npos) << msg;
      EXPECT_NE(msg.find("core 2 engine dma pc 1"), std::string::npos) << msg;
    }
  };
  expectThrow([&] { dma.dmaMcast(d, 0); }, "empty core mask");
  DmaDesc toShared = d;
  toShared.dstSpace = Space::Shared;
  expectThrow([&] { dma.dmaMcast(toShared, 1); }, "got shared");
  DmaDesc wide = d;
  wide.bytes = 1u << 24;
  expectThrow([&] { dma.dmaMcast(wide, 1); }, "bytes=16777216");
  // Nothing was appended by the failed calls.
  EXPECT_EQ(dma.pc(), 1u);
  // The raw path checks the mask width like any other field.
  Instruction raw = in;
  raw.set(Field::Cores, 1ull << 32);
  EXPECT_THROW(dma.emit(raw), Error);
  EXPECT_THROW(pb.queue(0, Engine::Vector).dmaMcast(d, 1), Error);
  // A peer source names its core in `core` (a chip without shared SRAM
  // multicasts an intermediate one core keeps for the others).
  DmaDesc peer = d;
  peer.srcSpace = Space::Peer;
  peer.peerCore = 3;
  dma.dmaMcast(peer, 0x6);
  const Instruction &pi = pb.program().streams[0].insts[1];
  EXPECT_EQ(pi.get(Field::SrcSpace), uint64_t(Space::Peer));
  EXPECT_EQ(pi.get(Field::Core), 3u);
}

TEST(Isa, AssemblerReportsFileLineAndReason) {
  struct Case {
    const char *text, *needle;
  } cases[] = {
      {"end\n", "test.nasm:1: instruction before any `.stream`"},
      {".stream core=0 engine=dma\n  frob x=1\n",
       "test.nasm:2: unknown instruction `frob`"},
      {".stream core=0 engine=dma\n  sem.wait sem=1, rows=2\n",
       "has no field `rows`"},
      {".stream core=0 engine=dma\n  sem.wait sem=999\n", "does not fit"},
      {".stream core=0 engine=dma\n  sem.wait sem=X\n", "unknown value `X`"},
      {".stream core=0 engine=vec\n  vec.fill dtype=q7\n", "not a valid dtype"},
      {".stream core=0 engine=dma\n  repeat body=nowhere, times=2\n  end\n",
       "unknown label `nowhere`"},
      {".stream core=0 engine=dma\n  mat.mm m=1\n  end\n",
       "not legal on the dma queue"},
      {".stream core=0 engine=dma\n  sem.wait sem=1\n",
       "does not end with `end`"},
      {".stream core=0 engine=gpu\n", "unknown engine"},
      {".stream core=0 engine=dma\nend\n.stream core=0 engine=dma\nend\n",
       "opened twice"},
      {".stream core=0 engine=dma\n  sem.wait sem=1 sem=2\n", "given twice"},
      {".equ A, 5\n.equ A, 6\n", "redefined"},
      {".stream core=0 engine=dma\n  nop cycles=3-5\n", "negative"},
  };
  for (const Case &c : cases) {
    Result<Program> p = assemble(c.text, "test.nasm");
    ASSERT_FALSE(p) << c.text;
    EXPECT_NE(p.error().find(c.needle), std::string::npos)
        << "got: " << p.error() << "\nwanted: " << c.needle;
  }
}

TEST(Isa, LabelsEquAndExpressions) {
  Program p = test::assembleOrDie(R"(
    .equ BASE, 0x1000
    .equ OFF, 64
    .stream core=1 engine=dma   # comment
    top:  nop cycles=BASE + OFF - 4   ; another comment
      nop cycles=1_000
    inner: nop cycles=0b101 // and another
      repeat body=inner, times=3
      repeat body=top, times=2
      end
  )");
  ASSERT_EQ(p.streams.size(), 1u);
  const Stream &s = p.streams[0];
  EXPECT_EQ(s.core, 1u);
  EXPECT_EQ(s.insts[0].get(Field::Cycles), 0x1000u + 64 - 4);
  EXPECT_EQ(s.insts[1].get(Field::Cycles), 1000u);
  EXPECT_EQ(s.insts[2].get(Field::Cycles), 5u);
  EXPECT_EQ(s.insts[3].get(Field::Body), 2u);
  EXPECT_EQ(s.insts[4].get(Field::Body), 0u);
  std::string dis = disassemble(p);
  EXPECT_NE(dis.find("L2:"), std::string::npos) << dis;
  EXPECT_NE(dis.find("body=L0"), std::string::npos) << dis;
}

TEST(Isa, FloatImmediatesRoundTripExactly) {
  for (float f : {0.0f, -0.0f, 1e-12f, 0.125f, 3.4028235e38f, 1.17549435e-38f,
                  1e-45f, 0.1f, -2.5f}) {
    Instruction in(Opcode::VecFill);
    in.set(Field::DType, uint64_t(Dtype::F32)).setImm(f);
    Program p = test::assembleOrDie(".stream core=0 engine=vec\n" +
                                    formatInstruction(in) + "\nend\n");
    EXPECT_EQ(p.streams[0].insts[0].get(Field::Imm), in.get(Field::Imm))
        << formatInstruction(in);
  }
  Instruction nan(Opcode::VecFill);
  nan.set(Field::Imm, 0x7fc00001u);
  Program p = test::assembleOrDie(".stream core=0 engine=vec\n" +
                                  formatInstruction(nan) + "\nend\n");
  EXPECT_EQ(p.streams[0].insts[0].get(Field::Imm), 0x7fc00001u);
}

TEST(Isa, ExampleProgramsRoundTripByteForByte) {
  std::vector<std::string> files = test::examplePrograms();
  ASSERT_GE(files.size(), 5u);
  for (const std::string &f : files) {
    Result<Program> p1 = assembleFile(f);
    ASSERT_TRUE(p1) << p1.error();
    Result<std::vector<uint8_t>> bin1 = encodeProgram(*p1);
    ASSERT_TRUE(bin1) << bin1.error();
    Result<Program> decoded = decodeProgram(bin1->data(), bin1->size());
    ASSERT_TRUE(decoded) << decoded.error();
    std::string text = disassemble(*decoded);
    Result<Program> p2 = assemble(text, f + ".disasm");
    ASSERT_TRUE(p2) << p2.error();
    Result<std::vector<uint8_t>> bin2 = encodeProgram(*p2);
    ASSERT_TRUE(bin2);
    EXPECT_EQ(*bin1, *bin2) << f;
    // And the disassembly is a fixed point.
    EXPECT_EQ(disassemble(*p2), text) << f;
  }
}

TEST(Isa, ProgramFilesAreValidatedBeforeUse) {
  Program p =
      test::assembleOrDie(".stream core=0 engine=dma\n nop cycles=1\n end\n");
  std::vector<uint8_t> bin = *encodeProgram(p);
  EXPECT_TRUE(decodeProgram(bin.data(), bin.size()));
  // Every truncation fails cleanly.
  for (size_t n = 0; n < bin.size(); ++n) {
    EXPECT_FALSE(decodeProgram(bin.data(), n)) << n;
  }
  std::vector<uint8_t> bad = bin;
  bad[0] = 'X';
  EXPECT_NE(decodeProgram(bad.data(), bad.size()).error().find("magic"),
            std::string::npos);
  bad = bin;
  bad[8] = 9; // major version
  EXPECT_NE(decodeProgram(bad.data(), bad.size()).error().find("version"),
            std::string::npos);
  bad = bin;
  bad[12] = 0xff; // stream count
  bad[13] = 0xff;
  EXPECT_FALSE(decodeProgram(bad.data(), bad.size()));
  bad = bin;
  bad[16 + 8] = 0xf0; // stream offset
  EXPECT_NE(decodeProgram(bad.data(), bad.size()).error().find("past the end"),
            std::string::npos);
}

TEST(Isa, FetchQueueTakesExactlyTheDmaQueuesOpcodes) {
  unsigned dmaOps = 0;
  for (const OpcodeInfo &op : opcodeTable()) {
    EXPECT_EQ(engineAccepts(Engine::Fetch, op.opcode),
              engineAccepts(Engine::Dma, op.opcode))
        << op.mnemonic;
    dmaOps += op.engines == EngineClass::Dma;
  }
  EXPECT_GE(dmaOps, 2u); // dma.copy and dma.mcast
  EXPECT_TRUE(engineAccepts(Engine::Fetch, Opcode::DmaMcast));
  EXPECT_TRUE(engineAccepts(Engine::Fetch, Opcode::SemSignal));
  EXPECT_FALSE(engineAccepts(Engine::Fetch, Opcode::MatMul));
  EXPECT_FALSE(engineAccepts(Engine::Fetch, Opcode::VecFill));
  EXPECT_EQ(engineClass(Engine::Fetch), EngineClass::Dma);
  Engine e;
  ASSERT_TRUE(parseEngine("fetch", e));
  EXPECT_EQ(e, Engine::Fetch);
  EXPECT_STREQ(engineName(Engine::Fetch), "fetch");
}

TEST(Isa, FetchStreamRoundTripsThroughTextAndBinary) {
  const char *text = R"(
    .stream core=0 engine=dma
      dma.copy src_space=dram, dst_space=sram, src=0x2000, dst=0x0, bytes=64, rows=1, planes=1
      end
    .stream core=0 engine=fetch
    top:
      dma.copy src_space=dram, dst_space=sram, src=0x1000, dst=0x400, bytes=256, rows=4, planes=1, src_stride=256, dst_stride=256
      dma.mcast src_space=dram, cores=3, src=0x8000, dst=0x800, bytes=32, rows=1, planes=1
      sem.signal sem=1, core=0, count=1
      repeat body=top, times=2
      barrier bar=0, count=2
      end
  )";
  Program p = test::assembleOrDie(text);
  const Stream *f = p.find(0, Engine::Fetch);
  ASSERT_NE(f, nullptr);
  ASSERT_EQ(f->insts.size(), 6u);
  EXPECT_EQ(f->insts[0].opcode, Opcode::DmaCopy);
  EXPECT_EQ(f->insts[0].get(Field::Src), 0x1000u);

  std::string dis = disassemble(p);
  EXPECT_NE(dis.find("engine=fetch"), std::string::npos) << dis;
  Program back = test::assembleOrDie(dis);
  ASSERT_NE(back.find(0, Engine::Fetch), nullptr);
  EXPECT_EQ(back.find(0, Engine::Fetch)->insts, f->insts);
  EXPECT_EQ(disassemble(back), dis);

  std::vector<uint8_t> bin = *encodeProgram(p);
  // Stream table entries are 16 bytes after the 16-byte header; the engine
  // code sits at byte 2 of an entry, and fetch is the fourth engine.
  EXPECT_EQ(bin[16 + 16 + 2], 3u);
  Result<Program> dec = decodeProgram(bin.data(), bin.size());
  ASSERT_TRUE(dec) << dec.error();
  ASSERT_NE(dec->find(0, Engine::Fetch), nullptr);
  EXPECT_EQ(dec->find(0, Engine::Fetch)->insts, f->insts);
  // One past the last engine is still rejected.
  bin[16 + 16 + 2] = uint8_t(kNumEngines);
  Result<Program> bad = decodeProgram(bin.data(), bin.size());
  ASSERT_FALSE(bad);
  EXPECT_NE(bad.error().find("bad engine 4"), std::string::npos) << bad.error();
}

TEST(Isa, ComputeOpcodesAreIllegalOnTheFetchQueue) {
  Result<Program> p = assemble(".stream core=0 engine=fetch\n"
                               "  mat.mm m=1, n=1, k=1\n  end\n",
                               "test.nasm");
  ASSERT_FALSE(p);
  EXPECT_NE(p.error().find("mat.mm is not legal on the fetch queue"),
            std::string::npos)
      << p.error();

  ProgramBuilder pb;
  auto fetch = pb.queue(0, Engine::Fetch);
  try {
    fetch.mm(0, {0, 2}, {0, 2}, 1, 1, 1, Dtype::BF16, Dtype::BF16, false);
    ADD_FAILURE() << "mat.mm accepted on the fetch queue";
  } catch (const Error &e) {
    EXPECT_NE(std::string(e.what()).find("not legal on the fetch queue"),
              std::string::npos)
        << e.what();
  }
  EXPECT_THROW(fetch.fill({0, 4}, 1.0f, 1, 1, Dtype::F32), Error);
  // What a DMA queue takes, the fetch queue takes too.
  fetch.load({0x1000, 64}, {0x0, 64}, 2, 64).signal(0).barrier(0, 1);
  DmaDesc d;
  d.srcSpace = Space::Dram;
  d.bytes = 16;
  fetch.dmaMcast(d, 0b1);
  Program prog = pb.finish();
  EXPECT_EQ(prog.find(0, Engine::Fetch)->insts.size(), 5u);

  // A hand-made stream that smuggles mat.mm onto the queue fails
  // verification, so the binary writer refuses it too.
  Program raw;
  raw.stream(0, Engine::Fetch).insts = {Instruction(Opcode::MatMul)
                                            .set(Field::M, 1)
                                            .set(Field::N, 1)
                                            .set(Field::K, 1),
                                        Instruction(Opcode::End)};
  std::string err = verifyProgram(raw);
  EXPECT_NE(err.find("not legal on the fetch queue"), std::string::npos) << err;
  EXPECT_FALSE(encodeProgram(raw));
}

TEST(Isa, DocsAgreeWithIsaDef) {
  std::string doc =
      test::readFile(std::string(NURI_SOURCE_DIR) + "/docs/isa.md");
  size_t b = doc.find(kIsaDocBegin), e = doc.find(kIsaDocEnd);
  ASSERT_NE(b, std::string::npos) << "docs/isa.md lacks " << kIsaDocBegin;
  ASSERT_NE(e, std::string::npos);
  b += std::string(kIsaDocBegin).size();
  std::string section = doc.substr(b, e - b);
  // Trim the newline after the BEGIN marker.
  while (!section.empty() && section.front() == '\n') {
    section.erase(0, 1);
  }
  EXPECT_EQ(section, renderIsaReference())
      << "docs/isa.md is stale: regenerate the section with `nuri isa`";
}

} // namespace
