// Seeds on the command line: decimal ("12345") or 0x-hex ("0x3039"), 64-bit unsigned.
// Parsed by our own code: no sign, no leading zeros on decimals (they read as octal
// elsewhere), no empty string, nothing trailing, no overflow.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace tools {

// Returns the seed, or nullopt with *error saying what is wrong.
std::optional<uint64_t> parse_seed(std::string_view text, std::string* error);

}  // namespace tools
