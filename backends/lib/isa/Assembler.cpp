//===- Assembler.cpp - .nasm text <-> Program
//------------------------------===//

#include "nuri/isa/Assembler.h"

#include <fmt/format.h>

#include <cctype>
#include <charconv>
#include <cstring>
#include <fstream>
#include <map>
#include <sstream>

namespace nuri::isa {

namespace {

std::string_view trim(std::string_view s) {
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.front()))) {
    s.remove_prefix(1);
  }
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) {
    s.remove_suffix(1);
  }
  return s;
}

bool isIdentStart(char c) {
  return std::isalpha(static_cast<unsigned char>(c)) || c == '_' || c == '.';
}
bool isIdentChar(char c) {
  return std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '.';
}

std::string_view stripComment(std::string_view line) {
  size_t cut = line.size();
  for (size_t i = 0; i < line.size(); ++i) {
    if (line[i] == '#' || line[i] == ';' ||
        (line[i] == '/' && i + 1 < line.size() && line[i + 1] == '/')) {
      cut = i;
      break;
    }
  }
  return line.substr(0, cut);
}

/// Splits "a=1, b = 2 c=3" into key/value pairs.
bool splitOperands(std::string_view s,
                   std::vector<std::pair<std::string, std::string>> &out,
                   std::string &err) {
  size_t i = 0;
  auto skipSep = [&] {
    while (i < s.size() &&
           (std::isspace(static_cast<unsigned char>(s[i])) || s[i] == ',')) {
      ++i;
    }
  };
  skipSep();
  while (i < s.size()) {
    size_t keyStart = i;
    while (i < s.size() && isIdentChar(s[i])) {
      ++i;
    }
    std::string key(s.substr(keyStart, i - keyStart));
    while (i < s.size() && std::isspace(static_cast<unsigned char>(s[i]))) {
      ++i;
    }
    if (key.empty() || i >= s.size() || s[i] != '=') {
      err = fmt::format("expected `field=value`, got `{}`",
                        trim(s.substr(keyStart)));
      return false;
    }
    ++i;
    while (i < s.size() && std::isspace(static_cast<unsigned char>(s[i]))) {
      ++i;
    }
    size_t valStart = i;
    // A value runs to the next comma or to blank space followed by a new
    // `key=`; blanks inside `a + b` are allowed.
    while (i < s.size() && s[i] != ',') {
      if (std::isspace(static_cast<unsigned char>(s[i]))) {
        size_t j = i;
        while (j < s.size() && std::isspace(static_cast<unsigned char>(s[j]))) {
          ++j;
        }
        size_t k = j;
        while (k < s.size() && isIdentChar(s[k])) {
          ++k;
        }
        size_t m = k;
        while (m < s.size() && std::isspace(static_cast<unsigned char>(s[m]))) {
          ++m;
        }
        if (k > j && m < s.size() && s[m] == '=') {
          break;
        }
      }
      ++i;
    }
    std::string value(trim(s.substr(valStart, i - valStart)));
    if (value.empty()) {
      err = fmt::format("field `{}` has no value", key);
      return false;
    }
    out.emplace_back(std::move(key), std::move(value));
    skipSep();
  }
  return true;
}

bool parseUnsigned(std::string_view s, uint64_t &out) {
  std::string clean;
  for (char c : s) {
    if (c != '_') {
      clean += c;
    }
  }
  int base = 10;
  std::string_view digits = clean;
  if (digits.size() > 2 && digits[0] == '0' &&
      (digits[1] == 'x' || digits[1] == 'X')) {
    base = 16;
    digits.remove_prefix(2);
  } else if (digits.size() > 2 && digits[0] == '0' &&
             (digits[1] == 'b' || digits[1] == 'B')) {
    base = 2;
    digits.remove_prefix(2);
  }
  if (digits.empty()) {
    return false;
  }
  auto [ptr, ec] =
      std::from_chars(digits.data(), digits.data() + digits.size(), out, base);
  return ec == std::errc() && ptr == digits.data() + digits.size();
}

class Assembler {
public:
  Assembler(std::string_view text, std::string_view fileName)
      : text_(text), file_(fileName) {}

  Program run() {
    // Pass 1 collects labels per stream, pass 2 encodes, so a `repeat` may
    // name any label of its stream.
    pass(/*emit=*/false);
    pass(/*emit=*/true);
    std::string err = verifyProgram(program_);
    if (!err.empty()) {
      throw Error(fmt::format("{}: {}", file_, err));
    }
    return std::move(program_);
  }

private:
  [[noreturn]] void fail(const std::string &msg) const {
    throw Error(fmt::format("{}:{}: {}", file_, line_, msg));
  }

  uint64_t evalTerm(std::string_view t) {
    t = trim(t);
    uint64_t v;
    if (parseUnsigned(t, v)) {
      return v;
    }
    auto it = equs_.find(std::string(t));
    if (it != equs_.end()) {
      return it->second;
    }
    fail(fmt::format("unknown value `{}`", t));
  }

  /// An integer expression: terms joined by + and -.
  uint64_t evalExpr(std::string_view s) {
    uint64_t acc = 0;
    bool negate = false;
    size_t start = 0;
    bool any = false;
    for (size_t i = 0; i <= s.size(); ++i) {
      if (i == s.size() || s[i] == '+' || s[i] == '-') {
        std::string_view term = trim(s.substr(start, i - start));
        if (term.empty()) {
          if (i == 0 && i < s.size() && s[i] == '-') {
            fail(fmt::format("negative value `{}`", s));
          }
          if (i < s.size()) {
            fail(fmt::format("malformed expression `{}`", s));
          }
        } else {
          uint64_t v = evalTerm(term);
          acc = negate ? acc - v : acc + v;
          any = true;
        }
        if (i < s.size()) {
          negate = s[i] == '-';
        }
        start = i + 1;
      }
    }
    if (!any) {
      fail(fmt::format("malformed expression `{}`", s));
    }
    if (int64_t(acc) < 0) {
      fail(fmt::format("expression `{}` is negative", s));
    }
    return acc;
  }

  uint64_t parseValue(const FieldInfo &fi, const std::string &text) {
    uint64_t v;
    if (enumCount(fi.kind)) {
      if (parseEnum(fi.kind, text, v)) {
        return v;
      }
      if (parseUnsigned(text, v)) {
        return v;
      }
      fail(fmt::format("`{}` is not a valid {} value", text, fi.mnemonic));
    }
    if (fi.kind == FieldKind::F32) {
      if (text.size() > 2 && text[0] == '0' &&
          (text[1] == 'x' || text[1] == 'X')) {
        if (!parseUnsigned(text, v) || v > 0xffffffffu) {
          fail(fmt::format("bad fp32 bit pattern `{}`", text));
        }
        return v;
      }
      const char *begin = text.c_str();
      char *end = nullptr;
      float x = std::strtof(begin, &end);
      if (end != begin + text.size()) {
        // Perhaps an .equ name holding raw bits.
        return evalExpr(text);
      }
      uint32_t bits;
      std::memcpy(&bits, &x, 4);
      return bits;
    }
    if (fi.kind == FieldKind::Label) {
      auto &labels = labels_[currentKey()];
      auto it = labels.find(text);
      if (it != labels.end()) {
        return it->second;
      }
      if (!emit_) {
        return 0;
      }
      if (parseUnsigned(text, v)) {
        return v;
      }
      fail(fmt::format("unknown label `{}` in this stream", text));
    }
    return evalExpr(text);
  }

  std::pair<unsigned, unsigned> currentKey() const {
    return {core_, static_cast<unsigned>(engine_)};
  }

  void directive(std::string_view line) {
    size_t sp = line.find_first_of(" \t");
    std::string_view name = line.substr(0, sp);
    std::string_view rest =
        sp == std::string_view::npos ? "" : trim(line.substr(sp));
    if (name == ".equ") {
      size_t comma = rest.find(',');
      if (comma == std::string_view::npos) {
        fail("expected `.equ NAME, value`");
      }
      std::string key(trim(rest.substr(0, comma)));
      if (key.empty() || !isIdentStart(key[0])) {
        fail(fmt::format("bad .equ name `{}`", key));
      }
      uint64_t v = evalExpr(trim(rest.substr(comma + 1)));
      auto [it, inserted] = equs_.emplace(key, v);
      if (!inserted && it->second != v) {
        fail(fmt::format(".equ `{}` redefined", key));
      }
      return;
    }
    if (name == ".stream") {
      std::vector<std::pair<std::string, std::string>> ops;
      std::string err;
      if (!splitOperands(rest, ops, err)) {
        fail(err);
      }
      bool haveCore = false, haveEngine = false;
      for (auto &[k, v] : ops) {
        if (k == "core") {
          core_ = static_cast<unsigned>(evalExpr(v));
          haveCore = true;
        } else if (k == "engine") {
          if (!parseEngine(v, engine_)) {
            fail(fmt::format("unknown engine `{}` ({})", v, engineNames(", ")));
          }
          haveEngine = true;
        } else {
          fail(fmt::format(".stream has no field `{}`", k));
        }
      }
      if (!haveCore || !haveEngine) {
        fail(fmt::format("expected `.stream core=N engine={}`",
                         engineNames("|")));
      }
      if (core_ > 0xffff) {
        fail("core index too large");
      }
      inStream_ = true;
      if (emit_) {
        Stream *existing = nullptr;
        for (Stream &s : program_.streams) {
          if (s.core == core_ && s.engine == engine_) {
            existing = &s;
          }
        }
        if (existing) {
          fail(fmt::format("stream core={} engine={} opened twice", core_,
                           engineName(engine_)));
        }
        program_.stream(core_, engine_);
      }
      return;
    }
    fail(fmt::format("unknown directive `{}`", name));
  }

  void instruction(std::string_view line) {
    if (!inStream_) {
      fail("instruction before any `.stream`");
    }
    size_t sp = line.find_first_of(" \t");
    std::string mnem(line.substr(0, sp));
    const OpcodeInfo *info = opcodeByMnemonic(mnem);
    if (!info) {
      fail(fmt::format("unknown instruction `{}`", mnem));
    }
    size_t &pc = pcs_[currentKey()];
    ++pc;
    if (!emit_) {
      return;
    }
    std::vector<std::pair<std::string, std::string>> ops;
    std::string err;
    if (sp != std::string_view::npos &&
        !splitOperands(line.substr(sp), ops, err)) {
      fail(err);
    }
    Instruction inst(info->opcode);
    std::vector<bool> given(kNumFields, false);
    for (auto &[k, v] : ops) {
      const FieldInfo *fi = fieldByMnemonic(k);
      bool belongs = false;
      if (fi) {
        for (Field f : info->fields) {
          belongs |= f == fi->field;
        }
      }
      if (!belongs) {
        fail(fmt::format("{} has no field `{}`", mnem, k));
      }
      if (given[static_cast<unsigned>(fi->field)]) {
        fail(fmt::format("field `{}` given twice", k));
      }
      given[static_cast<unsigned>(fi->field)] = true;
      inst.set(fi->field, parseValue(*fi, v));
    }
    std::string bad = checkFields(inst);
    if (!bad.empty()) {
      fail(bad);
    }
    if (!engineAccepts(engine_, inst.opcode)) {
      fail(fmt::format("{} is not legal on the {} queue", mnem,
                       engineName(engine_)));
    }
    program_.stream(core_, engine_).insts.push_back(inst);
  }

  void pass(bool emit) {
    emit_ = emit;
    inStream_ = false;
    core_ = 0;
    engine_ = Engine::Dma;
    pcs_.clear();
    if (emit) {
      equs_.clear();
    }
    line_ = 0;
    size_t pos = 0;
    while (pos <= text_.size()) {
      size_t nl = text_.find('\n', pos);
      if (nl == std::string_view::npos) {
        nl = text_.size();
      }
      ++line_;
      std::string_view line = trim(stripComment(text_.substr(pos, nl - pos)));
      pos = nl + 1;
      // Labels: `name:` possibly followed by an instruction.
      while (!line.empty()) {
        size_t colon = line.find(':');
        if (colon == std::string_view::npos) {
          break;
        }
        std::string_view label = trim(line.substr(0, colon));
        bool ident = !label.empty() && isIdentStart(label[0]);
        for (char c : label) {
          ident &= isIdentChar(c);
        }
        if (!ident) {
          break;
        }
        if (!inStream_) {
          fail("label before any `.stream`");
        }
        if (!emit) {
          auto &labels = labels_[currentKey()];
          if (!labels.emplace(std::string(label), pcs_[currentKey()]).second) {
            fail(fmt::format("label `{}` defined twice", label));
          }
        }
        line = trim(line.substr(colon + 1));
      }
      if (line.empty()) {
        continue;
      }
      if (line[0] == '.') {
        directive(line);
      } else {
        instruction(line);
      }
    }
  }

  std::string_view text_;
  std::string file_;
  size_t line_ = 0;
  bool emit_ = false;
  bool inStream_ = false;
  unsigned core_ = 0;
  Engine engine_ = Engine::Dma;
  std::map<std::string, uint64_t> equs_;
  std::map<std::pair<unsigned, unsigned>, std::map<std::string, uint64_t>>
      labels_;
  std::map<std::pair<unsigned, unsigned>, size_t> pcs_;
  Program program_;
};

} // namespace

Result<Program> assemble(std::string_view text, std::string_view fileName) {
  return catchErrors([&] { return Assembler(text, fileName).run(); });
}

Result<Program> assembleFile(const std::string &path) {
  std::ifstream in(path);
  if (!in) {
    return Result<Program>::failure(path + ": cannot open");
  }
  std::stringstream ss;
  ss << in.rdbuf();
  return assemble(ss.str(), path);
}

std::string disassemble(const Program &program) {
  std::string out = fmt::format(
      "# Nuri ISA {}.{}: {} streams, {} instructions\n", kVersionMajor,
      kVersionMinor, program.streams.size(), program.numInstructions());
  for (const Stream &s : program.streams) {
    out += fmt::format("\n.stream core={} engine={}\n", s.core,
                       engineName(s.engine));
    std::vector<bool> target(s.insts.size(), false);
    for (const Instruction &inst : s.insts) {
      if (inst.opcode == Opcode::Repeat &&
          inst.get(Field::Body) < target.size()) {
        target[inst.get(Field::Body)] = true;
      }
    }
    for (size_t pc = 0; pc < s.insts.size(); ++pc) {
      if (target[pc]) {
        out += fmt::format("L{}:\n", pc);
      }
      const Instruction &inst = s.insts[pc];
      std::string text = formatInstruction(inst);
      if (inst.opcode == Opcode::Repeat) {
        // Print the label name instead of the numeric pc.
        std::string num = fmt::format("body={}", inst.get(Field::Body));
        size_t at = text.find(num);
        if (at != std::string::npos) {
          text.replace(at, num.size(),
                       fmt::format("body=L{}", inst.get(Field::Body)));
        }
      }
      out += "  " + text + "\n";
    }
  }
  return out;
}

} // namespace nuri::isa
