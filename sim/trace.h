// Trace: the canonical event stream of a run, and its digest.
//
// Every event is {i, t, node, kind, fields...}. The digest is a 64-bit hash chained over the
// canonical content of every event (not the header, which holds build and host data), so two
// runs agree on the digest iff they produced the same events. It is computed whether or not a
// sink is attached; writing JSON Lines happens only with a sink. With no sink an event costs
// a word-at-a-time hash over its kind, keys and values (tens of ns), and no allocation.
//
// Format (JSON Lines): line 1 is the header object {"format":"simfs-trace","version":1,...};
// then one event per line; the last line is {"end":true, "digest":"0x...", ...}.
#pragma once

#include <concepts>
#include <cstdint>
#include <initializer_list>
#include <ostream>
#include <string>
#include <string_view>

#include "sim/time.h"

namespace sim {

// A field name: always a string literal, so its length and whether it needs escaping are known
// at compile time (no strlen or scan per field per event).
struct TraceKey {
  const char* s;
  uint32_t n;
  bool plain;  // needs no JSON escaping: decided at compile time, so the hot path skips it
  template <size_t N>
  consteval TraceKey(const char (&k)[N]) : s(k), n(N - 1), plain(true) {
    for (size_t i = 0; i + 1 < N; ++i) {
      const auto u = static_cast<unsigned char>(k[i]);
      if (u < 0x20 || u >= 0x80 || k[i] == '"' || k[i] == '\\') plain = false;
    }
  }
};

struct TraceField {
  enum class Type : uint8_t { kU64, kI64, kStr, kBool };
  TraceKey key;
  Type type;
  uint64_t num = 0;
  std::string_view str;

  TraceField(TraceKey k, bool v) : key(k), type(Type::kBool), num(v ? 1 : 0) {}
  template <std::integral T>
    requires(!std::same_as<T, bool>)
  TraceField(TraceKey k, T v)
      : key(k), type(std::is_signed_v<T> ? Type::kI64 : Type::kU64), num(static_cast<uint64_t>(v)) {}
  TraceField(TraceKey k, std::string_view v) : key(k), type(Type::kStr), str(v) {}
  TraceField(TraceKey k, const char* v) : key(k), type(Type::kStr), str(v) {}
  TraceField(TraceKey k, const std::string& v) : key(k), type(Type::kStr), str(v) {}
};

class Trace {
 public:
  Trace() = default;
  ~Trace() { flush(); }
  Trace(const Trace&) = delete;
  Trace& operator=(const Trace&) = delete;

  // Attach a sink (nullptr detaches). The caller owns the stream.
  void set_sink(std::ostream* out) { out_ = out; }
  bool enabled() const { return out_ != nullptr; }

  // Writes an already-serialised JSON object as the header line. Not part of the digest.
  void write_header(std::string_view json_object);
  // Appends an event; returns its index i. node < 0 means "no node" (written as null).
  uint64_t event(Time t, int node, std::string_view kind, std::initializer_list<TraceField> fields,
                 bool fault = false);
  // Writes the closing summary line (a JSON object without braces is appended after "end").
  void write_end(std::string_view extra_json_members);
  void flush();
  // Ends the trace: flushes, detaches the sink, and ignores later events (teardown after the
  // verdict must not change the digest or follow the end line).
  void close() {
    flush();
    out_ = nullptr;
    closed_ = true;
  }

  uint64_t count() const { return count_; }
  // Mixes extra run facts (e.g. the loop's schedule hash) into the final digest.
  uint64_t digest(uint64_t extra = 0) const;

 private:
  void hash_bytes(const void* p, size_t n);
  void hash_u64(uint64_t v) {
    hash_ = (hash_ ^ v) * 0x9E3779B97F4A7C15ull;
    hash_ ^= hash_ >> 32;
  }
  void append_json_string(std::string_view s);

  std::ostream* out_ = nullptr;
  std::string buf_;
  bool closed_ = false;
  uint64_t count_ = 0;
  uint64_t hash_ = 0xcbf29ce484222325ull;
};

// Formats a 64-bit value as 0x-prefixed lower-case hex (16 digits).
std::string hex64(uint64_t v);

}  // namespace sim
