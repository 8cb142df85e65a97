#include "sim/network.h"

#include <gtest/gtest.h>
#include <rapidcheck/gtest.h>

#include <algorithm>
#include <memory>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "sim/bytes.h"
#include "sim/simulation.h"
#include "sim/sync.h"
#include "sim/tests/test_util.h"

namespace sim {
namespace {

using Outcome = Simulation::Outcome;
using testing::ShutdownGuard;

Message msg(uint32_t type, uint64_t v) {
  Message m;
  m.type = type;
  ByteWriter w(m.payload);
  w.u64(v);
  return m;
}

uint64_t val(const Message& m) {
  ByteReader r(m.payload);
  return r.u64();
}

// Two nodes, "a" (id 0) and "b" (id 1), and a network.
struct World {
  explicit World(uint64_t seed, NetworkConfig cfg = {}) : s(seed), a(s.add_node("a")), b(s.add_node("b")), net(s, cfg) {
    a.start();
    b.start();
  }
  Simulation s;
  Node& a;
  Node& b;
  Network net;
  ShutdownGuard guard{s};
};

constexpr uint16_t kPort = 9000;

// ---- streams ----

TEST(Network, ConnectSendRecv) {
  World w(1);
  std::vector<uint64_t> got;
  Errno accept_err = -1, connect_err = -1;
  int peer_seen_by_server = -2, peer_seen_by_client = -2;
  w.b.spawn("server", [&] {
    auto l = w.net.listen(w.b, kPort);
    ASSERT_NE(l, nullptr);
    EXPECT_EQ(l->address(), (Address{1, kPort}));
    auto c = l->accept(&accept_err);
    ASSERT_NE(c, nullptr);
    peer_seen_by_server = c->peer_node();
    Message m;
    while (c->recv(m) == kOk) {
      got.push_back(val(m));
      EXPECT_EQ(m.type, 3u);
      EXPECT_NE(m.id, 0u);
      EXPECT_EQ(c->send(msg(4, val(m) * 10)), kOk);
    }
  });
  std::vector<uint64_t> replies;
  w.a.spawn("client", [&] {
    this_task::sleep(1);
    auto c = w.net.connect(w.a, {1, kPort}, &connect_err);
    ASSERT_NE(c, nullptr);
    EXPECT_FALSE(c->broken());
    EXPECT_NE(c->conn_id(), 0u);
    peer_seen_by_client = c->peer_node();
    for (uint64_t i = 1; i <= 3; ++i) EXPECT_EQ(c->send(msg(3, i)), kOk);
    Message m;
    for (int i = 0; i < 3; ++i) {
      ASSERT_EQ(c->recv(m), kOk);
      EXPECT_EQ(m.type, 4u);
      replies.push_back(val(m));
    }
  });
  EXPECT_EQ(w.s.run(kTimeNever).outcome, Outcome::kQuiescent);
  EXPECT_EQ(accept_err, kOk);
  EXPECT_EQ(connect_err, kOk);
  EXPECT_EQ(got, (std::vector<uint64_t>{1, 2, 3}));
  EXPECT_EQ(replies, (std::vector<uint64_t>{10, 20, 30}));
  EXPECT_EQ(peer_seen_by_server, 0);
  EXPECT_EQ(peer_seen_by_client, 1);
  EXPECT_EQ(w.net.messages_sent(), 6u);
}

TEST(Network, ListenTwiceIsAddressInUse) {
  World w(1);
  Errno e1 = -1, e2 = -1, e3 = -1;
  auto l1 = w.net.listen(w.b, kPort, &e1);
  auto l2 = w.net.listen(w.b, kPort, &e2);
  auto l3 = w.net.listen(w.a, kPort, &e3);  // another node: fine
  EXPECT_NE(l1, nullptr);
  EXPECT_EQ(l2, nullptr);
  EXPECT_NE(l3, nullptr);
  EXPECT_EQ(e1, kOk);
  EXPECT_EQ(e2, EADDRINUSE);
  EXPECT_EQ(e3, kOk);
  l1.reset();  // closing frees the port
  Errno e4 = -1;
  auto l4 = w.net.listen(w.b, kPort, &e4);
  EXPECT_EQ(e4, kOk);
}

TEST(Network, ConnectToNoListenerIsRefused) {
  World w(2);
  Errno e = -1;
  bool null = false;
  w.a.spawn("client", [&] {
    auto c = w.net.connect(w.a, {1, kPort}, &e);
    null = c == nullptr;
  });
  w.s.run(kTimeNever);
  EXPECT_EQ(e, ECONNREFUSED);
  EXPECT_TRUE(null);
  EXPECT_LT(w.s.now(), w.net.config().connect_timeout);  // refused quickly, no timeout
}

TEST(Network, ConnectAcrossPartitionTimesOut) {
  World w(3);
  auto l = w.net.listen(w.b, kPort);
  w.net.partition({0}, {1});
  EXPECT_FALSE(w.net.reachable(0, 1));
  EXPECT_FALSE(w.net.reachable(1, 0));
  Errno e = -1;
  Time took = -1;
  w.a.spawn("client", [&] {
    auto c = w.net.connect(w.a, {1, kPort}, &e);
    EXPECT_EQ(c, nullptr);
    took = this_task::now();
  });
  w.s.run(kTimeNever);
  EXPECT_EQ(e, ETIMEDOUT);
  EXPECT_EQ(took, w.net.config().connect_timeout);
  w.s.shutdown();
}

// A stream needs both directions: a one-way block is enough to time out.
TEST(Network, ConnectAcrossAsymmetricPartitionTimesOut) {
  NetworkConfig cfg;
  cfg.connect_timeout = 300 * kMillisecond;
  World w(4, cfg);
  auto l = w.net.listen(w.b, kPort);
  w.net.partition({1}, {0}, /*symmetric=*/false);  // b -> a blocked only
  EXPECT_TRUE(w.net.reachable(0, 1));
  EXPECT_FALSE(w.net.reachable(1, 0));
  Errno e = -1;
  w.a.spawn("client", [&] { w.net.connect(w.a, {1, kPort}, &e); });
  w.s.run(kTimeNever);
  EXPECT_EQ(e, ETIMEDOUT);
  EXPECT_EQ(w.s.now(), 300 * kMillisecond);
  w.s.shutdown();
}

TEST(Network, HealRestoresConnectivity) {
  World w(5);
  auto l = w.net.listen(w.b, kPort);
  w.net.isolate(1);
  EXPECT_FALSE(w.net.reachable(0, 1));
  w.net.heal();
  EXPECT_TRUE(w.net.reachable(0, 1));
  EXPECT_TRUE(w.net.reachable(1, 0));
  Errno e = -1;
  w.a.spawn("client", [&] { auto c = w.net.connect(w.a, {1, kPort}, &e); });
  w.s.run(kTimeNever);
  EXPECT_EQ(e, kOk);
  w.s.shutdown();
}

// Both ends of a connection blocked in recv when a partition cuts it: both see ECONNRESET,
// and later sends fail the same way.
TEST(Network, PartitionBreaksOpenConnection) {
  World w(6);
  Errno server_recv = -1, client_recv = -1, client_send = -1, server_send = -1;
  Time server_at = -1, client_at = -1;
  Completion<bool> connected;
  w.b.spawn("server", [&] {
    auto l = w.net.listen(w.b, kPort);
    auto c = l->accept();
    ASSERT_NE(c, nullptr);
    Message m;
    server_recv = c->recv(m);
    server_at = this_task::now();
    server_send = c->send(msg(1, 1));
    EXPECT_TRUE(c->broken());
  });
  w.a.spawn("client", [&] {
    this_task::sleep(1);
    Errno e;
    auto c = w.net.connect(w.a, {1, kPort}, &e);
    ASSERT_NE(c, nullptr);
    connected.set(true);
    Message m;
    client_recv = c->recv(m);
    client_at = this_task::now();
    client_send = c->send(msg(1, 1));
  });
  w.s.spawn("nemesis", [&] {
    connected.wait();
    this_task::sleep(10 * kMillisecond);
    w.net.partition({0}, {1});
  });
  EXPECT_EQ(w.s.run(kTimeNever).outcome, Outcome::kQuiescent);
  EXPECT_EQ(server_recv, ECONNRESET);
  EXPECT_EQ(client_recv, ECONNRESET);
  EXPECT_EQ(server_send, ECONNRESET);
  EXPECT_EQ(client_send, ECONNRESET);
  EXPECT_EQ(server_at, client_at);  // at the partition, not at some timeout
}

// Messages in flight when the connection breaks are lost; healing does not revive it.
TEST(Network, BrokenConnectionLosesInFlightData) {
  NetworkConfig cfg;
  cfg.latency_min = cfg.latency_max = 10 * kMillisecond;
  cfg.slow_num = 0;
  World w(7, cfg);
  std::vector<uint64_t> got;
  Errno end = -1;
  w.b.spawn("server", [&] {
    auto l = w.net.listen(w.b, kPort);
    auto c = l->accept();
    Message m;
    while ((end = c->recv(m)) == kOk) got.push_back(val(m));
  });
  w.a.spawn("client", [&] {
    this_task::sleep(1);
    Errno e;
    auto c = w.net.connect(w.a, {1, kPort}, &e);
    ASSERT_NE(c, nullptr);
    c->send(msg(0, 1));
    this_task::sleep(20 * kMillisecond);  // 1 delivered
    c->send(msg(0, 2));                    // in flight at the partition
    this_task::sleep(5 * kMillisecond);
    w.net.block_link(0, 1);
    w.net.heal();
    EXPECT_EQ(c->send(msg(0, 3)), ECONNRESET);
  });
  EXPECT_EQ(w.s.run(kTimeNever).outcome, Outcome::kQuiescent);
  EXPECT_EQ(got, (std::vector<uint64_t>{1}));
  EXPECT_EQ(end, ECONNRESET);
}

TEST(Network, CrashBreaksConnections) {
  World w(8);
  Errno server_recv = -1;
  Time at = -1;
  std::vector<std::string> client_log;
  w.b.spawn("server", [&] {
    auto l = w.net.listen(w.b, kPort);
    auto c = l->accept();
    ASSERT_NE(c, nullptr);
    Message m;
    server_recv = c->recv(m);
    at = this_task::now();
  });
  w.a.spawn("client", [&] {
    this_task::sleep(1);
    Errno e;
    auto c = w.net.connect(w.a, {1, kPort}, &e);
    ASSERT_NE(c, nullptr);
    this_task::sleep(kSecond);
    client_log.push_back("not reached");
  });
  w.s.spawn("nemesis", [&] {
    this_task::sleep(100 * kMillisecond);
    w.a.crash();
  });
  EXPECT_EQ(w.s.run(kTimeNever).outcome, Outcome::kQuiescent);
  EXPECT_EQ(server_recv, ECONNRESET);
  EXPECT_EQ(at, 100 * kMillisecond);
  EXPECT_TRUE(client_log.empty());
}

TEST(Network, CrashOfServerCutsListener) {
  World w(9);
  Errno accept_err = -1;
  bool accept_null = false;
  w.b.spawn("server", [&] {
    auto l = w.net.listen(w.b, kPort);
    this_task::sleep(kSecond);
  });
  // A listener held by another task on the node (still there after the crash, like a
  // long-lived object) fails accept with ESHUTDOWN.
  std::unique_ptr<Listener> held = w.net.listen(w.b, kPort + 1);
  w.s.spawn("acceptor", [&] {
    auto c = held->accept(&accept_err);
    accept_null = c == nullptr;
  });
  Errno after = -1;
  w.s.spawn("nemesis", [&] {
    this_task::sleep(10 * kMillisecond);
    w.b.crash();
    w.b.restart();
    w.a.spawn("client", [&] { w.net.connect(w.a, {1, kPort}, &after); });
  });
  EXPECT_EQ(w.s.run(kTimeNever).outcome, Outcome::kQuiescent);
  EXPECT_TRUE(accept_null);
  EXPECT_EQ(accept_err, ESHUTDOWN);
  EXPECT_EQ(after, ECONNREFUSED);
  w.s.shutdown();
}

TEST(Network, GracefulCloseDeliversRemainingDataThenShutdown) {
  World w(10);
  std::vector<uint64_t> got;
  std::vector<Errno> tail;
  w.b.spawn("server", [&] {
    auto l = w.net.listen(w.b, kPort);
    auto c = l->accept();
    this_task::sleep(50 * kMillisecond);  // the close happens long before we read
    Message m;
    Errno e;
    while ((e = c->recv(m)) == kOk) got.push_back(val(m));
    tail.push_back(e);
    tail.push_back(c->recv(m));  // stays at end of stream
  });
  Errno client_recv = -1;
  w.a.spawn("client", [&] {
    this_task::sleep(1);
    Errno e;
    auto c = w.net.connect(w.a, {1, kPort}, &e);
    ASSERT_NE(c, nullptr);
    for (uint64_t i = 0; i < 5; ++i) c->send(msg(0, i));
    c->close();
    EXPECT_EQ(c->send(msg(0, 99)), ESHUTDOWN);
    Message m;
    client_recv = c->recv(m);
  });
  EXPECT_EQ(w.s.run(kTimeNever).outcome, Outcome::kQuiescent);
  EXPECT_EQ(got, (std::vector<uint64_t>{0, 1, 2, 3, 4}));
  EXPECT_EQ(tail, (std::vector<Errno>{ESHUTDOWN, ESHUTDOWN}));
  EXPECT_EQ(client_recv, ESHUTDOWN);
}

// Destroying (closing) a socket while another task is blocked in recv on it wakes that task
// with an error, and nothing touches the freed socket.
TEST(Network, CloseWhileAnotherTaskIsInRecv) {
  World w(11);
  std::unique_ptr<StreamSocket> shared;
  Errno reader_err = -1;
  Time reader_at = -1, closed_at = -2;
  w.b.spawn("server", [&] {
    auto l = w.net.listen(w.b, kPort);
    shared = l->accept();
    ASSERT_NE(shared, nullptr);
    w.b.spawn("reader", [&] {
      Message m;
      reader_err = shared->recv(m);
      reader_at = this_task::now();
    });
    w.b.spawn("closer", [&] {
      this_task::sleep(30 * kMillisecond);
      closed_at = this_task::now();
      shared.reset();
    });
  });
  w.a.spawn("client", [&] {
    this_task::sleep(1);
    Errno e;
    auto c = w.net.connect(w.a, {1, kPort}, &e);
    this_task::sleep(kSecond);
  });
  EXPECT_EQ(w.s.run(kTimeNever).outcome, Outcome::kQuiescent);
  EXPECT_NE(reader_err, kOk);
  EXPECT_NE(reader_err, -1);
  EXPECT_EQ(reader_at, closed_at);
}

TEST(Network, CloseWithoutDestroyWakesReader) {
  World w(12);
  std::unique_ptr<StreamSocket> shared;
  Errno reader_err = -1;
  w.b.spawn("server", [&] {
    auto l = w.net.listen(w.b, kPort);
    shared = l->accept();
    w.b.spawn("reader", [&] {
      Message m;
      reader_err = shared->recv(m);
    });
    this_task::sleep(5 * kMillisecond);
    shared->close();
    EXPECT_EQ(shared->conn_id(), 0u);
    EXPECT_TRUE(shared->broken());
    shared->close();  // twice: harmless
  });
  w.a.spawn("client", [&] {
    this_task::sleep(1);
    Errno e;
    auto c = w.net.connect(w.a, {1, kPort}, &e);
    Message m;
    EXPECT_EQ(c->recv(m), ESHUTDOWN);  // the server's close reaches us as end of stream
  });
  EXPECT_EQ(w.s.run(kTimeNever).outcome, Outcome::kQuiescent);
  EXPECT_EQ(reader_err, ESHUTDOWN);
  w.s.shutdown();
}

// The client connects, sends and closes before the server accepts; the server accepts later,
// reads, replies and closes at once. The reply and FIN are still in flight when the server's
// socket goes away: the connection must stay alive until they are delivered.
TEST(Network, AcceptAfterPeerClosedThenReplyAndClose) {
  NetworkConfig cfg;
  cfg.slow_num = 0;
  World w(40, cfg);
  std::ostringstream out;
  w.s.trace().set_sink(&out);
  std::vector<Errno> server;
  w.b.spawn("server", [&] {
    auto l = w.net.listen(w.b, kPort);
    this_task::sleep(50 * kMillisecond);  // the client is long gone
    auto c = l->accept();
    ASSERT_NE(c, nullptr);
    Message m;
    server.push_back(c->recv(m));
    server.push_back(c->recv(m));
    server.push_back(c->send(msg(2, 2)));
  });
  w.a.spawn("client", [&] {
    this_task::sleep(1);
    Errno e;
    auto c = w.net.connect(w.a, {1, kPort}, &e);
    ASSERT_NE(c, nullptr);
    c->send(msg(1, 1));
  });
  EXPECT_EQ(w.s.run(kTimeNever).outcome, Outcome::kQuiescent);
  EXPECT_EQ(server, (std::vector<Errno>{kOk, ESHUTDOWN, kOk}));
  w.s.trace().flush();
  w.s.trace().set_sink(nullptr);
  // Both FINs and the reply reached their (closed) ends.
  const std::string t = out.str();
  size_t fins = 0;
  for (size_t p = t.find("recv_fin"); p != std::string::npos; p = t.find("recv_fin", p + 1)) ++fins;
  EXPECT_EQ(fins, 2u);
  EXPECT_NE(t.find("\"kind\":\"recv\",\"msg\":2,"), std::string::npos) << t;
}

// Same start (the peer closed before the accept); the accepted end stays open, so a later
// partition must break the connection like any other.
TEST(Network, ConnectionAcceptedAfterPeerClosedStillBreaksOnPartition) {
  World w(41);
  std::vector<Errno> server;
  w.b.spawn("server", [&] {
    auto l = w.net.listen(w.b, kPort);
    this_task::sleep(50 * kMillisecond);
    auto c = l->accept();
    ASSERT_NE(c, nullptr);
    Message m;
    server.push_back(c->recv(m));  // the peer's FIN
    w.net.partition({0}, {1});
    server.push_back(c->send(msg(2, 2)));
    EXPECT_TRUE(c->broken());
  });
  w.a.spawn("client", [&] {
    this_task::sleep(1);
    Errno e;
    auto c = w.net.connect(w.a, {1, kPort}, &e);
    ASSERT_NE(c, nullptr);
  });
  EXPECT_EQ(w.s.run(kTimeNever).outcome, Outcome::kQuiescent);
  EXPECT_EQ(server, (std::vector<Errno>{ESHUTDOWN, ECONNRESET}));
}

TEST(Network, RecvUntilTimesOut) {
  World w(13);
  Errno e = -1;
  w.b.spawn("server", [&] {
    auto l = w.net.listen(w.b, kPort);
    auto c = l->accept();
    Message m;
    e = c->recv_until(m, this_task::now() + 7 * kMillisecond);
    EXPECT_FALSE(c->broken());
  });
  w.a.spawn("client", [&] {
    this_task::sleep(1);
    Errno ce;
    auto c = w.net.connect(w.a, {1, kPort}, &ce);
    this_task::sleep(kSecond);
  });
  EXPECT_EQ(w.s.run(kTimeNever).outcome, Outcome::kQuiescent);
  EXPECT_EQ(e, ETIMEDOUT);
}

TEST(Network, ClogDelaysDeliveryUntilItEnds) {
  NetworkConfig cfg;
  cfg.slow_num = 0;
  World w(14, cfg);
  Time got_at = -1, reply_at = -1, sent_at = -1;
  w.b.spawn("server", [&] {
    auto l = w.net.listen(w.b, kPort);
    auto c = l->accept();
    Message m;
    ASSERT_EQ(c->recv(m), kOk);
    got_at = this_task::now();
    EXPECT_EQ(c->send(msg(0, 2)), kOk);
  });
  w.a.spawn("client", [&] {
    this_task::sleep(1);
    Errno e;
    auto c = w.net.connect(w.a, {1, kPort}, &e);
    ASSERT_NE(c, nullptr);
    w.net.clog(0, 1, 100 * kMillisecond);
    sent_at = this_task::now();
    EXPECT_EQ(c->send(msg(0, 1)), kOk);
    Message m;
    ASSERT_EQ(c->recv(m), kOk);  // the connection survived the clog
    reply_at = this_task::now();
  });
  EXPECT_EQ(w.s.run(kTimeNever).outcome, Outcome::kQuiescent);
  EXPECT_EQ(got_at, sent_at + 100 * kMillisecond);
  // The reverse direction is not clogged.
  EXPECT_GE(reply_at - got_at, cfg.latency_min);
  EXPECT_LE(reply_at - got_at, cfg.latency_max);
}

TEST(Network, ClogToEveryone) {
  World w(15);
  Time got_at = -1;
  w.b.spawn("rx", [&] {
    auto sock = w.net.bind(w.b, 5);
    Message m;
    ASSERT_EQ(sock->recv_from(m), kOk);
    got_at = this_task::now();
  });
  w.a.spawn("tx", [&] {
    auto sock = w.net.bind(w.a, 5);
    w.net.clog(0, -1, 70 * kMillisecond);
    sock->send_to({1, 5}, msg(0, 0));
  });
  w.s.run(kTimeNever);
  EXPECT_EQ(got_at, 70 * kMillisecond);
}

TEST(Network, StreamDropFilterBreaksTheConnection) {
  World w(16);
  Errno server_end = -1, send_err = -1;
  std::vector<uint64_t> got;
  w.b.spawn("server", [&] {
    auto l = w.net.listen(w.b, kPort);
    auto c = l->accept();
    Message m;
    while ((server_end = c->recv(m)) == kOk) got.push_back(val(m));
  });
  w.a.spawn("client", [&] {
    this_task::sleep(1);
    Errno e;
    auto c = w.net.connect(w.a, {1, kPort}, &e);
    c->send(msg(1, 10));
    this_task::sleep(50 * kMillisecond);
    int f = w.net.add_filter(MessageFilter{.type = 2, .from = 0, .to = 1});
    send_err = c->send(msg(2, 20));
    w.net.remove_filter(f);
  });
  EXPECT_EQ(w.s.run(kTimeNever).outcome, Outcome::kQuiescent);
  EXPECT_EQ(send_err, ECONNRESET);
  EXPECT_EQ(server_end, ECONNRESET);
  EXPECT_EQ(got, (std::vector<uint64_t>{10}));
}

// A delayed message type holds back later messages on the same stream: still FIFO.
TEST(Network, StreamDelayFilterKeepsOrder) {
  NetworkConfig cfg;
  cfg.slow_num = 0;
  World w(17, cfg);
  w.net.add_filter(MessageFilter{.type = 5, .action = MessageFilter::Action::kDelay, .delay = 200 * kMillisecond});
  std::vector<std::pair<uint64_t, Time>> got;
  w.b.spawn("server", [&] {
    auto l = w.net.listen(w.b, kPort);
    auto c = l->accept();
    Message m;
    while (c->recv(m) == kOk) got.emplace_back(val(m), this_task::now());
  });
  Time sent = -1;
  w.a.spawn("client", [&] {
    this_task::sleep(1);
    Errno e;
    auto c = w.net.connect(w.a, {1, kPort}, &e);
    sent = this_task::now();
    c->send(msg(5, 1));
    c->send(msg(6, 2));
  });
  EXPECT_EQ(w.s.run(kTimeNever).outcome, Outcome::kQuiescent);
  ASSERT_EQ(got.size(), 2u);
  EXPECT_EQ(got[0].first, 1u);
  EXPECT_EQ(got[1].first, 2u);
  EXPECT_GE(got[0].second, sent + 200 * kMillisecond);
  EXPECT_GE(got[1].second, got[0].second);
}

// ---- datagrams ----

TEST(Network, DatagramSendRecv) {
  World w(18);
  Address from{};
  uint64_t v = 0;
  w.b.spawn("rx", [&] {
    Errno e;
    auto s = w.net.bind(w.b, 53, &e);
    ASSERT_EQ(e, kOk);
    EXPECT_EQ(s->address(), (Address{1, 53}));
    Message m;
    ASSERT_EQ(s->recv_from(m, &from), kOk);
    v = val(m);
  });
  w.a.spawn("tx", [&] {
    auto s = w.net.bind(w.a, 1234);
    EXPECT_EQ(s->send_to({1, 53}, msg(0, 77)), kOk);
  });
  EXPECT_EQ(w.s.run(kTimeNever).outcome, Outcome::kQuiescent);
  EXPECT_EQ(v, 77u);
  EXPECT_EQ(from, (Address{0, 1234}));
}

TEST(Network, BindTwiceIsAddressInUse) {
  World w(19);
  Errno e1 = -1, e2 = -1;
  auto s1 = w.net.bind(w.a, 5, &e1);
  auto s2 = w.net.bind(w.a, 5, &e2);
  EXPECT_EQ(e1, kOk);
  EXPECT_EQ(e2, EADDRINUSE);
  EXPECT_EQ(s2, nullptr);
}

// Collects every datagram that arrives at b:53 until `until`.
struct Collector {
  std::vector<uint64_t> got;
  std::vector<Time> at;
  void spawn(World& w, Time until) {
    w.b.spawn("rx", [this, &w, until] {
      auto s = w.net.bind(w.b, 53);
      Message m;
      while (s->recv_until(m, nullptr, until) == kOk) {
        got.push_back(val(m));
        at.push_back(this_task::now());
      }
    });
  }
};

void send_datagrams(World& w, int n, uint32_t type = 0, Duration gap = 0) {
  w.a.spawn("tx", [&w, n, type, gap] {
    auto s = w.net.bind(w.a, 99);
    this_task::sleep(1);
    for (int i = 0; i < n; ++i) {
      EXPECT_EQ(s->send_to({1, 53}, msg(type, static_cast<uint64_t>(i))), kOk);
      if (gap) this_task::sleep(gap);
    }
  });
}

TEST(Network, DatagramLossAtFullRateLosesEverything) {
  NetworkConfig cfg;
  cfg.datagram_loss = cfg.fault_den;
  World w(20, cfg);
  Collector c;
  c.spawn(w, kSecond);
  send_datagrams(w, 20);
  EXPECT_EQ(w.s.run(kTimeNever).outcome, Outcome::kQuiescent);
  EXPECT_TRUE(c.got.empty());
  EXPECT_EQ(w.net.messages_sent(), 20u);
}

TEST(Network, DatagramLossAtSomeRateLosesSome) {
  NetworkConfig cfg;
  cfg.datagram_loss = cfg.fault_den / 2;
  World w(21, cfg);
  Collector c;
  c.spawn(w, kSecond);
  send_datagrams(w, 200);
  w.s.run(kTimeNever);
  EXPECT_GT(c.got.size(), 60u);
  EXPECT_LT(c.got.size(), 140u);
}

TEST(Network, DatagramDuplicationAtFullRate) {
  NetworkConfig cfg;
  cfg.datagram_dup = cfg.fault_den;
  World w(22, cfg);
  Collector c;
  c.spawn(w, kSecond);
  send_datagrams(w, 10);
  w.s.run(kTimeNever);
  std::vector<uint64_t> sorted = c.got;
  std::sort(sorted.begin(), sorted.end());
  std::vector<uint64_t> expect;
  for (uint64_t i = 0; i < 10; ++i) {
    expect.push_back(i);
    expect.push_back(i);
  }
  EXPECT_EQ(sorted, expect);
}

TEST(Network, DatagramsReorderUnderVariableLatency) {
  NetworkConfig cfg;
  cfg.latency_min = 0;
  cfg.latency_max = 10 * kMillisecond;
  World w(23, cfg);
  Collector c;
  c.spawn(w, kSecond);
  send_datagrams(w, 50);
  w.s.run(kTimeNever);
  ASSERT_EQ(c.got.size(), 50u);
  EXPECT_FALSE(std::is_sorted(c.got.begin(), c.got.end()));
}

TEST(Network, DatagramDroppedAcrossPartition) {
  World w(24);
  w.net.partition({0}, {1});
  Collector c;
  c.spawn(w, kSecond);
  send_datagrams(w, 5);
  w.s.run(kTimeNever);
  EXPECT_TRUE(c.got.empty());
}

// A partition that starts while datagrams are in flight drops them too.
TEST(Network, DatagramDroppedWhenPartitionStartsInFlight) {
  NetworkConfig cfg;
  cfg.latency_min = cfg.latency_max = 10 * kMillisecond;
  cfg.slow_num = 0;
  World w(25, cfg);
  Collector c;
  c.spawn(w, kSecond);
  send_datagrams(w, 5);
  w.s.spawn("nemesis", [&] {
    this_task::sleep(5 * kMillisecond);
    w.net.block_link(0, 1);
  });
  w.s.run(kTimeNever);
  EXPECT_TRUE(c.got.empty());
}

// A one-way partition drops only that direction.
TEST(Network, AsymmetricPartitionForDatagrams) {
  World w(26);
  w.net.block_link(0, 1);
  uint64_t a_got = 0;
  Collector c;
  c.spawn(w, kSecond);
  send_datagrams(w, 3);
  w.a.spawn("rx-a", [&] {
    auto s = w.net.bind(w.a, 53);
    Message m;
    while (s->recv_until(m, nullptr, kSecond) == kOk) ++a_got;
  });
  w.b.spawn("tx-b", [&] {
    auto s = w.net.bind(w.b, 98);
    this_task::sleep(1);
    for (int i = 0; i < 3; ++i) s->send_to({0, 53}, msg(0, 0));
  });
  w.s.run(kTimeNever);
  EXPECT_TRUE(c.got.empty());
  EXPECT_EQ(a_got, 3u);
}

TEST(Network, DatagramToNoSocketIsDropped) {
  World w(27);
  send_datagrams(w, 3);
  EXPECT_EQ(w.s.run(kTimeNever).outcome, Outcome::kQuiescent);
  EXPECT_EQ(w.net.messages_sent(), 3u);
}

TEST(Network, DatagramDropFilterByType) {
  World w(28);
  int f = w.net.add_filter(MessageFilter{.type = 7});
  Collector c;
  c.spawn(w, kSecond);
  w.a.spawn("tx", [&] {
    auto s = w.net.bind(w.a, 99);
    this_task::sleep(1);
    s->send_to({1, 53}, msg(7, 1));
    s->send_to({1, 53}, msg(8, 2));
    s->send_to({1, 53}, msg(7, 3));
    this_task::sleep(100 * kMillisecond);
    w.net.remove_filter(f);
    s->send_to({1, 53}, msg(7, 4));
  });
  w.s.run(kTimeNever);
  EXPECT_EQ(c.got, (std::vector<uint64_t>{2, 4}));
}

TEST(Network, FilterMatchesDirection) {
  World w(29);
  w.net.add_filter(MessageFilter{.from = 1, .to = 0});  // only b -> a
  Collector c;
  c.spawn(w, kSecond);
  send_datagrams(w, 2);
  w.s.run(kTimeNever);
  EXPECT_EQ(c.got.size(), 2u);
}

TEST(Network, DatagramDelayFilterByType) {
  NetworkConfig cfg;
  cfg.slow_num = 0;
  World w(30, cfg);
  w.net.add_filter(MessageFilter{.type = 9, .action = MessageFilter::Action::kDelay, .delay = 50 * kMillisecond});
  Collector c;
  c.spawn(w, kSecond);
  w.a.spawn("tx", [&] {
    auto s = w.net.bind(w.a, 99);
    this_task::sleep(1);
    s->send_to({1, 53}, msg(9, 1));
    s->send_to({1, 53}, msg(8, 2));
  });
  w.s.run(kTimeNever);
  ASSERT_EQ(c.got.size(), 2u);
  EXPECT_EQ(c.got[0], 2u);  // the undelayed one overtakes
  EXPECT_EQ(c.got[1], 1u);
  EXPECT_GE(c.at[1], 1 + 50 * kMillisecond + cfg.latency_min);
  EXPECT_LE(c.at[0], 1 + cfg.latency_max);
}

TEST(Network, DatagramSocketCutOnCrash) {
  World w(31);
  std::unique_ptr<DatagramSocket> held = w.net.bind(w.b, 53);
  Errno e = -1;
  w.s.spawn("reader", [&] {
    Message m;
    e = held->recv_from(m);
  });
  w.s.spawn("nemesis", [&] {
    this_task::sleep(3);
    w.b.crash();
  });
  w.s.run(kTimeNever);
  EXPECT_EQ(e, ESHUTDOWN);
  EXPECT_EQ(held->send_to({0, 1}, msg(0, 0)), ESHUTDOWN);
  w.s.shutdown();
}

// Destroying the network while datagrams are still in flight must not leave events that
// touch it (the network is owned by a scenario that may go away before the loop does).
TEST(Network, DestroyedWithDatagramsInFlight) {
  Simulation s(32);
  Node& a = s.add_node("a");
  a.start();
  auto net = std::make_unique<Network>(s);
  auto sock = net->bind(a, 1);
  sock->send_to({0, 2}, msg(0, 0));
  sock->send_to({0, 1}, msg(0, 0));
  sock.reset();
  net.reset();
  EXPECT_EQ(s.loop().live_events(), 0u);
  EXPECT_EQ(s.run(kTimeNever).outcome, Outcome::kQuiescent);
}

TEST(Network, SendsAndDropsAreTraced) {
  World w(33);
  std::ostringstream out;
  w.s.trace().set_sink(&out);
  w.net.add_filter(MessageFilter{.type = 7});
  Collector c;
  c.spawn(w, kSecond);
  w.a.spawn("tx", [&] {
    auto s = w.net.bind(w.a, 99);
    s->send_to({1, 53}, msg(7, 1));
    s->send_to({1, 53}, msg(8, 2));
  });
  w.s.run(kTimeNever);
  w.s.trace().flush();
  const std::string t = out.str();
  EXPECT_NE(t.find("\"kind\":\"send\""), std::string::npos);
  EXPECT_NE(t.find("\"kind\":\"recv\""), std::string::npos);
  EXPECT_NE(t.find("\"reason\":\"filter\""), std::string::npos);
  w.s.trace().set_sink(nullptr);
}

// ---- properties ----

NetworkConfig random_config() {
  NetworkConfig cfg;
  cfg.latency_min = *rc::gen::inRange<Duration>(0, kMillisecond);
  cfg.latency_max = cfg.latency_min + *rc::gen::inRange<Duration>(0, 2 * kMillisecond);
  cfg.slow_num = *rc::gen::element<uint32_t>(0u, 10000u, 300000u, cfg.fault_den);
  cfg.slow_extra_max = *rc::gen::inRange<Duration>(0, 20 * kMillisecond);
  return cfg;
}

// While the connection is up, each direction delivers exactly the sent sequence.
RC_GTEST_PROP(NetworkProp, StreamIsFifo, (uint64_t seed)) {
  const NetworkConfig cfg = random_config();
  const int count = *rc::gen::inRange(0, 60);
  const auto gaps = *rc::gen::container<std::vector<Duration>>(static_cast<size_t>(count),
                                                                rc::gen::inRange<Duration>(0, 300 * kMicrosecond));
  World w(seed, cfg);
  std::vector<uint64_t> got, echoed;
  Errno server_end = -1;
  bool failed = false;
  w.b.spawn("server", [&] {
    auto l = w.net.listen(w.b, kPort);
    auto c = l->accept();
    if (!c) {
      failed = true;
      return;
    }
    Message m;
    while ((server_end = c->recv(m)) == kOk) {
      got.push_back(val(m));
      if (c->send(msg(1, val(m))) != kOk) failed = true;
    }
  });
  w.a.spawn("client", [&] {
    this_task::sleep(1);
    Errno e;
    auto c = w.net.connect(w.a, {1, kPort}, &e);
    if (!c) {
      failed = true;
      return;
    }
    for (int i = 0; i < count; ++i) {
      this_task::sleep(gaps[static_cast<size_t>(i)]);
      if (c->send(msg(0, static_cast<uint64_t>(i))) != kOk) failed = true;
    }
    Message m;
    for (int i = 0; i < count; ++i) {
      if (c->recv(m) != kOk) {
        failed = true;
        return;
      }
      echoed.push_back(val(m));
    }
  });
  RC_ASSERT(w.s.run(kTimeNever).outcome == Outcome::kQuiescent);
  RC_ASSERT(!failed);
  std::vector<uint64_t> expect;
  for (int i = 0; i < count; ++i) expect.push_back(static_cast<uint64_t>(i));
  RC_ASSERT(got == expect);
  RC_ASSERT(echoed == expect);
  RC_ASSERT(server_end == ESHUTDOWN);
}

// When the connection breaks, what arrived is a prefix of what was sent: no gaps, no reorder.
RC_GTEST_PROP(NetworkProp, BrokenStreamDeliversAPrefix, (uint64_t seed)) {
  const NetworkConfig cfg = random_config();
  const Duration break_after = *rc::gen::inRange<Duration>(0, 20 * kMillisecond);
  const bool by_crash = *rc::gen::arbitrary<bool>();
  World w(seed, cfg);
  std::vector<uint64_t> got;
  Errno server_end = -1;
  uint64_t sent = 0;
  Completion<bool> connected;
  w.b.spawn("server", [&] {
    auto l = w.net.listen(w.b, kPort);
    auto c = l->accept();
    if (!c) return;
    Message m;
    while ((server_end = c->recv(m)) == kOk) got.push_back(val(m));
  });
  w.a.spawn("client", [&] {
    this_task::sleep(1);
    Errno e;
    auto c = w.net.connect(w.a, {1, kPort}, &e);
    if (!c) return;
    connected.set(true);
    for (;;) {
      if (c->send(msg(0, sent)) != kOk) return;
      ++sent;
      this_task::sleep(100 * kMicrosecond);
    }
  });
  w.s.spawn("nemesis", [&] {
    connected.wait();
    this_task::sleep(break_after);
    if (by_crash) w.a.crash();
    else w.net.partition({0}, {1});
  });
  RC_ASSERT(w.s.run(kTimeNever).outcome == Outcome::kQuiescent);
  RC_ASSERT(server_end == ECONNRESET);
  RC_ASSERT(got.size() <= sent);
  for (size_t i = 0; i < got.size(); ++i) RC_ASSERT(got[i] == i);
}

}  // namespace
}  // namespace sim
