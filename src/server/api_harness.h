#pragma once
/// API v1 in one process, wired the way `tug server` wires it — the real Router, handlers and
/// Submitter on a SqliteStore in a directory — but without sockets, without the controller's
/// loops (dispatch is off: nothing is ever launched) and with one stub engine named "local".
/// For the API's input tests and its fuzz target (fuzz_api). Calls go through net::Dispatch,
/// the function the HTTP server's sessions use, so the answers are the server's.
///
/// Lifecycle: Open, then Call / CountRows; the destructor stops the submitter first.
/// Threading: Call is thread-safe (like the server's handlers); CountRows too.
#include <cstdint>
#include <memory>
#include <string>

#include "core/error.h"
#include "net/http.h"
#include "server/api.h"
#include "store/store.h"

namespace tug::server {

/// What the harness adds to the options the way `tug server` would: an authenticator on its
/// own store, and an audit log.
struct ApiHarnessExtras {
  bool auth = false;  // authentication on (bearer tokens; OIDC when authenticator.oidc is set)
  auth::AuthenticatorOptions authenticator;
  std::string audit_log;  // "": none
};

class ApiHarness {
 public:
  /// Rows a request may write.
  struct Rows {
    int64_t definitions = 0;
    int64_t runs = 0;
    int64_t attempts = 0;
    int64_t events = 0;
    bool operator==(const Rows&) const = default;
  };

  using Extras = ApiHarnessExtras;

  /// A fresh store in `dir` (created if missing; the database is `dir`/tug.db). Errors: the
  /// store's, the authenticator's, the audit log's.
  [[nodiscard]] static Result<std::unique_ptr<ApiHarness>> Open(const std::string& dir,
                                                                ApiOptions options = {},
                                                                Extras extras = {});
  ~ApiHarness();
  ApiHarness(const ApiHarness&) = delete;
  ApiHarness& operator=(const ApiHarness&) = delete;

  /// The request as the server would dispatch it (Content-Type set unless empty). A deferred
  /// reply (run submissions) is waited for.
  net::Response Call(const std::string& method, const std::string& target,
                     const std::string& body = "",
                     const std::string& content_type = "application/json");
  net::Response Call(net::Request request);
  /// Adds this API's routes to `router` (to serve it over a real HttpServer).
  void Register(net::Router& router);
  /// Counts rows with a connection of its own (what was committed).
  [[nodiscard]] Result<Rows> CountRows();
  store::Store& store();
  Api& api();

 private:
  struct Impl;
  explicit ApiHarness(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace tug::server
