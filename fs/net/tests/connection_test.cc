#include "fs/net/connection.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <memory>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "sim/simulation.h"
#include "sim/tests/test_util.h"

namespace simfs::fs::net {
namespace {

using Outcome = sim::Simulation::Outcome;

constexpr uint16_t kPort = 7000;
// Any command will do: the connection never interprets payloads.
constexpr proto::Cmd kCmd = proto::Cmd::kGetRoots;

// Requests carry a one-byte tag; the server's answer carries tag + 100, so a reply names its
// request.
proto::Bytes tag(uint8_t t) { return {t}; }
proto::Bytes answer_to(const proto::Bytes& req) { return {static_cast<uint8_t>(req.at(0) + 100)}; }

// "tag=reply byte" or "tag=ERRNO": one string per completed request, in completion order.
std::string outcome(uint8_t t, const Reply& r) {
  if (r.error) return std::to_string(t) + "=" + sim::errno_name(r.error);
  return std::to_string(t) + "=" + (r.data.empty() ? "empty" : std::to_string(r.data[0]));
}

// A protocol frame built by hand, for a peer that misbehaves.
sim::Message frame(uint64_t seq, uint8_t t) {
  proto::Header h;
  h.seq = seq;
  h.id = seq;
  h.cmd = kCmd;
  h.data_len = 1;
  sim::Message m;
  m.type = message_type(kCmd, false);
  m.payload = proto::encode_message(h, tag(t));
  return m;
}

// Two nodes: a client (node 0) and a server (node 1) listening on kPort, a Connection on each.
// The server records every request it handles and answers at once unless its tag is in `hold`
// (then the header waits in `held` for answer_held()).
struct World {
  World() : s(1), cnode(s.add_node("client")), snode(s.add_node("server")), net(s) {
    s.trace().set_sink(&trace);
    cnode.start();
    snode.start();
    listener = net.listen(snode, kPort);
    client = std::make_unique<Connection>(NodeEnv(cnode), "client");
    client->set_disconnect_handler([this] { ++client_disconnects; });
    new_server();
  }

  void new_server() {
    server = std::make_unique<Connection>(NodeEnv(snode), "server");
    server->set_request_handler([this](const proto::Header& h, proto::Bytes data) {
      handled.push_back(data.at(0));
      handled_seqs.push_back(h.seq);
      if (hold.count(data.at(0))) {
        held.push_back({h, std::move(data)});
      } else {
        server->respond(h, 0, answer_to(data));
      }
    });
    server->set_disconnect_handler([this] { ++server_disconnects; });
  }

  // A server restart: the node crashes (cutting its sockets) and comes back with a new
  // listener and a fresh Connection.
  void restart_server() {
    snode.crash();
    snode.restart();
    listener = net.listen(snode, kPort);
    new_server();
  }

  void send(uint8_t t) {
    client->send_request(kCmd, tag(t), [this, t](Reply&& r) { done.push_back(outcome(t, r)); });
  }

  void answer_held() {
    for (auto& [h, data] : held) server->respond(h, 0, answer_to(data));
    held.clear();
  }

  void run() {
    sim::Simulation::RunResult r = s.run(sim::kTimeNever);
    EXPECT_EQ(r.outcome, Outcome::kQuiescent) << r.message;
  }

  // Connects from the client, exchanges greetings and returns the client's end, with the
  // server's end attached to `server` (what the server's accept loop does).
  std::unique_ptr<sim::StreamSocket> connect_raw() {
    snode.spawn("accept", [this] {
      std::unique_ptr<sim::StreamSocket> sock = listener->accept();
      ASSERT_NE(sock, nullptr);
      proto::Greeting g;
      bool response = true;
      sim::Errno carried = -1;
      ASSERT_EQ(recv_greeting(*sock, NodeEnv(snode).now() + sim::kSecond, &g, &response, &carried), 0);
      EXPECT_FALSE(response);
      EXPECT_EQ(g.rid, 42u);
      ASSERT_EQ(send_greeting(*sock, proto::Greeting{g.fsid, g.format_hash, 1, g.rid, 0}, true), 0);
      server->attach(std::move(sock));
    });
    std::unique_ptr<sim::StreamSocket> out;
    cnode.spawn("connect", [this, &out] {
      sim::Errno e = 0;
      std::unique_ptr<sim::StreamSocket> sock = net.connect(cnode, {snode.id(), kPort}, &e);
      ASSERT_NE(sock, nullptr) << sim::errno_name(e);
      ASSERT_EQ(send_greeting(*sock, proto::Greeting{7, 8, 0, 42, 0}, false), 0);
      proto::Greeting g;
      bool response = false;
      sim::Errno carried = -1;
      ASSERT_EQ(recv_greeting(*sock, NodeEnv(cnode).now() + sim::kSecond, &g, &response, &carried), 0);
      EXPECT_TRUE(response);
      EXPECT_EQ(carried, 0);
      out = std::move(sock);
    });
    run();
    EXPECT_NE(out, nullptr);
    return out;
  }

  // A fresh socket, greeted and attached on both ends; runs until both have replayed.
  void link() {
    std::unique_ptr<sim::StreamSocket> sock = connect_raw();
    if (sock) client->attach(std::move(sock));
    run();
  }

  // Breaks the current socket (both ends fail with ECONNRESET, whatever is in flight is lost)
  // and heals at once, so the next link() can connect.
  void cut() {
    net.block_link(cnode.id(), snode.id());
    net.heal();
  }

  // Whether the trace holds an event of this kind marked as a fault.
  bool traced_fault(const std::string& kind) {
    s.trace().flush();
    return trace.str().find("\"kind\":\"" + kind + "\",\"fault\":true") != std::string::npos;
  }

  std::ostringstream trace;  // outlives the simulation, which flushes into it
  sim::Simulation s;
  sim::Node& cnode;
  sim::Node& snode;
  sim::Network net;
  std::unique_ptr<sim::Listener> listener;
  std::unique_ptr<Connection> client;
  std::unique_ptr<Connection> server;
  std::set<uint8_t> hold;
  std::vector<std::pair<proto::Header, proto::Bytes>> held;
  std::vector<int> handled;  // tags, in the order the server's handler saw them
  std::vector<uint64_t> handled_seqs;
  std::vector<std::string> done;  // the client's completions, in order
  int client_disconnects = 0;
  int server_disconnects = 0;
  sim::testing::ShutdownGuard guard{s};  // last: unwinds tasks before anything above goes
};

using Done = std::vector<std::string>;
using Tags = std::vector<int>;

// ---- requests and responses ----

// The server answers three requests in reverse order (one with an error): each completion gets
// its own request's answer, in the order the answers arrived.
TEST(Connection, ResponsesMatchedByIdInArrivalOrder) {
  World w;
  w.hold = {1, 2, 3};
  w.link();
  w.send(1);
  w.send(2);
  w.send(3);
  w.run();
  ASSERT_EQ(w.held.size(), 3u);
  EXPECT_EQ(w.client->pending_requests(), 3u);
  EXPECT_TRUE(w.done.empty());

  w.server->respond(w.held[2].first, 0, answer_to(w.held[2].second));
  w.server->respond(w.held[1].first, ENOENT, {});
  w.server->respond(w.held[0].first, 0, answer_to(w.held[0].second));
  w.run();
  EXPECT_EQ(w.done, (Done{"3=103", "2=ENOENT", "1=101"}));
  EXPECT_EQ(w.client->pending_requests(), 0u);
  EXPECT_EQ(w.client->queued_messages(), 0u);  // an answered request leaves the resend queue
}

// call() parks its task until the answer, which the server sends 10ms later.
TEST(Connection, CallParksUntilItsResponse) {
  World w;
  w.hold = {7};
  w.link();
  Reply reply{-1, {}};
  sim::Time returned_at = -1;
  w.cnode.spawn("caller", [&] {
    reply = w.client->call(kCmd, tag(7));
    returned_at = sim::this_task::now();
  });
  w.snode.spawn("late answer", [&] {
    sim::this_task::sleep(10 * sim::kMillisecond);
    w.answer_held();
  });
  const sim::Time start = w.s.now();
  w.run();
  EXPECT_EQ(reply.error, 0);
  EXPECT_EQ(reply.data, proto::Bytes{107});
  EXPECT_GE(returned_at, start + 10 * sim::kMillisecond);
  EXPECT_EQ(w.handled, (Tags{7}));
}

// ---- reconnect and resend ----

// Request 1 is lost in flight by a break; 2 and 3 are sent while there is no socket. The next
// socket carries all three, in order; a further reconnect executes none of them again.
TEST(Connection, QueuedRequestsResentInOrderExactlyOnce) {
  World w;
  w.link();
  w.send(1);
  w.cut();
  w.run();
  EXPECT_FALSE(w.client->connected());
  EXPECT_TRUE(w.handled.empty());
  w.send(2);
  w.send(3);
  EXPECT_EQ(w.client->queued_messages(), 3u);

  w.link();
  EXPECT_EQ(w.handled, (Tags{1, 2, 3}));
  EXPECT_EQ(w.done, (Done{"1=101", "2=102", "3=103"}));
  EXPECT_EQ(w.client->stats().resent, 3u);

  w.cut();
  w.run();
  w.link();
  EXPECT_EQ(w.handled, (Tags{1, 2, 3}));
  EXPECT_EQ(w.done, (Done{"1=101", "2=102", "3=103"}));
}

// After a reconnect each side replays what the other already processed: the client its
// unanswered request 2, the server its unacknowledged response to 1. Both are dropped as
// duplicates: request 2 is not executed again, response 1 does not complete twice.
TEST(Connection, ReplayedDuplicatesDroppedOnBothSides) {
  World w;
  w.hold = {2};
  w.link();
  w.send(1);
  w.send(2);
  w.run();
  EXPECT_EQ(w.done, (Done{"1=101"}));
  EXPECT_EQ(w.client->queued_messages(), 1u);  // request 2
  EXPECT_EQ(w.server->queued_messages(), 1u);  // response 1: the client has sent nothing since

  w.cut();
  w.run();
  w.link();
  EXPECT_EQ(w.server->stats().duplicates, 1u);
  EXPECT_EQ(w.client->stats().duplicates, 1u);
  EXPECT_EQ(w.handled, (Tags{1, 2}));
  EXPECT_EQ(w.done, (Done{"1=101"}));

  w.answer_held();
  w.run();
  EXPECT_EQ(w.done, (Done{"1=101", "2=102"}));
}

// The response is lost in flight (a drop filter breaks the socket as the server sends it).
// The replayed request is recognised as executed; the replayed response completes it.
TEST(Connection, LostResponseDeliveredWithoutReexecuting) {
  World w;
  w.link();
  const int f = w.net.add_filter({.type = message_type(kCmd, true)});
  w.send(1);
  w.run();
  EXPECT_EQ(w.handled, (Tags{1}));
  EXPECT_TRUE(w.done.empty());
  EXPECT_FALSE(w.server->connected());

  w.net.remove_filter(f);
  w.link();
  EXPECT_EQ(w.handled, (Tags{1}));
  EXPECT_EQ(w.done, (Done{"1=101"}));
  EXPECT_EQ(w.server->stats().duplicates, 1u);
}

// ---- acknowledgements ----

// Three answered responses wait on the server for an ack; the client's next request carries
// recv_seq 3 and releases all of them at once.
TEST(Connection, ResponsesLeaveQueueOnCumulativeAck) {
  World w;
  w.hold = {4};
  w.link();
  w.send(1);
  w.send(2);
  w.send(3);
  w.run();
  EXPECT_EQ(w.done.size(), 3u);
  EXPECT_EQ(w.server->queued_messages(), 3u);
  EXPECT_EQ(w.client->queued_messages(), 0u);

  w.send(4);  // held: the server queues no answer to it
  w.run();
  EXPECT_EQ(w.server->queued_messages(), 0u);
  EXPECT_EQ(w.client->queued_messages(), 1u);  // request 4 waits for its answer
}

// ---- misbehaving peers ----

// A peer skips seq 2: the socket breaks (traced as a fault) and seq 3 never reaches the handler.
TEST(Connection, SequenceGapBreaksSocket) {
  World w;
  std::unique_ptr<sim::StreamSocket> raw = w.connect_raw();
  ASSERT_NE(raw, nullptr);
  EXPECT_EQ(raw->send(frame(1, 1)), 0);
  EXPECT_EQ(raw->send(frame(3, 3)), 0);
  w.run();
  EXPECT_EQ(w.handled, (Tags{1}));
  EXPECT_FALSE(w.server->connected());
  EXPECT_EQ(w.server_disconnects, 1);
  EXPECT_TRUE(w.traced_fault("net_gap"));
}

// Bytes that do not decode break the socket; nothing after them is looked at.
TEST(Connection, MalformedMessageBreaksSocket) {
  World w;
  std::unique_ptr<sim::StreamSocket> raw = w.connect_raw();
  ASSERT_NE(raw, nullptr);
  sim::Message garbage;
  garbage.type = message_type(kCmd, false);
  garbage.payload = {0xde, 0xad, 0xbe, 0xef};
  EXPECT_EQ(raw->send(garbage), 0);
  EXPECT_EQ(raw->send(frame(1, 1)), 0);
  w.run();
  EXPECT_TRUE(w.handled.empty());
  EXPECT_EQ(w.server->stats().bad_messages, 1u);
  EXPECT_EQ(w.server->stats().received, 0u);
  EXPECT_FALSE(w.server->connected());
  EXPECT_EQ(w.server_disconnects, 1);
  EXPECT_TRUE(w.traced_fault("net_bad_message"));
}

// A greeting decodes, but is not part of the numbered stream once attached.
TEST(Connection, GreetingAfterAttachIsBadMessage) {
  World w;
  std::unique_ptr<sim::StreamSocket> raw = w.connect_raw();
  ASSERT_NE(raw, nullptr);
  EXPECT_EQ(send_greeting(*raw, proto::Greeting{}, false), 0);
  w.run();
  EXPECT_EQ(w.server->stats().bad_messages, 1u);
  EXPECT_FALSE(w.server->connected());
}

// ---- a new peer ----

// The server restarts while requests 2 and 3 are unanswered and the client holds an
// unacknowledged answer to a server request. After new_peer() the answer is gone and the two
// requests, renumbered 1 and 2, are executed by the fresh server without gap or duplicate.
TEST(Connection, NewPeerDropsResponsesAndRenumbersRequests) {
  World w;
  w.client->set_request_handler([&](const proto::Header& h, proto::Bytes data) { w.client->respond(h, 0, data); });
  w.hold = {2, 3};
  w.link();
  w.send(1);
  w.send(2);
  w.send(3);
  w.server->send_request(kCmd, tag(9), [](Reply&&) {});
  w.run();
  EXPECT_EQ(w.done, (Done{"1=101"}));
  EXPECT_EQ(w.client->queued_messages(), 3u);  // requests 2, 3 and the answer to 9

  w.restart_server();
  w.hold.clear();
  w.handled.clear();
  w.handled_seqs.clear();
  w.server_disconnects = 0;
  w.run();
  EXPECT_FALSE(w.client->connected());
  w.client->new_peer();
  EXPECT_EQ(w.client->queued_messages(), 2u);

  w.link();
  EXPECT_EQ(w.handled, (Tags{2, 3}));
  EXPECT_EQ(w.handled_seqs, (std::vector<uint64_t>{1, 2}));
  EXPECT_EQ(w.done, (Done{"1=101", "2=102", "3=103"}));
  EXPECT_EQ(w.server->stats().duplicates, 0u);
  EXPECT_EQ(w.server->stats().received, 2u);
  EXPECT_EQ(w.server_disconnects, 0);  // no gap broke the fresh socket
}

// ---- shutdown ----

// Two sent requests and a parked call() all complete once, as maybe delivered; answers that
// the server sends afterwards complete nothing again.
TEST(Connection, ShutdownCompletesPendingRequestsOnce) {
  World w;
  w.hold = {1, 2, 3};
  w.link();
  w.send(1);
  w.send(2);
  Reply reply{-1, {}};
  int calls_returned = 0;
  size_t pending_before = 0;
  w.cnode.spawn("caller", [&] {
    reply = w.client->call(kCmd, tag(3));
    ++calls_returned;
  });
  w.cnode.spawn("owner", [&] {
    sim::this_task::sleep(5 * sim::kMillisecond);
    pending_before = w.client->pending_requests();
    w.client->shutdown();
  });
  w.run();
  EXPECT_EQ(pending_before, 3u);
  EXPECT_EQ(w.done, (Done{"1=ESHUTDOWN", "2=ESHUTDOWN"}));
  EXPECT_EQ(calls_returned, 1);
  EXPECT_EQ(reply.error, kMaybeDelivered);
  EXPECT_EQ(w.client->pending_requests(), 0u);
  EXPECT_EQ(w.client->queued_messages(), 0u);
  EXPECT_FALSE(w.client->connected());

  w.answer_held();
  w.run();
  EXPECT_EQ(w.done.size(), 2u);
  EXPECT_EQ(calls_returned, 1);
}

// After shutdown a request completes before send_request returns, and nothing is sent.
TEST(Connection, SendAfterShutdownCompletesAtOnce) {
  World w;
  w.link();
  w.client->shutdown();
  const uint64_t sent = w.client->stats().sent;
  w.send(1);
  EXPECT_EQ(w.done, (Done{"1=ESHUTDOWN"}));
  w.run();
  EXPECT_EQ(w.client->stats().sent, sent);
  EXPECT_TRUE(w.handled.empty());
}

// An answer given after shutdown is neither sent nor queued.
TEST(Connection, RespondAfterShutdownSendsNothing) {
  World w;
  w.hold = {1};
  w.link();
  w.send(1);
  w.run();
  ASSERT_EQ(w.held.size(), 1u);
  w.server->shutdown();
  const uint64_t sent = w.server->stats().sent;
  w.answer_held();
  EXPECT_EQ(w.server->stats().sent, sent);
  EXPECT_EQ(w.server->queued_messages(), 0u);
  w.run();
  EXPECT_TRUE(w.done.empty());
  EXPECT_EQ(w.client->pending_requests(), 1u);
}

// ---- crashes ----

// The client node crashes with a request and a parked call() outstanding: the run stays
// quiescent, the caller is unwound (it never returns), the server sees its socket lost, and the
// Connection can then be destroyed without running any completion.
TEST(Connection, ClientCrashWithPendingRequests) {
  World w;
  w.hold = {1, 2};
  w.link();
  w.send(1);
  bool returned = false;
  size_t pending_before = 0;
  w.cnode.spawn("caller", [&] {
    w.client->call(kCmd, tag(2));
    returned = true;
  });
  w.s.spawn("crasher", [&] {
    sim::this_task::sleep(5 * sim::kMillisecond);
    pending_before = w.client->pending_requests();
    w.cnode.crash();
  });
  w.run();
  EXPECT_EQ(pending_before, 2u);
  EXPECT_FALSE(returned);
  EXPECT_FALSE(w.server->connected());
  EXPECT_EQ(w.server_disconnects, 1);

  w.client.reset();
  w.answer_held();
  w.run();
  EXPECT_FALSE(returned);
  EXPECT_TRUE(w.done.empty());
}

// ---- disconnect handler ----

// Each lost socket runs the handler once on each side, even when the client notices the loss
// twice (a failed send, then its receive task).
TEST(Connection, DisconnectHandlerRunsOncePerLostSocket) {
  World w;
  w.link();
  w.cut();
  w.send(1);  // fails on the broken socket before the receive task has seen the break
  w.run();
  EXPECT_EQ(w.client_disconnects, 1);
  EXPECT_EQ(w.server_disconnects, 1);

  w.link();
  EXPECT_EQ(w.done, (Done{"1=101"}));
  w.cut();
  w.run();
  EXPECT_EQ(w.client_disconnects, 2);
  EXPECT_EQ(w.server_disconnects, 2);
}

// Closing our own socket is not a loss: detach() and shutdown() leave the handler alone (the
// server, whose peer closed, does see each).
TEST(Connection, DetachAndShutdownDoNotRunDisconnectHandler) {
  World w;
  w.link();
  w.client->detach();
  w.run();
  EXPECT_FALSE(w.client->connected());
  EXPECT_EQ(w.client_disconnects, 0);
  EXPECT_EQ(w.server_disconnects, 1);

  w.link();
  w.client->shutdown();
  w.run();
  EXPECT_EQ(w.client_disconnects, 0);
  EXPECT_EQ(w.server_disconnects, 2);
}

// The server attaches a new socket while its old one is attached: the old one is closed, which
// is no loss for the server, and the old socket's receive task, woken by that close, must not
// take the new socket down with it. (The client may lose its old socket first — the server
// closed it — so its count is not checked.)
TEST(Connection, AttachReplacesCurrentSocket) {
  World w;
  w.link();
  w.link();
  EXPECT_TRUE(w.client->connected());
  EXPECT_TRUE(w.server->connected());
  EXPECT_EQ(w.server_disconnects, 0);
  w.send(1);
  w.run();
  EXPECT_EQ(w.done, (Done{"1=101"}));
}

// A task parked in wait_disconnected() wakes when the socket is lost, at that instant.
TEST(Connection, WaitDisconnectedReturnsWhenSocketLost) {
  World w;
  w.link();
  sim::Time woke_at = -1;
  w.cnode.spawn("waiter", [&] {
    w.client->wait_disconnected();
    woke_at = sim::this_task::now();
  });
  w.s.spawn("fault", [&] {
    sim::this_task::sleep(5 * sim::kMillisecond);
    w.cut();
  });
  const sim::Time start = w.s.now();
  w.run();
  EXPECT_EQ(woke_at, start + 5 * sim::kMillisecond);
}

// ---- destruction ----

// The Connection goes away before the receive task that attach() spawned has first run: the
// task must find out without touching the dead object (a use after free that only a sanitizer
// build reports).
TEST(Connection, DestroyedBeforeReceiveTaskRuns) {
  World w;
  std::unique_ptr<sim::StreamSocket> sock = w.connect_raw();
  ASSERT_NE(sock, nullptr);
  w.client->attach(std::move(sock));
  w.client.reset();
  w.run();
  EXPECT_EQ(w.server_disconnects, 1);  // the destructor closed the socket
}

// Destroying the Connection wakes a task parked in wait_disconnected(), which returns without
// touching the dead object (the destructor's wake-up is what a waiter gets).
TEST(Connection, DestroyWakesWaitDisconnected) {
  World w;
  w.link();
  bool returned = false;
  w.cnode.spawn("waiter", [&] {
    w.client->wait_disconnected();
    returned = true;
  });
  w.cnode.spawn("owner", [&] {
    sim::this_task::sleep(5 * sim::kMillisecond);
    w.client.reset();
  });
  w.run();
  EXPECT_TRUE(returned);
}

}  // namespace
}  // namespace simfs::fs::net
