//===- Expr.h - Arithmetic over config keys and results ---------*- C++ -*-===//
//
// The expressions of a sweep spec: derived keys (`matrix.rows * 2`) and
// constraints (`area_mm2 <= 400 && latency_s < 2e-3`). Identifiers may carry
// dots (config keys are `section.key`); they are resolved when evaluated, so
// one parsed expression serves every point.
//
// Grammar (lowest precedence first):
//   or    := and ('||' and)*
//   and   := cmp ('&&' cmp)*
//   cmp   := sum (('<' | '<=' | '>' | '>=' | '==' | '!=') sum)?
//   sum   := prod (('+' | '-') prod)*
//   prod  := unary (('*' | '/' | '%') unary)*
//   unary := ('-' | '!') unary | power
//   power := atom ('^' unary)?
//   atom  := NUMBER [unit] | IDENT | IDENT '(' args ')' | '(' or ')'
// Numbers take the config's units (4MiB, 1.5TB, 1GHz). Functions: min, max,
// abs, sqrt, log2, log10, ceil, floor, pow. Comparisons and logic give 1/0.
//
// A small hand-written evaluator rather than Debian's muparser or exprtk:
// identifiers with dots, units, a list of the names an expression reads
// (to tell config-only constraints from ones on results) and errors with a
// column are each a customisation there, and this is 250 lines.
//
//===----------------------------------------------------------------------===//

#ifndef NURI_DSE_EXPR_H
#define NURI_DSE_EXPR_H

#include "nuri/isa/Result.h"

#include <functional>
#include <memory>
#include <optional>
#include <set>
#include <string>

namespace nuri::dse {

class Expr {
public:
  /// Resolves an identifier; nullopt means unknown (an error naming it).
  using Lookup = std::function<std::optional<double>(const std::string &)>;

  /// Parses `text`; errors name the column (1-based).
  static Result<Expr> parse(const std::string &text);

  Result<double> evaluate(const Lookup &lookup) const;
  /// Identifiers the expression reads (not function names).
  const std::set<std::string> &names() const { return names_; }
  const std::string &text() const { return text_; }

  struct Node;

private:
  std::shared_ptr<const Node> root_;
  std::set<std::string> names_;
  std::string text_;
};

} // namespace nuri::dse

#endif // NURI_DSE_EXPR_H
