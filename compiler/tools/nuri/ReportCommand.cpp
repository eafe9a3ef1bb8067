//===- ReportCommand.cpp - nuri report ------------------------------------===//
//
// `nuri report DIR -o report.html`: the HTML report of a sweep's results
// (docs/dse.md, "How to read the report").
//
//===----------------------------------------------------------------------===//

#include "Command.h"

#include "nuri/Dse/Report.h"

#include "llvm/Support/raw_ostream.h"

#include <fstream>

namespace {

namespace cl = llvm::cl;

cl::SubCommand reportCmd("report", "Write the HTML report of a sweep "
                                   "(nuri sweep -o DIR)");
cl::opt<std::string> reportDir(cl::Positional, cl::desc("<DIR>"), cl::Required,
                               cl::sub(reportCmd));
cl::opt<std::string> reportOut("o", cl::desc("output HTML file"),
                               cl::value_desc("report.html"),
                               cl::init("report.html"), cl::sub(reportCmd));

int runReport() {
  nuri::Result<std::string> html = nuri::dse::renderReport(reportDir);
  if (!html) {
    llvm::errs() << "nuri report: " << html.error() << "\n";
    return 1;
  }
  std::ofstream out(reportOut.getValue(), std::ios::binary | std::ios::trunc);
  out << *html;
  out.close();
  if (!out) {
    llvm::errs() << "nuri report: " << reportOut << ": cannot write\n";
    return 1;
  }
  llvm::outs() << reportOut << "\n";
  return 0;
}
nuri::cli::CommandRegistration reportReg(reportCmd, runReport);

} // namespace
