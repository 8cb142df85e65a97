#include "fs/client/log_merge.h"

#include <algorithm>
#include <set>
#include <vector>

#include "fs/base/assert.h"
#include "fs/btree/btree.h"
#include "fs/forest/forest.h"
#include "sim/task.h"

namespace simfs::fs {

namespace {

// Items read from each input per chunk: bounds one chunk's memory.
constexpr size_t kChunkItems = 512;

// The piece's allocator: its avail blocks only. A block allocated here and freed again was
// never durable and goes straight back; any other freed block is the old subtree's.
struct PieceAlloc {
  BlockCache& cache;
  std::vector<uint64_t> avail;
  std::set<uint64_t> allocated;
  std::vector<uint64_t> freed;

  BtreeAllocator btree(const std::function<uint64_t()>& next_seq) {
    return BtreeAllocator{
        [this] {
          if (avail.empty()) return uint64_t{0};
          const uint64_t b = avail.back();
          avail.pop_back();
          allocated.insert(b);
          return b;
        },
        [this](uint64_t b) {
          if (allocated.erase(b)) {
            cache.forget(b);
            avail.push_back(b);
          } else {
            freed.push_back(b);
          }
        },
        next_seq};
  }
};

proto::LogMergeCompletion failed(uint64_t id, sim::Errno e) {
  proto::LogMergeCompletion c;
  c.id = id;
  c.flags = proto::kLogMergeFailed;
  c.error = static_cast<uint8_t>(proto::to_wire(e == 0 ? EIO : e));
  if (c.error == 0) c.error = static_cast<uint8_t>(proto::WireError::kIo);
  return c;
}

// Reads the inputs' items from `pos` to `end`, at most kChunkItems per input. *more: some input
// has items past *cut, which is then the last key of the chunk.
sim::Errno read_chunk(BlockCache& cache, const proto::LogMergeRequest& rq, const BtreeConfig& cfg, const Key& pos,
                      bool drop_deletions, std::vector<Item>* out, bool* more, Key* cut) {
  out->clear();
  *more = false;
  *cut = rq.end;
  BtreeAllocator none{[] { return uint64_t{0}; }, [](uint64_t) {}, [] { return uint64_t{0}; }};
  for (const BtreeRoot& root : rq.inputs) {
    Btree t(cache, none, root, cfg);
    size_t n = 0;
    sim::Errno e = t.for_each(pos, rq.end, [&](const Item& it) {
      if (!(it.deletion && drop_deletions)) out->push_back(it);  // BUG (planted) when dropped
      if (++n == kChunkItems) {
        // This input goes on past here: keys after it cannot be merged from the others yet.
        if (it.key < *cut) *cut = it.key;
        *more = true;
        return false;
      }
      return true;
    });
    if (e) return e;
  }
  if (*more) {
    const Key c = *cut;
    out->erase(std::remove_if(out->begin(), out->end(), [&](const Item& i) { return c < i.key; }), out->end());
  }
  std::stable_sort(out->begin(), out->end(), [](const Item& a, const Item& b) {
    return a.key != b.key ? a.key < b.key : a.seq > b.seq;
  });
  return 0;
}

}  // namespace

proto::LogMergeCompletion merge_piece(BlockCache& cache, const proto::LogMergeRequest& rq, uint32_t btree_fill,
                                      const std::function<uint64_t()>& next_seq, const BugSet& bugs) {
  const BtreeConfig cfg = forest_btree_config(btree_fill);
  PieceAlloc alloc{cache, rq.avail, {}, {}};
  Btree sub(cache, alloc.btree(next_seq), rq.subtree, cfg);
  // One key may take a path and its splits past the budget, in a tree that may grow by one.
  const size_t margin = 2u * (rq.subtree.height + 2u) + 2u;
  const size_t budget = rq.avail.size() > margin ? rq.avail.size() - margin : 1;
  const bool keep_height = rq.level != 0;

  proto::LogMergeCompletion c;
  c.id = rq.id;
  auto fail = [&](sim::Errno e) {
    for (uint64_t b : alloc.allocated) cache.forget(b);  // never written: nothing may write them
    return failed(rq.id, e);
  };
  Key pos = rq.start;
  std::vector<Item> batch;
  for (;;) {
    bool more = false;
    Key cut;
    if (sim::Errno e = read_chunk(cache, rq, cfg, pos, bugs.has(Bug::kMergeDropsDeletions), &batch, &more, &cut)) {
      return fail(e);
    }
    if (batch.empty() && !more) break;
    if (alloc.allocated.size() >= budget) {
      c.flags = proto::kLogMergePartial;
      c.remaining = batch.empty() ? key_successor(cut) : batch.front().key;
      break;
    }
    if (!batch.empty()) {
      MergeResult r;
      sim::Errno e = sub.merge(batch, MergeOptions{budget - alloc.allocated.size(), keep_height}, &r);
      c.merged += static_cast<uint32_t>(r.changed);
      if (e == ERANGE) {
        c.flags = proto::kLogMergePartial | (r.height_stop ? proto::kLogMergeHeightStop : 0);
        c.remaining = r.next;
        // BUG (planted, merge_resume_skips): resume after what was read, not where it stopped.
        if (bugs.has(Bug::kMergeResumeSkips)) c.remaining = key_successor(batch.back().key);
        break;
      }
      if (e) return fail(e);
    }
    if (!more) break;
    pos = key_successor(cut);
  }
  if (sim::Errno e = cache.write_dirty()) return fail(e);
  c.root = sub.root();
  c.used.assign(alloc.allocated.begin(), alloc.allocated.end());
  c.freed = std::move(alloc.freed);
  return c;
}

LogMergeWorker::LogMergeWorker(NodeEnv env, sim::DiskHandle& meta, uint64_t fsid, ServerLink& link,
                               uint32_t btree_fill, std::function<uint64_t()> next_seq, sim::Duration poll, BugSet bugs)
    : env_(env), cache_(std::make_shared<BlockCache>(meta, fsid, 512)), link_(link), btree_fill_(btree_fill), next_seq_(std::move(next_seq)),
      poll_(poll), bugs_(bugs), alive_(std::make_shared<bool>(true)) {}

LogMergeWorker::~LogMergeWorker() { *alive_ = false; }

void LogMergeWorker::start() {
  std::shared_ptr<bool> alive = alive_;
  env_.spawn("fs.log_merge", [this, alive] {
    if (*alive) loop();
  }, /*daemon=*/true);
}

void LogMergeWorker::stop() { stopping_ = true; }

void LogMergeWorker::wait_idle() {
  std::shared_ptr<bool> alive = alive_;
  while (*alive && busy_) idle_.wait("fs.log_merge_idle");
}

void LogMergeWorker::loop() {
  std::shared_ptr<bool> alive = alive_;
  bool worked = false;
  for (;;) {
    // Straight on after a piece (the batch may have more); a pause when there was none.
    if (!worked) sim::this_task::sleep(poll_);
    worked = false;
    if (!*alive || stopping_) return;
    busy_ = true;
    const uint64_t nonce = ++nonce_;
    net::Reply r = link_.call(proto::Cmd::kGetLogMerge, proto::encode(proto::LogMergeGet{nonce}));
    if (!*alive) return;
    proto::LogMergeRequest rq;
    if (r.error == 0 && proto::decode(r.data, &rq) && !stopping_) {
      std::shared_ptr<BlockCache> cache = cache_;
      const std::function<uint64_t()> next_seq = next_seq_;
      const BugSet bugs = bugs_;
      // Blocks of other mounts' trees may have been reused since they were cached here.
      cache->drop_clean();
      proto::LogMergeCompletion c = merge_piece(*cache, rq, btree_fill_, next_seq, bugs);
      if (!*alive) return;
      if (c.flags & proto::kLogMergeFailed) {
        ++stats_.failed;
      } else {
        ++stats_.pieces;
        stats_.merged += c.merged;
      }
      env_.event("fs_merge_piece", {{"id", rq.id}, {"level", rq.level}, {"merged", c.merged},
                                    {"used", c.used.size()}, {"flags", c.flags}});
      // Answered once the server has spliced it; nothing more is needed from us for it.
      link_.send_request(proto::Cmd::kCommitLogMerge, proto::encode(c), [](net::Reply&&) {});
      worked = true;
    } else if (r.error == net::kMaybeDelivered || r.error == ENOLINK) {
      busy_ = false;
      idle_.notify_all();
      return;  // the link is gone: the mount is stopping
    }
    busy_ = false;
    idle_.notify_all();
  }
}

}  // namespace simfs::fs
