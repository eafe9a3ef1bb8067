//===- FamilyTest.cpp - Program families: format, checks and runtime ------===//
//
// A generation package is a family of programs that share one weight blob
// and one set of state buffers (docs/package-format.md, sections 10 and
// 11). These tests build small CPU families with PackageBuilder, refuse
// each family rule with its message, and run programs of one family over
// one shared state.
//
//===----------------------------------------------------------------------===//

#include "TestPackages.h"

#include "nuri/runtime.h"
#include "nuri/runtime.hpp"

#include <gtest/gtest.h>

#include <optional>
#include <thread>

using namespace nuri;
using namespace nuri::package;
using test::FamilyModel;

namespace {

std::string refused(const Result<std::vector<uint8_t>> &r) {
  return r ? std::string("<accepted>") : r.error();
}

#define EXPECT_REFUSED(result, text)                                           \
  do {                                                                         \
    std::string message = refused(result);                                     \
    EXPECT_NE(message.find(text), std::string::npos) << message;               \
  } while (0)

/// The table entry of the `n`th section of `kind` (0-based).
uint8_t *sectionEntry(std::vector<uint8_t> &file, SectionKind kind, int n = 0) {
  uint32_t count;
  std::memcpy(&count, file.data() + 32, 4);
  for (uint32_t i = 0; i < count; ++i) {
    uint8_t *e = file.data() + kHeaderBytes + i * kSectionEntryBytes;
    uint32_t k;
    std::memcpy(&k, e, 4);
    if (k == static_cast<uint32_t>(kind) && n-- == 0) {
      return e;
    }
  }
  return nullptr;
}

void setKind(uint8_t *entry, uint32_t kind) { std::memcpy(entry, &kind, 4); }

std::string readError(std::vector<uint8_t> file) {
  test::reseal(file);
  Result<Package> r = readPackage(file.data(), file.size());
  return r ? std::string("<accepted>") : r.error();
}

} // namespace

//===----------------------------------------------------------------------===//
// The format
//===----------------------------------------------------------------------===//

TEST(Family, RoundTrip) {
  FamilyModel m;
  std::vector<uint8_t> file = m.build();
  Result<Package> p = readPackage(file.data(), file.size());
  ASSERT_TRUE(p) << p.error();
  EXPECT_EQ(p->versionMinor, 2);
  ASSERT_TRUE(p->isFamily());
  EXPECT_EQ(p->generation.slots, 2u);
  EXPECT_EQ(p->generation.maxSeq, 8u);
  // A family has no values, partitions or states of its own.
  EXPECT_TRUE(p->values.empty());
  EXPECT_TRUE(p->partitions.empty());
  EXPECT_TRUE(p->states.empty());
  EXPECT_FALSE(p->hasNpuPartitions());
  // The constant is stored once, in the family's weights, and every
  // program reads it there.
  EXPECT_EQ(p->weightBytes, m.weights.size());
  ASSERT_EQ(p->programs.size(), 2u);
  const ProgramDesc &a = p->programs[0], &b = p->programs[1];
  EXPECT_EQ(a.name, "prefill");
  EXPECT_EQ(a.kind, ProgramKind::Prefill);
  EXPECT_EQ(a.batch, 1u);
  EXPECT_EQ(a.tokens, 2u);
  EXPECT_EQ(a.context, 2u);
  EXPECT_EQ(b.name, "decode");
  EXPECT_EQ(b.kind, ProgramKind::Decode);
  EXPECT_EQ(b.tokens, 1u);
  EXPECT_EQ(b.context, 4u);
  for (const ProgramDesc &prog : p->programs) {
    EXPECT_EQ(prog.package->weights, p->weights) << prog.name;
    EXPECT_EQ(prog.package->weightBytes, p->weightBytes) << prog.name;
    EXPECT_EQ(prog.package->versionMinor, 1) << prog.name;
    EXPECT_EQ(prog.package->partitions.size(), 1u);
  }
  EXPECT_EQ(p->findProgram("decode"), &p->programs[1]);
  EXPECT_EQ(p->findProgram("nope"), nullptr);
  ASSERT_EQ(p->sessionStates().size(), 1u);
  EXPECT_EQ(p->sessionStates()[0].name, "acc");
  EXPECT_EQ(b.package->values[b.package->states[0].input].name, "cache_in");
  // The weights section of the file is the constant, once: the programs'
  // own weights sections are empty.
  size_t weightsSections = 0;
  for (int n = 0; uint8_t *e = sectionEntry(file, SectionKind::Weights, n);
       ++n) {
    uint64_t size;
    std::memcpy(&size, e + 16, 8);
    EXPECT_EQ(size, m.weights.size());
    ++weightsSections;
  }
  EXPECT_EQ(weightsSections, 1u);

  std::string text = describePackage(*p, file.data(), file.size());
  for (const char *want :
       {"format 1.2", "generation: 2 slots, max_seq 8\n", "programs (2):\n",
        "  'prefill': prefill, batch 1, tokens 2, context 2, 1 partitions (0 "
        "npu)\n    inputs:\n      x: [2,3] f32\n    outputs:\n      y: [2,3] "
        "f32\n    states:\n      acc: [2,3] f32 zeros, 'acc' -> 'acc_next' "
        "in place\n",
        "  'decode': decode, batch 1, tokens 1, context 4",
        "      t: [2,3] f32\n", "0: cpu 'main', 3 ops",
        "program      offset"}) {
    EXPECT_NE(text.find(want), std::string::npos) << want << "\n" << text;
  }
  // Plain packages are still written as format 1.1.
  std::vector<uint8_t> plain = test::CpuModel().build();
  Result<Package> q = readPackage(plain.data(), plain.size());
  ASSERT_TRUE(q);
  EXPECT_EQ(q->versionMinor, 1);
  EXPECT_FALSE(q->isFamily());
}

TEST(Family, WriteMatchesBuild) {
  FamilyModel m;
  PackageBuilder b;
  b.setProducer("test");
  b.setWeights(m.weights);
  b.addProgram(m.prefill());
  b.addProgram(m.decode());
  b.setGeneration({2, 8});
  std::string path = ::testing::TempDir() + "/family.nuri";
  ASSERT_TRUE(b.write(path));
  Result<std::shared_ptr<const PackageFile>> f = PackageFile::open(path);
  ASSERT_TRUE(f) << f.error();
  std::vector<uint8_t> built = b.build().value();
  ASSERT_EQ((*f)->size(), built.size());
  EXPECT_EQ(std::memcmp((*f)->data(), built.data(), built.size()), 0);
  std::remove(path.c_str());
}

TEST(Family, ProgramImagesUseTheFamilyWeights) {
  FamilyModel m;
  std::vector<uint8_t> image = m.prefill().image;
  // Alone, a program image has no weights: its constant lies outside them.
  Result<Package> alone = readPackage(image.data(), image.size());
  ASSERT_FALSE(alone);
  EXPECT_NE(alone.error().find("lies outside the weight section"),
            std::string::npos)
      << alone.error();
  ReadOptions o;
  o.externalWeights = m.weights.data();
  o.externalWeightBytes = m.weights.size();
  Result<Package> p = readPackage(image.data(), image.size(), o);
  ASSERT_TRUE(p) << p.error();
  EXPECT_EQ(p->weights, m.weights.data());
  // A program builder appends nothing to weights of its own.
  PackageBuilder b;
  b.setExternalWeights(m.weights.data(), m.weights.size());
  float c = 1;
  b.appendWeights(&c, 4);
  b.addCpuPartition(FamilyModel::accumulateGraph("x", "a", "b", "y", false));
  EXPECT_REFUSED(b.build(), "has no weights of its own");
}

TEST(Family, EachRuleIsRefusedWithItsMessage) {
  FamilyModel m;
  auto with = [&](FamilyModel::ProgramSpec p, auto change) {
    change(p);
    return p;
  };
  EXPECT_REFUSED(
      m.build({with(m.prefill(),
                    [](auto &p) { p.kind = static_cast<ProgramKind>(7); })}),
      "program 'prefill': kind 7 is neither prefill (0) nor decode (1)");
  EXPECT_REFUSED(m.build({with(m.prefill(), [](auto &p) { p.batch = 0; })}),
                 "program 'prefill': batch must be at least 1");
  EXPECT_REFUSED(m.build({with(m.decode(), [](auto &p) { p.tokens = 0; })}),
                 "program 'decode': tokens must be at least 1");
  EXPECT_REFUSED(m.build({with(m.prefill(), [](auto &p) { p.tokens = 3; })}),
                 "program 'prefill': tokens 3 exceed its context 2");
  EXPECT_REFUSED(m.build({with(m.decode(), [](auto &p) { p.context = 9; })}),
                 "program 'decode': context 9 exceeds the generation's "
                 "max_seq 8");
  EXPECT_REFUSED(m.build({with(m.decode(), [](auto &p) { p.batch = 3; })}),
                 "program 'decode': batch 3 exceeds the generation's slots 2");
  EXPECT_REFUSED(m.build({m.prefill(), m.decode()}, {0, 8}),
                 "generation section: slots 0 and max_seq 8 must be at least "
                 "1");
  EXPECT_REFUSED(m.build({m.prefill(), m.prefill()}),
                 "empty or repeated name 'prefill'");
  EXPECT_REFUSED(m.build({with(m.prefill(), [](auto &p) { p.name = ""; })}),
                 "empty or repeated name ''");

  // The programs share their state buffers: same names, types, initial
  // values.
  using G = FamilyModel;
  auto decodeWith = [&](FamilyModel::StateSpec st,
                        std::vector<int64_t> shape = {2, 3}) {
    FamilyModel::ProgramSpec p = m.decode();
    p.image = m.image(G::accumulateGraph("t", "cache_in", "cache_out", "logits",
                                         false, shape),
                      st);
    return p;
  };
  FamilyModel::StateSpec other = G::accState("cache_in", "cache_out", false);
  other.name = "kv";
  EXPECT_REFUSED(m.build({m.prefill(), decodeWith(other)}),
                 "program 'decode': does not declare the state buffer 'acc' "
                 "of program 'prefill'");
  EXPECT_REFUSED(
      m.build({m.prefill(),
               decodeWith(G::accState("cache_in", "cache_out", false, {1, 3}),
                          {1, 3})}),
      "program 'decode': state 'acc' is [1,3] f32 here but [2,3] f32 in "
      "program 'prefill'");
  EXPECT_REFUSED(
      m.build({m.prefill(), decodeWith(G::accState("cache_in", "cache_out",
                                                   false, {2, 3}, 0))}),
      "program 'decode': state 'acc' has init offset 0 here but -1 in "
      "program 'prefill'");
  {
    // A program with a state the first one lacks.
    PackageBuilder b;
    b.setExternalWeights(m.weights.data(), m.weights.size());
    b.addCpuPartition(
        G::accumulateGraph("t", "cache_in", "cache_out", "logits", false));
    b.addState(G::accState("cache_in", "cache_out", false));
    graph::Graph g2 = G::accumulateGraph("u", "s_in", "s_out", "z", false);
    b.addCpuPartition(g2, "second");
    FamilyModel::StateSpec extra = G::accState("s_in", "s_out", false);
    extra.name = "extra";
    b.addState(extra);
    FamilyModel::ProgramSpec p = m.decode();
    p.image = b.build().value();
    EXPECT_REFUSED(m.build({m.prefill(), p}),
                   "program 'decode': state 'extra' is not declared by "
                   "program 'prefill'");
  }

  // Errors inside a program's image name the program.
  {
    FamilyModel::ProgramSpec p = m.prefill();
    p.image = m.image(G::accumulateGraph("x", "acc", "acc_next", "y", true),
                      G::accState("acc", "acc_next", true), true);
    EXPECT_REFUSED(m.build({p}),
                   "program 'prefill': weights section: a program image has "
                   "36 bytes of weights of its own");
  }
  {
    FamilyModel::ProgramSpec p = m.prefill();
    p.name = "nested";
    p.image = m.build();
    EXPECT_REFUSED(m.build({p}), "program 'nested': a program image has "
                                 "program or generation sections of its own");
  }
  {
    FamilyModel::ProgramSpec p = m.prefill();
    p.image[20] ^= 1; // the nested image's file size
    EXPECT_REFUSED(m.build({p}), "program 'prefill': header");
  }
}

TEST(Family, BuilderRefusesMixedFamilies) {
  FamilyModel m;
  {
    PackageBuilder b;
    b.setWeights(m.weights);
    b.addProgram(m.prefill());
    EXPECT_REFUSED(b.build(), "needs setGeneration");
  }
  {
    PackageBuilder b;
    b.setWeights(m.weights);
    b.setGeneration({1, 1});
    EXPECT_REFUSED(b.build(), "setGeneration without any addProgram");
  }
  {
    PackageBuilder b;
    b.setWeights(m.weights);
    b.addProgram(m.prefill());
    b.setGeneration({2, 8});
    b.addCpuPartition(test::CpuModel().graph);
    EXPECT_REFUSED(b.build(), "a program family has no partitions");
  }
}

TEST(Family, ReaderRefusesBrokenStructure) {
  std::vector<uint8_t> file = FamilyModel().build();
  {
    std::vector<uint8_t> bad = file;
    setKind(sectionEntry(bad, SectionKind::Generation), 99); // unknown kind
    EXPECT_NE(readError(bad).find("a package with program sections needs a "
                                  "generation section"),
              std::string::npos)
        << readError(bad);
  }
  {
    std::vector<uint8_t> bad = file;
    setKind(sectionEntry(bad, SectionKind::Program, 0), 99);
    setKind(sectionEntry(bad, SectionKind::Program, 0), 99);
    EXPECT_NE(
        readError(bad).find("a generation section without program sections"),
        std::string::npos)
        << readError(bad);
  }
  {
    std::vector<uint8_t> bad = file;
    setKind(sectionEntry(bad, SectionKind::Program, 1),
            uint32_t(SectionKind::Values));
    EXPECT_NE(readError(bad).find("(values): a program family has no values, "
                                  "partitions or states of its own"),
              std::string::npos)
        << readError(bad);
  }
  {
    // The header area of a program is zero-padded.
    std::vector<uint8_t> bad = file;
    uint64_t offset;
    std::memcpy(&offset, sectionEntry(bad, SectionKind::Program) + 8, 8);
    bad[offset + 40] = 1;
    EXPECT_NE(readError(bad).find("program 'prefill': header padding byte 40 "
                                  "is not zero"),
              std::string::npos)
        << readError(bad);
  }
}

TEST(Family, NpuProgramsShareTheFamilyTarget) {
  std::string atom =
      test::readText(NURI_SOURCE_DIR "/backends/configs/atom.yaml");
  auto family = [&](const std::string &name, const std::string &yaml) {
    PackageBuilder b;
    b.setProducer("test");
    if (!yaml.empty()) {
      b.setTarget(name, yaml);
    }
    b.addProgram({"softmax", ProgramKind::Prefill, 1, 128, 128,
                  test::buildSoftmaxPackage(true, 0, true)});
    b.setGeneration({1, 128});
    return b.build();
  };
  EXPECT_REFUSED(family("cpu", ""),
                 "program 'softmax': target section: the program has a "
                 "target config but the family has none");
  EXPECT_REFUSED(family("atom", atom + "\n# another config\n"),
                 "program 'softmax': target section: the program's target "
                 "config differs from the family's");
  EXPECT_REFUSED(family("rngd", atom),
                 "program 'softmax': meta section: target 'atom' is not the "
                 "family's target 'rngd'");
  Result<std::vector<uint8_t>> ok = family("atom", atom);
  ASSERT_TRUE(ok) << ok.error();
  Result<Package> p = readPackage(ok->data(), ok->size());
  ASSERT_TRUE(p) << p.error();
  EXPECT_TRUE(p->hasNpuPartitions());
  // The target is parsed once, for the family, and shared by its programs.
  EXPECT_EQ(p->programs[0].package->target, p->target);
}

//===----------------------------------------------------------------------===//
// The runtime
//===----------------------------------------------------------------------===//

namespace {

/// A family of one atom program (a softmax with CPU partitions around it);
/// timing-only with an absent blob of `absentWeights` bytes.
std::vector<uint8_t>
atomSoftmaxFamily(std::optional<uint64_t> absentWeights = std::nullopt) {
  PackageBuilder b;
  b.setProducer("test");
  b.setTarget("atom",
              test::readText(NURI_SOURCE_DIR "/backends/configs/atom.yaml"));
  b.addProgram({"softmax", ProgramKind::Prefill, 1, 128, 128,
                test::buildSoftmaxPackage(true, 0, true)});
  b.setGeneration({1, 128});
  if (absentWeights) {
    b.setAbsentWeights(*absentWeights);
  }
  return b.build().value();
}

/// Executes `run`; a build without the CPU kernels cannot, and says why
/// (the test skips), other errors throw.
std::string executeUnlessNoCpuKernels(nuri::Run &run) {
  try {
    run.execute();
  } catch (const nuri::Exception &e) {
    if (std::string(e.what()).find("built without the CPU kernels") !=
        std::string::npos) {
      return e.what();
    }
    throw;
  }
  return "";
}

} // namespace

TEST(FamilyRuntime, TimingOnlyFamilyRunsOnlyTimingOnlyOnSim) {
  // A family compiled without weight data (`nuri compile --timing-only`):
  // format 1.3, its programs timing-only with it, and a session only on sim
  // with timing_only, where it runs without data.
  std::vector<uint8_t> bytes = atomSoftmaxFamily(4096);
  Result<Package> p = readPackage(bytes.data(), bytes.size());
  ASSERT_TRUE(p) << p.error();
  EXPECT_EQ(p->versionMinor, kVersionMinor);
  EXPECT_TRUE(p->timingOnly);
  EXPECT_EQ(p->absentWeightBytes, 4096u);
  EXPECT_TRUE(p->programs[0].package->timingOnly);
  Model model = Model::loadMemory(bytes.data(), bytes.size());
  EXPECT_TRUE(model.timingOnly());
  for (auto [device, timing] : {std::pair<const char *, bool>{"auto", false},
                                {"sim", false},
                                {"cpu", true}}) {
    SessionOptions o;
    o.timingOnly = timing;
    try {
      Session refused(model, device, o);
      ADD_FAILURE() << device << " opened a session";
    } catch (const nuri::Exception &e) {
      EXPECT_EQ(e.code(), NURI_UNSUPPORTED);
      EXPECT_NE(std::string(e.what()).find("timing-only"), std::string::npos)
          << e.what();
    }
  }
  SessionOptions o;
  o.timingOnly = true;
  Session session(model, "sim", o);
  std::vector<float> x(128 * 512, 1.0f);
  nuri::Run run = session.newRun("softmax");
  run.bindInput("x", TensorRef::of(x.data(), {128, 512}));
  if (std::string why = executeUnlessNoCpuKernels(run); !why.empty()) {
    GTEST_SKIP() << why;
  }
  EXPECT_GT(run.counters().get("cycles"), 0);
  EXPECT_EQ(run.counters().get("device_weight_bytes_written"), 0);
}

TEST(FamilyRuntime, CApiDescribesTheFamily) {
  std::vector<uint8_t> bytes = FamilyModel().build();
  nuri_model *model = nullptr;
  ASSERT_EQ(nuri_model_load_memory(bytes.data(), bytes.size(), nullptr, &model),
            nullptr);
  EXPECT_EQ(nuri_model_input_count(model), 0u);
  EXPECT_EQ(nuri_model_output_count(model), 0u);
  EXPECT_EQ(nuri_model_state_count(model), 1u);
  nuri_tensor_info st;
  ASSERT_EQ(nuri_model_state_info(model, 0, &st), nullptr);
  EXPECT_STREQ(st.name, "acc");
  EXPECT_EQ(st.byte_size, 24u);
  ASSERT_EQ(nuri_model_program_count(model), 2u);
  nuri_program_info info;
  ASSERT_EQ(nuri_model_program_info(model, 1, &info), nullptr);
  EXPECT_STREQ(info.name, "decode");
  EXPECT_EQ(info.kind, NURI_PROGRAM_DECODE);
  EXPECT_EQ(info.batch, 1u);
  EXPECT_EQ(info.tokens, 1u);
  EXPECT_EQ(info.context, 4u);
  EXPECT_EQ(info.input_count, 1u);
  EXPECT_EQ(info.output_count, 1u);
  nuri_tensor_info io;
  ASSERT_EQ(nuri_model_program_input_info(model, 1, 0, &io), nullptr);
  EXPECT_STREQ(io.name, "t");
  ASSERT_EQ(nuri_model_program_output_info(model, 0, 0, &io), nullptr);
  EXPECT_STREQ(io.name, "y");
  nuri_status s = nuri_model_program_info(model, 2, &info);
  EXPECT_EQ(nuri_status_get_code(s), NURI_INVALID_ARGUMENT);
  nuri_status_release(s);
  s = nuri_model_program_input_info(model, 0, 1, &io);
  EXPECT_EQ(nuri_status_get_code(s), NURI_INVALID_ARGUMENT);
  EXPECT_NE(std::string(nuri_status_message(s)).find("program 'prefill'"),
            std::string::npos);
  nuri_status_release(s);
  nuri_generation_info gen;
  ASSERT_EQ(nuri_model_generation_info(model, &gen), nullptr);
  EXPECT_EQ(gen.slots, 2u);
  EXPECT_EQ(gen.max_seq, 8u);

  nuri_session *session = nullptr;
  ASSERT_EQ(nuri_session_create(model, nullptr, &session), nullptr);
  EXPECT_STREQ(nuri_session_device(session), "cpu");
  nuri_run *run = nullptr;
  s = nuri_run_create(session, &run);
  EXPECT_EQ(nuri_status_get_code(s), NURI_INVALID_ARGUMENT);
  EXPECT_NE(std::string(nuri_status_message(s))
                .find("nuri_run_create_program: prefill, decode"),
            std::string::npos)
      << nuri_status_message(s);
  nuri_status_release(s);
  s = nuri_run_create_program(session, "verify", &run);
  EXPECT_EQ(nuri_status_get_code(s), NURI_NOT_FOUND);
  EXPECT_NE(std::string(nuri_status_message(s))
                .find("unknown program 'verify'; the model's programs are: "
                      "prefill, decode"),
            std::string::npos)
      << nuri_status_message(s);
  nuri_status_release(s);
  EXPECT_EQ(run, nullptr);
  ASSERT_EQ(nuri_run_create_program(session, "decode", &run), nullptr);
  // The run has the program's I/O.
  int64_t shape[2] = {2, 3};
  float x[6] = {};
  s = nuri_run_bind_input(run, "x", NURI_DTYPE_F32, shape, 2, x, sizeof(x));
  EXPECT_EQ(nuri_status_get_code(s), NURI_NOT_FOUND);
  EXPECT_NE(std::string(nuri_status_message(s))
                .find("the model's inputs are: t [2,3] f32"),
            std::string::npos)
      << nuri_status_message(s);
  nuri_status_release(s);
  nuri_run_release(run);
  nuri_session_release(session);
  nuri_model_release(model);

  // A plain package has no programs.
  std::vector<uint8_t> plain = test::CpuModel().build();
  ASSERT_EQ(nuri_model_load_memory(plain.data(), plain.size(), nullptr, &model),
            nullptr);
  EXPECT_EQ(nuri_model_program_count(model), 0u);
  s = nuri_model_generation_info(model, &gen);
  EXPECT_EQ(nuri_status_get_code(s), NURI_INVALID_ARGUMENT);
  nuri_status_release(s);
  ASSERT_EQ(nuri_session_create(model, nullptr, &session), nullptr);
  s = nuri_run_create_program(session, "main", &run);
  EXPECT_EQ(nuri_status_get_code(s), NURI_INVALID_ARGUMENT);
  nuri_status_release(s);
  nuri_session_release(session);
  nuri_model_release(model);
}

TEST(FamilyRuntime, ProgramsCarryTheSharedStateAcrossRuns) {
  FamilyModel m;
  std::vector<uint8_t> bytes = m.build();
  Model model = Model::loadMemory(bytes.data(), bytes.size());
  ASSERT_TRUE(model.isFamily());
  std::vector<ProgramInfo> programs = model.programs();
  ASSERT_EQ(programs.size(), 2u);
  EXPECT_EQ(programs[0].name, "prefill");
  EXPECT_EQ(programs[0].kind, NURI_PROGRAM_PREFILL);
  ASSERT_EQ(programs[0].inputs.size(), 1u);
  EXPECT_EQ(programs[0].inputs[0].name, "x");
  ASSERT_EQ(programs[1].outputs.size(), 1u);
  EXPECT_EQ(programs[1].outputs[0].name, "logits");
  EXPECT_EQ(model.generation().maxSeq, 8u);
  EXPECT_TRUE(model.inputs().empty());

  Session session(model, "cpu");
  std::vector<float> x = {1, 2, 3, -1, 0, 2};
  std::vector<float> t = {0, 1, 0, 2, -2, 1};
  auto plus = [](std::vector<float> a, const std::vector<float> &b) {
    for (size_t i = 0; i < a.size(); ++i) {
      a[i] += b[i];
    }
    return a;
  };
  auto output = [](const nuri::Run &run, const char *name) {
    const float *p = run.output(name).as<float>();
    return std::vector<float>(p, p + 6);
  };

  nuri::Run prefill = session.newRun("prefill");
  prefill.bindInput("x", TensorRef::of(x.data(), {2, 3}));
  prefill.execute();
  std::vector<float> acc = m.timesW(x); // 0 + x.W, in place
  EXPECT_EQ(session.readState<float>("acc"), acc);
  EXPECT_EQ(output(prefill, "y"), m.timesW(acc));
  EXPECT_EQ(prefill.counters().get("partitions_run"), 1.0);

  // The decode program continues from what prefill left.
  nuri::Run decode = session.newRun("decode");
  decode.bindInput("t", TensorRef::of(t.data(), {2, 3}));
  decode.execute();
  acc = plus(acc, t); // copied back after the run
  EXPECT_EQ(session.readState<float>("acc"), acc);
  EXPECT_EQ(output(decode, "logits"), m.timesW(acc));
  decode.execute();
  acc = plus(acc, t);
  EXPECT_EQ(output(decode, "logits"), m.timesW(acc));
  prefill.execute();
  acc = plus(acc, m.timesW(x));
  EXPECT_EQ(session.readState<float>("acc"), acc);

  // A reset starts every program from zeros again.
  session.resetState();
  decode.execute();
  EXPECT_EQ(output(decode, "logits"), m.timesW(t));
  EXPECT_EQ(session.readState<float>("acc"), t);

  // Another session has its own state.
  Session other(model, "auto");
  EXPECT_EQ(other.device(), "cpu");
  EXPECT_EQ(other.readState<float>("acc"), std::vector<float>(6, 0.0f));

  try {
    session.newRun();
    FAIL() << "a family needs a program name";
  } catch (const nuri::Exception &e) {
    EXPECT_EQ(e.code(), NURI_INVALID_ARGUMENT);
  }
}

TEST(FamilyRuntime, RunsOfDifferentProgramsTakeTurnsOnTheState) {
  FamilyModel m;
  std::vector<uint8_t> bytes = m.build();
  Model model = Model::loadMemory(bytes.data(), bytes.size());
  Session session(model, "cpu");
  std::vector<float> x = {1, 0, 0, 0, 1, 0}; // x.W: rows of W
  std::vector<float> t(6, 1.0f);
  constexpr int kRuns = 40;
  auto worker = [&](const char *program, const char *input,
                    const std::vector<float> &data) {
    nuri::Run run = session.newRun(program);
    run.bindInput(input, TensorRef::of(data.data(), {2, 3}));
    for (int i = 0; i < kRuns; ++i) {
      run.execute();
    }
  };
  std::thread a(worker, "prefill", "x", std::cref(x));
  std::thread b(worker, "decode", "t", std::cref(t));
  a.join();
  b.join();
  // Small integers: every order of the additions gives the same sum, and a
  // lost update would show.
  std::vector<float> xw = m.timesW(x), want(6);
  for (size_t i = 0; i < 6; ++i) {
    want[i] = kRuns * xw[i] + kRuns * t[i];
  }
  EXPECT_EQ(session.readState<float>("acc"), want);
}

TEST(FamilyRuntime, CpuPartitionsOfASimSessionMoveTheStateAcrossTheBoundary) {
  // States live on the session's device. On sim, a CPU partition that reads
  // and writes one (here the prefill's in-place accumulate of a [2, 3] f32
  // state) moves it across the host-device boundary both ways, and the run
  // counts those bytes; on the cpu device there is no boundary.
  FamilyModel m;
  std::vector<uint8_t> bytes = m.build();
  Model model = Model::loadMemory(bytes.data(), bytes.size());
  std::vector<float> x = {1, 2, 3, -1, 0, 2};
  for (const char *device : {"sim", "cpu"}) {
    Session session(model, device);
    nuri::Run prefill = session.newRun("prefill");
    prefill.bindInput("x", TensorRef::of(x.data(), {2, 3}));
    prefill.execute();
    EXPECT_EQ(session.readState<float>("acc"), m.timesW(x)) << device;
    double crossing = std::string(device) == "sim" ? 6 * 4 : 0;
    EXPECT_EQ(prefill.counters().get("device_to_host_bytes"), crossing)
        << device;
    EXPECT_EQ(prefill.counters().get("host_to_device_bytes"), crossing)
        << device;
  }
}

TEST(FamilyRuntime, NpuProgramOnTheSimulator) {
  std::vector<uint8_t> bytes = atomSoftmaxFamily();
  Model model = Model::loadMemory(bytes.data(), bytes.size());
  Session session(model, "auto"); // sim: the family has NPU partitions
  EXPECT_EQ(session.device(), "sim");
  std::vector<float> x(128 * 512);
  for (size_t i = 0; i < x.size(); ++i) {
    x[i] = isa::bf16ToF32(isa::f32ToBf16(float(i % 37) / 9.0f - 2.0f));
  }
  nuri::Run run = session.newRun("softmax");
  run.bindInput("x", TensorRef::of(x.data(), {128, 512}));
  if (std::string why = executeUnlessNoCpuKernels(run); !why.empty()) {
    GTEST_SKIP() << why;
  }
  std::vector<float> expect = test::softmaxRows(x, 128, 512);
  const float *probs = run.output("probs").as<float>();
  for (size_t i = 0; i < x.size(); ++i) {
    ASSERT_NEAR(probs[i], expect[i], 1e-2 * expect[i] + 1e-6) << i;
  }
  std::vector<PartitionStats> parts = run.partitionStats();
  ASSERT_EQ(parts.size(), 3u);
  EXPECT_EQ(parts[1].device, "sim");
  // The cpu device cannot run the NPU program; the error names it.
  try {
    Session cpu(model, "cpu");
    FAIL() << "the cpu device accepted an NPU program";
  } catch (const nuri::Exception &e) {
    EXPECT_EQ(e.code(), NURI_UNSUPPORTED);
    EXPECT_NE(std::string(e.what()).find("program 'softmax': device 'cpu'"),
              std::string::npos)
        << e.what();
  }
}

// Every single-byte change of a family, with the checksums off so that it
// reaches the structural checks of the family and of its programs: each
// either fails to load or runs every program (or fails) with a status.
TEST(FamilyRuntime, MutatedFamiliesRunOrFailCleanly) {
  std::vector<uint8_t> file = FamilyModel().build();
  size_t loaded = 0, ran = 0;
  for (size_t i = 0; i < file.size(); ++i) {
    for (uint8_t x : {0x01, 0x80, 0xFF}) {
      std::vector<uint8_t> bad = file;
      bad[i] ^= x;
      nuri_model_options options;
      nuri_model_options_initialize(&options);
      options.verify_checksums = 0;
      options.max_run_bytes = 64 << 20; // mutated shapes can be huge
      nuri_model *model = nullptr;
      nuri_status s =
          nuri_model_load_memory(bad.data(), bad.size(), &options, &model);
      if (s) {
        EXPECT_NE(std::string(nuri_status_message(s)), "");
        nuri_status_release(s);
        continue;
      }
      ++loaded;
      nuri_session *session = nullptr;
      s = nuri_session_create(model, nullptr, &session);
      for (size_t p = 0; !s && p < nuri_model_program_count(model); ++p) {
        nuri_program_info info;
        nuri_run *run = nullptr;
        s = nuri_model_program_info(model, p, &info);
        if (!s) {
          s = nuri_run_create_program(session, info.name, &run);
        }
        std::vector<std::vector<uint8_t>> inputs;
        for (size_t k = 0; !s && k < info.input_count; ++k) {
          nuri_tensor_info t;
          s = nuri_model_program_input_info(model, p, k, &t);
          if (!s) {
            inputs.emplace_back(t.byte_size, 0x3c);
            s = nuri_run_bind_input(run, t.name, t.dtype, t.shape, t.rank,
                                    inputs.back().data(), t.byte_size);
          }
        }
        if (!s) {
          s = nuri_run_execute(run);
          ran += s == nullptr;
        }
        nuri_run_release(run);
      }
      nuri_status_release(s);
      nuri_session_release(session);
      nuri_model_release(model);
    }
  }
  EXPECT_GT(loaded, 0u);
  EXPECT_GT(ran, 0u);
  std::printf("%zu mutated families loaded, %zu program runs\n", loaded, ran);
}
