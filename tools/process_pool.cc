#include "tools/process_pool.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>

namespace tools {

int64_t monotonic_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

ProcessPool::~ProcessPool() {
  for (auto& [pid, c] : children_) {
    kill(pid, SIGKILL);
    close(c.fd);
    waitpid(pid, nullptr, 0);
  }
}

bool ProcessPool::start(const std::vector<std::string>& argv, uint64_t tag, int timeout_ms, bool quiet_stderr) {
  int fds[2];
  if (pipe2(fds, O_CLOEXEC) != 0) return false;
  pid_t pid = fork();
  if (pid < 0) {
    close(fds[0]);
    close(fds[1]);
    return false;
  }
  if (pid == 0) {
    dup2(fds[1], 1);
    if (quiet_stderr) {
      int dn = open("/dev/null", O_WRONLY);
      if (dn >= 0) dup2(dn, 2);
    }
    std::vector<char*> args;
    for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
    args.push_back(nullptr);
    execv(args[0], args.data());
    _exit(127);
  }
  close(fds[1]);
  Child c{pid, fds[0], tag, timeout_ms > 0 ? monotonic_ms() + timeout_ms : 0, false, {}};
  children_.emplace(pid, std::move(c));
  return true;
}

bool ProcessPool::wait_one(uint64_t* tag, ChildResult* result, int poll_ms) {
  const int64_t until = monotonic_ms() + poll_ms;
  for (;;) {
    // Kill children past their deadline; they finish below like any other.
    const int64_t now = monotonic_ms();
    for (auto& [pid, c] : children_) {
      if (c.deadline_ms && now >= c.deadline_ms && !c.killed) {
        kill(pid, SIGKILL);
        c.killed = true;
      }
    }
    std::vector<pollfd> pfds;
    std::vector<pid_t> pids;
    for (auto& [pid, c] : children_) {
      pfds.push_back(pollfd{c.fd, POLLIN, 0});
      pids.push_back(pid);
    }
    if (pfds.empty()) return false;
    int wait = static_cast<int>(until - monotonic_ms());
    if (wait < 0) wait = 0;
    if (wait > 100) wait = 100;  // wake up to enforce deadlines
    int pr = poll(pfds.data(), pfds.size(), wait);
    if (pr < 0 && errno != EINTR) return false;
    for (size_t i = 0; i < pfds.size(); ++i) {
      if (!(pfds[i].revents & (POLLIN | POLLHUP | POLLERR))) continue;
      Child& c = children_.at(pids[i]);
      char buf[65536];
      ssize_t n = read(c.fd, buf, sizeof buf);
      if (n > 0) {
        c.out.append(buf, static_cast<size_t>(n));
        continue;
      }
      if (n < 0 && errno == EINTR) continue;
      // EOF: the child closed stdout (it exited or was killed).
      close(c.fd);
      int status = 0;
      while (waitpid(c.pid, &status, 0) < 0 && errno == EINTR) {
      }
      ChildResult r;
      if (WIFEXITED(status)) r.exit_code = WEXITSTATUS(status);
      if (WIFSIGNALED(status)) r.signal = WTERMSIG(status);
      r.timed_out = c.killed;
      r.out = std::move(c.out);
      *tag = c.tag;
      *result = std::move(r);
      children_.erase(pids[i]);
      return true;
    }
    if (monotonic_ms() >= until) return false;
  }
}

}  // namespace tools
