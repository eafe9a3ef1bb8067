//===- TraceWriter.cpp - Chrome/Perfetto trace of a run -------------------===//

#include "TraceWriter.h"

#include <fmt/format.h>

#include <algorithm>

namespace nuri::sim::detail {

using isa::Engine;

void TraceWriter::reset() {
  slices_.clear();
  fetchUsed_ = false;
  slots_.assign(cores_, {0, 0});
}

unsigned TraceWriter::queueTrack(Engine e) {
  switch (e) {
  case Engine::Matrix:
    return 1;
  case Engine::Vector:
    return 2;
  case Engine::Dma:
    return 3;
  case Engine::Fetch:
    return 4;
  }
  return 3;
}

unsigned TraceWriter::slotTrack(Engine e, unsigned slot) const {
  return kDmaSlotBase + (e == Engine::Fetch ? dmaOutstanding_ : 0) + slot;
}

void TraceWriter::noteSlot(unsigned core, Engine e, unsigned slot) {
  if (core >= slots_.size()) {
    slots_.resize(core + 1, {0, 0});
  }
  unsigned &n = e == Engine::Fetch ? slots_[core].second : slots_[core].first;
  n = std::max(n, slot + 1);
}

std::string TraceWriter::json(const ClockDomain &clock) const {
  std::string s = "{\"displayTimeUnit\": \"ns\", \"traceEvents\": [\n";
  bool first = true;
  auto add = [&](const std::string &e) {
    s += first ? "  " : ",\n  ";
    s += e;
    first = false;
  };
  // Name every track, even idle ones, so each core shows all its engines;
  // the fetch queue's tracks only when the program uses that queue
  // somewhere, so traces of programs without it stay as they were.
  std::vector<Engine> dmaQueues = {Engine::Dma};
  if (fetchUsed_) {
    dmaQueues.push_back(Engine::Fetch);
  }
  for (unsigned c = 0; c < cores_; ++c) {
    add(fmt::format("{{\"ph\": \"M\", \"pid\": {}, \"name\": "
                    "\"process_name\", \"args\": {{\"name\": \"core {}\"}}}}",
                    c, c));
    add(fmt::format("{{\"ph\": \"M\", \"pid\": {}, \"tid\": {}, \"name\": "
                    "\"thread_name\", \"args\": {{\"name\": \"sync\"}}}}",
                    c, kSyncTrack));
    for (Engine e : {Engine::Matrix, Engine::Vector}) {
      add(fmt::format("{{\"ph\": \"M\", \"pid\": {}, \"tid\": {}, \"name\": "
                      "\"thread_name\", \"args\": {{\"name\": \"{}\"}}}}",
                      c, queueTrack(e), isa::engineName(e)));
    }
    for (Engine e : dmaQueues) {
      add(fmt::format("{{\"ph\": \"M\", \"pid\": {}, \"tid\": {}, \"name\": "
                      "\"thread_name\", \"args\": {{\"name\": \"{} "
                      "issue\"}}}}",
                      c, queueTrack(e), isa::engineName(e)));
      unsigned slots = 0;
      if (c < slots_.size()) {
        slots = e == Engine::Fetch ? slots_[c].second : slots_[c].first;
      }
      for (unsigned i = 0; i < slots; ++i) {
        add(fmt::format("{{\"ph\": \"M\", \"pid\": {}, \"tid\": {}, "
                        "\"name\": \"thread_name\", \"args\": {{\"name\": "
                        "\"{}.{}\"}}}}",
                        c, slotTrack(e, i), isa::engineName(e), i));
      }
    }
  }
  for (const Slice &t : slices_) {
    double ts = clock.toMicroseconds(double(t.start));
    double dur = clock.toMicroseconds(double(t.dur));
    add(fmt::format("{{\"ph\": \"X\", \"pid\": {}, \"tid\": {}, \"name\": "
                    "\"{}\", \"ts\": {:.4f}, \"dur\": {:.4f}, \"args\": "
                    "{{\"start_cycle\": {}, \"cycles\": {}}}}}",
                    t.core, t.track, t.name, ts, dur, t.start, t.dur));
    if (t.flowOut) {
      add(fmt::format("{{\"ph\": \"s\", \"pid\": {}, \"tid\": {}, \"name\": "
                      "\"sem\", \"cat\": \"sync\", \"id\": {}, \"ts\": "
                      "{:.4f}}}",
                      t.core, t.track, t.flowOut, ts));
    }
    if (t.flowIn) {
      add(fmt::format("{{\"ph\": \"f\", \"bp\": \"e\", \"pid\": {}, \"tid\": "
                      "{}, \"name\": \"sem\", \"cat\": \"sync\", \"id\": {}, "
                      "\"ts\": {:.4f}}}",
                      t.core, t.track, t.flowIn,
                      clock.toMicroseconds(double(t.start + t.dur) - 0.5)));
    }
  }
  s += "\n]}\n";
  return s;
}

} // namespace nuri::sim::detail
