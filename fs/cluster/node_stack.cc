#include "fs/cluster/node_stack.h"

namespace simfs::fs {

NodeStack::NodeStack(sim::Node& node, sim::Network& net, sim::BlockDevice& meta, sim::BlockDevice& data,
                     NodeStackConfig cfg)
    : node_(node), net_(net), meta_(meta), data_(data), cfg_(std::move(cfg)) {}

NodeStack::~NodeStack() { forget(); }

void NodeStack::attach() {
  mh_ = meta_.attach(node_);
  dh_ = data_.attach(node_);
}

sim::Errno NodeStack::start_server() {
  if (!mh_ || mh_->is_cut()) attach();
  server_ = std::make_unique<Server>(NodeEnv(node_), *mh_, *dh_, cfg_.server);
  if (cfg_.fence) server_->set_fence_agent(cfg_.fence);
  if (cfg_.on_server_stopped) server_->set_on_stopped(cfg_.on_server_stopped);
  server_->set_observer(cfg_.observer);
  if (sim::Errno e = server_->start()) return e;
  server_net_ = std::make_unique<ServerNet>(NodeEnv(node_), net_, *server_);
  if (cfg_.on_protocol_violation) server_net_->set_violation_handler(cfg_.on_protocol_violation);
  server_->set_links(server_net_.get());
  return server_net_->start();
}

sim::Errno NodeStack::mount(uint64_t rid) {
  if (!mh_ || mh_->is_cut()) attach();
  vfs_.reset();
  mount_.reset();
  link_.reset();
  NetServerLinkConfig lc;
  lc.server = cfg_.server_address;
  lc.fsid = cfg_.fsid;
  lc.rid = rid;
  lc.flags = cfg_.greet_flags;
  lc.bugs = cfg_.mount.bugs;
  link_ = std::make_unique<NetServerLink>(NodeEnv(node_), net_, lc);
  if (cfg_.on_protocol_violation) link_->set_violation_handler(cfg_.on_protocol_violation);
  // Refused by the server (fenced and reclaimed): the mount must stop, whatever it is doing.
  link_->set_on_refused([this](sim::Errno e) {
    if (mount_) mount_->fail(e);
  });
  if (sim::Errno e = link_->start(node_.local_time() + cfg_.connect_timeout)) return e;
  if (sim::Errno e = Mount::open(NodeEnv(node_), *mh_, *dh_, *link_, cfg_.mount, &mount_)) return e;
  vfs_ = std::make_unique<Vfs>(*mount_);
  return vfs_->recover_orphans();
}

void NodeStack::forget() {
  vfs_.reset();
  mount_.reset();
  link_.reset();
  server_net_.reset();
  server_.reset();
}

}  // namespace simfs::fs
