//===- Spec.cpp - Reading a sweep spec ------------------------------------===//

#include "nuri/Dse/Sweep.h"

#include "nuri/Zoo/Zoo.h"
#include "nuri/target/Target.h"

#include "llvm/Support/xxhash.h"

#include <fmt/format.h>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cctype>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>

namespace nuri::dse {

namespace {

namespace fs = std::filesystem;

/// Errors point at the spec's line and column (yaml-cpp marks are 0-based).
class SpecReader {
public:
  explicit SpecReader(std::string path) : path_(std::move(path)) {}

  [[noreturn]] void fail(const YAML::Node &at, const std::string &why) const {
    YAML::Mark m = at.Mark();
    if (m.is_null()) {
      throw Error(fmt::format("{}: {}", path_, why));
    }
    throw Error(
        fmt::format("{}:{}:{}: {}", path_, m.line + 1, m.column + 1, why));
  }
  std::string scalar(const YAML::Node &n, const std::string &what) const {
    if (!n.IsScalar()) {
      fail(n, what + " must be a scalar");
    }
    return n.as<std::string>();
  }
  double number(const YAML::Node &n, const std::string &what) const {
    Result<double> v = target::parseQuantity(scalar(n, what));
    if (!v) {
      fail(n, what + ": " + v.error());
    }
    return *v;
  }
  int64_t integer(const YAML::Node &n, const std::string &what, int64_t min,
                  int64_t max) const {
    double v = number(n, what);
    if (v != std::floor(v) || v < double(min) || v > double(max)) {
      fail(n, fmt::format("{} must be an integer in [{}, {}]", what, min, max));
    }
    return int64_t(v);
  }
  Expr expr(const YAML::Node &n, const std::string &what) const {
    Result<Expr> e = Expr::parse(scalar(n, what));
    if (!e) {
      fail(n, fmt::format("{} `{}`: {}", what, n.as<std::string>(), e.error()));
    }
    return *e;
  }
  /// Rejects keys nobody reads, like the config loader does.
  void only(const YAML::Node &map, std::set<std::string> keys) const {
    for (auto it = map.begin(); it != map.end(); ++it) {
      std::string k = it->first.as<std::string>();
      if (!keys.count(k)) {
        fail(it->first, fmt::format("unknown key `{}`", k));
      }
    }
  }

  const std::string &path() const { return path_; }

private:
  std::string path_;
};

bool isIdentifier(const std::string &s) {
  if (s.empty() || !(std::isalpha((unsigned char)s[0]) || s[0] == '_')) {
    return false;
  }
  for (char c : s) {
    if (!(std::isalnum((unsigned char)c) || c == '_')) {
      return false;
    }
  }
  return true;
}

/// A number as `--set` text: integers without exponent (the loader wants
/// integers for sizes), others with round-trip precision.
std::string formatValue(double v) {
  if (v == std::floor(v) && std::fabs(v) < 9e15) {
    return fmt::format("{}", int64_t(v));
  }
  return fmt::format("{:.17g}", v);
}

std::vector<std::string> axisValues(const SpecReader &r, const YAML::Node &n,
                                    const std::string &key) {
  std::vector<std::string> out;
  std::string what = "axis `" + key + "`";
  if (n.IsSequence()) {
    for (const YAML::Node &v : n) {
      out.push_back(r.scalar(v, what + " value"));
    }
  } else if (n.IsMap()) {
    r.only(n, {"from", "to", "step", "points", "scale"});
    if (!n["from"] || !n["to"]) {
      r.fail(n, what + ": a range needs `from` and `to`");
    }
    double from = r.number(n["from"], what + ".from");
    double to = r.number(n["to"], what + ".to");
    std::string scale = n["scale"] ? r.scalar(n["scale"], "scale") : "linear";
    if (to < from) {
      r.fail(n, what + ": `to` is below `from`");
    }
    bool integral = from == std::floor(from) && to == std::floor(to);
    if (scale == "linear") {
      if (!n["step"]) {
        r.fail(n, what + ": a linear range needs `step`");
      }
      double step = r.number(n["step"], what + ".step");
      if (step <= 0) {
        r.fail(n["step"], what + ": `step` must be > 0");
      }
      // Index-based, so no rounding drift accumulates over many steps.
      for (uint64_t i = 0;; ++i) {
        double v = from + double(i) * step;
        if (v > to * (1 + 1e-12)) {
          break;
        }
        out.push_back(formatValue(v));
        if (out.size() > 1000000) {
          r.fail(n, what + ": more than a million values");
        }
      }
    } else if (scale == "log") {
      if (!n["points"]) {
        r.fail(n, what + ": a log range needs `points`");
      }
      int64_t points = r.integer(n["points"], what + ".points", 2, 1000000);
      if (from <= 0) {
        r.fail(n["from"], what + ": a log range needs `from` > 0");
      }
      for (int64_t i = 0; i < points; ++i) {
        double v = from * std::pow(to / from, double(i) / double(points - 1));
        out.push_back(formatValue(integral ? std::round(v) : v));
      }
    } else {
      r.fail(n["scale"], what + ": scale must be linear or log");
    }
  } else {
    r.fail(n, what + ": a list of values or a range {from, to, step|points}");
  }
  if (out.empty()) {
    r.fail(n, what + ": no values");
  }
  std::set<std::string> seen;
  for (const std::string &v : out) {
    if (!seen.insert(v).second) {
      r.fail(n, what + ": value `" + v + "` appears twice");
    }
  }
  return out;
}

Workload readWorkload(const SpecReader &r, const YAML::Node &n,
                      const fs::path &specDir) {
  if (!n.IsMap()) {
    r.fail(n, "a workload is a mapping {name, zoo|onnx, ...}");
  }
  r.only(n, {"name", "zoo", "onnx", "layers", "batch", "seq", "input_shapes",
             "dtype", "generation"});
  Workload w;
  if (!n["zoo"] == !n["onnx"]) {
    r.fail(n, "a workload names exactly one of `zoo` and `onnx`");
  }
  if (n["zoo"]) {
    w.zoo = r.scalar(n["zoo"], "zoo");
    bool known = false;
    for (const zoo::ModelInfo &m : zoo::catalogue()) {
      known |= m.name == w.zoo;
    }
    if (!known) {
      r.fail(n["zoo"],
             "unknown zoo model `" + w.zoo + "` (see nuri zoo --list)");
    }
  } else {
    fs::path p = r.scalar(n["onnx"], "onnx");
    w.onnx = (p.is_absolute() ? p : specDir / p).string();
  }
  // The name prefixes result columns that expressions read, so it is an
  // identifier: the default turns `bert-tiny` into `bert_tiny`.
  if (n["name"]) {
    w.name = r.scalar(n["name"], "name");
  } else {
    w.name = w.zoo.empty() ? fs::path(w.onnx).stem().string() : w.zoo;
    std::replace_if(
        w.name.begin(), w.name.end(),
        [](char c) { return !std::isalnum((unsigned char)c); }, '_');
  }
  if (!isIdentifier(w.name)) {
    r.fail(n["name"] ? n["name"] : n,
           "workload name `" + w.name + "` must be letters, digits or _");
  }
  if (n["layers"]) {
    w.layers = int(r.integer(n["layers"], "layers", 1, 1000));
  }
  if (n["batch"]) {
    w.batch = r.integer(n["batch"], "batch", 1, 1 << 20);
  }
  if (n["seq"]) {
    w.seq = r.integer(n["seq"], "seq", 1, 1 << 20);
  }
  if (n["dtype"]) {
    w.dtype = r.scalar(n["dtype"], "dtype");
    if (w.dtype != "bf16" && w.dtype != "fp16") {
      r.fail(n["dtype"], "dtype must be bf16 or fp16 (what the NPU compiles)");
    }
  }
  if (n["input_shapes"]) {
    const YAML::Node &s = n["input_shapes"];
    if (!s.IsMap()) {
      r.fail(s, "input_shapes is a mapping NAME: [dims]");
    }
    for (auto it = s.begin(); it != s.end(); ++it) {
      if (!it->second.IsSequence()) {
        r.fail(it->second, "a shape is a list of dims");
      }
      std::vector<int64_t> dims;
      for (const YAML::Node &d : it->second) {
        dims.push_back(r.integer(d, "dim", 1, int64_t(1) << 40));
      }
      w.inputShapes[it->first.as<std::string>()] = dims;
    }
  }
  if (const YAML::Node &g = n["generation"]) {
    if (!g.IsMap()) {
      r.fail(g, "generation is a mapping {prompt_len, new_tokens, batch}");
    }
    r.only(g, {"prompt_len", "new_tokens", "batch"});
    for (const char *k : {"batch", "seq"}) {
      if (n[k]) {
        r.fail(n[k], fmt::format("`{}` does not apply to a decode workload: "
                                 "the generation scenario sets the shapes "
                                 "(generation.prompt_len, generation.batch)",
                                 k));
      }
    }
    GenerationScenario sc;
    if (g["prompt_len"]) {
      sc.promptLen =
          r.integer(g["prompt_len"], "generation.prompt_len", 1, 1 << 20);
    }
    if (g["new_tokens"]) {
      sc.newTokens =
          r.integer(g["new_tokens"], "generation.new_tokens", 1, 1 << 20);
    }
    if (g["batch"]) {
      sc.batch = r.integer(g["batch"], "generation.batch", 1, 4096);
    }
    if (!w.zoo.empty()) {
      for (const zoo::ModelInfo &m : zoo::catalogue()) {
        if (m.name == w.zoo && !m.hasPast) {
          r.fail(g, "generation: zoo model `" + w.zoo +
                        "` is not a decoder with a KV cache (nuri zoo "
                        "--list marks the ones --with-past writes)");
        }
      }
    }
    w.generation = sc;
  }
  if (!w.zoo.empty() && !w.generation) {
    // The zoo's shapes at (batch, seq), then the spec's overrides.
    auto shapes = zoo::inputShapes(w.zoo, w.batch, w.seq);
    for (auto &[k, v] : w.inputShapes) {
      shapes[k] = v;
    }
    w.inputShapes = shapes;
  }
  return w;
}

Spec parseSpec(const std::string &path, const std::string &text) {
  SpecReader r(path);
  Spec s;
  s.path = path;
  s.text = text;
  s.hash = fmt::format("{:016x}", llvm::xxh3_64bits(llvm::StringRef(text)));
  YAML::Node root;
  try {
    root = YAML::Load(text);
  } catch (const YAML::Exception &e) {
    throw Error(fmt::format("{}:{}:{}: {}", path, e.mark.line + 1,
                            e.mark.column + 1, e.msg));
  }
  if (!root.IsMap()) {
    r.fail(root, "a spec is a mapping (name, workloads, target, axes, ...)");
  }
  r.only(root, {"name", "workloads", "target", "axes", "derived", "constraints",
                "objectives", "search", "resimulate_only"});
  fs::path dir = fs::absolute(path).parent_path();
  s.name = root["name"] ? r.scalar(root["name"], "name")
                        : fs::path(path).stem().string();

  const YAML::Node &wl = root["workloads"];
  if (!wl || !wl.IsSequence() || wl.size() == 0) {
    r.fail(wl ? wl : root, "`workloads` is a non-empty list");
  }
  std::set<std::string> names;
  for (const YAML::Node &n : wl) {
    s.workloads.push_back(readWorkload(r, n, dir));
    if (!names.insert(s.workloads.back().name).second) {
      r.fail(n, "two workloads are named `" + s.workloads.back().name + "`");
    }
  }

  if (!root["target"]) {
    r.fail(root, "`target` (a config name or a .yaml file) is missing");
  }
  s.target = r.scalar(root["target"], "target");
  {
    Result<target::Target> t =
        s.target.size() > 5 && s.target.substr(s.target.size() - 5) == ".yaml"
            ? target::loadTargetFile((fs::path(s.target).is_absolute()
                                          ? fs::path(s.target)
                                          : dir / s.target)
                                         .string())
            : target::findTarget(s.target);
    if (!t) {
      r.fail(root["target"], t.error());
    }
    s.targetPath = t->path;
    std::ifstream in(s.targetPath);
    std::stringstream ss;
    ss << in.rdbuf();
    s.targetText = ss.str();
  }

  if (const YAML::Node &axes = root["axes"]) {
    if (!axes.IsMap()) {
      r.fail(axes, "`axes` is a mapping KEY: values");
    }
    for (auto it = axes.begin(); it != axes.end(); ++it) {
      Axis a;
      a.key = it->first.as<std::string>();
      a.values = axisValues(r, it->second, a.key);
      // The key must be one the config has: the loader rejects a misspelt
      // key or section as `unknown key` / `no section`, whatever the value.
      Result<target::Target> probe = target::loadTargetYaml(
          s.targetText, s.targetPath, {a.key + "=" + a.values.front()});
      if (!probe &&
          (probe.error().find("unknown key") != std::string::npos ||
           probe.error().find("no section") != std::string::npos ||
           probe.error().find("not a mapping") != std::string::npos)) {
        r.fail(it->first,
               fmt::format("axis `{}` is not a key of the config: {}", a.key,
                           probe.error()));
      }
      s.axes.push_back(std::move(a));
    }
  }
  if (s.axes.empty()) {
    r.fail(root, "`axes` lists no axis");
  }
  if (const YAML::Node &d = root["derived"]) {
    if (!d.IsMap()) {
      r.fail(d, "`derived` is a mapping KEY: expression");
    }
    for (auto it = d.begin(); it != d.end(); ++it) {
      s.derived.push_back(
          {it->first.as<std::string>(), r.expr(it->second, "derived")});
    }
  }
  if (const YAML::Node &c = root["constraints"]) {
    if (!c.IsSequence()) {
      r.fail(c, "`constraints` is a list of expressions");
    }
    for (const YAML::Node &e : c) {
      s.constraints.push_back(r.expr(e, "constraint"));
    }
  }
  if (const YAML::Node &o = root["objectives"]) {
    if (!o.IsSequence()) {
      r.fail(o,
             "`objectives` is a list of {minimize: EXPR} or {maximize: EXPR}");
    }
    for (const YAML::Node &e : o) {
      if (!e.IsMap() || e.size() != 1 || !(e["minimize"] || e["maximize"])) {
        r.fail(e, "an objective is {minimize: EXPR} or {maximize: EXPR}");
      }
      bool max = bool(e["maximize"]);
      s.objectives.push_back(
          {r.expr(e[max ? "maximize" : "minimize"], "objective"), max});
    }
  } else {
    s.objectives.push_back({*Expr::parse("latency_s"), false});
  }
  if (const YAML::Node &se = root["search"]) {
    if (se.IsScalar() && se.as<std::string>() == "grid") {
      s.search.kind = SearchKind::Grid;
    } else if (se.IsMap() && se["random"]) {
      r.only(se, {"random", "seed"});
      s.search.kind = SearchKind::Random;
      s.search.count =
          uint64_t(r.integer(se["random"], "random", 1, int64_t(1) << 40));
    } else if (se.IsMap() && se["nsga2"]) {
      r.only(se, {"nsga2", "seed", "population", "generations"});
      s.search.kind = SearchKind::Nsga2;
    } else {
      r.fail(se, "search is `grid`, {random: N, seed: S} or {nsga2: ...}");
    }
    if (se.IsMap() && se["seed"]) {
      s.search.seed =
          uint64_t(r.integer(se["seed"], "seed", 0, int64_t(1) << 62));
    }
    if (se.IsMap() && se["population"]) {
      s.search.population =
          unsigned(r.integer(se["population"], "population", 8, 100000));
      if (s.search.population % 4) {
        r.fail(se["population"],
               "population must be a multiple of 4 (NSGA-II)");
      }
    }
    if (se.IsMap() && se["generations"]) {
      s.search.generations =
          unsigned(r.integer(se["generations"], "generations", 1, 100000));
    }
  }
  if (const YAML::Node &ro = root["resimulate_only"]) {
    if (!ro.IsSequence()) {
      r.fail(ro, "`resimulate_only` is a list of config keys");
    }
    for (const YAML::Node &k : ro) {
      s.resimulateOnly.push_back(r.scalar(k, "resimulate_only key"));
    }
  }
  return s;
}

} // namespace

uint64_t Spec::gridSize() const {
  uint64_t n = 1;
  for (const Axis &a : axes) {
    n = n > (uint64_t(1) << 62) / a.values.size() ? (uint64_t(1) << 62)
                                                  : n * a.values.size();
  }
  return n;
}

Result<Spec> loadSpec(const std::string &path) {
  std::ifstream in(path);
  if (!in) {
    return Result<Spec>::failure(path + ": cannot open");
  }
  std::stringstream ss;
  ss << in.rdbuf();
  std::string text = ss.str();
  try {
    return catchErrors([&] { return parseSpec(path, text); });
  } catch (const YAML::Exception &e) {
    // A node of the wrong shape deep in the spec (yaml-cpp's conversions).
    return Result<Spec>::failure(fmt::format(
        "{}:{}:{}: {}", path, e.mark.line + 1, e.mark.column + 1, e.msg));
  }
}

} // namespace nuri::dse
