//===- Report.cpp - The HTML report of a sweep ----------------------------===//
//
// renderReport reads DIR/sweep.json, DIR/results.jsonl and DIR/layers.jsonl
// and writes one HTML page of inline SVG plots and tables (docs/dse.md, "How
// to read the report"). No script and nothing fetched: the file opens the
// same offline, in a mail attachment or in a CI artifact.
//
// Every figure of results.csv the page prints is printed as a cell that also
// carries the exact value (`data-col`, `data-v`, the CSV's own formatting),
// so a test can hold the page against the CSV.
//
//===----------------------------------------------------------------------===//

#include "nuri/Dse/Report.h"

#include "nuri/Dse/Expr.h"
#include "nuri/Dse/Sweep.h"
#include "nuri/target/Target.h"

#include "llvm/Support/JSON.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <limits>
#include <map>
#include <optional>
#include <set>
#include <sstream>

namespace nuri::dse {

namespace {

namespace fs = std::filesystem;
namespace json = llvm::json;

//===----------------------------------------------------------------------===//
// Input
//===----------------------------------------------------------------------===//

struct Point {
  uint64_t index = 0;
  std::string status;
  std::map<std::string, Value> v;

  std::optional<double> num(const std::string &c) const {
    auto it = v.find(c);
    if (it == v.end() || !std::holds_alternative<double>(it->second)) {
      return std::nullopt;
    }
    return std::get<double>(it->second);
  }
  std::string str(const std::string &c) const {
    auto it = v.find(c);
    return it != v.end() && std::holds_alternative<std::string>(it->second)
               ? std::get<std::string>(it->second)
               : std::string();
  }
};

struct AxisInfo {
  std::string key;
  std::vector<std::string> texts; ///< as the spec wrote them
  std::vector<double> values;     ///< parsed (NaN: not a number)
  std::optional<size_t> position(const Point &p) const {
    std::optional<double> x = p.num(key);
    for (size_t i = 0; i < values.size(); ++i) {
      if ((x && values[i] == *x) || (!x && texts[i] == p.str(key))) {
        return i;
      }
    }
    return std::nullopt;
  }
};

struct Objective {
  std::string text;
  bool maximize = false;
  std::optional<Expr> expr;
};

struct Layer {
  std::string workload, name;
  double cycles = 0, flops = 0, weightBytes = 0;
  /// The simulator's counters over the layer's kernels; absent in a
  /// layers.jsonl from before they were recorded.
  bool hasCounters = false;
  double vecBusy = 0, syncStall = 0, dramBytes = 0, nocBytes = 0;
};

struct Detail {
  double cycles = 0, clockHz = 0, cores = 0, macsPerCycle = 0, dramBw = 0;
  double macs = 0, dramBytes = 0, nocBytes = 0;
  std::vector<std::pair<std::string, double>> busy, stalls;
  std::vector<Layer> layers;
};

struct Sweep {
  std::string name, specPath, specHash, target, search;
  std::vector<AxisInfo> axes;
  std::vector<std::string> derived, columns, workloads;
  std::vector<Objective> objectives;
  std::vector<Point> points; ///< by index
  std::map<uint64_t, Detail> details;
};

std::string readFile(const fs::path &p) {
  std::ifstream in(p, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

/// Each line of a JSONL file as an object; `fn(object, fail)`.
template <typename Fn> void readJsonl(const fs::path &p, Fn fn) {
  std::string text = readFile(p);
  std::istringstream in(text);
  std::string line;
  for (unsigned lineNo = 1; std::getline(in, line); ++lineNo) {
    auto fail = [&](const std::string &why) {
      throw Error(
          fmt::format("{}:{}: corrupt line: {}", p.string(), lineNo, why));
    };
    if (in.eof() && !text.empty() && text.back() != '\n') {
      fail("incomplete last line (a sweep was interrupted or is still "
           "running; rerun `nuri sweep` to finish it)");
    }
    llvm::Expected<json::Value> v = json::parse(line);
    if (!v) {
      fail(llvm::toString(v.takeError()));
    }
    const json::Object *o = v->getAsObject();
    if (!o) {
      fail("not a JSON object");
    }
    fn(*o, fail);
  }
}

Sweep load(const fs::path &dir) {
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) {
    throw Error(dir.string() + ": no such directory (the -o DIR of `nuri "
                               "sweep`)");
  }
  fs::path manifest = dir / "sweep.json";
  fs::path results = dir / "results.jsonl";
  if (!fs::exists(manifest) || !fs::exists(results)) {
    throw Error(fmt::format(
        "{}: no sweep results here ({} missing); run "
        "`nuri sweep SPEC.yaml -o {}` first",
        dir.string(), fs::exists(manifest) ? "results.jsonl" : "sweep.json",
        dir.string()));
  }
  Sweep s;
  llvm::Expected<json::Value> m = json::parse(readFile(manifest));
  const json::Object *mo = m ? m->getAsObject() : nullptr;
  if (!mo) {
    throw Error(manifest.string() +
                ": not the JSON object `nuri sweep` "
                "writes" +
                (m ? std::string() : ": " + llvm::toString(m.takeError())));
  }
  auto strings = [&](const char *key) {
    std::vector<std::string> out;
    if (const json::Array *a = mo->getArray(key)) {
      for (const json::Value &v : *a) {
        if (auto s = v.getAsString()) {
          out.push_back(s->str());
        }
      }
    }
    return out;
  };
  auto string = [&](const char *key) {
    auto v = mo->getString(key);
    return v ? v->str() : std::string();
  };
  s.name = string("name");
  s.specPath = string("spec");
  s.specHash = string("spec_hash");
  s.target = string("target");
  s.search = string("search");
  s.derived = strings("derived");
  s.columns = strings("columns");
  s.workloads = strings("workloads");
  if (const json::Array *axes = mo->getArray("axes")) {
    for (const json::Value &a : *axes) {
      const json::Object *ao = a.getAsObject();
      if (!ao || !ao->getString("key") || !ao->getArray("values")) {
        throw Error(manifest.string() + ": an axis without key or values");
      }
      AxisInfo info;
      info.key = ao->getString("key")->str();
      for (const json::Value &v : *ao->getArray("values")) {
        std::string t = v.getAsString() ? v.getAsString()->str() : "";
        Result<double> d = target::parseQuantity(t);
        info.texts.push_back(t);
        info.values.push_back(d ? *d : std::nan(""));
      }
      s.axes.push_back(std::move(info));
    }
  }
  if (const json::Array *objs = mo->getArray("objectives")) {
    for (const json::Value &o : *objs) {
      const json::Object *oo = o.getAsObject();
      if (!oo || !oo->getString("expr")) {
        continue;
      }
      Objective obj;
      obj.text = oo->getString("expr")->str();
      obj.maximize =
          oo->getString("sense") && *oo->getString("sense") == "maximize";
      if (Result<Expr> e = Expr::parse(obj.text)) {
        obj.expr = *e;
      }
      s.objectives.push_back(std::move(obj));
    }
  }
  if (s.columns.empty()) {
    throw Error(manifest.string() + ": no columns");
  }

  std::map<uint64_t, Point> byIndex;
  readJsonl(results, [&](const json::Object &o, auto fail) {
    std::optional<double> index = o.getNumber("point");
    std::optional<llvm::StringRef> status = o.getString("status");
    if (!index || !status || *index < 0 || *index != std::floor(*index)) {
      fail("no point or status");
    }
    Point p;
    p.index = uint64_t(*index);
    p.status = status->str();
    for (const std::string &c : s.columns) {
      const json::Value *cell = o.get(c);
      if (!cell || cell->kind() == json::Value::Null) {
        continue;
      }
      if (std::optional<double> d = cell->getAsNumber()) {
        p.v[c] = *d;
      } else if (std::optional<llvm::StringRef> str = cell->getAsString()) {
        p.v[c] = str->str();
      } else {
        fail("column `" + c + "` is neither a number nor a string");
      }
    }
    byIndex[p.index] = std::move(p);
  });
  if (byIndex.empty()) {
    throw Error(results.string() + ": no points yet (an empty results file)");
  }
  for (auto &[i, p] : byIndex) {
    s.points.push_back(std::move(p));
  }

  fs::path layers = dir / "layers.jsonl";
  if (fs::exists(layers)) {
    readJsonl(layers, [&](const json::Object &o, auto fail) {
      std::optional<double> index = o.getNumber("point");
      if (!index) {
        fail("no point");
      }
      auto num = [&](const char *k) { return o.getNumber(k).value_or(0); };
      Detail d;
      d.cycles = num("cycles");
      d.clockHz = num("clock_hz");
      d.cores = num("cores");
      d.macsPerCycle = num("macs_per_cycle_per_core");
      d.dramBw = num("dram_bytes_per_s");
      d.macs = num("macs");
      d.dramBytes = num("dram_bytes");
      d.nocBytes = num("noc_bytes");
      auto pairs = [&](const char *k,
                       std::vector<std::pair<std::string, double>> &out) {
        if (const json::Object *m = o.getObject(k)) {
          for (const auto &[key, v] : *m) {
            out.push_back({key.str(), v.getAsNumber().value_or(0)});
          }
          std::sort(out.begin(), out.end());
        }
      };
      pairs("engine_busy_cycles", d.busy);
      pairs("stall_cycles", d.stalls);
      if (const json::Array *ls = o.getArray("layers")) {
        for (const json::Value &l : *ls) {
          const json::Object *lo = l.getAsObject();
          if (!lo || !lo->getString("name")) {
            fail("a layer without a name");
          }
          Layer layer;
          layer.workload = lo->getString("workload").value_or("").str();
          layer.name = lo->getString("name")->str();
          layer.cycles = lo->getNumber("cycles").value_or(0);
          layer.flops = lo->getNumber("flops").value_or(0);
          layer.weightBytes = lo->getNumber("weight_bytes").value_or(0);
          const json::Object *busy = lo->getObject("engine_busy_cycles");
          const json::Object *stalls = lo->getObject("stall_cycles");
          if (busy && stalls) {
            layer.hasCounters = true;
            layer.vecBusy = busy->getNumber("vec").value_or(0);
            // Waiting on synchronization: barriers and semaphore waits.
            for (const auto &[why, n] : *stalls) {
              if (why == "barrier" ||
                  llvm::StringRef(why).starts_with("wait_")) {
                layer.syncStall += n.getAsNumber().value_or(0);
              }
            }
            layer.dramBytes = lo->getNumber("dram_bytes").value_or(0);
            layer.nocBytes = lo->getNumber("noc_bytes").value_or(0);
          }
          d.layers.push_back(std::move(layer));
        }
      }
      // A point rerun after a kill has two lines: the last one holds.
      s.details[uint64_t(*index)] = std::move(d);
    });
  }
  return s;
}

//===----------------------------------------------------------------------===//
// Formatting
//===----------------------------------------------------------------------===//

std::string esc(const std::string &s) {
  std::string o;
  for (char c : s) {
    switch (c) {
    case '&':
      o += "&amp;";
      break;
    case '<':
      o += "&lt;";
      break;
    case '>':
      o += "&gt;";
      break;
    case '"':
      o += "&quot;";
      break;
    default:
      o += c;
    }
  }
  return o;
}

/// The CSV's own formatting of a number (Sweep.cpp, csvCell).
std::string exact(double d) { return fmt::format("{:.17g}", d); }
/// What the page shows: six significant digits of the CSV's value.
std::string shown(double d) { return fmt::format("{:.6g}", d); }
std::string pct(double f) { return fmt::format("{:.1f}%", 100 * f); }

/// A table cell holding a results.csv value.
std::string cell(const Point &p, const std::string &col) {
  auto it = p.v.find(col);
  if (it == p.v.end()) {
    return fmt::format("<td data-col=\"{}\" data-v=\"\"></td>", esc(col));
  }
  if (std::holds_alternative<double>(it->second)) {
    double d = std::get<double>(it->second);
    return fmt::format("<td class=\"n\" data-col=\"{}\" data-v=\"{}\">{}</td>",
                       esc(col), exact(d), shown(d));
  }
  const std::string &s = std::get<std::string>(it->second);
  return fmt::format("<td data-col=\"{}\" data-v=\"{}\">{}</td>", esc(col),
                     esc(s), esc(s));
}

std::optional<double> objective(const Sweep &s, const Objective &o,
                                const Point &p) {
  if (!o.expr) {
    return std::nullopt;
  }
  Result<double> v =
      o.expr->evaluate([&](const std::string &name) { return p.num(name); });
  return v ? std::optional<double>(*v) : std::nullopt;
}

//===----------------------------------------------------------------------===//
// SVG
//===----------------------------------------------------------------------===//

/// One axis of a plot: linear or log10, mapped onto [lo, hi] pixels.
struct Scale {
  double min = 0, max = 1, lo = 0, hi = 1;
  bool log = false;
  double t(double v) const { return log ? std::log10(v) : v; }
  double operator()(double v) const {
    double a = t(min), b = t(max);
    return b == a ? (lo + hi) / 2 : lo + (t(v) - a) / (b - a) * (hi - lo);
  }
  std::vector<double> ticks() const {
    std::vector<double> out;
    if (log) {
      for (double e = std::floor(std::log10(min)); e <= std::log10(max) + 1e-9;
           e += 1) {
        double v = std::pow(10.0, e);
        if (v >= min * (1 - 1e-9)) {
          out.push_back(v);
        }
      }
      if (out.size() < 2) {
        out = {min, max};
      }
      return out;
    }
    for (int i = 0; i <= 4; ++i) {
      out.push_back(min + (max - min) * i / 4);
    }
    return out;
  }
};

Scale fit(std::vector<double> vs, double lo, double hi, bool allowLog) {
  Scale s;
  s.lo = lo;
  s.hi = hi;
  if (vs.empty()) {
    return s;
  }
  auto [mn, mx] = std::minmax_element(vs.begin(), vs.end());
  s.min = *mn;
  s.max = *mx;
  s.log = allowLog && s.min > 0 && s.max / s.min > 20;
  if (s.min == s.max) {
    double d = s.min == 0 ? 1 : std::fabs(s.min) * 0.1;
    s.min -= d;
    s.max += d;
    s.log = false;
  } else if (!s.log) {
    double pad = (s.max - s.min) * 0.05;
    s.min -= pad;
    s.max += pad;
  } else {
    s.min /= 1.3;
    s.max *= 1.3;
  }
  return s;
}

struct Plot {
  double w = 460, h = 320, left = 70, right = 15, top = 28, bottom = 48;
  std::string body;
  Scale x, y;
  bool numericX = true; ///< false: the caller labels x (categorical axes)
  std::string open(const std::string &title, const std::string &xl,
                   const std::string &yl) const {
    std::string s = fmt::format(
        "<svg class=\"plot\" xmlns=\"http://www.w3.org/2000/svg\" "
        "width=\"{0}\" height=\"{1}\" viewBox=\"0 0 {0} {1}\" role=\"img\">"
        "<title>{2}</title>"
        "<text x=\"{3}\" y=\"16\" class=\"pt\">{2}</text>"
        "<rect x=\"{3}\" y=\"{4}\" width=\"{5}\" height=\"{6}\" "
        "class=\"frame\"/>",
        w, h, esc(title), left, top, w - left - right, h - top - bottom);
    for (double v : numericX ? x.ticks() : std::vector<double>()) {
      double px = x(v);
      s += fmt::format("<line x1=\"{0:.1f}\" x2=\"{0:.1f}\" y1=\"{1}\" "
                       "y2=\"{2}\" class=\"grid\"/><text x=\"{0:.1f}\" "
                       "y=\"{3}\" class=\"tick\" text-anchor=\"middle\">{4}"
                       "</text>",
                       px, top, h - bottom, h - bottom + 14,
                       fmt::format("{:.3g}", v));
    }
    for (double v : y.ticks()) {
      double py = y(v);
      s += fmt::format("<line x1=\"{0}\" x2=\"{1}\" y1=\"{2:.1f}\" "
                       "y2=\"{2:.1f}\" class=\"grid\"/><text x=\"{3}\" "
                       "y=\"{4:.1f}\" class=\"tick\" text-anchor=\"end\">{5}"
                       "</text>",
                       left, w - right, py, left - 4, py + 4,
                       fmt::format("{:.3g}", v));
    }
    s += fmt::format("<text x=\"{:.1f}\" y=\"{}\" class=\"al\" "
                     "text-anchor=\"middle\">{}</text>",
                     left + (w - left - right) / 2, h - 8, esc(xl));
    s += fmt::format("<text transform=\"translate(14,{:.1f}) rotate(-90)\" "
                     "class=\"al\" text-anchor=\"middle\">{}</text>",
                     top + (h - top - bottom) / 2, esc(yl));
    return s;
  }
  void setScales(const std::vector<double> &xs, const std::vector<double> &ys,
                 bool logX, bool logY) {
    x = fit(xs, left, w - right, logX);
    y = fit(ys, h - bottom, top, logY);
  }
  std::string close() const { return body + "</svg>\n"; }
};

//===----------------------------------------------------------------------===//
// Sections
//===----------------------------------------------------------------------===//

/// Indices of the 2-D non-dominated points (both minimized).
std::vector<size_t> front2(const std::vector<std::pair<double, double>> &xy) {
  std::vector<std::vector<double>> objs;
  for (auto [a, b] : xy) {
    objs.push_back({a, b});
  }
  return paretoFront(objs);
}

std::string paretoPlot(const Sweep &s, const std::vector<const Point *> &ok,
                       const std::set<uint64_t> &ndFront,
                       const std::string &xcol, const std::string &ycol,
                       const std::string &xl, const std::string &yl) {
  std::vector<const Point *> pts;
  std::vector<std::pair<double, double>> xy;
  for (const Point *p : ok) {
    if (p->num(xcol) && p->num(ycol)) {
      pts.push_back(p);
      xy.push_back({*p->num(xcol), *p->num(ycol)});
    }
  }
  if (pts.empty()) {
    return fmt::format("<p class=\"note\">No ok point has both {} and {}.</p>",
                       esc(xcol), esc(ycol));
  }
  std::vector<size_t> f = front2(xy);
  std::set<size_t> onFront(f.begin(), f.end());
  Plot plot;
  std::vector<double> xs, ys;
  for (auto [a, b] : xy) {
    xs.push_back(a);
    ys.push_back(b);
  }
  plot.setScales(xs, ys, true, true);
  std::string head = plot.open(yl + " against " + xl, xl, yl);
  // The front as a staircase: what you give up along one axis for the
  // other.
  std::vector<size_t> fs(f.begin(), f.end());
  std::sort(fs.begin(), fs.end(),
            [&](size_t a, size_t b) { return xy[a] < xy[b]; });
  std::string path;
  for (size_t k = 0; k < fs.size(); ++k) {
    double px = plot.x(xy[fs[k]].first), py = plot.y(xy[fs[k]].second);
    if (k == 0) {
      path += fmt::format("M{:.1f},{:.1f}", px, py);
    } else {
      path += fmt::format(" H{:.1f} V{:.1f}", px, py);
    }
  }
  plot.body +=
      fmt::format("<path d=\"{}\" class=\"front\" fill=\"none\"/>", path);
  for (size_t i = 0; i < pts.size(); ++i) {
    bool fr = onFront.count(i);
    plot.body += fmt::format(
        "<circle cx=\"{:.1f}\" cy=\"{:.1f}\" r=\"{}\" class=\"{}\" "
        "data-point=\"{}\"><title>point {}: {} {}, {} {}{}</title></circle>",
        plot.x(xy[i].first), plot.y(xy[i].second), fr ? 5 : 3.5,
        fr ? "pf" : (ndFront.count(pts[i]->index) ? "pn" : "pd"), pts[i]->index,
        pts[i]->index, xcol, shown(xy[i].first), ycol, shown(xy[i].second),
        fr ? " (on this front)" : "");
  }
  return head + plot.close();
}

std::string sensitivity(const Sweep &s, const Point &anchor,
                        const std::vector<const Point *> &ok) {
  std::string out;
  std::string table =
      "<table><tr><th>objective</th><th>axis</th><th>values (others at the "
      "best point)</th><th>min</th><th>max</th><th>max / min</th></tr>\n";
  std::string plots;
  for (const Objective &o : s.objectives) {
    for (const AxisInfo &a : s.axes) {
      // The slice through the best point along this axis.
      std::vector<std::pair<size_t, double>> line;
      for (const Point *p : ok) {
        bool same = true;
        for (const AxisInfo &b : s.axes) {
          if (&b != &a && b.position(*p) != b.position(anchor)) {
            same = false;
            break;
          }
        }
        std::optional<size_t> pos = a.position(*p);
        std::optional<double> v = objective(s, o, *p);
        if (same && pos && v) {
          line.push_back({*pos, *v});
        }
      }
      std::sort(line.begin(), line.end());
      if (line.empty()) {
        continue;
      }
      double mn = line[0].second, mx = line[0].second;
      for (auto [i, v] : line) {
        mn = std::min(mn, v);
        mx = std::max(mx, v);
      }
      table += fmt::format(
          "<tr><td>{}</td><td>{}</td><td class=\"n\">{}/{}</td><td "
          "class=\"n\">{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td>"
          "</tr>\n",
          esc(o.text), esc(a.key), line.size(), a.texts.size(), shown(mn),
          shown(mx),
          // One point says nothing about the axis: no ratio, no plot.
          line.size() < 2 ? "- (one point)"
          : mn > 0        ? fmt::format("{:.2f}x", mx / mn)
                          : "-");
      if (line.size() < 2) {
        continue;
      }
      Plot plot;
      plot.w = 240;
      plot.h = 170;
      plot.left = 58;
      plot.bottom = 36;
      std::vector<double> xs, ys;
      for (size_t i = 0; i < a.texts.size(); ++i) {
        xs.push_back(double(i));
      }
      for (auto [i, v] : line) {
        ys.push_back(v);
      }
      plot.setScales(xs, ys, false, false);
      // Categorical x: one tick per axis value, labelled as the spec wrote it.
      plot.x.min = -0.5;
      plot.x.max = double(a.texts.size()) - 0.5;
      plot.numericX = false;
      std::string head = plot.open(o.text + " vs " + a.key, a.key, "");
      for (size_t i = 0; i < a.texts.size(); ++i) {
        head += fmt::format("<text x=\"{:.1f}\" y=\"{}\" class=\"tick\" "
                            "text-anchor=\"middle\">{}</text>",
                            plot.x(double(i)), plot.h - plot.bottom + 14,
                            esc(a.texts[i]));
      }
      std::string pl;
      for (auto [i, v] : line) {
        pl += fmt::format("{}{:.1f},{:.1f}", pl.empty() ? "" : " ",
                          plot.x(double(i)), plot.y(v));
      }
      plot.body += fmt::format(
          "<polyline points=\"{}\" class=\"sens\" fill=\"none\"/>", pl);
      for (auto [i, v] : line) {
        plot.body += fmt::format(
            "<circle cx=\"{:.1f}\" cy=\"{:.1f}\" r=\"3\" class=\"pf\">"
            "<title>{} = {}: {} {}</title></circle>",
            plot.x(double(i)), plot.y(v), esc(a.key), esc(a.texts[i]),
            esc(o.text), shown(v));
      }
      plots += head + plot.close();
    }
  }
  return table + "</table>\n<div class=\"grid3\">" + plots + "</div>\n";
}

std::string layerName(const Layer &l, bool withWorkload) {
  return withWorkload ? l.workload + ": " + l.name : l.name;
}

std::string roofline(const Detail &d, bool withWorkload) {
  double peak = 2 * d.macsPerCycle * d.cores * d.clockHz; // FLOP/s
  double bw = d.dramBw;
  if (peak <= 0 || bw <= 0 || d.clockHz <= 0) {
    return "<p class=\"note\">No peak or bandwidth recorded for this "
           "point.</p>";
  }
  double ridge = peak / bw;
  struct Dot {
    std::string label;
    double x, y;
    bool run;
    size_t layer = 0; ///< its row in the bottleneck table
  };
  std::vector<Dot> dots;
  for (size_t i = 0; i < d.layers.size(); ++i) {
    const Layer &l = d.layers[i];
    if (l.flops > 0 && l.cycles > 0 && l.weightBytes > 0) {
      dots.push_back({layerName(l, withWorkload), l.flops / l.weightBytes,
                      l.flops / (l.cycles / d.clockHz), false, i});
    }
  }
  if (d.dramBytes > 0 && d.cycles > 0 && d.macs > 0) {
    dots.push_back({"whole run (measured DRAM bytes)", 2 * d.macs / d.dramBytes,
                    2 * d.macs / (d.cycles / d.clockHz), true});
  }
  std::vector<double> xs = {ridge / 8, ridge * 8}, ys = {peak * 1.5};
  for (const Dot &dot : dots) {
    xs.push_back(dot.x);
    ys.push_back(dot.y);
  }
  ys.push_back(*std::min_element(ys.begin(), ys.end()) / 2);
  Plot plot;
  plot.w = 640;
  plot.h = 400;
  plot.setScales(xs, ys, true, true);
  plot.x.log = plot.y.log = true;
  std::string head = plot.open("Roofline of the best point", "FLOP per byte",
                               "FLOP/s achieved");
  double x0 = plot.x.min, x1 = plot.x.max;
  double yLeft = std::max(bw * x0, plot.y.min);
  double xLeft = yLeft / bw;
  plot.body += fmt::format(
      "<polyline points=\"{:.1f},{:.1f} {:.1f},{:.1f} {:.1f},{:.1f}\" "
      "class=\"roof\" fill=\"none\"/>",
      plot.x(xLeft), plot.y(yLeft), plot.x(ridge), plot.y(peak), plot.x(x1),
      plot.y(peak));
  plot.body += fmt::format(
      "<text x=\"{:.1f}\" y=\"{:.1f}\" class=\"tick\">peak {:.3g} TFLOP/s, "
      "DRAM {:.3g} GB/s, ridge {:.3g} FLOP/B</text>",
      plot.x(x0) + 6, plot.y(peak) - 6, peak / 1e12, bw / 1e9, ridge);
  // Layers with the same figures (the encoder layers of a transformer)
  // land on one spot: one label lists them all.
  std::map<std::pair<long, long>, std::string> labels;
  for (const Dot &dot : dots) {
    plot.body += fmt::format(
        "<circle cx=\"{:.1f}\" cy=\"{:.1f}\" r=\"{}\" class=\"{}\">"
        "<title>{}: {:.3g} FLOP/B, {:.3g} TFLOP/s</title></circle>",
        plot.x(dot.x), plot.y(dot.y), dot.run ? 6 : 4, dot.run ? "prun" : "pl",
        esc(dot.label), dot.x, dot.y / 1e12);
    if (!dot.run) {
      std::string &l =
          labels[{std::lround(plot.x(dot.x)), std::lround(plot.y(dot.y))}];
      l += (l.empty() ? "" : ",") + std::to_string(dot.layer);
    }
  }
  for (auto &[at, text] : labels) {
    plot.body += fmt::format("<text x=\"{}\" y=\"{}\" class=\"lbl\">{}</text>",
                             at.first + 6, at.second + 3, text);
  }
  std::string legend = "<p class=\"note\">Numbers on the dots are the "
                       "layers' rows (#) in the table below (layers without "
                       "matrix FLOPs or weights have no dot; layers with "
                       "the same figures share one); the larger red dot is "
                       "the whole run at its measured DRAM traffic.</p>";
  return head + plot.close() + legend;
}

/// The speed-of-light floors of a layer, in cycles: its matrix FLOPs at the
/// array's peak, and its weight bytes at the DRAM bandwidth.
std::pair<double, double> floors(const Detail &d, const Layer &l) {
  double compute = d.macsPerCycle * d.cores > 0
                       ? l.flops / 2 / (d.macsPerCycle * d.cores)
                       : 0;
  double dram = d.dramBw > 0 ? l.weightBytes / (d.dramBw / d.clockHz) : 0;
  return {compute, dram};
}

std::string bottlenecks(const Detail &d, bool withWorkload) {
  std::string t =
      "<table><tr><th>#</th><th>layer</th><th>cycles</th><th>share of "
      "run</th><th>GFLOP</th><th>weights MB</th><th>TFLOP/s</th><th>compute "
      "(% of peak)</th><th>DRAM, weights (% of bandwidth)</th><th>bound"
      "</th><th>DRAM, all (% of bandwidth)</th><th>vector (% busy)</th>"
      "<th>waiting on sync (% of queue time)</th><th>NoC MB</th></tr>\n";
  double total = 0;
  for (const Layer &l : d.layers) {
    total += l.cycles;
  }
  for (size_t i = 0; i < d.layers.size(); ++i) {
    const Layer &l = d.layers[i];
    auto [c, m] = floors(d, l);
    double cf = l.cycles > 0 ? c / l.cycles : 0;
    double mf = l.cycles > 0 ? m / l.cycles : 0;
    std::string bound = l.cycles == 0 ? "-"
                        : std::max(cf, mf) >= 0.6
                            ? (cf >= mf ? "compute" : "DRAM")
                            : "latency/overhead";
    t += fmt::format(
        "<tr><td>{}</td><td>{}</td><td class=\"n\">{:.0f}</td><td "
        "class=\"n\">{}</td><td class=\"n\">{:.4g}</td><td "
        "class=\"n\">{:.4g}</td><td class=\"n\">{:.4g}</td><td "
        "class=\"n\">{}</td><td class=\"n\">{}</td><td>{}</td></tr>\n",
        i, esc(layerName(l, withWorkload)), l.cycles,
        total > 0 ? pct(l.cycles / total) : "-", l.flops / 1e9,
        l.weightBytes / 1e6,
        l.cycles > 0 ? l.flops / (l.cycles / d.clockHz) / 1e12 : 0.0, pct(cf),
        pct(mf), bound);
    // The layer's own share of the chip's queues and traffic (the
    // simulator's counters between its kernels' barriers).
    double queues = d.cores * double(std::max<size_t>(d.busy.size(), 1));
    bool shares = l.hasCounters && l.cycles > 0 && d.cores > 0;
    t.resize(t.size() - std::string("</tr>\n").size());
    t += fmt::format("<td class=\"n\">{}</td><td class=\"n\">{}</td><td "
                     "class=\"n\">{}</td><td class=\"n\">{}</td></tr>\n",
                     shares && d.dramBw > 0
                         ? pct(l.dramBytes / (d.dramBw * l.cycles / d.clockHz))
                         : "-",
                     shares ? pct(l.vecBusy / (d.cores * l.cycles)) : "-",
                     shares ? pct(l.syncStall / (queues * l.cycles)) : "-",
                     l.hasCounters ? fmt::format("{:.4g}", l.nocBytes / 1e6)
                                   : "-");
  }
  t += "</table>\n";
  // Chip-wide: what the simulator counts per queue for the whole run.
  double cyc = d.cycles;
  t += "<h3>Whole run, chip-wide</h3><table><tr><th>figure</th><th>share"
       "</th><th>what</th></tr>\n";
  auto row = [&](const std::string &what, double f, const std::string &why) {
    t += fmt::format("<tr><td>{}</td><td class=\"n\">{}</td><td>{}</td></tr>\n",
                     esc(what), pct(f), esc(why));
  };
  if (cyc > 0 && d.cores > 0) {
    row("compute", d.macs / (d.macsPerCycle * d.cores * cyc),
        "useful MACs / (peak MACs per cycle x cores x cycles)");
    if (d.dramBw > 0 && d.clockHz > 0) {
      row("DRAM bandwidth", d.dramBytes / (d.dramBw * cyc / d.clockHz),
          fmt::format("{:.4g} MB read and written / (bandwidth x time)",
                      d.dramBytes / 1e6));
    }
    for (auto &[engine, busy] : d.busy) {
      row(engine + " queue busy", busy / (d.cores * cyc),
          "busy cycles / (cores x cycles)");
    }
    double queues = d.cores * double(std::max<size_t>(d.busy.size(), 1));
    for (auto &[why, n] : d.stalls) {
      row("stalled: " + why, n / (queues * cyc),
          "stall cycles / (queues x cycles)");
    }
    t += fmt::format("<tr><td>NoC traffic</td><td class=\"n\">{:.4g} MB</td>"
                     "<td>SRAM-to-SRAM bytes</td></tr>\n",
                     d.nocBytes / 1e6);
  }
  return t + "</table>\n";
}

std::string breakdown(const Detail &d, bool withWorkload) {
  double mx = 0;
  for (const Layer &l : d.layers) {
    mx = std::max(mx, l.cycles);
  }
  if (mx <= 0) {
    return "";
  }
  double rowH = 20, left = 230, width = 1000, barW = width - left - 90;
  double h = 40 + rowH * double(d.layers.size());
  std::string s = fmt::format(
      "<svg class=\"plot\" xmlns=\"http://www.w3.org/2000/svg\" "
      "width=\"{0}\" height=\"{1}\" viewBox=\"0 0 {0} {1}\" role=\"img\">"
      "<title>Where the cycles went, per layer</title>",
      width, h);
  const char *cls[] = {"bc", "bd", "bo"};
  const char *names[] = {"compute at peak", "weights from DRAM beyond compute",
                         "the rest: vector work, activations, sync, latency"};
  for (int k = 0; k < 3; ++k) {
    s += fmt::format("<rect x=\"{}\" y=\"6\" width=\"12\" height=\"12\" "
                     "class=\"{}\"/><text x=\"{}\" y=\"16\" class=\"tick\">{}"
                     "</text>",
                     left + k * 260, cls[k], left + k * 260 + 16, names[k]);
  }
  for (size_t i = 0; i < d.layers.size(); ++i) {
    const Layer &l = d.layers[i];
    auto [c, m] = floors(d, l);
    double comp = std::min(l.cycles, c);
    double dram = std::min(l.cycles - comp, std::max(0.0, m - c));
    double rest = l.cycles - comp - dram;
    double y = 30 + rowH * double(i);
    s += fmt::format("<text x=\"{}\" y=\"{:.1f}\" class=\"tick\" "
                     "text-anchor=\"end\">{} {}</text>",
                     left - 6, y + 13, i, esc(layerName(l, withWorkload)));
    double x = left;
    double parts[] = {comp, dram, rest};
    for (int k = 0; k < 3; ++k) {
      double w = parts[k] / mx * barW;
      if (w > 0) {
        s += fmt::format("<rect x=\"{:.1f}\" y=\"{:.1f}\" width=\"{:.1f}\" "
                         "height=\"{}\" class=\"{}\"><title>{}: {:.0f} cycles"
                         "</title></rect>",
                         x, y, w, rowH - 4, cls[k], names[k], parts[k]);
      }
      x += w;
    }
    s += fmt::format("<text x=\"{:.1f}\" y=\"{:.1f}\" class=\"tick\">{:.0f}"
                     "</text>",
                     x + 4, y + 13, l.cycles);
  }
  return s + "</svg>\n";
}

const char *kStyle = R"(
body{font:14px/1.4 sans-serif;margin:24px;color:#222;max-width:1360px}
h1{font-size:22px}h2{font-size:18px;margin-top:32px;border-bottom:1px solid #ccc}
h3{font-size:15px}
table{border-collapse:collapse;margin:8px 0}td,th{border:1px solid #ddd;padding:2px 6px}
th{background:#f4f4f4}td.n{text-align:right;font-variant-numeric:tabular-nums}
.note{color:#555}.plot{margin:4px 8px 4px 0;background:#fff}
.grid3{display:flex;flex-wrap:wrap}.wide{overflow-x:auto}
.frame{fill:none;stroke:#999}.grid{stroke:#eee}.tick{font-size:10px;fill:#444}
.al{font-size:11px;fill:#222}.pt{font-size:12px;font-weight:bold}.lbl{font-size:9px}
.pd{fill:#9aa5b1;fill-opacity:.7}.pn{fill:#f0a04b}.pf{fill:#d62728}
.front{stroke:#d62728;stroke-width:1.5}.sens{stroke:#1f77b4;stroke-width:1.5}
.roof{stroke:#222;stroke-width:2}.pl{fill:#1f77b4}.prun{fill:#d62728}
.bc{fill:#2ca02c}.bd{fill:#1f77b4}.bo{fill:#c7c7c7}
)";

std::string render(const Sweep &s) {
  std::vector<const Point *> ok;
  std::map<std::string, int> statuses;
  for (const Point &p : s.points) {
    ++statuses[p.status];
    if (p.status == "ok") {
      ok.push_back(&p);
    }
  }
  // The front over the spec's objectives (as pareto.csv has it).
  std::vector<std::vector<double>> objs;
  std::vector<const Point *> objPts;
  for (const Point *p : ok) {
    std::vector<double> v;
    bool all = true;
    for (const Objective &o : s.objectives) {
      std::optional<double> x = objective(s, o, *p);
      all &= x.has_value();
      v.push_back(x ? (o.maximize ? -*x : *x) : 0);
    }
    if (all) {
      objs.push_back(v);
      objPts.push_back(p);
    }
  }
  std::set<uint64_t> ndFront;
  for (size_t i : paretoFront(objs)) {
    ndFront.insert(objPts[i]->index);
  }
  // The best point: the first objective's best (latency without one).
  const Point *best = nullptr;
  double bestV = 0;
  std::string bestBy =
      s.objectives.empty() ? "latency_s" : s.objectives.front().text;
  for (const Point *p : ok) {
    std::optional<double> v = s.objectives.empty()
                                  ? p->num("latency_s")
                                  : objective(s, s.objectives.front(), *p);
    if (v && !s.objectives.empty() && s.objectives.front().maximize) {
      *v = -*v;
    }
    if (v && (!best || *v < bestV)) {
      best = p;
      bestV = *v;
    }
  }

  std::string h = "<!DOCTYPE html>\n<html lang=\"en\"><head><meta "
                  "charset=\"utf-8\"><title>" +
                  esc(s.name) + " - nuri sweep report</title><style>" + kStyle +
                  "</style></head><body>\n";
  h += fmt::format("<h1>Sweep report: {}</h1>\n", esc(s.name));
  std::string st;
  for (auto &[k, n] : statuses) {
    st += fmt::format("{}{} {}", st.empty() ? "" : ", ", n, esc(k));
  }
  std::string objText;
  for (const Objective &o : s.objectives) {
    objText += fmt::format("{}{} {}", objText.empty() ? "" : ", ",
                           o.maximize ? "maximize" : "minimize", esc(o.text));
  }
  std::string axesText;
  for (const AxisInfo &a : s.axes) {
    std::string vals;
    for (const std::string &t : a.texts) {
      vals += (vals.empty() ? "" : ", ") + t;
    }
    axesText +=
        fmt::format("<li><code>{}</code>: {}</li>", esc(a.key), esc(vals));
  }
  h += fmt::format(
      "<p>{} points ({}) of spec <code>{}</code> on target <code>{}</code>, "
      "search {}; objectives: {}; {} on their Pareto front.</p><ul>{}</ul>\n",
      s.points.size(), st, esc(s.specPath), esc(s.target), esc(s.search),
      objText, ndFront.size(), axesText);
  if (!s.points.empty()) {
    const Point &p = s.points.front();
    h += fmt::format("<p class=\"note\">Provenance: spec hash {}, nuri {} at "
                     "commit {}.</p>\n",
                     esc(p.str("spec_hash")), esc(p.str("nuri_version")),
                     esc(p.str("git_commit")));
  }

  // Columns shown for a point: everything but provenance and the reason.
  std::vector<std::string> shownCols;
  for (const std::string &c : s.columns) {
    if (c != "point" && c != "point_id" && c != "status" && c != "reason" &&
        c != "config_hash" && c != "spec_hash" && c != "nuri_version" &&
        c != "git_commit") {
      shownCols.push_back(c);
    }
  }
  auto header = [&] {
    std::string r = "<tr><th>point</th><th>status</th>";
    for (const std::string &c : shownCols) {
      r += "<th>" + esc(c) + "</th>";
    }
    return r + "</tr>\n";
  };
  auto rowOf = [&](const Point &p) {
    std::string r = fmt::format("<tr data-point=\"{}\">", p.index) +
                    cell(p, "point") + cell(p, "status");
    for (const std::string &c : shownCols) {
      r += cell(p, c);
    }
    return r + "</tr>\n";
  };

  h += "<h2>Pareto fronts</h2>\n<p class=\"note\">Each dot is an ok point "
       "(hover for its index and values; both axes log scale when they span "
       "more than 20x). Red: the front of the two plotted figures (the "
       "staircase: nothing is both faster and smaller/cheaper). Orange: on "
       "the front of all the spec's objectives but not of these two.</p>\n"
       "<div class=\"grid3\">";
  h += paretoPlot(s, ok, ndFront, "area_mm2", "latency_s", "area (mm^2)",
                  "latency (s)");
  h += paretoPlot(s, ok, ndFront, "energy_j", "latency_s", "energy (J)",
                  "latency (s)");
  h += "</div>\n";
  h += "<h3>Points on the front of all objectives</h3>\n<div "
       "class=\"wide\"><table class=\"res\">" +
       header();
  for (const Point *p : ok) {
    if (ndFront.count(p->index)) {
      h += rowOf(*p);
    }
  }
  h += "</table></div>\n";

  if (best) {
    h += fmt::format("<h2>Sensitivity</h2>\n<p class=\"note\">Each objective "
                     "along each axis, the other axes held at the best point "
                     "(point {}, best {}). A large max/min is an axis worth "
                     "spending on; a flat line is one to save on.</p>\n",
                     best->index, esc(bestBy));
    h += sensitivity(s, *best, ok);
    auto d = s.details.find(best->index);
    bool multi = s.workloads.size() > 1;
    h += fmt::format("<h2>Best point: {} (best {})</h2>\n<div "
                     "class=\"wide\"><table class=\"res\">",
                     best->index, esc(bestBy)) +
         header() + rowOf(*best) + "</table></div>\n";
    if (d == s.details.end()) {
      h += "<p class=\"note\">No per-layer detail for this point in "
           "layers.jsonl (a sweep from before it was recorded: rerun it in a "
           "new DIR).</p>\n";
    } else {
      double sum = 0;
      for (const Layer &l : d->second.layers) {
        sum += l.cycles;
      }
      std::optional<double> cyc = best->num("cycles");
      if (cyc && std::fabs(sum - *cyc) > 0.5) {
        h += fmt::format("<p class=\"note\">The layers' cycles add up to "
                         "{:.0f}, not the point's {:.0f}.</p>\n",
                         sum, *cyc);
      }
      h += "<h3>Roofline</h3>\n<p class=\"note\">A layer's FLOP per byte "
           "counts the weights it reads from DRAM (the compile report's "
           "figure; activations are not counted, so the true intensity is "
           "lower and a dot may sit further left). Its height is its matrix "
           "FLOPs over its simulated time.</p>\n";
      h += roofline(d->second, multi);
      h += "<h3>Per-layer bottlenecks (speed of light)</h3>\n<p "
           "class=\"note\">Compute: the layer's matrix FLOPs at the array's "
           "peak, as a share of its cycles. DRAM: its weight bytes at the "
           "configured bandwidth, as a share of its cycles. A layer near "
           "100% on one is bound by it; low on both, it waits on vector "
           "work, activations, synchronization or latency; the last four "
           "columns tell which: all its DRAM traffic (weights and "
           "activations) against the bandwidth, the vector queues' busy "
           "share, the share of queue time spent waiting on barriers and "
           "semaphores, and its SRAM-to-SRAM traffic. The table after has "
           "the same for the whole run.</p>\n";
      h += bottlenecks(d->second, multi);
      h += "<h3>Where the cycles went</h3>\n";
      h += breakdown(d->second, multi);
    }
  }

  h += "<h2>Invalid and failed points</h2>\n";
  std::string bad;
  for (const Point &p : s.points) {
    if (p.status == "ok") {
      continue;
    }
    std::string axes;
    for (const AxisInfo &a : s.axes) {
      std::optional<size_t> pos = a.position(p);
      axes += fmt::format("{}{}={}", axes.empty() ? "" : ", ", a.key,
                          pos ? a.texts[*pos] : std::string("?"));
    }
    bad += fmt::format("<tr data-point=\"{}\">{}{}<td>{}</td>{}</tr>\n",
                       p.index, cell(p, "point"), cell(p, "status"), esc(axes),
                       cell(p, "reason"));
  }
  h += bad.empty() ? "<p>None: every point is ok.</p>\n"
                   : "<table class=\"bad\"><tr><th>point</th><th>status</th>"
                     "<th>axes</th><th>reason</th></tr>\n" +
                         bad + "</table>\n";

  h += "<h2>All points</h2>\n<details><summary>every row of results.csv "
       "(six significant digits; the exact value is in each cell's "
       "data-v)</summary>\n<div class=\"wide\"><table class=\"res all\">" +
       header();
  for (const Point &p : s.points) {
    h += rowOf(p);
  }
  h += "</table></div></details>\n</body></html>\n";
  return h;
}

} // namespace

Result<std::string> renderReport(const std::string &dir) {
  return catchErrors([&] {
    try {
      return render(load(dir));
    } catch (const fs::filesystem_error &e) {
      throw Error(e.what());
    }
  });
}

} // namespace nuri::dse
