#include "sim/block_device.h"

#include <gtest/gtest.h>
#include <rapidcheck/gtest.h>

#include <algorithm>
#include <cstring>
#include <map>
#include <memory>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "sim/random.h"
#include "sim/simulation.h"
#include "sim/tests/test_util.h"

namespace sim {
namespace {

using Outcome = Simulation::Outcome;
using Bytes = std::vector<uint8_t>;
using testing::ShutdownGuard;

BlockDeviceConfig small_config(bool torn = true) {
  BlockDeviceConfig c;
  c.block_size = 4096;
  c.sector_size = 512;
  c.block_count = 16;
  c.torn_writes = torn;
  return c;
}

// Contents of version `ver` of block `blk`: version 0 is the zeros of a fresh device; other
// versions differ in every sector, so a sector says which version it came from.
Bytes pattern(const BlockDeviceConfig& c, uint64_t blk, uint64_t ver) {
  Bytes d(c.block_size, 0);
  if (ver == 0) return d;
  for (uint32_t s = 0; s < c.block_size / c.sector_size; ++s) {
    uint64_t x = splitmix64_at(blk * 1000003 + ver, s);
    for (uint32_t i = 0; i < c.sector_size; ++i) {
      d[s * c.sector_size + i] = static_cast<uint8_t>((x >> (8 * (i % 8))) ^ (i / 8) ^ 0x80);
    }
  }
  return d;
}

Bytes durable(const BlockDevice& dev, uint64_t blk) {
  Bytes b(dev.config().block_size);
  dev.peek_durable(blk, b);
  return b;
}

Bytes visible(const BlockDevice& dev, uint64_t blk) {
  Bytes b(dev.config().block_size);
  dev.peek(blk, b);
  return b;
}

bool sector_equal(const BlockDeviceConfig& c, const Bytes& a, const Bytes& b, uint32_t s) {
  return std::memcmp(a.data() + s * c.sector_size, b.data() + s * c.sector_size, c.sector_size) == 0;
}

// Common world: one node with the device attached.
struct World {
  explicit World(uint64_t seed, BlockDeviceConfig cfg = small_config())
      : s(seed), n(s.add_node("n")), dev(s, 0, "d", cfg), h((n.start(), dev.attach(n))) {}
  Simulation s;
  Node& n;
  BlockDevice dev;
  std::unique_ptr<DiskHandle> h;
  ShutdownGuard guard{s};
};

TEST(BlockDevice, FreshDeviceReadsZeros) {
  World w(1);
  Bytes out(4096, 0xff);
  Errno e = -1;
  w.n.spawn("r", [&] { e = w.h->read(3, out); });
  EXPECT_EQ(w.s.run(kTimeNever).outcome, Outcome::kQuiescent);
  EXPECT_EQ(e, kOk);
  EXPECT_EQ(out, Bytes(4096, 0));
  EXPECT_EQ(w.h->block_size(), 4096u);
  EXPECT_EQ(w.h->block_count(), 16u);
  EXPECT_EQ(w.h->node_id(), 0);
}

TEST(BlockDevice, ReadYourWrites) {
  World w(2);
  const auto& c = w.dev.config();
  std::vector<Errno> errs;
  Bytes got1, got2;
  w.n.spawn("rw", [&] {
    errs.push_back(w.h->write(5, pattern(c, 5, 1)));
    Bytes b(4096);
    errs.push_back(w.h->read(5, b));
    got1 = b;
    errs.push_back(w.h->write(5, pattern(c, 5, 2)));
    errs.push_back(w.h->read(5, b));
    got2 = b;
  });
  EXPECT_EQ(w.s.run(kTimeNever).outcome, Outcome::kQuiescent);
  EXPECT_EQ(errs, (std::vector<Errno>{kOk, kOk, kOk, kOk}));
  EXPECT_EQ(got1, pattern(c, 5, 1));
  EXPECT_EQ(got2, pattern(c, 5, 2));
  // Not flushed: visible but not durable.
  EXPECT_EQ(visible(w.dev, 5), pattern(c, 5, 2));
  EXPECT_EQ(durable(w.dev, 5), pattern(c, 5, 0));
  EXPECT_EQ(w.dev.pending_writes(), 2u);
}

TEST(BlockDevice, OtherNodesSeeUnflushedWrites) {
  World w(3);
  Node& m = w.s.add_node("m");
  m.start();
  auto hm = w.dev.attach(m);
  const auto& c = w.dev.config();
  Bytes got;
  w.n.spawn("writer", [&] { EXPECT_EQ(w.h->write(1, pattern(c, 1, 1)), kOk); });
  m.spawn("reader", [&] {
    this_task::sleep(kMillisecond);
    Bytes b(4096);
    EXPECT_EQ(hm->read(1, b), kOk);
    got = b;
  });
  EXPECT_EQ(w.s.run(kTimeNever).outcome, Outcome::kQuiescent);
  EXPECT_EQ(got, pattern(c, 1, 1));
  w.s.shutdown();
}

TEST(BlockDevice, InvalidArguments) {
  World w(4);
  std::vector<Errno> errs;
  w.n.spawn("t", [&] {
    Bytes b(4096), small(100);
    errs.push_back(w.h->read(16, b));
    errs.push_back(w.h->read(0, small));
    errs.push_back(w.h->write(16, b));
    errs.push_back(w.h->write(0, small));
    errs.push_back(w.h->discard(10, 7));
    errs.push_back(w.h->discard(17, 0));
    errs.push_back(w.h->discard(0, UINT64_MAX));
  });
  w.s.run(kTimeNever);
  EXPECT_EQ(errs, (std::vector<Errno>(7, EINVAL)));
  EXPECT_EQ(w.dev.pending_writes(), 0u);
}

TEST(BlockDevice, LatenciesWithinConfiguredBounds) {
  World w(5);
  const auto& c = w.dev.config();
  std::vector<Duration> reads, writes, flushes;
  w.n.spawn("t", [&] {
    Bytes b(4096);
    for (int i = 0; i < 30; ++i) {
      Time t0 = this_task::now();
      w.h->read(0, b);
      reads.push_back(this_task::now() - t0);
      t0 = this_task::now();
      w.h->write(0, b);
      writes.push_back(this_task::now() - t0);
      t0 = this_task::now();
      w.h->flush();
      flushes.push_back(this_task::now() - t0);
    }
  });
  w.s.run(kTimeNever);
  ASSERT_EQ(reads.size(), 30u);
  for (int i = 0; i < 30; ++i) {
    EXPECT_GE(reads[i], c.read_latency_min);
    EXPECT_LE(reads[i], c.read_latency_max);
    EXPECT_GE(writes[i], c.write_latency_min);
    EXPECT_LE(writes[i], c.write_latency_max);
    EXPECT_GE(flushes[i], c.flush_latency_min);
    EXPECT_LE(flushes[i], c.flush_latency_max);
  }
  EXPECT_GT(std::set<Duration>(reads.begin(), reads.end()).size(), 1u);  // drawn, not fixed
}

TEST(BlockDevice, FlushMakesCompletedWritesDurable) {
  World w(6);
  const auto& c = w.dev.config();
  w.n.spawn("t", [&] {
    EXPECT_EQ(w.h->write(2, pattern(c, 2, 1)), kOk);
    EXPECT_EQ(w.h->write(3, pattern(c, 3, 1)), kOk);
    EXPECT_EQ(durable(w.dev, 2), pattern(c, 2, 0));
    EXPECT_EQ(w.h->flush(), kOk);
    EXPECT_EQ(durable(w.dev, 2), pattern(c, 2, 1));
    EXPECT_EQ(durable(w.dev, 3), pattern(c, 3, 1));
    EXPECT_EQ(w.dev.pending_writes(), 0u);
  });
  EXPECT_EQ(w.s.run(kTimeNever).outcome, Outcome::kQuiescent);
  EXPECT_EQ(w.dev.provisioned_blocks(), 2u);
}

TEST(BlockDevice, FuaIsDurableAtOnce) {
  World w(7);
  const auto& c = w.dev.config();
  w.n.spawn("t", [&] {
    EXPECT_EQ(w.h->write(4, pattern(c, 4, 1), /*fua=*/true), kOk);
    EXPECT_EQ(durable(w.dev, 4), pattern(c, 4, 1));
    EXPECT_EQ(w.dev.pending_writes(), 0u);
  });
  EXPECT_EQ(w.s.run(kTimeNever).outcome, Outcome::kQuiescent);
  w.n.crash();
  EXPECT_EQ(durable(w.dev, 4), pattern(c, 4, 1));
}

// A FLUSH from one node covers completed writes of every node.
TEST(BlockDevice, FlushCoversOtherWriters) {
  World w(8);
  Node& m = w.s.add_node("m");
  m.start();
  auto hm = w.dev.attach(m);
  const auto& c = w.dev.config();
  w.n.spawn("writer", [&] { EXPECT_EQ(w.h->write(9, pattern(c, 9, 1)), kOk); });
  m.spawn("flusher", [&] {
    this_task::sleep(kMillisecond);  // after the write completed
    EXPECT_EQ(hm->flush(), kOk);
  });
  EXPECT_EQ(w.s.run(kTimeNever).outcome, Outcome::kQuiescent);
  EXPECT_EQ(durable(w.dev, 9), pattern(c, 9, 1));
  w.s.shutdown();
}

// A write still in flight when a FLUSH is issued is not covered by it.
TEST(BlockDevice, FlushDoesNotCoverWritesInFlight) {
  BlockDeviceConfig cfg = small_config();
  cfg.write_latency_min = cfg.write_latency_max = 10 * kMillisecond;
  cfg.flush_latency_min = cfg.flush_latency_max = 20 * kMillisecond;
  World w(9, cfg);
  Node& m = w.s.add_node("m");
  m.start();
  auto hm = w.dev.attach(m);
  w.n.spawn("writer", [&] { EXPECT_EQ(w.h->write(9, pattern(cfg, 9, 1)), kOk); });
  m.spawn("flusher", [&] {
    this_task::sleep(kMillisecond);  // the write is in flight
    EXPECT_EQ(hm->flush(), kOk);
  });
  EXPECT_EQ(w.s.run(kTimeNever).outcome, Outcome::kQuiescent);
  EXPECT_EQ(durable(w.dev, 9), pattern(cfg, 9, 0));
  EXPECT_EQ(w.dev.pending_writes(), 1u);
  w.s.shutdown();
}

TEST(BlockDevice, CrashResolvesOnlyTheCrashedWritersWrites) {
  World w(10);
  Node& m = w.s.add_node("m");
  m.start();
  auto hm = w.dev.attach(m);
  const auto& c = w.dev.config();
  w.n.spawn("a", [&] { w.h->write(1, pattern(c, 1, 1)); });
  m.spawn("b", [&] {
    hm->write(2, pattern(c, 2, 1));
    hm->write(3, pattern(c, 3, 1));
  });
  EXPECT_EQ(w.s.run(kTimeNever).outcome, Outcome::kQuiescent);
  EXPECT_EQ(w.dev.pending_writes(), 3u);
  w.n.crash();
  EXPECT_TRUE(w.h->is_cut());
  EXPECT_FALSE(hm->is_cut());
  EXPECT_EQ(w.dev.pending_writes(), 2u);
  EXPECT_EQ(visible(w.dev, 2), pattern(c, 2, 1));
  w.dev.power_loss();
  EXPECT_EQ(w.dev.pending_writes(), 0u);
  w.s.shutdown();
}

TEST(BlockDevice, CutHandleFailsWithEio) {
  World w(11);
  w.n.crash();
  Errno r = -1, wr = -1, f = -1, d = -1;
  w.s.spawn("world", [&] {
    Bytes b(4096);
    r = w.h->read(0, b);
    wr = w.h->write(0, b);
    f = w.h->flush();
    d = w.h->discard(0, 1);
  });
  w.s.run(kTimeNever);
  EXPECT_EQ(r, EIO);
  EXPECT_EQ(wr, EIO);
  EXPECT_EQ(f, EIO);
  EXPECT_EQ(d, EIO);
}

// ---- durability properties ----

struct Op {
  uint64_t blk;
  bool fua;
  bool flush_after;
  Duration gap;
};

// Whatever the crash time: every block holds its last acknowledged-durable version, or a
// version issued after it (a later write may land), sector by sector when writes can tear.
RC_GTEST_PROP(BlockDeviceProp, AcknowledgedDurableWritesSurviveCrash, (uint64_t seed, bool torn)) {
  const BlockDeviceConfig cfg = [&] {
    BlockDeviceConfig c = small_config(torn);
    c.block_count = 6;
    return c;
  }();
  const auto ops = *rc::gen::container<std::vector<Op>>(rc::gen::build<Op>(
      rc::gen::set(&Op::blk, rc::gen::inRange<uint64_t>(0, 6)),
      rc::gen::set(&Op::fua, rc::gen::weightedOneOf<bool>({{1, rc::gen::just(true)}, {3, rc::gen::just(false)}})),
      rc::gen::set(&Op::flush_after, rc::gen::weightedOneOf<bool>({{1, rc::gen::just(true)}, {3, rc::gen::just(false)}})),
      rc::gen::set(&Op::gap, rc::gen::inRange<Duration>(0, 100 * kMicrosecond))));
  // Crash somewhere during the run or after it.
  const Duration crash_at = *rc::gen::inRange<Duration>(0, static_cast<Duration>(ops.size() + 1) * 500 * kMicrosecond);

  Simulation s(seed);
  Node& n = s.add_node("n");
  n.start();
  BlockDevice dev(s, 0, "d", cfg);
  auto h = dev.attach(n);
  ShutdownGuard guard(s);
  std::map<uint64_t, uint64_t> acked;                // blk -> newest version known durable
  std::map<uint64_t, std::vector<uint64_t>> issued;  // blk -> versions whose write started
  std::vector<std::pair<uint64_t, uint64_t>> unflushed;
  bool io_failed = false;
  n.spawn("writer", [&] {
    uint64_t next = 1;
    for (const Op& op : ops) {
      this_task::sleep(op.gap);
      const uint64_t v = next++;
      issued[op.blk].push_back(v);
      if (h->write(op.blk, pattern(cfg, op.blk, v), op.fua) != kOk) {
        io_failed = true;
        return;
      }
      if (op.fua) acked[op.blk] = std::max(acked[op.blk], v);
      else unflushed.emplace_back(op.blk, v);
      if (op.flush_after) {
        if (h->flush() != kOk) {
          io_failed = true;
          return;
        }
        for (auto [b, fv] : unflushed) acked[b] = std::max(acked[b], fv);
        unflushed.clear();
      }
    }
  });
  s.spawn("crasher", [&] {
    this_task::sleep(crash_at);
    n.crash();
  });
  RC_ASSERT(s.run(kTimeNever).outcome == Outcome::kQuiescent);
  RC_ASSERT(!io_failed);  // no faults configured; the crash kills the writer before it sees EIO
  RC_ASSERT(dev.pending_writes() == 0u);
  const uint32_t sectors = cfg.block_size / cfg.sector_size;
  for (uint64_t blk = 0; blk < cfg.block_count; ++blk) {
    const uint64_t base = acked.count(blk) ? acked[blk] : 0;
    std::vector<Bytes> candidates{pattern(cfg, blk, base)};
    for (uint64_t v : issued[blk]) {
      if (v > base) candidates.push_back(pattern(cfg, blk, v));
    }
    const Bytes got = durable(dev, blk);
    RC_ASSERT(visible(dev, blk) == got);
    if (!torn) {
      RC_ASSERT(std::find(candidates.begin(), candidates.end(), got) != candidates.end());
    }
    for (uint32_t sec = 0; sec < sectors; ++sec) {
      bool ok = false;
      for (const Bytes& c : candidates) ok = ok || sector_equal(cfg, got, c, sec);
      RC_ASSERT(ok);
    }
  }
}

// After every write completed without a flush, a crash leaves each sector old or new (and
// the whole block old or new when writes do not tear).
RC_GTEST_PROP(BlockDeviceProp, UnflushedWritesAreOldOrNew, (uint64_t seed, bool torn)) {
  const BlockDeviceConfig cfg = small_config(torn);
  const auto blocks = *rc::gen::unique<std::vector<uint64_t>>(rc::gen::inRange<uint64_t>(0, cfg.block_count));
  Simulation s(seed);
  Node& n = s.add_node("n");
  n.start();
  BlockDevice dev(s, 0, "d", cfg);
  auto h = dev.attach(n);
  ShutdownGuard guard(s);
  bool failed = false;
  TaskId writer = n.spawn("writer", [&] {
    for (uint64_t b : blocks) failed |= h->write(b, pattern(cfg, b, 1)) != kOk;
    failed |= h->flush() != kOk;
    for (uint64_t b : blocks) failed |= h->write(b, pattern(cfg, b, 2)) != kOk;
  });
  s.spawn("crasher", [&] {
    s.sched().join(writer);
    n.crash();
  });
  RC_ASSERT(s.run(kTimeNever).outcome == Outcome::kQuiescent);
  RC_ASSERT(!failed);
  const uint32_t sectors = cfg.block_size / cfg.sector_size;
  for (uint64_t b : blocks) {
    const Bytes got = durable(dev, b), old_data = pattern(cfg, b, 1), new_data = pattern(cfg, b, 2);
    if (!torn) RC_ASSERT(got == old_data || got == new_data);
    for (uint32_t sec = 0; sec < sectors; ++sec) {
      RC_ASSERT(sector_equal(cfg, got, old_data, sec) || sector_equal(cfg, got, new_data, sec));
    }
  }
}

// The crash model really does produce each outcome: applied, dropped and torn.
TEST(BlockDevice, CrashOutcomesIncludeAppliedDroppedAndTorn) {
  const BlockDeviceConfig cfg = small_config(true);
  int applied = 0, dropped = 0, torn = 0;
  for (uint64_t seed = 0; seed < 20; ++seed) {
    World w(seed, cfg);
    w.n.spawn("writer", [&] {
      for (uint64_t b = 0; b < 8; ++b) w.h->write(b, pattern(cfg, b, 1));
    });
    w.s.run(kTimeNever);
    w.n.crash();
    for (uint64_t b = 0; b < 8; ++b) {
      const Bytes got = durable(w.dev, b);
      if (got == pattern(cfg, b, 1)) ++applied;
      else if (got == pattern(cfg, b, 0)) ++dropped;
      else ++torn;
    }
  }
  EXPECT_GT(applied, 0);
  EXPECT_GT(dropped, 0);
  EXPECT_GT(torn, 0);
}

// A power loss while a node keeps running: an I/O that was in flight may fail, but a FUA write
// or a FLUSH that reports success must mean the data is on the media.
TEST(BlockDevice, PowerLossDuringFuaWriteNeverAcksLostData) {
  BlockDeviceConfig cfg = small_config();
  cfg.write_latency_min = cfg.write_latency_max = 100 * kMicrosecond;
  for (uint64_t seed = 0; seed < 30; ++seed) {
    World w(seed, cfg);
    Errno e = -1;
    w.n.spawn("writer", [&] { e = w.h->write(1, pattern(cfg, 1, 1), /*fua=*/true); });
    w.s.spawn("power", [&] {
      this_task::sleep(50 * kMicrosecond);
      w.dev.power_loss();
    });
    w.s.run(kTimeNever);
    if (e == kOk) {
      EXPECT_EQ(durable(w.dev, 1), pattern(cfg, 1, 1)) << "seed " << seed << ": FUA write acknowledged but lost";
    } else {
      EXPECT_EQ(e, EIO);
    }
  }
}

TEST(BlockDevice, PowerLossDuringFlushNeverAcksLostData) {
  BlockDeviceConfig cfg = small_config();
  cfg.write_latency_min = cfg.write_latency_max = 10 * kMicrosecond;
  cfg.flush_latency_min = cfg.flush_latency_max = 100 * kMicrosecond;
  for (uint64_t seed = 0; seed < 30; ++seed) {
    World w(seed, cfg);
    Errno e = -1;
    w.n.spawn("writer", [&] {
      for (uint64_t b = 0; b < 4; ++b) ASSERT_EQ(w.h->write(b, pattern(cfg, b, 1)), kOk);
      e = w.h->flush();  // issued at 40us, in flight at the power loss
    });
    w.s.spawn("power", [&] {
      this_task::sleep(90 * kMicrosecond);
      w.dev.power_loss();
    });
    w.s.run(kTimeNever);
    if (e == kOk) {
      for (uint64_t b = 0; b < 4; ++b) {
        EXPECT_EQ(durable(w.dev, b), pattern(cfg, b, 1)) << "seed " << seed << ": flush acknowledged but block " << b << " lost";
      }
    } else {
      EXPECT_EQ(e, EIO);
    }
  }
}

// ---- fencing ----

TEST(BlockDevice, FencedNodeWritesFailAndNeverReachTheDevice) {
  BlockDeviceConfig cfg = small_config();
  cfg.write_latency_min = cfg.write_latency_max = 50 * kMicrosecond;
  World w(12, cfg);
  Node& m = w.s.add_node("m");
  m.start();
  auto hm = w.dev.attach(m);
  std::vector<Errno> errs;
  w.n.spawn("fenced", [&] {
    errs.push_back(w.h->write(1, pattern(cfg, 1, 1), true));  // durable before the fence
    errs.push_back(w.h->write(1, pattern(cfg, 1, 2)));        // in flight when fenced
    errs.push_back(w.h->write(1, pattern(cfg, 1, 3)));        // after the fence
    errs.push_back(w.h->write(2, pattern(cfg, 2, 1), true));
    Bytes b(cfg.block_size);
    errs.push_back(w.h->read(1, b));
    errs.push_back(w.h->flush());
    errs.push_back(w.h->discard(1, 1));
  });
  Errno other_write = -1;
  m.spawn("other", [&] {
    this_task::sleep(70 * kMicrosecond);  // the first write completed at 50us
    w.dev.fence(0);
    EXPECT_TRUE(w.dev.fenced(0));
    EXPECT_FALSE(w.dev.fenced(1));
    other_write = hm->write(3, pattern(cfg, 3, 1), true);  // the fence is per node
  });
  EXPECT_EQ(w.s.run(kTimeNever).outcome, Outcome::kQuiescent);
  EXPECT_EQ(errs, (std::vector<Errno>{kOk, EIO, EIO, EIO, EIO, EIO, EIO}));
  EXPECT_EQ(other_write, kOk);
  EXPECT_EQ(visible(w.dev, 1), pattern(cfg, 1, 1));
  EXPECT_EQ(durable(w.dev, 1), pattern(cfg, 1, 1));
  EXPECT_EQ(visible(w.dev, 2), pattern(cfg, 2, 0));
  EXPECT_EQ(w.dev.pending_writes(), 0u);
  // A flush by another node must not resurrect anything of the fenced node's.
  m.spawn("flush", [&] { EXPECT_EQ(hm->flush(), kOk); });
  w.s.run(kTimeNever);
  EXPECT_EQ(durable(w.dev, 1), pattern(cfg, 1, 1));
  // Unfenced, the node can write again.
  w.dev.unfence(0);
  Errno after = -1;
  w.n.spawn("again", [&] { after = w.h->write(1, pattern(cfg, 1, 4), true); });
  w.s.run(kTimeNever);
  EXPECT_EQ(after, kOk);
  EXPECT_EQ(durable(w.dev, 1), pattern(cfg, 1, 4));
  w.s.shutdown();
}

// ---- injected faults ----

TEST(BlockDevice, LatentErrorFailsReadsUntilRewritten) {
  World w(13);
  const auto& c = w.dev.config();
  std::vector<Errno> errs;
  Bytes got;
  w.n.spawn("t", [&] {
    Bytes b(4096);
    errs.push_back(w.h->write(6, pattern(c, 6, 1), true));
    w.dev.add_latent_error(6);
    errs.push_back(w.h->read(6, b));
    errs.push_back(w.h->read(6, b));
    errs.push_back(w.h->read(7, b));  // other blocks are fine
    errs.push_back(w.h->write(6, pattern(c, 6, 2)));
    errs.push_back(w.h->read(6, b));
    got = b;
  });
  w.s.run(kTimeNever);
  EXPECT_EQ(errs, (std::vector<Errno>{kOk, EIO, EIO, kOk, kOk, kOk}));
  EXPECT_EQ(got, pattern(c, 6, 2));
}

TEST(BlockDevice, FlipBitIsVisible) {
  World w(14);
  const auto& c = w.dev.config();
  Bytes got;
  w.n.spawn("t", [&] {
    EXPECT_EQ(w.h->write(2, pattern(c, 2, 1), true), kOk);
    w.dev.flip_bit(2, 13);
    Bytes b(4096);
    EXPECT_EQ(w.h->read(2, b), kOk);
    got = b;
  });
  w.s.run(kTimeNever);
  Bytes expect = pattern(c, 2, 1);
  expect[1] ^= 1u << 5;
  EXPECT_EQ(got, expect);
  EXPECT_EQ(durable(w.dev, 2), expect);
  // On a never-written block, and on a pending write.
  w.dev.flip_bit(3, 0);
  Bytes one(4096, 0);
  one[0] = 1;
  EXPECT_EQ(durable(w.dev, 3), one);
  w.n.spawn("t2", [&] { w.h->write(4, pattern(c, 4, 1)); });
  w.s.run(kTimeNever);
  w.dev.flip_bit(4, 4095 * 8 + 7);
  Bytes p = pattern(c, 4, 1);
  p[4095] ^= 0x80;
  EXPECT_EQ(visible(w.dev, 4), p);
  w.dev.flip_bit(4, 4096 * 8);  // out of range: ignored
  EXPECT_EQ(visible(w.dev, 4), p);
}

TEST(BlockDevice, ReadEioRate) {
  World w(15);
  DiskFaultRates r;
  r.den = 1000;
  r.read_eio = 1000;
  w.dev.set_fault_rates(r);
  int eio = 0;
  w.n.spawn("t", [&] {
    Bytes b(4096);
    for (int i = 0; i < 20; ++i) eio += w.h->read(0, b) == EIO;
  });
  w.s.run(kTimeNever);
  EXPECT_EQ(eio, 20);
}

TEST(BlockDevice, WriteEioRate) {
  World w(16);
  const auto& c = w.dev.config();
  w.n.spawn("seed", [&] { w.h->write(0, pattern(c, 0, 1), true); });
  w.s.run(kTimeNever);
  DiskFaultRates r;
  r.den = 1000;
  r.write_eio = 1000;
  w.dev.set_fault_rates(r);
  int eio = 0;
  w.n.spawn("t", [&] {
    for (int i = 0; i < 20; ++i) eio += w.h->write(0, pattern(c, 0, 2 + static_cast<uint64_t>(i)), i % 2) == EIO;
  });
  w.s.run(kTimeNever);
  EXPECT_EQ(eio, 20);
  EXPECT_EQ(visible(w.dev, 0), pattern(c, 0, 1));
  EXPECT_EQ(w.dev.pending_writes(), 0u);
}

TEST(BlockDevice, SomeFaultRateFailsSomeIo) {
  World w(17);
  DiskFaultRates r;
  r.den = 100;
  r.read_eio = 30;
  w.dev.set_fault_rates(r);
  int eio = 0;
  w.n.spawn("t", [&] {
    Bytes b(4096);
    for (int i = 0; i < 200; ++i) eio += w.h->read(0, b) == EIO;
  });
  w.s.run(kTimeNever);
  EXPECT_GT(eio, 30);
  EXPECT_LT(eio, 90);
}

TEST(BlockDevice, ReadBitflipIsTransient) {
  World w(18);
  const auto& c = w.dev.config();
  w.n.spawn("seed", [&] { w.h->write(0, pattern(c, 0, 1), true); });
  w.s.run(kTimeNever);
  DiskFaultRates r;
  r.den = 10;
  r.read_bitflip = 10;
  w.dev.set_fault_rates(r);
  Bytes got;
  w.n.spawn("t", [&] {
    Bytes b(4096);
    EXPECT_EQ(w.h->read(0, b), kOk);
    got = b;
  });
  w.s.run(kTimeNever);
  const Bytes orig = pattern(c, 0, 1);
  int bits = 0;
  for (size_t i = 0; i < got.size(); ++i) bits += __builtin_popcount(got[i] ^ orig[i]);
  EXPECT_EQ(bits, 1);
  EXPECT_EQ(durable(w.dev, 0), orig);  // the media is intact
}

TEST(BlockDevice, MisdirectedWriteLandsElsewhere) {
  BlockDeviceConfig cfg = small_config();
  cfg.block_count = 64;
  World w(19, cfg);
  DiskFaultRates r;
  r.den = 1;
  r.write_misdirect = 1;
  w.dev.set_fault_rates(r);
  Errno e = -1;
  w.n.spawn("t", [&] { e = w.h->write(5, pattern(cfg, 5, 1), true); });
  w.s.run(kTimeNever);
  EXPECT_EQ(e, kOk);  // the writer is not told
  std::vector<uint64_t> holders;
  for (uint64_t b = 0; b < cfg.block_count; ++b) {
    if (durable(w.dev, b) == pattern(cfg, 5, 1)) holders.push_back(b);
  }
  ASSERT_EQ(holders.size(), 1u);
  // Seed 19 draws a target other than 5 (the target is uniform over the device).
  EXPECT_NE(holders[0], 5u);
  EXPECT_EQ(durable(w.dev, 5), pattern(cfg, 5, 0));
}

TEST(BlockDevice, MisdirectObserverSeesWhereWritesWent) {
  BlockDeviceConfig cfg = small_config();
  cfg.block_count = 64;
  World w(19, cfg);
  DiskFaultRates r;
  r.den = 2;
  r.write_misdirect = 1;
  w.dev.set_fault_rates(r);
  std::map<uint64_t, uint64_t> seen;  // intended -> target
  w.dev.set_misdirect_observer([&](uint64_t intended, uint64_t target) { seen[intended] = target; });
  w.n.spawn("t", [&] {
    for (uint64_t b = 0; b < 20; ++b) EXPECT_EQ(w.h->write(b, pattern(cfg, b, 1), true), kOk);
  });
  w.s.run(kTimeNever);
  EXPECT_GT(seen.size(), 2u);   // about half were misdirected
  EXPECT_LT(seen.size(), 18u);
  for (uint64_t b = 0; b < 20; ++b) {
    auto it = seen.find(b);
    if (it == seen.end()) continue;
    // The data is wherever the observer was told, unless a later write landed on top of it.
    bool overwritten = false;
    for (uint64_t later = b + 1; later < 20; ++later) {
      auto lt = seen.find(later);
      overwritten |= (lt == seen.end() ? later : lt->second) == it->second;
    }
    if (!overwritten) {
      EXPECT_EQ(durable(w.dev, it->second), pattern(cfg, b, 1)) << "block " << b;
    }
  }
}

// ---- thin provisioning ----

TEST(BlockDevice, ThinDeviceEnospcThenDiscardFreesSpace) {
  BlockDeviceConfig cfg = small_config();
  cfg.thin_capacity_blocks = 3;
  World w(20, cfg);
  std::vector<Errno> errs;
  std::vector<uint64_t> provisioned;
  w.n.spawn("t", [&] {
    for (uint64_t b = 0; b < 3; ++b) errs.push_back(w.h->write(b, pattern(cfg, b, 1)));
    provisioned.push_back(w.dev.provisioned_blocks());
    errs.push_back(w.h->write(3, pattern(cfg, 3, 1)));  // a 4th block: no space
    errs.push_back(w.h->write(1, pattern(cfg, 1, 2)));  // rewriting a provisioned block is fine
    errs.push_back(w.h->flush());
    errs.push_back(w.h->discard(0, 2));
    provisioned.push_back(w.dev.provisioned_blocks());
    Bytes b(4096, 0xff);
    errs.push_back(w.h->read(1, b));
    EXPECT_EQ(b, Bytes(4096, 0));  // discarded blocks read as zeros
    errs.push_back(w.h->write(3, pattern(cfg, 3, 1)));
    errs.push_back(w.h->write(4, pattern(cfg, 4, 1)));
    errs.push_back(w.h->write(5, pattern(cfg, 5, 1)));  // full again
    provisioned.push_back(w.dev.provisioned_blocks());
  });
  EXPECT_EQ(w.s.run(kTimeNever).outcome, Outcome::kQuiescent);
  EXPECT_EQ(errs, (std::vector<Errno>{kOk, kOk, kOk, ENOSPC, kOk, kOk, kOk, kOk, kOk, kOk, ENOSPC}));
  EXPECT_EQ(provisioned, (std::vector<uint64_t>{3, 1, 3}));
  EXPECT_EQ(visible(w.dev, 3), pattern(cfg, 3, 1));
  EXPECT_EQ(visible(w.dev, 5), pattern(cfg, 5, 0));
}

// A crash that drops the only write to a block gives its space back.
TEST(BlockDevice, DroppedWriteUnprovisions) {
  BlockDeviceConfig cfg = small_config(false);
  cfg.thin_capacity_blocks = 16;
  for (uint64_t seed = 0; seed < 10; ++seed) {
    World w(seed, cfg);
    w.n.spawn("t", [&] {
      for (uint64_t b = 0; b < 8; ++b) w.h->write(b, pattern(cfg, b, 1));
    });
    w.s.run(kTimeNever);
    EXPECT_EQ(w.dev.provisioned_blocks(), 8u);
    w.n.crash();
    uint64_t holding = 0;
    for (uint64_t b = 0; b < 8; ++b) holding += durable(w.dev, b) == pattern(cfg, b, 1);
    EXPECT_EQ(w.dev.provisioned_blocks(), holding) << "seed " << seed;
  }
}

// ---- images ----

std::string image_of(const BlockDevice& dev) {
  std::ostringstream out;
  dev.save_image(out);
  return out.str();
}

// A device with a few durable blocks (and one pending write, which the image leaves out).
struct Populated : World {
  Populated() : World(21) {
    const auto& c = dev.config();
    n.spawn("t", [&] {
      h->write(0, pattern(c, 0, 1));
      h->write(7, pattern(c, 7, 1));
      h->write(15, pattern(c, 15, 1));
      h->flush();
      h->write(3, pattern(c, 3, 1));  // pending
    });
    s.run(kTimeNever);
  }
};

TEST(BlockDeviceImage, RoundTrip) {
  Populated p;
  const std::string img = image_of(p.dev);
  Simulation s2(2);
  BlockDevice d2(s2, 0, "d2", small_config());
  std::istringstream in(img);
  EXPECT_EQ(d2.load_image(in), "");
  for (uint64_t b = 0; b < 16; ++b) EXPECT_EQ(durable(d2, b), durable(p.dev, b)) << b;
  EXPECT_EQ(durable(d2, 7), pattern(p.dev.config(), 7, 1));
  EXPECT_EQ(durable(d2, 3), pattern(p.dev.config(), 3, 0));  // was never durable
  EXPECT_EQ(d2.provisioned_blocks(), 3u);
  EXPECT_EQ(image_of(d2), img);
  // Header: magic then version 1, little-endian.
  ASSERT_GE(img.size(), 12u);
  EXPECT_EQ(img.substr(0, 8), "SIMFSIMG");
  EXPECT_EQ(img[8], 1);
  EXPECT_EQ(img.size(), 32u + 3 * (8 + 4096) + 8);
}

TEST(BlockDeviceImage, LoadReplacesContents) {
  Populated p;
  const std::string img = image_of(p.dev);
  Simulation s2(2);
  BlockDevice d2(s2, 0, "d2", small_config());
  d2.flip_bit(9, 3);  // something not in the image
  std::istringstream in(img);
  ASSERT_EQ(d2.load_image(in), "");
  EXPECT_EQ(durable(d2, 9), Bytes(4096, 0));
  EXPECT_EQ(d2.pending_writes(), 0u);
}

std::string load(BlockDevice& dev, const std::string& bytes) {
  std::istringstream in(bytes);
  return dev.load_image(in);
}

TEST(BlockDeviceImage, RejectsDamagedImages) {
  Populated p;
  const std::string img = image_of(p.dev);
  Simulation s2(2);
  BlockDevice d2(s2, 0, "d2", small_config());
  d2.flip_bit(9, 3);
  const Bytes before = durable(d2, 9);

  EXPECT_NE(load(d2, ""), "");
  EXPECT_NE(load(d2, img.substr(0, 10)), "");
  EXPECT_NE(load(d2, img.substr(0, img.size() - 1)), "");
  EXPECT_NE(load(d2, img.substr(0, img.size() - 4104)), "");
  EXPECT_NE(load(d2, img + "x"), "");
  std::string bad_magic = img;
  bad_magic[0] = 'X';
  EXPECT_NE(load(d2, bad_magic).find("magic"), std::string::npos);
  std::string bad_sum = img;
  bad_sum[100] ^= 1;
  EXPECT_NE(load(d2, bad_sum).find("checksum"), std::string::npos);
  std::string bad_version = img;
  bad_version[8] = 2;
  EXPECT_NE(load(d2, bad_version), "");
  // Every rejection leaves the device as it was.
  EXPECT_EQ(durable(d2, 9), before);

  BlockDeviceConfig other = small_config();
  other.block_count = 32;
  BlockDevice d3(s2, 1, "d3", other);
  EXPECT_NE(load(d3, img).find("block count"), std::string::npos);
  BlockDeviceConfig other_bs = small_config();
  other_bs.block_size = 8192;
  BlockDevice d4(s2, 2, "d4", other_bs);
  EXPECT_NE(load(d4, img).find("block size"), std::string::npos);
}

// Re-seal an image (fix its checksum) after editing, to reach the checks behind the checksum.
std::string reseal(std::string img) {
  img.resize(img.size() - 8);
  uint64_t sum = fnv1a64(img);
  for (int i = 0; i < 8; ++i) img.push_back(static_cast<char>(sum >> (8 * i)));
  return img;
}

TEST(BlockDeviceImage, RejectsBadRecordsBehindAValidChecksum) {
  Populated p;
  const std::string img = image_of(p.dev);
  Simulation s2(2);
  BlockDevice d2(s2, 0, "d2", small_config());
  const size_t rec0 = 32, rec1 = 32 + 8 + 4096;
  std::string out_of_range = img;
  out_of_range[rec0] = 16;  // block 16 of a 16-block device
  EXPECT_NE(load(d2, reseal(out_of_range)).find("out of range"), std::string::npos);
  std::string out_of_order = img;
  out_of_order[rec1] = 0;  // second record claims block 0 again
  EXPECT_NE(load(d2, reseal(out_of_order)).find("order"), std::string::npos);
  std::string too_many = img;
  too_many[24] = 17;  // n > block count
  EXPECT_NE(load(d2, reseal(too_many)), "");
  std::string huge_n = img;
  for (int i = 24; i < 32; ++i) huge_n[static_cast<size_t>(i)] = '\xff';
  EXPECT_NE(load(d2, reseal(huge_n)), "");
  std::string fewer = img;
  fewer[24] = 2;  // claims 2 records but holds 3
  EXPECT_NE(load(d2, reseal(fewer)), "");
}

RC_GTEST_PROP(BlockDeviceImageProp, RandomBytesNeverCrashAndAreRejected, (std::string junk)) {
  Simulation s(1);
  BlockDevice d(s, 0, "d", small_config());
  RC_ASSERT(load(d, junk) != "");
  RC_ASSERT(load(d, "SIMFSIMG" + junk) != "");
}

RC_GTEST_PROP(BlockDeviceImageProp, AnyCorruptionOfAValidImageIsRejected, ()) {
  static const std::string img = [] {
    Populated p;
    return image_of(p.dev);
  }();
  std::string bad = img;
  const int kind = *rc::gen::inRange(0, 3);
  if (kind == 0) {
    const size_t pos = *rc::gen::inRange<size_t>(0, bad.size());
    const uint8_t x = *rc::gen::inRange<uint8_t>(1, 255);
    bad[pos] = static_cast<char>(static_cast<uint8_t>(bad[pos]) ^ x);
  } else if (kind == 1) {
    bad.resize(*rc::gen::inRange<size_t>(0, bad.size()));
  } else {
    bad += *rc::gen::nonEmpty<std::string>();
  }
  Simulation s(1);
  BlockDevice d(s, 0, "d", small_config());
  RC_ASSERT(load(d, bad) != "");
  RC_ASSERT(d.provisioned_blocks() == 0u);
}

}  // namespace
}  // namespace sim
