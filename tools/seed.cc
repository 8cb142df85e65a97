#include "tools/seed.h"

namespace tools {

std::optional<uint64_t> parse_seed(std::string_view s, std::string* error) {
  auto fail = [&](const std::string& why) -> std::optional<uint64_t> {
    if (error) *error = "bad seed '" + std::string(s) + "': " + why;
    return std::nullopt;
  };
  if (s.empty()) return fail("empty");
  if (s[0] == '-' || s[0] == '+') return fail("seeds are unsigned 64-bit values, without a sign");
  uint64_t v = 0;
  if (s.size() > 2 && s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) {
    std::string_view h = s.substr(2);
    if (h.size() > 16) return fail("more than 64 bits");
    for (char c : h) {
      int d;
      if (c >= '0' && c <= '9') d = c - '0';
      else if (c >= 'a' && c <= 'f') d = c - 'a' + 10;
      else if (c >= 'A' && c <= 'F') d = c - 'A' + 10;
      else return fail("not a hex digit: '" + std::string(1, c) + "'");
      v = (v << 4) | static_cast<uint64_t>(d);
    }
    return v;
  }
  if (s == "0x" || s == "0X") return fail("no digits after 0x");
  if (s.size() > 1 && s[0] == '0') return fail("leading zero (write hex as 0x...)");
  for (char c : s) {
    if (c < '0' || c > '9') return fail("not a decimal digit: '" + std::string(1, c) + "'");
    const uint64_t d = static_cast<uint64_t>(c - '0');
    if (v > (UINT64_MAX - d) / 10) return fail("larger than 2^64-1");
    v = v * 10 + d;
  }
  return v;
}

}  // namespace tools
