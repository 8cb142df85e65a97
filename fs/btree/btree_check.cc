#include "fs/btree/btree_check.h"

#include <optional>
#include <set>
#include <span>
#include <vector>

#include "fs/format/btree_block.h"
#include "fs/format/key.h"

namespace simfs::fs {
namespace {

std::string ref_string(BlockRef r) { return "block " + std::to_string(r.blkno) + " (seq " + std::to_string(r.seq) + ")"; }

class Checker {
 public:
  Checker(const CheckReadFn& read, const BtreeRoot& root, const BtreeConfig& config)
      : read_(read), root_(root), config_(config) {}

  std::string run() {
    if (root_.height > kBtreeHeightMax) return "root: height " + std::to_string(root_.height) + " exceeds the maximum";
    if ((root_.height == 0) != root_.ref.empty()) return "root: height and reference disagree about emptiness";
    if (root_.height == 0) return "";
    std::string problem;
    check(root_.ref, 0, std::nullopt, nullptr, &problem);
    return problem;
  }

 private:
  // Checks the subtree at `ref` whose keys must all be > `after` (when set); stores its largest
  // key in *max_key. Returns false once a violation is recorded in *problem.
  bool check(BlockRef ref, uint8_t depth, std::optional<Key> after, Key* max_key, std::string* problem) {
    const std::string where = ref_string(ref);
    if (!seen_.insert(ref.blkno).second) return fail(problem, where + ": referenced more than once");
    const uint8_t level = static_cast<uint8_t>(root_.height - 1 - depth);
    std::vector<uint8_t> block;
    if (sim::Errno e = read_(ref, btree_magic(level), &block); e != sim::kOk) {
      std::vector<uint8_t> other;
      if (read_(ref, btree_magic(level == 0 ? 1 : 0), &other) == sim::kOk) {
        return fail(problem, where + ": unbalanced: a " + (level == 0 ? "parent" : "leaf") + " at depth " +
                                 std::to_string(depth) + " where level " + std::to_string(level) + " belongs");
      }
      return fail(problem, where + ": read failed: " + sim::errno_name(e));
    }
    BtreeNode n;
    std::string why;
    if (block.size() != kBlockSize) return fail(problem, where + ": read returned " + std::to_string(block.size()) + " bytes");
    if (!decode_node(std::span<const uint8_t>(block).subspan(kBlockHeaderBytes), &n, &why)) return fail(problem, where + ": malformed: " + why);
    if (n.level != level) {
      return fail(problem, where + ": level field " + std::to_string(n.level) + " at depth " + std::to_string(depth) +
                               ", expected " + std::to_string(level));
    }
    const bool is_root = depth == 0;
    const size_t used = n.bytes_used();
    if (used > config_.entries_bytes_max) {
      return fail(problem, where + ": overfull: " + std::to_string(used) + " bytes > " +
                               std::to_string(config_.entries_bytes_max));
    }
    if (is_root && n.leaf() && n.entries.empty()) return fail(problem, where + ": root leaf is empty");
    if (is_root && !n.leaf() && n.entries.size() < 2) return fail(problem, where + ": root parent has fewer than two children");
    if (!is_root && (used < config_.low_water() || n.entries.empty())) {
      return fail(problem, where + ": underfull: " + std::to_string(used) + " bytes < " +
                               std::to_string(config_.low_water()));
    }
    for (size_t i = 0; i < n.entries.size(); ++i) {
      const Key& k = n.entries[i].key();
      if (i > 0 && !(n.entries[i - 1].key() < k)) {
        return fail(problem, where + ": keys out of order at entry " + std::to_string(i) + ": " +
                                 key_string(n.entries[i - 1].key()) + " then " + key_string(k));
      }
      if (i == 0 && after && !(*after < k)) {
        return fail(problem, where + ": key " + key_string(k) + " is not above the previous sibling's key " +
                                 key_string(*after));
      }
      if (n.leaf() && n.entries[i].item.value.size() > config_.value_bytes_max) {
        return fail(problem, where + ": value of " + key_string(k) + " is " +
                                 std::to_string(n.entries[i].item.value.size()) + " bytes");
      }
    }
    if (!n.leaf()) {
      std::optional<Key> child_after = after;
      for (const BtreeEntry& e : n.entries) {
        Key child_max;
        if (!check(e.child, static_cast<uint8_t>(depth + 1), child_after, &child_max, problem)) return false;
        if (child_max != e.key()) {
          return fail(problem, where + ": parent key " + key_string(e.key()) + " differs from the largest key " +
                                   key_string(child_max) + " of child " + ref_string(e.child));
        }
        child_after = e.key();
      }
    }
    if (max_key) *max_key = n.last_key();
    return true;
  }

  static bool fail(std::string* problem, std::string msg) {
    *problem = std::move(msg);
    return false;
  }

  const CheckReadFn& read_;
  BtreeRoot root_;
  BtreeConfig config_;
  std::set<uint64_t> seen_;
};

}  // namespace

std::string check_tree(const CheckReadFn& read, const BtreeRoot& root, const BtreeConfig& config) {
  return Checker(read, root, config).run();
}

std::string check_tree(BlockCache& cache, const BtreeRoot& root, const BtreeConfig& config) {
  const CheckReadFn read = [&cache](BlockRef ref, BlockMagic magic, std::vector<uint8_t>* out) {
    BlockPtr b;
    sim::Errno e = cache.read(ref, magic, &b);
    if (e == sim::kOk) *out = b->data;
    return e;
  };
  return check_tree(read, root, config);
}

}  // namespace simfs::fs
