#include "sim/random.h"

#include <gtest/gtest.h>
#include <rapidcheck/gtest.h>

#include <algorithm>
#include <array>
#include <set>
#include <string>
#include <vector>

namespace sim {
namespace {

// Known answers: the reference splitmix64 sequence for seed 0 (Vigna's published values)
// pins both the seeding and our implementation of it.
TEST(Splitmix64, KnownAnswersForSeedZero) {
  uint64_t s = 0;
  EXPECT_EQ(splitmix64_next(s), 0xe220a8397b1dcdafull);
  EXPECT_EQ(splitmix64_next(s), 0x6e789e6aa1b965f4ull);
  EXPECT_EQ(splitmix64_next(s), 0x06c45d188009454full);
}

TEST(Splitmix64, RandomAccessMatchesSequence) {
  uint64_t s = 1234;
  for (uint64_t k = 0; k < 10; ++k) EXPECT_EQ(splitmix64_at(1234, k), splitmix64_next(s));
}

TEST(Random, SameSeedSameSequence) {
  Random a(42), b(42);
  for (int i = 0; i < 1000; ++i) ASSERT_EQ(a.next(), b.next()) << "draw " << i;
}

TEST(Random, DifferentSeedsDiffer) {
  Random a(1), b(2);
  int same = 0;
  for (int i = 0; i < 100; ++i) same += a.next() == b.next();
  EXPECT_LT(same, 2);
}

TEST(Random, ReseedRestartsTheSequence) {
  Random a(7);
  std::vector<uint64_t> first;
  for (int i = 0; i < 20; ++i) first.push_back(a.next());
  a.reseed(7);
  for (int i = 0; i < 20; ++i) EXPECT_EQ(a.next(), first[static_cast<size_t>(i)]);
}

TEST(Random, UniformZeroAndOne) {
  Random r(3);
  for (int i = 0; i < 100; ++i) {
    EXPECT_EQ(r.uniform(0), 0u);
    EXPECT_EQ(r.uniform(1), 0u);
  }
}

// Every bucket of uniform(10) should get ~10000 of 100k draws; a biased reduction (e.g. a
// plain modulo of a narrow value, or an off-by-one) would leave a bucket far off or empty.
TEST(Random, UniformTenIsRoughlyUnbiased) {
  Random r(12345);
  std::array<int, 10> hits{};
  for (int i = 0; i < 100000; ++i) {
    uint64_t v = r.uniform(10);
    ASSERT_LT(v, 10u);
    ++hits[v];
  }
  for (size_t b = 0; b < hits.size(); ++b) {
    EXPECT_GT(hits[b], 9000) << "bucket " << b;
    EXPECT_LT(hits[b], 11000) << "bucket " << b;
  }
}

// A bound just above a power of two maximises rejection in Lemire's method: still in range
// and both halves hit.
TEST(Random, UniformLargeBoundsStayInRange) {
  Random r(99);
  const uint64_t n = (uint64_t{1} << 63) + 1;
  int upper = 0;
  for (int i = 0; i < 10000; ++i) {
    uint64_t v = r.uniform(n);
    ASSERT_LT(v, n);
    upper += v >= (uint64_t{1} << 62);
  }
  EXPECT_GT(upper, 4500);  // ~1/2 of values are at or above 2^62
  EXPECT_LT(upper, 5500);
  for (int i = 0; i < 1000; ++i) ASSERT_LT(r.uniform(UINT64_MAX), UINT64_MAX);
}

RC_GTEST_PROP(RandomProp, UniformStaysInRange, (uint64_t seed, uint64_t n)) {
  RC_PRE(n > 0u);
  Random r(seed);
  for (int i = 0; i < 50; ++i) RC_ASSERT(r.uniform(n) < n);
}

RC_GTEST_PROP(RandomProp, RangeIsInclusiveAndInBounds, (uint64_t seed, int32_t a, int32_t b)) {
  const int64_t lo = std::min(a, b), hi = std::max(a, b);
  Random r(seed);
  for (int i = 0; i < 50; ++i) {
    int64_t v = r.range(lo, hi);
    RC_ASSERT(v >= lo);
    RC_ASSERT(v <= hi);
  }
}

TEST(Random, RangeHitsBothEnds) {
  Random r(5);
  std::set<int64_t> seen;
  for (int i = 0; i < 2000; ++i) seen.insert(r.range(-3, 3));
  EXPECT_EQ(seen, (std::set<int64_t>{-3, -2, -1, 0, 1, 2, 3}));
  EXPECT_EQ(r.range(8, 8), 8);
  // Full span: must not divide by zero or loop.
  (void)r.range(INT64_MIN, INT64_MAX);
}

TEST(Random, ChanceEdgeCases) {
  Random r(11);
  for (int i = 0; i < 1000; ++i) {
    EXPECT_FALSE(r.chance(0, 10));
    EXPECT_FALSE(r.chance(0, 0));
    EXPECT_FALSE(r.chance(5, 0));
    EXPECT_TRUE(r.chance(10, 10));
    EXPECT_TRUE(r.chance(11, 10));
    EXPECT_TRUE(r.chance(UINT64_MAX, 1));
  }
}

TEST(Random, ChanceFrequency) {
  Random r(13);
  int yes = 0;
  for (int i = 0; i < 100000; ++i) yes += r.chance(1, 4);
  EXPECT_GT(yes, 23000);
  EXPECT_LT(yes, 27000);
}

RC_GTEST_PROP(RandomProp, ShuffleIsAPermutation, (uint64_t seed, std::vector<int> v)) {
  std::vector<int> shuffled = v;
  Random r(seed);
  r.shuffle(shuffled);
  std::vector<int> a = v, b = shuffled;
  std::sort(a.begin(), a.end());
  std::sort(b.begin(), b.end());
  RC_ASSERT(a == b);
}

TEST(Random, ShuffleMovesThingsAndIsDeterministic) {
  std::vector<int> base(50);
  for (int i = 0; i < 50; ++i) base[static_cast<size_t>(i)] = i;
  std::vector<int> a = base, b = base;
  Random ra(21), rb(21);
  ra.shuffle(a);
  rb.shuffle(b);
  EXPECT_EQ(a, b);
  EXPECT_NE(a, base);
  // Every position gets every value sometimes: each of 4! orders of a 4-element vector appears.
  std::set<std::vector<int>> orders;
  Random r(22);
  for (int i = 0; i < 2000; ++i) {
    std::vector<int> v{0, 1, 2, 3};
    r.shuffle(v);
    orders.insert(v);
  }
  EXPECT_EQ(orders.size(), 24u);
}

TEST(Random, PickReturnsAnElement) {
  std::vector<int> v{4, 8, 15, 16, 23, 42};
  Random r(1);
  std::set<int> seen;
  for (int i = 0; i < 500; ++i) {
    int x = r.pick(v);
    ASSERT_NE(std::find(v.begin(), v.end(), x), v.end());
    seen.insert(x);
  }
  EXPECT_EQ(seen.size(), v.size());
}

TEST(Random, StreamSeedDiffersPerNameAndSeed) {
  const char* names[] = {"scheduler", "network", "disk", "faults", "workload", "fs"};
  std::set<uint64_t> seeds;
  for (const char* n : names) seeds.insert(Random::stream_seed(1, n));
  EXPECT_EQ(seeds.size(), 6u);
  EXPECT_NE(Random::stream_seed(1, "network"), Random::stream_seed(2, "network"));
  EXPECT_EQ(Random::stream_seed(1, "network"), Random::stream_seed(1, "network"));
  // Streams with different names produce different sequences.
  Random a(Random::stream_seed(9, "disk")), b(Random::stream_seed(9, "network"));
  EXPECT_NE(a.next(), b.next());
}

RC_GTEST_PROP(RandomProp, StreamSeedDistinctNames, (uint64_t seed, std::string a, std::string b)) {
  RC_PRE(a != b);
  RC_ASSERT(Random::stream_seed(seed, a) != Random::stream_seed(seed, b));
}

TEST(Fnv1a64, KnownAnswers) {
  EXPECT_EQ(fnv1a64(""), 0xcbf29ce484222325ull);
  EXPECT_EQ(fnv1a64("a"), 0xaf63dc4c8601ec8cull);
  EXPECT_EQ(fnv1a64("foobar"), 0x85944171f73967e8ull);
}

}  // namespace
}  // namespace sim
