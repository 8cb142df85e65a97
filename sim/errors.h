// Error codes returned by simulated devices and sockets: POSIX errno values, 0 for success.
// Only errors a caller can react to differently get their own code.
#pragma once

#include <cerrno>

namespace sim {

using Errno = int;
constexpr Errno kOk = 0;

const char* errno_name(Errno e);

}  // namespace sim
