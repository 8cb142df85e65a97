// Choice points and the decision tape.
//
// Every nondeterministic decision in a run (scheduler tie-breaks, latencies, faults, workload
// operations) goes through Chooser::choose(site, bound). A Strategy supplies the value; the
// Chooser can record each decision as (site, bound, value) on a tape. Replaying the tape gives
// the same run; editing it (deleting or lowering values) is how shrinking works.
//
// Convention that makes shrinking meaningful: value 0 is always the simplest choice. chance()
// returns false for 0 (no fault), range() returns its lower bound, the scheduler runs the
// oldest ready event. A tape that runs out answers 0 from then on.
//
// Decisions with a single possible outcome (bound <= 1, chance 0 or 1) are not recorded.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "sim/random.h"
#include "sim/time.h"

namespace sim {

// Independent random streams. Each site draws from its stream's generator under RandomStrategy.
enum class Stream : uint8_t { kScheduler, kNetwork, kDisk, kFaults, kWorkload, kFs, kCount };
const char* stream_name(Stream s);

// A place in the code that makes a decision. Define one per decision as a static constant:
//   static constexpr sim::Site kSiteDropMsg{"net.datagram.drop", sim::Stream::kNetwork};
struct Site {
  const char* name;
  Stream stream;
  uint64_t id;  // fnv1a64(name): stable across builds, so tapes outlive code motion
  constexpr Site(const char* n, Stream s) : name(n), stream(s), id(fnv1a64(n)) {}
};

struct Decision {
  uint64_t site_id;
  uint64_t bound;
  uint64_t value;
};

// Supplies the value of each decision. Implementations: random, tape replay and tape prefix
// then random (below); later PCT and exhaustive enumeration.
class Strategy {
 public:
  virtual ~Strategy() = default;
  // Returns a value in [0, bound). bound >= 2.
  virtual uint64_t choose(const Site& site, uint64_t bound) = 0;
};

// Draws each decision from the site's stream, seeded from the run seed.
class RandomStrategy final : public Strategy {
 public:
  explicit RandomStrategy(uint64_t run_seed);
  uint64_t choose(const Site& site, uint64_t bound) override {
    return streams_[static_cast<int>(site.stream)].uniform(bound);
  }

 private:
  Random streams_[static_cast<int>(Stream::kCount)];
};

// Replays a tape in order. A value too large for the bound is clamped to bound-1; a site that
// differs from the recorded one still takes the value (Hypothesis-style: edited tapes stay
// usable) but is counted, so a replay can say whether it followed the recording exactly.
class TapeStrategy final : public Strategy {
 public:
  explicit TapeStrategy(std::vector<Decision> tape) : tape_(std::move(tape)) {}
  uint64_t choose(const Site& site, uint64_t bound) override;
  uint64_t site_mismatches() const { return site_mismatches_; }
  bool exhausted() const { return pos_ >= tape_.size(); }
  size_t position() const { return pos_; }

 private:
  std::vector<Decision> tape_;
  size_t pos_ = 0;
  uint64_t site_mismatches_ = 0;
};

// Replays a tape prefix, then draws every later decision at random from `suffix_seed`'s
// streams (instead of answering 0 as an exhausted TapeStrategy does). `simfs why` uses it to
// ask "keeping everything decided before time T, how often does the run still fail?".
// The random suffix does not depend on the prefix's length: its streams start fresh.
class PrefixThenRandomStrategy final : public Strategy {
 public:
  PrefixThenRandomStrategy(std::vector<Decision> prefix, uint64_t suffix_seed)
      : tape_(std::move(prefix)), random_(suffix_seed) {}
  uint64_t choose(const Site& site, uint64_t bound) override {
    return tape_.exhausted() ? random_.choose(site, bound) : tape_.choose(site, bound);
  }
  uint64_t site_mismatches() const { return tape_.site_mismatches(); }
  // Decisions taken from the prefix so far.
  size_t prefix_used() const { return tape_.position(); }

 private:
  TapeStrategy tape_;
  RandomStrategy random_;
};

class Chooser {
 public:
  explicit Chooser(Strategy* strategy) : strategy_(strategy) {}

  void set_strategy(Strategy* s) { strategy_ = s; }
  // Recording keeps every decision (16-24 bytes each, plus its instant); off by default.
  void set_recording(bool on) { recording_ = on; }
  // Where virtual time lives (the event loop sets it), so a recorded decision carries the
  // instant it was made at. Without a clock, recorded times are 0.
  void set_clock(const Time* now) { clock_ = now; }

  // A value in [0, bound). bound <= 1 returns 0 and is not a decision.
  uint64_t choose(const Site& site, uint64_t bound) {
    if (bound <= 1) return 0;
    uint64_t v = strategy_->choose(site, bound);
    ++decisions_;
    if (recording_) record(site, bound, v);
    return v;
  }

  // True with probability num/den under the random strategy; false is the simple outcome.
  bool chance(const Site& site, uint64_t num, uint64_t den) {
    if (num == 0 || den == 0) return false;
    if (num >= den) return true;
    return choose(site, den) >= den - num;
  }

  // Uniform in [lo, hi] under the random strategy; lo is the simple outcome.
  int64_t range(const Site& site, int64_t lo, int64_t hi) {
    if (hi <= lo) return lo;
    // Unsigned arithmetic: hi - lo overflows int64 for wide spans, and the full span's size
    // (2^64) does not fit a bound, so that one case draws from [lo, hi - 1].
    const uint64_t span = static_cast<uint64_t>(hi) - static_cast<uint64_t>(lo);
    const uint64_t v = choose(site, span == UINT64_MAX ? span : span + 1);
    return static_cast<int64_t>(static_cast<uint64_t>(lo) + v);
  }

  uint64_t decisions() const { return decisions_; }
  const std::vector<Decision>& tape() const { return tape_; }
  // The virtual time of each recorded decision, parallel to tape() (non-decreasing).
  const std::vector<Time>& tape_times() const { return tape_times_; }
  // Names of the sites seen while recording, for writing a readable tape.
  const std::map<uint64_t, std::string>& site_names() const { return site_names_; }

 private:
  void record(const Site& site, uint64_t bound, uint64_t v);

  Strategy* strategy_;
  bool recording_ = false;
  uint64_t decisions_ = 0;
  const Time* clock_ = nullptr;
  std::vector<Decision> tape_;
  std::vector<Time> tape_times_;
  std::map<uint64_t, std::string> site_names_;
};

}  // namespace sim
