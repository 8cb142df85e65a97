// Fiber-aware synchronisation: Mutex, CondVar, Completion<T>, Channel<T>.
//
// All of them park the calling task (never the loop) and wake waiters in FIFO order; which
// woken task runs first is still a scheduler choice. Every wait names itself so a deadlock
// report says what each blocked task was waiting for.
#pragma once

#include <cstdint>
#include <deque>
#include <optional>
#include <utility>

#include "sim/task.h"

namespace sim {

// Mutex with FIFO hand-off: unlock passes ownership straight to the oldest waiter, so a task
// that unlocks and relocks cannot starve others.
class Mutex {
 public:
  void lock() {
    Task* me = Scheduler::current();
    if (!locked_) {
      locked_ = true;
      owner_ = me;
      return;
    }
    while (owner_ != me) {
      try {
        waiters_.wait("mutex", id());
      } catch (...) {
        // Killed while waiting (the stack is unwinding): if unlock() had already handed us
        // the mutex, pass it on, or it would stay owned by a task that no longer exists.
        if (owner_ == me) unlock();
        throw;
      }
    }
  }
  bool try_lock() {
    if (locked_) return false;
    locked_ = true;
    owner_ = Scheduler::current();
    return true;
  }
  void unlock() {
    // A task killed inside CondVar::wait does not hold the mutex, but unwinding its LockGuard
    // calls unlock(): that must not release the mutex from whoever does hold it.
    Task* me = Scheduler::current();
    if (owner_ != me && me && me->being_killed()) return;
    if (waiters_.empty()) {
      locked_ = false;
      owner_ = nullptr;
      return;
    }
    owner_ = waiters_.head_task();
    waiters_.notify_one();
  }
  bool locked() const { return locked_; }

 private:
  uint64_t id() const { return 0; }  // no address: reports reach the trace
  bool locked_ = false;
  Task* owner_ = nullptr;
  WaitQueue waiters_;
};

class LockGuard {
 public:
  explicit LockGuard(Mutex& m) : m_(m) { m_.lock(); }
  ~LockGuard() { m_.unlock(); }
  LockGuard(const LockGuard&) = delete;
  LockGuard& operator=(const LockGuard&) = delete;

 private:
  Mutex& m_;
};

// Condition variable over a Mutex. Spurious wake-ups do not happen, but callers should still
// re-check their predicate, since another task may run between notify and wake.
class CondVar {
 public:
  void wait(Mutex& m) {
    m.unlock();
    q_.wait("condvar");
    m.lock();
  }
  bool wait_until(Mutex& m, Time deadline) {
    m.unlock();
    bool woken = q_.wait_until("condvar", deadline);
    m.lock();
    return woken;
  }
  void notify_one() { q_.notify_one(); }
  void notify_all() { q_.notify_all(); }

 private:
  WaitQueue q_;
};

// A one-shot value: set once, awaited by any number of tasks.
template <typename T>
class Completion {
 public:
  void set(T v) {
    if (value_) return;
    value_.emplace(std::move(v));
    q_.notify_all();
  }
  bool ready() const { return value_.has_value(); }
  T& wait() {
    while (!value_) q_.wait("completion");
    return *value_;
  }
  // Returns nullptr on timeout.
  T* wait_until(Time deadline) {
    while (!value_) {
      if (!q_.wait_until("completion", deadline)) return value_ ? &*value_ : nullptr;
    }
    return &*value_;
  }

 private:
  std::optional<T> value_;
  WaitQueue q_;
};

// A FIFO channel between tasks, bounded when capacity > 0. After close(), send() fails and
// recv() drains what is left and then returns nullopt.
template <typename T>
class Channel {
 public:
  explicit Channel(size_t capacity = 0) : capacity_(capacity) {}

  bool send(T v) {
    while (!closed_ && capacity_ && items_.size() >= capacity_) not_full_.wait("channel send");
    if (closed_) return false;
    items_.push_back(std::move(v));
    not_empty_.notify_one();
    return true;
  }
  std::optional<T> recv() {
    while (items_.empty() && !closed_) not_empty_.wait("channel recv");
    return take();
  }
  // nullopt on timeout or when closed and empty.
  std::optional<T> recv_until(Time deadline) {
    while (items_.empty() && !closed_) {
      if (!not_empty_.wait_until("channel recv", deadline)) break;
    }
    return take();
  }
  std::optional<T> try_recv() { return take(); }
  void close() {
    closed_ = true;
    not_empty_.notify_all();
    not_full_.notify_all();
  }
  bool closed() const { return closed_; }
  size_t size() const { return items_.size(); }

 private:
  std::optional<T> take() {
    if (items_.empty()) return std::nullopt;
    T v = std::move(items_.front());
    items_.pop_front();
    not_full_.notify_one();
    return v;
  }
  size_t capacity_;
  bool closed_ = false;
  std::deque<T> items_;
  WaitQueue not_empty_;
  WaitQueue not_full_;
};

}  // namespace sim
