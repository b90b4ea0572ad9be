#include "server/api_harness.h"

#include <sqlite3.h>

#include <filesystem>
#include <future>
#include <system_error>
#include <utility>

#include <fmt/format.h>

#include "control/controller.h"
#include "core/clock.h"
#include "logs/fs_log_store.h"
#include "metrics/registry.h"
#include "store/sqlite/sqlite_store.h"

namespace tug::server {
namespace {

// Never runs anything: the controller is not started, so nothing calls Launch; a stop of a
// queued run is done by the store, and of anything else finds no process (kNotFound).
class StubEngine final : public engine::Engine {
 public:
  std::string Name() const override { return "local"; }
  void SetSink(engine::UpdateSink) override {}
  Result<std::string> Launch(const engine::LaunchSpec&) override {
    return Unavailable("the API harness launches nothing");
  }
  Status Adopt(const std::string& attempt_id, const std::string&) override {
    return NotFound(fmt::format("attempt '{}' is not known to the API harness", attempt_id));
  }
  Status Stop(const std::string& attempt_id) override {
    return NotFound(fmt::format("attempt '{}' is not running", attempt_id));
  }
  std::vector<std::string> Active() const override { return {}; }
  Status Cleanup(const std::string&) override { return OkStatus(); }
  engine::Health GetHealth() const override { return {true, false, ""}; }
  void Shutdown() override {}
};

struct CountDb {
  sqlite3* db = nullptr;
  sqlite3_stmt* count = nullptr;
  ~CountDb() {
    sqlite3_finalize(count);
    sqlite3_close(db);
  }
};

}  // namespace

struct ApiHarness::Impl {
  explicit Impl(const std::string& dir) : logs(dir + "/logs") {}

  metrics::Registry registry;
  std::unique_ptr<store::SqliteStore> store;
  logs::FsLogStore logs;
  StubEngine engine;
  std::unique_ptr<auth::Authenticator> authenticator;
  std::unique_ptr<AuditLog> audit;
  std::unique_ptr<control::Controller> controller;
  std::unique_ptr<Api> api;
  net::Router router;
  std::mutex count_mu;
  CountDb count;  // guarded by count_mu
};

Result<std::unique_ptr<ApiHarness>> ApiHarness::Open(const std::string& dir, ApiOptions options,
                                                     Extras extras) {
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) return Unavailable(fmt::format("cannot create '{}': {}", dir, ec.message()));
  const Clock& clock = SystemClock::Instance();
  auto impl = std::make_unique<Impl>(dir);
  store::SqliteOptions so;
  so.path = dir + "/tug.db";
  so.read_connections = 1;
  ASSIGN_OR_RETURN(impl->store, store::SqliteStore::Open(so, clock));
  if (extras.auth) {
    ASSIGN_OR_RETURN(
        impl->authenticator,
        auth::Authenticator::Create(std::move(extras.authenticator), *impl->store, clock));
    options.authenticator = impl->authenticator.get();
  }
  if (!extras.audit_log.empty()) {
    ASSIGN_OR_RETURN(impl->audit, AuditLog::Open(extras.audit_log, clock));
    options.audit = impl->audit.get();
  }
  control::ControlOptions co;
  co.host = "harness";
  co.owner = "harness/1/api";
  co.dispatch = false;
  co.platform.limits = options.limits;
  impl->controller =
      std::make_unique<control::Controller>(co, *impl->store, impl->engine, impl->registry, clock);
  options.platform.limits = options.limits;
  impl->api = std::make_unique<Api>(std::move(options), *impl->store, impl->logs, *impl->controller,
                                    impl->engine, impl->registry, clock);
  impl->api->Register(impl->router);
  int rc = sqlite3_open_v2(so.path.c_str(), &impl->count.db, SQLITE_OPEN_READONLY, nullptr);
  if (rc == SQLITE_OK) {
    rc = sqlite3_prepare_v2(impl->count.db,
                            "SELECT (SELECT count(*) FROM definitions), (SELECT count(*) FROM "
                            "runs), (SELECT count(*) FROM attempts), (SELECT count(*) FROM events)",
                            -1, &impl->count.count, nullptr);
  }
  if (rc != SQLITE_OK) {
    return Unavailable(fmt::format("cannot read '{}': {}", so.path, sqlite3_errstr(rc)));
  }
  return std::unique_ptr<ApiHarness>(new ApiHarness(std::move(impl)));
}

ApiHarness::ApiHarness(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

ApiHarness::~ApiHarness() { impl_->api->Stop(); }

net::Response ApiHarness::Call(const std::string& method, const std::string& target,
                               const std::string& body, const std::string& content_type) {
  net::Request req;
  req.method = method;
  req.target = target;
  req.body = body;
  if (!content_type.empty()) req.headers["content-type"] = content_type;
  req.headers["content-length"] = std::to_string(body.size());
  return Call(std::move(req));
}

net::Response ApiHarness::Call(net::Request request) {
  if (request.remote.empty()) request.remote = "127.0.0.1:1";
  std::string route;
  net::Response r = net::Dispatch(impl_->router, request, route);
  if (r.deferred) {
    auto reply = std::make_shared<std::promise<net::Response>>();
    std::future<net::Response> answer = reply->get_future();
    std::shared_ptr<net::Deferred> deferred = std::move(r.deferred);
    deferred->OnReply([reply](net::Response x) { reply->set_value(std::move(x)); });
    deferred.reset();
    r = answer.get();
    r.deferred.reset();
  }
  return r;
}

void ApiHarness::Register(net::Router& router) { impl_->api->Register(router); }

Result<ApiHarness::Rows> ApiHarness::CountRows() {
  std::lock_guard lock(impl_->count_mu);
  sqlite3_stmt* st = impl_->count.count;
  sqlite3_reset(st);
  int rc = sqlite3_step(st);
  if (rc != SQLITE_ROW) {
    return Unavailable(fmt::format("counting rows: {}", sqlite3_errmsg(impl_->count.db)));
  }
  Rows rows{sqlite3_column_int64(st, 0), sqlite3_column_int64(st, 1), sqlite3_column_int64(st, 2),
            sqlite3_column_int64(st, 3)};
  sqlite3_reset(st);
  return rows;
}

store::Store& ApiHarness::store() { return *impl_->store; }

Api& ApiHarness::api() { return *impl_->api; }

}  // namespace tug::server
