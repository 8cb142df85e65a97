// Scenario "register": a multi-writer atomic register replicated ABD-style on three replicas,
// used by two clients, under crashes, power loss, partitions, clogs, pauses, clock faults and
// disk error bursts. The kernel's end-to-end regression test: it exercises stream connections,
// a shared block device with FUA writes and torn crash outcomes, fibers and sync primitives.
//
// Replica: keeps (ts, value) durable in two alternating checksummed slots on the shared disk,
// and acknowledges a write only after its FUA write completed.
// Client: each op runs two quorum phases (query a majority for the highest ts, then store
// to a majority); reads write back what they return.
//
// Planted bugs: ack_before_durable (replica replies first and writes without FUA),
// read_one_replica (reads trust one replica and skip the write-back), and no_reconnect (a
// client never re-establishes a broken connection: a liveness bug).
#include <memory>
#include <optional>
#include <vector>

#include "oracle/register_checker.h"
#include "scenarios/nemesis.h"
#include "scenarios/scenario.h"
#include "sim/block_device.h"
#include "sim/bytes.h"
#include "sim/network.h"
#include "sim/sync.h"

namespace scenarios {
namespace {

using oracle::RegisterTs;
using sim::kMillisecond;
using sim::kSecond;
using sim::Site;
using sim::Stream;

constexpr uint16_t kPort = 7000;
constexpr uint32_t kMsgQuery = 1, kMsgQueryReply = 2, kMsgStore = 3, kMsgStoreReply = 4;
constexpr uint32_t kSlotMagic = 0x52454731;  // "REG1"
// After the workload, time for the heal grace, the last operations and the final checks.
constexpr sim::Duration kTimeLimitSlack = 5 * kSecond;
constexpr sim::Duration kOpBudget = 2 * kSecond;
constexpr sim::Duration kPhaseTimeout = 150 * kMillisecond;
// After the heal, replicas need a moment to reboot and clients to reconnect.
constexpr sim::Duration kHealGrace = 300 * kMillisecond;

constexpr Site kSiteOpKind{"register.op.kind", Stream::kWorkload};
constexpr Site kSiteThink{"register.op.think", Stream::kWorkload};

struct Slot {
  uint64_t seq = 0;
  RegisterTs ts;
  uint64_t value = 0;
};

std::vector<uint8_t> encode_slot(const Slot& s, uint32_t block_size) {
  std::vector<uint8_t> b;
  sim::ByteWriter w(b);
  w.u32(kSlotMagic);
  w.u64(s.seq);
  w.u64(s.ts.counter);
  w.u64(s.ts.writer);
  w.u64(s.value);
  w.u64(sim::fnv1a64(std::string_view(reinterpret_cast<const char*>(b.data()), b.size())));
  b.resize(block_size, 0);
  return b;
}

std::optional<Slot> decode_slot(const std::vector<uint8_t>& b) {
  sim::ByteReader r(b);
  if (r.u32() != kSlotMagic) return std::nullopt;
  Slot s;
  s.seq = r.u64();
  s.ts.counter = r.u64();
  s.ts.writer = r.u64();
  s.value = r.u64();
  const size_t len = r.position();
  const uint64_t sum = r.u64();
  if (!r.ok() || sum != sim::fnv1a64(std::string_view(reinterpret_cast<const char*>(b.data()), len))) return std::nullopt;
  return s;
}

class RegisterScenario;

// One replica's in-memory state; recreated at every boot from what is on disk.
struct Replica {
  RegisterScenario* scen;
  sim::Node* node;
  std::unique_ptr<sim::DiskHandle> disk;
  std::unique_ptr<sim::Listener> listener;
  sim::Mutex persist_lock;
  Slot current;
  bool ready = false;

  void boot();
  void accept_loop();
  void serve(sim::StreamSocket& conn);
  bool persist(const Slot& s, bool fua);
};

struct Reply {
  int replica;
  uint64_t req;
  RegisterTs ts;
  uint64_t value;
};

struct Client {
  RegisterScenario* scen;
  int index;
  sim::Node* node;
  std::vector<std::unique_ptr<sim::StreamSocket>> conns;  // one per replica
  sim::Channel<Reply> replies;
  uint64_t next_req = 1;
  uint64_t next_value = 1;
  bool stopping = false;
  int ops_after_heal = 0;
  int ops_after_heal_ok = 0;

  void run();
  void link(int r);
  // Runs one quorum phase; returns the replies of a majority, or nothing on timeout.
  std::optional<std::vector<Reply>> phase(uint32_t type, RegisterTs ts, uint64_t value, const std::vector<int>& targets,
                                          size_t needed, sim::Time deadline);
  std::optional<std::pair<RegisterTs, uint64_t>> read(sim::Time deadline);
  bool write(uint64_t value, size_t op, sim::Time deadline);
};

class RegisterScenario final : public Scenario {
 public:
  explicit RegisterScenario(const ScenarioOptions& o)
      : replica_count(static_cast<int>(o.params.integer("replicas"))),
        client_count(static_cast<int>(o.params.integer("clients"))),
        workload_end(o.params.duration("workload_end")),
        bug_(o.bug),
        params_(o.params) {
    for (int r = 0; r < replica_count; ++r) all_replicas.push_back(r);
  }
  ~RegisterScenario() override = default;

  void setup(sim::Simulation& sim) override;
  sim::Time time_limit() const override { return workload_end + kTimeLimitSlack; }
  void finish(sim::Simulation& sim) override;
  std::vector<const sim::BlockDevice*> devices() const override { return {disk.get()}; }
  uint64_t messages_sent() const override { return net ? net->messages_sent() : 0; }

  sim::Simulation* sim = nullptr;
  std::unique_ptr<sim::Network> net;
  std::unique_ptr<sim::BlockDevice> disk;
  std::unique_ptr<Nemesis> nemesis;
  const int replica_count;
  const int client_count;
  const sim::Time workload_end;
  std::vector<int> all_replicas;  // 0..replica_count-1: the targets of every quorum phase
  size_t quorum() const { return static_cast<size_t>(replica_count) / 2 + 1; }
  std::vector<std::unique_ptr<Replica>> replicas;
  std::vector<std::unique_ptr<Client>> clients;
  oracle::RegisterChecker checker;
  bool bug_ack_before_durable() const { return bug_ == "ack_before_durable"; }
  bool bug_read_one() const { return bug_ == "read_one_replica"; }
  bool bug_no_reconnect() const { return bug_ == "no_reconnect"; }

 private:
  std::string bug_;
  Params params_;
};

// ---- replica ----

bool Replica::persist(const Slot& s, bool fua) {
  const uint32_t bs = disk->block_size();
  const uint64_t blk = static_cast<uint64_t>(node->id()) * 2 + (s.seq & 1);
  return disk->write(blk, encode_slot(s, bs), fua) == sim::kOk;
}

void Replica::boot() {
  sim::Simulation& sim = *scen->sim;
  disk = scen->disk->attach(*node);
  // Recover: the valid slot with the highest sequence wins; a torn or unreadable slot is ignored.
  std::vector<uint8_t> buf(disk->block_size());
  Slot best;
  for (int i = 0; i < 2; ++i) {
    const uint64_t blk = static_cast<uint64_t>(node->id()) * 2 + static_cast<uint64_t>(i);
    sim::Errno e = sim::kOk;
    for (int attempt = 0; attempt < 50; ++attempt) {
      e = disk->read(blk, buf);
      if (e == sim::kOk) break;
      sim.sched().sleep(5 * kMillisecond);
    }
    if (e != sim::kOk) {
      sim.event(node->id(), "log", {{"msg", "replica cannot read its state; staying down"}});
      return;
    }
    if (auto s = decode_slot(buf); s && s->seq > best.seq) best = *s;
  }
  current = best;
  sim.event(node->id(), "log", {{"msg", "replica recovered"}, {"seq", current.seq}, {"ts", oracle::to_string(current.ts)}});
  sim::Errno err;
  listener = scen->net->listen(*node, kPort, &err);
  if (!listener) return;
  ready = true;
  node->spawn("replica.accept", [this] { accept_loop(); }, /*daemon=*/true);
}

void Replica::accept_loop() {
  for (;;) {
    sim::Errno err;
    std::shared_ptr<sim::StreamSocket> conn = listener->accept(&err);
    if (!conn) return;
    node->spawn("replica.conn", [this, conn] { serve(*conn); }, /*daemon=*/true);
  }
}

void Replica::serve(sim::StreamSocket& conn) {
  for (;;) {
    sim::Message m;
    if (conn.recv(m) != sim::kOk) return;
    sim::ByteReader r(m.payload);
    const uint64_t req = r.u64();
    RegisterTs ts{r.u64(), r.u64()};
    const uint64_t value = r.u64();
    if (!r.ok()) return;
    sim::Message reply;
    sim::ByteWriter w(reply.payload);
    if (m.type == kMsgQuery) {
      reply.type = kMsgQueryReply;
      w.u64(req);
      w.u64(current.ts.counter);
      w.u64(current.ts.writer);
      w.u64(current.value);
    } else if (m.type == kMsgStore) {
      reply.type = kMsgStoreReply;
      w.u64(req);
      w.u64(0);
      w.u64(0);
      w.u64(0);
      sim::LockGuard g(persist_lock);
      if (ts > current.ts) {
        Slot next{current.seq + 1, ts, value};
        if (scen->bug_ack_before_durable()) {
          // BUG (planted): the reply goes out before the state is durable.
          current = next;
          if (conn.send(reply) != sim::kOk) return;
          persist(next, /*fua=*/false);
          continue;
        }
        if (!persist(next, /*fua=*/true)) continue;  // not durable: no ack, the client retries
        current = next;
      }
    } else {
      return;
    }
    if (conn.send(std::move(reply)) != sim::kOk) return;
  }
}

// ---- client ----

void Client::link(int r) {
  sim::Simulation& sim = *scen->sim;
  while (!stopping) {
    if (!conns[r] || conns[r]->broken()) {
      sim::Errno err;
      conns[r] = scen->net->connect(*node, sim::Address{r, kPort}, &err);
      if (!conns[r]) {
        sim.sched().sleep(50 * kMillisecond);
        continue;
      }
    }
    sim::Message m;
    if (conns[r]->recv(m) != sim::kOk) {
      conns[r].reset();
      // BUG (planted): a broken connection is never re-established.
      if (scen->bug_no_reconnect()) return;
      continue;
    }
    sim::ByteReader rd(m.payload);
    Reply rep{r, rd.u64(), RegisterTs{rd.u64(), rd.u64()}, rd.u64()};
    if (rd.ok()) replies.send(rep);
  }
}

std::optional<std::vector<Reply>> Client::phase(uint32_t type, RegisterTs ts, uint64_t value,
                                                const std::vector<int>& targets, size_t needed, sim::Time deadline) {
  sim::Simulation& sim = *scen->sim;
  while (sim.now() < deadline) {
    const uint64_t req = next_req++;
    for (int r : targets) {
      if (!conns[r] || conns[r]->broken()) continue;
      sim::Message m;
      m.type = type;
      sim::ByteWriter w(m.payload);
      w.u64(req);
      w.u64(ts.counter);
      w.u64(ts.writer);
      w.u64(value);
      conns[r]->send(std::move(m));
    }
    std::vector<Reply> got;
    std::vector<bool> seen(static_cast<size_t>(scen->replica_count));
    const sim::Time attempt_end = std::min(deadline, sim.now() + kPhaseTimeout);
    while (got.size() < needed) {
      auto rep = replies.recv_until(attempt_end);
      if (!rep) break;
      if (rep->req != req || seen[rep->replica]) continue;  // a reply to an earlier attempt
      seen[rep->replica] = true;
      got.push_back(*rep);
    }
    if (got.size() >= needed) return got;
  }
  return std::nullopt;
}

std::optional<std::pair<RegisterTs, uint64_t>> Client::read(sim::Time deadline) {
  const std::vector<int>& all = scen->all_replicas;
  if (scen->bug_read_one()) {
    // BUG (planted): one replica's answer is trusted, with no write-back.
    auto got = phase(kMsgQuery, {}, 0, all, 1, deadline);
    if (!got) return std::nullopt;
    return std::make_pair((*got)[0].ts, (*got)[0].value);
  }
  auto got = phase(kMsgQuery, {}, 0, all, scen->quorum(), deadline);
  if (!got) return std::nullopt;
  Reply best = (*got)[0];
  for (const Reply& r : *got) {
    if (r.ts > best.ts) best = r;
  }
  if (!phase(kMsgStore, best.ts, best.value, all, scen->quorum(), deadline)) return std::nullopt;
  return std::make_pair(best.ts, best.value);
}

bool Client::write(uint64_t value, size_t op, sim::Time deadline) {
  const std::vector<int>& all = scen->all_replicas;
  auto got = phase(kMsgQuery, {}, 0, all, scen->quorum(), deadline);
  if (!got) return false;
  RegisterTs max;
  for (const Reply& r : *got) {
    if (r.ts > max) max = r.ts;
  }
  RegisterTs ts{max.counter + 1, static_cast<uint64_t>(index) + 1};
  scen->checker.set_write_ts(op, ts);
  return phase(kMsgStore, ts, value, all, scen->quorum(), deadline).has_value();
}

void Client::run() {
  sim::Simulation& sim = *scen->sim;
  conns.resize(static_cast<size_t>(scen->replica_count));
  for (int r = 0; r < scen->replica_count; ++r) node->spawn("client.link", [this, r] { link(r); }, /*daemon=*/true);
  // Run past the fault window until a few operations have started after the heal.
  while (sim.now() < scen->workload_end || ops_after_heal < 3) {
    sim.sched().sleep(sim.chooser().range(kSiteThink, 1 * kMillisecond, 40 * kMillisecond));
    const bool is_write = sim.chooser().choose(kSiteOpKind, 2) == 1;
    const bool after_heal = scen->nemesis->healed() && sim.now() >= scen->nemesis->healed_at() + kHealGrace;
    const sim::Time deadline = sim.now() + kOpBudget;
    if (after_heal) ++ops_after_heal;
    bool ok = false;
    if (is_write) {
      const uint64_t value = (static_cast<uint64_t>(index + 1) << 32) | next_value++;
      uint64_t ev = sim.event(node->id(), "op_call", {{"client", index}, {"op", "write"}, {"value", value}});
      size_t op = scen->checker.call(oracle::RegisterOp::Kind::kWrite, index, sim.now(), ev, value);
      ok = write(value, op, deadline);
      if (ok) {
        uint64_t rev = sim.event(node->id(), "op_return", {{"client", index}, {"op", "write"}, {"ok", true}});
        auto v = scen->checker.complete(op, sim.now(), rev, scen->checker.ops()[op].ts, value);
        if (v) sim.violation(v->invariant, v->message, v->witness);
      } else {
        sim.event(node->id(), "op_return", {{"client", index}, {"op", "write"}, {"ok", false}});
      }
    } else {
      uint64_t ev = sim.event(node->id(), "op_call", {{"client", index}, {"op", "read"}});
      size_t op = scen->checker.call(oracle::RegisterOp::Kind::kRead, index, sim.now(), ev);
      auto got = read(deadline);
      ok = got.has_value();
      if (ok) {
        uint64_t rev = sim.event(node->id(), "op_return", {{"client", index}, {"op", "read"}, {"ok", true}, {"value", got->second}});
        auto v = scen->checker.complete(op, sim.now(), rev, got->first, got->second);
        if (v) sim.violation(v->invariant, v->message, v->witness);
      } else {
        sim.event(node->id(), "op_return", {{"client", index}, {"op", "read"}, {"ok", false}});
      }
    }
    if (after_heal && ok) ++ops_after_heal_ok;
  }
  stopping = true;
  for (auto& c : conns) {
    if (c) c->close();
  }
  replies.close();
}

// ---- scenario ----

void RegisterScenario::setup(sim::Simulation& s) {
  sim = &s;
  net = std::make_unique<sim::Network>(s);
  sim::BlockDeviceConfig dc;
  dc.block_size = 512;
  dc.block_count = 64;
  disk = std::make_unique<sim::BlockDevice>(s, 0, "disk0", dc);
  replicas.resize(static_cast<size_t>(replica_count));
  clients.resize(static_cast<size_t>(client_count));
  for (int i = 0; i < replica_count; ++i) {
    sim::Node& n = s.add_node("replica-" + std::to_string(i));
    n.set_boot([this, i](sim::Node& node) {
      replicas[i] = std::make_unique<Replica>();
      replicas[i]->scen = this;
      replicas[i]->node = &node;
      replicas[i]->boot();
    });
  }
  for (int i = 0; i < client_count; ++i) {
    sim::Node& n = s.add_node("client-" + std::to_string(i));
    n.set_boot([this, i](sim::Node& node) {
      clients[i] = std::make_unique<Client>();
      clients[i]->scen = this;
      clients[i]->index = i;
      clients[i]->node = &node;
      clients[i]->run();
    });
  }
  for (int i = 0; i < s.node_count(); ++i) s.node(i).start();
  NemesisConfig nc;
  apply_nemesis_params(params_, &nc);
  for (int i = 0; i < replica_count; ++i) nc.nodes.push_back(i);
  for (int i = 0; i < s.node_count(); ++i) nc.net_nodes.push_back(i);
  nemesis = std::make_unique<Nemesis>(s, net.get(), std::vector<sim::BlockDevice*>{disk.get()}, nc);
  nemesis->start();
}

void RegisterScenario::finish(sim::Simulation& s) {
  // Liveness: once faults are healed, every operation must succeed.
  for (int i = 0; i < client_count; ++i) {
    const Client* c = clients[static_cast<size_t>(i)].get();
    if (!c || c->ops_after_heal == 0) {
      s.violation("register.liveness", "client " + std::to_string(i) + " completed no operation after the heal");
      return;
    }
    if (c->ops_after_heal_ok != c->ops_after_heal) {
      s.violation("register.liveness", "client " + std::to_string(i) + ": " +
                                           std::to_string(c->ops_after_heal - c->ops_after_heal_ok) + " of " +
                                           std::to_string(c->ops_after_heal) + " operations failed after the heal");
      return;
    }
  }
}

std::vector<ParamSpec> register_params() {
  std::vector<ParamSpec> ps = {
      // Each replica keeps two slots on the shared 64-block disk.
      count_param("replicas", 3, 1, 15, "replica nodes; every quorum phase needs a majority of them"),
      count_param("clients", 2, 1, 16, "client nodes, each running reads and writes"),
      duration_param("workload_end", 5 * kSecond, 0, 60 * kSecond,
                     "clients stop starting operations after this (and after 3 operations since the heal)"),
  };
  for (ParamSpec& p : nemesis_params(kFaultCrash | kFaultPowerLoss | kFaultPartition | kFaultClog | kFaultPause |
                                         kFaultClock | kFaultDiskErrors | kFaultSwizzle,
                                     100 * kMillisecond, 3 * kSecond)) {
    ps.push_back(std::move(p));
  }
  return ps;
}

}  // namespace

ScenarioInfo register_scenario_info() {
  return ScenarioInfo{
      "register",
      "ABD quorum register on 3 replicas + 2 clients, with crashes, power loss, partitions, clogs, pauses, "
      "clock faults and disk error bursts",
      {"register.read_origin", "register.real_time", "register.liveness", "sim.deadlock"},
      {"ack_before_durable", "read_one_replica", "no_reconnect"},
      [](const ScenarioOptions& o) { return std::make_unique<RegisterScenario>(o); },
      register_params(),
      check_fault_window};
}

}  // namespace scenarios
