// NetServerLink: a ServerLink over simulated stream connections — the mount's connect worker
// (seed 001's client.c: connect, greet, keep reconnecting). The worker connects to the server's
// address, greets it {fsid, format hash, the term of the server it last talked to, rid, flags},
// and attaches the socket to one net::Connection that outlives every socket. A greeting answered
// with a new term means a new server: the connection's state is reset (net::Connection::
// new_peer) and its queued requests are resent to it.
//
// Contract:
// - start() parks until the first greeting is answered: 0, EINVAL (the server refused the fsid
//   or format: this is not our filesystem), or ENOLINK (the server reclaimed this rid). It
//   keeps retrying while the server is unreachable, up to `deadline`: ETIMEDOUT after it.
// - After start(), the worker keeps the connection up until shutdown(). A later ENOLINK
//   greeting shuts the link down (every pending request completes with kMaybeDelivered) and
//   calls on_refused, so the mount stops.
// - set_farewell(): greetings from now on carry the FAREWELL flag (an unmounting client).
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>

#include "fs/base/bugs.h"
#include "fs/base/env.h"
#include "fs/client/server_link.h"
#include "fs/net/connection.h"
#include "sim/network.h"
#include "sim/sync.h"

namespace simfs::fs {

struct NetServerLinkConfig {
  sim::Address server;
  // If set, asked before every connection attempt where the server is now (it may park for
  // I/O); nothing means "no server known yet": wait `retry` and ask again. `server` is unused.
  std::function<std::optional<sim::Address>()> locate;
  // With locate: how often a connected link asks again, and drops the connection when the
  // server is elsewhere now (the one it talks to may have stalled and been replaced).
  sim::Duration relocate_interval = 200 * sim::kMillisecond;
  uint64_t fsid = 0;
  uint64_t rid = 0;
  uint64_t flags = 0;  // proto::kGreetVoter
  BugSet bugs;
  sim::Duration retry = 50 * sim::kMillisecond;
  sim::Duration greeting_timeout = 500 * sim::kMillisecond;
};

class NetServerLink final : public ServerLink {
 public:
  NetServerLink(NodeEnv env, sim::Network& net, NetServerLinkConfig cfg);
  ~NetServerLink() override;

  sim::Errno start(sim::Time deadline);
  void set_farewell(bool on) override { farewell_ = on; }
  void set_on_refused(std::function<void(sim::Errno)> f) { on_refused_ = std::move(f); }
  void set_violation_handler(std::function<void(const std::string&)> h) { conn_.set_violation_handler(std::move(h)); }
  uint64_t server_term() const { return server_term_; }
  const net::ConnectionStats& stats() const { return conn_.stats(); }

  void send_request(proto::Cmd cmd, proto::Bytes data, net::Connection::ResponseHandler done) override {
    conn_.send_request(cmd, std::move(data), std::move(done));
  }
  net::Reply call(proto::Cmd cmd, proto::Bytes data) override { return conn_.call(cmd, std::move(data)); }
  void respond(const proto::Header& push, sim::Errno error, proto::Bytes data) override {
    conn_.respond(push, error, std::move(data));
  }
  void set_push_handler(PushHandler h) override { conn_.set_request_handler(std::move(h)); }
  uint64_t rid() const override { return cfg_.rid; }
  void shutdown() override;

 private:
  void connect_loop();
  void watch_location(sim::Address connected_to);

  NodeEnv env_;
  sim::Network& net_;
  NetServerLinkConfig cfg_;
  net::Connection conn_;
  uint64_t server_term_ = 0;
  uint64_t attach_gen_ = 0;  // bumped when a connection ends: its location watcher stops
  bool farewell_ = false;
  bool started_ = false;
  sim::Errno start_result_ = 0;
  bool start_done_ = false;
  sim::CondVar start_cv_;
  sim::Mutex start_mu_;
  std::function<void(sim::Errno)> on_refused_;
  std::shared_ptr<bool> alive_;
};

}  // namespace simfs::fs
