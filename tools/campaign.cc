#include "tools/campaign.h"

#include <cctype>

#include "sim/random.h"
#include "sim/trace.h"

namespace tools {

uint64_t campaign_run_seed(uint64_t campaign_seed, uint64_t k) { return sim::splitmix64_at(campaign_seed, k); }

std::string normalize_message(const std::string& msg) {
  // Numbers (decimal, and 0x-prefixed hex) and quoted names vary between runs of one bug;
  // the words around them are what says which bug it is.
  std::string out;
  for (size_t i = 0; i < msg.size();) {
    const char c = msg[i];
    if (c == '0' && i + 1 < msg.size() && (msg[i + 1] == 'x' || msg[i + 1] == 'X')) {
      size_t j = i + 2;
      while (j < msg.size() && std::isxdigit(static_cast<unsigned char>(msg[j]))) ++j;
      out += "#";
      i = j;
    } else if (c >= '0' && c <= '9') {
      while (i < msg.size() && msg[i] >= '0' && msg[i] <= '9') ++i;
      out += "#";
    } else if (c == '\'' || c == '"') {
      const size_t close = msg.find(c, i + 1);
      if (close == std::string::npos || close - i > 80) {  // not a short quoted name
        out.push_back(c);
        ++i;
      } else {
        out += c;
        out += '?';
        out += c;
        i = close + 1;
      }
    } else {
      out.push_back(c);
      ++i;
    }
  }
  return out;
}

std::string fingerprint_of(const std::string& scenario, const std::string& invariant, const std::string& message) {
  const std::string key = scenario + "\n" + invariant + "\n" + normalize_message(message);
  return sim::hex64(sim::fnv1a64(key)).substr(2, 12);
}

std::string xml_escape(const std::string& s) {
  std::string o;
  for (char c : s) {
    switch (c) {
      case '<': o += "&lt;"; break;
      case '>': o += "&gt;"; break;
      case '&': o += "&amp;"; break;
      case '"': o += "&quot;"; break;
      case '\'': o += "&apos;"; break;
      default:
        if (static_cast<unsigned char>(c) < 0x20 && c != '\n' && c != '\t') o += ' ';
        else o.push_back(c);
    }
  }
  return o;
}

}  // namespace tools
