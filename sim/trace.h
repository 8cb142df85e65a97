// Trace: the canonical event stream of a run, and its digest.
//
// Every event is {i, t, node, kind, fields...}. The digest is a 64-bit hash chained over the
// canonical content of every event (not the header, which holds build and host data), so two
// runs agree on the digest iff they produced the same events. It is computed whether or not a
// sink is attached; writing JSON Lines happens only with a sink. With no sink an event costs
// one pass of FNV-1a over its kind, keys and values (tens of ns), and no allocation.
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

struct TraceField {
  enum class Type : uint8_t { kU64, kI64, kStr, kBool };
  const char* key;
  Type type;
  uint64_t num = 0;
  std::string_view str;

  TraceField(const char* k, bool v) : key(k), type(Type::kBool), num(v ? 1 : 0) {}
  template <std::integral T>
    requires(!std::same_as<T, bool>)
  TraceField(const char* k, T v)
      : key(k), type(std::is_signed_v<T> ? Type::kI64 : Type::kU64), num(static_cast<uint64_t>(v)) {}
  TraceField(const char* k, std::string_view v) : key(k), type(Type::kStr), str(v) {}
  TraceField(const char* k, const char* v) : key(k), type(Type::kStr), str(v) {}
  TraceField(const char* k, const std::string& v) : key(k), type(Type::kStr), str(v) {}
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
  void hash_u64(uint64_t v) { hash_bytes(&v, sizeof v); }
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
