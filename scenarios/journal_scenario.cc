// Scenario "journal": a mirrored, checksummed circular log on one node and a thin-provisioned
// disk, under crashes, power loss, EIO bursts, latent sector errors, bit rot and misdirected
// writes. The kernel's regression test for the block device model: torn writes at sector
// granularity, FLUSH/FUA durability, discard on a thin device, and fault injection.
//
// Log: record lsn L lives in two copies, at blocks kCopyA + L % slots and kCopyA + slots + L % slots
// (slots: a parameter, 48 by default).
// A record is self-describing (magic, lsn, intended block, payload, checksum). Records are
// acknowledged only after a FLUSH that follows their writes. The head (oldest kept lsn) lives
// in two alternating superblocks written with FUA; blocks of trimmed records are discarded.
// Recovery picks the newest valid superblock, then scans lsns from the head, taking the first
// valid copy of each, until neither copy is valid.
//
// Fault atlas: injected damage (latent errors, bit rot, misdirected writes) is recorded per
// block. Losing an acknowledged record is excused only when both of its copies were damaged.
//
// Planted bugs: ack_before_flush (acknowledge before the FLUSH completes), no_checksum
// (recovery trusts a record whose header looks right without verifying its checksum), and
// no_discard (trimmed blocks are not discarded, so the thin device runs out of space).
#include <algorithm>
#include <map>
#include <memory>
#include <optional>
#include <vector>

#include "scenarios/nemesis.h"
#include "scenarios/scenario.h"
#include "sim/block_device.h"
#include "sim/bytes.h"

namespace scenarios {
namespace {

using sim::kMillisecond;
using sim::kSecond;
using sim::Site;
using sim::Stream;

constexpr uint32_t kBlockSize = 4096;
constexpr uint64_t kCopyA = 2;  // blocks 0 and 1 are the superblocks
constexpr uint32_t kRecordMagic = 0x4a524e31;  // "JRN1"
constexpr uint32_t kSuperMagic = 0x4a534231;   // "JSB1"
// After the workload, time for the last records and the final crash and recovery.
constexpr sim::Duration kTimeLimitSlack = 3 * kSecond;
constexpr uint64_t kMinRecordsAfterHeal = 20;

constexpr Site kSiteBatch{"journal.batch", Stream::kWorkload};
constexpr Site kSiteThink{"journal.think", Stream::kWorkload};
constexpr Site kSiteDamageGap{"journal.damage.gap", Stream::kFaults};
constexpr Site kSiteDamageKind{"journal.damage.kind", Stream::kFaults};
constexpr Site kSiteDamageLsn{"journal.damage.lsn", Stream::kFaults};
constexpr Site kSiteDamageCopy{"journal.damage.copy", Stream::kFaults};
constexpr Site kSiteDamageBit{"journal.damage.bit", Stream::kFaults};


// The payload of record lsn is a pure function of lsn, so any recovered record can be judged.
std::vector<uint8_t> payload_of(uint64_t lsn) {
  const size_t len = 100 + (lsn * 733) % 3500;  // spans several 512-byte sectors
  std::vector<uint8_t> p(len);
  uint64_t st = lsn * 0x9E3779B97F4A7C15ull + 17;
  for (size_t i = 0; i < len; i += 8) {
    uint64_t v = sim::splitmix64_next(st);
    for (size_t b = 0; b < 8 && i + b < len; ++b) p[i + b] = static_cast<uint8_t>(v >> (8 * b));
  }
  return p;
}

std::vector<uint8_t> encode_record(uint64_t lsn, uint64_t blkno) {
  std::vector<uint8_t> b;
  sim::ByteWriter w(b);
  w.u32(kRecordMagic);
  w.u64(lsn);
  w.u64(blkno);
  const std::vector<uint8_t> p = payload_of(lsn);
  w.u32(static_cast<uint32_t>(p.size()));
  b.insert(b.end(), p.begin(), p.end());
  w.u64(sim::fnv1a64(std::string_view(reinterpret_cast<const char*>(b.data()), b.size())));
  b.resize(kBlockSize, 0);
  return b;
}

struct DecodedRecord {
  uint64_t lsn;
  std::vector<uint8_t> payload;
};

std::optional<DecodedRecord> decode_record(const std::vector<uint8_t>& b, uint64_t expect_lsn, uint64_t blkno,
                                           bool verify_checksum) {
  sim::ByteReader r(b);
  if (r.u32() != kRecordMagic) return std::nullopt;
  DecodedRecord d;
  d.lsn = r.u64();
  const uint64_t where = r.u64();
  const uint32_t len = r.u32();
  if (!r.ok() || d.lsn != expect_lsn || where != blkno || len > kBlockSize - 40) return std::nullopt;
  const size_t hdr = r.position();
  d.payload.assign(b.begin() + static_cast<std::ptrdiff_t>(hdr), b.begin() + static_cast<std::ptrdiff_t>(hdr + len));
  if (verify_checksum) {
    sim::ByteReader tail(std::span<const uint8_t>(b).subspan(hdr + len, 8));
    if (tail.u64() != sim::fnv1a64(std::string_view(reinterpret_cast<const char*>(b.data()), hdr + len))) return std::nullopt;
  }
  return d;
}

std::vector<uint8_t> encode_super(uint64_t seq, uint64_t head) {
  std::vector<uint8_t> b;
  sim::ByteWriter w(b);
  w.u32(kSuperMagic);
  w.u64(seq);
  w.u64(head);
  w.u64(sim::fnv1a64(std::string_view(reinterpret_cast<const char*>(b.data()), b.size())));
  b.resize(kBlockSize, 0);
  return b;
}

class JournalScenario final : public Scenario {
 public:
  explicit JournalScenario(const ScenarioOptions& o)
      : bug_(o.bug),
        params_(o.params),
        slots_(static_cast<uint64_t>(o.params.integer("slots"))),
        fault_window_end_(o.params.duration("fault_window_end")),
        workload_end_(o.params.duration("workload_end")) {}
  void setup(sim::Simulation& sim) override;
  sim::Time time_limit() const override { return workload_end_ + kTimeLimitSlack; }
  void finish(sim::Simulation& sim) override;
  std::vector<const sim::BlockDevice*> devices() const override { return {disk_.get()}; }

 private:
  void boot(sim::Node& node);
  bool recover(sim::DiskHandle& disk);
  void writer(sim::DiskHandle& disk);
  void damager();
  // Retries transient EIO; false if the block stays unreadable (latent error).
  bool read_block(sim::DiskHandle& disk, uint64_t blk, std::vector<uint8_t>& buf);
  sim::Errno write_block(sim::DiskHandle& disk, uint64_t blk, const std::vector<uint8_t>& data, bool fua);
  bool trim(sim::DiskHandle& disk, uint64_t new_head);
  void note_written(uint64_t blk) { damaged_.erase(blk); }
  uint64_t block_of(uint64_t lsn, int copy) const { return kCopyA + (copy == 0 ? 0 : slots_) + lsn % slots_; }
  bool damaged(uint64_t blk) const { return damaged_.count(blk) != 0; }

  std::string bug_;
  Params params_;
  const uint64_t slots_;  // record slots per copy
  const sim::Time fault_window_end_;
  const sim::Time workload_end_;
  sim::Simulation* sim_ = nullptr;
  std::unique_ptr<sim::BlockDevice> disk_;
  std::unique_ptr<Nemesis> nemesis_;
  std::unique_ptr<sim::DiskHandle> handle_;  // the current incarnation's attachment

  // The log's in-memory state, rebuilt by recover() at every boot.
  uint64_t super_seq_ = 0;
  uint64_t head_ = 1;      // oldest lsn kept
  uint64_t next_lsn_ = 1;  // next lsn to write

  // Oracle state: survives crashes (it is the observer's memory, not the node's).
  uint64_t acked_ = 0;                 // highest acknowledged lsn
  uint64_t durable_head_ = 1;          // head that both superblocks were written with
  std::map<uint64_t, bool> damaged_;   // blocks with injected damage since their last write
  uint64_t acked_after_heal_ = 0;
  uint64_t recoveries_ = 0;
};

bool JournalScenario::read_block(sim::DiskHandle& disk, uint64_t blk, std::vector<uint8_t>& buf) {
  for (int attempt = 0; attempt < 4; ++attempt) {
    if (disk.read(blk, buf) == sim::kOk) return true;
    sim_->sched().sleep(1 * kMillisecond);
  }
  return false;
}

sim::Errno JournalScenario::write_block(sim::DiskHandle& disk, uint64_t blk, const std::vector<uint8_t>& data, bool fua) {
  sim::Errno e = sim::kOk;
  for (int attempt = 0; attempt < 8; ++attempt) {
    // A new write replaces whatever damage the block had; damage done by this very write
    // (a misdirect) is reported by the observer while it is in flight, so clear first.
    note_written(blk);
    e = disk.write(blk, data, fua);
    if (e == sim::kOk) return e;
    if (e != EIO || disk.is_cut()) return e;
    sim_->sched().sleep(1 * kMillisecond);
  }
  return e;
}

bool JournalScenario::recover(sim::DiskHandle& disk) {
  std::vector<uint8_t> buf(kBlockSize);
  uint64_t best_seq = 0, head = 1;
  for (uint64_t blk = 0; blk < 2; ++blk) {
    if (!read_block(disk, blk, buf)) continue;
    sim::ByteReader r(buf);
    if (r.u32() != kSuperMagic) continue;
    const uint64_t seq = r.u64(), h = r.u64();
    const size_t len = r.position();
    if (r.u64() != sim::fnv1a64(std::string_view(reinterpret_cast<const char*>(buf.data()), len))) continue;
    if (seq > best_seq) {
      best_seq = seq;
      head = h;
    }
  }
  super_seq_ = best_seq;
  head_ = head;
  const bool verify = bug_ != "no_checksum";
  uint64_t lsn = head;
  std::vector<uint64_t> repairs;  // (lsn, copy) pairs packed as lsn * 2 + copy
  for (;; ++lsn) {
    std::optional<DecodedRecord> rec;
    bool copy_ok[2] = {false, false};
    for (int copy = 0; copy < 2; ++copy) {
      const uint64_t blk = block_of(lsn, copy);
      if (!read_block(disk, blk, buf)) continue;
      auto r = decode_record(buf, lsn, blk, verify);
      copy_ok[copy] = r.has_value();
      if (r && !rec) rec = std::move(r);
    }
    if (!rec) break;
    // Scrub: a record recovered from one copy gets its mirror rewritten, or the next single
    // fault on the surviving copy would lose it.
    for (int copy = 0; copy < 2; ++copy) {
      if (!copy_ok[copy]) repairs.push_back(lsn * 2 + static_cast<uint64_t>(copy));
    }
    if (rec->payload != payload_of(lsn)) {
      sim_->violation("journal.integrity", "recovery accepted record " + std::to_string(lsn) +
                                               " whose payload is not what was written (torn or corrupt data trusted)");
      return false;
    }
  }
  const uint64_t tail = lsn - 1;
  for (uint64_t r : repairs) {
    const uint64_t l = r / 2, blk = block_of(l, static_cast<int>(r % 2));
    if (write_block(disk, blk, encode_record(l, blk), false) != sim::kOk) return false;
  }
  if (!repairs.empty() && disk.flush() != sim::kOk) return false;
  if (!repairs.empty()) sim_->event(0, "journal_scrubbed", {{"copies", repairs.size()}});
  ++recoveries_;
  sim_->event(0, "journal_recovered", {{"head", head_}, {"tail", tail}, {"acked", acked_}});
  if (tail < acked_) {
    // Lost acknowledged records: excused only if both copies of the first lost one were
    // damaged, or both superblocks were (a stale head points at discarded records).
    const bool records_damaged = damaged(block_of(tail + 1, 0)) && damaged(block_of(tail + 1, 1));
    const bool supers_damaged = head_ < durable_head_ && damaged(0) && damaged(1);
    if (!records_damaged && !supers_damaged) {
      sim_->violation("journal.durability", "acknowledged records " + std::to_string(tail + 1) + ".." +
                                                std::to_string(acked_) + " were lost in a crash; recovery stops at " +
                                                std::to_string(tail));
      return false;
    }
    sim_->event(0, "log", {{"msg", "acknowledged records lost to double damage (excused by the fault atlas)"}, {"lsn", tail + 1}});
    acked_ = tail;
  }
  durable_head_ = head_;
  next_lsn_ = tail + 1;
  return true;
}

bool JournalScenario::trim(sim::DiskHandle& disk, uint64_t new_head) {
  if (new_head <= head_) return true;
  // Both superblock copies first (FUA), then discard: a crash in between leaves discarded
  // blocks that are already outside the log, and one lost superblock write (torn, misdirected)
  // is covered by the other copy.
  const uint64_t seq = super_seq_ + 1;
  for (uint64_t blk = 0; blk < 2; ++blk) {
    if (write_block(disk, blk, encode_super(seq, new_head), /*fua=*/true) != sim::kOk) return false;
  }
  super_seq_ = seq;
  durable_head_ = new_head;
  const uint64_t old_head = head_;
  head_ = new_head;
  // BUG (planted, no_discard): trimmed blocks are never discarded, so the thin device fills.
  if (bug_ == "no_discard") return true;
  for (uint64_t l = old_head; l < new_head; ++l) {
    for (int copy = 0; copy < 2; ++copy) {
      if (disk.discard(block_of(l, copy), 1) != sim::kOk) return false;
      note_written(block_of(l, copy));
    }
  }
  return true;
}

void JournalScenario::writer(sim::DiskHandle& disk) {
  sim::Simulation& s = *sim_;
  while (s.now() < workload_end_ || (nemesis_->healed() && acked_after_heal_ < kMinRecordsAfterHeal)) {
    s.sched().sleep(s.chooser().range(kSiteThink, 100 * sim::kMicrosecond, 5 * kMillisecond));
    // Keep the log within its slots: trim durable records, oldest first.
    if (next_lsn_ + 4 - head_ > slots_ / 2) {
      if (!trim(disk, std::min(acked_ + 1, next_lsn_ + 4 - slots_ / 2))) continue;
      if (next_lsn_ + 4 - head_ > slots_) continue;  // nothing durable to trim yet
    }
    const uint64_t n = 1 + s.chooser().choose(kSiteBatch, 4);
    const uint64_t first = next_lsn_;
    bool ok = true;
    for (uint64_t l = first; l < first + n && ok; ++l) {
      for (int copy = 0; copy < 2 && ok; ++copy) {
        sim::Errno e = write_block(disk, block_of(l, copy), encode_record(l, block_of(l, copy)), false);
        if (e == ENOSPC) {
          s.event(0, "log", {{"msg", "thin device full"}, {"lsn", l}});
          ok = false;
        } else if (e != sim::kOk) {
          ok = false;
        }
      }
      if (ok) next_lsn_ = l + 1;
    }
    if (next_lsn_ == first) continue;
    const uint64_t last = next_lsn_ - 1;
    if (bug_ == "ack_before_flush") {
      // BUG (planted): acknowledged before the FLUSH makes the writes durable.
      acked_ = std::max(acked_, last);
      s.event(0, "journal_ack", {{"lsn", last}});
      if (disk.flush() != sim::kOk) continue;
    } else {
      if (disk.flush() != sim::kOk) continue;
      acked_ = std::max(acked_, last);
      s.event(0, "journal_ack", {{"lsn", last}});
    }
    if (nemesis_->healed()) acked_after_heal_ += last + 1 - first;
  }
}

void JournalScenario::boot(sim::Node& node) {
  handle_ = disk_->attach(node);
  if (!recover(*handle_)) return;
  writer(*handle_);
}

// Injects damage into one copy of a durable record at a time, never both (the atlas).
void JournalScenario::damager() {
  sim::Simulation& s = *sim_;
  while (s.now() < fault_window_end_) {
    s.sched().sleep(s.chooser().range(kSiteDamageGap, 20 * kMillisecond, 200 * kMillisecond));
    if (s.now() >= fault_window_end_ || acked_ < head_) continue;
    const uint64_t lsn = static_cast<uint64_t>(s.chooser().range(kSiteDamageLsn, static_cast<int64_t>(head_), static_cast<int64_t>(acked_)));
    const int copy = static_cast<int>(s.chooser().choose(kSiteDamageCopy, 2));
    const uint64_t blk = block_of(lsn, copy);
    if (damaged(block_of(lsn, 1 - copy))) continue;
    switch (s.chooser().choose(kSiteDamageKind, 3)) {
      case 0:
        disk_->add_latent_error(blk);
        damaged_[blk] = true;
        break;
      case 1:
        disk_->flip_bit(blk, static_cast<uint32_t>(s.chooser().choose(kSiteDamageBit, kBlockSize * 8)));
        damaged_[blk] = true;
        break;
      case 2: {
        // A burst of misdirected writes: the observer marks what they hit.
        sim::DiskFaultRates r;
        r.write_misdirect = 50000;  // 5% of writes, for 50 ms
        disk_->set_fault_rates(r);
        s.sched().sleep(50 * kMillisecond);
        disk_->set_fault_rates({});
        break;
      }
    }
  }
}

void JournalScenario::setup(sim::Simulation& s) {
  sim_ = &s;
  sim::BlockDeviceConfig dc;
  dc.block_size = kBlockSize;
  dc.block_count = kCopyA + 2 * slots_;
  // Thin device: without discarding trimmed records the log runs out of space (the log keeps
  // about slots/2 records, 2 copies each).
  dc.thin_capacity_blocks = dc.block_count - slots_ / 2;
  disk_ = std::make_unique<sim::BlockDevice>(s, 0, "journal-disk", dc);
  disk_->set_misdirect_observer([this](uint64_t intended, uint64_t target) {
    damaged_[intended] = true;  // stale: the new data never arrived
    damaged_[target] = true;    // clobbered
  });
  sim::Node& n = s.add_node("journal");
  n.set_boot([this](sim::Node& node) { boot(node); });
  n.start();
  NemesisConfig nc;
  apply_nemesis_params(params_, &nc);
  nc.nodes = {0};
  nemesis_ = std::make_unique<Nemesis>(s, nullptr, std::vector<sim::BlockDevice*>{disk_.get()}, nc);
  nemesis_->start();
  if (params_.flag("damage")) s.spawn("damager", [this] { damager(); });
}

void JournalScenario::finish(sim::Simulation& s) {
  if (acked_after_heal_ < kMinRecordsAfterHeal) {
    s.violation("journal.liveness", "only " + std::to_string(acked_after_heal_) + " records were acknowledged after the heal (want " +
                                        std::to_string(kMinRecordsAfterHeal) + ")");
    return;
  }
  // Final check: a crash now must still recover everything acknowledged.
  s.node(0).crash();
  s.node(0).set_boot([this](sim::Node& node) {
    handle_ = disk_->attach(node);
    recover(*handle_);
  });
  s.node(0).restart();
  s.run(s.now() + 2 * kSecond);
}

std::vector<ParamSpec> journal_params() {
  std::vector<ParamSpec> ps = {
      int_param("slots", 48, 16, 1024,
                "record slots per copy: the device has 2 + 2*slots blocks of 4 KiB, thin-provisioned to slots/2 fewer"),
      bool_param("damage", true, "inject latent sector errors, bit rot and misdirected writes during the fault window"),
      duration_param("workload_end", 3 * kSecond, 0, 60 * kSecond,
                     "the writer stops after this (and after 20 records acknowledged since the heal)"),
  };
  for (ParamSpec& p : nemesis_params(kFaultCrash | kFaultPowerLoss | kFaultDiskErrors | kFaultPause, 50 * kMillisecond,
                                     2 * kSecond)) {
    ps.push_back(std::move(p));
  }
  return ps;
}

}  // namespace

ScenarioInfo journal_scenario_info() {
  return ScenarioInfo{
      "journal",
      "mirrored checksummed circular log on a thin disk, with crashes, power loss, torn writes, EIO, latent errors, "
      "bit rot and misdirected writes",
      {"journal.durability", "journal.integrity", "journal.liveness", "sim.deadlock"},
      {"ack_before_flush", "no_checksum", "no_discard"},
      [](const ScenarioOptions& o) { return std::make_unique<JournalScenario>(o); },
      journal_params(),
      check_fault_window};
}

}  // namespace scenarios
