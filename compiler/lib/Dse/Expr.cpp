//===- Expr.cpp - Arithmetic over config keys and results -----------------===//

#include "nuri/Dse/Expr.h"

#include "nuri/target/Target.h"

#include <fmt/format.h>

#include <cctype>
#include <cmath>
#include <vector>

namespace nuri::dse {

struct Expr::Node {
  enum class Kind { Number, Name, Unary, Binary, Call } kind;
  double value = 0;
  std::string name; ///< Name: identifier; Unary/Binary: operator; Call: fn
  std::vector<std::shared_ptr<const Node>> args;
};

namespace {

using Node = Expr::Node;
using NodeP = std::shared_ptr<const Node>;

class Parser {
public:
  Parser(const std::string &text, std::set<std::string> &names)
      : s_(text), names_(names) {}

  NodeP parseAll() {
    NodeP n = parseOr();
    skip();
    if (pos_ < s_.size()) {
      fail(fmt::format("unexpected `{}`", s_.substr(pos_, 1)));
    }
    return n;
  }

private:
  [[noreturn]] void fail(const std::string &why) const {
    throw Error(fmt::format("column {}: {}", pos_ + 1, why));
  }
  void skip() {
    while (pos_ < s_.size() && std::isspace((unsigned char)s_[pos_])) {
      ++pos_;
    }
  }
  bool eat(const char *op) {
    skip();
    size_t n = std::char_traits<char>::length(op);
    if (s_.compare(pos_, n, op) != 0) {
      return false;
    }
    // `<` must not eat the start of `<=`, nor `!` of `!=`.
    if (n == 1 && pos_ + 1 < s_.size() && s_[pos_ + 1] == '=' &&
        (op[0] == '<' || op[0] == '>' || op[0] == '!' || op[0] == '=')) {
      return false;
    }
    pos_ += n;
    return true;
  }
  static NodeP make(Node::Kind k, std::string name,
                    std::vector<NodeP> args = {}, double v = 0) {
    auto n = std::make_shared<Node>();
    n->kind = k;
    n->name = std::move(name);
    n->args = std::move(args);
    n->value = v;
    return n;
  }

  NodeP parseOr() {
    NodeP l = parseAnd();
    while (eat("||")) {
      l = make(Node::Kind::Binary, "||", {l, parseAnd()});
    }
    return l;
  }
  NodeP parseAnd() {
    NodeP l = parseCmp();
    while (eat("&&")) {
      l = make(Node::Kind::Binary, "&&", {l, parseCmp()});
    }
    return l;
  }
  NodeP parseCmp() {
    NodeP l = parseSum();
    for (const char *op : {"<=", ">=", "==", "!=", "<", ">"}) {
      if (eat(op)) {
        return make(Node::Kind::Binary, op, {l, parseSum()});
      }
    }
    return l;
  }
  NodeP parseSum() {
    NodeP l = parseProd();
    while (true) {
      if (eat("+")) {
        l = make(Node::Kind::Binary, "+", {l, parseProd()});
      } else if (eat("-")) {
        l = make(Node::Kind::Binary, "-", {l, parseProd()});
      } else {
        return l;
      }
    }
  }
  NodeP parseProd() {
    NodeP l = parseUnary();
    while (true) {
      if (eat("*")) {
        l = make(Node::Kind::Binary, "*", {l, parseUnary()});
      } else if (eat("/")) {
        l = make(Node::Kind::Binary, "/", {l, parseUnary()});
      } else if (eat("%")) {
        l = make(Node::Kind::Binary, "%", {l, parseUnary()});
      } else {
        return l;
      }
    }
  }
  NodeP parseUnary() {
    if (eat("-")) {
      return make(Node::Kind::Unary, "-", {parseUnary()});
    }
    if (eat("!")) {
      return make(Node::Kind::Unary, "!", {parseUnary()});
    }
    NodeP a = parseAtom();
    if (eat("^")) {
      return make(Node::Kind::Binary, "^", {a, parseUnary()});
    }
    return a;
  }
  NodeP parseAtom() {
    skip();
    if (pos_ >= s_.size()) {
      fail("unexpected end of expression");
    }
    char c = s_[pos_];
    if (eat("(")) {
      NodeP n = parseOr();
      if (!eat(")")) {
        fail("expected `)`");
      }
      return n;
    }
    if (std::isdigit((unsigned char)c) || c == '.') {
      // A number with an optional unit: the config's own rules.
      size_t start = pos_;
      while (pos_ < s_.size() &&
             (std::isalnum((unsigned char)s_[pos_]) || s_[pos_] == '.' ||
              s_[pos_] == '_' ||
              ((s_[pos_] == '+' || s_[pos_] == '-') &&
               (s_[pos_ - 1] == 'e' || s_[pos_ - 1] == 'E')))) {
        ++pos_;
      }
      std::string lit = s_.substr(start, pos_ - start);
      Result<double> v = target::parseQuantity(lit);
      if (!v) {
        pos_ = start;
        fail(v.error());
      }
      return make(Node::Kind::Number, "", {}, *v);
    }
    if (std::isalpha((unsigned char)c) || c == '_') {
      size_t start = pos_;
      while (pos_ < s_.size() && (std::isalnum((unsigned char)s_[pos_]) ||
                                  s_[pos_] == '_' || s_[pos_] == '.')) {
        ++pos_;
      }
      std::string id = s_.substr(start, pos_ - start);
      if (eat("(")) {
        static const std::set<std::string> fns = {"min",  "max",   "abs",
                                                  "sqrt", "log2",  "log10",
                                                  "ceil", "floor", "pow"};
        if (!fns.count(id)) {
          pos_ = start;
          fail(fmt::format("unknown function `{}`", id));
        }
        std::vector<NodeP> args;
        if (!eat(")")) {
          do {
            args.push_back(parseOr());
          } while (eat(","));
          if (!eat(")")) {
            fail("expected `)` or `,`");
          }
        }
        size_t want = (id == "min" || id == "max")
                          ? std::max<size_t>(args.size(), 1)
                          : (id == "pow" ? 2 : 1);
        if (args.empty() || args.size() != want) {
          pos_ = start;
          fail(fmt::format("`{}` takes {} argument{}", id,
                           id == "min" || id == "max" ? "one or more"
                                                      : std::to_string(want),
                           want == 1 ? "" : "s"));
        }
        return make(Node::Kind::Call, id, std::move(args));
      }
      names_.insert(id);
      return make(Node::Kind::Name, id);
    }
    fail(fmt::format("unexpected `{}`", std::string(1, c)));
  }

  const std::string &s_;
  std::set<std::string> &names_;
  size_t pos_ = 0;
};

double eval(const Node &n, const Expr::Lookup &lookup) {
  switch (n.kind) {
  case Node::Kind::Number:
    return n.value;
  case Node::Kind::Name: {
    std::optional<double> v = lookup(n.name);
    if (!v) {
      throw Error(fmt::format("unknown name `{}`", n.name));
    }
    return *v;
  }
  case Node::Kind::Unary: {
    double a = eval(*n.args[0], lookup);
    return n.name == "-" ? -a : double(a == 0);
  }
  case Node::Kind::Binary: {
    const std::string &op = n.name;
    double a = eval(*n.args[0], lookup);
    // Short-circuit, so `x > 0 && y / x < 2` is safe.
    if (op == "&&") {
      return a != 0 && eval(*n.args[1], lookup) != 0;
    }
    if (op == "||") {
      return a != 0 || eval(*n.args[1], lookup) != 0;
    }
    double b = eval(*n.args[1], lookup);
    if (op == "+")
      return a + b;
    if (op == "-")
      return a - b;
    if (op == "*")
      return a * b;
    if (op == "/")
      return a / b;
    if (op == "%")
      return std::fmod(a, b);
    if (op == "^")
      return std::pow(a, b);
    if (op == "<")
      return a < b;
    if (op == "<=")
      return a <= b;
    if (op == ">")
      return a > b;
    if (op == ">=")
      return a >= b;
    if (op == "==")
      return a == b;
    return a != b;
  }
  case Node::Kind::Call: {
    std::vector<double> v;
    for (const NodeP &a : n.args) {
      v.push_back(eval(*a, lookup));
    }
    const std::string &f = n.name;
    if (f == "min" || f == "max") {
      double r = v[0];
      for (double x : v) {
        r = f == "min" ? std::min(r, x) : std::max(r, x);
      }
      return r;
    }
    if (f == "abs")
      return std::fabs(v[0]);
    if (f == "sqrt")
      return std::sqrt(v[0]);
    if (f == "log2")
      return std::log2(v[0]);
    if (f == "log10")
      return std::log10(v[0]);
    if (f == "ceil")
      return std::ceil(v[0]);
    if (f == "floor")
      return std::floor(v[0]);
    return std::pow(v[0], v[1]);
  }
  }
  return 0;
}

} // namespace

Result<Expr> Expr::parse(const std::string &text) {
  return catchErrors([&]() -> Expr {
    Expr e;
    e.text_ = text;
    Parser p(text, e.names_);
    e.root_ = p.parseAll();
    return e;
  });
}

Result<double> Expr::evaluate(const Lookup &lookup) const {
  return catchErrors([&]() -> double {
    double v = eval(*root_, lookup);
    if (std::isnan(v)) {
      throw Error("the result is not a number");
    }
    return v;
  });
}

} // namespace nuri::dse
