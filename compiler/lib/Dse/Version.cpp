//===- Version.cpp - Provenance of sweep results --------------------------===//
//
// Alone in its file: the commit changes with every commit, and only this
// file recompiles then.
//
//===----------------------------------------------------------------------===//

#include "nuri/Dse/Sweep.h"

namespace nuri::dse {

std::string nuriVersion() { return NURI_VERSION_STRING; }
std::string nuriGitCommit() { return NURI_GIT_COMMIT; }

} // namespace nuri::dse
