// Server: the one writer of the super block and of the server's trees — the logs tree (every
// mount's log tree records and the merge status), the mounted-clients tree, the core
// allocators and the fs tree (which only the log merge writes). Every mount is a client; one of
// them also runs the server (scoutfs-design §1, §5).
//
// Contract:
// - Requests come decoded, with the rid of the client that sent them, through handle(); the
//   answer goes to `reply` exactly once — or never, when the server stops first (the client
//   then resends it to the next server). The network front end (server_net.h) feeds handle()
//   from connections; tests call it directly.
// - A response is sent only after the change it reports is durable: handlers make their
//   changes under the server mutex, then wait for the commit that contains them. One commit
//   worker writes every dirty block, FLUSHes, then writes the super with FUA, batching the
//   changes of every handler that got there first.
// - GET_ROOTS and GET_LAST_SEQ answer from the last durable super (stable state), never from
//   changes not yet committed. STATFS is an estimate, as statfs is: totals and the inode count
//   from the durable super, free counts and the next inode number from the server's current
//   (possibly uncommitted) allocators.
// - Every handler is idempotent when the same request is executed again by a new server
//   (docs/protocol.md says what each does).
// - A failed commit (device error) stops the server: nothing more is answered, and the
//   on_stopped callback runs (the scenario restarts the node, as an administrator would).
// - Pushes to clients (lock invalidations, SYNC_LOG_TREES, LOCK_RECOVER) go through the
//   ClientLinks the front end installs.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "fs/alloc/bitmap_alloc.h"
#include "fs/alloc/meta_alloc.h"
#include "fs/base/bugs.h"
#include "fs/base/env.h"
#include "fs/block/block_cache.h"
#include "fs/btree/btree.h"
#include "fs/format/format.h"
#include "fs/format/items.h"
#include "fs/lock/lock_server_core.h"
#include "fs/net/connection.h"
#include "fs/proto/messages.h"
#include "fs/proto/wire.h"
#include "sim/block_device.h"
#include "sim/sync.h"

namespace simfs::fs {

struct ServerConfig {
  size_t cache_blocks = 4096;
  // A mount's metadata avail list is refilled to meta_avail_target when it is below
  // meta_avail_low at the start of a transaction; its data allocator likewise.
  uint64_t meta_avail_low = 128;
  uint64_t meta_avail_target = 256;
  uint64_t data_avail_low = 64;
  uint64_t data_avail_target = 256;
  // Metadata blocks the server keeps for its own commits: below it, refills stop.
  uint64_t meta_reserve = 2 * MetaAlloc::kAvailReserve + 64;
  // Items in open log trees that start a log merge: every open tree is finalized together, then
  // the finalized trees are merged into the fs tree, merge_blocks_per_commit new fs tree blocks
  // per server commit.
  uint64_t log_finalize_items = 4096;
  size_t merge_blocks_per_commit = 64;  // new fs tree blocks a merge request may write
  sim::Duration merge_poll = 100 * sim::kMillisecond;
  // Merge requests (merge_requests.cc): at most this many in flight per client, and in one
  // batch (the requests handed out between two splices).
  size_t merge_requests_per_client = 2;
  size_t merge_batch_requests = 8;
  // How long the server waits for every mounted client to greet and report its locks after it
  // starts, and for a disconnected client to come back, before fencing and reclaiming it.
  sim::Duration recovery_timeout = 2 * sim::kSecond;
  sim::Duration reconnect_timeout = 2 * sim::kSecond;
  // The quorum's voting slots (0: a fixed server). A voting mount's farewell is answered only
  // while a majority of them stays mounted without it, or when every remaining voter leaves
  // together and no other mount is left (clients.cc).
  uint32_t quorum_slots = 0;
  BugSet bugs;
};

// Cuts a node's device I/O (the fence agent): after it returns, nothing that node writes
// reaches a device. Returns false if the fence failed.
using FenceAgent = std::function<bool(uint64_t rid, uint32_t node)>;

// What an oracle may learn from the server about durability (the scenario wires it): a mount's
// transaction became durable (a server commit recorded it; at start, every transaction the
// durable state holds), and a mount is gone for good (its reclaim or farewell is durable, and
// only then may others take its locks; told at least once: again when a later server answers
// the farewell of a mount it has no record of).
struct ServerObserver {
  std::function<void(uint64_t rid, uint64_t trans_seq)> transaction_durable;
  std::function<void(uint64_t rid)> mount_gone;
  // Of those, the ones that left by their farewell (called just before mount_gone).
  std::function<void(uint64_t rid)> farewell_done;
  // The log merge's pieces (merge_requests.cc): one handed out (or reloaded by a starting
  // server), copying fs tree block `block` (the root, for a whole-tree piece); one that no
  // longer counts (spliced, given back, or abandoned: its result will not be used).
  std::function<void(uint64_t id, uint64_t block, bool whole_tree)> merge_piece_out;
  std::function<void(uint64_t id)> merge_piece_gone;
  // A server is starting: what an earlier one handed out is reported again if still out.
  std::function<void()> starting;
  // Failover recovery: a server of `term` started (its new term durable) with these mounted
  // clients' records, each of which must now recover its locks or be reclaimed; one of them
  // finished its lock recovery.
  std::function<void(uint64_t term, const std::vector<uint64_t>& rids)> recovering;
  std::function<void(uint64_t term, uint64_t rid)> client_recovered;
};

class ClientLinks {
 public:
  virtual ~ClientLinks() = default;
  // Sends a request to client `rid`; `done` runs once with its response or kMaybeDelivered.
  virtual void send(uint64_t rid, proto::Cmd cmd, proto::Bytes data, net::Connection::ResponseHandler done) = 0;
  // The rid's connection is gone for good (farewell answered, or reclaimed).
  virtual void forget(uint64_t rid) = 0;
};

struct ServerStats {
  uint64_t commits = 0;
  uint64_t requests = 0;
  uint64_t merges = 0;           // log merges completed
  uint64_t merged_items = 0;     // keys the spliced pieces changed
  uint64_t merge_requests = 0;   // pieces handed to clients
  uint64_t merge_splices = 0;    // batches of completed pieces spliced into the fs tree
  uint64_t merge_failed = 0;     // pieces that came back failed or were abandoned
  uint64_t finalized = 0;        // log trees finalized
  uint64_t reclaimed = 0;        // clients reclaimed (fenced or farewell)
  uint64_t fenced = 0;
};

class Server {
 public:
  using Reply = std::function<void(sim::Errno, proto::Bytes)>;

  Server(NodeEnv env, sim::DiskHandle& meta, sim::DiskHandle& data, ServerConfig cfg);
  ~Server();
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  // Reads the super, starts a new term (committed before anything is served), raises the seq
  // counter past every seq in use, and begins lock recovery for every mounted client. Runs in a
  // task (it does I/O). On error the server must not be used.
  sim::Errno start();
  // Stops serving: no more answers, workers end. Idempotent.
  void stop();
  bool stopped() const { return stopped_; }

  void set_links(ClientLinks* links) { links_ = links; }
  void set_fence_agent(FenceAgent f) { fence_ = std::move(f); }
  void set_on_stopped(std::function<void(sim::Errno)> f) { on_stopped_ = std::move(f); }
  void set_observer(ServerObserver o) { observer_ = std::move(o); }
  // The rid of the mount running on this server's node now, if any (an elected server starts
  // beside a live mount). Every other record of this node is from an earlier life of it, dead
  // with it, and is reclaimed at once instead of waiting for its recovery.
  void set_local_rid(uint64_t rid) { local_rid_ = rid; }

  // ---- the request seam ----
  void handle(uint64_t rid, const proto::Header& h, proto::Bytes data, Reply reply);
  // A greeting on a new connection; parks while a new client's record is committed.
  // 0: accepted, *out is the answer. EINVAL: wrong fsid or format. ENOLINK: the rid is unknown
  // to this server although it claims to have mounted (it was reclaimed): it must not go on.
  sim::Errno greet(const proto::Greeting& g, uint32_t node, proto::Greeting* out);
  // The front end lost (or regained) a client's connection.
  void client_disconnected(uint64_t rid);
  void client_connected(uint64_t rid);

  // ---- inspection (tests, the oracle through trace events, tools) ----
  uint64_t term() const { return term_; }
  const SuperBlock& stable_super() const { return stable_; }
  const LockServerCore& locks() const { return locks_; }
  const ServerStats& stats() const { return stats_; }
  bool mounted(uint64_t rid) const {
    auto c = clients_.find(rid);
    return c != clients_.end() && !c->second.reclaiming;
  }
  std::vector<uint64_t> mounted_rids() const;
  bool merge_running() const { return merge_.has_value(); }
  // Merge requests the server holds (handed out, not yet spliced or taken back).
  size_t merge_requests_held() const { return merge_requests_.size(); }
  // Of those, the ones `rid` is working on (handed out, no result yet, not abandoned).
  size_t merge_pieces_out_to(uint64_t rid) const {
    size_t n = 0;
    for (const auto& [id, r] : merge_requests_) n += r.v.rid == rid && !r.done && !(r.v.flags & kMergeRequestAbandoned);
    return n;
  }
  const std::optional<MergeStatusValue>& merge_status() const { return merge_; }
  // Every log tree record, in key order (current state, not only durable). Runs in a task.
  struct LogRecord {
    uint64_t rid = 0;
    uint64_t nr = 0;
    LogTreeValue v;
  };
  sim::Errno log_records(std::vector<LogRecord>* out);
  // The fs tree as the server has it (tools and tests read it directly).
  Btree& fs_tree() { return *fs_tree_; }
  // Starts a merge round at the next merge tick whatever the open trees hold (tools and tests
  // that want everything in the fs tree).
  void force_merge() { force_merge_ = true; }
  // Items in log trees (open and finalized) as of the last merge tick.
  uint64_t logged_items() const { return logged_items_; }

 private:
  struct ClientState {
    MountedClientValue value;
    bool connected = false;
    sim::Time disconnected_at = 0;
    bool recovering = false;    // lock recovery not finished with this server
    bool farewell = false;      // its farewell is being answered (reclaimed for it)
    bool reclaiming = false;    // being reclaimed: its requests are refused
  };

  // ---- commit batching (server.cc) ----
  // With mu_ held: the changes made so far go into the next commit. Returns its generation.
  uint64_t dirtied();
  // Without mu_: parks until the commit of generation `gen` is durable. False if the server
  // stopped first (the caller must not answer).
  bool wait_durable(uint64_t gen);
  void commit_loop();
  sim::Errno do_commit();
  void fail(sim::Errno e, const char* what);
  // Runs `body` in a task with mu_ held, then waits for its changes to be durable and answers
  // with what it produced. The common shape of every handler that changes state.
  void run_update(const char* name, Reply reply,
                  std::function<sim::Errno(proto::Bytes* out)> body);

  // ---- log trees (log_trees.cc) ----
  struct LogTreeRef {
    uint64_t rid = 0;
    uint64_t nr = 0;
    LogTreeValue v;
  };
  sim::Errno load_records(uint64_t rid, std::vector<LogTreeRef>* out);
  sim::Errno load_all_records(std::vector<LogTreeRef>* out);
  sim::Errno put_record(const LogTreeRef& r, bool exists);
  sim::Errno get_log_trees(uint64_t rid, proto::LogTrees* out);
  sim::Errno commit_log_trees(uint64_t rid, const proto::LogTrees& in);
  sim::Errno take_freed(LogTreeValue* v);
  sim::Errno refill(LogTreeValue* v);
  sim::Errno return_allocators(LogTreeValue* v);
  sim::Errno free_tree_blocks(const BtreeRoot& root);
  sim::Errno free_list(const AllocListHead& head);

  // ---- locks (locks.cc) ----
  void lock_request(uint64_t rid, const proto::Header& h, const proto::LockMessage& m, Reply reply);
  void apply_lock_actions(const std::vector<LockAction>& actions);
  void start_lock_recovery(uint64_t rid);
  void recover_from(uint64_t rid, Key start);
  uint64_t next_lock_seq();

  // ---- merge (merge.cc: rounds and finalization; merge_requests.cc: the work) ----
  void merge_loop();
  sim::Errno merge_tick();
  sim::Errno finish_merge(const MergeStatusValue& st);

  struct MergeRequest {
    uint64_t id = 0;
    MergeRequestValue v;
    std::vector<uint64_t> avail;        // the blocks handed out with it
    std::vector<uint64_t> list_blocks;  // the blocks of the alloc list that names them
    std::optional<proto::LogMergeCompletion> done;  // its result, until spliced
    std::vector<Reply> replies;         // COMMIT_LOG_MERGE answers, sent after the splice
  };
  sim::Errno load_merge_requests();
  sim::Errno get_log_merge(uint64_t rid, const proto::LogMergeGet& g, proto::LogMergeRequest* out);
  sim::Errno merge_inputs(uint64_t input_seq, std::vector<BtreeRoot>* out);
  void commit_log_merge(uint64_t rid, const proto::LogMergeCompletion& c, Reply reply);
  // Gives back every block of a request that produced nothing to keep, and forgets it.
  sim::Errno release_merge_request(uint64_t id);
  sim::Errno abandon_merge_requests(uint64_t rid, bool reclaiming);
  sim::Errno put_merge_request(const MergeRequest& r, bool exists);
  // With no request outstanding: splices every completed piece into the fs tree, frees what
  // they replaced and moves the merge position on (or ends the merge). *spliced: it did.
  sim::Errno splice_merge_batch(bool* spliced, std::vector<Reply>* replies);
  void redo_from(const Key& k);

  // ---- clients, reclaim and farewell (clients.cc) ----
  void reclaim_loop();
  // Why `rid` is due for a reclaim now (recovery or reconnect timed out), or null.
  const char* reclaim_due(uint64_t rid, const ClientState& c) const;
  // Reclaims in the current commit; the lock actions it yields go out only once that commit is
  // durable (a waiter must not read before the departed mount's last transaction is settled).
  sim::Errno reclaim(uint64_t rid, const char* why, std::vector<uint64_t>* after_durable);
  void finish_reclaim(uint64_t rid);  // once reclaim's commit is durable: the record goes
  void drop_locks(const std::vector<uint64_t>& rids);
  void farewell(uint64_t rid, Reply reply);
  // Answers the waiting farewells the quorum rule lets go now (clients.cc).
  void answer_farewells();
  void answer_farewell(uint64_t rid, Reply reply);

  NodeEnv env_;
  sim::DiskHandle& meta_disk_;
  sim::DiskHandle& data_disk_;
  ServerConfig cfg_;
  ClientLinks* links_ = nullptr;
  FenceAgent fence_;
  uint64_t local_rid_ = 0;
  std::function<void(sim::Errno)> on_stopped_;
  ServerObserver observer_;
  // Mounts' transactions recorded since the last commit, reported once it is durable.
  std::vector<std::pair<uint64_t, uint64_t>> recorded_;

  // Durable state as of the last commit, and the structures that change it.
  SuperBlock stable_;
  SuperBlock sb_;  // what the next commit writes (fields not kept in the objects below)
  uint64_t term_ = 0;
  sim::Time started_at_ = 0;
  std::unique_ptr<BlockCache> cache_;
  std::unique_ptr<MetaAlloc> meta_;
  std::unique_ptr<BitmapAlloc> data_alloc_;
  std::unique_ptr<Btree> fs_tree_;
  std::unique_ptr<Btree> logs_tree_;
  std::unique_ptr<Btree> clients_tree_;

  std::map<uint64_t, ClientState> clients_;  // mounted clients, by rid
  std::map<uint64_t, Reply> farewells_;      // farewells waiting for the quorum rule, by rid
  std::map<uint64_t, uint64_t> open_trans_;  // rid -> get_trans_seq of its open transaction
  // Lock requests waiting for their grant: (rid, request id) -> where the grant goes.
  std::map<std::pair<uint64_t, uint64_t>, Reply> lock_replies_;
  LockServerCore locks_;
  // A merge round: from finalize_from on every open tree with items is finalized at its next
  // GET_LOG_TREES; the merge starts once no open tree can hold an item older than an input's.
  uint64_t finalize_from_ = 0;
  std::set<uint64_t> synced_;  // rids sent SYNC_LOG_TREES this round
  bool force_merge_ = false;
  uint64_t logged_items_ = 0;
  std::optional<MergeStatusValue> merge_;
  std::map<uint64_t, MergeRequest> merge_requests_;  // by id
  // The batch being handed out: the next range starts at batch_next_ (unless batch_end_), and
  // redo_ is the lowest key of a range that must be merged again (failed, abandoned).
  Key batch_next_;
  bool batch_end_ = false;
  std::optional<Key> redo_;
  uint8_t merge_level_ = 1;     // fs tree level of the blocks handed out
  bool height_stopped_ = false; // a piece of this batch stopped at its subtree's height

  sim::Mutex mu_;
  sim::CondVar commit_cv_;   // the commit worker waits for dirty changes
  sim::CondVar durable_cv_;  // handlers wait for their generation
  uint64_t dirty_gen_ = 0;
  uint64_t durable_gen_ = 0;
  bool stopped_ = false;
  sim::Errno stop_error_ = 0;
  std::shared_ptr<bool> alive_;
  ServerStats stats_;
};

}  // namespace simfs::fs
