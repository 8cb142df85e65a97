// WorkQueue: an ordered work queue, like a kernel ordered workqueue. Work items run one at a
// time, in the order they were queued, on a dedicated daemon task of the owning group.
#pragma once

#include <deque>
#include <functional>
#include <string>

#include "sim/task.h"

namespace sim {

class WorkQueue {
 public:
  WorkQueue(Scheduler& sched, TaskGroup* group, std::string name);
  ~WorkQueue();
  WorkQueue(const WorkQueue&) = delete;
  WorkQueue& operator=(const WorkQueue&) = delete;

  void queue(std::function<void()> work);
  // Waits until every item queued before this call has finished.
  void flush();
  size_t pending() const { return items_.size(); }

 private:
  void run();
  Scheduler& sched_;
  TaskId worker_;
  std::deque<std::function<void()>> items_;
  uint64_t queued_ = 0;
  uint64_t done_ = 0;
  WaitQueue has_work_;
  WaitQueue progress_;
};

inline WorkQueue::WorkQueue(Scheduler& sched, TaskGroup* group, std::string name) : sched_(sched) {
  worker_ = sched_.spawn(std::move(name), group, [this] { run(); }, /*daemon=*/true);
}

inline WorkQueue::~WorkQueue() {
  Task* cur = Scheduler::current();
  if (!cur || cur->id() != worker_) sched_.kill(worker_);
}

inline void WorkQueue::queue(std::function<void()> work) {
  items_.push_back(std::move(work));
  ++queued_;
  has_work_.notify_one();
}

inline void WorkQueue::flush() {
  const uint64_t target = queued_;
  while (done_ < target) progress_.wait("workqueue flush");
}

inline void WorkQueue::run() {
  for (;;) {
    while (items_.empty()) has_work_.wait("workqueue idle");
    std::function<void()> work = std::move(items_.front());
    items_.pop_front();
    work();
    ++done_;
    progress_.notify_all();
  }
}

}  // namespace sim
