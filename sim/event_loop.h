// EventLoop: the single-threaded core of a run. A queue of timed callbacks ordered by
// (time, sequence); virtual time jumps to the next event. Events due at the same instant are
// "ready" together and the next one to run is picked through a choice point among the 16
// oldest of them, so interleavings are explorable (value 0 = oldest first, i.e. FIFO) at O(1)
// cost per event.
//
// Cost model: scheduling is one slot-table write plus a 4-ary-heap push of a 24-byte entry;
// no heap allocation per event once the tables have grown. Cancel is O(1) (the slot's
// generation is bumped and the stale heap entry is skipped when popped).
#pragma once

#include <cstdint>
#include <vector>

#include "sim/choice.h"
#include "sim/time.h"

namespace sim {

// Handle of a scheduled event. Value-initialised ({}) means "none".
struct TimerId {
  uint32_t slot = 0;  // 1-based; 0 = none
  uint32_t gen = 0;
  explicit operator bool() const { return slot != 0; }
};

class EventLoop {
 public:
  using Callback = void (*)(void* ctx, uint64_t arg);

  // Gives the chooser our clock, so recorded decisions carry their instant.
  explicit EventLoop(Chooser& chooser) : chooser_(chooser) {
    slots_.push_back(Slot{});
    chooser_.set_clock(&now_);
  }
  EventLoop(const EventLoop&) = delete;
  EventLoop& operator=(const EventLoop&) = delete;

  Time now() const { return now_; }

  // Schedules cb(ctx, arg) at time t (clamped to now: the past is not reachable).
  TimerId schedule_at(Time t, Callback cb, void* ctx, uint64_t arg = 0);
  TimerId schedule_after(Duration d, Callback cb, void* ctx, uint64_t arg = 0) {
    return schedule_at(d <= 0 ? now_ : (now_ > kTimeNever - d ? kTimeNever : now_ + d), cb, ctx, arg);
  }
  // Returns true if the event was still pending (and now never runs).
  bool cancel(TimerId id);
  bool pending(TimerId id) const;

  enum class StopReason { kQuiescent, kTimeLimit, kEventLimit, kStopped };
  // Runs events until none are left, virtual time would pass `until`, `max_events` more events
  // have run, or stop() is called from inside an event.
  StopReason run(Time until = kTimeNever, uint64_t max_events = UINT64_MAX);
  void stop() { stop_requested_ = true; }

  uint64_t events_dispatched() const { return dispatched_; }
  size_t live_events() const { return live_; }
  // Hash chained over (time, sequence) of every dispatched event: catches divergence that the
  // trace does not show.
  uint64_t schedule_hash() const { return schedule_hash_; }

 private:
  struct Slot {
    Callback cb = nullptr;
    void* ctx = nullptr;
    uint64_t arg = 0;
    uint32_t gen = 0;
    uint32_t next_free = 0;
    bool live = false;
  };
  struct Entry {
    Time time;
    uint64_t seq;
    uint32_t slot;
    uint32_t gen;
  };
  static bool later(const Entry& a, const Entry& b) {
    return a.time != b.time ? a.time > b.time : a.seq > b.seq;
  }
  bool valid(const Entry& e) const { return slots_[e.slot].live && slots_[e.slot].gen == e.gen; }
  void heap_push(const Entry& e);
  Entry heap_pop();
  void free_slot(uint32_t slot);
  // Moves every live heap entry due at now_ into ready_.
  void gather_ready();

  Chooser& chooser_;
  Time now_ = 0;
  uint64_t seq_ = 0;
  uint64_t dispatched_ = 0;
  uint64_t schedule_hash_ = 0x6a09e667f3bcc909ull;
  size_t live_ = 0;
  bool stop_requested_ = false;
  uint32_t free_head_ = 0;
  std::vector<Slot> slots_;   // index 0 unused
  std::vector<Entry> heap_;   // 4-ary min-heap by (time, seq)
  std::vector<Entry> ready_;  // due now, in seq order; [ready_head_, size) still pending
  size_t ready_head_ = 0;
  static constexpr size_t kTieWindow = 16;
};

}  // namespace sim
