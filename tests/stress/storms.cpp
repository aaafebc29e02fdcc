// The storms: clients killed mid-call, many writers with exact counting,
// readers released by the daemon's shutdown.
#include "tests/stress/storms.hpp"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/event.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <cstring>
#include <memory>
#include <thread>
#include <vector>

#include "tests/stress/common.hpp"

namespace kqfs::stress {
namespace {

enum class Victim { reader, writer, kevent_caller };

const char* name_of(Victim victim) {
  switch (victim) {
    case Victim::reader:
      return "read";
    case Victim::writer:
      return "write";
    case Victim::kevent_caller:
      return "kevent";
  }
  return "?";
}

// The child's part: gets into position, says so on `ready`, then blocks
// until it is killed. Returns only on failure (the child then exits 3).
void take_position(Victim victim, const std::string& queue, int ready) {
  ::prctl(PR_SET_PDEATHSIG, SIGKILL);
  const char byte = 1;
  switch (victim) {
    case Victim::reader: {
      UniqueFd events = open_or_die(queue + "/events", O_RDONLY);
      write_all(ready, {&byte, 1});
      char buffer[256];
      [[maybe_unused]] ssize_t ignored = ::read(events.get(), buffer, sizeof buffer);
      break;
    }
    case Victim::writer: {
      // A whole record, then an unfinished one: the storm must leave the
      // queue without the unfinished timer.
      UniqueFd changes = open_or_die(queue + "/changes", O_WRONLY);
      write_all(changes.get(), "# storm\n2 timer add 0 1");
      write_all(ready, {&byte, 1});
      ::pause();
      break;
    }
    case Victim::kevent_caller: {
      const int kq = ::kqueue();
      if (kq < 0) return;
      struct kevent change;
      EV_SET(&change, 1, EVFILT_USER, EV_ADD, 0, 0, nullptr);
      if (::kevent(kq, &change, 1, nullptr, 0, nullptr) != 0) return;
      write_all(ready, {&byte, 1});
      struct kevent event;
      ::kevent(kq, nullptr, 0, &event, 1, nullptr);
      break;
    }
  }
}

}  // namespace

bool kill_storm(const KillStormOptions& options) {
  Verdict verdict;
  const std::string queue = options.mount + "/kq/storm";
  fresh_queue(queue);
  // The baseline is taken with the storm's queue in place, as it stays.
  const Footprint before = footprint_of(options.daemon);
  std::printf("kill storm: %d clients per round, %d rounds; daemon before: %ld fds, %ld KiB RSS\n",
              options.clients, options.rounds, before.descriptors, before.rss_kib);

  for (int round = 0; round < options.rounds; ++round) {
    int ready_pipe[2];
    if (::pipe2(ready_pipe, O_CLOEXEC) != 0) die("pipe");
    UniqueFd ready_read(ready_pipe[0]);
    UniqueFd ready_write(ready_pipe[1]);
    std::vector<std::pair<pid_t, Victim>> children;
    int readers = 0;
    for (int i = 0; i < options.clients; ++i) {
      const auto victim = static_cast<Victim>(i % 3);
      if (victim == Victim::reader) ++readers;
      const pid_t child = ::fork();
      if (child < 0) die("fork");
      if (child == 0) {
        ready_read.reset();
        try {
          take_position(victim, queue, ready_write.get());
        } catch (const std::exception& error) {
          std::fprintf(stderr, "%s client: %s\n", name_of(victim), error.what());
        }
        ::_exit(3);
      }
      children.emplace_back(child, victim);
    }
    ready_write.reset();
    // Every client in position: each said so, and the readers are parked.
    int in_position = 0;
    char bytes[256];
    ssize_t length;
    while (in_position < options.clients &&
           (length = ::read(ready_read.get(), bytes, sizeof bytes)) > 0) {
      in_position += static_cast<int>(length);
    }
    if (in_position < options.clients) {
      verdict.fail("only " + std::to_string(in_position) + " clients got into position");
    }
    if (!wait_for([&] { return status_number(queue, "readers") == readers; },
                  std::chrono::seconds(30))) {
      verdict.fail("readers parked: " + std::to_string(status_number(queue, "readers")) +
                   ", expected " + std::to_string(readers));
    }
    sleep_ms(100);  // the kevent callers get into poll()
    for (const auto& [pid, victim] : children)
      ::kill(pid, SIGKILL);
    for (const auto& [pid, victim] : children) {
      int status = 0;
      ::waitpid(pid, &status, 0);
      if (!WIFSIGNALED(status) || WTERMSIG(status) != SIGKILL) {
        verdict.fail(std::string(name_of(victim)) + " client " + std::to_string(pid) +
                     " ended before the kill (status " + std::to_string(status) + ")");
      }
    }
    if (!alive(options.daemon)) {
      verdict.fail("kqfsd died during round " + std::to_string(round + 1));
      return false;
    }
  }

  // The daemon answers, and dropped every unfinished line of the killed.
  if (status_number(queue, "knotes.timer") != 0) {
    verdict.fail("an unfinished timer of a killed writer was registered");
  }
  if (read_file(queue + "/status").find("last-fragment: discarded: writer killed by SIGKILL") ==
      std::string::npos) {
    verdict.fail("status does not say the killed writers' fragments were discarded");
  }
  // What the clients made the daemon hold goes back within the tolerance.
  Footprint after;
  const bool settled = wait_for(
      [&] {
        after = footprint_of(options.daemon);
        return after.descriptors <= before.descriptors + options.fd_tolerance &&
               after.rss_kib <= before.rss_kib + options.rss_tolerance_kib;
      },
      std::chrono::seconds(30));
  std::printf("kill storm: daemon after: %ld fds (%+ld), %ld KiB RSS (%+ld KiB)\n",
              after.descriptors, after.descriptors - before.descriptors, after.rss_kib,
              after.rss_kib - before.rss_kib);
  if (!settled) {
    verdict.fail("the daemon's descriptors or RSS did not return to the baseline (tolerance " +
                 std::to_string(options.fd_tolerance) + " fds, " +
                 std::to_string(options.rss_tolerance_kib) + " KiB)");
  }
  ::rmdir(queue.c_str());
  return verdict.ok();
}

// --------------------------------------------------------------------- load

bool load(const LoadOptions& options) {
  Verdict verdict;
  const uint64_t total = static_cast<uint64_t>(options.writers) * options.events;
  std::vector<std::string> queues;
  for (int q = 0; q < options.queues; ++q) {
    queues.push_back(options.mount + "/kq/load" + std::to_string(q));
    fresh_queue(queues.back());
  }
  // One counter per event: each ident is added EV_ONESHOT and triggered once.
  auto seen = std::make_unique<std::atomic<uint8_t>[]>(total);
  std::atomic<uint64_t> delivered{0};
  std::atomic<uint64_t> strangers{0};

  std::vector<std::thread> readers;
  for (int q = 0; q < options.queues; ++q) {
    for (int r = 0; r < options.readers; ++r) {
      readers.emplace_back([&, q] {
        UniqueFd events = open_or_die(queues[q] + "/events.bin", O_RDONLY);
        std::vector<struct kevent> batch(256);
        for (;;) {
          const ssize_t length =
              ::read(events.get(), batch.data(), batch.size() * sizeof(struct kevent));
          if (length < 0 && errno == EINTR) continue;
          if (length <= 0) return;  // end of file: the queue was removed
          for (size_t i = 0; i < static_cast<size_t>(length) / sizeof(struct kevent); ++i) {
            if (batch[i].filter != EVFILT_USER || batch[i].ident >= total) {
              ++strangers;
              continue;
            }
            seen[batch[i].ident].fetch_add(1);
            ++delivered;
          }
        }
      });
    }
  }

  const auto start = std::chrono::steady_clock::now();
  std::vector<std::thread> writers;
  std::atomic<int> writer_failures{0};
  for (int w = 0; w < options.writers; ++w) {
    writers.emplace_back([&, w] {
      try {
        UniqueFd changes = open_or_die(queues[w % options.queues] + "/changes.bin", O_WRONLY);
        constexpr int kPerWrite = 64;  // events per write(2): 128 records
        std::vector<struct kevent> records;
        for (int i = 0; i < options.events; i += kPerWrite) {
          records.clear();
          for (int j = i; j < std::min(options.events, i + kPerWrite); ++j) {
            const uint64_t ident = static_cast<uint64_t>(w) * options.events + j;
            struct kevent change;
            EV_SET(&change, ident, EVFILT_USER, EV_ADD | EV_ONESHOT, 0, 0, nullptr);
            records.push_back(change);
            EV_SET(&change, ident, EVFILT_USER, 0, NOTE_TRIGGER, 0, nullptr);
            records.push_back(change);
          }
          write_all(changes.get(), std::string_view(reinterpret_cast<const char*>(records.data()),
                                                    records.size() * sizeof(struct kevent)));
        }
      } catch (const std::exception& error) {
        std::fprintf(stderr, "writer %d: %s\n", w, error.what());
        ++writer_failures;
      }
    });
  }
  for (std::thread& writer : writers)
    writer.join();
  const double written_after = seconds_since(start);
  const bool all_came = wait_for([&] { return delivered.load() >= total; },
                                 std::chrono::seconds(options.timeout_seconds));
  const double elapsed = seconds_since(start);
  // A little longer: anything delivered twice would show now.
  sleep_ms(200);
  for (const std::string& queue : queues)
    ::rmdir(queue.c_str());
  for (std::thread& reader : readers)
    reader.join();

  uint64_t missing = 0, doubled = 0;
  for (uint64_t i = 0; i < total; ++i) {
    const uint8_t count = seen[i].load();
    if (count == 0) ++missing;
    if (count > 1) ++doubled;
  }
  std::printf(
      "load: %d writers x %d events into %d queues with %d readers each: %llu delivered of %llu, "
      "%llu missing, %llu doubled, %llu unexpected; written in %.2f s, all delivered in %.2f s "
      "(%.0f events/s)\n",
      options.writers, options.events, options.queues, options.readers,
      static_cast<unsigned long long>(delivered.load()), static_cast<unsigned long long>(total),
      static_cast<unsigned long long>(missing), static_cast<unsigned long long>(doubled),
      static_cast<unsigned long long>(strangers.load()), written_after, elapsed,
      static_cast<double>(delivered.load()) / elapsed);
  if (writer_failures > 0) verdict.fail(std::to_string(writer_failures) + " writers failed");
  if (!all_came || missing > 0) verdict.fail(std::to_string(missing) + " events never delivered");
  if (doubled > 0) verdict.fail(std::to_string(doubled) + " events delivered more than once");
  if (strangers > 0) verdict.fail(std::to_string(strangers) + " unexpected events");
  return verdict.ok();
}

// ----------------------------------------------------------------- shutdown

bool shutdown_with_readers(const ShutdownOptions& options) {
  Verdict verdict;
  const std::string queue = options.mount + "/kq/shutdown";
  fresh_queue(queue);
  const int daemon_fd = static_cast<int>(::syscall(SYS_pidfd_open, options.daemon, 0));
  if (daemon_fd < 0) die("pidfd_open of kqfsd");
  UniqueFd daemon(daemon_fd);

  std::atomic<int> ended_with_eof{0};
  std::atomic<int> ended_otherwise{0};
  std::vector<std::thread> readers;
  std::vector<std::chrono::steady_clock::time_point> ended(options.readers);
  for (int r = 0; r < options.readers; ++r) {
    readers.emplace_back([&, r] {
      UniqueFd events = open_or_die(queue + "/events", O_RDONLY);
      char buffer[256];
      ssize_t length;
      do {
        length = ::read(events.get(), buffer, sizeof buffer);
      } while (length < 0 && errno == EINTR);
      ended[r] = std::chrono::steady_clock::now();
      ++(length == 0 ? ended_with_eof : ended_otherwise);
    });
  }
  if (!wait_for([&] { return status_number(queue, "readers") == options.readers; },
                std::chrono::seconds(30))) {
    verdict.fail("only " + std::to_string(status_number(queue, "readers")) + " readers parked");
  }
  const auto start = std::chrono::steady_clock::now();
  if (::kill(options.daemon, SIGTERM) != 0) die("kill kqfsd");
  for (std::thread& reader : readers)
    reader.join();
  auto last_read = start;
  for (const auto& when : ended)
    last_read = std::max(last_read, when);
  pollfd exit_watch{daemon.get(), POLLIN, 0};
  const int exited = ::poll(&exit_watch, 1, options.bound_ms);
  const double exit_seconds = seconds_since(start);
  const double reads_seconds = std::chrono::duration<double>(last_read - start).count();
  std::printf(
      "shutdown: %d readers blocked; SIGTERM to kqfsd: every read returned within %.1f ms "
      "(%d end of file, %d otherwise), kqfsd exited after %.1f ms\n",
      options.readers, reads_seconds * 1000, ended_with_eof.load(), ended_otherwise.load(),
      exit_seconds * 1000);
  if (ended_otherwise > 0) {
    verdict.fail(std::to_string(ended_otherwise) + " reads ended otherwise than end of file");
  }
  if (exited != 1) {
    verdict.fail("kqfsd did not exit within " + std::to_string(options.bound_ms) + " ms");
  }
  return verdict.ok();
}

}  // namespace kqfs::stress
