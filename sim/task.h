// Tasks: simulated threads, each a Boost.Context fiber, run one at a time by the EventLoop.
//
// A task runs until it parks (blocks on sleep, I/O, a lock, a message...). Parking switches
// back to the loop; wake() schedules a resume event at the current instant, so which of
// several woken tasks runs first is a scheduler choice point. Tasks belong to a TaskGroup
// (one per simulated node) that can be paused, and killed as a whole when the node crashes.
//
// Killing a task unwinds its stack (destructors run) without letting it block: the task is
// resumed once more and its pending park() throws an internal exception that only the task's
// entry point catches (code under test that catches everything must rethrow). Parking while
// being killed is a bug in the code under test and ends the run with a harness error.
//
// Deadlock detection: when the loop runs out of events while non-daemon tasks are parked,
// blocked_report() names each one and what it waits for.
#pragma once

#include <boost/context/fiber.hpp>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "sim/event_loop.h"

namespace sim {

class Scheduler;
class Task;

// FIFO queue of parked tasks: the primitive under every blocking wait (mutex, condition,
// channel, join, socket receive). Intrusive: a task is on at most one queue, so waiting costs
// no allocation. A task killed or timed out while waiting unlinks itself.
class WaitQueue {
 public:
  WaitQueue() = default;
  WaitQueue(const WaitQueue&) = delete;
  WaitQueue& operator=(const WaitQueue&) = delete;
  ~WaitQueue();

  // Parks the current task until notified. `reason` must be a string literal.
  void wait(const char* reason, uint64_t object = 0);
  // As wait(), but gives up at `deadline`; returns false on timeout.
  bool wait_until(const char* reason, Time deadline, uint64_t object = 0);
  bool notify_one();
  size_t notify_all();
  bool empty() const { return head_ == nullptr; }
  Task* head_task() const { return head_; }

 private:
  friend class Scheduler;
  void push(Task* t);
  void unlink(Task* t);
  Task* head_ = nullptr;
  Task* tail_ = nullptr;
};

using TaskId = uint64_t;

// A set of tasks that share a fate: one simulated node, or the "world" (fault injectors).
struct TaskGroup {
  int id = -1;  // node id, -1 for the world
  bool paused = false;
  std::vector<Task*> deferred;  // tasks woken while paused, resumed in order on unpause
};

// Stacks are reused: allocating a fresh stack per task would dominate spawn cost.
class StackPool {
 public:
  explicit StackPool(size_t stack_bytes) : stack_bytes_(stack_bytes) {}
  ~StackPool();
  void* take();
  void give(void* base);
  size_t stack_bytes() const { return stack_bytes_; }

 private:
  size_t stack_bytes_;
  std::vector<void*> free_;
};

class Task {
 public:
  enum class State { kNew, kReady, kRunning, kParked, kDone };

  TaskId id() const { return id_; }
  const std::string& name() const { return name_; }
  TaskGroup* group() const { return group_; }
  State state() const { return state_; }
  bool daemon() const { return daemon_; }
  // True while the task's stack is being unwound by kill(): it must not block.
  bool being_killed() const { return killing_; }
  // What the task is parked on, for deadlock reports ("mutex", "recv" #3, ...).
  const char* wait_reason() const { return wait_reason_; }
  uint64_t wait_object() const { return wait_object_; }

 private:
  friend class Scheduler;
  friend class WaitQueue;

  TaskId id_ = 0;
  Scheduler* sched_ = nullptr;
  std::string name_;
  TaskGroup* group_ = nullptr;
  bool daemon_ = false;
  State state_ = State::kNew;
  bool killing_ = false;
  bool timed_out_ = false;
  std::function<void()> body_;
  boost::context::fiber fiber_;   // the task's own context while it is not running
  boost::context::fiber caller_;  // the loop's context while the task runs
  // Stack bounds, for sanitizer annotations of each switch.
  void* stack_base_ = nullptr;
  size_t stack_size_ = 0;
  const void* caller_stack_bottom_ = nullptr;
  size_t caller_stack_size_ = 0;
  void* asan_fake_stack_ = nullptr;
  uint32_t parks_while_killed_ = 0;
  const char* wait_reason_ = "";
  uint64_t wait_object_ = 0;
  TimerId resume_event_;
  TimerId timeout_event_;
  // Intrusive link in the WaitQueue the task is parked on.
  WaitQueue* waiting_on_ = nullptr;
  Task* wq_prev_ = nullptr;
  Task* wq_next_ = nullptr;
  WaitQueue joiners_;
};

class Scheduler {
 public:
  explicit Scheduler(EventLoop& loop, size_t stack_bytes = 256 * 1024);
  ~Scheduler();
  Scheduler(const Scheduler&) = delete;
  Scheduler& operator=(const Scheduler&) = delete;

  EventLoop& loop() { return loop_; }
  Time now() const { return loop_.now(); }

  // Creates a task that starts at the current instant (through a resume event).
  TaskId spawn(std::string name, TaskGroup* group, std::function<void()> body, bool daemon = false);

  // The running task, or nullptr when the loop itself is running (between tasks).
  static Task* current() { return current_; }
  static Scheduler* current_scheduler() { return current_sched_; }

  // Parks the current task until wake(). With a deadline, returns false if it timed out.
  // `reason` must be a string literal; `object` identifies what is awaited (a socket id...).
  bool park(const char* reason, uint64_t object = 0, Time deadline = kTimeNever);
  // Makes a parked task ready. Waking a task that is not parked is a no-op.
  void wake(Task* t);
  void sleep(Duration d);
  void yield();  // lets other ready tasks at this instant run first (if the scheduler picks them)
  // Resumes a parked task immediately, bypassing the event queue, from outside any task.
  // For benchmarks of the bare switch path; simulations use wake().
  void resume_now(Task* t);
  // Waits for a task to finish. Returns at once if it has already finished.
  void join(TaskId id);

  // Unwinds and removes a task. Not for the current task.
  void kill(TaskId id);
  // Kills every task of a group, in id order.
  void kill_group(TaskGroup* g);
  void pause_group(TaskGroup* g) { g->paused = true; }
  void resume_group(TaskGroup* g);

  Task* find(TaskId id) const;
  size_t task_count() const { return tasks_.size(); }
  // Non-daemon tasks that are parked with nothing scheduled to wake them: after the loop has
  // gone quiet, these are deadlocked.
  // Tasks parked with no timeout (daemons too when asked: a liveness report wants every one).
  std::vector<const Task*> blocked_tasks(bool daemons = false) const;
  std::string blocked_report(bool daemons = false) const;

  // Set when a task broke the rules (threw, or blocked while being killed). The run must end
  // as a harness error; the message says which task.
  const std::string& fatal_error() const { return fatal_error_; }

 private:
  static void resume_cb(void* ctx, uint64_t arg);
  // From inside task t: switch back to whoever resumed it. Throws TaskKilled if t was killed
  // while suspended.
  void switch_out(Task* t);

 public:
  // For the stack allocator: records where a task's stack lives (sanitizer annotations).
  static void note_stack(Task* t, void* base, size_t size);

 private:
  static void timeout_cb(void* ctx, uint64_t arg);
  void switch_into(Task* t);
  void finish(Task* t);
  void make_ready(Task* t);
  void fatal(const std::string& msg);

  EventLoop& loop_;
  StackPool stacks_;
  TaskId next_id_ = 1;
  std::map<TaskId, std::unique_ptr<Task>> tasks_;  // ordered by id: deterministic iteration
  std::string fatal_error_;

  static inline Task* current_ = nullptr;
  static inline Scheduler* current_sched_ = nullptr;
};

// Convenience for code running inside a task.
namespace this_task {
inline Time now() { return Scheduler::current_scheduler()->now(); }
inline void sleep(Duration d) { Scheduler::current_scheduler()->sleep(d); }
inline void yield() { Scheduler::current_scheduler()->yield(); }
// The running task's id (0 outside any task).
inline TaskId id() {
  Task* t = Scheduler::current();
  return t ? t->id() : 0;
}
}  // namespace this_task

}  // namespace sim
