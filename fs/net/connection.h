// Connection: one end of the client-server protocol between two nodes (fs/proto/wire.h) over
// simulated stream sockets, with the reliability scoutfs builds on top of TCP: it survives
// its sockets. A connection outlives any one socket: when a socket breaks, requests and
// unacknowledged responses stay queued, and attaching the next socket replays them in order.
//
// Contract:
// - Every message gets the next seq; every message sent carries recv_seq, the highest seq
//   received from the peer, which acknowledges everything up to it (cumulative acks).
// - The resend queue holds each request until its response arrives and each response until
//   the peer acknowledges it. attach() sends the whole queue again, in seq order. The receiver
//   drops any message whose seq it has already seen (duplicates) and breaks the socket on a
//   gap, so each message is processed at most once per pair of connection states.
// - A request's response is matched by id; `done` runs in the receive task, in the order the
//   responses arrive, before any later message is looked at — so a lock grant is applied before
//   an invalidation that follows it. call() parks until then.
// - Incoming requests go to the request handler, also in arrival order, in the receive task.
//   The handler must not park: it answers at once with respond() or hands the request to a task
//   that answers later. Each request is answered at most once, and only while its peer is the
//   current one: respond() for a request of a peer that new_peer() replaced sends nothing.
// - new_peer(): the peer is a new incarnation (a restarted server: greeting with a new term).
//   Its view of our seqs is gone: recv_seq restarts, queued responses (answers to a dead peer)
//   are dropped, and queued requests are renumbered and will be resent. The new peer may
//   execute a request the old one already executed, so handlers must be idempotent.
// - shutdown(): every unanswered request completes with kMaybeDelivered (the peer may or may
//   not have executed it) and nothing more is sent or received.
// - Decoding errors (fs/proto) break the socket with a trace event; they never reach handlers.
// - The receive task belongs to the node of `env`: a crash unwinds it with the node.
#pragma once

#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <set>
#include <memory>
#include <string>

#include "fs/base/env.h"
#include "fs/proto/messages.h"
#include "fs/proto/wire.h"
#include "sim/network.h"
#include "sim/sync.h"

namespace simfs::fs::net {

// The request may or may not have been executed: the connection went away before its answer.
constexpr sim::Errno kMaybeDelivered = ESHUTDOWN;

struct Reply {
  sim::Errno error = 0;  // the response's error (fs/proto/wire.h), or kMaybeDelivered
  proto::Bytes data;
};

// sim::Message::type of a protocol message, so network filters and traces name commands.
inline uint32_t message_type(proto::Cmd cmd, bool response) {
  return static_cast<uint32_t>(cmd) | (response ? 0x80u : 0u);
}

struct ConnectionStats {
  uint64_t sent = 0;
  uint64_t received = 0;
  uint64_t resent = 0;       // messages sent again by attach()
  uint64_t duplicates = 0;   // received messages dropped as already seen
  uint64_t bad_messages = 0; // messages that did not decode (each broke its socket)
};

class Connection {
 public:
  using RequestHandler = std::function<void(const proto::Header& h, proto::Bytes data)>;
  using ResponseHandler = std::function<void(Reply&& r)>;

  // `name` tags trace events ("client 3", "server"). Request ids start at first_id: a peer may
  // still hold requests of an earlier connection (or an earlier server), and an answer to one of
  // those must never match a request of this one, so whoever replaces a connection gives the
  // new one ids no earlier one used.
  Connection(NodeEnv env, std::string name, uint64_t first_id = 1);
  ~Connection();
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  void set_request_handler(RequestHandler h) { on_request_ = std::move(h); }
  // Runs on what the protocol makes impossible between two correct peers over streams that never
  // reorder: a gap in the peer's seqs, or a message that does not decode. (The socket breaks
  // either way; an oracle wants to know.)
  void set_violation_handler(std::function<void(const std::string&)> h) { on_violation_ = std::move(h); }
  // Planted bug "no_resend_replay" (fs/base/bugs.h): attach() does not replay the queue.
  void plant_no_resend_replay() { no_resend_replay_ = true; }
  // Runs when an attached socket is lost (broken, closed by the peer, or a bad message), not
  // when detach() or shutdown() is called.
  void set_disconnect_handler(std::function<void()> h) { on_disconnect_ = std::move(h); }

  // Queues a request and sends it if a socket is attached. `done` runs exactly once.
  void send_request(proto::Cmd cmd, proto::Bytes data, ResponseHandler done);
  // Sends a request and parks until its response (or kMaybeDelivered at shutdown).
  Reply call(proto::Cmd cmd, proto::Bytes data);
  // Answers the request `req` (its id and command). After shutdown() it does nothing.
  void respond(const proto::Header& req, sim::Errno error, proto::Bytes data);

  // Starts using `sock` (after the greeting exchange): replays the resend queue in order and
  // starts a receive task. Any previous socket is closed first.
  void attach(std::unique_ptr<sim::StreamSocket> sock);
  // Closes the current socket (the queues stay).
  void detach();
  void new_peer();
  void shutdown();

  bool connected() const { return sock_ != nullptr; }
  bool is_shut_down() const { return shut_down_; }
  // Parks until the socket attached now is gone (at once if there is none), or until the
  // connection is shut down or destroyed (after which the caller must not touch it).
  void wait_disconnected();
  size_t pending_requests() const { return pending_.size(); }
  size_t queued_messages() const { return queue_.size(); }
  const ConnectionStats& stats() const { return stats_; }

 private:
  struct Queued {
    proto::Header header;
    proto::Bytes data;
  };
  void enqueue_and_send(proto::Header h, proto::Bytes data);
  void send_now(const Queued& q);
  void receive_loop(std::shared_ptr<sim::StreamSocket> sock, uint64_t gen);
  void process(const proto::Header& h, proto::Bytes data);
  void drop_acked(uint64_t ack);
  void lost_socket(uint64_t gen, const char* why);

  // Bounds: far above what any caller keeps in flight; reaching one is a bug made visible.
  static constexpr size_t kQueueMax = 1 << 14;

  NodeEnv env_;
  std::string name_;
  RequestHandler on_request_;
  std::function<void()> on_disconnect_;
  std::function<void(const std::string&)> on_violation_;
  std::shared_ptr<sim::StreamSocket> sock_;
  uint64_t gen_ = 0;  // bumped per attached socket: a stale receive task stops
  uint64_t next_seq_ = 1;
  uint64_t recv_seq_ = 0;
  uint64_t next_id_ = 1;
  std::deque<Queued> queue_;                    // the resend queue, in seq order
  std::map<uint64_t, ResponseHandler> pending_;  // by request id
  std::set<uint64_t> unanswered_;               // ids of the peer's requests still to answer
  bool shut_down_ = false;
  bool no_resend_replay_ = false;
  sim::WaitQueue disconnected_;
  std::shared_ptr<bool> alive_;  // receive tasks check it: the connection may be gone
  ConnectionStats stats_;
};

// The greeting exchange on a fresh socket, before attach(): greetings are not numbered and
// never resent. recv_greeting returns ETIMEDOUT past `deadline`, EPROTO for anything but a
// well-formed greeting, or the socket's error; *err_out is the error the response carried.
sim::Errno send_greeting(sim::StreamSocket& sock, const proto::Greeting& g, bool response, sim::Errno error = 0);
sim::Errno recv_greeting(sim::StreamSocket& sock, sim::Time deadline, proto::Greeting* g, bool* response,
                         sim::Errno* err_out);

}  // namespace simfs::fs::net
