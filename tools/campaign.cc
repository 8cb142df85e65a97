#include "tools/campaign.h"

#include "sim/random.h"
#include "sim/trace.h"

namespace tools {

uint64_t campaign_run_seed(uint64_t campaign_seed, uint64_t k) { return sim::splitmix64_at(campaign_seed, k); }

std::string normalize_message(const std::string& msg) {
  std::string out;
  bool in_digits = false;
  for (char c : msg) {
    if (c >= '0' && c <= '9') {
      if (!in_digits) out.push_back('#');
      in_digits = true;
    } else {
      in_digits = false;
      out.push_back(c);
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
