//===- Tokenizer.h - Text <-> token ids for nuri generate -------*- C++ -*-===//

#ifndef NURI_TOOLS_TOKENIZER_H
#define NURI_TOOLS_TOKENIZER_H

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace nuri::cli {

class Tokenizer {
public:
  virtual ~Tokenizer() = default;
  virtual std::vector<int64_t> encode(const std::string &text) const = 0;
  virtual std::string decode(const std::vector<int64_t> &ids) const = 0;
};

/// "bytes" (a token per byte) or a SentencePiece .model file; null with
/// `error` naming the file and the reason when it does not load.
std::unique_ptr<Tokenizer> loadTokenizer(const std::string &spec,
                                         std::string &error);

} // namespace nuri::cli

#endif // NURI_TOOLS_TOKENIZER_H
