//===- Nsga2.cpp - Multi-objective search over a sweep's grid -------------===//

#include "nuri/Dse/Nsga2.h"

#include <fmt/format.h>

#ifdef NURI_HAVE_PAGMO
#include <pagmo/algorithms/nsga2.hpp>
#include <pagmo/batch_evaluators/member_bfe.hpp>
#include <pagmo/bfe.hpp>
#include <pagmo/population.hpp>
#include <pagmo/problem.hpp>
#endif

#include <cmath>
#include <map>
#include <memory>
#include <mutex>

namespace nuri::dse {

#ifdef NURI_HAVE_PAGMO
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
#endif

bool haveNsga2() {
#ifdef NURI_HAVE_PAGMO
  return true;
#else
  return false;
#endif
}

Result<std::vector<std::vector<uint64_t>>>
nsga2Search(const std::vector<uint64_t> &radix, unsigned objectives,
            const BatchEvaluator &evaluate, const Nsga2Options &options) {
  using Out = std::vector<std::vector<uint64_t>>;
  if (options.population < 8 || options.population % 4) {
    return Result<Out>::failure(fmt::format(
        "nsga2: population {} must be a multiple of 4 and at least 8",
        options.population));
  }
  if (objectives < 2) {
    return Result<Out>::failure(
        "nsga2: a multi-objective search needs at least two objectives");
  }
#ifdef NURI_HAVE_PAGMO
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
    return archive->order;
  } catch (const std::exception &e) {
    return Result<Out>::failure(std::string("nsga2: ") + e.what());
  }
#else
  (void)radix;
  (void)evaluate;
  return Result<Out>::failure(
      "nsga2: this Nuri was built without pagmo (install libpagmo-dev, "
      "scripts/install-deps.sh, and reconfigure)");
#endif
}

} // namespace nuri::dse
