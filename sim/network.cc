#include "sim/network.h"

#include "sim/simulation.h"

namespace sim {

namespace {
constexpr Site kSiteLatency{"net.latency", Stream::kNetwork};
constexpr Site kSiteSlow{"net.latency.slow", Stream::kNetwork};
constexpr Site kSiteSlowExtra{"net.latency.slow_extra", Stream::kNetwork};
constexpr Site kSiteDgramLoss{"net.fault.datagram_loss", Stream::kFaults};
constexpr Site kSiteDgramDup{"net.fault.datagram_dup", Stream::kFaults};
// Internal message type for a graceful close, delivered in order after the data.
constexpr uint32_t kFinType = UINT32_MAX;
}  // namespace

Network::Network(Simulation& sim, NetworkConfig cfg) : sim_(sim), cfg_(cfg) {}

Network::~Network() {
  for (auto& [id, c] : conns_) {
    for (auto& d : c->dirs) {
      for (TimerId t : d.events) sim_.loop().cancel(t);
    }
    for (auto& e : c->ends) {
      if (e.socket) e.socket->net_ = nullptr;
    }
  }
  for (auto& [a, l] : listeners_) l->net_ = nullptr;
  for (auto& [a, s] : dgram_sockets_) s->net_ = nullptr;
  // Their delivery events point at this network.
  for (auto& [id, d] : dgrams_in_flight_) sim_.loop().cancel(d.delivery);
}

Duration Network::draw_latency() {
  Duration d = sim_.chooser().range(kSiteLatency, cfg_.latency_min, cfg_.latency_max);
  if (sim_.chooser().chance(kSiteSlow, cfg_.slow_num, cfg_.fault_den)) {
    d += sim_.chooser().range(kSiteSlowExtra, 0, cfg_.slow_extra_max);
  }
  return d;
}

bool Network::reachable(int from, int to) const {
  auto it = blocked_.find({from, to});
  return it == blocked_.end() || !it->second;
}

Time Network::clog_until(int from, int to) const {
  Time t = 0;
  auto a = clogs_.find({from, to});
  if (a != clogs_.end()) t = a->second;
  auto b = clogs_.find({from, -1});
  if (b != clogs_.end() && b->second > t) t = b->second;
  return t;
}

const MessageFilter* Network::match_filter(const Message& m, int from, int to) const {
  for (const auto& [id, f] : filters_) {
    if ((f.type < 0 || f.type == m.type) && (f.from < 0 || f.from == from) && (f.to < 0 || f.to == to)) return &f;
  }
  return nullptr;
}

// ---- faults ----

void Network::block_link(int from, int to) {
  if (!reachable(from, to)) return;
  blocked_[{from, to}] = true;
  sim_.event(-1, "partition", {{"from", from}, {"to", to}}, true);
  // A stream needs both directions: every connection across this link breaks.
  std::vector<Conn*> doomed;
  for (auto& [id, c] : conns_) {
    if (c->broken) continue;
    const int a = c->ends[0].node, b = c->ends[1].node;
    if ((a == from && b == to) || (a == to && b == from)) doomed.push_back(c.get());
  }
  for (Conn* c : doomed) break_conn(*c, "partition");
}

void Network::unblock_link(int from, int to) {
  if (reachable(from, to)) return;
  blocked_[{from, to}] = false;
  sim_.event(-1, "heal", {{"from", from}, {"to", to}}, true);
}

void Network::partition(const std::vector<int>& a, const std::vector<int>& b, bool symmetric) {
  for (int x : a) {
    for (int y : b) {
      if (x == y) continue;
      block_link(x, y);
      if (symmetric) block_link(y, x);
    }
  }
}

void Network::isolate(int node) {
  for (int i = 0; i < sim_.node_count(); ++i) {
    if (i == node) continue;
    block_link(node, i);
    block_link(i, node);
  }
}

void Network::heal() {
  std::vector<std::pair<int, int>> links;
  for (const auto& [link, b] : blocked_) {
    if (b) links.push_back(link);
  }
  for (auto [f, t] : links) unblock_link(f, t);
}

void Network::clog(int from, int to, Duration d) {
  const Time until = sim_.now() + d;
  Time& t = clogs_[{from, to}];
  if (until > t) t = until;
  sim_.event(-1, "clog", {{"from", from}, {"to", to}, {"until", until}}, true);
}

int Network::add_filter(MessageFilter f) {
  const int id = next_filter_++;
  filters_.emplace(id, f);
  return id;
}

void Network::remove_filter(int id) { filters_.erase(id); }

// ---- streams ----

std::unique_ptr<Listener> Network::listen(Node& node, uint16_t port, Errno* err) {
  Address a{node.id(), port};
  if (listeners_.count(a)) {
    if (err) *err = EADDRINUSE;
    return nullptr;
  }
  std::unique_ptr<Listener> l(new Listener(*this, node, a));
  listeners_[a] = l.get();
  if (err) *err = kOk;
  return l;
}

std::unique_ptr<StreamSocket> Network::connect(Node& from, Address to, Errno* err) {
  const Time start = sim_.now();
  sim_.sched().sleep(draw_latency());
  if (!from.up()) {
    *err = ECONNRESET;
    return nullptr;
  }
  if (!reachable(from.id(), to.node) || !reachable(to.node, from.id())) {
    const Time deadline = start + cfg_.connect_timeout;
    if (sim_.now() < deadline) sim_.sched().sleep(deadline - sim_.now());
    sim_.event(from.id(), "connect", {{"to", to.node}, {"port", to.port}, {"err", "ETIMEDOUT"}});
    *err = ETIMEDOUT;
    return nullptr;
  }
  auto lit = listeners_.find(to);
  if (lit == listeners_.end() || lit->second->cut_) {
    sim_.sched().sleep(draw_latency());
    sim_.event(from.id(), "connect", {{"to", to.node}, {"port", to.port}, {"err", "ECONNREFUSED"}});
    *err = ECONNREFUSED;
    return nullptr;
  }
  auto c = std::make_shared<Conn>();
  c->net = this;
  c->id = next_conn_++;
  c->ends[0].node = from.id();
  c->ends[1].node = to.node;
  for (int d = 0; d < 2; ++d) {
    c->dirs[d].conn = c.get();
    c->dirs[d].dir = d;
  }
  conns_[c->id] = c;
  Listener* l = lit->second;
  l->backlog_.push_back(c);
  l->waiters_.notify_one();
  sim_.event(from.id(), "connect", {{"to", to.node}, {"port", to.port}, {"conn", c->id}});
  std::unique_ptr<StreamSocket> s(new StreamSocket(*this, from, c, 0));
  sim_.sched().sleep(draw_latency());  // the handshake's second half
  *err = kOk;
  return s;
}

Errno Network::stream_send(Conn& c, int side, Message m) {
  if (c.broken) return ECONNRESET;
  const int from = c.ends[side].node, to = c.ends[1 - side].node;
  m.id = next_msg_++;
  const MessageFilter* f = match_filter(m, from, to);
  sim_.event(from, "send", {{"msg", m.id}, {"from", from}, {"to", to}, {"conn", c.id}, {"type", m.type}, {"size", m.payload.size()}});
  Duration extra = 0;
  if (f && f->action == MessageFilter::Action::kDrop) {
    sim_.event(from, "drop", {{"msg", m.id}, {"from", from}, {"to", to}, {"reason", "filter"}}, true);
    break_conn(c, "filter");
    return ECONNRESET;
  }
  if (f) extra = f->delay;
  Direction& d = c.dirs[side];
  Time at = sim_.now() + draw_latency() + extra;
  const Time clog = clog_until(from, to);
  if (clog > at) at = clog;
  if (d.last_delivery > at) at = d.last_delivery;  // FIFO
  d.last_delivery = at;
  d.in_flight.push_back(std::move(m));
  d.events.push_back(sim_.loop().schedule_at(at, deliver_stream_cb, &d));
  return kOk;
}

void Network::deliver_stream_cb(void* ctx, uint64_t) {
  Direction& d = *static_cast<Direction*>(ctx);
  Conn& c = *d.conn;
  Network* net = c.net;
  Message m = std::move(d.in_flight.front());
  d.in_flight.pop_front();
  // Deliveries due at the same instant may run in any order (the loop's tie-break), so the
  // event running now is not necessarily the oldest: drop the id that is no longer pending
  // (the loop freed it before calling us). Messages still go in order: always the front.
  for (auto it = d.events.begin(); it != d.events.end(); ++it) {
    if (!net->sim_.loop().pending(*it)) {
      d.events.erase(it);
      break;
    }
  }
  End& dst = c.ends[1 - d.dir];
  const int from = c.ends[d.dir].node;
  if (m.type == kFinType) {
    net->sim_.event(dst.node, "recv_fin", {{"conn", c.id}, {"from", from}});
  } else {
    net->sim_.event(dst.node, "recv", {{"msg", m.id}, {"from", from}, {"to", dst.node}, {"conn", c.id}, {"type", m.type}});
  }
  dst.inbox.push_back(std::move(m));
  dst.readers.notify_all();
  net->maybe_reap(c);  // may destroy c: nothing after this
}

Errno Network::stream_recv(Conn& c, int side, Message& out, Time deadline) {
  End& e = c.ends[side];
  for (;;) {
    if (e.closed) return ESHUTDOWN;
    if (c.broken) return ECONNRESET;
    if (e.eof) return ESHUTDOWN;
    if (!e.inbox.empty()) {
      Message m = std::move(e.inbox.front());
      e.inbox.pop_front();
      if (m.type == kFinType) {
        e.eof = true;
        return ESHUTDOWN;
      }
      out = std::move(m);
      return kOk;
    }
    if (!e.readers.wait_until("recv", deadline, c.id)) return ETIMEDOUT;
  }
}

void Network::stream_close(Conn& c, int side) {
  c.ends[side].socket = nullptr;
  c.ends[side].closed = true;
  c.ends[side].readers.notify_all();  // a task blocked in recv on this end gets ESHUTDOWN
  if (!c.broken) {
    Message fin;
    fin.type = kFinType;
    Direction& d = c.dirs[side];
    Time at = sim_.now() + draw_latency();
    if (d.last_delivery > at) at = d.last_delivery;
    d.last_delivery = at;
    d.in_flight.push_back(std::move(fin));
    d.events.push_back(sim_.loop().schedule_at(at, deliver_stream_cb, &d));
    sim_.event(c.ends[side].node, "close", {{"conn", c.id}});
  }
  maybe_reap(c);
}

void Network::break_conn(Conn& c, const char* why) {
  if (c.broken) return;
  c.broken = true;
  sim_.event(-1, "conn_break", {{"conn", c.id}, {"a", c.ends[0].node}, {"b", c.ends[1].node}, {"why", why}}, true);
  for (auto& d : c.dirs) {
    for (TimerId t : d.events) sim_.loop().cancel(t);
    for (const Message& m : d.in_flight) {
      if (m.type != kFinType) {
        sim_.event(c.ends[d.dir].node, "drop", {{"msg", m.id}, {"from", c.ends[d.dir].node}, {"to", c.ends[1 - d.dir].node}, {"reason", why}}, true);
      }
    }
    d.events.clear();
    d.in_flight.clear();
  }
  for (auto& e : c.ends) {
    e.inbox.clear();
    e.readers.notify_all();
  }
  maybe_reap(c);
}

void Network::maybe_reap(Conn& c) {
  if (c.ends[0].socket || c.ends[1].socket) return;
  if (!c.dirs[0].events.empty() || !c.dirs[1].events.empty()) return;
  const uint64_t id = c.id;
  conns_.erase(id);  // sockets are gone: this drops the last owner
}

StreamSocket::StreamSocket(Network& net, Node& node, std::shared_ptr<Network::Conn> conn, int side)
    : net_(&net), node_(&node), conn_(std::move(conn)), side_(side) {
  conn_->ends[side_].socket = this;
  resource_id_ = node.add_resource(this);
}

StreamSocket::~StreamSocket() {
  node_->remove_resource(resource_id_);
  close();
}

Errno StreamSocket::send(Message m) {
  if (!net_ || !conn_) return ESHUTDOWN;
  return net_->stream_send(*conn_, side_, std::move(m));
}

Errno StreamSocket::recv_until(Message& out, Time deadline) {
  if (!net_ || !conn_) return ESHUTDOWN;
  // Hold the connection: another task may close this socket while we wait.
  std::shared_ptr<Network::Conn> c = conn_;
  return net_->stream_recv(*c, side_, out, deadline);
}

void StreamSocket::close() {
  if (!conn_) return;
  std::shared_ptr<Network::Conn> c = std::move(conn_);
  if (net_) {
    net_->stream_close(*c, side_);
  } else {
    c->ends[side_].socket = nullptr;
    c->ends[side_].closed = true;
    c->ends[side_].readers.notify_all();
  }
}

int StreamSocket::peer_node() const { return conn_ ? conn_->ends[1 - side_].node : -1; }

void StreamSocket::cut() {
  if (!conn_) return;
  if (net_) net_->break_conn(*conn_, "crash");
  close();
}

// ---- Listener ----

Listener::Listener(Network& net, Node& node, Address addr) : net_(&net), node_(&node), addr_(addr) {
  resource_id_ = node.add_resource(this);
}

Listener::~Listener() {
  node_->remove_resource(resource_id_);
  cut();
}

std::unique_ptr<StreamSocket> Listener::accept(Errno* err) {
  for (;;) {
    if (cut_ || !net_) {
      if (err) *err = ESHUTDOWN;
      return nullptr;
    }
    if (!backlog_.empty()) {
      std::shared_ptr<Network::Conn> c = std::move(backlog_.front());
      backlog_.pop_front();
      if (c->broken) continue;
      // The peer may have closed before we accepted, and the connection then been reaped (no
      // socket on either end): register it again, or nothing would own it (and its pending
      // deliveries) once our socket closes, and partitions would not break it.
      net_->conns_.emplace(c->id, c);
      if (err) *err = kOk;
      return std::unique_ptr<StreamSocket>(new StreamSocket(*net_, *node_, std::move(c), 1));
    }
    waiters_.wait("accept", addr_.port);
  }
}

void Listener::cut() {
  if (cut_) return;
  cut_ = true;
  if (net_) {
    net_->listeners_.erase(addr_);
    for (auto& c : backlog_) net_->break_conn(*c, "listener closed");
  }
  backlog_.clear();
  waiters_.notify_all();
}

// ---- datagrams ----

std::unique_ptr<DatagramSocket> Network::bind(Node& node, uint16_t port, Errno* err) {
  Address a{node.id(), port};
  if (dgram_sockets_.count(a)) {
    if (err) *err = EADDRINUSE;
    return nullptr;
  }
  std::unique_ptr<DatagramSocket> s(new DatagramSocket(*this, node, a));
  dgram_sockets_[a] = s.get();
  if (err) *err = kOk;
  return s;
}

DatagramSocket::DatagramSocket(Network& net, Node& node, Address addr) : net_(&net), node_(&node), addr_(addr) {
  resource_id_ = node.add_resource(this);
}

DatagramSocket::~DatagramSocket() {
  node_->remove_resource(resource_id_);
  cut();
}

void DatagramSocket::cut() {
  if (cut_) return;
  cut_ = true;
  if (net_) net_->dgram_sockets_.erase(addr_);
  inbox_.clear();
  readers_.notify_all();
}

Errno DatagramSocket::send_to(Address to, Message m) {
  if (cut_ || !net_) return ESHUTDOWN;
  Network& net = *net_;
  Simulation& sim = net.sim_;
  const int from = addr_.node;
  m.id = net.next_msg_++;
  sim.event(from, "send", {{"msg", m.id}, {"from", from}, {"to", to.node}, {"port", to.port}, {"type", m.type}, {"size", m.payload.size()}});
  const MessageFilter* f = net.match_filter(m, from, to.node);
  if (f && f->action == MessageFilter::Action::kDrop) {
    sim.event(from, "drop", {{"msg", m.id}, {"from", from}, {"to", to.node}, {"reason", "filter"}}, true);
    return kOk;
  }
  if (!net.reachable(from, to.node)) {
    sim.event(from, "drop", {{"msg", m.id}, {"from", from}, {"to", to.node}, {"reason", "partition"}}, true);
    return kOk;
  }
  if (sim.chooser().chance(kSiteDgramLoss, net.cfg_.datagram_loss, net.cfg_.fault_den)) {
    sim.event(from, "drop", {{"msg", m.id}, {"from", from}, {"to", to.node}, {"reason", "loss"}}, true);
    return kOk;
  }
  const int copies = sim.chooser().chance(kSiteDgramDup, net.cfg_.datagram_dup, net.cfg_.fault_den) ? 2 : 1;
  for (int i = 0; i < copies; ++i) {
    if (i > 0) sim.event(from, "duplicate", {{"msg", m.id}, {"from", from}, {"to", to.node}}, true);
    Time at = sim.now() + net.draw_latency() + (f ? f->delay : 0);
    const Time clog = net.clog_until(from, to.node);
    if (clog > at) at = clog;
    const uint64_t did = net.next_dgram_++;
    const TimerId t = sim.loop().schedule_at(at, Network::deliver_dgram_cb, &net, did);
    net.dgrams_in_flight_.emplace(did, Network::Datagram{addr_, to, m, t});
  }
  return kOk;
}

void Network::deliver_dgram_cb(void* ctx, uint64_t arg) {
  Network& net = *static_cast<Network*>(ctx);
  auto it = net.dgrams_in_flight_.find(arg);
  Datagram d = std::move(it->second);
  net.dgrams_in_flight_.erase(it);
  // A partition that started while the datagram was in flight still drops it.
  if (!net.reachable(d.from.node, d.to.node)) {
    net.sim_.event(d.to.node, "drop", {{"msg", d.msg.id}, {"from", d.from.node}, {"to", d.to.node}, {"reason", "partition"}}, true);
    return;
  }
  auto sit = net.dgram_sockets_.find(d.to);
  if (sit == net.dgram_sockets_.end()) {
    net.sim_.event(d.to.node, "drop", {{"msg", d.msg.id}, {"from", d.from.node}, {"to", d.to.node}, {"reason", "no socket"}});
    return;
  }
  net.sim_.event(d.to.node, "recv", {{"msg", d.msg.id}, {"from", d.from.node}, {"to", d.to.node}, {"type", d.msg.type}});
  DatagramSocket* s = sit->second;
  s->inbox_.emplace_back(d.from, std::move(d.msg));
  s->readers_.notify_one();
}

Errno DatagramSocket::recv_until(Message& out, Address* from, Time deadline) {
  for (;;) {
    if (cut_ || !net_) return ESHUTDOWN;
    if (!inbox_.empty()) {
      if (from) *from = inbox_.front().first;
      out = std::move(inbox_.front().second);
      inbox_.pop_front();
      return kOk;
    }
    if (!readers_.wait_until("recvfrom", deadline, addr_.port)) return ETIMEDOUT;
  }
}

}  // namespace sim
