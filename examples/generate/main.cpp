// nuri-generate-app PKG.nuri DEVICE MAX_NEW_TOKENS PROMPT...
//
// Streams the continuation of each PROMPT (byte-level text: one token per
// byte, as gpt2-bytes-trained) from a package compiled with
// `nuri compile --generate`, all prompts batched continuously, then prints
// each request's token ids and the tokens per second.
#include "nuri/runtime.hpp"

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

int main(int argc, char **argv) {
  if (argc < 5) {
    std::fprintf(stderr, "usage: %s PKG.nuri DEVICE MAX_NEW_TOKENS PROMPT...\n",
                 argv[0]);
    return 2;
  }
  try {
    nuri::Model model = nuri::Model::loadFile(argv[1]);
    nuri::Session session(model, argv[2]);
    nuri::GeneratorOptions options;
    options.maxNewTokens = static_cast<uint32_t>(std::atoi(argv[3]));
    nuri::Generator generator(session, options);
    std::vector<uint64_t> ids;
    for (int i = 4; i < argc; ++i) {
      std::string text = argv[i];
      ids.push_back(
          generator.addRequest(std::vector<int64_t>(text.begin(), text.end())));
    }
    // Stream the first request's text as it comes.
    auto start = std::chrono::steady_clock::now();
    size_t tokens = 0;
    generator.run([&](uint64_t id, int64_t token, bool finished) {
      ++tokens;
      if (id == ids.front()) {
        std::fputc(static_cast<int>(token), stdout);
        if (finished) {
          std::fputc('\n', stdout);
        }
        std::fflush(stdout);
      }
    });
    double seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start)
            .count();
    for (uint64_t id : ids) {
      nuri::RequestInfo r = generator.request(id);
      std::printf("request %llu ids:", static_cast<unsigned long long>(id));
      for (size_t k = 0; k < r.tokens.size(); ++k) {
        std::printf("%s%lld", k ? "," : "",
                    static_cast<long long>(r.tokens[k]));
      }
      std::printf(" (%s)\n",
                  r.stopReason == NURI_STOP_TOKEN ? "stop" : "length");
    }
    std::printf("%zu tokens in %.3f s: %.1f tokens/s on %s\n", tokens, seconds,
                tokens / seconds, session.device().c_str());
    return 0;
  } catch (const nuri::Exception &e) {
    std::fprintf(stderr, "error: %s\n", e.what());
    return 1;
  }
}
