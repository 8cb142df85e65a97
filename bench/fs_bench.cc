// Filesystem operation costs in wall-clock time: each benchmark runs a whole simulation (one
// node, metadata + data devices) doing N operations of one mix, tracing off unless the name
// says traced. items_per_second is simulated filesystem operations per wall-clock second.
//
//   build/bench/fs_bench                       # all
//   build/bench/fs_bench --benchmark_filter=Create
#include <benchmark/benchmark.h>

#include <memory>
#include <ostream>
#include <streambuf>
#include <string>
#include <vector>

#include "fs/cluster/node_stack.h"
#include "fs/server/mkfs.h"
#include "fs/vfs/vfs.h"
#include "sim/block_device.h"
#include "sim/network.h"
#include "sim/simulation.h"

namespace {

using namespace simfs::fs;

sim::BlockDeviceConfig dev(uint64_t blocks) {
  sim::BlockDeviceConfig c;
  c.block_size = kBlockSize;
  c.block_count = blocks;
  return c;
}

// Discards the trace, so traced runs pay for formatting it but not for storing it.
struct NullBuf : std::streambuf {
  int overflow(int c) override { return c; }
  std::streamsize xsputn(const char*, std::streamsize n) override { return n; }
};

enum class Mix { kCreate, kWrite, kRead, kCreateUnlink, kMixed };

// Runs `ops` operations of the mix in a fresh simulation; returns operations done.
int64_t run_mix(Mix mix, int ops, bool traced) {
  sim::Simulation s(1);
  NullBuf nb;
  std::ostream null_out(&nb);
  if (traced) s.trace().set_sink(&null_out);
  sim::Node& n = s.add_node("n");
  sim::BlockDevice meta(s, 0, "meta", dev(65536)), data(s, 1, "data", dev(65536));
  sim::Network net(s);
  int64_t done = 0;
  // The smallest cluster: the server and one mount on one node, over the network.
  NodeStackConfig nc;
  nc.fsid = 1;
  nc.server_address = sim::Address{0, kServerPort};
  nc.mount.timer = false;
  NodeStack stack(n, net, meta, data, nc);
  n.set_boot([&](sim::Node& node) {
    stack.attach();
    if (mkfs(NodeEnv(node), stack.meta_handle(), stack.data_handle(), 1)) return;
    if (stack.start_server() || stack.mount(1)) return;
    Vfs& v = stack.vfs();
    Mount* m = &stack.mount();
    uint64_t dir = 0, ino = 0;
    v.mkdir(kRootIno, "d", 0755, &dir);
    std::vector<uint8_t> buf(4096, 7), out;
    std::vector<uint64_t> files;
    if (mix != Mix::kCreate && mix != Mix::kCreateUnlink) {
      for (int i = 0; i < 256; ++i) {
        v.create(dir, "f" + std::to_string(i), 0644, &ino);
        v.write(ino, 0, buf);
        files.push_back(ino);
      }
      v.sync();
    }
    for (int i = 0; i < ops; ++i) {
      switch (mix) {
        case Mix::kCreate:
          if (v.create(dir, "file" + std::to_string(i), 0644, &ino) == 0) ++done;
          break;
        case Mix::kCreateUnlink: {
          const std::string name = "file" + std::to_string(i);
          if (v.create(dir, name, 0644, &ino) == 0 && v.unlink(dir, name) == 0) done += 2;
          break;
        }
        case Mix::kWrite:
          if (v.write(files[i % files.size()], (i / files.size()) % 64 * 4096, buf) == 0) ++done;
          break;
        case Mix::kRead:
          if (v.read(files[i % files.size()], 0, 4096, &out) == 0) ++done;
          break;
        case Mix::kMixed: {
          // create : write : read : unlink = 1 : 2 : 4 : 1
          const int k = i % 8;
          const std::string name = "m" + std::to_string(i / 8);
          if (k == 0 && v.create(dir, name, 0644, &ino) == 0) files.push_back(ino);
          else if (k <= 2) v.write(files[i % files.size()], 0, buf);
          else if (k <= 6) v.read(files[i % files.size()], 0, 4096, &out);
          else if (v.unlink(dir, "m" + std::to_string(i / 8)) == 0) files.pop_back();
          ++done;
          break;
        }
      }
    }
    v.sync();
    m->unmount();
    node.crash();  // the server's workers end with the node
  });
  n.start();
  s.run(sim::kTimeNever);
  s.shutdown();
  return done;
}

void BM_Fs(benchmark::State& state, Mix mix, bool traced) {
  const int ops = static_cast<int>(state.range(0));
  int64_t total = 0;
  for (auto _ : state) total += run_mix(mix, ops, traced);
  state.SetItemsProcessed(total);
}

BENCHMARK_CAPTURE(BM_Fs, Create, Mix::kCreate, false)->Arg(20000)->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(BM_Fs, CreateTraced, Mix::kCreate, true)->Arg(20000)->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(BM_Fs, CreateUnlink, Mix::kCreateUnlink, false)->Arg(10000)->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(BM_Fs, Write4k, Mix::kWrite, false)->Arg(20000)->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(BM_Fs, Read4k, Mix::kRead, false)->Arg(20000)->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(BM_Fs, Mixed, Mix::kMixed, false)->Arg(20000)->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(BM_Fs, MixedTraced, Mix::kMixed, true)->Arg(20000)->Unit(benchmark::kMillisecond);

}  // namespace

BENCHMARK_MAIN();
