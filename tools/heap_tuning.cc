// Keeps freed heap memory in the process instead of handing it back to the kernel.
//
// Why: a test or a campaign runs thousands of simulations one after another, each building and
// freeing a few megabytes (fiber stacks, block caches, btree pages). glibc trims the top of the
// heap after every large free, so the next simulation page-faults all of it back in, one page at
// a time: a crash sweep of 900 simulations took 575,000 page faults. On a machine where a fault
// is cheap that is 15% of the time; on a virtual machine where it is not, the same test ran 30
// times slower and timed out. Keeping the memory makes the count a few thousand.
//
// Linked into every executable of the project (the simfs binary, tests, benchmarks) as an object
// library, so the constructor runs before main. Behaviour of the simulation does not depend on
// it: it changes where memory comes from, never what a run does.
#include <malloc.h>

namespace {

__attribute__((constructor)) void keep_freed_heap() {
  mallopt(M_TRIM_THRESHOLD, 1 << 30);  // trim only beyond 1 GiB of free memory at the top
  mallopt(M_TOP_PAD, 64 << 20);        // grow the heap 64 MiB at a time
  mallopt(M_MMAP_THRESHOLD, 32 << 20);  // fiber stacks and caches come from the heap, not mmap
}

}  // namespace
