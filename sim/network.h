// Network: simulated stream connections (like TCP) and datagrams (like UDP) between nodes.
//
// Streams: ordered and reliable while the connection is up. A break (partition across it, a
// crash of either end, a drop filter) makes both ends fail with ECONNRESET and loses what was
// in flight. close() is graceful: the peer reads what was sent, then ESHUTDOWN. connect() to
// an unreachable node times out (ETIMEDOUT after connect_timeout); to a reachable node with no
// listener it fails with ECONNREFUSED.
// Datagrams: each may be lost, duplicated or delayed; independent latencies reorder them;
// they are dropped across a partition.
// Faults: per-link blocking (symmetric and asymmetric partitions, isolation), clogs (messages
// on a link held until the clog ends; connections survive), and per-message-type filters.
//
// Every send, receive and drop is traced with the message id, so a viewer can draw arrows.
#pragma once

#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "sim/errors.h"
#include "sim/event_loop.h"
#include "sim/node.h"
#include "sim/task.h"

namespace sim {

class Simulation;
class Network;

struct Address {
  int node = -1;
  uint16_t port = 0;
  auto operator<=>(const Address&) const = default;
};

struct Message {
  uint32_t type = 0;  // protocol message type: used by filters and shown in traces
  std::vector<uint8_t> payload;
  uint64_t id = 0;    // assigned by the network when sent
};

struct NetworkConfig {
  Duration latency_min = 50 * kMicrosecond;
  Duration latency_max = 500 * kMicrosecond;
  // A tail: with probability slow_num/fault_den a message takes up to slow_extra_max longer.
  uint32_t slow_num = 10000;
  Duration slow_extra_max = 20 * kMillisecond;
  Duration connect_timeout = 1 * kSecond;
  uint32_t fault_den = 1000000;
  uint32_t datagram_loss = 0;  // per fault_den
  uint32_t datagram_dup = 0;
};

// A targeted fault: messages matching (type, from, to) are dropped or delayed. -1 matches any.
struct MessageFilter {
  int64_t type = -1;
  int from = -1;
  int to = -1;
  enum class Action { kDrop, kDelay } action = Action::kDrop;
  Duration delay = 0;
};

class StreamSocket;
class Listener;
class DatagramSocket;

class Network {
 public:
  Network(Simulation& sim, NetworkConfig cfg = {});
  ~Network();
  Network(const Network&) = delete;
  Network& operator=(const Network&) = delete;

  const NetworkConfig& config() const { return cfg_; }
  void set_config(const NetworkConfig& c) { cfg_ = c; }

  // ---- streams ----
  std::unique_ptr<Listener> listen(Node& node, uint16_t port, Errno* err = nullptr);
  // Parks for the handshake. On failure returns nullptr and sets *err.
  std::unique_ptr<StreamSocket> connect(Node& from, Address to, Errno* err);

  // ---- datagrams ----
  std::unique_ptr<DatagramSocket> bind(Node& node, uint16_t port, Errno* err = nullptr);

  // ---- faults ----
  void block_link(int from, int to);
  void unblock_link(int from, int to);
  // Blocks every link from side a to side b (and back when symmetric).
  void partition(const std::vector<int>& a, const std::vector<int>& b, bool symmetric = true);
  void isolate(int node);
  void heal();  // unblocks every link
  bool reachable(int from, int to) const;
  // Holds messages on from->to until now + d (connections survive). -1 as `to` clogs all.
  void clog(int from, int to, Duration d);
  int add_filter(MessageFilter f);
  void remove_filter(int id);

  uint64_t messages_sent() const { return next_msg_ - 1; }

 private:
  friend class StreamSocket;
  friend class Listener;
  friend class DatagramSocket;
  struct Conn;
  struct Direction {
    Conn* conn;
    int dir;  // 0: client->server, 1: server->client
    std::deque<Message> in_flight;
    std::deque<TimerId> events;
    Time last_delivery = 0;
  };
  struct End {
    int node = -1;
    StreamSocket* socket = nullptr;
    std::deque<Message> inbox;
    WaitQueue readers;
    bool eof = false;     // peer closed gracefully and the FIN was read
    bool closed = false;  // this end was closed locally
  };
  struct Conn {
    Network* net;
    uint64_t id;
    bool broken = false;
    End ends[2];
    Direction dirs[2];
  };
  struct Datagram {
    Address from, to;
    Message msg;
    TimerId delivery;  // cancelled if the network goes away first
  };

  Duration draw_latency();
  Time clog_until(int from, int to) const;
  const MessageFilter* match_filter(const Message& m, int from, int to) const;
  Errno stream_send(Conn& c, int side, Message m);
  Errno stream_recv(Conn& c, int side, Message& out, Time deadline);
  void stream_close(Conn& c, int side);
  void break_conn(Conn& c, const char* why);
  void maybe_reap(Conn& c);
  static void deliver_stream_cb(void* ctx, uint64_t arg);
  static void deliver_dgram_cb(void* ctx, uint64_t arg);

  Simulation& sim_;
  NetworkConfig cfg_;
  uint64_t next_msg_ = 1;
  uint64_t next_conn_ = 1;
  uint64_t next_dgram_ = 1;
  int next_filter_ = 1;
  std::map<uint64_t, std::shared_ptr<Conn>> conns_;
  std::map<Address, Listener*> listeners_;
  std::map<Address, DatagramSocket*> dgram_sockets_;
  std::map<uint64_t, Datagram> dgrams_in_flight_;
  std::map<std::pair<int, int>, bool> blocked_;
  std::map<std::pair<int, int>, Time> clogs_;
  std::map<int, MessageFilter> filters_;
};

class StreamSocket final : public NodeResource {
 public:
  ~StreamSocket() override;
  Errno send(Message m);
  Errno recv(Message& out) { return recv_until(out, kTimeNever); }
  // ETIMEDOUT if nothing arrived by `deadline`.
  Errno recv_until(Message& out, Time deadline);
  void close();
  uint64_t conn_id() const { return conn_ ? conn_->id : 0; }
  int peer_node() const;
  bool broken() const { return !conn_ || conn_->broken; }
  void cut() override;

 private:
  friend class Network;
  friend class Listener;
  StreamSocket(Network& net, Node& node, std::shared_ptr<Network::Conn> conn, int side);
  Network* net_;
  Node* node_;
  std::shared_ptr<Network::Conn> conn_;
  int side_;
  uint64_t resource_id_;
};

class Listener final : public NodeResource {
 public:
  ~Listener() override;
  // Parks until a connection arrives. nullptr with *err set if the listener was cut.
  std::unique_ptr<StreamSocket> accept(Errno* err = nullptr);
  void cut() override;
  Address address() const { return addr_; }

 private:
  friend class Network;
  Listener(Network& net, Node& node, Address addr);
  Network* net_;
  Node* node_;
  Address addr_;
  bool cut_ = false;
  std::deque<std::shared_ptr<Network::Conn>> backlog_;
  WaitQueue waiters_;
  uint64_t resource_id_;
};

class DatagramSocket final : public NodeResource {
 public:
  ~DatagramSocket() override;
  Errno send_to(Address to, Message m);
  Errno recv_from(Message& out, Address* from = nullptr) { return recv_until(out, from, kTimeNever); }
  Errno recv_until(Message& out, Address* from, Time deadline);
  void cut() override;
  Address address() const { return addr_; }

 private:
  friend class Network;
  DatagramSocket(Network& net, Node& node, Address addr);
  Network* net_;
  Node* node_;
  Address addr_;
  bool cut_ = false;
  std::deque<std::pair<Address, Message>> inbox_;
  WaitQueue readers_;
  uint64_t resource_id_;
};

}  // namespace sim
