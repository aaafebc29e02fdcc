#include "daemon/service_notify.hpp"

#include <systemd/sd-daemon.h>

#include <cstdlib>
#include <string>

namespace kqfsd {

namespace {

// One line per field: a newline in a message would start a field of its own.
std::string one_line(std::string_view text) {
  std::string line(text);
  for (char& c : line) {
    if (c == '\n') c = ' ';
  }
  return line;
}

}  // namespace

ServiceNotifier::ServiceNotifier() : enabled_(std::getenv("NOTIFY_SOCKET") != nullptr) {}

void ServiceNotifier::ready(std::string_view status) const {
  send("READY=1\nSTATUS=" + one_line(status));
}

void ServiceNotifier::status(std::string_view status) const {
  send("STATUS=" + one_line(status));
}

void ServiceNotifier::stopping(std::string_view status) const {
  send("STOPPING=1\nSTATUS=" + one_line(status));
}

void ServiceNotifier::failed(std::string_view why) const {
  send("STATUS=failed: " + one_line(why));
}

// sd_notify opens, sends on and closes a socket of its own per call: no
// descriptor is held between calls. A manager that is gone is no reason to
// stop serving the mount, so its errors are ignored.
void ServiceNotifier::send(const std::string& state) const {
  if (enabled_) ::sd_notify(0, state.c_str());
}

}  // namespace kqfsd
