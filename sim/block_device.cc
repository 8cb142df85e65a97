#include "sim/block_device.h"

#include <cstring>

#include "sim/random.h"
#include "sim/simulation.h"

namespace sim {

namespace {
constexpr Site kSiteLatency{"disk.latency", Stream::kDisk};
constexpr Site kSiteReadEio{"disk.fault.read_eio", Stream::kFaults};
constexpr Site kSiteWriteEio{"disk.fault.write_eio", Stream::kFaults};
constexpr Site kSiteBitflip{"disk.fault.read_bitflip", Stream::kFaults};
constexpr Site kSiteBitflipBit{"disk.fault.read_bitflip.bit", Stream::kFaults};
constexpr Site kSiteMisdirect{"disk.fault.misdirect", Stream::kFaults};
constexpr Site kSiteMisdirectTarget{"disk.fault.misdirect.target", Stream::kFaults};
constexpr Site kSiteCrashOutcome{"disk.crash.outcome", Stream::kFaults};
constexpr Site kSiteTornSector{"disk.crash.torn_sector", Stream::kFaults};

constexpr char kImageMagic[8] = {'S', 'I', 'M', 'F', 'S', 'I', 'M', 'G'};
constexpr uint32_t kImageVersion = 1;

void put_u32(std::string& s, uint32_t v) {
  for (int i = 0; i < 4; ++i) s.push_back(static_cast<char>(v >> (8 * i)));
}
void put_u64(std::string& s, uint64_t v) {
  for (int i = 0; i < 8; ++i) s.push_back(static_cast<char>(v >> (8 * i)));
}
uint64_t get_le(const uint8_t* p, int n) {
  uint64_t v = 0;
  for (int i = n - 1; i >= 0; --i) v = (v << 8) | p[i];
  return v;
}
}  // namespace

// ---- DiskHandle ----

DiskHandle::DiskHandle(BlockDevice& dev, Node& node) : dev_(&dev), node_(&node) {
  resource_id_ = node.add_resource(this);
}

DiskHandle::~DiskHandle() {
  node_->remove_resource(resource_id_);
  if (dev_) dev_->detach(*this);
}

void DiskHandle::cut() {
  if (cut_) return;
  cut_ = true;
  if (dev_) dev_->resolve_pending(node_->id(), "crash");
}

// ---- BlockDevice ----

BlockDevice::BlockDevice(Simulation& sim, int id, std::string name, BlockDeviceConfig cfg)
    : sim_(sim), id_(id), name_(std::move(name)), cfg_(cfg) {}

BlockDevice::~BlockDevice() {
  for (DiskHandle* h : handles_) h->dev_ = nullptr;
}

std::unique_ptr<DiskHandle> BlockDevice::attach(Node& node) {
  auto h = std::make_unique<DiskHandle>(*this, node);
  handles_.push_back(h.get());
  return h;
}

void BlockDevice::detach(DiskHandle& h) {
  for (size_t i = 0; i < handles_.size(); ++i) {
    if (handles_[i] == &h) {
      handles_.erase(handles_.begin() + static_cast<std::ptrdiff_t>(i));
      return;
    }
  }
}

Duration BlockDevice::latency(Duration lo, Duration hi) { return sim_.chooser().range(kSiteLatency, lo, hi); }

bool BlockDevice::fenced(int node_id) const {
  auto it = fenced_.find(node_id);
  return it != fenced_.end() && it->second;
}

bool BlockDevice::is_provisioned(uint64_t blkno) const {
  auto it = blocks_.find(blkno);
  return it != blocks_.end() && (it->second.durable || !it->second.pending.empty());
}

Errno BlockDevice::do_read(DiskHandle& h, uint64_t blkno, std::span<uint8_t> out) {
  const int node = h.node_id();
  if (h.cut_ || fenced(node)) return EIO;
  if (blkno >= cfg_.block_count || out.size() != cfg_.block_size) return EINVAL;
  sim_.sched().sleep(latency(cfg_.read_latency_min, cfg_.read_latency_max));
  if (h.cut_ || fenced(node)) return EIO;
  auto it = blocks_.find(blkno);
  if (it != blocks_.end() && it->second.latent_error) {
    sim_.event(node, "disk_read", {{"dev", id_}, {"blk", blkno}, {"err", "EIO"}, {"cause", "latent"}}, true);
    return EIO;
  }
  if (sim_.chooser().chance(kSiteReadEio, rates_.read_eio, rates_.den)) {
    sim_.event(node, "disk_read", {{"dev", id_}, {"blk", blkno}, {"err", "EIO"}}, true);
    return EIO;
  }
  peek(blkno, out);
  if (sim_.chooser().chance(kSiteBitflip, rates_.read_bitflip, rates_.den)) {
    uint64_t bit = sim_.chooser().choose(kSiteBitflipBit, uint64_t{cfg_.block_size} * 8);
    out[bit / 8] ^= static_cast<uint8_t>(1u << (bit % 8));
    sim_.event(node, "disk_read", {{"dev", id_}, {"blk", blkno}, {"bitflip", bit}}, true);
    return kOk;
  }
  sim_.event(node, "disk_read", {{"dev", id_}, {"blk", blkno}});
  return kOk;
}

Errno BlockDevice::do_write(DiskHandle& h, uint64_t blkno, std::span<const uint8_t> data, bool fua) {
  const int node = h.node_id();
  if (h.cut_ || fenced(node)) return EIO;
  if (blkno >= cfg_.block_count || data.size() != cfg_.block_size) return EINVAL;
  if (sim_.chooser().chance(kSiteWriteEio, rates_.write_eio, rates_.den)) {
    sim_.sched().sleep(latency(cfg_.write_latency_min, cfg_.write_latency_max));
    sim_.event(node, "disk_write", {{"dev", id_}, {"blk", blkno}, {"err", "EIO"}}, true);
    return EIO;
  }
  uint64_t target = blkno;
  if (sim_.chooser().chance(kSiteMisdirect, rates_.write_misdirect, rates_.den)) {
    target = sim_.chooser().choose(kSiteMisdirectTarget, cfg_.block_count);
    sim_.event(node, "disk_fault", {{"dev", id_}, {"blk", blkno}, {"misdirected_to", target}}, true);
    if (misdirect_observer_) misdirect_observer_(blkno, target);
  }
  if (cfg_.thin_capacity_blocks && !is_provisioned(target) && provisioned_ >= cfg_.thin_capacity_blocks) {
    sim_.event(node, "disk_write", {{"dev", id_}, {"blk", blkno}, {"err", "ENOSPC"}});
    return ENOSPC;
  }
  const uint64_t wid = next_write_++;
  Block& b = blocks_[target];
  if (!b.durable && b.pending.empty()) ++provisioned_;
  b.latent_error = false;
  b.pending.push_back(wid);
  pending_.emplace(wid, PendingWrite{wid, node, target, std::vector<uint8_t>(data.begin(), data.end())});
  sim_.event(node, "disk_write", {{"dev", id_}, {"blk", blkno}, {"w", wid}, {"fua", fua}});
  if (write_observer_) write_observer_(blkno);
  const uint64_t epoch = power_epoch_;
  sim_.sched().sleep(latency(cfg_.write_latency_min, cfg_.write_latency_max));
  if (power_epoch_ != epoch) return EIO;  // resolved (maybe dropped) by a power loss
  auto it = pending_.find(wid);
  if (it == pending_.end()) return h.cut_ || fenced(node) ? EIO : kOk;  // resolved by a crash/fence
  if (h.cut_ || fenced(node)) return EIO;
  it->second.completed = true;
  if (fua) make_durable(wid);
  return kOk;
}

Errno BlockDevice::do_flush(DiskHandle& h) {
  const int node = h.node_id();
  if (h.cut_ || fenced(node)) return EIO;
  // A FLUSH covers writes that had completed when it was issued, from every writer.
  std::vector<uint64_t> covered;
  for (const auto& [wid, w] : pending_) {
    if (w.completed) covered.push_back(wid);
  }
  const uint64_t epoch = power_epoch_;
  sim_.sched().sleep(latency(cfg_.flush_latency_min, cfg_.flush_latency_max));
  if (h.cut_ || fenced(node)) return EIO;
  if (power_epoch_ != epoch) return EIO;  // the covered writes may have been dropped
  uint64_t n = 0;
  for (uint64_t wid : covered) {
    if (pending_.count(wid)) {
      make_durable(wid);
      ++n;
    }
  }
  sim_.event(node, "disk_flush", {{"dev", id_}, {"writes", n}});
  return kOk;
}

Errno BlockDevice::do_discard(DiskHandle& h, uint64_t blkno, uint64_t count) {
  const int node = h.node_id();
  if (h.cut_ || fenced(node)) return EIO;
  if (blkno >= cfg_.block_count || count > cfg_.block_count - blkno) return EINVAL;
  sim_.sched().sleep(latency(cfg_.write_latency_min, cfg_.write_latency_max));
  if (h.cut_ || fenced(node)) return EIO;
  // Discard is modelled as immediate and durable: the blocks read as zeros and are unprovisioned.
  auto it = blocks_.lower_bound(blkno);
  while (it != blocks_.end() && it->first < blkno + count) {
    for (uint64_t wid : it->second.pending) pending_.erase(wid);
    if (it->second.durable || !it->second.pending.empty()) --provisioned_;
    it = blocks_.erase(it);
  }
  sim_.event(node, "disk_discard", {{"dev", id_}, {"blk", blkno}, {"count", count}});
  return kOk;
}

void BlockDevice::make_durable(uint64_t wid) {
  auto it = pending_.find(wid);
  if (it == pending_.end()) return;
  Block& b = blocks_[it->second.blkno];
  // Earlier pending writes to the same block are superseded: they can no longer land after this.
  while (!b.pending.empty() && b.pending.front() != wid) {
    pending_.erase(b.pending.front());
    b.pending.erase(b.pending.begin());
  }
  if (!b.durable) b.durable = std::make_unique<uint8_t[]>(cfg_.block_size);
  std::memcpy(b.durable.get(), it->second.data.data(), cfg_.block_size);
  b.pending.erase(b.pending.begin());
  pending_.erase(it);
}

void BlockDevice::drop_pending(uint64_t wid) {
  auto it = pending_.find(wid);
  if (it == pending_.end()) return;
  auto bit = blocks_.find(it->second.blkno);
  Block& b = bit->second;
  for (size_t i = 0; i < b.pending.size(); ++i) {
    if (b.pending[i] == wid) {
      b.pending.erase(b.pending.begin() + static_cast<std::ptrdiff_t>(i));
      break;
    }
  }
  pending_.erase(it);
  if (!b.durable && b.pending.empty()) {
    --provisioned_;
    blocks_.erase(bit);
  }
}

void BlockDevice::resolve_pending(int node, const char* why) {
  std::vector<uint64_t> ids;
  for (const auto& [wid, w] : pending_) {
    if (node < 0 || w.node == node) ids.push_back(wid);
  }
  const uint64_t outcomes = cfg_.torn_writes ? 3 : 2;
  const uint32_t sectors = cfg_.block_size / cfg_.sector_size;
  for (uint64_t wid : ids) {
    auto it = pending_.find(wid);
    if (it == pending_.end()) continue;
    PendingWrite& w = it->second;
    const int writer = w.node;
    const uint64_t blkno = w.blkno;
    // 0 = applied (simplest), 1 = dropped, 2 = torn.
    const uint64_t outcome = sim_.chooser().choose(kSiteCrashOutcome, outcomes);
    if (outcome == 0) {
      make_durable(wid);
      sim_.event(writer, "disk_crash_write", {{"dev", id_}, {"w", wid}, {"blk", blkno}, {"outcome", "applied"}, {"why", why}}, true);
    } else if (outcome == 1) {
      drop_pending(wid);
      sim_.event(writer, "disk_crash_write", {{"dev", id_}, {"w", wid}, {"blk", blkno}, {"outcome", "dropped"}, {"why", why}}, true);
    } else {
      Block& b = blocks_[blkno];
      if (!b.durable) b.durable = std::make_unique<uint8_t[]>(cfg_.block_size);
      uint64_t mask = 0;
      for (uint32_t s = 0; s < sectors; ++s) {
        if (sim_.chooser().choose(kSiteTornSector, 2) == 0) {
          std::memcpy(b.durable.get() + s * cfg_.sector_size, w.data.data() + s * cfg_.sector_size, cfg_.sector_size);
          if (s < 64) mask |= uint64_t{1} << s;
        }
      }
      // Remove without the supersede rule: torn data is only partly this write.
      for (size_t i = 0; i < b.pending.size(); ++i) {
        if (b.pending[i] == wid) {
          b.pending.erase(b.pending.begin() + static_cast<std::ptrdiff_t>(i));
          break;
        }
      }
      pending_.erase(wid);
      sim_.event(writer, "disk_crash_write",
                 {{"dev", id_}, {"w", wid}, {"blk", blkno}, {"outcome", "torn"}, {"sectors_applied", hex64(mask)}, {"why", why}}, true);
    }
  }
}

void BlockDevice::power_loss() {
  ++power_epoch_;
  sim_.event(-1, "power_loss", {{"dev", id_}, {"pending", pending_.size()}}, true);
  resolve_pending(-1, "power_loss");
}

void BlockDevice::fence(int node_id) {
  fenced_[node_id] = true;
  sim_.event(node_id, "fence", {{"dev", id_}}, true);
  // Writes still in flight from the fenced node never reach the device.
  std::vector<uint64_t> ids;
  for (const auto& [wid, w] : pending_) {
    if (w.node == node_id && !w.completed) ids.push_back(wid);
  }
  for (uint64_t wid : ids) drop_pending(wid);
}

void BlockDevice::unfence(int node_id) {
  fenced_[node_id] = false;
  sim_.event(node_id, "unfence", {{"dev", id_}}, true);
}

void BlockDevice::add_latent_error(uint64_t blkno) {
  if (blkno >= cfg_.block_count) return;
  blocks_[blkno].latent_error = true;
  sim_.event(-1, "disk_fault", {{"dev", id_}, {"blk", blkno}, {"latent_error", true}}, true);
}

void BlockDevice::flip_bit(uint64_t blkno, uint32_t bit) {
  if (blkno >= cfg_.block_count || bit >= cfg_.block_size * 8) return;
  Block& b = blocks_[blkno];
  if (!b.durable) {
    if (b.pending.empty()) ++provisioned_;
    b.durable = std::make_unique<uint8_t[]>(cfg_.block_size);
  }
  b.durable[bit / 8] ^= static_cast<uint8_t>(1u << (bit % 8));
  for (uint64_t wid : b.pending) pending_.at(wid).data[bit / 8] ^= static_cast<uint8_t>(1u << (bit % 8));
  sim_.event(-1, "disk_fault", {{"dev", id_}, {"blk", blkno}, {"bitrot", bit}}, true);
}

void BlockDevice::peek(uint64_t blkno, std::span<uint8_t> out) const {
  auto it = blocks_.find(blkno);
  if (it != blocks_.end() && !it->second.pending.empty()) {
    const auto& w = pending_.at(it->second.pending.back());
    std::memcpy(out.data(), w.data.data(), cfg_.block_size);
    return;
  }
  peek_durable(blkno, out);
}

void BlockDevice::peek_durable(uint64_t blkno, std::span<uint8_t> out) const {
  auto it = blocks_.find(blkno);
  if (it == blocks_.end() || !it->second.durable) {
    std::memset(out.data(), 0, out.size());
    return;
  }
  std::memcpy(out.data(), it->second.durable.get(), cfg_.block_size);
}

// Image: "SIMFSIMG", u32 version, u32 block_size, u64 block_count, u64 n, then n records of
// (u64 blkno, block_size bytes) in ascending blkno, then u64 FNV-1a of all preceding bytes.
// Little-endian throughout.
void BlockDevice::save_image(std::ostream& out) const {
  std::string s(kImageMagic, 8);
  put_u32(s, kImageVersion);
  put_u32(s, cfg_.block_size);
  put_u64(s, cfg_.block_count);
  uint64_t n = 0;
  for (const auto& [blkno, b] : blocks_) n += b.durable ? 1 : 0;
  put_u64(s, n);
  for (const auto& [blkno, b] : blocks_) {
    if (!b.durable) continue;
    put_u64(s, blkno);
    s.append(reinterpret_cast<const char*>(b.durable.get()), cfg_.block_size);
  }
  put_u64(s, fnv1a64(s));
  out.write(s.data(), static_cast<std::streamsize>(s.size()));
}

std::string parse_device_image(std::string_view s, DeviceImage* out) {
  const size_t header = 8 + 4 + 4 + 8 + 8;
  if (s.size() < header + 8) return "image truncated: " + std::to_string(s.size()) + " bytes is shorter than a header";
  if (std::memcmp(s.data(), kImageMagic, 8) != 0) return "not a simfs device image (bad magic)";
  const auto* p = reinterpret_cast<const uint8_t*>(s.data());
  const uint32_t version = static_cast<uint32_t>(get_le(p + 8, 4));
  const uint32_t bs = static_cast<uint32_t>(get_le(p + 12, 4));
  const uint64_t count = get_le(p + 16, 8);
  const uint64_t n = get_le(p + 24, 8);
  if (version != kImageVersion) return "unsupported image version " + std::to_string(version);
  if (bs == 0) return "image block size is 0";
  if (n > count) return "image claims more blocks than the device has";
  const uint64_t rec = 8 + uint64_t{bs};
  if ((s.size() - header - 8) / rec < n || s.size() != header + n * rec + 8)
    return "image length " + std::to_string(s.size()) + " does not match its " + std::to_string(n) + " blocks (truncated or trailing data)";
  const uint64_t sum = get_le(p + s.size() - 8, 8);
  if (sum != fnv1a64(std::string_view(s.data(), s.size() - 8))) return "image checksum mismatch (corrupt image)";
  DeviceImage img;
  img.block_size = bs;
  img.block_count = count;
  uint64_t prev = 0;
  for (uint64_t i = 0; i < n; ++i) {
    const uint8_t* r = p + header + i * rec;
    const uint64_t blkno = get_le(r, 8);
    if (blkno >= count) return "image block number " + std::to_string(blkno) + " out of range";
    if (i > 0 && blkno <= prev) return "image blocks out of order";
    prev = blkno;
    img.blocks.emplace_hint(img.blocks.end(), blkno, std::vector<uint8_t>(r + 8, r + 8 + bs));
  }
  *out = std::move(img);
  return "";
}

std::string BlockDevice::load_image(std::istream& in) {
  std::string s((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  DeviceImage img;
  if (std::string err = parse_device_image(s, &img); !err.empty()) return err;
  if (img.block_size != cfg_.block_size)
    return "image block size " + std::to_string(img.block_size) + " differs from device's " + std::to_string(cfg_.block_size);
  if (img.block_count != cfg_.block_count)
    return "image block count " + std::to_string(img.block_count) + " differs from device's " + std::to_string(cfg_.block_count);
  std::map<uint64_t, Block> blocks;
  for (const auto& [blkno, bytes] : img.blocks) {
    Block b;
    b.durable = std::make_unique<uint8_t[]>(img.block_size);
    std::memcpy(b.durable.get(), bytes.data(), img.block_size);
    blocks.emplace_hint(blocks.end(), blkno, std::move(b));
  }
  provisioned_ = img.blocks.size();
  blocks_ = std::move(blocks);
  pending_.clear();
  return "";
}

}  // namespace sim
