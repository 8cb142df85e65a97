// RegisterChecker: judges a history of reads and writes on one atomic (linearizable) register
// whose writes carry unique, totally ordered timestamps (as in ABD-style quorum registers).
//
// Invariants (ids as reported):
//   register.read_origin   a read returns the initial value (ts 0, value 0) or exactly the
//                          value of a write that carries the returned timestamp;
//   register.real_time     if op A returned before op B was called, ts(B) >= ts(A), and
//                          ts(B) > ts(A) when B is a write (no stale reads, no lost writes).
// It sees only what clients observed (calls, returns, timestamps, values) and checks each op
// as it completes, so a violation stops the run at the first bad return.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "sim/time.h"

namespace oracle {

struct RegisterTs {
  uint64_t counter = 0;
  uint64_t writer = 0;
  auto operator<=>(const RegisterTs&) const = default;
};

struct RegisterOp {
  enum class Kind { kRead, kWrite } kind = Kind::kRead;
  int client = 0;
  sim::Time call = 0;
  sim::Time ret = 0;        // 0 while pending
  bool done = false;        // completed successfully
  bool ts_known = false;    // a write's ts is known once it enters its second phase
  RegisterTs ts;
  uint64_t value = 0;
  uint64_t call_event = 0;  // trace indices, for witnesses
  uint64_t ret_event = 0;
};

struct RegisterViolation {
  std::string invariant;
  std::string message;
  std::vector<uint64_t> witness;
};

class RegisterChecker {
 public:
  // Returns the op's index.
  size_t call(RegisterOp::Kind kind, int client, sim::Time t, uint64_t call_event, uint64_t value = 0);
  void set_write_ts(size_t op, RegisterTs ts);
  // Records a successful return and checks it against every op seen so far.
  std::optional<RegisterViolation> complete(size_t op, sim::Time t, uint64_t ret_event, RegisterTs ts, uint64_t value);
  const std::vector<RegisterOp>& ops() const { return ops_; }

 private:
  std::vector<RegisterOp> ops_;
};

std::string to_string(const RegisterTs& ts);

}  // namespace oracle
