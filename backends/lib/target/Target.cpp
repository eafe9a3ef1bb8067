//===- Target.cpp - Loading and validating chip configs -------------------===//

#include "nuri/target/Target.h"

#include <fmt/format.h>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>

namespace nuri::target {

namespace {

namespace fs = std::filesystem;
using isa::Dtype;

/// Reads one YAML mapping, remembering which keys were consumed so that a
/// misspelt key is an error instead of a silently ignored setting.
class Section {
public:
  Section(const YAML::Node &node, std::string path, const std::string &origin)
      : node_(node), path_(std::move(path)), origin_(origin) {
    if (!node_.IsMap()) {
      fail(path_.empty() ? "top level" : path_, "must be a mapping");
    }
  }

  [[noreturn]] void fail(const std::string &field,
                         const std::string &why) const {
    throw Error(fmt::format("{}: {}: {}", origin_, field, why));
  }
  std::string name(const std::string &key) const {
    return path_.empty() ? key : path_ + "." + key;
  }

  YAML::Node get(const std::string &key, bool required) {
    seen_.insert(key);
    YAML::Node n = node_[key];
    if (!n && required) {
      fail(name(key), "missing");
    }
    return n;
  }

  Section sub(const std::string &key) {
    return Section(get(key, true), name(key), origin_);
  }

  std::string str(const std::string &key, const std::string &dflt,
                  bool required = false) {
    YAML::Node n = get(key, required);
    if (!n) {
      return dflt;
    }
    if (!n.IsScalar()) {
      fail(name(key), "must be a string");
    }
    return n.as<std::string>();
  }

  /// A non-negative number; sizes may carry KiB/MiB/GiB/KB/MB/GB suffixes.
  double number(const std::string &key, bool required, double dflt = 0) {
    YAML::Node n = get(key, required);
    if (!n) {
      return dflt;
    }
    if (!n.IsScalar()) {
      fail(name(key), "must be a number");
    }
    std::string s = n.as<std::string>();
    s.erase(std::remove(s.begin(), s.end(), '_'), s.end());
    char *end = nullptr;
    double v = std::strtod(s.c_str(), &end);
    if (end == s.c_str()) {
      fail(name(key), fmt::format("`{}` is not a number", s));
    }
    std::string suffix(end);
    suffix.erase(0, suffix.find_first_not_of(' '));
    static const std::pair<const char *, double> units[] = {
        {"", 1},
        {"KiB", 1024.0},
        {"MiB", 1048576.0},
        {"GiB", 1073741824.0},
        {"KB", 1e3},
        {"MB", 1e6},
        {"GB", 1e9},
        {"TB", 1e12},
        {"GHz", 1e9},
        {"MHz", 1e6}};
    bool known = false;
    for (auto &[u, scale] : units) {
      if (suffix == u) {
        v *= scale;
        known = true;
      }
    }
    if (!known) {
      fail(name(key), fmt::format("unknown unit `{}`", suffix));
    }
    if (!std::isfinite(v) || v < 0) {
      fail(name(key),
           fmt::format("must be a finite non-negative number, got {}", s));
    }
    return v;
  }

  uint64_t integer(const std::string &key, bool required, uint64_t dflt = 0,
                   uint64_t min = 0, uint64_t max = ~0ull) {
    if (!node_[key] && !required) {
      seen_.insert(key);
      return dflt;
    }
    double v = number(key, required);
    if (v != std::floor(v) || v > 1.8e19) {
      fail(name(key), fmt::format("must be an integer, got {}", v));
    }
    uint64_t u = static_cast<uint64_t>(v);
    if (u < min || u > max) {
      fail(name(key),
           max == ~0ull
               ? fmt::format("must be >= {}, got {}", min, u)
               : fmt::format("must be in [{}, {}], got {}", min, max, u));
    }
    return u;
  }

  /// Rejects keys nobody asked for.
  void finish() const {
    for (auto it = node_.begin(); it != node_.end(); ++it) {
      std::string key = it->first.as<std::string>();
      if (!seen_.count(key)) {
        fail(name(key), "unknown key");
      }
    }
  }

  const YAML::Node &node() const { return node_; }

private:
  YAML::Node node_;
  std::string path_;
  std::string origin_;
  std::set<std::string> seen_;
};

bool isPow2(uint64_t v) { return v && !(v & (v - 1)); }

/// `matrix.macs_per_cycle`-style per-dtype figures: every dtype the array
/// supports needs one, and only those may appear.
std::map<Dtype, double> perDtype(Section &parent, const std::string &key,
                                 const Target &t) {
  Section sec = parent.sub(key);
  std::map<Dtype, double> out;
  for (auto it = sec.node().begin(); it != sec.node().end(); ++it) {
    std::string dt = it->first.as<std::string>();
    uint64_t code;
    if (!isa::parseEnum(isa::FieldKind::Dtype, dt, code) ||
        !t.matrix.macsPerCycle.count(Dtype(code))) {
      sec.fail(sec.name(dt), "not a dtype in matrix.macs_per_cycle");
    }
    double v = sec.number(dt, true);
    if (v <= 0) {
      sec.fail(sec.name(dt), "must be > 0");
    }
    out[Dtype(code)] = v;
  }
  for (auto &[d, m] : t.matrix.macsPerCycle) {
    if (!out.count(d)) {
      sec.fail(sec.name(isa::dtypeName(d)),
               "missing (matrix.macs_per_cycle lists it)");
    }
  }
  sec.finish();
  return out;
}

/// The optional `energy:` and `area:` sections (docs/dse.md): figures for
/// design-space exploration that neither the compiler nor the timing model
/// reads.
void parseEnergyAndArea(Section &top, Target &t) {
  if (top.get("energy", false)) {
    Section e = top.sub("energy");
    EnergyConfig &c = t.energy;
    c.present = true;
    c.macPj = perDtype(e, "mac_pj", t);
    c.sramPjPerByte = e.number("sram_pj_per_byte", true);
    c.accPjPerByte = e.number("acc_pj_per_byte", true);
    c.dramPjPerByte = e.number("dram_pj_per_byte", true);
    c.nocPjPerByte = e.number("noc_pj_per_byte", true);
    c.vectorPjPerLaneOp = e.number("vector_pj_per_lane_op", true);
    c.staticWPerMm2 = e.number("static_w_per_mm2", false, 0);
    c.staticW = e.number("static_w", false, 0);
    e.finish();
  }
  if (top.get("area", false)) {
    Section a = top.sub("area");
    AreaConfig &c = t.area;
    c.present = true;
    c.macMm2 = perDtype(a, "mac_mm2", t);
    c.sramMm2PerMiB = a.number("sram_mm2_per_mib", true);
    c.coreMm2 = a.number("core_mm2", true);
    c.vectorMm2PerLane = a.number("vector_mm2_per_lane", false, 0);
    c.dramChannelBytesPerS = a.number("dram_channel_bytes_per_s", true);
    if (c.dramChannelBytesPerS <= 0) {
      a.fail("area.dram_channel_bytes_per_s", "must be > 0");
    }
    c.dramPhyMm2PerChannel = a.number("dram_phy_mm2_per_channel", true);
    c.fixedMm2 = a.number("fixed_mm2", false, 0);
    c.utilization = a.number("utilization", false, 1);
    if (c.utilization <= 0 || c.utilization > 1) {
      a.fail("area.utilization", "must be in (0, 1]");
    }
    a.finish();
  }
  if (t.energy.staticWPerMm2 > 0 && !t.area.present) {
    top.fail("energy.static_w_per_mm2", "needs an `area:` section");
  }
}

Target parse(const YAML::Node &root, const std::string &origin) {
  Target t;
  Section top(root, "", origin);
  t.name = top.str("name", "", true);
  t.description = top.str("description", "");
  t.clockHz = top.number("clock_hz", true);
  if (t.clockHz < 1e6 || t.clockHz > 1e11) {
    top.fail("clock_hz", fmt::format("{} is not a plausible clock", t.clockHz));
  }
  t.cores = static_cast<unsigned>(top.integer("cores", true, 0, 1, 4096));
  t.semaphoresPerCore = static_cast<unsigned>(
      top.integer("semaphores_per_core", false, 32, 1, 256));
  t.barriers =
      static_cast<unsigned>(top.integer("barriers", false, 16, 1, 256));

  Section mat = top.sub("matrix");
  t.matrix.rows = static_cast<unsigned>(mat.integer("rows", true, 0, 1, 65535));
  t.matrix.cols = static_cast<unsigned>(mat.integer("cols", true, 0, 1, 65535));
  std::string df = mat.str("dataflow", "output_stationary");
  if (df == "output_stationary") {
    t.matrix.dataflow = Dataflow::OutputStationary;
  } else if (df == "weight_stationary") {
    t.matrix.dataflow = Dataflow::WeightStationary;
  } else {
    mat.fail(
        "matrix.dataflow",
        fmt::format("`{}` is not output_stationary or weight_stationary", df));
  }
  t.matrix.accBytes = mat.integer("acc_bytes", true, 0, 4);
  if (t.matrix.accBytes % 4) {
    mat.fail("matrix.acc_bytes", "must be a multiple of 4");
  }
  {
    Section macs = mat.sub("macs_per_cycle");
    uint64_t pes = uint64_t(t.matrix.rows) * t.matrix.cols;
    for (auto it = macs.node().begin(); it != macs.node().end(); ++it) {
      std::string dt = it->first.as<std::string>();
      uint64_t code;
      if (!isa::parseEnum(isa::FieldKind::Dtype, dt, code) || dt == "i32" ||
          dt == "f32") {
        macs.fail("matrix.macs_per_cycle." + dt,
                  "not a matrix input dtype (i8, bf16, f16, e4m3, e5m2)");
      }
      uint64_t v = macs.integer(dt, true, 0, 1);
      if (v % pes && pes % v) {
        macs.fail("matrix.macs_per_cycle." + dt,
                  fmt::format("{} is neither a multiple nor a divisor of "
                              "rows*cols = {}",
                              v, pes));
      }
      t.matrix.macsPerCycle[Dtype(code)] = v;
    }
    if (t.matrix.macsPerCycle.empty()) {
      macs.fail("matrix.macs_per_cycle", "lists no dtype");
    }
    macs.finish();
  }
  mat.finish();

  Section vec = top.sub("vector");
  t.vector.lanes =
      static_cast<unsigned>(vec.integer("lanes", true, 0, 1, 1u << 20));
  t.vector.pipelineDepth =
      static_cast<unsigned>(vec.integer("pipeline_depth", true, 0, 0, 4096));
  t.vector.transcendentalPasses = static_cast<unsigned>(
      vec.integer("transcendental_passes", false, 1, 1, 64));
  vec.finish();

  Section sram = top.sub("sram");
  t.sram.bytesPerCore = sram.integer("bytes_per_core", true, 0, 1024);
  t.sram.banks = static_cast<unsigned>(sram.integer("banks", true, 0, 1, 1024));
  t.sram.bankWidthBytes =
      static_cast<unsigned>(sram.integer("bank_width_bytes", true, 0, 1, 4096));
  if (!isPow2(t.sram.bankWidthBytes)) {
    sram.fail("sram.bank_width_bytes", "must be a power of two");
  }
  t.sram.sharedBytes = sram.integer("shared_bytes", false, 0);
  if (t.sram.bytesPerCore > (1ull << 40) || t.sram.sharedBytes > (1ull << 40)) {
    sram.fail("sram", "larger than the 40-bit SRAM address space");
  }
  sram.finish();

  Section dram = top.sub("dram");
  t.dram.bytes = dram.integer("bytes", true, 0, 1);
  if (t.dram.bytes > (1ull << 48)) {
    dram.fail("dram.bytes", "larger than the 48-bit address space");
  }
  t.dram.bytesPerSecond = dram.number("bytes_per_s", true);
  if (t.dram.bytesPerSecond <= 0) {
    dram.fail("dram.bytes_per_s", "must be > 0");
  }
  t.dram.latencyCycles = dram.integer("latency_cycles", true, 0, 0, 1u << 24);
  // The simulator checks the name against its registered models.
  t.dram.model = dram.str("model", kDefaultLinkModel);
  if (t.dram.model.empty()) {
    dram.fail("dram.model", "must name a memory-link model");
  }
  dram.finish();

  Section dma = top.sub("dma");
  t.dma.outstanding =
      static_cast<unsigned>(dma.integer("outstanding", true, 0, 1, 1024));
  t.dma.bytesPerCycle = dma.number("bytes_per_cycle", true);
  if (t.dma.bytesPerCycle <= 0) {
    dma.fail("dma.bytes_per_cycle", "must be > 0");
  }
  t.dma.issueCycles =
      static_cast<unsigned>(dma.integer("issue_cycles", false, 1, 1, 1u << 16));
  dma.finish();

  Section noc = top.sub("noc");
  t.noc.bytesPerCycle = noc.number("bytes_per_cycle", true);
  if (t.noc.bytesPerCycle <= 0) {
    noc.fail("noc.bytes_per_cycle", "must be > 0");
  }
  t.noc.latencyCycles = noc.integer("latency_cycles", true, 0, 0, 1u << 24);
  t.noc.model = noc.str("model", kDefaultLinkModel);
  if (t.noc.model.empty()) {
    noc.fail("noc.model", "must name a memory-link model");
  }
  noc.finish();

  parseEnergyAndArea(top, t);
  top.finish();
  return t;
}

} // namespace

double Target::peakOpsPerSecond(Dtype d) const {
  auto it = matrix.macsPerCycle.find(d);
  if (it == matrix.macsPerCycle.end()) {
    return 0;
  }
  return 2.0 * double(it->second) * cores * clockHz;
}

double Target::packing(Dtype d) const {
  auto it = matrix.macsPerCycle.find(d);
  if (it == matrix.macsPerCycle.end()) {
    return 0;
  }
  return double(it->second) / (double(matrix.rows) * matrix.cols);
}

namespace {
/// Applies one `a.b.c=value` override to the YAML tree.
void applyOverride(YAML::Node root, const std::string &setting,
                   const std::string &origin) {
  size_t eq = setting.find('=');
  if (eq == std::string::npos || eq == 0) {
    throw Error(fmt::format("{}: --set `{}`: expected section.key=value",
                            origin, setting));
  }
  std::string path = setting.substr(0, eq), value = setting.substr(eq + 1);
  std::vector<std::string> parts;
  size_t start = 0;
  while (true) {
    size_t dot = path.find('.', start);
    parts.push_back(path.substr(start, dot - start));
    if (dot == std::string::npos) {
      break;
    }
    start = dot + 1;
  }
  // yaml-cpp nodes are handles: walking down and assigning edits `root`.
  std::vector<YAML::Node> chain{root};
  for (size_t i = 0; i + 1 < parts.size(); ++i) {
    YAML::Node next = chain.back()[parts[i]];
    if (!next || !next.IsMap()) {
      throw Error(
          fmt::format("{}: --set {}: no section `{}`", origin, path, parts[i]));
    }
    chain.push_back(next);
  }
  if (!chain.back().IsMap()) {
    throw Error(fmt::format("{}: --set {}: not a mapping", origin, path));
  }
  chain.back()[parts.back()] = value;
}
} // namespace

Result<Target> loadTargetYaml(const std::string &text,
                              const std::string &origin,
                              const Overrides &overrides) {
  return catchErrors([&]() -> Target {
    YAML::Node root;
    try {
      root = YAML::Load(text);
      for (const std::string &o : overrides) {
        applyOverride(root, o, origin);
      }
    } catch (const YAML::Exception &e) {
      throw Error(fmt::format("{}:{}: {}", origin, e.mark.line + 1, e.msg));
    }
    try {
      return parse(root, origin);
    } catch (const YAML::Exception &e) {
      throw Error(fmt::format("{}:{}: {}", origin, e.mark.line + 1, e.msg));
    }
  });
}

Result<Target> loadTargetFile(const std::string &path,
                              const Overrides &overrides) {
  std::ifstream in(path);
  if (!in) {
    return Result<Target>::failure(path + ": cannot open");
  }
  std::stringstream ss;
  ss << in.rdbuf();
  Result<Target> t = loadTargetYaml(ss.str(), path, overrides);
  if (t) {
    t->path = path;
  }
  return t;
}

std::vector<std::string> configSearchPath() {
  std::vector<std::string> dirs;
  if (const char *env = std::getenv("NURI_CONFIG_PATH")) {
    std::stringstream ss(env);
    std::string dir;
    while (std::getline(ss, dir, ':')) {
      if (!dir.empty()) {
        dirs.push_back(dir);
      }
    }
  }
  // A relocated install: <prefix>/bin/tool finds <prefix>/share/nuri/configs.
  std::error_code ec;
  fs::path exe = fs::read_symlink("/proc/self/exe", ec);
  if (!ec) {
    dirs.push_back(
        (exe.parent_path().parent_path() / "share" / "nuri" / "configs")
            .string());
  }
  dirs.push_back(NURI_CONFIG_INSTALL_DIR);
  dirs.push_back(NURI_CONFIG_SOURCE_DIR);
  return dirs;
}

std::vector<std::string> listTargets() {
  std::set<std::string> names;
  for (const std::string &dir : configSearchPath()) {
    std::error_code ec;
    for (const auto &entry : fs::directory_iterator(dir, ec)) {
      if (entry.path().extension() == ".yaml") {
        names.insert(entry.path().stem().string());
      }
    }
  }
  return {names.begin(), names.end()};
}

Result<Target> findTarget(const std::string &name, const Overrides &overrides) {
  for (const std::string &dir : configSearchPath()) {
    fs::path p = fs::path(dir) / (name + ".yaml");
    std::error_code ec;
    if (fs::exists(p, ec)) {
      return loadTargetFile(p.string(), overrides);
    }
  }
  std::string known;
  for (const std::string &n : listTargets()) {
    known += (known.empty() ? "" : ", ") + n;
  }
  return Result<Target>::failure(
      fmt::format("unknown target `{}` (known: {}; or pass --config FILE.yaml)",
                  name, known.empty() ? "none found" : known));
}

namespace {
std::string jsonEscape(const std::string &s) {
  std::string o;
  for (char c : s) {
    if (c == '"' || c == '\\') {
      o += '\\';
      o += c;
    } else if (static_cast<unsigned char>(c) < 0x20) {
      o += fmt::format("\\u{:04x}", c);
    } else {
      o += c;
    }
  }
  return o;
}
const char *dataflowName(Dataflow d) {
  return d == Dataflow::OutputStationary ? "output_stationary"
                                         : "weight_stationary";
}
} // namespace

std::string targetToJson(const Target &t) {
  std::string peaks, macs;
  for (auto &[d, m] : t.matrix.macsPerCycle) {
    peaks += fmt::format("{}\"{}\": {:.6g}", peaks.empty() ? "" : ", ",
                         isa::dtypeName(d), t.peakOpsPerSecond(d));
    macs += fmt::format("{}\"{}\": {}", macs.empty() ? "" : ", ",
                        isa::dtypeName(d), m);
  }
  return fmt::format(
      "{{\"name\": \"{}\", \"description\": \"{}\", \"cores\": {}, "
      "\"clock_hz\": {:.6g}, \"sram_bytes\": {}, \"sram_bytes_per_core\": {}, "
      "\"shared_sram_bytes\": {}, \"acc_bytes_per_core\": {}, "
      "\"dram_bytes\": {}, \"dram_bytes_per_s\": {:.6g}, "
      "\"dram_latency_cycles\": {}, \"peak_ops_per_s\": {{{}}}, "
      "\"matrix\": {{\"rows\": {}, \"cols\": {}, \"dataflow\": \"{}\", "
      "\"macs_per_cycle\": {{{}}}}}, \"vector\": {{\"lanes\": {}, "
      "\"pipeline_depth\": {}, \"transcendental_passes\": {}}}, "
      "\"sram\": {{\"banks\": {}, \"bank_width_bytes\": {}}}, "
      "\"dma\": {{\"outstanding\": {}, \"bytes_per_cycle\": {:.6g}, "
      "\"issue_cycles\": {}}}, \"noc\": {{\"bytes_per_cycle\": {:.6g}, "
      "\"latency_cycles\": {}}}, \"semaphores_per_core\": {}, "
      "\"barriers\": {}}}",
      jsonEscape(t.name), jsonEscape(t.description), t.cores, t.clockHz,
      t.sramBytesTotal(), t.sram.bytesPerCore, t.sram.sharedBytes,
      t.matrix.accBytes, t.dram.bytes, t.dram.bytesPerSecond,
      t.dram.latencyCycles, peaks, t.matrix.rows, t.matrix.cols,
      dataflowName(t.matrix.dataflow), macs, t.vector.lanes,
      t.vector.pipelineDepth, t.vector.transcendentalPasses, t.sram.banks,
      t.sram.bankWidthBytes, t.dma.outstanding, t.dma.bytesPerCycle,
      t.dma.issueCycles, t.noc.bytesPerCycle, t.noc.latencyCycles,
      t.semaphoresPerCore, t.barriers);
}

std::string targetToText(const Target &t) {
  std::string s = fmt::format("{}: {}\n", t.name, t.description);
  if (!t.path.empty()) {
    s += fmt::format("  file               {}\n", t.path);
  }
  s += fmt::format("  cores              {}\n", t.cores);
  s += fmt::format("  clock              {:.3f} GHz\n", t.clockHz / 1e9);
  s += fmt::format("  matrix             {}x{} {}\n", t.matrix.rows,
                   t.matrix.cols, dataflowName(t.matrix.dataflow));
  for (auto &[d, m] : t.matrix.macsPerCycle) {
    s += fmt::format("  peak {:<5}         {:.1f} T{}/s ({} MACs/cycle/core)\n",
                     isa::dtypeName(d), t.peakOpsPerSecond(d) / 1e12,
                     isa::isFloatDtype(d) ? "FLOP" : "OP", m);
  }
  s += fmt::format("  vector             {} lanes, depth {}\n", t.vector.lanes,
                   t.vector.pipelineDepth);
  s += fmt::format(
      "  sram               {:.1f} MiB total ({:.2f} MiB/core x {} "
      "+ {:.1f} MiB shared), {} banks x {} B\n",
      t.sramBytesTotal() / 1048576.0, t.sram.bytesPerCore / 1048576.0, t.cores,
      t.sram.sharedBytes / 1048576.0, t.sram.banks, t.sram.bankWidthBytes);
  s += fmt::format("  accumulator        {} KiB/core\n",
                   t.matrix.accBytes / 1024);
  s += fmt::format("  dram               {:.1f} GiB at {:.1f} GB/s ({:.1f} "
                   "B/cycle), latency {} cycles\n",
                   t.dram.bytes / 1073741824.0, t.dram.bytesPerSecond / 1e9,
                   t.dramBytesPerCycle(), t.dram.latencyCycles);
  s += fmt::format(
      "  dma                {} in flight/core, {:.0f} B/cycle each\n",
      t.dma.outstanding, t.dma.bytesPerCycle);
  for (auto &[d, m] : t.matrix.macsPerCycle) {
    double ridge = t.peakOpsPerSecond(d) / t.dram.bytesPerSecond;
    s += fmt::format("  ridge point {:<5}  {:.0f} ops/DRAM byte\n",
                     isa::dtypeName(d), ridge);
  }
  return s;
}

std::string targetToYaml(const Target &t) {
  // Shortest decimal that parses back to the same double or integer; the
  // loader reads every scalar as text and converts it with strtod.
  auto num = [](auto v) { return fmt::format("{}", v); };
  YAML::Emitter out;
  out << YAML::BeginMap;
  out << YAML::Key << "name" << YAML::Value << t.name;
  out << YAML::Key << "description" << YAML::Value << t.description;
  out << YAML::Key << "clock_hz" << YAML::Value << num(t.clockHz);
  out << YAML::Key << "cores" << YAML::Value << num(t.cores);
  out << YAML::Key << "semaphores_per_core" << YAML::Value
      << num(t.semaphoresPerCore);
  out << YAML::Key << "barriers" << YAML::Value << num(t.barriers);

  out << YAML::Key << "matrix" << YAML::Value << YAML::BeginMap;
  out << YAML::Key << "rows" << YAML::Value << num(t.matrix.rows);
  out << YAML::Key << "cols" << YAML::Value << num(t.matrix.cols);
  out << YAML::Key << "dataflow" << YAML::Value
      << dataflowName(t.matrix.dataflow);
  out << YAML::Key << "macs_per_cycle" << YAML::Value << YAML::BeginMap;
  for (auto &[d, m] : t.matrix.macsPerCycle) {
    out << YAML::Key << isa::dtypeName(d) << YAML::Value << num(m);
  }
  out << YAML::EndMap;
  out << YAML::Key << "acc_bytes" << YAML::Value << num(t.matrix.accBytes);
  out << YAML::EndMap;

  out << YAML::Key << "vector" << YAML::Value << YAML::BeginMap;
  out << YAML::Key << "lanes" << YAML::Value << num(t.vector.lanes);
  out << YAML::Key << "pipeline_depth" << YAML::Value
      << num(t.vector.pipelineDepth);
  out << YAML::Key << "transcendental_passes" << YAML::Value
      << num(t.vector.transcendentalPasses);
  out << YAML::EndMap;

  out << YAML::Key << "sram" << YAML::Value << YAML::BeginMap;
  out << YAML::Key << "bytes_per_core" << YAML::Value
      << num(t.sram.bytesPerCore);
  out << YAML::Key << "banks" << YAML::Value << num(t.sram.banks);
  out << YAML::Key << "bank_width_bytes" << YAML::Value
      << num(t.sram.bankWidthBytes);
  out << YAML::Key << "shared_bytes" << YAML::Value << num(t.sram.sharedBytes);
  out << YAML::EndMap;

  out << YAML::Key << "dram" << YAML::Value << YAML::BeginMap;
  out << YAML::Key << "bytes" << YAML::Value << num(t.dram.bytes);
  out << YAML::Key << "bytes_per_s" << YAML::Value
      << num(t.dram.bytesPerSecond);
  out << YAML::Key << "latency_cycles" << YAML::Value
      << num(t.dram.latencyCycles);
  out << YAML::Key << "model" << YAML::Value << t.dram.model;
  out << YAML::EndMap;

  out << YAML::Key << "dma" << YAML::Value << YAML::BeginMap;
  out << YAML::Key << "outstanding" << YAML::Value << num(t.dma.outstanding);
  out << YAML::Key << "bytes_per_cycle" << YAML::Value
      << num(t.dma.bytesPerCycle);
  out << YAML::Key << "issue_cycles" << YAML::Value << num(t.dma.issueCycles);
  out << YAML::EndMap;

  out << YAML::Key << "noc" << YAML::Value << YAML::BeginMap;
  out << YAML::Key << "bytes_per_cycle" << YAML::Value
      << num(t.noc.bytesPerCycle);
  out << YAML::Key << "latency_cycles" << YAML::Value
      << num(t.noc.latencyCycles);
  out << YAML::Key << "model" << YAML::Value << t.noc.model;
  out << YAML::EndMap;

  auto perDtypeMap = [&](const char *key, const std::map<Dtype, double> &m) {
    out << YAML::Key << key << YAML::Value << YAML::BeginMap;
    for (auto &[d, v] : m) {
      out << YAML::Key << isa::dtypeName(d) << YAML::Value << num(v);
    }
    out << YAML::EndMap;
  };
  if (t.energy.present) {
    const EnergyConfig &e = t.energy;
    out << YAML::Key << "energy" << YAML::Value << YAML::BeginMap;
    perDtypeMap("mac_pj", e.macPj);
    out << YAML::Key << "sram_pj_per_byte" << YAML::Value
        << num(e.sramPjPerByte);
    out << YAML::Key << "acc_pj_per_byte" << YAML::Value << num(e.accPjPerByte);
    out << YAML::Key << "dram_pj_per_byte" << YAML::Value
        << num(e.dramPjPerByte);
    out << YAML::Key << "noc_pj_per_byte" << YAML::Value << num(e.nocPjPerByte);
    out << YAML::Key << "vector_pj_per_lane_op" << YAML::Value
        << num(e.vectorPjPerLaneOp);
    out << YAML::Key << "static_w_per_mm2" << YAML::Value
        << num(e.staticWPerMm2);
    out << YAML::Key << "static_w" << YAML::Value << num(e.staticW);
    out << YAML::EndMap;
  }
  if (t.area.present) {
    const AreaConfig &a = t.area;
    out << YAML::Key << "area" << YAML::Value << YAML::BeginMap;
    perDtypeMap("mac_mm2", a.macMm2);
    out << YAML::Key << "sram_mm2_per_mib" << YAML::Value
        << num(a.sramMm2PerMiB);
    out << YAML::Key << "core_mm2" << YAML::Value << num(a.coreMm2);
    out << YAML::Key << "vector_mm2_per_lane" << YAML::Value
        << num(a.vectorMm2PerLane);
    out << YAML::Key << "dram_channel_bytes_per_s" << YAML::Value
        << num(a.dramChannelBytesPerS);
    out << YAML::Key << "dram_phy_mm2_per_channel" << YAML::Value
        << num(a.dramPhyMm2PerChannel);
    out << YAML::Key << "fixed_mm2" << YAML::Value << num(a.fixedMm2);
    out << YAML::Key << "utilization" << YAML::Value << num(a.utilization);
    out << YAML::EndMap;
  }

  out << YAML::EndMap;
  return std::string(out.c_str()) + "\n";
}

Result<double> parseQuantity(const std::string &text) {
  // The loader's rules (Section::number), for values a sweep computes with.
  std::string s = text;
  s.erase(std::remove(s.begin(), s.end(), '_'), s.end());
  char *end = nullptr;
  double v = std::strtod(s.c_str(), &end);
  if (s.empty() || end == s.c_str()) {
    return Result<double>::failure(fmt::format("`{}` is not a number", text));
  }
  std::string suffix(end);
  suffix.erase(0, suffix.find_first_not_of(' '));
  static const std::pair<const char *, double> units[] = {
      {"", 1},      {"KiB", 1024.0}, {"MiB", 1048576.0}, {"GiB", 1073741824.0},
      {"KB", 1e3},  {"MB", 1e6},     {"GB", 1e9},        {"TB", 1e12},
      {"GHz", 1e9}, {"MHz", 1e6}};
  for (auto &[u, scale] : units) {
    if (suffix == u) {
      return v * scale;
    }
  }
  return Result<double>::failure(
      fmt::format("`{}`: unknown unit `{}`", text, suffix));
}

Result<std::string> applyOverridesToYaml(const std::string &text,
                                         const std::string &origin,
                                         const Overrides &overrides) {
  return catchErrors([&]() -> std::string {
    try {
      YAML::Node root = YAML::Load(text);
      for (const std::string &o : overrides) {
        applyOverride(root, o, origin);
      }
      YAML::Emitter out;
      out << root;
      return std::string(out.c_str()) + "\n";
    } catch (const YAML::Exception &e) {
      throw Error(fmt::format("{}:{}: {}", origin, e.mark.line + 1, e.msg));
    }
  });
}

} // namespace nuri::target
