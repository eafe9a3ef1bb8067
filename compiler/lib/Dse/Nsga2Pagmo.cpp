//===- Nsga2Pagmo.cpp - NSGA-II from pagmo2, loaded on demand -------------===//
//
// The pagmo half of nsga2Search, built as its own module (libnuri_nsga2.so)
// and loaded by Nsga2.cpp only when a sweep asks for NSGA-II: libpagmo
// builds its benchmark problems' tables when it loads (about 37 MB and 30 ms),
// which every `nuri` command would otherwise pay.
//
//===----------------------------------------------------------------------===//

#include "nuri/Dse/Nsga2.h"

#include <pagmo/algorithms/nsga2.hpp>
#include <pagmo/batch_evaluators/member_bfe.hpp>
#include <pagmo/bfe.hpp>
#include <pagmo/population.hpp>
#include <pagmo/problem.hpp>

#include <cmath>
#include <map>
#include <memory>
#include <mutex>
#include <string>

namespace nuri::dse {
namespace {

/// What the search has seen, shared by the problem's copies (pagmo copies
/// the problem into the population).
struct Archive {
  std::mutex mutex;
  std::map<std::vector<uint64_t>, std::vector<double>> seen;
  std::vector<std::vector<uint64_t>> order;
};

/// The pagmo user-defined problem: integer variables, batch fitness.
struct GridProblem {
  std::vector<uint64_t> radix;
  unsigned nobj = 1;
  const BatchEvaluator *evaluate = nullptr;
  std::shared_ptr<Archive> archive;

  std::pair<pagmo::vector_double, pagmo::vector_double> get_bounds() const {
    pagmo::vector_double lo(radix.size(), 0), hi;
    for (uint64_t r : radix) {
      hi.push_back(double(r - 1));
    }
    return {lo, hi};
  }
  pagmo::vector_double::size_type get_nobj() const { return nobj; }
  pagmo::vector_double::size_type get_nix() const { return radix.size(); }

  pagmo::vector_double fitness(const pagmo::vector_double &x) const {
    return batch_fitness(x);
  }
  /// `dvs` holds the points back to back; fitnesses come back the same way.
  pagmo::vector_double batch_fitness(const pagmo::vector_double &dvs) const {
    size_t n = dvs.size() / radix.size();
    std::vector<std::vector<uint64_t>> points(n), fresh;
    for (size_t i = 0; i < n; ++i) {
      for (size_t a = 0; a < radix.size(); ++a) {
        points[i].push_back(uint64_t(std::llround(dvs[i * radix.size() + a])));
      }
    }
    {
      std::lock_guard<std::mutex> lock(archive->mutex);
      std::map<std::vector<uint64_t>, bool> queued;
      for (const auto &p : points) {
        if (!archive->seen.count(p) && !queued[p]) {
          queued[p] = true;
          fresh.push_back(p);
        }
      }
    }
    std::vector<std::vector<double>> f =
        fresh.empty() ? std::vector<std::vector<double>>() : (*evaluate)(fresh);
    pagmo::vector_double out;
    std::lock_guard<std::mutex> lock(archive->mutex);
    for (size_t i = 0; i < fresh.size(); ++i) {
      archive->seen[fresh[i]] = f[i];
      archive->order.push_back(fresh[i]);
    }
    for (const auto &p : points) {
      const std::vector<double> &v = archive->seen.at(p);
      out.insert(out.end(), v.begin(), v.end());
    }
    return out;
  }
};

} // namespace

} // namespace nuri::dse

using namespace nuri::dse;

/// The module's one entry point (Nsga2.cpp looks it up by this name). The
/// options are validated by the caller. Returns false with `error` set when
/// pagmo throws.
extern "C" __attribute__((visibility("default"))) bool nuri_dse_nsga2_search(
    const std::vector<uint64_t> &radix, unsigned objectives,
    const BatchEvaluator &evaluate, const Nsga2Options &options,
    std::vector<std::vector<uint64_t>> &out, std::string &error) {
  try {
    GridProblem udp;
    udp.radix = radix;
    udp.nobj = objectives;
    udp.evaluate = &evaluate;
    udp.archive = std::make_shared<Archive>();
    std::shared_ptr<Archive> archive = udp.archive;
    pagmo::problem prob{udp};
    // pagmo's seeds are unsigned; the spec's seed is folded into one.
    unsigned seed = unsigned(options.seed ^ (options.seed >> 32));
    pagmo::bfe batch{pagmo::member_bfe{}};
    pagmo::population pop{prob, batch, options.population, seed};
    pagmo::nsga2 algo(options.generations, 0.95, 10., 1.0 / radix.size(), 50.,
                      seed);
    algo.set_bfe(batch);
    pop = algo.evolve(pop);
    out = archive->order;
    return true;
  } catch (const std::exception &e) {
    error = std::string("nsga2: ") + e.what();
    return false;
  }
}
