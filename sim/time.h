// Virtual time: signed 64-bit integer nanoseconds since the start of the run.
// Nothing in sim/ fs/ oracle/ scenarios/ ever reads a host clock.
#pragma once

#include <cstdint>

namespace sim {

using Time = int64_t;      // an instant, ns since run start
using Duration = int64_t;  // a span, ns

constexpr Duration kNanosecond = 1;
constexpr Duration kMicrosecond = 1000;
constexpr Duration kMillisecond = 1000 * kMicrosecond;
constexpr Duration kSecond = 1000 * kMillisecond;
constexpr Time kTimeNever = INT64_MAX;

}  // namespace sim
