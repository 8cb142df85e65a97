#include "fs/net/connection.h"

#include "fs/base/assert.h"
#include "sim/task.h"

namespace simfs::fs::net {

namespace {
sim::Message to_message(const proto::Header& h, const proto::Bytes& data) {
  sim::Message m;
  m.type = message_type(h.cmd, h.response());
  m.payload = proto::encode_message(h, data);
  return m;
}
}  // namespace

Connection::Connection(NodeEnv env, std::string name, uint64_t first_id)
    : env_(env), name_(std::move(name)), next_id_(first_id), alive_(std::make_shared<bool>(true)) {}

Connection::~Connection() {
  *alive_ = false;
  // Nothing may run a response handler of a connection that is gone; the owner shuts down
  // first when it wants callers woken.
  pending_.clear();
  if (sock_) sock_->close();
  disconnected_.notify_all();
}

void Connection::send_request(proto::Cmd cmd, proto::Bytes data, ResponseHandler done) {
  if (shut_down_) {
    done(Reply{kMaybeDelivered, {}});
    return;
  }
  FS_ASSERT(pending_.size() < kQueueMax);
  proto::Header h;
  h.id = next_id_++;
  h.cmd = cmd;
  pending_.emplace(h.id, std::move(done));
  enqueue_and_send(h, std::move(data));
}

Reply Connection::call(proto::Cmd cmd, proto::Bytes data) {
  // The completion lives on this task's stack; the handler may run after a crash unwound the
  // task, so it reaches the completion only through a token the task invalidates.
  struct Wait {
    sim::Completion<Reply> done;
  };
  auto w = std::make_shared<Wait>();
  std::weak_ptr<Wait> weak = w;
  send_request(cmd, std::move(data), [weak](Reply&& r) {
    if (auto s = weak.lock()) s->done.set(std::move(r));
  });
  return std::move(w->done.wait());
}

void Connection::respond(const proto::Header& req, sim::Errno error, proto::Bytes data) {
  if (shut_down_) return;
  // Only requests of the current peer get answers, once each: an answer to a request of a peer
  // that is gone (new_peer) could complete an unrelated request of the new one with that id.
  if (!unanswered_.erase(req.id)) return;
  proto::Header h;
  h.id = req.id;
  h.cmd = req.cmd;
  h.flags = proto::kFlagResponse;
  h.error = proto::to_wire(error);
  enqueue_and_send(h, std::move(data));
}

void Connection::enqueue_and_send(proto::Header h, proto::Bytes data) {
  FS_ASSERT(queue_.size() < kQueueMax);
  FS_ASSERT(data.size() <= proto::kDataMax);
  h.seq = next_seq_++;
  h.data_len = static_cast<uint32_t>(data.size());
  queue_.push_back(Queued{h, std::move(data)});
  if (sock_) send_now(queue_.back());
}

void Connection::send_now(const Queued& q) {
  proto::Header h = q.header;
  h.recv_seq = recv_seq_;  // the freshest ack rides on every message, resends included
  ++stats_.sent;
  if (sim::Errno e = sock_->send(to_message(h, q.data)); e != 0) lost_socket(gen_, "send failed");
}

void Connection::attach(std::unique_ptr<sim::StreamSocket> sock) {
  FS_ASSERT(sock);
  if (shut_down_) {
    sock->close();
    return;
  }
  detach();
  sock_ = std::shared_ptr<sim::StreamSocket>(std::move(sock));
  const uint64_t gen = ++gen_;
  env_.event("net_attach", {{"conn", name_}, {"peer", sock_->peer_node()}, {"queued", queue_.size()},
                            {"recv_seq", recv_seq_}});
  std::shared_ptr<sim::StreamSocket> s = sock_;
  std::shared_ptr<bool> alive = alive_;
  // The connection may be destroyed before this task first runs: check before touching it.
  env_.spawn("net.recv " + name_, [this, s, gen, alive] {
    if (*alive) receive_loop(s, gen);
  }, /*daemon=*/true);
  // Replay in seq order. A send failure detaches, which ends the loop.
  // BUG (planted, no_resend_replay): what was queued before the break is never sent again.
  const size_t replay = no_resend_replay_ ? 0 : queue_.size();
  for (size_t i = 0; i < replay && i < queue_.size() && sock_ && gen_ == gen; ++i) {
    ++stats_.resent;
    send_now(queue_[i]);
  }
}

void Connection::detach() {
  if (!sock_) return;
  sock_->close();
  sock_.reset();
  ++gen_;
  disconnected_.notify_all();
}

void Connection::lost_socket(uint64_t gen, const char* why) {
  if (gen != gen_ || !sock_) return;
  env_.event("net_disconnect", {{"conn", name_}, {"why", why}});
  detach();
  if (on_disconnect_) on_disconnect_();
}

void Connection::wait_disconnected() {
  // The destructor wakes waiters too: once `alive` is false, nothing of *this may be touched.
  std::shared_ptr<bool> alive = alive_;
  const uint64_t gen = gen_;
  while (*alive && sock_ && gen_ == gen && !shut_down_) disconnected_.wait("net.connected");
}

void Connection::new_peer() {
  recv_seq_ = 0;
  unanswered_.clear();
  std::deque<Queued> kept;
  next_seq_ = 1;
  for (Queued& q : queue_) {
    if (q.header.response()) continue;  // answered a peer that no longer exists
    q.header.seq = next_seq_++;
    kept.push_back(std::move(q));
  }
  queue_ = std::move(kept);
  env_.event("net_new_peer", {{"conn", name_}, {"requests", queue_.size()}});
}

void Connection::shutdown() {
  if (shut_down_) return;
  shut_down_ = true;
  detach();
  queue_.clear();
  // Callbacks may start new requests (which now complete at once) or destroy things: take
  // the whole map first.
  std::map<uint64_t, ResponseHandler> pending = std::move(pending_);
  pending_.clear();
  for (auto& [id, done] : pending) done(Reply{kMaybeDelivered, {}});
  disconnected_.notify_all();
}

void Connection::receive_loop(std::shared_ptr<sim::StreamSocket> sock, uint64_t gen) {
  std::shared_ptr<bool> alive = alive_;
  for (;;) {
    sim::Message m;
    sim::Errno e = sock->recv(m);
    if (!*alive || gen != gen_) return;
    if (e) {
      lost_socket(gen, sim::errno_name(e));
      return;
    }
    proto::Header h;
    proto::Bytes data;
    std::string why;
    if (!proto::decode_message(m.payload, &h, &data, &why) || h.cmd == proto::Cmd::kGreeting) {
      ++stats_.bad_messages;
      env_.event("net_bad_message", {{"conn", name_}, {"why", why.empty() ? "greeting after attach" : why}}, true);
      if (on_violation_) on_violation_(name_ + ": a message that does not decode: " + (why.empty() ? "greeting after attach" : why));
      lost_socket(gen, "bad message");
      return;
    }
    ++stats_.received;
    if (h.seq <= recv_seq_) {
      ++stats_.duplicates;
      env_.event("net_duplicate", {{"conn", name_}, {"seq", h.seq}, {"cmd", proto::cmd_name(h.cmd)}});
      drop_acked(h.recv_seq);
      continue;
    }
    if (h.seq != recv_seq_ + 1) {
      env_.event("net_gap", {{"conn", name_}, {"seq", h.seq}, {"expected", recv_seq_ + 1}}, true);
      if (on_violation_) {
        on_violation_(name_ + ": message seq " + std::to_string(h.seq) + " arrived where " + std::to_string(recv_seq_ + 1) +
                      " was due (messages lost within a connection)");
      }
      lost_socket(gen, "sequence gap");
      return;
    }
    recv_seq_ = h.seq;
    drop_acked(h.recv_seq);
    process(h, std::move(data));
    if (!*alive || gen != gen_) return;
  }
}

void Connection::drop_acked(uint64_t ack) {
  // Responses are done once acknowledged; requests wait for their responses.
  for (auto it = queue_.begin(); it != queue_.end() && it->header.seq <= ack;) {
    if (it->header.response()) {
      it = queue_.erase(it);
    } else {
      ++it;
    }
  }
}

void Connection::process(const proto::Header& h, proto::Bytes data) {
  if (h.response()) {
    auto it = pending_.find(h.id);
    if (it == pending_.end() || queue_.empty()) return;  // answered already (a dead peer's reply)
    ResponseHandler done = std::move(it->second);
    pending_.erase(it);
    for (auto q = queue_.begin(); q != queue_.end(); ++q) {
      if (!q->header.response() && q->header.id == h.id) {
        queue_.erase(q);
        break;
      }
    }
    done(Reply{proto::from_wire(h.error), std::move(data)});
    return;
  }
  unanswered_.insert(h.id);
  if (on_request_) on_request_(h, std::move(data));
}

sim::Errno send_greeting(sim::StreamSocket& sock, const proto::Greeting& g, bool response, sim::Errno error) {
  proto::Header h;
  h.cmd = proto::Cmd::kGreeting;
  h.flags = response ? proto::kFlagResponse : 0;
  h.error = response ? proto::to_wire(error) : proto::WireError::kNone;
  proto::Bytes data = proto::encode(g);
  h.data_len = static_cast<uint32_t>(data.size());
  return sock.send(to_message(h, data));
}

sim::Errno recv_greeting(sim::StreamSocket& sock, sim::Time deadline, proto::Greeting* g, bool* response,
                         sim::Errno* err_out) {
  sim::Message m;
  if (sim::Errno e = sock.recv_until(m, deadline)) return e;
  proto::Header h;
  proto::Bytes data;
  std::string why;
  if (!proto::decode_message(m.payload, &h, &data, &why) || h.cmd != proto::Cmd::kGreeting ||
      !proto::decode(data, g)) {
    return EPROTO;
  }
  *response = h.response();
  *err_out = proto::from_wire(h.error);
  return 0;
}

}  // namespace simfs::fs::net
