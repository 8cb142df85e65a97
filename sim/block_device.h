// BlockDevice: a simulated disk shared by several nodes, with a volatile write cache.
//
// Semantics (what code under test may rely on):
// - Reads see the newest write to a block, durable or not.
// - A write is durable once a FLUSH issued after it completed has completed, or at once when
//   written with FUA. Until then it is "pending".
// - When a writer crashes, or the device loses power, each of the affected pending writes is
//   applied, dropped, or (if torn writes are enabled) torn: each sector independently old or
//   new. Pending writes are resolved in issue order, so a later write still wins over an
//   earlier one when both are applied.
// - A fenced node's I/O fails with EIO and its in-flight writes are discarded: nothing it
//   writes after the fence reaches the device.
// Injectable faults: EIO on read or write (rates), latent sector errors (a block that fails
// reads until rewritten), bit rot, misdirected writes, ENOSPC on a thin device, discard.
//
// I/O calls park the calling task for a latency drawn from the disk stream.
#pragma once

#include <cstdint>
#include <functional>
#include <istream>
#include <map>
#include <memory>
#include <ostream>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "sim/errors.h"
#include "sim/node.h"
#include "sim/time.h"

namespace sim {

class Simulation;
class DiskHandle;

struct BlockDeviceConfig {
  uint32_t block_size = 4096;
  uint32_t sector_size = 512;
  uint64_t block_count = 1 << 16;
  Duration read_latency_min = 20 * kMicrosecond;
  Duration read_latency_max = 200 * kMicrosecond;
  Duration write_latency_min = 20 * kMicrosecond;
  Duration write_latency_max = 300 * kMicrosecond;
  Duration flush_latency_min = 100 * kMicrosecond;
  Duration flush_latency_max = 2 * kMillisecond;
  bool torn_writes = true;
  // 0: fully provisioned. Otherwise at most this many blocks may hold data (thin device);
  // a write that needs a new block beyond it fails with ENOSPC. discard() gives blocks back.
  uint64_t thin_capacity_blocks = 0;
};

// Probabilities (num / den) of faults drawn on every I/O. All zero by default.
struct DiskFaultRates {
  uint32_t den = 1000000;
  uint32_t read_eio = 0;
  uint32_t write_eio = 0;
  uint32_t read_bitflip = 0;     // the returned data has one bit flipped (transient)
  uint32_t write_misdirect = 0;  // the write lands on another block
};

class BlockDevice {
 public:
  BlockDevice(Simulation& sim, int id, std::string name, BlockDeviceConfig cfg);
  ~BlockDevice();
  BlockDevice(const BlockDevice&) = delete;
  BlockDevice& operator=(const BlockDevice&) = delete;

  int id() const { return id_; }
  const std::string& name() const { return name_; }
  const BlockDeviceConfig& config() const { return cfg_; }

  // The node's I/O handle; cut when the node crashes (resolving its pending writes).
  std::unique_ptr<DiskHandle> attach(Node& node);

  // ---- faults ----
  void power_loss();  // resolves every writer's pending writes
  void fence(int node_id);
  void unfence(int node_id);
  bool fenced(int node_id) const;
  void set_fault_rates(const DiskFaultRates& r) { rates_ = r; }
  // Tells an oracle where each misdirected write went (intended block, block actually
  // written), so it can tell injected damage from bugs.
  // Called as each write is queued (its outcome still open): a test seam for crash-point sweeps,
  // which crash the writer right there so every write in turn is the one a crash interrupts.
  void set_write_observer(std::function<void(uint64_t blkno)> f) { write_observer_ = std::move(f); }
  void set_misdirect_observer(std::function<void(uint64_t intended, uint64_t target)> f) { misdirect_observer_ = std::move(f); }
  void add_latent_error(uint64_t blkno);
  void flip_bit(uint64_t blkno, uint32_t bit);  // bit rot, in both durable and visible data

  // ---- inspection, for oracles and tests (no latency, no faults) ----
  // What a read would return now (durable data overlaid with pending writes).
  void peek(uint64_t blkno, std::span<uint8_t> out) const;
  // What survives if every pending write were dropped.
  void peek_durable(uint64_t blkno, std::span<uint8_t> out) const;
  size_t pending_writes() const { return pending_.size(); }
  uint64_t provisioned_blocks() const { return provisioned_; }

  // Image of the durable contents (the format is in docs/trace-format.md's sibling, and
  // checked on load: magic, version, geometry, order, length and checksum).
  void save_image(std::ostream& out) const;
  // Replaces the durable contents. Returns "" on success, or what is wrong with the image.
  std::string load_image(std::istream& in);

 private:
  friend class DiskHandle;
  struct PendingWrite {
    uint64_t id;
    int node;
    uint64_t blkno;
    std::vector<uint8_t> data;
    bool completed = false;
  };
  struct Block {
    std::unique_ptr<uint8_t[]> durable;      // null: all zeros
    std::vector<uint64_t> pending;           // ids into pending_, issue order
    bool latent_error = false;
  };

  Errno do_read(DiskHandle& h, uint64_t blkno, std::span<uint8_t> out);
  Errno do_write(DiskHandle& h, uint64_t blkno, std::span<const uint8_t> data, bool fua);
  Errno do_flush(DiskHandle& h);
  Errno do_discard(DiskHandle& h, uint64_t blkno, uint64_t count);
  void detach(DiskHandle& h);
  // Resolves pending writes of `node` (or all when node < 0) as a crash would.
  void resolve_pending(int node, const char* why);
  void make_durable(uint64_t write_id);
  void drop_pending(uint64_t write_id);
  bool is_provisioned(uint64_t blkno) const;
  Duration latency(Duration lo, Duration hi);

  Simulation& sim_;
  int id_;
  std::string name_;
  BlockDeviceConfig cfg_;
  DiskFaultRates rates_;
  std::map<uint64_t, Block> blocks_;            // sparse; ordered for deterministic walks
  std::map<uint64_t, PendingWrite> pending_;    // by write id = issue order
  std::map<int, bool> fenced_;
  uint64_t next_write_ = 1;
  uint64_t provisioned_ = 0;
  // Counts power losses: a write or flush in flight across one fails with EIO, since what it
  // was to make durable may have been dropped.
  uint64_t power_epoch_ = 0;
  std::vector<DiskHandle*> handles_;
  std::function<void(uint64_t, uint64_t)> misdirect_observer_;
  std::function<void(uint64_t)> write_observer_;
};

// A device image (what save_image writes), decoded: the geometry and every block it holds;
// blocks not in `blocks` read as zeros. For tools that inspect images without a simulation.
struct DeviceImage {
  uint32_t block_size = 0;
  uint64_t block_count = 0;
  std::map<uint64_t, std::vector<uint8_t>> blocks;  // each block_size bytes
};
// Decodes and checks an image (magic, version, length, checksum, block order and range).
// Returns "" on success, or what is wrong with it; *out is untouched on error.
std::string parse_device_image(std::string_view bytes, DeviceImage* out);

// One node's attachment to a device. Calls park the calling task for the I/O latency.
class DiskHandle final : public NodeResource {
 public:
  DiskHandle(BlockDevice& dev, Node& node);
  ~DiskHandle() override;
  Errno read(uint64_t blkno, std::span<uint8_t> out) { return dev_->do_read(*this, blkno, out); }
  // Copies `data` before it parks: the caller may change its buffer while the write is in flight.
  Errno write(uint64_t blkno, std::span<const uint8_t> data, bool fua = false) {
    return dev_->do_write(*this, blkno, data, fua);
  }
  Errno flush() { return dev_->do_flush(*this); }
  Errno discard(uint64_t blkno, uint64_t count) { return dev_->do_discard(*this, blkno, count); }
  uint32_t block_size() const { return dev_->cfg_.block_size; }
  uint64_t block_count() const { return dev_->cfg_.block_count; }
  bool is_cut() const { return cut_; }
  int node_id() const { return node_->id(); }
  void cut() override;

 private:
  friend class BlockDevice;
  BlockDevice* dev_;
  Node* node_;
  uint64_t resource_id_;
  bool cut_ = false;
};

}  // namespace sim
