//===- Tokenizer.cpp - Byte and SentencePiece tokenizers ------------------===//

#include "Tokenizer.h"

#include <dlfcn.h>

#include <cstdlib>
#include <filesystem>

namespace nuri::cli {
namespace {

class ByteTokenizer final : public Tokenizer {
public:
  std::vector<int64_t> encode(const std::string &text) const override {
    std::vector<int64_t> ids;
    for (unsigned char c : text) {
      ids.push_back(c);
    }
    return ids;
  }
  std::string decode(const std::vector<int64_t> &ids) const override {
    std::string s;
    for (int64_t id : ids) {
      s += static_cast<char>(id & 0xff);
    }
    return s;
  }
};

/// libnuri_spm.so's entry points (SentencePieceModule.cpp says why it is a
/// module).
struct SpmModule {
  void *(*load)(const char *, char **) = nullptr;
  void (*release)(void *) = nullptr;
  int64_t *(*encode)(void *, const char *, size_t, size_t *) = nullptr;
  char *(*decode)(void *, const int64_t *, size_t) = nullptr;
  std::string error;
};

const SpmModule &spmModule() {
  static const SpmModule loaded = [] {
    SpmModule m;
    std::vector<std::string> candidates;
    std::error_code ec;
    std::filesystem::path exe =
        std::filesystem::read_symlink("/proc/self/exe", ec);
    if (!ec) {
      candidates.push_back(
          (exe.parent_path().parent_path() / "lib" / "libnuri_spm.so")
              .string());
    }
    candidates.push_back(NURI_SPM_MODULE);
    for (const std::string &path : candidates) {
      void *h = dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL | RTLD_DEEPBIND);
      if (!h) {
        m.error += "\n  " + path + ": " + dlerror();
        continue;
      }
      m.load = reinterpret_cast<decltype(m.load)>(dlsym(h, "nuri_spm_load"));
      m.release =
          reinterpret_cast<decltype(m.release)>(dlsym(h, "nuri_spm_release"));
      m.encode =
          reinterpret_cast<decltype(m.encode)>(dlsym(h, "nuri_spm_encode"));
      m.decode =
          reinterpret_cast<decltype(m.decode)>(dlsym(h, "nuri_spm_decode"));
      if (m.load && m.release && m.encode && m.decode) {
        m.error.clear();
        return m;
      }
      m.error += "\n  " + path + ": missing nuri_spm_* symbols";
    }
    m.load = nullptr;
    m.error = "cannot load the SentencePiece module:" + m.error;
    return m;
  }();
  return loaded;
}

class SentencePieceTokenizer final : public Tokenizer {
public:
  explicit SentencePieceTokenizer(void *handle) : handle_(handle) {}
  ~SentencePieceTokenizer() override { spmModule().release(handle_); }
  std::vector<int64_t> encode(const std::string &text) const override {
    size_t n = 0;
    int64_t *ids = spmModule().encode(handle_, text.data(), text.size(), &n);
    std::vector<int64_t> out(ids, ids + n);
    std::free(ids);
    return out;
  }
  std::string decode(const std::vector<int64_t> &ids) const override {
    char *s = spmModule().decode(handle_, ids.data(), ids.size());
    std::string out(s);
    std::free(s);
    return out;
  }

private:
  void *handle_;
};

} // namespace

std::unique_ptr<Tokenizer> loadTokenizer(const std::string &spec,
                                         std::string &error) {
  if (spec == "bytes") {
    return std::make_unique<ByteTokenizer>();
  }
  const SpmModule &m = spmModule();
  if (!m.load) {
    error = m.error;
    return nullptr;
  }
  char *why = nullptr;
  void *handle = m.load(spec.c_str(), &why);
  if (!handle) {
    error = spec + ": not a SentencePiece model (" +
            std::string(why ? why : "unknown error") + ")";
    std::free(why);
    return nullptr;
  }
  return std::make_unique<SentencePieceTokenizer>(handle);
}

} // namespace nuri::cli
