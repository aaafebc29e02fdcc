#include "kqfs/linux/procfs.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <charconv>
#include <cstdlib>
#include <filesystem>
#include <sstream>

#include "kqfs/unique_fd.hpp"

namespace kqfs::procfs {

Result<std::string> read_file(const std::string& path, size_t limit) {
  UniqueFd file(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!file) return last_errno();
  std::string text;
  char buffer[4096];
  // /proc hands out a page or a record per read: read until EOF.
  while (text.size() < limit) {
    const ssize_t length = ::read(file.get(), buffer, std::min(sizeof buffer, limit - text.size()));
    if (length < 0) {
      if (errno == EINTR) continue;
      return last_errno();
    }
    if (length == 0) break;
    text.append(buffer, static_cast<size_t>(length));
  }
  return text;
}

Result<std::string> read_link(const std::string& path) {
  char target[4096];
  const ssize_t length = ::readlink(path.c_str(), target, sizeof target);
  if (length < 0) return last_errno();
  return std::string(target, static_cast<size_t>(length));
}

std::string path_of(pid_t pid, std::string_view entry) {
  std::string path = pid == 0 ? std::string("/proc/self/") : "/proc/" + std::to_string(pid) + "/";
  path += entry;
  return path;
}

std::string fd_path(pid_t pid, int fd) {
  return path_of(pid, "fd/" + std::to_string(fd));
}

std::string fdinfo_path(pid_t pid, int fd) {
  return path_of(pid, "fdinfo/" + std::to_string(fd));
}

std::optional<std::string_view> value_of(std::string_view text, std::string_view key) {
  for (size_t start = 0; start < text.size();) {
    size_t end = text.find('\n', start);
    if (end == std::string_view::npos) end = text.size();
    const std::string_view line = text.substr(start, end - start);
    if (line.starts_with(key)) {
      std::string_view value = line.substr(key.size());
      while (!value.empty() && (value.front() == ' ' || value.front() == '\t'))
        value.remove_prefix(1);
      return value;
    }
    start = end + 1;
  }
  return std::nullopt;
}

std::optional<long long> number_of(std::string_view text, std::string_view key, int base) {
  const auto value = value_of(text, key);
  if (!value) return std::nullopt;
  // strtoll for base 0 (a leading 0 means octal); the value ends at the line.
  const std::string digits(*value);
  char* end = nullptr;
  errno = 0;
  const long long number = std::strtoll(digits.c_str(), &end, base);
  if (end == digits.c_str()) return std::nullopt;
  return number;
}

std::optional<long long> Stat::number(size_t number) const {
  if (number < 3 || number - 3 >= fields.size()) return std::nullopt;
  const std::string& field = fields[number - 3];
  long long value = 0;
  const auto [end, error] = std::from_chars(field.data(), field.data() + field.size(), value);
  if (error != std::errc{} || end != field.data() + field.size()) return std::nullopt;
  return value;
}

Result<Stat> parse_stat(std::string_view text) {
  const size_t open = text.find('(');
  const size_t close = text.rfind(')');
  if (open == std::string_view::npos || close == std::string_view::npos || close < open) {
    return Errno{EINVAL};
  }
  Stat stat;
  const auto pid_text = text.substr(0, open);
  long long pid = 0;
  std::from_chars(pid_text.data(), pid_text.data() + pid_text.size(), pid);
  stat.pid = static_cast<pid_t>(pid);
  stat.comm = std::string(text.substr(open + 1, close - open - 1));
  std::istringstream rest{std::string(text.substr(close + 1))};
  for (std::string field; rest >> field;)
    stat.fields.push_back(field);
  if (stat.fields.empty() || stat.fields[0].size() != 1) return Errno{EINVAL};
  stat.state = stat.fields[0][0];
  return stat;
}

namespace {

Result<Stat> stat_at(const std::string& path) {
  auto text = read_file(path);
  if (!text) return Errno{text.error()};
  return parse_stat(*text);
}

}  // namespace

Result<Stat> read_stat(pid_t pid) {
  return stat_at(path_of(pid, "stat"));
}

Result<Stat> read_stat(pid_t pid, pid_t tid) {
  return stat_at(path_of(pid, "task/" + std::to_string(tid) + "/stat"));
}

std::optional<size_t> pid_namespace_levels(pid_t pid) {
  const auto status = read_file(path_of(pid, "status"));
  const auto pids = status ? value_of(*status, "NSpid:") : std::nullopt;
  if (!pids) return std::nullopt;
  std::istringstream each{std::string(*pids)};
  size_t levels = 0;
  for (long long number = 0; each >> number;)
    ++levels;
  if (levels == 0) return std::nullopt;
  return levels;
}

std::set<pid_t> live_threads(pid_t pid) {
  std::set<pid_t> threads;
  std::error_code error;
  std::filesystem::directory_iterator tasks(path_of(pid, "task"), error);
  if (error) return threads;
  // increment(error), not ++: a thread list read while threads end must not throw.
  for (; tasks != std::filesystem::directory_iterator(); tasks.increment(error)) {
    if (error) break;
    const std::string name = tasks->path().filename().string();
    const long thread = std::atol(name.c_str());
    if (thread <= 0) continue;
    // A main thread that ended before the others stays listed, as a zombie.
    const auto stat = read_stat(pid, static_cast<pid_t>(thread));
    const char state = stat ? stat.value().state : 'X';
    if (state != 'Z' && state != 'X') threads.insert(static_cast<pid_t>(thread));
  }
  return threads;
}

std::vector<Mount> parse_mountinfo(std::string_view text) {
  std::vector<Mount> mounts;
  std::istringstream lines{std::string(text)};
  for (std::string line; std::getline(lines, line);) {
    const size_t separator = line.find(" - ");
    if (separator == std::string::npos) continue;
    std::istringstream before(line.substr(0, separator));
    std::istringstream after(line.substr(separator + 3));
    Mount mount;
    std::string device;
    if (!(before >> mount.id >> mount.parent >> device >> mount.root >> mount.mount_point)) {
      continue;
    }
    after >> mount.type >> mount.source >> mount.options;
    mounts.push_back(std::move(mount));
  }
  return mounts;
}

Result<std::vector<Mount>> read_mountinfo(pid_t pid) {
  const auto text = read_file(path_of(pid, "mountinfo"), kMountinfoLimit);
  if (!text) return Errno{text.error()};
  return parse_mountinfo(*text);
}

}  // namespace kqfs::procfs
