// Two mounts on two nodes share one filesystem: what one writes the other reads, through the
// locks (the writer's dirty items are committed before its lock is invalidated).
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "fs/testing/cluster_world.h"

namespace simfs::fs {
namespace {

using testing::ClusterWorld;

std::vector<uint8_t> bytes(std::string_view s) { return {s.begin(), s.end()}; }
std::string str(const std::vector<uint8_t>& v) { return {v.begin(), v.end()}; }

TEST(TwoMounts, WhatOneWritesTheOtherReads) {
  ClusterWorld w(1, 2);
  w.run([&] {
    ASSERT_EQ(w.mkfs_and_mount(2), 0);
    uint64_t ino = 0, found = 0;
    ASSERT_EQ(w.vfs(0).create(kRootIno, "f", 0644, &ino), 0);
    ASSERT_EQ(w.vfs(0).write(ino, 0, bytes("hello")), 0);
    // Mount 1 reads without anyone syncing: its read lock invalidates mount 0's write lock,
    // which commits mount 0's transaction first.
    ASSERT_EQ(w.vfs(1).lookup(kRootIno, "f", &found), 0);
    EXPECT_EQ(found, ino);
    std::vector<uint8_t> got;
    ASSERT_EQ(w.vfs(1).read(ino, 0, 5, &got), 0);
    EXPECT_EQ(str(got), "hello");
    // And back: mount 1 overwrites, mount 0 sees it.
    ASSERT_EQ(w.vfs(1).write(ino, 0, bytes("HE")), 0);
    ASSERT_EQ(w.vfs(0).read(ino, 0, 5, &got), 0);
    EXPECT_EQ(str(got), "HEllo");
    EXPECT_TRUE(w.violations.empty());
  });
}

}  // namespace
}  // namespace simfs::fs
