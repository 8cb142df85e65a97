// Campaign bookkeeping shared by `simfs fuzz` (and later `simfs merge`): per-run seeds,
// failure fingerprints, and the JUnit / JSON Lines writers.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace tools {

// Run k's seed: the splitmix64 output at position k of the campaign seed (random access, so
// shards need no shared state).
uint64_t campaign_run_seed(uint64_t campaign_seed, uint64_t k);

// Replaces every run of digits with '#', so failures that differ only in numbers (seeds,
// timestamps, ids) share a fingerprint.
std::string normalize_message(const std::string& msg);

struct CampaignFailure {
  uint64_t k = 0;
  uint64_t seed = 0;
  std::string scenario;   // the scenario's name (part of the fingerprint)
  std::string target;     // what `simfs run` was given: the name or a scenario file
  std::string invariant;  // or "crash", "timeout", "harness", "nondeterminism"
  std::string message;
  std::string fingerprint;
  std::string replay;
  std::string artifact_dir;
  std::string shrunk_replay;   // command replaying the shrunk tape, if shrinking succeeded
  std::string shrink_summary;  // "decisions a -> b (non-zero c -> d), events e -> f"
  uint64_t count = 1;     // runs that hit this fingerprint
};

std::string fingerprint_of(const std::string& scenario, const std::string& invariant, const std::string& message);

std::string xml_escape(const std::string& s);

}  // namespace tools
