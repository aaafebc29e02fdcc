// The mount fuzzer: processes writing random change records, valid and
// not, of every filter and format, to several queues at once, while the
// parent checks that the daemon stays up and sane.
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/event.h>
#include <sys/eventfd.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <map>
#include <random>
#include <string>
#include <vector>

#include "tests/stress/common.hpp"
#include "tests/stress/storms.hpp"

namespace kqfs::stress {
namespace {

constexpr int kDaemonGone = 2;  // a child's exit status when the mount died

class RecordMaker {
 public:
  RecordMaker(unsigned seed, std::vector<int> fds) : random_(seed), fds_(std::move(fds)) {}

  template <class T>
  const T& pick(const std::vector<T>& choices) {
    return choices[std::uniform_int_distribution<size_t>(0, choices.size() - 1)(random_)];
  }
  bool chance(int percent) { return std::uniform_int_distribution<int>(0, 99)(random_) < percent; }
  uint64_t number(uint64_t most) {
    return std::uniform_int_distribution<uint64_t>(0, most)(random_);
  }

  std::string ident_for(const std::string& filter) {
    if (filter == "read" || filter == "write" || filter == "vnode" || filter == "EVFILT_READ") {
      return chance(85) ? std::to_string(pick(fds_)) : std::to_string(number(100000));
    }
    if (filter == "proc") {
      return std::to_string(
          pick(std::vector<long>{::getpid(), ::getppid(), 1, static_cast<long>(number(4194304))}));
    }
    if (filter == "signal") {
      return chance(50) ? pick(std::vector<std::string>{"SIGUSR1", "USR2", "SIGCHLD", "SIGWINCH"})
                        : std::to_string(number(70));
    }
    return std::to_string(number(chance(80) ? 64 : UINT64_MAX));
  }

  std::string text_record() {
    if (chance(3)) return garbage();
    const std::string filter = pick(filters_);
    std::string line = ident_for(filter) + " " + filter;
    if (chance(95)) line += " " + pick(flags_);
    if (chance(80)) line += " " + fflags_for(filter);
    if (chance(80)) line += " " + pick(data_);
    if (chance(50)) line += " " + std::to_string(number(UINT64_MAX));
    if (chance(2)) line += " extra";
    return line + "\n";
  }

  std::string json_record() {
    if (chance(5)) return "{" + garbage();
    const std::string filter = pick(filters_);
    std::string line = "{\"ident\":" + ident_for(filter) + ",\"filter\":\"" + filter + "\"";
    if (chance(95)) line += ",\"flags\":\"" + pick(flags_) + "\"";
    if (chance(70)) line += ",\"fflags\":\"" + fflags_for(filter) + "\"";
    if (chance(70)) line += ",\"data\":" + pick(data_);
    if (chance(30)) line += ",\"udata\":" + std::to_string(number(1000));
    if (chance(3)) line += ",\"bogus\":[1,2]";
    return line + "}\n";
  }

  // Mostly notes of the record's own filter, so that most records get past
  // the parser into the engine; now and then any.
  std::string fflags_for(const std::string& filter) {
    if (chance(10)) return pick(fflags_);
    const auto own = filter_fflags_.find(filter);
    return own == filter_fflags_.end() ? "0" : pick(own->second);
  }

  std::string binary_records() {
    std::string bytes;
    const int count = static_cast<int>(number(4)) + 1;
    for (int i = 0; i < count; ++i) {
      struct kevent change;
      const int16_t filter = static_cast<int16_t>(chance(90) ? -1 - static_cast<int>(number(10))
                                                             : static_cast<int>(number(65535)));
      const uintptr_t ident =
          filter == EVFILT_READ || filter == EVFILT_WRITE || filter == EVFILT_VNODE
              ? static_cast<uintptr_t>(pick(fds_))
              : number(chance(80) ? 64 : UINT64_MAX);
      EV_SET(&change, ident, filter,
             static_cast<uint16_t>(number(0xffff) & (chance(70) ? 0xff : 0xffff)),
             static_cast<uint32_t>(chance(50) ? number(0xffffffff) : NOTE_TRIGGER),
             static_cast<int64_t>(chance(80) ? number(1000) : number(UINT64_MAX)), nullptr);
      bytes.append(reinterpret_cast<const char*>(&change), sizeof change);
    }
    if (chance(5)) bytes.resize(number(bytes.size()));  // a torn record
    return bytes;
  }

  std::string garbage() {
    std::string bytes(number(chance(2) ? 70000 : 60), ' ');
    for (char& c : bytes)
      c = static_cast<char>(chance(90) ? 32 + number(94) : number(255));
    return bytes + (chance(70) ? "\n" : "");
  }

 private:
  std::mt19937_64 random_;
  std::vector<int> fds_;
  const std::vector<std::string> filters_ = {
      "read",         "write", "timer", "user", "vnode", "proc", "signal", "EVFILT_READ",
      "EVFILT_TIMER", "-11",   "-7",    "0",    "-12",   "-13",  "5",      "bogus"};
  const std::vector<std::string> flags_ = {"add",
                                           "add|oneshot",
                                           "add|clear",
                                           "add|dispatch",
                                           "add|receipt",
                                           "delete",
                                           "enable",
                                           "disable",
                                           "add|disable",
                                           "enable|disable",
                                           "add|oneshot|clear",
                                           "0",
                                           "0x1",
                                           "0xffff",
                                           "bogus",
                                           "add|keepudata",
                                           "add|eof"};
  const std::vector<std::string> fflags_ = {"0",
                                            "trigger",
                                            "ffor|0x5",
                                            "ffand|0xff",
                                            "ffcopy|7",
                                            "seconds",
                                            "useconds",
                                            "nseconds",
                                            "abstime",
                                            "exit",
                                            "fork",
                                            "exec",
                                            "track",
                                            "delete|write|extend|attrib",
                                            "lowat",
                                            "0xffffffff",
                                            "link|rename|revoke",
                                            "open|close|read"};
  const std::map<std::string, std::vector<std::string>> filter_fflags_ = {
      {"read", {"0", "lowat"}},
      {"write", {"0", "lowat"}},
      {"timer", {"0", "seconds", "useconds", "nseconds", "abstime", "msseconds"}},
      {"user", {"0", "trigger", "ffor|0x5", "ffand|0xff", "ffcopy|7", "trigger|ffor|1"}},
      {"vnode",
       {"delete|write|extend|attrib", "link|rename|revoke", "open|close|read", "close_write"}},
      {"proc", {"exit", "fork", "exec", "track", "exit|fork|exec|track"}},
      {"signal", {"0"}}};
  const std::vector<std::string> data_ = {"0",
                                          "1",
                                          "5",
                                          "100",
                                          "1000",
                                          "-1",
                                          "-100",
                                          "9223372036854775807",
                                          "-9223372036854775808",
                                          "99999999999999999999",
                                          "x",
                                          "0x10"};
};

// One fuzzing process: random handles, random records, some reads.
[[noreturn]] void fuzz_child(const FuzzOptions& options, unsigned seed,
                             std::chrono::steady_clock::time_point until) {
  ::prctl(PR_SET_PDEATHSIG, SIGKILL);
  // Descriptors of every kind the read, write and vnode filters take.
  int pipe_fds[2], socket_fds[2];
  std::vector<int> fds;
  if (::pipe2(pipe_fds, O_NONBLOCK) == 0) fds.insert(fds.end(), {pipe_fds[0], pipe_fds[1]});
  if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, socket_fds) == 0) {
    fds.insert(fds.end(), {socket_fds[0], socket_fds[1]});
  }
  const std::string scratch = "/tmp/kqfs-fuzz." + std::to_string(::getpid());
  const int file = ::open(scratch.c_str(), O_RDWR | O_CREAT | O_TRUNC, 0600);
  if (file >= 0) fds.push_back(file);
  if (const int directory = ::open("/tmp", O_RDONLY | O_DIRECTORY); directory >= 0) {
    fds.push_back(directory);
  }
  if (const int event = ::eventfd(0, EFD_NONBLOCK); event >= 0) fds.push_back(event);
  fds.insert(fds.end(), {0, 1, 2, 999});
  RecordMaker maker(seed, fds);

  const std::vector<std::string> formats = {"changes", "changes.json", "changes.bin"};
  UniqueFd handle;
  std::string format;
  while (std::chrono::steady_clock::now() < until) {
    const std::string queue =
        options.mount + "/kq/fuzz" + std::to_string(maker.number(options.queues - 1));
    if (!handle || maker.chance(10)) {
      format = maker.pick(formats);
      int flags = O_WRONLY | O_CLOEXEC;
      if (maker.chance(20)) flags |= O_TRUNC;
      if (maker.chance(20)) flags |= O_APPEND;
      handle.reset(::open((queue + "/" + format).c_str(), flags));
      if (!handle) {
        if (errno == ENOTCONN || errno == ECONNABORTED) ::_exit(kDaemonGone);
        ::mkdir(queue.c_str(), 0700);  // removed by another fuzzer
        continue;
      }
    }
    std::string bytes;
    const int records = static_cast<int>(maker.number(5)) + 1;
    for (int i = 0; i < records; ++i) {
      bytes += format == "changes"        ? maker.text_record()
               : format == "changes.json" ? maker.json_record()
                                          : maker.binary_records();
    }
    if (maker.chance(10) && bytes.size() > 1) bytes.resize(maker.number(bytes.size()));
    if (::write(handle.get(), bytes.data(), bytes.size()) < 0 &&
        (errno == ENOTCONN || errno == ECONNABORTED)) {
      ::_exit(kDaemonGone);
    }
    // Stir the watched files, drain some events, now and then remake a queue.
    if (file >= 0 && maker.chance(5)) {
      [[maybe_unused]] ssize_t ignored = ::write(file, "x", 1);
    }
    if (maker.chance(20)) {
      const char* events[] = {"/events", "/events.json", "/events.bin"};
      UniqueFd reader(
          ::open((queue + events[maker.number(2)]).c_str(), O_RDONLY | O_NONBLOCK | O_CLOEXEC));
      char buffer[4096];
      for (int i = 0; reader && i < 8 && ::read(reader.get(), buffer, sizeof buffer) > 0; ++i) {
      }
    }
    if (maker.chance(1)) {
      handle.reset();
      ::rmdir(queue.c_str());
      ::mkdir(queue.c_str(), 0700);
    }
    if (maker.chance(2)) {
      // A kqueue handle of its own, fed binary records, closed at once.
      UniqueFd clone(::open((options.mount + "/kq/clone").c_str(), O_RDWR | O_CLOEXEC));
      const std::string records = maker.binary_records();
      if (clone) [[maybe_unused]]
        ssize_t ignored = ::write(clone.get(), records.data(), records.size());
    }
  }
  ::unlink(scratch.c_str());
  ::_exit(0);
}

// The daemon is sane: a one-shot timer on a queue of its own fires, and
// its status reads.
bool timer_fires(const std::string& queue, Verdict& verdict) {
  UniqueFd events(::open((queue + "/events").c_str(), O_RDONLY | O_NONBLOCK | O_CLOEXEC));
  UniqueFd changes(::open((queue + "/changes").c_str(), O_WRONLY | O_CLOEXEC));
  if (!events || !changes) {
    verdict.fail(std::string("cannot open the check queue: ") + std::strerror(errno));
    return false;
  }
  const std::string change = "1 timer add|oneshot 0 20 77\n";
  if (::write(changes.get(), change.data(), change.size()) != static_cast<ssize_t>(change.size())) {
    verdict.fail(std::string("the check timer was refused: ") + std::strerror(errno));
    return false;
  }
  pollfd ready{events.get(), POLLIN, 0};
  char buffer[256];
  if (::poll(&ready, 1, 10000) != 1 || ::read(events.get(), buffer, sizeof buffer) <= 0) {
    verdict.fail("the check timer did not fire within 10 s");
    return false;
  }
  if (status_number(queue, "knotes") != 0) {
    verdict.fail("status of the check queue unreadable or wrong");
    return false;
  }
  return true;
}

}  // namespace

bool fuzz(const FuzzOptions& options) {
  Verdict verdict;
  for (int q = 0; q < options.queues; ++q)
    fresh_queue(options.mount + "/kq/fuzz" + std::to_string(q));
  const std::string check_queue = options.mount + "/kq/fuzz-check";
  fresh_queue(check_queue);

  const auto start = std::chrono::steady_clock::now();
  const auto until = start + std::chrono::seconds(options.seconds);
  std::vector<pid_t> children;
  for (int p = 0; p < options.processes; ++p) {
    const pid_t child = ::fork();
    if (child < 0) die("fork");
    if (child == 0) fuzz_child(options, options.seed * 7919 + static_cast<unsigned>(p), until);
    children.push_back(child);
  }
  int checks = 0;
  while (std::chrono::steady_clock::now() < until && alive(options.daemon)) {
    sleep_ms(1000);
    if (!timer_fires(check_queue, verdict)) break;
    ++checks;
  }
  int daemon_gone = 0;
  for (const pid_t child : children) {
    int status = 0;
    if (!wait_for([&] { return ::waitpid(child, &status, WNOHANG) == child; },
                  std::chrono::seconds(60))) {
      ::kill(child, SIGKILL);
      ::waitpid(child, &status, 0);
      verdict.fail("a fuzzing process hung (a request never answered?)");
    }
    if (WIFEXITED(status) && WEXITSTATUS(status) == kDaemonGone) ++daemon_gone;
  }
  if (daemon_gone > 0 || !alive(options.daemon)) verdict.fail("kqfsd died during the fuzz");
  if (verdict.ok() && !timer_fires(check_queue, verdict)) verdict.fail("not sane after the fuzz");
  std::printf("fuzz: %d processes, %d queues, %.1f s, seed %u: %d liveness checks passed; %s\n",
              options.processes, options.queues, seconds_since(start), options.seed, checks,
              verdict.ok() ? "daemon up and sane" : "FAILED");
  for (int q = 0; q < options.queues; ++q)
    ::rmdir((options.mount + "/kq/fuzz" + std::to_string(q)).c_str());
  ::rmdir(check_queue.c_str());
  return verdict.ok();
}

}  // namespace kqfs::stress
