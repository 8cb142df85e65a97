// Scenario "echo": exactly-once request processing over datagrams that are lost, duplicated,
// delayed and reordered, with partitions, clogs, pauses and clock faults on the server.
// The kernel's regression test for datagrams, node clocks and pause/resume.
//
// Clients send numbered requests and retransmit until answered (stop-and-wait). The server
// executes each (client, seq) once, remembering per client the last executed seq and its reply
// so a duplicate gets the cached reply instead of a second execution. The server expires
// cached replies it no longer needs using its monotonic (virtual) clock.
//
// Invariants: echo.exactly_once (no request executes twice), echo.reply_matches (a client only
// accepts the reply of the execution of its request), echo.liveness (after the heal, every
// client finishes its requests).
//
// Planted bugs: short_dedup_window (dedup entries expire after 80 ms of the server's local
// wall clock: a retransmission that comes later, or a clock jump, re-executes the request),
// stale_reply (the reply to a new request is built from the cache before the cache is
// updated), no_retransmit (a lost request or reply is never sent again: a liveness bug).
#include <map>
#include <memory>
#include <set>

#include "scenarios/nemesis.h"
#include "scenarios/scenario.h"
#include "sim/bytes.h"
#include "sim/network.h"

namespace scenarios {
namespace {

using sim::kMillisecond;
using sim::kSecond;
using sim::Site;
using sim::Stream;

constexpr uint16_t kPort = 9;
constexpr uint32_t kMsgRequest = 1, kMsgReply = 2;
constexpr sim::Duration kRetransmit = 60 * kMillisecond;
// After the workload, time for the requests after the heal and the final checks.
constexpr sim::Duration kTimeLimitSlack = 5 * kSecond;
constexpr uint64_t kRequestsAfterHeal = 10;

constexpr Site kSiteThink{"echo.think", Stream::kWorkload};

struct DedupEntry {
  uint64_t last_seq = 0;
  uint64_t reply = 0;
  sim::Time stamp = 0;  // when it was executed, by the clock the expiry uses
};

class EchoScenario final : public Scenario {
 public:
  explicit EchoScenario(const ScenarioOptions& o)
      : bug_(o.bug),
        params_(o.params),
        client_count_(static_cast<int>(o.params.integer("clients"))),
        workload_end_(o.params.duration("workload_end")),
        done_after_heal_(static_cast<size_t>(client_count_)) {}
  void setup(sim::Simulation& s) override;
  sim::Time time_limit() const override { return workload_end_ + kTimeLimitSlack; }
  void finish(sim::Simulation& s) override;
  uint64_t messages_sent() const override { return net_ ? net_->messages_sent() : 0; }

 private:
  void server(sim::Node& node);
  void client(sim::Node& node, int index);
  sim::Time dedup_clock(sim::Node& node) const {
    return bug_ == "short_dedup_window" ? node.local_time() : sim_->now();
  }

  std::string bug_;
  Params params_;
  const int client_count_;
  const sim::Time workload_end_;
  sim::Simulation* sim_ = nullptr;
  std::unique_ptr<sim::Network> net_;
  std::unique_ptr<Nemesis> nemesis_;
  // Server state (lives with the server node; the server never crashes in this scenario).
  std::map<uint64_t, DedupEntry> dedup_;
  uint64_t executions_ = 0;
  // Oracle state.
  std::map<std::pair<uint64_t, uint64_t>, uint64_t> executed_;  // (client, seq) -> result
  std::vector<uint64_t> done_after_heal_;  // per client
};

void EchoScenario::server(sim::Node& node) {
  sim::Simulation& s = *sim_;
  sim::Errno err;
  auto sock = net_->bind(node, kPort, &err);
  if (!sock) return;
  for (;;) {
    sim::Message m;
    sim::Address from;
    if (sock->recv_from(m, &from) != sim::kOk) return;
    sim::ByteReader r(m.payload);
    const uint64_t client = r.u64(), seq = r.u64();
    if (!r.ok() || m.type != kMsgRequest) continue;
    // Expire entries: the correct server only drops cached replies of idle clients after a
    // long time, and never forgets last_seq; the planted bug forgets the whole entry quickly.
    const sim::Time now = dedup_clock(node);
    for (auto it = dedup_.begin(); it != dedup_.end();) {
      const bool expire = bug_ == "short_dedup_window" && now - it->second.stamp > 80 * kMillisecond;
      it = expire ? dedup_.erase(it) : std::next(it);
    }
    DedupEntry& e = dedup_[client];
    if (seq < e.last_seq) continue;  // an old duplicate: its reply was already accepted
    if (seq > e.last_seq) {
      // Execute.
      const uint64_t result = sim::splitmix64_at(client * 1000003 + seq, ++executions_);
      auto key = std::make_pair(client, seq);
      if (executed_.count(key)) {
        s.violation("echo.exactly_once", "request " + std::to_string(seq) + " of client " + std::to_string(client) +
                                             " executed twice");
        return;
      }
      executed_[key] = result;
      s.event(node.id(), "execute", {{"client", client}, {"seq", seq}});
      if (bug_ == "stale_reply") {
        // BUG (planted): the reply is sent from the cache before the cache is updated.
        sim::Message stale;
        stale.type = kMsgReply;
        sim::ByteWriter sw(stale.payload);
        sw.u64(client);
        sw.u64(seq);
        sw.u64(e.reply);
        sock->send_to(from, std::move(stale));
      }
      e.last_seq = seq;
      e.reply = result;
      e.stamp = now;
      if (bug_ == "stale_reply") continue;
    }
    sim::Message reply;
    reply.type = kMsgReply;
    sim::ByteWriter w(reply.payload);
    w.u64(client);
    w.u64(seq);
    w.u64(e.reply);
    sock->send_to(from, std::move(reply));
  }
}

void EchoScenario::client(sim::Node& node, int index) {
  sim::Simulation& s = *sim_;
  sim::Errno err;
  auto sock = net_->bind(node, kPort, &err);
  if (!sock) return;
  const uint64_t me = static_cast<uint64_t>(index) + 1;
  uint64_t seq = 0;
  const size_t me_index = static_cast<size_t>(index);
  while (s.now() < workload_end_ || (nemesis_->healed() && done_after_heal_[me_index] < kRequestsAfterHeal)) {
    s.sched().sleep(s.chooser().range(kSiteThink, 0, 10 * kMillisecond));
    ++seq;
    uint64_t call = s.event(node.id(), "op_call", {{"client", index}, {"op", "echo"}, {"seq", seq}});
    (void)call;
    bool sent = false;
    for (;;) {
      sim::Message m;
      m.type = kMsgRequest;
      sim::ByteWriter w(m.payload);
      w.u64(me);
      w.u64(seq);
      // BUG (planted, no_retransmit): a lost request or reply is never sent again.
      if (!(bug_ == "no_retransmit" && sent)) sock->send_to(sim::Address{0, kPort}, std::move(m));
      sent = true;
      const sim::Time deadline = s.now() + kRetransmit;
      bool answered = false;
      for (;;) {
        sim::Message rep;
        if (sock->recv_until(rep, nullptr, deadline) != sim::kOk) break;
        sim::ByteReader r(rep.payload);
        const uint64_t c = r.u64(), rs = r.u64(), result = r.u64();
        if (!r.ok() || c != me || rs != seq) continue;  // a late reply to an earlier request
        auto it = executed_.find({me, seq});
        if (it == executed_.end() || it->second != result) {
          s.violation("echo.reply_matches", "client " + std::to_string(index) + " got a reply for request " +
                                                std::to_string(seq) + " that no execution produced");
          return;
        }
        answered = true;
        break;
      }
      if (answered) break;
    }
    s.event(node.id(), "op_return", {{"client", index}, {"op", "echo"}, {"seq", seq}});
    if (nemesis_->healed()) ++done_after_heal_[me_index];
  }
}

void EchoScenario::setup(sim::Simulation& s) {
  sim_ = &s;
  sim::NetworkConfig nc;
  nc.datagram_loss = static_cast<uint32_t>(params_.integer("datagram_loss_ppm"));  // default 5%
  nc.datagram_dup = static_cast<uint32_t>(params_.integer("datagram_dup_ppm"));    // default 3%
  net_ = std::make_unique<sim::Network>(s, nc);
  sim::Node& srv = s.add_node("server");
  srv.set_boot([this](sim::Node& n) { server(n); }, /*daemon=*/true);
  for (int i = 0; i < client_count_; ++i) {
    sim::Node& c = s.add_node("client-" + std::to_string(i));
    c.set_boot([this, i](sim::Node& n) { client(n, i); });
  }
  for (int i = 0; i < s.node_count(); ++i) s.node(i).start();
  NemesisConfig cfg;
  apply_nemesis_params(params_, &cfg);
  cfg.nodes = {0};
  for (int i = 0; i < s.node_count(); ++i) cfg.net_nodes.push_back(i);
  nemesis_ = std::make_unique<Nemesis>(s, net_.get(), std::vector<sim::BlockDevice*>{}, cfg);
  nemesis_->start();
}

void EchoScenario::finish(sim::Simulation& s) {
  for (size_t i = 0; i < done_after_heal_.size(); ++i) {
    if (done_after_heal_[i] < kRequestsAfterHeal) {
      s.violation("echo.liveness", "client " + std::to_string(i) + " finished only " + std::to_string(done_after_heal_[i]) +
                                       " requests after the heal");
      return;
    }
  }
}

std::vector<ParamSpec> echo_params() {
  std::vector<ParamSpec> ps = {
      count_param("clients", 3, 1, 16, "client nodes sending requests to the one server"),
      int_param("datagram_loss_ppm", 50000, 0, 500000, "datagrams lost, per million"),
      int_param("datagram_dup_ppm", 30000, 0, 500000, "datagrams duplicated, per million"),
      duration_param("workload_end", 3 * kSecond, 0, 60 * kSecond,
                     "clients stop sending after this (and after 10 requests since the heal)"),
  };
  for (ParamSpec& p : nemesis_params(kFaultPartition | kFaultClog | kFaultPause | kFaultClock | kFaultSwizzle,
                                     50 * kMillisecond, 2 * kSecond)) {
    ps.push_back(std::move(p));
  }
  return ps;
}

}  // namespace

ScenarioInfo echo_scenario_info() {
  return ScenarioInfo{
      "echo",
      "exactly-once requests over lossy, duplicating, reordering datagrams, with partitions, clogs, pauses and "
      "clock faults",
      {"echo.exactly_once", "echo.reply_matches", "echo.liveness", "sim.deadlock"},
      {"short_dedup_window", "stale_reply", "no_retransmit"},
      [](const ScenarioOptions& o) { return std::make_unique<EchoScenario>(o); },
      echo_params(),
      check_fault_window};
}

}  // namespace scenarios
