// simfs fsck: checks the filesystem in a pair of device images (fs/fsck.h).
#include <sys/stat.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "fs/fsck/fsck.h"
#include "fs/format/key.h"
#include "sim/block_device.h"
#include "tools/cli.h"

namespace tools {

namespace {

const char* kFsckHelp =
    "usage: simfs fsck META_IMAGE DATA_IMAGE [--json]\n"
    "       simfs fsck DIR [--json]\n"
    "\n"
    "Checks the filesystem in two device images (the format 'simfs run --save-images' writes).\n"
    "With DIR, the images are DIR/meta.img and DIR/data.img.\n"
    "\n"
    "  --json   print one JSON object on stdout\n"
    "\n"
    "exit codes: 0 clean, 1 findings, 2 usage error or unreadable file, 3 not a valid image\n";

int usage_error(const std::string& msg) {
  std::fprintf(stderr, "simfs fsck: %s\n", msg.c_str());
  return kExitUsage;
}

bool is_dir(const std::string& path) {
  struct stat st;
  return ::stat(path.c_str(), &st) == 0 && S_ISDIR(st.st_mode);
}

// 0 on success, else the exit code (after saying why on stderr).
int load(const std::string& path, sim::DeviceImage* out) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return usage_error("cannot read '" + path + "': " + std::strerror(errno));
  std::ostringstream ss;
  ss << in.rdbuf();
  if (!in && !in.eof()) return usage_error("cannot read '" + path + "'");
  std::string err = sim::parse_device_image(ss.str(), out);
  if (!err.empty()) {
    std::fprintf(stderr, "simfs fsck: bad image '%s': %s\n", path.c_str(), err.c_str());
    return kExitHarness;
  }
  return 0;
}

nlohmann::ordered_json to_json(const simfs::fs::FsckReport& r, const std::string& meta, const std::string& data) {
  nlohmann::ordered_json j;
  j["meta_image"] = meta;
  j["data_image"] = data;
  j["result"] = r.clean() ? "clean" : "corrupt";
  nlohmann::ordered_json kinds = nlohmann::ordered_json::object();
  for (const auto& [k, n] : r.kinds) kinds[k] = n;
  j["kinds"] = kinds;
  nlohmann::ordered_json fs = nlohmann::ordered_json::array();
  for (const auto& f : r.findings) {
    nlohmann::ordered_json x;
    x["kind"] = f.kind;
    x["block"] = f.block;
    x["key"] = f.key ? nlohmann::ordered_json(simfs::fs::key_string(*f.key)) : nlohmann::ordered_json(nullptr);
    x["message"] = f.message;
    fs.push_back(x);
  }
  j["findings"] = fs;
  j["dropped"] = r.dropped;
  const auto& c = r.counts;
  j["counts"] = {{"meta_blocks", c.meta_blocks},       {"meta_referenced", c.meta_referenced},
                 {"meta_free", c.meta_free},           {"meta_avail", c.meta_avail},
                 {"meta_freed", c.meta_freed},         {"data_blocks", c.data_blocks},
                 {"data_mapped", c.data_mapped},       {"data_free", c.data_free},
                 {"items", c.items},                   {"inodes", c.inodes},
                 {"directories", c.directories},       {"files", c.files},
                 {"symlinks", c.symlinks},             {"dirents", c.dirents},
                 {"xattrs", c.xattrs},                 {"extent_items", c.extent_items},
                 {"orphans", c.orphans}};
  j["notes"] = r.notes;
  return j;
}

}  // namespace

int cmd_fsck(Args& args) {
  bool json = false;
  std::vector<std::string> positional;
  while (!args.done()) {
    const std::string cur = args.peek();
    if (cur == "-h" || cur == "--help") {
      std::fputs(kFsckHelp, stdout);
      return kExitPass;
    }
    if (args.flag("--json")) {
      json = true;
    } else if (!cur.empty() && cur[0] == '-' && cur.size() > 1) {
      return usage_error("unknown option '" + cur + "' (try 'simfs fsck --help')");
    } else {
      positional.push_back(args.next());
    }
  }
  std::string meta_path, data_path;
  if (positional.size() == 1) {
    if (!is_dir(positional[0])) {
      return usage_error("'" + positional[0] + "' is not a directory: give META_IMAGE DATA_IMAGE, or a directory holding meta.img and data.img");
    }
    meta_path = positional[0] + "/meta.img";
    data_path = positional[0] + "/data.img";
  } else if (positional.size() == 2) {
    meta_path = positional[0];
    data_path = positional[1];
  } else {
    return usage_error(positional.empty() ? "no images given (try 'simfs fsck --help')"
                                          : "unexpected argument '" + positional[2] + "'");
  }
  sim::DeviceImage meta, data;
  if (int code = load(meta_path, &meta)) return code;
  if (int code = load(data_path, &data)) return code;

  const simfs::fs::FsckReport r = simfs::fs::fsck(simfs::fs::image_reader(meta), simfs::fs::image_reader(data));
  if (json) {
    std::printf("%s\n", to_json(r, meta_path, data_path).dump().c_str());
  } else {
    std::printf("fsck %s %s\n%s", meta_path.c_str(), data_path.c_str(), simfs::fs::format_report(r).c_str());
  }
  return r.clean() ? kExitPass : kExitFail;
}

}  // namespace tools
