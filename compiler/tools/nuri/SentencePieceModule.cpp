//===- SentencePieceModule.cpp - libnuri_spm.so ---------------------------===//
//
// Debian's libsentencepiece carries its own copy of protobuf-lite with
// exported symbols, which the full libprotobuf the ONNX importer links
// interposes: linked into `nuri`, it crashes while loading. So it lives in
// this module, which Tokenizer.cpp loads with RTLD_DEEPBIND (the module and
// libsentencepiece resolve their own symbols first), behind a C interface.
//
//===----------------------------------------------------------------------===//

#include <sentencepiece_processor.h>

#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

namespace {
char *copyString(const std::string &s) {
  char *out = static_cast<char *>(std::malloc(s.size() + 1));
  std::memcpy(out, s.data(), s.size() + 1);
  return out;
}
} // namespace

extern "C" {

/// A processor for `path`, or null with *error set (free it with free()).
__attribute__((visibility("default"))) void *nuri_spm_load(const char *path,
                                                           char **error) {
  auto *sp = new sentencepiece::SentencePieceProcessor();
  auto status = sp->Load(path);
  if (!status.ok()) {
    *error = copyString(status.ToString());
    delete sp;
    return nullptr;
  }
  return sp;
}

__attribute__((visibility("default"))) void nuri_spm_release(void *sp) {
  delete static_cast<sentencepiece::SentencePieceProcessor *>(sp);
}

/// Token ids of `text` into a malloc'ed array (*count of them).
__attribute__((visibility("default"))) int64_t *
nuri_spm_encode(void *sp, const char *text, size_t bytes, size_t *count) {
  std::vector<int> ids;
  static_cast<sentencepiece::SentencePieceProcessor *>(sp)
      ->Encode(std::string(text, bytes), &ids)
      .IgnoreError();
  auto *out =
      static_cast<int64_t *>(std::malloc(sizeof(int64_t) * (ids.size() + 1)));
  for (size_t i = 0; i < ids.size(); ++i) {
    out[i] = ids[i];
  }
  *count = ids.size();
  return out;
}

/// The text of `ids`, malloc'ed; ids outside the vocabulary decode empty.
__attribute__((visibility("default"))) char *
nuri_spm_decode(void *sp, const int64_t *ids, size_t count) {
  auto *p = static_cast<sentencepiece::SentencePieceProcessor *>(sp);
  std::vector<int> in;
  for (size_t i = 0; i < count; ++i) {
    if (ids[i] >= 0 && ids[i] < p->GetPieceSize()) {
      in.push_back(static_cast<int>(ids[i]));
    }
  }
  std::string out;
  p->Decode(in, &out).IgnoreError();
  return copyString(out);
}

} // extern "C"
