#include "fs/client/net_server_link.h"

#include "fs/format/format.h"
#include "sim/task.h"

namespace simfs::fs {

NetServerLink::NetServerLink(NodeEnv env, sim::Network& net, NetServerLinkConfig cfg)
    : env_(env), net_(net), cfg_(cfg), conn_(env, "client " + std::to_string(cfg.rid) + "->server"),
      alive_(std::make_shared<bool>(true)) {
  if (cfg.bugs.has(Bug::kNoResendReplay)) conn_.plant_no_resend_replay();
}

NetServerLink::~NetServerLink() {
  *alive_ = false;
  conn_.shutdown();
}

void NetServerLink::shutdown() { conn_.shutdown(); }

sim::Errno NetServerLink::start(sim::Time deadline) {
  if (!started_) {
    started_ = true;
    std::shared_ptr<bool> alive = alive_;
    env_.spawn("client.connect", [this, alive] {
      if (*alive) connect_loop();
    }, /*daemon=*/true);
  }
  sim::LockGuard g(start_mu_);
  while (!start_done_) {
    if (!start_cv_.wait_until(start_mu_, deadline) && !start_done_) return ETIMEDOUT;
  }
  return start_result_;
}

void NetServerLink::connect_loop() {
  std::shared_ptr<bool> alive = alive_;
  auto finish_start = [this](sim::Errno e) {
    if (start_done_) return;
    start_done_ = true;
    start_result_ = e;
    start_cv_.notify_all();
  };
  for (;;) {
    if (!*alive || conn_.is_shut_down()) return;
    sim::Errno e = 0;
    sim::Address to = cfg_.server;
    if (cfg_.locate) {
      std::optional<sim::Address> found = cfg_.locate();
      if (!*alive || conn_.is_shut_down()) return;
      if (!found) {
        sim::this_task::sleep(cfg_.retry);
        continue;
      }
      to = *found;
    }
    std::unique_ptr<sim::StreamSocket> sock = net_.connect(env_.node(), to, &e);
    if (!*alive) return;
    if (!sock) {
      sim::this_task::sleep(cfg_.retry);
      continue;
    }
    proto::Greeting g{cfg_.fsid, format_hash(), server_term_, cfg_.rid, cfg_.flags | (farewell_ ? proto::kGreetFarewell : 0)};
    if (net::send_greeting(*sock, g, /*response=*/false) != 0) {
      sim::this_task::sleep(cfg_.retry);
      continue;
    }
    proto::Greeting answer;
    bool response = false;
    sim::Errno carried = 0;
    e = net::recv_greeting(*sock, env_.now() + cfg_.greeting_timeout, &answer, &response, &carried);
    if (!*alive) return;
    if (e || !response) {
      sock->close();
      sim::this_task::sleep(cfg_.retry);
      continue;
    }
    if (carried == EINVAL || carried == ENOLINK) {
      env_.event("client_refused", {{"rid", cfg_.rid}, {"err", sim::errno_name(carried)}}, /*fault=*/carried == ENOLINK);
      sock->close();
      finish_start(carried);
      conn_.shutdown();
      if (on_refused_) on_refused_(carried);
      return;
    }
    if (carried) {
      sock->close();
      sim::this_task::sleep(cfg_.retry);
      continue;
    }
    // A new term is a new server; a new session is a server that forgot this client (it
    // reclaimed it at a farewell whose answer was lost). Either way its sequence numbers
    // start again from 1.
    if (server_term_ != 0 && (answer.server_term != server_term_ || (answer.flags & proto::kGreetNewSession)))
      conn_.new_peer();
    env_.event("client_connected", {{"rid", cfg_.rid}, {"term", answer.server_term}, {"was", server_term_}});
    server_term_ = answer.server_term;
    conn_.attach(std::move(sock));
    finish_start(0);
    if (cfg_.locate) watch_location(to);
    conn_.wait_disconnected();
    if (!*alive) return;
    ++attach_gen_;
    sim::this_task::sleep(cfg_.retry);
  }
}

void NetServerLink::watch_location(sim::Address connected_to) {
  // A server that stalls (paused, cut off) keeps its sockets open, so the connection alone
  // would wait for it forever while another server is elected and times this client out.
  // Asking where the server is now, every relocate_interval, notices the new one.
  const std::shared_ptr<bool> alive = alive_;
  const uint64_t gen = attach_gen_;
  env_.spawn("client.relocate", [this, alive, gen, connected_to] {
    for (;;) {
      sim::this_task::sleep(cfg_.relocate_interval);
      if (!*alive || gen != attach_gen_ || conn_.is_shut_down() || !conn_.connected()) return;
      std::optional<sim::Address> now = cfg_.locate();
      if (!*alive || gen != attach_gen_ || conn_.is_shut_down() || !conn_.connected()) return;
      if (now && *now != connected_to) {
        env_.event("client_relocate", {{"rid", cfg_.rid}, {"from_node", connected_to.node}, {"to_node", now->node}});
        conn_.detach();
        return;
      }
    }
  }, /*daemon=*/true);
}

}  // namespace simfs::fs
