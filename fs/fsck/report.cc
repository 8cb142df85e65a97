// format_report(): a report as text, for people (simfs fsck, failing tests): the counts, the
// notes, one line per finding, and a last line that tools may match ("clean: no findings", or
// the total and each kind's count).
#include "fs/fsck/fsck.h"

#include "fs/fsck/fsck_context.h"

namespace simfs::fs {

std::string format_report(const FsckReport& r) {
  using fsck_internal::num;
  const FsckCounts& c = r.counts;
  std::string s;
  uint64_t total = 0;
  for (const auto& [kind, n] : r.kinds) total += n;
  if (c.meta_blocks) {  // 0: the super could not be read, so nothing was counted
    s += "metadata: " + num(c.meta_blocks) + " blocks: " + num(c.meta_referenced) + " referenced, " + num(c.meta_free) +
         " free, " + num(c.meta_avail) + " avail, " + num(c.meta_freed) + " freed\n";
    s += "data: " + num(c.data_blocks) + " blocks: " + num(c.data_mapped) + " mapped, " + num(c.data_free) + " free\n";
    s += "namespace: " + num(c.inodes) + " inodes (" + num(c.directories) + " directories, " + num(c.files) + " files, " +
         num(c.symlinks) + " symlinks), " + num(c.dirents) + " entries, " + num(c.xattrs) + " xattrs, " +
         num(c.extent_items) + " extent items, " + num(c.orphans) + " orphans\n";
  }
  for (const std::string& n : r.notes) s += "note: " + n + "\n";
  for (const FsckFinding& f : r.findings) {
    s += f.kind;
    if (f.block) s += " block " + num(f.block);
    if (f.key) s += " key " + key_string(*f.key);
    s += ": " + f.message + "\n";
  }
  if (r.dropped) s += "(" + num(r.dropped) + " more findings not listed)\n";
  if (total == 0) {
    s += "clean: no findings\n";
  } else {
    s += num(total) + " findings:";
    for (const auto& [kind, n] : r.kinds) s += " " + kind + "=" + num(n);
    s += "\n";
  }
  return s;
}

}  // namespace simfs::fs
