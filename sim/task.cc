#include "sim/task.h"

#include <cstdio>
#include <cstdlib>
#include <new>

#include "sim/fiber_sanitizer.h"

#ifdef SIMFS_VALGRIND
#include <valgrind/valgrind.h>
#endif

namespace sim {

namespace ctx = boost::context;
using internal::asan_finish_switch;
using internal::asan_start_switch;

namespace {
// Thrown at a killed task's park point; caught only by the task's entry function. Not derived
// from std::exception, so ordinary handlers do not swallow it.
struct TaskKilled {};
}  // namespace

// ---- StackPool ----

StackPool::~StackPool() {
  for (void* p : free_) ::operator delete(p, std::align_val_t{64});
}

void* StackPool::take() {
  if (!free_.empty()) {
    void* p = free_.back();
    free_.pop_back();
    return p;
  }
  return ::operator new(stack_bytes_, std::align_val_t{64});
}

void StackPool::give(void* base) { free_.push_back(base); }

namespace {

// Boost.Context StackAllocator over a StackPool; records the stack's bounds in the task.
struct PooledStack {
  StackPool* pool;
  Task* task;
  ctx::stack_context allocate();
  void deallocate(ctx::stack_context& sc);
};

}  // namespace

namespace {

ctx::stack_context PooledStack::allocate() {
    void* base = pool->take();
    ctx::stack_context sc;
    sc.size = pool->stack_bytes();
    sc.sp = static_cast<char*>(base) + sc.size;
    Scheduler::note_stack(task, base, sc.size);
#ifdef SIMFS_VALGRIND
    sc.valgrind_stack_id = VALGRIND_STACK_REGISTER(sc.sp, base);
#endif
    return sc;
}

void PooledStack::deallocate(ctx::stack_context& sc) {
#ifdef SIMFS_VALGRIND
    VALGRIND_STACK_DEREGISTER(sc.valgrind_stack_id);
#endif
    pool->give(static_cast<char*>(sc.sp) - sc.size);
}

}  // namespace

// ---- WaitQueue ----

WaitQueue::~WaitQueue() {
  // Whoever destroys a queue with waiters leaves them parked forever; detach them so they
  // show up in a deadlock report instead of pointing at freed memory.
  while (head_) unlink(head_);
}

void WaitQueue::push(Task* t) {
  t->waiting_on_ = this;
  t->wq_prev_ = tail_;
  t->wq_next_ = nullptr;
  if (tail_) tail_->wq_next_ = t; else head_ = t;
  tail_ = t;
}

void WaitQueue::unlink(Task* t) {
  if (t->wq_prev_) t->wq_prev_->wq_next_ = t->wq_next_; else head_ = t->wq_next_;
  if (t->wq_next_) t->wq_next_->wq_prev_ = t->wq_prev_; else tail_ = t->wq_prev_;
  t->wq_prev_ = t->wq_next_ = nullptr;
  t->waiting_on_ = nullptr;
}

void WaitQueue::wait(const char* reason, uint64_t object) { wait_until(reason, kTimeNever, object); }

bool WaitQueue::wait_until(const char* reason, Time deadline, uint64_t object) {
  Task* t = Scheduler::current();
  if (!t) std::abort();  // waiting outside a task is a programming error
  push(t);
  bool woken = Scheduler::current_scheduler()->park(reason, object, deadline);
  if (t->waiting_on_ == this) unlink(t);
  return woken;
}

bool WaitQueue::notify_one() {
  Task* t = head_;
  if (!t) return false;
  unlink(t);
  t->sched_->wake(t);
  return true;
}

size_t WaitQueue::notify_all() {
  size_t n = 0;
  while (notify_one()) ++n;
  return n;
}

// ---- Scheduler ----

Scheduler::Scheduler(EventLoop& loop, size_t stack_bytes) : loop_(loop), stacks_(stack_bytes) {}

Scheduler::~Scheduler() {
  while (!tasks_.empty()) kill(tasks_.begin()->first);
}

TaskId Scheduler::spawn(std::string name, TaskGroup* group, std::function<void()> body, bool daemon) {
  auto t = std::make_unique<Task>();
  t->id_ = next_id_++;
  t->name_ = std::move(name);
  t->group_ = group;
  t->daemon_ = daemon;
  t->body_ = std::move(body);
  t->sched_ = this;
  Task* raw = t.get();
  tasks_.emplace(raw->id_, std::move(t));
  raw->state_ = Task::State::kReady;
  raw->resume_event_ = loop_.schedule_at(loop_.now(), resume_cb, raw);
  return raw->id_;
}

Task* Scheduler::find(TaskId id) const {
  auto it = tasks_.find(id);
  return it == tasks_.end() ? nullptr : it->second.get();
}

void Scheduler::resume_cb(void* c, uint64_t) {
  Task* t = static_cast<Task*>(c);
  t->resume_event_ = {};
  if (t->group_ && t->group_->paused) {
    t->group_->deferred.push_back(t);
    return;
  }
  t->sched_->switch_into(t);
}

void Scheduler::timeout_cb(void* c, uint64_t) {
  Task* t = static_cast<Task*>(c);
  t->timeout_event_ = {};
  if (t->state_ != Task::State::kParked) return;
  t->timed_out_ = true;
  if (t->waiting_on_) t->waiting_on_->unlink(t);
  t->sched_->make_ready(t);
}

void Scheduler::note_stack(Task* t, void* base, size_t size) {
  t->stack_base_ = base;
  t->stack_size_ = size;
}

// Inlined into its callers: every return executed right after a context switch is a
// mispredicted branch (the switch desyncs the return-stack predictor), so keep them few.
[[gnu::always_inline]] inline void Scheduler::switch_into(Task* t) {
  if (!t->fiber_) {
    t->fiber_ = ctx::fiber(std::allocator_arg, PooledStack{&stacks_, t}, [this, t](ctx::fiber&& caller) {
      asan_finish_switch(nullptr, &t->caller_stack_bottom_, &t->caller_stack_size_);
      t->caller_ = std::move(caller);
      try {
        if (!t->killing_) t->body_();
      } catch (const TaskKilled&) {
        // Killed: the stack has unwound; finish normally.
      } catch (const std::exception& e) {
        fatal("task '" + t->name_ + "' threw: " + e.what());
      } catch (...) {
        fatal("task '" + t->name_ + "' threw a non-standard exception");
      }
      t->state_ = Task::State::kDone;
      asan_start_switch(nullptr, t->caller_stack_bottom_, t->caller_stack_size_);
      return std::move(t->caller_);
    });
  }
  Task* prev = current_;
  Scheduler* prev_sched = current_sched_;
  current_ = t;
  current_sched_ = this;
  t->state_ = Task::State::kRunning;
  void* fake_stack = nullptr;
  asan_start_switch(&fake_stack, t->stack_base_, t->stack_size_);
  t->fiber_ = std::move(t->fiber_).resume();
  asan_finish_switch(fake_stack, nullptr, nullptr);
  current_ = prev;
  current_sched_ = prev_sched;
  if (t->state_ == Task::State::kDone) finish(t);
}

[[gnu::always_inline]] inline void Scheduler::switch_out(Task* t) {
  asan_start_switch(&t->asan_fake_stack_, t->caller_stack_bottom_, t->caller_stack_size_);
  t->caller_ = std::move(t->caller_).resume();
  asan_finish_switch(t->asan_fake_stack_, &t->caller_stack_bottom_, &t->caller_stack_size_);
  if (t->killing_) throw TaskKilled{};
}

bool Scheduler::park(const char* reason, uint64_t object, Time deadline) {
  Task* t = current_;
  if (!t) std::abort();  // parking outside a task is a programming error
  if (t->killing_) {
    fatal("task '" + t->name_ + "' tried to block (" + reason + ") while being killed");
    // Bound the damage: code that swallows the kill and keeps blocking would spin forever.
    if (++t->parks_while_killed_ > 1000) {
      std::fprintf(stderr, "simfs: task '%s' keeps blocking after being killed; aborting\n", t->name_.c_str());
      std::abort();
    }
    return false;
  }
  t->state_ = Task::State::kParked;
  t->wait_reason_ = reason;
  t->wait_object_ = object;
  t->timed_out_ = false;
  if (deadline != kTimeNever) t->timeout_event_ = loop_.schedule_at(deadline, timeout_cb, t);
  switch_out(t);
  // Resumed: current_ was set by switch_into.
  t->wait_reason_ = "";
  t->wait_object_ = 0;
  return !t->timed_out_;
}

void Scheduler::make_ready(Task* t) {
  t->state_ = Task::State::kReady;
  t->resume_event_ = loop_.schedule_at(loop_.now(), resume_cb, t);
}

void Scheduler::wake(Task* t) {
  if (t->state_ != Task::State::kParked) return;
  if (t->timeout_event_) {
    loop_.cancel(t->timeout_event_);
    t->timeout_event_ = {};
  }
  if (t->waiting_on_) t->waiting_on_->unlink(t);
  make_ready(t);
}

void Scheduler::resume_now(Task* t) {
  if (current_ || t->state_ != Task::State::kParked) return;
  if (t->timeout_event_) {
    loop_.cancel(t->timeout_event_);
    t->timeout_event_ = {};
  }
  if (t->waiting_on_) t->waiting_on_->unlink(t);
  switch_into(t);
}

void Scheduler::sleep(Duration d) {
  // Saturate like EventLoop::schedule_after: now + d must not overflow into the past.
  const Time now = loop_.now();
  park("sleep", 0, d <= 0 ? now : (now > kTimeNever - d ? kTimeNever : now + d));
}

void Scheduler::yield() {
  Task* t = current_;
  if (!t) return;
  if (t->killing_) return;
  make_ready(t);
  t->wait_reason_ = "yield";
  switch_out(t);
  t->wait_reason_ = "";
}

void Scheduler::join(TaskId id) {
  Task* t = find(id);
  if (!t || t == current_) return;
  t->joiners_.wait("join", id);
}

void Scheduler::finish(Task* t) {
  t->state_ = Task::State::kDone;
  t->joiners_.notify_all();
  tasks_.erase(t->id_);
}

void Scheduler::kill(TaskId id) {
  Task* t = find(id);
  if (!t || t->killing_) return;  // gone, or already being killed (a kill from a destructor)
  if (t == current_) {
    fatal("task '" + t->name_ + "' tried to kill itself");
    return;
  }
  if (t->resume_event_) loop_.cancel(t->resume_event_);
  if (t->timeout_event_) loop_.cancel(t->timeout_event_);
  t->resume_event_ = t->timeout_event_ = {};
  if (t->waiting_on_) t->waiting_on_->unlink(t);
  if (t->group_) {
    auto& d = t->group_->deferred;
    for (size_t i = 0; i < d.size(); ++i) {
      if (d[i] == t) { d.erase(d.begin() + static_cast<std::ptrdiff_t>(i)); break; }
    }
  }
  t->killing_ = true;
  if (t->fiber_) {
    // Resume it once more: its pending park() throws TaskKilled, the stack unwinds
    // (destructors run), and the entry function returns. switch_into() then finishes it.
    switch_into(t);
  } else {
    finish(t);  // never started: nothing to unwind
  }
}

void Scheduler::kill_group(TaskGroup* g) {
  std::vector<TaskId> ids;
  for (const auto& [id, t] : tasks_) {
    if (t->group_ == g && t.get() != current_) ids.push_back(id);
  }
  for (TaskId id : ids) kill(id);
  g->deferred.clear();
}

void Scheduler::resume_group(TaskGroup* g) {
  g->paused = false;
  std::vector<Task*> d;
  d.swap(g->deferred);
  for (Task* t : d) t->resume_event_ = loop_.schedule_at(loop_.now(), resume_cb, t);
}

std::vector<const Task*> Scheduler::blocked_tasks(bool daemons) const {
  std::vector<const Task*> out;
  for (const auto& [id, t] : tasks_) {
    if (t->state_ == Task::State::kParked && !t->timeout_event_ && (daemons || !t->daemon_)) out.push_back(t.get());
  }
  return out;
}

std::string Scheduler::blocked_report(bool daemons) const {
  std::string s;
  for (const Task* t : blocked_tasks(daemons)) {
    if (!s.empty()) s += "; ";
    s += "task '" + t->name_ + "'";
    if (t->group_ && t->group_->id >= 0) s += " on node " + std::to_string(t->group_->id);
    s += " waits on " + std::string(t->wait_reason_);
    if (t->wait_object_) s += " #" + std::to_string(t->wait_object_);
  }
  return s;
}

void Scheduler::fatal(const std::string& msg) {
  if (fatal_error_.empty()) fatal_error_ = msg;
  loop_.stop();
}

}  // namespace sim
