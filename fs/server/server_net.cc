#include "fs/server/server_net.h"

#include "fs/base/assert.h"

namespace simfs::fs {

ServerNet::ServerNet(NodeEnv env, sim::Network& net, Server& server, uint16_t port)
    : env_(env), net_(net), server_(server), port_(port), alive_(std::make_shared<bool>(true)) {}

ServerNet::~ServerNet() {
  *alive_ = false;
  for (auto& [rid, c] : peers_) c->shutdown();
}

sim::Errno ServerNet::start() {
  sim::Errno e = 0;
  listener_ = net_.listen(env_.node(), port_, &e);
  if (!listener_) return e ? e : EADDRINUSE;
  std::shared_ptr<bool> alive = alive_;
  env_.spawn("server.accept", [this, alive] {
    if (*alive) accept_loop();
  }, /*daemon=*/true);
  return 0;
}

void ServerNet::stop() {
  if (listener_) listener_->cut();
  for (auto& [rid, c] : peers_) {
    c->shutdown();
    retired_.push_back(c);
  }
  peers_.clear();
}

void ServerNet::accept_loop() {
  std::shared_ptr<bool> alive = alive_;
  for (;;) {
    sim::Errno e = 0;
    std::unique_ptr<sim::StreamSocket> s = listener_->accept(&e);
    if (!*alive || !s) return;
    // The greeting may park (a new client's record is committed first): one task each.
    auto holder = std::make_shared<std::unique_ptr<sim::StreamSocket>>(std::move(s));
    env_.spawn("server.greet", [this, alive, holder] {
      if (*alive) greet(std::move(*holder));
    }, /*daemon=*/true);
  }
}

void ServerNet::greet(std::unique_ptr<sim::StreamSocket> sock) {
  std::shared_ptr<bool> alive = alive_;
  proto::Greeting g;
  bool response = false;
  sim::Errno carried = 0;
  sim::Errno e = net::recv_greeting(*sock, env_.now() + sim::kSecond, &g, &response, &carried);
  if (!*alive) return;
  if (e || response) {
    env_.event("server_bad_greeting", {{"err", sim::errno_name(e ? e : EPROTO)}}, /*fault=*/true);
    sock->close();
    return;
  }
  proto::Greeting out;
  e = server_.greet(g, static_cast<uint32_t>(sock->peer_node()), &out);
  if (!*alive) return;
  env_.event("server_greeting", {{"rid", g.rid}, {"client_term", g.server_term}, {"term", out.server_term},
                                 {"err", sim::errno_name(e)}});
  if (e) {
    (void)net::send_greeting(*sock, out, /*response=*/true, e);
    sock->close();
    return;
  }
  const uint64_t rid = g.rid;
  auto it = peers_.find(rid);
  // A client that last talked to another server starts afresh with this one: whatever state a
  // connection of ours has for it is from an earlier life and must not be replayed.
  if (it != peers_.end() && g.server_term != server_.term()) {
    it->second->shutdown();
    retired_.push_back(it->second);
    peers_.erase(it);
    it = peers_.end();
  }
  if (it == peers_.end()) {
    out.flags |= proto::kGreetNewSession;
    // Ids no earlier connection to any client used, of this server or an earlier one: the
    // term in the top bits, a count of connections below.
    const uint64_t first_id = (server_.term() << 40) | (++connections_made_ << 20) | 1;
    auto conn = std::make_shared<net::Connection>(env_, "server<-" + std::to_string(rid), first_id);
    std::weak_ptr<net::Connection> weak = conn;
    conn->set_request_handler([this, alive, rid, weak](const proto::Header& h, proto::Bytes data) {
      if (!*alive) return;
      server_.handle(rid, h, std::move(data), [weak, h](sim::Errno err, proto::Bytes out) {
        if (auto c = weak.lock()) c->respond(h, err, std::move(out));
      });
    });
    if (on_violation_) conn->set_violation_handler(on_violation_);
    conn->set_disconnect_handler([this, alive, rid] {
      if (*alive) server_.client_disconnected(rid);
    });
    it = peers_.emplace(rid, std::move(conn)).first;
  }
  if (sim::Errno se = net::send_greeting(*sock, out, /*response=*/true, 0); se != 0) {
    sock->close();
    return;
  }
  it->second->attach(std::move(sock));
  server_.client_connected(rid);
}

void ServerNet::send(uint64_t rid, proto::Cmd cmd, proto::Bytes data, net::Connection::ResponseHandler done) {
  auto it = peers_.find(rid);
  if (it == peers_.end()) {
    done(net::Reply{net::kMaybeDelivered, {}});
    return;
  }
  it->second->send_request(cmd, std::move(data), std::move(done));
}

void ServerNet::forget(uint64_t rid) {
  auto it = peers_.find(rid);
  if (it == peers_.end()) return;
  std::shared_ptr<net::Connection> c = it->second;
  peers_.erase(it);
  retired_.push_back(c);
  // Graceful: what was sent (a farewell answer) is still delivered before the close.
  c->shutdown();
}

}  // namespace simfs::fs
