// The dispatcher's launch rate with team queues against without (issue 26 item 3), in one
// process: a real Controller (claims, leases, launch workers, updates) on a real store
// preloaded with N queued runs spread over Q queues, launching into a fake engine that takes
// --engine-us per launch and ends each attempt (SUCCEEDED) --hold-ms after its launch. With
// --queues on the server config has the Q queues (weights 1-4, finite CPU and run limits that
// do not bind at the measured rate), so every dispatch goes through admission (src/control/
// admission.cpp); off, the plain claim path. Prints one line: launches/s between launch
// --skip and launch --launches (the start-up rebuild excluded; the time to the first launch is
// printed apart).
//
// Usage: dispatch_bench --queues on|off [--queued N] [--queue-count Q] [--launches M]
//        [--skip K] [--engine-us U] [--hold-ms H] [--workers W] [--pg URL]
// Run through bench/dispatch_bench.sh (interleaves on/off and takes medians).
#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <filesystem>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include <fmt/format.h>

#include "control/controller.h"
#include "core/clock.h"
#include "core/ids.h"
#include "metrics/registry.h"
#include "store/postgres/postgres_store.h"
#include "store/sqlite/sqlite_store.h"

namespace {

using namespace tug;
using Steady = std::chrono::steady_clock;

class BenchEngine final : public engine::Engine {
 public:
  BenchEngine(int engine_us, int hold_ms) : engine_us_(engine_us), hold_ms_(hold_ms) {
    ender_ = std::thread([this] { EndLoop(); });
  }
  ~BenchEngine() override { Shutdown(); }
  std::string Name() const override { return "local"; }
  void SetSink(engine::UpdateSink sink) override { sink_ = std::move(sink); }
  Result<std::string> Launch(const engine::LaunchSpec& spec) override {
    if (engine_us_ > 0) std::this_thread::sleep_for(std::chrono::microseconds(engine_us_));
    const auto now = Steady::now();
    {
      std::lock_guard lock(mu_);
      times_.push_back(now);
      to_end_.push_back({now + std::chrono::milliseconds(hold_ms_), spec.attempt_id});
    }
    cv_.notify_all();
    return "ref:" + spec.attempt_id;
  }
  Status Adopt(const std::string&, const std::string&) override { return OkStatus(); }
  Status Stop(const std::string&) override { return OkStatus(); }
  std::vector<std::string> Active() const override { return {}; }
  Status Cleanup(const std::string&) override { return OkStatus(); }
  engine::Health GetHealth() const override { return {}; }
  void Shutdown() override {
    {
      std::lock_guard lock(mu_);
      if (stopping_) return;
      stopping_ = true;
    }
    cv_.notify_all();
    ender_.join();
  }

  // Waits for n launches; their times.
  std::vector<Steady::time_point> WaitLaunches(size_t n, std::chrono::seconds limit) {
    std::unique_lock lock(mu_);
    cv_.wait_for(lock, limit, [&] { return times_.size() >= n; });
    return times_;
  }

 private:
  void EndLoop() {
    std::unique_lock lock(mu_);
    while (!stopping_) {
      if (to_end_.empty() || to_end_.front().first > Steady::now()) {
        if (to_end_.empty()) {
          cv_.wait(lock);
        } else {
          cv_.wait_until(lock, to_end_.front().first);
        }
        continue;
      }
      std::string id = std::move(to_end_.front().second);
      to_end_.pop_front();
      lock.unlock();
      const Micros at = SystemClock::Instance().Now();
      engine::Update started;
      started.kind = engine::Update::Kind::kStarted;
      started.attempt_id = id;
      started.at = at;
      sink_(started);
      engine::Update ended;
      ended.kind = engine::Update::Kind::kEnded;
      ended.attempt_id = id;
      ended.at = at;
      ended.status = AttemptStatus::kSucceeded;
      ended.outcome = Outcome{0, std::string(reason::kCompleted), ""};
      sink_(ended);
      lock.lock();
    }
  }

  const int engine_us_;
  const int hold_ms_;
  engine::UpdateSink sink_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<Steady::time_point> times_;
  std::deque<std::pair<Steady::time_point, std::string>> to_end_;
  bool stopping_ = false;
  std::thread ender_;
};

const char* Arg(int argc, char** argv, const char* name, const char* def) {
  for (int i = 1; i + 1 < argc; ++i) {
    if (std::strcmp(argv[i], name) == 0) return argv[i + 1];
  }
  return def;
}

}  // namespace

int main(int argc, char** argv) {
  const bool queues_on = std::string(Arg(argc, argv, "--queues", "on")) == "on";
  const int queued = std::atoi(Arg(argc, argv, "--queued", "100000"));
  const int queue_count = std::atoi(Arg(argc, argv, "--queue-count", "100"));
  const int launches = std::atoi(Arg(argc, argv, "--launches", "3000"));
  const int skip = std::atoi(Arg(argc, argv, "--skip", "200"));
  const int engine_us = std::atoi(Arg(argc, argv, "--engine-us", "0"));
  const int hold_ms = std::atoi(Arg(argc, argv, "--hold-ms", "50"));
  const int workers = std::atoi(Arg(argc, argv, "--workers", "8"));
  const std::string pg = Arg(argc, argv, "--pg", "");
  const Clock& clock = SystemClock::Instance();

  const std::string dir =
      (std::filesystem::temp_directory_path() / fmt::format("tug-dispatch-bench-{}", getpid()))
          .string();
  std::filesystem::create_directories(dir);
  std::unique_ptr<store::Store> store;
  if (pg.empty()) {
    store::SqliteOptions o;
    o.path = dir + "/tug.db";
    auto s = store::SqliteStore::Open(o, clock);
    if (!s.ok()) return std::fprintf(stderr, "%s\n", s.error().ToString().c_str()), 1;
    store = std::move(*s);
  } else {
    auto s = store::PostgresStore::Open({.url = pg}, clock);
    if (!s.ok()) return std::fprintf(stderr, "%s\n", s.error().ToString().c_str()), 1;
    store = std::move(*s);
  }

  // The backlog: N runs of 0.5 CPU / 64 MiB over the Q queues, priorities 0-2, due now.
  const auto load_start = Steady::now();
  for (int begin = 0; begin < queued; begin += 1000) {
    std::vector<store::NewRun> batch;
    for (int i = begin; i < std::min(queued, begin + 1000); ++i) {
      store::NewRun n;
      n.run.id = NewId(clock);
      n.run.owner = fmt::format("user{}", i % 37);
      n.run.definition = "bench";
      n.run.definition_version = 1;
      n.run.spec.name = "bench";
      n.run.spec.command = "true";
      n.run.spec.resources.cpu_millis = 500;
      n.run.spec.resources.memory_bytes = int64_t{64} << 20;
      n.run.created_at = clock.Now();
      n.run.updated_at = n.run.created_at;
      n.run.queue = fmt::format("q{:03}", i % queue_count);
      n.run.priority = i % 3;
      n.first.id = AttemptId(n.run.id, 1);
      n.first.run_id = n.run.id;
      n.first.resources = n.run.spec.resources;
      n.first.engine = "local";
      n.first.created_at = n.run.created_at;
      n.first.due_at = n.run.created_at;
      batch.push_back(std::move(n));
    }
    for (const Status& st : store->CreateRuns(batch)) {
      if (!st.ok()) return std::fprintf(stderr, "%s\n", st.error().ToString().c_str()), 1;
    }
  }
  const double load_s = std::chrono::duration<double>(Steady::now() - load_start).count();

  BenchEngine engine(engine_us, hold_ms);
  metrics::Registry registry;
  control::ControlOptions o;
  o.owner = control::MakeOwner("bench-host");
  o.host = "bench-host";
  o.launch_workers = workers;
  o.owner_gone = [](const std::string&) { return false; };
  if (queues_on) {
    for (int q = 0; q < queue_count; ++q) {
      queue::QueueSpec s;
      s.name = fmt::format("q{:03}", q);
      s.weight = 1 + q % 4;
      s.limits.max_running = 500;
      s.limits.quota.cpu_millis = 250'000;
      s.user_limits.max_running = 200;
      o.queues.push_back(s);
    }
  }
  control::Controller controller(o, *store, engine, registry, clock);
  const auto start = Steady::now();
  if (Status st = controller.Start(); !st.ok()) {
    return std::fprintf(stderr, "%s\n", st.error().ToString().c_str()), 1;
  }
  auto times = engine.WaitLaunches(static_cast<size_t>(launches), std::chrono::seconds(600));
  controller.Stop();
  engine.Shutdown();
  std::filesystem::remove_all(dir);
  if (static_cast<int>(times.size()) < launches || skip >= launches) {
    std::fprintf(stderr, "only %zu launches\n", times.size());
    return 1;
  }
  const double first_s = std::chrono::duration<double>(times[0] - start).count();
  const double window_s = std::chrono::duration<double>(times[launches - 1] - times[skip]).count();
  const double rate = (launches - 1 - skip) / window_s;
  std::printf(
      "queues=%s store=%s queued=%d queue_count=%d engine_us=%d hold_ms=%d workers=%d "
      "load_s=%.1f first_launch_s=%.3f launches=%d rate=%.1f/s\n",
      queues_on ? "on" : "off", pg.empty() ? "sqlite" : "postgres", queued, queue_count, engine_us,
      hold_ms, workers, load_s, first_s, launches - 1 - skip, rate);
  return 0;
}
