// simfs fsck: exit codes and output on clean, corrupt, truncated and missing images. Runs the
// real binary on images made by the VFS in a simulation.
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "fs/format/format.h"
#include "fs/testing/fs_world.h"
#include "tools/subprocess.h"

namespace tools {
namespace {

namespace stdfs = std::filesystem;
using simfs::fs::testing::FsWorld;

ChildResult simfs(std::vector<std::string> args) {
  args.insert(args.begin(), SIMFS_BINARY);
  return run_child(args, 120000, /*quiet_stderr=*/true);
}

stdfs::path temp_dir(const std::string& name) {
  stdfs::path p = stdfs::temp_directory_path() / ("simfs-fsck-test-" + name + "-" + std::to_string(getpid()));
  stdfs::remove_all(p);
  stdfs::create_directories(p);
  return p;
}

void write_file(const stdfs::path& p, const std::string& bytes) {
  std::ofstream out(p, std::ios::binary | std::ios::trunc);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
}

std::string image_bytes(const sim::BlockDevice& dev) {
  std::ostringstream out;
  dev.save_image(out);
  return out.str();
}

// meta.img and data.img of a small filesystem in dir; with `corrupt`, one bit of the open log
// tree's root block (where the file's items are) is flipped first.
void make_images(const stdfs::path& dir, bool corrupt) {
  FsWorld w(7);
  uint64_t log_root = 0;
  w.run([&] {
    ASSERT_EQ(w.mkfs_and_mount(), 0);
    uint64_t f = 0;
    ASSERT_EQ(w.vfs->create(simfs::fs::kRootIno, "a", 0644, &f), 0);
    std::vector<uint8_t> data(5000, 7);
    ASSERT_EQ(w.vfs->write(f, 0, data), 0);
    ASSERT_EQ(w.vfs->sync(), 0);
    log_root = w.mount->log_record().value.root.ref.blkno;
  });
  ASSERT_NE(log_root, 0u);
  if (corrupt) w.meta.flip_bit(log_root, 1000);
  write_file(dir / "meta.img", image_bytes(w.meta));
  write_file(dir / "data.img", image_bytes(w.data));
}

TEST(FsckCli, CleanImagesPass) {
  stdfs::path dir = temp_dir("clean");
  make_images(dir, false);
  ChildResult r = simfs({"fsck", (dir / "meta.img").string(), (dir / "data.img").string()});
  EXPECT_EQ(r.exit_code, 0) << r.out;
  EXPECT_NE(r.out.find("clean"), std::string::npos) << r.out;
  // A directory written by 'simfs run --save-images' names its images after the devices.
  r = simfs({"fsck", dir.string(), "--json"});
  EXPECT_EQ(r.exit_code, 0) << r.out;
  auto j = nlohmann::json::parse(r.out, nullptr, false);
  ASSERT_FALSE(j.is_discarded()) << r.out;
  EXPECT_EQ(j["result"], "clean");
  EXPECT_EQ(j["findings"].size(), 0u);
  EXPECT_EQ(j["counts"]["files"], 1);
  stdfs::remove_all(dir);
}

TEST(FsckCli, CorruptImagesFail) {
  stdfs::path dir = temp_dir("corrupt");
  make_images(dir, true);
  ChildResult r = simfs({"fsck", dir.string(), "--json"});
  EXPECT_EQ(r.exit_code, 1) << r.out;
  auto j = nlohmann::json::parse(r.out, nullptr, false);
  ASSERT_FALSE(j.is_discarded()) << r.out;
  EXPECT_EQ(j["result"], "corrupt");
  ASSERT_GE(j["findings"].size(), 1u);
  EXPECT_EQ(j["findings"][0]["kind"], "block.checksum");
  EXPECT_EQ(j["kinds"]["block.checksum"], 1);
  r = simfs({"fsck", (dir / "meta.img").string(), (dir / "data.img").string()});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.out.find("block.checksum"), std::string::npos) << r.out;
  stdfs::remove_all(dir);
}

TEST(FsckCli, BadImageFilesAreHarnessErrors) {
  stdfs::path dir = temp_dir("bad");
  make_images(dir, false);
  std::ifstream in(dir / "meta.img", std::ios::binary);
  std::string meta((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  write_file(dir / "short.img", meta.substr(0, meta.size() / 2));
  write_file(dir / "junk.img", "not an image at all, just some text that is long enough");
  EXPECT_EQ(simfs({"fsck", (dir / "short.img").string(), (dir / "data.img").string()}).exit_code, 3);
  EXPECT_EQ(simfs({"fsck", (dir / "meta.img").string(), (dir / "junk.img").string()}).exit_code, 3);
  write_file(dir / "empty.img", "");
  EXPECT_EQ(simfs({"fsck", (dir / "empty.img").string(), (dir / "data.img").string()}).exit_code, 3);
  stdfs::remove_all(dir);
}

TEST(FsckCli, UsageErrors) {
  stdfs::path dir = temp_dir("usage");
  EXPECT_EQ(simfs({"fsck"}).exit_code, 2);
  EXPECT_EQ(simfs({"fsck", (dir / "missing.img").string(), (dir / "missing2.img").string()}).exit_code, 2);
  EXPECT_EQ(simfs({"fsck", dir.string()}).exit_code, 2);  // a directory without images
  EXPECT_EQ(simfs({"fsck", (dir / "nodir").string()}).exit_code, 2);
  EXPECT_EQ(simfs({"fsck", "a", "b", "c"}).exit_code, 2);
  EXPECT_EQ(simfs({"fsck", "a", "b", "--bogus"}).exit_code, 2);
  EXPECT_EQ(simfs({"fsck", "--help"}).exit_code, 0);
  stdfs::remove_all(dir);
}

}  // namespace
}  // namespace tools
