#include "tools/cli.h"

namespace tools {

#ifndef SIMFS_GIT_SHA
#define SIMFS_GIT_SHA "unknown"
#endif

std::optional<std::string> Args::option(const std::string& name, bool* missing) {
  if (done()) return std::nullopt;
  const std::string& cur = items_[pos_];
  if (cur == name) {
    if (pos_ + 1 >= items_.size()) {
      *missing = true;
      ++pos_;
      return std::nullopt;
    }
    pos_ += 2;
    return items_[pos_ - 1];
  }
  if (cur.size() > name.size() && cur.compare(0, name.size(), name) == 0 && cur[name.size()] == '=') {
    ++pos_;
    return cur.substr(name.size() + 1);
  }
  return std::nullopt;
}

bool Args::flag(const std::string& name) {
  if (!done() && items_[pos_] == name) {
    ++pos_;
    return true;
  }
  return false;
}

std::string build_id() {
  std::string id = std::string("git:") + SIMFS_GIT_SHA + " gcc:" + __VERSION__;
#if defined(__SANITIZE_ADDRESS__)
  id += " asan";
#endif
#ifdef NDEBUG
  id += " ndebug";
#endif
  return id;
}

std::string shell_quote(const std::string& s) {
  bool plain = !s.empty();
  for (char c : s) {
    if (!(isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '-' || c == '.' || c == '/' || c == ':' || c == '=' || c == ','))
      plain = false;
  }
  if (plain) return s;
  std::string q = "'";
  for (char c : s) {
    if (c == '\'') q += "'\\''";
    else q += c;
  }
  return q + "'";
}

}  // namespace tools
