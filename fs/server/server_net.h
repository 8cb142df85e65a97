// ServerNet: the server's network front end. It accepts connections on the server's port,
// runs the greeting exchange, keeps one net::Connection per client rid — which outlives any one
// socket, so a client that reconnects to the same server continues where it was (its resend
// queue replays, duplicates are dropped) — and feeds every request to Server::handle. It is
// also the server's ClientLinks for pushes.
//
// Greeting rules (docs/protocol.md): a wrong fsid or format is refused with EINVAL; a client
// unknown to the server although it says it mounted before (it was reclaimed) is refused with
// ENOLINK; a client greeting this server for the first time (its term is another server's)
// gets fresh connection state.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <vector>

#include "fs/base/env.h"
#include "fs/net/connection.h"
#include "fs/server/server.h"
#include "sim/network.h"

namespace simfs::fs {

constexpr uint16_t kServerPort = 7000;

class ServerNet final : public ClientLinks {
 public:
  ServerNet(NodeEnv env, sim::Network& net, Server& server, uint16_t port = kServerPort);
  ~ServerNet() override;
  ServerNet(const ServerNet&) = delete;
  ServerNet& operator=(const ServerNet&) = delete;

  // Listens and starts accepting (in a task of the node).
  sim::Errno start();
  void stop();

  void send(uint64_t rid, proto::Cmd cmd, proto::Bytes data, net::Connection::ResponseHandler done) override;
  void forget(uint64_t rid) override;

  size_t connections() const { return peers_.size(); }
  void set_violation_handler(std::function<void(const std::string&)> h) { on_violation_ = std::move(h); }

 private:
  void accept_loop();
  void greet(std::unique_ptr<sim::StreamSocket> sock);

  NodeEnv env_;
  sim::Network& net_;
  Server& server_;
  uint16_t port_;
  std::unique_ptr<sim::Listener> listener_;
  std::map<uint64_t, std::shared_ptr<net::Connection>> peers_;  // by rid
  // Connections given up (forgotten) may still be on a receive task's stack: kept until the
  // front end goes.
  std::vector<std::shared_ptr<net::Connection>> retired_;
  std::function<void(const std::string&)> on_violation_;
  uint64_t connections_made_ = 0;
  std::shared_ptr<bool> alive_;
};

}  // namespace simfs::fs
