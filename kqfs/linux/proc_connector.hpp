// The kernel's process-events connector (netlink, CN_IDX_PROC): fork, exec
// and exit of every process, exits with their wait(2) status. One socket
// per queue, opened when a filter first needs it.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <set>
#include <string>
#include <unordered_map>
#include <vector>

#include "kqfs/filter.hpp"
#include "kqfs/unique_fd.hpp"

namespace kqfs {

struct ProcessEvent {
  enum class Kind { fork, exec, exit, lost } kind;
  pid_t pid = 0;             // the thread the event is about (fork: the new one)
  pid_t tgid = 0;            // its process (fork: the new one's)
  uint32_t exit_status = 0;  // exit: as wait(2) reports it
};

class ProcConnector final : public Source {
 public:
  class Subscriber {
   public:
    // `kind` lost: messages were dropped; look at the process yourself.
    virtual void on_process_event(const ProcessEvent& event) = 0;

   protected:
    ~Subscriber() = default;
  };

  explicit ProcConnector(FilterHost& host) : host_(host) {}
  ~ProcConnector();
  ProcConnector(const ProcConnector&) = delete;
  ProcConnector& operator=(const ProcConnector&) = delete;

  // Opens the connector once; false (and why, in words) when the kernel
  // refuses it. A refusal for want of descriptors or memory is tried again
  // next time, and short_of() says which.
  bool open();
  // Whether open() would succeed, tried once without keeping the socket:
  // empty, or why not in open()'s words (the daemon's status).
  static std::string probe();
  const std::string& why_unavailable() const { return why_unavailable_; }
  int short_of() const { return tried_ ? 0 : open_error_; }

  // Events about process `tgid`: its exec and exit, its new threads and
  // their exits, and the processes it forks.
  void subscribe(pid_t tgid, Subscriber& subscriber);
  void unsubscribe(pid_t tgid, Subscriber& subscriber);

  // Reads what the kernel sent (also before deciding a process is gone:
  // its exit message comes before its pidfd turns readable).
  void on_ready(uint32_t epoll_events) override;

 private:
  void notify(pid_t tgid, const ProcessEvent& event);

  FilterHost& host_;
  UniqueFd socket_;
  bool tried_ = false;
  int open_error_ = 0;
  std::string why_unavailable_;
  std::unordered_map<pid_t, std::vector<Subscriber*>> subscribers_;
};

}  // namespace kqfs
