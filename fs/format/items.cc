#include "fs/format/items.h"

#include "fs/format/btree_block.h"

#include "sim/bytes.h"
#include "sim/random.h"

namespace simfs::fs {

Key inode_key(uint64_t ino) { return Key{kZoneFs, ino, kTypeInode, 0, 0}; }
Key xattr_key(uint64_t ino, uint64_t hash, uint64_t index) { return Key{kZoneFs, ino, kTypeXattr, hash, index}; }
Key dirent_key(uint64_t dir, uint64_t hash, uint64_t pos) { return Key{kZoneFs, dir, kTypeDirent, hash, pos}; }
Key readdir_key(uint64_t dir, uint64_t pos) { return Key{kZoneFs, dir, kTypeReaddir, pos, 0}; }
Key link_key(uint64_t ino, uint64_t dir, uint64_t pos) { return Key{kZoneFs, ino, kTypeLink, dir, pos}; }
Key extent_key(uint64_t ino, uint64_t region) { return Key{kZoneFs, ino, kTypeExtent, region, 0}; }
Key symlink_key(uint64_t ino) { return Key{kZoneFs, ino, kTypeSymlink, 0, 0}; }
Key orphan_key(uint64_t ino) { return Key{kZoneOrphan, ino, kTypeOrphan, 0, 0}; }
Key bitmap_key(uint64_t allocator, uint64_t region) { return Key{kZoneAlloc, allocator, kTypeBitmap, region, 0}; }
Key log_tree_key(uint64_t rid, uint64_t nr) { return Key{kZoneLogs, rid, kTypeLogTree, nr, 0}; }
Key merge_status_key() { return Key{kZoneLogs, 0, kTypeMergeStatus, 0, 0}; }
Key merge_request_key(uint64_t id) { return Key{kZoneLogs, 0, kTypeMergeRequest, id, 0}; }
Key mounted_client_key(uint64_t rid) { return Key{kZoneClients, rid, kTypeMountedClient, 0, 0}; }
Key inode_first(uint64_t ino) { return Key{kZoneFs, ino, 0, 0, 0}; }
Key inode_last(uint64_t ino) { return Key{kZoneFs, ino, UINT8_MAX, UINT64_MAX, UINT64_MAX}; }
Key type_first(uint64_t ino, uint8_t type) { return Key{kZoneFs, ino, type, 0, 0}; }
Key type_last(uint64_t ino, uint8_t type) { return Key{kZoneFs, ino, type, UINT64_MAX, UINT64_MAX}; }

uint64_t name_hash(std::string_view name) { return sim::fnv1a64(name) >> 1; }

namespace {

// Names and short strings: u16 length then bytes.
void put_str(std::vector<uint8_t>& out, std::string_view s) {
  out.push_back(static_cast<uint8_t>(s.size()));
  out.push_back(static_cast<uint8_t>(s.size() >> 8));
  out.insert(out.end(), s.begin(), s.end());
}
bool get_str(std::span<const uint8_t> v, size_t* pos, size_t max, std::string* out) {
  if (v.size() - *pos < 2) return false;
  size_t n = v[*pos] | (size_t{v[*pos + 1]} << 8);
  *pos += 2;
  if (n > max || v.size() - *pos < n) return false;
  out->assign(reinterpret_cast<const char*>(v.data() + *pos), n);
  *pos += n;
  return true;
}

}  // namespace

std::vector<uint8_t> encode_inode(const InodeValue& v) {
  std::vector<uint8_t> out;
  sim::ByteWriter w(out);
  w.u32(v.mode);
  w.u32(v.uid);
  w.u32(v.gid);
  w.u32(v.nlink);
  w.u64(v.size);
  w.u64(v.atime_ns);
  w.u64(v.mtime_ns);
  w.u64(v.ctime_ns);
  w.u64(v.next_readdir_pos);
  return out;
}

bool decode_inode(std::span<const uint8_t> v, InodeValue* out) {
  if (v.size() != 4 * 4 + 5 * 8) return false;
  sim::ByteReader r(v);
  out->mode = r.u32();
  out->uid = r.u32();
  out->gid = r.u32();
  out->nlink = r.u32();
  out->size = r.u64();
  out->atime_ns = r.u64();
  out->mtime_ns = r.u64();
  out->ctime_ns = r.u64();
  out->next_readdir_pos = r.u64();
  uint32_t type = out->mode & kModeTypeMask;
  return r.ok() && (type == kModeReg || type == kModeDir || type == kModeLnk) && out->size <= kFileSizeMax;
}

std::vector<uint8_t> encode_dirent(const DirentValue& v) {
  std::vector<uint8_t> out;
  sim::ByteWriter w(out);
  w.u64(v.ino);
  w.u64(v.pos);
  w.u8(v.dtype);
  put_str(out, v.name);
  return out;
}

bool decode_dirent(std::span<const uint8_t> v, DirentValue* out) {
  if (v.size() < 17) return false;
  sim::ByteReader r(v.subspan(0, 17));
  out->ino = r.u64();
  out->pos = r.u64();
  out->dtype = r.u8();
  size_t pos = 17;
  return get_str(v, &pos, kNameMax, &out->name) && pos == v.size() && !out->name.empty();
}

std::vector<uint8_t> encode_link(std::string_view name) {
  std::vector<uint8_t> out;
  put_str(out, name);
  return out;
}

bool decode_link(std::span<const uint8_t> v, std::string* name) {
  size_t pos = 0;
  return get_str(v, &pos, kNameMax, name) && pos == v.size() && !name->empty();
}

std::vector<uint8_t> encode_xattr(const XattrValue& v) {
  std::vector<uint8_t> out;
  put_str(out, v.name);
  put_str(out, v.value);
  return out;
}

bool decode_xattr(std::span<const uint8_t> v, XattrValue* out) {
  size_t pos = 0;
  return get_str(v, &pos, kXattrNameMax, &out->name) && get_str(v, &pos, kXattrValueMax, &out->value) &&
         pos == v.size() && !out->name.empty();
}

std::vector<uint8_t> encode_symlink(std::string_view target) {
  std::vector<uint8_t> out;
  put_str(out, target);
  return out;
}

bool decode_symlink(std::span<const uint8_t> v, std::string* target) {
  size_t pos = 0;
  return get_str(v, &pos, kSymlinkMax, target) && pos == v.size() && !target->empty();
}

// Layout: u8 run count, then per run {u8 start, u8 len, u64 first blkno}, runs in start order.
std::vector<uint8_t> encode_extent(const ExtentMap& m) {
  std::vector<uint8_t> out;
  out.push_back(0);
  sim::ByteWriter w(out);
  uint32_t i = 0;
  while (i < kExtentRegionBlocks) {
    if (!m[i]) {
      ++i;
      continue;
    }
    uint32_t len = 1;
    while (i + len < kExtentRegionBlocks && m[i + len] == m[i] + len) ++len;
    w.u8(static_cast<uint8_t>(i));
    w.u8(static_cast<uint8_t>(len));
    w.u64(m[i]);
    ++out[0];
    i += len;
  }
  return out;
}

bool decode_extent(std::span<const uint8_t> v, ExtentMap* out) {
  out->fill(0);
  if (v.empty()) return false;
  size_t runs = v[0];
  if (runs == 0 || v.size() != 1 + runs * 10) return false;
  sim::ByteReader r(v.subspan(1));
  uint32_t next_free = 0;  // runs must be in order and not overlap
  for (size_t k = 0; k < runs; ++k) {
    uint32_t start = r.u8(), len = r.u8();
    uint64_t blkno = r.u64();
    if (len == 0 || start < next_free || start + len > kExtentRegionBlocks || blkno == 0) return false;
    for (uint32_t j = 0; j < len; ++j) (*out)[start + j] = blkno + j;
    next_free = start + len;
  }
  return r.ok();
}

std::vector<uint8_t> encode_log_tree(const LogTreeValue& v) {
  std::vector<uint8_t> out;
  sim::ByteWriter w(out);
  encode_btree_root(w, v.root);
  w.u64(v.item_count);
  w.u64(v.max_seq);
  w.u8(v.finalized ? 1 : 0);
  encode_key(w, v.merge_next);
  encode_list_head(w, v.meta_avail);
  encode_list_head(w, v.meta_freed);
  encode_alloc_root(w, v.data_avail);
  encode_alloc_root(w, v.data_freed);
  w.u64(v.get_trans_seq);
  w.u64(v.commit_trans_seq);
  w.u64(v.finalize_seq);
  w.u64(v.first_seq);
  w.u64(static_cast<uint64_t>(v.inode_delta));
  encode_lock_bloom(w, v.bloom);
  return out;
}

namespace {
bool root_sane(const BtreeRoot& r) { return r.height <= kBtreeHeightMax && (r.height == 0) == r.ref.empty(); }
bool list_sane(const AllocListHead& h) {
  return h.ref.empty() ? (h.total_nr == 0 && h.first_nr == 0) : (h.first_nr >= 1 && h.first_nr <= h.total_nr);
}
}  // namespace

bool decode_log_tree(std::span<const uint8_t> v, LogTreeValue* out) {
  constexpr size_t kBytes = kBtreeRootBytes + 8 + 8 + 1 + kKeyBytes + 2 * kAllocListHeadBytes + 2 * kAllocRootBytes + 5 * 8 + kLockBloomBytes;
  if (v.size() != kBytes) return false;
  sim::ByteReader r(v);
  LogTreeValue t;
  t.root = decode_btree_root(r);
  t.item_count = r.u64();
  t.max_seq = r.u64();
  const uint8_t flags = r.u8();
  t.finalized = flags & 1;
  t.merge_next = decode_key(r);
  t.meta_avail = decode_list_head(r);
  t.meta_freed = decode_list_head(r);
  t.data_avail = decode_alloc_root(r);
  t.data_freed = decode_alloc_root(r);
  t.get_trans_seq = r.u64();
  t.commit_trans_seq = r.u64();
  t.finalize_seq = r.u64();
  t.first_seq = r.u64();
  t.inode_delta = static_cast<int64_t>(r.u64());
  t.bloom = decode_lock_bloom(r);
  const bool empty = t.root.height == 0;
  if (!(r.ok() && flags <= 1 && root_sane(t.root) && empty == (t.item_count == 0) && list_sane(t.meta_avail) &&
        list_sane(t.meta_freed) && root_sane(t.data_avail.root) && root_sane(t.data_freed.root) &&
        t.commit_trans_seq <= t.get_trans_seq && (t.finalize_seq != 0) == t.finalized)) {
    return false;
  }
  *out = t;
  return true;
}

std::vector<uint8_t> encode_merge_status(const MergeStatusValue& v) {
  std::vector<uint8_t> out;
  sim::ByteWriter w(out);
  w.u64(v.input_seq);
  encode_key(w, v.next);
  return out;
}

bool decode_merge_status(std::span<const uint8_t> v, MergeStatusValue* out) {
  if (v.size() != 8 + kKeyBytes) return false;
  sim::ByteReader r(v);
  out->input_seq = r.u64();
  out->next = decode_key(r);
  return r.ok() && out->input_seq != 0;
}

std::vector<uint8_t> encode_merge_request(const MergeRequestValue& v) {
  std::vector<uint8_t> out;
  sim::ByteWriter w(out);
  w.u64(v.rid);
  w.u64(v.nonce);
  w.u64(v.input_seq);
  encode_key(w, v.start);
  encode_key(w, v.end);
  encode_btree_root(w, v.subtree);
  w.u8(v.level);
  w.u8(v.flags);
  encode_list_head(w, v.avail);
  return out;
}

bool decode_merge_request(std::span<const uint8_t> v, MergeRequestValue* out) {
  if (v.size() != 3 * 8 + 2 * kKeyBytes + kBtreeRootBytes + 2 + kAllocListHeadBytes) return false;
  sim::ByteReader r(v);
  MergeRequestValue d;
  d.rid = r.u64();
  d.nonce = r.u64();
  d.input_seq = r.u64();
  d.start = decode_key(r);
  d.end = decode_key(r);
  d.subtree = decode_btree_root(r);
  d.level = r.u8();
  d.flags = r.u8();
  d.avail = decode_list_head(r);
  if (!r.ok() || d.rid == 0 || d.input_seq == 0 || d.end < d.start) return false;
  if ((d.flags & ~kMergeRequestAbandoned) != 0 || d.subtree.height > kBtreeHeightMax) return false;
  if ((d.subtree.height == 0) != d.subtree.ref.empty()) return false;
  // A subtree below the root is a parent block: its height is level + 1.
  if (d.level != 0 && d.subtree.height != d.level + 1) return false;
  *out = d;
  return true;
}

std::vector<uint8_t> encode_mounted_client(const MountedClientValue& v) {
  std::vector<uint8_t> out;
  sim::ByteWriter w(out);
  w.u32(v.node);
  w.u64(v.flags);
  return out;
}

bool decode_mounted_client(std::span<const uint8_t> v, MountedClientValue* out) {
  if (v.size() != 4 + 8) return false;
  sim::ByteReader r(v);
  out->node = r.u32();
  out->flags = r.u64();
  return r.ok() && (out->flags & ~(kMountedClientVoter | kMountedClientReclaiming)) == 0;
}

}  // namespace simfs::fs
