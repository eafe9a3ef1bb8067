//===- CliSupport.cpp - Shared pieces of the nuri subcommands -------------===//

#include "CliSupport.h"

#include "mlir/IR/BuiltinAttributes.h"
#include "mlir/IR/Diagnostics.h"
#include "mlir/IR/Location.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/MemoryBuffer.h"
#include "llvm/Support/ToolOutputFile.h"
#include "llvm/Support/WithColor.h"
#include "llvm/Support/raw_ostream.h"

using namespace mlir;
using namespace nuri::cli;

// "file", "file:line:col" or "file: node 'name'" for a location.
static std::string describe(Location loc) {
  if (auto name = dyn_cast<NameLoc>(loc)) {
    std::string inner = describe(name.getChildLoc());
    return (inner.empty() ? "" : inner + ": ") + "node '" +
           name.getName().str() + "'";
  }
  if (auto file = dyn_cast<FileLineColLoc>(loc)) {
    std::string s = file.getFilename().str();
    if (file.getLine()) {
      s += ":" + std::to_string(file.getLine()) + ":" +
           std::to_string(file.getColumn());
    }
    return s;
  }
  if (auto fused = dyn_cast<FusedLoc>(loc)) {
    return fused.getLocations().empty() ? ""
                                        : describe(fused.getLocations()[0]);
  }
  if (auto callSite = dyn_cast<CallSiteLoc>(loc)) {
    return describe(callSite.getCallee());
  }
  return "";
}

DiagnosticPrinter::DiagnosticPrinter(MLIRContext &context) : context(context) {
  handlerId = context.getDiagEngine().registerHandler([this](Diagnostic &d) {
    std::string where = describe(d.getLocation());
    llvm::raw_ostream &os = llvm::errs();
    if (!where.empty()) {
      os << where << ": ";
    }
    switch (d.getSeverity()) {
    case DiagnosticSeverity::Error:
      ++errors;
      llvm::WithColor(os, llvm::HighlightColor::Error) << "error: ";
      break;
    case DiagnosticSeverity::Warning:
      llvm::WithColor(os, llvm::HighlightColor::Warning) << "warning: ";
      break;
    default:
      llvm::WithColor(os, llvm::HighlightColor::Note) << "note: ";
      break;
    }
    os << d << "\n";
    for (Diagnostic &note : d.getNotes()) {
      os << "  note: " << note << "\n";
    }
    return success();
  });
}

DiagnosticPrinter::~DiagnosticPrinter() {
  context.getDiagEngine().eraseHandler(handlerId);
}

bool nuri::cli::writeOutput(llvm::StringRef path, llvm::StringRef text) {
  std::error_code ec;
  llvm::ToolOutputFile out(path, ec, llvm::sys::fs::OF_None);
  if (ec) {
    llvm::WithColor::error()
        << "cannot write '" << path << "': " << ec.message() << "\n";
    return false;
  }
  out.os() << text;
  out.os().flush();
  if (out.os().has_error()) {
    llvm::WithColor::error() << "cannot write '" << path << "'\n";
    out.os().clear_error();
    return false;
  }
  out.keep();
  return true;
}

bool nuri::cli::parseImportOptions(llvm::ArrayRef<std::string> inputShapes,
                                   llvm::ArrayRef<std::string> bindInputs,
                                   nuri::OnnxImportOptions &options) {
  for (const std::string &text : inputShapes) {
    std::string error = nuri::parseInputShapeOption(text, options);
    if (!error.empty()) {
      llvm::WithColor::error() << "--input-shape: " << error << "\n";
      return false;
    }
  }
  for (const std::string &text : bindInputs) {
    auto [name, file] = llvm::StringRef(text).split('=');
    auto buffer = llvm::MemoryBuffer::getFile(file, /*IsText=*/false);
    if (name.empty() || file.empty() || !buffer) {
      llvm::WithColor::error()
          << "--bind-input " << text
          << ": expected NAME=FILE.pb naming a readable file\n";
      return false;
    }
    options.constantInputs[name.str()] = (*buffer)->getBuffer().str();
  }
  return true;
}
