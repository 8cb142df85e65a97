// Btree walks: every block of a tree read once from its root, its blocks claimed for the
// partition sweep and its leaf items gathered (in key order) for the checkers of what they hold.
// A tree whose blocks all read is then held to the btree's own invariants (check_tree: key
// order, fences, fill within the tree's bounds); one with an unreadable block is not, and says
// so in the notes, since its structure is unknown.
//
// Reports: btree.structure (a bad root, a level field out of place, or check_tree's verdict),
// btree.malformed (a block whose node does not decode), seq.future (an item newer than the
// super), and what read_ref reports for each block (fsck_context.cc).
#include "fs/fsck/checkers.h"
#include "sim/errors.h"

namespace simfs::fs::fsck_internal {

namespace {

void walk_node(FsckContext& cx, BlockRef ref, uint8_t level, TreeWalk* w) {
  if (!cx.ref_in_range(ref, w->name)) {
    w->complete = false;
    return;
  }
  cx.claim_meta(ref.blkno, 1, w->owner);
  // A block seen before was walked then; the second claim is reported by the partition sweep.
  if (!cx.visited.insert(ref.blkno).second) return;
  ++cx.report.counts.meta_referenced;
  std::vector<uint8_t> b;
  if (!cx.read_ref(ref, btree_magic(level), w->name, &b)) {
    w->complete = false;
    return;
  }
  BtreeNode n;
  std::string why;
  if (!decode_node(std::span<const uint8_t>(b).subspan(kBlockHeaderBytes), &n, &why)) {
    cx.add("btree.malformed", ref.blkno, std::nullopt, w->name + " block " + num(ref.blkno) + ": " + why);
    w->complete = false;
    return;
  }
  if (n.level != level) {
    // Its entries are of the other kind: not followed (check_tree would say the same).
    cx.add("btree.structure", ref.blkno, std::nullopt,
           w->name + " block " + num(ref.blkno) + ": level field " + num(n.level) + " where level " + num(level) +
               " belongs");
    w->complete = false;
    return;
  }
  if (level == 0) {
    for (BtreeEntry& e : n.entries) {
      if (e.item.seq > cx.sb.server_seq) {
        cx.add("seq.future", ref.blkno, e.item.key,
               w->name + " item has seq " + num(e.item.seq) + " beyond the super's server_seq " +
                   num(cx.sb.server_seq));
      }
      w->items.push_back(std::move(e.item));
    }
    return;
  }
  for (const BtreeEntry& e : n.entries) walk_node(cx, e.child, static_cast<uint8_t>(level - 1), w);
}

}  // namespace

void walk_tree(FsckContext& cx, const BtreeRoot& root, TreeWalk* w) {
  if (root.height > kBtreeHeightMax || (root.height == 0) != root.ref.empty()) {
    cx.add("btree.structure", root.ref.blkno, std::nullopt,
           w->name + ": root height " + num(root.height) + " with " + (root.ref.empty() ? "no block" : "a block"));
    w->complete = false;
    return;
  }
  if (root.height == 0) return;
  walk_node(cx, root.ref, static_cast<uint8_t>(root.height - 1), w);
  if (!w->complete) {
    cx.report.notes.push_back(w->name + ": structure check skipped: blocks could not be read");
    return;
  }
  const CheckReadFn read = [&cx](BlockRef ref, BlockMagic magic, std::vector<uint8_t>* out) -> sim::Errno {
    if (!cx.read_meta(ref.blkno, out)) return EIO;
    return block_check_errno(check_block(*out, BlockExpect{magic, cx.sb.fsid, ref.blkno, ref.seq}));
  };
  std::string problem = check_tree(read, root, w->config);
  if (!problem.empty()) cx.add("btree.structure", 0, std::nullopt, w->name + ": " + problem);
}

void walk_fs_tree(FsckContext& cx) {
  cx.fs = TreeWalk{"fs tree", Owner::kFsTree, true, {}, cx.forest_config};
  walk_tree(cx, cx.sb.fs_root, &cx.fs);
}

}  // namespace simfs::fs::fsck_internal
