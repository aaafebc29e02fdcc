#include "kqfs/linux/proc_connector.hpp"

#include <linux/cn_proc.h>
#include <linux/connector.h>
#include <linux/netlink.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>

namespace kqfs {

ProcConnector::~ProcConnector() {
  if (socket_) host_.remove_source(socket_.get());
}

namespace {

// The kernel takes a subscription only from a process in the initial PID
// and user namespaces: from any other (a container) it ignores it without
// an error, and the socket would stay silent, or hear pids of another
// namespace. Those two namespaces have fixed inode numbers (the kernel's
// PROC_PID_INIT_INO and PROC_USER_INIT_INO). Empty when in both, or when
// /proc cannot tell.
std::string outside_initial_namespaces() {
  constexpr ino_t kInitialPidNamespace = 0xEFFFFFFCU;
  constexpr ino_t kInitialUserNamespace = 0xEFFFFFFDU;
  struct stat pid_namespace {};
  struct stat user_namespace {};
  if (::stat("/proc/self/ns/pid", &pid_namespace) == 0 &&
      pid_namespace.st_ino != kInitialPidNamespace) {
    return "no process-events connector: kqfsd runs in a PID namespace of its own (a "
           "container), and the kernel sends process events only to the initial one";
  }
  if (::stat("/proc/self/ns/user", &user_namespace) == 0 &&
      user_namespace.st_ino != kInitialUserNamespace) {
    return "no process-events connector: kqfsd runs in a user namespace of its own (a "
           "container), and the kernel sends process events only to the initial one";
  }
  return {};
}

// The connector's socket, subscribed with `operation` (PROC_CN_MCAST_LISTEN
// or _IGNORE); null with errno set when the kernel refuses it, and the
// refusal in words in `why`.
UniqueFd connector_socket(uint32_t operation, std::string& why) {
  if (why = outside_initial_namespaces(); !why.empty()) {
    errno = EOPNOTSUPP;
    return {};
  }
  UniqueFd socket(
      ::socket(AF_NETLINK, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, NETLINK_CONNECTOR));
  sockaddr_nl address{};
  address.nl_family = AF_NETLINK;
  address.nl_groups = CN_IDX_PROC;
  if (!socket || ::bind(socket.get(), reinterpret_cast<sockaddr*>(&address), sizeof address) != 0) {
    why = std::string("no process-events connector: ") + std::strerror(errno);
    return {};
  }
  // A connector message holding the operation.
  alignas(nlmsghdr) char request[NLMSG_SPACE(sizeof(cn_msg) + sizeof operation)] = {};
  auto* header = reinterpret_cast<nlmsghdr*>(request);
  header->nlmsg_len = NLMSG_LENGTH(sizeof(cn_msg) + sizeof operation);
  header->nlmsg_type = NLMSG_DONE;
  header->nlmsg_pid = static_cast<uint32_t>(::getpid());
  auto* message = static_cast<cn_msg*>(NLMSG_DATA(header));
  message->id.idx = CN_IDX_PROC;
  message->id.val = CN_VAL_PROC;
  message->len = sizeof operation;
  std::memcpy(message->data, &operation, sizeof operation);
  if (::send(socket.get(), request, header->nlmsg_len, 0) < 0) {
    why = std::string("process-events connector refused: ") + std::strerror(errno);
    return {};
  }
  return socket;
}

}  // namespace

std::string ProcConnector::probe() {
  std::string why;
  if (!connector_socket(PROC_CN_MCAST_LISTEN, why)) return why;
  // Listening raised the kernel's count of listeners: lowered again, so the
  // probe leaves the kernel sending process events no longer than before.
  connector_socket(PROC_CN_MCAST_IGNORE, why);
  return {};
}

bool ProcConnector::open() {
  if (socket_) return true;
  if (tried_) return false;
  tried_ = true;
  UniqueFd socket = connector_socket(PROC_CN_MCAST_LISTEN, why_unavailable_);
  if (!socket) {
    // Short of descriptors or memory now is not "this host has none".
    if (errno == EMFILE || errno == ENFILE || errno == ENOMEM || errno == ENOBUFS) {
      open_error_ = errno;
      tried_ = false;
    }
    return false;
  }
  if (const int error = host_.add_source(socket.get(), EPOLLIN, *this); error != 0) {
    why_unavailable_ = std::string("process-events connector: ") + std::strerror(error);
    open_error_ = error;
    tried_ = false;  // short of memory now, maybe not later
    return false;
  }
  socket_ = std::move(socket);
  return true;
}

void ProcConnector::subscribe(pid_t tgid, Subscriber& subscriber) {
  auto& list = subscribers_[tgid];
  if (std::find(list.begin(), list.end(), &subscriber) == list.end()) list.push_back(&subscriber);
}

void ProcConnector::unsubscribe(pid_t tgid, Subscriber& subscriber) {
  auto found = subscribers_.find(tgid);
  if (found == subscribers_.end()) return;
  auto& list = found->second;
  list.erase(std::remove(list.begin(), list.end(), &subscriber), list.end());
  if (list.empty()) subscribers_.erase(found);
}

void ProcConnector::on_ready(uint32_t) {
  if (!socket_) return;
  alignas(nlmsghdr) char buffer[8192];
  for (;;) {
    const ssize_t length = ::recv(socket_.get(), buffer, sizeof buffer, 0);
    if (length < 0) {
      if (errno != ENOBUFS) return;  // drained
      // The kernel dropped messages: everyone looks at their process.
      std::vector<pid_t> watched;
      for (const auto& [tgid, list] : subscribers_)
        watched.push_back(tgid);
      for (const pid_t tgid : watched)
        notify(tgid, ProcessEvent{ProcessEvent::Kind::lost, tgid, tgid});
      continue;
    }
    int remaining = static_cast<int>(length);
    for (auto* header = reinterpret_cast<nlmsghdr*>(buffer); NLMSG_OK(header, remaining);
         header = NLMSG_NEXT(header, remaining)) {
      const auto* message = static_cast<const cn_msg*>(NLMSG_DATA(header));
      if (message->id.idx != CN_IDX_PROC || message->len < sizeof(proc_event)) continue;
      proc_event event;
      std::memcpy(&event, message->data, sizeof event);
      switch (event.what) {
        case proc_event::PROC_EVENT_FORK: {
          const auto& fork = event.event_data.fork;
          // A new thread's parent is its process's parent (CLONE_THREAD
          // shares real_parent): tell its own process instead.
          const bool thread = fork.child_pid != fork.child_tgid;
          notify(thread ? fork.child_tgid : fork.parent_tgid,
                 ProcessEvent{ProcessEvent::Kind::fork, fork.child_pid, fork.child_tgid});
          break;
        }
        case proc_event::PROC_EVENT_EXEC: {
          const auto& exec = event.event_data.exec;
          notify(exec.process_tgid,
                 ProcessEvent{ProcessEvent::Kind::exec, exec.process_pid, exec.process_tgid});
          break;
        }
        case proc_event::PROC_EVENT_EXIT: {
          const auto& exit = event.event_data.exit;
          notify(exit.process_tgid, ProcessEvent{ProcessEvent::Kind::exit, exit.process_pid,
                                                 exit.process_tgid, exit.exit_code});
          break;
        }
        default:
          break;
      }
    }
  }
}

// Subscribers post knotes and may subscribe others (NOTE_TRACK); the list
// is copied so that neither disturbs this loop.
void ProcConnector::notify(pid_t tgid, const ProcessEvent& event) {
  const auto found = subscribers_.find(tgid);
  if (found == subscribers_.end()) return;
  const std::vector<Subscriber*> listeners = found->second;
  for (Subscriber* subscriber : listeners)
    subscriber->on_process_event(event);
}

}  // namespace kqfs
