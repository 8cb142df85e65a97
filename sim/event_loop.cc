#include "sim/event_loop.h"

#include <algorithm>
#include <cstddef>

namespace sim {

namespace {
constexpr Site kSiteTieBreak{"sched.tie", Stream::kScheduler};
}

// A 4-ary min-heap: half the depth of a binary heap, and the four children of a node share
// a cache line or two, which matters once a run has many thousands of pending events.
constexpr size_t kArity = 4;

void EventLoop::heap_push(const Entry& e) {
  heap_.push_back(e);
  size_t i = heap_.size() - 1;
  while (i > 0) {
    size_t parent = (i - 1) / kArity;
    if (!later(heap_[parent], e)) break;
    heap_[i] = heap_[parent];
    i = parent;
  }
  heap_[i] = e;
}

EventLoop::Entry EventLoop::heap_pop() {
  Entry top = heap_.front();
  Entry last = heap_.back();
  heap_.pop_back();
  const size_t n = heap_.size();
  if (n > 0) {
    size_t i = 0;
    for (;;) {
      size_t first = kArity * i + 1;
      if (first >= n) break;
      size_t best = first;
      const size_t end = first + kArity < n ? first + kArity : n;
      for (size_t c = first + 1; c < end; ++c) {
        if (later(heap_[best], heap_[c])) best = c;
      }
      if (!later(last, heap_[best])) break;
      heap_[i] = heap_[best];
      i = best;
    }
    heap_[i] = last;
  }
  return top;
}

TimerId EventLoop::schedule_at(Time t, Callback cb, void* ctx, uint64_t arg) {
  if (t < now_) t = now_;
  uint32_t slot;
  if (free_head_ != 0) {
    slot = free_head_;
    free_head_ = slots_[slot].next_free;
  } else {
    slot = static_cast<uint32_t>(slots_.size());
    slots_.push_back(Slot{});
  }
  Slot& s = slots_[slot];
  s.cb = cb;
  s.ctx = ctx;
  s.arg = arg;
  s.live = true;
  ++live_;
  heap_push(Entry{t, seq_++, slot, s.gen});
  return TimerId{slot, s.gen};
}

void EventLoop::free_slot(uint32_t slot) {
  Slot& s = slots_[slot];
  s.live = false;
  ++s.gen;
  s.next_free = free_head_;
  free_head_ = slot;
  --live_;
}

bool EventLoop::cancel(TimerId id) {
  if (!pending(id)) return false;
  free_slot(id.slot);
  return true;
}

bool EventLoop::pending(TimerId id) const {
  return id.slot != 0 && id.slot < slots_.size() && slots_[id.slot].live && slots_[id.slot].gen == id.gen;
}

void EventLoop::gather_ready() {
  while (!heap_.empty() && heap_.front().time == now_) {
    Entry e = heap_pop();
    if (valid(e)) ready_.push_back(e);
  }
}

EventLoop::StopReason EventLoop::run(Time until, uint64_t max_events) {
  stop_requested_ = false;
  uint64_t ran = 0;
  for (;;) {
    if (stop_requested_) return StopReason::kStopped;
    if (ran >= max_events) return StopReason::kEventLimit;
    if (ready_head_ == ready_.size()) {
      ready_.clear();
      ready_head_ = 0;
      while (!heap_.empty() && !valid(heap_.front())) heap_pop();
      if (heap_.empty()) return StopReason::kQuiescent;
      if (heap_.front().time > until) {
        if (until > now_) now_ = until;
        return StopReason::kTimeLimit;
      }
      now_ = heap_.front().time;
    }
    gather_ready();
    // The next event is chosen among the kTieWindow oldest ready ones (value 0 = the oldest):
    // O(1) per event however many are due at once, and any order is still reachable, since an
    // event can be passed over again and again.
    const size_t pending = ready_.size() - ready_head_;
    if (pending == 0) continue;
    const size_t window = pending < kTieWindow ? pending : kTieWindow;
    const size_t idx = window > 1 ? chooser_.choose(kSiteTieBreak, window) : 0;
    const Entry e = ready_[ready_head_ + idx];
    // Close the gap by shifting the older entries up one slot, then advance the head.
    for (size_t k = ready_head_ + idx; k > ready_head_; --k) ready_[k] = ready_[k - 1];
    ++ready_head_;
    if (!valid(e)) continue;  // cancelled while it waited in the ready set
    Slot& s = slots_[e.slot];
    Callback cb = s.cb;
    void* ctx = s.ctx;
    uint64_t arg = s.arg;
    free_slot(e.slot);
    ++dispatched_;
    ++ran;
    schedule_hash_ = (schedule_hash_ ^ static_cast<uint64_t>(e.time)) * 0x100000001b3ull;
    schedule_hash_ = (schedule_hash_ ^ e.seq) * 0x100000001b3ull;
    cb(ctx, arg);
  }
}

}  // namespace sim
