// The two ImageReaders fsck is given: a simulated device's durable contents (tests, scenarios)
// and a decoded image file (simfs fsck). A block an image does not hold (or holds at the wrong
// size) reads as zeros, as DeviceImage says.
#include <algorithm>

#include "fs/fsck/fsck.h"

namespace simfs::fs {

ImageReader durable_reader(const sim::BlockDevice& dev) {
  ImageReader r;
  r.block_count = dev.config().block_count;
  r.block_size = dev.config().block_size;
  r.read = [&dev](uint64_t blkno, std::span<uint8_t> out) {
    if (blkno >= dev.config().block_count || out.size() != dev.config().block_size) return false;
    dev.peek_durable(blkno, out);
    return true;
  };
  return r;
}

ImageReader image_reader(const sim::DeviceImage& img) {
  ImageReader r;
  r.block_count = img.block_count;
  r.block_size = img.block_size;
  r.read = [&img](uint64_t blkno, std::span<uint8_t> out) {
    if (blkno >= img.block_count || out.size() != img.block_size) return false;
    auto it = img.blocks.find(blkno);
    if (it == img.blocks.end() || it->second.size() != out.size()) {
      std::fill(out.begin(), out.end(), uint8_t{0});
    } else {
      std::copy(it->second.begin(), it->second.end(), out.begin());
    }
    return true;
  };
  return r;
}

}  // namespace simfs::fs
