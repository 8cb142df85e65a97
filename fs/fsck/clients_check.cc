// The mounted-clients tree: one record per mount the server knows, keyed by rid. A mount's
// record is written before its first transaction and deleted last when it leaves or is
// reclaimed, so every record must decode, and the tree's blocks are claimed like any tree's.
//
// Reports: clients.bad_record, and what walk_tree reports for the tree (tree_walk.cc).
#include "fs/fsck/checkers.h"

namespace simfs::fs::fsck_internal {

void check_clients(FsckContext& cx) {
  cx.clients = TreeWalk{"mounted-clients tree", Owner::kClientsTree, true, {}};
  walk_tree(cx, cx.sb.clients_root, &cx.clients);
  for (const Item& it : cx.clients.items) {
    MountedClientValue v;
    if (it.deletion || it.key != mounted_client_key(it.key.ino) || it.key.ino == 0 ||
        !decode_mounted_client(it.value, &v)) {
      cx.add("clients.bad_record", 0, it.key, "a mounted-clients item that is not a client record, or does not decode");
      continue;
    }
    ++cx.report.counts.mounted_clients;
  }
}

}  // namespace simfs::fs::fsck_internal
