#pragma once
// Shared fixture of the controller tests: a recording engine and an in-memory store.
#include <gtest/gtest.h>

#include <algorithm>
#include <condition_variable>
#include <functional>
#include <mutex>
#include <set>
#include <thread>

#include "control/controller.h"
#include "core/ids.h"
#include "store/sqlite/sqlite_store.h"

namespace tug::control::testing {

// An engine that records calls; the test plays the engine's updates through the sink.
class FakeEngine final : public engine::Engine {
 public:
  std::string Name() const override { return "local"; }
  bool HostBound() const override { return host_bound_; }
  void SetSink(engine::UpdateSink sink) override { sink_ = std::move(sink); }
  Result<std::string> Launch(const engine::LaunchSpec& spec) override {
    if (on_launch) on_launch();
    std::lock_guard lock(mu_);
    // A real engine's launch is idempotent through its record of the attempt; once Cleanup
    // removed that record, a launch starts the job a second time.
    if (std::find(cleaned_.begin(), cleaned_.end(), spec.attempt_id) != cleaned_.end()) {
      ++launches_after_cleanup_;
    }
    launches_.push_back(spec);
    cv_.notify_all();
    if (!launch_error_.empty()) return Error(launch_code_, launch_error_);
    return "ref:" + spec.attempt_id;
  }
  Status Adopt(const std::string& attempt_id, const std::string&) override {
    std::lock_guard lock(mu_);
    adopted_.push_back(attempt_id);
    if (adopt_fails_) return NotFound("process of attempt '" + attempt_id + "' is gone");
    return OkStatus();
  }
  Status Stop(const std::string& attempt_id) override {
    std::lock_guard lock(mu_);
    stopped_.push_back(attempt_id);
    return OkStatus();
  }
  // Launched or adopted, and not cleaned up (ended) yet: what a real engine watches.
  std::vector<std::string> Active() const override {
    if (on_active) on_active();
    std::lock_guard lock(mu_);
    std::set<std::string> ids;
    for (const auto& l : launches_) ids.insert(l.attempt_id);
    ids.insert(adopted_.begin(), adopted_.end());
    for (const auto& c : cleaned_) ids.erase(c);
    return {ids.begin(), ids.end()};
  }
  Status Cleanup(const std::string& attempt_id) override {
    std::lock_guard lock(mu_);
    cleaned_.push_back(attempt_id);
    return OkStatus();
  }
  engine::Health GetHealth() const override { return {}; }
  void Shutdown() override {}

  bool WaitLaunches(size_t n) {
    std::unique_lock lock(mu_);
    return cv_.wait_for(lock, std::chrono::seconds(30), [&] { return launches_.size() >= n; });
  }
  void Send(const engine::Update& u) { sink_(u); }

  mutable std::mutex mu_;
  std::condition_variable cv_;
  engine::UpdateSink sink_;
  std::vector<engine::LaunchSpec> launches_;
  std::vector<std::string> adopted_;
  std::vector<std::string> stopped_;
  std::vector<std::string> cleaned_;
  std::string launch_error_;
  Code launch_code_ = Code::kUnavailable;
  bool adopt_fails_ = false;
  bool host_bound_ = false;
  int launches_after_cleanup_ = 0;
  /// Called (without mu_) at the start of every Active(): lets a test act between a sweep's
  /// steps.
  std::function<void()> on_active;
  /// Called (without mu_) at the start of every Launch: lets a test hold launches.
  std::function<void()> on_launch;

  size_t Adopted() {
    std::lock_guard lock(mu_);
    return adopted_.size();
  }
};

class ControllerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    store::SqliteOptions o;
    o.path = ":memory:";
    auto s = store::SqliteStore::Open(o, clock_);
    ASSERT_TRUE(s.ok()) << s.error().ToString();
    store_ = std::move(*s);
  }

  ControlOptions Options(const std::string& owner = "host-a/100/aaaa") {
    ControlOptions o;
    o.owner = owner;
    // FakeEngine::Send returns once the update is recorded (the tests check the store next).
    o.update_workers = 0;
    o.host = OwnerHost(owner);
    // Owners named ".../dead" or listed in dead_ are gone; the rest are alive.
    o.owner_gone = [this](const std::string& who) {
      return who.ends_with("/dead") || dead_.count(who) > 0;
    };
    return o;
  }

  // A queued run of `echo hi` with 64Mi.
  tug::Run Submit() {
    tug::Run r;
    r.id = NewId(clock_);
    r.definition = "hello";
    r.definition_version = 1;
    r.spec.name = "hello";
    r.spec.command = "echo hi";
    r.spec.env = {{"K", "v"}};
    r.spec.resources = {};
    r.spec.resources.memory_bytes = 64 << 20;
    r.spec.resources.cpu_millis = 500;
    r.created_at = clock_.Now();
    r.updated_at = r.created_at;
    Attempt a;
    a.id = AttemptId(r.id, 1);
    a.run_id = r.id;
    a.resources = r.spec.resources;
    a.created_at = r.created_at;
    a.due_at = r.created_at;
    EXPECT_TRUE(store_->CreateRun(r, a).ok());
    r.attempts.push_back(a);
    return r;
  }

  tug::Run Get(const std::string& id) { return *store_->GetRun(id); }

  // The dispatcher records the launch on its own thread; poll the store for it.
  bool WaitForLaunched(const std::string& attempt_id) {
    for (int i = 0; i < 3000; ++i) {
      auto a = store_->GetAttempt(attempt_id);
      if (a.ok() && !a->engine_ref.empty()) return true;
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    return false;
  }
  bool WaitForStatus(const std::string& run_id, RunStatus status) {
    for (int i = 0; i < 3000; ++i) {
      if (Get(run_id).status == status) return true;
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    return false;
  }

  ManualClock clock_;
  std::set<std::string> dead_;
  std::unique_ptr<store::SqliteStore> store_;
  FakeEngine engine_;
  metrics::Registry registry_;
};

}  // namespace tug::control::testing
