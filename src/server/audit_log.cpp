#include "server/audit_log.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include <fmt/format.h>
#include <boost/json.hpp>

#include "core/log.h"

namespace json = boost::json;

namespace tug::server {

Result<std::unique_ptr<AuditLog>> AuditLog::Open(const std::string& path, const Clock& clock) {
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
  if (fd < 0) {
    return Unavailable(
        fmt::format("cannot open the audit log '{}': {}; check auth.audit_log "
                    "(TUG_AUDIT_LOG) and the directory's permissions",
                    path, std::strerror(errno)));
  }
  return std::unique_ptr<AuditLog>(new AuditLog(path, fd, clock));
}

AuditLog::AuditLog(std::string path, int fd, const Clock& clock)
    : path_(std::move(path)), fd_(fd), clock_(clock) {}

AuditLog::~AuditLog() { ::close(fd_); }

json::object AuditLog::Line(const auth::Identity& who, const AuditEntry& e, Micros at) {
  json::object o;
  o["time"] = FormatTimestamp(at);
  o["actor"] = who.user;
  o["via"] = who.via;
  o["role"] = auth::ToString(who.role);
  o["action"] = e.action;
  o["target"] = e.target;
  o["result"] = e.result;
  if (!e.detail.empty()) o["detail"] = e.detail;
  if (!e.remote.empty()) o["remote"] = e.remote;
  return o;
}

void AuditLog::Record(const auth::Identity& who, const AuditEntry& entry) {
  std::string line = json::serialize(Line(who, entry, clock_.Now()));
  line += '\n';
  // One write per line: O_APPEND places it atomically at the end. A short write (a full disk)
  // is a failure; the partial line is left for a reader to skip.
  ssize_t n = ::write(fd_, line.data(), line.size());
  if (n == static_cast<ssize_t>(line.size())) {
    failing_.store(false);
    return;
  }
  ++failures_;
  if (!failing_.exchange(true)) {
    log::Error("writing the audit log failed; actions are not being recorded",
               {{"path", path_}, {"error", n < 0 ? std::strerror(errno) : "short write"}});
  }
}

}  // namespace tug::server
