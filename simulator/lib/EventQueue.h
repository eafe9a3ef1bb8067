//===- EventQueue.h - Typed events ordered by cycle -------------*- C++ -*-===//
//
// Simulated time advances from event to event; nothing ticks per cycle. An
// event is one of a few typed payloads naming the component that handles
// it, so the wiring dispatches without decoding integer fields. Events at the
// same cycle run in the order they were scheduled (a sequence number breaks
// ties), which makes every run deterministic.
//
//===----------------------------------------------------------------------===//

#ifndef NURI_SIM_LIB_EVENTQUEUE_H
#define NURI_SIM_LIB_EVENTQUEUE_H

#include "nuri/sim/Time.h"

#include <cstdint>
#include <queue>
#include <variant>
#include <vector>

namespace nuri::sim::detail {

class EngineQueue;
class MemoryLink;

/// Numbers the operations of one queue in issue order; a `sem.signal`
/// fires once every operation numbered before it has completed.
using OpSeq = uint64_t;

/// The queue may issue its next instruction (an issue slot ended, or it
/// was unblocked).
struct WakeEvent {
  EngineQueue *queue;
};
/// Operation `seq` of `queue` completed.
struct OpDoneEvent {
  EngineQueue *queue;
  OpSeq seq;
};
/// A memory link's own timing event; `kind` and `arg` mean what the link
/// model says (each model defines its events).
struct LinkEvent {
  MemoryLink *link;
  uint32_t kind;
  uint64_t arg;
};

using EventPayload = std::variant<WakeEvent, OpDoneEvent, LinkEvent>;

struct Event {
  Cycles when;
  uint64_t seq;
  EventPayload what;
};

class EventQueue {
public:
  /// The cycle of the event being handled.
  Cycles now() const { return now_; }
  void schedule(Cycles when, EventPayload what) {
    heap_.push(Event{when, seq_++, what});
  }
  bool empty() const { return heap_.empty(); }
  /// Removes the earliest event and advances the clock to it.
  Event pop() {
    Event e = heap_.top();
    heap_.pop();
    now_ = e.when;
    return e;
  }
  void reset() {
    heap_ = {};
    seq_ = 0;
    now_ = Cycles(0);
  }

private:
  struct Later {
    bool operator()(const Event &a, const Event &b) const {
      return a.when != b.when ? a.when > b.when : a.seq > b.seq;
    }
  };
  std::priority_queue<Event, std::vector<Event>, Later> heap_;
  uint64_t seq_ = 0;
  Cycles now_;
};

} // namespace nuri::sim::detail

#endif // NURI_SIM_LIB_EVENTQUEUE_H
