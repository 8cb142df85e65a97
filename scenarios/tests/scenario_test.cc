// Kernel scenarios as a regression suite: each passes on a range of seeds, each planted bug is
// caught (so each invariant is shown to fire), and runs are reproducible.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include <map>
#include <set>

#include "scenarios/run.h"
#include "scenarios/scenario.h"

namespace scenarios {
namespace {

RunReport run(const std::string& scenario, uint64_t seed, const std::string& bug = "", const char* params = nullptr) {
  RunConfig cfg;
  cfg.scenario = scenario;
  cfg.seed = seed;
  cfg.bug = bug;
  if (params) cfg.params = nlohmann::json::parse(params);
  return run_scenario(cfg);
}

class EveryScenario : public ::testing::TestWithParam<std::string> {};

// The sanitizer build (Debug, about 25 times slower) runs fewer seeds of every scenario: there
// the point is memory errors on the same code paths, which a few seeds reach.
#ifdef SIMFS_SANITIZE_BUILD
constexpr uint64_t kPassSeeds = 8, kDigestSeeds = 3;
#else
constexpr uint64_t kPassSeeds = 40, kDigestSeeds = 10;
#endif

TEST_P(EveryScenario, PassesOnTheFirstSeeds) {
  for (uint64_t seed = 1; seed <= kPassSeeds; ++seed) {
    RunReport r = run(GetParam(), seed);
    ASSERT_EQ(r.result, RunReport::Result::kPass)
        << GetParam() << " seed " << seed << ": " << r.error
        << (r.violations.empty() ? "" : r.violations[0].invariant + ": " + r.violations[0].message)
        << "\nreplay: simfs run " << GetParam() << " --seed " << seed;
  }
}

TEST_P(EveryScenario, SameSeedSameDigestDifferentSeedsDiffer) {
  std::set<uint64_t> digests;
  for (uint64_t seed = 100; seed < 100 + kDigestSeeds; ++seed) {
    RunReport a = run(GetParam(), seed);
    RunReport b = run(GetParam(), seed);
    EXPECT_EQ(a.digest, b.digest) << "seed " << seed;
    EXPECT_EQ(a.trace_events, b.trace_events);
    digests.insert(a.digest);
  }
  EXPECT_EQ(digests.size(), kDigestSeeds);
}

TEST_P(EveryScenario, RecordedTapeReplaysToTheSameDigest) {
  RunConfig cfg;
  cfg.scenario = GetParam();
  cfg.seed = 77;
  cfg.record_tape = true;
  RunReport a = run_scenario(cfg);
  ASSERT_FALSE(a.tape.empty());
  RunConfig replay;
  replay.scenario = GetParam();
  replay.seed = 12345;  // ignored where the tape decides, which is everywhere
  replay.tape = &a.tape;
  RunReport b = run_scenario(replay);
  EXPECT_EQ(a.digest, b.digest);
  EXPECT_EQ(b.tape_mismatches, 0u);
}

TEST_P(EveryScenario, EmptyTapeIsTheSimplestRunAndPasses) {
  // All-zero decisions: no faults, minimum latencies, FIFO scheduling.
  std::vector<sim::Decision> empty;
  RunConfig cfg;
  cfg.scenario = GetParam();
  cfg.tape = &empty;
  RunReport r = run_scenario(cfg);
  EXPECT_EQ(r.result, RunReport::Result::kPass) << (r.violations.empty() ? r.error : r.violations[0].message);
}

INSTANTIATE_TEST_SUITE_P(All, EveryScenario,
                         ::testing::Values("register", "journal", "echo", "single_mount", "cluster_smoke", "multi_mount",
                                           "swarm"));

// The cluster on devices so small that operations run out of space.
constexpr const char* kClusterSmallDisk = R"({"meta_blocks": 1100, "data_blocks": 48, "allow_enospc": true})";

struct PlantedBug {
  const char* scenario;
  const char* bug;
  const char* invariant;  // or several, separated by '|', when the bug shows as whichever is checked first
  const char* params = nullptr;  // scenario parameters (JSON), when the bug needs a particular setup
};

bool invariant_matches(const std::string& got, const std::string& want) {
  size_t start = 0;
  for (;;) {
    size_t bar = want.find('|', start);
    if (want.substr(start, bar - start) == got) return true;
    if (bar == std::string::npos) return false;
    start = bar + 1;
  }
}

class EveryPlantedBug : public ::testing::TestWithParam<PlantedBug> {};

// Each planted bug must be caught, as a violation of the invariant it breaks, within 60 seeds.
TEST_P(EveryPlantedBug, IsCaughtAsItsInvariant) {
  const PlantedBug& p = GetParam();
  for (uint64_t seed = 1; seed <= 60; ++seed) {
    RunReport r = run(p.scenario, seed, p.bug, p.params);
    ASSERT_NE(r.result, RunReport::Result::kError) << r.error;
    if (r.result == RunReport::Result::kFail) {
      ASSERT_FALSE(r.violations.empty());
      EXPECT_TRUE(invariant_matches(r.violations[0].invariant, p.invariant))
          << r.violations[0].invariant << ": " << r.violations[0].message;
      // And the failure reproduces.
      RunReport again = run(p.scenario, seed, p.bug, p.params);
      EXPECT_EQ(again.digest, r.digest);
      EXPECT_EQ(again.violations[0].message, r.violations[0].message);
      return;
    }
  }
  FAIL() << p.scenario << " --bug " << p.bug << " was not caught in 60 seeds";
}

const PlantedBug kPlantedBugRows[] = {
    PlantedBug{"register", "read_one_replica", "register.real_time"},
    PlantedBug{"register", "ack_before_durable", "register.real_time"},
    PlantedBug{"register", "no_reconnect", "register.liveness"},
    PlantedBug{"journal", "ack_before_flush", "journal.durability"},
    PlantedBug{"journal", "no_checksum", "journal.integrity"},
    PlantedBug{"journal", "no_discard", "journal.liveness"},
    PlantedBug{"echo", "short_dedup_window", "echo.exactly_once"},
    PlantedBug{"echo", "stale_reply", "echo.reply_matches"},
    PlantedBug{"echo", "no_retransmit", "echo.liveness"},
    PlantedBug{"single_mount", "reuse_before_commit", "fs.fsck|fs.durability"},
    PlantedBug{"single_mount", "no_data_flush", "fs.durability"},
    PlantedBug{"single_mount", "rename_dir_nlink", "fs.state|fs.durability"},
    PlantedBug{"single_mount", "rmdir_not_empty", "fs.op_result"},
    PlantedBug{"single_mount", "no_restart", "fs.liveness|sim.deadlock"},
    PlantedBug{"single_mount", "leak_on_delete", "fs.fsck"},
    PlantedBug{"single_mount", "merge_resume_skips", "fs.state|fs.op_result|fs.durability|fs.fsck"},
    PlantedBug{"single_mount", "merge_drops_deletions", "fs.state|fs.op_result|fs.durability|fs.fsck"},
    PlantedBug{"single_mount", "read_stale_region", "fs.state|fs.op_result|fs.durability"},
    // Only a nearly full device shows it: the small-disk example's setup.
    PlantedBug{"single_mount", "truncate_no_reserve", "fs.enospc",
               R"({"meta_blocks": 1100, "data_blocks": 48, "allow_enospc": true,
                   "weight_write": 6, "weight_create": 3, "weight_truncate": 4})"},
    // The cluster's own: another mount sees what one mount's bug breaks.
    PlantedBug{"cluster_smoke", "invalidate_before_commit", "lock.dirty_answer"},
    PlantedBug{"cluster_smoke", "incompatible_grant", "lock.server_state|lock.compatible|fs.op_result|fs.state"},
    PlantedBug{"cluster_smoke", "reply_before_durable", "fs.op_result|fs.state|fs.durability"},
    PlantedBug{"cluster_smoke", "item_seq_ignores_write_seq", "fs.op_result|fs.state|fs.durability"},
    PlantedBug{"multi_mount", "invalidate_before_commit", "lock.dirty_answer"},
    PlantedBug{"multi_mount", "incompatible_grant", "lock.server_state|lock.compatible|fs.op_result|fs.state"},
    PlantedBug{"multi_mount", "reply_before_durable", "fs.op_result|fs.state|fs.durability"},
    PlantedBug{"multi_mount", "item_seq_ignores_write_seq", "fs.op_result|fs.state|fs.durability"},
    PlantedBug{"multi_mount", "no_resend_replay", "net.in_order"},
    PlantedBug{"cluster_smoke", "invalidate_keeps_mode", "lock.compatible|fs.op_result|fs.state"},
    PlantedBug{"cluster_smoke", "farewell_keeps_locks", "lock.departed"},
    PlantedBug{"cluster_smoke", "invalidate_no_wakeup", "fs.liveness"},
    PlantedBug{"cluster_smoke", "leak_on_delete", "fs.fsck"},
    PlantedBug{"cluster_smoke", "bloom_skips_deletions", "fs.fsck|fs.op_result|fs.state"},
    PlantedBug{"cluster_smoke", "truncate_no_reserve", "fs.enospc", kClusterSmallDisk},
    PlantedBug{"multi_mount", "invalidate_keeps_mode", "lock.compatible|fs.op_result|fs.state"},
    PlantedBug{"multi_mount", "farewell_keeps_locks", "lock.departed"},
    PlantedBug{"multi_mount", "invalidate_no_wakeup", "fs.liveness"},
    PlantedBug{"multi_mount", "leak_on_delete", "fs.fsck"},
    PlantedBug{"multi_mount", "bloom_skips_deletions", "fs.fsck|fs.op_result|fs.state"},
    PlantedBug{"multi_mount", "truncate_no_reserve", "fs.enospc", kClusterSmallDisk},
    // Inodes linked, unlinked and reopened by several mounts, commits every few items.
    PlantedBug{"multi_mount", "orphan_seq_ignores_inode_lock", "fs.fsck",
               R"({"ops": ["create", "link", "unlink", "open", "close", "write", "rename"], "dirty_items_max": 8})"},
    // The swarm draws its own shape (small disks in a third of the seeds): no parameters.
    PlantedBug{"swarm", "invalidate_before_commit", "lock.dirty_answer"},
    PlantedBug{"swarm", "incompatible_grant", "lock.server_state|lock.compatible|fs.op_result|fs.state"},
    PlantedBug{"swarm", "reply_before_durable", "fs.op_result|fs.state|fs.durability"},
    PlantedBug{"swarm", "item_seq_ignores_write_seq", "fs.op_result|fs.state|fs.durability"},
    PlantedBug{"swarm", "no_resend_replay", "net.in_order"},
    PlantedBug{"swarm", "invalidate_keeps_mode", "lock.compatible|fs.op_result|fs.state"},
    PlantedBug{"swarm", "farewell_keeps_locks", "lock.departed"},
    PlantedBug{"swarm", "invalidate_no_wakeup", "fs.liveness"},
    PlantedBug{"swarm", "leak_on_delete", "fs.fsck"},
    PlantedBug{"swarm", "bloom_skips_deletions", "fs.fsck|fs.op_result|fs.state"},
    PlantedBug{"swarm", "truncate_no_reserve", "fs.enospc"},
    // The log merge by clients (fs/server/merge_requests.cc, fs/client/log_merge.cc).
    PlantedBug{"multi_mount", "merge_resume_skips", "fs.op_result|fs.state|fs.durability|fs.fsck"},
    PlantedBug{"multi_mount", "merge_drops_deletions", "fs.op_result|fs.state|fs.durability|fs.fsck"},
    PlantedBug{"multi_mount", "merge_overlapping_ranges", "merge.disjoint"},
    PlantedBug{"cluster_smoke", "merge_resume_skips", "fs.op_result|fs.state|fs.durability|fs.fsck"},
    PlantedBug{"cluster_smoke", "merge_drops_deletions", "fs.op_result|fs.state|fs.durability|fs.fsck"},
    PlantedBug{"cluster_smoke", "merge_overlapping_ranges", "merge.disjoint"},
    PlantedBug{"swarm", "merge_resume_skips", "fs.op_result|fs.state|fs.durability|fs.fsck"},
    PlantedBug{"swarm", "merge_drops_deletions", "fs.op_result|fs.state|fs.durability|fs.fsck"},
    PlantedBug{"swarm", "merge_overlapping_ranges", "merge.disjoint"},
    PlantedBug{"multi_mount", "merge_reclaim_leaks_allocator", "fs.fsck"},
    PlantedBug{"swarm", "merge_reclaim_leaks_allocator", "fs.fsck"},
    PlantedBug{"multi_mount", "merge_finalize_one_at_a_time", "fs.op_result|fs.state|fs.durability|fs.fsck|fs.liveness"},
    PlantedBug{"swarm", "merge_finalize_one_at_a_time", "fs.op_result|fs.state|fs.durability|fs.fsck|fs.liveness"},
    PlantedBug{"compaction_storm", "merge_resume_skips", "fs.op_result|fs.state|fs.durability|fs.fsck"},
    PlantedBug{"compaction_storm", "merge_drops_deletions", "fs.op_result|fs.state|fs.durability|fs.fsck"},
    PlantedBug{"compaction_storm", "merge_overlapping_ranges", "merge.disjoint"},
    PlantedBug{"compaction_storm", "merge_reclaim_leaks_allocator", "fs.fsck"},
    // The elected server (fs/cluster/node_stack.cc): a serving node paused past the heartbeat
    // timeout every few seconds, so a deposed server still runs when the next one starts.
    PlantedBug{"failover", "serve_before_fence", "quorum.fenced_before_serving",
               R"({"faults": ["pause"], "server_kill_interval": "3s", "workload_end": "20s",
                   "fault_window_end": "18s"})"},
    // Farewells under unmount churn (fs/server/clients.cc): a voter let go without a majority.
    PlantedBug{"mount_unmount_race", "farewell_ignores_majority", "quorum.farewell_majority"},
    PlantedBug{"mount_unmount_race", "farewell_keeps_locks", "lock.departed|fs.liveness"},
    // An unmount that loses its last transaction (fs/client/mount.cc): a farewell means the
    // mount's last commit was durable (oracle/cluster_checker.h), so the model keeps the writes
    // the filesystem lost, and the next read or whole view of them differs. (The final unmounts
    // come after the workload's last commit: cluster_smoke never shows it.)
    PlantedBug{"mount_unmount_race", "unmount_skips_commit", "fs.op_result|fs.state|fs.durability"},
    // Recovery after a failover (fs/server/server.cc, fs/server/clients.cc, fs/client/lock_client.cc).
    PlantedBug{"failover", "recover_new_mode", "lock.compatible|lock.server_state|fs.op_result|fs.state|fs.durability"},
    PlantedBug{"failover", "recovery_waits_forever", "recovery.recovered_or_reclaimed"},
    PlantedBug{"failover", "greeting_not_idempotent", "lock.compatible|lock.server_state|fs.op_result|fs.state|fs.durability"},
    // Clients cut off, fenced and reclaimed (fs/server/clients.cc): a leaked allocator shows as
    // space that runs out early, or as blocks fsck finds nobody owns.
    PlantedBug{"fence_and_reclaim", "reclaim_leaks_allocators", "fs.op_result|fs.enospc|fs.fsck"},
    PlantedBug{"fence_and_reclaim", "greeting_not_idempotent", "lock.compatible|lock.server_state|fs.op_result|fs.state|fs.durability"},
    PlantedBug{"fence_and_reclaim", "recovery_waits_forever", "recovery.recovered_or_reclaimed"},
    PlantedBug{"fence_and_reclaim", "merge_reclaim_leaks_allocator", "fs.fsck"},
    PlantedBug{"fence_and_reclaim", "recover_new_mode", "lock.compatible|lock.server_state|fs.op_result|fs.state|fs.durability"},
    PlantedBug{"fence_and_reclaim", "serve_before_fence", "quorum.fenced_before_serving"},
    // The all-night loop: rounds of everything at once, a cold restart between two.
    PlantedBug{"nightly", "unmount_skips_commit", "fs.op_result|fs.state|fs.durability"},
    PlantedBug{"nightly", "reclaim_leaks_allocators", "fs.op_result|fs.enospc|fs.fsck"},
    PlantedBug{"nightly", "farewell_ignores_majority", "quorum.farewell_majority"},
    PlantedBug{"nightly", "serve_before_fence", "quorum.fenced_before_serving"},
    PlantedBug{"nightly", "greeting_not_idempotent", "lock.compatible|lock.server_state|fs.op_result|fs.state|fs.durability"},
    PlantedBug{"nightly", "leak_on_delete", "fs.fsck"}};

// Every invariant a scenario declares must be shown to fire in that scenario: by a run whose
// first violation is exactly it (a planted bug's row above with that one invariant, or a
// witness below: a bug that shows as several, one seed of which shows as this one), or, for
// the few that a scenario run cannot reach on purpose, by the named unit test that feeds the
// checker a deliberately broken input.
struct Witness {
  const char* scenario;
  const char* invariant;
  const char* bug;
  const char* params = nullptr;
};
const Witness kWitnesses[] = {
    Witness{"cluster_smoke", "lock.compatible", "invalidate_keeps_mode"},
    Witness{"multi_mount", "lock.compatible", "invalidate_keeps_mode"},
    Witness{"cluster_smoke", "fs.op_result", "item_seq_ignores_write_seq"},
    Witness{"multi_mount", "fs.op_result", "item_seq_ignores_write_seq"},
    Witness{"cluster_smoke", "fs.state", "item_seq_ignores_write_seq"},
    Witness{"multi_mount", "fs.state", "item_seq_ignores_write_seq"},
    Witness{"single_mount", "fs.state", "rename_dir_nlink"},
    Witness{"single_mount", "fs.liveness", "no_restart"},
    Witness{"compaction_storm", "fs.op_result", "merge_resume_skips"},
    Witness{"compaction_storm", "merge.disjoint", "merge_overlapping_ranges"},
    Witness{"compaction_storm", "fs.state", "merge_drops_deletions"},
    Witness{"compaction_storm", "fs.fsck", "merge_reclaim_leaks_allocator"},
    // A deletion that comes back can keep an operation from ever finishing (rmdir of a
    // directory that is empty again and again, say).
    Witness{"compaction_storm", "fs.liveness", "merge_drops_deletions"},
    Witness{"swarm", "lock.compatible", "invalidate_keeps_mode"},
    Witness{"swarm", "fs.op_result", "item_seq_ignores_write_seq"},
    Witness{"swarm", "fs.state", "item_seq_ignores_write_seq"},
    Witness{"fence_and_reclaim", "lock.compatible", "greeting_not_idempotent"},
};
struct ShownElsewhere {
  const char* scenario;  // "*": every scenario that declares it
  const char* invariant;
  const char* test;
};
const ShownElsewhere kShownElsewhere[] = {
    {"*", "sim.deadlock", "sim/tests/task_test.cc (two tasks waiting on each other)"},
    // An incompatible grant shows first as lock.compatible, checked the moment the grant takes
    // effect on the mount; the server's own check (every 20 ms) is fed broken states directly.
    {"cluster_smoke", "lock.server_state", "fs/lock/tests/lock_server_core_test.cc (LockServerCoreCheck.*)"},
    {"multi_mount", "lock.server_state", "fs/lock/tests/lock_server_core_test.cc (LockServerCoreCheck.*)"},
    {"swarm", "lock.server_state", "fs/lock/tests/lock_server_core_test.cc (LockServerCoreCheck.*)"},
    {"register", "register.read_origin", "oracle/tests/register_checker_test.cc (forged reads)"},
    // Something another mount observed vanishing with a lost mount needs the server to lose a
    // durable commit unnoticed; the checker is fed exactly that.
    {"cluster_smoke", "fs.durability", "oracle/tests/cluster_checker_test.cc (durability news withheld)"},
    {"multi_mount", "fs.durability", "oracle/tests/cluster_checker_test.cc (durability news withheld)"},
    {"swarm", "fs.durability", "oracle/tests/cluster_checker_test.cc (durability news withheld)"},
    {"compaction_storm", "fs.durability", "oracle/tests/cluster_checker_test.cc (durability news withheld)"},
    // The same connection check multi_mount's no_resend_replay row shows; cluster_smoke breaks
    // no connections, so nothing there can get out of order.
    {"cluster_smoke", "net.in_order", "multi_mount --bug no_resend_replay (the same check)"},
    // compaction_storm is multi_mount's scenario code with other parameters and only the merge
    // bugs listed: these checks are the ones multi_mount's rows show firing.
    {"compaction_storm", "fs.enospc", "multi_mount --bug truncate_no_reserve (the same check)"},
    {"compaction_storm", "lock.server_state", "multi_mount --bug incompatible_grant (the same check)"},
    {"compaction_storm", "lock.compatible", "multi_mount --bug invalidate_keeps_mode (the same check)"},
    {"compaction_storm", "lock.dirty_answer", "multi_mount --bug invalidate_before_commit (the same check)"},
    {"compaction_storm", "lock.departed", "multi_mount --bug farewell_keeps_locks (the same check)"},
    {"compaction_storm", "net.in_order", "multi_mount --bug no_resend_replay (the same check)"},
    // failover is multi_mount's scenario code with an elected server: the filesystem checks are
    // the ones multi_mount's rows show firing; the election's own are fed broken inputs.
    {"failover", "fs.durability", "oracle/tests/cluster_checker_test.cc (durability news withheld)"},
    {"failover", "fs.op_result", "multi_mount --bug item_seq_ignores_write_seq (the same check)"},
    {"failover", "fs.state", "multi_mount --bug item_seq_ignores_write_seq (the same check)"},
    {"failover", "fs.fsck", "multi_mount --bug leak_on_delete (the same check)"},
    {"failover", "fs.enospc", "multi_mount --bug truncate_no_reserve (the same check)"},
    {"failover", "fs.liveness", "multi_mount --bug invalidate_no_wakeup (the same check)"},
    {"failover", "lock.server_state", "multi_mount --bug incompatible_grant (the same check)"},
    {"failover", "lock.compatible", "multi_mount --bug invalidate_keeps_mode (the same check)"},
    {"failover", "lock.dirty_answer", "multi_mount --bug invalidate_before_commit (the same check)"},
    {"failover", "lock.departed", "multi_mount --bug farewell_keeps_locks (the same check)"},
    {"failover", "net.in_order", "multi_mount --bug no_resend_replay (the same check)"},
    {"failover", "merge.disjoint", "multi_mount --bug merge_overlapping_ranges (the same check)"},
    // mount_unmount_race is failover's code with unmount churn: the same checks.
    {"mount_unmount_race", "fs.durability", "oracle/tests/cluster_checker_test.cc (durability news withheld)"},
    {"mount_unmount_race", "fs.op_result", "multi_mount --bug item_seq_ignores_write_seq (the same check)"},
    {"mount_unmount_race", "fs.state", "multi_mount --bug item_seq_ignores_write_seq (the same check)"},
    {"mount_unmount_race", "fs.fsck", "multi_mount --bug leak_on_delete (the same check)"},
    {"mount_unmount_race", "fs.enospc", "multi_mount --bug truncate_no_reserve (the same check)"},
    {"mount_unmount_race", "fs.liveness", "multi_mount --bug invalidate_no_wakeup (the same check)"},
    {"mount_unmount_race", "lock.server_state", "multi_mount --bug incompatible_grant (the same check)"},
    {"mount_unmount_race", "lock.compatible", "multi_mount --bug invalidate_keeps_mode (the same check)"},
    {"mount_unmount_race", "lock.dirty_answer", "multi_mount --bug invalidate_before_commit (the same check)"},
    {"mount_unmount_race", "lock.departed", "multi_mount --bug farewell_keeps_locks (the same check)"},
    {"mount_unmount_race", "net.in_order", "multi_mount --bug no_resend_replay (the same check)"},
    {"mount_unmount_race", "merge.disjoint", "multi_mount --bug merge_overlapping_ranges (the same check)"},
    {"mount_unmount_race", "quorum.term_monotone", "oracle/tests/quorum_checker_test.cc (a term going back, two votes in a term)"},
    {"mount_unmount_race", "quorum.one_leader", "oracle/tests/quorum_checker_test.cc (a term won twice)"},
    {"mount_unmount_race", "quorum.fenced_before_serving", "failover --bug serve_before_fence (the same check)"},
    {"failover", "quorum.term_monotone", "oracle/tests/quorum_checker_test.cc (a term going back, two votes in a term)"},
    {"failover", "quorum.one_leader", "oracle/tests/quorum_checker_test.cc (a term won twice)"},
    {"mount_unmount_race", "recovery.recovered_or_reclaimed", "failover --bug recovery_waits_forever (the same check)"},
    // fence_and_reclaim is failover's code with clients cut off: the same checks.
    {"fence_and_reclaim", "fs.durability", "oracle/tests/cluster_checker_test.cc (durability news withheld)"},
    {"fence_and_reclaim", "fs.op_result", "multi_mount --bug item_seq_ignores_write_seq (the same check)"},
    {"fence_and_reclaim", "fs.state", "multi_mount --bug item_seq_ignores_write_seq (the same check)"},
    {"fence_and_reclaim", "fs.enospc", "multi_mount --bug truncate_no_reserve (the same check)"},
    {"fence_and_reclaim", "fs.liveness", "multi_mount --bug invalidate_no_wakeup (the same check)"},
    {"fence_and_reclaim", "lock.server_state", "multi_mount --bug incompatible_grant (the same check)"},
    {"fence_and_reclaim", "lock.dirty_answer", "multi_mount --bug invalidate_before_commit (the same check)"},
    {"fence_and_reclaim", "lock.departed", "multi_mount --bug farewell_keeps_locks (the same check)"},
    {"fence_and_reclaim", "net.in_order", "multi_mount --bug no_resend_replay (the same check)"},
    {"fence_and_reclaim", "merge.disjoint", "multi_mount --bug merge_overlapping_ranges (the same check)"},
    {"fence_and_reclaim", "quorum.term_monotone", "oracle/tests/quorum_checker_test.cc (a term going back, two votes in a term)"},
    {"fence_and_reclaim", "quorum.one_leader", "oracle/tests/quorum_checker_test.cc (a term won twice)"},
    {"nightly", "fs.durability", "oracle/tests/cluster_checker_test.cc (durability news withheld)"},
    {"nightly", "fs.op_result", "multi_mount --bug item_seq_ignores_write_seq (the same check)"},
    {"nightly", "fs.state", "multi_mount --bug item_seq_ignores_write_seq (the same check)"},
    {"nightly", "fs.enospc", "multi_mount --bug truncate_no_reserve (the same check)"},
    {"nightly", "fs.liveness", "multi_mount --bug invalidate_no_wakeup (the same check)"},
    {"nightly", "lock.server_state", "multi_mount --bug incompatible_grant (the same check)"},
    {"nightly", "lock.compatible", "multi_mount --bug invalidate_keeps_mode (the same check)"},
    {"nightly", "lock.dirty_answer", "multi_mount --bug invalidate_before_commit (the same check)"},
    {"nightly", "lock.departed", "multi_mount --bug farewell_keeps_locks (the same check)"},
    {"nightly", "net.in_order", "multi_mount --bug no_resend_replay (the same check)"},
    {"nightly", "merge.disjoint", "multi_mount --bug merge_overlapping_ranges (the same check)"},
    {"nightly", "quorum.term_monotone", "oracle/tests/quorum_checker_test.cc (a term going back, two votes in a term)"},
    {"nightly", "quorum.one_leader", "oracle/tests/quorum_checker_test.cc (a term won twice)"},
    {"nightly", "recovery.recovered_or_reclaimed", "failover --bug recovery_waits_forever (the same check)"},
};

class EveryWitness : public ::testing::TestWithParam<Witness> {};

TEST_P(EveryWitness, SomeSeedShowsExactlyThisInvariant) {
  const Witness& w = GetParam();
  std::map<std::string, int> seen;
  for (uint64_t seed = 1; seed <= 60; ++seed) {
    RunReport r = run(w.scenario, seed, w.bug, w.params);
    ASSERT_NE(r.result, RunReport::Result::kError) << r.error;
    if (r.result != RunReport::Result::kFail) continue;
    if (r.violations[0].invariant == w.invariant) return;
    ++seen[r.violations[0].invariant];
  }
  std::string got;
  for (const auto& [inv, n] : seen) got += " " + inv + "x" + std::to_string(n);
  FAIL() << w.scenario << " --bug " << w.bug << " never showed as " << w.invariant << " in 60 seeds; it showed as" << got;
}

INSTANTIATE_TEST_SUITE_P(
    Kernel, EveryWitness, ::testing::ValuesIn(kWitnesses), [](const ::testing::TestParamInfo<Witness>& i) {
      std::string n = std::string(i.param.scenario) + "_" + i.param.invariant;
      for (char& c : n) if (c == '.') c = '_';
      return n;
    });

TEST(Registry, EveryDeclaredInvariantIsShownToFire) {
  for (const auto& s : all_scenarios()) {
    for (const std::string& inv : s.invariants) {
      bool shown = false;
      for (const PlantedBug& row : kPlantedBugRows) shown |= s.name == row.scenario && inv == row.invariant;
      for (const Witness& w : kWitnesses) shown |= s.name == w.scenario && inv == w.invariant;
      for (const ShownElsewhere& e : kShownElsewhere) {
        shown |= (std::string(e.scenario) == "*" || s.name == e.scenario) && inv == e.invariant;
      }
      EXPECT_TRUE(shown) << s.name << " declares " << inv << " but nothing shows it firing there";
    }
  }
}

INSTANTIATE_TEST_SUITE_P(
    Kernel, EveryPlantedBug, ::testing::ValuesIn(kPlantedBugRows),
    [](const ::testing::TestParamInfo<PlantedBug>& i) { return std::string(i.param.scenario) + "_" + i.param.bug; });

TEST(Registry, EveryListedBugIsTestedAbove) {
  for (const auto& s : all_scenarios()) {
    for (const std::string& bug : s.bugs) {
      bool found = false;
      for (const PlantedBug& row : kPlantedBugRows) found |= s.name == row.scenario && bug == row.bug;
      EXPECT_TRUE(found) << s.name << " --bug " << bug << " needs a row in kPlantedBugRows";
    }
  }
}

TEST(Registry, UnknownScenarioAndBugAreErrors) {
  EXPECT_EQ(run("nope", 1).result, RunReport::Result::kError);
  EXPECT_EQ(run("register", 1, "nope").result, RunReport::Result::kError);
}

}  // namespace
}  // namespace scenarios
