#include "sim/event_loop.h"

#include <algorithm>
#include <cstddef>

namespace sim {

namespace {
constexpr Site kSiteTieBreak{"sched.tie", Stream::kScheduler};
}

void EventLoop::heap_push(const Entry& e) {
  heap_.push_back(e);
  size_t i = heap_.size() - 1;
  while (i > 0) {
    size_t parent = (i - 1) / 2;
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
      size_t c = 2 * i + 1;
      if (c >= n) break;
      if (c + 1 < n && later(heap_[c], heap_[c + 1])) ++c;
      if (!later(last, heap_[c])) break;
      heap_[i] = heap_[c];
      i = c;
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
    if (ready_.empty()) {
      while (!heap_.empty() && !valid(heap_.front())) heap_pop();
      if (heap_.empty()) return StopReason::kQuiescent;
      if (heap_.front().time > until) {
        if (until > now_) now_ = until;
        return StopReason::kTimeLimit;
      }
      now_ = heap_.front().time;
    }
    gather_ready();
    // Drop entries cancelled while they sat in ready_.
    if (ready_.size() > 1) {
      ready_.erase(std::remove_if(ready_.begin(), ready_.end(), [this](const Entry& e) { return !valid(e); }),
                   ready_.end());
    }
    if (ready_.empty()) continue;
    size_t idx = ready_.size() > 1 ? chooser_.choose(kSiteTieBreak, ready_.size()) : 0;
    Entry e = ready_[idx];
    ready_.erase(ready_.begin() + static_cast<std::ptrdiff_t>(idx));
    if (!valid(e)) continue;
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
