// Kernel micro-benchmarks: the hot paths of every simulated run.
//   fiber switch (ours vs a bare Boost.Context ping-pong in the same binary),
//   empty-event dispatch, disk write+flush, stream message send->recv,
//   and whole-scenario runs with tracing off and on.
#include <benchmark/benchmark.h>

#include <boost/context/fiber.hpp>
#include <memory>
#include <ostream>
#include <streambuf>

#include "scenarios/run.h"
#include "sim/block_device.h"
#include "sim/network.h"
#include "sim/simulation.h"
#include "sim/sync.h"

namespace {

namespace ctx = boost::context;

// Reference: main -> fiber -> main with nothing else, as cheap as a switch gets.
void BM_BareBoostFiberRoundTrip(benchmark::State& state) {
  bool stop = false;
  ctx::fiber f{[&stop](ctx::fiber&& main) {
    while (!stop) main = std::move(main).resume();
    return std::move(main);
  }};
  for (auto _ : state) f = std::move(f).resume();
  stop = true;
  f = std::move(f).resume();
}
BENCHMARK(BM_BareBoostFiberRoundTrip);

// Reference 2: the same bare Boost.Context switch, but each side switches from inside a
// non-inlined function and returns from it, as every real blocking call does (recv -> park).
// The returns after a switch mispredict (the switch desyncs the return-stack predictor).
[[gnu::noinline]] void bare_switch(ctx::fiber& f) { f = std::move(f).resume(); }
void BM_BareBoostFiberRoundTripViaCalls(benchmark::State& state) {
  bool stop = false;
  ctx::fiber f{[&stop](ctx::fiber&& main) {
    while (!stop) bare_switch(main);
    return std::move(main);
  }};
  for (auto _ : state) bare_switch(f);
  stop = true;
  f = std::move(f).resume();
}
BENCHMARK(BM_BareBoostFiberRoundTripViaCalls);

// Ours, switch only: the loop resumes a parked task and it parks again (two switches, plus
// the scheduler's bookkeeping), driven directly without the event queue.
void BM_TaskSwitchRoundTrip(benchmark::State& state) {
  sim::Simulation s(1);
  sim::Task* task = nullptr;
  bool stop = false;
  sim::TaskId id = s.spawn("pingpong", [&] {
    task = sim::Scheduler::current();
    while (!stop) s.sched().park("bench");
  }, /*daemon=*/true);
  s.run(0);  // start it: it parks
  for (auto _ : state) s.sched().resume_now(task);
  stop = true;
  s.sched().resume_now(task);
  (void)id;
}
BENCHMARK(BM_TaskSwitchRoundTrip);

// Ours, full path: a task yields; each iteration is one event scheduled and dispatched plus
// two switches.
void BM_TaskYieldThroughLoop(benchmark::State& state) {
  sim::Simulation s(1);
  uint64_t n = 0;
  const uint64_t want = static_cast<uint64_t>(state.max_iterations);
  s.spawn("yielder", [&] {
    while (n < want) {
      ++n;
      sim::this_task::yield();
    }
  });
  for (auto _ : state) {
    s.run(sim::kTimeNever, 1);
  }
}
BENCHMARK(BM_TaskYieldThroughLoop);

void noop(void*, uint64_t) {}

// Events at distinct times, scheduled up front and then dispatched.
void BM_EmptyEventDispatch(benchmark::State& state) {
  const int64_t n = state.range(0);
  for (auto _ : state) {
    state.PauseTiming();
    auto s = std::make_unique<sim::Simulation>(1);
    for (int64_t i = 0; i < n; ++i) s->loop().schedule_at(i, noop, nullptr);
    state.ResumeTiming();
    s->loop().run();
    state.PauseTiming();
    s.reset();
    state.ResumeTiming();
  }
  state.SetItemsProcessed(state.iterations() * n);
}
BENCHMARK(BM_EmptyEventDispatch)->Arg(1000)->Arg(100000);

// Steady state: each event schedules its successor (a small heap, as in most runs).
struct Chain {
  sim::EventLoop* loop;
  static void fire(void* c, uint64_t left) {
    auto* self = static_cast<Chain*>(c);
    if (left) self->loop->schedule_after(1, fire, self, left - 1);
  }
};
void BM_EmptyEventChain(benchmark::State& state) {
  sim::Simulation s(1);
  Chain c{&s.loop()};
  const uint64_t n = 1000000;
  for (auto _ : state) {
    s.loop().schedule_after(1, Chain::fire, &c, n - 1);
    s.loop().run();
  }
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations() * n));
}
BENCHMARK(BM_EmptyEventChain);

// One 4 KiB write then a FLUSH, from a task, per iteration (wall cost of the simulation).
void BM_DiskWriteFlush(benchmark::State& state) {
  sim::Simulation s(1);
  sim::BlockDeviceConfig cfg;
  cfg.block_count = 1024;
  sim::BlockDevice dev(s, 0, "d", cfg);
  sim::Node& node = s.add_node("n");
  std::vector<uint8_t> block(cfg.block_size, 7);
  const uint64_t want = static_cast<uint64_t>(state.max_iterations);
  uint64_t done = 0;
  node.set_boot([&](sim::Node& n) {
    auto h = dev.attach(n);
    while (done < want) {
      h->write(done % 1024, block);
      h->flush();
      ++done;
    }
  });
  node.start();
  for (auto _ : state) {
    const uint64_t target = done + 1;
    while (done < target) {
      if (s.run(sim::kTimeNever, 1).outcome != sim::Simulation::Outcome::kEventLimit)
        return state.SkipWithError("simulation stopped");
    }
  }
  s.shutdown();
}
BENCHMARK(BM_DiskWriteFlush);

// One message over a stream connection per iteration: send, delivery event, receiver wakes
// and takes it, and the sender is told (so exactly one message is in flight at a time).
void BM_MessageSendRecv(benchmark::State& state) {
  sim::Simulation s(1);
  sim::Network net(s);
  sim::Node& a = s.add_node("a");
  sim::Node& b = s.add_node("b");
  uint64_t received = 0;
  sim::WaitQueue delivered;
  b.set_boot([&](sim::Node& n) {
    auto l = net.listen(n, 1);
    auto c = l->accept();
    sim::Message m;
    while (c->recv(m) == sim::kOk) {
      ++received;
      delivered.notify_one();
    }
  }, true);
  a.set_boot([&](sim::Node& n) {
    sim::Errno err;
    std::unique_ptr<sim::StreamSocket> c;
    while (!(c = net.connect(n, sim::Address{1, 1}, &err))) sim::this_task::sleep(1000);
    for (;;) {  // until shutdown
      sim::Message m;
      m.type = 1;
      m.payload.resize(64);
      c->send(std::move(m));
      delivered.wait("delivered");
    }
  }, true);
  b.start();
  a.start();
  // A benchmark must not spin if the simulation stops making progress.
  auto step = [&] { return s.run(sim::kTimeNever, 1).outcome == sim::Simulation::Outcome::kEventLimit; };
  while (received == 0) {
    if (!step()) return state.SkipWithError("simulation stopped before the first message");
  }
  const uint64_t events_before = s.loop().events_dispatched(), received_before = received;
  for (auto _ : state) {
    const uint64_t target = received + 1;
    while (received < target) {
      if (!step()) return state.SkipWithError("simulation stopped");
    }
  }
  state.counters["loop_events_per_msg"] =
      static_cast<double>(s.loop().events_dispatched() - events_before) / static_cast<double>(received - received_before);
  s.shutdown();
}
BENCHMARK(BM_MessageSendRecv);

class NullBuf : public std::streambuf {
 protected:
  std::streamsize xsputn(const char*, std::streamsize n) override { return n; }
  int overflow(int c) override { return c; }
};

// Whole scenario runs: arg 0 = tracing off, 1 = tracing on (to a null stream).
void BM_Scenario(benchmark::State& state, const char* name) {
  NullBuf nb;
  std::ostream null_out(&nb);
  uint64_t seed = 1, events = 0;
  double sim_ns = 0;
  for (auto _ : state) {
    scenarios::RunConfig cfg;
    cfg.scenario = name;
    cfg.seed = seed++;
    if (state.range(0)) cfg.trace_out = &null_out;
    scenarios::RunReport r = scenarios::run_scenario(cfg);
    events += r.loop_events;
    sim_ns += static_cast<double>(r.sim_ns);
  }
  state.counters["loop_events_per_s"] = benchmark::Counter(static_cast<double>(events), benchmark::Counter::kIsRate);
  state.counters["sim_s_per_wall_s"] = benchmark::Counter(sim_ns / 1e9, benchmark::Counter::kIsRate);
}
BENCHMARK_CAPTURE(BM_Scenario, register, "register")->Arg(0)->Arg(1)->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(BM_Scenario, journal, "journal")->Arg(0)->Arg(1)->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(BM_Scenario, echo, "echo")->Arg(0)->Arg(1)->Unit(benchmark::kMillisecond);

}  // namespace

BENCHMARK_MAIN();
