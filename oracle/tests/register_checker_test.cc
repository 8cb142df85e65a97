#include "oracle/register_checker.h"

#include <gtest/gtest.h>

namespace oracle {
namespace {

using Kind = RegisterOp::Kind;

TEST(RegisterChecker, AcceptsALinearizableHistory) {
  RegisterChecker c;
  size_t w = c.call(Kind::kWrite, 0, 10, 1, 111);
  c.set_write_ts(w, {1, 1});
  EXPECT_FALSE(c.complete(w, 20, 2, {1, 1}, 111));
  size_t r = c.call(Kind::kRead, 1, 30, 3);
  EXPECT_FALSE(c.complete(r, 40, 4, {1, 1}, 111));
  // A read concurrent with a later write may see either value.
  size_t w2 = c.call(Kind::kWrite, 0, 50, 5, 222);
  size_t r2 = c.call(Kind::kRead, 1, 55, 6);
  c.set_write_ts(w2, {2, 1});
  EXPECT_FALSE(c.complete(r2, 60, 7, {1, 1}, 111));
  EXPECT_FALSE(c.complete(w2, 70, 8, {2, 1}, 222));
}

TEST(RegisterChecker, InitialValueIsReadable) {
  RegisterChecker c;
  size_t r = c.call(Kind::kRead, 0, 1, 1);
  EXPECT_FALSE(c.complete(r, 2, 2, {}, 0));
}

TEST(RegisterChecker, ForgedReadViolatesReadOrigin) {
  RegisterChecker c;
  size_t w = c.call(Kind::kWrite, 0, 10, 1, 111);
  c.set_write_ts(w, {1, 1});
  c.complete(w, 20, 2, {1, 1}, 111);
  size_t r = c.call(Kind::kRead, 1, 30, 3);
  auto v = c.complete(r, 40, 4, {1, 1}, 999);  // right ts, wrong value
  ASSERT_TRUE(v);
  EXPECT_EQ(v->invariant, "register.read_origin");
  size_t r2 = c.call(Kind::kRead, 1, 50, 5);
  auto v2 = c.complete(r2, 60, 6, {7, 3}, 111);  // a ts no write had
  ASSERT_TRUE(v2);
  EXPECT_EQ(v2->invariant, "register.read_origin");
}

TEST(RegisterChecker, StaleReadViolatesRealTime) {
  RegisterChecker c;
  size_t w1 = c.call(Kind::kWrite, 0, 10, 1, 111);
  c.set_write_ts(w1, {1, 1});
  c.complete(w1, 20, 2, {1, 1}, 111);
  size_t w2 = c.call(Kind::kWrite, 0, 30, 3, 222);
  c.set_write_ts(w2, {2, 1});
  c.complete(w2, 40, 4, {2, 1}, 222);
  size_t r = c.call(Kind::kRead, 1, 50, 5);
  auto v = c.complete(r, 60, 6, {1, 1}, 111);
  ASSERT_TRUE(v);
  EXPECT_EQ(v->invariant, "register.real_time");
  EXPECT_EQ(v->witness, (std::vector<uint64_t>{4, 5, 6}));
}

TEST(RegisterChecker, LostWriteViolatesRealTime) {
  // A write that starts after another returned must carry a larger ts.
  RegisterChecker c;
  size_t w1 = c.call(Kind::kWrite, 0, 10, 1, 111);
  c.set_write_ts(w1, {5, 1});
  c.complete(w1, 20, 2, {5, 1}, 111);
  size_t w2 = c.call(Kind::kWrite, 1, 30, 3, 222);
  c.set_write_ts(w2, {5, 1});
  auto v = c.complete(w2, 40, 4, {5, 1}, 222);
  ASSERT_TRUE(v);
  EXPECT_EQ(v->invariant, "register.real_time");
}

TEST(RegisterChecker, ReadsMustNotGoBackwards) {
  RegisterChecker c;
  size_t w1 = c.call(Kind::kWrite, 0, 10, 1, 111);
  c.set_write_ts(w1, {1, 1});
  size_t w2 = c.call(Kind::kWrite, 0, 11, 2, 222);  // both pending
  c.set_write_ts(w2, {2, 1});
  size_t r1 = c.call(Kind::kRead, 1, 20, 3);
  EXPECT_FALSE(c.complete(r1, 30, 4, {2, 1}, 222));
  size_t r2 = c.call(Kind::kRead, 1, 40, 5);
  auto v = c.complete(r2, 50, 6, {1, 1}, 111);
  ASSERT_TRUE(v);
  EXPECT_EQ(v->invariant, "register.real_time");
}

}  // namespace
}  // namespace oracle
