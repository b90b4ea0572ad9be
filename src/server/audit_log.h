#pragma once
/// The server's audit log: who changed what. One JSON object per line, appended to a file
/// (auth.audit_log, TUG_AUDIT_LOG; default <data_dir>/audit.log, created 0600):
///
///   {"time":"2026-12-07T10:00:00.123456Z","actor":"ada","via":"token:01j...","role":"user",
///    "action":"submit_run","target":"run/01j...","result":"ok",
///    "detail":"definition 'etl' version 3, group 'science'","remote":"10.0.0.5:51234"}
///
/// Recorded: run submissions and stops, definition creation, change and deletion, token
/// creation and revocation — and changes refused for want of credentials (401) or rights (403),
/// with the reason. Reads are not recorded. Never holds a secret: details name env variables,
/// never their values, and tokens by id.
///
/// Lifecycle: Open, then Record from any thread; destroy after the HTTP server stopped.
/// Threading: thread-safe. Each line is one write(2) on an O_APPEND descriptor, so lines of
/// concurrent writers (replicas sharing a volume included) never interleave.
/// Errors: Open: kUnavailable when the file cannot be opened or created. Record does not fail
/// the request it records: a failed write is logged (once per failure streak) and counted.
#include <atomic>
#include <memory>
#include <string>

#include <boost/json/object.hpp>

#include "auth/identity.h"
#include "core/clock.h"
#include "core/error.h"

namespace tug::server {

struct AuditEntry {
  std::string action;  // submit_run, stop_run, create_definition, ... (auth::ToString(Action))
  std::string target;  // "run/<id>", "definition/<name>", "token/<id>"
  std::string result = "ok";  // ok | denied | unauthenticated | failed
  std::string detail;
  std::string remote;  // the caller's address
};

class AuditLog {
 public:
  [[nodiscard]] static Result<std::unique_ptr<AuditLog>> Open(const std::string& path,
                                                              const Clock& clock);
  ~AuditLog();
  AuditLog(const AuditLog&) = delete;
  AuditLog& operator=(const AuditLog&) = delete;

  void Record(const auth::Identity& who, const AuditEntry& entry);
  /// The line Record writes (without its newline), for tests.
  static boost::json::object Line(const auth::Identity& who, const AuditEntry& entry, Micros at);

  const std::string& path() const { return path_; }
  int64_t write_failures() const { return failures_.load(); }

 private:
  AuditLog(std::string path, int fd, const Clock& clock);

  const std::string path_;
  const int fd_;
  const Clock& clock_;
  std::atomic<int64_t> failures_{0};
  std::atomic<bool> failing_{false};
};

}  // namespace tug::server
