// ServerLink: how a mount reaches the server — the client side of the client-server seam. The
// mount sends requests and answers the server's pushes (lock invalidations, SYNC_LOG_TREES,
// LOCK_RECOVER) through it and never sees sockets, so the same mount code runs against the server
// over simulated streams (NetServerLink, the only implementation today) and could run against
// a server in the same process or a scripted one.
//
// Contract (every implementation):
// - Requests are delivered to the server at most once per server incarnation and resent, in
//   order, to a new server; `done` runs exactly once: with the response, or with
//   net::kMaybeDelivered when the link is shut down first (the request may have taken effect).
// - Responses and pushes reach the mount in the order the server sent them, one at a time, in
//   a task of the mount's node; `done` and the push handler must not park.
// - ENOLINK in any response means the server no longer knows this mount (it was fenced and
//   reclaimed): the mount must stop.
#pragma once

#include <functional>

#include "fs/net/connection.h"
#include "fs/proto/messages.h"
#include "fs/proto/wire.h"

namespace simfs::fs {

class ServerLink {
 public:
  using PushHandler = std::function<void(const proto::Header& h, proto::Bytes data)>;
  virtual ~ServerLink() = default;

  virtual void send_request(proto::Cmd cmd, proto::Bytes data, net::Connection::ResponseHandler done) = 0;
  // Parks until the response.
  virtual net::Reply call(proto::Cmd cmd, proto::Bytes data) = 0;
  virtual void respond(const proto::Header& push, sim::Errno error, proto::Bytes data) = 0;
  virtual void set_push_handler(PushHandler h) = 0;
  // The rid the link greeted the server with.
  virtual uint64_t rid() const = 0;
  // Ends the link: pending requests complete with kMaybeDelivered.
  virtual void shutdown() = 0;
  // Unmounting: greetings from now on carry the FAREWELL flag, so a server that no longer
  // knows this mount (its farewell was done, the answer lost) still lets the farewell through.
  virtual void set_farewell(bool on) { (void)on; }
};

}  // namespace simfs::fs
