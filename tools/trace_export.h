// Trace exporters: pure functions from a simfs trace to other tools' formats.
//
// Chrome Trace Event JSON (loads in Perfetto and chrome://tracing): one process per node
// (pid = node id + 1, named "NN name" so the order survives Perfetto ignoring sort indices),
// plus a "world" process for cluster-wide events. Messages are 1 us X slices bound by flow v2
// (bind_id = message id, flow_out on send, flow_in on receive), so arrows connect them;
// drops and injected faults are instants (category "fault"); client operations are async
// slices from op_call to op_return; the violation is a global instant "VIOLATION <id>".
//
// ShiViz log: a parsing regex on line 1, an empty delimiter line, then two lines per event
// (description, then "host {vector clock}"), with vector clocks computed from send/receive
// pairs: a local event increments the node's own entry, a receive first takes the element-wise
// maximum with the clock the message was sent with.
#pragma once

#include <nlohmann/json.hpp>
#include <string>

#include "tools/trace_reader.h"

namespace tools {

nlohmann::ordered_json export_chrome(const TraceFile& trace);
std::string export_shiviz(const TraceFile& trace);

}  // namespace tools
