//===- SimFuzzTest.cpp - Random and mutated programs never crash or hang --===//
//
// The simulator must turn every input into a report or an error. Random
// programs are built from the opcode table with field values biased towards
// the legal range (so they get deep into the engines), and valid binaries
// are mutated byte by byte. Each run has a small instruction budget, and
// deadlock detection ends every stuck run.
//
//===----------------------------------------------------------------------===//

#include "TestUtil.h"

#include <random>

using namespace nuri;
using namespace nuri::isa;

namespace {

uint64_t pick(std::mt19937_64 &rng, const FieldInfo &fi, uint64_t sramSize) {
  uint64_t mask = fi.bits >= 64 ? ~0ull : (1ull << fi.bits) - 1;
  if (unsigned n = enumCount(fi.kind)) {
    return rng() % (n + (rng() % 50 == 0 ? 2 : 0)); // mostly valid enums
  }
  switch (rng() % 8) {
  case 0:
    return rng() & mask; // anything
  case 1:
    return 0;
  default:
    break;
  }
  switch (fi.field) {
  case Field::Src:
  case Field::Dst:
  case Field::A:
  case Field::B:
  case Field::Src1:
  case Field::Scale:
  case Field::Bias:
  case Field::Obias:
    return (rng() % sramSize) & ~uint64_t(3);
  case Field::Idx0:
  case Field::Idx1:
    // Mostly aligned words in the first pages (zero unless a DMA wrote
    // them), sometimes misaligned.
    return (rng() % 4096) & (rng() % 8 == 0 ? ~uint64_t(0) : ~uint64_t(3));
  case Field::IdxScale0:
  case Field::IdxScale1:
    return rng() % 3 == 0 ? 0 : 1 + rng() % 1024;
  case Field::QScale:
    // fp32 scales in the first pages, sometimes misaligned.
    return (rng() % 4096) & (rng() % 8 == 0 ? ~uint64_t(0) : ~uint64_t(3));
  case Field::QBits:
    // Mostly the two legal widths.
    return rng() % 8 == 0 ? rng() % 16 : (rng() % 2 ? 8 : 4);
  case Field::QGroup:
    return rng() % 8 == 0 ? 0 : 1 + rng() % 256;
  case Field::Sem:
  case Field::Bar:
  case Field::Core:
    return rng() % 4;
  case Field::Times:
    return 1 + rng() % 3;
  case Field::Count:
    return 1 + rng() % 3;
  default:
    return (1 + rng() % 64) & mask;
  }
}

Program randomProgram(std::mt19937_64 &rng, uint64_t sramSize) {
  Program p;
  const auto &table = opcodeTable();
  unsigned cores = 1 + rng() % 2;
  for (unsigned c = 0; c < cores; ++c) {
    for (unsigned e = 0; e < kNumEngines; ++e) {
      // The fetch queue is optional in real programs; given the same odds
      // as the others, its random (mostly failing) DMA instructions would
      // leave too few runs that reach a report.
      bool skip = Engine(e) == Engine::Fetch ? rng() % 4 != 0 : rng() % 4 == 0;
      if (skip) {
        continue;
      }
      Stream &s = p.stream(c, Engine(e));
      unsigned n = rng() % 12;
      for (unsigned i = 0; i < n; ++i) {
        const OpcodeInfo *op;
        do {
          op = &table[rng() % table.size()];
        } while (!engineAccepts(Engine(e), op->opcode) ||
                 op->opcode == Opcode::End);
        Instruction inst(op->opcode);
        for (Field f : op->fields) {
          if (f != Field::QCGroup) {
            inst.set(f, pick(rng, fieldInfo(f), sramSize));
          }
        }
        if (inst.opcode == Opcode::DmaDq) {
          // dma.dq's qcgroup (ISA 1.4) from its qgroup, with no draws of its
          // own (the programs are otherwise those of ISA 1.3): 0 (read as
          // 1), 1, or groups of columns.
          const uint64_t g = inst.get(Field::QGroup);
          inst.set(Field::QCGroup, g % 3 == 0 ? g : g % 3 == 1 ? 1 : g / 2);
        }
        if (inst.opcode == Opcode::DmaCopy || inst.opcode == Opcode::DmaMcast ||
            inst.opcode == Opcode::DmaIdx) {
          // A stride-0 box of 65535 x 65535 rows of 16 MB is legal and
          // copies petabytes functionally: slow, not wrong, and the budget
          // counts instructions, not bytes. Keep a box to 64 MiB (no extra
          // draws, so the programs are otherwise unchanged).
          const uint64_t limit = 1ull << 26;
          uint64_t bytes = std::max<uint64_t>(1, inst.get(Field::Bytes));
          uint64_t rows = std::max<uint64_t>(1, inst.get(Field::Rows));
          if (bytes * rows * inst.get(Field::Planes) > limit) {
            inst.set(Field::Planes, 1);
            if (bytes * rows > limit) {
              inst.set(Field::Rows, std::max<uint64_t>(1, limit / bytes));
            }
          }
        }
        if (inst.opcode == Opcode::Repeat) {
          inst.set(Field::Body, s.insts.empty() ? 0 : rng() % s.insts.size());
          if (s.insts.empty()) {
            continue;
          }
        }
        if (!checkFields(inst).empty()) {
          continue; // an out-of-range enum: the decoder tests cover those
        }
        s.insts.push_back(inst);
      }
      s.insts.push_back(Instruction(Opcode::End));
    }
  }
  return p;
}

TEST(SimFuzz, RandomProgramsEndInAReportOrAnError) {
  target::Target t = test::loadTarget("tiny");
  std::mt19937_64 rng(2024);
  unsigned ok = 0, failed = 0;
  for (int i = 0; i < 3000; ++i) {
    Program p = randomProgram(rng, t.sram.bytesPerCore);
    sim::SimOptions o;
    o.functional = i % 2 == 0;
    o.trace = i % 7 == 0;
    o.maxInstructions = 20000;
    sim::Simulator sim(t, o);
    Result<sim::Report> r = sim.run(p);
    (r ? ok : failed)++;
    if (r) {
      EXPECT_GE(r->cycles.count(), 0u);
    } else {
      EXPECT_FALSE(r.error().empty());
    }
  }
  // Both outcomes must actually occur, or the generator is not exploring.
  EXPECT_GT(ok, 50u);
  EXPECT_GT(failed, 100u);
}

TEST(SimFuzz, MutatedBinariesEndInAReportOrAnError) {
  target::Target t = test::loadTarget("atom");
  std::mt19937_64 rng(99);
  unsigned decoded = 0;
  for (const std::string &file : test::examplePrograms()) {
    if (file.find("bert") != std::string::npos) {
      continue; // large; the small programs mutate faster
    }
    std::vector<uint8_t> bin = *encodeProgram(*assembleFile(file));
    for (int i = 0; i < 500; ++i) {
      std::vector<uint8_t> m = bin;
      unsigned flips = 1 + rng() % 4;
      for (unsigned f = 0; f < flips; ++f) {
        size_t at = rng() % m.size();
        m[at] =
            rng() % 3 ? uint8_t(m[at] ^ (1u << (rng() % 8))) : uint8_t(rng());
      }
      if (rng() % 10 == 0) {
        m.resize(rng() % m.size());
      }
      Result<Program> p = decodeProgram(m.data(), m.size());
      if (!p) {
        continue;
      }
      ++decoded;
      sim::SimOptions o;
      o.functional = i % 2 == 0;
      o.maxInstructions = 100000;
      sim::Simulator sim(t, o);
      Result<sim::Report> r = sim.run(*p);
      if (!r) {
        EXPECT_FALSE(r.error().empty());
      }
    }
  }
  EXPECT_GT(decoded, 100u);
}

} // namespace
