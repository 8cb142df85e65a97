// ServerWorld: one simulated node with a metadata and a data device and a Server on them, for
// tests that call the server's request handlers directly — no network, no mount. The test body
// runs in a task outside the node (so crashing the node does not unwind the test); the server
// starts in a task of the node. A fake ClientLinks records what the server pushes to clients,
// so a test can answer it. At the end of run() the node crashes: the server's loops poll
// forever, and only a crash makes the run quiescent.
#pragma once

#include <gtest/gtest.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "fs/format/btree_block.h"
#include "fs/format/format.h"
#include "fs/format/items.h"
#include "fs/net/connection.h"
#include "fs/proto/messages.h"
#include "fs/proto/wire.h"
#include "fs/server/mkfs.h"
#include "fs/server/server.h"
#include "sim/block_device.h"
#include "sim/simulation.h"
#include "sim/sync.h"
#include "sim/tests/test_util.h"

namespace simfs::fs::testing {

// Records every push; `done` stays with the push so the test can answer it (or never).
class FakeLinks : public ClientLinks {
 public:
  struct Push {
    uint64_t rid = 0;
    proto::Cmd cmd = proto::Cmd::kGreeting;
    proto::Bytes data;
    net::Connection::ResponseHandler done;
  };
  void send(uint64_t rid, proto::Cmd cmd, proto::Bytes data, net::Connection::ResponseHandler done) override {
    pushes.push_back(Push{rid, cmd, std::move(data), std::move(done)});
  }
  void forget(uint64_t rid) override { forgotten.push_back(rid); }

  // The pushes of one command, in order.
  std::vector<Push*> of(proto::Cmd cmd) {
    std::vector<Push*> out;
    for (Push& p : pushes)
      if (p.cmd == cmd) out.push_back(&p);
    return out;
  }

  std::vector<Push> pushes;
  std::vector<uint64_t> forgotten;
};

// What a request got: its answer, and the stable and durable supers at the moment it came.
struct Answer {
  bool replied = false;
  sim::Errno err = 0;
  proto::Bytes data;
  uint64_t stable_seq = 0;   // server.stable_super().seq when the reply was made
  SuperBlock durable;        // the super on the metadata device's durable image then
};
using Pending = std::shared_ptr<sim::Completion<Answer>>;

struct ServerWorld {
  static constexpr uint64_t kFsid = 0x5e5e;
  static constexpr sim::Duration kWait = 10 * sim::kSecond;  // bound on every wait of a test

  static sim::BlockDeviceConfig dev_config(uint64_t blocks) {
    sim::BlockDeviceConfig c;
    c.block_size = kBlockSize;
    c.block_count = blocks;
    return c;
  }
  static ServerConfig test_config() {
    ServerConfig c;
    c.merge_poll = 20 * sim::kMillisecond;
    // Long, so that no client is reclaimed behind a test's back; tests that want it shorten it.
    c.recovery_timeout = 60 * sim::kSecond;
    c.reconnect_timeout = 60 * sim::kSecond;
    return c;
  }

  explicit ServerWorld(uint64_t seed)
      : s(seed), n(s.add_node("n")), meta(s, 0, "meta", dev_config(4096)), data(s, 1, "data", dev_config(4096)) {
    n.start();
    attach();
  }

  // Runs `body` in a task outside the node, then crashes the node so the run goes quiet.
  void run(std::function<void()> body) {
    s.spawn("test", [this, body = std::move(body)] {
      body();
      n.crash();
    });
    auto r = s.run(sim::kTimeNever);
    EXPECT_EQ(r.outcome, sim::Simulation::Outcome::kQuiescent) << r.message;
  }

  // Runs `fn` in a task of the node and waits (bounded) for it. ETIMEDOUT if it did not end:
  // the node crashed under it, or it is stuck.
  sim::Errno on_node(const char* name, std::function<sim::Errno()> fn) {
    auto done = std::make_shared<sim::Completion<sim::Errno>>();
    n.spawn(name, [done, fn = std::move(fn)] { done->set(fn()); });
    sim::Errno* e = done->wait_until(sim::this_task::now() + kWait);
    return e ? *e : ETIMEDOUT;
  }

  sim::Errno mkfs() {
    return on_node("mkfs", [this] { return fs::mkfs(NodeEnv(n), *mh, *dh, kFsid); });
  }
  // A new Server on the devices, started in a task of the node.
  sim::Errno start_server() {
    server = std::make_unique<Server>(NodeEnv(n), *mh, *dh, cfg);
    server->set_links(&links);
    server->set_fence_agent([this](uint64_t rid, uint32_t node) {
      fenced.emplace_back(rid, node);
      fenced_while_mounted = server->mounted(rid);
      if (on_fence) on_fence(rid);
      return fence_ok;
    });
    return on_node("server.start", [this] { return server->start(); });
  }
  sim::Errno mkfs_and_start() {
    if (sim::Errno e = mkfs()) return e;
    return start_server();
  }

  // The node crashes (memory and tasks gone, unflushed writes resolved as a crash does) and
  // boots again empty; start_server() then starts a new server from what is durable.
  void crash_and_restart() {
    n.crash();
    server.reset();
    links = FakeLinks{};
    n.restart();
    attach();
  }

  // A client's greeting. node: where the client runs (default: the server's node).
  sim::Errno greet(uint64_t rid, std::optional<uint32_t> node = std::nullopt, uint64_t server_term = 0,
                   proto::Greeting* out = nullptr) {
    const uint32_t where = node ? *node : static_cast<uint32_t>(n.id());
    return greet_with(proto::Greeting{kFsid, format_hash(), server_term, rid, 0}, where, out);
  }
  // Any greeting, handed to Server::greet in a task of the node (it parks for a commit); once
  // answered, its connection is attached (client_connected), as ServerNet does, unless
  // `attach` is false (the answer could not be sent: the client died).
  sim::Errno greet_with(const proto::Greeting& g, uint32_t node, proto::Greeting* out = nullptr, bool attach = true) {
    auto answer = std::make_shared<proto::Greeting>();
    sim::Errno e = on_node("greet", [this, g, node, answer] { return server->greet(g, node, answer.get()); });
    if (out) *out = *answer;
    if (!e && attach) server->client_connected(g.rid);
    return e;
  }

  // Hands a request to the server; the returned completion is set when it replies.
  Pending send(uint64_t rid, proto::Cmd cmd, proto::Bytes payload = {}, std::optional<uint64_t> id = std::nullopt) {
    proto::Header h;
    h.id = id ? *id : ++next_id;
    h.seq = h.id;
    h.cmd = cmd;
    h.data_len = static_cast<uint32_t>(payload.size());
    auto done = std::make_shared<sim::Completion<Answer>>();
    server->handle(rid, h, std::move(payload), [this, done](sim::Errno e, proto::Bytes data) {
      done->set(Answer{true, e, std::move(data), server->stable_super().seq, durable_super()});
    });
    return done;
  }
  // Waits (bounded) for a request's answer; replied is false if none came.
  static Answer wait(const Pending& p) {
    Answer* a = p->wait_until(sim::this_task::now() + kWait);
    return a ? *a : Answer{};
  }
  Answer call(uint64_t rid, proto::Cmd cmd, proto::Bytes payload = {}, std::optional<uint64_t> id = std::nullopt) {
    return wait(send(rid, cmd, std::move(payload), id));
  }

  // ---- typed requests ----
  // GET_LOG_TREES; *out is the record it opened.
  sim::Errno get_log_trees(uint64_t rid, proto::LogTrees* out) {
    Answer a = call(rid, proto::Cmd::kGetLogTrees);
    if (!a.replied) return ETIMEDOUT;
    if (a.err) return a.err;
    return proto::decode(a.data, out) ? 0 : EBADMSG;
  }
  sim::Errno commit_log_trees(uint64_t rid, const proto::LogTrees& lt) {
    Answer a = call(rid, proto::Cmd::kCommitLogTrees, proto::encode(lt));
    return a.replied ? a.err : ETIMEDOUT;
  }
  // The server's current record of (rid, nr), read in a task of the node.
  std::optional<LogTreeValue> log_record(uint64_t rid, uint64_t nr) {
    auto recs = std::make_shared<std::vector<Server::LogRecord>>();
    if (on_node("log_records", [this, recs] { return server->log_records(recs.get()); })) return std::nullopt;
    for (const Server::LogRecord& r : *recs)
      if (r.rid == rid && r.nr == nr) return r.v;
    return std::nullopt;
  }

  // Polls (bounded) until pred holds.
  bool wait_until(const std::function<bool()>& pred, sim::Duration limit = kWait) {
    const sim::Time end = sim::this_task::now() + limit;
    while (!pred()) {
      if (sim::this_task::now() >= end) return false;
      sim::this_task::sleep(10 * sim::kMillisecond);
    }
    return true;
  }

  // ---- the durable image (what survives if every pending write were dropped) ----
  SuperBlock durable_super() const {
    std::vector<uint8_t> b(kBlockSize);
    meta.peek_durable(kSuperBlkno, b);
    SuperBlock sb;
    if (decode_super(b, kFsid, &sb) != BlockCheck::kOk) return SuperBlock{};
    return sb;
  }
  // The item at `key` in the durable tree under `root`; nullopt when absent or unreadable
  // (*problem says which, when given).
  std::optional<Item> durable_lookup(const BtreeRoot& root, const Key& key, std::string* problem = nullptr) const {
    std::string why;
    std::optional<Item> out = lookup_in(root, key, &why);
    if (problem) *problem = why;
    return out;
  }

  uint64_t next_id = 0;
  ServerConfig cfg = test_config();
  bool fence_ok = true;
  std::vector<std::pair<uint64_t, uint32_t>> fenced;  // (rid, node) of every fence call
  bool fenced_while_mounted = false;                  // the last fence came before the reclaim
  std::function<void(uint64_t rid)> on_fence;         // called from the fence agent
  sim::Simulation s;
  sim::Node& n;
  sim::BlockDevice meta;
  sim::BlockDevice data;
  std::unique_ptr<sim::DiskHandle> mh, dh;
  FakeLinks links;
  std::unique_ptr<Server> server;
  sim::testing::ShutdownGuard guard{s};  // last: unwinds every task before the rest goes

 private:
  void attach() {
    mh = meta.attach(n);
    dh = data.attach(n);
  }
  std::optional<Item> lookup_in(const BtreeRoot& root, const Key& key, std::string* why) const {
    if (root.height == 0) return std::nullopt;
    BlockRef ref = root.ref;
    std::vector<uint8_t> b(kBlockSize);
    for (int level = root.height - 1; level >= 0; --level) {
      meta.peek_durable(ref.blkno, b);
      const BlockMagic magic = btree_magic(static_cast<uint8_t>(level));
      if (BlockCheck c = check_block(b, BlockExpect{magic, kFsid, ref.blkno, ref.seq}); c != BlockCheck::kOk) {
        *why = std::string("block ") + std::to_string(ref.blkno) + ": " + block_check_name(c);
        return std::nullopt;
      }
      BtreeNode node;
      if (!decode_node(std::span<const uint8_t>(b).subspan(kBlockHeaderBytes), &node, why)) return std::nullopt;
      if (node.leaf()) {
        for (const BtreeEntry& e : node.entries)
          if (e.key() == key) return e.item;
        return std::nullopt;
      }
      const BtreeEntry* child = nullptr;
      for (const BtreeEntry& e : node.entries) {
        if (!(e.key() < key)) {
          child = &e;
          break;
        }
      }
      if (!child) return std::nullopt;
      ref = child->child;
    }
    return std::nullopt;
  }
};

}  // namespace simfs::fs::testing
