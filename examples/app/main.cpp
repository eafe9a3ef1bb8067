// nuri-app PKG.nuri [DEVICE]: loads a compiled model, feeds every input
// with a ramp of values, runs it once synchronously and once
// asynchronously, and prints each output's shape and first values.
#include <nuri/runtime.hpp>

#include <cstdio>
#include <cstring>
#include <vector>

int main(int argc, char **argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: %s PKG.nuri [cpu|sim|auto]\n", argv[0]);
    return 2;
  }
  try {
    nuri::Model model = nuri::Model::loadFile(argv[1]);
    nuri::Session session(model, argc > 2 ? argv[2] : "auto");
    std::printf("runtime %s, target %s, device %s\n", nuri_version_string(),
                model.target().c_str(), session.device().c_str());

    nuri::Run run = session.newRun();
    std::vector<std::vector<float>> buffers;
    for (const nuri::TensorInfo &in : model.inputs()) {
      if (in.dtype != NURI_DTYPE_F32) {
        std::fprintf(stderr, "input %s: this example feeds f32 only\n",
                     in.name.c_str());
        return 1;
      }
      buffers.emplace_back(static_cast<size_t>(in.elements()));
      for (size_t i = 0; i < buffers.back().size(); ++i) {
        buffers.back()[i] = float(i % 7) * 0.25f - 0.5f;
      }
      run.bindInput(in.name,
                    nuri::TensorRef::of(buffers.back().data(), in.shape));
    }
    run.execute();
    for (const nuri::TensorInfo &out : model.outputs()) {
      nuri::OutputView v = run.output(out.name);
      std::printf("%s: [", out.name.c_str());
      for (size_t d = 0; d < out.shape.size(); ++d) {
        std::printf("%s%lld", d ? "," : "", (long long)out.shape[d]);
      }
      std::printf("] %s", nuri_dtype_name(out.dtype));
      if (out.dtype == NURI_DTYPE_F32) {
        for (int64_t i = 0; i < out.elements() && i < 4; ++i) {
          std::printf(" %g", v.as<float>()[i]);
        }
      }
      std::printf("\n");
    }
    // The same inference, completed on the session's task arena.
    nuri::Run second = session.newRun();
    size_t k = 0;
    for (const nuri::TensorInfo &in : model.inputs()) {
      second.bindInput(in.name,
                       nuri::TensorRef::of(buffers[k++].data(), in.shape));
    }
    second.executeAsync().get();
    for (const nuri::TensorInfo &out : model.outputs()) {
      if (std::memcmp(second.output(out.name).data, run.output(out.name).data,
                      out.byteSize) != 0) {
        std::fprintf(stderr, "async output %s differs\n", out.name.c_str());
        return 1;
      }
    }
    std::printf("async run: same outputs, %.3f ms\n",
                second.counters().get("wall_seconds") * 1e3);
    // Counters are named and generic: each device reports what it knows
    // (the sim device: cycles, DRAM bytes, weight bytes uploaded, ...).
    // The first run of the session uploaded the weights; the second did not.
    for (const auto &[name, value] : second.counters().items) {
      std::printf("  %s: %g (first run: %g)\n", name.c_str(), value,
                  run.counters().get(name));
    }
    return 0;
  } catch (const nuri::Exception &e) {
    std::fprintf(stderr, "error (%s): %s\n", nuri_status_code_name(e.code()),
                 e.what());
    return 1;
  }
}
