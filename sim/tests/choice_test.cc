#include "sim/choice.h"

#include <gtest/gtest.h>
#include <rapidcheck/gtest.h>

#include <algorithm>
#include <string>
#include <vector>

namespace sim {
namespace {

constexpr Site kA{"test.a", Stream::kWorkload};
constexpr Site kB{"test.b", Stream::kNetwork};
constexpr Site kC{"test.c", Stream::kWorkload};

TEST(Site, IdIsFnvOfName) {
  EXPECT_EQ(kA.id, fnv1a64("test.a"));
  EXPECT_NE(kA.id, kB.id);
}

TEST(StreamName, AllStreamsNamed) {
  EXPECT_STREQ(stream_name(Stream::kScheduler), "scheduler");
  EXPECT_STREQ(stream_name(Stream::kNetwork), "network");
  EXPECT_STREQ(stream_name(Stream::kDisk), "disk");
  EXPECT_STREQ(stream_name(Stream::kFaults), "faults");
  EXPECT_STREQ(stream_name(Stream::kWorkload), "workload");
  EXPECT_STREQ(stream_name(Stream::kFs), "fs");
}

TEST(RandomStrategy, SameSeedSameValues) {
  RandomStrategy a(77), b(77);
  for (int i = 0; i < 500; ++i) {
    const Site& s = (i % 3 == 0) ? kB : kA;
    const uint64_t bound = 2 + static_cast<uint64_t>(i % 17);
    uint64_t va = a.choose(s, bound);
    ASSERT_EQ(va, b.choose(s, bound));
    ASSERT_LT(va, bound);
  }
}

TEST(RandomStrategy, DifferentSeedsDiffer) {
  RandomStrategy a(1), b(2);
  int same = 0;
  for (int i = 0; i < 200; ++i) same += a.choose(kA, 1000000) == b.choose(kA, 1000000);
  EXPECT_LT(same, 3);
}

// Streams are independent: draws on the network stream do not shift the workload stream.
TEST(RandomStrategy, StreamsAreIndependent) {
  RandomStrategy a(5), b(5);
  std::vector<uint64_t> va, vb;
  for (int i = 0; i < 50; ++i) {
    va.push_back(a.choose(kA, 1 << 30));
    (void)b.choose(kB, 1 << 30);  // extra draws on another stream
    (void)b.choose(kB, 1 << 30);
    vb.push_back(b.choose(kC, 1 << 30));  // kC shares kA's stream
  }
  EXPECT_EQ(va, vb);
}

TEST(Chooser, RecordsTapeOnlyWhenRecording) {
  RandomStrategy rs(3);
  Chooser c(&rs);
  (void)c.choose(kA, 10);
  EXPECT_TRUE(c.tape().empty());
  EXPECT_EQ(c.decisions(), 1u);
  c.set_recording(true);
  uint64_t v1 = c.choose(kA, 10);
  uint64_t v2 = c.choose(kB, 1000);
  ASSERT_EQ(c.tape().size(), 2u);
  EXPECT_EQ(c.tape()[0].site_id, kA.id);
  EXPECT_EQ(c.tape()[0].bound, 10u);
  EXPECT_EQ(c.tape()[0].value, v1);
  EXPECT_EQ(c.tape()[1].site_id, kB.id);
  EXPECT_EQ(c.tape()[1].bound, 1000u);
  EXPECT_EQ(c.tape()[1].value, v2);
  EXPECT_EQ(c.decisions(), 3u);
  ASSERT_EQ(c.site_names().size(), 2u);
  EXPECT_EQ(c.site_names().at(kA.id), "test.a");
  EXPECT_EQ(c.site_names().at(kB.id), "test.b");
}

TEST(Chooser, BoundAtMostOneIsNotADecision) {
  RandomStrategy rs(3);
  Chooser c(&rs);
  c.set_recording(true);
  EXPECT_EQ(c.choose(kA, 0), 0u);
  EXPECT_EQ(c.choose(kA, 1), 0u);
  EXPECT_EQ(c.range(kA, 5, 5), 5);
  EXPECT_EQ(c.range(kA, 5, 4), 5);
  EXPECT_FALSE(c.chance(kA, 0, 10));
  EXPECT_FALSE(c.chance(kA, 3, 0));
  EXPECT_TRUE(c.chance(kA, 10, 10));
  EXPECT_TRUE(c.chance(kA, 11, 10));
  EXPECT_TRUE(c.tape().empty());
  EXPECT_EQ(c.decisions(), 0u);
}

TEST(Chooser, ChanceIsFalseForValueZeroAndTrueForTop) {
  TapeStrategy zero({{kA.id, 10, 0}});
  Chooser cz(&zero);
  EXPECT_FALSE(cz.chance(kA, 9, 10));  // even a 90% chance is false when the value is 0
  TapeStrategy top({{kA.id, 10, 9}});
  Chooser ct(&top);
  EXPECT_TRUE(ct.chance(kA, 1, 10));  // value den-1 is inside any num >= 1
  TapeStrategy edge({{kA.id, 10, 6}, {kA.id, 10, 7}});
  Chooser ce(&edge);
  EXPECT_FALSE(ce.chance(kA, 3, 10));  // true iff value >= den - num = 7
  EXPECT_TRUE(ce.chance(kA, 3, 10));
}

TEST(Chooser, RangeZeroIsLowerBound) {
  TapeStrategy t({{kA.id, 11, 0}, {kA.id, 11, 10}, {kA.id, 11, 99}});
  Chooser c(&t);
  EXPECT_EQ(c.range(kA, -5, 5), -5);
  EXPECT_EQ(c.range(kA, -5, 5), 5);
  EXPECT_EQ(c.range(kA, -5, 5), 5);  // clamped
}

RC_GTEST_PROP(ChooserProp, RangeStaysInBoundsForAnySpan, (uint64_t seed, int64_t a, int64_t b)) {
  const int64_t lo = std::min(a, b), hi = std::max(a, b);
  RandomStrategy rs(seed);
  Chooser c(&rs);
  for (int i = 0; i < 20; ++i) {
    const int64_t v = c.range(kA, lo, hi);
    RC_ASSERT(v >= lo);
    RC_ASSERT(v <= hi);
  }
}

// Spans wider than INT64_MAX must still be drawn over, not collapse to the lower bound.
TEST(Chooser, RangeOverWholeInt64IsNotStuckAtLo) {
  RandomStrategy rs(8);
  Chooser c(&rs);
  int at_lo = 0, positive = 0;
  for (int i = 0; i < 100; ++i) {
    const int64_t v = c.range(kA, INT64_MIN, INT64_MAX);
    at_lo += v == INT64_MIN;
    positive += v > 0;
    const int64_t w = c.range(kA, -10, INT64_MAX);
    EXPECT_GE(w, -10);
  }
  EXPECT_LT(at_lo, 2);
  EXPECT_GT(positive, 25);
  EXPECT_LT(positive, 75);
}

TEST(TapeStrategy, ReplaysRecordedValuesExactly) {
  RandomStrategy rs(1234);
  Chooser rec(&rs);
  rec.set_recording(true);
  std::vector<uint64_t> values;
  for (int i = 0; i < 300; ++i) {
    const Site& s = (i % 2) ? kA : kB;
    values.push_back(rec.choose(s, 2 + static_cast<uint64_t>(i)));
  }
  TapeStrategy tape(rec.tape());
  Chooser rep(&tape);
  rep.set_recording(true);
  for (int i = 0; i < 300; ++i) {
    const Site& s = (i % 2) ? kA : kB;
    ASSERT_EQ(rep.choose(s, 2 + static_cast<uint64_t>(i)), values[static_cast<size_t>(i)]);
  }
  EXPECT_EQ(tape.site_mismatches(), 0u);
  EXPECT_TRUE(tape.exhausted());
  EXPECT_EQ(tape.position(), 300u);
  ASSERT_EQ(rep.tape().size(), rec.tape().size());
  for (size_t i = 0; i < rep.tape().size(); ++i) EXPECT_EQ(rep.tape()[i].value, rec.tape()[i].value);
}

TEST(TapeStrategy, ClampsOutOfRangeValues) {
  TapeStrategy t({{kA.id, 100, 50}, {kA.id, 100, 3}, {kA.id, 100, UINT64_MAX}});
  EXPECT_EQ(t.choose(kA, 10), 9u);
  EXPECT_EQ(t.choose(kA, 10), 3u);
  EXPECT_EQ(t.choose(kA, 2), 1u);
}

TEST(TapeStrategy, ReturnsZeroAfterExhaustion) {
  TapeStrategy t({{kA.id, 5, 4}});
  EXPECT_FALSE(t.exhausted());
  EXPECT_EQ(t.choose(kA, 5), 4u);
  EXPECT_TRUE(t.exhausted());
  for (int i = 0; i < 10; ++i) EXPECT_EQ(t.choose(kA, 5), 0u);
  EXPECT_EQ(t.position(), 1u);
  EXPECT_EQ(t.site_mismatches(), 0u);  // answers past the end are not mismatches
}

TEST(TapeStrategy, CountsSiteMismatchesButUsesTheValue) {
  TapeStrategy t({{kA.id, 5, 2}, {kB.id, 5, 3}, {kA.id, 5, 4}});
  EXPECT_EQ(t.choose(kB, 5), 2u);  // mismatch
  EXPECT_EQ(t.choose(kB, 5), 3u);  // match
  EXPECT_EQ(t.choose(kC, 5), 4u);  // mismatch
  EXPECT_EQ(t.site_mismatches(), 2u);
}

TEST(TapeStrategy, EmptyTapeAnswersZero) {
  TapeStrategy t({});
  EXPECT_TRUE(t.exhausted());
  EXPECT_EQ(t.choose(kA, 1000), 0u);
}

TEST(PrefixThenRandomStrategy, ReplaysThePrefixThenDrawsFromTheSuffixSeed) {
  const std::vector<Decision> prefix{{kA.id, 100, 7}, {kB.id, 100, 500}, {kA.id, 100, 3}};
  PrefixThenRandomStrategy p(prefix, 99);
  EXPECT_EQ(p.choose(kA, 100), 7u);
  EXPECT_EQ(p.choose(kB, 100), 99u);  // clamped like TapeStrategy
  EXPECT_EQ(p.choose(kA, 100), 3u);
  EXPECT_EQ(p.prefix_used(), 3u);
  // After the prefix: exactly what a fresh RandomStrategy(99) answers, not 0.
  RandomStrategy r(99);
  int nonzero = 0;
  for (int i = 0; i < 50; ++i) {
    const Site& s = i % 2 ? kA : kB;
    const uint64_t v = p.choose(s, 1000);
    ASSERT_EQ(v, r.choose(s, 1000));
    nonzero += v != 0;
  }
  EXPECT_GT(nonzero, 40);
  EXPECT_EQ(p.site_mismatches(), 0u);
}

TEST(PrefixThenRandomStrategy, SameSeedSameSuffixDifferentSeedsDiffer) {
  const std::vector<Decision> prefix{{kA.id, 10, 1}};
  auto draw = [&](uint64_t seed) {
    PrefixThenRandomStrategy p(prefix, seed);
    std::vector<uint64_t> v;
    for (int i = 0; i < 20; ++i) v.push_back(p.choose(kA, 1u << 20));
    return v;
  };
  EXPECT_EQ(draw(5), draw(5));
  EXPECT_NE(draw(5), draw(6));
  EXPECT_EQ(draw(5)[0], 1u);
  EXPECT_EQ(draw(6)[0], 1u);
}

TEST(PrefixThenRandomStrategy, EmptyPrefixIsPlainRandom) {
  PrefixThenRandomStrategy p({}, 42);
  RandomStrategy r(42);
  for (int i = 0; i < 20; ++i) ASSERT_EQ(p.choose(kB, 77), r.choose(kB, 77));
}

TEST(PrefixThenRandomStrategy, CountsSiteMismatchesInThePrefixOnly) {
  PrefixThenRandomStrategy p({{kA.id, 10, 2}}, 1);
  EXPECT_EQ(p.choose(kB, 10), 2u);
  (void)p.choose(kB, 10);
  EXPECT_EQ(p.site_mismatches(), 1u);
}

TEST(Chooser, RecordsTheClockWithEachDecision) {
  RandomStrategy rs(3);
  Chooser c(&rs);
  c.set_recording(true);
  (void)c.choose(kA, 10);  // no clock yet: time 0
  Time now = 250;
  c.set_clock(&now);
  (void)c.choose(kA, 10);
  (void)c.choose(kA, 1);  // not a decision, not recorded
  now = 900;
  (void)c.choose(kB, 10);
  EXPECT_EQ(c.tape().size(), 3u);
  EXPECT_EQ(c.tape_times(), (std::vector<Time>{0, 250, 900}));
}

RC_GTEST_PROP(ChooserProp, ReplayReproducesAnyRecording,
              (uint64_t seed, std::vector<uint16_t> bounds)) {
  RandomStrategy rs(seed);
  Chooser rec(&rs);
  rec.set_recording(true);
  std::vector<uint64_t> values;
  for (uint16_t b : bounds) values.push_back(rec.choose(kA, b));
  size_t real = 0;
  for (uint16_t b : bounds) real += b > 1;
  RC_ASSERT(rec.tape().size() == real);
  TapeStrategy tape(rec.tape());
  Chooser rep(&tape);
  for (size_t i = 0; i < bounds.size(); ++i) {
    const uint64_t v = rep.choose(kA, bounds[i]);
    RC_ASSERT(v == values[i]);
    const bool in_range = bounds[i] <= 1 ? v == 0 : v < bounds[i];
    RC_ASSERT(in_range);
  }
  RC_ASSERT(tape.exhausted());
  RC_ASSERT(tape.site_mismatches() == 0u);
}

}  // namespace
}  // namespace sim
