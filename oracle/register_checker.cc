#include "oracle/register_checker.h"

namespace oracle {

std::string to_string(const RegisterTs& ts) {
  return "(" + std::to_string(ts.counter) + "," + std::to_string(ts.writer) + ")";
}

size_t RegisterChecker::call(RegisterOp::Kind kind, int client, sim::Time t, uint64_t call_event, uint64_t value) {
  RegisterOp op;
  op.kind = kind;
  op.client = client;
  op.call = t;
  op.value = value;
  op.call_event = call_event;
  ops_.push_back(op);
  return ops_.size() - 1;
}

void RegisterChecker::set_write_ts(size_t op, RegisterTs ts) {
  ops_[op].ts = ts;
  ops_[op].ts_known = true;
}

std::optional<RegisterViolation> RegisterChecker::complete(size_t idx, sim::Time t, uint64_t ret_event, RegisterTs ts,
                                                           uint64_t value) {
  RegisterOp& b = ops_[idx];
  b.ret = t;
  b.ret_event = ret_event;
  b.done = true;
  if (b.kind == RegisterOp::Kind::kRead) {
    b.ts = ts;
    b.value = value;
    b.ts_known = true;
    const bool initial = ts == RegisterTs{} && value == 0;
    bool found = initial;
    for (const RegisterOp& w : ops_) {
      if (w.kind == RegisterOp::Kind::kWrite && w.ts_known && w.ts == ts) {
        if (w.value != value) {
          return RegisterViolation{"register.read_origin",
                                   "read returned value " + std::to_string(value) + " with ts " + to_string(ts) +
                                       " but the write with that ts wrote " + std::to_string(w.value),
                                   {w.call_event, b.ret_event}};
        }
        found = true;
      }
    }
    if (!found) {
      return RegisterViolation{"register.read_origin",
                               "read returned value " + std::to_string(value) + " with ts " + to_string(ts) +
                                   " that no write produced",
                               {b.call_event, b.ret_event}};
    }
  }
  // Real-time order against every op that returned before b was called.
  for (const RegisterOp& a : ops_) {
    if (&a == &b || !a.done || a.ret >= b.call) continue;
    const bool stale = b.kind == RegisterOp::Kind::kWrite ? !(b.ts > a.ts) : (b.ts < a.ts);
    if (stale) {
      const char* what_a = a.kind == RegisterOp::Kind::kWrite ? "write" : "read";
      const char* what_b = b.kind == RegisterOp::Kind::kWrite ? "write" : "read";
      return RegisterViolation{
          "register.real_time",
          std::string(what_b) + " by client " + std::to_string(b.client) + " has ts " + to_string(b.ts) +
              (b.kind == RegisterOp::Kind::kRead ? " (value " + std::to_string(b.value) + ")" : std::string()) +
              ", older than the " + what_a + " by client " + std::to_string(a.client) + " with ts " +
              to_string(a.ts) + " that returned before it started",
          {a.ret_event, b.call_event, b.ret_event}};
    }
  }
  return std::nullopt;
}

}  // namespace oracle
