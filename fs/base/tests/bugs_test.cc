#include "fs/base/bugs.h"

#include <gtest/gtest.h>

#include <set>
#include <string>

namespace simfs::fs {
namespace {

TEST(Bugs, NamesRoundTripAndAreUnique) {
  std::set<std::string> names;
  for (const BugInfo& b : all_bugs()) {
    EXPECT_TRUE(names.insert(b.name).second) << b.name;
    ASSERT_TRUE(bug_from_name(b.name).has_value()) << b.name;
    EXPECT_EQ(*bug_from_name(b.name), b.bug);
    EXPECT_STREQ(bug_name(b.bug), b.name);
    EXPECT_GT(std::string(b.what).size(), 10u);
  }
  EXPECT_EQ(all_bugs().size(), static_cast<size_t>(Bug::kCount));
  EXPECT_FALSE(bug_from_name("no_such_bug").has_value());
  EXPECT_FALSE(bug_from_name("").has_value());
}

TEST(Bugs, SetHoldsWhatWasAdded) {
  BugSet s;
  EXPECT_TRUE(s.empty());
  s.add(Bug::kNoDataFlush);
  EXPECT_TRUE(s.has(Bug::kNoDataFlush));
  EXPECT_FALSE(s.has(Bug::kLeakOnDelete));
  EXPECT_TRUE(BugSet::from_name("leak_on_delete").has(Bug::kLeakOnDelete));
  EXPECT_TRUE(BugSet::from_name("no_restart").empty());  // a scenario's bug, not fs/'s
}

}  // namespace
}  // namespace simfs::fs
