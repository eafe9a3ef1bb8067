//===- PackageFuzzer.cpp - libFuzzer entry for the package reader ---------===//
//
// Any byte string is a package the reader must survive: it reads or it
// reports an error. Checksums are off, so mutations reach the structural
// checks behind them; what reads is described and re-encoded, so every
// accepted field is used. The same bytes also go through the .npy parser.
//
//===----------------------------------------------------------------------===//

#include "nuri/npy/Npy.h"
#include "nuri/package/Package.h"

#include <cstddef>
#include <cstdint>
#include <cstdlib>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  nuri::package::ReadOptions options;
  options.verifyChecksums = false;
  nuri::Result<nuri::package::Package> p =
      nuri::package::readPackage(data, size, options);
  if (p) {
    (void)nuri::package::describePackage(*p, data, size);
    auto roundTrip = [](const nuri::package::Package &pkg) {
      for (const nuri::package::Partition &part : pkg.partitions) {
        std::vector<uint8_t> bytes = nuri::package::encodeGraph(part.graph);
        nuri::Result<nuri::graph::Graph> back =
            nuri::package::decodeGraph(bytes.data(), bytes.size());
        if (!back) {
          std::abort(); // an accepted graph must round-trip
        }
      }
    };
    roundTrip(*p);
    for (const nuri::package::ProgramDesc &prog : p->programs) {
      roundTrip(*prog.package); // the programs of a family
    }
  }
  (void)nuri::npy::parse(data, size, "fuzz.npy");
  return 0;
}
