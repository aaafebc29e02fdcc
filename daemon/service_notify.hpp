// Tells a service manager how the daemon is doing (sd_notify(3)): started
// by systemd as a Type=notify unit, kqfsd finds $NOTIFY_SOCKET and reports
// READY=1 once the mount is usable, STATUS= lines, and STOPPING=1 when it
// begins to unmount. Without $NOTIFY_SOCKET every call does nothing.
#pragma once

#include <string_view>

namespace kqfsd {

class ServiceNotifier {
 public:
  ServiceNotifier();
  ServiceNotifier(const ServiceNotifier&) = delete;
  ServiceNotifier& operator=(const ServiceNotifier&) = delete;

  // The mount answers requests: the manager starts what waits for it.
  void ready(std::string_view status) const;
  void status(std::string_view status) const;
  void stopping(std::string_view status) const;
  // Startup failed: why, for `systemctl status` (no READY=1 is sent).
  void failed(std::string_view why) const;

  bool enabled() const { return enabled_; }

 private:
  void send(const std::string& state) const;

  bool enabled_;
};

}  // namespace kqfsd
