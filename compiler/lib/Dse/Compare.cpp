//===- Compare.cpp - Two simulation reports side by side ------------------===//

#include "nuri/Dse/Compare.h"

#include "llvm/Support/JSON.h"
#include "llvm/Support/raw_ostream.h"

#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <map>
#include <optional>
#include <set>
#include <string_view>
#include <vector>

namespace nuri::dse {

namespace {

// The energy model's component order, not the JSON's.
constexpr std::array<std::string_view, 7> kComponentOrder = {
    "matrix", "sram", "accumulator", "vector", "dram", "noc", "static"};

/// One report's figures: (name, value, whether it is a share 0..1) in the
/// order they print, and the per-kernel cycles.
struct Figures {
  std::vector<std::pair<std::string, double>> metrics;
  std::set<std::string> shares;
  std::vector<double> kernels; ///< cycles between barrier releases
  double tail = 0;             ///< cycles after the last release
  bool hasKernels = false;
};

double num(const llvm::json::Object &o, llvm::StringRef key) {
  std::optional<double> v = o.getNumber(key);
  return v ? *v : 0.0;
}

Figures extract(const llvm::json::Object &r) {
  Figures f;
  double cycles = num(r, "cycles");
  auto add = [&](const std::string &name, double v, bool share = false) {
    f.metrics.emplace_back(name, v);
    if (share) {
      f.shares.insert(name);
    }
  };
  add("cycles", cycles);
  add("time_us", num(r, "seconds") * 1e6);
  add("instructions", num(r, "instructions"));
  add("macs", num(r, "macs"));
  add("mac_utilization", num(r, "mac_utilization"), true);
  add("dram_bytes", num(r, "dram_bytes"));
  add("dram_utilization", num(r, "dram_utilization"), true);
  add("noc_bytes", num(r, "noc_bytes"));
  add("sram_peak_bytes", num(r, "sram_peak_bytes"));
  // Each engine's busy cycles over all cores' cycles: the share of the
  // chip's time that queue worked.
  std::vector<std::string> engines;
  std::map<std::string, double> busy;
  size_t cores = 0;
  if (const llvm::json::Array *cs = r.getArray("cores")) {
    cores = cs->size();
    for (const llvm::json::Value &c : *cs) {
      const llvm::json::Object *co = c.getAsObject();
      const llvm::json::Object *es = co ? co->getObject("engines") : nullptr;
      if (!es) {
        continue;
      }
      for (const auto &[name, e] : *es) {
        const llvm::json::Object *eo = e.getAsObject();
        if (!busy.count(name.str())) {
          engines.push_back(name.str());
        }
        busy[name.str()] += eo ? num(*eo, "busy_cycles") : 0;
      }
    }
  }
  std::sort(engines.begin(), engines.end());
  for (const std::string &e : engines) {
    add("busy." + e, cores && cycles ? busy[e] / (double(cores) * cycles) : 0,
        true);
  }
  if (const llvm::json::Object *st = r.getObject("stalls")) {
    std::vector<std::string> names;
    for (const auto &[name, v] : *st) {
      names.push_back(name.str());
    }
    std::sort(names.begin(), names.end());
    for (const std::string &n : names) {
      add("stall_cycles." + n, num(*st, n));
    }
  }
  for (const char *section : {"energy_j", "average_power_w"}) {
    const llvm::json::Object *e = r.getObject(section);
    if (!e) {
      continue;
    }
    add(std::string(section) + ".total", num(*e, "total"));
    std::vector<std::string> names;
    for (const auto &[name, v] : *e) {
      if (name != "total") {
        names.push_back(name.str());
      }
    }
    std::stable_sort(names.begin(), names.end(), [](auto &a, auto &b) {
      auto rank = [](const std::string &n) {
        auto it = std::find(kComponentOrder.begin(), kComponentOrder.end(), n);
        return it - kComponentOrder.begin();
      };
      return rank(a) < rank(b);
    });
    for (const std::string &n : names) {
      add(std::string(section) + "." + n, num(*e, n));
    }
  }
  if (const llvm::json::Array *rel = r.getArray("barrier_releases")) {
    f.hasKernels = true;
    double prev = 0;
    for (const llvm::json::Value &v : *rel) {
      double c = v.getAsNumber().value_or(prev);
      f.kernels.push_back(c - prev);
      prev = c;
    }
    f.tail = std::max(0.0, cycles - prev);
  }
  return f;
}

/// The change from `a` to `b`: points for shares, a ratio otherwise.
std::string changeText(double a, double b, bool share) {
  if (share) {
    return fmt::format("{:+.1f} pt", 100 * (b - a));
  }
  if (a == b) {
    return "=";
  }
  if (a == 0) {
    return "new";
  }
  return fmt::format("{:+.1f}%", 100 * (b / a - 1));
}

std::optional<double> changeValue(double a, double b, bool share) {
  if (share) {
    return b - a;
  }
  if (a == 0) {
    return a == b ? std::optional<double>(0.0) : std::nullopt;
  }
  return b / a - 1;
}

std::string fmtValue(double v, bool share) {
  if (share) {
    return fmt::format("{:.1f}%", 100 * v);
  }
  if (v == std::floor(v) && std::fabs(v) < 1e15) {
    return fmt::format("{}", int64_t(v));
  }
  return fmt::format("{:.6g}", v);
}

} // namespace

Result<std::string> compareSimReports(const std::string &baseText,
                                      const std::string &baseName,
                                      const std::string &curText,
                                      const std::string &curName, bool json) {
  return catchErrors([&]() -> std::string {
    auto parse = [](const std::string &text, const std::string &name) {
      llvm::Expected<llvm::json::Value> v = llvm::json::parse(text);
      if (!v) {
        throw Error(fmt::format("{}: not a `nuri sim --json` report: {}", name,
                                llvm::toString(v.takeError())));
      }
      const llvm::json::Object *o = v->getAsObject();
      if (!o || !o->getNumber("cycles")) {
        throw Error(fmt::format("{}: not a `nuri sim --json` report (no "
                                "`cycles`)",
                                name));
      }
      return extract(*o);
    };
    Figures a = parse(baseText, baseName), b = parse(curText, curName);
    // Metrics of either report; one the other lacks is 0 there (a stall
    // reason that did not occur, energy of a config without `energy:`).
    std::vector<std::string> names;
    std::map<std::string, double> av, bv;
    std::set<std::string> shares = a.shares;
    shares.insert(b.shares.begin(), b.shares.end());
    for (const Figures *f : {&a, &b}) {
      for (auto &[n, v] : f->metrics) {
        if (!av.count(n) && !bv.count(n)) {
          names.push_back(n);
        }
        (f == &a ? av : bv)[n] = v;
      }
    }
    bool sameKernels =
        a.hasKernels && b.hasKernels && a.kernels.size() == b.kernels.size();
    std::string kernelNote =
        !a.hasKernels || !b.hasKernels ? "a report has no barrier_releases"
        : sameKernels
            ? fmt::format("{} kernels in both", a.kernels.size())
            : fmt::format("{} kernels in {}, {} in {}: not the same program's "
                          "kernels, so they are not compared one by one",
                          a.kernels.size(), baseName, b.kernels.size(),
                          curName);
    double delta = bv["cycles"] - av["cycles"];
    if (json) {
      std::string s;
      llvm::raw_string_ostream os(s);
      llvm::json::OStream j(os, 1);
      j.object([&] {
        j.attribute("baseline", baseName);
        j.attribute("current", curName);
        j.attributeArray("metrics", [&] {
          for (const std::string &n : names) {
            bool share = shares.count(n);
            j.object([&] {
              j.attribute("name", n);
              j.attribute("baseline", av[n]);
              j.attribute("current", bv[n]);
              std::optional<double> c = changeValue(av[n], bv[n], share);
              j.attribute("change", c ? llvm::json::Value(*c)
                                      : llvm::json::Value(nullptr));
              j.attribute("unit", share ? "share" : "value");
            });
          }
        });
        j.attribute("kernels_note", kernelNote);
        if (sameKernels) {
          j.attributeArray("kernels", [&] {
            for (size_t k = 0; k <= a.kernels.size(); ++k) {
              bool tail = k == a.kernels.size();
              double x = tail ? a.tail : a.kernels[k];
              double y = tail ? b.tail : b.kernels[k];
              j.object([&] {
                j.attribute("kernel", tail ? llvm::json::Value("tail")
                                           : llvm::json::Value(int64_t(k)));
                j.attribute("baseline_cycles", x);
                j.attribute("current_cycles", y);
                std::optional<double> c = changeValue(x, y, false);
                j.attribute("change", c ? llvm::json::Value(*c)
                                        : llvm::json::Value(nullptr));
              });
            }
          });
        }
      });
      os.flush();
      return s + "\n";
    }
    std::string s =
        fmt::format("baseline {}\ncurrent  {}\n\n", baseName, curName);
    s += fmt::format("{:<28} {:>16} {:>16} {:>10}\n", "metric", "baseline",
                     "current", "change");
    for (const std::string &n : names) {
      bool share = shares.count(n);
      s += fmt::format("{:<28} {:>16} {:>16} {:>10}\n", n,
                       fmtValue(av[n], share), fmtValue(bv[n], share),
                       changeText(av[n], bv[n], share));
    }
    s += fmt::format("\nkernels (cycles between chip-wide barrier releases): "
                     "{}\n",
                     kernelNote);
    if (!sameKernels) {
      return s;
    }
    s += fmt::format("{:>6} {:>12} {:>12} {:>10} {:>10}\n", "kernel",
                     "baseline", "current", "change", "of delta");
    std::vector<std::pair<double, size_t>> moved;
    for (size_t k = 0; k <= a.kernels.size(); ++k) {
      bool tail = k == a.kernels.size();
      double x = tail ? a.tail : a.kernels[k];
      double y = tail ? b.tail : b.kernels[k];
      if (tail && x == 0 && y == 0) {
        continue;
      }
      moved.emplace_back(-std::fabs(y - x), k);
      // Each kernel's share of the total change in cycles: where the
      // difference between the two runs comes from.
      s += fmt::format(
          "{:>6} {:>12} {:>12} {:>10} {:>10}\n",
          tail ? std::string("tail") : std::to_string(k), fmtValue(x, false),
          fmtValue(y, false), changeText(x, y, false),
          delta != 0 ? fmt::format("{:.1f}%", 100 * (y - x) / delta)
                     : std::string("-"));
    }
    std::sort(moved.begin(), moved.end());
    s += "largest changes:";
    for (size_t i = 0; i < moved.size() && i < 5 && moved[i].first < 0; ++i) {
      size_t k = moved[i].second;
      bool tail = k == a.kernels.size();
      double x = tail ? a.tail : a.kernels[k];
      double y = tail ? b.tail : b.kernels[k];
      s += fmt::format(" {} {:+}",
                       tail ? std::string("tail") : fmt::format("kernel {}", k),
                       int64_t(y - x));
    }
    return s + (moved.empty() || moved[0].first == 0 ? " none\n" : "\n");
  });
}

} // namespace nuri::dse
