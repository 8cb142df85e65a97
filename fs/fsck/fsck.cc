// fsck(): runs the checkers (checkers.h) over one shared context, in the order that fixes the
// report's order of findings: the super; the walks of every tree and list from it, each claiming
// its blocks; the metadata partition; the namespace, from the merged fs and log trees; and last
// the data partition, which needs the extents the namespace claims.
#include "fs/fsck/fsck.h"

#include "fs/fsck/checkers.h"

namespace simfs::fs {

FsckReport fsck(const ImageReader& meta, const ImageReader& data, const FsckOptions& opts) {
  using namespace fsck_internal;
  FsckContext cx(meta, data, opts);
  if (!check_super(cx)) return std::move(cx.report);
  walk_fs_tree(cx);
  check_logs(cx);
  check_clients(cx);
  check_allocators(cx);
  cx.report.referenced.push_back(kSuperBlkno);
  cx.report.referenced.insert(cx.report.referenced.end(), cx.visited.begin(), cx.visited.end());
  check_meta_partition(cx);
  if (cx.items_complete()) {
    merge_forest(cx);
    check_namespace(cx);
  } else {
    cx.report.notes.push_back("namespace checks skipped: part of the fs tree or a log tree could not be read");
  }
  check_data_partition(cx);
  return std::move(cx.report);
}

}  // namespace simfs::fs
