#include "sim/trace.h"

#include <charconv>
#include <cstring>

#include "sim/random.h"

namespace sim {

std::string hex64(uint64_t v) {
  static const char* digits = "0123456789abcdef";
  std::string s = "0x0000000000000000";
  for (int i = 17; i >= 2; --i) {
    s[i] = digits[v & 15];
    v >>= 4;
  }
  return s;
}

void Trace::hash_bytes(const void* p, size_t n) {
  // Eight bytes at a time (multiply, then fold the high half down): a digest only has to tell
  // event streams apart, and this runs for every field of every event, traced or not.
  const auto* b = static_cast<const uint8_t*>(p);
  uint64_t h = hash_;
  while (n >= 8) {
    uint64_t w;
    std::memcpy(&w, b, 8);
    h = (h ^ w) * 0x9E3779B97F4A7C15ull;
    h ^= h >> 32;
    b += 8;
    n -= 8;
  }
  if (n > 0) {
    uint64_t w = 0;
    std::memcpy(&w, b, n);
    h = (h ^ w ^ (static_cast<uint64_t>(n) << 56)) * 0x9E3779B97F4A7C15ull;
    h ^= h >> 32;
  }
  hash_ = h;
}

void Trace::write_header(std::string_view json_object) {
  if (!out_) return;
  buf_.append(json_object);
  buf_.push_back('\n');
}

namespace {
// Length of the well-formed UTF-8 sequence starting at s[i] (RFC 3629: no overlongs, no
// surrogates, nothing above U+10FFFF), or 0 if there is none.
size_t utf8_sequence(std::string_view s, size_t i) {
  const auto b = [&](size_t k) { return static_cast<unsigned char>(s[k]); };
  const unsigned char c = b(i);
  size_t n = 0;
  unsigned char lo = 0x80, hi = 0xbf;  // allowed range of the second byte
  if (c >= 0xc2 && c <= 0xdf) {
    n = 2;
  } else if (c >= 0xe0 && c <= 0xef) {
    n = 3;
    if (c == 0xe0) lo = 0xa0;  // overlong
    if (c == 0xed) hi = 0x9f;  // surrogates
  } else if (c >= 0xf0 && c <= 0xf4) {
    n = 4;
    if (c == 0xf0) lo = 0x90;  // overlong
    if (c == 0xf4) hi = 0x8f;  // above U+10FFFF
  } else {
    return 0;
  }
  if (s.size() - i < n || b(i + 1) < lo || b(i + 1) > hi) return 0;
  for (size_t k = 2; k < n; ++k) {
    if (b(i + k) < 0x80 || b(i + k) > 0xbf) return 0;
  }
  return n;
}
}  // namespace

// JSON strings must be UTF-8: valid sequences pass through, and any other byte >= 0x80 (field
// values can be arbitrary bytes, e.g. free text or file names) is written as the code point
// U+0080..U+00FF, so every line stays parseable.
void Trace::append_json_string(std::string_view s) {
  static const char* digits = "0123456789abcdef";
  // Fast path: nothing to escape (the common case), one append.
  bool plain = true;
  for (char c : s) {
    const auto u = static_cast<unsigned char>(c);
    if (u < 0x20 || u >= 0x80 || c == '"' || c == '\\') {
      plain = false;
      break;
    }
  }
  buf_.push_back('"');
  if (plain) {
    buf_.append(s);
    buf_.push_back('"');
    return;
  }
  for (size_t i = 0; i < s.size(); ++i) {
    const char c = s[i];
    const auto u = static_cast<unsigned char>(c);
    switch (c) {
      case '"': buf_ += "\\\""; break;
      case '\\': buf_ += "\\\\"; break;
      case '\n': buf_ += "\\n"; break;
      case '\r': buf_ += "\\r"; break;
      case '\t': buf_ += "\\t"; break;
      default:
        if (u >= 0x80) {
          if (const size_t n = utf8_sequence(s, i)) {
            buf_.append(s.substr(i, n));
            i += n - 1;
            break;
          }
        }
        if (u < 0x20 || u >= 0x80) {
          buf_ += "\\u00";
          buf_.push_back(digits[u >> 4]);
          buf_.push_back(digits[u & 15]);
        } else {
          buf_.push_back(c);
        }
    }
  }
  buf_.push_back('"');
}

uint64_t Trace::event(Time t, int node, std::string_view kind, std::initializer_list<TraceField> fields,
                      bool fault) {
  if (closed_) return count_;
  const uint64_t i = count_++;
  hash_u64(static_cast<uint64_t>(t));
  hash_u64(static_cast<uint64_t>(static_cast<int64_t>(node)));
  hash_bytes(kind.data(), kind.size());
  hash_u64(fault ? 1 : 0);
  for (const TraceField& f : fields) {
    hash_bytes(f.key.s, f.key.n);
    hash_u64(static_cast<uint64_t>(f.type));
    if (f.type == TraceField::Type::kStr) {
      hash_bytes(f.str.data(), f.str.size());
      hash_u64(f.str.size());
    } else {
      hash_u64(f.num);
    }
  }
  if (!out_) return i;

  char num[24];
  auto put_num = [&](auto v) {
    auto r = std::to_chars(num, num + sizeof num, v);
    buf_.append(num, r.ptr);
  };
  buf_ += "{\"i\":";
  put_num(i);
  buf_ += ",\"t\":";
  put_num(t);
  buf_ += ",\"node\":";
  if (node < 0) buf_ += "null"; else put_num(node);
  buf_ += ",\"kind\":";
  append_json_string(kind);
  if (fault) buf_ += ",\"fault\":true";
  for (const TraceField& f : fields) {
    if (f.key.plain) {
      buf_ += ",\"";
      buf_.append(f.key.s, f.key.n);
      buf_ += "\":";
    } else {
      buf_.push_back(',');
      append_json_string(std::string_view(f.key.s, f.key.n));
      buf_.push_back(':');
    }
    switch (f.type) {
      case TraceField::Type::kU64: put_num(f.num); break;
      case TraceField::Type::kI64: put_num(static_cast<int64_t>(f.num)); break;
      case TraceField::Type::kBool: buf_ += f.num ? "true" : "false"; break;
      case TraceField::Type::kStr: append_json_string(f.str); break;
    }
  }
  buf_ += "}\n";
  if (buf_.size() >= (1u << 16)) flush();
  return i;
}

void Trace::write_end(std::string_view extra) {
  if (!out_) return;
  buf_ += "{\"end\":true";
  if (!extra.empty()) {
    buf_.push_back(',');
    buf_.append(extra);
  }
  buf_ += "}\n";
  flush();
}

void Trace::flush() {
  if (out_ && !buf_.empty()) {
    out_->write(buf_.data(), static_cast<std::streamsize>(buf_.size()));
    out_->flush();
  }
  buf_.clear();
}

uint64_t Trace::digest(uint64_t extra) const {
  uint64_t s = hash_ ^ (count_ * 0x9E3779B97F4A7C15ull) ^ extra;
  return splitmix64_next(s);
}

}  // namespace sim
